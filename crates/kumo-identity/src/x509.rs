//! Self-signed X.509 certificates for RS256 keys, as Google publishes its signing keys at
//! `https://www.googleapis.com/oauth2/v1/certs` and service-account keys at
//! `/robot/v1/metadata/x509/EMAIL`: a JSON map of key id → `-----BEGIN CERTIFICATE-----` PEM.
//!
//! The certificate is a pure function of the key, the subject and the validity window (RSA
//! PKCS#1 v1.5 signatures are deterministic and the serial number derives from the key id), so the
//! same key always publishes the same bytes, across restarts.
//!
//! [`public_key_from_pem`] reads back only the key: a minimal DER walk to the
//! SubjectPublicKeyInfo, no chain or validity checks (Google, too, only uses a certificate's key).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Datelike as _, Utc};
use rsa::RsaPublicKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use rsa::signature::{SignatureEncoding as _, Signer as _};
use sha2::Sha256;

use crate::keys::{KeyError, RsaKey};

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// sha256WithRSAEncryption (1.2.840.113549.1.1.11).
const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// id-at-commonName (2.5.4.3).
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// id-ce-basicConstraints (2.5.29.19).
const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
/// id-ce-keyUsage (2.5.29.15).
const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
/// id-ce-extKeyUsage (2.5.29.37).
const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
/// id-kp-clientAuth (1.3.6.1.5.5.7.3.2).
const CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const BOOLEAN: u8 = 0x01;
/// `[0] EXPLICIT` (version) and `[3] EXPLICIT` (extensions) in a TBSCertificate.
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_3: u8 = 0xa3;

/// What a certificate says besides the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSpec<'a> {
    /// Subject and issuer common name (the certificate is self-signed).
    pub common_name: &'a str,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
}

/// A self-signed v3 certificate for `key`, PEM-encoded (`-----BEGIN CERTIFICATE-----`, 64-column
/// lines), signed with sha256WithRSAEncryption. The serial number is the first 8 bytes of the key
/// id (top bit cleared so the INTEGER stays positive).
pub fn self_signed_pem(key: &RsaKey, spec: &CertificateSpec<'_>) -> Result<String, KeyError> {
    let der = self_signed_der(key, spec)?;
    Ok(pem(&der))
}

/// The DER of [`self_signed_pem`].
pub fn self_signed_der(key: &RsaKey, spec: &CertificateSpec<'_>) -> Result<Vec<u8>, KeyError> {
    let spki = key
        .public()
        .to_public_key_der()
        .map_err(|error| KeyError::Pem(error.to_string()))?;
    let algorithm = tlv(
        SEQUENCE,
        &[tlv(OID, SHA256_WITH_RSA), tlv(NULL, &[])].concat(),
    );
    let name = tlv(
        SEQUENCE,
        &tlv(
            SET,
            &tlv(
                SEQUENCE,
                &[
                    tlv(OID, COMMON_NAME),
                    tlv(UTF8_STRING, spec.common_name.as_bytes()),
                ]
                .concat(),
            ),
        ),
    );
    let validity = tlv(
        SEQUENCE,
        &[time(spec.not_before), time(spec.not_after)].concat(),
    );
    let tbs = tlv(
        SEQUENCE,
        &[
            tlv(CONTEXT_0, &tlv(INTEGER, &[2])),
            tlv(INTEGER, &serial(&key.kid)),
            algorithm.clone(),
            name.clone(),
            validity,
            name,
            spki.as_bytes().to_vec(),
            tlv(CONTEXT_3, &extensions()),
        ]
        .concat(),
    );
    let signature = SigningKey::<Sha256>::new(key.private.clone())
        .sign(&tbs)
        .to_vec();
    let mut bits = vec![0u8];
    bits.extend(signature);
    Ok(tlv(
        SEQUENCE,
        &[tbs, algorithm, tlv(BIT_STRING, &bits)].concat(),
    ))
}

/// The RSA public key of a PEM document: an X.509 `CERTIFICATE` (Kumo's own or an uploaded
/// one) or an SPKI `PUBLIC KEY` (google-auth's verifier accepts both the same way).
pub fn public_key_from_pem(text: &str) -> Result<RsaPublicKey, KeyError> {
    let text = text.trim();
    if text.starts_with(PEM_BEGIN) {
        cert_public_key(text)
    } else {
        crate::keys::public_from_pem(text)
    }
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
    let (cert, _) = tlv_read(&der).ok_or_else(|| bad("outer sequence"))?;
    let (tbs, _) = tlv_read(cert.content).ok_or_else(|| bad("tbsCertificate"))?;
    let mut rest = tbs.content;
    let mut fields = Vec::new();
    while !rest.is_empty() && fields.len() < 7 {
        let (f, r) = tlv_read(rest).ok_or_else(|| bad("tbsCertificate field"))?;
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
fn tlv_read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
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

fn extensions() -> Vec<u8> {
    let extension = |oid: &[u8], critical: bool, value: Vec<u8>| {
        let mut fields = tlv(OID, oid);
        if critical {
            fields.extend(tlv(BOOLEAN, &[0xff]));
        }
        fields.extend(tlv(OCTET_STRING, &value));
        tlv(SEQUENCE, &fields)
    };
    tlv(
        SEQUENCE,
        &[
            // CA:FALSE (an empty BasicConstraints).
            extension(BASIC_CONSTRAINTS, true, tlv(SEQUENCE, &[])),
            // digitalSignature only: 7 unused bits, bit 0 set.
            extension(KEY_USAGE, true, tlv(BIT_STRING, &[0x07, 0x80])),
            extension(EXT_KEY_USAGE, false, tlv(SEQUENCE, &tlv(OID, CLIENT_AUTH))),
        ]
        .concat(),
    )
}

/// UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
fn time(at: DateTime<Utc>) -> Vec<u8> {
    if (1950..2050).contains(&at.year()) {
        tlv(UTC_TIME, at.format("%y%m%d%H%M%SZ").to_string().as_bytes())
    } else {
        tlv(
            GENERALIZED_TIME,
            at.format("%Y%m%d%H%M%SZ").to_string().as_bytes(),
        )
    }
}

fn serial(kid: &str) -> Vec<u8> {
    let mut bytes: Vec<u8> = kid
        .as_bytes()
        .chunks(2)
        .take(8)
        .filter_map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        })
        .collect();
    if let Some(first) = bytes.first_mut() {
        // Positive and without a redundant leading zero byte.
        *first = (*first & 0x7f) | 0x01;
    } else {
        bytes.push(1);
    }
    bytes
}

fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = contents.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|byte| *byte == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + 80);
    out.push_str(PEM_BEGIN);
    out.push('\n');
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(PEM_END);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use rand::SeedableRng as _;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier as _;

    use super::*;

    fn key() -> RsaKey {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        RsaKey::generate(&mut rng).unwrap()
    }

    fn spec() -> CertificateSpec<'static> {
        CertificateSpec {
            common_name: "127.0.0.1",
            not_before: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            not_after: Utc.with_ymd_and_hms(2026, 1, 16, 3, 4, 5).unwrap(),
        }
    }

    #[test]
    fn certificate_carries_the_key_and_its_own_valid_signature() {
        let key = key();
        let pem = self_signed_pem(&key, &spec()).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|line| line.len() <= 64));
        assert_eq!(public_key_from_pem(&pem).unwrap(), key.public());

        // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
        let der = self_signed_der(&key, &spec()).unwrap();
        let (certificate, rest) = tlv_read(&der).unwrap();
        assert!(rest.is_empty());
        let (tbs, after_tbs) = tlv_read(certificate.content).unwrap();
        let (algorithm, after_algorithm) = tlv_read(after_tbs).unwrap();
        assert_eq!(algorithm.tag, SEQUENCE);
        let (bits, end) = tlv_read(after_algorithm).unwrap();
        assert!(end.is_empty());
        assert_eq!(bits.tag, BIT_STRING);
        let (tbs, bits) = (tbs.whole, bits.content);
        assert_eq!(bits[0], 0);
        let signature = Signature::try_from(&bits[1..]).unwrap();
        VerifyingKey::<Sha256>::new(key.public())
            .verify(tbs, &signature)
            .unwrap();
    }

    #[test]
    fn same_key_same_certificate() {
        let key = key();
        assert_eq!(
            self_signed_pem(&key, &spec()).unwrap(),
            self_signed_pem(&key, &spec()).unwrap()
        );
        let mut later = spec();
        later.not_after = Utc.with_ymd_and_hms(2060, 1, 1, 0, 0, 0).unwrap();
        assert_ne!(
            self_signed_pem(&key, &spec()).unwrap(),
            self_signed_pem(&key, &later).unwrap()
        );
        // A year past 2049 is a GeneralizedTime.
        assert_eq!(time(later.not_after)[0], GENERALIZED_TIME);
        assert_eq!(time(later.not_before)[0], UTC_TIME);
    }

    #[test]
    fn serial_is_positive_and_minimal() {
        let serial = serial("ff00000000000000000000000000000000000000");
        assert_eq!(serial.len(), 8);
        assert!(serial[0] < 0x80 && serial[0] != 0);
    }

    #[test]
    fn public_key_pems_still_parse_and_garbage_does_not() {
        let key = key();
        assert_eq!(
            public_key_from_pem(&key.public_pem().unwrap()).unwrap(),
            key.public()
        );
        assert!(
            public_key_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        assert!(tlv_read(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_none());
        assert!(tlv_read(&[0x30, 0x05, 1]).is_none());
    }
}
