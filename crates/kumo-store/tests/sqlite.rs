//! The SQLite backend against the conformance suite, plus what only SQLite has:
//! files, migrations, start-up time and crash safety.
#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use chrono::{DateTime, Duration, Utc};
use kumo_store::conformance::{conformance_suite, persistence_suite};
use kumo_store::{ManualClock, SqliteStore, Store, StoreError, Write};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("kumo-store-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("kumo.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn conformance_in_memory() {
    conformance_suite(&|| Box::new(SqliteStore::open_in_memory().unwrap()));
}

#[test]
fn conformance_on_disk() {
    let dir = TempDir::new();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    conformance_suite(&|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::new(SqliteStore::open(dir.0.join(format!("{n}.db"))).unwrap())
    });
}

#[test]
fn persistence_on_disk() {
    let dir = TempDir::new();
    persistence_suite(&|| Box::new(SqliteStore::open(dir.db()).unwrap()));
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn timestamps_come_from_the_injected_clock() {
    let clock = Arc::new(ManualClock::new(t("2025-03-01T10:00:00.123456789Z")));
    let store = SqliteStore::open_in_memory_with_clock(clock.clone()).unwrap();
    let create = Write::Create {
        collection: "c".into(),
        name: "n".into(),
        parent: None,
        data: json!({}),
    };
    let r = store.transact(&[create]).unwrap().remove(0);
    assert_eq!(
        (r.create_time, r.update_time),
        (clock.now_for_test(), clock.now_for_test())
    );

    clock.advance(Duration::seconds(90));
    let delete = Write::SoftDelete {
        collection: "c".into(),
        name: "n".into(),
        data: None,
        expected_revision: None,
    };
    let r = store.transact(&[delete]).unwrap().remove(0);
    assert_eq!(
        r.create_time,
        t("2025-03-01T10:00:00.123456789Z"),
        "nanoseconds survive the round trip"
    );
    assert_eq!(r.update_time, t("2025-03-01T10:01:30.123456789Z"));
    assert_eq!(r.delete_time, Some(r.update_time));
    assert_eq!(store.get_including_deleted("c", "n").unwrap(), Some(r));

    clock.set(t("2025-03-02T00:00:00Z"));
    store
        .append_log(&[json!({"logName": "projects/p/logs/x"})])
        .unwrap();
    let page = store.query_log(&Default::default(), &mut |_| true).unwrap();
    assert_eq!(page.entries[0]["timestamp"], "2025-03-02T00:00:00Z");
}

/// `ManualClock::now` through the `Clock` trait, without importing it everywhere.
trait NowForTest {
    fn now_for_test(&self) -> DateTime<Utc>;
}

impl NowForTest for ManualClock {
    fn now_for_test(&self) -> DateTime<Utc> {
        kumo_store::Clock::now(self)
    }
}

#[test]
fn reopening_is_fast() {
    let dir = TempDir::new();
    {
        let store = SqliteStore::open(dir.db()).unwrap();
        let writes: Vec<Write> = (0..1000)
            .map(|i| Write::Create {
                collection: "c".into(),
                name: format!("n{i}"),
                parent: None,
                data: json!({"i": i}),
            })
            .collect();
        store.transact(&writes).unwrap();
    }
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let store = SqliteStore::open(dir.db()).unwrap();
        best = best.min(start.elapsed());
        drop(store);
    }
    eprintln!("open on an existing database: {best:?}");
    // The target is < 10 ms; the bound leaves room for a loaded debug-build CI machine.
    assert!(
        best < std::time::Duration::from_millis(50),
        "open took {best:?}"
    );
}

fn set_user_version(path: &Path, v: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "user_version", v).unwrap();
}

#[test]
fn newer_schema_is_refused() {
    let dir = TempDir::new();
    drop(SqliteStore::open(dir.db()).unwrap());
    set_user_version(&dir.db(), 99);
    let e = SqliteStore::open(dir.db()).unwrap_err();
    assert!(
        matches!(e, StoreError::Corrupt(ref m) if m.contains("99")),
        "{e:?}"
    );
}

#[test]
fn undecodable_rows_are_corrupt() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.db()).unwrap();
    let create = Write::Create {
        collection: "c".into(),
        name: "n".into(),
        parent: None,
        data: json!({}),
    };
    store.transact(&[create]).unwrap();
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    conn.execute("UPDATE records SET data = '{not json' WHERE name = 'n'", [])
        .unwrap();
    let e = store.get("c", "n").unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
}

#[test]
fn not_a_database_is_an_error_not_a_panic() {
    let dir = TempDir::new();
    std::fs::write(
        dir.db(),
        b"this is not an SQLite database, just some text long enough",
    )
    .unwrap();
    let e = SqliteStore::open(dir.db()).unwrap_err();
    assert!(matches!(e, StoreError::Backend(_)), "{e:?}");
}

const CHILD_ENV: &str = "KUMO_STORE_KILL9_CHILD_DB";
/// Prefix of the child's "this commit returned" lines.
const COMMIT_MARK: &str = "KUMO-STORE-COMMITTED";

/// The child half of `kill_9_loses_nothing_committed`: commits forever (or for a
/// minute, should the parent vanish) and reports each commit after it returns.
fn kill9_child(db: &str) {
    let store = SqliteStore::open(db).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Continue where a killed predecessor stopped.
    let mut i = store
        .get("meta", "last")
        .unwrap()
        .map_or(0, |r| r.data.as_u64().unwrap());
    while std::time::Instant::now() < deadline {
        i += 1;
        let name = format!("item-{i}");
        let writes = [
            Write::Create {
                collection: "items".into(),
                name: name.clone(),
                parent: None,
                data: json!({"i": i}),
            },
            Write::Upsert {
                collection: "meta".into(),
                name: "last".into(),
                parent: None,
                data: json!(i),
            },
        ];
        store.transact(&writes).unwrap();
        let seq = store.next_sequence("seq").unwrap();
        store
            .append_log(&[json!({"logName": "projects/p/logs/kill", "insertId": name})])
            .unwrap();
        println!("{COMMIT_MARK} {i} {seq}");
    }
}

#[test]
fn kill_9_loses_nothing_committed() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        kill9_child(&db);
        return;
    }
    let dir = TempDir::new();
    let mut committed: Vec<(u64, u64)> = Vec::new();
    // Three rounds: each child also recovers the WAL its killed predecessor left behind.
    for round in 1..=3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill_9_loses_nothing_committed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.db())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let parse = |line: &str| -> Option<(u64, u64)> {
            // The child's first line shares its start with libtest's "test … " progress text.
            let mut parts = line.split_once(COMMIT_MARK)?.1.split_whitespace();
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        };
        for line in lines.by_ref() {
            if let Some(c) = parse(&line.unwrap()) {
                committed.push(c);
                if committed.len() >= 200 * round {
                    break;
                }
            }
        }
        // `Child::kill` is SIGKILL on Unix: no destructors, no SQLite close, no checkpoint.
        child.kill().unwrap();
        // Commits reported between our last read and the kill are still in the pipe.
        committed.extend(lines.map_while(Result::ok).filter_map(|l| parse(&l)));
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "the child was killed, not finished: {status:?}"
        );
        assert!(
            committed.len() >= 200 * round,
            "children reported {} commits",
            committed.len()
        );
    }

    let store = SqliteStore::open(dir.db()).unwrap();
    for (i, _) in &committed {
        let r = store.get("items", &format!("item-{i}")).unwrap();
        assert_eq!(
            r.map(|r| r.data),
            Some(json!({"i": i})),
            "commit {i} survived"
        );
    }
    assert_eq!(committed[0].0, 1, "the first commit was seen");
    // A commit made just before a kill may go unreported, so reported ones may have gaps.
    assert!(
        committed.windows(2).all(|w| w[0].0 < w[1].0),
        "each child continued after its predecessor"
    );
    assert!(
        committed.windows(2).all(|w| w[0].1 < w[1].1),
        "sequence values strictly increase across kills"
    );
    let (last, last_seq) = *committed.last().unwrap();
    let meta = store.get("meta", "last").unwrap().unwrap();
    assert!(
        meta.data.as_u64().unwrap() >= last,
        "meta/last is at least the last reported commit"
    );
    assert!(
        store.next_sequence("seq").unwrap() > last_seq,
        "the sequence never goes back"
    );
    let logged: std::collections::HashSet<String> = store
        .query_log(&Default::default(), &mut |_| true)
        .unwrap()
        .entries
        .iter()
        .filter_map(|e| e["insertId"].as_str().map(str::to_owned))
        .collect();
    for (i, _) in &committed {
        assert!(
            logged.contains(&format!("item-{i}")),
            "log entry of commit {i} survived"
        );
    }
}

#[test]
fn two_stores_on_one_file_serialise_their_writes() {
    // As two Kumo processes sharing a data dir would: SQLite's file locks, not our mutex,
    // must keep read-modify-write cycles from losing updates.
    let dir = TempDir::new();
    let stores: Vec<Arc<SqliteStore>> = (0..2)
        .map(|_| Arc::new(SqliteStore::open(dir.db()).unwrap()))
        .collect();
    let create = Write::Create {
        collection: "c".into(),
        name: "counter".into(),
        parent: None,
        data: json!(0),
    };
    stores[0].transact(&[create]).unwrap();
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let store = Arc::clone(&stores[i % 2]);
            std::thread::spawn(move || {
                for _ in 0..20 {
                    loop {
                        let r = store.get("c", "counter").unwrap().unwrap();
                        let update = Write::Update {
                            collection: "c".into(),
                            name: "counter".into(),
                            data: json!(r.data.as_u64().unwrap() + 1),
                            expected_revision: Some(r.revision),
                        };
                        match store.transact(&[update]) {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for store in &stores {
        let r = store.get("c", "counter").unwrap().unwrap();
        assert_eq!((r.data, r.revision), (json!(200), 201));
    }
}
