//! Value types shared by every part of the engine. Their serde form is
//! Qdrant's REST JSON, so the REST front end deserialises straight into them.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

/// A point's payload: a JSON object whose keys keep their insertion order.
pub type Payload = serde_json::Map<String, serde_json::Value>;

/// A point id: an unsigned integer or a UUID. Any UUID text form is accepted
/// (hyphenated, simple, braced, urn); the hyphenated lower-case form is returned.
///
/// Ordering matches Qdrant's: every numeric id sorts before every UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PointId {
    Num(u64),
    Uuid(Uuid),
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Uuid(u) => write!(f, "{}", u.hyphenated()),
        }
    }
}

impl FromStr for PointId {
    type Err = String;

    /// Parses a path segment or string: digits are a numeric id, anything else must be a UUID.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(n) = s.parse::<u64>() {
            return Ok(PointId::Num(n));
        }
        Uuid::parse_str(s)
            .map(PointId::Uuid)
            .map_err(|_| format!("Unable to parse UUID: {s}"))
    }
}

impl Serialize for PointId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PointId::Num(n) => serializer.serialize_u64(*n),
            PointId::Uuid(u) => serializer.collect_str(&u.hyphenated()),
        }
    }
}

impl<'de> Deserialize<'de> for PointId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = PointId;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an unsigned integer or a UUID string")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PointId, E> {
                Ok(PointId::Num(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PointId, E> {
                u64::try_from(v)
                    .map(PointId::Num)
                    .map_err(|_| E::custom(format!("point id must be unsigned, got {v}")))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<PointId, E> {
                Uuid::parse_str(v)
                    .map(PointId::Uuid)
                    .map_err(|_| E::custom(format!("Unable to parse UUID: {v}")))
            }
        }

        deserializer.deserialize_any(IdVisitor)
    }
}

/// The name under which a collection's single unnamed vector is kept.
pub const DEFAULT_VECTOR: &str = "";

/// A sparse vector: parallel lists of dimension indices and values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl<'de> Deserialize<'de> for SparseVector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            indices: Vec<u32>,
            values: Vec<f32>,
        }
        let Fields { indices, values } = from_object(deserializer)?;
        Ok(SparseVector { indices, values })
    }
}

/// Deserializes `T` from a JSON object only. A derived struct also accepts an
/// array of its fields in order, and inside an untagged enum that makes the
/// multivector `[[1, 2], [0.5, 0.5]]` parse as a sparse vector, or the query
/// vector `[1, 2]` as `{"nearest": 1, "mmr": 2}`.
pub(crate) fn from_object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
    serde_json::from_value(serde_json::Value::Object(object)).map_err(de::Error::custom)
}

/// One vector of a point, as written in requests and returned in responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Vector {
    Dense(Vec<f32>),
    Sparse(SparseVector),
    Multi(Vec<Vec<f32>>),
    /// A document, image or object meant for server-side inference, which Osprey does not do.
    Inference(InferenceInput),
}

/// All vectors of a point: `[..]` for the unnamed vector, `[[..],..]` for an unnamed
/// multivector, or `{"name": vector}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VectorStruct {
    Single(Vec<f32>),
    Multi(Vec<Vec<f32>>),
    Named(std::collections::BTreeMap<String, Vector>),
}

impl VectorStruct {
    /// The vectors by name; the unnamed vector is called [`DEFAULT_VECTOR`].
    pub fn into_named(self) -> std::collections::BTreeMap<String, Vector> {
        match self {
            VectorStruct::Single(v) => [(DEFAULT_VECTOR.to_string(), Vector::Dense(v))].into(),
            VectorStruct::Multi(v) => [(DEFAULT_VECTOR.to_string(), Vector::Multi(v))].into(),
            VectorStruct::Named(map) => map,
        }
    }
}

/// A document, image or object to embed on the server (`{"text"|"image"|"object": .., "model": ..}`).
/// Recognised so the answer can say clearly that Osprey needs vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceInput {
    pub model: String,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}
