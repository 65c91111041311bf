//! The HNSW index as a user meets it: the optimizer builds it in the
//! background, searches through it find what an exact scan finds (or nearly
//! all of it), filters stay correct, and the graph survives a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::{CreateFieldIndex, UpdateOperation};
use osprey_engine::requests::SearchRequest;
use osprey_engine::{Collection, PointId, Storage, StorageConfig};
use serde_json::{Value, json};

const DIM: usize = 32;
const POINTS: u64 = 4000;

fn open(dir: &std::path::Path) -> Arc<Storage> {
    Storage::open(StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") })
        .expect("storage opens")
}

/// A small deterministic generator (xorshift), so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// Points around 40 cluster centres, varying along 8 hidden directions: real
/// embeddings cluster, and their spread has far fewer dimensions than they do.
/// Centres and directions depend on nothing but the constant seed, so the
/// `seed` argument only picks the points (queries come from the same clusters).
fn dataset(seed: u64, n: u64) -> Vec<Vec<f32>> {
    let mut shape = Rng(0x9e37_79b9_7f4a_7c15);
    let centres: Vec<Vec<f32>> = (0..40).map(|_| (0..DIM).map(|_| shape.next() * 4.0).collect()).collect();
    let directions: Vec<Vec<f32>> = (0..8).map(|_| (0..DIM).map(|_| shape.next()).collect()).collect();
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    (0..n)
        .map(|i| {
            let mut v = centres[(i % 40) as usize].clone();
            for d in &directions {
                let z = rng.next() * 2.0;
                v.iter_mut().zip(d).for_each(|(x, y)| *x += z * y);
            }
            v
        })
        .collect()
}

/// A collection that indexes past 512 vectors and scans exactly below 128
/// (both thresholds are in kilobytes of vectors, as in Qdrant).
fn new_collection(storage: &Storage, name: &str) -> Arc<Collection> {
    let request: CreateCollection = serde_json::from_value(json!({
        "vectors": {"size": DIM, "distance": "Cosine"},
        "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 16},
        "optimizers_config": {"indexing_threshold": 64}
    }))
    .unwrap();
    storage.create_collection(name, request).unwrap();
    storage.collection(name).unwrap()
}

fn upsert(c: &Collection, vectors: &[Vec<f32>], first_id: u64) {
    for (chunk_no, chunk) in vectors.chunks(500).enumerate() {
        let points: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let id = first_id + (chunk_no * 500 + i) as u64;
                json!({"id": id, "vector": v, "payload": {"group": format!("g{}", id % 10), "rare": id % 200 == 0, "n": id}})
            })
            .collect();
        let op: UpdateOperation = serde_json::from_value(json!({"upsert": {"points": points}})).unwrap();
        c.update(op, true).unwrap();
    }
}

fn wait_until_indexed(c: &Collection, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = c.info();
        if info.status == "green" && info.indexed_vectors_count == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "index not built in time: status {}, indexed {} of {expected}",
            info.status,
            info.indexed_vectors_count
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn search(c: &Collection, query: &[f32], filter: Option<Value>, exact: bool, limit: usize) -> Vec<PointId> {
    let mut body = json!({"vector": query, "limit": limit, "params": {"exact": exact}});
    if let Some(f) = filter {
        body["filter"] = f;
    }
    let request: SearchRequest = serde_json::from_value(body).unwrap();
    c.search(request).unwrap().into_iter().map(|p| p.id).collect()
}

/// Share of the exact top-k that the indexed search found, over all queries.
fn recall(c: &Collection, queries: &[Vec<f32>], filter: Option<Value>) -> f64 {
    let (mut found, mut wanted) = (0usize, 0usize);
    for q in queries {
        let truth = search(c, q, filter.clone(), true, 10);
        let got = search(c, q, filter.clone(), false, 10);
        wanted += truth.len();
        found += truth.iter().filter(|id| got.contains(id)).count();
    }
    found as f64 / wanted.max(1) as f64
}

fn create_index(c: &Collection, field: &str, schema: &str) {
    let request = CreateFieldIndex { field_name: field.into(), field_schema: Some(serde_json::from_value(json!(schema)).unwrap()) };
    c.create_field_index(request, true).unwrap();
}

#[test]
fn optimizer_builds_an_index_whose_recall_matches_the_exact_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let c = new_collection(&storage, "recall");
    upsert(&c, &dataset(7, POINTS), 0);
    wait_until_indexed(&c, POINTS);
    let queries = dataset(99, 60);
    let r = recall(&c, &queries, None);
    assert!(r >= 0.95, "recall@10 {r} below 0.95");
    // An exact query for a stored vector finds that point first.
    let stored = dataset(7, POINTS);
    assert_eq!(search(&c, &stored[1234], None, false, 1), vec![PointId::Num(1234)]);
}

#[test]
fn filtered_search_is_exact_for_selective_filters_and_close_for_broad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let c = new_collection(&storage, "filtered");
    create_index(&c, "group", "keyword");
    create_index(&c, "rare", "bool");
    upsert(&c, &dataset(11, POINTS), 0);
    wait_until_indexed(&c, POINTS);
    let queries = dataset(12, 40);
    // 20 matching points: below full_scan_threshold, so scored exactly.
    let rare = json!({"must": [{"key": "rare", "match": {"value": true}}]});
    for q in &queries {
        assert_eq!(search(&c, q, Some(rare.clone()), false, 10), search(&c, q, Some(rare.clone()), true, 10));
    }
    // Selective and unindexed (`n` has no index): the sample sends it to the exact path.
    let few = json!({"must": [{"key": "n", "range": {"lt": 30}}]});
    for q in &queries {
        assert_eq!(search(&c, q, Some(few.clone()), false, 10), search(&c, q, Some(few.clone()), true, 10));
    }
    // 10 % of the points through the graph, with the index's keyword postings.
    let group = json!({"must": [{"key": "group", "match": {"value": "g3"}}]});
    let r = recall(&c, &queries, Some(group.clone()));
    assert!(r >= 0.95, "recall@10 with a 10 % keyword filter: {r}");
    for q in &queries {
        for id in search(&c, q, Some(group.clone()), false, 10) {
            let PointId::Num(n) = id else { panic!("numeric ids only") };
            assert_eq!(n % 10, 3, "point {n} does not match the filter");
        }
    }
    // Broad and unindexed: half the points.
    let half = json!({"must": [{"key": "n", "range": {"gte": 2000}}]});
    let r = recall(&c, &queries, Some(half));
    assert!(r >= 0.95, "recall@10 with an unindexed 50 % filter: {r}");
}

#[test]
fn the_graph_survives_a_restart_without_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dataset(5, 30);
    let before: Vec<Vec<PointId>> = {
        let storage = open(dir.path());
        let c = new_collection(&storage, "durable");
        upsert(&c, &dataset(3, POINTS), 0);
        wait_until_indexed(&c, POINTS);
        // Writes after the build reach the log only: on reopen they are replayed
        // on top of the saved graph.
        let op: UpdateOperation = serde_json::from_value(json!({"delete": {"points": [1, 2, 3]}})).unwrap();
        c.update(op, true).unwrap();
        queries.iter().map(|q| search(&c, q, None, false, 10)).collect()
    };
    std::thread::sleep(Duration::from_millis(300));
    let storage = open(dir.path());
    let c = storage.collection("durable").unwrap();
    let info = c.info();
    // The saved graph is attached at open: no build was needed to get here.
    assert_eq!(info.indexed_vectors_count, POINTS - 3);
    assert_eq!(info.points_count, POINTS - 3);
    let after: Vec<Vec<PointId>> = queries.iter().map(|q| search(&c, q, None, false, 10)).collect();
    assert_eq!(before, after);
    for ids in &after {
        assert!(!ids.iter().any(|id| matches!(id, PointId::Num(1..=3))), "a deleted point came back");
    }
}

#[test]
fn searches_stay_correct_while_the_optimizer_works_and_writes_continue() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let c = new_collection(&storage, "busy");
    let data = dataset(21, POINTS);
    let fresh = dataset(77, 40);
    upsert(&c, &data[..1000], 0);
    wait_until_indexed(&c, 1000);
    // Write the rest in small batches, delete some, and after each write check
    // that the newest point is found by its own vector and deleted ones never are.
    for (batch_no, batch) in data[1000..].chunks(100).enumerate() {
        let first = 1000 + (batch_no * 100) as u64;
        upsert(&c, batch, first);
        let victim = first - 500;
        let op: UpdateOperation = serde_json::from_value(json!({"delete": {"points": [victim]}})).unwrap();
        c.update(op, true).unwrap();
        let newest = first + batch.len() as u64 - 1;
        let found = search(&c, &data[newest as usize], None, false, 1);
        assert_eq!(found, vec![PointId::Num(newest)], "newest point {newest} not found first");
        let found = search(&c, &data[victim as usize], None, false, 10);
        assert!(!found.contains(&PointId::Num(victim)), "deleted point {victim} found");
        // Changing a vector moves the point: the old vector no longer finds it first.
        let moved = first + 1;
        let target = &fresh[batch_no];
        let op: UpdateOperation =
            serde_json::from_value(json!({"update_vectors": {"points": [{"id": moved, "vector": target}]}})).unwrap();
        c.update(op, true).unwrap();
        let found = search(&c, &data[moved as usize], None, false, 3);
        assert!(!found.contains(&PointId::Num(moved)), "point {moved} still found at its old vector");
        let found = search(&c, target, None, false, 1);
        assert_eq!(found, vec![PointId::Num(moved)], "point {moved} not found at its new vector");
    }
    let live = POINTS - 30;
    wait_until_indexed(&c, live);
    let r = recall(&c, &dataset(22, 40), None);
    assert!(r >= 0.95, "recall@10 after concurrent writes: {r}");
}
