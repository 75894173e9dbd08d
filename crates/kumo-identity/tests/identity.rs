#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns may panic"
)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kumo_identity::jwt::{self, Alg, Claims, JwtError, Validation};
use kumo_identity::keys::{EcKey, KeyRing, RsaKey, VerifyKey};
use kumo_identity::{docs, password, sakey, tokens};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn rsa() -> &'static RsaKey {
    static K: OnceLock<RsaKey> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(&mut rng()).unwrap())
}

fn rsa2() -> &'static RsaKey {
    static K: OnceLock<RsaKey> = OnceLock::new();
    K.get_or_init(|| RsaKey::generate(&mut StdRng::seed_from_u64(8)).unwrap())
}

fn ec() -> &'static EcKey {
    static K: OnceLock<EcKey> = OnceLock::new();
    K.get_or_init(|| EcKey::generate(&mut StdRng::seed_from_u64(9)))
}

fn claims(v: Value) -> Claims {
    match v {
        Value::Object(m) => m,
        _ => panic!("object"),
    }
}

fn base_claims() -> Claims {
    claims(json!({"iss": "https://kumo", "aud": "a", "iat": NOW - 10, "exp": NOW + 3590}))
}

fn val(alg: Alg) -> Validation<'static> {
    Validation {
        alg,
        now: NOW,
        leeway: 30,
        audiences: &["a"],
        issuers: &["https://kumo"],
        max_lifetime: None,
    }
}

fn lookup(kid: &str) -> Option<VerifyKey> {
    if kid == rsa().kid {
        Some(VerifyKey::Rs256(rsa().public()))
    } else if kid == ec().kid {
        Some(VerifyKey::Es256(ec().public()))
    } else {
        None
    }
}

fn forge(header: Value, payload: &Claims, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(payload.clone()).to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

#[test]
fn round_trips() {
    let t = jwt::encode_rs256(rsa(), &base_claims());
    assert_eq!(
        jwt::verify(&t, &val(Alg::Rs256), lookup).unwrap()["aud"],
        "a"
    );
    let t = jwt::encode_es256(ec(), &base_claims());
    assert_eq!(
        jwt::verify(&t, &val(Alg::Es256), lookup).unwrap()["iss"],
        "https://kumo"
    );
    assert_eq!(rsa().kid.len(), 40);
    let pem = rsa().to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let back = RsaKey::from_pkcs8_pem(&rsa().kid, &pem).unwrap();
    assert_eq!(back.public(), rsa().public());
    let ecb = EcKey::from_pkcs8_pem(&ec().kid, &ec().to_pkcs8_pem().unwrap()).unwrap();
    assert_eq!(ecb.public(), ec().public());
}

#[test]
fn attack_suite() {
    let good = jwt::encode_rs256(rsa(), &base_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let rs = val(Alg::Rs256);
    let hs_header = json!({"alg": "HS256", "kid": rsa().kid});
    let none_header = json!({"alg": "none", "kid": rsa().kid});
    let mut tampered = base_claims();
    tampered.insert("aud".into(), json!(["a", "admin"]));
    let cases: Vec<(&str, String, Validation<'static>, JwtError)> = vec![
        (
            "alg none",
            forge(none_header, &base_claims(), b""),
            rs.clone(),
            JwtError::UnsupportedAlg("none".into()),
        ),
        (
            "hs256 with public key",
            forge(
                hs_header,
                &base_claims(),
                rsa().public_pem().unwrap().as_bytes(),
            ),
            rs.clone(),
            JwtError::UnsupportedAlg("HS256".into()),
        ),
        (
            "stripped signature",
            format!("{}.{}.", parts[0], parts[1]),
            rs.clone(),
            JwtError::InvalidSignature,
        ),
        (
            "two parts",
            format!("{}.{}", parts[0], parts[1]),
            rs.clone(),
            JwtError::Malformed("expected three dot-separated parts"),
        ),
        (
            "wrong kid",
            jwt::encode_rs256(rsa2(), &base_claims()),
            rs.clone(),
            JwtError::UnknownKid(rsa2().kid.clone()),
        ),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(Value::Object(tampered).to_string()),
                parts[2]
            ),
            rs.clone(),
            JwtError::InvalidSignature,
        ),
        (
            "expired",
            jwt::encode_rs256(
                rsa(),
                &claims(json!({"iss":"https://kumo","aud":"a","iat":NOW-4000,"exp":NOW-100})),
            ),
            rs.clone(),
            JwtError::Expired,
        ),
        (
            "iat future",
            jwt::encode_rs256(
                rsa(),
                &claims(json!({"iss":"https://kumo","aud":"a","iat":NOW+100,"exp":NOW+3700})),
            ),
            rs.clone(),
            JwtError::NotYetValid,
        ),
        (
            "nbf future",
            jwt::encode_rs256(
                rsa(),
                &claims(
                    json!({"iss":"https://kumo","aud":"a","iat":NOW,"nbf":NOW+100,"exp":NOW+3600}),
                ),
            ),
            rs.clone(),
            JwtError::NotYetValid,
        ),
        (
            "oversized header",
            forge(
                json!({"alg":"RS256","kid":rsa().kid,"x":"a".repeat(17_000)}),
                &base_claims(),
                b"x",
            ),
            rs.clone(),
            JwtError::TooLarge,
        ),
        (
            "wrong aud",
            jwt::encode_rs256(
                rsa(),
                &claims(json!({"iss":"https://kumo","aud":"b","iat":NOW,"exp":NOW+3600})),
            ),
            rs.clone(),
            JwtError::WrongAudience,
        ),
        (
            "wrong iss",
            jwt::encode_rs256(
                rsa(),
                &claims(json!({"iss":"https://evil","aud":"a","iat":NOW,"exp":NOW+3600})),
            ),
            rs.clone(),
            JwtError::WrongIssuer,
        ),
        (
            "missing exp",
            jwt::encode_rs256(
                rsa(),
                &claims(json!({"iss":"https://kumo","aud":"a","iat":NOW})),
            ),
            rs.clone(),
            JwtError::MissingClaim("exp"),
        ),
        (
            "es256 token where rs256 expected",
            jwt::encode_es256(ec(), &base_claims()),
            rs.clone(),
            JwtError::AlgMismatch {
                got: "ES256".into(),
                expected: "RS256",
            },
        ),
        (
            "rs256 token where es256 expected",
            good.clone(),
            val(Alg::Es256),
            JwtError::AlgMismatch {
                got: "RS256".into(),
                expected: "ES256",
            },
        ),
        (
            "rs256 header signed by ec kid",
            forge(
                json!({"alg":"RS256","kid":ec().kid}),
                &base_claims(),
                &[0u8; 256],
            ),
            rs.clone(),
            JwtError::InvalidSignature,
        ),
    ];
    for (name, token, v, want) in cases {
        assert_eq!(jwt::verify(&token, &v, lookup), Err(want), "{name}");
    }
}

#[test]
fn google_descriptions() {
    assert_eq!(
        JwtError::InvalidSignature.google_description(),
        "Invalid JWT Signature."
    );
    assert_eq!(
        JwtError::Expired.google_description(),
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
    );
}

#[test]
fn id_and_access_tokens_do_not_mix() {
    let ring = KeyRing::new(rsa().clone());
    let id = tokens::mint_id_token(
        &ring,
        &tokens::IdTokenSpec {
            issuer: "https://kumo",
            audience: "https://svc",
            azp: "1234",
            sub: "1234",
            email: Some("sa@p.iam.gserviceaccount.com"),
            iat: NOW,
            google: None,
        },
    );
    let c = tokens::verify_id_token(&ring, &id, "https://kumo", &["https://svc"], NOW, 0).unwrap();
    assert_eq!(c["exp"], NOW + 3600);
    assert_eq!(c["email_verified"], true);
    assert!(
        !c.contains_key("kumo_token_use"),
        "ID tokens stay Google-shaped"
    );
    let at = tokens::AccessToken {
        sub: "1234".into(),
        email: "sa@p.iam.gserviceaccount.com".into(),
        scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
        iat: NOW,
        exp: NOW + 3600,
        jti: "j1".into(),
    };
    let a = tokens::mint_access_token(ring.current(), "https://kumo", &at);
    assert!(a.starts_with("ya29."));
    assert_eq!(
        tokens::verify_access_token(&ring, &a, "https://kumo", NOW, 0).unwrap(),
        at
    );
    assert_eq!(
        tokens::verify_access_token(&ring, &format!("ya29.{id}"), "https://kumo", NOW, 0),
        Err(JwtError::WrongTokenType)
    );
    assert_eq!(
        tokens::verify_id_token(&ring, &a[5..], "https://kumo", &[], NOW, 0),
        Err(JwtError::WrongTokenType)
    );
    // Rotation keeps old tokens valid during overlap.
    let mut ring2 = ring.clone();
    ring2.rotate(rsa2().clone(), 1);
    assert!(tokens::verify_access_token(&ring2, &a, "https://kumo", NOW, 0).is_ok());
    assert_eq!(docs::jwks(&ring2)["keys"].as_array().unwrap().len(), 2);
    ring2.rotate(rsa().clone(), 0);
    assert_eq!(ring2.previous().len(), 0);
}

const SA: &str = "sa@p.iam.gserviceaccount.com";

fn sa_lookup(kid: &str) -> Option<(String, rsa::RsaPublicKey)> {
    (kid == rsa().kid).then(|| (SA.to_owned(), rsa().public()))
}

#[test]
fn grant_assertions() {
    let mk = |v: Value| jwt::encode_rs256(rsa(), &claims(v));
    let own = "http://localhost:8080/token";
    let ok = mk(
        json!({"iss": SA, "aud": tokens::GOOGLE_TOKEN_URI, "scope": "a b", "iat": NOW, "exp": NOW + 3600}),
    );
    let g = tokens::verify_grant_assertion(&ok, own, NOW, sa_lookup).unwrap();
    assert_eq!(
        g.request,
        tokens::GrantRequest::AccessToken {
            scopes: vec!["a".into(), "b".into()]
        }
    );
    let id = mk(
        json!({"iss": SA, "aud": own, "target_audience": "https://x", "iat": NOW + 200, "exp": NOW + 3800}),
    );
    assert_eq!(
        tokens::verify_grant_assertion(&id, own, NOW, sa_lookup)
            .unwrap()
            .request,
        tokens::GrantRequest::IdToken {
            target_audience: "https://x".into()
        }
    );
    let long = mk(json!({"iss": SA, "aud": own, "scope": "a", "iat": NOW, "exp": NOW + 7200}));
    assert_eq!(
        tokens::verify_grant_assertion(&long, own, NOW, sa_lookup),
        Err(JwtError::LifetimeTooLong)
    );
    let past = mk(json!({"iss": SA, "aud": own, "scope": "a", "iat": NOW - 3600, "exp": NOW - 5}));
    assert_eq!(
        tokens::verify_grant_assertion(&past, own, NOW, sa_lookup),
        Err(JwtError::Expired)
    );
    let noscope = mk(json!({"iss": SA, "aud": own, "iat": NOW, "exp": NOW + 60}));
    assert_eq!(
        tokens::verify_grant_assertion(&noscope, own, NOW, sa_lookup),
        Err(JwtError::MissingClaim("scope"))
    );
    let badaud = mk(
        json!({"iss": SA, "aud": "https://evil/token", "scope": "a", "iat": NOW, "exp": NOW + 60}),
    );
    assert_eq!(
        tokens::verify_grant_assertion(&badaud, own, NOW, sa_lookup),
        Err(JwtError::WrongAudience)
    );
}

#[test]
fn self_signed_jwts() {
    let mk = |v: Value| jwt::encode_rs256(rsa(), &claims(v));
    let auds = ["https://run.googleapis.com/"];
    let t = mk(
        json!({"iss": SA, "sub": SA, "aud": "https://run.googleapis.com/", "iat": NOW, "exp": NOW + 3600}),
    );
    let s = tokens::verify_self_signed(&t, &auds, NOW, 0, sa_lookup).unwrap();
    assert_eq!(
        s.target,
        tokens::SelfSignedTarget::Audience("https://run.googleapis.com/".into())
    );
    let t = mk(
        json!({"iss": SA, "sub": SA, "scope": "https://www.googleapis.com/auth/iam", "iat": NOW, "exp": NOW + 3600}),
    );
    assert!(matches!(
        tokens::verify_self_signed(&t, &auds, NOW, 0, sa_lookup)
            .unwrap()
            .target,
        tokens::SelfSignedTarget::Scopes(_)
    ));
    let t = mk(json!({"iss": SA, "sub": "other@x", "scope": "s", "iat": NOW, "exp": NOW + 3600}));
    assert_eq!(
        tokens::verify_self_signed(&t, &auds, NOW, 0, sa_lookup),
        Err(JwtError::MissingClaim("sub"))
    );
    let t = mk(
        json!({"iss": SA, "sub": SA, "aud": "https://evil.googleapis.com/", "iat": NOW, "exp": NOW + 3600}),
    );
    assert_eq!(
        tokens::verify_self_signed(&t, &auds, NOW, 0, sa_lookup),
        Err(JwtError::WrongAudience)
    );
    // google-cloud-auth (Rust): iat = now - 10 s, exp = now + 3610 s. Accepted; more than an
    // hour (plus skew) in the future is not.
    let t = mk(json!({"iss": SA, "sub": SA, "scope": "s", "iat": NOW - 10, "exp": NOW + 3610}));
    assert!(tokens::verify_self_signed(&t, &auds, NOW, 0, sa_lookup).is_ok());
    let t = mk(json!({"iss": SA, "sub": SA, "scope": "s", "iat": NOW, "exp": NOW + 7200}));
    assert_eq!(
        tokens::verify_self_signed(&t, &auds, NOW, 0, sa_lookup),
        Err(JwtError::LifetimeTooLong)
    );
}

#[test]
fn key_file_golden_shape() {
    let ep = sakey::Endpoints {
        token_uri: "http://localhost:8080/token",
        auth_uri: "http://localhost:8080/o/oauth2/auth",
        certs_uri: "http://localhost:8080/oauth2/v1/certs",
        x509_prefix: "http://localhost:8080/robot/v1/metadata/x509/",
    };
    let (file, stored) = sakey::generate_key_file(&mut rng(), "p", SA, "1234", &ep).unwrap();
    let j = file.to_json();
    let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, Value>>(&j)
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let order: Vec<&str> = vec![
        "type",
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "client_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_x509_cert_url",
        "universe_domain",
    ];
    let pos: Vec<usize> = order
        .iter()
        .map(|k| j.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "field order");
    assert_eq!(keys.len(), order.len());
    assert!(
        file.private_key
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    assert_eq!(file.kind, "service_account");
    assert_eq!(file.private_key_id, stored.key_id);
    assert_eq!(
        file.client_x509_cert_url,
        "http://localhost:8080/robot/v1/metadata/x509/sa%40p.iam.gserviceaccount.com"
    );
    let up = sakey::upload_public_key(&mut rng(), &stored.public_key_pem).unwrap();
    assert_eq!(up.public_key_pem, stored.public_key_pem);
    assert!(sakey::upload_public_key(&mut rng(), "garbage").is_err());
}

#[test]
fn documents() {
    let d = docs::discovery("http://localhost:8080/");
    assert_eq!(d["issuer"], "http://localhost:8080");
    assert_eq!(d["jwks_uri"], "http://localhost:8080/oauth2/v3/certs");
    let ring = KeyRing::new(rsa().clone());
    let jwk = &docs::jwks(&ring)["keys"][0];
    assert_eq!(
        (jwk["alg"].as_str(), jwk["use"].as_str(), jwk["e"].as_str()),
        (Some("RS256"), Some("sig"), Some("AQAB"))
    );
    let spec = kumo_identity::x509::CertificateSpec {
        common_name: "localhost",
        not_before: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        not_after: chrono::DateTime::from_timestamp(1_801_209_600, 0).unwrap(),
    };
    let certs = docs::v1_certs(&ring, |key| {
        kumo_identity::x509::self_signed_pem(key, &spec)
    })
    .unwrap();
    let cert = certs[&rsa().kid].as_str().unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        kumo_identity::x509::public_key_from_pem(cert).unwrap(),
        rsa().public()
    );
    let iap = docs::iap_jwks(std::slice::from_ref(ec()));
    assert_eq!(iap["keys"][0]["crv"], "P-256");
    assert_eq!(iap["keys"][0]["x"].as_str().unwrap().len(), 43);
}

#[test]
fn passwords() {
    let h = password::hash_password(&mut rng(), "hunter2").unwrap();
    assert!(h.starts_with("$argon2id$"));
    assert!(password::verify_password("hunter2", &h));
    assert!(!password::verify_password("hunter3", &h));
    assert!(!password::verify_password("hunter2", "not-a-hash"));
}

proptest! {
    #[test]
    fn verifier_never_panics(s in ".{0,400}", parts in proptest::collection::vec("[A-Za-z0-9_-]{0,80}", 0..5)) {
        let _ = jwt::verify(&s, &val(Alg::Rs256), lookup);
        let _ = jwt::verify(&parts.join("."), &val(Alg::Rs256), lookup);
        let _ = tokens::verify_grant_assertion(&s, "x", NOW, sa_lookup);
    }
}

#[test]
fn delegation_plan() {
    use kumo_identity::delegation::{IMPLICIT_DELEGATION, plan};
    let p = plan(
        "user:a@x.com",
        &[
            "d1@p.iam.gserviceaccount.com",
            "d2@p.iam.gserviceaccount.com",
        ],
        "t@p.iam.gserviceaccount.com",
        "iam.serviceAccounts.getAccessToken",
    );
    let got: Vec<(&str, &str, &str)> = p
        .iter()
        .map(|c| (c.principal.as_str(), c.permission, c.resource.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "user:a@x.com",
                IMPLICIT_DELEGATION,
                "projects/-/serviceAccounts/d1@p.iam.gserviceaccount.com"
            ),
            (
                "serviceAccount:d1@p.iam.gserviceaccount.com",
                IMPLICIT_DELEGATION,
                "projects/-/serviceAccounts/d2@p.iam.gserviceaccount.com"
            ),
            (
                "serviceAccount:d2@p.iam.gserviceaccount.com",
                "iam.serviceAccounts.getAccessToken",
                "projects/-/serviceAccounts/t@p.iam.gserviceaccount.com"
            ),
        ]
    );
    assert_eq!(
        plan("user:a@x.com", &[], "t@p", "iam.serviceAccounts.signJwt").len(),
        1
    );
}

#[test]
fn directory_groups_and_customers() {
    use kumo_identity::directory::{Directory, is_customer_id};
    assert!(is_customer_id("C01abc2de"));
    assert!(!is_customer_id("C1abc2de") && !is_customer_id("C01ab-2de"));
    let mut d = Directory::new();
    d.add_customer("C01abc2de").unwrap();
    d.add_domain("C01abc2de", "Example.com").unwrap();
    assert!(d.add_customer("bad").is_err());
    assert_eq!(d.customer_of_email("Alice@example.com"), Some("C01abc2de"));
    assert_eq!(d.customer_of_email("a@other.com"), None);
    d.add_member("eng@example.com", "alice@example.com");
    d.add_member("all@example.com", "eng@example.com");
    d.add_member("eng@example.com", "all@example.com"); // cycle
    assert_eq!(
        d.resolve_groups("alice@example.com"),
        vec!["all@example.com", "eng@example.com"]
    );
    assert_eq!(d.resolve_groups("eng@example.com"), vec!["all@example.com"]);
}

#[test]
fn upload_x509_certificate() {
    let cert = include_str!("fixtures/upload_cert.pem");
    let spki = include_str!("fixtures/upload_pub.pem");
    let a = sakey::upload_public_key(&mut rng(), cert).unwrap();
    let b = sakey::upload_public_key(&mut rng(), spki).unwrap();
    assert_eq!(a.public_key_pem, b.public_key_pem);
    assert_eq!(a.key_id.len(), 40);
    let truncated = &cert[..cert.len() / 2];
    assert!(sakey::upload_public_key(&mut rng(), truncated).is_err());
}

/// RS256 over `header.payload` with `key`, whatever the header says (e.g. no `kid`).
fn sign_rs256_with_header(key: &RsaKey, header: Value, payload: &Claims) -> String {
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(payload.clone()).to_string())
    );
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.private.clone());
    let signature = signer.sign(input.as_bytes()).to_vec();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Google's Node library signs grant assertions with `{"alg":"RS256"}` only: the account's keys are
/// tried in turn, the one that signed is reported, and everything else is checked as usual.
#[test]
fn grant_assertions_without_kid() {
    let own = "http://localhost:8080/token";
    let body = claims(
        json!({"iss": SA, "aud": tokens::GOOGLE_TOKEN_URI, "scope": "a", "iat": NOW, "exp": NOW + 3600}),
    );
    let kidless = sign_rs256_with_header(rsa(), json!({"alg": "RS256", "typ": "JWT"}), &body);
    let keys = vec![
        (rsa2().kid.clone(), rsa2().public()),
        (rsa().kid.clone(), rsa().public()),
    ];
    let g =
        tokens::verify_grant_assertion_without_kid(&kidless, own, NOW, SA, keys.clone()).unwrap();
    assert_eq!(g.key_id, rsa().kid);
    assert_eq!(g.email, SA);
    // Signed by a key the account does not have.
    assert_eq!(
        tokens::verify_grant_assertion_without_kid(
            &kidless,
            own,
            NOW,
            SA,
            vec![(rsa2().kid.clone(), rsa2().public())]
        ),
        Err(JwtError::InvalidSignature)
    );
    // No keys at all, a tampered payload, another issuer, an expired assertion.
    assert_eq!(
        tokens::verify_grant_assertion_without_kid(&kidless, own, NOW, SA, vec![]),
        Err(JwtError::InvalidSignature)
    );
    let mut parts: Vec<&str> = kidless.split('.').collect();
    let evil = URL_SAFE_NO_PAD.encode(
        json!({"iss": SA, "aud": tokens::GOOGLE_TOKEN_URI, "scope": "admin", "iat": NOW, "exp": NOW + 3600})
            .to_string(),
    );
    parts[1] = &evil;
    assert_eq!(
        tokens::verify_grant_assertion_without_kid(&parts.join("."), own, NOW, SA, keys.clone()),
        Err(JwtError::InvalidSignature)
    );
    assert_eq!(
        tokens::verify_grant_assertion_without_kid(
            &kidless,
            own,
            NOW,
            "other@p.iam.gserviceaccount.com",
            keys.clone()
        ),
        Err(JwtError::WrongIssuer)
    );
    assert_eq!(
        tokens::verify_grant_assertion_without_kid(&kidless, own, NOW + 7200, SA, keys.clone()),
        Err(JwtError::Expired)
    );
    // A token that names its key goes through verify_grant_assertion instead.
    let with_kid = jwt::encode_rs256(rsa(), &body);
    assert!(tokens::verify_grant_assertion_without_kid(&with_kid, own, NOW, SA, keys).is_err());
}
