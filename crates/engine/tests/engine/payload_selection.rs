//! `with_payload` selectors return exactly the paths asked for, keeping the
//! objects and arrays those paths go through (issue 14).

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::PointRequest;
use osprey_engine::{PointId, Storage, StorageConfig};
use serde_json::{Value, json};

fn selected(selector: Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(StorageConfig {
        storage_path: dir.path().join("storage"),
        snapshots_path: dir.path().join("snapshots"),
    })
    .unwrap();
    let request: CreateCollection = serde_json::from_value(json!({"vectors": {"size": 2, "distance": "Dot"}})).unwrap();
    storage.create_collection("c", request).unwrap();
    let payload = json!({"a": {"b": [{"c": 1, "d": 2}, {"c": 3}, {"d": 4}], "x": 5}, "e": 6});
    let op: UpdateOperation =
        serde_json::from_value(json!({"upsert": {"points": [{"id": 1, "vector": [1.0, 2.0], "payload": payload}]}}))
            .unwrap();
    let c = storage.collection("c").unwrap();
    c.update(op, true).unwrap();
    let request = PointRequest {
        ids: vec![PointId::Num(1)],
        with_payload: Some(serde_json::from_value(selector).unwrap()),
        with_vector: None,
        shard_key: None,
    };
    Value::Object(c.retrieve(request).unwrap().remove(0).payload.unwrap())
}

#[test]
fn include_paths_through_arrays_keep_the_array() {
    assert_eq!(selected(json!({"include": ["a.b[].c"]})), json!({"a": {"b": [{"c": 1}, {"c": 3}]}}));
    assert_eq!(
        selected(json!({"include": ["a.b[].c", "a.x", "e"]})),
        json!({"a": {"b": [{"c": 1}, {"c": 3}], "x": 5}, "e": 6})
    );
    assert_eq!(selected(json!({"include": ["a.b[1]"]})), json!({"a": {"b": [{"c": 3}]}}));
    assert_eq!(selected(json!(["a.x"])), json!({"a": {"x": 5}}));
    assert_eq!(selected(json!({"include": ["a.b[].zzz"]})), json!({}));
    assert_eq!(
        selected(json!({"exclude": ["a.b[].d"]})),
        json!({"a": {"b": [{"c": 1}, {"c": 3}, {}], "x": 5}, "e": 6})
    );
}
