//! Resource Manager v3 (and the v1 project/organization forms gcloud uses): projects, folders,
//! organizations, their IAM policies, and `GET /v3/operations/{id}`. Also the helpers the IAM
//! admin, Org Policy and Service Usage handlers share (paging, audit metadata, IAM bodies).

use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_control::resource_manager::PageRequest;
use kumo_control::{Call, Error};
use kumo_wire::iam::{
    GetIamPolicyRequest, SetIamPolicyRequest, TestIamPermissionsRequest, TestIamPermissionsResponse,
};
use kumo_wire::resource_manager::{Folder, MoveRequest, Project};
use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

const RM: &str = "cloudresourcemanager.googleapis.com";

/// `pageSize` / `pageToken` of a list request.
pub(crate) fn page(req: &Request) -> Result<PageRequest, Error> {
    Ok(PageRequest {
        page_size: req.query.int("pageSize")?,
        page_token: req.query.get("pageToken").map(str::to_owned),
    })
}

/// The audit metadata of a call about `resource_name`: filed under the project (by id), folder
/// or organization the name starts with; anything else under the first organization.
pub(crate) fn audit_meta(
    api: &Api,
    service: &'static str,
    method: &'static str,
    resource_name: String,
    log: AuditLog,
) -> Audited {
    let mut segments = resource_name.split('/');
    let (kind, id) = (
        segments.next().unwrap_or_default(),
        segments.next().unwrap_or_default(),
    );
    let log_parent = match kind {
        "projects" if id != "-" => match api.control.resolve_project(id) {
            Ok(Some(info)) => format!("projects/{}", info.id),
            _ => format!("projects/{id}"),
        },
        "folders" | "organizations" if !id.is_empty() => format!("{kind}/{id}"),
        _ => api
            .control
            .organizations()
            .ok()
            .and_then(|orgs| {
                orgs.first()
                    .and_then(|org| org["name"].as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| "organizations/0".to_owned()),
    };
    let mut labels = vec![
        ("service", service.to_owned()),
        ("method", method.to_owned()),
    ];
    if let Some(project) = log_parent.strip_prefix("projects/") {
        labels.push(("project_id", project.to_owned()));
    }
    Audited {
        service_name: service,
        method_name: method,
        resource_name,
        log_parent,
        log,
        resource: MonitoredResource {
            kind: "audited_resource",
            labels,
        },
    }
}

/// Runs a synchronous control-plane method audited and answers its value as JSON.
pub(crate) async fn run<T: Serialize>(
    api: &Api,
    req: &Request,
    meta: Audited,
    body: impl FnOnce(&Call) -> Result<T, Error>,
) -> Reply {
    let value = audited(api, req, meta, async move |call| body(call)).await?;
    ok(&value)
}

/// `options.requestedPolicyVersion` from the body (v3, IAM v1) or the query (clients that send
/// `getIamPolicy` as a bodiless POST).
pub(crate) fn requested_version(req: &Request) -> Result<i64, Error> {
    let body: GetIamPolicyRequest = req.json("")?;
    if let Some(version) = body
        .options
        .and_then(|options| options.requested_policy_version)
    {
        return Ok(i64::from(version));
    }
    Ok(req
        .query
        .int("options.requestedPolicyVersion")?
        .unwrap_or(0))
}

/// The `policy` and `updateMask` of a `setIamPolicy` body, the policy as JSON.
pub(crate) fn set_policy_body(req: &Request) -> Result<(Value, Option<String>), Error> {
    let body: SetIamPolicyRequest = req.json("")?;
    let policy = body
        .policy
        .ok_or_else(|| Error::invalid_field("policy", "The policy must be set."))?;
    Ok((
        serde_json::to_value(policy).map_err(Error::internal)?,
        body.update_mask,
    ))
}

/// The `permissions` of a `testIamPermissions` body.
pub(crate) fn test_permissions_body(req: &Request) -> Result<Vec<String>, Error> {
    Ok(req.json::<TestIamPermissionsRequest>("")?.permissions)
}

pub(crate) fn test_permissions_response(permissions: Vec<String>) -> TestIamPermissionsResponse {
    TestIamPermissionsResponse { permissions }
}

fn project_name(req: &Request) -> String {
    format!("projects/{}", req.param("project"))
}

fn folder_name(req: &Request) -> String {
    format!("folders/{}", req.param("folder"))
}

/// `projects/…`, `folders/…` or `organizations/…` from whichever parameter the route has.
pub(crate) fn container(req: &Request) -> String {
    for (param, kind) in [
        ("project", "projects"),
        ("folder", "folders"),
        ("organization", "organizations"),
    ] {
        let value = req.param(param);
        if !value.is_empty() {
            return format!("{kind}/{value}");
        }
    }
    String::new()
}

// ---- projects ----

/// `GET /v3/projects/{project}`
pub async fn get_project(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Projects.GetProject",
        project_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.get_project(call, req.param("project"))
    })
    .await
}

/// `POST /v3/projects`
pub async fn create_project(api: Api, req: Request) -> Reply {
    let project: Project = req.json("project")?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Projects.CreateProject",
        format!("projects/{}", project.project_id),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.create_project(call, &project)
    })
    .await
}

/// `GET /v3/projects?parent=…`
pub async fn list_projects(api: Api, req: Request) -> Reply {
    let parent = req.query.get("parent").unwrap_or_default().to_owned();
    let show_deleted = req.query.flag("showDeleted")?;
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Projects.ListProjects",
        parent.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .list_projects(call, &parent, show_deleted, &page)
    })
    .await
}

/// `GET /v3/projects:search?query=…`
pub async fn search_projects(api: Api, req: Request) -> Reply {
    let query = req.query.get("query").unwrap_or_default().to_owned();
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Projects.SearchProjects",
        String::new(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.search_projects(call, &query, &page)
    })
    .await
}

/// `GET /v1/projects/{project}`: the v1 `Project` shape.
pub async fn get_project_v1(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        RM,
        "google.cloudresourcemanager.v1.Projects.GetProject",
        project_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.get_project_v1(call, req.param("project"))
    })
    .await
}

/// `GET /v1/projects?filter=…`: the projects the caller may get, through v1's filter.
pub async fn list_projects_v1(api: Api, req: Request) -> Reply {
    let filter = req.query.get("filter").unwrap_or_default().to_owned();
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloudresourcemanager.v1.Projects.ListProjects",
        String::new(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_projects_v1(call, &filter, &page)
    })
    .await
}

/// `PATCH /v3/projects/{project}?updateMask=…`
pub async fn update_project(api: Api, req: Request) -> Reply {
    let project: Project = req.json("project")?;
    let mask = req.query.get("updateMask").map(str::to_owned);
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Projects.UpdateProject",
        project_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .update_project(call, req.param("project"), &project, mask.as_deref())
    })
    .await
}

/// `DELETE /v3/projects/{project}`
pub async fn delete_project(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Projects.DeleteProject",
        project_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.delete_project(call, req.param("project"))
    })
    .await
}

/// `POST /v3/projects/{project}:undelete`
pub async fn undelete_project(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Projects.UndeleteProject",
        project_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.undelete_project(call, req.param("project"))
    })
    .await
}

/// `POST /v3/projects/{project}:move`
pub async fn move_project(api: Api, req: Request) -> Reply {
    let body: MoveRequest = req.json("")?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Projects.MoveProject",
        project_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .move_project(call, req.param("project"), &body.destination_parent)
    })
    .await
}

// ---- folders ----

/// `POST /v3/folders`
pub async fn create_folder(api: Api, req: Request) -> Reply {
    let folder: Folder = req.json("folder")?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Folders.CreateFolder",
        folder.parent.clone(),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.create_folder(call, &folder)
    })
    .await
}

/// `GET /v3/folders/{folder}`
pub async fn get_folder(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Folders.GetFolder",
        folder_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.get_folder(call, req.param("folder"))
    })
    .await
}

/// `GET /v3/folders?parent=…`
pub async fn list_folders(api: Api, req: Request) -> Reply {
    let parent = req.query.get("parent").unwrap_or_default().to_owned();
    let show_deleted = req.query.flag("showDeleted")?;
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Folders.ListFolders",
        parent.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_folders(call, &parent, show_deleted, &page)
    })
    .await
}

/// `GET /v3/folders:search?query=…`
pub async fn search_folders(api: Api, req: Request) -> Reply {
    let query = req.query.get("query").unwrap_or_default().to_owned();
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Folders.SearchFolders",
        String::new(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.search_folders(call, &query, &page)
    })
    .await
}

/// `PATCH /v3/folders/{folder}?updateMask=displayName`
pub async fn update_folder(api: Api, req: Request) -> Reply {
    let folder: Folder = req.json("folder")?;
    let mask = req.query.get("updateMask").map(str::to_owned);
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Folders.UpdateFolder",
        folder_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .update_folder(call, req.param("folder"), &folder, mask.as_deref())
    })
    .await
}

/// `DELETE /v3/folders/{folder}`
pub async fn delete_folder(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Folders.DeleteFolder",
        folder_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.delete_folder(call, req.param("folder"))
    })
    .await
}

/// `POST /v3/folders/{folder}:undelete`
pub async fn undelete_folder(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Folders.UndeleteFolder",
        folder_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.undelete_folder(call, req.param("folder"))
    })
    .await
}

/// `POST /v3/folders/{folder}:move`
pub async fn move_folder(api: Api, req: Request) -> Reply {
    let body: MoveRequest = req.json("")?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Folders.MoveFolder",
        folder_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .move_folder(call, req.param("folder"), &body.destination_parent)
    })
    .await
}

// ---- organizations ----

/// `GET /v3/organizations/{organization}`
pub async fn get_organization(api: Api, req: Request) -> Reply {
    let name = format!("organizations/{}", req.param("organization"));
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Organizations.GetOrganization",
        name,
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .get_organization(call, req.param("organization"))
    })
    .await
}

/// `GET /v3/organizations:search?query=…`
pub async fn search_organizations(api: Api, req: Request) -> Reply {
    let query = req.query.get("query").unwrap_or_default().to_owned();
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        RM,
        "google.cloud.resourcemanager.v3.Organizations.SearchOrganizations",
        String::new(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.search_organizations(call, &query, &page)
    })
    .await
}

/// v1 `SearchOrganizationsRequest`.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SearchOrganizationsV1 {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    page_size: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

/// `POST /v1/organizations:search` (v1 body `{filter}`; `domain:…` as in v3's query).
pub async fn search_organizations_v1(api: Api, req: Request) -> Reply {
    let body: SearchOrganizationsV1 = req.json("")?;
    let page = PageRequest {
        page_size: body.page_size,
        page_token: body.page_token,
    };
    let meta = audit_meta(
        &api,
        RM,
        "SearchOrganizations",
        String::new(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        let mut response = api
            .control
            .search_organizations(call, &body.filter, &page)?;
        // v1 organizations are named the same but carry the customer under `owner`.
        if let Some(organizations) = response["organizations"].as_array_mut() {
            for organization in organizations {
                let customer = organization["directoryCustomerId"].take();
                organization["owner"] = json!({"directoryCustomerId": customer});
                organization["lifecycleState"] = organization["state"].take();
                organization["creationTime"] = organization["createTime"].take();
                if let Some(object) = organization.as_object_mut() {
                    object.retain(|_, value| !value.is_null());
                    object.remove("updateTime");
                }
            }
        }
        Ok(response)
    })
    .await
}

// ---- IAM on containers ----

/// `POST /v3/{projects|folders|organizations}/{id}:getIamPolicy` and the v1 forms.
pub async fn get_iam_policy(api: Api, req: Request) -> Reply {
    let name = container(&req);
    let version = requested_version(&req)?;
    let method = "GetIamPolicy";
    let meta = audit_meta(&api, RM, method, name.clone(), AuditLog::DataAccess);
    run(&api, &req, meta, |call| {
        api.control.get_container_iam_policy(call, &name, version)
    })
    .await
}

/// `POST /v3/{…}:setIamPolicy` and the v1 forms. Resource Manager logs its IAM methods
/// unqualified (`methodName: "SetIamPolicy"`, which the CIS benchmark's alert filters match).
pub async fn set_iam_policy(api: Api, req: Request) -> Reply {
    let name = container(&req);
    let (policy, mask) = set_policy_body(&req)?;
    let meta = audit_meta(&api, RM, "SetIamPolicy", name.clone(), AuditLog::Activity);
    run(&api, &req, meta, |call| {
        api.control
            .set_container_iam_policy(call, &name, &policy, mask.as_deref())
    })
    .await
}

/// `POST /v3/{…}:testIamPermissions` and the v1 forms.
pub async fn test_iam_permissions(api: Api, req: Request) -> Reply {
    let name = container(&req);
    let permissions = test_permissions_body(&req)?;
    let meta = audit_meta(
        &api,
        RM,
        "TestIamPermissions",
        name.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .test_container_iam_permissions(call, &name, &permissions)
            .map(test_permissions_response)
    })
    .await
}

/// `GET /v3/operations/{operation}`
pub async fn get_operation(api: Api, req: Request) -> Reply {
    let name = format!("operations/{}", req.param("operation"));
    let meta = audit_meta(
        &api,
        RM,
        "google.longrunning.Operations.GetOperation",
        name.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.get_rm_operation(call, &name)
    })
    .await
}
