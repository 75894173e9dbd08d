//! The checks Cloud Run makes when a service or job is created or updated, after the
//! `run.services.*`/`run.jobs.*` permission of the method itself (cloudrun-security-spec.md §7,
//! iam-orgpolicy-semantics.md §4.7), in Google's order:
//! 1. changing `invokerIamDisabled` needs `run.services.setIamPolicy`, and turning the check off is
//!    refused while `run.managed.requireInvokerIam` is in effect (inherited included);
//! 2. `run.allowedIngress`;
//! 3. `iam.serviceAccounts.actAs` on the runtime service account, which must exist;
//! 4. for a service account of another project: `iam.disableCrossProjectServiceAccountUsage` on
//!    that project, and the deploying project's Cloud Run service agent needs
//!    `iam.serviceAccounts.getAccessToken` on the account;
//! 5. read access to each image's Artifact Registry repository
//!    (`artifactregistry.repositories.downloadArtifacts`), enforced or only logged per
//!    [`crate::ImageAccessCheck`] (seed 001);
//! 6. the organization's custom constraints enforced at the project, evaluated on the
//!    resource as Cloud Run Admin API v1 (Knative) shows it, with Cloud Run's defaults filled
//!    in (the order relative to the other steps is UNCONFIRMED).
//!
//! Jobs call the same functions with their `ResourceRef::RunJob`.

use kumo_orgpolicy::MethodType;
use kumo_wire::run_v1;
use kumo_wire::run_v2::{self, IngressTraffic};
use serde_json::{Value, json};

use crate::audit::{AuditEvent, AuditLog, MonitoredResource};
use crate::org_constraints::violation_error;
use crate::records::Collection;
use crate::{
    AuthorizationRecord, Call, Control, Error, ImageAccessCheck, ProjectInfo, ResourceRef,
};

/// Read access to an image's repository.
const DOWNLOAD_ARTIFACTS: &str = "artifactregistry.repositories.downloadArtifacts";

/// What the deploy-time checks need to know about the deploy.
#[derive(Debug, Clone)]
pub struct Deploy<'a> {
    /// The project of the Cloud Run resource.
    pub project: &'a ProjectInfo,
    /// Its region.
    pub location: &'a str,
    /// The service or job being created or updated.
    pub resource: &'a ResourceRef,
    /// The runtime service account as configured (empty = the project's default).
    pub service_account: &'a str,
    /// Every container image of the template.
    pub images: Vec<&'a str>,
    /// The API method, for the image-access warning entry (`google.cloud.run.v1.Services.CreateService`).
    pub method_name: &'a str,
}

/// Where an image lives in Artifact Registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRepository {
    /// Project id (or number) of the repository.
    pub project: String,
    /// Its location (`us-central1`, or `us`/`europe`/`asia` for gcr.io hosts).
    pub location: String,
    /// Repository id.
    pub repository: String,
    /// The image path inside the project, without tag or digest (`REPO/IMAGE`).
    pub path: String,
}

/// Google's published sample images, readable by everyone.
pub fn is_public_sample(image: &str) -> bool {
    image.starts_with("us-docker.pkg.dev/cloudrun/container/")
        || image.starts_with("gcr.io/cloudrun/")
}

/// The Artifact Registry repository of `LOCATION-docker.pkg.dev/PROJECT/REPO/IMAGE[:TAG|@DIGEST]`
/// or of a gcr.io image (served from the `gcr.io` repositories Artifact Registry hosts). Images
/// elsewhere (Docker Hub, …) have no Google repository and are not checked.
pub fn image_repository(image: &str) -> Option<ImageRepository> {
    let (host, rest) = image.split_once('/')?;
    let without_digest = rest.split('@').next().unwrap_or(rest);
    let path = match without_digest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => path,
        _ => without_digest,
    };
    if let Some(location) = host.strip_suffix("-docker.pkg.dev") {
        let mut parts = path.splitn(3, '/');
        let (project, repository, name) = (parts.next()?, parts.next()?, parts.next()?);
        if location.is_empty() || project.is_empty() || repository.is_empty() || name.is_empty() {
            return None;
        }
        return Some(ImageRepository {
            project: project.to_owned(),
            location: location.to_owned(),
            repository: repository.to_owned(),
            path: format!("{repository}/{name}"),
        });
    }
    let location = match host {
        "gcr.io" | "us.gcr.io" => "us",
        "eu.gcr.io" => "europe",
        "asia.gcr.io" => "asia",
        _ => return None,
    };
    let (project, name) = path.split_once('/')?;
    if project.is_empty() || name.is_empty() {
        return None;
    }
    Some(ImageRepository {
        project: project.to_owned(),
        location: location.to_owned(),
        repository: host.to_owned(),
        path: format!("{project}/{name}"),
    })
}

/// The default runtime identity of a project's Cloud Run resources.
pub fn default_service_account(project_number: &str) -> String {
    format!("{project_number}-compute@developer.gserviceaccount.com")
}

/// The Cloud Run service agent of a project.
pub fn run_service_agent(project_number: &str) -> String {
    format!("service-{project_number}@serverless-robot-prod.iam.gserviceaccount.com")
}

/// Cloud Run's refusal of `actAs` (note the lowercase `serviceaccounts`, as Cloud Run prints it).
pub fn act_as_denied(email: &str) -> Error {
    Error::PermissionDenied {
        message: format!(
            "Permission 'iam.serviceaccounts.actAs' denied on service account {email} (or it may not exist)."
        ),
        permission: Some("iam.serviceAccounts.actAs".to_owned()),
        resource: Some(email.to_owned()),
    }
}

/// The text of the pre-enforcement warning (seed 001).
pub fn image_access_warning(image: &str) -> String {
    format!(
        "Cloud Run API check failed. Requests will be rejected after January 2025 hard enforcement deadline. User does not have access to image {image}"
    )
}

impl Control {
    /// Step 1: a change of `invokerIamDisabled` needs `run.services.setIamPolicy`; turning the
    /// invoker check off is refused under `run.managed.requireInvokerIam`.
    pub fn check_invoker_iam_change(
        &self,
        call: &Call,
        resource: &ResourceRef,
        disabling: bool,
    ) -> Result<(), Error> {
        self.authorize(call, "run.services.setIamPolicy", resource)?;
        if disabling {
            let effective = self.effective_constraint("run.managed.requireInvokerIam", resource)?;
            kumo_orgpolicy::check_invoker_iam_disable(&effective).map_err(violation_error)?;
        }
        Ok(())
    }

    /// Step 2: `run.allowedIngress` (values in gcloud's spelling).
    pub fn check_ingress_allowed(
        &self,
        resource: &ResourceRef,
        ingress: Option<IngressTraffic>,
    ) -> Result<(), Error> {
        let value = match ingress.unwrap_or(IngressTraffic::All) {
            IngressTraffic::All | IngressTraffic::Unspecified => "all",
            IngressTraffic::InternalOnly => "internal",
            IngressTraffic::InternalLoadBalancer => "internal-and-cloud-load-balancing",
            IngressTraffic::None => "none",
        };
        let effective = self.effective_constraint("run.allowedIngress", resource)?;
        let project = resource
            .project()
            .map(|project| format!("projects/{project}"))
            .unwrap_or_default();
        kumo_orgpolicy::check_ingress(&effective, &project, value).map_err(violation_error)
    }

    /// Steps 3 and 4 for the runtime service account; returns the account actually used.
    pub fn check_runtime_service_account(
        &self,
        call: &Call,
        project: &ProjectInfo,
        configured: &str,
    ) -> Result<String, Error> {
        let email = if configured.is_empty() {
            default_service_account(&project.number)
        } else {
            configured.to_owned()
        };
        let account_project = self.project_of_service_account(&email)?;
        let record = match &account_project {
            Some(id) => self.load::<Value>(
                Collection::ServiceAccounts,
                &format!("projects/{id}/serviceAccounts/{email}"),
            )?,
            None => None,
        };
        // A missing account is refused with the actAs text, as Cloud Run does for a deleted
        // default account (troubleshooting guide): the check cannot be granted on nothing.
        let (Some(account_project), Some(_)) = (account_project, record) else {
            call.record(AuthorizationRecord {
                resource: format!("projects/-/serviceAccounts/{email}"),
                permission: "iam.serviceAccounts.actAs".to_owned(),
                granted: false,
            });
            return Err(act_as_denied(&email));
        };
        let account = ResourceRef::ServiceAccount {
            project: account_project.clone(),
            email: email.clone(),
        };
        let granted = self.has_permission(&call.caller, "iam.serviceAccounts.actAs", &account)?;
        call.record(AuthorizationRecord {
            resource: account.relative_name(),
            permission: "iam.serviceAccounts.actAs".to_owned(),
            granted,
        });
        if !granted {
            return Err(act_as_denied(&email));
        }
        if account_project != project.id {
            let owner = self
                .resolve_project(&account_project)?
                .ok_or_else(|| Error::internal(format!("project of {email} vanished")))?;
            let effective = self.effective_constraint(
                "iam.disableCrossProjectServiceAccountUsage",
                &ResourceRef::Project(owner.id.clone()),
            )?;
            kumo_orgpolicy::check_cross_project_service_account(
                &effective,
                &email,
                &format!("projects/{}", owner.number),
                &format!("projects/{}", project.number),
            )
            .map_err(violation_error)?;
            let agent = crate::Caller::ServiceAccount {
                email: run_service_agent(&project.number),
            };
            if !self.has_permission(&agent, "iam.serviceAccounts.getAccessToken", &account)? {
                return Err(Error::PermissionDenied {
                    message: format!(
                        "Google Cloud Run Service Agent does not have permission to get access tokens for the service account {email}. Please give {} permission iam.serviceAccounts.getAccessToken on the service account. Alternatively, if the service account is unspecified or in the same project you are deploying in, ensure that the Service Agent is assigned the Google Cloud Run Service Agent role roles/run.serviceAgent.",
                        run_service_agent(&project.number)
                    ),
                    permission: Some("iam.serviceAccounts.getAccessToken".to_owned()),
                    resource: Some(email),
                });
            }
        }
        Ok(email)
    }

    /// Step 5 for every image. In warn mode a missing read permission is logged (seed 001) and
    /// the deploy goes on; a repository that does not exist is refused in both modes.
    pub fn check_image_access(&self, call: &Call, deploy: &Deploy<'_>) -> Result<(), Error> {
        for image in &deploy.images {
            if is_public_sample(image) {
                continue;
            }
            let Some(repository) = image_repository(image) else {
                continue;
            };
            let owner = self.resolve_project(&repository.project)?;
            let resource = ResourceRef::Repository {
                project: owner
                    .as_ref()
                    .map_or(repository.project.clone(), |owner| owner.id.clone()),
                location: repository.location.clone(),
                repository: repository.repository.clone(),
            };
            let granted = self.has_permission(&call.caller, DOWNLOAD_ARTIFACTS, &resource)?;
            call.record(AuthorizationRecord {
                resource: resource.relative_name(),
                permission: DOWNLOAD_ARTIFACTS.to_owned(),
                granted,
            });
            let other_project = owner
                .as_ref()
                .is_none_or(|owner| owner.id != deploy.project.id);
            if !granted {
                match self.config().image_access_check {
                    ImageAccessCheck::Enforce => {
                        let mut message = format!(
                            "User must have permission to read the image, {image}. Ensure that the provided container image URL is correct and that the above account has permission to access the image. If you just enabled the Cloud Run API, the permissions might take a few minutes to propagate."
                        );
                        if other_project {
                            message.push_str(&format!(
                                " Note that the image is from project {}, which is not the same as this project {}.",
                                repository.project, deploy.project.id
                            ));
                        }
                        return Err(Error::PermissionDenied {
                            message,
                            permission: Some(DOWNLOAD_ARTIFACTS.to_owned()),
                            resource: Some(resource.relative_name()),
                        });
                    }
                    ImageAccessCheck::Warn => self.write_image_access_warning(call, deploy, image),
                }
            }
            let exists = match &owner {
                Some(_) => self
                    .load::<Value>(Collection::Repositories, &resource.relative_name())?
                    .is_some(),
                None => false,
            };
            if !exists {
                return Err(Error::not_found(format!("Image '{image}' not found.")));
            }
            if other_project {
                let agent = crate::Caller::ServiceAccount {
                    email: run_service_agent(&deploy.project.number),
                };
                if !self.has_permission(&agent, DOWNLOAD_ARTIFACTS, &resource)? {
                    return Err(Error::PermissionDenied {
                        message: format!(
                            "Google Cloud Run Service Agent must have permission to read the image, {image}. Ensure that the provided container image URL is correct and that above account has permission to access the image. If you just enabled the Cloud Run API, the permissions might take a few minutes to propagate. Note that {} is not in project {}. Permission must be granted to the Google Cloud Run Service Agent from this project.",
                            repository.path, deploy.project.id
                        ),
                        permission: Some(DOWNLOAD_ARTIFACTS.to_owned()),
                        resource: Some(resource.relative_name()),
                    });
                }
            }
        }
        Ok(())
    }

    /// The ERROR entry Cloud Run wrote before enforcement: an Admin Activity entry under the
    /// revision's monitored resource whose status code is the HTTP 403 (not a `google.rpc` code).
    fn write_image_access_warning(&self, call: &Call, deploy: &Deploy<'_>, image: &str) {
        let message = image_access_warning(image);
        let (kind, labels, resource_name) = match deploy.resource {
            ResourceRef::RunJob { job, .. } => (
                "cloud_run_job",
                vec![
                    ("job_name", job.clone()),
                    ("location", deploy.location.to_owned()),
                    ("project_id", deploy.project.id.clone()),
                ],
                deploy.resource.relative_name(),
            ),
            other => {
                let service = match other {
                    ResourceRef::RunService { service, .. } => service.clone(),
                    _ => String::new(),
                };
                (
                    "cloud_run_revision",
                    vec![
                        ("configuration_name", service.clone()),
                        ("location", deploy.location.to_owned()),
                        ("project_id", deploy.project.id.clone()),
                        ("revision_name", String::new()),
                        ("service_name", service),
                    ],
                    other.relative_name(),
                )
            }
        };
        let mut entry = self.audit_entry(&AuditEvent {
            service_name: "run.googleapis.com",
            method_name: deploy.method_name.to_owned(),
            resource_name,
            log_parent: format!("projects/{}", deploy.project.id),
            log: AuditLog::Activity,
            resource: MonitoredResource { kind, labels },
            caller: call.caller.clone(),
            authorizations: call.authorizations(),
            status: Err(Error::permission_denied(DOWNLOAD_ARTIFACTS, image)),
            request: None,
            response: None,
            caller_ip: None,
            user_agent: None,
        });
        entry["protoPayload"]["status"] = json!({"code": 403, "message": message});
        entry["severity"] = json!("ERROR");
        if let Err(error) = self.store().append_log(&[entry]) {
            tracing::error!(%error, "could not write the image-access warning");
        }
    }

    /// Step 6 for a service about to be written (`service.name` set).
    pub fn check_service_custom_constraints(
        &self,
        resource: &ResourceRef,
        project_number: &str,
        service: &run_v2::Service,
        creating: bool,
    ) -> Result<(), Error> {
        let view = serde_json::to_value(run_v1::service_from_v2(service, project_number))
            .map_err(|e| Error::internal(format!("v1 view of {}: {e}", service.name)))?;
        self.check_custom_org_policies(
            resource,
            "run.googleapis.com/Service",
            method_type(creating),
            &view,
        )
    }

    /// Step 6 for a job about to be written; `name` is its full v2 name.
    pub fn check_job_custom_constraints(
        &self,
        resource: &ResourceRef,
        project_number: &str,
        name: &str,
        job: &run_v2::Job,
        creating: bool,
    ) -> Result<(), Error> {
        let mut job = job.clone();
        job.name = name.to_owned();
        let view = serde_json::to_value(run_v1::job_from_v2(&job, project_number))
            .map_err(|e| Error::internal(format!("v1 view of {name}: {e}")))?;
        self.check_custom_org_policies(
            resource,
            "run.googleapis.com/Job",
            method_type(creating),
            &view,
        )
    }

    /// Steps 2–5 for a template (step 1 is the caller's: only it knows whether
    /// `invokerIamDisabled` changed). Returns the runtime service account used.
    pub fn check_deploy(
        &self,
        call: &Call,
        deploy: &Deploy<'_>,
        ingress: Option<IngressTraffic>,
    ) -> Result<String, Error> {
        if matches!(deploy.resource, ResourceRef::RunService { .. }) {
            self.check_ingress_allowed(deploy.resource, ingress)?;
        }
        let account =
            self.check_runtime_service_account(call, deploy.project, deploy.service_account)?;
        self.check_image_access(call, deploy)?;
        Ok(account)
    }
}

fn method_type(creating: bool) -> MethodType {
    if creating {
        MethodType::Create
    } else {
        MethodType::Update
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repositories() {
        let cases = [
            (
                "asia-northeast1-docker.pkg.dev/p1/docker-repo/my-app:latest",
                Some(("p1", "asia-northeast1", "docker-repo", "docker-repo/my-app")),
            ),
            (
                "us-docker.pkg.dev/p1/r/a/b@sha256:abc",
                Some(("p1", "us", "r", "r/a/b")),
            ),
            ("gcr.io/p2/img", Some(("p2", "us", "gcr.io", "p2/img"))),
            (
                "eu.gcr.io/p2/img:1",
                Some(("p2", "europe", "eu.gcr.io", "p2/img")),
            ),
            ("docker.io/library/nginx", None),
            ("nginx", None),
            ("us-docker.pkg.dev/p1", None),
        ];
        for (image, expected) in cases {
            let got = image_repository(image);
            let expected = expected.map(|(project, location, repository, path)| ImageRepository {
                project: project.into(),
                location: location.into(),
                repository: repository.into(),
                path: path.into(),
            });
            assert_eq!(got, expected, "{image}");
        }
    }

    #[test]
    fn samples_are_public() {
        assert!(is_public_sample(
            "us-docker.pkg.dev/cloudrun/container/hello"
        ));
        assert!(is_public_sample("gcr.io/cloudrun/hello"));
        assert!(!is_public_sample(
            "us-docker.pkg.dev/cloudrunx/container/hello"
        ));
    }
}
