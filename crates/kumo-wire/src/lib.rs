//! kumo-wire: serde types for Google's REST JSON (proto3 JSON mapping) and Cloud Run's Knative v1
//! YAML/JSON. Every message rejects unknown fields, the way Google's ESF front end does; use
//! [`protobuf::from_json_slice`] to get Google's `Invalid JSON payload received` message.

#[macro_use]
pub mod protobuf;
pub mod artifact_registry;
pub mod iam;
pub mod iam_admin;
pub mod iam_credentials;
pub mod logging;
pub mod longrunning;
pub mod orgpolicy_v1;
pub mod orgpolicy_v2;
pub mod resource_manager;
pub mod resource_manager_v1;
pub mod rpc;
pub mod run_v1;
pub mod run_v2;
