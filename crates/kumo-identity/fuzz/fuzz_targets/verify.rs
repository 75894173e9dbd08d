#![no_main]
//! Feeds arbitrary bytes to the JWT verifiers; any panic is a bug.

use std::sync::OnceLock;

use kumo_identity::jwt::{self, Alg, Validation};
use kumo_identity::keys::{RsaKey, VerifyKey};
use kumo_identity::tokens;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;

fn key() -> Option<&'static RsaKey> {
    static K: OnceLock<Option<RsaKey>> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(&mut rand::rngs::StdRng::seed_from_u64(1)).ok())
        .as_ref()
}

// Generating the RSA key takes seconds: do it before fuzzing starts, where libFuzzer's
// per-input timeout does not count it against the first input.
fuzz_target!(init: { let _ = key(); }, |data: &[u8]| {
    let Some(k) = key() else { return };
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let v = Validation {
        alg: Alg::Rs256,
        now: 1_800_000_000,
        leeway: 30,
        audiences: &["a"],
        issuers: &[],
        max_lifetime: Some(3600),
    };
    let _ = jwt::verify(s, &v, |kid| {
        (kid == k.kid).then(|| VerifyKey::Rs256(k.public()))
    });
    let _ = tokens::verify_grant_assertion(s, "http://localhost/token", 1_800_000_000, |kid| {
        (kid == k.kid).then(|| ("sa@p.iam.gserviceaccount.com".to_owned(), k.public()))
    });
    let _ = jwt::verify_without_kid(s, &v, &[VerifyKey::Rs256(k.public())]);
    let _ = tokens::verify_grant_assertion_without_kid(
        s,
        "http://localhost/token",
        1_800_000_000,
        "sa@p.iam.gserviceaccount.com",
        vec![(k.kid.clone(), k.public())],
    );
});
