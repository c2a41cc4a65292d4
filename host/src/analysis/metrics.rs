//! Clustering quality against known labels: NMI, adjusted Rand index,
//! pairwise precision/recall/F1 and BCubed precision/recall/F1.
//!
//! All are computed from the contingency table of (true class, predicted
//! cluster) counts. NMI uses the arithmetic mean of the two entropies, as
//! scikit-learn does by default.

use std::collections::{BTreeMap, HashMap};

use crate::artifacts::evaluation::{Prf, Scores};

impl Prf {
    fn new(precision: f64, recall: f64) -> Self {
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        Prf { precision, recall, f1 }
    }
}

fn comb2(n: usize) -> f64 {
    let n = n as f64;
    n * (n - 1.0) / 2.0
}

/// Scores predicted cluster labels against true class labels (any
/// hashable labels, one pair per item).
pub(crate) fn score<T: std::hash::Hash + Eq, P: std::hash::Hash + Eq>(truth: &[T], predicted: &[P]) -> Scores {
    assert_eq!(truth.len(), predicted.len(), "one prediction per item");
    let n = truth.len();
    let mut class_ids: HashMap<&T, usize> = HashMap::new();
    let mut cluster_ids: HashMap<&P, usize> = HashMap::new();
    // Ordered, so that every sum below adds the same terms in the same
    // order on every run (a HashMap's order changes from run to run).
    let mut cells: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (t, p) in truth.iter().zip(predicted) {
        let next = class_ids.len();
        let c = *class_ids.entry(t).or_insert(next);
        let next = cluster_ids.len();
        let k = *cluster_ids.entry(p).or_insert(next);
        *cells.entry((c, k)).or_default() += 1;
    }
    let mut a = vec![0usize; class_ids.len()];
    let mut b = vec![0usize; cluster_ids.len()];
    for (&(c, k), &v) in &cells {
        a[c] += v;
        b[k] += v;
    }
    let nf = n as f64;

    let sum_cells: f64 = cells.values().map(|&v| comb2(v)).sum();
    let sum_a: f64 = a.iter().map(|&v| comb2(v)).sum();
    let sum_b: f64 = b.iter().map(|&v| comb2(v)).sum();
    let total = comb2(n);
    let ari = if total == 0.0 {
        1.0
    } else {
        let expected = sum_a * sum_b / total;
        let max = (sum_a + sum_b) / 2.0;
        if (max - expected).abs() < f64::EPSILON { 1.0 } else { (sum_cells - expected) / (max - expected) }
    };

    let entropy = |counts: &[usize]| -> f64 { counts.iter().filter(|&&c| c > 0).map(|&c| -(c as f64 / nf) * (c as f64 / nf).ln()).sum() };
    let (h_t, h_p) = (entropy(&a), entropy(&b));
    let mi: f64 = cells.iter().map(|(&(c, k), &v)| (v as f64 / nf) * (nf * v as f64 / (a[c] as f64 * b[k] as f64)).ln()).sum();
    let nmi = if h_t == 0.0 && h_p == 0.0 {
        1.0
    } else if h_t == 0.0 || h_p == 0.0 {
        0.0
    } else {
        (mi / ((h_t + h_p) / 2.0)).clamp(0.0, 1.0)
    };

    let ratio = |num: f64, den: f64| if den == 0.0 { 1.0 } else { num / den };
    let pairwise = Prf::new(ratio(sum_cells, sum_b), ratio(sum_cells, sum_a));
    let bc_p: f64 = cells.iter().map(|(&(_, k), &v)| (v * v) as f64 / b[k] as f64).sum::<f64>() / nf.max(1.0);
    let bc_r: f64 = cells.iter().map(|(&(c, _), &v)| (v * v) as f64 / a[c] as f64).sum::<f64>() / nf.max(1.0);
    Scores { items: n, classes: a.len(), clusters: b.len(), nmi, ari, pairwise, bcubed: Prf::new(bc_p, bc_r) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hand_computed_split_and_merge() {
        // Classes {0,1,2} {3,4,5}; clusters {0,1} {2,3} {4,5}.
        let s = score(&[0, 0, 0, 1, 1, 1], &["a", "a", "b", "b", "c", "c"]);
        // Pairs: 2 of 3 predicted pairs are true, 2 of 6 true pairs found.
        assert!(close(s.pairwise.precision, 2.0 / 3.0) && close(s.pairwise.recall, 1.0 / 3.0));
        assert!(close(s.pairwise.f1, 4.0 / 9.0));
        // BCubed: precision (2/2*4 + 1/2*2)/6 = 5/6, recall (2/3*4 + 1/3*2)/6 = 5/9.
        assert!(close(s.bcubed.precision, 5.0 / 6.0) && close(s.bcubed.recall, 5.0 / 9.0));
        assert!(close(s.bcubed.f1, 2.0 / 3.0));
        // ARI (2 - 1.2) / (4.5 - 1.2); NMI (2/3 ln 2) / ((ln 2 + ln 3) / 2), both as scikit-learn gives.
        assert!(close(s.ari, 0.8 / 3.3));
        assert!((s.nmi - 0.5158037429793889).abs() < 1e-12);
        assert_eq!((s.items, s.classes, s.clusters), (6, 2, 3));
    }

    #[test]
    fn perfect_clustering_scores_one_whatever_the_names() {
        let s = score(&["x", "x", "y", "z", "z"], &[7, 7, 1, 3, 3]);
        assert!(close(s.nmi, 1.0) && close(s.ari, 1.0));
        assert!(close(s.pairwise.f1, 1.0) && close(s.bcubed.f1, 1.0));
    }

    #[test]
    fn one_big_cluster() {
        let s = score(&[0, 0, 1, 1], &[0, 0, 0, 0]);
        assert!(close(s.nmi, 0.0) && close(s.ari, 0.0));
        assert!(close(s.bcubed.recall, 1.0) && close(s.bcubed.precision, 0.5));
        assert!(close(s.pairwise.precision, 2.0 / 6.0) && close(s.pairwise.recall, 1.0));
    }

    /// `rollcall evaluate` printed NMI 1.0 on one run and
    /// 0.9999999999999998 on the next, on the same work directory: the
    /// contingency table was a HashMap, whose iteration order (and so the
    /// order of the floating-point sum) changes from one map to the next.
    #[test]
    fn regression_nmi_changed_between_runs() {
        let truth: Vec<usize> = (0..200).map(|i| i % 13).collect();
        let predicted: Vec<usize> = (0..200).map(|i| (i % 13 + usize::from(i % 17 == 0)) % 13).collect();
        let first = score(&truth, &predicted);
        for _ in 0..50 {
            let again = score(&truth, &predicted);
            assert_eq!(again.nmi.to_bits(), first.nmi.to_bits());
            assert_eq!(again.bcubed.f1.to_bits(), first.bcubed.f1.to_bits());
        }
    }
}
