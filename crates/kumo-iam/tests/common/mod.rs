//! Shared test fixtures.

use chrono::{TimeZone, Utc};
use kumo_iam::RequestContext;

pub fn ctx() -> RequestContext {
    RequestContext {
        now: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        resource_type: "run.googleapis.com/Service".to_owned(),
        resource_service: "run.googleapis.com".to_owned(),
    }
}
