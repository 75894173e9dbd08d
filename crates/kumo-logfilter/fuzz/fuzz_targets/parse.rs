#![no_main]
//! Parsing and evaluating arbitrary queries must never panic.

libfuzzer_sys::fuzz_target!(|data: &str| {
    if let Ok(f) = kumo_logfilter::Filter::parse(data) {
        let entry = serde_json::json!({"severity":"ERROR","resource":{"type":"cloud_run_revision"},
            "timestamp":"2026-01-01T00:00:00Z","labels":{"a":"b"},"textPayload":"x"});
        let _ = f.matches(&entry);
        let _ = f.timestamp_bounds();
    }
});
