//! `google.logging.v2`: log entries and the list/write calls.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protobuf::is_false;

type Map = BTreeMap<String, String>;

wire_enum! {
    /// `google.logging.type.LogSeverity`.
    pub enum LogSeverity {
        Default = 0 => "DEFAULT",
        Debug = 100 => "DEBUG",
        Info = 200 => "INFO",
        Notice = 300 => "NOTICE",
        Warning = 400 => "WARNING",
        Error = 500 => "ERROR",
        Critical = 600 => "CRITICAL",
        Alert = 700 => "ALERT",
        Emergency = 800 => "EMERGENCY",
    }
}

/// `google.api.MonitoredResource`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitoredResource {
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<MonitoredResource>,
    /// An `Any` (usually `type.googleapis.com/google.cloud.audit.AuditLog`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto_payload: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_payload: Option<String>,
    /// A `google.protobuf.Struct`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_payload: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<LogSeverity>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub insert_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequest>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<LogEntryOperation>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub span_id: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub trace_sampled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_location: Option<LogEntrySourceLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<LogSplit>,
}

/// `google.logging.type.HttpRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request_method: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request_url: String,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_size: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub referer: String,
    /// Duration string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cache_lookup: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cache_hit: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cache_validated_with_origin_server: bool,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_fill_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogEntryOperation {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub producer: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub first: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub last: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogEntrySourceLocation {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub line: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub function: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogSplit {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_splits: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListLogEntriesRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub order_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListLogEntriesResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<LogEntry>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteLogEntriesRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<MonitoredResource>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<LogEntry>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial_success: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

/// `WriteLogEntriesResponse` is an empty message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteLogEntriesResponse {}
