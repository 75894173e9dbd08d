//! Cloud Run's request log entry (spec §2.7), written per request.
//!
//! The JSON is written by hand into one buffer: the field order and every key are fixed, only
//! the request's own strings need escaping, and numbers, times and ids are written digit by
//! digit. Built with serde and `core::fmt` it cost ≈ 17,000 instructions per request (callgrind,
//! `benches/gateway/run.sh` with `CALLGRIND_OUT`), a third of the gateway's whole request.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use kumo_control::invoke::ServiceRoute;

use crate::LogContext;

/// The entry's columns beside its JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) timestamp_nanos: i64,
    /// Cloud Logging's severity number.
    pub(crate) severity: i32,
}

/// `logName` of the request log of `project`, as the parts [`kumo_store::LogBatch`] joins.
pub(crate) fn log_name(project: &str) -> [&str; 3] {
    ["projects/", project, "/logs/run.googleapis.com%2Frequests"]
}

/// The resource type of every request log entry.
pub(crate) const RESOURCE_TYPE: &str = "cloud_run_revision";

/// Writes the entry's JSON into `o` (cleared first; UTF-8, as every piece is text or ASCII);
/// `None` for a time before 1970.
pub(crate) fn request_log_entry(
    o: &mut Vec<u8>,
    route: &ServiceRoute,
    revision: Option<&str>,
    log: &LogContext,
    status: StatusCode,
    text: Option<&str>,
) -> Option<Columns> {
    let (severity, severity_number) = match status.as_u16() {
        500.. => ("ERROR", 500),
        400.. => ("WARNING", 400),
        _ => ("INFO", 200),
    };
    let revision_name = revision
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or_default();
    let timestamp_nanos = log
        .received
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())?;
    o.clear();
    o.extend_from_slice(b"{\"httpRequest\":{\"requestMethod\":");
    string(o, log.method.as_str());
    o.extend_from_slice(b",\"requestUrl\":");
    string(o, &log.url);
    o.extend_from_slice(b",\"status\":");
    decimal(o, u64::from(status.as_u16()));
    o.extend_from_slice(b",\"latency\":\"");
    let elapsed = log.started.elapsed();
    latency(o, elapsed);
    o.extend_from_slice(b"\",\"protocol\":");
    string(o, log.protocol);
    if let Some(agent) = &log.user_agent {
        o.extend_from_slice(b",\"userAgent\":");
        string(o, agent);
    }
    if let Some(referer) = &log.referer {
        o.extend_from_slice(b",\"referer\":");
        string(o, referer);
    }
    if let Some(ip) = &log.remote_ip {
        o.extend_from_slice(b",\"remoteIp\":");
        string(o, ip.as_str());
    }
    if let Some(size) = log.request_size {
        // int64 fields are strings in JSON.
        o.extend_from_slice(b",\"requestSize\":\"");
        decimal(o, size);
        o.push(b'"');
    }
    o.extend_from_slice(b"},\"insertId\":\"");
    hex16(o, crate::rng::u64());
    with_fixed(route, revision_name, |fixed| {
        o.extend_from_slice(&fixed.text[..fixed.resource_end]);
        o.extend_from_slice(severity.as_bytes());
        o.extend_from_slice(b"\",\"timestamp\":\"");
        timestamp(o, log.received);
        o.extend_from_slice(b"\",\"receiveTimestamp\":\"");
        // When the entry is written: one clock read fewer than asking the clock again.
        timestamp(o, log.received + elapsed);
        o.extend_from_slice(&fixed.text[fixed.resource_end..]);
    });
    o.extend_from_slice(log.trace.trace_id.as_bytes());
    o.extend_from_slice(b"\",\"spanId\":\"");
    hex16(o, log.trace.span_id);
    o.extend_from_slice(b"\",\"traceSampled\":");
    o.extend_from_slice(if log.trace.sampled { b"true" } else { b"false" });
    if let Some(text) = text {
        o.extend_from_slice(b",\"textPayload\":");
        string(o, text);
    }
    o.push(b'}');
    Some(Columns {
        timestamp_nanos,
        severity: severity_number,
    })
}

/// The parts of an entry that only its service and revision decide, escaped once: from
/// `logName` to `"severity":"` and the trace's `","trace":"projects/P/traces/` (14 strings
/// escaped per request cost ≈ 1,200 instructions, a 30th of the gateway's request).
struct Fixed {
    service: String,
    revision: String,
    /// Both parts, one after the other.
    text: Vec<u8>,
    /// Where the first part ends.
    resource_end: usize,
}

impl Fixed {
    fn new(route: &ServiceRoute, revision: &str) -> Fixed {
        let mut o = Vec::with_capacity(320);
        o.extend_from_slice(b"\",\"logName\":\"");
        for part in log_name(&route.project_id) {
            contents(&mut o, part);
        }
        o.extend_from_slice(b"\",\"resource\":{\"type\":\"");
        o.extend_from_slice(RESOURCE_TYPE.as_bytes());
        o.extend_from_slice(b"\",\"labels\":{\"configuration_name\":");
        string(&mut o, &route.service);
        o.extend_from_slice(b",\"location\":");
        string(&mut o, &route.location);
        o.extend_from_slice(b",\"project_id\":");
        string(&mut o, &route.project_id);
        o.extend_from_slice(b",\"revision_name\":");
        string(&mut o, revision);
        o.extend_from_slice(b",\"service_name\":");
        string(&mut o, &route.service);
        o.extend_from_slice(b"}},\"severity\":\"");
        let resource_end = o.len();
        o.extend_from_slice(b"\",\"trace\":\"projects/");
        contents(&mut o, &route.project_id);
        o.extend_from_slice(b"/traces/");
        Fixed {
            service: route.name.clone(),
            revision: revision.to_owned(),
            text: o,
            resource_end,
        }
    }
}

/// Fixed parts kept per thread; more than this many (service, revision) pairs start afresh.
const FIXED_KEPT: usize = 64;

/// Runs `f` on this thread's [`Fixed`] of (`route`, `revision`), made on first use. The
/// service's full name decides its project, location and id, so the pair is the whole key.
fn with_fixed(route: &ServiceRoute, revision: &str, f: impl FnOnce(&Fixed)) {
    thread_local! {
        static FIXED: std::cell::RefCell<Vec<Fixed>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    FIXED.with_borrow_mut(|kept| {
        let found = kept
            .iter()
            .position(|k| k.revision == revision && k.service == route.name);
        let i = match found {
            Some(i) => i,
            None => {
                if kept.len() >= FIXED_KEPT {
                    kept.clear();
                }
                kept.push(Fixed::new(route, revision));
                kept.len() - 1
            }
        };
        f(&kept[i])
    })
}

/// A JSON string: quotes, backslashes and control characters escaped as serde_json does
/// (`\n`, `\r`, `\t`, `\b`, `\f`, else `\u00XX`); runs without them are copied whole.
fn string(o: &mut Vec<u8>, s: &str) {
    o.push(b'"');
    contents(o, s);
    o.push(b'"');
}

/// [`string`] without its quotes.
fn contents(o: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Nearly every string needs no escaping: one pass without an early exit (it vectorizes).
    let plain = bytes
        .iter()
        .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        o.extend_from_slice(bytes);
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..0x20 => b"",
            _ => continue,
        };
        o.extend_from_slice(&bytes[run..i]);
        if short.is_empty() {
            o.extend_from_slice(b"\\u00");
            o.push(HEX[usize::from(b >> 4)]);
            o.push(HEX[usize::from(b & 0xf)]);
        } else {
            o.extend_from_slice(short);
        }
        run = i + 1;
    }
    o.extend_from_slice(&bytes[run..]);
}

fn decimal(o: &mut Vec<u8>, n: u64) {
    o.extend_from_slice(crate::text::decimal(n).as_bytes());
}

fn hex16(o: &mut Vec<u8>, n: u64) {
    o.extend_from_slice(crate::text::hex16(n).as_bytes());
}

/// Google's Duration text: `0.000123456s`.
fn latency(o: &mut Vec<u8>, d: Duration) {
    decimal(o, d.as_secs());
    o.push(b'.');
    let mut digits = [b'0'; 9];
    let mut n = d.subsec_nanos();
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    o.extend_from_slice(&digits);
    o.push(b's');
}

fn timestamp(o: &mut Vec<u8>, t: SystemTime) {
    crate::text::push_timestamp(o, t);
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
            url_audiences: 0,
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
        // Whatever the buffer held before is gone.
        let mut text = b"stale".to_vec();
        let columns = request_log_entry(
            &mut text,
            &route(),
            Some("projects/p1/locations/us-central1/revisions/hello-00001-abc"),
            &log,
            StatusCode::FORBIDDEN,
            Some("denied"),
        )
        .unwrap();
        assert_eq!(columns.timestamp_nanos, 1_700_000_000_000_000_005);
        assert_eq!(
            log_name("p1").concat(),
            "projects/p1/logs/run.googleapis.com%2Frequests"
        );
        assert_eq!(columns.severity, 400);
        let mut json: serde_json::Value = serde_json::from_slice(&text).unwrap();
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

    /// The per-thread fixed parts follow the service and revision of each entry.
    #[test]
    fn fixed_parts_are_kept_per_service_and_revision() {
        let log = context("http://x/", None);
        let other = ServiceRoute {
            name: "projects/p2/locations/europe-west1/services/hello".into(),
            project_id: "p2".into(),
            location: "europe-west1".into(),
            ..route()
        };
        let mut text = Vec::new();
        let mut labels = |route: &ServiceRoute, revision: &str| {
            request_log_entry(&mut text, route, Some(revision), &log, StatusCode::OK, None)
                .unwrap();
            let json: serde_json::Value = serde_json::from_slice(&text).unwrap();
            (
                json["resource"]["labels"]["project_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                json["resource"]["labels"]["revision_name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                json["logName"].as_str().unwrap().to_owned(),
                json["trace"]
                    .as_str()
                    .unwrap()
                    .split("/traces/")
                    .next()
                    .unwrap()
                    .to_owned(),
            )
        };
        for _ in 0..2 {
            for (route, project) in [(route(), "p1"), (other.clone(), "p2")] {
                for revision in ["hello-00001-abc", "hello-00002-xyz"] {
                    let full = format!("{}/revisions/{revision}", route.name);
                    assert_eq!(
                        labels(&route, &full),
                        (
                            project.to_owned(),
                            revision.to_owned(),
                            format!("projects/{project}/logs/run.googleapis.com%2Frequests"),
                            format!("projects/{project}"),
                        )
                    );
                }
            }
        }
        // Past FIXED_KEPT pairs the cache starts afresh and still answers right.
        for i in 0..FIXED_KEPT + 3 {
            let revision = format!("hello-{i:05}-abc");
            assert_eq!(labels(&route(), &revision).1, revision);
        }
    }

    proptest::proptest! {
        /// Any URL and user agent come out as serde_json writes them, byte for byte.
        #[test]
        fn strings_are_escaped_as_serde_json_does(s in ".*", t in "[\\x00-\\x7f]*") {
            for text in [&s, &t] {
                let mut mine = Vec::new();
                string(&mut mine, text);
                proptest::prop_assert_eq!(String::from_utf8(mine).unwrap(), serde_json::to_string(text).unwrap());
            }
        }

        #[test]
        fn numbers(n in proptest::prelude::any::<u64>(), nanos in 0u32..1_000_000_000) {
            let text = |o: &Vec<u8>| String::from_utf8(o.clone()).unwrap();
            let mut o = Vec::new();
            decimal(&mut o, n);
            proptest::prop_assert_eq!(text(&o), n.to_string());
            o.clear();
            hex16(&mut o, n);
            proptest::prop_assert_eq!(text(&o), format!("{n:016x}"));
            o.clear();
            latency(&mut o, Duration::new(n % 100_000, nanos));
            proptest::prop_assert_eq!(
                text(&o),
                format!("{}.{:09}s", n % 100_000, nanos)
            );
        }
    }
}
