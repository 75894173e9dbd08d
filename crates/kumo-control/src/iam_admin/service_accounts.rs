//! Service accounts: create, get, list, patch, delete, undelete, disable, enable, and their IAM
//! policies. `projects/-/serviceAccounts/{email or uniqueId}` finds the project from the account.

use kumo_store::{Deleted, ListQuery, ParentFilter, Record, Write};
use kumo_wire::iam_admin::ServiceAccount;
use serde_json::{Value, json};

use crate::iam_policy::etag_of;
use crate::records::{Collection, encode};
use crate::resource_manager::PageRequest;
use crate::{Call, Control, Error, ResourceRef};

/// An account's member in allow policies and the form Google rewrites it to on deletion:
/// (`serviceAccount:EMAIL`, `deleted:serviceAccount:EMAIL?uid=UNIQUE_ID`).
fn account_members(record: &Record) -> (String, String) {
    let email = record.data["email"].as_str().unwrap_or_default();
    let uid = record.data["uniqueId"].as_str().unwrap_or_default();
    (
        format!("serviceAccount:{email}"),
        format!("deleted:serviceAccount:{email}?uid={uid}"),
    )
}

/// Google's rule for account ids: 6–30 characters, lowercase letters, digits and hyphens,
/// starting with a letter and not ending with a hyphen.
pub fn validate_account_id(id: &str) -> Result<(), Error> {
    let ok = (6..=30).contains(&id.len())
        && id.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        // The API's text for a malformed account id (UNCONFIRMED beyond its first sentence).
        Err(Error::invalid_field(
            "account_id",
            format!(
                "Invalid form of account ID {id}. Should be [a-z][a-z\\d\\-]*[a-z\\d] and between 6 and 30 characters."
            ),
        ))
    }
}

/// A service account found from a request path, with the IAM resource it is checked on.
pub(crate) struct Target {
    pub(crate) resource: ResourceRef,
    pub(crate) record: Option<Record>,
    /// How the request named the account, for messages.
    pub(crate) given: String,
}

/// The wire form of a stored account: the stored JSON plus the etag of its revision.
pub(crate) fn render_account(record: &Record) -> Value {
    let mut value = record.data.clone();
    value["etag"] = json!(etag_of(record.revision));
    value
}

impl Control {
    /// Finds `projects/{project}/serviceAccounts/{account}` where `project` may be `-` or a
    /// number and `account` an email or a unique id. With `include_deleted`, soft-deleted
    /// accounts are found too (undelete).
    pub(crate) fn service_account_target(
        &self,
        project: &str,
        account: &str,
        include_deleted: bool,
    ) -> Result<Target, Error> {
        let given_project = if project == "-" {
            None
        } else {
            self.resolve_project(project)?.map(|info| info.id)
        };
        let record = if account.contains('@') {
            let project_id = match self.service_account_project(account)? {
                Some(id) => Some(id),
                None => given_project.clone(),
            };
            match project_id {
                Some(project_id) => {
                    let name = format!("projects/{project_id}/serviceAccounts/{account}");
                    let collection = Collection::ServiceAccounts.as_str();
                    let found = if include_deleted {
                        self.store().get_including_deleted(collection, &name)
                    } else {
                        self.store().get(collection, &name)
                    };
                    found.map_err(crate::records::store_error)?
                }
                None => None,
            }
        } else if !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit()) {
            let parent = match &given_project {
                Some(id) => ParentFilter::Is(format!("projects/{id}")),
                None => ParentFilter::Any,
            };
            let deleted = if include_deleted {
                Deleted::Include
            } else {
                Deleted::Exclude
            };
            let page = self
                .store()
                .list(
                    Collection::ServiceAccounts.as_str(),
                    &ListQuery {
                        parent,
                        deleted,
                        ..ListQuery::default()
                    },
                )
                .map_err(crate::records::store_error)?;
            // The newest account with that id wins (a recreated email keeps the old id deleted).
            page.records
                .into_iter()
                .filter(|r| r.data["uniqueId"].as_str() == Some(account))
                .max_by_key(|r| r.delete_time.is_none())
        } else {
            return Err(Error::invalid_field(
                "name",
                format!(
                    "Invalid service account name projects/{project}/serviceAccounts/{account}."
                ),
            ));
        };
        let resource = match &record {
            Some(record) => ResourceRef::ServiceAccount {
                project: record.data["projectId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                email: record.data["email"].as_str().unwrap_or_default().to_owned(),
            },
            None => ResourceRef::ServiceAccount {
                project: given_project.unwrap_or_else(|| project.to_owned()),
                email: account.to_owned(),
            },
        };
        Ok(Target {
            resource,
            record,
            given: account.to_owned(),
        })
    }

    /// Authorizes `permission` on the account and returns its record. An account that does not
    /// exist is NOT_FOUND only for callers who hold the permission (on its project); everyone
    /// else gets the permission refusal, which does not reveal existence.
    pub(crate) fn authorized_account(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        permission: &str,
        include_deleted: bool,
    ) -> Result<(ResourceRef, Record), Error> {
        let target = self.service_account_target(project, account, include_deleted)?;
        self.authorize(call, permission, &target.resource)?;
        match target.record {
            Some(record) => Ok((target.resource, record)),
            None if target.given.contains('@') => Err(Error::not_found(format!(
                "Not found; Gaia id not found for email {}",
                target.given
            ))),
            None => Err(Error::not_found(format!(
                "Unknown service account {}",
                target.given
            ))),
        }
    }

    /// `POST /v1/projects/{project}/serviceAccounts`: `iam.serviceAccounts.create` on the
    /// project. The creator is not granted anything on the new account: Google's IAM API does
    /// not change policies on create (project owners and editors already hold `actAs`).
    pub fn create_service_account(
        &self,
        call: &Call,
        project: &str,
        account_id: &str,
        account: &ServiceAccount,
    ) -> Result<Value, Error> {
        let project_ref = self.container_ref(&format!("projects/{project}"))?;
        self.authorize(call, "iam.serviceAccounts.create", &project_ref)?;
        let Some(info) = self.resolve_project(project)? else {
            return Err(Error::permission_denied(
                "iam.serviceAccounts.create",
                &format!("projects/{project}"),
            ));
        };
        validate_account_id(account_id)?;
        validate_texts(&account.display_name, &account.description)?;
        let email = format!("{account_id}@{}.iam.gserviceaccount.com", info.id);
        let name = format!("projects/{}/serviceAccounts/{email}", info.id);
        let collection = Collection::ServiceAccounts.as_str().to_owned();
        let existing = self
            .store()
            .get_including_deleted(&collection, &name)
            .map_err(crate::records::store_error)?;
        let mut writes = Vec::new();
        if let Some(existing) = existing {
            if existing.delete_time.is_none() {
                return Err(Error::already_exists(format!(
                    "Service account {account_id} already exists within project projects/{}.",
                    info.id
                )));
            }
            // A new account may reuse the email of a deleted one; the old one can no longer be
            // undeleted, as with Google.
            writes.push(Write::HardDelete {
                collection: collection.clone(),
                name: name.clone(),
                expected_revision: Some(existing.revision),
            });
        }
        let unique_id = self.next_unique_id()?;
        let mut data = json!({
            "name": name,
            "projectId": info.id,
            "uniqueId": unique_id,
            "email": email,
            "oauth2ClientId": unique_id,
        });
        if !account.display_name.is_empty() {
            data["displayName"] = json!(account.display_name);
        }
        if !account.description.is_empty() {
            data["description"] = json!(account.description);
        }
        writes.push(Write::Create {
            collection,
            name,
            parent: Some(format!("projects/{}", info.id)),
            data: encode(&data)?,
        });
        let written = self.commit(&writes)?;
        self.invalidate_iam();
        written
            .last()
            .map(render_account)
            .ok_or_else(|| Error::internal("service account write returned nothing"))
    }

    /// `GET /v1/projects/{project}/serviceAccounts/{account}`: `iam.serviceAccounts.get`.
    pub fn get_service_account(
        &self,
        call: &Call,
        project: &str,
        account: &str,
    ) -> Result<Value, Error> {
        let (_, record) =
            self.authorized_account(call, project, account, "iam.serviceAccounts.get", false)?;
        Ok(render_account(&record))
    }

    /// `GET /v1/projects/{project}/serviceAccounts`: `iam.serviceAccounts.list` on the project.
    /// Google-managed service agents live in Google's projects and are not listed.
    pub fn list_service_accounts(
        &self,
        call: &Call,
        project: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let project_ref = self.container_ref(&format!("projects/{project}"))?;
        self.authorize(call, "iam.serviceAccounts.list", &project_ref)?;
        let records = self
            .store()
            .list(
                Collection::ServiceAccounts.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(project_ref.relative_name()),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let accounts: Vec<Value> = records
            .iter()
            .filter(|record| !is_service_agent(record.data["email"].as_str().unwrap_or_default()))
            .map(render_account)
            .collect();
        let (accounts, next) = page.apply(accounts, 20, 100)?;
        let mut response = json!({});
        if !accounts.is_empty() {
            response["accounts"] = Value::Array(accounts);
        }
        if !next.is_empty() {
            response["nextPageToken"] = json!(next);
        }
        Ok(response)
    }

    /// `PATCH /v1/projects/{project}/serviceAccounts/{account}`: `iam.serviceAccounts.update`;
    /// `displayName` and `description` are mutable.
    pub fn patch_service_account(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        patch: &ServiceAccount,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let (_, record) =
            self.authorized_account(call, project, account, "iam.serviceAccounts.update", false)?;
        if !patch.etag.is_empty() && patch.etag != etag_of(record.revision) {
            return Err(Error::aborted(
                "The etag of the service account does not match; read it again and retry.",
            ));
        }
        let mask = update_mask
            .filter(|mask| !mask.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid_field(
                    "update_mask",
                    "The update mask must name the fields to update.",
                )
            })?;
        validate_texts(&patch.display_name, &patch.description)?;
        let mut data = record.data.clone();
        for path in mask.split(',').map(str::trim) {
            let (field, value) = match path {
                "displayName" | "display_name" => ("displayName", &patch.display_name),
                "description" => ("description", &patch.description),
                other => {
                    return Err(Error::invalid_field(
                        "update_mask",
                        format!(
                            "Invalid update mask path: {other}. Only displayName and description can be updated."
                        ),
                    ));
                }
            };
            match data.as_object_mut() {
                Some(object) if value.is_empty() => {
                    object.remove(field);
                }
                _ => data[field] = json!(value),
            }
        }
        self.update_account_record(&record, data)
    }

    /// `DELETE …/serviceAccounts/{account}`: `iam.serviceAccounts.delete`. Soft delete: the
    /// account can be undeleted by its unique id.
    pub fn delete_service_account(
        &self,
        call: &Call,
        project: &str,
        account: &str,
    ) -> Result<Value, Error> {
        let (_, mut record) =
            self.authorized_account(call, project, account, "iam.serviceAccounts.delete", false)?;
        // Google rewrites the account's bindings in every allow policy to
        // `deleted:serviceAccount:EMAIL?uid=UNIQUE_ID` (google/iam/v1/policy.proto, `members`),
        // so they stop granting and a new account that reuses the email inherits nothing. The
        // account and the policies change in one transaction; a concurrent policy write retries.
        for _attempt in 0..16 {
            let (member, deleted) = account_members(&record);
            let mut writes = vec![Write::SoftDelete {
                collection: Collection::ServiceAccounts.as_str().to_owned(),
                name: record.name.clone(),
                data: None,
                expected_revision: Some(record.revision),
            }];
            writes.extend(self.member_rewrites(&member, &deleted)?);
            let outcome = self.commit(&writes);
            self.invalidate_iam();
            match outcome {
                Ok(_) => return Ok(json!({})),
                Err(Error::Aborted { .. }) => {
                    record = self
                        .store()
                        .get(Collection::ServiceAccounts.as_str(), &record.name)
                        .map_err(crate::records::store_error)?
                        .ok_or_else(|| {
                            Error::not_found(format!("Unknown service account {account}"))
                        })?;
                }
                Err(other) => return Err(other),
            }
        }
        Err(Error::aborted(crate::iam_policy::CONCURRENT_CHANGE))
    }

    /// `POST …/serviceAccounts/{uniqueId}:undelete`: `iam.serviceAccounts.undelete`. Answers
    /// `{"restoredAccount": …}`.
    pub fn undelete_service_account(
        &self,
        call: &Call,
        project: &str,
        account: &str,
    ) -> Result<Value, Error> {
        let (_, record) =
            self.authorized_account(call, project, account, "iam.serviceAccounts.undelete", true)?;
        if record.delete_time.is_none() {
            return Err(Error::failed_precondition(format!(
                "Service account {} is not deleted.",
                record.data["email"].as_str().unwrap_or_default()
            )));
        }
        // "If the service account is undeleted, this value reverts to serviceAccount:{emailid}
        // and the undeleted service account retains the role in the binding" (policy.proto).
        let (member, deleted) = account_members(&record);
        let mut writes = vec![Write::Undelete {
            collection: Collection::ServiceAccounts.as_str().to_owned(),
            name: record.name.clone(),
            data: None,
            expected_revision: Some(record.revision),
        }];
        for _attempt in 0..16 {
            writes.truncate(1);
            writes.extend(self.member_rewrites(&deleted, &member)?);
            let outcome = self.commit(&writes);
            self.invalidate_iam();
            match outcome {
                Ok(written) => {
                    let restored = written
                        .first()
                        .map(render_account)
                        .unwrap_or_else(|| render_account(&record));
                    return Ok(json!({"restoredAccount": restored}));
                }
                // Only a policy can have moved: the account itself is re-read by the next call.
                Err(Error::Aborted { .. }) => {
                    let current = self
                        .store()
                        .get_including_deleted(Collection::ServiceAccounts.as_str(), &record.name)
                        .map_err(crate::records::store_error)?;
                    if current.is_none_or(|current| current.revision != record.revision) {
                        return Err(Error::aborted(crate::iam_policy::CONCURRENT_CHANGE));
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Err(Error::aborted(crate::iam_policy::CONCURRENT_CHANGE))
    }

    /// `POST …:disable` / `:enable`: `iam.serviceAccounts.disable` / `.enable`. A disabled
    /// account cannot authenticate or be impersonated.
    pub fn set_service_account_disabled(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        disabled: bool,
    ) -> Result<Value, Error> {
        let permission = if disabled {
            "iam.serviceAccounts.disable"
        } else {
            "iam.serviceAccounts.enable"
        };
        let (_, record) = self.authorized_account(call, project, account, permission, false)?;
        let mut data = record.data.clone();
        if disabled {
            data["disabled"] = json!(true);
        } else if let Some(object) = data.as_object_mut() {
            object.remove("disabled");
        }
        self.update_account_record(&record, data)?;
        Ok(json!({}))
    }

    fn update_account_record(&self, record: &Record, data: Value) -> Result<Value, Error> {
        let written = self.commit(&[Write::Update {
            collection: Collection::ServiceAccounts.as_str().to_owned(),
            name: record.name.clone(),
            data: encode(&data)?,
            expected_revision: Some(record.revision),
        }])?;
        self.invalidate_iam();
        written
            .first()
            .map(render_account)
            .ok_or_else(|| Error::internal("service account write returned nothing"))
    }

    /// `POST …/serviceAccounts/{account}:getIamPolicy`: `iam.serviceAccounts.getIamPolicy`.
    pub fn get_service_account_iam_policy(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        requested_version: i64,
    ) -> Result<Value, Error> {
        let target = self.existing_account_resource(
            call,
            project,
            account,
            "iam.serviceAccounts.getIamPolicy",
        )?;
        self.get_iam_policy(
            call,
            &target,
            "iam.serviceAccounts.getIamPolicy",
            requested_version,
        )
    }

    /// `POST …:setIamPolicy`: `iam.serviceAccounts.setIamPolicy`.
    pub fn set_service_account_iam_policy(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        policy: &Value,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let target = self.existing_account_resource(
            call,
            project,
            account,
            "iam.serviceAccounts.setIamPolicy",
        )?;
        self.set_iam_policy(
            call,
            &target,
            "iam.serviceAccounts.setIamPolicy",
            policy,
            update_mask,
        )
    }

    /// `POST …:testIamPermissions`.
    pub fn test_service_account_iam_permissions(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        permissions: &[String],
    ) -> Result<Vec<String>, Error> {
        let target = self.service_account_target(project, account, false)?;
        self.test_iam_permissions(call, &target.resource, permissions)
    }

    /// The IAM resource of an existing account; unknown accounts are refused like
    /// [`Control::authorized_account`] does, before the policy functions run.
    fn existing_account_resource(
        &self,
        call: &Call,
        project: &str,
        account: &str,
        permission: &str,
    ) -> Result<ResourceRef, Error> {
        let target = self.service_account_target(project, account, false)?;
        if target.record.is_some() {
            return Ok(target.resource);
        }
        self.authorized_account(call, project, account, permission, false)
            .map(|(resource, _)| resource)
    }
}

/// Google-managed service agents (`service-N@gcp-sa-….iam.gserviceaccount.com`,
/// `service-N@serverless-robot-prod.iam.gserviceaccount.com`).
fn is_service_agent(email: &str) -> bool {
    email.rsplit_once('@').is_some_and(|(local, domain)| {
        local.starts_with("service-")
            && (domain.starts_with("gcp-sa-") || domain.starts_with("serverless-robot-"))
    })
}

fn validate_texts(display_name: &str, description: &str) -> Result<(), Error> {
    if display_name.chars().count() > 100 {
        return Err(Error::invalid_field(
            "service_account.display_name",
            "The display name must be at most 100 characters.",
        ));
    }
    if description.chars().count() > 256 {
        return Err(Error::invalid_field(
            "service_account.description",
            "The description must be at most 256 characters.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_follow_googles_rule() {
        for good in ["runner", "my-app-sa", "a23456789012345678901234567890"] {
            assert!(validate_account_id(good).is_ok(), "{good}");
        }
        for bad in [
            "short",
            "Runner",
            "1runner",
            "runner-",
            "run_ner",
            "a234567890123456789012345678901",
        ] {
            assert!(validate_account_id(bad).is_err(), "{bad}");
        }
    }
}
