//! Service endpoints every client and orchestrator touches first: version info,
//! health probes, authentication and the error envelope.

use serde_json::json;

use crate::harness::{Method, TestServer};

/// The Python client reads `GET /` on construction and warns unless the server
/// reports a semver version whose major equals and minor is within one of its
/// own (1.18). A missing or malformed version means a warning in every user's
/// program; the bare object (no envelope) is what the client parses.
#[tokio::test]
async fn root_reports_a_qdrant_1_18_version() {
    let server = TestServer::start().await;
    let r = server.get("/").await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(
        r.json["title"].as_str().is_some_and(|t| !t.is_empty()),
        "title must be a string: {}",
        r.describe()
    );
    let version = r.json["version"]
        .as_str()
        .unwrap_or_else(|| panic!("version must be a string: {}", r.describe()));
    let parts: Vec<&str> = version.split('.').collect();
    assert_eq!(parts.len(), 3, "version {version:?} is not x.y.z");
    assert_eq!(parts[0], "1", "major version of {version:?}");
    assert_eq!(parts[1], "18", "minor version of {version:?}");
    assert!(
        parts[2].parse::<u32>().is_ok(),
        "patch of {version:?} is not a number"
    );
    // Built from a git checkout (as the tests always are): the commit it was built from.
    let commit = r.json["commit"].as_str().unwrap_or_default();
    assert!(
        commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "commit must be the 40-digit commit id: {}",
        r.describe()
    );
    let keys: Vec<&String> = r.json.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(keys, ["title", "version", "commit"], "GET / has exactly these keys: {}", r.describe());
    assert!(
        r.json.get("result").is_none(),
        "GET / is a bare object, not an envelope: {}",
        r.describe()
    );
}

/// Kubernetes probes hit these without credentials and compare the plain-text
/// body; a probe that needs an API key takes every pod out of service.
#[tokio::test]
async fn health_probes_answer_plain_text_without_credentials() {
    let server = TestServer::start().await;
    for (path, body) in [
        ("/healthz", "healthz check passed"),
        ("/livez", "healthz check passed"),
        ("/readyz", "all shards are ready"),
    ] {
        let r = server.req_anonymous(Method::GET, path).await;
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.text.trim(), body, "{}", r.describe());
        assert!(
            r.content_type.starts_with("text/plain"),
            "{path} must be text/plain, got {:?}",
            r.content_type
        );
    }
    // `GET /` is whitelisted too: clients run the version check before any key
    // is known to be right.
    let r = server.req_anonymous(Method::GET, "/").await;
    assert_eq!(r.status, 200, "{}", r.describe());
}

/// Auth is on by default: data routes without a key must be refused with 401,
/// and a wrong key must not work. Without this, every other test here would pass
/// against a server that ignores `api-key` entirely.
#[tokio::test]
async fn data_routes_require_the_api_key() {
    let server = TestServer::start().await;
    let r = server.req_anonymous(Method::GET, "/collections").await;
    assert_eq!(r.status, 401, "{}", r.describe());
    assert!(
        r.text
            .contains("Must provide an API key or an Authorization bearer token"),
        "401 must say what is missing: {}",
        r.describe()
    );

    let wrong = server
        .client()
        .get(server.url("/collections"))
        .header("api-key", "definitely-not-the-key")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status().as_u16(), 401, "a wrong key must be refused");

    let bearer = server
        .client()
        .get(server.url("/collections"))
        .header("authorization", format!("Bearer {}", server.api_key()))
        .send()
        .await
        .expect("request");
    assert_eq!(
        bearer.status().as_u16(),
        200,
        "the key as a bearer token is accepted by Qdrant and its clients"
    );

    let r = server.get("/collections").await;
    r.ok();
}

/// Clients turn `status.error` into the exception text the user sees; a 404 for
/// a missing collection must use the envelope and name the collection.
#[tokio::test]
async fn unknown_collection_is_a_404_envelope_naming_it() {
    let server = TestServer::start().await;
    let r = server.get("/collections/no_such_collection").await;
    let message = r.err(404);
    assert!(
        message.contains("no_such_collection"),
        "error must name the collection: {message}"
    );
    assert!(
        message.starts_with("Not found"),
        "Qdrant's text is `Not found: Collection ... doesn't exist!`, got {message:?}"
    );
    assert!(
        r.content_type.starts_with("application/json"),
        "errors are JSON: {:?}",
        r.content_type
    );

    // The same holds for point routes under a missing collection.
    let r = server
        .post(
            "/collections/no_such_collection/points/search",
            &json!({"vector": [0.1, 0.2], "limit": 3}),
        )
        .await;
    let message = r.err(404);
    assert!(message.contains("no_such_collection"), "{message}");
}

/// Every success uses `{"result", "status": "ok", "time"}`; clients parse
/// exactly those fields.
#[tokio::test]
async fn success_envelope_has_result_status_and_time() {
    let server = TestServer::start().await;
    let r = server.get("/collections").await;
    let result = r.ok();
    assert!(
        result["collections"]
            .as_array()
            .is_some_and(|c| c.is_empty()),
        "a fresh server lists no collections: {}",
        r.describe()
    );
    assert!(
        r.content_type.starts_with("application/json"),
        "{:?}",
        r.content_type
    );
}

async fn two_small_collections(server: &TestServer) {
    for (name, n) in [("first", 3u64), ("second", 5u64)] {
        server
            .create_collection(name, &json!({"vectors": {"size": 2, "distance": "Dot"}}))
            .await;
        let pts: Vec<serde_json::Value> = (0..n)
            .map(|i| json!({"id": i, "vector": [1.0, i as f32]}))
            .collect();
        server.upsert(name, &json!({"points": pts})).await;
    }
}

/// Issue 2: a single node answers the cluster routes as a one-peer cluster in
/// Qdrant's shape (tools such as the Web UI and operators read these).
#[tokio::test]
async fn cluster_routes_describe_a_one_peer_cluster() {
    let server = TestServer::start().await;
    two_small_collections(&server).await;
    let r = server.get("/cluster").await;
    let cluster = r.ok();
    assert_eq!(cluster["status"], "enabled", "{}", r.describe());
    let peer_id = cluster["peer_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("peer_id must be an integer: {}", r.describe()));
    let peers = cluster["peers"].as_object().expect("peers object");
    assert_eq!(peers.len(), 1, "{}", r.describe());
    assert!(
        peers[&peer_id.to_string()]["uri"].is_string(),
        "this peer is listed with its uri: {}",
        r.describe()
    );
    let raft = &cluster["raft_info"];
    assert_eq!(raft["leader"], peer_id, "this peer leads: {}", r.describe());
    assert_eq!(raft["role"], "Leader", "{}", r.describe());
    assert_eq!(raft["is_voter"], true, "{}", r.describe());
    assert!(
        raft["term"].is_u64() && raft["commit"].is_u64(),
        "{}",
        r.describe()
    );
    assert!(raft["pending_operations"].is_u64(), "{}", r.describe());
    assert!(
        cluster["consensus_thread_status"].is_object(),
        "{}",
        r.describe()
    );
    assert!(
        cluster["message_send_failures"].is_object(),
        "{}",
        r.describe()
    );

    let r = server.get("/collections/first/cluster").await;
    let info = r.ok();
    assert_eq!(info["peer_id"], peer_id, "{}", r.describe());
    assert_eq!(info["shard_count"], 1, "{}", r.describe());
    assert_eq!(info["local_shards"][0]["shard_id"], 0, "{}", r.describe());
    assert_eq!(
        info["local_shards"][0]["points_count"],
        3,
        "{}",
        r.describe()
    );
    assert_eq!(
        info["local_shards"][0]["state"],
        "Active",
        "{}",
        r.describe()
    );
    assert_eq!(info["remote_shards"], json!([]), "{}", r.describe());
    assert_eq!(info["shard_transfers"], json!([]), "{}", r.describe());
    server.get("/collections/nope/cluster").await.err(404);

    // Not whitelisted: cluster topology needs credentials.
    let r = server.req_anonymous(Method::GET, "/cluster").await;
    assert_eq!(r.status, 401, "{}", r.describe());
}

/// Issue 2: telemetry and Prometheus metrics give per-collection counts and
/// request counters, which is what monitoring dashboards scrape.
#[tokio::test]
async fn telemetry_and_metrics_count_collections_and_requests() {
    let server = TestServer::start().await;
    two_small_collections(&server).await;
    for _ in 0..3 {
        server.get("/collections").await.ok();
    }

    let r = server.get("/telemetry").await;
    let t = r.ok();
    assert!(t["id"].is_string(), "{}", r.describe());
    assert_eq!(
        t["collections"]["number_of_collections"],
        2,
        "{}",
        r.describe()
    );
    let responses = t["requests"]["rest"]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("requests.rest.responses: {}", r.describe()));
    assert!(!responses.is_empty(), "request counters: {}", r.describe());

    let r = server.get("/metrics").await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(
        r.content_type.starts_with("text/plain"),
        "{:?}",
        r.content_type
    );
    let lines: Vec<&str> = r.text.lines().collect();
    assert!(
        lines.contains(&"collections_total 2"),
        "Qdrant's `collections_total` gauge: {}",
        r.text
    );
    for (name, n) in [("first", 3), ("second", 5)] {
        assert!(
            lines.iter().any(|l| !l.starts_with('#')
                && l.contains(&format!("collection=\"{name}\""))
                && l.ends_with(&format!(" {n}"))),
            "a per-collection point count for {name}: {}",
            r.text
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("rest_responses_total{")),
        "Qdrant's `rest_responses_total` counter: {}",
        r.text
    );
    let r = server.req_anonymous(Method::GET, "/metrics").await;
    assert_eq!(r.status, 401, "metrics need credentials: {}", r.describe());
}

/// Deployments written for Qdrant pass its flags; Osprey must start with them,
/// serve normally, and say in its log which ones a single node ignores.
#[tokio::test]
async fn qdrant_cluster_flags_are_accepted_with_a_warning() {
    let server = TestServer::start_with_args(&[
        "--disable-telemetry",
        "--uri",
        "http://127.0.0.1:1",
        "--bootstrap",
        "http://127.0.0.1:2",
        "--reinit",
    ])
    .await;
    server.get("/collections").await.ok();
    let log = server.log();
    for flag in ["--uri", "--bootstrap"] {
        assert!(
            log.lines().any(|l| l.contains("WARN") && l.contains(flag)),
            "{flag} must be named in a warning:\n{log}"
        );
    }
}
