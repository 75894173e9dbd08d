//! argon2id password hashing (PHC string format).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::{CryptoRng, RngCore};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

pub fn hash_password(
    rng: &mut (impl RngCore + CryptoRng),
    password: &str,
) -> Result<String, PasswordError> {
    let salt = SaltString::generate(rng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// False for a wrong password and for an unparseable stored hash (fail closed).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}
