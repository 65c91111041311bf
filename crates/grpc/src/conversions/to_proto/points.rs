//! Points in answers, and write results.

use osprey_engine::operations::{UpdateResult, UpdateStatus};
use osprey_engine::requests::{
    CountResult, FacetResponse, GroupId, GroupsResult, Record, ScoredPoint,
    SearchMatrixOffsetsResponse, SearchMatrixPairsResponse,
};
use qdrant_client::qdrant::{self as proto, facet_value, group_id, order_value::Variant};
use serde_json::Value;

use super::value::{payload, point_id};
use super::vectors::vectors_output;

/// An `order_by` value: integers stay integers, anything else is a double.
pub(crate) fn order_value(value: Value) -> Option<proto::OrderValue> {
    let variant = match &value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Variant::Int(i),
            None => Variant::Float(n.as_f64()?),
        },
        _ => return None,
    };
    Some(proto::OrderValue {
        variant: Some(variant),
    })
}

/// A point found by a search or query.
pub(crate) fn scored_point(point: ScoredPoint) -> proto::ScoredPoint {
    let ScoredPoint {
        id,
        version,
        score,
        payload: fields,
        vector,
        shard_key: key,
        order_value: order,
    } = point;
    proto::ScoredPoint {
        id: Some(point_id(id)),
        payload: fields.map(payload).unwrap_or_default(),
        score,
        version,
        vectors: vector.map(vectors_output),
        shard_key: key.as_ref().and_then(shard_key),
        order_value: order.and_then(order_value),
    }
}

/// A point returned by retrieve or scroll.
pub(crate) fn retrieved_point(record: Record) -> proto::RetrievedPoint {
    let Record {
        id,
        payload: fields,
        vector,
        shard_key: key,
        order_value: order,
    } = record;
    proto::RetrievedPoint {
        id: Some(point_id(id)),
        payload: fields.map(payload).unwrap_or_default(),
        vectors: vector.map(vectors_output),
        shard_key: key.as_ref().and_then(shard_key),
        order_value: order.and_then(order_value),
    }
}

/// A point's shard key (a JSON string or integer) in its wire form.
fn shard_key(key: &serde_json::Value) -> Option<proto::ShardKey> {
    use proto::shard_key::Key;
    let key = match key {
        serde_json::Value::String(s) => Key::Keyword(s.clone()),
        other => Key::Number(other.as_u64()?),
    };
    Some(proto::ShardKey { key: Some(key) })
}

/// The answer to a write.
pub(crate) fn update_result(result: UpdateResult) -> proto::UpdateResult {
    let status = match result.status {
        UpdateStatus::Acknowledged => proto::UpdateStatus::Acknowledged,
        UpdateStatus::Completed => proto::UpdateStatus::Completed,
    };
    proto::UpdateResult {
        operation_id: Some(result.operation_id),
        status: status as i32,
    }
}

pub(crate) fn count_result(result: CountResult) -> proto::CountResult {
    proto::CountResult {
        count: result.count,
    }
}

/// A group id: a non-negative number is unsigned, as Qdrant sends it.
fn group_id(id: GroupId) -> proto::GroupId {
    let kind = match id {
        GroupId::Number(n) => match u64::try_from(n) {
            Ok(u) => group_id::Kind::UnsignedValue(u),
            Err(_) => group_id::Kind::IntegerValue(n),
        },
        GroupId::String(s) => group_id::Kind::StringValue(s),
    };
    proto::GroupId { kind: Some(kind) }
}

/// The answer of the `…Groups` rpcs.
pub(crate) fn groups_result(result: GroupsResult) -> proto::GroupsResult {
    proto::GroupsResult {
        groups: result
            .groups
            .into_iter()
            .map(|group| proto::PointGroup {
                id: Some(group_id(group.id)),
                hits: group.hits.into_iter().map(scored_point).collect(),
                lookup: group.lookup.map(retrieved_point),
            })
            .collect(),
    }
}

/// Facet hits. Values are keywords, integers or booleans; anything else is
/// sent as its JSON text rather than dropped.
pub(crate) fn facet_hits(response: FacetResponse) -> Vec<proto::FacetHit> {
    response
        .hits
        .into_iter()
        .map(|hit| {
            let variant = match hit.value {
                Value::String(s) => facet_value::Variant::StringValue(s),
                Value::Bool(b) => facet_value::Variant::BoolValue(b),
                Value::Number(n) if n.is_i64() => {
                    facet_value::Variant::IntegerValue(n.as_i64().unwrap_or_default())
                }
                other => facet_value::Variant::StringValue(other.to_string()),
            };
            proto::FacetHit {
                value: Some(proto::FacetValue {
                    variant: Some(variant),
                }),
                count: hit.count,
            }
        })
        .collect()
}

/// The distance matrix as pairs.
pub(crate) fn matrix_pairs(response: SearchMatrixPairsResponse) -> proto::SearchMatrixPairs {
    proto::SearchMatrixPairs {
        pairs: response
            .pairs
            .into_iter()
            .map(|p| proto::SearchMatrixPair {
                a: Some(point_id(p.a)),
                b: Some(point_id(p.b)),
                score: p.score,
            })
            .collect(),
    }
}

/// The distance matrix in its sparse (offsets) form.
pub(crate) fn matrix_offsets(response: SearchMatrixOffsetsResponse) -> proto::SearchMatrixOffsets {
    proto::SearchMatrixOffsets {
        offsets_row: response.offsets_row,
        offsets_col: response.offsets_col,
        scores: response.scores,
        ids: response.ids.into_iter().map(point_id).collect(),
    }
}
