//! The token issuer's signing keys: RS256 keys persisted as `keys/{KID}` records, generated on
//! first use and rotated with overlap (the previous keys stay published and accepted, so tokens
//! minted just before a rotation keep verifying until they expire).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use kumo_identity::keys::{KeyRing, RsaKey};
use kumo_store::{ListQuery, Write};
use serde_json::{Value, json};

use crate::records::{Collection, store_error};
use crate::{Call, Control, Error};

/// How many retired keys stay published after a rotation. Tokens live one hour; two rotations
/// inside that hour are unusual, so two previous keys cover every live token.
const KEEP_PREVIOUS: usize = 2;
/// Validity of the published certificates. Google's rotate every few weeks (UNCONFIRMED exact
/// window); Kumo's keys live until an administrator rotates them, so the certificate must not
/// expire first.
const CERTIFICATE_VALIDITY_DAYS: i64 = 20 * 365;

/// Parsed private keys by key id. Parsing a PKCS#8 PEM costs more than a store read; key ids are
/// 160 random bits, so one id always names the same key material, whichever store it came from.
fn parsed_keys() -> &'static Mutex<HashMap<String, RsaKey>> {
    static KEYS: OnceLock<Mutex<HashMap<String, RsaKey>>> = OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashMap::new()))
}

pub(crate) fn parse_key(kid: &str, pem: &str) -> Result<RsaKey, Error> {
    if let Ok(cache) = parsed_keys().lock()
        && let Some(key) = cache.get(kid)
    {
        return Ok(key.clone());
    }
    let key = RsaKey::from_pkcs8_pem(kid, pem)
        .map_err(|error| Error::internal(format!("signing key {kid}: {error}")))?;
    if let Ok(mut cache) = parsed_keys().lock() {
        cache.insert(kid.to_owned(), key.clone());
    }
    Ok(key)
}

fn key_record(key: &RsaKey, state: &str, now: &str) -> Result<Value, Error> {
    let pem = key.to_pkcs8_pem().map_err(Error::internal)?;
    Ok(json!({"kid": key.kid, "privateKeyPem": pem, "state": state, "createTime": now}))
}

impl Control {
    /// The issuer string of Kumo's tokens (`iss`): Kumo's own URL unless configured otherwise
    /// (`kumo up --issuer google` mints `https://accounts.google.com`).
    pub fn issuer(&self) -> String {
        match &self.config().issuer {
            Some(issuer) => issuer.trim_end_matches('/').to_owned(),
            None => self.base_url(),
        }
    }

    /// Where Kumo's endpoints are (token, sign-in, certificates), whatever the issuer string.
    pub fn base_url(&self) -> String {
        self.config().external_url.trim_end_matches('/').to_owned()
    }

    /// Kumo's token endpoint (`token_uri` of the credentials it hands out).
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The issuer's key ring: the current key and the previous ones still published. Creates the
    /// first key when there is none.
    pub fn signing_keys(&self) -> Result<Arc<KeyRing>, Error> {
        if let Some(ring) = self.load_ring()? {
            return Ok(ring);
        }
        let key = RsaKey::generate(&mut rand::rngs::OsRng).map_err(Error::internal)?;
        let now = self
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let write = Write::Create {
            collection: Collection::SigningKeys.as_str().to_owned(),
            name: format!("keys/{}", key.kid),
            parent: None,
            data: key_record(&key, "CURRENT", &now)?,
        };
        // Two first calls may race; whichever committed last is simply one more key, and
        // `load_ring` picks the newest as current.
        self.commit(&[write])?;
        self.load_ring()?
            .ok_or_else(|| Error::internal("signing key vanished after creation"))
    }

    fn load_ring(&self) -> Result<Option<Arc<KeyRing>>, Error> {
        let page = self
            .store()
            .list(
                Collection::SigningKeys.as_str(),
                &ListQuery {
                    name_prefix: Some("keys/".to_owned()),
                    ..ListQuery::default()
                },
            )
            .map_err(store_error)?;
        let mut records = page.records;
        // Newest first: the newest CURRENT key signs; everything else only verifies.
        records.sort_by(|a, b| {
            b.create_time
                .cmp(&a.create_time)
                .then_with(|| b.name.cmp(&a.name))
        });
        let current_index = records
            .iter()
            .position(|r| r.data["state"].as_str() == Some("CURRENT"));
        let Some(current_index) = current_index else {
            return Ok(None);
        };
        let current_record = records.remove(current_index);
        let current = parse_key(
            current_record.data["kid"].as_str().unwrap_or_default(),
            current_record.data["privateKeyPem"]
                .as_str()
                .unwrap_or_default(),
        )?;
        let mut previous = Vec::new();
        for record in records {
            previous.push(parse_key(
                record.data["kid"].as_str().unwrap_or_default(),
                record.data["privateKeyPem"].as_str().unwrap_or_default(),
            )?);
        }
        Ok(Some(Arc::new(KeyRing::with_previous(current, previous))))
    }

    /// Whether `kid` is one of the issuer's published keys (cheap: one store read).
    pub(crate) fn signing_key_published(&self, kid: &str) -> Result<bool, Error> {
        Ok(self
            .store()
            .get(Collection::SigningKeys.as_str(), &format!("keys/{kid}"))
            .map_err(store_error)?
            .is_some())
    }

    /// `POST /kumo/v1/keys:rotate`: a new current key; the old one keeps verifying; keys older
    /// than [`KEEP_PREVIOUS`] rotations are removed. Needs organization administration of the
    /// bootstrap organization. Returns `{"currentKeyId", "publishedKeyIds"}`.
    pub fn rotate_signing_keys(&self, call: &Call) -> Result<Value, Error> {
        self.require_system_admin(call)?;
        let ring = self.signing_keys()?;
        let next = RsaKey::generate(&mut rand::rngs::OsRng).map_err(Error::internal)?;
        let now = self
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let collection = Collection::SigningKeys.as_str().to_owned();
        let mut writes = vec![Write::Create {
            collection: collection.clone(),
            name: format!("keys/{}", next.kid),
            parent: None,
            data: key_record(&next, "CURRENT", &now)?,
        }];
        writes.push(Write::Update {
            collection: collection.clone(),
            name: format!("keys/{}", ring.current().kid),
            data: key_record(ring.current(), "PREVIOUS", &now)?,
            expected_revision: None,
        });
        // Previous keys are ordered newest first; the oldest beyond the overlap are retired.
        for retired in ring.previous().iter().skip(KEEP_PREVIOUS.saturating_sub(1)) {
            writes.push(Write::HardDelete {
                collection: collection.clone(),
                name: format!("keys/{}", retired.kid),
                expected_revision: None,
            });
        }
        self.commit(&writes)?;
        let ring = self.signing_keys()?;
        Ok(json!({
            "currentKeyId": ring.current().kid,
            "publishedKeyIds": ring.all().map(|k| k.kid.clone()).collect::<Vec<_>>(),
        }))
    }

    /// `/.well-known/openid-configuration`.
    /// Only what Kumo serves is advertised: no device flow, PKCE with S256 only.
    pub fn openid_configuration(&self) -> Value {
        let mut document = kumo_identity::docs::discovery(&self.base_url());
        if let Some(object) = document.as_object_mut() {
            // The endpoints stay Kumo's even when the tokens carry another issuer string.
            object.insert("issuer".into(), json!(self.issuer()));
            object.remove("device_authorization_endpoint");
            object.insert("code_challenge_methods_supported".into(), json!(["S256"]));
            object.insert(
                "grant_types_supported".into(),
                json!([
                    "authorization_code",
                    "refresh_token",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer"
                ]),
            );
            object.insert("response_types_supported".into(), json!(["code"]));
        }
        document
    }

    /// `/oauth2/v3/certs` (JWK set).
    pub fn jwks(&self) -> Result<Value, Error> {
        Ok(kumo_identity::docs::jwks(&*self.signing_keys()?))
    }

    /// `/oauth2/v1/certs`: key id → self-signed X.509 certificate PEM, as Google publishes it
    /// (google-auth's `verify_token` reads the key out of the certificate). Each certificate is
    /// valid from its key's creation; the same key always publishes the same bytes.
    pub fn v1_certs(&self) -> Result<Value, Error> {
        let ring = self.signing_keys()?;
        let created = self.signing_key_creation_times()?;
        let issuer = self.issuer();
        // UNCONFIRMED: the subject of Google's own certificates; Kumo names its issuer host.
        let common_name = issuer
            .split_once("://")
            .map_or(issuer.as_str(), |(_, host)| host);
        kumo_identity::docs::v1_certs(&ring, |key| {
            let not_before = created.get(&key.kid).copied().unwrap_or_default();
            kumo_identity::x509::self_signed_pem(
                key,
                &kumo_identity::x509::CertificateSpec {
                    common_name,
                    not_before,
                    not_after: not_before + chrono::Duration::days(CERTIFICATE_VALIDITY_DAYS),
                },
            )
        })
        .map_err(Error::internal)
    }

    /// When each issuer key was created, by key id.
    fn signing_key_creation_times(
        &self,
    ) -> Result<HashMap<String, chrono::DateTime<chrono::Utc>>, Error> {
        let page = self
            .store()
            .list(
                Collection::SigningKeys.as_str(),
                &ListQuery {
                    name_prefix: Some("keys/".to_owned()),
                    ..ListQuery::default()
                },
            )
            .map_err(store_error)?;
        Ok(page
            .records
            .into_iter()
            .filter_map(|record| {
                let created = record.data["createTime"]
                    .as_str()
                    .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
                    .map_or(record.create_time, |time| time.with_timezone(&chrono::Utc));
                record.data["kid"]
                    .as_str()
                    .map(|kid| (kid.to_owned(), created))
            })
            .collect())
    }

    /// The organization created first (at bootstrap): its administrators administer Kumo itself
    /// (issuer keys, new organizations).
    pub fn system_organization(&self) -> Result<Option<String>, Error> {
        let page = self
            .store()
            .list(Collection::Organizations.as_str(), &ListQuery::default())
            .map_err(store_error)?;
        Ok(page
            .records
            .into_iter()
            .min_by(|a, b| {
                a.create_time
                    .cmp(&b.create_time)
                    .then_with(|| a.name.cmp(&b.name))
            })
            .and_then(|record| {
                record
                    .name
                    .strip_prefix("organizations/")
                    .map(str::to_owned)
            }))
    }

    /// Refuses unless the caller administers the bootstrap organization
    /// (`resourcemanager.organizations.setIamPolicy`, held by Organization Administrator).
    pub(crate) fn require_system_admin(&self, call: &Call) -> Result<(), Error> {
        let Some(organization) = self.system_organization()? else {
            return Err(Error::permission_denied(
                SYSTEM_ADMIN_PERMISSION,
                "organizations/-",
            ));
        };
        self.authorize(
            call,
            SYSTEM_ADMIN_PERMISSION,
            &crate::ResourceRef::Organization(organization),
        )
    }
}

/// The permission that makes a principal an administrator of Kumo's directory and issuer.
pub const SYSTEM_ADMIN_PERMISSION: &str = "resourcemanager.organizations.setIamPolicy";
