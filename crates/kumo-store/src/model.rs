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
