//! Reads over many points: scroll, count, search, query and recommend, single
//! and batched. Requests that name other collections (`lookup_from`) are
//! checked against the caller right after parsing, before the engine runs.

use axum::Extension;
use axum::extract::State;
use osprey_engine::requests::{
    CountRequest, CountResult, DiscoverRequest, DiscoverRequestBatch, FacetRequest, FacetResponse,
    GroupsResult, QueryGroupsRequest, QueryRequest, QueryRequestBatch, QueryResponse,
    RecommendGroupsRequest, RecommendRequest, RecommendRequestBatch, ScoredPoint, ScrollRequest,
    ScrollResult, SearchGroupsRequest, SearchMatrixOffsetsResponse, SearchMatrixPairsResponse,
    SearchMatrixRequest, SearchRequest, SearchRequestBatch,
};

use crate::access::{Caller, check_references};
use crate::envelope::ApiOk;
use crate::error::RestResult;
use crate::extract::{Json, Path, Query, ReadParams};
use crate::handlers::on_view;
use crate::state::AppState;

/// `POST /collections/{c}/points/scroll`.
pub(crate) async fn scroll(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<ScrollRequest>,
) -> RestResult<ApiOk<ScrollResult>> {
    params.validate()?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, _| view.scroll(request)).await?,
    ))
}

/// `POST /collections/{c}/points/count`.
pub(crate) async fn count(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<CountRequest>,
) -> RestResult<ApiOk<CountResult>> {
    params.validate()?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, _| view.count(request)).await?,
    ))
}

/// `POST /collections/{c}/points/search`.
pub(crate) async fn search(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<SearchRequest>,
) -> RestResult<ApiOk<Vec<ScoredPoint>>> {
    params.validate()?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, _| view.search(request)).await?,
    ))
}

/// `POST /collections/{c}/points/search/batch`.
pub(crate) async fn search_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(batch): Json<SearchRequestBatch>,
) -> RestResult<ApiOk<Vec<Vec<ScoredPoint>>>> {
    params.validate()?;
    let results = on_view(&state, caller, name, move |view, _| {
        view.search_batch(batch.searches)
    })
    .await?;
    Ok(ApiOk(results))
}

/// `POST /collections/{c}/points/query`.
pub(crate) async fn query(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<QueryRequest>,
) -> RestResult<ApiOk<QueryResponse>> {
    params.validate()?;
    check_references(
        &caller,
        request.referenced_collections().iter().map(String::as_str),
    )?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, storage| {
            view.query(request, storage)
        })
        .await?,
    ))
}

/// `POST /collections/{c}/points/query/batch`.
pub(crate) async fn query_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(batch): Json<QueryRequestBatch>,
) -> RestResult<ApiOk<Vec<QueryResponse>>> {
    params.validate()?;
    for request in &batch.searches {
        check_references(
            &caller,
            request.referenced_collections().iter().map(String::as_str),
        )?;
    }
    let results = on_view(&state, caller, name, move |view, storage| {
        view.query_batch(batch.searches, storage)
    })
    .await?;
    Ok(ApiOk(results))
}

/// `POST /collections/{c}/points/recommend`.
pub(crate) async fn recommend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<RecommendRequest>,
) -> RestResult<ApiOk<Vec<ScoredPoint>>> {
    params.validate()?;
    check_references(
        &caller,
        request.lookup_from.iter().map(|l| l.collection.as_str()),
    )?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, storage| {
            view.recommend(request, storage)
        })
        .await?,
    ))
}

/// `POST /collections/{c}/points/recommend/batch`.
pub(crate) async fn recommend_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(batch): Json<RecommendRequestBatch>,
) -> RestResult<ApiOk<Vec<Vec<ScoredPoint>>>> {
    params.validate()?;
    for request in &batch.searches {
        check_references(
            &caller,
            request.lookup_from.iter().map(|l| l.collection.as_str()),
        )?;
    }
    let results = on_view(&state, caller, name, move |view, storage| {
        view.recommend_batch(batch.searches, storage)
    })
    .await?;
    Ok(ApiOk(results))
}

/// `POST /collections/{c}/points/discover`.
pub(crate) async fn discover(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<DiscoverRequest>,
) -> RestResult<ApiOk<Vec<ScoredPoint>>> {
    params.validate()?;
    check_references(
        &caller,
        request.lookup_from.iter().map(|l| l.collection.as_str()),
    )?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, storage| {
            view.discover(request, storage)
        })
        .await?,
    ))
}

/// `POST /collections/{c}/points/discover/batch`.
pub(crate) async fn discover_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(batch): Json<DiscoverRequestBatch>,
) -> RestResult<ApiOk<Vec<Vec<ScoredPoint>>>> {
    params.validate()?;
    for request in &batch.searches {
        check_references(
            &caller,
            request.lookup_from.iter().map(|l| l.collection.as_str()),
        )?;
    }
    let results = on_view(&state, caller, name, move |view, storage| {
        view.discover_batch(batch.searches, storage)
    })
    .await?;
    Ok(ApiOk(results))
}

/// `POST /collections/{c}/points/search/groups`.
pub(crate) async fn search_groups(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<SearchGroupsRequest>,
) -> RestResult<ApiOk<GroupsResult>> {
    params.validate()?;
    check_references(
        &caller,
        request.groups.with_lookup.iter().map(|l| l.collection()),
    )?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, storage| {
            view.search_groups(request, storage)
        })
        .await?,
    ))
}

/// `POST /collections/{c}/points/recommend/groups`.
pub(crate) async fn recommend_groups(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<RecommendGroupsRequest>,
) -> RestResult<ApiOk<GroupsResult>> {
    params.validate()?;
    let lookups = request.lookup_from.iter().map(|l| l.collection.as_str());
    let with_lookup = request.groups.with_lookup.iter().map(|l| l.collection());
    check_references(&caller, lookups.chain(with_lookup))?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, storage| {
            view.recommend_groups(request, storage)
        })
        .await?,
    ))
}

/// `POST /collections/{c}/points/query/groups`.
pub(crate) async fn query_groups(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<QueryGroupsRequest>,
) -> RestResult<ApiOk<GroupsResult>> {
    params.validate()?;
    check_references(
        &caller,
        request.referenced_collections().iter().map(String::as_str),
    )?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, storage| {
            view.query_groups(request, storage)
        })
        .await?,
    ))
}

/// `POST /collections/{c}/facet`.
pub(crate) async fn facet(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<FacetRequest>,
) -> RestResult<ApiOk<FacetResponse>> {
    params.validate()?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, _| view.facet(request)).await?,
    ))
}

/// `POST /collections/{c}/points/search/matrix/pairs`.
pub(crate) async fn matrix_pairs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<SearchMatrixRequest>,
) -> RestResult<ApiOk<SearchMatrixPairsResponse>> {
    params.validate()?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, _| {
            view.search_matrix_pairs(request)
        })
        .await?,
    ))
}

/// `POST /collections/{c}/points/search/matrix/offsets`.
pub(crate) async fn matrix_offsets(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(request): Json<SearchMatrixRequest>,
) -> RestResult<ApiOk<SearchMatrixOffsetsResponse>> {
    params.validate()?;
    Ok(ApiOk(
        on_view(&state, caller, name, move |view, _| {
            view.search_matrix_offsets(request)
        })
        .await?,
    ))
}
