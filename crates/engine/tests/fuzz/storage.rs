//! Opening a whole storage directory with one file damaged.
//!
//! A storage directory is built once: a collection with a checkpoint
//! (`points.bin`), a saved vector index, two write-ahead log segments holding
//! the writes after the checkpoint, and the metadata store. Each case copies
//! it, damages one file and opens it.
//!
//! Properties:
//! - opening, then reading, searching and writing, never panics, here or in
//!   the background threads;
//! - damage to the checkpoint or to a log segment other than the last is
//!   refused: the storage does not open, or opens with the collection
//!   unavailable;
//! - damage to the last log segment leaves the collection as it was after some
//!   prefix of the writes, never in a state it never had;
//! - damage to the vector index leaves the points exactly as written (a bad
//!   index is dropped and rebuilt, never trusted).
//!
//! A second property writes log records that carry a valid checksum but
//! damaged or made-up content, as a bug or a foreign file could: opening must
//! refuse them, set them aside or apply them, never panic.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};

use osprey_engine::config::{CreateCollection, UpdateCollection};
use osprey_engine::operations::{CreateFieldIndex, UpdateOperation};
use osprey_engine::requests::{
    CountRequest, FacetRequest, QueryRequest, ScrollRequest, SearchRequest, WithPayload, WithVector,
};
use osprey_engine::{PointId, Storage, StorageConfig};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::damage::{self, Damage};
use crate::json;

/// The files of the built storage directory, by role.
struct Pristine {
    /// Every file: path relative to the storage root, and its bytes.
    files: Vec<(PathBuf, Vec<u8>)>,
    checkpoint: PathBuf,
    index: PathBuf,
    meta: PathBuf,
    /// Log segments in order; the last one takes appends.
    segments: Vec<PathBuf>,
    /// Hash of the points after the checkpoint and after each later write.
    states: Vec<u64>,
}

impl Pristine {
    fn final_state(&self) -> u64 {
        *self.states.last().expect("at least the checkpoint state")
    }
}

fn config(root: &Path) -> StorageConfig {
    StorageConfig { storage_path: root.join("storage"), snapshots_path: root.join("snapshots") }
}

fn op(body: Value) -> UpdateOperation {
    serde_json::from_value(body).expect("test operation decodes")
}

/// Every point with payload and vectors, as one hash; `None` when the
/// collection cannot be read.
fn state(storage: &Storage) -> Option<u64> {
    let c = storage.collection("c").ok()?;
    let all = c
        .scroll(ScrollRequest {
            limit: Some(100_000),
            with_payload: Some(WithPayload::Enable(true)),
            with_vector: Some(WithVector::Enable(true)),
            ..Default::default()
        })
        .ok()?;
    let text = serde_json::to_string(&all.points).expect("records serialise");
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    Some(hasher.finish())
}

fn files_under(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in fs::read_dir(dir).expect("storage directory lists") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files_under(root, &path, out);
        } else {
            let bytes = fs::read(&path).expect("storage file reads");
            out.push((path.strip_prefix(root).expect("under the root").to_path_buf(), bytes));
        }
    }
}

fn big_point(id: u64, bytes: usize) -> UpdateOperation {
    op(json!({"upsert": {"points": [{"id": id, "vector": [0.5, 0.5, 0.5, 0.5], "payload": {"blob": "z".repeat(bytes), "n": id}}]}}))
}

/// The small writes after the checkpoint, a different one for each `i`.
fn small_write(i: u64) -> UpdateOperation {
    match i % 4 {
        0 => op(json!({"set_payload": {"payload": {"tag": format!("t{i}")}, "points": [i, i + 1]}})),
        1 => op(json!({"delete": {"points": [i]}})),
        2 => op(json!({"upsert": {"points": [{"id": 500 + i, "vector": [1.0, -1.0, 0.0, i as f32], "payload": {"n": i}}]}})),
        _ => op(json!({"delete_payload": {"keys": ["geo"], "filter": {"must": [{"key": "n", "range": {"lt": i}}]}}})),
    }
}

fn build() -> Pristine {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut states = Vec::new();
    {
        let storage = Storage::open(config(dir.path())).expect("new storage opens");
        let create: CreateCollection = serde_json::from_value(json!({
            "vectors": {"size": 4, "distance": "Dot"},
            // Segments of 1 MiB, the smallest, so that two of them are cheap.
            "wal_config": {"wal_capacity_mb": 1},
            // An index as soon as there are 64 vectors.
            "optimizers_config": {"indexing_threshold": 1},
        }))
        .expect("create request decodes");
        storage.create_collection("c", create).expect("collection is created");
        let c = storage.collection("c").expect("collection exists");
        let points: Vec<Value> = (0..100u64)
            .map(|i| {
                json!({"id": i, "vector": [i as f32, 1.0, -0.5, (i % 7) as f32],
                       "payload": {"n": i, "tag": format!("t{}", i % 5), "geo": {"lon": i as f64 / 2.0, "lat": 10.0}}})
            })
            .collect();
        c.update(op(json!({"upsert": {"points": points}})), true).expect("upsert");
        let index: CreateFieldIndex =
            serde_json::from_value(json!({"field_name": "n", "field_schema": "integer"})).expect("index request");
        c.create_field_index(index, true).expect("payload index");
        let tag: CreateFieldIndex =
            serde_json::from_value(json!({"field_name": "tag", "field_schema": "keyword"})).expect("index request");
        c.create_field_index(tag, true).expect("payload index");

        // Wait for the optimizer to build and save the vector index, then
        // stop it from doing more, so the files stay as they are.
        let deadline = Instant::now() + Duration::from_secs(60);
        let index_dir = storage.config().storage_path.join("collections");
        while !has_file_named(&index_dir, "v.hnsw") || c.info().status != "green" {
            assert!(Instant::now() < deadline, "the vector index was not built in time");
            std::thread::sleep(Duration::from_millis(20));
        }
        let stop: UpdateCollection =
            serde_json::from_value(json!({"optimizers_config": {"indexing_threshold": 0}})).expect("update request");
        storage.update_collection("c", stop).expect("collection updates");

        c.checkpoint().expect("checkpoint");
        states.push(state(&storage).expect("state reads"));
        for i in 0..3 {
            c.update(small_write(i), true).expect("small write");
            states.push(state(&storage).expect("state reads"));
        }
        c.update(big_point(1000, 850 * 1024), true).expect("big write");
        states.push(state(&storage).expect("state reads"));
        c.update(small_write(3), true).expect("small write");
        states.push(state(&storage).expect("state reads"));
    }
    {
        // A new session starts counting logged bytes from zero, so the second
        // big write starts a new segment instead of a checkpoint.
        let storage = Storage::open(config(dir.path())).expect("storage reopens");
        assert_eq!(state(&storage), states.last().copied(), "reopened storage has the written state");
        let c = storage.collection("c").expect("collection exists");
        c.update(small_write(4), true).expect("small write");
        states.push(state(&storage).expect("state reads"));
        c.update(big_point(1001, 300 * 1024), true).expect("big write");
        states.push(state(&storage).expect("state reads"));
        for i in 5..8 {
            c.update(small_write(i), true).expect("small write");
            states.push(state(&storage).expect("state reads"));
        }
    }
    // The background threads let go of the storage within a second.
    std::thread::sleep(Duration::from_millis(1100));

    let mut files = Vec::new();
    files_under(dir.path(), dir.path(), &mut files);
    files.sort();
    let find = |name: &str| {
        files
            .iter()
            .map(|(p, _)| p.clone())
            .find(|p| p.file_name().is_some_and(|n| n == name))
            .unwrap_or_else(|| panic!("no {name} in the built storage: {:?}", paths(&files)))
    };
    let checkpoint = find("points.bin");
    let index = find("v.hnsw");
    let meta = find("meta.redb");
    let segments: Vec<PathBuf> = files
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    assert_eq!(segments.len(), 2, "expected two log segments: {:?}", paths(&files));
    Pristine { files, checkpoint, index, meta, segments, states }
}

fn paths(files: &[(PathBuf, Vec<u8>)]) -> Vec<&Path> {
    files.iter().map(|(p, _)| p.as_path()).collect()
}

fn has_file_named(dir: &Path, name: &str) -> bool {
    let Ok(entries) = fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() { has_file_named(&path, name) } else { path.file_name().is_some_and(|n| n == name) }
    })
}

fn pristine() -> &'static Pristine {
    static PRISTINE: OnceLock<Pristine> = OnceLock::new();
    PRISTINE.get_or_init(build)
}

/// Panics in the engine's background threads do not fail a test by
/// themselves; count them so the properties can.
static BACKGROUND_PANICS: AtomicUsize = AtomicUsize::new(0);

fn watch_background_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if matches!(std::thread::current().name(), Some("optimizer" | "wal-flusher")) {
                BACKGROUND_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// Which file a case damages.
#[derive(Debug, Clone, Copy)]
enum Target {
    Checkpoint,
    EarlierSegment,
    LastSegment,
    Index,
    Meta,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => Just(Target::Checkpoint),
        2 => Just(Target::EarlierSegment),
        4 => Just(Target::LastSegment),
        2 => Just(Target::Index),
        2 => Just(Target::Meta),
    ]
}

/// Lays out the pristine files under `root`, with `replace` substituted.
fn lay_out(root: &Path, replace: Option<(&Path, &[u8])>) {
    for (path, bytes) in &pristine().files {
        let full = root.join(path);
        fs::create_dir_all(full.parent().expect("files are in directories")).expect("directory is created");
        let bytes = match replace {
            Some((p, b)) if p == path => b,
            _ => bytes,
        };
        fs::write(&full, bytes).expect("file is written");
    }
}

/// Reads, searches and writes through an opened storage; each may fail, none
/// may panic.
fn use_storage(storage: &Arc<Storage>) {
    let Ok(c) = storage.collection("c") else { return };
    let _ = c.info();
    let _ = c.count(CountRequest::default());
    let _ = c.get_point(PointId::Num(1001));
    let search: SearchRequest = serde_json::from_value(json!({
        "vector": [1.0, 0.0, 0.5, 0.25], "limit": 5,
        "filter": {"must": [{"key": "n", "range": {"gte": 3}}]}, "with_payload": ["n"],
    }))
    .expect("search decodes");
    let _ = c.search(search);
    let exact: SearchRequest =
        serde_json::from_value(json!({"vector": [0.0, 1.0, 0.0, 0.0], "limit": 3, "params": {"exact": true}}))
            .expect("search decodes");
    let _ = c.search(exact);
    let query: QueryRequest = serde_json::from_value(json!({
        "prefetch": [{"query": [1.0, 1.0, 1.0, 1.0], "limit": 20}],
        "query": {"fusion": "rrf"}, "limit": 5,
    }))
    .expect("query decodes");
    let _ = c.query(query, storage);
    let facet: FacetRequest =
        serde_json::from_value(json!({"key": "tag", "limit": 10})).expect("facet decodes");
    let _ = c.facet(facet);
    let scroll: ScrollRequest = serde_json::from_value(json!({
        "filter": {"must": [{"key": "tag", "match": {"value": "t1"}}]}, "limit": 5,
        "order_by": {"key": "n", "direction": "desc"},
    }))
    .expect("scroll decodes");
    let _ = c.scroll(scroll);
    let _ = c.update(op(json!({"upsert": {"points": [{"id": 7, "vector": [1.0, 2.0, 3.0, 4.0], "payload": {"n": 7}}]}})), true);
    let _ = c.update(op(json!({"delete": {"filter": {"must": [{"key": "n", "match": {"value": 8}}]}}})), true);
}

fn check_damaged(target: Target, damages: &[Damage], fix_crc: bool) -> Result<(), TestCaseError> {
    watch_background_panics();
    let pristine = pristine();
    let path = match target {
        Target::Checkpoint => &pristine.checkpoint,
        Target::EarlierSegment => &pristine.segments[0],
        Target::LastSegment => pristine.segments.last().expect("segments"),
        Target::Index => &pristine.index,
        Target::Meta => &pristine.meta,
    };
    let original = &pristine.files.iter().find(|(p, _)| p == path).expect("target exists").1;
    let mut bytes = original.clone();
    damage::apply_all(&mut bytes, damages);
    let checksummed = matches!(target, Target::Checkpoint | Target::Index);
    if fix_crc && checksummed {
        damage::fix_trailing_crc(&mut bytes);
    }
    let changed = bytes != *original;
    if matches!(target, Target::EarlierSegment) && crate::wal::is_clean_cut(original, &bytes) {
        // A cut that ends on a record boundary goes unnoticed: see
        // `wal::clean_cut_of_an_earlier_segment_is_accepted`.
        return Err(TestCaseError::reject("cut of an earlier log segment (known issue)"));
    }

    let dir = tempfile::tempdir().expect("temporary directory");
    lay_out(dir.path(), Some((path, &bytes)));
    let panics_before = BACKGROUND_PANICS.load(Ordering::SeqCst);
    // A damaged meta.redb used to panic inside redb; Storage::open now turns
    // that into an error (see `damaged_metadata_store_is_refused_without_a_panic`).
    let opened = Storage::open(config(dir.path()));
    // Refusing means the storage does not open, or opens with the collection
    // unavailable.
    if let Ok(storage) = &opened
        && storage.collection("c").is_ok()
    {
        let observed = state(storage);
        let states = &pristine.states;
        match target {
            Target::Checkpoint if !fix_crc => {
                prop_assert!(!changed, "a damaged checkpoint was accepted")
            }
            Target::EarlierSegment => {
                prop_assert!(!changed, "a damaged log segment that is not the last was accepted")
            }
            Target::LastSegment => prop_assert!(
                observed.is_some_and(|s| states.contains(&s)),
                "after damage to the last log segment the points are in a state they never had"
            ),
            Target::Index => prop_assert_eq!(
                observed,
                Some(pristine.final_state()),
                "damage to the vector index changed the points"
            ),
            Target::Checkpoint | Target::Meta => {}
        }
    }
    if let Ok(storage) = &opened {
        use_storage(storage);
    }
    drop(opened);
    prop_assert_eq!(BACKGROUND_PANICS.load(Ordering::SeqCst), panics_before, "a background thread panicked");
    Ok(())
}

// ---------------------------------------------------------------------------
// Log records with valid checksums and damaged or made-up content

/// A segment's records as `(seq, payload)`, and its file's header.
fn parse_segment(bytes: &[u8]) -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
    let mut records = Vec::new();
    let mut at = 8;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        records.push((seq, bytes[at + 16..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    (bytes[..8].to_vec(), records)
}

fn encode_segment(header: &[u8], records: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = header.to_vec();
    for (seq, payload) in records {
        let crc = crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// What replaces a record's payload: its own bytes damaged, generated
/// operations in the log's JSON form (which older builds wrote and every
/// build still reads), another JSON entry, or random bytes.
#[derive(Debug, Clone)]
enum Crafted {
    Damaged(Vec<Damage>),
    Update(Vec<Value>),
    Entry(Value),
    Bytes(Vec<u8>),
}

fn crafted() -> impl Strategy<Value = Crafted> {
    prop_oneof![
        4 => damage::damages().prop_map(Crafted::Damaged),
        4 => vec(json::update_operation(), 1..3).prop_map(Crafted::Update),
        1 => prop_oneof![
            json::create_field_index().prop_map(|i| json!({"CreateIndex": i})),
            json::key_path().prop_map(|k| json!({"DeleteIndex": k})),
            json::any_json(),
        ]
        .prop_map(Crafted::Entry),
        1 => vec(any::<u8>(), 0..64).prop_map(Crafted::Bytes),
    ]
}

fn check_crafted(record: usize, crafted: &Crafted) -> Result<(), TestCaseError> {
    watch_background_panics();
    let pristine = pristine();
    let path = pristine.segments.last().expect("segments");
    let original = &pristine.files.iter().find(|(p, _)| p == path).expect("target exists").1;
    let (header, mut records) = parse_segment(original);
    let slot = record % records.len();
    let payload = match crafted {
        Crafted::Damaged(damages) => {
            let mut bytes = records[slot].1.clone();
            damage::apply_all(&mut bytes, damages);
            bytes
        }
        Crafted::Update(ops) => {
            let entry = json!({"Update": ops});
            prop_assume!(json::depth(&entry) <= json::MAX_DEPTH);
            serde_json::to_vec(&entry).expect("serialises")
        }
        Crafted::Entry(entry) => serde_json::to_vec(entry).expect("serialises"),
        Crafted::Bytes(bytes) => bytes.clone(),
    };
    records[slot].1 = payload;
    let bytes = encode_segment(&header, &records);

    let dir = tempfile::tempdir().expect("temporary directory");
    lay_out(dir.path(), Some((path, &bytes)));
    let panics_before = BACKGROUND_PANICS.load(Ordering::SeqCst);
    let opened = Storage::open(config(dir.path()));
    if let Ok(storage) = &opened {
        let _ = state(storage);
        use_storage(storage);
    }
    drop(opened);
    prop_assert_eq!(BACKGROUND_PANICS.load(Ordering::SeqCst), panics_before, "a background thread panicked");
    Ok(())
}

proptest! {
    #![proptest_config(crate::config(96))]

    #[test]
    fn damaged_storage_opens_or_fails(target in target(), damages in damage::damages(), fix_crc in any::<bool>()) {
        check_damaged(target, &damages, fix_crc)?;
    }

    #[test]
    fn crafted_log_records_never_panic(record in any::<usize>(), crafted in crafted()) {
        check_crafted(record, &crafted)?;
    }
}

/// The built directory itself opens to the final state: the baseline the
/// damage properties compare against.
#[test]
fn pristine_storage_opens() {
    let dir = tempfile::tempdir().expect("temporary directory");
    lay_out(dir.path(), None);
    let storage = Storage::open(config(dir.path())).expect("pristine storage opens");
    assert_eq!(state(&storage), Some(pristine().final_state()));
}


/// Found by `damaged_storage_opens_or_fails`: `Storage::open` panics inside
/// redb (4.6) when pages of `meta.redb` are zero-filled, instead of refusing
/// the file. Page 2 panics with "internal error: entered unreachable code"
/// (`Btree::get` from `TransactionalMemory::is_valid_allocator_state`, from
/// `Database::create` in `Storage::open`); page 6 with "Invalid page type byte
/// 0 for page r0.5/0".
#[test]
fn damaged_metadata_store_is_refused_without_a_panic() {
    let pristine = pristine();
    let original = &pristine.files.iter().find(|(p, _)| *p == pristine.meta).expect("meta.redb").1;
    for page in [2, 6] {
        let mut bytes = original.clone();
        bytes[page * 4096..(page + 1) * 4096].fill(0);
        let dir = tempfile::tempdir().expect("temporary directory");
        lay_out(dir.path(), Some((&pristine.meta, &bytes)));
        let opened = std::panic::catch_unwind(|| Storage::open(config(dir.path())).map(drop));
        assert!(opened.is_ok(), "opening with page {page} of meta.redb zero-filled panicked");
    }
}

