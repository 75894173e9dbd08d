//! Round-trip and rejection tests for the name types.
#![expect(clippy::panic, reason = "test helper reports the failing input")]

use kumo_names::*;
use proptest::prelude::*;
use std::str::FromStr;

fn rt<T: FromStr<Err = NameError> + std::fmt::Display>(s: &str) {
    let v: T = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(v.to_string(), s);
}

#[test]
fn valid_forms_round_trip() {
    rt::<Permission>("run.routes.invoke");
    rt::<RoleName>("roles/run.invoker");
    rt::<RoleName>("projects/my-proj/roles/myRole");
    rt::<RoleName>("organizations/123/roles/x_y");
    for m in [
        "user:alice@example.com",
        "group:devs@example.com",
        "domain:example.com",
        "allUsers",
        "allAuthenticatedUsers",
        "serviceAccount:sa@my-proj.iam.gserviceaccount.com",
        "serviceAccount:123456-compute@developer.gserviceaccount.com",
        "serviceAccount:service-123@serverless-robot-prod.iam.gserviceaccount.com",
        "serviceAccount:service-123@gcp-sa-iap.iam.gserviceaccount.com",
        "deleted:user:bob@example.com?uid=123456789",
        "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/s",
        "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/*",
    ] {
        rt::<Principal>(m);
    }
    rt::<ProjectId>("my-project-1");
    rt::<ProjectNumber>("123456789012");
    rt::<OrganizationId>("123456789012");
    rt::<FolderId>("42");
    rt::<Location>("us-central1");
    rt::<Etag>("BwXhqGk3Ksw=");
}

#[test]
fn resource_name_parts() {
    let r = ResourceName::new("run.googleapis.com", "projects/p/locations/l/services/s").unwrap();
    assert_eq!(r.service(), "run.googleapis.com");
    assert_eq!(r.relative(), "projects/p/locations/l/services/s");
    assert_eq!(
        r.to_string(),
        "//run.googleapis.com/projects/p/locations/l/services/s"
    );
    assert!(
        "run.googleapis.com/projects/p"
            .parse::<ResourceName>()
            .is_err()
    );
}

#[test]
fn role_accessors() {
    let r: RoleName = "projects/p1/roles/custom".parse().unwrap();
    assert_eq!(r.kind(), RoleKind::Project);
    assert_eq!(r.parent_id(), Some("p1"));
    assert_eq!(r.role_id(), "custom");
    assert!("roles/".parse::<RoleName>().is_err());
    assert!("folders/1/roles/x".parse::<RoleName>().is_err());
}

#[test]
fn bad_members_are_errors_with_google_wording() {
    assert_eq!(
        "User:alice@example.com"
            .parse::<Principal>()
            .unwrap_err()
            .to_string(),
        "The member User:alice@example.com is of an unknown type. Please set a valid type prefix for the member."
    );
    assert_eq!(
        "bob@example.com"
            .parse::<Principal>()
            .unwrap_err()
            .to_string(),
        "The member bob@example.com is of an unknown type. Please set a valid type prefix for the member."
    );
    assert_eq!(
        "user:bob".parse::<Principal>().unwrap_err().to_string(),
        "Invalid member: user:bob"
    );
    assert!("user:not-an-email".parse::<Principal>().is_err());
    assert!(
        "serviceAccount:alice@example.com"
            .parse::<Principal>()
            .is_err()
    );
    assert!("deleted:user:bob@example.com".parse::<Principal>().is_err());
    assert!("allusers".parse::<Principal>().is_err());
}

#[test]
fn project_id_rules() {
    for bad in [
        "short",
        "1abcdef",
        "abcdef-",
        "Abcdefg",
        "a".repeat(31).as_str(),
        "abc_def",
    ] {
        assert!(bad.parse::<ProjectId>().is_err(), "{bad}");
    }
}

#[test]
fn serde_as_plain_strings() {
    let p: Principal = serde_json::from_str("\"user:a@b.com\"").unwrap();
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"user:a@b.com\"");
    assert!(serde_json::from_str::<RoleName>("\"nope\"").is_err());
}

proptest! {
    #[test]
    fn etag_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let e = Etag::from_bytes(bytes.clone());
        let back: Etag = e.to_string().parse().unwrap();
        prop_assert_eq!(back.as_bytes(), &bytes[..]);
    }

    #[test]
    fn principal_round_trip(local in "[a-z][a-z0-9._]{0,10}", dom in "[a-z]{1,8}\\.(com|org)", k in 0usize..4) {
        let s = match k {
            0 => format!("user:{local}@{dom}"),
            1 => format!("group:{local}@{dom}"),
            2 => format!("domain:{dom}"),
            _ => format!("deleted:group:{local}@{dom}?uid=99"),
        };
        let p: Principal = s.parse().unwrap();
        prop_assert_eq!(p.to_string(), s);
    }

    #[test]
    fn arbitrary_input_never_panics(s in "\\PC{0,40}") {
        let _ = s.parse::<Principal>();
        let _ = s.parse::<RoleName>();
        let _ = s.parse::<ResourceName>();
        let _ = s.parse::<Etag>();
        let _ = s.parse::<ProjectId>();
        let _ = s.parse::<Permission>();
    }

    #[test]
    fn project_id_round_trip(s in "[a-z][a-z0-9-]{4,28}[a-z0-9]") {
        let p: ProjectId = s.parse().unwrap();
        prop_assert_eq!(p.to_string(), s);
    }
}
