//! The IAP phase of the data plane (cloudrun-security-spec.md §6): for a service with
//! `iapEnabled`, IAP decides before Cloud Run does.
//!
//! - A browser without a session is sent to Kumo's sign-in page; IAP's callback
//!   (`/_gcp_iap/handle_redirect` on the service's own host) exchanges the code server-side and
//!   sets a session cookie bound to the service. `/_gcp_iap/clear_login_cookie` signs out.
//! - Programs send an OIDC ID token in `Proxy-Authorization` or `Authorization`.
//! - The user needs `iap.webServiceVersions.accessViaIAP`, else IAP's access-denied page.
//! - An admitted request continues into Cloud Run's own invoker check as the IAP service agent:
//!   IAP puts the agent's ID token in `X-Serverless-Authorization`, which wins over any other
//!   token, so the gateway's normal authenticate/authorize phases judge the agent, not the user.
//! - The workload receives `X-Goog-IAP-JWT-Assertion` and the `X-Goog-Authenticated-User-*`
//!   headers; client-sent copies are always removed, on every service.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use kumo_control::iap::{
    IapRefusal, IapTarget, IapUser, PendingSignIn, SESSION_LIFETIME, SIGN_IN_LIFETIME,
};
use kumo_control::{Control, Mode};

/// IAP's callback path on every IAP-enabled service (the relay on Kumo's host forwards there).
pub const CALLBACK_PATH: &str = kumo_control::iap::RELAY_PATH;
/// IAP's sign-out path.
pub const SIGN_OUT_PATH: &str = "/_gcp_iap/clear_login_cookie";
/// The assertion header.
pub const ASSERTION_HEADER: &str = "x-goog-iap-jwt-assertion";
/// `accounts.google.com:EMAIL`.
pub const USER_EMAIL_HEADER: &str = "x-goog-authenticated-user-email";
/// `accounts.google.com:ID`.
pub const USER_ID_HEADER: &str = "x-goog-authenticated-user-id";

/// What the IAP phase decided.
#[derive(Debug)]
pub enum IapFlow {
    /// IAP is off for this service (or the service is unknown): Cloud Run's own checks apply to
    /// the client's credentials, unchanged.
    Off,
    /// IAP admitted the user. The headers now carry the assertion and the IAP agent's token in
    /// `X-Serverless-Authorization`; continue with the normal authenticate/authorize phases.
    Admitted {
        /// Who IAP admitted (for the request log).
        user: IapUser,
    },
    /// An OPTIONS request on a service whose IAP settings allow HTTP OPTIONS
    /// (`corsSettings.allowHttpOptions`): forwarded with the IAP agent's token but no user and no
    /// assertion, so that browsers' CORS preflights reach the app.
    Preflight,
    /// IAP answers itself (redirect to sign-in, callback, sign-out, 401, access denied).
    Respond {
        /// The response (HTML or text body).
        response: Response<String>,
        /// The request log's `textPayload` for a refusal; `None` for redirects and sign-out.
        log_text: Option<String>,
    },
}

/// Runs IAP for a request to `service_name` (`projects/PROJECT_ID/locations/L/services/S`).
///
/// Call it after the route phase and after `headers::strip_inbound` (that one removes hop-by-hop
/// headers, `Proxy-Authorization` included, so IAP must read that header first: pass the value
/// in `proxy_authorization`), and before authenticate. Never fails open: an internal error is a
/// 500 page.
pub fn iap_phase(
    control: &Control,
    service_name: &str,
    parts: &mut http::request::Parts,
    proxy_authorization: Option<&HeaderValue>,
) -> IapFlow {
    strip_identity_headers(&mut parts.headers);
    match run(control, service_name, parts, proxy_authorization) {
        Ok(flow) => flow,
        Err(error) => {
            tracing::error!(%error, service = service_name, "IAP phase failed");
            respond(
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error 500 (Server Error)",
                    "<p>Internal error in Identity-Aware Proxy.</p>",
                ),
                Some("IAP internal error".into()),
            )
        }
    }
}

/// Removes client-sent IAP identity headers: only IAP may set them.
pub fn strip_identity_headers(headers: &mut HeaderMap) {
    let forged: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name.starts_with("x-goog-iap-") || name.starts_with("x-goog-authenticated-")
        })
        .cloned()
        .collect();
    for name in forged {
        headers.remove(name);
    }
}

fn run(
    control: &Control,
    service_name: &str,
    parts: &mut http::request::Parts,
    proxy_authorization: Option<&HeaderValue>,
) -> Result<IapFlow, kumo_control::Error> {
    let Some(target) = control.iap_target(service_name)? else {
        return Ok(IapFlow::Off);
    };
    if !target.iap_enabled {
        return Ok(IapFlow::Off);
    }
    match parts.uri.path() {
        SIGN_OUT_PATH => return Ok(sign_out(&target)),
        CALLBACK_PATH => return callback(control, &target, parts),
        _ => {}
    }
    if parts.method == Method::OPTIONS
        && control
            .effective_iap_settings(&target.resource())?
            .allow_http_options
    {
        return Ok(match agent_token(control, &target) {
            Some(token) => {
                set_agent_token(&mut parts.headers, &token)?;
                IapFlow::Preflight
            }
            None => not_set_up(),
        });
    }
    let user = match presented_credential(parts, proxy_authorization) {
        Credential::Token(token) => match control.verify_iap_id_token(&target, &token) {
            Ok(user) => user,
            Err(refusal) => return Ok(unauthorized(&refusal)),
        },
        Credential::Malformed => {
            return Ok(unauthorized(&IapRefusal::InvalidToken(
                kumo_identity::jwt::JwtError::Malformed("bearer"),
            )));
        }
        Credential::None => {
            let session = cookie(&parts.headers, &target.session_cookie_name());
            match session
                .map(|value| control.verify_iap_session(&target, &value))
                .transpose()?
                .flatten()
            {
                Some(user) => user,
                None if wants_html(parts) => return sign_in_redirect(control, &target, parts),
                None => return Ok(unauthorized(&IapRefusal::MissingCredentials)),
            }
        }
    };
    if !control.iap_authorize(&target, &user)? {
        let custom_page = control
            .effective_iap_settings(&target.resource())?
            .access_denied_page_uri;
        return Ok(match custom_page {
            // The application's own denied page (`accessDeniedPageSettings`), for browsers.
            // UNCONFIRMED: whether IAP redirects there or serves it; Kumo redirects.
            Some(uri) if wants_html(parts) => {
                let mut response = Response::new(String::new());
                *response.status_mut() = StatusCode::FOUND;
                insert(response.headers_mut(), header::LOCATION, &uri);
                insert(response.headers_mut(), header::CACHE_CONTROL, "no-store");
                respond(
                    response,
                    Some(format!("IAP denied access to {}", user.email)),
                )
            }
            _ => access_denied(control, &target, &user),
        });
    }
    let Some(agent_token) = agent_token(control, &target) else {
        return Ok(not_set_up());
    };
    let assertion = control.mint_iap_assertion(&target, &user)?;
    let headers = &mut parts.headers;
    remove_cookies(
        headers,
        &[target.session_cookie_name(), target.sign_in_cookie_name()],
    );
    set_agent_token(headers, &agent_token)?;
    set(headers, ASSERTION_HEADER, &assertion)?;
    set(
        headers,
        USER_EMAIL_HEADER,
        &format!("accounts.google.com:{}", user.email),
    )?;
    set(
        headers,
        USER_ID_HEADER,
        &format!("accounts.google.com:{}", user.user_id),
    )?;
    Ok(IapFlow::Admitted { user })
}

/// The IAP service agent's ID token for the service; `None` (logged) when the agent may not
/// mint it.
fn agent_token(control: &Control, target: &IapTarget) -> Option<String> {
    match control.iap_agent_token(target) {
        Ok(token) => Some(token),
        Err(error) => {
            tracing::warn!(%error, agent = target.agent_email(), "IAP service agent cannot call the service");
            None
        }
    }
}

/// IAP calls Cloud Run as its service agent, in `X-Serverless-Authorization` (a client's own
/// value is replaced).
fn set_agent_token(headers: &mut HeaderMap, token: &str) -> Result<(), kumo_control::Error> {
    headers.remove(crate::headers::X_SERVERLESS_AUTHORIZATION);
    set(
        headers,
        crate::headers::X_SERVERLESS_AUTHORIZATION,
        &format!("Bearer {token}"),
    )
}

enum Credential {
    None,
    Token(String),
    Malformed,
}

/// `Proxy-Authorization: Bearer` wins (it is meant for apps that use `Authorization`
/// themselves); otherwise a bearer JWT in `Authorization`. The header IAP consumed is removed so
/// that the user's token never reaches the workload.
fn presented_credential(
    parts: &mut http::request::Parts,
    proxy_authorization: Option<&HeaderValue>,
) -> Credential {
    let proxy = proxy_authorization
        .cloned()
        .or_else(|| parts.headers.get(header::PROXY_AUTHORIZATION).cloned());
    if let Some(value) = proxy {
        parts.headers.remove(header::PROXY_AUTHORIZATION);
        return match bearer_jwt(&value) {
            Some(token) => Credential::Token(token),
            None => Credential::Malformed,
        };
    }
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if parts.headers.contains_key(header::AUTHORIZATION) {
            Credential::Malformed
        } else {
            Credential::None
        };
    };
    // An `Authorization` that is not a bearer JWT belongs to the app (Basic, its own scheme).
    let Some(token) = bearer_jwt(value) else {
        return Credential::None;
    };
    parts.headers.remove(header::AUTHORIZATION);
    Credential::Token(token)
}

fn bearer_jwt(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    let is_jwt = token.split('.').count() == 3 && !token.contains([' ', ',']);
    (scheme.eq_ignore_ascii_case("bearer") && is_jwt).then(|| token.to_owned())
}

/// Browsers get the sign-in redirect; API clients get a 401 they can act on.
fn wants_html(parts: &http::request::Parts) -> bool {
    let navigable = parts.method == Method::GET || parts.method == Method::HEAD;
    let accepts_html = parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    let xhr = parts.headers.get("x-requested-with").is_some();
    navigable && accepts_html && !xhr
}

/// The service's own origin, as the browser addressed it.
fn origin(parts: &http::request::Parts) -> Option<String> {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))?;
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid.then(|| format!("http://{host}"))
}

fn sign_in_redirect(
    control: &Control,
    target: &IapTarget,
    parts: &http::request::Parts,
) -> Result<IapFlow, kumo_control::Error> {
    let Some(origin) = origin(parts) else {
        return Ok(respond(
            page(
                StatusCode::BAD_REQUEST,
                "Error 400 (Bad Request)",
                "<p>Missing Host header.</p>",
            ),
            None,
        ));
    };
    let return_to = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let pending = PendingSignIn::new(return_to);
    let nonce_cookie = control.mint_iap_sign_in(target, &pending)?;
    let location = control.iap_sign_in_url(&pending, &origin);
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::FOUND;
    insert(response.headers_mut(), header::LOCATION, &location);
    insert(response.headers_mut(), header::CACHE_CONTROL, "no-store");
    append_cookie(
        response.headers_mut(),
        &set_cookie(
            &target.sign_in_cookie_name(),
            &nonce_cookie,
            SIGN_IN_LIFETIME,
        ),
    );
    Ok(respond(response, None))
}

fn callback(
    control: &Control,
    target: &IapTarget,
    parts: &http::request::Parts,
) -> Result<IapFlow, kumo_control::Error> {
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let pending = match (
        get("state"),
        cookie(&parts.headers, &target.sign_in_cookie_name()),
    ) {
        (Some(state), Some(nonce_cookie)) => {
            control.verify_iap_sign_in(target, &nonce_cookie, state)?
        }
        _ => None,
    };
    let (Some(pending), Some(code)) = (pending, get("code")) else {
        let body = "<p>The sign-in request is invalid or has expired.</p><p><a href=\"/\">Try again</a></p>";
        return Ok(respond(
            page(StatusCode::BAD_REQUEST, "Error 400 (Bad Request)", body),
            Some("IAP sign-in callback without a valid state".into()),
        ));
    };
    let user = match control.complete_iap_sign_in(&pending, code, &control.iap_relay_uri()) {
        Ok(user) => user,
        Err(refusal) => {
            let body = "<p>Sign-in failed.</p><p><a href=\"/\">Try again</a></p>";
            return Ok(respond(
                page(StatusCode::UNAUTHORIZED, "Error 401 (Unauthorized)", body),
                Some(refusal.message()),
            ));
        }
    };
    let session = control.mint_iap_session(target, &user)?;
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::FOUND;
    insert(response.headers_mut(), header::LOCATION, &pending.return_to);
    insert(response.headers_mut(), header::CACHE_CONTROL, "no-store");
    append_cookie(
        response.headers_mut(),
        &set_cookie(&target.session_cookie_name(), &session, SESSION_LIFETIME),
    );
    append_cookie(
        response.headers_mut(),
        &set_cookie(&target.sign_in_cookie_name(), "", 0),
    );
    Ok(respond(response, None))
}

fn sign_out(target: &IapTarget) -> IapFlow {
    let mut response = page(
        StatusCode::OK,
        "Signed out",
        "<h1>You have been signed out</h1><p><a href=\"/\">Sign in again</a></p>",
    );
    append_cookie(
        response.headers_mut(),
        &set_cookie(&target.session_cookie_name(), "", 0),
    );
    respond(response, None)
}

fn unauthorized(refusal: &IapRefusal) -> IapFlow {
    let message = refusal.message();
    let mut response = Response::new(message.clone());
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    insert(
        response.headers_mut(),
        header::CONTENT_TYPE,
        "text/html; charset=UTF-8",
    );
    respond(response, Some(message))
}

fn access_denied(control: &Control, target: &IapTarget, user: &IapUser) -> IapFlow {
    let email = crate::pages::escape(&user.email);
    let body = format!(
        "<h1>You don't have access</h1>\
         <p>You are signed in as <b>{email}</b>, which does not have access to this application.</p>\
         <p>Ask an administrator to grant you the IAP-secured Web App User role \
         (<code>roles/iap.httpsResourceAccessor</code>).</p>\
         <p><a href=\"{SIGN_OUT_PATH}\">Sign in with a different account</a></p>"
    );
    let mut response = page(StatusCode::FORBIDDEN, "You don't have access", &body);
    if control.config().mode == Mode::Dev {
        let member = user.caller.member().unwrap_or_default();
        let explanation = format!(
            "{member} lacks {} on {}; grant it with: gcloud iap web add-iam-policy-binding --member={member} --role=roles/iap.httpsResourceAccessor --resource-type=cloud-run --service={} --region={}",
            kumo_control::iap::ACCESS_VIA_IAP,
            target.resource().relative_name(),
            target.service,
            target.region,
        );
        insert(
            response.headers_mut(),
            HeaderName::from_static(crate::headers::X_KUMO_EXPLANATION),
            &explanation,
        );
    }
    respond(
        response,
        Some(format!("IAP denied access to {}", user.email)),
    )
}

/// The agent is missing or disabled. Text from an LB-era capture (spec §6.1); the status is
/// UNCONFIRMED.
fn not_set_up() -> IapFlow {
    let text = "IAP for Cloud Run app is not set up correctly.Please follow the instructions to rectify IAP and Cloud Run set up: https://cloud.google.com/iap/docs/enabling-cloud-run";
    let mut response = Response::new(text.to_owned());
    *response.status_mut() = StatusCode::FORBIDDEN;
    insert(
        response.headers_mut(),
        header::CONTENT_TYPE,
        "text/html; charset=UTF-8",
    );
    respond(response, Some(text.to_owned()))
}

fn respond(response: Response<String>, log_text: Option<String>) -> IapFlow {
    IapFlow::Respond { response, log_text }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response<String> {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=en>\n<meta charset=utf-8>\n<meta name=viewport content=\"width=device-width\">\n<title>{}</title>\n<main>{body}</main>\n</html>\n",
        crate::pages::escape(title)
    );
    let mut response = Response::new(html);
    *response.status_mut() = status;
    insert(
        response.headers_mut(),
        header::CONTENT_TYPE,
        "text/html; charset=UTF-8",
    );
    insert(response.headers_mut(), header::CACHE_CONTROL, "no-store");
    response
}

fn insert(headers: &mut HeaderMap, name: impl http::header::IntoHeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

fn set(
    headers: &mut HeaderMap,
    name: &'static str,
    value: &str,
) -> Result<(), kumo_control::Error> {
    let value = HeaderValue::from_str(value).map_err(kumo_control::Error::internal)?;
    headers.insert(HeaderName::from_static(name), value);
    Ok(())
}

fn append_cookie(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}

/// HttpOnly, SameSite=Lax (the sign-in callback is a top-level navigation from the sign-in page),
/// expiring. Not `Secure`: Kumo's service URLs are plain HTTP on loopback.
fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax")
}

/// The value of cookie `name`, if the request carries exactly one.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned());
    match (found.next(), found.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

/// Removes IAP's own cookies from what the workload sees: the session is IAP's credential.
fn remove_cookies(headers: &mut HeaderMap, names: &[String]) {
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            !names
                .iter()
                .any(|name| pair.split_once('=').is_some_and(|(key, _)| key == name))
        })
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        insert(headers, header::COOKIE, &kept.join("; "));
    }
}

fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(byte)) => {
                out.push(byte);
                index += 2;
            }
            (byte, _) => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_identity_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-goog-iap-jwt-assertion",
            HeaderValue::from_static("forged"),
        );
        headers.insert(
            "x-goog-authenticated-user-email",
            HeaderValue::from_static("accounts.google.com:ceo@example.com"),
        );
        headers.insert(
            "x-goog-authenticated-user-id",
            HeaderValue::from_static("accounts.google.com:1"),
        );
        headers.insert("x-other", HeaderValue::from_static("kept"));
        strip_identity_headers(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-other"));
    }

    #[test]
    fn cookies_are_read_exactly_and_iaps_own_are_not_forwarded() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; GCP_IAP_AUTH_TOKEN_x=secret"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(
            cookie(&headers, "GCP_IAP_AUTH_TOKEN_x").as_deref(),
            Some("secret")
        );
        assert_eq!(cookie(&headers, "GCP_IAP_AUTH_TOKEN"), None);
        remove_cookies(&mut headers, &["GCP_IAP_AUTH_TOKEN_x".to_owned()]);
        assert_eq!(headers.get(header::COOKIE).unwrap(), "a=1; b=2");
        // Two cookies of the same name are ambiguous: neither is trusted.
        let mut twice = HeaderMap::new();
        twice.insert(header::COOKIE, HeaderValue::from_static("s=1; s=2"));
        assert_eq!(cookie(&twice, "s"), None);
    }

    #[test]
    fn proxy_authorization_wins_and_app_authorization_is_left_alone() {
        let jwt = "aaa.bbb.ccc";
        let request = |headers: &[(&str, &str)]| {
            let mut builder = http::Request::builder().uri("/");
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder.body(()).unwrap().into_parts().0
        };
        let mut parts = request(&[
            ("authorization", "Basic dXNlcjpwdw=="),
            ("proxy-authorization", &format!("Bearer {jwt}")),
        ]);
        assert!(matches!(presented_credential(&mut parts, None), Credential::Token(t) if t == jwt));
        assert_eq!(
            parts.headers.get(header::AUTHORIZATION).unwrap(),
            "Basic dXNlcjpwdw=="
        );
        let mut parts = request(&[("authorization", "Basic dXNlcjpwdw==")]);
        assert!(matches!(
            presented_credential(&mut parts, None),
            Credential::None
        ));
        let mut parts = request(&[("authorization", &format!("Bearer {jwt}"))]);
        assert!(matches!(
            presented_credential(&mut parts, None),
            Credential::Token(_)
        ));
        assert!(!parts.headers.contains_key(header::AUTHORIZATION));
        let mut parts = request(&[("proxy-authorization", "Bearer not-a-jwt")]);
        assert!(matches!(
            presented_credential(&mut parts, None),
            Credential::Malformed
        ));
    }

    #[test]
    fn only_browser_navigations_are_redirected() {
        let parts = |method: Method, accept: &str| {
            http::Request::builder()
                .method(method)
                .uri("/")
                .header("accept", accept)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        assert!(wants_html(&parts(
            Method::GET,
            "text/html,application/xhtml+xml"
        )));
        assert!(!wants_html(&parts(Method::POST, "text/html")));
        assert!(!wants_html(&parts(Method::GET, "application/json")));
    }

    mod flows {
        //! IAP end to end through the phase and the control plane: the real identity issuer,
        //! directory, IAM engine and invocation decision on an in-memory store.

        use std::sync::Arc;

        use base64::Engine as _;
        use kumo_control::identity::AuthorizationRequest;
        use kumo_control::invoke::{InvocationDecision, InvocationRequest, Source, TokenHeader};
        use kumo_control::{
            Call, Caller, Config, Control, ImageAccessCheck, Mode, NewProject, ResourceRef,
        };
        use kumo_store::{SqliteStore, SystemClock, Write};
        use serde_json::{Value, json};

        use super::super::*;

        const HELLO: &str = "projects/demo-project/locations/us-central1/services/hello";
        const OTHER: &str = "projects/demo-project/locations/us-central1/services/other";
        const PLAIN: &str = "projects/demo-project/locations/us-central1/services/plain";
        const OPEN: &str = "projects/demo-project/locations/us-central1/services/open";

        struct World {
            control: Control,
            number: String,
        }

        fn admin() -> Call {
            Call::new(Caller::User {
                email: "admin@example.com".into(),
            })
        }

        fn world() -> World {
            let store = Arc::new(SqliteStore::open_in_memory().unwrap());
            let config = Config {
                external_url: "http://127.0.0.1:8080".into(),
                issuer: None,
                mode: Mode::Dev,
                image_access_check: ImageAccessCheck::Enforce,
            };
            let control = Control::new(config, store, Arc::new(SystemClock)).unwrap();
            let org = control
                .provision_organization("example.com", None, Some("user:admin@example.com"))
                .unwrap();
            let project = control
                .provision_project(NewProject {
                    project_id: "demo-project".into(),
                    display_name: "Demo".into(),
                    parent: Some(format!("organizations/{}", org.id)),
                    labels: Default::default(),
                    owner: Some("user:admin@example.com".into()),
                })
                .unwrap();
            for user in ["bob", "carol"] {
                control
                    .create_user(&admin(), &json!({"primaryEmail": format!("{user}@example.com"), "name": {"givenName": user, "familyName": "Test"}}))
                    .unwrap();
            }
            let number = project.number;
            for (name, iap, port) in [
                (HELLO, true, 8100),
                (OTHER, true, 8101),
                (PLAIN, false, 8102),
                (OPEN, true, 8103),
            ] {
                let service = name.rsplit('/').next().unwrap();
                let urls = [
                    format!("http://127.0.0.1:{port}"),
                    format!("http://{service}-{number}.us-central1.run.localhost:8080"),
                ];
                control
                    .commit(&[Write::Create {
                        collection: kumo_control::records::Collection::Services.as_str().to_owned(),
                        name: name.to_owned(),
                        parent: Some("projects/demo-project/locations/us-central1".into()),
                        data: json!({"name": name, "iapEnabled": iap, "invokerIamDisabled": name == OPEN, "uri": urls[0], "urls": urls}),
                    }, Write::Create {
                        collection: kumo_control::records::Collection::Services.as_str().to_owned(),
                        name: format!("endpoints/ports/{port}"),
                        parent: Some(kumo_control::run::urls::ENDPOINTS_PARENT.to_owned()),
                        data: json!({"service": name}),
                    }])
                    .unwrap();
            }
            World { control, number }
        }

        fn grant(world: &World, resource: &ResourceRef, role: &str, member: &str) {
            world
                .control
                .grant_roles(resource, &[(role, member.to_owned())])
                .unwrap();
        }

        fn iap_resource(world: &World, service: &str) -> ResourceRef {
            ResourceRef::IapRunService {
                project: "demo-project".into(),
                project_number: world.number.clone(),
                region: "us-central1".into(),
                service: service.into(),
            }
        }

        fn request(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
            let mut builder = http::Request::builder()
                .uri(uri)
                .header("host", "127.0.0.1:8100");
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder.body(()).unwrap().into_parts().0
        }

        /// A user's ID token as `kumo auth print-identity-token` gets it: the CLI's
        /// authorization-code flow (dev mode, `login_hint`), audience `kumo-cli`.
        fn user_id_token(world: &World, email: &str) -> String {
            let pending = PendingSignIn::new("/");
            let redirect = "http://127.0.0.1:9/callback".to_owned();
            let authorization = AuthorizationRequest {
                client_id: "kumo-cli".into(),
                redirect_uri: redirect.clone(),
                response_type: "code".into(),
                scope: "openid email".into(),
                state: Some("s".into()),
                code_challenge: Some(pending.code_challenge()),
                code_challenge_method: Some("S256".into()),
                login_hint: Some(email.into()),
            };
            let code = world
                .control
                .sign_in_by_hint(&authorization)
                .unwrap()
                .unwrap();
            let user = world
                .control
                .complete_iap_sign_in(&pending, &code, &redirect);
            assert!(user.is_ok(), "{user:?}");
            // complete_iap_sign_in consumed the code; mint another for the raw token.
            let code = world
                .control
                .sign_in_by_hint(&authorization)
                .unwrap()
                .unwrap();
            let response = world
                .control
                .token_grant(&kumo_control::identity::TokenRequest {
                    grant_type: Some("authorization_code".into()),
                    client_id: Some("kumo-cli".into()),
                    code: Some(code),
                    redirect_uri: Some(redirect),
                    code_verifier: Some(pending.code_verifier.clone()),
                    ..Default::default()
                })
                .unwrap();
            response.id_token.unwrap()
        }

        fn claims(jwt: &str) -> Value {
            let payload = jwt.split('.').nth(1).unwrap();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap()
        }

        fn status(flow: &IapFlow) -> Option<StatusCode> {
            match flow {
                IapFlow::Respond { response, .. } => Some(response.status()),
                _ => None,
            }
        }

        fn cloud_run_decision(world: &World, parts: &http::request::Parts) -> InvocationDecision {
            let token = parts
                .headers
                .get("x-serverless-authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .strip_prefix("Bearer ")
                .unwrap()
                .to_owned();
            world
                .control
                .invocation_decision(&InvocationRequest {
                    service: HELLO,
                    token: Some(&token),
                    via_header: TokenHeader::XServerless,
                    source: Source::External,
                })
                .unwrap()
        }

        #[test]
        fn programmatic_access_follows_the_binding_then_cloud_run_judges_the_agent() {
            let world = world();
            let token = user_id_token(&world, "bob@example.com");
            let forged = [
                ("authorization", format!("Bearer {token}")),
                (
                    "x-goog-authenticated-user-email",
                    "accounts.google.com:admin@example.com".to_owned(),
                ),
                ("x-goog-iap-jwt-assertion", "forged".to_owned()),
            ];
            let forged: Vec<(&str, &str)> = forged.iter().map(|(n, v)| (*n, v.as_str())).collect();

            // Without the binding: IAP's access-denied page.
            let mut parts = request("/", &forged);
            let flow = iap_phase(&world.control, HELLO, &mut parts, None);
            assert_eq!(status(&flow), Some(StatusCode::FORBIDDEN));
            let IapFlow::Respond { response, .. } = flow else {
                unreachable!()
            };
            assert!(response.body().contains("You don't have access"));
            assert!(
                response
                    .headers()
                    .get(crate::headers::X_KUMO_EXPLANATION)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .contains("roles/iap.httpsResourceAccessor")
            );

            // With the binding but no IAP service agent yet: not set up.
            grant(
                &world,
                &iap_resource(&world, "hello"),
                "roles/iap.httpsResourceAccessor",
                "user:bob@example.com",
            );
            let mut parts = request("/", &forged);
            let flow = iap_phase(&world.control, HELLO, &mut parts, None);
            let IapFlow::Respond { response, .. } = flow else {
                panic!("expected a refusal")
            };
            assert!(
                response
                    .body()
                    .starts_with("IAP for Cloud Run app is not set up correctly.")
            );

            // With the agent: admitted, with IAP's headers only.
            world
                .control
                .generate_service_identity(&admin(), "demo-project", "iap.googleapis.com")
                .unwrap();
            let agent = format!(
                "service-{}@gcp-sa-iap.iam.gserviceaccount.com",
                world.number
            );
            let mut parts = request("/", &forged);
            let flow = iap_phase(&world.control, HELLO, &mut parts, None);
            assert!(
                matches!(&flow, IapFlow::Admitted { user } if user.email == "bob@example.com"),
                "{flow:?}"
            );
            let headers = &parts.headers;
            assert!(
                !headers.contains_key(header::AUTHORIZATION),
                "the user's token never reaches the workload"
            );
            assert_eq!(
                headers.get(USER_EMAIL_HEADER).unwrap(),
                "accounts.google.com:bob@example.com"
            );
            assert_eq!(headers.get_all(USER_EMAIL_HEADER).iter().count(), 1);
            let user_id = headers
                .get(USER_ID_HEADER)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                user_id.starts_with("accounts.google.com:")
                    && user_id.len() > "accounts.google.com:".len()
            );
            let assertion = claims(headers.get(ASSERTION_HEADER).unwrap().to_str().unwrap());
            assert_eq!(assertion["iss"], json!("https://cloud.google.com/iap"));
            assert_eq!(
                assertion["aud"],
                json!(format!(
                    "/projects/{}/locations/us-central1/services/hello",
                    world.number
                ))
            );
            assert_eq!(assertion["email"], json!("bob@example.com"));
            assert_eq!(assertion["sub"], json!(user_id));
            let agent_token = claims(
                headers
                    .get("x-serverless-authorization")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .strip_prefix("Bearer ")
                    .unwrap(),
            );
            assert_eq!(agent_token["email"], json!(agent));

            // Cloud Run's invoker check now judges the agent: refused until it holds run.invoker.
            let decision = cloud_run_decision(&world, &parts);
            assert!(
                matches!(decision, InvocationDecision::Forbidden { .. }),
                "{decision:?}"
            );
            grant(
                &world,
                &ResourceRef::Project("demo-project".into()),
                "roles/run.invoker",
                &format!("serviceAccount:{agent}"),
            );
            match cloud_run_decision(&world, &parts) {
                InvocationDecision::Allowed { caller, .. } => assert_eq!(
                    caller,
                    Caller::ServiceAccount {
                        email: agent.clone()
                    }
                ),
                other => panic!("expected the agent to be admitted, got {other:?}"),
            }

            // Proxy-Authorization works too, and leaves the app's own Authorization alone.
            let proxy = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
            let mut parts = request("/", &[("authorization", "Basic YXBwOnNlY3JldA==")]);
            let flow = iap_phase(&world.control, HELLO, &mut parts, Some(&proxy));
            assert!(matches!(flow, IapFlow::Admitted { .. }));
            assert_eq!(
                parts.headers.get(header::AUTHORIZATION).unwrap(),
                "Basic YXBwOnNlY3JldA=="
            );

            // A tampered token is a 401 with IAP's text; no credentials at all from a program is a 401 too.
            let mut tampered = token.clone();
            tampered.push('x');
            let mut parts = request("/", &[("authorization", &format!("Bearer {tampered}"))]);
            assert_eq!(
                status(&iap_phase(&world.control, HELLO, &mut parts, None)),
                Some(StatusCode::UNAUTHORIZED)
            );
            let mut parts = request("/", &[("accept", "application/json")]);
            let flow = iap_phase(&world.control, HELLO, &mut parts, None);
            let IapFlow::Respond { response, .. } = flow else {
                panic!("expected 401")
            };
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(response.body(), "Invalid IAP credentials: empty token");
        }

        #[test]
        fn browser_signs_in_gets_a_service_bound_session_and_signs_out() {
            let world = world();
            world
                .control
                .generate_service_identity(&admin(), "demo-project", "iap.googleapis.com")
                .unwrap();
            grant(
                &world,
                &ResourceRef::Project("demo-project".into()),
                "roles/iap.httpsResourceAccessor",
                "user:carol@example.com",
            );
            let html = [("accept", "text/html,application/xhtml+xml")];

            // 1. No session: 302 to Kumo's sign-in page, with the nonce cookie.
            let mut parts = request("/reports?id=7", &html);
            let IapFlow::Respond { response, .. } =
                iap_phase(&world.control, HELLO, &mut parts, None)
            else {
                panic!("redirect expected")
            };
            assert_eq!(response.status(), StatusCode::FOUND);
            let location = response
                .headers()
                .get(header::LOCATION)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert!(location.starts_with("http://127.0.0.1:8080/o/oauth2/v2/auth?client_id=kumo-cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F_gcp_iap%2Fhandle_redirect&"), "{location}");
            let set_cookie = response
                .headers()
                .get(header::SET_COOKIE)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                set_cookie.starts_with("GCP_IAP_XSRF_NONCE_")
                    && set_cookie.contains("HttpOnly")
                    && set_cookie.contains("SameSite=Lax")
            );
            let nonce_cookie = set_cookie.split(';').next().unwrap().to_owned();
            let query = parse_query(location.split_once('?').unwrap().1);
            let param = |key: &str| query.iter().find(|(k, _)| k == key).unwrap().1.clone();

            // The relay on Kumo's host sends the browser back to this service only.
            assert_eq!(
                world
                    .control
                    .iap_relay_destination(&param("state"))
                    .unwrap()
                    .as_deref(),
                Some("http://127.0.0.1:8100")
            );

            // 2. The sign-in page (identity's) signs carol in and sends her back with a code.
            let authorization = AuthorizationRequest {
                client_id: param("client_id"),
                redirect_uri: param("redirect_uri"),
                response_type: param("response_type"),
                scope: param("scope"),
                state: Some(param("state")),
                code_challenge: Some(param("code_challenge")),
                code_challenge_method: Some(param("code_challenge_method")),
                login_hint: None,
            };
            assert!(matches!(
                world.control.check_authorization_request(&authorization),
                Ok(Ok(()))
            ));
            let code = world
                .control
                .sign_in(&authorization, "carol@example.com", None)
                .unwrap()
                .unwrap();

            // 3. IAP's callback: a forged state is refused; the real one sets the session.
            let callback = |state: &str| {
                format!(
                    "{CALLBACK_PATH}?code={}&state={}",
                    kumo_control::iap::encode_component(&code),
                    kumo_control::iap::encode_component(state)
                )
            };
            let mut parts = request(&callback("forged"), &[("cookie", &nonce_cookie)]);
            assert_eq!(
                status(&iap_phase(&world.control, HELLO, &mut parts, None)),
                Some(StatusCode::BAD_REQUEST)
            );
            let mut parts = request(&callback(&param("state")), &[("cookie", &nonce_cookie)]);
            let IapFlow::Respond { response, log_text } =
                iap_phase(&world.control, HELLO, &mut parts, None)
            else {
                panic!("callback answers")
            };
            assert_eq!(response.status(), StatusCode::FOUND, "{log_text:?}");
            assert_eq!(
                response.headers().get(header::LOCATION).unwrap(),
                "/reports?id=7"
            );
            let cookies: Vec<String> = response
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            let session = cookies
                .iter()
                .find(|c| c.starts_with("GCP_IAP_AUTH_TOKEN_"))
                .unwrap();
            assert!(
                session.contains("HttpOnly")
                    && session.contains("SameSite=Lax")
                    && session.contains("Max-Age=3600")
            );
            let session_cookie = session.split(';').next().unwrap().to_owned();

            // 4. The session admits carol on this service, and is not forwarded to the workload.
            let cookie_header = format!("theme=dark; {session_cookie}");
            let mut parts = request("/reports?id=7", &[("cookie", &cookie_header), html[0]]);
            assert!(
                matches!(iap_phase(&world.control, HELLO, &mut parts, None), IapFlow::Admitted { ref user } if user.email == "carol@example.com")
            );
            assert_eq!(parts.headers.get(header::COOKIE).unwrap(), "theme=dark");

            // 5. The same cookie value under service B's name is refused there (bound to A).
            let (_, value) = session_cookie.split_once('=').unwrap();
            let other = world.control.iap_target(OTHER).unwrap().unwrap();
            let replay = format!("{}={value}", other.session_cookie_name());
            let mut parts = request("/", &[("cookie", &replay), html[0]]);
            assert_eq!(
                status(&iap_phase(&world.control, OTHER, &mut parts, None)),
                Some(StatusCode::FOUND)
            );

            // 6. Sign-out clears the session.
            let hello = world.control.iap_target(HELLO).unwrap().unwrap();
            let mut parts = request(SIGN_OUT_PATH, &[("cookie", &session_cookie)]);
            let IapFlow::Respond { response, .. } =
                iap_phase(&world.control, HELLO, &mut parts, None)
            else {
                panic!("sign-out answers")
            };
            let cleared = response
                .headers()
                .get(header::SET_COOKIE)
                .unwrap()
                .to_str()
                .unwrap();
            assert!(
                cleared.starts_with(&format!("{}=;", hello.session_cookie_name()))
                    && cleared.contains("Max-Age=0"),
                "{cleared}"
            );

            // 7. Losing the role (removed from the project policy) means the access-denied page on
            // the very next request, even with a live session.
            let project = ResourceRef::Project("demo-project".into());
            let mut policy = world.control.stored_policy(&project).unwrap().policy;
            let kept: Vec<Value> = policy["bindings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|b| b["role"] != json!("roles/iap.httpsResourceAccessor"))
                .cloned()
                .collect();
            policy["bindings"] = json!(kept);
            world
                .control
                .set_iam_policy(
                    &admin(),
                    &project,
                    "resourcemanager.projects.setIamPolicy",
                    &policy,
                    None,
                )
                .unwrap();
            let mut parts = request("/", &[("cookie", &session_cookie), html[0]]);
            assert_eq!(
                status(&iap_phase(&world.control, HELLO, &mut parts, None)),
                Some(StatusCode::FORBIDDEN)
            );
        }

        /// IAP with Cloud Run's invoker check disabled: IAP still decides who gets in; Cloud Run then
        /// admits IAP's agent without an IAM check, so the agent needs no run.invoker.
        #[test]
        fn iap_with_the_invoker_check_disabled() {
            let world = world();
            world
                .control
                .generate_service_identity(&admin(), "demo-project", "iap.googleapis.com")
                .unwrap();
            let token = user_id_token(&world, "bob@example.com");
            let bearer = format!("Bearer {token}");
            let mut parts = request("/", &[("authorization", &bearer)]);
            assert_eq!(
                status(&iap_phase(&world.control, OPEN, &mut parts, None)),
                Some(StatusCode::FORBIDDEN)
            );
            grant(
                &world,
                &iap_resource(&world, "open"),
                "roles/iap.httpsResourceAccessor",
                "user:bob@example.com",
            );
            let mut parts = request("/", &[("authorization", &bearer)]);
            assert!(matches!(
                iap_phase(&world.control, OPEN, &mut parts, None),
                IapFlow::Admitted { .. }
            ));
            let agent_token = parts
                .headers
                .get("x-serverless-authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .strip_prefix("Bearer ")
                .unwrap()
                .to_owned();
            let decision = world
                .control
                .invocation_decision(&InvocationRequest {
                    service: OPEN,
                    token: Some(&agent_token),
                    via_header: TokenHeader::XServerless,
                    source: Source::External,
                })
                .unwrap();
            assert!(
                matches!(decision, InvocationDecision::Allowed { .. }),
                "{decision:?}"
            );
        }

        /// Programmatic ID tokens need IAP's own client as audience, or one allowlisted in
        /// `oauthSettings.programmaticClients`; the service URL (Cloud Run's audience) is not
        /// IAP's. `allowedDomainsSettings` turns other domains away even with the role; lower
        /// levels override higher ones.
        #[test]
        fn programmatic_audiences_and_allowed_domains_follow_iap_settings() {
            let world = world();
            world
                .control
                .generate_service_identity(&admin(), "demo-project", "iap.googleapis.com")
                .unwrap();
            let agent = format!(
                "service-{}@gcp-sa-iap.iam.gserviceaccount.com",
                world.number
            );
            let web_type = ResourceRef::IapCloudRun {
                project: "demo-project".into(),
                project_number: world.number.clone(),
                region: "us-central1".into(),
            };
            grant(
                &world,
                &web_type,
                "roles/iap.httpsResourceAccessor",
                &format!("serviceAccount:{agent}"),
            );
            let phase = |token: &str| {
                let bearer = format!("Bearer {token}");
                let mut parts = request("/", &[("authorization", &bearer)]);
                iap_phase(&world.control, HELLO, &mut parts, None)
            };
            let token_for =
                |audience: &str| world.control.workload_id_token(&agent, audience).unwrap();

            let for_url = phase(&token_for("http://127.0.0.1:8100"));
            let IapFlow::Respond { response, .. } = for_url else {
                panic!("a service-URL audience must be refused")
            };
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                response.body(),
                "Invalid IAP credentials: Invalid bearer token. Invalid JWT audience"
            );
            assert!(matches!(
                phase(&token_for(kumo_control::iap::IAP_OAUTH_CLIENT_ID)),
                IapFlow::Admitted { .. }
            ));
            assert_eq!(
                status(&phase(&token_for("desktop-client.apps.example"))),
                Some(StatusCode::UNAUTHORIZED)
            );
            let iap_web = ResourceRef::IapWeb {
                project: "demo-project".into(),
                project_number: world.number.clone(),
            };
            world
                .control
                .update_iap_settings(
                    &admin(),
                    &iap_web,
                    &json!({"accessSettings": {"oauthSettings": {"programmaticClients": ["desktop-client.apps.example"]}}}),
                    None,
                )
                .unwrap();
            assert!(matches!(
                phase(&token_for("desktop-client.apps.example")),
                IapFlow::Admitted { .. }
            ));

            // Allowed domains on the region's level: the agent's domain is not example.com.
            world
                .control
                .update_iap_settings(
                    &admin(),
                    &web_type,
                    &json!({"accessSettings": {"allowedDomainsSettings": {"enable": true, "domains": ["example.com"]}}}),
                    None,
                )
                .unwrap();
            let refused = phase(&token_for(kumo_control::iap::IAP_OAUTH_CLIENT_ID));
            assert_eq!(status(&refused), Some(StatusCode::FORBIDDEN));
            // Bob's domain passes; he still needs the role.
            let bob = user_id_token(&world, "bob@example.com");
            assert_eq!(status(&phase(&bob)), Some(StatusCode::FORBIDDEN));
            grant(
                &world,
                &iap_resource(&world, "hello"),
                "roles/iap.httpsResourceAccessor",
                "user:bob@example.com",
            );
            assert!(matches!(phase(&bob), IapFlow::Admitted { .. }));
            // The service's own setting overrides the region's.
            world
                .control
                .update_iap_settings(
                    &admin(),
                    &iap_resource(&world, "hello"),
                    &json!({"accessSettings": {"allowedDomainsSettings": {"enable": false}}}),
                    None,
                )
                .unwrap();
            assert!(matches!(
                phase(&token_for(kumo_control::iap::IAP_OAUTH_CLIENT_ID)),
                IapFlow::Admitted { .. }
            ));
        }

        /// `accessDeniedPageSettings.accessDeniedPageUri` sends a denied browser to the
        /// application's own page; programs still get IAP's 403.
        #[test]
        fn a_custom_access_denied_page_takes_denied_browsers() {
            let world = world();
            let target = world.control.iap_target(HELLO).unwrap().unwrap();
            let bob = IapUser {
                caller: Caller::User {
                    email: "bob@example.com".into(),
                },
                email: "bob@example.com".into(),
                user_id: "42".into(),
                hd: None,
            };
            let session = world.control.mint_iap_session(&target, &bob).unwrap();
            let cookie = format!("{}={session}", target.session_cookie_name());
            let browse = || {
                let mut parts = request(
                    "/reports",
                    &[("cookie", cookie.as_str()), ("accept", "text/html")],
                );
                iap_phase(&world.control, HELLO, &mut parts, None)
            };
            assert_eq!(status(&browse()), Some(StatusCode::FORBIDDEN));
            world
                .control
                .update_iap_settings(
                    &admin(),
                    &ResourceRef::IapWeb {
                        project: "demo-project".into(),
                        project_number: world.number.clone(),
                    },
                    &json!({"applicationSettings": {"accessDeniedPageSettings": {"accessDeniedPageUri": "https://help.example.com/denied"}}}),
                    None,
                )
                .unwrap();
            let IapFlow::Respond { response, .. } = browse() else {
                panic!("expected a redirect")
            };
            assert_eq!(response.status(), StatusCode::FOUND);
            assert_eq!(
                response.headers().get(header::LOCATION).unwrap(),
                "https://help.example.com/denied"
            );
            let token = user_id_token(&world, "bob@example.com");
            let mut parts = request("/", &[("authorization", &format!("Bearer {token}"))]);
            assert_eq!(
                status(&iap_phase(&world.control, HELLO, &mut parts, None)),
                Some(StatusCode::FORBIDDEN)
            );
        }

        #[test]
        fn iap_off_is_plain_cloud_run_but_forged_headers_still_go() {
            let world = world();
            let mut parts = request(
                "/",
                &[
                    (
                        "x-goog-authenticated-user-email",
                        "accounts.google.com:ceo@example.com",
                    ),
                    ("authorization", "Bearer a.b.c"),
                ],
            );
            assert!(matches!(
                iap_phase(&world.control, PLAIN, &mut parts, None),
                IapFlow::Off
            ));
            assert!(!parts.headers.contains_key(USER_EMAIL_HEADER));
            // The client's own token is left for Cloud Run's check.
            assert_eq!(
                parts.headers.get(header::AUTHORIZATION).unwrap(),
                "Bearer a.b.c"
            );
            let mut parts = request("/", &[]);
            assert!(matches!(
                iap_phase(
                    &world.control,
                    "projects/demo-project/locations/us-central1/services/missing",
                    &mut parts,
                    None
                ),
                IapFlow::Off
            ));
        }
    }

    #[test]
    fn query_decoding() {
        assert_eq!(percent_decode("a%2Fb+c%"), "a/b c%");
        assert_eq!(
            parse_query("code=x%3D&state=s"),
            vec![("code".into(), "x=".into()), ("state".into(), "s".into())]
        );
    }
}
