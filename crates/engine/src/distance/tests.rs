//! Every tier this CPU runs against the scalar reference. On x86_64 with AVX2
//! that covers scalar, SSE2 and AVX2 (+F16C); NEON is compiled and tested on
//! aarch64 only, but its float16 widening is `f16_to_f32_branchless`, tested
//! here on every machine.

use proptest::prelude::*;

use super::kernels::{Kernels, Metrics, available, best};
use super::*;

fn tiers() -> Vec<Kernels> {
    available()
}

/// `|fast − reference|` may be as large as the reordering of the sum allows:
/// a small multiple of f32 epsilon times Σ|termᵢ|, the magnitude of the sum
/// before cancellation.
fn assert_close(tier: &str, what: &str, fast: f32, reference: f32, magnitude: f64) {
    let tolerance = 1e-5 * magnitude + 1e-6;
    let error = (f64::from(fast) - f64::from(reference)).abs();
    assert!(
        error <= tolerance,
        "{tier} {what}: {fast} vs scalar {reference} (error {error:e}, tolerance {tolerance:e})"
    );
}

/// Σ|xᵢyᵢ|, Σ(xᵢ − yᵢ)², Σ|xᵢ − yᵢ| in f64.
fn magnitudes(a: &[f32], b: &[f32]) -> [f64; 3] {
    let mut m = [0.0; 3];
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        m[0] += (x * y).abs();
        m[1] += (x - y) * (x - y);
        m[2] += (x - y).abs();
    }
    m
}

fn check_f32(a: &[f32], b: &[f32]) {
    let [m_dot, m_l2, m_l1] = magnitudes(a, b);
    let reference = [
        scalar::dot(a, b),
        scalar::euclid_squared(a, b),
        scalar::manhattan(a, b),
    ];
    for tier in tiers() {
        let k = &tier.f32;
        assert_close(tier.name, "dot", (k.dot)(a, b), reference[0], m_dot);
        assert_close(tier.name, "cosine", (k.cosine)(a, b), reference[0], m_dot);
        assert_close(
            tier.name,
            "euclid²",
            (k.euclid_squared)(a, b),
            reference[1],
            m_l2,
        );
        assert_close(
            tier.name,
            "manhattan",
            (k.manhattan)(a, b),
            reference[2],
            m_l1,
        );
        check_derived(tier.name, k, a, b);
    }
}

fn check_f16(a: &[u16], b: &[u16]) {
    let wide = |v: &[u16]| v.iter().map(|&h| f16_to_f32(h)).collect::<Vec<_>>();
    let [m_dot, m_l2, m_l1] = magnitudes(&wide(a), &wide(b));
    let reference = [
        scalar::dot_f16(a, b),
        scalar::euclid_squared_f16(a, b),
        scalar::manhattan_f16(a, b),
    ];
    for tier in tiers() {
        let k = &tier.f16;
        assert_close(tier.name, "f16 dot", (k.dot)(a, b), reference[0], m_dot);
        assert_close(
            tier.name,
            "f16 cosine",
            (k.cosine)(a, b),
            reference[0],
            m_dot,
        );
        assert_close(
            tier.name,
            "f16 euclid²",
            (k.euclid_squared)(a, b),
            reference[1],
            m_l2,
        );
        assert_close(
            tier.name,
            "f16 manhattan",
            (k.manhattan)(a, b),
            reference[2],
            m_l1,
        );
        check_derived(tier.name, k, a, b);
    }
}

/// uint8 sums are exact: every tier must agree with scalar to the bit.
fn check_u8(a: &[u8], b: &[u8]) {
    let reference = [
        scalar::dot_u8(a, b),
        scalar::cosine_u8(a, b),
        scalar::euclid_squared_u8(a, b),
        scalar::manhattan_u8(a, b),
    ];
    for tier in tiers() {
        let k = &tier.u8;
        let got = [
            (k.dot)(a, b),
            (k.cosine)(a, b),
            (k.euclid_squared)(a, b),
            (k.manhattan)(a, b),
        ];
        assert_eq!(
            got,
            reference,
            "{} u8 [dot, cosine, euclid², manhattan], len {}",
            tier.name,
            a.len()
        );
        check_derived(tier.name, k, a, b);
    }
}

/// The entries a tier derives from its kernels mean what they say.
fn check_derived<T>(tier: &str, k: &Metrics<T>, a: &[T], b: &[T]) {
    let squared = (k.euclid_squared)(a, b);
    assert_eq!((k.euclid)(a, b), squared.sqrt(), "{tier} euclid");
    assert_eq!((k.neg_euclid_squared)(a, b), -squared, "{tier} neg euclid²");
    assert_eq!(
        (k.neg_manhattan)(a, b),
        -(k.manhattan)(a, b),
        "{tier} neg manhattan"
    );
}

/// Two f32 vectors of one length in 0..=1100 (odd tails included).
fn f32_pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (0usize..=1100).prop_flat_map(|n| {
        let v = prop::collection::vec(-100.0f32..100.0, n);
        (v.clone(), v)
    })
}

fn u8_pair() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (0usize..=1100).prop_flat_map(|n| {
        let v = prop::collection::vec(any::<u8>(), n);
        (v.clone(), v)
    })
}

/// float16 vectors of finite values in ±1000, rounded from f32.
fn f16_pair() -> impl Strategy<Value = (Vec<u16>, Vec<u16>)> {
    (0usize..=1100).prop_flat_map(|n| {
        let v = prop::collection::vec((-1000.0f32..1000.0).prop_map(f32_to_f16), n);
        (v.clone(), v)
    })
}

proptest! {
    #[test]
    fn f32_kernels_match_scalar((a, b) in f32_pair()) {
        check_f32(&a, &b);
    }

    #[test]
    fn u8_kernels_match_scalar_exactly((a, b) in u8_pair()) {
        check_u8(&a, &b);
    }

    #[test]
    fn f16_kernels_match_scalar((a, b) in f16_pair()) {
        check_f16(&a, &b);
    }

    // The kernels read min(a.len(), b.len()) elements, as the scalar zip
    // always did; a longer side must never be read past the shorter one.
    #[test]
    fn unequal_lengths_read_the_shorter(
        a in prop::collection::vec(-10.0f32..10.0, 0..100),
        b in prop::collection::vec(-10.0f32..10.0, 0..100),
    ) {
        let n = a.len().min(b.len());
        check_f32(&a, &b);
        for tier in tiers() {
            prop_assert_eq!((tier.f32.dot)(&a, &b), (tier.f32.dot)(&a[..n], &b[..n]));
        }
        let (a8, b8): (Vec<u8>, Vec<u8>) = (a.iter().map(|x| x.abs() as u8).collect(), b.iter().map(|x| x.abs() as u8).collect());
        check_u8(&a8, &b8);
        let (a16, b16): (Vec<u16>, Vec<u16>) = (a.iter().map(|&x| f32_to_f16(x)).collect(), b.iter().map(|&x| f32_to_f16(x)).collect());
        check_f16(&a16, &b16);
    }

    // Every tier rounds f32 to float16 exactly as the scalar reference does
    // (F16C on AVX2 machines), for any bits at all: NaN, infinities,
    // subnormals, values that overflow.
    #[test]
    fn f32_to_f16_conversion_matches_scalar(bits in prop::collection::vec(any::<u32>(), 0..100)) {
        let src: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let reference: Vec<u16> = src.iter().map(|&x| f32_to_f16(x)).collect();
        for tier in tiers() {
            let mut out = vec![0u16; src.len()];
            (tier.f32_slice_to_f16)(&src, &mut out);
            prop_assert_eq!(&out, &reference, "{}", tier.name);
        }
    }

    // The resolved function pointers are the same computation as score().
    #[test]
    fn scorer_and_similarity_fn_agree_with_score((a, b) in f32_pair(), c in prop::collection::vec(-100.0f32..100.0, 1100)) {
        let c = &c[..a.len()];
        for distance in [Distance::Cosine, Distance::Dot, Distance::Euclid, Distance::Manhattan] {
            prop_assert_eq!(distance.scorer()(&a, &b).to_bits(), distance.score(&a, &b).to_bits());
            // similarity_fn ranks b and c as score does: a strictly higher
            // similarity never comes with a worse score.
            let sim = distance.similarity_fn();
            let (sim_b, sim_c) = (sim(&a, &b), sim(&a, c));
            let order = distance.cmp_scores(distance.score(&a, &b), distance.score(&a, c));
            if sim_b > sim_c {
                prop_assert_ne!(order, std::cmp::Ordering::Greater, "{:?}", distance);
            }
        }
    }
}

// Integer-valued inputs make every partial sum exact in f32 (|terms| ≤ 196,
// n ≤ 1100, sums < 2²⁴), so any dropped, doubled or misread tail element
// shows as a plain inequality. Every length 0..=1100 covers every tail shape.
#[test]
fn every_length_up_to_1100_is_exact_on_small_integers() {
    let a: Vec<f32> = (0..1100).map(|i| ((i * 7 + 3) % 17) as f32 - 8.0).collect();
    let b: Vec<f32> = (0..1100).map(|i| ((i * 5 + 1) % 13) as f32 - 6.0).collect();
    let a8: Vec<u8> = (0..1100).map(|i| (i * 37 % 256) as u8).collect();
    let b8: Vec<u8> = (0..1100).map(|i| (i * 91 % 256) as u8).collect();
    let a16: Vec<u16> = a.iter().map(|&x| f32_to_f16(x)).collect();
    let b16: Vec<u16> = b.iter().map(|&x| f32_to_f16(x)).collect();
    for tier in tiers() {
        for n in 0..=1100 {
            let (x, y) = (&a[..n], &b[..n]);
            let got = [
                (tier.f32.dot)(x, y),
                (tier.f32.euclid_squared)(x, y),
                (tier.f32.manhattan)(x, y),
            ];
            let want = [
                scalar::dot(x, y),
                scalar::euclid_squared(x, y),
                scalar::manhattan(x, y),
            ];
            assert_eq!(
                got, want,
                "{} f32 [dot, euclid², manhattan], len {n}",
                tier.name
            );

            let (x, y) = (&a16[..n], &b16[..n]);
            let got = [
                (tier.f16.dot)(x, y),
                (tier.f16.euclid_squared)(x, y),
                (tier.f16.manhattan)(x, y),
            ];
            assert_eq!(
                got, want,
                "{} f16 [dot, euclid², manhattan], len {n}",
                tier.name
            );

            check_u8(&a8[..n], &b8[..n]);
        }
    }
}

// The uint8 kernels add 32-bit lanes; past ~2¹⁶ elements of 255s a lane would
// wrap without the block split. 200 000 elements of 255 must stay exact.
#[test]
fn u8_sums_stay_exact_on_long_vectors() {
    let ones = vec![255u8; 200_000];
    let zeros = vec![0u8; 200_000];
    check_u8(&ones, &ones);
    check_u8(&ones, &zeros);
    assert_eq!(
        (best().u8.dot)(&ones, &ones),
        (200_000u64 * 255 * 255) as f32
    );
    assert_eq!(
        (best().u8.manhattan)(&ones, &zeros),
        (200_000u64 * 255) as f32
    );
}

// Detection must pick the widest tier the CPU has; a wrong feature string
// would silently leave every search on the scalar path.
#[test]
fn dispatch_picks_the_fastest_tier() {
    let name = best().name;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        assert!(name.starts_with("avx2"), "{name}");
    } else {
        assert_eq!(name, "sse2");
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    assert_eq!(name, "neon");
    assert_eq!(tiers()[0].name, "scalar");
}

#[test]
fn f16_round_trips_every_half() {
    for h in 0..=u16::MAX {
        let x = f16_to_f32(h);
        if x.is_nan() {
            assert!(f16_to_f32(f32_to_f16(x)).is_nan(), "{h:#06x}");
        } else {
            assert_eq!(f32_to_f16(x), h, "{h:#06x} -> {x}");
        }
    }
}

// The NEON kernels widen halves with these branch-free steps; check them
// against the plain conversion on every one of the 65 536 halves.
#[test]
fn f16_branchless_widening_matches_on_every_half() {
    for h in 0..=u16::MAX {
        let (plain, branchless) = (f16_to_f32(h), scalar::f16_to_f32_branchless(h));
        if plain.is_nan() {
            assert!(branchless.is_nan(), "{h:#06x}");
        } else {
            assert_eq!(plain.to_bits(), branchless.to_bits(), "{h:#06x}");
        }
    }
}

#[test]
fn f16_slice_widening_matches_scalar_on_every_half() {
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let reference: Vec<f32> = all.iter().map(|&h| f16_to_f32(h)).collect();
    for tier in tiers() {
        let mut out = vec![0.0f32; all.len()];
        (tier.f16_slice_to_f32)(&all, &mut out);
        for ((&h, got), want) in all.iter().zip(&out).zip(&reference) {
            if want.is_nan() {
                assert!(got.is_nan(), "{} {h:#06x}", tier.name);
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{} {h:#06x}", tier.name);
            }
        }
    }
}

#[test]
fn f32_to_f16_rounds_to_nearest_even() {
    let cases: [(f32, u16); 12] = [
        (1.0, 0x3c00),
        (-2.0, 0xc000),
        (65504.0, 0x7bff),  // largest half
        (65519.99, 0x7bff), // just below the midpoint to 2¹⁶
        (65520.0, 0x7c00),  // the midpoint ties to even: infinity
        (f32::INFINITY, 0x7c00),
        (5.960_464_5e-8, 0x0001),     // 2⁻²⁴, smallest subnormal
        (2.980_232_2e-8, 0x0000),     // 2⁻²⁵: ties to even, zero
        (4.470_348_4e-8, 0x0001),     // 1.5 · 2⁻²⁵ rounds up
        (1.0 + 1.0 / 2048.0, 0x3c00), // tie, even stays
        (1.0 + 3.0 / 2048.0, 0x3c02), // tie, odd rounds up
        (-0.0, 0x8000),
    ];
    for (x, h) in cases {
        assert_eq!(f32_to_f16(x), h, "{x:e}");
    }
    assert_eq!(f32_to_f16(f32::NAN) & 0x7e00, 0x7e00);
}

#[test]
fn u8_cosine_divides_by_the_norms() {
    assert_eq!(cosine_u8(&[3, 4], &[6, 8]), 1.0);
    assert_eq!(cosine_u8(&[1, 0], &[0, 1]), 0.0);
    assert_eq!(cosine_u8(&[0, 0], &[1, 1]), 0.0);
    assert_eq!(Distance::Cosine.scorer_u8()(&[3, 4], &[6, 8]), 1.0);
    assert_eq!(Distance::Euclid.scorer_u8()(&[0, 0], &[3, 4]), 5.0);
    assert_eq!(Distance::Euclid.similarity_fn_u8()(&[0, 0], &[3, 4]), -25.0);
}

// Euclid reports the distance itself, as Qdrant does, not its square.
#[test]
fn euclid_is_the_plain_distance() {
    assert_eq!(Distance::Euclid.score(&[0.0, 0.0], &[3.0, 4.0]), 5.0);
    assert_eq!(Distance::Euclid.scorer()(&[0.0, 0.0], &[3.0, 4.0]), 5.0);
    // similarity_fn skips the root: only the order matters there.
    assert_eq!(
        Distance::Euclid.similarity_fn()(&[0.0, 0.0], &[3.0, 4.0]),
        -25.0
    );
    assert_eq!(
        Distance::Manhattan.similarity_fn()(&[0.0, 0.0], &[3.0, 4.0]),
        -7.0
    );
    assert_eq!(
        Distance::Dot.similarity_fn()(&[1.0, 2.0], &[3.0, 4.0]),
        11.0
    );
}

// Cosine of normalised vectors equals their dot product; a zero vector does not turn into NaN.
#[test]
fn normalize_handles_zero_vector() {
    let mut v = vec![0.0, 0.0];
    normalize(&mut v);
    assert_eq!(v, vec![0.0, 0.0]);
    let mut w = vec![3.0, 4.0];
    normalize(&mut w);
    assert!((dot(&w, &w) - 1.0).abs() < 1e-6);
}
