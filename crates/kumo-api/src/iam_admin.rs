//! IAM v1 admin API: service accounts (and their IAM policies), service-account keys, roles and
//! `permissions:queryTestablePermissions`.

use kumo_control::Error;
use kumo_control::audit::AuditLog;
use kumo_control::resource_manager::PageRequest;
use kumo_wire::iam_admin::{
    CreateRoleRequest, CreateServiceAccountKeyRequest, CreateServiceAccountRequest,
    PatchServiceAccountRequest, QueryTestablePermissionsRequest, Role, UndeleteRoleRequest,
};

use crate::resource_manager::{
    audit_meta, container, page, requested_version, run, set_policy_body, test_permissions_body,
    test_permissions_response,
};
use crate::{Api, Reply, Request};

const IAM: &str = "iam.googleapis.com";

fn account_name(req: &Request) -> String {
    format!(
        "projects/{}/serviceAccounts/{}",
        req.param("project"),
        req.param("account")
    )
}

fn key_name(req: &Request) -> String {
    format!("{}/keys/{}", account_name(req), req.param("key"))
}

fn role_name(req: &Request) -> String {
    format!("{}/roles/{}", container(req), req.param("role"))
}

// ---- service accounts ----

/// `POST /v1/projects/{project}/serviceAccounts`
pub async fn create_service_account(api: Api, req: Request) -> Reply {
    let body: CreateServiceAccountRequest = req.json("")?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.CreateServiceAccount",
        format!("projects/{}", req.param("project")),
        AuditLog::Activity,
    );
    let account = body.service_account.unwrap_or_default();
    run(&api, &req, meta, |call| {
        api.control
            .create_service_account(call, req.param("project"), &body.account_id, &account)
    })
    .await
}

/// `GET /v1/projects/{project}/serviceAccounts`
pub async fn list_service_accounts(api: Api, req: Request) -> Reply {
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.ListServiceAccounts",
        format!("projects/{}", req.param("project")),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .list_service_accounts(call, req.param("project"), &page)
    })
    .await
}

/// `GET /v1/projects/{project}/serviceAccounts/{account}`
pub async fn get_service_account(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.GetServiceAccount",
        account_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .get_service_account(call, req.param("project"), req.param("account"))
    })
    .await
}

/// `PATCH /v1/projects/{project}/serviceAccounts/{account}`
pub async fn patch_service_account(api: Api, req: Request) -> Reply {
    let body: PatchServiceAccountRequest = req.json("")?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.PatchServiceAccount",
        account_name(&req),
        AuditLog::Activity,
    );
    let account = body.service_account.unwrap_or_default();
    run(&api, &req, meta, |call| {
        api.control.patch_service_account(
            call,
            req.param("project"),
            req.param("account"),
            &account,
            body.update_mask.as_deref(),
        )
    })
    .await
}

/// `DELETE /v1/projects/{project}/serviceAccounts/{account}`
pub async fn delete_service_account(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.DeleteServiceAccount",
        account_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .delete_service_account(call, req.param("project"), req.param("account"))
    })
    .await
}

/// `POST …/serviceAccounts/{uniqueId}:undelete`
pub async fn undelete_service_account(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.UndeleteServiceAccount",
        account_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .undelete_service_account(call, req.param("project"), req.param("account"))
    })
    .await
}

/// `POST …/serviceAccounts/{account}:disable`
pub async fn disable_service_account(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.DisableServiceAccount",
        account_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.set_service_account_disabled(
            call,
            req.param("project"),
            req.param("account"),
            true,
        )
    })
    .await
}

/// `POST …/serviceAccounts/{account}:enable`
pub async fn enable_service_account(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.EnableServiceAccount",
        account_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.set_service_account_disabled(
            call,
            req.param("project"),
            req.param("account"),
            false,
        )
    })
    .await
}

/// `POST …/serviceAccounts/{account}:getIamPolicy` (a POST in IAM v1; the version may come in
/// the query).
pub async fn get_iam_policy(api: Api, req: Request) -> Reply {
    let version = requested_version(&req)?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.GetIAMPolicy",
        account_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.get_service_account_iam_policy(
            call,
            req.param("project"),
            req.param("account"),
            version,
        )
    })
    .await
}

/// `POST …/serviceAccounts/{account}:setIamPolicy`
pub async fn set_iam_policy(api: Api, req: Request) -> Reply {
    let (policy, mask) = set_policy_body(&req)?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.SetIAMPolicy",
        account_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.set_service_account_iam_policy(
            call,
            req.param("project"),
            req.param("account"),
            &policy,
            mask.as_deref(),
        )
    })
    .await
}

/// `POST …/serviceAccounts/{account}:testIamPermissions`
pub async fn test_iam_permissions(api: Api, req: Request) -> Reply {
    let permissions = test_permissions_body(&req)?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.TestIamPermissions",
        account_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .test_service_account_iam_permissions(
                call,
                req.param("project"),
                req.param("account"),
                &permissions,
            )
            .map(test_permissions_response)
    })
    .await
}

// ---- keys ----

/// `POST …/serviceAccounts/{account}/keys`
pub async fn create_key(api: Api, req: Request) -> Reply {
    let body: CreateServiceAccountKeyRequest = req.json("")?;
    if let Some(algorithm) = body.key_algorithm
        && !matches!(
            algorithm.as_str(),
            "KEY_ALG_UNSPECIFIED" | "KEY_ALG_RSA_2048"
        )
    {
        return Err(Error::invalid_field(
            "key_algorithm",
            format!(
                "Key algorithm {} is not supported; use KEY_ALG_RSA_2048.",
                algorithm.as_str()
            ),
        ));
    }
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.CreateServiceAccountKey",
        account_name(&req),
        AuditLog::Activity,
    );
    let key_type = body.private_key_type.map(|t| t.as_str());
    run(&api, &req, meta, |call| {
        api.control.create_service_account_key(
            call,
            req.param("project"),
            req.param("account"),
            key_type,
        )
    })
    .await
}

/// Body of `keys:upload`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UploadKeyRequest {
    #[serde(default)]
    public_key_data: String,
}

/// `POST …/serviceAccounts/{account}/keys:upload`
pub async fn upload_key(api: Api, req: Request) -> Reply {
    let body: UploadKeyRequest = req.json("")?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.UploadServiceAccountKey",
        account_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.upload_service_account_key(
            call,
            req.param("project"),
            req.param("account"),
            &body.public_key_data,
        )
    })
    .await
}

/// `GET …/serviceAccounts/{account}/keys?keyTypes=…`
pub async fn list_keys(api: Api, req: Request) -> Reply {
    let key_types: Vec<String> = req
        .query
        .0
        .iter()
        .filter(|(k, _)| k == "keyTypes")
        .map(|(_, v)| v.clone())
        .collect();
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.ListServiceAccountKeys",
        account_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_service_account_keys(
            call,
            req.param("project"),
            req.param("account"),
            &key_types,
        )
    })
    .await
}

/// `GET …/keys/{key}`
pub async fn get_key(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.GetServiceAccountKey",
        key_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.get_service_account_key(
            call,
            req.param("project"),
            req.param("account"),
            req.param("key"),
        )
    })
    .await
}

/// `DELETE …/keys/{key}`
pub async fn delete_key(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.DeleteServiceAccountKey",
        key_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.delete_service_account_key(
            call,
            req.param("project"),
            req.param("account"),
            req.param("key"),
        )
    })
    .await
}

/// `POST …/keys/{key}:disable`
pub async fn disable_key(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.DisableServiceAccountKey",
        key_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.set_service_account_key_disabled(
            call,
            req.param("project"),
            req.param("account"),
            req.param("key"),
            true,
        )
    })
    .await
}

/// `POST …/keys/{key}:enable`
pub async fn enable_key(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.EnableServiceAccountKey",
        key_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.set_service_account_key_disabled(
            call,
            req.param("project"),
            req.param("account"),
            req.param("key"),
            false,
        )
    })
    .await
}

// ---- roles ----

/// `GET /v1/roles?view=…`: predefined roles; no permission.
pub async fn list_predefined_roles(api: Api, req: Request) -> Reply {
    let view = req.query.get("view").map(str::to_owned);
    let show_deleted = req.query.flag("showDeleted")?;
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.ListRoles",
        "roles".to_owned(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |_call| {
        api.control
            .list_predefined_roles(view.as_deref(), show_deleted, &page)
    })
    .await
}

/// `GET /v1/roles/{role}`: a predefined role; no permission.
pub async fn get_predefined_role(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.GetRole",
        format!("roles/{}", req.param("role")),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |_call| {
        api.control.get_predefined_role(req.param("role"))
    })
    .await
}

/// `POST /v1/{projects|organizations}/{id}/roles`
pub async fn create_role(api: Api, req: Request) -> Reply {
    let body: CreateRoleRequest = req.json("")?;
    let parent = container(&req);
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.CreateRole",
        format!("{parent}/roles/{}", body.role_id),
        AuditLog::Activity,
    );
    let role = body.role.unwrap_or_default();
    run(&api, &req, meta, |call| {
        api.control
            .create_custom_role(call, &parent, &body.role_id, &role)
    })
    .await
}

/// `GET /v1/{projects|organizations}/{id}/roles`
pub async fn list_roles(api: Api, req: Request) -> Reply {
    let parent = container(&req);
    let view = req.query.get("view").map(str::to_owned);
    let show_deleted = req.query.flag("showDeleted")?;
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.ListRoles",
        parent.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .list_custom_roles(call, &parent, view.as_deref(), show_deleted, &page)
    })
    .await
}

/// `GET /v1/{…}/roles/{role}`
pub async fn get_role(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.GetRole",
        role_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .get_custom_role(call, &container(&req), req.param("role"))
    })
    .await
}

/// `PATCH /v1/{…}/roles/{role}?updateMask=…`
pub async fn patch_role(api: Api, req: Request) -> Reply {
    let role: Role = req.json("role")?;
    let mask = req.query.get("updateMask").map(str::to_owned);
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.UpdateRole",
        role_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.patch_custom_role(
            call,
            &container(&req),
            req.param("role"),
            &role,
            mask.as_deref(),
        )
    })
    .await
}

/// `DELETE /v1/{…}/roles/{role}`
pub async fn delete_role(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.DeleteRole",
        role_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .delete_custom_role(call, &container(&req), req.param("role"))
    })
    .await
}

/// `POST /v1/{…}/roles/{role}:undelete`
pub async fn undelete_role(api: Api, req: Request) -> Reply {
    let body: UndeleteRoleRequest = req.json("")?;
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.UndeleteRole",
        role_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .undelete_custom_role(call, &container(&req), req.param("role"), &body.etag)
    })
    .await
}

/// `POST /v1/permissions:queryTestablePermissions`: no permission.
pub async fn query_testable_permissions(api: Api, req: Request) -> Reply {
    let body: QueryTestablePermissionsRequest = req.json("")?;
    let page = PageRequest {
        page_size: body.page_size.map(i64::from),
        page_token: Some(body.page_token.clone()),
    };
    let meta = audit_meta(
        &api,
        IAM,
        "google.iam.admin.v1.QueryTestablePermissions",
        body.full_resource_name.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |_call| {
        api.control
            .query_testable_permissions(&body.full_resource_name, &page)
    })
    .await
}
