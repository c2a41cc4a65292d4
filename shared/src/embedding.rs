//! Embedding vector math: L2 normalisation and cosine similarity.
//!
//! Embeddings are compared by cosine similarity everywhere in rollcall. Once a
//! vector is L2-normalised, cosine similarity is a plain dot product, so every
//! stored embedding is normalised once, at the point it is produced.

/// The dot product of two equally long vectors (extra elements of the longer
/// one are ignored).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The Euclidean norm of a vector.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    libm::sqrtf(dot(a, a))
}

/// Scales `v` to unit length in place. Returns `false`, leaving `v`
/// unchanged, when its norm is zero or not finite: such a vector carries no
/// direction and must be rejected by the caller rather than compared.
pub fn l2_normalize(v: &mut [f32]) -> bool {
    let n = norm(v);
    if !n.is_finite() || n <= f32::MIN_POSITIVE {
        return false;
    }
    for x in v.iter_mut() {
        *x /= n;
    }
    true
}

/// Cosine similarity of two vectors of any length (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let d = norm(a) * norm(b);
    if d <= f32::MIN_POSITIVE { 0.0 } else { dot(a, b) / d }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_vectors_have_unit_norm_and_cosine_is_dot() {
        let mut a = [3.0, 4.0, 0.0];
        let mut b = [1.0, 2.0, 2.0];
        assert!(l2_normalize(&mut a) && l2_normalize(&mut b));
        assert!((norm(&a) - 1.0).abs() < 1e-6);
        assert!((cosine(&a, &b) - dot(&a, &b)).abs() < 1e-6);
        assert!((dot(&a, &b) - (3.0 + 8.0) / 15.0).abs() < 1e-6);
    }

    #[test]
    fn zero_and_nan_vectors_are_refused() {
        let mut z = [0.0f32; 4];
        assert!(!l2_normalize(&mut z));
        let mut n = [f32::NAN, 1.0];
        assert!(!l2_normalize(&mut n));
        assert_eq!(cosine(&z, &[1.0, 0.0, 0.0, 0.0]), 0.0);
    }
}
