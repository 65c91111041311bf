//! Payload values and point ids.

use std::collections::HashMap;

use osprey_engine::{Payload, PointId};
use qdrant_client::qdrant::{self as proto, point_id::PointIdOptions, value::Kind};
use serde_json::Value;

use crate::conversions::{Decoded, invalid};

/// A payload value. A value with no kind set reads as `null`, as in Qdrant;
/// a NaN or infinite double cannot be JSON and is refused.
pub(crate) fn value(value: proto::Value) -> Decoded<Value> {
    let Some(kind) = value.kind else {
        return Ok(Value::Null);
    };
    Ok(match kind {
        Kind::NullValue(_) => Value::Null,
        Kind::DoubleValue(d) => serde_json::Number::from_f64(d)
            .map(Value::Number)
            .ok_or_else(|| invalid(format!("Payload value {d} is not a valid JSON number")))?,
        Kind::IntegerValue(i) => Value::from(i),
        Kind::StringValue(s) => Value::String(s),
        Kind::BoolValue(b) => Value::Bool(b),
        Kind::StructValue(s) => Value::Object(payload(s.fields)?),
        Kind::ListValue(list) => Value::Array(
            list.values
                .into_iter()
                .map(self::value)
                .collect::<Decoded<_>>()?,
        ),
    })
}

/// A payload (or any proto `map<string, Value>`). Protobuf maps have no
/// order; keys are stored sorted so that every read returns the same order.
pub(crate) fn payload(map: HashMap<String, proto::Value>) -> Decoded<Payload> {
    let mut entries: Vec<(String, proto::Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
        .into_iter()
        .map(|(k, v)| Ok((k, value(v)?)))
        .collect()
}

/// A point id: a number, or a UUID in any of its text forms.
pub(crate) fn point_id(id: proto::PointId) -> Decoded<PointId> {
    match id.point_id_options {
        Some(PointIdOptions::Num(n)) => Ok(PointId::Num(n)),
        Some(PointIdOptions::Uuid(s)) => uuid::Uuid::parse_str(&s)
            .map(PointId::Uuid)
            .map_err(|_| invalid(format!("Unable to parse UUID: {s}"))),
        None => Err(invalid(
            "Malformed PointId type: neither num nor uuid is set",
        )),
    }
}

/// A list of point ids.
pub(crate) fn point_ids(ids: Vec<proto::PointId>) -> Decoded<Vec<PointId>> {
    ids.into_iter().map(point_id).collect()
}

/// A point id that the message declares as an optional sub-message but the
/// operation needs.
pub(crate) fn required_point_id(id: Option<proto::PointId>, what: &str) -> Decoded<PointId> {
    point_id(id.ok_or_else(|| invalid(format!("{what} is required")))?)
}
