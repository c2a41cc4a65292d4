//! `rollcall bench class-photo`: a teacher's class photo, composed from
//! labelled portraits with known truth boxes, scanned the new way (the
//! scale rule, tiles) and the old way (the whole photo fitted into 640 px).
//!
//! Protocol, on a folder of labelled photos with a `labels.csv` (the shared
//! `../shared/data/faces`):
//!
//! - each labelled photo's largest face is that identity, its detector box
//!   the truth box;
//! - identities with at least `enrol + 1` photos are the class: each enrols
//!   `enrol` photos (drawn, seeded) into a gallery trained as `train` trains
//!   one; their other photos appear in the class photos. Everyone else is a
//!   stranger, who appears too but is in no gallery;
//! - each class photo (4032 x 3024 by default, a 12-megapixel phone photo)
//!   has four rows of faces on a textured background, one face width band
//!   per row, back to front: 40-59, 60-79, 80-99 and 100-150 px, each face
//!   pasted with its head and shoulders (a feathered oval around the face)
//!   at a random place within its slot, every identity at most once;
//! - a detection matches a truth face when their boxes overlap (IoU >= 0.4,
//!   best overlap first); recall is matched truth faces over truth faces,
//!   by face width. Matched members are named correctly, wrongly, as
//!   unknown or as too small to name; matched strangers are rejected or
//!   named as someone.
//!
//! Time is per photo from reading the file to the names (decode, detect,
//! align, embed, name) on one worker; peak memory is the process's resident
//! high-water mark while the photos are named, reset before each scan mode.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{Rgb, RgbImage};
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rollcall_models::runtime::Threads;
use rollcall_models::{DetectorScale, FaceEngine, FaceFilter, ModelSet, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::Gallery;
use rollcall_shared::geometry::BBox;
use serde::{Deserialize, Serialize};

use super::{peak_mib, reset_peak};
use crate::analysis::learn::{Context, LearnOptions, TrainingSet, learn};
use crate::error::{Error, Result};
use crate::stages::predict::{NamedPhoto, Naming, PredictOptions};

/// Face width bands, photo pixels, back row first: `[low, high)`.
pub const BANDS: [(u32, u32); 4] = [(40, 60), (60, 80), (80, 100), (100, 151)];

/// A labelled portrait's face, cut out with its surroundings.
#[derive(Debug, Clone)]
pub struct Source {
    /// Who it is.
    pub identity: String,
    /// The photo it comes from.
    pub path: PathBuf,
    /// The face and around it, scaled so the face is at most
    /// [`SOURCE_FACE`] px wide.
    pub crop: RgbImage,
    /// The face's detector box inside `crop`.
    pub face: BBox,
}

/// Widest face a [`Source`] keeps: twice the widest band, so that faces
/// are only ever scaled down into a class photo where they can be.
pub const SOURCE_FACE: f32 = 300.0;

/// One face of a composed photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthFace {
    /// Its box, photo pixels.
    pub bbox: [f32; 4],
    /// Who it is.
    pub identity: String,
    /// Whether they are in the gallery.
    pub member: bool,
}

/// A composed class photo and its truth.
#[derive(Debug, Clone)]
pub struct ClassPhoto {
    /// The photo.
    pub image: RgbImage,
    /// Every face in it.
    pub faces: Vec<TruthFace>,
}

/// Cuts `identity`'s largest face out of `photo`, or `None` if no face is
/// found in it or the photo is cropped too tightly around it.
pub fn source(engine: &mut dyn FaceEngine, identity: &str, photo: &Path) -> Result<Option<Source>> {
    let img = rollcall_models::decode::load_rgb(photo).map_err(|e| Error::Table { path: photo.to_path_buf(), reason: e.to_string() })?;
    let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
    let faces =
        engine.faces(view, &FaceFilter::default()).map_err(|e| Error::Table { path: photo.to_path_buf(), reason: e.to_string() })?;
    let Some(face) =
        faces.iter().filter(|f| f.verdict == Verdict::Kept).max_by(|a, b| a.detection.bbox.area().total_cmp(&b.detection.bbox.area()))
    else {
        return Ok(None);
    };
    let b = face.detection.bbox;
    // Head and shoulders: 2.4 face widths square around the face's centre.
    let side = 2.4 * b.width().max(b.height());
    let [cx, cy] = b.center();
    let (x0, y0) = (cx - side / 2.0, cy - side / 2.0);
    // A tightly cropped face (the 150 px chips of dlib_johns) has no head
    // and shoulders to paste: mostly repeated edge pixels around a face
    // make a photo no camera takes.
    let inside = |lo: f32, len: f32| ((lo + side).min(len) - lo.max(0.0)).max(0.0);
    if inside(x0, img.width() as f32) * inside(y0, img.height() as f32) < 0.5 * side * side {
        return Ok(None);
    }
    let s = (SOURCE_FACE / b.width()).min(1.0);
    let out_side = (side * s).round().max(1.0) as u32;
    // Scale the whole photo's region once: sample the region (pixels outside
    // the photo repeat its edge, as a photographer's crop never shows).
    let region = image::imageops::crop_imm(
        &img,
        x0.max(0.0) as u32,
        y0.max(0.0) as u32,
        (side.min(img.width() as f32 - x0.max(0.0))).max(1.0) as u32,
        (side.min(img.height() as f32 - y0.max(0.0))).max(1.0) as u32,
    )
    .to_image();
    let (rw, rh) = (((region.width() as f32) * s).round().max(1.0) as u32, ((region.height() as f32) * s).round().max(1.0) as u32);
    let scaled = image::imageops::resize(&region, rw, rh, image::imageops::FilterType::Triangle);
    let mut crop = RgbImage::new(out_side, out_side);
    let (dx, dy) = (((x0.max(0.0) - x0) * s) as i64, ((y0.max(0.0) - y0) * s) as i64);
    for y in 0..out_side {
        for x in 0..out_side {
            let sx = (x as i64 - dx).clamp(0, rw as i64 - 1) as u32;
            let sy = (y as i64 - dy).clamp(0, rh as i64 - 1) as u32;
            crop.put_pixel(x, y, *scaled.get_pixel(sx, sy));
        }
    }
    let face = BBox { x1: (b.x1 - x0) * s, y1: (b.y1 - y0) * s, x2: (b.x2 - x0) * s, y2: (b.y2 - y0) * s };
    Ok(Some(Source { identity: identity.to_string(), path: photo.to_path_buf(), crop, face }))
}

/// A seeded textured background: soft gradients, stripes and grain, like a
/// classroom wall, with no face-like structure.
pub fn background(width: u32, height: u32, rng: &mut impl Rng) -> RgbImage {
    let base: [f32; 3] = std::array::from_fn(|_| rng.random_range(90.0..170.0));
    let waves: Vec<(f32, f32, f32, f32)> = (0..4)
        .map(|_| {
            (
                rng.random_range(0.002..0.03),
                rng.random_range(0.002..0.03),
                rng.random_range(0.0..std::f32::consts::TAU),
                rng.random_range(8.0..25.0),
            )
        })
        .collect();
    let mut img = RgbImage::new(width, height);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (xf, yf) = (x as f32, y as f32);
        let t: f32 = waves.iter().map(|&(fx, fy, ph, a)| a * (fx * xf + fy * yf + ph).sin()).sum();
        let grain = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) % 17) as f32 - 8.0;
        *p = Rgb(std::array::from_fn(|c| (base[c] + t * (0.6 + 0.2 * c as f32) + grain).clamp(0.0, 255.0) as u8));
    }
    img
}

/// Pastes `src` with its face `width` px wide, centred at `(cx, cy)`, through
/// a feathered oval; returns the face's box in the photo.
pub fn paste(photo: &mut RgbImage, src: &Source, width: f32, cx: f32, cy: f32) -> BBox {
    let s = width / src.face.width();
    let side = ((src.crop.width() as f32) * s).round().max(1.0) as u32;
    let scaled = image::imageops::resize(&src.crop, side, side, image::imageops::FilterType::Triangle);
    let [fcx, fcy] = src.face.center();
    // The crop's top-left so that the face's centre lands at (cx, cy).
    let (ox, oy) = (cx - fcx * s, cy - fcy * s);
    let r = side as f32 / 2.0;
    for (x, y, p) in scaled.enumerate_pixels() {
        let (px, py) = (ox + x as f32, oy + y as f32);
        if px < 0.0 || py < 0.0 || px >= photo.width() as f32 || py >= photo.height() as f32 {
            continue;
        }
        // An oval a little taller than wide, feathered over its outer 15%.
        let d = (((x as f32 - r) / (0.95 * r)).powi(2) + ((y as f32 - r) / r).powi(2)).sqrt();
        let a = ((1.0 - d) / 0.15).clamp(0.0, 1.0);
        if a <= 0.0 {
            continue;
        }
        let q = photo.get_pixel_mut(px as u32, py as u32);
        *q = Rgb(std::array::from_fn(|c| (q[c] as f32 * (1.0 - a) + p[c] as f32 * a).round() as u8));
    }
    BBox { x1: ox + src.face.x1 * s, y1: oy + src.face.y1 * s, x2: ox + src.face.x2 * s, y2: oy + src.face.y2 * s }
}

/// A class photo of `width` x `height`: one row per band in [`BANDS`],
/// `per_row` faces a row, drawn from `pool` (each `(source, member)`)
/// without repeating an identity.
pub fn compose(pool: &[(&Source, bool)], width: u32, height: u32, per_row: usize, rng: &mut impl Rng) -> ClassPhoto {
    let mut image = background(width, height, rng);
    let mut order: Vec<usize> = (0..pool.len()).collect();
    order.shuffle(rng);
    let mut used = std::collections::HashSet::new();
    let mut picks = order.into_iter().filter(|&i| used.insert(pool[i].0.identity.clone()));
    let rows = BANDS.len() as f32;
    let mut faces = Vec::new();
    for (row, &(lo, hi)) in BANDS.iter().enumerate() {
        let slot_h = height as f32 / rows;
        for k in 0..per_row {
            let Some(i) = picks.next() else { break };
            let (src, member) = pool[i];
            let w = rng.random_range(lo as f32..hi as f32);
            let slot_w = width as f32 / per_row as f32;
            // Anywhere in the slot that keeps the head and shoulders in it.
            let margin_x = (slot_w / 2.0 - 1.3 * w).max(0.0);
            let margin_y = (slot_h / 2.0 - 1.3 * w).max(0.0);
            let cx = slot_w * (k as f32 + 0.5) + rng.random_range(-margin_x..=margin_x);
            let cy = slot_h * (row as f32 + 0.5) + rng.random_range(-margin_y..=margin_y);
            let b = paste(&mut image, src, w, cx, cy);
            faces.push(TruthFace { bbox: [b.x1, b.y1, b.x2, b.y2], identity: src.identity.clone(), member });
        }
    }
    ClassPhoto { image, faces }
}

/// The labelled set cut into sources, split into the class (members, with
/// their enrolment photos) and strangers.
#[derive(Debug, Clone)]
pub struct Cast {
    /// Members' enrolment faces: identity and embedding.
    pub enrolled: Vec<(String, Vec<f32>)>,
    /// Faces that appear in class photos, and whether each is a member.
    pub pool: Vec<(Source, bool)>,
}

#[derive(Debug, Deserialize)]
struct Label {
    identity: String,
    path: String,
}

impl Cast {
    /// Reads `faces/labels.csv`, cuts every portrait's face out, and splits
    /// identities with more than `enrol` photos into enrolment and class
    /// photos (seeded); the others are strangers.
    pub fn load(faces: &Path, models: &dyn Models, enrol: usize, seed: u64) -> Result<Cast> {
        let labels: Vec<Label> = crate::artifacts::io::read_csv(&faces.join("labels.csv"))?;
        let mut by_person: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for l in labels.iter().filter(|l| !l.identity.starts_with('_') && !l.path.contains("/_")) {
            by_person.entry(l.identity.clone()).or_default().push(faces.join(&l.path));
        }
        let mut engine = models.engine(Threads::default())?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut cast = Cast { enrolled: Vec::new(), pool: Vec::new() };
        for (who, mut photos) in by_person {
            photos.shuffle(&mut rng);
            let member = photos.len() > enrol;
            let (enrol_photos, class_photos) = if member { photos.split_at(enrol) } else { photos.split_at(0) };
            for p in enrol_photos {
                let img = rollcall_models::decode::load_rgb(p).map_err(|e| Error::Table { path: p.clone(), reason: e.to_string() })?;
                let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
                let found = engine.faces_with_embeddings(view, &FaceFilter::default())?;
                let largest = found
                    .into_iter()
                    .filter(|(f, _)| f.verdict == Verdict::Kept)
                    .max_by(|a, b| a.0.detection.bbox.area().total_cmp(&b.0.detection.bbox.area()));
                if let Some((_, Some(e))) = largest {
                    cast.enrolled.push((who.clone(), e));
                }
            }
            for p in class_photos {
                if let Some(s) = source(engine.as_mut(), &who, p)? {
                    cast.pool.push((s, member));
                }
            }
        }
        Ok(cast)
    }

    /// A gallery of the members, trained as `train` trains one.
    pub fn gallery(&self, models: &dyn Models) -> Result<Gallery> {
        let mut labels: Vec<String> = self.enrolled.iter().map(|(w, _)| w.clone()).collect();
        labels.sort();
        labels.dedup();
        let dim = models.card().dim;
        let data = TrainingSet {
            x: Array2::from_shape_vec((self.enrolled.len(), dim), self.enrolled.iter().flat_map(|(_, e)| e.clone()).collect())
                .map_err(|e| Error::Table { path: PathBuf::from("enrolment"), reason: e.to_string() })?,
            y: self.enrolled.iter().map(|(w, _)| labels.iter().position(|l| l == w).unwrap_or(0)).collect(),
            labels,
            files: (0..self.enrolled.len()).map(|i| i.to_string()).collect(),
        };
        let opts = LearnOptions { same_person: models.card().same_person_cosine, ..LearnOptions::default() };
        let mut g = learn(&data, &Context::default(), &opts)?.gallery;
        let card = models.card();
        g.detector_sha256 = card.detector.digest();
        g.recognizer_sha256 = card.recognizer.digest();
        Ok(g)
    }

    /// The pool as `compose` takes it.
    pub fn pool(&self) -> Vec<(&Source, bool)> {
        self.pool.iter().map(|(s, m)| (s, *m)).collect()
    }
}

/// Matches detections to truth faces, best overlap first (IoU >= 0.4):
/// for each truth face, the detection's index.
pub fn match_faces(truth: &[TruthFace], found: &[BBox]) -> Vec<Option<usize>> {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (t, tf) in truth.iter().enumerate() {
        let tb = BBox { x1: tf.bbox[0], y1: tf.bbox[1], x2: tf.bbox[2], y2: tf.bbox[3] };
        for (d, b) in found.iter().enumerate() {
            let iou = tb.iou(b);
            if iou >= 0.4 {
                pairs.push((iou, t, d));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = vec![None; truth.len()];
    let mut taken = vec![false; found.len()];
    for (_, t, d) in pairs {
        if out[t].is_none() && !taken[d] {
            out[t] = Some(d);
            taken[d] = true;
        }
    }
    out
}

/// Counts for one face width band.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BandCounts {
    /// `[low, high)` face width, px.
    pub band: (u32, u32),
    /// Truth faces.
    pub faces: usize,
    /// Found (matched by a kept face).
    pub found: usize,
    /// Members found.
    pub members: usize,
    /// Members found and named correctly.
    pub named: usize,
    /// Members found and named as someone else.
    pub wrong: usize,
    /// Members found and called unknown.
    pub unknown: usize,
    /// Faces found and called too small to name (members and strangers).
    pub too_small: usize,
    /// Strangers found.
    pub strangers: usize,
    /// Strangers found and named as a member.
    pub strangers_named: usize,
}

/// One scan mode's figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModeFigures {
    /// `auto` or `fit to 640`.
    pub mode: String,
    /// By face width band, in [`BANDS`] order.
    pub bands: Vec<BandCounts>,
    /// Kept faces matching no truth face.
    pub false_detections: usize,
    /// Truth faces not found: identity and face width, px.
    pub missed: Vec<(String, u32)>,
    /// Median milliseconds per class photo, file to names, one worker.
    pub ms_per_photo: f64,
    /// Peak resident memory while naming, MiB.
    pub peak_mib: f64,
    /// Per photo (mean), ms: scaling for the detector, inside the
    /// detector, inside the recognizer; the rest is decoding, alignment and
    /// naming.
    pub prepare_ms: f64,
    pub detector_ms: f64,
    pub recognizer_ms: f64,
    /// The large photo (see [`ClassPhotoOptions::large`]): ms and peak MiB.
    pub large_ms: Option<f64>,
    /// Its peak resident memory, MiB.
    pub large_peak_mib: Option<f64>,
}

/// Settings of the benchmark.
#[derive(Debug, Clone)]
pub struct ClassPhotoOptions {
    /// Class photos composed.
    pub photos: usize,
    /// Photo size.
    pub size: (u32, u32),
    /// Faces per row (four rows).
    pub per_row: usize,
    /// Photos each member enrols.
    pub enrol: usize,
    /// Seed of the split and the photos.
    pub seed: u64,
    /// Also time one photo of this size (48 MP: 8000 x 6000), for memory.
    pub large: Option<(u32, u32)>,
    /// The smallest face named (`None`: the default).
    pub min_name_size: Option<f32>,
    /// Margins over the smallest anchor to compare (see
    /// `rollcall_models::scan::ANCHOR_MARGIN`); empty: the default alone.
    pub margins: Vec<f32>,
}

impl Default for ClassPhotoOptions {
    fn default() -> Self {
        ClassPhotoOptions {
            photos: 6,
            size: (4032, 3024),
            per_row: 7,
            enrol: 3,
            seed: 0,
            large: Some((8000, 6000)),
            min_name_size: None,
            margins: Vec::new(),
        }
    }
}

/// The process's resident high-water mark, MiB, and a reset of it (Linux;
/// `None` elsewhere).
/// Runs the protocol; see the module docs. `scratch` holds the composed
/// photos as JPEG files, read back as a user's photos would be.
pub fn class_photo(faces: &Path, models: &ModelSet, scratch: &Path, opts: &ClassPhotoOptions) -> Result<Vec<ModeFigures>> {
    let cast = Cast::load(faces, models, opts.enrol, opts.seed)?;
    let gallery = cast.gallery(models)?;
    let pool = cast.pool();
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0xC1A55);
    let mut photos = Vec::new();
    for i in 0..opts.photos {
        let photo = compose(&pool, opts.size.0, opts.size.1, opts.per_row, &mut rng);
        let path = scratch.join(format!("class_{i}.jpg"));
        crate::artifacts::io::save_jpeg(&path, &photo.image)?;
        photos.push((path, photo.faces));
    }
    let large = match opts.large {
        Some((w, h)) => {
            let photo = compose(&pool, w, h, opts.per_row, &mut rng);
            let path = scratch.join("class_large.jpg");
            crate::artifacts::io::save_jpeg(&path, &photo.image)?;
            Some(path)
        }
        None => None,
    };
    let predict = PredictOptions { min_name_size: opts.min_name_size, ..PredictOptions::default() };
    let kind = gallery.default_classifier;
    let mut out = Vec::new();
    let mut modes: Vec<(String, ModelSet)> = if opts.margins.is_empty() {
        vec![("auto".to_string(), models.clone().with_detector_scale(DetectorScale::Auto))]
    } else {
        opts.margins
            .iter()
            .map(|&m| (format!("auto, margin {m}"), models.clone().with_detector_scale(DetectorScale::Auto).with_anchor_margin(m)))
            .collect()
    };
    modes.push(("fit to 640".to_string(), models.clone().with_detector_scale(DetectorScale::Fit)));
    for (mode, set) in modes {
        let mut engine = set.engine(Threads { intra: 1 })?;
        let mut fig = ModeFigures {
            mode,
            bands: BANDS.iter().map(|&band| BandCounts { band, ..BandCounts::default() }).collect(),
            ..ModeFigures::default()
        };
        reset_peak();
        let mut times = Vec::new();
        let before = engine.times();
        for (path, truth) in &photos {
            let t = Instant::now();
            let (named, _) = NamedPhoto::of(engine.as_mut(), path, &gallery, kind, &predict)
                .map_err(|e| Error::Table { path: path.clone(), reason: e.describe() })?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            tally(&mut fig, truth, &named, &gallery);
        }
        fig.peak_mib = peak_mib().unwrap_or(0.0);
        let after = engine.times();
        let per_photo = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / photos.len().max(1) as f64;
        fig.prepare_ms = per_photo(after.prepare.saturating_sub(before.prepare));
        fig.detector_ms = per_photo(after.detector.since(&before.detector).total);
        fig.recognizer_ms = per_photo(after.recognizer.since(&before.recognizer).total);
        times.sort_by(f64::total_cmp);
        fig.ms_per_photo = times.get(times.len() / 2).copied().unwrap_or(0.0);
        if let Some(path) = &large {
            reset_peak();
            let t = Instant::now();
            NamedPhoto::of(engine.as_mut(), path, &gallery, kind, &predict)
                .map_err(|e| Error::Table { path: path.clone(), reason: e.describe() })?;
            fig.large_ms = Some(t.elapsed().as_secs_f64() * 1000.0);
            fig.large_peak_mib = peak_mib();
        }
        out.push(fig);
    }
    Ok(out)
}

/// Adds one photo's outcome to the figures.
pub fn tally(fig: &mut ModeFigures, truth: &[TruthFace], named: &NamedPhoto, gallery: &Gallery) {
    let kept: Vec<(BBox, Naming)> = named.faces.iter().filter_map(|(f, n)| n.map(|n| (f.detection.bbox, n))).collect();
    let boxes: Vec<BBox> = kept.iter().map(|(b, _)| *b).collect();
    let matched = match_faces(truth, &boxes);
    fig.false_detections += boxes.len() - matched.iter().flatten().count();
    for (t, m) in truth.iter().zip(matched) {
        let w = (t.bbox[2] - t.bbox[0]).round() as u32;
        let Some(band) = fig.bands.iter_mut().find(|b| b.band.0 <= w && w < b.band.1) else { continue };
        band.faces += 1;
        let Some(d) = m else {
            fig.missed.push((t.identity.clone(), w));
            continue;
        };
        band.found += 1;
        let naming = kept[d].1;
        match (t.member, naming) {
            (_, Naming::TooSmall) => band.too_small += 1,
            (true, Naming::Person { index, .. }) if gallery.labels.get(index) == Some(&t.identity) => band.named += 1,
            (true, Naming::Person { .. }) => band.wrong += 1,
            (true, Naming::Unknown { .. }) => band.unknown += 1,
            (false, Naming::Person { .. }) => band.strangers_named += 1,
            (false, Naming::Unknown { .. }) => {}
        }
        if t.member {
            band.members += 1;
        } else {
            band.strangers += 1;
        }
    }
}

/// The figures as a Markdown table, the modes side by side.
pub fn table(figs: &[ModeFigures]) -> String {
    let mut out = String::from(
        "| face width | mode | found | members named correctly (of those named or unknown) | wrong names | members unknown | too small to name | strangers named |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (i, &(lo, hi)) in BANDS.iter().enumerate() {
        for f in figs {
            let b = &f.bands[i];
            let pct =
                |n: usize, d: usize| if d == 0 { "-".to_string() } else { format!("{:.1}% ({n} of {d})", 100.0 * n as f64 / d as f64) };
            out.push_str(&format!(
                "| {lo}-{} px | {} | {} | {} | {} | {} | {} | {} |\n",
                hi - 1,
                f.mode,
                pct(b.found, b.faces),
                pct(b.named, b.named + b.wrong + b.unknown),
                b.wrong,
                b.unknown,
                b.too_small,
                if b.strangers == 0 { "-".to_string() } else { format!("{} of {}", b.strangers_named, b.strangers) },
            ));
        }
    }
    out.push_str("\n| mode | ms per photo (median) | of which resize / detector / recognizer (mean) | peak MiB | false detections | 48 MP photo ms | 48 MP photo peak MiB |\n|---|---|---|---|---|---|---|\n");
    for f in figs {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        out.push_str(&format!(
            "| {} | {:.0} | {:.0} / {:.0} / {:.0} | {:.0} | {} | {} | {} |\n",
            f.mode,
            f.ms_per_photo,
            f.prepare_ms,
            f.detector_ms,
            f.recognizer_ms,
            f.peak_mib,
            f.false_detections,
            opt(f.large_ms),
            opt(f.large_peak_mib)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faces_match_by_best_overlap_once() {
        let t = |x: f32| TruthFace { bbox: [x, 0.0, x + 50.0, 50.0], identity: "a".into(), member: true };
        let b = |x: f32| BBox { x1: x, y1: 0.0, x2: x + 50.0, y2: 50.0 };
        let truth = [t(0.0), t(30.0), t(500.0)];
        let found = [b(2.0), b(28.0)];
        assert_eq!(match_faces(&truth, &found), vec![Some(0), Some(1), None]);
    }

    #[test]
    fn composed_faces_land_where_the_truth_says() {
        let mut crop = RgbImage::from_pixel(100, 100, Rgb([10, 10, 10]));
        for y in 30..70 {
            for x in 30..70 {
                crop.put_pixel(x, y, Rgb([250, 250, 250]));
            }
        }
        let src = Source { identity: "a".into(), path: "a.jpg".into(), crop, face: BBox { x1: 30.0, y1: 30.0, x2: 70.0, y2: 70.0 } };
        let mut photo = RgbImage::from_pixel(400, 300, Rgb([100, 100, 100]));
        let b = paste(&mut photo, &src, 80.0, 200.0, 150.0);
        assert!((b.width() - 80.0).abs() < 1e-3 && (b.center()[0] - 200.0).abs() < 1e-3 && (b.center()[1] - 150.0).abs() < 1e-3);
        // The face's centre is the face's colour; far outside the oval, the photo's.
        assert!(photo.get_pixel(200, 150)[0] > 240);
        assert_eq!(photo.get_pixel(10, 10)[0], 100);
    }
}
