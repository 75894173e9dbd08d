//! Org Policy v2 custom constraints end to end: the `organizations/*/customConstraints` methods,
//! policies enforcing them, and Cloud Run deploys (v2 and v1) refused or allowed by them.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

mod common;
use common::{ADMIN, ALICE, BOB, HELLO, V2, create_service, http_server, service};

const HUB: &str = "docker.io/library/nginx";
const V1: &str = "/apis/serving.knative.dev/v1/namespaces/demo-project/services";
const DESCRIPTION: &str = "Only images from Artifact Registry may be deployed.";

fn harness() -> Harness {
    let h = Harness::new();
    // The sample image runs as a tiny local HTTP server.
    h.load_images(&json!({"images": {HELLO: http_server()}}));
    h.grant_on_organization("roles/orgpolicy.policyAdmin", ADMIN);
    h
}

fn constraint(org: &str) -> Value {
    json!({
        "name": format!("organizations/{org}/customConstraints/custom.denyDockerHub"),
        "resourceTypes": ["run.googleapis.com/Service", "run.googleapis.com/Job"],
        "methodTypes": ["CREATE", "UPDATE"],
        // A job's containers sit one template deeper than a service's in the Knative view.
        "condition": "resource.spec.template.spec.containers.exists(c, c.image.startsWith('docker.io/')) || resource.spec.template.spec.template.spec.containers.exists(c, c.image.startsWith('docker.io/'))",
        "actionType": "DENY",
        "displayName": "Deny Docker Hub images",
        "description": DESCRIPTION,
    })
}

/// Sets `parent`'s policy for `constraint` to one rule, `enforce`, as the administrator.
async fn set_policy(
    h: &Harness,
    parent: &str,
    constraint: &str,
    enforce: bool,
) -> (StatusCode, Value) {
    h.call(
        ADMIN,
        Method::POST,
        &format!("/v2/{parent}/policies"),
        Some(json!({
            "name": format!("{parent}/policies/{constraint}"),
            "spec": {"rules": [{"enforce": enforce}]}
        })),
    )
    .await
}

fn denied() -> String {
    format!(
        "Operation denied by custom org policy: [\"customConstraints/custom.denyDockerHub\": \"{DESCRIPTION}\"]."
    )
}

#[tokio::test]
async fn custom_constraints_are_managed_enforced_by_policy_and_refuse_deploys() {
    let h = harness();
    let org = h.organization.id.clone();
    let base = format!("/v2/organizations/{org}/customConstraints");
    let name = format!("organizations/{org}/customConstraints/custom.denyDockerHub");

    // Without orgpolicy.customConstraints.create on the organization: refused.
    let (status, refused) = h
        .call(BOB, Method::POST, &base, Some(constraint(&org)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        format!(
            "Permission 'orgpolicy.customConstraints.create' denied on resource 'organizations/{org}' (or it may not exist)."
        )
    );

    // Invalid fields are all reported.
    let mut bad = constraint(&org);
    bad["displayName"] = json!("");
    bad["methodTypes"] = json!(["UPDATE"]);
    let (status, invalid) = h.call(ADMIN, Method::POST, &base, Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{invalid}");
    assert_eq!(invalid["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(invalid["error"]["message"], "Request has invalid values.");
    let fields: Vec<&str> = invalid["error"]["details"][0]["fieldViolations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "customConstraint.displayName",
            "customConstraint.methodTypes"
        ]
    );

    // Create, get, list.
    let (status, created) = h
        .call(ADMIN, Method::POST, &base, Some(constraint(&org)))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["name"], name.as_str());
    assert_eq!(created["actionType"], "DENY");
    assert_eq!(created["methodTypes"], json!(["CREATE", "UPDATE"]));
    assert!(created["updateTime"].is_string());
    let (status, again) = h
        .call(ADMIN, Method::POST, &base, Some(constraint(&org)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (_, got) = h
        .call(ADMIN, Method::GET, &format!("/v2/{name}"), None)
        .await;
    assert_eq!(got, created);
    let (_, listed) = h.call(ADMIN, Method::GET, &base, None).await;
    assert_eq!(listed["customConstraints"], json!([created]));

    // The project sees it among its constraints, not enforced until a policy says so.
    let (_, constraints) = h
        .call(
            ALICE,
            Method::GET,
            "/v2/projects/demo-project/constraints",
            None,
        )
        .await;
    let listed = constraints["constraints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .unwrap()
                .ends_with("/constraints/custom.denyDockerHub")
        })
        .cloned()
        .unwrap();
    assert_eq!(
        listed["booleanConstraint"]["customConstraintDefinition"]["actionType"],
        "DENY"
    );
    let effective = "/v2/projects/demo-project/policies/custom.denyDockerHub:getEffectivePolicy";
    let (_, eff) = h.call(ALICE, Method::GET, effective, None).await;
    assert_eq!(eff["spec"]["rules"], json!([{"enforce": false}]));
    let (status, op) = create_service(&h, ALICE, "before", service(HUB)).await;
    assert_eq!(status, StatusCode::OK, "created before enforcement: {op}");

    // Enforce it on the organization; the project inherits it.
    let (status, policy) = set_policy(
        &h,
        &format!("organizations/{org}"),
        "custom.denyDockerHub",
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let (_, eff) = h.call(ALICE, Method::GET, effective, None).await;
    assert_eq!(eff["spec"]["rules"], json!([{"enforce": true}]));

    // v2 create with a Docker Hub image: refused with the constraint id and description.
    let (status, refused) = create_service(&h, ALICE, "web", service(HUB)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["status"], "FAILED_PRECONDITION");
    assert_eq!(refused["error"]["message"], denied());
    assert_eq!(
        refused["error"]["details"][0]["violations"][0]["type"],
        "customConstraints/custom.denyDockerHub"
    );
    // Updating the existing service with the same image is an UPDATE: refused too.
    let (_, current) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/before"), None)
        .await;
    let mut touched = current.clone();
    touched["labels"] = json!({"team": "a"});
    let (status, refused) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/before"),
            Some(touched),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["message"], denied());
    // v1 YAML is judged on the same Knative view.
    let yaml = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - image: {HUB}\n"
    );
    let (status, refused) = h
        .call_raw(
            ALICE,
            Method::POST,
            V1,
            Box::leak(yaml.into_bytes().into_boxed_slice()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["message"], denied());
    // Jobs are listed in resourceTypes: refused as well.
    let (status, refused) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{V2}/jobs?jobId=batch"),
            Some(json!({"template": {"template": {"containers": [{"image": HUB}]}}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["message"], denied());

    // A compliant image deploys.
    let (status, op) = create_service(&h, ALICE, "web", service(HELLO)).await;
    assert_eq!(status, StatusCode::OK, "{op}");

    // A project-level exception lifts it for the project.
    let (status, exception) =
        set_policy(&h, "projects/demo-project", "custom.denyDockerHub", false).await;
    assert_eq!(status, StatusCode::OK, "{exception}");
    let (status, op) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{V2}/jobs?jobId=batch"),
            Some(json!({"template": {"template": {"containers": [{"image": HUB}]}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{op}");
}

#[tokio::test]
async fn update_keeps_resource_types_and_delete_stops_enforcement() {
    let h = harness();
    let org = h.organization.id.clone();
    let base = format!("/v2/organizations/{org}/customConstraints");
    let name = format!("{base}/custom.denyDockerHub");
    let (status, _) = h
        .call(ADMIN, Method::POST, &base, Some(constraint(&org)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = set_policy(&h, "projects/demo-project", "custom.denyDockerHub", true).await;
    assert_eq!(status, StatusCode::OK);

    // Update: the description changes; resourceTypes cannot.
    let mut next = constraint(&org);
    next["description"] = json!("No Docker Hub.");
    let (status, updated) = h.call(ADMIN, Method::PATCH, &name, Some(next)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["description"], "No Docker Hub.");
    let mut retyped = constraint(&org);
    retyped["resourceTypes"] = json!(["run.googleapis.com/Service"]);
    let (status, refused) = h.call(ADMIN, Method::PATCH, &name, Some(retyped)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, refused) = create_service(&h, ALICE, "web", service(HUB)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "Operation denied by custom org policy: [\"customConstraints/custom.denyDockerHub\": \"No Docker Hub.\"]."
    );

    // Delete: gone, and the policy naming it no longer enforces anything.
    let (status, _) = h.call(ADMIN, Method::DELETE, &name, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.call(ADMIN, Method::GET, &name, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let policy = "/v2/projects/demo-project/policies/custom.denyDockerHub";
    let (status, kept) = h.call(ADMIN, Method::GET, policy, None).await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    // A new policy cannot name a constraint that does not exist.
    let (status, _) = set_policy(
        &h,
        &format!("organizations/{org}"),
        "custom.denyDockerHub",
        true,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, op) = create_service(&h, ALICE, "web", service(HUB)).await;
    assert_eq!(status, StatusCode::OK, "{op}");
    let (status, _) = h.call(ADMIN, Method::DELETE, policy, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn conditions_see_the_knative_annotations_cloud_run_fills_in() {
    let h = harness();
    let org = h.organization.id.clone();
    let internal = json!({
        "name": format!("organizations/{org}/customConstraints/custom.internalIngressOnly"),
        "resourceTypes": ["run.googleapis.com/Service"],
        "methodTypes": ["CREATE"],
        "condition": "resource.metadata.annotations['run.googleapis.com/ingress'] in ['internal', 'internal-and-cloud-load-balancing']",
        "actionType": "ALLOW",
        "displayName": "Internal ingress only",
        "description": "Services must not be reachable from the internet.",
    });
    let (status, created) = h
        .call(
            ADMIN,
            Method::POST,
            &format!("/v2/organizations/{org}/customConstraints"),
            Some(internal),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, _) = set_policy(
        &h,
        "projects/demo-project",
        "custom.internalIngressOnly",
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // No ingress given: Cloud Run's default (`all`) is what the condition sees.
    let (status, refused) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{V2}/services?serviceId=public&validateOnly=true"),
            Some(service(HELLO)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "Operation denied by custom org policy: [\"customConstraints/custom.internalIngressOnly\": \"Services must not be reachable from the internet.\"]."
    );
    let mut internal_service = service(HELLO);
    internal_service["ingress"] = json!("INGRESS_TRAFFIC_INTERNAL_ONLY");
    let (status, ok) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{V2}/services?serviceId=private&validateOnly=true"),
            Some(internal_service),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ok}");
}
