//! IAM allow policies (google.iam.v1.Policy) and their validation. Serde derives are for
//! Kumo's own persistence (snake_case); the wire shape lives in kumo-wire.

use kumo_names::{Etag, Principal, RoleKind, RoleName};
use serde::{Deserialize, Serialize};

use crate::catalog::RoleCatalog;
use crate::error::{IamError, thousands};

/// Principals per policy, counting every occurrence (iam-orgpolicy-semantics §1.7).
pub const MAX_PRINCIPALS: usize = 1_500;
/// Groups, domains and accounts per policy (§1.7).
pub const MAX_GROUPS_AND_DOMAINS: usize = 250;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub version: i32,
    pub bindings: Vec<Binding>,
    #[serde(default)]
    pub audit_configs: Vec<AuditConfig>,
    #[serde(default)]
    pub etag: Etag,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub role: RoleName,
    pub members: Vec<Principal>,
    #[serde(default)]
    pub condition: Option<Expr>,
}

/// google.type.Expr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expr {
    pub expression: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub service: String,
    pub audit_log_configs: Vec<AuditLogConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogType {
    LogTypeUnspecified,
    AdminRead,
    DataWrite,
    DataRead,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditLogConfig {
    pub log_type: LogType,
    #[serde(default)]
    pub exempted_members: Vec<Principal>,
}

impl Policy {
    pub fn has_conditions(&self) -> bool {
        self.bindings.iter().any(|b| b.condition.is_some())
    }

    /// Google's setIamPolicy rules: version in {0,1,3}, conditions need 3, every role known,
    /// no empty binding, member limits, parseable conditions.
    pub fn validate(&self, catalog: &RoleCatalog) -> Result<(), IamError> {
        if ![0, 1, 3].contains(&self.version) {
            return Err(IamError::InvalidVersion(self.version));
        }
        if self.version != 3 && self.has_conditions() {
            return Err(IamError::ConditionNeedsVersion3(self.version));
        }
        let mut principals = 0usize;
        let mut special = 0usize;
        let mut groups: Vec<&str> = Vec::new();
        for b in &self.bindings {
            if catalog.role(&b.role).is_none() {
                return Err(IamError::UnknownRole(b.role.clone()));
            }
            if b.members.is_empty() {
                return Err(IamError::EmptyMembers(b.role.clone()));
            }
            if let Some(c) = &b.condition {
                crate::condition::Condition::parse(&c.expression)
                    .map_err(|e| IamError::InvalidCondition(e.to_string()))?;
            }
            principals += b.members.len();
            for m in &b.members {
                match m {
                    Principal::Group(g) if !groups.contains(&g.as_str()) => groups.push(g),
                    Principal::Domain(_) => special += 1,
                    _ => {}
                }
            }
        }
        principals += self
            .audit_configs
            .iter()
            .flat_map(|a| a.audit_log_configs.iter())
            .map(|c| c.exempted_members.len())
            .sum::<usize>();
        if principals > MAX_PRINCIPALS {
            return Err(IamError::TooManyMembers(thousands(principals)));
        }
        if special + groups.len() > MAX_GROUPS_AND_DOMAINS {
            return Err(IamError::TooManyGroupsAndDomains(special + groups.len()));
        }
        Ok(())
    }

    /// The form Google stores and returns: bindings of the same role and condition merged
    /// into one, each binding's members deduplicated and sorted, bindings ordered by role
    /// (a role's unconditional binding before its conditional ones, which keep their order).
    /// Validate first: the limits count every occurrence as written.
    pub fn canonicalize(&mut self) {
        let mut merged: Vec<Binding> = Vec::with_capacity(self.bindings.len());
        for binding in self.bindings.drain(..) {
            // At most 1,500 members, so at most as many bindings: a scan is cheap enough.
            match merged
                .iter_mut()
                .find(|m| m.role == binding.role && m.condition == binding.condition)
            {
                Some(same) => same.members.extend(binding.members),
                None => merged.push(binding),
            }
        }
        for binding in &mut merged {
            binding.members.sort_by_cached_key(ToString::to_string);
            binding.members.dedup();
        }
        merged.sort_by(|a, b| {
            a.role
                .cmp(&b.role)
                .then(a.condition.is_some().cmp(&b.condition.is_some()))
        });
        self.bindings = merged;
    }

    /// A custom role can only be granted in policies of the project or organization that defines
    /// it, or of resources under them. `ancestry` holds the relative names of the policy's
    /// resource and its ancestors (`projects/my-project`, `folders/1`, `organizations/2`, …);
    /// list a project under both its id and its number if roles may name either.
    pub fn validate_custom_role_scope(&self, ancestry: &[&str]) -> Result<(), IamError> {
        for b in &self.bindings {
            let owner = match (b.role.kind(), b.role.parent_id()) {
                (RoleKind::Project, Some(p)) => ("projects", p),
                (RoleKind::Organization, Some(o)) => ("organizations", o),
                _ => continue,
            };
            let in_scope = ancestry.iter().any(|a| {
                a.split_once('/')
                    .is_some_and(|(collection, id)| (collection, id) == owner)
            });
            if !in_scope {
                return Err(IamError::RoleNotInHierarchy(b.role.clone()));
            }
        }
        Ok(())
    }
}
