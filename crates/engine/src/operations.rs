//! Write requests on points, in Qdrant's REST JSON shapes, and
//! [`UpdateOperation`], the unit the write-ahead log records and replays.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::filter::Filter;
use crate::types::{Payload, PointId, Vector, VectorStruct};

/// One point of an upsert in list form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointStruct {
    pub id: PointId,
    pub vector: VectorStruct,
    #[serde(default)]
    pub payload: Option<Payload>,
}

/// Vectors of a batch upsert: one list per vector (unnamed), or per name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchVectorStruct {
    Single(Vec<Vec<f32>>),
    Multi(Vec<Vec<Vec<f32>>>),
    Named(BTreeMap<String, Vec<Vector>>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub ids: Vec<PointId>,
    pub vectors: BatchVectorStruct,
    #[serde(default)]
    pub payloads: Option<Vec<Option<Payload>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMode {
    #[default]
    Upsert,
    InsertOnly,
    UpdateOnly,
}

/// Body of `PUT /collections/{c}/points`: `{"points": [...]}` or `{"batch": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointInsertOperations {
    #[serde(flatten)]
    pub points: PointsData,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<Value>,
    /// Only existing points matching this filter are updated; new points are always inserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mode: Option<UpdateMode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointsData {
    Points(Vec<PointStruct>),
    Batch(Batch),
}

impl PointsData {
    /// The points as a list, checking that a batch's columns have equal lengths.
    pub fn into_points(self) -> Result<Vec<PointStruct>, String> {
        match self {
            PointsData::Points(points) => Ok(points),
            PointsData::Batch(batch) => {
                let n = batch.ids.len();
                let mismatch = |what: &str, len: usize| {
                    format!("number of {what} ({len}) does not match number of ids ({n})")
                };
                let mut vectors: Vec<VectorStruct> = match batch.vectors {
                    BatchVectorStruct::Single(v) => {
                        if v.len() != n {
                            return Err(mismatch("vectors", v.len()));
                        }
                        v.into_iter().map(VectorStruct::Single).collect()
                    }
                    BatchVectorStruct::Multi(v) => {
                        if v.len() != n {
                            return Err(mismatch("vectors", v.len()));
                        }
                        v.into_iter().map(VectorStruct::Multi).collect()
                    }
                    BatchVectorStruct::Named(map) => {
                        let mut per_point: Vec<BTreeMap<String, Vector>> = vec![BTreeMap::new(); n];
                        for (name, list) in map {
                            if list.len() != n {
                                return Err(mismatch(&format!("vectors `{name}`"), list.len()));
                            }
                            for (slot, v) in per_point.iter_mut().zip(list) {
                                slot.insert(name.clone(), v);
                            }
                        }
                        per_point.into_iter().map(VectorStruct::Named).collect()
                    }
                };
                let payloads = match batch.payloads {
                    Some(p) if p.len() != n => return Err(mismatch("payloads", p.len())),
                    Some(p) => p,
                    None => vec![None; n],
                };
                Ok(batch
                    .ids
                    .into_iter()
                    .zip(vectors.drain(..))
                    .zip(payloads)
                    .map(|((id, vector), payload)| PointStruct { id, vector, payload })
                    .collect())
            }
        }
    }
}

/// Which points an operation addresses: a list of ids or a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PointsSelector {
    Ids {
        points: Vec<PointId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard_key: Option<Value>,
    },
    Filter {
        filter: Filter,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard_key: Option<Value>,
    },
}

/// Body of set / overwrite payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPayload {
    pub payload: Payload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<Vec<PointId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<Value>,
    /// Nested path under which to set the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletePayload {
    pub keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<Vec<PointId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointVectors {
    pub id: PointId,
    pub vector: VectorStruct,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateVectors {
    pub points: Vec<PointVectors>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_filter: Option<Filter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteVectors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<Vec<PointId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    pub vector: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<Value>,
}

/// Payload index types (`field_schema`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadSchemaType {
    Keyword,
    Integer,
    Float,
    Geo,
    Text,
    Bool,
    Datetime,
    Uuid,
}

/// `field_schema`: a type name, or an object of parameters with a `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PayloadFieldSchema {
    Type(PayloadSchemaType),
    Params(Value),
}

impl PayloadFieldSchema {
    /// The index type, whichever form was used.
    pub fn schema_type(&self) -> Option<PayloadSchemaType> {
        match self {
            PayloadFieldSchema::Type(t) => Some(*t),
            PayloadFieldSchema::Params(v) => {
                v.get("type").and_then(|t| serde_json::from_value(t.clone()).ok())
            }
        }
    }
}

/// Body of `PUT /collections/{c}/index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateFieldIndex {
    pub field_name: String,
    #[serde(default)]
    pub field_schema: Option<PayloadFieldSchema>,
}

/// One change to a collection's points. This is what the write-ahead log
/// stores; replaying the log applies the same values in the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOperation {
    Upsert(PointInsertOperations),
    Delete(PointsSelector),
    SetPayload(SetPayload),
    OverwritePayload(SetPayload),
    DeletePayload(DeletePayload),
    ClearPayload(PointsSelector),
    UpdateVectors(UpdateVectors),
    DeleteVectors(DeleteVectors),
}

impl UpdateOperation {
    /// The operation's shard key selector, as the request gave it.
    pub fn shard_key(&self) -> Option<&Value> {
        let key = match self {
            UpdateOperation::Upsert(x) => &x.shard_key,
            UpdateOperation::Delete(s) | UpdateOperation::ClearPayload(s) => match s {
                PointsSelector::Ids { shard_key, .. } | PointsSelector::Filter { shard_key, .. } => shard_key,
            },
            UpdateOperation::SetPayload(x) | UpdateOperation::OverwritePayload(x) => &x.shard_key,
            UpdateOperation::DeletePayload(x) => &x.shard_key,
            UpdateOperation::UpdateVectors(x) => &x.shard_key,
            UpdateOperation::DeleteVectors(x) => &x.shard_key,
        };
        key.as_ref()
    }
}

/// Body of `POST /collections/{c}/points/batch`.
#[derive(Debug, Clone, Deserialize)]
pub struct UpdateOperations {
    pub operations: Vec<UpdateOperation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateStatus {
    Acknowledged,
    Completed,
}

/// The answer to a write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateResult {
    pub operation_id: u64,
    pub status: UpdateStatus,
}
