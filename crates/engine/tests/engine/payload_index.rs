//! Payload indexes survive restarts: only their schema is stored (checkpoint
//! and log), so reopening must rebuild the structures from the payloads, and
//! replaying the log must create and drop indexes at the right moments.

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::{CreateFieldIndex, UpdateOperation};
use osprey_engine::requests::{CountRequest, ScrollRequest};
use osprey_engine::{Collection, PointId, Storage, StorageConfig};
use serde_json::{Value, json};

fn open(dir: &std::path::Path) -> std::sync::Arc<Storage> {
    Storage::open(StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") })
        .expect("storage opens")
}

fn op(body: Value) -> UpdateOperation {
    serde_json::from_value(body).unwrap()
}

fn create_index(c: &Collection, field: &str, schema: Value) {
    let request = CreateFieldIndex { field_name: field.into(), field_schema: Some(serde_json::from_value(schema).unwrap()) };
    c.create_field_index(request, true).unwrap();
}

fn count(c: &Collection, filter: Value) -> u64 {
    let request: CountRequest = serde_json::from_value(json!({"filter": filter, "exact": true})).unwrap();
    c.count(request).unwrap().count
}

fn schema_points(c: &Collection) -> Vec<(String, String, u64)> {
    c.info().payload_schema.into_iter().map(|(field, info)| (field, info.data_type, info.points)).collect()
}

/// 60 points: `tag` "even"/"odd", `n` the number (every third a float),
/// `text` with a word every point has and one only multiples of 5 have.
fn upsert_points(c: &Collection, ids: std::ops::Range<u64>) {
    let points: Vec<Value> = ids
        .map(|i| {
            let n = if i % 3 == 0 { json!(i as f64 + 0.5) } else { json!(i) };
            let text = if i % 5 == 0 { "Quick brown fox" } else { "lazy dog" };
            json!({"id": i, "vector": [1.0, 0.0], "payload": {"tag": if i % 2 == 0 { "even" } else { "odd" }, "n": n, "text": text}})
        })
        .collect();
    c.update(op(json!({"upsert": {"points": points}})), true).unwrap();
}

fn new_collection(storage: &Storage) -> std::sync::Arc<Collection> {
    let request: CreateCollection = serde_json::from_value(json!({"vectors": {"size": 2, "distance": "Dot"}})).unwrap();
    storage.create_collection("c", request).unwrap();
    storage.collection("c").unwrap()
}

fn text(q: &str) -> Value {
    json!({"must": [{"key": "text", "match": {"text": q}}]})
}

// The index structures are not stored: after a restart, through the log alone
// or through a checkpoint, counts and filters must be what they were.
#[test]
fn indexes_survive_reopen_with_and_without_checkpoint() {
    for checkpoint in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let expected = {
            let storage = open(dir.path());
            let c = new_collection(&storage);
            upsert_points(&c, 0..30);
            create_index(&c, "tag", json!("keyword"));
            create_index(&c, "n", json!({"type": "integer", "lookup": true, "range": true}));
            create_index(&c, "text", json!({"type": "text", "tokenizer": "word", "lowercase": true}));
            if checkpoint {
                c.checkpoint().unwrap();
            }
            upsert_points(&c, 30..60);
            c.update(op(json!({"delete": {"points": [0, 1, 2]}})), true).unwrap();
            c.update(op(json!({"set_payload": {"payload": {"tag": "special"}, "points": [59]}})), true).unwrap();
            c.update(op(json!({"clear_payload": {"points": [58]}})), true).unwrap();
            schema_points(&c)
        };
        // 57 points; 58 lost its payload; `n` counts integers only (every third is a float).
        assert_eq!(
            expected,
            vec![("n".into(), "integer".into(), 37), ("tag".into(), "keyword".into(), 56), ("text".into(), "text".into(), 56)],
            "checkpoint: {checkpoint}"
        );
        let storage = open(dir.path());
        let c = storage.collection("c").unwrap();
        assert_eq!(schema_points(&c), expected, "checkpoint: {checkpoint}");
        assert_eq!(count(&c, json!({"must": [{"key": "tag", "match": {"value": "even"}}]})), 27, "4..=56 and not 58");
        assert_eq!(count(&c, json!({"must": [{"key": "tag", "match": {"value": "special"}}]})), 1);
        assert_eq!(count(&c, json!({"must": [{"key": "n", "range": {"gte": 10, "lt": 20}}]})), 10);
        // Token semantics prove the text index is back: "QUICK" is no substring of "Quick".
        assert_eq!(count(&c, text("QUICK fox")), 11, "points 5, 10, ..., 55");
        let page = c
            .scroll(serde_json::from_value::<ScrollRequest>(json!({"filter": text("fox"), "limit": 3, "offset": 20})).unwrap())
            .unwrap();
        let ids: Vec<PointId> = page.points.iter().map(|r| r.id).collect();
        assert_eq!(ids, [PointId::Num(20), PointId::Num(25), PointId::Num(30)]);
        assert_eq!(page.next_page_offset, Some(PointId::Num(35)));
    }
}

// Creating and dropping indexes are log records: replay must apply them in
// order with the writes around them, so a dropped text index brings back
// substring matching and a re-created one counts the points of its time.
#[test]
fn log_replay_creates_and_drops_indexes_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = open(dir.path());
        let c = new_collection(&storage);
        upsert_points(&c, 0..10);
        create_index(&c, "text", json!({"type": "text"}));
        create_index(&c, "tag", json!("keyword"));
        c.checkpoint().unwrap();
        // After the checkpoint: only the log knows these.
        c.delete_field_index("text", true).unwrap();
        create_index(&c, "n", json!("float"));
        upsert_points(&c, 10..20);
        create_index(&c, "tag", json!("integer"));
        assert_eq!(count(&c, text("QUICK")), 0, "no index: case-sensitive substring");
        assert_eq!(count(&c, text("Quick")), 4);
    }
    let storage = open(dir.path());
    let c = storage.collection("c").unwrap();
    assert_eq!(
        schema_points(&c),
        vec![("n".into(), "float".into(), 20), ("tag".into(), "integer".into(), 0)],
        "text dropped, n created, tag replaced by an integer index that holds no strings"
    );
    assert_eq!(count(&c, text("QUICK")), 0);
    assert_eq!(count(&c, text("Quick")), 4);
    assert_eq!(count(&c, json!({"must": [{"key": "n", "range": {"gt": 9.5}}]})), 10);
    assert_eq!(count(&c, json!({"must": [{"key": "tag", "match": {"value": "odd"}}]})), 10);
    assert!(c.create_field_index(
        CreateFieldIndex {
            field_name: "text".into(),
            field_schema: Some(serde_json::from_value(json!({"type": "text", "tokenizer": "sentencepiece"})).unwrap())
        },
        true
    )
    .is_err());
}
