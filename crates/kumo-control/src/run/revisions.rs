//! Cloud Run revisions: immutable snapshots of a service's template, created by
//! [`Control::apply_service`]; the API reads, lists and deletes them. Permissions are checked on
//! the service (revisions carry no IAM policy of their own).

use base64::Engine as _;
use kumo_store::{Record, Write};
use kumo_wire::protobuf::format_timestamp;
use kumo_wire::run_v2::{Revision, Service, TrafficTargetAllocationType as Allocation};

use super::services::ServiceKey;
use crate::records::Collection;
use crate::{Call, Control, Error};

/// The largest `pageSize` of `revisions.list`.
const MAX_PAGE_SIZE: usize = 1000;

/// Google's NOT_FOUND text for a revision.
pub fn revision_not_found(project: &str, location: &str, revision: &str) -> Error {
    Error::not_found(format!(
        "Resource '{revision}' of kind 'REVISION' in region '{location}' in project '{project}' does not exist."
    ))
}

impl Control {
    fn revision_view(&self, record: Record) -> Result<Revision, Error> {
        let stored = self.decode::<Revision>(record)?;
        let mut revision = stored.value;
        revision.uid = stored.record.uid.clone();
        revision.etag = stored.record.etag.clone();
        revision.create_time = Some(format_timestamp(&stored.record.create_time));
        revision.update_time = Some(format_timestamp(&stored.record.update_time));
        Ok(revision)
    }

    /// `GetRevision`: needs `run.revisions.get`.
    pub fn get_revision(
        &self,
        call: &Call,
        key: &ServiceKey,
        revision: &str,
    ) -> Result<Revision, Error> {
        self.authorize(call, "run.revisions.get", &key.resource())?;
        let name = format!("{}/revisions/{revision}", key.name());
        match self
            .store()
            .get(Collection::Revisions.as_str(), &name)
            .map_err(crate::records::store_error)?
        {
            Some(record) => self.revision_view(record),
            None => Err(revision_not_found(&key.project.id, &key.location, revision)),
        }
    }

    /// `ListRevisions` of a service, newest first, paged by an offset token.
    pub fn list_revisions(
        &self,
        call: &Call,
        key: &ServiceKey,
        page_size: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<(Vec<Revision>, Option<String>), Error> {
        self.authorize(call, "run.revisions.list", &key.resource())?;
        let page_size = match page_size {
            None | Some(0) => MAX_PAGE_SIZE,
            Some(size) if size < 0 => {
                return Err(Error::invalid_field(
                    "page_size",
                    "page_size must not be negative",
                ));
            }
            Some(size) => usize::try_from(size)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
        };
        let offset = match page_token.filter(|token| !token.is_empty()) {
            None => 0,
            Some(token) => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.parse::<usize>().ok())
                .ok_or_else(|| Error::invalid_field("page_token", "Invalid page token."))?,
        };
        let mut revisions = self
            .revision_records(&key.name())?
            .into_iter()
            .map(|record| self.revision_view(record))
            .collect::<Result<Vec<_>, _>>()?;
        revisions.sort_by(|a, b| (&b.create_time, &b.name).cmp(&(&a.create_time, &a.name)));
        let rest: Vec<Revision> = revisions.into_iter().skip(offset).collect();
        let next = (rest.len() > page_size).then(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode((offset + page_size).to_string())
        });
        Ok((rest.into_iter().take(page_size).collect(), next))
    }

    /// `DeleteRevision`: needs `run.revisions.delete`; a revision that serves traffic cannot be
    /// deleted. Returns the deleted revision.
    pub fn delete_revision(
        &self,
        call: &Call,
        key: &ServiceKey,
        revision: &str,
        etag: Option<&str>,
        validate_only: bool,
    ) -> Result<Revision, Error> {
        self.authorize(call, "run.revisions.delete", &key.resource())?;
        let name = format!("{}/revisions/{revision}", key.name());
        let Some(record) = self
            .store()
            .get(Collection::Revisions.as_str(), &name)
            .map_err(crate::records::store_error)?
        else {
            return Err(revision_not_found(&key.project.id, &key.location, revision));
        };
        let view = self.revision_view(record.clone())?;
        if let Some(etag) = etag.filter(|etag| !etag.is_empty())
            && etag != view.etag
        {
            return Err(Error::aborted(format!(
                "The etag \"{etag}\" does not match the current etag of {name}. Read it again and retry."
            )));
        }
        if let Some(service) = self.load::<Service>(Collection::Services, &key.name())? {
            let serving = service
                .value
                .traffic
                .iter()
                .any(|target| match target.kind {
                    Some(Allocation::Latest) => service.value.latest_ready_revision == name,
                    _ => target.revision == revision,
                });
            if serving {
                return Err(Error::failed_precondition(format!(
                    "Revision {revision} cannot be deleted because it is serving traffic."
                )));
            }
        }
        if !validate_only {
            self.commit(&[Write::HardDelete {
                collection: Collection::Revisions.as_str().to_owned(),
                name,
                expected_revision: Some(record.revision),
            }])?;
            self.invalidate_service(&key.name());
        }
        Ok(view)
    }
}
