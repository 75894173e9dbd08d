//! IAP's resource hierarchy inside a project (`iap_web` → `cloud_run-REGION` → `services/S`)
//! through the REST surface: policies on each level, inherited downwards, each level's own
//! permissions, and `:iapSettings` get and update (with update masks) on every level.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

const ALICE: &str = "user:alice@example.com";

fn web(h: &Harness) -> String {
    format!("/v1/projects/{}/iap_web", h.project.number)
}

fn web_type(h: &Harness) -> String {
    format!("{}/cloud_run-us-central1", web(h))
}

fn service(h: &Harness, name: &str) -> String {
    format!("{}/services/{name}", web_type(h))
}

async fn grant_accessor(h: &Harness, resource: &str, member: &str) -> Value {
    let (status, policy) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{resource}:getIamPolicy"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let (status, set) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{resource}:setIamPolicy"),
            Some(json!({"policy": {"etag": policy["etag"], "bindings": [{"role": "roles/iap.httpsResourceAccessor", "members": [member]}]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    set
}

async fn can_access(h: &Harness, member: &str, service_path: &str) -> bool {
    let (status, held) = h
        .call(
            member,
            Method::POST,
            &format!("{service_path}:testIamPermissions"),
            Some(json!({"permissions": ["iap.webServiceVersions.accessViaIAP"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{held}");
    held == json!({"permissions": ["iap.webServiceVersions.accessViaIAP"]})
}

#[tokio::test]
async fn bindings_on_each_level_are_inherited_downwards() {
    let h = Harness::new();
    // `projects/PN/iap_web`: every IAP resource of the project.
    grant_accessor(&h, &web(&h), "user:bob@example.com").await;
    assert!(can_access(&h, "user:bob@example.com", &service(&h, "hello")).await);
    assert!(can_access(&h, "user:bob@example.com", &service(&h, "other")).await);
    // `…/cloud_run-us-central1`: that region's services only.
    grant_accessor(&h, &web_type(&h), "user:carol@example.com").await;
    assert!(can_access(&h, "user:carol@example.com", &service(&h, "hello")).await);
    let elsewhere = format!("{}/cloud_run-europe-west1/services/hello", web(&h));
    assert!(!can_access(&h, "user:carol@example.com", &elsewhere).await);
    assert!(!can_access(&h, "user:dave@example.com", &service(&h, "hello")).await);
    // The levels keep their own policies: the service's own is still empty.
    let (_, own) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{}:getIamPolicy", service(&h, "hello")),
            Some(json!({})),
        )
        .await;
    assert!(own.get("bindings").is_none(), "{own}");
    // The project id names the same `iap_web` as the number.
    let (_, by_id) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project/iap_web:getIamPolicy",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        by_id["bindings"][0]["members"],
        json!(["user:bob@example.com"])
    );
}

#[tokio::test]
async fn each_level_checks_its_own_permission() {
    let h = Harness::new();
    // An accessor cannot read any level's policy; the refusal names the level's permission.
    h.grant_on_project("roles/iap.httpsResourceAccessor", "user:bob@example.com");
    for (resource, permission) in [
        (web(&h), "iap.web.getIamPolicy"),
        (web_type(&h), "iap.webTypes.getIamPolicy"),
        (service(&h, "hello"), "iap.webServiceVersions.getIamPolicy"),
    ] {
        let (status, reply) = h
            .call(
                "user:bob@example.com",
                Method::POST,
                &format!("{resource}:getIamPolicy"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains(permission),
            "{reply}"
        );
    }
    // An unknown project is refused like a missing permission, named for the level.
    let (status, reply) = h
        .call(ALICE, Method::GET, "/v1/projects/999999:iapSettings", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("iap.projects.getSettings"),
        "{reply}"
    );
    // IAP Policy Admin administers every level.
    h.grant_on_project("roles/iap.admin", "user:erin@example.com");
    let (status, _) = h
        .call(
            "user:erin@example.com",
            Method::POST,
            &format!("{}:getIamPolicy", web_type(&h)),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn settings_round_trip_with_update_masks_on_every_level() {
    let h = Harness::new();
    let settings = json!({
        "accessSettings": {
            "allowedDomainsSettings": {"enable": true, "domains": ["example.com"]},
            "oauthSettings": {"loginHint": "example.com", "programmaticClients": ["desktop-client"]},
            "corsSettings": {"allowHttpOptions": true}
        },
        "applicationSettings": {"cookieDomain": "example.com"}
    });
    for resource in [
        format!("/v1/projects/{}", h.project.number),
        web(&h),
        web_type(&h),
        service(&h, "hello"),
    ] {
        let (status, stored) = h
            .call(
                ALICE,
                Method::PATCH,
                &format!("{resource}:iapSettings"),
                Some(settings.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{resource}: {stored}");
        let name = resource.trim_start_matches("/v1/");
        assert_eq!(stored["name"], json!(name));
        assert_eq!(stored["accessSettings"], settings["accessSettings"]);
        let (status, read) = h
            .call(ALICE, Method::GET, &format!("{resource}:iapSettings"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read, stored);
    }
    // A mask replaces only the fields it names; a named field absent from the body is cleared.
    let target = format!("{}:iapSettings", service(&h, "hello"));
    let (status, masked) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{target}?updateMask=access_settings.allowed_domains_settings,accessSettings.corsSettings"),
            Some(json!({"accessSettings": {"allowedDomainsSettings": {"enable": false}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{masked}");
    assert_eq!(
        masked["accessSettings"],
        json!({
            "allowedDomainsSettings": {"enable": false},
            "oauthSettings": {"loginHint": "example.com", "programmaticClients": ["desktop-client"]}
        })
    );
    assert_eq!(
        masked["applicationSettings"],
        json!({"cookieDomain": "example.com"})
    );
    // Without a mask the whole settings are replaced.
    let (_, replaced) = h
        .call(
            ALICE,
            Method::PATCH,
            &target,
            Some(json!({"applicationSettings": {"cookieDomain": "corp.example"}})),
        )
        .await;
    assert_eq!(
        replaced,
        json!({"name": target.trim_start_matches("/v1/").trim_end_matches(":iapSettings"), "applicationSettings": {"cookieDomain": "corp.example"}})
    );
}

#[tokio::test]
async fn bad_settings_and_missing_permissions_are_refused() {
    let h = Harness::new();
    let target = format!("{}:iapSettings", web(&h));
    let (status, reply) = h
        .call(
            ALICE,
            Method::PATCH,
            &target,
            Some(json!({"accessSettings": {"oauthSettings": {"loginHnt": "x"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        reply["error"]["message"],
        json!(
            "Invalid JSON payload received. Unknown name \"loginHnt\" at 'iap_settings.access_settings.oauth_settings': Cannot find field."
        )
    );
    let (status, _) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{target}?updateMask=bogus"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An accessor may neither read nor change settings.
    h.grant_on_project("roles/iap.httpsResourceAccessor", "user:bob@example.com");
    let (status, reply) = h
        .call("user:bob@example.com", Method::GET, &target, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("iap.web.getSettings")
    );
    let (status, reply) = h
        .call(
            "user:bob@example.com",
            Method::PATCH,
            &target,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("iap.web.updateSettings")
    );
    // IAP Settings Admin may.
    h.grant_on_project("roles/iap.settingsAdmin", "user:erin@example.com");
    let (status, reply) = h
        .call(
            "user:erin@example.com",
            Method::PATCH,
            &target,
            Some(json!({"accessSettings": {"corsSettings": {"allowHttpOptions": true}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}
