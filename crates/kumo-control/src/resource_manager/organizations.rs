//! Organizations: get and search. Google has no create; see `organizations.rs` at the crate root
//! for the system-level provisioning.

use serde_json::{Value, json};

use super::common::PageRequest;
use super::projects::{list_response, parse_query, value_matches};
use super::render;
use crate::records::Collection;
use crate::{Call, Control, Error, ResourceRef};

impl Control {
    /// `GET /v3/organizations/{id}`: `resourcemanager.organizations.get`.
    pub fn get_organization(&self, call: &Call, organization: &str) -> Result<Value, Error> {
        let resource = ResourceRef::Organization(organization.to_owned());
        self.authorize(call, "resourcemanager.organizations.get", &resource)?;
        let record = self
            .store()
            .get(
                Collection::Organizations.as_str(),
                &resource.relative_name(),
            )
            .map_err(crate::records::store_error)?
            .ok_or_else(|| {
                Error::permission_denied(
                    "resourcemanager.organizations.get",
                    &resource.relative_name(),
                )
            })?;
        Ok(render(&record))
    }

    /// `GET /v3/organizations:search?query=domain:…`: organizations the caller may get.
    /// Accepts `domain:` and `directoryCustomerId:` terms (v1's `filter` uses the same form).
    pub fn search_organizations(
        &self,
        call: &Call,
        query: &str,
        page: &PageRequest,
    ) -> Result<Value, Error> {
        let terms = parse_query(query)?;
        let mut found = Vec::new();
        for organization in self.organizations()? {
            let matches = terms.iter().all(|(key, wanted)| match key.as_str() {
                "domain" | "displayName" | "display_name" => value_matches(
                    organization["displayName"].as_str().unwrap_or_default(),
                    wanted,
                ),
                "directoryCustomerId" | "directory_customer_id" | "owner.directoryCustomerId" => {
                    value_matches(
                        organization["directoryCustomerId"]
                            .as_str()
                            .unwrap_or_default(),
                        wanted,
                    )
                }
                _ => false,
            });
            let id = organization["name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("organizations/")
                .to_owned();
            if matches
                && self.has_permission(
                    &call.caller,
                    "resourcemanager.organizations.get",
                    &ResourceRef::Organization(id.clone()),
                )?
            {
                let record = self
                    .store()
                    .get(
                        Collection::Organizations.as_str(),
                        &format!("organizations/{id}"),
                    )
                    .map_err(crate::records::store_error)?;
                found.push(
                    record
                        .as_ref()
                        .map(render)
                        .unwrap_or_else(|| json!(organization)),
                );
            }
        }
        let (organizations, next) = page.apply(found, 50, 1000)?;
        Ok(list_response("organizations", organizations, next))
    }
}
