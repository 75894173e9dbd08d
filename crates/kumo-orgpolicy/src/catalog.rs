//! Built-in constraint catalog (the subset Kumo's Cloud Run scenarios touch).

use std::borrow::Cow;

/// Whether a constraint takes `enforce` rules or value lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintType {
    Boolean,
    List { supports_under: bool },
}

/// Behaviour with no policy set or inherited (`constraintDefault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintDefault {
    Allow,
    Deny,
}

/// One constraint definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// Short name without the `constraints/` prefix. Borrowed for the built-in catalog, owned
    /// for an organization's custom constraints (`custom.x`).
    pub name: Cow<'static, str>,
    pub display_name: Cow<'static, str>,
    pub description: Cow<'static, str>,
    pub kind: ConstraintType,
    pub default: ConstraintDefault,
}

impl Constraint {
    /// `*.managed.*` constraints are built on the custom-constraint engine; the rest are
    /// "Managed (legacy)".
    pub fn is_managed(&self) -> bool {
        self.name.contains(".managed.")
    }

    /// Whether this is an organization's custom constraint (`custom.x`).
    pub fn is_custom(&self) -> bool {
        self.name.starts_with(crate::custom::CUSTOM_PREFIX)
    }

    /// The `constraints/x` form used in violations and v1 requests.
    pub fn qualified_name(&self) -> String {
        format!("constraints/{}", self.name)
    }
}

const fn c(
    name: &'static str,
    display_name: &'static str,
    description: &'static str,
    kind: ConstraintType,
    default: ConstraintDefault,
) -> Constraint {
    Constraint {
        name: Cow::Borrowed(name),
        display_name: Cow::Borrowed(display_name),
        description: Cow::Borrowed(description),
        kind,
        default,
    }
}

use ConstraintDefault::{Allow, Deny};
use ConstraintType::{Boolean, List};

static CATALOG: &[Constraint] = &[
    c(
        "iam.allowedPolicyMemberDomains",
        "Domain restricted sharing",
        "This list constraint defines one or more Cloud Identity or Google Workspace customer IDs whose principals can be added to IAM policies.",
        List {
            supports_under: false,
        },
        Allow,
    ),
    c(
        "iam.managed.allowedPolicyMembers",
        "Restrict allowed policy members in IAM allow policies",
        "When enforced, IAM allow policies may only grant roles to the listed principals and principal sets.",
        Boolean,
        Allow,
    ),
    c(
        "run.managed.requireInvokerIam",
        "Require IAM invoker check for Cloud Run services",
        "When enforced, this constraint requires the IAM invoker check to be enabled on Cloud Run services.",
        Boolean,
        Allow,
    ),
    c(
        "iam.disableCrossProjectServiceAccountUsage",
        "Disable Cross-Project Service Account Usage",
        "When enforced, service accounts can only be attached to resources in the same project as the service account.",
        Boolean,
        Deny,
    ),
    c(
        "run.allowedIngress",
        "Allowed ingress settings (Cloud Run)",
        "This list constraint defines the allowed ingress settings for Cloud Run services: all, internal, internal-and-cloud-load-balancing.",
        List {
            supports_under: false,
        },
        Allow,
    ),
    c(
        "run.allowedVPCEgress",
        "Allowed VPC egress settings (Cloud Run)",
        "This list constraint defines the allowed VPC egress settings for Cloud Run services: private-ranges-only, all-traffic.",
        List {
            supports_under: false,
        },
        Allow,
    ),
    c(
        "run.allowedBinaryAuthorizationPolicies",
        "Allowed Binary Authorization Policies (Cloud Run)",
        "This list constraint defines the Binary Authorization policies that may be used on Cloud Run resources.",
        List {
            supports_under: false,
        },
        Allow,
    ),
    c(
        "iam.disableServiceAccountKeyCreation",
        "Disable service account key creation",
        "This boolean constraint disables the creation of service account external keys where this constraint is set to 'True'.",
        Boolean,
        Allow,
    ),
    c(
        "iam.managed.disableServiceAccountKeyCreation",
        "Block service account key creation",
        "When enforced, user-managed service account keys and Cloud Storage HMAC keys cannot be created.",
        Boolean,
        Allow,
    ),
    c(
        "iam.disableServiceAccountKeyUpload",
        "Disable Service Account Key Upload",
        "This boolean constraint disables the feature that allows uploading public keys to service accounts where this constraint is set to 'True'.",
        Boolean,
        Allow,
    ),
    c(
        "iam.managed.disableServiceAccountKeyUpload",
        "Block service account key upload",
        "When enforced, public keys cannot be uploaded to service accounts.",
        Boolean,
        Allow,
    ),
    c(
        "iam.managed.disableServiceAccountApiKeyCreation",
        "Block service account API key bindings",
        "When enforced, API keys cannot be bound to service accounts.",
        Boolean,
        Deny,
    ),
    c(
        "iam.automaticIamGrantsForDefaultServiceAccounts",
        "Disable Automatic IAM Grants for Default Service Accounts",
        "This boolean constraint, when enforced, prevents the default App Engine and Compute Engine service accounts that are created in your projects from being automatically granted any IAM role on the project when the accounts are created.",
        Boolean,
        Allow,
    ),
    c(
        "iam.managed.preventPrivilegedBasicRolesForDefaultServiceAccounts",
        "Prevent privileged basic roles for default service accounts",
        "When enforced, the Editor and Owner roles cannot be granted to default service accounts.",
        Boolean,
        Allow,
    ),
];

/// Looks a constraint up by `constraints/x` or `x`.
pub fn lookup(name: &str) -> Option<&'static Constraint> {
    let short = name.strip_prefix("constraints/").unwrap_or(name);
    CATALOG.iter().find(|c| c.name == short)
}

/// Every built-in constraint, in catalog order.
pub fn all() -> &'static [Constraint] {
    CATALOG
}
