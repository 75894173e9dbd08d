//! Service-account keys: create (the key file comes from `kumo-identity`; only the public key is
//! kept), upload, list, get, delete, disable, enable. Creation and upload obey
//! `iam.disableServiceAccountKeyCreation` / `iam.disableServiceAccountKeyUpload`.

use base64::Engine as _;
use kumo_store::{ListQuery, ParentFilter, Record, Write};
use serde_json::{Value, json};

use crate::org_constraints::violation_error;
use crate::records::{Collection, encode};
use crate::{Call, Control, Error, ResourceRef};

/// Google's `validBeforeTime` of keys that never expire.
const NEVER: &str = "9999-12-31T23:59:59Z";

/// The wire key without its private part, as stored.
fn render_key(record: &Record) -> Value {
    record.data.clone()
}

impl Control {
    /// The live organization-policy checks for new key material on `account`.
    fn check_key_policies(
        &self,
        account: &ResourceRef,
        constraints: [&str; 2],
    ) -> Result<(), Error> {
        let ResourceRef::ServiceAccount { project, email } = account else {
            return Err(Error::internal(
                "key policy checked on a non-account resource",
            ));
        };
        for constraint in constraints {
            let effective = self.effective_constraint(constraint, account)?;
            kumo_orgpolicy::check_key_creation(&effective, project, email)
                .map_err(violation_error)?;
        }
        Ok(())
    }

    /// `POST …/serviceAccounts/{account}/keys`: `iam.serviceAccountKeys.create`. Answers the key
    /// with `privateKeyData` = base64 of the credentials file (`TYPE_GOOGLE_CREDENTIALS_FILE`,
    /// the only type Kumo issues).
    pub fn create_service_account_key(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        private_key_type: Option<&str>,
    ) -> Result<Value, Error> {
        let (resource, record) = self.authorized_account(
            call,
            project,
            account,
            "iam.serviceAccountKeys.create",
            false,
        )?;
        match private_key_type {
            None | Some("TYPE_UNSPECIFIED" | "TYPE_GOOGLE_CREDENTIALS_FILE") => {}
            Some(other) => {
                return Err(Error::invalid_field(
                    "private_key_type",
                    format!(
                        "Private key type {other} is not supported; use TYPE_GOOGLE_CREDENTIALS_FILE."
                    ),
                ));
            }
        }
        self.check_key_policies(
            &resource,
            [
                "iam.disableServiceAccountKeyCreation",
                "iam.managed.disableServiceAccountKeyCreation",
            ],
        )?;
        let project_id = record.data["projectId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let email = record.data["email"].as_str().unwrap_or_default().to_owned();
        let client_id = record.data["uniqueId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let base = self.config().external_url.trim_end_matches('/').to_owned();
        let token_uri = format!("{base}/token");
        let auth_uri = format!("{base}/o/oauth2/auth");
        let certs_uri = format!("{base}/oauth2/v1/certs");
        let x509_prefix = format!("{base}/robot/v1/metadata/x509/");
        let endpoints = kumo_identity::sakey::Endpoints {
            token_uri: &token_uri,
            auth_uri: &auth_uri,
            certs_uri: &certs_uri,
            x509_prefix: &x509_prefix,
        };
        let (file, public) = kumo_identity::sakey::generate_key_file(
            &mut rand::rngs::OsRng,
            &project_id,
            &email,
            &client_id,
            &endpoints,
        )
        .map_err(|error| Error::internal(format!("key generation failed: {error}")))?;
        let mut key = self.store_key(
            &record,
            &public.key_id,
            &public.public_key_pem,
            "GOOGLE_PROVIDED",
        )?;
        key["privateKeyType"] = json!("TYPE_GOOGLE_CREDENTIALS_FILE");
        key["privateKeyData"] =
            json!(base64::engine::general_purpose::STANDARD.encode(file.to_json()));
        Ok(key)
    }

    /// `POST …/keys:upload`: `iam.serviceAccountKeys.create`; `public_key_data` is base64 of a
    /// PEM public key.
    pub fn upload_service_account_key(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        public_key_data: &str,
    ) -> Result<Value, Error> {
        let (resource, record) = self.authorized_account(
            call,
            project,
            account,
            "iam.serviceAccountKeys.create",
            false,
        )?;
        self.check_key_policies(
            &resource,
            [
                "iam.disableServiceAccountKeyUpload",
                "iam.managed.disableServiceAccountKeyUpload",
            ],
        )?;
        let bad = || {
            Error::invalid_field(
                "public_key_data",
                "The public key data is not a valid base64-encoded PEM public key.",
            )
        };
        let pem = base64::engine::general_purpose::STANDARD
            .decode(public_key_data.trim())
            .map_err(|_| bad())?;
        let pem = String::from_utf8(pem).map_err(|_| bad())?;
        let public = kumo_identity::sakey::upload_public_key(&mut rand::rngs::OsRng, &pem)
            .map_err(|_| bad())?;
        self.store_key(
            &record,
            &public.key_id,
            &public.public_key_pem,
            "USER_PROVIDED",
        )
    }

    fn store_key(
        &self,
        account: &Record,
        key_id: &str,
        public_pem: &str,
        origin: &str,
    ) -> Result<Value, Error> {
        let name = format!("{}/keys/{key_id}", account.name);
        let data = json!({
            "name": name,
            "keyAlgorithm": "KEY_ALG_RSA_2048",
            "publicKeyData": base64::engine::general_purpose::STANDARD.encode(public_pem),
            "validAfterTime": self.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "validBeforeTime": NEVER,
            "keyOrigin": origin,
            "keyType": "USER_MANAGED",
        });
        self.commit(&[Write::Create {
            collection: Collection::ServiceAccountKeys.as_str().to_owned(),
            name,
            parent: Some(account.name.clone()),
            data: encode(&data)?,
        }])?;
        Ok(data)
    }

    /// `GET …/keys?keyTypes=…`: `iam.serviceAccountKeys.list`. Kumo has only user-managed keys.
    pub fn list_service_account_keys(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        key_types: &[String],
    ) -> Result<Value, Error> {
        let (_, record) =
            self.authorized_account(call, project, account, "iam.serviceAccountKeys.list", false)?;
        for key_type in key_types {
            if !matches!(
                key_type.as_str(),
                "KEY_TYPE_UNSPECIFIED" | "USER_MANAGED" | "SYSTEM_MANAGED"
            ) {
                return Err(Error::invalid_field(
                    "key_types",
                    format!("Invalid key type {key_type}."),
                ));
            }
        }
        let wanted = |key: &Value| {
            key_types.is_empty()
                || key_types.iter().any(|t| {
                    t == "KEY_TYPE_UNSPECIFIED" || key["keyType"].as_str() == Some(t.as_str())
                })
        };
        let records = self
            .store()
            .list(
                Collection::ServiceAccountKeys.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(record.name.clone()),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let keys: Vec<Value> = records.iter().map(render_key).filter(wanted).collect();
        Ok(if keys.is_empty() {
            json!({})
        } else {
            json!({"keys": keys})
        })
    }

    fn authorized_key(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        key: &str,
        permission: &str,
    ) -> Result<Record, Error> {
        let (_, record) = self.authorized_account(call, project, account, permission, false)?;
        let name = format!("{}/keys/{key}", record.name);
        self.store()
            .get(Collection::ServiceAccountKeys.as_str(), &name)
            .map_err(crate::records::store_error)?
            .ok_or_else(|| Error::not_found(format!("Key {name} does not exist.")))
    }

    /// `GET …/keys/{key}`: `iam.serviceAccountKeys.get`.
    pub fn get_service_account_key(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        key: &str,
    ) -> Result<Value, Error> {
        Ok(render_key(&self.authorized_key(
            call,
            project,
            account,
            key,
            "iam.serviceAccountKeys.get",
        )?))
    }

    /// `DELETE …/keys/{key}`: `iam.serviceAccountKeys.delete`.
    pub fn delete_service_account_key(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        key: &str,
    ) -> Result<Value, Error> {
        let record =
            self.authorized_key(call, project, account, key, "iam.serviceAccountKeys.delete")?;
        self.commit(&[Write::HardDelete {
            collection: Collection::ServiceAccountKeys.as_str().to_owned(),
            name: record.name,
            expected_revision: Some(record.revision),
        }])?;
        Ok(json!({}))
    }

    /// `POST …/keys/{key}:disable` / `:enable`: `iam.serviceAccountKeys.disable` / `.enable`.
    pub fn set_service_account_key_disabled(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        key: &str,
        disabled: bool,
    ) -> Result<Value, Error> {
        let permission = if disabled {
            "iam.serviceAccountKeys.disable"
        } else {
            "iam.serviceAccountKeys.enable"
        };
        let record = self.authorized_key(call, project, account, key, permission)?;
        let mut data = record.data.clone();
        if disabled {
            data["disabled"] = json!(true);
        } else if let Some(object) = data.as_object_mut() {
            object.remove("disabled");
        }
        self.commit(&[Write::Update {
            collection: Collection::ServiceAccountKeys.as_str().to_owned(),
            name: record.name,
            data,
            expected_revision: Some(record.revision),
        }])?;
        Ok(json!({}))
    }
}
