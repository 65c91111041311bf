//! Read requests (retrieve, scroll, count, search, query, recommend) and
//! their answers, in Qdrant's REST JSON shapes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::filter::Filter;
use crate::types::{Payload, PointId, SparseVector, Vector};

/// `with_payload`: all, nothing, a list of keys, or an include / exclude selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WithPayload {
    Enable(bool),
    Include(Vec<String>),
    Selector(PayloadSelector),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadSelector {
    Include(Vec<String>),
    Exclude(Vec<String>),
}

/// `with_vector`: all, nothing, or the listed names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WithVector {
    Enable(bool),
    Names(Vec<String>),
}

impl WithVector {
    pub fn wants(&self, name: &str) -> bool {
        match self {
            WithVector::Enable(b) => *b,
            WithVector::Names(names) => names.iter().any(|n| n == name),
        }
    }

    pub fn any(&self) -> bool {
        match self {
            WithVector::Enable(b) => *b,
            WithVector::Names(names) => !names.is_empty(),
        }
    }
}

/// Body of `POST /collections/{c}/points` (retrieve several).
#[derive(Debug, Clone, Deserialize)]
pub struct PointRequest {
    pub ids: Vec<PointId>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

/// A point as returned by retrieve and scroll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: PointId,
    pub payload: Option<Payload>,
    pub vector: Option<VectorOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_value: Option<Value>,
}

/// Vectors in answers: the unnamed vector alone, or a map by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VectorOutput {
    Single(Vector),
    Named(std::collections::BTreeMap<String, Vector>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderBy {
    pub key: String,
    #[serde(default)]
    pub direction: Option<Direction>,
    /// A number or an RFC 3339 datetime.
    #[serde(default)]
    pub start_from: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderByInterface {
    Key(String),
    Struct(OrderBy),
}

impl OrderByInterface {
    pub fn into_order_by(self) -> OrderBy {
        match self {
            OrderByInterface::Key(key) => OrderBy { key, direction: None, start_from: None },
            OrderByInterface::Struct(o) => o,
        }
    }
}

/// Body of `POST /collections/{c}/points/scroll`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScrollRequest {
    #[serde(default)]
    pub offset: Option<PointId>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub order_by: Option<OrderByInterface>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScrollResult {
    pub points: Vec<Record>,
    pub next_page_offset: Option<PointId>,
}

/// Body of `POST /collections/{c}/points/count`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CountRequest {
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub exact: Option<bool>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountResult {
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub hnsw_ef: Option<usize>,
    #[serde(default)]
    pub exact: Option<bool>,
    #[serde(default)]
    pub quantization: Option<Value>,
    #[serde(default)]
    pub indexed_only: Option<bool>,
    #[serde(default)]
    pub acorn: Option<Value>,
}

/// `vector` of a search request: a bare vector, or a named dense or sparse one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NamedVectorStruct {
    Default(Vec<f32>),
    Dense { name: String, vector: Vec<f32> },
    Sparse { name: String, vector: SparseVector },
}

/// Body of `POST /collections/{c}/points/search`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchRequest {
    pub vector: NamedVectorStruct,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    pub limit: usize,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SearchRequestBatch {
    pub searches: Vec<SearchRequest>,
}

/// A point found by a search, with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPoint {
    pub id: PointId,
    pub version: u64,
    pub score: f32,
    pub payload: Option<Payload>,
    pub vector: Option<VectorOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_value: Option<Value>,
}

/// A vector given in a query: raw values, or the id of a stored point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VectorInput {
    Dense(Vec<f32>),
    Sparse(SparseVector),
    Multi(Vec<Vec<f32>>),
    Id(PointId),
    /// Documents, images and objects need server-side inference, which Osprey does not do.
    Inference(crate::types::InferenceInput),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RecommendStrategy {
    #[default]
    AverageVector,
    BestScore,
    SumScores,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RecommendInput {
    #[serde(default)]
    pub positive: Option<Vec<VectorInput>>,
    #[serde(default)]
    pub negative: Option<Vec<VectorInput>>,
    #[serde(default)]
    pub strategy: Option<RecommendStrategy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextPair {
    pub positive: VectorInput,
    pub negative: VectorInput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoverInput {
    pub target: VectorInput,
    pub context: Option<OneOrMany<ContextPair>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    Rrf,
    Dbsf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sample {
    Random,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(Box<T>),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(x) => vec![*x],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The `query` of a universal query request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Query {
    Nearest(VectorInput),
    Recommend(RecommendInput),
    Discover(DiscoverInput),
    Context(OneOrMany<ContextPair>),
    OrderBy(OrderByInterface),
    Fusion(Fusion),
    Rrf(Value),
    Formula(Value),
    Sample(Sample),
    RelevanceFeedback(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QueryInterface {
    /// `{"nearest": .., "mmr": {..}}`: recognised so the answer can say that
    /// MMR is not supported, instead of a parse error.
    NearestMmr(NearestMmrQuery),
    // Tried before `Vector`: a tagged query (`{"nearest": ..}`) must never be
    // read as a bare inference object.
    Query(Query),
    Vector(VectorInput),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearestMmrQuery {
    pub nearest: VectorInput,
    pub mmr: Value,
}

impl<'de> Deserialize<'de> for NearestMmrQuery {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            nearest: VectorInput,
            mmr: Value,
        }
        // Only `{"nearest": .., "mmr": ..}`: a plain two-number vector must
        // not read as this struct's fields in order.
        let Fields { nearest, mmr } = crate::types::from_object(deserializer)?;
        Ok(NearestMmrQuery { nearest, mmr })
    }
}

/// Where `lookup_from` takes the vectors of ids given in a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupLocation {
    pub collection: String,
    #[serde(default)]
    pub vector: Option<String>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Prefetch {
    #[serde(default)]
    pub prefetch: Option<OneOrMany<Prefetch>>,
    #[serde(default)]
    pub query: Option<QueryInterface>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
}

/// Body of `POST /collections/{c}/points/query`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueryRequest {
    #[serde(default)]
    pub prefetch: Option<OneOrMany<Prefetch>>,
    #[serde(default)]
    pub query: Option<QueryInterface>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

impl QueryRequest {
    /// Every collection the request reads besides its own (`lookup_from`,
    /// also inside nested prefetches): the access check needs them all.
    pub fn referenced_collections(&self) -> Vec<String> {
        let nested = all_prefetches(self.prefetch.as_ref()).into_iter().filter_map(|p| p.lookup_from.as_ref());
        self.lookup_from.iter().chain(nested).map(|l| l.collection.clone()).collect()
    }
}

/// Every prefetch under `prefetch` at any depth, parents before their
/// children in request order. An explicit stack, not recursion: the nesting
/// comes from the request.
pub fn all_prefetches(prefetch: Option<&OneOrMany<Prefetch>>) -> Vec<&Prefetch> {
    fn level(prefetch: Option<&OneOrMany<Prefetch>>) -> &[Prefetch] {
        match prefetch {
            Some(OneOrMany::One(p)) => std::slice::from_ref(p.as_ref()),
            Some(OneOrMany::Many(list)) => list,
            None => &[],
        }
    }
    let mut out = Vec::new();
    let mut pending: Vec<&Prefetch> = level(prefetch).iter().rev().collect();
    while let Some(item) = pending.pop() {
        out.push(item);
        pending.extend(level(item.prefetch.as_ref()).iter().rev());
    }
    out
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueryRequestBatch {
    pub searches: Vec<QueryRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResponse {
    pub points: Vec<ScoredPoint>,
}

/// Body of `POST /collections/{c}/points/recommend`.
#[derive(Debug, Clone, Deserialize)]
pub struct RecommendRequest {
    #[serde(default)]
    pub positive: Vec<VectorInput>,
    #[serde(default)]
    pub negative: Vec<VectorInput>,
    #[serde(default)]
    pub strategy: Option<RecommendStrategy>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    pub limit: usize,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecommendRequestBatch {
    pub searches: Vec<RecommendRequest>,
}

/// `with_lookup` of group requests: a collection name, or one with selectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WithLookupInterface {
    Collection(String),
    WithLookup(WithLookup),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WithLookup {
    pub collection: String,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub with_vectors: Option<WithVector>,
}

impl WithLookupInterface {
    pub fn collection(&self) -> &str {
        match self {
            WithLookupInterface::Collection(c) => c,
            WithLookupInterface::WithLookup(w) => &w.collection,
        }
    }
}

/// The grouping part shared by every `…/groups` request.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupsParams {
    pub group_by: String,
    #[serde(default)]
    pub group_size: Option<usize>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub with_lookup: Option<WithLookupInterface>,
}

/// Body of `POST …/points/search/groups`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchGroupsRequest {
    pub vector: NamedVectorStruct,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(flatten)]
    pub groups: GroupsParams,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

/// Body of `POST …/points/recommend/groups`.
#[derive(Debug, Clone, Deserialize)]
pub struct RecommendGroupsRequest {
    #[serde(default)]
    pub positive: Vec<VectorInput>,
    #[serde(default)]
    pub negative: Vec<VectorInput>,
    #[serde(default)]
    pub strategy: Option<RecommendStrategy>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
    #[serde(flatten)]
    pub groups: GroupsParams,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

/// Body of `POST …/points/query/groups`.
#[derive(Debug, Clone, Deserialize)]
pub struct QueryGroupsRequest {
    #[serde(default)]
    pub prefetch: Option<OneOrMany<Prefetch>>,
    #[serde(default)]
    pub query: Option<QueryInterface>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
    #[serde(flatten)]
    pub groups: GroupsParams,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

impl QueryGroupsRequest {
    /// Collections read besides this one (`lookup_from`, nested prefetches, `with_lookup`).
    pub fn referenced_collections(&self) -> Vec<String> {
        let as_query = QueryRequest {
            prefetch: self.prefetch.clone(),
            lookup_from: self.lookup_from.clone(),
            ..Default::default()
        };
        let mut out = as_query.referenced_collections();
        out.extend(self.groups.with_lookup.as_ref().map(|l| l.collection().to_string()));
        out
    }
}

/// A group id: a string or an integer payload value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GroupId {
    Number(i64),
    String(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointGroup {
    pub hits: Vec<ScoredPoint>,
    pub id: GroupId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<Record>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupsResult {
    pub groups: Vec<PointGroup>,
}

/// Body of `POST …/points/discover`.
#[derive(Debug, Clone, Deserialize)]
pub struct DiscoverRequest {
    #[serde(default)]
    pub target: Option<VectorInput>,
    #[serde(default)]
    pub context: Option<Vec<ContextPair>>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    pub limit: usize,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscoverRequestBatch {
    pub searches: Vec<DiscoverRequest>,
}

/// Body of `POST /collections/{c}/facet`.
#[derive(Debug, Clone, Deserialize)]
pub struct FacetRequest {
    pub key: String,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub exact: Option<bool>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacetValueHit {
    pub value: Value,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacetResponse {
    pub hits: Vec<FacetValueHit>,
}

/// Body of the two `…/points/search/matrix/*` routes.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchMatrixRequest {
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub sample: Option<usize>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchMatrixPair {
    pub a: PointId,
    pub b: PointId,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchMatrixPairsResponse {
    pub pairs: Vec<SearchMatrixPair>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchMatrixOffsetsResponse {
    pub offsets_row: Vec<u64>,
    pub offsets_col: Vec<u64>,
    pub scores: Vec<f32>,
    pub ids: Vec<PointId>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Derived structs also read an array of their fields in order; inside the
    /// untagged query and vector enums that turned short vectors into other
    /// things. Each shape must land in its own variant.
    #[test]
    fn short_vectors_keep_their_meaning() {
        let query: QueryRequest = serde_json::from_value(json!({"query": [1, 2]})).unwrap();
        assert_eq!(query.query, Some(QueryInterface::Vector(VectorInput::Dense(vec![1.0, 2.0]))));
        let multi: VectorInput = serde_json::from_value(json!([[1, 2], [0.5, 0.5]])).unwrap();
        assert_eq!(multi, VectorInput::Multi(vec![vec![1.0, 2.0], vec![0.5, 0.5]]));
        let stored: Vector = serde_json::from_value(json!([[1, 2], [3, 4]])).unwrap();
        assert_eq!(stored, Vector::Multi(vec![vec![1.0, 2.0], vec![3.0, 4.0]]));
        let sparse: VectorInput = serde_json::from_value(json!({"indices": [1, 2], "values": [0.5, 0.5]})).unwrap();
        assert_eq!(sparse, VectorInput::Sparse(SparseVector { indices: vec![1, 2], values: vec![0.5, 0.5] }));
        let mmr: QueryInterface = serde_json::from_value(json!({"nearest": [1, 2], "mmr": {"diversity": 0.5}})).unwrap();
        assert!(matches!(mmr, QueryInterface::NearestMmr(_)));
    }
}
