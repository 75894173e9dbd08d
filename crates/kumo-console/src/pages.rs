//! The console's pages and form actions. Each handler gathers what it shows from Kumo's REST
//! API with the signed-in user's token and renders HTML; each action is one or two API calls.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Console;
use crate::client::ApiError;
use crate::html::{
    Crumb, Notice, Viewer, csrf_field, esc, notice, page, refreshing_page, url_component as enc,
};
use crate::session::{Session, constant_time_eq, cookie, csrf_ok, pkce_challenge};

/// The OAuth client the console signs in with: Kumo's built-in public client (loopback
/// redirects only, PKCE), the same one the CLI uses.
const CLIENT_ID: &str = "kumo-cli";
/// Public like gcloud's: a native client cannot keep a secret; PKCE protects the code.
const CLIENT_SECRET: &str = "kumo-cli-secret";
const SCOPES: &str = "openid email https://www.googleapis.com/auth/cloud-platform";
const INVOKER_ROLE: &str = "roles/run.invoker";
const REQUIRE_INVOKER_IAM: &str = "run.managed.requireInvokerIam";
/// Run v2 has no cross-region list (`locations/-` is refused), so the services page asks the
/// regions Kumo knows short codes for; `?region=` adds any other.
pub(crate) const REGIONS: [&str; 18] = [
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west1",
    "us-west2",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-north1",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-east1",
    "asia-southeast1",
    "australia-southeast1",
    "northamerica-northeast1",
    "southamerica-east1",
];
/// What the Security tab may do, asked with `:testIamPermissions` on the service.
const SERVICE_PERMISSIONS: [&str; 4] = [
    "run.services.get",
    "run.services.update",
    "run.services.getIamPolicy",
    "run.services.setIamPolicy",
];

/// How often a "live tail" page reloads itself.
pub(crate) const TAIL_SECONDS: u32 = 5;

const STYLESHEET: &str = include_str!("../assets/console.css");

pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

pub(crate) fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn session_cookie(name: &str, value: &str, max_age: Option<u32>) -> String {
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict{age}")
}

/// The signed-in session, its access token refreshed when it is about to expire. A failed
/// refresh (revoked, expired, user suspended) ends the session.
async fn current(console: &Console, headers: &HeaderMap) -> Option<(String, Session)> {
    let header = headers.get(header::COOKIE)?.to_str().ok()?;
    let id = cookie(header, &console.session_cookie)?.to_owned();
    let session = console.sessions.get(&id)?;
    if !session.needs_refresh() {
        return Some((id, session));
    }
    let refreshed = match &session.refresh_token {
        Some(refresh_token) => console
            .client
            .token(vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh_token.clone()),
                ("client_id", CLIENT_ID.to_owned()),
                ("client_secret", CLIENT_SECRET.to_owned()),
            ])
            .await
            .ok()
            .and_then(|answer| {
                let token = answer["access_token"].as_str()?.to_owned();
                Some((token, expires_in(&answer)))
            }),
        None => None,
    };
    match refreshed {
        Some((token, lifetime)) => {
            let session = console.sessions.set_token(&id, token, lifetime)?;
            Some((id, session))
        }
        None => {
            console.sessions.remove(&id);
            None
        }
    }
}

/// `expires_in` of a token answer (Kumo: 3599 s).
fn expires_in(answer: &Value) -> Duration {
    Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(3599))
}

pub(crate) fn viewer(session: &Session) -> Viewer<'_> {
    Viewer {
        email: &session.email,
        csrf: &session.csrf,
    }
}

/// An API refusal shown on a page; a 401 means the token is gone (expired or revoked).
pub(crate) fn api_error_page(
    session: &Session,
    title: &str,
    crumbs: &[Crumb],
    error: &ApiError,
) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut body = notice(Notice::Error, &error.message);
    if error.status == 401 {
        body.push_str("<p><a href=\"/console/signin\">Sign in again</a></p>");
    }
    html_response(status, page(title, Some(&viewer(session)), crumbs, &body))
}

/// The signed-in session, or the redirect to the sign-in page.
pub(crate) async fn signed_in(console: &Console, headers: &HeaderMap) -> Result<Session, Response> {
    current(console, headers)
        .await
        .map(|(_, session)| session)
        .ok_or_else(|| redirect("/console"))
}

/// The session of a state-changing form: signed in, and the form carries its CSRF token.
pub(crate) async fn form_session(
    console: &Console,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Session, Response> {
    let Some((_, session)) = current(console, headers).await else {
        return Err(signed_out());
    };
    if !csrf_ok(&session, form.get("csrf_token").map(String::as_str)) {
        return Err(csrf_refused());
    }
    Ok(session)
}

fn signed_out() -> Response {
    html_response(
        StatusCode::UNAUTHORIZED,
        page(
            "Signed out",
            None,
            &[],
            "<p>Your session ended. <a href=\"/console\">Sign in</a></p>",
        ),
    )
}

/// A 200 page for the signed-in viewer.
pub(crate) fn ok_page(session: &Session, title: &str, crumbs: &[Crumb], body: &str) -> Response {
    html_response(
        StatusCode::OK,
        page(title, Some(&viewer(session)), crumbs, body),
    )
}

/// Which of `permissions` the viewer holds on the resource at `api_path` (its
/// `:testIamPermissions`). An unanswered question grants nothing: the action is shown disabled,
/// and the server decides anyway.
pub(crate) async fn granted(
    console: &Console,
    token: &str,
    api_path: &str,
    permissions: &[&str],
) -> Vec<String> {
    console
        .client
        .call(
            token,
            "POST",
            &format!("{api_path}:testIamPermissions"),
            Some(json!({"permissions": permissions})),
        )
        .await
        .map(|answer| {
            answer["permissions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The reason an action is disabled when `permission` is not among `granted`.
pub(crate) fn missing(granted: &[String], permission: &str, on: &str) -> Option<String> {
    (!granted.iter().any(|p| p == permission))
        .then(|| format!("You need the permission {permission} on {on}."))
}

/// The project's sections, on every project page.
pub(crate) fn project_nav(project: &str, current: &str) -> String {
    let p = enc(project);
    let links = [
        ("Services", format!("/console/projects/{p}/services")),
        ("Jobs", format!("/console/projects/{p}/jobs")),
        ("IAM", format!("/console/projects/{p}/iam")),
        (
            "Service accounts",
            format!("/console/projects/{p}/serviceAccounts"),
        ),
        ("Roles", format!("/console/projects/{p}/roles")),
        (
            "Organization policies",
            format!("/console/projects/{p}/policies"),
        ),
        (
            "Policy Troubleshooter",
            format!("/console/projects/{p}/troubleshoot"),
        ),
        ("Audit log", format!("/console/projects/{p}/audit")),
    ];
    let mut out = String::from("<nav aria-label=\"Project\" class=\"tabs project\"><ul>");
    for (label, href) in links {
        let current = if label == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li><a href=\"{}\"{current}>{}</a></li>",
            esc(&href),
            esc(label)
        );
    }
    out.push_str("</ul></nav>");
    out
}

/// A `?done=` code's message, from the page's own table.
pub(crate) fn done_notice(query: &HashMap<String, String>, messages: &[(&str, &str)]) -> String {
    query
        .get("done")
        .and_then(|code| messages.iter().find(|(c, _)| c == code))
        .map(|(_, text)| notice(Notice::Info, text))
        .unwrap_or_default()
}

pub async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

// ---- sign-in -------------------------------------------------------------------------------

/// Signed out: the sign-in page. Signed in: the project picker.
pub async fn home(State(console): State<Console>, headers: HeaderMap) -> Response {
    let Some((_, session)) = current(&console, &headers).await else {
        let body = format!(
            "<p>Sign in with your Kumo account to see and change who can do what.</p>\
             <p><a class=\"button\" href=\"{}/console/signin\">Sign in</a></p>",
            esc(console.client.base())
        );
        return html_response(StatusCode::OK, page("Sign in", None, &[], &body));
    };
    let title = "Select a project";
    let projects = match console
        .client
        .call(&session.access_token, "GET", "/v3/projects:search", None)
        .await
    {
        Ok(answer) => answer,
        Err(error) => return api_error_page(&session, title, &[], &error),
    };
    let list = projects["projects"].as_array().cloned().unwrap_or_default();
    let mut body = String::new();
    if list.is_empty() {
        body.push_str("<p>You cannot see any project. Ask an administrator for a role on one.</p>");
    } else {
        body.push_str("<ul class=\"projects\">");
        for project in &list {
            let id = str_of(project, "projectId");
            let _ = write!(
                body,
                "<li><a href=\"/console/projects/{}/services\">{}</a> <span class=\"muted\">{} · {}</span></li>",
                enc(id),
                esc(id),
                esc(str_of(project, "displayName")),
                esc(str_of(project, "name"))
            );
        }
        body.push_str("</ul>");
    }
    for (path, key, label) in [
        ("/v3/folders:search", "folders", "Folders"),
        ("/v3/organizations:search", "organizations", "Organizations"),
    ] {
        let found = console
            .client
            .call(&session.access_token, "GET", path, None)
            .await
            .map(|answer| answer[key].as_array().cloned().unwrap_or_default())
            .unwrap_or_default();
        if found.is_empty() {
            continue;
        }
        let _ = write!(body, "<h2>{label}</h2><ul class=\"projects\">");
        for container in &found {
            let name = str_of(container, "name");
            let _ = write!(
                body,
                "<li>{} <span class=\"muted\">{}</span> · <a href=\"/console/{}/iam\">IAM</a> · \
                 <a href=\"/console/{}/policies\">Organization policies</a></li>",
                esc(name),
                esc(str_of(container, "displayName")),
                esc(name),
                esc(name),
            );
        }
        body.push_str("</ul>");
    }
    html_response(
        StatusCode::OK,
        page(title, Some(&viewer(&session)), &[], &body),
    )
}

/// Starts the authorization-code flow with PKCE. The state is bound to this browser by a
/// short-lived cookie, so a code obtained elsewhere cannot be planted (login CSRF).
pub async fn sign_in(State(console): State<Console>, headers: HeaderMap) -> Response {
    // The redirect URI names the API's host; the cookie must be set on that same host.
    let base = console.client.base();
    let authority = base.split("://").nth(1).unwrap_or(base);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if host != authority {
        return redirect(&format!("{base}/console/signin"));
    }
    let (state, verifier) = console.sessions.begin_login();
    let location = format!(
        "/o/oauth2/v2/auth?client_id={}&redirect_uri={}&response_type=code&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
        enc(CLIENT_ID),
        enc(&callback_uri(base)),
        enc(SCOPES),
        enc(&state),
        enc(&pkce_challenge(&verifier)),
    );
    with_cookie(
        redirect(&location),
        &session_cookie(&console.login_cookie, &state, Some(600)),
    )
}

fn callback_uri(base: &str) -> String {
    format!("{base}/console/oauth2callback")
}

/// The OAuth redirect target: checks state, exchanges the code (with the PKCE verifier) at
/// `/token`, learns the email from tokeninfo and opens a session.
pub async fn oauth_callback(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fail = |status: StatusCode, message: &str| {
        let body = format!(
            "{}<p><a href=\"/console\">Try again</a></p>",
            notice(Notice::Error, message)
        );
        html_response(status, page("Sign-in failed", None, &[], &body))
    };
    if let Some(error) = query.get("error") {
        return fail(
            StatusCode::BAD_REQUEST,
            &format!("The sign-in was refused: {error}"),
        );
    }
    let (Some(code), Some(state)) = (query.get("code"), query.get("state")) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "The sign-in answer has no code or state.",
        );
    };
    let bound = headers
        .get(header::COOKIE)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| cookie(h, &console.login_cookie))
        .is_some_and(|c| constant_time_eq(c, state));
    let verifier = console.sessions.finish_login(state);
    let (true, Some(verifier)) = (bound, verifier) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "This sign-in was not started in this browser, or it expired.",
        );
    };
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.clone()),
        ("redirect_uri", callback_uri(console.client.base())),
        ("client_id", CLIENT_ID.to_owned()),
        ("code_verifier", verifier),
    ];
    let token = match console.client.token(form).await {
        Ok(answer) => answer,
        Err(error) => return fail(StatusCode::BAD_REQUEST, &error.message),
    };
    let Some(access_token) = token["access_token"].as_str().map(str::to_owned) else {
        return fail(
            StatusCode::BAD_GATEWAY,
            "The token answer has no access token.",
        );
    };
    let email = match console.client.tokeninfo(&access_token).await {
        Ok(info) => str_of(&info, "email").to_owned(),
        Err(error) => return fail(StatusCode::BAD_GATEWAY, &error.message),
    };
    let refresh_token = token["refresh_token"].as_str().map(str::to_owned);
    let id = console
        .sessions
        .create(email, access_token, refresh_token, expires_in(&token));
    let response = with_cookie(
        redirect("/console"),
        &session_cookie(&console.session_cookie, &id, None),
    );
    with_cookie(
        response,
        &session_cookie(&console.login_cookie, "", Some(0)),
    )
}

pub async fn sign_out(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some((id, session)) = current(&console, &headers).await {
        if !csrf_ok(&session, form.get("csrf_token").map(String::as_str)) {
            return csrf_refused();
        }
        console.sessions.remove(&id);
        // Best effort: the session is gone either way. Revoking the refresh token ends its
        // whole family, access tokens included.
        let token = session
            .refresh_token
            .as_ref()
            .unwrap_or(&session.access_token);
        let _ = console.client.revoke(token).await;
    }
    with_cookie(
        redirect("/console"),
        &session_cookie(&console.session_cookie, "", Some(0)),
    )
}

pub(crate) fn csrf_refused() -> Response {
    html_response(
        StatusCode::FORBIDDEN,
        page(
            "Request refused",
            None,
            &[],
            &notice(
                Notice::Error,
                "The form's security token is missing or wrong. Reload the page and try again.",
            ),
        ),
    )
}

// ---- services ------------------------------------------------------------------------------

pub(crate) fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

pub(crate) fn project_crumbs(project: &str) -> Vec<Crumb> {
    vec![
        ("Projects".to_owned(), "/console".to_owned()),
        (
            project.to_owned(),
            format!("/console/projects/{}/services", enc(project)),
        ),
    ]
}

/// Members of `role` in an IAM policy (unconditional bindings only).
pub(crate) fn members_of<'a>(policy: &'a Value, role: &str) -> Vec<&'a str> {
    policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["role"] == role && b["condition"].is_null())
        .flat_map(|b| b["members"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect()
}

/// The authentication state at a glance, as the Services list shows it.
fn auth_badges(service: &Value, policy: Option<&Value>) -> Vec<&'static str> {
    let mut badges = Vec::new();
    if service["invokerIamDisabled"].as_bool() == Some(true) {
        badges.push("IAM check disabled");
    } else {
        match policy {
            Some(policy) if members_of(policy, INVOKER_ROLE).contains(&"allUsers") => {
                badges.push("Allow public access");
            }
            Some(_) => badges.push("Require authentication"),
            None => badges.push("Unknown (no permission to read the IAM policy)"),
        }
    }
    if service["iapEnabled"].as_bool() == Some(true) {
        badges.push("IAP on");
    }
    badges
}

fn badge_html(badges: &[&str]) -> String {
    badges
        .iter()
        .map(|b| format!("<span class=\"badge\">{}</span>", esc(b)))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn service_path(project: &str, location: &str, service: &str) -> String {
    format!(
        "/v2/projects/{}/locations/{}/services/{}",
        enc(project),
        enc(location),
        enc(service)
    )
}

pub(crate) fn console_service_path(project: &str, location: &str, service: &str) -> String {
    format!(
        "/console/projects/{}/locations/{}/services/{}",
        enc(project),
        enc(location),
        enc(service)
    )
}

pub async fn services(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = current(&console, &headers).await else {
        return redirect("/console");
    };
    let token = &session.access_token;
    let title = "Cloud Run services";
    let crumbs = project_crumbs(&project);
    let mut regions: Vec<String> = REGIONS.iter().map(|r| (*r).to_owned()).collect();
    if let Some(extra) = query
        .get("region")
        .filter(|r| !r.is_empty() && !regions.contains(r))
    {
        regions.push(extra.clone());
    }
    let mut found = Vec::new();
    for region in &regions {
        let path = format!(
            "/v2/projects/{}/locations/{}/services",
            enc(&project),
            enc(region)
        );
        match console.client.call(token, "GET", &path, None).await {
            Ok(answer) => found.extend(answer["services"].as_array().cloned().unwrap_or_default()),
            Err(error) => return api_error_page(&session, title, &crumbs, &error),
        }
    }
    let mut body = query
        .get("done")
        .and_then(|code| done_message(code))
        .map(|text| notice(Notice::Info, text))
        .unwrap_or_default();
    body.insert_str(0, &project_nav(&project, "Services"));
    if found.is_empty() {
        body.push_str("<p>No services in this project.</p>");
    } else {
        body.push_str(
            "<table class=\"services\"><caption>Services</caption><thead><tr><th scope=\"col\">Name</th>\
             <th scope=\"col\">Region</th><th scope=\"col\">URL</th><th scope=\"col\">Last deployed</th>\
             <th scope=\"col\">Deployed by</th><th scope=\"col\">Authentication</th><th scope=\"col\">Access</th></tr></thead><tbody>",
        );
        for service in &found {
            let name = str_of(service, "name");
            let parts: Vec<&str> = name.split('/').collect();
            let (location, id) = match parts.as_slice() {
                [_, _, _, location, _, id] => (*location, *id),
                _ => continue,
            };
            let policy = console
                .client
                .call(
                    token,
                    "GET",
                    &format!("{}:getIamPolicy", service_path(&project, location, id)),
                    None,
                )
                .await
                .ok();
            let can_set = console
                .client
                .call(
                    token,
                    "POST",
                    &format!(
                        "{}:testIamPermissions",
                        service_path(&project, location, id)
                    ),
                    Some(json!({"permissions": ["run.services.setIamPolicy"]})),
                )
                .await
                .is_ok_and(|answer| {
                    answer["permissions"]
                        .as_array()
                        .is_some_and(|p| !p.is_empty())
                });
            let access =
                list_access_form(&session, &project, location, id, policy.as_ref(), can_set);
            let _ = write!(
                body,
                "<tr data-service=\"{}\"><th scope=\"row\"><a href=\"{}\">{}</a></th><td>{}</td><td><a href=\"{}\">{}</a></td>\
                 <td>{}</td><td>{}</td><td class=\"auth\">{}</td><td>{access}</td></tr>",
                esc(id),
                esc(&console_service_path(&project, location, id)),
                esc(id),
                esc(location),
                esc(str_of(service, "uri")),
                esc(str_of(service, "uri")),
                esc(str_of(service, "updateTime")),
                esc(str_of(service, "lastModifier")),
                badge_html(&auth_badges(service, policy.as_ref()))
            );
        }
        body.push_str("</tbody></table>");
    }
    html_response(
        StatusCode::OK,
        page(title, Some(&viewer(&session)), &crumbs, &body),
    )
}

/// Seed 000's "from the services list" procedure: one button that adds or removes allUsers'
/// invoker binding, disabled (with the reason) without `run.services.setIamPolicy`.
fn list_access_form(
    session: &Session,
    project: &str,
    location: &str,
    id: &str,
    policy: Option<&Value>,
    can_set: bool,
) -> String {
    let Some(policy) = policy else {
        return String::new();
    };
    let public = members_of(policy, INVOKER_ROLE).contains(&"allUsers");
    let (value, label) = if public {
        ("require", "Require authentication")
    } else {
        ("public", "Allow public access")
    };
    let reason_id = format!("list-reason-{}", enc(id));
    let (disabled, reason) = if can_set {
        (String::new(), String::new())
    } else {
        (
            format!(" disabled aria-describedby=\"{}\"", esc(&reason_id)),
            format!(
                "<span class=\"muted\" id=\"{}\">Needs run.services.setIamPolicy</span>",
                esc(&reason_id)
            ),
        )
    };
    format!(
        "<form method=\"post\" action=\"{}/authentication\">{}<input type=\"hidden\" name=\"access\" value=\"{value}\">\
         <input type=\"hidden\" name=\"return_to\" value=\"list\">\
         <button type=\"submit\" aria-label=\"{label}: {}\"{disabled}>{label}</button>{reason}</form>",
        esc(&console_service_path(project, location, id)),
        csrf_field(&session.csrf),
        esc(id),
    )
}

// ---- service detail: Security tab ----------------------------------------------------------

struct ServiceView {
    service: Value,
    policy: Result<Value, ApiError>,
    allowed: Vec<String>,
    /// `Ok(true)`: `run.managed.requireInvokerIam` is enforced on the project (set there or
    /// inherited).
    require_invoker_iam: Result<bool, ApiError>,
    /// The project's allow policy: its grants reach the service by inheritance.
    project_policy: Result<Value, ApiError>,
}

async fn load_service(
    console: &Console,
    token: &str,
    project: &str,
    location: &str,
    id: &str,
) -> Result<ServiceView, ApiError> {
    let path = service_path(project, location, id);
    let service = console.client.call(token, "GET", &path, None).await?;
    let policy = console
        .client
        .call(
            token,
            "GET",
            &format!("{path}:getIamPolicy?options.requestedPolicyVersion=3"),
            None,
        )
        .await;
    let allowed = console
        .client
        .call(
            token,
            "POST",
            &format!("{path}:testIamPermissions"),
            Some(json!({"permissions": SERVICE_PERMISSIONS})),
        )
        .await
        .map(|answer| {
            answer["permissions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let effective = console
        .client
        .call(
            token,
            "GET",
            &format!(
                "/v2/projects/{}/policies/{REQUIRE_INVOKER_IAM}:getEffectivePolicy",
                enc(project)
            ),
            None,
        )
        .await
        .map(|policy| boolean_enforced(&policy));
    let project_policy = console
        .client
        .call(
            token,
            "POST",
            &format!("/v3/projects/{}:getIamPolicy", enc(project)),
            Some(json!({"options": {"requestedPolicyVersion": 3}})),
        )
        .await;
    Ok(ServiceView {
        service,
        policy,
        allowed,
        require_invoker_iam: effective,
        project_policy,
    })
}

/// A boolean constraint's effective policy is enforced when a rule says `enforce: true`.
pub(crate) fn boolean_enforced(policy: &Value) -> bool {
    policy["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|rule| rule["enforce"].as_bool() == Some(true))
}

fn lacks(view: &ServiceView, permission: &str) -> Option<String> {
    (!view.allowed.iter().any(|p| p == permission))
        .then(|| format!("You need the permission {permission} on this service."))
}

fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "public" => "The service now allows public access (allUsers has roles/run.invoker).",
        "require" => "The service now requires authentication.",
        "iam-check-on" => "Cloud IAM now authenticates incoming requests.",
        "iam-check-off" => "The invoker IAM check is disabled: anyone can call the service.",
        "iap-on" => "Identity-Aware Proxy is on.",
        "iap-off" => "Identity-Aware Proxy is off.",
        "binding-added" => "The binding was added.",
        "binding-removed" => "The binding was removed.",
        _ => return None,
    })
}

pub(crate) fn service_tabs(base: &str, current: &str) -> String {
    let tab = |label: &str, href: String| {
        if label == current {
            format!(
                "<li><a href=\"{}\" aria-current=\"page\">{}</a></li>",
                esc(&href),
                esc(label)
            )
        } else {
            format!("<li><a href=\"{}\">{}</a></li>", esc(&href), esc(label))
        }
    };
    format!(
        "<nav aria-label=\"Service\" class=\"tabs\"><ul>{}{}{}</ul></nav>",
        tab("Security", base.to_owned()),
        tab("Revisions", format!("{base}/revisions")),
        tab("Logs", format!("{base}/logs"))
    )
}

/// A `disabled` attribute and the visible reason when `reason` is set.
pub(crate) fn disabled_with(reason: Option<&str>, id: &str) -> (String, String) {
    match reason {
        Some(text) => (
            format!(" disabled aria-describedby=\"{id}\""),
            format!("<p class=\"reason\" id=\"{id}\">{}</p>", esc(text)),
        ),
        None => (String::new(), String::new()),
    }
}

fn render_security(
    session: &Session,
    project: &str,
    location: &str,
    id: &str,
    view: &ServiceView,
    message: Option<(Notice, &str)>,
) -> String {
    let base = console_service_path(project, location, id);
    let csrf = csrf_field(&session.csrf);
    let service = &view.service;
    let mut body = String::new();
    if let Some((kind, text)) = message {
        body.push_str(&notice(kind, text));
    }
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>URL</dt><dd>{}</dd><dt>Region</dt><dd>{}</dd><dt>Service account</dt><dd>{}</dd>\
         <dt>Ingress</dt><dd>{}</dd><dt>Last deployed by</dt><dd>{} ({})</dd><dt>Traffic</dt><dd>{}</dd>\
         <dt>Custom audiences</dt><dd>{}</dd></dl>",
        esc(str_of(service, "uri")),
        esc(location),
        esc(service["template"]["serviceAccount"]
            .as_str()
            .unwrap_or("default compute service account")),
        esc(str_of(service, "ingress")),
        esc(str_of(service, "lastModifier")),
        esc(str_of(service, "updateTime")),
        esc(&traffic_summary(service)),
        esc(&service["customAudiences"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "none".to_owned())),
    );
    body.push_str(&service_tabs(&base, "Security"));

    // Authentication: public via allUsers, or require authentication.
    let public = view
        .policy
        .as_ref()
        .is_ok_and(|policy| members_of(policy, INVOKER_ROLE).contains(&"allUsers"));
    let set_reason = lacks(view, "run.services.setIamPolicy").or_else(|| {
        view.policy
            .as_ref()
            .err()
            .map(|e| format!("The IAM policy cannot be read: {}", e.message))
    });
    let (dis, why) = disabled_with(set_reason.as_deref(), "auth-reason");
    let checked = |on: bool| if on { " checked" } else { "" };
    let _ = write!(
        body,
        "<section aria-labelledby=\"auth-h\"><h2 id=\"auth-h\">Authentication</h2>\
         <form method=\"post\" action=\"{}/authentication\">{csrf}<fieldset{dis}><legend>Who can call this service</legend>\
         <div><input type=\"radio\" id=\"auth-public\" name=\"access\" value=\"public\"{}>\
         <label for=\"auth-public\">Allow public access</label>\
         <p class=\"hint\">Grants {INVOKER_ROLE} to allUsers: no credentials needed.</p></div>\
         <div><input type=\"radio\" id=\"auth-require\" name=\"access\" value=\"require\"{}>\
         <label for=\"auth-require\">Require authentication</label>\
         <p class=\"hint\">Callers need a token of a principal with {INVOKER_ROLE}.</p></div>\
         <button type=\"submit\">Save authentication</button></fieldset>{why}</form>",
        esc(&base),
        checked(public),
        checked(!public),
    );

    // The invoker IAM check, greyed when an org policy requires it.
    let iam_on = service["invokerIamDisabled"].as_bool() != Some(true);
    let policy_link = format!(
        "/console/projects/{}/policies/{REQUIRE_INVOKER_IAM}",
        enc(project)
    );
    let (check_reason, check_link) = match &view.require_invoker_iam {
        Ok(true) => (
            Some(format!(
                "The organization policy constraint {REQUIRE_INVOKER_IAM} (Require IAM invoker check for Cloud Run services) \
                 is enforced on this project, possibly inherited from its folder or organization: the IAM check cannot be disabled."
            )),
            true,
        ),
        Ok(false) => (lacks(view, "run.services.update"), false),
        // Unknown (the viewer may not read org policies): leave it to the server, which
        // refuses a change the policy forbids.
        Err(_) => (lacks(view, "run.services.update"), false),
    };
    let (dis, mut why) = disabled_with(check_reason.as_deref(), "iam-check-reason");
    if check_link {
        why = why.replacen(
            "</p>",
            &format!(" <a href=\"{}\">View the policy</a></p>", esc(&policy_link)),
            1,
        );
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}/iam-check\">{csrf}<fieldset{dis}><legend>Invoker IAM check</legend>\
         <div><input type=\"checkbox\" id=\"iam-check\" name=\"iam_check\" value=\"on\"{}>\
         <label for=\"iam-check\">Use Cloud IAM to authenticate incoming requests</label>\
         <p class=\"hint\">Unchecked: anyone can call the service, no IAM binding needed (invokerIamDisabled).</p></div>\
         <button type=\"submit\">Save IAM check</button></fieldset>{why}</form>",
        esc(&base),
        checked(iam_on),
    );

    let iap_on = service["iapEnabled"].as_bool() == Some(true);
    let (dis, why) = disabled_with(lacks(view, "run.services.update").as_deref(), "iap-reason");
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}/iap\">{csrf}<fieldset{dis}><legend>Identity-Aware Proxy</legend>\
         <div><input type=\"checkbox\" id=\"iap\" name=\"iap\" value=\"on\"{}>\
         <label for=\"iap\">Identity-Aware Proxy (IAP)</label>\
         <p class=\"hint\">Users sign in; IAP checks roles/iap.httpsResourceAccessor before Cloud Run sees the request.</p></div>\
         <button type=\"submit\">Save IAP</button></fieldset>{why}</form></section>",
        esc(&base),
        checked(iap_on),
    );

    body.push_str(&render_permissions(&base, &csrf, view));

    let resource =
        format!("//run.googleapis.com/projects/{project}/locations/{location}/services/{id}");
    let _ = write!(
        body,
        "<section aria-labelledby=\"why-h\"><h2 id=\"why-h\">Why can or can't a principal invoke this service?</h2>\
         <form method=\"get\" action=\"/console/projects/{}/troubleshoot\">\
         <input type=\"hidden\" name=\"resource\" value=\"{}\">\
         <label for=\"why-principal\">Principal (email)</label> <input id=\"why-principal\" name=\"principal\" required placeholder=\"bob@example.com\">\
         <label for=\"why-permission\">Permission</label> <input id=\"why-permission\" name=\"permission\" value=\"run.routes.invoke\" required>\
         <button type=\"submit\">Explain</button></form></section>",
        enc(project),
        esc(&resource),
    );
    body
}

/// Where requests go, from the service's observed `trafficStatuses`.
fn traffic_summary(service: &Value) -> String {
    let latest = service["latestReadyRevision"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or("none ready");
    let parts: Vec<String> = service["trafficStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let percent = t["percent"].as_i64().unwrap_or(0);
            match t["revision"].as_str() {
                Some(revision) if !revision.is_empty() => format!("{percent}% → {revision}"),
                _ => format!("{percent}% → latest ({latest})"),
            }
        })
        .collect();
    if parts.is_empty() {
        "no traffic".to_owned()
    } else {
        parts.join(", ")
    }
}

fn render_permissions(base: &str, csrf: &str, view: &ServiceView) -> String {
    let mut body =
        String::from("<section aria-labelledby=\"perm-h\"><h2 id=\"perm-h\">Permissions</h2>");
    let policy = match &view.policy {
        Ok(policy) => policy,
        Err(error) => {
            body.push_str(&notice(
                Notice::Error,
                &format!("The IAM policy cannot be read: {}", error.message),
            ));
            body.push_str("</section>");
            return body;
        }
    };
    let set_reason = lacks(view, "run.services.setIamPolicy");
    let dis = if set_reason.is_some() {
        " disabled"
    } else {
        ""
    };
    // (member, (condition title, condition expression)) per role.
    type Member<'a> = (&'a str, Option<(&'a str, &'a str)>);
    let mut by_role: BTreeMap<&str, Vec<Member<'_>>> = BTreeMap::new();
    for binding in policy["bindings"].as_array().into_iter().flatten() {
        let condition = binding["condition"].is_object().then(|| {
            (
                str_of(&binding["condition"], "title"),
                str_of(&binding["condition"], "expression"),
            )
        });
        for member in binding["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            by_role
                .entry(str_of(binding, "role"))
                .or_default()
                .push((member, condition));
        }
    }
    if by_role.is_empty() {
        body.push_str("<p>No principal has a role on this service itself (project-level grants still apply).</p>");
    } else {
        body.push_str(
            "<table class=\"bindings\"><caption>Principals by role on this service</caption><thead><tr>\
             <th scope=\"col\">Role</th><th scope=\"col\">Principal</th><th scope=\"col\">Condition</th><th scope=\"col\">Action</th></tr></thead><tbody>",
        );
        for (role, members) in &by_role {
            for (member, condition) in members {
                let (title, expression) = condition.unwrap_or(("", ""));
                let named = if title.is_empty() { expression } else { title };
                let action = format!(
                    "<form method=\"post\" action=\"{}/remove-binding\">{csrf}\
                     <input type=\"hidden\" name=\"role\" value=\"{}\"><input type=\"hidden\" name=\"member\" value=\"{}\">\
                     <input type=\"hidden\" name=\"condition_title\" value=\"{}\"><input type=\"hidden\" name=\"condition_expression\" value=\"{}\">\
                     <button type=\"submit\"{dis} aria-label=\"Remove {} from {}{}\">Remove</button></form>",
                    esc(base),
                    esc(role),
                    esc(member),
                    esc(title),
                    esc(expression),
                    esc(member),
                    esc(role),
                    if condition.is_some() {
                        format!(" (condition {})", esc(named))
                    } else {
                        String::new()
                    },
                );
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                    esc(role),
                    esc(member),
                    esc(&match condition {
                        Some((title, expression)) if !title.is_empty() => {
                            format!("{title}: {expression}")
                        }
                        Some((_, expression)) => (*expression).to_owned(),
                        None => String::new(),
                    }),
                );
            }
        }
        body.push_str("</tbody></table>");
    }
    let (dis_attr, why) = disabled_with(set_reason.as_deref(), "perm-reason");
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}/add-binding\">{csrf}<fieldset{dis_attr}><legend>Add a principal</legend>\
         <label for=\"add-member\">Principal</label> <input id=\"add-member\" name=\"member\" required placeholder=\"user:bob@example.com\">\
         <label for=\"add-role\">Role</label> <input id=\"add-role\" name=\"role\" value=\"{INVOKER_ROLE}\" required>\
         <div><label for=\"add-cond-title\">Condition title</label> <input id=\"add-cond-title\" name=\"condition_title\"> \
         <label for=\"add-cond-expr\">Condition expression (CEL, optional)</label> <input id=\"add-cond-expr\" name=\"condition_expression\" size=\"50\"></div>\
         <button type=\"submit\">Add</button></fieldset>{why}</form></section>",
        esc(base),
    );
    let project_iam = format!(
        "{}/iam",
        base.split("/locations/").next().unwrap_or_default()
    );
    body.push_str(&render_inherited(view, &project_iam));
    body
}

/// The project's grants, which every service in it inherits. Which of them carry a given
/// permission is the troubleshooter's question (below), not guessed here.
fn render_inherited(view: &ServiceView, project_iam: &str) -> String {
    let mut body = format!(
        "<section aria-labelledby=\"inherited-h\"><h2 id=\"inherited-h\">Inherited from the project</h2>\
         <p><a href=\"{}\">Edit the project's IAM policy</a></p>",
        esc(project_iam)
    );
    match &view.project_policy {
        Ok(policy) => {
            body.push_str(
                "<table class=\"bindings\"><caption>Project grants (edit them on the project)</caption><thead><tr>\
                 <th scope=\"col\">Role</th><th scope=\"col\">Principals</th><th scope=\"col\">Condition</th></tr></thead><tbody>",
            );
            for binding in policy["bindings"].as_array().into_iter().flatten() {
                let members: Vec<&str> = binding["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(str_of(binding, "role")),
                    esc(&members.join(", ")),
                    esc(binding["condition"]["title"]
                        .as_str()
                        .or_else(|| binding["condition"]["expression"].as_str())
                        .unwrap_or_default()),
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(error) => {
            let _ = write!(
                body,
                "<p class=\"muted\">The project's IAM policy cannot be shown: {}</p>",
                esc(&error.message)
            );
        }
    }
    body.push_str("</section>");
    body
}

pub async fn service_security(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, location, id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = current(&console, &headers).await else {
        return redirect("/console");
    };
    let crumbs = service_crumbs(&project, &location, &id);
    let view = match load_service(&console, &session.access_token, &project, &location, &id).await {
        Ok(view) => view,
        Err(error) => return api_error_page(&session, &id, &crumbs, &error),
    };
    let message = query
        .get("done")
        .and_then(|code| done_message(code))
        .map(|text| (Notice::Info, text));
    let body = render_security(&session, &project, &location, &id, &view, message);
    html_response(
        StatusCode::OK,
        page(&id, Some(&viewer(&session)), &crumbs, &body),
    )
}

pub(crate) fn service_crumbs(project: &str, location: &str, id: &str) -> Vec<Crumb> {
    let mut crumbs = project_crumbs(project);
    crumbs.push((id.to_owned(), console_service_path(project, location, id)));
    crumbs
}

pub async fn service_action(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, location, id, action)): Path<(String, String, String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = current(&console, &headers).await else {
        return html_response(
            StatusCode::UNAUTHORIZED,
            page(
                "Signed out",
                None,
                &[],
                "<p>Your session ended. <a href=\"/console\">Sign in</a></p>",
            ),
        );
    };
    if !csrf_ok(&session, form.get("csrf_token").map(String::as_str)) {
        return csrf_refused();
    }
    let token = &session.access_token;
    let path = service_path(&project, &location, &id);
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let outcome: Result<&'static str, ApiError> = match action.as_str() {
        "authentication" => {
            let public = match field("access").as_str() {
                "public" => true,
                "require" => false,
                _ => {
                    return bad_form(
                        &session,
                        &project,
                        &location,
                        &id,
                        "Choose an authentication option.",
                    );
                }
            };
            change_binding(
                &console,
                token,
                &path,
                INVOKER_ROLE,
                "allUsers",
                None,
                public,
            )
            .await
            .map(|()| if public { "public" } else { "require" })
        }
        "add-binding" | "remove-binding" => {
            let (role, member) = (field("role"), field("member"));
            if role.is_empty() || member.is_empty() {
                return bad_form(
                    &session,
                    &project,
                    &location,
                    &id,
                    "Give both a principal and a role.",
                );
            }
            let (title, expression) = (field("condition_title"), field("condition_expression"));
            if expression.is_empty() && !title.is_empty() {
                return bad_form(
                    &session,
                    &project,
                    &location,
                    &id,
                    "A condition needs an expression; its title alone is not a condition.",
                );
            }
            let condition =
                (!expression.is_empty()).then(|| json!({"title": title, "expression": expression}));
            let add = action == "add-binding";
            change_binding(
                &console,
                token,
                &path,
                &role,
                &member,
                condition.as_ref(),
                add,
            )
            .await
            .map(|()| {
                if add {
                    "binding-added"
                } else {
                    "binding-removed"
                }
            })
        }
        "iam-check" => {
            let on = field("iam_check") == "on";
            patch_service(&console, token, &path, "invokerIamDisabled", !on)
                .await
                .map(|()| if on { "iam-check-on" } else { "iam-check-off" })
        }
        "iap" => {
            let on = field("iap") == "on";
            patch_service(&console, token, &path, "iapEnabled", on)
                .await
                .map(|()| if on { "iap-on" } else { "iap-off" })
        }
        _ => return bad_form(&session, &project, &location, &id, "Unknown action."),
    };
    match outcome {
        Ok(done) if field("return_to") == "list" => redirect(&format!(
            "/console/projects/{}/services?done={done}",
            enc(&project)
        )),
        Ok(done) => redirect(&format!(
            "{}?done={done}",
            console_service_path(&project, &location, &id)
        )),
        Err(error) => {
            // Show the refusal on the page itself, with the API's status.
            let crumbs = service_crumbs(&project, &location, &id);
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY);
            match load_service(&console, token, &project, &location, &id).await {
                Ok(view) => {
                    let body = render_security(
                        &session,
                        &project,
                        &location,
                        &id,
                        &view,
                        Some((Notice::Error, &error.message)),
                    );
                    html_response(status, page(&id, Some(&viewer(&session)), &crumbs, &body))
                }
                Err(_) => api_error_page(&session, &id, &crumbs, &error),
            }
        }
    }
}

fn bad_form(session: &Session, project: &str, location: &str, id: &str, message: &str) -> Response {
    let crumbs = service_crumbs(project, location, id);
    let body = format!(
        "{}<p><a href=\"{}\">Back</a></p>",
        notice(Notice::Error, message),
        esc(&console_service_path(project, location, id))
    );
    html_response(
        StatusCode::BAD_REQUEST,
        page(id, Some(&viewer(session)), &crumbs, &body),
    )
}

/// Read-modify-write of the service's IAM policy; the etag makes a concurrent change fail
/// instead of being overwritten.
async fn change_binding(
    console: &Console,
    token: &str,
    path: &str,
    role: &str,
    member: &str,
    condition: Option<&Value>,
    add: bool,
) -> Result<(), ApiError> {
    let mut policy = console
        .client
        .call(
            token,
            "GET",
            &format!("{path}:getIamPolicy?options.requestedPolicyVersion=3"),
            None,
        )
        .await?;
    if !crate::iam::edit_binding(&mut policy, role, member, condition, add) {
        return Ok(());
    }
    console
        .client
        .call(
            token,
            "POST",
            &format!("{path}:setIamPolicy"),
            Some(json!({"policy": policy})),
        )
        .await
        .map(|_| ())
}

/// Run v2 `UpdateService` takes the whole service: read it, flip one field, send it back.
async fn patch_service(
    console: &Console,
    token: &str,
    path: &str,
    field: &str,
    value: bool,
) -> Result<(), ApiError> {
    let mut service = console.client.call(token, "GET", path, None).await?;
    service[field] = json!(value);
    console
        .client
        .call(token, "PATCH", path, Some(service))
        .await
        .map(|_| ())
}

// ---- organization policy, troubleshooter, logs ---------------------------------------------

pub async fn org_policy(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, constraint)): Path<(String, String)>,
) -> Response {
    let Some((_, session)) = current(&console, &headers).await else {
        return redirect("/console");
    };
    let token = &session.access_token;
    let title = format!("Organization policy {constraint}");
    let mut crumbs = project_crumbs(&project);
    crumbs.push((
        "Organization policies".to_owned(),
        format!("/console/projects/{}/policies", enc(&project)),
    ));
    crumbs.push((constraint.clone(), String::new()));
    let base = format!(
        "/v2/projects/{}/policies/{}",
        enc(&project),
        enc(&constraint)
    );
    let effective = match console
        .client
        .call(token, "GET", &format!("{base}:getEffectivePolicy"), None)
        .await
    {
        Ok(policy) => policy,
        Err(error) => return api_error_page(&session, &title, &crumbs, &error),
    };
    let enforced = boolean_enforced(&effective);
    let mut body = format!(
        "<p>Effective on project <strong>{}</strong>: <strong>{}</strong>.</p>",
        esc(&project),
        if enforced { "enforced" } else { "not enforced" }
    );
    match console.client.call(token, "GET", &base, None).await {
        Ok(own) => {
            let _ = write!(
                body,
                "<p>The project sets its own policy:</p><pre>{}</pre>",
                esc(&serde_json::to_string_pretty(&own).unwrap_or_default())
            );
        }
        Err(error) if error.status == 404 => body.push_str(
            "<p>The project sets no policy of its own: the effective value is inherited from its folder or organization.</p>",
        ),
        Err(error) => body.push_str(&notice(Notice::Error, &error.message)),
    }
    body.push_str(&ancestor_policies(&console, token, &project, &constraint).await);
    let _ = write!(
        body,
        "<p>Effective policy:</p><pre>{}</pre>",
        esc(&serde_json::to_string_pretty(&effective).unwrap_or_default())
    );
    html_response(
        StatusCode::OK,
        page(&title, Some(&viewer(&session)), &crumbs, &body),
    )
}

/// Where an inherited value comes from: the constraint's policy on each ancestor, walking
/// `parent` up to the organization. What the viewer may not read is said, not hidden.
async fn ancestor_policies(
    console: &Console,
    token: &str,
    project: &str,
    constraint: &str,
) -> String {
    let mut out = String::from(
        "<h2>Up the hierarchy</h2><table><thead><tr><th scope=\"col\">Resource</th><th scope=\"col\">Policy for this constraint</th></tr></thead><tbody>",
    );
    let mut parent = console
        .client
        .call(
            token,
            "GET",
            &format!("/v3/projects/{}", enc(project)),
            None,
        )
        .await
        .ok()
        .and_then(|p| p["parent"].as_str().map(str::to_owned));
    // Folders nest at most 10 deep under an organization.
    for _ in 0..12 {
        let Some(resource) = parent.take() else {
            break;
        };
        let state = match console
            .client
            .call(
                token,
                "GET",
                &format!("/v2/{resource}/policies/{}", enc(constraint)),
                None,
            )
            .await
        {
            Ok(policy) => policy_state(&policy),
            Err(error) if error.status == 404 => "no policy set".to_owned(),
            Err(error) => format!("cannot be read: {}", error.message),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&resource),
            esc(&state)
        );
        if resource.starts_with("folders/") {
            parent = console
                .client
                .call(token, "GET", &format!("/v3/{resource}"), None)
                .await
                .ok()
                .and_then(|f| f["parent"].as_str().map(str::to_owned));
        }
    }
    out.push_str("</tbody></table>");
    out
}

/// A boolean policy's spec in words.
pub(crate) fn policy_state(policy: &Value) -> String {
    let spec = &policy["spec"];
    if spec["reset"].as_bool() == Some(true) {
        return "reset to the constraint's default".to_owned();
    }
    if boolean_enforced(policy) {
        return "enforced".to_owned();
    }
    if spec["inheritFromParent"].as_bool() == Some(true) {
        return "inherits from its parent".to_owned();
    }
    "not enforced".to_owned()
}

pub async fn troubleshoot(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = current(&console, &headers).await else {
        return redirect("/console");
    };
    let title = "Policy Troubleshooter";
    let mut crumbs = project_crumbs(&project);
    crumbs.push((title.to_owned(), String::new()));
    let get = |name: &str| {
        query
            .get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (principal, permission, mut resource) =
        (get("principal"), get("permission"), get("resource"));
    if resource.is_empty() {
        resource = format!("//cloudresourcemanager.googleapis.com/projects/{project}");
    }
    let mut body = format!(
        "<form method=\"get\"><fieldset><legend>Access to check</legend>\
         <label for=\"ts-principal\">Principal (email)</label> <input id=\"ts-principal\" name=\"principal\" value=\"{}\" required>\
         <label for=\"ts-permission\">Permission</label> <input id=\"ts-permission\" name=\"permission\" value=\"{}\" required>\
         <label for=\"ts-resource\">Full resource name</label> <input id=\"ts-resource\" name=\"resource\" value=\"{}\" size=\"70\" required>\
         <button type=\"submit\">Check access</button></fieldset></form>",
        esc(&principal),
        esc(if permission.is_empty() {
            "run.routes.invoke"
        } else {
            &permission
        }),
        esc(&resource)
    );
    body.insert_str(0, &project_nav(&project, "Policy Troubleshooter"));
    if !principal.is_empty() && !permission.is_empty() {
        // Policy Troubleshooter v3 takes a bare email.
        let email = principal
            .split_once(':')
            .map_or(principal.as_str(), |(_, e)| e);
        let request = json!({"accessTuple": {"principal": email, "fullResourceName": resource, "permission": permission}});
        match console
            .client
            .call(
                &session.access_token,
                "POST",
                "/v3/iam:troubleshoot",
                Some(request),
            )
            .await
        {
            Ok(answer) => {
                body.push_str(&render_troubleshoot(&answer, email, &permission, &resource))
            }
            Err(error) => body.push_str(&notice(Notice::Error, &error.message)),
        }
    }
    html_response(
        StatusCode::OK,
        page(title, Some(&viewer(&session)), &crumbs, &body),
    )
}

fn render_troubleshoot(
    answer: &Value,
    principal: &str,
    permission: &str,
    resource: &str,
) -> String {
    let verdict = match str_of(answer, "overallAccessState") {
        "CAN_ACCESS" => "has",
        "CANNOT_ACCESS" => "does not have",
        "UNKNOWN_CONDITIONAL" => "may have (a condition needs request context)",
        _ => "may or may not have (you cannot see every policy involved)",
    };
    let mut out = format!(
        "<section aria-labelledby=\"verdict-h\"><h2 id=\"verdict-h\">Result</h2><p class=\"verdict\"><strong>{}</strong> {} permission <code>{}</code> on <code>{}</code>.</p>",
        esc(principal),
        esc(verdict),
        esc(permission),
        esc(resource)
    );
    if answer["denyPolicyExplanation"]["denyAccessState"] == "DENY_ACCESS_STATE_DENIED" {
        out.push_str("<p>A deny policy denies this permission.</p>");
    }
    for policy in answer["allowPolicyExplanation"]["explainedPolicies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let _ = write!(
            out,
            "<h3>{}</h3><p>{}</p>",
            esc(str_of(policy, "fullResourceName")),
            esc(state_label(str_of(policy, "allowAccessState")))
        );
        let bindings = policy["bindingExplanations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if bindings.is_empty() {
            out.push_str("<p class=\"muted\">No bindings, or you may not view this policy.</p>");
            continue;
        }
        out.push_str("<table><thead><tr><th scope=\"col\">Role</th><th scope=\"col\">Role has permission</th><th scope=\"col\">Principal matched</th><th scope=\"col\">Grants</th></tr></thead><tbody>");
        for binding in &bindings {
            let via: Vec<&str> = binding["memberships"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| v["membership"] == "MEMBERSHIP_MATCHED")
                        .map(|(k, _)| k.as_str())
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
                esc(str_of(binding, "role")),
                esc(state_label(str_of(binding, "rolePermission"))),
                esc(state_label(
                    binding["combinedMembership"]["membership"]
                        .as_str()
                        .unwrap_or_default()
                )),
                if via.is_empty() {
                    String::new()
                } else {
                    format!(" via {}", esc(&via.join(", ")))
                },
                esc(state_label(str_of(binding, "allowAccessState"))),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    out
}

/// Policy Troubleshooter enum values in words (unknown values are shown as they are).
fn state_label(value: &str) -> &str {
    match value {
        "ALLOW_ACCESS_STATE_GRANTED" => "Grants access",
        "ALLOW_ACCESS_STATE_NOT_GRANTED" => "Does not grant access",
        "ALLOW_ACCESS_STATE_UNKNOWN_CONDITIONAL" => "Grants access only if a condition holds",
        "ALLOW_ACCESS_STATE_UNKNOWN_INFO" => "Unknown: you cannot see every policy involved",
        "ROLE_PERMISSION_INCLUDED" => "Yes",
        "ROLE_PERMISSION_NOT_INCLUDED" => "No",
        "ROLE_PERMISSION_UNKNOWN_INFO" => "Unknown (role unavailable)",
        "MEMBERSHIP_MATCHED" => "Yes",
        "MEMBERSHIP_NOT_MATCHED" => "No",
        "MEMBERSHIP_UNKNOWN_INFO" => "Unknown",
        "MEMBERSHIP_UNKNOWN_UNSUPPORTED" => "Unknown (unsupported principal type)",
        other => other,
    }
}

pub async fn service_logs(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, location, id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = current(&console, &headers).await else {
        return redirect("/console");
    };
    let mut crumbs = service_crumbs(&project, &location, &id);
    crumbs.push(("Logs".to_owned(), String::new()));
    let user_filter = query
        .get("filter")
        .map(|f| f.trim().to_owned())
        .unwrap_or_default();
    let tail = query.get("tail").is_some_and(|v| v == "on");
    let filter = service_log_filter(&location, &id, &user_filter);
    let base = console_service_path(&project, &location, &id);
    let mut body = service_tabs(&base, "Logs");
    body.push_str(
        &logs_body(
            &console,
            &session.access_token,
            &project,
            &user_filter,
            &filter,
            tail,
        )
        .await,
    );
    let title = format!("{id} logs");
    html_response(
        StatusCode::OK,
        refreshing_page(
            &title,
            Some(&viewer(&session)),
            &crumbs,
            &body,
            tail.then_some(TAIL_SECONDS),
        ),
    )
}

/// The filter box and the matching entries (newest first) of a project.
pub(crate) async fn logs_body(
    console: &Console,
    token: &str,
    project: &str,
    user_filter: &str,
    filter: &str,
    tail: bool,
) -> String {
    let mut body = format!(
        "<form method=\"get\"><label for=\"filter\">Filter (Logging query language)</label> \
         <input id=\"filter\" name=\"filter\" size=\"70\" value=\"{}\" placeholder=\"severity>=WARNING\"> \
         <input type=\"checkbox\" id=\"tail\" name=\"tail\" value=\"on\"{}> <label for=\"tail\">Live tail</label> \
         <button type=\"submit\">Run query</button></form><p class=\"muted\">Query sent: <code>{}</code></p>",
        esc(user_filter),
        if tail { " checked" } else { "" },
        esc(filter)
    );
    if tail {
        body.push_str(&format!(
            "<p class=\"muted\" role=\"status\">Live tail: this page reloads itself every {TAIL_SECONDS} seconds \
             (the console runs no JavaScript, so the browser refreshes the whole page). Uncheck Live tail and run the query to stop.</p>"
        ));
    }
    let request = json!({
        "resourceNames": [format!("projects/{project}")],
        "filter": filter,
        "orderBy": "timestamp desc",
        "pageSize": 100,
    });
    let answer = match console
        .client
        .call(token, "POST", "/v2/entries:list", Some(request))
        .await
    {
        Ok(answer) => answer,
        Err(error) => {
            body.push_str(&notice(Notice::Error, &error.message));
            return body;
        }
    };
    let entries = answer["entries"].as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        body.push_str("<p>No log entries match.</p>");
        return body;
    }
    body.push_str(
        "<table class=\"logs\"><caption>Newest first</caption><thead><tr><th scope=\"col\">Time</th>\
         <th scope=\"col\">Severity</th><th scope=\"col\">Log</th><th scope=\"col\">Summary</th></tr></thead><tbody>",
    );
    for entry in &entries {
        let log = str_of(entry, "logName")
            .rsplit("/logs/")
            .next()
            .unwrap_or_default()
            .replace("%2F", "/");
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(str_of(entry, "timestamp")),
            esc(str_of(entry, "severity")),
            esc(&log),
            esc(&log_summary(entry))
        );
    }
    body.push_str("</tbody></table>");
    body
}

/// The project's audit log: who did what, allowed or refused.
pub async fn audit_log(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = current(&console, &headers).await else {
        return redirect("/console");
    };
    let title = "Audit log";
    let mut crumbs = project_crumbs(&project);
    crumbs.push((title.to_owned(), String::new()));
    let user_filter = query
        .get("filter")
        .map(|f| f.trim().to_owned())
        .unwrap_or_default();
    let scope = "logName:\"cloudaudit.googleapis.com\"";
    let filter = if user_filter.is_empty() {
        scope.to_owned()
    } else {
        format!("{scope} AND ({user_filter})")
    };
    let tail = query.get("tail").is_some_and(|v| v == "on");
    let mut body = project_nav(&project, "Audit log");
    body.push_str(
        &logs_body(
            &console,
            &session.access_token,
            &project,
            &user_filter,
            &filter,
            tail,
        )
        .await,
    );
    html_response(
        StatusCode::OK,
        refreshing_page(
            title,
            Some(&viewer(&session)),
            &crumbs,
            &body,
            tail.then_some(TAIL_SECONDS),
        ),
    )
}

/// The service's entries, narrowed by the user's filter (parenthesized so its `OR`s stay
/// inside).
fn service_log_filter(location: &str, service: &str, user: &str) -> String {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let scope = format!(
        "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"{}\" AND resource.labels.location=\"{}\"",
        quote(service),
        quote(location)
    );
    if user.is_empty() {
        scope
    } else {
        format!("{scope} AND ({user})")
    }
}

pub(crate) fn log_summary(entry: &Value) -> String {
    if let Some(text) = entry["textPayload"].as_str() {
        return text.to_owned();
    }
    let proto = &entry["protoPayload"];
    if proto.is_object() {
        let granted = proto["authorizationInfo"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{} {}",
                    str_of(a, "permission"),
                    if a["granted"] == true {
                        "granted"
                    } else {
                        "denied"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return format!(
            "{} by {} — {}{}",
            str_of(proto, "methodName"),
            proto["authenticationInfo"]["principalEmail"]
                .as_str()
                .unwrap_or("anonymous"),
            granted,
            proto["status"]["message"]
                .as_str()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        );
    }
    let request = &entry["httpRequest"];
    if request.is_object() {
        return format!(
            "{} {} → {}",
            str_of(request, "requestMethod"),
            str_of(request, "requestUrl"),
            request["status"]
        );
    }
    if entry["jsonPayload"].is_object() {
        return entry["jsonPayload"]["message"]
            .as_str()
            .map_or_else(|| entry["jsonPayload"].to_string(), str::to_owned);
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_at_a_glance() {
        let private = json!({"bindings": [{"role": "roles/run.invoker", "members": ["user:bob@example.com"]}]});
        let public = json!({"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]});
        let conditional_public = json!({"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"], "condition": {"expression": "false"}}]});
        let cases = [
            (json!({}), Some(&private), vec!["Require authentication"]),
            (json!({}), Some(&public), vec!["Allow public access"]),
            (
                json!({}),
                Some(&conditional_public),
                vec!["Require authentication"],
            ),
            (
                json!({"invokerIamDisabled": true}),
                Some(&private),
                vec!["IAM check disabled"],
            ),
            (
                json!({"iapEnabled": true}),
                Some(&private),
                vec!["Require authentication", "IAP on"],
            ),
            (
                json!({}),
                None,
                vec!["Unknown (no permission to read the IAM policy)"],
            ),
        ];
        for (service, policy, expected) in cases {
            assert_eq!(
                auth_badges(&service, policy),
                expected,
                "{service} {policy:?}"
            );
        }
    }

    /// The service's unconditional edits (the console's one binding editor, no condition).
    fn edit_binding(policy: &mut Value, role: &str, member: &str, add: bool) -> bool {
        crate::iam::edit_binding(policy, role, member, None, add)
    }

    #[test]
    fn conditional_service_bindings_can_be_removed() {
        let policy = json!({"bindings": [{"role": "roles/run.invoker", "members": ["user:c@example.com"],
            "condition": {"title": "office hours", "expression": "request.time.getHours(\"Asia/Tokyo\") < 18"}}]});
        let html = render_security(
            &session(),
            "p",
            "r",
            "s",
            &view(&SERVICE_PERMISSIONS, false, policy, json!({})),
            None,
        );
        assert!(html.contains(
            "aria-label=\"Remove user:c@example.com from roles/run.invoker (condition office hours)\""
        ));
        assert!(html.contains("name=\"condition_expression\" value=\"request.time.getHours(&quot;Asia/Tokyo&quot;) &lt; 18\""));
        assert!(html.contains(
            "<td>office hours: request.time.getHours(&quot;Asia/Tokyo&quot;) &lt; 18</td>"
        ));
    }

    #[test]
    fn binding_edits() {
        let mut policy = json!({"etag": "x", "bindings": [
            {"role": "roles/run.invoker", "members": ["user:a@example.com"]},
            {"role": "roles/run.invoker", "members": ["allUsers"], "condition": {"expression": "true"}},
        ]});
        assert!(edit_binding(
            &mut policy,
            "roles/run.invoker",
            "allUsers",
            true
        ));
        assert!(
            !edit_binding(&mut policy, "roles/run.invoker", "allUsers", true),
            "already there"
        );
        assert_eq!(
            policy["bindings"][0]["members"],
            json!(["user:a@example.com", "allUsers"])
        );
        assert_eq!(
            policy["bindings"][1]["condition"]["expression"], "true",
            "conditional binding untouched"
        );
        assert!(edit_binding(
            &mut policy,
            "roles/run.invoker",
            "user:a@example.com",
            false
        ));
        assert!(edit_binding(
            &mut policy,
            "roles/run.invoker",
            "allUsers",
            false
        ));
        assert_eq!(
            policy["bindings"].as_array().map(Vec::len),
            Some(1),
            "empty binding dropped"
        );
        assert!(!edit_binding(
            &mut policy,
            "roles/viewer",
            "allUsers",
            false
        ));
        let mut empty = json!({"etag": "ACAB", "version": 1});
        assert!(edit_binding(
            &mut empty,
            "roles/run.invoker",
            "allUsers",
            true
        ));
        assert_eq!(
            empty["bindings"],
            json!([{"role": "roles/run.invoker", "members": ["allUsers"]}])
        );
        assert_eq!(
            empty["etag"], "ACAB",
            "etag sent back for optimistic concurrency"
        );
    }

    #[test]
    fn traffic_in_words() {
        let service = json!({
            "latestReadyRevision": "projects/p/locations/r/services/s/revisions/s-00002-abc",
            "trafficStatuses": [
                {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 90},
                {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "s-00001-xyz", "percent": 10},
            ],
        });
        assert_eq!(
            traffic_summary(&service),
            "90% → latest (s-00002-abc), 10% → s-00001-xyz"
        );
        assert_eq!(traffic_summary(&json!({})), "no traffic");
    }

    #[test]
    fn policy_states_in_words() {
        let cases = [
            (json!({"spec": {"rules": [{"enforce": true}]}}), "enforced"),
            (
                json!({"spec": {"rules": [{"enforce": false}]}}),
                "not enforced",
            ),
            (
                json!({"spec": {"reset": true}}),
                "reset to the constraint's default",
            ),
            (
                json!({"spec": {"inheritFromParent": true}}),
                "inherits from its parent",
            ),
        ];
        for (policy, expected) in cases {
            assert_eq!(policy_state(&policy), expected, "{policy}");
        }
    }

    #[test]
    fn enforced_reading() {
        assert!(boolean_enforced(
            &json!({"spec": {"rules": [{"enforce": true}]}})
        ));
        assert!(!boolean_enforced(
            &json!({"spec": {"rules": [{"enforce": false}]}})
        ));
        assert!(!boolean_enforced(&json!({"name": "x"})));
    }

    #[test]
    fn log_filter_quotes_and_parenthesizes() {
        assert_eq!(
            service_log_filter("us-central1", "hello", "severity>=WARNING OR textPayload:x"),
            "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"hello\" AND resource.labels.location=\"us-central1\" AND (severity>=WARNING OR textPayload:x)"
        );
        assert!(service_log_filter("r", "a\"b", "").contains("service_name=\"a\\\"b\""));
    }

    fn view(allowed: &[&str], enforced: bool, policy: Value, service: Value) -> ServiceView {
        ServiceView {
            service,
            policy: Ok(policy),
            allowed: allowed.iter().map(|p| (*p).to_owned()).collect(),
            require_invoker_iam: Ok(enforced),
            project_policy: Ok(
                json!({"bindings": [{"role": "roles/owner", "members": ["user:<o>@example.com"]}]}),
            ),
        }
    }

    fn session() -> Session {
        let sessions = crate::session::Sessions::default();
        let id = sessions.create(
            "alice@example.com".into(),
            "t".into(),
            None,
            std::time::Duration::from_secs(3600),
        );
        sessions.get(&id).unwrap()
    }

    #[test]
    fn security_tab_greys_the_iam_check_when_the_org_policy_requires_it() {
        let html = render_security(
            &session(),
            "p",
            "us-central1",
            "hello",
            &view(&SERVICE_PERMISSIONS, true, json!({}), json!({})),
            None,
        );
        let form = html
            .split("/iam-check\"")
            .nth(1)
            .unwrap()
            .split("</form>")
            .next()
            .unwrap();
        assert!(form.contains("<fieldset disabled aria-describedby=\"iam-check-reason\">"));
        assert!(form.contains("run.managed.requireInvokerIam"));
        assert!(
            form.contains("href=\"/console/projects/p/policies/run.managed.requireInvokerIam\"")
        );
        let open = render_security(
            &session(),
            "p",
            "us-central1",
            "hello",
            &view(&SERVICE_PERMISSIONS, false, json!({}), json!({})),
            None,
        );
        let form = open
            .split("/iam-check\"")
            .nth(1)
            .unwrap()
            .split("</form>")
            .next()
            .unwrap();
        assert!(!form.contains("disabled"));
        assert!(form.contains("id=\"iam-check\" name=\"iam_check\" value=\"on\" checked"));
    }

    #[test]
    fn security_tab_disables_actions_the_viewer_lacks() {
        let html = render_security(
            &session(),
            "p",
            "r",
            "hello",
            &view(&["run.services.get"], false, json!({}), json!({})),
            None,
        );
        assert!(
            html.contains("You need the permission run.services.setIamPolicy on this service.")
        );
        assert!(html.contains("You need the permission run.services.update on this service."));
        assert_eq!(
            html.matches("<fieldset disabled").count(),
            4,
            "authentication, IAM check, IAP, add principal"
        );
    }

    #[test]
    fn security_tab_escapes_api_values() {
        let policy = json!({"bindings": [{"role": "roles/run.invoker", "members": ["user:<img src=x>@example.com"]}]});
        let service = json!({"uri": "http://x/\"><script>", "lastModifier": "<b>"});
        let html = render_security(
            &session(),
            "p",
            "r",
            "s<1>",
            &view(&SERVICE_PERMISSIONS, false, policy, service),
            None,
        );
        assert!(!html.contains("<img"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("user:&lt;img src=x&gt;@example.com"));
        assert!(html.contains("<td>roles/owner</td><td>user:&lt;o&gt;@example.com</td>"));
        assert!(
            html.contains("/services/s%3C1%3E/"),
            "path segments percent-encoded"
        );
    }
}
