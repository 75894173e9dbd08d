//! Roles: the predefined catalog (list/get with BASIC and FULL views), custom roles at project
//! and organization level (create/get/list/patch/delete/undelete, validated by `kumo-iam`), and
//! `permissions:queryTestablePermissions`.

use kumo_iam::{CustomRole, Predefined, RoleStage};
use kumo_names::{Etag, Permission, RoleName};
use kumo_store::{ListQuery, ParentFilter, Record, Write};
use kumo_wire::iam_admin::Role;
use serde_json::{Value, json};

use crate::iam_policy::etag_of;
use crate::records::{Collection, encode};
use crate::resource_manager::PageRequest;
use crate::{Call, Control, Error, ResourceRef};

/// Google's etag of predefined roles.
const PREDEFINED_ETAG: &str = "AA==";

fn catalog() -> Result<&'static Predefined, Error> {
    Predefined::get().map_err(Error::internal)
}

fn stage_name(stage: RoleStage) -> &'static str {
    match stage {
        RoleStage::Alpha => "ALPHA",
        RoleStage::Beta => "BETA",
        RoleStage::Ga => "GA",
        RoleStage::Deprecated => "DEPRECATED",
        RoleStage::Disabled => "DISABLED",
        RoleStage::Eap => "EAP",
    }
}

fn parse_stage(stage: &str) -> Result<RoleStage, Error> {
    Ok(match stage {
        "ALPHA" => RoleStage::Alpha,
        "BETA" => RoleStage::Beta,
        "GA" => RoleStage::Ga,
        "DEPRECATED" => RoleStage::Deprecated,
        "DISABLED" => RoleStage::Disabled,
        "EAP" => RoleStage::Eap,
        other => {
            return Err(Error::invalid_field(
                "role.stage",
                format!("Invalid role stage {other}."),
            ));
        }
    })
}

/// Whether a list/get answers with `includedPermissions`.
fn full_view(view: Option<&str>) -> Result<bool, Error> {
    match view {
        None | Some("" | "BASIC" | "0") => Ok(false),
        Some("FULL" | "1") => Ok(true),
        Some(other) => Err(Error::invalid_field(
            "view",
            format!("Invalid role view {other}."),
        )),
    }
}

fn render_predefined(role: &kumo_iam::RoleDef, predefined: &Predefined, full: bool) -> Value {
    let mut value = json!({
        "name": role.name.as_ref(),
        "title": role.title,
        "description": role.description,
        "stage": stage_name(role.stage),
        "etag": PREDEFINED_ETAG,
    });
    if full {
        let permissions: Vec<&str> = role
            .permission_ids()
            .iter()
            .filter_map(|id| predefined.permission(*id))
            .map(AsRef::as_ref)
            .collect();
        value["includedPermissions"] = json!(permissions);
    }
    value
}

fn render_custom(record: &Record, full: bool) -> Result<Value, Error> {
    let role: CustomRole = serde_json::from_value(record.data.clone()).map_err(|error| {
        Error::internal(format!("corrupt custom role `{}`: {error}", record.name))
    })?;
    let mut value = json!({
        "name": role.name.as_ref(),
        "title": role.title,
        "description": role.description,
        "stage": stage_name(role.stage),
        "etag": etag_of(record.revision),
    });
    if full {
        let permissions: Vec<&str> = role
            .included_permissions
            .iter()
            .map(AsRef::as_ref)
            .collect();
        value["includedPermissions"] = json!(permissions);
    }
    if role.deleted {
        value["deleted"] = json!(true);
    }
    Ok(value)
}

fn list_roles_response(roles: Vec<Value>, next: String) -> Value {
    let mut response = json!({});
    if !roles.is_empty() {
        response["roles"] = Value::Array(roles);
    }
    if !next.is_empty() {
        response["nextPageToken"] = json!(next);
    }
    response
}

fn parse_permissions(permissions: &[String]) -> Result<Vec<Permission>, Error> {
    permissions
        .iter()
        .map(|p| {
            p.parse().map_err(|_| {
                Error::invalid_field(
                    "role.included_permissions",
                    format!("Permission {p} is not valid."),
                )
            })
        })
        .collect()
}

impl Control {
    /// `GET /v1/roles`: the predefined roles. Google requires no permission.
    pub fn list_predefined_roles(
        &self,
        view: Option<&str>,
        show_deleted: bool,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let full = full_view(view)?;
        let predefined = catalog()?;
        let roles: Vec<&kumo_iam::RoleDef> = predefined
            .roles()
            .iter()
            .filter(|role| show_deleted || role.stage != RoleStage::Disabled)
            .collect();
        let (roles, next) = page.apply(roles, 300, 1000)?;
        Ok(list_roles_response(
            roles
                .into_iter()
                .map(|role| render_predefined(role, predefined, full))
                .collect(),
            next,
        ))
    }

    /// `GET /v1/roles/{role}`: a predefined role, always in the FULL view. No permission.
    pub fn get_predefined_role(&self, role: &str) -> Result<Value, Error> {
        let predefined = catalog()?;
        let not_found = || Error::not_found(format!("The role named roles/{role} was not found."));
        let name: RoleName = format!("roles/{role}").parse().map_err(|_| not_found())?;
        predefined
            .role(&name)
            .map(|role| render_predefined(role, predefined, true))
            .ok_or_else(not_found)
    }

    /// The IAM resource that owns custom roles under `parent` (`projects/P` or
    /// `organizations/O`) and the id used in role names.
    fn role_parent(&self, parent: &str) -> Result<(ResourceRef, String), Error> {
        let resource = match crate::resource_manager::common::split_container(parent) {
            Some(("projects" | "organizations", _)) => self.container_ref(parent)?,
            _ => {
                return Err(Error::invalid_field(
                    "parent",
                    format!("Invalid parent {parent}."),
                ));
            }
        };
        let prefix = resource.relative_name();
        Ok((resource, prefix))
    }

    fn authorized_role(
        &self,
        call: &Call,
        parent: &str,
        role_id: &str,
        permission: &str,
    ) -> Result<Record, Error> {
        let (resource, prefix) = self.role_parent(parent)?;
        self.authorize(call, permission, &resource)?;
        let name = format!("{prefix}/roles/{role_id}");
        self.store()
            .get(Collection::CustomRoles.as_str(), &name)
            .map_err(crate::records::store_error)?
            .ok_or_else(|| Error::not_found(format!("The role named {name} was not found.")))
    }

    /// `POST /v1/{parent}/roles`: `iam.roles.create` on the project or organization.
    pub fn create_custom_role(
        &self,
        call: &Call,
        parent: &str,
        role_id: &str,
        role: &Role,
    ) -> Result<Value, Error> {
        let (resource, prefix) = self.role_parent(parent)?;
        self.authorize(call, "iam.roles.create", &resource)?;
        let name = format!("{prefix}/roles/{role_id}");
        let role_name: RoleName = name
            .parse()
            .map_err(|_| Error::invalid_field("role_id", format!("The role id {role_id} is invalid: use 3 to 64 letters, digits, underscores and periods.")))?;
        let custom = CustomRole {
            name: role_name,
            title: role.title.clone(),
            description: role.description.clone(),
            stage: match &role.stage {
                Some(stage) => parse_stage(stage.as_str())?,
                None => RoleStage::Alpha,
            },
            included_permissions: parse_permissions(&role.included_permissions)?,
            deleted: false,
            etag: Etag::from_bytes(Vec::new()),
        };
        custom
            .validate(catalog()?)
            .map_err(|error| Error::invalid(error.to_string()))?;
        let collection = Collection::CustomRoles.as_str();
        if self
            .store()
            .get_including_deleted(collection, &name)
            .map_err(crate::records::store_error)?
            .is_some()
        {
            return Err(Error::already_exists(format!(
                "A role named {role_id} in {prefix} already exists."
            )));
        }
        let written = self.commit(&[Write::Create {
            collection: collection.to_owned(),
            name: name.clone(),
            parent: Some(prefix),
            data: encode(&custom)?,
        }])?;
        self.reload_custom_roles()?;
        match written.first() {
            Some(record) => render_custom(record, true),
            None => Err(Error::internal("custom role write returned nothing")),
        }
    }

    /// `GET /v1/{parent}/roles/{role}`: `iam.roles.get`.
    pub fn get_custom_role(
        &self,
        call: &Call,
        parent: &str,
        role_id: &str,
    ) -> Result<Value, Error> {
        render_custom(
            &self.authorized_role(call, parent, role_id, "iam.roles.get")?,
            true,
        )
    }

    /// `GET /v1/{parent}/roles`: `iam.roles.list`.
    pub fn list_custom_roles(
        &self,
        call: &Call,
        parent: &str,
        view: Option<&str>,
        show_deleted: bool,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let full = full_view(view)?;
        let (resource, prefix) = self.role_parent(parent)?;
        self.authorize(call, "iam.roles.list", &resource)?;
        let records = self
            .store()
            .list(
                Collection::CustomRoles.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(prefix),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let mut roles = Vec::new();
        for record in &records {
            let role = render_custom(record, full)?;
            if show_deleted || role.get("deleted").is_none() {
                roles.push(role);
            }
        }
        let (roles, next) = page.apply(roles, 300, 1000)?;
        Ok(list_roles_response(roles, next))
    }

    /// `PATCH /v1/{parent}/roles/{role}?updateMask=…`: `iam.roles.update`. The etag, when sent,
    /// must match.
    pub fn patch_custom_role(
        &self,
        call: &Call,
        parent: &str,
        role_id: &str,
        patch: &Role,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let record = self.authorized_role(call, parent, role_id, "iam.roles.update")?;
        let mut role: CustomRole = self.decode::<CustomRole>(record.clone())?.value;
        if role.deleted {
            return Err(Error::failed_precondition(format!(
                "The role {} is deleted; undelete it first.",
                role.name
            )));
        }
        if !patch.etag.is_empty() && patch.etag != etag_of(record.revision) {
            return Err(Error::aborted(crate::iam_policy::CONCURRENT_CHANGE));
        }
        let mask = update_mask
            .filter(|m| !m.trim().is_empty())
            .unwrap_or("title,description,includedPermissions,stage");
        for path in mask.split(',').map(str::trim) {
            match path {
                "title" => role.title = patch.title.clone(),
                "description" => role.description = patch.description.clone(),
                "includedPermissions" | "included_permissions" => {
                    role.included_permissions = parse_permissions(&patch.included_permissions)?
                }
                "stage" => {
                    role.stage = match &patch.stage {
                        Some(stage) => parse_stage(stage.as_str())?,
                        None => RoleStage::Alpha,
                    }
                }
                other => {
                    return Err(Error::invalid_field(
                        "update_mask",
                        format!("Invalid update mask path: {other}."),
                    ));
                }
            }
        }
        role.validate(catalog()?)
            .map_err(|error| Error::invalid(error.to_string()))?;
        self.write_role(&record, &role)
    }

    /// `DELETE /v1/{parent}/roles/{role}`: `iam.roles.delete`. The role stays readable with
    /// `deleted: true`; bindings to it remain but grant nothing until it is undeleted.
    pub fn delete_custom_role(
        &self,
        call: &Call,
        parent: &str,
        role_id: &str,
    ) -> Result<Value, Error> {
        let record = self.authorized_role(call, parent, role_id, "iam.roles.delete")?;
        let mut role: CustomRole = self.decode::<CustomRole>(record.clone())?.value;
        if role.deleted {
            return Err(Error::failed_precondition(format!(
                "The role {} is already deleted.",
                role.name
            )));
        }
        role.deleted = true;
        self.write_role(&record, &role)
    }

    /// `POST /v1/{parent}/roles/{role}:undelete`: `iam.roles.undelete`.
    pub fn undelete_custom_role(
        &self,
        call: &Call,
        parent: &str,
        role_id: &str,
        etag: &str,
    ) -> Result<Value, Error> {
        let record = self.authorized_role(call, parent, role_id, "iam.roles.undelete")?;
        if !etag.is_empty() && etag != etag_of(record.revision) {
            return Err(Error::aborted(crate::iam_policy::CONCURRENT_CHANGE));
        }
        let mut role: CustomRole = self.decode::<CustomRole>(record.clone())?.value;
        if !role.deleted {
            return Err(Error::failed_precondition(format!(
                "The role {} is not deleted.",
                role.name
            )));
        }
        role.deleted = false;
        self.write_role(&record, &role)
    }

    fn write_role(&self, record: &Record, role: &CustomRole) -> Result<Value, Error> {
        let written = self.commit(&[Write::Update {
            collection: Collection::CustomRoles.as_str().to_owned(),
            name: record.name.clone(),
            data: encode(role)?,
            expected_revision: Some(record.revision),
        }])?;
        self.reload_custom_roles()?;
        match written.first() {
            Some(record) => render_custom(record, true),
            None => Err(Error::internal("custom role write returned nothing")),
        }
    }

    /// `POST /v1/permissions:queryTestablePermissions`: the permissions that can be tested or
    /// granted on a resource, by its full name. Google requires no permission.
    pub fn query_testable_permissions(
        &self,
        full_resource_name: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let prefixes = testable_prefixes(full_resource_name).ok_or_else(|| {
            Error::invalid_field(
                "full_resource_name",
                format!("Invalid full resource name {full_resource_name}."),
            )
        })?;
        let predefined = catalog()?;
        let names: Vec<&Permission> = (0..predefined.permission_count())
            .filter_map(|index| {
                u32::try_from(index)
                    .ok()
                    .and_then(|id| predefined.permission(id))
            })
            .filter(|permission| {
                prefixes.is_empty()
                    || prefixes
                        .iter()
                        .any(|prefix| permission.as_ref().starts_with(prefix))
            })
            .collect();
        let (names, next) = page.apply(names, 100, 1000)?;
        let permissions: Vec<Value> = names
            .into_iter()
            .map(|name| json!({"name": name.as_ref(), "stage": "GA", "customRolesSupportLevel": "SUPPORTED"}))
            .collect();
        let mut response = json!({});
        if !permissions.is_empty() {
            response["permissions"] = Value::Array(permissions);
        }
        if !next.is_empty() {
            response["nextPageToken"] = json!(next);
        }
        Ok(response)
    }
}

/// The permission prefixes testable on a resource; empty = every permission (containers accept
/// grants of any permission, which then apply to their descendants).
fn testable_prefixes(full_name: &str) -> Option<Vec<&'static str>> {
    let rest = full_name.strip_prefix("//")?;
    let (service, relative) = rest.split_once('/')?;
    let segments: Vec<&str> = relative.split('/').collect();
    match (service, segments.as_slice()) {
        ("cloudresourcemanager.googleapis.com", ["projects" | "folders" | "organizations", id])
            if !id.is_empty() =>
        {
            Some(Vec::new())
        }
        ("iam.googleapis.com", ["projects", _, "serviceAccounts", account])
            if !account.is_empty() =>
        {
            Some(vec!["iam.serviceAccounts.", "iam.serviceAccountKeys."])
        }
        ("run.googleapis.com", ["projects", _, "locations", _, "services", _]) => {
            Some(vec!["run.services.", "run.routes."])
        }
        ("run.googleapis.com", ["projects", _, "locations", _, "jobs", _]) => {
            Some(vec!["run.jobs.", "run.executions."])
        }
        ("artifactregistry.googleapis.com", ["projects", _, "locations", _, "repositories", _]) => {
            Some(vec![
                "artifactregistry.repositories.",
                "artifactregistry.dockerimages.",
                "artifactregistry.tags.",
                "artifactregistry.files.",
            ])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testable_permissions_depend_on_the_resource_type() {
        assert_eq!(
            testable_prefixes("//cloudresourcemanager.googleapis.com/projects/p"),
            Some(Vec::new())
        );
        assert_eq!(
            testable_prefixes(
                "//iam.googleapis.com/projects/p/serviceAccounts/a@p.iam.gserviceaccount.com"
            ),
            Some(vec!["iam.serviceAccounts.", "iam.serviceAccountKeys."])
        );
        assert!(
            testable_prefixes("//run.googleapis.com/projects/p/locations/l/services/s").is_some()
        );
        assert!(testable_prefixes("projects/p").is_none());
        assert!(testable_prefixes("//storage.googleapis.com/b").is_none());
    }

    #[test]
    fn role_views_parse() {
        assert!(!full_view(None).unwrap());
        assert!(full_view(Some("FULL")).unwrap());
        assert!(full_view(Some("WIDE")).is_err());
        assert_eq!(parse_stage("GA").unwrap(), RoleStage::Ga);
        assert!(parse_stage("SOON").is_err());
    }
}
