//! Where in a photo the detector looks, and at what scale.
//!
//! A RetinaFace-style detector finds faces from about its smallest anchor
//! (16 px in its input) up to a few times its largest (512 px). Scaled to
//! fit 640 x 640, a 12-megapixel class photo shrinks 6.3 times and its 90 px
//! faces become 14 px: below the smallest anchor, never found. So in
//! [`DetectorScale::Auto`] each photo is scanned in passes, finest first:
//!
//! - a **fine pass** at the scale at which the smallest face to keep
//!   (`--min-size`) still covers the smallest anchor with a margin
//!   ([`ANCHOR_MARGIN`]), never above full resolution. A scaled photo of
//!   more than [`MAX_TILE_SIDE`]² pixels is cut into overlapping tiles, so
//!   that memory stays bounded for 50-megapixel photos and panoramas. The
//!   overlap is at least the largest face this pass reports, so a face cut
//!   by one tile's edge lies whole inside a neighbour; detections touching
//!   an inner tile edge are dropped as cut faces;
//! - the **fit pass**, the whole photo fitted into the manifest's input box
//!   as the reference scans it, for every face from twice the smallest
//!   anchor in its input ([`HANDOVER`]) up to a face filling the photo.
//!   The fine pass reports only the faces below that, so the large faces of
//!   a photo are found exactly as before.
//!
//! The passes are merged in photo coordinates by non-maximum suppression
//! over all of them (tiles overlap, and a face near the handover size can
//! be seen by both passes): the most confident box of a face wins. A photo
//! small enough that the fine pass would not be finer than the fit pass
//! gets the fit pass alone, exactly as before. The anchors and strides come
//! from the manifest, so another detector gets its own rule.

use rollcall_shared::geometry::BBox;
use serde::{Deserialize, Serialize};

use crate::detection::{Detection, nms, scaled_size};
use crate::manifest::{InputSpec, RetinafaceSpec};

/// How much larger than the smallest anchor the smallest face to keep is
/// made in the fine pass: 1.25, a 40 px face seen at 20 px. Measured with
/// `rollcall bench class-photo --anchor-margins 1,1.25,1.5` (seed 1; the
/// figures in docs/class-photos.md come from other photos, seed 2): at
/// 1.0 RetinaFace-MobileNet found 80% of the 40-59 px faces, at 1.25 and
/// 1.5 all but one and all, and faces of 60 px and more all three times;
/// 1.5 costs 1.5 times the detector time of 1.25 and tiles a 12-megapixel
/// photo.
pub const ANCHOR_MARGIN: f32 = 1.25;

/// Faces the fit pass sees at less than this many smallest anchors are
/// the fine pass's to report; larger ones the fit pass's alone. Below two
/// anchors (32 px) the 640 pass starts to miss faces (`rollcall bench
/// class-photo`, fit to 640: 74% of faces found at 16-24 px, 19% at
/// 13-16 px); above it, it is the reference's scan, unchanged.
pub const HANDOVER: f32 = 2.0;

/// Longest tile side (detector input pixels) of a tiled pass; a scaled
/// photo of at most this side squared is scanned whole.
///
/// The side bounds a worker's memory: a pass holds its input tensor and the
/// network's activations, about 44 bytes per input pixel
/// ([`SCAN_BYTES_PER_INPUT_PIXEL`](crate::detector::SCAN_BYTES_PER_INPUT_PIXEL)),
/// so a tile of at most 1024 x 1024 at most 46 MB where the whole 2016 x 1512
/// fine pass of a 12 MP photo held 134 MB, in each worker at once. The
/// tiles' overlap costs detector time instead: a 12 MP photo's fine pass
/// becomes six tiles of 864 x 928 (35 MB each), 58% more input pixels.
/// Measured in `docs/benchmarks.md` against 1280, 1536 and 2048: the whole
/// `run` over twelve 12 MP class photos peaked at 364-392 MiB (2048:
/// 497-523 MiB), within the noise of the same wall time.
pub const MAX_TILE_SIDE: usize = 1024;

/// Smallest overlap of neighbouring tiles, in detector input pixels.
pub const MIN_OVERLAP: usize = 256;

/// A detection within this many input pixels of an inner tile edge is a
/// face cut by that edge.
const EDGE: f32 = 2.0;

/// How large the detector sees a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetectorScale {
    /// Fitted into the manifest's input box only (the reference's way, and
    /// the device's default for a door camera whose faces are large).
    Fit,
    /// Fine enough for the smallest face to keep, plus the fit pass; see
    /// the module docs.
    #[default]
    Auto,
}

impl DetectorScale {
    /// Its name on the command line and in the cache.
    pub fn name(self) -> &'static str {
        match self {
            DetectorScale::Fit => "fit",
            DetectorScale::Auto => "auto",
        }
    }
}

/// The manifest's numbers the rule needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRule {
    /// The fit pass's box `[width, height]`.
    pub fit_box: [u32; 2],
    /// Whether the network takes any input size (else only the fit pass).
    pub dynamic: bool,
    /// Smallest anchor, input pixels.
    pub smallest_anchor: f32,
    /// Largest anchor, input pixels.
    pub largest_anchor: f32,
    /// Largest feature stride: tensor sides are multiples of it.
    pub stride: usize,
    /// How much larger than the smallest anchor the smallest face is made
    /// ([`ANCHOR_MARGIN`] unless a benchmark varies it).
    pub margin: f32,
}

impl ScanRule {
    /// The rule for a RetinaFace detector with this input contract.
    pub fn of(input: &InputSpec, cfg: &RetinafaceSpec) -> ScanRule {
        let anchors = cfg.min_sizes.iter().flatten().copied();
        ScanRule {
            fit_box: input.size,
            dynamic: input.dynamic,
            smallest_anchor: anchors.clone().min().unwrap_or(16) as f32,
            largest_anchor: anchors.max().unwrap_or(512) as f32,
            stride: cfg.steps.iter().copied().max().unwrap_or(32).max(1) as usize,
            margin: ANCHOR_MARGIN,
        }
    }

    /// The scale (input pixels per photo pixel) at which a face of
    /// `min_face` photo pixels covers the smallest anchor with the margin,
    /// never above 1 (full resolution).
    pub fn fine_scale(&self, min_face: f32) -> f32 {
        if min_face <= 0.0 || !min_face.is_finite() {
            return 1.0;
        }
        (self.smallest_anchor * self.margin / min_face).min(1.0)
    }
}

/// One detector run over a window of the scaled photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The whole photo's size at this pass's scale `[width, height]`.
    pub scaled: [usize; 2],
    /// Left edge inside the scaled photo.
    pub x: usize,
    /// Top edge inside the scaled photo.
    pub y: usize,
    /// Width inside the scaled photo.
    pub w: usize,
    /// Height inside the scaled photo.
    pub h: usize,
    /// Which sides (left, top, right, bottom) border another window.
    pub inner: [bool; 4],
}

impl Window {
    /// The window covering the whole scaled photo.
    pub fn whole(scaled: [usize; 2]) -> Window {
        Window { scaled, x: 0, y: 0, w: scaled[0], h: scaled[1], inner: [false; 4] }
    }

    /// The window in photo pixels `[x, y, width, height]` for a photo of
    /// `width` x `height`.
    pub fn in_photo(&self, width: u32, height: u32) -> [u32; 4] {
        let (fx, fy) = (width as f64 / self.scaled[0] as f64, height as f64 / self.scaled[1] as f64);
        let x0 = (self.x as f64 * fx).round() as u32;
        let y0 = (self.y as f64 * fy).round() as u32;
        let x1 = (((self.x + self.w) as f64 * fx).round() as u32).min(width);
        let y1 = (((self.y + self.h) as f64 * fy).round() as u32).min(height);
        [x0, y0, x1 - x0, y1 - y0]
    }

    /// Whether `b` (photo pixels, for a photo of `width` x `height`)
    /// touches a side this window shares with another: a face cut there,
    /// which the neighbour sees whole.
    pub fn cuts(&self, b: &BBox, width: u32, height: u32) -> bool {
        let (fx, fy) = (width as f32 / self.scaled[0] as f32, height as f32 / self.scaled[1] as f32);
        let [left, top, right, bottom] = self.inner;
        (left && b.x1 < (self.x as f32 + EDGE) * fx)
            || (top && b.y1 < (self.y as f32 + EDGE) * fy)
            || (right && b.x2 > ((self.x + self.w) as f32 - EDGE) * fx)
            || (bottom && b.y2 > ((self.y + self.h) as f32 - EDGE) * fy)
    }
}

/// One pass over a photo at one scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    /// Its windows (one for an untiled pass).
    pub windows: Vec<Window>,
    /// Largest face it reports, in input pixels (larger ones are left to a
    /// coarser pass); `None`: every face.
    pub max_face: Option<f32>,
}

impl Pass {
    /// The scaled photo's size `[width, height]`.
    pub fn scaled(&self) -> [usize; 2] {
        self.windows.first().map_or([0, 0], |w| w.scaled)
    }

    /// What `detections.json` records of this pass.
    pub fn record(&self, width: u32, height: u32) -> PassRecord {
        let scaled = self.scaled();
        PassRecord {
            scale: scaled[0] as f32 / width.max(1) as f32,
            size: [scaled[0] as u32, scaled[1] as u32],
            tiles: self.windows.iter().map(|w| w.in_photo(width, height)).collect(),
        }
    }
}

/// One pass as `detections.json` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassRecord {
    /// Detector input pixels per photo pixel.
    pub scale: f32,
    /// The whole scaled photo `[width, height]`.
    pub size: [u32; 2],
    /// Each window `[x, y, width, height]` in photo pixels.
    pub tiles: Vec<[u32; 4]>,
}

/// The passes over a `width` x `height` photo, finest first, for faces of at
/// least `min_face` photo pixels.
pub fn plan(width: u32, height: u32, min_face: f32, rule: &ScanRule, scale: DetectorScale) -> Vec<Pass> {
    let (w, h) = (width.max(1) as usize, height.max(1) as usize);
    let (fit_w, fit_h) = scaled_size(w, h, rule.fit_box);
    let fit = Pass { windows: vec![Window::whole([fit_w, fit_h])], max_face: None };
    if scale == DetectorScale::Fit || !rule.dynamic {
        return vec![fit];
    }
    let s = rule.fine_scale(min_face) as f64;
    let (fine_w, fine_h) = (((w as f64 * s).round() as usize).clamp(1, w), ((h as f64 * s).round() as usize).clamp(1, h));
    if fine_w <= fit_w && fine_h <= fit_h {
        return vec![fit];
    }
    let scaled = [fine_w, fine_h];
    // The fine pass reports the faces the fit pass sees below twice its
    // smallest anchor, where it starts to miss them; larger faces are the
    // fit pass's alone, found exactly as before.
    let fit_scale = fit_w as f64 / w as f64;
    let mut max_face = (HANDOVER * rule.smallest_anchor) as f64 * s / fit_scale;
    let windows = if fine_w * fine_h <= MAX_TILE_SIDE * MAX_TILE_SIDE {
        vec![Window::whole(scaled)]
    } else {
        // Tiles overlap by at least the largest face they report, so such a
        // face lies whole inside some tile.
        let overlap = round_up((max_face.ceil() as usize).max(MIN_OVERLAP) + 2 * EDGE as usize, rule.stride).min(MAX_TILE_SIDE / 2);
        max_face = max_face.min(overlap as f64 - 2.0 * EDGE as f64);
        let xs = spans(fine_w, overlap, rule.stride);
        let ys = spans(fine_h, overlap, rule.stride);
        let mut out = Vec::with_capacity(xs.len() * ys.len());
        for (j, &(y, th)) in ys.iter().enumerate() {
            for (i, &(x, tw)) in xs.iter().enumerate() {
                let inner = [i > 0, j > 0, i + 1 < xs.len(), j + 1 < ys.len()];
                out.push(Window { scaled, x, y, w: tw, h: th, inner });
            }
        }
        out
    };
    let max_face = max_face as f32;
    vec![Pass { windows, max_face: Some(max_face) }, fit]
}

/// Overlapping `(start, length)` spans covering `0..len`: as few as tiles
/// of at most [`MAX_TILE_SIDE`] allow, of equal length (a multiple of
/// `stride` where it fits), neighbours overlapping by at least `overlap`.
fn spans(len: usize, overlap: usize, stride: usize) -> Vec<(usize, usize)> {
    if len <= MAX_TILE_SIDE {
        return vec![(0, len)];
    }
    let n = (len - overlap).div_ceil(MAX_TILE_SIDE - overlap);
    let tile = round_up((len + (n - 1) * overlap).div_ceil(n), stride).min(MAX_TILE_SIDE).min(len);
    (0..n).map(|i| ((i * (tile - overlap)).min(len - tile), tile)).collect()
}

fn round_up(x: usize, m: usize) -> usize {
    x.div_ceil(m.max(1)) * m.max(1)
}

/// Merges the passes' detections (photo pixels) by non-maximum
/// suppression over all of them: best first.
pub fn merge(passes: Vec<Vec<Detection>>, iou: f32) -> Vec<Detection> {
    nms(passes.into_iter().flatten().collect(), iou)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, Role};

    fn rule() -> ScanRule {
        let spec = Manifest::builtin().select(Role::Detector, None).expect("default detector").clone();
        ScanRule::of(&spec.input, spec.retinaface.as_ref().expect("retinaface"))
    }

    fn det(x1: f32, y1: f32, side: f32, score: f32) -> Detection {
        Detection { bbox: BBox { x1, y1, x2: x1 + side, y2: y1 + side }, score, landmarks: [[x1 + side / 2.0, y1 + side / 2.0]; 5] }
    }

    #[test]
    fn the_rule_comes_from_the_manifest_anchors() {
        let r = rule();
        assert_eq!((r.smallest_anchor, r.largest_anchor, r.stride), (16.0, 512.0, 32));
        // A 40 px face must cover 16 px * margin: scale 0.5.
        assert!((r.fine_scale(40.0) - 16.0 * ANCHOR_MARGIN / 40.0).abs() < 1e-6);
        // Never above full resolution.
        assert_eq!(r.fine_scale(10.0), 1.0);
        // Another detector, whose smallest anchor is 32, scans twice as coarse.
        let mut other = r.clone();
        other.smallest_anchor = 32.0;
        assert!((other.fine_scale(100.0) - 2.0 * r.fine_scale(100.0)).abs() < 1e-6);
    }

    #[test]
    fn small_photos_get_the_fit_pass_alone() {
        let passes = plan(1000, 750, 40.0, &rule(), DetectorScale::Auto);
        assert_eq!(passes.len(), 1);
        assert_eq!(passes[0].windows, vec![Window::whole([640, 480])]);
        assert_eq!(passes[0].max_face, None);
    }

    #[test]
    fn fit_is_the_fit_pass_whatever_the_photo() {
        let passes = plan(4032, 3024, 40.0, &rule(), DetectorScale::Fit);
        assert_eq!(passes.len(), 1);
        assert_eq!(passes[0].scaled(), [640, 480]);
    }

    #[test]
    fn a_class_photo_is_scanned_fine_enough_for_its_smallest_face() {
        let r = rule();
        let passes = plan(4032, 3024, 40.0, &r, DetectorScale::Auto);
        assert_eq!(passes.len(), 2, "fine then fit");
        let [fw, fh] = passes[0].scaled();
        // The smallest face to keep, 40 px, is at least the margin over the
        // smallest anchor at that scale.
        assert!(40.0 * fw as f32 / 4032.0 >= r.smallest_anchor * ANCHOR_MARGIN - 0.5, "{fw}x{fh}");
        assert_eq!(passes[1].scaled(), [640, 480]);
        // Faces of 60 px get a finer scale than 40 px would.
        let p60 = plan(4032, 3024, 60.0, &r, DetectorScale::Auto);
        assert!(p60[0].scaled()[0] < fw);
    }

    /// A 12 MP phone photo's fine pass is tiled, so that each worker holds
    /// one tile's tensors at a time rather than the whole 2016 x 1512 pass:
    /// two workers each scanning a class photo had peaked above the Python
    /// pipeline's whole process (issue 30).
    #[test]
    fn a_class_photos_fine_pass_holds_at_most_a_tile_of_a_megapixel() {
        let r = rule();
        let passes = plan(4032, 3024, 40.0, &r, DetectorScale::Auto);
        let fine = &passes[0];
        assert_eq!(fine.scaled(), [2016, 1512]);
        assert!(fine.windows.len() > 1, "{:?}", fine.windows);
        let largest = fine.windows.iter().map(|w| w.w * w.h).max().unwrap_or(0);
        assert!(largest <= MAX_TILE_SIDE * MAX_TILE_SIDE && MAX_TILE_SIDE <= 1024, "{largest}");
        // The price: the overlap is scanned twice, but it does not double
        // the pass.
        let scanned: usize = fine.windows.iter().map(|w| w.w * w.h).sum();
        assert!(scanned < 2 * 2016 * 1512, "{scanned}");
    }

    #[test]
    fn big_photos_are_tiled_with_an_overlap_of_at_least_the_largest_face() {
        let r = rule();
        for (w, h) in [(8000u32, 6000u32), (6000, 4000), (20000, 2000), (4032, 3024)] {
            let passes = plan(w, h, 40.0, &r, DetectorScale::Auto);
            let fine = &passes[0];
            let [sw, sh] = fine.scaled();
            let max_face = fine.max_face.expect("the fine pass has a largest face");
            for win in &fine.windows {
                assert!(win.w <= MAX_TILE_SIDE && win.h <= MAX_TILE_SIDE, "{w}x{h}: {win:?}");
                assert!(win.x + win.w <= sw && win.y + win.h <= sh);
            }
            // Every scaled pixel is covered, and any span of `max_face`
            // (plus the edge) lies whole inside some window along each axis.
            for (len, axis) in [(sw, 0), (sh, 1)] {
                let spans: Vec<(usize, usize)> = fine.windows.iter().map(|w| if axis == 0 { (w.x, w.w) } else { (w.y, w.h) }).collect();
                let need = (max_face + 2.0 * EDGE).ceil() as usize;
                for start in (0..len.saturating_sub(need)).step_by(7) {
                    assert!(spans.iter().any(|&(s, l)| s <= start && start + need <= s + l), "{w}x{h}: span at {start} is cut everywhere");
                }
            }
            // The fit pass reaches down to the largest face the tiles report.
            let fit_scale = passes[1].scaled()[0] as f32 / w as f32;
            let tile_scale = sw as f32 / w as f32;
            assert!(max_face / tile_scale * fit_scale >= r.smallest_anchor * ANCHOR_MARGIN - 1.0, "{w}x{h}: a gap between the passes");
        }
    }

    #[test]
    fn a_face_across_a_tile_edge_is_found_once_whole() {
        let r = rule();
        let (w, h) = (8000u32, 6000u32);
        let passes = plan(w, h, 40.0, &r, DetectorScale::Auto);
        let fine = &passes[0];
        assert!(fine.windows.len() > 1);
        let a = fine.windows[0];
        let fx = w as f32 / a.scaled[0] as f32;
        // A 120 px face straddling the right edge of the first tile.
        let edge = (a.x + a.w) as f32 * fx;
        let face = det(edge - 60.0, 1000.0, 120.0, 0.95);
        // The first tile sees it cut (a narrower box ending at its edge);
        // the second sees it whole.
        let cut = det(edge - 60.0, 1000.0, 59.0, 0.9);
        assert!(a.cuts(&cut.bbox, w, h));
        let b = fine.windows[1];
        assert!(!b.cuts(&face.bbox, w, h), "the neighbour sees the face whole");
        let kept_a: Vec<Detection> = [cut].into_iter().filter(|d| !a.cuts(&d.bbox, w, h)).collect();
        let kept_b: Vec<Detection> = [face].into_iter().filter(|d| !b.cuts(&d.bbox, w, h)).collect();
        let merged = merge(vec![kept_a.into_iter().chain(kept_b).collect(), vec![det(edge - 62.0, 998.0, 124.0, 0.9)]], 0.4);
        assert_eq!(merged.len(), 1, "{merged:?}");
        assert_eq!(merged[0].bbox, face.bbox, "found whole, once");
    }

    /// A face both passes see keeps the more confident box: a weak box from
    /// the fine pass (0.39, below the 0.7 to keep) once hid the fit pass's
    /// confident one (0.82), and a face found before was lost.
    #[test]
    fn regression_a_weak_fine_box_hid_a_confident_fit_box() {
        let fine = vec![det(168.0, 668.0, 108.0, 0.39)];
        let fit = vec![det(147.0, 617.0, 129.0, 0.82), det(1000.0, 100.0, 900.0, 0.9)];
        let merged = merge(vec![fine, fit], 0.4);
        let scores: Vec<f32> = merged.iter().map(|d| d.score).collect();
        assert_eq!(scores, [0.9, 0.82]);
    }

    #[test]
    fn large_faces_are_the_fit_pass_alone() {
        let r = rule();
        let passes = plan(4032, 3024, 40.0, &r, DetectorScale::Auto);
        let [fw, _] = passes[0].scaled();
        let fit_scale = passes[1].scaled()[0] as f32 / 4032.0;
        let fine_scale = fw as f32 / 4032.0;
        // The fine pass's largest face is twice the smallest anchor in the fit pass.
        let largest = passes[0].max_face.expect("a largest face") / fine_scale * fit_scale;
        assert!((largest - HANDOVER * r.smallest_anchor).abs() < 0.5, "{largest}");
    }

    #[test]
    fn records_say_the_scale_and_tiles_in_photo_pixels() {
        let passes = plan(8000, 6000, 40.0, &rule(), DetectorScale::Auto);
        let rec = passes[0].record(8000, 6000);
        assert!((rec.scale - rule().fine_scale(40.0)).abs() < 0.01);
        assert_eq!(rec.tiles.len(), passes[0].windows.len());
        let right = rec.tiles.iter().map(|t| t[0] + t[2]).max();
        assert_eq!(right, Some(8000));
    }
}
