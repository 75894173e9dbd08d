//! IAP v1 (`iap.googleapis.com`) for Cloud Run services: the IAM policy methods of
//! `projects/PN/iap_web`, `…/cloud_run-REGION` and `…/cloud_run-REGION/services/S` as `gcloud iap
//! web *-iam-policy* [--resource-type=cloud-run]` and `iap_v1.IdentityAwareProxyAdminServiceClient`
//! call them (real-clients.md §6), `:iapSettings` get and update on those levels and on the
//! project, and IAP's public key documents.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_control::iap::{IapAction, IapLevel};
use kumo_control::{Error, ResourceRef};
use kumo_wire::iam::{
    GetIamPolicyRequest, SetIamPolicyRequest, TestIamPermissionsRequest, TestIamPermissionsResponse,
};

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

/// The IAP level a path names: `projects/P/iap_web[/WEB_TYPE[/services/S]]`, or the project
/// itself for the project-level settings routes.
fn level(req: &Request, project_level: bool) -> IapLevel<'_> {
    match (req.param("web"), req.param("service")) {
        _ if project_level => IapLevel::Project,
        ("", _) => IapLevel::Web,
        (web, "") => IapLevel::WebType(web),
        (web, service) => IapLevel::Service(web, service),
    }
}

fn resource(
    api: &Api,
    req: &Request,
    project_level: bool,
    action: IapAction,
) -> Result<ResourceRef, Error> {
    api.control
        .iap_resource_at(req.param("project"), level(req, project_level), action)
}

fn meta(req: &Request, project_level: bool, method: &'static str, log: AuditLog) -> Audited {
    let project = req.param("project").to_owned();
    let resource_name = match level(req, project_level) {
        IapLevel::Project => format!("projects/{project}"),
        IapLevel::Web => format!("projects/{project}/iap_web"),
        IapLevel::WebType(web) => format!("projects/{project}/iap_web/{web}"),
        IapLevel::Service(web, service) => {
            format!("projects/{project}/iap_web/{web}/services/{service}")
        }
    };
    Audited {
        service_name: "iap.googleapis.com",
        method_name: method,
        resource_name,
        log_parent: format!("projects/{project}"),
        log,
        resource: MonitoredResource {
            kind: "audited_resource",
            labels: vec![
                ("service", "iap.googleapis.com".to_owned()),
                ("method", method.to_owned()),
            ],
        },
    }
}

/// `POST /v1/{resource}:getIamPolicy` on `projects/P/iap_web`, `…/cloud_run-REGION` or
/// `…/services/S` (a POST, unlike Cloud Run's GET).
pub async fn get_iam_policy(api: Api, req: Request) -> Reply {
    let meta = meta(
        &req,
        false,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIamPolicy",
        AuditLog::DataAccess,
    );
    let policy = audited(&api, &req, meta, async |call| {
        let body: GetIamPolicyRequest = req.json("")?;
        let version = body
            .options
            .and_then(|options| options.requested_policy_version)
            .map_or(0, i64::from);
        let resource = resource(&api, &req, false, IapAction::GetIamPolicy)?;
        api.control.get_iap_iam_policy(call, &resource, version)
    })
    .await?;
    ok(&policy)
}

/// `POST /v1/{resource}:setIamPolicy`.
pub async fn set_iam_policy(api: Api, req: Request) -> Reply {
    let meta = meta(
        &req,
        false,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy",
        AuditLog::Activity,
    );
    let policy = audited(&api, &req, meta, async |call| {
        let body: SetIamPolicyRequest = req.json("")?;
        let resource = resource(&api, &req, false, IapAction::SetIamPolicy)?;
        let policy =
            serde_json::to_value(body.policy.unwrap_or_default()).map_err(Error::internal)?;
        api.control
            .set_iap_iam_policy(call, &resource, &policy, body.update_mask.as_deref())
    })
    .await?;
    ok(&policy)
}

/// `POST /v1/{resource}:testIamPermissions` (no permission needed to ask).
pub async fn test_iam_permissions(api: Api, req: Request) -> Reply {
    let meta = meta(
        &req,
        false,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.TestIamPermissions",
        AuditLog::DataAccess,
    );
    let response = audited(&api, &req, meta, async |call| {
        let body: TestIamPermissionsRequest = req.json("")?;
        let Ok(resource) = resource(&api, &req, false, IapAction::GetIamPolicy) else {
            return Ok(TestIamPermissionsResponse::default());
        };
        let permissions =
            api.control
                .test_iap_iam_permissions(call, &resource, &body.permissions)?;
        Ok(TestIamPermissionsResponse { permissions })
    })
    .await?;
    ok(&response)
}

/// `GET /v1/{name}:iapSettings` on an IAP level.
pub async fn get_iap_settings(api: Api, req: Request) -> Reply {
    settings_get(api, req, false).await
}

/// `GET /v1/projects/{project}:iapSettings`.
pub async fn get_project_iap_settings(api: Api, req: Request) -> Reply {
    settings_get(api, req, true).await
}

/// `PATCH /v1/{iapSettings.name}:iapSettings` on an IAP level (`?updateMask=`).
pub async fn update_iap_settings(api: Api, req: Request) -> Reply {
    settings_update(api, req, false).await
}

/// `PATCH /v1/projects/{project}:iapSettings`.
pub async fn update_project_iap_settings(api: Api, req: Request) -> Reply {
    settings_update(api, req, true).await
}

async fn settings_get(api: Api, req: Request, project_level: bool) -> Reply {
    let meta = meta(
        &req,
        project_level,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIapSettings",
        AuditLog::DataAccess,
    );
    let settings = audited(&api, &req, meta, async |call| {
        let resource = resource(&api, &req, project_level, IapAction::GetSettings)?;
        api.control.get_iap_settings(call, &resource)
    })
    .await?;
    ok(&settings)
}

async fn settings_update(api: Api, req: Request, project_level: bool) -> Reply {
    let meta = meta(
        &req,
        project_level,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.UpdateIapSettings",
        AuditLog::Activity,
    );
    let settings = audited(&api, &req, meta, async |call| {
        let body: serde_json::Value = req.json("iap_settings")?;
        let resource = resource(&api, &req, project_level, IapAction::UpdateSettings)?;
        api.control
            .update_iap_settings(call, &resource, &body, req.query.get("updateMask"))
    })
    .await?;
    ok(&settings)
}

/// `GET /_gcp_iap/handle_redirect` on Kumo's own host: IAP's OAuth redirect URI. Sends the
/// browser on, with the same query, to the callback of the service the `state` names — only if
/// that is an IAP-enabled service's URL.
pub async fn relay(State(api): State<Api>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let state = crate::extract::Query::parse(Some(&query))
        .get("state")
        .map(str::to_owned)
        .unwrap_or_default();
    match api.control.iap_relay_destination(&state) {
        Ok(Some(origin)) => {
            let location = format!("{origin}{}?{query}", kumo_control::iap::RELAY_PATH);
            match axum::http::HeaderValue::from_str(&location) {
                Ok(value) => {
                    (StatusCode::FOUND, [(axum::http::header::LOCATION, value)]).into_response()
                }
                Err(_) => bad_relay(),
            }
        }
        Ok(None) => bad_relay(),
        Err(error) => {
            tracing::error!(%error, "IAP relay failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn bad_relay() -> Response {
    let body = "<!DOCTYPE html>\n<html lang=en><meta charset=utf-8><title>Error 400 (Bad Request)</title><main><p>The sign-in request is invalid or has expired.</p></main></html>\n";
    (
        StatusCode::BAD_REQUEST,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// `GET /iap/verify/public_key`: Kumo's `https://www.gstatic.com/iap/verify/public_key`.
pub async fn public_key_pem(State(api): State<Api>) -> Response {
    public_document(api.control.iap_public_key_pems())
}

/// `GET /iap/verify/public_key-jwk`: Kumo's `https://www.gstatic.com/iap/verify/public_key-jwk`.
pub async fn public_key_jwk(State(api): State<Api>) -> Response {
    public_document(api.control.iap_jwks())
}

fn public_document(document: Result<serde_json::Value, Error>) -> Response {
    match document {
        Ok(document) => {
            let mut response = Json(document).into_response();
            // gstatic serves these with a short public cache lifetime; clients refetch on an unknown kid.
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "IAP public keys unavailable");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
