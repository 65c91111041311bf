//! Quantization as a user meets it: set at creation or with PATCH, the
//! optimizer makes the codes next to the graph, searches walk with them and
//! rescore with the originals, and `params.quantization` (`ignore`,
//! `rescore`, `oversampling`) changes what a search does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprey_engine::config::{CreateCollection, UpdateCollection};
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::SearchRequest;
use osprey_engine::{Collection, PointId, Storage, StorageConfig};
use serde_json::{Value, json};

const DIM: usize = 48;
const POINTS: usize = 3000;

fn open(dir: &std::path::Path) -> Arc<Storage> {
    Storage::open(StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") })
        .expect("storage opens")
}

/// 300 groups of 10 points around random centres; a query falls in a group.
fn dataset(n: usize, seed: u64) -> Vec<Vec<f32>> {
    fn stream(seed: u64) -> impl FnMut() -> f32 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }
    }
    let mut shape = stream(0x9e37_79b9_7f4a_7c15);
    let centres: Vec<Vec<f32>> = (0..300).map(|_| (0..DIM).map(|_| shape() * 4.0).collect()).collect();
    let mut noise = stream(seed);
    (0..n).map(|i| centres[i % 300].iter().map(|c| c + noise() * 0.8).collect()).collect()
}

fn create(storage: &Storage, name: &str, quantization: Value) -> Arc<Collection> {
    let request: CreateCollection = serde_json::from_value(json!({
        "vectors": {"size": DIM, "distance": "Cosine"},
        "hnsw_config": {"m": 16, "ef_construct": 64, "full_scan_threshold": 10},
        "optimizers_config": {"indexing_threshold": 100},
        "quantization_config": quantization
    }))
    .unwrap();
    storage.create_collection(name, request).unwrap();
    let c = storage.collection(name).unwrap();
    for (n, chunk) in dataset(POINTS, 5).chunks(500).enumerate() {
        let points: Vec<Value> =
            chunk.iter().enumerate().map(|(i, v)| json!({"id": n * 500 + i, "vector": v})).collect();
        let op: UpdateOperation = serde_json::from_value(json!({"upsert": {"points": points}})).unwrap();
        c.update(op, true).unwrap();
    }
    c
}

fn wait_green(c: &Collection) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = c.info();
        if info.status == "green" && info.indexed_vectors_count == POINTS as u64 {
            return;
        }
        assert!(Instant::now() < deadline, "optimizer did not finish: {} {}", info.status, info.indexed_vectors_count);
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn search(c: &Collection, query: &[f32], params: Value) -> Vec<(PointId, f32)> {
    let request: SearchRequest =
        serde_json::from_value(json!({"vector": query, "limit": 10, "params": params})).unwrap();
    c.search(request).unwrap().into_iter().map(|p| (p.id, p.score)).collect()
}

fn recall(c: &Collection, params: Value) -> f64 {
    let (mut found, mut wanted) = (0, 0);
    for q in dataset(40, 77) {
        let truth = search(c, &q, json!({"exact": true}));
        let got = search(c, &q, params.clone());
        wanted += truth.len();
        found += truth.iter().filter(|(id, _)| got.iter().any(|(g, _)| g == id)).count();
    }
    found as f64 / wanted.max(1) as f64
}

/// The exact score of each hit, from an exact search over all points.
fn exact_scores(c: &Collection, query: &[f32]) -> std::collections::HashMap<PointId, f32> {
    let request: SearchRequest =
        serde_json::from_value(json!({"vector": query, "limit": POINTS, "params": {"exact": true}})).unwrap();
    c.search(request).unwrap().into_iter().map(|p| (p.id, p.score)).collect()
}

#[test]
fn every_method_searches_through_its_codes_and_rescoring_restores_exact_scores() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let methods = [
        ("scalar", json!({"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}})),
        ("binary", json!({"binary": {"encoding": "two_bits", "query_encoding": "scalar8bits"}})),
        ("product", json!({"product": {"compression": "x8"}})),
        ("turbo", json!({"turbo": {"bits": "bits2"}})),
    ];
    for (name, config) in methods {
        let c = create(&storage, name, config);
        wait_green(&c);
        let r = recall(&c, json!({"quantization": {"rescore": true, "oversampling": 3.0}}));
        assert!(r >= 0.9, "{name}: recall {r} with rescoring");
        let query = &dataset(1, 123)[0];
        let exact = exact_scores(&c, query);
        // Rescored answers carry the exact score of each point.
        for (id, score) in search(&c, query, json!({"quantization": {"oversampling": 2}})) {
            assert_eq!(score, exact[&id], "{name}: rescored score of {id:?}");
        }
        // Without rescoring, the scores are the codes' approximations.
        let approx = search(&c, query, json!({"quantization": {"rescore": false}}));
        assert_eq!(approx.len(), 10);
        assert!(approx.iter().any(|(id, s)| *s != exact[id]), "{name}: rescore false still gave exact scores");
        // `ignore` walks the graph with the originals.
        for (id, score) in search(&c, query, json!({"quantization": {"ignore": true, "rescore": false}})) {
            assert_eq!(score, exact[&id], "{name}: ignored quantization, score of {id:?}");
        }
    }
}

#[test]
fn quantization_set_by_patch_and_kept_over_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let query = dataset(1, 9).remove(0);
    {
        let storage = open(dir.path());
        let c = create(&storage, "later", Value::Null);
        wait_green(&c);
        let exact = exact_scores(&c, &query);
        let plain = search(&c, &query, json!({"quantization": {"rescore": false}}));
        assert!(plain.iter().all(|(id, s)| *s == exact[id]), "no codes yet: every score exact");

        let patch: UpdateCollection =
            serde_json::from_value(json!({"quantization_config": {"binary": {"encoding": "one_bit"}}})).unwrap();
        storage.update_collection("later", patch).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while search(&c, &query, json!({"quantization": {"rescore": false}})).iter().all(|(id, s)| *s == exact[id]) {
            assert!(Instant::now() < deadline, "PATCH did not bring binary codes into use");
            std::thread::sleep(Duration::from_millis(50));
        }
        wait_green(&c);
        c.checkpoint().unwrap();
    }
    let storage = open(dir.path());
    let c = storage.collection("later").unwrap();
    // The codes were saved with the graph: nothing to rebuild after the restart.
    assert_eq!(c.info().status, "green", "codes are loaded, not rebuilt");
    let exact = exact_scores(&c, &query);
    let approx = search(&c, &query, json!({"quantization": {"rescore": false}}));
    assert!(approx.iter().any(|(id, s)| *s != exact[id]), "codes are in use again after the restart");
    assert!(recall(&c, json!({"quantization": {"oversampling": 4}})) >= 0.9);

    let disable: UpdateCollection = serde_json::from_value(json!({"quantization_config": "Disabled"})).unwrap();
    storage.update_collection("later", disable).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while search(&c, &query, json!({"quantization": {"rescore": false}})).iter().any(|(id, s)| *s != exact[id]) {
        assert!(Instant::now() < deadline, "Disabled did not drop the codes");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_quantization_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let request: CreateCollection = serde_json::from_value(json!({
        "vectors": {"size": 4, "distance": "Dot"},
        "quantization_config": {"scalar": {"type": "int4"}}
    }))
    .unwrap();
    let error = storage.create_collection("bad", request).unwrap_err().to_string();
    assert!(error.contains("int4"), "{error}");

    let request: CreateCollection =
        serde_json::from_value(json!({"vectors": {"size": 4, "distance": "Dot"}})).unwrap();
    storage.create_collection("good", request).unwrap();
    let patch: UpdateCollection =
        serde_json::from_value(json!({"quantization_config": {"product": {"compression": "x5"}}})).unwrap();
    assert!(storage.update_collection("good", patch).is_err());
    let c = storage.collection("good").unwrap();
    let request: SearchRequest = serde_json::from_value(
        json!({"vector": [1.0, 0.0, 0.0, 0.0], "limit": 3, "params": {"quantization": {"oversampling": 0.5}}}),
    )
    .unwrap();
    assert!(c.search(request).is_err(), "oversampling below 1 is refused");
}
