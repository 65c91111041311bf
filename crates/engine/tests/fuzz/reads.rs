//! Random decoded read requests against live collections.
//!
//! What the decoders accept goes on to the engine; each request is run
//! through a `CollectionView`, the front ends' entry point, sometimes with a
//! payload restriction. Property: every read answers or refuses, never
//! panics, on collections with payload indexes and a built vector index.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::{CreateFieldIndex, UpdateOperation};
use osprey_engine::requests::{
    CountRequest, DiscoverRequest, FacetRequest, PointRequest, QueryGroupsRequest, QueryRequest,
    RecommendGroupsRequest, RecommendRequest, ScrollRequest, SearchGroupsRequest, SearchMatrixRequest,
    SearchRequest,
};
use osprey_engine::{CollectionView, Payload, Storage, StorageConfig};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::json::{self, MAX_DEPTH, S};

const COLLECTIONS: [&str; 2] = ["unnamed", "named"];

fn open(root: &Path) -> Arc<Storage> {
    Storage::open(StorageConfig { storage_path: root.join("storage"), snapshots_path: root.join("snapshots") })
        .expect("storage opens")
}

/// Two collections, one with a single unnamed vector and a built vector
/// index, one with named dense, multi and sparse vectors; payload indexes of
/// every kind on both.
fn setup(storage: &Storage) {
    let configs = [
        json!({"vectors": {"size": 4, "distance": "Cosine"}, "optimizers_config": {"indexing_threshold": 1}}),
        json!({
            "vectors": {
                "dense": {"size": 4, "distance": "Dot"},
                "v": {"size": 2, "distance": "Euclid"},
                "multi": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}},
            },
            "sparse_vectors": {"sparse": {"modifier": "idf"}},
        }),
    ];
    for (name, config) in COLLECTIONS.into_iter().zip(configs) {
        let request: CreateCollection = serde_json::from_value(config).expect("create request decodes");
        storage.create_collection(name, request).expect("collection is created");
        let c = storage.collection(name).expect("collection exists");
        for (field, schema) in [
            ("a", json!("integer")),
            ("b", json!("keyword")),
            ("c", json!({"type": "text", "tokenizer": "word", "lowercase": true})),
            ("geo", json!("geo")),
            ("d", json!("datetime")),
            ("n", json!("float")),
            ("x", json!("bool")),
            ("tags", json!("keyword")),
            ("a.b", json!("uuid")),
        ] {
            let index: CreateFieldIndex = serde_json::from_value(json!({"field_name": field, "field_schema": schema}))
                .expect("index request decodes");
            c.create_field_index(index, true).expect("payload index");
        }
    }
    let payload = |i: u64| {
        let text = ["hello world", "x y"][i as usize % 2];
        let tags = &["a", "b", "c"][..(i % 4) as usize];
        json!({
            "a": i % 10, "b": format!("x{}", i % 3), "c": text,
            "geo": {"lon": (i % 360) as f64 / 2.0 - 90.0, "lat": (i % 180) as f64 / 2.0 - 45.0},
            "d": format!("2023-01-{:02}T00:00:00Z", 1 + i % 28), "n": i as f64 / 4.0, "x": i % 2 == 0,
            "tags": tags, "nested": [{"a": i % 3, "b": "x"}, {"a": 1}],
        })
    };
    let unnamed: Vec<Value> = (0..200u64)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, (i % 7) as f32, -1.0], "payload": payload(i)}))
        .collect();
    let named: Vec<Value> = (0..40u64)
        .map(|i| {
            json!({"id": i, "payload": payload(i), "vector": {
                "dense": [1.0, 0.0, i as f32, 0.5], "v": [1.0, i as f32],
                "multi": [[1.0, i as f32], [0.5, 0.5]],
                "sparse": {"indices": [i as u32 % 8, 9], "values": [1.0, 0.5]},
            }})
        })
        .collect();
    for (name, points) in COLLECTIONS.into_iter().zip([unnamed, named]) {
        let op: UpdateOperation =
            serde_json::from_value(json!({"upsert": {"points": points}})).expect("seed upsert decodes");
        storage.collection(name).expect("collection exists").update(op, true).expect("seed upsert");
    }
    // Searches should also go through a built graph.
    let c = storage.collection("unnamed").expect("collection exists");
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.info().indexed_vectors_count == 0 || c.info().status != "green" {
        assert!(Instant::now() < deadline, "the vector index was not built in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Decodes `body` as `T` and, when it decodes, runs it.
fn run_as<T: DeserializeOwned, R>(body: &Value, run: impl FnOnce(T) -> R) {
    if let Ok(request) = serde_json::from_value::<T>(body.clone()) {
        let _ = run(request);
    }
}

fn read(view: &CollectionView, storage: &Storage, kind: usize, body: &Value) {
    match kind {
        0 => run_as(body, |r: SearchRequest| view.search(r)),
        1 => run_as(body, |r: QueryRequest| view.query(r, storage)),
        2 => run_as(body, |r: ScrollRequest| view.scroll(r)),
        3 => run_as(body, |r: CountRequest| view.count(r)),
        4 => run_as(body, |r: RecommendRequest| view.recommend(r, storage)),
        5 => run_as(body, |r: DiscoverRequest| view.discover(r, storage)),
        6 => run_as(body, |r: FacetRequest| view.facet(r)),
        7 => run_as(body, |r: QueryGroupsRequest| view.query_groups(r, storage)),
        8 => run_as(body, |r: SearchGroupsRequest| view.search_groups(r, storage)),
        9 => run_as(body, |r: RecommendGroupsRequest| view.recommend_groups(r, storage)),
        10 => run_as(body, |r: PointRequest| view.retrieve(r)),
        _ => run_as(body, |r: SearchMatrixRequest| {
            let _ = view.search_matrix_pairs(r.clone());
            view.search_matrix_offsets(r)
        }),
    }
}

/// A request body of the kind with the same index in [`read`].
fn body(kind: usize) -> S {
    let good = match kind {
        0 => json::search_request(),
        1 => json::query_request(),
        2 => json::scroll_request(),
        3 => json::count_request(),
        4 => json::recommend_request(),
        5 => json::discover_request(),
        6 => json::facet_request(),
        7 => json::query_groups_request(),
        8 => json::search_groups_request(),
        9 => json::recommend_groups_request(),
        10 => json::point_request(),
        _ => json::search_matrix_request(),
    };
    prop_oneof![3 => good.clone(), 1 => json::mutated(good)].boxed()
}

fn restriction() -> BoxedStrategy<Option<Payload>> {
    let value = prop_oneof![
        3 => prop::sample::select(vec![json!("x1"), json!(1), json!(true), json!("a")]),
        1 => json::scalar(),
    ];
    proptest::option::weighted(0.25, proptest::collection::vec((json::key_path(), value), 1..3))
        .prop_map(|pairs| pairs.map(|p| p.into_iter().collect()))
        .boxed()
}

/// The storage is built once for all cases, so this runs its own proptest
/// loop instead of using `proptest!`.
#[test]
fn random_reads_never_panic() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let storage = open(dir.path());
    setup(&storage);
    let cases = (0..12usize).prop_flat_map(|kind| (Just(kind), body(kind), 0..COLLECTIONS.len(), restriction()));
    let mut runner = TestRunner::new(crate::config(768));
    let result = runner.run(&cases, |(kind, body, collection, restriction)| {
        prop_assume!(json::depth(&body) <= MAX_DEPTH);
        let Ok(view) = storage.view(COLLECTIONS[collection], restriction.as_ref()) else { return Ok(()) };
        read(&view, &storage, kind, &body);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
