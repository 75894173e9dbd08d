//! The OAuth2/OIDC issuer's HTTP surface: discovery, the two certificate documents, `/token`,
//! the browser sign-in page, tokeninfo and revoke. These are not Google API methods (no bearer
//! token, no `google.rpc.Status`): errors are OAuth2's `{"error", "error_description"}`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use kumo_control::Mode;
use kumo_control::identity::{AuthorizationRequest, OAuthError, SignInAccount, TokenRequest};
use serde_json::{Value, json};

use crate::Api;
use crate::extract::Query;

/// A JSON answer that must not be cached (tokens).
fn no_store_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(error: &OAuthError) -> Response {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    no_store_json(status, &error.body())
}

/// Public documents may be cached briefly (Google: a few hours; Kumo rotates on demand, so
/// keep it short).
fn public_json(body: &Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

fn internal(error: &kumo_control::Error) -> Response {
    crate::status::error_response(error)
}

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(State(api): State<Api>) -> Response {
    public_json(&api.control.openid_configuration())
}

/// `GET /oauth2/v3/certs`.
pub async fn certs_v3(State(api): State<Api>) -> Response {
    match api.control.jwks() {
        Ok(body) => public_json(&body),
        Err(error) => internal(&error),
    }
}

/// `GET /oauth2/v1/certs`.
pub async fn certs_v1(State(api): State<Api>) -> Response {
    match api.control.v1_certs() {
        Ok(body) => public_json(&body),
        Err(error) => internal(&error),
    }
}

/// Form fields from an `application/x-www-form-urlencoded` body (and the query string, which
/// Google also reads for these endpoints).
fn form(query: Option<&str>, body: &[u8]) -> Query {
    let mut fields = Query::parse(query).0;
    if let Ok(text) = std::str::from_utf8(body) {
        fields.extend(Query::parse(Some(text)).0);
    }
    Query(fields)
}

/// `/token`'s fields: a form body as RFC 6749 has it, or a JSON object, which Google's token
/// endpoint also takes and google-cloud-auth (Rust) sends for the refresh-token grant.
fn token_fields(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Query {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !json {
        return form(query, body);
    }
    let mut fields = Query::parse(query).0;
    if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) {
        for (name, value) in object {
            match value {
                Value::String(text) => fields.push((name, text)),
                Value::Null | Value::Array(_) | Value::Object(_) => {}
                scalar => fields.push((name, scalar.to_string())),
            }
        }
    }
    Query(fields)
}

fn field(fields: &Query, name: &str) -> Option<String> {
    fields.get(name).map(str::to_owned)
}

/// HTTP Basic client authentication (`client_secret_basic`).
fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode =
        |s: &str| crate::path::percent_decode(&s.replace('+', " ")).unwrap_or_else(|| s.to_owned());
    Some((decode(id), decode(secret)))
}

/// `POST /token` (and `/oauth2/v4/token`).
pub async fn token(
    State(api): State<Api>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = token_fields(query.as_deref(), &headers, &body);
    let mut request = TokenRequest {
        grant_type: field(&fields, "grant_type"),
        assertion: field(&fields, "assertion"),
        refresh_token: field(&fields, "refresh_token"),
        client_id: field(&fields, "client_id"),
        client_secret: field(&fields, "client_secret"),
        scope: field(&fields, "scope"),
        code: field(&fields, "code"),
        redirect_uri: field(&fields, "redirect_uri"),
        code_verifier: field(&fields, "code_verifier"),
    };
    if let Some((id, secret)) = basic_client(&headers) {
        request.client_id.get_or_insert(id);
        request.client_secret.get_or_insert(secret);
    }
    let control = api.control.clone();
    // Key generation and argon2 are CPU-bound; keep them off the async workers.
    let outcome = tokio::task::spawn_blocking(move || control.token_grant(&request)).await;
    match outcome {
        Ok(Ok(answer)) => no_store_json(StatusCode::OK, &answer.body()),
        Ok(Err(error)) => oauth_error(&error),
        Err(_) => oauth_error(&OAuthError::from(kumo_control::Error::internal(
            "token grant task failed",
        ))),
    }
}

/// `GET|POST /oauth2/v3/tokeninfo?access_token=…|id_token=…`.
pub async fn tokeninfo(State(api): State<Api>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let fields = form(query.as_deref(), &body);
    let info = if let Some(token) = fields.get("access_token") {
        api.control.access_token_info(token)
    } else if let Some(token) = fields.get("id_token") {
        api.control.id_token_info(token)
    } else {
        Ok(None)
    };
    match info {
        Ok(Some(body)) => no_store_json(StatusCode::OK, &body),
        Ok(None) => no_store_json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_token", "error_description": "Invalid Value"}),
        ),
        Err(error) => internal(&error),
    }
}

/// `POST /revoke?token=…` (token in the query or the form).
pub async fn revoke(State(api): State<Api>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let fields = form(query.as_deref(), &body);
    let Some(token) = fields.get("token").filter(|t| !t.is_empty()) else {
        return no_store_json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "error_description": "Missing required parameter: token"}),
        );
    };
    match api.control.revoke_token(token) {
        Ok(true) => no_store_json(StatusCode::OK, &json!({})),
        Ok(false) => no_store_json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_token", "error_description": "Token expired or revoked"}),
        ),
        Err(error) => internal(&error),
    }
}

fn authorization_request(fields: &Query) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: fields.get("client_id").unwrap_or_default().to_owned(),
        redirect_uri: fields.get("redirect_uri").unwrap_or_default().to_owned(),
        response_type: fields.get("response_type").unwrap_or_default().to_owned(),
        scope: fields.get("scope").unwrap_or_default().to_owned(),
        state: field(fields, "state"),
        code_challenge: field(fields, "code_challenge").filter(|c| !c.is_empty()),
        code_challenge_method: field(fields, "code_challenge_method").filter(|c| !c.is_empty()),
        login_hint: field(fields, "login_hint").filter(|h| !h.is_empty()),
    }
}

fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `302` to the (validated) redirect URI with `pairs` appended to its query.
fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode_component(v)))
        .collect();
    let location = format!("{redirect_uri}{separator}{}", query.join("&"));
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => error_page(&OAuthError {
            error: "invalid_request",
            description: "Invalid redirect_uri.".to_owned(),
        }),
    }
}

fn redirect_code(request: &AuthorizationRequest, code: &str) -> Response {
    let mut pairs = vec![("code", code), ("scope", request.scope.as_str())];
    if let Some(state) = &request.state {
        pairs.push(("state", state.as_str()));
    }
    redirect_with(&request.redirect_uri, &pairs)
}

fn redirect_error(request: &AuthorizationRequest, error: &OAuthError) -> Response {
    let mut pairs = vec![
        ("error", error.error),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = &request.state {
        pairs.push(("state", state.as_str()));
    }
    redirect_with(&request.redirect_uri, &pairs)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f8f9fa;color:#202124}\
main{max-width:28rem;margin:4rem auto;background:#fff;border:1px solid #dadce0;border-radius:8px;padding:2rem}\
h1{font-size:1.5rem;font-weight:400;margin:0 0 .5rem}p{margin:.25rem 0 1rem}\
fieldset{border:0;padding:0;margin:0}legend{font-weight:500;margin-bottom:.5rem}\
button{display:block;width:100%;text-align:left;padding:.75rem 1rem;margin:.25rem 0;border:1px solid #dadce0;border-radius:4px;background:#fff;font:inherit;cursor:pointer}\
button:hover,button:focus-visible{background:#e8f0fe;outline:2px solid #1a73e8}\
label{display:block;margin:.75rem 0 .25rem}input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #80868b;border-radius:4px}\
.primary{background:#1a73e8;color:#fff;text-align:center;margin-top:1rem}.error{color:#d93025}.small{color:#5f6368;font-size:.875rem}";

fn page(title: &str, body: &str, status: StatusCode) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page must not be framed (click-jacking of the account chooser).
    response
        .headers_mut()
        .insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// Google shows request errors on its own page ("Error 400: redirect_uri_mismatch").
fn error_page(error: &OAuthError) -> Response {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = format!(
        "<h1>Access blocked: authorization error</h1><p class=\"error\" role=\"alert\">{}</p><p class=\"small\">Error {}: {}</p>",
        escape(&error.description),
        status.as_u16(),
        escape(error.error)
    );
    page("Sign in - Kumo", &body, status)
}

fn hidden_fields(request: &AuthorizationRequest) -> String {
    let mut fields = vec![
        ("client_id", request.client_id.as_str()),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("response_type", request.response_type.as_str()),
        ("scope", request.scope.as_str()),
    ];
    for (name, value) in [
        ("state", &request.state),
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
    ] {
        if let Some(value) = value {
            fields.push((name, value.as_str()));
        }
    }
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(value)
            )
        })
        .collect()
}

fn sign_in_page(
    mode: Mode,
    request: &AuthorizationRequest,
    accounts: &[SignInAccount],
    problem: Option<&str>,
) -> Response {
    let hidden = hidden_fields(request);
    let alert = problem
        .map(|text| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(text)))
        .unwrap_or_default();
    let body = match mode {
        Mode::Dev => {
            let buttons: String = accounts
                .iter()
                .map(|account| {
                    let label = if account.name.is_empty() {
                        escape(&account.email)
                    } else {
                        format!(
                            "{}<br><span class=\"small\">{}</span>",
                            escape(&account.name),
                            escape(&account.email)
                        )
                    };
                    format!(
                        "<button type=\"submit\" name=\"account\" value=\"{}\">{label}</button>",
                        escape(&account.email)
                    )
                })
                .collect();
            let list = if accounts.is_empty() {
                "<p>The directory has no users yet.</p>".to_owned()
            } else {
                buttons
            };
            format!(
                "<h1>Choose an account</h1><p>to continue to <strong>{}</strong></p>{alert}\
<form method=\"post\" action=\"/o/oauth2/v2/auth\">{hidden}<fieldset><legend>Accounts</legend>{list}</fieldset></form>\
<p class=\"small\">Development mode: no password is asked. Start Kumo with <code>--mode strict</code> to require passwords.</p>",
                escape(&request.client_id)
            )
        }
        Mode::Strict => format!(
            "<h1>Sign in</h1><p>to continue to <strong>{}</strong></p>{alert}\
<form method=\"post\" action=\"/o/oauth2/v2/auth\">{hidden}\
<label for=\"account\">Email</label><input id=\"account\" name=\"account\" type=\"email\" autocomplete=\"username\" required value=\"{}\">\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button class=\"primary\" type=\"submit\">Sign in</button></form>",
            escape(&request.client_id),
            escape(request.login_hint.as_deref().unwrap_or_default())
        ),
    };
    page(
        "Sign in - Kumo",
        &body,
        if problem.is_some() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        },
    )
}

/// `GET /o/oauth2/v2/auth`: validates the request, then shows the sign-in page — or, in dev
/// mode with a `login_hint` naming a user, redirects straight back with a code.
pub async fn authorize(State(api): State<Api>, RawQuery(query): RawQuery) -> Response {
    let fields = Query::parse(query.as_deref());
    let request = authorization_request(&fields);
    match api.control.check_authorization_request(&request) {
        Err(error) => return error_page(&error),
        Ok(Err(error)) => return redirect_error(&request, &error),
        Ok(Ok(())) => {}
    }
    match api.control.sign_in_by_hint(&request) {
        Ok(Some(code)) => return redirect_code(&request, &code),
        Ok(None) => {}
        Err(error) => return internal(&error),
    }
    let accounts = if api.control.config().mode == Mode::Dev {
        match api.control.sign_in_accounts() {
            Ok(accounts) => accounts,
            Err(error) => return internal(&error),
        }
    } else {
        Vec::new()
    };
    sign_in_page(api.control.config().mode, &request, &accounts, None)
}

/// `POST /o/oauth2/v2/auth`: the sign-in form's submission.
pub async fn sign_in(State(api): State<Api>, body: Bytes) -> Response {
    let fields = form(None, &body);
    let request = authorization_request(&fields);
    match api.control.check_authorization_request(&request) {
        Err(error) => return error_page(&error),
        Ok(Err(error)) => return redirect_error(&request, &error),
        Ok(Ok(())) => {}
    }
    let account = fields.get("account").unwrap_or_default().trim().to_owned();
    let password = field(&fields, "password");
    let control = api.control.clone();
    let signing = request.clone();
    // argon2id verification is deliberately slow: off the async workers.
    let outcome = tokio::task::spawn_blocking(move || {
        control.sign_in(&signing, &account, password.as_deref())
    })
    .await;
    match outcome {
        Ok(Ok(Some(code))) => redirect_code(&request, &code),
        Ok(Ok(None)) => {
            let accounts = if api.control.config().mode == Mode::Dev {
                api.control.sign_in_accounts().unwrap_or_default()
            } else {
                Vec::new()
            };
            sign_in_page(
                api.control.config().mode,
                &request,
                &accounts,
                Some("Wrong email or password. Try again."),
            )
        }
        Ok(Err(error)) => internal(&error),
        Err(_) => internal(&kumo_control::Error::internal("sign-in task failed")),
    }
}

/// `GET /v1/userinfo` and `/oauth2/v3/userinfo` with `Authorization: Bearer`.
pub async fn userinfo(State(api): State<Api>, headers: HeaderMap) -> Response {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match api.control.userinfo(header) {
        Ok(Some(body)) => no_store_json(StatusCode::OK, &body),
        Ok(None) => {
            let mut response = no_store_json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_request", "error_description": "Invalid Credentials"}),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
                ),
            );
            response
        }
        Err(error) => internal(&error),
    }
}

/// `GET /robot/v1/metadata/x509/{EMAIL}` (the `client_x509_cert_url` of Kumo's key files).
pub async fn service_account_x509(State(api): State<Api>, Path(email): Path<String>) -> Response {
    match api.control.service_account_x509(&email) {
        Ok(Some(body)) => public_json(&body),
        Ok(None) => not_found_account(&email),
        Err(error) => internal(&error),
    }
}

/// `GET /service_accounts/v1/metadata/jwk/{EMAIL}`.
pub async fn service_account_jwk(State(api): State<Api>, Path(email): Path<String>) -> Response {
    match api.control.service_account_jwks(&email) {
        Ok(Some(body)) => public_json(&body),
        Ok(None) => not_found_account(&email),
        Err(error) => internal(&error),
    }
}

fn not_found_account(email: &str) -> Response {
    crate::status::error_response(&kumo_control::Error::not_found(format!(
        "Service account {email} not found."
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn encodes_query_components() {
        assert_eq!(encode_component("4/a b+c&d"), "4%2Fa%20b%2Bc%26d");
    }

    #[test]
    fn token_fields_take_a_json_body_as_google_does() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let body =
            br#"{"grant_type":"refresh_token","client_id":"c","refresh_token":"1//r","n":3}"#;
        let fields = token_fields(None, &headers, body);
        assert_eq!(fields.get("grant_type"), Some("refresh_token"));
        assert_eq!(fields.get("refresh_token"), Some("1//r"));
        assert_eq!(fields.get("n"), Some("3"));
        // Without the JSON content type the body is a form, as before.
        let form_body = b"grant_type=refresh_token&refresh_token=1%2F%2Fr";
        let fields = token_fields(None, &HeaderMap::new(), form_body);
        assert_eq!(fields.get("refresh_token"), Some("1//r"));
    }
}
