//! Policy Troubleshooter v3: `POST /v3/iam:troubleshoot`.

use kumo_control::audit::AuditLog;
use serde::Deserialize;

use crate::resource_manager::{audit_meta, run};
use crate::{Api, Reply, Request};

/// `TroubleshootIamPolicyRequest` (google/cloud/policytroubleshooter/iam/v3).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TroubleshootRequest {
    #[serde(default)]
    access_tuple: AccessTuple,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccessTuple {
    #[serde(default)]
    principal: String,
    #[serde(default)]
    full_resource_name: String,
    #[serde(default)]
    permission: String,
    #[serde(default)]
    condition_context: Option<serde_json::Value>,
}

/// Explains whether a principal holds a permission on a resource, policy by policy.
pub async fn troubleshoot(api: Api, req: Request) -> Reply {
    let body: TroubleshootRequest = req.json("")?;
    let tuple = body.access_tuple;
    let _ = tuple.condition_context;
    let meta = audit_meta(
        &api,
        "policytroubleshooter.googleapis.com",
        "google.cloud.policytroubleshooter.iam.v3.PolicyTroubleshooter.TroubleshootIamPolicy",
        tuple
            .full_resource_name
            .trim_start_matches("//")
            .split_once('/')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default(),
        AuditLog::DataAccess,
    );
    let control = api.control.clone();
    run(&api, &req, meta, move |call| {
        control.troubleshoot(
            call,
            &tuple.principal,
            &tuple.full_resource_name,
            &tuple.permission,
        )
    })
    .await
}
