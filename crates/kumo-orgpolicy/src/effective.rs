//! getEffectivePolicy: merging policies down the resource hierarchy.

use std::borrow::Cow;

use crate::catalog::{Constraint, ConstraintDefault, ConstraintType};
use crate::policy::{Policy, PolicySpec, RuleKind};

/// Which values a list constraint accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    All,
    None,
    /// Normalised values (`is:` stripped; `under:` kept).
    Only(Vec<String>),
}

/// The merged result for one constraint at one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectivePolicy {
    Boolean {
        constraint: Cow<'static, str>,
        enforced: bool,
    },
    List {
        constraint: Cow<'static, str>,
        allowed: Allowed,
        denied: Vec<String>,
    },
}

fn normalise(v: &str) -> String {
    v.strip_prefix("is:").unwrap_or(v).to_owned()
}

/// `under:X` matches any value whose hierarchy chain contains X; plain values match exactly.
fn matches(entry: &str, chain: &[&str]) -> bool {
    match entry.strip_prefix("under:") {
        Some(node) => chain.contains(&node),
        None => chain.first().is_some_and(|v| *v == entry),
    }
}

impl EffectivePolicy {
    /// The constraint's short name.
    pub fn constraint(&self) -> &str {
        match self {
            Self::Boolean { constraint, .. } | Self::List { constraint, .. } => constraint.as_ref(),
        }
    }

    /// Boolean constraints: whether enforced. List constraints: whether anything is restricted.
    pub fn is_enforced(&self) -> bool {
        match self {
            Self::Boolean { enforced, .. } => *enforced,
            Self::List {
                allowed, denied, ..
            } => *allowed != Allowed::All || !denied.is_empty(),
        }
    }

    /// List constraints: whether the exact value (`is:` optional) is accepted.
    /// Boolean constraints accept nothing while enforced (fail closed on misuse).
    pub fn allows(&self, value: &str) -> bool {
        let v = normalise(value);
        self.allows_in_hierarchy(&[v.as_str()])
    }

    /// Like [`allows`](Self::allows) for hierarchy values: `chain` is the value first, then its
    /// ancestors (e.g. `["projects/1", "folders/2", "organizations/3"]`) so `under:` entries match.
    pub fn allows_in_hierarchy(&self, chain: &[&str]) -> bool {
        match self {
            Self::Boolean { enforced, .. } => !enforced,
            Self::List {
                allowed, denied, ..
            } => {
                if denied.iter().any(|d| matches(d, chain)) {
                    return false;
                }
                match allowed {
                    Allowed::All => true,
                    Allowed::None => false,
                    Allowed::Only(vals) => vals.iter().any(|a| matches(a, chain)),
                }
            }
        }
    }
}

/// Which spec to evaluate: the live one or the audit-only dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecKind {
    Live,
    DryRun,
}

/// Computes the effective policy. `chain` is the resource first, then its parents up to the
/// organization; each entry carries the policy set on that node for this constraint, if any.
pub fn effective(constraint: &Constraint, chain: &[(&str, Option<&Policy>)]) -> EffectivePolicy {
    effective_spec(constraint, chain, SpecKind::Live)
}

/// [`effective`] over either the live spec or the dry-run spec. A node with no dry-run spec
/// falls back to its live spec, as Google's dry-run evaluation does.
pub fn effective_spec(
    constraint: &Constraint,
    chain: &[(&str, Option<&Policy>)],
    kind: SpecKind,
) -> EffectivePolicy {
    let specs = chain.iter().rev().filter_map(|(_, p)| {
        let p = (*p)?;
        match kind {
            SpecKind::Live => p.spec.as_ref(),
            SpecKind::DryRun => p.dry_run_spec.as_ref().or(p.spec.as_ref()),
        }
    });
    let name = constraint.name.clone();
    match constraint.kind {
        ConstraintType::Boolean => {
            let default = constraint.default == ConstraintDefault::Deny;
            let enforced = specs.fold(default, |acc, spec| boolean_node(spec, acc, default));
            EffectivePolicy::Boolean {
                constraint: name,
                enforced,
            }
        }
        ConstraintType::List { .. } => {
            let default = match constraint.default {
                ConstraintDefault::Allow => Allowed::All,
                ConstraintDefault::Deny => Allowed::None,
            };
            let (allowed, denied) = specs.fold((default.clone(), Vec::new()), |parent, spec| {
                list_node(spec, parent, &default)
            });
            EffectivePolicy::List {
                constraint: name,
                allowed,
                denied,
            }
        }
    }
}

fn boolean_node(spec: &PolicySpec, parent: bool, default: bool) -> bool {
    if spec.reset {
        return default;
    }
    // Conditional rules never match (no tags), so only the unconditional rule counts; a spec
    // with none leaves the inherited value in place.
    spec.rules
        .iter()
        .filter(|r| r.condition.is_none())
        .find_map(|r| match r.kind {
            RuleKind::Enforce(b) => Some(b),
            _ => None,
        })
        .unwrap_or(parent)
}

fn union(mut a: Vec<String>, b: impl IntoIterator<Item = String>) -> Vec<String> {
    for v in b {
        if !a.contains(&v) {
            a.push(v);
        }
    }
    a
}

fn list_node(
    spec: &PolicySpec,
    parent: (Allowed, Vec<String>),
    default: &Allowed,
) -> (Allowed, Vec<String>) {
    if spec.reset {
        return (default.clone(), Vec::new());
    }
    let rules: Vec<&RuleKind> = spec
        .rules
        .iter()
        .filter(|r| r.condition.is_none())
        .map(|r| &r.kind)
        .collect();
    if rules.is_empty() {
        return if spec.inherit_from_parent || !spec.rules.is_empty() {
            parent
        } else {
            (default.clone(), Vec::new())
        };
    }
    // denyAll wins over allowAll, which wins over values: fail closed.
    if rules.iter().any(|k| matches!(k, RuleKind::DenyAll)) {
        return (Allowed::None, Vec::new());
    }
    if rules.iter().any(|k| matches!(k, RuleKind::AllowAll)) {
        return (Allowed::All, Vec::new());
    }
    let mut own_allowed: Option<Vec<String>> = None;
    let mut own_denied = Vec::new();
    for k in rules {
        if let RuleKind::Values {
            allowed_values,
            denied_values,
        } = k
        {
            if !allowed_values.is_empty() {
                own_allowed = Some(union(
                    own_allowed.unwrap_or_default(),
                    allowed_values.iter().map(|v| normalise(v)),
                ));
            }
            own_denied = union(own_denied, denied_values.iter().map(|v| normalise(v)));
        }
    }
    if !spec.inherit_from_parent {
        return (own_allowed.map_or(Allowed::All, Allowed::Only), own_denied);
    }
    let (p_allowed, p_denied) = parent;
    let allowed = match (p_allowed, own_allowed) {
        (Allowed::All, _) => Allowed::All,
        (Allowed::None, _) => Allowed::None,
        (Allowed::Only(p), None) => Allowed::Only(p),
        (Allowed::Only(p), Some(c)) => Allowed::Only(union(p, c)),
    };
    (allowed, union(p_denied, own_denied))
}
