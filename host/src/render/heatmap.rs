//! The cosine-similarity heatmap: one cell per pair of faces.
//!
//! Reads: unit-length embeddings. Writes: a PNG where cell (i, j) is the
//! cosine similarity of faces i and j on a perceptual colour scale (dark
//! blue for dissimilar through yellow for identical), so blocks along the
//! diagonal show faces of one person when rows are grouped by cluster.

use image::{Rgb, RgbImage};
use rollcall_shared::embedding::dot;

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
pub fn viridis(t: f32) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f32;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    Rgb(std::array::from_fn(|c| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * f).round() as u8))
}

/// Renders the similarity of `rows` (unit vectors of length `dim`, in the
/// order given) with cosine -0.2..1 mapped onto the colour scale; each cell
/// is scaled up so the image is at least `min_side` pixels.
pub fn render(data: &[f32], dim: usize, min_side: u32) -> RgbImage {
    let n = data.len().checked_div(dim).unwrap_or(0);
    if n == 0 {
        return RgbImage::new(1, 1);
    }
    let cell = (min_side as usize).div_ceil(n).max(1) as u32;
    let side = n as u32 * cell;
    let mut img = RgbImage::new(side, side);
    for i in 0..n {
        for j in 0..n {
            let s = dot(&data[i * dim..(i + 1) * dim], &data[j * dim..(j + 1) * dim]);
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
}
