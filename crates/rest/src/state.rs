//! What every handler and middleware shares.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use osprey_auth::Authenticator;
use osprey_engine::Storage;

use crate::RestOptions;
use crate::metrics::Metrics;
use crate::routes::RouteTable;

/// Metadata key under which this node's peer id is kept, so `/cluster`
/// reports the same id across restarts.
const PEER_ID_KEY: &str = "rest.peer_id";

pub(crate) struct Shared {
    pub storage: Arc<Storage>,
    pub auth: Arc<Authenticator>,
    /// The key plane, for recording refused requests in its audit log.
    pub keys: Option<Arc<osprey_keys::KeyRegistry>>,
    pub options: RestOptions,
    pub metrics: Metrics,
    pub routes: RouteTable,
    pub started_at: DateTime<Utc>,
    /// Telemetry `id`: one per process, as Qdrant's.
    pub telemetry_id: String,
    pub peer_id: u64,
    /// Collection and alias changes applied by this process; reported as the
    /// raft `commit` of the one-peer cluster.
    pub meta_changes: AtomicU64,
}

pub(crate) type AppState = Arc<Shared>;

/// This node's peer id: read from the metadata store, or made and stored.
/// A store failure is not fatal; the id is then valid for this process only.
pub(crate) fn load_peer_id(storage: &Storage) -> u64 {
    if let Ok(Some(bytes)) = storage.meta_get(PEER_ID_KEY)
        && let Ok(raw) = <[u8; 8]>::try_from(bytes.as_slice())
    {
        return u64::from_le_bytes(raw);
    }
    // Qdrant's peer ids are random u64s; keep them JavaScript-safe (< 2^53)
    // so the TypeScript client reads them exactly.
    let id = (uuid::Uuid::new_v4().as_u128() as u64) & ((1 << 53) - 1);
    let id = id.max(1);
    if let Err(err) = storage.meta_put(PEER_ID_KEY, &id.to_le_bytes()) {
        tracing::warn!("cannot store the peer id: {err}");
    }
    id
}
