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

/// Suggestions are roles a person would grant: service agent roles (meant for Google's own
/// agents) are left out whenever another role grants the permission, even when smaller.
#[test]
fn suggestions_leave_out_service_agent_roles() {
    let engine = Engine::new(Arc::new(RoleCatalog::new().unwrap()));
    let project: ResourceName = "//cloudresourcemanager.googleapis.com/projects/p"
        .parse()
        .unwrap();
    let ancestry = Ancestry::new(vec![Node {
        resource: &project,
        policy: None,
    }]);
    let subject = Subject::user("bob@example.com");
    let ctx = common::ctx();
    let suggested = |permission: &str| -> Vec<String> {
        let permission: Permission = permission.parse().unwrap();
        let req = AccessRequest {
            subject: &subject,
            permission: &permission,
            ancestry: &ancestry,
            context: &ctx,
        };
        engine
            .explain(&req)
            .suggested_roles
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    // The smallest roles holding these include service agent roles (e.g.
    // roles/runapps.serviceAgent for run.services.get).
    for (permission, first) in [
        ("run.services.get", "roles/run.viewer"),
        ("run.routes.invoke", "roles/run.servicesInvoker"),
        (
            "iam.serviceAccounts.getAccessToken",
            "roles/iam.workloadIdentityUser",
        ),
        ("run.services.setIamPolicy", "roles/run.admin"),
    ] {
        let roles = suggested(permission);
        assert_eq!(
            roles.first().map(String::as_str),
            Some(first),
            "{permission}: {roles:?}"
        );
        assert!(
            roles
                .iter()
                .all(|r| !r.to_ascii_lowercase().contains("serviceagent")),
            "{permission}: {roles:?}"
        );
    }
}
