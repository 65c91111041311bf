//! Scalar reference kernels: the meaning every SIMD kernel reproduces (up to
//! float rounding; exactly for `uint8`), and the fallback on CPUs that have
//! none of them.
//!
//! Like `Iterator::zip`, every kernel reads `min(a.len(), b.len())` elements.
//! This file depends on nothing but `std`, so the benchmark can compile it too.

// ---- f32 -------------------------------------------------------------------

/// Σ aᵢbᵢ, summed left to right.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Σ (aᵢ − bᵢ)², the square of the Euclidean distance.
pub fn euclid_squared(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Σ |aᵢ − bᵢ|.
pub fn manhattan(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

// ---- uint8 -----------------------------------------------------------------
//
// Sums of products of bytes are integers. They are computed exactly (in u64)
// and rounded to f32 once at the end, so every uint8 kernel must return
// bit-for-bit what these return.

/// Σ aᵢbᵢ over the byte values.
pub fn dot_u8(a: &[u8], b: &[u8]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x) * u64::from(y))
        .sum::<u64>() as f32
}

/// Σ (aᵢ − bᵢ)² over the byte values.
pub fn euclid_squared_u8(a: &[u8], b: &[u8]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum::<u64>() as f32
}

/// Σ |aᵢ − bᵢ| over the byte values.
pub fn manhattan_u8(a: &[u8], b: &[u8]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum::<u64>() as f32
}

/// Cosine similarity of two byte vectors. Bytes cannot be normalised when
/// stored, so unlike the float kernels this divides by the norms, as Qdrant's
/// uint8 Cosine does; a zero vector scores 0.
pub fn cosine_u8(a: &[u8], b: &[u8]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0u64, 0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (u64::from(x), u64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    cosine_from_sums(ab, aa, bb)
}

/// The last step of [`cosine_u8`], shared by every tier so that exact sums
/// give identical scores.
pub fn cosine_from_sums(ab: u64, aa: u64, bb: u64) -> f32 {
    if aa == 0 || bb == 0 {
        return 0.0;
    }
    (ab as f64 / (aa as f64 * bb as f64).sqrt()) as f32
}

// ---- float16 ---------------------------------------------------------------
//
// float16 vectors are slices of `u16` holding IEEE 754 binary16 bit patterns
// (what Qdrant's `float16` datatype stores). Each element is widened to f32
// exactly and the arithmetic is done in f32, as in the f32 kernels.

/// Σ aᵢbᵢ of two float16 vectors.
pub fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f16_to_f32(x) * f16_to_f32(y))
        .sum()
}

/// Σ (aᵢ − bᵢ)² of two float16 vectors.
pub fn euclid_squared_f16(a: &[u16], b: &[u16]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f16_to_f32(x) - f16_to_f32(y);
            d * d
        })
        .sum()
}

/// Σ |aᵢ − bᵢ| of two float16 vectors.
pub fn manhattan_f16(a: &[u16], b: &[u16]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f16_to_f32(x) - f16_to_f32(y)).abs())
        .sum()
}

/// Widens a binary16 bit pattern to f32. Exact: every half value is an f32
/// value. A NaN keeps its sign and payload and comes out quiet.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exponent = u32::from(h >> 10) & 0x1f;
    let mantissa = u32::from(h & 0x3ff);
    let bits = match exponent {
        // Zero or subnormal: mantissa · 2⁻²⁴, exact in f32.
        0 => (mantissa as f32 * f32::from_bits(0x3380_0000)).to_bits() | sign,
        // Infinity, or NaN (quiet bit set, payload kept).
        0x1f if mantissa == 0 => sign | 0x7f80_0000,
        0x1f => sign | 0x7fc0_0000 | (mantissa << 13),
        // Normal: rebias the exponent from 15 to 127.
        _ => sign | ((exponent + 112) << 23) | (mantissa << 13),
    };
    f32::from_bits(bits)
}

/// The same widening as [`f16_to_f32`] for every non-NaN input, by the
/// branch-free steps the NEON kernels run on four lanes at once (there is no
/// stable float16 vector type to convert with). It lives here so that the
/// algorithm is tested exhaustively on every machine, not only on aarch64.
/// A NaN stays a NaN but may stay signalling.
#[cfg_attr(
    not(all(target_arch = "aarch64", target_feature = "neon")),
    allow(dead_code)
)]
pub fn f16_to_f32_branchless(h: u16) -> f32 {
    const SHIFTED_EXPONENT: u32 = 0x7c00 << 13;
    // 2⁻¹⁴, the value of the smallest normal half: subtracting it turns
    // "1.mantissa · 2⁻¹⁴" into "0.mantissa · 2⁻¹⁴", the subnormal's value.
    const MAGIC: u32 = 113 << 23;
    let h = u32::from(h);
    let mut o = (h & 0x7fff) << 13;
    let exponent = o & SHIFTED_EXPONENT;
    o += (127 - 15) << 23;
    let infinite = if exponent == SHIFTED_EXPONENT {
        u32::MAX
    } else {
        0
    };
    o += infinite & ((128 - 16) << 23);
    let subnormal = if exponent == 0 { u32::MAX } else { 0 };
    let rescaled = (f32::from_bits(o + (1 << 23)) - f32::from_bits(MAGIC)).to_bits();
    o = (subnormal & rescaled) | (!subnormal & o);
    f32::from_bits(o | ((h & 0x8000) << 16))
}

/// Rounds an f32 to the nearest binary16 value, ties to even, as F16C's
/// `vcvtps2ph` with round-to-nearest does: too large becomes ±infinity, too
/// small ±0 or a subnormal, and a NaN stays a quiet NaN with the payload's
/// top bits.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xff) as i32;
    let mantissa = bits & 0x7f_ffff;
    if exponent == 0xff {
        return if mantissa == 0 {
            sign | 0x7c00
        } else {
            sign | 0x7e00 | (mantissa >> 13) as u16
        };
    }
    // The exponent rebiased from 127 to 15.
    let e = exponent - 112;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Below 2⁻²⁵ (half the smallest subnormal) everything rounds to zero;
        // exactly 2⁻²⁵ is a tie and rounds to even, which is zero too.
        if e < -10 {
            return sign;
        }
        // x = significand · 2^(exponent − 150) and a half subnormal is
        // m · 2⁻²⁴, so m = significand · 2^(e − 14): a right shift by 14 − e
        // (14..=24), rounded on the bits shifted out.
        let significand = mantissa | 0x80_0000;
        let shift = (14 - e) as u32;
        let mut half = significand >> shift;
        let rest = significand & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        if rest > halfway || (rest == halfway && half & 1 == 1) {
            // May carry into the exponent field: 0x400 is the smallest normal.
            half += 1;
        }
        return sign | half as u16;
    }
    let half = sign | ((e as u16) << 10) | (mantissa >> 13) as u16;
    let rest = mantissa & 0x1fff;
    // A carry out of the mantissa bumps the exponent, up to infinity: right.
    if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) {
        half + 1
    } else {
        half
    }
}

/// Widens `src` into `dst`. Panics if the lengths differ.
pub fn f16_slice_to_f32(src: &[u16], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "float16 conversion needs equal lengths"
    );
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f16_to_f32(s);
    }
}

/// Rounds `src` into `dst` with [`f32_to_f16`]. Panics if the lengths differ.
pub fn f32_slice_to_f16(src: &[f32], dst: &mut [u16]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "float16 conversion needs equal lengths"
    );
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f32_to_f16(s);
    }
}
