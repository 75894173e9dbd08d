//! The Organization Policy API: v2 (`orgpolicy.googleapis.com`: constraints, policies,
//! `getEffectivePolicy`) and the Resource Manager v1 forms gcloud's
//! `resource-manager org-policies` commands call (`:setOrgPolicy`, `:getOrgPolicy`,
//! `:getEffectiveOrgPolicy`, `:listOrgPolicies`, `:clearOrgPolicy`).
//!
//! Policies are stored as `kumo_orgpolicy::Policy` under `{projects/ID|folders/ID|organizations/ID}
//! /policies/{constraint}`, the key `effective_constraint` reads; responses name projects by
//! number, as Google's do.

use kumo_orgpolicy::{
    Allowed, Constraint, ConstraintType, EffectivePolicy, PolicyRule, PolicySpec, RuleKind,
    V1AllValues, V1ListPolicy, V1PolicyType,
};
use kumo_store::{ListQuery, ParentFilter, Write};
use kumo_wire::orgpolicy_v1::OrgPolicy;
use kumo_wire::orgpolicy_v2 as v2;
use serde_json::{Value, json};

use crate::iam_policy::etag_of;
use crate::records::{Collection, Stored, encode};
use crate::resource_manager::PageRequest;
use crate::resource_manager::common::timestamp;
use crate::{Call, Control, Error, FieldViolation, ResourceRef};

/// Google's texts for a missing or duplicate policy.
const NOT_FOUND: &str = "Requested entity was not found.";
const ALREADY_EXISTS: &str = "Requested entity already exists";
const STALE_ETAG: &str =
    "The etag of the policy does not match its current etag; read the policy again and retry.";

/// A container's policy: its storage key, the name responses use, and the stored policy.
struct Slot {
    resource: ResourceRef,
    constraint: Constraint,
    key: String,
    wire_name: String,
    stored: Option<Stored<kumo_orgpolicy::Policy>>,
}

impl Control {
    fn policy_slot(&self, container: &str, constraint: &str) -> Result<Slot, Error> {
        let resource = self.container_ref(container)?;
        let constraint = match self.constraint_definition(constraint, &resource) {
            Ok(definition) => definition,
            // A policy outlives the custom constraint it names (deleting the constraint leaves
            // it in place, enforcing nothing); it can still be read and deleted.
            Err(error) => {
                let short = constraint
                    .strip_prefix("constraints/")
                    .unwrap_or(constraint);
                let key = format!("{}/policies/{short}", resource.relative_name());
                if short.starts_with(kumo_orgpolicy::custom::CUSTOM_PREFIX)
                    && self
                        .load::<kumo_orgpolicy::Policy>(Collection::OrgPolicies, &key)?
                        .is_some()
                {
                    orphan_custom_definition(short)
                } else {
                    return Err(error);
                }
            }
        };
        let key = format!("{}/policies/{}", resource.relative_name(), constraint.name);
        let wire_name = format!(
            "{}/policies/{}",
            self.container_display_name(&resource)?,
            constraint.name
        );
        let stored = self.load::<kumo_orgpolicy::Policy>(Collection::OrgPolicies, &key)?;
        Ok(Slot {
            resource,
            constraint,
            key,
            wire_name,
            stored,
        })
    }

    fn write_org_policy(&self, slot: &Slot, policy: &kumo_orgpolicy::Policy) -> Result<u64, Error> {
        let collection = Collection::OrgPolicies.as_str().to_owned();
        let write = match &slot.stored {
            Some(stored) => Write::Update {
                collection,
                name: slot.key.clone(),
                data: encode(policy)?,
                expected_revision: Some(stored.record.revision),
            },
            None => Write::Create {
                collection,
                name: slot.key.clone(),
                parent: Some(slot.resource.relative_name()),
                data: encode(policy)?,
            },
        };
        let written = self.commit(&[write])?;
        Ok(written
            .first()
            .map(|record| record.revision)
            .unwrap_or_default())
    }

    // ---- v2 ----

    /// `GET /v2/{parent}/constraints`: `orgpolicy.constraints.list`.
    pub fn list_constraints(
        &self,
        call: &Call,
        parent: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(parent)?;
        self.authorize(call, "orgpolicy.constraints.list", &resource)?;
        let display = self.container_display_name(&resource)?;
        let mut constraints: Vec<Value> = kumo_orgpolicy::all_constraints()
            .iter()
            .map(|c| constraint_wire(&display, c))
            .collect();
        // An organization's custom constraints are listed with the built-in ones, as boolean
        // constraints carrying their definition.
        if let Some(org) = self.organization_of(&resource)? {
            for stored in self.custom_constraints_of(&org)? {
                constraints.push(custom_as_constraint_wire(&display, &stored.value));
            }
        }
        let (constraints, next) = page.apply(constraints, 100, 1000)?;
        let mut response = json!({"constraints": constraints});
        if !next.is_empty() {
            response["nextPageToken"] = json!(next);
        }
        Ok(response)
    }

    /// `GET /v2/{parent}/policies`: `orgpolicy.policies.list`.
    pub fn list_org_policies(
        &self,
        call: &Call,
        parent: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(parent)?;
        self.authorize(call, "orgpolicy.policies.list", &resource)?;
        let display = self.container_display_name(&resource)?;
        let policies: Vec<Value> = self
            .stored_org_policies(&resource)?
            .into_iter()
            .map(|(stored, short)| {
                policy_wire(
                    &format!("{display}/policies/{short}"),
                    &stored.value,
                    stored.record.revision,
                )
            })
            .collect();
        let (policies, next) = page.apply(policies, 100, 1000)?;
        let mut response = json!({});
        if !policies.is_empty() {
            response["policies"] = Value::Array(policies);
        }
        if !next.is_empty() {
            response["nextPageToken"] = json!(next);
        }
        Ok(response)
    }

    fn stored_org_policies(
        &self,
        resource: &ResourceRef,
    ) -> Result<Vec<(Stored<kumo_orgpolicy::Policy>, String)>, Error> {
        let records = self
            .store()
            .list(
                Collection::OrgPolicies.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(resource.relative_name()),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let mut policies = Vec::new();
        for record in records {
            let short = record
                .name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            policies.push((self.decode::<kumo_orgpolicy::Policy>(record)?, short));
        }
        Ok(policies)
    }

    /// `GET /v2/{parent}/policies/{constraint}`: `orgpolicy.policy.get`.
    pub fn get_org_policy(
        &self,
        call: &Call,
        parent: &str,
        constraint: &str,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(parent)?;
        self.authorize(call, "orgpolicy.policy.get", &resource)?;
        let slot = self.policy_slot(parent, constraint)?;
        let stored = slot
            .stored
            .as_ref()
            .ok_or_else(|| Error::not_found(NOT_FOUND))?;
        Ok(policy_wire(
            &slot.wire_name,
            &stored.value,
            stored.record.revision,
        ))
    }

    /// `POST /v2/{parent}/policies`: `orgpolicy.policies.create`.
    pub fn create_org_policy(
        &self,
        call: &Call,
        parent: &str,
        policy: &v2::Policy,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(parent)?;
        self.authorize(call, "orgpolicy.policies.create", &resource)?;
        let constraint = self.policy_constraint(parent, &resource, &policy.name)?;
        let slot = self.policy_slot(parent, &constraint)?;
        if slot.stored.is_some() {
            return Err(Error::already_exists(ALREADY_EXISTS));
        }
        let engine = self.engine_policy_from_wire(&slot, policy)?;
        let revision = self.write_org_policy(&slot, &engine)?;
        Ok(policy_wire(&slot.wire_name, &engine, revision))
    }

    /// `PATCH /v2/{name}`: `orgpolicy.policies.update`. Replaces `spec` and/or `dryRunSpec`
    /// (all when no mask is given); a sent etag must match.
    pub fn update_org_policy(
        &self,
        call: &Call,
        parent: &str,
        constraint: &str,
        policy: &v2::Policy,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(parent)?;
        self.authorize(call, "orgpolicy.policies.update", &resource)?;
        let slot = self.policy_slot(parent, constraint)?;
        let stored = slot
            .stored
            .as_ref()
            .ok_or_else(|| Error::not_found(NOT_FOUND))?;
        if !policy.etag.is_empty() && policy.etag != etag_of(stored.record.revision) {
            return Err(Error::aborted(STALE_ETAG));
        }
        let incoming = self.engine_policy_from_wire(&slot, policy)?;
        let mut next = stored.value.clone();
        match update_mask.filter(|m| !m.trim().is_empty()) {
            None => {
                next.spec = incoming.spec;
                next.dry_run_spec = incoming.dry_run_spec;
            }
            Some(mask) => {
                for path in mask.split(',').map(str::trim) {
                    match path {
                        "spec" | "policy.spec" => next.spec = incoming.spec.clone(),
                        "dryRunSpec" | "dry_run_spec" | "policy.dry_run_spec" => {
                            next.dry_run_spec = incoming.dry_run_spec.clone()
                        }
                        other => {
                            return Err(Error::invalid_field(
                                "update_mask",
                                format!("Invalid update mask path: {other}."),
                            ));
                        }
                    }
                }
            }
        }
        let revision = self.write_org_policy(&slot, &next)?;
        Ok(policy_wire(&slot.wire_name, &next, revision))
    }

    /// `DELETE /v2/{name}`: `orgpolicy.policies.delete`.
    pub fn delete_org_policy(
        &self,
        call: &Call,
        parent: &str,
        constraint: &str,
        etag: Option<&str>,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(parent)?;
        self.authorize(call, "orgpolicy.policies.delete", &resource)?;
        let slot = self.policy_slot(parent, constraint)?;
        let stored = slot
            .stored
            .as_ref()
            .ok_or_else(|| Error::not_found(NOT_FOUND))?;
        if let Some(etag) = etag.filter(|e| !e.is_empty())
            && etag != etag_of(stored.record.revision)
        {
            return Err(Error::aborted(STALE_ETAG));
        }
        self.commit(&[Write::HardDelete {
            collection: Collection::OrgPolicies.as_str().to_owned(),
            name: slot.key.clone(),
            expected_revision: Some(stored.record.revision),
        }])?;
        Ok(json!({}))
    }

    /// `GET /v2/{name}:getEffectivePolicy`: `orgpolicy.policy.get`. The merged policy over the
    /// hierarchy, as one spec.
    pub fn get_effective_org_policy(
        &self,
        call: &Call,
        parent: &str,
        constraint: &str,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(parent)?;
        self.authorize(call, "orgpolicy.policy.get", &resource)?;
        let slot = self.policy_slot(parent, constraint)?;
        let effective = self.effective_of_definition(&slot.constraint, &resource)?;
        Ok(json!({"name": slot.wire_name, "spec": {"rules": effective_rules(&effective)}}))
    }

    fn engine_policy_from_wire(
        &self,
        slot: &Slot,
        policy: &v2::Policy,
    ) -> Result<kumo_orgpolicy::Policy, Error> {
        if policy.alternate.is_some() {
            return Err(Error::invalid_field(
                "policy.alternate",
                "The alternate field is deprecated and not supported.",
            ));
        }
        let now = timestamp(self.now());
        let engine = kumo_orgpolicy::Policy {
            name: slot.wire_name.clone(),
            spec: policy
                .spec
                .as_ref()
                .map(|spec| spec_from_wire(spec, &now))
                .transpose()?,
            dry_run_spec: policy
                .dry_run_spec
                .as_ref()
                .map(|spec| spec_from_wire(spec, &now))
                .transpose()?,
            etag: String::new(),
        };
        kumo_orgpolicy::validate_policy(&slot.constraint, &engine)
            .map_err(|error| Error::invalid(error.to_string()))?;
        Ok(engine)
    }

    /// The constraint a v2 create names in `{parent}/policies/{constraint}`, where the parent
    /// may be written with the project id or number.
    fn policy_constraint(
        &self,
        parent: &str,
        resource: &ResourceRef,
        name: &str,
    ) -> Result<String, Error> {
        let invalid = || {
            Error::invalid_field(
                "policy.name",
                format!("The policy name {name} does not belong to {parent}."),
            )
        };
        let (container, constraint) = name.rsplit_once("/policies/").ok_or_else(invalid)?;
        if constraint.is_empty() || self.container_ref(container)? != *resource {
            return Err(invalid());
        }
        Ok(constraint.to_owned())
    }

    // ---- v2 custom constraints ----

    /// `organizations/{org}` of a custom-constraint parent, or INVALID_ARGUMENT.
    fn custom_constraint_org(&self, parent: &str) -> Result<(String, ResourceRef), Error> {
        let resource = self.container_ref(parent)?;
        match &resource {
            ResourceRef::Organization(org) => Ok((org.clone(), resource.clone())),
            _ => Err(Error::invalid_field(
                "parent",
                format!(
                    "Custom constraints can only be created in an organization; {parent} is not one."
                ),
            )),
        }
    }

    /// `POST /v2/{parent=organizations/*}/customConstraints`: `orgpolicy.customConstraints.create`.
    pub fn create_custom_constraint(
        &self,
        call: &Call,
        parent: &str,
        body: &v2::CustomConstraint,
    ) -> Result<Value, Error> {
        let (org, resource) = self.custom_constraint_org(parent)?;
        self.authorize(call, "orgpolicy.customConstraints.create", &resource)?;
        let constraint = custom_from_wire(body, timestamp(self.now()))?;
        match kumo_orgpolicy::custom::parse_name(&constraint.name) {
            Some((named_org, _)) if named_org == org => {}
            _ => {
                return Err(Error::invalid_field(
                    "customConstraint.name",
                    format!(
                        "The custom constraint name {} does not belong to {parent}.",
                        constraint.name
                    ),
                ));
            }
        }
        if self
            .load_custom_constraint(&org, constraint.id())?
            .is_some()
        {
            return Err(Error::already_exists(ALREADY_EXISTS));
        }
        self.commit(&[Write::Create {
            collection: Collection::CustomConstraints.as_str().to_owned(),
            name: constraint.name.clone(),
            parent: Some(resource.relative_name()),
            data: encode(&constraint)?,
        }])?;
        Ok(custom_wire(&constraint))
    }

    /// `GET /v2/{name=organizations/*/customConstraints/*}`: `orgpolicy.customConstraints.get`.
    pub fn get_custom_constraint(&self, call: &Call, name: &str) -> Result<Value, Error> {
        let (org, id) =
            self.custom_constraint_name(call, name, "orgpolicy.customConstraints.get")?;
        let stored = self
            .load_custom_constraint(&org, &id)?
            .ok_or_else(|| Error::not_found(NOT_FOUND))?;
        Ok(custom_wire(&stored.value))
    }

    /// `GET /v2/{parent=organizations/*}/customConstraints`: `orgpolicy.customConstraints.list`.
    pub fn list_custom_constraints(
        &self,
        call: &Call,
        parent: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let (org, resource) = self.custom_constraint_org(parent)?;
        self.authorize(call, "orgpolicy.customConstraints.list", &resource)?;
        let all: Vec<Value> = self
            .custom_constraints_of(&org)?
            .iter()
            .map(|stored| custom_wire(&stored.value))
            .collect();
        let (items, next) = page.apply(all, 100, 1000)?;
        let mut response = json!({});
        if !items.is_empty() {
            response["customConstraints"] = Value::Array(items);
        }
        if !next.is_empty() {
            response["nextPageToken"] = json!(next);
        }
        Ok(response)
    }

    /// `PATCH /v2/{customConstraint.name=organizations/*/customConstraints/*}`:
    /// `orgpolicy.customConstraints.update`. The body replaces the constraint (the method has no
    /// update mask); `resourceTypes` is immutable.
    pub fn update_custom_constraint(
        &self,
        call: &Call,
        name: &str,
        body: &v2::CustomConstraint,
    ) -> Result<Value, Error> {
        let (org, id) =
            self.custom_constraint_name(call, name, "orgpolicy.customConstraints.update")?;
        let stored = self
            .load_custom_constraint(&org, &id)?
            .ok_or_else(|| Error::not_found(NOT_FOUND))?;
        let mut wire = body.clone();
        wire.name = name.to_owned();
        if wire.resource_types.is_empty() {
            wire.resource_types = stored.value.resource_types.clone();
        }
        let next = custom_from_wire(&wire, timestamp(self.now()))?;
        if next.resource_types != stored.value.resource_types {
            // UNCONFIRMED text; constraint.proto marks resource_types IMMUTABLE.
            return Err(Error::invalid_field(
                "customConstraint.resourceTypes",
                "Custom constraint resource types cannot be changed.",
            ));
        }
        self.commit(&[Write::Update {
            collection: Collection::CustomConstraints.as_str().to_owned(),
            name: next.name.clone(),
            data: encode(&next)?,
            expected_revision: Some(stored.record.revision),
        }])?;
        Ok(custom_wire(&next))
    }

    /// `DELETE /v2/{name=organizations/*/customConstraints/*}`:
    /// `orgpolicy.customConstraints.delete`. Policies naming the constraint stay but no longer
    /// enforce anything (nothing looks them up without the definition).
    pub fn delete_custom_constraint(&self, call: &Call, name: &str) -> Result<Value, Error> {
        let (org, id) =
            self.custom_constraint_name(call, name, "orgpolicy.customConstraints.delete")?;
        let stored = self
            .load_custom_constraint(&org, &id)?
            .ok_or_else(|| Error::not_found(NOT_FOUND))?;
        self.commit(&[Write::HardDelete {
            collection: Collection::CustomConstraints.as_str().to_owned(),
            name: stored.record.name.clone(),
            expected_revision: Some(stored.record.revision),
        }])?;
        Ok(json!({}))
    }

    /// Parses `organizations/{org}/customConstraints/{id}` and authorizes `permission` on the
    /// organization.
    fn custom_constraint_name(
        &self,
        call: &Call,
        name: &str,
        permission: &str,
    ) -> Result<(String, String), Error> {
        let Some((org, id)) = kumo_orgpolicy::custom::parse_name(name) else {
            return Err(Error::invalid_field(
                "name",
                format!("Invalid custom constraint name {name}."),
            ));
        };
        let (org, resource) = self.custom_constraint_org(&format!("organizations/{org}"))?;
        self.authorize(call, permission, &resource)?;
        Ok((org, id.to_owned()))
    }

    // ---- v1 (Resource Manager) ----

    /// `POST /v1/{resource}:setOrgPolicy`: `orgpolicy.policy.set`. Sets the live spec.
    pub fn set_org_policy_v1(
        &self,
        call: &Call,
        container: &str,
        policy: &OrgPolicy,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(container)?;
        self.authorize(call, "orgpolicy.policy.set", &resource)?;
        if policy.constraint.is_empty() {
            return Err(Error::invalid_field(
                "policy.constraint",
                "The policy must name a constraint.",
            ));
        }
        let slot = self.policy_slot(container, &policy.constraint)?;
        if let Some(stored) = &slot.stored
            && !policy.etag.is_empty()
            && policy.etag != etag_of(stored.record.revision)
        {
            return Err(Error::aborted(STALE_ETAG));
        }
        let kind = match (
            &policy.boolean_policy,
            &policy.list_policy,
            &policy.restore_default,
        ) {
            (Some(boolean), None, None) => V1PolicyType::BooleanPolicy {
                enforced: boolean.enforced,
            },
            (None, Some(list), None) => V1PolicyType::ListPolicy(V1ListPolicy {
                allowed_values: list.allowed_values.clone(),
                denied_values: list.denied_values.clone(),
                all_values: match list.all_values.map(|v| v.as_str()) {
                    Some("ALLOW") => Some(V1AllValues::Allow),
                    Some("DENY") => Some(V1AllValues::Deny),
                    _ => None,
                },
                inherit_from_parent: list.inherit_from_parent,
            }),
            (None, None, Some(_)) => V1PolicyType::RestoreDefault,
            _ => {
                return Err(Error::invalid_field(
                    "policy",
                    "Exactly one of listPolicy, booleanPolicy or restoreDefault must be set.",
                ));
            }
        };
        let mut spec = kumo_orgpolicy::v1_to_spec(&slot.constraint, &kind)
            .map_err(|error| Error::invalid(error.to_string()))?;
        spec.update_time = Some(timestamp(self.now()));
        let next = kumo_orgpolicy::Policy {
            name: slot.wire_name.clone(),
            spec: Some(spec),
            dry_run_spec: slot
                .stored
                .as_ref()
                .and_then(|stored| stored.value.dry_run_spec.clone()),
            etag: String::new(),
        };
        let revision = self.write_org_policy(&slot, &next)?;
        Ok(v1_wire(&slot.constraint, &next, revision))
    }

    /// `POST /v1/{resource}:getOrgPolicy`: `orgpolicy.policy.get`. A constraint with no policy
    /// set answers an empty policy naming the constraint.
    pub fn get_org_policy_v1(
        &self,
        call: &Call,
        container: &str,
        constraint: &str,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(container)?;
        self.authorize(call, "orgpolicy.policy.get", &resource)?;
        let slot = self.policy_slot(container, constraint)?;
        Ok(match &slot.stored {
            Some(stored) => v1_wire(&slot.constraint, &stored.value, stored.record.revision),
            None => json!({"constraint": slot.constraint.qualified_name()}),
        })
    }

    /// `POST /v1/{resource}:getEffectiveOrgPolicy`: `orgpolicy.policy.get`.
    pub fn get_effective_org_policy_v1(
        &self,
        call: &Call,
        container: &str,
        constraint: &str,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(container)?;
        self.authorize(call, "orgpolicy.policy.get", &resource)?;
        let definition = self.constraint_definition(constraint, &resource)?;
        let effective = self.effective_of_definition(&definition, &resource)?;
        let mut policy = json!({"constraint": definition.qualified_name()});
        match &effective {
            EffectivePolicy::Boolean { enforced, .. } => {
                policy["booleanPolicy"] = if *enforced {
                    json!({"enforced": true})
                } else {
                    json!({})
                };
            }
            EffectivePolicy::List {
                allowed, denied, ..
            } => {
                let mut list = json!({});
                match allowed {
                    Allowed::All if denied.is_empty() => list["allValues"] = json!("ALLOW"),
                    Allowed::All => {}
                    Allowed::None => list["allValues"] = json!("DENY"),
                    Allowed::Only(values) => list["allowedValues"] = json!(values),
                }
                if !denied.is_empty() {
                    list["deniedValues"] = json!(denied);
                }
                policy["listPolicy"] = list;
            }
        }
        Ok(policy)
    }

    /// `POST /v1/{resource}:listOrgPolicies`: `orgpolicy.policy.get`.
    pub fn list_org_policies_v1(
        &self,
        call: &Call,
        container: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(container)?;
        self.authorize(call, "orgpolicy.policy.get", &resource)?;
        let mut policies = Vec::new();
        for (stored, short) in self.stored_org_policies(&resource)? {
            if let Ok(constraint) = self.constraint_definition(&short, &resource) {
                policies.push(v1_wire(&constraint, &stored.value, stored.record.revision));
            }
        }
        let (policies, next) = page.apply(policies, 100, 1000)?;
        let mut response = json!({});
        if !policies.is_empty() {
            response["policies"] = Value::Array(policies);
        }
        if !next.is_empty() {
            response["nextPageToken"] = json!(next);
        }
        Ok(response)
    }

    /// `POST /v1/{resource}:clearOrgPolicy`: `orgpolicy.policy.set`. Removes the policy.
    pub fn clear_org_policy_v1(
        &self,
        call: &Call,
        container: &str,
        constraint: &str,
        etag: &str,
    ) -> Result<Value, Error> {
        let resource = self.container_ref(container)?;
        self.authorize(call, "orgpolicy.policy.set", &resource)?;
        let slot = self.policy_slot(container, constraint)?;
        if let Some(stored) = &slot.stored {
            if !etag.is_empty() && etag != etag_of(stored.record.revision) {
                return Err(Error::aborted(STALE_ETAG));
            }
            self.commit(&[Write::HardDelete {
                collection: Collection::OrgPolicies.as_str().to_owned(),
                name: slot.key.clone(),
                expected_revision: Some(stored.record.revision),
            }])?;
        }
        Ok(json!({}))
    }
}

fn spec_from_wire(spec: &v2::PolicySpec, now: &str) -> Result<PolicySpec, Error> {
    let mut rules = Vec::with_capacity(spec.rules.len());
    for (index, rule) in spec.rules.iter().enumerate() {
        if rule.parameters.is_some() {
            return Err(Error::invalid_field(
                format!("policy.spec.rules[{index}].parameters"),
                "Parameters are not supported by this constraint.",
            ));
        }
        let mut kinds = Vec::new();
        if let Some(values) = &rule.values {
            kinds.push(RuleKind::Values {
                allowed_values: values.allowed_values.clone(),
                denied_values: values.denied_values.clone(),
            });
        }
        if rule.allow_all == Some(true) {
            kinds.push(RuleKind::AllowAll);
        }
        if rule.deny_all == Some(true) {
            kinds.push(RuleKind::DenyAll);
        }
        if let Some(enforce) = rule.enforce {
            kinds.push(RuleKind::Enforce(enforce));
        }
        let kind = match <[RuleKind; 1]>::try_from(kinds) {
            Ok([kind]) => kind,
            Err(_) => {
                return Err(Error::invalid_field(
                    format!("policy.spec.rules[{index}]"),
                    "Exactly one of values, allowAll, denyAll or enforce must be set in a rule.",
                ));
            }
        };
        rules.push(PolicyRule {
            kind,
            condition: rule.condition.as_ref().map(|c| c.expression.clone()),
        });
    }
    Ok(PolicySpec {
        rules,
        inherit_from_parent: spec.inherit_from_parent,
        reset: spec.reset,
        update_time: Some(now.to_owned()),
    })
}

fn rule_wire(rule: &PolicyRule) -> Value {
    let mut value = match &rule.kind {
        RuleKind::Values {
            allowed_values,
            denied_values,
        } => {
            let mut values = json!({});
            if !allowed_values.is_empty() {
                values["allowedValues"] = json!(allowed_values);
            }
            if !denied_values.is_empty() {
                values["deniedValues"] = json!(denied_values);
            }
            json!({"values": values})
        }
        RuleKind::AllowAll => json!({"allowAll": true}),
        RuleKind::DenyAll => json!({"denyAll": true}),
        RuleKind::Enforce(enforce) => json!({"enforce": enforce}),
    };
    if let Some(condition) = &rule.condition {
        value["condition"] = json!({"expression": condition});
    }
    value
}

fn spec_wire(spec: &PolicySpec, etag: &str) -> Value {
    let mut value =
        json!({"etag": etag, "rules": spec.rules.iter().map(rule_wire).collect::<Vec<_>>()});
    if let Some(update_time) = &spec.update_time {
        value["updateTime"] = json!(update_time);
    }
    if spec.inherit_from_parent {
        value["inheritFromParent"] = json!(true);
    }
    if spec.reset {
        value["reset"] = json!(true);
    }
    value
}

fn policy_wire(name: &str, policy: &kumo_orgpolicy::Policy, revision: u64) -> Value {
    let etag = etag_of(revision);
    let mut value = json!({"name": name, "etag": etag});
    if let Some(spec) = &policy.spec {
        value["spec"] = spec_wire(spec, &etag);
    }
    if let Some(spec) = &policy.dry_run_spec {
        value["dryRunSpec"] = spec_wire(spec, &etag);
    }
    value
}

fn effective_rules(effective: &EffectivePolicy) -> Vec<Value> {
    match effective {
        EffectivePolicy::Boolean { enforced, .. } => vec![json!({"enforce": enforced})],
        EffectivePolicy::List {
            allowed, denied, ..
        } => {
            let mut values = json!({});
            match allowed {
                Allowed::All if denied.is_empty() => return vec![json!({"allowAll": true})],
                Allowed::None => return vec![json!({"denyAll": true})],
                Allowed::All => {}
                Allowed::Only(allowed) => values["allowedValues"] = json!(allowed),
            }
            if !denied.is_empty() {
                values["deniedValues"] = json!(denied);
            }
            vec![json!({"values": values})]
        }
    }
}

fn v1_wire(constraint: &Constraint, policy: &kumo_orgpolicy::Policy, revision: u64) -> Value {
    let mut value =
        json!({"version": 1, "constraint": constraint.qualified_name(), "etag": etag_of(revision)});
    let Some(spec) = &policy.spec else {
        return value;
    };
    if let Some(update_time) = &spec.update_time {
        value["updateTime"] = json!(update_time);
    }
    match kumo_orgpolicy::spec_to_v1(constraint, spec) {
        V1PolicyType::BooleanPolicy { enforced } => {
            value["booleanPolicy"] = if enforced {
                json!({"enforced": true})
            } else {
                json!({})
            };
        }
        V1PolicyType::RestoreDefault => value["restoreDefault"] = json!({}),
        V1PolicyType::ListPolicy(list) => {
            let mut wire = json!({});
            if !list.allowed_values.is_empty() {
                wire["allowedValues"] = json!(list.allowed_values);
            }
            if !list.denied_values.is_empty() {
                wire["deniedValues"] = json!(list.denied_values);
            }
            match list.all_values {
                Some(V1AllValues::Allow) => wire["allValues"] = json!("ALLOW"),
                Some(V1AllValues::Deny) => wire["allValues"] = json!("DENY"),
                None => {}
            }
            if list.inherit_from_parent {
                wire["inheritFromParent"] = json!(true);
            }
            value["listPolicy"] = wire;
        }
    }
    value
}

/// Stands in for a deleted custom constraint whose policies remain: boolean, default ALLOW.
fn orphan_custom_definition(id: &str) -> Constraint {
    Constraint {
        name: id.to_owned().into(),
        display_name: "".into(),
        description: "".into(),
        kind: ConstraintType::Boolean,
        default: kumo_orgpolicy::ConstraintDefault::Allow,
    }
}

/// The engine's custom constraint from the wire form, validated (every bad field reported).
fn custom_from_wire(
    wire: &v2::CustomConstraint,
    now: String,
) -> Result<kumo_orgpolicy::CustomConstraint, Error> {
    use kumo_orgpolicy::custom::{ActionType, INVALID_CUSTOM_CONSTRAINT_MESSAGE, MethodType};
    let mut violations = Vec::new();
    let mut method_types = Vec::new();
    for method in &wire.method_types {
        match method {
            v2::MethodType::Create => method_types.push(MethodType::Create),
            v2::MethodType::Update => method_types.push(MethodType::Update),
            v2::MethodType::Delete => method_types.push(MethodType::Delete),
            v2::MethodType::RemoveGrant => method_types.push(MethodType::RemoveGrant),
            v2::MethodType::GovernTags => method_types.push(MethodType::GovernTags),
            v2::MethodType::Unspecified => violations.push(FieldViolation {
                field: "customConstraint.methodTypes".into(),
                description: "Custom constraint method type cannot be METHOD_TYPE_UNSPECIFIED."
                    .into(),
            }),
        }
    }
    let action_type = match wire.action_type {
        Some(v2::ActionType::Allow) => ActionType::Allow,
        Some(v2::ActionType::Deny) => ActionType::Deny,
        _ => {
            violations.push(FieldViolation {
                field: "customConstraint.actionType".into(),
                description: "Custom constraint action type must be ALLOW or DENY.".into(),
            });
            ActionType::Deny
        }
    };
    let constraint = kumo_orgpolicy::CustomConstraint {
        name: wire.name.clone(),
        resource_types: wire.resource_types.clone(),
        method_types,
        condition: wire.condition.clone(),
        action_type,
        display_name: wire.display_name.clone(),
        description: wire.description.clone(),
        update_time: Some(now),
    };
    violations.extend(
        kumo_orgpolicy::validate_custom_constraint(&constraint)
            .into_iter()
            .map(|v| FieldViolation {
                field: v.field,
                description: v.description,
            }),
    );
    if !violations.is_empty() {
        return Err(Error::InvalidArgument {
            message: INVALID_CUSTOM_CONSTRAINT_MESSAGE.into(),
            violations,
        });
    }
    Ok(constraint)
}

fn custom_definition_wire(c: &kumo_orgpolicy::CustomConstraint) -> Value {
    json!({
        "resourceTypes": c.resource_types,
        "methodTypes": c.method_types.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "condition": c.condition,
        "actionType": c.action_type.as_str(),
    })
}

/// `CustomConstraint` as the v2 API shows it.
fn custom_wire(c: &kumo_orgpolicy::CustomConstraint) -> Value {
    let mut value = custom_definition_wire(c);
    value["name"] = json!(c.name);
    value["displayName"] = json!(c.display_name);
    if !c.description.is_empty() {
        value["description"] = json!(c.description);
    }
    if let Some(update_time) = &c.update_time {
        value["updateTime"] = json!(update_time);
    }
    value
}

/// A custom constraint in `ListConstraints`: a boolean constraint with its definition.
fn custom_as_constraint_wire(container: &str, c: &kumo_orgpolicy::CustomConstraint) -> Value {
    let mut value = json!({
        "name": format!("{container}/constraints/{}", c.id()),
        "displayName": c.display_name,
        "constraintDefault": "ALLOW",
        "booleanConstraint": {"customConstraintDefinition": custom_definition_wire(c)},
        "supportsDryRun": true,
    });
    if !c.description.is_empty() {
        value["description"] = json!(c.description);
    }
    value
}

fn constraint_wire(container: &str, constraint: &Constraint) -> Value {
    let mut value = json!({
        "name": format!("{container}/constraints/{}", constraint.name),
        "displayName": constraint.display_name,
        "description": constraint.description,
        "constraintDefault": match constraint.default {
            kumo_orgpolicy::ConstraintDefault::Allow => "ALLOW",
            kumo_orgpolicy::ConstraintDefault::Deny => "DENY",
        },
        "supportsDryRun": true,
    });
    match constraint.kind {
        ConstraintType::Boolean => value["booleanConstraint"] = json!({}),
        ConstraintType::List { supports_under } => {
            value["listConstraint"] = json!({"supportsIn": true, "supportsUnder": supports_under})
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_specs_round_trip_through_the_engine_form() {
        let wire: v2::PolicySpec = serde_json::from_value(json!({
            "rules": [{"values": {"allowedValues": ["is:C0abc"]}}, {"enforce": true, "condition": {"expression": "resource.matchTag('a/b', 'c')"}}]
        }))
        .unwrap();
        let spec = spec_from_wire(&wire, "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(spec.rules.len(), 2);
        let back = spec_wire(&spec, "BwE=");
        assert_eq!(back["rules"][0]["values"]["allowedValues"][0], "is:C0abc");
        assert_eq!(back["rules"][1]["enforce"], true);
        assert_eq!(
            back["rules"][1]["condition"]["expression"],
            "resource.matchTag('a/b', 'c')"
        );
    }

    #[test]
    fn a_rule_must_have_exactly_one_kind() {
        for rule in [json!({}), json!({"allowAll": true, "enforce": true})] {
            let wire: v2::PolicySpec = serde_json::from_value(json!({"rules": [rule]})).unwrap();
            assert!(matches!(
                spec_from_wire(&wire, "t"),
                Err(Error::InvalidArgument { .. })
            ));
        }
    }

    #[test]
    fn effective_list_policies_render_as_one_rule() {
        let all = EffectivePolicy::List {
            constraint: "x".into(),
            allowed: Allowed::All,
            denied: vec![],
        };
        assert_eq!(effective_rules(&all), vec![json!({"allowAll": true})]);
        let only = EffectivePolicy::List {
            constraint: "x".into(),
            allowed: Allowed::Only(vec!["a".into()]),
            denied: vec!["b".into()],
        };
        assert_eq!(
            effective_rules(&only),
            vec![json!({"values": {"allowedValues": ["a"], "deniedValues": ["b"]}})]
        );
    }
}
