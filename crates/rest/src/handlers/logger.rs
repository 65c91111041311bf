//! `GET /logger` and `POST /logger`: the running log level, read and changed
//! without a restart. Logging to a file is set in the config file only (as
//! Qdrant: the API cannot point the server at a file), so a request that
//! asks for it is refused rather than ignored.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::LogControl;
use crate::envelope::ApiOk;
use crate::error::{RestError, RestResult};
use crate::extract::Json;
use crate::state::AppState;

fn control(state: &AppState) -> RestResult<&dyn LogControl> {
    state
        .options
        .logger
        .as_deref()
        .ok_or_else(|| RestError::Engine(osprey_engine::EngineError::BadRequest("This server's log level cannot be changed at run time".into())))
}

/// `GET /logger`: Qdrant's logger configuration shape.
pub(crate) async fn get(State(state): State<AppState>) -> RestResult<ApiOk<Value>> {
    let level = control(&state)?.level();
    Ok(ApiOk(json!({ "log_level": level, "on_disk": { "enabled": false } })))
}

/// Body of `POST /logger`.
#[derive(Debug, Deserialize)]
pub(crate) struct LoggerUpdate {
    #[serde(default)]
    log_level: Option<String>,
    #[serde(default)]
    on_disk: Option<Value>,
}

/// `POST /logger`: sets the log level (`info`, `debug`, or a full filter
/// such as `warn,osprey_engine=debug`).
pub(crate) async fn update(State(state): State<AppState>, Json(update): Json<LoggerUpdate>) -> RestResult<ApiOk<bool>> {
    let control = control(&state)?;
    if update.on_disk.as_ref().is_some_and(|d| d.get("enabled").and_then(Value::as_bool) == Some(true)) {
        return Err(RestError::Engine(osprey_engine::EngineError::BadRequest(
            "Logging to a file is configured in the config file only".into(),
        )));
    }
    if let Some(level) = update.log_level {
        control.set_level(&level).map_err(|e| RestError::Engine(osprey_engine::EngineError::BadRequest(e)))?;
        tracing::info!("log level changed through POST /logger");
    }
    Ok(ApiOk(true))
}
