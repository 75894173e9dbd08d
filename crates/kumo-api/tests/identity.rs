//! Identity end to end through the HTTP router with the server's real authenticator: the issuer
//! documents, every `/token` grant and its errors, the sign-in page, tokeninfo and revoke, the
//! API front door's token checks (including JWT attacks), IAM Credentials, the directory APIs
//! and the metadata server.

mod identity_support;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use identity_support::*;
use kumo_api::metadata::{WorkloadIdentity, metadata_router};
use kumo_control::Mode;
use kumo_control::records::Collection;
use serde_json::{Value, json};
use sha2::Digest as _;

const INVALID_CREDENTIALS: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const PROJECT_PATH: &str = "/v3/projects/demo-project";

/// An authenticated caller without the permission gets 403; an unauthenticated one 401.
async fn assert_authenticated(world: &World, token: &str) {
    let reply = world.api(token, Method::GET, PROJECT_PATH, None).await;
    assert_ne!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "token refused: {}",
        reply.text
    );
}

async fn assert_refused(world: &World, token: &str) {
    let reply = world.api(token, Method::GET, PROJECT_PATH, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(reply.json()["error"]["message"], INVALID_CREDENTIALS);
    assert_eq!(reply.json()["error"]["status"], "UNAUTHENTICATED");
}

// ---- issuer documents ----

#[tokio::test]
async fn discovery_and_both_certificate_forms_publish_the_signing_key() {
    let world = World::new();
    let discovery = world
        .send(Method::GET, "/.well-known/openid-configuration", &[], None)
        .await
        .json();
    assert_eq!(discovery["issuer"], "http://127.0.0.1:8080");
    assert_eq!(discovery["token_endpoint"], "http://127.0.0.1:8080/token");
    assert_eq!(
        discovery["jwks_uri"],
        "http://127.0.0.1:8080/oauth2/v3/certs"
    );
    let jwks = world
        .send(Method::GET, "/oauth2/v3/certs", &[], None)
        .await
        .json();
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["alg"], "RS256");
    let kid = keys[0]["kid"].as_str().expect("kid").to_owned();
    let v1 = world
        .send(Method::GET, "/oauth2/v1/certs", &[], None)
        .await
        .json();
    // Google publishes self-signed X.509 certificates there, keyed by kid; same key, same bytes.
    let cert = v1[&kid].as_str().expect("pem");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    let public = kumo_identity::x509::public_key_from_pem(cert).expect("certificate");
    let again = world
        .send(Method::GET, "/oauth2/v1/certs", &[], None)
        .await
        .json();
    assert_eq!(again[&kid], v1[&kid]);
    // The certificate's key verifies the issuer's ID tokens.
    let account = world.account("runner");
    let reply = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(
                    &account,
                    &[("target_audience", json!("https://hello.example"))],
                ),
            ),
        ])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let token = reply.json()["id_token"]
        .as_str()
        .expect("id_token")
        .to_owned();
    let header = kumo_identity::jwt::decode_header(&token).expect("header");
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    let validation = kumo_identity::jwt::Validation {
        alg: kumo_identity::jwt::Alg::Rs256,
        now: chrono::Utc::now().timestamp(),
        leeway: 5,
        audiences: &["https://hello.example"],
        issuers: &["http://127.0.0.1:8080"],
        max_lifetime: None,
    };
    let claims = kumo_identity::jwt::verify(&token, &validation, |k| {
        (k == kid).then(|| kumo_identity::keys::VerifyKey::Rs256(public.clone()))
    })
    .expect("verifies with the certificate's key");
    assert_eq!(claims["email"], account.email.as_str());
}

#[tokio::test]
async fn google_issuer_option_mints_accounts_google_com_and_still_verifies() {
    let world = World::with_config(kumo_control::Config {
        external_url: "http://127.0.0.1:8080".to_owned(),
        issuer: Some(kumo_control::GOOGLE_ISSUER.to_owned()),
        mode: Mode::Dev,
        image_access_check: kumo_control::ImageAccessCheck::Enforce,
    });
    let discovery = world
        .send(Method::GET, "/.well-known/openid-configuration", &[], None)
        .await
        .json();
    // The issuer string is Google's; every endpoint is still Kumo's.
    assert_eq!(discovery["issuer"], "https://accounts.google.com");
    assert_eq!(discovery["token_endpoint"], "http://127.0.0.1:8080/token");
    assert_eq!(
        discovery["jwks_uri"],
        "http://127.0.0.1:8080/oauth2/v3/certs"
    );
    let account = world.account("runner");
    let reply = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(
                    &account,
                    &[("target_audience", json!("https://hello.example"))],
                ),
            ),
        ])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let id_token = reply.json()["id_token"]
        .as_str()
        .expect("id_token")
        .to_owned();
    assert_eq!(claims_of(&id_token)["iss"], "https://accounts.google.com");
    let info = world
        .send(
            Method::GET,
            &format!("/oauth2/v3/tokeninfo?id_token={id_token}"),
            &[],
            None,
        )
        .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.json()["iss"], "https://accounts.google.com");
    // Access tokens carry it too and the API front door accepts them.
    let access = world.user_token("admin@example.com").await;
    assert_authenticated(&world, &access).await;
    // A token minted under Kumo's own issuer string is someone else's token here.
    let other = World::new();
    let foreign = other.user_token("admin@example.com").await;
    assert_refused(&world, &foreign).await;
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_needs_an_administrator() {
    let world = World::new();
    let admin = world.user_token("admin@example.com").await;
    world.create_user("bob@example.com", None).await;
    let bob = world.user_token("bob@example.com").await;
    let refused = world
        .api(&bob, Method::POST, "/kumo/v1/keys:rotate", None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let rotated = world
        .api(&admin, Method::POST, "/kumo/v1/keys:rotate", None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    assert_eq!(
        rotated.json()["publishedKeyIds"].as_array().map(Vec::len),
        Some(2)
    );
    // Minted before the rotation, still accepted during the overlap.
    assert_authenticated(&world, &bob).await;
    let jwks = world
        .send(Method::GET, "/oauth2/v3/certs", &[], None)
        .await
        .json();
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
    // Three more rotations retire the key that signed bob's token.
    for _ in 0..3 {
        // The administrator's own token gets retired too: a fresh one each round.
        let admin = world.user_token("admin@example.com").await;
        let again = world
            .api(&admin, Method::POST, "/kumo/v1/keys:rotate", None)
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    }
    assert_refused(&world, &bob).await;
}

// ---- jwt-bearer grant ----

#[tokio::test]
async fn service_account_key_gives_an_access_token_that_the_front_door_accepts() {
    let world = World::new();
    let account = world.account("runner");
    let reply = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(&account, &[("scope", json!(CLOUD_PLATFORM))]),
            ),
        ])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let token = body["access_token"].as_str().expect("token");
    assert!(token.starts_with("ya29."));
    // Authenticated (403: the account has no role on the project), not 401.
    let denied = world.api(token, Method::GET, PROJECT_PATH, None).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    world.grant("roles/viewer", &format!("serviceAccount:{}", account.email));
    let allowed = world.api(token, Method::GET, PROJECT_PATH, None).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
}

#[tokio::test]
async fn target_audience_gives_a_google_shaped_id_token() {
    let world = World::new();
    let account = world.account("runner");
    let audience = "https://hello-abc123-uc.a.run.app";
    let reply = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(&account, &[("target_audience", json!(audience))]),
            ),
        ])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let token = reply.json()["id_token"]
        .as_str()
        .expect("id_token")
        .to_owned();
    let claims = claims_of(&token);
    assert_eq!(claims["aud"], audience);
    assert_eq!(claims["iss"], "http://127.0.0.1:8080");
    assert_eq!(claims["sub"], account.unique_id.as_str());
    assert_eq!(claims["email"], account.email.as_str());
    assert_eq!(claims["email_verified"], true);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    // tokeninfo verifies it against the issuer keys.
    let info = world
        .send(
            Method::GET,
            &format!("/oauth2/v3/tokeninfo?id_token={token}"),
            &[],
            None,
        )
        .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.json()["email"], account.email.as_str());
    assert_eq!(info.json()["alg"], "RS256");
    // An ID token is not an API credential.
    assert_refused(&world, &token).await;
}

#[tokio::test]
async fn assertion_audience_may_be_kumos_own_token_uri() {
    let world = World::new();
    let account = world.account("runner");
    let reply = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(
                    &account,
                    &[
                        ("aud", json!("http://127.0.0.1:8080/token")),
                        ("scope", json!(CLOUD_PLATFORM)),
                    ],
                ),
            ),
        ])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn bad_assertions_get_googles_oauth_errors_and_no_token() {
    let world = World::new();
    let account = world.account("runner");
    let stranger = world.account("other");
    let iat = now();
    let short_lived = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";
    let base = |extra: Value| {
        let mut claims = json!({"iss": account.email, "aud": GOOGLE_TOKEN_URI, "iat": iat, "exp": iat + 3600, "scope": CLOUD_PLATFORM});
        for (k, v) in extra.as_object().expect("object") {
            claims[k] = v.clone();
        }
        claims
    };
    // Signed with another key under this account's key id.
    let forged = {
        let mut key = stranger.key.clone();
        key.kid = account.key.kid.clone();
        let Value::Object(claims) = base(json!({})) else {
            unreachable!()
        };
        kumo_identity::jwt::encode_rs256(&key, &claims)
    };
    let unknown_kid = {
        let mut key = account.key.clone();
        key.kid = "0".repeat(40);
        let Value::Object(claims) = base(json!({})) else {
            unreachable!()
        };
        kumo_identity::jwt::encode_rs256(&key, &claims)
    };
    let tampered = {
        let token = signed(&account, base(json!({})));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims = claims_of(&token);
        claims["scope"] = json!("https://www.googleapis.com/auth/admin");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        parts.join(".")
    };
    let cases: Vec<(&str, String, u16, &str, &str)> = vec![
        (
            "forged signature",
            forged,
            400,
            "invalid_grant",
            "Invalid JWT Signature.",
        ),
        (
            "unknown kid",
            unknown_kid,
            400,
            "invalid_grant",
            "Invalid JWT Signature.",
        ),
        (
            "tampered payload",
            tampered,
            400,
            "invalid_grant",
            "Invalid JWT Signature.",
        ),
        (
            "expired",
            signed(
                &account,
                base(json!({"iat": iat - 7200, "exp": iat - 3600})),
            ),
            400,
            "invalid_grant",
            short_lived,
        ),
        (
            "future iat",
            signed(&account, base(json!({"iat": iat + 900, "exp": iat + 4000}))),
            400,
            "invalid_grant",
            short_lived,
        ),
        (
            "lifetime over an hour",
            signed(&account, base(json!({"exp": iat + 7200}))),
            400,
            "invalid_grant",
            short_lived,
        ),
        (
            "wrong audience",
            signed(
                &account,
                base(json!({"aud": "https://evil.example.com/token"})),
            ),
            400,
            "invalid_grant",
            "Invalid JWT audience.",
        ),
        (
            "unknown account",
            signed(
                &account,
                base(json!({"iss": "ghost@demo-project.iam.gserviceaccount.com"})),
            ),
            400,
            "invalid_grant",
            "Invalid grant: account not found",
        ),
        (
            "no scope",
            signed(
                &account,
                json!({"iss": account.email, "aud": GOOGLE_TOKEN_URI, "iat": iat, "exp": iat + 3600}),
            ),
            400,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ),
        (
            "garbage",
            "not-a-jwt".to_owned(),
            400,
            "invalid_grant",
            "Invalid JWT Signature.",
        ),
    ];
    for (case, assertion, status, error, description) in cases {
        let reply = world
            .token(&[("grant_type", JWT_BEARER), ("assertion", &assertion)])
            .await;
        assert_eq!(reply.status.as_u16(), status, "{case}: {}", reply.text);
        assert_eq!(reply.json()["error"], error, "{case}");
        assert_eq!(reply.json()["error_description"], description, "{case}");
        assert!(reply.json().get("access_token").is_none(), "{case}");
    }
    let unsupported = world.token(&[("grant_type", "password")]).await;
    assert_eq!(
        unsupported.json(),
        json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: password"})
    );
    let missing = world.token(&[("grant_type", JWT_BEARER)]).await;
    assert_eq!(missing.json()["error"], "invalid_request");
}

#[tokio::test]
async fn disabled_keys_and_accounts_get_no_token_and_lose_their_tokens() {
    let world = World::new();
    let account = world.account("runner");
    let token = world.sa_token(&account).await;
    let key_name = format!("{}/keys/{}", account.record_name, account.key.kid);
    world.set_disabled(Collection::ServiceAccountKeys, &key_name, true);
    let reply = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(&account, &[("scope", json!(CLOUD_PLATFORM))]),
            ),
        ])
        .await;
    assert_eq!(reply.json()["error_description"], "Invalid JWT Signature.");
    world.set_disabled(Collection::ServiceAccountKeys, &key_name, false);
    world.set_disabled(Collection::ServiceAccounts, &account.record_name, true);
    let reply = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(&account, &[("scope", json!(CLOUD_PLATFORM))]),
            ),
        ])
        .await;
    assert_eq!(
        reply.json()["error_description"],
        "Invalid grant: account not found"
    );
    // A disabled account's access tokens stop working at once.
    assert_refused(&world, &token).await;
}

// ---- refresh and authorization-code grants ----

#[tokio::test]
async fn authorized_user_refresh_gives_access_and_id_tokens_and_checks_the_client() {
    let world = World::new();
    let credentials = world
        .bootstrap
        .admin_credentials
        .clone()
        .expect("first start writes credentials");
    assert_eq!(credentials["type"], "authorized_user");
    assert_eq!(credentials["token_uri"], "http://127.0.0.1:8080/token");
    let refresh = credentials["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let reply = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "kumo-cli"),
            ("client_secret", "kumo-cli-secret"),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    let access = body["access_token"].as_str().expect("access");
    assert_eq!(
        claims_of(
            body["id_token"]
                .as_str()
                .expect("openid scope gives an id_token")
        )["email"],
        "admin@example.com"
    );
    assert!(
        body["scope"]
            .as_str()
            .expect("scope")
            .contains("cloud-platform")
    );
    assert_authenticated(&world, access).await;
    let wrong_secret = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "kumo-cli"),
            ("client_secret", "nope"),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(wrong_secret.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong_secret.json(),
        json!({"error": "invalid_client", "error_description": "Unauthorized"})
    );
    let wrong_client = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "other"),
            ("client_secret", "x"),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(wrong_client.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong_client.json()["error_description"],
        "The OAuth client was not found."
    );
    let unknown = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "kumo-cli"),
            ("client_secret", "kumo-cli-secret"),
            ("refresh_token", "1//nope"),
        ])
        .await;
    assert_eq!(unknown.json()["error"], "invalid_grant");
    let wider = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "kumo-cli"),
            ("client_secret", "kumo-cli-secret"),
            ("refresh_token", &refresh),
            ("scope", "https://www.googleapis.com/auth/admin"),
        ])
        .await;
    assert_eq!(wider.json()["error"], "invalid_scope");
}

fn pkce() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn auth_url(challenge: &str, extra: &str) -> String {
    format!(
        "/o/oauth2/v2/auth?client_id=kumo-cli&redirect_uri={}&response_type=code&scope={}&state=xyz&code_challenge={challenge}&code_challenge_method=S256{extra}",
        encode("http://127.0.0.1:8085/"),
        encode("openid https://www.googleapis.com/auth/cloud-platform"),
    )
}

#[tokio::test]
async fn dev_login_hint_completes_the_code_flow_with_pkce() {
    let world = World::new();
    let (verifier, challenge) = pkce();
    let reply = world
        .send(
            Method::GET,
            &auth_url(&challenge, "&login_hint=admin%40example.com"),
            &[],
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    let location = reply.location();
    assert!(
        location.starts_with("http://127.0.0.1:8085/?"),
        "{location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    let code = query_param(&location, "code").expect("code");
    let exchange = |code: String, verifier: String| {
        let world = &world;
        async move {
            world
                .token(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", "kumo-cli"),
                    ("code", &code),
                    ("redirect_uri", "http://127.0.0.1:8085/"),
                    ("code_verifier", &verifier),
                ])
                .await
        }
    };
    let tokens = exchange(code.clone(), verifier.clone()).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let body = tokens.json();
    assert!(
        body["refresh_token"]
            .as_str()
            .expect("refresh")
            .starts_with("1//")
    );
    assert_eq!(
        claims_of(body["id_token"].as_str().expect("id"))
            .get("email")
            .cloned(),
        Some(json!("admin@example.com"))
    );
    assert_authenticated(&world, body["access_token"].as_str().expect("access")).await;
    // Codes are single-use.
    let replay = exchange(code, verifier.clone()).await;
    assert_eq!(replay.json()["error"], "invalid_grant");
    // A wrong verifier fails, and burns the code.
    let second = world
        .send(
            Method::GET,
            &auth_url(&challenge, "&login_hint=admin%40example.com"),
            &[],
            None,
        )
        .await;
    let code = query_param(&second.location(), "code").expect("code");
    let wrong = exchange(code, "x".repeat(43)).await;
    assert_eq!(
        wrong.json(),
        json!({"error": "invalid_grant", "error_description": "Invalid code verifier."})
    );
}

#[tokio::test]
async fn authorization_requests_are_validated_before_any_redirect() {
    let world = World::new();
    let (_, challenge) = pkce();
    let evil = format!(
        "/o/oauth2/v2/auth?client_id=kumo-cli&redirect_uri={}&response_type=code&scope=openid&login_hint=admin%40example.com",
        encode("https://evil.example.com/cb")
    );
    let reply = world.send(Method::GET, &evil, &[], None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.location().is_empty());
    assert!(reply.text.contains("redirect_uri_mismatch"));
    let unknown_client = world
        .send(
            Method::GET,
            &auth_url(&challenge, "").replace("client_id=kumo-cli", "client_id=other"),
            &[],
            None,
        )
        .await;
    assert_eq!(unknown_client.status, StatusCode::UNAUTHORIZED);
    let plain = world
        .send(
            Method::GET,
            &auth_url(&challenge, "").replace("S256", "plain"),
            &[],
            None,
        )
        .await;
    assert_eq!(plain.status, StatusCode::FOUND);
    assert_eq!(
        query_param(&plain.location(), "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn dev_sign_in_page_lists_accounts_and_signs_in_by_choice() {
    let world = World::new();
    let (_, challenge) = pkce();
    let page = world
        .send(Method::GET, &auth_url(&challenge, ""), &[], None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<html lang=\"en\">"));
    assert!(
        page.text.contains("value=\"admin@example.com\""),
        "{}",
        page.text
    );
    let form = format!(
        "client_id=kumo-cli&redirect_uri={}&response_type=code&scope=openid&state=s1&code_challenge={challenge}&code_challenge_method=S256&account=admin%40example.com",
        encode("http://127.0.0.1:8085/")
    );
    let chosen = world
        .send(
            Method::POST,
            "/o/oauth2/v2/auth",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(form),
        )
        .await;
    assert_eq!(chosen.status, StatusCode::FOUND, "{}", chosen.text);
    assert!(query_param(&chosen.location(), "code").is_some());
}

#[tokio::test]
async fn strict_mode_requires_the_password() {
    let world = World::with_mode(Mode::Strict);
    world
        .create_user("carol@example.com", Some("correct horse battery"))
        .await;
    let (_, challenge) = pkce();
    // No silent sign-in by hint in strict mode: the page asks for a password.
    let page = world
        .send(
            Method::GET,
            &auth_url(&challenge, "&login_hint=carol%40example.com"),
            &[],
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("type=\"password\""));
    let form = |password: &str| {
        format!(
            "client_id=kumo-cli&redirect_uri={}&response_type=code&scope=openid&account=carol%40example.com&password={}",
            encode("http://127.0.0.1:8085/"),
            encode(password)
        )
    };
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    let wrong = world
        .send(
            Method::POST,
            "/o/oauth2/v2/auth",
            &headers,
            Some(form("wrong password")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.location().is_empty());
    let right = world
        .send(
            Method::POST,
            "/o/oauth2/v2/auth",
            &headers,
            Some(form("correct horse battery")),
        )
        .await;
    assert_eq!(right.status, StatusCode::FOUND, "{}", right.text);
    assert!(
        world.bootstrap.admin_password.is_some(),
        "strict bootstrap generates an admin password"
    );
}

// ---- tokeninfo and revoke ----

#[tokio::test]
async fn tokeninfo_and_revocation() {
    let world = World::new();
    let account = world.account("runner");
    let token = world.sa_token(&account).await;
    let info = world
        .send(
            Method::GET,
            &format!("/oauth2/v3/tokeninfo?access_token={token}"),
            &[],
            None,
        )
        .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.json()["email"], account.email.as_str());
    assert_eq!(info.json()["scope"], CLOUD_PLATFORM);
    assert!(info.json()["expires_in"].is_string());
    let revoked = world
        .send(Method::POST, &format!("/revoke?token={token}"), &[], None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_refused(&world, &token).await;
    let gone = world
        .send(
            Method::GET,
            &format!("/oauth2/v3/tokeninfo?access_token={token}"),
            &[],
            None,
        )
        .await;
    assert_eq!(
        gone.json(),
        json!({"error": "invalid_token", "error_description": "Invalid Value"})
    );
    let twice = world
        .send(
            Method::POST,
            "/revoke",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some("token=garbage".to_owned()),
        )
        .await;
    assert_eq!(twice.json()["error"], "invalid_token");
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens() {
    let world = World::new();
    let credentials = world
        .harness
        .control
        .authorized_user_credentials("admin@example.com")
        .expect("credentials");
    let refresh = credentials["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "kumo-cli"),
        ("client_secret", "kumo-cli-secret"),
        ("refresh_token", refresh.as_str()),
    ];
    let access = world.token(&form).await.json()["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_authenticated(&world, &access).await;
    let revoked = world
        .send(
            Method::POST,
            &format!("/revoke?token={}", encode(&refresh)),
            &[],
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_refused(&world, &access).await;
    let again = world.token(&form).await;
    assert_eq!(
        again.json(),
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
}

// ---- the API front door ----

#[tokio::test]
async fn self_signed_jwts_are_accepted_with_an_api_audience_or_a_scope() {
    let world = World::new();
    let account = world.account("runner");
    let iat = now();
    let with_aud = signed(
        &account,
        json!({"iss": account.email, "sub": account.email, "aud": "https://cloudresourcemanager.googleapis.com/", "iat": iat, "exp": iat + 3600}),
    );
    assert_authenticated(&world, &with_aud).await;
    let with_scope = signed(
        &account,
        json!({"iss": account.email, "sub": account.email, "scope": CLOUD_PLATFORM, "iat": iat, "exp": iat + 3600}),
    );
    assert_authenticated(&world, &with_scope).await;
    // The key disabled: refused at once (the verification cache re-checks the key).
    world.set_disabled(
        Collection::ServiceAccountKeys,
        &format!("{}/keys/{}", account.record_name, account.key.kid),
        true,
    );
    assert_refused(&world, &with_scope).await;
}

#[tokio::test]
async fn scopes_open_only_the_methods_their_apis_accept() {
    let world = World::new();
    let account = world.account("runner");
    let iat = now();
    let with = |scope: &str| {
        signed(
            &account,
            json!({"iss": account.email, "sub": account.email, "scope": scope, "iat": iat, "exp": iat + 3600}),
        )
    };
    let insufficient = |reply: &Reply| {
        reply.status == StatusCode::FORBIDDEN
            && reply.json()["error"]["message"] == "Request had insufficient authentication scopes."
    };
    // cloud-platform.read-only reads Resource Manager but cannot write to it.
    let read_only = with("https://www.googleapis.com/auth/cloud-platform.read-only");
    let read = world.api(&read_only, Method::GET, PROJECT_PATH, None).await;
    assert!(!insufficient(&read), "{}", read.text);
    let write = world
        .api(
            &read_only,
            Method::POST,
            &format!("{PROJECT_PATH}:setIamPolicy"),
            Some(json!({"policy": {}})),
        )
        .await;
    assert!(insufficient(&write), "{}", write.text);
    assert_eq!(write.json()["error"]["status"], "PERMISSION_DENIED");
    // The iam scope opens IAM, not Resource Manager.
    let iam = with("https://www.googleapis.com/auth/iam");
    let refused = world.api(&iam, Method::GET, PROJECT_PATH, None).await;
    assert!(insufficient(&refused), "{}", refused.text);
    let listed = world
        .api(
            &iam,
            Method::GET,
            "/v1/projects/demo-project/serviceAccounts",
            None,
        )
        .await;
    assert!(!insufficient(&listed), "{}", listed.text);
    // A sign-in scope opens no API.
    let email_only = with("https://www.googleapis.com/auth/userinfo.email");
    assert!(insufficient(
        &world
            .api(&email_only, Method::GET, PROJECT_PATH, None)
            .await
    ));
}

#[tokio::test]
async fn jwt_attacks_at_the_front_door_are_refused() {
    let world = World::new();
    let account = world.account("runner");
    let iat = now();
    let good = json!({"iss": account.email, "sub": account.email, "aud": "https://run.googleapis.com/", "iat": iat, "exp": iat + 3600});
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let valid = signed(&account, good.clone());
    let parts: Vec<&str> = valid.split('.').collect();
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": account.key.kid})),
        parts[1]
    );
    let hs256 = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "HS256", "kid": account.key.kid})),
        parts[1],
        parts[2]
    );
    let mut escalated = good.clone();
    escalated["iss"] = json!("admin@example.com");
    let swapped_payload = format!("{}.{}.{}", parts[0], b64(&escalated), parts[2]);
    let mut claims = good.clone();
    claims["aud"] = json!("https://evil.example.com/");
    let wrong_aud = signed(&account, claims);
    let mut claims = good.clone();
    claims["iat"] = json!(iat - 7200);
    claims["exp"] = json!(iat - 3600);
    let expired = signed(&account, claims);
    let mut claims = good.clone();
    claims["sub"] = json!("someone-else@demo-project.iam.gserviceaccount.com");
    let other_sub = signed(&account, claims);
    let mut claims = good.clone();
    claims["exp"] = json!(iat + 86_400);
    let long_lived = signed(&account, claims);
    // The issuer's own ID token (verifies against Kumo's keys) is not an access token.
    let id_token = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(
                    &account,
                    &[("target_audience", json!("https://run.googleapis.com/"))],
                ),
            ),
        ])
        .await
        .json()["id_token"]
        .as_str()
        .expect("id token")
        .to_owned();
    let forged_access = format!("ya29.{valid}");
    let cases = [
        ("alg none", alg_none),
        ("HS256 with the kid", hs256),
        ("payload swapped", swapped_payload),
        ("wrong audience", wrong_aud),
        ("expired", expired),
        ("sub differs from iss", other_sub),
        ("lifetime over an hour", long_lived),
        ("ID token", id_token),
        ("SA JWT dressed as an access token", forged_access),
        ("garbage", "abc.def.ghi".to_owned()),
        ("oversized", "a".repeat(20_000)),
    ];
    for (case, token) in cases {
        let reply = world.api(&token, Method::GET, PROJECT_PATH, None).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{case}: {}",
            reply.text
        );
        assert_eq!(
            reply.json()["error"]["message"],
            INVALID_CREDENTIALS,
            "{case}"
        );
    }
    let basic = world
        .send(
            Method::GET,
            PROJECT_PATH,
            &[("authorization", "Basic a3VtbzprdW1v")],
            None,
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    let anonymous = world.send(Method::GET, PROJECT_PATH, &[], None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(
        anonymous.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Request is missing required authentication credential.")
    );
}

// ---- IAM Credentials ----

fn credentials_path(email: &str, verb: &str) -> String {
    format!(
        "/v1/projects/-/serviceAccounts/{}:{verb}",
        email.replace('@', "%40")
    )
}

#[tokio::test]
async fn iam_credentials_need_token_creator_and_answer_googles_shapes() {
    let world = World::new();
    let target = world.account("deployer");
    world.create_user("bob@example.com", None).await;
    let bob = world.user_token("bob@example.com").await;
    let denied = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "generateAccessToken"),
            Some(json!({"scope": [CLOUD_PLATFORM]})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert_eq!(
        denied.json()["error"]["message"],
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
    );
    assert_eq!(
        denied.json()["error"]["details"][0]["reason"],
        "IAM_PERMISSION_DENIED"
    );
    assert_eq!(
        denied.json()["error"]["details"][0]["metadata"],
        json!({"permission": "iam.serviceAccounts.getAccessToken"})
    );
    let denied_id = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "generateIdToken"),
            Some(json!({"audience": "https://x"})),
        )
        .await;
    assert_eq!(
        denied_id.json()["error"]["message"],
        "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."
    );

    world.grant(
        "roles/iam.serviceAccountTokenCreator",
        "user:bob@example.com",
    );
    let minted = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "generateAccessToken"),
            Some(json!({"scope": [CLOUD_PLATFORM], "lifetime": "600s"})),
        )
        .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);
    let expire = minted.json()["expireTime"]
        .as_str()
        .expect("expireTime")
        .to_owned();
    assert!(
        chrono::NaiveDateTime::parse_from_str(&expire, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "whole seconds with Z: {expire}"
    );
    let token = minted.json()["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let info = world
        .send(
            Method::GET,
            &format!("/oauth2/v3/tokeninfo?access_token={token}"),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(info["email"], target.email.as_str());
    assert!(info["expires_in"].as_str().unwrap().parse::<i64>().unwrap() <= 600);

    // google-auth's extra `useEmailAzp` is accepted.
    let id = world
        .api(&bob, Method::POST, &credentials_path(&target.email, "generateIdToken"), Some(json!({"audience": "https://hello.run.app", "includeEmail": true, "useEmailAzp": "true"})))
        .await;
    assert_eq!(id.status, StatusCode::OK, "{}", id.text);
    let claims = claims_of(id.json()["token"].as_str().expect("token"));
    assert_eq!(claims["aud"], "https://hello.run.app");
    assert_eq!(claims["email"], target.email.as_str());
    assert_eq!(claims["azp"], target.email.as_str());
    let no_email = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "generateIdToken"),
            Some(json!({"audience": "https://hello.run.app"})),
        )
        .await;
    assert!(
        claims_of(no_email.json()["token"].as_str().expect("token"))
            .get("email")
            .is_none()
    );

    let blob = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "signBlob"),
            Some(json!({"payload": "aGVsbG8="})),
        )
        .await;
    assert_eq!(blob.status, StatusCode::OK, "{}", blob.text);
    let key_id = blob.json()["keyId"].as_str().expect("keyId").to_owned();
    // Published with the account's keys, where Google publishes them.
    let certs = world
        .send(
            Method::GET,
            &format!("/robot/v1/metadata/x509/{}", target.email),
            &[],
            None,
        )
        .await
        .json();
    let jwks = world
        .send(
            Method::GET,
            &format!(
                "/service_accounts/v1/metadata/jwk/{}",
                target.email.replace('@', "%40")
            ),
            &[],
            None,
        )
        .await
        .json();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == key_id.as_str())
    );
    let published = certs[&key_id].as_str().expect("published");
    // A Google-managed key is published as a self-signed certificate, as Google does.
    assert!(published.starts_with("-----BEGIN CERTIFICATE-----"));
    let public = kumo_identity::x509::public_key_from_pem(published).expect("certificate");
    let signature = base64::engine::general_purpose::STANDARD
        .decode(blob.json()["signedBlob"].as_str().unwrap())
        .unwrap();
    use rsa::signature::Verifier as _;
    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public)
        .verify(
            b"hello",
            &rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap(),
        )
        .expect("signBlob signature verifies with the published key");

    let jwt = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "signJwt"),
            Some(json!({"payload": "{\"sub\":\"x\"}"})),
        )
        .await;
    assert_eq!(jwt.status, StatusCode::OK, "{}", jwt.text);
    assert!(claims_of(jwt.json()["signedJwt"].as_str().unwrap())["exp"].is_i64());
    // Keyless flow: a JWT signed through signJwt is a valid jwt-bearer assertion for the account.
    let iat = now();
    let payload = json!({"iss": target.email, "aud": GOOGLE_TOKEN_URI, "scope": CLOUD_PLATFORM, "iat": iat, "exp": iat + 3600});
    let assertion = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "signJwt"),
            Some(json!({"payload": payload.to_string()})),
        )
        .await
        .json()["signedJwt"]
        .as_str()
        .expect("signedJwt")
        .to_owned();
    let exchanged = world
        .token(&[("grant_type", JWT_BEARER), ("assertion", &assertion)])
        .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text);
    let unknown = world
        .send(
            Method::GET,
            "/robot/v1/metadata/x509/ghost@demo-project.iam.gserviceaccount.com",
            &[],
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad_jwt = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "signJwt"),
            Some(json!({"payload": "[1]"})),
        )
        .await;
    assert_eq!(bad_jwt.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn iam_credentials_validate_names_lifetimes_and_unknown_accounts() {
    let world = World::new();
    let target = world.account("deployer");
    world.grant(
        "roles/iam.serviceAccountTokenCreator",
        "user:admin@example.com",
    );
    let admin = world.user_token("admin@example.com").await;
    let real_project = format!(
        "/v1/projects/demo-project/serviceAccounts/{}:generateAccessToken",
        target.email
    );
    let reply = world
        .api(
            &admin,
            Method::POST,
            &real_project,
            Some(json!({"scope": [CLOUD_PLATFORM]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["message"],
        "Request contains an invalid argument."
    );
    let long = world
        .api(
            &admin,
            Method::POST,
            &credentials_path(&target.email, "generateAccessToken"),
            Some(json!({"scope": [CLOUD_PLATFORM], "lifetime": "7200s"})),
        )
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    let no_scope = world
        .api(
            &admin,
            Method::POST,
            &credentials_path(&target.email, "generateAccessToken"),
            Some(json!({})),
        )
        .await;
    assert_eq!(no_scope.status, StatusCode::BAD_REQUEST);
    let ghost = world
        .api(
            &admin,
            Method::POST,
            &credentials_path(
                "ghost@demo-project.iam.gserviceaccount.com",
                "generateAccessToken",
            ),
            Some(json!({"scope": [CLOUD_PLATFORM]})),
        )
        .await;
    assert_eq!(ghost.status, StatusCode::NOT_FOUND);
    let unknown_field = world
        .api(
            &admin,
            Method::POST,
            &credentials_path(&target.email, "generateAccessToken"),
            Some(json!({"scope": [CLOUD_PLATFORM], "bogus": 1})),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    // By unique id too.
    let by_id = world
        .api(
            &admin,
            Method::POST,
            &credentials_path(&target.unique_id, "generateIdToken"),
            Some(json!({"audience": "https://x"})),
        )
        .await;
    assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.text);
}

#[tokio::test]
async fn delegation_chains_check_every_hop() {
    let world = World::new();
    let middle = world.account("middle");
    let target = world.account("target");
    world.create_user("bob@example.com", None).await;
    let bob = world.user_token("bob@example.com").await;
    let sa_policy = |email: &str| kumo_control::ResourceRef::ServiceAccount {
        project: PROJECT.to_owned(),
        email: email.to_owned(),
    };
    // bob may act as `middle` only.
    world
        .harness
        .control
        .grant_roles(
            &sa_policy(&middle.email),
            &[(
                "roles/iam.serviceAccountTokenCreator",
                "user:bob@example.com".to_owned(),
            )],
        )
        .unwrap();
    let body = json!({"scope": [CLOUD_PLATFORM], "delegates": [format!("projects/-/serviceAccounts/{}", middle.email)]});
    let missing_hop = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "generateAccessToken"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        missing_hop.status,
        StatusCode::FORBIDDEN,
        "{}",
        missing_hop.text
    );
    assert_eq!(
        missing_hop.json()["error"]["message"],
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
    );
    // `middle` may act as `target`: the chain holds.
    world
        .harness
        .control
        .grant_roles(
            &sa_policy(&target.email),
            &[(
                "roles/iam.serviceAccountTokenCreator",
                format!("serviceAccount:{}", middle.email),
            )],
        )
        .unwrap();
    let chained = world
        .api(
            &bob,
            Method::POST,
            &credentials_path(&target.email, "generateAccessToken"),
            Some(body),
        )
        .await;
    assert_eq!(chained.status, StatusCode::OK, "{}", chained.text);
    // Without bob's grant on the first delegate, the first hop fails with implicitDelegation.
    world.create_user("eve@example.com", None).await;
    let eve = world.user_token("eve@example.com").await;
    let first_hop = world
        .api(
            &eve,
            Method::POST,
            &credentials_path(&target.email, "generateAccessToken"),
            Some(json!({"scope": [CLOUD_PLATFORM], "delegates": [middle.email]})),
        )
        .await;
    assert_eq!(
        first_hop.json()["error"]["message"],
        "Permission 'iam.serviceAccounts.implicitDelegation' denied on resource (or it may not exist)."
    );
}

// ---- directory ----

#[tokio::test]
async fn directory_users_groups_and_memberships_feed_iam() {
    let world = World::new();
    let admin = world.user_token("admin@example.com").await;
    world
        .create_user("dana@example.com", Some("a long password"))
        .await;
    let listed = world
        .api(
            &admin,
            Method::GET,
            "/admin/directory/v1/users?customer=my_customer",
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let users = listed.json();
    let emails: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["primaryEmail"].as_str().unwrap())
        .collect();
    assert!(
        emails.contains(&"dana@example.com") && emails.contains(&"admin@example.com"),
        "{emails:?}"
    );
    assert!(!listed.text.contains("passwordHash"));
    let duplicate = world
        .api(
            &admin,
            Method::POST,
            "/admin/directory/v1/users",
            Some(json!({"primaryEmail": "dana@example.com"})),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let foreign = world
        .api(
            &admin,
            Method::POST,
            "/admin/directory/v1/users",
            Some(json!({"primaryEmail": "x@elsewhere.org"})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);

    let dana = world.user_token("dana@example.com").await;
    let refused = world
        .api(
            &dana,
            Method::POST,
            "/admin/directory/v1/users",
            Some(json!({"primaryEmail": "mallory@example.com"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    // Customer members may read the directory.
    assert_eq!(
        world
            .api(
                &dana,
                Method::GET,
                "/admin/directory/v1/users/admin@example.com",
                None
            )
            .await
            .status,
        StatusCode::OK
    );

    let customer = world.harness.organization.customer_id.clone();
    let created = world
        .api(
            &admin,
            Method::POST,
            "/v1/groups?initialGroupConfig=EMPTY",
            Some(json!({"groupKey": {"id": "devs@example.com"}, "parent": format!("customers/{customer}"), "displayName": "Devs", "labels": {"cloudidentity.googleapis.com/groups.discussion_forum": ""}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert_eq!(created.json()["done"], true);
    let looked_up = world
        .api(
            &admin,
            Method::GET,
            "/v1/groups:lookup?groupKey.id=devs%40example.com",
            None,
        )
        .await;
    let group_name = looked_up.json()["name"].as_str().expect("name").to_owned();
    assert_eq!(created.json()["response"]["name"], group_name.as_str());

    // A role granted to the group reaches its member once added.
    world.grant("roles/viewer", "group:devs@example.com");
    assert_eq!(
        world
            .api(&dana, Method::GET, PROJECT_PATH, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let added = world
        .api(&admin, Method::POST, &format!("/v1/{group_name}/memberships"), Some(json!({"preferredMemberKey": {"id": "dana@example.com"}, "roles": [{"name": "MEMBER"}]})))
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    assert_eq!(
        world
            .api(&dana, Method::GET, PROJECT_PATH, None)
            .await
            .status,
        StatusCode::OK
    );
    let again = world
        .api(
            &admin,
            Method::POST,
            &format!("/v1/{group_name}/memberships"),
            Some(json!({"preferredMemberKey": {"id": "dana@example.com"}})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let memberships = world
        .api(
            &admin,
            Method::GET,
            &format!("/v1/{group_name}/memberships"),
            None,
        )
        .await
        .json();
    let membership = memberships["memberships"][0]["name"]
        .as_str()
        .expect("membership")
        .to_owned();
    assert_eq!(
        memberships["memberships"][0]["preferredMemberKey"]["id"],
        "dana@example.com"
    );
    let removed = world
        .api(&admin, Method::DELETE, &format!("/v1/{membership}"), None)
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(
        world
            .api(&dana, Method::GET, PROJECT_PATH, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Deleting the user ends their tokens.
    let deleted = world
        .api(
            &admin,
            Method::DELETE,
            "/admin/directory/v1/users/dana@example.com",
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_refused(&world, &dana).await;
}

#[tokio::test]
async fn organizations_extension_creates_a_customer_and_needs_the_administrator() {
    let world = World::new();
    let admin = world.user_token("admin@example.com").await;
    let created = world
        .api(
            &admin,
            Method::POST,
            "/kumo/v1/organizations",
            Some(json!({"domain": "acme.test"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let organization = created.json();
    assert_eq!(organization["displayName"], "acme.test");
    let customer = organization["directoryCustomerId"]
        .as_str()
        .expect("customer")
        .to_owned();
    assert!(customer.starts_with("C0"));
    assert_eq!(
        world
            .harness
            .control
            .customer_for_domain("acme.test")
            .unwrap()
            .as_deref(),
        Some(customer.as_str())
    );
    let duplicate = world
        .api(
            &admin,
            Method::POST,
            "/kumo/v1/organizations",
            Some(json!({"domain": "acme.test"})),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    world.create_user("bob@example.com", None).await;
    let bob = world.user_token("bob@example.com").await;
    let refused = world
        .api(
            &bob,
            Method::POST,
            "/kumo/v1/organizations",
            Some(json!({"domain": "bob.test"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

// ---- metadata server ----

#[expect(clippy::unwrap_used, reason = "test helper")]
async fn metadata(router: &axum::Router, path: &str, flavor: bool) -> Reply {
    use tower::ServiceExt as _;
    let mut builder = axum::http::Request::builder().uri(path);
    if flavor {
        builder = builder.header("Metadata-Flavor", "Google");
    }
    let response = router
        .clone()
        .oneshot(builder.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[tokio::test]
async fn metadata_server_answers_what_client_libraries_ask() {
    let world = World::new();
    let account = world.account("runtime");
    let router = metadata_router(
        world.harness.control.clone(),
        WorkloadIdentity {
            service_account_email: account.email.clone(),
            project_id: PROJECT.to_owned(),
            project_number: world.harness.project.number.clone(),
            region: "us-central1".to_owned(),
            instance_id: "00bf4bf02d".to_owned(),
        },
    );
    let refused = metadata(&router, "/computeMetadata/v1/project/project-id", false).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .text
            .contains("Missing Metadata-Flavor:Google header.")
    );
    let ping = metadata(&router, "/", true).await;
    assert_eq!(ping.status, StatusCode::OK);
    assert_eq!(ping.headers["metadata-flavor"], "Google");
    let project = metadata(&router, "/computeMetadata/v1/project/project-id", true).await;
    assert_eq!(project.text, PROJECT);
    assert_ne!(project.headers["content-type"], "application/json");
    let number = metadata(
        &router,
        "/computeMetadata/v1/project/numeric-project-id",
        true,
    )
    .await;
    assert_eq!(number.text, world.harness.project.number);
    let region = metadata(&router, "/computeMetadata/v1/instance/region", true).await;
    assert_eq!(
        region.text,
        format!(
            "projects/{}/regions/us-central1",
            world.harness.project.number
        )
    );
    let info = metadata(
        &router,
        "/computeMetadata/v1/instance/service-accounts/default/?recursive=true",
        true,
    )
    .await;
    assert_eq!(info.headers["content-type"], "application/json");
    assert_eq!(
        info.json(),
        json!({"aliases": ["default"], "email": account.email, "scopes": [CLOUD_PLATFORM]})
    );
    let email = metadata(
        &router,
        &format!(
            "/computeMetadata/v1/instance/service-accounts/{}/email",
            account.email
        ),
        true,
    )
    .await;
    assert_eq!(email.text, account.email);
    let token = metadata(
        &router,
        "/computeMetadata/v1/instance/service-accounts/default/token?scopes=a,b",
        true,
    )
    .await;
    assert_eq!(token.headers["content-type"], "application/json");
    let token = token.json();
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expires_in"].as_i64().unwrap() > 3500);
    let access = token["access_token"].as_str().unwrap();
    assert_authenticated(&world, access).await;
    let identity = metadata(&router, "/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://hello.run.app&format=full", true).await;
    assert_eq!(identity.status, StatusCode::OK);
    assert_eq!(claims_of(&identity.text)["aud"], "https://hello.run.app");
    assert_eq!(claims_of(&identity.text)["email"], account.email.as_str());
    let no_audience = metadata(
        &router,
        "/computeMetadata/v1/instance/service-accounts/default/identity",
        true,
    )
    .await;
    assert_eq!(no_audience.status, StatusCode::BAD_REQUEST);
    let unknown = metadata(&router, "/computeMetadata/v1/instance/nothing", true).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let other_account = metadata(
        &router,
        "/computeMetadata/v1/instance/service-accounts/someone@else.com/token",
        true,
    )
    .await;
    assert_eq!(other_account.status, StatusCode::NOT_FOUND);
    let all = metadata(&router, "/computeMetadata/v1/?recursive=true", true)
        .await
        .json();
    assert_eq!(all["project"]["projectId"], PROJECT);
    assert_eq!(all["instance"]["id"], "00bf4bf02d");
    // A disabled runtime account gets no token.
    world.set_disabled(Collection::ServiceAccounts, &account.record_name, true);
    let disabled = metadata(
        &router,
        "/computeMetadata/v1/instance/service-accounts/default/token",
        true,
    )
    .await;
    assert_eq!(disabled.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn userinfo_and_an_honest_discovery_document() {
    let world = World::new();
    let discovery = world
        .send(Method::GET, "/.well-known/openid-configuration", &[], None)
        .await
        .json();
    assert!(discovery.get("device_authorization_endpoint").is_none());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        discovery["userinfo_endpoint"],
        "http://127.0.0.1:8080/v1/userinfo"
    );
    let admin = world.user_token("admin@example.com").await;
    let auth = format!("Bearer {admin}");
    let info = world
        .send(
            Method::GET,
            "/v1/userinfo",
            &[("authorization", auth.as_str())],
            None,
        )
        .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.json()["email"], "admin@example.com");
    assert_eq!(info.json()["hd"], "example.com");
    let refused = world
        .send(
            Method::GET,
            "/oauth2/v3/userinfo",
            &[("authorization", "Bearer nope")],
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_without_an_api_scope_are_refused_at_apis_but_work_for_userinfo() {
    let world = World::new();
    let account = world.account("runner");
    let reply = world
        .token(&[
            ("grant_type", JWT_BEARER),
            (
                "assertion",
                &assertion(
                    &account,
                    &[(
                        "scope",
                        json!("openid https://www.googleapis.com/auth/userinfo.email"),
                    )],
                ),
            ),
        ])
        .await;
    let token = reply.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let refused = world.api(&token, Method::GET, PROJECT_PATH, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(
        refused.json()["error"]["message"],
        "Request had insufficient authentication scopes."
    );
    let auth = format!("Bearer {token}");
    let info = world
        .send(
            Method::GET,
            "/v1/userinfo",
            &[("authorization", auth.as_str())],
            None,
        )
        .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.json()["email"], account.email.as_str());
    // A user's ID token carries the hosted domain.
    let credentials = world
        .harness
        .control
        .authorized_user_credentials("admin@example.com")
        .expect("credentials");
    let refreshed = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "kumo-cli"),
            ("client_secret", "kumo-cli-secret"),
            (
                "refresh_token",
                credentials["refresh_token"].as_str().expect("refresh"),
            ),
        ])
        .await;
    let claims = claims_of(refreshed.json()["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["hd"], "example.com");
    assert_eq!(claims["aud"], "kumo-cli");
}

#[test]
fn arbitrary_and_mutated_bearer_tokens_never_authenticate() {
    use proptest::prelude::*;
    let world = World::new();
    let account = world.account("runner");
    let iat = now();
    let valid = signed(
        &account,
        json!({"iss": account.email, "sub": account.email, "aud": "https://run.googleapis.com/", "iat": iat, "exp": iat + 3600}),
    );
    let control = world.harness.control.clone();
    assert!(
        control
            .authenticate_bearer(Some(&format!("Bearer {valid}")))
            .is_ok()
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(".{0,300}", 0..valid.len(), any::<u8>()),
            |(noise, position, byte)| {
                // Random text is never a credential.
                let refused = control.authenticate_bearer(Some(&format!("Bearer {noise}")));
                let unauthenticated =
                    matches!(refused, Err(kumo_control::Error::Unauthenticated { .. }));
                prop_assert!(unauthenticated);
                // Any single-byte change to a valid self-signed JWT is refused (or is the same token).
                let mut bytes = valid.clone().into_bytes();
                let replacement =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
                        [usize::from(byte) % 65];
                bytes[position] = replacement;
                let mutated = String::from_utf8(bytes).expect("ascii");
                if mutated != valid {
                    let outcome = control.authenticate_bearer(Some(&format!("Bearer {mutated}")));
                    prop_assert!(outcome.is_err(), "mutation at {} accepted", position);
                }
                Ok(())
            },
        )
        .expect("property holds");
}
