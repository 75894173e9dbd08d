//! Legacy v1 (`cloudresourcemanager` `setOrgPolicy`) forms, convertible to/from the v2 spec.

use serde::{Deserialize, Serialize};

use crate::catalog::{Constraint, ConstraintType};
use crate::policy::{InvalidPolicy, PolicyRule, PolicySpec, RuleKind};

/// Exactly one of the three `policy_type` arms of v1 `Policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum V1PolicyType {
    BooleanPolicy { enforced: bool },
    ListPolicy(V1ListPolicy),
    RestoreDefault,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V1ListPolicy {
    #[serde(default)]
    pub allowed_values: Vec<String>,
    #[serde(default)]
    pub denied_values: Vec<String>,
    /// `ALLOW` or `DENY`; `None` when values are listed instead.
    #[serde(default)]
    pub all_values: Option<V1AllValues>,
    #[serde(default)]
    pub inherit_from_parent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum V1AllValues {
    Allow,
    Deny,
}

fn rule(kind: RuleKind) -> PolicyRule {
    PolicyRule {
        kind,
        condition: None,
    }
}

/// Converts a v1 policy body to a v2 spec, refusing a type that does not match the constraint.
pub fn v1_to_spec(constraint: &Constraint, v1: &V1PolicyType) -> Result<PolicySpec, InvalidPolicy> {
    let mismatch = || {
        InvalidPolicy(format!(
            "The policy type does not match the type of constraint {}.",
            constraint.qualified_name()
        ))
    };
    let spec = match (v1, constraint.kind) {
        (V1PolicyType::RestoreDefault, _) => PolicySpec {
            reset: true,
            ..PolicySpec::default()
        },
        (V1PolicyType::BooleanPolicy { enforced }, ConstraintType::Boolean) => PolicySpec {
            rules: vec![rule(RuleKind::Enforce(*enforced))],
            ..PolicySpec::default()
        },
        (V1PolicyType::ListPolicy(l), ConstraintType::List { .. }) => {
            let kind = match l.all_values {
                Some(V1AllValues::Allow) => Some(RuleKind::AllowAll),
                Some(V1AllValues::Deny) => Some(RuleKind::DenyAll),
                None if l.allowed_values.is_empty() && l.denied_values.is_empty() => None,
                None => Some(RuleKind::Values {
                    allowed_values: l.allowed_values.clone(),
                    denied_values: l.denied_values.clone(),
                }),
            };
            if l.all_values.is_some()
                && !(l.allowed_values.is_empty() && l.denied_values.is_empty())
            {
                return Err(InvalidPolicy(
                    "allValues cannot be set together with allowedValues or deniedValues.".into(),
                ));
            }
            PolicySpec {
                rules: kind.map(rule).into_iter().collect(),
                inherit_from_parent: l.inherit_from_parent,
                ..PolicySpec::default()
            }
        }
        _ => return Err(mismatch()),
    };
    crate::policy::validate_spec(constraint, &spec)?;
    Ok(spec)
}

/// Renders a v2 spec in v1 form (for `getOrgPolicy`). Conditional rules have no v1 form and
/// are left out, as Google's v1 view does.
pub fn spec_to_v1(constraint: &Constraint, spec: &PolicySpec) -> V1PolicyType {
    if spec.reset {
        return V1PolicyType::RestoreDefault;
    }
    let rules = spec.rules.iter().filter(|r| r.condition.is_none());
    match constraint.kind {
        ConstraintType::Boolean => V1PolicyType::BooleanPolicy {
            enforced: rules.into_iter().any(|r| r.kind == RuleKind::Enforce(true)),
        },
        ConstraintType::List { .. } => {
            let mut l = V1ListPolicy {
                inherit_from_parent: spec.inherit_from_parent,
                ..V1ListPolicy::default()
            };
            for r in rules {
                match &r.kind {
                    RuleKind::AllowAll => l.all_values = Some(V1AllValues::Allow),
                    RuleKind::DenyAll => l.all_values = Some(V1AllValues::Deny),
                    RuleKind::Values {
                        allowed_values,
                        denied_values,
                    } => {
                        l.allowed_values.extend(allowed_values.iter().cloned());
                        l.denied_values.extend(denied_values.iter().cloned());
                    }
                    RuleKind::Enforce(_) => {}
                }
            }
            V1PolicyType::ListPolicy(l)
        }
    }
}
