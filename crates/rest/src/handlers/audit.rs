//! `POST /audit/logs`: reads Qdrant's audit log back (spec/auth.md §12).
//! Global manage, checked by the access middleware like every route.
//!
//! Request and answer are Qdrant's: a body of `time_from` / `time_to`
//! (RFC 3339, from inclusive, to exclusive), `limit` (default 100, at most
//! 10 000) and `filters` (field -> value, all must match), and
//! `{"result": {"entries": [...]}}` with the newest entry first. Qdrant adds
//! `missing_peers` for cluster peers that did not answer; one node has none,
//! and Qdrant leaves the field out when it is empty.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, Utc};
use osprey_auth::audit::{AuditQuery, DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT};
use osprey_engine::EngineError;
use serde::{Deserialize, Serialize};

use crate::envelope::ApiOk;
use crate::error::{RestError, RestResult};
use crate::extract::{Json, Query, TimeoutParams};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct AuditLogRequest {
    #[serde(default)]
    time_from: Option<DateTime<Utc>>,
    #[serde(default)]
    time_to: Option<DateTime<Utc>>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    filters: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AuditLogResponse {
    entries: Vec<serde_json::Value>,
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    Query(params): Query<TimeoutParams>,
    Json(request): Json<AuditLogRequest>,
) -> RestResult<ApiOk<AuditLogResponse>> {
    params.validate()?;
    let limit = request.limit.unwrap_or(DEFAULT_QUERY_LIMIT);
    if !(1..=MAX_QUERY_LIMIT).contains(&limit) {
        return Err(RestError::Validation(format!(
            "Validation error in JSON body: [limit: value {limit} invalid, must be from 1 to {MAX_QUERY_LIMIT}]"
        )));
    }
    let Some(audit) = state.auth.audit_log().cloned() else {
        return Err(EngineError::BadRequest("Audit logging is not enabled".into()).into());
    };
    let query = AuditQuery {
        time_from: request.time_from,
        time_to: request.time_to,
        filters: request.filters.into_iter().collect(),
        limit,
    };
    // Flushing and reading files: off the async workers.
    let entries = tokio::task::spawn_blocking(move || audit.query(&query))
        .await
        .map_err(|join| RestError::Internal(format!("reading the audit log failed: {join}")))?
        .map_err(|err| RestError::Internal(format!("reading the audit log failed: {err}")))?;
    Ok(ApiOk(AuditLogResponse { entries }))
}
