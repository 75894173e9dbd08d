//! Cloud Audit Logs: every API call writes one `LogEntry` in Google's shape — Admin Activity for
//! writes, Data Access for reads — with `protoPayload` of type `google.cloud.audit.AuditLog`
//! (cloudrun-security-spec.md §8.1). Entries go to the store's log and are queried through the
//! Logging API like any other entry.

use serde_json::{Map, Value, json};

use crate::{AuthorizationRecord, Caller, Control, Error};

/// Which audit log an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditLog {
    /// `cloudaudit.googleapis.com/activity`: writes and IAM changes.
    Activity,
    /// `cloudaudit.googleapis.com/data_access`: reads.
    DataAccess,
}

/// The monitored resource an entry is filed under (`resource.type` and `resource.labels`).
#[derive(Debug, Clone)]
pub struct MonitoredResource {
    /// `cloud_run_revision`, `cloud_run_job`, `project`, `service_account`, `audited_resource`, …
    pub kind: &'static str,
    /// The labels, e.g. `project_id`, `service_name`, `location`.
    pub labels: Vec<(&'static str, String)>,
}

/// One audited API call.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// `run.googleapis.com`, `iam.googleapis.com`, …
    pub service_name: &'static str,
    /// `google.cloud.run.v2.Services.CreateService`.
    pub method_name: String,
    /// The resource the call is about, as the API names it.
    pub resource_name: String,
    /// The project whose log receives the entry; `None` files it under the organization.
    pub log_parent: String,
    /// Activity or data access.
    pub log: AuditLog,
    /// The monitored resource.
    pub resource: MonitoredResource,
    /// Who called.
    pub caller: Caller,
    /// The decisions taken for the call.
    pub authorizations: Vec<AuthorizationRecord>,
    /// The outcome.
    pub status: Result<(), Error>,
    /// The request, as a Struct with `@type` where known.
    pub request: Option<Value>,
    /// The response, as a Struct with `@type` where known.
    pub response: Option<Value>,
    /// Caller IP and user agent, when the transport knows them.
    pub caller_ip: Option<String>,
    /// `callerSuppliedUserAgent`.
    pub user_agent: Option<String>,
}

impl Control {
    /// Writes the audit entry for a call. Failing to write an audit entry is logged, not
    /// returned: the call itself has already been decided.
    pub fn write_audit(&self, event: AuditEvent) {
        let entry = self.audit_entry(&event);
        if let Err(error) = self.store().append_log(&[entry]) {
            tracing::error!(%error, "could not write audit entry");
        }
    }

    /// The `LogEntry` JSON of an audited call.
    pub fn audit_entry(&self, event: &AuditEvent) -> Value {
        let now = self
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let log_id = match event.log {
            AuditLog::Activity => "cloudaudit.googleapis.com%2Factivity",
            AuditLog::DataAccess => "cloudaudit.googleapis.com%2Fdata_access",
        };
        let (severity, status) = match &event.status {
            Ok(()) => ("NOTICE", json!({})),
            Err(error) => {
                let (code, _) = error.rpc_code();
                (
                    "ERROR",
                    json!({"code": code, "message": error.public_message()}),
                )
            }
        };
        let severity = if event.log == AuditLog::DataAccess && event.status.is_ok() {
            "INFO"
        } else {
            severity
        };
        let mut authentication = Map::new();
        if let Some(email) = event.caller.email() {
            authentication.insert("principalEmail".into(), json!(email));
        }
        if let Some(member) = event.caller.member() {
            authentication.insert("principalSubject".into(), json!(member));
        }
        let authorization: Vec<Value> = event
            .authorizations
            .iter()
            .map(|record| {
                json!({
                    "resource": record.resource,
                    "permission": record.permission,
                    "granted": record.granted,
                    "resourceAttributes": {},
                })
            })
            .collect();
        let mut payload = Map::new();
        payload.insert(
            "@type".into(),
            json!("type.googleapis.com/google.cloud.audit.AuditLog"),
        );
        payload.insert("status".into(), status);
        payload.insert("authenticationInfo".into(), Value::Object(authentication));
        let mut request_metadata = Map::new();
        if let Some(ip) = &event.caller_ip {
            request_metadata.insert("callerIp".into(), json!(ip));
        }
        if let Some(agent) = &event.user_agent {
            request_metadata.insert("callerSuppliedUserAgent".into(), json!(agent));
        }
        request_metadata.insert("requestAttributes".into(), json!({"time": now, "auth": {}}));
        payload.insert("requestMetadata".into(), Value::Object(request_metadata));
        payload.insert("serviceName".into(), json!(event.service_name));
        payload.insert("methodName".into(), json!(event.method_name));
        payload.insert("authorizationInfo".into(), Value::Array(authorization));
        payload.insert("resourceName".into(), json!(event.resource_name));
        if let Some(request) = &event.request {
            payload.insert("request".into(), request.clone());
        }
        if let Some(response) = &event.response {
            payload.insert("response".into(), response.clone());
        }
        let labels: Map<String, Value> = event
            .resource
            .labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), json!(value)))
            .collect();
        json!({
            "protoPayload": payload,
            "insertId": uuid::Uuid::new_v4().simple().to_string(),
            "resource": {"type": event.resource.kind, "labels": labels},
            "timestamp": now,
            "receiveTimestamp": now,
            "severity": severity,
            "logName": format!("{}/logs/{log_id}", event.log_parent),
        })
    }
}
