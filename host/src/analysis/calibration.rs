//! Rejection thresholds: where a classifier's score stops meaning "this
//! person" and starts meaning "unknown".

use rollcall_shared::gallery::Threshold;

/// The threshold for `target_far`: the lowest score above all but a
/// `target_far` share of the impostor scores, with the false-accept rate it
/// has on those impostors and the false-reject rate on the genuine scores.
pub fn calibrate(genuine: &[f32], impostor: &[f32], target_far: f32) -> Threshold {
    let mut imp: Vec<f32> = impostor.iter().copied().filter(|v| v.is_finite()).collect();
    imp.sort_by(|a, b| b.total_cmp(a));
    let value = if imp.is_empty() {
        f32::NEG_INFINITY
    } else {
        let allowed = ((target_far.max(0.0) * imp.len() as f32).floor() as usize).min(imp.len());
        // Scores equal to the first rejected impostor score are rejected too.
        if allowed == imp.len() { imp[imp.len() - 1] } else { next_up(imp[allowed]) }
    };
    let far = if imp.is_empty() { 1.0 } else { imp.iter().filter(|&&s| s >= value).count() as f32 / imp.len() as f32 };
    let frr = if genuine.is_empty() { 0.0 } else { genuine.iter().filter(|&&s| s < value).count() as f32 / genuine.len() as f32 };
    Threshold { value, target_far, estimated_far: far, estimated_frr: frr }
}

/// The smallest float above `v`.
fn next_up(v: f32) -> f32 {
    if v.is_nan() || v == f32::INFINITY {
        return v;
    }
    let bits = v.to_bits();
    let next = if v == 0.0 {
        1
    } else if v > 0.0 {
        bits + 1
    } else {
        bits - 1
    };
    f32::from_bits(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_keeps_the_false_accept_rate_at_target() {
        let impostor: Vec<f32> = (0..200).map(|i| i as f32 / 1000.0).collect(); // 0.000 .. 0.199
        let genuine = [0.15, 0.5, 0.6, 0.7];
        let t = calibrate(&genuine, &impostor, 0.01);
        // Two of 200 may pass: 0.198 and 0.199; 0.197 must not.
        assert!(t.value > 0.197 && t.value <= 0.198, "{}", t.value);
        assert!((t.estimated_far - 0.01).abs() < 1e-6);
        assert!((t.estimated_frr - 0.25).abs() < 1e-6);
        let strict = calibrate(&genuine, &impostor[..50], 0.01);
        assert!(strict.value > 0.049 && strict.estimated_far == 0.0);
    }
}
