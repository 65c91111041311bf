//! Exact top-k by brute force, the yardstick for recall, and its on-disk cache.
//!
//! Computed in the bench process on every core before anything is uploaded, so it never
//! competes with the server for CPU while a figure is being measured. 1,000 queries over
//! 100,000 × 384 take tens of seconds, so the result is cached in a file named after a
//! hash of the dataset's *content* (not its parameters): a changed generator or file
//! can never be matched with a stale answer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::dataset::Dataset;

/// Queries scanned together in one pass over the points, so each point is read from
/// memory once per block instead of once per query.
const QUERY_BLOCK: usize = 8;

/// The exact top `k` of every query, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub k: usize,
    ids: Vec<u32>,
    scores: Vec<f32>,
}

impl Truth {
    pub fn queries(&self) -> usize {
        self.ids.len().checked_div(self.k).unwrap_or(0)
    }

    pub fn ids(&self, query: usize) -> &[u32] {
        &self.ids[query * self.k..(query + 1) * self.k]
    }

    /// Similarity of the k-th neighbour (larger is better for every distance).
    pub fn kth_score(&self, query: usize) -> f32 {
        self.scores[(query + 1) * self.k - 1]
    }

    /// Recall of `returned` (ids in the server's order) for `query`, against `dataset`.
    ///
    /// A returned point counts as a hit when it is one of the exact top k, or when its
    /// exact similarity equals the k-th one (within float rounding): with ties at the
    /// boundary, any of the tied points is a correct answer, and a server whose SIMD
    /// kernel rounds differently must not lose recall for choosing another.
    pub fn recall(&self, dataset: &Dataset, query: usize, returned: &[u64]) -> f64 {
        let truth = self.ids(query);
        let kth = self.kth_score(query);
        let tolerance = 1e-5 * kth.abs().max(1.0);
        let q = dataset.queries.row(query);
        let mut seen = Vec::with_capacity(self.k);
        let mut hits = 0;
        for &id in returned.iter().take(self.k) {
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let hit = truth.iter().any(|&t| u64::from(t) == id)
                || (id < dataset.len() as u64
                    && dataset
                        .distance
                        .similarity(q, dataset.points.row(id as usize))
                        >= kth - tolerance);
            if hit {
                hits += 1;
            }
        }
        hits as f64 / self.k as f64
    }
}

/// A bounded list of the best `(similarity, id)` seen so far, best first.
struct TopK {
    k: usize,
    items: Vec<(f32, u32)>,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            items: Vec::with_capacity(k + 1),
        }
    }

    /// Ids arrive in increasing order, so on equal similarity the earlier (smaller) id
    /// stays ahead: `>` keeps the result deterministic.
    #[inline]
    fn push(&mut self, score: f32, id: u32) {
        if self.items.len() == self.k && score <= self.items[self.k - 1].0 {
            return;
        }
        let at = self.items.partition_point(|&(s, _)| s >= score);
        self.items.insert(at, (score, id));
        self.items.truncate(self.k);
    }
}

/// Why ground truth could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TruthError {
    #[error(
        "group {group} has {found} points, fewer than k = {k}: use more points or fewer groups"
    )]
    SmallGroup { group: u32, found: usize, k: usize },
    #[error("the dataset has {found} points, fewer than k = {k}")]
    SmallDataset { found: usize, k: usize },
}

/// Exact top `k` for every query of `dataset`, over all points or, with `filtered`,
/// over the points of the query's group only. Uses `threads` threads.
pub fn compute(
    dataset: &Dataset,
    k: usize,
    filtered: bool,
    threads: usize,
) -> Result<Truth, TruthError> {
    let n = dataset.len();
    if n < k {
        return Err(TruthError::SmallDataset { found: n, k });
    }
    if filtered {
        for group in 0..dataset.groups.min(dataset.queries.rows() as u32) {
            let found = (group as usize..n).step_by(dataset.groups as usize).count();
            if found < k {
                return Err(TruthError::SmallGroup { group, found, k });
            }
        }
    }
    let nq = dataset.queries.rows();
    let threads = threads.max(1).min(nq.div_ceil(QUERY_BLOCK).max(1));
    let per_thread = nq.div_ceil(threads).next_multiple_of(QUERY_BLOCK);
    let mut lists: Vec<TopK> = Vec::with_capacity(nq);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..nq)
            .step_by(per_thread.max(1))
            .map(|start| {
                let end = (start + per_thread).min(nq);
                scope.spawn(move || {
                    if filtered {
                        scan_filtered(dataset, k, start..end)
                    } else {
                        scan_all(dataset, k, start..end)
                    }
                })
            })
            .collect();
        for h in handles {
            lists.extend(h.join().expect("ground-truth thread panicked"));
        }
    });
    let mut ids = Vec::with_capacity(nq * k);
    let mut scores = Vec::with_capacity(nq * k);
    for list in lists {
        debug_assert_eq!(list.items.len(), k);
        for (s, id) in list.items {
            scores.push(s);
            ids.push(id);
        }
    }
    Ok(Truth { k, ids, scores })
}

fn scan_all(dataset: &Dataset, k: usize, queries: std::ops::Range<usize>) -> Vec<TopK> {
    let distance = dataset.distance;
    let mut out = Vec::with_capacity(queries.len());
    let mut start = queries.start;
    while start < queries.end {
        let end = (start + QUERY_BLOCK).min(queries.end);
        let block: Vec<&[f32]> = (start..end).map(|j| dataset.queries.row(j)).collect();
        let mut tops: Vec<TopK> = block.iter().map(|_| TopK::new(k)).collect();
        for (id, point) in dataset.points.data.chunks_exact(dataset.dim()).enumerate() {
            for (q, top) in block.iter().zip(tops.iter_mut()) {
                top.push(distance.similarity(q, point), id as u32);
            }
        }
        out.extend(tops);
        start = end;
    }
    out
}

fn scan_filtered(dataset: &Dataset, k: usize, queries: std::ops::Range<usize>) -> Vec<TopK> {
    let distance = dataset.distance;
    queries
        .map(|j| {
            let q = dataset.queries.row(j);
            let mut top = TopK::new(k);
            let group = dataset.group_of_query(j) as usize;
            for id in (group..dataset.len()).step_by(dataset.groups as usize) {
                top.push(distance.similarity(q, dataset.points.row(id)), id as u32);
            }
            top
        })
        .collect()
}

/// How the ground truth of a run was obtained, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TruthInfo {
    pub filtered: bool,
    pub cached: bool,
    pub seconds: f64,
    pub cache_file: Option<PathBuf>,
}

/// Ground truth from the cache in `cache_dir` when a file for exactly this content is
/// there and verifies; otherwise computed and (best effort) written back.
pub fn load_or_compute(
    dataset: &Dataset,
    k: usize,
    filtered: bool,
    threads: usize,
    cache_dir: Option<&Path>,
) -> Result<(Truth, TruthInfo), TruthError> {
    let started = Instant::now();
    let key = cache_key(dataset, k, filtered);
    let file = cache_dir.map(|d| d.join(format!("gt-{:016x}.bin", hash_bytes(key.as_bytes()))));
    if let Some(file) = &file
        && let Ok(bytes) = std::fs::read(file)
    {
        match decode(&bytes, &key) {
            Ok(truth) if truth.queries() == dataset.queries.rows() => {
                return Ok((
                    truth,
                    TruthInfo {
                        filtered,
                        cached: true,
                        seconds: started.elapsed().as_secs_f64(),
                        cache_file: Some(file.clone()),
                    },
                ));
            }
            Ok(_) => eprintln!(
                "ground-truth cache {} has the wrong size; recomputing",
                file.display()
            ),
            Err(why) => eprintln!(
                "ground-truth cache {} is unusable ({why}); recomputing",
                file.display()
            ),
        }
    }
    let truth = compute(dataset, k, filtered, threads)?;
    if let Some(file) = &file
        && let Err(e) = write_atomically(file, &encode(&truth, &key))
    {
        eprintln!(
            "could not write the ground-truth cache {}: {e}",
            file.display()
        );
    }
    Ok((
        truth,
        TruthInfo {
            filtered,
            cached: false,
            seconds: started.elapsed().as_secs_f64(),
            cache_file: file,
        },
    ))
}

/// Everything the answer depends on, written in full into the cache file and compared
/// on load, so a hash collision in the file name cannot return a wrong answer.
fn cache_key(dataset: &Dataset, k: usize, filtered: bool) -> String {
    format!(
        "osprey-bench ground truth; distance={}; dim={}; points={}; queries={}; k={k}; \
         filter={}; points_hash={:016x}; queries_hash={:016x}",
        dataset.distance.key(),
        dataset.dim(),
        dataset.len(),
        dataset.queries.rows(),
        if filtered {
            format!("group-mod-{}", dataset.groups)
        } else {
            "none".into()
        },
        hash_floats(&dataset.points.data),
        hash_floats(&dataset.queries.data),
    )
}

const MAGIC: &[u8; 8] = b"OSPBGT\0\0";
const VERSION: u32 = 1;

/// `MAGIC, version, key length, key, queries, k, ids (u32), scores (f32), checksum`,
/// all little-endian; the checksum covers every byte before it.
fn encode(truth: &Truth, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + key.len() + truth.ids.len() * 8);
    out.extend(MAGIC);
    out.extend(VERSION.to_le_bytes());
    out.extend((key.len() as u32).to_le_bytes());
    out.extend(key.as_bytes());
    out.extend((truth.queries() as u32).to_le_bytes());
    out.extend((truth.k as u32).to_le_bytes());
    for id in &truth.ids {
        out.extend(id.to_le_bytes());
    }
    for s in &truth.scores {
        out.extend(s.to_le_bytes());
    }
    let checksum = hash_bytes(&out);
    out.extend(checksum.to_le_bytes());
    out
}

fn decode(bytes: &[u8], key: &str) -> Result<Truth, &'static str> {
    let body_len = bytes.len().checked_sub(8).ok_or("truncated")?;
    let (body, checksum) = bytes.split_at(body_len);
    if hash_bytes(body).to_le_bytes() != checksum {
        return Err("checksum mismatch");
    }
    let mut r = Reader(body);
    if r.take(8)? != MAGIC {
        return Err("not a ground-truth file");
    }
    if r.u32()? != VERSION {
        return Err("unknown version");
    }
    let key_len = r.u32()? as usize;
    if r.take(key_len)? != key.as_bytes() {
        return Err("computed for other data");
    }
    let nq = r.u32()? as usize;
    let k = r.u32()? as usize;
    let ids: Vec<u32> = (0..nq * k).map(|_| r.u32()).collect::<Result<_, _>>()?;
    let scores: Vec<f32> = (0..nq * k)
        .map(|_| r.u32().map(f32::from_bits))
        .collect::<Result<_, _>>()?;
    if !r.0.is_empty() {
        return Err("trailing bytes");
    }
    Ok(Truth { k, ids, scores })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// 64-bit FNV-1a over 32-bit words with a final avalanche: fast enough to fingerprint
/// 150 MB of vectors in well under a second. Not cryptographic, and it need not be:
/// the full key is compared on load.
fn hash_words(words: impl Iterator<Item = u32>, len: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ len as u64;
    for w in words {
        h = (h ^ u64::from(w)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn hash_floats(values: &[f32]) -> u64 {
    hash_words(values.iter().map(|v| v.to_bits()), values.len())
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    hash_words(bytes.iter().map(|&b| u32::from(b)), bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Distance, Matrix, Synthetic};
    use serde_json::Value;

    fn tiny(distance: Distance) -> Dataset {
        // Points on a line: 0, 1, ..., 19 (and a second coordinate of 1 so cosine is
        // defined); queries at 4.2 and 15.9.
        let points = (0..20).flat_map(|i| [i as f32, 1.0]).collect();
        Dataset {
            points: Matrix {
                dim: 2,
                data: points,
            },
            queries: Matrix {
                dim: 2,
                data: vec![4.2, 1.0, 15.9, 1.0],
            },
            distance,
            groups: 2,
            source: Value::Null,
        }
    }

    #[test]
    fn euclid_top_k_is_the_nearest_points_in_order() {
        let d = tiny(Distance::Euclid);
        let t = compute(&d, 3, false, 4).unwrap();
        assert_eq!(t.ids(0), &[4, 5, 3]);
        assert_eq!(t.ids(1), &[16, 15, 17]);
        assert!((t.kth_score(0) + 1.44).abs() < 1e-4, "{}", t.kth_score(0));
    }

    #[test]
    fn filtered_top_k_stays_inside_the_query_group() {
        let d = tiny(Distance::Euclid);
        // Query 0 filters on group 0 (even ids), query 1 on group 1 (odd ids).
        let t = compute(&d, 3, true, 2).unwrap();
        assert_eq!(t.ids(0), &[4, 6, 2]);
        assert_eq!(t.ids(1), &[15, 17, 13]);
    }

    #[test]
    fn dot_prefers_the_largest_product() {
        let d = tiny(Distance::Dot);
        let t = compute(&d, 2, false, 1).unwrap();
        assert_eq!(t.ids(0), &[19, 18]);
    }

    /// Threads and query blocks split the work; the answer must not depend on how.
    #[test]
    fn matches_a_naive_sort_for_any_thread_count() {
        let d = Synthetic {
            n: 300,
            queries: 21,
            dim: 10,
            clusters: 5,
            noise: 0.5,
            seed: 3,
        }
        .generate(Distance::Cosine, 10);
        let one = compute(&d, 10, false, 1).unwrap();
        for threads in [2, 3, 8] {
            assert_eq!(compute(&d, 10, false, threads).unwrap(), one);
        }
        for j in 0..d.queries.rows() {
            let mut all: Vec<(f32, u32)> = (0..d.len())
                .map(|i| (dot(d.queries.row(j), d.points.row(i)), i as u32))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let want: Vec<u32> = all[..10].iter().map(|x| x.1).collect();
            assert_eq!(one.ids(j), &want[..]);
        }
    }

    use crate::dataset::dot;

    #[test]
    fn recall_counts_hits_and_ties_once() {
        let d = tiny(Distance::Euclid);
        let t = compute(&d, 3, false, 1).unwrap();
        assert_eq!(t.recall(&d, 0, &[4, 5, 3]), 1.0);
        assert_eq!(t.recall(&d, 0, &[3, 4, 5]), 1.0);
        assert!((t.recall(&d, 0, &[4, 4, 4]) - 1.0 / 3.0).abs() < 1e-12);
        assert!((t.recall(&d, 0, &[4, 9, 999]) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(t.recall(&d, 0, &[]), 0.0);
        // Query 1 (15.9) has truth 16, 15, 17; 17 is at 1.1, and nothing else ties.
        assert!((t.recall(&d, 1, &[16, 15, 14]) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_tie_at_the_boundary_is_a_hit() {
        // Query at 5.0: 4 and 6 tie for second place; k = 2 keeps 4 (smaller id), but
        // a server answering 6 is just as right.
        let mut d = tiny(Distance::Euclid);
        d.queries.data = vec![5.0, 1.0];
        let t = compute(&d, 2, false, 1).unwrap();
        assert_eq!(t.ids(0), &[5, 4]);
        assert_eq!(t.recall(&d, 0, &[5, 6]), 1.0);
    }

    #[test]
    fn the_cache_round_trips_and_refuses_other_data() {
        let d = tiny(Distance::Euclid);
        let dir = tempfile::tempdir().unwrap();
        let (t1, i1) = load_or_compute(&d, 3, false, 1, Some(dir.path())).unwrap();
        assert!(!i1.cached);
        let (t2, i2) = load_or_compute(&d, 3, false, 1, Some(dir.path())).unwrap();
        assert!(i2.cached);
        assert_eq!(t1, t2);
        // Different content, different file and answer.
        let mut other = d.clone();
        other.queries.data[0] = 10.0;
        let (t3, i3) = load_or_compute(&other, 3, false, 1, Some(dir.path())).unwrap();
        assert!(!i3.cached);
        assert_ne!(t1, t3);
        // A corrupted file is recomputed, not trusted.
        let file = i1.cache_file.unwrap();
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&file, &bytes).unwrap();
        let key = cache_key(&d, 3, false);
        assert_eq!(decode(&bytes, &key), Err("checksum mismatch"));
        let (t4, i4) = load_or_compute(&d, 3, false, 1, Some(dir.path())).unwrap();
        assert!(!i4.cached);
        assert_eq!(t1, t4);
    }

    #[test]
    fn too_small_groups_are_refused() {
        let d = tiny(Distance::Euclid);
        assert!(matches!(
            compute(&d, 11, true, 1),
            Err(TruthError::SmallGroup { .. })
        ));
        assert!(matches!(
            compute(&d, 21, false, 1),
            Err(TruthError::SmallDataset { .. })
        ));
    }
}
