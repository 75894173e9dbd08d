//! The embedded SQLite backend.

use crate::log_blocks;
use crate::{
    Clock, Deleted, EncodedLogEntry, ListQuery, LogBatch, LogOrder, LogPage, LogQuery, Page,
    ParentFilter, Record, Store, StoreError, SystemClock, Write,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params, params_from_iter,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Schema migrations; `PRAGMA user_version` counts how many have been applied.
/// Append only: never edit a released entry.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE records (
        collection  TEXT    NOT NULL,
        name        TEXT    NOT NULL,
        parent      TEXT,
        uid         TEXT    NOT NULL,
        revision    INTEGER NOT NULL,
        data        TEXT    NOT NULL,
        create_time INTEGER NOT NULL,
        update_time INTEGER NOT NULL,
        delete_time INTEGER,
        PRIMARY KEY (collection, name)
    ) WITHOUT ROWID;
    CREATE INDEX records_by_parent ON records (collection, parent, name);
    CREATE TABLE sequences (
        name  TEXT    NOT NULL PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE log_entries (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        ts            INTEGER NOT NULL,
        log_name      TEXT    NOT NULL,
        resource_type TEXT,
        severity      INTEGER NOT NULL,
        entry         TEXT    NOT NULL
    );
    CREATE INDEX log_entries_by_time ON log_entries (ts, id);
    CREATE INDEX log_entries_by_log_name ON log_entries (log_name, ts, id);
",
    crate::log_blocks::MIGRATION,
];

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Cached prepared statements per connection: enough for every `list`/`query_log`
/// variant a caller uses, so the SQL is parsed once per connection.
const STATEMENT_CACHE: usize = 64;
/// Idle read connections kept for reuse.
const READER_POOL_SIZE: usize = 4;

const RECORD_COLUMNS: &str =
    "collection, name, parent, uid, revision, data, create_time, update_time, delete_time";

/// A [`Store`] in one SQLite database file (or in memory).
///
/// Durability: the database runs in WAL mode with `synchronous=NORMAL`. A commit appends
/// its frames to the WAL with `write(2)` before `COMMIT` returns, so the data sits in the
/// operating system's page cache; killing the process (even with SIGKILL) cannot lose it,
/// and the next open replays the WAL. Only a power loss or kernel crash can drop the most
/// recent commits (never corrupting the file), which `synchronous=FULL` would prevent at
/// the price of an fsync per commit. Kumo's requirement is "nothing committed is lost on
/// kill -9", so NORMAL suffices (`tests/sqlite.rs` kills writers to prove it).
///
/// Concurrency: one writer connection behind a mutex (SQLite serialises writers anyway)
/// and, for on-disk databases, a small pool of read-only connections that read the last
/// committed snapshot without waiting for the writer. Several processes may open the
/// same file; they wait up to 5 s for each other's write locks.
pub struct SqliteStore {
    writer: Mutex<Connection>,
    /// [`log_blocks::append`]'s buffers; locked only while holding `writer`.
    log_scratch: Mutex<log_blocks::Scratch>,
    /// `None` for in-memory databases, whose only connection is the writer.
    readers: Option<ReaderPool>,
    clock: Arc<dyn Clock>,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.readers.as_ref().map(|r| &r.path))
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrating its schema, with the
    /// system clock.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_clock(path, Arc::new(SystemClock))
    }

    /// Like [`SqliteStore::open`], with timestamps from `clock`.
    pub fn open_with_clock(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        configure_writer(&mut conn)?;
        Ok(Self {
            writer: Mutex::new(conn),
            log_scratch: Mutex::default(),
            readers: Some(ReaderPool {
                path,
                idle: Mutex::new(Vec::new()),
            }),
            clock,
        })
    }

    /// A fresh private in-memory database with the system clock; gone when dropped.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::open_in_memory_with_clock(Arc::new(SystemClock))
    }

    /// Like [`SqliteStore::open_in_memory`], with timestamps from `clock`.
    pub fn open_in_memory_with_clock(clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        configure_writer(&mut conn)?;
        Ok(Self {
            writer: Mutex::new(conn),
            log_scratch: Mutex::default(),
            readers: None,
            clock,
        })
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped (rolled back) its transaction, so the
        // connection is still consistent.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a read connection: a pooled read-only one for files, the writer for
    /// in-memory databases.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(pool) = &self.readers else {
            return f(&self.writer());
        };
        let pooled = pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let c = Connection::open_with_flags(&pool.path, flags)?;
                c.busy_timeout(BUSY_TIMEOUT)?;
                c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                c
            }
        };
        let result = f(&conn);
        let mut idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READER_POOL_SIZE {
            idle.push(conn);
        }
        result
    }
}

fn configure_writer(conn: &mut Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // In-memory databases answer "memory"; that is fine, they have nothing to lose.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints of ≤ 512 KiB (SQLite's default is 4 MiB): the log writer's checkpoint is
    // then a short burst on a core the requests share, not a multi-millisecond one.
    conn.pragma_update(None, "wal_autocheckpoint", 128)?;
    migrate(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len();
    // Fast path for every start after the first: one header read.
    if schema_version(conn)? == known {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let current = schema_version(&tx)?;
    if current > known {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this build supports ({known})"
        )));
    }
    for migration in &MIGRATIONS[current..] {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", known as i64)?;
    tx.commit()?;
    Ok(())
}

fn schema_version(conn: &Connection) -> Result<usize, StoreError> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    usize::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative schema version {v}")))
}

fn to_nanos(t: DateTime<Utc>) -> Result<i64, StoreError> {
    t.timestamp_nanos_opt().ok_or_else(|| {
        StoreError::InvalidArgument(format!("timestamp {t} is outside the supported range"))
    })
}

fn to_revision(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative revision {v}")))
}

fn to_sql_revision(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("revision {v} overflows")))
}

/// The raw columns of a `records` row, decoded outside rusqlite's error type.
struct RawRecord {
    collection: String,
    name: String,
    parent: Option<String>,
    uid: String,
    revision: i64,
    data: String,
    create_time: i64,
    update_time: i64,
    delete_time: Option<i64>,
}

impl RawRecord {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            collection: row.get(0)?,
            name: row.get(1)?,
            parent: row.get(2)?,
            uid: row.get(3)?,
            revision: row.get(4)?,
            data: row.get(5)?,
            create_time: row.get(6)?,
            update_time: row.get(7)?,
            delete_time: row.get(8)?,
        })
    }

    fn decode(self) -> Result<Record, StoreError> {
        let data = serde_json::from_str(&self.data).map_err(|e| {
            StoreError::Corrupt(format!(
                "record {}/{}: bad JSON: {e}",
                self.collection, self.name
            ))
        })?;
        let revision = to_revision(self.revision)?;
        Ok(Record {
            etag: Record::etag_for(&self.uid, revision),
            collection: self.collection,
            name: self.name,
            parent: self.parent,
            uid: self.uid,
            revision,
            data,
            create_time: DateTime::from_timestamp_nanos(self.create_time),
            update_time: DateTime::from_timestamp_nanos(self.update_time),
            delete_time: self.delete_time.map(DateTime::from_timestamp_nanos),
        })
    }
}

fn load(conn: &Connection, collection: &str, name: &str) -> Result<Option<Record>, StoreError> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE collection = ?1 AND name = ?2");
    let raw = conn
        .prepare_cached(&sql)?
        .query_row(params![collection, name], RawRecord::from_row)
        .optional()?;
    raw.map(RawRecord::decode).transpose()
}

fn save(conn: &Connection, r: &Record) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT OR REPLACE INTO records ({RECORD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    );
    let delete_time = r.delete_time.map(to_nanos).transpose()?;
    conn.prepare_cached(&sql)?.execute(params![
        r.collection,
        r.name,
        r.parent,
        r.uid,
        to_sql_revision(r.revision)?,
        r.data.to_string(),
        to_nanos(r.create_time)?,
        to_nanos(r.update_time)?,
        delete_time,
    ])?;
    Ok(())
}

fn check_key(collection: &str, name: &str) -> Result<(), StoreError> {
    if collection.is_empty() || name.is_empty() {
        return Err(StoreError::InvalidArgument(
            "collection and name must not be empty".to_owned(),
        ));
    }
    Ok(())
}

fn check_revision(record: &Record, expected: Option<u64>) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != record.revision => Err(StoreError::Conflict {
            expected,
            actual: record.revision,
        }),
        _ => Ok(()),
    }
}

/// The next revision of `record`, written now.
fn bump(mut record: Record, now: DateTime<Utc>) -> Record {
    record.revision += 1;
    record.etag = Record::etag_for(&record.uid, record.revision);
    record.update_time = now;
    record
}

fn new_record(
    collection: &str,
    name: &str,
    parent: &Option<String>,
    data: &Value,
    now: DateTime<Utc>,
) -> Record {
    let uid = uuid::Uuid::new_v4().to_string();
    Record {
        collection: collection.to_owned(),
        name: name.to_owned(),
        parent: parent.clone(),
        etag: Record::etag_for(&uid, 1),
        uid,
        revision: 1,
        data: data.clone(),
        create_time: now,
        update_time: now,
        delete_time: None,
    }
}

/// Applies one write inside the caller's transaction.
fn apply(conn: &Connection, write: &Write, now: DateTime<Utc>) -> Result<Record, StoreError> {
    let (collection, name) = write.target();
    check_key(collection, name)?;
    let current = load(conn, collection, name)?;
    let live = || match &current {
        Some(r) if !r.is_deleted() => Ok(r.clone()),
        _ => Err(StoreError::not_found(collection, name)),
    };
    let any = || {
        current
            .clone()
            .ok_or_else(|| StoreError::not_found(collection, name))
    };
    let record = match write {
        Write::Create { parent, data, .. } => {
            if current.is_some() {
                return Err(StoreError::AlreadyExists {
                    collection: collection.to_owned(),
                    name: name.to_owned(),
                });
            }
            new_record(collection, name, parent, data, now)
        }
        Write::Update {
            data,
            expected_revision,
            ..
        } => {
            let r = live()?;
            check_revision(&r, *expected_revision)?;
            Record {
                data: data.clone(),
                ..bump(r, now)
            }
        }
        Write::Upsert { parent, data, .. } => match &current {
            None => new_record(collection, name, parent, data, now),
            Some(r) => Record {
                data: data.clone(),
                parent: parent.clone(),
                ..bump(r.clone(), now)
            },
        },
        Write::Move {
            parent,
            expected_revision,
            ..
        } => {
            let r = live()?;
            check_revision(&r, *expected_revision)?;
            Record {
                parent: parent.clone(),
                ..bump(r, now)
            }
        }
        Write::SoftDelete {
            data,
            expected_revision,
            ..
        } => {
            let r = live()?;
            check_revision(&r, *expected_revision)?;
            let mut r = bump(r, now);
            r.delete_time = Some(now);
            if let Some(data) = data {
                r.data = data.clone();
            }
            r
        }
        Write::Undelete {
            data,
            expected_revision,
            ..
        } => {
            let r = any()?;
            if !r.is_deleted() {
                return Err(StoreError::FailedPrecondition(format!(
                    "record {collection}/{name} is not deleted"
                )));
            }
            check_revision(&r, *expected_revision)?;
            let mut r = bump(r, now);
            r.delete_time = None;
            if let Some(data) = data {
                r.data = data.clone();
            }
            r
        }
        Write::Check {
            expected_revision, ..
        } => {
            let r = live()?;
            check_revision(&r, *expected_revision)?;
            return Ok(r);
        }
        Write::HardDelete {
            expected_revision, ..
        } => {
            let r = any()?;
            check_revision(&r, *expected_revision)?;
            conn.prepare_cached("DELETE FROM records WHERE collection = ?1 AND name = ?2")?
                .execute(params![collection, name])?;
            return Ok(r);
        }
    };
    save(conn, &record)?;
    Ok(record)
}

const LIST_TOKEN_PREFIX: &str = "n:";
const LOG_TOKEN_PREFIX: &str = "l:";

fn encode_token(prefix: &str, body: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{prefix}{body}"))
}

fn decode_token(prefix: &str, token: &str) -> Result<String, StoreError> {
    let invalid = || StoreError::InvalidArgument("invalid page token".to_owned());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(prefix)
        .map(str::to_owned)
        .ok_or_else(invalid)
}

fn decode_log_token(token: &str) -> Result<(i64, i64), StoreError> {
    let body = decode_token(LOG_TOKEN_PREFIX, token)?;
    let invalid = || StoreError::InvalidArgument("invalid page token".to_owned());
    let (ts, id) = body.split_once(':').ok_or_else(invalid)?;
    Ok((
        ts.parse().map_err(|_| invalid())?,
        id.parse().map_err(|_| invalid())?,
    ))
}

/// `substr(column, 1, length(?)) = ?`: a prefix test with no LIKE-escaping pitfalls.
fn prefix_condition(column: &str, prefix: &str, params: &mut Vec<SqlValue>) -> String {
    params.push(SqlValue::Text(prefix.to_owned()));
    let n = params.len();
    format!("({column} >= ?{n} AND substr({column}, 1, length(?{n})) = ?{n})")
}

impl Store for SqliteStore {
    fn lookup(
        &self,
        collection: &str,
        name: &str,
        deleted: Deleted,
    ) -> Result<Option<Record>, StoreError> {
        let record = self.read(|c| load(c, collection, name))?;
        Ok(record.filter(|r| deleted == Deleted::Include || !r.is_deleted()))
    }

    fn list(&self, collection: &str, query: &ListQuery) -> Result<Page, StoreError> {
        let after = match &query.page_token {
            Some(t) => decode_token(LIST_TOKEN_PREFIX, t)?,
            None => String::new(),
        };
        let mut params = vec![SqlValue::Text(collection.to_owned()), SqlValue::Text(after)];
        let mut sql =
            format!("SELECT {RECORD_COLUMNS} FROM records WHERE collection = ?1 AND name > ?2");
        match &query.parent {
            ParentFilter::Any => {}
            ParentFilter::IsNone => sql.push_str(" AND parent IS NULL"),
            ParentFilter::Is(p) => {
                params.push(SqlValue::Text(p.clone()));
                sql.push_str(&format!(" AND parent = ?{}", params.len()));
            }
            ParentFilter::StartsWith(p) => {
                sql.push_str(" AND ");
                sql.push_str(&prefix_condition("parent", p, &mut params));
            }
        }
        if let Some(prefix) = &query.name_prefix {
            sql.push_str(" AND ");
            sql.push_str(&prefix_condition("name", prefix, &mut params));
        }
        if query.deleted == Deleted::Exclude {
            sql.push_str(" AND delete_time IS NULL");
        }
        sql.push_str(" ORDER BY name");
        if query.page_size > 0 {
            // One extra row tells whether another page follows.
            let limit = i64::try_from(query.page_size).unwrap_or(i64::MAX - 1) + 1;
            params.push(SqlValue::Integer(limit));
            sql.push_str(&format!(" LIMIT ?{}", params.len()));
        }
        let raws = self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(params.iter()), RawRecord::from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        let mut records = raws
            .into_iter()
            .map(RawRecord::decode)
            .collect::<Result<Vec<_>, _>>()?;
        let mut next_page_token = None;
        if query.page_size > 0 && records.len() > query.page_size {
            records.truncate(query.page_size);
            next_page_token = records
                .last()
                .map(|r| encode_token(LIST_TOKEN_PREFIX, &r.name));
        }
        Ok(Page {
            records,
            next_page_token,
        })
    }

    fn transact(&self, writes: &[Write]) -> Result<Vec<Record>, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // One timestamp for the whole batch: its writes happen at the same instant.
        let now = self.clock.now();
        to_nanos(now)?;
        let records = writes
            .iter()
            .map(|w| apply(&tx, w, now))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(records)
    }

    fn next_sequence(&self, name: &str) -> Result<u64, StoreError> {
        if name.is_empty() {
            return Err(StoreError::InvalidArgument(
                "sequence name must not be empty".to_owned(),
            ));
        }
        let conn = self.writer();
        let value: i64 = conn
            .prepare_cached(
                "INSERT INTO sequences (name, value) VALUES (?1, 1)
                 ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            )?
            .query_row(params![name], |r| r.get(0))?;
        u64::try_from(value)
            .map_err(|_| StoreError::Corrupt(format!("sequence {name} is negative")))
    }

    fn append_log(&self, entries: &[Value]) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut batch = LogBatch::new();
        for e in entries {
            batch.push(&EncodedLogEntry::encode(e, now)?);
        }
        self.append_encoded_log(std::slice::from_ref(&batch))
    }

    fn append_encoded_log(&self, batches: &[LogBatch]) -> Result<(), StoreError> {
        if batches.iter().all(LogBatch::is_empty) {
            return Ok(());
        }
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut scratch = self
            .log_scratch
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        log_blocks::append(&tx, batches, &mut scratch)?;
        tx.commit()?;
        Ok(())
    }

    fn query_log(
        &self,
        query: &LogQuery,
        include: &mut dyn FnMut(&Value) -> bool,
    ) -> Result<LogPage, StoreError> {
        // Block-level prefilter; the time range, severity and cursor are also checked per
        // entry by `log_blocks::query`.
        let mut params: Vec<SqlValue> = Vec::new();
        let mut sql = "1 = 1".to_owned();
        if !query.log_name_prefixes.is_empty() {
            let alternatives: Vec<String> = query
                .log_name_prefixes
                .iter()
                .map(|p| prefix_condition("log_name", p, &mut params))
                .collect();
            sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
        }
        if !query.resource_types.is_empty() {
            let mut placeholders = Vec::new();
            for t in &query.resource_types {
                params.push(SqlValue::Text(t.clone()));
                placeholders.push(format!("?{}", params.len()));
            }
            sql.push_str(&format!(
                " AND resource_type IN ({})",
                placeholders.join(", ")
            ));
        }
        if let Some(min) = query.min_severity {
            params.push(SqlValue::Integer(min.into()));
            sql.push_str(&format!(" AND severity_max >= ?{}", params.len()));
        }
        let scan = log_blocks::Scan {
            ascending: query.order == LogOrder::Ascending,
            start: query.start_time.map(to_nanos).transpose()?,
            end: query.end_time.map(to_nanos).transpose()?,
            min_severity: query.min_severity,
            limit: query.limit,
            cursor: query
                .page_token
                .as_deref()
                .map(decode_log_token)
                .transpose()?,
        };
        let mut fetch =
            |sql: &str, params: Vec<SqlValue>| self.read(|c| log_blocks::fetch(c, sql, params));
        let page = log_blocks::query(&mut fetch, &scan, (sql, params), include)?;
        Ok(LogPage {
            next_page_token: page
                .next_page_token
                .map(|cursor| encode_token(LOG_TOKEN_PREFIX, &cursor)),
            ..page
        })
    }
}
