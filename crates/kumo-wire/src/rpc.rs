//! `google.rpc.Status`, its typed details, canonical `Code`s and the REST error envelope.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protobuf::Any;

wire_enum! {
    /// `google.rpc.Code`.
    pub enum Code {
        Ok = 0 => "OK",
        Cancelled = 1 => "CANCELLED",
        Unknown = 2 => "UNKNOWN",
        InvalidArgument = 3 => "INVALID_ARGUMENT",
        DeadlineExceeded = 4 => "DEADLINE_EXCEEDED",
        NotFound = 5 => "NOT_FOUND",
        AlreadyExists = 6 => "ALREADY_EXISTS",
        PermissionDenied = 7 => "PERMISSION_DENIED",
        ResourceExhausted = 8 => "RESOURCE_EXHAUSTED",
        FailedPrecondition = 9 => "FAILED_PRECONDITION",
        Aborted = 10 => "ABORTED",
        OutOfRange = 11 => "OUT_OF_RANGE",
        Unimplemented = 12 => "UNIMPLEMENTED",
        Internal = 13 => "INTERNAL",
        Unavailable = 14 => "UNAVAILABLE",
        DataLoss = 15 => "DATA_LOSS",
        Unauthenticated = 16 => "UNAUTHENTICATED",
    }
}

impl Code {
    /// HTTP status Google's REST front end uses for this code (google/rpc/code.proto).
    pub const fn http_status(self) -> u16 {
        match self {
            Code::Ok => 200,
            Code::Cancelled => 499,
            Code::Unknown | Code::Internal | Code::DataLoss => 500,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists | Code::Aborted => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::Unauthenticated => 401,
        }
    }
}

/// `google.rpc.Status` as found in an LRO `error` (its `code` is the gRPC number).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Status {
    #[serde(default)]
    pub code: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Any>,
}

/// The REST error body: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// `error` in the REST body: `code` is the HTTP status, `status` the canonical name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorBody {
    pub code: u16,
    pub message: String,
    pub status: Code,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Any>,
}

impl ErrorEnvelope {
    pub fn new(code: Code, message: impl Into<String>, details: Vec<Any>) -> Self {
        Self {
            error: ErrorBody {
                code: code.http_status(),
                message: message.into(),
                status: code,
                details,
            },
        }
    }
}

impl Status {
    pub fn new(code: Code, message: impl Into<String>, details: Vec<Any>) -> Self {
        Self {
            code: code.number(),
            message: message.into(),
            details,
        }
    }
}

/// Typed error details, each serialising with its `@type` so it can sit in `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@type")]
pub enum ErrorDetail {
    #[serde(rename = "type.googleapis.com/google.rpc.ErrorInfo")]
    ErrorInfo(ErrorInfo),
    #[serde(rename = "type.googleapis.com/google.rpc.BadRequest")]
    BadRequest(BadRequest),
    #[serde(rename = "type.googleapis.com/google.rpc.PreconditionFailure")]
    PreconditionFailure(PreconditionFailure),
    #[serde(rename = "type.googleapis.com/google.rpc.ResourceInfo")]
    ResourceInfo(ResourceInfo),
    #[serde(rename = "type.googleapis.com/google.rpc.Help")]
    Help(Help),
    #[serde(rename = "type.googleapis.com/google.rpc.LocalizedMessage")]
    LocalizedMessage(LocalizedMessage),
}

impl ErrorDetail {
    /// The detail as an `Any` value for `Status.details`.
    pub fn to_any(&self) -> Result<Any, serde_json::Error> {
        serde_json::to_value(self)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorInfo {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BadRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_violations: Vec<FieldViolation>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldViolation {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localized_message: Option<LocalizedMessage>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreconditionFailure {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<PreconditionViolation>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreconditionViolation {
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceInfo {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Help {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<HelpLink>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelpLink {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalizedMessage {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub locale: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
