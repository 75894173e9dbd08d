//! Control-plane checks returning Google's violation texts.

use crate::effective::EffectivePolicy;

/// google.rpc code class of a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcCode {
    FailedPrecondition,
    InvalidArgument,
}

/// A refused operation: the status message, the `PreconditionFailure` violation fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Violation {
    pub code: RpcCode,
    /// `constraints/x` (the PreconditionFailure `type`).
    pub constraint: String,
    pub message: String,
    /// PreconditionFailure `description`.
    pub description: String,
    /// PreconditionFailure `subject`, when Google sets one.
    pub subject: Option<String>,
}

fn violation(
    eff: &EffectivePolicy,
    message: String,
    description: String,
    subject: Option<String>,
) -> Violation {
    Violation {
        code: RpcCode::FailedPrecondition,
        constraint: format!("constraints/{}", eff.constraint()),
        message,
        description,
        subject,
    }
}

/// Status message for iam.allowedPolicyMemberDomains, as Cloud Run's setIamPolicy returns it
/// (gcloud prints it verbatim, including the double space).
pub const MEMBER_DOMAINS_MESSAGE: &str = "One or more users named in the policy do not belong to a permitted customer,  perhaps due to an organization policy.";

/// iam.allowedPolicyMemberDomains: every member (as `user:x`, `allUsers`, ...) with its
/// Workspace customer id, if it has one, must be permitted. The whole policy is checked, not only
/// new members. Members with no customer (`allUsers`, `allAuthenticatedUsers`, consumer
/// accounts) pass only if the member string itself is an allowed value.
pub fn check_member_domains(
    eff: &EffectivePolicy,
    members: &[(&str, Option<&str>)],
) -> Result<(), Violation> {
    let ok = members
        .iter()
        .all(|(m, customer)| customer.is_some_and(|c| eff.allows(c)) || eff.allows(m));
    if ok {
        return Ok(());
    }
    Err(violation(
        eff,
        MEMBER_DOMAINS_MESSAGE.into(),
        "User is not in permitted organization.".into(),
        None,
    ))
}

const INVOKER_IAM_DESCRIPTION: &str = "When enforced, this constraint requires the IAM invoker check to be enabled on Cloud Run services.\nIf this constraint is not enforced, you can set the service.invoker_iam_disabled field (v2), or the run.googleapis.com/invoker-iam-disabled annotation (v1) on Cloud Run services to True. The invoker_iam_disabled field is currently available by invitation-only and will not be broadly available until after March 21, 2025. It's still possible to achieve a similar result by granting the run.routes.invoke permission to allUsers.";

/// run.managed.requireInvokerIam: call when a request sets invokerIamDisabled=true.
pub fn check_invoker_iam_disable(eff: &EffectivePolicy) -> Result<(), Violation> {
    if !eff.is_enforced() {
        return Ok(());
    }
    Err(violation(
        eff,
        format!(
            "Operation denied by custom org policy: [\"constraints/run.managed.requireInvokerIam\": \"{INVOKER_IAM_DESCRIPTION}\"]."
        ),
        INVOKER_IAM_DESCRIPTION.into(),
        None,
    ))
}

/// iam.disableCrossProjectServiceAccountUsage, evaluated on the project that owns the service
/// account. `sa_project` and `consumer_project` are `projects/{number}`.
/// The message text is UNVERIFIED (not found in Google's published sources).
pub fn check_cross_project_service_account(
    eff_on_sa_project: &EffectivePolicy,
    sa_email: &str,
    sa_project: &str,
    consumer_project: &str,
) -> Result<(), Violation> {
    if sa_project == consumer_project || !eff_on_sa_project.is_enforced() {
        return Ok(());
    }
    Err(violation(
        eff_on_sa_project,
        format!(
            "Service account {sa_email} belongs to {sa_project} and cannot be used in {consumer_project}: cross-project service account usage is disabled by the organization policy constraint constraints/iam.disableCrossProjectServiceAccountUsage."
        ),
        "Cross-project service account usage is not allowed.".into(),
        Some(sa_project.into()),
    ))
}

/// run.allowedIngress with the gcloud spelling (`all`, `internal`,
/// `internal-and-cloud-load-balancing`). Text modelled on Cloud Functions' (UNVERIFIED for Run).
pub fn check_ingress(
    eff: &EffectivePolicy,
    resource: &str,
    ingress: &str,
) -> Result<(), Violation> {
    if eff.allows(ingress) {
        return Ok(());
    }
    Err(violation(
        eff,
        format!(
            "Constraint constraints/run.allowedIngress violated for {resource} with ingress set to {ingress}."
        ),
        format!("Ingress setting {ingress} is not allowed."),
        Some(resource.into()),
    ))
}

/// run.allowedVPCEgress (`private-ranges-only`, `all-traffic`); same text shape as ingress.
pub fn check_vpc_egress(
    eff: &EffectivePolicy,
    resource: &str,
    egress: &str,
) -> Result<(), Violation> {
    if eff.allows(egress) {
        return Ok(());
    }
    Err(violation(
        eff,
        format!(
            "Constraint constraints/run.allowedVPCEgress violated for {resource} with vpc egress set to {egress}."
        ),
        format!("VPC egress setting {egress} is not allowed."),
        Some(resource.into()),
    ))
}

/// iam.disableServiceAccountKeyCreation (or its managed twin). `subject` is
/// `projects/P/serviceAccounts/SA?configvalue=SA` (URL-encoded email) per Google.
pub fn check_key_creation(
    eff: &EffectivePolicy,
    project_id: &str,
    sa_email: &str,
) -> Result<(), Violation> {
    if !eff.is_enforced() {
        return Ok(());
    }
    let text = "Key creation is not allowed on this service account.";
    Err(violation(
        eff,
        text.into(),
        text.into(),
        Some(format!(
            "projects/{project_id}/serviceAccounts/{sa_email}?configvalue={}",
            sa_email.replace('@', "%40")
        )),
    ))
}
