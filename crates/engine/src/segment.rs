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
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{CollectionConfig, Distance};
use crate::dense::{DenseData, DenseRow, ElementType, Typed, TypedQuery};
use crate::error::{EngineError, Result};
use crate::filter::{Filter, PointView};
use crate::operations::PayloadFieldSchema;
use crate::payload_index::{Cardinality, FieldIndexes, Tokenizer};
use crate::payload_path::JsonPath;
use crate::types::{Payload, PointId, SparseVector, Vector};

const MAGIC: &[u8; 8] = b"OSPRSEG2";
/// Checkpoints written before typed storage: every dense row is f32 and
/// there is no element type byte.
const MAGIC_V1: &[u8; 8] = b"OSPRSEG1";

/// The dense vectors of one name, in the element type of its `datatype`.
#[derive(Debug, Clone)]
pub(crate) struct DenseColumn {
    pub dim: usize,
    pub data: DenseData,
    pub present: Vec<bool>,
    /// The HNSW graph over this column, once the optimizer built one.
    pub index: Option<crate::vector_index::DenseIndex>,
}

impl DenseColumn {
    pub fn new(dim: usize, ty: ElementType, len: usize) -> Self {
        let mut data = DenseData::new(ty);
        data.extend_zeros(dim * len);
        DenseColumn { dim, data, present: vec![false; len], index: None }
    }

    /// The vector at `offset` as f32 values, when present.
    pub fn get(&self, offset: usize) -> Option<Vec<f32>> {
        self.present[offset].then(|| self.data.read_f32(offset * self.dim, self.dim))
    }

    /// The row at `offset` in its own element type, when present.
    pub fn typed<E: Typed>(&self, offset: usize) -> Option<&[E]> {
        if !self.present[offset] {
            return None;
        }
        E::rows(&self.data).map(|rows| &rows[offset * self.dim..(offset + 1) * self.dim])
    }

    /// The reported score of `query` (already in stored form, see
    /// [`crate::dense::round_to`]) against the vector at `offset`.
    pub fn score(&self, distance: Distance, query: &[f32], offset: usize) -> Option<f32> {
        fn typed<E: Typed>(c: &DenseColumn, distance: Distance, query: &[f32], offset: usize) -> Option<f32> {
            let row = c.typed::<E>(offset)?;
            let q = TypedQuery::<E>::new(query);
            Some(E::scorer(distance)(&q.values, row))
        }
        match &self.data {
            DenseData::F32(_) => self.typed::<f32>(offset).map(|row| distance.score(query, row)),
            DenseData::F16(_) => typed::<u16>(self, distance, query, offset),
            DenseData::U8(_) => typed::<u8>(self, distance, query, offset),
        }
    }

}

/// A copy of the row at `offset` for an index that keeps it as the old
/// vector of a dead node. Free, so it borrows the column's fields next to a
/// mutable borrow of its index.
fn old_row(data: &DenseData, present: &[bool], dim: usize, offset: usize) -> Option<DenseRow> {
    present[offset].then(|| data.row_copy(offset * dim, dim))
}

/// Vectors of one name, whatever their kind.
#[derive(Debug, Clone)]
pub(crate) enum VectorColumn {
    Dense(DenseColumn),
    Multi(Vec<Option<Vec<Vec<f32>>>>),
    Sparse(Vec<Option<SparseVector>>),
}

impl VectorColumn {
    fn push_empty(&mut self) {
        match self {
            VectorColumn::Dense(c) => {
                c.data.extend_zeros(c.dim);
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
                    ix.on_swap_remove(offset, || old_row(&c.data, &c.present, c.dim, offset));
                }
                let last = c.present.len() - 1;
                if offset != last {
                    c.data.copy_within(last * c.dim, offset * c.dim, c.dim);
                }
                c.data.truncate(last * c.dim);
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
                    ix.on_clear(offset, || old_row(&c.data, &c.present, c.dim, offset));
                }
                c.present[offset] = false;
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
                    ix.on_set(offset, || old_row(&c.data, &c.present, c.dim, offset));
                }
                c.data.write_f32(offset * c.dim, &v);
                c.present[offset] = true;
            }
            (VectorColumn::Multi(rows), Vector::Multi(v)) => rows[offset] = Some(v),
            (VectorColumn::Sparse(rows), Vector::Sparse(v)) => rows[offset] = Some(v),
            _ => unreachable!("vector kind checked by prepare_vector"),
        }
    }
}

/// All live points of a collection.
#[derive(Debug, Clone, Default)]
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

    fn full_text_index(&self, prefix: &[&JsonPath], key: &JsonPath) -> Option<&Tokenizer> {
        self.store.field_indexes.tokenizer(prefix, key)
    }
}

impl PointStore {
    /// An empty store with one column per vector the configuration declares.
    pub fn new(config: &CollectionConfig) -> Self {
        let mut store = PointStore::default();
        store.sync_columns(config);
        store
    }

    /// Makes the columns match the configuration: adds missing ones, drops
    /// those of vectors the configuration no longer has.
    pub fn sync_columns(&mut self, config: &CollectionConfig) {
        let len = self.ids.len();
        self.columns.retain(|name, _| config.params.vectors.get(name).is_some() || config.sparse(name).is_some());
        for (name, params) in config.params.vectors.iter() {
            let ty = crate::dense::stored_type(params.datatype);
            if let Some(existing) = self.columns.get_mut(name) {
                // A checkpoint from before typed storage holds float32 rows.
                if let VectorColumn::Dense(c) = existing
                    && c.data.element_type() != ty
                {
                    c.data = c.data.convert(ty);
                    c.index = None;
                }
                continue;
            }
            let column = if params.multivector_config.is_some() {
                VectorColumn::Multi(vec![None; len])
            } else {
                VectorColumn::Dense(DenseColumn::new(params.size as usize, ty, len))
            };
            self.columns.insert(name.to_string(), column);
        }
        for name in config.params.sparse_vectors.iter().flat_map(|m| m.keys()) {
            self.columns.entry(name.clone()).or_insert_with(|| VectorColumn::Sparse(vec![None; len]));
        }
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
        self.field_indexes.candidates(filter, &self.offsets, self.len())
    }

    /// How many points `filter` may match, from the payload indexes.
    pub fn estimate_cardinality(&self, filter: &Filter) -> Cardinality {
        self.field_indexes.estimate(filter, &self.offsets, self.len())
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

    /// Serialises the whole state into checkpoint bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        #[derive(Serialize)]
        struct Meta<'a> {
            ids: &'a [PointId],
            versions: &'a [u64],
            payloads: &'a [Payload],
            payload_index: &'a BTreeMap<String, PayloadFieldSchema>,
            multi: BTreeMap<&'a str, &'a Vec<Option<Vec<Vec<f32>>>>>,
            sparse: BTreeMap<&'a str, &'a Vec<Option<SparseVector>>>,
        }
        let mut meta = Meta {
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
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.applied_seq.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&(dense.len() as u32).to_le_bytes());
        for (name, c) in dense {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(c.dim as u32).to_le_bytes());
            out.push(c.data.element_type().tag());
            out.extend_from_slice(&(c.present.len() as u64).to_le_bytes());
            out.extend(c.present.iter().map(|&p| p as u8));
            c.data.write_le(&mut out);
        }
        let crc = crc32c::crc32c(&out[MAGIC.len()..]);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Reads checkpoint bytes back; `path` only names the file in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<PointStore> {
        let corrupt = |reason: &str| EngineError::Corrupted { path: path.to_path_buf(), reason: reason.to_string() };
        if bytes.len() < MAGIC.len() + 4 || (&bytes[..MAGIC.len()] != MAGIC && &bytes[..MAGIC.len()] != MAGIC_V1) {
            return Err(corrupt("not an Osprey checkpoint (bad magic)"));
        }
        let typed = &bytes[..MAGIC.len()] == MAGIC;
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
        let dense_count = r.u32().ok_or_else(|| corrupt("truncated vectors"))?;
        for _ in 0..dense_count {
            let name_len = r.u32().ok_or_else(|| corrupt("truncated vectors"))? as usize;
            let name = r.take(name_len).ok_or_else(|| corrupt("truncated vectors"))?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt("vector name not UTF-8"))?;
            let dim = r.u32().ok_or_else(|| corrupt("truncated vectors"))? as usize;
            let ty = match typed {
                true => {
                    let tag = r.take(1).ok_or_else(|| corrupt("truncated vectors"))?[0];
                    ElementType::from_tag(tag).ok_or_else(|| corrupt(&format!("unknown element type {tag}")))?
                }
                false => ElementType::F32,
            };
            let count = r.u64().ok_or_else(|| corrupt("truncated vectors"))? as usize;
            let present = r.take(count).ok_or_else(|| corrupt("truncated vectors"))?;
            let present: Vec<bool> = present.iter().map(|&b| b != 0).collect();
            let raw_len = count.checked_mul(dim).and_then(|n| n.checked_mul(ty.size()));
            let raw = raw_len.and_then(|n| r.take(n)).ok_or_else(|| corrupt("truncated vectors"))?;
            let data = DenseData::read_le(ty, raw);
            columns.insert(name, VectorColumn::Dense(DenseColumn { dim, data, present, index: None }));
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
        let offsets = meta.ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect();
        let field_indexes = FieldIndexes::build(&meta.payload_index, &meta.payloads);
        Ok(PointStore {
            offsets,
            ids: meta.ids,
            versions: meta.versions,
            payloads: meta.payloads,
            columns,
            payload_index: meta.payload_index,
            field_indexes,
            applied_seq,
        })
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
