//! The values that cross the [`crate::Store`] interface.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::StoreError;
use serde_json::Value;

/// One stored document and its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The collection, e.g. `"projects"`; names are unique within it.
    pub collection: String,
    /// The record's name, unique within its collection.
    pub name: String,
    /// The name of the parent resource, used for listing by parent.
    pub parent: Option<String>,
    /// A UUID v4 assigned on creation; it never changes, and a record re-created under
    /// the same name gets a new one.
    pub uid: String,
    /// 1 on creation, incremented by every write to the record.
    pub revision: u64,
    /// Opaque (base64url) tag derived from `uid` and `revision`: it changes on every
    /// write and differs between two incarnations of the same name.
    pub etag: String,
    /// The document.
    pub data: Value,
    /// When the record was created.
    pub create_time: DateTime<Utc>,
    /// When the record was last written (creation included).
    pub update_time: DateTime<Utc>,
    /// When the record was soft-deleted; `None` while it is live.
    pub delete_time: Option<DateTime<Utc>>,
}

impl Record {
    /// The etag of revision `revision` of the record with uid `uid`.
    pub fn etag_for(uid: &str, revision: u64) -> String {
        let mut bytes = match uuid::Uuid::parse_str(uid) {
            Ok(u) => u.as_bytes().to_vec(),
            // Uids are always UUIDs when written by a store; stay total anyway.
            Err(_) => uid.as_bytes().to_vec(),
        };
        bytes.extend_from_slice(&revision.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether the record is soft-deleted.
    pub fn is_deleted(&self) -> bool {
        self.delete_time.is_some()
    }
}

/// Whether reads see soft-deleted records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deleted {
    /// Only live records (the default).
    #[default]
    Exclude,
    /// Live and soft-deleted records.
    Include,
}

/// Which parents a listing covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ParentFilter {
    /// Every record of the collection.
    #[default]
    Any,
    /// Records whose parent is exactly this name.
    Is(String),
    /// Records without a parent.
    IsNone,
    /// Records whose parent starts with this prefix (e.g. `projects/p/locations/`
    /// for a `-` location wildcard).
    StartsWith(String),
}

/// What [`crate::Store::list`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    /// Which parents to include.
    pub parent: ParentFilter,
    /// Only records whose name starts with this prefix.
    pub name_prefix: Option<String>,
    /// Whether soft-deleted records are included.
    pub deleted: Deleted,
    /// Maximum records per page; 0 means no limit.
    pub page_size: usize,
    /// The `next_page_token` of the previous page of the same query.
    pub page_token: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// Records in ascending name order.
    pub records: Vec<Record>,
    /// Set when more records may follow; pass it back as [`ListQuery::page_token`].
    pub next_page_token: Option<String>,
}

/// One write of an atomic [`crate::Store::transact`] batch.
///
/// `expected_revision: Some(r)` makes the write fail with [`crate::StoreError::Conflict`]
/// unless the record is at revision `r` (optimistic concurrency); `None` writes
/// unconditionally. Writes other than `Undelete`, `HardDelete` and `Upsert` need a live
/// record and treat a soft-deleted one as absent (`NotFound`).
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Creates a record at revision 1; `AlreadyExists` if the name is taken, even by a
    /// soft-deleted record.
    Create {
        collection: String,
        name: String,
        parent: Option<String>,
        data: Value,
    },
    /// Replaces a live record's data, keeping its parent.
    Update {
        collection: String,
        name: String,
        data: Value,
        expected_revision: Option<u64>,
    },
    /// Creates the record, or replaces the data and parent of an existing one (live or
    /// soft-deleted; its deletion state is kept).
    Upsert {
        collection: String,
        name: String,
        parent: Option<String>,
        data: Value,
    },
    /// Changes a live record's parent (e.g. moving a project to another folder).
    Move {
        collection: String,
        name: String,
        parent: Option<String>,
        expected_revision: Option<u64>,
    },
    /// Marks a live record deleted, optionally replacing its data (e.g. a new state).
    SoftDelete {
        collection: String,
        name: String,
        data: Option<Value>,
        expected_revision: Option<u64>,
    },
    /// Makes a soft-deleted record live again, optionally replacing its data;
    /// `FailedPrecondition` if it is not deleted.
    Undelete {
        collection: String,
        name: String,
        data: Option<Value>,
        expected_revision: Option<u64>,
    },
    /// Removes a record (live or soft-deleted) for good.
    HardDelete {
        collection: String,
        name: String,
        expected_revision: Option<u64>,
    },
    /// Writes nothing but fails the batch unless the record is live (and at
    /// `expected_revision`): a precondition on a record the batch depends on, such as
    /// the parent of a record being created.
    Check {
        collection: String,
        name: String,
        expected_revision: Option<u64>,
    },
}

impl Write {
    /// The collection and name the write targets.
    pub fn target(&self) -> (&str, &str) {
        match self {
            Write::Create {
                collection, name, ..
            }
            | Write::Update {
                collection, name, ..
            }
            | Write::Upsert {
                collection, name, ..
            }
            | Write::Move {
                collection, name, ..
            }
            | Write::SoftDelete {
                collection, name, ..
            }
            | Write::Undelete {
                collection, name, ..
            }
            | Write::HardDelete {
                collection, name, ..
            }
            | Write::Check {
                collection, name, ..
            } => (collection, name),
        }
    }
}

/// Order of log query results, by entry `timestamp` then append order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogOrder {
    /// Oldest first (Logging's `timestamp asc`, its default).
    #[default]
    Ascending,
    /// Newest first (`timestamp desc`).
    Descending,
}

/// The prefilter of [`crate::Store::query_log`]: cheap, indexed conditions evaluated by
/// the store before the caller's own filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// Entries whose `logName` starts with one of these (e.g. `projects/p/logs/`); empty
    /// means any.
    pub log_name_prefixes: Vec<String>,
    /// Entries whose `resource.type` is one of these; empty means any.
    pub resource_types: Vec<String>,
    /// Entries with at least this severity number (`ERROR` = 500).
    pub min_severity: Option<i32>,
    /// Entries with `timestamp >= start_time`.
    pub start_time: Option<DateTime<Utc>>,
    /// Entries with `timestamp < end_time`.
    pub end_time: Option<DateTime<Utc>>,
    /// Result order.
    pub order: LogOrder,
    /// Maximum entries returned; 0 means no limit.
    pub limit: usize,
    /// The `next_page_token` of the previous page of the same query and order.
    pub page_token: Option<String>,
}

/// One page of log query results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogPage {
    /// The included entries, in the requested order.
    pub entries: Vec<Value>,
    /// Set when the limit was reached; resumes right after the last entry.
    pub next_page_token: Option<String>,
}

/// The numeric value of a `LogSeverity` name or number, as Logging orders them.
pub(crate) fn severity_number(v: &Value) -> Option<i32> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
        Value::String(s) => Some(match s.as_str() {
            "DEFAULT" => 0,
            "DEBUG" => 100,
            "INFO" => 200,
            "NOTICE" => 300,
            "WARNING" => 400,
            "ERROR" => 500,
            "CRITICAL" => 600,
            "ALERT" => 700,
            "EMERGENCY" => 800,
            _ => return None,
        }),
        _ => None,
    }
}

/// Encoded log entries packed into one text and one index, in append order: what producers
/// fill and [`crate::Store::append_encoded_log`] takes. Why: the gateway appends an entry per
/// request from its worker threads, and as separately allocated strings each entry cost two
/// allocations freed on the writer's thread (a cross-thread free each); a batch is refilled
/// in place, so a steady stream of entries allocates nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogBatch {
    text: String,
    entries: Vec<PackedEntry>,
}

/// One entry of a [`LogBatch`]: its columns and where its strings lie in the batch's text.
#[derive(Debug, Clone, PartialEq)]
struct PackedEntry {
    timestamp_nanos: i64,
    severity: i32,
    log_name: std::ops::Range<usize>,
    resource_type: Option<std::ops::Range<usize>>,
    json: std::ops::Range<usize>,
}

/// An entry of a [`LogBatch`], borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntryRef<'b> {
    /// As [`EncodedLogEntry::timestamp_nanos`].
    pub timestamp_nanos: i64,
    /// As [`EncodedLogEntry::severity`].
    pub severity: i32,
    /// `logName`.
    pub log_name: &'b str,
    /// `resource.type`, when there is one.
    pub resource_type: Option<&'b str>,
    /// The whole entry's JSON.
    pub json: &'b str,
}

impl LogBatch {
    /// An empty batch.
    pub fn new() -> LogBatch {
        LogBatch::default()
    }

    /// A batch of `entries`, in their order.
    pub fn of(entries: &[EncodedLogEntry]) -> LogBatch {
        let mut batch = LogBatch::new();
        for e in entries {
            batch.push(e);
        }
        batch
    }

    /// Appends a copy of `entry`.
    pub fn push(&mut self, entry: &EncodedLogEntry) {
        self.push_parts(
            entry.timestamp_nanos,
            entry.severity,
            &[&entry.log_name],
            entry.resource_type.as_deref(),
            &entry.json,
        );
    }

    /// Appends an entry given as its columns, its log name as the concatenation of
    /// `log_name`, and its JSON (which must describe the same entry, as for
    /// [`EncodedLogEntry`]).
    pub fn push_parts(
        &mut self,
        timestamp_nanos: i64,
        severity: i32,
        log_name: &[&str],
        resource_type: Option<&str>,
        json: &str,
    ) {
        let start = self.text.len();
        for part in log_name {
            self.text.push_str(part);
        }
        let log_name = start..self.text.len();
        let resource_type = resource_type.map(|r| {
            let start = self.text.len();
            self.text.push_str(r);
            start..self.text.len()
        });
        let start = self.text.len();
        self.text.push_str(json);
        self.entries.push(PackedEntry {
            timestamp_nanos,
            severity,
            log_name,
            resource_type,
            json: start..self.text.len(),
        });
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Empties the batch, keeping its capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.entries.clear();
    }

    /// The `i`-th entry.
    pub fn get(&self, i: usize) -> Option<LogEntryRef<'_>> {
        self.entries.get(i).map(|e| self.view(e))
    }

    /// The entries in append order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = LogEntryRef<'_>> + '_ {
        self.entries.iter().map(|e| self.view(e))
    }

    fn view(&self, e: &PackedEntry) -> LogEntryRef<'_> {
        // The ranges were cut from this text at char boundaries when the entry was pushed.
        let text = |r: &std::ops::Range<usize>| self.text.get(r.clone()).unwrap_or_default();
        LogEntryRef {
            timestamp_nanos: e.timestamp_nanos,
            severity: e.severity,
            log_name: text(&e.log_name),
            resource_type: e.resource_type.as_ref().map(text),
            json: text(&e.json),
        }
    }
}

/// A log entry encoded once by whoever produced it: its JSON text and the columns the store
/// indexes. The gateway's request logs come this way, so that no JSON tree is built and walked
/// again per request; [`EncodedLogEntry::encode`] makes one from a `LogEntry` object.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedLogEntry {
    /// `timestamp`, in nanoseconds since the Unix epoch (the same instant as the JSON's).
    pub timestamp_nanos: i64,
    /// `logName`.
    pub log_name: String,
    /// `resource.type`, when there is one.
    pub resource_type: Option<String>,
    /// `severity` as Cloud Logging's number (0 DEFAULT … 800 EMERGENCY).
    pub severity: i32,
    /// The whole entry: a JSON object, `timestamp` included.
    pub json: String,
}

impl EncodedLogEntry {
    /// Encodes a `LogEntry` object as [`crate::Store::append_log`] describes it; an entry without
    /// `timestamp` is stamped with `now`.
    pub fn encode(entry: &Value, now: DateTime<Utc>) -> Result<EncodedLogEntry, StoreError> {
        let Value::Object(map) = entry else {
            return Err(StoreError::InvalidArgument(
                "a log entry must be a JSON object".to_owned(),
            ));
        };
        // Only an entry without a timestamp is copied (to add one).
        let mut stamped = None;
        let ts = match map.get("timestamp") {
            None | Some(Value::Null) => {
                let mut copy = map.clone();
                copy.insert(
                    "timestamp".to_owned(),
                    Value::String(now.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
                );
                stamped = Some(Value::Object(copy));
                now
            }
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map_err(|e| {
                    StoreError::InvalidArgument(format!("log entry timestamp {s:?}: {e}"))
                })?
                .with_timezone(&Utc),
            Some(other) => {
                return Err(StoreError::InvalidArgument(format!(
                    "log entry timestamp {other} is not a string"
                )));
            }
        };
        let severity = match map.get("severity") {
            None | Some(Value::Null) => 0,
            Some(v) => severity_number(v).ok_or_else(|| {
                StoreError::InvalidArgument(format!("log entry severity {v} is not a LogSeverity"))
            })?,
        };
        Ok(EncodedLogEntry {
            timestamp_nanos: ts.timestamp_nanos_opt().ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "timestamp {ts} is outside the supported range"
                ))
            })?,
            log_name: map
                .get("logName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            resource_type: map
                .get("resource")
                .and_then(|r| r.get("type"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            severity,
            json: stamped.as_ref().unwrap_or(entry).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries come back as pushed, in order, whichever way they were pushed, and a cleared
    /// batch holds none of the earlier text.
    #[test]
    fn a_batch_returns_its_entries_as_pushed() {
        let owned = EncodedLogEntry {
            timestamp_nanos: 7,
            log_name: "projects/p/logs/a".into(),
            resource_type: None,
            severity: 100,
            json: r#"{"insertId":"é"}"#.into(),
        };
        let mut batch = LogBatch::of(std::slice::from_ref(&owned));
        batch.push_parts(
            -3,
            400,
            &["projects/", "q", "/logs/b"],
            Some("cloud_run_revision"),
            "{}",
        );
        let seen: Vec<LogEntryRef<'_>> = batch.iter().collect();
        assert_eq!(
            seen,
            [
                LogEntryRef {
                    timestamp_nanos: 7,
                    severity: 100,
                    log_name: "projects/p/logs/a",
                    resource_type: None,
                    json: r#"{"insertId":"é"}"#,
                },
                LogEntryRef {
                    timestamp_nanos: -3,
                    severity: 400,
                    log_name: "projects/q/logs/b",
                    resource_type: Some("cloud_run_revision"),
                    json: "{}",
                },
            ]
        );
        assert_eq!((batch.len(), batch.get(2)), (2, None));
        batch.clear();
        assert!(batch.is_empty());
        batch.push_parts(1, 0, &["l"], Some(""), "[]");
        assert_eq!(
            batch.get(0).map(|e| (e.log_name, e.resource_type, e.json)),
            Some(("l", Some(""), "[]"))
        );
    }
}
