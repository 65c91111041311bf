//! Payload values and point ids.

use std::collections::HashMap;

use osprey_engine::{Payload, PointId};
use qdrant_client::qdrant::{self as proto, point_id::PointIdOptions, value::Kind};
use serde_json::Value;

/// A JSON value. Integers that fit `i64` stay integers; larger unsigned
/// integers and all other numbers become doubles, as in Qdrant.
pub(crate) fn value(value: Value) -> proto::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(proto::NullValue::NullValue as i32),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Kind::IntegerValue(i),
            None => Kind::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Kind::StringValue(s),
        Value::Array(items) => Kind::ListValue(proto::ListValue {
            values: items.into_iter().map(self::value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(proto::Struct {
            fields: payload(map),
        }),
    };
    proto::Value { kind: Some(kind) }
}

/// A payload (or any JSON object) as a protobuf map.
pub(crate) fn payload(payload: Payload) -> HashMap<String, proto::Value> {
    payload.into_iter().map(|(k, v)| (k, value(v))).collect()
}

/// A point id; UUIDs in their hyphenated lower-case form.
pub(crate) fn point_id(id: PointId) -> proto::PointId {
    let options = match id {
        PointId::Num(n) => PointIdOptions::Num(n),
        PointId::Uuid(u) => PointIdOptions::Uuid(u.hyphenated().to_string()),
    };
    proto::PointId {
        point_id_options: Some(options),
    }
}
