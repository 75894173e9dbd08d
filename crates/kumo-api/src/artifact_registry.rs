//! Artifact Registry v1 over REST (`/v1/projects/*/locations/*/repositories/…`): repositories,
//! their IAM policies and Docker images, plus Kumo's push extension
//! `POST /kumo/v1/projects/{p}/locations/{l}/repositories/{r}/dockerImages` with body
//! `{"uri": "LOCATION-docker.pkg.dev/P/R/IMAGE[:TAG][@sha256:…]", "tags": [...], "imageSizeBytes": "…"}`,
//! which records an image the way `docker push` would (Google's API has no such method; images
//! arrive through the Docker registry protocol, which Kumo does not serve). It needs
//! `artifactregistry.repositories.uploadArtifacts` and answers with the `DockerImage`.

use kumo_control::Error;
use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_wire::artifact_registry::Repository;
use kumo_wire::iam::{SetIamPolicyRequest, TestIamPermissionsRequest, TestIamPermissionsResponse};
use serde::Deserialize;

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

const SERVICE: &str = "artifactregistry.googleapis.com";

fn audit(api: &Api, req: &Request, method: &'static str, log: AuditLog) -> Audited {
    let project = match api.control.resolve_project(req.param("project")) {
        Ok(Some(info)) => info.id,
        _ => req.param("project").to_owned(),
    };
    let location = req.param("location");
    let repository = if req.param("repository").is_empty() {
        req.query.get("repositoryId").unwrap_or_default()
    } else {
        req.param("repository")
    };
    let mut resource_name = format!("projects/{}/locations/{location}", req.param("project"));
    if !repository.is_empty() {
        resource_name.push_str(&format!("/repositories/{repository}"));
    }
    if !req.param("image").is_empty() {
        resource_name.push_str(&format!("/dockerImages/{}", req.param("image")));
    }
    Audited {
        service_name: SERVICE,
        method_name: method,
        resource_name,
        log_parent: format!("projects/{project}"),
        log,
        resource: MonitoredResource {
            kind: "audited_resource",
            labels: vec![
                ("method", method.to_owned()),
                ("project_id", project),
                ("service", SERVICE.to_owned()),
            ],
        },
    }
}

fn page_size(req: &Request) -> Result<usize, Error> {
    match req.query.int("pageSize")? {
        Some(size) if size < 0 => Err(Error::invalid_field(
            "page_size",
            "page_size must not be negative.",
        )),
        Some(size) => Ok(usize::try_from(size).unwrap_or(usize::MAX)),
        None => Ok(0),
    }
}

fn page_token(req: &Request) -> Option<String> {
    req.query
        .get("pageToken")
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

/// `POST /v1/projects/{project}/locations/{location}/repositories?repositoryId=…`
pub async fn create_repository(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.CreateRepository",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let repository: Repository = req.json("repository")?;
        let id = req.query.get("repositoryId").unwrap_or_default();
        api.control.create_repository(
            call,
            req.param("project"),
            req.param("location"),
            id,
            repository,
        )
    })
    .await?;
    ok(&operation)
}

/// `GET /v1/projects/{project}/locations/{location}/repositories/{repository}`
pub async fn get_repository(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.GetRepository",
        AuditLog::DataAccess,
    );
    let repository = audited(&api, &req, meta, async |call| {
        api.control.get_repository(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
        )
    })
    .await?;
    ok(&repository)
}

/// `GET /v1/projects/{project}/locations/{location}/repositories`
pub async fn list_repositories(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.ListRepositories",
        AuditLog::DataAccess,
    );
    let page = audited(&api, &req, meta, async |call| {
        api.control.list_repositories(
            call,
            req.param("project"),
            req.param("location"),
            page_size(&req)?,
            page_token(&req),
        )
    })
    .await?;
    ok(&page)
}

/// `PATCH /v1/projects/{project}/locations/{location}/repositories/{repository}?updateMask=…`
pub async fn update_repository(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.UpdateRepository",
        AuditLog::Activity,
    );
    let repository = audited(&api, &req, meta, async |call| {
        let patch: Repository = req.json("repository")?;
        api.control.update_repository(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
            patch,
            req.query.get("updateMask"),
        )
    })
    .await?;
    ok(&repository)
}

/// `DELETE /v1/projects/{project}/locations/{location}/repositories/{repository}`
pub async fn delete_repository(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.DeleteRepository",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        api.control.delete_repository(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
        )
    })
    .await?;
    ok(&operation)
}

/// `GET …/repositories/{repository}:getIamPolicy`
pub async fn get_iam_policy(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.GetIamPolicy",
        AuditLog::DataAccess,
    );
    let policy = audited(&api, &req, meta, async |call| {
        let version = req
            .query
            .int("options.requestedPolicyVersion")?
            .unwrap_or(0);
        api.control.get_repository_iam_policy(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
            version,
        )
    })
    .await?;
    ok(&policy)
}

/// `POST …/repositories/{repository}:setIamPolicy`
pub async fn set_iam_policy(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.SetIamPolicy",
        AuditLog::Activity,
    );
    let policy = audited(&api, &req, meta, async |call| {
        let body: SetIamPolicyRequest = req.json("")?;
        let policy =
            serde_json::to_value(body.policy.unwrap_or_default()).map_err(Error::internal)?;
        api.control.set_repository_iam_policy(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
            &policy,
            body.update_mask.as_deref(),
        )
    })
    .await?;
    ok(&policy)
}

/// `POST …/repositories/{repository}:testIamPermissions`
pub async fn test_iam_permissions(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.TestIamPermissions",
        AuditLog::DataAccess,
    );
    let permissions = audited(&api, &req, meta, async |call| {
        let body: TestIamPermissionsRequest = req.json("")?;
        api.control.test_repository_iam_permissions(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
            &body.permissions,
        )
    })
    .await?;
    ok(&TestIamPermissionsResponse { permissions })
}

/// `GET …/repositories/{repository}/dockerImages`
pub async fn list_docker_images(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.ListDockerImages",
        AuditLog::DataAccess,
    );
    let page = audited(&api, &req, meta, async |call| {
        api.control.list_docker_images(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
            page_size(&req)?,
            page_token(&req),
        )
    })
    .await?;
    ok(&page)
}

/// `GET …/repositories/{repository}/dockerImages/{image}`
pub async fn get_docker_image(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "google.devtools.artifactregistry.v1.ArtifactRegistry.GetDockerImage",
        AuditLog::DataAccess,
    );
    let image = audited(&api, &req, meta, async |call| {
        api.control.get_docker_image(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
            req.param("image"),
        )
    })
    .await?;
    ok(&image)
}

/// The body of Kumo's push.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PushDockerImageRequest {
    uri: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, with = "kumo_wire::protobuf::int64")]
    image_size_bytes: Option<i64>,
}

/// `POST /kumo/v1/projects/{project}/locations/{location}/repositories/{repository}/dockerImages`
pub async fn push_docker_image(api: Api, req: Request) -> Reply {
    let meta = audit(
        &api,
        &req,
        "kumo.artifactregistry.v1.PushDockerImage",
        AuditLog::Activity,
    );
    let image = audited(&api, &req, meta, async |call| {
        let body: PushDockerImageRequest = req.json("")?;
        api.control.push_docker_image(
            call,
            req.param("project"),
            req.param("location"),
            req.param("repository"),
            &body.uri,
            &body.tags,
            body.image_size_bytes,
        )
    })
    .await?;
    ok(&image)
}
