//! AVX2 + FMA kernels (F16C for float16) for x86_64.
//!
//! Every `unsafe fn` here is unsafe for one reason only: the CPU must support
//! the features named in its `#[target_feature]`. `kernels::available` hands
//! them out only after `is_x86_feature_detected!` has confirmed them. Memory
//! safety does not depend on the caller: loads go through the helpers below,
//! which only read inside a fixed-size array.
//!
//! Four independent accumulators of eight lanes (32 elements per step) keep
//! both FMA ports busy: with one accumulator every FMA would wait for the
//! previous one's result (4 cycles). The tail goes eight at a time, then one
//! at a time.

use std::arch::x86_64::*;

use super::scalar;

/// Elements per block in the uint8 kernels. A block's 32-bit lanes each sum at
/// most 4 · 2048 products of two bytes (< 2²⁹), so none can overflow; blocks
/// are added up in u64, which keeps any length exact.
const U8_BLOCK: usize = 1 << 16;

/// `s[at..at + 8]` as eight f32 lanes.
#[inline]
#[target_feature(enable = "avx")]
fn load_f32<const N: usize>(s: &[f32; N], at: usize) -> __m256 {
    assert!(at + 8 <= N);
    // SAFETY: the assert keeps the 8-float read inside `s`; loadu needs no alignment.
    unsafe { _mm256_loadu_ps(s.as_ptr().add(at)) }
}

/// `s[at..at + 8]`, eight float16 bit patterns, widened (exactly) to f32 lanes.
#[inline]
#[target_feature(enable = "avx,f16c")]
fn load_f16<const N: usize>(s: &[u16; N], at: usize) -> __m256 {
    assert!(at + 8 <= N);
    // SAFETY: the assert keeps the 16-byte read inside `s`; loadu needs no alignment.
    let halves = unsafe { _mm_loadu_si128(s.as_ptr().add(at).cast()) };
    _mm256_cvtph_ps(halves)
}

/// The 32 bytes of `s`.
#[inline]
#[target_feature(enable = "avx")]
fn load_u8(s: &[u8; 32]) -> __m256i {
    // SAFETY: reads exactly the 32 bytes of `s`; loadu needs no alignment.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

/// The sum of the eight lanes.
#[inline]
#[target_feature(enable = "avx")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// The sum of the eight 32-bit lanes, read as unsigned.
#[inline]
#[target_feature(enable = "avx")]
fn sum_u32(v: __m256i) -> u64 {
    // SAFETY: `__m256i` and `[u32; 8]` have the same size and any bits are valid for both.
    let lanes: [u32; 8] = unsafe { std::mem::transmute(v) };
    lanes.iter().map(|&l| u64::from(l)).sum()
}

/// The sum of the four 64-bit lanes.
#[inline]
#[target_feature(enable = "avx")]
fn sum_u64(v: __m256i) -> u64 {
    // SAFETY: `__m256i` and `[u64; 4]` have the same size and any bits are valid for both.
    let lanes: [u64; 4] = unsafe { std::mem::transmute(v) };
    lanes.iter().sum()
}

/// Writes a kernel that folds `$step` over 8-lane vectors of `a` and `b` and
/// `$term` over the scalar tail, summing everything into one f32.
macro_rules! float_kernel {
    (
        $(#[$doc:meta])*
        $features:literal, $name:ident($elem:ty, $load:ident, $widen:path),
        simd: |$x:ident, $y:ident, $acc:ident| $step:expr,
        scalar: |$sx:ident, $sy:ident| $term:expr $(,)?
    ) => {
        $(#[$doc])*
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn $name(a: &[$elem], b: &[$elem]) -> f32 {
            let n = a.len().min(b.len());
            let (a32, a_tail) = a[..n].as_chunks::<32>();
            let (b32, b_tail) = b[..n].as_chunks::<32>();
            let [mut acc0, mut acc1, mut acc2, mut acc3] = [_mm256_setzero_ps(); 4];
            for (xs, ys) in a32.iter().zip(b32) {
                acc0 = { let ($x, $y, $acc) = ($load(xs, 0), $load(ys, 0), acc0); $step };
                acc1 = { let ($x, $y, $acc) = ($load(xs, 8), $load(ys, 8), acc1); $step };
                acc2 = { let ($x, $y, $acc) = ($load(xs, 16), $load(ys, 16), acc2); $step };
                acc3 = { let ($x, $y, $acc) = ($load(xs, 24), $load(ys, 24), acc3); $step };
            }
            let (a8, a_rest) = a_tail.as_chunks::<8>();
            let (b8, b_rest) = b_tail.as_chunks::<8>();
            for (xs, ys) in a8.iter().zip(b8) {
                acc0 = { let ($x, $y, $acc) = ($load(xs, 0), $load(ys, 0), acc0); $step };
            }
            let mut sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
            for (&$sx, &$sy) in a_rest.iter().zip(b_rest) {
                let ($sx, $sy) = ($widen($sx), $widen($sy));
                sum += $term;
            }
            sum
        }
    };
}

/// `|v|` lane by lane: clears the sign bits.
#[inline]
#[target_feature(enable = "avx")]
fn abs(v: __m256) -> __m256 {
    _mm256_andnot_ps(_mm256_set1_ps(-0.0), v)
}

// ---- f32 -------------------------------------------------------------------

float_kernel! {
    /// Σ aᵢbᵢ.
    "avx2,fma", dot(f32, load_f32, f32::from),
    simd: |x, y, acc| _mm256_fmadd_ps(x, y, acc),
    scalar: |x, y| x * y,
}

float_kernel! {
    /// Σ (aᵢ − bᵢ)².
    "avx2,fma", euclid_squared(f32, load_f32, f32::from),
    simd: |x, y, acc| { let d = _mm256_sub_ps(x, y); _mm256_fmadd_ps(d, d, acc) },
    scalar: |x, y| (x - y) * (x - y),
}

float_kernel! {
    /// Σ |aᵢ − bᵢ|.
    "avx2,fma", manhattan(f32, load_f32, f32::from),
    simd: |x, y, acc| _mm256_add_ps(acc, abs(_mm256_sub_ps(x, y))),
    scalar: |x, y| (x - y).abs(),
}

// ---- float16 ---------------------------------------------------------------

float_kernel! {
    /// Σ aᵢbᵢ of two float16 vectors.
    "avx2,fma,f16c", dot_f16(u16, load_f16, scalar::f16_to_f32),
    simd: |x, y, acc| _mm256_fmadd_ps(x, y, acc),
    scalar: |x, y| x * y,
}

float_kernel! {
    /// Σ (aᵢ − bᵢ)² of two float16 vectors.
    "avx2,fma,f16c", euclid_squared_f16(u16, load_f16, scalar::f16_to_f32),
    simd: |x, y, acc| { let d = _mm256_sub_ps(x, y); _mm256_fmadd_ps(d, d, acc) },
    scalar: |x, y| (x - y) * (x - y),
}

float_kernel! {
    /// Σ |aᵢ − bᵢ| of two float16 vectors.
    "avx2,fma,f16c", manhattan_f16(u16, load_f16, scalar::f16_to_f32),
    simd: |x, y, acc| _mm256_add_ps(acc, abs(_mm256_sub_ps(x, y))),
    scalar: |x, y| (x - y).abs(),
}

/// Widens float16 bit patterns to f32. Panics if the lengths differ.
///
/// # Safety
///
/// The CPU must support AVX and F16C.
#[target_feature(enable = "avx,f16c")]
pub unsafe fn f16_slice_to_f32(src: &[u16], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "float16 conversion needs equal lengths"
    );
    let (s8, s_rest) = src.as_chunks::<8>();
    let (d8, d_rest) = dst.as_chunks_mut::<8>();
    for (s, d) in s8.iter().zip(d8) {
        let v = load_f16(s, 0);
        // SAFETY: writes exactly the 8 floats of `d`; storeu needs no alignment.
        unsafe { _mm256_storeu_ps(d.as_mut_ptr(), v) };
    }
    for (&s, d) in s_rest.iter().zip(d_rest) {
        *d = scalar::f16_to_f32(s);
    }
}

/// Rounds f32 values to float16 (nearest, ties to even). Panics if the
/// lengths differ.
///
/// # Safety
///
/// The CPU must support AVX and F16C.
#[target_feature(enable = "avx,f16c")]
pub unsafe fn f32_slice_to_f16(src: &[f32], dst: &mut [u16]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "float16 conversion needs equal lengths"
    );
    let (s8, s_rest) = src.as_chunks::<8>();
    let (d8, d_rest) = dst.as_chunks_mut::<8>();
    for (s, d) in s8.iter().zip(d8) {
        let halves = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(load_f32(s, 0));
        // SAFETY: writes exactly the 16 bytes of `d`; storeu needs no alignment.
        unsafe { _mm_storeu_si128(d.as_mut_ptr().cast(), halves) };
    }
    for (&s, d) in s_rest.iter().zip(d_rest) {
        *d = scalar::f32_to_f16(s);
    }
}

// ---- uint8 -----------------------------------------------------------------
//
// Bytes are widened to 16 bits by interleaving them with zeros (unpacklo/hi:
// a lane order that differs from memory order, but the same for `a` and `b`,
// which is all a sum needs). `madd_epi16` then multiplies the 16-bit lanes
// and adds neighbouring products into 32-bit lanes. The sums are exact.

/// Σ aᵢbᵢ over the byte values.
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn dot_u8(a: &[u8], b: &[u8]) -> f32 {
    let mut total = 0;
    for (a, b) in a.chunks(U8_BLOCK).zip(b.chunks(U8_BLOCK)) {
        total += dot_u8_block(a, b);
    }
    total as f32
}

#[target_feature(enable = "avx2")]
fn dot_u8_block(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    let (a32, a_rest) = a[..n].as_chunks::<32>();
    let (b32, b_rest) = b[..n].as_chunks::<32>();
    let zero = _mm256_setzero_si256();
    let (mut lo, mut hi) = (zero, zero);
    for (xs, ys) in a32.iter().zip(b32) {
        let (x, y) = (load_u8(xs), load_u8(ys));
        let products_lo =
            _mm256_madd_epi16(_mm256_unpacklo_epi8(x, zero), _mm256_unpacklo_epi8(y, zero));
        let products_hi =
            _mm256_madd_epi16(_mm256_unpackhi_epi8(x, zero), _mm256_unpackhi_epi8(y, zero));
        lo = _mm256_add_epi32(lo, products_lo);
        hi = _mm256_add_epi32(hi, products_hi);
    }
    let tail: u64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| u64::from(x) * u64::from(y))
        .sum();
    sum_u32(_mm256_add_epi32(lo, hi)) + tail
}

/// Σ (aᵢ − bᵢ)² over the byte values.
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn euclid_squared_u8(a: &[u8], b: &[u8]) -> f32 {
    let mut total = 0;
    for (a, b) in a.chunks(U8_BLOCK).zip(b.chunks(U8_BLOCK)) {
        total += euclid_squared_u8_block(a, b);
    }
    total as f32
}

#[target_feature(enable = "avx2")]
fn euclid_squared_u8_block(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    let (a32, a_rest) = a[..n].as_chunks::<32>();
    let (b32, b_rest) = b[..n].as_chunks::<32>();
    let zero = _mm256_setzero_si256();
    let (mut lo, mut hi) = (zero, zero);
    for (xs, ys) in a32.iter().zip(b32) {
        let (x, y) = (load_u8(xs), load_u8(ys));
        // Differences of widened bytes lie in −255..=255: they fit 16 bits.
        let d_lo = _mm256_sub_epi16(_mm256_unpacklo_epi8(x, zero), _mm256_unpacklo_epi8(y, zero));
        let d_hi = _mm256_sub_epi16(_mm256_unpackhi_epi8(x, zero), _mm256_unpackhi_epi8(y, zero));
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(d_lo, d_lo));
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(d_hi, d_hi));
    }
    let tail: u64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum();
    sum_u32(_mm256_add_epi32(lo, hi)) + tail
}

/// Σ |aᵢ − bᵢ| over the byte values.
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn manhattan_u8(a: &[u8], b: &[u8]) -> f32 {
    let n = a.len().min(b.len());
    let (a32, a_rest) = a[..n].as_chunks::<32>();
    let (b32, b_rest) = b[..n].as_chunks::<32>();
    // `sad_epu8` sums absolute byte differences into 64-bit lanes: no block
    // splitting needed.
    let mut acc = _mm256_setzero_si256();
    for (xs, ys) in a32.iter().zip(b32) {
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(load_u8(xs), load_u8(ys)));
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
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
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
#[target_feature(enable = "avx2")]
fn cosine_u8_block(a: &[u8], b: &[u8]) -> [u64; 3] {
    let n = a.len().min(b.len());
    let (a32, a_rest) = a[..n].as_chunks::<32>();
    let (b32, b_rest) = b[..n].as_chunks::<32>();
    let zero = _mm256_setzero_si256();
    let (mut ab, mut aa, mut bb) = (zero, zero, zero);
    for (xs, ys) in a32.iter().zip(b32) {
        let (x, y) = (load_u8(xs), load_u8(ys));
        let (x_lo, x_hi) = (_mm256_unpacklo_epi8(x, zero), _mm256_unpackhi_epi8(x, zero));
        let (y_lo, y_hi) = (_mm256_unpacklo_epi8(y, zero), _mm256_unpackhi_epi8(y, zero));
        ab = _mm256_add_epi32(
            ab,
            _mm256_add_epi32(_mm256_madd_epi16(x_lo, y_lo), _mm256_madd_epi16(x_hi, y_hi)),
        );
        aa = _mm256_add_epi32(
            aa,
            _mm256_add_epi32(_mm256_madd_epi16(x_lo, x_lo), _mm256_madd_epi16(x_hi, x_hi)),
        );
        bb = _mm256_add_epi32(
            bb,
            _mm256_add_epi32(_mm256_madd_epi16(y_lo, y_lo), _mm256_madd_epi16(y_hi, y_hi)),
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
