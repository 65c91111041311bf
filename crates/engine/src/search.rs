//! Vector search over a collection: classic search, the universal query
//! (with prefetch, fusion, order_by, sample) and recommend.
//!
//! Search here is exact: every point passing the filter is scored. Inputs that
//! name stored points (ids, `lookup_from`) are resolved to vectors first, with
//! no state lock held, so a lookup into the same collection cannot deadlock
//! behind a waiting writer.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::collection::{Collection, point_not_found, select_payload, select_vectors, validate_filter};
use crate::config::{CollectionConfig, Distance};
use crate::error::{EngineError, Result};
use crate::filter::Filter;
use crate::payload_path::{self, JsonPath};
use crate::requests::{
    DiscoverInput, DiscoverRequest, GroupId, GroupsParams, GroupsResult, OneOrMany, PointGroup, PointRequest,
    QueryGroupsRequest, RecommendGroupsRequest, SearchGroupsRequest, WithLookupInterface,
    Direction, Fusion, LookupLocation, NamedVectorStruct, Prefetch, Query, QueryInterface,
    QueryRequest, QueryResponse, RecommendInput, RecommendRequest, RecommendStrategy, ScoredPoint, SearchParams,
    SearchRequest, VectorInput, WithPayload, WithVector,
};
use crate::quantization::SearchOptions;
use crate::segment::{PointStore, VectorColumn, to_stored_form};
use crate::storage::Storage;
use crate::vector_index;
use crate::types::{DEFAULT_VECTOR, PointId, SparseVector, Vector};

/// A query vector in the form of the column it is scored against.
#[derive(Debug, Clone)]
enum QueryVector {
    Dense(Vec<f32>),
    Multi(Vec<Vec<f32>>),
    Sparse(SparseVector),
}

/// How one stage of a query scores points.
#[derive(Debug, Clone)]
enum Scoring {
    /// Points by id, score 0 (a query without `query`).
    ById,
    Nearest(QueryVector),
    Recommend { positive: Vec<QueryVector>, negative: Vec<QueryVector>, strategy: RecommendStrategy },
    /// Context search: how well a point sits on the positive side of each pair.
    Context(Vec<(QueryVector, QueryVector)>),
    /// Discovery: context rank first, closeness to the target second.
    Discover { target: QueryVector, pairs: Vec<(QueryVector, QueryVector)> },
    Fusion { kind: Fusion, k: f32, weights: Option<Vec<f32>> },
    OrderBy { path: JsonPath, direction: Direction, start: Option<f64> },
    Sample,
}

/// One resolved stage of a query.
#[derive(Debug, Clone)]
struct Stage {
    prefetch: Vec<Stage>,
    scoring: Scoring,
    using: String,
    filter: Option<Filter>,
    exclude: HashSet<PointId>,
    score_threshold: Option<f32>,
    limit: usize,
    /// `hnsw_ef` and `exact`.
    params: Option<SearchParams>,
}

/// A scored candidate: score, id, and for ordered queries the order value.
type Hit = (f32, PointId, Option<Value>);

impl Collection {
    pub fn search(&self, request: SearchRequest) -> Result<Vec<ScoredPoint>> {
        let (using, vector) = match request.vector {
            NamedVectorStruct::Default(v) => (DEFAULT_VECTOR.to_string(), QueryVector::Dense(v)),
            NamedVectorStruct::Dense { name, vector } => (name, QueryVector::Dense(vector)),
            NamedVectorStruct::Sparse { name, vector } => (name, QueryVector::Sparse(vector)),
        };
        validate_limit(request.limit)?;
        check_params(request.params.as_ref())?;
        let vector = prepare_query(&self.config_ref(), &using, vector)?;
        let stage = Stage {
            prefetch: Vec::new(),
            scoring: Scoring::Nearest(vector),
            using,
            filter: request.filter,
            exclude: HashSet::new(),
            score_threshold: request.score_threshold,
            limit: request.limit.saturating_add(request.offset.unwrap_or(0)),
            params: request.params,
        };
        self.finish(
            stage,
            request.offset.unwrap_or(0),
            &request.with_payload.unwrap_or(WithPayload::Enable(false)),
            &request.with_vector.unwrap_or(WithVector::Enable(false)),
        )
    }

    pub fn search_batch(&self, requests: Vec<SearchRequest>) -> Result<Vec<Vec<ScoredPoint>>> {
        requests.into_iter().map(|r| self.search(r)).collect()
    }

    pub fn query(&self, request: QueryRequest, storage: &Storage) -> Result<QueryResponse> {
        let offset = request.offset.unwrap_or(0);
        let limit = request.limit.unwrap_or(10);
        validate_limit(limit)?;
        let with_payload = request.with_payload.clone().unwrap_or(WithPayload::Enable(false));
        let with_vector = request.with_vector.clone().unwrap_or(WithVector::Enable(false));
        let top = Prefetch {
            prefetch: request.prefetch,
            query: request.query,
            using: request.using,
            filter: request.filter,
            params: request.params,
            score_threshold: request.score_threshold,
            limit: Some(limit.saturating_add(offset)),
            lookup_from: request.lookup_from,
        };
        let stage = self.resolve_stage(top, storage, 0)?;
        let points = self.finish(stage, offset, &with_payload, &with_vector)?;
        Ok(QueryResponse { points })
    }

    pub fn query_batch(&self, requests: Vec<QueryRequest>, storage: &Storage) -> Result<Vec<QueryResponse>> {
        requests.into_iter().map(|r| self.query(r, storage)).collect()
    }

    pub fn recommend(&self, request: RecommendRequest, storage: &Storage) -> Result<Vec<ScoredPoint>> {
        validate_limit(request.limit)?;
        check_params(request.params.as_ref())?;
        let offset = request.offset.unwrap_or(0);
        let prefetch = Prefetch {
            prefetch: None,
            query: Some(QueryInterface::Query(Query::Recommend(RecommendInput {
                positive: Some(request.positive),
                negative: Some(request.negative),
                strategy: request.strategy,
            }))),
            using: request.using,
            filter: request.filter,
            params: request.params,
            score_threshold: request.score_threshold,
            limit: Some(request.limit.saturating_add(offset)),
            lookup_from: request.lookup_from,
        };
        let stage = self.resolve_stage(prefetch, storage, 0)?;
        self.finish(
            stage,
            offset,
            &request.with_payload.unwrap_or(WithPayload::Enable(false)),
            &request.with_vector.unwrap_or(WithVector::Enable(false)),
        )
    }

    pub fn recommend_batch(&self, requests: Vec<RecommendRequest>, storage: &Storage) -> Result<Vec<Vec<ScoredPoint>>> {
        requests.into_iter().map(|r| self.recommend(r, storage)).collect()
    }

    pub fn discover(&self, request: DiscoverRequest, storage: &Storage) -> Result<Vec<ScoredPoint>> {
        validate_limit(request.limit)?;
        let offset = request.offset.unwrap_or(0);
        let context = request.context.unwrap_or_default();
        let query = match request.target {
            Some(target) => Query::Discover(DiscoverInput { target, context: Some(OneOrMany::Many(context)) }),
            None if !context.is_empty() => Query::Context(OneOrMany::Many(context)),
            None => return Err(EngineError::BadInput("Discover needs a target or a context".into())),
        };
        let prefetch = Prefetch {
            query: Some(QueryInterface::Query(query)),
            using: request.using,
            filter: request.filter,
            params: request.params,
            limit: Some(request.limit.saturating_add(offset)),
            lookup_from: request.lookup_from,
            ..Default::default()
        };
        let stage = self.resolve_stage(prefetch, storage, 0)?;
        self.finish(
            stage,
            offset,
            &request.with_payload.unwrap_or(WithPayload::Enable(false)),
            &request.with_vector.unwrap_or(WithVector::Enable(false)),
        )
    }

    pub fn discover_batch(&self, requests: Vec<DiscoverRequest>, storage: &Storage) -> Result<Vec<Vec<ScoredPoint>>> {
        requests.into_iter().map(|r| self.discover(r, storage)).collect()
    }

    pub fn search_groups(&self, request: SearchGroupsRequest, storage: &Storage) -> Result<GroupsResult> {
        let (using, vector) = match request.vector {
            NamedVectorStruct::Default(v) => (DEFAULT_VECTOR.to_string(), VectorInput::Dense(v)),
            NamedVectorStruct::Dense { name, vector } => (name, VectorInput::Dense(vector)),
            NamedVectorStruct::Sparse { name, vector } => (name, VectorInput::Sparse(vector)),
        };
        let prefetch = Prefetch {
            query: Some(QueryInterface::Vector(vector)),
            using: Some(using),
            filter: request.filter,
            params: request.params,
            score_threshold: request.score_threshold,
            ..Default::default()
        };
        self.groups(prefetch, request.groups, request.with_payload, request.with_vector, storage)
    }

    pub fn recommend_groups(&self, request: RecommendGroupsRequest, storage: &Storage) -> Result<GroupsResult> {
        let prefetch = Prefetch {
            query: Some(QueryInterface::Query(Query::Recommend(RecommendInput {
                positive: Some(request.positive),
                negative: Some(request.negative),
                strategy: request.strategy,
            }))),
            using: request.using,
            filter: request.filter,
            params: request.params,
            score_threshold: request.score_threshold,
            lookup_from: request.lookup_from,
            ..Default::default()
        };
        self.groups(prefetch, request.groups, request.with_payload, request.with_vector, storage)
    }

    pub fn query_groups(&self, request: QueryGroupsRequest, storage: &Storage) -> Result<GroupsResult> {
        let prefetch = Prefetch {
            prefetch: request.prefetch,
            query: request.query,
            using: request.using,
            filter: request.filter,
            params: request.params,
            score_threshold: request.score_threshold,
            limit: None,
            lookup_from: request.lookup_from,
        };
        self.groups(prefetch, request.groups, request.with_payload, request.with_vector, storage)
    }

    /// Runs a query over every candidate, then fills up to `limit` groups of
    /// up to `group_size` hits each, keyed by the `group_by` payload values.
    fn groups(
        &self,
        mut prefetch: Prefetch,
        params: GroupsParams,
        with_payload: Option<WithPayload>,
        with_vector: Option<WithVector>,
        storage: &Storage,
    ) -> Result<GroupsResult> {
        let limit = params.limit.unwrap_or(10);
        let group_size = params.group_size.unwrap_or(3);
        validate_limit(limit)?;
        if group_size == 0 {
            return Err(EngineError::BadInput("Validation error: group_size: value 0 invalid, must be 1 or more".into()));
        }
        let path: JsonPath = params
            .group_by
            .parse()
            .map_err(|e| EngineError::BadInput(format!("Invalid group_by key `{}`: {e}", params.group_by)))?;
        prefetch.limit = Some(usize::MAX / 2);
        let stage = self.resolve_stage(prefetch, storage, 0)?;
        let with_payload = with_payload.unwrap_or(WithPayload::Enable(false));
        let with_vector = with_vector.unwrap_or(WithVector::Enable(false));
        let hits = self.finish(stage, 0, &WithPayload::Enable(true), &with_vector)?;
        let mut order: Vec<GroupId> = Vec::new();
        let mut groups: HashMap<GroupId, Vec<ScoredPoint>> = HashMap::new();
        for hit in hits {
            let payload = hit.payload.clone().unwrap_or_default();
            let mut keys: Vec<GroupId> = Vec::new();
            for value in payload_path::values(&payload, &path) {
                let key = match value {
                    Value::String(s) => GroupId::String(s.clone()),
                    Value::Number(n) if n.is_i64() => GroupId::Number(n.as_i64().unwrap_or_default()),
                    _ => continue,
                };
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            for key in keys {
                let full = order.len() >= limit;
                let entry = match groups.get_mut(&key) {
                    Some(entry) => entry,
                    None if full => continue,
                    None => {
                        order.push(key.clone());
                        groups.entry(key).or_default()
                    }
                };
                if entry.len() < group_size {
                    let mut hit = hit.clone();
                    hit.payload = hit.payload.as_ref().and_then(|p| select_payload(p, &with_payload));
                    entry.push(hit);
                }
            }
            if order.len() >= limit && order.iter().all(|k| groups[k].len() >= group_size) {
                break;
            }
        }
        let lookup = match &params.with_lookup {
            Some(l) => Some((storage.collection(l.collection())?, l.clone())),
            None => None,
        };
        let groups = order
            .into_iter()
            .map(|id| {
                let hits = groups.remove(&id).unwrap_or_default();
                let lookup = lookup.as_ref().and_then(|(collection, l)| {
                    let point_id = match &id {
                        GroupId::Number(n) => PointId::Num(u64::try_from(*n).ok()?),
                        GroupId::String(s) => s.parse().ok()?,
                    };
                    let (wp, wv) = match l {
                        WithLookupInterface::Collection(_) => (WithPayload::Enable(true), WithVector::Enable(false)),
                        WithLookupInterface::WithLookup(w) => (
                            w.with_payload.clone().unwrap_or(WithPayload::Enable(true)),
                            w.with_vectors.clone().unwrap_or(WithVector::Enable(false)),
                        ),
                    };
                    collection
                        .retrieve(PointRequest { ids: vec![point_id], with_payload: Some(wp), with_vector: Some(wv), shard_key: None })
                        .ok()?
                        .into_iter()
                        .next()
                });
                PointGroup { hits, id, lookup }
            })
            .collect();
        Ok(GroupsResult { groups })
    }

    /// Runs a resolved stage and turns its hits into answers.
    fn finish(
        &self,
        stage: Stage,
        offset: usize,
        with_payload: &WithPayload,
        with_vector: &WithVector,
    ) -> Result<Vec<ScoredPoint>> {
        validate_filter(stage.filter.as_ref())?;
        let config = self.config_ref().clone();
        let store = self.read_state();
        let hits = run_stage(&store, &config, &stage)?;
        Ok(hits
            .into_iter()
            .skip(offset)
            .filter_map(|(score, id, order_value)| {
                let o = *store.offsets.get(&id)? as usize;
                Some(ScoredPoint {
                    id,
                    version: store.versions[o],
                    score,
                    payload: select_payload(&store.payloads[o], with_payload),
                    vector: select_vectors(&store, &config, o, with_vector),
                    shard_key: store.shard_key_of(o).map(crate::shard_key::ShardKey::to_json),
                    order_value,
                })
            })
            .collect())
    }

    /// Resolves ids and `lookup_from` references of a stage (and its
    /// prefetches) into vectors, and checks the names and sizes.
    /// `depth` is 0 for the request itself and grows by one per prefetch level.
    fn resolve_stage(&self, p: Prefetch, storage: &Storage, depth: usize) -> Result<Stage> {
        // The nesting comes from the request: bound it before recursing.
        if depth > crate::limits::MAX_PREFETCH_DEPTH {
            return Err(EngineError::BadInput(format!(
                "Prefetches are nested more than {} levels deep",
                crate::limits::MAX_PREFETCH_DEPTH
            )));
        }
        let top = depth == 0;
        check_params(p.params.as_ref())?;
        let using = p.using.clone().unwrap_or_else(|| DEFAULT_VECTOR.to_string());
        let prefetch = match p.prefetch {
            Some(list) => list
                .into_vec()
                .into_iter()
                .map(|child| self.resolve_stage(child, storage, depth + 1))
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        let mut exclude = HashSet::new();
        let config = self.config_ref().clone();
        let lookup = p.lookup_from.as_ref();
        let to_vector = |input: VectorInput, exclude: &mut HashSet<PointId>| -> Result<QueryVector> {
            match input {
                VectorInput::Id(id) => {
                    if lookup.is_none() {
                        exclude.insert(id);
                    }
                    let v = self.lookup_vector(storage, lookup, &using, id)?;
                    Ok(v)
                }
                other => input_to_query(other),
            }
        };
        let scoring = match p.query {
            None => Scoring::ById,
            Some(QueryInterface::NearestMmr(_)) => {
                return Err(EngineError::BadRequest(
                    "`nearest` queries with `mmr` are not supported by this server yet".into(),
                ));
            }
            Some(QueryInterface::Vector(v)) | Some(QueryInterface::Query(Query::Nearest(v))) => {
                Scoring::Nearest(to_vector(v, &mut exclude)?)
            }
            Some(QueryInterface::Query(Query::Recommend(rec))) => {
                let positive = rec
                    .positive
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| to_vector(v, &mut exclude))
                    .collect::<Result<Vec<_>>>()?;
                let negative = rec
                    .negative
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| to_vector(v, &mut exclude))
                    .collect::<Result<Vec<_>>>()?;
                let strategy = rec.strategy.unwrap_or_default();
                if positive.is_empty() && (strategy == RecommendStrategy::AverageVector || negative.is_empty()) {
                    return Err(EngineError::BadInput("At least one positive example is required".into()));
                }
                Scoring::Recommend { positive, negative, strategy }
            }
            Some(QueryInterface::Query(Query::Context(pairs))) => {
                let pairs = pairs
                    .into_vec()
                    .into_iter()
                    .map(|pair| Ok((to_vector(pair.positive, &mut exclude)?, to_vector(pair.negative, &mut exclude)?)))
                    .collect::<Result<Vec<_>>>()?;
                Scoring::Context(pairs)
            }
            Some(QueryInterface::Query(Query::Discover(input))) => {
                let target = to_vector(input.target, &mut exclude)?;
                let pairs = input
                    .context
                    .map(|c| c.into_vec())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|pair| Ok((to_vector(pair.positive, &mut exclude)?, to_vector(pair.negative, &mut exclude)?)))
                    .collect::<Result<Vec<_>>>()?;
                Scoring::Discover { target, pairs }
            }
            Some(QueryInterface::Query(Query::Fusion(kind))) => Scoring::Fusion { kind, k: 2.0, weights: None },
            Some(QueryInterface::Query(Query::Rrf(params))) => {
                let k = params.get("k").and_then(Value::as_f64).unwrap_or(2.0) as f32;
                let weights = params
                    .get("weights")
                    .and_then(Value::as_array)
                    .map(|w| w.iter().map(|x| x.as_f64().unwrap_or(1.0) as f32).collect::<Vec<f32>>());
                if weights.as_ref().is_some_and(|w| w.iter().any(|x| !(*x > 0.0))) {
                    return Err(EngineError::BadInput("RRF weights must be positive".into()));
                }
                Scoring::Fusion { kind: Fusion::Rrf, k, weights }
            }
            Some(QueryInterface::Query(Query::OrderBy(order))) => {
                let order = order.into_order_by();
                let path = order
                    .key
                    .parse()
                    .map_err(|e| EngineError::BadInput(format!("Invalid order_by key `{}`: {e}", order.key)))?;
                let start = order.start_from.as_ref().and_then(number_or_datetime);
                Scoring::OrderBy { path, direction: order.direction.unwrap_or_default(), start }
            }
            Some(QueryInterface::Query(Query::Sample(_))) => Scoring::Sample,
            Some(QueryInterface::Query(other)) => {
                let kind = serde_json::to_value(&other)
                    .ok()
                    .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
                    .unwrap_or_else(|| "this".into());
                return Err(EngineError::BadRequest(format!("`{kind}` queries are not supported by this server yet")));
            }
        };
        if matches!(scoring, Scoring::Fusion { .. }) && prefetch.is_empty() {
            return Err(EngineError::BadInput("Fusion queries need at least one prefetch".into()));
        }
        let scoring = match scoring {
            Scoring::Nearest(q) => Scoring::Nearest(prepare_query(&config, &using, q)?),
            Scoring::Recommend { positive, negative, strategy } => Scoring::Recommend {
                positive: positive.into_iter().map(|q| prepare_query(&config, &using, q)).collect::<Result<_>>()?,
                negative: negative.into_iter().map(|q| prepare_query(&config, &using, q)).collect::<Result<_>>()?,
                strategy,
            },
            Scoring::Context(pairs) => Scoring::Context(prepare_pairs(&config, &using, pairs)?),
            Scoring::Discover { target, pairs } => Scoring::Discover {
                target: prepare_query(&config, &using, target)?,
                pairs: prepare_pairs(&config, &using, pairs)?,
            },
            other => other,
        };
        let limit = p.limit.unwrap_or(10);
        if !top {
            validate_limit(limit)?;
        }
        Ok(Stage {
            prefetch,
            scoring,
            using,
            filter: p.filter,
            exclude,
            score_threshold: p.score_threshold,
            limit,
            params: p.params,
        })
    }

    /// The vector `using` of a stored point, here or in `lookup_from`'s collection.
    fn lookup_vector(
        &self,
        storage: &Storage,
        lookup: Option<&LookupLocation>,
        using: &str,
        id: PointId,
    ) -> Result<QueryVector> {
        let (other, name) = match lookup {
            Some(l) => (Some(storage.collection(&l.collection)?), l.vector.clone().unwrap_or_else(|| using.to_string())),
            None => (None, using.to_string()),
        };
        let source = other.as_deref().unwrap_or(self);
        let store = source.read_state();
        let offset = *store.offsets.get(&id).ok_or_else(|| point_not_found(id))? as usize;
        let column = store
            .columns
            .get(&name)
            .ok_or_else(|| EngineError::BadInput(format!("Not existing vector name error: {name}")))?;
        match column.get(offset) {
            Some(Vector::Dense(v)) => Ok(QueryVector::Dense(v)),
            Some(Vector::Multi(v)) => Ok(QueryVector::Multi(v)),
            Some(Vector::Sparse(v)) => Ok(QueryVector::Sparse(v)),
            _ => Err(EngineError::BadInput(format!("Point {id} has no vector `{name}`"))),
        }
    }
}

fn validate_limit(limit: usize) -> Result<()> {
    if limit == 0 {
        return Err(EngineError::BadInput("Validation error: limit: value 0 invalid, must be 1 or more".into()));
    }
    Ok(())
}

fn check_params(params: Option<&SearchParams>) -> Result<()> {
    if let Some(ef) = params.and_then(|p| p.hnsw_ef)
        && ef == 0
    {
        return Err(EngineError::BadInput("hnsw_ef must be at least 1".into()));
    }
    SearchOptions::parse(params.and_then(|p| p.quantization.as_ref()))?;
    Ok(())
}

fn number_or_datetime(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => crate::filter::parse_datetime(s).map(|t| t.timestamp_micros() as f64 / 1e6),
        _ => None,
    }
}

fn input_to_query(input: VectorInput) -> Result<QueryVector> {
    match input {
        VectorInput::Dense(v) => Ok(QueryVector::Dense(v)),
        VectorInput::Multi(v) => Ok(QueryVector::Multi(v)),
        VectorInput::Sparse(v) => Ok(QueryVector::Sparse(v)),
        VectorInput::Id(id) => Err(point_not_found(id)),
        VectorInput::Inference(_) => Err(EngineError::BadInput(
            "Documents, images and objects need server-side inference, which this server does not provide; send vectors"
                .into(),
        )),
    }
}

/// Checks a query vector against the named vector and brings it to the form
/// the vectors are stored in (normalised for Cosine, rounded to the element
/// type), as Qdrant does.
fn prepare_query(config: &CollectionConfig, using: &str, q: QueryVector) -> Result<QueryVector> {
    if let Some(params) = config.params.vectors.get(using) {
        let dim = params.size as usize;
        let check = |v: &[f32]| {
            if v.len() != dim {
                Err(EngineError::BadInput(format!("Vector dimension error: expected dim: {dim}, got {}", v.len())))
            } else if v.iter().any(|x| !x.is_finite()) {
                Err(EngineError::BadInput("vector contains NaN or infinite values".into()))
            } else {
                Ok(())
            }
        };
        let multi = params.multivector_config.is_some();
        return match q {
            QueryVector::Dense(mut v) => {
                check(&v)?;
                to_stored_form(params, &mut v);
                Ok(if multi { QueryVector::Multi(vec![v]) } else { QueryVector::Dense(v) })
            }
            QueryVector::Multi(mut rows) if multi => {
                if rows.is_empty() {
                    return Err(EngineError::BadInput("multivector query must not be empty".into()));
                }
                for row in &mut rows {
                    check(row)?;
                    to_stored_form(params, row);
                }
                Ok(QueryVector::Multi(rows))
            }
            QueryVector::Multi(_) => {
                Err(EngineError::BadInput(format!("Vector `{using}` is not a multivector; send a single vector")))
            }
            QueryVector::Sparse(_) => Err(EngineError::BadInput(format!(
                "Vector `{using}` is dense; a sparse query needs a sparse vector name in `using`"
            ))),
        };
    }
    if config.sparse(using).is_some() {
        return match q {
            QueryVector::Sparse(s) => {
                if s.indices.len() != s.values.len() {
                    return Err(EngineError::BadInput(
                        "Validation error: sparse vector indices and values must have the same length".into(),
                    ));
                }
                Ok(QueryVector::Sparse(s))
            }
            _ => Err(EngineError::BadInput(format!("Vector `{using}` is sparse; send a sparse query vector"))),
        };
    }
    Err(EngineError::BadInput(format!("Not existing vector name error: {using}")))
}

/// Similarity of a stored point to a query; None when the point lacks the vector.
fn score(store: &PointStore, config: &CollectionConfig, using: &str, q: &QueryVector, offset: usize) -> Option<f32> {
    let column = store.columns.get(using)?;
    let distance = config.params.vectors.get(using).map(|p| p.distance).unwrap_or(Distance::Dot);
    match (column, q) {
        (VectorColumn::Dense(c), QueryVector::Dense(qv)) => c.score(distance, qv, offset),
        (VectorColumn::Multi(rows), QueryVector::Multi(qrows)) => rows[offset].as_ref().map(|doc| {
            // MaxSim: for each query row, its best match among the point's rows.
            qrows
                .iter()
                .map(|qr| {
                    doc.iter()
                        .map(|d| distance.score(qr, d))
                        .fold(None, |best: Option<f32>, s| match best {
                            None => Some(s),
                            Some(b) if distance.cmp_scores(s, b).is_lt() => Some(s),
                            keep => keep,
                        })
                        .unwrap_or(0.0)
                })
                .sum()
        }),
        (VectorColumn::Sparse(rows), QueryVector::Sparse(qs)) => rows[offset].as_ref().and_then(|s| sparse_dot(qs, s)),
        _ => None,
    }
}

/// Dot product of two sparse vectors; None when they share no index, as such
/// points are not found by a sparse search.
fn sparse_dot(q: &SparseVector, v: &SparseVector) -> Option<f32> {
    let weights: HashMap<u32, f32> = q.indices.iter().copied().zip(q.values.iter().copied()).collect();
    let mut sum = 0.0;
    let mut overlap = false;
    for (i, x) in v.indices.iter().zip(&v.values) {
        if let Some(w) = weights.get(i) {
            sum += w * x;
            overlap = true;
        }
    }
    overlap.then_some(sum)
}

fn distance_of(config: &CollectionConfig, using: &str) -> Distance {
    config.params.vectors.get(using).map(|p| p.distance).unwrap_or(Distance::Dot)
}

fn run_stage(store: &PointStore, config: &CollectionConfig, stage: &Stage) -> Result<Vec<Hit>> {
    // Candidate offsets: the prefetch results, or every point.
    let prefetched: Option<Vec<Vec<Hit>>> = if stage.prefetch.is_empty() {
        None
    } else {
        Some(stage.prefetch.iter().map(|p| run_stage(store, config, p)).collect::<Result<_>>()?)
    };
    if prefetched.is_none()
        && let Scoring::Nearest(QueryVector::Dense(query)) = &stage.scoring
        && let Some(scored) = indexed_nearest(store, config, stage, query)
    {
        let distance = distance_of(config, &stage.using);
        let scored = scored.into_iter().filter(|(s, _)| distance.passes(*s, stage.score_threshold));
        return Ok(top_k(scored, stage.limit, |a, b| distance.cmp_scores(a, b), store));
    }
    let passes = |offset: usize| {
        !stage.exclude.contains(&store.ids[offset])
            && stage.filter.as_ref().is_none_or(|f| f.matches(&store.view(offset)))
    };
    let candidates: Vec<usize> = match &prefetched {
        None => store.filter_scan(stage.filter.as_ref()).filter(|&o| passes(o)).collect(),
        Some(lists) => {
            let mut seen = HashSet::new();
            lists
                .iter()
                .flatten()
                .filter(|(_, id, _)| seen.insert(*id))
                .filter_map(|(_, id, _)| store.offsets.get(id).map(|&o| o as usize))
                .filter(|&o| passes(o))
                .collect()
        }
    };
    let distance = distance_of(config, &stage.using);
    let mut hits: Vec<Hit> = match &stage.scoring {
        Scoring::ById => {
            if let Some(lists) = &prefetched {
                // Without a query, the prefetch results pass through in order.
                let allowed: HashSet<usize> = candidates.iter().copied().collect();
                let mut seen = HashSet::new();
                lists
                    .iter()
                    .flatten()
                    .filter(|(_, id, _)| store.offsets.get(id).is_some_and(|&o| allowed.contains(&(o as usize))))
                    .filter(|(_, id, _)| seen.insert(*id))
                    .take(stage.limit)
                    .cloned()
                    .collect()
            } else {
                let mut ids: Vec<PointId> = candidates.iter().map(|&o| store.ids[o]).collect();
                ids.sort();
                ids.into_iter().take(stage.limit).map(|id| (0.0, id, None)).collect()
            }
        }
        Scoring::Nearest(q) => {
            let idf_weighted = idf_weighted(store, config, &stage.using, q);
            let q = idf_weighted.as_ref().unwrap_or(q);
            let scored = candidates
                .iter()
                .filter_map(|&o| score(store, config, &stage.using, q, o).map(|s| (s, o)))
                .filter(|(s, _)| distance.passes(*s, stage.score_threshold));
            top_k(scored, stage.limit, |a, b| distance.cmp_scores(a, b), store)
        }
        Scoring::Recommend { positive, negative, strategy } => {
            let scored: Vec<(f32, usize)> = match strategy {
                RecommendStrategy::AverageVector => {
                    let q = average_query(positive, negative)?;
                    let q = prepare_query(config, &stage.using, q)?;
                    candidates
                        .iter()
                        .filter_map(|&o| score(store, config, &stage.using, &q, o).map(|s| (s, o)))
                        .filter(|(s, _)| distance.passes(*s, stage.score_threshold))
                        .collect()
                }
                RecommendStrategy::BestScore | RecommendStrategy::SumScores => {
                    // Similarities, higher is closer, whatever the distance.
                    let sim = |q: &QueryVector, o: usize| {
                        score(store, config, &stage.using, q, o)
                            .map(|s| if distance.higher_is_better() { s } else { -s })
                    };
                    candidates
                        .iter()
                        .filter_map(|&o| {
                            let pos: Vec<f32> = positive.iter().filter_map(|q| sim(q, o)).collect();
                            let neg: Vec<f32> = negative.iter().filter_map(|q| sim(q, o)).collect();
                            // A point without this vector is no candidate at all.
                            if pos.len() != positive.len() || neg.len() != negative.len() {
                                return None;
                            }
                            let s = if *strategy == RecommendStrategy::SumScores {
                                pos.iter().sum::<f32>() - neg.iter().sum::<f32>()
                            } else {
                                // Qdrant's best_score: the closer side wins, squashed
                                // into (0, 1) and signed by the side.
                                let best_pos = pos.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                                let best_neg = neg.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                                if !pos.is_empty() && best_pos > best_neg {
                                    scaled_fast_sigmoid(best_pos)
                                } else {
                                    -scaled_fast_sigmoid(best_neg)
                                }
                            };
                            Some((s, o))
                        })
                        .filter(|(s, _)| stage.score_threshold.is_none_or(|t| *s >= t))
                        .collect()
                }
            };
            let cmp = |a: f32, b: f32| match strategy {
                RecommendStrategy::AverageVector => distance.cmp_scores(a, b),
                _ => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
            };
            top_k(scored.into_iter(), stage.limit, cmp, store)
        }
        Scoring::Context(pairs) => {
            let sim = similarity(store, config, &stage.using, distance);
            let scored = candidates.iter().filter_map(|&o| {
                let mut loss = 0.0;
                for (pos, neg) in pairs {
                    let (p, n) = (sim(pos, o)?, sim(neg, o)?);
                    loss += fast_sigmoid((p - n).min(0.0));
                }
                Some((loss, o))
            });
            top_k(scored, stage.limit, |a, b| b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal), store)
        }
        Scoring::Discover { target, pairs } => {
            let sim = similarity(store, config, &stage.using, distance);
            let scored = candidates.iter().filter_map(|&o| {
                let mut rank = 0i32;
                for (pos, neg) in pairs {
                    rank += if sim(pos, o)? > sim(neg, o)? { 1 } else { -1 };
                }
                // The context rank decides; closeness to the target, squashed
                // into (0, 1), orders points of equal rank.
                let t = sim(target, o)?;
                Some((rank as f32 + scaled_fast_sigmoid(t), o))
            });
            top_k(scored, stage.limit, |a, b| b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal), store)
        }
        Scoring::Fusion { kind, k, weights } => {
            let lists = prefetched.as_ref().expect("fusion has prefetches");
            let allowed: HashSet<PointId> = candidates.iter().map(|&o| store.ids[o]).collect();
            if weights.as_ref().is_some_and(|w| w.len() != lists.len()) {
                return Err(EngineError::BadInput(format!(
                    "RRF weights: {} given for {} prefetches",
                    weights.as_ref().map_or(0, Vec::len),
                    lists.len()
                )));
            }
            let fused = fuse(lists, *kind, *k, weights.as_deref());
            let mut fused: Vec<Hit> = fused
                .into_iter()
                .filter(|(_, id, _)| allowed.contains(id))
                .filter(|(s, _, _)| stage.score_threshold.is_none_or(|t| *s >= t))
                .collect();
            fused.truncate(stage.limit);
            fused
        }
        Scoring::OrderBy { path, direction, start } => {
            crate::collection::require_range_index(store, &path.to_string())?;
            let mut entries: Vec<(f64, Value, PointId)> = Vec::new();
            for &o in &candidates {
                for value in payload_path::values(&store.payloads[o], path) {
                    if let Some(key) = number_or_datetime(value) {
                        let ok = match (start, direction) {
                            (None, _) => true,
                            (Some(s), Direction::Asc) => key >= *s,
                            (Some(s), Direction::Desc) => key <= *s,
                        };
                        if ok {
                            entries.push((key, value.clone(), store.ids[o]));
                        }
                    }
                }
            }
            entries.sort_by(|a, b| {
                let ord = a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then(a.2.cmp(&b.2));
                if *direction == Direction::Desc { ord.reverse() } else { ord }
            });
            let mut seen = HashSet::new();
            entries
                .into_iter()
                .filter(|(_, _, id)| seen.insert(*id))
                .take(stage.limit)
                .map(|(_, value, id)| (0.0, id, Some(crate::collection::order_value_output(&value))))
                .collect()
        }
        Scoring::Sample => {
            let mut ids: Vec<PointId> = candidates.iter().map(|&o| store.ids[o]).collect();
            shuffle(&mut ids);
            ids.into_iter().take(stage.limit).map(|id| (0.0, id, None)).collect()
        }
    };
    hits.truncate(stage.limit);
    Ok(hits)
}

/// How many evenly spread points a filter that no payload index answers is
/// tried on, to tell a selective filter (search exactly) from a broad one.
const FILTER_SAMPLE: usize = 1000;

/// Nearest-neighbour search through the HNSW index of the stage's dense
/// vector, as `(score, offset)` candidates; `None` when the stage should be
/// scored exactly instead: no index yet, `exact: true`, a collection below
/// `full_scan_threshold`, or a filter expected to match fewer points than
/// that threshold (Qdrant's rule: then a scan over the matches is cheaper
/// and exact, while a graph walk would have to pass many rejected nodes).
fn indexed_nearest(
    store: &PointStore,
    config: &CollectionConfig,
    stage: &Stage,
    query: &[f32],
) -> Option<Vec<(f32, usize)>> {
    if stage.params.as_ref().and_then(|p| p.exact) == Some(true) {
        return None;
    }
    let Some(VectorColumn::Dense(column)) = store.columns.get(&stage.using) else { return None };
    let index = column.index.as_ref()?;
    let hnsw = vector_index::effective_hnsw(config, &stage.using);
    let full_scan = vector_index::vectors_in_kb(hnsw.full_scan_threshold, column.dim);
    if index.live() + index.unindexed() < full_scan {
        return None;
    }
    let distance = distance_of(config, &stage.using);
    let ef = stage.params.as_ref().and_then(|p| p.hnsw_ef).unwrap_or(hnsw.ef_construct as usize).max(stage.limit);
    let options = SearchOptions::parse(stage.params.as_ref().and_then(|p| p.quantization.as_ref())).unwrap_or_default();
    let kept = |o: usize| stage.exclude.is_empty() || !stage.exclude.contains(&store.ids[o]);
    let Some(filter) = &stage.filter else {
        let hits = index.search(column, distance, query, stage.limit, ef, options, &kept, false);
        // Fewer hits than asked for while more points exist: the walk got
        // stuck (a graph of many equal vectors can do that); scan instead.
        if hits.len() < stage.limit && store.len() > hits.len() + stage.exclude.len() {
            return None;
        }
        return Some(hits);
    };
    let estimate = store.estimate_cardinality(filter);
    if estimate.max < full_scan {
        return None;
    }
    // Points the payload indexes allow, as a bitmap, so most rejections cost one load.
    let mut candidate_count = 0;
    let allowed: Option<Vec<bool>> = store.field_indexes.candidates_unbounded(filter, &store.offsets, &store.shard_of, store.len()).map(|c| {
        candidate_count = c.len();
        let mut bits = vec![false; store.len()];
        c.into_iter().for_each(|o| bits[o as usize] = true);
        bits
    });
    let expected = match &allowed {
        Some(bits) if estimate.min == estimate.max => estimate.exp.min(bits.len()),
        _ => {
            // Unindexed conditions: try the filter on a sample. Offsets are
            // drawn pseudo-randomly: a fixed stride would alias with data
            // written in a periodic pattern (say `group = id % 10`).
            let n = store.len();
            let tried = FILTER_SAMPLE.min(n);
            let mut state = 0x9e37_79b9_7f4a_7c15_u64;
            let hits = (0..tried)
                .map(|i| {
                    if tried == n {
                        return i;
                    }
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % n as u64) as usize
                })
                .filter(|&o| allowed.as_ref().is_none_or(|b| b[o]) && filter.matches(&store.view(o)))
                .count();
            hits * n / tried.max(1)
        }
    };
    if expected < full_scan {
        return None;
    }
    // The candidates contain every match; when there are exactly as many as
    // the indexes say match, they are the matches, and the filter need not run.
    let exact_candidates = allowed.is_some() && estimate.min == estimate.max && candidate_count == estimate.min;
    let accept = |o: usize| {
        allowed.as_ref().is_none_or(|b| b[o]) && kept(o) && (exact_candidates || filter.matches(&store.view(o)))
    };
    let strict = exact_candidates && linked_matches(store, filter) && hnsw.payload_m.unwrap_or(hnsw.m) > 0;
    let hits = index.search(column, distance, query, stage.limit, ef, options, &accept, strict);
    // A walk through a graph where the matches are sparse can end before it
    // has met `limit` of them (a small shard key, a rare value without
    // payload links). Fewer hits than asked for, while more points may
    // match, are not an answer: score the matches exactly instead.
    let more_may_match = !exact_candidates || candidate_count > hits.len();
    if hits.len() < stage.limit && more_may_match {
        return None;
    }
    Some(hits)
}

/// Whether the filter is one `match: {value}` on a field whose equal values
/// the graph links among themselves (payload_m links are built per value of
/// keyword, integer, uuid and bool indexes): its matches then form a
/// connected part of the graph, and a walk may keep to them.
fn linked_matches(store: &PointStore, filter: &Filter) -> bool {
    use crate::filter::{Condition, Match};
    use crate::operations::PayloadSchemaType as T;
    let only_must = filter.should.is_none() && filter.min_should.is_none() && filter.must_not.is_none();
    let Some([Condition::Field(condition)]) = filter.must.as_deref() else { return false };
    let only_match = condition.range.is_none()
        && condition.geo_bounding_box.is_none()
        && condition.geo_radius.is_none()
        && condition.geo_polygon.is_none()
        && condition.values_count.is_none()
        && condition.is_empty.is_none()
        && condition.is_null.is_none();
    let indexed = store
        .payload_index
        .get(&condition.key.to_string())
        .and_then(|schema| schema.schema_type())
        .is_some_and(|t| matches!(t, T::Keyword | T::Integer | T::Uuid | T::Bool));
    only_must && only_match && indexed && matches!(condition.r#match, Some(Match::Value(_)))
}

/// For a sparse vector configured with `modifier: idf`, the query with each
/// weight multiplied by the inverse document frequency of its dimension over
/// the collection: ln((N - df + 0.5) / (df + 0.5) + 1), N the points that have
/// the vector, as Qdrant computes it.
fn idf_weighted(store: &PointStore, config: &CollectionConfig, using: &str, q: &QueryVector) -> Option<QueryVector> {
    let QueryVector::Sparse(query) = q else { return None };
    if config.sparse(using).and_then(|p| p.modifier) != Some(crate::config::Modifier::Idf) {
        return None;
    }
    let Some(VectorColumn::Sparse(rows)) = store.columns.get(using) else { return None };
    let mut df: HashMap<u32, f32> = query.indices.iter().map(|i| (*i, 0.0)).collect();
    let mut n = 0.0f32;
    for row in rows.iter().flatten() {
        n += 1.0;
        for i in &row.indices {
            if let Some(count) = df.get_mut(i) {
                *count += 1.0;
            }
        }
    }
    let values = query
        .indices
        .iter()
        .zip(&query.values)
        .map(|(i, v)| {
            let d = df[i];
            v * ((n - d + 0.5) / (d + 0.5) + 1.0).ln()
        })
        .collect();
    Some(QueryVector::Sparse(SparseVector { indices: query.indices.clone(), values }))
}

/// `x / (1 + |x|)`: Qdrant's cheap sigmoid into (-1, 1).
fn fast_sigmoid(x: f32) -> f32 {
    x / (1.0 + x.abs())
}

/// The fast sigmoid moved into (0, 1).
fn scaled_fast_sigmoid(x: f32) -> f32 {
    0.5 * (fast_sigmoid(x) + 1.0)
}

/// Similarity where higher is closer, whatever the distance.
fn similarity<'a>(
    store: &'a PointStore,
    config: &'a CollectionConfig,
    using: &'a str,
    distance: Distance,
) -> impl Fn(&QueryVector, usize) -> Option<f32> + 'a {
    move |q, o| score(store, config, using, q, o).map(|s| if distance.higher_is_better() { s } else { -s })
}

fn prepare_pairs(
    config: &CollectionConfig,
    using: &str,
    pairs: Vec<(QueryVector, QueryVector)>,
) -> Result<Vec<(QueryVector, QueryVector)>> {
    pairs
        .into_iter()
        .map(|(p, n)| Ok((prepare_query(config, using, p)?, prepare_query(config, using, n)?)))
        .collect()
}

/// The best `limit` of scored offsets, best first; ties go to the smaller id.
fn top_k(
    scored: impl Iterator<Item = (f32, usize)>,
    limit: usize,
    cmp: impl Fn(f32, f32) -> std::cmp::Ordering,
    store: &PointStore,
) -> Vec<Hit> {
    let mut all: Vec<(f32, usize)> = scored.collect();
    let order = |a: &(f32, usize), b: &(f32, usize)| cmp(a.0, b.0).then_with(|| store.ids[a.1].cmp(&store.ids[b.1]));
    if all.len() > limit {
        all.select_nth_unstable_by(limit, order);
        all.truncate(limit);
    }
    all.sort_by(order);
    all.into_iter().map(|(s, o)| (s, store.ids[o], None)).collect()
}

/// Recommend's average-vector strategy: avg(positive) + (avg(positive) - avg(negative)).
fn average_query(positive: &[QueryVector], negative: &[QueryVector]) -> Result<QueryVector> {
    fn mean(vectors: &[QueryVector]) -> Result<Option<Vec<f32>>> {
        let dense: Vec<&Vec<f32>> = vectors
            .iter()
            .map(|v| match v {
                QueryVector::Dense(d) => Ok(d),
                _ => Err(EngineError::BadInput(
                    "The average_vector strategy needs dense vectors; use best_score".into(),
                )),
            })
            .collect::<Result<_>>()?;
        let Some(first) = dense.first() else { return Ok(None) };
        let mut sum = vec![0.0; first.len()];
        for v in &dense {
            for (s, x) in sum.iter_mut().zip(v.iter()) {
                *s += x;
            }
        }
        let n = dense.len() as f32;
        Ok(Some(sum.into_iter().map(|s| s / n).collect()))
    }
    let pos = mean(positive)?.ok_or_else(|| EngineError::BadInput("At least one positive example is required".into()))?;
    Ok(QueryVector::Dense(match mean(negative)? {
        None => pos,
        Some(neg) => pos.iter().zip(&neg).map(|(p, n)| p + (p - n)).collect(),
    }))
}

/// Reciprocal rank fusion (1 / (k + rank), rank from 1... as Qdrant: 0-based
/// rank plus k) or distribution-based score fusion of several result lists.
fn fuse(lists: &[Vec<Hit>], kind: Fusion, k: f32, weights: Option<&[f32]>) -> Vec<Hit> {
    let mut scores: HashMap<PointId, f32> = HashMap::new();
    match kind {
        Fusion::Rrf => {
            for (i, list) in lists.iter().enumerate() {
                let weight = weights.map_or(1.0, |w| w[i]);
                for (rank, (_, id, _)) in list.iter().enumerate() {
                    *scores.entry(*id).or_default() += 1.0 / ((rank as f32 + 1.0) / weight + k - 1.0);
                }
            }
        }
        Fusion::Dbsf => {
            for list in lists {
                if list.is_empty() {
                    continue;
                }
                let n = list.len() as f32;
                let mean = list.iter().map(|h| h.0).sum::<f32>() / n;
                // Sample variance (n - 1), as Qdrant; one score normalises to 0.5.
                let var = if list.len() > 1 {
                    list.iter().map(|h| (h.0 - mean) * (h.0 - mean)).sum::<f32>() / (n - 1.0)
                } else {
                    0.0
                };
                let std = var.sqrt();
                let (lo, hi) = (mean - 3.0 * std, mean + 3.0 * std);
                for (s, id, _) in list {
                    let norm = if hi - lo > f32::EPSILON { (s - lo) / (hi - lo) } else { 0.5 };
                    *scores.entry(*id).or_default() += norm;
                }
            }
        }
    }
    let mut out: Vec<Hit> = scores.into_iter().map(|(id, s)| (s, id, None)).collect();
    out.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)));
    out
}

/// Fisher-Yates with a small xorshift seeded from the clock: sampling needs
/// variety, not cryptographic randomness.
fn shuffle<T>(items: &mut [T]) {
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
        | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

