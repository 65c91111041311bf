//! `datatype: uint8` and `float16` as a user sees them: stored values are
//! what the type holds (and what a read returns), scores are computed on
//! them, the HNSW graph over them finds what an exact scan finds, and all of
//! it survives a checkpoint and a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::{PointRequest, SearchRequest};
use osprey_engine::{Collection, PointId, Storage, StorageConfig};
use serde_json::{Value, json};

fn open(dir: &std::path::Path) -> Arc<Storage> {
    Storage::open(StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") })
        .expect("storage opens")
}

fn create(storage: &Storage, name: &str, vectors: Value) -> Arc<Collection> {
    let request: CreateCollection = serde_json::from_value(json!({
        "vectors": vectors,
        "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10},
        "optimizers_config": {"indexing_threshold": 20}
    }))
    .unwrap();
    storage.create_collection(name, request).unwrap();
    storage.collection(name).unwrap()
}

fn upsert(c: &Collection, points: Value) {
    let op: UpdateOperation = serde_json::from_value(json!({"upsert": {"points": points}})).unwrap();
    c.update(op, true).unwrap();
}

fn vector_of(c: &Collection, id: u64) -> Value {
    let request: PointRequest = serde_json::from_value(json!({"ids": [id], "with_vector": true})).unwrap();
    let records = c.retrieve(request).unwrap();
    serde_json::to_value(&records[0]).unwrap()["vector"].clone()
}

fn search(c: &Collection, query: &[f32], exact: bool) -> Vec<(PointId, f32)> {
    let request: SearchRequest =
        serde_json::from_value(json!({"vector": query, "limit": 10, "params": {"exact": exact}})).unwrap();
    c.search(request).unwrap().into_iter().map(|p| (p.id, p.score)).collect()
}

fn wait_green(c: &Collection) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.info().status != "green" || c.info().indexed_vectors_count == 0 {
        assert!(Instant::now() < deadline, "index not built in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deterministic byte-range vectors.
fn bytes_dataset(n: u64, dim: usize) -> Vec<Vec<f32>> {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|_| {
            (0..dim)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 256) as f32
                })
                .collect()
        })
        .collect()
}

fn recall(c: &Collection, queries: &[Vec<f32>]) -> f64 {
    let (mut found, mut wanted) = (0, 0);
    for q in queries {
        let truth: Vec<PointId> = search(c, q, true).into_iter().map(|h| h.0).collect();
        let got: Vec<PointId> = search(c, q, false).into_iter().map(|h| h.0).collect();
        wanted += truth.len();
        found += truth.iter().filter(|id| got.contains(id)).count();
    }
    found as f64 / wanted.max(1) as f64
}

#[test]
fn uint8_vectors_hold_bytes_and_score_on_them_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 16;
    let data = bytes_dataset(600, dim);
    let queries = bytes_dataset(20, dim);
    let before = {
        let storage = open(dir.path());
        let c = create(&storage, "bytes", json!({"size": 4, "distance": "Dot", "datatype": "uint8"}));
        upsert(&c, json!([{"id": 1, "vector": [1.9, 300.0, -2.0, 7.0]}, {"id": 2, "vector": [2, 2, 2, 2]}]));
        // Qdrant casts: fraction dropped, saturated at 0 and 255.
        assert_eq!(vector_of(&c, 1), json!([1.0, 255.0, 0.0, 7.0]));
        // The query is cast too (0.5 -> 0), and the score is the integer dot product.
        let hits = search(&c, &[1.0, 1.0, 0.5, 1.0], true);
        assert_eq!(hits[0], (PointId::Num(1), 263.0));
        assert_eq!(hits[1], (PointId::Num(2), 6.0));

        let c = create(&storage, "indexed", json!({"size": dim, "distance": "Euclid", "datatype": "uint8"}));
        let points: Vec<Value> =
            data.iter().enumerate().map(|(i, v)| json!({"id": i, "vector": v})).collect();
        upsert(&c, json!(points));
        wait_green(&c);
        let r = recall(&c, &queries);
        assert!(r >= 0.9, "uint8 graph recall {r}");
        c.checkpoint().unwrap();
        queries.iter().map(|q| search(&c, q, false)).collect::<Vec<_>>()
    };
    let storage = open(dir.path());
    assert_eq!(vector_of(&storage.collection("bytes").unwrap(), 1), json!([1.0, 255.0, 0.0, 7.0]));
    let c = storage.collection("indexed").unwrap();
    let after: Vec<_> = queries.iter().map(|q| search(&c, q, false)).collect();
    assert_eq!(before, after, "the same answers after a restart");
}

#[test]
fn float16_vectors_keep_half_precision_and_find_their_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let c = create(&storage, "half", json!({"size": 3, "distance": "Dot", "datatype": "float16"}));
    upsert(&c, json!([{"id": 7, "vector": [0.1, 1.0, 65504.0]}]));
    let stored: Vec<f32> = serde_json::from_value(vector_of(&c, 7)).unwrap();
    assert_eq!(stored[1], 1.0);
    assert_eq!(stored[2], 65504.0);
    assert!(stored[0] != 0.1 && (stored[0] - 0.1).abs() < 1e-4, "0.1 is rounded to the nearest half: {}", stored[0]);

    let dim = 24;
    let c = create(&storage, "cosine", json!({"size": dim, "distance": "Cosine", "datatype": "float16"}));
    let data = bytes_dataset(600, dim);
    let points: Vec<Value> = data.iter().enumerate().map(|(i, v)| json!({"id": i, "vector": v})).collect();
    upsert(&c, json!(points));
    // Cosine vectors are normalised before they are rounded: a point scores
    // about 1 against its own vector.
    let hits = search(&c, &data[5], true);
    assert_eq!(hits[0].0, PointId::Num(5));
    assert!((hits[0].1 - 1.0).abs() < 2e-3, "self score {}", hits[0].1);
    wait_green(&c);
    let r = recall(&c, &bytes_dataset(20, dim));
    assert!(r >= 0.9, "float16 graph recall {r}");
}
