//! Organization policies of a project, folder or organization: every constraint with the
//! policy set on this resource, the effective policy (Org Policy v2 `getEffectivePolicy`), and
//! where an inherited value comes from.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use crate::Console;
use crate::client::ApiError;
use crate::html::{Crumb, esc, url_component as enc};
use crate::iam::{Container, container_nav};
use crate::pages::{api_error_page, ok_page, project_crumbs, project_nav, signed_in, str_of};

pub async fn project_policies(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    policies_page(console, headers, Container::Project, id).await
}

pub async fn folder_policies(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    policies_page(console, headers, Container::Folder, id).await
}

pub async fn organization_policies(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    policies_page(console, headers, Container::Organization, id).await
}

fn console_policies_path(kind: Container, id: &str) -> String {
    format!("/console/{}/{}/policies", kind.collection(), enc(id))
}

/// One constraint's row.
struct Row {
    constraint: Value,
    /// The policy set on this resource; `Ok(None)` when none is.
    own: Result<Option<Value>, ApiError>,
    effective: Result<Value, ApiError>,
    /// The nearest ancestor that sets a policy for the constraint, with its state.
    /// Or the first ancestor whose policy the viewer may not read: beyond it nothing can be told.
    source: Option<(String, Result<String, ApiError>)>,
}

async fn policies_page(
    console: Console,
    headers: HeaderMap,
    kind: Container,
    id: String,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let token = &session.access_token;
    let resource = format!("{}/{}", kind.collection(), id);
    let title = format!("Organization policies of {resource}");
    let mut crumbs: Vec<Crumb> = match kind {
        Container::Project => project_crumbs(&id),
        _ => vec![("Projects".to_owned(), "/console".to_owned())],
    };
    crumbs.push(("Organization policies".to_owned(), String::new()));
    let base = format!("/v2/{}/{}", kind.collection(), enc(&id));
    let constraints = match console
        .client
        .call(token, "GET", &format!("{base}/constraints"), None)
        .await
    {
        Ok(answer) => answer["constraints"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        Err(error) => return api_error_page(&session, &title, &crumbs, &error),
    };
    let ancestors = ancestry(&console, token, kind, &id).await;
    let mut rows = Vec::new();
    for constraint in constraints {
        let short = str_of(&constraint, "name")
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let own = match console
            .client
            .call(
                token,
                "GET",
                &format!("{base}/policies/{}", enc(&short)),
                None,
            )
            .await
        {
            Ok(policy) => Ok(Some(policy)),
            Err(error) if error.status == 404 => Ok(None),
            Err(error) => Err(error),
        };
        let effective = console
            .client
            .call(
                token,
                "GET",
                &format!("{base}/policies/{}:getEffectivePolicy", enc(&short)),
                None,
            )
            .await;
        let mut source = None;
        if !matches!(own, Ok(Some(_))) {
            for ancestor in &ancestors {
                match console
                    .client
                    .call(
                        token,
                        "GET",
                        &format!("/v2/{ancestor}/policies/{}", enc(&short)),
                        None,
                    )
                    .await
                {
                    Ok(policy) => {
                        source = Some((ancestor.clone(), Ok(spec_summary(&policy))));
                        break;
                    }
                    Err(error) if error.status == 404 => {}
                    Err(error) => {
                        source = Some((ancestor.clone(), Err(error)));
                        break;
                    }
                }
            }
        }
        rows.push(Row {
            constraint,
            own,
            effective,
            source,
        });
    }
    let mut body = if kind == Container::Project {
        project_nav(&id, "Organization policies")
    } else {
        container_nav(kind, &id, "Organization policies")
    };
    body.push_str(&render_policies(kind, &id, &rows, &ancestors));
    ok_page(&session, &title, &crumbs, &body)
}

/// The resource's ancestors, nearest first.
async fn ancestry(console: &Console, token: &str, kind: Container, id: &str) -> Vec<String> {
    let mut ancestors = Vec::new();
    if kind == Container::Organization {
        return ancestors;
    }
    let mut current = format!("{}/{}", kind.collection(), id);
    for _ in 0..12 {
        let parent = console
            .client
            .call(token, "GET", &format!("/v3/{current}"), None)
            .await
            .ok()
            .and_then(|r| r["parent"].as_str().map(str::to_owned));
        let Some(parent) = parent else {
            break;
        };
        ancestors.push(parent.clone());
        if !parent.starts_with("folders/") {
            break;
        }
        current = parent;
    }
    ancestors
}

/// A policy's rules in words, boolean and list constraints alike.
pub(crate) fn spec_summary(policy: &Value) -> String {
    let spec = &policy["spec"];
    if spec["reset"].as_bool() == Some(true) {
        return "reset to the constraint's default".to_owned();
    }
    let mut parts = Vec::new();
    for rule in spec["rules"].as_array().into_iter().flatten() {
        let mut part = if let Some(enforce) = rule["enforce"].as_bool() {
            if enforce { "enforced" } else { "not enforced" }.to_owned()
        } else if rule["allowAll"].as_bool() == Some(true) {
            "allow all".to_owned()
        } else if rule["denyAll"].as_bool() == Some(true) {
            "deny all".to_owned()
        } else {
            let list = |key: &str| -> Vec<&str> {
                rule["values"][key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect()
            };
            let mut values = Vec::new();
            if !list("allowedValues").is_empty() {
                values.push(format!("allowed: {}", list("allowedValues").join(", ")));
            }
            if !list("deniedValues").is_empty() {
                values.push(format!("denied: {}", list("deniedValues").join(", ")));
            }
            values.join("; ")
        };
        if let Some(condition) = rule["condition"]["expression"].as_str() {
            let _ = write!(part, " when {condition}");
        }
        parts.push(part);
    }
    if spec["inheritFromParent"].as_bool() == Some(true) {
        parts.push("merged with the parent's".to_owned());
    }
    if parts.is_empty() {
        "no rules (the constraint's default)".to_owned()
    } else {
        parts.join(", ")
    }
}

fn render_policies(kind: Container, id: &str, rows: &[Row], ancestors: &[String]) -> String {
    let mut body = String::new();
    if !ancestors.is_empty() {
        body.push_str("<p>Inherits from: ");
        let links: Vec<String> = ancestors
            .iter()
            .map(|a| match Container::parse(a) {
                Some((kind, id)) => format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&console_policies_path(kind, id)),
                    esc(a)
                ),
                None => esc(a),
            })
            .collect();
        body.push_str(&links.join(" › "));
        body.push_str("</p>");
    }
    body.push_str(
        "<table class=\"orgpolicies\"><caption>Constraints</caption><thead><tr><th scope=\"col\">Constraint</th>\
         <th scope=\"col\">Set on this resource</th><th scope=\"col\">Effective here</th><th scope=\"col\">Where the value comes from</th></tr></thead><tbody>",
    );
    for row in rows {
        let short = str_of(&row.constraint, "name")
            .rsplit('/')
            .next()
            .unwrap_or_default();
        let name = if kind == Container::Project {
            format!(
                "<a href=\"/console/projects/{}/policies/{}\">{}</a>",
                enc(id),
                enc(short),
                esc(short)
            )
        } else {
            esc(short)
        };
        let own = match &row.own {
            Ok(Some(policy)) => spec_summary(policy),
            Ok(None) => "not set".to_owned(),
            Err(error) => format!("cannot be read: {}", error.message),
        };
        let effective = match &row.effective {
            Ok(policy) => spec_summary(policy),
            Err(error) => format!("cannot be read: {}", error.message),
        };
        let source = match (&row.own, &row.source) {
            (Ok(Some(_)), _) => "this resource".to_owned(),
            (_, Some((ancestor, Ok(state)))) => format!("inherited from {ancestor} ({state})"),
            (_, Some((ancestor, Err(error)))) => format!(
                "set above: you may not read the policy of {ancestor} ({})",
                error.message
            ),
            _ => format!(
                "the constraint's default ({})",
                if str_of(&row.constraint, "constraintDefault") == "DENY" {
                    "deny"
                } else {
                    "allow"
                }
            ),
        };
        let _ = write!(
            body,
            "<tr data-constraint=\"{}\"><th scope=\"row\">{name}<br><span class=\"muted\">{}</span></th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(short),
            esc(str_of(&row.constraint, "displayName")),
            esc(&own),
            esc(&effective),
            esc(&source),
        );
    }
    body.push_str("</tbody></table>");
    body
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn specs_in_words() {
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
            (json!({"spec": {}}), "no rules (the constraint's default)"),
            (
                json!({"spec": {"inheritFromParent": true, "rules": [{"values": {"allowedValues": ["is:a.com"], "deniedValues": ["b"]}}]}}),
                "allowed: is:a.com; denied: b, merged with the parent's",
            ),
            (
                json!({"spec": {"rules": [{"denyAll": true, "condition": {"expression": "resource.matchTag('o/env', 'prod')"}}, {"allowAll": true}]}}),
                "deny all when resource.matchTag('o/env', 'prod'), allow all",
            ),
        ];
        for (policy, expected) in cases {
            assert_eq!(spec_summary(&policy), expected, "{policy}");
        }
    }

    #[test]
    fn rows_say_where_the_value_comes_from() {
        let constraint = |name: &str| json!({"name": format!("projects/p/constraints/{name}"), "displayName": "<d>", "constraintDefault": "ALLOW"});
        let enforced = json!({"spec": {"rules": [{"enforce": true}]}});
        let rows = [
            Row {
                constraint: constraint("a"),
                own: Ok(Some(enforced.clone())),
                effective: Ok(enforced.clone()),
                source: None,
            },
            Row {
                constraint: constraint("b"),
                own: Ok(None),
                effective: Ok(enforced.clone()),
                source: Some(("organizations/9".to_owned(), Ok("enforced".to_owned()))),
            },
            Row {
                constraint: constraint("d"),
                own: Ok(None),
                effective: Ok(enforced.clone()),
                source: Some((
                    "folders/1".to_owned(),
                    Err(ApiError {
                        status: 403,
                        message: "denied".to_owned(),
                    }),
                )),
            },
            Row {
                constraint: constraint("c"),
                own: Ok(None),
                effective: Ok(json!({"spec": {}})),
                source: None,
            },
        ];
        let html = render_policies(
            Container::Project,
            "p",
            &rows,
            &["folders/1".to_owned(), "organizations/9".to_owned()],
        );
        assert!(html.contains("<a href=\"/console/folders/1/policies\">folders/1</a> › <a href=\"/console/organizations/9/policies\">organizations/9</a>"));
        assert!(html.contains("<td>enforced</td><td>enforced</td><td>this resource</td>"));
        assert!(html.contains(
            "<td>not set</td><td>enforced</td><td>inherited from organizations/9 (enforced)</td>"
        ));
        assert!(html.contains("<td>the constraint&#39;s default (allow)</td>"));
        assert!(
            html.contains("<td>set above: you may not read the policy of folders/1 (denied)</td>")
        );
        assert!(html.contains("href=\"/console/projects/p/policies/a\""));
        assert!(html.contains("&lt;d&gt;"));
    }
}
