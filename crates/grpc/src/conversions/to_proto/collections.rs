//! Collection info and aliases. The parts of the configuration the engine
//! keeps as REST JSON (quantization, strict mode, payload index parameters,
//! sparse index parameters) are read back into their messages here; members
//! this server does not know are left out.

use osprey_engine::config::{
    CollectionConfig, Datatype, Distance, HnswConfig, HnswConfigDiff, Modifier,
    MultiVectorComparator, OptimizersConfig, ShardingMethod, SparseVectorParams, VectorParams,
    VectorsConfig, WalConfig,
};
use osprey_engine::{AliasDescription, CollectionInfo, PayloadIndexInfo};
use qdrant_client::qdrant::{
    self as proto, binary_quantization_query_encoding, max_optimization_threads,
    payload_index_params::IndexParams, quantization_config::Quantization,
    stemming_algorithm::StemmingParams,
};
use serde_json::Value;

use super::value::payload;

/// `CollectionInfo` of `Collections/Get`.
pub(crate) fn collection_info(info: CollectionInfo) -> proto::CollectionInfo {
    let CollectionInfo {
        status,
        optimizer_status,
        indexed_vectors_count,
        points_count,
        segments_count,
        config,
        payload_schema,
    } = info;
    let status = match status.as_str() {
        "green" => proto::CollectionStatus::Green,
        "yellow" => proto::CollectionStatus::Yellow,
        "red" => proto::CollectionStatus::Red,
        "grey" => proto::CollectionStatus::Grey,
        _ => proto::CollectionStatus::UnknownCollectionStatus,
    };
    let optimizer_status = if optimizer_status == "ok" {
        proto::OptimizerStatus {
            ok: true,
            error: String::new(),
        }
    } else {
        proto::OptimizerStatus {
            ok: false,
            error: optimizer_status,
        }
    };
    proto::CollectionInfo {
        status: status as i32,
        optimizer_status: Some(optimizer_status),
        segments_count,
        config: Some(collection_config(config)),
        payload_schema: payload_schema
            .into_iter()
            .map(|(k, v)| (k, payload_schema_info(v)))
            .collect(),
        points_count: Some(points_count),
        indexed_vectors_count: Some(indexed_vectors_count),
        warnings: Vec::new(),
        update_queue: Some(proto::UpdateQueueInfo {
            length: 0,
            deferred_points: None,
        }),
        created_at: None,
    }
}

/// Aliases of `ListAliases` / `ListCollectionAliases`.
pub(crate) fn alias_descriptions(aliases: Vec<AliasDescription>) -> Vec<proto::AliasDescription> {
    aliases
        .into_iter()
        .map(|a| proto::AliasDescription {
            alias_name: a.alias_name,
            collection_name: a.collection_name,
        })
        .collect()
}

#[allow(deprecated)]
fn collection_config(config: CollectionConfig) -> proto::CollectionConfig {
    let CollectionConfig {
        params,
        hnsw_config,
        optimizer_config,
        wal_config,
        quantization_config,
        strict_mode_config,
        metadata,
    } = config;
    proto::CollectionConfig {
        params: Some(proto::CollectionParams {
            shard_number: params.shard_number,
            on_disk_payload: params.on_disk_payload,
            vectors_config: Some(vectors_config(params.vectors)),
            replication_factor: Some(params.replication_factor),
            write_consistency_factor: Some(params.write_consistency_factor),
            read_fan_out_factor: params.read_fan_out_factor,
            sharding_method: params.sharding_method.map(|m| match m {
                ShardingMethod::Auto => proto::ShardingMethod::Auto as i32,
                ShardingMethod::Custom => proto::ShardingMethod::Custom as i32,
            }),
            sparse_vectors_config: params.sparse_vectors.map(|map| proto::SparseVectorConfig {
                map: map
                    .into_iter()
                    .map(|(k, v)| (k, sparse_vector_params(v)))
                    .collect(),
            }),
            read_fan_out_delay_ms: params.read_fan_out_delay_ms,
            payload: None,
            id_tracker: None,
        }),
        hnsw_config: Some(hnsw(hnsw_config)),
        optimizer_config: Some(optimizers(optimizer_config)),
        wal_config: Some(wal(wal_config)),
        quantization_config: quantization_config.as_ref().and_then(quantization),
        strict_mode_config: strict_mode_config.as_ref().and_then(strict_mode),
        metadata: metadata.map(payload).unwrap_or_default(),
    }
}

fn vectors_config(vectors: VectorsConfig) -> proto::VectorsConfig {
    use proto::vectors_config::Config;
    let config = match vectors {
        VectorsConfig::Single(p) => Config::Params(vector_params(p)),
        VectorsConfig::Multi(map) => Config::ParamsMap(proto::VectorParamsMap {
            map: map
                .into_iter()
                .map(|(k, v)| (k, vector_params(v)))
                .collect(),
        }),
    };
    proto::VectorsConfig {
        config: Some(config),
    }
}

fn distance(distance: Distance) -> proto::Distance {
    match distance {
        Distance::Cosine => proto::Distance::Cosine,
        Distance::Euclid => proto::Distance::Euclid,
        Distance::Dot => proto::Distance::Dot,
        Distance::Manhattan => proto::Distance::Manhattan,
    }
}

fn datatype(datatype: Datatype) -> proto::Datatype {
    match datatype {
        Datatype::Float32 => proto::Datatype::Float32,
        Datatype::Uint8 => proto::Datatype::Uint8,
        Datatype::Float16 => proto::Datatype::Float16,
        Datatype::Turbo4 => proto::Datatype::Turbo4,
    }
}

fn datatype_named(name: &str) -> Option<proto::Datatype> {
    serde_json::from_value::<Datatype>(Value::String(name.to_string()))
        .ok()
        .map(datatype)
}

#[allow(deprecated)]
fn vector_params(params: VectorParams) -> proto::VectorParams {
    let VectorParams {
        size,
        distance: d,
        hnsw_config,
        quantization_config,
        on_disk,
        memory,
        datatype: dt,
        multivector_config,
    } = params;
    proto::VectorParams {
        size,
        distance: distance(d) as i32,
        hnsw_config: hnsw_config.map(hnsw_diff),
        quantization_config: quantization_config.as_ref().and_then(quantization),
        on_disk,
        datatype: dt.map(|d| datatype(d) as i32),
        multivector_config: multivector_config.map(|m| proto::MultiVectorConfig {
            comparator: match m.comparator {
                MultiVectorComparator::MaxSim => proto::MultiVectorComparator::MaxSim as i32,
            },
        }),
        memory: memory.map(|m| {
            (match m {
                osprey_engine::config::Memory::Cold => proto::Memory::Cold,
                osprey_engine::config::Memory::Cached => proto::Memory::Cached,
                osprey_engine::config::Memory::Pinned => proto::Memory::Pinned,
            }) as i32
        }),
    }
}

#[allow(deprecated)]
fn hnsw_diff(diff: HnswConfigDiff) -> proto::HnswConfigDiff {
    let HnswConfigDiff {
        m,
        ef_construct,
        full_scan_threshold,
        max_indexing_threads,
        on_disk,
        payload_m,
        inline_storage,
    } = diff;
    proto::HnswConfigDiff {
        m,
        ef_construct,
        full_scan_threshold,
        max_indexing_threads,
        on_disk,
        payload_m,
        inline_storage,
        memory: None,
    }
}

#[allow(deprecated)]
fn hnsw(config: HnswConfig) -> proto::HnswConfigDiff {
    let HnswConfig {
        m,
        ef_construct,
        full_scan_threshold,
        max_indexing_threads,
        on_disk,
        payload_m,
        inline_storage,
    } = config;
    proto::HnswConfigDiff {
        m: Some(m),
        ef_construct: Some(ef_construct),
        full_scan_threshold: Some(full_scan_threshold),
        max_indexing_threads: Some(max_indexing_threads),
        on_disk: Some(on_disk),
        payload_m,
        inline_storage,
        memory: None,
    }
}

fn optimizers(config: OptimizersConfig) -> proto::OptimizersConfigDiff {
    let OptimizersConfig {
        deleted_threshold,
        vacuum_min_vector_number,
        default_segment_number,
        max_segment_size,
        memmap_threshold,
        indexing_threshold,
        flush_interval_sec,
        max_optimization_threads,
        prevent_unoptimized,
    } = config;
    let threads = match max_optimization_threads {
        Some(n) => max_optimization_threads::Variant::Value(n),
        None => max_optimization_threads::Variant::Setting(
            max_optimization_threads::Setting::Auto as i32,
        ),
    };
    proto::OptimizersConfigDiff {
        deleted_threshold: Some(deleted_threshold),
        vacuum_min_vector_number: Some(vacuum_min_vector_number),
        default_segment_number: Some(default_segment_number),
        max_segment_size,
        memmap_threshold,
        indexing_threshold,
        flush_interval_sec: Some(flush_interval_sec),
        deprecated_max_optimization_threads: max_optimization_threads,
        max_optimization_threads: Some(proto::MaxOptimizationThreads {
            variant: Some(threads),
        }),
        prevent_unoptimized,
    }
}

fn wal(config: WalConfig) -> proto::WalConfigDiff {
    proto::WalConfigDiff {
        wal_capacity_mb: Some(config.wal_capacity_mb),
        wal_segments_ahead: Some(config.wal_segments_ahead),
        wal_retain_closed: Some(config.wal_retain_closed),
    }
}

// ---- REST JSON read back into messages ------------------------------------

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key).filter(|v| !v.is_null())
}

fn get_bool(value: &Value, key: &str) -> Option<bool> {
    get(value, key)?.as_bool()
}

fn get_u64(value: &Value, key: &str) -> Option<u64> {
    get(value, key)?.as_u64()
}

fn get_u32(value: &Value, key: &str) -> Option<u32> {
    get_u64(value, key).and_then(|v| u32::try_from(v).ok())
}

fn get_f64(value: &Value, key: &str) -> Option<f64> {
    get(value, key)?.as_f64()
}

fn get_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    get(value, key)?.as_str()
}

#[allow(deprecated)]
fn sparse_vector_params(params: SparseVectorParams) -> proto::SparseVectorParams {
    proto::SparseVectorParams {
        index: params.index.as_ref().map(|index| proto::SparseIndexConfig {
            full_scan_threshold: get_u64(index, "full_scan_threshold"),
            on_disk: get_bool(index, "on_disk"),
            datatype: get_str(index, "datatype")
                .and_then(datatype_named)
                .map(|d| d as i32),
            memory: None,
        }),
        modifier: params.modifier.map(|m| match m {
            Modifier::None => proto::Modifier::None as i32,
            Modifier::Idf => proto::Modifier::Idf as i32,
        }),
    }
}

/// The `memory` placement of a quantization body.
fn memory(body: &Value) -> Option<i32> {
    let memory = match get_str(body, "memory")? {
        "cold" => proto::Memory::Cold,
        "cached" => proto::Memory::Cached,
        "pinned" => proto::Memory::Pinned,
        _ => return None,
    };
    Some(memory as i32)
}

/// `{"scalar": ..}`, `{"product": ..}`, `{"binary": ..}` or `{"turbo": ..}`.
#[allow(deprecated)]
fn quantization(value: &Value) -> Option<proto::QuantizationConfig> {
    let quantization = if let Some(s) = get(value, "scalar") {
        Quantization::Scalar(proto::ScalarQuantization {
            r#type: proto::QuantizationType::Int8 as i32,
            quantile: get_f64(s, "quantile").map(|q| q as f32),
            always_ram: get_bool(s, "always_ram"),
            memory: memory(s),
        })
    } else if let Some(p) = get(value, "product") {
        let compression = match get_str(p, "compression")? {
            "x4" => proto::CompressionRatio::X4,
            "x8" => proto::CompressionRatio::X8,
            "x16" => proto::CompressionRatio::X16,
            "x32" => proto::CompressionRatio::X32,
            "x64" => proto::CompressionRatio::X64,
            _ => return None,
        };
        Quantization::Product(proto::ProductQuantization {
            compression: compression as i32,
            always_ram: get_bool(p, "always_ram"),
            memory: memory(p),
        })
    } else if let Some(b) = get(value, "binary") {
        use binary_quantization_query_encoding::{Setting, Variant};
        let encoding = get_str(b, "encoding").and_then(|e| match e {
            "one_bit" => Some(proto::BinaryQuantizationEncoding::OneBit),
            "two_bits" => Some(proto::BinaryQuantizationEncoding::TwoBits),
            "one_and_half_bits" => Some(proto::BinaryQuantizationEncoding::OneAndHalfBits),
            _ => None,
        });
        let query_encoding = get_str(b, "query_encoding").and_then(|e| match e {
            "default" => Some(Setting::Default),
            "binary" => Some(Setting::Binary),
            "scalar4bits" => Some(Setting::Scalar4Bits),
            "scalar8bits" => Some(Setting::Scalar8Bits),
            _ => None,
        });
        Quantization::Binary(proto::BinaryQuantization {
            always_ram: get_bool(b, "always_ram"),
            encoding: encoding.map(|e| e as i32),
            query_encoding: query_encoding.map(|s| proto::BinaryQuantizationQueryEncoding {
                variant: Some(Variant::Setting(s as i32)),
            }),
            memory: memory(b),
        })
    } else if let Some(t) = get(value, "turbo") {
        let bits = get_str(t, "bits").and_then(|b| match b {
            "bits1" => Some(proto::TurboQuantBitSize::Bits1),
            "bits1_5" => Some(proto::TurboQuantBitSize::Bits15),
            "bits2" => Some(proto::TurboQuantBitSize::Bits2),
            "bits4" => Some(proto::TurboQuantBitSize::Bits4),
            "bits8" => Some(proto::TurboQuantBitSize::Bits8),
            _ => None,
        });
        Quantization::Turboquant(proto::TurboQuantization {
            always_ram: get_bool(t, "always_ram"),
            bits: bits.map(|b| b as i32),
            memory: memory(t),
        })
    } else {
        return None;
    };
    Some(proto::QuantizationConfig {
        quantization: Some(quantization),
    })
}

#[allow(deprecated)]
fn strict_mode(value: &Value) -> Option<proto::StrictModeConfig> {
    value.as_object()?;
    let multivector_config = get(value, "multivector_config")
        .and_then(Value::as_object)
        .map(|map| proto::StrictModeMultivectorConfig {
            multivector_config: map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        proto::StrictModeMultivector {
                            max_vectors: get_u64(v, "max_vectors"),
                        },
                    )
                })
                .collect(),
        });
    let sparse_config = get(value, "sparse_config")
        .and_then(Value::as_object)
        .map(|map| proto::StrictModeSparseConfig {
            sparse_config: map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        proto::StrictModeSparse {
                            max_length: get_u64(v, "max_length"),
                        },
                    )
                })
                .collect(),
        });
    Some(proto::StrictModeConfig {
        enabled: get_bool(value, "enabled"),
        max_query_limit: get_u32(value, "max_query_limit"),
        max_timeout: get_u32(value, "max_timeout"),
        unindexed_filtering_retrieve: get_bool(value, "unindexed_filtering_retrieve"),
        unindexed_filtering_update: get_bool(value, "unindexed_filtering_update"),
        search_max_hnsw_ef: get_u32(value, "search_max_hnsw_ef"),
        search_allow_exact: get_bool(value, "search_allow_exact"),
        search_max_oversampling: get_f64(value, "search_max_oversampling").map(|v| v as f32),
        upsert_max_batchsize: get_u64(value, "upsert_max_batchsize"),
        search_max_batchsize: get_u64(value, "search_max_batchsize"),
        max_collection_vector_size_bytes: get_u64(value, "max_collection_vector_size_bytes"),
        read_rate_limit: get_u32(value, "read_rate_limit"),
        write_rate_limit: get_u32(value, "write_rate_limit"),
        max_collection_payload_size_bytes: get_u64(value, "max_collection_payload_size_bytes"),
        filter_max_conditions: get_u64(value, "filter_max_conditions"),
        condition_max_size: get_u64(value, "condition_max_size"),
        multivector_config,
        sparse_config,
        max_points_count: get_u64(value, "max_points_count"),
        max_payload_index_count: get_u64(value, "max_payload_index_count"),
        max_resident_memory_percent: get_u32(value, "max_resident_memory_percent"),
    })
}

fn payload_schema_info(info: PayloadIndexInfo) -> proto::PayloadSchemaInfo {
    let data_type = match info.data_type.as_str() {
        "keyword" => proto::PayloadSchemaType::Keyword,
        "integer" => proto::PayloadSchemaType::Integer,
        "float" => proto::PayloadSchemaType::Float,
        "geo" => proto::PayloadSchemaType::Geo,
        "text" => proto::PayloadSchemaType::Text,
        "bool" => proto::PayloadSchemaType::Bool,
        "datetime" => proto::PayloadSchemaType::Datetime,
        "uuid" => proto::PayloadSchemaType::Uuid,
        _ => proto::PayloadSchemaType::UnknownType,
    };
    proto::PayloadSchemaInfo {
        data_type: data_type as i32,
        params: info
            .params
            .as_ref()
            .and_then(|p| index_params(&info.data_type, p)),
        points: Some(info.points),
    }
}

/// Payload index parameters in their REST form (`{"type": .., ..}`).
#[allow(deprecated)]
fn index_params(data_type: &str, p: &Value) -> Option<proto::PayloadIndexParams> {
    let on_disk = get_bool(p, "on_disk");
    let enable_hnsw = get_bool(p, "enable_hnsw");
    let params = match data_type {
        "keyword" => IndexParams::KeywordIndexParams(proto::KeywordIndexParams {
            is_tenant: get_bool(p, "is_tenant"),
            on_disk,
            enable_hnsw,
            prefix: None,
            memory: None,
            nested: None,
        }),
        "integer" => IndexParams::IntegerIndexParams(proto::IntegerIndexParams {
            lookup: get_bool(p, "lookup"),
            range: get_bool(p, "range"),
            is_principal: get_bool(p, "is_principal"),
            on_disk,
            enable_hnsw,
            memory: None,
            nested: None,
        }),
        "float" => IndexParams::FloatIndexParams(proto::FloatIndexParams {
            on_disk,
            is_principal: get_bool(p, "is_principal"),
            enable_hnsw,
            memory: None,
            nested: None,
        }),
        "geo" => IndexParams::GeoIndexParams(proto::GeoIndexParams {
            on_disk,
            enable_hnsw,
            memory: None,
            nested: None,
        }),
        "bool" => IndexParams::BoolIndexParams(proto::BoolIndexParams {
            on_disk,
            enable_hnsw,
            memory: None,
            nested: None,
        }),
        "datetime" => IndexParams::DatetimeIndexParams(proto::DatetimeIndexParams {
            on_disk,
            is_principal: get_bool(p, "is_principal"),
            enable_hnsw,
            memory: None,
            nested: None,
        }),
        "uuid" => IndexParams::UuidIndexParams(proto::UuidIndexParams {
            is_tenant: get_bool(p, "is_tenant"),
            on_disk,
            enable_hnsw,
            memory: None,
            nested: None,
        }),
        "text" => {
            let tokenizer = match get_str(p, "tokenizer") {
                Some("prefix") => proto::TokenizerType::Prefix,
                Some("whitespace") => proto::TokenizerType::Whitespace,
                Some("word") => proto::TokenizerType::Word,
                Some("multilingual") => proto::TokenizerType::Multilingual,
                _ => proto::TokenizerType::Unknown,
            };
            let stopwords = get(p, "stopwords").map(|s| match s {
                Value::String(language) => proto::StopwordsSet {
                    languages: vec![language.clone()],
                    custom: vec![],
                },
                other => proto::StopwordsSet {
                    languages: strings(other, "languages"),
                    custom: strings(other, "custom"),
                },
            });
            let stemmer = get(p, "stemmer").and_then(|s| {
                Some(proto::StemmingAlgorithm {
                    stemming_params: Some(StemmingParams::Snowball(proto::SnowballParams {
                        language: get_str(s, "language")?.to_string(),
                    })),
                })
            });
            IndexParams::TextIndexParams(proto::TextIndexParams {
                tokenizer: tokenizer as i32,
                lowercase: get_bool(p, "lowercase"),
                min_token_len: get_u64(p, "min_token_len"),
                max_token_len: get_u64(p, "max_token_len"),
                on_disk,
                stopwords,
                phrase_matching: get_bool(p, "phrase_matching"),
                stemmer,
                ascii_folding: get_bool(p, "ascii_folding"),
                enable_hnsw,
                memory: None,
                scoring: None,
                nested: None,
            })
        }
        _ => return None,
    };
    Some(proto::PayloadIndexParams {
        index_params: Some(params),
    })
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    get(value, key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
