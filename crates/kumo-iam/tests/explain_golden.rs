//! Golden test pinning the human-readable explanation. Regenerate with
//! `KUMO_BLESS=1 cargo test -p kumo-iam --test explain_golden` after an intended change.

mod common;

use std::sync::Arc;

use kumo_iam::*;
use kumo_names::{Permission, ResourceName};

#[test]
fn explain_not_granted_golden() {
    let engine = Engine::new(Arc::new(RoleCatalog::new().unwrap()));
    let svc_policy: Policy = serde_json::from_str(
        r#"{"version":3,"bindings":[
            {"role":"roles/run.viewer","members":["user:alice@example.com","group:eng@example.com"]},
            {"role":"roles/run.invoker","members":["user:alice@example.com"],
             "condition":{"expression":"request.time < timestamp(\"2020-01-01T00:00:00Z\")","title":"expired","description":""}}]}"#,
    )
    .unwrap();
    let proj_policy: Policy = serde_json::from_str(
        r#"{"version":1,"bindings":[{"role":"roles/run.invoker","members":["user:bob@example.com","domain:example.org"]}]}"#,
    )
    .unwrap();
    let svc: ResourceName =
        "//run.googleapis.com/projects/my-project/locations/us-central1/services/hello"
            .parse()
            .unwrap();
    let proj: ResourceName = "//cloudresourcemanager.googleapis.com/projects/my-project"
        .parse()
        .unwrap();
    let org: ResourceName = "//cloudresourcemanager.googleapis.com/organizations/111111111111"
        .parse()
        .unwrap();
    let c1 = CompiledPolicy::compile(&svc_policy, engine.catalog());
    let c2 = CompiledPolicy::compile(&proj_policy, engine.catalog());
    let ancestry = Ancestry::new(vec![
        Node {
            resource: &svc,
            policy: Some(&c1),
        },
        Node {
            resource: &proj,
            policy: Some(&c2),
        },
        Node {
            resource: &org,
            policy: None,
        },
    ]);
    let subject = Subject::user("alice@example.com").with_groups(["eng@example.com".to_owned()]);
    let permission: Permission = "run.routes.invoke".parse().unwrap();
    let ctx = common::ctx();
    let req = AccessRequest {
        subject: &subject,
        permission: &permission,
        ancestry: &ancestry,
        context: &ctx,
    };
    let text = engine.explain(&req).to_string();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/explain_not_granted.txt"
    );
    if std::env::var_os("KUMO_BLESS").is_some() {
        std::fs::write(path, &text).unwrap();
    }
    assert_eq!(text, std::fs::read_to_string(path).unwrap());
}
