//! The framework every API stands on: bootstrap, IAM decisions over the real ancestry, policy
//! get/set with etags, org-policy domain restriction, audit, and the dispatcher's refusals.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use kumo_control::{Call, Caller, Error, ResourceRef};
use serde_json::json;

fn user(email: &str) -> Caller {
    Caller::User {
        email: email.to_owned(),
    }
}

fn service(h: &Harness) -> ResourceRef {
    ResourceRef::RunService {
        project: h.project.id.clone(),
        location: "us-central1".into(),
        service: "hello".into(),
    }
}

#[test]
fn decisions_follow_the_ancestry() {
    let h = Harness::new();
    let resource = service(&h);
    let cases = [
        // (caller, permission, expected) — alice owns the project, admin owns the organization.
        ("alice@example.com", "run.services.get", true),
        ("alice@example.com", "run.routes.invoke", true),
        ("admin@example.com", "run.routes.invoke", true),
        ("bob@example.com", "run.services.get", false),
        ("bob@example.com", "run.routes.invoke", false),
    ];
    for (email, permission, expected) in cases {
        assert_eq!(
            h.control
                .has_permission(&user(email), permission, &resource)
                .unwrap(),
            expected,
            "{email} {permission}"
        );
    }
    assert!(
        !h.control
            .has_permission(&Caller::Anonymous, "run.routes.invoke", &resource)
            .unwrap()
    );
}

#[test]
fn grants_take_effect_on_the_next_decision_and_groups_count() {
    let h = Harness::new();
    let resource = service(&h);
    assert!(
        !h.control
            .has_permission(&user("carol@example.com"), "run.routes.invoke", &resource)
            .unwrap()
    );
    // carol is in devs@, devs@ is in eng@; eng@ is granted the invoker role on the project.
    h.control
        .commit(&[
            kumo_store::Write::Create {
                collection: "groups".into(),
                name: "groups/devs@example.com".into(),
                parent: None,
                data: json!({"members": [{"email": "carol@example.com"}]}),
            },
            kumo_store::Write::Create {
                collection: "groups".into(),
                name: "groups/eng@example.com".into(),
                parent: None,
                data: json!({"members": [{"email": "devs@example.com"}]}),
            },
        ])
        .unwrap();
    h.control.invalidate_iam();
    h.grant_on_project("roles/run.invoker", "group:eng@example.com");
    assert!(
        h.control
            .has_permission(&user("carol@example.com"), "run.routes.invoke", &resource)
            .unwrap()
    );
    assert!(
        !h.control
            .has_permission(&user("carol@example.com"), "run.services.delete", &resource)
            .unwrap()
    );
}

#[test]
fn set_iam_policy_checks_etags_and_validates() {
    let h = Harness::new();
    let resource = service(&h);
    let call = Call::new(user("alice@example.com"));
    let empty = h
        .control
        .get_iam_policy(&call, &resource, "run.services.getIamPolicy", 1)
        .unwrap();
    assert_eq!(empty["etag"], "ACAB");
    let policy = json!({"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}], "etag": "ACAB"});
    let set = h
        .control
        .set_iam_policy(&call, &resource, "run.services.setIamPolicy", &policy, None)
        .unwrap();
    assert_ne!(set["etag"], "ACAB");
    assert!(
        h.control
            .has_permission(&Caller::Anonymous, "run.routes.invoke", &resource)
            .unwrap()
    );
    // The old etag is now stale.
    let stale = h
        .control
        .set_iam_policy(&call, &resource, "run.services.setIamPolicy", &policy, None)
        .unwrap_err();
    assert_eq!(
        stale,
        Error::aborted(kumo_control::iam_policy::CONCURRENT_CHANGE)
    );
    // Bad members and roles are INVALID_ARGUMENT, and nothing changes.
    let bad = json!({"bindings": [{"role": "roles/run.invoker", "members": ["bob@example.com"]}]});
    assert!(matches!(
        h.control
            .set_iam_policy(&call, &resource, "run.services.setIamPolicy", &bad, None),
        Err(Error::InvalidArgument { .. })
    ));
    let unknown_role =
        json!({"bindings": [{"role": "roles/run.nonsense", "members": ["user:bob@example.com"]}]});
    assert!(matches!(
        h.control.set_iam_policy(
            &call,
            &resource,
            "run.services.setIamPolicy",
            &unknown_role,
            None
        ),
        Err(Error::InvalidArgument { .. })
    ));
    let after = h
        .control
        .get_iam_policy(&call, &resource, "run.services.getIamPolicy", 1)
        .unwrap();
    assert_eq!(after["etag"], set["etag"]);
    // bob may not read it.
    let refused = h.control.get_iam_policy(
        &Call::new(user("bob@example.com")),
        &resource,
        "run.services.getIamPolicy",
        1,
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "Permission 'run.services.getIamPolicy' denied on resource 'projects/demo-project/locations/us-central1/services/hello' (or it may not exist)."
    );
}

#[test]
fn domain_restricted_sharing_refuses_outsiders_and_all_users() {
    let h = Harness::new();
    let resource = service(&h);
    let org = format!("organizations/{}", h.organization.id);
    let policy = kumo_orgpolicy::Policy {
        name: format!("{org}/policies/iam.allowedPolicyMemberDomains"),
        spec: Some(kumo_orgpolicy::PolicySpec {
            rules: vec![kumo_orgpolicy::PolicyRule {
                kind: kumo_orgpolicy::RuleKind::Values {
                    allowed_values: vec![h.organization.customer_id.clone()],
                    denied_values: vec![],
                },
                condition: None,
            }],
            ..Default::default()
        }),
        dry_run_spec: None,
        etag: String::new(),
    };
    h.control
        .commit(&[kumo_store::Write::Create {
            collection: "org_policies".into(),
            name: format!("{org}/policies/iam.allowedPolicyMemberDomains"),
            parent: Some(org.clone()),
            data: serde_json::to_value(&policy).unwrap(),
        }])
        .unwrap();
    let call = Call::new(user("alice@example.com"));
    let inside =
        json!({"bindings": [{"role": "roles/run.invoker", "members": ["user:bob@example.com"]}]});
    h.control
        .set_iam_policy(&call, &resource, "run.services.setIamPolicy", &inside, None)
        .unwrap();
    for outsider in [
        "allUsers",
        "user:mallory@other.test",
        "allAuthenticatedUsers",
    ] {
        let policy = json!({"bindings": [{"role": "roles/run.invoker", "members": [outsider]}]});
        let error = h
            .control
            .set_iam_policy(&call, &resource, "run.services.setIamPolicy", &policy, None)
            .unwrap_err();
        assert!(
            matches!(error, Error::FailedPrecondition { .. }),
            "{outsider}: {error:?}"
        );
        assert!(error.to_string().starts_with(
            "One or more users named in the policy do not belong to a permitted customer"
        ));
    }
}

#[test]
fn project_creation_makes_default_identities() {
    let h = Harness::new();
    let number = &h.project.number;
    assert_eq!(
        h.control.resolve_project(number).unwrap().unwrap().id,
        "demo-project"
    );
    let compute = format!("serviceAccount:{number}-compute@developer.gserviceaccount.com");
    let project = ResourceRef::Project(h.project.id.clone());
    let policy = h.control.stored_policy(&project).unwrap().policy;
    let editors = policy["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["role"] == "roles/editor")
        .unwrap();
    assert!(
        editors["members"]
            .as_array()
            .unwrap()
            .contains(&json!(compute))
    );
    let robot = Caller::ServiceAccount {
        email: format!("service-{number}@serverless-robot-prod.iam.gserviceaccount.com"),
    };
    assert!(
        h.control
            .has_permission(&robot, "iam.serviceAccounts.getAccessToken", &project)
            .unwrap()
    );
}

#[tokio::test]
async fn dispatcher_refuses_anonymous_and_unknown_paths() {
    let h = Harness::new();
    let (status, body) = h.call("", Method::GET, "/v2/unknown/path", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    let (status, _) = h.call("", Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn domain_restriction_admits_the_projects_own_service_agents() {
    let h = Harness::new();
    let org = format!("organizations/{}", h.organization.id);
    let policy = kumo_orgpolicy::Policy {
        name: format!("{org}/policies/iam.allowedPolicyMemberDomains"),
        spec: Some(kumo_orgpolicy::PolicySpec {
            rules: vec![kumo_orgpolicy::PolicyRule {
                kind: kumo_orgpolicy::RuleKind::Values {
                    allowed_values: vec![h.organization.customer_id.clone()],
                    denied_values: vec![],
                },
                condition: None,
            }],
            ..Default::default()
        }),
        dry_run_spec: None,
        etag: String::new(),
    };
    h.control
        .commit(&[kumo_store::Write::Create {
            collection: "org_policies".into(),
            name: format!("{org}/policies/iam.allowedPolicyMemberDomains"),
            parent: Some(org.clone()),
            data: serde_json::to_value(&policy).unwrap(),
        }])
        .unwrap();
    // The project's policy already names the compute account and the Cloud Run service agent.
    let project = ResourceRef::Project(h.project.id.clone());
    let call = Call::new(user("alice@example.com"));
    let mut current = h
        .control
        .get_iam_policy(&call, &project, "resourcemanager.projects.getIamPolicy", 3)
        .unwrap();
    current["bindings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "roles/viewer", "members": ["user:bob@example.com"]}));
    h.control
        .set_iam_policy(
            &call,
            &project,
            "resourcemanager.projects.setIamPolicy",
            &current,
            None,
        )
        .unwrap();
}

#[tokio::test]
async fn troubleshooter_explains_and_suggests_roles() {
    let h = Harness::new();
    let resource =
        "//run.googleapis.com/projects/demo-project/locations/us-central1/services/hello";
    let body = json!({"accessTuple": {"principal": "user:bob@example.com", "fullResourceName": resource, "permission": "run.routes.invoke"}});
    let (status, answer) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            "/v3/iam:troubleshoot",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["overallAccessState"], "CANNOT_ACCESS");
    assert_eq!(answer["suggestedRoles"][0], "roles/run.servicesInvoker");
    let project = &answer["allowPolicyExplanation"]["explainedPolicies"][1];
    assert_eq!(
        project["fullResourceName"],
        "//cloudresourcemanager.googleapis.com/projects/demo-project"
    );
    // After a grant on the project, the same question is answered yes, by the project's policy.
    h.grant_on_project("roles/run.invoker", "user:bob@example.com");
    let (_, answer) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            "/v3/iam:troubleshoot",
            Some(body.clone()),
        )
        .await;
    assert_eq!(answer["overallAccessState"], "CAN_ACCESS");
    // Troubleshooting needs to read the policy: bob may not.
    let (status, _) = h
        .call(
            "user:carol@example.com",
            Method::POST,
            "/v3/iam:troubleshoot",
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
