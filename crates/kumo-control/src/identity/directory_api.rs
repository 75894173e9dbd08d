//! The directory APIs, minimal and in Google's shapes: Admin SDK Directory users, Cloud Identity
//! groups and memberships, and Kumo's extension that creates an organization (Google has none).
//! Records follow `directory.rs` and `organizations.rs`: `users/{EMAIL}`, `groups/{EMAIL}` with a
//! `members` list of `{"email", …}`, `customers/{ID}` with `domains`. Every write invalidates the
//! IAM caches, because group membership decides `group:` bindings.
//!
//! Workspace administration is not IAM at Google; Kumo maps "directory administrator" to
//! [`super::SYSTEM_ADMIN_PERMISSION`] on the customer's organization. Reads are open to that
//! administrator and to the customer's own users.

use kumo_store::{ListQuery, Record, Write};
use serde_json::{Map, Value, json};

use crate::records::{Collection, store_error};
use crate::{Call, Control, Error, ResourceRef};

const GROUP_TYPE: &str = "type.googleapis.com/google.apps.cloudidentity.groups.v1.Group";
const MEMBERSHIP_TYPE: &str = "type.googleapis.com/google.apps.cloudidentity.groups.v1.Membership";

fn now_text(control: &Control) -> String {
    control
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A user as the Admin SDK shows it: the stored record minus the password hash.
fn render_user(record: &Value) -> Value {
    let mut user = record.clone();
    if let Some(object) = user.as_object_mut() {
        object.remove("passwordHash");
    }
    user
}

/// A group as Cloud Identity shows it: without Kumo's inline member list.
fn render_group(record: &Value) -> Value {
    let mut group = record.clone();
    if let Some(object) = group.as_object_mut() {
        object.remove("members");
    }
    group
}

fn done_operation(response: Value) -> Value {
    json!({"done": true, "response": response})
}

fn domain_of(email: &str) -> &str {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain)
        .unwrap_or_default()
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text[local.len() + 1..].contains('@')
                && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn user_not_found() -> Error {
    Error::not_found("Resource Not Found: userKey")
}

fn group_not_found(group: &str) -> Error {
    Error::not_found(format!("Resource 'groups/{group}' was not found."))
}

impl Control {
    /// The organization id whose Workspace customer is `customer_id`.
    fn organization_of_customer(&self, customer_id: &str) -> Result<Option<String>, Error> {
        Ok(self.organizations()?.into_iter().find_map(|org| {
            (org["directoryCustomerId"].as_str() == Some(customer_id)).then(|| {
                org["name"]
                    .as_str()
                    .and_then(|n| n.strip_prefix("organizations/"))
                    .unwrap_or_default()
                    .to_owned()
            })
        }))
    }

    /// The customer of the caller's email domain (`my_customer`).
    fn caller_customer(&self, call: &Call) -> Result<Option<String>, Error> {
        match call.caller.email() {
            Some(email) => self.customer_for_domain(domain_of(email)),
            None => Ok(None),
        }
    }

    fn require_directory_admin(&self, call: &Call, customer_id: &str) -> Result<(), Error> {
        let organization = self
            .organization_of_customer(customer_id)?
            .unwrap_or_else(|| "-".to_owned());
        self.authorize(
            call,
            super::SYSTEM_ADMIN_PERMISSION,
            &ResourceRef::Organization(organization),
        )
    }

    fn require_directory_reader(&self, call: &Call, customer_id: &str) -> Result<(), Error> {
        if self.caller_customer(call)?.as_deref() == Some(customer_id) {
            return Ok(());
        }
        self.require_directory_admin(call, customer_id)
    }

    fn customer_of_domain_or_refuse(&self, domain: &str) -> Result<String, Error> {
        self.customer_for_domain(domain)?
            .ok_or_else(|| Error::invalid(format!("Domain not found: {domain}")))
    }

    // ---- users (Admin SDK Directory v1) ----

    /// `POST /admin/directory/v1/users`.
    pub fn create_user(&self, call: &Call, body: &Value) -> Result<Value, Error> {
        let email = body["primaryEmail"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !is_email(&email) {
            return Err(Error::invalid_field(
                "primaryEmail",
                "Invalid Input: primary_user_email",
            ));
        }
        let customer = self.customer_of_domain_or_refuse(domain_of(&email))?;
        self.require_directory_admin(call, &customer)?;
        let given = body["name"]["givenName"].as_str().unwrap_or_default();
        let family = body["name"]["familyName"].as_str().unwrap_or_default();
        if body.get("hashFunction").is_some_and(|h| !h.is_null()) {
            // Pre-hashed passwords (SHA-1, MD5, crypt) cannot become argon2id hashes.
            return Err(Error::invalid_field(
                "hashFunction",
                "Invalid Input: hashFunction is not supported; send the password in clear over a trusted channel.",
            ));
        }
        let password = body["password"].as_str();
        if let Some(password) = password
            && password.chars().count() < 8
        {
            return Err(Error::invalid_field("password", "Invalid Password"));
        }
        let user = self.new_user_record(&email, given, family, &customer, password, false)?;
        self.commit(&[Write::Create {
            collection: Collection::Users.as_str().to_owned(),
            name: format!("users/{email}"),
            parent: Some(format!("customers/{customer}")),
            data: user.clone(),
        }])
        .map_err(|error| match error {
            Error::AlreadyExists { .. } => Error::already_exists("Entity already exists."),
            other => other,
        })?;
        self.invalidate_iam();
        Ok(render_user(&user))
    }

    pub(crate) fn new_user_record(
        &self,
        email: &str,
        given: &str,
        family: &str,
        customer: &str,
        password: Option<&str>,
        is_admin: bool,
    ) -> Result<Value, Error> {
        let full = format!("{given} {family}").trim().to_owned();
        let mut user = json!({
            "kind": "admin#directory#user",
            "id": self.next_unique_id()?,
            "primaryEmail": email,
            "name": {"givenName": given, "familyName": family, "fullName": full},
            "isAdmin": is_admin,
            "suspended": false,
            "customerId": customer,
            "orgUnitPath": "/",
            "creationTime": now_text(self),
        });
        if let Some(password) = password {
            let hash = kumo_identity::password::hash_password(&mut rand::rngs::OsRng, password)
                .map_err(Error::internal)?;
            user["passwordHash"] = json!(hash);
        }
        Ok(user)
    }

    /// `GET /admin/directory/v1/users?customer=my_customer|ID` or `?domain=D`.
    pub fn list_users(
        &self,
        call: &Call,
        customer: Option<&str>,
        domain: Option<&str>,
    ) -> Result<Value, Error> {
        let customer = match (customer, domain) {
            (_, Some(domain)) => self.customer_of_domain_or_refuse(domain)?,
            (Some("my_customer") | None, None) => self
                .caller_customer(call)?
                .ok_or_else(|| Error::invalid("Bad Request"))?,
            (Some(id), None) => id.to_owned(),
        };
        self.require_directory_reader(call, &customer)?;
        let page = self
            .store()
            .list(Collection::Users.as_str(), &ListQuery::default())
            .map_err(store_error)?;
        let users: Vec<Value> = page
            .records
            .iter()
            .filter(|record| record.data["customerId"].as_str() == Some(customer.as_str()))
            .filter(|record| {
                domain.is_none_or(|d| {
                    domain_of(record.data["primaryEmail"].as_str().unwrap_or_default())
                        .eq_ignore_ascii_case(d)
                })
            })
            .map(|record| render_user(&record.data))
            .collect();
        let mut answer = json!({"kind": "admin#directory#users"});
        if !users.is_empty() {
            answer["users"] = Value::Array(users);
        }
        Ok(answer)
    }

    fn user_record(&self, key: &str) -> Result<Option<Record>, Error> {
        if key.contains('@') {
            return self
                .store()
                .get(
                    Collection::Users.as_str(),
                    &format!("users/{}", key.to_ascii_lowercase()),
                )
                .map_err(store_error);
        }
        let page = self
            .store()
            .list(Collection::Users.as_str(), &ListQuery::default())
            .map_err(store_error)?;
        Ok(page
            .records
            .into_iter()
            .find(|record| record.data["id"].as_str() == Some(key)))
    }

    /// `GET /admin/directory/v1/users/{userKey}` (email or id).
    pub fn get_user(&self, call: &Call, key: &str) -> Result<Value, Error> {
        let record = self.user_record(key)?.ok_or_else(user_not_found)?;
        let customer = record.data["customerId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.require_directory_reader(call, &customer)?;
        Ok(render_user(&record.data))
    }

    /// `DELETE /admin/directory/v1/users/{userKey}`.
    pub fn delete_user(&self, call: &Call, key: &str) -> Result<(), Error> {
        let record = self.user_record(key)?.ok_or_else(user_not_found)?;
        let customer = record.data["customerId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.require_directory_admin(call, &customer)?;
        // Google rewrites a deleted user's bindings to `deleted:user:EMAIL?uid=ID`
        // (google/iam/v1/policy.proto): they stop granting, and a new user with the email
        // inherits nothing.
        let email = record.data["primaryEmail"].as_str().unwrap_or_default();
        let id = record.data["id"].as_str().unwrap_or_default();
        self.commit_with_member_rewrite(
            Write::HardDelete {
                collection: Collection::Users.as_str().to_owned(),
                name: record.name.clone(),
                expected_revision: None,
            },
            &format!("user:{email}"),
            &format!("deleted:user:{email}?uid={id}"),
        )
    }

    // ---- groups (Cloud Identity v1) ----

    fn group_by_id(&self, group: &str) -> Result<Option<Record>, Error> {
        let wanted = format!("groups/{group}");
        let page = self
            .store()
            .list(Collection::Groups.as_str(), &ListQuery::default())
            .map_err(store_error)?;
        Ok(page
            .records
            .into_iter()
            .find(|record| record.data["name"].as_str() == Some(wanted.as_str())))
    }

    fn group_customer(record: &Record) -> String {
        record.data["parent"]
            .as_str()
            .and_then(|p| p.strip_prefix("customers/"))
            .unwrap_or_default()
            .to_owned()
    }

    /// `POST /v1/groups?initialGroupConfig=EMPTY|WITH_INITIAL_OWNER` → a done Operation.
    pub fn create_group(
        &self,
        call: &Call,
        body: &Value,
        initial_group_config: Option<&str>,
    ) -> Result<Value, Error> {
        let email = body["groupKey"]["id"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !is_email(&email) {
            return Err(Error::invalid_field(
                "group.group_key.id",
                "Request contains an invalid argument.",
            ));
        }
        let customer = body["parent"]
            .as_str()
            .and_then(|p| p.strip_prefix("customers/"))
            .unwrap_or_default()
            .to_owned();
        if customer.is_empty() {
            return Err(Error::invalid_field(
                "group.parent",
                "Request contains an invalid argument.",
            ));
        }
        self.require_directory_admin(call, &customer)?;
        if self.customer_for_domain(domain_of(&email))?.as_deref() != Some(customer.as_str()) {
            return Err(Error::invalid_field(
                "group.group_key.id",
                format!("The domain of {email} is not a domain of customers/{customer}."),
            ));
        }
        let with_owner = match initial_group_config {
            None | Some("EMPTY" | "INITIAL_GROUP_CONFIG_UNSPECIFIED") => false,
            Some("WITH_INITIAL_OWNER") => true,
            Some(_) => {
                return Err(Error::invalid_field(
                    "initial_group_config",
                    "Request contains an invalid argument.",
                ));
            }
        };
        let sequence = self
            .store()
            .next_sequence("group_id")
            .map_err(store_error)?;
        let id = format!(
            "0{:014x}",
            0x1d3a_5c7e_9b00_u64.wrapping_add(sequence.wrapping_mul(0x9e37_79b9))
                & 0x00ff_ffff_ffff_ffff
        );
        let now = now_text(self);
        let labels = body
            .get("labels")
            .cloned()
            .unwrap_or_else(|| json!({"cloudidentity.googleapis.com/groups.discussion_forum": ""}));
        let mut members = Vec::new();
        if with_owner && let Some(owner) = call.caller.email() {
            members.push(membership_value(
                &id,
                "1",
                owner,
                &["OWNER", "MEMBER"],
                &now,
                false,
            ));
        }
        let mut group = json!({
            "name": format!("groups/{id}"),
            "groupKey": {"id": email},
            "parent": format!("customers/{customer}"),
            "displayName": body["displayName"].as_str().unwrap_or_default(),
            "description": body["description"].as_str().unwrap_or_default(),
            "labels": labels,
            "createTime": now,
            "updateTime": now,
            "members": members,
        });
        if group["description"] == ""
            && let Some(object) = group.as_object_mut()
        {
            object.remove("description");
        }
        self.commit(&[Write::Create {
            collection: Collection::Groups.as_str().to_owned(),
            name: format!("groups/{email}"),
            parent: Some(format!("customers/{customer}")),
            data: group.clone(),
        }])
        .map_err(|error| match error {
            Error::AlreadyExists { .. } => Error::already_exists(format!(
                "Error(4003): Cannot create group '{email}' because it already exists."
            )),
            other => other,
        })?;
        self.invalidate_iam();
        let mut response = render_group(&group);
        response["@type"] = json!(GROUP_TYPE);
        Ok(done_operation(response))
    }

    /// `GET /v1/groups:lookup?groupKey.id=EMAIL` → `{"name": "groups/ID"}`.
    pub fn lookup_group(&self, call: &Call, email: &str) -> Result<Value, Error> {
        let record = self
            .store()
            .get(
                Collection::Groups.as_str(),
                &format!("groups/{}", email.trim().to_ascii_lowercase()),
            )
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found("Not found"))?;
        self.require_directory_reader(call, &Self::group_customer(&record))?;
        Ok(json!({"name": record.data["name"]}))
    }

    /// `GET /v1/groups/{ID}`.
    pub fn get_group(&self, call: &Call, group: &str) -> Result<Value, Error> {
        let record = self
            .group_by_id(group)?
            .ok_or_else(|| group_not_found(group))?;
        self.require_directory_reader(call, &Self::group_customer(&record))?;
        Ok(render_group(&record.data))
    }

    /// `GET /v1/groups?parent=customers/C…`.
    pub fn list_groups(&self, call: &Call, parent: &str) -> Result<Value, Error> {
        let customer = parent
            .strip_prefix("customers/")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Error::invalid_field("parent", "Request contains an invalid argument.")
            })?;
        self.require_directory_reader(call, customer)?;
        let page = self
            .store()
            .list(Collection::Groups.as_str(), &ListQuery::default())
            .map_err(store_error)?;
        let groups: Vec<Value> = page
            .records
            .iter()
            .filter(|r| Self::group_customer(r) == customer)
            .map(|r| render_group(&r.data))
            .collect();
        Ok(if groups.is_empty() {
            json!({})
        } else {
            json!({"groups": groups})
        })
    }

    /// `DELETE /v1/groups/{ID}` → a done Operation.
    pub fn delete_group(&self, call: &Call, group: &str) -> Result<Value, Error> {
        let record = self
            .group_by_id(group)?
            .ok_or_else(|| group_not_found(group))?;
        self.require_directory_admin(call, &Self::group_customer(&record))?;
        // As for users: `group:EMAIL` becomes `deleted:group:EMAIL?uid=ID` (policy.proto).
        let email = record.data["groupKey"]["id"].as_str().unwrap_or_default();
        self.commit_with_member_rewrite(
            Write::HardDelete {
                collection: Collection::Groups.as_str().to_owned(),
                name: record.name.clone(),
                expected_revision: None,
            },
            &format!("group:{email}"),
            &format!("deleted:group:{email}?uid={group}"),
        )?;
        Ok(done_operation(
            json!({"@type": "type.googleapis.com/google.protobuf.Empty"}),
        ))
    }

    /// `POST /v1/groups/{ID}/memberships` → a done Operation with the Membership.
    pub fn create_membership(
        &self,
        call: &Call,
        group: &str,
        body: &Value,
    ) -> Result<Value, Error> {
        let record = self
            .group_by_id(group)?
            .ok_or_else(|| group_not_found(group))?;
        self.require_directory_admin(call, &Self::group_customer(&record))?;
        let member = body["preferredMemberKey"]["id"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !is_email(&member) {
            return Err(Error::invalid_field(
                "membership.preferred_member_key.id",
                "Request contains an invalid argument.",
            ));
        }
        let mut roles: Vec<String> = body["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str())
            .map(str::to_owned)
            .collect();
        if roles.is_empty() {
            roles.push("MEMBER".to_owned());
        }
        if let Some(bad) = roles
            .iter()
            .find(|r| !matches!(r.as_str(), "MEMBER" | "MANAGER" | "OWNER"))
        {
            return Err(Error::invalid_field(
                "membership.roles",
                format!("Invalid role name: {bad}"),
            ));
        }
        if !roles.iter().any(|r| r == "MEMBER") {
            roles.push("MEMBER".to_owned());
        }
        let mut data = record.data.clone();
        let members = data["members"].as_array().cloned().unwrap_or_default();
        if members
            .iter()
            .any(|m| m["email"].as_str() == Some(member.as_str()))
        {
            return Err(Error::already_exists(format!(
                "Error(4003): Cannot create membership '{member}' in 'groups/{group}' because it already exists."
            )));
        }
        let sequence = self
            .store()
            .next_sequence("membership_id")
            .map_err(store_error)?;
        let membership_id = format!(
            "{:021}",
            100_000_000_000_000_000_000u128 + u128::from(sequence) * 7_919
        );
        let role_refs: Vec<&str> = roles.iter().map(String::as_str).collect();
        let now = now_text(self);
        let is_group = self
            .store()
            .get(Collection::Groups.as_str(), &format!("groups/{member}"))
            .map_err(store_error)?
            .is_some();
        let membership =
            membership_value(group, &membership_id, &member, &role_refs, &now, is_group);
        let mut members = members;
        members.push(membership.clone());
        data["members"] = Value::Array(members);
        data["updateTime"] = json!(now);
        self.commit(&[Write::Update {
            collection: Collection::Groups.as_str().to_owned(),
            name: record.name,
            data,
            expected_revision: Some(record.revision),
        }])?;
        self.invalidate_iam();
        let mut response = render_membership(&membership);
        response["@type"] = json!(MEMBERSHIP_TYPE);
        Ok(done_operation(response))
    }

    /// `GET /v1/groups/{ID}/memberships`.
    pub fn list_memberships(&self, call: &Call, group: &str) -> Result<Value, Error> {
        let record = self
            .group_by_id(group)?
            .ok_or_else(|| group_not_found(group))?;
        self.require_directory_reader(call, &Self::group_customer(&record))?;
        let memberships: Vec<Value> = record.data["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(render_membership)
            .collect();
        Ok(if memberships.is_empty() {
            json!({})
        } else {
            json!({"memberships": memberships})
        })
    }

    /// `DELETE /v1/groups/{ID}/memberships/{MID}` → a done Operation.
    pub fn delete_membership(
        &self,
        call: &Call,
        group: &str,
        membership: &str,
    ) -> Result<Value, Error> {
        let record = self
            .group_by_id(group)?
            .ok_or_else(|| group_not_found(group))?;
        self.require_directory_admin(call, &Self::group_customer(&record))?;
        let wanted = format!("groups/{group}/memberships/{membership}");
        let mut data = record.data.clone();
        let members = data["members"].as_array().cloned().unwrap_or_default();
        let before = members.len();
        let kept: Vec<Value> = members
            .into_iter()
            .filter(|m| m["name"].as_str() != Some(wanted.as_str()))
            .collect();
        if kept.len() == before {
            return Err(Error::not_found(format!(
                "Resource '{wanted}' was not found."
            )));
        }
        data["members"] = Value::Array(kept);
        data["updateTime"] = json!(now_text(self));
        self.commit(&[Write::Update {
            collection: Collection::Groups.as_str().to_owned(),
            name: record.name,
            data,
            expected_revision: Some(record.revision),
        }])?;
        self.invalidate_iam();
        Ok(done_operation(
            json!({"@type": "type.googleapis.com/google.protobuf.Empty"}),
        ))
    }

    // ---- organizations (Kumo extension) ----

    /// `POST /kumo/v1/organizations {domain}`: a new Workspace customer with that primary
    /// domain and its organization; the caller becomes its administrator. Only administrators
    /// of Kumo's bootstrap organization may create organizations.
    pub fn create_organization(&self, call: &Call, domain: &str) -> Result<Value, Error> {
        self.require_system_admin(call)?;
        let admin = call.caller.member();
        let info = self.provision_organization(
            &domain.trim().to_ascii_lowercase(),
            None,
            admin.as_deref(),
        )?;
        self.invalidate_iam();
        let stored = self
            .load::<Value>(
                Collection::Organizations,
                &format!("organizations/{}", info.id),
            )?
            .ok_or_else(|| Error::internal("organization vanished after creation"))?;
        Ok(stored.value)
    }
}

/// One membership entry as stored inside the group record (`email` is what IAM reads).
fn membership_value(
    group: &str,
    id: &str,
    email: &str,
    roles: &[&str],
    now: &str,
    is_group: bool,
) -> Value {
    let kind = if is_group {
        "GROUP"
    } else if email.ends_with(".gserviceaccount.com") {
        "SERVICE_ACCOUNT"
    } else {
        "USER"
    };
    json!({
        "email": email,
        "name": format!("groups/{group}/memberships/{id}"),
        "preferredMemberKey": {"id": email},
        "roles": roles.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "type": kind,
        "createTime": now,
        "updateTime": now,
    })
}

fn render_membership(stored: &Value) -> Value {
    let mut membership = Map::new();
    for field in [
        "name",
        "preferredMemberKey",
        "roles",
        "type",
        "createTime",
        "updateTime",
    ] {
        if let Some(value) = stored.get(field) {
            membership.insert(field.to_owned(), value.clone());
        }
    }
    Value::Object(membership)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("a@example.com"));
        assert!(!is_email("a@b@example.com"));
        assert!(!is_email("example.com"));
        assert!(!is_email("a@localhost"));
        assert!(!is_email("a b@example.com"));
    }
}
