//! Artifact Registry v1: Docker repositories whose IAM policies decide who may read an image, and
//! the Docker images in them. Kumo stores no layers: an image is a record that a "push" (Kumo's
//! extension [`Control::push_docker_image`], since Google's API has no image-creating method)
//! brings into existence, so that image references used at deploy time resolve to a repository.
//!
//! Image references follow Google's forms: `LOCATION-docker.pkg.dev/PROJECT/REPO/IMAGE[:TAG|@sha256:…]`
//! and the gcr.io-backed repositories (`gcr.io/PROJECT/IMAGE` is repository `gcr.io` in `us`).

use kumo_store::{ListQuery, ParentFilter, Write};
use kumo_wire::artifact_registry::{
    DockerImage, Format, ListDockerImagesResponse, ListRepositoriesResponse, Mode, Repository,
};
use kumo_wire::protobuf::format_timestamp;
use serde_json::{Value, json};

use crate::records::{Collection, encode};
use crate::{Call, Control, Error, ResourceRef};

/// Google's NOT_FOUND text for Artifact Registry resources.
const NOT_FOUND: &str = "Requested entity was not found.";

/// The manifest media type recorded for pushed images (Docker's schema 2).
const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A parsed Docker image reference that lives in an Artifact Registry repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry host, e.g. `us-central1-docker.pkg.dev` or `gcr.io`.
    pub host: String,
    /// Repository location (`us-central1`; `us`/`europe`/`asia` for gcr.io hosts).
    pub location: String,
    /// Project id.
    pub project: String,
    /// Repository id (`gcr.io`, `eu.gcr.io`, … for gcr.io-backed repositories).
    pub repository: String,
    /// Image path inside the repository (may contain `/`).
    pub image: String,
    /// `latest` in `…:latest`.
    pub tag: Option<String>,
    /// `sha256:…` in `…@sha256:…`.
    pub digest: Option<String>,
}

impl ImageRef {
    /// The repository the image lives in: the resource whose IAM decides who may read it.
    pub fn repository_ref(&self) -> ResourceRef {
        ResourceRef::Repository {
            project: self.project.clone(),
            location: self.location.clone(),
            repository: self.repository.clone(),
        }
    }
}

/// Parses an image reference into its repository coordinates. `None` for references that are
/// not Artifact Registry (Docker Hub, other registries) or are malformed.
pub fn parse_image_ref(reference: &str) -> Option<ImageRef> {
    let (host, rest) = reference.split_once('/')?;
    let (location, repository_from_host) = match host {
        "gcr.io" => ("us".to_owned(), Some("gcr.io")),
        "us.gcr.io" => ("us".to_owned(), Some("us.gcr.io")),
        "eu.gcr.io" => ("europe".to_owned(), Some("eu.gcr.io")),
        "asia.gcr.io" => ("asia".to_owned(), Some("asia.gcr.io")),
        _ => (host.strip_suffix("-docker.pkg.dev")?.to_owned(), None),
    };
    if !valid_id(&location) {
        return None;
    }
    let (project, rest) = rest.split_once('/')?;
    let (repository, path) = match repository_from_host {
        Some(repository) => (repository.to_owned(), rest),
        None => {
            let (repository, path) = rest.split_once('/')?;
            (repository.to_owned(), path)
        }
    };
    let (path, digest) = match path.split_once('@') {
        Some((path, digest)) => (path, Some(digest.to_owned())),
        None => (path, None),
    };
    // A tag follows the last `:` of the last path segment (`:` cannot occur elsewhere in a path).
    let last = path.rsplit('/').next().unwrap_or(path);
    let (image, tag) = match last.rsplit_once(':') {
        Some((_, tag)) => (&path[..path.len() - tag.len() - 1], Some(tag.to_owned())),
        None => (path, None),
    };
    if project.is_empty() || image.is_empty() || image.split('/').any(str::is_empty) {
        return None;
    }
    if digest
        .as_deref()
        .is_some_and(|digest| !valid_digest(digest))
        || tag.as_deref().is_some_and(|tag| !valid_tag(tag))
    {
        return None;
    }
    Some(ImageRef {
        host: host.to_owned(),
        location,
        project: project.to_owned(),
        repository,
        image: image.to_owned(),
        tag,
        digest,
    })
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && id.as_bytes()[0].is_ascii_lowercase()
        && !id.ends_with('-')
}

fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn valid_tag(tag: &str) -> bool {
    // Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// Repository ids: Google's rule, checked on create.
fn validate_repository_id(id: &str) -> Result<(), Error> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "repository_id",
            format!(
                "Invalid repository ID \"{id}\": it must start with a lowercase letter, end with a lowercase letter or number, contain only lowercase letters, numbers and hyphens, and be at most 63 characters long."
            ),
        ))
    }
}

fn repository_name(project: &str, location: &str, repository: &str) -> String {
    format!("projects/{project}/locations/{location}/repositories/{repository}")
}

/// The id segment of a Docker image record: the image path with `/` escaped (Google's form),
/// then `@digest`.
fn docker_image_id(image: &str, digest: &str) -> String {
    format!("{}@{digest}", image.replace('/', "%2F"))
}

impl Control {
    /// The repository an image reference points into, or `None` when the reference is not an
    /// Artifact Registry image (the deploy-time image check then has nothing to check).
    pub fn image_repository(&self, image_ref: &str) -> Option<ResourceRef> {
        parse_image_ref(image_ref).map(|image| image.repository_ref())
    }

    /// Whether a repository exists (no authorization; for deploy-time checks).
    pub fn repository_exists(&self, repository: &ResourceRef) -> Result<bool, Error> {
        let ResourceRef::Repository {
            project,
            location,
            repository,
        } = repository
        else {
            return Ok(false);
        };
        Ok(self
            .load::<Value>(
                Collection::Repositories,
                &repository_name(project, location, repository),
            )?
            .is_some())
    }

    /// The project id of a `{project}` path segment (id or number). An unknown project is refused
    /// as Google does: with the permission on the resource the caller named.
    fn ar_project(
        &self,
        call: &Call,
        given: &str,
        permission: &str,
        named: &str,
    ) -> Result<String, Error> {
        match self.resolve_project(given)? {
            Some(project) => Ok(project.id),
            None => {
                let resource = ResourceRef::Project(given.to_owned());
                // Record the refusal for the audit log like any other decision.
                self.authorize(call, permission, &resource)
                    .and(Err(Error::permission_denied(permission, named)))
            }
        }
    }

    fn load_repository(
        &self,
        project: &str,
        location: &str,
        repository: &str,
    ) -> Result<kumo_store::Record, Error> {
        self.store()
            .get(
                Collection::Repositories.as_str(),
                &repository_name(project, location, repository),
            )
            .map_err(crate::records::store_error)?
            .ok_or_else(|| Error::not_found(NOT_FOUND))
    }

    /// The wire repository with its output fields taken from the record.
    fn repository_view(&self, record: &kumo_store::Record) -> Result<Repository, Error> {
        let mut repository: Repository = self.decode(record.clone())?.value;
        repository.name = record.name.clone();
        repository.create_time = Some(format_timestamp(&record.create_time));
        repository.update_time = Some(format_timestamp(&record.update_time));
        Ok(repository)
    }

    /// `repositories.create`: needs `artifactregistry.repositories.create` on the project.
    /// Returns the (already done) operation.
    pub fn create_repository(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository_id: &str,
        mut repository: Repository,
    ) -> Result<Value, Error> {
        let permission = "artifactregistry.repositories.create";
        let project = self.ar_project(
            call,
            project,
            permission,
            &format!("projects/{project}/locations/{location}"),
        )?;
        self.authorize(call, permission, &ResourceRef::Project(project.clone()))?;
        if !valid_id(location) {
            return Err(Error::invalid_field(
                "parent",
                format!("Invalid location \"{location}\"."),
            ));
        }
        validate_repository_id(repository_id)?;
        match repository.format {
            None | Some(Format::Unspecified) => {
                return Err(Error::invalid_field(
                    "repository.format",
                    "Repository format must be specified.",
                ));
            }
            Some(_) => {}
        }
        if repository.mode.is_none() || repository.mode == Some(Mode::Unspecified) {
            repository.mode = Some(Mode::StandardRepository);
        }
        let name = repository_name(&project, location, repository_id);
        repository.name = name.clone();
        repository.create_time = None;
        repository.update_time = None;
        repository.size_bytes = None;
        repository.registry_uri = if repository.format == Some(Format::Docker) {
            format!("{location}-docker.pkg.dev/{project}/{repository_id}")
        } else {
            String::new()
        };
        let records = self
            .commit(&[Write::Create {
                collection: Collection::Repositories.as_str().to_owned(),
                name: name.clone(),
                parent: Some(format!("projects/{project}/locations/{location}")),
                data: encode(&repository)?,
            }])
            .map_err(|error| match error {
                Error::AlreadyExists { .. } => {
                    Error::already_exists(format!("the repository already exists: {name}"))
                }
                other => other,
            })?;
        let record = records
            .first()
            .ok_or_else(|| Error::internal("create returned no record"))?;
        let created = self.repository_view(record)?;
        let operation = self.start_operation(&project, location, ar_metadata())?;
        let operation_name = operation["name"].as_str().unwrap_or_default().to_owned();
        self.finish_operation(
            &operation_name,
            None,
            Ok(any(
                "google.devtools.artifactregistry.v1.Repository",
                &created,
            )?),
        )
    }

    /// `repositories.get`.
    pub fn get_repository(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
    ) -> Result<Repository, Error> {
        let permission = "artifactregistry.repositories.get";
        let project = self.ar_project(
            call,
            project,
            permission,
            &repository_name(project, location, repository),
        )?;
        self.authorize(
            call,
            permission,
            &repository_ref(&project, location, repository),
        )?;
        let record = self.load_repository(&project, location, repository)?;
        self.repository_view(&record)
    }

    /// `repositories.list`, by name, with Google's page tokens.
    pub fn list_repositories(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        page_size: usize,
        page_token: Option<String>,
    ) -> Result<ListRepositoriesResponse, Error> {
        let permission = "artifactregistry.repositories.list";
        let project = self.ar_project(
            call,
            project,
            permission,
            &format!("projects/{project}/locations/{location}"),
        )?;
        self.authorize(call, permission, &ResourceRef::Project(project.clone()))?;
        let page = self
            .store()
            .list(
                Collection::Repositories.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(format!("projects/{project}/locations/{location}")),
                    page_size: page_size.min(1000),
                    page_token,
                    ..ListQuery::default()
                },
            )
            .map_err(|error| match error {
                kumo_store::StoreError::InvalidArgument(_) => {
                    Error::invalid_field("page_token", "Invalid page token.")
                }
                other => crate::records::store_error(other),
            })?;
        let repositories = page
            .records
            .iter()
            .map(|record| self.repository_view(record))
            .collect::<Result<_, _>>()?;
        Ok(ListRepositoriesResponse {
            repositories,
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    /// `repositories.patch`: needs `get` and `update`. `update_mask` names the fields to replace
    /// (`description`, `labels`, `cleanupPolicies`, …); without one every mutable field is taken.
    pub fn update_repository(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
        patch: Repository,
        update_mask: Option<&str>,
    ) -> Result<Repository, Error> {
        let name = repository_name(project, location, repository);
        let project = self.ar_project(call, project, "artifactregistry.repositories.get", &name)?;
        let resource = repository_ref(&project, location, repository);
        self.authorize(call, "artifactregistry.repositories.get", &resource)?;
        self.authorize(call, "artifactregistry.repositories.update", &resource)?;
        let record = self.load_repository(&project, location, repository)?;
        let mut current: Repository = self.decode(record.clone())?.value;
        let fields: Vec<String> = match update_mask {
            Some(mask) if !mask.trim().is_empty() => kumo_wire::protobuf::parse_field_mask(mask),
            _ => [
                "description",
                "labels",
                "cleanupPolicies",
                "cleanupPolicyDryRun",
                "dockerConfig",
                "vulnerabilityScanningConfig",
            ]
            .map(str::to_owned)
            .to_vec(),
        };
        for field in &fields {
            match field.as_str() {
                "description" => current.description = patch.description.clone(),
                "labels" => current.labels = patch.labels.clone(),
                "cleanupPolicies" | "cleanup_policies" => {
                    current.cleanup_policies = patch.cleanup_policies.clone()
                }
                "cleanupPolicyDryRun" | "cleanup_policy_dry_run" => {
                    current.cleanup_policy_dry_run = patch.cleanup_policy_dry_run
                }
                "dockerConfig" | "docker_config" => {
                    current.docker_config = patch.docker_config.clone()
                }
                "vulnerabilityScanningConfig" | "vulnerability_scanning_config" => {
                    current.vulnerability_scanning_config =
                        patch.vulnerability_scanning_config.clone();
                }
                other => {
                    return Err(Error::invalid_field(
                        "update_mask",
                        format!(
                            "Invalid update_mask provided: \"{other}\" is not an updatable field."
                        ),
                    ));
                }
            }
        }
        let records = self.commit(&[Write::Update {
            collection: Collection::Repositories.as_str().to_owned(),
            name: record.name.clone(),
            data: encode(&current)?,
            expected_revision: Some(record.revision),
        }])?;
        let record = records
            .first()
            .ok_or_else(|| Error::internal("update returned no record"))?;
        self.repository_view(record)
    }

    /// `repositories.delete`: removes the repository, its images and its IAM policy (a new
    /// repository of the same name must not inherit the old grants). Returns the done operation.
    pub fn delete_repository(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
    ) -> Result<Value, Error> {
        let permission = "artifactregistry.repositories.delete";
        let project = self.ar_project(
            call,
            project,
            permission,
            &repository_name(project, location, repository),
        )?;
        let resource = repository_ref(&project, location, repository);
        self.authorize(call, permission, &resource)?;
        let record = self.load_repository(&project, location, repository)?;
        let images = self
            .store()
            .list(
                Collection::DockerImages.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(record.name.clone()),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?;
        let mut writes: Vec<Write> = images
            .records
            .iter()
            .map(|image| Write::HardDelete {
                collection: Collection::DockerImages.as_str().to_owned(),
                name: image.name.clone(),
                expected_revision: None,
            })
            .collect();
        writes.push(Write::HardDelete {
            collection: Collection::Repositories.as_str().to_owned(),
            name: record.name.clone(),
            expected_revision: Some(record.revision),
        });
        if self
            .load::<Value>(Collection::IamPolicies, &resource.full_name())?
            .is_some()
        {
            writes.push(Write::HardDelete {
                collection: Collection::IamPolicies.as_str().to_owned(),
                name: resource.full_name(),
                expected_revision: None,
            });
        }
        self.commit(&writes)?;
        self.invalidate_iam();
        let operation = self.start_operation(&project, location, ar_metadata())?;
        let operation_name = operation["name"].as_str().unwrap_or_default().to_owned();
        self.finish_operation(
            &operation_name,
            None,
            Ok(json!({"@type": "type.googleapis.com/google.protobuf.Empty"})),
        )
    }

    /// `repositories.getIamPolicy`.
    pub fn get_repository_iam_policy(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
        requested_version: i64,
    ) -> Result<Value, Error> {
        let permission = "artifactregistry.repositories.getIamPolicy";
        let resource = self.existing_repository(call, project, location, repository, permission)?;
        self.get_iam_policy(call, &resource, permission, requested_version)
    }

    /// `repositories.setIamPolicy`.
    pub fn set_repository_iam_policy(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
        policy: &Value,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let permission = "artifactregistry.repositories.setIamPolicy";
        let resource = self.existing_repository(call, project, location, repository, permission)?;
        self.set_iam_policy(call, &resource, permission, policy, update_mask)
    }

    /// `repositories.testIamPermissions` (no permission needed).
    pub fn test_repository_iam_permissions(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
        permissions: &[String],
    ) -> Result<Vec<String>, Error> {
        let project = self
            .resolve_project(project)?
            .map(|info| info.id)
            .unwrap_or_else(|| project.to_owned());
        let resource = repository_ref(&project, location, repository);
        self.test_iam_permissions(call, &resource, permissions)
    }

    /// The repository as a resource, after checking `permission` on it and that it exists.
    fn existing_repository(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
        permission: &str,
    ) -> Result<ResourceRef, Error> {
        let project = self.ar_project(
            call,
            project,
            permission,
            &repository_name(project, location, repository),
        )?;
        let resource = repository_ref(&project, location, repository);
        self.authorize(call, permission, &resource)?;
        self.load_repository(&project, location, repository)?;
        Ok(resource)
    }

    /// Kumo's push: records an image (`uri` = `LOCATION-docker.pkg.dev/P/R/IMAGE[:TAG][@sha256:…]`)
    /// in the repository of the path, moving `tags` to it. Needs
    /// `artifactregistry.repositories.uploadArtifacts`, like `docker push`. Without a digest in
    /// the uri, a fresh one is assigned: every push of a tag is a new image version.
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the push request's fields"
    )]
    pub fn push_docker_image(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
        uri: &str,
        tags: &[String],
        image_size_bytes: Option<i64>,
    ) -> Result<DockerImage, Error> {
        let permission = "artifactregistry.repositories.uploadArtifacts";
        let project = self.ar_project(
            call,
            project,
            permission,
            &repository_name(project, location, repository),
        )?;
        let resource = repository_ref(&project, location, repository);
        self.authorize(call, permission, &resource)?;
        let record = self.load_repository(&project, location, repository)?;
        let stored: Repository = self.decode(record.clone())?.value;
        if stored.format != Some(Format::Docker) {
            return Err(Error::failed_precondition(format!(
                "Repository {} is not a Docker repository.",
                record.name
            )));
        }
        let Some(image) = parse_image_ref(uri) else {
            return Err(Error::invalid_field(
                "uri",
                format!("Invalid image reference \"{uri}\"."),
            ));
        };
        if image.repository_ref() != resource {
            return Err(Error::invalid_field(
                "uri",
                format!(
                    "Image \"{uri}\" does not belong to repository {}.",
                    record.name
                ),
            ));
        }
        let mut all_tags: Vec<String> = image.tag.iter().cloned().collect();
        for tag in tags {
            if !valid_tag(tag) {
                return Err(Error::invalid_field(
                    "tags",
                    format!("Invalid tag \"{tag}\"."),
                ));
            }
            if !all_tags.contains(tag) {
                all_tags.push(tag.clone());
            }
        }
        let digest = image.digest.clone().unwrap_or_else(|| {
            // No layers are stored, so there is no content to hash: a random 256-bit value is
            // as unique as a real digest.
            format!(
                "sha256:{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        });
        let now = format_timestamp(&self.now());
        let name = format!(
            "{}/dockerImages/{}",
            record.name,
            docker_image_id(&image.image, &digest)
        );
        let mut writes = Vec::new();
        // A tag names one version of an image: take it away from the others.
        let siblings = self
            .store()
            .list(
                Collection::DockerImages.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(record.name.clone()),
                    name_prefix: Some(format!(
                        "{}/dockerImages/{}@",
                        record.name,
                        image.image.replace('/', "%2F")
                    )),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?;
        let mut existing: Option<DockerImage> = None;
        for sibling in siblings.records {
            let mut other: DockerImage = self.decode(sibling.clone())?.value;
            if sibling.name == name {
                existing = Some(other);
                continue;
            }
            let before = other.tags.len();
            other.tags.retain(|tag| !all_tags.contains(tag));
            if other.tags.len() != before {
                other.update_time = Some(now.clone());
                writes.push(Write::Update {
                    collection: Collection::DockerImages.as_str().to_owned(),
                    name: sibling.name.clone(),
                    data: encode(&other)?,
                    expected_revision: Some(sibling.revision),
                });
            }
        }
        let mut docker_image = existing.unwrap_or_else(|| DockerImage {
            name: name.clone(),
            uri: format!("{}{}@{digest}", image_prefix(&image), image.image),
            upload_time: Some(now.clone()),
            media_type: DOCKER_MANIFEST_V2.to_owned(),
            ..DockerImage::default()
        });
        for tag in &all_tags {
            if !docker_image.tags.contains(tag) {
                docker_image.tags.push(tag.clone());
            }
        }
        if image_size_bytes.is_some() {
            docker_image.image_size_bytes = image_size_bytes;
        }
        docker_image.update_time = Some(now);
        writes.push(Write::Check {
            collection: Collection::Repositories.as_str().to_owned(),
            name: record.name.clone(),
            expected_revision: None,
        });
        writes.push(Write::Upsert {
            collection: Collection::DockerImages.as_str().to_owned(),
            name,
            parent: Some(record.name.clone()),
            data: encode(&docker_image)?,
        });
        self.commit(&writes)?;
        Ok(docker_image)
    }

    /// `dockerImages.list`: needs `artifactregistry.dockerimages.list` on the repository.
    pub fn list_docker_images(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
        page_size: usize,
        page_token: Option<String>,
    ) -> Result<ListDockerImagesResponse, Error> {
        let permission = "artifactregistry.dockerimages.list";
        let resource = self.existing_repository(call, project, location, repository, permission)?;
        let ResourceRef::Repository { project, .. } = &resource else {
            return Err(Error::internal("repository resource expected"));
        };
        let page = self
            .store()
            .list(
                Collection::DockerImages.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(repository_name(project, location, repository)),
                    page_size: page_size.min(1000),
                    page_token,
                    ..ListQuery::default()
                },
            )
            .map_err(|error| match error {
                kumo_store::StoreError::InvalidArgument(_) => {
                    Error::invalid_field("page_token", "Invalid page token.")
                }
                other => crate::records::store_error(other),
            })?;
        let docker_images = page
            .records
            .into_iter()
            .map(|record| Ok(self.decode::<DockerImage>(record)?.value))
            .collect::<Result<_, Error>>()?;
        Ok(ListDockerImagesResponse {
            docker_images,
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    /// `dockerImages.get`; `image` is `IMAGE@sha256:…` (the image path's `/` may be `%2F`).
    pub fn get_docker_image(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        repository: &str,
        image: &str,
    ) -> Result<DockerImage, Error> {
        let permission = "artifactregistry.dockerimages.get";
        let resource = self.existing_repository(call, project, location, repository, permission)?;
        let ResourceRef::Repository { project, .. } = &resource else {
            return Err(Error::internal("repository resource expected"));
        };
        let name = format!(
            "{}/dockerImages/{}",
            repository_name(project, location, repository),
            image.replace('/', "%2F")
        );
        match self.load::<DockerImage>(Collection::DockerImages, &name)? {
            Some(stored) => Ok(stored.value),
            None => Err(Error::not_found(NOT_FOUND)),
        }
    }
}

/// `LOCATION-docker.pkg.dev/PROJECT/REPO/` or `gcr.io/PROJECT/`: how a uri of the image starts.
fn image_prefix(image: &ImageRef) -> String {
    if image.host.ends_with("gcr.io") {
        format!("{}/{}/", image.host, image.project)
    } else {
        format!("{}/{}/{}/", image.host, image.project, image.repository)
    }
}

fn repository_ref(project: &str, location: &str, repository: &str) -> ResourceRef {
    ResourceRef::Repository {
        project: project.to_owned(),
        location: location.to_owned(),
        repository: repository.to_owned(),
    }
}

/// Artifact Registry's operation metadata (an empty message).
fn ar_metadata() -> Value {
    json!({"@type": "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"})
}

fn any<T: serde::Serialize>(type_name: &str, message: &T) -> Result<Value, Error> {
    kumo_wire::protobuf::to_any(type_name, message).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// location, project, repository, image, tag, digest.
    type Expected<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
    );

    #[test]
    fn parses_artifact_registry_and_gcr_references() {
        let cases: &[(&str, Option<Expected<'_>>)] = &[
            (
                "asia-northeast1-docker.pkg.dev/demo/docker-repo/my-cloud-run-app:latest",
                Some((
                    "asia-northeast1",
                    "demo",
                    "docker-repo",
                    "my-cloud-run-app",
                    Some("latest"),
                    None,
                )),
            ),
            (
                "us-docker.pkg.dev/cloudrun/container/job",
                Some(("us", "cloudrun", "container", "job", None, None)),
            ),
            (
                "europe-west1-docker.pkg.dev/p/r/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                Some((
                    "europe-west1",
                    "p",
                    "r",
                    "team/app",
                    None,
                    Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                )),
            ),
            (
                "gcr.io/cloudrun/hello",
                Some(("us", "cloudrun", "gcr.io", "hello", None, None)),
            ),
            (
                "eu.gcr.io/p/a/b:v1",
                Some(("europe", "p", "eu.gcr.io", "a/b", Some("v1"), None)),
            ),
            ("docker.io/library/nginx:latest", None),
            ("nginx", None),
            ("us-docker.pkg.dev/p/r", None),
            ("us-docker.pkg.dev/p/r/img@sha256:short", None),
            ("us-docker.pkg.dev/p/r/img:", None),
            ("US-docker.pkg.dev/p/r/img", None),
            ("us-docker.pkg.dev/p/r//img", None),
        ];
        for (reference, expected) in cases {
            let parsed = parse_image_ref(reference);
            match expected {
                None => assert!(parsed.is_none(), "{reference} should not parse: {parsed:?}"),
                Some((location, project, repository, image, tag, digest)) => {
                    let parsed = parsed.unwrap_or_else(|| panic!("{reference} should parse"));
                    assert_eq!(parsed.location, *location, "{reference}");
                    assert_eq!(parsed.project, *project, "{reference}");
                    assert_eq!(parsed.repository, *repository, "{reference}");
                    assert_eq!(parsed.image, *image, "{reference}");
                    assert_eq!(parsed.tag.as_deref(), *tag, "{reference}");
                    assert_eq!(parsed.digest.as_deref(), *digest, "{reference}");
                }
            }
        }
    }

    #[test]
    fn repository_of_an_image_is_the_iam_resource() {
        let image = parse_image_ref("us-central1-docker.pkg.dev/demo-project/repo/app:1").unwrap();
        assert_eq!(
            image.repository_ref().full_name(),
            "//artifactregistry.googleapis.com/projects/demo-project/locations/us-central1/repositories/repo"
        );
    }

    #[test]
    fn repository_ids_follow_googles_rule() {
        for good in ["docker-repo", "a", "r2"] {
            assert!(validate_repository_id(good).is_ok(), "{good}");
        }
        for bad in ["", "Repo", "1repo", "repo-", "re_po", &"a".repeat(64)] {
            assert!(validate_repository_id(bad).is_err(), "{bad}");
        }
    }
}
