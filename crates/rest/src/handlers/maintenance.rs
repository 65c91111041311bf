//! Router-only maintenance routes that have a plain answer here.

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::{Caller, MatchedRoute};
use crate::envelope::ApiOk;
use crate::error::{RestError, RestResult};
use crate::extract::{Json, Path, Query};
use crate::handlers::on_view;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TruncateParams {
    #[serde(default)]
    wait: Option<bool>,
    #[serde(default)]
    timeout: Option<u64>,
}

/// `POST /collections/{c}/truncate_unapplied_wal`: drops logged writes that
/// were never applied. Osprey applies each write as it logs it (the record
/// is in the log and in the points before the request is answered), so a
/// log never holds unapplied records and nothing is dropped.
pub(crate) async fn truncate_unapplied_wal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<TruncateParams>,
) -> RestResult<Response> {
    crate::extract::TimeoutParams { timeout: params.timeout }.validate()?;
    on_view(&state, caller, name, |view, _| view.require_unrestricted()).await?;
    if params.wait == Some(false) {
        let body = json!({ "status": "accepted", "time": 0.0 });
        return Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response());
    }
    Ok(ApiOk(true).into_response())
}

/// `GET /debugger`: no continuous profiler is attached.
pub(crate) async fn debugger() -> ApiOk<Value> {
    ApiOk(json!({ "pyroscope": null }))
}

/// `PATCH /debugger`: turning the (absent) Pyroscope profiler off succeeds;
/// turning it on is refused rather than ignored.
pub(crate) async fn update_debugger(Json(body): Json<Value>) -> RestResult<ApiOk<bool>> {
    match body.get("pyroscope") {
        None | Some(Value::Null) => Ok(ApiOk(true)),
        Some(_) => Err(RestError::Engine(osprey_engine::EngineError::BadRequest(
            "Pyroscope profiling is not available in this server".into(),
        ))),
    }
}

/// Routes that exist only in Qdrant's staging builds (`/shards/{shard}/wal`,
/// `/recovery_point`, `/debug`): a release build does not serve them. They
/// are registered so that the table of access applies before this 404.
pub(crate) async fn staging_only(Extension(route): Extension<MatchedRoute>) -> RestError {
    RestError::Engine(osprey_engine::EngineError::NotFound(format!(
        "{} {} exists only in Qdrant's staging builds",
        route.0.method, route.0.template
    )))
}
