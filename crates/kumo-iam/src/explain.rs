//! "Why was access (not) granted": every policy on the ancestry with each binding's role
//! coverage, per-member membership, condition outcome and a heuristic relevance, shaped after
//! Policy Troubleshooter v1 (`explainedPolicies[].bindingExplanations[]`). When access is not
//! granted, the smallest predefined roles holding the permission are suggested.

use std::fmt;

use kumo_names::{Permission, Principal, ResourceName, RoleName};

use crate::catalog::RoleCatalog;
use crate::check::{Access, AccessRequest, ConditionOutcome, eval_condition};
use crate::hierarchy::{Identity, Subject};
use crate::policy::Expr;

/// How many role suggestions an explanation carries.
const SUGGESTIONS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relevance {
    Normal,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Included,
    NotIncluded,
    /// Federated principals (`principal://`, `principalSet://`) are not evaluated by Kumo.
    UnknownUnsupported,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberExplanation {
    pub member: Principal,
    pub membership: Membership,
    pub relevance: Relevance,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingExplanation {
    pub access: Access,
    pub role: RoleName,
    pub role_permission_included: bool,
    pub memberships: Vec<MemberExplanation>,
    pub condition: Option<(Expr, Option<bool>)>,
    pub relevance: Relevance,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainedPolicy {
    pub resource: ResourceName,
    pub access: Access,
    /// `None` when the node has no policy.
    pub bindings: Option<Vec<BindingExplanation>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub principal: String,
    pub permission: Permission,
    pub access: Access,
    pub policies: Vec<ExplainedPolicy>,
    /// Smallest predefined roles containing the permission; empty when granted.
    pub suggested_roles: Vec<RoleName>,
}

fn member_included(m: &Principal, s: &Subject) -> Membership {
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let yes = match (m, &s.identity) {
        (Principal::AllUsers, _) => true,
        (Principal::AllAuthenticatedUsers, id) => *id != Identity::Anonymous,
        (Principal::User(e), Identity::User { email }) => eq(e, email),
        (Principal::ServiceAccount(e), Identity::ServiceAccount { email }) => eq(e.as_ref(), email),
        (Principal::Group(g), id) => {
            *id != Identity::Anonymous && s.groups.iter().any(|x| eq(x, g))
        }
        (Principal::Domain(d), id) => {
            *id != Identity::Anonymous && s.domain.as_deref().is_some_and(|x| eq(x, d))
        }
        (Principal::PrincipalUri(_) | Principal::PrincipalSetUri(_), _) => {
            return Membership::UnknownUnsupported;
        }
        _ => false,
    };
    if yes {
        Membership::Included
    } else {
        Membership::NotIncluded
    }
}

pub(crate) fn explain(catalog: &RoleCatalog, req: &AccessRequest<'_>) -> Explanation {
    let perm = catalog.permission_id(req.permission);
    let resource_name = req
        .ancestry
        .resource()
        .map(ResourceName::relative)
        .unwrap_or_default();
    let mut policies = Vec::new();
    let mut overall = Access::NotGranted;
    for node in req.ancestry.nodes() {
        let Some(cp) = node.policy else {
            policies.push(ExplainedPolicy {
                resource: node.resource.clone(),
                access: Access::NotGranted,
                bindings: None,
            });
            continue;
        };
        let mut policy_access = Access::NotGranted;
        let mut out = Vec::with_capacity(cp.bindings.len());
        for (b, cb) in cp.policy().bindings.iter().zip(&cp.bindings) {
            let included = perm.is_some_and(|p| cb.role.as_ref().is_some_and(|r| r.holds(p)));
            let memberships: Vec<MemberExplanation> = b
                .members
                .iter()
                .map(|m| {
                    let membership = member_included(m, req.subject);
                    let relevance = if membership == Membership::Included {
                        Relevance::High
                    } else {
                        Relevance::Normal
                    };
                    MemberExplanation {
                        member: m.clone(),
                        membership,
                        relevance,
                    }
                })
                .collect();
            let member_in = memberships
                .iter()
                .any(|m| m.membership == Membership::Included);
            let outcome = eval_condition(cb, resource_name, req.context);
            let access = match (included && member_in, outcome) {
                (false, _) | (true, ConditionOutcome::False) => Access::NotGranted,
                (true, ConditionOutcome::None | ConditionOutcome::True) => Access::Granted,
                (true, ConditionOutcome::Error) => Access::UnknownConditional,
            };
            policy_access = merge(policy_access, access);
            let condition = b.condition.clone().map(|e| {
                let v = match outcome {
                    ConditionOutcome::True => Some(true),
                    ConditionOutcome::False => Some(false),
                    ConditionOutcome::None | ConditionOutcome::Error => None,
                };
                (e, v)
            });
            let relevance = if included || member_in {
                Relevance::High
            } else {
                Relevance::Normal
            };
            out.push(BindingExplanation {
                access,
                role: b.role.clone(),
                role_permission_included: included,
                memberships,
                condition,
                relevance,
            });
        }
        overall = merge(overall, policy_access);
        policies.push(ExplainedPolicy {
            resource: node.resource.clone(),
            access: policy_access,
            bindings: Some(out),
        });
    }
    let suggested_roles = if overall == Access::Granted {
        Vec::new()
    } else {
        suggestions(catalog.roles_granting(req.permission))
    };
    let principal = match &req.subject.identity {
        Identity::Anonymous => "allUsers (anonymous)".to_owned(),
        Identity::User { email } => format!("user:{email}"),
        Identity::ServiceAccount { email } => format!("serviceAccount:{email}"),
    };
    Explanation {
        principal,
        permission: req.permission.clone(),
        access: overall,
        policies,
        suggested_roles,
    }
}

/// Granted beats unknown beats not granted (allow policies are a union).
fn merge(a: Access, b: Access) -> Access {
    match (a, b) {
        (Access::Granted, _) | (_, Access::Granted) => Access::Granted,
        (Access::UnknownConditional, _) | (_, Access::UnknownConditional) => {
            Access::UnknownConditional
        }
        _ => Access::NotGranted,
    }
}

impl fmt::Display for Relevance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Relevance::Normal => "NORMAL",
            Relevance::High => "HIGH",
        })
    }
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Membership::Included => "MEMBERSHIP_INCLUDED",
            Membership::NotIncluded => "MEMBERSHIP_NOT_INCLUDED",
            Membership::UnknownUnsupported => "MEMBERSHIP_UNKNOWN_UNSUPPORTED",
        })
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} on {}: {}",
            self.principal,
            self.permission,
            self.access.as_str()
        )?;
        for p in &self.policies {
            writeln!(f, "  policy on {}: {}", p.resource, p.access.as_str())?;
            let Some(bindings) = &p.bindings else {
                writeln!(f, "    (no policy)")?;
                continue;
            };
            for b in bindings {
                let inc = if b.role_permission_included {
                    "ROLE_PERMISSION_INCLUDED"
                } else {
                    "ROLE_PERMISSION_NOT_INCLUDED"
                };
                writeln!(
                    f,
                    "    binding {} [{}] {} relevance={}",
                    b.role,
                    b.access.as_str(),
                    inc,
                    b.relevance
                )?;
                if let Some((e, v)) = &b.condition {
                    let v = match v {
                        Some(true) => "true",
                        Some(false) => "false",
                        None => "error",
                    };
                    writeln!(f, "      condition {:?} => {v}", e.expression)?;
                }
                for m in &b.memberships {
                    writeln!(
                        f,
                        "      {} {} relevance={}",
                        m.member, m.membership, m.relevance
                    )?;
                }
            }
        }
        if !self.suggested_roles.is_empty() {
            let names: Vec<&str> = self.suggested_roles.iter().map(AsRef::as_ref).collect();
            writeln!(
                f,
                "  roles containing {}: {}",
                self.permission,
                names.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The smallest roles to suggest. Service agent roles (`roles/run.serviceAgent`,
/// `roles/aiplatform.customCodeServiceAgent`, …) are meant for Google's own service agents, not
/// for people, so they come only when no other role grants the permission.
fn suggestions(granting: Vec<&RoleName>) -> Vec<RoleName> {
    let (agents, others): (Vec<&RoleName>, Vec<&RoleName>) =
        granting.into_iter().partition(|r| is_service_agent_role(r));
    let pick = if others.is_empty() { agents } else { others };
    pick.into_iter().take(SUGGESTIONS).cloned().collect()
}

fn is_service_agent_role(role: &RoleName) -> bool {
    let name: &str = role.as_ref();
    name.rsplit('.')
        .next()
        .is_some_and(|last| last.to_ascii_lowercase().contains("serviceagent"))
}
