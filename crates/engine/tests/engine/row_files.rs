//! Dense rows in append-only files: every mix of upserts, vector updates
//! and deletes, with checkpoints, compactions and restarts in between, reads
//! back exactly what an in-memory oracle holds; a damaged row file is
//! refused with the file named, never trusted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::ScrollRequest;
use osprey_engine::{Collection, PointId, Storage, StorageConfig};
use proptest::prelude::*;
use serde_json::json;

const DIM: usize = 4;

/// Opens the storage; a background thread of the storage just dropped may
/// still hold it for a moment.
fn open(dir: &Path) -> Arc<Storage> {
    let config = || StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") };
    for _ in 0..100 {
        match Storage::open(config()) {
            Err(e) if e.to_string().contains("already open") => std::thread::sleep(std::time::Duration::from_millis(50)),
            opened => return opened.expect("storage opens"),
        }
    }
    panic!("the storage stayed open");
}

fn create(storage: &Storage, datatype: &str) -> Arc<Collection> {
    let request: CreateCollection = serde_json::from_value(json!({
        "vectors": {"size": DIM, "distance": "Euclid", "datatype": datatype},
        "optimizers_config": {"indexing_threshold": 0}
    }))
    .unwrap();
    storage.create_collection("c", request).unwrap();
    storage.collection("c").unwrap()
}

fn apply(c: &Collection, body: serde_json::Value) {
    let op: UpdateOperation = serde_json::from_value(body).unwrap();
    c.update(op, true).unwrap();
}

/// Every point with its vector, by id.
fn contents(c: &Collection) -> BTreeMap<u64, Vec<f32>> {
    let request: ScrollRequest =
        serde_json::from_value(json!({"limit": 100_000, "with_vector": true, "with_payload": false})).unwrap();
    c.scroll(request)
        .unwrap()
        .points
        .into_iter()
        .map(|p| {
            let PointId::Num(id) = p.id else { panic!("numeric ids only") };
            let vector = serde_json::to_value(&p).unwrap()["vector"].clone();
            (id, serde_json::from_value(vector).unwrap())
        })
        .collect()
}

fn collection_dir(root: &Path) -> PathBuf {
    std::fs::read_dir(root.join("storage/collections")).unwrap().next().unwrap().unwrap().path()
}

fn row_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(collection_dir(root).join("vectors"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[derive(Debug, Clone)]
enum Step {
    Upsert(Vec<u64>, u8),
    UpdateVector(u64, u8),
    Delete(Vec<u64>),
    Checkpoint,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (prop::collection::vec(0u64..60, 1..40), any::<u8>()).prop_map(|(ids, v)| Step::Upsert(ids, v)),
        2 => (0u64..60, any::<u8>()).prop_map(|(id, v)| Step::UpdateVector(id, v)),
        2 => prop::collection::vec(0u64..60, 1..20).prop_map(Step::Delete),
        1 => Just(Step::Checkpoint),
        1 => Just(Step::Reopen),
    ]
}

fn vector(id: u64, seed: u8) -> Vec<f32> {
    (0..DIM).map(|d| ((id as usize * 7 + d * 3 + seed as usize) % 200) as f32).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn rows_match_an_oracle_across_checkpoints_compactions_and_restarts(
        steps in prop::collection::vec(step(), 1..40),
        datatype in prop::sample::select(vec!["float32", "float16", "uint8"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = open(dir.path());
        let mut c = create(&storage, datatype);
        let mut oracle: BTreeMap<u64, Vec<f32>> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Upsert(ids, seed) => {
                    let points: Vec<_> = ids.iter().map(|&id| json!({"id": id, "vector": vector(id, seed)})).collect();
                    apply(&c, json!({"upsert": {"points": points}}));
                    ids.iter().for_each(|&id| { oracle.insert(id, vector(id, seed)); });
                }
                Step::UpdateVector(id, seed) => {
                    let body = json!({"update_vectors": {"points": [{"id": id, "vector": vector(id, seed)}]}});
                    let op: UpdateOperation = serde_json::from_value(body).unwrap();
                    let done = c.update(op, true).is_ok();
                    prop_assert_eq!(done, oracle.contains_key(&id));
                    if done {
                        oracle.insert(id, vector(id, seed));
                    }
                }
                Step::Delete(ids) => {
                    apply(&c, json!({"delete": {"points": ids}}));
                    ids.iter().for_each(|id| { oracle.remove(id); });
                }
                Step::Checkpoint => c.checkpoint().unwrap(),
                Step::Reopen => {
                    drop(c);
                    drop(storage);
                    storage = open(dir.path());
                    c = storage.collection("c").unwrap();
                }
            }
            prop_assert_eq!(&contents(&c), &oracle);
        }
        drop(c);
        drop(storage);
        let storage = open(dir.path());
        prop_assert_eq!(&contents(&storage.collection("c").unwrap()), &oracle);
    }
}

// Rewriting every vector many times leaves a file mostly of garbage rows; a
// checkpoint then compacts it into a new generation and removes the old one.
#[test]
fn a_file_of_mostly_garbage_is_compacted_at_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let c = create(&storage, "float32");
    for round in 0..6u8 {
        let points: Vec<_> = (0..2000u64).map(|id| json!({"id": id, "vector": vector(id, round)})).collect();
        apply(&c, json!({"upsert": {"points": points}}));
    }
    let before = row_files(dir.path());
    c.checkpoint().unwrap();
    let after = row_files(dir.path());
    assert_eq!(after.len(), 1, "the old file is removed: {after:?}");
    assert_ne!(before, after, "a new generation was written");
    let expected: BTreeMap<u64, Vec<f32>> = (0..2000u64).map(|id| (id, vector(id, 5))).collect();
    assert_eq!(contents(&c), expected);
    drop(c);
    drop(storage);
    let storage = open(dir.path());
    assert_eq!(contents(&storage.collection("c").unwrap()), expected);
}

fn damaged_collection_is_refused(damage: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = open(dir.path());
        let c = create(&storage, "float32");
        let points: Vec<_> = (0..100u64).map(|id| json!({"id": id, "vector": vector(id, 1)})).collect();
        apply(&c, json!({"upsert": {"points": points}}));
        c.checkpoint().unwrap();
    }
    let file = row_files(dir.path()).remove(0);
    damage(&file);
    let storage = open(dir.path());
    let error = storage.collection("c").map(|_| ()).unwrap_err().to_string();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(error.contains(&name), "the error names the file: {error}");
}

#[test]
fn a_damaged_row_is_refused_with_the_file_named() {
    damaged_collection_is_refused(|file| {
        let mut bytes = std::fs::read(file).unwrap();
        bytes[64 + 4 * DIM * 10] ^= 0x40;
        std::fs::write(file, bytes).unwrap();
    });
}

#[test]
fn a_damaged_header_is_refused_with_the_file_named() {
    damaged_collection_is_refused(|file| {
        let mut bytes = std::fs::read(file).unwrap();
        bytes[16] ^= 1; // the dimension
        std::fs::write(file, bytes).unwrap();
    });
}

#[test]
fn a_cut_row_file_is_refused_with_the_file_named() {
    damaged_collection_is_refused(|file| {
        std::fs::OpenOptions::new().write(true).open(file).unwrap().set_len(64 + 4 * DIM as u64 * 50).unwrap();
    });
}
