//! The HNSW index of one dense vector column: which graph node stands for
//! which point offset, and how a background build is planned and installed.
//!
//! The graph holds links only; vectors stay in the column. Points move
//! between offsets (a delete moves the last point into the hole), so the
//! column keeps two maps, node -> offset and offset -> node, which its
//! mutations update in O(1).
//!
//! A point whose vector changes, or which is deleted, leaves its node behind
//! as a dead node: never returned, but still walked through, with its old
//! vector kept aside so the graph stays connected until the next rebuild.
//! Points written since the last build are "unindexed" and scanned exactly
//! next to the graph search, so a search is never missing a point.
//!
//! Building never holds the collection's lock: a plan copies the vectors it
//! needs under a read lock, the graph is built from the copy, and the result
//! is reconciled with whatever changed meanwhile under a short write lock.
//! A node is kept only when its point still has the version it had when
//! copied; anything else becomes a dead node and its point stays unindexed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{CollectionConfig, Distance, HnswConfig};
use crate::dense::{DenseRow, ElementType, Typed, TypedQuery};
use crate::vector_file::SharedRows;
use crate::hnsw::{Hnsw, HnswParams, NodeVectors};
use crate::quantization::{Method, Quantized, QuantizedQuery, SearchOptions, score_from_similarity};
use crate::segment::{DenseColumn, PointStore, VectorColumn};
use crate::types::PointId;

/// Marks "no node" in the offset -> node map and "no offset" in the other.
pub(crate) const NONE: u32 = u32::MAX;

/// Graph construction parameters that make an index stale when they change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GraphShape {
    pub m: usize,
    pub ef_construct: usize,
}

/// The index of one dense column.
#[derive(Clone)]
pub(crate) struct DenseIndex {
    graph: Arc<Hnsw>,
    shape: GraphShape,
    /// By offset: the node of the point there, or NONE when unindexed.
    node_of: Vec<u32>,
    /// By node: the offset of its point, or NONE for a dead node.
    offset_of: Vec<u32>,
    /// Old vectors of dead nodes, so searches can still walk through them.
    graveyard: HashMap<u32, DenseRow>,
    /// Offsets holding a vector that no node stands for.
    unindexed: HashSet<u32>,
    live: usize,
    /// Quantized codes of the nodes, when the vector asks for quantization.
    quantized: Option<Arc<Quantized>>,
}

impl std::fmt::Debug for DenseIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseIndex")
            .field("nodes", &self.offset_of.len())
            .field("live", &self.live)
            .field("unindexed", &self.unindexed.len())
            .finish()
    }
}

impl DenseIndex {
    /// An index with no graph yet, over a column of `len` rows where `present`
    /// tells which rows hold a vector: every such row is unindexed.
    fn detached(len: usize, present: &[bool], shape: GraphShape, graph: Hnsw) -> DenseIndex {
        DenseIndex {
            graph: Arc::new(graph),
            shape,
            node_of: vec![NONE; len],
            offset_of: Vec::new(),
            graveyard: HashMap::new(),
            unindexed: present.iter().enumerate().filter(|(_, p)| **p).map(|(o, _)| o as u32).collect(),
            live: 0,
            quantized: None,
        }
    }

    pub fn live(&self) -> usize {
        self.live
    }

    pub fn unindexed(&self) -> usize {
        self.unindexed.len()
    }

    pub fn dead(&self) -> usize {
        self.offset_of.len() - self.live
    }

    pub fn nodes(&self) -> usize {
        self.offset_of.len()
    }

    /// Whether node `node` has a vector to walk through: its point's, or
    /// the old one kept for a dead node.
    fn walkable(&self, column: &DenseColumn, node: u32) -> bool {
        match self.offset_of.get(node as usize) {
            Some(&NONE) => self.graveyard.contains_key(&node),
            Some(&offset) => column.present[offset as usize],
            None => false,
        }
    }

    /// The point at `offset` is about to lose or change its vector `old`.
    fn detach(&mut self, offset: usize, old: impl FnOnce() -> Option<DenseRow>) {
        let node = self.node_of[offset];
        if node != NONE {
            self.offset_of[node as usize] = NONE;
            self.node_of[offset] = NONE;
            self.live -= 1;
            if let Some(old) = old() {
                self.graveyard.insert(node, old);
            }
        }
        self.unindexed.remove(&(offset as u32));
    }

    // ---- hooks called by DenseColumn before it changes its data ----------

    pub(crate) fn on_push(&mut self) {
        self.node_of.push(NONE);
    }

    pub(crate) fn on_set(&mut self, offset: usize, old: impl FnOnce() -> Option<DenseRow>) {
        self.detach(offset, old);
        self.unindexed.insert(offset as u32);
    }

    pub(crate) fn on_clear(&mut self, offset: usize, old: impl FnOnce() -> Option<DenseRow>) {
        self.detach(offset, old);
    }

    /// The row at `offset` is removed and the last row moves into it.
    pub(crate) fn on_swap_remove(&mut self, offset: usize, old: impl FnOnce() -> Option<DenseRow>) {
        self.detach(offset, old);
        let last = self.node_of.len() - 1;
        if offset != last {
            let node = self.node_of[last];
            self.node_of[offset] = node;
            if node != NONE {
                self.offset_of[node as usize] = offset as u32;
            }
            if self.unindexed.remove(&(last as u32)) {
                self.unindexed.insert(offset as u32);
            }
        }
        self.node_of.pop();
    }

    // ---- search -----------------------------------------------------------

    /// The best `k` offsets for which `accept` holds, as `(score, offset)`,
    /// best first: graph search over indexed points plus an exact scan of the
    /// unindexed ones. `query` is in stored form (normalised and rounded as
    /// the column's vectors are).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn search(
        &self,
        column: &DenseColumn,
        distance: Distance,
        query: &[f32],
        k: usize,
        ef: usize,
        options: SearchOptions,
        accept: &dyn Fn(usize) -> bool,
        strict: bool,
    ) -> Vec<(f32, usize)> {
        let run = |strict| match column.element_type() {
            ElementType::F32 => self.search_typed::<f32>(column, distance, query, k, ef, options, accept, strict),
            ElementType::F16 => self.search_typed::<u16>(column, distance, query, k, ef, options, accept, strict),
            ElementType::U8 => self.search_typed::<u8>(column, distance, query, k, ef, options, accept, strict),
        };
        let hits = run(strict);
        // A strict walk that found fewer than k (the matches near the entry
        // were not linked to the rest) is not trusted: walk again through all.
        if strict && hits.len() < k { run(false) } else { hits }
    }

    /// Quantized codes in use for a search with these options.
    fn codes(&self, options: SearchOptions) -> Option<&Quantized> {
        self.quantized.as_deref().filter(|q| !options.ignore && q.nodes() == self.nodes())
    }

    #[allow(clippy::too_many_arguments)]
    fn search_typed<E: Typed>(
        &self,
        column: &DenseColumn,
        distance: Distance,
        query_f32: &[f32],
        k: usize,
        ef: usize,
        options: SearchOptions,
        accept: &dyn Fn(usize) -> bool,
        strict: bool,
    ) -> Vec<(f32, usize)> {
        let query = TypedQuery::<E>::new(query_f32);
        let query = &query.values[..];
        let accept_node = |node: u32| {
            let offset = self.offset_of[node as usize];
            offset != NONE && accept(offset as usize)
        };
        let score = E::scorer(distance);
        let rescore = |(node, _): (u32, f32)| {
            let offset = self.offset_of[node as usize] as usize;
            column.typed::<E>(offset).map(|v| (score(query, v), offset))
        };
        let mut hits: Vec<(f32, usize)> = match self.codes(options) {
            Some(quantized) => {
                // Walk with the codes, hand `limit × oversampling` candidates
                // to the originals (or report the approximate scores).
                let candidates = options.candidates(k).max(k);
                let space = QuantizedNodes { index: self, column, query: quantized.query(query_f32) };
                let found =
                    self.graph.search_filtered(&[], candidates, ef.max(candidates), &space, &accept_node, strict);
                if options.rescore {
                    let mut hits: Vec<(f32, usize)> = found.into_iter().filter_map(rescore).collect();
                    hits.sort_by(|a, b| distance.cmp_scores(a.0, b.0).then(a.1.cmp(&b.1)));
                    hits.truncate(k);
                    hits
                } else {
                    found
                        .into_iter()
                        .take(k)
                        .map(|(node, sim)| (score_from_similarity(distance, sim), self.offset_of[node as usize] as usize))
                        .collect()
                }
            }
            None => {
                let vectors = ColumnNodes::<E>::new(column, self, distance);
                self.graph
                    .search_filtered(query, k, ef, &vectors, &accept_node, strict)
                    .into_iter()
                    .filter_map(rescore)
                    .collect()
            }
        };
        if !self.unindexed.is_empty() {
            hits.extend(
                self.unindexed
                    .iter()
                    .map(|&o| o as usize)
                    .filter(|&o| accept(o))
                    .filter_map(|o| column.typed::<E>(o).map(|v| (score(query, v), o))),
            );
        }
        hits
    }
}

/// The graph's view of the quantized codes, bound to one query: the
/// similarity ignores its first argument (the graph passes an empty query)
/// and scores the code against the prepared query.
struct QuantizedNodes<'a> {
    index: &'a DenseIndex,
    column: &'a DenseColumn,
    query: QuantizedQuery<'a>,
}

impl NodeVectors for QuantizedNodes<'_> {
    type Elem = u8;

    fn vector(&self, node: u32) -> Option<&[u8]> {
        if !self.index.walkable(self.column, node) {
            return None;
        }
        self.index.quantized.as_deref()?.code(node)
    }

    #[inline]
    fn similarity(&self, _query: &[u8], code: &[u8]) -> f32 {
        self.query.similarity(code)
    }
}

/// The graph's view of a column: live nodes read the column, dead ones the graveyard.
struct ColumnNodes<'a, E> {
    column: &'a DenseColumn,
    index: &'a DenseIndex,
    sim: fn(&[E], &[E]) -> f32,
}

impl<'a, E: Typed> ColumnNodes<'a, E> {
    fn new(column: &'a DenseColumn, index: &'a DenseIndex, distance: Distance) -> Self {
        ColumnNodes { column, index, sim: E::similarity_fn(distance) }
    }
}

impl<E: Typed> NodeVectors for ColumnNodes<'_, E> {
    type Elem = E;

    fn vector(&self, node: u32) -> Option<&[E]> {
        match self.index.offset_of.get(node as usize) {
            Some(&offset) if offset != NONE => self.column.typed::<E>(offset as usize),
            Some(_) => self.index.graveyard.get(&node).and_then(E::row),
            None => None,
        }
    }

    #[inline]
    fn similarity(&self, a: &[E], b: &[E]) -> f32 {
        (self.sim)(a, b)
    }
}

// ---- planning, building and installing ------------------------------------

/// The graph parameters of vector `name`: the collection's, overridden by the vector's own.
pub(crate) fn effective_hnsw(config: &CollectionConfig, name: &str) -> HnswConfig {
    let mut hnsw = config.hnsw_config.clone();
    if let Some(diff) = config.params.vectors.get(name).and_then(|p| p.hnsw_config.as_ref()) {
        if let Some(m) = diff.m {
            hnsw.m = m;
        }
        if let Some(ef) = diff.ef_construct {
            hnsw.ef_construct = ef;
        }
        if let Some(t) = diff.full_scan_threshold {
            hnsw.full_scan_threshold = t;
        }
        if let Some(p) = diff.payload_m {
            hnsw.payload_m = Some(p);
        }
        if let Some(t) = diff.max_indexing_threads {
            hnsw.max_indexing_threads = t;
        }
    }
    hnsw
}

/// How many vectors of `dim` floats make `kilobytes` (Qdrant states its
/// thresholds in kilobytes of vector data).
pub(crate) fn vectors_in_kb(kilobytes: u64, dim: usize) -> usize {
    ((kilobytes as usize).saturating_mul(1024) / (dim.max(1) * 4)).max(1)
}

/// What the optimizer should do to one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// A new graph over every vector.
    Rebuild,
    /// Insert the unindexed vectors into the current graph.
    Extend,
    /// Keep the graph, make its quantized codes anew (quantization was
    /// set, changed or dropped, or the codes were not kept over a restart).
    Requantize,
}

/// The quantization of vector `name`: its own `quantization_config`, else
/// the collection's. Values were checked when the configuration was made.
pub(crate) fn effective_quantization(config: &CollectionConfig, name: &str) -> Option<Method> {
    let own = config.params.vectors.get(name).and_then(|p| p.quantization_config.as_ref());
    let value = own.or(config.quantization_config.as_ref())?;
    Method::parse(value).ok().flatten()
}

/// Decides whether column `name` needs work. `idle` is true when the
/// collection has had no write for a while: then even a small tail of
/// unindexed vectors is worth inserting into an existing graph.
pub(crate) fn needed_work(config: &CollectionConfig, name: &str, column: &DenseColumn, idle: bool) -> Option<Work> {
    let threshold_kb = config.optimizer_config.indexing_threshold.unwrap_or(10_000);
    if threshold_kb == 0 {
        return None; // Qdrant: 0 disables indexing.
    }
    let threshold = vectors_in_kb(threshold_kb, column.dim);
    let hnsw = effective_hnsw(config, name);
    if hnsw.m == 0 {
        return None; // m = 0 disables the graph, as in Qdrant.
    }
    let shape = GraphShape { m: hnsw.m as usize, ef_construct: hnsw.ef_construct.max(4) as usize };
    match &column.index {
        None => {
            // The optimizer asks this of every collection ten times a second:
            // the row count bounds the vectors, so small columns are never counted.
            let enough = column.present.len() >= threshold
                && column.present.iter().filter(|p| **p).count() >= threshold;
            enough.then_some(Work::Rebuild)
        }
        Some(ix) => {
            let dead = ix.dead();
            let vacuum_min = config.optimizer_config.vacuum_min_vector_number as usize;
            if ix.shape != shape {
                Some(Work::Rebuild)
            } else if dead >= vacuum_min && dead as f64 > config.optimizer_config.deleted_threshold * ix.nodes() as f64 {
                Some(Work::Rebuild)
            } else if ix.unindexed() >= threshold || (idle && ix.unindexed() > 0) {
                Some(Work::Extend)
            } else if effective_quantization(config, name).as_ref() != ix.quantized.as_ref().map(|q| &q.method) {
                Some(Work::Requantize)
            } else {
                None
            }
        }
    }
}

/// Everything a build needs, copied out of the store under its read lock.
pub(crate) struct BuildPlan {
    pub name: String,
    pub work: Work,
    pub shape: GraphShape,
    pub distance: Distance,
    pub threads: usize,
    pub payload_m: Option<usize>,
    /// Smallest group of points sharing a payload value that gets payload_m
    /// links: smaller groups are searched exactly anyway.
    pub min_group: usize,
    dim: usize,
    /// The graph to extend (for `Work::Extend`), or to keep (`Work::Requantize`).
    base: Option<Arc<Hnsw>>,
    /// The quantization the codes must follow, and codes to extend.
    quantization: Option<Method>,
    base_quantized: Option<Arc<Quantized>>,
    /// Where the vector of every node the build reads is; `has[i]` false
    /// for dead nodes whose vector is gone.
    ty: ElementType,
    source: PlanSource,
    has: Vec<bool>,
    /// The new nodes: first node number, and the (id, version) each stands for.
    first_new: u32,
    new_points: Vec<(PointId, u64)>,
}

/// The vectors of a build's nodes. Rows in a file are read in place,
/// without the store's lock: they never change once appended, and the plan
/// holds the map it read them from. Old vectors of dead nodes (and rows of
/// a store without files) are copied.
struct PlanSource {
    shared: Option<SharedRows>,
    /// By node: its row in `shared`, or `NONE` when the vector is in `copies`.
    row_of_node: Vec<u32>,
    copies: HashMap<u32, DenseRow>,
}

impl PlanSource {
    fn new(column: &DenseColumn) -> PlanSource {
        PlanSource { shared: column.rows.shared(), row_of_node: Vec::new(), copies: HashMap::new() }
    }

    fn set(&mut self, node: u32, row: u32) {
        let i = node as usize;
        if self.row_of_node.len() <= i {
            self.row_of_node.resize(i + 1, NONE);
        }
        self.row_of_node[i] = row;
    }

    fn push_row(&mut self, node: u32, row: &DenseRow) {
        self.set(node, NONE);
        self.copies.insert(node, row.clone());
    }

    /// Node `node` reads the vector of the point at `offset`; false when it has none.
    fn push_offset(&mut self, node: u32, column: &DenseColumn, offset: usize) -> bool {
        match (column.row_number(offset), &self.shared) {
            (None, _) => {
                self.set(node, NONE);
                false
            }
            (Some(row), Some(_)) => {
                self.set(node, row);
                true
            }
            (Some(_), None) => {
                let row = column.row_copy(offset).expect("present");
                self.push_row(node, &row);
                true
            }
        }
    }

    #[inline]
    fn vector<E: Typed>(&self, node: u32) -> Option<&[E]> {
        match self.row_of_node.get(node as usize) {
            Some(&NONE) | None => self.copies.get(&node).and_then(E::row),
            Some(&row) => self.shared.as_ref()?.row::<E>(row),
        }
    }

    fn row_copy(&self, ty: ElementType, node: u32) -> Option<DenseRow> {
        Some(match ty {
            ElementType::F32 => DenseRow::F32(self.vector::<f32>(node)?.into()),
            ElementType::F16 => DenseRow::F16(self.vector::<u16>(node)?.into()),
            ElementType::U8 => DenseRow::U8(self.vector::<u8>(node)?.into()),
        })
    }

    fn read_f32(&self, ty: ElementType, node: u32) -> Option<Vec<f32>> {
        fn read<E: Typed>(source: &PlanSource, node: u32) -> Option<Vec<f32>> {
            Some(source.vector::<E>(node)?.iter().map(|&x| x.to_f32()).collect())
        }
        match ty {
            ElementType::F32 => read::<f32>(self, node),
            ElementType::F16 => read::<u16>(self, node),
            ElementType::U8 => read::<u8>(self, node),
        }
    }
}

struct PlanVectors<'a, E> {
    source: &'a PlanSource,
    has: &'a [bool],
    sim: fn(&[E], &[E]) -> f32,
}

impl<E: Typed> NodeVectors for PlanVectors<'_, E> {
    type Elem = E;

    #[inline]
    fn vector(&self, node: u32) -> Option<&[E]> {
        if !*self.has.get(node as usize)? {
            return None;
        }
        self.source.vector::<E>(node)
    }

    #[inline]
    fn similarity(&self, a: &[E], b: &[E]) -> f32 {
        (self.sim)(a, b)
    }
}

impl BuildPlan {
    /// Copies what building `work` on column `name` needs.
    pub(crate) fn new(config: &CollectionConfig, store: &PointStore, name: &str, work: Work) -> Option<BuildPlan> {
        let Some(VectorColumn::Dense(column)) = store.columns.get(name) else { return None };
        let hnsw = effective_hnsw(config, name);
        let shape = GraphShape { m: hnsw.m as usize, ef_construct: hnsw.ef_construct.max(4) as usize };
        let distance = config.params.vectors.get(name)?.distance;
        let dim = column.dim;
        let mut source = PlanSource::new(column);
        let mut has = Vec::new();
        let base = match (&column.index, work) {
            (Some(ix), Work::Extend | Work::Requantize) => {
                for node in 0..ix.nodes() as u32 {
                    let found = match ix.offset_of[node as usize] {
                        NONE => ix.graveyard.get(&node).map(|row| source.push_row(node, row)).is_some(),
                        o => source.push_offset(node, column, o as usize),
                    };
                    has.push(found);
                }
                Some(ix.graph.clone())
            }
            _ => None,
        };
        let first_new = has.len() as u32;
        let mut fresh: Vec<usize> = match (&column.index, work) {
            (Some(ix), Work::Extend) => ix.unindexed.iter().map(|&o| o as usize).collect(),
            (Some(_), Work::Requantize) => Vec::new(),
            _ => (0..column.present.len()).filter(|&o| column.present[o]).collect(),
        };
        let quantization = effective_quantization(config, name);
        let base_quantized = match (&column.index, work) {
            (Some(ix), Work::Extend) => ix.quantized.clone().filter(|q| Some(&q.method) == quantization.as_ref()),
            _ => None,
        };
        // Nodes in id order: a rebuild of the same data gives the same graph.
        fresh.sort_unstable_by_key(|&o| store.ids[o]);
        let mut new_points = Vec::with_capacity(fresh.len());
        for o in fresh {
            if !column.present[o] {
                continue;
            }
            source.push_offset(has.len() as u32, column, o);
            has.push(true);
            new_points.push((store.ids[o], store.versions[o]));
        }
        let threads = match hnsw.max_indexing_threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n as usize,
        };
        Some(BuildPlan {
            name: name.to_string(),
            work,
            shape,
            distance,
            threads,
            payload_m: Some(hnsw.payload_m.unwrap_or(hnsw.m) as usize),
            min_group: vectors_in_kb(hnsw.full_scan_threshold, dim),
            dim,
            base,
            quantization,
            base_quantized,
            ty: column.element_type(),
            source,
            has,
            first_new,
            new_points,
        })
    }

    pub fn new_points(&self) -> usize {
        self.new_points.len()
    }

    /// Builds the graph and the quantized codes; None when `stop` said so.
    pub(crate) fn build(&self, stop: &(dyn Fn() -> bool + Sync)) -> Option<(Hnsw, Option<Quantized>)> {
        let graph = match (&self.base, self.work, self.ty) {
            (Some(base), Work::Requantize, _) => (**base).clone(),
            (_, _, ElementType::F32) => self.build_typed::<f32>(stop)?,
            (_, _, ElementType::F16) => self.build_typed::<u16>(stop)?,
            (_, _, ElementType::U8) => self.build_typed::<u8>(stop)?,
        };
        if stop() {
            return None;
        }
        Some((graph, self.quantize()))
    }

    /// Done reading the rows: drops the pages the build touched from the
    /// resident set when the vector is `on_disk`.
    pub(crate) fn release(&self) {
        if let Some(shared) = &self.source.shared {
            shared.release();
        }
    }

    /// Codes for every node of the plan, extending the current ones when
    /// they follow the same quantization.
    fn quantize(&self) -> Option<Quantized> {
        let method = self.quantization.as_ref()?;
        let dim = self.dim;
        let row = |i: usize| if self.has[i] { self.source.read_f32(self.ty, i as u32) } else { None };
        let total = self.has.len();
        Some(match &self.base_quantized {
            Some(base) if base.nodes() <= total => {
                let mut codes = (**base).clone();
                codes.extend(total, &row);
                codes
            }
            _ => Quantized::build(method, self.distance, dim, total, &row),
        })
    }

    fn vectors<E: Typed>(&self) -> PlanVectors<'_, E> {
        PlanVectors { source: &self.source, has: &self.has, sim: E::similarity_fn(self.distance) }
    }

    fn build_typed<E: Typed>(&self, stop: &(dyn Fn() -> bool + Sync)) -> Option<Hnsw> {
        let vectors = self.vectors::<E>();
        let total = self.has.len() as u32;
        match &self.base {
            Some(base) => {
                let mut graph = (**base).clone();
                graph.extend(total, &vectors, self.threads, stop).then_some(graph)
            }
            None => {
                let params = HnswParams {
                    m: self.shape.m,
                    ef_construct: self.shape.ef_construct,
                    threads: self.threads,
                    seed: 0x05b1_e7_u64 ^ total as u64,
                };
                Hnsw::build(params, self.distance, total, &vectors, stop)
            }
        }
    }

    /// Adds payload_m links for groups of nodes sharing a payload value.
    pub(crate) fn add_payload_links(&self, graph: &mut Hnsw, groups: &[Vec<u32>]) {
        let Some(payload_m) = self.payload_m.filter(|&p| p > 0) else { return };
        fn add<E: Typed>(plan: &BuildPlan, graph: &mut Hnsw, groups: &[Vec<u32>], payload_m: usize) {
            let vectors = plan.vectors::<E>();
            for group in groups.iter().filter(|g| g.len() >= plan.min_group) {
                graph.add_subgraph_links(group, payload_m, plan.shape.ef_construct, &vectors);
            }
        }
        match self.ty {
            ElementType::F32 => add::<f32>(self, graph, groups, payload_m),
            ElementType::F16 => add::<u16>(self, graph, groups, payload_m),
            ElementType::U8 => add::<u8>(self, graph, groups, payload_m),
        }
    }

    /// The new nodes' points as offsets in `store`, for grouping by payload.
    pub(crate) fn new_node_offsets<'a>(&'a self, store: &'a PointStore) -> impl Iterator<Item = (u32, usize)> + 'a {
        self.new_points.iter().enumerate().filter_map(move |(i, (id, version))| {
            let o = *store.offsets.get(id)? as usize;
            (store.versions[o] == *version).then_some((self.first_new + i as u32, o))
        })
    }

    /// Puts the built graph in place, keeping only nodes whose point is
    /// unchanged since the plan was made. Returns false when the column is
    /// gone or changed shape meanwhile.
    pub(crate) fn install(self, store: &mut PointStore, graph: Hnsw, quantized: Option<Quantized>) -> bool {
        let offsets = &store.offsets;
        let versions = &store.versions;
        let Some(VectorColumn::Dense(column)) = store.columns.get_mut(&self.name) else { return false };
        if column.dim != self.dim {
            return false;
        }
        let mut index = match (self.base.as_ref(), column.index.take()) {
            (Some(base), Some(mut ix)) if Arc::ptr_eq(base, &ix.graph) => {
                ix.graph = Arc::new(graph);
                ix
            }
            (Some(_), old) => {
                // The graph was replaced while we extended it: drop our work.
                column.index = old;
                return false;
            }
            (None, _) => DenseIndex::detached(column.present.len(), &column.present, self.shape, graph),
        };
        index.quantized = quantized.map(Arc::new);
        let total = self.has.len();
        index.offset_of.resize(total, NONE);
        for (i, (id, version)) in self.new_points.iter().enumerate() {
            let node = self.first_new + i as u32;
            let current = offsets.get(id).map(|&o| o as usize);
            let linked = match current {
                Some(o) if versions[o] == *version && column.present[o] && index.node_of[o] == NONE => {
                    index.node_of[o] = node;
                    index.offset_of[node as usize] = o as u32;
                    index.unindexed.remove(&(o as u32));
                    index.live += 1;
                    true
                }
                _ => false,
            };
            if !linked && let Some(row) = self.source.row_copy(self.ty, node) {
                index.graveyard.insert(node, row);
            }
        }
        column.index = Some(index);
        true
    }
}

// ---- persistence -----------------------------------------------------------

const MAGIC: &[u8; 8] = b"OSPRHNS2";
/// Index files written before quantized codes were kept in them.
const MAGIC_V1: &[u8; 8] = b"OSPRHNS1";

/// Where the graph of vector `name` is kept in a collection directory.
pub(crate) fn graph_path(dir: &Path, name: &str) -> PathBuf {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    dir.join("index").join(format!("v{hex}.hnsw"))
}

/// The bytes of a column's index: shape, dimension, the (id, version) of every
/// live node, and the graph. Dead nodes are written as such.
pub(crate) fn encode_index(column: &DenseColumn, store: &PointStore) -> Option<Vec<u8>> {
    let ix = column.index.as_ref()?;
    let graph = ix.graph.encode();
    let mut out = Vec::with_capacity(graph.len() + ix.nodes() * 26 + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(ix.shape.m as u32).to_le_bytes());
    out.extend_from_slice(&(ix.shape.ef_construct as u32).to_le_bytes());
    out.extend_from_slice(&(column.dim as u32).to_le_bytes());
    out.extend_from_slice(&(ix.nodes() as u64).to_le_bytes());
    for &offset in &ix.offset_of {
        if offset == NONE {
            out.push(0);
            continue;
        }
        let o = offset as usize;
        match store.ids[o] {
            PointId::Num(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_le_bytes());
            }
            PointId::Uuid(u) => {
                out.push(2);
                out.extend_from_slice(u.as_bytes());
            }
        }
        out.extend_from_slice(&store.versions[o].to_le_bytes());
    }
    out.extend_from_slice(&(graph.len() as u64).to_le_bytes());
    out.extend_from_slice(&graph);
    match ix.quantized.as_deref().filter(|q| q.nodes() == ix.nodes()) {
        Some(q) => {
            out.push(1);
            out.extend_from_slice(&q.to_bytes());
        }
        None => out.push(0),
    }
    let crc = crc32c::crc32c(&out[MAGIC.len()..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Some(out)
}

/// Attaches a persisted index to a loaded column. Nodes whose point is gone
/// or has another version than when the graph was saved become dead nodes
/// without a vector (the graph walks around them); those points are scanned
/// exactly until the next build. A file that fails its checks is an error
/// the caller logs before building afresh.
pub(crate) fn attach_index(bytes: &[u8], name: &str, store: &mut PointStore) -> std::result::Result<(), String> {
    if bytes.len() < MAGIC.len() + 4 || (&bytes[..MAGIC.len()] != MAGIC && &bytes[..MAGIC.len()] != MAGIC_V1) {
        return Err("bad magic".into());
    }
    let with_codes = &bytes[..MAGIC.len()] == MAGIC;
    let (body, crc) = bytes[MAGIC.len()..].split_at(bytes.len() - MAGIC.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().map_err(|_| "short")?) {
        return Err("checksum mismatch".into());
    }
    let mut pos = 0usize;
    let mut take = |n: usize| -> std::result::Result<&[u8], String> {
        let s = body.get(pos..pos + n).ok_or("truncated")?;
        pos += n;
        Ok(s)
    };
    let u32_at = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes"));
    let u64_at = |s: &[u8]| u64::from_le_bytes(s.try_into().expect("8 bytes"));
    let m = u32_at(take(4)?) as usize;
    let ef_construct = u32_at(take(4)?) as usize;
    let dim = u32_at(take(4)?) as usize;
    let nodes = u64_at(take(8)?) as usize;
    let mut points: Vec<Option<(PointId, u64)>> = Vec::with_capacity(nodes.min(1 << 24));
    for _ in 0..nodes {
        let id = match take(1)?[0] {
            0 => {
                points.push(None);
                continue;
            }
            1 => PointId::Num(u64_at(take(8)?)),
            2 => PointId::Uuid(uuid::Uuid::from_bytes(take(16)?.try_into().expect("16 bytes"))),
            t => return Err(format!("unknown id tag {t}")),
        };
        let version = u64_at(take(8)?);
        points.push(Some((id, version)));
    }
    let graph_len = u64_at(take(8)?) as usize;
    let graph = Hnsw::decode(take(graph_len)?)?;
    if graph.len() as usize != nodes {
        return Err(format!("graph has {} nodes, table {nodes}", graph.len()));
    }
    let quantized = match with_codes && take(1)?[0] == 1 {
        true => {
            let rest = &body[pos..];
            let q = Quantized::from_bytes(rest)?;
            if q.nodes() != nodes {
                return Err(format!("{} codes for {nodes} nodes", q.nodes()));
            }
            Some(Arc::new(q))
        }
        false => None,
    };
    let ids = &store.offsets;
    let versions = &store.versions;
    let Some(VectorColumn::Dense(column)) = store.columns.get_mut(name) else {
        return Err("no such dense vector".into());
    };
    if column.dim != dim {
        return Err(format!("dimension {dim} differs from the column's {}", column.dim));
    }
    let mut index =
        DenseIndex::detached(column.present.len(), &column.present, GraphShape { m, ef_construct }, graph);
    index.quantized = quantized;
    index.offset_of = vec![NONE; nodes];
    for (node, point) in points.into_iter().enumerate() {
        let Some((id, version)) = point else { continue };
        let Some(&o) = ids.get(&id) else { continue };
        let o = o as usize;
        if versions[o] == version && column.present[o] && index.node_of[o] == NONE {
            index.node_of[o] = node as u32;
            index.offset_of[node] = o as u32;
            index.unindexed.remove(&(o as u32));
            index.live += 1;
        }
    }
    column.index = Some(index);
    Ok(())
}
