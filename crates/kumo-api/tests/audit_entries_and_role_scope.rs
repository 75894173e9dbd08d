//! Two control-plane gaps, end to end through the route table: the shape of Data Access audit
//! entries (request, the `GetIamPolicy` response, `authorizationInfo[].resourceAttributes` and
//! `permissionType`, `resourceLocation`, `requestMetadata`), and where a custom role may be
//! granted (Google: "Role (…) does not exist in the resource's hierarchy." outside the project
//! or organization that defines it).

#![expect(
    clippy::unwrap_used,
    reason = "test set-up fails loudly on broken fixtures"
)]

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use kumo_control::NewProject;
use serde_json::{Value, json};

mod common;
use common::{ADMIN, ALICE, BOB, newest_entries};

// ---- Data Access audit entries ----

/// The newest Data Access entry of `demo-project` whose method is `method`.
async fn data_access(h: &Harness, method: &str) -> Value {
    let filter = format!(
        "log_id(\"cloudaudit.googleapis.com/data_access\") AND protoPayload.methodName=\"{method}\""
    );
    let entries = newest_entries(h, &filter).await;
    assert!(!entries.is_empty(), "no {method} entry");
    entries[0].clone()
}

/// The entry's `protoPayload` without its one varying field, `requestAttributes.time`, which
/// must be the entry's timestamp.
fn stable_payload(entry: &Value) -> Value {
    let mut payload = entry["protoPayload"].clone();
    assert_eq!(
        payload["requestMetadata"]["requestAttributes"]["time"],
        entry["timestamp"]
    );
    payload["requestMetadata"]["requestAttributes"]
        .as_object_mut()
        .unwrap()
        .remove("time");
    payload
}

#[tokio::test]
async fn a_get_iam_policy_data_access_entry_has_googles_shape() {
    let h = Harness::new();
    let (status, policy) = h
        .call_with_headers(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:getIamPolicy",
            &[
                ("user-agent", "golden-test/1.0"),
                ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
            ],
            Some(json!({"options": {"requestedPolicyVersion": 3}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");

    let entry = data_access(&h, "GetIamPolicy").await;
    assert_eq!(
        entry["logName"],
        "projects/demo-project/logs/cloudaudit.googleapis.com%2Fdata_access"
    );
    assert_eq!(entry["severity"], "INFO");
    let mut response = json!({"@type": "type.googleapis.com/google.iam.v1.Policy"});
    response
        .as_object_mut()
        .unwrap()
        .extend(policy.as_object().unwrap().clone());
    assert_eq!(
        stable_payload(&entry),
        json!({
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {},
            "authenticationInfo": {
                "principalEmail": "alice@example.com",
                "principalSubject": "user:alice@example.com",
            },
            "requestMetadata": {
                "callerIp": "203.0.113.7",
                "callerSuppliedUserAgent": "golden-test/1.0",
                "requestAttributes": {"auth": {}},
            },
            "serviceName": "cloudresourcemanager.googleapis.com",
            "methodName": "GetIamPolicy",
            "authorizationInfo": [{
                "resource": "projects/demo-project",
                "permission": "resourcemanager.projects.getIamPolicy",
                "granted": true,
                "resourceAttributes": {
                    "service": "cloudresourcemanager.googleapis.com",
                    "name": "projects/demo-project",
                    "type": "cloudresourcemanager.googleapis.com/Project",
                },
                "permissionType": "ADMIN_READ",
            }],
            "resourceName": "projects/demo-project",
            "request": {
                "@type": "type.googleapis.com/google.iam.v1.GetIamPolicyRequest",
                "resource": "projects/demo-project",
                "options": {"requestedPolicyVersion": 3},
            },
            "response": response,
        })
    );
}

#[tokio::test]
async fn a_cloud_run_list_entry_names_its_parent_and_region_and_logs_no_response() {
    let h = Harness::new();
    let (status, body) = h
        .call(
            ALICE,
            Method::GET,
            "/v2/projects/demo-project/locations/europe-west1/services?pageSize=5",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let entry = data_access(&h, "google.cloud.run.v2.Services.ListServices").await;
    assert_eq!(entry["resource"]["type"], "cloud_run_revision");
    assert_eq!(
        entry["resource"]["labels"]["location"], "europe-west1",
        "{entry}"
    );
    let payload = stable_payload(&entry);
    assert_eq!(
        payload["request"],
        json!({"@type": "type.googleapis.com/google.cloud.run.v2.ListServicesRequest",
            "parent": "projects/demo-project/locations/europe-west1", "pageSize": "5"})
    );
    assert!(payload.get("response").is_none(), "{payload}");
    assert_eq!(
        payload["resourceLocation"],
        json!({"currentLocations": ["europe-west1"]})
    );
    let authorization = payload["authorizationInfo"].as_array().unwrap();
    assert!(
        authorization
            .iter()
            .all(|a| a["permissionType"] == "ADMIN_READ"
                && a["resourceAttributes"]["name"] == a["resource"]
                && a["resourceAttributes"]["type"].is_string()),
        "{authorization:?}"
    );
    assert!(
        authorization
            .iter()
            .any(|a| a["permission"] == "run.services.list" && a["granted"] == true),
        "{authorization:?}"
    );
}

#[tokio::test]
async fn a_refused_read_is_logged_with_the_refusal() {
    let h = Harness::new();
    let (status, _) = h
        .call(
            BOB,
            Method::POST,
            "/v1/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let entry = data_access(&h, "GetIamPolicy").await;
    let payload = &entry["protoPayload"];
    assert_eq!(entry["severity"], "ERROR");
    assert_eq!(payload["status"]["code"], 7);
    assert_eq!(
        payload["authenticationInfo"]["principalEmail"],
        "bob@example.com"
    );
    assert_eq!(payload["authorizationInfo"][0]["granted"], false);
    assert_eq!(
        payload["authorizationInfo"][0]["resourceAttributes"]["type"],
        "cloudresourcemanager.googleapis.com/Project"
    );
    assert_eq!(
        payload["request"]["@type"],
        "type.googleapis.com/google.iam.v1.GetIamPolicyRequest"
    );
    // A refused call has no response to log.
    assert!(payload.get("response").is_none(), "{payload}");
}

// ---- custom roles and the resource hierarchy ----

const OUTSIDE: &str =
    "Role (projects/demo-project/roles/deployer) does not exist in the resource's hierarchy.";

/// Adds a binding of `role` to `member` to the policy at `path` (`…:getIamPolicy` /
/// `…:setIamPolicy` under it), as `caller`.
async fn bind(
    h: &Harness,
    caller: &str,
    path: &str,
    role: &str,
    member: &str,
) -> (StatusCode, Value) {
    let (status, mut policy) = h
        .call(
            caller,
            Method::POST,
            &format!("{path}:getIamPolicy"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let mut bindings = policy["bindings"].as_array().cloned().unwrap_or_default();
    bindings.push(json!({"role": role, "members": [member]}));
    policy["bindings"] = Value::Array(bindings);
    h.call(
        caller,
        Method::POST,
        &format!("{path}:setIamPolicy"),
        Some(json!({"policy": policy})),
    )
    .await
}

fn create_other_project(h: &Harness) {
    h.control
        .provision_project(NewProject {
            project_id: "other-project".to_owned(),
            display_name: "Other".to_owned(),
            parent: Some(format!("organizations/{}", h.organization.id)),
            labels: Default::default(),
            owner: Some(ALICE.to_owned()),
        })
        .unwrap();
}

#[tokio::test]
async fn a_project_custom_role_is_refused_outside_its_project() {
    let h = Harness::new();
    create_other_project(&h);
    let (status, role) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project/roles",
            Some(json!({"roleId": "deployer", "role": {"title": "Deployer",
                "includedPermissions": ["resourcemanager.projects.get"], "stage": "GA"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    assert_eq!(role["name"], "projects/demo-project/roles/deployer");

    // Another project's policy, a resource inside it, and the organization: all refused alike.
    let org = format!("/v1/organizations/{}", h.organization.id);
    let (status, body) = bind(&h, ADMIN, &org, "projects/demo-project/roles/deployer", BOB).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(body["error"]["message"], OUTSIDE);
    for path in [
        "/v1/projects/other-project".to_owned(),
        format!(
            "/v1/projects/other-project/serviceAccounts/{}",
            other_compute_account(&h)
        ),
    ] {
        let (status, body) = bind(
            &h,
            ALICE,
            &path,
            "projects/demo-project/roles/deployer",
            BOB,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT", "{path}");
        assert_eq!(body["error"]["message"], OUTSIDE, "{path}");
    }
    // Nothing was written: bob still cannot read the other project.
    let (status, _) = h
        .call(BOB, Method::GET, "/v1/projects/other-project", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // In its own project the role is granted, and grants.
    let (status, body) = bind(
        &h,
        ALICE,
        "/v1/projects/demo-project",
        "projects/demo-project/roles/deployer",
        BOB,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = h
        .call(BOB, Method::GET, "/v1/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

fn other_compute_account(h: &Harness) -> String {
    let number = h
        .control
        .resolve_project("other-project")
        .unwrap()
        .unwrap()
        .number;
    format!("{number}-compute@developer.gserviceaccount.com")
}

#[tokio::test]
async fn an_organization_custom_role_is_granted_anywhere_inside_its_organization() {
    let h = Harness::new();
    create_other_project(&h);
    let org = format!("organizations/{}", h.organization.id);
    let (status, role) = h
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/{org}/roles"),
            Some(json!({"roleId": "auditor", "role": {"title": "Auditor",
                "includedPermissions": ["resourcemanager.projects.get"], "stage": "GA"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    let name = format!("{org}/roles/auditor");
    assert_eq!(role["name"], json!(name));

    let (status, body) = bind(&h, ADMIN, &format!("/v1/{org}"), &name, BOB).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = bind(
        &h,
        ALICE,
        "/v1/projects/other-project",
        &name,
        "user:carol@example.com",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Granted at the organization, it reaches every project below.
    for project in ["demo-project", "other-project"] {
        let (status, body) = h
            .call(BOB, Method::GET, &format!("/v1/projects/{project}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{project}: {body}");
    }

    // Another organization's role does not exist in this hierarchy.
    let foreign = "organizations/999999999999/roles/auditor";
    let (status, body) = bind(&h, ALICE, "/v1/projects/demo-project", foreign, BOB).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["message"],
        format!("Role ({foreign}) does not exist in the resource's hierarchy.")
    );
}

// ---- deleted directory principals ----

async fn project_policy(h: &Harness) -> Value {
    let (status, policy) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    policy
}

fn members_of(policy: &Value, role: &str) -> Vec<String> {
    policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|binding| binding["role"] == role)
        .flat_map(|binding| binding["members"].as_array().cloned().unwrap_or_default())
        .map(|member| member.as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn create_dana(h: &Harness) -> String {
    let (status, user) = h
        .call(
            ADMIN,
            Method::POST,
            "/admin/directory/v1/users",
            Some(json!({"primaryEmail": "dana@example.com",
                "name": {"givenName": "Dana", "familyName": "D"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    user["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn deleting_a_directory_user_or_group_rewrites_its_bindings_to_deleted_members() {
    let h = Harness::new();
    const DANA: &str = "user:dana@example.com";
    let id = create_dana(&h).await;
    h.grant_on_project("roles/viewer", DANA);
    let (status, _) = h
        .call(DANA, Method::GET, "/v1/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = h
        .call(
            ADMIN,
            Method::DELETE,
            "/admin/directory/v1/users/dana@example.com",
            None,
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let deleted = format!("deleted:user:dana@example.com?uid={id}");
    assert_eq!(
        members_of(&project_policy(&h).await, "roles/viewer"),
        vec![deleted.clone()]
    );

    // A new user with the same email is another principal: the old binding does not grant.
    let new_id = create_dana(&h).await;
    assert_ne!(new_id, id);
    let (status, body) = h
        .call(DANA, Method::GET, "/v1/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Groups: `group:E` becomes `deleted:group:E?uid=ID`.
    let customer = h.organization.customer_id.clone();
    let (status, created) = h
        .call(
            ADMIN,
            Method::POST,
            "/v1/groups?initialGroupConfig=EMPTY",
            Some(json!({"groupKey": {"id": "devs@example.com"},
                "parent": format!("customers/{customer}"), "displayName": "Devs",
                "labels": {"cloudidentity.googleapis.com/groups.discussion_forum": ""}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let group = created["response"]["name"].as_str().unwrap().to_owned();
    let group_id = group.strip_prefix("groups/").unwrap().to_owned();
    h.grant_on_project("roles/browser", "group:devs@example.com");
    let (status, body) = h
        .call(ADMIN, Method::DELETE, &format!("/v1/{group}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        members_of(&project_policy(&h).await, "roles/browser"),
        vec![format!("deleted:group:devs@example.com?uid={group_id}")]
    );
    // The user binding rewritten before is untouched by the group's deletion.
    assert_eq!(
        members_of(&project_policy(&h).await, "roles/viewer"),
        vec![deleted]
    );
}
