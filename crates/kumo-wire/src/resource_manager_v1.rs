//! `cloudresourcemanager.googleapis.com/v1` projects (discovery document `cloudresourcemanager.v1`):
//! the older `Project` shape that gcloud and the discovery-based clients still read
//! (`projectNumber`, `lifecycleState`, `parent {type, id}`), and the conversion from the stored
//! v3 [`crate::resource_manager::Project`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resource_manager::{self, State};

type Map = BTreeMap<String, String>;

wire_enum! {
    /// `Project.lifecycleState`.
    pub enum LifecycleState {
        Unspecified = 0 => "LIFECYCLE_STATE_UNSPECIFIED",
        Active = 1 => "ACTIVE",
        DeleteRequested = 2 => "DELETE_REQUESTED",
        DeleteInProgress = 3 => "DELETE_IN_PROGRESS",
    }
}

/// `ResourceId`: `{"type": "organization", "id": "123"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceId {
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
}

/// The v1 `Project`. `name` is the display name here (v3 calls it `displayName`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Project {
    /// int64 in the discovery document, hence a JSON string.
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub project_number: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_state: Option<LifecycleState>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ResourceId>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListProjectsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<Project>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

/// `organizations/123` → `{type: organization, id: 123}` (v1 names types in the singular).
pub fn resource_id(name: &str) -> Option<ResourceId> {
    let (collection, id) = name.split_once('/')?;
    let kind = match collection {
        "organizations" => "organization",
        "folders" => "folder",
        "projects" => "project",
        _ => return None,
    };
    Some(ResourceId {
        kind: kind.to_owned(),
        id: id.to_owned(),
    })
}

/// The v1 view of a v3 project (`name: projects/NUMBER`, `displayName`, `state`, …). Tags are
/// input-only in v1, so they are not rendered.
pub fn project_from_v3(project: &resource_manager::Project) -> Project {
    let lifecycle_state = match project.state {
        Some(State::Active) => LifecycleState::Active,
        Some(State::DeleteRequested) => LifecycleState::DeleteRequested,
        Some(State::Unspecified) => LifecycleState::Unspecified,
        // A stored project without a state is a live one (Kumo writes ACTIVE on create).
        None => LifecycleState::Active,
    };
    Project {
        project_number: project
            .name
            .strip_prefix("projects/")
            .and_then(|number| number.parse().ok()),
        project_id: project.project_id.clone(),
        lifecycle_state: Some(lifecycle_state),
        name: project.display_name.clone(),
        create_time: project.create_time.clone(),
        labels: project.labels.clone(),
        parent: resource_id(&project.parent),
        tags: Map::new(),
    }
}
