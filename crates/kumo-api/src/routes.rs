//! The route table: every Google API method Kumo serves, with the permission Google documents for
//! it. One place, so that a test can walk it (every route names a permission that the catalog
//! knows, or says why it needs none).

use axum::http::Method;

use crate::dispatch::HandlerFuture;
use crate::{Api, Request};

/// One API method.
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path template, `{param}` per segment, optional `:verb` suffix.
    pub template: &'static str,
    /// The permission Google checks for this method, or `None` with the reason in `note`.
    pub permission: Option<&'static str>,
    /// Google's RPC name, for audit logs (`google.cloud.run.v2.Services.GetService`).
    pub rpc: &'static str,
    /// The handler.
    pub handler: fn(Api, Request) -> HandlerFuture,
}

/// Every routed method. Sections are grouped by API; within a section, by resource.
pub static ROUTES: &[Route] = &[
    // == resource manager / iam admin / org policy / service usage ==
    // == run services / revisions / operations ==
    // == run jobs / artifact registry / logging ==
    Route {
        method: Method::POST,
        template: "/v2/projects/{project}/locations/{location}/jobs",
        permission: Some("run.jobs.create"),
        rpc: "google.cloud.run.v2.Jobs.CreateJob",
        handler: |api, req| Box::pin(crate::run_jobs::create_job(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/projects/{project}/locations/{location}/jobs",
        permission: Some("run.jobs.list"),
        rpc: "google.cloud.run.v2.Jobs.ListJobs",
        handler: |api, req| Box::pin(crate::run_jobs::list_jobs(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}",
        permission: Some("run.jobs.get"),
        rpc: "google.cloud.run.v2.Jobs.GetJob",
        handler: |api, req| Box::pin(crate::run_jobs::get_job(api, req)),
    },
    Route {
        method: Method::PATCH,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}",
        permission: Some("run.jobs.update"),
        rpc: "google.cloud.run.v2.Jobs.UpdateJob",
        handler: |api, req| Box::pin(crate::run_jobs::update_job(api, req)),
    },
    Route {
        method: Method::DELETE,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}",
        permission: Some("run.jobs.delete"),
        rpc: "google.cloud.run.v2.Jobs.DeleteJob",
        handler: |api, req| Box::pin(crate::run_jobs::delete_job(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}:run",
        permission: Some("run.jobs.run"),
        rpc: "google.cloud.run.v2.Jobs.RunJob",
        handler: |api, req| Box::pin(crate::run_jobs::run_job(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}:getIamPolicy",
        permission: Some("run.jobs.getIamPolicy"),
        rpc: "google.cloud.run.v2.Jobs.GetIamPolicy",
        handler: |api, req| Box::pin(crate::run_jobs::get_iam_policy(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}:setIamPolicy",
        permission: Some("run.jobs.setIamPolicy"),
        rpc: "google.cloud.run.v2.Jobs.SetIamPolicy",
        handler: |api, req| Box::pin(crate::run_jobs::set_iam_policy(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}:testIamPermissions",
        permission: None,
        rpc: "google.cloud.run.v2.Jobs.TestIamPermissions",
        handler: |api, req| Box::pin(crate::run_jobs::test_iam_permissions(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}/executions",
        permission: Some("run.executions.list"),
        rpc: "google.cloud.run.v2.Executions.ListExecutions",
        handler: |api, req| Box::pin(crate::run_jobs::list_executions(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}/executions/{execution}",
        permission: Some("run.executions.get"),
        rpc: "google.cloud.run.v2.Executions.GetExecution",
        handler: |api, req| Box::pin(crate::run_jobs::get_execution(api, req)),
    },
    Route {
        method: Method::DELETE,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}/executions/{execution}",
        permission: Some("run.executions.delete"),
        rpc: "google.cloud.run.v2.Executions.DeleteExecution",
        handler: |api, req| Box::pin(crate::run_jobs::delete_execution(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}/executions/{execution}:cancel",
        permission: Some("run.executions.cancel"),
        rpc: "google.cloud.run.v2.Executions.CancelExecution",
        handler: |api, req| Box::pin(crate::run_jobs::cancel_execution(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}/executions/{execution}/tasks",
        permission: Some("run.tasks.list"),
        rpc: "google.cloud.run.v2.Tasks.ListTasks",
        handler: |api, req| Box::pin(crate::run_jobs::list_tasks(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/projects/{project}/locations/{location}/jobs/{job}/executions/{execution}/tasks/{task}",
        permission: Some("run.tasks.get"),
        rpc: "google.cloud.run.v2.Tasks.GetTask",
        handler: |api, req| Box::pin(crate::run_jobs::get_task(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/apis/run.googleapis.com/v1/namespaces/{namespace}/jobs",
        permission: Some("run.jobs.create"),
        rpc: "google.cloud.run.v1.Jobs.CreateJob",
        handler: |api, req| Box::pin(crate::run_jobs::v1_create_job(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/apis/run.googleapis.com/v1/namespaces/{namespace}/jobs",
        permission: Some("run.jobs.list"),
        rpc: "google.cloud.run.v1.Jobs.ListJobs",
        handler: |api, req| Box::pin(crate::run_jobs::v1_list_jobs(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/apis/run.googleapis.com/v1/namespaces/{namespace}/jobs/{job}",
        permission: Some("run.jobs.get"),
        rpc: "google.cloud.run.v1.Jobs.GetJob",
        handler: |api, req| Box::pin(crate::run_jobs::v1_get_job(api, req)),
    },
    Route {
        method: Method::PUT,
        template: "/apis/run.googleapis.com/v1/namespaces/{namespace}/jobs/{job}",
        permission: Some("run.jobs.update"),
        rpc: "google.cloud.run.v1.Jobs.ReplaceJob",
        handler: |api, req| Box::pin(crate::run_jobs::v1_replace_job(api, req)),
    },
    Route {
        method: Method::DELETE,
        template: "/apis/run.googleapis.com/v1/namespaces/{namespace}/jobs/{job}",
        permission: Some("run.jobs.delete"),
        rpc: "google.cloud.run.v1.Jobs.DeleteJob",
        handler: |api, req| Box::pin(crate::run_jobs::v1_delete_job(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/locations/{location}/repositories",
        permission: Some("artifactregistry.repositories.create"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.CreateRepository",
        handler: |api, req| Box::pin(crate::artifact_registry::create_repository(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v1/projects/{project}/locations/{location}/repositories",
        permission: Some("artifactregistry.repositories.list"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.ListRepositories",
        handler: |api, req| Box::pin(crate::artifact_registry::list_repositories(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v1/projects/{project}/locations/{location}/repositories/{repository}",
        permission: Some("artifactregistry.repositories.get"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.GetRepository",
        handler: |api, req| Box::pin(crate::artifact_registry::get_repository(api, req)),
    },
    Route {
        method: Method::PATCH,
        template: "/v1/projects/{project}/locations/{location}/repositories/{repository}",
        permission: Some("artifactregistry.repositories.update"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.UpdateRepository",
        handler: |api, req| Box::pin(crate::artifact_registry::update_repository(api, req)),
    },
    Route {
        method: Method::DELETE,
        template: "/v1/projects/{project}/locations/{location}/repositories/{repository}",
        permission: Some("artifactregistry.repositories.delete"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.DeleteRepository",
        handler: |api, req| Box::pin(crate::artifact_registry::delete_repository(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v1/projects/{project}/locations/{location}/repositories/{repository}:getIamPolicy",
        permission: Some("artifactregistry.repositories.getIamPolicy"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.GetIamPolicy",
        handler: |api, req| Box::pin(crate::artifact_registry::get_iam_policy(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/locations/{location}/repositories/{repository}:setIamPolicy",
        permission: Some("artifactregistry.repositories.setIamPolicy"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.SetIamPolicy",
        handler: |api, req| Box::pin(crate::artifact_registry::set_iam_policy(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/locations/{location}/repositories/{repository}:testIamPermissions",
        permission: None,
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.TestIamPermissions",
        handler: |api, req| Box::pin(crate::artifact_registry::test_iam_permissions(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v1/projects/{project}/locations/{location}/repositories/{repository}/dockerImages",
        permission: Some("artifactregistry.dockerImages.list"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.ListDockerImages",
        handler: |api, req| Box::pin(crate::artifact_registry::list_docker_images(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v1/projects/{project}/locations/{location}/repositories/{repository}/dockerImages/{image}",
        permission: Some("artifactregistry.dockerImages.get"),
        rpc: "google.devtools.artifactregistry.v1.ArtifactRegistry.GetDockerImage",
        handler: |api, req| Box::pin(crate::artifact_registry::get_docker_image(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/kumo/v1/projects/{project}/locations/{location}/repositories/{repository}/dockerImages",
        permission: Some("artifactregistry.repositories.uploadArtifacts"),
        rpc: "kumo.artifactregistry.v1.PushDockerImage",
        handler: |api, req| Box::pin(crate::artifact_registry::push_docker_image(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v2/entries:list",
        permission: Some("logging.logEntries.list"),
        rpc: "google.logging.v2.LoggingServiceV2.ListLogEntries",
        handler: |api, req| Box::pin(crate::logging::list_entries(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v2/entries:write",
        permission: Some("logging.logEntries.create"),
        rpc: "google.logging.v2.LoggingServiceV2.WriteLogEntries",
        handler: |api, req| Box::pin(crate::logging::write_entries(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/projects/{project}/logs",
        permission: Some("logging.logs.list"),
        rpc: "google.logging.v2.LoggingServiceV2.ListLogs",
        handler: |api, req| Box::pin(crate::logging::list_logs(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/folders/{folder}/logs",
        permission: Some("logging.logs.list"),
        rpc: "google.logging.v2.LoggingServiceV2.ListLogs",
        handler: |api, req| Box::pin(crate::logging::list_logs(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v2/organizations/{organization}/logs",
        permission: Some("logging.logs.list"),
        rpc: "google.logging.v2.LoggingServiceV2.ListLogs",
        handler: |api, req| Box::pin(crate::logging::list_logs(api, req)),
    },
    // == identity / iam credentials / directory ==
    // == iap ==
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/iap_web/{web}/services/{service}:getIamPolicy",
        permission: Some("iap.webServiceVersions.getIamPolicy"),
        rpc: "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIamPolicy",
        handler: |api, req| Box::pin(crate::iap::get_iam_policy(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/iap_web/{web}/services/{service}:setIamPolicy",
        permission: Some("iap.webServiceVersions.setIamPolicy"),
        rpc: "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy",
        handler: |api, req| Box::pin(crate::iap::set_iam_policy(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/iap_web/{web}/services/{service}:testIamPermissions",
        permission: None,
        rpc: "google.cloud.iap.v1.IdentityAwareProxyAdminService.TestIamPermissions",
        handler: |api, req| Box::pin(crate::iap::test_iam_permissions(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v1/projects/{project}/iap_web/{web}/services/{service}:iapSettings",
        permission: Some("iap.webServiceVersions.getSettings"),
        rpc: "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIapSettings",
        handler: |api, req| Box::pin(crate::iap::get_iap_settings(api, req)),
    },
];
