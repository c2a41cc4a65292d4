//! Principal component analysis to two dimensions, for scatter plots.

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{ArrayView2, Axis};

/// A fitted 2-D projection.
#[derive(Debug, Clone)]
pub(crate) struct Pca2 {
    mean: Vec<f32>,
    /// Two principal axes, each of the input's dimension.
    pub axes: [Vec<f32>; 2],
    /// Share of the total variance each axis explains.
    pub explained: [f32; 2],
}

impl Pca2 {
    /// Fits the two leading principal axes of `x`'s rows.
    pub(crate) fn fit(x: ArrayView2<'_, f32>) -> Self {
        let (n, d) = x.dim();
        let mean = x.mean_axis(Axis(0)).map(|m| m.to_vec()).unwrap_or_else(|| vec![0.0; d]);
        let centered = &x - &ndarray::ArrayView1::from(&mean);
        let cov = centered.t().dot(&centered) / (n.max(2) - 1) as f32;
        let m = DMatrix::from_fn(d, d, |i, j| f64::from(cov[[i, j]]));
        let eig = SymmetricEigen::new(m);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let total: f64 = eig.eigenvalues.iter().map(|v| v.max(0.0)).sum();
        let axis = |i: usize| -> Vec<f32> {
            let mut v: Vec<f32> =
                order.get(i).map(|&c| eig.eigenvectors.column(c).iter().map(|&e| e as f32).collect()).unwrap_or_else(|| vec![0.0; d]);
            // Fix the sign so the picture does not flip between runs.
            if let Some(big) = v.iter().copied().max_by(|a, b| a.abs().total_cmp(&b.abs()))
                && big < 0.0
            {
                v.iter_mut().for_each(|e| *e = -*e);
            }
            v
        };
        let share = |i: usize| order.get(i).map_or(0.0, |&c| if total > 0.0 { (eig.eigenvalues[c].max(0.0) / total) as f32 } else { 0.0 });
        Pca2 { mean, axes: [axis(0), axis(1)], explained: [share(0), share(1)] }
    }

    /// Projects rows onto the two axes.
    pub(crate) fn project(&self, x: ArrayView2<'_, f32>) -> Vec<[f32; 2]> {
        let mut out = Vec::with_capacity(x.nrows());
        for r in x.rows() {
            let mut p = [0f32; 2];
            for (k, axis) in self.axes.iter().enumerate() {
                p[k] = r.iter().zip(&self.mean).zip(axis).map(|((v, m), a)| (v - m) * a).sum();
            }
            out.push(p);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn finds_the_direction_of_largest_spread() {
        let x = array![[-2.0f32, 0.1, 0.0], [-1.0, -0.1, 0.0], [0.0, 0.0, 0.0], [1.0, 0.1, 0.0], [2.0, -0.1, 0.0]];
        let p = Pca2::fit(x.view());
        assert!(p.axes[0][0].abs() > 0.99, "{:?}", p.axes[0]);
        assert!(p.explained[0] > 0.9);
        let pts = p.project(x.view());
        assert!((pts[4][0] - 2.0).abs() < 0.05);
    }
}
