//! The resource hierarchy: organization → folders → project → resource. The IAM and org-policy
//! engines receive ancestries as data; this module reads them from the store.

use crate::records::Collection;
use crate::{Control, Error, ResourceRef};

/// Hierarchy walks stop here: Google allows 10 levels of folders under an organization.
const MAX_DEPTH: usize = 16;

impl Control {
    /// The resource itself, then each ancestor up to the organization.
    pub fn ancestry(&self, resource: &ResourceRef) -> Result<Vec<ResourceRef>, Error> {
        let mut chain = vec![resource.clone()];
        // IAP resources nest inside the project: service → `cloud_run-REGION` → `iap_web`.
        while let Some(parent) = chain.last().and_then(ResourceRef::iap_parent) {
            chain.push(parent);
        }
        let below_project = chain.last().cloned().unwrap_or_else(|| resource.clone());
        let mut next = match &below_project {
            ResourceRef::Organization(_) => None,
            ResourceRef::Folder(id) => {
                self.container_parent(Collection::Folders, &format!("folders/{id}"))?
            }
            ResourceRef::Project(id) => {
                self.container_parent(Collection::Projects, &format!("projects/{id}"))?
            }
            other => other
                .project()
                .map(|project| ResourceRef::Project(project.to_owned())),
        };
        while let Some(node) = next {
            if chain.len() > MAX_DEPTH {
                return Err(Error::internal(
                    "resource hierarchy is deeper than allowed or cyclic",
                ));
            }
            next = match &node {
                ResourceRef::Folder(id) => {
                    self.container_parent(Collection::Folders, &format!("folders/{id}"))?
                }
                ResourceRef::Project(id) => {
                    self.container_parent(Collection::Projects, &format!("projects/{id}"))?
                }
                _ => None,
            };
            chain.push(node);
        }
        Ok(chain)
    }

    /// The organization at the top of a resource's ancestry, if any.
    pub fn organization_of(&self, resource: &ResourceRef) -> Result<Option<String>, Error> {
        Ok(self
            .ancestry(resource)?
            .into_iter()
            .find_map(|node| match node {
                ResourceRef::Organization(id) => Some(id),
                _ => None,
            }))
    }

    /// The parent of a folder or project, from its record's `parent` (`folders/…` or
    /// `organizations/…`). A project without a parent has none.
    fn container_parent(
        &self,
        collection: Collection,
        name: &str,
    ) -> Result<Option<ResourceRef>, Error> {
        let record = self
            .store()
            .get_including_deleted(collection.as_str(), name)
            .map_err(crate::records::store_error)?;
        Ok(record
            .and_then(|record| record.parent)
            .and_then(|parent| parse_container(&parent)))
    }
}

/// Parses `organizations/ID`, `folders/ID` or `projects/ID`.
pub fn parse_container(name: &str) -> Option<ResourceRef> {
    let (kind, id) = name.split_once('/')?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    match kind {
        "organizations" => Some(ResourceRef::Organization(id.to_owned())),
        "folders" => Some(ResourceRef::Folder(id.to_owned())),
        "projects" => Some(ResourceRef::Project(id.to_owned())),
        _ => None,
    }
}
