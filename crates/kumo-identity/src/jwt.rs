//! Compact JWS encoding and a strict verifier (RS256 / ES256 only).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature as RsaSig, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::keys::{EcKey, RsaKey, VerifyKey};

/// Tokens larger than this are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

pub type Claims = Map<String, Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

/// Precise refusal reasons. `google_description` gives the token endpoint's texts.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum JwtError {
    #[error("token too large")]
    TooLarge,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlg(String),
    #[error("algorithm {got} not allowed here (expected {expected})")]
    AlgMismatch { got: String, expected: &'static str },
    #[error("missing kid")]
    MissingKid,
    #[error("unknown kid {0:?}")]
    UnknownKid(String),
    #[error("invalid signature")]
    InvalidSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token lifetime too long")]
    LifetimeTooLong,
    #[error("missing or invalid claim {0}")]
    MissingClaim(&'static str),
    #[error("invalid audience")]
    WrongAudience,
    #[error("invalid issuer")]
    WrongIssuer,
    #[error("wrong token type")]
    WrongTokenType,
    #[error("signing failed")]
    Signing,
}

impl JwtError {
    /// Google's `invalid_grant` `error_description` for this refusal (spec §4.6).
    pub fn google_description(&self) -> &'static str {
        match self {
            JwtError::Expired | JwtError::NotYetValid | JwtError::LifetimeTooLong => {
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
            }
            // UNCONFIRMED: no capture of Google's text for a wrong `aud` at the token endpoint.
            JwtError::WrongAudience => "Invalid JWT audience.",
            _ => "Invalid JWT Signature.",
        }
    }
}

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn signing_input(alg: Alg, kid: &str, claims: &Claims) -> String {
    let header = json!({"alg": alg.as_str(), "kid": kid, "typ": "JWT"});
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(Value::Object(claims.clone()).to_string().as_bytes())
    )
}

pub fn encode_rs256(key: &RsaKey, claims: &Claims) -> String {
    let input = signing_input(Alg::Rs256, &key.kid, claims);
    let sig = SigningKey::<Sha256>::new(key.private.clone()).sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

pub fn encode_es256(key: &EcKey, claims: &Claims) -> String {
    let input = signing_input(Alg::Es256, &key.kid, claims);
    let sig: p256::ecdsa::Signature = key.private.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
}

struct Parts<'a> {
    input: &'a str,
    header: Header,
    claims: Claims,
    sig: Vec<u8>,
}

fn split(token: &str) -> Result<Parts<'_>, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLarge);
    }
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };
    let dec = |x: &str, what| {
        URL_SAFE_NO_PAD
            .decode(x)
            .map_err(|_| JwtError::Malformed(what))
    };
    let hv: Value = serde_json::from_slice(&dec(h, "header encoding")?)
        .map_err(|_| JwtError::Malformed("header json"))?;
    let alg = hv
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwtError::Malformed("header alg"))?;
    let kid = match hv.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JwtError::Malformed("header kid")),
    };
    let claims = match serde_json::from_slice(&dec(p, "payload encoding")?) {
        Ok(Value::Object(m)) => m,
        _ => return Err(JwtError::Malformed("payload json")),
    };
    let sig = dec(s, "signature encoding")?;
    Ok(Parts {
        input: &token[..h.len() + 1 + p.len()],
        header: Header {
            alg: alg.to_owned(),
            kid,
        },
        claims,
        sig,
    })
}

/// Parses the header only (no verification), e.g. to pick a key source.
pub fn decode_header(token: &str) -> Result<Header, JwtError> {
    split(token).map(|p| p.header)
}

/// What the verifier checks besides the signature. `now` is unix seconds.
#[derive(Debug, Clone)]
pub struct Validation<'a> {
    pub alg: Alg,
    pub now: i64,
    pub leeway: i64,
    /// Accepted audiences; the token's `aud` (string or array) must contain one. Empty = skip.
    pub audiences: &'a [&'a str],
    /// Accepted issuers. Empty = skip.
    pub issuers: &'a [&'a str],
    /// Maximum `exp - iat`, when set.
    pub max_lifetime: Option<i64>,
}

/// Strictly verifies `token`; `lookup` maps a `kid` to its key.
pub fn verify(
    token: &str,
    v: &Validation<'_>,
    lookup: impl Fn(&str) -> Option<VerifyKey>,
) -> Result<Claims, JwtError> {
    let parts = split(token)?;
    check_alg(&parts.header, v)?;
    let kid = parts.header.kid.as_deref().ok_or(JwtError::MissingKid)?;
    let key = lookup(kid).ok_or_else(|| JwtError::UnknownKid(kid.to_owned()))?;
    verify_parts(parts, v, key)
}

/// [`verify`] for a token whose header names no key: the first of `keys` whose signature checks
/// wins, and its index comes back with the claims. Google's token endpoint takes grant
/// assertions signed this way (google-auth-library for Node puts no `kid` in them). A token that
/// does name a key is refused here: it goes through [`verify`].
pub fn verify_without_kid(
    token: &str,
    v: &Validation<'_>,
    keys: &[VerifyKey],
) -> Result<(Claims, usize), JwtError> {
    let header = split(token)?.header;
    check_alg(&header, v)?;
    if header.kid.is_some() {
        return Err(JwtError::Malformed("header kid"));
    }
    for (i, key) in keys.iter().enumerate() {
        match verify_parts(split(token)?, v, key.clone()) {
            Err(JwtError::InvalidSignature) => continue,
            other => return other.map(|claims| (claims, i)),
        }
    }
    Err(JwtError::InvalidSignature)
}

/// Only the algorithms Kumo signs with, and only the one the caller expects.
fn check_alg(header: &Header, v: &Validation<'_>) -> Result<(), JwtError> {
    match header.alg.as_str() {
        "RS256" | "ES256" => {}
        other => return Err(JwtError::UnsupportedAlg(other.to_owned())),
    }
    if header.alg != v.alg.as_str() {
        return Err(JwtError::AlgMismatch {
            got: header.alg.clone(),
            expected: v.alg.as_str(),
        });
    }
    Ok(())
}

/// The signature with `key`, then the claims.
fn verify_parts(parts: Parts<'_>, v: &Validation<'_>, key: VerifyKey) -> Result<Claims, JwtError> {
    let ok = match (v.alg, key) {
        (Alg::Rs256, VerifyKey::Rs256(k)) => {
            RsaSig::try_from(parts.sig.as_slice()).is_ok_and(|s| {
                VerifyingKey::<Sha256>::new(k)
                    .verify(parts.input.as_bytes(), &s)
                    .is_ok()
            })
        }
        (Alg::Es256, VerifyKey::Es256(k)) => p256::ecdsa::Signature::from_slice(&parts.sig)
            .is_ok_and(|s| k.verify(parts.input.as_bytes(), &s).is_ok()),
        // A key of the other family never verifies (RS/ES confusion).
        _ => false,
    };
    if !ok {
        return Err(JwtError::InvalidSignature);
    }
    check_claims(&parts.claims, v)?;
    Ok(parts.claims)
}

fn int(c: &Claims, name: &'static str) -> Result<Option<i64>, JwtError> {
    match c.get(name) {
        None => Ok(None),
        Some(x) => x.as_i64().map(Some).ok_or(JwtError::MissingClaim(name)),
    }
}

fn check_claims(c: &Claims, v: &Validation<'_>) -> Result<(), JwtError> {
    let exp = int(c, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    let iat = int(c, "iat")?.ok_or(JwtError::MissingClaim("iat"))?;
    if exp.saturating_add(v.leeway) <= v.now {
        return Err(JwtError::Expired);
    }
    if iat.saturating_sub(v.leeway) > v.now {
        return Err(JwtError::NotYetValid);
    }
    if let Some(nbf) = int(c, "nbf")?
        && nbf.saturating_sub(v.leeway) > v.now
    {
        return Err(JwtError::NotYetValid);
    }
    if let Some(max) = v.max_lifetime
        && (exp.saturating_sub(iat) > max || exp < iat)
    {
        return Err(JwtError::LifetimeTooLong);
    }
    if !v.issuers.is_empty() {
        let iss = c
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(JwtError::MissingClaim("iss"))?;
        if !v.issuers.contains(&iss) {
            return Err(JwtError::WrongIssuer);
        }
    }
    if !v.audiences.is_empty() && !aud_matches(c.get("aud"), v.audiences) {
        return Err(JwtError::WrongAudience);
    }
    Ok(())
}

pub(crate) fn aud_matches(aud: Option<&Value>, accepted: &[&str]) -> bool {
    match aud {
        Some(Value::String(a)) => accepted.contains(&a.as_str()),
        Some(Value::Array(xs)) => xs
            .iter()
            .any(|x| x.as_str().is_some_and(|a| accepted.contains(&a))),
        _ => false,
    }
}
