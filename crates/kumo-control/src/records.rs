//! Typed access to the store: each kind of resource is a collection of JSON documents. This is
//! the only module that names collections, so that the persisted layout is visible in one place.

use kumo_store::{Record, StoreError, Write};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Control, Error};

/// A persisted collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `organizations/ID` (Resource Manager v3 `Organization`).
    Organizations,
    /// `folders/ID` (`Folder`), parent = its parent's name.
    Folders,
    /// `projects/PROJECT_ID` (`Project`), parent = its folder or organization.
    Projects,
    /// `projects/PROJECT_NUMBER` → the project id (`{"projectId": …}`), for number lookups.
    ProjectNumbers,
    /// IAM allow policies keyed by the full resource name they are attached to.
    IamPolicies,
    /// Custom roles, `projects/P/roles/R` or `organizations/O/roles/R`.
    CustomRoles,
    /// Organization policies, keyed `{parent}/policies/{constraint}`.
    OrgPolicies,
    /// Custom org-policy constraints, `organizations/O/customConstraints/custom.X`.
    CustomConstraints,
    /// Service accounts, `projects/P/serviceAccounts/EMAIL`.
    ServiceAccounts,
    /// Service-account keys, `projects/P/serviceAccounts/EMAIL/keys/KEY_ID` (public part only).
    ServiceAccountKeys,
    /// Cloud Run services, `projects/P/locations/L/services/S` (v2 `Service`).
    Services,
    /// Cloud Run revisions, `projects/P/locations/L/services/S/revisions/R`.
    Revisions,
    /// Cloud Run jobs, `projects/P/locations/L/jobs/J`.
    Jobs,
    /// Executions, `projects/P/locations/L/jobs/J/executions/E`.
    Executions,
    /// Tasks, `…/executions/E/tasks/T`.
    Tasks,
    /// Long-running operations, `projects/P/locations/L/operations/ID`.
    Operations,
    /// Artifact Registry repositories, `projects/P/locations/L/repositories/R`.
    Repositories,
    /// Docker images, `projects/P/locations/L/repositories/R/dockerImages/IMAGE@sha256:…`.
    DockerImages,
    /// Directory: Workspace customers, `customers/C0…`.
    Customers,
    /// Directory: users, `users/EMAIL`.
    Users,
    /// Directory: groups, `groups/EMAIL`.
    Groups,
    /// Signing keys of the token issuer, `keys/KID`.
    SigningKeys,
    /// Issued refresh tokens and revocations, `tokens/ID`.
    Tokens,
    /// Enabled service identities (service agents), `projects/P/services/SERVICE/identity`.
    ServiceIdentities,
    /// IAP settings (`IapSettings`) keyed by the full name of the IAP resource they are set on.
    IapSettings,
}

impl Collection {
    /// The collection's name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Organizations => "organizations",
            Collection::Folders => "folders",
            Collection::Projects => "projects",
            Collection::ProjectNumbers => "project_numbers",
            Collection::IamPolicies => "iam_policies",
            Collection::CustomRoles => "custom_roles",
            Collection::OrgPolicies => "org_policies",
            Collection::CustomConstraints => "org_custom_constraints",
            Collection::ServiceAccounts => "service_accounts",
            Collection::ServiceAccountKeys => "service_account_keys",
            Collection::Services => "run_services",
            Collection::Revisions => "run_revisions",
            Collection::Jobs => "run_jobs",
            Collection::Executions => "run_executions",
            Collection::Tasks => "run_tasks",
            Collection::Operations => "operations",
            Collection::Repositories => "ar_repositories",
            Collection::DockerImages => "ar_docker_images",
            Collection::Customers => "customers",
            Collection::Users => "users",
            Collection::Groups => "groups",
            Collection::SigningKeys => "signing_keys",
            Collection::Tokens => "tokens",
            Collection::ServiceIdentities => "service_identities",
            Collection::IapSettings => "iap_settings",
        }
    }
}

/// A decoded record: the document and the store's metadata about it.
#[derive(Debug, Clone)]
pub struct Stored<T> {
    /// The document.
    pub value: T,
    /// The store record (name, parent, uid, revision, etag, times).
    pub record: Record,
}

/// Maps a store failure to the control plane's error. Conflicts are concurrent modifications.
pub fn store_error(error: StoreError) -> Error {
    match error {
        StoreError::Conflict { .. } => Error::aborted(
            "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
        ),
        StoreError::AlreadyExists { .. } => Error::already_exists("Resource already exists."),
        StoreError::NotFound { .. } => Error::not_found("Resource not found."),
        other => Error::internal(other),
    }
}

fn decode<T: DeserializeOwned>(record: Record) -> Result<Stored<T>, Error> {
    let value = serde_json::from_value(record.data.clone())
        .map_err(|error| Error::internal(format!("corrupt record `{}`: {error}", record.name)))?;
    Ok(Stored { value, record })
}

/// Encodes a document for the store.
pub fn encode<T: Serialize>(value: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(Error::internal)
}

impl Control {
    /// Reads a live document.
    pub fn load<T: DeserializeOwned>(
        &self,
        collection: Collection,
        name: &str,
    ) -> Result<Option<Stored<T>>, Error> {
        match self
            .store()
            .get(collection.as_str(), name)
            .map_err(store_error)?
        {
            Some(record) => decode(record).map(Some),
            None => Ok(None),
        }
    }

    /// Reads a document whether or not it is soft-deleted.
    pub fn load_including_deleted<T: DeserializeOwned>(
        &self,
        collection: Collection,
        name: &str,
    ) -> Result<Option<Stored<T>>, Error> {
        match self
            .store()
            .get_including_deleted(collection.as_str(), name)
            .map_err(store_error)?
        {
            Some(record) => decode(record).map(Some),
            None => Ok(None),
        }
    }

    /// Applies writes atomically.
    pub fn commit(&self, writes: &[Write]) -> Result<Vec<Record>, Error> {
        self.store().transact(writes).map_err(store_error)
    }

    /// Every live record of `collection` under `parent` (the store's order: by name).
    pub fn list_under(
        &self,
        collection: Collection,
        parent: kumo_store::ParentFilter,
    ) -> Result<Vec<Record>, Error> {
        let query = kumo_store::ListQuery {
            parent,
            ..kumo_store::ListQuery::default()
        };
        Ok(self
            .store()
            .list(collection.as_str(), &query)
            .map_err(store_error)?
            .records)
    }

    /// Decodes a record read by other means (e.g. a list page).
    pub fn decode<T: DeserializeOwned>(&self, record: Record) -> Result<Stored<T>, Error> {
        decode(record)
    }
}
