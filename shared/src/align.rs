//! Face alignment: a similarity transform from five detected landmarks onto the
//! ArcFace reference template, and the bilinear warp that cuts the aligned chip
//! out of the full-resolution image.
//!
//! Reads: landmark coordinates and an interleaved RGB8 pixel buffer.
//! Writes: a `size x size` RGB8 chip (112 x 112 for ArcFace-style recognizers).
//!
//! The transform is the least-squares similarity of Umeyama (1991), the same
//! estimate scikit-image's `SimilarityTransform` makes, and the warp follows
//! OpenCV's `warpAffine` conventions (integer pixel coordinates are pixel
//! centres, bilinear taps outside the image read as black), so chips agree
//! with the Python reference implementation to within resampling noise.

use nalgebra::{Matrix2, Vector2};

/// Five facial landmarks in image pixels: left eye, right eye, nose tip, left
/// mouth corner, right mouth corner (left and right as seen in the image).
pub type Landmarks = [[f32; 2]; 5];

/// The ArcFace reference positions of the five landmarks in a 112 x 112 chip.
pub const ARCFACE_TEMPLATE_112: Landmarks =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// The ArcFace template scaled for a square chip of `size` pixels.
///
/// InsightFace defines the template for 112 px; other sizes scale it
/// uniformly, which is what every ArcFace-family recognizer expects.
pub fn arcface_template(size: u32) -> Landmarks {
    let ratio = size as f32 / 112.0;
    let mut t = ARCFACE_TEMPLATE_112;
    for p in &mut t {
        p[0] *= ratio;
        p[1] *= ratio;
    }
    t
}

/// A 2-D similarity transform (rotation, uniform scale, translation) stored as
/// the top two rows of a homogeneous 3 x 3 matrix: `[a, -b, tx; b, a, ty]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// Row-major `[[m00, m01, m02], [m10, m11, m12]]`.
    pub m: [[f64; 3]; 2],
}

impl Similarity {
    /// Applies the transform to a point.
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let m = &self.m;
        [m[0][0] * p[0] + m[0][1] * p[1] + m[0][2], m[1][0] * p[0] + m[1][1] * p[1] + m[1][2]]
    }

    /// The inverse transform, or `None` when the transform is degenerate
    /// (zero scale), which happens only for coincident landmarks.
    pub fn inverse(&self) -> Option<Similarity> {
        let a = Matrix2::new(self.m[0][0], self.m[0][1], self.m[1][0], self.m[1][1]);
        let inv = a.try_inverse()?;
        let t = -(inv * Vector2::new(self.m[0][2], self.m[1][2]));
        Some(Similarity { m: [[inv[(0, 0)], inv[(0, 1)], t[0]], [inv[(1, 0)], inv[(1, 1)], t[1]]] })
    }

    /// The uniform scale factor of the transform.
    pub fn scale(&self) -> f64 {
        libm::hypot(self.m[0][0], self.m[1][0])
    }
}

/// Estimates the least-squares similarity transform mapping `src` onto `dst`
/// (Umeyama 1991, with scale, reflections excluded).
///
/// Returns `None` when the source points are all coincident, where no
/// similarity is defined.
pub fn umeyama(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Option<Similarity> {
    let n = src.len().min(dst.len());
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let to_v = |p: &[f32; 2]| Vector2::new(p[0] as f64, p[1] as f64);
    let src_mean = src[..n].iter().map(to_v).sum::<Vector2<f64>>() / nf;
    let dst_mean = dst[..n].iter().map(to_v).sum::<Vector2<f64>>() / nf;

    let mut cov = Matrix2::<f64>::zeros();
    let mut src_var = 0.0;
    for (s, d) in src[..n].iter().zip(&dst[..n]) {
        let sd = to_v(s) - src_mean;
        let dd = to_v(d) - dst_mean;
        cov += dd * sd.transpose();
        src_var += sd.norm_squared();
    }
    cov /= nf;
    src_var /= nf;
    if src_var <= f64::EPSILON {
        return None;
    }

    let svd = cov.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    // Flip the weakest axis when the best orthogonal map would be a
    // reflection: a mirrored face is still the same face, but the template
    // must be reached by a proper rotation.
    let mut d = Vector2::new(1.0, 1.0);
    if cov.determinant() < 0.0 {
        d[1] = -1.0;
    }
    let rotation = u * Matrix2::from_diagonal(&d) * v_t;
    let scale = svd.singular_values.dot(&d) / src_var;
    let linear = rotation * scale;
    let t = dst_mean - linear * src_mean;
    Some(Similarity { m: [[linear[(0, 0)], linear[(0, 1)], t[0]], [linear[(1, 0)], linear[(1, 1)], t[1]]] })
}

/// The transform that maps detected `landmarks` onto the ArcFace template of
/// a `size` x `size` chip.
pub fn estimate_alignment(landmarks: &Landmarks, size: u32) -> Option<Similarity> {
    umeyama(landmarks, &arcface_template(size))
}

/// A borrowed interleaved RGB8 image.
#[derive(Debug, Clone, Copy)]
pub struct RgbView<'a> {
    /// `width * height * 3` bytes, row-major.
    pub data: &'a [u8],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Warps `image` by the similarity `to_chip` (image -> chip coordinates) into
/// a `size` x `size` RGB8 chip with bilinear sampling.
///
/// Each chip pixel `(u, v)` samples the image at `to_chip⁻¹(u, v)`; taps
/// outside the image count as black, as OpenCV's constant border does.
/// Returns `None` for a degenerate transform or a buffer too small for the
/// stated dimensions.
pub fn warp_to_chip(image: RgbView<'_>, to_chip: &Similarity, size: u32) -> Option<alloc::vec::Vec<u8>> {
    let (w, h) = (image.width as usize, image.height as usize);
    if image.data.len() < w * h * 3 {
        return None;
    }
    let inv = to_chip.inverse()?;
    let m = inv.m;
    let size = size as usize;
    let mut out = alloc::vec![0u8; size * size * 3];
    let px = |x: isize, y: isize| -> [f32; 3] {
        if x < 0 || y < 0 || x as usize >= w || y as usize >= h {
            return [0.0; 3];
        }
        let i = (y as usize * w + x as usize) * 3;
        [image.data[i] as f32, image.data[i + 1] as f32, image.data[i + 2] as f32]
    };
    for v in 0..size {
        for u in 0..size {
            let (uf, vf) = (u as f64, v as f64);
            let sx = m[0][0] * uf + m[0][1] * vf + m[0][2];
            let sy = m[1][0] * uf + m[1][1] * vf + m[1][2];
            let x0 = libm::floor(sx);
            let y0 = libm::floor(sy);
            let fx = (sx - x0) as f32;
            let fy = (sy - y0) as f32;
            let (x0, y0) = (x0 as isize, y0 as isize);
            let p00 = px(x0, y0);
            let p10 = px(x0 + 1, y0);
            let p01 = px(x0, y0 + 1);
            let p11 = px(x0 + 1, y0 + 1);
            let o = (v * size + u) * 3;
            for c in 0..3 {
                let top = p00[c] + (p10[c] - p00[c]) * fx;
                let bottom = p01[c] + (p11[c] - p01[c]) * fx;
                let value = top + (bottom - top) * fy;
                out[o + c] = (value + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotate_scale_shift(points: &Landmarks, angle: f64, scale: f64, shift: [f64; 2]) -> Landmarks {
        let (s, c) = (angle.sin(), angle.cos());
        let mut out = [[0.0f32; 2]; 5];
        for (o, p) in out.iter_mut().zip(points) {
            let (x, y) = (p[0] as f64, p[1] as f64);
            o[0] = (scale * (c * x - s * y) + shift[0]) as f32;
            o[1] = (scale * (s * x + c * y) + shift[1]) as f32;
        }
        out
    }

    #[test]
    fn rotated_scaled_landmarks_map_back_onto_the_template() {
        for &(angle, scale, shift) in
            &[(0.3, 3.7, [412.0, 96.0]), (-1.2, 0.8, [-20.0, 35.5]), (2.9, 10.0, [1500.0, 2200.0]), (0.0, 1.0, [0.0, 0.0])]
        {
            let seen = rotate_scale_shift(&ARCFACE_TEMPLATE_112, angle, scale, shift);
            let t = estimate_alignment(&seen, 112).expect("non-degenerate");
            for (p, want) in seen.iter().zip(&ARCFACE_TEMPLATE_112) {
                let got = t.apply([p[0] as f64, p[1] as f64]);
                assert!((got[0] - want[0] as f64).abs() < 1e-3, "{got:?} vs {want:?}");
                assert!((got[1] - want[1] as f64).abs() < 1e-3, "{got:?} vs {want:?}");
            }
            assert!((t.scale() - 1.0 / scale).abs() < 1e-4);
        }
    }

    #[test]
    fn least_squares_fit_matches_the_closed_form_for_noisy_points() {
        // For 2-D similarities the Umeyama estimate has a closed form; a
        // second derivation guards the SVD path against sign mistakes.
        let noisy: Landmarks = [[120.3, 210.9], [190.1, 205.2], [158.4, 250.0], [130.2, 290.7], [185.0, 286.1]];
        let t = estimate_alignment(&noisy, 112).expect("non-degenerate");
        let dst = ARCFACE_TEMPLATE_112;
        let mean = |p: &Landmarks| {
            let (mut x, mut y) = (0.0, 0.0);
            for q in p {
                x += q[0] as f64 / 5.0;
                y += q[1] as f64 / 5.0;
            }
            (x, y)
        };
        let (sx, sy) = mean(&noisy);
        let (dx, dy) = mean(&dst);
        let (mut num_a, mut num_b, mut den) = (0.0, 0.0, 0.0);
        for (s, d) in noisy.iter().zip(&dst) {
            let (x, y) = (s[0] as f64 - sx, s[1] as f64 - sy);
            let (u, v) = (d[0] as f64 - dx, d[1] as f64 - dy);
            num_a += x * u + y * v;
            num_b += x * v - y * u;
            den += x * x + y * y;
        }
        let (a, b) = (num_a / den, num_b / den);
        assert!((t.m[0][0] - a).abs() < 1e-9 && (t.m[1][1] - a).abs() < 1e-9);
        assert!((t.m[1][0] - b).abs() < 1e-9 && (t.m[0][1] + b).abs() < 1e-9);
    }

    #[test]
    fn coincident_landmarks_have_no_transform() {
        let same = [[5.0, 5.0]; 5];
        assert!(estimate_alignment(&same, 112).is_none());
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let (w, h) = (4u32, 4u32);
        let data: alloc::vec::Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let id = Similarity { m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] };
        let chip = warp_to_chip(RgbView { data: &data, width: w, height: h }, &id, 4).expect("warp");
        assert_eq!(chip, data);
    }

    #[test]
    fn half_pixel_shift_blends_neighbours_and_black_border() {
        let data = [100u8, 100, 100, 200, 200, 200];
        let shift = Similarity { m: [[1.0, 0.0, -0.5], [0.0, 1.0, 0.0]] };
        let chip = warp_to_chip(RgbView { data: &data, width: 2, height: 1 }, &shift, 2).expect("warp");
        // chip (0,0) samples x = 0.5 -> 150; chip (1,0) samples x = 1.5 -> (200 + 0) / 2.
        assert_eq!(&chip[0..3], &[150, 150, 150]);
        assert_eq!(&chip[3..6], &[100, 100, 100]);
    }
}
