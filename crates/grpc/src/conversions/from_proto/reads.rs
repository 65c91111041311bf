//! Reads: retrieve, scroll, count, search, recommend and the universal query.

use osprey_engine::requests::{
    ContextPair, CountRequest, Direction, DiscoverInput, Fusion, LookupLocation, NamedVectorStruct,
    OneOrMany, OrderBy, OrderByInterface, PayloadSelector, PointRequest, Prefetch, Query,
    QueryInterface, QueryRequest, RecommendInput, RecommendRequest, RecommendStrategy, Sample,
    ScrollRequest, SearchParams, SearchRequest, VectorInput, WithPayload, WithVector,
};
use osprey_engine::types::SparseVector;
use qdrant_client::qdrant::{
    self as proto, expression::Variant as E, feedback_strategy::Variant as Feedback,
    query::Variant as Q, start_from::Value as StartFrom,
    with_payload_selector::SelectorOptions as P, with_vectors_selector::SelectorOptions as V,
};
use serde_json::Value;

use super::filter::{condition, optional_filter, timestamp};
use super::points::shard_key;
use super::value::{point_id, point_ids};
use super::vectors::{vector_as_input, vector_input};
use super::{JsonObject, proto_enum};
use crate::conversions::{Decoded, invalid, newer};

/// A decoded read: the collection it addresses and the engine request.
#[derive(Debug)]
pub(crate) struct Read<T> {
    pub collection: String,
    pub request: T,
}

pub(super) fn size(value: u64, what: &str) -> Decoded<usize> {
    usize::try_from(value).map_err(|_| invalid(format!("{what} is too large")))
}

pub(super) fn optional_size(value: Option<u64>, what: &str) -> Decoded<Option<usize>> {
    value.map(|v| size(v, what)).transpose()
}

/// `with_payload`. A selector with nothing chosen means "the default".
pub(crate) fn with_payload(selector: Option<proto::WithPayloadSelector>) -> Option<WithPayload> {
    Some(match selector?.selector_options? {
        P::Enable(enable) => WithPayload::Enable(enable),
        P::Include(include) => WithPayload::Selector(PayloadSelector::Include(include.fields)),
        P::Exclude(exclude) => WithPayload::Selector(PayloadSelector::Exclude(exclude.fields)),
    })
}

/// `with_vectors`. A selector with nothing chosen means "the default".
pub(crate) fn with_vectors(selector: Option<proto::WithVectorsSelector>) -> Option<WithVector> {
    Some(match selector?.selector_options? {
        V::Enable(enable) => WithVector::Enable(enable),
        V::Include(include) => WithVector::Names(include.names),
    })
}

pub(super) fn search_params(params: Option<proto::SearchParams>) -> Decoded<Option<SearchParams>> {
    let Some(params) = params else {
        return Ok(None);
    };
    let proto::SearchParams {
        hnsw_ef,
        exact,
        quantization,
        indexed_only,
        acorn,
        idf,
    } = params;
    if idf.is_some() {
        return Err(newer("SearchParams.idf"));
    }
    Ok(Some(SearchParams {
        hnsw_ef: optional_size(hnsw_ef, "hnsw_ef")?,
        exact,
        quantization: quantization.map(|q| {
            JsonObject::new()
                .opt("ignore", q.ignore)
                .opt("rescore", q.rescore)
                .opt("oversampling", q.oversampling)
                .build()
        }),
        indexed_only,
        acorn: acorn.map(|a| {
            JsonObject::new()
                .opt("enable", a.enable)
                .opt("max_selectivity", a.max_selectivity)
                .build()
        }),
    }))
}

pub(super) fn lookup_location(
    lookup: Option<proto::LookupLocation>,
) -> Decoded<Option<LookupLocation>> {
    lookup
        .map(|l| {
            Ok(LookupLocation {
                collection: l.collection_name,
                vector: l.vector_name,
                shard_key: shard_key(l.shard_key_selector)?,
            })
        })
        .transpose()
}

/// `GetPoints`.
pub(crate) fn get_points(request: proto::GetPoints) -> Decoded<Read<PointRequest>> {
    let proto::GetPoints {
        collection_name,
        ids,
        with_payload: payload_selector,
        with_vectors: vectors_selector,
        read_consistency: _,
        shard_key_selector,
        timeout: _,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: PointRequest {
            ids: point_ids(ids)?,
            with_payload: with_payload(payload_selector),
            with_vector: with_vectors(vectors_selector),
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

pub(super) fn order_by(order: proto::OrderBy) -> Decoded<OrderBy> {
    let proto::OrderBy {
        key,
        direction,
        start_from,
    } = order;
    let direction = direction
        .map(|d| {
            Ok::<_, tonic::Status>(match proto_enum::<proto::Direction>(d, "direction")? {
                proto::Direction::Asc => Direction::Asc,
                proto::Direction::Desc => Direction::Desc,
            })
        })
        .transpose()?;
    let start_from = match start_from.and_then(|s| s.value) {
        None => None,
        Some(StartFrom::Float(f)) => Some(
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| invalid("order_by.start_from must be a finite number"))?,
        ),
        Some(StartFrom::Integer(i)) => Some(Value::from(i)),
        Some(StartFrom::Timestamp(ts)) => Some(Value::String(
            timestamp(ts)?.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )),
        Some(StartFrom::Datetime(s)) => Some(Value::String(s)),
    };
    Ok(OrderBy {
        key,
        direction,
        start_from,
    })
}

/// `ScrollPoints`.
pub(crate) fn scroll(request: proto::ScrollPoints) -> Decoded<Read<ScrollRequest>> {
    let proto::ScrollPoints {
        collection_name,
        filter,
        offset,
        limit,
        with_payload: payload_selector,
        with_vectors: vectors_selector,
        read_consistency: _,
        shard_key_selector,
        order_by: order,
        timeout: _,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: ScrollRequest {
            offset: offset.map(point_id).transpose()?,
            limit: limit.map(|l| l as usize),
            filter: optional_filter(filter)?,
            with_payload: with_payload(payload_selector),
            with_vector: with_vectors(vectors_selector),
            order_by: order
                .map(order_by)
                .transpose()?
                .map(OrderByInterface::Struct),
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

/// `CountPoints`.
pub(crate) fn count(request: proto::CountPoints) -> Decoded<Read<CountRequest>> {
    let proto::CountPoints {
        collection_name,
        filter,
        exact,
        read_consistency: _,
        shard_key_selector,
        timeout: _,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: CountRequest {
            filter: optional_filter(filter)?,
            exact,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

/// The vector of a search: dense unless `sparse_indices` makes it sparse;
/// `vector_name` picks a named vector.
pub(super) fn named_vector(
    vector: Vec<f32>,
    vector_name: Option<String>,
    sparse_indices: Option<proto::SparseIndices>,
) -> NamedVectorStruct {
    match (sparse_indices, vector_name) {
        (Some(indices), name) => NamedVectorStruct::Sparse {
            name: name.unwrap_or_default(),
            vector: SparseVector {
                indices: indices.data,
                values: vector,
            },
        },
        (None, Some(name)) => NamedVectorStruct::Dense { name, vector },
        (None, None) => NamedVectorStruct::Default(vector),
    }
}

/// `SearchPoints`: `vector` is dense unless `sparse_indices` makes it sparse;
/// `vector_name` picks a named vector.
pub(crate) fn search(request: proto::SearchPoints) -> Decoded<Read<SearchRequest>> {
    let proto::SearchPoints {
        collection_name,
        vector,
        filter,
        limit,
        with_payload: payload_selector,
        params,
        score_threshold,
        offset,
        vector_name,
        with_vectors: vectors_selector,
        read_consistency: _,
        timeout: _,
        shard_key_selector,
        sparse_indices,
    } = request;
    let vector = named_vector(vector, vector_name, sparse_indices);
    Ok(Read {
        collection: collection_name,
        request: SearchRequest {
            vector,
            filter: optional_filter(filter)?,
            params: search_params(params)?,
            limit: size(limit, "limit")?,
            offset: optional_size(offset, "offset")?,
            with_payload: with_payload(payload_selector),
            with_vector: with_vectors(vectors_selector),
            score_threshold,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

pub(super) fn recommend_strategy(strategy: i32) -> Decoded<RecommendStrategy> {
    Ok(
        match proto_enum::<proto::RecommendStrategy>(strategy, "recommend strategy")? {
            proto::RecommendStrategy::AverageVector => RecommendStrategy::AverageVector,
            proto::RecommendStrategy::BestScore => RecommendStrategy::BestScore,
            proto::RecommendStrategy::SumScores => RecommendStrategy::SumScores,
        },
    )
}

/// Recommend examples: by id first, then by vector.
pub(super) fn examples(
    ids: Vec<proto::PointId>,
    vectors: Vec<proto::Vector>,
) -> Decoded<Vec<VectorInput>> {
    let mut out: Vec<VectorInput> = point_ids(ids)?.into_iter().map(VectorInput::Id).collect();
    for v in vectors {
        out.push(vector_as_input(v)?);
    }
    Ok(out)
}

/// `RecommendPoints`: examples by id come first, then examples by vector.
pub(crate) fn recommend(request: proto::RecommendPoints) -> Decoded<Read<RecommendRequest>> {
    let proto::RecommendPoints {
        collection_name,
        positive,
        negative,
        filter,
        limit,
        with_payload: payload_selector,
        params,
        score_threshold,
        offset,
        using,
        with_vectors: vectors_selector,
        lookup_from,
        read_consistency: _,
        strategy,
        positive_vectors,
        negative_vectors,
        timeout: _,
        shard_key_selector,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: RecommendRequest {
            positive: examples(positive, positive_vectors)?,
            negative: examples(negative, negative_vectors)?,
            strategy: strategy.map(recommend_strategy).transpose()?,
            filter: optional_filter(filter)?,
            params: search_params(params)?,
            limit: size(limit, "limit")?,
            offset: optional_size(offset, "offset")?,
            with_payload: with_payload(payload_selector),
            with_vector: with_vectors(vectors_selector),
            score_threshold,
            using,
            lookup_from: lookup_location(lookup_from)?,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

/// `QueryPoints`.
pub(crate) fn query(request: proto::QueryPoints) -> Decoded<Read<QueryRequest>> {
    let proto::QueryPoints {
        collection_name,
        prefetch,
        query,
        using,
        filter,
        params,
        score_threshold,
        limit,
        offset,
        with_vectors: vectors_selector,
        with_payload: payload_selector,
        read_consistency: _,
        shard_key_selector,
        lookup_from,
        timeout: _,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: QueryRequest {
            prefetch: prefetches(prefetch)?,
            query: query.map(query_interface).transpose()?,
            using,
            filter: optional_filter(filter)?,
            params: search_params(params)?,
            score_threshold,
            limit: optional_size(limit, "limit")?,
            offset: optional_size(offset, "offset")?,
            with_vector: with_vectors(vectors_selector),
            with_payload: with_payload(payload_selector),
            lookup_from: lookup_location(lookup_from)?,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

pub(super) fn prefetches(list: Vec<proto::PrefetchQuery>) -> Decoded<Option<OneOrMany<Prefetch>>> {
    if list.is_empty() {
        return Ok(None);
    }
    Ok(Some(OneOrMany::Many(
        list.into_iter().map(prefetch).collect::<Decoded<_>>()?,
    )))
}

fn prefetch(p: proto::PrefetchQuery) -> Decoded<Prefetch> {
    let proto::PrefetchQuery {
        prefetch,
        query,
        using,
        filter,
        params,
        score_threshold,
        limit,
        lookup_from,
    } = p;
    Ok(Prefetch {
        prefetch: prefetches(prefetch)?,
        query: query.map(query_interface).transpose()?,
        using,
        filter: optional_filter(filter)?,
        params: search_params(params)?,
        score_threshold,
        limit: optional_size(limit, "limit")?,
        lookup_from: lookup_location(lookup_from)?,
    })
}

pub(super) fn required_input(
    input: Option<proto::VectorInput>,
    what: &str,
) -> Decoded<VectorInput> {
    vector_input(input.ok_or_else(|| invalid(format!("{what} is required")))?)
}

fn context_pairs(context: Option<proto::ContextInput>) -> Decoded<Vec<ContextPair>> {
    context
        .map(|c| c.pairs)
        .unwrap_or_default()
        .into_iter()
        .map(|pair| {
            Ok(ContextPair {
                positive: required_input(pair.positive, "context pair positive")?,
                negative: required_input(pair.negative, "context pair negative")?,
            })
        })
        .collect()
}

/// The `query` of a query request or prefetch.
pub(super) fn query_interface(query: proto::Query) -> Decoded<QueryInterface> {
    let Some(variant) = query.variant else {
        return Err(invalid("Malformed Query: no variant is set"));
    };
    let query = match variant {
        Q::Nearest(input) => Query::Nearest(vector_input(input)?),
        Q::Recommend(r) => Query::Recommend(RecommendInput {
            positive: Some(
                r.positive
                    .into_iter()
                    .map(vector_input)
                    .collect::<Decoded<_>>()?,
            ),
            negative: Some(
                r.negative
                    .into_iter()
                    .map(vector_input)
                    .collect::<Decoded<_>>()?,
            ),
            strategy: r.strategy.map(recommend_strategy).transpose()?,
        }),
        Q::Discover(d) => Query::Discover(DiscoverInput {
            target: required_input(d.target, "discover target")?,
            context: Some(OneOrMany::Many(context_pairs(d.context)?)),
        }),
        Q::Context(c) => Query::Context(OneOrMany::Many(context_pairs(Some(c))?)),
        Q::OrderBy(o) => Query::OrderBy(OrderByInterface::Struct(order_by(o)?)),
        Q::Fusion(f) => Query::Fusion(match proto_enum::<proto::Fusion>(f, "fusion")? {
            proto::Fusion::Rrf => Fusion::Rrf,
            proto::Fusion::Dbsf => Fusion::Dbsf,
        }),
        Q::Sample(s) => Query::Sample(match proto_enum::<proto::Sample>(s, "sample")? {
            proto::Sample::Random => Sample::Random,
        }),
        Q::Rrf(rrf) => Query::Rrf(
            JsonObject::new()
                .opt("k", rrf.k)
                .opt("weights", (!rrf.weights.is_empty()).then_some(rrf.weights))
                .build(),
        ),
        Q::Formula(formula) => {
            if !formula.defaults.is_empty() {
                // The engine models a formula by its expression alone.
                return Err(invalid(
                    "formula defaults are not supported by this server yet",
                ));
            }
            Query::Formula(expression(formula.expression)?)
        }
        Q::RelevanceFeedback(feedback) => Query::RelevanceFeedback(relevance_feedback(feedback)?),
        Q::NearestWithMmr(_) => {
            return Err(invalid(
                "`nearest` queries with `mmr` are not supported by this server yet",
            ));
        }
        Q::Text(_) => return Err(newer("Query.text")),
    };
    Ok(QueryInterface::Query(query))
}

fn to_json<T: serde::Serialize>(value: &T) -> Decoded<Value> {
    serde_json::to_value(value).map_err(|e| invalid(e.to_string()))
}

/// `{"target": .., "feedback": [{"example": .., "score": ..}], "strategy": {"naive": {..}}}`
fn relevance_feedback(input: proto::RelevanceFeedbackInput) -> Decoded<Value> {
    let target = to_json(&required_input(input.target, "relevance feedback target")?)?;
    let feedback = input
        .feedback
        .into_iter()
        .map(|item| {
            let example = to_json(&required_input(item.example, "feedback example")?)?;
            Ok(serde_json::json!({"example": example, "score": item.score}))
        })
        .collect::<Decoded<Vec<Value>>>()?;
    let strategy = match input.strategy.and_then(|s| s.variant) {
        Some(Feedback::Naive(n)) => serde_json::json!({"naive": {"a": n.a, "b": n.b, "c": n.c}}),
        None => return Err(invalid("relevance feedback strategy is required")),
    };
    Ok(serde_json::json!({"target": target, "feedback": feedback, "strategy": strategy}))
}

/// A formula expression in its REST form.
fn expression(expr: Option<proto::Expression>) -> Decoded<Value> {
    let Some(variant) = expr.and_then(|e| e.variant) else {
        return Err(invalid("Malformed Expression: no variant is set"));
    };
    let boxed = |e: Option<Box<proto::Expression>>| expression(e.map(|b| *b));
    let list = |items: Vec<proto::Expression>| -> Decoded<Value> {
        Ok(Value::Array(
            items
                .into_iter()
                .map(|e| expression(Some(e)))
                .collect::<Decoded<_>>()?,
        ))
    };
    let decay = |d: proto::DecayParamsExpression| -> Decoded<Value> {
        Ok(JsonObject::new()
            .set("x", boxed(d.x)?)
            .opt(
                "target",
                d.target.map(|t| expression(Some(*t))).transpose()?,
            )
            .opt("scale", d.scale)
            .opt("midpoint", d.midpoint)
            .build())
    };
    let single = |name: &str, e: Box<proto::Expression>| -> Decoded<Value> {
        Ok(serde_json::json!({ name: expression(Some(*e))? }))
    };
    Ok(match variant {
        E::Constant(c) => serde_json::Number::from_f64(f64::from(c))
            .map(Value::Number)
            .ok_or_else(|| invalid("formula constants must be finite"))?,
        E::Variable(v) => Value::String(v),
        E::Condition(c) => to_json(&condition(c)?)?,
        E::GeoDistance(g) => {
            let origin = g
                .origin
                .ok_or_else(|| invalid("geo_distance.origin is required"))?;
            serde_json::json!({"geo_distance": {"origin": {"lon": origin.lon, "lat": origin.lat}, "to": g.to}})
        }
        E::Datetime(d) => serde_json::json!({ "datetime": d }),
        E::DatetimeKey(k) => serde_json::json!({ "datetime_key": k }),
        E::Mult(m) => serde_json::json!({ "mult": list(m.mult)? }),
        E::Sum(s) => serde_json::json!({ "sum": list(s.sum)? }),
        E::Div(d) => {
            let d = *d;
            serde_json::json!({"div": JsonObject::new()
                .set("left", boxed(d.left)?)
                .set("right", boxed(d.right)?)
                .opt("by_zero_default", d.by_zero_default)
                .build()})
        }
        E::Neg(e) => single("neg", e)?,
        E::Abs(e) => single("abs", e)?,
        E::Sqrt(e) => single("sqrt", e)?,
        E::Exp(e) => single("exp", e)?,
        E::Log10(e) => single("log10", e)?,
        E::Ln(e) => single("ln", e)?,
        E::Pow(p) => {
            let p = *p;
            serde_json::json!({"pow": {"base": boxed(p.base)?, "exponent": boxed(p.exponent)?}})
        }
        E::ExpDecay(d) => serde_json::json!({ "exp_decay": decay(*d)? }),
        E::GaussDecay(d) => serde_json::json!({ "gauss_decay": decay(*d)? }),
        E::LinDecay(d) => serde_json::json!({ "lin_decay": decay(*d)? }),
        E::Acosh(_) => return Err(newer("Expression.acosh")),
        E::Max(_) => return Err(newer("Expression.max")),
        E::Min(_) => return Err(newer("Expression.min")),
    })
}
