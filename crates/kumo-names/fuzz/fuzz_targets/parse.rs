//! Every name parser on arbitrary text: never panics, and whatever parses prints back to a text
//! that parses to the same value (names round-trip).
#![no_main]

use std::fmt::{Debug, Display};
use std::str::FromStr;

use kumo_names::{
    Etag, FolderId, Location, OrganizationId, Permission, Principal, ProjectId, ProjectNumber,
    ResourceName, RoleName, ServiceAccountEmail,
};
use libfuzzer_sys::fuzz_target;

fn round_trip<T: FromStr + Display + PartialEq + Debug>(s: &str) {
    if let Ok(v) = s.parse::<T>() {
        let printed = v.to_string();
        match printed.parse::<T>() {
            Ok(again) => assert_eq!(again, v, "{s:?} printed as {printed:?}"),
            Err(_) => panic!("{s:?} parsed, but its printed form {printed:?} does not"),
        }
    }
}

fuzz_target!(|s: &str| {
    round_trip::<Permission>(s);
    round_trip::<RoleName>(s);
    round_trip::<ServiceAccountEmail>(s);
    round_trip::<Principal>(s);
    round_trip::<ResourceName>(s);
    round_trip::<ProjectId>(s);
    round_trip::<ProjectNumber>(s);
    round_trip::<OrganizationId>(s);
    round_trip::<FolderId>(s);
    round_trip::<Location>(s);
    round_trip::<Etag>(s);
    if let Ok(r) = s.parse::<ResourceName>() {
        assert_eq!(
            ResourceName::new(r.service(), r.relative()).as_ref(),
            Ok(&r)
        );
    }
    if let Ok(r) = s.parse::<RoleName>() {
        let _ = (r.kind(), r.parent_id(), r.role_id());
    }
});
