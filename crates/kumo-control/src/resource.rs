//! Resources that carry IAM policies, their full names (`//run.googleapis.com/projects/…`) and the
//! attributes IAM Conditions see (`resource.type`, `resource.service`, `resource.name`).
//! Project-scoped resources name their project by its id; callers resolve numbers first.

/// A resource IAM decisions are taken on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceRef {
    /// `organizations/ID`.
    Organization(String),
    /// `folders/ID`.
    Folder(String),
    /// `projects/PROJECT_ID`.
    Project(String),
    /// A Cloud Run service.
    RunService {
        /// Project id.
        project: String,
        /// Region.
        location: String,
        /// Service id.
        service: String,
    },
    /// A Cloud Run job.
    RunJob {
        /// Project id.
        project: String,
        /// Region.
        location: String,
        /// Job id.
        job: String,
    },
    /// A service account.
    ServiceAccount {
        /// Project id of the account.
        project: String,
        /// The account's email.
        email: String,
    },
    /// An Artifact Registry repository.
    Repository {
        /// Project id.
        project: String,
        /// Location.
        location: String,
        /// Repository id.
        repository: String,
    },
    /// A project's IAP web resources (`projects/PROJECT_NUMBER/iap_web`), parent of every IAP
    /// web type in the project.
    IapWeb {
        /// Project id.
        project: String,
        /// Project number.
        project_number: String,
    },
    /// The Cloud Run services of a region as IAP sees them
    /// (`projects/PROJECT_NUMBER/iap_web/cloud_run-REGION`), an IAP web type.
    IapCloudRun {
        /// Project id.
        project: String,
        /// Project number.
        project_number: String,
        /// Region.
        region: String,
    },
    /// The IAP resource of a Cloud Run service
    /// (`projects/PROJECT_NUMBER/iap_web/cloud_run-REGION/services/SERVICE`).
    IapRunService {
        /// Project id (the name uses the number; see [`ResourceRef::relative_name`]).
        project: String,
        /// Project number.
        project_number: String,
        /// Region.
        region: String,
        /// Service id.
        service: String,
    },
}

impl ResourceRef {
    /// The API service that owns the resource (`resource.service` in conditions).
    pub fn service(&self) -> &'static str {
        match self {
            ResourceRef::Organization(_) | ResourceRef::Folder(_) | ResourceRef::Project(_) => {
                "cloudresourcemanager.googleapis.com"
            }
            ResourceRef::RunService { .. } | ResourceRef::RunJob { .. } => "run.googleapis.com",
            ResourceRef::ServiceAccount { .. } => "iam.googleapis.com",
            ResourceRef::Repository { .. } => "artifactregistry.googleapis.com",
            ResourceRef::IapWeb { .. }
            | ResourceRef::IapCloudRun { .. }
            | ResourceRef::IapRunService { .. } => "iap.googleapis.com",
        }
    }

    /// The resource type (`resource.type` in conditions).
    pub fn resource_type(&self) -> &'static str {
        match self {
            ResourceRef::Organization(_) => "cloudresourcemanager.googleapis.com/Organization",
            ResourceRef::Folder(_) => "cloudresourcemanager.googleapis.com/Folder",
            ResourceRef::Project(_) => "cloudresourcemanager.googleapis.com/Project",
            ResourceRef::RunService { .. } => "run.googleapis.com/Service",
            ResourceRef::RunJob { .. } => "run.googleapis.com/Job",
            ResourceRef::ServiceAccount { .. } => "iam.googleapis.com/ServiceAccount",
            ResourceRef::Repository { .. } => "artifactregistry.googleapis.com/Repository",
            ResourceRef::IapWeb { .. } => "iap.googleapis.com/Web",
            ResourceRef::IapCloudRun { .. } => "iap.googleapis.com/WebType",
            ResourceRef::IapRunService { .. } => "iap.googleapis.com/WebService",
        }
    }

    /// The relative name, as APIs print it in messages.
    pub fn relative_name(&self) -> String {
        match self {
            ResourceRef::Organization(id) => format!("organizations/{id}"),
            ResourceRef::Folder(id) => format!("folders/{id}"),
            ResourceRef::Project(id) => format!("projects/{id}"),
            ResourceRef::RunService {
                project,
                location,
                service,
            } => {
                format!("projects/{project}/locations/{location}/services/{service}")
            }
            ResourceRef::RunJob {
                project,
                location,
                job,
            } => {
                format!("projects/{project}/locations/{location}/jobs/{job}")
            }
            ResourceRef::ServiceAccount { project, email } => {
                format!("projects/{project}/serviceAccounts/{email}")
            }
            ResourceRef::Repository {
                project,
                location,
                repository,
            } => {
                format!("projects/{project}/locations/{location}/repositories/{repository}")
            }
            ResourceRef::IapWeb { project_number, .. } => {
                format!("projects/{project_number}/iap_web")
            }
            ResourceRef::IapCloudRun {
                project_number,
                region,
                ..
            } => format!("projects/{project_number}/iap_web/cloud_run-{region}"),
            ResourceRef::IapRunService {
                project_number,
                region,
                service,
                ..
            } => {
                format!("projects/{project_number}/iap_web/cloud_run-{region}/services/{service}")
            }
        }
    }

    /// The full resource name (`//run.googleapis.com/projects/…`), the key of its IAM policy.
    pub fn full_name(&self) -> String {
        format!("//{}/{}", self.service(), self.relative_name())
    }

    /// The project a project-scoped resource lives in.
    pub fn project(&self) -> Option<&str> {
        match self {
            ResourceRef::Organization(_) | ResourceRef::Folder(_) => None,
            ResourceRef::Project(project)
            | ResourceRef::RunService { project, .. }
            | ResourceRef::RunJob { project, .. }
            | ResourceRef::ServiceAccount { project, .. }
            | ResourceRef::Repository { project, .. }
            | ResourceRef::IapWeb { project, .. }
            | ResourceRef::IapCloudRun { project, .. }
            | ResourceRef::IapRunService { project, .. } => Some(project),
        }
    }

    /// The IAP resource above an IAP resource, below the project: a service's
    /// `cloud_run-REGION`, that one's `iap_web`. Bindings at each level are inherited downwards.
    pub fn iap_parent(&self) -> Option<ResourceRef> {
        match self {
            ResourceRef::IapRunService {
                project,
                project_number,
                region,
                ..
            } => Some(ResourceRef::IapCloudRun {
                project: project.clone(),
                project_number: project_number.clone(),
                region: region.clone(),
            }),
            ResourceRef::IapCloudRun {
                project,
                project_number,
                ..
            } => Some(ResourceRef::IapWeb {
                project: project.clone(),
                project_number: project_number.clone(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_follow_googles_forms() {
        let service = ResourceRef::RunService {
            project: "demo-project".into(),
            location: "us-central1".into(),
            service: "hello".into(),
        };
        assert_eq!(
            service.full_name(),
            "//run.googleapis.com/projects/demo-project/locations/us-central1/services/hello"
        );
        let iap = ResourceRef::IapRunService {
            project: "demo-project".into(),
            project_number: "123".into(),
            region: "us-central1".into(),
            service: "hello".into(),
        };
        assert_eq!(
            iap.relative_name(),
            "projects/123/iap_web/cloud_run-us-central1/services/hello"
        );
    }
}
