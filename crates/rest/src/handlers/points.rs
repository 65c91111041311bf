//! Point retrieval and every point write: upsert, delete, batch, vectors,
//! payload, payload indexes. Writes take `wait` (default false: answer
//! `acknowledged` once logged), `ordering` and `timeout`.

use axum::Extension;
use axum::extract::State;
use osprey_engine::EngineError;
use osprey_engine::config::VectorNameConfig;
use osprey_engine::operations::{
    CreateFieldIndex, DeletePayload, DeleteVectors, PointInsertOperations, PointsSelector,
    SetPayload, UpdateOperation, UpdateOperations, UpdateResult, UpdateVectors,
};
use osprey_engine::requests::{PointRequest, Record};
use osprey_engine::types::PointId;

use crate::access::Caller;
use crate::envelope::ApiOk;
use crate::error::RestResult;
use crate::extract::{Json, Path, Query, ReadParams, UpdateParams};
use crate::handlers::{engine, on_view};
use crate::state::AppState;

/// `GET /collections/{c}/points/{id}`.
pub(crate) async fn get_point(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, id)): Path<(String, String)>,
    Query(params): Query<ReadParams>,
) -> RestResult<ApiOk<Record>> {
    params.validate()?;
    let record = on_view(&state, caller, name, move |view, _| {
        let id: PointId = id.parse().map_err(|_| {
            EngineError::BadInput(format!("Can not recognize \"{id}\" as point id"))
        })?;
        view.get_point(id)
    })
    .await?;
    Ok(ApiOk(record))
}

/// `POST /collections/{c}/points`: several points by id.
pub(crate) async fn get_points(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<PointRequest>,
) -> RestResult<ApiOk<Vec<Record>>> {
    params.validate()?;
    let records = on_view(&state, caller, name, move |view, _| view.retrieve(request)).await?;
    Ok(ApiOk(records))
}

/// Applies one write to the collection named (or aliased) `name`.
async fn write(
    state: &AppState,
    caller: Caller,
    name: String,
    params: &UpdateParams,
    op: UpdateOperation,
) -> RestResult<ApiOk<UpdateResult>> {
    params.validate()?;
    let wait = params.wait();
    let result = on_view(&state, caller, name, move |view, _| view.update(op, wait)).await?;
    Ok(ApiOk(result))
}

/// `PUT /collections/{c}/points`.
pub(crate) async fn upsert(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<PointInsertOperations>,
) -> RestResult<ApiOk<UpdateResult>> {
    write(&state, caller, name, &params, UpdateOperation::Upsert(body)).await
}

/// `POST /collections/{c}/points/delete`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<PointsSelector>,
) -> RestResult<ApiOk<UpdateResult>> {
    write(&state, caller, name, &params, UpdateOperation::Delete(body)).await
}

/// `PUT /collections/{c}/points/vectors`.
pub(crate) async fn update_vectors(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<UpdateVectors>,
) -> RestResult<ApiOk<UpdateResult>> {
    write(
        &state,
        caller,
        name,
        &params,
        UpdateOperation::UpdateVectors(body),
    )
    .await
}

/// `POST /collections/{c}/points/vectors/delete`.
pub(crate) async fn delete_vectors(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<DeleteVectors>,
) -> RestResult<ApiOk<UpdateResult>> {
    write(
        &state,
        caller,
        name,
        &params,
        UpdateOperation::DeleteVectors(body),
    )
    .await
}

/// `POST /collections/{c}/points/payload`.
pub(crate) async fn set_payload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<SetPayload>,
) -> RestResult<ApiOk<UpdateResult>> {
    write(
        &state,
        caller,
        name,
        &params,
        UpdateOperation::SetPayload(body),
    )
    .await
}

/// `PUT /collections/{c}/points/payload`.
pub(crate) async fn overwrite_payload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<SetPayload>,
) -> RestResult<ApiOk<UpdateResult>> {
    write(
        &state,
        caller,
        name,
        &params,
        UpdateOperation::OverwritePayload(body),
    )
    .await
}

/// `POST /collections/{c}/points/payload/delete`.
pub(crate) async fn delete_payload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<DeletePayload>,
) -> RestResult<ApiOk<UpdateResult>> {
    write(
        &state,
        caller,
        name,
        &params,
        UpdateOperation::DeletePayload(body),
    )
    .await
}

/// `POST /collections/{c}/points/payload/clear`.
pub(crate) async fn clear_payload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<PointsSelector>,
) -> RestResult<ApiOk<UpdateResult>> {
    write(
        &state,
        caller,
        name,
        &params,
        UpdateOperation::ClearPayload(body),
    )
    .await
}

/// `POST /collections/{c}/points/batch`: all operations as one record.
pub(crate) async fn batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<UpdateOperations>,
) -> RestResult<ApiOk<Vec<UpdateResult>>> {
    params.validate()?;
    let wait = params.wait();
    let results = on_view(&state, caller, name, move |view, _| {
        view.update_batch(body.operations, wait)
    })
    .await?;
    Ok(ApiOk(results))
}

/// `PUT /collections/{c}/index`.
pub(crate) async fn create_index(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<CreateFieldIndex>,
) -> RestResult<ApiOk<UpdateResult>> {
    params.validate()?;
    let wait = params.wait();
    let result = on_view(&state, caller, name, move |view, _| {
        view.create_field_index(body, wait)
    })
    .await?;
    Ok(ApiOk(result))
}

/// `DELETE /collections/{c}/index/{field_name}`.
pub(crate) async fn delete_index(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, field)): Path<(String, String)>,
    Query(params): Query<UpdateParams>,
) -> RestResult<ApiOk<UpdateResult>> {
    params.validate()?;
    let wait = params.wait();
    let result = on_view(&state, caller, name, move |view, _| {
        view.delete_field_index(&field, wait)
    })
    .await?;
    Ok(ApiOk(result))
}

/// `PUT /collections/{c}/vectors/{vector_name}`: adds a named vector.
pub(crate) async fn create_vector_name(
    State(state): State<AppState>,
    Path((name, vector)): Path<(String, String)>,
    Query(params): Query<UpdateParams>,
    Json(body): Json<VectorNameConfig>,
) -> RestResult<ApiOk<UpdateResult>> {
    params.validate()?;
    let storage = state.storage.clone();
    engine(move || storage.create_vector_name(&name, &vector, body)).await?;
    Ok(ApiOk(completed()))
}

/// `DELETE /collections/{c}/vectors/{vector_name}`: drops a named vector and its data.
pub(crate) async fn delete_vector_name(
    State(state): State<AppState>,
    Path((name, vector)): Path<(String, String)>,
    Query(params): Query<UpdateParams>,
) -> RestResult<ApiOk<UpdateResult>> {
    params.validate()?;
    let storage = state.storage.clone();
    engine(move || storage.delete_vector_name(&name, &vector)).await?;
    Ok(ApiOk(completed()))
}

/// Schema changes are applied (and persisted) before the answer.
fn completed() -> UpdateResult {
    UpdateResult {
        operation_id: 0,
        status: osprey_engine::operations::UpdateStatus::Completed,
    }
}
