//! Cloud Run Admin API v2: services, revisions and operations (`/v2/projects/*/locations/*/…`).
//! Writes return `google.longrunning.Operation`s whose metadata and response are the Service.

use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_control::run::services::{
    ApplyMode, ApplyService, ServiceKey, finished_operation, validate_service_id,
};
use kumo_control::{Error, ResourceRef};
use kumo_wire::iam::{SetIamPolicyRequest, TestIamPermissionsRequest, TestIamPermissionsResponse};
use kumo_wire::longrunning::WaitOperationRequest;
use kumo_wire::run_v2::{ListRevisionsResponse, ListServicesResponse, Service};
use serde_json::{Value, json};

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

const RUN: &str = "run.googleapis.com";

/// The project id a `{project}` segment names (numbers resolved), for log names.
pub(crate) fn project_id(api: &Api, project: &str) -> String {
    match api.control.resolve_project(project) {
        Ok(Some(info)) => info.id,
        _ => project.to_owned(),
    }
}

/// The monitored resource of Cloud Run service audit entries (spec §8.1).
pub(crate) fn revision_resource(project: &str, location: &str, service: &str) -> MonitoredResource {
    MonitoredResource {
        kind: "cloud_run_revision",
        labels: vec![
            ("configuration_name", service.to_owned()),
            ("location", location.to_owned()),
            ("project_id", project.to_owned()),
            ("revision_name", String::new()),
            ("service_name", service.to_owned()),
        ],
    }
}

fn service_audit(api: &Api, req: &Request, method: &'static str, log: AuditLog) -> Audited {
    let project = project_id(api, req.param("project"));
    let location = req.param("location");
    // CreateService names the service in the query.
    let service = match req.param("service") {
        "" => req.query.get("serviceId").unwrap_or_default(),
        service => service,
    };
    Audited {
        service_name: RUN,
        method_name: method,
        resource_name: if service.is_empty() {
            format!("projects/{}/locations/{location}", req.param("project"))
        } else {
            format!(
                "projects/{}/locations/{location}/services/{service}",
                req.param("project")
            )
        },
        log_parent: format!("projects/{project}"),
        log,
        resource: revision_resource(&project, location, service),
    }
}

fn project_audit(
    api: &Api,
    req: &Request,
    method: &'static str,
    log: AuditLog,
    resource_name: String,
) -> Audited {
    let project = project_id(api, req.param("project"));
    Audited {
        service_name: RUN,
        method_name: method,
        resource_name,
        log_parent: format!("projects/{project}"),
        log,
        resource: MonitoredResource {
            kind: "audited_resource",
            labels: vec![
                ("project_id", project),
                ("service", RUN.to_owned()),
                ("method", method.to_owned()),
            ],
        },
    }
}

fn key(
    api: &Api,
    call: &kumo_control::Call,
    req: &Request,
    permission: &str,
) -> Result<ServiceKey, Error> {
    api.control.service_key(
        call,
        req.param("project"),
        req.param("location"),
        req.param("service"),
        permission,
    )
}

/// `POST /v2/projects/{project}/locations/{location}/services?serviceId=…`
pub async fn create_service(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Services.CreateService",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let service_id = req.query.get("serviceId").unwrap_or_default().to_owned();
        let validate_only = req.query.flag("validateOnly")?;
        let key = api.control.service_key(
            call,
            req.param("project"),
            req.param("location"),
            &service_id,
            "run.services.create",
        )?;
        validate_service_id(&service_id)?;
        let desired: Service = req.json("service")?;
        let applied = api
            .control
            .apply_service(
                call,
                &key,
                ApplyService {
                    desired,
                    mode: ApplyMode::Create,
                    validate_only,
                    method_name: "google.cloud.run.v2.Services.CreateService",
                },
            )
            .await?;
        operation_for(&api, &key, &applied, validate_only)
    })
    .await?;
    ok(&operation)
}

/// A done operation for a write, or for `validateOnly` an operation that is never stored.
fn operation_for(
    api: &Api,
    key: &ServiceKey,
    applied: &kumo_control::run::services::Applied,
    validate_only: bool,
) -> Result<Value, Error> {
    if validate_only {
        let any = kumo_control::run::services::service_any(&applied.service)?;
        return Ok(json!({
            "name": format!("projects/{}/locations/{}/operations/validate-only", key.project.id, key.location),
            "metadata": any,
            "done": true,
            "response": any,
        }));
    }
    finished_operation(&api.control, key, applied)
}

/// `GET /v2/projects/{project}/locations/{location}/services/{service}`
pub async fn get_service(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Services.GetService",
        AuditLog::DataAccess,
    );
    let service = audited(&api, &req, meta, async |call| {
        let key = key(&api, call, &req, "run.services.get")?;
        api.control.get_service(call, &key)
    })
    .await?;
    ok(&service)
}

/// `GET /v2/projects/{project}/locations/{location}/services`
pub async fn list_services(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Services.ListServices",
        AuditLog::DataAccess,
    );
    let response = audited(&api, &req, meta, async |call| {
        let location = req.param("location");
        if location == "-" {
            return Err(Error::invalid_field(
                "parent",
                "The location wildcard '-' is not supported; specify a region.",
            ));
        }
        let project = resolve_or_refuse(&api, call, req.param("project"), "run.services.list")?;
        let (services, next) = api.control.list_services(
            call,
            &project,
            Some(location),
            req.query.int("pageSize")?,
            req.query.get("pageToken"),
            req.query.flag("showDeleted")?,
        )?;
        Ok(ListServicesResponse {
            services,
            next_page_token: next.unwrap_or_default(),
        })
    })
    .await?;
    ok(&response)
}

/// Resolves a project for a project-level permission; an unknown project is refused with it.
pub(crate) fn resolve_or_refuse(
    api: &Api,
    call: &kumo_control::Call,
    project: &str,
    permission: &str,
) -> Result<kumo_control::ProjectInfo, Error> {
    match api.control.resolve_project(project)? {
        Some(info) => Ok(info),
        None => {
            api.control
                .authorize(call, permission, &ResourceRef::Project(project.to_owned()))?;
            Err(Error::not_found(format!("Project '{project}' not found.")))
        }
    }
}

/// `PATCH /v2/projects/{project}/locations/{location}/services/{service}` — the whole Service;
/// Run v2 has no update mask.
pub async fn update_service(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Services.UpdateService",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let validate_only = req.query.flag("validateOnly")?;
        let allow_missing = req.query.flag("allowMissing")?;
        let key = key(&api, call, &req, "run.services.update")?;
        let desired: Service = req.json("service")?;
        if !desired.name.is_empty()
            && desired.name != key.name()
            && !desired
                .name
                .ends_with(&format!("/services/{}", key.service))
        {
            return Err(Error::invalid_field(
                "service.name",
                "The service name in the body does not match the URL.",
            ));
        }
        let applied = api
            .control
            .apply_service(
                call,
                &key,
                ApplyService {
                    desired,
                    mode: ApplyMode::Update { allow_missing },
                    validate_only,
                    method_name: "google.cloud.run.v2.Services.UpdateService",
                },
            )
            .await?;
        operation_for(&api, &key, &applied, validate_only)
    })
    .await?;
    ok(&operation)
}

/// `DELETE /v2/projects/{project}/locations/{location}/services/{service}`
pub async fn delete_service(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Services.DeleteService",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let validate_only = req.query.flag("validateOnly")?;
        let key = key(&api, call, &req, "run.services.delete")?;
        let service = api
            .control
            .delete_service(call, &key, validate_only, req.query.get("etag"))
            .await?;
        operation_for(
            &api,
            &key,
            &kumo_control::run::services::Applied {
                service,
                deploy_error: None,
            },
            validate_only,
        )
    })
    .await?;
    ok(&operation)
}

/// `GET …/services/{service}:getIamPolicy?options.requestedPolicyVersion=N`
pub async fn get_iam_policy(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Services.GetIamPolicy",
        AuditLog::DataAccess,
    );
    let policy = audited(&api, &req, meta, async |call| {
        let version = req
            .query
            .int("options.requestedPolicyVersion")?
            .unwrap_or(0);
        let key = key(&api, call, &req, "run.services.getIamPolicy")?;
        api.control.get_service_iam_policy(call, &key, version)
    })
    .await?;
    ok(&policy)
}

/// `POST …/services/{service}:setIamPolicy`
pub async fn set_iam_policy(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Services.SetIamPolicy",
        AuditLog::Activity,
    );
    let policy = audited(&api, &req, meta, async |call| {
        set_policy(&api, call, &req, "run.services.setIamPolicy")
    })
    .await?;
    ok(&policy)
}

/// Shared by v1 and v2 `setIamPolicy`.
pub(crate) fn set_policy(
    api: &Api,
    call: &kumo_control::Call,
    req: &Request,
    permission: &str,
) -> Result<Value, Error> {
    let body: SetIamPolicyRequest = req.json("")?;
    let key = key(api, call, req, permission)?;
    let policy = serde_json::to_value(body.policy.unwrap_or_default()).map_err(Error::internal)?;
    api.control
        .set_service_iam_policy(call, &key, &policy, body.update_mask.as_deref())
}

/// Shared by v1 and v2 `testIamPermissions`.
pub(crate) fn test_permissions(
    api: &Api,
    call: &kumo_control::Call,
    req: &Request,
) -> Result<TestIamPermissionsResponse, Error> {
    let body: TestIamPermissionsRequest = req.json("")?;
    let Some(project) = api.control.resolve_project(req.param("project"))? else {
        return Ok(TestIamPermissionsResponse::default());
    };
    let key = ServiceKey {
        project,
        location: req.param("location").to_owned(),
        service: req.param("service").to_owned(),
    };
    let permissions = api
        .control
        .test_service_iam_permissions(call, &key, &body.permissions)?;
    Ok(TestIamPermissionsResponse { permissions })
}

/// `POST …/services/{service}:testIamPermissions`
pub async fn test_iam_permissions(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Services.TestIamPermissions",
        AuditLog::DataAccess,
    );
    let response = audited(&api, &req, meta, async |call| {
        test_permissions(&api, call, &req)
    })
    .await?;
    ok(&response)
}

/// `GET …/services/{service}/revisions/{revision}`
pub async fn get_revision(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Revisions.GetRevision",
        AuditLog::DataAccess,
    );
    let revision = audited(&api, &req, meta, async |call| {
        let key = key(&api, call, &req, "run.revisions.get")?;
        api.control.get_revision(call, &key, req.param("revision"))
    })
    .await?;
    ok(&revision)
}

/// `GET …/services/{service}/revisions`
pub async fn list_revisions(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Revisions.ListRevisions",
        AuditLog::DataAccess,
    );
    let response = audited(&api, &req, meta, async |call| {
        let key = key(&api, call, &req, "run.revisions.list")?;
        let (revisions, next) = api.control.list_revisions(
            call,
            &key,
            req.query.int("pageSize")?,
            req.query.get("pageToken"),
        )?;
        Ok(ListRevisionsResponse {
            revisions,
            next_page_token: next.unwrap_or_default(),
        })
    })
    .await?;
    ok(&response)
}

/// `DELETE …/services/{service}/revisions/{revision}` → an Operation whose response is the Revision.
pub async fn delete_revision(api: Api, req: Request) -> Reply {
    let meta = service_audit(
        &api,
        &req,
        "google.cloud.run.v2.Revisions.DeleteRevision",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let key = key(&api, call, &req, "run.revisions.delete")?;
        let validate_only = req.query.flag("validateOnly")?;
        let revision = api.control.delete_revision(
            call,
            &key,
            req.param("revision"),
            req.query.get("etag"),
            validate_only,
        )?;
        let any = kumo_wire::protobuf::to_any("google.cloud.run.v2.Revision", &revision)
            .map_err(Error::internal)?;
        let started = api
            .control
            .start_operation(&key.project.id, &key.location, any.clone())?;
        let name = started["name"].as_str().unwrap_or_default().to_owned();
        api.control
            .finish_operation(&name, Some(any.clone()), Ok(any))
    })
    .await?;
    ok(&operation)
}

fn operation_name(
    api: &Api,
    call: &kumo_control::Call,
    req: &Request,
    permission: &str,
) -> Result<(String, String), Error> {
    let project = resolve_or_refuse(api, call, req.param("project"), permission)?;
    let name = format!(
        "projects/{}/locations/{}/operations/{}",
        project.id,
        req.param("location"),
        req.param("operation")
    );
    Ok((project.id, name))
}

fn operation_audit(api: &Api, req: &Request, method: &'static str, log: AuditLog) -> Audited {
    let name = format!(
        "projects/{}/locations/{}/operations/{}",
        req.param("project"),
        req.param("location"),
        req.param("operation")
    );
    project_audit(api, req, method, log, name)
}

/// `GET /v2/projects/{project}/locations/{location}/operations/{operation}`
pub async fn get_operation(api: Api, req: Request) -> Reply {
    let meta = operation_audit(
        &api,
        &req,
        "google.longrunning.Operations.GetOperation",
        AuditLog::DataAccess,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let (project, name) = operation_name(&api, call, &req, "run.operations.get")?;
        api.control.get_operation(call, &project, &name)
    })
    .await?;
    ok(&operation)
}

/// `GET /v2/projects/{project}/locations/{location}/operations`
pub async fn list_operations(api: Api, req: Request) -> Reply {
    let name = format!(
        "projects/{}/locations/{}",
        req.param("project"),
        req.param("location")
    );
    let meta = project_audit(
        &api,
        &req,
        "google.longrunning.Operations.ListOperations",
        AuditLog::DataAccess,
        name,
    );
    let response = audited(&api, &req, meta, async |call| {
        let project = resolve_or_refuse(&api, call, req.param("project"), "run.operations.list")?;
        let operations = api
            .control
            .list_operations(call, &project.id, req.param("location"))?;
        Ok(json!({"operations": operations}))
    })
    .await?;
    ok(&response)
}

/// `DELETE /v2/projects/{project}/locations/{location}/operations/{operation}`
pub async fn delete_operation(api: Api, req: Request) -> Reply {
    let meta = operation_audit(
        &api,
        &req,
        "google.longrunning.Operations.DeleteOperation",
        AuditLog::Activity,
    );
    audited(&api, &req, meta, async |call| {
        let (project, name) = operation_name(&api, call, &req, "run.operations.delete")?;
        api.control.delete_operation(call, &project, &name)
    })
    .await?;
    ok(&json!({}))
}

/// `POST /v2/projects/{project}/locations/{location}/operations/{operation}:wait`
pub async fn wait_operation(api: Api, req: Request) -> Reply {
    let meta = operation_audit(
        &api,
        &req,
        "google.longrunning.Operations.WaitOperation",
        AuditLog::DataAccess,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let body: WaitOperationRequest = req.json("")?;
        let timeout = match body.timeout.as_deref() {
            None => None,
            Some(text) => Some(
                kumo_wire::protobuf::Duration::parse(text)
                    .ok()
                    .and_then(|duration| duration.to_std())
                    .ok_or_else(|| {
                        Error::invalid_field("timeout", format!("Invalid duration: {text}"))
                    })?,
            ),
        };
        let (project, name) = operation_name(&api, call, &req, "run.operations.get")?;
        api.control
            .wait_operation(call, &project, &name, timeout)
            .await
    })
    .await?;
    ok(&operation)
}
