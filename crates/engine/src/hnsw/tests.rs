//! Recall against brute force on seeded clustered data, for every distance,
//! with filters, deletions, incremental inserts, sub-graph links and the
//! persistent form. Sizes are kept small enough for the dev profile.

use super::*;

const N: usize = 6_000;
const DIM: usize = 48;
const K: usize = 10;
const QUERIES: usize = 100;

/// SplitMix64 with a Box-Muller normal: enough for test data, no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn gauss(&mut self) -> f32 {
        let (u, v) = (self.unit(), self.unit());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

/// Gaussian clusters: centres N(0, 1), points at `spread` around them.
/// Cosine data is normalised, as the collection stores it.
fn clustered(n: usize, dim: usize, seed: u64, distance: Distance) -> Vec<f32> {
    const CLUSTERS: usize = 30;
    let mut rng = Rng(seed);
    let centres: Vec<f32> = (0..CLUSTERS * dim).map(|_| rng.gauss()).collect();
    // Same centres for data and queries: the seed's low bits pick the points.
    let mut rng = Rng(seed.wrapping_mul(31).wrapping_add(1));
    let mut data = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = (rng.next_u64() % CLUSTERS as u64) as usize;
        let start = data.len();
        data.extend((0..dim).map(|d| centres[c * dim + d] + 0.8 * rng.gauss()));
        if distance == Distance::Cosine {
            let row = &mut data[start..];
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
    data
}

/// Data and queries from the same clusters.
fn dataset(n: usize, distance: Distance) -> (Vec<f32>, Vec<f32>) {
    let all = clustered(n + QUERIES, DIM, 42, distance);
    let (data, queries) = all.split_at(n * DIM);
    (data.to_vec(), queries.to_vec())
}

fn params(threads: usize) -> HnswParams {
    HnswParams { m: 16, ef_construct: 100, threads, seed: 7 }
}

fn build(distance: Distance, data: &[f32], threads: usize) -> Hnsw {
    let vectors = FlatVectors::new(distance, DIM, data);
    Hnsw::build(params(threads), distance, (data.len() / DIM) as u32, &vectors, &|| false).unwrap()
}

/// Exact top `k` among the nodes with a vector that `accept` takes.
fn brute_force<V: NodeVectors<Elem = f32>>(
    vectors: &V,
    len: u32,
    query: &[f32],
    k: usize,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    let mut all: Vec<(u32, f32)> = (0..len)
        .filter(|&n| accept(n))
        .filter_map(|n| vectors.vector(n).map(|v| (n, vectors.similarity(query, v))))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

/// Mean recall@K of the graph over the queries, checking on the way that
/// every answer is accepted, has a vector, is sorted and carries the exact similarity.
fn recall<V: NodeVectors<Elem = f32>>(graph: &Hnsw, vectors: &V, queries: &[f32], ef: usize, accept: &dyn Fn(u32) -> bool) -> f64 {
    let mut hits = 0usize;
    let mut expected = 0usize;
    for query in queries.chunks_exact(DIM) {
        let got = graph.search(query, K, ef, vectors, accept);
        let truth = brute_force(vectors, graph.len(), query, K, accept);
        assert_eq!(got.len(), truth.len(), "as many answers as there are accepted nodes, up to k");
        for pair in got.windows(2) {
            assert!(pair[0].1 >= pair[1].1, "best first");
        }
        for &(node, score) in &got {
            assert!(accept(node), "node {node} was rejected by the filter");
            let v = vectors.vector(node).unwrap_or_else(|| panic!("node {node} has no vector"));
            assert_eq!(score, vectors.similarity(query, v));
        }
        hits += got.iter().filter(|(n, _)| truth.iter().any(|(t, _)| t == n)).count();
        expected += truth.len();
    }
    if expected == 0 { 1.0 } else { hits as f64 / expected as f64 }
}

fn check_recall(distance: Distance, threads: usize, ef: usize) {
    let (data, queries) = dataset(N, distance);
    let graph = build(distance, &data, threads);
    let vectors = FlatVectors::new(distance, DIM, &data);
    let r = recall(&graph, &vectors, &queries, ef, &|_| true);
    assert!(r >= 0.95, "{distance:?}: recall@{K} {r:.3} at ef {ef}");
}

#[test]
fn recall_cosine_parallel_build() {
    check_recall(Distance::Cosine, 2, 64);
}

#[test]
fn recall_dot() {
    check_recall(Distance::Dot, 1, 64);
}

#[test]
fn recall_euclid_parallel_build() {
    check_recall(Distance::Euclid, 2, 64);
}

#[test]
fn recall_manhattan() {
    check_recall(Distance::Manhattan, 1, 64);
}

/// Filtered search walks through rejected nodes, so even a 1% subset is
/// found as well as an unfiltered search finds the whole set.
fn check_filtered(modulus: u64) {
    let (data, queries) = dataset(N, Distance::Cosine);
    let graph = build(Distance::Cosine, &data, 2);
    let vectors = FlatVectors::new(Distance::Cosine, DIM, &data);
    let accept = move |n: u32| build::splitmix64(u64::from(n)).is_multiple_of(modulus);
    let r = recall(&graph, &vectors, &queries, 64, &accept);
    assert!(r >= 0.95, "1/{modulus} filter: recall@{K} {r:.3}");
}

#[test]
fn filtered_search_ten_percent() {
    check_filtered(10);
}

#[test]
fn filtered_search_one_percent() {
    check_filtered(100);
}

/// Counts the vectors a search reads.
struct Counting<'a> {
    inner: FlatVectors<'a>,
    reads: std::sync::atomic::AtomicUsize,
}

impl NodeVectors for Counting<'_> {
    type Elem = f32;

    fn similarity(&self, a: &[f32], b: &[f32]) -> f32 {
        self.inner.similarity(a, b)
    }

    fn vector(&self, node: u32) -> Option<&[f32]> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.vector(node)
    }
}

// Recall alone cannot tell a graph search from a slow full scan: a broken
// stopping rule would still find everything.
#[test]
fn search_reads_a_small_part_of_the_graph() {
    let (data, queries) = dataset(N, Distance::Euclid);
    let graph = build(Distance::Euclid, &data, 2);
    let vectors = Counting { inner: FlatVectors::new(Distance::Euclid, DIM, &data), reads: Default::default() };
    for query in queries.chunks_exact(DIM) {
        graph.search(query, K, 64, &vectors, &|_| true);
    }
    let per_query = vectors.reads.into_inner() / QUERIES;
    assert!(per_query < N / 4, "{per_query} vectors read per query out of {N}");
}

#[test]
fn filter_rejecting_everything_returns_nothing() {
    let (data, queries) = dataset(2_000, Distance::Euclid);
    let graph = build(Distance::Euclid, &data, 1);
    let vectors = FlatVectors::new(Distance::Euclid, DIM, &data);
    assert!(graph.search(&queries[..DIM], K, 64, &vectors, &|_| false).is_empty());
}

#[test]
fn empty_graph() {
    let vectors = FlatVectors::new(Distance::Dot, DIM, &[]);
    let mut graph = Hnsw::build(params(1), Distance::Dot, 0, &vectors, &|| false).unwrap();
    assert_eq!(graph.len(), 0);
    assert!(graph.search(&[0.0; DIM], K, 64, &vectors, &|_| true).is_empty());
    let decoded = Hnsw::decode(&graph.encode()).unwrap();
    assert_eq!(decoded.len(), 0);
    // An empty graph grows like a fresh build.
    let (data, queries) = dataset(1_000, Distance::Dot);
    let vectors = FlatVectors::new(Distance::Dot, DIM, &data);
    assert!(graph.extend(1_000, &vectors, 2, &|| false));
    let r = recall(&graph, &vectors, &queries, 64, &|_| true);
    assert!(r >= 0.95, "recall {r:.3}");
}

#[test]
fn extend_keeps_recall() {
    let (data, queries) = dataset(N, Distance::Euclid);
    let vectors = FlatVectors::new(Distance::Euclid, DIM, &data);
    let half = (N / 2) as u32;
    let mut graph = Hnsw::build(params(1), Distance::Euclid, half, &vectors, &|| false).unwrap();
    assert!(graph.extend(half + 1, &vectors, 1, &|| false));
    assert!(graph.extend(N as u32, &vectors, 2, &|| false));
    assert_eq!(graph.len(), N as u32);
    let r = recall(&graph, &vectors, &queries, 64, &|_| true);
    assert!(r >= 0.95, "recall after extend {r:.3}");
}

/// Vectors with some nodes deleted.
struct Deleted<'a> {
    inner: FlatVectors<'a>,
    deleted: Vec<bool>,
}

impl NodeVectors for Deleted<'_> {
    type Elem = f32;

    fn similarity(&self, a: &[f32], b: &[f32]) -> f32 {
        self.inner.similarity(a, b)
    }

    fn vector(&self, node: u32) -> Option<&[f32]> {
        if self.deleted.get(node as usize).copied().unwrap_or(true) { None } else { self.inner.vector(node) }
    }
}

#[test]
fn deleted_nodes_are_never_returned() {
    let (data, queries) = dataset(N, Distance::Cosine);
    let graph = build(Distance::Cosine, &data, 2);
    let mut deleted: Vec<bool> = (0..N as u64).map(|n| build::splitmix64(n ^ 99).is_multiple_of(5)).collect();
    // The entry point goes too: search must find another start.
    deleted[graph.entry.unwrap() as usize] = true;
    let vectors = Deleted { inner: FlatVectors::new(Distance::Cosine, DIM, &data), deleted };
    let r = recall(&graph, &vectors, &queries, 64, &|_| true);
    assert!(r >= 0.9, "recall over the remaining nodes {r:.3}");
}

// The upper layers are where a search starts; with all of them gone it must
// still start from some level-0 node rather than give up.
#[test]
fn search_survives_losing_every_upper_level_node() {
    let (data, queries) = dataset(3_000, Distance::Euclid);
    let graph = build(Distance::Euclid, &data, 1);
    let deleted: Vec<bool> = graph.levels.iter().map(|&l| l > 0).collect();
    assert!(deleted.iter().any(|&d| d));
    let vectors = Deleted { inner: FlatVectors::new(Distance::Euclid, DIM, &data), deleted };
    let r = recall(&graph, &vectors, &queries, 64, &|_| true);
    assert!(r >= 0.9, "recall {r:.3}");
}

#[test]
fn all_vectors_missing() {
    let data = vec![0.5; 100 * DIM];
    let vectors = Deleted { inner: FlatVectors::new(Distance::Cosine, DIM, &data), deleted: vec![true; 100] };
    let graph = Hnsw::build(params(1), Distance::Cosine, 100, &vectors, &|| false).unwrap();
    assert!(graph.search(&data[..DIM], K, 64, &vectors, &|_| true).is_empty());
    // Then the vectors appear (new nodes past the old ones are the normal
    // case, but the graph must not mind).
    let vectors = FlatVectors::new(Distance::Cosine, DIM, &data);
    assert!(graph.search(&data[..DIM], K, 64, &vectors, &|_| true).is_empty());
}

// Many identical vectors: the heuristic rejects duplicates of a kept
// neighbour, which must not leave the search looping or short of answers.
#[test]
fn identical_vectors() {
    let (base, _) = dataset(20, Distance::Euclid);
    let data: Vec<f32> = (0..2_000).flat_map(|i| base[(i % 20) * DIM..(i % 20 + 1) * DIM].to_vec()).collect();
    let graph = build(Distance::Euclid, &data, 2);
    let vectors = FlatVectors::new(Distance::Euclid, DIM, &data);
    let got = graph.search(&base[..DIM], K, 64, &vectors, &|_| true);
    assert_eq!(got.len(), K);
    assert!(got.iter().all(|&(_, score)| score == 0.0), "{got:?}");
}

#[test]
fn encode_decode_roundtrip() {
    let (data, queries) = dataset(3_000, Distance::Manhattan);
    let mut graph = build(Distance::Manhattan, &data, 2);
    let vectors = FlatVectors::new(Distance::Manhattan, DIM, &data);
    graph.add_subgraph_links(&(0..3_000).step_by(3).collect::<Vec<_>>(), 16, 100, &vectors);
    assert!(!graph.extra0_at.is_empty(), "sub-graph links spill past 2·m");
    let bytes = graph.encode();
    let decoded = Hnsw::decode(&bytes).unwrap();
    assert_eq!(decoded.encode(), bytes);
    assert_eq!(decoded.distance(), Distance::Manhattan);
    for query in queries.chunks_exact(DIM) {
        let accept = |n: u32| n.is_multiple_of(2);
        assert_eq!(graph.search(query, K, 64, &vectors, &accept), decoded.search(query, K, 64, &vectors, &accept));
    }
}

#[test]
fn decode_refuses_damaged_bytes() {
    let (data, _) = dataset(300, Distance::Euclid);
    let graph = build(Distance::Euclid, &data, 1);
    let bytes = graph.encode();
    for cut in 0..bytes.len() {
        assert!(Hnsw::decode(&bytes[..cut]).is_err(), "truncated to {cut} bytes");
    }
    for at in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut damaged = bytes.clone();
            damaged[at] ^= bit;
            assert!(Hnsw::decode(&damaged).is_err(), "bit {bit:#x} flipped at {at}");
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Hnsw::decode(&longer).is_err());
    assert!(Hnsw::decode(b"").is_err());
    assert!(Hnsw::decode(&[0xAB; 100]).is_err());
}

// A file with a valid checksum can still lie; the reader checks ranges too.
#[test]
fn decode_refuses_out_of_range_links_with_valid_checksum() {
    let (data, _) = dataset(50, Distance::Euclid);
    let graph = build(Distance::Euclid, &data, 1);
    let mut bytes = graph.encode();
    bytes.truncate(bytes.len() - 4);
    // First level-0 link of node 0 sits after the header, the levels and its count.
    let first_link = codec_header_len() + 50 + 4;
    bytes[first_link..first_link + 4].copy_from_slice(&1_000u32.to_le_bytes());
    let crc = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let err = Hnsw::decode(&bytes).unwrap_err();
    assert!(err.contains("out of range"), "{err}");
}

fn codec_header_len() -> usize {
    8 + 4 + 1 + 4 + 4 + 8 + 4 + 4
}

#[test]
fn subgraph_links_keep_recall_for_one_percent_filter() {
    let (data, queries) = dataset(N, Distance::Cosine);
    let mut graph = build(Distance::Cosine, &data, 2);
    let vectors = FlatVectors::new(Distance::Cosine, DIM, &data);
    let subset: Vec<u32> = (0..N as u32).filter(|&n| build::splitmix64(u64::from(n) ^ 5).is_multiple_of(100)).collect();
    let accept = |n: u32| subset.binary_search(&n).is_ok();
    let before = recall(&graph, &vectors, &queries, 16, &accept);
    let links_before: usize = (0..N as u32).map(|n| graph.full_level0(n).len()).sum();
    graph.add_subgraph_links(&subset, 16, 100, &vectors);
    let links_after: usize = (0..N as u32).map(|n| graph.full_level0(n).len()).sum();
    assert!(links_after > links_before, "sub-graph links added");
    // Main links are kept: every old link is still there.
    let after = recall(&graph, &vectors, &queries, 16, &accept);
    assert!(after >= before, "recall {before:.3} before, {after:.3} after");
    assert!(after >= 0.95, "recall {after:.3}");
}

#[test]
fn subgraph_links_never_replace_main_links() {
    let (data, _) = dataset(2_000, Distance::Dot);
    let mut graph = build(Distance::Dot, &data, 1);
    let vectors = FlatVectors::new(Distance::Dot, DIM, &data);
    let before: Vec<Vec<u32>> = (0..2_000).map(|n| graph.full_level0(n)).collect();
    graph.add_subgraph_links(&(0..2_000).step_by(7).collect::<Vec<_>>(), 8, 64, &vectors);
    graph.add_subgraph_links(&(0..2_000).step_by(5).collect::<Vec<_>>(), 8, 64, &vectors);
    for (n, old) in before.iter().enumerate() {
        let now = graph.full_level0(n as u32);
        assert_eq!(&now[..old.len()], &old[..], "node {n}");
    }
}

#[test]
fn extend_keeps_spilled_subgraph_links() {
    let (data, queries) = dataset(4_000, Distance::Cosine);
    let vectors = FlatVectors::new(Distance::Cosine, DIM, &data);
    let mut graph = Hnsw::build(params(1), Distance::Cosine, 3_000, &vectors, &|| false).unwrap();
    graph.add_subgraph_links(&(0..3_000).step_by(2).collect::<Vec<_>>(), 16, 100, &vectors);
    let spilled: Vec<Vec<u32>> = (0..3_000).map(|n| graph.extra0(n).to_vec()).collect();
    assert!(spilled.iter().any(|s| !s.is_empty()));
    assert!(graph.extend(4_000, &vectors, 2, &|| false));
    for (n, before) in spilled.iter().enumerate() {
        assert_eq!(graph.extra0(n as u32), &before[..], "node {n}");
    }
    let r = recall(&graph, &vectors, &queries, 64, &|_| true);
    assert!(r >= 0.95, "recall {r:.3}");
}

#[test]
fn stop_abandons_build_and_extend() {
    let (data, _) = dataset(3_000, Distance::Cosine);
    let vectors = FlatVectors::new(Distance::Cosine, DIM, &data);
    assert!(Hnsw::build(params(2), Distance::Cosine, 3_000, &vectors, &|| true).is_none());
    // A stop that fires part way through.
    let polls = std::sync::atomic::AtomicUsize::new(0);
    let stop = || polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 3;
    assert!(Hnsw::build(params(2), Distance::Cosine, 3_000, &vectors, &stop).is_none());
    let mut graph = Hnsw::build(params(1), Distance::Cosine, 1_000, &vectors, &|| false).unwrap();
    let bytes = graph.encode();
    assert!(!graph.extend(3_000, &vectors, 2, &|| true));
    assert_eq!(graph.len(), 1_000);
    assert_eq!(graph.encode(), bytes, "an abandoned extend leaves the graph as it was");
}

#[test]
fn memory_is_reported() {
    let (data, _) = dataset(1_000, Distance::Cosine);
    let graph = build(Distance::Cosine, &data, 1);
    // At least the padded level-0 array: 1000 × (2·16 + 1) × 4 bytes.
    assert!(graph.memory_bytes() >= 1_000 * 33 * 4, "{}", graph.memory_bytes());
}

// A strict walk keeps to the accepted nodes: with sub-graph links among
// them it finds what the full walk finds, reading far fewer vectors.
#[test]
fn strict_walk_over_linked_matches_keeps_recall_and_reads_less() {
    let (data, queries) = dataset(N, Distance::Cosine);
    let mut graph = build(Distance::Cosine, &data, 2);
    let subset: Vec<u32> = (0..N as u32).filter(|&n| build::splitmix64(u64::from(n) ^ 9).is_multiple_of(10)).collect();
    graph.add_subgraph_links(&subset, 16, 100, &FlatVectors::new(Distance::Cosine, DIM, &data));
    let accept = |n: u32| subset.binary_search(&n).is_ok();
    let vectors = Counting { inner: FlatVectors::new(Distance::Cosine, DIM, &data), reads: Default::default() };
    let (mut found, mut wanted) = (0, 0);
    let mut reads = [0usize; 2];
    for query in queries.chunks_exact(DIM) {
        let truth = brute_force(&vectors.inner, graph.len(), query, K, &accept);
        for (i, strict) in [false, true].into_iter().enumerate() {
            let before = vectors.reads.load(std::sync::atomic::Ordering::Relaxed);
            let got = graph.search_filtered(query, K, 64, &vectors, &accept, strict);
            reads[i] += vectors.reads.load(std::sync::atomic::Ordering::Relaxed) - before;
            assert!(got.iter().all(|(n, _)| accept(*n)), "only accepted nodes");
            if strict {
                wanted += truth.len();
                found += got.iter().filter(|(n, _)| truth.iter().any(|(t, _)| t == n)).count();
            }
        }
    }
    let r = found as f64 / wanted as f64;
    assert!(r >= 0.95, "strict recall {r:.3}");
    assert!(reads[1] * 3 < reads[0], "strict read {} vectors, full {}", reads[1], reads[0]);
}
