//! `GET /cluster` and `GET /collections/{c}/cluster`, answered as a cluster of
//! one peer: this node is the leader and only voter, and holds every
//! collection as one active local shard.
//!
//! Standalone Qdrant answers `{"status": "disabled"}`; the one-peer form is
//! equally valid for the clients (both are members of `ClusterStatus`) and
//! gives tools the peer id they expect.

use std::sync::atomic::Ordering;

use axum::Extension;
use axum::extract::State;
use http::HeaderMap;
use http::header::HOST;
use serde_json::{Value, json};

use osprey_engine::cluster_ops::ClusterOperation;
use osprey_engine::requests::{CountRequest, CountResult, PointRequest, Record, ScrollRequest, ScrollResult};
use osprey_engine::{CreateShardKey, EngineError};
use serde::Deserialize;

use crate::envelope::ApiOk;
use crate::error::{RestError, RestResult};
use crate::extract::{Json, Path, Query, TimeoutParams};
use crate::access::Caller;
use crate::handlers::on_view;
use crate::state::AppState;

/// `GET /cluster`.
pub(crate) async fn status(State(state): State<AppState>, headers: HeaderMap) -> ApiOk<Value> {
    let peer = state.peer_id;
    ApiOk(json!({
        "status": "enabled",
        "peer_id": peer,
        "peers": { peer.to_string(): { "uri": peer_uri(&state, &headers) } },
        "raft_info": {
            "term": 1,
            "commit": state.meta_changes.load(Ordering::Relaxed),
            "pending_operations": 0,
            "leader": peer,
            "role": "Leader",
            "is_voter": true,
        },
        "consensus_thread_status": {
            "consensus_thread_status": "working",
            "last_update": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        },
        "message_send_failures": {},
    }))
}

/// `GET /collections/{c}/cluster`.
/// A payload-restricted caller gets the count of its own view (spec §15).
pub(crate) async fn collection_info(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> RestResult<ApiOk<Value>> {
    let (shards, restricted_count) = on_view(&state, caller, name, |view, _| {
        let count = if view.is_restricted() { Some(view.info()?.points_count) } else { None };
        Ok((view.collection().local_shards(), count))
    })
    .await?;
    let local: Vec<Value> = match restricted_count {
        // A restricted key sees one shard holding the points it can see.
        Some(points) => vec![json!({ "shard_id": 0, "points_count": points, "state": "Active" })],
        None => shards
            .iter()
            .map(|(id, key, points)| {
                let mut shard = json!({ "shard_id": id, "points_count": points, "state": "Active" });
                if let Some(key) = key {
                    shard["shard_key"] = key.to_json();
                }
                shard
            })
            .collect(),
    };
    Ok(ApiOk(json!({
        "peer_id": state.peer_id,
        "shard_count": local.len(),
        "local_shards": local,
        "remote_shards": [],
        "shard_transfers": [],
    })))
}

/// `PUT /collections/{c}/shards`: creates a shard key (custom sharding).
pub(crate) async fn create_shard_key(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<TimeoutParams>,
    Json(request): Json<CreateShardKey>,
) -> RestResult<ApiOk<bool>> {
    params.validate()?;
    for (field, value) in [("shards_number", request.shards_number), ("replication_factor", request.replication_factor)] {
        if value == Some(0) {
            return Err(RestError::Validation(format!(
                "Validation error in JSON body: [{field}: value 0 invalid, must be 1 or larger]"
            )));
        }
    }
    let peer = state.peer_id;
    let done = on_view(&state, caller, name, move |view, _| {
        view.require_unrestricted()?;
        view.collection().create_shard_key(request, peer, true)
    })
    .await?;
    state.meta_changes.fetch_add(1, Ordering::Relaxed);
    Ok(ApiOk(done))
}

/// Body of `POST /collections/{c}/shards/delete`.
#[derive(Debug, Deserialize)]
pub(crate) struct DropShardKey {
    shard_key: Value,
}

/// `POST /collections/{c}/shards/delete`: deletes a shard key and its points.
pub(crate) async fn delete_shard_key(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<TimeoutParams>,
    Json(request): Json<DropShardKey>,
) -> RestResult<ApiOk<bool>> {
    params.validate()?;
    let done = on_view(&state, caller, name, move |view, _| {
        view.require_unrestricted()?;
        view.collection().delete_shard_key(&request.shard_key, true)
    })
    .await?;
    state.meta_changes.fetch_add(1, Ordering::Relaxed);
    Ok(ApiOk(done))
}

/// `GET /collections/{c}/shards`: `{"shard_keys": [{"key": ..}]}`, or
/// `null` for a collection without custom sharding.
pub(crate) async fn list_shard_keys(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> RestResult<ApiOk<Value>> {
    let keys = on_view(&state, caller, name, |view, _| Ok(view.collection().shard_keys())).await?;
    let keys = keys.map(|keys| keys.iter().map(|k| json!({ "key": k.to_json() })).collect::<Vec<_>>());
    Ok(ApiOk(json!({ "shard_keys": keys })))
}

/// `POST /collections/{c}/cluster`: collection cluster operations, as a
/// one-peer cluster answers them (`osprey_engine::cluster_ops`).
pub(crate) async fn update_collection_cluster(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<TimeoutParams>,
    Json(operation): Json<ClusterOperation>,
) -> RestResult<ApiOk<bool>> {
    params.validate()?;
    let peer = state.peer_id;
    let done = on_view(&state, caller, name, move |view, _| {
        view.require_unrestricted()?;
        view.collection().cluster_operation(operation, peer)
    })
    .await?;
    state.meta_changes.fetch_add(1, Ordering::Relaxed);
    Ok(ApiOk(done))
}

/// `GET /cluster/telemetry`: the collections' shards and, for global
/// principals, the peers. Collection-scoped principals see only their
/// collections and no cluster section.
pub(crate) async fn telemetry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> RestResult<ApiOk<Value>> {
    let names: Vec<String> =
        state.storage.list_collections().into_iter().filter(|n| caller.can_list_collection(n)).collect();
    let peer = state.peer_id;
    let restricted: Vec<bool> = names.iter().map(|n| caller.payload_restriction(n).is_some()).collect();
    let storage = state.storage.clone();
    let collections = crate::handlers::engine(move || {
        let mut out = serde_json::Map::new();
        for (name, restricted) in names.into_iter().zip(restricted) {
            let Ok(collection) = storage.collection(&name) else { continue };
            let shards: Vec<Value> = collection
                .local_shards()
                .into_iter()
                .map(|(id, key, points)| {
                    let mut replica = json!({ "peer_id": peer, "state": "Active", "status": "green" });
                    // Point counts of a restricted view would tell about other tenants.
                    if !restricted {
                        replica["num_points"] = json!(points);
                    }
                    json!({ "id": id, "key": key.map(|k| k.to_json()), "replicas": [replica] })
                })
                .collect();
            out.insert(name.clone(), json!({ "id": name, "shards": shards, "shard_transfers": [], "reshardings": [] }));
        }
        Ok(out)
    })
    .await?;
    let mut result = json!({ "collections": collections });
    if caller.is_global() {
        result["cluster"] = json!({
            "enabled": true,
            "number_of_peers": 1,
            "peers": { peer.to_string(): { "uri": peer_uri(&state, &headers), "responsive": true } },
        });
    }
    Ok(ApiOk(result))
}

/// This peer's URI: `--uri` in cluster mode, else the address the client used.
fn peer_uri(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(uri) = state.options.cluster.as_ref().and_then(|c| c.uri.clone()) {
        return uri;
    }
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:6333");
    format!("http://{host}/")
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RemovePeerParams {
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    force: Option<bool>,
}

/// `DELETE /cluster/peer/{peer_id}`: the only peer holds every shard and
/// cannot leave its own cluster; any other peer does not exist.
pub(crate) async fn remove_peer(
    State(state): State<AppState>,
    Path(peer): Path<u64>,
    Query(params): Query<RemovePeerParams>,
) -> RestResult<ApiOk<bool>> {
    TimeoutParams { timeout: params.timeout }.validate()?;
    if peer != state.peer_id {
        return Err(RestError::Engine(EngineError::NotFound(format!("Peer {peer} doesn't exist"))));
    }
    let reason = if params.force == Some(true) {
        format!("Peer {peer} is the only peer of this cluster and cannot be removed")
    } else {
        format!("Cannot remove peer {peer} as there are shards on it")
    };
    Err(RestError::Engine(EngineError::BadRequest(reason)))
}

/// `POST /cluster/recover`: the single voter is its own leader and has no
/// other peer's state to catch up with, so recovery succeeds at once.
pub(crate) async fn recover(State(_state): State<AppState>) -> ApiOk<bool> {
    ApiOk(true)
}

/// `GET /issues`: Osprey reports no performance issues yet.
pub(crate) async fn issues() -> ApiOk<Value> {
    ApiOk(json!({ "issues": [] }))
}

/// `DELETE /issues`.
pub(crate) async fn clear_issues() -> ApiOk<bool> {
    ApiOk(true)
}

/// Where cluster metadata is kept in the metadata store: one JSON object.
const METADATA_KEY: &str = "cluster.metadata";

fn metadata(state: &AppState) -> RestResult<serde_json::Map<String, Value>> {
    if state.options.cluster.is_none() {
        // Standalone Qdrant has no consensus to keep metadata in.
        return Err(RestError::Engine(EngineError::Service(
            "Cluster metadata needs cluster mode (cluster.enabled: true)".into(),
        )));
    }
    match state.storage.meta_get(METADATA_KEY).map_err(RestError::Engine)? {
        None => Ok(serde_json::Map::new()),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| RestError::Internal(format!("the stored cluster metadata is unreadable: {e}"))),
    }
}

/// `GET /cluster/metadata/keys`.
pub(crate) async fn metadata_keys(State(state): State<AppState>) -> RestResult<ApiOk<Vec<String>>> {
    Ok(ApiOk(metadata(&state)?.keys().cloned().collect()))
}

/// `GET /cluster/metadata/keys/{key}`: the value, or `null` when unset.
pub(crate) async fn metadata_key(State(state): State<AppState>, Path(key): Path<String>) -> RestResult<ApiOk<Value>> {
    Ok(ApiOk(metadata(&state)?.get(&key).cloned().unwrap_or(Value::Null)))
}

/// `PUT /cluster/metadata/keys/{key}`: sets the key to the JSON body.
pub(crate) async fn put_metadata_key(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Json(value): Json<Value>,
) -> RestResult<ApiOk<bool>> {
    change_metadata(&state, |map| {
        map.insert(key, value);
    })?;
    Ok(ApiOk(true))
}

/// `DELETE /cluster/metadata/keys/{key}`.
pub(crate) async fn delete_metadata_key(State(state): State<AppState>, Path(key): Path<String>) -> RestResult<ApiOk<bool>> {
    change_metadata(&state, |map| {
        map.remove(&key);
    })?;
    Ok(ApiOk(true))
}

fn change_metadata(state: &AppState, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> RestResult<()> {
    // Writers are serialised so that two changes never lose each other.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut map = metadata(state)?;
    change(&mut map);
    let bytes = serde_json::to_vec(&map).map_err(|e| RestError::Internal(e.to_string()))?;
    state.storage.meta_put(METADATA_KEY, &bytes).map_err(RestError::Engine)?;
    state.meta_changes.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// The selector that reads shard `shard` alone: its shard key in a
/// custom-sharded collection, nothing for the one shard of any other.
fn shard_selector(view: &osprey_engine::CollectionView, shard: u32) -> Result<Option<Value>, EngineError> {
    Ok(view.collection().shard_key_of_shard(shard)?.map(|k| k.to_json()))
}

/// `POST /collections/{c}/shards/{shard}/points`: points of one local shard.
pub(crate) async fn local_shard_points(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, shard)): Path<(String, u32)>,
    Json(mut request): Json<PointRequest>,
) -> RestResult<ApiOk<Vec<Record>>> {
    let records = on_view(&state, caller, name, move |view, _| {
        request.shard_key = shard_selector(&view, shard)?;
        view.retrieve(request)
    })
    .await?;
    Ok(ApiOk(records))
}

/// `POST /collections/{c}/shards/{shard}/points/scroll`.
pub(crate) async fn local_shard_scroll(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, shard)): Path<(String, u32)>,
    Json(mut request): Json<ScrollRequest>,
) -> RestResult<ApiOk<ScrollResult>> {
    let page = on_view(&state, caller, name, move |view, _| {
        request.shard_key = shard_selector(&view, shard)?;
        view.scroll(request)
    })
    .await?;
    Ok(ApiOk(page))
}

/// `POST /collections/{c}/shards/{shard}/points/count`.
pub(crate) async fn local_shard_count(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, shard)): Path<(String, u32)>,
    Json(mut request): Json<CountRequest>,
) -> RestResult<ApiOk<CountResult>> {
    let count = on_view(&state, caller, name, move |view, _| {
        request.shard_key = shard_selector(&view, shard)?;
        view.count(request)
    })
    .await?;
    Ok(ApiOk(count))
}

/// `POST /collections/{c}/shards/{shard}/cleanup`: drops points a shard no
/// longer owns after resharding. Shards here never reshard, so a shard
/// that exists owns every point it holds and nothing is dropped.
pub(crate) async fn local_shard_cleanup(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, shard)): Path<(String, u32)>,
) -> RestResult<ApiOk<bool>> {
    on_view(&state, caller, name, move |view, _| shard_selector(&view, shard).map(|_| ())).await?;
    Ok(ApiOk(true))
}
