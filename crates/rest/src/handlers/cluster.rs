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

use crate::envelope::ApiOk;
use crate::error::RestResult;
use crate::extract::Path;
use crate::access::Caller;
use crate::handlers::on_view;
use crate::state::AppState;

/// `GET /cluster`.
pub(crate) async fn status(State(state): State<AppState>, headers: HeaderMap) -> ApiOk<Value> {
    // There is no peer-to-peer port: report the address the client used.
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:6333");
    let peer = state.peer_id;
    ApiOk(json!({
        "status": "enabled",
        "peer_id": peer,
        "peers": { peer.to_string(): { "uri": format!("http://{host}/") } },
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
    let points = on_view(&state, caller, name, |view, _| Ok(view.info()?.points_count)).await?;
    Ok(ApiOk(json!({
        "peer_id": state.peer_id,
        "shard_count": 1,
        "local_shards": [{ "shard_id": 0, "points_count": points, "state": "Active" }],
        "remote_shards": [],
        "shard_transfers": [],
    })))
}
