//! Bearer token → [`Caller`]. The seam between transport and identity: the server uses the control
//! plane's verifier (Kumo's access tokens and service-account self-signed JWTs); tests plug in a
//! fixed mapping through the same trait.

use kumo_control::{Caller, Control, Error};

/// Authenticates the `Authorization` header of an API request.
pub trait Authenticator: Send + Sync + 'static {
    /// `header` is the raw `Authorization` value, if any. `None` (no credentials) is
    /// `Ok(Caller::Anonymous)`; the dispatcher decides whether anonymous calls are allowed.
    fn authenticate(&self, header: Option<&str>) -> Result<Caller, Error>;

    /// Authenticates a call of the API method `rpc` (the route's full method name), so that the
    /// token's scopes can be checked against that method. Defaults to [`Self::authenticate`].
    fn authenticate_call(&self, header: Option<&str>, rpc: &str) -> Result<Caller, Error> {
        let _ = rpc;
        self.authenticate(header)
    }
}

/// The server's authenticator: the control plane's token verification.
pub struct ControlAuthenticator(pub Control);

impl Authenticator for ControlAuthenticator {
    fn authenticate(&self, header: Option<&str>) -> Result<Caller, Error> {
        self.0.authenticate_bearer(header)
    }

    fn authenticate_call(&self, header: Option<&str>, rpc: &str) -> Result<Caller, Error> {
        self.0.authenticate_bearer_for(header, rpc)
    }
}

/// Google's text when an API is called without credentials.
pub const MISSING_CREDENTIALS: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
