//! Typed vocabulary shared by every Kumo crate: permissions, role names,
//! IAM principals, resource names and Google identifiers. Each type parses
//! from and displays to Google's exact string form (`FromStr`/`Display`
//! round-trip) and serialises as that plain string, so a value that exists
//! is always well formed. Parse failures are [`NameError`], whose `Display`
//! text is the message Kumo puts on the wire.

use std::fmt;
use std::str::FromStr;

/// Every way a name can be malformed. The `Display` texts are wire-visible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Permission {0} is not valid.")]
    InvalidPermission(String),
    #[error(
        "The role name must be in the form \"roles/{{role}}\", \"organizations/{{organization_id}}/roles/{{role}}\", or \"projects/{{project_id}}/roles/{{role}}\"."
    )]
    InvalidRoleName(String),
    /// Google's text (seen on setIamPolicy) for a member without, or with an unrecognised,
    /// `type:` prefix; prefixes are case-sensitive. Carries the whole member string.
    #[error("The member {0} is of an unknown type. Please set a valid type prefix for the member.")]
    InvalidMemberType(String),
    /// A known prefix with a malformed value (bad email, missing uid). Exact Google text UNCONFIRMED.
    #[error("Invalid member: {0}")]
    InvalidMember(String),
    #[error("Invalid email address: {0}")]
    InvalidEmail(String),
    #[error("Invalid service account email: {0}")]
    InvalidServiceAccountEmail(String),
    #[error("Invalid resource name: {0}")]
    InvalidResourceName(String),
    #[error(
        "Invalid project ID: {0}. Project IDs must be 6 to 30 characters long, start with a lowercase letter, contain only lowercase letters, digits and hyphens, and not end with a hyphen."
    )]
    InvalidProjectId(String),
    #[error("Invalid project number: {0}")]
    InvalidProjectNumber(String),
    #[error("Invalid organization ID: {0}")]
    InvalidOrganizationId(String),
    #[error("Invalid folder ID: {0}")]
    InvalidFolderId(String),
    #[error("Invalid etag: {0}")]
    InvalidEtag(String),
    #[error("Invalid location: {0}")]
    InvalidLocation(String),
}

/// Implements `Display`, `AsRef<str>` and string serde for a type that stores
/// its canonical text in field `0` and parses through `FromStr`.
macro_rules! string_type {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_ref())
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_ref())
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// An IAM permission, `service.resource.verb` (e.g. `run.routes.invoke`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(String);

impl FromStr for Permission {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        // Partner services use a host-like segment: `cloudonefs.isiloncloud.com/clusters.create`.
        let parts: Vec<&str> = s.split('.').collect();
        let ok = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/')
            });
        if ok {
            Ok(Permission(s.to_owned()))
        } else {
            Err(NameError::InvalidPermission(s.to_owned()))
        }
    }
}
impl AsRef<str> for Permission {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
string_type!(Permission);

impl Permission {
    /// The leading `service` segment (`run` in `run.routes.invoke`).
    pub fn service(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }
}

/// Where a role is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    Predefined,
    Project,
    Organization,
}

/// A role name: `roles/x.y`, `projects/P/roles/R` or `organizations/O/roles/R`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleName(String);

impl FromStr for RoleName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let err = || NameError::InvalidRoleName(s.to_owned());
        let parts: Vec<&str> = s.split('/').collect();
        let id_ok = |r: &str| !r.is_empty() && r.chars().all(|c| is_segment_char(c) || c == '.');
        let ok = match parts.as_slice() {
            ["roles", r] => id_ok(r),
            ["projects", p, "roles", r] | ["organizations", p, "roles", r] => {
                !p.is_empty() && p.chars().all(is_segment_char) && id_ok(r)
            }
            _ => false,
        };
        if ok {
            Ok(RoleName(s.to_owned()))
        } else {
            Err(err())
        }
    }
}
impl AsRef<str> for RoleName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
string_type!(RoleName);

impl RoleName {
    pub fn kind(&self) -> RoleKind {
        if self.0.starts_with("roles/") {
            RoleKind::Predefined
        } else if self.0.starts_with("projects/") {
            RoleKind::Project
        } else {
            RoleKind::Organization
        }
    }
    pub fn is_predefined(&self) -> bool {
        self.kind() == RoleKind::Predefined
    }
    /// The project or organization id of a custom role; `None` for predefined roles.
    pub fn parent_id(&self) -> Option<&str> {
        match self.kind() {
            RoleKind::Predefined => None,
            _ => self.0.split('/').nth(1),
        }
    }
    /// The final role id (`run.invoker`, or `R` of a custom role).
    pub fn role_id(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '@' && c != ':')
}

/// A service account email: user-managed `name@project.iam.gserviceaccount.com`
/// or a Google-managed form such as `N-compute@developer.gserviceaccount.com`
/// and `service-N@<agent>.iam.gserviceaccount.com`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceAccountEmail(String);

impl FromStr for ServiceAccountEmail {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let err = || NameError::InvalidServiceAccountEmail(s.to_owned());
        if !valid_email(s) {
            return Err(err());
        }
        let (local, domain) = s.split_once('@').ok_or_else(err)?;
        let ok = if domain == "developer.gserviceaccount.com" {
            local
                .strip_suffix("-compute")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        } else if domain == "appspot.gserviceaccount.com"
            || domain == "cloudservices.gserviceaccount.com"
        {
            true
        } else if let Some(proj) = domain.strip_suffix(".iam.gserviceaccount.com") {
            !proj.is_empty()
                && !proj.contains('.')
                && local
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        } else {
            false
        };
        if ok {
            Ok(ServiceAccountEmail(s.to_owned()))
        } else {
            Err(err())
        }
    }
}
impl AsRef<str> for ServiceAccountEmail {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
string_type!(ServiceAccountEmail);

impl ServiceAccountEmail {
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or_default()
    }
    /// The project id of a user-managed account (`p` in `a@p.iam.gserviceaccount.com`).
    /// Agent domains such as `gcp-sa-iap` are returned as-is; callers decide.
    pub fn project_segment(&self) -> Option<&str> {
        self.domain().strip_suffix(".iam.gserviceaccount.com")
    }
}

/// An IAM policy member. Type prefixes are case-sensitive, as in Google.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    User(String),
    ServiceAccount(ServiceAccountEmail),
    Group(String),
    Domain(String),
    AllUsers,
    AllAuthenticatedUsers,
    /// `deleted:{user|serviceAccount|group}:EMAIL?uid=UID`; never matches anyone.
    Deleted {
        kind: DeletedKind,
        email: String,
        uid: String,
    },
    /// `principal://...` (workload/workforce identity).
    PrincipalUri(String),
    /// `principalSet://...`.
    PrincipalSetUri(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeletedKind {
    User,
    ServiceAccount,
    Group,
}

impl DeletedKind {
    fn as_str(self) -> &'static str {
        match self {
            DeletedKind::User => "user",
            DeletedKind::ServiceAccount => "serviceAccount",
            DeletedKind::Group => "group",
        }
    }
}

impl FromStr for Principal {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        match s {
            "allUsers" => return Ok(Principal::AllUsers),
            "allAuthenticatedUsers" => return Ok(Principal::AllAuthenticatedUsers),
            _ => {}
        }
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(NameError::InvalidMemberType(s.to_owned()));
        };
        let email = |r: &str| {
            if valid_email(r) {
                Ok(r.to_owned())
            } else {
                Err(NameError::InvalidMember(s.to_owned()))
            }
        };
        match kind {
            "user" => Ok(Principal::User(email(rest)?)),
            "group" => Ok(Principal::Group(email(rest)?)),
            "serviceAccount" => Ok(Principal::ServiceAccount(rest.parse()?)),
            "domain" => {
                let ok = !rest.is_empty()
                    && rest.contains('.')
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if ok {
                    Ok(Principal::Domain(rest.to_owned()))
                } else {
                    Err(NameError::InvalidMember(s.to_owned()))
                }
            }
            "deleted" => {
                let (dk, tail) = rest
                    .split_once(':')
                    .ok_or_else(|| NameError::InvalidMember(s.to_owned()))?;
                let kind = match dk {
                    "user" => DeletedKind::User,
                    "serviceAccount" => DeletedKind::ServiceAccount,
                    "group" => DeletedKind::Group,
                    _ => return Err(NameError::InvalidMemberType(s.to_owned())),
                };
                let (e, uid) = tail
                    .split_once("?uid=")
                    .ok_or_else(|| NameError::InvalidMember(s.to_owned()))?;
                if uid.is_empty() || !uid.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(NameError::InvalidMember(s.to_owned()));
                }
                Ok(Principal::Deleted {
                    kind,
                    email: email(e)?,
                    uid: uid.to_owned(),
                })
            }
            "principal" | "principalSet"
                if rest.starts_with("//")
                    && rest.len() > 2
                    && !rest.contains(char::is_whitespace) =>
            {
                Ok(if kind == "principal" {
                    Principal::PrincipalUri(s.to_owned())
                } else {
                    Principal::PrincipalSetUri(s.to_owned())
                })
            }
            "principal" | "principalSet" => Err(NameError::InvalidMember(s.to_owned())),
            _ => Err(NameError::InvalidMemberType(s.to_owned())),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(e) => write!(f, "user:{e}"),
            Principal::ServiceAccount(e) => write!(f, "serviceAccount:{e}"),
            Principal::Group(e) => write!(f, "group:{e}"),
            Principal::Domain(d) => write!(f, "domain:{d}"),
            Principal::AllUsers => f.write_str("allUsers"),
            Principal::AllAuthenticatedUsers => f.write_str("allAuthenticatedUsers"),
            Principal::Deleted { kind, email, uid } => {
                write!(f, "deleted:{}:{email}?uid={uid}", kind.as_str())
            }
            Principal::PrincipalUri(u) | Principal::PrincipalSetUri(u) => f.write_str(u),
        }
    }
}
impl serde::Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> serde::Deserialize<'de> for Principal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A full resource name: `//run.googleapis.com/projects/P/locations/L/services/S`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceName {
    full: String,
    /// Byte index where the relative name starts (after the service host and `/`).
    split: usize,
}

impl ResourceName {
    /// Builds `//{service}/{relative}`; `service` is a host like `run.googleapis.com`.
    pub fn new(service: &str, relative: &str) -> Result<ResourceName, NameError> {
        format!("//{service}/{relative}").parse()
    }
    /// The service host, e.g. `run.googleapis.com`.
    pub fn service(&self) -> &str {
        &self.full[2..self.split - 1]
    }
    /// The relative name, e.g. `projects/P/locations/L/services/S`.
    pub fn relative(&self) -> &str {
        &self.full[self.split..]
    }
}

impl FromStr for ResourceName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let err = || NameError::InvalidResourceName(s.to_owned());
        let rest = s.strip_prefix("//").ok_or_else(err)?;
        let (host, rel) = rest.split_once('/').ok_or_else(err)?;
        let host_ok = !host.is_empty()
            && host.contains('.')
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        let rel_ok = !rel.is_empty()
            && rel.split('/').all(|seg| {
                !seg.is_empty() && !seg.chars().any(|c| c.is_whitespace() || c.is_control())
            });
        if host_ok && rel_ok {
            Ok(ResourceName {
                full: s.to_owned(),
                split: host.len() + 3,
            })
        } else {
            Err(err())
        }
    }
}
impl AsRef<str> for ResourceName {
    fn as_ref(&self) -> &str {
        &self.full
    }
}
string_type!(ResourceName);

/// A project id following Google's rules: 6-30 chars, starts with a lowercase
/// letter, `[a-z0-9-]`, no trailing hyphen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectId(String);

impl FromStr for ProjectId {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let b = s.as_bytes();
        let ok = (6..=30).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[b.len() - 1] != b'-';
        if ok {
            Ok(ProjectId(s.to_owned()))
        } else {
            Err(NameError::InvalidProjectId(s.to_owned()))
        }
    }
}
impl AsRef<str> for ProjectId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
string_type!(ProjectId);

/// Defines a numeric-id newtype whose text form is decimal digits.
macro_rules! numeric_id {
    ($(#[$m:meta])* $t:ident, $err:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $t(String);
        impl FromStr for $t {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                let ok = !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0');
                if ok { Ok($t(s.to_owned())) } else { Err(NameError::$err(s.to_owned())) }
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        string_type!($t);
    };
}
numeric_id!(
    /// An organization id (decimal digits, e.g. `123456789012`).
    OrganizationId,
    InvalidOrganizationId
);
numeric_id!(
    /// A folder id (decimal digits).
    FolderId,
    InvalidFolderId
);

/// A project number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectNumber(u64);

impl ProjectNumber {
    pub fn new(n: u64) -> ProjectNumber {
        ProjectNumber(n)
    }
    pub fn get(self) -> u64 {
        self.0
    }
}
impl FromStr for ProjectNumber {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0');
        match s.parse::<u64>() {
            Ok(n) if ok => Ok(ProjectNumber(n)),
            _ => Err(NameError::InvalidProjectNumber(s.to_owned())),
        }
    }
}
impl fmt::Display for ProjectNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl serde::Serialize for ProjectNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> serde::Deserialize<'de> for ProjectNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A location such as `us-central1` or `global`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location(String);

impl FromStr for Location {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.ends_with('-');
        if ok {
            Ok(Location(s.to_owned()))
        } else {
            Err(NameError::InvalidLocation(s.to_owned()))
        }
    }
}
impl AsRef<str> for Location {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
string_type!(Location);

/// An opaque etag; shown as standard base64 as on Google's wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Etag(Vec<u8>);

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Etag {
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Etag {
        Etag(bytes.into())
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}
impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hand-rolled to keep this crate dependency-light; standard alphabet with padding.
        let mut out = String::with_capacity(self.0.len().div_ceil(3) * 4);
        for chunk in self.0.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        f.write_str(&out)
    }
}
impl FromStr for Etag {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let err = || NameError::InvalidEtag(s.to_owned());
        if !s.len().is_multiple_of(4) {
            return Err(err());
        }
        let mut out = Vec::with_capacity(s.len() / 4 * 3);
        for chunk in s.as_bytes().chunks(4) {
            let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
            if pad > 2 || chunk[..4 - pad].contains(&b'=') {
                return Err(err());
            }
            let mut n = 0u32;
            for &c in &chunk[..4 - pad] {
                let v = B64.iter().position(|&x| x == c).ok_or_else(err)?;
                n = (n << 6) | v as u32;
            }
            n <<= 6 * pad as u32;
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..3 - pad]);
        }
        // Reject non-canonical encodings so the round-trip is exact.
        let etag = Etag(out);
        if etag.to_string() == s {
            Ok(etag)
        } else {
            Err(err())
        }
    }
}
impl serde::Serialize for Etag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> serde::Deserialize<'de> for Etag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
