//! Projects: create (through [`Control::provision_project`]), get, list, search, update, delete,
//! undelete, move.

use std::collections::HashMap;

use kumo_store::{Deleted, ListQuery, ParentFilter, Record, Write};
use kumo_wire::resource_manager::Project;
use serde_json::{Value, json};

use super::common::{PageRequest, any, split_container, timestamp};
use super::{render, state_of};
use crate::records::{Collection, encode};
use crate::{Call, Control, Error, FieldViolation, NewProject, ResourceRef};

const PROJECT_TYPE: &str = "google.cloud.resourcemanager.v3.Project";

/// Google's rule for project ids (creating-managing-projects): 6 to 30 lowercase letters, digits
/// or hyphens, starting with a letter, no trailing hyphen.
pub fn validate_project_id(id: &str) -> Result<(), Error> {
    let ok = (6..=30).contains(&id.len())
        && id.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.ends_with('-');
    if ok {
        return Ok(());
    }
    // The API answers with its generic text and names the field in BadRequest.
    Err(Error::InvalidArgument {
        message: "Request contains an invalid argument.".to_owned(),
        violations: vec![FieldViolation {
            field: "project.project_id".to_owned(),
            description: format!(
                "Project ID {id:?} is invalid: the project ID must be a unique string of 6 to 30 lowercase letters, digits, or hyphens. It must start with a letter, and cannot have a trailing hyphen."
            ),
        }],
    })
}

impl Control {
    /// The stored project record for `projects/{id or number}`, live or soft-deleted, after
    /// checking `permission` on it. Unknown projects are refused like inaccessible ones.
    fn authorized_project(
        &self,
        call: &Call,
        project: &str,
        permission: &str,
    ) -> Result<kumo_store::Record, Error> {
        let resource = self.container_ref(&format!("projects/{project}"))?;
        self.authorize(call, permission, &resource)?;
        let name = resource.relative_name();
        self.store()
            .get_including_deleted(Collection::Projects.as_str(), &name)
            .map_err(crate::records::store_error)?
            .ok_or_else(|| Error::permission_denied(permission, &format!("projects/{project}")))
    }

    /// `GET /v3/projects/{project}`: `resourcemanager.projects.get`. Projects pending deletion
    /// are still readable, with state `DELETE_REQUESTED`.
    pub fn get_project(&self, call: &Call, project: &str) -> Result<Value, Error> {
        let record = self.authorized_project(call, project, "resourcemanager.projects.get")?;
        Ok(render(&record))
    }

    /// `POST /v3/projects`: `resourcemanager.projects.create` on the parent. Without a parent
    /// the project goes under the caller's organization, as Google does for Workspace accounts.
    pub fn create_project(&self, call: &Call, project: &Project) -> Result<Value, Error> {
        let parent = if project.parent.is_empty() {
            let domain = call
                .caller
                .email()
                .and_then(|email| email.rsplit_once('@'))
                .map(|(_, d)| d)
                .unwrap_or_default();
            match self.organization_for_domain(domain)? {
                Some(org) => format!("organizations/{}", org.id),
                None => {
                    return Err(Error::invalid_field(
                        "project.parent",
                        "The parent of the project must be set.",
                    ));
                }
            }
        } else {
            project.parent.clone()
        };
        let parent_ref = match split_container(&parent) {
            Some(("folders" | "organizations", _)) => self.container_ref(&parent)?,
            _ => {
                return Err(Error::invalid_field(
                    "project.parent",
                    format!("Invalid parent {parent}: must be organizations/ID or folders/ID."),
                ));
            }
        };
        self.authorize(call, "resourcemanager.projects.create", &parent_ref)?;
        validate_project_id(&project.project_id)?;
        self.require_live_container(&parent_ref)?;
        validate_labels(&project.labels)?;
        let info = self.provision_project(NewProject {
            project_id: project.project_id.clone(),
            display_name: if project.display_name.is_empty() {
                project.project_id.clone()
            } else {
                project.display_name.clone()
            },
            parent: Some(parent),
            labels: project
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect(),
            owner: call.caller.member(),
        })?;
        let created = self.authorized_project(call, &info.id, "resourcemanager.projects.get")?;
        let now = timestamp(self.now());
        self.finished_rm_operation(
            "cp",
            any(
                "google.cloud.resourcemanager.v3.CreateProjectMetadata",
                json!({"createTime": now, "gettable": true, "ready": true}),
            ),
            any(PROJECT_TYPE, render(&created)),
        )
    }

    /// `GET /v3/projects?parent=…`: `resourcemanager.projects.list` on the parent.
    pub fn list_projects(
        &self,
        call: &Call,
        parent: &str,
        show_deleted: bool,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let parent_ref = match split_container(parent) {
            Some(("folders" | "organizations", _)) => self.container_ref(parent)?,
            _ => {
                return Err(Error::invalid_field(
                    "parent",
                    format!("Invalid parent {parent}."),
                ));
            }
        };
        self.authorize(call, "resourcemanager.projects.list", &parent_ref)?;
        let records = self
            .store()
            .list(
                Collection::Projects.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(parent_ref.relative_name()),
                    deleted: if show_deleted {
                        Deleted::Include
                    } else {
                        Deleted::Exclude
                    },
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let projects: Vec<Value> = records.iter().map(render).collect();
        let (projects, next) = page.apply(projects, 500, 500)?;
        Ok(list_response("projects", projects, next))
    }

    /// `GET /v3/projects:search?query=…`: every project the caller may get
    /// (`resourcemanager.projects.get`), filtered by the query.
    pub fn search_projects(
        &self,
        call: &Call,
        query: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let terms = parse_query(query)?;
        let records = self
            .store()
            .list(
                Collection::Projects.as_str(),
                &ListQuery {
                    deleted: Deleted::Include,
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let mut found = Vec::new();
        let mut parents = ParentAncestries::default();
        for record in &records {
            let project = render(record);
            if !terms.iter().all(|term| project_matches(&project, term)) {
                continue;
            }
            // Google's search hides projects pending deletion unless the query asks for them.
            if record.delete_time.is_some() && !terms.iter().any(|(key, _)| key == "state") {
                continue;
            }
            if self.may_get_listed_project(call, record, &mut parents)? {
                found.push(project);
            }
        }
        let (projects, next) = page.apply(found, 500, 500)?;
        Ok(list_response("projects", projects, next))
    }

    /// `PATCH /v3/projects/{project}?updateMask=…`: `resourcemanager.projects.update`. Only
    /// `displayName` and `labels` are mutable.
    pub fn update_project(
        &self,
        call: &Call,
        project: &str,
        patch: &Project,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let record = self.authorized_project(call, project, "resourcemanager.projects.update")?;
        if record.delete_time.is_some() {
            return Err(Error::failed_precondition(format!(
                "Project {} is not active.",
                record.name
            )));
        }
        let mask: Vec<String> = match update_mask.filter(|m| !m.trim().is_empty()) {
            Some(mask) => mask.split(',').map(|path| path.trim().to_owned()).collect(),
            None => vec!["displayName".to_owned(), "labels".to_owned()],
        };
        let mut data = record.data.clone();
        for path in &mask {
            match path.as_str() {
                "displayName" | "display_name" => data["displayName"] = json!(patch.display_name),
                "labels" => {
                    validate_labels(&patch.labels)?;
                    data["labels"] = json!(patch.labels);
                }
                other => {
                    return Err(Error::invalid_field(
                        "update_mask",
                        format!(
                            "Invalid update mask path: {other}. Only displayName and labels can be updated."
                        ),
                    ));
                }
            }
        }
        data["updateTime"] = json!(timestamp(self.now()));
        let updated = self.commit(&[Write::Update {
            collection: Collection::Projects.as_str().to_owned(),
            name: record.name.clone(),
            data: encode(&data)?,
            expected_revision: Some(record.revision),
        }])?;
        let rendered = updated.first().map(render).unwrap_or(data);
        self.finished_rm_operation(
            "cp",
            any(
                "google.cloud.resourcemanager.v3.UpdateProjectMetadata",
                json!({}),
            ),
            any(PROJECT_TYPE, rendered),
        )
    }

    /// `DELETE /v3/projects/{project}`: `resourcemanager.projects.delete`. Marks the project
    /// `DELETE_REQUESTED`; it can be undeleted until purged.
    pub fn delete_project(&self, call: &Call, project: &str) -> Result<Value, Error> {
        let record = self.authorized_project(call, project, "resourcemanager.projects.delete")?;
        if record.delete_time.is_some() || state_of(&record.data) != "ACTIVE" {
            return Err(Error::failed_precondition(format!(
                "Project {} is not active.",
                record.name
            )));
        }
        let mut data = record.data.clone();
        data["state"] = json!("DELETE_REQUESTED");
        data["updateTime"] = json!(timestamp(self.now()));
        let written = self.commit(&[Write::SoftDelete {
            collection: Collection::Projects.as_str().to_owned(),
            name: record.name.clone(),
            data: Some(encode(&data)?),
            expected_revision: Some(record.revision),
        }])?;
        self.invalidate_iam();
        let rendered = written.first().map(render).unwrap_or(data);
        self.finished_rm_operation(
            "dp",
            any(
                "google.cloud.resourcemanager.v3.DeleteProjectMetadata",
                json!({}),
            ),
            any(PROJECT_TYPE, rendered),
        )
    }

    /// `POST /v3/projects/{project}:undelete`: `resourcemanager.projects.undelete`.
    pub fn undelete_project(&self, call: &Call, project: &str) -> Result<Value, Error> {
        let record = self.authorized_project(call, project, "resourcemanager.projects.undelete")?;
        if record.delete_time.is_none() {
            return Err(Error::failed_precondition(format!(
                "Project {} is not in DELETE_REQUESTED state.",
                record.name
            )));
        }
        let mut data = record.data.clone();
        data["state"] = json!("ACTIVE");
        data["updateTime"] = json!(timestamp(self.now()));
        if let Some(object) = data.as_object_mut() {
            object.remove("deleteTime");
        }
        let written = self.commit(&[Write::Undelete {
            collection: Collection::Projects.as_str().to_owned(),
            name: record.name.clone(),
            data: Some(encode(&data)?),
            expected_revision: Some(record.revision),
        }])?;
        self.invalidate_iam();
        let rendered = written.first().map(render).unwrap_or(data);
        self.finished_rm_operation(
            "up",
            any(
                "google.cloud.resourcemanager.v3.UndeleteProjectMetadata",
                json!({}),
            ),
            any(PROJECT_TYPE, rendered),
        )
    }

    /// `POST /v3/projects/{project}:move`: `resourcemanager.projects.move` on the project and
    /// `resourcemanager.projects.create` on the destination.
    pub fn move_project(
        &self,
        call: &Call,
        project: &str,
        destination_parent: &str,
    ) -> Result<Value, Error> {
        let record = self.authorized_project(call, project, "resourcemanager.projects.move")?;
        let destination = match split_container(destination_parent) {
            Some(("folders" | "organizations", _)) => self.container_ref(destination_parent)?,
            _ => {
                return Err(Error::invalid_field(
                    "destination_parent",
                    format!("Invalid destination parent {destination_parent}."),
                ));
            }
        };
        self.authorize(call, "resourcemanager.projects.create", &destination)?;
        if record.delete_time.is_some() {
            return Err(Error::failed_precondition(format!(
                "Project {} is not active.",
                record.name
            )));
        }
        self.require_live_container(&destination)?;
        let mut data = record.data.clone();
        data["parent"] = json!(destination.relative_name());
        data["updateTime"] = json!(timestamp(self.now()));
        let written = self.commit(&[
            Write::Move {
                collection: Collection::Projects.as_str().to_owned(),
                name: record.name.clone(),
                parent: Some(destination.relative_name()),
                expected_revision: Some(record.revision),
            },
            Write::Update {
                collection: Collection::Projects.as_str().to_owned(),
                name: record.name.clone(),
                data: encode(&data)?,
                // Same transaction as the move, which already checked the revision.
                expected_revision: None,
            },
        ])?;
        self.invalidate_iam();
        let rendered = written.last().map(render).unwrap_or(data);
        self.finished_rm_operation(
            "mp",
            any(
                "google.cloud.resourcemanager.v3.MoveProjectMetadata",
                json!({}),
            ),
            any(PROJECT_TYPE, rendered),
        )
    }

    /// Refuses a parent that does not exist or is pending deletion.
    pub(super) fn require_live_container(&self, container: &ResourceRef) -> Result<(), Error> {
        let collection = match container {
            ResourceRef::Organization(_) => Collection::Organizations,
            ResourceRef::Folder(_) => Collection::Folders,
            _ => Collection::Projects,
        };
        match self.load::<Value>(collection, &container.relative_name())? {
            Some(stored) if state_of(&stored.value) == "ACTIVE" => Ok(()),
            _ => Err(Error::failed_precondition(format!(
                "Parent {} is not active.",
                container.relative_name()
            ))),
        }
    }
}

/// Google's label rules: keys 1–63 chars starting with a lowercase letter; values up to 63;
/// lowercase letters, digits, `_` and `-`; at most 64 labels.
fn validate_labels(labels: &std::collections::BTreeMap<String, String>) -> Result<(), Error> {
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    if labels.len() > 64 {
        return Err(Error::invalid_field(
            "labels",
            "A resource can have at most 64 labels.",
        ));
    }
    for (key, value) in labels {
        let key_ok = (1..=63).contains(&key.chars().count())
            && key.chars().next().is_some_and(char::is_lowercase)
            && allowed(key);
        let value_ok = value.chars().count() <= 63 && allowed(value);
        if !key_ok || !value_ok {
            return Err(Error::invalid_field(
                format!("labels.{key}"),
                format!("Invalid label {key}={value}."),
            ));
        }
    }
    Ok(())
}

pub(super) fn list_response(field: &str, items: Vec<Value>, next_page_token: String) -> Value {
    let mut response = json!({});
    if !items.is_empty() {
        response[field] = Value::Array(items);
    }
    if !next_page_token.is_empty() {
        response["nextPageToken"] = json!(next_page_token);
    }
    response
}

/// Parses a search query: space-separated `key:value` (or `key=value`) terms, all of which must
/// match. Values may be quoted; a trailing `*` is a prefix match.
pub(super) fn parse_query(query: &str) -> Result<Vec<(String, String)>, Error> {
    let mut terms = Vec::new();
    let mut rest = query.trim();
    while !rest.is_empty() {
        let Some(split) = rest.find([':', '=']) else {
            return Err(Error::invalid_field(
                "query",
                format!("Invalid query: {query}"),
            ));
        };
        let key = rest[..split].trim().to_owned();
        let after = rest[split + 1..].trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| Error::invalid_field("query", format!("Invalid query: {query}")))?;
            (quoted[..end].to_owned(), &quoted[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(Error::invalid_field(
                "query",
                format!("Invalid query: {query}"),
            ));
        }
        terms.push((key, value));
        rest = remaining.trim_start();
        if let Some(next) = rest.strip_prefix("AND ") {
            rest = next.trim_start();
        }
    }
    Ok(terms)
}

pub(super) fn value_matches(actual: &str, wanted: &str) -> bool {
    match wanted.strip_suffix('*') {
        Some(prefix) => actual.to_lowercase().starts_with(&prefix.to_lowercase()),
        None => actual.eq_ignore_ascii_case(wanted),
    }
}

fn project_matches(project: &Value, (key, wanted): &(String, String)) -> bool {
    let field = |name: &str| project[name].as_str().unwrap_or_default().to_owned();
    match key.as_str() {
        "id" | "projectId" => value_matches(&field("projectId"), wanted),
        "name" | "displayName" => value_matches(&field("displayName"), wanted),
        "parent" => value_matches(&field("parent"), wanted),
        "parent.type" => field("parent")
            .split('/')
            .next()
            .is_some_and(|kind| value_matches(kind.trim_end_matches('s'), wanted)),
        "parent.id" => field("parent")
            .split('/')
            .nth(1)
            .is_some_and(|id| value_matches(id, wanted)),
        "state" | "lifecycleState" => value_matches(&field("state"), wanted),
        "number" | "projectNumber" => {
            value_matches(field("name").trim_start_matches("projects/"), wanted)
        }
        other => match other.strip_prefix("labels.") {
            Some(label) => project["labels"][label]
                .as_str()
                .is_some_and(|value| value_matches(value, wanted)),
            None => false,
        },
    }
}

/// The ancestries of the parents of listed projects, each read once per list.
#[derive(Debug, Default)]
pub(crate) struct ParentAncestries(HashMap<String, Vec<ResourceRef>>);

impl Control {
    /// Whether the caller holds `resourcemanager.projects.get` on a project read from a list:
    /// decided over the record's own `parent`, so the list stays one read of the projects
    /// (plus one ancestry read per distinct parent) instead of a read per project.
    pub(crate) fn may_get_listed_project(
        &self,
        call: &Call,
        record: &Record,
        parents: &mut ParentAncestries,
    ) -> Result<bool, Error> {
        let Some(id) = record.name.strip_prefix("projects/") else {
            return Ok(false);
        };
        let parent = record
            .parent
            .as_deref()
            .and_then(crate::hierarchy::parse_container);
        let ancestry: &[ResourceRef] = match parent {
            Some(parent) => {
                let key = parent.relative_name();
                if !parents.0.contains_key(&key) {
                    let ancestry = self.ancestry(&parent)?;
                    parents.0.insert(key.clone(), ancestry);
                }
                parents.0.get(&key).map_or(&[], Vec::as_slice)
            }
            None => &[],
        };
        self.has_permission_under(
            &call.caller,
            "resourcemanager.projects.get",
            &ResourceRef::Project(id.to_owned()),
            ancestry,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids_follow_googles_rule() {
        for good in [
            "my-project",
            "abcdef",
            "a12345-b",
            "abcdefghijabcdefghijabcdefghij",
        ] {
            assert!(validate_project_id(good).is_ok(), "{good}");
        }
        for bad in [
            "short",
            "My-Project",
            "1project",
            "project-",
            "under_score",
            "abcdefghijabcdefghijabcdefghijk",
            "",
        ] {
            let error = validate_project_id(bad).unwrap_err();
            assert_eq!(
                error.to_string(),
                "Request contains an invalid argument.",
                "{bad}"
            );
        }
    }

    #[test]
    fn queries_parse_into_terms() {
        let terms =
            parse_query("id:demo-* AND parent:organizations/1 displayName:\"My App\"").unwrap();
        assert_eq!(
            terms,
            vec![
                ("id".to_owned(), "demo-*".to_owned()),
                ("parent".to_owned(), "organizations/1".to_owned()),
                ("displayName".to_owned(), "My App".to_owned()),
            ]
        );
        assert!(parse_query("").unwrap().is_empty());
        assert!(parse_query("nonsense").is_err());
        assert!(value_matches("demo-project", "demo-*"));
        assert!(!value_matches("demo-project", "demo"));
    }
}
