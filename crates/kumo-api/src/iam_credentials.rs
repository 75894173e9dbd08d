//! IAM Credentials v1 (`iamcredentials.googleapis.com`): `generateAccessToken`,
//! `generateIdToken`, `signJwt`, `signBlob` on `projects/-/serviceAccounts/{EMAIL}`.

use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_control::{Call, Error};
use kumo_wire::iam_credentials::{
    GenerateAccessTokenRequest, GenerateIdTokenRequest, SignBlobRequest, SignJwtRequest,
};
use serde::Serialize;
use serde_json::Value;

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

const SERVICE: &str = "iamcredentials.googleapis.com";

fn name_of(req: &Request) -> String {
    format!(
        "projects/{}/serviceAccounts/{}",
        req.param("project"),
        req.param("account")
    )
}

/// Token minting is recorded in the Data Access log of the account's project.
fn meta(api: &Api, req: &Request, method: &'static str) -> Audited {
    let account = req.param("account").to_owned();
    let project = api.control.service_account_project(&account).ok().flatten();
    let log_parent = match &project {
        Some(project) => format!("projects/{project}"),
        None => "projects/-".to_owned(),
    };
    let mut labels = vec![("email_id", account.clone())];
    if let Some(project) = project {
        labels.push(("project_id", project));
    }
    Audited {
        service_name: SERVICE,
        method_name: method,
        resource_name: format!("projects/-/serviceAccounts/{account}"),
        log_parent,
        log: AuditLog::DataAccess,
        resource: MonitoredResource {
            kind: "service_account",
            labels,
        },
    }
}

async fn run<T: Serialize>(
    api: &Api,
    req: &Request,
    method: &'static str,
    body: impl FnOnce(&Call) -> Result<T, Error>,
) -> Reply {
    let meta = meta(api, req, method);
    let value = audited(api, req, meta, async move |call| body(call)).await?;
    ok(&value)
}

/// The request body as a wire type. proto3 JSON reads `null` as the field's default, and
/// google-auth sends `"delegates": null`; nulls are dropped before the strict parse.
fn body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, Error> {
    let mut raw: Value = req.json("")?;
    if let Some(object) = raw.as_object_mut() {
        object.retain(|_, value| !value.is_null());
    }
    let bytes = serde_json::to_vec(&raw).map_err(Error::internal)?;
    crate::extract::json_body(&bytes, "")
}

/// `POST /v1/projects/-/serviceAccounts/{account}:generateAccessToken`.
pub async fn generate_access_token(api: Api, req: Request) -> Reply {
    let name = name_of(&req);
    let body: GenerateAccessTokenRequest = body(&req)?;
    run(
        &api,
        &req,
        "google.iam.credentials.v1.IAMCredentials.GenerateAccessToken",
        |call| api.control.generate_access_token(call, &name, &body),
    )
    .await
}

/// `POST …:generateIdToken`. google-auth adds `"useEmailAzp": "true"`, which is not in the
/// proto; it is read here and removed before the strict parse.
pub async fn generate_id_token(api: Api, req: Request) -> Reply {
    let name = name_of(&req);
    let mut raw: Value = req.json("")?;
    let use_email_azp = match raw
        .as_object_mut()
        .and_then(|object| object.remove("useEmailAzp"))
    {
        Some(Value::Bool(flag)) => flag,
        Some(Value::String(text)) => text == "true",
        _ => false,
    };
    if let Some(object) = raw.as_object_mut() {
        object.retain(|_, value| !value.is_null());
    }
    let bytes = serde_json::to_vec(&raw).map_err(Error::internal)?;
    let body: GenerateIdTokenRequest = crate::extract::json_body(&bytes, "")?;
    run(
        &api,
        &req,
        "google.iam.credentials.v1.IAMCredentials.GenerateIdToken",
        |call| {
            api.control
                .generate_id_token(call, &name, &body, use_email_azp)
        },
    )
    .await
}

/// `POST …:signJwt`.
pub async fn sign_jwt(api: Api, req: Request) -> Reply {
    let name = name_of(&req);
    let body: SignJwtRequest = body(&req)?;
    run(
        &api,
        &req,
        "google.iam.credentials.v1.IAMCredentials.SignJwt",
        |call| api.control.sign_jwt(call, &name, &body),
    )
    .await
}

/// `POST …:signBlob`.
pub async fn sign_blob(api: Api, req: Request) -> Reply {
    let name = name_of(&req);
    let body: SignBlobRequest = body(&req)?;
    run(
        &api,
        &req,
        "google.iam.credentials.v1.IAMCredentials.SignBlob",
        |call| api.control.sign_blob(call, &name, &body),
    )
    .await
}
