//! Who is calling: bearer tokens at the API front door. (The identity engineer extends this
//! module with the issuer, grants, directory APIs and IAM Credentials.)

use crate::{Caller, Control, Error};

/// Google's text for a bearer token it cannot verify.
pub const INVALID_CREDENTIALS: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

impl Control {
    /// Authenticates an `Authorization` header. No header is anonymous; a token Kumo cannot
    /// verify is refused (fail closed) — token verification is added by the identity module.
    pub fn authenticate_bearer(&self, header: Option<&str>) -> Result<Caller, Error> {
        match header {
            None => Ok(Caller::Anonymous),
            Some(_) => Err(Error::unauthenticated(INVALID_CREDENTIALS)),
        }
    }
}
