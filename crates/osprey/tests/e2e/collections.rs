//! Collection lifecycle: create, inspect, list, update, delete, and the names
//! that must never reach the file system.

use serde_json::{Value, json};

use crate::harness::TestServer;

/// The info page is what dashboards and `get_collection` show; its fields must
/// reflect what was asked for at creation, or users configure blind.
#[tokio::test]
async fn create_unnamed_vector_collection_and_read_its_info() {
    let server = TestServer::start().await;
    server
        .create_collection(
            "docs",
            &json!({
                "vectors": {"size": 4, "distance": "Cosine"},
                "hnsw_config": {"m": 32, "ef_construct": 123},
                "optimizers_config": {"indexing_threshold": 5000},
                "wal_config": {"wal_capacity_mb": 16}
            }),
        )
        .await;

    let r = server.get("/collections/docs").await;
    let info = r.ok();
    assert_eq!(info["status"], "green", "{}", r.describe());
    assert_eq!(info["points_count"], 0, "{}", r.describe());
    assert!(info["segments_count"].is_u64(), "{}", r.describe());
    assert!(
        info["indexed_vectors_count"].is_u64() || info["indexed_vectors_count"].is_null(),
        "{}",
        r.describe()
    );
    assert!(info["optimizer_status"] == "ok", "{}", r.describe());
    assert_eq!(info["payload_schema"], json!({}), "{}", r.describe());
    let config = &info["config"];
    assert_eq!(config["params"]["vectors"]["size"], 4, "{}", r.describe());
    assert_eq!(
        config["params"]["vectors"]["distance"],
        "Cosine",
        "{}",
        r.describe()
    );
    assert_eq!(
        config["hnsw_config"]["m"],
        32,
        "hnsw params are stored: {}",
        r.describe()
    );
    assert_eq!(
        config["hnsw_config"]["ef_construct"],
        123,
        "{}",
        r.describe()
    );
    assert_eq!(
        config["optimizer_config"]["indexing_threshold"],
        5000,
        "optimizer params are stored: {}",
        r.describe()
    );
    assert_eq!(
        config["wal_config"]["wal_capacity_mb"],
        16,
        "wal params are stored: {}",
        r.describe()
    );
}

/// Named vectors are how multi-modal collections are built; each name keeps its
/// own size and distance, all four distances are accepted.
#[tokio::test]
async fn create_named_vectors_with_every_distance() {
    let server = TestServer::start().await;
    server
        .create_collection(
            "multi",
            &json!({"vectors": {
                "image": {"size": 3, "distance": "Dot"},
                "text": {"size": 5, "distance": "Euclid"},
                "title": {"size": 2, "distance": "Cosine"},
                "geo": {"size": 2, "distance": "Manhattan"}
            }}),
        )
        .await;
    let r = server.get("/collections/multi").await;
    let vectors = &r.ok()["config"]["params"]["vectors"];
    for (name, size, distance) in [
        ("image", 3, "Dot"),
        ("text", 5, "Euclid"),
        ("title", 2, "Cosine"),
        ("geo", 2, "Manhattan"),
    ] {
        assert_eq!(vectors[name]["size"], size, "{name}: {}", r.describe());
        assert_eq!(
            vectors[name]["distance"],
            distance,
            "{name}: {}",
            r.describe()
        );
    }
}

/// List and exists are what `collection_exists` / `get_collections` call before
/// deciding to create; stale answers make applications recreate or lose data.
#[tokio::test]
async fn list_exists_and_delete() {
    let server = TestServer::start().await;
    for name in ["alpha", "beta"] {
        server
            .create_collection(name, &json!({"vectors": {"size": 2, "distance": "Dot"}}))
            .await;
    }
    let names = |v: &Value| -> Vec<String> {
        let mut names: Vec<String> = v["collections"]
            .as_array()
            .expect("collections array")
            .iter()
            .map(|c| c["name"].as_str().expect("name").to_string())
            .collect();
        names.sort();
        names
    };
    let r = server.get("/collections").await;
    assert_eq!(names(r.ok()), vec!["alpha", "beta"], "{}", r.describe());

    let r = server.get("/collections/alpha/exists").await;
    assert_eq!(r.ok(), &json!({"exists": true}), "{}", r.describe());
    let r = server.get("/collections/gamma/exists").await;
    assert_eq!(
        r.ok(),
        &json!({"exists": false}),
        "missing is not an error: {}",
        r.describe()
    );

    let r = server.delete("/collections/alpha").await;
    assert_eq!(r.ok(), &json!(true), "{}", r.describe());
    let r = server.get("/collections/alpha").await;
    r.err(404);
    let r = server.get("/collections/alpha/exists").await;
    assert_eq!(r.ok(), &json!({"exists": false}), "{}", r.describe());
    let r = server.get("/collections").await;
    assert_eq!(names(r.ok()), vec!["beta"], "{}", r.describe());

    // A deleted name is free again and starts empty.
    server
        .create_collection("alpha", &json!({"vectors": {"size": 3, "distance": "Dot"}}))
        .await;
    let r = server.get("/collections/alpha").await;
    let info = r.ok();
    assert_eq!(info["points_count"], 0, "{}", r.describe());
    assert_eq!(
        info["config"]["params"]["vectors"]["size"],
        3,
        "{}",
        r.describe()
    );
}

/// PATCH changes parameters in place; the change must show in the info and the
/// data must survive it.
#[tokio::test]
async fn patch_updates_parameters_and_keeps_points() {
    let server = TestServer::start().await;
    server
        .create_collection("tune", &json!({"vectors": {"size": 2, "distance": "Dot"}}))
        .await;
    server
        .upsert(
            "tune",
            &json!({"points": [{"id": 1, "vector": [1.0, 2.0], "payload": {"k": 1}}]}),
        )
        .await;
    let r = server
        .patch(
            "/collections/tune",
            &json!({
                "optimizers_config": {"indexing_threshold": 10000},
                "hnsw_config": {"m": 48}
            }),
        )
        .await;
    assert_eq!(r.ok(), &json!(true), "{}", r.describe());
    let r = server.get("/collections/tune").await;
    let info = r.ok();
    assert_eq!(
        info["config"]["optimizer_config"]["indexing_threshold"],
        10000,
        "{}",
        r.describe()
    );
    assert_eq!(info["config"]["hnsw_config"]["m"], 48, "{}", r.describe());
    assert_eq!(info["points_count"], 1, "{}", r.describe());

    let r = server
        .patch(
            "/collections/missing",
            &json!({"optimizers_config": {"indexing_threshold": 1}}),
        )
        .await;
    r.err(404);
}

/// Creating a name that exists must fail and must not replace the collection:
/// a retrying deploy script would otherwise wipe production data.
#[tokio::test]
async fn duplicate_create_is_rejected_and_changes_nothing() {
    let server = TestServer::start().await;
    server
        .create_collection("once", &json!({"vectors": {"size": 4, "distance": "Dot"}}))
        .await;
    server
        .upsert(
            "once",
            &json!({"points": [{"id": 7, "vector": [1.0, 0.0, 0.0, 0.0], "payload": {"v": 1}}]}),
        )
        .await;
    let r = server
        .put(
            "/collections/once",
            &json!({"vectors": {"size": 8, "distance": "Cosine"}}),
        )
        .await;
    // Qdrant answers 409 `Wrong input: Collection `once` already exists!` (StorageError::AlreadyExists).
    let message = r.err_in(&[409]);
    assert!(message.contains("already exists"), "{message}");
    let r = server.get("/collections/once").await;
    let info = r.ok();
    assert_eq!(
        info["config"]["params"]["vectors"]["size"],
        4,
        "{}",
        r.describe()
    );
    assert_eq!(info["points_count"], 1, "{}", r.describe());
}

/// A collection name becomes a directory. `.`, `..`, a slash or an over-long
/// name must be refused before touching the disk, or a request could write or
/// delete outside the storage directory.
#[tokio::test]
async fn invalid_names_are_rejected() {
    let server = TestServer::start().await;
    let body = r#"{"vectors": {"size": 2, "distance": "Dot"}}"#;
    let long = "x".repeat(256);
    let attempts = [
        "/collections/.".to_string(),
        "/collections/..".to_string(),
        "/collections/%2E".to_string(),
        "/collections/%2E%2E".to_string(),
        "/collections/a%2Fb".to_string(),
        "/collections/..%2F..%2Fescape".to_string(),
        "/collections/a/b".to_string(),
        format!("/collections/{long}"),
    ];
    for path in &attempts {
        let (status, text) = server.raw_http("PUT", path, body);
        assert!(
            (400..500).contains(&status),
            "PUT {path} must be a 4xx, got {status} {text}"
        );
    }
    // Nothing was created, inside or outside storage.
    let r = server.get("/collections").await;
    assert_eq!(
        r.ok()["collections"],
        json!([]),
        "no collection may come out of an invalid name: {}",
        r.describe()
    );
    let mut stray = Vec::new();
    walk(server.dir(), &mut |path| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if ["a", "b", "escape", long.as_str()].contains(&name.as_str()) {
            stray.push(path.display().to_string());
        }
    });
    assert!(
        stray.is_empty(),
        "invalid names reached the disk: {stray:?}"
    );
    let parent = server.dir().parent().expect("temp parent");
    assert!(
        !parent.join("escape").exists(),
        "a traversal name created a directory outside the server's tree"
    );
    assert!(server.get("/healthz").await.status == 200);
}

/// A collection cannot take a name an alias already uses: requests to that name
/// would become ambiguous.
#[tokio::test]
async fn collection_name_taken_by_alias_is_rejected() {
    let server = TestServer::start().await;
    server
        .create_collection(
            "target",
            &json!({"vectors": {"size": 2, "distance": "Dot"}}),
        )
        .await;
    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"create_alias": {"collection_name": "target", "alias_name": "nick"}}]}),
        )
        .await;
    r.ok();
    let r = server
        .put(
            "/collections/nick",
            &json!({"vectors": {"size": 2, "distance": "Dot"}}),
        )
        .await;
    r.err_4xx();
    let r = server.get("/collections").await;
    let names: Vec<&str> = r.ok()["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, vec!["target"], "{}", r.describe());
}

fn walk(dir: &std::path::Path, visit: &mut dyn FnMut(&std::path::Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        visit(&path);
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, visit);
        }
    }
}
