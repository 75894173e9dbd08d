//! What the front end does to headers (cloudrun-security-spec.md §2.3): which token counts, what
//! is stripped, what is added, and the signature redaction.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::text::IpText;

/// Cloud Run's replacement for a redacted signature.
pub const SIGNATURE_REMOVED: &str = "SIGNATURE_REMOVED_BY_GOOGLE";
/// Google's header for the token when the app uses `Authorization` itself.
pub const X_SERVERLESS_AUTHORIZATION: &str = "x-serverless-authorization";
/// The dev-mode explanation header on refusals (never in strict mode).
pub const X_KUMO_EXPLANATION: &str = "x-kumo-explanation";

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones the front end drops.
pub(crate) const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];

/// The token a request carries, as the front end sees it (borrowed from the request: a token
/// is ~1 KiB and this runs per request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No token header.
    None,
    /// One bearer token from the winning header.
    Token { token: &'a str, x_serverless: bool },
    /// Several headers, several tokens, or not a bearer token: always 401 on a private service.
    Malformed { x_serverless: bool },
}

/// `X-Serverless-Authorization` wins when present; otherwise `Authorization`.
pub fn presented_token(headers: &HeaderMap) -> Presented<'_> {
    presented_of(
        headers
            .get_all(X_SERVERLESS_AUTHORIZATION)
            .iter()
            .map(HeaderValue::as_bytes),
        headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(HeaderValue::as_bytes),
    )
}

/// [`presented_token`] over the values of the two headers, in request order.
pub(crate) fn presented_of<'a>(
    mut x_serverless: impl Iterator<Item = &'a [u8]>,
    mut authorization: impl Iterator<Item = &'a [u8]>,
) -> Presented<'a> {
    let (first, more, x_serverless) = match x_serverless.next() {
        Some(first) => (Some(first), x_serverless.next().is_some(), true),
        None => {
            let first = authorization.next();
            (first, authorization.next().is_some(), false)
        }
    };
    match (first, more) {
        (None, _) => Presented::None,
        (Some(one), false) => match bearer(one) {
            Some(token) => Presented::Token {
                token,
                x_serverless,
            },
            None => Presented::Malformed { x_serverless },
        },
        (Some(_), true) => Presented::Malformed { x_serverless },
    }
}

/// The token of `Bearer TOKEN`: one run of visible ASCII without commas (so never a list of
/// tokens). One pass over bytes: this runs on every request.
fn bearer(bytes: &[u8]) -> Option<&str> {
    let space = bytes.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = bytes.split_at(space);
    let token = rest.trim_ascii();
    // Without an early exit the check vectorizes: a token is ~1 KiB and this runs per request.
    let token_ok = !token.is_empty()
        && token
            .iter()
            .fold(true, |ok, &b| ok & (b > b' ') & (b < 0x7f) & (b != b','));
    if !(scheme.eq_ignore_ascii_case(b"bearer") && token_ok) {
        return None;
    }
    // Visible ASCII only, hence UTF-8.
    std::str::from_utf8(token).ok()
}

/// `HEADER.PAYLOAD.` of a bearer JWT header value: what stays of it once redacted (the value is
/// then `Bearer HEADER.PAYLOAD.SIGNATURE_REMOVED_BY_GOOGLE`).
pub(crate) fn unsigned_bearer(value: &[u8]) -> Option<&str> {
    unsigned_part(bearer(value)?)
}

/// `HEADER.PAYLOAD.` of a three-part JWT, borrowed; `None` for anything else.
pub(crate) fn unsigned_part(token: &str) -> Option<&str> {
    // Two dots exactly: counted without an early exit in byte-wide sums of at most 255 bytes
    // (they vectorize 16 or 32 to an instruction), then only the signature is searched for
    // the last one (a search from the front crossed the payload, the longest part, twice).
    // A token is ~1 KiB and this runs per request.
    let dots: usize = token
        .as_bytes()
        .chunks(255)
        .map(|chunk| usize::from(chunk.iter().fold(0u8, |n, &b| n + u8::from(b == b'.'))))
        .sum();
    if dots != 2 {
        return None;
    }
    token.rfind('.').map(|last| &token[..=last])
}

/// Replace the bearer token of `name` by its redacted form.
pub fn redact_header(headers: &mut HeaderMap, name: &str) {
    let Some(redacted) = headers
        .get(name)
        .and_then(|v| unsigned_bearer(v.as_bytes()))
        .map(|unsigned| format!("Bearer {unsigned}{SIGNATURE_REMOVED}"))
    else {
        return;
    };
    if let Ok(v) = HeaderValue::from_str(&redacted) {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap_or(header::AUTHORIZATION),
            v,
        );
    }
}

/// Whether the request asks for a protocol upgrade (WebSocket).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Drop hop-by-hop headers (and those `Connection` names), and client-sent `X-Google-*` /
/// `X-Goog-IAP-*`. An upgrade keeps `Upgrade` and `Connection: upgrade`.
pub fn strip_inbound(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| n != header::UPGRADE)
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
    let google: Vec<HeaderName> = headers
        .keys()
        .filter(|k| {
            let k = k.as_str();
            k.starts_with("x-google-") || k.starts_with("x-goog-iap-")
        })
        .cloned()
        .collect();
    for name in google {
        headers.remove(name);
    }
}

/// Hop-by-hop headers are not forwarded back either.
pub fn strip_outbound(headers: &mut HeaderMap, upgrade: bool) {
    for name in HOP_BY_HOP {
        if upgrade && name == "connection" {
            continue;
        }
        headers.remove(name);
    }
}

/// The trace of a request: the client's `X-Cloud-Trace-Context` / `traceparent` when valid,
/// else a fresh one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// 32 lowercase hex digits.
    pub trace_id: TraceId,
    /// The span id as a number.
    pub span_id: u64,
    /// Sampled flag.
    pub sampled: bool,
}

impl Trace {
    /// From the request, or new.
    pub fn of(headers: &HeaderMap) -> Trace {
        Trace::from_values(
            headers
                .get("x-cloud-trace-context")
                .map(HeaderValue::as_bytes),
            headers.get("traceparent").map(HeaderValue::as_bytes),
        )
    }

    /// From the values of `X-Cloud-Trace-Context` and `traceparent`, or new.
    pub(crate) fn from_values(cloud: Option<&[u8]>, w3c: Option<&[u8]>) -> Trace {
        cloud
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(parse_cloud_trace)
            .or_else(|| {
                w3c.and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(parse_traceparent)
            })
            .unwrap_or_else(|| Trace {
                trace_id: TraceId::random(),
                span_id: crate::rng::u64() >> 1,
                sampled: true,
            })
    }

    /// `X-Cloud-Trace-Context`.
    pub fn cloud_header(&self) -> String {
        format!(
            "{}/{};o={}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }

    /// Both trace headers as HTTP/1.1 header lines (the fast path's forwarded head), written
    /// without `core::fmt`: they go out with every request.
    pub(crate) fn push_headers(&self, out: &mut Vec<u8>) {
        let id = self.trace_id.as_bytes();
        out.extend_from_slice(b"x-cloud-trace-context: ");
        out.extend_from_slice(id);
        out.push(b'/');
        out.extend_from_slice(crate::text::decimal(self.span_id).as_bytes());
        out.extend_from_slice(if self.sampled { b";o=1" } else { b";o=0" });
        out.extend_from_slice(b"\r\ntraceparent: 00-");
        out.extend_from_slice(id);
        out.push(b'-');
        out.extend_from_slice(crate::text::hex16(self.span_id).as_bytes());
        out.extend_from_slice(if self.sampled { b"-01\r\n" } else { b"-00\r\n" });
    }

    /// W3C `traceparent`.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{:016x}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }
}

/// A trace id: 32 lowercase hex digits, inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId([u8; 32]);

impl TraceId {
    fn random() -> TraceId {
        let mut digits = [0u8; 32];
        for half in digits.chunks_exact_mut(16) {
            half.copy_from_slice(crate::text::hex16(crate::rng::u64()).as_bytes());
        }
        TraceId(digits)
    }

    /// From 32 hex digits (checked by the caller), lowercased.
    fn from_hex(hex: &str) -> Option<TraceId> {
        let mut digits: [u8; 32] = hex.as_bytes().try_into().ok()?;
        digits.make_ascii_lowercase();
        Some(TraceId(digits))
    }

    /// The 32 digits.
    pub fn as_str(&self) -> &str {
        // Built from ASCII hex digits only.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 32 digits, for a byte buffer (no UTF-8 check).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.bytes().any(|b| b != b'0')
}

fn parse_cloud_trace(text: &str) -> Option<Trace> {
    let (trace_id, rest) = text.split_once('/').map_or((text, ""), |(t, r)| (t, r));
    if !is_hex(trace_id, 32) {
        return None;
    }
    let (span, options) = rest.split_once(';').map_or((rest, ""), |(s, o)| (s, o));
    let span_id = if span.is_empty() {
        crate::rng::u64() >> 1
    } else {
        span.parse().ok()?
    };
    Some(Trace {
        trace_id: TraceId::from_hex(trace_id)?,
        span_id,
        sampled: options.trim() != "o=0",
    })
}

fn parse_traceparent(text: &str) -> Option<Trace> {
    let parts: Vec<&str> = text.trim().split('-').collect();
    let [version, trace_id, span, flags] = parts.as_slice() else {
        return None;
    };
    if *version != "00" || !is_hex(trace_id, 32) || !is_hex(span, 16) || flags.len() != 2 {
        return None;
    }
    Some(Trace {
        trace_id: TraceId::from_hex(trace_id)?,
        span_id: u64::from_str_radix(span, 16).ok()?,
        sampled: u8::from_str_radix(flags, 16).ok()? & 1 == 1,
    })
}

/// Adds the front end's headers: `X-Forwarded-For` (appended), `X-Forwarded-Proto`,
/// `Forwarded`, `X-Cloud-Trace-Context`, `traceparent`.
pub fn add_forwarding(headers: &mut HeaderMap, client_ip: Option<std::net::IpAddr>, trace: &Trace) {
    // Static names: parsing a name from text allocates for every non-standard header.
    static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    static X_CLOUD_TRACE_CONTEXT: HeaderName = HeaderName::from_static("x-cloud-trace-context");
    static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    if let Some(ip) = client_ip {
        let ip = IpText::of(ip);
        let prior = headers
            .get(&X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .map(str::as_bytes);
        let value = forwarded_for(prior, &ip).concat();
        if let Ok(v) = HeaderValue::from_bytes(&value) {
            headers.insert(X_FORWARDED_FOR.clone(), v);
        }
        if let Ok(v) = HeaderValue::from_bytes(&forwarded(&ip).concat()) {
            headers.insert(header::FORWARDED, v);
        }
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    if let Ok(v) = HeaderValue::from_str(&trace.cloud_header()) {
        headers.insert(X_CLOUD_TRACE_CONTEXT.clone(), v);
    }
    if let Ok(v) = HeaderValue::from_str(&trace.traceparent()) {
        headers.insert(TRACEPARENT.clone(), v);
    }
}

/// `X-Forwarded-For` in pieces: the client's address appended to what the client sent (both
/// paths write it; the fast path without joining the pieces).
pub(crate) fn forwarded_for<'a>(prior: Option<&'a [u8]>, ip: &'a IpText) -> [&'a [u8]; 3] {
    match prior {
        Some(prior) if !prior.trim_ascii().is_empty() => [prior, b", ", ip.as_bytes()],
        _ => [b"", b"", ip.as_bytes()],
    }
}

/// `Forwarded` (RFC 7239) for the client's address, in pieces.
pub(crate) fn forwarded(ip: &IpText) -> [&[u8]; 3] {
    if ip.is_v6() {
        [b"for=\"[", ip.as_bytes(), b"]\";proto=http"]
    } else {
        [b"for=", ip.as_bytes(), b";proto=http"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn token_precedence_and_malformed_cases() {
        let tok = |x: bool| Presented::Token {
            token: "a.b.c",
            x_serverless: x,
        };
        assert_eq!(presented_token(&map(&[])), Presented::None);
        assert_eq!(
            presented_token(&map(&[("authorization", "Bearer a.b.c")])),
            tok(false)
        );
        assert_eq!(
            presented_token(&map(&[("authorization", "bearer a.b.c")])),
            tok(false)
        );
        assert_eq!(
            presented_token(&map(&[
                ("authorization", "Basic Zm9v"),
                ("x-serverless-authorization", "Bearer a.b.c")
            ])),
            tok(true)
        );
        assert_eq!(
            presented_token(&map(&[
                ("authorization", "Bearer a.b.c"),
                ("authorization", "Bearer d.e.f")
            ])),
            Presented::Malformed {
                x_serverless: false
            }
        );
        assert_eq!(
            presented_token(&map(&[("authorization", "Bearer a.b.c, d.e.f")])),
            Presented::Malformed {
                x_serverless: false
            }
        );
        assert_eq!(
            presented_token(&map(&[("authorization", "Basic Zm9v")])),
            Presented::Malformed {
                x_serverless: false
            }
        );
    }

    #[test]
    fn redaction() {
        assert_eq!(unsigned_part("h.p.s"), Some("h.p."));
        assert_eq!(unsigned_part("h.p"), None);
        assert_eq!(unsigned_part("h.p.s.x"), None);
        assert_eq!(unsigned_part("h..s"), Some("h.."));
        assert_eq!(unsigned_bearer(b"Bearer aa.bb.cc"), Some("aa.bb."));
        assert_eq!(unsigned_bearer(b"Basic aa.bb.cc"), None);
        let mut m = map(&[("x-serverless-authorization", "Bearer h.p.s")]);
        redact_header(&mut m, X_SERVERLESS_AUTHORIZATION);
        assert_eq!(
            m["x-serverless-authorization"],
            "Bearer h.p.SIGNATURE_REMOVED_BY_GOOGLE"
        );
    }

    #[test]
    fn stripping_and_forwarding() {
        let mut m = map(&[
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "5"),
            ("te", "trailers"),
            ("x-google-foo", "spoof"),
            ("x-goog-iap-jwt-assertion", "spoof"),
            ("x-goog-other", "kept"),
            ("x-forwarded-for", "10.0.0.1"),
            ("upgrade", "h2c"),
        ]);
        strip_inbound(&mut m, false);
        for gone in [
            "connection",
            "x-private",
            "keep-alive",
            "te",
            "x-google-foo",
            "x-goog-iap-jwt-assertion",
            "upgrade",
        ] {
            assert!(!m.contains_key(gone), "{gone}");
        }
        assert!(m.contains_key("x-goog-other"));
        let trace = Trace {
            trace_id: TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            span_id: 1,
            sampled: true,
        };
        add_forwarding(&mut m, Some("127.0.0.1".parse().unwrap()), &trace);
        assert_eq!(m["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(m["x-forwarded-proto"], "http");
        assert_eq!(m["forwarded"], "for=127.0.0.1;proto=http");
        let mut v6 = map(&[("x-forwarded-for", " ")]);
        add_forwarding(&mut v6, Some("::1".parse().unwrap()), &trace);
        assert_eq!(v6["x-forwarded-for"], "::1");
        assert_eq!(v6["forwarded"], "for=\"[::1]\";proto=http");
        assert_eq!(
            m["x-cloud-trace-context"],
            "0af7651916cd43dd8448eb211c80319c/1;o=1"
        );
        assert_eq!(
            m["traceparent"],
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000001-01"
        );
    }

    #[test]
    fn trace_header_lines_match_their_display_forms() {
        for (span_id, sampled) in [
            (0, true),
            (42, false),
            (u64::MAX >> 1, true),
            (u64::MAX, false),
        ] {
            let trace = Trace {
                trace_id: TraceId::random(),
                span_id,
                sampled,
            };
            let mut out = Vec::new();
            trace.push_headers(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!(
                    "x-cloud-trace-context: {}\r\ntraceparent: {}\r\n",
                    trace.cloud_header(),
                    trace.traceparent()
                )
            );
        }
    }

    #[test]
    fn traces_from_client_headers() {
        let t = Trace::of(&map(&[(
            "x-cloud-trace-context",
            "0AF7651916CD43DD8448EB211C80319C/42;o=0",
        )]));
        assert_eq!(
            (t.trace_id.as_str(), t.span_id, t.sampled),
            ("0af7651916cd43dd8448eb211c80319c", 42, false)
        );
        let t = Trace::of(&map(&[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
        )]));
        assert_eq!(t.span_id, 0x00f0_67aa_0ba9_02b7);
        let fresh = Trace::of(&map(&[("x-cloud-trace-context", "zz")]));
        let digits = fresh.trace_id.as_str();
        assert_eq!(digits.len(), 32);
        assert!(
            digits
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(Trace::of(&HeaderMap::new()).trace_id, fresh.trace_id);
    }
}
