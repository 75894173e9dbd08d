//! Who is calling, and the token issuer behind it: bearer tokens at the API front door (Kumo's
//! access tokens and service-account self-signed JWTs), the OAuth2 token endpoint's grants, the
//! sign-in decisions, the directory APIs, IAM Credentials and the workload (metadata) tokens.
//! HTTP lives in `kumo-api`; this module decides.

mod bootstrap;
mod credentials;
mod directory_api;
mod issuer;
mod oauth;
mod scopes;
mod system_keys;
mod tokens;

pub use bootstrap::{BootstrapConfig, BootstrapReport, USER_SCOPES};
pub use issuer::SYSTEM_ADMIN_PERMISSION;
pub use oauth::{
    AuthorizationRequest, CLI_CLIENT_ID, CLI_CLIENT_SECRET, OAuthError, SignInAccount,
    TokenRequest, TokenResponse,
};
pub use tokens::MintedAccessToken;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::records::Collection;
use crate::{Caller, Control, Error};

/// Google's text for a bearer token it cannot verify.
pub const INVALID_CREDENTIALS: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// How long a verified token is trusted without re-verifying its signature. Revocation, key
/// retirement and disabled accounts are still checked on every call (cheap store reads).
const VERIFIED_TTL_SECONDS: i64 = 60;
/// Bound on the verified-token cache; it is simply cleared when full.
const VERIFIED_CAPACITY: usize = 4096;

/// What must still hold for a cached verification to stand.
#[derive(Debug, Clone)]
enum Liveness {
    /// A Kumo access token: its signing key is still published and it is not revoked.
    AccessToken {
        kid: String,
        jti: String,
        family: Option<String>,
    },
    /// A self-signed JWT: the key record is live and enabled.
    SelfSigned { key_record: String },
}

#[derive(Debug, Clone)]
struct Verified {
    caller: Caller,
    /// The granted scopes; `None` for a self-signed JWT addressed by audience.
    scopes: Option<Vec<String>>,
    exp: i64,
    verified_at: i64,
    liveness: Liveness,
}

fn verified_cache() -> &'static Mutex<HashMap<String, Verified>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Verified>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn invalid() -> Error {
    Error::unauthenticated(INVALID_CREDENTIALS)
}

/// The claims of a JWT without verifying it (to pick the key source; never trusted as such).
pub(crate) fn peek_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Service-account emails end in `gserviceaccount.com`; every other principal is a user.
pub(crate) fn caller_for(email: &str) -> Caller {
    if email.to_ascii_lowercase().ends_with(".gserviceaccount.com") {
        Caller::ServiceAccount {
            email: email.to_owned(),
        }
    } else {
        Caller::User {
            email: email.to_owned(),
        }
    }
}

/// An authenticated bearer and the scopes its token grants (`None`: addressed by audience).
pub(crate) type Authenticated = (Caller, Option<Vec<String>>);

/// Whether `scope` lets a token call Google APIs: any `https://www.googleapis.com/auth/…`
/// scope but the sign-in ones (`openid`, `email`, `profile`, `userinfo.*`).
fn is_api_scope(scope: &str) -> bool {
    scope
        .strip_prefix("https://www.googleapis.com/auth/")
        .is_some_and(|name| !name.is_empty() && !name.starts_with("userinfo."))
}

/// Google's refusal of a token whose scopes do not cover the API.
fn insufficient_scopes() -> Error {
    Error::PermissionDenied {
        message: "Request had insufficient authentication scopes.".to_owned(),
        permission: None,
        resource: None,
    }
}

/// Accepted `aud` of a self-signed JWT: a Google API endpoint, `https://SERVICE.googleapis.com/`.
fn is_google_api_audience(aud: &str) -> bool {
    let Some(host) = aud
        .strip_prefix("https://")
        .and_then(|rest| rest.strip_suffix('/'))
    else {
        return false;
    };
    let Some(service) = host.strip_suffix(".googleapis.com") else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl Control {
    /// Authenticates an `Authorization` header. No header is anonymous. Accepted: Kumo access
    /// tokens (`ya29.…`: signature, expiry, revocation) and service-account self-signed JWTs
    /// (key id of a live, enabled key of an enabled account; `iss` = `sub` = the account;
    /// `aud` = `https://*.googleapis.com/` or a `scope` claim). Everything else — ID tokens
    /// included, as Google refuses them — is UNAUTHENTICATED (fail closed).
    pub fn authenticate_bearer(&self, header: Option<&str>) -> Result<Caller, Error> {
        let Some((caller, scopes)) = self.authenticate_token(header)? else {
            return Ok(Caller::Anonymous);
        };
        if let Some(scopes) = scopes
            && !scopes.iter().any(|scope| is_api_scope(scope))
        {
            return Err(insufficient_scopes());
        }
        Ok(caller)
    }

    /// [`Control::authenticate_bearer`] for a call of the API method `rpc` (its full name, as
    /// the route table has it): an access token's scopes must open that very method — e.g.
    /// `cloud-platform.read-only` opens reads only, `iam` only IAM — as each API's accepted
    /// scopes say. A self-signed JWT addressed by audience carries no scopes and passes here.
    pub fn authenticate_bearer_for(
        &self,
        header: Option<&str>,
        rpc: &str,
    ) -> Result<Caller, Error> {
        let Some((caller, scopes)) = self.authenticate_token(header)? else {
            return Ok(Caller::Anonymous);
        };
        if let Some(scopes) = scopes
            && !scopes::scopes_cover(&scopes, rpc)
        {
            return Err(insufficient_scopes());
        }
        Ok(caller)
    }

    /// The bearer and its scopes, whatever they are (userinfo and tokeninfo need no API
    /// scope). `None` without a header.
    pub(crate) fn authenticate_token(
        &self,
        header: Option<&str>,
    ) -> Result<Option<Authenticated>, Error> {
        let Some(header) = header else {
            return Ok(None);
        };
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(invalid()),
        };
        if token.is_empty() || token.len() > kumo_identity::jwt::MAX_TOKEN_LEN {
            return Err(invalid());
        }
        let now = self.now().timestamp();
        let cached = verified_cache()
            .lock()
            .ok()
            .and_then(|cache| cache.get(token).cloned());
        let verified = match cached {
            Some(entry) if entry.exp > now && now - entry.verified_at < VERIFIED_TTL_SECONDS => {
                entry
            }
            _ => {
                let entry = self.verify_bearer(token, now)?;
                if let Ok(mut cache) = verified_cache().lock() {
                    if cache.len() >= VERIFIED_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(token.to_owned(), entry.clone());
                }
                entry
            }
        };
        if !self.still_live(&verified)? {
            if let Ok(mut cache) = verified_cache().lock() {
                cache.remove(token);
            }
            return Err(invalid());
        }
        Ok(Some((verified.caller, verified.scopes)))
    }

    fn verify_bearer(&self, token: &str, now: i64) -> Result<Verified, Error> {
        if token.starts_with(kumo_identity::tokens::ACCESS_TOKEN_PREFIX) {
            let ring = self.signing_keys()?;
            let access =
                kumo_identity::tokens::verify_access_token(&ring, token, &self.issuer(), now, 0)
                    .map_err(|_| invalid())?;
            let kid = kumo_identity::jwt::decode_header(
                token.trim_start_matches(kumo_identity::tokens::ACCESS_TOKEN_PREFIX),
            )
            .ok()
            .and_then(|header| header.kid)
            .ok_or_else(invalid)?;
            let family = access
                .jti
                .split_once('.')
                .map(|(family, _)| family.to_owned());
            return Ok(Verified {
                caller: caller_for(&access.email),
                scopes: Some(access.scopes.clone()),
                exp: access.exp,
                verified_at: now,
                liveness: Liveness::AccessToken {
                    kid,
                    jti: access.jti,
                    family,
                },
            });
        }
        // A service-account self-signed JWT: the issuer names the account whose keys verify it.
        let claims = peek_claims(token).ok_or_else(invalid)?;
        let email = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?
            .to_owned();
        let aud = claims
            .get("aud")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let accepted: Vec<&str> = if is_google_api_audience(&aud) {
            vec![aud.as_str()]
        } else {
            Vec::new()
        };
        let account = self.live_service_account(&email)?.ok_or_else(invalid)?;
        let verified = kumo_identity::tokens::verify_self_signed(token, &accepted, now, 0, |kid| {
            self.service_account_public_key(&account, kid)
                .ok()
                .flatten()
                .map(|key| (email.clone(), key))
        })
        .map_err(|_| invalid())?;
        let scopes = match &verified.target {
            kumo_identity::tokens::SelfSignedTarget::Scopes(scopes) => Some(scopes.clone()),
            kumo_identity::tokens::SelfSignedTarget::Audience(_) => None,
        };
        Ok(Verified {
            caller: Caller::ServiceAccount {
                email: email.clone(),
            },
            scopes,
            exp: verified.exp,
            verified_at: now,
            liveness: Liveness::SelfSigned {
                key_record: format!("{}/keys/{}", account.name, verified.key_id),
            },
        })
    }

    /// The checks a cached verification repeats on every call.
    fn still_live(&self, verified: &Verified) -> Result<bool, Error> {
        let caller_live = match &verified.caller {
            Caller::User { email } => self
                .directory_user(email)?
                .is_some_and(|user| user["suspended"].as_bool() != Some(true)),
            Caller::ServiceAccount { email } => self.live_service_account(email)?.is_some(),
            Caller::Anonymous => false,
        };
        if !caller_live {
            return Ok(false);
        }
        match &verified.liveness {
            Liveness::AccessToken { kid, jti, family } => {
                if !self.signing_key_published(kid)? || self.is_revoked(jti)? {
                    return Ok(false);
                }
                match family {
                    Some(family) => Ok(!self.is_revoked(family)?),
                    None => Ok(true),
                }
            }
            Liveness::SelfSigned { key_record } => {
                let record = self.load::<Value>(Collection::ServiceAccountKeys, key_record)?;
                Ok(record.is_some_and(|key| key_usable(&key.value, self.now())))
            }
        }
    }
}

/// Whether a stored service-account key may verify signatures now: not disabled, inside its
/// validity window.
pub(crate) fn key_usable(key: &Value, now: chrono::DateTime<chrono::Utc>) -> bool {
    if key["disabled"].as_bool() == Some(true) {
        return false;
    }
    let within = |field: &str, after: bool| match key[field]
        .as_str()
        .map(chrono::DateTime::parse_from_rfc3339)
    {
        Some(Ok(time)) => {
            if after {
                now >= time
            } else {
                now < time
            }
        }
        Some(Err(_)) => false,
        None => true,
    };
    within("validAfterTime", true) && within("validBeforeTime", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_api_audiences() {
        assert!(is_google_api_audience("https://run.googleapis.com/"));
        assert!(is_google_api_audience(
            "https://iamcredentials.googleapis.com/"
        ));
        assert!(!is_google_api_audience("https://run.googleapis.com"));
        assert!(!is_google_api_audience("https://evil.example.com/"));
        assert!(!is_google_api_audience("https://.googleapis.com/"));
        assert!(!is_google_api_audience("http://run.googleapis.com/"));
        assert!(!is_google_api_audience(
            "https://run.googleapis.com.evil.com/"
        ));
    }

    #[test]
    fn api_scopes() {
        assert!(is_api_scope(
            "https://www.googleapis.com/auth/cloud-platform"
        ));
        assert!(is_api_scope("https://www.googleapis.com/auth/iam"));
        assert!(!is_api_scope(
            "https://www.googleapis.com/auth/userinfo.email"
        ));
        assert!(!is_api_scope("openid"));
        assert!(!is_api_scope("email"));
        assert!(!is_api_scope("https://www.googleapis.com/auth/"));
    }

    #[test]
    fn callers_by_email_domain() {
        assert_eq!(
            caller_for("a@p.iam.gserviceaccount.com"),
            Caller::ServiceAccount {
                email: "a@p.iam.gserviceaccount.com".into()
            }
        );
        assert_eq!(
            caller_for("alice@example.com"),
            Caller::User {
                email: "alice@example.com".into()
            }
        );
    }

    #[test]
    fn key_validity_window() {
        let now = chrono::Utc::now();
        assert!(key_usable(
            &serde_json::json!({"validBeforeTime": "9999-12-31T23:59:59Z"}),
            now
        ));
        assert!(!key_usable(&serde_json::json!({"disabled": true}), now));
        assert!(!key_usable(
            &serde_json::json!({"validBeforeTime": "2000-01-01T00:00:00Z"}),
            now
        ));
        assert!(!key_usable(
            &serde_json::json!({"validAfterTime": "9999-01-01T00:00:00Z"}),
            now
        ));
        assert!(!key_usable(
            &serde_json::json!({"validBeforeTime": "garbage"}),
            now
        ));
    }
}
