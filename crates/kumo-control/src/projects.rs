//! Projects at the system level: resolving an id or number, and provisioning a new project with
//! what Google creates alongside it (its number, the default compute service account, the Cloud Run
//! service agent and their grants). The Resource Manager API authorizes and validates, then calls
//! [`Control::provision_project`]; the bootstrap and the demo call it directly.

use serde_json::{Value, json};

use crate::records::{Collection, encode};
use crate::{Control, Error, ResourceRef};
use kumo_store::Write;

/// Project numbers are 12 digits, like Google's; sequence values are offset into that range.
const PROJECT_NUMBER_BASE: u64 = 100_000_000_000;

/// A project's two names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInfo {
    /// The project id (`demo-project`).
    pub id: String,
    /// The project number (`123456789012`).
    pub number: String,
    /// `organizations/O` or `folders/F`, if any.
    pub parent: Option<String>,
}

/// What [`Control::provision_project`] creates.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The project id.
    pub project_id: String,
    /// The display name.
    pub display_name: String,
    /// `organizations/O` or `folders/F`.
    pub parent: Option<String>,
    /// Labels.
    pub labels: serde_json::Map<String, Value>,
    /// The member granted `roles/owner` (the creator), e.g. `user:alice@example.com`.
    pub owner: Option<String>,
}

impl Control {
    /// Resolves `projects/{id or number}`'s `{…}` part to the project, live or soft-deleted.
    /// Unknown projects are `None`; callers turn that into Google's refusal (usually a
    /// PERMISSION_DENIED that does not reveal existence).
    pub fn resolve_project(&self, id_or_number: &str) -> Result<Option<ProjectInfo>, Error> {
        let id = if !id_or_number.is_empty() && id_or_number.bytes().all(|b| b.is_ascii_digit()) {
            match self.load::<Value>(
                Collection::ProjectNumbers,
                &format!("projects/{id_or_number}"),
            )? {
                Some(stored) => stored.value["projectId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                None => return Ok(None),
            }
        } else {
            id_or_number.to_owned()
        };
        let Some(stored) =
            self.load_including_deleted::<Value>(Collection::Projects, &format!("projects/{id}"))?
        else {
            return Ok(None);
        };
        let number = stored.value["name"]
            .as_str()
            .and_then(|name| name.strip_prefix("projects/"))
            .unwrap_or_default()
            .to_owned();
        Ok(Some(ProjectInfo {
            id,
            number,
            parent: stored.record.parent,
        }))
    }

    /// Creates a project and what Google creates with it, atomically, and returns its names.
    /// Authorization and id validation are the caller's job.
    pub fn provision_project(&self, new: NewProject) -> Result<ProjectInfo, Error> {
        if self.resolve_project(&new.project_id)?.is_some() {
            return Err(Error::already_exists("Requested entity already exists"));
        }
        let sequence = self
            .store()
            .next_sequence("project_number")
            .map_err(crate::records::store_error)?;
        let number = (PROJECT_NUMBER_BASE + sequence * 7_919 % 900_000_000_000).to_string();
        let now = self
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let project = json!({
            "name": format!("projects/{number}"),
            "parent": new.parent,
            "projectId": new.project_id,
            "state": "ACTIVE",
            "displayName": new.display_name,
            "createTime": now,
            "updateTime": now,
            "labels": new.labels,
        });
        let compute_email = format!("{number}-compute@developer.gserviceaccount.com");
        let robot_email = format!("service-{number}@serverless-robot-prod.iam.gserviceaccount.com");
        let mut writes = vec![
            Write::Create {
                collection: Collection::Projects.as_str().to_owned(),
                name: format!("projects/{}", new.project_id),
                parent: new.parent.clone(),
                data: project,
            },
            Write::Create {
                collection: Collection::ProjectNumbers.as_str().to_owned(),
                name: format!("projects/{number}"),
                parent: None,
                data: json!({"projectId": new.project_id}),
            },
        ];
        for (email, display) in [
            (
                compute_email.clone(),
                "Compute Engine default service account",
            ),
            (robot_email.clone(), "Cloud Run Service Agent"),
        ] {
            writes.push(self.service_account_write(&new.project_id, &email, display)?);
        }
        self.commit(&writes)?;
        let project_ref = ResourceRef::Project(new.project_id.clone());
        let automatic_grants = !self.constraint_enforced(
            "iam.automaticIamGrantsForDefaultServiceAccounts",
            &project_ref,
        )?;
        let mut grants = vec![(
            "roles/run.serviceAgent",
            format!("serviceAccount:{robot_email}"),
        )];
        if automatic_grants {
            grants.push(("roles/editor", format!("serviceAccount:{compute_email}")));
        }
        if let Some(owner) = &new.owner {
            grants.push(("roles/owner", owner.clone()));
        }
        self.grant_roles(&project_ref, &grants)?;
        Ok(ProjectInfo {
            id: new.project_id,
            number,
            parent: new.parent,
        })
    }

    /// The store write that creates a service-account record in the IAM v1 wire shape.
    pub fn service_account_write(
        &self,
        project_id: &str,
        email: &str,
        display_name: &str,
    ) -> Result<Write, Error> {
        let unique_id = self.next_unique_id()?;
        let data = json!({
            "name": format!("projects/{project_id}/serviceAccounts/{email}"),
            "projectId": project_id,
            "uniqueId": unique_id,
            "email": email,
            "displayName": display_name,
            "oauth2ClientId": unique_id,
            "disabled": false,
        });
        Ok(Write::Create {
            collection: Collection::ServiceAccounts.as_str().to_owned(),
            name: format!("projects/{project_id}/serviceAccounts/{email}"),
            parent: Some(format!("projects/{project_id}")),
            data: encode(&data)?,
        })
    }

    /// A fresh 21-digit numeric unique id, as Google gives principals (`sub` of their tokens).
    pub fn next_unique_id(&self) -> Result<String, Error> {
        let sequence = self
            .store()
            .next_sequence("unique_id")
            .map_err(crate::records::store_error)?;
        Ok(format!(
            "1{:020}",
            10_000_000_000_000_000u64 + sequence * 104_729
        ))
    }
}
