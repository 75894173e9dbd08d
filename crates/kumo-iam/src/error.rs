//! Errors of the IAM engine. The `Display` texts are the messages Kumo sends on the wire;
//! where Google's exact text was not confirmed in the reference material the chosen wording
//! is marked below.

use kumo_names::{Permission, RoleName};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    /// The embedded role data failed to decode; a build defect, surfaced instead of panicking.
    #[error("internal error: embedded role catalog is unreadable: {0}")]
    Catalog(String),
    /// Google: "Permission X is not valid." (custom role create/update).
    #[error("Permission {0} is not valid.")]
    UnknownPermission(Permission),
    /// Wording chosen to match Google's role-id pattern error (UNCONFIRMED exact text).
    #[error(
        "The role id must be 3 to 64 characters of letters, digits, underscores and periods: {0}"
    )]
    InvalidRoleId(String),
    #[error("The title of the role must be at most 100 bytes.")]
    TitleTooLong,
    #[error("The description of the role must be at most 300 bytes.")]
    DescriptionTooLong,
    #[error("A custom role can contain at most 3000 permissions.")]
    TooManyPermissions,
    #[error("Role {0} is not supported for this resource.")]
    UnknownRole(RoleName),
    /// A custom role bound outside its project or organization (Google's setIamPolicy text).
    #[error("Role ({0}) does not exist in the resource's hierarchy.")]
    RoleNotInHierarchy(RoleName),
    /// UNCONFIRMED exact text.
    #[error("Invalid policy version: {0}. Valid values are 0, 1 and 3.")]
    InvalidVersion(i32),
    /// UNCONFIRMED exact text; the rule (conditions need version 3) is confirmed.
    #[error("Conditional bindings require policy version 3; the policy has version {0}.")]
    ConditionNeedsVersion3(i32),
    /// UNCONFIRMED exact text.
    #[error("Binding for role {0} must have at least one member.")]
    EmptyMembers(RoleName),
    #[error(
        "The number of members in the policy ({0}) is larger than the maximum allowed size 1,500."
    )]
    TooManyMembers(String),
    #[error(
        "The number of groups, domains and accounts in the policy ({0}) is larger than the maximum allowed size 250."
    )]
    TooManyGroupsAndDomains(usize),
    #[error("Condition expression is invalid: {0}")]
    InvalidCondition(String),
}

/// Formats a count with thousands separators, as Google's limit messages do.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
