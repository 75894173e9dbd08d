//! IAM allow policies on any resource: `getIamPolicy`, `setIamPolicy`, `testIamPermissions` as
//! every Google API exposes them, plus the system-level [`Control::grant_roles`]. Each API calls
//! these with its own permissions (`run.services.getIamPolicy`, …).
//!
//! Policies are persisted in Google's JSON shape (`version`, `bindings`, `auditConfigs`); the
//! record's revision is the etag, encoded as standard base64 because clients decode it as bytes
//! and send it back re-encoded (real-clients.md §1.2).

use base64::Engine as _;
use kumo_store::Write;
use serde_json::{Value, json};

use crate::records::Collection;
use crate::{Call, Control, Error, ResourceRef};

/// Google's etag of a resource that has never had a policy.
pub const EMPTY_POLICY_ETAG: &str = "ACAB";

/// Google's text for a stale etag on `setIamPolicy`.
pub const CONCURRENT_CHANGE: &str = "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.";

/// The etag of a stored policy at `revision`.
pub fn etag_of(revision: u64) -> String {
    let mut bytes = revision.to_be_bytes();
    // A leading 0x07 makes the etag look like Google's (`BwX…`) without losing any revision bit
    // that a realistic store reaches.
    bytes[0] = 0x07;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The policy attached to a resource and the revision it was read at (0 = none).
#[derive(Debug, Clone)]
pub struct StoredPolicy {
    /// Google's JSON shape, without `etag`.
    pub policy: Value,
    /// The record revision, 0 when the resource has no policy yet.
    pub revision: u64,
}

impl StoredPolicy {
    /// The etag clients see.
    pub fn etag(&self) -> String {
        if self.revision == 0 {
            EMPTY_POLICY_ETAG.to_owned()
        } else {
            etag_of(self.revision)
        }
    }

    /// The wire policy with its etag, rendered at the version the caller can read.
    pub fn to_wire(&self, requested_version: i64) -> Value {
        let mut policy = self.policy.clone();
        let has_conditions = policy["bindings"].as_array().is_some_and(|bindings| {
            bindings
                .iter()
                .any(|binding| binding.get("condition").is_some())
        });
        let version = if has_conditions && requested_version >= 3 {
            3
        } else {
            1
        };
        policy["version"] = json!(version);
        policy["etag"] = json!(self.etag());
        if policy["bindings"].as_array().is_some_and(Vec::is_empty)
            && let Some(object) = policy.as_object_mut()
        {
            object.remove("bindings");
        }
        policy
    }
}

impl Control {
    /// Reads the policy attached to `resource` (no authorization).
    pub fn stored_policy(&self, resource: &ResourceRef) -> Result<StoredPolicy, Error> {
        match self.load::<Value>(Collection::IamPolicies, &resource.full_name())? {
            Some(stored) => Ok(StoredPolicy {
                policy: stored.value,
                revision: stored.record.revision,
            }),
            None => Ok(StoredPolicy {
                policy: json!({"version": 1, "bindings": []}),
                revision: 0,
            }),
        }
    }

    /// `getIamPolicy`: needs `permission` on the resource. Conditional bindings are only shown to
    /// callers that request version 3 (Google hides them otherwise, see semantics §1.4).
    pub fn get_iam_policy(
        &self,
        call: &Call,
        resource: &ResourceRef,
        permission: &str,
        requested_version: i64,
    ) -> Result<Value, Error> {
        if ![0, 1, 3].contains(&requested_version) {
            return Err(Error::invalid_field(
                "options.requestedPolicyVersion",
                format!(
                    "Invalid requested policy version: {requested_version}. Valid versions are 0, 1 and 3."
                ),
            ));
        }
        self.authorize(call, permission, resource)?;
        let stored = self.stored_policy(resource)?;
        let has_conditions = stored.policy["bindings"]
            .as_array()
            .is_some_and(|bindings| {
                bindings
                    .iter()
                    .any(|binding| binding.get("condition").is_some())
            });
        if has_conditions && requested_version < 3 {
            return Err(Error::invalid(format!(
                "The policy of {} contains conditional role bindings; request policy version 3 to read it.",
                resource.relative_name()
            )));
        }
        Ok(stored.to_wire(requested_version))
    }

    /// `setIamPolicy`: replaces the bindings (and `auditConfigs` when `update_mask` names them),
    /// after validation, the etag check and organization-policy checks. Needs `permission`.
    pub fn set_iam_policy(
        &self,
        call: &Call,
        resource: &ResourceRef,
        permission: &str,
        policy: &Value,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        self.authorize(call, permission, resource)?;
        let validated = self.validate_policy(policy)?;
        self.check_custom_role_scope(resource, &validated)?;
        self.check_member_domains(resource, &validated)?;
        let current = self.stored_policy(resource)?;
        if let Some(etag) = policy.get("etag").and_then(Value::as_str)
            && etag != current.etag()
        {
            return Err(Error::aborted(CONCURRENT_CHANGE));
        }
        let mut next = json!({"bindings": validated["bindings"].clone()});
        let mask: Vec<&str> = update_mask
            .unwrap_or("bindings,etag")
            .split(',')
            .map(str::trim)
            .collect();
        next["auditConfigs"] = if mask.contains(&"auditConfigs") || mask.contains(&"audit_configs")
        {
            validated
                .get("auditConfigs")
                .cloned()
                .unwrap_or_else(|| json!([]))
        } else {
            current
                .policy
                .get("auditConfigs")
                .cloned()
                .unwrap_or_else(|| json!([]))
        };
        if next["auditConfigs"].as_array().is_some_and(Vec::is_empty)
            && let Some(object) = next.as_object_mut()
        {
            object.remove("auditConfigs");
        }
        next["version"] = validated["version"].clone();
        let revision = self.write_policy(resource, next.clone(), current.revision)?;
        Ok(StoredPolicy {
            policy: next,
            revision,
        }
        .to_wire(3))
    }

    /// `testIamPermissions`: the subset of `permissions` the caller holds on the resource. Google
    /// requires no permission to ask.
    pub fn test_iam_permissions(
        &self,
        call: &Call,
        resource: &ResourceRef,
        permissions: &[String],
    ) -> Result<Vec<String>, Error> {
        for permission in permissions {
            if permission.contains('*') || permission.split('.').count() != 3 {
                return Err(Error::invalid_field(
                    "permissions",
                    format!("Permission {permission} is not valid."),
                ));
            }
        }
        let mut held = Vec::new();
        for permission in permissions {
            if self.has_permission(&call.caller, permission, resource)? {
                held.push(permission.clone());
            }
        }
        Ok(held)
    }

    /// Adds bindings as the system (project creation, bootstrap, `--allow-unauthenticated`'s
    /// server-side equivalents never use this: they go through `set_iam_policy`).
    pub fn grant_roles(
        &self,
        resource: &ResourceRef,
        grants: &[(&str, String)],
    ) -> Result<(), Error> {
        for _attempt in 0..16 {
            let current = self.stored_policy(resource)?;
            let mut policy = current.policy.clone();
            let mut bindings = policy["bindings"].as_array().cloned().unwrap_or_default();
            for (role, member) in grants {
                match bindings.iter_mut().find(|binding| {
                    binding["role"] == json!(role) && binding.get("condition").is_none()
                }) {
                    Some(binding) => {
                        let members = binding["members"].as_array_mut();
                        if let Some(members) = members
                            && !members.iter().any(|existing| existing == &json!(member))
                        {
                            members.push(json!(member));
                        }
                    }
                    None => bindings.push(json!({"role": role, "members": [member]})),
                }
            }
            // Stored in the form setIamPolicy stores (sorted, merged), as Google keeps them.
            let mut parsed = parse_policy(&json!({"bindings": bindings}))?;
            parsed.canonicalize();
            policy["bindings"] = Value::Array(bindings_json(&parsed));
            match self.write_policy(resource, policy, current.revision) {
                Ok(_) => return Ok(()),
                Err(Error::Aborted { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::aborted(CONCURRENT_CHANGE))
    }

    /// The writes that replace `from` by `to` in the bindings of every stored allow policy
    /// (projects, folders, organizations, services, jobs, service accounts, repositories, IAP
    /// resources: they all live in one collection), each guarded by the revision it was read at.
    /// A binding that already names `to` just loses `from`. Used when a service account is
    /// deleted (`serviceAccount:E` → `deleted:serviceAccount:E?uid=U`) and undeleted (back).
    pub(crate) fn member_rewrites(&self, from: &str, to: &str) -> Result<Vec<Write>, Error> {
        let records = self.list_under(Collection::IamPolicies, kumo_store::ParentFilter::Any)?;
        let mut writes = Vec::new();
        for record in records {
            let mut policy = record.data.clone();
            let mut changed = false;
            for binding in policy["bindings"].as_array_mut().into_iter().flatten() {
                let Some(members) = binding["members"].as_array_mut() else {
                    continue;
                };
                if !members.iter().any(|member| member == from) {
                    continue;
                }
                changed = true;
                let has_target = members.iter().any(|member| member == to);
                members.retain(|member| member != from);
                if !has_target {
                    members.push(json!(to));
                }
            }
            if changed {
                writes.push(Write::Update {
                    collection: Collection::IamPolicies.as_str().to_owned(),
                    name: record.name,
                    data: policy,
                    expected_revision: Some(record.revision),
                });
            }
        }
        Ok(writes)
    }

    /// Commits `write` (which must not depend on a revision: a hard delete) together with the
    /// rewrite of `from` to `to` in every allow policy, retrying when a policy changed between
    /// reading and writing. Used when a directory user or group is deleted
    /// (`user:E` → `deleted:user:E?uid=ID`, google/iam/v1/policy.proto `members`).
    pub(crate) fn commit_with_member_rewrite(
        &self,
        write: Write,
        from: &str,
        to: &str,
    ) -> Result<(), Error> {
        for _attempt in 0..16 {
            let mut writes = vec![write.clone()];
            writes.extend(self.member_rewrites(from, to)?);
            let outcome = self.commit(&writes);
            self.invalidate_iam();
            match outcome {
                Ok(_) => return Ok(()),
                Err(Error::Aborted { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::aborted(CONCURRENT_CHANGE))
    }

    /// Writes a policy if it is still at `expected_revision` (0 = none yet); returns the new
    /// revision. Invalidates cached decisions.
    fn write_policy(
        &self,
        resource: &ResourceRef,
        policy: Value,
        expected_revision: u64,
    ) -> Result<u64, Error> {
        let name = resource.full_name();
        let collection = Collection::IamPolicies.as_str().to_owned();
        let write = if expected_revision == 0 {
            Write::Create {
                collection,
                name,
                parent: None,
                data: policy,
            }
        } else {
            Write::Update {
                collection,
                name,
                data: policy,
                expected_revision: Some(expected_revision),
            }
        };
        let outcome = self.store().transact(&[write]);
        self.invalidate_iam();
        match outcome {
            Ok(records) => Ok(records.first().map(|record| record.revision).unwrap_or(1)),
            Err(
                kumo_store::StoreError::Conflict { .. }
                | kumo_store::StoreError::AlreadyExists { .. },
            ) => Err(Error::aborted(CONCURRENT_CHANGE)),
            Err(other) => Err(crate::records::store_error(other)),
        }
    }
}

/// Parses a policy in Google's JSON shape into the engine's type, with Google's messages for
/// malformed roles and members.
pub fn parse_policy(value: &Value) -> Result<kumo_iam::Policy, Error> {
    let wire: kumo_wire::iam::Policy = serde_json::from_value(value.clone())
        .map_err(|error| Error::invalid(format!("Invalid JSON payload received. {error}")))?;
    let mut violations = Vec::new();
    let mut bindings = Vec::with_capacity(wire.bindings.len());
    for (index, binding) in wire.bindings.iter().enumerate() {
        let role = match binding.role.parse::<kumo_names::RoleName>() {
            Ok(role) => Some(role),
            Err(error) => {
                violations.push(crate::FieldViolation {
                    field: format!("policy.bindings[{index}].role"),
                    description: error.to_string(),
                });
                None
            }
        };
        let mut members = Vec::with_capacity(binding.members.len());
        for member in &binding.members {
            match member.parse::<kumo_names::Principal>() {
                Ok(principal) => members.push(principal),
                Err(error) => violations.push(crate::FieldViolation {
                    field: format!("policy.bindings[{index}].members"),
                    description: error.to_string(),
                }),
            }
        }
        if let Some(role) = role {
            bindings.push(kumo_iam::Binding {
                role,
                members,
                condition: binding.condition.as_ref().map(|condition| kumo_iam::Expr {
                    expression: condition.expression.clone(),
                    title: condition.title.clone(),
                    description: condition.description.clone(),
                }),
            });
        }
    }
    let mut audit_configs = Vec::with_capacity(wire.audit_configs.len());
    for config in &wire.audit_configs {
        let mut log_configs = Vec::new();
        for log in &config.audit_log_configs {
            let log_type = match log.log_type {
                kumo_wire::iam::LogType::AdminRead => kumo_iam::LogType::AdminRead,
                kumo_wire::iam::LogType::DataWrite => kumo_iam::LogType::DataWrite,
                kumo_wire::iam::LogType::DataRead => kumo_iam::LogType::DataRead,
                kumo_wire::iam::LogType::Unspecified => kumo_iam::LogType::LogTypeUnspecified,
            };
            let mut exempted = Vec::new();
            for member in &log.exempted_members {
                match member.parse::<kumo_names::Principal>() {
                    Ok(principal) => exempted.push(principal),
                    Err(error) => violations.push(crate::FieldViolation {
                        field: "policy.auditConfigs.auditLogConfigs.exemptedMembers".to_owned(),
                        description: error.to_string(),
                    }),
                }
            }
            log_configs.push(kumo_iam::AuditLogConfig {
                log_type,
                exempted_members: exempted,
            });
        }
        audit_configs.push(kumo_iam::AuditConfig {
            service: config.service.clone(),
            audit_log_configs: log_configs,
        });
    }
    if let Some(first) = violations.first() {
        return Err(Error::InvalidArgument {
            message: first.description.clone(),
            violations,
        });
    }
    Ok(kumo_iam::Policy {
        version: wire.version.unwrap_or(1),
        bindings,
        audit_configs,
        etag: kumo_names::Etag::default(),
    })
}

/// `bindings` in Google's JSON shape.
fn bindings_json(policy: &kumo_iam::Policy) -> Vec<Value> {
    policy
        .bindings
        .iter()
        .map(|binding| {
            let members: Vec<String> = binding.members.iter().map(ToString::to_string).collect();
            let mut out = json!({"role": binding.role.to_string(), "members": members});
            if let Some(condition) = &binding.condition {
                let mut expr = json!({"expression": condition.expression});
                if !condition.title.is_empty() {
                    expr["title"] = json!(condition.title);
                }
                if !condition.description.is_empty() {
                    expr["description"] = json!(condition.description);
                }
                out["condition"] = expr;
            }
            out
        })
        .collect()
}

impl Control {
    /// Google refuses a custom role bound outside the project or organization that defines it
    /// (`Role (…) does not exist in the resource's hierarchy.`). Projects count under their id
    /// and their number.
    fn check_custom_role_scope(&self, resource: &ResourceRef, policy: &Value) -> Result<(), Error> {
        let parsed = parse_policy(policy)?;
        if parsed.bindings.iter().all(|b| b.role.is_predefined()) {
            return Ok(());
        }
        let mut names = Vec::new();
        for node in self.ancestry(resource)? {
            if let ResourceRef::Project(id) = &node
                && let Some(project) = self.resolve_project(id)?
            {
                names.push(format!("projects/{}", project.id));
                names.push(format!("projects/{}", project.number));
            }
            names.push(node.relative_name());
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        parsed
            .validate_custom_role_scope(&names)
            .map_err(|error| Error::invalid(error.to_string()))
    }

    /// Validates a policy in Google's JSON shape against Google's rules (member syntax, known
    /// roles, version 3 for conditions, limits, parseable conditions) and returns it in the form
    /// Google stores ([`kumo_iam::Policy::canonicalize`]), `version` 3 when conditions are present.
    pub fn validate_policy(&self, policy: &Value) -> Result<Value, Error> {
        let mut parsed = parse_policy(policy)?;
        if parsed.version == 0 {
            parsed.version = 1;
        }
        parsed
            .validate(self.engine().catalog())
            .map_err(|error| match error {
                // Google names a custom role it cannot find (not created yet, or another
                // organization's) as missing from the hierarchy, not as unsupported (a Config
                // Connector report quotes it for an organization's own not-yet-created role).
                kumo_iam::IamError::UnknownRole(role) if !role.is_predefined() => {
                    Error::invalid(kumo_iam::IamError::RoleNotInHierarchy(role).to_string())
                }
                other => Error::invalid(other.to_string()),
            })?;
        parsed.canonicalize();
        let bindings = bindings_json(&parsed);
        let version = if parsed.has_conditions() { 3 } else { 1 };
        let mut out = json!({"version": version, "bindings": bindings});
        if let Some(audit) = policy.get("auditConfigs") {
            out["auditConfigs"] = audit.clone();
        }
        Ok(out)
    }
}
