//! Numbers and addresses as text without `core::fmt` per request: the request path writes
//! several (trace and forwarding headers, the request log), and `format!` cost more than the
//! rest of those writes together.

use std::fmt;
use std::net::IpAddr;

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

/// A client address as text, formatted once per connection (std's `Display` for addresses is
/// slow, and each request writes it three times: two forwarding headers and the log).
#[derive(Clone, Copy)]
pub(crate) struct IpText {
    bytes: [u8; 48],
    len: u8,
    v6: bool,
}

impl IpText {
    pub(crate) fn of(ip: IpAddr) -> IpText {
        let mut text = IpText {
            bytes: [0; 48],
            len: 0,
            v6: ip.is_ipv6(),
        };
        // An IPv6 address is at most 45 characters: it always fits.
        let _ = fmt::Write::write_fmt(&mut text, format_args!("{ip}"));
        text
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Whether the address is IPv6 (`Forwarded` brackets and quotes those).
    pub(crate) fn is_v6(&self) -> bool {
        self.v6
    }
}

impl fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let at = usize::from(self.len);
        let end = at + s.len();
        let slot = self.bytes.get_mut(at..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = u8::try_from(end).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn addresses_as_display_writes_them(ip in proptest::prelude::any::<std::net::IpAddr>()) {
            let text = super::IpText::of(ip);
            proptest::prop_assert_eq!(text.as_str(), ip.to_string());
            proptest::prop_assert_eq!(text.is_v6(), ip.is_ipv6());
        }

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
