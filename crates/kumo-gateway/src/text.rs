//! Numbers as text without `core::fmt`: the request path writes several per request (trace
//! headers, the request log), and `format!` cost more than the rest of those writes together.

/// Up to 20 ASCII digits, on the stack.
pub(crate) struct Digits {
    bytes: [u8; 20],
    start: usize,
}

impl Digits {
    pub(crate) fn as_str(&self) -> &str {
        // ASCII digits only.
        std::str::from_utf8(&self.bytes[self.start..]).unwrap_or_default()
    }
}

/// `n` in decimal.
pub(crate) fn decimal(mut n: u64) -> Digits {
    let mut bytes = [0u8; 20];
    let mut start = bytes.len();
    loop {
        start -= 1;
        bytes[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { bytes, start }
}

/// `n` as 16 lowercase hex digits.
pub(crate) fn hex16(n: u64) -> Digits {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 20];
    for (i, digit) in bytes[4..].iter_mut().enumerate() {
        *digit = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    Digits { bytes, start: 4 }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn as_display_writes_them(n in proptest::prelude::any::<u64>()) {
            let (decimal, hex) = (super::decimal(n), super::hex16(n));
            proptest::prop_assert_eq!(decimal.as_str(), n.to_string());
            proptest::prop_assert_eq!(hex.as_str(), format!("{n:016x}"));
        }
    }

    #[test]
    fn edges() {
        for n in [0, 9, 10, u64::MAX] {
            assert_eq!(super::decimal(n).as_str(), n.to_string());
            assert_eq!(super::hex16(n).as_str(), format!("{n:016x}"));
        }
    }
}
