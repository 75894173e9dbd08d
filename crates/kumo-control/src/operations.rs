//! Long-running operations (`google.longrunning.Operation`) as the Run v2 API returns them for
//! create, update, delete and run. An operation is a stored record; work that finishes later
//! completes it, and clients poll `operations.get` (or `:wait`) until `done`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::records::{Collection, encode};
use crate::{Call, Control, Error, ResourceRef};
use kumo_store::{ListQuery, ParentFilter, Write};

/// How long `:wait` blocks at most when the client gives no timeout.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

impl Control {
    /// Starts an operation under `projects/P/locations/L`; `metadata` is an `Any` (with `@type`).
    pub fn start_operation(
        &self,
        project: &str,
        location: &str,
        metadata: Value,
    ) -> Result<Value, Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let parent = format!("projects/{project}/locations/{location}");
        let name = format!("{parent}/operations/{id}");
        let operation = json!({"name": name, "metadata": metadata, "done": false});
        self.commit(&[Write::Create {
            collection: Collection::Operations.as_str().to_owned(),
            name: name.clone(),
            parent: Some(parent),
            data: operation.clone(),
        }])?;
        Ok(operation)
    }

    /// Completes an operation with its result (an `Any` with `@type`) or its error.
    pub fn finish_operation(
        &self,
        name: &str,
        metadata: Option<Value>,
        outcome: Result<Value, Error>,
    ) -> Result<Value, Error> {
        let Some(stored) = self.load::<Value>(Collection::Operations, name)? else {
            return Err(Error::not_found(format!("Operation {name} not found.")));
        };
        let mut operation = stored.value;
        operation["done"] = json!(true);
        if let Some(metadata) = metadata {
            operation["metadata"] = metadata;
        }
        match outcome {
            Ok(response) => operation["response"] = response,
            Err(error) => {
                let (code, _) = error.rpc_code();
                operation["error"] =
                    json!({"code": code, "message": error.public_message(), "details": []});
            }
        }
        self.commit(&[Write::Update {
            collection: Collection::Operations.as_str().to_owned(),
            name: name.to_owned(),
            data: encode(&operation)?,
            expected_revision: None,
        }])?;
        Ok(operation)
    }

    /// `operations.get`: needs `run.operations.get` on the project.
    pub fn get_operation(&self, call: &Call, project: &str, name: &str) -> Result<Value, Error> {
        self.authorize(
            call,
            "run.operations.get",
            &ResourceRef::Project(project.to_owned()),
        )?;
        match self.load::<Value>(Collection::Operations, name)? {
            Some(stored) => Ok(stored.value),
            None => Err(Error::not_found(format!("Operation {name} not found."))),
        }
    }

    /// `operations.list` under `projects/P/locations/L`.
    pub fn list_operations(
        &self,
        call: &Call,
        project: &str,
        location: &str,
    ) -> Result<Vec<Value>, Error> {
        self.authorize(
            call,
            "run.operations.list",
            &ResourceRef::Project(project.to_owned()),
        )?;
        let page = self
            .store()
            .list(
                Collection::Operations.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(format!("projects/{project}/locations/{location}")),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?;
        page.records
            .into_iter()
            .map(|record| Ok(self.decode::<Value>(record)?.value))
            .collect()
    }

    /// `operations.delete`.
    pub fn delete_operation(&self, call: &Call, project: &str, name: &str) -> Result<(), Error> {
        self.authorize(
            call,
            "run.operations.delete",
            &ResourceRef::Project(project.to_owned()),
        )?;
        if self.load::<Value>(Collection::Operations, name)?.is_none() {
            return Err(Error::not_found(format!("Operation {name} not found.")));
        }
        self.commit(&[Write::HardDelete {
            collection: Collection::Operations.as_str().to_owned(),
            name: name.to_owned(),
            expected_revision: None,
        }])?;
        Ok(())
    }

    /// `operations.wait`: returns when the operation is done or `timeout` has passed.
    pub async fn wait_operation(
        &self,
        call: &Call,
        project: &str,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Value, Error> {
        let deadline = tokio::time::Instant::now() + timeout.unwrap_or(DEFAULT_WAIT);
        let mut delay = Duration::from_millis(20);
        loop {
            let operation = self.get_operation(call, project, name)?;
            if operation["done"] == json!(true) || tokio::time::Instant::now() >= deadline {
                return Ok(operation);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }
}
