//! Numbers and addresses as text without `core::fmt` per request: the request path writes
//! several (trace and forwarding headers, the request log), and `format!` cost more than the
//! rest of those writes together.

use std::cell::Cell;
use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

/// Up to 20 ASCII digits, on the stack.
pub(crate) struct Digits {
    bytes: [u8; 20],
    start: usize,
}

impl Digits {
    /// The digits, for a byte buffer: a UTF-8 check of them cost ≈ 100 instructions, and a
    /// request writes a dozen numbers.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
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

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
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

/// `t` as Google's `timestamp` text. The text up to the second is kept per thread: every
/// entry of that second shares it, so only the nine digits of nanoseconds are written anew.
pub(crate) fn push_timestamp(out: &mut Vec<u8>, t: SystemTime) {
    thread_local! {
        static SECOND: Cell<(u64, [u8; 30])> = const { Cell::new((u64::MAX, [0; 30])) };
    }
    /// `YYYY-MM-DDTHH:MM:SS.`
    const PREFIX: usize = 20;
    let Ok(since) = t.duration_since(SystemTime::UNIX_EPOCH) else {
        out.extend_from_slice(kumo_control::runtime::timestamp(t).as_bytes());
        return;
    };
    let secs = since.as_secs();
    let (cached, text) = SECOND.get();
    if cached == secs {
        out.extend_from_slice(&text[..PREFIX]);
        let mut nanos = [0u8; 9];
        let mut n = since.subsec_nanos();
        for digit in nanos.iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&nanos);
        out.push(b'Z');
    } else if let Some(text) = kumo_control::runtime::timestamp_bytes(t) {
        SECOND.set((secs, text));
        out.extend_from_slice(&text);
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
            let (want_decimal, want_hex) = (n.to_string(), format!("{n:016x}"));
            proptest::prop_assert_eq!(decimal.as_bytes(), want_decimal.as_bytes());
            proptest::prop_assert_eq!(hex.as_bytes(), want_hex.as_bytes());
        }
    }

    proptest::proptest! {
        /// The per-second text joined with fresh nanoseconds is the whole text written anew,
        /// whatever time came before on this thread.
        #[test]
        fn timestamps_from_the_cached_second(
            before in 0u64..4_000_000_000, secs in 0u64..4_000_000_000, nanos in 0u32..1_000_000_000,
            same_second in proptest::prelude::any::<bool>(),
        ) {
            use std::time::{Duration, UNIX_EPOCH};
            let first = if same_second { secs } else { before };
            let mut out = Vec::new();
            super::push_timestamp(&mut out, UNIX_EPOCH + Duration::new(first, 0));
            out.clear();
            let t = UNIX_EPOCH + Duration::new(secs, nanos);
            super::push_timestamp(&mut out, t);
            proptest::prop_assert_eq!(
                String::from_utf8(out).unwrap(),
                kumo_control::runtime::timestamp(t)
            );
        }
    }

    #[test]
    fn edges() {
        for n in [0, 9, 10, u64::MAX] {
            assert_eq!(super::decimal(n).as_bytes(), n.to_string().as_bytes());
            assert_eq!(super::hex16(n).as_bytes(), format!("{n:016x}").as_bytes());
        }
    }
}
