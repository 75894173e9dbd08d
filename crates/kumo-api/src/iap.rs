//! IAP v1 (`iap.googleapis.com`) for Cloud Run services: the IAM policy methods of
//! `projects/PN/iap_web/cloud_run-REGION/services/S` as `gcloud iap web *-iam-policy*
//! --resource-type=cloud-run` and `iap_v1.IdentityAwareProxyAdminServiceClient` call them
//! (real-clients.md §6), `:iapSettings`, and IAP's public key documents.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_control::{Error, ResourceRef};
use kumo_wire::iam::{
    GetIamPolicyRequest, SetIamPolicyRequest, TestIamPermissionsRequest, TestIamPermissionsResponse,
};

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

/// The region of a `cloud_run-REGION` path segment.
fn region(req: &Request) -> Result<&str, Error> {
    let web = req.param("web");
    web.strip_prefix("cloud_run-")
        .filter(|region| !region.is_empty())
        .ok_or_else(|| {
            Error::invalid_field(
                "resource",
                format!("Invalid resource type: {web}. Kumo supports cloud_run-REGION."),
            )
        })
}

fn resource(api: &Api, req: &Request, permission: &str) -> Result<ResourceRef, Error> {
    api.control.iap_resource(
        req.param("project"),
        region(req)?,
        req.param("service"),
        permission,
    )
}

fn meta(req: &Request, method: &'static str, log: AuditLog) -> Audited {
    let project = req.param("project").to_owned();
    Audited {
        service_name: "iap.googleapis.com",
        method_name: method,
        resource_name: format!(
            "projects/{project}/iap_web/{}/services/{}",
            req.param("web"),
            req.param("service")
        ),
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

/// `POST /v1/projects/{project}/iap_web/{web}/services/{service}:getIamPolicy` (a POST, unlike
/// Cloud Run's GET).
pub async fn get_iam_policy(api: Api, req: Request) -> Reply {
    let meta = meta(
        &req,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIamPolicy",
        AuditLog::DataAccess,
    );
    let policy = audited(&api, &req, meta, async |call| {
        let body: GetIamPolicyRequest = req.json("")?;
        let version = body
            .options
            .and_then(|options| options.requested_policy_version)
            .map_or(0, i64::from);
        let resource = resource(&api, &req, kumo_control::iap::GET_IAM_POLICY)?;
        api.control.get_iap_iam_policy(call, &resource, version)
    })
    .await?;
    ok(&policy)
}

/// `POST …:setIamPolicy`.
pub async fn set_iam_policy(api: Api, req: Request) -> Reply {
    let meta = meta(
        &req,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy",
        AuditLog::Activity,
    );
    let policy = audited(&api, &req, meta, async |call| {
        let body: SetIamPolicyRequest = req.json("")?;
        let resource = resource(&api, &req, kumo_control::iap::SET_IAM_POLICY)?;
        let policy =
            serde_json::to_value(body.policy.unwrap_or_default()).map_err(Error::internal)?;
        api.control
            .set_iap_iam_policy(call, &resource, &policy, body.update_mask.as_deref())
    })
    .await?;
    ok(&policy)
}

/// `POST …:testIamPermissions` (no permission needed to ask).
pub async fn test_iam_permissions(api: Api, req: Request) -> Reply {
    let meta = meta(
        &req,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.TestIamPermissions",
        AuditLog::DataAccess,
    );
    let response = audited(&api, &req, meta, async |call| {
        let body: TestIamPermissionsRequest = req.json("")?;
        let Ok(resource) = resource(&api, &req, kumo_control::iap::GET_IAM_POLICY) else {
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

/// `GET …:iapSettings`.
pub async fn get_iap_settings(api: Api, req: Request) -> Reply {
    let meta = meta(
        &req,
        "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIapSettings",
        AuditLog::DataAccess,
    );
    let settings = audited(&api, &req, meta, async |call| {
        let resource = resource(&api, &req, kumo_control::iap::GET_SETTINGS)?;
        api.control.get_iap_settings(call, &resource)
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
