//! Claims for the tokens Kumo issues, and verification of the JWTs clients send it.

use serde_json::{Value, json};

use crate::jwt::{self, Alg, Claims, JwtError, Validation};
use crate::keys::{KeyRing, RsaKey, VerifyKey};

/// Google's hard-coded token URI, used as `aud` by current client libraries.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Lifetime of ID and access tokens (Google: one hour).
pub const TOKEN_LIFETIME: i64 = 3600;
/// Access tokens look like Google's opaque ones.
pub const ACCESS_TOKEN_PREFIX: &str = "ya29.";
/// Marker claim present only in access tokens, so an access token can't pass as an ID token
/// and an ID token (which lacks it) can't pass as an access token.
const TOKEN_USE: &str = "kumo_token_use";

/// Inputs for a Google-shaped ID token.
#[derive(Debug, Clone)]
pub struct IdTokenSpec<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// `azp`: the requesting client (SA unique id for service accounts).
    pub azp: &'a str,
    /// Numeric-string subject (unique id).
    pub sub: &'a str,
    pub email: Option<&'a str>,
    pub iat: i64,
    /// Optional `google` claim object (e.g. `{"compute_engine": {...}}`), spec §4.7.
    pub google: Option<Value>,
}

pub fn id_token_claims(s: &IdTokenSpec<'_>) -> Claims {
    let mut c = Claims::new();
    c.insert("aud".into(), json!(s.audience));
    c.insert("azp".into(), json!(s.azp));
    if let Some(email) = s.email {
        c.insert("email".into(), json!(email));
        c.insert("email_verified".into(), json!(true));
    }
    c.insert("exp".into(), json!(s.iat + TOKEN_LIFETIME));
    if let Some(g) = &s.google {
        c.insert("google".into(), g.clone());
    }
    c.insert("iat".into(), json!(s.iat));
    c.insert("iss".into(), json!(s.issuer));
    c.insert("sub".into(), json!(s.sub));
    c
}

/// Signs an ID token with the ring's current key.
pub fn mint_id_token(ring: &KeyRing, s: &IdTokenSpec<'_>) -> String {
    jwt::encode_rs256(ring.current(), &id_token_claims(s))
}

fn ring_lookup(ring: &KeyRing) -> impl Fn(&str) -> Option<VerifyKey> + '_ {
    |kid| ring.get(kid).map(|k| VerifyKey::Rs256(k.public()))
}

/// Verifies a Kumo-issued ID token for one of `audiences`.
pub fn verify_id_token(
    ring: &KeyRing,
    token: &str,
    issuer: &str,
    audiences: &[&str],
    now: i64,
    leeway: i64,
) -> Result<Claims, JwtError> {
    let v = Validation {
        alg: Alg::Rs256,
        now,
        leeway,
        audiences,
        issuers: &[issuer],
        max_lifetime: None,
    };
    let c = jwt::verify(token, &v, ring_lookup(ring))?;
    // ID tokens stay exactly Google-shaped (no marker); only access tokens carry one.
    if c.contains_key(TOKEN_USE) {
        return Err(JwtError::WrongTokenType);
    }
    Ok(c)
}

/// Parsed, verified Kumo access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub sub: String,
    pub email: String,
    pub scopes: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    /// Revocation handle for the caller's store.
    pub jti: String,
}

/// Mints `ya29.<JWT>`; `jti` should be random (the caller keeps it for revocation).
pub fn mint_access_token(key: &RsaKey, issuer: &str, t: &AccessToken) -> String {
    let mut c = Claims::new();
    c.insert("email".into(), json!(t.email));
    c.insert("exp".into(), json!(t.exp));
    c.insert("iat".into(), json!(t.iat));
    c.insert("iss".into(), json!(issuer));
    c.insert("jti".into(), json!(t.jti));
    c.insert("scope".into(), json!(t.scopes.join(" ")));
    c.insert("sub".into(), json!(t.sub));
    c.insert(TOKEN_USE.into(), json!("access"));
    format!("{ACCESS_TOKEN_PREFIX}{}", jwt::encode_rs256(key, &c))
}

pub fn verify_access_token(
    ring: &KeyRing,
    token: &str,
    issuer: &str,
    now: i64,
    leeway: i64,
) -> Result<AccessToken, JwtError> {
    let raw = token
        .strip_prefix(ACCESS_TOKEN_PREFIX)
        .ok_or(JwtError::WrongTokenType)?;
    let v = Validation {
        alg: Alg::Rs256,
        now,
        leeway,
        audiences: &[],
        issuers: &[issuer],
        max_lifetime: None,
    };
    let c = jwt::verify(raw, &v, ring_lookup(ring))?;
    if c.get(TOKEN_USE).and_then(Value::as_str) != Some("access") {
        return Err(JwtError::WrongTokenType);
    }
    let s = |n: &'static str| {
        c.get(n)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(JwtError::MissingClaim(n))
    };
    let i = |n: &'static str| {
        c.get(n)
            .and_then(Value::as_i64)
            .ok_or(JwtError::MissingClaim(n))
    };
    Ok(AccessToken {
        sub: s("sub")?,
        email: s("email")?,
        scopes: s("scope")?.split_whitespace().map(str::to_owned).collect(),
        iat: i("iat")?,
        exp: i("exp")?,
        jti: s("jti")?,
    })
}

/// How a self-signed JWT addressed its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfSignedTarget {
    /// `aud` = `https://SERVICE.googleapis.com/`.
    Audience(String),
    /// `scope` claim (space-separated).
    Scopes(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSigned {
    pub email: String,
    pub key_id: String,
    pub target: SelfSignedTarget,
    pub exp: i64,
}

/// How far beyond one hour from now a self-signed JWT's `exp` may lie. Google documents "no more
/// than 1 hour in the future" for Google APIs; google-cloud-auth (Rust) signs `iat` = now − 10 s
/// and `exp` = now + 3610 s and Google accepts it, so some skew is allowed. The exact allowance
/// is UNCONFIRMED (30 s, the skew Google documents for IAP's JWTs).
pub const SELF_SIGNED_EXP_SKEW: i64 = 30;

/// Verifies a client-library self-signed JWT (spec §4.5): RS256, `kid` = SA key id,
/// `iss` = `sub` = SA email, `aud` = an API endpoint in `accepted_audiences` or a `scope` claim.
/// `lookup(kid)` returns the SA email and public key registered for that key id.
pub fn verify_self_signed(
    token: &str,
    accepted_audiences: &[&str],
    now: i64,
    leeway: i64,
    lookup: impl Fn(&str) -> Option<(String, rsa::RsaPublicKey)>,
) -> Result<SelfSigned, JwtError> {
    let header = jwt::decode_header(token)?;
    let kid = header.kid.ok_or(JwtError::MissingKid)?;
    let (email, key) = lookup(&kid).ok_or_else(|| JwtError::UnknownKid(kid.clone()))?;
    let issuers = [email.as_str()];
    let v = Validation {
        alg: Alg::Rs256,
        now,
        leeway,
        audiences: &[],
        issuers: &issuers,
        // Google bounds how far in the future `exp` lies, not `exp - iat` (below).
        max_lifetime: None,
    };
    let c = jwt::verify(token, &v, |k| {
        (k == kid).then(|| VerifyKey::Rs256(key.clone()))
    })?;
    let exp = c
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(JwtError::MissingClaim("exp"))?;
    if exp > now.saturating_add(TOKEN_LIFETIME + SELF_SIGNED_EXP_SKEW) {
        return Err(JwtError::LifetimeTooLong);
    }
    if c.get("sub").and_then(Value::as_str) != Some(email.as_str()) {
        return Err(JwtError::MissingClaim("sub"));
    }
    let target = if let Some(scope) = c.get("scope").and_then(Value::as_str) {
        SelfSignedTarget::Scopes(scope.split_whitespace().map(str::to_owned).collect())
    } else if jwt::aud_matches(c.get("aud"), accepted_audiences) {
        let aud = match c.get("aud") {
            Some(Value::String(a)) => a.clone(),
            _ => accepted_audiences
                .iter()
                .find(|a| jwt::aud_matches(c.get("aud"), &[a]))
                .map(|a| (*a).to_owned())
                .unwrap_or_default(),
        };
        SelfSignedTarget::Audience(aud)
    } else {
        return Err(JwtError::WrongAudience);
    };
    Ok(SelfSigned {
        email,
        key_id: kid,
        target,
        exp,
    })
}

/// What a JWT-bearer grant assertion asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRequest {
    AccessToken { scopes: Vec<String> },
    IdToken { target_audience: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantAssertion {
    pub email: String,
    pub key_id: String,
    /// Domain-wide delegation subject, when present.
    pub subject: Option<String>,
    pub request: GrantRequest,
}

/// Leeway for `iat` in the future (a 3rd-party measurement: 300 s accepted).
pub const GRANT_LEEWAY: i64 = 300;

/// Verifies the `assertion` of `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
/// `aud` must be Google's token URI or `own_token_uri`; lifetime ≤ 1 h.
/// Errors map to `invalid_grant` via [`JwtError::google_description`]; a missing
/// `scope`/`target_audience` is [`JwtError::MissingClaim`] ("scope") — the caller answers `invalid_scope`.
pub fn verify_grant_assertion(
    assertion: &str,
    own_token_uri: &str,
    now: i64,
    lookup: impl Fn(&str) -> Option<(String, rsa::RsaPublicKey)>,
) -> Result<GrantAssertion, JwtError> {
    let header = jwt::decode_header(assertion)?;
    let kid = header.kid.ok_or(JwtError::MissingKid)?;
    let (email, key) = lookup(&kid).ok_or_else(|| JwtError::UnknownKid(kid.clone()))?;
    let issuers = [email.as_str()];
    let audiences = [GOOGLE_TOKEN_URI, own_token_uri];
    let v = Validation {
        alg: Alg::Rs256,
        now,
        leeway: GRANT_LEEWAY,
        audiences: &audiences,
        issuers: &issuers,
        max_lifetime: Some(TOKEN_LIFETIME),
    };
    let c = jwt::verify(assertion, &v, |k| {
        (k == kid).then(|| VerifyKey::Rs256(key.clone()))
    })?;
    grant_from_claims(&c, email, kid, now)
}

/// [`verify_grant_assertion`] for an assertion whose header names no key (Google's Node
/// library signs them so): `keys` are the account's usable keys `(key id, public key)`, tried
/// in turn; `email` is the account the assertion's `iss` names.
pub fn verify_grant_assertion_without_kid(
    assertion: &str,
    own_token_uri: &str,
    now: i64,
    email: &str,
    keys: Vec<(String, rsa::RsaPublicKey)>,
) -> Result<GrantAssertion, JwtError> {
    let issuers = [email];
    let audiences = [GOOGLE_TOKEN_URI, own_token_uri];
    let v = Validation {
        alg: Alg::Rs256,
        now,
        leeway: GRANT_LEEWAY,
        audiences: &audiences,
        issuers: &issuers,
        max_lifetime: Some(TOKEN_LIFETIME),
    };
    let candidates: Vec<VerifyKey> = keys
        .iter()
        .map(|(_, key)| VerifyKey::Rs256(key.clone()))
        .collect();
    let (c, i) = jwt::verify_without_kid(assertion, &v, &candidates)?;
    let kid = keys.get(i).map(|(kid, _)| kid.clone()).unwrap_or_default();
    grant_from_claims(&c, email.to_owned(), kid, now)
}

/// What a verified grant assertion asks for.
fn grant_from_claims(
    c: &jwt::Claims,
    email: String,
    kid: String,
    now: i64,
) -> Result<GrantAssertion, JwtError> {
    // Google: `exp` must not be in the past, even within leeway.
    if c.get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|e| e <= now)
    {
        return Err(JwtError::Expired);
    }
    let request = if let Some(ta) = c.get("target_audience").and_then(Value::as_str) {
        GrantRequest::IdToken {
            target_audience: ta.to_owned(),
        }
    } else if let Some(scope) = c
        .get("scope")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    {
        GrantRequest::AccessToken {
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
        }
    } else {
        return Err(JwtError::MissingClaim("scope"));
    };
    let subject = c
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| *s != email)
        .map(str::to_owned);
    Ok(GrantAssertion {
        email,
        key_id: kid,
        subject,
        request,
    })
}
