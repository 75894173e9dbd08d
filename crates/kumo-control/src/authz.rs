//! The single authorization entry of the control plane. `authorize` gathers the snapshot the IAM
//! engine needs — the ancestry from the resource to the organization, the allow policy on each
//! node, the caller's groups and domain, the time — then asks the engine and records the decision
//! for the audit log. The engine never reads the store.
//!
//! Compiled policies and ancestries are cached until the next IAM-relevant write (a policy, a
//! custom role, a project or folder move, a directory change): `invalidate_iam` bumps a
//! generation counter and the caches drop everything older.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use kumo_iam::{Access, CompiledPolicy, Engine, RoleCatalog};
use kumo_names::ResourceName;
use kumo_store::{ListQuery, Store};
use serde_json::Value;

use crate::records::Collection;
use crate::{AuthorizationRecord, Call, Caller, Control, Error, ResourceRef};

/// Compiled policies by full resource name (`None`: the resource has no policy), valid for
/// the IAM generation they were read at.
type PolicyCache = (u64, HashMap<String, Option<Arc<CompiledPolicy>>>);

/// The IAM engine and the caches in front of it.
pub(crate) struct IamState {
    generation: AtomicU64,
    engine: RwLock<Arc<Engine>>,
    policies: RwLock<PolicyCache>,
}

impl IamState {
    pub(crate) fn load(store: &dyn Store) -> Result<IamState, Error> {
        Ok(IamState {
            generation: AtomicU64::new(1),
            engine: RwLock::new(Arc::new(build_engine(store)?)),
            policies: RwLock::new((1, HashMap::new())),
        })
    }
}

fn build_engine(store: &dyn Store) -> Result<Engine, Error> {
    let page = store
        .list(Collection::CustomRoles.as_str(), &ListQuery::default())
        .map_err(crate::records::store_error)?;
    let mut catalog = RoleCatalog::new().map_err(Error::internal)?;
    for record in page.records {
        let role: kumo_iam::CustomRole = serde_json::from_value(record.data).map_err(|error| {
            Error::internal(format!("corrupt custom role `{}`: {error}", record.name))
        })?;
        catalog.upsert_custom(role).map_err(Error::internal)?;
    }
    Ok(Engine::new(Arc::new(catalog)))
}

impl Control {
    /// Checks `permission` on `resource` for the call's caller, records the decision, and refuses
    /// with Google's PERMISSION_DENIED text.
    pub fn authorize(
        &self,
        call: &Call,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<(), Error> {
        let granted = self.has_permission(&call.caller, permission, resource)?;
        call.record(AuthorizationRecord {
            resource: resource.relative_name(),
            permission: permission.to_owned(),
            granted,
        });
        if granted {
            Ok(())
        } else {
            Err(Error::permission_denied(
                permission,
                &resource.relative_name(),
            ))
        }
    }

    /// Decides without recording. Errors on the way (an unreadable policy) are errors, never a
    /// grant.
    pub fn has_permission(
        &self,
        caller: &Caller,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<bool, Error> {
        Ok(self.access(caller, permission, resource)? == Access::Granted)
    }

    /// The engine's access state for `caller` (a condition that cannot be evaluated is
    /// `UnknownConditional`, which callers treat as not granted).
    pub fn access(
        &self,
        caller: &Caller,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<Access, Error> {
        let permission: kumo_names::Permission =
            permission.parse().map_err(|error: kumo_names::NameError| {
                Error::invalid_field("permission", error.to_string())
            })?;
        self.access_in(caller, &permission, resource, self.ancestry(resource)?)
    }

    /// [`Control::has_permission`] on a project or folder whose parent the caller has already
    /// read (from a list page): its ancestry is the resource above `parent_ancestry`, so the
    /// resource itself is not read again. `parent_ancestry` is [`Control::ancestry`] of the
    /// parent (empty for none); callers deciding on many resources read it once per parent.
    pub(crate) fn has_permission_under(
        &self,
        caller: &Caller,
        permission: &str,
        resource: &ResourceRef,
        parent_ancestry: &[ResourceRef],
    ) -> Result<bool, Error> {
        let permission: kumo_names::Permission =
            permission.parse().map_err(|error: kumo_names::NameError| {
                Error::invalid_field("permission", error.to_string())
            })?;
        let mut chain = Vec::with_capacity(parent_ancestry.len() + 1);
        chain.push(resource.clone());
        chain.extend_from_slice(parent_ancestry);
        Ok(self.access_in(caller, &permission, resource, chain)? == Access::Granted)
    }

    /// The engine's decision over `chain`, the ancestry of `resource` (itself first).
    fn access_in(
        &self,
        caller: &Caller,
        permission: &kumo_names::Permission,
        resource: &ResourceRef,
        chain: Vec<ResourceRef>,
    ) -> Result<Access, Error> {
        let subject = self.subject_of(caller)?;
        let snapshot = self.snapshot_of(chain)?;
        let engine = self.engine();
        let ancestry = snapshot.ancestry();
        let context = self.request_context(resource);
        Ok(engine
            .check(&kumo_iam::AccessRequest {
                subject: &subject,
                permission,
                ancestry: &ancestry,
                context: &context,
            })
            .access)
    }

    /// The engine's explanation (for the troubleshooter, dev-mode refusals and `iam troubleshoot`).
    pub fn explain(
        &self,
        caller: &Caller,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<kumo_iam::Explanation, Error> {
        let permission: kumo_names::Permission =
            permission.parse().map_err(|error: kumo_names::NameError| {
                Error::invalid_field("permission", error.to_string())
            })?;
        let subject = self.subject_of(caller)?;
        let snapshot = self.snapshot(resource)?;
        let engine = self.engine();
        let ancestry = snapshot.ancestry();
        let context = self.request_context(resource);
        Ok(engine.explain(&kumo_iam::AccessRequest {
            subject: &subject,
            permission: &permission,
            ancestry: &ancestry,
            context: &context,
        }))
    }

    /// The current engine (catalog + custom roles).
    pub fn engine(&self) -> Arc<Engine> {
        match self.inner.iam.engine.read() {
            Ok(engine) => engine.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds the engine after a custom role changed.
    pub fn reload_custom_roles(&self) -> Result<(), Error> {
        let engine = Arc::new(build_engine(self.store())?);
        match self.inner.iam.engine.write() {
            Ok(mut slot) => *slot = engine,
            Err(poisoned) => *poisoned.into_inner() = engine,
        }
        self.invalidate_iam();
        Ok(())
    }

    /// Drops every cached policy and ancestry: the next decision sees the store as it is now.
    pub fn invalidate_iam(&self) {
        self.inner.iam.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A number that changes whenever an IAM-relevant write happened (for callers' own caches).
    pub fn iam_generation(&self) -> u64 {
        self.inner.iam.generation.load(Ordering::SeqCst)
    }

    fn request_context(&self, resource: &ResourceRef) -> kumo_iam::RequestContext {
        kumo_iam::RequestContext {
            now: self.now(),
            resource_type: resource.resource_type().to_owned(),
            resource_service: resource.service().to_owned(),
        }
    }

    /// The caller as the engine sees it: identity, transitive groups, domain.
    fn subject_of(&self, caller: &Caller) -> Result<kumo_iam::Subject, Error> {
        Ok(match caller {
            Caller::Anonymous => kumo_iam::Subject::anonymous(),
            Caller::User { email } => {
                kumo_iam::Subject::user(email).with_groups(self.directory_groups(email)?)
            }
            Caller::ServiceAccount { email } => {
                kumo_iam::Subject::service_account(email).with_groups(self.directory_groups(email)?)
            }
        })
    }

    /// The ancestry of `resource` with the policy on each node, from the cache when fresh.
    fn snapshot(&self, resource: &ResourceRef) -> Result<Snapshot, Error> {
        self.snapshot_of(self.ancestry(resource)?)
    }

    /// The policy on each node of `chain`, from the cache when fresh.
    fn snapshot_of(&self, chain: Vec<ResourceRef>) -> Result<Snapshot, Error> {
        let mut nodes = Vec::with_capacity(chain.len());
        for node in chain {
            let policy = self.cached_policy(&node)?;
            let name = ResourceName::new(node.service(), &node.relative_name())
                .map_err(|error| Error::internal(format!("resource name: {error}")))?;
            nodes.push((name, policy));
        }
        Ok(Snapshot { nodes })
    }

    fn cached_policy(&self, resource: &ResourceRef) -> Result<Option<Arc<CompiledPolicy>>, Error> {
        let name = resource.full_name();
        let generation = self.iam_generation();
        if let Ok(cache) = self.inner.iam.policies.read()
            && cache.0 == generation
            && let Some(policy) = cache.1.get(&name)
        {
            return Ok(policy.clone());
        }
        let policy = match self.load::<Value>(Collection::IamPolicies, &name)? {
            Some(stored) => {
                let policy = engine_policy(&stored.value)?;
                Some(Arc::new(CompiledPolicy::compile(
                    &policy,
                    self.engine().catalog(),
                )))
            }
            None => None,
        };
        if let Ok(mut cache) = self.inner.iam.policies.write() {
            if cache.0 != generation {
                *cache = (generation, HashMap::new());
            }
            cache.1.insert(name, policy.clone());
        }
        Ok(policy)
    }
}

/// The ancestry with policies, owned so that the engine can borrow from it.
struct Snapshot {
    nodes: Vec<(ResourceName, Option<Arc<CompiledPolicy>>)>,
}

impl Snapshot {
    fn ancestry(&self) -> kumo_iam::Ancestry<'_> {
        kumo_iam::Ancestry::new(
            self.nodes
                .iter()
                .map(|(resource, policy)| kumo_iam::Node {
                    resource,
                    policy: policy.as_deref(),
                })
                .collect(),
        )
    }
}

/// A stored policy (Google's JSON) as the engine's type. A stored policy that no longer parses is
/// an internal error, never an empty policy: fail closed.
pub(crate) fn engine_policy(value: &Value) -> Result<kumo_iam::Policy, Error> {
    crate::iam_policy::parse_policy(value)
        .map_err(|error| Error::internal(format!("stored policy does not parse: {error}")))
}
