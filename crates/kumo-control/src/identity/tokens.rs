//! Minting, revoking and inspecting Kumo's tokens, and the service-account facts they rest on.
//! Access tokens are `ya29.`-prefixed RS256 JWTs verified without a store read for the signature;
//! revocations and refresh tokens are records `tokens/…` in `Collection::Tokens`. Refresh tokens
//! and authorization codes are stored by their SHA-256, never in the clear.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kumo_identity::tokens::{AccessToken, IdTokenSpec, TOKEN_LIFETIME};
use kumo_store::{Record, Write};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::records::{Collection, Stored};
use crate::{Control, Error};

/// Random URL-safe text of `bytes` random bytes.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// Lowercase hex SHA-256 of `text`: the store key of a secret.
pub(crate) fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A minted access token and its lifetime in seconds.
#[derive(Debug, Clone)]
pub struct MintedAccessToken {
    /// `ya29.…`.
    pub token: String,
    /// Unix seconds of expiry.
    pub expires_at: i64,
}

impl Control {
    /// The live, enabled service account with `email` (or numeric unique id). Deleted and
    /// disabled accounts are `None`.
    pub(crate) fn live_service_account(&self, email_or_id: &str) -> Result<Option<Record>, Error> {
        let found = if email_or_id.contains('@') {
            self.find_service_account(email_or_id)?
        } else {
            self.service_account_by_unique_id(email_or_id)?
        };
        Ok(found
            .map(|stored: Stored<Value>| stored.record)
            .filter(|record| record.data["disabled"].as_bool() != Some(true)))
    }

    /// The service account with `email` (or unique id) whatever its state, for error texts.
    pub(crate) fn any_service_account(&self, email_or_id: &str) -> Result<Option<Record>, Error> {
        let found = if email_or_id.contains('@') {
            self.find_service_account(email_or_id)?
        } else {
            self.service_account_by_unique_id(email_or_id)?
        };
        Ok(found.map(|stored| stored.record))
    }

    fn service_account_by_unique_id(
        &self,
        unique_id: &str,
    ) -> Result<Option<Stored<Value>>, Error> {
        if unique_id.is_empty() || !unique_id.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let page = self
            .store()
            .list(
                Collection::ServiceAccounts.as_str(),
                &kumo_store::ListQuery::default(),
            )
            .map_err(crate::records::store_error)?;
        match page
            .records
            .into_iter()
            .find(|record| record.data["uniqueId"].as_str() == Some(unique_id))
        {
            Some(record) => self.decode(record).map(Some),
            None => Ok(None),
        }
    }

    /// The public key of `account`'s key `kid`, if that key is live and usable now.
    /// Every usable key of `account`: `(key id, public key)`.
    pub(crate) fn service_account_public_keys(
        &self,
        account: &Record,
    ) -> Result<Vec<(String, rsa::RsaPublicKey)>, Error> {
        let prefix = format!("{}/keys/", account.name);
        let mut keys = Vec::new();
        for record in self.list_under(
            Collection::ServiceAccountKeys,
            kumo_store::ParentFilter::Is(account.name.clone()),
        )? {
            if let Some(kid) = record.name.strip_prefix(&prefix)
                && let Some(key) = self.service_account_public_key(account, kid)?
            {
                keys.push((kid.to_owned(), key));
            }
        }
        Ok(keys)
    }

    pub(crate) fn service_account_public_key(
        &self,
        account: &Record,
        kid: &str,
    ) -> Result<Option<rsa::RsaPublicKey>, Error> {
        if kid.is_empty() || kid.contains('/') {
            return Ok(None);
        }
        let Some(key) = self.load::<Value>(
            Collection::ServiceAccountKeys,
            &format!("{}/keys/{kid}", account.name),
        )?
        else {
            return Ok(None);
        };
        if !super::key_usable(&key.value, self.now()) {
            return Ok(None);
        }
        let Some(data) = key.value["publicKeyData"].as_str() else {
            return Ok(None);
        };
        let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(data.trim()) else {
            return Ok(None);
        };
        let Ok(pem) = String::from_utf8(pem) else {
            return Ok(None);
        };
        // Stored keys are SPKI PEM; an X.509 certificate (older records) goes through the upload
        // normaliser, which extracts its key.
        let spki = if pem.trim_start().starts_with("-----BEGIN CERTIFICATE-----") {
            match kumo_identity::sakey::upload_public_key(&mut rand::rngs::OsRng, &pem) {
                Ok(stored) => stored.public_key_pem,
                Err(_) => return Ok(None),
            }
        } else {
            pem
        };
        Ok(kumo_identity::keys::public_from_pem(&spki).ok())
    }

    /// Mints an access token for `email` (unique id `sub`). `family` ties it to the refresh
    /// token it came from, so that revoking that refresh token revokes it too.
    pub(crate) fn mint_access_token(
        &self,
        email: &str,
        sub: &str,
        scopes: &[String],
        lifetime: i64,
        family: Option<&str>,
    ) -> Result<MintedAccessToken, Error> {
        let ring = self.signing_keys()?;
        let iat = self.now().timestamp();
        let random = random_token(16);
        let jti = match family {
            Some(family) => format!("{family}.{random}"),
            None => random,
        };
        let token = AccessToken {
            sub: sub.to_owned(),
            email: email.to_owned(),
            scopes: scopes.to_vec(),
            iat,
            exp: iat + lifetime,
            jti,
        };
        Ok(MintedAccessToken {
            token: kumo_identity::tokens::mint_access_token(ring.current(), &self.issuer(), &token),
            expires_at: iat + lifetime,
        })
    }

    /// Mints a Google-shaped ID token.
    pub(crate) fn mint_id_token(
        &self,
        audience: &str,
        azp: &str,
        sub: &str,
        email: Option<&str>,
    ) -> Result<String, Error> {
        self.mint_id_token_with(audience, azp, sub, email, None)
    }

    /// An ID token with `hd` (the hosted domain Google adds for Workspace users).
    pub(crate) fn mint_id_token_with(
        &self,
        audience: &str,
        azp: &str,
        sub: &str,
        email: Option<&str>,
        hosted_domain: Option<&str>,
    ) -> Result<String, Error> {
        let ring = self.signing_keys()?;
        let issuer = self.issuer();
        let spec = IdTokenSpec {
            issuer: &issuer,
            audience,
            azp,
            sub,
            email,
            iat: self.now().timestamp(),
            google: None,
        };
        let mut claims = kumo_identity::tokens::id_token_claims(&spec);
        if let Some(domain) = hosted_domain {
            claims.insert("hd".into(), json!(domain));
        }
        Ok(kumo_identity::jwt::encode_rs256(ring.current(), &claims))
    }

    /// Whether the token id `jti` (or a refresh-token family) was revoked.
    pub(crate) fn is_revoked(&self, jti: &str) -> Result<bool, Error> {
        Ok(self
            .store()
            .get(
                Collection::Tokens.as_str(),
                &format!("tokens/revoked/{jti}"),
            )
            .map_err(crate::records::store_error)?
            .is_some())
    }

    fn revoke_id(&self, id: &str, expires_at: Option<i64>) -> Result<(), Error> {
        self.commit(&[Write::Upsert {
            collection: Collection::Tokens.as_str().to_owned(),
            name: format!("tokens/revoked/{id}"),
            parent: None,
            data: json!({"revokeTime": self.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "expiresAt": expires_at}),
        }])?;
        Ok(())
    }

    /// Issues a refresh token for a user and client; returns the token text.
    pub(crate) fn issue_refresh_token(
        &self,
        email: &str,
        client_id: &str,
        scopes: &[String],
    ) -> Result<String, Error> {
        let token = format!("1//{}", random_token(48));
        let id = digest(&token);
        self.commit(&[Write::Create {
            collection: Collection::Tokens.as_str().to_owned(),
            name: format!("tokens/refresh/{id}"),
            parent: None,
            data: json!({
                "kind": "refresh",
                "email": email,
                "clientId": client_id,
                "scopes": scopes,
                "family": &id[..32],
                "createTime": self.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
        }])?;
        Ok(token)
    }

    /// The record of a refresh token, if it was issued.
    pub(crate) fn refresh_token_record(&self, token: &str) -> Result<Option<Stored<Value>>, Error> {
        self.load::<Value>(
            Collection::Tokens,
            &format!("tokens/refresh/{}", digest(token)),
        )
    }

    /// `POST /revoke?token=…`: revokes an access token or a refresh token (and every access
    /// token minted from it). `false` when the token is neither (Google answers `invalid_token`).
    pub fn revoke_token(&self, token: &str) -> Result<bool, Error> {
        let now = self.now().timestamp();
        if token.starts_with(kumo_identity::tokens::ACCESS_TOKEN_PREFIX) {
            let ring = self.signing_keys()?;
            return match kumo_identity::tokens::verify_access_token(
                &ring,
                token,
                &self.issuer(),
                now,
                0,
            ) {
                Ok(access) => {
                    self.revoke_id(&access.jti, Some(access.exp))?;
                    Ok(true)
                }
                Err(_) => Ok(false),
            };
        }
        let Some(record) = self.refresh_token_record(token)? else {
            return Ok(false);
        };
        let family = record.value["family"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if self.is_revoked(&family)? {
            return Ok(false);
        }
        self.revoke_id(&family, None)?;
        Ok(true)
    }

    /// `GET /oauth2/v3/tokeninfo?access_token=…`: Google's tokeninfo JSON (numbers as strings),
    /// or `None` for a token that is not valid now.
    pub fn access_token_info(&self, token: &str) -> Result<Option<Value>, Error> {
        let Ok(Some((caller, _))) = self.authenticate_token(Some(&format!("Bearer {token}")))
        else {
            return Ok(None);
        };
        if !token.starts_with(kumo_identity::tokens::ACCESS_TOKEN_PREFIX) {
            return Ok(None);
        }
        let ring = self.signing_keys()?;
        let now = self.now().timestamp();
        let Ok(access) =
            kumo_identity::tokens::verify_access_token(&ring, token, &self.issuer(), now, 0)
        else {
            return Ok(None);
        };
        let client = match caller {
            crate::Caller::ServiceAccount { .. } => access.sub.clone(),
            _ => super::oauth::CLI_CLIENT_ID.to_owned(),
        };
        Ok(Some(json!({
            "azp": client,
            "aud": client,
            "sub": access.sub,
            "scope": access.scopes.join(" "),
            "exp": access.exp.to_string(),
            "expires_in": (access.exp - now).max(0).to_string(),
            "email": access.email,
            "email_verified": "true",
            "access_type": "online",
        })))
    }

    /// `GET /v1/userinfo` (and `/oauth2/v3/userinfo`): the OpenID claims of the bearer of a
    /// Kumo access token; `None` when the token is not valid.
    pub fn userinfo(&self, header: Option<&str>) -> Result<Option<Value>, Error> {
        let Ok(Some((caller, _))) = self.authenticate_token(header) else {
            return Ok(None);
        };
        let Some(email) = caller.email() else {
            return Ok(None);
        };
        match &caller {
            crate::Caller::User { .. } => {
                let Some(user) = self.directory_user(email)? else {
                    return Ok(None);
                };
                let mut info = json!({
                    "sub": user["id"],
                    "email": user["primaryEmail"],
                    "email_verified": true,
                    "hd": email.rsplit_once('@').map(|(_, domain)| domain).unwrap_or_default(),
                });
                let name = user["name"]["fullName"].as_str().unwrap_or_default();
                if !name.is_empty() {
                    info["name"] = json!(name);
                    info["given_name"] = user["name"]["givenName"].clone();
                    info["family_name"] = user["name"]["familyName"].clone();
                }
                Ok(Some(info))
            }
            _ => {
                let Some(account) = self.live_service_account(email)? else {
                    return Ok(None);
                };
                Ok(Some(
                    json!({"sub": account.data["uniqueId"], "email": email, "email_verified": true}),
                ))
            }
        }
    }

    /// `GET /oauth2/v3/tokeninfo?id_token=…`: the verified claims, stringified as Google does,
    /// with the header's `alg`, `kid` and `typ`; `None` when the token does not verify.
    pub fn id_token_info(&self, token: &str) -> Result<Option<Value>, Error> {
        let ring = self.signing_keys()?;
        let now = self.now().timestamp();
        let Some(audience) = super::peek_claims(token)
            .and_then(|claims| claims.get("aud").and_then(Value::as_str).map(str::to_owned))
        else {
            return Ok(None);
        };
        let Ok(claims) = kumo_identity::tokens::verify_id_token(
            &ring,
            token,
            &self.issuer(),
            &[audience.as_str()],
            now,
            0,
        ) else {
            return Ok(None);
        };
        let Ok(header) = kumo_identity::jwt::decode_header(token) else {
            return Ok(None);
        };
        let mut info = serde_json::Map::new();
        for (name, value) in claims {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            info.insert(name, Value::String(text));
        }
        info.insert("alg".into(), json!(header.alg));
        if let Some(kid) = header.kid {
            info.insert("kid".into(), json!(kid));
        }
        info.insert("typ".into(), json!("JWT"));
        Ok(Some(Value::Object(info)))
    }

    /// A token for a workload's runtime service account (the metadata server). Cloud Run's
    /// service agent mints these for the workload, so no caller permission is checked; the
    /// account must exist and be enabled.
    pub fn workload_access_token(
        &self,
        email: &str,
        scopes: &[String],
    ) -> Result<MintedAccessToken, Error> {
        let account = self
            .live_service_account(email)?
            .ok_or_else(|| workload_account_missing(email))?;
        let sub = account.data["uniqueId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let email = account.data["email"].as_str().unwrap_or(email).to_owned();
        self.mint_access_token(&email, &sub, scopes, TOKEN_LIFETIME, None)
    }

    /// An ID token for a workload's runtime service account with audience `audience`
    /// (`format=full` and `standard` both carry the email, as Cloud Run's metadata server does).
    pub fn workload_id_token(&self, email: &str, audience: &str) -> Result<String, Error> {
        if audience.is_empty() {
            return Err(Error::invalid("non-empty audience parameter required"));
        }
        let account = self
            .live_service_account(email)?
            .ok_or_else(|| workload_account_missing(email))?;
        let sub = account.data["uniqueId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let email = account.data["email"].as_str().unwrap_or(email).to_owned();
        self.mint_id_token(audience, &email, &sub, Some(&email))
    }
}

fn workload_account_missing(email: &str) -> Error {
    Error::not_found(format!(
        "The service account {email} of this workload does not exist or is disabled."
    ))
}

/// Seconds left until `expires_at`, as Google's `expires_in` (one less than the lifetime).
pub(crate) fn expires_in(expires_at: i64, now: i64) -> i64 {
    (expires_at - now - 1).max(0)
}
