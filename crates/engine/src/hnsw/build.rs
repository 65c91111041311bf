//! Building and extending the graph: insertion as in the paper (greedy
//! descent, beam search of `ef_construct` per level, neighbour selection
//! heuristic, pruning of overflowing lists with the same heuristic), run by
//! several threads at once.
//!
//! Level 0 keeps the layout of the finished [`Hnsw`] (a fixed slot of
//! `2·m + 1` per node: count, links) in atomics: searches read it without a
//! lock, writers of a node's slot take that node's mutex. A reader racing a
//! writer may see a mix of the old and the new list; every value it can see
//! is a valid node id, and the beam search does not need more. Upper levels
//! are few and sit behind a `RwLock` per node. A thread never holds two node
//! locks at once, so there is no lock order to keep; the entry point has its
//! own lock.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use parking_lot::{Mutex, RwLock};

use super::traverse::{Links, Scored, Scratch, greedy, search_layer, with_scratch};
use super::{Hnsw, MAX_LEVEL, NodeVectors, find_start};
use crate::config::Distance;

/// How many insertions a thread makes between two polls of `stop`.
const POLL_EVERY: u32 = 256;

/// Nodes inserted by one thread before the others join, so the first
/// insertions, which shape the top of the graph, do not race.
const WARM_UP: u32 = 512;

pub(super) struct Builder<'a, V: ?Sized> {
    distance: Distance,
    m: usize,
    ef_construct: usize,
    seed: u64,
    levels: Vec<u8>,
    /// Level 0: `2·m + 1` per node, count then links.
    links0: Vec<AtomicU32>,
    /// Serialises the writers of a node's level-0 slot.
    locks: Vec<Mutex<()>>,
    /// Level-0 links of a reopened graph past the main slot (sub-graph
    /// links), as in [`Hnsw`]: read-only here, never pruned. Empty when none.
    extra0_at: Vec<usize>,
    extra0: Vec<u32>,
    /// Levels 1..=level of each node.
    upper: Vec<RwLock<Vec<Vec<u32>>>>,
    entry: Mutex<Option<u32>>,
    vectors: &'a V,
}

impl<V: NodeVectors + ?Sized> Links for Builder<'_, V> {
    #[inline]
    fn links_into(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        let i = node as usize;
        if level == 0 {
            let Some(slot) = self.slot(node) else { return };
            let count = (slot[0].load(Ordering::Acquire) as usize).min(self.cap0());
            out.extend(slot[1..1 + count].iter().map(|l| l.load(Ordering::Relaxed)));
            if let (Some(&from), Some(&to)) = (self.extra0_at.get(i), self.extra0_at.get(i + 1)) {
                out.extend_from_slice(&self.extra0[from..to]);
            }
        } else if let Some(upper) = self.upper.get(i)
            && let Some(list) = upper.read().get(level - 1)
        {
            out.extend_from_slice(list);
        }
    }
}

impl<'a, V: NodeVectors + ?Sized> Builder<'a, V> {
    /// An empty graph over nodes `0..nodes`, levels drawn.
    pub fn new(distance: Distance, m: usize, ef_construct: usize, seed: u64, nodes: u32, vectors: &'a V) -> Self {
        let mut builder = Builder {
            distance,
            m,
            ef_construct,
            seed,
            levels: Vec::new(),
            links0: Vec::new(),
            locks: Vec::new(),
            extra0_at: Vec::new(),
            extra0: Vec::new(),
            upper: Vec::new(),
            entry: Mutex::new(None),
            vectors,
        };
        builder.add_nodes(0, nodes);
        builder
    }

    /// A finished graph opened again for insertion of nodes `graph.len()..new_len`.
    pub fn reopen(graph: &Hnsw, new_len: u32, vectors: &'a V) -> Self {
        debug_assert_eq!(graph.cap0, 2 * graph.m);
        let mut builder = Builder {
            distance: graph.distance,
            m: graph.m,
            ef_construct: graph.ef_construct,
            seed: graph.seed,
            levels: graph.levels.clone(),
            links0: graph.links0.iter().map(|&l| AtomicU32::new(l)).collect(),
            locks: (0..graph.len).map(|_| Mutex::new(())).collect(),
            extra0_at: graph.extra0_at.clone(),
            extra0: graph.extra0.clone(),
            upper: (0..graph.len)
                .map(|node| {
                    let level = usize::from(graph.levels[node as usize]);
                    RwLock::new((1..=level).map(|l| graph.upper_links(node, l).to_vec()).collect())
                })
                .collect(),
            entry: Mutex::new(None),
            vectors,
        };
        builder.add_nodes(graph.len, new_len);
        // The entry point may have been deleted since: start from the node a
        // search would start from.
        let entry = graph
            .entry
            .and_then(|e| find_start(&builder, &builder.levels, e, vectors, graph.len))
            .map(|(node, _)| node);
        *builder.entry.get_mut() = entry;
        builder
    }

    fn add_nodes(&mut self, from: u32, to: u32) {
        let ml = 1.0 / (self.m as f64).ln();
        let count = to.saturating_sub(from) as usize;
        self.levels.reserve_exact(count);
        self.links0.reserve_exact(count * (self.cap0() + 1));
        self.locks.reserve_exact(count);
        self.upper.reserve_exact(count);
        for node in from..to {
            let level = if self.vectors.vector(node).is_some() { draw_level(self.seed, node, ml) } else { 0 };
            self.levels.push(level);
            self.links0.extend((0..=self.cap0()).map(|_| AtomicU32::new(0)));
            self.locks.push(Mutex::new(()));
            self.upper.push(RwLock::new(vec![Vec::new(); usize::from(level)]));
        }
        if let Some(&end) = self.extra0_at.last() {
            self.extra0_at.resize(to as usize + 1, end);
        }
    }

    /// Level-0 capacity of a node.
    fn cap0(&self) -> usize {
        2 * self.m
    }

    /// The level-0 slot of a node: count, then `cap0` links.
    fn slot(&self, node: u32) -> Option<&[AtomicU32]> {
        let stride = self.cap0() + 1;
        let at = node as usize * stride;
        self.links0.get(at..at + stride)
    }

    /// Inserts nodes `from..to` with `threads` threads (0: all cores). False
    /// when `stop` asked to abandon.
    pub fn insert_range(&self, from: u32, to: u32, threads: usize, stop: &(dyn Fn() -> bool + Sync)) -> bool {
        if from >= to {
            return true;
        }
        if stop() {
            return false;
        }
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let abort = AtomicBool::new(false);
        let mut next = from;
        if self.entry.lock().is_none() {
            let warm_end = to.min(from.saturating_add(WARM_UP));
            with_scratch(|scratch| {
                for node in from..warm_end {
                    if (node - from) % POLL_EVERY == POLL_EVERY - 1 && stop() {
                        abort.store(true, Ordering::Relaxed);
                        return;
                    }
                    self.insert(node, scratch);
                }
            });
            next = warm_end;
        }
        let next = AtomicU32::new(next);
        let work = || {
            with_scratch(|scratch| {
                let mut since_poll = 0;
                while !abort.load(Ordering::Relaxed) {
                    let node = next.fetch_add(1, Ordering::Relaxed);
                    if node >= to {
                        return;
                    }
                    self.insert(node, scratch);
                    since_poll += 1;
                    if since_poll == POLL_EVERY {
                        since_poll = 0;
                        if stop() {
                            abort.store(true, Ordering::Relaxed);
                        }
                    }
                }
            })
        };
        if threads <= 1 || to - next.load(Ordering::Relaxed) < 2 * POLL_EVERY {
            work();
        } else {
            std::thread::scope(|scope| {
                for _ in 1..threads {
                    scope.spawn(work);
                }
                work();
            });
        }
        !abort.load(Ordering::Relaxed)
    }

    /// Inserts one node (Algorithm 1 of the paper).
    fn insert(&self, node: u32, scratch: &mut Scratch) {
        let Some(vector) = self.vectors.vector(node) else { return };
        let sim = |a: &[V::Elem], b: &[V::Elem]| self.vectors.similarity(a, b);
        let level = usize::from(self.levels[node as usize]);
        let entry = {
            let mut entry = self.entry.lock();
            match *entry {
                Some(e) => e,
                None => {
                    *entry = Some(node);
                    return;
                }
            }
        };
        let len = self.levels.len() as u32;
        let Some((start, top)) = find_start(self, &self.levels, entry, self.vectors, len) else { return };
        let Some(start_vector) = self.vectors.vector(start) else { return };
        let mut current = Scored { sim: sim(vector, start_vector), node: start };
        for l in (level + 1..=top).rev() {
            greedy(self, self.vectors, vector, l, &mut current, &mut scratch.links);
        }
        let mut entries = vec![current];
        let mut found = Vec::with_capacity(self.ef_construct);
        for l in (0..=level.min(top)).rev() {
            scratch.start(self.levels.len());
            for &e in &entries {
                if scratch.visited.insert(e.node) {
                    scratch.candidates.push(e);
                    scratch.results.push(Reverse(e));
                }
            }
            search_layer(self, self.vectors, vector, l, self.ef_construct, |_| true, false, scratch);
            scratch.take_sorted(&mut found);
            found.retain(|s| s.node != node);
            let cap = if l == 0 { self.cap0() } else { self.m };
            let selected = self.select(&found, cap);
            self.set_links(node, l, &selected);
            for s in &selected {
                self.connect(s.node, node, s.sim, l);
            }
            std::mem::swap(&mut entries, &mut found);
        }
        if level > top {
            let mut entry = self.entry.lock();
            let entry_level = entry.map_or(0, |e| usize::from(self.levels[e as usize]));
            if entry.is_none() || level > entry_level {
                *entry = Some(node);
            }
        }
    }

    /// Replaces the list of `node` at `level`.
    fn set_links(&self, node: u32, level: usize, list: &[Scored]) {
        if level == 0 {
            let Some(slot) = self.slot(node) else { return };
            let _writer = self.locks[node as usize].lock();
            let count = list.len().min(self.cap0());
            for (link, s) in slot[1..].iter().zip(&list[..count]) {
                link.store(s.node, Ordering::Relaxed);
            }
            slot[0].store(count as u32, Ordering::Release);
        } else if let Some(upper) = self.upper.get(node as usize)
            && let Some(links) = upper.write().get_mut(level - 1)
        {
            links.clear();
            links.extend(list.iter().take(self.m).map(|s| s.node));
        }
    }

    /// Adds `new` to the list of `target` at `level`; a full list is pruned
    /// with the heuristic over its links plus `new`.
    fn connect(&self, target: u32, new: u32, sim_to_new: f32, level: usize) {
        let Some(target_vector) = self.vectors.vector(target) else { return };
        if level == 0 {
            let Some(slot) = self.slot(target) else { return };
            let _writer = self.locks[target as usize].lock();
            let count = (slot[0].load(Ordering::Relaxed) as usize).min(self.cap0());
            let links = &slot[1..];
            if links[..count].iter().any(|l| l.load(Ordering::Relaxed) == new) {
                return;
            }
            if count < self.cap0() {
                links[count].store(new, Ordering::Relaxed);
                slot[0].store(count as u32 + 1, Ordering::Release);
                return;
            }
            let current: Vec<u32> = links[..count].iter().map(|l| l.load(Ordering::Relaxed)).collect();
            let kept = self.prune(target_vector, &current, new, sim_to_new, self.cap0());
            for (link, s) in links.iter().zip(&kept) {
                link.store(s.node, Ordering::Relaxed);
            }
            slot[0].store(kept.len() as u32, Ordering::Release);
        } else {
            let Some(upper) = self.upper.get(target as usize) else { return };
            let mut upper = upper.write();
            let Some(list) = upper.get_mut(level - 1) else { return };
            if list.contains(&new) {
                return;
            }
            if list.len() < self.m {
                list.push(new);
                return;
            }
            let kept = self.prune(target_vector, list, new, sim_to_new, self.m);
            list.clear();
            list.extend(kept.iter().map(|s| s.node));
        }
    }

    /// The heuristic's choice of at most `cap` among `current` and `new`,
    /// as links of the node with vector `base`.
    fn prune(&self, base: &[V::Elem], current: &[u32], new: u32, sim_to_new: f32, cap: usize) -> Vec<Scored> {
        let sim = |a: &[V::Elem], b: &[V::Elem]| self.vectors.similarity(a, b);
        let mut candidates: Vec<Scored> = current
            .iter()
            .filter_map(|&n| self.vectors.vector(n).map(|v| Scored { sim: sim(base, v), node: n }))
            .collect();
        candidates.push(Scored { sim: sim_to_new, node: new });
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        self.select(&candidates, cap)
    }

    /// The neighbour selection heuristic (Algorithm 4 of the paper, without
    /// extending or keeping pruned candidates): walking `candidates` best
    /// first, keep one only if it is closer to the base node than to every
    /// neighbour already kept. Spreads the links over directions instead of
    /// spending them all on one dense cluster.
    fn select(&self, candidates: &[Scored], cap: usize) -> Vec<Scored> {
        let sim = |a: &[V::Elem], b: &[V::Elem]| self.vectors.similarity(a, b);
        let mut selected: Vec<Scored> = Vec::with_capacity(cap);
        let mut selected_vectors: Vec<&[V::Elem]> = Vec::with_capacity(cap);
        for &candidate in candidates {
            if selected.len() >= cap {
                break;
            }
            let Some(v) = self.vectors.vector(candidate.node) else { continue };
            if selected_vectors.iter().all(|s| sim(v, s) <= candidate.sim) {
                selected.push(candidate);
                selected_vectors.push(v);
            }
        }
        selected
    }

    /// The finished graph.
    pub fn finish(self) -> Hnsw {
        let upper: Vec<Vec<Vec<u32>>> = self.upper.into_iter().map(RwLock::into_inner).collect();
        let mut graph = Hnsw {
            distance: self.distance,
            m: self.m,
            ef_construct: self.ef_construct,
            seed: self.seed,
            len: self.levels.len() as u32,
            entry: self.entry.into_inner(),
            levels: self.levels,
            cap0: 2 * self.m,
            links0: self.links0.into_iter().map(AtomicU32::into_inner).collect(),
            extra0_at: self.extra0_at,
            extra0: self.extra0,
            upper_at: Vec::new(),
            upper: Vec::new(),
        };
        graph.set_upper(&upper);
        graph
    }
}

/// The level of a node: ⌊-ln(u)·mL⌋ with mL = 1/ln(m) and u uniform in
/// (0, 1), drawn from a SplitMix64 stream seeded by the graph's seed and the
/// node id. Per-node draws keep levels independent of thread scheduling and
/// of how insertions are batched across `extend` calls.
fn draw_level(seed: u64, node: u32, ml: f64) -> u8 {
    let x = splitmix64(seed ^ splitmix64(u64::from(node)));
    let u = ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let level = (-u.ln() * ml).floor();
    level.min(f64::from(MAX_LEVEL)) as u8
}

pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
