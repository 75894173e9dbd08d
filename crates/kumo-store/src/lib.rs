//! Kumo's persistence: named, revisioned JSON documents in collections, monotonic
//! sequences, and an append-only log of Cloud Logging entries.
//!
//! This crate knows SQL and nothing about Cloud Run, IAM or projects: callers decide
//! what a collection holds. [`Store`] is the backend-independent, object-safe and
//! synchronous interface; [`SqliteStore`] is the embedded default. A backend proves
//! itself by passing the `conformance` suite (behind the `testing` feature).

mod clock;
#[cfg(feature = "testing")]
pub mod conformance;
mod error;
mod log_blocks;
mod model;
mod sqlite;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::StoreError;
pub use model::{
    Deleted, EncodedLogEntry, ListQuery, LogBatch, LogEntryRef, LogOrder, LogPage, LogQuery, Page,
    ParentFilter, Record, Write,
};
pub use sqlite::SqliteStore;

use serde_json::Value;

/// A store of revisioned records and log entries.
///
/// Every method is a short, synchronous operation; async callers may call them directly.
/// Implementations must be safe to share between threads (`Arc<dyn Store>`).
pub trait Store: Send + Sync + 'static {
    /// Reads one record. `deleted` decides whether a soft-deleted record is returned.
    /// A record that does not exist (or is soft-deleted and excluded) is `Ok(None)`.
    fn lookup(
        &self,
        collection: &str,
        name: &str,
        deleted: Deleted,
    ) -> Result<Option<Record>, StoreError>;

    /// Reads one live record; soft-deleted records are treated as absent.
    fn get(&self, collection: &str, name: &str) -> Result<Option<Record>, StoreError> {
        self.lookup(collection, name, Deleted::Exclude)
    }

    /// Reads one record whether or not it is soft-deleted.
    fn get_including_deleted(
        &self,
        collection: &str,
        name: &str,
    ) -> Result<Option<Record>, StoreError> {
        self.lookup(collection, name, Deleted::Include)
    }

    /// Lists records of `collection` in ascending byte order of name, one page at a time.
    /// The page token is opaque; a malformed one is `InvalidArgument`.
    fn list(&self, collection: &str, query: &ListQuery) -> Result<Page, StoreError>;

    /// Applies `writes` atomically, in order: either every write commits or none does.
    /// Each write sees the effect of the ones before it. Returns one record per write:
    /// its state after the write (for [`Write::HardDelete`], its state just before;
    /// for [`Write::Check`], its current state).
    fn transact(&self, writes: &[Write]) -> Result<Vec<Record>, StoreError>;

    /// Applies a single write; see [`Store::transact`].
    fn write(&self, write: &Write) -> Result<Record, StoreError> {
        self.transact(std::slice::from_ref(write))?
            .pop()
            .ok_or_else(|| {
                StoreError::Corrupt("the backend returned no record for a write".to_owned())
            })
    }

    /// Returns the next value of the named counter: 1 on first use, then strictly
    /// increasing by one. Values are never handed out twice, even across restarts.
    fn next_sequence(&self, name: &str) -> Result<u64, StoreError>;

    /// Appends log entries (JSON `LogEntry` objects) atomically.
    ///
    /// `timestamp` (RFC 3339), `logName`, `resource.type` and `severity` (name or number)
    /// are indexed for [`Store::query_log`]. An entry without `timestamp` gets the store
    /// clock's time written into it. A non-object entry or an unparseable timestamp or
    /// severity is `InvalidArgument` and nothing is appended.
    fn append_log(&self, entries: &[Value]) -> Result<(), StoreError>;

    /// Appends entries their producers already encoded, atomically: the batches' entries in
    /// order, one batch after the other. The store trusts the columns to describe the JSON
    /// (producers are Kumo's own code; outside input goes through [`Store::append_log`] or
    /// [`EncodedLogEntry::encode`]).
    fn append_encoded_log(&self, batches: &[LogBatch]) -> Result<(), StoreError>;

    /// Streams stored log entries matching the prefilter in `query`'s order to `include`,
    /// which decides (e.g. by evaluating a Logging filter) whether each one is returned.
    /// Stops after `query.limit` included entries; `next_page_token` is then set to
    /// resume right after the last one (the next page may turn out empty).
    fn query_log(
        &self,
        query: &LogQuery,
        include: &mut dyn FnMut(&Value) -> bool,
    ) -> Result<LogPage, StoreError>;
}
