//! Which kernels this CPU runs, chosen once, and the free functions that call
//! them.
//!
//! A [`Kernels`] table holds plain `fn` pointers for every element type and
//! metric. [`available`] lists the tables this CPU can run, scalar first and
//! the fastest last; [`best`] is that last one, picked on first use and kept
//! in a `LazyLock`, so a call costs one load of the table and one indirect
//! call, never a feature check. Code that scores in a loop takes the pointer
//! out once (`Distance::similarity_fn` and friends) and pays only the call.
//!
//! This file depends on nothing outside `distance/`, so the benchmark can
//! compile it (with the kernel files) and time each tier on its own.

use std::sync::LazyLock;

use super::scalar;

/// A distance or similarity kernel over two vectors of `T`.
pub type Kernel<T> = fn(&[T], &[T]) -> f32;

/// Every metric for one element type, from one tier.
#[derive(Clone, Copy)]
pub struct Metrics<T: 'static> {
    /// Σ aᵢbᵢ.
    pub dot: Kernel<T>,
    /// What Distance::Cosine scores: `dot` for f32 and float16 (those vectors
    /// are normalised before they are stored), the real cosine for uint8.
    pub cosine: Kernel<T>,
    /// The Euclidean distance (not squared).
    pub euclid: Kernel<T>,
    /// The squared Euclidean distance.
    pub euclid_squared: Kernel<T>,
    /// Σ |aᵢ − bᵢ|.
    pub manhattan: Kernel<T>,
    /// −Σ (aᵢ − bᵢ)²: higher is closer.
    pub neg_euclid_squared: Kernel<T>,
    /// −Σ |aᵢ − bᵢ|: higher is closer.
    pub neg_manhattan: Kernel<T>,
}

/// Every kernel of one tier (scalar, SSE2, AVX2, NEON).
#[derive(Clone, Copy)]
pub struct Kernels {
    /// The tier's name, e.g. `"avx2+fma+f16c"`.
    pub name: &'static str,
    pub f32: Metrics<f32>,
    pub u8: Metrics<u8>,
    /// float16 vectors as IEEE 754 binary16 bit patterns.
    pub f16: Metrics<u16>,
    pub f16_slice_to_f32: fn(&[u16], &mut [f32]),
    pub f32_slice_to_f16: fn(&[f32], &mut [u16]),
}

/// Builds a [`Metrics`] table from a tier's `dot`, `cosine`, `euclid_squared`
/// and `manhattan` kernels; the other entries are derived from them. With
/// `unsafe`, the kernels are target-feature functions and the wrappers call
/// them in `unsafe` blocks, which is sound only because [`available`] builds
/// such a table after it has detected the features.
macro_rules! metrics {
    ($t:ty; $($unsafe:ident)? { $dot:path, $cosine:path, $euclid_squared:path, $manhattan:path $(,)? }) => {{
        fn dot(a: &[$t], b: &[$t]) -> f32 {
            // SAFETY (target-feature tiers): reachable only once `available` detected the features.
            $($unsafe)? { $dot(a, b) }
        }
        fn cosine(a: &[$t], b: &[$t]) -> f32 {
            // SAFETY (target-feature tiers): reachable only once `available` detected the features.
            $($unsafe)? { $cosine(a, b) }
        }
        fn euclid_squared(a: &[$t], b: &[$t]) -> f32 {
            // SAFETY (target-feature tiers): reachable only once `available` detected the features.
            $($unsafe)? { $euclid_squared(a, b) }
        }
        fn manhattan(a: &[$t], b: &[$t]) -> f32 {
            // SAFETY (target-feature tiers): reachable only once `available` detected the features.
            $($unsafe)? { $manhattan(a, b) }
        }
        fn euclid(a: &[$t], b: &[$t]) -> f32 {
            euclid_squared(a, b).sqrt()
        }
        fn neg_euclid_squared(a: &[$t], b: &[$t]) -> f32 {
            -euclid_squared(a, b)
        }
        fn neg_manhattan(a: &[$t], b: &[$t]) -> f32 {
            -manhattan(a, b)
        }
        Metrics { dot, cosine, euclid, euclid_squared, manhattan, neg_euclid_squared, neg_manhattan }
    }};
}

fn scalar_tier() -> Kernels {
    Kernels {
        name: "scalar",
        f32: metrics!(f32; { scalar::dot, scalar::dot, scalar::euclid_squared, scalar::manhattan }),
        u8: metrics!(u8; {
            scalar::dot_u8, scalar::cosine_u8, scalar::euclid_squared_u8, scalar::manhattan_u8
        }),
        f16: metrics!(u16; {
            scalar::dot_f16, scalar::dot_f16, scalar::euclid_squared_f16, scalar::manhattan_f16
        }),
        f16_slice_to_f32: scalar::f16_slice_to_f32,
        f32_slice_to_f16: scalar::f32_slice_to_f16,
    }
}

/// The tiers this CPU can run, scalar first, fastest last.
pub fn available() -> Vec<Kernels> {
    let scalar = scalar_tier();
    #[allow(unused_mut, reason = "only the x86_64 and aarch64 builds add tiers")]
    let mut tiers = vec![scalar];

    #[cfg(target_arch = "x86_64")]
    {
        use super::{avx2, sse2};
        if std::arch::is_x86_feature_detected!("sse2") {
            tiers.push(Kernels {
                name: "sse2",
                f32: metrics!(f32; unsafe { sse2::dot, sse2::dot, sse2::euclid_squared, sse2::manhattan }),
                u8: metrics!(u8; unsafe {
                    sse2::dot_u8, sse2::cosine_u8, sse2::euclid_squared_u8, sse2::manhattan_u8
                }),
                ..scalar
            });
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            let mut tier = Kernels {
                name: "avx2+fma",
                f32: metrics!(f32; unsafe { avx2::dot, avx2::dot, avx2::euclid_squared, avx2::manhattan }),
                u8: metrics!(u8; unsafe {
                    avx2::dot_u8, avx2::cosine_u8, avx2::euclid_squared_u8, avx2::manhattan_u8
                }),
                ..scalar
            };
            if std::arch::is_x86_feature_detected!("f16c") {
                fn f16_slice_to_f32(src: &[u16], dst: &mut [f32]) {
                    // SAFETY: only reachable once avx and f16c are detected (just above).
                    unsafe { avx2::f16_slice_to_f32(src, dst) }
                }
                fn f32_slice_to_f16(src: &[f32], dst: &mut [u16]) {
                    // SAFETY: only reachable once avx and f16c are detected (just above).
                    unsafe { avx2::f32_slice_to_f16(src, dst) }
                }
                tier.name = "avx2+fma+f16c";
                tier.f16 = metrics!(u16; unsafe {
                    avx2::dot_f16, avx2::dot_f16, avx2::euclid_squared_f16, avx2::manhattan_f16
                });
                tier.f16_slice_to_f32 = f16_slice_to_f32;
                tier.f32_slice_to_f16 = f32_slice_to_f16;
            }
            tiers.push(tier);
        }
    }

    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        use super::neon;
        fn f16_slice_to_f32(src: &[u16], dst: &mut [f32]) {
            // SAFETY: this code is compiled only with target_feature = "neon".
            unsafe { neon::f16_slice_to_f32(src, dst) }
        }
        tiers.push(Kernels {
            name: "neon",
            f32: metrics!(f32; unsafe { neon::dot, neon::dot, neon::euclid_squared, neon::manhattan }),
            u8: metrics!(u8; unsafe {
                neon::dot_u8, neon::cosine_u8, neon::euclid_squared_u8, neon::manhattan_u8
            }),
            f16: metrics!(u16; unsafe {
                neon::dot_f16, neon::dot_f16, neon::euclid_squared_f16, neon::manhattan_f16
            }),
            f16_slice_to_f32,
            // No stable float16 vector type to narrow into; rounding stays scalar.
            ..scalar
        });
    }

    tiers
}

static BEST: LazyLock<Kernels> = LazyLock::new(|| {
    *available()
        .last()
        .expect("the scalar tier is always available")
});

/// The fastest tier this CPU runs, detected on first use.
pub fn best() -> &'static Kernels {
    &BEST
}

// ---- f32 -------------------------------------------------------------------
// Every kernel reads min(a.len(), b.len()) elements, as the scalar `zip` did.

/// Σ aᵢbᵢ: the Dot score, and the Cosine score of normalised vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    (BEST.f32.dot)(a, b)
}

/// The Euclidean distance √Σ (aᵢ − bᵢ)².
pub fn euclid(a: &[f32], b: &[f32]) -> f32 {
    (BEST.f32.euclid)(a, b)
}

/// Σ (aᵢ − bᵢ)²: orders like [`euclid`] without the square root.
pub fn euclid_squared(a: &[f32], b: &[f32]) -> f32 {
    (BEST.f32.euclid_squared)(a, b)
}

/// The Manhattan distance Σ |aᵢ − bᵢ|.
pub fn manhattan(a: &[f32], b: &[f32]) -> f32 {
    (BEST.f32.manhattan)(a, b)
}

// ---- uint8 -----------------------------------------------------------------
// Qdrant's `uint8` datatype: values 0..=255, arithmetic on the integer values,
// exact up to the final rounding to f32.

/// Σ aᵢbᵢ over byte values.
pub fn dot_u8(a: &[u8], b: &[u8]) -> f32 {
    (BEST.u8.dot)(a, b)
}

/// Cosine similarity of byte vectors, Σ aᵢbᵢ / √(Σ aᵢ² · Σ bᵢ²); 0 if either
/// is zero. Bytes are not normalised when stored, so this divides.
pub fn cosine_u8(a: &[u8], b: &[u8]) -> f32 {
    (BEST.u8.cosine)(a, b)
}

/// The Euclidean distance between byte vectors.
pub fn euclid_u8(a: &[u8], b: &[u8]) -> f32 {
    (BEST.u8.euclid)(a, b)
}

/// The squared Euclidean distance between byte vectors.
pub fn euclid_squared_u8(a: &[u8], b: &[u8]) -> f32 {
    (BEST.u8.euclid_squared)(a, b)
}

/// The Manhattan distance between byte vectors.
pub fn manhattan_u8(a: &[u8], b: &[u8]) -> f32 {
    (BEST.u8.manhattan)(a, b)
}

// ---- float16 ---------------------------------------------------------------
// Qdrant's `float16` datatype, as `u16` IEEE 754 binary16 bit patterns. Each
// value is widened to f32 exactly; the arithmetic is f32.

/// Σ aᵢbᵢ of float16 vectors (also their Cosine score: stored normalised).
pub fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    (BEST.f16.dot)(a, b)
}

/// The Euclidean distance between float16 vectors.
pub fn euclid_f16(a: &[u16], b: &[u16]) -> f32 {
    (BEST.f16.euclid)(a, b)
}

/// The squared Euclidean distance between float16 vectors.
pub fn euclid_squared_f16(a: &[u16], b: &[u16]) -> f32 {
    (BEST.f16.euclid_squared)(a, b)
}

/// The Manhattan distance between float16 vectors.
pub fn manhattan_f16(a: &[u16], b: &[u16]) -> f32 {
    (BEST.f16.manhattan)(a, b)
}

/// Widens float16 bit patterns into `dst` (exact). Panics if the lengths differ.
pub fn f16_slice_to_f32(src: &[u16], dst: &mut [f32]) {
    (BEST.f16_slice_to_f32)(src, dst)
}

/// Rounds `src` to float16 bit patterns in `dst`: nearest, ties to even;
/// what rounds past ±65504 becomes ±infinity. Panics if the lengths differ.
pub fn f32_slice_to_f16(src: &[f32], dst: &mut [u16]) {
    (BEST.f32_slice_to_f16)(src, dst)
}
