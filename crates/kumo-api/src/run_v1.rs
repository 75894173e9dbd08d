//! Cloud Run Admin API v1 (Knative `serving.knative.dev/v1`): services as another view of the
//! stored v2 resource, converted by `kumo_wire::run_v1`. Bodies may be JSON or YAML (what
//! `gcloud run services replace` reads). Writes are synchronous, as in Knative.
//!
//! Which region a `namespaces/{ns}` path means: Google serves these paths on regional hosts
//! (`REGION-run.googleapis.com`); Kumo serves every region on one host, so the region is, in
//! order: the `{location}` of a `/v1/projects/*/locations/*` path; the body's
//! `cloud.googleapis.com/location` label; a `REGION-run.` prefix of the `Host` header; for an
//! existing service, the one region that holds a service of that name; else `us-central1`
//! (gcloud's most common default). A list without a region lists every region; `labelSelector`
//! filters it (`fieldSelector`, `watch` and the like are ignored, as Cloud Run documents).

use kumo_control::audit::AuditLog;
use kumo_control::run::services::{ApplyMode, ApplyService, ServiceKey};
use kumo_control::{Call, Error, FieldViolation, ProjectInfo};
use kumo_wire::run_v1::{
    self, LOCATION_LABEL, ListMeta, ListServicesResponse, SERVING_API_VERSION,
};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::audit::{Audited, audited};
use crate::run_v2::{
    project_id, resolve_or_refuse, revision_resource, set_policy, test_permissions,
};
use crate::{Api, Reply, Request, ok};

/// The region Kumo assumes when a v1 request names none.
pub const DEFAULT_REGION: &str = "us-central1";

fn namespace(req: &Request) -> &str {
    match req.param("namespace") {
        "" => req.param("project"),
        namespace => namespace,
    }
}

fn audit(api: &Api, req: &Request, method: &'static str, log: AuditLog, name: &str) -> Audited {
    let project = project_id(api, namespace(req));
    let location = match req.param("location") {
        "" => host_region(req).unwrap_or_default(),
        location => location.to_owned(),
    };
    Audited {
        service_name: "run.googleapis.com",
        method_name: method,
        resource_name: if name.is_empty() {
            format!("namespaces/{}", namespace(req))
        } else {
            format!("namespaces/{}/services/{name}", namespace(req))
        },
        log_parent: format!("projects/{project}"),
        log,
        resource: revision_resource(&project, &location, name),
    }
}

/// `us-central1` from a `Host: us-central1-run.googleapis.com` (or any `REGION-run.` host).
fn host_region(req: &Request) -> Option<String> {
    let host = req.headers.get("host")?.to_str().ok()?;
    let first = host.split('.').next()?;
    let region = first.strip_suffix("-run")?;
    (!region.is_empty()).then(|| region.to_owned())
}

/// A body as JSON or YAML; unknown fields get Google's text either way.
fn body<T: DeserializeOwned>(req: &Request, root: &str) -> Result<T, Error> {
    // A JSON object starts with `{`; anything else is read as YAML, whatever the content type
    // says (tools send YAML files as `application/json` or `application/octet-stream`).
    let yaml = req
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("yaml"))
        || req
            .body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|first| *first != b'{');
    if !yaml {
        return req.json(root);
    }
    serde_yaml::from_slice(&req.body).map_err(|error| {
        let text = error.to_string();
        let message = match text.split("unknown field `").nth(1).and_then(|rest| rest.split('`').next()) {
            Some(name) => format!("Invalid YAML payload received. Unknown name \"{name}\" at '{root}': Cannot find field."),
            None => format!("Invalid YAML payload received. {text}"),
        };
        Error::InvalidArgument {
            message: message.clone(),
            violations: vec![FieldViolation { field: root.to_owned(), description: message }],
        }
    })
}

fn violations(list: Vec<kumo_wire::rpc::FieldViolation>) -> Error {
    let violations: Vec<FieldViolation> = list
        .into_iter()
        .map(|violation| FieldViolation {
            field: violation.field,
            description: violation.description,
        })
        .collect();
    let message = violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ");
    Error::InvalidArgument {
        message,
        violations,
    }
}

/// v1 names resources `namespaces/P/services/S`; the control plane's messages use the v2 name.
fn v1_error(error: Error, key: &ServiceKey, namespace: &str) -> Error {
    let v2 = key.name();
    let v1 = format!("namespaces/{namespace}/services/{}", key.service);
    let rewrite = |text: String| text.replace(&v2, &v1);
    match error {
        Error::PermissionDenied {
            message,
            permission,
            resource,
        } => Error::PermissionDenied {
            message: rewrite(message),
            permission,
            resource: resource.map(rewrite),
        },
        other => other,
    }
}

fn dry_run(req: &Request) -> Result<bool, Error> {
    match req.query.get("dryRun") {
        None | Some("") => Ok(false),
        Some("all") => Ok(true),
        Some(other) => Err(Error::invalid_field(
            "dryRun",
            format!("Invalid dryRun value \"{other}\": only \"all\" is supported."),
        )),
    }
}

/// Resolves the project, refusing an unknown one with `permission` on the v1 name.
fn project(
    api: &Api,
    call: &Call,
    req: &Request,
    service: &str,
    permission: &str,
) -> Result<ProjectInfo, Error> {
    match api.control.resolve_project(namespace(req))? {
        Some(info) => Ok(info),
        None => {
            let location = req.param("location");
            let key = api.control.service_key(
                call,
                namespace(req),
                if location.is_empty() {
                    DEFAULT_REGION
                } else {
                    location
                },
                service,
                permission,
            );
            match key {
                Ok(_) => Err(Error::internal("unknown project resolved")),
                Err(Error::PermissionDenied { .. }) => Err(Error::permission_denied(
                    permission,
                    &format!("namespaces/{}/services/{service}", namespace(req)),
                )),
                Err(other) => Err(other),
            }
        }
    }
}

/// The region of an existing (or, with `label`, a new) service; see the module comment.
fn region(
    api: &Api,
    req: &Request,
    project: &ProjectInfo,
    service: &str,
    label: Option<&str>,
) -> Result<String, Error> {
    if !req.param("location").is_empty() {
        return Ok(req.param("location").to_owned());
    }
    if let Some(label) = label.filter(|label| !label.is_empty()) {
        return Ok(label.to_owned());
    }
    if let Some(region) = host_region(req) {
        return Ok(region);
    }
    let mut found = api.control.service_locations(project, service)?;
    if found.len() == 1 {
        return Ok(found.remove(0));
    }
    Ok(DEFAULT_REGION.to_owned())
}

fn v1_view(service: &kumo_wire::run_v2::Service, project: &ProjectInfo) -> run_v1::Service {
    run_v1::service_from_v2(service, &project.number)
}

/// `POST /apis/serving.knative.dev/v1/namespaces/{namespace}/services`
pub async fn create_service(api: Api, req: Request) -> Reply {
    let incoming: run_v1::Service = body(&req, "service")?;
    let name = incoming.metadata.name.clone();
    let meta = audit(
        &api,
        &req,
        "google.cloud.run.v1.Services.CreateService",
        AuditLog::Activity,
        &name,
    );
    let service = audited(&api, &req, meta, async |call| {
        write(
            &api,
            call,
            &req,
            incoming,
            &name,
            ApplyMode::Create,
            "google.cloud.run.v1.Services.CreateService",
        )
        .await
    })
    .await?;
    ok(&service)
}

/// `PUT /apis/serving.knative.dev/v1/namespaces/{namespace}/services/{service}` (and the
/// `/v1/projects/*/locations/*/services/*` form): replaces the whole service.
pub async fn replace_service(api: Api, req: Request) -> Reply {
    let incoming: run_v1::Service = body(&req, "service")?;
    let name = req.param("service").to_owned();
    let meta = audit(
        &api,
        &req,
        "google.cloud.run.v1.Services.ReplaceService",
        AuditLog::Activity,
        &name,
    );
    let service = audited(&api, &req, meta, async |call| {
        if incoming.metadata.name != name {
            return Err(Error::invalid_field(
                "metadata.name",
                format!(
                    "The service name '{}' does not match the name in the URL, '{name}'.",
                    incoming.metadata.name
                ),
            ));
        }
        write(
            &api,
            call,
            &req,
            incoming,
            &name,
            ApplyMode::Replace,
            "google.cloud.run.v1.Services.ReplaceService",
        )
        .await
    })
    .await?;
    ok(&service)
}

async fn write(
    api: &Api,
    call: &Call,
    req: &Request,
    incoming: run_v1::Service,
    name: &str,
    mode: ApplyMode,
    method_name: &'static str,
) -> Result<run_v1::Service, Error> {
    let permission = if mode == ApplyMode::Create {
        "run.services.create"
    } else {
        "run.services.update"
    };
    let project = project(api, call, req, name, permission)?;
    let location = region(
        api,
        req,
        &project,
        name,
        incoming
            .metadata
            .labels
            .get(LOCATION_LABEL)
            .map(String::as_str),
    )?;
    if mode == ApplyMode::Create {
        kumo_control::run::services::validate_service_id(name).map_err(|_| {
            Error::invalid_field(
                "metadata.name",
                format!("Invalid service name '{name}': it must contain only lowercase letters, digits and hyphens, begin with a letter, not end with a hyphen, and be fewer than 50 characters."),
            )
        })?;
    }
    let key = ServiceKey {
        project,
        location,
        service: name.to_owned(),
    };
    let parent = format!("projects/{}/locations/{}", key.project.id, key.location);
    let desired = run_v1::service_to_v2(&incoming, &parent).map_err(violations)?;
    let validate_only = dry_run(req)?;
    let applied = api
        .control
        .apply_service(
            call,
            &key,
            ApplyService {
                desired,
                mode,
                validate_only,
                method_name,
            },
        )
        .await
        .map_err(|error| v1_error(error, &key, namespace(req)))?;
    Ok(v1_view(&applied.service, &key.project))
}

/// `GET /apis/serving.knative.dev/v1/namespaces/{namespace}/services/{service}`
pub async fn get_service(api: Api, req: Request) -> Reply {
    let name = req.param("service").to_owned();
    let meta = audit(
        &api,
        &req,
        "google.cloud.run.v1.Services.GetService",
        AuditLog::DataAccess,
        &name,
    );
    let service = audited(&api, &req, meta, async |call| {
        let project = project(&api, call, &req, &name, "run.services.get")?;
        let location = region(&api, &req, &project, &name, None)?;
        let key = ServiceKey {
            project,
            location,
            service: name.clone(),
        };
        let service = api
            .control
            .get_service(call, &key)
            .map_err(|error| v1_error(error, &key, namespace(&req)))?;
        Ok(v1_view(&service, &key.project))
    })
    .await?;
    ok(&service)
}

/// `DELETE /apis/serving.knative.dev/v1/namespaces/{namespace}/services/{service}` → a Status.
pub async fn delete_service(api: Api, req: Request) -> Reply {
    let name = req.param("service").to_owned();
    let meta = audit(
        &api,
        &req,
        "google.cloud.run.v1.Services.DeleteService",
        AuditLog::Activity,
        &name,
    );
    let status = audited(&api, &req, meta, async |call| {
        let project = project(&api, call, &req, &name, "run.services.delete")?;
        let location = region(&api, &req, &project, &name, None)?;
        let key = ServiceKey { project, location, service: name.clone() };
        let deleted = api
            .control
            .delete_service(call, &key, dry_run(&req)?, None)
            .await
            .map_err(|error| v1_error(error, &key, namespace(&req)))?;
        Ok(json!({
            "apiVersion": "v1",
            "kind": "Status",
            "status": "Success",
            "details": {"name": name, "group": "serving.knative.dev", "kind": "services", "uid": deleted.uid},
        }))
    })
    .await?;
    ok(&status)
}

/// `GET /apis/serving.knative.dev/v1/namespaces/{namespace}/services` (`limit`, `continue`).
pub async fn list_services(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.cloud.run.v1.Services.ListServices",
        AuditLog::DataAccess,
        "",
    );
    let response = audited(&api, &req, meta, async |call| {
        let project = resolve_or_refuse(&api, call, namespace(&req), "run.services.list")?;
        let location = match req.param("location") {
            "" | "-" => host_region(&req),
            location => Some(location.to_owned()),
        };
        let selector = LabelSelector::parse(req.query.get("labelSelector").unwrap_or_default())?;
        let (services, next) = api.control.list_services(
            call,
            &project,
            location.as_deref(),
            req.query.int("limit")?,
            req.query.get("continue"),
            false,
        )?;
        Ok(ListServicesResponse {
            api_version: SERVING_API_VERSION.to_owned(),
            kind: "ServiceList".to_owned(),
            metadata: ListMeta {
                self_link: format!(
                    "/apis/serving.knative.dev/v1/namespaces/{}/services",
                    project.number
                ),
                continue_token: next.unwrap_or_default(),
                ..ListMeta::default()
            },
            items: services
                .iter()
                .map(|service| v1_view(service, &project))
                .filter(|service| selector.matches(&service.metadata.labels))
                .collect(),
            unreachable: Vec::new(),
        })
    })
    .await?;
    ok(&response)
}

/// `GET /v1/projects/{project}/locations/{location}/services/{service}:getIamPolicy`
pub async fn get_iam_policy(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.cloud.run.v1.Services.GetIamPolicy",
        AuditLog::DataAccess,
        req.param("service"),
    );
    let policy = audited(&api, &req, meta, async |call| {
        let version = req
            .query
            .int("options.requestedPolicyVersion")?
            .unwrap_or(0);
        let key = api.control.service_key(
            call,
            req.param("project"),
            req.param("location"),
            req.param("service"),
            "run.services.getIamPolicy",
        )?;
        api.control.get_service_iam_policy(call, &key, version)
    })
    .await?;
    ok(&policy)
}

/// `POST /v1/projects/{project}/locations/{location}/services/{service}:setIamPolicy`
pub async fn set_iam_policy(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.cloud.run.v1.Services.SetIamPolicy",
        AuditLog::Activity,
        req.param("service"),
    );
    let policy = audited(&api, &req, meta, async |call| {
        set_policy(&api, call, &req, "run.services.setIamPolicy")
    })
    .await?;
    ok(&policy)
}

/// `POST /v1/projects/{project}/locations/{location}/services/{service}:testIamPermissions`
pub async fn test_iam_permissions(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.cloud.run.v1.Services.TestIamPermissions",
        AuditLog::DataAccess,
        req.param("service"),
    );
    let response = audited(&api, &req, meta, async |call| {
        test_permissions(&api, call, &req)
    })
    .await?;
    ok(&response)
}

/// A Kubernetes label selector as v1 `list` accepts it: `k=v`, `k==v`, `k!=v`, `k`, `!k`,
/// `k in (a,b)`, `k notin (a,b)`, comma-separated, all of which must hold.
#[derive(Debug, Default, PartialEq, Eq)]
struct LabelSelector(Vec<Requirement>);

#[derive(Debug, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

impl LabelSelector {
    fn parse(text: &str) -> Result<LabelSelector, Error> {
        let bad =
            || Error::invalid_field("labelSelector", format!("Invalid label selector: {text}"));
        // Split on commas outside parentheses.
        let mut parts = Vec::new();
        let (mut depth, mut start) = (0usize, 0usize);
        for (index, ch) in text.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => depth = depth.checked_sub(1).ok_or_else(bad)?,
                ',' if depth == 0 => {
                    parts.push(&text[start..index]);
                    start = index + 1;
                }
                _ => {}
            }
        }
        if depth != 0 {
            return Err(bad());
        }
        parts.push(&text[start..]);
        let mut requirements = Vec::new();
        for part in parts
            .into_iter()
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let values = |list: &str| -> Result<Vec<String>, Error> {
                let inner = list
                    .trim()
                    .strip_prefix('(')
                    .and_then(|l| l.strip_suffix(')'))
                    .ok_or_else(bad)?;
                Ok(inner
                    .split(',')
                    .map(|value| value.trim().to_owned())
                    .collect())
            };
            let requirement = if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotIn(key.trim().to_owned(), vec![value.trim().to_owned()])
            } else if let Some((key, value)) =
                part.split_once("==").or_else(|| part.split_once('='))
            {
                Requirement::In(key.trim().to_owned(), vec![value.trim().to_owned()])
            } else if let Some((key, list)) = part.split_once(" notin ") {
                Requirement::NotIn(key.trim().to_owned(), values(list)?)
            } else if let Some((key, list)) = part.split_once(" in ") {
                Requirement::In(key.trim().to_owned(), values(list)?)
            } else if let Some(key) = part.strip_prefix('!') {
                Requirement::Absent(key.trim().to_owned())
            } else {
                Requirement::Exists(part.to_owned())
            };
            let key = match &requirement {
                Requirement::In(key, _)
                | Requirement::NotIn(key, _)
                | Requirement::Exists(key)
                | Requirement::Absent(key) => key,
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(bad());
            }
            requirements.push(requirement);
        }
        Ok(LabelSelector(requirements))
    }

    fn matches(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.0.iter().all(|requirement| match requirement {
            Requirement::In(key, values) => {
                labels.get(key).is_some_and(|value| values.contains(value))
            }
            Requirement::NotIn(key, values) => {
                labels.get(key).is_none_or(|value| !values.contains(value))
            }
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::Absent(key) => !labels.contains_key(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors() {
        let labels: std::collections::BTreeMap<String, String> = [
            ("env", "prod"),
            ("cloud.googleapis.com/location", "us-central1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let cases = [
            ("", true),
            ("env=prod", true),
            ("env==prod", true),
            ("env!=prod", false),
            ("env in (dev, prod)", true),
            ("env notin (dev,prod)", false),
            ("env,team", false),
            ("!team", true),
            ("cloud.googleapis.com/location=us-central1,env=prod", true),
            ("team!=x", true),
        ];
        for (text, expected) in cases {
            assert_eq!(
                LabelSelector::parse(text).unwrap().matches(&labels),
                expected,
                "{text}"
            );
        }
        for bad in ["env in (a", "env in a", "a b"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }
}
