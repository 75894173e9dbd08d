//! Service accounts: the project's accounts, and one account with its keys, who may act as
//! it, and enable/disable (and key deletion), each shown disabled without the permission.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::Console;
use crate::client::ApiError;
use crate::html::{Crumb, Notice, csrf_field, esc, notice, page, url_component as enc};
use crate::pages::{
    api_error_page, disabled_with, done_notice, form_session, granted, html_response, missing,
    ok_page, project_crumbs, project_nav, redirect, signed_in, str_of, viewer,
};
use crate::session::Session;

const ACCOUNT_PERMISSIONS: [&str; 3] = [
    "iam.serviceAccounts.enable",
    "iam.serviceAccounts.disable",
    "iam.serviceAccountKeys.delete",
];

const DONE: [(&str, &str); 3] = [
    ("enabled", "The service account is enabled."),
    (
        "disabled",
        "The service account is disabled: it can no longer authenticate.",
    ),
    ("key-deleted", "The key was deleted."),
];

fn accounts_path(project: &str) -> String {
    format!("/v1/projects/{}/serviceAccounts", enc(project))
}

fn account_path(project: &str, email: &str) -> String {
    format!("{}/{}", accounts_path(project), enc(email))
}

fn console_account_path(project: &str, email: &str) -> String {
    format!(
        "/console/projects/{}/serviceAccounts/{}",
        enc(project),
        enc(email)
    )
}

fn accounts_crumbs(project: &str) -> Vec<Crumb> {
    let mut crumbs = project_crumbs(project);
    crumbs.push((
        "Service accounts".to_owned(),
        format!("/console/projects/{}/serviceAccounts", enc(project)),
    ));
    crumbs
}

pub async fn service_accounts(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let title = "Service accounts";
    let crumbs = accounts_crumbs(&project);
    let answer = match console
        .client
        .call(&session.access_token, "GET", &accounts_path(&project), None)
        .await
    {
        Ok(answer) => answer,
        Err(error) => return api_error_page(&session, title, &crumbs, &error),
    };
    let mut body = project_nav(&project, "Service accounts");
    body.push_str(&render_accounts(
        &project,
        &answer["accounts"].as_array().cloned().unwrap_or_default(),
    ));
    ok_page(&session, title, &crumbs, &body)
}

fn render_accounts(project: &str, accounts: &[Value]) -> String {
    if accounts.is_empty() {
        return "<p>No service accounts in this project.</p>".to_owned();
    }
    let mut body = String::from(
        "<table class=\"accounts\"><caption>Service accounts</caption><thead><tr><th scope=\"col\">Email</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Name</th><th scope=\"col\">Description</th></tr></thead><tbody>",
    );
    for account in accounts {
        let email = str_of(account, "email");
        let _ = write!(
            body,
            "<tr data-account=\"{}\"><th scope=\"row\"><a href=\"{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(email),
            esc(&console_account_path(project, email)),
            esc(email),
            status_word(account),
            esc(str_of(account, "displayName")),
            esc(str_of(account, "description")),
        );
    }
    body.push_str("</tbody></table>");
    body
}

fn status_word(account: &Value) -> &'static str {
    if account["disabled"].as_bool() == Some(true) {
        "Disabled"
    } else {
        "Enabled"
    }
}

pub async fn service_account(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, email)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let message = done_notice(&query, &DONE);
    render_account_page(
        &console,
        &session,
        &project,
        &email,
        message,
        StatusCode::OK,
    )
    .await
}

struct AccountView {
    account: Value,
    keys: Result<Vec<Value>, ApiError>,
    policy: Result<Value, ApiError>,
    allowed: Vec<String>,
}

async fn render_account_page(
    console: &Console,
    session: &Session,
    project: &str,
    email: &str,
    message: String,
    status: StatusCode,
) -> Response {
    let token = &session.access_token;
    let mut crumbs = accounts_crumbs(project);
    crumbs.push((email.to_owned(), String::new()));
    let path = account_path(project, email);
    let account = match console.client.call(token, "GET", &path, None).await {
        Ok(account) => account,
        Err(error) => return api_error_page(session, email, &crumbs, &error),
    };
    let keys = console
        .client
        .call(token, "GET", &format!("{path}/keys"), None)
        .await
        .map(|k| k["keys"].as_array().cloned().unwrap_or_default());
    let policy = console
        .client
        .call(token, "POST", &format!("{path}:getIamPolicy"), None)
        .await;
    let allowed = granted(console, token, &path, &ACCOUNT_PERMISSIONS).await;
    let view = AccountView {
        account,
        keys,
        policy,
        allowed,
    };
    let mut body = message;
    body.push_str(&render_account(session, project, email, &view));
    html_response(status, page(email, Some(&viewer(session)), &crumbs, &body))
}

fn render_account(session: &Session, project: &str, email: &str, view: &AccountView) -> String {
    let base = console_account_path(project, email);
    let csrf = csrf_field(&session.csrf);
    let account = &view.account;
    let disabled = account["disabled"].as_bool() == Some(true);
    let mut body = format!(
        "<dl class=\"facts\"><dt>Email</dt><dd>{}</dd><dt>Status</dt><dd id=\"account-status\">{}</dd><dt>Name</dt><dd>{}</dd>\
         <dt>Description</dt><dd>{}</dd><dt>Unique ID</dt><dd>{}</dd><dt>OAuth 2 client ID</dt><dd>{}</dd></dl>",
        esc(str_of(account, "email")),
        status_word(account),
        esc(str_of(account, "displayName")),
        esc(str_of(account, "description")),
        esc(str_of(account, "uniqueId")),
        esc(str_of(account, "oauth2ClientId")),
    );
    let (action, label, permission) = if disabled {
        ("enable", "Enable", "iam.serviceAccounts.enable")
    } else {
        ("disable", "Disable", "iam.serviceAccounts.disable")
    };
    let (dis, why) = disabled_with(
        missing(&view.allowed, permission, "this service account").as_deref(),
        "state-reason",
    );
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}/{action}\">{csrf}<fieldset{dis}><legend>Status</legend>\
         <p class=\"hint\">{}</p><button type=\"submit\">{label} service account</button></fieldset>{why}</form>",
        esc(&base),
        if disabled {
            "Disabled: its keys and tokens are refused until it is enabled again."
        } else {
            "Disabling stops every key and token of this account from authenticating."
        },
    );

    body.push_str("<section aria-labelledby=\"keys-h\"><h2 id=\"keys-h\">Keys</h2>");
    match &view.keys {
        Err(error) => body.push_str(&notice(Notice::Error, &error.message)),
        Ok(keys) if keys.is_empty() => body.push_str("<p>No keys.</p>"),
        Ok(keys) => {
            let reason = missing(
                &view.allowed,
                "iam.serviceAccountKeys.delete",
                "this service account",
            );
            let dis = if reason.is_some() { " disabled" } else { "" };
            body.push_str(
                "<table class=\"keys\"><caption>Keys</caption><thead><tr><th scope=\"col\">Key ID</th><th scope=\"col\">Type</th>\
                 <th scope=\"col\">Created</th><th scope=\"col\">Expires</th><th scope=\"col\">Status</th><th scope=\"col\">Action</th></tr></thead><tbody>",
            );
            for key in keys {
                let id = str_of(key, "name").rsplit('/').next().unwrap_or_default();
                let user_managed = key["keyType"] == "USER_MANAGED";
                let action = if user_managed {
                    format!(
                        "<form method=\"post\" action=\"{}/delete-key\">{csrf}<input type=\"hidden\" name=\"key\" value=\"{}\">\
                         <button type=\"submit\"{dis} aria-label=\"Delete key {}\">Delete</button></form>",
                        esc(&base),
                        esc(id),
                        esc(id)
                    )
                } else {
                    "<span class=\"muted\">managed by Google</span>".to_owned()
                };
                let _ = write!(
                    body,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                    esc(id),
                    if user_managed {
                        "User-managed"
                    } else {
                        "Google-managed"
                    },
                    esc(str_of(key, "validAfterTime")),
                    esc(str_of(key, "validBeforeTime")),
                    if key["disabled"].as_bool() == Some(true) {
                        "Disabled"
                    } else {
                        "Enabled"
                    },
                );
            }
            body.push_str("</tbody></table>");
            if let Some(reason) = reason {
                let _ = write!(body, "<p class=\"reason\">{}</p>", esc(&reason));
            }
        }
    }
    body.push_str("<p class=\"muted\">New keys are created with <code>kumo iam service-accounts keys create</code>: a key file cannot be handed over safely by a page without script.</p></section>");

    body.push_str("<section aria-labelledby=\"act-h\"><h2 id=\"act-h\">Principals with access to this service account</h2>");
    match &view.policy {
        Err(error) => {
            let _ = write!(
                body,
                "<p class=\"muted\">The service account's IAM policy cannot be shown: {}</p>",
                esc(&error.message)
            );
        }
        Ok(policy) => {
            let bindings: Vec<&Value> = policy["bindings"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            if bindings.is_empty() {
                body.push_str("<p>No one is granted a role on this service account itself (project-level grants still apply).</p>");
            } else {
                body.push_str("<table class=\"bindings\"><thead><tr><th scope=\"col\">Role</th><th scope=\"col\">Principals</th></tr></thead><tbody>");
                for binding in bindings {
                    let members: Vec<&str> = binding["members"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td>{}</td></tr>",
                        esc(str_of(binding, "role")),
                        esc(&members.join(", "))
                    );
                }
                body.push_str("</tbody></table>");
            }
        }
    }
    body.push_str("</section>");
    body
}

pub async fn service_account_action(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, email, action)): Path<(String, String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match form_session(&console, &headers, &form).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let token = &session.access_token;
    let path = account_path(&project, &email);
    let call = match action.as_str() {
        "enable" | "disable" => console
            .client
            .call(
                token,
                "POST",
                &format!("{path}:{action}"),
                Some(serde_json::json!({})),
            )
            .await
            .map(|_| {
                if action == "enable" {
                    "enabled"
                } else {
                    "disabled"
                }
            }),
        "delete-key" => {
            let key = form.get("key").map(|k| k.trim()).unwrap_or_default();
            if key.is_empty() {
                Err(ApiError {
                    status: 400,
                    message: "Choose a key to delete.".to_owned(),
                })
            } else {
                console
                    .client
                    .call(token, "DELETE", &format!("{path}/keys/{}", enc(key)), None)
                    .await
                    .map(|_| "key-deleted")
            }
        }
        _ => Err(ApiError {
            status: 404,
            message: "Unknown action.".to_owned(),
        }),
    };
    match call {
        Ok(done) => redirect(&format!(
            "{}?done={done}",
            console_account_path(&project, &email)
        )),
        Err(error) => {
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY);
            render_account_page(
                &console,
                &session,
                &project,
                &email,
                notice(Notice::Error, &error.message),
                status,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
    fn account_page_offers_what_the_viewer_may_do() {
        let view = |disabled: bool, allowed: &[&str]| AccountView {
            account: json!({"email": "ci@p.iam.gserviceaccount.com", "disabled": disabled, "displayName": "<ci>"}),
            keys: Ok(vec![
                json!({"name": "projects/p/serviceAccounts/ci@p.iam.gserviceaccount.com/keys/k1", "keyType": "USER_MANAGED"}),
                json!({"name": "projects/p/serviceAccounts/ci@p.iam.gserviceaccount.com/keys/k2", "keyType": "SYSTEM_MANAGED"}),
            ]),
            policy: Ok(
                json!({"bindings": [{"role": "roles/iam.serviceAccountUser", "members": ["user:bob@example.com"]}]}),
            ),
            allowed: allowed.iter().map(|p| (*p).to_owned()).collect(),
        };
        let html = render_account(
            &session(),
            "p",
            "ci@p.iam.gserviceaccount.com",
            &view(false, &ACCOUNT_PERMISSIONS),
        );
        assert!(html.contains(
            "action=\"/console/projects/p/serviceAccounts/ci%40p.iam.gserviceaccount.com/disable\""
        ));
        assert!(!html.contains("disabled"), "{html}");
        assert_eq!(
            html.matches("aria-label=\"Delete key").count(),
            1,
            "only user-managed keys"
        );
        assert!(
            html.contains("<td>roles/iam.serviceAccountUser</td><td>user:bob@example.com</td>")
        );
        assert!(html.contains("&lt;ci&gt;"));
        let html = render_account(
            &session(),
            "p",
            "ci@p.iam.gserviceaccount.com",
            &view(true, &[]),
        );
        assert!(html.contains("Enable service account"));
        assert!(html.contains(
            "You need the permission iam.serviceAccounts.enable on this service account."
        ));
        assert!(html.contains(
            "You need the permission iam.serviceAccountKeys.delete on this service account."
        ));
        assert!(html.contains("type=\"submit\" disabled aria-label=\"Delete key k1\""));
    }
}
