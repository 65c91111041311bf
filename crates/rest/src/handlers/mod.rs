//! Handlers, one module per area of the API. They decode, call the engine on
//! the blocking pool and encode; access was settled before they run (see
//! `access.rs`), except for checks that depend on the body.

pub(crate) mod audit;
pub(crate) mod cluster;
pub(crate) mod collections;
pub(crate) mod logger;
pub(crate) mod maintenance;
pub(crate) mod points;
pub(crate) mod search;
pub(crate) mod service;
pub(crate) mod snapshots;
pub(crate) mod unsupported;

use osprey_engine::EngineError;

use crate::error::{RestError, RestResult};

/// Runs an engine call on the blocking pool: engine calls read and write
/// files (and fsync on `wait=true`), which must not stall the async workers.
/// A panic in the engine becomes a 500, never a dropped connection.
/// Runs `f` on the caller's view of collection `name`: its payload
/// restriction applied (spec §15), off the async runtime. Point operations go
/// through here, so a handler cannot reach a collection without the caller's
/// restriction.
pub(crate) async fn on_view<T, F>(
    state: &crate::state::AppState,
    caller: crate::access::Caller,
    name: String,
    f: F,
) -> RestResult<T>
where
    T: Send + 'static,
    F: FnOnce(osprey_engine::CollectionView, &osprey_engine::Storage) -> Result<T, EngineError>
        + Send
        + 'static,
{
    let storage = state.storage.clone();
    engine(move || {
        let view = storage.view(&name, caller.payload_restriction(&name))?;
        f(view, &storage)
    })
    .await
}

pub(crate) async fn engine<T, F>(f: F) -> RestResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, EngineError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(RestError::Engine),
        Err(join) => Err(RestError::Internal(format!("the operation failed: {join}"))),
    }
}
