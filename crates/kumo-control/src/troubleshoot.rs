//! Policy Troubleshooter v3 (`iam:troubleshoot`): principal + permission + full resource name →
//! the decision with every policy on the ancestry explained, from the IAM engine's `explain`.
//! Kumo adds `suggestedRoles` (the smallest predefined roles holding the permission), which
//! clients that ignore unknown fields skip.

use kumo_iam::{Access, Membership, Relevance};
use serde_json::{Map, Value, json};

use crate::{Call, Caller, Control, Error, ResourceRef};

impl Control {
    /// `POST /v3/iam:troubleshoot`. The caller needs to be able to read the resource's allow
    /// policy, as on Google.
    pub fn troubleshoot(
        &self,
        call: &Call,
        principal: &str,
        full_resource_name: &str,
        permission: &str,
    ) -> Result<Value, Error> {
        let resource = self.resource_from_full_name(full_resource_name)?;
        self.authorize(call, get_policy_permission(&resource), &resource)?;
        let subject = caller_of_principal(principal)?;
        let explanation = self.explain(&subject, permission, &resource)?;
        let overall = match explanation.access {
            Access::Granted => "CAN_ACCESS",
            Access::NotGranted => "CANNOT_ACCESS",
            Access::UnknownConditional => "UNKNOWN_CONDITIONAL",
        };
        let policies: Vec<Value> = explanation
            .policies
            .iter()
            .map(|policy| {
                let mut out = Map::new();
                out.insert("allowAccessState".into(), json!(allow_state(policy.access)));
                out.insert("fullResourceName".into(), json!(format!("//{}/{}", policy.resource.service(), policy.resource.relative())));
                let bindings: Vec<Value> = policy
                    .bindings
                    .iter()
                    .flatten()
                    .map(|binding| {
                        let memberships: Map<String, Value> = binding
                            .memberships
                            .iter()
                            .map(|member| {
                                (
                                    member.member.to_string(),
                                    json!({"membership": membership(member.membership), "relevance": relevance(member.relevance)}),
                                )
                            })
                            .collect();
                        let matched = binding.memberships.iter().any(|m| m.membership == Membership::Included);
                        let mut out = json!({
                            "allowAccessState": allow_state(binding.access),
                            "role": binding.role.to_string(),
                            "rolePermission": if binding.role_permission_included { "ROLE_PERMISSION_INCLUDED" } else { "ROLE_PERMISSION_NOT_INCLUDED" },
                            "rolePermissionRelevance": relevance(if binding.role_permission_included { Relevance::High } else { Relevance::Normal }),
                            "combinedMembership": {"membership": if matched { "MEMBERSHIP_MATCHED" } else { "MEMBERSHIP_NOT_MATCHED" }, "relevance": relevance(binding.relevance)},
                            "memberships": memberships,
                            "relevance": relevance(binding.relevance),
                        });
                        if let Some((expr, value)) = &binding.condition {
                            out["condition"] = json!({"expression": expr.expression, "title": expr.title});
                            out["conditionExplanation"] = match value {
                                Some(value) => json!({"value": value}),
                                None => json!({"errors": [{"code": 3, "message": "the condition could not be evaluated"}]}),
                            };
                        }
                        out
                    })
                    .collect();
                out.insert("bindingExplanations".into(), Value::Array(bindings));
                out.insert("relevance".into(), json!(relevance(Relevance::Normal)));
                Value::Object(out)
            })
            .collect();
        Ok(json!({
            "overallAccessState": overall,
            "accessTuple": {"principal": principal, "fullResourceName": full_resource_name, "permission": permission},
            "allowPolicyExplanation": {
                "allowAccessState": allow_state(explanation.access),
                "explainedPolicies": policies,
                "relevance": "HEURISTIC_RELEVANCE_HIGH",
            },
            "denyPolicyExplanation": {
                "denyAccessState": "DENY_ACCESS_STATE_NOT_DENIED",
                "explainedResources": [],
                "relevance": "HEURISTIC_RELEVANCE_NORMAL",
                "permissionDeniable": true,
            },
            "suggestedRoles": explanation.suggested_roles.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))
    }

    /// Parses a full resource name of a resource Kumo keeps IAM policies on; project numbers
    /// resolve to ids.
    pub fn resource_from_full_name(&self, full_name: &str) -> Result<ResourceRef, Error> {
        let invalid = || {
            Error::invalid_field(
                "accessTuple.fullResourceName",
                format!("Invalid full resource name: {full_name}"),
            )
        };
        let rest = full_name.strip_prefix("//").ok_or_else(invalid)?;
        let (service, relative) = rest.split_once('/').ok_or_else(invalid)?;
        let parts: Vec<&str> = relative.split('/').collect();
        let project = |id_or_number: &str| -> Result<String, Error> {
            self.resolve_project(id_or_number)?
                .map(|info| info.id)
                .ok_or_else(|| Error::not_found(format!("Project {id_or_number} not found.")))
        };
        match (service, parts.as_slice()) {
            ("cloudresourcemanager.googleapis.com", ["organizations", id]) => {
                Ok(ResourceRef::Organization((*id).to_owned()))
            }
            ("cloudresourcemanager.googleapis.com", ["folders", id]) => {
                Ok(ResourceRef::Folder((*id).to_owned()))
            }
            ("cloudresourcemanager.googleapis.com", ["projects", id]) => {
                Ok(ResourceRef::Project(project(id)?))
            }
            ("run.googleapis.com", ["projects", p, "locations", location, "services", service]) => {
                Ok(ResourceRef::RunService {
                    project: project(p)?,
                    location: (*location).to_owned(),
                    service: (*service).to_owned(),
                })
            }
            ("run.googleapis.com", ["projects", p, "locations", location, "jobs", job]) => {
                Ok(ResourceRef::RunJob {
                    project: project(p)?,
                    location: (*location).to_owned(),
                    job: (*job).to_owned(),
                })
            }
            ("iam.googleapis.com", ["projects", p, "serviceAccounts", email]) => {
                let project = if *p == "-" {
                    self.project_of_service_account(email)?
                        .ok_or_else(invalid)?
                } else {
                    project(p)?
                };
                Ok(ResourceRef::ServiceAccount {
                    project,
                    email: (*email).to_owned(),
                })
            }
            (
                "artifactregistry.googleapis.com",
                [
                    "projects",
                    p,
                    "locations",
                    location,
                    "repositories",
                    repository,
                ],
            ) => Ok(ResourceRef::Repository {
                project: project(p)?,
                location: (*location).to_owned(),
                repository: (*repository).to_owned(),
            }),
            ("iap.googleapis.com", ["projects", p, "iap_web", web, "services", service]) => {
                let region = web.strip_prefix("cloud_run-").ok_or_else(invalid)?;
                let info = self
                    .resolve_project(p)?
                    .ok_or_else(|| Error::not_found(format!("Project {p} not found.")))?;
                Ok(ResourceRef::IapRunService {
                    project: info.id,
                    project_number: info.number,
                    region: region.to_owned(),
                    service: (*service).to_owned(),
                })
            }
            ("iap.googleapis.com", ["projects", p, "iap_web", rest @ ..]) if rest.len() <= 1 => {
                let info = self
                    .resolve_project(p)?
                    .ok_or_else(|| Error::not_found(format!("Project {p} not found.")))?;
                match rest {
                    [] => Ok(ResourceRef::IapWeb {
                        project: info.id,
                        project_number: info.number,
                    }),
                    [web] => Ok(ResourceRef::IapCloudRun {
                        project: info.id,
                        project_number: info.number,
                        region: web
                            .strip_prefix("cloud_run-")
                            .ok_or_else(invalid)?
                            .to_owned(),
                    }),
                    _ => Err(invalid()),
                }
            }
            _ => Err(invalid()),
        }
    }
}

/// The permission that reads a resource's allow policy, which troubleshooting requires.
fn get_policy_permission(resource: &ResourceRef) -> &'static str {
    match resource {
        ResourceRef::Organization(_) => "resourcemanager.organizations.getIamPolicy",
        ResourceRef::Folder(_) => "resourcemanager.folders.getIamPolicy",
        ResourceRef::Project(_) => "resourcemanager.projects.getIamPolicy",
        ResourceRef::RunService { .. } => "run.services.getIamPolicy",
        ResourceRef::RunJob { .. } => "run.jobs.getIamPolicy",
        ResourceRef::ServiceAccount { .. } => "iam.serviceAccounts.getIamPolicy",
        ResourceRef::Repository { .. } => "artifactregistry.repositories.getIamPolicy",
        ResourceRef::IapWeb { .. } => "iap.web.getIamPolicy",
        ResourceRef::IapCloudRun { .. } => "iap.webTypes.getIamPolicy",
        ResourceRef::IapRunService { .. } => "iap.webServiceVersions.getIamPolicy",
    }
}

/// `user:alice@example.com`, `serviceAccount:…`, or a bare email (v3 accepts both).
fn caller_of_principal(principal: &str) -> Result<Caller, Error> {
    let (kind, email) = match principal.split_once(':') {
        Some((kind, email)) => (kind, email),
        None if principal.ends_with(".gserviceaccount.com") => ("serviceAccount", principal),
        None => ("user", principal),
    };
    if !email.contains('@') {
        return Err(Error::invalid_field(
            "accessTuple.principal",
            format!("Invalid principal: {principal}"),
        ));
    }
    match kind {
        "user" => Ok(Caller::User {
            email: email.to_owned(),
        }),
        "serviceAccount" => Ok(Caller::ServiceAccount {
            email: email.to_owned(),
        }),
        _ => Err(Error::invalid_field(
            "accessTuple.principal",
            format!("Invalid principal: {principal}"),
        )),
    }
}

fn allow_state(access: Access) -> &'static str {
    match access {
        Access::Granted => "ALLOW_ACCESS_STATE_GRANTED",
        Access::NotGranted => "ALLOW_ACCESS_STATE_NOT_GRANTED",
        Access::UnknownConditional => "ALLOW_ACCESS_STATE_UNKNOWN_CONDITIONAL",
    }
}

fn membership(membership: Membership) -> &'static str {
    match membership {
        Membership::Included => "MEMBERSHIP_MATCHED",
        Membership::NotIncluded => "MEMBERSHIP_NOT_MATCHED",
        Membership::UnknownUnsupported => "MEMBERSHIP_UNKNOWN_UNSUPPORTED",
    }
}

fn relevance(relevance: Relevance) -> &'static str {
    match relevance {
        Relevance::High => "HEURISTIC_RELEVANCE_HIGH",
        Relevance::Normal => "HEURISTIC_RELEVANCE_NORMAL",
    }
}
