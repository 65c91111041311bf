//! Collection configuration: what `PUT /collections/{c}` accepts, what
//! `PATCH` changes, and what `GET /collections/{c}` reports under `config`.
//!
//! The stored form is [`CollectionConfig`] with every default filled in, so a
//! collection's answer never depends on the server's defaults at read time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::types::DEFAULT_VECTOR;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Distance {
    Cosine,
    Euclid,
    Dot,
    Manhattan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    #[default]
    Float32,
    Uint8,
    Float16,
    Turbo4,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiVectorConfig {
    pub comparator: MultiVectorComparator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiVectorComparator {
    MaxSim,
}

/// Parameters of one dense vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorParams {
    pub size: u64,
    pub distance: Distance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hnsw_config: Option<HnswConfigDiff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
    /// Qdrant 1.19's memory placement of the rows; overrides `on_disk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype: Option<Datatype>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multivector_config: Option<MultiVectorConfig>,
}

/// Memory placement of stored data (Qdrant 1.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Memory {
    /// Read from disk as touched.
    Cold,
    /// Read ahead into the page cache, may be evicted.
    Cached,
    /// Held in memory, never evicted.
    Pinned,
}

impl VectorParams {
    /// Whether the rows are read from disk as touched (`memory: cold`, or
    /// `on_disk: true` without `memory`) rather than read ahead into memory.
    pub fn rows_on_disk(&self) -> bool {
        match self.memory {
            Some(Memory::Cold) => true,
            Some(Memory::Cached | Memory::Pinned) => false,
            None => self.on_disk == Some(true),
        }
    }
}

/// `vectors` of a collection: one unnamed vector, or a map of named ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VectorsConfig {
    Single(VectorParams),
    Multi(BTreeMap<String, VectorParams>),
}

impl Default for VectorsConfig {
    fn default() -> Self {
        VectorsConfig::Multi(BTreeMap::new())
    }
}

impl VectorsConfig {
    /// Parameters of the vector with this name; the unnamed vector is [`DEFAULT_VECTOR`].
    pub fn get(&self, name: &str) -> Option<&VectorParams> {
        match self {
            VectorsConfig::Single(params) => (name == DEFAULT_VECTOR).then_some(params),
            VectorsConfig::Multi(map) => map.get(name),
        }
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut VectorParams> {
        match self {
            VectorsConfig::Single(params) => (name == DEFAULT_VECTOR).then_some(params),
            VectorsConfig::Multi(map) => map.get_mut(name),
        }
    }

    /// Every dense vector, by name.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&str, &VectorParams)> + '_> {
        match self {
            VectorsConfig::Single(params) => Box::new(std::iter::once((DEFAULT_VECTOR, params))),
            VectorsConfig::Multi(map) => Box::new(map.iter().map(|(k, v)| (k.as_str(), v))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modifier {
    None,
    Idf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SparseVectorParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modifier: Option<Modifier>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HnswConfigDiff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construct: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_scan_threshold: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_indexing_threads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_m: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_storage: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HnswConfig {
    pub m: u64,
    pub ef_construct: u64,
    pub full_scan_threshold: u64,
    pub max_indexing_threads: u64,
    pub on_disk: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_m: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_storage: Option<bool>,
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig {
            m: 16,
            ef_construct: 100,
            full_scan_threshold: 10_000,
            max_indexing_threads: 0,
            on_disk: false,
            payload_m: None,
            inline_storage: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizersConfig {
    pub deleted_threshold: f64,
    pub vacuum_min_vector_number: u64,
    pub default_segment_number: u64,
    pub max_segment_size: Option<u64>,
    pub memmap_threshold: Option<u64>,
    pub indexing_threshold: Option<u64>,
    pub flush_interval_sec: u64,
    pub max_optimization_threads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_unoptimized: Option<bool>,
}

impl Default for OptimizersConfig {
    fn default() -> Self {
        OptimizersConfig {
            deleted_threshold: 0.2,
            vacuum_min_vector_number: 1000,
            default_segment_number: 0,
            max_segment_size: None,
            memmap_threshold: None,
            indexing_threshold: Some(10_000),
            flush_interval_sec: 5,
            max_optimization_threads: None,
            prevent_unoptimized: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalConfig {
    pub wal_capacity_mb: u64,
    pub wal_segments_ahead: u64,
    #[serde(default = "default_wal_retain_closed")]
    pub wal_retain_closed: u64,
}

fn default_wal_retain_closed() -> u64 {
    1
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig { wal_capacity_mb: 32, wal_segments_ahead: 0, wal_retain_closed: 1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ShardingMethod {
    #[default]
    Auto,
    Custom,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionParams {
    pub vectors: VectorsConfig,
    pub shard_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharding_method: Option<ShardingMethod>,
    pub replication_factor: u32,
    pub write_consistency_factor: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_fan_out_factor: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_fan_out_delay_ms: Option<u64>,
    pub on_disk_payload: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_vectors: Option<BTreeMap<String, SparseVectorParams>>,
}

/// The stored configuration of a collection, as `GET /collections/{c}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    pub params: CollectionParams,
    pub hnsw_config: HnswConfig,
    pub optimizer_config: OptimizersConfig,
    pub wal_config: WalConfig,
    pub quantization_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_mode_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// Body of `PUT /collections/{c}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateCollection {
    #[serde(default)]
    pub vectors: Option<VectorsConfig>,
    pub shard_number: Option<u32>,
    pub sharding_method: Option<ShardingMethod>,
    pub replication_factor: Option<u32>,
    pub write_consistency_factor: Option<u32>,
    pub on_disk_payload: Option<bool>,
    pub hnsw_config: Option<HnswConfigDiff>,
    pub wal_config: Option<Value>,
    pub optimizers_config: Option<Value>,
    pub init_from: Option<Value>,
    pub quantization_config: Option<Value>,
    pub sparse_vectors: Option<BTreeMap<String, SparseVectorParams>>,
    pub strict_mode_config: Option<Value>,
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// Body of `PATCH /collections/{c}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateCollection {
    /// Per named vector: `hnsw_config`, `quantization_config`, `on_disk`.
    pub vectors: Option<BTreeMap<String, Value>>,
    pub optimizers_config: Option<Value>,
    pub params: Option<Value>,
    pub hnsw_config: Option<HnswConfigDiff>,
    pub quantization_config: Option<Value>,
    pub sparse_vectors: Option<BTreeMap<String, SparseVectorParams>>,
    pub strict_mode_config: Option<Value>,
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// Overlays the members of `diff` on `target` (both JSON objects), leaving
/// members absent from `diff` alone, then reads the result back as `T` so a
/// wrongly typed member is a clear 400 rather than a silently broken config.
fn overlay<T: Serialize + serde::de::DeserializeOwned>(target: &T, diff: &Value, what: &str) -> Result<T> {
    let mut merged = serde_json::to_value(target).map_err(|e| EngineError::Service(e.to_string()))?;
    match (merged.as_object_mut(), diff) {
        (Some(obj), Value::Object(changes)) => {
            for (key, value) in changes {
                if !value.is_null() {
                    obj.insert(key.clone(), value.clone());
                }
            }
        }
        (_, Value::Null) => {}
        _ => return Err(EngineError::BadInput(format!("{what} must be an object"))),
    }
    serde_json::from_value(merged).map_err(|e| EngineError::BadInput(format!("Invalid {what}: {e}")))
}

fn validate_vector_params(name: &str, params: &VectorParams) -> Result<()> {
    if params.size == 0 || params.size > 65_536 {
        let label = if name.is_empty() { String::new() } else { format!(" of vector `{name}`") };
        return Err(EngineError::BadInput(format!(
            "Validation error: size{label}: value {} invalid, must be from 1 to 65536",
            params.size
        )));
    }
    Ok(())
}

impl CollectionConfig {
    /// Builds the stored configuration of a new collection from a create request.
    pub fn from_create(request: CreateCollection) -> Result<Self> {
        let vectors = request.vectors.unwrap_or_default();
        for (name, params) in vectors.iter() {
            validate_vector_params(name, params)?;
        }
        if let VectorsConfig::Multi(map) = &vectors
            && let Some(sparse) = &request.sparse_vectors
            && let Some(name) = sparse.keys().find(|name| map.contains_key(*name))
        {
            return Err(EngineError::BadInput(format!(
                "Vector name `{name}` is used for both a dense and a sparse vector"
            )));
        }
        let mut hnsw_config = HnswConfig::default();
        if let Some(diff) = &request.hnsw_config {
            let diff = serde_json::to_value(diff).map_err(|e| EngineError::Service(e.to_string()))?;
            hnsw_config = overlay(&hnsw_config, &diff, "hnsw_config")?;
        }
        let optimizer_config = match &request.optimizers_config {
            Some(diff) => overlay(&OptimizersConfig::default(), diff, "optimizers_config")?,
            None => OptimizersConfig::default(),
        };
        let wal_config = match &request.wal_config {
            Some(diff) => overlay(&WalConfig::default(), diff, "wal_config")?,
            None => WalConfig::default(),
        };
        if let Some(n) = request.shard_number
            && n == 0
        {
            return Err(EngineError::BadInput("shard_number must be at least 1".into()));
        }
        let config = CollectionConfig {
            params: CollectionParams {
                vectors,
                shard_number: request.shard_number.unwrap_or(1),
                sharding_method: request.sharding_method,
                replication_factor: request.replication_factor.unwrap_or(1).max(1),
                write_consistency_factor: request.write_consistency_factor.unwrap_or(1).max(1),
                read_fan_out_factor: None,
                read_fan_out_delay_ms: None,
                on_disk_payload: request.on_disk_payload.unwrap_or(true),
                sparse_vectors: request.sparse_vectors,
            },
            hnsw_config,
            optimizer_config,
            wal_config,
            quantization_config: request.quantization_config.filter(|v| !v.is_null()),
            strict_mode_config: Some(
                request.strict_mode_config.unwrap_or_else(|| serde_json::json!({"enabled": false})),
            ),
            metadata: request.metadata,
        };
        config.check_quantization()?;
        Ok(config)
    }

    /// Refuses a `quantization_config` (the collection's or a vector's) that
    /// names an unknown method, field or value, and a dense vector `memory`
    /// that Qdrant does not support.
    fn check_quantization(&self) -> Result<()> {
        if let Some((name, _)) = self.params.vectors.iter().find(|(_, p)| p.memory == Some(Memory::Pinned)) {
            return Err(EngineError::BadInput(format!(
                "memory: pinned is not supported for dense vector storage (vector `{name}`); use cold or cached"
            )));
        }
        let own = self.params.vectors.iter().filter_map(|(_, p)| p.quantization_config.as_ref());
        for value in self.quantization_config.iter().chain(own) {
            crate::quantization::Method::parse(value)?;
        }
        Ok(())
    }

    /// Applies a `PATCH` request, returning the new configuration.
    pub fn updated(&self, request: &UpdateCollection) -> Result<Self> {
        let mut next = self.clone();
        if let Some(vectors) = &request.vectors {
            for (name, diff) in vectors {
                let params = next.params.vectors.get_mut(name).ok_or_else(|| {
                    EngineError::BadInput(format!("Not existing vector name error: {name}"))
                })?;
                let updated: VectorParams = overlay(params, diff, "vectors")?;
                if updated.size != params.size || updated.distance != params.distance {
                    return Err(EngineError::BadInput(
                        "vector size and distance cannot be changed".into(),
                    ));
                }
                *params = updated;
            }
        }
        if let Some(diff) = &request.optimizers_config {
            next.optimizer_config = overlay(&next.optimizer_config, diff, "optimizers_config")?;
        }
        if let Some(diff) = &request.params {
            #[derive(Deserialize)]
            struct ParamsDiff {
                replication_factor: Option<u32>,
                write_consistency_factor: Option<u32>,
                read_fan_out_factor: Option<u32>,
                read_fan_out_delay_ms: Option<u64>,
                on_disk_payload: Option<bool>,
            }
            let diff: ParamsDiff = serde_json::from_value(diff.clone())
                .map_err(|e| EngineError::BadInput(format!("Invalid params: {e}")))?;
            let p = &mut next.params;
            p.replication_factor = diff.replication_factor.unwrap_or(p.replication_factor);
            p.write_consistency_factor = diff.write_consistency_factor.unwrap_or(p.write_consistency_factor);
            p.read_fan_out_factor = diff.read_fan_out_factor.or(p.read_fan_out_factor);
            p.read_fan_out_delay_ms = diff.read_fan_out_delay_ms.or(p.read_fan_out_delay_ms);
            p.on_disk_payload = diff.on_disk_payload.unwrap_or(p.on_disk_payload);
        }
        if let Some(diff) = &request.hnsw_config {
            let diff = serde_json::to_value(diff).map_err(|e| EngineError::Service(e.to_string()))?;
            next.hnsw_config = overlay(&next.hnsw_config, &diff, "hnsw_config")?;
        }
        if let Some(q) = &request.quantization_config {
            next.quantization_config = if q.is_null() || q == "Disabled" { None } else { Some(q.clone()) };
        }
        if let Some(sparse) = &request.sparse_vectors {
            let existing = next.params.sparse_vectors.get_or_insert_with(BTreeMap::new);
            for (name, params) in sparse {
                let slot = existing.get_mut(name).ok_or_else(|| {
                    EngineError::BadInput(format!("Not existing vector name error: {name}"))
                })?;
                if params.index.is_some() {
                    slot.index = params.index.clone();
                }
                if params.modifier.is_some() {
                    slot.modifier = params.modifier;
                }
            }
        }
        if let Some(strict) = &request.strict_mode_config {
            let current = next.strict_mode_config.clone().unwrap_or_else(|| serde_json::json!({}));
            next.strict_mode_config = Some(overlay(&current, strict, "strict_mode_config")?);
        }
        if let Some(metadata) = &request.metadata {
            let current = next.metadata.get_or_insert_with(Default::default);
            for (k, v) in metadata {
                current.insert(k.clone(), v.clone());
            }
        }
        next.check_quantization()?;
        Ok(next)
    }

    /// Whether a sparse vector of this name is configured.
    pub fn sparse(&self, name: &str) -> Option<&SparseVectorParams> {
        self.params.sparse_vectors.as_ref().and_then(|m| m.get(name))
    }
}

/// Collection names: Qdrant forbids `/`, NUL and `< > : " \ | ? *` and 0x1F; we
/// also refuse `.` and `..`, which would name directories outside the collection.
pub fn validate_collection_name(name: &str) -> Result<()> {
    const FORBIDDEN: &[char] = &['<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0', '\u{1f}'];
    let problem = if name.is_empty() {
        Some("must not be empty".to_string())
    } else if name.len() > 255 {
        Some("must be at most 255 bytes long".to_string())
    } else if name == "." || name == ".." {
        Some("must not be `.` or `..`".to_string())
    } else { name.chars().find(|c| FORBIDDEN.contains(c) || c.is_control()).map(|c| format!("must not contain {c:?}")) };
    match problem {
        Some(p) => Err(EngineError::BadInput(format!(
            "Validation error in path parameters: [name: collection name {p}]"
        ))),
        None => Ok(()),
    }
}

/// Body of `PUT /collections/{c}/vectors/{name}`: `{"dense": {...}}` or `{"sparse": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorNameConfig {
    Dense(DenseVectorConfig),
    Sparse(SparseVectorParams),
}

#[derive(Debug, Clone, Deserialize)]
pub struct DenseVectorConfig {
    pub size: u64,
    pub distance: Distance,
    #[serde(default)]
    pub multivector_config: Option<MultiVectorConfig>,
    #[serde(default)]
    pub datatype: Option<Datatype>,
}

impl CollectionConfig {
    /// Settings this configuration asks for that the engine stores and shows
    /// but does not act on yet (vectors on disk, `turbo4` storage,
    /// quantized codes kept on disk, strict mode). Creating or changing a collection names them in the log,
    /// so that none is ignored silently.
    pub fn settings_not_in_effect(&self) -> Vec<String> {
        let mut out = Vec::new();
        // Codes are always held in memory, which is `pinned`; `cold` and
        // `cached` ask for codes read from disk.
        let codes_on_disk = |q: &Option<Value>| {
            q.as_ref()
                .and_then(crate::quantization::memory_placement)
                .is_some_and(|m| m != "pinned")
        };
        if codes_on_disk(&self.quantization_config) {
            out.push("quantization_config.memory".to_string());
        }
        if self.hnsw_config.on_disk {
            out.push("hnsw_config.on_disk".to_string());
        }
        for (name, params) in self.params.vectors.iter() {
            let label = if name.is_empty() { "vectors".to_string() } else { format!("vectors.{name}") };
            if params.datatype == Some(Datatype::Turbo4) {
                out.push(format!("{label}.datatype"));
            }
            if codes_on_disk(&params.quantization_config) {
                out.push(format!("{label}.quantization_config.memory"));
            }
        }
        if self.strict_mode_config.as_ref().is_some_and(|c| c.get("enabled") == Some(&Value::Bool(true))) {
            out.push("strict_mode_config".to_string());
        }
        out
    }

    /// The configuration with one more named vector.
    pub fn with_vector_name(&self, name: &str, request: VectorNameConfig) -> Result<Self> {
        let mut next = self.clone();
        if next.params.vectors.get(name).is_some() || next.sparse(name).is_some() {
            return Err(EngineError::BadInput(format!("Vector with name `{name}` already exists")));
        }
        match request {
            VectorNameConfig::Dense(dense) => {
                let params = VectorParams {
                    size: dense.size,
                    distance: dense.distance,
                    hnsw_config: None,
                    quantization_config: None,
                    on_disk: None,
                    memory: None,
                    datatype: dense.datatype,
                    multivector_config: dense.multivector_config,
                };
                validate_vector_params(name, &params)?;
                match &mut next.params.vectors {
                    VectorsConfig::Multi(map) => {
                        map.insert(name.to_string(), params);
                    }
                    VectorsConfig::Single(_) => {
                        return Err(EngineError::BadInput(
                            "This collection has a single unnamed vector; named vectors cannot be added to it".into(),
                        ));
                    }
                }
            }
            VectorNameConfig::Sparse(sparse) => {
                next.params.sparse_vectors.get_or_insert_with(BTreeMap::new).insert(name.to_string(), sparse);
            }
        }
        Ok(next)
    }

    /// The configuration without a named vector.
    pub fn without_vector_name(&self, name: &str) -> Result<Self> {
        let mut next = self.clone();
        let removed = match &mut next.params.vectors {
            VectorsConfig::Multi(map) => map.remove(name).is_some(),
            VectorsConfig::Single(_) => false,
        } || next.params.sparse_vectors.as_mut().is_some_and(|m| m.remove(name).is_some());
        if !removed {
            return Err(EngineError::NotFound(format!("Vector with name `{name}` does not exist")));
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(body: Value) -> CollectionConfig {
        CollectionConfig::from_create(serde_json::from_value(body).unwrap()).unwrap()
    }

    /// A setting that is stored but not acted on must be named, never ignored silently.
    #[test]
    fn settings_not_in_effect_are_named() {
        assert!(config(json!({"vectors": {"size": 4, "distance": "Dot"}})).settings_not_in_effect().is_empty());
        let named = config(json!({
            "vectors": {
                "a": {"size": 4, "distance": "Dot", "on_disk": true, "datatype": "turbo4"},
                "c": {"size": 4, "distance": "Dot", "datatype": "uint8"},
                "b": {"size": 4, "distance": "Dot", "datatype": "float32", "quantization_config": {"binary": {"always_ram": false}}},
                "d": {"size": 4, "distance": "Dot", "quantization_config": {"product": {"compression": "x4", "memory": "pinned"}}}
            },
            "quantization_config": {"scalar": {"type": "int8", "memory": "cached"}},
            "hnsw_config": {"on_disk": true}
        }));
        assert_eq!(
            named.settings_not_in_effect(),
            ["quantization_config.memory", "hnsw_config.on_disk", "vectors.a.datatype", "vectors.b.quantization_config.memory"]
        );
    }
}
