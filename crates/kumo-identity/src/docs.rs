//! Public documents: OIDC discovery, JWKS (v3), v1 certs, IAP JWK set.

use serde_json::{Map, Value, json};

use crate::keys::{EcKey, KeyError, KeyRing, RsaKey};

/// OIDC discovery document for an issuer at `base_url` (no trailing slash).
pub fn discovery(base_url: &str) -> Value {
    let b = base_url.trim_end_matches('/');
    json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/o/oauth2/v2/auth"),
        "device_authorization_endpoint": format!("{b}/device/code"),
        "token_endpoint": format!("{b}/token"),
        "userinfo_endpoint": format!("{b}/v1/userinfo"),
        "revocation_endpoint": format!("{b}/revoke"),
        "jwks_uri": format!("{b}/oauth2/v3/certs"),
        "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "sub", "azp"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
    })
}

/// `/oauth2/v3/certs`: all ring keys (current and overlap).
pub fn jwks(ring: &KeyRing) -> Value {
    json!({"keys": ring.all().map(|k| k.jwk()).collect::<Vec<_>>()})
}

/// `/oauth2/v1/certs`: kid → PEM X.509 certificate, as Google publishes it. Each key's
/// self-signed certificate comes from `certificate`, which knows the key's validity window.
pub fn v1_certs(
    ring: &KeyRing,
    mut certificate: impl FnMut(&RsaKey) -> Result<String, KeyError>,
) -> Result<Value, KeyError> {
    let mut m = Map::new();
    for k in ring.all() {
        m.insert(k.kid.clone(), Value::String(certificate(k)?));
    }
    Ok(Value::Object(m))
}

/// IAP's `public_key-jwk` document.
pub fn iap_jwks(keys: &[EcKey]) -> Value {
    json!({"keys": keys.iter().map(EcKey::jwk).collect::<Vec<_>>()})
}
