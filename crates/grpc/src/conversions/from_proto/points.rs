//! Point writes: upsert, delete, payload and vector changes, batches, and
//! payload index creation.

use osprey_engine::filter::Filter;
use osprey_engine::operations::{
    CreateFieldIndex, DeletePayload, DeleteVectors, PayloadFieldSchema, PayloadSchemaType,
    PointInsertOperations, PointStruct, PointVectors, PointsData, PointsSelector, SetPayload,
    UpdateMode, UpdateOperation, UpdateVectors,
};
use osprey_engine::types::{PointId, VectorStruct};
use qdrant_client::qdrant::{
    self as proto, payload_index_params::IndexParams, points_selector::PointsSelectorOneOf,
    points_update_operation::Operation, shard_key::Key, stemming_algorithm::StemmingParams,
};
use serde_json::Value;

use super::filter::{filter, optional_filter};
use super::value::{payload, point_ids, required_point_id};
use super::vectors::vector_struct;
use super::{JsonObject, proto_enum};
use crate::conversions::{Decoded, invalid, newer};

/// A decoded point write: where, whether to wait for durability, and what.
#[derive(Debug)]
pub(crate) struct Write<T> {
    pub collection: String,
    pub wait: bool,
    pub operation: T,
}

impl<T> Write<T> {
    fn new(collection: String, wait: Option<bool>, operation: T) -> Self {
        // Qdrant's default, on REST as on gRPC: answer once the write is logged.
        Write {
            collection,
            wait: wait.unwrap_or(false),
            operation,
        }
    }
}

/// `UpsertPoints`.
pub(crate) fn upsert(request: proto::UpsertPoints) -> Decoded<Write<UpdateOperation>> {
    let proto::UpsertPoints {
        collection_name,
        wait,
        points,
        ordering: _,
        shard_key_selector,
        update_filter,
        timeout: _,
        update_mode,
    } = request;
    let operation = UpdateOperation::Upsert(point_list(
        points,
        shard_key_selector,
        update_filter,
        update_mode,
    )?);
    Ok(Write::new(collection_name, wait, operation))
}

fn point_list(
    points: Vec<proto::PointStruct>,
    shard_key_selector: Option<proto::ShardKeySelector>,
    update_filter: Option<proto::Filter>,
    update_mode: Option<i32>,
) -> Decoded<PointInsertOperations> {
    Ok(PointInsertOperations {
        points: PointsData::Points(
            points
                .into_iter()
                .map(point_struct)
                .collect::<Decoded<_>>()?,
        ),
        shard_key: shard_key(shard_key_selector)?,
        update_filter: optional_filter(update_filter)?,
        update_mode: update_mode.map(self::update_mode).transpose()?,
    })
}

fn point_struct(point: proto::PointStruct) -> Decoded<PointStruct> {
    let proto::PointStruct {
        id,
        payload: fields,
        vectors,
    } = point;
    Ok(PointStruct {
        id: required_point_id(id, "point id")?,
        // A point without vectors (allowed in collections without dense
        // vectors): the engine decides whether that is valid.
        vector: match vectors {
            Some(v) => vector_struct(v)?,
            None => VectorStruct::Named(Default::default()),
        },
        payload: if fields.is_empty() {
            None
        } else {
            Some(payload(fields)?)
        },
    })
}

fn update_mode(mode: i32) -> Decoded<UpdateMode> {
    Ok(
        match proto_enum::<proto::UpdateMode>(mode, "update mode")? {
            proto::UpdateMode::Upsert => UpdateMode::Upsert,
            proto::UpdateMode::InsertOnly => UpdateMode::InsertOnly,
            proto::UpdateMode::UpdateOnly => UpdateMode::UpdateOnly,
        },
    )
}

/// Point ids or a filter.
enum Selected {
    Ids(Vec<PointId>),
    Filter(Filter),
}

fn points_selector(selector: proto::PointsSelector) -> Decoded<Selected> {
    match selector.points_selector_one_of {
        Some(PointsSelectorOneOf::Points(list)) => Ok(Selected::Ids(point_ids(list.ids)?)),
        Some(PointsSelectorOneOf::Filter(f)) => Ok(Selected::Filter(filter(f)?)),
        None => Err(invalid(
            "Malformed PointsSelector type: neither points nor filter is set",
        )),
    }
}

/// A selector the operation cannot do without.
fn required_selector(
    selector: Option<proto::PointsSelector>,
    shard_key_selector: Option<proto::ShardKeySelector>,
) -> Decoded<PointsSelector> {
    let selected = points_selector(selector.ok_or_else(|| invalid("PointsSelector is missing"))?)?;
    let shard_key = shard_key(shard_key_selector)?;
    Ok(match selected {
        Selected::Ids(points) => PointsSelector::Ids { points, shard_key },
        Selected::Filter(filter) => PointsSelector::Filter { filter, shard_key },
    })
}

/// An optional selector as the `points` / `filter` pair of payload and
/// vector operations; with neither, the engine answers its own error.
fn ids_or_filter(
    selector: Option<proto::PointsSelector>,
) -> Decoded<(Option<Vec<PointId>>, Option<Filter>)> {
    Ok(match selector.map(points_selector).transpose()? {
        Some(Selected::Ids(ids)) => (Some(ids), None),
        Some(Selected::Filter(f)) => (None, Some(f)),
        None => (None, None),
    })
}

/// `ShardKeySelector` as REST writes it: a key, a list of keys, or
/// `{"target": .., "fallback": ..}`.
pub(crate) fn shard_key(selector: Option<proto::ShardKeySelector>) -> Decoded<Option<Value>> {
    let Some(selector) = selector else {
        return Ok(None);
    };
    let mut keys: Vec<Value> = selector
        .shard_keys
        .into_iter()
        .map(shard_key_value)
        .collect::<Decoded<_>>()?;
    let fallback = selector.fallback.map(shard_key_value).transpose()?;
    if keys.is_empty() && fallback.is_none() {
        return Ok(None);
    }
    let target = if keys.len() == 1 {
        keys.remove(0)
    } else {
        Value::Array(keys)
    };
    Ok(Some(match fallback {
        Some(fallback) => serde_json::json!({"target": target, "fallback": fallback}),
        None => target,
    }))
}

fn shard_key_value(key: proto::ShardKey) -> Decoded<Value> {
    match key.key {
        Some(Key::Keyword(k)) => Ok(Value::String(k)),
        Some(Key::Number(n)) => Ok(Value::from(n)),
        None => Err(invalid(
            "Malformed ShardKey: neither keyword nor number is set",
        )),
    }
}

/// `DeletePoints`.
pub(crate) fn delete_points(request: proto::DeletePoints) -> Decoded<Write<UpdateOperation>> {
    let proto::DeletePoints {
        collection_name,
        wait,
        points,
        ordering: _,
        shard_key_selector,
        timeout: _,
    } = request;
    let operation = UpdateOperation::Delete(required_selector(points, shard_key_selector)?);
    Ok(Write::new(collection_name, wait, operation))
}

fn set_payload_body(
    fields: std::collections::HashMap<String, proto::Value>,
    selector: Option<proto::PointsSelector>,
    shard_key_selector: Option<proto::ShardKeySelector>,
    key: Option<String>,
) -> Decoded<SetPayload> {
    let (points, filter) = ids_or_filter(selector)?;
    Ok(SetPayload {
        payload: payload(fields)?,
        points,
        filter,
        shard_key: shard_key(shard_key_selector)?,
        key,
    })
}

/// `SetPayloadPoints` on `SetPayload`.
pub(crate) fn set_payload(request: proto::SetPayloadPoints) -> Decoded<Write<UpdateOperation>> {
    let (collection, wait, body) = set_payload_parts(request)?;
    Ok(Write::new(
        collection,
        wait,
        UpdateOperation::SetPayload(body),
    ))
}

/// `SetPayloadPoints` on `OverwritePayload`.
pub(crate) fn overwrite_payload(
    request: proto::SetPayloadPoints,
) -> Decoded<Write<UpdateOperation>> {
    let (collection, wait, body) = set_payload_parts(request)?;
    Ok(Write::new(
        collection,
        wait,
        UpdateOperation::OverwritePayload(body),
    ))
}

fn set_payload_parts(
    request: proto::SetPayloadPoints,
) -> Decoded<(String, Option<bool>, SetPayload)> {
    let proto::SetPayloadPoints {
        collection_name,
        wait,
        payload: fields,
        points_selector,
        ordering: _,
        shard_key_selector,
        key,
        timeout: _,
    } = request;
    Ok((
        collection_name,
        wait,
        set_payload_body(fields, points_selector, shard_key_selector, key)?,
    ))
}

/// `DeletePayloadPoints`.
pub(crate) fn delete_payload(
    request: proto::DeletePayloadPoints,
) -> Decoded<Write<UpdateOperation>> {
    let proto::DeletePayloadPoints {
        collection_name,
        wait,
        keys,
        points_selector,
        ordering: _,
        shard_key_selector,
        timeout: _,
    } = request;
    let (points, filter) = ids_or_filter(points_selector)?;
    let operation = UpdateOperation::DeletePayload(DeletePayload {
        keys,
        points,
        filter,
        shard_key: shard_key(shard_key_selector)?,
    });
    Ok(Write::new(collection_name, wait, operation))
}

/// `ClearPayloadPoints`.
pub(crate) fn clear_payload(request: proto::ClearPayloadPoints) -> Decoded<Write<UpdateOperation>> {
    let proto::ClearPayloadPoints {
        collection_name,
        wait,
        points,
        ordering: _,
        shard_key_selector,
        timeout: _,
    } = request;
    let operation = UpdateOperation::ClearPayload(required_selector(points, shard_key_selector)?);
    Ok(Write::new(collection_name, wait, operation))
}

fn point_vectors(points: Vec<proto::PointVectors>) -> Decoded<Vec<PointVectors>> {
    points
        .into_iter()
        .map(|p| {
            Ok(PointVectors {
                id: required_point_id(p.id, "point id")?,
                vector: vector_struct(
                    p.vectors
                        .ok_or_else(|| invalid("vectors are required for every point"))?,
                )?,
            })
        })
        .collect()
}

/// `UpdatePointVectors`.
pub(crate) fn update_vectors(
    request: proto::UpdatePointVectors,
) -> Decoded<Write<UpdateOperation>> {
    let proto::UpdatePointVectors {
        collection_name,
        wait,
        points,
        ordering: _,
        shard_key_selector,
        update_filter,
        timeout: _,
    } = request;
    let operation = UpdateOperation::UpdateVectors(UpdateVectors {
        points: point_vectors(points)?,
        shard_key: shard_key(shard_key_selector)?,
        update_filter: optional_filter(update_filter)?,
    });
    Ok(Write::new(collection_name, wait, operation))
}

fn delete_vectors_body(
    selector: Option<proto::PointsSelector>,
    vectors: Option<proto::VectorsSelector>,
    shard_key_selector: Option<proto::ShardKeySelector>,
) -> Decoded<DeleteVectors> {
    let (points, filter) = ids_or_filter(selector)?;
    Ok(DeleteVectors {
        points,
        filter,
        vector: vectors.map(|v| v.names).unwrap_or_default(),
        shard_key: shard_key(shard_key_selector)?,
    })
}

/// `DeletePointVectors`.
pub(crate) fn delete_vectors(
    request: proto::DeletePointVectors,
) -> Decoded<Write<UpdateOperation>> {
    let proto::DeletePointVectors {
        collection_name,
        wait,
        points_selector,
        vectors,
        ordering: _,
        shard_key_selector,
        timeout: _,
    } = request;
    let operation = UpdateOperation::DeleteVectors(delete_vectors_body(
        points_selector,
        vectors,
        shard_key_selector,
    )?);
    Ok(Write::new(collection_name, wait, operation))
}

/// `UpdateBatchPoints`: every operation, applied as one.
pub(crate) fn update_batch(
    request: proto::UpdateBatchPoints,
) -> Decoded<Write<Vec<UpdateOperation>>> {
    let proto::UpdateBatchPoints {
        collection_name,
        wait,
        operations,
        ordering: _,
        timeout: _,
    } = request;
    let operations =
        operations
            .into_iter()
            .map(|op| {
                batch_operation(op.operation.ok_or_else(|| {
                    invalid("Malformed PointsUpdateOperation: no operation is set")
                })?)
            })
            .collect::<Decoded<_>>()?;
    Ok(Write::new(collection_name, wait, operations))
}

#[allow(deprecated)]
fn batch_operation(operation: Operation) -> Decoded<UpdateOperation> {
    Ok(match operation {
        Operation::Upsert(list) => UpdateOperation::Upsert(point_list(
            list.points,
            list.shard_key_selector,
            list.update_filter,
            list.update_mode,
        )?),
        Operation::DeleteDeprecated(selector) => {
            UpdateOperation::Delete(required_selector(Some(selector), None)?)
        }
        Operation::DeletePoints(d) => {
            UpdateOperation::Delete(required_selector(d.points, d.shard_key_selector)?)
        }
        Operation::SetPayload(s) => UpdateOperation::SetPayload(set_payload_body(
            s.payload,
            s.points_selector,
            s.shard_key_selector,
            s.key,
        )?),
        Operation::OverwritePayload(s) => UpdateOperation::OverwritePayload(set_payload_body(
            s.payload,
            s.points_selector,
            s.shard_key_selector,
            s.key,
        )?),
        Operation::DeletePayload(d) => {
            let (points, filter) = ids_or_filter(d.points_selector)?;
            UpdateOperation::DeletePayload(DeletePayload {
                keys: d.keys,
                points,
                filter,
                shard_key: shard_key(d.shard_key_selector)?,
            })
        }
        Operation::ClearPayloadDeprecated(selector) => {
            UpdateOperation::ClearPayload(required_selector(Some(selector), None)?)
        }
        Operation::ClearPayload(c) => {
            UpdateOperation::ClearPayload(required_selector(c.points, c.shard_key_selector)?)
        }
        Operation::UpdateVectors(u) => UpdateOperation::UpdateVectors(UpdateVectors {
            points: point_vectors(u.points)?,
            shard_key: shard_key(u.shard_key_selector)?,
            update_filter: optional_filter(u.update_filter)?,
        }),
        Operation::DeleteVectors(d) => UpdateOperation::DeleteVectors(delete_vectors_body(
            d.points_selector,
            d.vectors,
            d.shard_key_selector,
        )?),
    })
}

/// `CreateFieldIndexCollection`. The type comes from `field_type`, from the
/// parameters, or from both when they agree.
pub(crate) fn create_field_index(
    request: proto::CreateFieldIndexCollection,
) -> Decoded<Write<CreateFieldIndex>> {
    let proto::CreateFieldIndexCollection {
        collection_name,
        wait,
        field_name,
        field_type,
        field_index_params,
        ordering: _,
        timeout: _,
    } = request;
    let declared = field_type.map(schema_type).transpose()?;
    let params = field_index_params.map(index_params).transpose()?;
    let field_schema = match (declared, params) {
        (Some(t), Some((pt, _))) if t != pt => {
            return Err(invalid(format!(
                "field_type {t:?} does not match the type of field_index_params ({pt:?})"
            )));
        }
        (_, Some((_, json))) => Some(PayloadFieldSchema::Params(json)),
        (Some(t), None) => Some(PayloadFieldSchema::Type(t)),
        (None, None) => None,
    };
    Ok(Write::new(
        collection_name,
        wait,
        CreateFieldIndex {
            field_name,
            field_schema,
        },
    ))
}

fn schema_type(field_type: i32) -> Decoded<PayloadSchemaType> {
    Ok(
        match proto_enum::<proto::FieldType>(field_type, "field type")? {
            proto::FieldType::Keyword => PayloadSchemaType::Keyword,
            proto::FieldType::Integer => PayloadSchemaType::Integer,
            proto::FieldType::Float => PayloadSchemaType::Float,
            proto::FieldType::Geo => PayloadSchemaType::Geo,
            proto::FieldType::Text => PayloadSchemaType::Text,
            proto::FieldType::Bool => PayloadSchemaType::Bool,
            proto::FieldType::Datetime => PayloadSchemaType::Datetime,
            proto::FieldType::Uuid => PayloadSchemaType::Uuid,
        },
    )
}

/// Payload index parameters as REST writes them (`{"type": "keyword", ..}`).
#[allow(deprecated)]
fn index_params(params: proto::PayloadIndexParams) -> Decoded<(PayloadSchemaType, Value)> {
    let no_memory = |memory: Option<i32>, what: &str| match memory {
        Some(_) => Err(newer(&format!("{what}.memory"))),
        None => Ok(()),
    };
    let no_nested = |nested: &Option<String>, what: &str| match nested {
        Some(_) => Err(newer(&format!("{what}.nested"))),
        None => Ok(()),
    };
    let Some(params) = params.index_params else {
        return Err(invalid(
            "Malformed PayloadIndexParams: no parameters are set",
        ));
    };
    Ok(match params {
        IndexParams::KeywordIndexParams(p) => {
            no_memory(p.memory, "KeywordIndexParams")?;
            no_nested(&p.nested, "KeywordIndexParams")?;
            if p.prefix.is_some() {
                return Err(newer("KeywordIndexParams.prefix"));
            }
            let json = JsonObject::new()
                .set("type", "keyword")
                .opt("is_tenant", p.is_tenant)
                .opt("on_disk", p.on_disk)
                .opt("enable_hnsw", p.enable_hnsw);
            (PayloadSchemaType::Keyword, json.build())
        }
        IndexParams::IntegerIndexParams(p) => {
            no_memory(p.memory, "IntegerIndexParams")?;
            no_nested(&p.nested, "IntegerIndexParams")?;
            let json = JsonObject::new()
                .set("type", "integer")
                .opt("lookup", p.lookup)
                .opt("range", p.range)
                .opt("is_principal", p.is_principal)
                .opt("on_disk", p.on_disk)
                .opt("enable_hnsw", p.enable_hnsw);
            (PayloadSchemaType::Integer, json.build())
        }
        IndexParams::FloatIndexParams(p) => {
            no_memory(p.memory, "FloatIndexParams")?;
            no_nested(&p.nested, "FloatIndexParams")?;
            let json = JsonObject::new()
                .set("type", "float")
                .opt("is_principal", p.is_principal)
                .opt("on_disk", p.on_disk)
                .opt("enable_hnsw", p.enable_hnsw);
            (PayloadSchemaType::Float, json.build())
        }
        IndexParams::GeoIndexParams(p) => {
            no_memory(p.memory, "GeoIndexParams")?;
            no_nested(&p.nested, "GeoIndexParams")?;
            let json = JsonObject::new()
                .set("type", "geo")
                .opt("on_disk", p.on_disk)
                .opt("enable_hnsw", p.enable_hnsw);
            (PayloadSchemaType::Geo, json.build())
        }
        IndexParams::BoolIndexParams(p) => {
            no_memory(p.memory, "BoolIndexParams")?;
            no_nested(&p.nested, "BoolIndexParams")?;
            let json = JsonObject::new()
                .set("type", "bool")
                .opt("on_disk", p.on_disk)
                .opt("enable_hnsw", p.enable_hnsw);
            (PayloadSchemaType::Bool, json.build())
        }
        IndexParams::DatetimeIndexParams(p) => {
            no_memory(p.memory, "DatetimeIndexParams")?;
            no_nested(&p.nested, "DatetimeIndexParams")?;
            let json = JsonObject::new()
                .set("type", "datetime")
                .opt("is_principal", p.is_principal)
                .opt("on_disk", p.on_disk)
                .opt("enable_hnsw", p.enable_hnsw);
            (PayloadSchemaType::Datetime, json.build())
        }
        IndexParams::UuidIndexParams(p) => {
            no_memory(p.memory, "UuidIndexParams")?;
            no_nested(&p.nested, "UuidIndexParams")?;
            let json = JsonObject::new()
                .set("type", "uuid")
                .opt("is_tenant", p.is_tenant)
                .opt("on_disk", p.on_disk)
                .opt("enable_hnsw", p.enable_hnsw);
            (PayloadSchemaType::Uuid, json.build())
        }
        IndexParams::TextIndexParams(p) => {
            no_memory(p.memory, "TextIndexParams")?;
            no_nested(&p.nested, "TextIndexParams")?;
            if p.scoring.is_some() {
                return Err(newer("TextIndexParams.scoring"));
            }
            let tokenizer = match proto_enum::<proto::TokenizerType>(p.tokenizer, "tokenizer")? {
                proto::TokenizerType::Unknown => None,
                proto::TokenizerType::Prefix => Some("prefix"),
                proto::TokenizerType::Whitespace => Some("whitespace"),
                proto::TokenizerType::Word => Some("word"),
                proto::TokenizerType::Multilingual => Some("multilingual"),
                proto::TokenizerType::Code => return Err(newer("TokenizerType.Code")),
            };
            let stemmer = match p.stemmer.and_then(|s| s.stemming_params) {
                Some(StemmingParams::Snowball(s)) => {
                    Some(serde_json::json!({"type": "snowball", "language": s.language}))
                }
                Some(StemmingParams::Disabled(_)) => {
                    return Err(newer("StemmingAlgorithm.disabled"));
                }
                None => None,
            };
            let stopwords = p.stopwords.map(|s| {
                JsonObject::new()
                    .opt(
                        "languages",
                        (!s.languages.is_empty()).then_some(s.languages),
                    )
                    .opt("custom", (!s.custom.is_empty()).then_some(s.custom))
                    .build()
            });
            let json = JsonObject::new()
                .set("type", "text")
                .opt("tokenizer", tokenizer)
                .opt("min_token_len", p.min_token_len)
                .opt("max_token_len", p.max_token_len)
                .opt("lowercase", p.lowercase)
                .opt("ascii_folding", p.ascii_folding)
                .opt("phrase_matching", p.phrase_matching)
                .opt("stopwords", stopwords)
                .opt("stemmer", stemmer)
                .opt("on_disk", p.on_disk)
                .opt("enable_hnsw", p.enable_hnsw);
            (PayloadSchemaType::Text, json.build())
        }
    })
}
