//! Snapshot routes through the whole router (authentication, access check,
//! extractors, handlers) against a real storage in a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{HeaderMap, Method, Request, StatusCode, header};
use osprey_auth::{AuthConfig, Authenticator};
use osprey_engine::{Storage, StorageConfig};
use osprey_rest::{RestContext, RestOptions, router};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

const ADMIN: &str = "snapshot-admin-key-of-at-least-32-bytes!";
const READ_ONLY: &str = "snapshot-read-only-key";
const BOUNDARY: &str = "snapshotboundary";

struct Server {
    app: Router,
    dir: TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn error(&self) -> String {
        self.json()["status"]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {}", self.text()))
            .to_owned()
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Server {
    fn new(options: RestOptions) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(StorageConfig {
            storage_path: dir.path().join("storage"),
            snapshots_path: dir.path().join("snapshots"),
        })
        .unwrap();
        let auth = Arc::new(Authenticator::new(AuthConfig {
            api_key: Some(ADMIN.into()),
            read_only_api_key: Some(READ_ONLY.into()),
            ..AuthConfig::default()
        }));
        let app = router(RestContext {
            storage,
            auth,
            keys: None,
            options,
        });
        Server { app, dir }
    }

    /// A server with collection `c`: 20 points and a keyword index on `tag`.
    async fn populated() -> Server {
        Server::populated_with(RestOptions::default()).await
    }

    async fn populated_with(options: RestOptions) -> Server {
        let server = Server::new(options);
        server
            .ok(
                Method::PUT,
                "/collections/c",
                json!({"vectors": {"size": 2, "distance": "Dot"}}),
            )
            .await;
        let points: Vec<Value> = (0..20)
            .map(|i| json!({"id": i, "vector": [i as f32, 1.0], "payload": {"tag": format!("t{}", i % 2)}}))
            .collect();
        server
            .ok(
                Method::PUT,
                "/collections/c/points?wait=true",
                json!({"points": points}),
            )
            .await;
        server
            .ok(
                Method::PUT,
                "/collections/c/index?wait=true",
                json!({"field_name": "tag", "field_schema": "keyword"}),
            )
            .await;
        server
    }

    fn snapshots(&self) -> PathBuf {
        self.dir.path().join("snapshots")
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        content_type: Option<String>,
        body: Body,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            req = req.header("api-key", key);
        }
        if let Some(content_type) = content_type {
            req = req.header(header::CONTENT_TYPE, content_type);
        }
        let response = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        self.as_key(ADMIN, method, uri, body).await
    }

    async fn as_key(&self, key: &str, method: Method, uri: &str, body: Option<Value>) -> Reply {
        match body {
            Some(v) => {
                self.send(
                    method,
                    uri,
                    Some(key),
                    Some("application/json".into()),
                    Body::from(v.to_string()),
                )
                .await
            }
            None => self.send(method, uri, Some(key), None, Body::empty()).await,
        }
    }

    /// An admin call that must answer 200; returns `result`.
    async fn ok(&self, method: Method, uri: &str, body: Value) -> Value {
        let reply = self.admin(method, uri, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
        reply.json()["result"].clone()
    }

    async fn upload(&self, key: &str, uri: &str, file_name: &str, data: &[u8]) -> Reply {
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"snapshot\"; \
             filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        self.send(
            Method::POST,
            uri,
            Some(key),
            Some(format!("multipart/form-data; boundary={BOUNDARY}")),
            Body::from(body),
        )
        .await
    }

    async fn count(&self, collection: &str) -> u64 {
        let reply = self
            .admin(
                Method::POST,
                &format!("/collections/{collection}/points/count"),
                Some(json!({"exact": true})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["result"]["count"].as_u64().unwrap()
    }

    async fn delete_points(&self, ids: Vec<u64>) {
        self.ok(
            Method::POST,
            "/collections/c/points/delete?wait=true",
            json!({"points": ids}),
        )
        .await;
    }

    /// Creates a snapshot of `c` and returns its description.
    async fn snapshot(&self) -> Value {
        let reply = self
            .admin(Method::POST, "/collections/c/snapshots", None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["result"].clone()
    }
}

/// Every file below `dir`, relative.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(
                    entry
                        .path()
                        .strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

// Prevents a broken snapshot lifecycle over REST: create -> list -> download
// (the exact bytes of the file, as application/octet-stream) -> delete points
// -> recover from file:// with the checksum -> points back -> delete.
#[tokio::test]
async fn create_list_download_recover_delete() {
    let server = Server::populated().await;
    let description = server.snapshot().await;
    let name = description["name"].as_str().unwrap().to_owned();
    assert!(
        name.starts_with("c-") && name.ends_with(".snapshot"),
        "{description}"
    );
    let checksum = description["checksum"].as_str().unwrap().to_owned();
    assert_eq!(checksum.len(), 64);
    assert!(description["creation_time"].is_string());
    let file = server.snapshots().join("c").join(&name);
    let on_disk = std::fs::read(&file).unwrap();
    assert_eq!(description["size"], json!(on_disk.len()));

    let list = server
        .admin(Method::GET, "/collections/c/snapshots", None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["result"], json!([description.clone()]));

    let download = server
        .admin(
            Method::GET,
            &format!("/collections/c/snapshots/{name}"),
            None,
        )
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(
        download.header(header::CONTENT_TYPE),
        "application/octet-stream"
    );
    assert_eq!(
        download.header(header::CONTENT_LENGTH),
        on_disk.len().to_string()
    );
    assert!(download.body == on_disk, "downloaded bytes differ");
    // Downloads are read-level: the read-only key may fetch them.
    let read_only = server
        .as_key(
            READ_ONLY,
            Method::GET,
            &format!("/collections/c/snapshots/{name}"),
            None,
        )
        .await;
    assert_eq!(read_only.status, StatusCode::OK);
    assert!(read_only.body == on_disk);

    server.delete_points((0..15).collect()).await;
    assert_eq!(server.count("c").await, 5);
    let recover = server
        .admin(
            Method::PUT,
            "/collections/c/snapshots/recover",
            Some(
                json!({"location": file_url(&file), "checksum": checksum, "priority": "snapshot"}),
            ),
        )
        .await;
    assert_eq!(recover.status, StatusCode::OK, "{}", recover.text());
    assert_eq!(recover.json()["result"], json!(true));
    assert_eq!(server.count("c").await, 20);
    let info = server.admin(Method::GET, "/collections/c", None).await;
    assert!(info.json()["result"]["payload_schema"]["tag"].is_object());

    let deleted = server
        .admin(
            Method::DELETE,
            &format!("/collections/c/snapshots/{name}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert_eq!(deleted.json()["result"], json!(true));
    let gone = server
        .admin(
            Method::GET,
            &format!("/collections/c/snapshots/{name}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.error(),
        format!("Not found: Snapshot {name} not found")
    );
    let list = server
        .admin(Method::GET, "/collections/c/snapshots", None)
        .await;
    assert_eq!(list.json()["result"], json!([]));
}

// Prevents a wrong checksum from being accepted on the file:// path: 400,
// and the collection is left as it was.
#[tokio::test]
async fn recover_with_a_wrong_checksum_is_refused() {
    let server = Server::populated().await;
    let name = server.snapshot().await["name"].as_str().unwrap().to_owned();
    server.delete_points(vec![0, 1, 2]).await;
    let reply = server
        .admin(
            Method::PUT,
            "/collections/c/snapshots/recover",
            Some(json!({
                "location": file_url(&server.snapshots().join("c").join(&name)),
                "checksum": "ab".repeat(32),
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(
        reply.error().contains("checksum mismatch"),
        "{}",
        reply.text()
    );
    assert_eq!(server.count("c").await, 17);
}

// Prevents wait=false from blocking or being ignored: 202 with Qdrant's
// accepted body at once, and the snapshot appears soon after.
#[tokio::test]
async fn create_without_wait_is_accepted() {
    let server = Server::populated().await;
    let reply = server
        .admin(Method::POST, "/collections/c/snapshots?wait=false", None)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["status"], json!("accepted"));
    assert!(body["time"].is_number());
    assert!(body.get("result").is_none());
    for _ in 0..100 {
        let list = server
            .admin(Method::GET, "/collections/c/snapshots", None)
            .await;
        if list.json()["result"].as_array().unwrap().len() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the background snapshot never appeared");
}

// Prevents the 1.8.3 traversal on download/delete: encoded `../` names, the
// checksum file and other non-snapshot names are 404 for collection and full
// snapshots, and nothing outside the snapshot directory is read or removed.
#[tokio::test]
async fn traversal_names_are_not_found() {
    let server = Server::populated().await;
    let name = server.snapshot().await["name"].as_str().unwrap().to_owned();
    let meta = server.dir.path().join("storage/meta.redb");
    let before = std::fs::read(&meta).unwrap().len();
    let names = [
        ("..%2F..%2Fmeta.redb", "../../meta.redb".to_owned()),
        (
            "..%2F..%2Fstorage%2Fmeta.redb",
            "../../storage/meta.redb".to_owned(),
        ),
        (
            "%2E%2E%2F%2E%2E%2Fstorage%2Fmeta.redb",
            "../../storage/meta.redb".to_owned(),
        ),
        ("..", "..".to_owned()),
        ("%2Fetc%2Fpasswd", "/etc/passwd".to_owned()),
        ("x%00.snapshot", "x\0.snapshot".to_owned()),
        (&*format!("{name}.checksum"), format!("{name}.checksum")),
    ];
    for (encoded, decoded) in &names {
        for prefix in ["/collections/c/snapshots", "/snapshots"] {
            for method in [Method::GET, Method::DELETE] {
                let uri = format!("{prefix}/{encoded}");
                let reply = server.admin(method.clone(), &uri, None).await;
                assert_eq!(
                    reply.status,
                    StatusCode::NOT_FOUND,
                    "{method} {uri}: {}",
                    reply.text()
                );
                assert_eq!(
                    reply.error(),
                    format!("Not found: Snapshot {decoded} not found"),
                    "{method} {uri}"
                );
            }
        }
    }
    assert!(meta.exists());
    assert!(std::fs::read(&meta).unwrap().len() >= before);
    assert!(server.snapshots().join("c").join(&name).exists());
    let list = server
        .admin(Method::GET, "/collections/c/snapshots", None)
        .await;
    assert_eq!(list.json()["result"].as_array().unwrap().len(), 1);
}

// Prevents `file://` recovery of arbitrary server files (1.17.1) and SSRF
// through recovery URLs (1.18.0): outside the snapshots directory is 403
// (directly, via `..`, via a symlink, whether the file exists or not);
// http(s) is 403 when disabled and otherwise a 400 that fetches nothing.
#[tokio::test]
async fn recovery_locations_outside_the_snapshot_dir_are_forbidden() {
    let server = Server::populated().await;
    let snapshots = server.snapshots();
    std::os::unix::fs::symlink("/etc/passwd", snapshots.join("passwd.snapshot")).unwrap();
    let forbidden = format!(
        "Forbidden: Snapshot file path must be inside the snapshots directory {}",
        snapshots.display()
    );
    let outside = [
        "file:///etc/passwd".to_owned(),
        "file://localhost/etc/passwd".to_owned(),
        "file:///no/such/file.snapshot".to_owned(),
        file_url(&server.dir.path().join("storage/meta.redb")),
        format!("file://{}/../storage/meta.redb", snapshots.display()),
        format!("file://{}/%2E%2E/storage/meta.redb", snapshots.display()),
        file_url(&snapshots.join("passwd.snapshot")),
    ];
    for location in &outside {
        let reply = server
            .admin(
                Method::PUT,
                "/collections/c/snapshots/recover",
                Some(json!({ "location": location })),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{location}: {}",
            reply.text()
        );
        assert_eq!(reply.error(), forbidden, "{location}");
        assert!(!reply.text().contains("root:"), "{location}");
    }
    let missing = server
        .admin(
            Method::PUT,
            "/collections/c/snapshots/recover",
            Some(json!({ "location": file_url(&snapshots.join("c/missing.snapshot")) })),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text());

    // Remote URLs: never fetched.
    let remote = json!({"location": "http://127.0.0.1:9/collections/c/snapshots/x.snapshot"});
    let reply = server
        .admin(
            Method::PUT,
            "/collections/c/snapshots/recover",
            Some(remote.clone()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(reply.error().contains("not supported"), "{}", reply.text());
    let disabled = Server::populated_with(RestOptions {
        enable_snapshot_url_recovery: false,
        ..RestOptions::default()
    })
    .await;
    for location in [
        "http://127.0.0.1:9/x.snapshot",
        "HTTPS://example.test/x.snapshot",
    ] {
        let reply = disabled
            .admin(
                Method::PUT,
                "/collections/c/snapshots/recover",
                Some(json!({ "location": location })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
        assert_eq!(
            reply.error(),
            "Forbidden: Snapshot recovery from remote URLs is disabled in the configuration"
        );
    }
    // Other schemes and non-URLs are bad input.
    for location in [
        "ftp://example.test/x.snapshot",
        "/etc/passwd",
        "file:relative",
    ] {
        let reply = server
            .admin(
                Method::PUT,
                "/collections/c/snapshots/recover",
                Some(json!({ "location": location })),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{location}: {}",
            reply.text()
        );
    }
    assert_eq!(server.count("c").await, 20);
}

// Prevents broken uploads and the 1.8.0 upload-name traversal: a multipart
// upload named `../../evil.snapshot` restores a deleted collection, nothing
// lands outside the snapshots directory, and the spooled file is removed; a
// wrong `checksum` is refused (400) and also leaves nothing behind.
#[tokio::test]
async fn upload_restores_the_collection() {
    let server = Server::populated().await;
    let name = server.snapshot().await["name"].as_str().unwrap().to_owned();
    let download = server
        .admin(
            Method::GET,
            &format!("/collections/c/snapshots/{name}"),
            None,
        )
        .await;
    let bytes = download.body;
    let checksum = server
        .admin(Method::GET, "/collections/c/snapshots", None)
        .await
        .json()["result"][0]["checksum"]
        .as_str()
        .unwrap()
        .to_owned();
    let snapshot_files = files_below(&server.snapshots());

    let wrong = server
        .upload(
            ADMIN,
            &format!(
                "/collections/restored/snapshots/upload?checksum={}",
                "0".repeat(64)
            ),
            "c.snapshot",
            &bytes,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text());
    assert!(wrong.error().contains("checksum mismatch"));
    assert_eq!(files_below(&server.snapshots()), snapshot_files);

    let reply = server.admin(Method::DELETE, "/collections/c", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = server
        .upload(
            ADMIN,
            &format!("/collections/c/snapshots/upload?priority=snapshot&checksum={checksum}"),
            "../../evil.snapshot",
            &bytes,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["result"], json!(true));
    assert_eq!(server.count("c").await, 20);
    assert_eq!(
        files_below(&server.snapshots()),
        snapshot_files,
        "upload removed"
    );
    assert!(!server.dir.path().join("evil.snapshot").exists());
    assert!(
        files_below(server.dir.path())
            .iter()
            .all(|f| !f.contains("evil"))
    );

    // Into a new collection, in the background.
    let reply = server
        .upload(
            ADMIN,
            "/collections/copy/snapshots/upload?wait=false",
            "c.snapshot",
            &bytes,
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    for _ in 0..100 {
        let exists = server
            .admin(Method::GET, "/collections/copy/exists", None)
            .await;
        if exists.json()["result"]["exists"] == json!(true) {
            assert_eq!(server.count("copy").await, 20);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the background recovery never finished");
}

// Prevents GHSA-3v92-w72v-j994: the read-only key is refused (plain text 403)
// before the multipart body is read, so nothing is written to disk.
#[tokio::test]
async fn read_only_upload_is_refused_before_the_body() {
    let server = Server::populated().await;
    let before = files_below(server.dir.path());
    let reply = server
        .upload(
            READ_ONLY,
            "/collections/c/snapshots/upload",
            "c.snapshot",
            &vec![7u8; 256 * 1024],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.header(header::CONTENT_TYPE).starts_with("text/plain"));
    assert_eq!(reply.text(), "Forbidden: Global manage access is required");
    assert_eq!(files_below(server.dir.path()), before);
}

// Prevents a multipart body that is not a snapshot from doing harm: 400 for
// garbage and for a form without the `snapshot` field, nothing left behind.
#[tokio::test]
async fn bad_uploads_are_refused() {
    let server = Server::populated().await;
    let before = files_below(&server.snapshots());
    let garbage = server
        .upload(
            ADMIN,
            "/collections/c/snapshots/upload",
            "x.snapshot",
            b"root:x:0:0",
        )
        .await;
    assert_eq!(
        garbage.status,
        StatusCode::BAD_REQUEST,
        "{}",
        garbage.text()
    );
    assert!(!garbage.text().contains("root:x"));
    let no_field = server
        .send(
            Method::POST,
            "/collections/c/snapshots/upload",
            Some(ADMIN),
            Some(format!("multipart/form-data; boundary={BOUNDARY}")),
            Body::from(format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
            )),
        )
        .await;
    assert_eq!(
        no_field.status,
        StatusCode::BAD_REQUEST,
        "{}",
        no_field.text()
    );
    let not_multipart = server
        .send(
            Method::POST,
            "/collections/c/snapshots/upload",
            Some(ADMIN),
            Some("application/json".into()),
            Body::from("{}"),
        )
        .await;
    assert_eq!(
        not_multipart.status,
        StatusCode::BAD_REQUEST,
        "{}",
        not_multipart.text()
    );
    let bad_name = server
        .upload(
            ADMIN,
            "/collections/a%2Fb/snapshots/upload",
            "x.snapshot",
            b"x",
        )
        .await;
    assert_eq!(
        bad_name.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_name.text()
    );
    assert_eq!(files_below(&server.snapshots()), before);
    assert_eq!(server.count("c").await, 20);
}

// Prevents full snapshots regressing: create, list, download, delete with the
// admin key; the read-only key lists and downloads but cannot create.
#[tokio::test]
async fn full_snapshots() {
    let server = Server::populated().await;
    let reply = server.admin(Method::POST, "/snapshots", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let description = reply.json()["result"].clone();
    let name = description["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("full-snapshot-"), "{description}");

    let list = server
        .as_key(READ_ONLY, Method::GET, "/snapshots", None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["result"], json!([description.clone()]));
    let download = server
        .as_key(READ_ONLY, Method::GET, &format!("/snapshots/{name}"), None)
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(
        download.header(header::CONTENT_TYPE),
        "application/octet-stream"
    );
    assert!(download.body == std::fs::read(server.snapshots().join(&name)).unwrap());

    let refused = server
        .as_key(READ_ONLY, Method::POST, "/snapshots", None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let accepted = server
        .admin(Method::POST, "/snapshots?wait=false", None)
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);

    let deleted = server
        .admin(Method::DELETE, &format!("/snapshots/{name}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    let gone = server
        .admin(Method::GET, &format!("/snapshots/{name}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

// Prevents snapshot routes from answering for collections that do not exist.
#[tokio::test]
async fn missing_collection_is_not_found() {
    let server = Server::populated().await;
    for (method, uri) in [
        (Method::GET, "/collections/nope/snapshots"),
        (Method::POST, "/collections/nope/snapshots"),
        (Method::POST, "/collections/nope/snapshots?wait=false"),
        (Method::GET, "/collections/nope/snapshots/x.snapshot"),
        (Method::DELETE, "/collections/nope/snapshots/x.snapshot"),
    ] {
        let reply = server.admin(method.clone(), uri, None).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {uri}: {}",
            reply.text()
        );
        assert_eq!(reply.error(), "Not found: Collection `nope` doesn't exist!");
    }
}

// Prevents axum's default 2 MiB body limit (or the JSON limit) from refusing
// real snapshots: a ~3 MiB snapshot uploads and restores.
#[tokio::test]
async fn large_uploads_are_not_limited() {
    let server = Server::new(RestOptions {
        max_request_size_mb: 1,
        ..RestOptions::default()
    });
    server
        .ok(
            Method::PUT,
            "/collections/big",
            json!({"vectors": {"size": 2, "distance": "Dot"}}),
        )
        .await;
    let filler = "x".repeat(100 * 1024);
    for batch in 0..4u64 {
        let points: Vec<Value> = (0..8)
            .map(|i| json!({"id": batch * 8 + i, "vector": [1.0, 0.0], "payload": {"filler": filler}}))
            .collect();
        server
            .ok(
                Method::PUT,
                "/collections/big/points?wait=true",
                json!({"points": points}),
            )
            .await;
    }
    let reply = server
        .admin(Method::POST, "/collections/big/snapshots", None)
        .await;
    let name = reply.json()["result"]["name"].as_str().unwrap().to_owned();
    let bytes = server
        .admin(
            Method::GET,
            &format!("/collections/big/snapshots/{name}"),
            None,
        )
        .await
        .body;
    assert!(bytes.len() > 3 * 1024 * 1024, "{}", bytes.len());
    let reply = server
        .upload(
            ADMIN,
            "/collections/big2/snapshots/upload",
            "big.snapshot",
            &bytes,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(server.count("big2").await, 32);
}
