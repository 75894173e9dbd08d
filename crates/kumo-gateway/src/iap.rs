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

/// IAP's callback path on every IAP-enabled service.
pub const CALLBACK_PATH: &str = "/_gcp_iap/handle_redirect";
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
        return Ok(access_denied(control, &target, &user));
    }
    let agent_token = match control.iap_agent_token(&target) {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, agent = target.agent_email(), "IAP service agent cannot call the service");
            return Ok(not_set_up());
        }
    };
    let assertion = control.mint_iap_assertion(&target, &user)?;
    let headers = &mut parts.headers;
    remove_cookies(
        headers,
        &[target.session_cookie_name(), target.sign_in_cookie_name()],
    );
    headers.remove(crate::headers::X_SERVERLESS_AUTHORIZATION);
    set(
        headers,
        crate::headers::X_SERVERLESS_AUTHORIZATION,
        &format!("Bearer {agent_token}"),
    )?;
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
    let location = control.iap_sign_in_url(&pending, &format!("{origin}{CALLBACK_PATH}"));
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
    let (Some(pending), Some(code), Some(origin)) = (pending, get("code"), origin(parts)) else {
        let body = "<p>The sign-in request is invalid or has expired.</p><p><a href=\"/\">Try again</a></p>";
        return Ok(respond(
            page(StatusCode::BAD_REQUEST, "Error 400 (Bad Request)", body),
            Some("IAP sign-in callback without a valid state".into()),
        ));
    };
    let user =
        match control.complete_iap_sign_in(&pending, code, &format!("{origin}{CALLBACK_PATH}")) {
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

    #[test]
    fn query_decoding() {
        assert_eq!(percent_decode("a%2Fb+c%"), "a/b c%");
        assert_eq!(
            parse_query("code=x%3D&state=s"),
            vec![("code".into(), "x=".into()), ("state".into(), "s".into())]
        );
    }
}
