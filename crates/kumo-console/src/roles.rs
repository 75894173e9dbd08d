//! Roles: the project's custom roles, and a browser over the full predefined catalog
//! (`GET /v1/roles?view=FULL`, every page) searched by role name, title or permission.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use crate::Console;
use crate::client::ApiError;
use crate::html::{Crumb, Notice, esc, notice, url_component as enc};
use crate::iam::{Container, container_nav};
use crate::pages::{api_error_page, ok_page, project_crumbs, project_nav, signed_in, str_of};

/// More matches than this are counted, not listed.
const MAX_SHOWN: usize = 200;

fn permissions_of(role: &Value) -> Vec<&str> {
    role["includedPermissions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn console_role_path(name: &str) -> String {
    // `roles/run.invoker` → `/console/roles/run.invoker`.
    format!(
        "/console/roles/{}",
        enc(name.strip_prefix("roles/").unwrap_or(name))
    )
}

pub async fn project_roles(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> Response {
    custom_roles(console, headers, Container::Project, project).await
}

pub async fn organization_roles(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(organization): Path<String>,
) -> Response {
    custom_roles(console, headers, Container::Organization, organization).await
}

fn roles_crumbs(kind: Container, id: &str) -> Vec<Crumb> {
    let mut crumbs = match kind {
        Container::Project => project_crumbs(id),
        _ => vec![
            ("Projects".to_owned(), "/console".to_owned()),
            (
                format!("{}/{id}", kind.collection()),
                format!("/console/{}/{}/iam", kind.collection(), enc(id)),
            ),
        ],
    };
    crumbs.push((
        "Roles".to_owned(),
        format!("/console/{}/{}/roles", kind.collection(), enc(id)),
    ));
    crumbs
}

/// Custom roles live on projects and organizations.
async fn custom_roles(
    console: Console,
    headers: HeaderMap,
    kind: Container,
    id: String,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let title = "Roles";
    let mut crumbs = roles_crumbs(kind, &id);
    if let Some(last) = crumbs.last_mut() {
        last.1 = String::new();
    }
    let mut body = match kind {
        Container::Project => project_nav(&id, "Roles"),
        _ => container_nav(kind, &id, "Roles"),
    };
    body.push_str(&search_form(
        "",
        if kind == Container::Project { &id } else { "" },
    ));
    let _ = write!(
        body,
        "<section aria-labelledby=\"custom-h\"><h2 id=\"custom-h\">Custom roles of this {}</h2>",
        kind.noun()
    );
    match console
        .client
        .call(
            &session.access_token,
            "GET",
            &format!(
                "/v1/{}/{}/roles?view=FULL&showDeleted=true",
                kind.collection(),
                enc(&id)
            ),
            None,
        )
        .await
    {
        Ok(answer) => body.push_str(&render_custom_roles(
            kind,
            &id,
            &answer["roles"].as_array().cloned().unwrap_or_default(),
        )),
        Err(error) => body.push_str(&notice(Notice::Error, &error.message)),
    }
    body.push_str("</section>");
    ok_page(&session, title, &crumbs, &body)
}

fn render_custom_roles(kind: Container, id: &str, roles: &[Value]) -> String {
    if roles.is_empty() {
        return format!("<p>This {} defines no custom roles.</p>", kind.noun());
    }
    let mut body = String::from(
        "<table class=\"roles\"><thead><tr><th scope=\"col\">Role</th><th scope=\"col\">Title</th><th scope=\"col\">Stage</th>\
         <th scope=\"col\">Permissions</th><th scope=\"col\">Status</th></tr></thead><tbody>",
    );
    for role in roles {
        let name = str_of(role, "name");
        let role_id = name.rsplit('/').next().unwrap_or(name);
        let _ = write!(
            body,
            "<tr><th scope=\"row\"><a href=\"/console/{}/{}/customRoles/{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            kind.collection(),
            enc(id),
            enc(role_id),
            esc(name),
            esc(str_of(role, "title")),
            esc(str_of(role, "stage")),
            permissions_of(role).len(),
            if role["deleted"].as_bool() == Some(true) {
                "Deleted"
            } else {
                "Active"
            },
        );
    }
    body.push_str("</tbody></table>");
    body
}

pub async fn project_role(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, role)): Path<(String, String)>,
) -> Response {
    custom_role(console, headers, Container::Project, project, role).await
}

pub async fn organization_role(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((organization, role)): Path<(String, String)>,
) -> Response {
    custom_role(
        console,
        headers,
        Container::Organization,
        organization,
        role,
    )
    .await
}

async fn custom_role(
    console: Console,
    headers: HeaderMap,
    kind: Container,
    id: String,
    role: String,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let mut crumbs = roles_crumbs(kind, &id);
    crumbs.push((role.clone(), String::new()));
    let path = format!(
        "/v1/{}/{}/roles/{}",
        kind.collection(),
        enc(&id),
        enc(&role)
    );
    match console
        .client
        .call(&session.access_token, "GET", &path, None)
        .await
    {
        Ok(answer) => {
            let title = str_of(&answer, "name").to_owned();
            ok_page(&session, &title, &crumbs, &render_role(&answer))
        }
        Err(error) => api_error_page(&session, &role, &crumbs, &error),
    }
}

/// One role: title, description, stage and every permission it grants.
fn render_role(role: &Value) -> String {
    let permissions = permissions_of(role);
    let mut body = format!(
        "<dl class=\"facts\"><dt>Title</dt><dd>{}</dd><dt>Description</dt><dd>{}</dd><dt>Launch stage</dt><dd>{}</dd>{}</dl>\
         <h2 id=\"perms-h\">{} permissions</h2><ul class=\"permissions\" aria-labelledby=\"perms-h\">",
        esc(str_of(role, "title")),
        esc(str_of(role, "description")),
        esc(str_of(role, "stage")),
        if role["deleted"].as_bool() == Some(true) {
            "<dt>Status</dt><dd>Deleted</dd>"
        } else {
            ""
        },
        permissions.len(),
    );
    for permission in permissions {
        let _ = write!(body, "<li><code>{}</code></li>", esc(permission));
    }
    body.push_str("</ul>");
    body
}

fn search_form(query: &str, project: &str) -> String {
    format!(
        "<form method=\"get\" action=\"/console/roles\" role=\"search\"><label for=\"role-q\">Search predefined roles by name, title or permission</label> \
         <input id=\"role-q\" name=\"q\" value=\"{}\" size=\"40\" placeholder=\"run.routes.invoke\">{}\
         <button type=\"submit\">Search</button></form>",
        esc(query),
        if project.is_empty() {
            String::new()
        } else {
            format!(
                "<input type=\"hidden\" name=\"project\" value=\"{}\">",
                esc(project)
            )
        },
    )
}

/// Every predefined role in the FULL view, page after page (once per server: see
/// `Console::role_catalog`).
async fn catalog(console: &Console, token: &str) -> Result<Arc<Vec<Value>>, ApiError> {
    if let Some(roles) = console.role_catalog.get() {
        return Ok(Arc::clone(roles));
    }
    let roles = Arc::new(fetch_catalog(console, token).await?);
    // Two first searches at once both fetch; either answer is the same catalog.
    Ok(Arc::clone(console.role_catalog.get_or_init(|| roles)))
}

async fn fetch_catalog(console: &Console, token: &str) -> Result<Vec<Value>, ApiError> {
    let mut roles = Vec::new();
    let mut page_token = String::new();
    // 2,461 roles at 1,000 a page; the bound only guards against a token that never ends.
    for _ in 0..50 {
        let mut path = "/v1/roles?view=FULL&pageSize=1000".to_owned();
        if !page_token.is_empty() {
            let _ = write!(path, "&pageToken={}", enc(&page_token));
        }
        let answer = console.client.call(token, "GET", &path, None).await?;
        roles.extend(answer["roles"].as_array().cloned().unwrap_or_default());
        match answer["nextPageToken"].as_str() {
            Some(next) if !next.is_empty() => page_token = next.to_owned(),
            _ => break,
        }
    }
    Ok(roles)
}

/// A role that matches the search, with the permissions that matched.
#[derive(Debug, PartialEq)]
struct Match<'a> {
    role: &'a Value,
    by_name: bool,
    permissions: Vec<&'a str>,
}

/// Case-insensitive substring search. Roles whose name or title match come first (by name);
/// then roles that match by permission, smallest first — the narrowest grant is usually the
/// one to give, as the troubleshooter's suggested roles are.
fn search<'a>(roles: &'a [Value], query: &str) -> Vec<Match<'a>> {
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<Match<'a>> = roles
        .iter()
        .filter_map(|role| {
            let by_name = str_of(role, "name").to_lowercase().contains(&needle)
                || str_of(role, "title").to_lowercase().contains(&needle);
            let permissions: Vec<&str> = permissions_of(role)
                .into_iter()
                .filter(|p| p.to_lowercase().contains(&needle))
                .collect();
            (by_name || !permissions.is_empty()).then_some(Match {
                role,
                by_name,
                permissions,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        b.by_name
            .cmp(&a.by_name)
            .then_with(|| {
                if a.by_name {
                    std::cmp::Ordering::Equal
                } else {
                    permissions_of(a.role)
                        .len()
                        .cmp(&permissions_of(b.role).len())
                }
            })
            .then_with(|| str_of(a.role, "name").cmp(str_of(b.role, "name")))
    });
    found
}

fn browser_crumbs(project: &str) -> Vec<Crumb> {
    let mut crumbs = if project.is_empty() {
        vec![("Projects".to_owned(), "/console".to_owned())]
    } else {
        let mut crumbs = project_crumbs(project);
        crumbs.push((
            "Roles".to_owned(),
            format!("/console/projects/{}/roles", enc(project)),
        ));
        crumbs
    };
    crumbs.push(("Predefined roles".to_owned(), String::new()));
    crumbs
}

pub async fn role_browser(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let title = "Predefined roles";
    let project = query.get("project").map(String::as_str).unwrap_or_default();
    let crumbs = browser_crumbs(project);
    let q = query.get("q").map(|q| q.trim()).unwrap_or_default();
    let roles = match catalog(&console, &session.access_token).await {
        Ok(roles) => roles,
        Err(error) => return api_error_page(&session, title, &crumbs, &error),
    };
    let mut body = search_form(q, project);
    body.push_str(&render_search(&roles, q));
    ok_page(&session, title, &crumbs, &body)
}

fn render_search(roles: &[Value], q: &str) -> String {
    if q.is_empty() {
        return format!(
            "<p>{} predefined roles. Search for a role (<code>run.invoker</code>), a title (<code>Cloud Run Invoker</code>) \
             or a permission (<code>run.routes.invoke</code>) to see which roles grant it.</p>",
            roles.len()
        );
    }
    let found = search(roles, q);
    let mut body = format!(
        "<p role=\"status\" id=\"role-count\">{} of {} roles match <code>{}</code>.</p>",
        found.len(),
        roles.len(),
        esc(q)
    );
    if found.is_empty() {
        return body;
    }
    body.push_str(
        "<table class=\"roles\"><caption>Name or title matches first, then the smallest roles that grant a matching permission</caption>\
         <thead><tr><th scope=\"col\">Role</th><th scope=\"col\">Title</th><th scope=\"col\">Stage</th><th scope=\"col\">Permissions</th>\
         <th scope=\"col\">Matching permissions</th></tr></thead><tbody>",
    );
    for found in found.iter().take(MAX_SHOWN) {
        let name = str_of(found.role, "name");
        let shown: Vec<&str> = found.permissions.iter().take(5).copied().collect();
        let more = found.permissions.len().saturating_sub(shown.len());
        let _ = write!(
            body,
            "<tr data-role=\"{}\"><th scope=\"row\"><a href=\"{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            esc(name),
            esc(&console_role_path(name)),
            esc(name),
            esc(str_of(found.role, "title")),
            esc(str_of(found.role, "stage")),
            permissions_of(found.role).len(),
            esc(&shown.join(", ")),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
        );
    }
    body.push_str("</tbody></table>");
    if found.len() > MAX_SHOWN {
        let _ = write!(
            body,
            "<p>{} more not shown: narrow the search.</p>",
            found.len() - MAX_SHOWN
        );
    }
    body
}

pub async fn predefined_role(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(role): Path<String>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let name = format!("roles/{role}");
    let mut crumbs = browser_crumbs("");
    if let Some(last) = crumbs.last_mut() {
        last.1 = "/console/roles".to_owned();
    }
    crumbs.push((name.clone(), String::new()));
    match console
        .client
        .call(
            &session.access_token,
            "GET",
            &format!("/v1/roles/{}", enc(&role)),
            None,
        )
        .await
    {
        Ok(answer) => ok_page(&session, &name, &crumbs, &render_role(&answer)),
        Err(error) => api_error_page(&session, &name, &crumbs, &error),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn catalog() -> Vec<Value> {
        vec![
            json!({"name": "roles/owner", "title": "Owner", "includedPermissions": ["run.routes.invoke", "run.services.get", "x.y.z"]}),
            json!({"name": "roles/run.invoker", "title": "Cloud Run Invoker", "includedPermissions": ["run.jobs.run", "run.routes.invoke"]}),
            json!({"name": "roles/run.viewer", "title": "Cloud Run Viewer", "includedPermissions": ["run.services.get"]}),
            json!({"name": "roles/viewer", "title": "Viewer <all>", "includedPermissions": ["run.services.get"]}),
        ]
    }

    #[test]
    fn search_by_permission_lists_the_smallest_roles_first() {
        let roles = catalog();
        let names = |q: &str| -> Vec<&str> {
            search(&roles, q)
                .iter()
                .map(|m| str_of(m.role, "name"))
                .collect()
        };
        assert_eq!(
            names("run.routes.invoke"),
            ["roles/run.invoker", "roles/owner"]
        );
        assert_eq!(
            names("RUN.ROUTES"),
            ["roles/run.invoker", "roles/owner"],
            "case-insensitive"
        );
        assert_eq!(
            names("viewer"),
            ["roles/run.viewer", "roles/viewer"],
            "name and title matches, by name"
        );
        assert_eq!(names("cloud run invoker"), ["roles/run.invoker"]);
        assert!(names("  ").is_empty());
        assert!(names("nothing.like.this").is_empty());
        let found = search(&roles, "run.routes.invoke");
        assert_eq!(found[0].permissions, ["run.routes.invoke"]);
    }

    #[test]
    fn results_link_each_role_and_escape_titles() {
        let html = render_search(&catalog(), "viewer");
        assert!(html.contains("2 of 4 roles match <code>viewer</code>."));
        assert!(html.contains("<a href=\"/console/roles/run.viewer\">roles/run.viewer</a>"));
        assert!(html.contains("Viewer &lt;all&gt;") && !html.contains("<all>"));
        assert!(render_search(&catalog(), "").contains("4 predefined roles."));
    }

    #[test]
    fn a_role_lists_its_permissions() {
        let html = render_role(
            &json!({"name": "projects/p/roles/ci", "title": "CI", "stage": "GA", "deleted": true,
            "includedPermissions": ["run.services.get", "run.services.list"]}),
        );
        assert!(html.contains("2 permissions"));
        assert!(html.contains("<li><code>run.services.list</code></li>"));
        assert!(html.contains("<dd>Deleted</dd>"));
    }
}
