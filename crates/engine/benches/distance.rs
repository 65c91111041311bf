//! What one distance call costs, in nanoseconds, for vectors of 384 and 1536
//! dimensions: the scalar reference, each SIMD tier this CPU runs, and what
//! the engine calls (`Distance::scorer`, `similarity_fn`, `scorer_u8`,
//! `scorer_f16`: the dispatched kernel).
//!
//! Run: `cargo bench -p osprey-engine --bench distance`. A plain
//! `std::time::Instant` loop (no criterion), best of five rounds because the
//! machine is shared. Both vectors stay in L1 cache, so this times the
//! arithmetic, not memory. Not a test; nothing is asserted about time.
//!
//! The engine's distance module is private, so the tiers are compiled here
//! from the engine's own kernel files (the `#[path]` modules below, which
//! depend on nothing but `std`); the "engine" column goes through the
//! engine's public `Distance` methods.

use std::hint::black_box;
use std::time::Instant;

use osprey_engine::config::Distance;

#[cfg(target_arch = "x86_64")]
#[allow(dead_code)]
#[path = "../src/distance/avx2.rs"]
mod avx2;
#[allow(dead_code)]
#[path = "../src/distance/kernels.rs"]
mod kernels;
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[allow(dead_code)]
#[path = "../src/distance/neon.rs"]
mod neon;
#[allow(dead_code)]
#[path = "../src/distance/scalar.rs"]
mod scalar;
#[cfg(target_arch = "x86_64")]
#[allow(dead_code)]
#[path = "../src/distance/sse2.rs"]
mod sse2;

use kernels::{Kernel, Metrics};

const ALL: [Distance; 4] = [
    Distance::Cosine,
    Distance::Dot,
    Distance::Euclid,
    Distance::Manhattan,
];

fn ns_per_call(iterations: u32, mut call: impl FnMut() -> f32) -> f64 {
    for _ in 0..iterations / 10 {
        black_box(call());
    }
    let mut best = f64::MAX;
    // Best of five rounds: the machine is shared.
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(call());
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(iterations));
    }
    best
}

/// One line: each tier's kernel, then the engine's, then engine vs scalar.
fn row<T>(label: &str, dim: usize, a: &[T], b: &[T], tiers: &[Kernel<T>], engine: Kernel<T>) {
    let iterations = (20_000_000 / dim) as u32;
    let time = |f: Kernel<T>| ns_per_call(iterations, || f(black_box(a), black_box(b)));
    let mut line = format!("{label:<30} {dim:>5}");
    let mut scalar = 0.0;
    for (i, &kernel) in tiers.iter().enumerate() {
        let ns = time(kernel);
        if i == 0 {
            scalar = ns;
        }
        line += &format!(" {ns:>14.1}");
    }
    let ns = time(engine);
    line += &format!(" {ns:>14.1} {:>8.1}x", scalar / ns);
    println!("{line}");
}

fn pick_score<T>(distance: Distance, m: &Metrics<T>) -> Kernel<T> {
    match distance {
        Distance::Cosine => m.cosine,
        Distance::Dot => m.dot,
        Distance::Euclid => m.euclid,
        Distance::Manhattan => m.manhattan,
    }
}

/// Deterministic pseudo-random values in [0, 1) (xorshift), so runs compare.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

fn main() {
    let tiers = kernels::available();
    let mut header = format!("{:<30} {:>5}", "ns per call", "dim");
    for tier in &tiers {
        header += &format!(" {:>14}", tier.name);
    }
    header += &format!(" {:>14} {:>9}", "engine", "vs scalar");
    println!("distance kernels, best of 5 rounds; engine = the dispatched kernel the engine calls");
    println!("{header}");

    for dim in [384, 1536] {
        let a: Vec<f32> = noise(dim, 1).iter().map(|x| 2.0 * x - 1.0).collect();
        let b: Vec<f32> = noise(dim, 2).iter().map(|x| 2.0 * x - 1.0).collect();
        for distance in ALL {
            let per_tier: Vec<_> = tiers.iter().map(|t| pick_score(distance, &t.f32)).collect();
            let label = format!("f32 {distance:?} score");
            row(&label, dim, &a, &b, &per_tier, distance.scorer());
        }
        let per_tier: Vec<_> = tiers.iter().map(|t| t.f32.neg_euclid_squared).collect();
        row(
            "f32 Euclid similarity_fn",
            dim,
            &a,
            &b,
            &per_tier,
            Distance::Euclid.similarity_fn(),
        );

        let a8: Vec<u8> = noise(dim, 3).iter().map(|x| (x * 256.0) as u8).collect();
        let b8: Vec<u8> = noise(dim, 4).iter().map(|x| (x * 256.0) as u8).collect();
        for distance in ALL {
            let per_tier: Vec<_> = tiers.iter().map(|t| pick_score(distance, &t.u8)).collect();
            let label = format!("uint8 {distance:?} score");
            row(&label, dim, &a8, &b8, &per_tier, distance.scorer_u8());
        }

        let a16: Vec<u16> = a.iter().map(|&x| scalar::f32_to_f16(x)).collect();
        let b16: Vec<u16> = b.iter().map(|&x| scalar::f32_to_f16(x)).collect();
        // float16 Cosine is its Dot (the vectors are stored normalised).
        for distance in [Distance::Dot, Distance::Euclid, Distance::Manhattan] {
            let per_tier: Vec<_> = tiers.iter().map(|t| pick_score(distance, &t.f16)).collect();
            let label = format!("float16 {distance:?} score");
            row(&label, dim, &a16, &b16, &per_tier, distance.scorer_f16());
        }
        println!();
    }
}
