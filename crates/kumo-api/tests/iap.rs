//! IAP v1 for Cloud Run services through the REST surface: the IAM policy methods as gcloud and
//! `iap_v1.IdentityAwareProxyAdminServiceClient` call them, their permissions, and the JWK set.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

fn path(h: &Harness, verb: &str) -> String {
    format!(
        "/v1/projects/{}/iap_web/cloud_run-us-central1/services/hello:{verb}",
        h.project.number
    )
}

fn accessor_policy(etag: &str) -> Value {
    json!({"policy": {"etag": etag, "bindings": [{"role": "roles/iap.httpsResourceAccessor", "members": ["user:bob@example.com"]}]}})
}

#[tokio::test]
async fn owner_reads_an_empty_policy_then_grants_access() {
    let h = Harness::new();
    let (status, policy) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            &path(&h, "getIamPolicy"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(policy, json!({"version": 1, "etag": "ACAB"}));

    let (status, set) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            &path(&h, "setIamPolicy"),
            Some(accessor_policy("ACAB")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(
        set["bindings"][0]["members"],
        json!(["user:bob@example.com"])
    );

    // Read-modify-write with the stale etag is refused.
    let (status, stale) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            &path(&h, "setIamPolicy"),
            Some(accessor_policy("ACAB")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    assert_eq!(stale["error"]["status"], json!("ABORTED"));

    // Bob may now access the service through IAP, and nothing more.
    let asked = json!({"permissions": ["iap.webServiceVersions.accessViaIAP", "iap.webServiceVersions.setIamPolicy"]});
    let (status, held) = h
        .call(
            "user:bob@example.com",
            Method::POST,
            &path(&h, "testIamPermissions"),
            Some(asked),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        held,
        json!({"permissions": ["iap.webServiceVersions.accessViaIAP"]})
    );
}

#[tokio::test]
async fn the_project_id_names_the_same_resource_as_its_number() {
    let h = Harness::new();
    let by_id =
        "/v1/projects/demo-project/iap_web/cloud_run-us-central1/services/hello:setIamPolicy";
    let (status, _) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            by_id,
            Some(accessor_policy("ACAB")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, policy) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            &path(&h, "getIamPolicy"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        policy["bindings"][0]["role"],
        json!("roles/iap.httpsResourceAccessor")
    );
}

#[tokio::test]
async fn permissions_follow_the_iap_roles() {
    // (caller role on the project, verb, expected status)
    let cases: &[(Option<&str>, &str, StatusCode)] = &[
        (None, "getIamPolicy", StatusCode::FORBIDDEN),
        (None, "setIamPolicy", StatusCode::FORBIDDEN),
        (
            Some("roles/iap.httpsResourceAccessor"),
            "getIamPolicy",
            StatusCode::FORBIDDEN,
        ),
        (Some("roles/iap.admin"), "getIamPolicy", StatusCode::OK),
        (Some("roles/iap.admin"), "setIamPolicy", StatusCode::OK),
        (Some("roles/viewer"), "setIamPolicy", StatusCode::FORBIDDEN),
    ];
    for (role, verb, expected) in cases {
        let h = Harness::new();
        if let Some(role) = role {
            h.grant_on_project(role, "user:carol@example.com");
        }
        let body = if *verb == "setIamPolicy" {
            accessor_policy("ACAB")
        } else {
            json!({})
        };
        let (status, reply) = h
            .call(
                "user:carol@example.com",
                Method::POST,
                &path(&h, verb),
                Some(body),
            )
            .await;
        assert_eq!(status, *expected, "{role:?} {verb}: {reply}");
        if *expected == StatusCode::FORBIDDEN {
            let permission = if *verb == "setIamPolicy" {
                "setIamPolicy"
            } else {
                "getIamPolicy"
            };
            assert_eq!(
                reply["error"]["message"],
                json!(format!(
                    "Permission 'iap.webServiceVersions.{permission}' denied on resource 'projects/{}/iap_web/cloud_run-us-central1/services/hello' (or it may not exist).",
                    h.project.number
                ))
            );
        }
    }
}

#[tokio::test]
async fn project_level_accessor_is_inherited() {
    let h = Harness::new();
    h.grant_on_project("roles/iap.httpsResourceAccessor", "user:dave@example.com");
    let asked = json!({"permissions": ["iap.webServiceVersions.accessViaIAP"]});
    let (_, held) = h
        .call(
            "user:dave@example.com",
            Method::POST,
            &path(&h, "testIamPermissions"),
            Some(asked),
        )
        .await;
    assert_eq!(
        held,
        json!({"permissions": ["iap.webServiceVersions.accessViaIAP"]})
    );
}

#[tokio::test]
async fn bad_resources_are_refused() {
    let h = Harness::new();
    let wrong_type = format!(
        "/v1/projects/{}/iap_web/appengine-x/services/hello:getIamPolicy",
        h.project.number
    );
    let (status, _) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            &wrong_type,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unknown_project =
        "/v1/projects/999999/iap_web/cloud_run-us-central1/services/hello:getIamPolicy";
    let (status, reply) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            unknown_project,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    let unknown_field = json!({"policy": {"bindings": []}, "bogus": 1});
    let (status, _) = h
        .call(
            "user:alice@example.com",
            Method::POST,
            &path(&h, "setIamPolicy"),
            Some(unknown_field),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Cloud Run's verb is GET; IAP's getIamPolicy is a POST.
    let (status, _) = h
        .call(
            "user:alice@example.com",
            Method::GET,
            &path(&h, "getIamPolicy"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn settings_answer_with_the_resource_name() {
    let h = Harness::new();
    let (status, settings) = h
        .call(
            "user:alice@example.com",
            Method::GET,
            &path(&h, "iapSettings"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(
        settings["name"],
        json!(format!(
            "projects/{}/iap_web/cloud_run-us-central1/services/hello",
            h.project.number
        ))
    );
}

#[tokio::test]
async fn jwk_set_is_public_and_stable() {
    let h = Harness::new();
    let (status, first) = h
        .call("", Method::GET, "/iap/verify/public_key-jwk", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let key = &first["keys"][0];
    assert_eq!(key["kty"], json!("EC"));
    assert_eq!(key["crv"], json!("P-256"));
    assert_eq!(key["alg"], json!("ES256"));
    let (_, second) = h
        .call("", Method::GET, "/iap/verify/public_key-jwk", None)
        .await;
    assert_eq!(first, second);
}

#[tokio::test]
async fn the_sign_in_relay_never_redirects_elsewhere() {
    use base64::Engine as _;
    let h = Harness::new();
    let elsewhere = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("http://evil.example");
    for state in ["", "garbage", &format!("{elsewhere}.nonce")] {
        let (status, _) = h
            .call(
                "",
                Method::GET,
                &format!("/_gcp_iap/handle_redirect?code=4%2Fx&state={state}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "state {state:?}");
    }
}

#[tokio::test]
async fn pem_document_names_the_jwk_kids() {
    let h = Harness::new();
    let (_, jwks) = h
        .call("", Method::GET, "/iap/verify/public_key-jwk", None)
        .await;
    let (status, pems) = h
        .call("", Method::GET, "/iap/verify/public_key", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    assert!(
        pems[kid]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );
    assert_eq!(pems.as_object().unwrap().len(), 1);
}
