//! Log entries are stored in blocks that overlap in time; queries merge them. These tests hold
//! the merge to a naive model (every entry, filtered and sorted) and check that a database
//! written before blocks existed reads the same after the migration.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions"
)]

use chrono::{DateTime, Utc};
use kumo_store::{EncodedLogEntry, LogBatch, LogOrder, LogQuery, SqliteStore, Store};
use proptest::prelude::*;
use serde_json::{Value, json};

const LOG_NAMES: [&str; 3] = [
    "projects/p/logs/run.googleapis.com%2Frequests",
    "projects/p/logs/run.googleapis.com%2Fstdout",
    "projects/q/logs/cloudaudit.googleapis.com%2Factivity",
];
const RESOURCE_TYPES: [&str; 2] = ["cloud_run_revision", "cloud_run_job"];

/// One generated entry: (timestamp in seconds, log name, resource type, severity number).
type Spec = (i64, usize, usize, i32);

fn entry(id: usize, (secs, log, resource, severity): Spec) -> EncodedLogEntry {
    let ts = DateTime::<Utc>::from_timestamp(1_700_000_000 + secs, 0).unwrap();
    let json = json!({
        "insertId": id.to_string(),
        "logName": LOG_NAMES[log],
        "resource": {"type": RESOURCE_TYPES[resource]},
        "severity": severity,
        // Newlines and spaces in the payload must not confuse the block format.
        "textPayload": format!("line {id}\nsecond line {id}"),
        "timestamp": ts.to_rfc3339(),
    });
    EncodedLogEntry::encode(&json, ts).unwrap()
}

fn insert_id(v: &Value) -> usize {
    v["insertId"].as_str().unwrap().parse().unwrap()
}

/// Every page of `query`, concatenated.
fn all_pages(store: &dyn Store, mut query: LogQuery, odd_only: bool) -> Vec<usize> {
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let page = store
            .query_log(&query, &mut |e| !odd_only || insert_id(e) % 2 == 1)
            .unwrap();
        assert!(query.limit == 0 || page.entries.len() <= query.limit);
        seen.extend(page.entries.iter().map(insert_id));
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => return seen,
        }
    }
    panic!("paging did not end");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merged_blocks_match_the_model(
        appends in prop::collection::vec(
            prop::collection::vec((0i64..20, 0usize..3, 0usize..2, prop::sample::select(vec![0, 100, 200, 400, 500, 800])), 0..40),
            1..6,
        ),
        descending in any::<bool>(),
        limit in 0usize..7,
        log in prop::option::of(0usize..3),
        resource in prop::option::of(0usize..2),
        min_severity in prop::option::of(prop::sample::select(vec![100, 400, 500])),
        start in prop::option::of(0i64..20),
        span in 0i64..20,
        odd_only in any::<bool>(),
    ) {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut specs = Vec::new();
        for batch in &appends {
            let encoded: Vec<EncodedLogEntry> = batch
                .iter()
                .map(|&spec| {
                    specs.push(spec);
                    entry(specs.len() - 1, spec)
                })
                .collect();
            store.append_encoded_log(&[LogBatch::of(&encoded)]).unwrap();
        }
        let at = |secs: i64| DateTime::<Utc>::from_timestamp(1_700_000_000 + secs, 0).unwrap();
        let query = LogQuery {
            log_name_prefixes: log.map(|l| vec![LOG_NAMES[l].to_owned()]).unwrap_or_default(),
            resource_types: resource.map(|r| vec![RESOURCE_TYPES[r].to_owned()]).unwrap_or_default(),
            min_severity,
            start_time: start.map(at),
            end_time: start.map(|s| at(s + span)),
            order: if descending { LogOrder::Descending } else { LogOrder::Ascending },
            limit,
            page_token: None,
        };
        // The model: append order is id order; sort by (timestamp, id), filter, maybe reverse.
        let mut expected: Vec<usize> = (0..specs.len())
            .filter(|&i| {
                let (secs, l, r, sev) = specs[i];
                log.is_none_or(|x| x == l)
                    && resource.is_none_or(|x| x == r)
                    && min_severity.is_none_or(|m| sev >= m)
                    && start.is_none_or(|s| secs >= s && secs < s + span)
                    && (!odd_only || i % 2 == 1)
            })
            .collect();
        expected.sort_by_key(|&i| (specs[i].0, i));
        if descending {
            expected.reverse();
        }
        prop_assert_eq!(all_pages(&store, query, odd_only), expected);
    }
}

/// The schema before blocks (migration 1), as released.
const V1_SCHEMA: &str = "
    CREATE TABLE records (
        collection TEXT NOT NULL, name TEXT NOT NULL, parent TEXT, uid TEXT NOT NULL,
        revision INTEGER NOT NULL, data TEXT NOT NULL, create_time INTEGER NOT NULL,
        update_time INTEGER NOT NULL, delete_time INTEGER, PRIMARY KEY (collection, name)
    ) WITHOUT ROWID;
    CREATE INDEX records_by_parent ON records (collection, parent, name);
    CREATE TABLE sequences (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE log_entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, log_name TEXT NOT NULL,
        resource_type TEXT, severity INTEGER NOT NULL, entry TEXT NOT NULL
    );
    CREATE INDEX log_entries_by_time ON log_entries (ts, id);
    CREATE INDEX log_entries_by_log_name ON log_entries (log_name, ts, id);
    PRAGMA user_version = 1;
";

#[test]
fn entries_written_before_blocks_survive_the_migration() {
    let dir = std::env::temp_dir().join(format!("kumo-log-migration-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("kumo.db");
    let specs: Vec<Spec> = vec![(3, 0, 0, 200), (1, 1, 0, 500), (3, 0, 1, 0), (2, 2, 0, 400)];
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(V1_SCHEMA).unwrap();
        for (i, &spec) in specs.iter().enumerate() {
            let e = entry(i, spec);
            conn.execute(
                "INSERT INTO log_entries (ts, log_name, resource_type, severity, entry) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![e.timestamp_nanos, e.log_name, e.resource_type, e.severity, e.json],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&db).unwrap();
    let page = store
        .query_log(&LogQuery::default(), &mut |_| true)
        .unwrap();
    assert_eq!(
        page.entries.iter().map(insert_id).collect::<Vec<_>>(),
        [1, 3, 0, 2]
    );
    assert_eq!(
        page.entries[0],
        serde_json::from_str::<Value>(&entry(1, specs[1]).json).unwrap()
    );
    // New entries follow the migrated ones in append order at equal timestamps.
    store
        .append_encoded_log(&[LogBatch::of(&[entry(4, (3, 0, 0, 100))])])
        .unwrap();
    let first = LogQuery {
        limit: 3,
        ..LogQuery::default()
    };
    let page = store.query_log(&first, &mut |_| true).unwrap();
    assert_eq!(
        page.entries.iter().map(insert_id).collect::<Vec<_>>(),
        [1, 3, 0]
    );
    let rest = LogQuery {
        page_token: page.next_page_token,
        ..LogQuery::default()
    };
    let page = store.query_log(&rest, &mut |_| true).unwrap();
    assert_eq!(
        page.entries.iter().map(insert_id).collect::<Vec<_>>(),
        [2, 4]
    );
    let severe = LogQuery {
        min_severity: Some(400),
        log_name_prefixes: vec!["projects/p/".to_owned()],
        ..LogQuery::default()
    };
    let page = store.query_log(&severe, &mut |_| true).unwrap();
    assert_eq!(page.entries.iter().map(insert_id).collect::<Vec<_>>(), [1]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_block_is_an_error_not_a_panic() {
    let dir = std::env::temp_dir().join(format!("kumo-log-corrupt-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("kumo.db");
    let store = SqliteStore::open(&db).unwrap();
    store
        .append_encoded_log(&[LogBatch::of(&[entry(0, (1, 0, 0, 0))])])
        .unwrap();
    drop(store);
    for bad in ["1 0 1 999\n{}", "1 0 1\n{}", "no newline", "x 0 1 2\n{}"] {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("UPDATE log_blocks SET entries = ?1", [bad])
            .unwrap();
        drop(conn);
        let store = SqliteStore::open(&db).unwrap();
        let err = store
            .query_log(&LogQuery::default(), &mut |_| true)
            .expect_err(bad);
        assert!(
            matches!(err, kumo_store::StoreError::Corrupt(_)),
            "{bad:?}: {err:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
