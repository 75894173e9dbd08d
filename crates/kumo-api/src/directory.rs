//! The directory: Admin SDK Directory users, Cloud Identity groups and memberships, and Kumo's
//! extensions `POST /kumo/v1/organizations` and `POST /kumo/v1/keys:rotate`.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_control::{Call, Error};
use serde::Serialize;
use serde_json::Value;

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

/// Directory changes are filed under the organization that administers Kumo.
fn meta(
    api: &Api,
    service: &'static str,
    method: &'static str,
    resource_name: String,
    log: AuditLog,
) -> Audited {
    let log_parent = api
        .control
        .system_organization()
        .ok()
        .flatten()
        .map(|id| format!("organizations/{id}"))
        .unwrap_or_else(|| "organizations/0".to_owned());
    Audited {
        service_name: service,
        method_name: method,
        resource_name,
        log_parent,
        log,
        resource: MonitoredResource {
            kind: "audited_resource",
            labels: vec![
                ("service", service.to_owned()),
                ("method", method.to_owned()),
            ],
        },
    }
}

async fn run<T: Serialize>(
    api: &Api,
    req: &Request,
    meta: Audited,
    body: impl FnOnce(&Call) -> Result<T, Error>,
) -> Reply {
    let value = audited(api, req, meta, async move |call| body(call)).await?;
    ok(&value)
}

/// Raw JSON body (the Admin SDK and Cloud Identity accept many optional fields Kumo ignores).
fn body(req: &Request) -> Result<Value, Error> {
    let value: Value = req.json("")?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(Error::invalid(
            "Invalid JSON payload received. Expected an object.",
        ))
    }
}

const ADMIN: &str = "admin.googleapis.com";
const CLOUD_IDENTITY: &str = "cloudidentity.googleapis.com";

/// `POST /admin/directory/v1/users`.
pub async fn create_user(api: Api, req: Request) -> Reply {
    let user = body(&req)?;
    let name = format!(
        "users/{}",
        user["primaryEmail"].as_str().unwrap_or_default()
    );
    let meta = meta(
        &api,
        ADMIN,
        "google.admin.directory.v1.Users.Insert",
        name,
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.create_user(call, &user)
    })
    .await
}

/// `GET /admin/directory/v1/users?customer=…|domain=…`.
pub async fn list_users(api: Api, req: Request) -> Reply {
    let meta = meta(
        &api,
        ADMIN,
        "google.admin.directory.v1.Users.List",
        "users".to_owned(),
        AuditLog::DataAccess,
    );
    let customer = req.query.get("customer").map(str::to_owned);
    let domain = req.query.get("domain").map(str::to_owned);
    run(&api, &req, meta, |call| {
        api.control
            .list_users(call, customer.as_deref(), domain.as_deref())
    })
    .await
}

/// `GET /admin/directory/v1/users/{userKey}`.
pub async fn get_user(api: Api, req: Request) -> Reply {
    let key = req.param("userKey").to_owned();
    let meta = meta(
        &api,
        ADMIN,
        "google.admin.directory.v1.Users.Get",
        format!("users/{key}"),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| api.control.get_user(call, &key)).await
}

/// `DELETE /admin/directory/v1/users/{userKey}`: 204 with no body, as the Admin SDK answers.
pub async fn delete_user(api: Api, req: Request) -> Reply {
    let key = req.param("userKey").to_owned();
    let meta = meta(
        &api,
        ADMIN,
        "google.admin.directory.v1.Users.Delete",
        format!("users/{key}"),
        AuditLog::Activity,
    );
    audited(&api, &req, meta, async |call| {
        api.control.delete_user(call, &key)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/groups?initialGroupConfig=…`.
pub async fn create_group(api: Api, req: Request) -> Reply {
    let group = body(&req)?;
    let config = req.query.get("initialGroupConfig").map(str::to_owned);
    let name = format!(
        "groups/{}",
        group["groupKey"]["id"].as_str().unwrap_or_default()
    );
    let meta = meta(
        &api,
        CLOUD_IDENTITY,
        "google.apps.cloudidentity.groups.v1.GroupsService.CreateGroup",
        name,
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.create_group(call, &group, config.as_deref())
    })
    .await
}

/// `GET /v1/groups?parent=customers/…`.
pub async fn list_groups(api: Api, req: Request) -> Reply {
    let parent = req.query.get("parent").unwrap_or_default().to_owned();
    let meta = meta(
        &api,
        CLOUD_IDENTITY,
        "google.apps.cloudidentity.groups.v1.GroupsService.ListGroups",
        parent.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_groups(call, &parent)
    })
    .await
}

/// `GET /v1/groups:lookup?groupKey.id=EMAIL`.
pub async fn lookup_group(api: Api, req: Request) -> Reply {
    let email = req.query.get("groupKey.id").unwrap_or_default().to_owned();
    if email.is_empty() {
        return Err(Error::invalid_field(
            "group_key.id",
            "Request contains an invalid argument.",
        ));
    }
    let meta = meta(
        &api,
        CLOUD_IDENTITY,
        "google.apps.cloudidentity.groups.v1.GroupsService.LookupGroupName",
        format!("groups/{email}"),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.lookup_group(call, &email)
    })
    .await
}

/// `GET /v1/groups/{group}`.
pub async fn get_group(api: Api, req: Request) -> Reply {
    let group = req.param("group").to_owned();
    let meta = meta(
        &api,
        CLOUD_IDENTITY,
        "google.apps.cloudidentity.groups.v1.GroupsService.GetGroup",
        format!("groups/{group}"),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| api.control.get_group(call, &group)).await
}

/// `DELETE /v1/groups/{group}`.
pub async fn delete_group(api: Api, req: Request) -> Reply {
    let group = req.param("group").to_owned();
    let meta = meta(
        &api,
        CLOUD_IDENTITY,
        "google.apps.cloudidentity.groups.v1.GroupsService.DeleteGroup",
        format!("groups/{group}"),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.delete_group(call, &group)
    })
    .await
}

/// `POST /v1/groups/{group}/memberships`.
pub async fn create_membership(api: Api, req: Request) -> Reply {
    let group = req.param("group").to_owned();
    let membership = body(&req)?;
    let meta = meta(
        &api,
        CLOUD_IDENTITY,
        "google.apps.cloudidentity.groups.v1.MembershipsService.CreateMembership",
        format!("groups/{group}"),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.create_membership(call, &group, &membership)
    })
    .await
}

/// `GET /v1/groups/{group}/memberships`.
pub async fn list_memberships(api: Api, req: Request) -> Reply {
    let group = req.param("group").to_owned();
    let meta = meta(
        &api,
        CLOUD_IDENTITY,
        "google.apps.cloudidentity.groups.v1.MembershipsService.ListMemberships",
        format!("groups/{group}"),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_memberships(call, &group)
    })
    .await
}

/// `DELETE /v1/groups/{group}/memberships/{membership}`.
pub async fn delete_membership(api: Api, req: Request) -> Reply {
    let group = req.param("group").to_owned();
    let membership = req.param("membership").to_owned();
    let name = format!("groups/{group}/memberships/{membership}");
    let meta = meta(
        &api,
        CLOUD_IDENTITY,
        "google.apps.cloudidentity.groups.v1.MembershipsService.DeleteMembership",
        name,
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.delete_membership(call, &group, &membership)
    })
    .await
}

/// `POST /kumo/v1/organizations {domain, displayName?}`. The organization's display name is its
/// domain, as at Google; `displayName` is accepted for the CLI and must match when given.
pub async fn create_organization(api: Api, req: Request) -> Reply {
    let request = body(&req)?;
    let domain = request["domain"].as_str().unwrap_or_default().to_owned();
    if domain.is_empty() {
        return Err(Error::invalid_field("domain", "domain is required."));
    }
    if let Some(display) = request["displayName"].as_str()
        && !display.eq_ignore_ascii_case(&domain)
    {
        return Err(Error::invalid_field(
            "displayName",
            "An organization's display name is its primary domain.",
        ));
    }
    let meta = meta(
        &api,
        "cloudresourcemanager.googleapis.com",
        "kumo.organizations.create",
        format!("domains/{domain}"),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.create_organization(call, &domain)
    })
    .await
}

/// `POST /kumo/v1/keys:rotate`.
pub async fn rotate_keys(api: Api, req: Request) -> Reply {
    let meta = meta(
        &api,
        "kumo.googleapis.com",
        "kumo.keys.rotate",
        "keys".to_owned(),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.rotate_signing_keys(call)
    })
    .await
}
