//! Cloud Logging v2: reading entries with the Logging query language (`entries.list`), writing
//! them (`entries.write`) and listing log names (`logs.list`). Entries live in the store's log;
//! the store prefilters by log-name prefix and timestamp bounds, and the parsed query
//! (`kumo-logfilter`) decides each entry.
//!
//! Data Access audit logs are private: entries of `cloudaudit.googleapis.com%2Fdata_access` are
//! only returned to callers that also hold `logging.privateLogEntries.list` (what
//! `roles/logging.privateLogViewer` adds); others do not see them.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use kumo_logfilter::{Filter, Hierarchy};
use kumo_store::{LogOrder, LogQuery};
use kumo_wire::logging::{ListLogEntriesRequest, LogEntry, WriteLogEntriesRequest};
use kumo_wire::protobuf::format_timestamp;
use serde_json::{Value, json};

use crate::{Call, Control, Error, ResourceRef};

/// Entries per page when the request gives no `pageSize` (Google's default).
const DEFAULT_PAGE_SIZE: usize = 50;
/// Google caps `pageSize` at 1000.
const MAX_PAGE_SIZE: usize = 1000;
/// Google's limit on the length of a query.
const MAX_FILTER_CHARS: usize = 20_000;
/// The private (Data Access) audit log's id, as it appears, escaped, in `logName`.
const DATA_ACCESS_LOG_ID: &str = "cloudaudit.googleapis.com%2Fdata_access";

/// A `resourceNames` entry: the container whose logs are read, and what the caller must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogParent {
    /// `projects/PROJECT_ID`, `folders/F` or `organizations/O`, as `logName`s start.
    name: String,
    /// The IAM resource.
    resource: ResourceRef,
}

/// What `entries.list` returns: entries in their stored JSON shape (every field a producer
/// wrote survives) and the token of the next page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LogEntriesPage {
    /// The entries, in the requested order.
    pub entries: Vec<Value>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl Control {
    /// Resolves `projects/ID|NUMBER`, `folders/F` or `organizations/O`. Unknown projects are
    /// refused like missing permissions, so that existence is not revealed.
    fn log_parent(&self, name: &str, permission: &str) -> Result<LogParent, Error> {
        let invalid = || {
            Error::invalid_field(
                "resource_names",
                format!("Invalid resource name: \"{name}\"."),
            )
        };
        let (kind, rest) = name.split_once('/').ok_or_else(invalid)?;
        // A log view (`projects/P/locations/L/buckets/B/views/V`, what `gcloud logging read
        // --bucket --view` sends) reads its container's logs: Kumo has one bucket per container.
        let id = match rest.split_once('/') {
            None => rest,
            Some((id, view)) => {
                let parts: Vec<&str> = view.split('/').collect();
                match parts.as_slice() {
                    ["locations", location, "buckets", bucket, "views", view]
                        if [location, bucket, view].iter().all(|part| !part.is_empty()) =>
                    {
                        id
                    }
                    _ => return Err(invalid()),
                }
            }
        };
        if id.is_empty() {
            return Err(invalid());
        }
        match kind {
            "projects" => match self.resolve_project(id)? {
                Some(project) => Ok(LogParent {
                    name: format!("projects/{}", project.id),
                    resource: ResourceRef::Project(project.id),
                }),
                None => Err(Error::permission_denied(permission, name)),
            },
            "folders" => Ok(LogParent {
                name: format!("folders/{id}"),
                resource: ResourceRef::Folder(id.to_owned()),
            }),
            "organizations" => Ok(LogParent {
                name: format!("organizations/{id}"),
                resource: ResourceRef::Organization(id.to_owned()),
            }),
            _ => Err(invalid()),
        }
    }

    /// `entries.list`: needs `logging.logEntries.list` on every resource named.
    pub fn list_log_entries(
        &self,
        call: &Call,
        request: &ListLogEntriesRequest,
    ) -> Result<LogEntriesPage, Error> {
        if request.resource_names.is_empty() {
            return Err(Error::invalid_field(
                "resource_names",
                "At least one resource name must be specified.",
            ));
        }
        let permission = "logging.logEntries.list";
        let mut parents = Vec::with_capacity(request.resource_names.len());
        for name in &request.resource_names {
            let parent = self.log_parent(name, permission)?;
            self.authorize(call, permission, &parent.resource)?;
            parents.push(parent);
        }
        // Private logs are filtered per parent: readable where the caller holds the permission.
        let mut private_readable = BTreeSet::new();
        for parent in &parents {
            if self.has_permission(
                &call.caller,
                "logging.privateLogEntries.list",
                &parent.resource,
            )? {
                private_readable.insert(format!("{}/logs/", parent.name));
            }
        }
        if request.filter.chars().count() > MAX_FILTER_CHARS {
            return Err(Error::invalid_field(
                "filter",
                format!("Filter is longer than {MAX_FILTER_CHARS} characters."),
            ));
        }
        let filter = Filter::parse(&request.filter)
            .map_err(|error| Error::invalid_field("filter", error.to_string()))?;
        let order = match request.order_by.trim().to_ascii_lowercase().as_str() {
            "" | "timestamp" | "timestamp asc" => LogOrder::Ascending,
            "timestamp desc" => LogOrder::Descending,
            other => {
                return Err(Error::invalid_field(
                    "order_by",
                    format!(
                        "Invalid order_by \"{other}\": only \"timestamp asc\" and \"timestamp desc\" are supported."
                    ),
                ));
            }
        };
        let page_size = match request.page_size {
            None | Some(0) => DEFAULT_PAGE_SIZE,
            Some(size) if !(0..=MAX_PAGE_SIZE as i32).contains(&size) => {
                return Err(Error::invalid_field(
                    "page_size",
                    format!("Invalid page_size {size}: must be between 0 and {MAX_PAGE_SIZE}."),
                ));
            }
            Some(size) => usize::try_from(size)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
        };
        let (start_time, end_time) = filter.timestamp_bounds();
        let query = LogQuery {
            log_name_prefixes: parents
                .iter()
                .map(|parent| format!("{}/logs/", parent.name))
                .collect(),
            // The filter's bounds may be inclusive; the store's end is exclusive, so widen it by
            // the smallest step. The filter itself decides exactly.
            start_time,
            end_time: end_time.map(|end: DateTime<Utc>| end + chrono::Duration::nanoseconds(1)),
            order,
            limit: page_size,
            page_token: (!request.page_token.is_empty()).then(|| request.page_token.clone()),
            ..LogQuery::default()
        };
        let hierarchy = LogHierarchy {
            control: self,
            ancestors: RefCell::new(HashMap::new()),
        };
        let mut include = |entry: &Value| {
            let log_name = entry["logName"].as_str().unwrap_or_default();
            if log_name.ends_with(&format!("/logs/{DATA_ACCESS_LOG_ID}"))
                && !private_readable
                    .iter()
                    .any(|prefix| log_name.starts_with(prefix.as_str()))
            {
                return false;
            }
            filter.matches_in(entry, &hierarchy)
        };
        let page = self
            .store()
            .query_log(&query, &mut include)
            .map_err(|error| match error {
                kumo_store::StoreError::InvalidArgument(_) => {
                    Error::invalid_field("page_token", "Invalid page token.")
                }
                other => crate::records::store_error(other),
            })?;
        Ok(LogEntriesPage {
            entries: page.entries,
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    /// `entries.write`: needs `logging.logEntries.create` on the project (or folder or
    /// organization) of every entry's log. Entries take the request's `logName`, `resource` and
    /// `labels` as defaults; missing timestamps and insert ids are filled in.
    pub fn write_log_entries(
        &self,
        call: &Call,
        request: &WriteLogEntriesRequest,
    ) -> Result<(), Error> {
        if request.entries.is_empty() {
            return Err(Error::invalid_field(
                "entries",
                "At least one log entry must be specified.",
            ));
        }
        let permission = "logging.logEntries.create";
        let now = self.now();
        let mut checked = BTreeSet::new();
        let mut out = Vec::with_capacity(request.entries.len());
        for (index, entry) in request.entries.iter().enumerate() {
            let mut entry: LogEntry = entry.clone();
            if entry.log_name.is_empty() {
                entry.log_name = request.log_name.clone();
            }
            if entry.resource.is_none() {
                entry.resource = request.resource.clone();
            }
            for (key, value) in &request.labels {
                entry
                    .labels
                    .entry(key.clone())
                    .or_insert_with(|| value.clone());
            }
            let field = format!("entries[{index}]");
            let (parent_name, log_id) = split_log_name(&entry.log_name).ok_or_else(|| {
                Error::invalid_field(
                    format!("{field}.log_name"),
                    format!("Invalid log name: \"{}\".", entry.log_name),
                )
            })?;
            if entry
                .resource
                .as_ref()
                .is_none_or(|resource| resource.kind.is_empty())
            {
                return Err(Error::invalid_field(
                    format!("{field}.resource"),
                    "A monitored resource must be specified.",
                ));
            }
            let payloads = usize::from(entry.text_payload.is_some())
                + usize::from(entry.json_payload.is_some())
                + usize::from(entry.proto_payload.is_some());
            if payloads > 1 {
                return Err(Error::invalid_field(
                    field.clone(),
                    "Only one of textPayload, jsonPayload and protoPayload may be set.",
                ));
            }
            if let Some(timestamp) = &entry.timestamp {
                kumo_wire::protobuf::parse_timestamp(timestamp)
                    .map_err(|error| Error::invalid_field(format!("{field}.timestamp"), error))?;
            }
            let parent = self.log_parent(parent_name, permission)?;
            if checked.insert(parent.name.clone()) {
                self.authorize(call, permission, &parent.resource)?;
            }
            // Numbers in names are stored as ids, so that one project has one set of logs.
            entry.log_name = format!("{}/logs/{}", parent.name, escape_log_id(log_id));
            if entry.timestamp.is_none() {
                entry.timestamp = Some(format_timestamp(&now));
            }
            entry.receive_timestamp = Some(format_timestamp(&now));
            if entry.insert_id.is_empty() {
                entry.insert_id = uuid::Uuid::new_v4().simple().to_string();
            }
            out.push(crate::records::encode(&entry)?);
        }
        if request.dry_run {
            return Ok(());
        }
        self.store().append_log(&out).map_err(|error| match error {
            kumo_store::StoreError::InvalidArgument(message) => {
                Error::invalid_field("entries", message)
            }
            other => crate::records::store_error(other),
        })
    }

    /// `logs.list`: the distinct log names under `parent`, sorted; needs `logging.logs.list`.
    pub fn list_logs(
        &self,
        call: &Call,
        parent: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<String>, String), Error> {
        let permission = "logging.logs.list";
        let parent = self.log_parent(parent, permission)?;
        self.authorize(call, permission, &parent.resource)?;
        let private = self.has_permission(
            &call.caller,
            "logging.privateLogEntries.list",
            &parent.resource,
        )?;
        let mut names = BTreeSet::new();
        let query = LogQuery {
            log_name_prefixes: vec![format!("{}/logs/", parent.name)],
            ..LogQuery::default()
        };
        self.store()
            .query_log(&query, &mut |entry: &Value| {
                if let Some(name) = entry["logName"]
                    .as_str()
                    .filter(|name| private || !name.ends_with(DATA_ACCESS_LOG_ID))
                {
                    names.insert(name.to_owned());
                }
                false
            })
            .map_err(crate::records::store_error)?;
        // The page token is the last name of the previous page: names are listed in order.
        let size = if page_size == 0 {
            MAX_PAGE_SIZE
        } else {
            page_size.min(MAX_PAGE_SIZE)
        };
        let remaining: Vec<String> = names
            .into_iter()
            .filter(|name| page_token.is_empty() || name.as_str() > page_token)
            .collect();
        let next = if remaining.len() > size {
            remaining[size - 1].clone()
        } else {
            String::new()
        };
        Ok((remaining.into_iter().take(size).collect(), next))
    }
}

/// `source()`'s view of the resource hierarchy: each log container's ancestors, read from the
/// store once per query. Entries were already authorized by container, so a container whose
/// ancestry cannot be read simply matches no `source()` but its own.
struct LogHierarchy<'a> {
    control: &'a Control,
    ancestors: RefCell<HashMap<String, Vec<String>>>,
}

impl LogHierarchy<'_> {
    /// `projects/NUMBER` and `projects/ID` name the same project; logs use the id.
    fn canonical(&self, resource: &str) -> String {
        match resource.strip_prefix("projects/") {
            Some(project) if project.bytes().all(|b| b.is_ascii_digit()) => {
                match self.control.resolve_project(project) {
                    Ok(Some(info)) => format!("projects/{}", info.id),
                    _ => resource.to_owned(),
                }
            }
            _ => resource.to_owned(),
        }
    }

    fn ancestors_of(&self, container: &str) -> Vec<String> {
        let reference = match container.split_once('/') {
            Some(("projects", id)) => ResourceRef::Project(id.to_owned()),
            Some(("folders", id)) => ResourceRef::Folder(id.to_owned()),
            Some(("organizations", id)) => ResourceRef::Organization(id.to_owned()),
            _ => return vec![container.to_owned()],
        };
        self.control
            .ancestry(&reference)
            .map(|chain| chain.iter().map(ResourceRef::relative_name).collect())
            .unwrap_or_else(|_| vec![container.to_owned()])
    }
}

impl Hierarchy for LogHierarchy<'_> {
    fn contains(&self, resource: &str, container: &str) -> bool {
        let resource = self.canonical(resource);
        if resource == container {
            return true;
        }
        self.ancestors
            .borrow_mut()
            .entry(container.to_owned())
            .or_insert_with(|| self.ancestors_of(container))
            .contains(&resource)
    }
}

/// Splits `projects/P/logs/LOG_ID` into the parent and the (possibly escaped) log id.
fn split_log_name(log_name: &str) -> Option<(&str, &str)> {
    let at = log_name.find("/logs/")?;
    let (parent, rest) = log_name.split_at(at);
    let log_id = &rest["/logs/".len()..];
    if log_id.is_empty() || log_id.len() > 512 {
        return None;
    }
    let valid = log_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.' | b'%'));
    valid.then_some((parent, log_id))
}

/// Log ids are stored with `/` escaped, as Google returns them (`cloudaudit.googleapis.com%2Factivity`).
fn escape_log_id(log_id: &str) -> String {
    log_id.replace('/', "%2F")
}

/// A Logging console-style link to an execution's logs, for `Execution.logUri`.
pub fn logs_link(external_url: &str, project: &str, filter: &str) -> String {
    let mut encoded = String::new();
    for byte in filter.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!(
        "{}/logs/viewer?project={project}&advancedFilter={encoded}",
        external_url.trim_end_matches('/')
    )
}

/// The JSON page `entries.list` answers with.
pub fn entries_page_json(page: &LogEntriesPage) -> Value {
    let mut body = json!({});
    if !page.entries.is_empty() {
        body["entries"] = Value::Array(page.entries.clone());
    }
    if !page.next_page_token.is_empty() {
        body["nextPageToken"] = json!(page.next_page_token);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_split_and_escape() {
        assert_eq!(
            split_log_name("projects/p/logs/my-log"),
            Some(("projects/p", "my-log"))
        );
        assert_eq!(
            split_log_name("projects/p/logs/cloudaudit.googleapis.com%2Factivity"),
            Some(("projects/p", "cloudaudit.googleapis.com%2Factivity"))
        );
        assert_eq!(split_log_name("projects/p/logs/"), None);
        assert_eq!(split_log_name("projects/p"), None);
        assert_eq!(split_log_name("projects/p/logs/bad log"), None);
        assert_eq!(
            escape_log_id("run.googleapis.com/stdout"),
            "run.googleapis.com%2Fstdout"
        );
    }

    #[test]
    fn logs_link_encodes_the_filter() {
        assert_eq!(
            logs_link(
                "http://127.0.0.1:8080/",
                "p",
                "resource.type=\"cloud_run_job\""
            ),
            "http://127.0.0.1:8080/logs/viewer?project=p&advancedFilter=resource.type%3D%22cloud_run_job%22"
        );
    }
}
