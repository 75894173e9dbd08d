//! Cloud Run Admin API v1 (Knative `serving.knative.dev/v1` Services, `run.googleapis.com/v1`
//! Jobs) and conversions to and from the v2 resources, which are the stored form.
//!
//! Unknown fields are rejected like v2: v1 is served from the same proto definitions
//! (google.cloud.run.v1), and gcloud's own YAML parsing is schema-checked too. Annotation and
//! label values are leniently accepted as YAML scalars (the seed writes
//! `run.googleapis.com/invoker-iam-disabled: true` unquoted) and stored as strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::protobuf::{Duration, is_false};
use crate::rpc::FieldViolation;
use crate::run_v2;

type Map = BTreeMap<String, String>;

pub const SERVING_API_VERSION: &str = "serving.knative.dev/v1";
pub const JOBS_API_VERSION: &str = "run.googleapis.com/v1";
pub const LOCATION_LABEL: &str = "cloud.googleapis.com/location";

pub const ANN_INGRESS: &str = "run.googleapis.com/ingress";
pub const ANN_INGRESS_STATUS: &str = "run.googleapis.com/ingress-status";
pub const ANN_INVOKER_IAM_DISABLED: &str = "run.googleapis.com/invoker-iam-disabled";
pub const ANN_IAP_ENABLED: &str = "run.googleapis.com/iap-enabled";
pub const ANN_CUSTOM_AUDIENCES: &str = "run.googleapis.com/custom-audiences";
pub const ANN_DEFAULT_URL_DISABLED: &str = "run.googleapis.com/default-url-disabled";
pub const ANN_LAUNCH_STAGE: &str = "run.googleapis.com/launch-stage";
pub const ANN_DESCRIPTION: &str = "run.googleapis.com/description";
pub const ANN_CLIENT_NAME: &str = "run.googleapis.com/client-name";
pub const ANN_CLIENT_VERSION: &str = "run.googleapis.com/client-version";
pub const ANN_CREATOR: &str = "serving.knative.dev/creator";
pub const ANN_LAST_MODIFIER: &str = "serving.knative.dev/lastModifier";
pub const ANN_OPERATION_ID: &str = "run.googleapis.com/operation-id";
pub const ANN_URLS: &str = "run.googleapis.com/urls";
pub const ANN_MIN_SCALE: &str = "autoscaling.knative.dev/minScale";
pub const ANN_MAX_SCALE: &str = "autoscaling.knative.dev/maxScale";
pub const ANN_EXECUTION_ENVIRONMENT: &str = "run.googleapis.com/execution-environment";
pub const ANN_VPC_CONNECTOR: &str = "run.googleapis.com/vpc-access-connector";
pub const ANN_VPC_EGRESS: &str = "run.googleapis.com/vpc-access-egress";
pub const ANN_CLOUDSQL: &str = "run.googleapis.com/cloudsql-instances";
pub const ANN_ENCRYPTION_KEY: &str = "run.googleapis.com/encryption-key";
pub const ANN_SESSION_AFFINITY: &str = "run.googleapis.com/sessionAffinity";
pub const ANN_CPU_THROTTLING: &str = "run.googleapis.com/cpu-throttling";
pub const ANN_STARTUP_CPU_BOOST: &str = "run.googleapis.com/startup-cpu-boost";
pub const ANN_STARTUP_PROBE_TYPE: &str = "run.googleapis.com/startupProbeType";

/// Annotations Cloud Run writes itself; accepted back on input (gcloud export/replace) and dropped.
const OUTPUT_ONLY_ANNOTATIONS: &[&str] = &[
    ANN_CREATOR,
    ANN_LAST_MODIFIER,
    ANN_OPERATION_ID,
    ANN_INGRESS_STATUS,
    ANN_URLS,
    ANN_STARTUP_PROBE_TYPE,
];

/// Namespaces v2 reserves; a v1 annotation here must map to a v2 field or be refused.
const SYSTEM_PREFIXES: &[&str] = &[
    "run.googleapis.com/",
    "cloud.googleapis.com/",
    "serving.knative.dev/",
    "autoscaling.knative.dev/",
];

/// Reads a string map whose values may be written as bare YAML/JSON scalars.
fn lenient_map<'de, D: Deserializer<'de>>(d: D) -> Result<Map, D::Error> {
    let raw: Option<BTreeMap<String, serde_json::Value>> = Option::deserialize(d)?;
    let mut out = Map::new();
    for (k, v) in raw.unwrap_or_default() {
        let s = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Null => String::new(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "invalid value for annotation/label \"{k}\": expected a string, got {other}"
                )));
            }
        };
        out.insert(k, s);
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub generate_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub self_link: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_map",
        skip_serializing_if = "Map::is_empty"
    )]
    pub labels: Map,
    #[serde(
        default,
        deserialize_with = "lenient_map",
        skip_serializing_if = "Map::is_empty"
    )]
    pub annotations: Map,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ServiceStatus>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<RevisionTemplate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<TrafficTarget>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<RevisionSpec>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_concurrency: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
}

/// v1 probe; `gcloud run services describe --format export` always includes the default
/// `startupProbe`, so export/replace needs it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<run_v2::HttpGetAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<run_v2::TcpSocketAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<run_v2::GrpcAction>,
}

impl Probe {
    fn from_v2(p: &run_v2::Probe) -> Self {
        Self {
            initial_delay_seconds: p.initial_delay_seconds,
            timeout_seconds: p.timeout_seconds,
            period_seconds: p.period_seconds,
            failure_threshold: p.failure_threshold,
            http_get: p.http_get.clone(),
            tcp_socket: p.tcp_socket.clone(),
            grpc: p.grpc.clone(),
        }
    }

    fn to_v2(&self) -> run_v2::Probe {
        run_v2::Probe {
            initial_delay_seconds: self.initial_delay_seconds,
            timeout_seconds: self.timeout_seconds,
            period_seconds: self.period_seconds,
            failure_threshold: self.failure_threshold,
            http_get: self.http_get.clone(),
            tcp_socket: self.tcp_socket.clone(),
            grpc: self.grpc.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVarSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

/// `name` is the Secret Manager secret, `key` its version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeySelector {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRequirements {
    #[serde(
        default,
        deserialize_with = "lenient_map",
        skip_serializing_if = "Map::is_empty"
    )]
    pub limits: Map,
    #[serde(
        default,
        deserialize_with = "lenient_map",
        skip_serializing_if = "Map::is_empty"
    )]
    pub requests: Map,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolumeSource>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretVolumeSource {
    pub secret_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyToPath {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmptyDirVolumeSource {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub medium: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub size_limit: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficTarget {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub configuration_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_revision: Option<bool>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub latest_ready_revision_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub latest_created_revision_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<TrafficTarget>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Addressable>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Addressable {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// Knative condition: `status` is `"True"`, `"False"` or `"Unknown"`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Job {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<JobSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExecutionTemplateSpec>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionTemplateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ExecutionSpec>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_execution: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TaskTemplateSpec>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskTemplateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<TaskSpec>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    /// int64 in the v1 discovery document, hence a JSON string.
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_name: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_created_execution: Option<ExecutionReference>,
}

/// `ExecutionReference`: the job's latest execution as `JobStatus` shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_status: Option<run_v2::CompletionStatus>,
}

/// `run.googleapis.com/v1` `Execution`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Execution {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ExecutionSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ExecutionStatus>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionStatus {
    /// int32 in the v1 discovery document (a JSON number, unlike `metadata.generation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried_count: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_uri: String,
}

/// `run.googleapis.com/v1` `Task`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Task {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<TaskSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_result: Option<TaskAttemptResult>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_uri: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskAttemptResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_signal: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::rpc::Status>,
}

/// Body of `namespaces.jobs.run`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunJobRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Overrides>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_overrides: Vec<ContainerOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i32>,
    /// int32 seconds in v1 (v2 has a Duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_execution: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerOverride {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_args: Option<bool>,
}

/// Body of `namespaces.executions.cancel` (empty in v1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelExecutionRequest {}

/// Kubernetes `Status` object returned by v1 for deletes and errors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Status {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub self_link: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, rename = "continue", skip_serializing_if = "String::is_empty")]
    pub continue_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListServicesResponse {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ListMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Service>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListExecutionsResponse {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ListMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Execution>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListTasksResponse {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ListMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Task>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListJobsResponse {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ListMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Job>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Conversions

fn last_segment(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn location_of(name: &str) -> Option<&str> {
    let mut it = name.split('/');
    while let Some(seg) = it.next() {
        if seg == "locations" {
            return it.next();
        }
    }
    None
}

const fn ingress_to_annotation(i: run_v2::IngressTraffic) -> Option<&'static str> {
    match i {
        run_v2::IngressTraffic::All => Some("all"),
        run_v2::IngressTraffic::InternalOnly => Some("internal"),
        run_v2::IngressTraffic::InternalLoadBalancer => Some("internal-and-cloud-load-balancing"),
        run_v2::IngressTraffic::None => Some("none"),
        run_v2::IngressTraffic::Unspecified => None,
    }
}

fn ingress_from_annotation(s: &str) -> Option<run_v2::IngressTraffic> {
    Some(match s {
        "all" => run_v2::IngressTraffic::All,
        "internal" => run_v2::IngressTraffic::InternalOnly,
        "internal-and-cloud-load-balancing" => run_v2::IngressTraffic::InternalLoadBalancer,
        "none" => run_v2::IngressTraffic::None,
        _ => return None,
    })
}

fn duration_secs(d: &Option<String>) -> Option<i64> {
    d.as_deref()
        .and_then(|s| Duration::parse(s).ok())
        .map(|d| d.seconds)
}

fn v1_condition(c: &run_v2::Condition) -> Condition {
    use run_v2::{ConditionSeverity as S, ConditionState as St};
    let status = match c.state {
        Some(St::Succeeded) => "True",
        Some(St::Failed) => "False",
        _ => "Unknown",
    };
    let severity = match c.severity {
        Some(S::Error) => "Error",
        Some(S::Warning) => "Warning",
        Some(S::Info) => "Info",
        _ => "",
    };
    let reason = match (c.reason, c.revision_reason, c.execution_reason) {
        (Some(r), _, _) => pascal(r.as_str()),
        (_, Some(r), _) => pascal(r.as_str()),
        (_, _, Some(r)) => pascal(r.as_str()),
        _ => String::new(),
    };
    Condition {
        kind: c.kind.clone(),
        status: status.into(),
        reason,
        message: c.message.clone(),
        last_transition_time: c.last_transition_time.clone(),
        severity: severity.into(),
    }
}

/// `CONTAINER_MISSING` → `ContainerMissing`, the Knative reason style.
fn pascal(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &cs.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

fn container_from_v2(c: &run_v2::Container) -> Container {
    Container {
        name: c.name.clone(),
        image: c.image.clone(),
        command: c.command.clone(),
        args: c.args.clone(),
        env: c.env.iter().map(env_from_v2).collect(),
        resources: c
            .resources
            .as_ref()
            .filter(|r| !r.limits.is_empty())
            .map(|r| ResourceRequirements {
                limits: r.limits.clone(),
                requests: Map::new(),
            }),
        working_dir: c.working_dir.clone(),
        ports: c
            .ports
            .iter()
            .map(|p| ContainerPort {
                name: p.name.clone(),
                container_port: p.container_port,
                protocol: String::new(),
            })
            .collect(),
        volume_mounts: c
            .volume_mounts
            .iter()
            .map(|m| VolumeMount {
                name: m.name.clone(),
                mount_path: m.mount_path.clone(),
                read_only: false,
            })
            .collect(),
        liveness_probe: c.liveness_probe.as_ref().map(Probe::from_v2),
        startup_probe: c.startup_probe.as_ref().map(Probe::from_v2),
    }
}

fn env_from_v2(e: &run_v2::EnvVar) -> EnvVar {
    EnvVar {
        name: e.name.clone(),
        value: e.value.clone(),
        value_from: e
            .value_source
            .as_ref()
            .and_then(|s| s.secret_key_ref.as_ref())
            .map(|r| EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: r.secret.clone(),
                    key: r.version.clone(),
                }),
            }),
    }
}

fn env_to_v2(e: &EnvVar) -> run_v2::EnvVar {
    run_v2::EnvVar {
        name: e.name.clone(),
        value: e.value.clone(),
        value_source: e
            .value_from
            .as_ref()
            .and_then(|s| s.secret_key_ref.as_ref())
            .map(|r| run_v2::EnvVarSource {
                secret_key_ref: Some(run_v2::SecretKeySelector {
                    secret: r.name.clone(),
                    version: r.key.clone(),
                }),
            }),
    }
}

fn container_to_v2(c: &Container) -> run_v2::Container {
    run_v2::Container {
        name: c.name.clone(),
        image: c.image.clone(),
        command: c.command.clone(),
        args: c.args.clone(),
        env: c.env.iter().map(env_to_v2).collect(),
        resources: c
            .resources
            .as_ref()
            .filter(|r| !r.limits.is_empty())
            .map(|r| run_v2::ResourceRequirements {
                limits: r.limits.clone(),
                ..Default::default()
            }),
        ports: c
            .ports
            .iter()
            .map(|p| run_v2::ContainerPort {
                name: p.name.clone(),
                container_port: p.container_port,
            })
            .collect(),
        volume_mounts: c
            .volume_mounts
            .iter()
            .map(|m| run_v2::VolumeMount {
                name: m.name.clone(),
                mount_path: m.mount_path.clone(),
            })
            .collect(),
        working_dir: c.working_dir.clone(),
        liveness_probe: c.liveness_probe.as_ref().map(Probe::to_v2),
        startup_probe: c.startup_probe.as_ref().map(Probe::to_v2),
        ..Default::default()
    }
}

fn volume_from_v2(v: &run_v2::Volume) -> Option<Volume> {
    let secret = v.secret.as_ref().map(|s| SecretVolumeSource {
        secret_name: s.secret.clone(),
        items: s
            .items
            .iter()
            .map(|i| KeyToPath {
                key: i.version.clone(),
                path: i.path.clone(),
                mode: i.mode,
            })
            .collect(),
        default_mode: s.default_mode,
    });
    let empty_dir = v.empty_dir.as_ref().map(|e| EmptyDirVolumeSource {
        medium: match e.medium {
            Some(run_v2::EmptyDirMedium::Memory) => "Memory".into(),
            _ => String::new(),
        },
        size_limit: e.size_limit.clone(),
    });
    // Cloud SQL volumes are expressed by the cloudsql-instances annotation in v1.
    (secret.is_some() || empty_dir.is_some()).then(|| Volume {
        name: v.name.clone(),
        secret,
        empty_dir,
    })
}

fn volume_to_v2(v: &Volume) -> run_v2::Volume {
    run_v2::Volume {
        name: v.name.clone(),
        secret: v.secret.as_ref().map(|s| run_v2::SecretVolumeSource {
            secret: s.secret_name.clone(),
            items: s
                .items
                .iter()
                .map(|i| run_v2::VersionToPath {
                    path: i.path.clone(),
                    version: i.key.clone(),
                    mode: i.mode,
                })
                .collect(),
            default_mode: s.default_mode,
        }),
        empty_dir: v.empty_dir.as_ref().map(|e| run_v2::EmptyDirVolumeSource {
            medium: (e.medium == "Memory").then_some(run_v2::EmptyDirMedium::Memory),
            size_limit: e.size_limit.clone(),
        }),
        ..Default::default()
    }
}

/// Renders a stored v2 Service as Cloud Run's v1 Knative object. `namespace` is what v1 shows
/// in `metadata.namespace` (the project number on output).
pub fn service_from_v2(svc: &run_v2::Service, namespace: &str) -> Service {
    let name = last_segment(&svc.name).to_owned();
    let mut labels = svc.labels.clone();
    if let Some(loc) = location_of(&svc.name) {
        labels.insert(LOCATION_LABEL.into(), loc.into());
    }
    let mut ann = svc.annotations.clone();
    let mut put = |k: &str, v: String| {
        ann.insert(k.into(), v);
    };
    if !svc.creator.is_empty() {
        put(ANN_CREATOR, svc.creator.clone());
    }
    if !svc.last_modifier.is_empty() {
        put(ANN_LAST_MODIFIER, svc.last_modifier.clone());
    }
    if let Some(v) = svc.ingress.and_then(ingress_to_annotation) {
        put(ANN_INGRESS, v.into());
        put(ANN_INGRESS_STATUS, v.into());
    }
    if svc.invoker_iam_disabled {
        put(ANN_INVOKER_IAM_DISABLED, "true".into());
    }
    if svc.iap_enabled {
        put(ANN_IAP_ENABLED, "true".into());
    }
    if svc.default_uri_disabled {
        put(ANN_DEFAULT_URL_DISABLED, "true".into());
    }
    if !svc.custom_audiences.is_empty() {
        put(
            ANN_CUSTOM_AUDIENCES,
            serde_json::Value::from(svc.custom_audiences.clone()).to_string(),
        );
    }
    if let Some(ls) = svc
        .launch_stage
        .filter(|s| *s != run_v2::LaunchStage::Unspecified)
    {
        put(ANN_LAUNCH_STAGE, ls.as_str().into());
    }
    if !svc.description.is_empty() {
        put(ANN_DESCRIPTION, svc.description.clone());
    }
    if !svc.client.is_empty() {
        put(ANN_CLIENT_NAME, svc.client.clone());
    }
    if !svc.client_version.is_empty() {
        put(ANN_CLIENT_VERSION, svc.client_version.clone());
    }
    if !svc.urls.is_empty() {
        put(
            ANN_URLS,
            serde_json::Value::from(svc.urls.clone()).to_string(),
        );
    }

    let metadata = ObjectMeta {
        name: name.clone(),
        namespace: namespace.into(),
        self_link: format!("/apis/serving.knative.dev/v1/namespaces/{namespace}/services/{name}"),
        uid: svc.uid.clone(),
        resource_version: svc.etag.clone(),
        generation: svc.generation,
        creation_timestamp: svc.create_time.clone(),
        deletion_timestamp: svc.delete_time.clone(),
        labels,
        annotations: ann,
        ..Default::default()
    };

    let template = svc.template.as_ref().map(template_from_v2);
    let traffic = svc
        .traffic
        .iter()
        .map(|t| TrafficTarget {
            revision_name: t.revision.clone(),
            percent: t.percent,
            tag: t.tag.clone(),
            latest_revision: latest_flag(t.kind),
            ..Default::default()
        })
        .collect();

    let mut conditions = Vec::new();
    if let Some(tc) = &svc.terminal_condition {
        conditions.push(v1_condition(tc));
    }
    conditions.extend(svc.conditions.iter().map(v1_condition));
    let status = ServiceStatus {
        observed_generation: svc.observed_generation,
        conditions,
        latest_ready_revision_name: last_segment(&svc.latest_ready_revision).to_owned(),
        latest_created_revision_name: last_segment(&svc.latest_created_revision).to_owned(),
        traffic: svc
            .traffic_statuses
            .iter()
            .map(|t| TrafficTarget {
                revision_name: status_revision_name(t, &svc.latest_ready_revision),
                percent: t.percent,
                tag: t.tag.clone(),
                latest_revision: latest_flag(t.kind),
                url: t.uri.clone(),
                ..Default::default()
            })
            .collect(),
        url: svc.uri.clone(),
        address: (!svc.uri.is_empty()).then(|| Addressable {
            url: svc.uri.clone(),
        }),
    };

    Service {
        api_version: SERVING_API_VERSION.into(),
        kind: "Service".into(),
        metadata,
        spec: Some(ServiceSpec { template, traffic }),
        status: Some(status),
    }
}

/// The revision a status target routes to. v2's `trafficStatuses[]` leaves `revision` empty for
/// a LATEST target, but v1's status names the revision it resolved to (TrafficTarget.latestRevision
/// in google/cloud/run/v1: "If the field is set to true on Status, this means that the Revision
/// was resolved from the Service's latest ready revision"), as `gcloud run services describe
/// --format yaml` shows: `{latestRevision: true, percent: 100, revisionName: hello-00002-xyz}`.
fn status_revision_name(t: &run_v2::TrafficTargetStatus, latest_ready: &str) -> String {
    match t.kind {
        Some(run_v2::TrafficTargetAllocationType::Latest) if t.revision.is_empty() => {
            last_segment(latest_ready).to_owned()
        }
        _ => last_segment(&t.revision).to_owned(),
    }
}

fn latest_flag(kind: Option<run_v2::TrafficTargetAllocationType>) -> Option<bool> {
    match kind {
        Some(run_v2::TrafficTargetAllocationType::Latest) => Some(true),
        _ => None,
    }
}

fn template_from_v2(t: &run_v2::RevisionTemplate) -> RevisionTemplate {
    let mut ann = t.annotations.clone();
    if let Some(s) = &t.scaling {
        if let Some(n) = s.min_instance_count {
            ann.insert(ANN_MIN_SCALE.into(), n.to_string());
        }
        if let Some(n) = s.max_instance_count {
            ann.insert(ANN_MAX_SCALE.into(), n.to_string());
        }
    }
    match t.execution_environment {
        Some(run_v2::ExecutionEnvironment::Gen1) => {
            ann.insert(ANN_EXECUTION_ENVIRONMENT.into(), "gen1".into());
        }
        Some(run_v2::ExecutionEnvironment::Gen2) => {
            ann.insert(ANN_EXECUTION_ENVIRONMENT.into(), "gen2".into());
        }
        _ => {}
    }
    if let Some(v) = &t.vpc_access {
        if !v.connector.is_empty() {
            ann.insert(ANN_VPC_CONNECTOR.into(), v.connector.clone());
        }
        match v.egress {
            Some(run_v2::VpcEgress::AllTraffic) => {
                ann.insert(ANN_VPC_EGRESS.into(), "all-traffic".into());
            }
            Some(run_v2::VpcEgress::PrivateRangesOnly) => {
                ann.insert(ANN_VPC_EGRESS.into(), "private-ranges-only".into());
            }
            _ => {}
        }
    }
    let sql: Vec<&str> = t
        .volumes
        .iter()
        .filter_map(|v| v.cloud_sql_instance.as_ref())
        .flat_map(|c| c.instances.iter().map(String::as_str))
        .collect();
    if !sql.is_empty() {
        ann.insert(ANN_CLOUDSQL.into(), sql.join(","));
    }
    if !t.encryption_key.is_empty() {
        ann.insert(ANN_ENCRYPTION_KEY.into(), t.encryption_key.clone());
    }
    if t.session_affinity {
        ann.insert(ANN_SESSION_AFFINITY.into(), "true".into());
    }
    // v1 carries these per revision; v2 per container (Cloud Run allows one ingress container).
    if let Some(r) = t.containers.iter().find_map(|c| c.resources.as_ref()) {
        ann.insert(ANN_CPU_THROTTLING.into(), r.cpu_idle.to_string());
        if r.startup_cpu_boost {
            ann.insert(ANN_STARTUP_CPU_BOOST.into(), "true".into());
        }
    }
    let metadata = ObjectMeta {
        name: t.revision.clone(),
        labels: t.labels.clone(),
        annotations: ann,
        ..Default::default()
    };
    RevisionTemplate {
        metadata: Some(metadata),
        spec: Some(RevisionSpec {
            container_concurrency: t.max_instance_request_concurrency,
            timeout_seconds: duration_secs(&t.timeout).and_then(|s| i32::try_from(s).ok()),
            service_account_name: t.service_account.clone(),
            containers: t.containers.iter().map(container_from_v2).collect(),
            volumes: t.volumes.iter().filter_map(volume_from_v2).collect(),
        }),
    }
}

/// Collects field violations while mapping v1 annotations onto v2 fields.
struct Annotations<'a> {
    prefix: &'a str,
    rest: Map,
    violations: Vec<FieldViolation>,
}

impl<'a> Annotations<'a> {
    fn new(prefix: &'a str, ann: &Map) -> Self {
        let mut rest = ann.clone();
        rest.retain(|k, _| !OUTPUT_ONLY_ANNOTATIONS.contains(&k.as_str()));
        Self {
            prefix,
            rest,
            violations: Vec::new(),
        }
    }

    fn violation(&mut self, key: &str, description: String) {
        self.violations.push(FieldViolation {
            field: format!("{}.annotations[{key}]", self.prefix),
            description,
            ..Default::default()
        });
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.rest.remove(key)
    }

    /// `true`/`false` in any case: gcloud writes Python's `str(bool)` (`True`/`False`) for
    /// `--[no-]cpu-throttling` and `--[no-]cpu-boost`, and Cloud Run accepts it.
    fn take_bool(&mut self, key: &str) -> bool {
        let value = self.take(key);
        match value.as_deref() {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(other) => {
                self.violation(
                    key,
                    format!("Invalid value \"{other}\": expected \"true\" or \"false\"."),
                );
                false
            }
        }
    }

    fn take_int(&mut self, key: &str) -> Option<i32> {
        let v = self.take(key)?;
        match v.parse::<i32>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                self.violation(
                    key,
                    format!("Invalid value \"{v}\": expected a non-negative integer."),
                );
                None
            }
        }
    }

    /// Whatever is left must be a user annotation: system namespaces have no v2 home.
    fn finish(mut self) -> (Map, Vec<FieldViolation>) {
        let leftovers: Vec<String> = self
            .rest
            .keys()
            .filter(|k| SYSTEM_PREFIXES.iter().any(|p| k.starts_with(p)))
            .cloned()
            .collect();
        for k in leftovers {
            self.rest.remove(&k);
            self.violation(&k, "Unsupported annotation.".into());
        }
        (self.rest, self.violations)
    }
}

/// Turns a v1 Service (as sent to create/replace) into the v2 desired state. Output-only parts
/// (status, uid, generation…) are ignored. `parent` is `projects/{p}/locations/{l}`.
pub fn service_to_v2(svc: &Service, parent: &str) -> Result<run_v2::Service, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    if svc.metadata.name.is_empty() {
        violations.push(FieldViolation {
            field: "metadata.name".into(),
            description: "The service name must be specified.".into(),
            ..Default::default()
        });
    }
    let mut a = Annotations::new("metadata", &svc.metadata.annotations);
    let ingress = match a.take(ANN_INGRESS) {
        None => None,
        Some(v) => match ingress_from_annotation(&v) {
            Some(i) => Some(i),
            None => {
                a.violation(
                    ANN_INGRESS,
                    format!("Invalid value \"{v}\": expected one of all, internal, internal-and-cloud-load-balancing, none."),
                );
                None
            }
        },
    };
    let invoker_iam_disabled = a.take_bool(ANN_INVOKER_IAM_DISABLED);
    let iap_enabled = a.take_bool(ANN_IAP_ENABLED);
    let default_uri_disabled = a.take_bool(ANN_DEFAULT_URL_DISABLED);
    let custom_audiences = match a.take(ANN_CUSTOM_AUDIENCES) {
        None => Vec::new(),
        Some(v) => match serde_json::from_str::<Vec<String>>(&v) {
            Ok(list) => list,
            Err(_) => {
                a.violation(
                    ANN_CUSTOM_AUDIENCES,
                    format!("Invalid value \"{v}\": expected a JSON list of strings."),
                );
                Vec::new()
            }
        },
    };
    let launch_stage = match a.take(ANN_LAUNCH_STAGE) {
        None => None,
        Some(v) => match run_v2::LaunchStage::from_name(&v) {
            Some(s) => Some(s),
            None => {
                a.violation(ANN_LAUNCH_STAGE, format!("Invalid launch stage \"{v}\"."));
                None
            }
        },
    };
    let description = a.take(ANN_DESCRIPTION).unwrap_or_default();
    let client = a.take(ANN_CLIENT_NAME).unwrap_or_default();
    let client_version = a.take(ANN_CLIENT_VERSION).unwrap_or_default();
    let (annotations, v) = a.finish();
    violations.extend(v);

    let mut labels = svc.metadata.labels.clone();
    labels.remove(LOCATION_LABEL);

    let spec = svc.spec.clone().unwrap_or_default();
    let template = match &spec.template {
        Some(t) => template_to_v2(t, &mut violations),
        None => run_v2::RevisionTemplate::default(),
    };
    let traffic = spec
        .traffic
        .iter()
        .map(|t| run_v2::TrafficTarget {
            kind: Some(if t.latest_revision == Some(true) {
                run_v2::TrafficTargetAllocationType::Latest
            } else {
                run_v2::TrafficTargetAllocationType::Revision
            }),
            revision: t.revision_name.clone(),
            percent: t.percent,
            tag: t.tag.clone(),
        })
        .collect();

    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(run_v2::Service {
        name: format!("{parent}/services/{}", svc.metadata.name),
        description,
        labels,
        annotations,
        client,
        client_version,
        ingress,
        launch_stage,
        template: Some(template),
        traffic,
        invoker_iam_disabled,
        default_uri_disabled,
        iap_enabled,
        custom_audiences,
        etag: svc.metadata.resource_version.clone(),
        ..Default::default()
    })
}

fn template_to_v2(
    t: &RevisionTemplate,
    violations: &mut Vec<FieldViolation>,
) -> run_v2::RevisionTemplate {
    let meta = t.metadata.clone().unwrap_or_default();
    let mut a = Annotations::new("spec.template.metadata", &meta.annotations);
    let min = a.take_int(ANN_MIN_SCALE);
    let max = a.take_int(ANN_MAX_SCALE);
    let execution_environment = match a.take(ANN_EXECUTION_ENVIRONMENT).as_deref() {
        None => None,
        Some("gen1") => Some(run_v2::ExecutionEnvironment::Gen1),
        Some("gen2") => Some(run_v2::ExecutionEnvironment::Gen2),
        Some(other) => {
            a.violation(
                ANN_EXECUTION_ENVIRONMENT,
                format!("Invalid value \"{other}\": expected gen1 or gen2."),
            );
            None
        }
    };
    let connector = a.take(ANN_VPC_CONNECTOR).unwrap_or_default();
    let egress = match a.take(ANN_VPC_EGRESS).as_deref() {
        None => None,
        Some("all-traffic" | "all") => Some(run_v2::VpcEgress::AllTraffic),
        Some("private-ranges-only") => Some(run_v2::VpcEgress::PrivateRangesOnly),
        Some(other) => {
            a.violation(
                ANN_VPC_EGRESS,
                format!("Invalid value \"{other}\": expected all-traffic or private-ranges-only."),
            );
            None
        }
    };
    let sql: Vec<String> = a
        .take(ANN_CLOUDSQL)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let encryption_key = a.take(ANN_ENCRYPTION_KEY).unwrap_or_default();
    let session_affinity = a.take_bool(ANN_SESSION_AFFINITY);
    // v1's default is throttled CPU: only `'false'` keeps CPU allocated between requests.
    let cpu_annotated = a.rest.contains_key(ANN_CPU_THROTTLING);
    let cpu_throttling = !cpu_annotated || a.take_bool(ANN_CPU_THROTTLING);
    let startup_cpu_boost = a.take_bool(ANN_STARTUP_CPU_BOOST);
    // The template-level client name has no v2 home (v2 keeps it on the Service).
    a.take(ANN_CLIENT_NAME);
    a.take(ANN_CLIENT_VERSION);
    let (annotations, v) = a.finish();
    violations.extend(v);

    let spec = t.spec.clone().unwrap_or_default();
    let mut volumes: Vec<run_v2::Volume> = spec.volumes.iter().map(volume_to_v2).collect();
    if !sql.is_empty() {
        volumes.push(run_v2::Volume {
            name: "cloudsql".into(),
            cloud_sql_instance: Some(run_v2::CloudSqlInstance { instances: sql }),
            ..Default::default()
        });
    }
    let mut containers: Vec<run_v2::Container> =
        spec.containers.iter().map(container_to_v2).collect();
    for c in &mut containers {
        // Without resources or annotations, v2's own default (`cpuIdle: true`) applies.
        if c.resources.is_some() || cpu_annotated || startup_cpu_boost {
            let r = c.resources.get_or_insert_with(Default::default);
            r.cpu_idle = cpu_throttling;
            r.startup_cpu_boost = startup_cpu_boost;
        }
    }
    run_v2::RevisionTemplate {
        revision: meta.name,
        labels: meta.labels,
        annotations,
        scaling: (min.is_some() || max.is_some()).then_some(run_v2::RevisionScaling {
            min_instance_count: min,
            max_instance_count: max,
        }),
        vpc_access: (!connector.is_empty() || egress.is_some()).then(|| run_v2::VpcAccess {
            connector,
            egress,
            network_interfaces: Vec::new(),
        }),
        timeout: spec
            .timeout_seconds
            .map(|s| Duration::from_secs(i64::from(s)).format()),
        service_account: spec.service_account_name,
        containers,
        volumes,
        execution_environment,
        encryption_key,
        max_instance_request_concurrency: spec.container_concurrency,
        session_affinity,
        ..Default::default()
    }
}

/// Renders a stored v2 Job as the v1 `run.googleapis.com/v1` Job.
pub fn job_from_v2(job: &run_v2::Job, namespace: &str) -> Job {
    let name = last_segment(&job.name).to_owned();
    let mut labels = job.labels.clone();
    if let Some(loc) = location_of(&job.name) {
        labels.insert(LOCATION_LABEL.into(), loc.into());
    }
    let mut ann = job.annotations.clone();
    if !job.creator.is_empty() {
        ann.insert(ANN_CREATOR.into(), job.creator.clone());
    }
    if !job.last_modifier.is_empty() {
        ann.insert(ANN_LAST_MODIFIER.into(), job.last_modifier.clone());
    }
    if let Some(ls) = job
        .launch_stage
        .filter(|s| *s != run_v2::LaunchStage::Unspecified)
    {
        ann.insert(ANN_LAUNCH_STAGE.into(), ls.as_str().into());
    }
    if !job.client.is_empty() {
        ann.insert(ANN_CLIENT_NAME.into(), job.client.clone());
    }
    let template = job.template.as_ref().map(|et| {
        let task = et.template.as_ref().map(|tt| TaskTemplateSpec {
            spec: Some(TaskSpec {
                containers: tt.containers.iter().map(container_from_v2).collect(),
                volumes: tt.volumes.iter().filter_map(volume_from_v2).collect(),
                max_retries: tt.max_retries,
                timeout_seconds: duration_secs(&tt.timeout),
                service_account_name: tt.service_account.clone(),
            }),
        });
        let mut tann = et.annotations.clone();
        if let Some(t) = &et.template {
            match t.execution_environment {
                Some(run_v2::ExecutionEnvironment::Gen1) => {
                    tann.insert(ANN_EXECUTION_ENVIRONMENT.into(), "gen1".into());
                }
                Some(run_v2::ExecutionEnvironment::Gen2) => {
                    tann.insert(ANN_EXECUTION_ENVIRONMENT.into(), "gen2".into());
                }
                _ => {}
            }
        }
        ExecutionTemplateSpec {
            metadata: (!tann.is_empty() || !et.labels.is_empty()).then(|| ObjectMeta {
                labels: et.labels.clone(),
                annotations: tann,
                ..Default::default()
            }),
            spec: Some(ExecutionSpec {
                delay_execution: None,
                parallelism: et.parallelism,
                task_count: et.task_count,
                template: task,
            }),
        }
    });
    let mut conditions = Vec::new();
    if let Some(tc) = &job.terminal_condition {
        conditions.push(v1_condition(tc));
    }
    conditions.extend(job.conditions.iter().map(v1_condition));
    Job {
        api_version: JOBS_API_VERSION.into(),
        kind: "Job".into(),
        metadata: ObjectMeta {
            name: name.clone(),
            namespace: namespace.into(),
            self_link: format!("/apis/run.googleapis.com/v1/namespaces/{namespace}/jobs/{name}"),
            uid: job.uid.clone(),
            resource_version: job.etag.clone(),
            generation: job.generation,
            creation_timestamp: job.create_time.clone(),
            labels,
            annotations: ann,
            ..Default::default()
        },
        spec: Some(JobSpec { template }),
        status: Some(JobStatus {
            observed_generation: job.observed_generation,
            conditions,
            execution_count: job.execution_count,
            latest_created_execution: job
                .latest_created_execution
                .as_ref()
                .map(execution_reference_from_v2),
        }),
    }
}

/// Turns a v1 Job (create/replace body, e.g. from `gcloud run jobs replace job.yaml`) into the
/// v2 desired state. `parent` is `projects/{p}/locations/{l}`.
pub fn job_to_v2(job: &Job, parent: &str) -> Result<run_v2::Job, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    if job.metadata.name.is_empty() {
        violations.push(FieldViolation {
            field: "metadata.name".into(),
            description: "The job name must be specified.".into(),
            ..Default::default()
        });
    }
    let mut a = Annotations::new("metadata", &job.metadata.annotations);
    let launch_stage = match a.take(ANN_LAUNCH_STAGE) {
        None => None,
        Some(v) => match run_v2::LaunchStage::from_name(&v) {
            Some(s) => Some(s),
            None => {
                a.violation(ANN_LAUNCH_STAGE, format!("Invalid launch stage \"{v}\"."));
                None
            }
        },
    };
    let client = a.take(ANN_CLIENT_NAME).unwrap_or_default();
    let client_version = a.take(ANN_CLIENT_VERSION).unwrap_or_default();
    let (annotations, v) = a.finish();
    violations.extend(v);
    let mut labels = job.metadata.labels.clone();
    labels.remove(LOCATION_LABEL);

    let et = job
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let emeta = et.metadata.unwrap_or_default();
    let mut ea = Annotations::new("spec.template.metadata", &emeta.annotations);
    let execution_environment = match ea.take(ANN_EXECUTION_ENVIRONMENT).as_deref() {
        None => None,
        Some("gen1") => Some(run_v2::ExecutionEnvironment::Gen1),
        Some("gen2") => Some(run_v2::ExecutionEnvironment::Gen2),
        Some(other) => {
            ea.violation(
                ANN_EXECUTION_ENVIRONMENT,
                format!("Invalid value \"{other}\": expected gen1 or gen2."),
            );
            None
        }
    };
    let (eann, v) = ea.finish();
    violations.extend(v);
    let espec = et.spec.unwrap_or_default();
    let tspec = espec.template.and_then(|t| t.spec).unwrap_or_default();
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(run_v2::Job {
        name: format!("{parent}/jobs/{}", job.metadata.name),
        labels,
        annotations,
        client,
        client_version,
        launch_stage,
        template: Some(run_v2::ExecutionTemplate {
            labels: emeta.labels,
            annotations: eann,
            parallelism: espec.parallelism,
            task_count: espec.task_count,
            template: Some(run_v2::TaskTemplate {
                containers: tspec.containers.iter().map(container_to_v2).collect(),
                volumes: tspec.volumes.iter().map(volume_to_v2).collect(),
                max_retries: tspec.max_retries,
                timeout: tspec
                    .timeout_seconds
                    .map(|s| Duration::from_secs(s).format()),
                service_account: tspec.service_account_name,
                execution_environment,
                ..Default::default()
            }),
        }),
        etag: job.metadata.resource_version.clone(),
        ..Default::default()
    })
}

fn execution_reference_from_v2(reference: &run_v2::ExecutionReference) -> ExecutionReference {
    ExecutionReference {
        name: last_segment(&reference.name).to_owned(),
        creation_timestamp: reference.create_time.clone(),
        completion_timestamp: reference.completion_time.clone(),
        deletion_timestamp: reference.delete_time.clone(),
        completion_status: reference.completion_status,
    }
}

/// The job an execution or task belongs to (`run.googleapis.com/job`).
pub const LABEL_JOB: &str = "run.googleapis.com/job";
/// The execution a task belongs to (`run.googleapis.com/execution`; gcloud lists a job's tasks
/// with `labelSelector=run.googleapis.com/execution = NAME`).
pub const LABEL_EXECUTION: &str = "run.googleapis.com/execution";
/// A task's state as gcloud filters and prints it: `Running`, `Succeeded`, `Failed`,
/// `Cancelled`, … (`labelSelector=run.googleapis.com/runningState in (...)`).
pub const LABEL_RUNNING_STATE: &str = "run.googleapis.com/runningState";
/// Who ran the execution (gcloud's `Execution.author`).
pub const ANN_RUN_CREATOR: &str = "run.googleapis.com/creator";

fn task_spec_from_v2(template: &run_v2::TaskTemplate) -> TaskSpec {
    TaskSpec {
        containers: template.containers.iter().map(container_from_v2).collect(),
        volumes: template.volumes.iter().filter_map(volume_from_v2).collect(),
        max_retries: template.max_retries,
        timeout_seconds: duration_secs(&template.timeout),
        service_account_name: template.service_account.clone(),
    }
}

/// `generation`s are int64 in v2 and int32 in v1 statuses.
fn generation32(generation: Option<i64>) -> Option<i32> {
    generation.and_then(|g| i32::try_from(g).ok())
}

fn conditions_from_v2(conditions: &[run_v2::Condition]) -> Vec<Condition> {
    conditions.iter().map(v1_condition).collect()
}

/// Renders a stored v2 Execution as the v1 `Execution` (`namespace` = project number).
pub fn execution_from_v2(execution: &run_v2::Execution, namespace: &str) -> Execution {
    let name = last_segment(&execution.name).to_owned();
    let mut labels = execution.labels.clone();
    if let Some(location) = location_of(&execution.name) {
        labels.insert(LOCATION_LABEL.into(), location.into());
    }
    if !execution.job.is_empty() {
        labels.insert(LABEL_JOB.into(), execution.job.clone());
    }
    let mut annotations = execution.annotations.clone();
    if !execution.creator.is_empty() {
        annotations.insert(ANN_RUN_CREATOR.into(), execution.creator.clone());
    }
    if let Some(stage) = execution
        .launch_stage
        .filter(|s| *s != run_v2::LaunchStage::Unspecified)
    {
        annotations.insert(ANN_LAUNCH_STAGE.into(), stage.as_str().into());
    }
    Execution {
        api_version: JOBS_API_VERSION.into(),
        kind: "Execution".into(),
        metadata: ObjectMeta {
            name: name.clone(),
            namespace: namespace.into(),
            self_link: format!(
                "/apis/run.googleapis.com/v1/namespaces/{namespace}/executions/{name}"
            ),
            uid: execution.uid.clone(),
            resource_version: execution.etag.trim_matches('"').to_owned(),
            generation: execution.generation,
            creation_timestamp: execution.create_time.clone(),
            deletion_timestamp: execution.delete_time.clone(),
            labels,
            annotations,
            ..Default::default()
        },
        spec: Some(ExecutionSpec {
            delay_execution: None,
            parallelism: execution.parallelism,
            task_count: execution.task_count,
            template: execution.template.as_ref().map(|t| TaskTemplateSpec {
                spec: Some(task_spec_from_v2(t)),
            }),
        }),
        status: Some(ExecutionStatus {
            observed_generation: generation32(execution.observed_generation),
            conditions: conditions_from_v2(&execution.conditions),
            start_time: execution.start_time.clone(),
            completion_time: execution.completion_time.clone(),
            running_count: execution.running_count,
            succeeded_count: execution.succeeded_count,
            failed_count: execution.failed_count,
            cancelled_count: execution.cancelled_count,
            retried_count: execution.retried_count,
            log_uri: execution.log_uri.clone(),
        }),
    }
}

/// The `run.googleapis.com/runningState` of a task, from its `Completed` condition.
/// UNCONFIRMED: the label value of a task that has not started (gcloud knows `Running`,
/// `Succeeded`, `Failed`, `Cancelled` and `Abandoned`); Kumo says `Pending`.
fn running_state(task: &run_v2::Task) -> &'static str {
    use run_v2::{ConditionState as St, ExecutionReason as R};
    let completed = task.conditions.iter().find(|c| c.kind == "Completed");
    match completed.map(|c| (c.state, c.execution_reason)) {
        Some((Some(St::Succeeded), _)) => "Succeeded",
        Some((Some(St::Failed), Some(R::Cancelled))) => "Cancelled",
        Some((Some(St::Failed), _)) => "Failed",
        _ if task.start_time.is_some() => "Running",
        _ => "Pending",
    }
}

/// Renders a stored v2 Task as the v1 `Task` (`namespace` = project number).
pub fn task_from_v2(task: &run_v2::Task, namespace: &str) -> Task {
    let name = last_segment(&task.name).to_owned();
    let mut labels = task.labels.clone();
    if let Some(location) = location_of(&task.name) {
        labels.insert(LOCATION_LABEL.into(), location.into());
    }
    if !task.job.is_empty() {
        labels.insert(LABEL_JOB.into(), task.job.clone());
    }
    if !task.execution.is_empty() {
        labels.insert(LABEL_EXECUTION.into(), task.execution.clone());
    }
    labels.insert(LABEL_RUNNING_STATE.into(), running_state(task).into());
    let template = run_v2::TaskTemplate {
        containers: task.containers.clone(),
        volumes: task.volumes.clone(),
        max_retries: task.max_retries,
        timeout: task.timeout.clone(),
        service_account: task.service_account.clone(),
        ..Default::default()
    };
    Task {
        api_version: JOBS_API_VERSION.into(),
        kind: "Task".into(),
        metadata: ObjectMeta {
            name: name.clone(),
            namespace: namespace.into(),
            self_link: format!("/apis/run.googleapis.com/v1/namespaces/{namespace}/tasks/{name}"),
            uid: task.uid.clone(),
            resource_version: task.etag.trim_matches('"').to_owned(),
            generation: task.generation,
            creation_timestamp: task.create_time.clone(),
            deletion_timestamp: task.delete_time.clone(),
            labels,
            annotations: task.annotations.clone(),
            ..Default::default()
        },
        spec: Some(task_spec_from_v2(&template)),
        status: Some(TaskStatus {
            observed_generation: generation32(task.observed_generation),
            conditions: conditions_from_v2(&task.conditions),
            index: task.index,
            retried: task.retried,
            start_time: task.start_time.clone(),
            completion_time: task.completion_time.clone(),
            last_attempt_result: task
                .last_attempt_result
                .as_ref()
                .map(|r| TaskAttemptResult {
                    exit_code: r.exit_code,
                    term_signal: r.term_signal,
                    status: r.status.clone(),
                }),
            log_uri: task.log_uri.clone(),
        }),
    }
}

/// The v2 `Overrides` of a v1 `RunJobRequest`: `timeoutSeconds` becomes a Duration, env
/// values keep their v1 names. `delayExecution` has no v2 counterpart and is refused when set.
pub fn overrides_to_v2(overrides: &Overrides) -> Result<run_v2::Overrides, Vec<FieldViolation>> {
    // UNCONFIRMED: what Cloud Run does with `delayExecution: true` (the discovery document only
    // names the field); Kumo refuses it rather than run the execution anyway.
    if overrides.delay_execution == Some(true) {
        return Err(vec![FieldViolation {
            field: "overrides.delay_execution".into(),
            description: "Delayed executions are not supported.".into(),
            ..Default::default()
        }]);
    }
    Ok(run_v2::Overrides {
        container_overrides: overrides
            .container_overrides
            .iter()
            .map(|o| run_v2::ContainerOverride {
                name: o.name.clone(),
                args: o.args.clone(),
                env: o.env.iter().map(env_to_v2).collect(),
                clear_args: o.clear_args.unwrap_or(false),
            })
            .collect(),
        task_count: overrides.task_count,
        timeout: overrides
            .timeout_seconds
            .map(|s| Duration::from_secs(i64::from(s)).format()),
    })
}

// ------------------------------------------------------------------------------- revisions

/// Knative `serving.knative.dev/v1` `Revision`, as Cloud Run Admin API v1 returns it from
/// `namespaces.revisions.get|list` (gcloud's `run revisions list|describe` print it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Revision {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<RevisionSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RevisionStatus>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_digest: String,
}

/// Knative's revision labels: the service, configuration and its generation.
pub const LABEL_SERVICE: &str = "serving.knative.dev/service";
pub const LABEL_CONFIGURATION: &str = "serving.knative.dev/configuration";
pub const LABEL_CONFIGURATION_GENERATION: &str = "serving.knative.dev/configurationGeneration";

/// Renders a v2 Revision as the v1 `Revision` (`namespace` = project number): the template
/// fields become annotations and the spec as in a service's template, plus Knative's labels.
pub fn revision_from_v2(rev: &run_v2::Revision, namespace: &str) -> Revision {
    let name = last_segment(&rev.name).to_owned();
    let service = last_segment(&rev.service).to_owned();
    let template = template_from_v2(&run_v2::RevisionTemplate {
        revision: name.clone(),
        labels: rev.labels.clone(),
        annotations: rev.annotations.clone(),
        scaling: rev.scaling.clone(),
        vpc_access: rev.vpc_access.clone(),
        timeout: rev.timeout.clone(),
        service_account: rev.service_account.clone(),
        containers: rev.containers.clone(),
        volumes: rev.volumes.clone(),
        execution_environment: rev.execution_environment,
        encryption_key: rev.encryption_key.clone(),
        max_instance_request_concurrency: rev.max_instance_request_concurrency,
        session_affinity: rev.session_affinity,
        ..run_v2::RevisionTemplate::default()
    });
    let template_meta = template.metadata.unwrap_or_default();
    let mut labels = template_meta.labels;
    if let Some(location) = location_of(&rev.name) {
        labels.insert(LOCATION_LABEL.into(), location.into());
    }
    if !service.is_empty() {
        labels.insert(LABEL_SERVICE.into(), service.clone());
        labels.insert(LABEL_CONFIGURATION.into(), service);
    }
    if let Some(g) = rev.generation {
        labels.insert(LABEL_CONFIGURATION_GENERATION.into(), g.to_string());
    }
    let mut annotations = template_meta.annotations;
    if !rev.creator.is_empty() {
        annotations.insert(ANN_CREATOR.into(), rev.creator.clone());
    }
    if let Some(stage) = rev
        .launch_stage
        .filter(|s| *s != run_v2::LaunchStage::Unspecified)
    {
        annotations.insert(ANN_LAUNCH_STAGE.into(), stage.as_str().into());
    }
    let image_digest = rev
        .containers
        .first()
        .map(|c| c.image.clone())
        .filter(|i| i.contains("@sha256:"))
        .unwrap_or_default();
    Revision {
        api_version: SERVING_API_VERSION.into(),
        kind: "Revision".into(),
        metadata: ObjectMeta {
            name: name.clone(),
            namespace: namespace.into(),
            self_link: format!(
                "/apis/serving.knative.dev/v1/namespaces/{namespace}/revisions/{name}"
            ),
            uid: rev.uid.clone(),
            resource_version: rev.etag.trim_matches('"').to_owned(),
            generation: Some(1),
            creation_timestamp: rev.create_time.clone(),
            deletion_timestamp: rev.delete_time.clone(),
            labels,
            annotations,
            ..Default::default()
        },
        spec: template.spec,
        status: Some(RevisionStatus {
            observed_generation: Some(1),
            conditions: conditions_from_v2(&rev.conditions),
            log_url: rev.log_uri.clone(),
            image_digest,
        }),
    }
}
