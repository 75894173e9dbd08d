//! RSA (RS256) and P-256 (ES256) signing keys with Google-shaped key ids and JWKs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{CryptoRng, RngCore};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

/// Errors from key generation and (de)serialisation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("invalid PEM key: {0}")]
    Pem(String),
    #[error("invalid key id {0:?}: expected 40 lowercase hex characters")]
    Kid(String),
}

/// A fresh 40-hex-char key id, like Google's `private_key_id` / JWKS `kid`.
pub fn new_kid(rng: &mut (impl RngCore + CryptoRng)) -> String {
    let mut b = [0u8; 20];
    rng.fill_bytes(&mut b);
    hex(&b)
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn check_kid(kid: &str) -> Result<(), KeyError> {
    if kid.len() == 40 && kid.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(KeyError::Kid(kid.to_owned()))
    }
}

/// An RSA-2048 RS256 signing key with its key id.
#[derive(Clone, Debug)]
pub struct RsaKey {
    pub kid: String,
    pub private: RsaPrivateKey,
}

impl RsaKey {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Result<Self, KeyError> {
        let kid = new_kid(rng);
        let private =
            RsaPrivateKey::new(rng, 2048).map_err(|e| KeyError::Generate(e.to_string()))?;
        Ok(Self { kid, private })
    }

    /// Imports a PKCS#8 `-----BEGIN PRIVATE KEY-----` PEM (as persisted by the caller).
    pub fn from_pkcs8_pem(kid: &str, pem: &str) -> Result<Self, KeyError> {
        check_kid(kid)?;
        let private =
            RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))?;
        Ok(Self {
            kid: kid.to_owned(),
            private,
        })
    }

    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        self.private
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .map_err(|e| KeyError::Pem(e.to_string()))
    }

    pub fn public(&self) -> RsaPublicKey {
        self.private.to_public_key()
    }

    /// SPKI `-----BEGIN PUBLIC KEY-----` PEM.
    pub fn public_pem(&self) -> Result<String, KeyError> {
        public_pem(&self.public())
    }

    pub fn jwk(&self) -> Value {
        rsa_jwk(&self.kid, &self.public())
    }
}

pub fn public_pem(key: &RsaPublicKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Pem(e.to_string()))
}

pub fn public_from_pem(pem: &str) -> Result<RsaPublicKey, KeyError> {
    RsaPublicKey::from_public_key_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))
}

/// Google's JWKS entry shape for an RSA key.
pub fn rsa_jwk(kid: &str, key: &RsaPublicKey) -> Value {
    json!({
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    })
}

/// Current signing key plus previous keys still published (and accepted) during rotation overlap.
#[derive(Clone, Debug)]
pub struct KeyRing {
    current: RsaKey,
    previous: Vec<RsaKey>,
}

impl KeyRing {
    pub fn new(current: RsaKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    pub fn with_previous(current: RsaKey, previous: Vec<RsaKey>) -> Self {
        Self { current, previous }
    }

    pub fn current(&self) -> &RsaKey {
        &self.current
    }

    pub fn previous(&self) -> &[RsaKey] {
        &self.previous
    }

    /// Makes `next` current; the old current key stays for verification. Keeps at most
    /// `keep_previous` old keys so retired keys eventually stop verifying.
    pub fn rotate(&mut self, next: RsaKey, keep_previous: usize) {
        let old = std::mem::replace(&mut self.current, next);
        self.previous.insert(0, old);
        self.previous.truncate(keep_previous);
    }

    pub fn get(&self, kid: &str) -> Option<&RsaKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
    }

    pub fn all(&self) -> impl Iterator<Item = &RsaKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

/// A P-256 ES256 key (IAP's `X-Goog-IAP-JWT-Assertion`).
#[derive(Clone, Debug)]
pub struct EcKey {
    pub kid: String,
    pub private: p256::ecdsa::SigningKey,
}

impl EcKey {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let kid = new_kid(rng);
        Self {
            kid,
            private: p256::ecdsa::SigningKey::random(rng),
        }
    }

    pub fn from_pkcs8_pem(kid: &str, pem: &str) -> Result<Self, KeyError> {
        check_kid(kid)?;
        let private = p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| KeyError::Pem(e.to_string()))?;
        Ok(Self {
            kid: kid.to_owned(),
            private,
        })
    }

    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        self.private
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .map_err(|e| KeyError::Pem(e.to_string()))
    }

    pub fn public(&self) -> p256::ecdsa::VerifyingKey {
        *self.private.verifying_key()
    }

    /// IAP `public_key-jwk` entry shape.
    pub fn jwk(&self) -> Value {
        let point = self.public().to_encoded_point(false);
        let coord =
            |c: Option<&p256::FieldBytes>| c.map(|b| URL_SAFE_NO_PAD.encode(b)).unwrap_or_default();
        json!({
            "alg": "ES256",
            "crv": "P-256",
            "kid": self.kid,
            "kty": "EC",
            "use": "sig",
            "x": coord(point.x()),
            "y": coord(point.y()),
        })
    }
}

/// Verification key for [`crate::jwt::verify`].
#[derive(Clone, Debug)]
pub enum VerifyKey {
    Rs256(RsaPublicKey),
    Es256(p256::ecdsa::VerifyingKey),
}
