//! kumo-iam: the pure IAM engine. It knows every predefined Google role ([`catalog`]),
//! validates allow policies ([`policy`]), and decides and explains access over a resource
//! ancestry handed in as data ([`hierarchy`], [`check`], [`explain`]). No I/O: the role data
//! is embedded, policies and group memberships come from the caller.

pub mod catalog;
pub mod check;
pub mod condition;
pub mod error;
pub mod explain;
pub mod hierarchy;
mod members;
pub mod policy;

pub use catalog::{CustomRole, PermId, Predefined, RoleCatalog, RoleDef, RoleStage};
pub use check::{
    Access, AccessRequest, CompiledPolicy, Decision, Engine, Footprint, Grant, RequestContext,
};
pub use error::IamError;
pub use explain::{
    BindingExplanation, ExplainedPolicy, Explanation, MemberExplanation, Membership, Relevance,
};
pub use hierarchy::{Ancestry, Identity, Node, Subject};
pub use members::ResolvedSubject;
pub use policy::{AuditConfig, AuditLogConfig, Binding, Expr, LogType, Policy};
