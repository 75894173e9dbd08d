//! Resource Manager v3 (`cloudresourcemanager.googleapis.com`): organizations, folders and
//! projects, and their IAM policies. Each method authorizes with the permission Google documents
//! on the resource Google checks it on, validates, and persists; mutations return finished
//! long-running operations (v3 makes create/update/delete/undelete/move LROs), which are also
//! stored so that `GET /v3/operations/{id}` answers.
//!
//! Project creation itself (number, default service accounts, grants) is the system-level
//! [`Control::provision_project`]; this module adds the API around it.

pub mod common;
mod folders;
mod iam;
mod organizations;
mod projects;
mod projects_v1;

pub use common::PageRequest;

use kumo_store::Write;
use serde_json::{Value, json};

use crate::records::Collection;
use crate::{Call, Control, Error, ResourceRef};

impl Control {
    /// Stores a finished Resource Manager operation `operations/{prefix}.{n}` and returns it.
    fn finished_rm_operation(
        &self,
        prefix: &str,
        metadata: Value,
        response: Value,
    ) -> Result<Value, Error> {
        let sequence = self
            .store()
            .next_sequence("rm_operation")
            .map_err(crate::records::store_error)?;
        let name = format!(
            "operations/{prefix}.{}",
            4_000_000_000_000_000_000u64.wrapping_add(sequence * 7_919)
        );
        let operation = common::done_operation(&name, metadata, response);
        self.commit(&[Write::Create {
            collection: Collection::Operations.as_str().to_owned(),
            name: name.clone(),
            parent: None,
            data: operation.clone(),
        }])?;
        Ok(operation)
    }

    /// `GET /v3/operations/{id}`. Google checks no permission of its own; Kumo returns the
    /// operation only to callers who may read the project or folder it is about.
    pub fn get_rm_operation(&self, call: &Call, name: &str) -> Result<Value, Error> {
        let not_found = || Error::not_found(format!("Operation {name} not found."));
        if !name.starts_with("operations/") {
            return Err(not_found());
        }
        let Some(stored) = self.load::<Value>(Collection::Operations, name)? else {
            return Err(not_found());
        };
        let response = &stored.value["response"];
        let (permission, resource) = if let Some(project_id) = response["projectId"].as_str() {
            (
                "resourcemanager.projects.get",
                ResourceRef::Project(project_id.to_owned()),
            )
        } else if let Some(folder) = response["name"]
            .as_str()
            .and_then(|n| n.strip_prefix("folders/"))
        {
            (
                "resourcemanager.folders.get",
                ResourceRef::Folder(folder.to_owned()),
            )
        } else {
            return Err(not_found());
        };
        if !self.has_permission(&call.caller, permission, &resource)? {
            return Err(not_found());
        }
        Ok(stored.value)
    }
}

/// The state string of a stored project or folder.
fn state_of(value: &Value) -> &str {
    value["state"].as_str().unwrap_or("ACTIVE")
}

/// Renders a stored record as the v3 resource: output-only fields from the record.
fn render(record: &kumo_store::Record) -> Value {
    let mut value = record.data.clone();
    value["etag"] = json!(format!("W/\"{}\"", record.etag));
    if let Some(delete_time) = record.delete_time {
        value["deleteTime"] = json!(common::timestamp(delete_time));
    }
    value
}
