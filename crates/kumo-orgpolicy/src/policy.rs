//! v2 policy model (persistence form) and validation.

use serde::{Deserialize, Serialize};

use crate::catalog::{Constraint, ConstraintType};

/// `projects/{n}/policies/{constraint}` etc. with its spec and dry-run spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Policy {
    pub name: String,
    #[serde(default)]
    pub spec: Option<PolicySpec>,
    #[serde(default)]
    pub dry_run_spec: Option<PolicySpec>,
    #[serde(default)]
    pub etag: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct PolicySpec {
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    #[serde(default)]
    pub inherit_from_parent: bool,
    #[serde(default)]
    pub reset: bool,
    /// RFC 3339 timestamp, set by the store.
    #[serde(default)]
    pub update_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct PolicyRule {
    pub kind: RuleKind,
    /// Tag condition (CEL). Kumo resources carry no tags, so a conditional rule never matches,
    /// which is exactly Google's behaviour for an untagged resource.
    #[serde(default)]
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Values {
        #[serde(default)]
        allowed_values: Vec<String>,
        #[serde(default)]
        denied_values: Vec<String>,
    },
    AllowAll,
    DenyAll,
    Enforce(bool),
}

/// An `INVALID_ARGUMENT` policy rejection with Google's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPolicy(pub String);

fn invalid(msg: impl Into<String>) -> Result<(), InvalidPolicy> {
    Err(InvalidPolicy(msg.into()))
}

/// Validates a spec against its constraint's type (list rules on a boolean constraint etc.).
pub fn validate_spec(constraint: &Constraint, spec: &PolicySpec) -> Result<(), InvalidPolicy> {
    if spec.reset && (!spec.rules.is_empty() || spec.inherit_from_parent) {
        return invalid(
            "Policy with reset set to true cannot have rules or set inheritFromParent to true.",
        );
    }
    match constraint.kind {
        ConstraintType::Boolean => {
            if spec.inherit_from_parent {
                return invalid(format!(
                    "inheritFromParent is not allowed for boolean constraint {}.",
                    constraint.qualified_name()
                ));
            }
            let mut unconditional = None;
            for rule in &spec.rules {
                let RuleKind::Enforce(v) = rule.kind else {
                    return invalid(format!(
                        "Boolean constraint {} only supports enforce rules; values, allowAll and denyAll are not allowed.",
                        constraint.qualified_name()
                    ));
                };
                if rule.condition.is_none() {
                    if unconditional.is_some() {
                        return invalid(
                            "A boolean policy must have exactly one rule without a condition.",
                        );
                    }
                    unconditional = Some(v);
                }
            }
            if spec.rules.iter().any(|r| r.condition.is_some()) {
                let Some(base) = unconditional else {
                    return invalid(
                        "A boolean policy must have exactly one rule without a condition.",
                    );
                };
                if spec
                    .rules
                    .iter()
                    .any(|r| r.condition.is_some() && r.kind == RuleKind::Enforce(base))
                {
                    return invalid(
                        "Conditional rules must set enforce to the opposite of the unconditional rule.",
                    );
                }
            }
        }
        ConstraintType::List { supports_under } => {
            for rule in &spec.rules {
                match &rule.kind {
                    RuleKind::Enforce(_) => {
                        return invalid(format!(
                            "List constraint {} does not support enforce rules.",
                            constraint.qualified_name()
                        ));
                    }
                    RuleKind::Values {
                        allowed_values,
                        denied_values,
                    } => {
                        if allowed_values.is_empty() && denied_values.is_empty() {
                            return invalid(
                                "A values rule must set allowedValues or deniedValues.",
                            );
                        }
                        for v in allowed_values.iter().chain(denied_values) {
                            validate_value(v, supports_under)?;
                        }
                    }
                    RuleKind::AllowAll | RuleKind::DenyAll => {}
                }
            }
        }
    }
    Ok(())
}

fn validate_value(v: &str, supports_under: bool) -> Result<(), InvalidPolicy> {
    if v.is_empty() || v == "is:" {
        return invalid("Policy values must not be empty.");
    }
    if let Some(rest) = v.strip_prefix("under:") {
        if !supports_under {
            return invalid(format!(
                "The value \"{v}\" uses the under: prefix, which this constraint does not support."
            ));
        }
        let ok = ["projects/", "folders/", "organizations/"].iter().any(|p| {
            rest.strip_prefix(p)
                .is_some_and(|id| !id.is_empty() && !id.contains('/'))
        });
        if !ok {
            return invalid(format!(
                "Invalid under: value \"{v}\"; expected projects/ID, folders/ID or organizations/ID."
            ));
        }
    } else if v.starts_with("in:") {
        // Google-curated value groups exist only for location-style constraints.
        return invalid(format!(
            "The value \"{v}\" uses the in: prefix, which this constraint does not support."
        ));
    }
    Ok(())
}

/// Validates a whole policy: spec and dry-run spec.
pub fn validate_policy(constraint: &Constraint, policy: &Policy) -> Result<(), InvalidPolicy> {
    for spec in policy.spec.iter().chain(&policy.dry_run_spec) {
        validate_spec(constraint, spec)?;
    }
    Ok(())
}
