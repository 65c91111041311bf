//! Distance functions: what a score means (here) and how fast it is computed
//! (the kernels below). The SIMD kernels replace the bodies, never the
//! meaning: each one is tested against the scalar reference.
//!
//! - `scalar.rs`: the reference kernels, and float16 conversion.
//! - `sse2.rs`, `avx2.rs` (x86_64, chosen at run time), `neon.rs` (aarch64):
//!   the same kernels with SIMD.
//! - `kernels.rs`: picks the fastest tier once and exposes the free functions.
//!
//! Element types: f32; `uint8` as `&[u8]` (values 0..=255, arithmetic on the
//! integers); `float16` as `&[u16]` IEEE 754 binary16 bit patterns.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[allow(
    dead_code,
    reason = "free kernel functions for the tests and benches; the engine picks kernels through `Distance`"
)]
mod kernels;
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod neon;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod sse2;
#[cfg(test)]
mod tests;

#[allow(
    unused_imports,
    reason = "free kernel functions for the tests and benches; the engine picks kernels through `Distance`"
)]
pub use kernels::{
    cosine_u8, dot, dot_f16, dot_u8, euclid, euclid_f16, euclid_squared, euclid_squared_f16,
    euclid_squared_u8, euclid_u8, f16_slice_to_f32, f32_slice_to_f16, manhattan, manhattan_f16,
    manhattan_u8,
};
pub use scalar::{f16_to_f32, f32_to_f16};

use crate::config::Distance;
use kernels::{Kernel, Metrics};

/// Scales a vector to unit length, as Qdrant stores Cosine vectors; a zero
/// vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > f32::EPSILON {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

impl Distance {
    /// The score Qdrant reports: similarity for Cosine and Dot (higher is
    /// closer), distance for Euclid and Manhattan (lower is closer). Cosine
    /// expects both vectors already normalised.
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        self.scorer()(a, b)
    }

    /// The kernel behind [`Distance::score`], resolved once: call it many
    /// times without matching on the metric or looking up the CPU's tier.
    pub fn scorer(self) -> fn(&[f32], &[f32]) -> f32 {
        self.pick_score(&kernels::best().f32)
    }

    /// A kernel for which higher is always closer, for ranking in a hot loop
    /// (the HNSW graph). Cosine and Dot: the score itself. Manhattan: minus
    /// the distance. Euclid: minus the SQUARED distance, which skips the
    /// square root and orders pairs the same way, but is not −score; use
    /// [`Distance::scorer`] for the value to report.
    pub fn similarity_fn(self) -> fn(&[f32], &[f32]) -> f32 {
        self.pick_similarity(&kernels::best().f32)
    }

    /// [`Distance::scorer`] for `uint8` vectors. Cosine divides by both norms
    /// (bytes are not normalised when stored); a zero vector scores 0.
    pub fn scorer_u8(self) -> fn(&[u8], &[u8]) -> f32 {
        self.pick_score(&kernels::best().u8)
    }

    /// [`Distance::similarity_fn`] for `uint8` vectors.
    pub fn similarity_fn_u8(self) -> fn(&[u8], &[u8]) -> f32 {
        self.pick_similarity(&kernels::best().u8)
    }

    /// [`Distance::scorer`] for `float16` vectors (`u16` bit patterns).
    /// Cosine is the dot product: vectors are normalised before they are
    /// rounded to float16.
    pub fn scorer_f16(self) -> fn(&[u16], &[u16]) -> f32 {
        self.pick_score(&kernels::best().f16)
    }

    /// [`Distance::similarity_fn`] for `float16` vectors.
    pub fn similarity_fn_f16(self) -> fn(&[u16], &[u16]) -> f32 {
        self.pick_similarity(&kernels::best().f16)
    }

    fn pick_score<T>(self, m: &Metrics<T>) -> Kernel<T> {
        match self {
            Distance::Cosine => m.cosine,
            Distance::Dot => m.dot,
            Distance::Euclid => m.euclid,
            Distance::Manhattan => m.manhattan,
        }
    }

    fn pick_similarity<T>(self, m: &Metrics<T>) -> Kernel<T> {
        match self {
            Distance::Cosine => m.cosine,
            Distance::Dot => m.dot,
            Distance::Euclid => m.neg_euclid_squared,
            Distance::Manhattan => m.neg_manhattan,
        }
    }

    /// Whether a higher score means closer.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Distance::Cosine | Distance::Dot)
    }

    /// Whether `score` passes a request's `score_threshold`.
    pub fn passes(self, score: f32, threshold: Option<f32>) -> bool {
        match threshold {
            None => true,
            Some(t) if self.higher_is_better() => score >= t,
            Some(t) => score <= t,
        }
    }

    /// Orders two scores so that the better one comes first.
    pub fn cmp_scores(self, a: f32, b: f32) -> std::cmp::Ordering {
        let ord = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
        if self.higher_is_better() {
            ord.reverse()
        } else {
            ord
        }
    }
}
