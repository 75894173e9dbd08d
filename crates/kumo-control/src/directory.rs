//! The directory facts IAM decisions need: which groups a principal belongs to, transitively.
//! Groups are records `groups/{EMAIL}` whose `members` list holds `{"email": …}` entries (users,
//! service accounts or other groups); the directory APIs write them in that shape.

use std::collections::{BTreeSet, HashMap};

use kumo_store::ListQuery;
use serde_json::Value;

use crate::records::Collection;
use crate::{Control, Error};

/// Google caps group nesting; Kumo stops walking at this depth (cycles are cut too).
const MAX_NESTING: usize = 32;

impl Control {
    /// Every group `email` belongs to, directly or through nested groups, sorted.
    pub fn directory_groups(&self, email: &str) -> Result<Vec<String>, Error> {
        let page = self
            .store()
            .list(Collection::Groups.as_str(), &ListQuery::default())
            .map_err(crate::records::store_error)?;
        // member email → groups that list it directly
        let mut parents: HashMap<String, Vec<String>> = HashMap::new();
        for record in page.records {
            let Some(group) = record.name.strip_prefix("groups/") else {
                continue;
            };
            let group = group.to_ascii_lowercase();
            for member in record.data["members"].as_array().into_iter().flatten() {
                if let Some(member_email) = member["email"].as_str() {
                    parents
                        .entry(member_email.to_ascii_lowercase())
                        .or_default()
                        .push(group.clone());
                }
            }
        }
        let mut found = BTreeSet::new();
        let mut frontier = vec![(email.to_ascii_lowercase(), 0usize)];
        while let Some((current, depth)) = frontier.pop() {
            if depth >= MAX_NESTING {
                continue;
            }
            for group in parents.get(&current).into_iter().flatten() {
                if found.insert(group.clone()) {
                    frontier.push((group.clone(), depth + 1));
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// The directory record of a user, if any.
    pub fn directory_user(&self, email: &str) -> Result<Option<Value>, Error> {
        Ok(self
            .load::<Value>(
                Collection::Users,
                &format!("users/{}", email.to_ascii_lowercase()),
            )?
            .map(|stored| stored.value))
    }
}
