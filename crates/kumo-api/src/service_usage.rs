//! Service Usage: `generateServiceIdentity` (`gcloud beta services identity create`).

use kumo_control::audit::AuditLog;

use crate::resource_manager::{audit_meta, run};
use crate::{Api, Reply, Request};

/// `POST /v1beta1/projects/{project}/services/{service}:generateServiceIdentity`
pub async fn generate_service_identity(api: Api, req: Request) -> Reply {
    let name = format!(
        "projects/{}/services/{}",
        req.param("project"),
        req.param("service")
    );
    let meta = audit_meta(
        &api,
        "serviceusage.googleapis.com",
        "google.api.serviceusage.v1beta1.ServiceUsage.GenerateServiceIdentity",
        name,
        AuditLog::Activity,
    );
    run(&api, &req, meta, |call| {
        api.control
            .generate_service_identity(call, req.param("project"), req.param("service"))
    })
    .await
}
