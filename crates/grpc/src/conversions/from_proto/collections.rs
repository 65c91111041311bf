//! Collection create / update and alias changes.

use std::collections::{BTreeMap, HashMap};

use osprey_engine::config::{
    CreateCollection, Datatype, DenseVectorConfig, Distance, HnswConfigDiff, Modifier,
    MultiVectorComparator, MultiVectorConfig, ShardingMethod, SparseVectorParams, UpdateCollection,
    VectorNameConfig, VectorParams, VectorsConfig,
};
use osprey_engine::{AliasOperation, ChangeAliasesOperation};
use qdrant_client::qdrant::{
    self as proto, alias_operations::Action, binary_quantization_query_encoding,
    create_vector_name_request::VectorConfig, max_optimization_threads,
    quantization_config::Quantization, quantization_config_diff::Quantization as QuantizationDiff,
    vectors_config::Config, vectors_config_diff::Config as ConfigDiff,
};
use serde_json::Value;

use super::value::payload;
use super::{JsonObject, proto_enum};
use crate::conversions::{Decoded, invalid, newer};

/// `CreateCollection`: the collection name and the engine's create request.
#[allow(deprecated)]
pub(crate) fn create_collection(
    request: proto::CreateCollection,
) -> Decoded<(String, CreateCollection)> {
    let proto::CreateCollection {
        collection_name,
        hnsw_config,
        wal_config,
        optimizers_config,
        shard_number,
        on_disk_payload,
        timeout: _,
        vectors_config,
        replication_factor,
        write_consistency_factor,
        quantization_config,
        sharding_method,
        sparse_vectors_config,
        strict_mode_config,
        metadata,
        payload: payload_storage,
        id_tracker,
    } = request;
    if payload_storage.is_some() {
        return Err(newer("CreateCollection.payload"));
    }
    if id_tracker.is_some() {
        return Err(newer("CreateCollection.id_tracker"));
    }
    let request = CreateCollection {
        vectors: vectors_config.map(vectors).transpose()?,
        shard_number,
        sharding_method: sharding_method.map(self::sharding_method).transpose()?,
        replication_factor,
        write_consistency_factor,
        on_disk_payload,
        hnsw_config: hnsw_config.map(hnsw).transpose()?,
        wal_config: wal_config.map(wal),
        optimizers_config: optimizers_config.map(optimizers),
        init_from: None,
        quantization_config: quantization_config.map(quantization).transpose()?,
        sparse_vectors: sparse_vectors_config.map(sparse_vectors).transpose()?,
        strict_mode_config: strict_mode_config.map(strict_mode),
        metadata: metadata_map(metadata)?,
    };
    Ok((collection_name, request))
}

/// `UpdateCollection`: the collection name and the engine's update request.
pub(crate) fn update_collection(
    request: proto::UpdateCollection,
) -> Decoded<(String, UpdateCollection)> {
    let proto::UpdateCollection {
        collection_name,
        optimizers_config,
        timeout: _,
        params,
        hnsw_config,
        vectors_config,
        quantization_config,
        sparse_vectors_config,
        strict_mode_config,
        metadata,
    } = request;
    let request = UpdateCollection {
        vectors: vectors_config.map(vectors_diff).transpose()?,
        optimizers_config: optimizers_config.map(optimizers),
        params: params.map(params_diff).transpose()?,
        hnsw_config: hnsw_config.map(hnsw).transpose()?,
        quantization_config: quantization_config.map(quantization_diff).transpose()?,
        sparse_vectors: sparse_vectors_config.map(sparse_vectors).transpose()?,
        strict_mode_config: strict_mode_config.map(strict_mode),
        metadata: metadata_map(metadata)?,
    };
    Ok((collection_name, request))
}

/// `CreateVectorNameRequest`: the collection, the vector's name and its
/// configuration. A sparse vector's `datatype` belongs to its index, as in
/// the collection configuration.
pub(crate) fn create_vector_name(
    request: proto::CreateVectorNameRequest,
) -> Decoded<(String, String, VectorNameConfig)> {
    let proto::CreateVectorNameRequest {
        collection_name,
        wait: _,
        vector_name,
        timeout: _,
        ordering: _,
        vector_config,
    } = request;
    let config = match vector_config {
        Some(VectorConfig::DenseConfig(dense)) => VectorNameConfig::Dense(DenseVectorConfig {
            size: dense.size,
            distance: distance(dense.distance)?,
            multivector_config: dense.multivector_config.map(multivector).transpose()?,
            datatype: dense.datatype.map(datatype).transpose()?.flatten(),
        }),
        Some(VectorConfig::SparseConfig(sparse)) => {
            let datatype = sparse.datatype.map(datatype_name).transpose()?.flatten();
            VectorNameConfig::Sparse(SparseVectorParams {
                index: datatype.map(|d| JsonObject::new().set("datatype", d).build()),
                modifier: sparse.modifier.map(modifier).transpose()?,
            })
        }
        None => {
            return Err(invalid(
                "vector_config is required: dense_config or sparse_config",
            ));
        }
    };
    Ok((collection_name, vector_name, config))
}

/// `ChangeAliases`.
pub(crate) fn change_aliases(request: proto::ChangeAliases) -> Decoded<ChangeAliasesOperation> {
    let actions = request
        .actions
        .into_iter()
        .map(|a| match a.action {
            Some(Action::CreateAlias(c)) => Ok(AliasOperation::CreateAlias {
                collection_name: c.collection_name,
                alias_name: c.alias_name,
            }),
            Some(Action::RenameAlias(r)) => Ok(AliasOperation::RenameAlias {
                old_alias_name: r.old_alias_name,
                new_alias_name: r.new_alias_name,
            }),
            Some(Action::DeleteAlias(d)) => Ok(AliasOperation::DeleteAlias {
                alias_name: d.alias_name,
            }),
            None => Err(invalid("Malformed AliasOperations: no action is set")),
        })
        .collect::<Decoded<_>>()?;
    Ok(ChangeAliasesOperation { actions })
}

fn metadata_map(
    metadata: HashMap<String, proto::Value>,
) -> Decoded<Option<serde_json::Map<String, Value>>> {
    if metadata.is_empty() {
        Ok(None)
    } else {
        payload(metadata).map(Some)
    }
}

fn vectors(config: proto::VectorsConfig) -> Decoded<VectorsConfig> {
    match config.config {
        Some(Config::Params(params)) => Ok(VectorsConfig::Single(vector_params(params)?)),
        Some(Config::ParamsMap(map)) => Ok(VectorsConfig::Multi(
            map.map
                .into_iter()
                .map(|(name, p)| Ok((name, vector_params(p)?)))
                .collect::<Decoded<_>>()?,
        )),
        None => Err(invalid(
            "Malformed VectorsConfig: neither params nor params_map is set",
        )),
    }
}

#[allow(deprecated)]
fn vector_params(params: proto::VectorParams) -> Decoded<VectorParams> {
    let proto::VectorParams {
        size,
        distance,
        hnsw_config,
        quantization_config,
        on_disk,
        datatype,
        multivector_config,
        memory,
    } = params;
    Ok(VectorParams {
        size,
        distance: self::distance(distance)?,
        hnsw_config: hnsw_config.map(hnsw).transpose()?,
        quantization_config: quantization_config.map(quantization).transpose()?,
        on_disk,
        memory: memory.map(vector_memory).transpose()?,
        datatype: datatype.map(self::datatype).transpose()?.flatten(),
        multivector_config: multivector_config.map(multivector).transpose()?,
    })
}

fn multivector(config: proto::MultiVectorConfig) -> Decoded<MultiVectorConfig> {
    let comparator = match proto_enum::<proto::MultiVectorComparator>(
        config.comparator,
        "multivector comparator",
    )? {
        proto::MultiVectorComparator::MaxSim => MultiVectorComparator::MaxSim,
    };
    Ok(MultiVectorConfig { comparator })
}

fn modifier(modifier: i32) -> Decoded<Modifier> {
    Ok(match proto_enum::<proto::Modifier>(modifier, "modifier")? {
        proto::Modifier::None => Modifier::None,
        proto::Modifier::Idf => Modifier::Idf,
    })
}

fn distance(distance: i32) -> Decoded<Distance> {
    Ok(match proto_enum::<proto::Distance>(distance, "distance")? {
        proto::Distance::Cosine => Distance::Cosine,
        proto::Distance::Euclid => Distance::Euclid,
        proto::Distance::Dot => Distance::Dot,
        proto::Distance::Manhattan => Distance::Manhattan,
        proto::Distance::UnknownDistance => {
            return Err(invalid("Malformed distance parameter: UnknownDistance"));
        }
    })
}

/// `Default` means "not set".
fn datatype(datatype: i32) -> Decoded<Option<Datatype>> {
    Ok(match proto_enum::<proto::Datatype>(datatype, "datatype")? {
        proto::Datatype::Default => None,
        proto::Datatype::Float32 => Some(Datatype::Float32),
        proto::Datatype::Uint8 => Some(Datatype::Uint8),
        proto::Datatype::Float16 => Some(Datatype::Float16),
        proto::Datatype::Turbo4 => Some(Datatype::Turbo4),
        proto::Datatype::Turbo8 => return Err(newer("Datatype.Turbo8")),
        proto::Datatype::Turbo16 => return Err(newer("Datatype.Turbo16")),
    })
}

fn datatype_name(datatype: i32) -> Decoded<Option<Value>> {
    Ok(self::datatype(datatype)?.map(|d| serde_json::to_value(d).unwrap_or(Value::Null)))
}

fn sharding_method(method: i32) -> Decoded<ShardingMethod> {
    Ok(
        match proto_enum::<proto::ShardingMethod>(method, "sharding method")? {
            proto::ShardingMethod::Auto => ShardingMethod::Auto,
            proto::ShardingMethod::Custom => ShardingMethod::Custom,
        },
    )
}

#[allow(deprecated)]
fn hnsw(diff: proto::HnswConfigDiff) -> Decoded<HnswConfigDiff> {
    let proto::HnswConfigDiff {
        m,
        ef_construct,
        full_scan_threshold,
        max_indexing_threads,
        on_disk,
        payload_m,
        inline_storage,
        memory,
    } = diff;
    if memory.is_some() {
        return Err(newer("HnswConfigDiff.memory"));
    }
    Ok(HnswConfigDiff {
        m,
        ef_construct,
        full_scan_threshold,
        max_indexing_threads,
        on_disk,
        payload_m,
        inline_storage,
    })
}

fn wal(diff: proto::WalConfigDiff) -> Value {
    JsonObject::new()
        .opt("wal_capacity_mb", diff.wal_capacity_mb)
        .opt("wal_segments_ahead", diff.wal_segments_ahead)
        .opt("wal_retain_closed", diff.wal_retain_closed)
        .build()
}

fn optimizers(diff: proto::OptimizersConfigDiff) -> Value {
    // `Auto` is the engine's "not set"; the number of threads, else the
    // field that older clients send.
    let threads = match diff.max_optimization_threads.and_then(|t| t.variant) {
        Some(max_optimization_threads::Variant::Value(n)) => Some(n),
        Some(max_optimization_threads::Variant::Setting(_)) => None,
        None => diff.deprecated_max_optimization_threads,
    };
    JsonObject::new()
        .opt("deleted_threshold", diff.deleted_threshold)
        .opt("vacuum_min_vector_number", diff.vacuum_min_vector_number)
        .opt("default_segment_number", diff.default_segment_number)
        .opt("max_segment_size", diff.max_segment_size)
        .opt("memmap_threshold", diff.memmap_threshold)
        .opt("indexing_threshold", diff.indexing_threshold)
        .opt("flush_interval_sec", diff.flush_interval_sec)
        .opt("max_optimization_threads", threads)
        .opt("prevent_unoptimized", diff.prevent_unoptimized)
        .build()
}

fn params_diff(diff: proto::CollectionParamsDiff) -> Decoded<Value> {
    #[allow(deprecated)]
    let proto::CollectionParamsDiff {
        replication_factor,
        write_consistency_factor,
        on_disk_payload,
        read_fan_out_factor,
        read_fan_out_delay_ms,
        payload: payload_storage,
        id_tracker,
    } = diff;
    if payload_storage.is_some() {
        return Err(newer("CollectionParamsDiff.payload"));
    }
    if id_tracker.is_some() {
        return Err(newer("CollectionParamsDiff.id_tracker"));
    }
    Ok(JsonObject::new()
        .opt("replication_factor", replication_factor)
        .opt("write_consistency_factor", write_consistency_factor)
        .opt("read_fan_out_factor", read_fan_out_factor)
        .opt("read_fan_out_delay_ms", read_fan_out_delay_ms)
        .opt("on_disk_payload", on_disk_payload)
        .build())
}

fn vectors_diff(diff: proto::VectorsConfigDiff) -> Decoded<BTreeMap<String, Value>> {
    match diff.config {
        Some(ConfigDiff::Params(params)) => {
            Ok([(String::new(), vector_params_diff(params)?)].into())
        }
        Some(ConfigDiff::ParamsMap(map)) => map
            .map
            .into_iter()
            .map(|(name, p)| Ok((name, vector_params_diff(p)?)))
            .collect(),
        None => Err(invalid(
            "Malformed VectorsConfigDiff: neither params nor params_map is set",
        )),
    }
}

#[allow(deprecated)]
fn vector_params_diff(diff: proto::VectorParamsDiff) -> Decoded<Value> {
    let proto::VectorParamsDiff {
        hnsw_config,
        quantization_config,
        on_disk,
        memory,
    } = diff;
    let memory = memory
        .map(vector_memory)
        .transpose()?
        .map(|m| serde_json::to_value(m).map_err(|e| invalid(e.to_string())))
        .transpose()?;
    let hnsw_json = hnsw_config
        .map(hnsw)
        .transpose()?
        .map(|h| serde_json::to_value(h).map_err(|e| invalid(e.to_string())))
        .transpose()?;
    Ok(JsonObject::new()
        .opt("hnsw_config", hnsw_json)
        .opt(
            "quantization_config",
            quantization_config.map(quantization_diff).transpose()?,
        )
        .opt("on_disk", on_disk)
        .opt("memory", memory)
        .build())
}

fn sparse_vectors(
    config: proto::SparseVectorConfig,
) -> Decoded<BTreeMap<String, SparseVectorParams>> {
    config
        .map
        .into_iter()
        .map(|(name, params)| {
            let index = params
                .index
                .map(|index| {
                    #[allow(deprecated)]
                    let proto::SparseIndexConfig {
                        full_scan_threshold,
                        on_disk,
                        datatype,
                        memory,
                    } = index;
                    if memory.is_some() {
                        return Err(newer("SparseIndexConfig.memory"));
                    }
                    Ok(JsonObject::new()
                        .opt("full_scan_threshold", full_scan_threshold)
                        .opt("on_disk", on_disk)
                        .opt(
                            "datatype",
                            datatype.map(datatype_name).transpose()?.flatten(),
                        )
                        .build())
                })
                .transpose()?;
            let modifier = params.modifier.map(modifier).transpose()?;
            Ok((name, SparseVectorParams { index, modifier }))
        })
        .collect()
}

/// Quantization as REST writes it: `{"scalar": {..}}`, `{"product": {..}}`,
/// `{"binary": {..}}` or `{"turbo": {..}}`.
fn quantization(config: proto::QuantizationConfig) -> Decoded<Value> {
    match config.quantization {
        Some(Quantization::Scalar(s)) => scalar(s),
        Some(Quantization::Product(p)) => product(p),
        Some(Quantization::Binary(b)) => binary(b),
        Some(Quantization::Turboquant(t)) => turbo(t),
        None => Err(invalid(
            "Malformed QuantizationConfig: no quantization is set",
        )),
    }
}

/// Like [`quantization`], plus `Disabled`, which REST writes as the string `"Disabled"`.
fn quantization_diff(config: proto::QuantizationConfigDiff) -> Decoded<Value> {
    match config.quantization {
        Some(QuantizationDiff::Scalar(s)) => scalar(s),
        Some(QuantizationDiff::Product(p)) => product(p),
        Some(QuantizationDiff::Binary(b)) => binary(b),
        Some(QuantizationDiff::Turboquant(t)) => turbo(t),
        Some(QuantizationDiff::Disabled(_)) => Ok(Value::String("Disabled".into())),
        None => Err(invalid(
            "Malformed QuantizationConfigDiff: no quantization is set",
        )),
    }
}

#[allow(deprecated)]
fn scalar(s: proto::ScalarQuantization) -> Decoded<Value> {
    let kind = match proto_enum::<proto::QuantizationType>(s.r#type, "quantization type")? {
        proto::QuantizationType::Int8 => "int8",
        proto::QuantizationType::UnknownQuantization => {
            return Err(invalid(
                "Malformed scalar quantization: UnknownQuantization",
            ));
        }
    };
    let body = JsonObject::new()
        .set("type", kind)
        .opt("quantile", s.quantile)
        .opt("always_ram", s.always_ram)
        .opt("memory", memory(s.memory)?);
    Ok(serde_json::json!({ "scalar": body.build() }))
}

#[allow(deprecated)]
fn product(p: proto::ProductQuantization) -> Decoded<Value> {
    let compression =
        match proto_enum::<proto::CompressionRatio>(p.compression, "compression ratio")? {
            proto::CompressionRatio::X4 => "x4",
            proto::CompressionRatio::X8 => "x8",
            proto::CompressionRatio::X16 => "x16",
            proto::CompressionRatio::X32 => "x32",
            proto::CompressionRatio::X64 => "x64",
        };
    let body = JsonObject::new()
        .set("compression", compression)
        .opt("always_ram", p.always_ram)
        .opt("memory", memory(p.memory)?);
    Ok(serde_json::json!({ "product": body.build() }))
}

#[allow(deprecated)]
fn binary(b: proto::BinaryQuantization) -> Decoded<Value> {
    let encoding = b
        .encoding
        .map(|e| {
            Ok::<_, tonic::Status>(
                match proto_enum::<proto::BinaryQuantizationEncoding>(e, "binary encoding")? {
                    proto::BinaryQuantizationEncoding::OneBit => "one_bit",
                    proto::BinaryQuantizationEncoding::TwoBits => "two_bits",
                    proto::BinaryQuantizationEncoding::OneAndHalfBits => "one_and_half_bits",
                },
            )
        })
        .transpose()?;
    let query_encoding = match b.query_encoding.and_then(|q| q.variant) {
        Some(binary_quantization_query_encoding::Variant::Setting(s)) => {
            use binary_quantization_query_encoding::Setting;
            Some(match proto_enum::<Setting>(s, "binary query encoding")? {
                Setting::Default => "default",
                Setting::Binary => "binary",
                Setting::Scalar4Bits => "scalar4bits",
                Setting::Scalar8Bits => "scalar8bits",
            })
        }
        None => None,
    };
    let body = JsonObject::new()
        .opt("always_ram", b.always_ram)
        .opt("memory", memory(b.memory)?)
        .opt("encoding", encoding)
        .opt("query_encoding", query_encoding);
    Ok(serde_json::json!({ "binary": body.build() }))
}

#[allow(deprecated)]
fn turbo(t: proto::TurboQuantization) -> Decoded<Value> {
    let bits = t
        .bits
        .map(|b| {
            Ok::<_, tonic::Status>(
                match proto_enum::<proto::TurboQuantBitSize>(b, "turbo quantization bits")? {
                    proto::TurboQuantBitSize::Bits1 => "bits1",
                    proto::TurboQuantBitSize::Bits15 => "bits1_5",
                    proto::TurboQuantBitSize::Bits2 => "bits2",
                    proto::TurboQuantBitSize::Bits4 => "bits4",
                    proto::TurboQuantBitSize::Bits8 => "bits8",
                },
            )
        })
        .transpose()?;
    let body = JsonObject::new()
        .opt("always_ram", t.always_ram)
        .opt("memory", memory(t.memory)?)
        .opt("bits", bits);
    Ok(serde_json::json!({ "turbo": body.build() }))
}

/// Memory placement of vector rows.
fn vector_memory(m: i32) -> Decoded<osprey_engine::config::Memory> {
    Ok(match proto_enum::<proto::Memory>(m, "memory placement")? {
        proto::Memory::Cold => osprey_engine::config::Memory::Cold,
        proto::Memory::Cached => osprey_engine::config::Memory::Cached,
        proto::Memory::Pinned => osprey_engine::config::Memory::Pinned,
        proto::Memory::Unknown => return Err(invalid("Malformed memory placement: Unknown")),
    })
}

/// Memory placement of quantized codes, as REST names it.
fn memory(m: Option<i32>) -> Decoded<Option<&'static str>> {
    m.map(|m| {
        Ok(match proto_enum::<proto::Memory>(m, "memory placement")? {
            proto::Memory::Cold => "cold",
            proto::Memory::Cached => "cached",
            proto::Memory::Pinned => "pinned",
            proto::Memory::Unknown => return Err(invalid("Malformed memory placement: Unknown")),
        })
    })
    .transpose()
}

/// Strict mode, member for member as REST names them.
#[allow(deprecated)]
fn strict_mode(config: proto::StrictModeConfig) -> Value {
    let multivector = config.multivector_config.map(|m| {
        let map: serde_json::Map<String, Value> = m
            .multivector_config
            .into_iter()
            .map(|(name, v)| {
                (
                    name,
                    JsonObject::new().opt("max_vectors", v.max_vectors).build(),
                )
            })
            .collect();
        Value::Object(map)
    });
    let sparse = config.sparse_config.map(|s| {
        let map: serde_json::Map<String, Value> = s
            .sparse_config
            .into_iter()
            .map(|(name, v)| {
                (
                    name,
                    JsonObject::new().opt("max_length", v.max_length).build(),
                )
            })
            .collect();
        Value::Object(map)
    });
    JsonObject::new()
        .opt("enabled", config.enabled)
        .opt("max_query_limit", config.max_query_limit)
        .opt("max_timeout", config.max_timeout)
        .opt(
            "unindexed_filtering_retrieve",
            config.unindexed_filtering_retrieve,
        )
        .opt(
            "unindexed_filtering_update",
            config.unindexed_filtering_update,
        )
        .opt("search_max_hnsw_ef", config.search_max_hnsw_ef)
        .opt("search_allow_exact", config.search_allow_exact)
        .opt("search_max_oversampling", config.search_max_oversampling)
        .opt("upsert_max_batchsize", config.upsert_max_batchsize)
        .opt("search_max_batchsize", config.search_max_batchsize)
        .opt(
            "max_collection_vector_size_bytes",
            config.max_collection_vector_size_bytes,
        )
        .opt("read_rate_limit", config.read_rate_limit)
        .opt("write_rate_limit", config.write_rate_limit)
        .opt(
            "max_collection_payload_size_bytes",
            config.max_collection_payload_size_bytes,
        )
        .opt("filter_max_conditions", config.filter_max_conditions)
        .opt("condition_max_size", config.condition_max_size)
        .opt("multivector_config", multivector)
        .opt("sparse_config", sparse)
        .opt("max_points_count", config.max_points_count)
        .opt("max_payload_index_count", config.max_payload_index_count)
        .opt(
            "max_resident_memory_percent",
            config.max_resident_memory_percent,
        )
        .build()
}
