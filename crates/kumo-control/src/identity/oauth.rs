//! The OAuth2 token endpoint's grants and the browser sign-in's decisions. Errors are OAuth2's
//! (`{"error", "error_description"}`), not `google.rpc.Status`: client libraries parse them that
//! way (real-clients.md §7.1, spec §4.6).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kumo_identity::jwt::JwtError;
use kumo_identity::tokens::{GrantRequest, TOKEN_LIFETIME};
use kumo_store::{ListQuery, Write};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::tokens::{digest, expires_in, random_token};
use crate::records::Collection;
use crate::{Control, Error, Mode};

/// The built-in OAuth client of the CLI (public, like gcloud's).
pub const CLI_CLIENT_ID: &str = "kumo-cli";
/// Its secret (public: installed applications cannot keep one).
pub const CLI_CLIENT_SECRET: &str = "kumo-cli-secret";
/// Authorization codes are single-use and short-lived.
const CODE_LIFETIME_SECONDS: i64 = 600;
const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An OAuth2 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// `invalid_grant`, `invalid_client`, …
    pub error: &'static str,
    /// Google's `error_description`.
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    /// The HTTP status Google uses: 401 for client authentication failures, 500 for internal
    /// failures, 400 otherwise.
    pub fn http_status(&self) -> u16 {
        match self.error {
            "invalid_client" => 401,
            "internal_failure" => 500,
            _ => 400,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

impl From<Error> for OAuthError {
    fn from(error: Error) -> OAuthError {
        if let Error::Internal { detail } = &error {
            tracing::error!(%detail, "token endpoint internal error");
        }
        // `internal_failure` is what Google's clients retry on.
        OAuthError::new("internal_failure", error.public_message())
    }
}

/// The form fields of a token request.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `assertion` (jwt-bearer).
    pub assertion: Option<String>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `client_id` (from the form or HTTP Basic).
    pub client_id: Option<String>,
    /// `client_secret`.
    pub client_secret: Option<String>,
    /// `scope` (space-separated), to narrow a refresh.
    pub scope: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `code_verifier` (PKCE).
    pub code_verifier: Option<String>,
}

/// A successful token answer (fields absent when `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenResponse {
    /// `access_token`.
    pub access_token: Option<String>,
    /// `expires_in`.
    pub expires_in: Option<i64>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `id_token`.
    pub id_token: Option<String>,
}

impl TokenResponse {
    /// The JSON body, `token_type` included whenever there is an access token.
    pub fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        if let Some(token) = &self.access_token {
            body.insert("access_token".into(), json!(token));
            body.insert("token_type".into(), json!("Bearer"));
        }
        if let Some(expires_in) = self.expires_in {
            body.insert("expires_in".into(), json!(expires_in));
        }
        if let Some(token) = &self.refresh_token {
            body.insert("refresh_token".into(), json!(token));
        }
        if let Some(scope) = &self.scope {
            body.insert("scope".into(), json!(scope));
        }
        if let Some(token) = &self.id_token {
            body.insert("id_token".into(), json!(token));
        }
        Value::Object(body)
    }
}

/// The parameters of `GET /o/oauth2/v2/auth`.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationRequest {
    /// `client_id`.
    pub client_id: String,
    /// `redirect_uri`.
    pub redirect_uri: String,
    /// `response_type`.
    pub response_type: String,
    /// `scope`.
    pub scope: String,
    /// `state`, returned unchanged.
    pub state: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
}

/// An account offered on the dev-mode sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInAccount {
    /// The email.
    pub email: String,
    /// The full name, if known.
    pub name: String,
}

fn missing(parameter: &str) -> OAuthError {
    OAuthError::new(
        "invalid_request",
        format!("Missing required parameter: {parameter}"),
    )
}

fn scopes_of(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The loopback redirect URIs an installed application may use (RFC 8252 §7.3).
fn is_loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => host_port,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

impl Control {
    /// `POST /token`: runs the grant and answers Google's token JSON or OAuth2 error.
    pub fn token_grant(&self, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        match request.grant_type.as_deref() {
            None | Some("") => Err(missing("grant_type")),
            Some(GRANT_JWT_BEARER) => self.jwt_bearer_grant(request),
            Some("refresh_token") => self.refresh_grant(request),
            Some("authorization_code") => self.authorization_code_grant(request),
            Some(other) => Err(OAuthError::new(
                "unsupported_grant_type",
                format!("Invalid grant_type: {other}"),
            )),
        }
    }

    fn jwt_bearer_grant(&self, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let assertion = request
            .assertion
            .as_deref()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| missing("assertion"))?;
        let signature = || OAuthError::new("invalid_grant", "Invalid JWT Signature.");
        let claims = super::peek_claims(assertion).ok_or_else(signature)?;
        let email = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(signature)?;
        let account = self
            .live_service_account(email)?
            .ok_or_else(|| OAuthError::new("invalid_grant", "Invalid grant: account not found"))?;
        let now = self.now().timestamp();
        let names_a_key = kumo_identity::jwt::decode_header(assertion)
            .map_err(|_| signature())?
            .kid
            .is_some();
        let verified = if names_a_key {
            kumo_identity::tokens::verify_grant_assertion(
                assertion,
                &self.token_uri(),
                now,
                |kid| {
                    self.service_account_public_key(&account, kid)
                        .ok()
                        .flatten()
                        .map(|key| (email.to_owned(), key))
                },
            )
        } else {
            // No `kid` (google-auth-library for Node): any of the account's usable keys.
            let keys = self.service_account_public_keys(&account)?;
            kumo_identity::tokens::verify_grant_assertion_without_kid(
                assertion,
                &self.token_uri(),
                now,
                email,
                keys,
            )
        };
        let grant = verified.map_err(|error| match error {
            JwtError::MissingClaim("scope") => OAuthError::new(
                "invalid_scope",
                "Invalid OAuth scope or ID token audience provided.",
            ),
            other => OAuthError::new("invalid_grant", other.google_description()),
        })?;
        if grant.subject.is_some() {
            // Domain-wide delegation needs a Workspace admin's authorization, which Kumo has no
            // console for: Google's refusal for an unauthorized client.
            return Err(OAuthError::new(
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
            ));
        }
        let sub = account.data["uniqueId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let email = account.data["email"].as_str().unwrap_or(email).to_owned();
        match grant.request {
            GrantRequest::AccessToken { scopes } => {
                let minted = self.mint_access_token(&email, &sub, &scopes, TOKEN_LIFETIME, None)?;
                Ok(TokenResponse {
                    access_token: Some(minted.token),
                    expires_in: Some(expires_in(minted.expires_at, now)),
                    ..TokenResponse::default()
                })
            }
            GrantRequest::IdToken { target_audience } => {
                if target_audience.trim().is_empty() {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        "Invalid OAuth scope or ID token audience provided.",
                    ));
                }
                let token = self.mint_id_token(&target_audience, &sub, &sub, Some(&email))?;
                Ok(TokenResponse {
                    id_token: Some(token),
                    ..TokenResponse::default()
                })
            }
        }
    }

    fn check_client(
        &self,
        request: &TokenRequest,
        secret_required: bool,
    ) -> Result<(), OAuthError> {
        let client_id = request
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| missing("client_id"))?;
        if client_id != CLI_CLIENT_ID {
            return Err(OAuthError::new(
                "invalid_client",
                "The OAuth client was not found.",
            ));
        }
        match request.client_secret.as_deref() {
            Some(secret) if secret == CLI_CLIENT_SECRET => Ok(()),
            None if !secret_required => Ok(()),
            _ => Err(OAuthError::new("invalid_client", "Unauthorized")),
        }
    }

    /// The directory user `email` if they may sign in (exists, not suspended).
    fn active_user(&self, email: &str) -> Result<Option<Value>, Error> {
        Ok(self
            .directory_user(email)?
            .filter(|user| user["suspended"].as_bool() != Some(true)))
    }

    fn user_tokens(
        &self,
        email: &str,
        scopes: &[String],
        family: &str,
        refresh_token: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let user = self.active_user(email)?.ok_or_else(|| {
            OAuthError::new("invalid_grant", "Token has been expired or revoked.")
        })?;
        let sub = user["id"].as_str().unwrap_or_default().to_owned();
        let now = self.now().timestamp();
        let minted = self.mint_access_token(email, &sub, scopes, TOKEN_LIFETIME, Some(family))?;
        let id_token = if scopes.iter().any(|s| s == "openid") {
            // Workspace users' tokens carry their primary domain as `hd`.
            let hosted_domain = user["customerId"]
                .as_str()
                .and_then(|_| email.rsplit_once('@').map(|(_, domain)| domain));
            Some(self.mint_id_token_with(
                CLI_CLIENT_ID,
                CLI_CLIENT_ID,
                &sub,
                Some(email),
                hosted_domain,
            )?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token: Some(minted.token),
            expires_in: Some(expires_in(minted.expires_at, now)),
            refresh_token,
            scope: Some(scopes.join(" ")),
            id_token,
        })
    }

    fn refresh_grant(&self, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        self.check_client(request, true)?;
        let token = request
            .refresh_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| missing("refresh_token"))?;
        let record = self
            .refresh_token_record(token)?
            .ok_or_else(|| OAuthError::new("invalid_grant", "Bad Request"))?;
        let family = record.value["family"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if record.value["clientId"].as_str() != request.client_id.as_deref() {
            return Err(OAuthError::new("unauthorized_client", "Unauthorized"));
        }
        if self.is_revoked(&family)? {
            return Err(OAuthError::new(
                "invalid_grant",
                "Token has been expired or revoked.",
            ));
        }
        let granted: Vec<String> = record.value["scopes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        let scopes = match request.scope.as_deref().map(scopes_of) {
            Some(asked) if !asked.is_empty() => {
                if !asked.iter().all(|scope| granted.contains(scope)) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        "Invalid OAuth scope or ID token audience provided.",
                    ));
                }
                asked
            }
            _ => granted,
        };
        let email = record.value["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.user_tokens(&email, &scopes, &family, None)
    }

    fn authorization_code_grant(
        &self,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        self.check_client(request, false)?;
        let code = request
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| missing("code"))?;
        let bad_code = || OAuthError::new("invalid_grant", "Malformed auth code.");
        let name = format!("tokens/code/{}", digest(code));
        let stored = self
            .load::<Value>(Collection::Tokens, &name)?
            .ok_or_else(bad_code)?;
        // Single use: the code is consumed before anything else is decided, so that a replay
        // fails even when this exchange fails.
        self.commit(&[Write::HardDelete {
            collection: Collection::Tokens.as_str().to_owned(),
            name,
            expected_revision: Some(stored.record.revision),
        }])
        .map_err(|_| bad_code())?;
        let data = stored.value;
        if data["expiresAt"]
            .as_i64()
            .is_none_or(|at| at <= self.now().timestamp())
        {
            return Err(OAuthError::new("invalid_grant", "Bad Request"));
        }
        if data["clientId"].as_str() != request.client_id.as_deref() {
            return Err(OAuthError::new("invalid_grant", "Bad Request"));
        }
        if request.redirect_uri.as_deref() != data["redirectUri"].as_str() {
            return Err(OAuthError::new("redirect_uri_mismatch", "Bad Request"));
        }
        if let Some(challenge) = data["codeChallenge"].as_str() {
            let verifier = request
                .code_verifier
                .as_deref()
                .ok_or_else(|| OAuthError::new("invalid_grant", "Missing code verifier."))?;
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if computed != challenge {
                return Err(OAuthError::new("invalid_grant", "Invalid code verifier."));
            }
        }
        let email = data["email"].as_str().unwrap_or_default().to_owned();
        let scopes: Vec<String> = data["scopes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        let refresh_token = self.issue_refresh_token(&email, CLI_CLIENT_ID, &scopes)?;
        let family = digest(&refresh_token)[..32].to_owned();
        self.user_tokens(&email, &scopes, &family, Some(refresh_token))
    }

    /// Validates an authorization request before any page is shown. `Err` is an error that must
    /// be displayed, not sent to `redirect_uri` (an unverified redirect is never followed);
    /// `Ok(Err(..))` is an error to deliver to the (verified) redirect URI.
    pub fn check_authorization_request(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<Result<(), OAuthError>, OAuthError> {
        if request.client_id.is_empty() {
            return Err(missing("client_id"));
        }
        if request.client_id != CLI_CLIENT_ID {
            return Err(OAuthError::new(
                "invalid_client",
                "The OAuth client was not found.",
            ));
        }
        if request.redirect_uri.is_empty() {
            return Err(missing("redirect_uri"));
        }
        if !is_loopback_redirect(&request.redirect_uri) {
            return Err(OAuthError::new(
                "redirect_uri_mismatch",
                format!(
                    "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. redirect_uri={}",
                    request.redirect_uri
                ),
            ));
        }
        if request.response_type != "code" {
            return Ok(Err(OAuthError::new(
                "unsupported_response_type",
                format!("Invalid response_type: {}", request.response_type),
            )));
        }
        if request.scope.trim().is_empty() {
            return Ok(Err(missing("scope")));
        }
        match (
            request.code_challenge.as_deref(),
            request.code_challenge_method.as_deref(),
        ) {
            (None, None) => {}
            (Some(challenge), Some("S256"))
                if challenge.len() == 43 && URL_SAFE_NO_PAD.decode(challenge).is_ok() => {}
            (Some(_), Some("S256")) => {
                return Ok(Err(OAuthError::new(
                    "invalid_request",
                    "Invalid code_challenge.",
                )));
            }
            (Some(_), None | Some("plain")) | (None, Some(_)) | (Some(_), Some(_)) => {
                return Ok(Err(OAuthError::new(
                    "invalid_request",
                    "Invalid code_challenge_method: only S256 is supported.",
                )));
            }
        }
        Ok(Ok(()))
    }

    /// The accounts the dev-mode sign-in page offers (the directory's active users).
    pub fn sign_in_accounts(&self) -> Result<Vec<SignInAccount>, Error> {
        let page = self
            .store()
            .list(Collection::Users.as_str(), &ListQuery::default())
            .map_err(crate::records::store_error)?;
        let mut accounts: Vec<SignInAccount> = page
            .records
            .into_iter()
            .filter(|record| record.data["suspended"].as_bool() != Some(true))
            .map(|record| SignInAccount {
                email: record.data["primaryEmail"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                name: record.data["name"]["fullName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect();
        accounts.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(accounts)
    }

    /// Signs `email` in for an already validated authorization request: in dev mode the account
    /// only has to exist; in strict mode `password` must match its argon2id hash. Returns the
    /// authorization code (`None` = wrong account or password, shown as one message so the
    /// page does not reveal which accounts exist).
    pub fn sign_in(
        &self,
        request: &AuthorizationRequest,
        email: &str,
        password: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let Some(user) = self.active_user(email)? else {
            return Ok(None);
        };
        if self.config().mode == Mode::Strict {
            let hash = user["passwordHash"].as_str().unwrap_or_default();
            let password = password.unwrap_or_default();
            if hash.is_empty() || !kumo_identity::password::verify_password(password, hash) {
                return Ok(None);
            }
        }
        let email = user["primaryEmail"].as_str().unwrap_or(email).to_owned();
        let code = format!("4/{}", random_token(32));
        self.commit(&[Write::Create {
            collection: Collection::Tokens.as_str().to_owned(),
            name: format!("tokens/code/{}", digest(&code)),
            parent: None,
            data: json!({
                "kind": "code",
                "email": email,
                "clientId": request.client_id,
                "redirectUri": request.redirect_uri,
                "scopes": scopes_of(&request.scope),
                "codeChallenge": request.code_challenge,
                "expiresAt": self.now().timestamp() + CODE_LIFETIME_SECONDS,
            }),
        }])?;
        Ok(Some(code))
    }

    /// Dev mode with a `login_hint` naming an active user: the sign-in completes without a page
    /// (how `kumo auth login --account` works without a browser).
    pub fn sign_in_by_hint(&self, request: &AuthorizationRequest) -> Result<Option<String>, Error> {
        if self.config().mode != Mode::Dev {
            return Ok(None);
        }
        match request.login_hint.as_deref() {
            Some(hint) if !hint.is_empty() => self.sign_in(request, hint, None),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_only() {
        assert!(is_loopback_redirect("http://127.0.0.1:8085/"));
        assert!(is_loopback_redirect("http://localhost:9000/callback"));
        assert!(is_loopback_redirect("http://[::1]:1234"));
        assert!(!is_loopback_redirect("https://evil.example.com/"));
        assert!(!is_loopback_redirect("http://127.0.0.1.evil.com:80/"));
        assert!(!is_loopback_redirect("http://localhost@evil.com/"));
    }

    #[test]
    fn oauth_error_statuses() {
        assert_eq!(OAuthError::new("invalid_client", "x").http_status(), 401);
        assert_eq!(OAuthError::new("invalid_grant", "x").http_status(), 400);
        assert_eq!(
            OAuthError::new("invalid_grant", "x").body()["error_description"],
            "x"
        );
    }
}
