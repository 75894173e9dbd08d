//! An allow policy from arbitrary JSON through validate, compile, check, test_permissions and
//! explain: never panics, and the compiled index agrees with explain on every decision.
#![no_main]

use std::sync::{Arc, OnceLock};

use kumo_iam::{
    AccessRequest, Ancestry, CompiledPolicy, Engine, Node, Policy, RequestContext, RoleCatalog,
    Subject,
};
use kumo_names::{Permission, ResourceName};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    engine: Engine,
    resource: ResourceName,
    project: ResourceName,
    subjects: Vec<Subject>,
    permissions: Vec<Permission>,
    context: RequestContext,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let groups = ["eng@example.com".to_owned(), "ops@example.org".to_owned()];
        Some(Fixture {
            engine: Engine::new(Arc::new(RoleCatalog::new().ok()?)),
            resource: "//run.googleapis.com/projects/p/locations/l/services/s"
                .parse()
                .ok()?,
            project: "//cloudresourcemanager.googleapis.com/projects/p"
                .parse()
                .ok()?,
            subjects: vec![
                Subject::anonymous(),
                Subject::user("alice@example.com").with_groups(groups.clone()),
                Subject::service_account("sa@p.iam.gserviceaccount.com").with_groups(groups),
            ],
            permissions: ["run.routes.invoke", "run.services.get", "iam.roles.create"]
                .iter()
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?,
            context: RequestContext {
                now: chrono::DateTime::UNIX_EPOCH,
                resource_type: "run.googleapis.com/Service".into(),
                resource_service: "run.googleapis.com".into(),
            },
        })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(f) = fixture() else { return };
    let Ok(policy) = serde_json::from_slice::<Policy>(data) else {
        return;
    };
    let catalog = f.engine.catalog();
    let _ = policy.validate(catalog);
    let _ = policy.validate_custom_role_scope(&["projects/p", "organizations/1"]);
    let compiled = CompiledPolicy::compile(&policy, catalog);
    let ancestry = Ancestry::new(vec![
        Node {
            resource: &f.resource,
            policy: Some(&compiled),
        },
        Node {
            resource: &f.project,
            policy: Some(&compiled),
        },
    ]);
    for subject in &f.subjects {
        for permission in &f.permissions {
            let req = AccessRequest {
                subject,
                permission,
                ancestry: &ancestry,
                context: &f.context,
            };
            let decision = f.engine.check(&req);
            let explanation = f.engine.explain(&req);
            assert_eq!(decision.access, explanation.access, "{policy:?}");
            let _ = explanation.to_string();
        }
        let _ = f
            .engine
            .test_permissions(subject, &f.permissions, &ancestry, &f.context);
    }
});
