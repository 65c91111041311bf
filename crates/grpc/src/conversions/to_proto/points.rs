//! Points in answers, and write results.

use osprey_engine::operations::{UpdateResult, UpdateStatus};
use osprey_engine::requests::{CountResult, Record, ScoredPoint};
use qdrant_client::qdrant::{self as proto, order_value::Variant};
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
        shard_key: _,
        order_value: order,
    } = point;
    proto::ScoredPoint {
        id: Some(point_id(id)),
        payload: fields.map(payload).unwrap_or_default(),
        score,
        version,
        vectors: vector.map(vectors_output),
        shard_key: None,
        order_value: order.and_then(order_value),
    }
}

/// A point returned by retrieve or scroll.
pub(crate) fn retrieved_point(record: Record) -> proto::RetrievedPoint {
    let Record {
        id,
        payload: fields,
        vector,
        shard_key: _,
        order_value: order,
    } = record;
    proto::RetrievedPoint {
        id: Some(point_id(id)),
        payload: fields.map(payload).unwrap_or_default(),
        vectors: vector.map(vectors_output),
        shard_key: None,
        order_value: order.and_then(order_value),
    }
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
