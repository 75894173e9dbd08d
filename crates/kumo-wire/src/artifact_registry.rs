//! `google.devtools.artifactregistry.v1`: repositories and Docker images.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protobuf::is_false;

type Map = BTreeMap<String, String>;

wire_enum! {
    /// `Repository.Format`.
    pub enum Format {
        Unspecified = 0 => "FORMAT_UNSPECIFIED",
        Docker = 1 => "DOCKER",
        Maven = 2 => "MAVEN",
        Npm = 3 => "NPM",
        Apt = 5 => "APT",
        Yum = 6 => "YUM",
        Python = 8 => "PYTHON",
        Kfp = 9 => "KFP",
        Go = 10 => "GO",
        Generic = 11 => "GENERIC",
    }
}

wire_enum! {
    /// `Repository.Mode`.
    pub enum Mode {
        Unspecified = 0 => "MODE_UNSPECIFIED",
        StandardRepository = 1 => "STANDARD_REPOSITORY",
        VirtualRepository = 2 => "VIRTUAL_REPOSITORY",
        RemoteRepository = 3 => "REMOTE_REPOSITORY",
    }
}

/// Format- and mode-specific configs (docker/maven/virtual/remote/cleanup/vulnerability
/// scanning) are kept as opaque JSON: Kumo stores them but does not interpret them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Repository {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kms_key_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_policies: Option<serde_json::Value>,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub size_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub satisfies_pzs: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_policy_dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maven_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_repository_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_repository_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_scanning_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disallow_unspecified_mode: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub satisfies_pzi: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registry_uri: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DockerImage {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_size_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRepositoriesResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<Repository>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListDockerImagesResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker_images: Vec<DockerImage>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}
