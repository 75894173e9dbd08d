//! Organization Policy: the v2 API (`/v2/{parent}/constraints`, `/v2/{parent}/policies…`) and the
//! Resource Manager v1 forms (`/v1/{resource}:setOrgPolicy` …) gcloud's
//! `resource-manager org-policies` commands use.

use kumo_control::audit::AuditLog;
use kumo_control::resource_manager::PageRequest;
use kumo_wire::orgpolicy_v1::{
    ClearOrgPolicyRequest, GetOrgPolicyRequest, ListOrgPoliciesRequest, SetOrgPolicyRequest,
};
use kumo_wire::orgpolicy_v2::{CustomConstraint, Policy};

use crate::resource_manager::{audit_meta, container, page, run};
use crate::{Api, Reply, Request};

const ORGPOLICY: &str = "orgpolicy.googleapis.com";
const RM: &str = "cloudresourcemanager.googleapis.com";

fn policy_name(req: &Request) -> String {
    format!("{}/policies/{}", container(req), req.param("policy"))
}

/// `GET /v2/{parent}/constraints`
pub async fn list_constraints(api: Api, req: Request) -> Reply {
    let parent = container(&req);
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.ListConstraints",
        parent.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_constraints(call, &parent, &page)
    })
    .await
}

/// `GET /v2/{parent}/policies`
pub async fn list_policies(api: Api, req: Request) -> Reply {
    let parent = container(&req);
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.ListPolicies",
        parent.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_org_policies(call, &parent, &page)
    })
    .await
}

/// `POST /v2/{parent}/policies` (the body is the Policy)
pub async fn create_policy(api: Api, req: Request) -> Reply {
    let policy: Policy = req.json("policy")?;
    let parent = container(&req);
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.CreatePolicy",
        policy.name.clone(),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.create_org_policy(call, &parent, &policy)
    })
    .await
}

/// `GET /v2/{parent}/policies/{policy}`
pub async fn get_policy(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.GetPolicy",
        policy_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .get_org_policy(call, &container(&req), req.param("policy"))
    })
    .await
}

/// `PATCH /v2/{parent}/policies/{policy}?updateMask=…` (the body is the Policy)
pub async fn update_policy(api: Api, req: Request) -> Reply {
    let policy: Policy = req.json("policy")?;
    let mask = req.query.get("updateMask").map(str::to_owned);
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.UpdatePolicy",
        policy_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.update_org_policy(
            call,
            &container(&req),
            req.param("policy"),
            &policy,
            mask.as_deref(),
        )
    })
    .await
}

/// `DELETE /v2/{parent}/policies/{policy}?etag=…`
pub async fn delete_policy(api: Api, req: Request) -> Reply {
    let etag = req.query.get("etag").map(str::to_owned);
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.DeletePolicy",
        policy_name(&req),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .delete_org_policy(call, &container(&req), req.param("policy"), etag.as_deref())
    })
    .await
}

/// `GET /v2/{parent}/policies/{policy}:getEffectivePolicy`
pub async fn get_effective_policy(api: Api, req: Request) -> Reply {
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.GetEffectivePolicy",
        policy_name(&req),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .get_effective_org_policy(call, &container(&req), req.param("policy"))
    })
    .await
}

/// `POST /v1/{resource}:setOrgPolicy`
pub async fn set_org_policy_v1(api: Api, req: Request) -> Reply {
    let body: SetOrgPolicyRequest = req.json("")?;
    let name = container(&req);
    let meta = audit_meta(&api, RM, "SetOrgPolicy", name.clone(), AuditLog::Activity);
    let policy = body.policy.unwrap_or_default();
    run(&api, &req, meta, |call| {
        api.control.set_org_policy_v1(call, &name, &policy)
    })
    .await
}

/// `POST /v1/{resource}:getOrgPolicy`
pub async fn get_org_policy_v1(api: Api, req: Request) -> Reply {
    let body: GetOrgPolicyRequest = req.json("")?;
    let name = container(&req);
    let meta = audit_meta(&api, RM, "GetOrgPolicy", name.clone(), AuditLog::DataAccess);
    run(&api, &req, meta, |call| {
        api.control.get_org_policy_v1(call, &name, &body.constraint)
    })
    .await
}

/// `POST /v1/{resource}:getEffectiveOrgPolicy`
pub async fn get_effective_org_policy_v1(api: Api, req: Request) -> Reply {
    let body: GetOrgPolicyRequest = req.json("")?;
    let name = container(&req);
    let meta = audit_meta(
        &api,
        RM,
        "GetEffectiveOrgPolicy",
        name.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control
            .get_effective_org_policy_v1(call, &name, &body.constraint)
    })
    .await
}

/// `POST /v1/{resource}:listOrgPolicies`
pub async fn list_org_policies_v1(api: Api, req: Request) -> Reply {
    let body: ListOrgPoliciesRequest = req.json("")?;
    let name = container(&req);
    let page = PageRequest {
        page_size: body.page_size.map(i64::from),
        page_token: Some(body.page_token.clone()),
    };
    let meta = audit_meta(
        &api,
        RM,
        "ListOrgPolicies",
        name.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_org_policies_v1(call, &name, &page)
    })
    .await
}

/// `POST /v1/{resource}:clearOrgPolicy`
pub async fn clear_org_policy_v1(api: Api, req: Request) -> Reply {
    let body: ClearOrgPolicyRequest = req.json("")?;
    let name = container(&req);
    let meta = audit_meta(&api, RM, "ClearOrgPolicy", name.clone(), AuditLog::Activity);
    run(&api, &req, meta, |call| {
        api.control
            .clear_org_policy_v1(call, &name, &body.constraint, &body.etag)
    })
    .await
}

fn custom_constraint_name(req: &Request) -> String {
    format!(
        "organizations/{}/customConstraints/{}",
        req.param("organization"),
        req.param("custom_constraint")
    )
}

/// `POST /v2/{parent=organizations/*}/customConstraints` (the body is the CustomConstraint)
pub async fn create_custom_constraint(api: Api, req: Request) -> Reply {
    let body: CustomConstraint = req.json("custom_constraint")?;
    let parent = container(&req);
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.CreateCustomConstraint",
        body.name.clone(),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.create_custom_constraint(call, &parent, &body)
    })
    .await
}

/// `GET /v2/{parent=organizations/*}/customConstraints`
pub async fn list_custom_constraints(api: Api, req: Request) -> Reply {
    let parent = container(&req);
    let page = page(&req)?;
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.ListCustomConstraints",
        parent.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.list_custom_constraints(call, &parent, &page)
    })
    .await
}

/// `GET /v2/{name=organizations/*/customConstraints/*}`
pub async fn get_custom_constraint(api: Api, req: Request) -> Reply {
    let name = custom_constraint_name(&req);
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.GetCustomConstraint",
        name.clone(),
        AuditLog::DataAccess,
    );
    run(&api, &req, meta, |call| {
        api.control.get_custom_constraint(call, &name)
    })
    .await
}

/// `PATCH /v2/{customConstraint.name=organizations/*/customConstraints/*}` (the body is the
/// CustomConstraint; the method has no update mask)
pub async fn update_custom_constraint(api: Api, req: Request) -> Reply {
    let body: CustomConstraint = req.json("custom_constraint")?;
    let name = custom_constraint_name(&req);
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.UpdateCustomConstraint",
        name.clone(),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.update_custom_constraint(call, &name, &body)
    })
    .await
}

/// `DELETE /v2/{name=organizations/*/customConstraints/*}`
pub async fn delete_custom_constraint(api: Api, req: Request) -> Reply {
    let name = custom_constraint_name(&req);
    let meta = audit_meta(
        &api,
        ORGPOLICY,
        "google.cloud.orgpolicy.v2.OrgPolicy.DeleteCustomConstraint",
        name.clone(),
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control.delete_custom_constraint(call, &name)
    })
    .await
}
