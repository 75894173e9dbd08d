//! Cloud Logging v2 over REST: `POST /v2/entries:list`, `POST /v2/entries:write` and
//! `GET /v2/{parent}/logs` for projects, folders and organizations.

use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_wire::logging::{ListLogEntriesRequest, WriteLogEntriesRequest, WriteLogEntriesResponse};
use serde_json::json;

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

const SERVICE: &str = "logging.googleapis.com";

/// Audit entries of Logging calls go to the log of the (first) project the call is about.
fn audit(api: &Api, method: &'static str, log: AuditLog, resource_name: &str) -> Audited {
    let log_parent = match resource_name.split('/').collect::<Vec<_>>().as_slice() {
        ["projects", project, ..] => match api.control.resolve_project(project) {
            Ok(Some(info)) => format!("projects/{}", info.id),
            _ => format!("projects/{project}"),
        },
        [kind @ ("folders" | "organizations"), id, ..] => format!("{kind}/{id}"),
        _ => String::new(),
    };
    let project_id = log_parent
        .strip_prefix("projects/")
        .unwrap_or_default()
        .to_owned();
    Audited {
        service_name: SERVICE,
        method_name: method,
        resource_name: resource_name.to_owned(),
        log_parent,
        log,
        resource: MonitoredResource {
            kind: "audited_resource",
            labels: vec![
                ("method", method.to_owned()),
                ("project_id", project_id),
                ("service", SERVICE.to_owned()),
            ],
        },
    }
}

/// `POST /v2/entries:list`
pub async fn list_entries(api: Api, req: Request) -> Reply {
    // A body that does not parse is refused inside the audited call; the audit entry then names
    // no resource.
    let first = req
        .json::<ListLogEntriesRequest>("")
        .ok()
        .and_then(|body| body.resource_names.first().cloned())
        .unwrap_or_default();
    let meta = audit(
        &api,
        "google.logging.v2.LoggingServiceV2.ListLogEntries",
        AuditLog::DataAccess,
        &first,
    );
    let page = audited(&api, &req, meta, async |call| {
        let body: ListLogEntriesRequest = req.json("")?;
        api.control.list_log_entries(call, &body)
    })
    .await?;
    ok(&kumo_control::logging::entries_page_json(&page))
}

/// `POST /v2/entries:write`
pub async fn write_entries(api: Api, req: Request) -> Reply {
    let parsed = req.json::<WriteLogEntriesRequest>("").ok();
    let first = parsed
        .as_ref()
        .map(|body| {
            if body.log_name.is_empty() {
                body.entries
                    .first()
                    .map(|e| e.log_name.clone())
                    .unwrap_or_default()
            } else {
                body.log_name.clone()
            }
        })
        .unwrap_or_default();
    let meta = audit(
        &api,
        "google.logging.v2.LoggingServiceV2.WriteLogEntries",
        AuditLog::DataAccess,
        &first,
    );
    audited(&api, &req, meta, async |call| {
        let body: WriteLogEntriesRequest = req.json("")?;
        api.control.write_log_entries(call, &body)
    })
    .await?;
    ok(&WriteLogEntriesResponse {})
}

/// `GET /v2/{projects|folders|organizations}/{id}/logs`
pub async fn list_logs(api: Api, req: Request) -> Reply {
    let parent = match (
        req.param("project"),
        req.param("folder"),
        req.param("organization"),
    ) {
        (project, _, _) if !project.is_empty() => format!("projects/{project}"),
        (_, folder, _) if !folder.is_empty() => format!("folders/{folder}"),
        (_, _, organization) => format!("organizations/{organization}"),
    };
    let meta = audit(
        &api,
        "google.logging.v2.LoggingServiceV2.ListLogs",
        AuditLog::DataAccess,
        &parent,
    );
    let (names, next) = audited(&api, &req, meta, async |call| {
        let size = match req.query.int("pageSize")? {
            Some(size) if size < 0 => {
                return Err(kumo_control::Error::invalid_field(
                    "page_size",
                    "page_size must not be negative.",
                ));
            }
            Some(size) => usize::try_from(size).unwrap_or(usize::MAX),
            None => 0,
        };
        api.control.list_logs(
            call,
            &parent,
            size,
            req.query.get("pageToken").unwrap_or_default(),
        )
    })
    .await?;
    let mut body = json!({});
    if !names.is_empty() {
        body["logNames"] = json!(names);
    }
    if !next.is_empty() {
        body["nextPageToken"] = json!(next);
    }
    ok(&body)
}
