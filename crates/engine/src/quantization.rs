//! Quantized copies of dense vectors: the small codes a graph search walks
//! with, before the best candidates are rescored with the original vectors.
//!
//! Every kind of Qdrant's `quantization_config`:
//! - `scalar` (`int8`): each value mapped linearly to a byte between the
//!   bounds of the data (or of its central `quantile`); dot products and
//!   distances are computed on the bytes with the `uint8` kernels and scaled
//!   back, with a per-vector correction term for the offset.
//! - `binary`: per dimension, the sign of the value against the dimension's
//!   mean (`one_bit`), three levels in two bits (`two_bits`, a thermometer
//!   code so that the Hamming distance is the level difference), or both
//!   alternately (`one_and_half_bits`: 3 bits for 2 dimensions). The query is
//!   encoded alike (`default`, `binary`) and compared by Hamming distance, or
//!   kept as 8- or 4-bit levels (`scalar8bits`, `scalar4bits`) and dotted
//!   with the stored levels (asymmetric: more accurate, slower).
//! - `product` (`x4` … `x64`): the vector cut into sub-vectors of 1 … 16
//!   floats, each replaced by the nearest of 256 centroids found by k-means
//!   on a sample; a query is scored through a table of its similarity to
//!   every centroid.
//! - `turbo` (`bits1`, `bits1_5`, `bits2`, `bits4`, `bits8`): the vector's
//!   norm kept aside, its direction rotated by a random sign flip and a
//!   Walsh-Hadamard transform (which spreads it evenly over the
//!   coordinates, so each is close to a Gaussian of known spread), then each
//!   coordinate quantized with the Lloyd-Max levels of that Gaussian. A
//!   query is rotated the same way and dotted with the levels.
//!
//! Codes are laid out node after node with a fixed stride. Similarities are
//! on the graph's scale (higher is closer; Euclid is minus the squared
//! distance) so a quantized walk ranks as the original one would, nearly.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Distance;
use crate::distance::{dot_u8, euclid_squared_u8, manhattan_u8};
use crate::error::{EngineError, Result};

/// A parsed `quantization_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Method {
    Scalar { quantile: Option<f32> },
    Binary { encoding: BinaryEncoding, query: QueryEncoding },
    Product { floats_per_code: usize },
    Turbo { bits: TurboBits },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BinaryEncoding {
    OneBit,
    OneAndHalfBits,
    TwoBits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum QueryEncoding {
    /// The query encoded as the points are; compared by Hamming distance.
    Same,
    Scalar8,
    Scalar4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TurboBits {
    One,
    OneAndHalf,
    Two,
    Four,
    Eight,
}

fn bad(message: String) -> EngineError {
    EngineError::BadInput(message)
}

/// Where quantized codes are asked to live (`memory`, or the deprecated
/// `always_ram`). Codes are always held in memory here, which is what
/// `pinned` asks for.
pub(crate) fn memory_placement(value: &Value) -> Option<String> {
    let inner = value.as_object()?.values().next()?;
    if let Some(m) = inner.get("memory").and_then(Value::as_str) {
        return Some(m.to_string());
    }
    match inner.get("always_ram").and_then(Value::as_bool) {
        Some(true) => Some("pinned".into()),
        Some(false) => Some("cold".into()),
        None => None,
    }
}

impl Method {
    /// Reads a `quantization_config` value; `None` for `null` and `"Disabled"`.
    pub fn parse(value: &Value) -> Result<Option<Method>> {
        if value.is_null() || value == "Disabled" {
            return Ok(None);
        }
        let Some(object) = value.as_object().filter(|o| o.len() == 1) else {
            return Err(bad(
                "quantization_config must be one of {\"scalar\": ...}, {\"product\": ...}, {\"binary\": ...}, {\"turbo\": ...} or \"Disabled\"".into(),
            ));
        };
        let (kind, params) = object.iter().next().expect("one entry");
        let Some(params) = params.as_object() else {
            return Err(bad(format!("quantization_config.{kind} must be an object")));
        };
        let allowed: &[&str] = match kind.as_str() {
            "scalar" => &["type", "quantile", "always_ram", "memory"],
            "product" => &["compression", "always_ram", "memory"],
            "binary" => &["encoding", "query_encoding", "always_ram", "memory"],
            "turbo" => &["bits", "always_ram", "memory"],
            other => return Err(bad(format!("unknown quantization method `{other}`"))),
        };
        if let Some(field) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(bad(format!("unknown field `{field}` in quantization_config.{kind}")));
        }
        let text = |field: &str| -> Result<Option<&str>> {
            match params.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(bad(format!("quantization_config.{kind}.{field} must be a string"))),
            }
        };
        match params.get("always_ram") {
            None | Some(Value::Null | Value::Bool(_)) => {}
            Some(_) => return Err(bad(format!("quantization_config.{kind}.always_ram must be a boolean"))),
        }
        match text("memory")? {
            None | Some("cold" | "cached" | "pinned") => {}
            Some(other) => {
                return Err(bad(format!("unknown memory placement `{other}`: expected cold, cached or pinned")));
            }
        }
        let method = match kind.as_str() {
            "scalar" => {
                match text("type")? {
                    Some("int8") => {}
                    Some(other) => return Err(bad(format!("unknown scalar quantization type `{other}`: expected int8"))),
                    None => return Err(bad("quantization_config.scalar.type is required".into())),
                }
                let quantile = match params.get("quantile") {
                    None | Some(Value::Null) => None,
                    Some(q) => match q.as_f64() {
                        Some(q) if (0.5..=1.0).contains(&q) => Some(q as f32),
                        _ => return Err(bad("quantization_config.scalar.quantile must be between 0.5 and 1.0".into())),
                    },
                };
                Method::Scalar { quantile }
            }
            "product" => {
                let floats_per_code = match text("compression")? {
                    Some("x4") => 1,
                    Some("x8") => 2,
                    Some("x16") => 4,
                    Some("x32") => 8,
                    Some("x64") => 16,
                    Some(other) => {
                        return Err(bad(format!("unknown compression `{other}`: expected x4, x8, x16, x32 or x64")));
                    }
                    None => return Err(bad("quantization_config.product.compression is required".into())),
                };
                Method::Product { floats_per_code }
            }
            "binary" => {
                let encoding = match text("encoding")? {
                    None | Some("one_bit") => BinaryEncoding::OneBit,
                    Some("one_and_half_bits") => BinaryEncoding::OneAndHalfBits,
                    Some("two_bits") => BinaryEncoding::TwoBits,
                    Some(other) => return Err(bad(format!("unknown binary encoding `{other}`"))),
                };
                let query = match text("query_encoding")? {
                    None | Some("default" | "binary") => QueryEncoding::Same,
                    Some("scalar8bits") => QueryEncoding::Scalar8,
                    Some("scalar4bits") => QueryEncoding::Scalar4,
                    Some(other) => return Err(bad(format!("unknown binary query encoding `{other}`"))),
                };
                Method::Binary { encoding, query }
            }
            _ => {
                let bits = match text("bits")? {
                    Some("bits1") => TurboBits::One,
                    Some("bits1_5") => TurboBits::OneAndHalf,
                    Some("bits2") => TurboBits::Two,
                    None | Some("bits4") => TurboBits::Four,
                    Some("bits8") => TurboBits::Eight,
                    Some(other) => return Err(bad(format!("unknown turbo bit size `{other}`"))),
                };
                Method::Turbo { bits }
            }
        };
        Ok(Some(method))
    }
}

/// The search parameters of `params.quantization`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SearchOptions {
    pub ignore: bool,
    pub rescore: bool,
    pub oversampling: f64,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions { ignore: false, rescore: true, oversampling: 1.0 }
    }
}

impl SearchOptions {
    pub fn parse(value: Option<&Value>) -> Result<SearchOptions> {
        let mut options = SearchOptions::default();
        let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(options) };
        let Some(object) = value.as_object() else {
            return Err(bad("params.quantization must be an object".into()));
        };
        for (key, v) in object {
            match (key.as_str(), v) {
                (_, Value::Null) => {}
                ("ignore", Value::Bool(b)) => options.ignore = *b,
                ("rescore", Value::Bool(b)) => options.rescore = *b,
                ("oversampling", v) => match v.as_f64() {
                    Some(o) if o >= 1.0 && o.is_finite() => options.oversampling = o,
                    _ => return Err(bad("params.quantization.oversampling must be a number of at least 1".into())),
                },
                ("ignore" | "rescore", _) => return Err(bad(format!("params.quantization.{key} must be a boolean"))),
                (other, _) => return Err(bad(format!("unknown field `{other}` in params.quantization"))),
            }
        }
        Ok(options)
    }

    /// How many candidates the quantized walk should hand to rescoring.
    pub fn candidates(&self, limit: usize) -> usize {
        ((limit as f64) * self.oversampling).ceil() as usize
    }
}

// ---- trained quantizers ----------------------------------------------------

/// Vectors the quantizer learns its parameters from (bounds, means,
/// centroids): at most this many, spread over the data.
const TRAINING_SAMPLE: usize = 4096;

/// A quantizer fitted to a column's data, and its codes by graph node.
#[derive(Debug, Clone)]
pub(crate) struct Quantized {
    pub method: Method,
    quantizer: Quantizer,
    stride: usize,
    codes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Quantizer {
    Scalar(Scalar),
    Binary(Binary),
    Product(Product),
    Turbo(Turbo),
}

impl Quantized {
    /// Fits `method` to the vectors of nodes `0..count` (`row(i)`, `None`
    /// for a node without a vector) and encodes every one of them.
    pub fn build(
        method: &Method,
        distance: Distance,
        dim: usize,
        count: usize,
        row: &dyn Fn(usize) -> Option<Vec<f32>>,
    ) -> Quantized {
        let step = (count / TRAINING_SAMPLE).max(1);
        let owned: Vec<Vec<f32>> = (0..count).step_by(step).filter_map(row).take(TRAINING_SAMPLE).collect();
        let sample: Vec<&[f32]> = owned.iter().map(Vec::as_slice).collect();
        let quantizer = match method {
            Method::Scalar { quantile } => Quantizer::Scalar(Scalar::train(distance, dim, *quantile, &sample)),
            Method::Binary { encoding, query } => Quantizer::Binary(Binary::train(dim, *encoding, *query, &sample)),
            Method::Product { floats_per_code } => {
                Quantizer::Product(Product::train(distance, dim, *floats_per_code, &sample))
            }
            Method::Turbo { bits } => Quantizer::Turbo(Turbo::new(distance, dim, *bits)),
        };
        let mut quantized = Quantized { method: method.clone(), stride: quantizer.stride(), quantizer, codes: Vec::new() };
        quantized.extend(count, row);
        quantized
    }

    /// Encodes nodes `self.nodes()..count` with the fitted parameters.
    pub fn extend(&mut self, count: usize, row: &dyn Fn(usize) -> Option<Vec<f32>>) {
        let from = self.nodes();
        self.codes.reserve(count.saturating_sub(from) * self.stride);
        for node in from..count {
            let at = self.codes.len();
            self.codes.resize(at + self.stride, 0);
            if let Some(v) = row(node) {
                self.quantizer.encode(&v, &mut self.codes[at..]);
            }
        }
    }

    pub fn nodes(&self) -> usize {
        self.codes.len() / self.stride.max(1)
    }

    /// The codes and what made them, for the index file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let head = serde_json::to_vec(&(&self.method, &self.quantizer, self.stride)).expect("plain data serialises");
        let mut out = Vec::with_capacity(12 + head.len() + self.codes.len());
        out.extend_from_slice(&(head.len() as u32).to_le_bytes());
        out.extend_from_slice(&head);
        out.extend_from_slice(&(self.codes.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.codes);
        out
    }

    /// Reads [`Quantized::to_bytes`]; the caller checked the file's checksum.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Quantized, String> {
        let take = |at: usize, n: usize| bytes.get(at..at + n).ok_or_else(|| "truncated codes".to_string());
        let head_len = u32::from_le_bytes(take(0, 4)?.try_into().expect("4 bytes")) as usize;
        let (method, quantizer, stride): (Method, Quantizer, usize) =
            serde_json::from_slice(take(4, head_len)?).map_err(|e| format!("codes header: {e}"))?;
        let at = 4 + head_len;
        let codes_len = u64::from_le_bytes(take(at, 8)?.try_into().expect("8 bytes")) as usize;
        let codes = take(at + 8, codes_len)?.to_vec();
        if stride == 0 || stride != quantizer.stride() || codes.len() % stride != 0 {
            return Err("codes do not fit their quantizer".into());
        }
        Ok(Quantized { method, quantizer, stride, codes })
    }

    pub fn code(&self, node: u32) -> Option<&[u8]> {
        let at = node as usize * self.stride;
        self.codes.get(at..at + self.stride)
    }

    /// A query prepared for scoring codes.
    pub fn query(&self, query: &[f32]) -> QuantizedQuery<'_> {
        let prepared = match &self.quantizer {
            Quantizer::Scalar(s) => Prepared::Bytes(s.encode_owned(query)),
            Quantizer::Binary(b) => b.prepare(query),
            Quantizer::Product(p) => Prepared::Table(p.table(query)),
            Quantizer::Turbo(t) => Prepared::Rotated(t.rotate_query(query)),
        };
        QuantizedQuery { quantized: self, prepared }
    }
}

/// A query in the form its quantizer scores codes with.
pub(crate) struct QuantizedQuery<'a> {
    quantized: &'a Quantized,
    prepared: Prepared,
}

enum Prepared {
    /// Encoded as the points are.
    Bytes(Vec<u8>),
    /// Binary codes compared with per-dimension query levels.
    Levels(Vec<f32>),
    /// Product quantization: similarity of each sub-vector to each centroid.
    Table(Vec<f32>),
    /// Turbo: the rotated, scaled query and its squared norm.
    Rotated((Vec<f32>, f32)),
}

impl QuantizedQuery<'_> {
    /// Similarity of the query to a code, on the graph's scale.
    #[inline]
    pub fn similarity(&self, code: &[u8]) -> f32 {
        match (&self.quantized.quantizer, &self.prepared) {
            (Quantizer::Scalar(s), Prepared::Bytes(q)) => s.similarity(q, code),
            (Quantizer::Binary(b), Prepared::Bytes(q)) => -(hamming(q, code) as f32) * b.unit,
            (Quantizer::Binary(b), Prepared::Levels(q)) => b.asymmetric(q, code),
            (Quantizer::Product(p), Prepared::Table(t)) => p.similarity(t, code),
            (Quantizer::Turbo(t), Prepared::Rotated((q, q_norm2))) => t.similarity(q, *q_norm2, code),
            _ => unreachable!("a query is prepared by its own quantizer"),
        }
    }
}

impl Quantizer {
    fn stride(&self) -> usize {
        match self {
            Quantizer::Scalar(s) => 4 + s.dim,
            Quantizer::Binary(b) => b.bytes,
            Quantizer::Product(p) => p.subspaces(),
            Quantizer::Turbo(t) => 4 + t.code_bytes(),
        }
    }

    fn encode(&self, v: &[f32], out: &mut [u8]) {
        match self {
            Quantizer::Scalar(s) => s.encode(v, out),
            Quantizer::Binary(b) => b.encode(v, out),
            Quantizer::Product(p) => p.encode(v, out),
            Quantizer::Turbo(t) => t.encode(v, out),
        }
    }
}

/// Turns a graph-scale similarity back into the score a request reports,
/// for answers that are not rescored.
pub(crate) fn score_from_similarity(distance: Distance, similarity: f32) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => similarity,
        Distance::Euclid => (-similarity).max(0.0).sqrt(),
        Distance::Manhattan => -similarity,
    }
}

// ---- scalar int8 -----------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Scalar {
    distance: Distance,
    dim: usize,
    offset: f32,
    alpha: f32,
}

impl Scalar {
    fn train(distance: Distance, dim: usize, quantile: Option<f32>, sample: &[&[f32]]) -> Scalar {
        let mut values: Vec<f32> = sample.iter().flat_map(|v| v.iter().copied()).collect();
        let (lo, hi) = if values.is_empty() {
            (-1.0, 1.0)
        } else {
            let q = quantile.unwrap_or(1.0).clamp(0.5, 1.0);
            let n = values.len();
            let cut = (((1.0 - q) / 2.0) * (n - 1) as f32).round() as usize;
            let (_, lo, _) = values.select_nth_unstable_by(cut, f32::total_cmp);
            let lo = *lo;
            let (_, hi, _) = values.select_nth_unstable_by(n - 1 - cut, f32::total_cmp);
            (lo, *hi)
        };
        let alpha = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        Scalar { distance, dim, offset: lo, alpha }
    }

    /// `[correction f32 LE][dim bytes]`. For Dot and Cosine the correction
    /// carries the offset terms of Σ(αa + o)(αb + o) that belong to one side.
    fn encode(&self, v: &[f32], out: &mut [u8]) {
        let mut sum = 0u32;
        for (o, &x) in out[4..4 + self.dim].iter_mut().zip(v) {
            let c = ((x - self.offset) / self.alpha).round().clamp(0.0, 255.0) as u8;
            *o = c;
            sum += u32::from(c);
        }
        let correction = match self.distance {
            Distance::Cosine | Distance::Dot => {
                self.alpha * self.offset * sum as f32 + self.offset * self.offset * self.dim as f32 / 2.0
            }
            Distance::Euclid | Distance::Manhattan => 0.0,
        };
        out[..4].copy_from_slice(&correction.to_le_bytes());
    }

    fn encode_owned(&self, v: &[f32]) -> Vec<u8> {
        let mut out = vec![0; 4 + self.dim];
        self.encode(v, &mut out);
        out
    }

    #[inline]
    fn similarity(&self, q: &[u8], code: &[u8]) -> f32 {
        let correction = |c: &[u8]| f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        match self.distance {
            Distance::Cosine | Distance::Dot => {
                self.alpha * self.alpha * dot_u8(&q[4..], &code[4..]) + correction(q) + correction(code)
            }
            Distance::Euclid => -self.alpha * self.alpha * euclid_squared_u8(&q[4..], &code[4..]),
            Distance::Manhattan => -self.alpha * manhattan_u8(&q[4..], &code[4..]),
        }
    }
}

// ---- binary ----------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Binary {
    dim: usize,
    encoding: BinaryEncoding,
    query_encoding: QueryEncoding,
    mean: Vec<f32>,
    /// The spread of each dimension, for two-level thresholds and query levels.
    deviation: Vec<f32>,
    /// Bytes per code, a multiple of 8 so Hamming distances run on u64 words.
    bytes: usize,
    /// Scale of a Hamming distance, so similarities of different encodings
    /// compare alike (1 / bits per vector).
    unit: f32,
}

/// Three-level thresholds at ±0.43 deviations: equal thirds of a Gaussian.
const THIRDS: f32 = 0.43;

impl Binary {
    fn train(dim: usize, encoding: BinaryEncoding, query_encoding: QueryEncoding, sample: &[&[f32]]) -> Binary {
        let n = sample.len().max(1) as f32;
        let mut mean = vec![0.0f32; dim];
        for v in sample {
            mean.iter_mut().zip(*v).for_each(|(m, &x)| *m += x / n);
        }
        let mut deviation = vec![0.0f32; dim];
        for v in sample {
            deviation.iter_mut().zip(*v).zip(&mean).for_each(|((d, &x), &m)| *d += (x - m) * (x - m) / n);
        }
        deviation.iter_mut().for_each(|d| *d = d.sqrt().max(f32::EPSILON));
        let bits: usize = (0..dim).map(|d| Self::bits_of(encoding, d)).sum();
        let bytes = bits.div_ceil(64) * 8;
        Binary { dim, encoding, query_encoding, mean, deviation, bytes, unit: 1.0 / bits.max(1) as f32 }
    }

    /// Bits that dimension `d` takes.
    fn bits_of(encoding: BinaryEncoding, d: usize) -> usize {
        match encoding {
            BinaryEncoding::OneBit => 1,
            BinaryEncoding::TwoBits => 2,
            BinaryEncoding::OneAndHalfBits => 1 + (d % 2 == 0) as usize,
        }
    }

    /// The level of value `x` in dimension `d`: -1 or 1 with one bit,
    /// -1, 0 or 1 with two.
    fn level(&self, d: usize, x: f32) -> i8 {
        let z = (x - self.mean[d]) / self.deviation[d];
        if Self::bits_of(self.encoding, d) == 1 {
            if z > 0.0 { 1 } else { -1 }
        } else if z > THIRDS {
            1
        } else if z < -THIRDS {
            -1
        } else {
            0
        }
    }

    fn encode(&self, v: &[f32], out: &mut [u8]) {
        out[..self.bytes].fill(0);
        let mut bit = 0usize;
        let mut set = |on: bool, bit: usize| {
            if on {
                out[bit / 8] |= 1 << (bit % 8);
            }
        };
        for (d, &x) in v.iter().enumerate().take(self.dim) {
            let level = self.level(d, x);
            if Self::bits_of(self.encoding, d) == 1 {
                set(level > 0, bit);
                bit += 1;
            } else {
                // Thermometer: -1 -> 00, 0 -> 10, 1 -> 11.
                set(level >= 0, bit);
                set(level > 0, bit + 1);
                bit += 2;
            }
        }
    }

    fn prepare(&self, query: &[f32]) -> Prepared {
        let steps = match self.query_encoding {
            QueryEncoding::Same => {
                let mut out = vec![0; self.bytes];
                self.encode(query, &mut out);
                return Prepared::Bytes(out);
            }
            QueryEncoding::Scalar8 => 127.0,
            QueryEncoding::Scalar4 => 7.0,
        };
        // Standardised query values, rounded to the encoding's levels over ±3 deviations.
        let levels = (0..self.dim)
            .map(|d| {
                let z = ((query[d] - self.mean[d]) / self.deviation[d]).clamp(-3.0, 3.0);
                (z / 3.0 * steps).round() / steps
            })
            .collect();
        Prepared::Levels(levels)
    }

    /// Σ query level × stored level, read bit by bit.
    fn asymmetric(&self, q: &[f32], code: &[u8]) -> f32 {
        let bit = |i: usize| code[i / 8] >> (i % 8) & 1 == 1;
        let mut at = 0usize;
        let mut sum = 0.0f32;
        for (d, &z) in q.iter().enumerate() {
            if Self::bits_of(self.encoding, d) == 1 {
                sum += if bit(at) { z } else { -z };
                at += 1;
            } else {
                let level = bit(at) as i32 + bit(at + 1) as i32 - 1;
                sum += z * level as f32;
                at += 2;
            }
        }
        sum
    }
}

#[inline]
fn hamming(a: &[u8], b: &[u8]) -> u32 {
    a.chunks_exact(8)
        .zip(b.chunks_exact(8))
        .map(|(x, y)| {
            let x = u64::from_le_bytes(x.try_into().expect("8 bytes"));
            let y = u64::from_le_bytes(y.try_into().expect("8 bytes"));
            (x ^ y).count_ones()
        })
        .sum()
}

// ---- product ---------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Product {
    distance: Distance,
    dim: usize,
    /// Floats per sub-vector (the last one may be shorter).
    chunk: usize,
    /// Per sub-vector, 256 centroids of `chunk` floats (padded with zeros).
    centroids: Vec<f32>,
}

const CENTROIDS: usize = 256;
const KMEANS_ROUNDS: usize = 6;

impl Product {
    fn subspaces(&self) -> usize {
        self.dim.div_ceil(self.chunk)
    }

    fn sub<'v>(&self, v: &'v [f32], s: usize) -> &'v [f32] {
        &v[s * self.chunk..((s + 1) * self.chunk).min(self.dim)]
    }

    fn train(distance: Distance, dim: usize, chunk: usize, sample: &[&[f32]]) -> Product {
        let mut product = Product { distance, dim, chunk, centroids: Vec::new() };
        let subspaces = product.subspaces();
        product.centroids = vec![0.0; subspaces * CENTROIDS * chunk];
        if sample.is_empty() {
            return product;
        }
        for s in 0..subspaces {
            let width = product.sub(sample[0], s).len();
            let mut centres: Vec<Vec<f32>> =
                (0..CENTROIDS).map(|c| product.sub(sample[c * sample.len() / CENTROIDS], s).to_vec()).collect();
            let mut assignment = vec![0usize; sample.len()];
            for _ in 0..KMEANS_ROUNDS {
                for (i, v) in sample.iter().enumerate() {
                    let x = product.sub(v, s);
                    assignment[i] = nearest(&centres, x);
                }
                let mut sums = vec![vec![0.0f32; width]; CENTROIDS];
                let mut counts = vec![0usize; CENTROIDS];
                for (i, v) in sample.iter().enumerate() {
                    let c = assignment[i];
                    counts[c] += 1;
                    sums[c].iter_mut().zip(product.sub(v, s)).for_each(|(a, &x)| *a += x);
                }
                for c in 0..CENTROIDS {
                    if counts[c] > 0 {
                        centres[c] = sums[c].iter().map(|x| x / counts[c] as f32).collect();
                    }
                }
            }
            for (c, centre) in centres.iter().enumerate() {
                let at = (s * CENTROIDS + c) * chunk;
                product.centroids[at..at + width].copy_from_slice(centre);
            }
        }
        product
    }

    fn centroid(&self, s: usize, c: usize, width: usize) -> &[f32] {
        let at = (s * CENTROIDS + c) * self.chunk;
        &self.centroids[at..at + width]
    }

    fn encode(&self, v: &[f32], out: &mut [u8]) {
        for (s, o) in out.iter_mut().enumerate().take(self.subspaces()) {
            let x = self.sub(v, s);
            let best = (0..CENTROIDS)
                .map(|c| (squared_distance(x, self.centroid(s, c, x.len())), c))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map_or(0, |(_, c)| c);
            *o = best as u8;
        }
    }

    /// Per sub-vector and centroid, the query's partial similarity.
    fn table(&self, query: &[f32]) -> Vec<f32> {
        let mut table = Vec::with_capacity(self.subspaces() * CENTROIDS);
        for s in 0..self.subspaces() {
            let q = self.sub(query, s);
            for c in 0..CENTROIDS {
                let centre = self.centroid(s, c, q.len());
                table.push(match self.distance {
                    Distance::Cosine | Distance::Dot => q.iter().zip(centre).map(|(a, b)| a * b).sum(),
                    Distance::Euclid => -squared_distance(q, centre),
                    Distance::Manhattan => -q.iter().zip(centre).map(|(a, b)| (a - b).abs()).sum::<f32>(),
                });
            }
        }
        table
    }

    #[inline]
    fn similarity(&self, table: &[f32], code: &[u8]) -> f32 {
        code.iter().enumerate().map(|(s, &c)| table[s * CENTROIDS + c as usize]).sum()
    }
}

fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest(centres: &[Vec<f32>], x: &[f32]) -> usize {
    centres
        .iter()
        .enumerate()
        .map(|(c, centre)| (squared_distance(x, centre), c))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(0, |(_, c)| c)
}

// ---- turbo -----------------------------------------------------------------

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Turbo {
    distance: Distance,
    dim: usize,
    /// The rotated space: the next power of two.
    padded: usize,
    signs: Vec<f32>,
    /// Bits per stored coordinate slot (1.5 bits use 2-bit slots with three levels).
    slot_bits: usize,
    /// Reconstruction levels of a coordinate, for a unit-variance Gaussian.
    levels: Vec<f32>,
    /// Decision thresholds between consecutive levels.
    thresholds: Vec<f32>,
}

impl Turbo {
    fn new(distance: Distance, dim: usize, bits: TurboBits) -> Turbo {
        let padded = dim.max(1).next_power_of_two();
        let mut state = 0x7a3d_1b5e_9c2f_4681_u64 ^ dim as u64;
        let signs = (0..padded)
            .map(|_| {
                state = splitmix64(state);
                if state >> 63 == 0 { 1.0 } else { -1.0 }
            })
            .collect();
        // Lloyd-Max quantizers of N(0, 1).
        let levels: Vec<f32> = match bits {
            TurboBits::One => vec![-0.7979, 0.7979],
            TurboBits::OneAndHalf => vec![-1.2240, 0.0, 1.2240],
            TurboBits::Two => vec![-1.5104, -0.4528, 0.4528, 1.5104],
            TurboBits::Four => vec![
                -2.7326, -2.0690, -1.6180, -1.2562, -0.9423, -0.6568, -0.3880, -0.1284, 0.1284, 0.3880, 0.6568,
                0.9423, 1.2562, 1.6180, 2.0690, 2.7326,
            ],
            // 256 uniform levels over ±4 deviations: at 8 bits the Gaussian's
            // optimal levels are within rounding of uniform ones there.
            TurboBits::Eight => (0..256).map(|i| -4.0 + (i as f32 + 0.5) * 8.0 / 256.0).collect(),
        };
        let thresholds = levels.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
        let slot_bits = match bits {
            TurboBits::One => 1,
            TurboBits::OneAndHalf | TurboBits::Two => 2,
            TurboBits::Four => 4,
            TurboBits::Eight => 8,
        };
        Turbo { distance, dim, padded, signs, slot_bits, levels, thresholds }
    }

    fn code_bytes(&self) -> usize {
        (self.padded * self.slot_bits).div_ceil(8)
    }

    /// Sign flip, then an orthonormal Walsh-Hadamard transform: a rotation
    /// that makes every coordinate of a unit vector close to N(0, 1/padded).
    fn rotate(&self, v: &[f32]) -> Vec<f32> {
        let mut x = vec![0.0f32; self.padded];
        x[..self.dim.min(v.len())].copy_from_slice(&v[..self.dim.min(v.len())]);
        x.iter_mut().zip(&self.signs).for_each(|(a, s)| *a *= s);
        let mut h = 1;
        while h < self.padded {
            for block in (0..self.padded).step_by(2 * h) {
                for i in block..block + h {
                    let (a, b) = (x[i], x[i + h]);
                    x[i] = a + b;
                    x[i + h] = a - b;
                }
            }
            h *= 2;
        }
        let scale = 1.0 / (self.padded as f32).sqrt();
        x.iter_mut().for_each(|a| *a *= scale);
        x
    }

    /// `[norm f32 LE][codes]`: the norm and the quantized coordinates of the
    /// rotated unit vector, scaled to unit variance.
    fn encode(&self, v: &[f32], out: &mut [u8]) {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        out[..4].copy_from_slice(&norm.to_le_bytes());
        let codes = &mut out[4..4 + self.code_bytes()];
        codes.fill(0);
        if norm <= f32::EPSILON {
            return;
        }
        let spread = (self.padded as f32).sqrt() / norm;
        for (i, x) in self.rotate(v).into_iter().enumerate() {
            let z = x * spread;
            let level = self.thresholds.partition_point(|&t| t < z);
            let bit = i * self.slot_bits;
            let value = (level as u16) << (bit % 8);
            codes[bit / 8] |= value as u8;
            if bit % 8 + self.slot_bits > 8 {
                codes[bit / 8 + 1] |= (value >> 8) as u8;
            }
        }
    }

    /// The rotated query, scaled so that a dot with the levels times the
    /// stored norm approximates the dot product; and its squared norm.
    fn rotate_query(&self, query: &[f32]) -> (Vec<f32>, f32) {
        let norm2 = query.iter().map(|x| x * x).sum();
        let scale = 1.0 / (self.padded as f32).sqrt();
        let rotated = self.rotate(query).into_iter().map(|x| x * scale).collect();
        (rotated, norm2)
    }

    #[inline]
    fn similarity(&self, q: &[f32], q_norm2: f32, code: &[u8]) -> f32 {
        let norm = f32::from_le_bytes([code[0], code[1], code[2], code[3]]);
        let codes = &code[4..];
        let mask = (1u16 << self.slot_bits) - 1;
        let mut dot = 0.0f32;
        for (i, &x) in q.iter().enumerate() {
            let bit = i * self.slot_bits;
            let mut word = u16::from(codes[bit / 8]);
            if bit % 8 + self.slot_bits > 8 {
                word |= u16::from(codes[bit / 8 + 1]) << 8;
            }
            let level = ((word >> (bit % 8)) & mask) as usize;
            dot += x * self.levels[level.min(self.levels.len() - 1)];
        }
        let dot = dot * norm;
        match self.distance {
            Distance::Cosine | Distance::Dot => dot,
            // ‖q − x‖² = ‖q‖² + ‖x‖² − 2 q·x; Manhattan ranks by it too (the
            // rotation keeps only Euclidean geometry), rescoring corrects it.
            Distance::Euclid | Distance::Manhattan => -(q_norm2 + norm * norm - 2.0 * dot),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Points in 200 tight groups of 10 around random centres (xorshift,
    /// deterministic): a point's true neighbours are its group, as similar
    /// documents are in real embeddings. The centres do not depend on `seed`,
    /// so queries drawn with another seed fall into the same groups.
    fn dataset(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        fn stream(seed: u64) -> impl FnMut() -> f32 {
            let mut x = seed | 1;
            move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            }
        }
        let mut shape = stream(0x9e37_79b9_7f4a_7c15);
        let centres: Vec<Vec<f32>> = (0..200).map(|_| (0..dim).map(|_| shape() * 4.0 + 0.3).collect()).collect();
        let mut noise = stream(seed);
        (0..n).map(|i| centres[i % 200].iter().map(|c| c + noise() * 0.6).collect()).collect()
    }

    /// Recall@10 of "rank every point by the codes, rescore the best
    /// 10 × oversampling with the originals" against exact search.
    fn recall(config: Value, distance: Distance, oversampling: usize) -> f64 {
        recall_at(config, distance, oversampling, 64)
    }

    /// [`recall`] in `dim` dimensions: 1-bit codes need many dimensions to
    /// tell near neighbours apart, as in Qdrant's advice for binary quantization.
    fn recall_at(config: Value, distance: Distance, oversampling: usize, dim: usize) -> f64 {
        let mut data = dataset(2000, dim, 7);
        let mut queries = dataset(30, dim, 99);
        if distance == Distance::Cosine {
            data.iter_mut().chain(queries.iter_mut()).for_each(|v| crate::distance::normalize(v));
        }
        let method = Method::parse(&config).unwrap().unwrap();
        let codes = Quantized::build(&method, distance, dim, data.len(), &|i| Some(data[i].clone()));
        let sim = distance.similarity_fn();
        let (mut found, mut wanted) = (0, 0);
        for q in &queries {
            let mut exact: Vec<(f32, usize)> = data.iter().enumerate().map(|(i, v)| (sim(q, v), i)).collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0));
            let prepared = codes.query(q);
            let mut approx: Vec<(f32, usize)> =
                (0..data.len()).map(|i| (prepared.similarity(codes.code(i as u32).unwrap()), i)).collect();
            approx.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut rescored: Vec<(f32, usize)> =
                approx.iter().take(10 * oversampling).map(|&(_, i)| (sim(q, &data[i]), i)).collect();
            rescored.sort_by(|a, b| b.0.total_cmp(&a.0));
            wanted += 10;
            found += exact[..10].iter().filter(|(_, i)| rescored[..10].iter().any(|(_, j)| j == i)).count();
        }
        found as f64 / wanted as f64
    }

    #[test]
    fn scalar_int8_keeps_the_neighbours_for_every_distance() {
        for distance in [Distance::Cosine, Distance::Dot, Distance::Euclid, Distance::Manhattan] {
            let r = recall(json!({"scalar": {"type": "int8", "quantile": 0.99}}), distance, 2);
            assert!(r >= 0.95, "{distance:?}: recall {r}");
        }
    }

    #[test]
    fn binary_encodings_find_the_neighbours_with_oversampling() {
        for encoding in ["one_bit", "one_and_half_bits", "two_bits"] {
            for query in ["default", "scalar8bits", "scalar4bits"] {
                let config = json!({"binary": {"encoding": encoding, "query_encoding": query}});
                let r = recall_at(config, Distance::Cosine, 4, 512);
                assert!(r >= 0.85, "{encoding}/{query}: recall {r}");
            }
        }
    }

    #[test]
    fn product_quantization_finds_the_neighbours_with_oversampling() {
        for compression in ["x4", "x8", "x16"] {
            let r = recall(json!({"product": {"compression": compression}}), Distance::Euclid, 4);
            assert!(r >= 0.85, "{compression}: recall {r}");
        }
        let r = recall(json!({"product": {"compression": "x8"}}), Distance::Dot, 4);
        assert!(r >= 0.85, "dot: recall {r}");
    }

    #[test]
    fn turbo_finds_the_neighbours_at_every_bit_size() {
        for bits in ["bits1", "bits1_5", "bits2", "bits4", "bits8"] {
            for distance in [Distance::Cosine, Distance::Euclid] {
                let r = recall_at(json!({"turbo": {"bits": bits}}), distance, 4, 256);
                assert!(r >= 0.85, "{bits} {distance:?}: recall {r}");
            }
        }
    }

    /// Mean |approximate − exact| similarity over pairs of unit vectors.
    fn mean_error(config: Value) -> f32 {
        let mut data = dataset(400, 128, 3);
        data.iter_mut().for_each(|v| crate::distance::normalize(v));
        let method = Method::parse(&config).unwrap().unwrap();
        let codes = Quantized::build(&method, Distance::Cosine, 128, data.len(), &|i| Some(data[i].clone()));
        let mut total = 0.0;
        for (i, q) in data.iter().enumerate().take(40) {
            let prepared = codes.query(q);
            let j = (i * 7 + 3) % data.len();
            total += (prepared.similarity(codes.code(j as u32).unwrap()) - Distance::Cosine.score(q, &data[j])).abs();
        }
        total / 40.0
    }

    #[test]
    fn approximate_scores_come_closer_with_more_bits() {
        let errors: Vec<f32> =
            ["bits1", "bits2", "bits4", "bits8"].iter().map(|b| mean_error(json!({"turbo": {"bits": b}}))).collect();
        assert!(errors.windows(2).all(|w| w[1] < w[0]), "turbo errors by bits: {errors:?}");
        assert!(errors[3] < 0.01, "8-bit turbo error {}", errors[3]);
        let scalar = mean_error(json!({"scalar": {"type": "int8"}}));
        assert!(scalar < 0.01, "int8 error {scalar}");
    }

    #[test]
    fn configurations_are_checked() {
        assert_eq!(Method::parse(&json!("Disabled")).unwrap(), None);
        assert_eq!(Method::parse(&Value::Null).unwrap(), None);
        assert_eq!(
            Method::parse(&json!({"scalar": {"type": "int8", "always_ram": true}})).unwrap(),
            Some(Method::Scalar { quantile: None })
        );
        for bad in [
            json!({"scalar": {"type": "int4"}}),
            json!({"scalar": {"type": "int8", "quantile": 0.2}}),
            json!({"scalar": {}}),
            json!({"product": {"compression": "x3"}}),
            json!({"binary": {"encoding": "three_bits"}}),
            json!({"binary": {"query_encoding": "scalar2bits"}}),
            json!({"turbo": {"bits": "bits3"}}),
            json!({"turbo": {"memory": "swap"}}),
            json!({"scalar": {"type": "int8"}, "binary": {}}),
            json!({"lattice": {}}),
            json!({"binary": {"unknown": 1}}),
        ] {
            assert!(Method::parse(&bad).is_err(), "{bad} accepted");
        }
        let options = SearchOptions::parse(Some(&json!({"rescore": false, "oversampling": 2.5}))).unwrap();
        assert_eq!(options, SearchOptions { ignore: false, rescore: false, oversampling: 2.5 });
        assert_eq!(options.candidates(10), 25);
        assert!(SearchOptions::parse(Some(&json!({"oversampling": 0.5}))).is_err());
    }
}
