//! Identity-Aware Proxy directly on Cloud Run services (cloudrun-security-spec.md §6).
//!
//! The control plane's half of IAP, free of HTTP: the IAP IAM resources (`iap_web`,
//! `cloud_run-REGION`, services; `settings.rs`) with their policy and settings methods, IAP's ES256 signing key (published as a JWK set like
//! `https://www.gstatic.com/iap/verify/public_key-jwk`), the signed browser session, the
//! `X-Goog-IAP-JWT-Assertion` the workload receives, and the `accessViaIAP` decision with its
//! audit entry. The data-plane phase (kumo-gateway) turns these into redirects, pages and
//! headers.
//!
//! Order of checks on Cloud Run (§6.2): ingress first (a request it excludes gets Cloud Run's 404
//! before any sign-in), then IAP decides; an admitted request then goes through
//! Cloud Run's own invoker check as the IAP service agent
//! `service-PROJECT_NUMBER@gcp-sa-iap.iam.gserviceaccount.com`, never as the end user. With the
//! invoker check disabled (`invokerIamDisabled`), IAP still decides and Cloud Run admits the agent
//! without an IAM check, so the agent then needs no `roles/run.invoker`.

mod settings;

pub use settings::{EffectiveIapSettings, IapAction, IapLevel, domain_allowed, iap_permission};

use kumo_identity::jwt::{self, Alg, Claims, JwtError, Validation};
use kumo_identity::keys::{EcKey, VerifyKey};
use kumo_store::{ListQuery, Write};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::audit::{AuditEvent, AuditLog, MonitoredResource};
use crate::records::Collection;
use crate::{Call, Caller, Control, Error, ResourceRef};

/// `iss` of every IAP assertion.
pub const IAP_ISSUER: &str = "https://cloud.google.com/iap";
/// The permission IAP checks (the only one of `roles/iap.httpsResourceAccessor`).
pub const ACCESS_VIA_IAP: &str = "iap.webServiceVersions.accessViaIAP";
/// `getIamPolicy` on a Cloud Run IAP resource. UNCONFIRMED which of the `iap.web*` levels Google
/// checks for `cloud_run-REGION/services/S`; the service-version level is the one that also
/// carries `accessViaIAP`.
pub const GET_IAM_POLICY: &str = "iap.webServiceVersions.getIamPolicy";
/// `setIamPolicy` on a Cloud Run IAP resource (same caveat).
pub const SET_IAM_POLICY: &str = "iap.webServiceVersions.setIamPolicy";
/// `getIapSettings` on a Cloud Run IAP resource.
pub const GET_SETTINGS: &str = "iap.webServiceVersions.getSettings";
/// `updateIapSettings` on a Cloud Run IAP resource.
pub const UPDATE_SETTINGS: &str = "iap.webServiceVersions.updateSettings";
/// The OAuth client IAP signs browsers in with. Google uses a Google-managed client that lives in
/// a Google project, not the customer's (§6.5). Kumo reuses its built-in public client, whose
/// loopback redirect URIs cover the services' `http://127.0.0.1:PORT` URLs.
pub const IAP_OAUTH_CLIENT_ID: &str = crate::identity::CLI_CLIENT_ID;
/// The OAuth redirect relay on Kumo's API host, and IAP's callback path on every service host.
pub const RELAY_PATH: &str = "/_gcp_iap/handle_redirect";
/// Clock skew tolerated on programmatic ID tokens.
const TOKEN_LEEWAY: i64 = 5;
/// Lifetime of an assertion: Google caps it at 10 minutes (§6.4).
pub const ASSERTION_LIFETIME: i64 = 600;
/// Lifetime of a browser session before IAP signs the user in again.
pub const SESSION_LIFETIME: i64 = 3600;
/// Lifetime of a pending sign-in (the nonce cookie).
pub const SIGN_IN_LIFETIME: i64 = 600;

/// Record-name prefix of published IAP keys in [`Collection::SigningKeys`] (the issuer's own
/// keys are `keys/KID`).
const PUBLISHED_KEYS: &str = "iap-keys/";
/// Prefix of the key that signs browser sessions; never published.
const SESSION_KEYS: &str = "iap-session-keys/";
/// `iss` of session and sign-in cookies: distinct from [`IAP_ISSUER`], so that a cookie can never
/// pass as an assertion or the other way round even though both are ES256.
const SESSION_ISSUER: &str = "kumo-iap-session";
/// `typ` claims that keep the two cookie kinds apart.
const TYP_SESSION: &str = "session";
const TYP_SIGN_IN: &str = "sign-in";

/// The refusals IAP itself gives to programmatic callers, with Google's texts (§6.5, 3rd-party).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IapRefusal {
    /// No credentials at all.
    MissingCredentials,
    /// The bearer token did not verify.
    InvalidToken(JwtError),
    /// The token's `email` claim is missing or not a string.
    EmailNotString,
}

impl IapRefusal {
    /// The body IAP answers with (401).
    pub fn message(&self) -> String {
        match self {
            IapRefusal::MissingCredentials => "Invalid IAP credentials: empty token".to_owned(),
            IapRefusal::InvalidToken(JwtError::WrongAudience) => {
                "Invalid IAP credentials: Invalid bearer token. Invalid JWT audience".to_owned()
            }
            IapRefusal::InvalidToken(error) => {
                format!("Invalid IAP credentials: Unable to parse JWT: {error}")
            }
            IapRefusal::EmailNotString => {
                "Invalid IAP credentials: JWT 'email' claim isn't a string".to_owned()
            }
        }
    }
}

/// Someone IAP has authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IapUser {
    /// The principal IAM sees.
    pub caller: Caller,
    /// The verified email.
    pub email: String,
    /// The account's unique numeric id (`sub` of its ID token).
    pub user_id: String,
    /// The hosted domain, for Workspace accounts.
    pub hd: Option<String>,
}

impl IapUser {
    /// The user from a verified Google-shaped ID token.
    pub fn from_id_token(claims: &Claims) -> Result<IapUser, IapRefusal> {
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .ok_or(IapRefusal::EmailNotString)?;
        let user_id = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or(IapRefusal::InvalidToken(JwtError::MissingClaim("sub")))?;
        let caller = if email.ends_with(".gserviceaccount.com") {
            Caller::ServiceAccount {
                email: email.to_owned(),
            }
        } else {
            Caller::User {
                email: email.to_owned(),
            }
        };
        Ok(IapUser {
            caller,
            email: email.to_owned(),
            user_id: user_id.to_owned(),
            hd: claims.get("hd").and_then(Value::as_str).map(str::to_owned),
        })
    }
}

/// A Cloud Run service as IAP sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IapTarget {
    /// `projects/PROJECT_ID/locations/REGION/services/S`.
    pub service_name: String,
    /// Project id.
    pub project_id: String,
    /// Project number.
    pub project_number: String,
    /// Region.
    pub region: String,
    /// Service id.
    pub service: String,
    /// `iapEnabled`.
    pub iap_enabled: bool,
    /// `invokerIamDisabled`.
    pub invoker_iam_disabled: bool,
    /// The service's URLs (the audience of the IAP agent's token to Cloud Run).
    pub urls: Vec<String>,
}

impl IapTarget {
    /// The IAP IAM resource (`projects/PN/iap_web/cloud_run-REGION/services/S`).
    pub fn resource(&self) -> ResourceRef {
        ResourceRef::IapRunService {
            project: self.project_id.clone(),
            project_number: self.project_number.clone(),
            region: self.region.clone(),
            service: self.service.clone(),
        }
    }

    /// The assertion's `aud` for Cloud Run: `/projects/PN/locations/REGION/services/S` (§6.4).
    pub fn assertion_audience(&self) -> String {
        format!(
            "/projects/{}/locations/{}/services/{}",
            self.project_number, self.region, self.service
        )
    }

    /// The IAP service agent that calls the service for IAP.
    pub fn agent_email(&self) -> String {
        iap_service_agent(&self.project_number)
    }

    /// A per-service suffix for cookie names. Browsers share cookies across the ports of one
    /// host (all `http://127.0.0.1:PORT` service URLs), so each service needs its own name; the
    /// value is bound to the service too.
    fn cookie_suffix(&self) -> String {
        let digest = Sha256::digest(self.resource().full_name().as_bytes());
        digest
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The name of the session cookie (Google: `__Host-GCP_IAP_AUTH_TOKEN_…`; the `__Host-`
    /// prefix needs HTTPS, which Kumo's loopback URLs are not).
    pub fn session_cookie_name(&self) -> String {
        format!("GCP_IAP_AUTH_TOKEN_{}", self.cookie_suffix())
    }

    /// The name of the cookie that carries a pending sign-in (Google: `GCP_IAP_XSRF_NONCE_…`).
    pub fn sign_in_cookie_name(&self) -> String {
        format!("GCP_IAP_XSRF_NONCE_{}", self.cookie_suffix())
    }
}

/// `service-PROJECT_NUMBER@gcp-sa-iap.iam.gserviceaccount.com`.
pub fn iap_service_agent(project_number: &str) -> String {
    format!("service-{project_number}@gcp-sa-iap.iam.gserviceaccount.com")
}

/// A sign-in in progress: what the nonce cookie carries between the redirect to the sign-in page
/// and IAP's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    /// The `state` sent to the authorization endpoint.
    pub nonce: String,
    /// The PKCE verifier for the code exchange.
    pub code_verifier: String,
    /// Where the browser goes once signed in (a path on the service).
    pub return_to: String,
}

impl PendingSignIn {
    /// A fresh sign-in returning to `return_to` (a path; anything else becomes `/`).
    pub fn new(return_to: &str) -> PendingSignIn {
        let return_to = if return_to.starts_with('/') && !return_to.starts_with("//") {
            return_to
        } else {
            "/"
        };
        PendingSignIn {
            nonce: random_token(),
            code_verifier: random_token(),
            return_to: return_to.to_owned(),
        }
    }

    /// The OAuth `state`: the service origin the relay returns to, then the nonce.
    pub fn state(&self, origin: &str) -> String {
        use base64::Engine as _;
        format!(
            "{}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(origin),
            self.nonce
        )
    }

    /// The PKCE S256 challenge of the verifier.
    pub fn code_challenge(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(self.code_verifier.as_bytes()))
    }
}

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The PEM SubjectPublicKeyInfo of a P-256 point given as JWK coordinates. The DER is fixed
/// apart from the point: SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 04||x||y }.
fn p256_spki_pem(x: &str, y: &str) -> Result<String, Error> {
    use base64::Engine as _;
    const PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let decode = |coordinate: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(coordinate)
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| Error::internal("IAP JWK coordinate is not 32 bytes"))
    };
    let mut der = PREFIX.to_vec();
    der.push(0x04);
    der.extend(decode(x)?);
    der.extend(decode(y)?);
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    Ok(pem)
}

fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Control {
    /// `POST /v1/{resource}:getIamPolicy` on any IAP level (`projects/PN/iap_web`,
    /// `…/cloud_run-R`, `…/services/S`).
    pub fn get_iap_iam_policy(
        &self,
        call: &Call,
        resource: &ResourceRef,
        requested_version: i64,
    ) -> Result<Value, Error> {
        let permission = iap_permission(resource, IapAction::GetIamPolicy);
        self.get_iam_policy(call, resource, permission, requested_version)
    }

    /// `…:setIamPolicy`.
    pub fn set_iap_iam_policy(
        &self,
        call: &Call,
        resource: &ResourceRef,
        policy: &Value,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let permission = iap_permission(resource, IapAction::SetIamPolicy);
        self.set_iam_policy(call, resource, permission, policy, update_mask)
    }

    /// `…:testIamPermissions`.
    pub fn test_iap_iam_permissions(
        &self,
        call: &Call,
        resource: &ResourceRef,
        permissions: &[String],
    ) -> Result<Vec<String>, Error> {
        self.test_iam_permissions(call, resource, permissions)
    }

    /// The service named `projects/PROJECT_ID/locations/R/services/S` as IAP sees it, if it exists.
    pub fn iap_target(&self, service_name: &str) -> Result<Option<IapTarget>, Error> {
        let Some(stored) = self.load::<Value>(Collection::Services, service_name)? else {
            return Ok(None);
        };
        let parts: Vec<&str> = service_name.split('/').collect();
        let [_, project_id, _, region, _, service] = parts.as_slice() else {
            return Err(Error::internal(format!(
                "unexpected service name `{service_name}`"
            )));
        };
        let Some(project) = self.resolve_project(project_id)? else {
            return Ok(None);
        };
        let service_value = &stored.value;
        Ok(Some(IapTarget {
            service_name: service_name.to_owned(),
            project_id: project.id,
            project_number: project.number,
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            iap_enabled: service_value["iapEnabled"].as_bool().unwrap_or(false),
            invoker_iam_disabled: service_value["invokerIamDisabled"]
                .as_bool()
                .unwrap_or(false),
            urls: service_value["urls"]
                .as_array()
                .map(|urls| {
                    urls.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }

    /// `GET /iap/verify/public_key-jwk`: the JWK set of IAP's assertion keys.
    pub fn iap_jwks(&self) -> Result<Value, Error> {
        self.current_ec_key(PUBLISHED_KEYS)?;
        let keys: Vec<EcKey> = self
            .ec_keys(PUBLISHED_KEYS)?
            .into_iter()
            .map(|(_, key)| key)
            .collect();
        Ok(kumo_identity::docs::iap_jwks(&keys))
    }

    /// `GET /iap/verify/public_key`: the same keys as a JSON map `kid` → PEM public key
    /// (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo), Google's older document.
    pub fn iap_public_key_pems(&self) -> Result<Value, Error> {
        let jwks = self.iap_jwks()?;
        let mut pems = serde_json::Map::new();
        for jwk in jwks["keys"].as_array().into_iter().flatten() {
            let (Some(kid), Some(x), Some(y)) =
                (jwk["kid"].as_str(), jwk["x"].as_str(), jwk["y"].as_str())
            else {
                return Err(Error::internal("IAP JWK without kid, x or y"));
            };
            pems.insert(kid.to_owned(), json!(p256_spki_pem(x, y)?));
        }
        Ok(Value::Object(pems))
    }

    /// The signed `X-Goog-IAP-JWT-Assertion` for `user` reaching `target` (§6.4).
    pub fn mint_iap_assertion(&self, target: &IapTarget, user: &IapUser) -> Result<String, Error> {
        let key = self.current_ec_key(PUBLISHED_KEYS)?;
        let now = self.now().timestamp();
        let mut claims = Claims::new();
        claims.insert("aud".into(), json!(target.assertion_audience()));
        claims.insert("email".into(), json!(user.email));
        claims.insert("exp".into(), json!(now + ASSERTION_LIFETIME));
        if let Some(hd) = self.hosted_domain(user)? {
            claims.insert("hd".into(), json!(hd));
        }
        claims.insert("iat".into(), json!(now));
        claims.insert("iss".into(), json!(IAP_ISSUER));
        claims.insert(
            "sub".into(),
            json!(format!("accounts.google.com:{}", user.user_id)),
        );
        Ok(jwt::encode_es256(&key, &claims))
    }

    /// `hd`: the token's own claim, else the domain of a directory (Workspace) user, as Google
    /// sets it for hosted-domain accounts. Service accounts and unknown users have none.
    fn hosted_domain(&self, user: &IapUser) -> Result<Option<String>, Error> {
        if user.hd.is_some() {
            return Ok(user.hd.clone());
        }
        if !matches!(user.caller, Caller::User { .. })
            || self.directory_user(&user.email)?.is_none()
        {
            return Ok(None);
        }
        Ok(user
            .email
            .rsplit_once('@')
            .map(|(_, domain)| domain.to_ascii_lowercase()))
    }

    /// The session cookie value for `user` on `target` (bound to the service's IAP resource).
    pub fn mint_iap_session(&self, target: &IapTarget, user: &IapUser) -> Result<String, Error> {
        let now = self.now().timestamp();
        let mut claims = Claims::new();
        claims.insert("aud".into(), json!(target.resource().full_name()));
        claims.insert("email".into(), json!(user.email));
        claims.insert("exp".into(), json!(now + SESSION_LIFETIME));
        if let Some(hd) = &user.hd {
            claims.insert("hd".into(), json!(hd));
        }
        claims.insert("iat".into(), json!(now));
        claims.insert("iss".into(), json!(SESSION_ISSUER));
        claims.insert("sub".into(), json!(user.user_id));
        claims.insert("typ".into(), json!(TYP_SESSION));
        Ok(jwt::encode_es256(
            &self.current_ec_key(SESSION_KEYS)?,
            &claims,
        ))
    }

    /// The user of a session cookie, if it is valid for `target` and unexpired.
    pub fn verify_iap_session(
        &self,
        target: &IapTarget,
        cookie: &str,
    ) -> Result<Option<IapUser>, Error> {
        let Some(claims) = self.verify_session_token(target, cookie, TYP_SESSION)? else {
            return Ok(None);
        };
        Ok(IapUser::from_id_token(&claims).ok())
    }

    /// The nonce cookie value of a pending sign-in on `target`.
    pub fn mint_iap_sign_in(
        &self,
        target: &IapTarget,
        pending: &PendingSignIn,
    ) -> Result<String, Error> {
        let now = self.now().timestamp();
        let mut claims = Claims::new();
        claims.insert("aud".into(), json!(target.resource().full_name()));
        claims.insert("exp".into(), json!(now + SIGN_IN_LIFETIME));
        claims.insert("iat".into(), json!(now));
        claims.insert("iss".into(), json!(SESSION_ISSUER));
        claims.insert("nonce".into(), json!(pending.nonce));
        claims.insert("return_to".into(), json!(pending.return_to));
        claims.insert("typ".into(), json!(TYP_SIGN_IN));
        claims.insert("verifier".into(), json!(pending.code_verifier));
        Ok(jwt::encode_es256(
            &self.current_ec_key(SESSION_KEYS)?,
            &claims,
        ))
    }

    /// The pending sign-in of a nonce cookie, if it is valid for `target` and matches `state`.
    pub fn verify_iap_sign_in(
        &self,
        target: &IapTarget,
        cookie: &str,
        state: &str,
    ) -> Result<Option<PendingSignIn>, Error> {
        let Some(claims) = self.verify_session_token(target, cookie, TYP_SIGN_IN)? else {
            return Ok(None);
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(nonce), Some(code_verifier), Some(return_to)) =
            (text("nonce"), text("verifier"), text("return_to"))
        else {
            return Ok(None);
        };
        if state.rsplit_once('.').map(|(_, nonce)| nonce) != Some(nonce.as_str()) {
            return Ok(None);
        }
        Ok(Some(PendingSignIn {
            nonce,
            code_verifier,
            return_to,
        }))
    }

    fn verify_session_token(
        &self,
        target: &IapTarget,
        token: &str,
        typ: &str,
    ) -> Result<Option<Claims>, Error> {
        let keys = self.ec_keys(SESSION_KEYS)?;
        let audience = target.resource().full_name();
        let audiences = [audience.as_str()];
        let validation = Validation {
            alg: Alg::Es256,
            now: self.now().timestamp(),
            leeway: 0,
            audiences: &audiences,
            issuers: &[SESSION_ISSUER],
            max_lifetime: Some(SESSION_LIFETIME),
        };
        let lookup = |kid: &str| {
            keys.iter()
                .find(|(_, key)| key.kid == kid)
                .map(|(_, key)| VerifyKey::Es256(key.public()))
        };
        match jwt::verify(token, &validation, lookup) {
            Ok(claims) if claims.get("typ").and_then(Value::as_str) == Some(typ) => {
                Ok(Some(claims))
            }
            Ok(_) | Err(_) => Ok(None),
        }
    }

    /// IAP's decision: does `user` hold `iap.webServiceVersions.accessViaIAP` on the service's IAP
    /// resource (through its own policy or inherited from the project, folders, organization)?
    /// Writes the Data Access audit entry Google writes for IAP decisions.
    pub fn iap_authorize(&self, target: &IapTarget, user: &IapUser) -> Result<bool, Error> {
        let resource = target.resource();
        let call = Call::new(user.caller.clone());
        // The allowed-domains setting turns away everyone else before IAM is asked.
        let settings = self.effective_iap_settings(&resource)?;
        let outcome = match &settings.allowed_domains {
            Some(domains) if !domain_allowed(&user.email, domains) => {
                Err(Error::PermissionDenied {
                    // UNCONFIRMED: Google's wording for a domain outside the allowed list.
                    message: format!(
                        "The domain of {} is not in the allowed domains of this IAP resource.",
                        user.email
                    ),
                    permission: Some(ACCESS_VIA_IAP.to_owned()),
                    resource: Some(resource.relative_name()),
                })
            }
            // A data-plane decision: it sees IAM changes after the propagation delay.
            _ => self.authorize_propagated(&call, ACCESS_VIA_IAP, &resource),
        };
        let granted = match &outcome {
            Ok(()) => true,
            Err(Error::PermissionDenied { .. }) => false,
            Err(other) => return Err(other.clone()),
        };
        self.write_audit(AuditEvent {
            service_name: "iap.googleapis.com",
            method_name: "AuthorizeUser".to_owned(),
            resource_name: target
                .assertion_audience()
                .trim_start_matches('/')
                .to_owned(),
            log_parent: format!("projects/{}", target.project_id),
            log: AuditLog::DataAccess,
            resource: MonitoredResource {
                kind: "cloud_run_revision",
                labels: vec![
                    ("project_id", target.project_id.clone()),
                    ("location", target.region.clone()),
                    ("service_name", target.service.clone()),
                    ("configuration_name", target.service.clone()),
                    ("revision_name", String::new()),
                ],
            },
            caller: user.caller.clone(),
            authorizations: call.authorizations(),
            status: outcome,
            request: None,
            response: None,
            caller_ip: None,
            user_agent: None,
        });
        Ok(granted)
    }

    /// The ID token IAP presents to Cloud Run as its service agent, in
    /// `X-Serverless-Authorization` (§6.2), for the service's first URL. Fails when the agent does
    /// not exist (never created with `generateServiceIdentity`) or is disabled.
    pub fn iap_agent_token(&self, target: &IapTarget) -> Result<String, Error> {
        let audience = target.urls.first().ok_or_else(|| {
            Error::internal(format!("service `{}` has no URL", target.service_name))
        })?;
        self.workload_id_token(&target.agent_email(), audience)
    }

    /// Verifies a programmatic caller's OIDC ID token for `target`: Kumo-signed, unexpired, and
    /// with an audience IAP accepts. Google's programmatic-authentication page: "OAuth 2.0 ID
    /// token - A Google-issued token for a human user or service account with the audience claim
    /// set to the resource ID of the IAP application", i.e. the OAuth client IAP signs users in
    /// with; and with the Google-managed client (Cloud Run's IAP) other clients must be
    /// allowlisted in `accessSettings.oauthSettings.programmaticClients`. So the accepted
    /// audiences are IAP's own client (Kumo's built-in client, which is also the audience of
    /// `kumo auth print-identity-token`) and the allowlisted clients — not the service URL,
    /// which is Cloud Run's audience, not IAP's.
    /// UNCONFIRMED: the managed client's id is Google's and not published, so whether real IAP
    /// on Cloud Run admits tokens for it without allowlisting; service-account signed JWTs
    /// (`aud` = the request URL), which Google also accepts, are not implemented.
    pub fn verify_iap_id_token(
        &self,
        target: &IapTarget,
        token: &str,
    ) -> Result<IapUser, IapRefusal> {
        let claims = self.verify_kumo_id_token(token)?;
        let user = IapUser::from_id_token(&claims)?;
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if audiences.contains(&IAP_OAUTH_CLIENT_ID) {
            return Ok(user);
        }
        let settings = self
            .effective_iap_settings(&target.resource())
            .map_err(|_| IapRefusal::InvalidToken(JwtError::WrongAudience))?;
        let allowlisted = audiences.iter().any(|aud| {
            settings
                .programmatic_clients
                .iter()
                .any(|client| client == aud)
        });
        if allowlisted {
            Ok(user)
        } else {
            Err(IapRefusal::InvalidToken(JwtError::WrongAudience))
        }
    }

    fn verify_kumo_id_token(&self, token: &str) -> Result<Claims, IapRefusal> {
        let ring = self
            .signing_keys()
            .map_err(|_| IapRefusal::InvalidToken(JwtError::UnknownKid(String::new())))?;
        kumo_identity::tokens::verify_id_token(
            &ring,
            token,
            &self.issuer(),
            &[],
            self.now().timestamp(),
            TOKEN_LEEWAY,
        )
        .map_err(IapRefusal::InvalidToken)
    }

    /// IAP's OAuth redirect URI: a relay on Kumo's own host (like Google's
    /// `iap.googleapis.com/…/handleRedirect`), so that one loopback redirect URI serves every
    /// service host; the relay sends the browser on to the service's own callback.
    pub fn iap_relay_uri(&self) -> String {
        format!("{}{RELAY_PATH}", self.base_url())
    }

    /// Where IAP sends a browser to sign in: Kumo's authorization endpoint with IAP's client, the
    /// relay as `redirect_uri`, `state` = the service origin and the pending sign-in's nonce, and
    /// the PKCE challenge.
    pub fn iap_sign_in_url(&self, pending: &PendingSignIn, origin: &str) -> String {
        format!(
            "{}/o/oauth2/v2/auth?client_id={}&redirect_uri={}&response_type=code&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
            self.base_url(),
            encode_component(IAP_OAUTH_CLIENT_ID),
            encode_component(&self.iap_relay_uri()),
            encode_component("openid email"),
            encode_component(&pending.state(origin)),
            pending.code_challenge(),
        )
    }

    /// The relay's destination for `state`: the service origin it names, only if that origin is
    /// one of an IAP-enabled service's URLs (never an open redirect).
    pub fn iap_relay_destination(&self, state: &str) -> Result<Option<String>, Error> {
        use base64::Engine as _;
        let Some((encoded, _nonce)) = state.rsplit_once('.') else {
            return Ok(None);
        };
        let Some(origin) = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        else {
            return Ok(None);
        };
        let Some(host) = origin.strip_prefix("http://") else {
            return Ok(None);
        };
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
        if !valid {
            return Ok(None);
        }
        let service = match host.strip_prefix("127.0.0.1:") {
            Some(port) => match port.parse::<u16>() {
                Ok(port) => self.service_for_port(port)?,
                Err(_) => None,
            },
            None => {
                let gateway_port = self.gateway_port().to_string();
                match host.rsplit_once(':') {
                    Some((_, port)) if port == gateway_port => self.service_for_host(host)?,
                    _ => None,
                }
            }
        };
        let Some(service) = service else {
            return Ok(None);
        };
        Ok(self
            .iap_target(&service)?
            .filter(|target| target.iap_enabled)
            .map(|_| origin))
    }

    /// IAP's callback: exchanges the authorization code (server-side, with the PKCE verifier)
    /// and returns the signed-in user. Any failure is a refusal: the browser starts over.
    pub fn complete_iap_sign_in(
        &self,
        pending: &PendingSignIn,
        code: &str,
        redirect_uri: &str,
    ) -> Result<IapUser, IapRefusal> {
        let request = crate::identity::TokenRequest {
            grant_type: Some("authorization_code".to_owned()),
            client_id: Some(IAP_OAUTH_CLIENT_ID.to_owned()),
            code: Some(code.to_owned()),
            redirect_uri: Some(redirect_uri.to_owned()),
            code_verifier: Some(pending.code_verifier.clone()),
            ..crate::identity::TokenRequest::default()
        };
        let response = self
            .token_grant(&request)
            .map_err(|_| IapRefusal::InvalidToken(JwtError::InvalidSignature))?;
        let id_token = response
            .id_token
            .ok_or(IapRefusal::InvalidToken(JwtError::WrongTokenType))?;
        let claims = self.verify_kumo_id_token(&id_token)?;
        IapUser::from_id_token(&claims)
    }

    /// The keys under `prefix`, newest first.
    fn ec_keys(&self, prefix: &str) -> Result<Vec<(chrono::DateTime<chrono::Utc>, EcKey)>, Error> {
        let query = ListQuery {
            name_prefix: Some(prefix.to_owned()),
            ..ListQuery::default()
        };
        let page = self
            .store()
            .list(Collection::SigningKeys.as_str(), &query)
            .map_err(crate::records::store_error)?;
        let mut keys = Vec::with_capacity(page.records.len());
        for record in page.records {
            let kid = record.name.strip_prefix(prefix).unwrap_or_default();
            let pem = record.data["privateKeyPem"].as_str().unwrap_or_default();
            let key = EcKey::from_pkcs8_pem(kid, pem).map_err(|error| {
                Error::internal(format!("corrupt IAP key `{}`: {error}", record.name))
            })?;
            keys.push((record.create_time, key));
        }
        keys.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.kid.cmp(&b.1.kid)));
        Ok(keys)
    }

    /// The newest key under `prefix`, created on first use. Two first uses racing both create a
    /// key; both stay valid (the JWK set publishes every key) and the newest signs.
    fn current_ec_key(&self, prefix: &str) -> Result<EcKey, Error> {
        if let Some((_, key)) = self.ec_keys(prefix)?.into_iter().next() {
            return Ok(key);
        }
        let key = EcKey::generate(&mut rand::rngs::OsRng);
        let pem = key.to_pkcs8_pem().map_err(Error::internal)?;
        self.commit(&[Write::Create {
            collection: Collection::SigningKeys.as_str().to_owned(),
            name: format!("{prefix}{}", key.kid),
            parent: None,
            data: json!({"kid": key.kid, "algorithm": "ES256", "privateKeyPem": pem}),
        }])?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kumo_store::{SqliteStore, SystemClock};

    use super::*;
    use crate::{Config, ImageAccessCheck, Mode, NewProject};

    fn control() -> (Control, String) {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let config = Config {
            external_url: "http://127.0.0.1:8080".into(),
            issuer: None,
            mode: Mode::Dev,
            image_access_check: ImageAccessCheck::Enforce,
        };
        let control = Control::new(config, store, Arc::new(SystemClock)).unwrap();
        let org = control
            .provision_organization("example.com", None, Some("user:admin@example.com"))
            .unwrap();
        let project = control
            .provision_project(NewProject {
                project_id: "demo-project".into(),
                display_name: "Demo".into(),
                parent: Some(format!("organizations/{}", org.id)),
                labels: Default::default(),
                owner: Some("user:alice@example.com".into()),
            })
            .unwrap();
        (control, project.number)
    }

    fn target(number: &str, service: &str) -> IapTarget {
        IapTarget {
            service_name: format!("projects/demo-project/locations/us-central1/services/{service}"),
            project_id: "demo-project".into(),
            project_number: number.into(),
            region: "us-central1".into(),
            service: service.into(),
            iap_enabled: true,
            invoker_iam_disabled: false,
            urls: vec![format!(
                "http://{service}-{number}.us-central1.run.localhost:8080"
            )],
        }
    }

    fn bob() -> IapUser {
        IapUser {
            caller: Caller::User {
                email: "bob@example.com".into(),
            },
            email: "bob@example.com".into(),
            user_id: "1234567890".into(),
            hd: Some("example.com".into()),
        }
    }

    #[test]
    fn assertion_verifies_against_the_published_jwks_with_googles_claims() {
        let (control, number) = control();
        let target = target(&number, "hello");
        let token = control.mint_iap_assertion(&target, &bob()).unwrap();
        let jwks = control.iap_jwks().unwrap();
        let header = jwt::decode_header(&token).unwrap();
        assert_eq!(header.alg, "ES256");
        let kid = header.kid.unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(jwks["keys"][0]["kid"], json!(kid));
        let keys: Vec<EcKey> = control
            .ec_keys(PUBLISHED_KEYS)
            .unwrap()
            .into_iter()
            .map(|(_, key)| key)
            .collect();
        let audience = format!("/projects/{number}/locations/us-central1/services/hello");
        let audiences = [audience.as_str()];
        let validation = Validation {
            alg: Alg::Es256,
            now: chrono::Utc::now().timestamp(),
            leeway: 30,
            audiences: &audiences,
            issuers: &[IAP_ISSUER],
            max_lifetime: Some(ASSERTION_LIFETIME),
        };
        let claims = jwt::verify(&token, &validation, |k| {
            keys.iter()
                .find(|key| key.kid == k)
                .map(|key| VerifyKey::Es256(key.public()))
        })
        .unwrap();
        assert_eq!(claims["email"], json!("bob@example.com"));
        assert_eq!(claims["sub"], json!("accounts.google.com:1234567890"));
        assert_eq!(claims["hd"], json!("example.com"));
        // The key persists: a second mint uses the same kid.
        let again = control.mint_iap_assertion(&target, &bob()).unwrap();
        assert_eq!(jwt::decode_header(&again).unwrap().kid.unwrap(), kid);
    }

    #[test]
    fn pem_map_names_the_same_keys_as_the_jwk_set() {
        use base64::Engine as _;
        let (control, _) = control();
        let jwks = control.iap_jwks().unwrap();
        let pems = control.iap_public_key_pems().unwrap();
        let kid = jwks["keys"][0]["kid"].as_str().unwrap();
        let pem = pems[kid].as_str().unwrap();
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(der.len(), 91);
        assert_eq!(der[26], 0x04);
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwks["keys"][0]["x"].as_str().unwrap())
            .unwrap();
        assert_eq!(&der[27..59], x.as_slice());
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\n")
                && pem.ends_with("-----END PUBLIC KEY-----\n")
        );
    }

    #[test]
    fn session_is_bound_to_its_service_and_never_passes_as_an_assertion() {
        let (control, number) = control();
        let a = target(&number, "service-a");
        let b = target(&number, "service-b");
        let cookie = control.mint_iap_session(&a, &bob()).unwrap();
        assert_eq!(
            control.verify_iap_session(&a, &cookie).unwrap(),
            Some(bob())
        );
        assert_eq!(control.verify_iap_session(&b, &cookie).unwrap(), None);
        assert_ne!(a.session_cookie_name(), b.session_cookie_name());
        // A sign-in cookie is not a session, and an assertion is not a session.
        let pending = PendingSignIn::new("/x?y=1");
        let sign_in = control.mint_iap_sign_in(&a, &pending).unwrap();
        assert_eq!(control.verify_iap_session(&a, &sign_in).unwrap(), None);
        let assertion = control.mint_iap_assertion(&a, &bob()).unwrap();
        assert_eq!(control.verify_iap_session(&a, &assertion).unwrap(), None);
        // Tampering breaks the signature.
        let mut tampered = cookie.clone();
        tampered.push('A');
        assert_eq!(control.verify_iap_session(&a, &tampered).unwrap(), None);
    }

    #[test]
    fn sign_in_round_trips_only_with_its_state() {
        let (control, number) = control();
        let a = target(&number, "hello");
        let pending = PendingSignIn::new("/reports?q=1");
        let cookie = control.mint_iap_sign_in(&a, &pending).unwrap();
        let state = pending.state("http://127.0.0.1:8100");
        assert_eq!(
            control.verify_iap_sign_in(&a, &cookie, &state).unwrap(),
            Some(pending.clone())
        );
        assert_eq!(
            control.verify_iap_sign_in(&a, &cookie, "other").unwrap(),
            None
        );
        assert_eq!(
            control
                .verify_iap_sign_in(&a, &cookie, &pending.nonce)
                .unwrap(),
            None
        );
        assert_eq!(
            control
                .verify_iap_sign_in(&target(&number, "other"), &cookie, &state)
                .unwrap(),
            None
        );
        // The relay only returns to URLs of IAP-enabled services (none exist here).
        assert_eq!(control.iap_relay_destination(&state).unwrap(), None);
        assert_eq!(
            control
                .iap_relay_destination(&pending.state("http://evil.example"))
                .unwrap(),
            None
        );
        assert_eq!(control.iap_relay_destination("garbage").unwrap(), None);
        // Open redirects are refused: only paths on the service itself.
        assert_eq!(PendingSignIn::new("https://evil.example/").return_to, "/");
        assert_eq!(PendingSignIn::new("//evil.example/").return_to, "/");
        assert_eq!(pending.code_challenge().len(), 43);
    }

    #[test]
    fn access_needs_the_accessor_role_on_the_service_or_an_ancestor() {
        let (control, number) = control();
        let hello = target(&number, "hello");
        assert!(!control.iap_authorize(&hello, &bob()).unwrap());
        control
            .grant_roles(
                &hello.resource(),
                &[(
                    "roles/iap.httpsResourceAccessor",
                    "user:bob@example.com".into(),
                )],
            )
            .unwrap();
        assert!(control.iap_authorize(&hello, &bob()).unwrap());
        // Inherited from the project, as in Google Cloud.
        let other = target(&number, "other");
        assert!(!control.iap_authorize(&other, &bob()).unwrap());
        control
            .grant_roles(
                &ResourceRef::Project("demo-project".into()),
                &[(
                    "roles/iap.httpsResourceAccessor",
                    "user:bob@example.com".into(),
                )],
            )
            .unwrap();
        assert!(control.iap_authorize(&other, &bob()).unwrap());
    }

    #[test]
    fn every_decision_writes_a_data_access_audit_entry() {
        let (control, number) = control();
        let hello = target(&number, "hello");
        assert!(!control.iap_authorize(&hello, &bob()).unwrap());
        let page = control
            .store()
            .query_log(
                &kumo_store::LogQuery {
                    log_name_prefixes: vec![
                        "projects/demo-project/logs/cloudaudit.googleapis.com%2Fdata_access".into(),
                    ],
                    ..Default::default()
                },
                &mut |_| true,
            )
            .unwrap();
        let entry = page
            .entries
            .iter()
            .find(|e| e["protoPayload"]["serviceName"] == json!("iap.googleapis.com"))
            .unwrap();
        assert_eq!(entry["protoPayload"]["methodName"], json!("AuthorizeUser"));
        assert_eq!(
            entry["protoPayload"]["authenticationInfo"]["principalEmail"],
            json!("bob@example.com")
        );
        let authorization = &entry["protoPayload"]["authorizationInfo"][0];
        assert_eq!(authorization["permission"], json!(ACCESS_VIA_IAP));
        assert_eq!(authorization["granted"], json!(false));
        assert_eq!(
            authorization["resource"],
            json!(format!(
                "projects/{number}/iap_web/cloud_run-us-central1/services/hello"
            ))
        );
        assert_eq!(entry["protoPayload"]["status"]["code"], json!(7));
    }

    #[test]
    fn id_token_claims_become_users_or_service_accounts() {
        let mut claims = Claims::new();
        claims.insert("sub".into(), json!("42"));
        assert_eq!(
            IapUser::from_id_token(&claims),
            Err(IapRefusal::EmailNotString)
        );
        claims.insert("email".into(), json!(7));
        assert_eq!(
            IapUser::from_id_token(&claims),
            Err(IapRefusal::EmailNotString)
        );
        claims.insert(
            "email".into(),
            json!("robot@demo-project.iam.gserviceaccount.com"),
        );
        let user = IapUser::from_id_token(&claims).unwrap();
        assert_eq!(
            user.caller,
            Caller::ServiceAccount {
                email: "robot@demo-project.iam.gserviceaccount.com".into()
            }
        );
        assert_eq!(
            IapRefusal::EmailNotString.message(),
            "Invalid IAP credentials: JWT 'email' claim isn't a string"
        );
    }

    #[test]
    fn resource_names_accept_numbers_and_ids() {
        let (control, number) = control();
        let by_number = control
            .iap_resource_at(
                &number,
                IapLevel::Service("cloud_run-us-central1", "hello"),
                IapAction::GetIamPolicy,
            )
            .unwrap();
        let by_id = control
            .iap_resource_at(
                "demo-project",
                IapLevel::Service("cloud_run-us-central1", "hello"),
                IapAction::GetIamPolicy,
            )
            .unwrap();
        assert_eq!(by_number, by_id);
        assert_eq!(
            by_number.relative_name(),
            format!("projects/{number}/iap_web/cloud_run-us-central1/services/hello")
        );
        assert!(matches!(
            control.iap_resource_at(
                "nope-project",
                IapLevel::Service("cloud_run-us-central1", "hello"),
                IapAction::GetIamPolicy
            ),
            Err(Error::PermissionDenied { .. })
        ));
        assert!(matches!(
            control.iap_resource_at(
                &number,
                IapLevel::Service("cloud_run-us central1", "hello"),
                IapAction::GetIamPolicy
            ),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
