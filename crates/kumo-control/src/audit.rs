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
        self.write_audit_with_service_data(event, None);
    }

    /// [`Control::write_audit`] with the method's `serviceData` (for `SetIamPolicy`, the
    /// `policyDelta` from [`policy_delta`]).
    pub fn write_audit_with_service_data(&self, event: AuditEvent, service_data: Option<Value>) {
        let mut entry = self.audit_entry(&event);
        if let (Some(data), Some(payload)) = (service_data, entry["protoPayload"].as_object_mut()) {
            payload.insert("serviceData".into(), data);
        }
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
                    "resourceAttributes": resource_attributes(&record.resource),
                    "permissionType": permission_type(&record.permission),
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
        if let Some(location) = resource_location(event) {
            payload.insert(
                "resourceLocation".into(),
                json!({"currentLocations": [location]}),
            );
        }
        // INVARIANT (no secrets in logs): whatever a caller recorded, key material and tokens
        // are removed here, the one place every audit entry passes through.
        if let Some(request) = &event.request {
            payload.insert("request".into(), redacted(request));
        }
        if let Some(response) = &event.response {
            payload.insert("response".into(), redacted(response));
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

/// `authorizationInfo[].resourceAttributes`: the checked resource as Google's entries describe
/// it, `{service, name, type}` with the Cloud Asset type (seen for projects in GKE's and for
/// functions in Cloud Functions' entries). IAM fills only `name` for a service account (seen in
/// `google.iam.admin.v1.SetIAMPolicy` entries); anything else stays `{}`, as in
/// iamcredentials' entries. UNCONFIRMED: `service` for Cloud Run — the one public capture, of
/// an internal Cloud Run method, reads `run.googleapis.com/` with a trailing slash; Kumo writes
/// the service name as every other API does. UNCONFIRMED: repositories and IAP resources.
pub fn resource_attributes(name: &str) -> Value {
    let segments: Vec<&str> = name.split('/').collect();
    let typed = |service: &str, kind: &str| json!({"service": service, "name": name, "type": format!("{service}/{kind}")});
    const RM: &str = "cloudresourcemanager.googleapis.com";
    const RUN: &str = "run.googleapis.com";
    match segments.as_slice() {
        ["organizations", _] => typed(RM, "Organization"),
        ["folders", _] => typed(RM, "Folder"),
        ["projects", _] => typed(RM, "Project"),
        ["projects", _, "locations", _, "services", _] | ["namespaces", _, "services", _] => {
            typed(RUN, "Service")
        }
        ["projects", _, "locations", _, "jobs", _] | ["namespaces", _, "jobs", _] => {
            typed(RUN, "Job")
        }
        ["projects", _, "locations", _, "repositories", _] => {
            typed("artifactregistry.googleapis.com", "Repository")
        }
        ["projects", _, "serviceAccounts", _] => json!({"name": name}),
        _ => json!({}),
    }
}

/// `authorizationInfo[].permissionType`, the permission's audit category: reads are
/// `ADMIN_READ` (Cloud Run's audit page lists its Get/List/GetIamPolicy methods there, and
/// iamcredentials logs `iam.serviceAccounts.getAccessToken` so), running a job is `DATA_WRITE`
/// (Cloud Run's page: `Jobs.RunJob`), pulling an image `DATA_READ`, every other change
/// `ADMIN_WRITE`. UNCONFIRMED: `downloadArtifacts` and `actAs` (Google keeps the type per
/// permission; Kumo infers it from the verb).
pub fn permission_type(permission: &str) -> &'static str {
    let verb = permission.rsplit('.').next().unwrap_or_default();
    if verb.starts_with("get") || verb.starts_with("list") || verb.starts_with("search") {
        "ADMIN_READ"
    } else if permission.starts_with("run.jobs.run") {
        "DATA_WRITE"
    } else if verb == "downloadArtifacts" {
        "DATA_READ"
    } else {
        "ADMIN_WRITE"
    }
}

/// `protoPayload.resourceLocation.currentLocations`: the region of a located resource — the
/// `locations/L` of its name, else (Cloud Run's v1 `namespaces/…` names) the `location` label
/// of the monitored resource. Cloud Run entries carry it (`["us-central1"]`).
fn resource_location(event: &AuditEvent) -> Option<String> {
    let segments: Vec<&str> = event.resource_name.split('/').collect();
    let from_name = segments
        .windows(2)
        .find(|pair| pair[0] == "locations")
        .map(|pair| pair[1]);
    let from_label = || {
        event
            .resource
            .labels
            .iter()
            .find(|(key, _)| *key == "location")
            .map(|(_, value)| value.as_str())
    };
    from_name
        .or_else(|| {
            (event.service_name == "run.googleapis.com")
                .then(from_label)
                .flatten()
        })
        .filter(|location| !location.is_empty() && *location != "-")
        .map(str::to_owned)
}

/// Whether an entry of `log` for `method_name` records the method's response. Admin Activity
/// entries do; Data Access entries record only the request, except `GetIamPolicy`, whose
/// entry carries the policy read (UNCONFIRMED: seen in Resource Manager captures only).
pub fn logs_response(method_name: &str, log: AuditLog) -> bool {
    match log {
        AuditLog::Activity => true,
        AuditLog::DataAccess => split_method(method_name)
            .1
            .eq_ignore_ascii_case("GetIamPolicy"),
    }
}

/// `SetIamPolicy`, `GetIamPolicy` or `TestIamPermissions` (IAM spells the first two
/// `SetIAMPolicy`/`GetIAMPolicy`), normalised; `None` for any other method.
fn iam_method(method: &str) -> Option<&'static str> {
    ["SetIamPolicy", "GetIamPolicy", "TestIamPermissions"]
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(method))
}

/// One `(role, member, condition)` grant of a policy.
fn grants(policy: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for binding in policy["bindings"].as_array().into_iter().flatten() {
        let role = binding["role"].as_str().unwrap_or_default();
        for member in binding["members"].as_array().into_iter().flatten() {
            out.push((
                role.to_owned(),
                member.as_str().unwrap_or_default().to_owned(),
                binding.get("condition").cloned().unwrap_or(Value::Null),
            ));
        }
    }
    out
}

/// The `serviceData` Google attaches to a `SetIamPolicy` entry: a
/// `google.iam.v1.logging.AuditData` whose `policyDelta.bindingDeltas` list every member added
/// to or removed from a role (what alerting filters such as
/// `protoPayload.serviceData.policyDelta.bindingDeltas.action="ADD"` match). `None` when nothing
/// changed. Deltas are sorted by role, member and action. UNCONFIRMED: Google's order.
pub fn policy_delta(old: &Value, new: &Value) -> Option<Value> {
    let before = grants(old);
    let after = grants(new);
    let mut deltas: Vec<(String, String, &str, Value)> = Vec::new();
    for (action, from, to) in [("REMOVE", &before, &after), ("ADD", &after, &before)] {
        for grant in from {
            if !to.contains(grant) {
                deltas.push((grant.0.clone(), grant.1.clone(), action, grant.2.clone()));
            }
        }
    }
    if deltas.is_empty() {
        return None;
    }
    deltas.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    let binding_deltas: Vec<Value> = deltas
        .into_iter()
        .map(|(role, member, action, condition)| {
            let mut delta = json!({"action": action, "role": role, "member": member});
            if !condition.is_null() {
                delta["condition"] = condition;
            }
            delta
        })
        .collect();
    Some(json!({
        "@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
        "policyDelta": {"bindingDeltas": binding_deltas},
    }))
}

/// Fields whose values are secrets: private key material, tokens, signatures. Google's audit
/// entries never carry them (a `CreateServiceAccountKey` response is logged without
/// `privateKeyData`).
const SECRET_FIELDS: &[&str] = &[
    "privateKeyData",
    "private_key_data",
    "privateKey",
    "private_key",
    "accessToken",
    "access_token",
    "idToken",
    "id_token",
    "refreshToken",
    "refresh_token",
    "token",
    "signedJwt",
    "signedBlob",
    "signature",
    "clientSecret",
    "client_secret",
    "password",
    // The bytes a caller asks IAM Credentials to sign (signJwt, signBlob): user data, which
    // audit requests never carry (Google logs only the account's name).
    "payload",
];

/// `value` without [`SECRET_FIELDS`], at any depth.
pub fn redacted(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(key, _)| !SECRET_FIELDS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), redacted(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// REST methods whose HTTP body is one field of the request message (`body: "service"` in the
/// google.api.http annotation); every other method's body is the whole request (`body: "*"`).
/// From googleapis/googleapis: google/cloud/run/v2/{service,job}.proto,
/// google/cloud/run/v1 (Knative), google/cloud/resourcemanager/v3/{projects,folders}.proto,
/// google/cloud/orgpolicy/v2/orgpolicy.proto, google/devtools/artifactregistry/v1/*.proto,
/// google/iam/admin/v1/iam.proto.
const BODY_FIELDS: &[(&str, &str)] = &[
    ("google.cloud.run.v2.Services.CreateService", "service"),
    ("google.cloud.run.v2.Services.UpdateService", "service"),
    ("google.cloud.run.v2.Jobs.CreateJob", "job"),
    ("google.cloud.run.v2.Jobs.UpdateJob", "job"),
    ("google.cloud.run.v1.Services.CreateService", "service"),
    ("google.cloud.run.v1.Services.ReplaceService", "service"),
    ("google.cloud.run.v1.Jobs.CreateJob", "job"),
    ("google.cloud.run.v1.Jobs.ReplaceJob", "job"),
    (
        "google.cloud.resourcemanager.v3.Projects.CreateProject",
        "project",
    ),
    (
        "google.cloud.resourcemanager.v3.Projects.UpdateProject",
        "project",
    ),
    (
        "google.cloud.resourcemanager.v3.Folders.CreateFolder",
        "folder",
    ),
    (
        "google.cloud.resourcemanager.v3.Folders.UpdateFolder",
        "folder",
    ),
    ("google.cloud.orgpolicy.v2.OrgPolicy.CreatePolicy", "policy"),
    ("google.cloud.orgpolicy.v2.OrgPolicy.UpdatePolicy", "policy"),
    (
        "google.cloud.orgpolicy.v2.OrgPolicy.CreateCustomConstraint",
        "customConstraint",
    ),
    (
        "google.cloud.orgpolicy.v2.OrgPolicy.UpdateCustomConstraint",
        "customConstraint",
    ),
    (
        "google.devtools.artifactregistry.v1.ArtifactRegistry.CreateRepository",
        "repository",
    ),
    (
        "google.devtools.artifactregistry.v1.ArtifactRegistry.UpdateRepository",
        "repository",
    ),
    ("google.iam.admin.v1.UpdateRole", "role"),
];

/// Request fields that carry user data, which an audit entry's `request` never includes
/// (audit_log.proto, `request`): the log entries a `WriteLogEntries` call writes.
/// UNCONFIRMED: what Google records for that call.
const USER_DATA_FIELDS: &[(&str, &str)] = &[(
    "google.logging.v2.LoggingServiceV2.WriteLogEntries",
    "entries",
)];

/// Query parameters that steer the transport, not the method; they are not request fields.
const SYSTEM_PARAMETERS: &[&str] = &[
    "$alt",
    "alt",
    "$.xgafv",
    "prettyPrint",
    "fields",
    "key",
    "access_token",
    "callback",
    "quotaUser",
    "uploadType",
    "upload_protocol",
];

/// The verbs that prefix a method's resource noun (`CreateServiceAccountKey`).
const VERBS: &[&str] = &[
    "Create", "Update", "Replace", "Patch", "Delete", "Undelete", "Move", "Get", "List",
];

/// Splits `google.cloud.run.v2.Services.CreateService` (or IAM's service-less
/// `google.iam.admin.v1.CreateServiceAccountKey`, or bare `SetIamPolicy`) into the proto package
/// and the method.
fn split_method(method_name: &str) -> (String, &str) {
    let parts: Vec<&str> = method_name.split('.').collect();
    let package: Vec<&str> = parts
        .iter()
        .copied()
        .take_while(|part| part.starts_with(|c: char| c.is_ascii_lowercase()))
        .collect();
    let method = parts.last().copied().unwrap_or_default();
    (package.join("."), method)
}

/// The request message's full name, e.g. `google.cloud.run.v2.CreateServiceRequest`.
fn request_type(method_name: &str) -> String {
    let (package, method) = split_method(method_name);
    match iam_method(method) {
        Some(iam) => format!("google.iam.v1.{iam}Request"),
        None if package.is_empty() => format!("{method}Request"),
        None => format!("{package}.{method}Request"),
    }
}

/// The `request` of an audit entry, as Google records it: the request message with `@type`,
/// the resource in the field the method names it by (`resource` for IAM methods, `parent` for
/// creates, `name` otherwise), the query parameters and the body in its field.
pub fn request_payload(
    method_name: &str,
    resource_name: &str,
    query: &[(String, String)],
    body: Option<Value>,
) -> Value {
    let (_, method) = split_method(method_name);
    let mut request = Map::new();
    request.insert(
        "@type".into(),
        json!(format!("type.googleapis.com/{}", request_type(method_name))),
    );
    let identity = match method {
        _ if iam_method(method).is_some() => Some(("resource", resource_name)),
        // A list names the collection's parent (google.longrunning's ListOperations excepted:
        // `name`); a search (SearchProjects) names nothing.
        _ if method.starts_with("List")
            && method != "ListOperations"
            && !resource_name.is_empty() =>
        {
            Some(("parent", resource_name))
        }
        _ if method.starts_with("Search") => None,
        // A create names the new resource, `PARENT/COLLECTION/ID`; its request names the
        // parent. Creates filed under their parent (`CreateServiceAccountKey` under the
        // account) name it as Google's request does, by `name`.
        _ if method.starts_with("Create") && created_collection(method, resource_name) => {
            resource_name
                .rsplitn(3, '/')
                .nth(2)
                .map(|parent| ("parent", parent))
        }
        _ if resource_name.is_empty() => None,
        _ => Some(("name", resource_name)),
    };
    if let Some((field, value)) = identity {
        request.insert(field.into(), json!(value));
    }
    for (key, value) in query {
        if !SYSTEM_PARAMETERS.contains(&key.as_str()) {
            // Query parameters arrive as text; the request message's booleans
            // (`validateOnly`, `allowMissing`) are booleans in its JSON.
            let value = match value.as_str() {
                "true" => json!(true),
                "false" => json!(false),
                other => json!(other),
            };
            request.insert(key.clone(), value);
        }
    }
    match (
        body,
        BODY_FIELDS.iter().find(|(name, _)| *name == method_name),
    ) {
        (Some(body), Some((_, field))) => {
            request.insert((*field).into(), body);
        }
        (Some(Value::Object(fields)), None) => request.extend(fields),
        _ => {}
    }
    for (method, field) in USER_DATA_FIELDS {
        if *method == method_name {
            request.remove(*field);
        }
    }
    Value::Object(request)
}

/// Whether `resource_name` ends in the collection of the resource `method` creates
/// (`CreateService` and `projects/p/locations/l/services/s`).
fn created_collection(method: &str, resource_name: &str) -> bool {
    let noun = method.trim_start_matches("Create");
    let mut segments = resource_name.rsplit('/');
    let (_, collection) = (segments.next(), segments.next().unwrap_or_default());
    collection.eq_ignore_ascii_case(&format!("{noun}s"))
}

/// The `response` of an audit entry: the method's result with its `@type` —
/// `google.iam.v1.Policy` for `SetIamPolicy`, `google.longrunning.Operation` for long-running
/// methods, `google.protobuf.Empty` for empty results, otherwise the resource named by the
/// method (`CreateServiceAccount` → `google.iam.admin.v1.ServiceAccount`).
pub fn response_payload(method_name: &str, result: Value) -> Value {
    let (package, method) = split_method(method_name);
    // A long-running method answers with its Operation (`done`, or a name under
    // `operations/` with `metadata`). UNCONFIRMED: whether Google's entry for such a call
    // records the Operation or the resource it produced; Kumo records what the caller got.
    let under_operations = result
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|name| name.starts_with("operations/") || name.contains("/operations/"));
    let is_operation =
        result.get("done").is_some() || (under_operations && result.get("metadata").is_some());
    let type_name = if matches!(iam_method(method), Some("SetIamPolicy" | "GetIamPolicy")) {
        "google.iam.v1.Policy".to_owned()
    } else if iam_method(method) == Some("TestIamPermissions") {
        "google.iam.v1.TestIamPermissionsResponse".to_owned()
    } else if is_operation {
        "google.longrunning.Operation".to_owned()
    } else if result.as_object().is_some_and(Map::is_empty) {
        "google.protobuf.Empty".to_owned()
    } else {
        let noun = VERBS
            .iter()
            .find_map(|verb| method.strip_prefix(verb))
            .filter(|noun| !noun.is_empty())
            .unwrap_or(method);
        format!("{package}.{noun}")
    };
    let mut response = Map::new();
    response.insert(
        "@type".into(),
        json!(format!("type.googleapis.com/{type_name}")),
    );
    if let Value::Object(fields) = result {
        response.extend(fields);
    }
    Value::Object(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_payloads_follow_the_proto_request_messages() {
        let policy = json!({"policy": {"bindings": [{"role": "roles/viewer", "members": ["user:a@example.com"]}], "etag": "BwY="}});
        assert_eq!(
            request_payload(
                "SetIamPolicy",
                "projects/p",
                &[("$alt".into(), "json;enum-encoding=int".into())],
                Some(policy.clone())
            ),
            json!({"@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest",
                "resource": "projects/p", "policy": policy["policy"]})
        );
        assert_eq!(
            request_payload(
                "google.cloud.run.v2.Services.CreateService",
                "projects/p/locations/l/services/s",
                &[("serviceId".into(), "s".into())],
                Some(json!({"template": {"containers": [{"image": "i"}]}}))
            ),
            json!({"@type": "type.googleapis.com/google.cloud.run.v2.CreateServiceRequest",
                "parent": "projects/p/locations/l", "serviceId": "s",
                "service": {"template": {"containers": [{"image": "i"}]}}})
        );
        assert_eq!(
            request_payload(
                "google.iam.admin.v1.CreateServiceAccountKey",
                "projects/p/serviceAccounts/a@p.iam.gserviceaccount.com",
                &[],
                None
            ),
            json!({"@type": "type.googleapis.com/google.iam.admin.v1.CreateServiceAccountKeyRequest",
                "name": "projects/p/serviceAccounts/a@p.iam.gserviceaccount.com"})
        );
        assert_eq!(
            request_payload(
                "google.cloud.run.v2.Services.DeleteService",
                "projects/p/locations/l/services/s",
                &[],
                None
            ),
            json!({"@type": "type.googleapis.com/google.cloud.run.v2.DeleteServiceRequest",
                "name": "projects/p/locations/l/services/s"})
        );
    }

    #[test]
    fn read_requests_name_the_parent_of_a_list_and_nothing_for_a_search() {
        assert_eq!(
            request_payload(
                "google.cloud.run.v2.Services.ListServices",
                "projects/p/locations/l",
                &[("pageSize".into(), "5".into())],
                None
            ),
            json!({"@type": "type.googleapis.com/google.cloud.run.v2.ListServicesRequest",
                "parent": "projects/p/locations/l", "pageSize": "5"})
        );
        assert_eq!(
            request_payload(
                "google.cloud.resourcemanager.v3.Projects.SearchProjects",
                "",
                &[("query".into(), "id:p*".into())],
                None
            ),
            json!({"@type": "type.googleapis.com/google.cloud.resourcemanager.v3.SearchProjectsRequest",
                "query": "id:p*"})
        );
        // IAM admin spells the policy methods in capitals; the request is google.iam.v1's.
        assert_eq!(
            request_payload(
                "google.iam.admin.v1.GetIAMPolicy",
                "projects/p/serviceAccounts/a@p.iam.gserviceaccount.com",
                &[],
                Some(json!({"options": {"requestedPolicyVersion": 3}}))
            ),
            json!({"@type": "type.googleapis.com/google.iam.v1.GetIamPolicyRequest",
                "resource": "projects/p/serviceAccounts/a@p.iam.gserviceaccount.com",
                "options": {"requestedPolicyVersion": 3}})
        );
        assert_eq!(
            response_payload("google.iam.admin.v1.GetIAMPolicy", json!({"etag": "ACAB"}))["@type"],
            "type.googleapis.com/google.iam.v1.Policy"
        );
    }

    #[test]
    fn data_access_entries_log_a_response_only_for_get_iam_policy() {
        assert!(logs_response(
            "google.cloud.run.v2.Services.GetService",
            AuditLog::Activity
        ));
        assert!(!logs_response(
            "google.cloud.run.v2.Services.GetService",
            AuditLog::DataAccess
        ));
        assert!(logs_response("GetIamPolicy", AuditLog::DataAccess));
        assert!(logs_response(
            "google.iam.admin.v1.GetIAMPolicy",
            AuditLog::DataAccess
        ));
        assert!(!logs_response(
            "google.cloud.run.v2.Services.ListServices",
            AuditLog::DataAccess
        ));
    }

    #[test]
    fn authorization_resources_are_described_by_service_name_and_type() {
        assert_eq!(
            resource_attributes("projects/p/locations/us-central1/services/s"),
            json!({"service": "run.googleapis.com",
                "name": "projects/p/locations/us-central1/services/s",
                "type": "run.googleapis.com/Service"})
        );
        assert_eq!(
            resource_attributes("namespaces/p/jobs/j")["type"],
            "run.googleapis.com/Job"
        );
        assert_eq!(
            resource_attributes("projects/p"),
            json!({"service": "cloudresourcemanager.googleapis.com", "name": "projects/p",
                "type": "cloudresourcemanager.googleapis.com/Project"})
        );
        assert_eq!(
            resource_attributes("organizations/1")["type"],
            "cloudresourcemanager.googleapis.com/Organization"
        );
        assert_eq!(
            resource_attributes("projects/p/serviceAccounts/a@p.iam.gserviceaccount.com"),
            json!({"name": "projects/p/serviceAccounts/a@p.iam.gserviceaccount.com"})
        );
        assert_eq!(
            resource_attributes("projects/-/serviceAccounts/a@p.iam.gserviceaccount.com/keys/k"),
            json!({})
        );
        assert_eq!(permission_type("run.services.get"), "ADMIN_READ");
        assert_eq!(
            permission_type("resourcemanager.projects.getIamPolicy"),
            "ADMIN_READ"
        );
        assert_eq!(permission_type("run.services.list"), "ADMIN_READ");
        assert_eq!(permission_type("run.services.create"), "ADMIN_WRITE");
        assert_eq!(permission_type("run.jobs.run"), "DATA_WRITE");
        assert_eq!(permission_type("run.jobs.runWithOverrides"), "DATA_WRITE");
    }

    fn event(service_name: &'static str, resource_name: &str, location: &str) -> AuditEvent {
        AuditEvent {
            service_name,
            method_name: "m".into(),
            resource_name: resource_name.into(),
            log_parent: "projects/p".into(),
            log: AuditLog::DataAccess,
            resource: MonitoredResource {
                kind: "cloud_run_revision",
                labels: vec![("location", location.into())],
            },
            caller: Caller::Anonymous,
            authorizations: Vec::new(),
            status: Ok(()),
            request: None,
            response: None,
            caller_ip: None,
            user_agent: None,
        }
    }

    #[test]
    fn located_resources_name_their_region() {
        let at = |service, name, label| resource_location(&event(service, name, label));
        assert_eq!(
            at(
                "run.googleapis.com",
                "projects/p/locations/europe-west1/services/s",
                ""
            ),
            Some("europe-west1".into())
        );
        assert_eq!(
            at(
                "run.googleapis.com",
                "namespaces/p/services/s",
                "us-central1"
            ),
            Some("us-central1".into())
        );
        assert_eq!(
            at("cloudresourcemanager.googleapis.com", "projects/p", "x"),
            None
        );
        assert_eq!(at("run.googleapis.com", "projects/p/locations/-", ""), None);
    }

    #[test]
    fn policy_deltas_list_added_and_removed_members() {
        let old = json!({"bindings": [
            {"role": "roles/owner", "members": ["user:alice@example.com", "user:bob@example.com"]},
            {"role": "roles/viewer", "members": ["user:carol@example.com"],
             "condition": {"title": "t", "expression": "true"}},
        ]});
        let new = json!({"bindings": [
            {"role": "roles/owner", "members": ["user:alice@example.com"]},
            {"role": "roles/run.invoker", "members": ["user:bob@example.com"]},
        ]});
        assert_eq!(
            policy_delta(&old, &new),
            Some(json!({
                "@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
                "policyDelta": {"bindingDeltas": [
                    {"action": "REMOVE", "role": "roles/owner", "member": "user:bob@example.com"},
                    {"action": "ADD", "role": "roles/run.invoker", "member": "user:bob@example.com"},
                    {"action": "REMOVE", "role": "roles/viewer", "member": "user:carol@example.com",
                     "condition": {"title": "t", "expression": "true"}},
                ]},
            }))
        );
        assert_eq!(policy_delta(&new, &new), None);
    }

    #[test]
    fn response_payloads_are_typed_and_never_carry_secrets() {
        assert_eq!(
            response_payload("SetIamPolicy", json!({"bindings": [], "etag": "BwY="}))["@type"],
            "type.googleapis.com/google.iam.v1.Policy"
        );
        assert_eq!(
            response_payload(
                "google.cloud.run.v2.Services.CreateService",
                json!({"name": "projects/p/locations/l/operations/o", "metadata": {}, "done": false})
            )["@type"],
            "type.googleapis.com/google.longrunning.Operation"
        );
        assert_eq!(
            response_payload(
                "google.cloud.run.v1.Services.ReplaceService",
                json!({"kind": "Service"})
            )["@type"],
            "type.googleapis.com/google.cloud.run.v1.Service"
        );
        assert_eq!(
            response_payload("google.iam.admin.v1.DisableServiceAccount", json!({}))["@type"],
            "type.googleapis.com/google.protobuf.Empty"
        );
        let key = response_payload(
            "google.iam.admin.v1.CreateServiceAccountKey",
            json!({"name": "projects/p/serviceAccounts/a/keys/k", "privateKeyData": "c2VjcmV0",
                "privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE"}),
        );
        assert_eq!(
            key["@type"],
            "type.googleapis.com/google.iam.admin.v1.ServiceAccountKey"
        );
        let logged = redacted(&key);
        assert!(logged.get("privateKeyData").is_none());
        assert_eq!(logged["privateKeyType"], "TYPE_GOOGLE_CREDENTIALS_FILE");
        assert_eq!(
            redacted(&json!({"a": [{"accessToken": "t", "expireTime": "x"}]})),
            json!({"a": [{"expireTime": "x"}]})
        );
    }
}
