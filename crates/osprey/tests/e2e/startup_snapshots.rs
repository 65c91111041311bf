//! Startup snapshot recovery: `--storage-snapshot PATH`, `--snapshot PATH:COLLECTION`
//! and `--force-snapshot`, as Qdrant runs them before it serves.
//!
//! These flags used to be accepted and ignored with a warning, so a restore script
//! written for Qdrant started an empty server that looked healthy. Each test makes
//! real snapshots over REST on one server and starts another from them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{TestServer, free_port};

const DOCS: u64 = 20;
const NOTES: u64 = 7;

/// Snapshot files copied out of the server that made them (which is gone by then).
struct Snapshots {
    _dir: tempfile::TempDir,
    /// `POST /snapshots`: `docs`, `notes` and the alias `current` -> `docs`.
    full: PathBuf,
    /// `POST /collections/docs/snapshots`.
    docs: PathBuf,
}

fn doc_vector(i: u64) -> Vec<f32> {
    vec![i as f32, 1.0, (i % 3) as f32, -0.5]
}

async fn make_snapshots() -> Snapshots {
    let source = TestServer::start().await;
    source
        .create_collection("docs", &json!({"vectors": {"size": 4, "distance": "Dot"}}))
        .await;
    let points: Vec<Value> = (0..DOCS)
        .map(|i| json!({"id": i, "vector": doc_vector(i), "payload": {"title": format!("doc {i}"), "n": i}}))
        .collect();
    source.upsert("docs", &json!({"points": points})).await;
    source
        .create_collection(
            "notes",
            &json!({"vectors": {"size": 2, "distance": "Euclid"}}),
        )
        .await;
    let points: Vec<Value> = (0..NOTES)
        .map(|i| json!({"id": 100 + i, "vector": [i as f32, 0.0], "payload": {"text": format!("note {i}")}}))
        .collect();
    source.upsert("notes", &json!({"points": points})).await;
    let r = source
        .post(
            "/collections/aliases",
            &json!({"actions": [{"create_alias": {"collection_name": "docs", "alias_name": "current"}}]}),
        )
        .await;
    assert_eq!(r.ok(), &json!(true), "{}", r.describe());

    let full = source.post("/snapshots?wait=true", &json!({})).await;
    let full = source
        .dir()
        .join("snapshots")
        .join(full.ok()["name"].as_str().expect("snapshot name"));
    let docs = source
        .post("/collections/docs/snapshots?wait=true", &json!({}))
        .await;
    let docs = source
        .dir()
        .join("snapshots/docs")
        .join(docs.ok()["name"].as_str().expect("snapshot name"));

    let dir = tempfile::Builder::new()
        .prefix("osprey-e2e-snapshots-")
        .tempdir()
        .expect("create temp dir");
    let copy = |from: &Path, name: &str| {
        let to = dir.path().join(name);
        std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        to
    };
    Snapshots {
        full: copy(&full, "full.snapshot"),
        docs: copy(&docs, "docs.snapshot"),
        _dir: dir,
    }
}

fn arg(path: &Path) -> String {
    path.to_str().expect("utf-8 temp path").to_owned()
}

fn names(r: &Value, list: &str, key: &str) -> Vec<String> {
    let mut out: Vec<String> = r[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {r}"))
        .iter()
        .map(|c| c[key].as_str().expect("name").to_owned())
        .collect();
    out.sort();
    out
}

/// `collection` holds exactly the `docs` data: count, a payload, a vector, and the
/// order of a search.
async fn assert_docs(server: &TestServer, collection: &str) {
    assert_eq!(server.count(collection, None).await, DOCS, "{collection}");
    let r = server
        .get(&format!("/collections/{collection}/points/7"))
        .await;
    let point = r.ok();
    assert_eq!(
        point["payload"],
        json!({"title": "doc 7", "n": 7}),
        "{}",
        r.describe()
    );
    assert_eq!(point["vector"], json!(doc_vector(7)), "{}", r.describe());
    let r = server
        .post(
            &format!("/collections/{collection}/points/search"),
            &json!({"vector": [1.0, 0.0, 0.0, 0.0], "limit": 3, "with_payload": true}),
        )
        .await;
    let hits = r
        .ok()
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.describe()));
    let ids: Vec<u64> = hits.iter().map(|h| h["id"].as_u64().expect("id")).collect();
    assert_eq!(ids, [19, 18, 17], "{}", r.describe());
    assert_eq!(hits[0]["payload"]["title"], "doc 19");
    assert_eq!(hits[0]["score"].as_f64(), Some(19.0));
}

async fn delete_points(server: &TestServer, collection: &str, ids: &[u64]) {
    let r = server
        .post(
            &format!("/collections/{collection}/points/delete?wait=true"),
            &json!({"points": ids}),
        )
        .await;
    assert_eq!(r.ok()["status"], "completed", "{}", r.describe());
}

// Prevents `--storage-snapshot` from starting an empty server that looks healthy: a
// new server on an empty storage directory serves every collection of the full
// snapshot with its points, payloads and vectors, and the alias. Restarted with the
// same flag after a change, it leaves the existing collection alone (no
// --force-snapshot) and says so.
#[tokio::test]
async fn storage_snapshot_restores_collections_points_and_aliases() {
    let snapshots = make_snapshots().await;
    let mut server =
        TestServer::start_with_args(&["--storage-snapshot", &arg(&snapshots.full)]).await;

    let r = server.get("/collections").await;
    assert_eq!(names(r.ok(), "collections", "name"), ["docs", "notes"]);
    assert_docs(&server, "docs").await;
    assert_docs(&server, "current").await;
    assert_eq!(server.count("notes", None).await, NOTES);
    let r = server.get("/collections/notes/points/103").await;
    assert_eq!(
        r.ok()["payload"],
        json!({"text": "note 3"}),
        "{}",
        r.describe()
    );
    let r = server.get("/aliases").await;
    assert_eq!(
        r.ok()["aliases"],
        json!([{"alias_name": "current", "collection_name": "docs"}])
    );

    delete_points(&server, "docs", &[0, 1, 2]).await;
    server.restart().await;
    assert_eq!(
        server.count("docs", None).await,
        DOCS - 3,
        "existing collection kept"
    );
    let log = server.log();
    assert!(
        log.contains("collection `docs` not recovered") && log.contains("--force-snapshot"),
        "the skip is logged:\n{log}"
    );
}

// Prevents `--snapshot PATH:COLLECTION` from being ignored or from recovering under
// the snapshot's own name: the collection appears under the name given, and a
// restart with the same flag skips it once it exists.
#[tokio::test]
async fn collection_snapshot_restores_under_the_given_name() {
    let snapshots = make_snapshots().await;
    let spec = format!("{}:renamed", arg(&snapshots.docs));
    let mut server = TestServer::start_with_args(&["--snapshot", &spec]).await;

    let r = server.get("/collections").await;
    assert_eq!(names(r.ok(), "collections", "name"), ["renamed"]);
    assert_docs(&server, "renamed").await;

    delete_points(&server, "renamed", &[19]).await;
    server.restart().await;
    assert_eq!(
        server.count("renamed", None).await,
        DOCS - 1,
        "not replaced without --force-snapshot"
    );
    assert!(
        server.log().contains("collection `renamed` not recovered"),
        "{}",
        server.log()
    );
}

// Prevents --force-snapshot from being ignored: with it, an existing collection is
// replaced by the snapshot at every start, and a full snapshot also puts its
// aliases back where they pointed.
#[tokio::test]
async fn force_snapshot_replaces_existing_collections() {
    let snapshots = make_snapshots().await;
    let spec = format!("{}:docs", arg(&snapshots.docs));
    let mut server = TestServer::start_with_args(&["--snapshot", &spec, "--force-snapshot"]).await;
    assert_docs(&server, "docs").await;
    delete_points(&server, "docs", &[0, 1, 2, 3, 4]).await;
    assert_eq!(server.count("docs", None).await, DOCS - 5);
    server.restart().await;
    assert_docs(&server, "docs").await;

    let mut server =
        TestServer::start_with_args(&["--storage-snapshot", &arg(&snapshots.full), "-f"]).await;
    delete_points(&server, "docs", &[5, 6]).await;
    let r = server
        .post(
            "/collections/aliases",
            &json!({"actions": [{"create_alias": {"collection_name": "notes", "alias_name": "current"}}]}),
        )
        .await;
    assert_eq!(r.ok(), &json!(true), "{}", r.describe());
    server.restart().await;
    assert_docs(&server, "docs").await;
    assert_docs(&server, "current").await;
    assert_eq!(server.count("notes", None).await, NOTES);
}

/// Starts the binary on a fresh storage directory with `args`, expecting it to exit
/// on its own; returns whether it succeeded and what it printed.
fn start_expecting_exit(args: &[String]) -> (bool, String) {
    let dir = tempfile::Builder::new()
        .prefix("osprey-e2e-")
        .tempdir()
        .expect("create temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_osprey"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("QDRANT") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .args(args)
        .current_dir(dir.path())
        .env("QDRANT__SERVICE__HOST", "127.0.0.1")
        .env("QDRANT__SERVICE__HTTP_PORT", free_port().to_string())
        .env("QDRANT__SERVICE__GRPC_PORT", free_port().to_string())
        .env("QDRANT__STORAGE__STORAGE_PATH", dir.path().join("storage"))
        .env(
            "QDRANT__STORAGE__SNAPSHOTS_PATH",
            dir.path().join("snapshots"),
        )
        .env("QDRANT__SERVICE__API_KEY", "e2e-startup-snapshot-key")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn osprey binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait for osprey").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "osprey {args:?} kept running instead of stopping the start\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

// Prevents serving with a recovery silently missing: a snapshot file that is
// missing, not a snapshot, or the wrong kind stops the start with a non-zero exit
// and an error that names the file.
#[tokio::test]
async fn bad_snapshot_files_stop_the_start() {
    let snapshots = make_snapshots().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.snapshot");
    let garbage = dir.path().join("garbage.snapshot");
    std::fs::write(&garbage, vec![0x42u8; 4096]).unwrap();
    let truncated = dir.path().join("truncated.snapshot");
    let bytes = std::fs::read(&snapshots.full).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let cases: Vec<(Vec<String>, &Path)> = vec![
        (
            vec!["--snapshot".into(), format!("{}:x", arg(&missing))],
            &missing,
        ),
        (
            vec!["--snapshot".into(), format!("{}:x", arg(&garbage))],
            &garbage,
        ),
        (
            // A full snapshot where a collection snapshot belongs.
            vec!["--snapshot".into(), format!("{}:x", arg(&snapshots.full))],
            &snapshots.full,
        ),
        (vec!["--storage-snapshot".into(), arg(&missing)], &missing),
        (
            vec!["--storage-snapshot".into(), arg(&truncated)],
            &truncated,
        ),
        (
            vec!["--storage-snapshot".into(), arg(&snapshots.docs)],
            &snapshots.docs,
        ),
    ];
    for (args, file) in cases {
        let (ok, output) = start_expecting_exit(&args);
        assert!(!ok, "{args:?} must stop the start:\n{output}");
        assert!(
            output.contains("osprey: error:") && output.contains(&arg(file)),
            "{args:?}: the error names the file:\n{output}"
        );
    }
}
