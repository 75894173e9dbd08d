//! Decision corpus: every tests/cases/*.json file is one hierarchy + policies + subject +
//! request with the expected access and granting binding.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly on bad fixtures"
)]

mod common;

use std::sync::Arc;

use kumo_iam::*;
use kumo_names::{Permission, ResourceName};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    custom_roles: Vec<CustomRole>,
    ancestry: Vec<CaseNode>,
    subject: CaseSubject,
    permission: Permission,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseNode {
    resource: ResourceName,
    policy: Option<Policy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSubject {
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    access: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    node: Option<usize>,
}

fn check(case: &Case) -> (String, Option<String>, Option<usize>) {
    let mut catalog = RoleCatalog::new().unwrap();
    for r in &case.custom_roles {
        catalog.upsert_custom(r.clone()).unwrap();
    }
    let compiled: Vec<Option<CompiledPolicy>> = case
        .ancestry
        .iter()
        .map(|n| {
            n.policy.as_ref().map(|p| {
                p.validate(&catalog).unwrap();
                CompiledPolicy::compile(p, &catalog)
            })
        })
        .collect();
    let ancestry = Ancestry::new(
        case.ancestry
            .iter()
            .zip(&compiled)
            .map(|(n, c)| Node {
                resource: &n.resource,
                policy: c.as_ref(),
            })
            .collect(),
    );
    let subject = match case.subject.kind.as_str() {
        "anonymous" => Subject::anonymous(),
        "user" => Subject::user(&case.subject.email),
        "serviceAccount" => Subject::service_account(&case.subject.email),
        other => panic!("unknown subject kind {other}"),
    }
    .with_groups(case.subject.groups.clone());
    let engine = Engine::new(Arc::new(catalog));
    let ctx = common::ctx();
    let req = AccessRequest {
        subject: &subject,
        permission: &case.permission,
        ancestry: &ancestry,
        context: &ctx,
    };
    let d = engine.check(&req);
    // The explanation must agree with the decision.
    assert_eq!(engine.explain(&req).access, d.access);
    (
        d.access.as_str().to_owned(),
        d.granted_by.map(|g| g.role.to_string()),
        d.granted_by.map(|g| g.node),
    )
}

#[test]
fn corpus() {
    let mut n = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases")).unwrap() {
        let path = entry.unwrap().path();
        let case: Case = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let got = check(&case);
        assert_eq!(
            got,
            (
                case.expect.access.clone(),
                case.expect.role.clone(),
                case.expect.node
            ),
            "{}",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 15);
}
