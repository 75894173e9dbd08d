//! IAM Credentials delegation chains (`delegates`), spec §3.2.

/// One IAM check: `principal` must hold `permission` on `resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `serviceAccount:EMAIL` / `user:EMAIL` member string, as given.
    pub principal: String,
    pub permission: &'static str,
    /// `projects/-/serviceAccounts/EMAIL`.
    pub resource: String,
}

pub const IMPLICIT_DELEGATION: &str = "iam.serviceAccounts.implicitDelegation";

fn sa_resource(email: &str) -> String {
    format!("projects/-/serviceAccounts/{email}")
}

/// The checks Google performs, in order: each hop of `caller → delegates… → target` needs
/// `implicitDelegation` on the next delegate, and the last hop needs `final_permission`
/// (e.g. `iam.serviceAccounts.getAccessToken`) on the target. `caller` is a member string;
/// `delegates` and `target` are SA emails.
pub fn plan(
    caller: &str,
    delegates: &[&str],
    target: &str,
    final_permission: &'static str,
) -> Vec<Check> {
    let mut checks = Vec::with_capacity(delegates.len() + 1);
    let mut principal = caller.to_owned();
    for d in delegates {
        checks.push(Check {
            principal,
            permission: IMPLICIT_DELEGATION,
            resource: sa_resource(d),
        });
        principal = format!("serviceAccount:{d}");
    }
    checks.push(Check {
        principal,
        permission: final_permission,
        resource: sa_resource(target),
    });
    checks
}

/// Google's text for a failed check.
pub fn denied_message(check: &Check) -> String {
    format!(
        "Permission '{}' denied on resource (or it may not exist).",
        check.permission
    )
}
