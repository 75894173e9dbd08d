//! Custom constraints: an organization's own boolean constraints, defined by a CEL condition over
//! the resource being created or updated (iam-orgpolicy-semantics.md §4.2).
//!
//! A custom constraint enforces nothing by itself: a policy naming `custom.{id}` with
//! `enforce: true` turns it on, merged down the hierarchy like any boolean constraint whose
//! default is ALLOW (not enforced). Then, on a matching create/update:
//! - `DENY`: the request is refused when the condition is true;
//! - `ALLOW`: the request is refused when the condition is false.
//!
//! A condition that cannot be evaluated (a missing map key, a type mismatch) fails closed for
//! both action types: the request is refused. Google documents no behaviour for this
//! (UNCONFIRMED); refusing follows Kumo's rule that a security decision never fails open.

pub mod cel;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{Constraint, ConstraintDefault, ConstraintType};
use crate::checks::{RpcCode, Violation};

/// The id prefix every custom constraint carries.
pub const CUSTOM_PREFIX: &str = "custom.";
/// Longest id after `custom.` (Google's docs: "70 characters, not counting the prefix").
pub const MAX_ID_LENGTH: usize = 70;
/// Longest condition, in characters (constraint.proto).
pub const MAX_CONDITION_LENGTH: usize = 1000;
/// Longest display name (iam-orgpolicy-semantics.md §4.2).
pub const MAX_DISPLAY_NAME_LENGTH: usize = 200;
/// Longest description (same).
pub const MAX_DESCRIPTION_LENGTH: usize = 2000;

/// The resource types Kumo evaluates custom constraints on: Cloud Run's, whose `resource` is
/// the Cloud Run Admin API v1 (Knative) form of the service or job.
pub const RESOURCE_TYPES: &[&str] = &["run.googleapis.com/Service", "run.googleapis.com/Job"];

/// When the constraint is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MethodType {
    Create,
    Update,
    Delete,
    RemoveGrant,
    GovernTags,
}

impl MethodType {
    pub fn as_str(self) -> &'static str {
        match self {
            MethodType::Create => "CREATE",
            MethodType::Update => "UPDATE",
            MethodType::Delete => "DELETE",
            MethodType::RemoveGrant => "REMOVE_GRANT",
            MethodType::GovernTags => "GOVERN_TAGS",
        }
    }
}

/// Whether a true condition allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionType {
    Allow,
    Deny,
}

impl ActionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionType::Allow => "ALLOW",
            ActionType::Deny => "DENY",
        }
    }
}

/// `organizations/{org}/customConstraints/custom.{id}` (persistence form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct CustomConstraint {
    pub name: String,
    #[serde(default)]
    pub resource_types: Vec<String>,
    #[serde(default)]
    pub method_types: Vec<MethodType>,
    #[serde(default)]
    pub condition: String,
    pub action_type: ActionType,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    /// RFC 3339, set by the control plane on every write.
    #[serde(default)]
    pub update_time: Option<String>,
}

/// One rejected field of a custom constraint (`google.rpc.BadRequest` field violation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {description}")]
pub struct InvalidCustomConstraint {
    /// `customConstraint.displayName` etc.
    pub field: String,
    pub description: String,
}

/// The status message Google sends with custom-constraint field violations.
pub const INVALID_CUSTOM_CONSTRAINT_MESSAGE: &str = "Request has invalid values.";

fn bad(field: &str, description: impl Into<String>) -> InvalidCustomConstraint {
    InvalidCustomConstraint {
        field: format!("customConstraint.{field}"),
        description: description.into(),
    }
}

/// Splits `organizations/{org}/customConstraints/{id}` into the organization id and the
/// constraint id (`custom.x`).
pub fn parse_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("organizations/")?;
    let (org, id) = rest.split_once("/customConstraints/")?;
    (!org.is_empty() && !org.contains('/') && !id.is_empty() && !id.contains('/'))
        .then_some((org, id))
}

/// Validates a constraint id (`custom.` followed by 1–70 letters and digits).
/// Texts UNCONFIRMED, modelled on Google's field-violation style.
pub fn validate_id(id: &str) -> Result<(), InvalidCustomConstraint> {
    let Some(rest) = id.strip_prefix(CUSTOM_PREFIX) else {
        return Err(bad(
            "name",
            format!("Custom constraint name {id} must start with \"custom.\"."),
        ));
    };
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad(
            "name",
            format!(
                "Custom constraint name {id} may only contain letters and digits after \"custom.\"."
            ),
        ));
    }
    if rest.chars().count() > MAX_ID_LENGTH {
        return Err(bad(
            "name",
            format!(
                "Custom constraint name {id} is too long; the maximum is {MAX_ID_LENGTH} characters after \"custom.\"."
            ),
        ));
    }
    Ok(())
}

/// Validates every field of a custom constraint, returning all violations (Google lists them
/// all). The name must already be in the organization's form; `parse_name` checks that.
pub fn validate_custom_constraint(c: &CustomConstraint) -> Vec<InvalidCustomConstraint> {
    let mut out = Vec::new();
    match parse_name(&c.name) {
        Some((_, id)) => {
            if let Err(e) = validate_id(id) {
                out.push(e);
            }
        }
        None => out.push(bad(
            "name",
            format!(
                "Custom constraint name {} must be of the form organizations/{{organization_id}}/customConstraints/custom.{{id}}.",
                c.name
            ),
        )),
    }
    if c.display_name.trim().is_empty() {
        out.push(bad(
            "displayName",
            "Custom constraint display name cannot be empty.",
        ));
    } else if c.display_name.chars().count() > MAX_DISPLAY_NAME_LENGTH {
        out.push(bad(
            "displayName",
            format!(
                "Custom constraint display name cannot be longer than {MAX_DISPLAY_NAME_LENGTH} characters."
            ),
        ));
    }
    if c.description.chars().count() > MAX_DESCRIPTION_LENGTH {
        out.push(bad(
            "description",
            format!(
                "Custom constraint description cannot be longer than {MAX_DESCRIPTION_LENGTH} characters."
            ),
        ));
    }
    if c.resource_types.is_empty() {
        out.push(bad(
            "resourceTypes",
            "Custom constraint resource types cannot be empty.",
        ));
    }
    for t in &c.resource_types {
        if !RESOURCE_TYPES.contains(&t.as_str()) {
            out.push(bad(
                "resourceTypes",
                format!("Resource type {t} is not supported by custom constraints."),
            ));
        }
    }
    if c.method_types.is_empty() {
        out.push(bad(
            "methodTypes",
            "Custom constraint method types cannot be empty.",
        ));
    } else if c.method_types.iter().all(|m| *m == MethodType::Update) {
        out.push(bad(
            "methodTypes",
            "UPDATE-only custom constraints are not supported. Use CREATE or CREATE, UPDATE.",
        ));
    }
    for m in &c.method_types {
        if !matches!(m, MethodType::Create | MethodType::Update) {
            // Cloud Run supports CREATE and UPDATE only (its custom-constraints page).
            out.push(bad(
                "methodTypes",
                format!(
                    "Method type {} is not supported for the resource types of this custom constraint.",
                    m.as_str()
                ),
            ));
        }
    }
    let length = c.condition.chars().count();
    if c.condition.trim().is_empty() {
        out.push(bad(
            "condition",
            "Custom constraint condition cannot be empty.",
        ));
    } else if length > MAX_CONDITION_LENGTH {
        out.push(bad(
            "condition",
            format!(
                "Custom constraint condition cannot be longer than {MAX_CONDITION_LENGTH} characters."
            ),
        ));
    } else if let Err(e) = cel::Program::parse(&c.condition) {
        out.push(bad(
            "condition",
            format!("Custom constraint condition is not a valid CEL expression: {e}"),
        ));
    }
    out
}

impl CustomConstraint {
    /// `custom.x`.
    pub fn id(&self) -> &str {
        parse_name(&self.name).map_or(self.name.as_str(), |(_, id)| id)
    }

    /// The boolean constraint policies name it by (`policies/custom.x`): default ALLOW, i.e.
    /// not enforced until a policy enforces it.
    pub fn definition(&self) -> Constraint {
        Constraint {
            name: Cow::Owned(self.id().to_owned()),
            display_name: Cow::Owned(self.display_name.clone()),
            description: Cow::Owned(self.description.clone()),
            kind: ConstraintType::Boolean,
            default: ConstraintDefault::Allow,
        }
    }

    /// Whether the constraint applies to this resource type and method.
    pub fn applies_to(&self, resource_type: &str, method: MethodType) -> bool {
        self.resource_types.iter().any(|t| t == resource_type)
            && self.method_types.contains(&method)
    }

    /// Whether `resource` (the JSON the condition sees as `resource`) passes. Errors in parsing
    /// or evaluating count as a failure: fail closed.
    pub fn permits(&self, resource: &Value) -> bool {
        let outcome = cel::Program::parse(&self.condition)
            .map_err(|e| e.to_string())
            .and_then(|p| p.evaluate(resource).map_err(|e| e.to_string()));
        match (self.action_type, outcome) {
            (ActionType::Deny, Ok(matched)) => !matched,
            (ActionType::Allow, Ok(matched)) => matched,
            (_, Err(_)) => false,
        }
    }

    /// `customConstraints/custom.x`, as violations name it.
    pub fn violation_type(&self) -> String {
        format!("customConstraints/{}", self.id())
    }
}

/// Checks every enforced custom constraint that applies against `resource`; refuses with one
/// violation naming each failed constraint. Message shape from Cloud Run's refusal for its
/// managed constraint (seed 000) and GKE's documented custom-constraint refusal:
/// `Operation denied by custom org policy: ["customConstraints/custom.x": "DESCRIPTION"].`
/// Several failures are listed comma-separated inside the brackets (UNCONFIRMED).
pub fn check_custom_constraints(
    enforced: &[&CustomConstraint],
    resource_type: &str,
    method: MethodType,
    resource: &Value,
    subject: &str,
) -> Result<(), Violation> {
    let failed: Vec<&CustomConstraint> = enforced
        .iter()
        .copied()
        .filter(|c| c.applies_to(resource_type, method) && !c.permits(resource))
        .collect();
    let Some(first) = failed.first() else {
        return Ok(());
    };
    let list = failed
        .iter()
        .map(|c| format!("\"{}\": \"{}\"", c.violation_type(), c.description))
        .collect::<Vec<_>>()
        .join(", ");
    Err(Violation {
        code: RpcCode::FailedPrecondition,
        constraint: first.violation_type(),
        message: format!("Operation denied by custom org policy: [{list}]."),
        description: first.description.clone(),
        subject: Some(subject.to_owned()),
    })
}
