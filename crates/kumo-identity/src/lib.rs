//! kumo-identity: the pure core of Kumo's identity — signing keys, JWT encode/verify,
//! discovery/JWKS documents, token claims, service-account key files, passwords.
//! No I/O, no clock, no env: time and randomness are arguments.

pub mod delegation;
pub mod directory;
pub mod docs;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod sakey;
pub mod tokens;
pub mod x509;
