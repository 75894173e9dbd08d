//! Pure directory model: Workspace customers, domains, users, nested groups.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirectoryError {
    #[error("invalid customer id {0:?}: expected C0 followed by 7 alphanumerics")]
    CustomerId(String),
    #[error("domain {0} already belongs to customer {1}")]
    DomainTaken(String, String),
    #[error("unknown customer {0}")]
    UnknownCustomer(String),
}

/// Workspace customer ids look like `C01abc2de` (`C0` + 7 alphanumerics).
pub fn is_customer_id(id: &str) -> bool {
    id.len() == 9 && id.starts_with("C0") && id[2..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// customer id → primary + secondary domains.
    customers: BTreeMap<String, BTreeSet<String>>,
    /// domain → customer id.
    domains: BTreeMap<String, String>,
    /// group email → direct member emails (users, SAs or groups).
    groups: BTreeMap<String, BTreeSet<String>>,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_customer(&mut self, id: &str) -> Result<(), DirectoryError> {
        if !is_customer_id(id) {
            return Err(DirectoryError::CustomerId(id.to_owned()));
        }
        self.customers.entry(id.to_owned()).or_default();
        Ok(())
    }

    pub fn add_domain(&mut self, customer: &str, domain: &str) -> Result<(), DirectoryError> {
        let domain = lower(domain);
        if let Some(owner) = self.domains.get(&domain) {
            return if owner == customer {
                Ok(())
            } else {
                Err(DirectoryError::DomainTaken(domain, owner.clone()))
            };
        }
        let set = self
            .customers
            .get_mut(customer)
            .ok_or_else(|| DirectoryError::UnknownCustomer(customer.to_owned()))?;
        set.insert(domain.clone());
        self.domains.insert(domain, customer.to_owned());
        Ok(())
    }

    pub fn add_member(&mut self, group: &str, member: &str) {
        self.groups
            .entry(lower(group))
            .or_default()
            .insert(lower(member));
    }

    pub fn remove_member(&mut self, group: &str, member: &str) {
        if let Some(m) = self.groups.get_mut(&lower(group)) {
            m.remove(&lower(member));
        }
    }

    /// Customer owning the email's domain (for `iam.allowedPolicyMemberDomains`).
    /// Service accounts (`*.gserviceaccount.com`) belong to no customer here; the caller maps
    /// them through their project's organization.
    pub fn customer_of_email(&self, email: &str) -> Option<&str> {
        let (_, domain) = email.rsplit_once('@')?;
        self.domains.get(&lower(domain)).map(String::as_str)
    }

    /// Every group `email` belongs to, directly or through nested groups; cycle-safe, sorted.
    pub fn resolve_groups(&self, email: &str) -> Vec<String> {
        let mut found = BTreeSet::new();
        let mut frontier = vec![lower(email)];
        while let Some(current) = frontier.pop() {
            for (group, members) in &self.groups {
                if members.contains(&current) && found.insert(group.clone()) {
                    frontier.push(group.clone());
                }
            }
        }
        found.remove(&lower(email));
        found.into_iter().collect()
    }
}
