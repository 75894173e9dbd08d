//! Cloud Audit Logs read back through the Logging API: the shape of an Admin Activity entry for
//! a granted and a refused `SetIamPolicy` (request, response, authorization, status), and that
//! key material never reaches a log.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

mod common;
use common::{ALICE, BOB, newest_entries};

/// The Admin Activity entries of `demo-project` that `filter` selects.
async fn activity(h: &Harness, filter: &str) -> Vec<Value> {
    let filter = format!("log_id(\"cloudaudit.googleapis.com/activity\") AND ({filter})");
    newest_entries(h, &filter).await
}

async fn add_invoker_binding(h: &Harness, member: &str) -> (StatusCode, Value, Value) {
    let (status, policy) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let mut policy = policy;
    let mut bindings = policy["bindings"].as_array().cloned().unwrap_or_default();
    bindings.push(json!({"role": "roles/run.invoker", "members": ["user:carol@example.com"]}));
    policy["bindings"] = Value::Array(bindings);
    let (status, body) = h
        .call(
            member,
            Method::POST,
            "/v1/projects/demo-project:setIamPolicy",
            Some(json!({"policy": policy})),
        )
        .await;
    (status, body, policy)
}

#[tokio::test]
async fn set_iam_policy_is_logged_with_its_request_and_the_new_policy() {
    let h = Harness::new();
    let (status, new_policy, sent) = add_invoker_binding(&h, ALICE).await;
    assert_eq!(status, StatusCode::OK, "{new_policy}");

    // Resource Manager logs the method unqualified: the CIS benchmark's exact-match filter finds it.
    let entries = activity(
        &h,
        "protoPayload.methodName=\"SetIamPolicy\" protoPayload.authenticationInfo.principalEmail=\"alice@example.com\"",
    )
    .await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let entry = &entries[0];
    assert_eq!(
        entry["logName"],
        "projects/demo-project/logs/cloudaudit.googleapis.com%2Factivity"
    );
    assert_eq!(entry["severity"], "NOTICE");
    let payload = &entry["protoPayload"];
    assert_eq!(
        payload["@type"],
        "type.googleapis.com/google.cloud.audit.AuditLog"
    );
    assert_eq!(
        payload["serviceName"],
        "cloudresourcemanager.googleapis.com"
    );
    assert_eq!(payload["resourceName"], "projects/demo-project");
    assert_eq!(payload["status"], json!({}));
    assert_eq!(
        payload["authenticationInfo"]["principalEmail"],
        "alice@example.com"
    );
    let authorization = payload["authorizationInfo"].as_array().expect("authz");
    assert!(
        authorization.iter().any(
            |a| a["permission"] == "resourcemanager.projects.setIamPolicy"
                && a["granted"] == true
                && a["resource"] == "projects/demo-project"
        ),
        "{authorization:?}"
    );
    // The request as sent, typed as Google's SetIamPolicyRequest, naming its resource.
    let request = &payload["request"];
    assert_eq!(
        request["@type"],
        "type.googleapis.com/google.iam.v1.SetIamPolicyRequest"
    );
    assert_eq!(request["resource"], "projects/demo-project");
    assert_eq!(request["policy"], sent);
    // The response is the policy now in force, with its new etag.
    let response = &payload["response"];
    assert_eq!(
        response["@type"],
        "type.googleapis.com/google.iam.v1.Policy"
    );
    assert_eq!(response["bindings"], new_policy["bindings"]);
    assert_eq!(response["etag"], new_policy["etag"]);
    assert_ne!(response["etag"], sent["etag"]);
    // The change itself, as Google's AuditData policy delta.
    assert_eq!(
        payload["serviceData"],
        json!({"@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
        "policyDelta": {"bindingDeltas": [
            {"action": "ADD", "role": "roles/run.invoker", "member": "user:carol@example.com"}
        ]}})
    );
    // What alerting filters on IAM changes look for (the CIS benchmark's project ownership
    // metric has this form) finds it; a removal finds nothing.
    let added = activity(
        &h,
        "protoPayload.serviceData.policyDelta.bindingDeltas.action=\"ADD\" AND protoPayload.serviceData.policyDelta.bindingDeltas.role=\"roles/run.invoker\"",
    )
    .await;
    assert_eq!(added.len(), 1);
    assert!(
        activity(
            &h,
            "protoPayload.serviceData.policyDelta.bindingDeltas.action=\"REMOVE\""
        )
        .await
        .is_empty()
    );

    // Reads are Data Access entries; they log the request and, for GetIamPolicy, the policy
    // read (audit_entries_and_role_scope.rs has the whole shape).
    let (_, page) = h
        .call(
            ALICE,
            Method::POST,
            "/v2/entries:list",
            Some(json!({"resourceNames": ["projects/demo-project"],
                "filter": "log_id(\"cloudaudit.googleapis.com/data_access\") protoPayload.methodName=~\"GetIamPolicy$\""})),
        )
        .await;
    let reads = page["entries"].as_array().expect("data access entries");
    assert!(!reads.is_empty(), "{page}");
    assert_eq!(
        reads[0]["protoPayload"]["request"]["@type"],
        "type.googleapis.com/google.iam.v1.GetIamPolicyRequest"
    );
    assert_eq!(
        reads[0]["protoPayload"]["response"]["@type"],
        "type.googleapis.com/google.iam.v1.Policy"
    );
}

#[tokio::test]
async fn a_refused_set_iam_policy_is_logged_as_permission_denied() {
    let h = Harness::new();
    h.grant_on_project("roles/viewer", BOB);
    let (status, refused, _) = add_invoker_binding(&h, BOB).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    let entries = activity(
        &h,
        "protoPayload.methodName:\"SetIamPolicy\" AND protoPayload.status.code=7 AND protoPayload.authorizationInfo.granted=false",
    )
    .await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let entry = &entries[0];
    assert_eq!(entry["severity"], "ERROR");
    let payload = &entry["protoPayload"];
    assert_eq!(
        payload["authenticationInfo"]["principalEmail"],
        "bob@example.com"
    );
    assert_eq!(payload["status"]["code"], 7);
    assert_eq!(payload["status"]["message"], refused["error"]["message"]);
    let authorization = &payload["authorizationInfo"][0];
    assert_eq!(
        authorization["permission"],
        "resourcemanager.projects.setIamPolicy"
    );
    assert_eq!(authorization["granted"], false);
    assert_eq!(authorization["resource"], "projects/demo-project");
    // The attempted change is recorded; nothing was returned, so there is no response.
    assert_eq!(
        payload["request"]["@type"],
        "type.googleapis.com/google.iam.v1.SetIamPolicyRequest"
    );
    assert!(payload.get("response").is_none(), "{payload}");
    assert!(payload.get("serviceData").is_none(), "{payload}");
    // Alice's own successful call is not among the refusals.
    assert!(
        activity(&h, "protoPayload.status.code=7 protoPayload.authenticationInfo.principalEmail=\"alice@example.com\"")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn service_account_keys_are_logged_without_their_private_key() {
    let h = Harness::new();
    let (status, account) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project/serviceAccounts",
            Some(json!({"accountId": "deployer", "serviceAccount": {"displayName": "Deployer"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let email = account["email"].as_str().expect("email").to_owned();
    let (status, key) = h
        .call(
            ALICE,
            Method::POST,
            &format!("/v1/projects/demo-project/serviceAccounts/{email}/keys"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let private = key["privateKeyData"]
        .as_str()
        .expect("the caller gets the key");

    let entries = activity(&h, "protoPayload.methodName=~\"CreateServiceAccountKey$\"").await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let payload = &entries[0]["protoPayload"];
    assert_eq!(
        payload["request"]["@type"],
        "type.googleapis.com/google.iam.admin.v1.CreateServiceAccountKeyRequest"
    );
    let response = &payload["response"];
    assert_eq!(
        response["@type"],
        "type.googleapis.com/google.iam.admin.v1.ServiceAccountKey"
    );
    assert_eq!(response["name"], key["name"]);
    assert!(response.get("privateKeyData").is_none(), "{response}");
    assert!(!entries[0].to_string().contains(private));

    // The account's creation carries the request body and the new account.
    let entries = activity(
        &h,
        "protoPayload.methodName=\"google.iam.admin.v1.CreateServiceAccount\"",
    )
    .await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let payload = &entries[0]["protoPayload"];
    assert_eq!(payload["request"]["accountId"], "deployer");
    assert_eq!(payload["request"]["name"], "projects/demo-project");
    assert_eq!(
        payload["response"]["@type"],
        "type.googleapis.com/google.iam.admin.v1.ServiceAccount"
    );
    assert_eq!(payload["response"]["email"], email.as_str());
}

#[tokio::test]
async fn run_service_creation_is_logged_with_the_service_it_asked_for() {
    let h = Harness::new();
    let service = json!({"template": {"containers": [{"image": "us-docker.pkg.dev/cloudrun/container/hello"}]}});
    let path = "/v2/projects/demo-project/locations/us-central1/services?serviceId=hello&validateOnly=true";
    let (status, operation) = h
        .call(ALICE, Method::POST, path, Some(service.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    let (status, refused) = h.call(BOB, Method::POST, path, Some(service.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    let entries = activity(
        &h,
        "protoPayload.methodName=\"google.cloud.run.v2.Services.CreateService\"",
    )
    .await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    for entry in &entries {
        let request = &entry["protoPayload"]["request"];
        assert_eq!(
            request["@type"],
            "type.googleapis.com/google.cloud.run.v2.CreateServiceRequest"
        );
        assert_eq!(
            request["parent"],
            "projects/demo-project/locations/us-central1"
        );
        assert_eq!(request["serviceId"], "hello");
        assert_eq!(request["validateOnly"], true);
        assert_eq!(request["service"], service);
    }
    let (granted, denied): (Vec<&Value>, Vec<&Value>) = entries
        .iter()
        .partition(|entry| entry["protoPayload"]["status"] == json!({}));
    assert_eq!(granted.len(), 1);
    assert_eq!(
        granted[0]["protoPayload"]["response"]["@type"],
        "type.googleapis.com/google.longrunning.Operation"
    );
    assert_eq!(denied[0]["protoPayload"]["status"]["code"], 7);
    assert_eq!(
        denied[0]["protoPayload"]["authorizationInfo"][0]["permission"],
        "run.services.create"
    );
    assert_eq!(
        denied[0]["protoPayload"]["authorizationInfo"][0]["granted"],
        false
    );
}
