//! IAM pages: the allow policy of a project, folder or organization (principals by role, add
//! and remove bindings, conditional ones included), and the way up the hierarchy to the
//! policies a resource inherits.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::Console;
use crate::client::ApiError;
use crate::html::{Crumb, Notice, csrf_field, esc, notice, page, url_component as enc};
use crate::pages::{
    disabled_with, done_notice, form_session, granted, html_response, missing, project_crumbs,
    project_nav, redirect, signed_in, str_of, viewer,
};
use crate::session::Session;

/// A Resource Manager container that holds an allow policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Project,
    Folder,
    Organization,
}

impl Container {
    pub(crate) fn collection(self) -> &'static str {
        match self {
            Container::Project => "projects",
            Container::Folder => "folders",
            Container::Organization => "organizations",
        }
    }

    pub(crate) fn noun(self) -> &'static str {
        match self {
            Container::Project => "project",
            Container::Folder => "folder",
            Container::Organization => "organization",
        }
    }

    fn set_permission(self) -> String {
        format!("resourcemanager.{}.setIamPolicy", self.collection())
    }

    /// `folders/123` → (Folder, "123").
    pub(crate) fn parse(name: &str) -> Option<(Container, &str)> {
        let (collection, id) = name.split_once('/')?;
        let kind = match collection {
            "projects" => Container::Project,
            "folders" => Container::Folder,
            "organizations" => Container::Organization,
            _ => return None,
        };
        Some((kind, id))
    }
}

/// The sections of a folder or organization (a project has [`project_nav`]).
pub(crate) fn container_nav(kind: Container, id: &str, current: &str) -> String {
    let base = format!("/console/{}/{}", kind.collection(), enc(id));
    let mut links = vec![
        ("IAM", format!("{base}/iam")),
        ("Organization policies", format!("{base}/policies")),
    ];
    if kind == Container::Organization {
        links.push(("Roles", format!("{base}/roles")));
    }
    let label = format!("{} {id}", kind.noun());
    let mut out = format!(
        "<nav aria-label=\"{}\" class=\"tabs project\"><ul>",
        esc(&label)
    );
    for (name, href) in links {
        let current = if name == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li><a href=\"{}\"{current}>{}</a></li>",
            esc(&href),
            esc(name)
        );
    }
    out.push_str("</ul></nav>");
    out
}

const DONE: [(&str, &str); 2] = [
    ("binding-added", "The binding was added."),
    ("binding-removed", "The binding was removed."),
];

fn console_iam_path(kind: Container, id: &str) -> String {
    format!("/console/{}/{}/iam", kind.collection(), enc(id))
}

fn api_path(kind: Container, id: &str) -> String {
    format!("/v3/{}/{}", kind.collection(), enc(id))
}

fn crumbs_for(kind: Container, id: &str) -> Vec<Crumb> {
    let mut crumbs = match kind {
        Container::Project => project_crumbs(id),
        _ => vec![
            ("Projects".to_owned(), "/console".to_owned()),
            (format!("{}/{id}", kind.collection()), String::new()),
        ],
    };
    crumbs.push(("IAM".to_owned(), String::new()));
    crumbs
}

pub async fn project_iam(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    iam_page(console, headers, Container::Project, id, query).await
}

pub async fn folder_iam(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    iam_page(console, headers, Container::Folder, id, query).await
}

pub async fn organization_iam(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    iam_page(console, headers, Container::Organization, id, query).await
}

async fn iam_page(
    console: Console,
    headers: HeaderMap,
    kind: Container,
    id: String,
    query: HashMap<String, String>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let message = done_notice(&query, &DONE);
    render_iam_page(&console, &session, kind, &id, message, StatusCode::OK).await
}

/// What one IAM page shows, gathered from the API.
struct IamView {
    display_name: String,
    policy: Result<Value, ApiError>,
    allowed: Vec<String>,
    /// Each ancestor, nearest first, with its allow policy (or why it cannot be read).
    ancestors: Vec<(String, Result<Value, ApiError>)>,
}

async fn load_iam(console: &Console, token: &str, kind: Container, id: &str) -> IamView {
    let path = api_path(kind, id);
    let resource = console.client.call(token, "GET", &path, None).await.ok();
    let display_name = resource
        .as_ref()
        .map(|r| str_of(r, "displayName").to_owned())
        .unwrap_or_default();
    let policy = console
        .client
        .call(
            token,
            "POST",
            &format!("{path}:getIamPolicy"),
            Some(json!({"options": {"requestedPolicyVersion": 3}})),
        )
        .await;
    let allowed = granted(console, token, &path, &[&kind.set_permission()]).await;
    // The ancestry, walking `parent` up to the organization (folders nest at most 10 deep).
    let mut ancestors = Vec::new();
    let mut parent = resource.and_then(|r| r["parent"].as_str().map(str::to_owned));
    while let Some(name) = parent.take() {
        if ancestors.len() >= 12 {
            break;
        }
        if name.starts_with("folders/") {
            parent = console
                .client
                .call(token, "GET", &format!("/v3/{name}"), None)
                .await
                .ok()
                .and_then(|f| f["parent"].as_str().map(str::to_owned));
        }
        let policy = console
            .client
            .call(
                token,
                "POST",
                &format!("/v3/{name}:getIamPolicy"),
                Some(json!({"options": {"requestedPolicyVersion": 3}})),
            )
            .await;
        ancestors.push((name, policy));
    }
    IamView {
        display_name,
        policy,
        allowed,
        ancestors,
    }
}

async fn render_iam_page(
    console: &Console,
    session: &Session,
    kind: Container,
    id: &str,
    message: String,
    status: StatusCode,
) -> Response {
    let view = load_iam(console, &session.access_token, kind, id).await;
    let title = format!("IAM for {} {id}", kind.noun());
    let mut body = if kind == Container::Project {
        project_nav(id, "IAM")
    } else {
        container_nav(kind, id, "IAM")
    };
    body.push_str(&message);
    body.push_str(&render_iam(session, kind, id, &view));
    html_response(
        status,
        page(&title, Some(&viewer(session)), &crumbs_for(kind, id), &body),
    )
}

/// A binding's condition as shown and as sent back: (title, expression).
fn condition_of(binding: &Value) -> Option<(&str, &str)> {
    let condition = &binding["condition"];
    condition
        .is_object()
        .then(|| (str_of(condition, "title"), str_of(condition, "expression")))
}

fn render_iam(session: &Session, kind: Container, id: &str, view: &IamView) -> String {
    let base = console_iam_path(kind, id);
    let csrf = csrf_field(&session.csrf);
    let mut body = String::new();
    if !view.display_name.is_empty() {
        let _ = write!(
            body,
            "<p><strong>{}</strong> ({}/{})</p>",
            esc(&view.display_name),
            esc(kind.collection()),
            esc(id)
        );
    }
    let set_reason = missing(
        &view.allowed,
        &kind.set_permission(),
        &format!("this {}", kind.noun()),
    );
    body.push_str(
        "<section aria-labelledby=\"principals-h\"><h2 id=\"principals-h\">Principals by role</h2>",
    );
    match &view.policy {
        Err(error) => {
            let _ = write!(
                body,
                "<p class=\"notice info\" role=\"status\">You cannot read the IAM policy of {}/{}: {}</p>",
                esc(kind.collection()),
                esc(id),
                esc(&error.message)
            );
        }
        Ok(policy) => {
            let mut bindings: Vec<&Value> = policy["bindings"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            bindings.sort_by(|a, b| str_of(a, "role").cmp(str_of(b, "role")));
            if bindings.is_empty() {
                body.push_str("<p>No bindings.</p>");
            } else {
                body.push_str(
                    "<table class=\"bindings\"><caption>Allow policy bindings</caption><thead><tr><th scope=\"col\">Role</th>\
                     <th scope=\"col\">Principal</th><th scope=\"col\">Condition</th><th scope=\"col\">Action</th></tr></thead><tbody>",
                );
                let dis = if set_reason.is_some() {
                    " disabled"
                } else {
                    ""
                };
                for binding in bindings {
                    let role = str_of(binding, "role");
                    let condition = condition_of(binding);
                    for member in binding["members"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        let (title, expression) = condition.unwrap_or(("", ""));
                        let shown = match condition {
                            Some((title, expression)) if !title.is_empty() => {
                                format!("{title}: {expression}")
                            }
                            Some((_, expression)) => expression.to_owned(),
                            None => String::new(),
                        };
                        let _ = write!(
                            body,
                            "<tr><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" action=\"{}/remove-binding\">{csrf}\
                             <input type=\"hidden\" name=\"role\" value=\"{}\"><input type=\"hidden\" name=\"member\" value=\"{}\">\
                             <input type=\"hidden\" name=\"condition_title\" value=\"{}\"><input type=\"hidden\" name=\"condition_expression\" value=\"{}\">\
                             <button type=\"submit\"{dis} aria-label=\"Remove {} from {}{}\">Remove</button></form></td></tr>",
                            esc(role),
                            esc(member),
                            esc(&shown),
                            esc(&base),
                            esc(role),
                            esc(member),
                            esc(title),
                            esc(expression),
                            esc(member),
                            esc(role),
                            if condition.is_some() {
                                format!(
                                    " (condition {})",
                                    esc(if title.is_empty() { expression } else { title })
                                )
                            } else {
                                String::new()
                            },
                        );
                    }
                }
                body.push_str("</tbody></table>");
            }
        }
    }
    let (dis, why) = disabled_with(set_reason.as_deref(), "iam-reason");
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}/add-binding\">{csrf}<fieldset{dis}><legend>Grant access</legend>\
         <div><label for=\"grant-member\">Principal</label> <input id=\"grant-member\" name=\"member\" required size=\"40\" placeholder=\"user:bob@example.com\"> \
         <label for=\"grant-role\">Role</label> <input id=\"grant-role\" name=\"role\" required size=\"30\" placeholder=\"roles/run.invoker\"></div>\
         <fieldset><legend>Condition (optional)</legend>\
         <div><label for=\"grant-cond-title\">Condition title</label> <input id=\"grant-cond-title\" name=\"condition_title\" size=\"30\"></div>\
         <div><label for=\"grant-cond-expr\">Condition expression (CEL)</label> <input id=\"grant-cond-expr\" name=\"condition_expression\" size=\"70\" \
         placeholder=\"request.time &lt; timestamp(&quot;2030-01-01T00:00:00Z&quot;)\"></div></fieldset>\
         <button type=\"submit\">Save</button></fieldset>{why}</form></section>",
        esc(&base),
    );

    body.push_str(
        "<section aria-labelledby=\"ancestry-h\"><h2 id=\"ancestry-h\">Inherited policies</h2>",
    );
    if view.ancestors.is_empty() {
        body.push_str(
            "<p>No parent whose policy you can see: only the bindings above apply here.</p>",
        );
    } else {
        body.push_str("<p>Bindings on these ancestors apply here too:</p><ol class=\"ancestry\">");
        for (ancestor, policy) in &view.ancestors {
            let link = match Container::parse(ancestor) {
                Some((kind, id)) => format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&console_iam_path(kind, id)),
                    esc(ancestor)
                ),
                None => esc(ancestor),
            };
            let _ = write!(body, "<li>{link}");
            match policy {
                Ok(policy) => body.push_str(&inherited_table(ancestor, policy)),
                Err(error) => {
                    let _ = write!(
                        body,
                        "<p class=\"muted\">You cannot read this policy: {}</p>",
                        esc(&error.message)
                    );
                }
            }
            body.push_str("</li>");
        }
        body.push_str("</ol>");
    }
    body.push_str("</section>");
    body
}

/// An ancestor's bindings, read-only (they are edited on the ancestor's own page).
fn inherited_table(ancestor: &str, policy: &Value) -> String {
    let bindings: Vec<&Value> = policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    if bindings.is_empty() {
        return "<p class=\"muted\">No bindings.</p>".to_owned();
    }
    let mut out = format!(
        "<table class=\"bindings inherited\"><caption>Bindings on {}</caption><thead><tr><th scope=\"col\">Role</th>\
         <th scope=\"col\">Principals</th><th scope=\"col\">Condition</th></tr></thead><tbody>",
        esc(ancestor)
    );
    for binding in bindings {
        let members: Vec<&str> = binding["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let condition = condition_of(binding)
            .map(|(title, expression)| if title.is_empty() { expression } else { title })
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(str_of(binding, "role")),
            esc(&members.join(", ")),
            esc(condition)
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Adds or removes `member` in the binding of `role` with exactly `condition` (`None`: the
/// unconditional binding). A conditional binding needs policy version 3; empty bindings are
/// dropped. Returns whether the policy changed.
pub(crate) fn edit_binding(
    policy: &mut Value,
    role: &str,
    member: &str,
    condition: Option<&Value>,
    add: bool,
) -> bool {
    if !policy["bindings"].is_array() {
        policy["bindings"] = json!([]);
    }
    let Some(bindings) = policy["bindings"].as_array_mut() else {
        return false;
    };
    let same_condition = |b: &Value| match condition {
        None => b["condition"].is_null(),
        Some(c) => {
            b["condition"]["expression"] == c["expression"]
                && str_of(&b["condition"], "title") == str_of(c, "title")
        }
    };
    let position = bindings
        .iter()
        .position(|b| b["role"] == role && same_condition(b));
    let changed = match (position, add) {
        (Some(index), true) => match bindings[index]["members"].as_array_mut() {
            Some(list) if !list.iter().any(|m| m == member) => {
                list.push(json!(member));
                true
            }
            Some(_) => false,
            None => {
                bindings[index]["members"] = json!([member]);
                true
            }
        },
        (None, true) => {
            let mut binding = json!({"role": role, "members": [member]});
            if let Some(condition) = condition {
                binding["condition"] = condition.clone();
            }
            bindings.push(binding);
            true
        }
        (Some(index), false) => match bindings[index]["members"].as_array_mut() {
            Some(list) => {
                let before = list.len();
                list.retain(|m| m != member);
                before != list.len()
            }
            None => false,
        },
        (None, false) => false,
    };
    bindings.retain(|b| b["members"].as_array().is_some_and(|m| !m.is_empty()));
    if bindings.iter().any(|b| b["condition"].is_object()) {
        policy["version"] = json!(3);
    }
    changed
}

pub async fn project_iam_action(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    iam_action(console, headers, Container::Project, id, action, form).await
}

pub async fn folder_iam_action(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    iam_action(console, headers, Container::Folder, id, action, form).await
}

pub async fn organization_iam_action(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    iam_action(console, headers, Container::Organization, id, action, form).await
}

async fn iam_action(
    console: Console,
    headers: HeaderMap,
    kind: Container,
    id: String,
    action: String,
    form: HashMap<String, String>,
) -> Response {
    let session = match form_session(&console, &headers, &form).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let add = match action.as_str() {
        "add-binding" => true,
        "remove-binding" => false,
        _ => {
            let message = notice(Notice::Error, "Unknown action.");
            return render_iam_page(
                &console,
                &session,
                kind,
                &id,
                message,
                StatusCode::NOT_FOUND,
            )
            .await;
        }
    };
    let (role, member) = (field("role"), field("member"));
    let (title, expression) = (field("condition_title"), field("condition_expression"));
    let refuse = |text: String, status: StatusCode| {
        let console = console.clone();
        let session = session.clone();
        let id = id.clone();
        async move {
            render_iam_page(
                &console,
                &session,
                kind,
                &id,
                notice(Notice::Error, &text),
                status,
            )
            .await
        }
    };
    if role.is_empty() || member.is_empty() {
        return refuse(
            "Give both a principal and a role.".to_owned(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    if expression.is_empty() && !title.is_empty() {
        return refuse(
            "A condition needs an expression; its title alone is not a condition.".to_owned(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let condition =
        (!expression.is_empty()).then(|| json!({"title": title, "expression": expression}));
    let path = api_path(kind, &id);
    let token = &session.access_token;
    let outcome = async {
        let mut policy = console
            .client
            .call(
                token,
                "POST",
                &format!("{path}:getIamPolicy"),
                Some(json!({"options": {"requestedPolicyVersion": 3}})),
            )
            .await?;
        if !edit_binding(&mut policy, &role, &member, condition.as_ref(), add) {
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
    .await;
    match outcome {
        Ok(()) => redirect(&format!(
            "{}?done={}",
            console_iam_path(kind, &id),
            if add {
                "binding-added"
            } else {
                "binding-removed"
            }
        )),
        Err(error) => {
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY);
            refuse(error.message, status).await
        }
    }
}

#[cfg(test)]
mod tests {
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
    fn conditional_bindings_are_edited_apart_from_plain_ones() {
        let until = json!({"title": "until 2030", "expression": "request.time < timestamp(\"2030-01-01T00:00:00Z\")"});
        let mut policy = json!({"etag": "BwX", "bindings": [{"role": "roles/run.invoker", "members": ["user:a@example.com"]}]});
        assert!(edit_binding(
            &mut policy,
            "roles/run.invoker",
            "user:b@example.com",
            Some(&until),
            true
        ));
        assert_eq!(policy["version"], 3, "conditions need version 3");
        assert_eq!(
            policy["bindings"].as_array().unwrap().len(),
            2,
            "a binding of its own"
        );
        assert!(
            !edit_binding(
                &mut policy,
                "roles/run.invoker",
                "user:b@example.com",
                None,
                false
            ),
            "not in the plain binding"
        );
        let other = json!({"title": "other", "expression": until["expression"]});
        assert!(
            !edit_binding(
                &mut policy,
                "roles/run.invoker",
                "user:b@example.com",
                Some(&other),
                false
            ),
            "titles differ"
        );
        assert!(edit_binding(
            &mut policy,
            "roles/run.invoker",
            "user:b@example.com",
            Some(&until),
            false
        ));
        assert_eq!(
            policy["bindings"],
            json!([{"role": "roles/run.invoker", "members": ["user:a@example.com"]}])
        );
        assert_eq!(
            policy["etag"], "BwX",
            "etag kept for optimistic concurrency"
        );
    }

    #[test]
    fn the_policy_page_lists_principals_and_disables_what_the_viewer_lacks() {
        let view = |allowed: &[&str]| IamView {
            display_name: "Demo <p>".to_owned(),
            policy: Ok(json!({"bindings": [
                {"role": "roles/viewer", "members": ["user:<x>@example.com"]},
                {"role": "roles/run.invoker", "members": ["group:g@example.com"], "condition": {"title": "weekdays", "expression": "true"}},
            ]})),
            allowed: allowed.iter().map(|p| (*p).to_owned()).collect(),
            ancestors: vec![
                (
                    "folders/12".to_owned(),
                    Ok(
                        json!({"bindings": [{"role": "roles/run.admin", "members": ["group:ops@example.com"]}]}),
                    ),
                ),
                (
                    "organizations/34".to_owned(),
                    Err(ApiError {
                        status: 403,
                        message: "denied".to_owned(),
                    }),
                ),
            ],
        };
        let html = render_iam(
            &session(),
            Container::Project,
            "p",
            &view(&["resourcemanager.projects.setIamPolicy"]),
        );
        assert!(!html.contains("disabled"));
        assert!(
            html.find("roles/run.invoker").unwrap() < html.find("roles/viewer").unwrap(),
            "by role"
        );
        assert!(html.contains("<td>group:g@example.com</td><td>weekdays: true</td>"));
        assert!(html.contains(
            "aria-label=\"Remove group:g@example.com from roles/run.invoker (condition weekdays)\""
        ));
        assert!(html.contains("user:&lt;x&gt;@example.com") && !html.contains("<x>"));
        assert!(html.contains("Demo &lt;p&gt;"));
        assert!(html.contains("<a href=\"/console/folders/12/iam\">folders/12</a>"));
        assert!(html.contains("<a href=\"/console/organizations/34/iam\">organizations/34</a>"));
        assert!(html.contains("<td>roles/run.admin</td><td>group:ops@example.com</td>"));
        assert!(html.contains("You cannot read this policy: denied"));
        let viewer_only = render_iam(&session(), Container::Project, "p", &view(&[]));
        assert!(viewer_only.contains(
            "You need the permission resourcemanager.projects.setIamPolicy on this project."
        ));
        assert_eq!(viewer_only.matches("<fieldset disabled").count(), 1);
        assert_eq!(
            viewer_only.matches("type=\"submit\" disabled").count(),
            2,
            "each Remove"
        );
        let unreadable = IamView {
            policy: Err(ApiError {
                status: 403,
                message: "Permission denied".to_owned(),
            }),
            ..view(&[])
        };
        let html = render_iam(&session(), Container::Folder, "12", &unreadable);
        assert!(html.contains("You cannot read the IAM policy of folders/12: Permission denied"));
    }
}
