//! Service-account key files (Google's `type: service_account` JSON) and public-key upload.

use rand::{CryptoRng, RngCore};
use serde::Serialize;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;

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
        cert_public_key(pem)?
    } else {
        public_from_pem(pem)?
    };
    Ok(StoredPublicKey {
        key_id: crate::keys::new_kid(rng),
        public_key_pem: public_pem(&key)?,
    })
}

/// Extracts the RSA SubjectPublicKeyInfo from a PEM X.509 certificate. A minimal DER walk
/// (no chain or signature validation: Google only uses the key of an uploaded certificate).
fn cert_public_key(pem: &str) -> Result<RsaPublicKey, KeyError> {
    let bad = |why: &str| KeyError::Pem(format!("invalid certificate: {why}"));
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = STANDARD.decode(body).map_err(|_| bad("base64"))?;
    let (cert, _) = tlv(&der).ok_or_else(|| bad("outer sequence"))?;
    let (tbs, _) = tlv(cert.content).ok_or_else(|| bad("tbsCertificate"))?;
    let mut rest = tbs.content;
    let mut fields = Vec::new();
    while !rest.is_empty() && fields.len() < 7 {
        let (f, r) = tlv(rest).ok_or_else(|| bad("tbsCertificate field"))?;
        fields.push(f);
        rest = r;
    }
    // Skip the optional explicit [0] version; then serial, sigAlg, issuer, validity, subject, SPKI.
    let offset = usize::from(fields.first().is_some_and(|f| f.tag == 0xa0));
    let spki = fields
        .get(offset + 5)
        .filter(|f| f.tag == 0x30)
        .ok_or_else(|| bad("subjectPublicKeyInfo"))?;
    RsaPublicKey::from_public_key_der(spki.whole).map_err(|e| KeyError::Pem(e.to_string()))
}

struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

/// One DER TLV and the bytes after it; `None` on truncation or unsupported lengths.
fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some((
        Tlv {
            tag,
            content: &rest[..len],
            whole: &input[..header + len],
        },
        &rest[len..],
    ))
}
