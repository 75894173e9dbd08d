//! Cloud Run's request log entry (spec §2.7), written per request.
//!
//! The JSON is written by hand into one buffer: the field order and every key are fixed, only
//! the request's own strings need escaping, and numbers, times and ids are written digit by
//! digit. Built with serde and `core::fmt` it cost ≈ 17,000 instructions per request (callgrind,
//! `benches/gateway/run.sh` with `CALLGRIND_OUT`), a third of the gateway's whole request.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use kumo_control::invoke::ServiceRoute;
use kumo_control::runtime::EncodedLogEntry;

use crate::LogContext;

/// Room for an entry's JSON (≈ 800 bytes with a short URL and user agent), so writing it does
/// not grow the buffer.
const CAPACITY: usize = 1024;

pub(crate) fn request_log_entry(
    route: &ServiceRoute,
    revision: Option<&str>,
    log: &LogContext,
    status: StatusCode,
    text: Option<&str>,
) -> Option<EncodedLogEntry> {
    let (severity, severity_number) = match status.as_u16() {
        500.. => ("ERROR", 500),
        400.. => ("WARNING", 400),
        _ => ("INFO", 200),
    };
    let revision_name = revision
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or_default();
    let mut log_name = String::with_capacity(64);
    log_name.push_str("projects/");
    log_name.push_str(&route.project_id);
    log_name.push_str("/logs/run.googleapis.com%2Frequests");
    let timestamp_nanos = log
        .received
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())?;
    let mut o = String::with_capacity(CAPACITY);
    o.push_str("{\"httpRequest\":{\"requestMethod\":");
    string(&mut o, log.method.as_str());
    o.push_str(",\"requestUrl\":");
    string(&mut o, &log.url);
    o.push_str(",\"status\":");
    decimal(&mut o, u64::from(status.as_u16()));
    o.push_str(",\"latency\":\"");
    latency(&mut o, log.started.elapsed());
    o.push_str("\",\"protocol\":");
    string(&mut o, log.protocol);
    if let Some(agent) = &log.user_agent {
        o.push_str(",\"userAgent\":");
        string(&mut o, agent);
    }
    if let Some(referer) = &log.referer {
        o.push_str(",\"referer\":");
        string(&mut o, referer);
    }
    if let Some(ip) = &log.remote_ip {
        o.push_str(",\"remoteIp\":");
        string(&mut o, ip.as_str());
    }
    if let Some(size) = log.request_size {
        // int64 fields are strings in JSON.
        o.push_str(",\"requestSize\":\"");
        decimal(&mut o, size);
        o.push('"');
    }
    o.push_str("},\"insertId\":\"");
    hex16(&mut o, rand::random::<u64>());
    o.push_str("\",\"logName\":");
    string(&mut o, &log_name);
    o.push_str(",\"resource\":{\"type\":\"cloud_run_revision\",\"labels\":{");
    o.push_str("\"configuration_name\":");
    string(&mut o, &route.service);
    o.push_str(",\"location\":");
    string(&mut o, &route.location);
    o.push_str(",\"project_id\":");
    string(&mut o, &route.project_id);
    o.push_str(",\"revision_name\":");
    string(&mut o, revision_name);
    o.push_str(",\"service_name\":");
    string(&mut o, &route.service);
    o.push_str("}},\"severity\":\"");
    o.push_str(severity);
    o.push_str("\",\"timestamp\":\"");
    timestamp(&mut o, log.received);
    o.push_str("\",\"receiveTimestamp\":\"");
    timestamp(&mut o, SystemTime::now());
    o.push_str("\",\"trace\":\"projects/");
    contents(&mut o, &route.project_id);
    o.push_str("/traces/");
    o.push_str(log.trace.trace_id.as_str());
    o.push_str("\",\"spanId\":\"");
    hex16(&mut o, log.trace.span_id);
    o.push_str("\",\"traceSampled\":");
    o.push_str(if log.trace.sampled { "true" } else { "false" });
    if let Some(text) = text {
        o.push_str(",\"textPayload\":");
        string(&mut o, text);
    }
    o.push('}');
    Some(EncodedLogEntry {
        timestamp_nanos,
        log_name,
        resource_type: Some("cloud_run_revision".to_owned()),
        severity: severity_number,
        json: o,
    })
}

/// A JSON string: quotes, backslashes and control characters escaped as serde_json does
/// (`\n`, `\r`, `\t`, `\b`, `\f`, else `\u00XX`); runs without them are copied whole.
fn string(o: &mut String, s: &str) {
    o.push('"');
    contents(o, s);
    o.push('"');
}

/// [`string`] without its quotes.
fn contents(o: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Nearly every string needs no escaping: one pass without an early exit (it vectorizes).
    let plain = bytes
        .iter()
        .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        o.push_str(s);
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        // `b` is ASCII, so `i` is a character boundary.
        o.push_str(&s[run..i]);
        if short.is_empty() {
            o.push_str("\\u00");
            o.push(char::from(HEX[usize::from(b >> 4)]));
            o.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            o.push_str(short);
        }
        run = i + 1;
    }
    o.push_str(&s[run..]);
}

fn decimal(o: &mut String, n: u64) {
    o.push_str(crate::text::decimal(n).as_str());
}

fn hex16(o: &mut String, n: u64) {
    o.push_str(crate::text::hex16(n).as_str());
}

/// Google's Duration text: `0.000123456s`.
fn latency(o: &mut String, d: Duration) {
    decimal(o, d.as_secs());
    o.push('.');
    let mut digits = [b'0'; 9];
    let mut n = d.subsec_nanos();
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &d in &digits {
        o.push(char::from(d));
    }
    o.push('s');
}

fn timestamp(o: &mut String, t: SystemTime) {
    // Writing to a String cannot fail.
    let _ = kumo_control::runtime::write_timestamp(o, t);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers;
    use std::time::Instant;

    fn route() -> ServiceRoute {
        ServiceRoute {
            name: "projects/p1/locations/us-central1/services/hello".into(),
            project_id: "p1".into(),
            project_number: "123".into(),
            location: "us-central1".into(),
            service: "hello".into(),
            ingress: kumo_wire::run_v2::IngressTraffic::All,
            invoker_iam_disabled: false,
            iap_enabled: false,
            audiences: vec![],
            traffic: vec![],
            tags: vec![],
            record_revision: 1,
        }
    }

    fn context(url: &str, user_agent: Option<&str>) -> LogContext {
        LogContext {
            method: http::Method::POST,
            url: url.into(),
            user_agent: user_agent.map(str::to_owned),
            referer: None,
            request_size: Some(12),
            protocol: "HTTP/1.1",
            remote_ip: Some(crate::text::IpText::of("::1".parse().unwrap())),
            trace: headers::Trace::from_values(
                Some(b"0AF7651916CD43DD8448EB211C80319C/42;o=1"),
                None,
            ),
            started: Instant::now(),
            received: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5),
        }
    }

    /// The entry's whole shape, escaping included.
    #[test]
    fn request_log_entry_shape() {
        let log = context(
            "http://hello.run.localhost/a?q=\"x\"",
            Some("curl/8 \u{e9}\u{1}"),
        );
        let entry = request_log_entry(
            &route(),
            Some("projects/p1/locations/us-central1/revisions/hello-00001-abc"),
            &log,
            StatusCode::FORBIDDEN,
            Some("denied"),
        )
        .unwrap();
        assert_eq!(entry.timestamp_nanos, 1_700_000_000_000_000_005);
        assert_eq!(
            entry.log_name,
            "projects/p1/logs/run.googleapis.com%2Frequests"
        );
        assert_eq!(entry.resource_type.as_deref(), Some("cloud_run_revision"));
        assert_eq!(entry.severity, 400);
        let mut json: serde_json::Value = serde_json::from_str(&entry.json).unwrap();
        let object = json.as_object_mut().unwrap();
        let http = object["httpRequest"].as_object_mut().unwrap();
        let latency = http.remove("latency").unwrap();
        let latency = latency.as_str().unwrap();
        assert!(
            latency.starts_with("0.") && latency.ends_with('s') && latency.len() == 12,
            "{latency}"
        );
        let insert_id = object.remove("insertId").unwrap();
        let insert_id = insert_id.as_str().unwrap();
        assert!(insert_id.len() == 16 && insert_id.bytes().all(|b| b.is_ascii_hexdigit()));
        let received = object.remove("receiveTimestamp").unwrap();
        assert!(received.as_str().unwrap() > "2020", "{received}");
        assert_eq!(
            json,
            serde_json::json!({
                "httpRequest": {
                    "requestMethod": "POST",
                    "requestUrl": "http://hello.run.localhost/a?q=\"x\"",
                    "status": 403,
                    "protocol": "HTTP/1.1",
                    "userAgent": "curl/8 \u{e9}\u{1}",
                    "remoteIp": "::1",
                    "requestSize": "12"
                },
                "logName": "projects/p1/logs/run.googleapis.com%2Frequests",
                "resource": {
                    "type": "cloud_run_revision",
                    "labels": {
                        "configuration_name": "hello",
                        "location": "us-central1",
                        "project_id": "p1",
                        "revision_name": "hello-00001-abc",
                        "service_name": "hello"
                    }
                },
                "severity": "WARNING",
                "timestamp": "2023-11-14T22:13:20.000000005Z",
                "trace": "projects/p1/traces/0af7651916cd43dd8448eb211c80319c",
                "spanId": "000000000000002a",
                "traceSampled": true,
                "textPayload": "denied"
            })
        );
    }

    proptest::proptest! {
        /// Any URL and user agent come out as serde_json writes them, byte for byte.
        #[test]
        fn strings_are_escaped_as_serde_json_does(s in ".*", t in "[\\x00-\\x7f]*") {
            for text in [&s, &t] {
                let mut mine = String::new();
                string(&mut mine, text);
                proptest::prop_assert_eq!(mine, serde_json::to_string(text).unwrap());
            }
        }

        #[test]
        fn numbers(n in proptest::prelude::any::<u64>(), nanos in 0u32..1_000_000_000) {
            let mut o = String::new();
            decimal(&mut o, n);
            proptest::prop_assert_eq!(o.clone(), n.to_string());
            o.clear();
            hex16(&mut o, n);
            proptest::prop_assert_eq!(o.clone(), format!("{n:016x}"));
            o.clear();
            latency(&mut o, Duration::new(n % 100_000, nanos));
            proptest::prop_assert_eq!(
                o.clone(),
                format!("{}.{:09}s", n % 100_000, nanos)
            );
        }
    }
}
