//! Aliases: the zero-downtime reindex pattern (build a new collection, swap the
//! alias) only works if aliases route every call and swaps are atomic.

use serde_json::{Value, json};

use crate::harness::TestServer;

async fn two_collections(server: &TestServer) {
    for (name, n) in [("v1", 3u64), ("v2", 5u64)] {
        server
            .create_collection(name, &json!({"vectors": {"size": 2, "distance": "Dot"}}))
            .await;
        let pts: Vec<Value> = (0..n)
            .map(|i| json!({"id": i, "vector": [1.0, i as f32], "payload": {"from": name}}))
            .collect();
        server.upsert(name, &json!({"points": pts})).await;
    }
}

async fn aliases(server: &TestServer, path: &str) -> Vec<(String, String)> {
    let r = server.get(path).await;
    let mut out: Vec<(String, String)> = r.ok()["aliases"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.describe()))
        .iter()
        .map(|a| {
            (
                a["alias_name"].as_str().expect("alias_name").to_string(),
                a["collection_name"]
                    .as_str()
                    .expect("collection_name")
                    .to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pair(a: &str, c: &str) -> (String, String) {
    (a.to_string(), c.to_string())
}

/// An alias answers every collection route as its target: info, count, search,
/// retrieve, and writes land in the target.
#[tokio::test]
async fn alias_routes_reads_and_writes_to_its_collection() {
    let server = TestServer::start().await;
    two_collections(&server).await;
    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"create_alias": {"collection_name": "v1", "alias_name": "live"}}]}),
        )
        .await;
    assert_eq!(r.ok(), &json!(true), "{}", r.describe());
    assert_eq!(aliases(&server, "/aliases").await, vec![pair("live", "v1")]);
    assert_eq!(
        aliases(&server, "/collections/v1/aliases").await,
        vec![pair("live", "v1")]
    );
    assert_eq!(aliases(&server, "/collections/v2/aliases").await, vec![]);

    let r = server.get("/collections/live").await;
    assert_eq!(r.ok()["points_count"], 3, "{}", r.describe());
    assert_eq!(server.count("live", None).await, 3);
    let r = server
        .post(
            "/collections/live/points/search",
            &json!({"vector": [0.0, 1.0], "limit": 1, "with_payload": true}),
        )
        .await;
    assert_eq!(r.ok()[0]["payload"]["from"], "v1", "{}", r.describe());
    let r = server.get("/collections/live/points/2").await;
    assert_eq!(r.ok()["payload"]["from"], "v1");
    let r = server.get("/collections/live/exists").await;
    assert_eq!(r.ok(), &json!({"exists": true}), "{}", r.describe());

    server
        .upsert(
            "live",
            &json!({"points": [{"id": 100, "vector": [1.0, 1.0], "payload": {"via": "alias"}}]}),
        )
        .await;
    assert_eq!(
        server.count("v1", None).await,
        4,
        "a write through the alias lands in v1"
    );
    assert_eq!(server.count("v2", None).await, 5);
}

/// Deleting and recreating an alias in one request is the swap. Readers must
/// see the old or the new target, and afterwards only the new one.
#[tokio::test]
async fn alias_swap_and_rename() {
    let server = TestServer::start().await;
    two_collections(&server).await;
    server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"create_alias": {"collection_name": "v1", "alias_name": "live"}}]}),
        )
        .await
        .ok();
    assert_eq!(server.count("live", None).await, 3);

    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [
                {"delete_alias": {"alias_name": "live"}},
                {"create_alias": {"collection_name": "v2", "alias_name": "live"}}
            ]}),
        )
        .await;
    assert_eq!(r.ok(), &json!(true), "{}", r.describe());
    assert_eq!(
        server.count("live", None).await,
        5,
        "the alias now routes to v2"
    );
    assert_eq!(aliases(&server, "/aliases").await, vec![pair("live", "v2")]);
    assert_eq!(aliases(&server, "/collections/v1/aliases").await, vec![]);

    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"rename_alias": {"old_alias_name": "live", "new_alias_name": "prod"}}]}),
        )
        .await;
    r.ok();
    assert_eq!(aliases(&server, "/aliases").await, vec![pair("prod", "v2")]);
    server.get("/collections/live").await.err(404);
    assert_eq!(server.count("prod", None).await, 5);

    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"delete_alias": {"alias_name": "prod"}}]}),
        )
        .await;
    r.ok();
    assert_eq!(aliases(&server, "/aliases").await, vec![]);
    server.get("/collections/prod").await.err(404);
    assert_eq!(
        server.count("v2", None).await,
        5,
        "deleting an alias keeps the collection"
    );
}

/// Issue 2: all actions of one alias request are atomic. A request whose second
/// action fails must leave no trace of its first.
#[tokio::test]
async fn failing_alias_request_applies_nothing() {
    let server = TestServer::start().await;
    two_collections(&server).await;
    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [
                {"create_alias": {"collection_name": "v1", "alias_name": "first"}},
                {"create_alias": {"collection_name": "does_not_exist", "alias_name": "second"}}
            ]}),
        )
        .await;
    let message = r.err_4xx();
    assert!(message.contains("does_not_exist"), "{message}");
    assert_eq!(
        aliases(&server, "/aliases").await,
        vec![],
        "no half-applied alias change"
    );
    server.get("/collections/first").await.err(404);

    // A lone alias to a missing collection is a 404 naming it.
    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"create_alias": {"collection_name": "ghost", "alias_name": "boo"}}]}),
        )
        .await;
    assert!(r.err(404).contains("ghost"));
}

/// Dropping a collection drops its aliases, so the name cannot later point at
/// nothing (or at a new collection someone else creates with that name).
#[tokio::test]
async fn deleting_collection_removes_its_aliases() {
    let server = TestServer::start().await;
    two_collections(&server).await;
    server
        .post(
            "/collections/aliases",
            &json!({"actions": [
                {"create_alias": {"collection_name": "v1", "alias_name": "a1"}},
                {"create_alias": {"collection_name": "v1", "alias_name": "a2"}},
                {"create_alias": {"collection_name": "v2", "alias_name": "b1"}}
            ]}),
        )
        .await
        .ok();
    server.delete("/collections/v1").await.ok();
    assert_eq!(aliases(&server, "/aliases").await, vec![pair("b1", "v2")]);
    server.get("/collections/a1").await.err(404);
}

/// Issue 14: an alias named like an existing collection is a conflict (409,
/// as Qdrant's `StorageError::AlreadyExists`), for create and rename alike,
/// and changes nothing.
#[tokio::test]
async fn alias_named_like_a_collection_is_a_conflict() {
    let server = TestServer::start().await;
    two_collections(&server).await;
    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"create_alias": {"collection_name": "v1", "alias_name": "v2"}}]}),
        )
        .await;
    assert!(r.err(409).contains("Collection with name `v2` already exists!"));
    server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"create_alias": {"collection_name": "v1", "alias_name": "current"}}]}),
        )
        .await
        .ok();
    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"rename_alias": {"old_alias_name": "current", "new_alias_name": "v1"}}]}),
        )
        .await;
    assert!(r.err(409).contains("already exists"));
    assert_eq!(aliases(&server, "/aliases").await.len(), 1);
}
