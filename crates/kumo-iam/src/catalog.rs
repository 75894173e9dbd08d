//! The role catalog: every predefined Google role (embedded data, decoded once) plus the
//! custom roles of a deployment. Permissions are interned to `u32` ids and each role keeps a
//! sorted id list; roles named in compiled policies also get a bitset over the ids, so the
//! check's "does role R hold permission P" is one load.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use kumo_names::{Permission, RoleKind, RoleName};
use serde::{Deserialize, Serialize};

use crate::error::IamError;

/// Interned permission id; dense from 0 in sorted permission order.
pub type PermId = u32;

static DATA: &[u8] = include_bytes!("../data/gcp-roles-full.json.gz");

/// `RoleLaunchStage` of google.iam.admin.v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleStage {
    #[default]
    Alpha,
    Beta,
    Ga,
    Deprecated,
    Disabled,
    Eap,
}

/// A role definition with its permissions as sorted interned ids.
#[derive(Debug, Clone)]
pub struct RoleDef {
    pub name: RoleName,
    pub title: String,
    pub description: String,
    pub stage: RoleStage,
    permissions: Arc<[PermId]>,
    /// `permissions` as a bitset, built when a policy naming the role is first compiled and
    /// shared with every compiled binding of the role (≤ 1.7 KiB; a binary search over
    /// `roles/owner`'s 13,568 ids touched ~14 cache lines, the lower ones cold).
    bits: OnceLock<Arc<RoleBits>>,
}

impl RoleDef {
    pub fn permission_ids(&self) -> &[PermId] {
        &self.permissions
    }
    pub(crate) fn shared_permission_bits(&self) -> Arc<RoleBits> {
        Arc::clone(self.bits.get_or_init(|| {
            let words = self.permissions.last().map_or(0, |&m| m as usize / 64 + 1);
            let mut bits = vec![0u64; words];
            for &id in self.permissions.iter() {
                bits[id as usize / 64] |= 1 << (id % 64);
            }
            Arc::new(RoleBits {
                name: self.name.clone(),
                bits: bits.into(),
            })
        }))
    }
    pub fn contains(&self, id: PermId) -> bool {
        self.permissions.binary_search(&id).is_ok()
    }
}

/// A role as compiled policies hold it: its name and its permissions as a bitset over
/// `PermId`s, one copy per role, shared by the catalog and every binding of the role. A thin
/// pointer (`Arc<RoleBits>`), so a member index's slot can carry it (`members::Slot`).
#[derive(Debug)]
pub(crate) struct RoleBits {
    pub(crate) name: RoleName,
    bits: Box<[u64]>,
}

impl RoleBits {
    /// Whether the role holds `id`: one load in the bitset.
    #[inline]
    pub(crate) fn holds(&self, id: PermId) -> bool {
        self.bits
            .get(id as usize / 64)
            .is_some_and(|w| w >> (id % 64) & 1 == 1)
    }
}

/// The predefined roles, decoded from the embedded dataset.
#[derive(Debug)]
pub struct Predefined {
    permissions: Vec<Permission>,
    ids: HashMap<String, PermId, foldhash::fast::RandomState>,
    roles: Vec<RoleDef>,
    by_name: HashMap<RoleName, usize>,
}

#[derive(Deserialize)]
struct RawFile<'a> {
    #[serde(borrow)]
    roles: HashMap<&'a str, RawRole<'a>>,
}

#[derive(Deserialize)]
struct RawRole<'a> {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    stage: Option<RoleStage>,
    /// Permission names never need unescaping: borrowed from the decompressed text.
    #[serde(default, borrow)]
    permissions: Vec<&'a str>,
}

impl Predefined {
    /// The process-wide predefined catalog, decoded on first use.
    pub fn get() -> Result<&'static Predefined, IamError> {
        static CELL: OnceLock<Result<Predefined, IamError>> = OnceLock::new();
        CELL.get_or_init(Predefined::decode)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn decode() -> Result<Predefined, IamError> {
        let bad = |e: String| IamError::Catalog(e);
        // Inflate once, then parse the slice: serde_json reading through the decoder went byte by
        // byte and made this most of Kumo's start-up time.
        let mut text = Vec::with_capacity(DATA.len() * 12);
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(DATA), &mut text)
            .map_err(|e| bad(e.to_string()))?;
        let raw: RawFile<'_> = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        // ~13,800 distinct names among several hundred thousand mentions: dedup by hash, then
        // sort only the distinct ones (sorting every mention was most of the decode).
        let distinct: std::collections::HashSet<&str, foldhash::fast::RandomState> = raw
            .roles
            .values()
            .flat_map(|r| r.permissions.iter().copied())
            .collect();
        let mut names: Vec<&str> = distinct.into_iter().collect();
        names.sort_unstable();
        let mut permissions = Vec::with_capacity(names.len());
        let mut ids =
            HashMap::with_capacity_and_hasher(names.len(), foldhash::fast::RandomState::default());
        for (i, n) in names.iter().enumerate() {
            let p: Permission = n
                .parse()
                .map_err(|e: kumo_names::NameError| bad(e.to_string()))?;
            let id = PermId::try_from(i).map_err(|e| bad(e.to_string()))?;
            permissions.push(p);
            ids.insert((*n).to_owned(), id);
        }
        let mut roles = Vec::with_capacity(raw.roles.len());
        for (name, r) in &raw.roles {
            let name: RoleName = name
                .parse()
                .map_err(|e: kumo_names::NameError| bad(e.to_string()))?;
            let mut perms: Vec<PermId> = r
                .permissions
                .iter()
                .filter_map(|p| ids.get(*p).copied())
                .collect();
            perms.sort_unstable();
            perms.dedup();
            roles.push(RoleDef {
                name,
                title: r.title.clone(),
                description: r.description.clone(),
                stage: r.stage.unwrap_or(RoleStage::Ga),
                permissions: perms.into(),
                bits: OnceLock::new(),
            });
        }
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let by_name = roles
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), i))
            .collect();
        Ok(Predefined {
            permissions,
            ids,
            roles,
            by_name,
        })
    }

    pub fn permission_id(&self, p: &str) -> Option<PermId> {
        self.ids.get(p).copied()
    }
    pub fn permission(&self, id: PermId) -> Option<&Permission> {
        self.permissions.get(id as usize)
    }
    pub fn permission_count(&self) -> usize {
        self.permissions.len()
    }
    pub fn roles(&self) -> &[RoleDef] {
        &self.roles
    }
    pub fn role(&self, name: &RoleName) -> Option<&RoleDef> {
        self.by_name.get(name).map(|&i| &self.roles[i])
    }
}

/// A project- or organization-level custom role (google.iam.admin.v1.Role).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRole {
    pub name: RoleName,
    pub title: String,
    pub description: String,
    pub stage: RoleStage,
    pub included_permissions: Vec<Permission>,
    pub deleted: bool,
    pub etag: kumo_names::Etag,
}

impl CustomRole {
    /// Checks Google's custom-role rules against the catalog. The dataset carries no
    /// `customRolesSupportLevel`, so NOT_SUPPORTED permissions are not rejected (known gap).
    pub fn validate(&self, predefined: &Predefined) -> Result<(), IamError> {
        let id = self.name.role_id();
        let id_ok = (3..=64).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if self.name.kind() == RoleKind::Predefined || !id_ok {
            return Err(IamError::InvalidRoleId(self.name.to_string()));
        }
        if self.title.len() > 100 {
            return Err(IamError::TitleTooLong);
        }
        if self.description.len() > 300 {
            return Err(IamError::DescriptionTooLong);
        }
        if self.included_permissions.len() > 3000 {
            return Err(IamError::TooManyPermissions);
        }
        match self
            .included_permissions
            .iter()
            .find(|p| predefined.permission_id(p.as_ref()).is_none())
        {
            Some(p) => Err(IamError::UnknownPermission(p.clone())),
            None => Ok(()),
        }
    }
}

/// Predefined roles plus a deployment's custom roles; the engine's view of "what a role grants".
#[derive(Debug)]
pub struct RoleCatalog {
    predefined: &'static Predefined,
    custom: HashMap<RoleName, (CustomRole, RoleDef)>,
}

impl RoleCatalog {
    pub fn new() -> Result<RoleCatalog, IamError> {
        Ok(RoleCatalog {
            predefined: Predefined::get()?,
            custom: HashMap::new(),
        })
    }

    pub fn predefined(&self) -> &'static Predefined {
        self.predefined
    }

    /// Adds or replaces a custom role after validating it.
    pub fn upsert_custom(&mut self, role: CustomRole) -> Result<(), IamError> {
        role.validate(self.predefined)?;
        // A deleted or DISABLED role stays known (bindings remain valid) but grants nothing.
        let grants = !role.deleted && role.stage != RoleStage::Disabled;
        let mut perms: Vec<PermId> = if grants {
            role.included_permissions
                .iter()
                .filter_map(|p| self.predefined.permission_id(p.as_ref()))
                .collect()
        } else {
            Vec::new()
        };
        perms.sort_unstable();
        perms.dedup();
        let def = RoleDef {
            name: role.name.clone(),
            title: role.title.clone(),
            description: role.description.clone(),
            stage: role.stage,
            permissions: perms.into(),
            bits: OnceLock::new(),
        };
        self.custom.insert(role.name.clone(), (role, def));
        Ok(())
    }

    /// Every custom role, including deleted ones (callers filter, as `roles.list` does by default).
    pub fn custom_roles(&self) -> impl Iterator<Item = &CustomRole> {
        self.custom.values().map(|(r, _)| r)
    }

    pub fn custom_role(&self, name: &RoleName) -> Option<&CustomRole> {
        self.custom.get(name).map(|(r, _)| r)
    }

    /// The effective definition of a role (custom roles: permissions empty when deleted/disabled).
    pub fn role(&self, name: &RoleName) -> Option<&RoleDef> {
        match name.kind() {
            RoleKind::Predefined => self.predefined.role(name),
            _ => self.custom.get(name).map(|(_, d)| d),
        }
    }

    pub fn permission_id(&self, p: &Permission) -> Option<PermId> {
        self.predefined.permission_id(p.as_ref())
    }

    /// Predefined roles holding `p`, smallest (fewest permissions) first, then by name.
    pub fn roles_granting(&self, p: &Permission) -> Vec<&RoleName> {
        let Some(id) = self.permission_id(p) else {
            return Vec::new();
        };
        let mut roles: Vec<&RoleDef> = self
            .predefined
            .roles
            .iter()
            .filter(|r| r.contains(id))
            .collect();
        roles.sort_by(|a, b| {
            a.permissions
                .len()
                .cmp(&b.permissions.len())
                .then_with(|| a.name.cmp(&b.name))
        });
        roles.into_iter().map(|r| &r.name).collect()
    }
}
