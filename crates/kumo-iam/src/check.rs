//! Access decisions. A policy is compiled once (`CompiledPolicy`): each binding shares its
//! role's permission bitset with the catalog, and the members are indexed by fingerprint
//! (`members::MemberIndex`). A check resolves the caller once into its member keys, then walks
//! the ancestry probing each node's index, without allocating. Decisions are values: a condition
//! that cannot be evaluated never grants and yields `UnknownConditional`. Deny policies (IAM v2)
//! would be a second pass before this one.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kumo_names::{Permission, ResourceName, RoleName};

use crate::catalog::{PermId, RoleBits, RoleCatalog};
use crate::condition::{Activation, Condition};
use crate::explain::Explanation;
use crate::hierarchy::{Ancestry, Subject};
use crate::members::{MemberIndex, PUBLIC_KEYS, ResolvedSubject};
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
    /// The role's name and permissions as a bitset over `PermId`s, shared with the catalog's
    /// role definition (one copy per role, not per binding); `None`: a role the catalog does
    /// not know (grants nothing).
    pub(crate) role: Option<Arc<RoleBits>>,
    /// `None`: unconditional. `Some(Err)`: unparseable, never grants.
    pub(crate) condition: Option<Result<Condition, String>>,
}

/// A policy compiled against a catalog. Recompile when the policy or a custom role changes.
#[derive(Debug)]
pub struct CompiledPolicy {
    members: MemberIndex,
    pub(crate) bindings: Vec<CompiledBinding>,
    policy: Policy,
}

/// Bytes a compiled policy holds, by part (for capacity and cache accounting; the policy's own
/// copy and its strings are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// The `CompiledPolicy` struct: the index's header line and near filter blocks, the tables'
    /// addresses, the policy's fields.
    pub header: usize,
    /// Filter blocks outside it.
    pub blocks: usize,
    /// The member slot table.
    pub slots: usize,
    /// Binding ids of members named by more than one binding.
    pub spill: usize,
    /// The compiled binding records (role, condition).
    pub bindings: usize,
}

impl std::ops::AddAssign for Footprint {
    fn add_assign(&mut self, o: Footprint) {
        self.header += o.header;
        self.blocks += o.blocks;
        self.slots += o.slots;
        self.spill += o.spill;
        self.bindings += o.bindings;
    }
}

impl CompiledPolicy {
    /// The bytes this policy holds, by part.
    pub fn footprint(&self) -> Footprint {
        let (blocks, slots, spill) = self.members.heap_bytes();
        Footprint {
            header: std::mem::size_of::<CompiledPolicy>(),
            blocks,
            slots,
            spill,
            bindings: std::mem::size_of_val::<[CompiledBinding]>(&self.bindings),
        }
    }

    /// Compiles without validating; unknown roles grant nothing (fail closed).
    pub fn compile(policy: &Policy, catalog: &RoleCatalog) -> CompiledPolicy {
        let bindings: Vec<CompiledBinding> = policy
            .bindings
            .iter()
            .map(|b| CompiledBinding {
                role: catalog.role(&b.role).map(|r| r.shared_permission_bits()),
                condition: b
                    .condition
                    .as_ref()
                    .map(|e| Condition::parse(&e.expression).map_err(|e| e.to_string())),
            })
            .collect();
        CompiledPolicy {
            members: MemberIndex::build(policy.bindings.iter().zip(&bindings).map(|(b, cb)| {
                let unconditional = cb.condition.is_none();
                (
                    b.members.as_slice(),
                    cb.role.as_ref().filter(|_| unconditional),
                )
            })),
            bindings,
            policy: policy.clone(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The first binding (in key order: allUsers, allAuthenticatedUsers, the identity, groups,
    /// domain) naming the caller whose role holds `perm` and for which `f` (its condition)
    /// returns true, with its role's name. A member's first binding, when unconditional, is
    /// decided by the role its slot carries, without reading the binding's record.
    fn find_binding(
        &self,
        s: &ResolvedSubject<'_>,
        perm: PermId,
        mut f: impl FnMut(&CompiledBinding) -> bool,
    ) -> Option<(u32, &RoleName)> {
        for (k, &hash) in s.hashes().iter().enumerate() {
            let Some(found) = self.members.lookup(hash, k < PUBLIC_KEYS, || s.keyed(k)) else {
                continue;
            };
            let mut ids = found.ids.iter();
            if let Some(role) = found.first_role
                && let Some(&first) = ids.next()
                && role.holds(perm)
            {
                return Some((first, &role.name));
            }
            let rest = ids.as_slice();
            if !rest.is_empty()
                && let Some(hit) = self.find_in_records(rest, perm, &mut f)
            {
                return Some(hit);
            }
        }
        None
    }

    /// The first of `ids` whose role holds `perm` and for which `f` returns true, from the
    /// binding records. Out of line: most hits are decided by the slot alone, and inlined, the
    /// compiler loaded the records' addresses (a cold line of the policy) for every node.
    #[inline(never)]
    fn find_in_records(
        &self,
        ids: &[u32],
        perm: PermId,
        f: &mut impl FnMut(&CompiledBinding) -> bool,
    ) -> Option<(u32, &RoleName)> {
        let &i = ids.iter().find(|&&i| {
            let b = &self.bindings[i as usize];
            b.role.as_ref().is_some_and(|r| r.holds(perm)) && f(b)
        })?;
        Some((i, &self.policy.bindings[i as usize].role))
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

const NOT_GRANTED: Decision<'static> = Decision {
    access: Access::NotGranted,
    granted_by: None,
};

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
        match self.catalog.permission_id(req.permission) {
            Some(perm) => {
                // Start the policy headers' cache lines on their way before hashing the caller's
                // strings: their misses then overlap instead of following each other.
                let warm = req
                    .ancestry
                    .nodes()
                    .iter()
                    .filter_map(|n| n.policy)
                    .fold(0, |acc, cp| acc ^ cp.members.touch());
                std::hint::black_box(warm);
                self.check_resolved(&req.subject.resolve(), perm, req.ancestry, req.context)
            }
            None => NOT_GRANTED,
        }
    }

    /// `check` for a caller resolved beforehand and an interned permission id (from
    /// `RoleCatalog::permission_id`): the form for deciding many permissions or resources for
    /// one caller.
    pub fn check_resolved<'a>(
        &self,
        subject: &ResolvedSubject<'_>,
        perm: PermId,
        ancestry: &'a Ancestry<'a>,
        context: &RequestContext,
    ) -> Decision<'a> {
        // Read only for a conditional binding: the resource's name is one more cold line.
        let resource_name = || {
            ancestry
                .resource()
                .map(ResourceName::relative)
                .unwrap_or_default()
        };
        // Load every (large policy, caller's own key) filter block before testing any: their
        // addresses depend only on the headers and the hashes, so their misses overlap instead
        // of coming one by one along the walk.
        let own = subject.hashes().get(PUBLIC_KEYS..).unwrap_or_default();
        let warm = ancestry
            .nodes()
            .iter()
            .filter_map(|n| n.policy.filter(|cp| cp.members.has_blocks()))
            .fold(0, |acc, cp| {
                own.iter().fold(acc, |a, &h| a ^ cp.members.block_word(h))
            });
        std::hint::black_box(warm);
        let mut unknown = false;
        for (n, node) in ancestry.nodes().iter().enumerate() {
            let Some(cp) = node.policy else { continue };
            let hit = cp.find_binding(subject, perm, |b| {
                match eval_condition(b, resource_name(), context) {
                    ConditionOutcome::None | ConditionOutcome::True => true,
                    ConditionOutcome::False => false,
                    ConditionOutcome::Error => {
                        unknown = true;
                        false
                    }
                }
            });
            if let Some((binding, role)) = hit {
                return Decision {
                    access: Access::Granted,
                    granted_by: Some(Grant {
                        node: n,
                        resource: node.resource,
                        binding: binding as usize,
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
            NOT_GRANTED
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
        let resolved = subject.resolve();
        permissions
            .iter()
            .filter(|p| {
                self.catalog.permission_id(p).is_some_and(|id| {
                    self.check_resolved(&resolved, id, ancestry, context).access == Access::Granted
                })
            })
            .cloned()
            .collect()
    }

    pub fn explain(&self, req: &AccessRequest<'_>) -> Explanation {
        crate::explain::explain(&self.catalog, req)
    }
}
