//! `qdrant.Points`: point writes, named vectors, retrieval, scroll, count,
//! search, query, recommend, discover, groups, facets and the distance matrix.

use std::sync::Arc;

use osprey_auth::Principal;
use osprey_engine::operations::UpdateOperation;
use qdrant_client::qdrant as proto;
use qdrant_client::qdrant::points_server::Points;
use qdrant_client::qdrant::{
    BatchResult, ClearPayloadPoints, CountPoints, CountResponse, CreateFieldIndexCollection,
    CreateVectorNameRequest, DeleteFieldIndexCollection, DeletePayloadPoints, DeletePointVectors,
    DeletePoints, DeleteVectorNameRequest, DiscoverBatchPoints, DiscoverBatchResponse,
    DiscoverPoints, DiscoverResponse, FacetCounts, FacetResponse, GetPoints, GetResponse,
    PointsOperationResponse, QueryBatchPoints, QueryBatchResponse, QueryGroupsResponse,
    QueryPointGroups, QueryPoints, QueryResponse, RecommendBatchPoints, RecommendBatchResponse,
    RecommendGroupsResponse, RecommendPointGroups, RecommendPoints, RecommendResponse,
    ScrollPoints, ScrollResponse, SearchBatchPoints, SearchBatchResponse, SearchGroupsResponse,
    SearchMatrixOffsetsResponse, SearchMatrixPairsResponse, SearchMatrixPoints, SearchPointGroups,
    SearchPoints, SearchResponse, SetPayloadPoints, UpdateBatchPoints, UpdateBatchResponse,
    UpdatePointVectors, UpsertPoints,
};
use tonic::{Request, Response, Status};

use super::{Shared, Timer, engine, on_view};
use crate::auth::{authorize, caller, check_references};
use crate::conversions::from_proto::{self, Write};
use crate::conversions::to_proto;

pub(crate) struct PointsService {
    shared: Arc<Shared>,
}

impl PointsService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        PointsService { shared }
    }

    /// Access check, then one write on the collection (or alias) named.
    async fn write(
        &self,
        rpc: &str,
        caller: &Principal,
        write: Write<UpdateOperation>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let timer = Timer::start();
        authorize(caller, rpc, Some(&write.collection))?;
        let Write {
            collection,
            wait,
            operation,
        } = write;
        let result = on_view(&self.shared.storage, caller, collection, move |view, _| {
            view.update(operation, wait)
        })
        .await?;
        Ok(Response::new(PointsOperationResponse {
            result: Some(to_proto::update_result(result)),
            time: timer.secs(),
            usage: None,
        }))
    }
}

/// The answer to a schema change (named vectors): applied and stored before
/// the answer, as REST answers it.
fn schema_changed(timer: &Timer) -> Response<PointsOperationResponse> {
    Response::new(PointsOperationResponse {
        result: Some(proto::UpdateResult {
            operation_id: Some(0),
            status: proto::UpdateStatus::Completed as i32,
        }),
        time: timer.secs(),
        usage: None,
    })
}

fn batch(results: Vec<Vec<osprey_engine::requests::ScoredPoint>>) -> Vec<BatchResult> {
    results
        .into_iter()
        .map(|points| BatchResult {
            result: points.into_iter().map(to_proto::scored_point).collect(),
        })
        .collect()
}

#[tonic::async_trait]
impl Points for PointsService {
    async fn upsert(
        &self,
        request: Request<UpsertPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let caller = caller(&request)?;
        let write = from_proto::upsert(request.into_inner())?;
        self.write("qdrant.Points/Upsert", &caller, write).await
    }

    async fn delete(
        &self,
        request: Request<DeletePoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let caller = caller(&request)?;
        let write = from_proto::delete_points(request.into_inner())?;
        self.write("qdrant.Points/Delete", &caller, write).await
    }

    async fn get(&self, request: Request<GetPoints>) -> Result<Response<GetResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::get_points(request.into_inner())?;
        authorize(&caller, "qdrant.Points/Get", Some(&read.collection))?;
        let records = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, _| view.retrieve(read.request),
        )
        .await?;
        Ok(Response::new(GetResponse {
            result: records.into_iter().map(to_proto::retrieved_point).collect(),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn update_vectors(
        &self,
        request: Request<UpdatePointVectors>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let caller = caller(&request)?;
        let write = from_proto::update_vectors(request.into_inner())?;
        self.write("qdrant.Points/UpdateVectors", &caller, write)
            .await
    }

    async fn delete_vectors(
        &self,
        request: Request<DeletePointVectors>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let caller = caller(&request)?;
        let write = from_proto::delete_vectors(request.into_inner())?;
        self.write("qdrant.Points/DeleteVectors", &caller, write)
            .await
    }

    async fn set_payload(
        &self,
        request: Request<SetPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let caller = caller(&request)?;
        let write = from_proto::set_payload(request.into_inner())?;
        self.write("qdrant.Points/SetPayload", &caller, write).await
    }

    async fn overwrite_payload(
        &self,
        request: Request<SetPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let caller = caller(&request)?;
        let write = from_proto::overwrite_payload(request.into_inner())?;
        self.write("qdrant.Points/OverwritePayload", &caller, write)
            .await
    }

    async fn delete_payload(
        &self,
        request: Request<DeletePayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let caller = caller(&request)?;
        let write = from_proto::delete_payload(request.into_inner())?;
        self.write("qdrant.Points/DeletePayload", &caller, write)
            .await
    }

    async fn clear_payload(
        &self,
        request: Request<ClearPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let caller = caller(&request)?;
        let write = from_proto::clear_payload(request.into_inner())?;
        self.write("qdrant.Points/ClearPayload", &caller, write)
            .await
    }

    async fn create_field_index(
        &self,
        request: Request<CreateFieldIndexCollection>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let Write {
            collection,
            wait,
            operation,
        } = from_proto::create_field_index(request.into_inner())?;
        authorize(&caller, "qdrant.Points/CreateFieldIndex", Some(&collection))?;
        let result = on_view(&self.shared.storage, &caller, collection, move |view, _| {
            view.create_field_index(operation, wait)
        })
        .await?;
        Ok(Response::new(PointsOperationResponse {
            result: Some(to_proto::update_result(result)),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn delete_field_index(
        &self,
        request: Request<DeleteFieldIndexCollection>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let DeleteFieldIndexCollection {
            collection_name,
            wait,
            field_name,
            ..
        } = request.into_inner();
        authorize(
            &caller,
            "qdrant.Points/DeleteFieldIndex",
            Some(&collection_name),
        )?;
        let wait = wait.unwrap_or(false);
        let result = on_view(
            &self.shared.storage,
            &caller,
            collection_name,
            move |view, _| view.delete_field_index(&field_name, wait),
        )
        .await?;
        Ok(Response::new(PointsOperationResponse {
            result: Some(to_proto::update_result(result)),
            time: timer.secs(),
            usage: None,
        }))
    }

    /// Schema changes are applied, and stored, before the answer.
    async fn create_vector_name(
        &self,
        request: Request<CreateVectorNameRequest>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let (collection, vector, config) = from_proto::create_vector_name(request.into_inner())?;
        authorize(&caller, "qdrant.Points/CreateVectorName", Some(&collection))?;
        let storage = self.shared.storage.clone();
        engine(move || storage.create_vector_name(&collection, &vector, config)).await?;
        Ok(schema_changed(&timer))
    }

    async fn delete_vector_name(
        &self,
        request: Request<DeleteVectorNameRequest>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let DeleteVectorNameRequest {
            collection_name,
            vector_name,
            ..
        } = request.into_inner();
        authorize(
            &caller,
            "qdrant.Points/DeleteVectorName",
            Some(&collection_name),
        )?;
        let storage = self.shared.storage.clone();
        engine(move || storage.delete_vector_name(&collection_name, &vector_name)).await?;
        Ok(schema_changed(&timer))
    }

    async fn search(
        &self,
        request: Request<SearchPoints>,
    ) -> Result<Response<SearchResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::search(request.into_inner())?;
        authorize(&caller, "qdrant.Points/Search", Some(&read.collection))?;
        let points = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, _| view.search(read.request),
        )
        .await?;
        Ok(Response::new(SearchResponse {
            result: points.into_iter().map(to_proto::scored_point).collect(),
            time: timer.secs(),
            usage: None,
        }))
    }

    /// Every search runs on the batch's collection; the names inside the
    /// searches are ignored, as Qdrant does.
    async fn search_batch(
        &self,
        request: Request<SearchBatchPoints>,
    ) -> Result<Response<SearchBatchResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let SearchBatchPoints {
            collection_name,
            search_points,
            ..
        } = request.into_inner();
        let searches = search_points
            .into_iter()
            .map(|s| from_proto::search(s).map(|read| read.request))
            .collect::<Result<Vec<_>, Status>>()?;
        authorize(&caller, "qdrant.Points/SearchBatch", Some(&collection_name))?;
        let results = on_view(
            &self.shared.storage,
            &caller,
            collection_name,
            move |view, _| view.search_batch(searches),
        )
        .await?;
        Ok(Response::new(SearchBatchResponse {
            result: batch(results),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn search_groups(
        &self,
        request: Request<SearchPointGroups>,
    ) -> Result<Response<SearchGroupsResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::search_groups(request.into_inner())?;
        authorize(
            &caller,
            "qdrant.Points/SearchGroups",
            Some(&read.collection),
        )?;
        check_references(
            &caller,
            read.request
                .groups
                .with_lookup
                .iter()
                .map(|l| l.collection()),
        )?;
        let groups = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, storage| view.search_groups(read.request, storage),
        )
        .await?;
        Ok(Response::new(SearchGroupsResponse {
            result: Some(to_proto::groups_result(groups)),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn scroll(
        &self,
        request: Request<ScrollPoints>,
    ) -> Result<Response<ScrollResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::scroll(request.into_inner())?;
        authorize(&caller, "qdrant.Points/Scroll", Some(&read.collection))?;
        let page = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, _| view.scroll(read.request),
        )
        .await?;
        Ok(Response::new(ScrollResponse {
            next_page_offset: page.next_page_offset.map(to_proto::point_id),
            result: page
                .points
                .into_iter()
                .map(to_proto::retrieved_point)
                .collect(),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn recommend(
        &self,
        request: Request<RecommendPoints>,
    ) -> Result<Response<RecommendResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::recommend(request.into_inner())?;
        authorize(&caller, "qdrant.Points/Recommend", Some(&read.collection))?;
        check_references(
            &caller,
            read.request
                .lookup_from
                .iter()
                .map(|l| l.collection.as_str()),
        )?;
        let points = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, storage| view.recommend(read.request, storage),
        )
        .await?;
        Ok(Response::new(RecommendResponse {
            result: points.into_iter().map(to_proto::scored_point).collect(),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn recommend_batch(
        &self,
        request: Request<RecommendBatchPoints>,
    ) -> Result<Response<RecommendBatchResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let RecommendBatchPoints {
            collection_name,
            recommend_points,
            ..
        } = request.into_inner();
        let requests = recommend_points
            .into_iter()
            .map(|r| from_proto::recommend(r).map(|read| read.request))
            .collect::<Result<Vec<_>, Status>>()?;
        authorize(
            &caller,
            "qdrant.Points/RecommendBatch",
            Some(&collection_name),
        )?;
        for request in &requests {
            check_references(
                &caller,
                request.lookup_from.iter().map(|l| l.collection.as_str()),
            )?;
        }
        let results = on_view(
            &self.shared.storage,
            &caller,
            collection_name,
            move |view, storage| view.recommend_batch(requests, storage),
        )
        .await?;
        Ok(Response::new(RecommendBatchResponse {
            result: batch(results),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn recommend_groups(
        &self,
        request: Request<RecommendPointGroups>,
    ) -> Result<Response<RecommendGroupsResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::recommend_groups(request.into_inner())?;
        authorize(
            &caller,
            "qdrant.Points/RecommendGroups",
            Some(&read.collection),
        )?;
        let lookups = read
            .request
            .lookup_from
            .iter()
            .map(|l| l.collection.as_str());
        let with_lookup = read
            .request
            .groups
            .with_lookup
            .iter()
            .map(|l| l.collection());
        check_references(&caller, lookups.chain(with_lookup))?;
        let groups = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, storage| view.recommend_groups(read.request, storage),
        )
        .await?;
        Ok(Response::new(RecommendGroupsResponse {
            result: Some(to_proto::groups_result(groups)),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn discover(
        &self,
        request: Request<DiscoverPoints>,
    ) -> Result<Response<DiscoverResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::discover(request.into_inner())?;
        authorize(&caller, "qdrant.Points/Discover", Some(&read.collection))?;
        check_references(
            &caller,
            read.request
                .lookup_from
                .iter()
                .map(|l| l.collection.as_str()),
        )?;
        let points = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, storage| view.discover(read.request, storage),
        )
        .await?;
        Ok(Response::new(DiscoverResponse {
            result: points.into_iter().map(to_proto::scored_point).collect(),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn discover_batch(
        &self,
        request: Request<DiscoverBatchPoints>,
    ) -> Result<Response<DiscoverBatchResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let DiscoverBatchPoints {
            collection_name,
            discover_points,
            ..
        } = request.into_inner();
        let requests = discover_points
            .into_iter()
            .map(|d| from_proto::discover(d).map(|read| read.request))
            .collect::<Result<Vec<_>, Status>>()?;
        authorize(
            &caller,
            "qdrant.Points/DiscoverBatch",
            Some(&collection_name),
        )?;
        for request in &requests {
            check_references(
                &caller,
                request.lookup_from.iter().map(|l| l.collection.as_str()),
            )?;
        }
        let results = on_view(
            &self.shared.storage,
            &caller,
            collection_name,
            move |view, storage| view.discover_batch(requests, storage),
        )
        .await?;
        Ok(Response::new(DiscoverBatchResponse {
            result: batch(results),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn count(
        &self,
        request: Request<CountPoints>,
    ) -> Result<Response<CountResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::count(request.into_inner())?;
        authorize(&caller, "qdrant.Points/Count", Some(&read.collection))?;
        let count = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, _| view.count(read.request),
        )
        .await?;
        Ok(Response::new(CountResponse {
            result: Some(to_proto::count_result(count)),
            time: timer.secs(),
            usage: None,
        }))
    }

    /// All operations as one: all of them apply, or none.
    async fn update_batch(
        &self,
        request: Request<UpdateBatchPoints>,
    ) -> Result<Response<UpdateBatchResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let Write {
            collection,
            wait,
            operation,
        } = from_proto::update_batch(request.into_inner())?;
        authorize(&caller, "qdrant.Points/UpdateBatch", Some(&collection))?;
        let results = on_view(&self.shared.storage, &caller, collection, move |view, _| {
            view.update_batch(operation, wait)
        })
        .await?;
        Ok(Response::new(UpdateBatchResponse {
            result: results.into_iter().map(to_proto::update_result).collect(),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn query(
        &self,
        request: Request<QueryPoints>,
    ) -> Result<Response<QueryResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::query(request.into_inner())?;
        authorize(&caller, "qdrant.Points/Query", Some(&read.collection))?;
        check_references(
            &caller,
            read.request
                .referenced_collections()
                .iter()
                .map(String::as_str),
        )?;
        let answer = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, storage| view.query(read.request, storage),
        )
        .await?;
        Ok(Response::new(QueryResponse {
            result: answer
                .points
                .into_iter()
                .map(to_proto::scored_point)
                .collect(),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn query_batch(
        &self,
        request: Request<QueryBatchPoints>,
    ) -> Result<Response<QueryBatchResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let QueryBatchPoints {
            collection_name,
            query_points,
            ..
        } = request.into_inner();
        let queries = query_points
            .into_iter()
            .map(|q| from_proto::query(q).map(|read| read.request))
            .collect::<Result<Vec<_>, Status>>()?;
        authorize(&caller, "qdrant.Points/QueryBatch", Some(&collection_name))?;
        for query in &queries {
            check_references(
                &caller,
                query.referenced_collections().iter().map(String::as_str),
            )?;
        }
        let answers = on_view(
            &self.shared.storage,
            &caller,
            collection_name,
            move |view, storage| view.query_batch(queries, storage),
        )
        .await?;
        Ok(Response::new(QueryBatchResponse {
            result: batch(answers.into_iter().map(|a| a.points).collect()),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn query_groups(
        &self,
        request: Request<QueryPointGroups>,
    ) -> Result<Response<QueryGroupsResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::query_groups(request.into_inner())?;
        authorize(&caller, "qdrant.Points/QueryGroups", Some(&read.collection))?;
        check_references(
            &caller,
            read.request
                .referenced_collections()
                .iter()
                .map(String::as_str),
        )?;
        let groups = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, storage| view.query_groups(read.request, storage),
        )
        .await?;
        Ok(Response::new(QueryGroupsResponse {
            result: Some(to_proto::groups_result(groups)),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn facet(
        &self,
        request: Request<FacetCounts>,
    ) -> Result<Response<FacetResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::facet(request.into_inner())?;
        authorize(&caller, "qdrant.Points/Facet", Some(&read.collection))?;
        let facets = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, _| view.facet(read.request),
        )
        .await?;
        Ok(Response::new(FacetResponse {
            hits: to_proto::facet_hits(facets),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn search_matrix_pairs(
        &self,
        request: Request<SearchMatrixPoints>,
    ) -> Result<Response<SearchMatrixPairsResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::search_matrix(request.into_inner())?;
        authorize(
            &caller,
            "qdrant.Points/SearchMatrixPairs",
            Some(&read.collection),
        )?;
        let matrix = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, _| view.search_matrix_pairs(read.request),
        )
        .await?;
        Ok(Response::new(SearchMatrixPairsResponse {
            result: Some(to_proto::matrix_pairs(matrix)),
            time: timer.secs(),
            usage: None,
        }))
    }

    async fn search_matrix_offsets(
        &self,
        request: Request<SearchMatrixPoints>,
    ) -> Result<Response<SearchMatrixOffsetsResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let read = from_proto::search_matrix(request.into_inner())?;
        authorize(
            &caller,
            "qdrant.Points/SearchMatrixOffsets",
            Some(&read.collection),
        )?;
        let matrix = on_view(
            &self.shared.storage,
            &caller,
            read.collection,
            move |view, _| view.search_matrix_offsets(read.request),
        )
        .await?;
        Ok(Response::new(SearchMatrixOffsetsResponse {
            result: Some(to_proto::matrix_offsets(matrix)),
            time: timer.secs(),
            usage: None,
        }))
    }
}
