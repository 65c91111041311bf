//! A key bound to payload values sees and touches only its own points
//! (spec/auth.md §15), whatever read or write it tries.

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::{CountRequest, PointRequest, QueryRequest, ScrollRequest, SearchRequest};
use osprey_engine::{EngineError, Payload, PointId, Storage, StorageConfig};
use serde_json::json;

fn setup() -> (tempfile::TempDir, std::sync::Arc<Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let storage = reopen(&dir);
    let request: CreateCollection =
        serde_json::from_value(json!({"vectors": {"size": 2, "distance": "Dot"}})).unwrap();
    storage.create_collection("c", request).unwrap();
    let points: Vec<_> = (0..10u64)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0], "payload": {"tenant": if i % 2 == 0 { "a" } else { "b" }, "n": i}}))
        .collect();
    let op: UpdateOperation = serde_json::from_value(json!({"upsert": {"points": points}})).unwrap();
    storage.collection("c").unwrap().update(op, true).unwrap();
    (dir, storage)
}

/// The storage of `setup` opened again, as after a restart.
fn reopen(dir: &tempfile::TempDir) -> std::sync::Arc<Storage> {
    Storage::open(StorageConfig {
        storage_path: dir.path().join("storage"),
        snapshots_path: dir.path().join("snapshots"),
    })
    .unwrap()
}

fn tenant_a() -> Payload {
    json!({"tenant": "a"}).as_object().unwrap().clone()
}

fn op(body: serde_json::Value) -> UpdateOperation {
    serde_json::from_value(body).unwrap()
}

fn is_forbidden<T: std::fmt::Debug>(result: osprey_engine::Result<T>) -> bool {
    matches!(result, Err(EngineError::Forbidden(ref m)) if m.contains("Payload restriction on collection c"))
}

// Every read path returns only the key's points.
#[test]
fn reads_see_only_matching_points() {
    let (_dir, storage) = setup();
    let view = storage.view("c", Some(&tenant_a())).unwrap();
    assert_eq!(view.count(CountRequest::default()).unwrap().count, 5);
    let page = view.scroll(ScrollRequest { limit: Some(100), ..Default::default() }).unwrap();
    assert!(page.points.iter().all(|p| p.payload.as_ref().unwrap()["tenant"] == "a"));
    let search: SearchRequest = serde_json::from_value(json!({"vector": [1.0, 0.0], "limit": 10})).unwrap();
    let hits = view.search(search).unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].id, PointId::Num(8));
    let query: QueryRequest = serde_json::from_value(json!({"query": [1.0, 0.0], "limit": 3})).unwrap();
    assert!(view.query(query, &storage).unwrap().points.iter().all(|p| match p.id {
        PointId::Num(n) => n % 2 == 0,
        _ => false,
    }));
    let retrieve = PointRequest { ids: vec![PointId::Num(1), PointId::Num(2)], with_payload: None, with_vector: None, shard_key: None };
    let got: Vec<_> = view.retrieve(retrieve).unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(got, vec![PointId::Num(2)]);
    assert!(matches!(view.get_point(PointId::Num(1)), Err(EngineError::NotFound(_))));
    // Querying by the id of a foreign point would leak its vector through the scores.
    let by_foreign_id: QueryRequest = serde_json::from_value(json!({"query": 1, "limit": 3})).unwrap();
    assert!(view.query(by_foreign_id, &storage).is_err());
    assert_eq!(view.info().unwrap().points_count, 5);
}

// Writes that would create, touch or move a point outside the restriction are refused and change nothing.
#[test]
fn writes_outside_the_restriction_are_refused() {
    let (_dir, storage) = setup();
    let view = storage.view("c", Some(&tenant_a())).unwrap();
    let all = storage.collection("c").unwrap();
    assert!(is_forbidden(view.update(op(json!({"upsert": {"points": [{"id": 20, "vector": [1.0, 1.0], "payload": {"tenant": "b"}}]}})), true)));
    assert!(is_forbidden(view.update(op(json!({"upsert": {"points": [{"id": 1, "vector": [1.0, 1.0], "payload": {"tenant": "a"}}]}})), true)));
    assert!(is_forbidden(view.update(op(json!({"delete": {"points": [1]}})), true)));
    assert!(is_forbidden(view.update(op(json!({"set_payload": {"payload": {"tenant": "b"}, "points": [2]}})), true)));
    assert!(is_forbidden(view.update(op(json!({"set_payload": {"payload": {"x": 1}, "points": [3]}})), true)));
    assert!(is_forbidden(view.update(op(json!({"overwrite_payload": {"payload": {"x": 1}, "points": [2]}})), true)));
    assert!(is_forbidden(view.update(op(json!({"delete_payload": {"keys": ["tenant"], "points": [2]}})), true)));
    assert!(is_forbidden(view.update(op(json!({"clear_payload": {"points": [2]}})), true)));
    assert!(is_forbidden(view.update(op(json!({"update_vectors": {"points": [{"id": 1, "vector": [0.0, 0.0]}]}})), true)));
    assert_eq!(all.count(CountRequest::default()).unwrap().count, 10);
    assert_eq!(all.get_point(PointId::Num(2)).unwrap().payload.unwrap()["tenant"], "a");
    assert!(view.require_unrestricted().is_err());
}

// Writes within the restriction work, and filter-based writes reach only the key's points.
#[test]
fn writes_inside_the_restriction_work() {
    let (_dir, storage) = setup();
    let view = storage.view("c", Some(&tenant_a())).unwrap();
    let all = storage.collection("c").unwrap();
    view.update(op(json!({"upsert": {"points": [{"id": 20, "vector": [1.0, 1.0], "payload": {"tenant": "a"}}]}})), true).unwrap();
    view.update(op(json!({"set_payload": {"payload": {"seen": true}, "points": [2]}})), true).unwrap();
    // A filter matching every point deletes only the key's points.
    view.update(op(json!({"delete": {"filter": {"must": [{"key": "n", "range": {"gte": 0}}]}}})), true).unwrap();
    assert_eq!(all.count(CountRequest::default()).unwrap().count, 6);
    let left = all.scroll(ScrollRequest { limit: Some(100), ..Default::default() }).unwrap();
    let ids: Vec<PointId> = left.points.iter().map(|p| p.id).collect();
    assert!(ids.contains(&PointId::Num(20)) && ids.contains(&PointId::Num(1)));
}

// ---- the probe's attacks (issue 11) ------------------------------------------

fn query(body: serde_json::Value) -> QueryRequest {
    serde_json::from_value(body).unwrap()
}

// Ids anywhere in a prefetch tree, in any query kind, must be visible to the
// key; a hidden or missing id is refused with §15's message.
#[test]
fn ids_inside_prefetch_are_checked_at_every_depth() {
    let (_dir, storage) = setup();
    let view = storage.view("c", Some(&tenant_a())).unwrap();
    let foreign = [
        json!({"prefetch": {"query": 1}, "query": [1.0, 0.0]}),
        json!({"prefetch": [{"prefetch": [{"prefetch": {"query": {"nearest": 1}}}]}], "query": [1.0, 0.0]}),
        json!({"prefetch": {"query": {"recommend": {"positive": [2], "negative": [3]}}}, "query": [1.0, 0.0]}),
        json!({"prefetch": {"query": {"discover": {"target": 2, "context": [{"positive": 4, "negative": 5}]}}}, "query": [1.0, 0.0]}),
        json!({"prefetch": {"query": {"context": [{"positive": 2, "negative": 7}]}}, "query": [1.0, 0.0]}),
        json!({"prefetch": {"query": 99}, "query": [1.0, 0.0]}),
        json!({"query": {"nearest": 1, "mmr": {"diversity": 0.5}}}),
    ];
    for body in foreign {
        assert!(is_forbidden(view.query(query(body.clone()), &storage)), "{body}");
    }
    let groups: osprey_engine::requests::QueryGroupsRequest = serde_json::from_value(
        json!({"prefetch": {"prefetch": {"query": 3}}, "query": [1.0, 0.0], "group_by": "tenant"}),
    )
    .unwrap();
    assert!(is_forbidden(view.query_groups(groups, &storage)));
    let own = query(json!({"prefetch": {"prefetch": {"query": 2}, "limit": 10}, "query": [1.0, 0.0], "limit": 10}));
    let hits = view.query(own, &storage).unwrap().points;
    // Point 2 itself is left out, as a query by id always does.
    let mut ids: Vec<PointId> = hits.iter().map(|p| p.id).collect();
    ids.sort();
    assert_eq!(ids, [0, 4, 6, 8].map(PointId::Num));
}

// A restricted field must hold exactly the value: arrays holding it are
// refused on write and invisible on read.
#[test]
fn array_values_never_cross_tenants() {
    let (_dir, storage) = setup();
    let view = storage.view("c", Some(&tenant_a())).unwrap();
    let all = storage.collection("c").unwrap();
    for body in [
        json!({"upsert": {"points": [{"id": 30, "vector": [1.0, 1.0], "payload": {"tenant": ["a", "b"]}}]}}),
        json!({"upsert": {"points": [{"id": 31, "vector": [1.0, 1.0], "payload": {"tenant": ["a"]}}]}}),
        json!({"set_payload": {"payload": {"tenant": ["a", "b"]}, "points": [2]}}),
        json!({"overwrite_payload": {"payload": {"tenant": ["a", "b"]}, "points": [2]}}),
    ] {
        assert!(is_forbidden(view.update(op(body.clone()), true)), "{body}");
    }
    assert_eq!(all.get_point(PointId::Num(2)).unwrap().payload.unwrap()["tenant"], "a");
    // Points planted by an unrestricted writer stay outside the view.
    all.update(
        op(json!({"upsert": {"points": [
            {"id": 40, "vector": [9.0, 1.0], "payload": {"tenant": ["a", "b"]}},
            {"id": 41, "vector": [9.0, 1.0], "payload": {"tenant": ["a"]}},
            {"id": 42, "vector": [9.0, 1.0], "payload": {"tenant": [null, "a"]}},
            {"id": 43, "vector": [9.0, 1.0], "payload": {"tenant": {"a": "a"}}}
        ]}})),
        true,
    )
    .unwrap();
    assert_eq!(view.count(CountRequest { exact: Some(true), ..Default::default() }).unwrap().count, 5);
    let hits = view.search(serde_json::from_value(json!({"vector": [1.0, 0.0], "limit": 100})).unwrap()).unwrap();
    assert!(hits.iter().all(|h| matches!(h.id, PointId::Num(n) if n < 10 && n % 2 == 0)), "{hits:?}");
    let retrieve = PointRequest { ids: (40..44).map(PointId::Num).collect(), with_payload: None, with_vector: None, shard_key: None };
    assert!(view.retrieve(retrieve).unwrap().is_empty());
    assert!(is_forbidden(view.query(query(json!({"query": 40})), &storage)));
    assert!(is_forbidden(view.update(op(json!({"set_payload": {"payload": {"x": 1}, "points": [40]}})), true)));
    // A filter delete reaches only exact matches.
    view.update(op(json!({"delete": {"filter": {}}})), true).unwrap();
    assert_eq!(all.count(CountRequest { exact: Some(true), ..Default::default() }).unwrap().count, 9);
    // A restriction on a path that names many values cannot be applied exactly.
    let wildcard = json!({"tags[]": "a"}).as_object().unwrap().clone();
    assert!(matches!(storage.view("c", Some(&wildcard)), Err(EngineError::Forbidden(_))));
}

fn bad_input<T>(result: osprey_engine::Result<T>) -> bool {
    matches!(result, Err(EngineError::BadInput(_)))
}

fn deep_object(depth: usize) -> serde_json::Value {
    (1..depth).fold(json!({"leaf": 1}), |inner, _| json!({ "a": inner }))
}

// Input nested without bound is refused before it is logged; nothing changes.
#[test]
fn unbounded_nesting_is_refused_before_anything_is_written() {
    let (dir, storage) = setup();
    let all = storage.collection("c").unwrap();
    for segments in [33, 200, 5000] {
        let key = vec!["a"; segments].join(".");
        assert!(bad_input(all.update(op(json!({"set_payload": {"payload": {"x": 1}, "points": [1], "key": key}})), true)));
        assert!(bad_input(all.update(op(json!({"delete_payload": {"keys": [key], "points": [1]}})), true)));
    }
    let upsert = json!({"upsert": {"points": [{"id": 50, "vector": [1.0, 1.0], "payload": deep_object(65)}]}});
    assert!(bad_input(all.update(op(upsert), true)));
    let under_key = json!({"set_payload": {"payload": deep_object(40), "points": [1], "key": vec!["k"; 30].join(".")}});
    assert!(bad_input(all.update(op(under_key), true)));
    let mut filter = json!({"key": "n", "match": {"value": 1}});
    for _ in 0..40 {
        filter = json!({"must": [filter]});
    }
    let count: CountRequest = serde_json::from_value(json!({"filter": filter})).unwrap();
    assert!(bad_input(all.count(count)));
    let mut prefetch = json!({"query": [1.0, 0.0]});
    for _ in 0..40 {
        prefetch = json!({"prefetch": prefetch});
    }
    assert!(bad_input(all.query(query(json!({"prefetch": prefetch, "query": [1.0, 0.0]})), &storage)));
    // Within the bounds, deep is fine.
    let ok_key = vec!["k"; 31].join(".");
    all.update(op(json!({"set_payload": {"payload": deep_object(20), "points": [1], "key": ok_key}})), true).unwrap();
    assert_eq!(all.count(CountRequest::default()).unwrap().count, 10);
    drop(all);
    drop(storage);
    let storage = reopen(&dir);
    assert_eq!(storage.collection("c").unwrap().count(CountRequest::default()).unwrap().count, 10);
}

// A record an older build logged before the bounds existed (a set_payload
// under a 200-step key) is set aside on replay, with everything else applied,
// instead of keeping the collection from opening.
#[test]
fn a_legacy_record_beyond_the_bounds_is_quarantined_on_replay() {
    let (dir, storage) = setup();
    drop(storage);
    let collections = dir.path().join("storage").join("collections");
    let collection_dir = std::fs::read_dir(&collections).unwrap().next().unwrap().unwrap().path();
    {
        // The background flusher may still hold the collection for a moment after the drop.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let wal = loop {
            match osprey_engine::wal::Wal::open(&collection_dir.join("wal"), Default::default()) {
                Ok(wal) => break wal,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("{e}"),
            }
        };
        let key = vec!["a"; 200].join(".");
        let legacy = json!({"Update": [{"set_payload": {"payload": {"x": 1}, "points": [1], "key": key}}]});
        wal.append(&serde_json::to_vec(&legacy).unwrap()).unwrap();
        let after = json!({"Update": [{"set_payload": {"payload": {"later": true}, "points": [3]}}]});
        let not_json = b"{\"Update\": [".to_vec();
        wal.append(&not_json).unwrap();
        wal.append(&serde_json::to_vec(&after).unwrap()).unwrap();
        wal.sync().unwrap();
    }
    let storage = reopen(&dir);
    let all = storage.collection("c").unwrap();
    assert_eq!(all.count(CountRequest::default()).unwrap().count, 10);
    assert_eq!(all.get_point(PointId::Num(1)).unwrap().payload.unwrap(), *json!({"tenant": "b", "n": 1}).as_object().unwrap());
    assert_eq!(all.get_point(PointId::Num(3)).unwrap().payload.unwrap()["later"], true);
    let quarantined: Vec<_> = std::fs::read_dir(collection_dir.join("quarantine")).unwrap().collect();
    assert_eq!(quarantined.len(), 2);
    // The state survives a checkpoint and another restart.
    all.checkpoint().unwrap();
    drop(all);
    drop(storage);
    let storage = reopen(&dir);
    assert_eq!(storage.collection("c").unwrap().get_point(PointId::Num(3)).unwrap().payload.unwrap()["later"], true);
}

// The deepest filter the bounds admit, logged inside a restricted delete,
// replays after a restart: an acknowledged write is never set aside for its
// depth (through `nested` it takes more JSON levels than serde's default 128).
#[test]
fn the_deepest_admitted_filter_replays_after_restart() {
    let (dir, storage) = setup();
    let view = storage.view("c", Some(&tenant_a())).unwrap();
    // 28 levels, 27 of them through `nested` (4 JSON levels each) ...
    let mut inner = json!({"must": [{"key": "x", "match": {"value": 1}}]});
    for _ in 1..28 {
        inner = json!({"must": [{"nested": {"key": "items", "filter": inner}}]});
    }
    // ... under three more (deep branch OR n == 2, so point 2 goes), and the
    // restriction wraps it once more: exactly the bound.
    let filter = json!({"must": [{"should": [{"key": "n", "match": {"value": 2}}, {"must": [inner]}]}]});
    view.update(op(json!({"delete": {"filter": filter}})), true).unwrap();
    let count = |s: &Storage| s.collection("c").unwrap().count(CountRequest { exact: Some(true), ..Default::default() }).unwrap().count;
    let before = count(&storage);
    assert_eq!(before, 9);
    drop(view);
    drop(storage);
    let storage = reopen(&dir);
    assert_eq!(count(&storage), before);
    let collection_dir = std::fs::read_dir(dir.path().join("storage").join("collections")).unwrap().next().unwrap().unwrap().path();
    assert!(!collection_dir.join("quarantine").exists());
}
