//! First start: the issuer's signing key, the organization with its Workspace customer, and the
//! first administrator — idempotent, so every start can call it.

use serde_json::{Value, json};

use super::oauth::{CLI_CLIENT_ID, CLI_CLIENT_SECRET};
use crate::records::Collection;
use crate::{Control, Error, Mode, OrganizationInfo};
use kumo_store::Write;

/// The scopes of the administrator's (and the CLI's) refresh token.
pub const USER_SCOPES: [&str; 3] = [
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/cloud-platform",
];

/// What to create on an empty data dir.
#[derive(Debug, Clone)]
pub struct BootstrapConfig {
    /// The organization's primary domain (`example.com`).
    pub domain: String,
    /// A fixed Workspace customer id (`C0…`), or a generated one.
    pub customer_id: Option<String>,
    /// The first administrator (`admin@example.com`).
    pub admin_email: String,
}

/// What the bootstrap found or created.
#[derive(Debug, Clone)]
pub struct BootstrapReport {
    /// The organization.
    pub organization: OrganizationInfo,
    /// Whether the administrator was created now (a first start).
    pub created: bool,
    /// On a first start: the administrator's `authorized_user` credentials JSON, for the binary
    /// to write to `DATA_DIR/admin-credentials.json`.
    pub admin_credentials: Option<Value>,
    /// On a first start in strict mode: the administrator's generated password (for browser
    /// sign-in), to be shown once.
    pub admin_password: Option<String>,
}

impl Control {
    /// Makes sure the issuer key, the organization for `config.domain` (administered by
    /// `config.admin_email`) and the administrator user exist.
    pub fn bootstrap_identity(&self, config: &BootstrapConfig) -> Result<BootstrapReport, Error> {
        self.signing_keys()?;
        let admin_email = config.admin_email.trim().to_ascii_lowercase();
        let organization = match self.organization_for_domain(&config.domain)? {
            Some(found) => found,
            None => self.provision_organization(
                &config.domain,
                config.customer_id.as_deref(),
                Some(&format!("user:{admin_email}")),
            )?,
        };
        if self.directory_user(&admin_email)?.is_some() {
            return Ok(BootstrapReport {
                organization,
                created: false,
                admin_credentials: None,
                admin_password: None,
            });
        }
        let password =
            (self.config().mode == Mode::Strict).then(|| super::tokens::random_token(18));
        let customer = self
            .customer_for_domain(
                admin_email
                    .rsplit_once('@')
                    .map(|(_, d)| d)
                    .unwrap_or_default(),
            )?
            .unwrap_or_else(|| organization.customer_id.clone());
        let user = self.new_user_record(
            &admin_email,
            "Kumo",
            "Administrator",
            &customer,
            password.as_deref(),
            true,
        )?;
        self.commit(&[Write::Create {
            collection: Collection::Users.as_str().to_owned(),
            name: format!("users/{admin_email}"),
            parent: Some(format!("customers/{customer}")),
            data: user,
        }])?;
        self.invalidate_iam();
        let credentials = self.authorized_user_credentials(&admin_email)?;
        Ok(BootstrapReport {
            organization,
            created: true,
            admin_credentials: Some(credentials),
            admin_password: password,
        })
    }

    /// A fresh `authorized_user` credentials file for a directory user (client `kumo-cli`,
    /// Kumo's token URI), as `gcloud auth application-default login` writes one.
    pub fn authorized_user_credentials(&self, email: &str) -> Result<Value, Error> {
        if self.directory_user(email)?.is_none() {
            return Err(Error::not_found("Resource Not Found: userKey"));
        }
        let scopes: Vec<String> = USER_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        let refresh_token =
            self.issue_refresh_token(&email.to_ascii_lowercase(), CLI_CLIENT_ID, &scopes)?;
        Ok(json!({
            "account": email,
            "client_id": CLI_CLIENT_ID,
            "client_secret": CLI_CLIENT_SECRET,
            "refresh_token": refresh_token,
            "token_uri": self.token_uri(),
            "type": "authorized_user",
            "universe_domain": "googleapis.com",
        }))
    }
}
