//! Collections and aliases.

use std::sync::atomic::Ordering;

use axum::Extension;
use axum::extract::State;
use osprey_engine::config::{CreateCollection, UpdateCollection};
use osprey_engine::{AliasDescription, ChangeAliasesOperation};
use serde::Serialize;

use crate::access::Caller;
use crate::envelope::ApiOk;
use crate::error::RestResult;
use crate::extract::{Json, Path, Query, TimeoutParams};
use crate::handlers::{engine, on_view};
use crate::state::AppState;

#[derive(Serialize)]
pub(crate) struct CollectionsList {
    collections: Vec<CollectionName>,
}

#[derive(Serialize)]
struct CollectionName {
    name: String,
}

#[derive(Serialize)]
pub(crate) struct AliasesList {
    aliases: Vec<AliasDescription>,
}

#[derive(Serialize)]
pub(crate) struct Exists {
    exists: bool,
}

/// `GET /collections`: real names only, and for a collection-scoped token
/// only those it names verbatim (an alias entry does not reveal its target).
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiOk<CollectionsList> {
    let collections = state
        .storage
        .list_collections()
        .into_iter()
        .filter(|name| caller.can_list_collection(name))
        .map(|name| CollectionName { name })
        .collect();
    ApiOk(CollectionsList { collections })
}

/// `GET /collections/{c}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> RestResult<ApiOk<osprey_engine::CollectionInfo>> {
    let info = on_view(&state, caller, name, move |view, _| view.info()).await?;
    Ok(ApiOk(info))
}

/// `PUT /collections/{c}`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<TimeoutParams>,
    Json(request): Json<CreateCollection>,
) -> RestResult<ApiOk<bool>> {
    params.validate()?;
    let storage = state.storage.clone();
    engine(move || storage.create_collection(&name, request)).await?;
    state.meta_changes.fetch_add(1, Ordering::Relaxed);
    Ok(ApiOk(true))
}

/// `PATCH /collections/{c}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<TimeoutParams>,
    Json(request): Json<UpdateCollection>,
) -> RestResult<ApiOk<bool>> {
    params.validate()?;
    let storage = state.storage.clone();
    engine(move || storage.update_collection(&name, request)).await?;
    state.meta_changes.fetch_add(1, Ordering::Relaxed);
    Ok(ApiOk(true))
}

/// `DELETE /collections/{c}`: `true` if it existed.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<TimeoutParams>,
) -> RestResult<ApiOk<bool>> {
    params.validate()?;
    let storage = state.storage.clone();
    let deleted = engine(move || storage.delete_collection(&name)).await?;
    if deleted {
        state.meta_changes.fetch_add(1, Ordering::Relaxed);
    }
    Ok(ApiOk(deleted))
}

/// `GET /collections/{c}/exists`. The access check has already refused a
/// collection-scoped token that does not name `{c}` (no existence oracle).
pub(crate) async fn exists(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiOk<Exists> {
    ApiOk(Exists {
        exists: state.storage.collection_exists(&name),
    })
}

/// `POST /collections/aliases`: all actions or none.
pub(crate) async fn update_aliases(
    State(state): State<AppState>,
    Query(params): Query<TimeoutParams>,
    Json(request): Json<ChangeAliasesOperation>,
) -> RestResult<ApiOk<bool>> {
    params.validate()?;
    let storage = state.storage.clone();
    engine(move || storage.update_aliases(request)).await?;
    state.meta_changes.fetch_add(1, Ordering::Relaxed);
    Ok(ApiOk(true))
}

/// `GET /aliases`: for a collection-scoped token, only pairs whose alias and
/// collection it both names.
pub(crate) async fn list_aliases(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiOk<AliasesList> {
    let aliases = state
        .storage
        .list_aliases()
        .into_iter()
        .filter(|a| {
            caller.can_list_collection(&a.alias_name)
                && caller.can_list_collection(&a.collection_name)
        })
        .collect();
    ApiOk(AliasesList { aliases })
}

/// `GET /collections/{c}/aliases`: only aliases the token names.
pub(crate) async fn collection_aliases(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> RestResult<ApiOk<AliasesList>> {
    let storage = state.storage.clone();
    let aliases = engine(move || storage.collection_aliases(&name))
        .await?
        .into_iter()
        .filter(|a| caller.can_list_collection(&a.alias_name))
        .collect();
    Ok(ApiOk(AliasesList { aliases }))
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct OptimizationsParams {
    /// Comma-separated: `queued`, `completed`, `idle_segments`.
    #[serde(default)]
    with: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    completed_limit: Option<u64>,
}

/// `GET /collections/{c}/optimizations`. Search here is exact over one
/// segment, so no optimizer ever runs or waits: the summary is all zeros and
/// every requested list is empty.
pub(crate) async fn optimizations(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<OptimizationsParams>,
) -> RestResult<ApiOk<serde_json::Value>> {
    let storage = state.storage.clone();
    engine(move || storage.collection(&name).map(drop)).await?;
    let mut result = serde_json::json!({
        "summary": {
            "queued_optimizations": 0,
            "queued_segments": 0,
            "queued_points": 0,
            "idle_segments": 0,
        },
        "running": [],
    });
    for field in params
        .with
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
    {
        if matches!(field, "queued" | "completed" | "idle_segments") {
            result[field] = serde_json::json!([]);
        }
    }
    Ok(ApiOk(result))
}

/// `/collections/aliases` is the alias-update route (POST), but with the other
/// methods it names a collection called `aliases`, as in Qdrant.
const ALIASES: &str = "aliases";

pub(crate) async fn get_aliases_named(
    state: State<AppState>,
    caller: Extension<Caller>,
) -> RestResult<ApiOk<osprey_engine::CollectionInfo>> {
    get(state, caller, Path(ALIASES.to_owned())).await
}

pub(crate) async fn create_aliases_named(
    state: State<AppState>,
    params: Query<TimeoutParams>,
    request: Json<CreateCollection>,
) -> RestResult<ApiOk<bool>> {
    create(state, Path(ALIASES.to_owned()), params, request).await
}

pub(crate) async fn update_aliases_named(
    state: State<AppState>,
    params: Query<TimeoutParams>,
    request: Json<UpdateCollection>,
) -> RestResult<ApiOk<bool>> {
    update(state, Path(ALIASES.to_owned()), params, request).await
}

pub(crate) async fn delete_aliases_named(
    state: State<AppState>,
    params: Query<TimeoutParams>,
) -> RestResult<ApiOk<bool>> {
    delete(state, Path(ALIASES.to_owned()), params).await
}
