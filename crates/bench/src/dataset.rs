//! The vectors a run uploads and the queries it sends.
//!
//! Either a seeded synthetic set (Gaussian clusters) or vectors read from `.npy` /
//! `.fvecs` files. Points get ids `0..n` and the payload `{"group": "g<id % groups>"}`;
//! query `j` filters on group `j % groups`, so a filtered query matches `1 / groups` of
//! the points. The group does not depend on the cluster, so a filter cuts every
//! cluster evenly, as a tenant or category field would.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::rng::SplitMix64;

/// How points are compared; the names are Qdrant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distance {
    Cosine,
    Dot,
    Euclid,
}

impl Distance {
    /// The name Qdrant's REST API uses.
    pub fn rest_name(self) -> &'static str {
        match self {
            Distance::Cosine => "Cosine",
            Distance::Dot => "Dot",
            Distance::Euclid => "Euclid",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Distance::Cosine => "cosine",
            Distance::Dot => "dot",
            Distance::Euclid => "euclid",
        }
    }

    /// Similarity with "larger is better" for every distance: the dot product (cosine
    /// vectors are normalised up front) or the negated squared Euclidean distance.
    pub fn similarity(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Distance::Cosine | Distance::Dot => dot(a, b),
            Distance::Euclid => -squared_l2(a, b),
        }
    }
}

/// Dot product with eight independent accumulators, so the compiler vectorises it
/// without target-specific code.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 8];
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 8];
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        sum += (x - y) * (x - y);
    }
    sum
}

/// Scale each row of `flat` (rows of `dim`) to unit length; zero rows stay zero.
pub fn normalize_rows(flat: &mut [f32], dim: usize) {
    for row in flat.chunks_exact_mut(dim) {
        let norm = dot(row, row).sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

/// Rows of `dim` floats, stored flat.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The first `n` rows.
    fn truncate(&mut self, n: usize) {
        self.data.truncate(n * self.dim);
    }

    /// Split off the rows from `at` on.
    fn split_off(&mut self, at: usize) -> Matrix {
        Matrix {
            dim: self.dim,
            data: self.data.split_off(at * self.dim),
        }
    }
}

/// The points (ids `0..n`) and the queries of one run.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub points: Matrix,
    pub queries: Matrix,
    pub distance: Distance,
    pub groups: u32,
    /// Where the vectors came from, for the report.
    pub source: Value,
}

impl Dataset {
    pub fn dim(&self) -> usize {
        self.points.dim
    }

    pub fn len(&self) -> usize {
        self.points.rows()
    }

    /// The payload group of point `id`.
    pub fn group_of_point(&self, id: usize) -> u32 {
        (id % self.groups as usize) as u32
    }

    /// The group query `j` filters on.
    pub fn group_of_query(&self, j: usize) -> u32 {
        (j % self.groups as usize) as u32
    }

    pub fn group_name(group: u32) -> String {
        format!("g{group}")
    }
}

/// Parameters of the synthetic set.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub n: usize,
    pub queries: usize,
    pub dim: usize,
    pub clusters: usize,
    /// Standard deviation of a point around its centre, per dimension; centres have 1.
    pub noise: f32,
    pub seed: u64,
}

impl Synthetic {
    /// `n` points and `queries` queries, each a random centre plus Gaussian noise.
    /// Queries come from the same distribution but are not dataset points, as real
    /// queries are not. Points and queries draw from separate streams, so changing the
    /// number of queries does not change the points.
    pub fn generate(&self, distance: Distance, groups: u32) -> Dataset {
        let clusters = self.clusters.max(1);
        let mut rng = SplitMix64::stream(self.seed, 1);
        let centres: Vec<f32> = (0..clusters * self.dim)
            .map(|_| rng.normal() as f32)
            .collect();
        let sample = |stream: u64, rows: usize| {
            let mut rng = SplitMix64::stream(self.seed, stream);
            let mut data = Vec::with_capacity(rows * self.dim);
            for _ in 0..rows {
                let c = rng.below(clusters as u64) as usize;
                let centre = &centres[c * self.dim..(c + 1) * self.dim];
                data.extend(centre.iter().map(|&x| x + self.noise * rng.normal() as f32));
            }
            Matrix {
                dim: self.dim,
                data,
            }
        };
        let mut points = sample(2, self.n);
        let mut queries = sample(3, self.queries);
        if distance == Distance::Cosine {
            normalize_rows(&mut points.data, self.dim);
            normalize_rows(&mut queries.data, self.dim);
        }
        Dataset {
            points,
            queries,
            distance,
            groups,
            source: json!({
                "kind": "synthetic",
                "clusters": clusters,
                "noise": self.noise,
                "seed": self.seed,
            }),
        }
    }
}

/// Why a vector file could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable {format} file: {reason}")]
    Format {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("{path}: unknown extension (use .npy or .fvecs)")]
    Extension { path: PathBuf },
    #[error("{what}")]
    Shape { what: String },
}

/// Load `path` by its extension.
pub fn load_file(path: &Path) -> Result<Matrix, DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    let format_error = |format: &'static str| {
        move |reason: String| DatasetError::Format {
            path: path.to_owned(),
            format,
            reason,
        }
    };
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => parse_npy(&bytes).map_err(format_error("npy")),
        Some("fvecs") => parse_fvecs(&bytes).map_err(format_error("fvecs")),
        _ => Err(DatasetError::Extension {
            path: path.to_owned(),
        }),
    }
}

/// Points from `path`, and queries from `query_path` or, without it, the last
/// `queries` rows of `path` (held out: they are not uploaded).
pub fn load(
    path: &Path,
    query_path: Option<&Path>,
    n: Option<usize>,
    queries: usize,
    distance: Distance,
    groups: u32,
) -> Result<Dataset, DatasetError> {
    let mut points = load_file(path)?;
    let mut query_rows = match query_path {
        Some(q) => {
            let q_rows = load_file(q)?;
            if q_rows.dim != points.dim {
                return Err(DatasetError::Shape {
                    what: format!(
                        "{} has dimension {} but {} has {}",
                        q.display(),
                        q_rows.dim,
                        path.display(),
                        points.dim
                    ),
                });
            }
            q_rows
        }
        None => {
            if points.rows() <= queries {
                return Err(DatasetError::Shape {
                    what: format!(
                        "{} has {} rows: too few to hold out {queries} queries",
                        path.display(),
                        points.rows()
                    ),
                });
            }
            let at = points.rows() - queries;
            points.split_off(at)
        }
    };
    if query_rows.rows() < queries {
        return Err(DatasetError::Shape {
            what: format!(
                "{queries} queries asked for, the query file has {}",
                query_rows.rows()
            ),
        });
    }
    query_rows.truncate(queries);
    if let Some(n) = n {
        if n > points.rows() {
            return Err(DatasetError::Shape {
                what: format!(
                    "{n} points asked for, {} has {}",
                    path.display(),
                    points.rows()
                ),
            });
        }
        points.truncate(n);
    }
    if distance == Distance::Cosine {
        normalize_rows(&mut points.data, points.dim);
        normalize_rows(&mut query_rows.data, query_rows.dim);
    }
    Ok(Dataset {
        points,
        queries: query_rows,
        distance,
        groups,
        source: json!({
            "kind": "file",
            "path": path.display().to_string(),
            "query_path": query_path.map(|q| q.display().to_string()),
        }),
    })
}

/// A NumPy `.npy` file holding a 2-D little-endian float32 array in C order
/// (format versions 1, 2 and 3).
pub fn parse_npy(bytes: &[u8]) -> Result<Matrix, String> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("format version {v} is not supported")),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if descr != "<f4" {
        return Err(format!(
            "dtype {descr:?}: only little-endian float32 ('<f4') is supported"
        ));
    }
    let fortran = dict_value(header, "fortran_order").ok_or("header has no 'fortran_order'")?;
    if fortran != "False" {
        return Err("Fortran-order arrays are not supported; save with C order".into());
    }
    let shape = dict_value(header, "shape").ok_or("header has no 'shape'")?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape {shape}")))
        .collect::<Result<_, _>>()?;
    let [rows, dim] = dims[..] else {
        return Err(format!("shape {shape}: a 2-D array is required"));
    };
    if dim == 0 {
        return Err("dimension 0".into());
    }
    let body = &bytes[data_start..];
    let expected = rows
        .checked_mul(dim)
        .and_then(|x| x.checked_mul(4))
        .ok_or("shape overflows")?;
    if body.len() != expected {
        return Err(format!(
            "shape {shape} needs {expected} bytes of data, the file has {}",
            body.len()
        ));
    }
    Ok(Matrix {
        dim,
        data: floats(body).collect(),
    })
}

/// The text of `key`'s value in a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (10, 4), }`.
fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

/// The `.fvecs` format of the TEXMEX corpora (SIFT, GIST): each row is a little-endian
/// int32 dimension followed by that many float32 values.
pub fn parse_fvecs(bytes: &[u8]) -> Result<Matrix, String> {
    if bytes.len() < 4 {
        return Err("empty file".into());
    }
    let dim = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if dim <= 0 {
        return Err(format!("row 0 has dimension {dim}"));
    }
    let dim = dim as usize;
    let row_bytes = 4 + 4 * dim;
    if !bytes.len().is_multiple_of(row_bytes) {
        return Err(format!(
            "{} bytes is not a whole number of rows of dimension {dim}",
            bytes.len()
        ));
    }
    let mut data = Vec::with_capacity(bytes.len() / row_bytes * dim);
    for (i, row) in bytes.chunks_exact(row_bytes).enumerate() {
        let d = i32::from_le_bytes([row[0], row[1], row[2], row[3]]);
        if d as usize != dim {
            return Err(format!("row {i} has dimension {d}, row 0 has {dim}"));
        }
        data.extend(floats(&row[4..]));
    }
    Ok(Matrix { dim, data })
}

fn floats(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, values: &[f32]) -> Vec<u8> {
        let mut h = header.to_string();
        // Pad so the data starts on a 64-byte boundary, as numpy does.
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        for v in values {
            out.extend(v.to_le_bytes());
        }
        out
    }

    #[test]
    fn npy_float32_matrix() {
        let values: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
        let bytes = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            &values,
        );
        let m = parse_npy(&bytes).unwrap();
        assert_eq!(m.dim, 3);
        assert_eq!(m.rows(), 2);
        assert_eq!(m.row(1), &[1.5, 2.0, 2.5]);
    }

    #[test]
    fn npy_refuses_what_it_cannot_read_correctly() {
        let values = [0f32; 6];
        for (header, why) in [
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                "float32",
            ),
            (
                "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
                "float32",
            ),
            (
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                "Fortran",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
                "2-D",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }",
                "bytes",
            ),
        ] {
            let err = parse_npy(&npy(header, &values)).unwrap_err();
            assert!(err.contains(why), "{header}: {err}");
        }
        assert!(parse_npy(b"not numpy").is_err());
    }

    fn fvecs(rows: &[&[f32]]) -> Vec<u8> {
        let mut out = Vec::new();
        for row in rows {
            out.extend((row.len() as i32).to_le_bytes());
            for v in *row {
                out.extend(v.to_le_bytes());
            }
        }
        out
    }

    #[test]
    fn fvecs_rows() {
        let m = parse_fvecs(&fvecs(&[&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0]])).unwrap();
        assert_eq!(m.dim, 2);
        assert_eq!(m.rows(), 3);
        assert_eq!(m.row(2), &[5.0, 6.0]);
    }

    #[test]
    fn fvecs_with_ragged_or_truncated_rows_is_refused() {
        let err = parse_fvecs(&fvecs(&[&[1.0, 2.0], &[3.0, 4.0, 5.0]])).unwrap_err();
        assert!(
            err.contains("whole number") || err.contains("row 1"),
            "{err}"
        );
        let mut bytes = fvecs(&[&[1.0, 2.0], &[3.0, 4.0]]);
        bytes.pop();
        assert!(parse_fvecs(&bytes).is_err());
        let err =
            parse_fvecs(&fvecs(&[&[1.0, 2.0, 3.0, 4.0], &[], &[], &[], &[], &[]])).unwrap_err();
        assert!(err.contains("row 1"), "{err}");
    }

    #[test]
    fn held_out_queries_are_not_uploaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.fvecs");
        let rows: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32, 1.0]).collect();
        let refs: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
        std::fs::write(&path, fvecs(&refs)).unwrap();
        let d = load(&path, None, None, 3, Distance::Euclid, 10).unwrap();
        assert_eq!(d.len(), 7);
        assert_eq!(d.queries.rows(), 3);
        assert_eq!(d.queries.row(0), &[7.0, 1.0]);
        let d = load(&path, None, Some(4), 3, Distance::Euclid, 10).unwrap();
        assert_eq!(d.len(), 4);
        assert!(load(&path, None, Some(8), 3, Distance::Euclid, 10).is_err());
    }

    #[test]
    fn synthetic_is_reproducible_and_normalised_for_cosine() {
        let s = Synthetic {
            n: 50,
            queries: 5,
            dim: 12,
            clusters: 4,
            noise: 0.3,
            seed: 9,
        };
        let a = s.generate(Distance::Cosine, 10);
        let b = s.generate(Distance::Cosine, 10);
        assert_eq!(a.points, b.points);
        assert_eq!(a.queries, b.queries);
        for i in 0..a.len() {
            let r = a.points.row(i);
            assert!((dot(r, r) - 1.0).abs() < 1e-5);
        }
        // More queries do not move the points.
        let c = Synthetic { queries: 9, ..s }.generate(Distance::Cosine, 10);
        assert_eq!(a.points, c.points);
        assert_eq!(a.queries.row(4), c.queries.row(4));
    }

    #[test]
    fn dot_matches_the_naive_sum() {
        let a: Vec<f32> = (0..21).map(|i| i as f32 * 0.25).collect();
        let b: Vec<f32> = (0..21).map(|i| 1.0 - i as f32 * 0.125).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
        let l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((Distance::Euclid.similarity(&a, &b) + l2).abs() < 1e-3);
    }
}
