//! NEON kernels for aarch64. NEON is part of the aarch64 baseline, so this
//! module is compiled only where `target_feature = "neon"` is on and needs no
//! run-time detection; the functions are still `unsafe` with
//! `#[target_feature]` so that every tier is handed out the same way.
//!
//! Four accumulators of four lanes (16 elements per step). Stable Rust has
//! no float16 vector type, so float16 lanes are widened with integer
//! operations: the steps of `scalar::f16_to_f32_branchless`, which the tests
//! check against every one of the 65 536 halves on any machine.

use std::arch::aarch64::*;

use super::scalar;

/// Elements per block in the uint8 kernels. A block's 32-bit lanes each sum at
/// most 4 · 4096 products of two bytes (< 2³⁰), so none can overflow.
const U8_BLOCK: usize = 1 << 16;

/// `s[at..at + 4]` as four f32 lanes.
#[inline]
#[target_feature(enable = "neon")]
fn load_f32<const N: usize>(s: &[f32; N], at: usize) -> float32x4_t {
    assert!(at + 4 <= N);
    // SAFETY: the assert keeps the 4-float read inside `s`; vld1q needs no alignment.
    unsafe { vld1q_f32(s.as_ptr().add(at)) }
}

/// `s[at..at + 4]`, four float16 bit patterns, widened (exactly) to f32 lanes.
#[inline]
#[target_feature(enable = "neon")]
fn load_f16<const N: usize>(s: &[u16; N], at: usize) -> float32x4_t {
    assert!(at + 4 <= N);
    // SAFETY: the assert keeps the 8-byte read inside `s`; vld1 needs no alignment.
    let halves = unsafe { vld1_u16(s.as_ptr().add(at)) };
    widen_f16(vmovl_u16(halves))
}

/// The 16 bytes of `s`.
#[inline]
#[target_feature(enable = "neon")]
fn load_u8(s: &[u8; 16]) -> uint8x16_t {
    // SAFETY: reads exactly the 16 bytes of `s`; vld1q needs no alignment.
    unsafe { vld1q_u8(s.as_ptr()) }
}

/// Four float16 bit patterns (one per 32-bit lane) to f32: the steps of
/// `scalar::f16_to_f32_branchless`, lane by lane.
#[inline]
#[target_feature(enable = "neon")]
fn widen_f16(h: uint32x4_t) -> float32x4_t {
    let shifted_exponent = vdupq_n_u32(0x7c00 << 13);
    let mut o = vshlq_n_u32::<13>(vandq_u32(h, vdupq_n_u32(0x7fff)));
    let exponent = vandq_u32(o, shifted_exponent);
    o = vaddq_u32(o, vdupq_n_u32((127 - 15) << 23));
    let infinite = vceqq_u32(exponent, shifted_exponent);
    o = vaddq_u32(o, vandq_u32(infinite, vdupq_n_u32((128 - 16) << 23)));
    let subnormal = vceqq_u32(exponent, vdupq_n_u32(0));
    let magic = vreinterpretq_f32_u32(vdupq_n_u32(113 << 23));
    let bumped = vreinterpretq_f32_u32(vaddq_u32(o, vdupq_n_u32(1 << 23)));
    let rescaled = vreinterpretq_u32_f32(vsubq_f32(bumped, magic));
    o = vbslq_u32(subnormal, rescaled, o);
    let sign = vshlq_n_u32::<16>(vandq_u32(h, vdupq_n_u32(0x8000)));
    vreinterpretq_f32_u32(vorrq_u32(o, sign))
}

/// Writes a kernel that folds `$step` over 4-lane vectors of `a` and `b` and
/// `$term` over the scalar tail, summing everything into one f32.
macro_rules! float_kernel {
    (
        $(#[$doc:meta])*
        $name:ident($elem:ty, $load:ident, $widen:path),
        simd: |$x:ident, $y:ident, $acc:ident| $step:expr,
        scalar: |$sx:ident, $sy:ident| $term:expr $(,)?
    ) => {
        $(#[$doc])*
        ///
        /// # Safety
        ///
        /// The CPU must support NEON (every aarch64 CPU this is compiled for does).
        #[target_feature(enable = "neon")]
        pub unsafe fn $name(a: &[$elem], b: &[$elem]) -> f32 {
            let n = a.len().min(b.len());
            let (a16, a_tail) = a[..n].as_chunks::<16>();
            let (b16, b_tail) = b[..n].as_chunks::<16>();
            let [mut acc0, mut acc1, mut acc2, mut acc3] = [vdupq_n_f32(0.0); 4];
            for (xs, ys) in a16.iter().zip(b16) {
                acc0 = { let ($x, $y, $acc) = ($load(xs, 0), $load(ys, 0), acc0); $step };
                acc1 = { let ($x, $y, $acc) = ($load(xs, 4), $load(ys, 4), acc1); $step };
                acc2 = { let ($x, $y, $acc) = ($load(xs, 8), $load(ys, 8), acc2); $step };
                acc3 = { let ($x, $y, $acc) = ($load(xs, 12), $load(ys, 12), acc3); $step };
            }
            let (a4, a_rest) = a_tail.as_chunks::<4>();
            let (b4, b_rest) = b_tail.as_chunks::<4>();
            for (xs, ys) in a4.iter().zip(b4) {
                acc0 = { let ($x, $y, $acc) = ($load(xs, 0), $load(ys, 0), acc0); $step };
            }
            let mut sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
            for (&$sx, &$sy) in a_rest.iter().zip(b_rest) {
                let ($sx, $sy) = ($widen($sx), $widen($sy));
                sum += $term;
            }
            sum
        }
    };
}

// ---- f32 -------------------------------------------------------------------

float_kernel! {
    /// Σ aᵢbᵢ.
    dot(f32, load_f32, f32::from),
    simd: |x, y, acc| vfmaq_f32(acc, x, y),
    scalar: |x, y| x * y,
}

float_kernel! {
    /// Σ (aᵢ − bᵢ)².
    euclid_squared(f32, load_f32, f32::from),
    simd: |x, y, acc| { let d = vsubq_f32(x, y); vfmaq_f32(acc, d, d) },
    scalar: |x, y| (x - y) * (x - y),
}

float_kernel! {
    /// Σ |aᵢ − bᵢ|.
    manhattan(f32, load_f32, f32::from),
    simd: |x, y, acc| vaddq_f32(acc, vabdq_f32(x, y)),
    scalar: |x, y| (x - y).abs(),
}

// ---- float16 ---------------------------------------------------------------

float_kernel! {
    /// Σ aᵢbᵢ of two float16 vectors.
    dot_f16(u16, load_f16, scalar::f16_to_f32),
    simd: |x, y, acc| vfmaq_f32(acc, x, y),
    scalar: |x, y| x * y,
}

float_kernel! {
    /// Σ (aᵢ − bᵢ)² of two float16 vectors.
    euclid_squared_f16(u16, load_f16, scalar::f16_to_f32),
    simd: |x, y, acc| { let d = vsubq_f32(x, y); vfmaq_f32(acc, d, d) },
    scalar: |x, y| (x - y) * (x - y),
}

float_kernel! {
    /// Σ |aᵢ − bᵢ| of two float16 vectors.
    manhattan_f16(u16, load_f16, scalar::f16_to_f32),
    simd: |x, y, acc| vaddq_f32(acc, vabdq_f32(x, y)),
    scalar: |x, y| (x - y).abs(),
}

/// Widens float16 bit patterns to f32. Panics if the lengths differ.
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn f16_slice_to_f32(src: &[u16], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "float16 conversion needs equal lengths"
    );
    let (s4, s_rest) = src.as_chunks::<4>();
    let (d4, d_rest) = dst.as_chunks_mut::<4>();
    for (s, d) in s4.iter().zip(d4) {
        let v = load_f16(s, 0);
        // SAFETY: writes exactly the 4 floats of `d`; vst1q needs no alignment.
        unsafe { vst1q_f32(d.as_mut_ptr(), v) };
    }
    for (&s, d) in s_rest.iter().zip(d_rest) {
        *d = scalar::f16_to_f32(s);
    }
}

// ---- uint8 -----------------------------------------------------------------
//
// `vmull_u8` multiplies bytes into 16-bit lanes (255² fits), `vpadalq_u16`
// adds neighbouring 16-bit lanes into 32-bit accumulators. The sums are exact.

/// Σ aᵢbᵢ over the byte values.
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn dot_u8(a: &[u8], b: &[u8]) -> f32 {
    let mut total = 0;
    for (a, b) in a.chunks(U8_BLOCK).zip(b.chunks(U8_BLOCK)) {
        total += dot_u8_block(a, b);
    }
    total as f32
}

#[target_feature(enable = "neon")]
fn dot_u8_block(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let (mut lo, mut hi) = (vdupq_n_u32(0), vdupq_n_u32(0));
    for (xs, ys) in a16.iter().zip(b16) {
        let (x, y) = (load_u8(xs), load_u8(ys));
        lo = vpadalq_u16(lo, vmull_u8(vget_low_u8(x), vget_low_u8(y)));
        hi = vpadalq_u16(hi, vmull_high_u8(x, y));
    }
    let tail: u64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| u64::from(x) * u64::from(y))
        .sum();
    vaddlvq_u32(lo) + vaddlvq_u32(hi) + tail
}

/// Σ (aᵢ − bᵢ)² over the byte values.
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn euclid_squared_u8(a: &[u8], b: &[u8]) -> f32 {
    let mut total = 0;
    for (a, b) in a.chunks(U8_BLOCK).zip(b.chunks(U8_BLOCK)) {
        total += euclid_squared_u8_block(a, b);
    }
    total as f32
}

#[target_feature(enable = "neon")]
fn euclid_squared_u8_block(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let (mut lo, mut hi) = (vdupq_n_u32(0), vdupq_n_u32(0));
    for (xs, ys) in a16.iter().zip(b16) {
        let d = vabdq_u8(load_u8(xs), load_u8(ys));
        lo = vpadalq_u16(lo, vmull_u8(vget_low_u8(d), vget_low_u8(d)));
        hi = vpadalq_u16(hi, vmull_high_u8(d, d));
    }
    let tail: u64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum();
    vaddlvq_u32(lo) + vaddlvq_u32(hi) + tail
}

/// Σ |aᵢ − bᵢ| over the byte values.
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn manhattan_u8(a: &[u8], b: &[u8]) -> f32 {
    let mut total = 0;
    for (a, b) in a.chunks(U8_BLOCK).zip(b.chunks(U8_BLOCK)) {
        total += manhattan_u8_block(a, b);
    }
    total as f32
}

#[target_feature(enable = "neon")]
fn manhattan_u8_block(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let mut acc = vdupq_n_u32(0);
    for (xs, ys) in a16.iter().zip(b16) {
        let d = vabdq_u8(load_u8(xs), load_u8(ys));
        acc = vpadalq_u16(acc, vpaddlq_u8(d));
    }
    let tail: u64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    vaddlvq_u32(acc) + tail
}

/// Cosine similarity of two byte vectors (see [`scalar::cosine_u8`]).
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
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
#[target_feature(enable = "neon")]
fn cosine_u8_block(a: &[u8], b: &[u8]) -> [u64; 3] {
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let (mut ab, mut aa, mut bb) = (vdupq_n_u32(0), vdupq_n_u32(0), vdupq_n_u32(0));
    for (xs, ys) in a16.iter().zip(b16) {
        let (x, y) = (load_u8(xs), load_u8(ys));
        let (x_lo, y_lo) = (vget_low_u8(x), vget_low_u8(y));
        ab = vpadalq_u16(vpadalq_u16(ab, vmull_u8(x_lo, y_lo)), vmull_high_u8(x, y));
        aa = vpadalq_u16(vpadalq_u16(aa, vmull_u8(x_lo, x_lo)), vmull_high_u8(x, x));
        bb = vpadalq_u16(vpadalq_u16(bb, vmull_u8(y_lo, y_lo)), vmull_high_u8(y, y));
    }
    let mut sums = [vaddlvq_u32(ab), vaddlvq_u32(aa), vaddlvq_u32(bb)];
    for (&x, &y) in a_rest.iter().zip(b_rest) {
        let (x, y) = (u64::from(x), u64::from(y));
        sums[0] += x * y;
        sums[1] += x * x;
        sums[2] += y * y;
    }
    sums
}
