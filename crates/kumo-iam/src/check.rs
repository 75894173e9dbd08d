//! Access decisions. A policy is compiled once (`CompiledPolicy`) into per-member binding
//! lists and per-binding sorted permission ids, so `Engine::check` walks the ancestry without
//! allocating. Decisions are values: a condition that cannot be evaluated never grants and
//! yields `UnknownConditional`. Deny policies (IAM v2) would be a second pass before this one.

use std::collections::HashMap;

/// Member → binding maps are probed on every check; a fast non-cryptographic hasher keeps the
/// probes cheap (the keys are principal emails, not attacker-chosen at volume).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use kumo_names::{Permission, Principal, ResourceName, RoleName};

use crate::catalog::{PermId, RoleCatalog};
use crate::condition::{Activation, Condition};
use crate::explain::Explanation;
use crate::hierarchy::{Ancestry, Identity, Subject};
use crate::policy::Policy;

/// Request facts used by conditions; `resource.name` is the first ancestry node's relative name.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub now: DateTime<Utc>,
    pub resource_type: String,
    pub resource_service: String,
}

#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    pub subject: &'a Subject,
    pub permission: &'a Permission,
    pub ancestry: &'a Ancestry<'a>,
    pub context: &'a RequestContext,
}

/// Policy Troubleshooter's `AccessState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Granted,
    NotGranted,
    UnknownConditional,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Granted => "GRANTED",
            Access::NotGranted => "NOT_GRANTED",
            Access::UnknownConditional => "UNKNOWN_CONDITIONAL",
        }
    }
}

/// Which binding granted access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant<'a> {
    /// Index into the ancestry (0 = the resource itself).
    pub node: usize,
    pub resource: &'a ResourceName,
    pub binding: usize,
    pub role: &'a RoleName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    pub access: Access,
    pub granted_by: Option<Grant<'a>>,
}

/// A binding with its role's permissions resolved and its condition parsed.
#[derive(Debug)]
pub(crate) struct CompiledBinding {
    pub(crate) permissions: Vec<PermId>,
    /// `None`: unconditional. `Some(Err)`: unparseable, never grants.
    pub(crate) condition: Option<Result<Condition, String>>,
}

/// A policy compiled against a catalog. Recompile when the policy or a custom role changes.
#[derive(Debug)]
pub struct CompiledPolicy {
    policy: Policy,
    pub(crate) bindings: Vec<CompiledBinding>,
    users: FastMap<String, Vec<u32>>,
    service_accounts: FastMap<String, Vec<u32>>,
    groups: FastMap<String, Vec<u32>>,
    domains: FastMap<String, Vec<u32>>,
    all_users: Vec<u32>,
    all_authenticated: Vec<u32>,
}

impl CompiledPolicy {
    /// Compiles without validating; unknown roles grant nothing (fail closed).
    pub fn compile(policy: &Policy, catalog: &RoleCatalog) -> CompiledPolicy {
        let mut c = CompiledPolicy {
            policy: policy.clone(),
            bindings: Vec::with_capacity(policy.bindings.len()),
            users: FastMap::default(),
            service_accounts: FastMap::default(),
            groups: FastMap::default(),
            domains: FastMap::default(),
            all_users: Vec::new(),
            all_authenticated: Vec::new(),
        };
        for (i, b) in policy.bindings.iter().enumerate() {
            let idx = i as u32;
            let permissions = catalog
                .role(&b.role)
                .map(|r| r.permission_ids().to_vec())
                .unwrap_or_default();
            let condition = b
                .condition
                .as_ref()
                .map(|e| Condition::parse(&e.expression).map_err(|e| e.to_string()));
            c.bindings.push(CompiledBinding {
                permissions,
                condition,
            });
            for m in &b.members {
                let list = match m {
                    Principal::User(e) => c.users.entry(e.to_ascii_lowercase()).or_default(),
                    Principal::ServiceAccount(e) => c
                        .service_accounts
                        .entry(e.as_ref().to_ascii_lowercase())
                        .or_default(),
                    Principal::Group(e) => c.groups.entry(e.to_ascii_lowercase()).or_default(),
                    Principal::Domain(d) => c.domains.entry(d.to_ascii_lowercase()).or_default(),
                    Principal::AllUsers => &mut c.all_users,
                    Principal::AllAuthenticatedUsers => &mut c.all_authenticated,
                    // Deleted principals and federated identities never match a Kumo subject.
                    Principal::Deleted { .. }
                    | Principal::PrincipalUri(_)
                    | Principal::PrincipalSetUri(_) => continue,
                };
                if list.last() != Some(&idx) {
                    list.push(idx);
                }
            }
        }
        c
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Calls `f` with every binding index whose members include the subject (maybe repeated).
    fn for_each_binding<F: FnMut(u32) -> bool>(&self, s: &Subject, mut f: F) -> bool {
        let mut visit = |list: Option<&Vec<u32>>| list.is_some_and(|l| l.iter().any(|&i| f(i)));
        if visit(Some(&self.all_users)) {
            return true;
        }
        if s.is_authenticated() && visit(Some(&self.all_authenticated)) {
            return true;
        }
        match &s.identity {
            Identity::Anonymous => return false,
            Identity::User { email } => {
                if visit(lookup(&self.users, email)) {
                    return true;
                }
            }
            Identity::ServiceAccount { email } => {
                if visit(lookup(&self.service_accounts, email)) {
                    return true;
                }
            }
        }
        if s.groups.iter().any(|g| visit(lookup(&self.groups, g))) {
            return true;
        }
        s.domain
            .as_deref()
            .is_some_and(|d| visit(lookup(&self.domains, d)))
    }
}

/// Emails are compared case-insensitively; keys are stored lowercased. Lowercasing the probe
/// would allocate, so try the exact text first, then a lowercase copy only for mixed case.
fn lookup<'m>(map: &'m FastMap<String, Vec<u32>>, key: &str) -> Option<&'m Vec<u32>> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        map.get(&key.to_ascii_lowercase())
    } else {
        map.get(key)
    }
}

/// Outcome of one binding for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConditionOutcome {
    None,
    True,
    False,
    Error,
}

pub(crate) fn eval_condition(
    b: &CompiledBinding,
    resource_name: &str,
    ctx: &RequestContext,
) -> ConditionOutcome {
    match &b.condition {
        None => ConditionOutcome::None,
        Some(Err(_)) => ConditionOutcome::Error,
        Some(Ok(c)) => {
            let act = Activation {
                request_time: ctx.now,
                resource_name,
                resource_type: &ctx.resource_type,
                resource_service: &ctx.resource_service,
            };
            match c.evaluate(&act) {
                Ok(true) => ConditionOutcome::True,
                Ok(false) => ConditionOutcome::False,
                Err(_) => ConditionOutcome::Error,
            }
        }
    }
}

/// The IAM decision facade.
#[derive(Debug, Clone)]
pub struct Engine {
    catalog: Arc<RoleCatalog>,
}

impl Engine {
    pub fn new(catalog: Arc<RoleCatalog>) -> Engine {
        Engine { catalog }
    }

    pub fn catalog(&self) -> &RoleCatalog {
        &self.catalog
    }

    pub fn check<'a>(&self, req: &AccessRequest<'a>) -> Decision<'a> {
        let not = Decision {
            access: Access::NotGranted,
            granted_by: None,
        };
        let Some(perm) = self.catalog.permission_id(req.permission) else {
            return not;
        };
        let resource_name = req
            .ancestry
            .resource()
            .map(ResourceName::relative)
            .unwrap_or_default();
        let mut unknown = false;
        for (n, node) in req.ancestry.nodes.iter().enumerate() {
            let Some(cp) = node.policy else { continue };
            let mut hit = None;
            cp.for_each_binding(req.subject, |i| {
                let b = &cp.bindings[i as usize];
                if b.permissions.binary_search(&perm).is_err() {
                    return false;
                }
                match eval_condition(b, resource_name, req.context) {
                    ConditionOutcome::None | ConditionOutcome::True => {
                        hit = Some(i as usize);
                        true
                    }
                    ConditionOutcome::False => false,
                    ConditionOutcome::Error => {
                        unknown = true;
                        false
                    }
                }
            });
            if let Some(i) = hit {
                let role = &cp.policy.bindings[i].role;
                return Decision {
                    access: Access::Granted,
                    granted_by: Some(Grant {
                        node: n,
                        resource: node.resource,
                        binding: i,
                        role,
                    }),
                };
            }
        }
        if unknown {
            Decision {
                access: Access::UnknownConditional,
                granted_by: None,
            }
        } else {
            not
        }
    }

    /// The subset of `permissions` granted (testIamPermissions semantics: unknown-conditional is not granted).
    pub fn test_permissions(
        &self,
        subject: &Subject,
        permissions: &[Permission],
        ancestry: &Ancestry<'_>,
        context: &RequestContext,
    ) -> Vec<Permission> {
        permissions
            .iter()
            .filter(|p| {
                let req = AccessRequest {
                    subject,
                    permission: p,
                    ancestry,
                    context,
                };
                self.check(&req).access == Access::Granted
            })
            .cloned()
            .collect()
    }

    pub fn explain(&self, req: &AccessRequest<'_>) -> Explanation {
        crate::explain::explain(&self.catalog, req)
    }
}
