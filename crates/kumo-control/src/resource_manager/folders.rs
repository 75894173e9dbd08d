//! Folders: create, get, list, search, update (display name), delete (empty folders only),
//! undelete, move.

use kumo_store::{Deleted, ListQuery, ParentFilter, Write};
use kumo_wire::resource_manager::Folder;
use serde_json::{Value, json};

use super::common::{PageRequest, any, split_container, timestamp};
use super::projects::{list_response, parse_query, value_matches};
use super::{render, state_of};
use crate::records::{Collection, encode};
use crate::{Call, Control, Error, ResourceRef};

const FOLDER_TYPE: &str = "google.cloud.resourcemanager.v3.Folder";

/// Folder ids are 12 digits, like Google's.
const FOLDER_ID_BASE: u64 = 200_000_000_000;

/// Google nests folders at most 10 levels below the organization.
const MAX_FOLDER_DEPTH: usize = 10;

/// Google's rule (Folder.display_name): starts and ends with a letter or digit; letters, digits,
/// spaces, hyphens and underscores; at most 30 characters.
fn validate_display_name(name: &str) -> Result<(), Error> {
    let chars: Vec<char> = name.chars().collect();
    let ok = (1..=30).contains(&chars.len())
        && chars.first().is_some_and(|c| c.is_alphanumeric())
        && chars.last().is_some_and(|c| c.is_alphanumeric())
        && chars
            .iter()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "folder.display_name",
            "The folder's display name must start and end with a letter or digit, may contain letters, digits, spaces, hyphens and underscores and can be no longer than 30 characters.",
        ))
    }
}

impl Control {
    fn authorized_folder(
        &self,
        call: &Call,
        folder: &str,
        permission: &str,
    ) -> Result<kumo_store::Record, Error> {
        let resource = ResourceRef::Folder(folder.to_owned());
        self.authorize(call, permission, &resource)?;
        self.store()
            .get_including_deleted(Collection::Folders.as_str(), &resource.relative_name())
            .map_err(crate::records::store_error)?
            .ok_or_else(|| Error::permission_denied(permission, &resource.relative_name()))
    }

    fn folder_parent_ref(&self, parent: &str, field: &str) -> Result<ResourceRef, Error> {
        match split_container(parent) {
            Some(("folders" | "organizations", _)) => self.container_ref(parent),
            _ => Err(Error::invalid_field(
                field,
                format!("Invalid parent {parent}: must be organizations/ID or folders/ID."),
            )),
        }
    }

    /// Refuses a second live folder with the same display name under one parent.
    fn require_unique_folder_name(
        &self,
        parent: &str,
        display_name: &str,
        except: Option<&str>,
    ) -> Result<(), Error> {
        let siblings = self
            .store()
            .list(
                Collection::Folders.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(parent.to_owned()),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        if siblings.iter().any(|s| {
            Some(s.name.as_str()) != except && s.data["displayName"].as_str() == Some(display_name)
        }) {
            return Err(Error::failed_precondition(format!(
                "A folder with display name {display_name} already exists under {parent}."
            )));
        }
        Ok(())
    }

    /// `POST /v3/folders`: `resourcemanager.folders.create` on the parent.
    pub fn create_folder(&self, call: &Call, folder: &Folder) -> Result<Value, Error> {
        let parent_ref = self.folder_parent_ref(&folder.parent, "folder.parent")?;
        self.authorize(call, "resourcemanager.folders.create", &parent_ref)?;
        validate_display_name(&folder.display_name)?;
        self.require_live_container(&parent_ref)?;
        let depth = self
            .ancestry(&parent_ref)?
            .iter()
            .filter(|node| matches!(node, ResourceRef::Folder(_)))
            .count();
        if depth >= MAX_FOLDER_DEPTH {
            return Err(Error::failed_precondition(
                "The folder operation violates height constraints: folders can be nested at most 10 levels deep.",
            ));
        }
        let parent = parent_ref.relative_name();
        self.require_unique_folder_name(&parent, &folder.display_name, None)?;
        let sequence = self
            .store()
            .next_sequence("folder_id")
            .map_err(crate::records::store_error)?;
        let id = FOLDER_ID_BASE + sequence * 104_729 % 700_000_000_000;
        let now = timestamp(self.now());
        let data = json!({
            "name": format!("folders/{id}"),
            "parent": parent,
            "displayName": folder.display_name,
            "state": "ACTIVE",
            "createTime": now,
            "updateTime": now,
        });
        let written = self.commit(&[Write::Create {
            collection: Collection::Folders.as_str().to_owned(),
            name: format!("folders/{id}"),
            parent: Some(parent.clone()),
            data,
        }])?;
        let rendered = written.first().map(render).unwrap_or_default();
        self.finished_rm_operation(
            "fc",
            any(
                "google.cloud.resourcemanager.v3.CreateFolderMetadata",
                json!({"displayName": folder.display_name, "parent": parent}),
            ),
            any(FOLDER_TYPE, rendered),
        )
    }

    /// `GET /v3/folders/{folder}`: `resourcemanager.folders.get`.
    pub fn get_folder(&self, call: &Call, folder: &str) -> Result<Value, Error> {
        Ok(render(&self.authorized_folder(
            call,
            folder,
            "resourcemanager.folders.get",
        )?))
    }

    /// `GET /v3/folders?parent=…`: `resourcemanager.folders.list` on the parent.
    pub fn list_folders(
        &self,
        call: &Call,
        parent: &str,
        show_deleted: bool,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let parent_ref = self.folder_parent_ref(parent, "parent")?;
        self.authorize(call, "resourcemanager.folders.list", &parent_ref)?;
        let records = self
            .store()
            .list(
                Collection::Folders.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(parent_ref.relative_name()),
                    deleted: if show_deleted {
                        Deleted::Include
                    } else {
                        Deleted::Exclude
                    },
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let (folders, next) = page.apply(records.iter().map(render).collect(), 1000, 1000)?;
        Ok(list_response("folders", folders, next))
    }

    /// `GET /v3/folders:search?query=…`: folders the caller may get, filtered by
    /// `displayName`, `parent` and `state`.
    pub fn search_folders(
        &self,
        call: &Call,
        query: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let terms = parse_query(query)?;
        let records = self
            .store()
            .list(
                Collection::Folders.as_str(),
                &ListQuery {
                    deleted: Deleted::Include,
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let mut found = Vec::new();
        for record in &records {
            let folder = render(record);
            let matches = terms.iter().all(|(key, wanted)| match key.as_str() {
                "displayName" | "display_name" => {
                    value_matches(folder["displayName"].as_str().unwrap_or_default(), wanted)
                }
                "parent" => value_matches(folder["parent"].as_str().unwrap_or_default(), wanted),
                "state" | "lifecycleState" => value_matches(state_of(&folder), wanted),
                _ => false,
            });
            if !matches
                || (record.delete_time.is_some()
                    && !terms
                        .iter()
                        .any(|(key, _)| matches!(key.as_str(), "state" | "lifecycleState")))
            {
                continue;
            }
            let id = record.name.trim_start_matches("folders/").to_owned();
            if self.has_permission(
                &call.caller,
                "resourcemanager.folders.get",
                &ResourceRef::Folder(id),
            )? {
                found.push(folder);
            }
        }
        let (folders, next) = page.apply(found, 1000, 1000)?;
        Ok(list_response("folders", folders, next))
    }

    /// `PATCH /v3/folders/{folder}?updateMask=displayName`: `resourcemanager.folders.update`.
    pub fn update_folder(
        &self,
        call: &Call,
        folder: &str,
        patch: &Folder,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let record = self.authorized_folder(call, folder, "resourcemanager.folders.update")?;
        for path in update_mask
            .unwrap_or("displayName")
            .split(',')
            .map(str::trim)
        {
            if !matches!(path, "displayName" | "display_name") {
                return Err(Error::invalid_field(
                    "update_mask",
                    format!("Invalid update mask path: {path}. Only displayName can be updated."),
                ));
            }
        }
        if record.delete_time.is_some() {
            return Err(Error::failed_precondition(format!(
                "Folder {} is not active.",
                record.name
            )));
        }
        validate_display_name(&patch.display_name)?;
        let parent = record.parent.clone().unwrap_or_default();
        self.require_unique_folder_name(&parent, &patch.display_name, Some(&record.name))?;
        let mut data = record.data.clone();
        data["displayName"] = json!(patch.display_name);
        data["updateTime"] = json!(timestamp(self.now()));
        let written = self.commit(&[Write::Update {
            collection: Collection::Folders.as_str().to_owned(),
            name: record.name.clone(),
            data: encode(&data)?,
            expected_revision: Some(record.revision),
        }])?;
        let rendered = written.first().map(render).unwrap_or(data);
        self.finished_rm_operation(
            "fu",
            any(
                "google.cloud.resourcemanager.v3.UpdateFolderMetadata",
                json!({}),
            ),
            any(FOLDER_TYPE, rendered),
        )
    }

    /// `DELETE /v3/folders/{folder}`: `resourcemanager.folders.delete`; the folder must hold no
    /// live projects or folders.
    pub fn delete_folder(&self, call: &Call, folder: &str) -> Result<Value, Error> {
        let record = self.authorized_folder(call, folder, "resourcemanager.folders.delete")?;
        if record.delete_time.is_some() {
            return Err(Error::failed_precondition(format!(
                "Folder {} is not active.",
                record.name
            )));
        }
        for collection in [Collection::Projects, Collection::Folders] {
            let children = self
                .store()
                .list(
                    collection.as_str(),
                    &ListQuery {
                        parent: ParentFilter::Is(record.name.clone()),
                        page_size: 1,
                        ..ListQuery::default()
                    },
                )
                .map_err(crate::records::store_error)?;
            if !children.records.is_empty() {
                return Err(Error::failed_precondition(format!(
                    "Folder {} is not empty.",
                    record.name
                )));
            }
        }
        let mut data = record.data.clone();
        data["state"] = json!("DELETE_REQUESTED");
        data["updateTime"] = json!(timestamp(self.now()));
        let written = self.commit(&[Write::SoftDelete {
            collection: Collection::Folders.as_str().to_owned(),
            name: record.name.clone(),
            data: Some(encode(&data)?),
            expected_revision: Some(record.revision),
        }])?;
        self.invalidate_iam();
        let rendered = written.first().map(render).unwrap_or(data);
        self.finished_rm_operation(
            "fd",
            any(
                "google.cloud.resourcemanager.v3.DeleteFolderMetadata",
                json!({}),
            ),
            any(FOLDER_TYPE, rendered),
        )
    }

    /// `POST /v3/folders/{folder}:undelete`: `resourcemanager.folders.undelete`.
    pub fn undelete_folder(&self, call: &Call, folder: &str) -> Result<Value, Error> {
        let record = self.authorized_folder(call, folder, "resourcemanager.folders.undelete")?;
        if record.delete_time.is_none() {
            return Err(Error::failed_precondition(format!(
                "Folder {} is not in DELETE_REQUESTED state.",
                record.name
            )));
        }
        let mut data = record.data.clone();
        data["state"] = json!("ACTIVE");
        data["updateTime"] = json!(timestamp(self.now()));
        let written = self.commit(&[Write::Undelete {
            collection: Collection::Folders.as_str().to_owned(),
            name: record.name.clone(),
            data: Some(encode(&data)?),
            expected_revision: Some(record.revision),
        }])?;
        self.invalidate_iam();
        let rendered = written.first().map(render).unwrap_or(data);
        self.finished_rm_operation(
            "fu",
            any(
                "google.cloud.resourcemanager.v3.UndeleteFolderMetadata",
                json!({}),
            ),
            any(FOLDER_TYPE, rendered),
        )
    }

    /// `POST /v3/folders/{folder}:move`: `resourcemanager.folders.move` on the folder and
    /// `resourcemanager.folders.create` on the destination. A folder cannot move under itself.
    pub fn move_folder(
        &self,
        call: &Call,
        folder: &str,
        destination_parent: &str,
    ) -> Result<Value, Error> {
        let record = self.authorized_folder(call, folder, "resourcemanager.folders.move")?;
        let destination = self.folder_parent_ref(destination_parent, "destination_parent")?;
        self.authorize(call, "resourcemanager.folders.create", &destination)?;
        if record.delete_time.is_some() {
            return Err(Error::failed_precondition(format!(
                "Folder {} is not active.",
                record.name
            )));
        }
        self.require_live_container(&destination)?;
        let moving = ResourceRef::Folder(folder.to_owned());
        if self.ancestry(&destination)?.contains(&moving) {
            return Err(Error::failed_precondition(
                "The folder operation violates height constraints: a folder cannot be moved under itself.",
            ));
        }
        let display_name = record.data["displayName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.require_unique_folder_name(
            &destination.relative_name(),
            &display_name,
            Some(&record.name),
        )?;
        let source = record.parent.clone().unwrap_or_default();
        let mut data = record.data.clone();
        data["parent"] = json!(destination.relative_name());
        data["updateTime"] = json!(timestamp(self.now()));
        let written = self.commit(&[
            Write::Move {
                collection: Collection::Folders.as_str().to_owned(),
                name: record.name.clone(),
                parent: Some(destination.relative_name()),
                expected_revision: Some(record.revision),
            },
            Write::Update {
                collection: Collection::Folders.as_str().to_owned(),
                name: record.name.clone(),
                data: encode(&data)?,
                // Same transaction as the move, which already checked the revision.
                expected_revision: None,
            },
        ])?;
        self.invalidate_iam();
        let rendered = written.last().map(render).unwrap_or(data);
        self.finished_rm_operation(
            "fm",
            any(
                "google.cloud.resourcemanager.v3.MoveFolderMetadata",
                json!({"displayName": display_name, "sourceParent": source, "destinationParent": destination.relative_name()}),
            ),
            any(FOLDER_TYPE, rendered),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_display_names_follow_googles_rule() {
        for good in ["Engineering", "team_a-1", "A b"] {
            assert!(validate_display_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            " lead",
            "trail-",
            "way too long a display name for a folder",
            "a/b",
        ] {
            assert!(validate_display_name(bad).is_err(), "{bad}");
        }
    }
}
