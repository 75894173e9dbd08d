//! IAM policies of organizations, folders and projects (v3 and the v1 project forms gcloud uses),
//! through the generic functions of `iam_policy.rs`; and the service-account lookup by email
//! other modules share.

use serde_json::Value;

use crate::records::{Collection, Stored};
use crate::{Call, Control, Error, ResourceRef};

/// The `getIamPolicy` / `setIamPolicy` permissions of a container kind.
fn iam_permissions(resource: &ResourceRef) -> (&'static str, &'static str) {
    match resource {
        ResourceRef::Organization(_) => (
            "resourcemanager.organizations.getIamPolicy",
            "resourcemanager.organizations.setIamPolicy",
        ),
        ResourceRef::Folder(_) => (
            "resourcemanager.folders.getIamPolicy",
            "resourcemanager.folders.setIamPolicy",
        ),
        _ => (
            "resourcemanager.projects.getIamPolicy",
            "resourcemanager.projects.setIamPolicy",
        ),
    }
}

impl Control {
    /// `POST /v3/{projects|folders|organizations}/{id}:getIamPolicy` (and `/v1/projects/…`).
    pub fn get_container_iam_policy(
        &self,
        call: &Call,
        name: &str,
        requested_version: i64,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(name)?;
        self.get_iam_policy(
            call,
            &resource,
            iam_permissions(&resource).0,
            requested_version,
        )
    }

    /// `POST /v3/{…}:setIamPolicy` (and `/v1/projects/…`): the etag must match; the
    /// organization's member-domain policy applies.
    pub fn set_container_iam_policy(
        &self,
        call: &Call,
        name: &str,
        policy: &Value,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(name)?;
        self.set_iam_policy(
            call,
            &resource,
            iam_permissions(&resource).1,
            policy,
            update_mask,
        )
    }

    /// `POST /v3/{…}:testIamPermissions` (and `/v1/projects/…`).
    pub fn test_container_iam_permissions(
        &self,
        call: &Call,
        name: &str,
        permissions: &[String],
    ) -> Result<Vec<String>, Error> {
        let resource = self.container_ref(name)?;
        self.test_iam_permissions(call, &resource, permissions)
    }

    /// The service account with `email`, live, from the project its email names: user-managed
    /// accounts by the project id in their domain, Google-managed ones (`N-compute@developer…`,
    /// `service-N@serverless-robot-prod…`, `service-N@gcp-sa-*…`) by the project number.
    pub fn find_service_account(&self, email: &str) -> Result<Option<Stored<Value>>, Error> {
        let Some(project) = self.service_account_project(email)? else {
            return Ok(None);
        };
        self.load::<Value>(
            Collection::ServiceAccounts,
            &format!("projects/{project}/serviceAccounts/{email}"),
        )
    }

    /// The project id a service-account email belongs to, if that project exists.
    pub fn service_account_project(&self, email: &str) -> Result<Option<String>, Error> {
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Ok(None);
        };
        if let Some(project) = domain.strip_suffix(".iam.gserviceaccount.com")
            && let Some(info) = self.resolve_project(project)?
        {
            return Ok(Some(info.id));
        }
        let number = local
            .strip_suffix("-compute")
            .or_else(|| local.strip_prefix("service-"))
            .unwrap_or_default();
        if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(self.resolve_project(number)?.map(|info| info.id));
        }
        Ok(None)
    }
}
