//! Writes survive reopening, through the log alone and through checkpoints;
//! failed writes leave no trace.

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::{CountRequest, ScrollRequest, SearchRequest};
use osprey_engine::{ChangeAliasesOperation, PointId, Storage, StorageConfig};
use serde_json::json;

fn open(dir: &std::path::Path) -> std::sync::Arc<Storage> {
    Storage::open(StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") })
        .expect("storage opens")
}

fn create(storage: &Storage, name: &str, body: serde_json::Value) {
    let request: CreateCollection = serde_json::from_value(body).unwrap();
    storage.create_collection(name, request).unwrap();
}

fn op(body: serde_json::Value) -> UpdateOperation {
    serde_json::from_value(body).unwrap()
}

fn upsert_points(n: u64) -> UpdateOperation {
    let points: Vec<_> = (0..n)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, 0.5, -1.0], "payload": {"n": i, "even": i % 2 == 0}}))
        .collect();
    op(json!({"upsert": {"points": points}}))
}

// An acknowledged write must be there after a restart even without a checkpoint (log replay).
#[test]
fn writes_survive_reopen_through_the_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = open(dir.path());
        create(&storage, "c", json!({"vectors": {"size": 4, "distance": "Dot"}}));
        let c = storage.collection("c").unwrap();
        c.update(upsert_points(100), true).unwrap();
        c.update(op(json!({"delete": {"points": [3, 4]}})), true).unwrap();
        c.update(op(json!({"set_payload": {"payload": {"tag": "x"}, "points": [5]}})), true).unwrap();
    }
    let storage = open(dir.path());
    let c = storage.collection("c").unwrap();
    assert_eq!(c.count(CountRequest::default()).unwrap().count, 98);
    let p = c.get_point(PointId::Num(5)).unwrap();
    assert_eq!(p.payload.unwrap()["tag"], json!("x"));
    assert!(c.get_point(PointId::Num(3)).is_err());
}

// A checkpoint plus the log after it must restore the same state, and the log it covers is not replayed twice.
#[test]
fn checkpoint_then_more_writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = open(dir.path());
        create(&storage, "c", json!({"vectors": {"size": 4, "distance": "Cosine"}}));
        let c = storage.collection("c").unwrap();
        c.update(upsert_points(50), true).unwrap();
        c.checkpoint().unwrap();
        c.update(op(json!({"delete": {"filter": {"must": [{"key": "even", "match": {"value": true}}]}}})), true)
            .unwrap();
    }
    let storage = open(dir.path());
    let c = storage.collection("c").unwrap();
    assert_eq!(c.count(CountRequest::default()).unwrap().count, 25);
    let all = c.scroll(ScrollRequest { limit: Some(100), ..Default::default() }).unwrap();
    assert!(all.points.iter().all(|r| r.payload.as_ref().unwrap()["even"] == json!(false)));
}

// A batch with one bad vector must change nothing (no half-applied write).
#[test]
fn invalid_batch_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    create(&storage, "c", json!({"vectors": {"size": 4, "distance": "Dot"}}));
    let c = storage.collection("c").unwrap();
    let bad = op(json!({"upsert": {"points": [
        {"id": 1, "vector": [1.0, 2.0, 3.0, 4.0]},
        {"id": 2, "vector": [1.0, 2.0, 3.0]}
    ]}}));
    let err = c.update(bad, true).unwrap_err().to_string();
    assert!(err.contains("expected dim: 4, got 3"), "{err}");
    assert_eq!(c.count(CountRequest::default()).unwrap().count, 0);
}

// Exact search ranks by the collection's distance and honours filters.
#[test]
fn search_ranks_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    create(&storage, "c", json!({"vectors": {"size": 4, "distance": "Euclid"}}));
    let c = storage.collection("c").unwrap();
    c.update(upsert_points(10), true).unwrap();
    let request: SearchRequest = serde_json::from_value(json!({
        "vector": [3.2, 1.0, 0.5, -1.0], "limit": 3,
        "filter": {"must_not": [{"key": "n", "match": {"value": 3}}]}
    }))
    .unwrap();
    let hits = c.search(request).unwrap();
    let ids: Vec<PointId> = hits.iter().map(|h| h.id).collect();
    assert_eq!(ids, vec![PointId::Num(4), PointId::Num(2), PointId::Num(5)]);
    assert!((hits[0].score - 0.8).abs() < 1e-5);
}

// Alias changes are atomic: a failing action in a request leaves every alias as it was.
#[test]
fn alias_changes_are_atomic_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = open(dir.path());
        create(&storage, "a", json!({"vectors": {"size": 4, "distance": "Dot"}}));
        let ok: ChangeAliasesOperation =
            serde_json::from_value(json!({"actions": [{"create_alias": {"collection_name": "a", "alias_name": "x"}}]}))
                .unwrap();
        storage.update_aliases(ok).unwrap();
        let failing: ChangeAliasesOperation = serde_json::from_value(json!({"actions": [
            {"delete_alias": {"alias_name": "x"}},
            {"create_alias": {"collection_name": "missing", "alias_name": "y"}}
        ]}))
        .unwrap();
        assert!(storage.update_aliases(failing).is_err());
    }
    let storage = open(dir.path());
    assert_eq!(storage.resolve("x").unwrap(), "a");
    assert!(storage.delete_collection("x").unwrap());
    assert!(storage.list_aliases().is_empty());
    assert!(storage.list_collections().is_empty());
}

// Names that would escape the storage directory are refused.
#[test]
fn dot_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    for name in [".", "..", "a/b", ""] {
        let request: CreateCollection = serde_json::from_value(json!({"vectors": {"size": 4, "distance": "Dot"}})).unwrap();
        assert!(storage.create_collection(name, request).is_err(), "{name:?} accepted");
    }
}

// A write costs what it adds, never a rewrite of the collection: vectors
// are appended once to their row file, and checkpoints (ids, versions,
// payloads and row numbers, no vectors) are each paid for by at least as
// much new log, so all checkpoints together write no more than the log did.
// Everything is there after reopening.
#[test]
fn checkpoints_grow_rarer_as_the_collection_grows() {
    let dir = tempfile::tempdir().unwrap();
    let batches = 80u64;
    let per_batch = 400u64;
    let mut checkpoints = std::collections::BTreeSet::new();
    {
        let storage = open(dir.path());
        // No index build: the optimizer would keep the collection open past the drop.
        let body = json!({"vectors": {"size": 128, "distance": "Dot"}, "wal_config": {"wal_capacity_mb": 1}, "optimizers_config": {"indexing_threshold": 0}});
        create(&storage, "c", body);
        let c = storage.collection("c").unwrap();
        let collection_dir = std::fs::read_dir(dir.path().join("storage/collections")).unwrap().next().unwrap().unwrap().path();
        let mut logged = 0usize;
        for b in 0..batches {
            let points: Vec<_> = (0..per_batch)
                .map(|i| {
                    let id = b * per_batch + i;
                    json!({"id": id, "vector": vec![(id % 97) as f32 * 0.125; 128], "payload": {"n": id}})
                })
                .collect();
            let body = json!({"upsert": {"points": points}});
            logged += body.to_string().len();
            c.update(op(body), true).unwrap();
            // The state only grows, so every checkpoint has a new size; a
            // batch logs far less than 1 MiB, so at most one happens per batch.
            if let Ok(meta) = std::fs::metadata(collection_dir.join("points.bin")) {
                checkpoints.insert(meta.len());
            }
        }
        let per_capacity = logged / (1024 * 1024);
        assert!(per_capacity >= 20, "the test must log enough: {logged} bytes");
        assert!(!checkpoints.is_empty());
        let checkpointed: u64 = checkpoints.iter().sum();
        assert!(checkpointed < logged as u64, "checkpoints wrote {checkpointed} bytes for {logged} bytes of log");
        // The rows are in one file, written once: its length is the raw
        // vectors plus the room it grew into (at most as much again).
        let raw = batches * per_batch * 128 * 4;
        let files: Vec<_> = std::fs::read_dir(collection_dir.join("vectors")).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "one row file");
        let len = files[0].metadata().unwrap().len();
        assert!(len >= raw && len <= 2 * raw + 64, "row file of {len} bytes for {raw} bytes of vectors");
    }
    let storage = open(dir.path());
    let c = storage.collection("c").unwrap();
    assert_eq!(c.count(CountRequest::default()).unwrap().count, batches * per_batch);
    let last = c.get_point(PointId::Num(batches * per_batch - 1)).unwrap();
    assert_eq!(last.payload.unwrap()["n"], json!(batches * per_batch - 1));
}
