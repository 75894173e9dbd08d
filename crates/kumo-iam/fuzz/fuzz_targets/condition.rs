//! Parse and evaluate arbitrary input: must never panic or overflow the stack.
#![no_main]

use kumo_iam::condition::{Activation, Condition};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(condition) = Condition::parse(src) {
        let activation = Activation {
            request_time: chrono::DateTime::UNIX_EPOCH,
            resource_name: "projects/p/locations/l/services/s",
            resource_type: "run.googleapis.com/Service",
            resource_service: "run.googleapis.com",
        };
        let _ = condition.evaluate(&activation);
    }
});
