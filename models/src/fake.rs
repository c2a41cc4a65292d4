//! A deterministic fake of the detector and recognizer, for the fast test
//! tier: every stage of the host and the whole device loop run against it in
//! milliseconds, with no ONNX Runtime and no model files. Both programs
//! select it with the hidden `--engine fake` option.
//!
//! It does not see real faces. It sees *painted* ones, which
//! [`paint_face`] draws into synthetic photos:
//!
//! - a face is a square with a frame of magenta-like pixels (red and blue
//!   at least 200, green at most 160); the detector finds each connected
//!   group of such pixels and reports its bounding box. The frame's green
//!   level sets the confidence (`1 - green / 200`), so a test can paint a
//!   face the filter must reject as uncertain;
//! - the five landmarks sit where the ArcFace template puts them inside the
//!   box, so alignment maps the box exactly onto the 112 x 112 chip;
//! - inside the frame, a 6 x 6 grid of coloured cells drawn from the
//!   identity's seed is the "face"; the recognizer averages each cell of the
//!   chip and projects those 108 values to 128 dimensions with a fixed
//!   random matrix. Two paintings of one identity (different noise and
//!   lighting) have cosine above 0.9; two identities, about 0 ± 0.1.
//!
//! Backgrounds from [`scene`] never contain marker pixels (red stays below
//! 200), so a photo without painted faces has no faces.

use std::time::Instant;

use image::{Rgb, RgbImage};
use rollcall_shared::align::{ARCFACE_TEMPLATE_112, RgbView};
use rollcall_shared::embedding::l2_normalize;
use rollcall_shared::geometry::BBox;

use crate::detection::Detection;
use crate::engine::{EngineTimes, FaceEngine, ModelCard, ModelRef, Models};
use crate::error::{Error, Result};
use crate::runtime::Threads;
use crate::store::sha256_hex;

/// Embedding dimension of the fake recognizer.
pub const DIM: usize = 128;
/// Chip side of the fake recognizer.
pub const CHIP: u32 = 112;
/// The fake recognizer's "published" same-person cosine.
pub const SAME_PERSON_COSINE: f32 = 0.5;
/// Name of the fake detector, as outputs record it.
pub const DETECTOR: &str = "fake-detector";
/// Name of the fake recognizer, as outputs record it.
pub const RECOGNIZER: &str = "fake-recognizer";

const GRID: usize = 6;
const FEATURES: usize = GRID * GRID * 3;

/// The fake's model card: fixed names and digests (of a version string, so
/// a gallery made with the fake is refused by the real models and the other
/// way round).
pub fn card() -> ModelCard {
    ModelCard {
        detector: ModelRef { name: DETECTOR.into(), sha256: sha256_hex(b"rollcall fake detector, version 1") },
        recognizer: ModelRef { name: RECOGNIZER.into(), sha256: sha256_hex(b"rollcall fake recognizer, version 1") },
        dim: DIM,
        chip_size: CHIP,
        same_person_cosine: Some(SAME_PERSON_COSINE),
    }
}

/// The fake models.
#[derive(Debug, Clone)]
pub struct FakeModels {
    card: ModelCard,
}

impl Default for FakeModels {
    fn default() -> Self {
        FakeModels { card: card() }
    }
}

impl Models for FakeModels {
    fn card(&self) -> &ModelCard {
        &self.card
    }

    fn engine(&self, _threads: Threads) -> Result<Box<dyn FaceEngine>> {
        Ok(Box::new(FakeEngine::default()))
    }
}

/// One worker's fake detector and recognizer.
#[derive(Debug, Default)]
pub struct FakeEngine {
    runs: (u64, u64),
}

impl FaceEngine for FakeEngine {
    fn detect(&mut self, image: RgbView<'_>, min_score: f32) -> Result<Vec<Detection>> {
        self.runs.0 += 1;
        let (w, h) = (image.width as usize, image.height as usize);
        if w == 0 || h == 0 || image.data.len() < w * h * 3 {
            return Err(Error::BadInput(format!("image of {w}x{h} pixels has no usable data")));
        }
        let mut dets: Vec<Detection> = components(image).into_iter().filter(|d| d.score >= min_score && !d.score.is_nan()).collect();
        dets.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.bbox.x1.total_cmp(&b.bbox.x1)).then(a.bbox.y1.total_cmp(&b.bbox.y1)));
        Ok(dets)
    }

    fn embed_batch(&mut self, chips: &[&[u8]]) -> Result<Vec<Vec<f32>>> {
        self.runs.1 += 1;
        chips.iter().map(|c| embed(c)).collect()
    }

    fn chip_size(&self) -> u32 {
        CHIP
    }

    fn times(&self) -> EngineTimes {
        let mut t = EngineTimes::default();
        t.detector.runs = self.runs.0;
        t.recognizer.runs = self.runs.1;
        t
    }

    fn take_spans(&mut self) -> Vec<(Instant, Instant)> {
        Vec::new()
    }
}

fn is_marker(p: &[u8]) -> bool {
    p[0] >= 200 && p[2] >= 200 && p[1] <= 160
}

/// Every 8-connected group of marker pixels at least 8 px wide and high.
fn components(image: RgbView<'_>) -> Vec<Detection> {
    let (w, h) = (image.width as usize, image.height as usize);
    let px = |i: usize| &image.data[i * 3..i * 3 + 3];
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || !is_marker(px(start)) {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let (mut green, mut count) = (0u64, 0u64);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            green += u64::from(px(i)[1]);
            count += 1;
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if !seen[j] && is_marker(px(j)) {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        let (bw, bh) = ((x1 + 1 - x0) as f32, (y1 + 1 - y0) as f32);
        if bw < 8.0 || bh < 8.0 {
            continue;
        }
        let bbox = BBox { x1: x0 as f32, y1: y0 as f32, x2: (x1 + 1) as f32, y2: (y1 + 1) as f32 };
        let score = (1.0 - (green as f32 / count as f32) / 200.0).clamp(0.0, 1.0);
        let landmarks = ARCFACE_TEMPLATE_112.map(|[tx, ty]| [bbox.x1 + tx / 112.0 * bw, bbox.y1 + ty / 112.0 * bh]);
        out.push(Detection { bbox, score, landmarks });
    }
    out
}

/// The fake embedding of an aligned chip: cell means, projected, unit length.
fn embed(chip: &[u8]) -> Result<Vec<f32>> {
    let side = CHIP as usize;
    if chip.len() != side * side * 3 {
        return Err(Error::BadInput(format!("chip has {} bytes, a {side}x{side} RGB chip needs {}", chip.len(), side * side * 3)));
    }
    let (inner0, cell) = (side / 8, side * 3 / 4 / GRID);
    let mut features = [0f32; FEATURES];
    for cy in 0..GRID {
        for cx in 0..GRID {
            // Cell interiors only: the warp blurs the edges between cells.
            let (xa, ya) = (inner0 + cx * cell + 2, inner0 + cy * cell + 2);
            let mut sum = [0f32; 3];
            let mut n = 0f32;
            for y in ya..ya + cell - 4 {
                for x in xa..xa + cell - 4 {
                    let p = &chip[(y * side + x) * 3..(y * side + x) * 3 + 3];
                    for c in 0..3 {
                        sum[c] += f32::from(p[c]);
                    }
                    n += 1.0;
                }
            }
            for c in 0..3 {
                features[(cy * GRID + cx) * 3 + c] = (sum[c] / n - 128.0) / 64.0;
            }
        }
    }
    let mut v: Vec<f32> = (0..DIM)
        .map(|d| {
            let mut rng = SplitMix(0x5eed_0000 + d as u64);
            features.iter().map(|f| f * rng.gaussian()).sum()
        })
        .collect();
    if !l2_normalize(&mut v) {
        return Err(Error::BadInput("the chip holds no pattern (a flat grey square)".into()));
    }
    Ok(v)
}

/// SplitMix64: a tiny, well-known generator; enough for fixtures.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Roughly standard normal (a sum of four uniforms, rescaled).
    fn gaussian(&mut self) -> f32 {
        ((0..4).map(|_| self.unit()).sum::<f32>() - 2.0) * 1.732
    }

    fn range(&mut self, lo: u8, hi: u8) -> u8 {
        lo + (self.unit() * f32::from(hi - lo)) as u8
    }
}

/// One painted face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaintedFace {
    /// Left edge, pixels.
    pub x: u32,
    /// Top edge, pixels.
    pub y: u32,
    /// Side of the square, pixels.
    pub side: u32,
    /// Who it is: the seed of the cell pattern.
    pub identity: u64,
    /// Which picture of them: the seed of the noise and lighting.
    pub variant: u64,
    /// The confidence the fake detector will report (0 to 1).
    pub confidence: f32,
}

impl PaintedFace {
    /// A confident face of `identity` at `(x, y)`.
    pub fn new(x: u32, y: u32, side: u32, identity: u64, variant: u64) -> Self {
        PaintedFace { x, y, side, identity, variant, confidence: 0.99 }
    }
}

/// Paints a face into `img` (clipped at the edges).
pub fn paint_face(img: &mut RgbImage, f: &PaintedFace) {
    let s = f.side.max(8);
    let frame = (s / 16).max(2);
    let green = ((1.0 - f.confidence.clamp(0.0, 1.0)) * 200.0).round().clamp(0.0, 160.0) as u8;
    let mut pattern = SplitMix(f.identity.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xface);
    let cells: Vec<[u8; 3]> = (0..GRID * GRID).map(|_| [pattern.range(40, 190), pattern.range(40, 216), pattern.range(40, 216)]).collect();
    let mut noise = SplitMix(f.variant.wrapping_mul(0x9e37_79b9) ^ f.identity);
    let light = noise.unit() * 20.0 - 10.0;
    let (inner0, inner1) = (s / 8, s - s / 8);
    let cell = (inner1 - inner0) as f32 / GRID as f32;
    for dy in 0..s {
        for dx in 0..s {
            let (x, y) = (f.x + dx, f.y + dy);
            if x >= img.width() || y >= img.height() {
                continue;
            }
            let on_frame = dx < frame || dy < frame || dx >= s - frame || dy >= s - frame;
            let colour = if on_frame {
                [255, green, 255]
            } else if (inner0..inner1).contains(&dx) && (inner0..inner1).contains(&dy) {
                let (cx, cy) = (((dx - inner0) as f32 / cell) as usize, ((dy - inner0) as f32 / cell) as usize);
                let base = cells[cy.min(GRID - 1) * GRID + cx.min(GRID - 1)];
                let jitter = noise.unit() * 24.0 - 12.0 + light;
                // Red stays below the marker's 200 whatever the noise.
                [
                    (f32::from(base[0]) + jitter).clamp(0.0, 195.0) as u8,
                    (f32::from(base[1]) + jitter).clamp(0.0, 255.0) as u8,
                    (f32::from(base[2]) + jitter).clamp(0.0, 255.0) as u8,
                ]
            } else {
                [128, 128, 128]
            };
            img.put_pixel(x, y, Rgb(colour));
        }
    }
}

/// A `width` x `height` photo with a textured background (seeded, never
/// marker-coloured) and the given faces painted on it.
pub fn scene(width: u32, height: u32, seed: u64, faces: &[PaintedFace]) -> RgbImage {
    let mut rng = SplitMix(seed ^ 0xbac6_6a0d);
    let (a, b, c) = (rng.range(60, 150), rng.range(60, 150), rng.range(60, 150));
    let mut img = RgbImage::from_fn(width, height, |x, y| {
        let wave = ((x / 7 + y / 5) % 9) as u8 * 3;
        Rgb([a + wave, b + wave / 2, c + (wave % 7)])
    });
    for f in faces {
        paint_face(&mut img, f);
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::FaceFilter;
    use rollcall_shared::embedding::cosine;

    fn faces_in(img: &RgbImage) -> Vec<(crate::faces::Face, Option<Vec<f32>>)> {
        let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
        FakeEngine::default().faces_with_embeddings(view, &FaceFilter::default()).unwrap()
    }

    #[test]
    fn painted_faces_are_found_where_they_were_painted() {
        let img = scene(400, 300, 1, &[PaintedFace::new(20, 30, 96, 7, 1), PaintedFace::new(200, 100, 64, 8, 1)]);
        let faces = faces_in(&img);
        assert_eq!(faces.len(), 2);
        let boxes: Vec<[f32; 4]> =
            faces.iter().map(|(f, _)| [f.detection.bbox.x1, f.detection.bbox.y1, f.detection.bbox.x2, f.detection.bbox.y2]).collect();
        assert!(boxes.contains(&[20.0, 30.0, 116.0, 126.0]) && boxes.contains(&[200.0, 100.0, 264.0, 164.0]), "{boxes:?}");
        assert!(faces.iter().all(|(f, e)| f.verdict == crate::faces::Verdict::Kept && e.is_some()));
    }

    #[test]
    fn an_identity_looks_like_itself_and_not_like_others() {
        let emb = |id, var, side| {
            let img = scene(300, 300, var, &[PaintedFace::new(37, 41, side, id, var)]);
            faces_in(&img).remove(0).1.unwrap()
        };
        let same = cosine(&emb(3, 1, 120), &emb(3, 2, 80));
        let other = cosine(&emb(3, 1, 120), &emb(4, 1, 120));
        assert!(same > 0.9, "same identity: {same}");
        assert!(other.abs() < 0.5, "different identities: {other}");
    }

    #[test]
    fn confidence_follows_the_frame_and_backgrounds_are_empty() {
        let mut doubtful = PaintedFace::new(10, 10, 80, 1, 1);
        doubtful.confidence = 0.5;
        let img = scene(200, 200, 3, &[doubtful]);
        let view = RgbView { data: img.as_raw(), width: 200, height: 200 };
        let dets = FakeEngine::default().detect(view, 0.0).unwrap();
        assert_eq!(dets.len(), 1);
        assert!((dets[0].score - 0.5).abs() < 0.01, "{}", dets[0].score);
        assert!(FakeEngine::default().detect(view, 0.7).unwrap().is_empty());
        let empty = scene(640, 480, 9, &[]);
        assert!(faces_in(&empty).is_empty());
    }
}
