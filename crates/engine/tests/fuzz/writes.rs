//! Random decoded writes against live collections, then a restart.
//!
//! The decoders accept more than the write path does; what the write path
//! accepts is logged as JSON and replayed on the next start, or written into a
//! checkpoint. Properties:
//! - applying any decoded operation never panics (refusing it is fine);
//! - after a restart, through the log alone or through a checkpoint and the
//!   log after it, every collection holds exactly what it held before, and no
//!   acknowledged record was set aside as unreadable (`quarantine/`).

use std::path::Path;
use std::sync::Arc;

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::{CreateFieldIndex, UpdateOperation};
use osprey_engine::requests::{ScrollRequest, WithPayload, WithVector};
use osprey_engine::{PointId, Storage, StorageConfig};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::json::{self, MAX_DEPTH};

const COLLECTIONS: [&str; 2] = ["unnamed", "named"];

fn open(root: &Path) -> Arc<Storage> {
    Storage::open(StorageConfig { storage_path: root.join("storage"), snapshots_path: root.join("snapshots") })
        .expect("storage opens")
}

/// Opens a storage directory again. The previous instance's background
/// threads may hold it for a moment after it is dropped (they upgrade a weak
/// reference now and then), so a refusal to open a locked file is retried.
fn reopen(root: &Path) -> Arc<Storage> {
    for _ in 0..100 {
        match Storage::open(StorageConfig { storage_path: root.join("storage"), snapshots_path: root.join("snapshots") }) {
            Ok(storage) if COLLECTIONS.iter().all(|name| storage.collection(name).is_ok()) => return storage,
            Ok(storage) => {
                let errors: Vec<String> =
                    COLLECTIONS.iter().filter_map(|name| storage.collection(name).err()).map(|e| e.to_string()).collect();
                assert!(errors.iter().all(|e| e.contains("already open")), "a collection did not reopen: {errors:?}");
            }
            Err(e) => assert!(e.to_string().contains("already open"), "the storage did not reopen: {e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the storage stayed locked by its previous instance");
}

fn setup(storage: &Storage) {
    let configs = [
        json!({"vectors": {"size": 4, "distance": "Dot"}}),
        json!({
            "vectors": {
                "dense": {"size": 4, "distance": "Dot"},
                "v": {"size": 2, "distance": "Cosine"},
                "multi": {"size": 2, "distance": "Euclid", "multivector_config": {"comparator": "max_sim"}},
            },
            "sparse_vectors": {"sparse": {}},
        }),
    ];
    for (name, config) in COLLECTIONS.into_iter().zip(configs) {
        let request: CreateCollection = serde_json::from_value(config).expect("create request decodes");
        storage.create_collection(name, request).expect("collection is created");
    }
    // Points with ids the generated operations use, so that updates by id
    // and by filter find something.
    let unnamed: Vec<Value> = (0..12u64)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, 0.0, -1.0], "payload": {"a": i, "b": format!("x{}", i % 3), "tags": ["a", "b"]}}))
        .collect();
    let named: Vec<Value> = (0..12u64)
        .map(|i| json!({"id": i, "vector": {"dense": [1.0, 0.0, i as f32, 0.5], "v": [1.0, i as f32], "sparse": {"indices": [i as u32], "values": [1.0]}},
                        "payload": {"a": {"b": i}, "n": i, "geo": {"lon": 1.0, "lat": i as f64}}}))
        .collect();
    for (name, points) in COLLECTIONS.into_iter().zip([unnamed, named]) {
        let op: UpdateOperation =
            serde_json::from_value(json!({"upsert": {"points": points}})).expect("seed upsert decodes");
        storage.collection(name).expect("collection exists").update(op, true).expect("seed upsert");
    }
}

/// Every collection's points, payloads, vectors and payload indexes.
fn snapshot(storage: &Storage) -> Value {
    let mut out = serde_json::Map::new();
    for name in COLLECTIONS {
        let c = storage.collection(name).expect("collection exists");
        let points = c
            .scroll(ScrollRequest {
                limit: Some(100_000),
                with_payload: Some(WithPayload::Enable(true)),
                with_vector: Some(WithVector::Enable(true)),
                ..Default::default()
            })
            .expect("scroll")
            .points;
        let schema = serde_json::to_value(c.info().payload_schema).expect("schema serialises");
        out.insert(name.into(), json!({"points": points, "payload_schema": schema}));
    }
    Value::Object(out)
}

fn quarantined(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root.join("storage").join("collections")) else { return found };
    for dir in dirs.flatten() {
        if let Ok(files) = std::fs::read_dir(dir.path().join("quarantine")) {
            found.extend(files.flatten().map(|f| f.path().display().to_string()));
        }
    }
    found
}

/// One step: a write body (an operation, or a payload index to create), the
/// collection it goes to, and whether to checkpoint after it.
#[derive(Debug, Clone)]
struct Step {
    body: Value,
    collection: usize,
    checkpoint: bool,
}

fn step() -> impl Strategy<Value = Step> {
    let body = prop_oneof![
        6 => json::update_operation(),
        3 => json::mutated(json::update_operation()),
        1 => json::mutated(json::create_field_index()).prop_map(|b| json!({"create_index": b})),
    ];
    (body, 0..COLLECTIONS.len(), prop::bool::weighted(0.15))
        .prop_map(|(body, collection, checkpoint)| Step { body, collection, checkpoint })
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    for s in steps {
        prop_assume!(json::depth(&s.body) <= MAX_DEPTH);
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let before = {
        let storage = open(dir.path());
        setup(&storage);
        for s in steps {
            let c = storage.collection(COLLECTIONS[s.collection]).expect("collection exists");
            if let Some(index) = s.body.get("create_index") {
                if let Ok(request) = serde_json::from_value::<CreateFieldIndex>(index.clone()) {
                    let _ = c.create_field_index(request, true);
                }
            } else if let Ok(op) = serde_json::from_value::<UpdateOperation>(s.body.clone()) {
                let _ = c.update(op, true);
            }
            if s.checkpoint {
                c.checkpoint().expect("checkpoint");
            }
        }
        snapshot(&storage)
    };
    let storage = reopen(dir.path());
    let after = snapshot(&storage);
    prop_assert!(after == before, "the state changed across a restart\nbefore: {before}\nafter:  {after}");
    let set_aside = quarantined(dir.path());
    prop_assert!(set_aside.is_empty(), "acknowledged writes were set aside on restart: {set_aside:?}");
    Ok(())
}

proptest! {
    #![proptest_config(crate::config(64))]

    #[test]
    fn accepted_writes_survive_a_restart(steps in vec(step(), 1..10)) {
        run(&steps)?;
    }
}

/// Found with the filter round trip in `decoders`: serde_json (without its
/// `float_roundtrip` feature) can read the shortest text of an f64 back as the
/// next f64. The log stores payloads as that text, so a float in a payload
/// comes back different after a restart: here 1.8178636732565993e19 returns
/// as 1.8178636732565991e19.
#[test]
fn payload_floats_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let before = {
        let storage = open(dir.path());
        setup(&storage);
        let op: UpdateOperation = serde_json::from_value(json!({"set_payload": {"payload": {"x": 1.8178636732565993e19}, "points": [1]}}))
            .expect("operation decodes");
        let c = storage.collection("unnamed").expect("collection exists");
        c.update(op, true).expect("set_payload");
        c.get_point(PointId::Num(1)).expect("point 1").payload.expect("payload")["x"].clone()
    };
    let storage = reopen(dir.path());
    let after = storage.collection("unnamed").expect("collection exists").get_point(PointId::Num(1)).expect("point 1");
    assert_eq!(after.payload.expect("payload")["x"], before);
}
