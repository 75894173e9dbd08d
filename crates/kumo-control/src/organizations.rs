//! Organizations and their Workspace customers at the system level. Google has no API to create an
//! organization: it appears when a Workspace or Cloud Identity customer signs up. Kumo creates one
//! at bootstrap, and on request through its `organizations create` extension.

use kumo_store::{ListQuery, Write};
use serde_json::{Value, json};

use crate::records::Collection;
use crate::{Control, Error, ResourceRef};

/// Organization ids are 12 digits, like Google's.
const ORGANIZATION_ID_BASE: u64 = 400_000_000_000;

/// A created (or found) organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationInfo {
    /// The numeric id (`organizations/{id}`).
    pub id: String,
    /// The Workspace customer id (`C0…`).
    pub customer_id: String,
    /// The primary domain.
    pub domain: String,
}

impl Control {
    /// The organization whose primary domain is `domain`, if any.
    pub fn organization_for_domain(&self, domain: &str) -> Result<Option<OrganizationInfo>, Error> {
        let page = self
            .store()
            .list(Collection::Organizations.as_str(), &ListQuery::default())
            .map_err(crate::records::store_error)?;
        for record in page.records {
            let value = record.data;
            if value["displayName"].as_str() == Some(domain) {
                return Ok(Some(OrganizationInfo {
                    id: value["name"]
                        .as_str()
                        .and_then(|n| n.strip_prefix("organizations/"))
                        .unwrap_or_default()
                        .to_owned(),
                    customer_id: value["directoryCustomerId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    domain: domain.to_owned(),
                }));
            }
        }
        Ok(None)
    }

    /// Creates an organization for `domain` with a new Workspace customer (or the given customer
    /// id), and grants `admin` (a member string) the organization administrator and owner roles.
    /// Fails with ALREADY_EXISTS when the domain already has one.
    pub fn provision_organization(
        &self,
        domain: &str,
        customer_id: Option<&str>,
        admin: Option<&str>,
    ) -> Result<OrganizationInfo, Error> {
        validate_domain(domain)?;
        if self.organization_for_domain(domain)?.is_some() {
            return Err(Error::already_exists(format!(
                "An organization for domain {domain} already exists."
            )));
        }
        let sequence = self
            .store()
            .next_sequence("organization_id")
            .map_err(crate::records::store_error)?;
        let id = (ORGANIZATION_ID_BASE + sequence * 104_723 % 500_000_000_000).to_string();
        let customer_id = match customer_id {
            Some(given) => {
                validate_customer_id(given)?;
                given.to_owned()
            }
            None => customer_id_from(sequence),
        };
        let now = self
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        self.commit(&[
            Write::Create {
                collection: Collection::Customers.as_str().to_owned(),
                name: format!("customers/{customer_id}"),
                parent: None,
                data: json!({"id": customer_id, "customerDomain": domain, "domains": [domain]}),
            },
            Write::Create {
                collection: Collection::Organizations.as_str().to_owned(),
                name: format!("organizations/{id}"),
                parent: None,
                data: json!({
                    "name": format!("organizations/{id}"),
                    "displayName": domain,
                    "directoryCustomerId": customer_id,
                    "state": "ACTIVE",
                    "createTime": now,
                    "updateTime": now,
                }),
            },
        ])?;
        // Google grants every user of the domain Project Creator and Billing Account Creator
        // when an organization is created (cloud.google.com/resource-manager/docs/default-access-control).
        let mut grants = vec![
            (
                "roles/resourcemanager.projectCreator",
                format!("domain:{domain}"),
            ),
            ("roles/billing.creator", format!("domain:{domain}")),
        ];
        if let Some(admin) = admin {
            grants.push(("roles/resourcemanager.organizationAdmin", admin.to_owned()));
            grants.push(("roles/owner", admin.to_owned()));
        }
        self.grant_roles(&ResourceRef::Organization(id.clone()), &grants)?;
        Ok(OrganizationInfo {
            id,
            customer_id,
            domain: domain.to_owned(),
        })
    }

    /// The Workspace customer that owns `domain` (primary or secondary), for
    /// `iam.allowedPolicyMemberDomains`.
    pub fn customer_for_domain(&self, domain: &str) -> Result<Option<String>, Error> {
        let page = self
            .store()
            .list(Collection::Customers.as_str(), &ListQuery::default())
            .map_err(crate::records::store_error)?;
        Ok(page.records.into_iter().find_map(|record| {
            let owns = record.data["domains"].as_array().is_some_and(|domains| {
                domains
                    .iter()
                    .any(|d| d.as_str().is_some_and(|d| d.eq_ignore_ascii_case(domain)))
            });
            owns.then(|| record.data["id"].as_str().unwrap_or_default().to_owned())
        }))
    }

    /// Every organization record (the bootstrap checks whether one exists).
    pub fn organizations(&self) -> Result<Vec<Value>, Error> {
        let page = self
            .store()
            .list(Collection::Organizations.as_str(), &ListQuery::default())
            .map_err(crate::records::store_error)?;
        Ok(page.records.into_iter().map(|record| record.data).collect())
    }
}

/// Workspace customer ids look like `C0` followed by seven characters.
fn customer_id_from(sequence: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut value = sequence.wrapping_mul(2_654_435_761) % 78_364_164_096; // 36^7
    let mut tail = [b'0'; 7];
    for slot in tail.iter_mut().rev() {
        *slot = ALPHABET[(value % 36) as usize];
        value /= 36;
    }
    format!("C0{}", String::from_utf8_lossy(&tail))
}

fn validate_customer_id(id: &str) -> Result<(), Error> {
    let ok = id.len() >= 3
        && id.starts_with('C')
        && id.bytes().skip(1).all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "directoryCustomerId",
            format!("Invalid customer id: {id}"),
        ))
    }
}

fn validate_domain(domain: &str) -> Result<(), Error> {
    let labels: Vec<&str> = domain.split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "domain",
            format!("Invalid domain name: {domain}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_have_googles_shape_and_differ() {
        let a = customer_id_from(1);
        let b = customer_id_from(2);
        assert_eq!(a.len(), 9);
        assert!(a.starts_with("C0"));
        assert_ne!(a, b);
    }

    #[test]
    fn domains_are_validated() {
        assert!(validate_domain("example.com").is_ok());
        assert!(validate_domain("localhost").is_err());
        assert!(validate_domain("-bad.com").is_err());
        assert!(validate_domain("a..com").is_err());
    }
}
