//! Custom sharding inside the engine: searches through the HNSW index with
//! a shard key selector return the selected keys' points only, as many as
//! asked for, for a small tenant beside a large one; deleting a key deletes
//! its points; keys and tags survive a restart (log replay and checkpoint).

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::{CountRequest, SearchRequest};
use osprey_engine::{Collection, CreateShardKey, PointId, Storage, StorageConfig};
use serde_json::{Value, json};

const DIM: usize = 16;

fn open(dir: &std::path::Path) -> Arc<Storage> {
    Storage::open(StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") })
        .expect("storage opens")
}

/// A pseudo-random vector per id (xorshift), so that no two points are equal.
fn vector(i: usize) -> Vec<f32> {
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn key(k: Value) -> CreateShardKey {
    serde_json::from_value(json!({"shard_key": k})).unwrap()
}

fn upsert(c: &Collection, ids: std::ops::Range<usize>, shard: Value) {
    let points: Vec<Value> = ids.map(|i| json!({"id": i, "vector": vector(i)})).collect();
    let op: UpdateOperation = serde_json::from_value(json!({"upsert": {"points": points, "shard_key": shard}})).unwrap();
    c.update(op, true).unwrap();
}

/// Reads go through a view, as the front ends call them: the view turns
/// the selector into the condition on the points' keys.
fn search(s: &Storage, shard: Value, limit: usize) -> Vec<PointId> {
    let request: SearchRequest =
        serde_json::from_value(json!({"vector": vector(7), "limit": limit, "shard_key": shard})).unwrap();
    s.view("t", None).unwrap().search(request).unwrap().into_iter().map(|p| p.id).collect()
}

fn count(s: &Storage, shard: Value) -> u64 {
    let request: CountRequest = serde_json::from_value(json!({"exact": true, "shard_key": shard})).unwrap();
    s.view("t", None).unwrap().count(request).unwrap().count as u64
}

fn ids(range: std::ops::Range<usize>) -> Vec<PointId> {
    range.map(|i| PointId::Num(i as u64)).collect()
}

#[test]
fn indexed_search_keeps_to_the_selected_keys_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = open(dir.path());
        let request: CreateCollection = serde_json::from_value(json!({
            "vectors": {"size": DIM, "distance": "Euclid"},
            "sharding_method": "custom",
            "hnsw_config": {"m": 8, "ef_construct": 32, "full_scan_threshold": 1},
            "optimizers_config": {"indexing_threshold": 10}
        }))
        .unwrap();
        storage.create_collection("t", request).unwrap();
        let c = storage.collection("t").unwrap();
        c.create_shard_key(key(json!("big")), 1, true).unwrap();
        c.create_shard_key(key(json!(9)), 1, true).unwrap();
        upsert(&c, 0..2000, json!("big"));
        upsert(&c, 2000..2030, json!(9));
        let deadline = Instant::now() + Duration::from_secs(120);
        while c.info().indexed_vectors_count < 2030 {
            assert!(Instant::now() < deadline, "index not built");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The small tenant: exactly its own 30 points, nearest first.
        assert_eq!(count(&storage, json!(9)), 30);
        let small = search(&storage, json!(9), 50);
        assert_eq!(small.len(), 30);
        assert!(small.iter().all(|id| ids(2000..2030).contains(id)), "{small:?}");
        let big = search(&storage, json!("big"), 20);
        assert_eq!(big.len(), 20);
        assert!(big.iter().all(|id| ids(0..2000).contains(id)));
        assert_eq!(search(&storage, json!(null), 2100).len(), 2030);
        // A write under key 9 of an id held by "big" moves it.
        upsert(&c, 5..6, json!(9));
        assert_eq!((count(&storage, json!("big")), count(&storage, json!(9))), (1999, 31));
    }
    {
        let storage = open(dir.path());
        let c = storage.collection("t").unwrap();
        assert_eq!((count(&storage, json!("big")), count(&storage, json!(9)), count(&storage, json!(null))), (1999, 31, 2030));
        c.delete_shard_key(&json!(9), true).unwrap();
        assert_eq!(count(&storage, json!(null)), 1999);
        assert_eq!(c.shard_keys().unwrap().len(), 1);
        let view = storage.view("t", None).unwrap();
        let err = view.count(serde_json::from_value(json!({"shard_key": 9})).unwrap()).unwrap_err().to_string();
        assert_eq!(err, "Bad request: Shard key 9 not found");
        c.checkpoint().unwrap();
    }
    let storage = open(dir.path());
    let c = storage.collection("t").unwrap();
    assert_eq!(count(&storage, json!("big")), 1999);
    c.create_shard_key(key(json!(9)), 1, true).unwrap();
    assert_eq!(count(&storage, json!(9)), 0, "a re-created key starts empty");
}
