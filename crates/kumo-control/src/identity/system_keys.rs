//! Google-managed (system) keys of service accounts: what `signBlob` and `signJwt` sign with. The
//! private part stays in `Collection::SigningKeys` (`sa-keys/{EMAIL}/{KID}`); the public part is
//! a `SYSTEM_MANAGED` key of the account, so that verifiers find it where Google publishes it
//! (`/robot/v1/metadata/x509/{EMAIL}`, `/service_accounts/v1/metadata/jwk/{EMAIL}`) and a JWT
//! signed through `signJwt` works as an assertion or self-signed token, as at Google.

use base64::Engine as _;
use kumo_identity::keys::RsaKey;
use kumo_store::{ListQuery, ParentFilter, Record, Write};
use serde_json::{Map, Value, json};

use crate::records::{Collection, store_error};
use crate::{Control, Error};

/// Google rotates system-managed keys; their public halves stay valid for a while after.
const SYSTEM_KEY_VALIDITY_DAYS: i64 = 365;

impl Control {
    /// The account's current system-managed signing key, created on first use.
    pub(crate) fn system_key(&self, account: &Record) -> Result<RsaKey, Error> {
        let email = account.data["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let prefix = format!("sa-keys/{email}/");
        let page = self
            .store()
            .list(
                Collection::SigningKeys.as_str(),
                &ListQuery {
                    name_prefix: Some(prefix.clone()),
                    ..ListQuery::default()
                },
            )
            .map_err(store_error)?;
        if let Some(record) = page
            .records
            .into_iter()
            .max_by(|a, b| a.create_time.cmp(&b.create_time))
        {
            return super::issuer::parse_key(
                record.data["kid"].as_str().unwrap_or_default(),
                record.data["privateKeyPem"].as_str().unwrap_or_default(),
            );
        }
        let key = RsaKey::generate(&mut rand::rngs::OsRng).map_err(Error::internal)?;
        let now = self.now();
        let pem = key.to_pkcs8_pem().map_err(Error::internal)?;
        let public = key.public_pem().map_err(Error::internal)?;
        let key_name = format!("{}/keys/{}", account.name, key.kid);
        self.commit(&[
            Write::Create {
                collection: Collection::SigningKeys.as_str().to_owned(),
                name: format!("{prefix}{}", key.kid),
                parent: None,
                data: json!({"kid": key.kid, "privateKeyPem": pem, "state": "SYSTEM", "createTime": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}),
            },
            Write::Create {
                collection: Collection::ServiceAccountKeys.as_str().to_owned(),
                name: key_name.clone(),
                parent: Some(account.name.clone()),
                data: json!({
                    "name": key_name,
                    "keyAlgorithm": "KEY_ALG_RSA_2048",
                    "publicKeyData": base64::engine::general_purpose::STANDARD.encode(public),
                    "validAfterTime": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "validBeforeTime": (now + chrono::Duration::days(SYSTEM_KEY_VALIDITY_DAYS)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "keyOrigin": "GOOGLE_PROVIDED",
                    "keyType": "SYSTEM_MANAGED",
                }),
            },
        ])?;
        Ok(key)
    }

    /// The usable public keys of a service account (user- and system-managed), by key id:
    /// `None` when the account does not exist.
    fn public_keys(&self, email: &str) -> Result<Option<Vec<(String, rsa::RsaPublicKey)>>, Error> {
        let Some(account) = self.any_service_account(email)? else {
            return Ok(None);
        };
        let page = self
            .store()
            .list(
                Collection::ServiceAccountKeys.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(account.name.clone()),
                    ..ListQuery::default()
                },
            )
            .map_err(store_error)?;
        let mut keys = Vec::new();
        for record in page.records {
            let kid = record
                .name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            if let Some(public) = self.service_account_public_key(&account, &kid)? {
                keys.push((kid, public));
            }
        }
        Ok(Some(keys))
    }

    /// `GET /robot/v1/metadata/x509/{EMAIL}`: key id → PEM. A Google-managed key, whose private
    /// half Kumo holds, is published as Google does: a self-signed X.509 certificate (subject the
    /// account's email, valid over the key's validity window). A user-managed key is published as
    /// its SPKI public key, since Kumo never keeps that private key to sign a certificate with;
    /// google-auth's verifier accepts either.
    pub fn service_account_x509(&self, email: &str) -> Result<Option<Value>, Error> {
        let Some(keys) = self.public_keys(email)? else {
            return Ok(None);
        };
        let mut map = Map::new();
        for (kid, key) in keys {
            let pem = match self.system_key_certificate(email, &kid)? {
                Some(certificate) => certificate,
                None => kumo_identity::keys::public_pem(&key).map_err(Error::internal)?,
            };
            map.insert(kid, json!(pem));
        }
        Ok(Some(Value::Object(map)))
    }

    /// The certificate of a system-managed key, `None` for any other key.
    fn system_key_certificate(&self, email: &str, kid: &str) -> Result<Option<String>, Error> {
        let Some(record) = self
            .store()
            .get(
                Collection::SigningKeys.as_str(),
                &format!("sa-keys/{email}/{kid}"),
            )
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let key = super::issuer::parse_key(
            kid,
            record.data["privateKeyPem"].as_str().unwrap_or_default(),
        )?;
        // The key record was written with the same instant (see `system_key`).
        let not_before = record.data["createTime"]
            .as_str()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
            .map_or(record.create_time, |time| time.with_timezone(&chrono::Utc));
        let spec = kumo_identity::x509::CertificateSpec {
            common_name: email,
            not_before,
            not_after: not_before + chrono::Duration::days(SYSTEM_KEY_VALIDITY_DAYS),
        };
        kumo_identity::x509::self_signed_pem(&key, &spec)
            .map(Some)
            .map_err(Error::internal)
    }

    /// `GET /service_accounts/v1/metadata/jwk/{EMAIL}`: the account's keys as a JWK set.
    pub fn service_account_jwks(&self, email: &str) -> Result<Option<Value>, Error> {
        let Some(keys) = self.public_keys(email)? else {
            return Ok(None);
        };
        Ok(Some(
            json!({"keys": keys.iter().map(|(kid, key)| kumo_identity::keys::rsa_jwk(kid, key)).collect::<Vec<_>>()}),
        ))
    }
}
