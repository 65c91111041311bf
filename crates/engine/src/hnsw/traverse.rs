//! Walking one layer of the graph: the greedy descent through the upper
//! layers and the beam search (`ef`) used both by insertion and by queries.
//!
//! Both are generic over [`Links`], so the build (per-node locks) and the
//! finished graph (flat arrays) share one search loop. All scratch memory
//! lives in [`Scratch`], reused across searches of a thread: nothing is
//! allocated per visited node.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::NodeVectors;

/// Reads the links of a node at one level.
pub(super) trait Links {
    /// Appends the links of `node` at `level` to `out`; nothing when the node
    /// does not reach that level.
    fn links_into(&self, node: u32, level: usize, out: &mut Vec<u32>);
}

/// A node and its similarity to the query (higher is closer). Ordered by
/// similarity; ties go to the lower id so results are deterministic.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scored {
    pub sim: f32,
    pub node: u32,
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sim.total_cmp(&other.sim).then_with(|| other.node.cmp(&self.node))
    }
}

/// Which nodes one search has already seen: a stamp per node, compared with
/// the search's generation, so starting a search costs nothing (the array is
/// cleared only when the 16-bit generation wraps).
#[derive(Default)]
pub(super) struct Visited {
    marks: Vec<u16>,
    generation: u16,
}

impl Visited {
    /// Starts a new search over nodes `0..nodes`.
    pub fn reset(&mut self, nodes: usize) {
        if self.marks.len() < nodes {
            self.marks.resize(nodes, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `node`; false when it was already marked in this search.
    #[inline]
    pub fn insert(&mut self, node: u32) -> bool {
        match self.marks.get_mut(node as usize) {
            Some(mark) if *mark != self.generation => {
                *mark = self.generation;
                true
            }
            Some(_) => false,
            // A link past the end cannot come from a valid graph; treat the
            // node as seen rather than panic.
            None => false,
        }
    }
}

/// Per-thread working memory of a search.
#[derive(Default)]
pub(super) struct Scratch {
    pub visited: Visited,
    /// Frontier, best first.
    pub candidates: BinaryHeap<Scored>,
    /// Accepted nodes found so far, worst on top, at most `ef`.
    pub results: BinaryHeap<Reverse<Scored>>,
    /// Links of the node being expanded.
    pub links: Vec<u32>,
}

impl Scratch {
    /// Clears the heaps and starts a new visited generation.
    pub fn start(&mut self, nodes: usize) {
        self.visited.reset(nodes);
        self.candidates.clear();
        self.results.clear();
    }

    /// The results, best first, leaving the heap empty.
    pub fn take_sorted(&mut self, out: &mut Vec<Scored>) {
        out.clear();
        out.extend(self.results.drain().map(|Reverse(s)| s));
        out.sort_unstable_by(|a, b| b.cmp(a));
    }
}

thread_local! {
    /// A few scratches per thread; more than one only when a search runs
    /// inside another search's `accept` callback.
    static SCRATCH: RefCell<Vec<Scratch>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a scratch of this thread's pool.
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH.with(|pool| pool.borrow_mut().pop()).unwrap_or_default();
    let result = f(&mut scratch);
    SCRATCH.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < 4 {
            pool.push(scratch);
        }
    });
    result
}

/// Greedy walk at one level: moves to the best neighbour while that improves
/// on the current node. Nodes without a vector are skipped.
#[allow(clippy::too_many_arguments)]
pub(super) fn greedy<G: Links + ?Sized, V: NodeVectors + ?Sized>(
    graph: &G,
    vectors: &V,
    query: &[V::Elem],
    level: usize,
    current: &mut Scored,
    links: &mut Vec<u32>,
) {
    loop {
        links.clear();
        graph.links_into(current.node, level, links);
        let mut improved = false;
        for &node in links.iter() {
            if let Some(v) = vectors.vector(node) {
                let s = vectors.similarity(query, v);
                if s > current.sim {
                    *current = Scored { sim: s, node };
                    improved = true;
                }
            }
        }
        if !improved {
            return;
        }
    }
}

/// Beam search at one level. The caller has put the entry points in
/// `scratch.candidates` (and the accepted ones in `scratch.results`) and
/// marked them visited; on return `scratch.results` holds the best `ef`
/// accepted nodes found.
///
/// Rejected nodes are still expanded, so a filter never disconnects the
/// graph (unless `strict`: then only accepted nodes are scored, and a
/// rejected neighbour is passed through to its own neighbours without being
/// scored); the search stops when the best frontier node is worse than the
/// worst of `ef` accepted results. Nodes without a vector are neither scored
/// nor expanded.
#[allow(clippy::too_many_arguments)]
pub(super) fn search_layer<G, V, A>(
    graph: &G,
    vectors: &V,
    query: &[V::Elem],
    level: usize,
    ef: usize,
    accept: A,
    strict: bool,
    scratch: &mut Scratch,
) where
    G: Links + ?Sized,
    V: NodeVectors + ?Sized,
    A: Fn(u32) -> bool,
{
    let Scratch { visited, candidates, results, links } = scratch;
    // The unvisited neighbours of the node being expanded, with their
    // vectors: one allocation per search, reused for every expansion.
    let mut batch: Vec<(u32, &[V::Elem])> = Vec::new();
    let mut hops: Vec<u32> = Vec::new();
    let mut worst = if results.len() >= ef { results.peek().map_or(f32::NEG_INFINITY, |r| r.0.sim) } else { f32::NEG_INFINITY };
    while let Some(current) = candidates.pop() {
        if results.len() >= ef && current.sim < worst {
            break;
        }
        links.clear();
        graph.links_into(current.node, level, links);
        if strict {
            // Rejected neighbours are not scored; their own neighbours are
            // looked at instead (two hops, as ACORN does), so the accepted
            // nodes stay connected through them.
            hops.clear();
            for &node in links.iter() {
                if !accept(node) && visited.insert(node) {
                    graph.links_into(node, level, &mut hops);
                }
            }
            links.append(&mut hops);
        }
        batch.clear();
        for &node in links.iter() {
            if (!strict || accept(node))
                && visited.insert(node)
                && let Some(v) = vectors.vector(node)
            {
                // Scoring is bound by memory latency: start loading every
                // vector before scoring the first, so the loads overlap.
                prefetch(v);
                batch.push((node, v));
            }
        }
        for &(node, v) in &batch {
            let s = vectors.similarity(query, v);
            if results.len() < ef || s > worst {
                let scored = Scored { sim: s, node };
                candidates.push(scored);
                if accept(node) {
                    results.push(Reverse(scored));
                    if results.len() > ef {
                        results.pop();
                    }
                    if results.len() >= ef {
                        worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.sim);
                    }
                }
            }
        }
    }
}

/// Asks the CPU to start loading the head of `v` into the cache. Only the
/// first cache lines: the hardware prefetcher follows on once the scan
/// reads them in order, and a prefetch per line of every neighbour would
/// flood the fill buffers.
#[inline(always)]
fn prefetch<T>(v: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const LINES: usize = 4;
        const LINE_BYTES: usize = 64;
        let per_line = (LINE_BYTES / std::mem::size_of::<T>().max(1)).max(1);
        for line in v.chunks(per_line).take(LINES) {
            // SAFETY: a prefetch is a hint: it never faults and changes no
            // memory, and SSE is part of every x86_64 CPU.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}
