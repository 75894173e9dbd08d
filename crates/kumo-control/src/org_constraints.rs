//! Organization-policy evaluation for the control plane: the effective policy of a constraint at a
//! resource, merged down its ancestry by `kumo-orgpolicy`, and the conversion of the engine's
//! violations into Google-shaped errors. The Org Policy API (reading and writing policies) is a
//! separate module; this one only evaluates.

use kumo_orgpolicy::{
    Constraint, CustomConstraint, EffectivePolicy, MethodType, RpcCode, Violation,
};
use kumo_store::{ListQuery, ParentFilter};
use serde_json::Value;

use crate::records::{Collection, Stored};
use crate::{Control, Error, PreconditionViolation, ResourceRef};

impl Control {
    /// The definition of `constraint` (`x`, `constraints/x` or `custom.x`) as seen from
    /// `resource`: a built-in constraint, or a custom constraint of the resource's organization.
    pub fn constraint_definition(
        &self,
        constraint: &str,
        resource: &ResourceRef,
    ) -> Result<Constraint, Error> {
        let short = constraint
            .strip_prefix("constraints/")
            .or_else(|| constraint.strip_prefix("customConstraints/"))
            .unwrap_or(constraint);
        let not_found = || {
            Error::invalid_field(
                "constraint",
                format!("Constraint constraints/{short} is not found."),
            )
        };
        if short.starts_with(kumo_orgpolicy::custom::CUSTOM_PREFIX) {
            let Some(org) = self.organization_of(resource)? else {
                return Err(not_found());
            };
            return match self.load_custom_constraint(&org, short)? {
                Some(stored) => Ok(stored.value.definition()),
                None => Err(not_found()),
            };
        }
        kumo_orgpolicy::lookup(short).cloned().ok_or_else(not_found)
    }

    /// A stored custom constraint, `organizations/{org}/customConstraints/{id}`.
    pub(crate) fn load_custom_constraint(
        &self,
        org: &str,
        id: &str,
    ) -> Result<Option<Stored<CustomConstraint>>, Error> {
        self.load::<CustomConstraint>(
            Collection::CustomConstraints,
            &format!("organizations/{org}/customConstraints/{id}"),
        )
    }

    /// Every custom constraint of an organization, in name order.
    pub(crate) fn custom_constraints_of(
        &self,
        org: &str,
    ) -> Result<Vec<Stored<CustomConstraint>>, Error> {
        let records = self
            .store()
            .list(
                Collection::CustomConstraints.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(format!("organizations/{org}")),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            out.push(self.decode::<CustomConstraint>(record)?);
        }
        out.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        Ok(out)
    }

    /// The effective policy of `constraint` (`run.managed.requireInvokerIam`,
    /// `constraints/…` or `custom.…`) at `resource`: the policies on the resource's containers
    /// (project, folders, organization) merged by Google's rules, or the constraint's default.
    pub fn effective_constraint(
        &self,
        constraint: &str,
        resource: &ResourceRef,
    ) -> Result<EffectivePolicy, Error> {
        let definition = self.constraint_definition(constraint, resource)?;
        self.effective_of_definition(&definition, resource)
    }

    /// [`effective_constraint`](Self::effective_constraint) for a definition already looked up.
    pub(crate) fn effective_of_definition(
        &self,
        definition: &Constraint,
        resource: &ResourceRef,
    ) -> Result<EffectivePolicy, Error> {
        let containers: Vec<String> = self
            .ancestry(resource)?
            .into_iter()
            .filter(|node| {
                matches!(
                    node,
                    ResourceRef::Project(_) | ResourceRef::Folder(_) | ResourceRef::Organization(_)
                )
            })
            .map(|node| node.relative_name())
            .collect();
        let mut policies = Vec::with_capacity(containers.len());
        for container in &containers {
            let name = format!("{container}/policies/{}", definition.name);
            let policy =
                match self.load::<kumo_orgpolicy::Policy>(Collection::OrgPolicies, &name)? {
                    Some(stored) => Some(stored.value),
                    None => None,
                };
            policies.push(policy);
        }
        let chain: Vec<(&str, Option<&kumo_orgpolicy::Policy>)> = containers
            .iter()
            .map(String::as_str)
            .zip(policies.iter().map(Option::as_ref))
            .collect();
        Ok(kumo_orgpolicy::effective(definition, &chain))
    }

    /// Custom constraints on Cloud Run resources: every custom constraint of the resource's
    /// organization that the effective policy enforces at `resource` and that names
    /// `resource_type` and `method` must pass on `view` (the Knative v1 form of the resource).
    pub fn check_custom_org_policies(
        &self,
        resource: &ResourceRef,
        resource_type: &str,
        method: MethodType,
        view: &Value,
    ) -> Result<(), Error> {
        let Some(org) = self.organization_of(resource)? else {
            return Ok(());
        };
        let mut enforced = Vec::new();
        for stored in self.custom_constraints_of(&org)? {
            let constraint = stored.value;
            if !constraint.applies_to(resource_type, method) {
                continue;
            }
            if self
                .effective_of_definition(&constraint.definition(), resource)?
                .is_enforced()
            {
                enforced.push(constraint);
            }
        }
        let refs: Vec<&CustomConstraint> = enforced.iter().collect();
        let subject = resource.relative_name();
        kumo_orgpolicy::check_custom_constraints(&refs, resource_type, method, view, &subject)
            .map_err(violation_error)
    }

    /// Whether a boolean constraint is enforced at `resource`.
    pub fn constraint_enforced(
        &self,
        constraint: &str,
        resource: &ResourceRef,
    ) -> Result<bool, Error> {
        Ok(self
            .effective_constraint(constraint, resource)?
            .is_enforced())
    }

    /// `iam.allowedPolicyMemberDomains` for a policy about to be set on `resource`: every member
    /// must belong to a permitted Workspace customer (semantics §4.7).
    pub fn check_member_domains(
        &self,
        resource: &ResourceRef,
        policy: &Value,
    ) -> Result<(), Error> {
        let effective = self.effective_constraint("iam.allowedPolicyMemberDomains", resource)?;
        if !effective.is_enforced() {
            return Ok(());
        }
        let mut members: Vec<(String, Option<String>)> = Vec::new();
        for binding in policy["bindings"].as_array().into_iter().flatten() {
            for member in binding["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                members.push((member.to_owned(), self.customer_of_member(member)?));
            }
        }
        let borrowed: Vec<(&str, Option<&str>)> = members
            .iter()
            .map(|(member, customer)| (member.as_str(), customer.as_deref()))
            .collect();
        kumo_orgpolicy::check_member_domains(&effective, &borrowed).map_err(violation_error)
    }

    /// The Workspace customer a member belongs to: users and groups by their email's domain,
    /// `domain:` by the domain, service accounts by the organization of their project.
    fn customer_of_member(&self, member: &str) -> Result<Option<String>, Error> {
        let (kind, rest) = member.split_once(':').unwrap_or((member, ""));
        let rest = rest.split('?').next().unwrap_or(rest);
        match kind {
            "user" | "group" => {
                let domain = rest
                    .rsplit_once('@')
                    .map(|(_, domain)| domain)
                    .unwrap_or_default();
                self.customer_for_domain(domain)
            }
            "domain" => self.customer_for_domain(rest),
            "serviceAccount" => {
                let Some(project) = self.project_of_service_account(rest)? else {
                    return Ok(None);
                };
                let Some(org) = self.organization_of(&ResourceRef::Project(project))? else {
                    return Ok(None);
                };
                Ok(self
                    .load::<Value>(Collection::Organizations, &format!("organizations/{org}"))?
                    .and_then(|stored| {
                        stored.value["directoryCustomerId"]
                            .as_str()
                            .map(str::to_owned)
                    }))
            }
            _ => Ok(None),
        }
    }

    /// The project id a service-account email belongs to, from its domain: `NAME@PROJECT.iam…`,
    /// or the project number in Google-managed accounts (`N-compute@developer…`, `service-N@…`).
    pub fn project_of_service_account(&self, email: &str) -> Result<Option<String>, Error> {
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Ok(None);
        };
        // User-managed accounts name their project in the domain; service agents
        // (`service-N@serverless-robot-prod…`, `service-N@gcp-sa-iap…`) and the default compute
        // account name its number in the local part.
        if let Some(project) = domain.strip_suffix(".iam.gserviceaccount.com")
            && let Some(info) = self.resolve_project(project)?
        {
            return Ok(Some(info.id));
        }
        let number = local
            .strip_suffix("-compute")
            .or_else(|| local.strip_prefix("service-"))
            .unwrap_or(local);
        if number.bytes().all(|b| b.is_ascii_digit()) && !number.is_empty() {
            return Ok(self.resolve_project(number)?.map(|info| info.id));
        }
        Ok(None)
    }
}

/// An org-policy violation as the control plane's error, with its `PreconditionFailure`.
pub fn violation_error(violation: Violation) -> Error {
    match violation.code {
        RpcCode::FailedPrecondition => Error::FailedPrecondition {
            message: violation.message,
            violations: vec![PreconditionViolation {
                kind: violation.constraint,
                subject: violation.subject.unwrap_or_default(),
                description: violation.description,
            }],
        },
        RpcCode::InvalidArgument => Error::invalid(violation.message),
    }
}
