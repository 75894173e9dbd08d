//! The IAM benchmark workload (issue 2, "Speed"): one organization, nested folders, projects and
//! 10,000 Cloud Run services; N role grants (member × role on a node) across 20,000 principals and
//! nested groups; requests mixing run.routes.invoke / run.services.get / iam.serviceAccounts.actAs.
//!
//! The same workload is expressed twice: as kumo-iam allow policies compiled per node
//! (`CompiledPolicy`, as the control plane caches them), and as Cedar template-linked permits
//! over an entity store whose parents encode groups, the resource hierarchy and roles as
//! action groups. `Workload::agreement` proves both decide every request identically.

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cedar_policy as cedar;
use chrono::{TimeZone, Utc};
use kumo_iam::{
    Access, AccessRequest, Ancestry, Binding, CompiledPolicy, Engine, Footprint, Node, PermId,
    Policy, RequestContext, ResolvedSubject, RoleCatalog, Subject,
};
use kumo_names::{Permission, Principal, ResourceName, RoleName};

pub const SERVICES: usize = 10_000;
pub const PRINCIPALS: usize = 20_000;
const USERS: usize = 16_000;
const TOP_FOLDERS: usize = 10;
const SUB_FOLDERS: usize = 10;
const PROJECTS: usize = 500;
/// Groups: divisions ⊃ departments ⊃ teams (nested three deep).
const DIVISIONS: usize = 50;
const DEPARTMENTS: usize = 150;
const TEAMS: usize = 800;
const GROUPS: usize = DIVISIONS + DEPARTMENTS + TEAMS;

/// The request permission mix: (permission, weight in percent).
pub const PERMISSION_MIX: [(&str, u32); 3] = [
    ("run.routes.invoke", 60),
    ("run.services.get", 30),
    ("iam.serviceAccounts.actAs", 10),
];

/// Roles granted at each level, with weights.
const SERVICE_ROLES: &[(&str, u32)] = &[
    ("roles/run.invoker", 45),
    ("roles/run.servicesInvoker", 10),
    ("roles/run.viewer", 20),
    ("roles/run.developer", 15),
    ("roles/run.sourceViewer", 5),
    ("roles/run.admin", 5),
];
const PROJECT_ROLES: &[(&str, u32)] = &[
    ("roles/viewer", 30),
    ("roles/run.viewer", 20),
    ("roles/run.developer", 15),
    ("roles/iam.serviceAccountUser", 15),
    ("roles/editor", 10),
    ("roles/run.invoker", 8),
    ("roles/owner", 2),
];
const FOLDER_ROLES: &[(&str, u32)] = &[
    ("roles/browser", 30),
    ("roles/viewer", 30),
    ("roles/run.viewer", 25),
    ("roles/iam.serviceAccountUser", 10),
    ("roles/editor", 5),
];
const ORG_ROLES: &[(&str, u32)] = &[
    ("roles/browser", 50),
    ("roles/viewer", 30),
    ("roles/run.viewer", 15),
    ("roles/owner", 5),
];

/// splitmix64: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, weighted: &[(&'a str, u32)]) -> &'a str {
        let total: u32 = weighted.iter().map(|w| w.1).sum();
        let mut r = (self.next() % u64::from(total)) as u32;
        for (v, w) in weighted {
            if r < *w {
                return v;
            }
            r -= w;
        }
        weighted[0].0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Organization,
    Folder,
    Project,
    Service,
}

impl Level {
    fn cedar_type(self) -> &'static str {
        match self {
            Level::Organization => "Organization",
            Level::Folder => "Folder",
            Level::Project => "Project",
            Level::Service => "Service",
        }
    }
}

/// A member of a grant: a principal (user or service account) or a group, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Member {
    Principal(u32),
    Group(u32),
}

#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub principal: u32,
    pub permission: u32,
    /// Index into `Workload::services`.
    pub service: u32,
}

pub struct Workload {
    pub engine: Engine,
    pub resources: Vec<ResourceName>,
    pub levels: Vec<Level>,
    pub parent: Vec<Option<u32>>,
    /// Node ids of the Cloud Run services.
    pub services: Vec<u32>,
    /// Per node: role → members (the policy's bindings), in grant order.
    pub grants: Vec<Vec<(RoleName, Vec<Member>)>>,
    pub grant_count: usize,
    /// Per node, shared as the control plane's policy cache holds them (`kumo-control`'s
    /// `authz::PolicyCache`: one `Arc` per compiled policy).
    pub policies: Vec<Option<Arc<CompiledPolicy>>>,
    pub principal_emails: Vec<String>,
    pub group_emails: Vec<String>,
    pub principal_groups: Vec<Vec<u32>>,
    pub group_parents: Vec<Vec<u32>>,
    pub subjects: Vec<Subject>,
    pub permissions: Vec<Permission>,
    pub requests: Vec<Request>,
    pub context: RequestContext,
}

fn is_service_account(p: usize) -> bool {
    p >= USERS
}

impl Workload {
    /// Builds the hierarchy, directory and `grants` member × role grants, then compiles one
    /// policy per node. Deterministic for a given `grants`.
    pub fn build(grants: usize, requests: usize) -> Result<Workload, String> {
        let catalog = RoleCatalog::new().map_err(|e| e.to_string())?;
        let engine = Engine::new(Arc::new(catalog));
        let mut rng = Rng(0x6b75_6d6f ^ grants as u64);

        // Hierarchy.
        let mut resources = Vec::new();
        let mut levels = Vec::new();
        let mut parent = Vec::new();
        let mut add = |name: ResourceName, level: Level, p: Option<u32>| -> u32 {
            resources.push(name);
            levels.push(level);
            parent.push(p);
            (resources.len() - 1) as u32
        };
        let crm = "cloudresourcemanager.googleapis.com";
        let rn = |svc: &str, rel: String| ResourceName::new(svc, &rel).map_err(|e| e.to_string());
        let org = add(
            rn(crm, "organizations/123456789012".into())?,
            Level::Organization,
            None,
        );
        let mut leaf_folders = Vec::new();
        for t in 0..TOP_FOLDERS {
            let top = add(
                rn(crm, format!("folders/{}", 100_000 + t))?,
                Level::Folder,
                Some(org),
            );
            for s in 0..SUB_FOLDERS {
                let id = 200_000 + t * SUB_FOLDERS + s;
                leaf_folders.push(add(
                    rn(crm, format!("folders/{id}"))?,
                    Level::Folder,
                    Some(top),
                ));
            }
        }
        let mut projects = Vec::new();
        for p in 0..PROJECTS {
            let folder = leaf_folders[p % leaf_folders.len()];
            projects.push(add(
                rn(crm, format!("projects/proj-{p:04}"))?,
                Level::Project,
                Some(folder),
            ));
        }
        let mut services = Vec::new();
        for s in 0..SERVICES {
            let p = s % PROJECTS;
            services.push(add(
                rn(
                    "run.googleapis.com",
                    format!(
                        "projects/proj-{p:04}/locations/us-central1/services/svc-{:03}",
                        s / PROJECTS
                    ),
                )?,
                Level::Service,
                Some(projects[p]),
            ));
        }
        let folders: Vec<u32> = (0..resources.len() as u32)
            .filter(|&n| levels[n as usize] == Level::Folder)
            .collect();

        // Directory: nested groups and principals.
        let group_emails: Vec<String> = (0..GROUPS)
            .map(|g| match g {
                g if g < DIVISIONS => format!("division-{g}@example.com"),
                g if g < DIVISIONS + DEPARTMENTS => format!("dept-{g}@example.com"),
                g => format!("team-{g}@example.com"),
            })
            .collect();
        let group_parents: Vec<Vec<u32>> = (0..GROUPS)
            .map(|g| {
                if g < DIVISIONS {
                    Vec::new()
                } else if g < DIVISIONS + DEPARTMENTS {
                    vec![rng.below(DIVISIONS) as u32]
                } else {
                    let mut ps = vec![(DIVISIONS + rng.below(DEPARTMENTS)) as u32];
                    // Some teams sit in two departments.
                    if g % 5 == 0 {
                        let second = (DIVISIONS + rng.below(DEPARTMENTS)) as u32;
                        if second != ps[0] {
                            ps.push(second);
                        }
                    }
                    ps
                }
            })
            .collect();
        let team = |rng: &mut Rng| (DIVISIONS + DEPARTMENTS + rng.below(TEAMS)) as u32;
        let mut principal_emails = Vec::with_capacity(PRINCIPALS);
        let mut principal_groups = Vec::with_capacity(PRINCIPALS);
        for p in 0..PRINCIPALS {
            let mut gs = Vec::new();
            if is_service_account(p) {
                let project = (p - USERS) % PROJECTS;
                principal_emails.push(format!("sa-{p}@proj-{project:04}.iam.gserviceaccount.com"));
                if p % 2 == 0 {
                    gs.push(team(&mut rng));
                }
            } else {
                principal_emails.push(format!("user-{p}@example.com"));
                for _ in 0..1 + rng.below(3) {
                    let g = team(&mut rng);
                    if !gs.contains(&g) {
                        gs.push(g);
                    }
                }
            }
            principal_groups.push(gs);
        }
        let mut group_members: Vec<Vec<u32>> = vec![Vec::new(); GROUPS];
        for (p, gs) in principal_groups.iter().enumerate() {
            for &g in gs {
                group_members[g as usize].push(p as u32);
            }
        }
        let subjects = (0..PRINCIPALS)
            .map(|p| {
                let closure = transitive_groups(&principal_groups[p], &group_parents);
                let groups = closure
                    .into_iter()
                    .map(|g| group_emails[g as usize].clone());
                let email = &principal_emails[p];
                if is_service_account(p) {
                    Subject::service_account(email).with_groups(groups)
                } else {
                    Subject::user(email).with_groups(groups)
                }
            })
            .collect::<Vec<_>>();

        // Grants: 85% on services, 12% on projects, 2.9% on folders, 0.1% on the organization.
        let mut per_node: Vec<Vec<(RoleName, Vec<Member>)>> = vec![Vec::new(); resources.len()];
        let mut seen: HashSet<(u32, u32, Member)> = HashSet::with_capacity(grants);
        let mut role_ids: HashMap<&str, u32> = HashMap::new();
        let org_grants = grants / 1000;
        let folder_grants = grants * 29 / 1000;
        let project_grants = grants * 12 / 100;
        let mut made = 0usize;
        while made < grants {
            let (node, roles) = if made < org_grants {
                (org, ORG_ROLES)
            } else if made < org_grants + folder_grants {
                (folders[rng.below(folders.len())], FOLDER_ROLES)
            } else if made < org_grants + folder_grants + project_grants {
                (projects[rng.below(projects.len())], PROJECT_ROLES)
            } else {
                (services[rng.below(services.len())], SERVICE_ROLES)
            };
            let member = match rng.below(100) {
                0..55 => Member::Principal(rng.below(USERS) as u32),
                55..75 => Member::Principal((USERS + rng.below(PRINCIPALS - USERS)) as u32),
                _ => Member::Group(rng.below(GROUPS) as u32),
            };
            let role = rng.pick(roles);
            let next_id = role_ids.len() as u32;
            let rid = *role_ids.entry(role).or_insert(next_id);
            if !seen.insert((node, rid, member)) {
                continue;
            }
            let bindings = &mut per_node[node as usize];
            match bindings.iter_mut().find(|(r, _)| r.as_ref() == role) {
                Some((_, ms)) => ms.push(member),
                None => bindings.push((role.parse().map_err(|e| format!("{e}"))?, vec![member])),
            }
            made += 1;
        }

        let permissions = PERMISSION_MIX
            .iter()
            .map(|(p, _)| p.parse::<Permission>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;

        // Requests: half about a member of a grant whose role holds the permission on the
        // service's ancestry (granted), half random (mostly denied).
        let catalog = engine.catalog();
        let perm_ids = permissions
            .iter()
            .map(|p| {
                catalog
                    .permission_id(p)
                    .ok_or(format!("{p} not in the catalog"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let holds = |role: &RoleName, permission: u32| {
            catalog
                .role(role)
                .is_some_and(|r| r.contains(perm_ids[permission as usize]))
        };
        let mut reqs = Vec::with_capacity(requests);
        for i in 0..requests {
            let s = rng.below(SERVICES);
            let perm_name = rng.pick(&PERMISSION_MIX);
            let permission = PERMISSION_MIX
                .iter()
                .position(|(p, _)| *p == perm_name)
                .unwrap_or(0) as u32;
            let mut principal = rng.below(PRINCIPALS) as u32;
            if i % 2 == 0 {
                let mut node = Some(services[s]);
                let mut candidates = Vec::new();
                while let Some(n) = node {
                    for (role, ms) in &per_node[n as usize] {
                        if holds(role, permission) {
                            candidates.extend_from_slice(ms);
                        }
                    }
                    node = parent[n as usize];
                }
                if !candidates.is_empty() {
                    principal = match candidates[rng.below(candidates.len())] {
                        Member::Principal(p) => p,
                        Member::Group(g) => {
                            let mut g = g as usize;
                            // Descend to a group with direct principals (teams).
                            loop {
                                if !group_members[g].is_empty() {
                                    let ms = &group_members[g];
                                    break ms[rng.below(ms.len())];
                                }
                                let children: Vec<usize> = (0..GROUPS)
                                    .filter(|&c| group_parents[c].contains(&(g as u32)))
                                    .collect();
                                if children.is_empty() {
                                    break principal;
                                }
                                g = children[rng.below(children.len())];
                            }
                        }
                    };
                }
            }
            reqs.push(Request {
                principal,
                permission,
                service: s as u32,
            });
        }

        let mut w = Workload {
            engine,
            resources,
            levels,
            parent,
            services,
            grants: per_node,
            grant_count: made,
            policies: Vec::new(),
            principal_emails,
            group_emails,
            principal_groups,
            group_parents,
            subjects,
            permissions,
            requests: reqs,
            context: RequestContext {
                now: Utc
                    .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
                    .single()
                    .ok_or("bad time")?,
                resource_type: "run.googleapis.com/Service".into(),
                resource_service: "run.googleapis.com".into(),
            },
        };
        w.policies = w.compile_policies()?;
        Ok(w)
    }

    pub fn member_principal(&self, m: Member) -> Result<Principal, String> {
        let s = match m {
            Member::Principal(p) if is_service_account(p as usize) => {
                format!("serviceAccount:{}", self.principal_emails[p as usize])
            }
            Member::Principal(p) => format!("user:{}", self.principal_emails[p as usize]),
            Member::Group(g) => format!("group:{}", self.group_emails[g as usize]),
        };
        s.parse().map_err(|e| format!("{e}"))
    }

    /// The Google-shaped allow policy of every node (one binding per role), compiled.
    pub fn compile_policies(&self) -> Result<Vec<Option<Arc<CompiledPolicy>>>, String> {
        let catalog = self.engine.catalog();
        self.grants
            .iter()
            .map(|bindings| {
                if bindings.is_empty() {
                    return Ok(None);
                }
                let bindings = bindings
                    .iter()
                    .map(|(role, ms)| {
                        Ok(Binding {
                            role: role.clone(),
                            members: ms
                                .iter()
                                .map(|&m| self.member_principal(m))
                                .collect::<Result<_, String>>()?,
                            condition: None,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let policy = Policy {
                    version: 1,
                    bindings,
                    ..Policy::default()
                };
                Ok(Some(Arc::new(CompiledPolicy::compile(&policy, catalog))))
            })
            .collect()
    }

    /// The compiled policies' bytes by level (organization, folders, projects, services): the
    /// number of policies and their summed `Footprint`.
    pub fn footprint(&self) -> [(Level, usize, Footprint); 4] {
        let levels = [
            Level::Organization,
            Level::Folder,
            Level::Project,
            Level::Service,
        ];
        levels.map(|level| {
            let mut sum = Footprint::default();
            let mut count = 0;
            for (n, cp) in self.policies.iter().enumerate() {
                if let Some(cp) = cp.as_deref().filter(|_| self.levels[n] == level) {
                    sum += cp.footprint();
                    count += 1;
                }
            }
            (level, count, sum)
        })
    }

    /// The ancestry of every service (service, project, folder, folder, organization), built
    /// once as the control plane would per request.
    pub fn ancestries(&self) -> Vec<Ancestry<'_>> {
        self.services
            .iter()
            .map(|&s| {
                let mut nodes = Vec::with_capacity(5);
                let mut n = Some(s);
                while let Some(id) = n {
                    nodes.push(Node {
                        resource: &self.resources[id as usize],
                        policy: self.policies[id as usize].as_deref(),
                    });
                    n = self.parent[id as usize];
                }
                Ancestry::new(nodes)
            })
            .collect()
    }

    /// Never inlined: callgrind's `--toggle-collect` counts exactly this function.
    #[inline(never)]
    pub fn check(&self, ancestries: &[Ancestry<'_>], r: &Request) -> Access {
        let req = AccessRequest {
            subject: &self.subjects[r.principal as usize],
            permission: &self.permissions[r.permission as usize],
            ancestry: &ancestries[r.service as usize],
            context: &self.context,
        };
        self.engine.check(&req).access
    }

    /// Times each request's check once, in order, with its caller built afresh (untimed) just
    /// before it: the "fresh caller" stream.
    pub fn time_fresh_callers(&self, ancestries: &[Ancestry<'_>]) -> Vec<Duration> {
        self.requests
            .iter()
            .map(|r| {
                let caller = black_box(self.fresh_caller(r));
                let t = Instant::now();
                black_box(self.check_as(ancestries, black_box(r), &caller));
                t.elapsed()
            })
            .collect()
    }

    /// Like [`Workload::time_fresh_callers`], with the request's ancestry built afresh too: the
    /// "fresh request" stream.
    pub fn time_fresh_requests(&self) -> Vec<Duration> {
        self.requests
            .iter()
            .map(|r| {
                let caller = black_box(self.fresh_caller(r));
                let nodes = self.fresh_nodes(r);
                let ancestry = black_box(nodes.ancestry());
                let t = Instant::now();
                black_box(self.check_fresh(&ancestry, black_box(r), &caller));
                t.elapsed()
            })
            .collect()
    }

    /// The request's caller built afresh, as the control plane builds its `Subject` per request
    /// from the verified token and the directory (`kumo-control`'s `subject_of`): its strings are
    /// then in cache when the check runs, where `subjects` holds 20,000 cold prebuilt ones.
    pub fn fresh_caller(&self, r: &Request) -> Subject {
        self.subjects[r.principal as usize].clone()
    }

    /// The request's ancestry built afresh, as the control plane builds it for every decision
    /// (`kumo-control`'s `Control::access`: `hierarchy::ancestry` lists the nodes, `snapshot_of`
    /// takes each node's compiled policy from its cache, an `Arc` clone, and a new
    /// `ResourceName`, then `Snapshot::ancestry` builds the `Ancestry` just before
    /// `Engine::check`): its nodes are then in cache, where `ancestries` holds 10,000 cold
    /// prebuilt ones. The policies themselves are not read.
    pub fn fresh_nodes(&self, r: &Request) -> FreshNodes {
        let mut nodes = Vec::with_capacity(5);
        let mut n = Some(self.services[r.service as usize]);
        while let Some(id) = n {
            nodes.push((
                self.resources[id as usize].clone(),
                self.policies[id as usize].clone(),
            ));
            n = self.parent[id as usize];
        }
        FreshNodes { nodes }
    }

    /// `check` for a caller the bench built beforehand (`fresh_caller`); never inlined, so
    /// callgrind can count it alone.
    #[inline(never)]
    pub fn check_as(&self, ancestries: &[Ancestry<'_>], r: &Request, caller: &Subject) -> Access {
        let req = AccessRequest {
            subject: caller,
            permission: &self.permissions[r.permission as usize],
            ancestry: &ancestries[r.service as usize],
            context: &self.context,
        };
        self.engine.check(&req).access
    }

    /// `check` for a request whose caller and ancestry the bench built just before
    /// (`fresh_caller`, `fresh_nodes`), as the control plane builds both per request; never
    /// inlined, so callgrind can count it alone.
    #[inline(never)]
    pub fn check_fresh(&self, ancestry: &Ancestry<'_>, r: &Request, caller: &Subject) -> Access {
        let req = AccessRequest {
            subject: caller,
            permission: &self.permissions[r.permission as usize],
            ancestry,
            context: &self.context,
        };
        self.engine.check(&req).access
    }
}

/// One request's ancestry nodes with their policies, owned (as `kumo-control`'s `Snapshot`).
pub struct FreshNodes {
    nodes: Vec<(ResourceName, Option<Arc<CompiledPolicy>>)>,
}

impl FreshNodes {
    pub fn ancestry(&self) -> Ancestry<'_> {
        Ancestry::new(
            self.nodes
                .iter()
                .map(|(resource, policy)| Node {
                    resource,
                    policy: policy.as_deref(),
                })
                .collect(),
        )
    }
}

impl Workload {
    /// Every principal resolved once, as a caller that caches resolved subjects would hold them.
    pub fn resolved_subjects(&self) -> Vec<ResolvedSubject<'_>> {
        self.subjects.iter().map(Subject::resolve).collect()
    }

    /// The permission ids of `PERMISSION_MIX`, interned once.
    pub fn permission_ids(&self) -> Vec<PermId> {
        let catalog = self.engine.catalog();
        self.permissions
            .iter()
            .filter_map(|p| catalog.permission_id(p))
            .collect()
    }

    /// `check` through `Engine::check_resolved`: the caller passes the resolved subject and the
    /// interned permission id (no string hashing per check).
    #[inline(never)]
    pub fn check_resolved(
        &self,
        ancestries: &[Ancestry<'_>],
        subjects: &[ResolvedSubject<'_>],
        perms: &[PermId],
        r: &Request,
    ) -> Access {
        self.engine
            .check_resolved(
                &subjects[r.principal as usize],
                perms[r.permission as usize],
                &ancestries[r.service as usize],
                &self.context,
            )
            .access
    }
}

fn transitive_groups(direct: &[u32], parents: &[Vec<u32>]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let mut stack: Vec<u32> = direct.to_vec();
    while let Some(g) = stack.pop() {
        if !out.contains(&g) {
            out.push(g);
            stack.extend_from_slice(&parents[g as usize]);
        }
    }
    out
}

/// The workload as Cedar sees it.
pub struct CedarWorld {
    pub authorizer: cedar::Authorizer,
    pub entities: cedar::Entities,
    /// One policy set per node (the permits of that node's grants): evaluated along the
    /// ancestry, like kumo's per-node compiled policies.
    pub per_node: Vec<cedar::PolicySet>,
    /// Every permit in one set, as a plain Cedar deployment would hold it (optional: large).
    pub full: Option<cedar::PolicySet>,
    /// A prebuilt Cedar request per workload request.
    pub requests: Vec<cedar::Request>,
}

fn uid(ty: &str, id: &str) -> Result<cedar::EntityUid, String> {
    let ty = cedar::EntityTypeName::from_str(ty).map_err(|e| e.to_string())?;
    Ok(cedar::EntityUid::from_type_name_and_id(
        ty,
        cedar::EntityId::new(id),
    ))
}

impl CedarWorld {
    /// Translates the workload: every grant becomes a permit linked from a per-role template
    /// (`principal ==` for users and service accounts, `principal in` for groups; `action in`
    /// the role's action group; `resource in` the node); groups, the resource hierarchy and
    /// role membership of every predefined permission are entity parents.
    pub fn build(w: &Workload, with_full: bool) -> Result<CedarWorld, String> {
        let principal_uid = |p: usize| {
            let ty = if is_service_account(p) {
                "ServiceAccount"
            } else {
                "User"
            };
            uid(ty, &w.principal_emails[p])
        };
        let group_uid = |g: usize| uid("Group", &w.group_emails[g]);
        let node_uid = |n: usize| uid(w.levels[n].cedar_type(), w.resources[n].relative());

        let mut entities = Vec::new();
        for p in 0..w.principal_emails.len() {
            let parents = w.principal_groups[p]
                .iter()
                .map(|&g| group_uid(g as usize))
                .collect::<Result<HashSet<_>, _>>()?;
            entities.push(cedar::Entity::new_no_attrs(principal_uid(p)?, parents));
        }
        for g in 0..w.group_emails.len() {
            let parents = w.group_parents[g]
                .iter()
                .map(|&p| group_uid(p as usize))
                .collect::<Result<HashSet<_>, _>>()?;
            entities.push(cedar::Entity::new_no_attrs(group_uid(g)?, parents));
        }
        for n in 0..w.resources.len() {
            let parents = w.parent[n]
                .map(|p| node_uid(p as usize))
                .transpose()?
                .into_iter()
                .collect();
            entities.push(cedar::Entity::new_no_attrs(node_uid(n)?, parents));
        }
        // Roles as action groups over the full predefined catalog.
        let predefined = w.engine.catalog().predefined();
        let mut roles_of: Vec<HashSet<cedar::EntityUid>> =
            vec![HashSet::new(); predefined.permission_count()];
        for role in predefined.roles() {
            let role_uid = uid("Action", role.name.as_ref())?;
            for &id in role.permission_ids() {
                roles_of[id as usize].insert(role_uid.clone());
            }
            entities.push(cedar::Entity::new_no_attrs(role_uid, HashSet::new()));
        }
        for (id, parents) in roles_of.into_iter().enumerate() {
            let perm = predefined
                .permission(id as u32)
                .ok_or("permission id out of range")?;
            entities.push(cedar::Entity::new_no_attrs(
                uid("Action", perm.as_ref())?,
                parents,
            ));
        }
        let entities = cedar::Entities::from_entities(entities, None).map_err(|e| e.to_string())?;

        // Templates, two per role used.
        let mut templates: HashMap<(String, bool), (cedar::PolicyId, cedar::Template)> =
            HashMap::new();
        let mut template = |role: &RoleName, group: bool| -> Result<_, String> {
            let key = (role.to_string(), group);
            if let Some(t) = templates.get(&key) {
                return Ok(t.clone());
            }
            let op = if group { "in" } else { "==" };
            let id = cedar::PolicyId::new(format!("{op} {role}"));
            let src = format!(
                "permit(principal {op} ?principal, action in Action::\"{role}\", resource in ?resource);"
            );
            let t = cedar::Template::parse(Some(id.clone()), src).map_err(|e| e.to_string())?;
            templates.insert(key, (id.clone(), t.clone()));
            Ok((id, t))
        };
        let mut per_node = Vec::with_capacity(w.resources.len());
        let mut full = with_full.then(cedar::PolicySet::new);
        let mut full_templates: HashSet<cedar::PolicyId> = HashSet::new();
        let mut n_link = 0u64;
        for (n, bindings) in w.grants.iter().enumerate() {
            let mut set = cedar::PolicySet::new();
            let mut added: HashSet<cedar::PolicyId> = HashSet::new();
            let resource = node_uid(n)?;
            for (role, members) in bindings {
                for &m in members {
                    let (principal, group) = match m {
                        Member::Principal(p) => (principal_uid(p as usize)?, false),
                        Member::Group(g) => (group_uid(g as usize)?, true),
                    };
                    let (tid, t) = template(role, group)?;
                    let vals = HashMap::from([
                        (cedar::SlotId::principal(), principal),
                        (cedar::SlotId::resource(), resource.clone()),
                    ]);
                    let pid = cedar::PolicyId::new(format!("g{n_link}"));
                    n_link += 1;
                    if added.insert(tid.clone()) {
                        set.add_template(t.clone()).map_err(|e| e.to_string())?;
                    }
                    if let Some(full) = full.as_mut() {
                        if full_templates.insert(tid.clone()) {
                            full.add_template(t).map_err(|e| e.to_string())?;
                        }
                        full.link(tid.clone(), pid.clone(), vals.clone())
                            .map_err(|e| e.to_string())?;
                    }
                    set.link(tid, pid, vals).map_err(|e| e.to_string())?;
                }
            }
            per_node.push(set);
        }

        let requests = w
            .requests
            .iter()
            .map(|r| {
                let service = w.services[r.service as usize] as usize;
                cedar::Request::new(
                    principal_uid(r.principal as usize)?,
                    uid("Action", w.permissions[r.permission as usize].as_ref())?,
                    node_uid(service)?,
                    cedar::Context::empty(),
                    None,
                )
                .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(CedarWorld {
            authorizer: cedar::Authorizer::new(),
            entities,
            per_node,
            full,
            requests,
        })
    }

    /// Cedar over the per-node sets along the service's ancestry (allow-only, so the union of
    /// the nodes' permits is the OR of their decisions).
    pub fn check_sliced(&self, w: &Workload, i: usize) -> bool {
        let r = &w.requests[i];
        let mut node = Some(w.services[r.service as usize]);
        while let Some(n) = node {
            let set = &self.per_node[n as usize];
            if !set.is_empty()
                && self
                    .authorizer
                    .is_authorized(&self.requests[i], set, &self.entities)
                    .decision()
                    == cedar::Decision::Allow
            {
                return true;
            }
            node = w.parent[n as usize];
        }
        false
    }

    /// Cedar over the whole policy set.
    pub fn check_full(&self, i: usize) -> Option<bool> {
        let full = self.full.as_ref()?;
        Some(
            self.authorizer
                .is_authorized(&self.requests[i], full, &self.entities)
                .decision()
                == cedar::Decision::Allow,
        )
    }
}

/// How many requests kumo and Cedar decide alike, and how many kumo grants.
pub fn agreement(w: &Workload, c: &CedarWorld, ancestries: &[Ancestry<'_>]) -> (usize, usize) {
    let mut same = 0;
    let mut granted = 0;
    for (i, r) in w.requests.iter().enumerate() {
        let k = w.check(ancestries, r) == Access::Granted;
        granted += usize::from(k);
        same += usize::from(k == c.check_sliced(w, i));
    }
    (same, granted)
}
