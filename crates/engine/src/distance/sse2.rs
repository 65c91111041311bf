//! SSE2 kernels for x86_64 CPUs without AVX2 + FMA. SSE2 is part of the
//! x86_64 baseline, but `kernels::available` still checks for it like any
//! other tier so that every kernel is handed out the same way.
//!
//! Same shape as `avx2.rs` at half the width: four accumulators of four
//! lanes (16 elements per step), a multiply and an add where AVX2 has an FMA.
//! There is no float16 here: widening halves needs F16C, which comes with
//! AVX; this tier uses the scalar float16 kernels.

use std::arch::x86_64::*;

use super::scalar;

/// Elements per block in the uint8 kernels. A block's 32-bit lanes each sum at
/// most 4 · 4096 products of two bytes (< 2³⁰), so none can overflow.
const U8_BLOCK: usize = 1 << 16;

/// `s[at..at + 4]` as four f32 lanes.
#[inline]
#[target_feature(enable = "sse2")]
fn load_f32<const N: usize>(s: &[f32; N], at: usize) -> __m128 {
    assert!(at + 4 <= N);
    // SAFETY: the assert keeps the 4-float read inside `s`; loadu needs no alignment.
    unsafe { _mm_loadu_ps(s.as_ptr().add(at)) }
}

/// The 16 bytes of `s`.
#[inline]
#[target_feature(enable = "sse2")]
fn load_u8(s: &[u8; 16]) -> __m128i {
    // SAFETY: reads exactly the 16 bytes of `s`; loadu needs no alignment.
    unsafe { _mm_loadu_si128(s.as_ptr().cast()) }
}

/// The sum of the four lanes.
#[inline]
#[target_feature(enable = "sse2")]
fn hsum(v: __m128) -> f32 {
    let s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// The sum of the four 32-bit lanes, read as unsigned.
#[inline]
#[target_feature(enable = "sse2")]
fn sum_u32(v: __m128i) -> u64 {
    // SAFETY: `__m128i` and `[u32; 4]` have the same size and any bits are valid for both.
    let lanes: [u32; 4] = unsafe { std::mem::transmute(v) };
    lanes.iter().map(|&l| u64::from(l)).sum()
}

/// The sum of the two 64-bit lanes.
#[inline]
#[target_feature(enable = "sse2")]
fn sum_u64(v: __m128i) -> u64 {
    // SAFETY: `__m128i` and `[u64; 2]` have the same size and any bits are valid for both.
    let lanes: [u64; 2] = unsafe { std::mem::transmute(v) };
    lanes[0] + lanes[1]
}

/// `|v|` lane by lane: clears the sign bits.
#[inline]
#[target_feature(enable = "sse2")]
fn abs(v: __m128) -> __m128 {
    _mm_andnot_ps(_mm_set1_ps(-0.0), v)
}

/// Writes a kernel that folds `$step` over 4-lane vectors of `a` and `b` and
/// `$term` over the scalar tail, summing everything into one f32.
macro_rules! float_kernel {
    (
        $(#[$doc:meta])*
        $name:ident,
        simd: |$x:ident, $y:ident, $acc:ident| $step:expr,
        scalar: |$sx:ident, $sy:ident| $term:expr $(,)?
    ) => {
        $(#[$doc])*
        ///
        /// # Safety
        ///
        /// The CPU must support SSE2.
        #[target_feature(enable = "sse2")]
        pub unsafe fn $name(a: &[f32], b: &[f32]) -> f32 {
            let n = a.len().min(b.len());
            let (a16, a_tail) = a[..n].as_chunks::<16>();
            let (b16, b_tail) = b[..n].as_chunks::<16>();
            let [mut acc0, mut acc1, mut acc2, mut acc3] = [_mm_setzero_ps(); 4];
            for (xs, ys) in a16.iter().zip(b16) {
                acc0 = { let ($x, $y, $acc) = (load_f32(xs, 0), load_f32(ys, 0), acc0); $step };
                acc1 = { let ($x, $y, $acc) = (load_f32(xs, 4), load_f32(ys, 4), acc1); $step };
                acc2 = { let ($x, $y, $acc) = (load_f32(xs, 8), load_f32(ys, 8), acc2); $step };
                acc3 = { let ($x, $y, $acc) = (load_f32(xs, 12), load_f32(ys, 12), acc3); $step };
            }
            let (a4, a_rest) = a_tail.as_chunks::<4>();
            let (b4, b_rest) = b_tail.as_chunks::<4>();
            for (xs, ys) in a4.iter().zip(b4) {
                acc0 = { let ($x, $y, $acc) = (load_f32(xs, 0), load_f32(ys, 0), acc0); $step };
            }
            let mut sum = hsum(_mm_add_ps(_mm_add_ps(acc0, acc1), _mm_add_ps(acc2, acc3)));
            for (&$sx, &$sy) in a_rest.iter().zip(b_rest) {
                sum += $term;
            }
            sum
        }
    };
}

float_kernel! {
    /// Σ aᵢbᵢ.
    dot,
    simd: |x, y, acc| _mm_add_ps(acc, _mm_mul_ps(x, y)),
    scalar: |x, y| x * y,
}

float_kernel! {
    /// Σ (aᵢ − bᵢ)².
    euclid_squared,
    simd: |x, y, acc| { let d = _mm_sub_ps(x, y); _mm_add_ps(acc, _mm_mul_ps(d, d)) },
    scalar: |x, y| (x - y) * (x - y),
}

float_kernel! {
    /// Σ |aᵢ − bᵢ|.
    manhattan,
    simd: |x, y, acc| _mm_add_ps(acc, abs(_mm_sub_ps(x, y))),
    scalar: |x, y| (x - y).abs(),
}

// ---- uint8 -----------------------------------------------------------------
//
// As in `avx2.rs`: bytes widened to 16 bits by interleaving with zeros,
// `madd_epi16` into 32-bit lanes, exact sums.

/// Σ aᵢbᵢ over the byte values.
///
/// # Safety
///
/// The CPU must support SSE2.
#[target_feature(enable = "sse2")]
pub unsafe fn dot_u8(a: &[u8], b: &[u8]) -> f32 {
    let mut total = 0;
    for (a, b) in a.chunks(U8_BLOCK).zip(b.chunks(U8_BLOCK)) {
        total += dot_u8_block(a, b);
    }
    total as f32
}

#[target_feature(enable = "sse2")]
fn dot_u8_block(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let zero = _mm_setzero_si128();
    let (mut lo, mut hi) = (zero, zero);
    for (xs, ys) in a16.iter().zip(b16) {
        let (x, y) = (load_u8(xs), load_u8(ys));
        lo = _mm_add_epi32(
            lo,
            _mm_madd_epi16(_mm_unpacklo_epi8(x, zero), _mm_unpacklo_epi8(y, zero)),
        );
        hi = _mm_add_epi32(
            hi,
            _mm_madd_epi16(_mm_unpackhi_epi8(x, zero), _mm_unpackhi_epi8(y, zero)),
        );
    }
    let tail: u64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| u64::from(x) * u64::from(y))
        .sum();
    sum_u32(_mm_add_epi32(lo, hi)) + tail
}

/// Σ (aᵢ − bᵢ)² over the byte values.
///
/// # Safety
///
/// The CPU must support SSE2.
#[target_feature(enable = "sse2")]
pub unsafe fn euclid_squared_u8(a: &[u8], b: &[u8]) -> f32 {
    let mut total = 0;
    for (a, b) in a.chunks(U8_BLOCK).zip(b.chunks(U8_BLOCK)) {
        total += euclid_squared_u8_block(a, b);
    }
    total as f32
}

#[target_feature(enable = "sse2")]
fn euclid_squared_u8_block(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let zero = _mm_setzero_si128();
    let (mut lo, mut hi) = (zero, zero);
    for (xs, ys) in a16.iter().zip(b16) {
        let (x, y) = (load_u8(xs), load_u8(ys));
        let d_lo = _mm_sub_epi16(_mm_unpacklo_epi8(x, zero), _mm_unpacklo_epi8(y, zero));
        let d_hi = _mm_sub_epi16(_mm_unpackhi_epi8(x, zero), _mm_unpackhi_epi8(y, zero));
        lo = _mm_add_epi32(lo, _mm_madd_epi16(d_lo, d_lo));
        hi = _mm_add_epi32(hi, _mm_madd_epi16(d_hi, d_hi));
    }
    let tail: u64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum();
    sum_u32(_mm_add_epi32(lo, hi)) + tail
}

/// Σ |aᵢ − bᵢ| over the byte values.
///
/// # Safety
///
/// The CPU must support SSE2.
#[target_feature(enable = "sse2")]
pub unsafe fn manhattan_u8(a: &[u8], b: &[u8]) -> f32 {
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let mut acc = _mm_setzero_si128();
    for (xs, ys) in a16.iter().zip(b16) {
        acc = _mm_add_epi64(acc, _mm_sad_epu8(load_u8(xs), load_u8(ys)));
    }
    let tail: u64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    (sum_u64(acc) + tail) as f32
}

/// Cosine similarity of two byte vectors (see [`scalar::cosine_u8`]).
///
/// # Safety
///
/// The CPU must support SSE2.
#[target_feature(enable = "sse2")]
pub unsafe fn cosine_u8(a: &[u8], b: &[u8]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0, 0, 0);
    for (a, b) in a.chunks(U8_BLOCK).zip(b.chunks(U8_BLOCK)) {
        let sums = cosine_u8_block(a, b);
        ab += sums[0];
        aa += sums[1];
        bb += sums[2];
    }
    scalar::cosine_from_sums(ab, aa, bb)
}

/// `[Σ aᵢbᵢ, Σ aᵢ², Σ bᵢ²]` of one block.
#[target_feature(enable = "sse2")]
fn cosine_u8_block(a: &[u8], b: &[u8]) -> [u64; 3] {
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let zero = _mm_setzero_si128();
    let (mut ab, mut aa, mut bb) = (zero, zero, zero);
    for (xs, ys) in a16.iter().zip(b16) {
        let (x, y) = (load_u8(xs), load_u8(ys));
        let (x_lo, x_hi) = (_mm_unpacklo_epi8(x, zero), _mm_unpackhi_epi8(x, zero));
        let (y_lo, y_hi) = (_mm_unpacklo_epi8(y, zero), _mm_unpackhi_epi8(y, zero));
        ab = _mm_add_epi32(
            ab,
            _mm_add_epi32(_mm_madd_epi16(x_lo, y_lo), _mm_madd_epi16(x_hi, y_hi)),
        );
        aa = _mm_add_epi32(
            aa,
            _mm_add_epi32(_mm_madd_epi16(x_lo, x_lo), _mm_madd_epi16(x_hi, x_hi)),
        );
        bb = _mm_add_epi32(
            bb,
            _mm_add_epi32(_mm_madd_epi16(y_lo, y_lo), _mm_madd_epi16(y_hi, y_hi)),
        );
    }
    let mut sums = [sum_u32(ab), sum_u32(aa), sum_u32(bb)];
    for (&x, &y) in a_rest.iter().zip(b_rest) {
        let (x, y) = (u64::from(x), u64::from(y));
        sums[0] += x * y;
        sums[1] += x * x;
        sums[2] += y * y;
    }
    sums
}
