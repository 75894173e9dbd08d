#![no_main]
//! Parsing and evaluating arbitrary queries must never panic, and whatever parses prints back to
//! a query that parses to the same filter.

libfuzzer_sys::fuzz_target!(|data: &str| {
    if let Ok(f) = kumo_logfilter::Filter::parse(data) {
        let entry = serde_json::json!({"severity":"ERROR","resource":{"type":"cloud_run_revision"},
            "logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity","insertId":"x1",
            "timestamp":"2026-01-01T00:00:00Z","labels":{"a":"b"},"textPayload":"x",
            "httpRequest":{"remoteIp":"10.0.0.1","status":500}});
        let _ = f.matches(&entry);
        let _ = f.timestamp_bounds();
        let printed = f.to_string();
        assert_eq!(kumo_logfilter::Filter::parse(&printed).ok(), Some(f), "{printed}");
    }
});
