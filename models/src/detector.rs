//! The face detector: RetinaFace pre-processing, inference and decoding.
//!
//! Reads: an RGB8 image at full resolution. Writes: face boxes, confidences
//! and five landmarks in the image's own pixel coordinates.
//!
//! The photo is scaled (bilinear, keeping its aspect ratio) to fit inside the
//! manifest's input box, 640 x 640 by default, exactly as the reference
//! implementation (uniface) does, down to its integer truncation; boxes and
//! landmarks map back with each axis's own factor (the reference uses the
//! vertical one for both, which is wrong for wide photos). Unlike the
//! reference, the scaled photo is padded only
//! up to the next multiple of the largest stride (32 px) instead of to a full
//! 640 x 640 square: RetinaFace is fully convolutional, the padding holds no
//! faces, and a 4:3 photo then costs 640 x 480 instead of 640 x 640 (25%
//! less work). Scaling, channel swap, mean subtraction and the NCHW transpose
//! happen in one pass over the output pixels.

use ort::session::Session;
use ort::value::TensorRef;
use rollcall_shared::align::RgbView;
use rollcall_shared::geometry::BBox;

use crate::detection::{Detection, nms, scaled_size};
use crate::error::{Error, Result};
use crate::manifest::{Channels, InputSpec, ModelSpec, RetinafaceSpec};
use crate::runtime::{self, InferenceClock, Threads};
use crate::scan::{self, DetectorScale, Pass, PassRecord, ScanRule, Window};
use crate::store::ModelStore;

/// A photo scaled and normalised into the detector's input tensor.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// NCHW data, batch 1.
    pub tensor: Vec<f32>,
    /// Tensor width.
    pub width: usize,
    /// Tensor height.
    pub height: usize,
    /// Original pixels per tensor pixel, horizontally.
    pub scale_x: f32,
    /// Original pixels per tensor pixel, vertically.
    pub scale_y: f32,
    /// Where the tensor's left edge is in the photo, in photo pixels (0
    /// unless the tensor is a tile).
    pub offset_x: f32,
    /// Where the tensor's top edge is in the photo, in photo pixels.
    pub offset_y: f32,
}

/// Bytes a scan holds per detector input pixel of its largest window: the
/// resized photo (3), the input tensor (12) and ONNX Runtime's activations,
/// which are live at once. Measured with RetinaFace-MobileNet-0.25 on one
/// worker: the 2016 x 1512 fine pass over a 12 MP photo raised the peak of
/// `rollcall detect` by about 130 MiB over the fit pass alone (374 against
/// 245 MiB, 2026-12-06, docs/benchmarks.md), 44 bytes a pixel.
pub const SCAN_BYTES_PER_INPUT_PIXEL: u64 = 44;

/// Scales `image` into the input tensor `spec` describes; see the module docs.
pub fn prepare(image: RgbView<'_>, spec: &InputSpec, max_stride: u32) -> Result<Prepared> {
    let (w, h) = (image.width as usize, image.height as usize);
    if w == 0 || h == 0 || image.data.len() < w * h * 3 {
        return Err(Error::BadInput(format!("image of {w}x{h} pixels has no usable data")));
    }
    let (new_w, new_h) = scaled_size(w, h, spec.size);
    let pad = if spec.dynamic { None } else { Some((spec.size[0] as usize, spec.size[1] as usize)) };
    prepare_window(image, spec, &Window::whole([new_w, new_h]), max_stride, pad)
}

/// Scales one window of `image` into an input tensor: the photo scaled
/// to `window.scaled` as a whole, and the window's part of it, padded to a
/// multiple of `max_stride` (or to `pad`, a fixed input size). Tiles of one
/// pass sample the photo exactly where the whole scaled photo would.
pub fn prepare_window(
    image: RgbView<'_>,
    spec: &InputSpec,
    window: &Window,
    max_stride: u32,
    pad: Option<(usize, usize)>,
) -> Result<Prepared> {
    let (w, h) = (image.width as usize, image.height as usize);
    if w == 0 || h == 0 || image.data.len() < w * h * 3 {
        return Err(Error::BadInput(format!("image of {w}x{h} pixels has no usable data")));
    }
    let [new_w, new_h] = window.scaled;
    let (win_w, win_h) = (window.w, window.h);
    if new_w == 0 || new_h == 0 || win_w == 0 || win_h == 0 || window.x + win_w > new_w || window.y + win_h > new_h {
        return Err(Error::BadInput(format!("window {window:?} lies outside the scaled photo")));
    }
    let (tw, th) = pad.unwrap_or_else(|| {
        let s = max_stride.max(1) as usize;
        (win_w.div_ceil(s) * s, win_h.div_ceil(s) * s)
    });

    let xs = linear_taps(w, new_w, window.x, win_w);
    let ys = linear_taps(h, new_h, window.y, win_h);
    let tensor = sample(image, spec, &xs, &ys, tw, th);
    // Boxes map back with each axis's own factor. The reference maps both
    // axes back with the vertical one (`new_h / h`), which is exact only
    // when the truncated width happens to scale by the same factor: in a
    // 9000 x 600 panorama the widths differ by 1.6% and a face at the right
    // edge lands 137 px too far right, past the edge of the photo.
    let scale_x = (w as f64 / new_w as f64) as f32;
    let scale_y = (h as f64 / new_h as f64) as f32;
    let (offset_x, offset_y) = ((window.x as f64 * w as f64 / new_w as f64) as f32, (window.y as f64 * h as f64 / new_h as f64) as f32);
    Ok(Prepared { tensor, width: tw, height: th, scale_x, scale_y, offset_x, offset_y })
}

/// The source taps and weight of output pixels `from..from + count` when
/// `src` pixels scale to `dst`, as OpenCV's INTER_LINEAR computes them
/// (pixel centres at +0.5, clamped at the edges).
fn linear_taps(src: usize, dst: usize, from: usize, count: usize) -> Vec<(usize, usize, f32)> {
    let ratio = src as f64 / dst as f64;
    (from..from + count)
        .map(|d| {
            let f = (d as f64 + 0.5) * ratio - 0.5;
            let i = f.floor();
            let (i0, frac) = if i < 0.0 { (0, 0.0) } else { (i as usize, (f - i) as f32) };
            if i0 >= src - 1 { (src - 1, src - 1, 0.0) } else { (i0, i0 + 1, frac) }
        })
        .collect()
}

/// The input tensor (three planes of `tw` x `th`, in the model's channel
/// order, normalised): `image` sampled at the taps `xs` and `ys`, the rest
/// padded with black.
///
/// Each output row blends two source rows, each first blended across at the
/// column taps (kept when the next output row reads the same source rows);
/// the arithmetic per value is the reference's, in the same order.
fn sample(image: RgbView<'_>, spec: &InputSpec, xs: &[(usize, usize, f32)], ys: &[(usize, usize, f32)], tw: usize, th: usize) -> Vec<f32> {
    let w = image.width as usize;
    let (win_w, win_h) = (xs.len(), ys.len());
    let order: [usize; 3] = match spec.channels {
        Channels::Rgb => [0, 1, 2],
        Channels::Bgr => [2, 1, 0],
    };
    let plane = tw * th;
    let mut tensor = vec![0f32; 3 * plane];
    let black: [f32; 3] = std::array::from_fn(|c| (0.0 - spec.mean[c]) * spec.scale[c]);
    let (b0, rest) = tensor.split_at_mut(plane);
    let (b1, b2) = rest.split_at_mut(plane);
    let mut planes = [b0, b1, b2];
    let taps: Vec<(usize, usize, f32)> = xs.iter().map(|&(x0, x1, fx)| (x0 * 3, x1 * 3, fx)).collect();
    let source_row = |y: usize| &image.data[y * w * 3..(y + 1) * w * 3];
    // The source rows blended into `top` and `bottom`.
    let planar = || -> [Vec<f32>; 3] { std::array::from_fn(|_| vec![0f32; win_w]) };
    let (mut top, mut bottom) = (planar(), planar());
    let mut held: Option<(usize, usize)> = None;
    for (y, &(y0, y1, fy)) in ys.iter().enumerate() {
        if held != Some((y0, y1)) {
            if held.is_some_and(|(_, b)| b == y0) {
                std::mem::swap(&mut top, &mut bottom);
            } else {
                blend_across(source_row(y0), &taps, &mut top);
            }
            blend_across(source_row(y1), &taps, &mut bottom);
            held = Some((y0, y1));
        }
        let row = y * tw;
        for (c_out, &c_in) in order.iter().enumerate() {
            let (mean, scale) = (spec.mean[c_out], spec.scale[c_out]);
            let out = &mut planes[c_out][row..row + tw];
            let (values, pad) = out.split_at_mut(win_w);
            for (o, (t, b)) in values.iter_mut().zip(top[c_in].iter().zip(&bottom[c_in])) {
                // Rounded to 8 bits like the reference's resized uint8 image.
                let v = ((t + (b - t) * fy) + 0.5) as u8 as f32;
                *o = (v - mean) * scale;
            }
            pad.fill(black[c_out]);
        }
    }
    for (c, p) in planes.iter_mut().enumerate() {
        p[win_h * tw..].fill(black[c]);
    }
    tensor
}

/// One source row blended between each column's two taps (byte offsets),
/// into one plane per source channel.
fn blend_across(row: &[u8], taps: &[(usize, usize, f32)], [r, g, b]: &mut [Vec<f32>; 3]) {
    for (((&(i0, i1, fx), r), g), b) in taps.iter().zip(r.iter_mut()).zip(g.iter_mut()).zip(b.iter_mut()) {
        let (p, q) = (&row[i0..i0 + 3], &row[i1..i1 + 3]);
        let blend = |c: usize| {
            let a = p[c] as f32;
            a + (q[c] as f32 - a) * fx
        };
        (*r, *g, *b) = (blend(0), blend(1), blend(2));
    }
}

/// `image` resized to `[width, height]` (see [`crate::resize`]).
fn resize(image: RgbView<'_>, [w, h]: [usize; 2]) -> Result<image::RgbImage> {
    crate::resize::rgb(image, w as u32, h as u32)
        .ok_or_else(|| Error::BadInput(format!("cannot resize a {}x{} photo to {w}x{h}", image.width, image.height)))
}

/// One window of an already resized photo as an input tensor, padded to a
/// multiple of `max_stride`; boxes map back to the original photo of
/// `original` size.
fn cut_window(resized: &image::RgbImage, original: (u32, u32), spec: &InputSpec, window: &Window, max_stride: u32) -> Result<Prepared> {
    let [sw, sh] = window.scaled;
    if resized.width() as usize != sw || resized.height() as usize != sh || window.x + window.w > sw || window.y + window.h > sh {
        return Err(Error::BadInput(format!("window {window:?} does not fit a {}x{} photo", resized.width(), resized.height())));
    }
    let s = max_stride.max(1) as usize;
    let (tw, th) = (window.w.div_ceil(s) * s, window.h.div_ceil(s) * s);
    let order: [usize; 3] = match spec.channels {
        Channels::Rgb => [0, 1, 2],
        Channels::Bgr => [2, 1, 0],
    };
    let plane = tw * th;
    let mut tensor = vec![0f32; 3 * plane];
    for (c_out, &c_in) in order.iter().enumerate() {
        let (mean, scale) = (spec.mean[c_out], spec.scale[c_out]);
        let out = &mut tensor[c_out * plane..(c_out + 1) * plane];
        out.fill((0.0 - mean) * scale);
        let data = resized.as_raw();
        for y in 0..window.h {
            let src = &data[((window.y + y) * sw + window.x) * 3..((window.y + y) * sw + window.x + window.w) * 3];
            for (o, px) in out[y * tw..y * tw + window.w].iter_mut().zip(src.chunks_exact(3)) {
                *o = (px[c_in] as f32 - mean) * scale;
            }
        }
    }
    let scale_x = (original.0 as f64 / sw as f64) as f32;
    let scale_y = (original.1 as f64 / sh as f64) as f32;
    Ok(Prepared {
        tensor,
        width: tw,
        height: th,
        scale_x,
        scale_y,
        offset_x: window.x as f32 * scale_x,
        offset_y: window.y as f32 * scale_y,
    })
}

/// RetinaFace prior boxes (centre x, centre y, width, height), normalised to
/// the input size, in the order the network emits its anchors.
pub fn priors(cfg: &RetinafaceSpec, width: usize, height: usize) -> Vec<[f32; 4]> {
    let mut out = Vec::new();
    for (sizes, &step) in cfg.min_sizes.iter().zip(&cfg.steps) {
        let step = step as usize;
        let (fw, fh) = (width.div_ceil(step), height.div_ceil(step));
        for i in 0..fh {
            for j in 0..fw {
                for &m in sizes {
                    out.push([
                        (j as f32 + 0.5) * step as f32 / width as f32,
                        (i as f32 + 0.5) * step as f32 / height as f32,
                        m as f32 / width as f32,
                        m as f32 / height as f32,
                    ]);
                }
            }
        }
    }
    out
}

/// Decodes raw network outputs into detections with `score >= min_score`,
/// in image pixels, before non-maximum suppression.
pub fn decode(
    cfg: &RetinafaceSpec,
    prepared: &Prepared,
    loc: &[f32],
    conf: &[f32],
    landmarks: &[f32],
    min_score: f32,
) -> Result<Vec<Detection>> {
    let priors = priors(cfg, prepared.width, prepared.height);
    let n = priors.len();
    if loc.len() != n * 4 || conf.len() != n * 2 || landmarks.len() != n * 10 {
        return Err(Error::Contract {
            model: "detector".into(),
            reason: format!(
                "{n} priors for a {}x{} input, but outputs hold {} boxes, {} scores, {} landmark sets",
                prepared.width,
                prepared.height,
                loc.len() / 4,
                conf.len() / 2,
                landmarks.len() / 10
            ),
        });
    }
    let [v0, v1] = cfg.variance;
    let (tw, th) = (prepared.width as f32, prepared.height as f32);
    let (sx, sy) = (tw * prepared.scale_x, th * prepared.scale_y);
    let (ox, oy) = (prepared.offset_x, prepared.offset_y);
    let mut out = Vec::new();
    for (k, p) in priors.iter().enumerate() {
        let score = conf[k * 2 + 1];
        if score.is_nan() || score < min_score {
            continue;
        }
        let l = &loc[k * 4..k * 4 + 4];
        let cx = p[0] + l[0] * v0 * p[2];
        let cy = p[1] + l[1] * v0 * p[3];
        let bw = p[2] * (l[2] * v1).exp();
        let bh = p[3] * (l[3] * v1).exp();
        let bbox = BBox {
            x1: ox + (cx - bw / 2.0) * sx,
            y1: oy + (cy - bh / 2.0) * sy,
            x2: ox + (cx + bw / 2.0) * sx,
            y2: oy + (cy + bh / 2.0) * sy,
        };
        let lm = &landmarks[k * 10..k * 10 + 10];
        let mut pts = [[0f32; 2]; 5];
        for (i, pt) in pts.iter_mut().enumerate() {
            pt[0] = ox + (p[0] + lm[i * 2] * v0 * p[2]) * sx;
            pt[1] = oy + (p[1] + lm[i * 2 + 1] * v0 * p[3]) * sy;
        }
        out.push(Detection { bbox, score, landmarks: pts });
    }
    Ok(out)
}

/// What one scan of a photo found, and how it looked.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Faces, best first, in photo pixels.
    pub detections: Vec<Detection>,
    /// The passes, finest first, as `detections.json` records them.
    pub passes: Vec<PassRecord>,
}

/// A RetinaFace session with its contract.
pub struct Detector {
    session: Session,
    spec: ModelSpec,
    cfg: RetinafaceSpec,
    max_stride: u32,
    rule: ScanRule,
    scale: DetectorScale,
    /// Time spent inside ONNX Runtime.
    pub clock: InferenceClock,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").field("model", &self.spec.name).finish()
    }
}

impl Detector {
    /// Builds a session for `spec` from checked model bytes.
    pub fn new(store: &ModelStore, spec: &ModelSpec, bytes: &[u8], threads: Threads, scale: DetectorScale, margin: f32) -> Result<Self> {
        let cfg = spec
            .retinaface
            .clone()
            .ok_or_else(|| Error::Contract { model: spec.name.clone(), reason: "no [model.retinaface] section".into() })?;
        let session = runtime::session(store, &spec.name, bytes, threads)?;
        runtime::check_io(&session, &spec.name, &spec.input.name, &spec.output.names)?;
        let max_stride = cfg.steps.iter().copied().max().unwrap_or(32);
        let rule = ScanRule { margin, ..ScanRule::of(&spec.input, &cfg) };
        // Every photo's pass has its own input size; the session has no
        // arena to keep the largest one's activations in (see
        // [`runtime::session`]).
        Ok(Detector { session, spec: spec.clone(), cfg, max_stride, rule, scale, clock: InferenceClock::default() })
    }

    /// The manifest entry.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Scales and normalises a photo for this detector.
    pub fn prepare(&self, image: RgbView<'_>) -> Result<Prepared> {
        prepare(image, &self.spec.input, self.max_stride)
    }

    /// The passes this detector makes over a `width` x `height` photo to
    /// find faces of `min_face` pixels and more (see [`crate::scan`]).
    pub fn plan(&self, width: u32, height: u32, min_face: f32) -> Vec<Pass> {
        scan::plan(width, height, min_face, &self.rule, self.scale)
    }

    /// Bytes a [`scan`](Self::scan) of a `width` x `height` photo holds at
    /// its peak: its largest window's, at [`SCAN_BYTES_PER_INPUT_PIXEL`]
    /// (windows run one at a time), except that a tiled pass's resized copy
    /// (3 bytes a pixel) is of the whole pass, held while its tiles run.
    pub fn scan_bytes(&self, width: u32, height: u32, min_face: f32) -> u64 {
        let passes = self.plan(width, height, min_face);
        let pass_bytes = |p: &Pass| {
            let largest = p.windows.iter().map(|w| (w.w * w.h) as u64).max().unwrap_or(0);
            let [sw, sh] = p.scaled();
            let resized = if p.windows.len() > 1 { (sw * sh) as u64 * 3 } else { 0 };
            largest.saturating_mul(SCAN_BYTES_PER_INPUT_PIXEL).saturating_add(resized)
        };
        passes.iter().map(pass_bytes).max().unwrap_or(0)
    }

    /// Finds the faces of `min_face` pixels and more scoring at least
    /// `min_score`, in as many passes and tiles as [`plan`](Self::plan)
    /// says, merged; best first. `prepare_time` grows by the time spent
    /// scaling.
    pub fn scan(&mut self, image: RgbView<'_>, min_score: f32, min_face: f32, prepare_time: &mut std::time::Duration) -> Result<Scan> {
        let (w, h) = (image.width, image.height);
        let passes = self.plan(w, h, min_face);
        let fixed = (!self.spec.input.dynamic).then(|| (self.spec.input.size[0] as usize, self.spec.input.size[1] as usize));
        let mut found = Vec::with_capacity(passes.len());
        for (p, pass) in passes.iter().enumerate() {
            // The last pass is the fit pass, scaled as the reference scales;
            // a finer pass is resized once (SIMD, area-weighted) and its
            // tiles cut from that.
            let t = std::time::Instant::now();
            let resized = if p + 1 < passes.len() { Some(resize(image, pass.scaled())?) } else { None };
            *prepare_time += t.elapsed();
            let mut dets = Vec::new();
            for window in &pass.windows {
                let t = std::time::Instant::now();
                let prepared = match &resized {
                    Some(r) => cut_window(r, (image.width, image.height), &self.spec.input, window, self.max_stride)?,
                    None => prepare_window(image, &self.spec.input, window, self.max_stride, fixed)?,
                };
                *prepare_time += t.elapsed();
                let in_window = self.detect_prepared(&prepared, min_score)?;
                let too_large = |d: &Detection| {
                    pass.max_face.is_some_and(|m| d.bbox.width().max(d.bbox.height()) / prepared.scale_x.max(prepared.scale_y) > m)
                };
                dets.extend(in_window.into_iter().filter(|d| !window.cuts(&d.bbox, w, h) && !too_large(d)));
            }
            found.push(dets);
        }
        let detections = if found.len() == 1 && passes[0].windows.len() == 1 {
            // One whole pass: already suppressed, best first.
            found.pop().unwrap_or_default()
        } else {
            scan::merge(found, self.cfg.nms_iou)
        };
        Ok(Scan { detections, passes: passes.iter().map(|p| p.record(w, h)).collect() })
    }

    /// Runs the network on a prepared photo and returns the faces scoring at
    /// least `min_score`, after non-maximum suppression, best first.
    pub fn detect_prepared(&mut self, prepared: &Prepared, min_score: f32) -> Result<Vec<Detection>> {
        let name = self.spec.name.clone();
        let ort_err = |source: ort::Error| Error::Ort { model: name.clone(), source };
        let input =
            TensorRef::from_array_view(([1usize, 3, prepared.height, prepared.width], prepared.tensor.as_slice())).map_err(ort_err)?;
        let [loc_name, conf_name, lm_name] = [&self.spec.output.names[0], &self.spec.output.names[1], &self.spec.output.names[2]];
        let session = &mut self.session;
        let input_name = self.spec.input.name.as_str();
        let outputs = self.clock.time(|| session.run(ort::inputs![input_name => input])).map_err(ort_err)?;
        let (_, loc) = outputs[loc_name.as_str()].try_extract_tensor::<f32>().map_err(ort_err)?;
        let (_, conf) = outputs[conf_name.as_str()].try_extract_tensor::<f32>().map_err(ort_err)?;
        let (_, lms) = outputs[lm_name.as_str()].try_extract_tensor::<f32>().map_err(ort_err)?;
        let dets = decode(&self.cfg, prepared, loc, conf, lms, min_score)?;
        Ok(nms(dets, self.cfg.nms_iou))
    }

    /// [`prepare`](Self::prepare) then [`detect_prepared`](Self::detect_prepared).
    pub fn detect(&mut self, image: RgbView<'_>, min_score: f32) -> Result<Vec<Detection>> {
        let prepared = self.prepare(image)?;
        self.detect_prepared(&prepared, min_score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, Role};

    fn spec() -> ModelSpec {
        Manifest::builtin().select(Role::Detector, None).unwrap().clone()
    }

    #[test]
    fn landscape_photo_fills_width_and_pads_height_to_the_stride() {
        let (w, h) = (1000u32, 750u32);
        let data = vec![128u8; (w * h * 3) as usize];
        let p = prepare(RgbView { data: &data, width: w, height: h }, &spec().input, 32).unwrap();
        assert_eq!((p.width, p.height), (640, 480));
        assert!((p.scale_x - 1000.0 / 640.0).abs() < 1e-6 && (p.scale_y - 750.0 / 480.0).abs() < 1e-6);
        // BGR minus (104, 117, 123): a grey 128 becomes (24, 11, 5).
        assert_eq!(p.tensor[0], 24.0);
        assert_eq!(p.tensor[640 * 480], 11.0);
        assert_eq!(p.tensor[2 * 640 * 480], 5.0);
    }

    #[test]
    fn padding_reads_as_black_and_channels_are_swapped() {
        // 2x1 image, red then blue, scaled to fit 64 x 16: 32 x 16, padded to 32 x 32.
        let data = [255u8, 0, 0, 0, 0, 255];
        let mut s = spec().input;
        s.size = [64, 16];
        let p = prepare(RgbView { data: &data, width: 2, height: 1 }, &s, 32).unwrap();
        assert_eq!((p.width, p.height), (32, 32));
        let plane = 32 * 32;
        // First pixel is red: the B plane (first) reads 0 - 104, the R plane (third) 255 - 123.
        assert_eq!(p.tensor[0], -104.0);
        assert_eq!(p.tensor[2 * plane], 132.0);
        // Row 20 is padding: black minus the mean.
        assert_eq!(p.tensor[2 * plane + 20 * 32], -123.0);
    }

    #[test]
    fn prior_count_matches_feature_maps() {
        let cfg = spec().retinaface.unwrap();
        let p = priors(&cfg, 640, 480);
        assert_eq!(p.len(), 2 * (80 * 60 + 40 * 30 + 20 * 15));
        assert!((p[0][0] - 4.0 / 640.0).abs() < 1e-7 && (p[0][2] - 16.0 / 640.0).abs() < 1e-7);
    }

    /// In a 9000 x 600 photo, a face at the right edge had its landmarks
    /// 137 px too far right and its box past the edge: boxes were mapped
    /// back with the vertical factor (600 / 42) on both axes, and the
    /// truncated width scales by 9000 / 640 instead.
    #[test]
    fn regression_wide_photo_boxes_were_shifted() {
        let (w, h) = (9000u32, 600u32);
        let data = vec![100u8; (w * h * 3) as usize];
        let p = prepare(RgbView { data: &data, width: w, height: h }, &spec().input, 32).unwrap();
        assert_eq!((p.width, p.height), (640, 64));
        let cfg = spec().retinaface.unwrap();
        let pri = priors(&cfg, p.width, p.height);
        // One confident anchor near the right edge of the first feature map,
        // with zero offsets: the face is the anchor itself.
        let k = pri.iter().enumerate().filter(|(_, q)| q[2] * p.width as f32 == 16.0).map(|(i, _)| i).nth(75).unwrap();
        let mut conf = vec![0f32; pri.len() * 2];
        conf[k * 2 + 1] = 0.99;
        let dets = decode(&cfg, &p, &vec![0.0; pri.len() * 4], &conf, &vec![0.0; pri.len() * 10], 0.5).unwrap();
        assert_eq!(dets.len(), 1);
        let centre_in_tensor = pri[k][0] * p.width as f32;
        let truth = centre_in_tensor * w as f32 / 640.0;
        let found = (dets[0].bbox.x1 + dets[0].bbox.x2) / 2.0;
        assert!((found - truth).abs() < 0.5, "centre at {found}, the face is at {truth}");
        assert!((dets[0].landmarks[0][0] - truth).abs() < 0.5);
    }

    /// The reference's resize and normalisation, one value at a time, as
    /// `sample` computed it before it blended whole rows: the tensor must
    /// not change by a bit.
    fn sample_value_by_value(image: RgbView<'_>, spec: &InputSpec, window: &Window, tw: usize, th: usize) -> Vec<f32> {
        let w = image.width as usize;
        let xs = linear_taps(w, window.scaled[0], window.x, window.w);
        let ys = linear_taps(image.height as usize, window.scaled[1], window.y, window.h);
        let order = if spec.channels == Channels::Rgb { [0, 1, 2] } else { [2, 1, 0] };
        let plane = tw * th;
        let mut t: Vec<f32> = (0..3 * plane).map(|i| (0.0 - spec.mean[i / plane]) * spec.scale[i / plane]).collect();
        for (y, &(y0, y1, fy)) in ys.iter().enumerate() {
            for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
                for (c_out, &c_in) in order.iter().enumerate() {
                    let px = |yy: usize, xx: usize| image.data[(yy * w + xx) * 3 + c_in] as f32;
                    let top = px(y0, x0) + (px(y0, x1) - px(y0, x0)) * fx;
                    let bottom = px(y1, x0) + (px(y1, x1) - px(y1, x0)) * fx;
                    let v = ((top + (bottom - top) * fy) + 0.5) as u8 as f32;
                    t[c_out * plane + y * tw + x] = (v - spec.mean[c_out]) * spec.scale[c_out];
                }
            }
        }
        t
    }

    #[test]
    fn rows_blended_once_give_the_value_by_value_tensor() {
        let (w, h) = (301u32, 203u32);
        let data: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let view = RgbView { data: &data, width: w, height: h };
        let mut bgr = spec().input;
        bgr.channels = Channels::Bgr;
        bgr.mean = [104.0, 117.0, 123.0];
        let mut rgb = bgr.clone();
        rgb.channels = Channels::Rgb;
        rgb.scale = [1.0 / 58.0, 1.0 / 57.0, 1.0 / 57.5];
        // Down, up (rows read twice, edges clamped) and a tile of each.
        let windows = [
            Window::whole([160, 108]),
            Window::whole([640, 431]),
            Window { scaled: [160, 108], x: 64, y: 32, w: 96, h: 64, inner: [true, true, false, false] },
            Window { scaled: [640, 431], x: 300, y: 200, w: 340, h: 231, inner: [true, true, false, false] },
        ];
        for spec in [&bgr, &rgb] {
            for window in &windows {
                let p = prepare_window(view, spec, window, 32, None).unwrap();
                let plain = sample_value_by_value(view, spec, window, p.width, p.height);
                assert!(p.tensor.iter().zip(&plain).all(|(a, b)| a.to_bits() == b.to_bits()), "{window:?} {:?}", spec.channels);
                assert_eq!(p.tensor.len(), plain.len());
            }
        }
    }

    /// A tile samples the photo exactly where the whole scaled photo does,
    /// so a face seen in a tile is the face the whole pass would see.
    #[test]
    fn a_tile_is_the_matching_block_of_the_whole_scaled_photo() {
        let (w, h) = (301u32, 203u32);
        let data: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let view = RgbView { data: &data, width: w, height: h };
        let spec = spec().input;
        let scaled = [160usize, 108];
        let whole = prepare_window(view, &spec, &Window::whole(scaled), 32, None).unwrap();
        let tile = Window { scaled, x: 64, y: 32, w: 96, h: 64, inner: [true, true, false, false] };
        let part = prepare_window(view, &spec, &tile, 32, None).unwrap();
        assert_eq!((part.width, part.height), (96, 64));
        for c in 0..3 {
            for y in 0..64 {
                for x in 0..96 {
                    let a = part.tensor[c * 96 * 64 + y * 96 + x];
                    let b = whole.tensor[c * whole.width * whole.height + (y + 32) * whole.width + x + 64];
                    assert_eq!(a, b, "channel {c} at {x},{y}");
                }
            }
        }
        // Tile coordinates map back to photo pixels through the offset.
        assert!((part.offset_x - 64.0 * 301.0 / 160.0).abs() < 1e-3 && (part.offset_y - 32.0 * 203.0 / 108.0).abs() < 1e-3);
    }

    #[test]
    fn output_size_mismatch_is_a_contract_error() {
        let cfg = spec().retinaface.unwrap();
        let p = Prepared { tensor: vec![], width: 64, height: 64, scale_x: 1.0, scale_y: 1.0, offset_x: 0.0, offset_y: 0.0 };
        assert!(matches!(decode(&cfg, &p, &[0.0; 4], &[0.0; 2], &[0.0; 10], 0.5), Err(Error::Contract { .. })));
    }
}
