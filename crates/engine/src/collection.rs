//! One collection: its configuration, its points and its write-ahead log.
//!
//! Writes go: validate (nothing changes on failure) -> append to the log ->
//! apply in memory -> (wait=true) fsync the log before answering. Reads take
//! the state's read lock. A checkpoint writes the whole state to `points.bin`
//! and drops the log records it covers; opening loads the checkpoint and
//! replays the rest of the log.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{CollectionConfig, VectorsConfig};
use crate::error::{EngineError, Result};
use crate::filter::Filter;
use crate::operations::{
    CreateFieldIndex, PayloadFieldSchema, PointInsertOperations, PointStruct, PointsData, PointsSelector, SetPayload,
    UpdateMode, UpdateOperation, UpdateResult, UpdateStatus,
};
use crate::log_record::{self, WalEntry};
use crate::payload_path::{self, JsonPath};
use crate::requests::{
    CountRequest, CountResult, Direction, PayloadSelector, PointRequest, Record, ScrollRequest,
    ScrollResult, VectorOutput, WithPayload, WithVector,
};
use crate::shard_key::{Access, ShardKey, ShardSelector};
use crate::segment::{VECTORS_DIR, PointStore, VectorColumn, write_atomically};
use crate::vector_index::{self, BuildPlan};
use crate::types::{DEFAULT_VECTOR, Payload, PointId, Vector, VectorStruct};
use crate::wal::{Wal, WalOptions};

pub(crate) const CHECKPOINT_FILE: &str = "points.bin";


/// Collection status as reported in `GET /collections/{c}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectionInfo {
    pub status: String,
    pub optimizer_status: String,
    pub indexed_vectors_count: u64,
    pub points_count: u64,
    pub segments_count: u64,
    pub config: CollectionConfig,
    pub payload_schema: BTreeMap<String, PayloadIndexInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PayloadIndexInfo {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    pub points: u64,
}

pub struct Collection {
    name: String,
    dir: PathBuf,
    config: RwLock<CollectionConfig>,
    state: RwLock<PointStore>,
    wal: Wal,
    /// Bytes logged since the last checkpoint; past the WAL capacity we checkpoint.
    logged_bytes: AtomicU64,
    /// Size of the last checkpoint written or read: the next one waits until
    /// at least this much has been logged (see [`Collection::write`]).
    checkpoint_bytes: AtomicU64,
    checkpoint_lock: Mutex<()>,
    /// Set while the optimizer builds an index for this collection.
    optimizing: AtomicBool,
    /// Set once the collection is deleted or replaced: builds stop.
    dropped: AtomicBool,
    /// When the last write was applied, for the optimizer's idle rule.
    last_write: Mutex<Instant>,
}

impl Collection {
    /// Opens a collection directory (creating it when new), loading its
    /// checkpoint and replaying the log written after it.
    pub(crate) fn open(name: &str, dir: &Path, config: CollectionConfig) -> Result<Collection> {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(format!("creating {}", dir.display()), e))?;
        let checkpoint = dir.join(CHECKPOINT_FILE);
        let (mut store, checkpoint_bytes) = match std::fs::read(&checkpoint) {
            Ok(bytes) => (PointStore::decode(&bytes, &checkpoint)?, bytes.len() as u64),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (PointStore::new(&config), 0),
            Err(e) => return Err(EngineError::io(format!("reading {}", checkpoint.display()), e)),
        };
        let vectors_dir = dir.join(VECTORS_DIR);
        check_row_files(name, store.row_checks())?;
        store.attach_vectors_dir(&vectors_dir)?;
        store.sync_columns(&config)?;
        remove_unused_row_files(&vectors_dir, &store.row_file_paths());
        let options = WalOptions {
            segment_capacity: (config.wal_config.wal_capacity_mb.max(1) * 1024 * 1024).min(64 * 1024 * 1024),
        };
        let wal = Wal::open_after(&dir.join("wal"), options, store.applied_seq + 1)?;
        let mut replayed = 0usize;
        for (seq, bytes) in wal.read_from(store.applied_seq + 1)? {
            // The record passed its checksum, so it is what was written; one
            // that this build cannot apply safely is set aside, not trusted,
            // and never keeps the rest of the log from replaying.
            let entry = log_record::decode(&bytes)
                .map_err(|e| format!("does not decode: {e}"))
                .and_then(|entry| check_replayable(&entry).map(|()| entry).map_err(|e| e.to_string()));
            let entry = match entry {
                Ok(entry) => entry,
                Err(reason) => {
                    quarantine(dir, &format!("wal-{seq:020}.json"), &bytes, &format!("log record {seq} {reason}"));
                    store.applied_seq = seq;
                    continue;
                }
            };
            apply_entry(&mut store, &config, &entry, seq);
            store.applied_seq = seq;
            replayed += 1;
        }
        if replayed > 0 {
            tracing::info!(collection = name, records = replayed, "replayed write-ahead log");
        }
        attach_indexes(name, dir, &mut store);
        Ok(Collection {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            config: RwLock::new(config),
            state: RwLock::new(store),
            wal,
            logged_bytes: AtomicU64::new(0),
            checkpoint_bytes: AtomicU64::new(checkpoint_bytes),
            checkpoint_lock: Mutex::new(()),
            optimizing: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            last_write: Mutex::new(Instant::now()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> CollectionConfig {
        self.config.read().clone()
    }

    /// The directory holding this collection's files. Read-only tooling (gRPC
    /// `StorageRead`) serves files under it and must stay inside it.
    pub fn storage_dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn dir_name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    pub(crate) fn set_config(&self, config: CollectionConfig) -> Result<()> {
        let synced = self.state.write().sync_columns(&config);
        *self.config.write() = config;
        synced
    }

    /// Removes the collection's files (after the catalog forgot it).
    pub(crate) fn destroy(&self) -> Result<()> {
        self.mark_dropped();
        std::fs::remove_dir_all(&self.dir).map_err(|e| EngineError::io(format!("removing {}", self.dir.display()), e))
    }

    pub fn info(&self) -> CollectionInfo {
        let config = self.config();
        let state = self.state.read();
        let payload_schema = state
            .payload_index
            .iter()
            .map(|(field, schema)| {
                // Points with a value of the index's type, as Qdrant counts them.
                let points = state.field_indexes.points(field).unwrap_or(0) as u64;
                let data_type = schema
                    .schema_type()
                    .and_then(|t| serde_json::to_value(t).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "keyword".into());
                let params = match schema {
                    PayloadFieldSchema::Params(v) => Some(v.clone()),
                    PayloadFieldSchema::Type(_) => None,
                };
                (field.clone(), PayloadIndexInfo { data_type, params, points })
            })
            .collect();
        let mut indexed_vectors_count = 0u64;
        let mut pending = false;
        for (name, column) in &state.columns {
            if let VectorColumn::Dense(c) = column {
                indexed_vectors_count += c.index.as_ref().map_or(0, |ix| ix.live() as u64);
                pending |= vector_index::needed_work(&config, name, c, false).is_some();
            }
        }
        let busy = pending || self.optimizing.load(Ordering::Acquire);
        CollectionInfo {
            status: if busy { "yellow" } else { "green" }.into(),
            optimizer_status: "ok".into(),
            indexed_vectors_count,
            points_count: state.len() as u64,
            segments_count: 1,
            config,
            payload_schema,
        }
    }

    pub fn points_count(&self) -> usize {
        self.state.read().len()
    }

    // ---- writes ---------------------------------------------------------

    pub fn update(&self, op: UpdateOperation, wait: bool) -> Result<UpdateResult> {
        self.update_batch(vec![op], wait).map(|mut r| r.remove(0))
    }

    /// Applies operations in order as one log record: all of them, or none
    /// when any fails validation.
    pub fn update_batch(&self, ops: Vec<UpdateOperation>, wait: bool) -> Result<Vec<UpdateResult>> {
        self.update_batch_restricted(ops, wait, None)
    }

    /// [`Self::update_batch`] for a key bound to payload values: the writes are
    /// checked against the points they touch under the same lock that applies them.
    pub(crate) fn update_batch_restricted(
        &self,
        ops: Vec<UpdateOperation>,
        wait: bool,
        restriction: Option<&crate::restriction::PayloadRestriction>,
    ) -> Result<Vec<UpdateResult>> {
        let count = ops.len();
        let seq = self.write(
            |store, config| {
                let ops = match restriction {
                    Some(r) => r.check_writes(ops, |id| {
                        store.offsets.get(id).map(|&o| store.payloads[o as usize].clone())
                    })?,
                    None => ops,
                };
                Ok(WalEntry::Update(prepare_batch(store, config, ops)?))
            },
            wait,
        )?;
        let status = if wait { UpdateStatus::Completed } else { UpdateStatus::Acknowledged };
        Ok((0..count.max(1)).map(|_| UpdateResult { operation_id: seq, status }).take(count).collect())
    }

    pub fn create_field_index(&self, request: CreateFieldIndex, wait: bool) -> Result<UpdateResult> {
        request
            .field_name
            .parse::<JsonPath>()
            .map_err(|e| EngineError::BadInput(format!("Invalid field name `{}`: {e}", request.field_name)))?;
        let schema = request.field_schema.clone().ok_or_else(|| {
            EngineError::BadInput("field_schema is required to create a payload index".into())
        })?;
        if schema.schema_type().is_none() {
            return Err(EngineError::BadInput(format!("Unknown payload index type in {schema:?}")));
        }
        crate::payload_index::check_schema(&schema).map_err(EngineError::BadInput)?;
        let seq = self.write(|_, _| Ok(WalEntry::CreateIndex(request)), wait)?;
        Ok(result(seq, wait))
    }

    pub fn delete_field_index(&self, field: &str, wait: bool) -> Result<UpdateResult> {
        let seq = self.write(|_, _| Ok(WalEntry::DeleteIndex(field.to_string())), wait)?;
        Ok(result(seq, wait))
    }

    // ---- shard keys (custom sharding, see shard_key.rs) --------------------

    /// Creates a shard key. Creating one that exists succeeds and changes
    /// nothing (Qdrant 1.19). `this_peer` is the only peer a placement may name.
    pub fn create_shard_key(&self, request: CreateShardKey, this_peer: u64, wait: bool) -> Result<bool> {
        let key = ShardKey::from_json(&request.shard_key)?;
        if !custom_sharding(&self.config.read()) {
            return Err(EngineError::BadRequest(format!(
                "Shard key {key} cannot be created: collection `{}` does not use custom sharding (sharding_method: custom)",
                self.name
            )));
        }
        for (name, value) in [("shards_number", request.shards_number), ("replication_factor", request.replication_factor)] {
            if value == Some(0) {
                return Err(EngineError::BadInput(format!("Validation error: {name} must be at least 1")));
            }
        }
        if let Some(peer) = request.placement.iter().flatten().find(|&&p| p != this_peer) {
            return Err(EngineError::BadRequest(format!("Peer {peer} does not exist: this cluster has one peer, {this_peer}")));
        }
        if let Some(state) = request.initial_state.as_deref()
            && !matches!(state, "Active" | "Partial")
        {
            return Err(EngineError::BadRequest(format!(
                "Initial state cannot be {state}, only Active or Partial are allowed"
            )));
        }
        if self.state.read().shard_keys.slot(&key).is_some() {
            return Ok(true);
        }
        self.write(|_, _| Ok(WalEntry::CreateShardKey(key)), wait)?;
        Ok(true)
    }

    /// Deletes a shard key and every point written under it.
    pub fn delete_shard_key(&self, key: &Value, wait: bool) -> Result<bool> {
        let key = ShardKey::from_json(key)?;
        self.write(
            |store, _| match store.shard_keys.slot(&key) {
                Some(_) => Ok(WalEntry::DeleteShardKey(key.clone())),
                None => Err(EngineError::BadRequest(format!(
                    "Sharding key {key} does not exist for collection {}",
                    self.name
                ))),
            },
            wait,
        )?;
        Ok(true)
    }

    /// The shard keys, in creation order; `None` when the collection does
    /// not use custom sharding (Qdrant answers `shard_keys: null` then).
    pub fn shard_keys(&self) -> Option<Vec<ShardKey>> {
        if !custom_sharding(&self.config.read()) {
            return None;
        }
        Some(self.state.read().shard_keys.keys().map(|(_, k)| k.clone()).collect())
    }

    /// The local shards as `GET /collections/{c}/cluster` lists them: one
    /// per shard key (or one for a collection without custom sharding),
    /// with the points it holds.
    pub fn local_shards(&self) -> Vec<(u32, Option<ShardKey>, usize)> {
        let store = self.state.read();
        if !custom_sharding(&self.config.read()) {
            return vec![(0, None, store.len())];
        }
        let mut counts = std::collections::HashMap::new();
        for &slot in &store.shard_of {
            *counts.entry(slot).or_insert(0usize) += 1;
        }
        store
            .shard_keys
            .keys()
            .map(|(slot, key)| (slot, Some(key.clone()), counts.get(&slot).copied().unwrap_or(0)))
            .collect()
    }

    /// The shard key of local shard `shard` (`None` for the one shard of a
    /// collection without custom sharding); 404 for a shard that does not exist.
    pub fn shard_key_of_shard(&self, shard: u32) -> Result<Option<ShardKey>> {
        // Shard ids are key slots in a custom-sharded collection, 0 otherwise.
        let found = if custom_sharding(&self.config.read()) {
            self.state.read().shard_keys.key(shard).cloned().map(Some)
        } else {
            (shard == 0).then_some(None)
        };
        found.ok_or_else(|| EngineError::NotFound(format!("Shard {shard} does not exist in collection `{}`", self.name)))
    }

    /// The points of shard `shard` as a self-contained inline checkpoint,
    /// with the configuration, for a shard snapshot.
    pub(crate) fn shard_snapshot(&self, shard: u32) -> Result<(CollectionConfig, Vec<u8>)> {
        let key = self.shard_key_of_shard(shard)?;
        let config = self.config.read().clone();
        let store = self.state.read();
        let scope = match &key {
            Some(key) => store.shard_keys.slot(key).map(|s| vec![s]),
            None => None,
        };
        let mut part = PointStore::new(&config);
        part.shard_keys = store.shard_keys.clone();
        part.applied_seq = store.applied_seq;
        part.payload_index = store.payload_index.clone();
        for offset in (0..store.len()).filter(|&o| store.in_shards(o, scope.as_deref())) {
            let vectors: BTreeMap<String, Vector> =
                store.columns.iter().filter_map(|(name, c)| c.get(offset).map(|v| (name.clone(), v))).collect();
            part.upsert(store.ids[offset], vectors, store.payloads[offset].clone(), store.versions[offset]);
            let at = part.len() - 1;
            part.set_shard(at, store.shard_of[offset]);
        }
        drop(store);
        Ok((config, part.encode_inline()?))
    }

    /// Replaces the points of shard `shard` with those of `points` (a shard
    /// or collection snapshot whose vectors match this collection's), through
    /// the log: a delete of the shard's points, then upserts under its key.
    pub(crate) fn replace_shard(&self, shard: u32, from: &CollectionConfig, points: &PointStore) -> Result<()> {
        let key = self.shard_key_of_shard(shard)?.map(|k| k.to_json());
        let config = self.config.read().clone();
        if from.params.vectors != config.params.vectors || from.params.sparse_vectors != config.params.sparse_vectors {
            return Err(EngineError::BadRequest(format!(
                "The snapshot's vectors differ from those of collection `{}`: a shard snapshot must come from a collection with the same vectors",
                self.name
            )));
        }
        let clear: UpdateOperation = serde_json::from_value(serde_json::json!({
            "delete": {"filter": {}, "shard_key": key}
        }))
        .map_err(|e| EngineError::Service(e.to_string()))?;
        let mut batch = vec![clear];
        let mut offsets = 0..points.len();
        loop {
            let chunk: Vec<PointStruct> = offsets
                .by_ref()
                .take(256)
                .map(|o| PointStruct {
                    id: points.ids[o],
                    vector: VectorStruct::Named(
                        points.columns.iter().filter_map(|(name, c)| c.get(o).map(|v| (name.clone(), v))).collect(),
                    ),
                    payload: Some(points.payloads[o].clone()),
                })
                .collect();
            if !chunk.is_empty() {
                batch.push(UpdateOperation::Upsert(PointInsertOperations {
                    points: PointsData::Points(chunk),
                    shard_key: key.clone(),
                    update_filter: None,
                    update_mode: None,
                }));
            }
            if batch.is_empty() {
                return Ok(());
            }
            self.update_batch(std::mem::take(&mut batch), true)?;
        }
    }

    /// The shard key slots a read's selector names (`None`: every point).
    pub(crate) fn read_scope(&self, shard_key: Option<&Value>) -> Result<Option<Vec<u32>>> {
        let selector = ShardSelector::parse(shard_key)?;
        if selector == ShardSelector::None {
            return Ok(None);
        }
        self.state.read().shard_keys.resolve(&selector, custom_sharding(&self.config.read()), Access::Read)
    }

    /// [`Self::read_scope`] as the keys' JSON values, as records carry them.
    pub(crate) fn read_scope_keys(&self, shard_key: Option<&Value>) -> Result<Option<Vec<Value>>> {
        let Some(slots) = self.read_scope(shard_key)? else { return Ok(None) };
        let store = self.state.read();
        Ok(Some(slots.iter().filter_map(|&s| store.shard_keys.key(s).map(ShardKey::to_json)).collect()))
    }

    /// The write path: build the record under the state lock (validation sees
    /// the state it will apply to), log it, apply it, then make it durable.
    fn write(
        &self,
        build: impl FnOnce(&PointStore, &CollectionConfig) -> Result<WalEntry>,
        wait: bool,
    ) -> Result<u64> {
        let config = self.config.read().clone();
        let seq = {
            let mut store = self.state.write();
            let entry = build(&store, &config)?;
            let bytes = log_record::encode(&entry).map_err(EngineError::Service)?;
            let seq = self.wal.append(&bytes)?;
            apply_entry(&mut store, &config, &entry, seq);
            store.applied_seq = seq;
            self.logged_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            *self.last_write.lock() = Instant::now();
            seq
        };
        if wait {
            self.wal.sync_through(seq)?;
        }
        // A checkpoint rewrites the whole state, so one is taken only once the
        // log since the last holds at least as many bytes as that checkpoint
        // did: each rewrite is paid for by as much new log, and the total
        // written stays linear in what is logged instead of quadratic in the
        // collection's size. Restart replays at most that much log.
        let capacity = config.wal_config.wal_capacity_mb.max(1) * 1024 * 1024;
        let threshold = capacity.max(self.checkpoint_bytes.load(Ordering::Relaxed));
        if self.logged_bytes.load(Ordering::Relaxed) >= threshold {
            self.checkpoint()?;
        }
        Ok(seq)
    }

    /// Makes every logged write durable; the background flusher calls this so
    /// that `wait=false` writes reach the disk within a second.
    pub(crate) fn sync_log(&self) -> Result<()> {
        Ok(self.wal.sync()?)
    }

    /// Writes the state to the checkpoint file and drops the log it covers.
    pub fn checkpoint(&self) -> Result<()> {
        self.checkpoint_with(|_, _| Ok(())).map(|_| ())
    }

    /// A checkpoint that also returns a self-contained copy of the state
    /// (dense rows inline), with the configuration read under the same
    /// locks: the consistent state a snapshot archives.
    pub(crate) fn checkpoint_for_snapshot(&self) -> Result<(CollectionConfig, Vec<u8>)> {
        let config = Mutex::new(None);
        let inline = self.checkpoint_with(|store, _| {
            *config.lock() = Some(self.config.read().clone());
            store.encode_inline()
        })?;
        Ok((config.into_inner().expect("set by the checkpoint"), inline))
    }

    /// The checkpoint protocol; `also` runs under the same read lock as the
    /// encoding and its result is returned.
    ///
    /// 1. Row files that are mostly garbage are compacted (write lock).
    /// 2. Under a read lock: the state is encoded and handles to the row
    ///    files are taken; row files retired before are collected.
    /// 3. The row files and the log are synced, then the checkpoint written
    ///    atomically: it never names a row that is not on disk, nor a state
    ///    ahead of the durable log.
    /// 4. The log it covers is dropped and the retired row files deleted.
    fn checkpoint_with<T>(&self, also: impl FnOnce(&PointStore, u64) -> Result<T>) -> Result<T> {
        let _guard = self.checkpoint_lock.lock();
        if self.state.read().needs_compaction() {
            self.state.write().compact_vectors()?;
        }
        let retired = std::mem::take(&mut self.state.write().retired);
        let (bytes, seq, files, extra) = {
            let store = self.state.read();
            let bytes = store.encode()?;
            let files = store.row_files()?;
            let extra = also(&store, store.applied_seq)?;
            (bytes, store.applied_seq, files, extra)
        };
        for file in &files {
            file.sync_data().map_err(|e| EngineError::io("syncing a vector row file".to_string(), e))?;
        }
        // Everything the checkpoint includes must be in the log durably first,
        // or a crash could leave a checkpoint ahead of a shorter log.
        self.wal.sync()?;
        write_atomically(&self.dir.join(CHECKPOINT_FILE), &bytes)?;
        self.wal.truncate_before(seq + 1)?;
        self.logged_bytes.store(0, Ordering::Relaxed);
        self.checkpoint_bytes.store(bytes.len() as u64, Ordering::Relaxed);
        for path in retired {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %path.display(), error = %e, "could not remove a replaced vector row file");
            }
        }
        Ok(extra)
    }

    // ---- the optimizer ----------------------------------------------------

    pub(crate) fn mark_dropped(&self) {
        self.dropped.store(true, Ordering::Release);
    }

    /// Builds or extends the HNSW index of one column that needs it. Returns
    /// whether it did any work. Runs on the optimizer thread; searches and
    /// writes go on meanwhile (see `vector_index` for how).
    pub(crate) fn optimize_once(&self, shutdown: &(dyn Fn() -> bool + Sync)) -> bool {
        let idle = self.last_write.lock().elapsed() >= IDLE_BEFORE_TAIL_INDEXING;
        let plan = {
            let config = self.config.read();
            let store = self.state.read();
            let work = store.columns.iter().find_map(|(name, column)| match column {
                VectorColumn::Dense(c) => vector_index::needed_work(&config, name, c, idle).map(|w| (name.clone(), w)),
                _ => None,
            });
            let Some((name, work)) = work else { return false };
            self.optimizing.store(true, Ordering::Release);
            BuildPlan::new(&config, &store, &name, work)
        };
        let Some(plan) = plan else {
            self.optimizing.store(false, Ordering::Release);
            return false;
        };
        let started = Instant::now();
        let stop = || shutdown() || self.dropped.load(Ordering::Acquire);
        let built = plan.build(&stop);
        let (name, work, new_points) = (plan.name.clone(), plan.work, plan.new_points());
        let installed = match built {
            Some((mut graph, quantized)) => {
                if plan.payload_m.is_some() {
                    let groups = {
                        let store = self.state.read();
                        payload_groups(&store, plan.new_node_offsets(&store))
                    };
                    plan.add_payload_links(&mut graph, &groups);
                }
                plan.release();
                let mut store = self.state.write();
                if self.dropped.load(Ordering::Acquire) {
                    false
                } else {
                    plan.install(&mut store, graph, quantized)
                }
            }
            None => false,
        };
        if installed {
            tracing::info!(
                collection = %self.name, vector = %name, ?work, points = new_points,
                seconds = started.elapsed().as_secs_f32(), "vector index built"
            );
            self.save_index(&name);
        }
        self.optimizing.store(false, Ordering::Release);
        true
    }

    /// Writes the graph of vector `name` next to the checkpoint, so a restart
    /// reloads it instead of building it again.
    fn save_index(&self, name: &str) {
        let bytes = {
            let store = self.state.read();
            match store.columns.get(name) {
                Some(VectorColumn::Dense(c)) => vector_index::encode_index(c, &store),
                _ => None,
            }
        };
        let Some(bytes) = bytes else { return };
        let path = vector_index::graph_path(&self.dir, name);
        if self.dropped.load(Ordering::Acquire) {
            return;
        }
        let written = path
            .parent()
            .map_or(Ok(()), |p| std::fs::create_dir_all(p).map_err(|e| EngineError::io(format!("creating {}", p.display()), e)))
            .and_then(|()| write_atomically(&path, &bytes));
        if let Err(e) = written {
            tracing::warn!(collection = %self.name, vector = name, error = %e, "could not save the vector index; it will be rebuilt after a restart");
        }
    }

    // ---- reads ----------------------------------------------------------

    pub(crate) fn read_state(&self) -> parking_lot::RwLockReadGuard<'_, PointStore> {
        self.state.read()
    }

    pub(crate) fn config_ref(&self) -> parking_lot::RwLockReadGuard<'_, CollectionConfig> {
        self.config.read()
    }

    pub fn get_point(&self, id: PointId) -> Result<Record> {
        let config = self.config.read();
        let store = self.state.read();
        let offset = *store.offsets.get(&id).ok_or_else(|| point_not_found(id))? as usize;
        Ok(make_record(&store, &config, offset, &WithPayload::Enable(true), &WithVector::Enable(true)))
    }

    pub fn retrieve(&self, request: PointRequest) -> Result<Vec<Record>> {
        let with_payload = request.with_payload.unwrap_or(WithPayload::Enable(true));
        let with_vector = request.with_vector.unwrap_or(WithVector::Enable(false));
        let config = self.config.read();
        let store = self.state.read();
        let mut seen = HashSet::new();
        Ok(request
            .ids
            .into_iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| store.offsets.get(&id).map(|&o| o as usize))
            .map(|offset| make_record(&store, &config, offset, &with_payload, &with_vector))
            .collect())
    }

    pub fn scroll(&self, request: ScrollRequest) -> Result<ScrollResult> {
        let limit = request.limit.unwrap_or(10);
        if limit == 0 {
            return Err(EngineError::BadInput("Validation error: limit: value 0 invalid, must be 1 or more".into()));
        }
        validate_filter(request.filter.as_ref())?;
        let with_payload = request.with_payload.unwrap_or(WithPayload::Enable(true));
        let with_vector = request.with_vector.unwrap_or(WithVector::Enable(false));
        let config = self.config.read();
        let store = self.state.read();
        let matches = |offset: usize| request.filter.as_ref().is_none_or(|f| f.matches(&store.view(offset)));

        if let Some(order_by) = request.order_by {
            let order_by = order_by.into_order_by();
            if request.offset.is_some() {
                return Err(EngineError::BadInput("Cannot use an `offset` when using `order_by`".into()));
            }
            let path: JsonPath = order_by
                .key
                .parse()
                .map_err(|e| EngineError::BadInput(format!("Invalid order_by key `{}`: {e}", order_by.key)))?;
            require_range_index(&store, &order_by.key)?;
            let direction = order_by.direction.unwrap_or_default();
            let start = order_by.start_from.as_ref().map(order_value).transpose()?.flatten();
            let mut entries: Vec<(f64, Value, PointId, usize)> = Vec::new();
            for offset in store.filter_scan(request.filter.as_ref()) {
                if !matches(offset) {
                    continue;
                }
                for value in payload_path::values(&store.payloads[offset], &path) {
                    if let Ok(Some(key)) = order_value(value) {
                        let passes = match (start, direction) {
                            (None, _) => true,
                            (Some(s), Direction::Asc) => key >= s,
                            (Some(s), Direction::Desc) => key <= s,
                        };
                        if passes {
                            entries.push((key, value.clone(), store.ids[offset], offset));
                        }
                    }
                }
            }
            entries.sort_by(|a, b| {
                let ord = a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then(a.2.cmp(&b.2));
                if direction == Direction::Desc { ord.reverse() } else { ord }
            });
            let points = entries
                .into_iter()
                .take(limit)
                .map(|(_, value, _, offset)| {
                    let mut record = make_record(&store, &config, offset, &with_payload, &with_vector);
                    record.order_value = Some(order_value_output(&value));
                    record
                })
                .collect();
            return Ok(ScrollResult { points, next_page_offset: None });
        }

        let candidates = request.filter.as_ref().and_then(|f| scroll_candidates(&store, f, limit));
        let (page, next_page_offset) = scroll_page(&store, request.filter.as_ref(), request.offset, limit, candidates);
        let points = page.into_iter().map(|offset| make_record(&store, &config, offset, &with_payload, &with_vector)).collect();
        Ok(ScrollResult { points, next_page_offset })
    }

    pub fn count(&self, request: CountRequest) -> Result<CountResult> {
        validate_filter(request.filter.as_ref())?;
        let store = self.state.read();
        let count = match &request.filter {
            None => store.len(),
            Some(filter) => store.filter_scan(Some(filter)).filter(|&o| filter.matches(&store.view(o))).count(),
        };
        Ok(CountResult { count: count as u64 })
    }
}

/// The candidates a scroll page should read, when reading them beats walking
/// the ids in order: the walk stops after `limit + 1` matches, so it wins
/// when matches are dense; sorting the candidates by id wins when they are few.
fn scroll_candidates(store: &PointStore, filter: &Filter, limit: usize) -> Option<Vec<u32>> {
    let expected = store.estimate_cardinality(filter).exp;
    let walk = (limit + 1).saturating_mul(store.len()).saturating_mul(16);
    if expected.saturating_mul(expected) > walk {
        return None;
    }
    store.filter_candidates(filter)
}

/// One page of a scroll by id: the offsets of up to `limit` matching points
/// with id `start` or above, in id order, and the id of the next match (the
/// next page's start). `candidates` (a superset of the matches, from the
/// payload indexes) gives the same page as walking every id.
pub(crate) fn scroll_page(
    store: &PointStore,
    filter: Option<&Filter>,
    start: Option<PointId>,
    limit: usize,
    candidates: Option<Vec<u32>>,
) -> (Vec<usize>, Option<PointId>) {
    let matches = |offset: usize| filter.is_none_or(|f| f.matches(&store.view(offset)));
    let in_order: Box<dyn Iterator<Item = (PointId, usize)>> = match candidates {
        Some(candidates) => {
            let mut by_id: Vec<(PointId, usize)> = candidates
                .into_iter()
                .map(|o| (store.ids[o as usize], o as usize))
                .filter(|(id, _)| start.is_none_or(|s| *id >= s))
                .collect();
            by_id.sort_unstable();
            Box::new(by_id.into_iter())
        }
        None => {
            let range = match start {
                Some(start) => store.offsets.range(start..),
                None => store.offsets.range(..),
            };
            Box::new(range.map(|(&id, &offset)| (id, offset as usize)))
        }
    };
    let mut page = Vec::with_capacity(limit.min(store.len()));
    for (id, offset) in in_order {
        if !matches(offset) {
            continue;
        }
        if page.len() == limit {
            return (page, Some(id));
        }
        page.push(offset);
    }
    (page, None)
}

fn result(seq: u64, wait: bool) -> UpdateResult {
    UpdateResult { operation_id: seq, status: if wait { UpdateStatus::Completed } else { UpdateStatus::Acknowledged } }
}

pub(crate) fn point_not_found(id: PointId) -> EngineError {
    EngineError::NotFound(format!("No point with id {id} found"))
}

pub(crate) fn validate_filter(filter: Option<&Filter>) -> Result<()> {
    match filter {
        Some(f) => {
            // Depth first: validation itself walks the filter recursively.
            crate::limits::check_filter(f)?;
            f.validate().map_err(|e| EngineError::BadInput(e.to_string()))
        }
        None => Ok(()),
    }
}

/// `order_by` reads a range index, as in Qdrant: without one there is no order.
pub(crate) fn require_range_index(store: &PointStore, key: &str) -> Result<()> {
    use crate::operations::PayloadSchemaType as T;
    let ranged = store.payload_index.get(key).and_then(|schema| schema.schema_type()).is_some_and(|t| {
        matches!(t, T::Integer | T::Float | T::Datetime)
    });
    if ranged {
        Ok(())
    } else {
        Err(EngineError::BadRequest(format!(
            "No range index for `order_by` key: `{key}`. Please create one to use `order_by`. \
             Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions"
        )))
    }
}

/// The `order_value` answered: numbers as stored, datetimes as an integer
/// timestamp in microseconds (Qdrant's order values are only numbers).
pub(crate) fn order_value_output(value: &Value) -> Value {
    match value {
        Value::String(s) => crate::filter::parse_datetime(s)
            .map(|t| Value::from(t.timestamp_micros()))
            .unwrap_or_else(|| value.clone()),
        other => other.clone(),
    }
}

/// A payload value usable for `order_by`: a number, or a datetime string as seconds.
fn order_value(value: &Value) -> Result<Option<f64>> {
    Ok(match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => crate::filter::parse_datetime(s).map(|t| t.timestamp_micros() as f64 / 1e6),
        _ => None,
    })
}

/// Builds the answer form of a stored point.
pub(crate) fn make_record(
    store: &PointStore,
    config: &CollectionConfig,
    offset: usize,
    with_payload: &WithPayload,
    with_vector: &WithVector,
) -> Record {
    Record {
        id: store.ids[offset],
        payload: select_payload(&store.payloads[offset], with_payload),
        vector: select_vectors(store, config, offset, with_vector),
        shard_key: store.shard_key_of(offset).map(ShardKey::to_json),
        order_value: None,
    }
}

pub(crate) fn select_payload(payload: &Payload, with_payload: &WithPayload) -> Option<Payload> {
    // `a.b` selects the value at that path and keeps its nesting:
    // {"a": {"b": ..}}; `a[].b` keeps the array, each item reduced to its `b`.
    let include = |keys: &[String]| {
        let mut out = Payload::new();
        for key in keys {
            let Ok(path) = key.parse::<JsonPath>() else { continue };
            let plain: Option<Vec<&str>> = std::iter::once(Some(path.first_key()))
                .chain(path.items().iter().map(|item| match item {
                    payload_path::JsonPathItem::Key(k) => Some(k.as_str()),
                    _ => None,
                }))
                .collect();
            match plain {
                Some(parts) => copy_nested(payload, &mut out, &parts),
                None => {
                    let projected = payload.get(path.first_key()).and_then(|v| project(v, path.items()));
                    if let Some(v) = projected {
                        match out.get_mut(path.first_key()) {
                            Some(existing) => merge_projection(existing, v),
                            None => {
                                out.insert(path.first_key().to_string(), v);
                            }
                        }
                    }
                }
            }
        }
        out
    };
    match with_payload {
        WithPayload::Enable(false) => None,
        WithPayload::Enable(true) => Some(payload.clone()),
        WithPayload::Include(keys) | WithPayload::Selector(PayloadSelector::Include(keys)) => Some(include(keys)),
        WithPayload::Selector(PayloadSelector::Exclude(keys)) => {
            let mut out = payload.clone();
            for key in keys {
                if let Ok(path) = key.parse::<JsonPath>() {
                    payload_path::delete_at(&mut out, &path);
                }
            }
            Some(out)
        }
    }
}

/// The part of `value` that path `items` selects, keeping the objects and
/// arrays on the way: `[]` keeps every array item that has something
/// selected, `[n]` the n-th item alone. `None` when nothing is selected.
fn project(value: &Value, items: &[payload_path::JsonPathItem]) -> Option<Value> {
    use payload_path::JsonPathItem;
    let Some((head, rest)) = items.split_first() else { return Some(value.clone()) };
    match (head, value) {
        (JsonPathItem::Key(key), Value::Object(map)) => {
            let inner = project(map.get(key)?, rest)?;
            Some(Value::Object([(key.clone(), inner)].into_iter().collect()))
        }
        (JsonPathItem::WildcardIndex, Value::Array(list)) => {
            let kept: Vec<Value> = list.iter().filter_map(|item| project(item, rest)).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        (JsonPathItem::Index(i), Value::Array(list)) => Some(Value::Array(vec![project(list.get(*i)?, rest)?])),
        _ => None,
    }
}

/// Merges a second projection of the same value into `into`: objects key by
/// key, arrays of the same length item by item (both came from one array).
fn merge_projection(into: &mut Value, other: Value) {
    match (into, other) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in b {
                match a.get_mut(&key) {
                    Some(existing) => merge_projection(existing, value),
                    None => {
                        a.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (x, y) in a.iter_mut().zip(b) {
                merge_projection(x, y);
            }
        }
        (slot, other) => *slot = other,
    }
}

/// Copies the value at `parts` from `src` into `dst`, creating the objects on the way.
fn copy_nested(src: &Payload, dst: &mut Payload, parts: &[&str]) {
    let Some((first, rest)) = parts.split_first() else { return };
    let Some(value) = src.get(*first) else { return };
    if rest.is_empty() {
        dst.insert(first.to_string(), value.clone());
        return;
    }
    let Value::Object(inner) = value else { return };
    let has_target = {
        let mut probe = Payload::new();
        copy_nested(inner, &mut probe, rest);
        !probe.is_empty()
    };
    if !has_target {
        return;
    }
    let slot = dst.entry(first.to_string()).or_insert_with(|| Value::Object(Payload::new()));
    if let Value::Object(child) = slot {
        copy_nested(inner, child, rest);
    }
}

pub(crate) fn select_vectors(
    store: &PointStore,
    config: &CollectionConfig,
    offset: usize,
    with_vector: &WithVector,
) -> Option<VectorOutput> {
    if !with_vector.any() {
        return None;
    }
    let mut named: BTreeMap<String, Vector> = BTreeMap::new();
    for (name, column) in &store.columns {
        if (with_vector.wants(name) || matches!(with_vector, WithVector::Enable(true)))
            && let Some(v) = column.get(offset) {
                named.insert(name.clone(), v);
            }
    }
    match &config.params.vectors {
        VectorsConfig::Single(_) if config.params.sparse_vectors.as_ref().is_none_or(|s| s.is_empty()) => {
            named.remove(DEFAULT_VECTOR).map(VectorOutput::Single)
        }
        _ => Some(VectorOutput::Named(named)),
    }
}

/// How long a collection must go without writes before the optimizer also
/// indexes a tail smaller than the indexing threshold.
const IDLE_BEFORE_TAIL_INDEXING: Duration = Duration::from_secs(2);

/// Loads the saved graphs of a collection's dense vectors; a graph that does
/// not load is dropped (and rebuilt by the optimizer), never trusted.
fn attach_indexes(name: &str, dir: &Path, store: &mut PointStore) {
    let dense: Vec<String> = store
        .columns
        .iter()
        .filter(|(_, c)| matches!(c, VectorColumn::Dense(_)))
        .map(|(n, _)| n.clone())
        .collect();
    for vector in dense {
        let path = vector_index::graph_path(dir, &vector);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!(collection = name, path = %path.display(), error = %e, "cannot read vector index; rebuilding");
                continue;
            }
        };
        if let Err(reason) = vector_index::attach_index(&bytes, &vector, store) {
            tracing::warn!(collection = name, path = %path.display(), reason, "vector index does not load; rebuilding");
        }
    }
}

/// Groups of new graph nodes that share a keyword, integer, uuid or bool
/// value of an indexed payload field: payload_m links are added within each
/// group, so a filter on that value finds a connected graph.
fn payload_groups(store: &PointStore, nodes: impl Iterator<Item = (u32, usize)>) -> Vec<Vec<u32>> {
    let fields: Vec<JsonPath> = store
        .payload_index
        .iter()
        .filter(|(_, schema)| {
            matches!(
                schema.schema_type(),
                Some(
                    crate::operations::PayloadSchemaType::Keyword
                        | crate::operations::PayloadSchemaType::Integer
                        | crate::operations::PayloadSchemaType::Uuid
                        | crate::operations::PayloadSchemaType::Bool
                )
            )
        })
        .filter_map(|(field, _)| field.parse().ok())
        .collect();
    if fields.is_empty() {
        return Vec::new();
    }
    let mut groups: std::collections::HashMap<(usize, String), Vec<u32>> = std::collections::HashMap::new();
    for (node, offset) in nodes {
        for (f, path) in fields.iter().enumerate() {
            for value in payload_path::values(&store.payloads[offset], path) {
                groups.entry((f, value.to_string())).or_default().push(node);
            }
        }
    }
    groups.into_values().filter(|g| g.len() > 1).collect()
}

// ---- validation and application of writes ---------------------------------

/// Checks a batch against the state it will apply to and returns it with
/// vectors in stored form. Nothing changes here: an error leaves no trace.
fn prepare_batch(
    store: &PointStore,
    config: &CollectionConfig,
    ops: Vec<UpdateOperation>,
) -> Result<Vec<UpdateOperation>> {
    // Ids that exist at each step of the batch, as far as ids alone tell.
    let mut created: HashSet<PointId> = HashSet::new();
    let mut deleted: HashSet<PointId> = HashSet::new();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let scope = write_scope(store, config, &op)?;
        let visible = |id: &PointId| store.offsets.get(id).is_some_and(|&o| store.in_shards(o as usize, scope.as_deref()));
        let exists = |id: &PointId, created: &HashSet<PointId>, deleted: &HashSet<PointId>| {
            (visible(id) || created.contains(id)) && !deleted.contains(id)
        };
        let require = |ids: &[PointId], created: &HashSet<PointId>, deleted: &HashSet<PointId>| match ids
            .iter()
            .find(|id| !exists(id, created, deleted))
        {
            Some(id) => Err(point_not_found(*id)),
            None => Ok(()),
        };
        let prepared = match op {
            UpdateOperation::Upsert(insert) => {
                validate_filter(insert.update_filter.as_ref())?;
                let points = insert.points.into_points().map_err(EngineError::BadInput)?;
                let mut prepared = Vec::with_capacity(points.len());
                for point in points {
                    if let Some(payload) = &point.payload {
                        crate::limits::check_payload(payload, 0)?;
                    }
                    let vectors = prepare_vectors(config, point.vector, true)?;
                    created.insert(point.id);
                    deleted.remove(&point.id);
                    prepared.push(PointStruct { id: point.id, vector: VectorStruct::Named(vectors), payload: point.payload });
                }
                UpdateOperation::Upsert(PointInsertOperations { points: PointsData::Points(prepared), ..insert })
            }
            UpdateOperation::Delete(selector) => {
                match &selector {
                    PointsSelector::Ids { points, .. } => {
                        for id in points {
                            deleted.insert(*id);
                            created.remove(id);
                        }
                    }
                    PointsSelector::Filter { filter, .. } => validate_filter(Some(filter))?,
                }
                UpdateOperation::Delete(selector)
            }
            UpdateOperation::SetPayload(set) => {
                check_selection(set.points.as_deref(), set.filter.as_ref())?;
                require(set.points.as_deref().unwrap_or(&[]), &created, &deleted)?;
                check_set_payload(&set)?;
                UpdateOperation::SetPayload(set)
            }
            UpdateOperation::OverwritePayload(set) => {
                check_selection(set.points.as_deref(), set.filter.as_ref())?;
                require(set.points.as_deref().unwrap_or(&[]), &created, &deleted)?;
                check_set_payload(&set)?;
                UpdateOperation::OverwritePayload(set)
            }
            UpdateOperation::DeletePayload(del) => {
                check_selection(del.points.as_deref(), del.filter.as_ref())?;
                require(del.points.as_deref().unwrap_or(&[]), &created, &deleted)?;
                for key in &del.keys {
                    parse_key(Some(key))?;
                }
                UpdateOperation::DeletePayload(del)
            }
            UpdateOperation::ClearPayload(selector) => {
                match &selector {
                    PointsSelector::Ids { points, .. } => require(points, &created, &deleted)?,
                    PointsSelector::Filter { filter, .. } => validate_filter(Some(filter))?,
                }
                UpdateOperation::ClearPayload(selector)
            }
            UpdateOperation::UpdateVectors(mut update) => {
                validate_filter(update.update_filter.as_ref())?;
                for point in &mut update.points {
                    if !exists(&point.id, &created, &deleted) {
                        return Err(point_not_found(point.id));
                    }
                    let vector = std::mem::replace(&mut point.vector, VectorStruct::Single(Vec::new()));
                    point.vector = VectorStruct::Named(prepare_vectors(config, vector, false)?);
                }
                UpdateOperation::UpdateVectors(update)
            }
            UpdateOperation::DeleteVectors(del) => {
                check_selection(del.points.as_deref(), del.filter.as_ref())?;
                require(del.points.as_deref().unwrap_or(&[]), &created, &deleted)?;
                for name in &del.vector {
                    if config.params.vectors.get(name).is_none() && config.sparse(name).is_none() {
                        return Err(EngineError::BadInput(format!("Not existing vector name error: {name}")));
                    }
                }
                UpdateOperation::DeleteVectors(del)
            }
        };
        out.push(prepared);
    }
    Ok(out)
}

fn check_selection(points: Option<&[PointId]>, filter: Option<&Filter>) -> Result<()> {
    if points.is_none() && filter.is_none() {
        return Err(EngineError::BadInput("Either list of point ids or filter must be provided".into()));
    }
    validate_filter(filter)
}

/// The key path parses, and the payload set under it stays within the depth bound.
fn check_set_payload(set: &SetPayload) -> Result<()> {
    let steps = parse_key(set.key.as_deref())?.map_or(0, |path| 1 + path.items().len());
    crate::limits::check_payload(&set.payload, steps)
}

fn parse_key(key: Option<&str>) -> Result<Option<JsonPath>> {
    key.map(|k| k.parse::<JsonPath>().map_err(|e| EngineError::BadInput(e.to_string())))
        .transpose()
}

/// Checks and converts a point's vectors. For an upsert, every dense vector
/// the collection declares must be present unless it is sparse or named.
fn prepare_vectors(config: &CollectionConfig, vector: VectorStruct, _upsert: bool) -> Result<BTreeMap<String, Vector>> {
    let named = vector.into_named();
    let mut out = BTreeMap::new();
    for (name, v) in named {
        out.insert(name.clone(), PointStore::prepare_vector(config, &name, v)?);
    }
    Ok(out)
}

/// Ids selected by ids and/or a filter, in the current state.
/// Ids selected by ids and/or a filter, in the current state, among the
/// points under the shard keys of `scope` (`None`: every point).
fn select(store: &PointStore, points: Option<&[PointId]>, filter: Option<&Filter>, scope: Option<&[u32]>) -> Vec<PointId> {
    let chosen = |o: usize| store.in_shards(o, scope) && filter.is_none_or(|f| f.matches(&store.view(o)));
    match (points, filter) {
        (Some(ids), _) => {
            ids.iter().filter(|id| store.offsets.get(id).is_some_and(|&o| chosen(o as usize))).copied().collect()
        }
        (None, Some(f)) => store.filter_scan(Some(f)).filter(|&o| chosen(o)).map(|o| store.ids[o]).collect(),
        (None, None) => Vec::new(),
    }
}

fn selector_ids(store: &PointStore, selector: &PointsSelector, scope: Option<&[u32]>) -> Vec<PointId> {
    match selector {
        PointsSelector::Ids { points, .. } => select(store, Some(points), None, scope),
        PointsSelector::Filter { filter, .. } => select(store, None, Some(filter), scope),
    }
}

/// Body of `PUT /collections/{c}/shards`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateShardKey {
    pub shard_key: Value,
    #[serde(default)]
    pub shards_number: Option<u32>,
    #[serde(default)]
    pub replication_factor: Option<u32>,
    #[serde(default)]
    pub placement: Option<Vec<u64>>,
    #[serde(default)]
    pub initial_state: Option<String>,
}

/// Whether the collection routes points by shard keys.
pub(crate) fn custom_sharding(config: &CollectionConfig) -> bool {
    config.params.sharding_method == Some(crate::config::ShardingMethod::Custom)
}

/// The shard key slots a write reaches (`None`: every point, in a
/// collection without custom sharding). An upsert must name exactly one
/// key there: a point lives under one key (see `shard_key.rs`).
fn write_scope(store: &PointStore, config: &CollectionConfig, op: &UpdateOperation) -> Result<Option<Vec<u32>>> {
    let selector = ShardSelector::parse(op.shard_key())?;
    let scope = store.shard_keys.resolve(&selector, custom_sharding(config), Access::Write)?;
    if let (UpdateOperation::Upsert(_), Some(slots)) = (op, &scope)
        && slots.len() != 1
    {
        return Err(EngineError::BadInput(format!(
            "An upsert writes its points under one shard key, got {}: Osprey keeps one copy of a point",
            slots.len()
        )));
    }
    Ok(scope)
}

/// What the write path refuses and replay must not apply either: a record
/// logged by an older build before the bounds in [`crate::limits`] existed
/// could set a payload under a key path too long to parse (applying it would
/// silently write at the top instead) or too deep to read back.
fn check_replayable(entry: &WalEntry) -> Result<()> {
    let WalEntry::Update(ops) = entry else { return Ok(()) };
    for op in ops {
        match op {
            UpdateOperation::SetPayload(set) | UpdateOperation::OverwritePayload(set) => check_set_payload(set)?,
            UpdateOperation::DeletePayload(del) => {
                for key in &del.keys {
                    parse_key(Some(key))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Sets `bytes` aside in the `quarantine/` folder of collection directory `dir` under `file`
/// and says so in the log. Recovery goes on without them.
/// Row files at most this large (all together) are checked when the
/// collection opens; larger ones in the background, so that a restart does
/// not read every vector before it answers.
const ROW_CHECK_AT_OPEN: u64 = 256 << 20;

/// Checks the row files a checkpoint names against their checksums: at
/// open when they are small, refusing a damaged one with the file named;
/// otherwise on a background thread that logs a damaged file as an error.
fn check_row_files(collection: &str, checks: Vec<(PathBuf, u64, u32)>) -> Result<()> {
    let total: u64 = checks.iter().map(|c| c.1).sum();
    let run = |checks: &[(PathBuf, u64, u32)]| -> std::result::Result<(), (PathBuf, String)> {
        for (path, len, crc) in checks {
            crate::vector_file::check_rows(path, *len, *crc).map_err(|e| (path.clone(), e))?;
        }
        Ok(())
    };
    if total <= ROW_CHECK_AT_OPEN {
        return run(&checks).map_err(|(path, reason)| EngineError::Corrupted { path, reason });
    }
    let collection = collection.to_string();
    std::thread::Builder::new()
        .name("osprey-row-check".into())
        .spawn(move || {
            if let Err((path, reason)) = run(&checks) {
                // A file replaced by compaction meanwhile is gone, not damaged.
                if path.exists() {
                    tracing::error!(collection, file = %path.display(), reason, "a vector row file is damaged: restore the collection from a snapshot");
                }
            }
        })
        .map(|_| ())
        .map_err(|e| EngineError::io("starting the row check".to_string(), e))
}

/// Deletes row files in `dir` that no column reads: left by a crash between
/// a compaction and the checkpoint that would have retired them.
fn remove_unused_row_files(dir: &Path, used: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "vec") && !used.contains(&path) {
            tracing::info!(file = %path.display(), "removing a vector row file no checkpoint names");
            let _ = std::fs::remove_file(&path);
        }
    }
}

pub(crate) fn quarantine(dir: &Path, file: &str, bytes: &[u8], reason: &str) {
    let folder = dir.join("quarantine");
    let path = folder.join(file);
    let saved = std::fs::create_dir_all(&folder).and_then(|()| std::fs::write(&path, bytes));
    match saved {
        Ok(()) => tracing::error!(
            file = %path.display(),
            "{reason}; it was not applied and is kept in the quarantine file"
        ),
        Err(e) => tracing::error!(
            file = %path.display(),
            "{reason}; it was not applied, and saving it to the quarantine file failed: {e}"
        ),
    }
}

/// Applies one logged record. Infallible: everything was checked before the
/// record was logged, and replay must apply exactly what was acknowledged.
fn apply_entry(store: &mut PointStore, config: &CollectionConfig, entry: &WalEntry, seq: u64) {
    match entry {
        WalEntry::CreateIndex(request) => {
            if let Some(schema) = &request.field_schema {
                store.create_payload_index(&request.field_name, schema.clone());
            }
        }
        WalEntry::DeleteIndex(field) => {
            store.delete_payload_index(field);
        }
        WalEntry::CreateShardKey(key) => {
            store.shard_keys.create(key.clone());
        }
        WalEntry::DeleteShardKey(key) => {
            if let Some(slot) = store.shard_keys.delete(key) {
                let ids: Vec<PointId> =
                    (0..store.len()).filter(|&o| store.shard_of[o] == slot).map(|o| store.ids[o]).collect();
                for id in ids {
                    store.remove(&id);
                }
            }
        }
        WalEntry::Update(ops) => {
            for op in ops {
                apply_op(store, config, op, seq);
            }
        }
    }
}

fn stored_vectors(config: &CollectionConfig, vector: &VectorStruct) -> BTreeMap<String, Vector> {
    // Logged vectors are already in stored form; converting again is a no-op
    // except for records written before that was true.
    vector
        .clone()
        .into_named()
        .into_iter()
        .filter_map(|(name, v)| PointStore::prepare_vector(config, &name, v).ok().map(|v| (name, v)))
        .collect()
}

fn apply_op(store: &mut PointStore, config: &CollectionConfig, op: &UpdateOperation, seq: u64) {
    // Checked before the record was logged; a record that no longer
    // resolves (its key deleted in between cannot happen: both go through
    // the log in order) is skipped rather than applied to the wrong points.
    let scope = match write_scope(store, config, op) {
        Ok(scope) => scope,
        Err(e) => {
            tracing::error!("a logged write names shard keys that do not resolve ({e}); skipped");
            return;
        }
    };
    let scope = scope.as_deref();
    match op {
        UpdateOperation::Upsert(insert) => {
            let PointsData::Points(points) = &insert.points else {
                // prepare_batch always logs the list form.
                tracing::error!("unexpected batch form in the log; skipped");
                return;
            };
            let mode = insert.update_mode.unwrap_or_default();
            let slot = scope.and_then(|s| s.first().copied()).unwrap_or(crate::shard_key::NO_SHARD);
            for point in points {
                // A point under another shard key is not in this one (Qdrant's
                // shards are separate stores): the write moves it here.
                let existing =
                    store.offsets.get(&point.id).map(|&o| o as usize).filter(|&o| store.in_shards(o, scope));
                let skip = match (existing, mode) {
                    (Some(_), UpdateMode::InsertOnly) => true,
                    (None, UpdateMode::UpdateOnly) => true,
                    (Some(offset), _) => {
                        insert.update_filter.as_ref().is_some_and(|f| !f.matches(&store.view(offset)))
                    }
                    (None, _) => false,
                };
                if skip {
                    continue;
                }
                let vectors = stored_vectors(config, &point.vector);
                store.upsert(point.id, vectors, point.payload.clone().unwrap_or_default(), seq);
                let offset = store.offsets[&point.id] as usize;
                store.set_shard(offset, slot);
            }
        }
        UpdateOperation::Delete(selector) => {
            for id in selector_ids(store, selector, scope) {
                store.remove(&id);
            }
        }
        UpdateOperation::SetPayload(set) => {
            let key = set.key.as_deref().and_then(|k| k.parse::<JsonPath>().ok());
            for id in select(store, set.points.as_deref(), set.filter.as_ref(), scope) {
                let offset = store.offsets[&id] as usize;
                store.update_payload(offset, seq, |payload| payload_path::set_at(payload, key.as_ref(), &set.payload));
            }
        }
        UpdateOperation::OverwritePayload(set) => {
            let key = set.key.as_deref().and_then(|k| k.parse::<JsonPath>().ok());
            for id in select(store, set.points.as_deref(), set.filter.as_ref(), scope) {
                let offset = store.offsets[&id] as usize;
                store.update_payload(offset, seq, |payload| match &key {
                    None => *payload = set.payload.clone(),
                    Some(path) => {
                        payload_path::delete_at(payload, path);
                        payload_path::set_at(payload, Some(path), &set.payload);
                    }
                });
            }
        }
        UpdateOperation::DeletePayload(del) => {
            let paths: Vec<JsonPath> = del.keys.iter().filter_map(|k| k.parse().ok()).collect();
            for id in select(store, del.points.as_deref(), del.filter.as_ref(), scope) {
                let offset = store.offsets[&id] as usize;
                store.update_payload(offset, seq, |payload| {
                    for path in &paths {
                        payload_path::delete_at(payload, path);
                    }
                });
            }
        }
        UpdateOperation::ClearPayload(selector) => {
            for id in selector_ids(store, selector, scope) {
                let offset = store.offsets[&id] as usize;
                store.update_payload(offset, seq, |payload| *payload = Payload::new());
            }
        }
        UpdateOperation::UpdateVectors(update) => {
            for point in &update.points {
                let Some(&offset) = store.offsets.get(&point.id) else { continue };
                let offset = offset as usize;
                if !store.in_shards(offset, scope) {
                    continue;
                }
                if update.update_filter.as_ref().is_some_and(|f| !f.matches(&store.view(offset))) {
                    continue;
                }
                let vectors = stored_vectors(config, &point.vector);
                store.update_vectors(offset, vectors, seq);
            }
        }
        UpdateOperation::DeleteVectors(del) => {
            for id in select(store, del.points.as_deref(), del.filter.as_ref(), scope) {
                let offset = store.offsets[&id] as usize;
                store.delete_vectors(offset, &del.vector, seq);
            }
        }
    }
}
