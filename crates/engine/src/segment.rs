//! The points of a collection in memory, in columns, and their checkpoint file.
//!
//! Points live at dense offsets `0..len`; a delete moves the last point into
//! the hole, so every column stays contiguous and a scan touches no gaps.
//! Dense vectors of one name sit back to back in one vector of their
//! element type (`crate::dense`).
//!
//! Checkpoint file (`points.bin`), written whole to a temporary file, fsynced
//! and renamed over the old one:
//!
//! ```text
//! "OSPRSEG2" | body | crc32c(body): u32 LE
//! body = applied_seq: u64 | json_len: u32 | json | dense_count: u32 | dense*
//! dense = name_len: u32 | name | dim: u32 | type: u8 | n: u64 | present: n bytes | n*dim elements LE
//! ```
//! `type` is 0 for f32, 1 for float16, 2 for uint8. `OSPRSEG1` files (no
//! type byte, f32 rows) are still read.
//! The JSON part holds ids, versions, payloads, payload index schema, sparse
//! and multi vectors. A file whose checksum fails is refused, never trusted.
//! Payload index structures are not stored: they are rebuilt from the schema
//! and the payloads on load.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{CollectionConfig, Distance};
use crate::dense::{DenseData, DenseRow, ElementType, Typed, TypedQuery};
use crate::vector_file::VectorRows;
use crate::error::{EngineError, Result};
use crate::filter::{Filter, PointView};
use crate::operations::PayloadFieldSchema;
use crate::payload_index::{Cardinality, FieldIndexes, Tokenizer};
use crate::payload_path::JsonPath;
use crate::shard_key::{NO_SHARD, ShardKey, ShardKeys};
use crate::types::{Payload, PointId, SparseVector, Vector};

const MAGIC: &[u8; 8] = b"OSPRSEG3";
/// A checkpoint with typed dense rows inline (snapshots, and checkpoints
/// written before row files).
const MAGIC_INLINE: &[u8; 8] = b"OSPRSEG2";
/// Checkpoints written before typed storage: every dense row is f32 and
/// there is no element type byte.
const MAGIC_V1: &[u8; 8] = b"OSPRSEG1";

/// Marks an offset without a row in [`DenseColumn::row_of`].
const NO_ROW: u32 = u32::MAX;

/// The dense vectors of one name, in the element type of its `datatype`:
/// append-only rows (a file under `vectors/`, see `vector_file.rs`) and, by
/// point offset, the row that holds the point's vector.
#[derive(Debug)]
pub(crate) struct DenseColumn {
    pub dim: usize,
    pub rows: VectorRows,
    /// The generation in the rows' file name; compaction writes the next.
    pub generation: u64,
    /// By offset: the row of the point's vector, or `NO_ROW`.
    row_of: Vec<u32>,
    pub present: Vec<bool>,
    /// The HNSW graph over this column, once the optimizer built one.
    pub index: Option<crate::vector_index::DenseIndex>,
}

impl DenseColumn {
    pub fn new(dim: usize, rows: VectorRows, generation: u64, len: usize) -> Self {
        DenseColumn { dim, rows, generation, row_of: vec![NO_ROW; len], present: vec![false; len], index: None }
    }

    pub fn element_type(&self) -> ElementType {
        self.rows.element_type()
    }

    /// The vector at `offset` as f32 values, when present.
    pub fn get(&self, offset: usize) -> Option<Vec<f32>> {
        self.present[offset].then(|| self.rows.read_f32(self.row_of[offset]))
    }

    /// The row at `offset` in its own element type, when present.
    #[inline]
    pub fn typed<E: Typed>(&self, offset: usize) -> Option<&[E]> {
        self.present[offset].then(|| self.rows.row::<E>(self.row_of[offset]))
    }

    /// The row holding the vector at `offset`, when present.
    pub fn row_number(&self, offset: usize) -> Option<u32> {
        self.present[offset].then(|| self.row_of[offset])
    }

    /// A copy of the vector at `offset` in its element type, when present.
    pub fn row_copy(&self, offset: usize) -> Option<DenseRow> {
        self.present[offset].then(|| self.rows.row_copy(self.row_of[offset]))
    }

    /// The reported score of `query` (already in stored form, see
    /// [`crate::dense::round_to`]) against the vector at `offset`.
    pub fn score(&self, distance: Distance, query: &[f32], offset: usize) -> Option<f32> {
        fn typed<E: Typed>(c: &DenseColumn, distance: Distance, query: &[f32], offset: usize) -> Option<f32> {
            let row = c.typed::<E>(offset)?;
            let q = TypedQuery::<E>::new(query);
            Some(E::scorer(distance)(&q.values, row))
        }
        match self.element_type() {
            ElementType::F32 => self.typed::<f32>(offset).map(|row| distance.score(query, row)),
            ElementType::F16 => typed::<u16>(self, distance, query, offset),
            ElementType::U8 => typed::<u8>(self, distance, query, offset),
        }
    }

    fn rows_on_disk(&self) -> bool {
        self.rows.on_disk()
    }

    /// Rows no point refers to any more.
    pub fn garbage(&self) -> usize {
        self.rows.len() - self.present.iter().filter(|p| **p).count()
    }

    /// Copies the live rows, in offset order, into `rows`: the column then
    /// reads from them. Returns the rows it used before.
    fn move_to(&mut self, mut rows: VectorRows, generation: u64) -> VectorRows {
        let same_type = rows.element_type() == self.element_type();
        for offset in 0..self.present.len() {
            if self.present[offset] {
                let from = self.row_of[offset];
                self.row_of[offset] = if same_type {
                    rows.append_row(&self.rows.row_copy(from))
                } else {
                    rows.append_f32(&self.rows.read_f32(from))
                };
            }
        }
        self.generation = generation;
        std::mem::replace(&mut self.rows, rows)
    }
}

/// Garbage rows below which a row file is never compacted.
const COMPACT_MIN_GARBAGE: usize = 64;

/// Where the rows of vector `name`, generation `generation`, are kept.
pub(crate) fn vector_file_path(dir: &Path, name: &str, generation: u64) -> PathBuf {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("v{hex}-{generation}.vec"))
}

fn new_rows(dir: Option<&Path>, name: &str, generation: u64, dim: usize, ty: ElementType, on_disk: bool) -> Result<VectorRows> {
    match dir {
        Some(dir) => VectorRows::create(&vector_file_path(dir, name, generation), dim, ty, on_disk),
        None => Ok(VectorRows::memory(dim, ty)),
    }
}

/// A copy of the row at `offset` for an index that keeps it as the old
/// vector of a dead node. Free, so it borrows the column's fields next to a
/// mutable borrow of its index.
fn old_row(rows: &VectorRows, row_of: &[u32], present: &[bool], offset: usize) -> Option<DenseRow> {
    present[offset].then(|| rows.row_copy(row_of[offset]))
}

/// Vectors of one name, whatever their kind.
#[derive(Debug)]
pub(crate) enum VectorColumn {
    Dense(DenseColumn),
    Multi(Vec<Option<Vec<Vec<f32>>>>),
    Sparse(Vec<Option<SparseVector>>),
}

impl VectorColumn {
    fn push_empty(&mut self) {
        match self {
            VectorColumn::Dense(c) => {
                c.row_of.push(NO_ROW);
                c.present.push(false);
                if let Some(ix) = &mut c.index {
                    ix.on_push();
                }
            }
            VectorColumn::Multi(rows) => rows.push(None),
            VectorColumn::Sparse(rows) => rows.push(None),
        }
    }

    fn swap_remove(&mut self, offset: usize) {
        match self {
            VectorColumn::Dense(c) => {
                if let Some(ix) = &mut c.index {
                    ix.on_swap_remove(offset, || old_row(&c.rows, &c.row_of, &c.present, offset));
                }
                c.row_of.swap_remove(offset);
                c.present.swap_remove(offset);
            }
            VectorColumn::Multi(rows) => {
                rows.swap_remove(offset);
            }
            VectorColumn::Sparse(rows) => {
                rows.swap_remove(offset);
            }
        }
    }

    pub fn has(&self, offset: usize) -> bool {
        match self {
            VectorColumn::Dense(c) => c.present[offset],
            VectorColumn::Multi(rows) => rows[offset].is_some(),
            VectorColumn::Sparse(rows) => rows[offset].is_some(),
        }
    }

    pub fn get(&self, offset: usize) -> Option<Vector> {
        match self {
            VectorColumn::Dense(c) => c.get(offset).map(Vector::Dense),
            VectorColumn::Multi(rows) => rows[offset].clone().map(Vector::Multi),
            VectorColumn::Sparse(rows) => rows[offset].clone().map(Vector::Sparse),
        }
    }

    fn clear(&mut self, offset: usize) {
        match self {
            VectorColumn::Dense(c) => {
                if let Some(ix) = &mut c.index {
                    ix.on_clear(offset, || old_row(&c.rows, &c.row_of, &c.present, offset));
                }
                c.present[offset] = false;
                c.row_of[offset] = NO_ROW;
            }
            VectorColumn::Multi(rows) => rows[offset] = None,
            VectorColumn::Sparse(rows) => rows[offset] = None,
        }
    }

    /// Stores a vector that [`PointStore::prepare_vector`] already checked.
    fn set(&mut self, offset: usize, vector: Vector) {
        match (self, vector) {
            (VectorColumn::Dense(c), Vector::Dense(v)) => {
                if let Some(ix) = &mut c.index {
                    ix.on_set(offset, || old_row(&c.rows, &c.row_of, &c.present, offset));
                }
                c.row_of[offset] = c.rows.append_f32(&v);
                c.present[offset] = true;
            }
            (VectorColumn::Multi(rows), Vector::Multi(v)) => rows[offset] = Some(v),
            (VectorColumn::Sparse(rows), Vector::Sparse(v)) => rows[offset] = Some(v),
            _ => unreachable!("vector kind checked by prepare_vector"),
        }
    }
}

/// All live points of a collection.
#[derive(Debug, Default)]
pub(crate) struct PointStore {
    pub offsets: BTreeMap<PointId, u32>,
    pub ids: Vec<PointId>,
    pub versions: Vec<u64>,
    pub payloads: Vec<Payload>,
    pub columns: BTreeMap<String, VectorColumn>,
    /// The payload index schema, by field name. Change it only through
    /// [`PointStore::create_payload_index`] / [`PointStore::delete_payload_index`].
    pub payload_index: BTreeMap<String, PayloadFieldSchema>,
    /// The structures of those indexes over the offsets above. Every change
    /// to `payloads` or to the offsets goes through a method here that keeps
    /// them current.
    pub field_indexes: FieldIndexes,
    /// The last write-ahead log record whose effect this state includes.
    pub applied_seq: u64,
    /// Where dense columns keep their row files; `None` keeps rows in
    /// memory (a store read from a snapshot, before it is installed).
    pub vectors_dir: Option<PathBuf>,
    /// Row files no column reads any more (compacted, converted, dropped):
    /// deleted once a checkpoint that does not name them is durable.
    pub retired: Vec<PathBuf>,
    /// The shard keys of a collection with custom sharding.
    pub shard_keys: ShardKeys,
    /// By offset: the slot of the shard key the point was written under,
    /// or `NO_SHARD`.
    pub shard_of: Vec<u32>,
}

/// A view of one stored point, for filters.
pub(crate) struct PointRef<'a> {
    pub store: &'a PointStore,
    pub offset: usize,
}

impl PointView for PointRef<'_> {
    fn id(&self) -> PointId {
        self.store.ids[self.offset]
    }

    fn payload(&self) -> &Payload {
        &self.store.payloads[self.offset]
    }

    fn has_vector(&self, name: &str) -> bool {
        self.store.columns.get(name).is_some_and(|c| c.has(self.offset))
    }

    fn shard(&self) -> u32 {
        self.store.shard_of[self.offset]
    }

    fn full_text_index(&self, prefix: &[&JsonPath], key: &JsonPath) -> Option<&Tokenizer> {
        self.store.field_indexes.tokenizer(prefix, key)
    }
}

impl PointStore {
    /// An empty store with one column per vector the configuration
    /// declares, rows kept in memory until [`PointStore::attach_vectors_dir`].
    pub fn new(config: &CollectionConfig) -> Self {
        let mut store = PointStore::default();
        store.sync_columns(config).expect("columns in memory need no file");
        store
    }

    /// Makes the columns match the configuration: adds missing ones (with
    /// a row file when the store has a directory), drops those of vectors
    /// the configuration no longer has, converts rows of another element
    /// type (a checkpoint from before typed storage holds float32), and
    /// follows each vector's `on_disk`.
    pub fn sync_columns(&mut self, config: &CollectionConfig) -> Result<()> {
        let len = self.ids.len();
        let dir = self.vectors_dir.clone();
        let mut dropped = Vec::new();
        self.columns.retain(|name, column| {
            let keep = config.params.vectors.get(name).is_some() || config.sparse(name).is_some();
            if !keep && let VectorColumn::Dense(c) = column && let Some(path) = c.rows.path() {
                dropped.push(path.to_path_buf());
            }
            keep
        });
        self.retired.extend(dropped);
        for (name, params) in config.params.vectors.iter() {
            let ty = crate::dense::stored_type(params.datatype);
            let on_disk = params.rows_on_disk();
            if let Some(VectorColumn::Dense(c)) = self.columns.get_mut(name) {
                if c.element_type() != ty {
                    let generation = c.generation + 1;
                    let rows = new_rows(dir.as_deref(), name, generation, c.dim, ty, on_disk)?;
                    let old = c.move_to(rows, generation);
                    self.retired.extend(old.path().map(Path::to_path_buf));
                    c.index = None;
                }
                c.rows.set_on_disk(on_disk);
                continue;
            }
            if self.columns.contains_key(name) {
                continue;
            }
            let column = if params.multivector_config.is_some() {
                VectorColumn::Multi(vec![None; len])
            } else {
                let dim = params.size as usize;
                VectorColumn::Dense(DenseColumn::new(dim, new_rows(dir.as_deref(), name, 1, dim, ty, on_disk)?, 1, len))
            };
            self.columns.insert(name.to_string(), column);
        }
        for name in config.params.sparse_vectors.iter().flat_map(|m| m.keys()) {
            self.columns.entry(name.clone()).or_insert_with(|| VectorColumn::Sparse(vec![None; len]));
        }
        Ok(())
    }

    /// Gives the store its row directory: columns held in memory (a new
    /// store, or one read from a snapshot or an older checkpoint) move into
    /// files there.
    pub fn attach_vectors_dir(&mut self, dir: &Path) -> Result<()> {
        self.vectors_dir = Some(dir.to_path_buf());
        for (name, column) in &mut self.columns {
            if let VectorColumn::Dense(c) = column
                && c.rows.path().is_none()
            {
                let generation = c.generation + 1;
                let rows = VectorRows::create(&vector_file_path(dir, name, generation), c.dim, c.element_type(), false)?;
                c.move_to(rows, generation);
            }
        }
        Ok(())
    }

    /// Rewrites the rows of every column whose file is mostly garbage (rows
    /// of vectors since replaced or deleted) into a new file of live rows.
    /// The old files are retired: deleted once a checkpoint no longer names
    /// them. Runs under the write lock: the cost, proportional to the live
    /// rows, is paid once per as many rows written.
    pub fn compact_vectors(&mut self) -> Result<()> {
        let Some(dir) = self.vectors_dir.clone() else { return Ok(()) };
        for (name, column) in &mut self.columns {
            let VectorColumn::Dense(c) = column else { continue };
            let garbage = c.garbage();
            if garbage < COMPACT_MIN_GARBAGE || garbage < c.rows.len() / 2 {
                continue;
            }
            let generation = c.generation + 1;
            let on_disk = c.rows.path().is_some() && c.rows_on_disk();
            let rows = VectorRows::create(&vector_file_path(&dir, name, generation), c.dim, c.element_type(), on_disk)?;
            let old = c.move_to(rows, generation);
            self.retired.extend(old.path().map(Path::to_path_buf));
        }
        Ok(())
    }

    /// Whether any column would be compacted now.
    pub fn needs_compaction(&self) -> bool {
        self.vectors_dir.is_some()
            && self.columns.values().any(|c| match c {
                VectorColumn::Dense(c) => {
                    let garbage = c.garbage();
                    garbage >= COMPACT_MIN_GARBAGE && garbage >= c.rows.len() / 2
                }
                _ => false,
            })
    }

    /// Handles to every row file, to sync outside the lock; fails while a
    /// row could not be written.
    pub fn row_files(&self) -> Result<Vec<std::fs::File>> {
        let mut files = Vec::new();
        for column in self.columns.values() {
            if let VectorColumn::Dense(c) = column {
                c.rows.sync_check()?;
                files.extend(c.rows.file_handle()?);
            }
        }
        Ok(files)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn view(&self, offset: usize) -> PointRef<'_> {
        PointRef { store: self, offset }
    }

    /// Checks a vector against the collection's configuration and brings it
    /// into stored form (Cosine vectors normalised). Called before anything
    /// changes, so a bad vector never leaves a half-applied write.
    pub fn prepare_vector(config: &CollectionConfig, name: &str, vector: Vector) -> Result<Vector> {
        let not_existing = || EngineError::BadInput(format!("Not existing vector name error: {name}"));
        if let Some(params) = config.params.vectors.get(name) {
            let dim = params.size as usize;
            let check_dim = |got: usize| {
                if got == dim {
                    Ok(())
                } else {
                    Err(EngineError::BadInput(format!("Vector dimension error: expected dim: {dim}, got {got}")))
                }
            };
            return match (params.multivector_config.is_some(), vector) {
                (false, Vector::Dense(mut v)) => {
                    check_dim(v.len())?;
                    check_finite(&v)?;
                    to_stored_form(params, &mut v);
                    Ok(Vector::Dense(v))
                }
                (true, Vector::Multi(mut rows)) => {
                    if rows.is_empty() {
                        return Err(EngineError::BadInput("multivector must not be empty".into()));
                    }
                    for row in &mut rows {
                        check_dim(row.len())?;
                        check_finite(row)?;
                        to_stored_form(params, row);
                    }
                    Ok(Vector::Multi(rows))
                }
                (true, Vector::Dense(v)) => {
                    check_dim(v.len())?;
                    check_finite(&v)?;
                    let mut v = v;
                    to_stored_form(params, &mut v);
                    Ok(Vector::Multi(vec![v]))
                }
                (false, Vector::Multi(_)) => Err(EngineError::BadInput(format!(
                    "Wrong input: vector `{name}` is not a multivector, got a multivector"
                ))),
                (_, Vector::Sparse(_)) => Err(EngineError::BadInput(format!(
                    "Conversion between sparse and regular vectors failed for vector `{name}`"
                ))),
                (_, Vector::Inference(_)) => Err(inference_unsupported()),
            };
        }
        if config.sparse(name).is_some() {
            return match vector {
                Vector::Sparse(s) => Ok(Vector::Sparse(normalize_sparse(s)?)),
                Vector::Inference(_) => Err(inference_unsupported()),
                _ => Err(EngineError::BadInput(format!(
                    "Conversion between sparse and regular vectors failed for vector `{name}`"
                ))),
            };
        }
        Err(not_existing())
    }

    /// Inserts or replaces a point. Vectors must come from `prepare_vector`.
    pub fn upsert(&mut self, id: PointId, vectors: BTreeMap<String, Vector>, payload: Payload, version: u64) {
        let offset = match self.offsets.get(&id) {
            Some(&offset) => {
                let offset = offset as usize;
                for column in self.columns.values_mut() {
                    column.clear(offset);
                }
                self.field_indexes.remove(offset, &self.payloads[offset]);
                self.payloads[offset] = payload;
                self.field_indexes.add(offset, &self.payloads[offset]);
                self.versions[offset] = version;
                offset
            }
            None => {
                let offset = self.ids.len();
                self.offsets.insert(id, offset as u32);
                self.ids.push(id);
                self.versions.push(version);
                self.shard_of.push(NO_SHARD);
                self.field_indexes.add(offset, &payload);
                self.payloads.push(payload);
                for column in self.columns.values_mut() {
                    column.push_empty();
                }
                offset
            }
        };
        for (name, vector) in vectors {
            if let Some(column) = self.columns.get_mut(&name) {
                column.set(offset, vector);
            }
        }
    }

    /// Replaces the given vectors of an existing point, keeping the others.
    pub fn update_vectors(&mut self, offset: usize, vectors: BTreeMap<String, Vector>, version: u64) {
        for (name, vector) in vectors {
            if let Some(column) = self.columns.get_mut(&name) {
                column.set(offset, vector);
            }
        }
        self.versions[offset] = version;
    }

    pub fn delete_vectors(&mut self, offset: usize, names: &[String], version: u64) {
        for name in names {
            if let Some(column) = self.columns.get_mut(name) {
                column.clear(offset);
            }
        }
        self.versions[offset] = version;
    }

    /// Changes the payload of the point at `offset` in place (set, overwrite,
    /// delete or clear payload), keeping the payload indexes current.
    pub fn update_payload(&mut self, offset: usize, version: u64, change: impl FnOnce(&mut Payload)) {
        self.field_indexes.remove(offset, &self.payloads[offset]);
        change(&mut self.payloads[offset]);
        self.field_indexes.add(offset, &self.payloads[offset]);
        self.versions[offset] = version;
    }

    /// Creates (or replaces) the index of `field` and fills it from the payloads.
    pub fn create_payload_index(&mut self, field: &str, schema: PayloadFieldSchema) {
        self.field_indexes.create(field, &schema, &self.payloads);
        self.payload_index.insert(field.to_string(), schema);
    }

    pub fn delete_payload_index(&mut self, field: &str) {
        self.field_indexes.delete(field);
        self.payload_index.remove(field);
    }

    /// Offsets (ascending) that may match `filter`, a superset of the
    /// matches, or `None` when the payload indexes do not narrow it usefully.
    /// Callers still check each candidate with `filter.matches`.
    pub fn filter_candidates(&self, filter: &Filter) -> Option<Vec<u32>> {
        self.field_indexes.candidates(filter, &self.offsets, &self.shard_of, self.len())
    }

    /// How many points `filter` may match, from the payload indexes.
    pub fn estimate_cardinality(&self, filter: &Filter) -> Cardinality {
        self.field_indexes.estimate(filter, &self.offsets, &self.shard_of, self.len())
    }

    /// The offsets to check for `filter`, ascending: its candidates, or every point.
    pub fn filter_scan(&self, filter: Option<&Filter>) -> Box<dyn Iterator<Item = usize> + '_> {
        match filter.and_then(|f| self.filter_candidates(f)) {
            Some(candidates) => Box::new(candidates.into_iter().map(|o| o as usize)),
            None => Box::new(0..self.len()),
        }
    }

    /// Removes a point; the last point moves into its offset.
    pub fn remove(&mut self, id: &PointId) -> bool {
        let Some(offset) = self.offsets.remove(id) else {
            return false;
        };
        let offset = offset as usize;
        let last = self.ids.len() - 1;
        self.field_indexes.remove(offset, &self.payloads[offset]);
        if offset != last {
            self.field_indexes.moved(last, offset, &self.payloads[last]);
        }
        self.ids.swap_remove(offset);
        self.versions.swap_remove(offset);
        self.shard_of.swap_remove(offset);
        self.payloads.swap_remove(offset);
        for column in self.columns.values_mut() {
            column.swap_remove(offset);
        }
        if offset != last {
            let moved = self.ids[offset];
            self.offsets.insert(moved, offset as u32);
        }
        true
    }

    /// The checkpoint that names the row files: the JSON part, then per
    /// dense column its file and, by offset, the row of each point.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.encode_as(false)
    }

    /// A self-contained checkpoint with every dense row inline, for
    /// snapshots (the rows' files are not part of an archive).
    pub fn encode_inline(&self) -> Result<Vec<u8>> {
        self.encode_as(true)
    }

    fn encode_as(&self, inline: bool) -> Result<Vec<u8>> {
        #[derive(Serialize)]
        struct Meta<'a> {
            ids: &'a [PointId],
            versions: &'a [u64],
            payloads: &'a [Payload],
            payload_index: &'a BTreeMap<String, PayloadFieldSchema>,
            multi: BTreeMap<&'a str, &'a Vec<Option<Vec<Vec<f32>>>>>,
            sparse: BTreeMap<&'a str, &'a Vec<Option<SparseVector>>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            shards: Option<StoredShards<'a>>,
        }
        /// Written only once a shard key exists, so checkpoints of other
        /// collections keep their old form.
        #[derive(Serialize)]
        struct StoredShards<'a> {
            keys: &'a ShardKeys,
            of_point: &'a [u32],
        }
        let shards = (self.shard_keys != ShardKeys::default())
            .then(|| StoredShards { keys: &self.shard_keys, of_point: &self.shard_of });
        let mut meta = Meta {
            shards,
            ids: &self.ids,
            versions: &self.versions,
            payloads: &self.payloads,
            payload_index: &self.payload_index,
            multi: BTreeMap::new(),
            sparse: BTreeMap::new(),
        };
        let mut dense = Vec::new();
        for (name, column) in &self.columns {
            match column {
                VectorColumn::Dense(c) => dense.push((name, c)),
                VectorColumn::Multi(rows) => {
                    meta.multi.insert(name, rows);
                }
                VectorColumn::Sparse(rows) => {
                    meta.sparse.insert(name, rows);
                }
            }
        }
        let json = serde_json::to_vec(&meta).map_err(|e| EngineError::Service(e.to_string()))?;
        let mut out = Vec::with_capacity(json.len() + 64);
        out.extend_from_slice(if inline { MAGIC_INLINE } else { MAGIC });
        out.extend_from_slice(&self.applied_seq.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&(dense.len() as u32).to_le_bytes());
        for (name, c) in dense {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(c.dim as u32).to_le_bytes());
            out.push(c.element_type().tag());
            if inline {
                out.extend_from_slice(&(c.present.len() as u64).to_le_bytes());
                out.extend(c.present.iter().map(|&p| p as u8));
                let zeros = vec![0u8; c.dim * c.element_type().size()];
                for offset in 0..c.present.len() {
                    match c.row_copy(offset) {
                        Some(row) => {
                            let mut data = DenseData::new(c.element_type());
                            data.extend_zeros(c.dim);
                            write_row(&mut data, &row);
                            data.write_le(&mut out);
                        }
                        None => out.extend_from_slice(&zeros),
                    }
                }
            } else {
                if c.rows.path().is_none() {
                    return Err(EngineError::Service(format!("vector `{name}` has no row file to checkpoint")));
                }
                out.extend_from_slice(&c.generation.to_le_bytes());
                out.extend_from_slice(&(c.rows.len() as u64).to_le_bytes());
                out.extend_from_slice(&c.rows.crc().to_le_bytes());
                out.extend_from_slice(&(c.row_of.len() as u64).to_le_bytes());
                c.row_of.iter().for_each(|r| out.extend_from_slice(&r.to_le_bytes()));
            }
        }
        let crc = crc32c::crc32c(&out[MAGIC.len()..]);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Reads checkpoint bytes back; `path` names the file in errors, and
    /// its directory holds the `vectors/` a checkpoint may name. Rows named
    /// by a checkpoint are mapped, not read; [`PointStore::row_checks`]
    /// tells what to read to check their checksums.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<PointStore> {
        let corrupt = |reason: &str| EngineError::Corrupted { path: path.to_path_buf(), reason: reason.to_string() };
        let magic = bytes.get(..MAGIC.len());
        let format = match magic {
            Some(m) if m == MAGIC => Format::Files,
            Some(m) if m == MAGIC_INLINE => Format::Inline,
            Some(m) if m == MAGIC_V1 => Format::InlineF32,
            _ => return Err(corrupt("not an Osprey checkpoint (bad magic)")),
        };
        if bytes.len() < MAGIC.len() + 4 {
            return Err(corrupt("truncated"));
        }
        let (body, crc) = bytes[MAGIC.len()..].split_at(bytes.len() - MAGIC.len() - 4);
        if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(corrupt("checksum mismatch"));
        }
        let mut r = Reader { bytes: body, pos: 0 };
        let applied_seq = r.u64().ok_or_else(|| corrupt("truncated header"))?;
        let json_len = r.u32().ok_or_else(|| corrupt("truncated header"))? as usize;
        let json = r.take(json_len).ok_or_else(|| corrupt("truncated metadata"))?;
        let meta: CheckpointMeta = match serde_json::from_slice(json) {
            Ok(meta) => meta,
            // serde_json's error has no variant to match on for this; its
            // message is stable ("recursion limit exceeded").
            Err(e) if e.to_string().contains("recursion limit") => decode_deep_meta(json, path)
                .map_err(|e| corrupt(&format!("metadata: {e}")))?,
            Err(e) => return Err(corrupt(&format!("metadata: {e}"))),
        };
        let n = meta.ids.len();
        if meta.versions.len() != n || meta.payloads.len() != n {
            return Err(corrupt("column lengths differ"));
        }
        let mut columns = BTreeMap::new();
        for (name, rows) in meta.multi {
            columns.insert(name, VectorColumn::Multi(rows));
        }
        for (name, rows) in meta.sparse {
            columns.insert(name, VectorColumn::Sparse(rows));
        }
        let vectors_dir = path.parent().map(|d| d.join(VECTORS_DIR));
        let truncated = || corrupt("truncated vectors");
        let dense_count = r.u32().ok_or_else(truncated)?;
        for _ in 0..dense_count {
            let name_len = r.u32().ok_or_else(truncated)? as usize;
            let name = r.take(name_len).ok_or_else(truncated)?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt("vector name not UTF-8"))?;
            let dim = r.u32().ok_or_else(truncated)? as usize;
            let ty = match format {
                Format::InlineF32 => ElementType::F32,
                _ => {
                    let tag = r.take(1).ok_or_else(truncated)?[0];
                    ElementType::from_tag(tag).ok_or_else(|| corrupt(&format!("unknown element type {tag}")))?
                }
            };
            let column = match format {
                Format::Inline | Format::InlineF32 => {
                    let count = r.u64().ok_or_else(truncated)? as usize;
                    let present = r.take(count).ok_or_else(truncated)?;
                    let present: Vec<bool> = present.iter().map(|&b| b != 0).collect();
                    let raw_len = count.checked_mul(dim).and_then(|n| n.checked_mul(ty.size()));
                    let raw = raw_len.and_then(|n| r.take(n)).ok_or_else(truncated)?;
                    let data = DenseData::read_le(ty, raw);
                    let mut column = DenseColumn::new(dim, VectorRows::memory(dim, ty), 0, count);
                    for (offset, &p) in present.iter().enumerate() {
                        if p {
                            column.row_of[offset] = column.rows.append_row(&data.row_copy(offset * dim, dim));
                            column.present[offset] = true;
                        }
                    }
                    column
                }
                Format::Files => {
                    let generation = r.u64().ok_or_else(truncated)?;
                    let rows = r.u64().ok_or_else(truncated)? as usize;
                    let rows_crc = r.u32().ok_or_else(truncated)?;
                    let count = r.u64().ok_or_else(truncated)? as usize;
                    let raw = count.checked_mul(4).and_then(|len| r.take(len)).ok_or_else(truncated)?;
                    let row_of: Vec<u32> =
                        raw.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
                    if let Some(bad) = row_of.iter().find(|&&row| row != NO_ROW && row as usize >= rows) {
                        return Err(corrupt(&format!("vector `{name}` names row {bad} of {rows}")));
                    }
                    let dir = vectors_dir.as_deref().ok_or_else(|| corrupt("no directory for its vector files"))?;
                    let file = vector_file_path(dir, &name, generation);
                    let vector_rows = VectorRows::open(&file, dim, ty, rows, rows_crc, false)?;
                    let present = row_of.iter().map(|&row| row != NO_ROW).collect();
                    DenseColumn { dim, rows: vector_rows, generation, row_of, present, index: None }
                }
            };
            columns.insert(name, VectorColumn::Dense(column));
        }
        for (name, column) in &columns {
            let len = match column {
                VectorColumn::Dense(c) => c.present.len(),
                VectorColumn::Multi(rows) => rows.len(),
                VectorColumn::Sparse(rows) => rows.len(),
            };
            if len != n {
                return Err(corrupt(&format!("vector column `{name}` has {len} rows, expected {n}")));
            }
        }
        let (shard_keys, shard_of) = match meta.shards {
            Some(s) if s.of_point.len() == n => (s.keys, s.of_point),
            Some(s) => return Err(corrupt(&format!("{} shard tags for {n} points", s.of_point.len()))),
            None => (ShardKeys::default(), vec![NO_SHARD; n]),
        };
        let offsets = meta.ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect();
        let field_indexes = FieldIndexes::build(&meta.payload_index, &meta.payloads);
        Ok(PointStore {
            shard_keys,
            shard_of,
            offsets,
            ids: meta.ids,
            versions: meta.versions,
            payloads: meta.payloads,
            columns,
            payload_index: meta.payload_index,
            field_indexes,
            applied_seq,
            vectors_dir: match format {
                Format::Files => vectors_dir,
                _ => None,
            },
            retired: Vec::new(),
        })
    }

    /// Tags the point at `offset` with shard key slot `slot`.
    pub fn set_shard(&mut self, offset: usize, slot: u32) {
        self.shard_of[offset] = slot;
    }

    /// The key the point at `offset` was written under, if any.
    pub fn shard_key_of(&self, offset: usize) -> Option<&ShardKey> {
        self.shard_keys.key(self.shard_of[offset])
    }

    /// Whether the point at `offset` is within `scope` (`None`: every point).
    pub fn in_shards(&self, offset: usize, scope: Option<&[u32]>) -> bool {
        scope.is_none_or(|slots| slots.binary_search(&self.shard_of[offset]).is_ok())
    }

    /// Path, byte length and checksum of the rows of every row file, for
    /// [`crate::vector_file::check_rows`].
    pub fn row_checks(&self) -> Vec<(PathBuf, u64, u32)> {
        self.columns
            .values()
            .filter_map(|c| match c {
                VectorColumn::Dense(c) => c.rows.check_spec(),
                _ => None,
            })
            .collect()
    }

    /// The row files the columns read.
    pub fn row_file_paths(&self) -> Vec<PathBuf> {
        self.columns
            .values()
            .filter_map(|c| match c {
                VectorColumn::Dense(c) => c.rows.path().map(Path::to_path_buf),
                _ => None,
            })
            .collect()
    }
}
/// The subdirectory of a collection that holds its row files.
pub(crate) const VECTORS_DIR: &str = "vectors";

/// How a checkpoint holds dense rows.
#[derive(Clone, Copy)]
enum Format {
    /// `OSPRSEG3`: in row files under `vectors/`.
    Files,
    /// `OSPRSEG2`: inline, typed.
    Inline,
    /// `OSPRSEG1`: inline, f32.
    InlineF32,
}

/// Copies a typed row into rows of the same type at the start.
fn write_row(data: &mut DenseData, row: &DenseRow) {
    match (data, row) {
        (DenseData::F32(d), DenseRow::F32(r)) => d[..r.len()].copy_from_slice(r),
        (DenseData::F16(d), DenseRow::F16(r)) => d[..r.len()].copy_from_slice(r),
        (DenseData::U8(d), DenseRow::U8(r)) => d[..r.len()].copy_from_slice(r),
        _ => unreachable!("rows of one column share one element type"),
    }
}

/// The JSON part of a checkpoint.
#[derive(Deserialize)]
struct CheckpointMeta {
    ids: Vec<PointId>,
    versions: Vec<u64>,
    payloads: Vec<Payload>,
    payload_index: BTreeMap<String, PayloadFieldSchema>,
    multi: BTreeMap<String, Vec<Option<Vec<Vec<f32>>>>>,
    sparse: BTreeMap<String, Vec<Option<SparseVector>>>,
    #[serde(default)]
    shards: Option<StoredShardsOwned>,
}

#[derive(Deserialize)]
struct StoredShardsOwned {
    keys: ShardKeys,
    of_point: Vec<u32>,
}

/// Reads checkpoint metadata that holds payloads nested deeper than JSON
/// decoding allows, as an older build could write before payload depth was
/// bounded. Each payload past [`crate::limits::MAX_PAYLOAD_DEPTH`] is moved to
/// the quarantine folder and its point keeps an empty payload, so one such
/// point never keeps the collection from opening. Decoding, encoding and
/// dropping such trees recurse, so all of it runs on a thread with a large stack.
fn decode_deep_meta(json: &[u8], checkpoint: &Path) -> std::result::Result<CheckpointMeta, String> {
    const DEEP_STACK: usize = 256 * 1024 * 1024;
    let dir = checkpoint.parent().unwrap_or(Path::new("."));
    std::thread::scope(|scope| {
        let work = std::thread::Builder::new().stack_size(DEEP_STACK).spawn_scoped(scope, || {
            let mut de = serde_json::Deserializer::from_slice(json);
            de.disable_recursion_limit();
            let mut meta = CheckpointMeta::deserialize(&mut de).map_err(|e| e.to_string())?;
            for (id, payload) in meta.ids.iter().zip(meta.payloads.iter_mut()) {
                if crate::limits::payload_depth(payload) > crate::limits::MAX_PAYLOAD_DEPTH {
                    let deep = std::mem::take(payload);
                    let bytes = serde_json::to_vec(&serde_json::json!({"id": id, "payload": deep})).unwrap_or_default();
                    let reason = format!("the payload of point {id} in {} is nested too deep", checkpoint.display());
                    crate::collection::quarantine(dir, &format!("payload-{id}.json"), &bytes, &reason);
                }
            }
            Ok(meta)
        });
        match work {
            Ok(handle) => handle.join().unwrap_or_else(|_| Err("decoding deep payloads failed".into())),
            Err(e) => Err(format!("starting the decoder thread: {e}")),
        }
    })
}

impl PointStore {
    /// Whether a decoded state fits a configuration: unique ids, and every
    /// vector the configuration declares stored in a column of its kind and
    /// dimension (a foreign checkpoint must not reach search with, say, a
    /// 2-dimensional column under a 4-dimensional vector). Columns of vectors
    /// the configuration lacks are dropped on open, so they are allowed.
    pub(crate) fn check_against(&self, config: &CollectionConfig) -> std::result::Result<(), String> {
        if self.offsets.len() != self.ids.len() {
            return Err("point ids are not unique".into());
        }
        for (name, params) in config.params.vectors.iter() {
            let dim = params.size as usize;
            match (self.columns.get(name), params.multivector_config.is_some()) {
                (None, _) => {}
                (Some(VectorColumn::Multi(rows)), true) if rows.iter().flatten().flatten().all(|v| v.len() == dim) => {}
                (Some(VectorColumn::Dense(c)), false) if c.dim == dim => {}
                _ => return Err(format!("vector `{name}` is stored in a form its configuration does not declare")),
            }
        }
        for name in config.params.sparse_vectors.iter().flat_map(|m| m.keys()) {
            let fits = match self.columns.get(name) {
                None => true,
                Some(VectorColumn::Sparse(rows)) => rows.iter().flatten().all(|v| v.indices.len() == v.values.len()),
                Some(_) => false,
            };
            if !fits {
                return Err(format!("sparse vector `{name}` is stored in a form its configuration does not declare"));
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let io = |e| EngineError::io(format!("writing {}", tmp.display()), e);
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| EngineError::io(format!("renaming {}", tmp.display()), e))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| EngineError::io(format!("syncing {}", dir.display()), e))?;
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
}

/// What a vector of these parameters stores: Cosine vectors normalised
/// (except `uint8`, which cannot hold a unit vector: its kernel divides by
/// the norms), then rounded to the element type, as Qdrant does.
pub(crate) fn to_stored_form(params: &crate::config::VectorParams, v: &mut [f32]) {
    let ty = crate::dense::stored_type(params.datatype);
    if params.distance == Distance::Cosine && ty != ElementType::U8 {
        crate::distance::normalize(v);
    }
    crate::dense::round_to(ty, v);
}

fn check_finite(v: &[f32]) -> Result<()> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(EngineError::BadInput("vector contains NaN or infinite values".into()))
    }
}

fn inference_unsupported() -> EngineError {
    EngineError::BadInput(
        "Documents, images and objects need server-side inference, which this server does not provide; send vectors"
            .into(),
    )
}

/// Sorts a sparse vector by index and refuses duplicates and length mismatches.
fn normalize_sparse(s: SparseVector) -> Result<SparseVector> {
    if s.indices.len() != s.values.len() {
        return Err(EngineError::BadInput(
            "Validation error: sparse vector indices and values must have the same length".into(),
        ));
    }
    let mut pairs: Vec<(u32, f32)> = s.indices.into_iter().zip(s.values).collect();
    pairs.sort_by_key(|p| p.0);
    if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(EngineError::BadInput("Validation error: sparse vector indices must be unique".into()));
    }
    check_finite(&pairs.iter().map(|p| p.1).collect::<Vec<_>>())?;
    Ok(SparseVector { indices: pairs.iter().map(|p| p.0).collect(), values: pairs.iter().map(|p| p.1).collect() })
}
