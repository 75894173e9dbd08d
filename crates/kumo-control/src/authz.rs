//! The single authorization entry of the control plane. `authorize` gathers the snapshot the IAM
//! engine needs — the ancestry from the resource to the organization, the allow policy on each
//! node, the caller's groups and domain, the time — then asks the engine and records the decision
//! for the audit log. The engine never reads the store.
//!
//! Compiled policies and ancestries are cached until the next IAM-relevant write (a policy, a
//! custom role, a project or folder move, a directory change): `invalidate_iam` bumps a
//! generation counter and the caches drop everything older.
//!
//! With an IAM propagation delay (`kumo up --iam-propagation-delay`), every IAM change also
//! keeps a snapshot of all allow policies (and the engine) with the time it was committed; the
//! data plane ([`Control::iam_view`]) decides on the newest snapshot at least DELAY old. The
//! control plane always decides on the store as it is now.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

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
    propagation: Propagation,
}

impl IamState {
    pub(crate) fn load(store: &dyn Store) -> Result<IamState, Error> {
        Ok(IamState {
            generation: AtomicU64::new(1),
            engine: RwLock::new(Arc::new(build_engine(store)?)),
            policies: RwLock::new((1, HashMap::new())),
            propagation: Propagation::default(),
        })
    }
}

/// The simulated propagation of allow-policy changes to the data plane.
#[derive(Default)]
struct Propagation {
    /// The delay in milliseconds; 0 = immediate (no snapshots are kept).
    delay_ms: AtomicU64,
    /// Snapshots, oldest first: the newest one at least DELAY old and every newer one.
    versions: Mutex<VecDeque<Arc<PolicyVersion>>>,
    /// Serializes taking snapshots, so that they are pushed in the order they were read.
    taking: Mutex<()>,
    /// Numbers the snapshots (each reads the store anew, so two are never the same view).
    snapshots: AtomicU64,
}

/// Marks a snapshot's number in [`IamView::generation`], apart from live IAM generations.
const SNAPSHOT_TAG: u64 = 1 << 63;

/// Every allow policy and the engine as they were after an IAM change.
pub(crate) struct PolicyVersion {
    /// Unique per snapshot.
    number: u64,
    committed: chrono::DateTime<chrono::Utc>,
    engine: Arc<Engine>,
    /// Compiled policies by full resource name, with the store revision they were read at.
    policies: HashMap<String, (u64, Arc<CompiledPolicy>)>,
}

/// What the data plane decides on: the store as it is now, or (with a propagation delay) the
/// newest snapshot at least DELAY old.
pub(crate) enum IamView {
    /// No delay (or no snapshot): the current state, at this generation.
    Live(u64),
    /// A snapshot.
    Delayed(Arc<PolicyVersion>),
}

impl IamView {
    /// The generation decisions made on this view belong to (for callers' caches).
    pub(crate) fn generation(&self) -> u64 {
        match self {
            IamView::Live(generation) => *generation,
            IamView::Delayed(version) => version.number | SNAPSHOT_TAG,
        }
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
        record_and_refuse(call, permission, resource, granted)
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

    /// Drops every cached policy and ancestry: the next decision sees the store as it is now
    /// (the data plane's, with a propagation delay, DELAY later).
    pub fn invalidate_iam(&self) {
        self.inner.iam.generation.fetch_add(1, Ordering::SeqCst);
        if self.iam_propagation_delay().is_zero() {
            return;
        }
        if let Err(error) = self.take_policy_version(false) {
            // Without the snapshot the delayed view would hide this change for good (a revoked
            // grant would keep working): drop every snapshot, so decisions fall back to the
            // current state until the next change.
            tracing::warn!(%error, "cannot snapshot allow policies; IAM changes propagate immediately until the next one");
            if let Ok(mut versions) = self.inner.iam.propagation.versions.lock() {
                versions.clear();
            }
        }
    }

    /// Simulate Google's IAM propagation: an allow-policy change reaches the data plane's
    /// decisions (`run.routes.invoke`, IAP's `accessViaIAP`) only `delay` after it was
    /// committed. Zero (the default) is immediate. Called once at start-up.
    pub fn set_iam_propagation_delay(&self, delay: Duration) -> Result<(), Error> {
        let propagation = &self.inner.iam.propagation;
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        propagation.delay_ms.store(ms, Ordering::SeqCst);
        if let Ok(mut versions) = propagation.versions.lock() {
            versions.clear();
        }
        if ms > 0 {
            // What exists at start-up counts as propagated long ago.
            self.take_policy_version(true)?;
        }
        Ok(())
    }

    /// The configured propagation delay.
    pub fn iam_propagation_delay(&self) -> Duration {
        Duration::from_millis(self.inner.iam.propagation.delay_ms.load(Ordering::SeqCst))
    }

    /// Reads every allow policy (recompiling only those whose record changed, or all when the
    /// engine changed) and keeps them as a snapshot committed now (`initial`: long ago).
    fn take_policy_version(&self, initial: bool) -> Result<(), Error> {
        let propagation = &self.inner.iam.propagation;
        let _taking = propagation
            .taking
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Read under the lock: snapshots are pushed in the order of their commit times.
        let committed = if initial {
            chrono::DateTime::UNIX_EPOCH
        } else {
            self.now()
        };
        let engine = self.engine();
        let previous = propagation
            .versions
            .lock()
            .ok()
            .and_then(|versions| versions.back().cloned())
            .filter(|previous| Arc::ptr_eq(&previous.engine, &engine));
        let mut policies = HashMap::new();
        let mut query = ListQuery::default();
        loop {
            let page = self
                .store()
                .list(Collection::IamPolicies.as_str(), &query)
                .map_err(crate::records::store_error)?;
            for record in page.records {
                let reused = previous
                    .as_ref()
                    .and_then(|p| p.policies.get(&record.name))
                    .filter(|(revision, _)| *revision == record.revision)
                    .map(|(_, policy)| Arc::clone(policy));
                let policy = match reused {
                    Some(policy) => policy,
                    None => Arc::new(CompiledPolicy::compile(
                        &engine_policy(&record.data)?,
                        engine.catalog(),
                    )),
                };
                policies.insert(record.name, (record.revision, policy));
            }
            match page.next_page_token {
                Some(token) => query.page_token = Some(token),
                None => break,
            }
        }
        let version = Arc::new(PolicyVersion {
            number: propagation.snapshots.fetch_add(1, Ordering::SeqCst),
            committed,
            engine,
            policies,
        });
        if let Ok(mut versions) = propagation.versions.lock() {
            versions.push_back(version);
        }
        Ok(())
    }

    /// The view the data plane decides on now: with a propagation delay, the newest snapshot
    /// committed at least DELAY ago (older ones are dropped); else the current state.
    pub(crate) fn iam_view(&self) -> IamView {
        let delay = self.iam_propagation_delay();
        if delay.is_zero() {
            return IamView::Live(self.iam_generation());
        }
        let cutoff =
            self.now() - chrono::Duration::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
        let Ok(mut versions) = self.inner.iam.propagation.versions.lock() else {
            return IamView::Live(self.iam_generation());
        };
        while versions.len() > 1 && versions.get(1).is_some_and(|next| next.committed <= cutoff) {
            versions.pop_front();
        }
        match versions.front() {
            Some(version) if version.committed <= cutoff => IamView::Delayed(Arc::clone(version)),
            // Only changes younger than DELAY and nothing older: cannot happen after
            // `set_iam_propagation_delay`; decide on the current state.
            _ => IamView::Live(self.iam_generation()),
        }
    }

    /// [`Control::access`] as the data plane sees it: on `view`'s policies. The ancestry, the
    /// caller's groups and the request context are current (only allow policies and custom
    /// roles propagate with a delay).
    pub(crate) fn access_in_view(
        &self,
        view: &IamView,
        caller: &Caller,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<Access, Error> {
        let IamView::Delayed(version) = view else {
            return self.access(caller, permission, resource);
        };
        let permission: kumo_names::Permission =
            permission.parse().map_err(|error: kumo_names::NameError| {
                Error::invalid_field("permission", error.to_string())
            })?;
        let subject = self.subject_of(caller)?;
        let mut nodes = Vec::new();
        for node in self.ancestry(resource)? {
            let policy = version
                .policies
                .get(&node.full_name())
                .map(|(_, policy)| Arc::clone(policy));
            let name = ResourceName::new(node.service(), &node.relative_name())
                .map_err(|error| Error::internal(format!("resource name: {error}")))?;
            nodes.push((name, policy));
        }
        let snapshot = Snapshot { nodes };
        let ancestry = snapshot.ancestry();
        let context = self.request_context(resource);
        Ok(version
            .engine
            .check(&kumo_iam::AccessRequest {
                subject: &subject,
                permission: &permission,
                ancestry: &ancestry,
                context: &context,
            })
            .access)
    }

    /// [`Control::authorize`] for a data-plane decision (IAP's `accessViaIAP`): decided on
    /// [`Control::iam_view`], recorded and refused the same way.
    pub(crate) fn authorize_propagated(
        &self,
        call: &Call,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<(), Error> {
        let view = self.iam_view();
        let granted =
            self.access_in_view(&view, &call.caller, permission, resource)? == Access::Granted;
        record_and_refuse(call, permission, resource, granted)
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

/// Records a decision on the call (its audit entry's `authorizationInfo`) and refuses a denial
/// with Google's PERMISSION_DENIED text.
fn record_and_refuse(
    call: &Call,
    permission: &str,
    resource: &ResourceRef,
    granted: bool,
) -> Result<(), Error> {
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
