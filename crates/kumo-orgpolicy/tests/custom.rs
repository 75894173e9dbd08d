//! Custom constraints: validation texts, CEL conditions over a Knative service, the
//! ALLOW/DENY/fail-closed decision and the violation Google-shaped message.

use kumo_orgpolicy::custom::{MAX_CONDITION_LENGTH, parse_name};
use kumo_orgpolicy::*;
use serde_json::json;

fn constraint(condition: &str, action: ActionType) -> CustomConstraint {
    CustomConstraint {
        name: "organizations/123/customConstraints/custom.requireArImages".into(),
        resource_types: vec!["run.googleapis.com/Service".into()],
        method_types: vec![MethodType::Create, MethodType::Update],
        condition: condition.into(),
        action_type: action,
        display_name: "Require Artifact Registry images".into(),
        description: "Images must come from Artifact Registry.".into(),
        update_time: None,
    }
}

fn service(image: &str, ingress: &str) -> serde_json::Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "123456789012",
                     "annotations": {"run.googleapis.com/ingress": ingress}},
        "spec": {"template": {"spec": {"containers": [{"image": image}]}}}
    })
}

#[test]
fn a_valid_constraint_passes_and_names_parse() {
    let c = constraint(
        "resource.spec.template.spec.containers.all(c, c.image.contains('docker.pkg.dev'))",
        ActionType::Allow,
    );
    assert_eq!(validate_custom_constraint(&c), vec![]);
    assert_eq!(c.id(), "custom.requireArImages");
    assert_eq!(
        parse_name("organizations/1/customConstraints/custom.x"),
        Some(("1", "custom.x"))
    );
    assert_eq!(parse_name("projects/1/customConstraints/custom.x"), None);
    let d = c.definition();
    assert_eq!(d.name, "custom.requireArImages");
    assert!(d.is_custom());
    assert_eq!(d.kind, ConstraintType::Boolean);
    assert_eq!(d.default, ConstraintDefault::Allow);
}

/// A change to a valid constraint, the field it breaks, and a phrase of the expected text.
type Case = (
    Box<dyn Fn(&mut CustomConstraint)>,
    &'static str,
    &'static str,
);

#[test]
fn validation_reports_each_bad_field_with_its_text() {
    let ok = constraint("resource.metadata.name == 'x'", ActionType::Deny);
    let cases: Vec<Case> = vec![
        (
            Box::new(|c| c.display_name.clear()),
            "customConstraint.displayName",
            "Custom constraint display name cannot be empty.",
        ),
        (
            Box::new(|c| c.display_name = "d".repeat(201)),
            "customConstraint.displayName",
            "cannot be longer than 200 characters",
        ),
        (
            Box::new(|c| c.description = "d".repeat(2001)),
            "customConstraint.description",
            "cannot be longer than 2000 characters",
        ),
        (
            Box::new(|c| c.name = "organizations/123/customConstraints/requireX".into()),
            "customConstraint.name",
            "must start with \"custom.\"",
        ),
        (
            Box::new(|c| {
                c.name = format!(
                    "organizations/123/customConstraints/custom.{}",
                    "a".repeat(71)
                )
            }),
            "customConstraint.name",
            "too long",
        ),
        (
            Box::new(|c| c.name = "organizations/123/customConstraints/custom.a-b".into()),
            "customConstraint.name",
            "letters and digits",
        ),
        (
            Box::new(|c| c.name = "custom.x".into()),
            "customConstraint.name",
            "must be of the form",
        ),
        (
            Box::new(|c| c.method_types = vec![MethodType::Update]),
            "customConstraint.methodTypes",
            "UPDATE-only custom constraints are not supported",
        ),
        (
            Box::new(|c| c.method_types.clear()),
            "customConstraint.methodTypes",
            "cannot be empty",
        ),
        (
            Box::new(|c| c.method_types.push(MethodType::Delete)),
            "customConstraint.methodTypes",
            "Method type DELETE is not supported",
        ),
        (
            Box::new(|c| c.resource_types = vec!["compute.googleapis.com/Instance".into()]),
            "customConstraint.resourceTypes",
            "compute.googleapis.com/Instance is not supported",
        ),
        (
            Box::new(|c| c.resource_types.clear()),
            "customConstraint.resourceTypes",
            "cannot be empty",
        ),
        (
            Box::new(|c| c.condition = String::new()),
            "customConstraint.condition",
            "cannot be empty",
        ),
        (
            Box::new(|c| c.condition = format!("resource.metadata.name == '{}'", "x".repeat(1000))),
            "customConstraint.condition",
            "cannot be longer than 1000 characters",
        ),
        (
            Box::new(|c| c.condition = "resource.metadata.name ==".into()),
            "customConstraint.condition",
            "not a valid CEL expression",
        ),
        (
            Box::new(|c| c.condition = "request.time > 0".into()),
            "customConstraint.condition",
            "undeclared reference to 'request'",
        ),
    ];
    for (mutate, field, needle) in cases {
        let mut c = ok.clone();
        mutate(&mut c);
        let errors = validate_custom_constraint(&c);
        assert!(
            errors
                .iter()
                .any(|e| e.field == field && e.description.contains(needle)),
            "{field} / {needle}: {errors:?}"
        );
    }
    // The limit is the documented one: exactly 1000 characters is fine.
    let mut c = ok.clone();
    let pad = MAX_CONDITION_LENGTH - "resource.metadata.name == ''".len();
    c.condition = format!("resource.metadata.name == '{}'", "x".repeat(pad));
    assert_eq!(c.condition.len(), MAX_CONDITION_LENGTH);
    assert_eq!(validate_custom_constraint(&c), vec![]);
}

#[test]
fn deny_refuses_when_true_allow_refuses_when_false_errors_fail_closed() {
    let ar = "us-docker.pkg.dev/p/r/web:1";
    let hub = "docker.io/library/nginx";
    let cases = [
        // (condition, action, image, ingress, permitted)
        (
            "resource.spec.template.spec.containers.exists(c, c.image.startsWith('docker.io/'))",
            ActionType::Deny,
            hub,
            "all",
            false,
        ),
        (
            "resource.spec.template.spec.containers.exists(c, c.image.startsWith('docker.io/'))",
            ActionType::Deny,
            ar,
            "all",
            true,
        ),
        (
            "resource.spec.template.spec.containers.all(c, c.image.contains('-docker.pkg.dev/'))",
            ActionType::Allow,
            ar,
            "all",
            true,
        ),
        (
            "resource.spec.template.spec.containers.all(c, c.image.contains('-docker.pkg.dev/'))",
            ActionType::Allow,
            hub,
            "all",
            false,
        ),
        (
            "resource.metadata.annotations['run.googleapis.com/ingress'] in ['internal', 'internal-and-cloud-load-balancing']",
            ActionType::Allow,
            ar,
            "internal",
            true,
        ),
        (
            "resource.metadata.annotations['run.googleapis.com/ingress'] in ['internal', 'internal-and-cloud-load-balancing']",
            ActionType::Allow,
            ar,
            "all",
            false,
        ),
        // An evaluation error (missing annotation) refuses under both actions.
        (
            "resource.metadata.annotations['missing'] == 'x'",
            ActionType::Deny,
            ar,
            "all",
            false,
        ),
        (
            "resource.metadata.annotations['missing'] == 'x'",
            ActionType::Allow,
            ar,
            "all",
            false,
        ),
    ];
    for (condition, action, image, ingress, permitted) in cases {
        let c = constraint(condition, action);
        assert_eq!(
            c.permits(&service(image, ingress)),
            permitted,
            "{condition} {action:?} {image} {ingress}"
        );
    }
}

#[test]
fn violations_name_each_failed_constraint_with_its_description() {
    let deny_hub = constraint(
        "resource.spec.template.spec.containers.exists(c, c.image.startsWith('docker.io/'))",
        ActionType::Deny,
    );
    let mut internal = constraint(
        "resource.metadata.annotations['run.googleapis.com/ingress'] == 'internal'",
        ActionType::Allow,
    );
    internal.name = "organizations/123/customConstraints/custom.internalOnly".into();
    internal.description = "Ingress must be internal.".into();
    let svc = service("docker.io/library/nginx", "all");
    let subject = "projects/p/locations/us-central1/services/web";
    let v = check_custom_constraints(
        &[&deny_hub, &internal],
        "run.googleapis.com/Service",
        MethodType::Create,
        &svc,
        subject,
    )
    .unwrap_err();
    assert_eq!(v.code, RpcCode::FailedPrecondition);
    assert_eq!(v.constraint, "customConstraints/custom.requireArImages");
    assert_eq!(
        v.message,
        "Operation denied by custom org policy: [\"customConstraints/custom.requireArImages\": \"Images must come from Artifact Registry.\", \"customConstraints/custom.internalOnly\": \"Ingress must be internal.\"]."
    );
    assert_eq!(v.subject.as_deref(), Some(subject));

    // Not for jobs, not for a method the constraint does not list.
    assert!(
        check_custom_constraints(
            &[&deny_hub],
            "run.googleapis.com/Job",
            MethodType::Create,
            &svc,
            subject
        )
        .is_ok()
    );
    let mut create_only = deny_hub.clone();
    create_only.method_types = vec![MethodType::Create];
    assert!(
        check_custom_constraints(
            &[&create_only],
            "run.googleapis.com/Service",
            MethodType::Update,
            &svc,
            subject
        )
        .is_ok()
    );
    // A compliant resource passes.
    assert!(
        check_custom_constraints(
            &[&deny_hub],
            "run.googleapis.com/Service",
            MethodType::Update,
            &service("us-docker.pkg.dev/p/r/web", "all"),
            subject
        )
        .is_ok()
    );
}

#[test]
fn policies_enforce_custom_constraints_like_boolean_ones() {
    let c = constraint("resource.metadata.name == 'x'", ActionType::Deny);
    let def = c.definition();
    let enforce = |on: bool| Policy {
        name: "p".into(),
        spec: Some(PolicySpec {
            rules: vec![PolicyRule {
                kind: RuleKind::Enforce(on),
                condition: None,
            }],
            ..PolicySpec::default()
        }),
        dry_run_spec: None,
        etag: String::new(),
    };
    // Not enforced by default.
    assert!(!effective(&def, &[("projects/1", None), ("organizations/123", None)]).is_enforced());
    let org_on = enforce(true);
    let project_off = enforce(false);
    assert!(
        effective(
            &def,
            &[("projects/1", None), ("organizations/123", Some(&org_on))]
        )
        .is_enforced()
    );
    assert!(
        !effective(
            &def,
            &[
                ("projects/1", Some(&project_off)),
                ("organizations/123", Some(&org_on))
            ]
        )
        .is_enforced()
    );
    // Only enforce rules are valid on a custom constraint.
    let values = Policy {
        spec: Some(PolicySpec {
            rules: vec![PolicyRule {
                kind: RuleKind::AllowAll,
                condition: None,
            }],
            ..PolicySpec::default()
        }),
        ..enforce(true)
    };
    assert!(validate_policy(&def, &values).is_err());
    assert!(validate_policy(&def, &enforce(true)).is_ok());
}
