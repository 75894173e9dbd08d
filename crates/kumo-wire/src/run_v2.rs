//! `google.cloud.run.v2`: Services, Revisions, Jobs, Executions and Tasks (proto3 JSON).
//! Timestamps and Durations are kept as their JSON strings so documents round-trip byte-exact;
//! use `protobuf::{parse_timestamp, Duration::parse}` to interpret them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protobuf::is_false;

type Map = BTreeMap<String, String>;

wire_enum! {
    /// `google.api.LaunchStage`.
    pub enum LaunchStage {
        Unspecified = 0 => "LAUNCH_STAGE_UNSPECIFIED",
        Unimplemented = 6 => "UNIMPLEMENTED",
        Prelaunch = 7 => "PRELAUNCH",
        EarlyAccess = 1 => "EARLY_ACCESS",
        Alpha = 2 => "ALPHA",
        Beta = 3 => "BETA",
        Ga = 4 => "GA",
        Deprecated = 5 => "DEPRECATED",
    }
}

wire_enum! {
    pub enum IngressTraffic {
        Unspecified = 0 => "INGRESS_TRAFFIC_UNSPECIFIED",
        All = 1 => "INGRESS_TRAFFIC_ALL",
        InternalOnly = 2 => "INGRESS_TRAFFIC_INTERNAL_ONLY",
        InternalLoadBalancer = 3 => "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
        None = 4 => "INGRESS_TRAFFIC_NONE",
    }
}

wire_enum! {
    pub enum ExecutionEnvironment {
        Unspecified = 0 => "EXECUTION_ENVIRONMENT_UNSPECIFIED",
        Gen1 = 1 => "EXECUTION_ENVIRONMENT_GEN1",
        Gen2 = 2 => "EXECUTION_ENVIRONMENT_GEN2",
    }
}

wire_enum! {
    pub enum EncryptionKeyRevocationAction {
        Unspecified = 0 => "ENCRYPTION_KEY_REVOCATION_ACTION_UNSPECIFIED",
        PreventNew = 1 => "PREVENT_NEW",
        Shutdown = 2 => "SHUTDOWN",
    }
}

wire_enum! {
    pub enum TrafficTargetAllocationType {
        Unspecified = 0 => "TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED",
        Latest = 1 => "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST",
        Revision = 2 => "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
    }
}

wire_enum! {
    /// `VpcAccess.VpcEgress`.
    pub enum VpcEgress {
        Unspecified = 0 => "VPC_EGRESS_UNSPECIFIED",
        AllTraffic = 1 => "ALL_TRAFFIC",
        PrivateRangesOnly = 2 => "PRIVATE_RANGES_ONLY",
    }
}

wire_enum! {
    /// `ServiceScaling.ScalingMode`.
    pub enum ScalingMode {
        Unspecified = 0 => "SCALING_MODE_UNSPECIFIED",
        Automatic = 1 => "AUTOMATIC",
        Manual = 2 => "MANUAL",
    }
}

wire_enum! {
    /// `Condition.State`.
    pub enum ConditionState {
        Unspecified = 0 => "STATE_UNSPECIFIED",
        Pending = 1 => "CONDITION_PENDING",
        Reconciling = 2 => "CONDITION_RECONCILING",
        Failed = 3 => "CONDITION_FAILED",
        Succeeded = 4 => "CONDITION_SUCCEEDED",
    }
}

wire_enum! {
    /// `Condition.Severity`.
    pub enum ConditionSeverity {
        Unspecified = 0 => "SEVERITY_UNSPECIFIED",
        Error = 1 => "ERROR",
        Warning = 2 => "WARNING",
        Info = 3 => "INFO",
    }
}

wire_enum! {
    /// `Condition.CommonReason`.
    pub enum CommonReason {
        Undefined = 0 => "COMMON_REASON_UNDEFINED",
        Unknown = 1 => "UNKNOWN",
        RevisionFailed = 3 => "REVISION_FAILED",
        ProgressDeadlineExceeded = 4 => "PROGRESS_DEADLINE_EXCEEDED",
        ContainerMissing = 6 => "CONTAINER_MISSING",
        ContainerPermissionDenied = 7 => "CONTAINER_PERMISSION_DENIED",
        ContainerImageUnauthorized = 8 => "CONTAINER_IMAGE_UNAUTHORIZED",
        ContainerImageAuthorizationCheckFailed = 9 => "CONTAINER_IMAGE_AUTHORIZATION_CHECK_FAILED",
        EncryptionKeyPermissionDenied = 10 => "ENCRYPTION_KEY_PERMISSION_DENIED",
        EncryptionKeyCheckFailed = 11 => "ENCRYPTION_KEY_CHECK_FAILED",
        SecretsAccessCheckFailed = 12 => "SECRETS_ACCESS_CHECK_FAILED",
        WaitingForOperation = 13 => "WAITING_FOR_OPERATION",
        ImmediateRetry = 14 => "IMMEDIATE_RETRY",
        PostponedRetry = 15 => "POSTPONED_RETRY",
        Internal = 16 => "INTERNAL",
        VpcNetworkNotFound = 17 => "VPC_NETWORK_NOT_FOUND",
    }
}

wire_enum! {
    /// `Condition.RevisionReason`.
    pub enum RevisionReason {
        Undefined = 0 => "REVISION_REASON_UNDEFINED",
        Pending = 1 => "PENDING",
        Reserve = 2 => "RESERVE",
        Retired = 3 => "RETIRED",
        Retiring = 4 => "RETIRING",
        Recreating = 5 => "RECREATING",
        HealthCheckContainerError = 6 => "HEALTH_CHECK_CONTAINER_ERROR",
        CustomizedPathResponsePending = 7 => "CUSTOMIZED_PATH_RESPONSE_PENDING",
        MinInstancesNotProvisioned = 8 => "MIN_INSTANCES_NOT_PROVISIONED",
        ActiveRevisionLimitReached = 9 => "ACTIVE_REVISION_LIMIT_REACHED",
        NoDeployment = 10 => "NO_DEPLOYMENT",
        HealthCheckSkipped = 11 => "HEALTH_CHECK_SKIPPED",
        MinInstancesWarming = 12 => "MIN_INSTANCES_WARMING",
    }
}

wire_enum! {
    /// `Condition.ExecutionReason`.
    pub enum ExecutionReason {
        Undefined = 0 => "EXECUTION_REASON_UNDEFINED",
        JobStatusServicePollingError = 1 => "JOB_STATUS_SERVICE_POLLING_ERROR",
        NonZeroExitCode = 2 => "NON_ZERO_EXIT_CODE",
        Cancelled = 3 => "CANCELLED",
        Cancelling = 4 => "CANCELLING",
        Deleted = 5 => "DELETED",
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub creator: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_modifier: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressTraffic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_stage: Option<LaunchStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_authorization: Option<BinaryAuthorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<RevisionTemplate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<TrafficTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<ServiceScaling>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub invoker_iam_disabled: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub default_uri_disabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub iap_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_settings: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_audiences: Vec<String>,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_condition: Option<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub latest_ready_revision: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub latest_created_revision: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic_statuses: Vec<TrafficTargetStatus>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub satisfies_pzs: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub threat_detection_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reconciling: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionTemplate {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<RevisionScaling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_access: Option<VpcAccess>,
    /// Duration string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_environment: Option<ExecutionEnvironment>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub encryption_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instance_request_concurrency: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_mesh: Option<ServiceMesh>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_revocation_action: Option<EncryptionKeyRevocationAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_shutdown_duration: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub session_affinity: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub health_check_disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<NodeSelector>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub gpu_zonal_redundancy_disabled: bool,
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_image_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_info: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_source: Option<EnvVarSource>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVarSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeySelector {
    pub secret: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRequirements {
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub limits: Map,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cpu_idle: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub startup_cpu_boost: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_sql_instance: Option<CloudSqlInstance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs: Option<NfsVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsVolumeSource>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretVolumeSource {
    pub secret: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<VersionToPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionToPath {
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudSqlInstance {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
}

wire_enum! {
    /// `EmptyDirVolumeSource.Medium`.
    pub enum EmptyDirMedium {
        Unspecified = 0 => "MEDIUM_UNSPECIFIED",
        Memory = 1 => "MEMORY",
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmptyDirVolumeSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<EmptyDirMedium>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub size_limit: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NfsVolumeSource {
    pub server: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcsVolumeSource {
    pub bucket: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mount_options: Vec<String>,
}

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
    pub http_get: Option<HttpGetAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcAction>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpGetAction {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeader {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSocketAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionScaling {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_instance_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instance_count: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceScaling {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_instance_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_mode: Option<ScalingMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instance_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_instance_count: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcAccess {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub connector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<VpcEgress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<NetworkInterface>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkInterface {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnetwork: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceMesh {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mesh: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSelector {
    pub accelerator: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BinaryAuthorization {
    #[serde(default, skip_serializing_if = "is_false")]
    pub use_default: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub breakglass_justification: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficTarget {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<TrafficTargetAllocationType>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficTargetStatus {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<TrafficTargetAllocationType>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ConditionState>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<ConditionSeverity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<CommonReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_reason: Option<RevisionReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_reason: Option<ExecutionReason>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Revision {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_stage: Option<LaunchStage>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<RevisionScaling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_access: Option<VpcAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instance_request_concurrency: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_environment: Option<ExecutionEnvironment>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub encryption_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_mesh: Option<ServiceMesh>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_revocation_action: Option<EncryptionKeyRevocationAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_shutdown_duration: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reconciling: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_uri: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub satisfies_pzs: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub session_affinity: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_status: Option<RevisionScalingStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<NodeSelector>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub gpu_zonal_redundancy_disabled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub creator: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionScalingStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_min_instance_count: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Job {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub creator: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_modifier: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_stage: Option<LaunchStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_authorization: Option<BinaryAuthorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExecutionTemplate>,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_condition: Option<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_created_execution: Option<ExecutionReference>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reconciling: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub satisfies_pzs: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_execution_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run_execution_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionTemplate {
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TaskTemplate>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskTemplate {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_environment: Option<ExecutionEnvironment>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub encryption_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_access: Option<VpcAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<NodeSelector>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub gpu_zonal_redundancy_disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_status: Option<CompletionStatus>,
}

wire_enum! {
    /// `ExecutionReference.CompletionStatus`.
    pub enum CompletionStatus {
        Unspecified = 0 => "COMPLETION_STATUS_UNSPECIFIED",
        ExecutionSucceeded = 1 => "EXECUTION_SUCCEEDED",
        ExecutionFailed = 2 => "EXECUTION_FAILED",
        ExecutionRunning = 3 => "EXECUTION_RUNNING",
        ExecutionPending = 4 => "EXECUTION_PENDING",
        ExecutionCancelled = 5 => "EXECUTION_CANCELLED",
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Execution {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub creator: String,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_stage: Option<LaunchStage>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TaskTemplate>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reconciling: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub observed_generation: Option<i64>,
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
    #[serde(default, skip_serializing_if = "is_false")]
    pub satisfies_pzs: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Task {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub execution: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_environment: Option<ExecutionEnvironment>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reconciling: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(
        default,
        with = "crate::protobuf::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_result: Option<TaskAttemptResult>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub encryption_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_access: Option<VpcAccess>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_uri: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub satisfies_pzs: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<NodeSelector>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub gpu_zonal_redundancy_disabled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskAttemptResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::rpc::Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_signal: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunJobRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub validate_only: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
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
    #[serde(default, skip_serializing_if = "is_false")]
    pub clear_args: bool,
}

macro_rules! list_response {
    ($name:ident, $field:ident, $ty:ty) => {
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub $field: Vec<$ty>,
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub next_page_token: String,
        }
    };
}

list_response!(ListServicesResponse, services, Service);
list_response!(ListRevisionsResponse, revisions, Revision);
list_response!(ListJobsResponse, jobs, Job);
list_response!(ListExecutionsResponse, executions, Execution);
list_response!(ListTasksResponse, tasks, Task);
