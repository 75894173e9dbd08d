//! Shared set-up of the identity end-to-end tests: a Kumo in-process with the server's real
//! authenticator (not the harness's test tokens), a bootstrapped administrator, and helpers that
//! make service accounts, keys and tokens the way clients do.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test set-up fails loudly"
)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use kumo_api::Api;
use kumo_api::testing::Harness;
use kumo_control::identity::{BootstrapConfig, BootstrapReport};
use kumo_control::records::Collection;
use kumo_control::{Config, ImageAccessCheck, Mode};
use kumo_identity::jwt::Claims;
use kumo_identity::keys::RsaKey;
use kumo_store::Write;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PROJECT: &str = "demo-project";

pub struct World {
    pub harness: Harness,
    pub router: Router,
    pub bootstrap: BootstrapReport,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A service account with one key.
pub struct Account {
    pub email: String,
    pub unique_id: String,
    pub record_name: String,
    pub key: RsaKey,
}

impl World {
    pub fn new() -> World {
        World::with_mode(Mode::Dev)
    }

    pub fn with_mode(mode: Mode) -> World {
        World::with_config(Config {
            external_url: "http://127.0.0.1:8080".to_owned(),
            issuer: None,
            mode,
            image_access_check: ImageAccessCheck::Enforce,
        })
    }

    pub fn with_config(config: Config) -> World {
        let harness = Harness::with_config(config);
        let bootstrap = harness
            .control
            .bootstrap_identity(&BootstrapConfig {
                domain: "example.com".to_owned(),
                customer_id: None,
                admin_email: "admin@example.com".to_owned(),
            })
            .expect("bootstrap");
        let router = kumo_api::router(Api::new(harness.control.clone()));
        World {
            harness,
            router,
            bootstrap,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = self
            .router
            .clone()
            .oneshot(
                builder
                    .body(body.map(Body::from).unwrap_or_else(Body::empty))
                    .expect("request"),
            )
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// `POST /token` with a form body.
    pub async fn token(&self, form: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        self.send(
            Method::POST,
            "/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.join("&")),
        )
        .await
    }

    /// A JSON API call with `Authorization: Bearer TOKEN`.
    pub async fn api(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.send(method, path, &headers, body.map(|b| b.to_string()))
            .await
    }

    /// A service account in the demo project with one user-managed key.
    pub fn account(&self, id: &str) -> Account {
        let control = &self.harness.control;
        let email = format!("{id}@{PROJECT}.iam.gserviceaccount.com");
        let write = control
            .service_account_write(PROJECT, &email, id)
            .expect("account write");
        control.commit(&[write]).expect("account");
        let record_name = format!("projects/{PROJECT}/serviceAccounts/{email}");
        let record = control
            .load::<Value>(Collection::ServiceAccounts, &record_name)
            .expect("load")
            .expect("account");
        let unique_id = record.value["uniqueId"]
            .as_str()
            .expect("uniqueId")
            .to_owned();
        let key = RsaKey::generate(&mut rand_core()).expect("key");
        self.add_key(&record_name, &key);
        Account {
            email,
            unique_id,
            record_name,
            key,
        }
    }

    pub fn add_key(&self, record_name: &str, key: &RsaKey) {
        let pem = key.public_pem().expect("pem");
        self.harness
            .control
            .commit(&[Write::Create {
                collection: Collection::ServiceAccountKeys.as_str().to_owned(),
                name: format!("{record_name}/keys/{}", key.kid),
                parent: Some(record_name.to_owned()),
                data: json!({
                    "name": format!("{record_name}/keys/{}", key.kid),
                    "keyAlgorithm": "KEY_ALG_RSA_2048",
                    "publicKeyData": base64::engine::general_purpose::STANDARD.encode(pem),
                    "validAfterTime": "2020-01-01T00:00:00Z",
                    "validBeforeTime": "9999-12-31T23:59:59Z",
                    "keyOrigin": "GOOGLE_PROVIDED",
                    "keyType": "USER_MANAGED",
                }),
            }])
            .expect("key");
    }

    /// Sets `disabled` on a stored record (an account or a key).
    pub fn set_disabled(&self, collection: Collection, name: &str, disabled: bool) {
        let control = &self.harness.control;
        let mut record = control
            .load::<Value>(collection, name)
            .expect("load")
            .expect("record")
            .value;
        record["disabled"] = json!(disabled);
        control
            .commit(&[Write::Update {
                collection: collection.as_str().to_owned(),
                name: name.to_owned(),
                data: record,
                expected_revision: None,
            }])
            .expect("update");
    }

    /// An access token for a service account through the jwt-bearer grant.
    pub async fn sa_token(&self, account: &Account) -> String {
        let reply = self
            .token(&[
                ("grant_type", JWT_BEARER),
                (
                    "assertion",
                    &assertion(account, &[("scope", json!(CLOUD_PLATFORM))]),
                ),
            ])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// An access token for a directory user through the refresh-token grant.
    pub async fn user_token(&self, email: &str) -> String {
        let credentials = self
            .harness
            .control
            .authorized_user_credentials(email)
            .expect("credentials");
        let reply = self
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
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Creates a directory user as the administrator.
    pub async fn create_user(&self, email: &str, password: Option<&str>) {
        let admin = self.user_token("admin@example.com").await;
        let mut body =
            json!({"primaryEmail": email, "name": {"givenName": "Test", "familyName": "User"}});
        if let Some(password) = password {
            body["password"] = json!(password);
        }
        let reply = self
            .api(
                &admin,
                Method::POST,
                "/admin/directory/v1/users",
                Some(body),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }

    pub fn grant(&self, role: &str, member: &str) {
        self.harness.grant_on_project(role, member);
    }
}

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

pub fn rand_core() -> rand::rngs::OsRng {
    rand::rngs::OsRng
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A jwt-bearer assertion as google-auth builds it (aud fixed to Google's token URI).
pub fn assertion(account: &Account, extra: &[(&str, Value)]) -> String {
    let iat = now();
    let mut claims = Claims::new();
    claims.insert("iss".into(), json!(account.email));
    claims.insert("aud".into(), json!(GOOGLE_TOKEN_URI));
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(iat + 3600));
    for (name, value) in extra {
        claims.insert((*name).to_owned(), value.clone());
    }
    kumo_identity::jwt::encode_rs256(&account.key, &claims)
}

/// Signs arbitrary claims with the account's key.
pub fn signed(account: &Account, claims: Value) -> String {
    let Value::Object(claims) = claims else {
        panic!("claims must be an object")
    };
    kumo_identity::jwt::encode_rs256(&account.key, &claims)
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The claims of a JWT, unverified (tests inspect what Kumo minted).
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("json")
}

/// The query parameter `name` of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| kumo_api::path::percent_decode(v).unwrap_or_else(|| v.to_owned()))
    })
}
