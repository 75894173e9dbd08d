//! IAM Credentials v1 (spec §3): short-lived credentials for a service account, for a caller that
//! holds the right permission on it — directly or through a `delegates` chain in which every hop
//! holds `iam.serviceAccounts.implicitDelegation` on the next.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kumo_identity::delegation::{Check, plan};
use kumo_store::Record;
use kumo_wire::iam_credentials::{
    GenerateAccessTokenRequest, GenerateAccessTokenResponse, GenerateIdTokenRequest,
    GenerateIdTokenResponse, SignBlobRequest, SignBlobResponse, SignJwtRequest, SignJwtResponse,
};
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::Value;

use crate::{AuthorizationRecord, Call, Caller, Control, Error, ResourceRef};

/// Google's generic refusal of a malformed IAM Credentials request.
const INVALID_ARGUMENT: &str = "Request contains an invalid argument.";
/// `signJwt`: an `exp` further ahead than this is refused (IAM v1 documents 12 h).
const SIGN_JWT_MAX_AHEAD: i64 = 12 * 3600;

/// The account part of `projects/-/serviceAccounts/{ACCOUNT}` (or a bare email, as google-auth
/// passes delegates through unchanged).
fn account_of(name: &str) -> Result<&str, Error> {
    if !name.contains('/') {
        return if name.is_empty() {
            Err(Error::invalid(INVALID_ARGUMENT))
        } else {
            Ok(name)
        };
    }
    match name
        .strip_prefix("projects/")
        .and_then(|rest| rest.split_once("/serviceAccounts/"))
    {
        // The `-` wildcard is required: a real project id there is invalid.
        Some(("-", account)) if !account.is_empty() && !account.contains('/') => Ok(account),
        _ => Err(Error::invalid(INVALID_ARGUMENT)),
    }
}

/// Parses a `google.protobuf.Duration` string such as `600s` or `1.5s` into whole seconds.
fn duration_seconds(text: &str) -> Option<i64> {
    let number = text.strip_suffix('s')?;
    let seconds: f64 = number.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| seconds.ceil() as i64)
}

fn member_caller(member: &str) -> Caller {
    match member.split_once(':') {
        Some(("serviceAccount", email)) => Caller::ServiceAccount {
            email: email.to_owned(),
        },
        Some((_, email)) => Caller::User {
            email: email.to_owned(),
        },
        None => Caller::Anonymous,
    }
}

/// Google's refusal of a hop: the permission only, no resource (spec §3.4).
fn hop_denied(check: &Check) -> Error {
    Error::PermissionDenied {
        message: kumo_identity::delegation::denied_message(check),
        permission: Some(check.permission.to_owned()),
        resource: None,
    }
}

/// UNCONFIRMED (spec §3.4): Google's answer for a target or delegate that does not exist; this
/// is the text seen in the wild for `generateAccessToken` on an unknown account.
fn account_not_found(account: &str) -> Error {
    Error::not_found(format!("Not found; Gaia id not found for email {account}"))
}

impl Control {
    /// Resolves the target and delegates, then checks the plan's permissions in order. Returns
    /// the target's record.
    fn authorize_credentials(
        &self,
        call: &Call,
        name: &str,
        delegates: &[String],
        permission: &'static str,
    ) -> Result<Record, Error> {
        let target_account = account_of(name)?;
        let mut delegate_emails = Vec::with_capacity(delegates.len());
        for delegate in delegates {
            let account = account_of(delegate)?;
            let record = self
                .any_service_account(account)?
                .ok_or_else(|| account_not_found(account))?;
            delegate_emails.push(record.data["email"].as_str().unwrap_or(account).to_owned());
        }
        let target = self
            .any_service_account(target_account)?
            .ok_or_else(|| account_not_found(target_account))?;
        let target_email = target.data["email"]
            .as_str()
            .unwrap_or(target_account)
            .to_owned();
        let caller = call
            .caller
            .member()
            .ok_or_else(|| Error::unauthenticated(super::INVALID_CREDENTIALS))?;
        let delegate_refs: Vec<&str> = delegate_emails.iter().map(String::as_str).collect();
        for check in plan(&caller, &delegate_refs, &target_email, permission) {
            let email = check.resource.rsplit('/').next().unwrap_or_default();
            let project = self
                .service_account_project(email)?
                .ok_or_else(|| hop_denied(&check))?;
            let resource = ResourceRef::ServiceAccount {
                project,
                email: email.to_owned(),
            };
            let granted = self.has_permission(
                &member_caller(&check.principal),
                check.permission,
                &resource,
            )?;
            call.record(AuthorizationRecord {
                resource: resource.relative_name(),
                permission: check.permission.to_owned(),
                granted,
            });
            if !granted {
                return Err(hop_denied(&check));
            }
        }
        if target.data["disabled"].as_bool() == Some(true) {
            // Google's generic text for a disabled account (it names no account).
            return Err(Error::failed_precondition("Precondition check failed."));
        }
        Ok(target)
    }

    /// `POST /v1/projects/-/serviceAccounts/{SA}:generateAccessToken`.
    pub fn generate_access_token(
        &self,
        call: &Call,
        name: &str,
        request: &GenerateAccessTokenRequest,
    ) -> Result<GenerateAccessTokenResponse, Error> {
        let target = self.authorize_credentials(
            call,
            name,
            &request.delegates,
            "iam.serviceAccounts.getAccessToken",
        )?;
        if request.scope.is_empty()
            || request
                .scope
                .iter()
                .any(|scope| scope.trim().is_empty() || scope.contains(char::is_whitespace))
        {
            return Err(Error::invalid(INVALID_ARGUMENT));
        }
        let lifetime = match request.lifetime.as_deref() {
            None => kumo_identity::tokens::TOKEN_LIFETIME,
            Some(text) => match duration_seconds(text) {
                Some(seconds) if (1..=kumo_identity::tokens::TOKEN_LIFETIME).contains(&seconds) => {
                    seconds
                }
                _ => {
                    return Err(Error::invalid_field(
                        "lifetime",
                        "The lifetime must be between 1 second and 3600 seconds (1 hour).",
                    ));
                }
            },
        };
        let email = target.data["email"].as_str().unwrap_or_default();
        let sub = target.data["uniqueId"].as_str().unwrap_or_default();
        let minted = self.mint_access_token(email, sub, &request.scope, lifetime, None)?;
        let expire = chrono::DateTime::from_timestamp(minted.expires_at, 0)
            .ok_or_else(|| Error::internal("expiry out of range"))?;
        Ok(GenerateAccessTokenResponse {
            access_token: minted.token,
            // Whole seconds with `Z`: google-auth's impersonated credentials parse nothing else.
            expire_time: kumo_wire::protobuf::format_timestamp_secs(&expire),
        })
    }

    /// `POST …:generateIdToken`. `use_email_azp` is google-auth's extra `useEmailAzp` field.
    pub fn generate_id_token(
        &self,
        call: &Call,
        name: &str,
        request: &GenerateIdTokenRequest,
        use_email_azp: bool,
    ) -> Result<GenerateIdTokenResponse, Error> {
        let target = self.authorize_credentials(
            call,
            name,
            &request.delegates,
            "iam.serviceAccounts.getOpenIdToken",
        )?;
        if request.audience.trim().is_empty() {
            return Err(Error::invalid(INVALID_ARGUMENT));
        }
        let email = target.data["email"].as_str().unwrap_or_default();
        let sub = target.data["uniqueId"].as_str().unwrap_or_default();
        let azp = if use_email_azp { email } else { sub };
        let token = self.mint_id_token(
            &request.audience,
            azp,
            sub,
            request.include_email.then_some(email),
        )?;
        Ok(GenerateIdTokenResponse { token })
    }

    /// `POST …:signJwt`: signs the claim set (adding `exp` = now + 1 h when absent).
    pub fn sign_jwt(
        &self,
        call: &Call,
        name: &str,
        request: &SignJwtRequest,
    ) -> Result<SignJwtResponse, Error> {
        let target = self.authorize_credentials(
            call,
            name,
            &request.delegates,
            "iam.serviceAccounts.signJwt",
        )?;
        let mut claims = match serde_json::from_str::<Value>(&request.payload) {
            Ok(Value::Object(claims)) => claims,
            _ => {
                return Err(Error::invalid_field(
                    "payload",
                    "The payload is not a valid JSON object.",
                ));
            }
        };
        let now = self.now().timestamp();
        match claims.get("exp") {
            None => {
                claims.insert(
                    "exp".into(),
                    Value::from(now + kumo_identity::tokens::TOKEN_LIFETIME),
                );
            }
            Some(exp) => match exp.as_i64() {
                Some(exp) if exp > now && exp <= now + SIGN_JWT_MAX_AHEAD => {}
                _ => {
                    return Err(Error::invalid_field(
                        "payload",
                        "The exp claim must be in the future and at most 12 hours ahead.",
                    ));
                }
            },
        }
        // Signed with the account's Google-managed key, published with its other keys.
        let key = self.system_key(&target)?;
        Ok(SignJwtResponse {
            key_id: key.kid.clone(),
            signed_jwt: kumo_identity::jwt::encode_rs256(&key, &claims),
        })
    }

    /// `POST …:signBlob`: RSASSA-PKCS1-v1_5 with SHA-256 over the decoded payload.
    pub fn sign_blob(
        &self,
        call: &Call,
        name: &str,
        request: &SignBlobRequest,
    ) -> Result<SignBlobResponse, Error> {
        let target = self.authorize_credentials(
            call,
            name,
            &request.delegates,
            "iam.serviceAccounts.signBlob",
        )?;
        let payload = STANDARD
            .decode(request.payload.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(request.payload.trim()))
            .map_err(|_| {
                Error::invalid_field(
                    "payload",
                    "Invalid value at 'payload' (TYPE_BYTES), Base64 decoding failed.",
                )
            })?;
        let key = self.system_key(&target)?;
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.private.clone());
        let signature = signer.sign(&payload);
        Ok(SignBlobResponse {
            key_id: key.kid.clone(),
            signed_blob: STANDARD.encode(signature.to_bytes()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_the_wildcard_project() {
        assert_eq!(
            account_of("projects/-/serviceAccounts/a@p.iam.gserviceaccount.com").ok(),
            Some("a@p.iam.gserviceaccount.com")
        );
        assert_eq!(
            account_of("a@p.iam.gserviceaccount.com").ok(),
            Some("a@p.iam.gserviceaccount.com")
        );
        assert!(account_of("projects/p/serviceAccounts/a@p.iam.gserviceaccount.com").is_err());
        assert!(account_of("projects/-/serviceAccounts/").is_err());
        assert!(account_of("").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration_seconds("600s"), Some(600));
        assert_eq!(duration_seconds("1.5s"), Some(2));
        assert_eq!(duration_seconds("600"), None);
        assert_eq!(duration_seconds("-5s"), None);
    }
}
