//! A collection as one principal may see it: unrestricted, or narrowed to the
//! points its key's payload restriction allows (spec/auth.md §15). The front
//! ends call every point operation through a view, so the restriction is
//! applied in one place for REST and gRPC alike.

use std::sync::Arc;

use crate::collection::{Collection, CollectionInfo, select_payload};
use crate::error::{EngineError, Result};
use crate::filter::{Condition, Filter};
use crate::operations::{CreateFieldIndex, UpdateOperation, UpdateResult};
use crate::requests::{
    all_prefetches,
    ContextPair, CountRequest, CountResult, DiscoverRequest, FacetRequest, FacetResponse, GroupsResult, PointRequest,
    OneOrMany, Prefetch, Query, QueryGroupsRequest, QueryInterface, QueryRequest, QueryResponse, RecommendGroupsRequest,
    RecommendRequest, Record, ScoredPoint, ScrollRequest, ScrollResult, SearchGroupsRequest,
    SearchMatrixOffsetsResponse, SearchMatrixPairsResponse, SearchMatrixRequest, SearchRequest, VectorInput,
    WithPayload,
};
use crate::restriction::PayloadRestriction;
use crate::storage::Storage;
use crate::types::{Payload, PointId};

/// A collection seen through an optional payload restriction.
pub struct CollectionView {
    collection: Arc<Collection>,
    restriction: Option<PayloadRestriction>,
}

impl Storage {
    /// The collection (or alias) `name`, narrowed to `restriction` when the
    /// caller's key carries one for it.
    pub fn view(&self, name: &str, restriction: Option<&Payload>) -> Result<CollectionView> {
        let collection = self.collection(name)?;
        let restriction = restriction.map(|values| PayloadRestriction::new(name, values)).transpose()?;
        Ok(CollectionView { collection, restriction })
    }
}

impl CollectionView {
    pub fn collection(&self) -> &Arc<Collection> {
        &self.collection
    }

    pub fn is_restricted(&self) -> bool {
        self.restriction.is_some()
    }

    /// Operations that cannot be narrowed to some points (payload indexes,
    /// snapshots, vector schema) need an unrestricted key.
    pub fn require_unrestricted(&self) -> Result<()> {
        match &self.restriction {
            Some(r) => Err(r.forbidden()),
            None => Ok(()),
        }
    }

    pub fn info(&self) -> Result<CollectionInfo> {
        let mut info = self.collection.info();
        if let Some(r) = &self.restriction {
            // The totals of a collection would tell about points the key cannot see.
            info.points_count = self.collection.count(CountRequest { filter: Some(r.restrict(None)), ..Default::default() })?.count;
            info.indexed_vectors_count = 0;
            for (field, index) in info.payload_schema.iter_mut() {
                let has_value: crate::filter::Filter = serde_json::from_value(
                    serde_json::json!({"must_not": [{"is_empty": {"key": field}}]}),
                )
                .map_err(|e| EngineError::Service(e.to_string()))?;
                let filter = Some(r.restrict(Some(has_value)));
                index.points = self.collection.count(CountRequest { filter, ..Default::default() })?.count;
            }
        }
        Ok(info)
    }

    // ---- writes ---------------------------------------------------------

    pub fn update(&self, op: UpdateOperation, wait: bool) -> Result<UpdateResult> {
        self.update_batch(vec![op], wait).map(|mut r| r.remove(0))
    }

    pub fn update_batch(&self, ops: Vec<UpdateOperation>, wait: bool) -> Result<Vec<UpdateResult>> {
        // Shard key selectors of writes are resolved by the collection,
        // under the lock that applies them (`collection::write_scope`).
        self.collection.update_batch_restricted(ops, wait, self.restriction.as_ref())
    }

    pub fn create_field_index(&self, request: CreateFieldIndex, wait: bool) -> Result<UpdateResult> {
        self.require_unrestricted()?;
        self.collection.create_field_index(request, wait)
    }

    pub fn delete_field_index(&self, field: &str, wait: bool) -> Result<UpdateResult> {
        self.require_unrestricted()?;
        self.collection.delete_field_index(field, wait)
    }

    // ---- reads ----------------------------------------------------------

    pub fn get_point(&self, id: PointId) -> Result<Record> {
        let record = self.collection.get_point(id)?;
        match &self.restriction {
            Some(r) if !record.payload.as_ref().is_some_and(|p| r.matches(p)) => {
                Err(crate::collection::point_not_found(id))
            }
            _ => Ok(record),
        }
    }

    pub fn retrieve(&self, mut request: PointRequest) -> Result<Vec<Record>> {
        if let Some(keys) = self.collection.read_scope_keys(request.shard_key.as_ref())? {
            request.shard_key = None;
            let records = self.retrieve(request)?;
            return Ok(records.into_iter().filter(|rec| rec.shard_key.as_ref().is_some_and(|k| keys.contains(k))).collect());
        }
        let Some(r) = &self.restriction else { return self.collection.retrieve(request) };
        let wanted = request.with_payload.replace(WithPayload::Enable(true)).unwrap_or(WithPayload::Enable(true));
        let records = self.collection.retrieve(request)?;
        Ok(records
            .into_iter()
            .filter(|rec| rec.payload.as_ref().is_some_and(|p| r.matches(p)))
            .map(|mut rec| {
                rec.payload = rec.payload.as_ref().and_then(|p| select_payload(p, &wanted));
                rec
            })
            .collect())
    }

    pub fn scroll(&self, mut request: ScrollRequest) -> Result<ScrollResult> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        if let Some(r) = &self.restriction {
            request.filter = Some(r.restrict(request.filter.take()));
        }
        self.collection.scroll(request)
    }

    pub fn count(&self, mut request: CountRequest) -> Result<CountResult> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        if let Some(r) = &self.restriction {
            request.filter = Some(r.restrict(request.filter.take()));
        }
        self.collection.count(request)
    }

    pub fn facet(&self, mut request: FacetRequest) -> Result<FacetResponse> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        if let Some(r) = &self.restriction {
            request.filter = Some(r.restrict(request.filter.take()));
        }
        self.collection.facet(request)
    }

    pub fn search_matrix_pairs(&self, request: SearchMatrixRequest) -> Result<SearchMatrixPairsResponse> {
        self.collection.search_matrix_pairs(self.restrict_matrix(request)?)
    }

    pub fn search_matrix_offsets(&self, request: SearchMatrixRequest) -> Result<SearchMatrixOffsetsResponse> {
        self.collection.search_matrix_offsets(self.restrict_matrix(request)?)
    }

    fn restrict_matrix(&self, mut request: SearchMatrixRequest) -> Result<SearchMatrixRequest> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        if let Some(r) = &self.restriction {
            request.filter = Some(r.restrict(request.filter.take()));
        }
        Ok(request)
    }

    pub fn search(&self, mut request: SearchRequest) -> Result<Vec<ScoredPoint>> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        if let Some(r) = &self.restriction {
            request.filter = Some(r.restrict(request.filter.take()));
        }
        self.collection.search(request)
    }

    pub fn search_batch(&self, requests: Vec<SearchRequest>) -> Result<Vec<Vec<ScoredPoint>>> {
        requests.into_iter().map(|r| self.search(r)).collect()
    }

    pub fn query(&self, request: QueryRequest, storage: &Storage) -> Result<QueryResponse> {
        let request = self.restrict_query(request)?;
        self.collection.query(request, storage)
    }

    pub fn query_batch(&self, requests: Vec<QueryRequest>, storage: &Storage) -> Result<Vec<QueryResponse>> {
        requests.into_iter().map(|r| self.query(r, storage)).collect()
    }

    pub fn query_groups(&self, mut request: QueryGroupsRequest, storage: &Storage) -> Result<GroupsResult> {
        self.refuse_lookups(!request.referenced_collections().is_empty())?;
        if let Some(slots) = self.collection.read_scope(request.shard_key.as_ref())? {
            in_shards(&mut request.filter, &slots);
            request.prefetch = prefetch_in_shards(request.prefetch.take(), &slots);
        }
        if let Some(r) = &self.restriction {
            self.check_ids(request_ids(request.query.as_ref(), request.prefetch.as_ref()))?;
            request.filter = Some(r.restrict(request.filter.take()));
            request.prefetch = r.restrict_prefetch(request.prefetch.take());
        }
        self.collection.query_groups(request, storage)
    }

    pub fn recommend(&self, mut request: RecommendRequest, storage: &Storage) -> Result<Vec<ScoredPoint>> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        self.refuse_lookups(request.lookup_from.is_some())?;
        if let Some(r) = &self.restriction {
            self.check_ids(request.positive.iter().chain(&request.negative).filter_map(input_id))?;
            request.filter = Some(r.restrict(request.filter.take()));
        }
        self.collection.recommend(request, storage)
    }

    pub fn recommend_batch(&self, requests: Vec<RecommendRequest>, storage: &Storage) -> Result<Vec<Vec<ScoredPoint>>> {
        requests.into_iter().map(|r| self.recommend(r, storage)).collect()
    }

    pub fn recommend_groups(&self, mut request: RecommendGroupsRequest, storage: &Storage) -> Result<GroupsResult> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        self.refuse_lookups(request.lookup_from.is_some() || request.groups.with_lookup.is_some())?;
        if let Some(r) = &self.restriction {
            self.check_ids(request.positive.iter().chain(&request.negative).filter_map(input_id))?;
            request.filter = Some(r.restrict(request.filter.take()));
        }
        self.collection.recommend_groups(request, storage)
    }

    pub fn search_groups(&self, mut request: SearchGroupsRequest, storage: &Storage) -> Result<GroupsResult> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        self.refuse_lookups(request.groups.with_lookup.is_some())?;
        if let Some(r) = &self.restriction {
            request.filter = Some(r.restrict(request.filter.take()));
        }
        self.collection.search_groups(request, storage)
    }

    pub fn discover(&self, mut request: DiscoverRequest, storage: &Storage) -> Result<Vec<ScoredPoint>> {
        self.scope(&mut request.filter, request.shard_key.as_ref())?;
        self.refuse_lookups(request.lookup_from.is_some())?;
        if let Some(r) = &self.restriction {
            let pairs = request.context.iter().flatten().flat_map(|p| [&p.positive, &p.negative]);
            self.check_ids(request.target.iter().chain(pairs).filter_map(input_id))?;
            request.filter = Some(r.restrict(request.filter.take()));
        }
        self.collection.discover(request, storage)
    }

    pub fn discover_batch(&self, requests: Vec<DiscoverRequest>, storage: &Storage) -> Result<Vec<Vec<ScoredPoint>>> {
        requests.into_iter().map(|r| self.discover(r, storage)).collect()
    }

    fn restrict_query(&self, mut request: QueryRequest) -> Result<QueryRequest> {
        if let Some(slots) = self.collection.read_scope(request.shard_key.as_ref())? {
            in_shards(&mut request.filter, &slots);
            request.prefetch = prefetch_in_shards(request.prefetch.take(), &slots);
        }
        self.refuse_lookups(!request.referenced_collections().is_empty())?;
        if let Some(r) = &self.restriction {
            self.check_ids(request_ids(request.query.as_ref(), request.prefetch.as_ref()))?;
            request.filter = Some(r.restrict(request.filter.take()));
            request.prefetch = r.restrict_prefetch(request.prefetch.take());
        }
        Ok(request)
    }

    /// Narrows a read's filter to the points under the shard keys its
    /// selector names; no selector reads every key.
    fn scope(&self, filter: &mut Option<Filter>, shard_key: Option<&serde_json::Value>) -> Result<()> {
        if let Some(slots) = self.collection.read_scope(shard_key)? {
            in_shards(filter, &slots);
        }
        Ok(())
    }

    /// A restricted key may not read through `lookup_from` / `with_lookup`:
    /// the other side's points would be read without the restriction.
    fn refuse_lookups(&self, lookup: bool) -> Result<()> {
        match &self.restriction {
            Some(r) if lookup => Err(r.forbidden()),
            _ => Ok(()),
        }
    }

    /// Points named by id in a query must be visible to the key: their
    /// vectors would otherwise leak through the scores. Any id the key cannot
    /// see, whether it belongs to another tenant or to no point at all, is
    /// refused the same way, so the answer tells nothing about other tenants.
    fn check_ids(&self, ids: impl IntoIterator<Item = PointId>) -> Result<()> {
        let Some(r) = &self.restriction else { return Ok(()) };
        for id in ids {
            let visible = self.collection.get_point(id).is_ok_and(|rec| rec.payload.as_ref().is_some_and(|p| r.matches(p)));
            if !visible {
                return Err(r.forbidden());
            }
        }
        Ok(())
    }
}

fn input_id(input: &VectorInput) -> Option<PointId> {
    match input {
        VectorInput::Id(id) => Some(*id),
        _ => None,
    }
}

/// Every point id a query request uses as a vector: in its `query` and in
/// the `query` of every prefetch, at any depth. A restricted key must be able
/// to see each of them, or the scores would give the hidden vectors away.
fn request_ids(query: Option<&QueryInterface>, prefetch: Option<&OneOrMany<Prefetch>>) -> Vec<PointId> {
    let nested = all_prefetches(prefetch).into_iter().filter_map(|p| p.query.as_ref());
    query.into_iter().chain(nested).flat_map(query_ids).collect()
}

/// Ids used as vectors in one `query`.
fn query_ids(query: &QueryInterface) -> Vec<PointId> {
    match query {
        QueryInterface::Vector(v) | QueryInterface::Query(Query::Nearest(v)) => input_id(v).into_iter().collect(),
        QueryInterface::NearestMmr(mmr) => input_id(&mmr.nearest).into_iter().collect(),
        QueryInterface::Query(Query::Recommend(rec)) => rec
            .positive
            .iter()
            .flatten()
            .chain(rec.negative.iter().flatten())
            .filter_map(input_id)
            .collect(),
        QueryInterface::Query(Query::Discover(d)) => {
            let mut ids: Vec<PointId> = input_id(&d.target).into_iter().collect();
            if let Some(c) = &d.context {
                ids.extend(context_ids(c));
            }
            ids
        }
        QueryInterface::Query(Query::Context(c)) => context_ids(c),
        QueryInterface::Query(Query::RelevanceFeedback(v)) => relevance_feedback_ids(v),
        QueryInterface::Query(
            Query::OrderBy(_) | Query::Fusion(_) | Query::Rrf(_) | Query::Formula(_) | Query::Sample(_),
        ) => Vec::new(),
    }
}

fn context_ids(pairs: &OneOrMany<ContextPair>) -> Vec<PointId> {
    let pairs: &[ContextPair] = match pairs {
        OneOrMany::One(p) => std::slice::from_ref(p.as_ref()),
        OneOrMany::Many(list) => list,
    };
    pairs.iter().flat_map(|p| [input_id(&p.positive), input_id(&p.negative)]).flatten().collect()
}

/// `{"relevance_feedback": {"target": <vector input>, "feedback": [{"example": <vector input>, ..}]}}`:
/// the target and every example may be point ids.
fn relevance_feedback_ids(value: &serde_json::Value) -> Vec<PointId> {
    let as_id = |v: &serde_json::Value| match serde_json::from_value::<VectorInput>(v.clone()) {
        Ok(VectorInput::Id(id)) => Some(id),
        _ => None,
    };
    let target = value.get("target").and_then(as_id);
    let examples = value
        .get("feedback")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("example").and_then(as_id));
    target.into_iter().chain(examples).collect()
}

/// Adds "written under one of `slots`" to `filter`.
fn in_shards(filter: &mut Option<Filter>, slots: &[u32]) {
    let condition = Condition::InShards(slots.to_vec());
    *filter = Some(match filter.take() {
        None => Filter { must: Some(vec![condition]), ..Default::default() },
        Some(f) => Filter { must: Some(vec![condition, Condition::Filter(f)]), ..Default::default() },
    });
}

/// [`in_shards`] at every level of a prefetch tree: Qdrant runs a whole
/// query inside the selected shards, so prefetches see no other points.
fn prefetch_in_shards(prefetch: Option<OneOrMany<Prefetch>>, slots: &[u32]) -> Option<OneOrMany<Prefetch>> {
    prefetch.map(|p| {
        OneOrMany::Many(
            p.into_vec()
                .into_iter()
                .map(|mut item| {
                    in_shards(&mut item.filter, slots);
                    item.prefetch = prefetch_in_shards(item.prefetch.take(), slots);
                    item
                })
                .collect(),
        )
    })
}
