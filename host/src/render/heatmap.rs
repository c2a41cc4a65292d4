//! The cosine-similarity heatmap: one cell per pair of faces.
//!
//! Reads: unit-length embeddings. Writes: a PNG where cell (i, j) is the
//! cosine similarity of faces i and j on a perceptual colour scale (dark
//! blue for dissimilar through yellow for identical), so blocks along the
//! diagonal show faces of one person when rows are grouped by cluster.

use image::{Rgb, RgbImage};

/// Colours of the Viridis map at nine stops, interpolated linearly.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// The Viridis colour of `t` in [0, 1].
pub(crate) fn viridis(t: f32) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f32;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    Rgb(std::array::from_fn(|c| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * f).round() as u8))
}

/// Cells a side at most: beyond, consecutive faces share a cell.
pub(crate) const MAX_CELLS: usize = 1000;

/// The side of `similarity.png`, in pixels.
pub(crate) const SIDE: u32 = 800;

/// Renders the similarity of `rows` (unit vectors of length `dim`, in the
/// order given) with cosine -0.2..1 mapped onto the colour scale; each cell
/// is scaled up so the image is at least `min_side` pixels. With more than
/// [`MAX_CELLS`] faces, consecutive faces are binned and a cell is the mean
/// similarity of its two bins' faces, which for unit vectors is exactly the
/// dot product of the bins' mean vectors: the picture stays the same size
/// and costs one small matrix product.
pub(crate) fn render(data: &[f32], dim: usize, min_side: u32) -> RgbImage {
    let n = data.len().checked_div(dim).unwrap_or(0);
    if n == 0 {
        return RgbImage::new(1, 1);
    }
    let cells = n.min(MAX_CELLS);
    let mut means = ndarray::Array2::<f32>::zeros((cells, dim));
    let mut counts = vec![0f32; cells];
    for i in 0..n {
        let b = i * cells / n;
        let mut row = means.row_mut(b);
        row.iter_mut().zip(&data[i * dim..(i + 1) * dim]).for_each(|(m, v)| *m += v);
        counts[b] += 1.0;
    }
    for (mut row, c) in means.rows_mut().into_iter().zip(&counts) {
        row /= c.max(1.0);
    }
    let sims = means.dot(&means.t());
    let cell = (min_side as usize).div_ceil(cells).max(1) as u32;
    let side = cells as u32 * cell;
    let mut img = RgbImage::new(side, side);
    for (i, row) in sims.rows().into_iter().enumerate() {
        for (j, &s) in row.iter().enumerate() {
            let c = viridis((s + 0.2) / 1.2);
            for y in 0..cell {
                for x in 0..cell {
                    img.put_pixel(j as u32 * cell + x, i as u32 * cell + y, c);
                }
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_faces_are_bright_and_orthogonal_ones_dark() {
        let data = [1.0, 0.0, 0.0, 1.0];
        let img = render(&data, 2, 10);
        assert_eq!(img.dimensions(), (10, 10));
        assert_eq!(*img.get_pixel(0, 0), viridis(1.0));
        assert_eq!(*img.get_pixel(9, 0), viridis(0.2 / 1.2));
        assert_eq!(viridis(0.0), Rgb([68, 1, 84]));
    }

    #[test]
    fn many_faces_share_cells_and_keep_the_picture_small() {
        // 2,500 faces in two halves: one side of 1,000 cells, the halves two
        // bright blocks.
        let n = 2500;
        let data: Vec<f32> = (0..n).flat_map(|i| if i < n / 2 { [1.0, 0.0] } else { [0.0, 1.0] }).collect();
        let img = render(&data, 2, 800);
        assert_eq!(img.dimensions(), (1000, 1000));
        assert_eq!(*img.get_pixel(0, 0), viridis(1.0));
        assert_eq!(*img.get_pixel(999, 0), viridis(0.2 / 1.2));
    }
}
