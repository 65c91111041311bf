//! Distance functions. Scalar reference versions; the SIMD kernels of the
//! fast-search work replace the bodies, never the meaning.

use crate::config::Distance;

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn euclid(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
}

pub fn manhattan(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

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
        match self {
            Distance::Cosine | Distance::Dot => dot(a, b),
            Distance::Euclid => euclid(a, b),
            Distance::Manhattan => manhattan(a, b),
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
        if self.higher_is_better() { ord.reverse() } else { ord }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Euclid reports the distance itself, as Qdrant does, not its square.
    #[test]
    fn euclid_is_the_plain_distance() {
        assert_eq!(Distance::Euclid.score(&[0.0, 0.0], &[3.0, 4.0]), 5.0);
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
}
