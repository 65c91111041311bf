//! HNSW graph index (Malkov & Yashunin, "Efficient and robust approximate
//! nearest neighbor search using Hierarchical Navigable Small World graphs").
//!
//! The graph holds links only. Vectors belong to the caller and are read
//! through [`NodeVectors`]; a node whose vector is gone (`None`, a deleted
//! point) is neither scored nor expanded, so deleting needs no graph update.
//!
//! Layout of a finished graph:
//! - level 0 is one `Vec<u32>` with a fixed stride of `cap0 + 1` per node:
//!   the link count, then up to `cap0` links (`cap0` = 2·m);
//! - level-0 links beyond `cap0` (sub-graph links of
//!   [`Hnsw::add_subgraph_links`]) sit in a compact overflow array, so one
//!   node in many payload sub-graphs does not widen every node's slot;
//! - upper levels are sparse: only nodes above level 0 have a block there,
//!   `m + 1` u32 per level (count, links).
//!
//! The build works on per-node locked lists ([`build`]) and flattens them
//! when done; [`Hnsw::extend`] reopens a finished graph the same way.
//!
//! Scores inside the graph are similarities (higher is closer), as the
//! caller's [`NodeVectors`] computes them; the caller turns the best nodes
//! into reported scores (and rescores quantized candidates with the
//! originals).
//!
//! This module depends on nothing in the crate but [`Distance`], so the
//! benchmark (`benches/hnsw.rs`) compiles it directly.

use crate::config::Distance;

mod build;
mod codec;
mod traverse;

#[cfg(test)]
mod tests;

use build::Builder;
use traverse::{Links, Scored, greedy, search_layer, with_scratch};

/// Where the graph reads the vector of a node, and how it compares two.
/// The element type is whatever the caller stores: f32, float16 bit
/// patterns, bytes, or quantized codes; the graph only ranks by
/// [`NodeVectors::similarity`].
pub(crate) trait NodeVectors: Sync {
    type Elem: Copy + Sync;

    /// `None`: the node has no vector any more (deleted); it is then neither
    /// scored nor expanded during search.
    fn vector(&self, node: u32) -> Option<&[Self::Elem]>;

    /// Similarity of two vectors, higher is closer. For a search, `a` is the
    /// query in the same element type.
    fn similarity(&self, a: &[Self::Elem], b: &[Self::Elem]) -> f32;
}

/// f32 vectors back to back, node i at `[i*dim..(i+1)*dim]`. Used for builds and tests.
#[allow(dead_code, reason = "used by the tests and the bench")]
pub(crate) struct FlatVectors<'a> {
    dim: usize,
    data: &'a [f32],
    sim: SimFn,
}

#[allow(dead_code, reason = "used by the tests and the bench")]
impl<'a> FlatVectors<'a> {
    pub fn new(distance: Distance, dim: usize, data: &'a [f32]) -> Self {
        FlatVectors { dim, data, sim: distance.similarity_fn() }
    }
}

impl NodeVectors for FlatVectors<'_> {
    type Elem = f32;

    #[inline]
    fn vector(&self, node: u32) -> Option<&[f32]> {
        let start = node as usize * self.dim;
        self.data.get(start..start + self.dim)
    }

    #[inline]
    fn similarity(&self, a: &[f32], b: &[f32]) -> f32 {
        (self.sim)(a, b)
    }
}

/// Build parameters. `m` below 2 is taken as 2 (the level distribution needs
/// ln m > 0); `ef_construct` below `m` as `m`; `threads` 0 means all cores.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HnswParams {
    pub m: usize,
    pub ef_construct: usize,
    pub threads: usize,
    pub seed: u64,
}

/// Similarity of two f32 vectors, higher is closer: [`Distance::similarity_fn`],
/// resolved once. Cosine vectors are normalised by the caller, so Cosine is
/// the dot product; Euclid is minus the squared distance.
type SimFn = fn(&[f32], &[f32]) -> f32;

/// Highest level a node can get. With m = 2 a level above 24 has probability
/// 2^-24 per node; the cap only guards the `u8` and the file format.
const MAX_LEVEL: u8 = 24;

/// An HNSW graph over nodes `0..len()`.
#[derive(Debug, Clone)]
pub(crate) struct Hnsw {
    distance: Distance,
    m: usize,
    ef_construct: usize,
    seed: u64,
    len: u32,
    /// Entry point of every search: a node of the highest level.
    entry: Option<u32>,
    levels: Vec<u8>,
    /// Main level-0 capacity per node; the slot stride is `cap0 + 1`.
    cap0: usize,
    links0: Vec<u32>,
    /// Level-0 links beyond `cap0`: node i's are `extra0[extra0_at[i]..extra0_at[i + 1]]`.
    /// Empty when no node has any.
    extra0_at: Vec<usize>,
    extra0: Vec<u32>,
    /// Per node: start of its block in `upper`, or `u32::MAX` at level 0.
    upper_at: Vec<u32>,
    /// Per upper level of a node: count, then `m` link slots.
    upper: Vec<u32>,
}

impl Links for Hnsw {
    #[inline]
    fn links_into(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        if level == 0 {
            out.extend_from_slice(self.level0(node));
            if !self.extra0_at.is_empty() {
                out.extend_from_slice(self.extra0(node));
            }
        } else {
            out.extend_from_slice(self.upper_links(node, level));
        }
    }
}

impl Hnsw {
    /// Builds a graph over nodes `0..nodes`. `stop` is polled every few
    /// hundred insertions; when it returns true the build is abandoned
    /// (`None`).
    pub fn build<V: NodeVectors + ?Sized>(
        params: HnswParams,
        distance: Distance,
        nodes: u32,
        vectors: &V,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Option<Hnsw> {
        let m = params.m.max(2);
        let ef_construct = params.ef_construct.max(m);
        let builder = Builder::new(distance, m, ef_construct, params.seed, nodes, vectors);
        if !builder.insert_range(0, nodes, params.threads, stop) {
            return None;
        }
        Some(builder.finish())
    }

    /// Inserts nodes `self.len()..new_len` into the graph. False when `stop`
    /// abandoned the insertion; the graph is then unchanged.
    ///
    /// Sub-graph links past a node's 2·m main slots are kept as they are;
    /// those that took free main slots are pruned like any other link. New
    /// nodes get no sub-graph links: add them for the new nodes' subsets.
    pub fn extend<V: NodeVectors + ?Sized>(
        &mut self,
        new_len: u32,
        vectors: &V,
        threads: usize,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> bool {
        if new_len <= self.len {
            return true;
        }
        let start = self.len;
        let builder = Builder::reopen(self, new_len, vectors);
        if !builder.insert_range(start, new_len, threads, stop) {
            return false;
        }
        *self = builder.finish();
        true
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    #[allow(dead_code, reason = "graph API the collection does not call yet")]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[allow(dead_code, reason = "graph API the collection does not call yet")]
    pub fn distance(&self) -> Distance {
        self.distance
    }

    /// Best `k` nodes for which `accept(node)` is true, best first, with
    /// their similarity to `query` as `vectors` computes it. Rejected nodes
    /// are still traversed (so filtered search stays connected) but never
    /// returned. `ef` is raised to at least `k`.
    #[allow(dead_code, reason = "the entry point of the tests and the bench; the engine passes `strict`")]
    pub fn search<V: NodeVectors + ?Sized>(
        &self,
        query: &[V::Elem],
        k: usize,
        ef: usize,
        vectors: &V,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        self.search_filtered(query, k, ef, vectors, accept, false)
    }

    /// [`Hnsw::search`]; `strict` scores and expands only accepted nodes at
    /// level 0 (past the entry point), for a filter whose matches are
    /// linked among themselves: the walk then costs what an unfiltered one
    /// does. It may find fewer than `k`; the caller then searches again
    /// without it.
    pub fn search_filtered<V: NodeVectors + ?Sized>(
        &self,
        query: &[V::Elem],
        k: usize,
        ef: usize,
        vectors: &V,
        accept: &dyn Fn(u32) -> bool,
        strict: bool,
    ) -> Vec<(u32, f32)> {
        if k == 0 || self.len == 0 {
            return Vec::new();
        }
        let ef = ef.max(k);
        let Some((start, top)) = self.start(vectors) else { return Vec::new() };
        let Some(start_vector) = vectors.vector(start) else { return Vec::new() };
        let mut current = Scored { sim: vectors.similarity(query, start_vector), node: start };
        let mut found = Vec::new();
        with_scratch(|scratch| {
            for level in (1..=top).rev() {
                greedy(self, vectors, query, level, &mut current, &mut scratch.links);
            }
            scratch.start(self.len as usize);
            scratch.visited.insert(current.node);
            scratch.candidates.push(current);
            if accept(current.node) {
                scratch.results.push(std::cmp::Reverse(current));
            }
            search_layer(self, vectors, query, 0, ef, accept, strict, scratch);
            scratch.take_sorted(&mut found);
        });
        found.iter().take(k).map(|s| (s.node, s.sim)).collect()
    }

    /// Extra level-0 links among `subset` (Qdrant's `payload_m`): a graph of
    /// `payload_m` is built over the subset alone and its level-0 links are
    /// added to the nodes' lists, never replacing main links. Nodes past
    /// `len()` or without a vector are ignored.
    pub fn add_subgraph_links<V: NodeVectors + ?Sized>(
        &mut self,
        subset: &[u32],
        payload_m: usize,
        ef_construct: usize,
        vectors: &V,
    ) {
        if payload_m == 0 {
            return;
        }
        let mut ids: Vec<u32> = subset.iter().copied().filter(|&n| n < self.len).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() < 2 {
            return;
        }
        let sub_vectors = SubsetVectors { ids: &ids, inner: vectors };
        let params = HnswParams {
            m: payload_m,
            ef_construct,
            threads: if ids.len() >= 4096 { 0 } else { 1 },
            seed: self.seed ^ u64::from(ids[0]).rotate_left(32) ^ ids.len() as u64,
        };
        let Some(sub) = Hnsw::build(params, self.distance, ids.len() as u32, &sub_vectors, &|| false) else {
            return;
        };
        let mut lists: Vec<Vec<u32>> = (0..self.len).map(|n| self.full_level0(n)).collect();
        let mut buf = Vec::new();
        for (local, &node) in ids.iter().enumerate() {
            buf.clear();
            sub.links_into(local as u32, 0, &mut buf);
            let list = &mut lists[node as usize];
            for &other in &buf {
                let other = ids[other as usize];
                if other != node && !list.contains(&other) {
                    list.push(other);
                }
            }
        }
        self.set_level0(lists.len(), |n| &lists[n]);
    }

    /// Heap memory held by the graph, in bytes.
    #[allow(dead_code, reason = "graph API the collection does not call yet")]
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.levels.capacity()
            + self.links0.capacity() * 4
            + self.extra0_at.capacity() * std::mem::size_of::<usize>()
            + self.extra0.capacity() * 4
            + self.upper_at.capacity() * 4
            + self.upper.capacity() * 4
    }

    /// Main level-0 links of `node`.
    #[inline]
    fn level0(&self, node: u32) -> &[u32] {
        let stride = self.cap0 + 1;
        let at = node as usize * stride;
        match self.links0.get(at..at + stride) {
            Some(slot) => &slot[1..1 + (slot[0] as usize).min(self.cap0)],
            None => &[],
        }
    }

    /// Level-0 links of `node` beyond `cap0`.
    #[inline]
    fn extra0(&self, node: u32) -> &[u32] {
        let i = node as usize;
        match (self.extra0_at.get(i), self.extra0_at.get(i + 1)) {
            (Some(&from), Some(&to)) => self.extra0.get(from..to).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// All level-0 links of `node`.
    fn full_level0(&self, node: u32) -> Vec<u32> {
        let mut out = Vec::new();
        self.links_into(node, 0, &mut out);
        out
    }

    /// Links of `node` at `level` ≥ 1.
    #[inline]
    fn upper_links(&self, node: u32, level: usize) -> &[u32] {
        let i = node as usize;
        let Some(&at) = self.upper_at.get(i) else { return &[] };
        if at == u32::MAX || level > usize::from(self.levels[i]) {
            return &[];
        }
        let stride = self.m + 1;
        let from = at as usize + (level - 1) * stride;
        match self.upper.get(from..from + stride) {
            Some(block) => &block[1..1 + (block[0] as usize).min(self.m)],
            None => &[],
        }
    }

    /// Replaces every level-0 list (`list(n)` for n in `0..count`); lists
    /// longer than `2·m` spill into the overflow array.
    fn set_level0<'l>(&mut self, count: usize, list: impl Fn(usize) -> &'l [u32]) {
        let cap0 = 2 * self.m;
        let stride = cap0 + 1;
        let mut links0 = vec![0u32; count * stride];
        let spills = (0..count).any(|n| list(n).len() > cap0);
        let mut extra0_at = Vec::with_capacity(if spills { count + 1 } else { 0 });
        let mut extra0 = Vec::new();
        for node in 0..count {
            let links = list(node);
            let main = links.len().min(cap0);
            let slot = &mut links0[node * stride..(node + 1) * stride];
            slot[0] = main as u32;
            slot[1..1 + main].copy_from_slice(&links[..main]);
            if spills {
                extra0_at.push(extra0.len());
                extra0.extend_from_slice(&links[main..]);
            }
        }
        if spills {
            extra0_at.push(extra0.len());
        }
        self.cap0 = cap0;
        self.links0 = links0;
        self.extra0_at = extra0_at;
        self.extra0 = extra0;
    }

    /// Replaces the upper levels: `lists[n]` holds the lists of node n at
    /// levels 1..=levels[n] (each at most `m` long).
    fn set_upper(&mut self, lists: &[Vec<Vec<u32>>]) {
        let stride = self.m + 1;
        let mut upper_at = vec![u32::MAX; lists.len()];
        let mut upper = Vec::new();
        for (node, node_lists) in lists.iter().enumerate() {
            if node_lists.is_empty() {
                continue;
            }
            upper_at[node] = u32::try_from(upper.len()).expect("upper levels exceed 4 Gi links");
            for list in node_lists {
                let n = list.len().min(self.m);
                upper.push(n as u32);
                upper.extend_from_slice(&list[..n]);
                upper.resize(upper.len() + self.m - n, 0);
            }
            debug_assert_eq!(upper.len() % stride, 0);
        }
        self.upper_at = upper_at;
        self.upper = upper;
    }

    /// Where a search starts: the entry point, or, when its vector is gone,
    /// the nearest node with a vector found by walking out from it, or, as
    /// a last resort, the first linked node with a vector. Returns the node
    /// and the level to descend from.
    fn start<V: NodeVectors + ?Sized>(&self, vectors: &V) -> Option<(u32, usize)> {
        let entry = self.entry?;
        find_start(self, &self.levels, entry, vectors, self.len)
    }
}

/// See [`Hnsw::start`]; shared with the build, which may reopen a graph
/// whose entry point has been deleted since.
fn find_start<G: Links + ?Sized, V: NodeVectors + ?Sized>(
    graph: &G,
    levels: &[u8],
    entry: u32,
    vectors: &V,
    len: u32,
) -> Option<(u32, usize)> {
    let level_of = |n: u32| levels.get(n as usize).map_or(0, |&l| usize::from(l));
    if vectors.vector(entry).is_some() {
        return Some((entry, level_of(entry)));
    }
    // Breadth-first from the entry over all of its levels, highest first, a
    // bounded number of nodes: the first node with a vector is near the top.
    const WALK_LIMIT: usize = 4096;
    let mut queue = vec![entry];
    let mut seen = std::collections::HashSet::from([entry]);
    let mut links = Vec::new();
    let mut head = 0;
    while head < queue.len() && seen.len() < WALK_LIMIT {
        let node = queue[head];
        head += 1;
        for level in (0..=level_of(node)).rev() {
            links.clear();
            graph.links_into(node, level, &mut links);
            for &next in &links {
                if next < len && seen.insert(next) {
                    if vectors.vector(next).is_some() {
                        return Some((next, level_of(next)));
                    }
                    queue.push(next);
                }
            }
        }
    }
    let mut fallback = None;
    for node in 0..len {
        if vectors.vector(node).is_some() {
            links.clear();
            graph.links_into(node, 0, &mut links);
            if !links.is_empty() {
                return Some((node, level_of(node)));
            }
            fallback.get_or_insert((node, level_of(node)));
        }
    }
    fallback
}

/// The vectors of a subset, renumbered `0..ids.len()`.
struct SubsetVectors<'a, V: ?Sized> {
    ids: &'a [u32],
    inner: &'a V,
}

impl<V: NodeVectors + ?Sized> NodeVectors for SubsetVectors<'_, V> {
    type Elem = V::Elem;

    #[inline]
    fn vector(&self, node: u32) -> Option<&[V::Elem]> {
        self.inner.vector(*self.ids.get(node as usize)?)
    }

    #[inline]
    fn similarity(&self, a: &[V::Elem], b: &[V::Elem]) -> f32 {
        self.inner.similarity(a, b)
    }
}
