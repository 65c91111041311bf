//! A key bound to payload values sees and touches only its own points
//! (spec/auth.md §15), whatever read or write it tries.

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::{CountRequest, PointRequest, QueryRequest, ScrollRequest, SearchRequest};
use osprey_engine::{EngineError, Payload, PointId, Storage, StorageConfig};
use serde_json::json;

fn setup() -> (tempfile::TempDir, std::sync::Arc<Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(StorageConfig {
        storage_path: dir.path().join("storage"),
        snapshots_path: dir.path().join("snapshots"),
    })
    .unwrap();
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
