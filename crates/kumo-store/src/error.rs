//! The one error type of every store operation.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (or is soft-deleted and the operation needs a live one).
    #[error("record {collection}/{name} not found")]
    NotFound { collection: String, name: String },
    /// A create hit an existing record (live or soft-deleted).
    #[error("record {collection}/{name} already exists")]
    AlreadyExists { collection: String, name: String },
    /// Optimistic concurrency failure: the record is not at the expected revision.
    #[error("revision conflict: expected {expected}, actual {actual}")]
    Conflict { expected: u64, actual: u64 },
    /// The operation does not apply to the record's state (e.g. undeleting a live record).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// The caller passed something the store cannot accept (bad page token, bad log entry).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Stored data could not be decoded, or the database is from a newer schema.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The backend itself failed (I/O, lock timeout, driver error).
    #[error("storage backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub(crate) fn not_found(collection: &str, name: &str) -> Self {
        Self::NotFound {
            collection: collection.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Backend(Box::new(e))
    }
}
