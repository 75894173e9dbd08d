//! Console sessions: the user's access token stays on the server, the browser holds only an
//! opaque session id in an `HttpOnly; SameSite=Strict` cookie. State-changing requests must
//! also carry the session's CSRF token (a hidden form field).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A console session lasts a working day; its access token (one hour) is refreshed with the
/// refresh token from the sign-in, which never leaves the server either.
const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Refresh this long before the access token expires, so no API call races the expiry.
const REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// A sign-in has this long to come back from the authorization page.
const LOGIN_LIFETIME: Duration = Duration::from_secs(600);
/// Bounds memory if someone hammers `/console/signin`.
const MAX_PENDING_LOGINS: usize = 1000;

#[derive(Debug, Clone)]
pub struct Session {
    pub email: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub csrf: String,
    expires: Instant,
    token_expires: Instant,
}

impl Session {
    /// The access token is (about to be) expired.
    pub fn needs_refresh(&self) -> bool {
        self.token_expires <= Instant::now() + REFRESH_MARGIN
    }
}

#[derive(Debug)]
struct PendingLogin {
    verifier: String,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    pending: HashMap<String, PendingLogin>,
}

#[derive(Debug, Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<Inner>>,
}

/// 32 random bytes, URL-safe base64 (43 characters): session ids, CSRF tokens, PKCE verifiers.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// PKCE S256 challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Compares secrets without an early exit, so timing does not reveal a matching prefix.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain maps behind; keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a sign-in: returns (state, PKCE verifier).
    pub fn begin_login(&self) -> (String, String) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.pending.retain(|_, login| login.expires > now);
        if inner.pending.len() >= MAX_PENDING_LOGINS {
            // Oldest first would need ordering; dropping all pending is safe (they retry).
            inner.pending.clear();
        }
        let state = random_token();
        let verifier = random_token();
        inner.pending.insert(
            state.clone(),
            PendingLogin {
                verifier: verifier.clone(),
                expires: now + LOGIN_LIFETIME,
            },
        );
        (state, verifier)
    }

    /// Consumes the pending sign-in for `state` (single use) and returns its PKCE verifier.
    pub fn finish_login(&self, state: &str) -> Option<String> {
        let login = self.lock().pending.remove(state)?;
        (login.expires > Instant::now()).then_some(login.verifier)
    }

    /// Creates a session; returns its id.
    pub fn create(
        &self,
        email: String,
        access_token: String,
        refresh_token: Option<String>,
        expires_in: Duration,
    ) -> String {
        let id = random_token();
        let now = Instant::now();
        let session = Session {
            email,
            access_token,
            refresh_token,
            csrf: random_token(),
            expires: now + SESSION_LIFETIME,
            token_expires: now + expires_in,
        };
        let mut inner = self.lock();
        inner.sessions.retain(|_, s| s.expires > now);
        inner.sessions.insert(id.clone(), session);
        id
    }

    pub fn get(&self, id: &str) -> Option<Session> {
        let mut inner = self.lock();
        match inner.sessions.get(id) {
            Some(session) if session.expires > Instant::now() => Some(session.clone()),
            Some(_) => {
                inner.sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// Stores a refreshed access token; answers the updated session.
    pub fn set_token(
        &self,
        id: &str,
        access_token: String,
        expires_in: Duration,
    ) -> Option<Session> {
        let mut inner = self.lock();
        let session = inner.sessions.get_mut(id)?;
        session.access_token = access_token;
        session.token_expires = Instant::now() + expires_in;
        Some(session.clone())
    }

    pub fn remove(&self, id: &str) -> Option<Session> {
        self.lock().sessions.remove(id)
    }
}

/// The CSRF decision for a state-changing request: the submitted token must equal the
/// session's. A missing or empty token is refused.
pub fn csrf_ok(session: &Session, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|token| !token.is_empty() && constant_time_eq(token, &session.csrf))
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            email: "alice@example.com".into(),
            access_token: "ya29.x".into(),
            refresh_token: None,
            csrf: "expected-token".into(),
            expires: Instant::now() + SESSION_LIFETIME,
            token_expires: Instant::now() + SESSION_LIFETIME,
        }
    }

    #[test]
    fn csrf_check_table() {
        let s = session();
        let cases: [(Option<&str>, bool); 6] = [
            (Some("expected-token"), true),
            (None, false),
            (Some(""), false),
            (Some("expected-tokeN"), false),
            (Some("expected-token "), false),
            (Some("expected"), false),
        ];
        for (submitted, ok) in cases {
            assert_eq!(csrf_ok(&s, submitted), ok, "{submitted:?}");
        }
    }

    #[test]
    fn login_state_is_single_use() {
        let sessions = Sessions::default();
        let (state, verifier) = sessions.begin_login();
        assert_eq!(sessions.finish_login(&state), Some(verifier));
        assert_eq!(sessions.finish_login(&state), None);
        assert_eq!(sessions.finish_login("forged"), None);
    }

    #[test]
    fn sessions_have_distinct_ids_and_csrf_tokens() {
        let sessions = Sessions::default();
        let hour = Duration::from_secs(3600);
        let a = sessions.create("a@example.com".into(), "t1".into(), None, hour);
        let b = sessions.create("b@example.com".into(), "t2".into(), None, hour);
        assert_ne!(a, b);
        let (sa, sb) = (sessions.get(&a).unwrap(), sessions.get(&b).unwrap());
        assert_ne!(sa.csrf, sb.csrf);
        assert!(
            !csrf_ok(&sa, Some(&sb.csrf)),
            "one session's token is not another's"
        );
        assert!(!sa.needs_refresh());
        let stale = sessions
            .set_token(&b, "t3".into(), Duration::from_secs(30))
            .unwrap();
        assert_eq!(stale.access_token, "t3");
        assert!(stale.needs_refresh(), "inside the refresh margin");
        assert_eq!(stale.csrf, sb.csrf, "a refresh keeps the CSRF token");
        assert!(sessions.remove(&a).is_some());
        assert!(sessions.get(&a).is_none());
    }

    #[test]
    fn pkce_matches_rfc7636_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(random_token().len(), 43);
    }

    #[test]
    fn cookie_parsing() {
        let header = "a=1; kumo_console_80=abc; b=2";
        assert_eq!(cookie(header, "kumo_console_80"), Some("abc"));
        assert_eq!(cookie(header, "kumo_console"), None);
        assert_eq!(cookie("", "a"), None);
    }
}
