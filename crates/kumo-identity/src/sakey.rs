//! Service-account key files (Google's `type: service_account` JSON) and public-key upload.

use rand::{CryptoRng, RngCore};
use serde::Serialize;

use crate::keys::{KeyError, RsaKey, public_from_pem, public_pem};

/// Google's key-file JSON, fields in Google's order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyFile {
    #[serde(rename = "type")]
    pub kind: String,
    pub project_id: String,
    pub private_key_id: String,
    pub private_key: String,
    pub client_email: String,
    pub client_id: String,
    pub auth_uri: String,
    pub token_uri: String,
    pub auth_provider_x509_cert_url: String,
    pub client_x509_cert_url: String,
    pub universe_domain: String,
}

impl KeyFile {
    /// Pretty JSON with a trailing newline, as downloaded from Google.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// The part the caller persists (Google never keeps the private key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPublicKey {
    pub key_id: String,
    pub public_key_pem: String,
}

/// Where Kumo serves its endpoints, e.g. `http://localhost:8080`.
#[derive(Debug, Clone)]
pub struct Endpoints<'a> {
    pub token_uri: &'a str,
    pub auth_uri: &'a str,
    pub certs_uri: &'a str,
    /// Prefix of `client_x509_cert_url`; the URL-encoded email is appended.
    pub x509_prefix: &'a str,
}

/// Generates a new SA key: returns the key file to hand out and the public part to store.
pub fn generate_key_file(
    rng: &mut (impl RngCore + CryptoRng),
    project_id: &str,
    client_email: &str,
    client_id: &str,
    ep: &Endpoints<'_>,
) -> Result<(KeyFile, StoredPublicKey), KeyError> {
    let key = RsaKey::generate(rng)?;
    let file = KeyFile {
        kind: "service_account".into(),
        project_id: project_id.into(),
        private_key_id: key.kid.clone(),
        private_key: key.to_pkcs8_pem()?,
        client_email: client_email.into(),
        client_id: client_id.into(),
        auth_uri: ep.auth_uri.into(),
        token_uri: ep.token_uri.into(),
        auth_provider_x509_cert_url: ep.certs_uri.into(),
        client_x509_cert_url: format!("{}{}", ep.x509_prefix, client_email.replace('@', "%40")),
        universe_domain: "googleapis.com".into(),
    };
    let stored = StoredPublicKey {
        key_id: key.kid.clone(),
        public_key_pem: key.public_pem()?,
    };
    Ok((file, stored))
}

/// Accepts an uploaded public key (`serviceAccounts.keys.upload`): an X.509 `CERTIFICATE` PEM
/// (what Google requires) or an SPKI `PUBLIC KEY` PEM. Normalises to SPKI PEM and assigns a
/// fresh key id.
pub fn upload_public_key(
    rng: &mut (impl RngCore + CryptoRng),
    pem: &str,
) -> Result<StoredPublicKey, KeyError> {
    let pem = pem.trim();
    let key = if pem.starts_with("-----BEGIN CERTIFICATE-----") {
        crate::x509::public_key_from_pem(pem)?
    } else {
        public_from_pem(pem)?
    };
    Ok(StoredPublicKey {
        key_id: crate::keys::new_kid(rng),
        public_key_pem: public_pem(&key)?,
    })
}
