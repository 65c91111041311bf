//! Restarts: everything acknowledged before a shutdown is there afterwards,
//! byte for byte, including configuration and aliases.

use serde_json::{Value, json};

use crate::harness::{TestServer, XorShift};

/// Everything a user could observe about the server, in a comparable form.
async fn snapshot(server: &TestServer) -> Value {
    let r = server.get("/collections").await;
    let mut names: Vec<String> = r.ok()["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    let mut collections = serde_json::Map::new();
    for name in &names {
        let r = server.get(&format!("/collections/{name}")).await;
        let info = r.ok();
        let points = server
            .scroll_all(
                name,
                &json!({"with_payload": true, "with_vector": true}),
                500,
            )
            .await;
        collections.insert(
            name.clone(),
            json!({
                "config": info["config"],
                "points_count": info["points_count"],
                "payload_schema": info["payload_schema"],
                "count": server.count(name, None).await,
                "points": points,
            }),
        );
    }
    let r = server.get("/aliases").await;
    let mut aliases = r.ok()["aliases"].as_array().expect("aliases").clone();
    aliases.sort_by_key(|a| a["alias_name"].as_str().unwrap_or("").to_string());
    json!({"collections": collections, "aliases": aliases})
}

fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                let sub = format!("{path}.{key}");
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_difference(p, q, &sub) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{sub}: {p:?} vs {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => {
            let show = |v: &Value| {
                let s = v.to_string();
                if s.len() > 200 {
                    format!("{}…", &s[..200])
                } else {
                    s
                }
            };
            Some(format!("{path}: before {} / after {}", show(a), show(b)))
        }
    }
}

async fn build_state(server: &TestServer) {
    let mut rng = XorShift::new(0xD0_0D);
    server
        .create_collection(
            "plain",
            &json!({
                "vectors": {"size": 8, "distance": "Euclid"},
                "hnsw_config": {"m": 20, "ef_construct": 150},
                "optimizers_config": {"indexing_threshold": 7000},
                "wal_config": {"wal_capacity_mb": 8}
            }),
        )
        .await;
    server
        .create_collection(
            "named",
            &json!({"vectors": {
                "a": {"size": 3, "distance": "Dot"},
                "b": {"size": 4, "distance": "Manhattan"}
            }}),
        )
        .await;
    server
        .create_collection(
            "doomed",
            &json!({"vectors": {"size": 2, "distance": "Dot"}}),
        )
        .await;

    for chunk in 0..4u64 {
        let pts: Vec<Value> = (chunk * 500..(chunk + 1) * 500)
            .map(|i| {
                json!({"id": i, "vector": rng.vector(8), "payload": {
                    "i": i, "word": format!("w{}", rng.below(50)), "nested": {"deep": [i, {"x": i % 3}]}
                }})
            })
            .collect();
        server.upsert("plain", &json!({"points": pts})).await;
    }
    let pts: Vec<Value> = (0..200u64)
        .map(|i| {
            let id = if i % 2 == 0 {
                json!(i)
            } else {
                json!(format!("00000000-0000-4000-8000-{:012x}", i))
            };
            json!({"id": id, "vector": {"a": rng.vector(3), "b": rng.vector(4)}, "payload": {"n": i}})
        })
        .collect();
    server.upsert("named", &json!({"points": pts})).await;

    // Later operations that replay must honour.
    server
        .post(
            "/collections/plain/points/delete?wait=true",
            &json!({"points": [0, 1, 2, 3, 4]}),
        )
        .await
        .ok();
    server
        .post(
            "/collections/plain/points/delete?wait=true",
            &json!({"filter": {"must": [{"key": "word", "match": {"value": "w7"}}]}}),
        )
        .await
        .ok();
    server
        .post(
            "/collections/plain/points/payload?wait=true",
            &json!({"payload": {"patched": true}, "filter": {"must": [{"key": "i", "range": {"gte": 1000, "lt": 1100}}]}}),
        )
        .await
        .ok();
    server
        .put(
            "/collections/named/points/vectors?wait=true",
            &json!({"points": [{"id": 10, "vector": {"a": [9.0, 9.0, 9.0]}}]}),
        )
        .await
        .ok();
    server
        .post(
            "/collections/named/points/vectors/delete?wait=true",
            &json!({"points": [12], "vector": ["b"]}),
        )
        .await
        .ok();
    server
        .patch(
            "/collections/plain",
            &json!({"optimizers_config": {"indexing_threshold": 9000}}),
        )
        .await
        .ok();
    server
        .put(
            "/collections/plain/index?wait=true",
            &json!({"field_name": "word", "field_schema": "keyword"}),
        )
        .await
        .ok();
    server
        .post(
            "/collections/aliases",
            &json!({"actions": [
                {"create_alias": {"collection_name": "plain", "alias_name": "current"}},
                {"create_alias": {"collection_name": "named", "alias_name": "other"}}
            ]}),
        )
        .await
        .ok();
    server.delete("/collections/doomed").await.ok();
}

/// A graceful restart must bring back every collection, config, point, payload,
/// vector and alias exactly, and must not resurrect deleted data. Done twice,
/// with writes in between, so state rebuilt from disk is itself durable.
#[tokio::test]
async fn restart_preserves_everything() {
    let mut server = TestServer::start().await;
    build_state(&server).await;
    let before = snapshot(&server).await;
    assert_eq!(before["collections"].as_object().map(|c| c.len()), Some(2));

    server.restart().await;
    let after = snapshot(&server).await;
    if let Some(d) = first_difference(&before, &after, "state") {
        panic!("state changed across restart: {d}");
    }
    assert_eq!(
        server.get("/collections/doomed").await.status,
        404,
        "deleted collection came back"
    );

    // More writes on the restored state, then another restart.
    let zeros = vec![0.0f32; 8];
    server
        .upsert(
            "current",
            &json!({"points": [{"id": 5000, "vector": zeros, "payload": {"late": 1}}]}),
        )
        .await;
    server
        .post("/collections/aliases", &json!({"actions": [{"rename_alias": {"old_alias_name": "other", "new_alias_name": "renamed"}}]}))
        .await
        .ok();
    let before = snapshot(&server).await;
    server.restart().await;
    let after = snapshot(&server).await;
    if let Some(d) = first_difference(&before, &after, "state") {
        panic!("state changed across the second restart: {d}");
    }
}

/// `wait=false` answers `acknowledged` before applying; the write must still be
/// applied soon after and survive a graceful shutdown right after.
#[tokio::test]
async fn acknowledged_async_writes_survive_graceful_shutdown() {
    let mut server = TestServer::start().await;
    server
        .create_collection("async", &json!({"vectors": {"size": 2, "distance": "Dot"}}))
        .await;
    for i in 0..50u64 {
        let r = server
            .put(
                "/collections/async/points?wait=false",
                &json!({"points": [{"id": i, "vector": [1.0, i as f32], "payload": {"i": i}}]}),
            )
            .await;
        let status = r.ok()["status"].clone();
        assert!(
            status == "acknowledged" || status == "completed",
            "wait=false answers acknowledged: {}",
            r.describe()
        );
    }
    server.restart().await;
    assert_eq!(server.count("async", None).await, 50);
    let r = server.get("/collections/async/points/49").await;
    assert_eq!(r.ok()["payload"], json!({"i": 49}));
}
