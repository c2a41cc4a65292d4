//! Rejection thresholds whose error rates are honest.
//!
//! A stranger must stay "unknown". With a small gallery (five people, five
//! photos each) leaving each person out gives about 25 stranger scores, and
//! a threshold set just above the highest of them claims nothing: 0 of 25
//! is compatible with a true rate of 11%. So a threshold here rests on three
//! things, each measured:
//!
//! 1. **The recognizer's published same-person score** (SFace: cosine
//!    0.363 between two faces), a floor for the similarity classifiers: a
//!    threshold below it would accept pairs the model's own benchmark calls
//!    different people. The caller translates it to each classifier's scale
//!    (a centroid, the normalised mean of `m` faces, scores a stranger
//!    `1 / |mean|` times higher than a single face does).
//! 2. **A model of stranger scores.** For the similarity classifiers, every
//!    face scored against every person it is not gives many single
//!    stranger-versus-member scores (12 people x 5 photos: 660); the user's
//!    own strangers (outliers, junk folders) add theirs. A normal
//!    distribution is fitted to them, with 95% upper confidence limits on
//!    its mean and spread so that few scores make a cautious model. A
//!    stranger meets every member, so for a gallery of `P` people the share
//!    of single scores allowed above the threshold is `1 - (1 - target)^(1/P)`:
//!    the threshold rises with the gallery. The linear classifiers have no
//!    per-person score a stranger is compared with, so their model is fitted
//!    to whole-gallery stranger scores: each person left out and scored by a
//!    gallery trained without them, and the user's strangers.
//! 3. **The empirical check.** Every stranger score observed is counted
//!    against the chosen threshold, and an exact (Clopper-Pearson) 95% upper
//!    bound on the false-accept rate is reported: that is the rate the data
//!    supports, and it is what the gallery records. When the bound exceeds
//!    the target, the data is too thin to show the target is met, and the
//!    report says so.
//!
//! **Scores come in clusters.** How much a stranger looks like a member is
//! mostly a matter of the two people, not of the photo: on SFace, the
//! spread of stranger scores between pairs of people is about twice that
//! within a pair. Five photos of Ann scored against Bob are closer to one
//! observation than to five. Every sample here is therefore kept in groups
//! (one per pair of people, per left-out person, per stranger face), and
//! every confidence limit and bound uses the Kish effective sample size
//! `n / (1 + (m - 1) ICC)`, with the intraclass correlation estimated from
//! the groups themselves (one-way analysis of variance). When faces are
//! independent this is `n`; when the people decide everything it is the
//! number of groups.
//!
//! The threshold is the higher of 1 and 2; with no model and no prior (two
//! people, a linear classifier) it falls back to just above the highest
//! stranger score seen.

use statrs::distribution::{Beta, ContinuousCDF, StudentsT};

use crate::artifacts::training::{Calibration, Method, Sample, Tail};

/// Confidence of every bound reported.
pub(crate) const CONFIDENCE: f64 = 0.95;

/// Exact one-sided upper confidence bound (Clopper-Pearson) on a rate
/// observed as `x` of `n`. Both may be effective (fractional) counts.
pub(crate) fn rate_upper(x: f64, n: f64, confidence: f64) -> f64 {
    if n <= 0.0 || x >= n {
        return 1.0;
    }
    Beta::new(x + 1.0, n - x).map_or(1.0, |b| b.inverse_cdf(confidence))
}

/// Scores in groups that are not independent of each other: one group per
/// pair of people, per left-out person, or per stranger face.
pub(crate) type Groups = Vec<Vec<f32>>;

impl Sample {
    /// Measures `groups` (non-finite scores are ignored).
    pub fn of(groups: &[Vec<f32>]) -> Sample {
        let groups: Vec<Vec<f64>> = groups
            .iter()
            .map(|g| g.iter().filter(|s| s.is_finite()).map(|&s| f64::from(s)).collect::<Vec<_>>())
            .filter(|g| !g.is_empty())
            .collect();
        let n: usize = groups.iter().map(Vec::len).sum();
        let k = groups.len();
        if n == k {
            // Groups of one: independent.
            return Sample { n, groups: k, icc: 0.0, effective: n as f64 };
        }
        if k < 3 {
            // Too few groups to tell how alike a group's scores are:
            // assume they are one score each.
            return Sample { n, groups: k, icc: 1.0, effective: k as f64 };
        }
        let mean = groups.iter().flatten().sum::<f64>() / n as f64;
        let means: Vec<f64> = groups.iter().map(|g| g.iter().sum::<f64>() / g.len() as f64).collect();
        let between = groups.iter().zip(&means).map(|(g, m)| g.len() as f64 * (m - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
        let within = groups.iter().zip(&means).map(|(g, m)| g.iter().map(|x| (x - m).powi(2)).sum::<f64>()).sum::<f64>() / (n - k) as f64;
        // The usual one-way ANOVA estimator, with the unbalanced group size.
        let sizes = groups.iter().map(|g| (g.len() as f64).powi(2)).sum::<f64>();
        let m0 = (n as f64 - sizes / n as f64) / (k - 1) as f64;
        let var_between = ((between - within) / m0).max(0.0);
        let icc = if var_between + within > 0.0 { var_between / (var_between + within) } else { 1.0 };
        let m = n as f64 / k as f64;
        Sample { n, groups: k, icc, effective: (n as f64 / (1.0 + (m - 1.0) * icc)).clamp(k.min(n) as f64, n as f64) }
    }

    /// The effective count of `x` of these scores.
    fn scale(&self, x: usize) -> f64 {
        if self.n == 0 { 0.0 } else { x as f64 * self.effective / self.n as f64 }
    }
}

impl Tail {
    /// Fits the model to grouped scores: at least three, worth more than
    /// two, and not all equal.
    pub fn fit(groups: &[Vec<f32>]) -> Option<Tail> {
        let sample = Sample::of(groups);
        let v: Vec<f64> = groups.iter().flatten().filter(|s| s.is_finite()).map(|&s| f64::from(s)).collect();
        let n = v.len();
        if n < 3 || sample.effective <= 2.0 {
            return None;
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        (sd > 0.0).then_some(Tail { sample, mean, sd })
    }

    /// The predictive distribution of the next stranger's score: the
    /// posterior predictive of a normal with unknown mean and variance,
    /// Student's t with `effective - 1` degrees of freedom around the mean,
    /// scaled by `sd * sqrt(1 + 1 / effective)`.
    fn predictive(&self) -> Option<StudentsT> {
        let n = self.sample.effective;
        StudentsT::new(self.mean, self.sd * (1.0 + 1.0 / n).sqrt(), n - 1.0).ok()
    }

    /// The score only a share `q` of strangers exceed. (The lower tail's
    /// quantile mirrored: it keeps its precision for tiny `q`.)
    pub fn quantile(&self, q: f64) -> f64 {
        self.predictive().map_or(f64::INFINITY, |t| 2.0 * self.mean - t.inverse_cdf(q))
    }

    /// The share of strangers above `t`.
    pub fn exceedance(&self, t: f64) -> f64 {
        self.predictive().map_or(1.0, |d| d.sf(t))
    }
}

/// Everything known about one classifier's scores, for calibrating it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Evidence {
    /// Scores of single stranger-member pairs (a face against one person it
    /// is not), for classifiers whose score is per person; empty otherwise.
    /// One group per person (or stranger face) and member.
    pub pairs: Groups,
    /// Whole-gallery stranger scores (a stranger's best score over all
    /// members): one group per person left out, one per stranger face.
    pub impostors: Groups,
    /// How many of the impostor scores came from leaving people out.
    pub left_out: usize,
    /// How many came from the user's own strangers.
    pub strangers: usize,
    /// Held-out genuine scores from cross-validation.
    pub genuine: Vec<f32>,
    /// People in the gallery.
    pub members: usize,
    /// The recognizer's published same-person score, on this classifier's
    /// scale, if it applies.
    pub prior: Option<f32>,
}

/// Sets a classifier's threshold for `target_far`; see the module docs.
pub(crate) fn calibrate(e: &Evidence, target_far: f32) -> Calibration {
    let target = f64::from(target_far);
    let members = e.members.max(1) as i32;
    let per_member = e.pairs.iter().any(|g| !g.is_empty());
    let (model, share) = if per_member {
        (Tail::fit(&e.pairs), 1.0 - (1.0 - target).powf(1.0 / f64::from(members)))
    } else {
        (Tail::fit(&e.impostors), target)
    };
    let from_model = model.map(|m| m.quantile(share) as f32);
    // The published score is a one-to-one operating point: one stranger,
    // one comparison. A gallery compares a stranger with every member, so
    // the same error per stranger needs a higher score, found where the
    // model puts the published score's one-to-one rate, shared by `P`.
    let prior = match (e.prior, model) {
        (Some(p), Some(m)) if per_member && members > 1 => {
            let one = m.exceedance(f64::from(p));
            let shared = -(-one).ln_1p() / f64::from(members);
            Some(if shared > 0.0 { p.max(m.quantile(-(-shared).exp_m1()) as f32) } else { p })
        }
        (p, _) => p,
    };
    let (threshold, method) = match (prior, from_model) {
        (Some(p), Some(m)) if p >= m => (p, Method::Prior),
        (_, Some(m)) => (m, Method::Model),
        (Some(p), None) => (p, Method::Prior),
        (None, None) => match e.impostors.iter().flatten().copied().filter(|s| s.is_finite()).reduce(f32::max) {
            Some(top) => (next_up(top), Method::HighestSeen),
            None => (f32::NEG_INFINITY, Method::None),
        },
    };
    let model_far = model.map(|m| {
        let q = m.exceedance(f64::from(threshold));
        if per_member { 1.0 - (1.0 - q).powi(members) } else { q }
    });
    // Two honest bounds when there are pairs: each at 97.5%, so that the
    // smaller is still a 95% bound (Bonferroni).
    let confidence = if per_member { 1.0 - (1.0 - CONFIDENCE) / 2.0 } else { CONFIDENCE };
    let impostors = Sample::of(&e.impostors);
    let accepted = e.impostors.iter().flatten().filter(|&&s| s >= threshold).count();
    let mut far_upper = rate_upper(impostors.scale(accepted), impostors.effective, confidence);
    if per_member {
        let pairs = Sample::of(&e.pairs);
        let over = e.pairs.iter().flatten().filter(|&&s| s >= threshold).count();
        let q_upper = rate_upper(pairs.scale(over), pairs.effective, confidence);
        far_upper = far_upper.min(1.0 - (1.0 - q_upper).powi(members));
    }
    let rejected = e.genuine.iter().filter(|&&s| s < threshold).count();
    let g = e.genuine.len();
    let n = impostors.n;
    Calibration {
        method,
        threshold,
        target_far,
        prior,
        model,
        per_member,
        model_far,
        pairs: e.pairs.iter().map(Vec::len).sum(),
        impostors: n,
        effective_impostors: impostors.effective,
        left_out: e.left_out,
        strangers: e.strangers,
        accepted,
        far: if n == 0 { 0.0 } else { accepted as f64 / n as f64 },
        far_upper,
        frr: if g == 0 { 0.0 } else { rejected as f64 / g as f64 },
        frr_upper: rate_upper(rejected as f64, g as f64, CONFIDENCE),
        too_thin: far_upper > target,
    }
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

    fn spread(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 500.0).collect() // about 0 +- 0.06
    }

    #[test]
    fn clopper_pearson_matches_known_values() {
        // 0 of 25 supports no better than 11.3% (the rule of three: 3/25 = 12%).
        assert!((rate_upper(0.0, 25.0, 0.95) - 0.1129).abs() < 0.001, "{}", rate_upper(0.0, 25.0, 0.95));
        // 1 of 100: about 4.7%.
        assert!((rate_upper(1.0, 100.0, 0.95) - 0.0466).abs() < 0.001, "{}", rate_upper(1.0, 100.0, 0.95));
        assert_eq!(rate_upper(0.0, 0.0, 0.95), 1.0);
        assert_eq!(rate_upper(5.0, 5.0, 0.95), 1.0);
    }

    #[test]
    fn scores_that_the_people_decide_count_once_per_pair_of_people() {
        // Ten pairs of people, five photos each. When each pair's scores are
        // all alike, they are worth ten scores; when the pair makes no
        // difference, fifty.
        let alike: Groups = (0..10).map(|g| vec![g as f32 / 10.0; 5]).collect();
        let s = Sample::of(&alike);
        assert_eq!((s.n, s.groups), (50, 10));
        assert!((s.icc - 1.0).abs() < 1e-9 && (s.effective - 10.0).abs() < 1e-9, "{s:?}");
        let mixed: Groups = spread(50).chunks(5).map(|c| c.to_vec()).collect();
        let s = Sample::of(&mixed);
        assert!(s.effective > 40.0, "{s:?}");
        let single: Groups = spread(7).into_iter().map(|x| vec![x]).collect();
        assert_eq!(Sample::of(&single).effective, 7.0);
    }

    #[test]
    fn few_scores_make_a_cautious_model() {
        let one_each = |v: &[f32]| -> Groups { v.iter().map(|&x| vec![x]).collect() };
        let scores = spread(200);
        let big = Tail::fit(&one_each(&scores)).unwrap();
        let small = Tail::fit(&one_each(&scores[..8])).unwrap();
        assert!(big.quantile(0.001) < small.quantile(0.001), "{} vs {}", big.quantile(0.001), small.quantile(0.001));
        assert!((big.exceedance(big.mean) - 0.5).abs() < 1e-9);
        assert!(Tail::fit(&[vec![0.1], vec![0.1]]).is_none());
        // The same 200 scores from four pairs of people are worth four: no
        // model.
        let clustered: Groups = (0..4).map(|g| scores[..50].iter().map(|x| x / 10.0 + g as f32 * 0.2).collect()).collect();
        assert!(Tail::fit(&clustered).is_none_or(|t| t.sample.effective < 10.0));
    }

    #[test]
    fn thresholds_rise_with_the_gallery_and_never_fall_below_the_prior() {
        let pairs: Groups = spread(300).into_iter().map(|x| vec![x]).collect();
        let at = |members, prior| {
            calibrate(&Evidence { pairs: pairs.clone(), members, prior, genuine: vec![0.9; 10], ..Evidence::default() }, 0.01)
        };
        let (three, thirty) = (at(3, None), at(30, None));
        assert!(thirty.threshold > three.threshold);
        assert_eq!(three.method, Method::Model);
        // A published one-to-one score of 0.5 is raised for a gallery, the
        // more the more people a stranger is compared with.
        let (floored, crowd) = (at(3, Some(0.5)), at(30, Some(0.5)));
        assert_eq!((floored.method, crowd.method), (Method::Prior, Method::Prior));
        assert!(0.5 < floored.threshold && floored.threshold < crowd.threshold, "{} {}", floored.threshold, crowd.threshold);
        assert_eq!(floored.frr, 0.0);
        assert_eq!(at(1, Some(0.5)).threshold, 0.5, "one member: one comparison");
    }

    #[test]
    fn the_bound_says_when_the_data_is_too_thin() {
        // 25 whole-gallery stranger scores from 25 strangers, none accepted:
        // the bound is 11%, far from a 1% target.
        let impostors: Groups = (0..25).map(|i| vec![i as f32 / 100.0]).collect();
        let c = calibrate(&Evidence { impostors, strangers: 25, members: 5, ..Evidence::default() }, 0.01);
        assert_eq!(c.accepted, 0);
        assert!(c.too_thin && (c.far_upper - 0.1129).abs() < 0.001, "{c:?}");
        assert_eq!(c.threshold().estimated_far, c.far_upper as f32, "the gallery records the bound");
        // The same 25 from five people left out, each scoring alike, are
        // worth five: the bound is 45%.
        let impostors: Groups = (0..5).map(|p| vec![p as f32 / 100.0; 5]).collect();
        let c = calibrate(&Evidence { impostors, left_out: 25, members: 5, ..Evidence::default() }, 0.01);
        assert!((c.far_upper - rate_upper(0.0, 5.0, 0.95)).abs() < 1e-9, "{c:?}");
    }
}
