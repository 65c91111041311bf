//! Collection snapshots and full-storage snapshots.
//!
//! The access check ran before these handlers (and, for the multipart upload,
//! before a byte of the body was read). What is left to check here is where
//! a recovery may read from: `file://` locations must canonicalise inside the
//! snapshots directory (403 otherwise), and `http(s)://` locations are never
//! fetched: 403 when `enable_snapshot_url_recovery` is off, else 400, since
//! this server makes no outbound requests.
//!
//! `wait` defaults to true; `wait=false` answers 202
//! `{"status":"accepted","time":…}` and finishes in the background (failures
//! are logged). Downloads stream the file as `application/octet-stream`.

use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use http_body_util::Channel;
use osprey_engine::config::validate_collection_name;
use osprey_engine::{EngineError, SnapshotDescription};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::envelope::{ApiOk, elapsed_secs};
use crate::error::{RestError, RestResult};
use crate::extract::{Json, Path, Query};
use crate::handlers::engine;
use crate::state::AppState;

/// `?wait=` of snapshot operations (default true, as Qdrant's).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WaitParams {
    #[serde(default)]
    wait: Option<bool>,
}

impl WaitParams {
    fn wait(&self) -> bool {
        self.wait.unwrap_or(true)
    }
}

/// Which side wins in a cluster; a single node has nothing to sync, so it is
/// accepted (and validated) but changes nothing.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SnapshotPriority {
    NoSync,
    Snapshot,
    Replica,
}

/// Query of `POST /collections/{c}/snapshots/upload`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct UploadParams {
    #[serde(default)]
    wait: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    priority: Option<SnapshotPriority>,
    /// SHA-256 hex of the uploaded file.
    #[serde(default)]
    checksum: Option<String>,
}

/// Body of `PUT /collections/{c}/snapshots/recover` (Qdrant's `SnapshotRecover`).
#[derive(Debug, Deserialize)]
pub(crate) struct SnapshotRecover {
    location: String,
    #[serde(default)]
    #[allow(dead_code)]
    priority: Option<SnapshotPriority>,
    #[serde(default)]
    checksum: Option<String>,
    /// For fetching from a remote URL, which this server never does.
    #[serde(default)]
    #[allow(dead_code)]
    api_key: Option<String>,
}

// ---- collection snapshots ------------------------------------------------

/// `GET /collections/{c}/snapshots`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(collection): Path<String>,
) -> RestResult<ApiOk<Vec<SnapshotDescription>>> {
    let storage = state.storage.clone();
    Ok(ApiOk(
        engine(move || storage.list_snapshots(&collection)).await?,
    ))
}

/// `POST /collections/{c}/snapshots`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    Query(params): Query<WaitParams>,
) -> RestResult<Response> {
    // A missing collection is a 404 even when the work runs in the background.
    state.storage.resolve(&collection)?;
    let storage = state.storage.clone();
    run_or_accept(params.wait(), "create snapshot", move || {
        storage.create_snapshot(&collection)
    })
    .await
}

/// `GET /collections/{c}/snapshots/{name}`: the file, streamed.
pub(crate) async fn download(
    State(state): State<AppState>,
    Path((collection, name)): Path<(String, String)>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    let path = engine(move || storage.snapshot_path(&collection, &name)).await?;
    stream_file(path).await
}

/// `DELETE /collections/{c}/snapshots/{name}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((collection, name)): Path<(String, String)>,
    Query(params): Query<WaitParams>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    let (c, n) = (collection.clone(), name.clone());
    // Resolved first, so a bad name is a 404 even with wait=false.
    engine(move || storage.snapshot_path(&c, &n)).await?;
    let storage = state.storage.clone();
    run_or_accept(params.wait(), "delete snapshot", move || {
        storage.delete_snapshot(&collection, &name)
    })
    .await
}

/// `PUT /collections/{c}/snapshots/recover`.
pub(crate) async fn recover(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    Query(params): Query<WaitParams>,
    Json(request): Json<SnapshotRecover>,
) -> RestResult<Response> {
    let upload = format!("POST /collections/{collection}/snapshots/upload");
    let path = recovery_file(&state, &request.location, &upload).await?;
    validate_target(&state, &collection)?;
    let storage = state.storage.clone();
    let checksum = request.checksum;
    run_or_accept(params.wait(), "recover snapshot", move || {
        storage
            .recover_from_file(&collection, &path, checksum)
            .map(|()| true)
    })
    .await
}

/// `POST /collections/{c}/snapshots/upload` (multipart, field `snapshot`):
/// the file is streamed to a temporary file in the snapshots directory,
/// recovered from, and removed.
pub(crate) async fn upload(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    Query(params): Query<UploadParams>,
    multipart: Result<Multipart, MultipartRejection>,
) -> RestResult<Response> {
    validate_target(&state, &collection)?;
    let upload = spool_upload(&state, multipart).await?;
    let storage = state.storage.clone();
    let checksum = params.checksum;
    run_or_accept(
        params.wait.unwrap_or(true),
        "recover uploaded snapshot",
        move || {
            let result = storage.recover_from_file(&collection, &upload.0, checksum);
            drop(upload);
            result.map(|()| true)
        },
    )
    .await
}

/// The snapshot file a recovery names: a `file://` location inside the
/// snapshots directory. `http(s)://` is never fetched: 403 when URL recovery
/// is off, else 400 pointing at `upload` (the route to send the file to).
async fn recovery_file(state: &AppState, location: &str, upload: &str) -> RestResult<PathBuf> {
    let path = match parse_location(location)? {
        Location::Remote => {
            return Err(if state.options.enable_snapshot_url_recovery {
                EngineError::BadRequest(format!(
                    "Recovering snapshots from URLs is not supported by this server: it makes no outbound \
                     network requests. Upload the snapshot with {upload}, \
                     or put it in the snapshots directory and recover it from a file:// location"
                ))
            } else {
                EngineError::Forbidden("Snapshot recovery from remote URLs is disabled in the configuration".into())
            }
            .into());
        }
        Location::File(path) => path,
    };
    let storage = state.storage.clone();
    Ok(engine(move || storage.snapshot_location(&path)).await?)
}

/// Streams the multipart field `snapshot` to a temporary file in the
/// snapshots directory (removed when the returned guard drops).
async fn spool_upload(state: &AppState, multipart: Result<Multipart, MultipartRejection>) -> RestResult<TempUpload> {
    let mut multipart = multipart.map_err(|rejection| {
        RestError::Format(format!(
            "Format error in multipart body: {}",
            rejection.body_text()
        ))
    })?;
    let mut spooled: Option<TempUpload> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if spooled.is_some() || field.name() != Some("snapshot") {
            continue;
        }
        // `None` when the client's file name is not UTF-8: a random name then.
        let file_name = field.file_name().map(str::to_owned);
        let storage = state.storage.clone();
        let path = engine(move || storage.snapshot_upload_path(file_name.as_deref())).await?;
        let upload = TempUpload(path);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&upload.0)
            .await
            .map_err(|e| io_error(&upload.0, e))?;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            file.write_all(&chunk)
                .await
                .map_err(|e| io_error(&upload.0, e))?;
        }
        file.sync_all().await.map_err(|e| io_error(&upload.0, e))?;
        spooled = Some(upload);
    }
    spooled.ok_or_else(|| {
        RestError::Format(
            "Format error in multipart body: the form has no `snapshot` file field".into(),
        )
    })
}

// ---- shard snapshots -------------------------------------------------------
//
// A shard is a shard key's points in a custom-sharded collection, or all the
// points of any other collection (its one shard, 0). Shard snapshots use the
// collection archive format and live under `<snapshots>/<c>/shards/<shard>/`.

/// `GET /collections/{c}/shards/{shard}/snapshots`.
pub(crate) async fn list_shard(
    State(state): State<AppState>,
    Path((collection, shard)): Path<(String, u32)>,
) -> RestResult<ApiOk<Vec<SnapshotDescription>>> {
    let storage = state.storage.clone();
    Ok(ApiOk(engine(move || storage.list_shard_snapshots(&collection, shard)).await?))
}

/// `POST /collections/{c}/shards/{shard}/snapshots`.
pub(crate) async fn create_shard(
    State(state): State<AppState>,
    Path((collection, shard)): Path<(String, u32)>,
    Query(params): Query<WaitParams>,
) -> RestResult<Response> {
    // A missing collection or shard is a 404 even when the work runs in the background.
    let storage = state.storage.clone();
    let (c, s) = (collection.clone(), shard);
    engine(move || storage.collection(&c)?.shard_key_of_shard(s)).await?;
    let storage = state.storage.clone();
    run_or_accept(params.wait(), "create shard snapshot", move || {
        storage.create_shard_snapshot(&collection, shard)
    })
    .await
}

/// `GET /collections/{c}/shards/{shard}/snapshots/{name}`: the file, streamed.
pub(crate) async fn download_shard(
    State(state): State<AppState>,
    Path((collection, shard, name)): Path<(String, u32, String)>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    let path = engine(move || storage.shard_snapshot_path(&collection, shard, &name)).await?;
    stream_file(path).await
}

/// `DELETE /collections/{c}/shards/{shard}/snapshots/{name}`.
pub(crate) async fn delete_shard(
    State(state): State<AppState>,
    Path((collection, shard, name)): Path<(String, u32, String)>,
    Query(params): Query<WaitParams>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    let (c, n) = (collection.clone(), name.clone());
    engine(move || storage.shard_snapshot_path(&c, shard, &n)).await?;
    let storage = state.storage.clone();
    run_or_accept(params.wait(), "delete shard snapshot", move || {
        storage.delete_shard_snapshot(&collection, shard, &name)
    })
    .await
}

/// `GET /collections/{c}/shards/{shard}/snapshot`: a fresh snapshot of the
/// shard, streamed and not kept (the file is unlinked once it is open).
pub(crate) async fn stream_shard(
    State(state): State<AppState>,
    Path((collection, shard)): Path<(String, u32)>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    let (c, s) = (collection.clone(), shard);
    let description = engine(move || storage.create_shard_snapshot(&c, s)).await?;
    let storage = state.storage.clone();
    let path = engine(move || storage.shard_snapshot_path(&collection, shard, &description.name)).await?;
    let response = stream_file(path.clone()).await;
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("snapshot.checksum"));
    response
}

/// `PUT /collections/{c}/shards/{shard}/snapshots/recover`: replaces the
/// shard's points with a snapshot's, from a `file://` location in the
/// snapshots directory.
pub(crate) async fn recover_shard(
    State(state): State<AppState>,
    Path((collection, shard)): Path<(String, u32)>,
    Query(params): Query<WaitParams>,
    Json(request): Json<SnapshotRecover>,
) -> RestResult<Response> {
    let upload = format!("POST /collections/{collection}/shards/{shard}/snapshots/upload");
    let path = recovery_file(&state, &request.location, &upload).await?;
    let storage = state.storage.clone();
    let checksum = request.checksum;
    run_or_accept(params.wait(), "recover shard snapshot", move || {
        storage.recover_shard_from_file(&collection, shard, &path, checksum).map(|()| true)
    })
    .await
}

/// `POST /collections/{c}/shards/{shard}/snapshots/upload` (multipart,
/// field `snapshot`): the shard's points are replaced by the file's.
pub(crate) async fn upload_shard(
    State(state): State<AppState>,
    Path((collection, shard)): Path<(String, u32)>,
    Query(params): Query<UploadParams>,
    multipart: Result<Multipart, MultipartRejection>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    let (c, s) = (collection.clone(), shard);
    engine(move || storage.collection(&c)?.shard_key_of_shard(s)).await?;
    let upload = spool_upload(&state, multipart).await?;
    let storage = state.storage.clone();
    let checksum = params.checksum;
    run_or_accept(params.wait.unwrap_or(true), "recover uploaded shard snapshot", move || {
        let result = storage.recover_shard_from_file(&collection, shard, &upload.0, checksum);
        drop(upload);
        result.map(|()| true)
    })
    .await
}

/// `POST /collections/{c}/shards/{shard}/snapshot/partial/create`: Qdrant
/// sends only the segments that differ from the recipient's manifest (the
/// body). Osprey's shard has no segment files to compare, so the partial
/// snapshot holds the whole shard: a superset, which recovers to the same
/// state. The body must still be a JSON object (a manifest).
pub(crate) async fn create_partial(
    state: State<AppState>,
    Path((collection, shard)): Path<(String, u32)>,
    Json(manifest): Json<serde_json::Value>,
) -> RestResult<Response> {
    if !manifest.is_object() {
        return Err(RestError::Format("Format error in JSON body: a snapshot manifest is an object".into()));
    }
    stream_shard(state, Path((collection, shard))).await
}

/// `POST /collections/{c}/shards/{shard}/snapshot/partial/recover`: as a
/// partial snapshot of Osprey's holds the whole shard, it is recovered as a
/// shard snapshot.
pub(crate) async fn recover_partial(
    state: State<AppState>,
    path: Path<(String, u32)>,
    params: Query<UploadParams>,
    multipart: Result<Multipart, MultipartRejection>,
) -> RestResult<Response> {
    upload_shard(state, path, params, multipart).await
}

/// `POST /collections/{c}/shards/{shard}/snapshot/partial/recover_from`:
/// fetches a partial snapshot from another peer, which this server never
/// does (it makes no outbound requests), as for URL recovery.
pub(crate) async fn recover_partial_from(State(state): State<AppState>) -> RestResult<Response> {
    Err(if state.options.enable_snapshot_url_recovery {
        EngineError::BadRequest(
            "Recovering a partial snapshot from another peer is not supported: this server makes no outbound \
             network requests, and this cluster has one peer. Upload it to .../snapshot/partial/recover"
                .into(),
        )
    } else {
        EngineError::Forbidden("Snapshot recovery from remote URLs is disabled in the configuration".into())
    }
    .into())
}

// ---- full-storage snapshots ----------------------------------------------

/// `GET /snapshots`.
pub(crate) async fn list_full(
    State(state): State<AppState>,
) -> RestResult<ApiOk<Vec<SnapshotDescription>>> {
    let storage = state.storage.clone();
    Ok(ApiOk(engine(move || storage.list_full_snapshots()).await?))
}

/// `POST /snapshots`.
pub(crate) async fn create_full(
    State(state): State<AppState>,
    Query(params): Query<WaitParams>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    run_or_accept(params.wait(), "create full snapshot", move || {
        storage.create_full_snapshot()
    })
    .await
}

/// `GET /snapshots/{name}`.
pub(crate) async fn download_full(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    let path = engine(move || storage.full_snapshot_path(&name)).await?;
    stream_file(path).await
}

/// `DELETE /snapshots/{name}`.
pub(crate) async fn delete_full(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
) -> RestResult<Response> {
    let storage = state.storage.clone();
    let n = name.clone();
    engine(move || storage.full_snapshot_path(&n)).await?;
    let storage = state.storage.clone();
    run_or_accept(params.wait(), "delete full snapshot", move || {
        storage.delete_full_snapshot(&name)
    })
    .await
}

// ---- helpers ---------------------------------------------------------------

/// Runs the engine call and answers its result, or (`wait=false`) starts it
/// in the background and answers 202 at once.
async fn run_or_accept<T, F>(wait: bool, what: &'static str, f: F) -> RestResult<Response>
where
    T: Serialize + Send + 'static,
    F: FnOnce() -> Result<T, EngineError> + Send + 'static,
{
    if wait {
        return Ok(ApiOk(engine(f).await?).into_response());
    }
    tokio::spawn(async move {
        if let Err(err) = engine(f).await {
            tracing::error!(operation = what, error = %err, "background snapshot operation failed");
        }
    });
    Ok(accepted())
}

/// 202 `{"status":"accepted","time":…}`.
fn accepted() -> Response {
    let body = serde_json::json!({"status": "accepted", "time": elapsed_secs()});
    let mut response = (StatusCode::ACCEPTED, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A recovery target must be a valid collection name (or an existing alias,
/// which is valid too); checked before anything is read or spooled.
fn validate_target(state: &AppState, collection: &str) -> RestResult<()> {
    if state.storage.collection_exists(collection) {
        return Ok(());
    }
    validate_collection_name(collection).map_err(RestError::from)
}

/// Streams a snapshot file: `application/octet-stream`, with its length.
async fn stream_file(path: PathBuf) -> RestResult<Response> {
    let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            RestError::Engine(EngineError::NotFound(format!("Snapshot {name} not found")))
        } else {
            io_error(&path, e)
        }
    })?;
    let len = file.metadata().await.map_err(|e| io_error(&path, e))?.len();
    let (mut sender, body) = Channel::<Bytes, std::io::Error>::new(4);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    if sender
                        .send_data(Bytes::copy_from_slice(&buf[..n]))
                        .await
                        .is_err()
                    {
                        // The client went away.
                        break;
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, "reading a snapshot for download failed");
                    sender.abort(err);
                    break;
                }
            }
        }
    });
    let mut response = Response::new(Body::new(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    // Names are plain file names here; quote only the harmless ones.
    if let Some(name) = path.file_name().and_then(|n| n.to_str())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Where a recovery reads from.
enum Location {
    Remote,
    File(PathBuf),
}

/// `file:///abs/path` (host empty or `localhost`; percent-decoded; query and
/// fragment dropped) or `http(s)://…`; anything else is a 400.
fn parse_location(location: &str) -> RestResult<Location> {
    let bad = |why: &str| -> RestError {
        EngineError::BadInput(format!("Invalid snapshot location: {why}")).into()
    };
    let (scheme, rest) = location
        .split_once(':')
        .ok_or_else(|| bad("expected a file:// or http(s):// URL"))?;
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => Ok(Location::Remote),
        "file" => {
            let rest = rest
                .strip_prefix("//")
                .ok_or_else(|| bad("a file URL must start with file://"))?;
            let slash = rest
                .find('/')
                .ok_or_else(|| bad("a file URL needs an absolute path"))?;
            let (host, path) = rest.split_at(slash);
            if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                return Err(bad("a file URL must name a local path"));
            }
            let path = path.split(['?', '#']).next().unwrap_or_default();
            let bytes = percent_decode(path);
            if bytes.contains(&0) {
                return Err(bad("the path contains NUL"));
            }
            Ok(Location::File(path_from_bytes(bytes)?))
        }
        other => Err(bad(&format!(
            "unsupported scheme `{other}`; use file:// or http(s)://"
        ))),
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> RestResult<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> RestResult<PathBuf> {
    String::from_utf8(bytes).map(PathBuf::from).map_err(|_| {
        EngineError::BadInput("Invalid snapshot location: the path is not UTF-8".into()).into()
    })
}

fn multipart_error(err: MultipartError) -> RestError {
    RestError::Format(format!(
        "Format error in multipart body: {}",
        err.body_text()
    ))
}

fn io_error(path: &std::path::Path, err: std::io::Error) -> RestError {
    RestError::Engine(EngineError::Service(format!("{}: {err}", path.display())))
}

/// An uploaded snapshot on disk, removed when dropped (after the recovery,
/// or when the upload fails half-way).
struct TempUpload(PathBuf);

impl Drop for TempUpload {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.0)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), error = %err, "cannot remove an uploaded snapshot");
        }
    }
}
