//! The backend-independent conformance suite: every [`Store`] implementation must pass it.
//!
//! A backend's tests call [`conformance_suite`] with a factory of fresh, empty stores and
//! [`persistence_suite`] with a function that reopens one and the same database.
#![expect(clippy::expect_used, reason = "a failing step is a failed test")]

use crate::{
    Deleted, EncodedLogEntry, ListQuery, LogBatch, LogOrder, LogQuery, ParentFilter, Record, Store,
    StoreError, Write,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

/// Runs every behavioural case, each against a fresh store from `make`.
pub fn conformance_suite(make: &dyn Fn() -> Box<dyn Store>) {
    type Case = (&'static str, fn(&dyn Store));
    let cases: &[Case] = &[
        ("create_and_get", create_and_get),
        ("create_conflicts", create_conflicts),
        ("invalid_keys", invalid_keys),
        ("update_bumps_revision", update_bumps_revision),
        ("optimistic_concurrency", optimistic_concurrency),
        ("atomic_batches", atomic_batches),
        ("soft_delete_and_undelete", soft_delete_and_undelete),
        ("hard_delete_and_recreate", hard_delete_and_recreate),
        ("upsert", upsert),
        ("move_changes_parent", move_changes_parent),
        ("list_filters", list_filters),
        ("list_paging", list_paging),
        ("sequences", sequences),
        ("check_preconditions", check_preconditions),
        ("single_write", single_write),
        ("random_batches_match_model", random_batches_match_model),
        ("log_order_and_paging", log_order_and_paging),
        ("log_prefilters", log_prefilters),
        ("log_validation", log_validation),
        ("encoded_log_entries", encoded_log_entries),
    ];
    for (name, case) in cases {
        eprintln!("conformance: {name}");
        case(make().as_ref());
    }
    eprintln!("conformance: concurrent_read_modify_write");
    concurrent_read_modify_write(Arc::from(make()));
    eprintln!("conformance: concurrent_sequences");
    concurrent_sequences(Arc::from(make()));
}

/// Checks that everything committed survives closing and reopening the store; each call
/// of `open` must open the same database.
pub fn persistence_suite(open: &dyn Fn() -> Box<dyn Store>) {
    let (records, log) = {
        let store = open();
        let created = store
            .transact(&[
                create("things", "a", Some("p"), json!({"v": 1})),
                create("things", "b", None, json!({"v": [1, "two", null]})),
                create("things", "gone", None, json!({})),
            ])
            .expect("seed records");
        let updated = store
            .transact(&[update("things", "a", json!({"v": 2}), Some(1))])
            .expect("update");
        let deleted = store
            .transact(&[soft_delete("things", "gone", None)])
            .expect("soft delete");
        assert_eq!(store.next_sequence("n").expect("sequence"), 1);
        assert_eq!(store.next_sequence("n").expect("sequence"), 2);
        let log = vec![log_entry(
            "2024-01-01T00:00:00.123456789Z",
            "projects/p/logs/a",
            "INFO",
        )];
        store.append_log(&log).expect("append log");
        (
            vec![updated[0].clone(), created[1].clone(), deleted[0].clone()],
            log,
        )
    };
    let store = open();
    for r in &records {
        let got = store
            .get_including_deleted(&r.collection, &r.name)
            .expect("get");
        assert_eq!(got.as_ref(), Some(r), "record survives reopen");
    }
    assert_eq!(
        store.get("things", "gone").expect("get"),
        None,
        "soft delete survives reopen"
    );
    assert_eq!(
        store.next_sequence("n").expect("sequence"),
        3,
        "sequences continue after reopen"
    );
    let page = store
        .query_log(&LogQuery::default(), &mut |_| true)
        .expect("query log");
    assert_eq!(page.entries, log);
    // Writes still work after reopening.
    store
        .transact(&[update("things", "a", json!({"v": 3}), Some(2))])
        .expect("update after reopen");
}

// ----- helpers -----

/// A `Write::Create`.
fn create(collection: &str, name: &str, parent: Option<&str>, data: Value) -> Write {
    Write::Create {
        collection: collection.to_owned(),
        name: name.to_owned(),
        parent: parent.map(str::to_owned),
        data,
    }
}

fn update(collection: &str, name: &str, data: Value, expected_revision: Option<u64>) -> Write {
    Write::Update {
        collection: collection.to_owned(),
        name: name.to_owned(),
        data,
        expected_revision,
    }
}

fn soft_delete(collection: &str, name: &str, expected_revision: Option<u64>) -> Write {
    Write::SoftDelete {
        collection: collection.to_owned(),
        name: name.to_owned(),
        data: None,
        expected_revision,
    }
}

fn undelete(collection: &str, name: &str, expected_revision: Option<u64>) -> Write {
    Write::Undelete {
        collection: collection.to_owned(),
        name: name.to_owned(),
        data: None,
        expected_revision,
    }
}

fn hard_delete(collection: &str, name: &str, expected_revision: Option<u64>) -> Write {
    Write::HardDelete {
        collection: collection.to_owned(),
        name: name.to_owned(),
        expected_revision,
    }
}

fn move_to(
    collection: &str,
    name: &str,
    parent: Option<&str>,
    expected_revision: Option<u64>,
) -> Write {
    Write::Move {
        collection: collection.to_owned(),
        name: name.to_owned(),
        parent: parent.map(str::to_owned),
        expected_revision,
    }
}

fn log_entry(ts: &str, log_name: &str, severity: &str) -> Value {
    json!({"timestamp": ts, "logName": log_name, "severity": severity, "resource": {"type": "cloud_run_revision"}})
}

fn names(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.name.as_str()).collect()
}

fn list_names(store: &dyn Store, collection: &str, query: &ListQuery) -> Vec<String> {
    let page = store.list(collection, query).expect("list");
    assert_eq!(page.next_page_token, None, "unpaged listing is complete");
    page.records.into_iter().map(|r| r.name).collect()
}

fn is_not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound { .. })
}

// ----- cases -----

fn create_and_get(store: &dyn Store) {
    assert_eq!(store.get("things", "a").expect("get missing"), None);
    let out = store
        .transact(&[create("things", "a", Some("parent/1"), json!({"k": "v"}))])
        .expect("create");
    let r = &out[0];
    assert_eq!((r.collection.as_str(), r.name.as_str()), ("things", "a"));
    assert_eq!(r.parent.as_deref(), Some("parent/1"));
    assert_eq!(r.revision, 1);
    assert_eq!(r.data, json!({"k": "v"}));
    assert_eq!(r.create_time, r.update_time);
    assert_eq!(r.delete_time, None);
    assert!(
        uuid::Uuid::parse_str(&r.uid).is_ok_and(|u| u.get_version_num() == 4),
        "uid is a UUID v4"
    );
    assert_eq!(r.etag, Record::etag_for(&r.uid, 1));
    assert!(
        r.etag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "etag is base64url"
    );
    assert_eq!(store.get("things", "a").expect("get").as_ref(), Some(r));
    // Collections are separate namespaces.
    assert_eq!(store.get("other", "a").expect("get other"), None);
    store
        .transact(&[create("other", "a", None, json!(1))])
        .expect("same name, other collection");
}

fn create_conflicts(store: &dyn Store) {
    store
        .transact(&[create("things", "a", None, json!({}))])
        .expect("create");
    let e = store
        .transact(&[create("things", "a", None, json!({}))])
        .expect_err("duplicate");
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e:?}");
    store
        .transact(&[soft_delete("things", "a", None)])
        .expect("soft delete");
    let e = store
        .transact(&[create("things", "a", None, json!({}))])
        .expect_err("soft-deleted name is taken");
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e:?}");
}

fn invalid_keys(store: &dyn Store) {
    for w in [
        create("", "a", None, json!({})),
        create("things", "", None, json!({})),
    ] {
        let e = store.transact(&[w]).expect_err("empty key");
        assert!(matches!(e, StoreError::InvalidArgument(_)), "{e:?}");
    }
}

fn update_bumps_revision(store: &dyn Store) {
    let r1 = store
        .transact(&[create("things", "a", Some("p"), json!({"v": 1}))])
        .expect("create")
        .remove(0);
    let r2 = store
        .transact(&[update("things", "a", json!({"v": 2}), None)])
        .expect("update")
        .remove(0);
    assert_eq!(r2.revision, 2);
    assert_ne!(r2.etag, r1.etag);
    assert_eq!(
        (&r2.uid, r2.create_time, &r2.parent),
        (&r1.uid, r1.create_time, &r1.parent)
    );
    assert!(r2.update_time >= r1.update_time);
    assert_eq!(r2.data, json!({"v": 2}));
    let r3 = store
        .transact(&[update("things", "a", json!({"v": 3}), Some(2))])
        .expect("update")
        .remove(0);
    assert_eq!(r3.revision, 3);
    assert_eq!(store.get("things", "a").expect("get"), Some(r3));
    let e = store
        .transact(&[update("things", "missing", json!({}), None)])
        .expect_err("missing");
    assert!(is_not_found(&e), "{e:?}");
}

fn optimistic_concurrency(store: &dyn Store) {
    store
        .transact(&[create("things", "a", Some("p"), json!({"v": 1}))])
        .expect("create");
    store
        .transact(&[update("things", "a", json!({"v": 2}), Some(1))])
        .expect("update at 1");
    let before = store.get("things", "a").expect("get");
    let stale = [
        update("things", "a", json!({"v": 3}), Some(1)),
        move_to("things", "a", Some("q"), Some(1)),
        soft_delete("things", "a", Some(1)),
        hard_delete("things", "a", Some(5)),
    ];
    for w in stale {
        let e = store
            .transact(std::slice::from_ref(&w))
            .expect_err("stale revision");
        assert!(
            matches!(
                e,
                StoreError::Conflict {
                    expected: 1 | 5,
                    actual: 2
                }
            ),
            "{w:?}: {e:?}"
        );
    }
    assert_eq!(
        store.get("things", "a").expect("get"),
        before,
        "conflicts change nothing"
    );
    store
        .transact(&[soft_delete("things", "a", Some(2))])
        .expect("soft delete at 2");
    let e = store
        .transact(&[undelete("things", "a", Some(2))])
        .expect_err("stale undelete");
    assert!(
        matches!(
            e,
            StoreError::Conflict {
                expected: 2,
                actual: 3
            }
        ),
        "{e:?}"
    );
    // An expected revision on a missing record is NotFound, not a conflict.
    let e = store
        .transact(&[update("things", "missing", json!({}), Some(1))])
        .expect_err("missing");
    assert!(is_not_found(&e), "{e:?}");
}

fn atomic_batches(store: &dyn Store) {
    store
        .transact(&[create("things", "existing", None, json!({"v": 1}))])
        .expect("seed");
    let failing = [
        create("things", "x", None, json!({})),
        update("things", "existing", json!({"v": 2}), Some(1)),
        create("other", "y", None, json!({})),
        update("things", "missing", json!({}), None),
    ];
    let e = store.transact(&failing).expect_err("last write fails");
    assert!(is_not_found(&e), "{e:?}");
    assert_eq!(
        store.get("things", "x").expect("get"),
        None,
        "nothing of a failed batch is written"
    );
    assert_eq!(store.get("other", "y").expect("get"), None);
    assert_eq!(
        store
            .get("things", "existing")
            .expect("get")
            .map(|r| r.revision),
        Some(1)
    );
    let e = store
        .transact(&[
            update("things", "existing", json!({"v": 2}), Some(1)),
            update("things", "existing", json!({}), Some(1)),
        ])
        .expect_err("second write sees the first");
    assert!(
        matches!(
            e,
            StoreError::Conflict {
                expected: 1,
                actual: 2
            }
        ),
        "{e:?}"
    );

    let out = store
        .transact(&[
            create("things", "x", Some("p"), json!({"n": 1})),
            update("things", "x", json!({"n": 2}), Some(1)),
            update("things", "existing", json!({"v": 2}), Some(1)),
            create("other", "y", None, json!({})),
        ])
        .expect("batch");
    assert_eq!(
        out.iter().map(|r| r.revision).collect::<Vec<_>>(),
        [1, 2, 2, 1]
    );
    assert_eq!(
        out[1].update_time, out[3].update_time,
        "one batch, one timestamp"
    );
    assert_eq!(
        store.get("things", "x").expect("get").map(|r| r.data),
        Some(json!({"n": 2}))
    );
    assert!(store.transact(&[]).expect("empty batch").is_empty());
}

fn soft_delete_and_undelete(store: &dyn Store) {
    store
        .transact(&[create("things", "a", Some("p"), json!({"state": "ACTIVE"}))])
        .expect("create");
    store
        .transact(&[create("things", "b", Some("p"), json!({}))])
        .expect("create");
    let e = store
        .transact(&[undelete("things", "a", None)])
        .expect_err("live record");
    assert!(matches!(e, StoreError::FailedPrecondition(_)), "{e:?}");
    let deleted = store
        .transact(&[Write::SoftDelete {
            collection: "things".into(),
            name: "a".into(),
            data: Some(json!({"state": "DELETE_REQUESTED"})),
            expected_revision: Some(1),
        }])
        .expect("soft delete")
        .remove(0);
    assert_eq!(deleted.revision, 2);
    assert_eq!(deleted.delete_time, Some(deleted.update_time));
    assert_eq!(deleted.data, json!({"state": "DELETE_REQUESTED"}));
    assert_eq!(store.get("things", "a").expect("get"), None);
    assert_eq!(
        store
            .get_including_deleted("things", "a")
            .expect("get")
            .as_ref(),
        Some(&deleted)
    );
    assert_eq!(
        store
            .lookup("things", "a", Deleted::Include)
            .expect("lookup")
            .as_ref(),
        Some(&deleted)
    );
    let all = ListQuery {
        deleted: Deleted::Include,
        ..ListQuery::default()
    };
    assert_eq!(list_names(store, "things", &ListQuery::default()), ["b"]);
    assert_eq!(list_names(store, "things", &all), ["a", "b"]);
    for w in [
        update("things", "a", json!({}), None),
        soft_delete("things", "a", None),
        move_to("things", "a", None, None),
    ] {
        let e = store
            .transact(&[w])
            .expect_err("deleted records are absent");
        assert!(is_not_found(&e), "{e:?}");
    }
    let restored = store
        .transact(&[undelete("things", "a", Some(2))])
        .expect("undelete")
        .remove(0);
    assert_eq!(restored.revision, 3);
    assert_eq!(restored.delete_time, None);
    assert_eq!(
        (&restored.uid, &restored.data),
        (&deleted.uid, &deleted.data)
    );
    assert_eq!(store.get("things", "a").expect("get"), Some(restored));
    let e = store
        .transact(&[undelete("things", "missing", None)])
        .expect_err("missing");
    assert!(is_not_found(&e), "{e:?}");
}

fn hard_delete_and_recreate(store: &dyn Store) {
    let first = store
        .transact(&[create("things", "a", None, json!({"gen": 1}))])
        .expect("create")
        .remove(0);
    let removed = store
        .transact(&[hard_delete("things", "a", Some(1))])
        .expect("hard delete")
        .remove(0);
    assert_eq!(removed, first, "hard delete returns the removed record");
    assert_eq!(
        store.get_including_deleted("things", "a").expect("get"),
        None
    );
    let e = store
        .transact(&[hard_delete("things", "a", None)])
        .expect_err("gone");
    assert!(is_not_found(&e), "{e:?}");
    let second = store
        .transact(&[create("things", "a", None, json!({"gen": 2}))])
        .expect("re-create")
        .remove(0);
    assert_eq!(second.revision, 1);
    assert_ne!(second.uid, first.uid, "a new incarnation gets a new uid");
    assert_ne!(
        second.etag, first.etag,
        "and a different etag at the same revision"
    );
    // Soft-deleted records can be purged too.
    store
        .transact(&[
            soft_delete("things", "a", None),
            hard_delete("things", "a", Some(2)),
        ])
        .expect("purge");
    assert_eq!(
        store.get_including_deleted("things", "a").expect("get"),
        None
    );
}

fn upsert(store: &dyn Store) {
    let upsert = |data: Value, parent: &str| Write::Upsert {
        collection: "things".into(),
        name: "a".into(),
        parent: Some(parent.to_owned()),
        data,
    };
    let r1 = store
        .transact(&[upsert(json!(1), "p")])
        .expect("upsert creates")
        .remove(0);
    assert_eq!(r1.revision, 1);
    let r2 = store
        .transact(&[upsert(json!(2), "q")])
        .expect("upsert replaces")
        .remove(0);
    assert_eq!((r2.revision, &r2.uid, &r2.data), (2, &r1.uid, &json!(2)));
    assert_eq!(r2.parent.as_deref(), Some("q"));
    store
        .transact(&[soft_delete("things", "a", None)])
        .expect("soft delete");
    let r4 = store
        .transact(&[upsert(json!(4), "q")])
        .expect("upsert a deleted record")
        .remove(0);
    assert_eq!(r4.revision, 4);
    assert!(r4.is_deleted(), "upsert keeps the deletion state");
}

fn move_changes_parent(store: &dyn Store) {
    store
        .transact(&[create(
            "things",
            "a",
            Some("folders/1"),
            json!({"keep": true}),
        )])
        .expect("create");
    let moved = store
        .transact(&[move_to("things", "a", Some("folders/2"), Some(1))])
        .expect("move")
        .remove(0);
    assert_eq!(
        (moved.revision, moved.parent.as_deref()),
        (2, Some("folders/2"))
    );
    assert_eq!(moved.data, json!({"keep": true}));
    let under = |p: &str| ListQuery {
        parent: ParentFilter::Is(p.to_owned()),
        ..ListQuery::default()
    };
    assert!(list_names(store, "things", &under("folders/1")).is_empty());
    assert_eq!(list_names(store, "things", &under("folders/2")), ["a"]);
    store
        .transact(&[move_to("things", "a", None, None)])
        .expect("move to no parent");
    let roots = ListQuery {
        parent: ParentFilter::IsNone,
        ..ListQuery::default()
    };
    assert_eq!(list_names(store, "things", &roots), ["a"]);
}

fn list_filters(store: &dyn Store) {
    let seed = [
        (
            "projects/p/locations/a/services/s1",
            "projects/p/locations/a",
        ),
        (
            "projects/p/locations/a/services/s2",
            "projects/p/locations/a",
        ),
        (
            "projects/p/locations/b/services/s3",
            "projects/p/locations/b",
        ),
        (
            "projects/q/locations/a/services/s4",
            "projects/q/locations/a",
        ),
        // A parent sharing a prefix string with "projects/p" must not match Is("projects/p…").
        (
            "projects/p2/locations/a/services/s5",
            "projects/p2/locations/a",
        ),
    ];
    let writes: Vec<Write> = seed
        .iter()
        .map(|(n, p)| create("services", n, Some(p), json!({})))
        .collect();
    store.transact(&writes).expect("seed");
    store
        .transact(&[create("services", "orphan", None, json!({}))])
        .expect("orphan");
    store
        .transact(&[create(
            "revisions",
            "projects/p/locations/a/services/s1/revisions/r1",
            None,
            json!({}),
        )])
        .expect("other");

    let q = |parent: ParentFilter| ListQuery {
        parent,
        ..ListQuery::default()
    };
    assert_eq!(
        list_names(store, "services", &q(ParentFilter::Any)).len(),
        6
    );
    assert_eq!(
        list_names(
            store,
            "services",
            &q(ParentFilter::Is("projects/p/locations/a".into()))
        ),
        [
            "projects/p/locations/a/services/s1",
            "projects/p/locations/a/services/s2"
        ]
    );
    assert_eq!(
        list_names(
            store,
            "services",
            &q(ParentFilter::StartsWith("projects/p/locations/".into()))
        ),
        [
            "projects/p/locations/a/services/s1",
            "projects/p/locations/a/services/s2",
            "projects/p/locations/b/services/s3"
        ]
    );
    assert_eq!(
        list_names(store, "services", &q(ParentFilter::IsNone)),
        ["orphan"]
    );
    // Prefix matching is literal: LIKE/GLOB metacharacters have no special meaning.
    assert!(
        list_names(
            store,
            "services",
            &q(ParentFilter::StartsWith("projects/%".into()))
        )
        .is_empty()
    );
    assert!(
        list_names(
            store,
            "services",
            &q(ParentFilter::StartsWith("projects/_".into()))
        )
        .is_empty()
    );
    let by_name = ListQuery {
        name_prefix: Some("projects/q/".into()),
        ..ListQuery::default()
    };
    assert_eq!(
        list_names(store, "services", &by_name),
        ["projects/q/locations/a/services/s4"]
    );
    assert!(list_names(store, "empty", &ListQuery::default()).is_empty());
}

fn list_paging(store: &dyn Store) {
    // Inserted out of order; listed in byte order of name.
    let all = ["e", "a", "d", "B", "c", "ä"];
    let writes: Vec<Write> = all
        .iter()
        .map(|n| create("things", n, Some("p"), json!({})))
        .collect();
    store.transact(&writes).expect("seed");
    store
        .transact(&[soft_delete("things", "c", None)])
        .expect("soft delete");
    let mut query = ListQuery {
        page_size: 2,
        parent: ParentFilter::Is("p".into()),
        ..ListQuery::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = store.list("things", &query).expect("page");
        assert!(page.records.len() <= 2);
        pages.push(names(&page.records).join(","));
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, ["B,a", "d,e", "ä"]);
    let exact = ListQuery {
        page_size: 5,
        ..ListQuery::default()
    };
    let page = store.list("things", &exact).expect("exact page");
    assert_eq!(
        (page.records.len(), page.next_page_token),
        (5, None),
        "no token when nothing follows"
    );
    let with_deleted = ListQuery {
        page_size: 3,
        deleted: Deleted::Include,
        ..ListQuery::default()
    };
    let page = store.list("things", &with_deleted).expect("first page");
    assert_eq!(names(&page.records), ["B", "a", "c"]);
    for bad in ["", "!!!", "bm90LWEtdG9rZW4"] {
        let bad = ListQuery {
            page_token: Some(bad.into()),
            ..ListQuery::default()
        };
        let e = store.list("things", &bad).expect_err("bad token");
        assert!(matches!(e, StoreError::InvalidArgument(_)), "{e:?}");
    }
}

fn sequences(store: &dyn Store) {
    let got: Vec<u64> = (0..3)
        .map(|_| store.next_sequence("projects").expect("next"))
        .collect();
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(
        store.next_sequence("other").expect("next"),
        1,
        "counters are independent"
    );
    assert_eq!(store.next_sequence("projects").expect("next"), 4);
}

fn concurrent_read_modify_write(store: Arc<dyn Store>) {
    const THREADS: usize = 50;
    store
        .transact(&[create("docs", "policy", None, json!({"members": []}))])
        .expect("seed");
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut conflicts = 0u32;
                loop {
                    let current = store.get("docs", "policy").expect("read").expect("exists");
                    let mut data = current.data.clone();
                    data["members"]
                        .as_array_mut()
                        .expect("array")
                        .push(json!(i));
                    match store.transact(&[update("docs", "policy", data, Some(current.revision))])
                    {
                        Ok(_) => return Ok(conflicts),
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(e) => return Err(e),
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join()
            .expect("thread")
            .expect("only revision conflicts, which are retried");
    }
    let doc = store.get("docs", "policy").expect("read").expect("exists");
    let mut members: Vec<u64> = doc.data["members"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        (0..THREADS as u64).collect::<Vec<_>>(),
        "no update lost"
    );
    assert_eq!(doc.revision, THREADS as u64 + 1);
}

fn concurrent_sequences(store: Arc<dyn Store>) {
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| store.next_sequence("ids").expect("next"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=200).collect::<Vec<_>>(),
        "every value handed out exactly once"
    );
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("timestamp")
        .with_timezone(&Utc)
}

fn log_order_and_paging(store: &dyn Store) {
    // Appended out of timestamp order; equal timestamps keep append order.
    let entries: Vec<Value> = [
        ("2024-01-01T00:00:03Z", "c"),
        ("2024-01-01T00:00:01Z", "a"),
        ("2024-01-01T00:00:02Z", "b1"),
        ("2024-01-01T00:00:02Z", "b2"),
        ("2024-01-01T00:00:04.5Z", "d"),
    ]
    .iter()
    .map(|(t, id)| json!({"timestamp": t, "insertId": id, "logName": "projects/p/logs/x"}))
    .collect();
    store.append_log(&entries[..2]).expect("append");
    store.append_log(&entries[2..]).expect("append");
    let ids = |entries: &[Value]| -> Vec<String> {
        entries
            .iter()
            .filter_map(|e| e["insertId"].as_str().map(str::to_owned))
            .collect()
    };
    let asc = store
        .query_log(&LogQuery::default(), &mut |_| true)
        .expect("query");
    assert_eq!(ids(&asc.entries), ["a", "b1", "b2", "c", "d"]);
    assert_eq!(asc.next_page_token, None);
    assert_eq!(asc.entries[1], entries[2], "entries come back as stored");
    let desc = LogQuery {
        order: LogOrder::Descending,
        ..LogQuery::default()
    };
    assert_eq!(
        ids(&store
            .query_log(&desc, &mut |_| true)
            .expect("query")
            .entries),
        ["d", "c", "b2", "b1", "a"]
    );

    for order in [LogOrder::Ascending, LogOrder::Descending] {
        let mut q = LogQuery {
            order,
            limit: 2,
            ..LogQuery::default()
        };
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.query_log(&q, &mut |_| true).expect("page");
            assert!(page.entries.len() <= 2);
            pages += 1;
            seen.extend(ids(&page.entries));
            match page.next_page_token {
                Some(t) => q.page_token = Some(t),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let mut expected = vec!["a", "b1", "b2", "c", "d"];
        if order == LogOrder::Descending {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{order:?} paging visits every entry once");
    }

    // The callback decides inclusion; the limit counts included entries only.
    let mut calls = 0;
    let limited = LogQuery {
        limit: 2,
        ..LogQuery::default()
    };
    let page = store
        .query_log(&limited, &mut |e| {
            calls += 1;
            e["insertId"]
                .as_str()
                .is_some_and(|id| id.starts_with('b') || id == "d")
        })
        .expect("filtered");
    assert_eq!(ids(&page.entries), ["b1", "b2"]);
    assert_eq!(calls, 3, "scanning stops once the limit is reached");
    let rest = LogQuery {
        page_token: page.next_page_token,
        ..limited
    };
    let page = store
        .query_log(&rest, &mut |e| e["insertId"] == "d")
        .expect("filtered rest");
    assert_eq!(ids(&page.entries), ["d"]);

    let bad = LogQuery {
        page_token: Some("garbage".into()),
        ..LogQuery::default()
    };
    let e = store.query_log(&bad, &mut |_| true).expect_err("bad token");
    assert!(matches!(e, StoreError::InvalidArgument(_)), "{e:?}");
}

fn log_prefilters(store: &dyn Store) {
    let mut entries = vec![
        log_entry(
            "2024-01-01T00:00:01Z",
            "projects/p/logs/run.googleapis.com%2Frequests",
            "INFO",
        ),
        log_entry(
            "2024-01-01T00:00:02Z",
            "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
            "NOTICE",
        ),
        log_entry("2024-01-01T00:00:03Z", "projects/p2/logs/x", "ERROR"),
        log_entry("2024-01-01T00:00:04Z", "organizations/1/logs/x", "CRITICAL"),
        json!({"timestamp": "2024-01-01T00:00:05Z", "logName": "projects/p/logs/y", "severity": 500,
               "resource": {"type": "audited_resource"}}),
        json!({"timestamp": "2024-01-01T00:00:06Z", "logName": "projects/p/logs/z"}),
    ];
    for (i, e) in entries.iter_mut().enumerate() {
        e["insertId"] = json!(i.to_string());
    }
    store.append_log(&entries).expect("append");
    let ids = |q: &LogQuery| -> Vec<String> {
        let page = store.query_log(q, &mut |_| true).expect("query");
        page.entries
            .iter()
            .filter_map(|e| e["insertId"].as_str().map(str::to_owned))
            .collect()
    };
    let q = |f: &dyn Fn(&mut LogQuery)| {
        let mut q = LogQuery::default();
        f(&mut q);
        ids(&q)
    };
    assert_eq!(
        q(&|q| q.log_name_prefixes = vec!["projects/p/logs/".into()]),
        ["0", "1", "4", "5"]
    );
    assert_eq!(
        q(&|q| q.log_name_prefixes =
            vec!["projects/p2/logs/".into(), "organizations/1/logs/".into()]),
        ["2", "3"]
    );
    assert_eq!(
        q(&|q| q.resource_types = vec!["audited_resource".into()]),
        ["4"]
    );
    assert_eq!(q(&|q| q.min_severity = Some(500)), ["2", "3", "4"]);
    assert_eq!(q(&|q| q.min_severity = Some(300)), ["1", "2", "3", "4"]);
    assert_eq!(
        q(&|q| {
            q.start_time = Some(ts("2024-01-01T00:00:02Z"));
            q.end_time = Some(ts("2024-01-01T00:00:04Z"));
        }),
        ["1", "2"],
        "start inclusive, end exclusive"
    );
    assert_eq!(
        q(&|q| {
            q.log_name_prefixes = vec!["projects/p/".into()];
            q.min_severity = Some(200);
            q.start_time = Some(ts("2024-01-01T00:00:01.5Z"));
        }),
        ["1", "4"]
    );
}

fn log_validation(store: &dyn Store) {
    let good = log_entry("2024-01-01T00:00:00Z", "projects/p/logs/x", "INFO");
    for bad in [
        json!("not an object"),
        json!({"timestamp": "yesterday"}),
        json!({"timestamp": 5}),
        json!({"severity": "LOUD"}),
        json!({"severity": 1e10}),
    ] {
        let e = store
            .append_log(&[good.clone(), bad.clone()])
            .expect_err("invalid entry");
        assert!(matches!(e, StoreError::InvalidArgument(_)), "{bad}: {e:?}");
    }
    let page = store
        .query_log(&LogQuery::default(), &mut |_| true)
        .expect("query");
    assert!(page.entries.is_empty(), "a rejected batch appends nothing");

    // A missing timestamp is filled in from the store's clock.
    store
        .append_log(&[json!({"logName": "projects/p/logs/x", "textPayload": "hi"})])
        .expect("append");
    let page = store
        .query_log(&LogQuery::default(), &mut |_| true)
        .expect("query");
    assert!(
        page.entries[0]["timestamp"]
            .as_str()
            .is_some_and(|t| DateTime::parse_from_rfc3339(t).is_ok())
    );
    store.append_log(&[]).expect("empty append");
}

/// Entries encoded by their producer are stored and found like any other, in one order with
/// entries appended as JSON objects.
fn encoded_log_entries(store: &dyn Store) {
    let now = Utc::now();
    let first = EncodedLogEntry::encode(
        &json!({"timestamp": "2024-01-01T00:00:01Z", "logName": "projects/p/logs/requests",
                "severity": "WARNING", "resource": {"type": "cloud_run_revision"}, "insertId": "a"}),
        now,
    )
    .expect("encode");
    assert_eq!(first.severity, 400);
    assert_eq!(first.resource_type.as_deref(), Some("cloud_run_revision"));
    assert_eq!(first.timestamp_nanos, 1_704_067_201_000_000_000);
    let second = EncodedLogEntry {
        timestamp_nanos: 1_704_067_202_000_000_000,
        log_name: "projects/p/logs/requests".into(),
        resource_type: None,
        severity: 200,
        json: r#"{"timestamp":"2024-01-01T00:00:02Z","logName":"projects/p/logs/requests","severity":"INFO","insertId":"b"}"#.into(),
    };
    store
        // Two producers' batches in one append.
        .append_encoded_log(&[LogBatch::of(&[second]), LogBatch::of(&[first])])
        .expect("append encoded");
    store
        .append_log(&[log_entry(
            "2024-01-01T00:00:03Z",
            "projects/p/logs/requests",
            "ERROR",
        )])
        .expect("append");
    store
        .append_encoded_log(&[LogBatch::new(), LogBatch::new()])
        .expect("empty append");
    let page = store
        .query_log(&LogQuery::default(), &mut |_| true)
        .expect("query");
    let ids: Vec<&str> = page
        .entries
        .iter()
        .map(|e| e["insertId"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(ids, ["a", "b", "-"], "oldest first by timestamp");
    let warnings = store
        .query_log(
            &LogQuery {
                min_severity: Some(400),
                ..LogQuery::default()
            },
            &mut |_| true,
        )
        .expect("query");
    assert_eq!(warnings.entries.len(), 2);
    // A non-object is refused before anything is encoded.
    assert!(matches!(
        EncodedLogEntry::encode(&json!("text"), now),
        Err(StoreError::InvalidArgument(_))
    ));
}

fn check_preconditions(store: &dyn Store) {
    let check = |name: &str, expected_revision| Write::Check {
        collection: "parents".into(),
        name: name.into(),
        expected_revision,
    };
    store
        .transact(&[create("parents", "p", None, json!({}))])
        .expect("parent");
    let out = store
        .transact(&[
            check("p", Some(1)),
            create("children", "c1", Some("p"), json!({})),
        ])
        .expect("check passes");
    assert_eq!(
        out[0].revision, 1,
        "a check returns the record without writing it"
    );
    assert_eq!(
        store.get("parents", "p").expect("get").map(|r| r.revision),
        Some(1)
    );
    for (w, conflict) in [(check("p", Some(7)), true), (check("missing", None), false)] {
        let e = store
            .transact(&[w, create("children", "c2", Some("p"), json!({}))])
            .expect_err("check fails");
        assert_eq!(
            matches!(
                e,
                StoreError::Conflict {
                    expected: 7,
                    actual: 1
                }
            ),
            conflict,
            "{e:?}"
        );
        assert_eq!(is_not_found(&e), !conflict, "{e:?}");
        assert_eq!(
            store.get("children", "c2").expect("get"),
            None,
            "the batch was not applied"
        );
    }
    store
        .transact(&[soft_delete("parents", "p", None)])
        .expect("delete parent");
    let e = store
        .transact(&[check("p", None)])
        .expect_err("a deleted record fails a check");
    assert!(is_not_found(&e), "{e:?}");
}

fn single_write(store: &dyn Store) {
    let r = store
        .write(&create("things", "a", None, json!({"x": 1})))
        .expect("write");
    assert_eq!((r.name.as_str(), r.revision), ("a", 1));
    let e = store
        .write(&create("things", "a", None, json!({})))
        .expect_err("duplicate");
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e:?}");
    let e = store.next_sequence("").expect_err("empty sequence name");
    assert!(matches!(e, StoreError::InvalidArgument(_)), "{e:?}");
}

/// The observable state of one record in [`random_batches_match_model`].
#[derive(Debug, Clone, PartialEq)]
struct ModelRecord {
    parent: Option<String>,
    revision: u64,
    data: Value,
    deleted: bool,
}

/// Which error a write should fail with, by kind.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ModelError {
    NotFound,
    AlreadyExists,
    Conflict,
    FailedPrecondition,
}

fn model_error(e: &StoreError) -> Option<ModelError> {
    match e {
        StoreError::NotFound { .. } => Some(ModelError::NotFound),
        StoreError::AlreadyExists { .. } => Some(ModelError::AlreadyExists),
        StoreError::Conflict { .. } => Some(ModelError::Conflict),
        StoreError::FailedPrecondition(_) => Some(ModelError::FailedPrecondition),
        _ => None,
    }
}

type Model = std::collections::BTreeMap<String, ModelRecord>;

/// The reference semantics of one write, on a plain map.
fn model_apply(model: &mut Model, write: &Write) -> Result<(), ModelError> {
    let (_, name) = write.target();
    let current = model.get(name).cloned();
    let live = || match &current {
        Some(r) if !r.deleted => Ok(r.clone()),
        _ => Err(ModelError::NotFound),
    };
    let any = || current.clone().ok_or(ModelError::NotFound);
    let check = |r: &ModelRecord, expected: &Option<u64>| match expected {
        Some(e) if *e != r.revision => Err(ModelError::Conflict),
        _ => Ok(()),
    };
    let bumped = |r: ModelRecord| ModelRecord {
        revision: r.revision + 1,
        ..r
    };
    let next = match write {
        Write::Create { parent, data, .. } => {
            if current.is_some() {
                return Err(ModelError::AlreadyExists);
            }
            ModelRecord {
                parent: parent.clone(),
                revision: 1,
                data: data.clone(),
                deleted: false,
            }
        }
        Write::Update {
            data,
            expected_revision,
            ..
        } => {
            let r = live()?;
            check(&r, expected_revision)?;
            ModelRecord {
                data: data.clone(),
                ..bumped(r)
            }
        }
        Write::Upsert { parent, data, .. } => match current {
            None => ModelRecord {
                parent: parent.clone(),
                revision: 1,
                data: data.clone(),
                deleted: false,
            },
            Some(r) => ModelRecord {
                parent: parent.clone(),
                data: data.clone(),
                ..bumped(r)
            },
        },
        Write::Move {
            parent,
            expected_revision,
            ..
        } => {
            let r = live()?;
            check(&r, expected_revision)?;
            ModelRecord {
                parent: parent.clone(),
                ..bumped(r)
            }
        }
        Write::SoftDelete {
            data,
            expected_revision,
            ..
        } => {
            let r = live()?;
            check(&r, expected_revision)?;
            let data = data.clone().unwrap_or_else(|| r.data.clone());
            ModelRecord {
                data,
                deleted: true,
                ..bumped(r)
            }
        }
        Write::Undelete {
            data,
            expected_revision,
            ..
        } => {
            let r = any()?;
            if !r.deleted {
                return Err(ModelError::FailedPrecondition);
            }
            check(&r, expected_revision)?;
            let data = data.clone().unwrap_or_else(|| r.data.clone());
            ModelRecord {
                data,
                deleted: false,
                ..bumped(r)
            }
        }
        Write::HardDelete {
            expected_revision, ..
        } => {
            check(&any()?, expected_revision)?;
            model.remove(name);
            return Ok(());
        }
        Write::Check {
            expected_revision, ..
        } => return check(&live()?, expected_revision),
    };
    model.insert(name.to_owned(), next);
    Ok(())
}

/// A small deterministic generator (xorshift64*), so failures reproduce exactly.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn random_write(rng: &mut Rng, model: &Model, step: u64) -> Write {
    let collection = "rand".to_owned();
    let name = format!("k{}", rng.below(6));
    let parent = match rng.below(3) {
        0 => None,
        n => Some(format!("p{n}")),
    };
    let data = json!({ "step": step });
    let revision = model.get(&name).map_or(1, |r| r.revision);
    // Mostly the right revision, sometimes a stale one, sometimes unconditional.
    let expected_revision = match rng.below(4) {
        0 => None,
        1 => Some(revision + 1),
        _ => Some(revision),
    };
    let maybe_data = (rng.below(2) == 0).then(|| data.clone());
    match rng.below(8) {
        0 => Write::Create {
            collection,
            name,
            parent,
            data,
        },
        1 => Write::Update {
            collection,
            name,
            data,
            expected_revision,
        },
        2 => Write::Upsert {
            collection,
            name,
            parent,
            data,
        },
        3 => Write::Move {
            collection,
            name,
            parent,
            expected_revision,
        },
        4 => Write::SoftDelete {
            collection,
            name,
            data: maybe_data,
            expected_revision,
        },
        5 => Write::Undelete {
            collection,
            name,
            data: maybe_data,
            expected_revision,
        },
        6 => Write::HardDelete {
            collection,
            name,
            expected_revision,
        },
        _ => Write::Check {
            collection,
            name,
            expected_revision,
        },
    }
}

/// Random batches of writes over a few names, checked after each batch against
/// [`model_apply`]: same outcome, same error kind, same stored state.
fn random_batches_match_model(store: &dyn Store) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut model = Model::new();
    let mut committed = 0;
    for step in 0..400 {
        let size = 1 + rng.below(3);
        let batch: Vec<Write> = (0..size)
            .map(|_| random_write(&mut rng, &model, step))
            .collect();
        let mut next = model.clone();
        let expected = batch.iter().try_for_each(|w| model_apply(&mut next, w));
        let got = store.transact(&batch);
        let outcome = got.as_ref().map(Vec::len).map_err(model_error);
        let wanted = expected.map(|()| batch.len()).map_err(Some);
        assert_eq!(outcome, wanted, "step {step}: {batch:?} -> {got:?}");
        if expected.is_ok() {
            model = next;
            committed += 1;
        }
        let all = ListQuery {
            deleted: Deleted::Include,
            ..ListQuery::default()
        };
        let stored: Model = store
            .list("rand", &all)
            .expect("list")
            .records
            .into_iter()
            .map(|r| {
                let state = ModelRecord {
                    deleted: r.is_deleted(),
                    parent: r.parent,
                    revision: r.revision,
                    data: r.data,
                };
                (r.name, state)
            })
            .collect();
        assert_eq!(stored, model, "step {step}: state after {batch:?}");
    }
    // The generator must exercise both outcomes to mean anything.
    assert!(
        (50..350).contains(&committed),
        "{committed} of 400 batches committed"
    );
}
