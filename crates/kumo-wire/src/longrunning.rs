//! `google.longrunning`: Operation and its list/wait messages.

use serde::{Deserialize, Serialize};

use crate::protobuf::{Any, is_false};
use crate::rpc::Status;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// An `Any` with `@type`; Run v2 uses the resource type (Service, Job, Execution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Any>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub done: bool,
    /// Set only when done with failure; `error.code` is the gRPC number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Any>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListOperationsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitOperationRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A Duration string such as `"30s"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}
