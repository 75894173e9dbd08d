//! Catalog contents and policy/custom-role validation errors (Google's messages, never a panic).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on bad fixtures"
)]

use kumo_iam::*;
use kumo_names::{Etag, Permission, Principal, RoleName};

fn perm(s: &str) -> Permission {
    s.parse().unwrap()
}

fn role(s: &str) -> RoleName {
    s.parse().unwrap()
}

#[test]
fn predefined_catalog_contents() {
    let p = Predefined::get().unwrap();
    assert_eq!(p.roles().len(), 2_461);
    assert_eq!(p.permission_count(), 13_790);
    let invoker = p.role(&role("roles/run.invoker")).unwrap();
    let names: Vec<&str> = invoker
        .permission_ids()
        .iter()
        .map(|&i| p.permission(i).unwrap().as_ref())
        .collect();
    assert_eq!(
        names,
        ["run.instances.invoke", "run.jobs.run", "run.routes.invoke"]
    );
    assert_eq!(
        p.role(&role("roles/owner")).unwrap().permission_ids().len(),
        13_568
    );
    assert_eq!(invoker.title, "Cloud Run Invoker");
}

#[test]
fn roles_granting_smallest_first() {
    let c = RoleCatalog::new().unwrap();
    let roles = c.roles_granting(&perm("run.routes.invoke"));
    let names: Vec<&str> = roles.iter().take(2).map(|r| r.as_ref()).collect();
    assert_eq!(names, ["roles/run.servicesInvoker", "roles/run.invoker"]);
    assert!(roles.iter().any(|r| r.as_ref() == "roles/owner"));
    assert!(c.roles_granting(&perm("no.such.permission")).is_empty());
}

fn binding(role_name: &str, members: &[&str]) -> Binding {
    Binding {
        role: role(role_name),
        members: members.iter().map(|m| m.parse().unwrap()).collect(),
        condition: None,
    }
}

#[test]
fn policy_validation_messages() {
    let c = RoleCatalog::new().unwrap();
    let mut p = Policy {
        version: 1,
        bindings: vec![binding("roles/no.suchRole", &["allUsers"])],
        ..Policy::default()
    };
    assert_eq!(
        p.validate(&c).unwrap_err().to_string(),
        "Role roles/no.suchRole is not supported for this resource."
    );
    p.bindings = vec![binding("roles/run.invoker", &[])];
    assert!(matches!(p.validate(&c), Err(IamError::EmptyMembers(_))));
    p.bindings = vec![Binding {
        condition: Some(Expr {
            expression: "true".into(),
            ..Expr::default()
        }),
        ..binding("roles/run.invoker", &["allUsers"])
    }];
    assert!(matches!(
        p.validate(&c),
        Err(IamError::ConditionNeedsVersion3(1))
    ));
    p.version = 3;
    assert_eq!(p.validate(&c), Ok(()));
    p.version = 2;
    assert!(matches!(p.validate(&c), Err(IamError::InvalidVersion(2))));
    p.version = 3;
    p.bindings[0].condition = Some(Expr {
        expression: "request.time <".into(),
        ..Expr::default()
    });
    assert!(matches!(p.validate(&c), Err(IamError::InvalidCondition(_))));

    let members: Vec<String> = (0..1_501)
        .map(|i| format!("user:u{i}@example.com"))
        .collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let big = Policy {
        version: 1,
        bindings: vec![binding("roles/viewer", &refs)],
        ..Policy::default()
    };
    assert_eq!(
        big.validate(&c).unwrap_err().to_string(),
        "The number of members in the policy (1,501) is larger than the maximum allowed size 1,500."
    );
}

#[test]
fn malformed_member_is_a_parse_error() {
    let json =
        r#"{"version":1,"bindings":[{"role":"roles/run.invoker","members":["User:a@b.com"]}]}"#;
    let err = serde_json::from_str::<Policy>(json)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("The member User:a@b.com is of an unknown type."),
        "{err}"
    );
    assert!("roles/run.invoker".parse::<Principal>().is_err());
}

#[test]
fn custom_role_validation() {
    let mut c = RoleCatalog::new().unwrap();
    let mut r = CustomRole {
        name: role("projects/my-project/roles/myRole"),
        title: "Mine".into(),
        description: String::new(),
        stage: RoleStage::Ga,
        included_permissions: vec![perm("run.routes.invoke"), perm("made.up.permission")],
        deleted: false,
        etag: Etag::default(),
    };
    assert_eq!(
        c.upsert_custom(r.clone()).unwrap_err().to_string(),
        "Permission made.up.permission is not valid."
    );
    r.included_permissions.pop();
    c.upsert_custom(r.clone()).unwrap();
    assert_eq!(c.role(&r.name).unwrap().permission_ids().len(), 1);
    r.name = role("projects/my-project/roles/ab");
    assert!(matches!(
        c.upsert_custom(r),
        Err(IamError::InvalidRoleId(_))
    ));
}

#[test]
fn custom_roles_are_granted_only_under_their_owner() {
    let binding = |r: &str| Binding {
        role: role(r),
        members: vec!["user:alice@example.com".parse::<Principal>().unwrap()],
        condition: None,
    };
    let policy = |r: &str| Policy {
        version: 1,
        bindings: vec![binding("roles/run.invoker"), binding(r)],
        ..Policy::default()
    };
    let service = [
        "projects/my-project/locations/us-central1/services/s",
        "projects/my-project",
        "folders/7",
        "organizations/42",
    ];
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("projects/my-project/roles/deployer", &service, None),
        ("organizations/42/roles/auditor", &service, None),
        (
            "projects/my-project/roles/deployer",
            &["projects/my-project"],
            None,
        ),
        (
            "projects/other-project/roles/deployer",
            &service,
            Some(
                "Role (projects/other-project/roles/deployer) does not exist in the resource's hierarchy.",
            ),
        ),
        (
            "organizations/43/roles/auditor",
            &service,
            Some(
                "Role (organizations/43/roles/auditor) does not exist in the resource's hierarchy.",
            ),
        ),
        // An organization's role is not usable on a project outside any organization.
        (
            "organizations/42/roles/auditor",
            &["projects/my-project"],
            Some(
                "Role (organizations/42/roles/auditor) does not exist in the resource's hierarchy.",
            ),
        ),
        // The owner is matched by whole segments, not by prefix.
        (
            "projects/my-project/roles/deployer",
            &["projects/my-project-2"],
            Some(
                "Role (projects/my-project/roles/deployer) does not exist in the resource's hierarchy.",
            ),
        ),
    ];
    for (r, ancestry, want) in cases {
        let got = policy(r).validate_custom_role_scope(ancestry);
        assert_eq!(
            got.err().map(|e| e.to_string()).as_deref(),
            *want,
            "{r} on {ancestry:?}"
        );
    }
}

#[test]
fn policies_are_stored_in_googles_canonical_form() {
    let conditional = |members: &[&str], expression: &str| Binding {
        condition: Some(Expr {
            expression: expression.into(),
            title: "t".into(),
            description: String::new(),
        }),
        ..binding("roles/run.invoker", members)
    };
    let mut p = Policy {
        version: 3,
        bindings: vec![
            conditional(
                &["user:zed@example.com"],
                "request.time < timestamp('2030-01-01T00:00:00Z')",
            ),
            binding(
                "roles/run.invoker",
                &["user:bob@example.com", "group:devs@example.com"],
            ),
            binding("roles/run.admin", &["user:alice@example.com"]),
            binding("roles/run.invoker", &["user:bob@example.com", "allUsers"]),
            conditional(
                &["user:amy@example.com"],
                "request.time < timestamp('2030-01-01T00:00:00Z')",
            ),
            conditional(&["user:bob@example.com"], "true"),
        ],
        audit_configs: vec![],
        etag: Etag::default(),
    };
    p.canonicalize();
    let shape: Vec<(String, Vec<String>, Option<String>)> = p
        .bindings
        .iter()
        .map(|b| {
            (
                b.role.to_string(),
                b.members.iter().map(ToString::to_string).collect(),
                b.condition.as_ref().map(|c| c.expression.clone()),
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|m| m.to_string()).collect::<Vec<_>>();
    let before = Some("request.time < timestamp('2030-01-01T00:00:00Z')".to_owned());
    assert_eq!(
        shape,
        vec![
            (
                "roles/run.admin".into(),
                s(&["user:alice@example.com"]),
                None
            ),
            (
                "roles/run.invoker".into(),
                s(&["allUsers", "group:devs@example.com", "user:bob@example.com"]),
                None
            ),
            (
                "roles/run.invoker".into(),
                s(&["user:amy@example.com", "user:zed@example.com"]),
                before
            ),
            (
                "roles/run.invoker".into(),
                s(&["user:bob@example.com"]),
                Some("true".into())
            ),
        ]
    );
    // Already canonical: unchanged.
    let again = p.clone();
    p.canonicalize();
    assert_eq!(p, again);
}
