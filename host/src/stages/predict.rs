//! Stage 8, predict: name the faces in new photos with a gallery.
//!
//! Reads: photos and a gallery. Writes: one row per kept face (see
//! [`crate::artifacts::predictions`]), and optionally annotated copies with
//! the names. Detection, alignment and embedding are the face engine's, the
//! same code training used; classification is the gallery's own code in
//! `shared`, the same the device runs.

use std::path::{Path, PathBuf};

use rollcall_files::owned::{self, Kind};
use rollcall_files::photos::Listing;
use rollcall_files::shown::{escape_controls, shown};
use rollcall_models::decode::{Decoded, Limits};
use rollcall_models::{Face, FaceEngine, FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::{ClassifierKind, Gallery};

use crate::artifacts::Skipped;
use crate::artifacts::io::save_image;
use crate::artifacts::names::{annotated_name, unique_keys};
use crate::artifacts::predictions::{PredictionRow, TOO_SMALL_TO_NAME, UNKNOWN};
use crate::artifacts::skips::skipped;
use crate::error::{Error, Result};
use crate::render::annotate;
use crate::runner::{Outcome, Runner, SkipReason, photo_cost};

/// Long side of annotated copies with names: large enough that a name over
/// a 60 px face in a 4000 px class photo stays readable on a phone.
pub const ANNOTATED_SIDE: u32 = 2400;

/// Settings of a prediction run.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// Classifier (default: the gallery's).
    pub classifier: Option<ClassifierKind>,
    /// Which detections count as faces.
    pub filter: FaceFilter,
    /// Faces narrower or shorter than this (photo pixels) are found but not
    /// named: [`Naming::TooSmall`]. `None`: half the recognizer's chip side
    /// (see [`default_min_name_size`]).
    pub min_name_size: Option<f32>,
    /// Where to write annotated copies, if anywhere: a folder rollcall
    /// makes (or made earlier for this), never one holding other files.
    pub annotate: Option<PathBuf>,
    /// How large a photo may be.
    pub limits: Limits,
    pub jobs: usize,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            classifier: None,
            filter: FaceFilter::default(),
            min_name_size: None,
            annotate: None,
            limits: Limits::default(),
            jobs: rollcall_models::runtime::default_workers(),
        }
    }
}

/// The smallest face named by default: half the recognizer's chip side
/// (56 px for SFace's 112 px chips). A smaller face is upscaled more than
/// twice to fill the chip, and what the recognizer sees is then mostly
/// interpolation: its embedding drifts toward the faces of everyone else
/// (see docs/class-photos.md for naming accuracy by face size).
pub fn default_min_name_size(chip_size: u32) -> f32 {
    chip_size as f32 / 2.0
}

/// How a kept face was named.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Naming {
    /// A person of the gallery (an index into its labels), with the
    /// face's similarity to them ([`rollcall_shared::classify::Prediction::similarity`]).
    Person { index: usize, score: f32 },
    /// Nobody the gallery knows; the similarity to the person the
    /// classifier found closest.
    Unknown { score: f32 },
    /// Found, but too small for the recognizer to name reliably.
    TooSmall,
}

impl Naming {
    /// The label a CSV shows.
    pub fn label(&self, gallery: &Gallery) -> String {
        match self {
            Naming::Person { index, .. } => gallery.labels.get(*index).cloned().unwrap_or_else(|| UNKNOWN.to_string()),
            Naming::Unknown { .. } => UNKNOWN.to_string(),
            Naming::TooSmall => TOO_SMALL_TO_NAME.to_string(),
        }
    }

    /// The score, if the face was classified.
    pub fn score(&self) -> Option<f32> {
        match self {
            Naming::Person { score, .. } | Naming::Unknown { score } => Some(*score),
            Naming::TooSmall => None,
        }
    }
}

/// Whether `face` is large enough to name.
fn nameable(face: &Face, min_name_size: f32) -> bool {
    let b = face.detection.bbox;
    b.width().min(b.height()) >= min_name_size
}

/// Names the kept faces of one photo (`None` for the others): faces
/// smaller than `min_name_size` are [`Naming::TooSmall`]; the rest, given
/// their embeddings, are classified together, one person at most once
/// ([`Gallery::predict_jointly`]).
pub fn name_faces(gallery: &Gallery, kind: ClassifierKind, faces: &[(Face, Option<Vec<f32>>)], min_name_size: f32) -> Vec<Option<Naming>> {
    let to_name: Vec<(usize, &[f32])> = faces
        .iter()
        .enumerate()
        .filter(|(_, (f, _))| f.verdict == Verdict::Kept && nameable(f, min_name_size))
        .filter_map(|(i, (_, e))| e.as_deref().map(|e| (i, e)))
        .collect();
    let vectors: Vec<&[f32]> = to_name.iter().map(|(_, e)| *e).collect();
    let mut out: Vec<Option<Naming>> = faces
        .iter()
        .map(|(f, _)| (f.verdict == Verdict::Kept && f.chip.is_some() && !nameable(f, min_name_size)).then_some(Naming::TooSmall))
        .collect();
    for ((i, _), p) in to_name.iter().zip(gallery.predict_jointly(kind, &vectors)) {
        out[*i] = Some(match p.person() {
            Some(index) => Naming::Person { index, score: p.similarity },
            None => Naming::Unknown { score: p.similarity },
        });
    }
    out
}

/// One photo's faces with their names, and the annotated copy's marks.
#[derive(Debug, Clone)]
pub struct NamedPhoto {
    /// Every detection (kept or not) and, for kept ones, how it was named.
    pub faces: Vec<(Face, Option<Naming>)>,
}

impl NamedPhoto {
    /// Detects, embeds and names the faces of `photo`.
    pub fn of(
        engine: &mut dyn FaceEngine,
        photo: &Path,
        gallery: &Gallery,
        kind: ClassifierKind,
        opts: &PredictOptions,
    ) -> Result<(Self, Decoded<'static>), SkipReason> {
        // The photo keeps its share of the decoding budget until the caller
        // has drawn its copy and let it go: dropping the share here let every
        // worker decode its next photo while still holding this one.
        let min_face = opts.filter.min_size;
        let decoded = rollcall_models::decode::load_rgb_budgeted(photo, &opts.limits, |w, h| engine.scan_bytes(w, h, min_face))?;
        let img = &decoded.image;
        let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
        let faces = engine.faces(view, &opts.filter)?;
        let min_name = opts.min_name_size.unwrap_or_else(|| default_min_name_size(engine.chip_size()));
        // Only the faces that will be named are embedded, in one batch.
        let chips: Vec<(usize, &[u8])> = faces
            .iter()
            .enumerate()
            .filter(|(_, f)| f.verdict == Verdict::Kept && nameable(f, min_name))
            .filter_map(|(i, f)| f.chip.as_deref().map(|c| (i, c)))
            .collect();
        // Batches of eight: a class photo's thirty chips in one run would
        // hold thirty chips' activations at once for little gain.
        let mut vectors = Vec::with_capacity(chips.len());
        for batch in chips.chunks(8) {
            vectors.extend(engine.embed_batch(&batch.iter().map(|(_, c)| *c).collect::<Vec<_>>())?);
        }
        let mut embeddings: Vec<Option<Vec<f32>>> = vec![None; faces.len()];
        for ((i, _), v) in chips.iter().zip(vectors) {
            embeddings[*i] = Some(v);
        }
        let faces: Vec<(Face, Option<Vec<f32>>)> = faces.into_iter().zip(embeddings).collect();
        let names = name_faces(gallery, kind, &faces, min_name);
        Ok((NamedPhoto { faces: faces.into_iter().map(|(f, _)| f).zip(names).collect() }, decoded))
    }

    /// How each kept face was named, in `face_index` order.
    pub fn namings(&self) -> impl Iterator<Item = Naming> + '_ {
        self.faces.iter().filter_map(|(_, n)| *n)
    }

    /// One prediction row per kept face of `photo`.
    pub fn rows(&self, photo: &Path, gallery: &Gallery) -> Vec<PredictionRow> {
        self.faces
            .iter()
            .filter_map(|(f, n)| n.map(|n| (f, n)))
            .enumerate()
            .map(|(face_index, (face, naming))| {
                let b = face.detection.bbox;
                PredictionRow {
                    image: photo.display().to_string(),
                    face_index,
                    x1: b.x1,
                    y1: b.y1,
                    x2: b.x2,
                    y2: b.y2,
                    label: naming.label(gallery),
                    score: naming.score(),
                }
            })
            .collect()
    }

    /// Marks with names: each kept face's label (and score) on its box.
    pub fn marks(&self, gallery: &Gallery) -> Vec<annotate::Mark> {
        annotate::named_marks(self.faces.iter().map(|(f, n)| (f, n.map(|n| (n.label(gallery), n.score())))))
    }
}

/// Refuses a gallery made with other models than `models`, or whose
/// embeddings have another length than the recognizer's.
pub fn check_models(gallery: &Gallery, models: &dyn Models, path: &Path) -> Result<()> {
    let card = models.card();
    gallery
        .check_models(&card.detector.digest(), &card.recognizer.digest())
        .and_then(|_| gallery.check_dimension(card.dim))
        .map_err(|source| Error::Gallery { path: path.to_path_buf(), source })
}

/// What a prediction run found.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// One row per kept face, photos in path order.
    pub rows: Vec<PredictionRow>,
    /// Photos that could not be used.
    pub skipped: Vec<Skipped>,
}

/// Names every face in every photo under `photos`. Unreadable photos are
/// skipped with the reason.
pub fn predict(photos: &[PathBuf], gallery: &Gallery, models: &dyn Models, opts: &PredictOptions) -> Result<Predictions> {
    for p in photos {
        rollcall_files::photos::check_exists(p)?;
    }
    if let Some(dir) = &opts.annotate {
        owned::claim(dir, Kind::Annotated)?;
    }
    let listing = listed(photos, &opts.annotate.iter().cloned().collect::<Vec<_>>())?;
    let list = listing.photos;
    let keys = unique_keys(&key_root(photos, &list), &list);
    let items: Vec<(&PathBuf, &String)> = list.iter().zip(&keys).collect();
    let kind = opts.classifier.unwrap_or(gallery.default_classifier);
    let outcomes = Runner::new(models, opts.jobs).run_largest_first(
        &items,
        "predict",
        |(photo, _)| photo_cost(photo),
        |engine, (photo, key)| {
            let (named, decoded) = NamedPhoto::of(engine, photo, gallery, kind, opts)?;
            let rows = named.rows(photo, gallery);
            if let Some(dir) = &opts.annotate {
                save_image(
                    &dir.join(annotated_name(key)),
                    &annotate::annotate_named(&decoded.image, &named.marks(gallery), ANNOTATED_SIDE),
                )?;
            }
            Ok(rows)
        },
    )?;
    let mut out = Predictions::default();
    for (photo, outcome) in list.iter().zip(outcomes) {
        match outcome {
            Outcome::Done(v) => out.rows.extend(v),
            Outcome::Skipped(why) => out.skipped.push(skipped(photo, &why)),
        }
    }
    for (path, why) in &listing.problems {
        out.skipped.push(Skipped { path: path.clone(), reason: rollcall_models::error::describe(why) });
    }
    for s in &out.skipped {
        tracing::warn!("skipping {}: {}", shown(&s.path), escape_controls(&s.reason));
    }
    Ok(out)
}

/// Every photo under `photos` (files or folders; the folders in `exclude`,
/// the command's own output, left out), once each, and the entries that
/// could not be listed.
pub(crate) fn listed(photos: &[PathBuf], exclude: &[PathBuf]) -> Result<Listing> {
    let mut all = Listing::default();
    for p in photos {
        let listing = rollcall_files::photos::list(p, exclude)?;
        all.photos.extend(listing.photos);
        all.problems.extend(listing.problems);
    }
    all.photos.sort();
    all.photos.dedup();
    if all.photos.is_empty() && all.problems.is_empty() {
        return Err(Error::NoPhotos { path: photos.first().cloned().unwrap_or_default() });
    }
    Ok(all)
}

/// The folder the photos' annotated copies are named from: the one folder
/// given, else the deepest folder holding every photo.
pub(crate) fn key_root(inputs: &[PathBuf], photos: &[PathBuf]) -> PathBuf {
    match inputs {
        [one] if one.is_dir() => one.clone(),
        _ => common_root(photos),
    }
}

/// The deepest folder holding every photo, which names their annotated
/// copies (`class/mon.jpg` and `class/tue.jpg` become `mon.jpg`, `tue.jpg`).
pub(crate) fn common_root(photos: &[PathBuf]) -> PathBuf {
    let mut root = photos.first().and_then(|p| p.parent()).map(Path::to_path_buf).unwrap_or_default();
    for p in photos {
        while !p.starts_with(&root) {
            if !root.pop() {
                return PathBuf::new();
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_models::fake::{FakeModels, PaintedFace, paint_face, scene};
    use rollcall_models::runtime::Threads;

    /// `NamedPhoto::of` let go of the photo's share of the decoding budget
    /// as soon as it was decoded, so `predict` and `roll` held decoded
    /// photos (and drew their copies) outside the budget.
    #[test]
    fn regression_named_photo_let_go_of_its_budget_share() {
        let dir = tempfile::tempdir().expect("temp dir");
        let photo = dir.path().join("class.png");
        let mut img = scene(160, 120, 3, &[]);
        paint_face(&mut img, &PaintedFace::new(20, 20, 48, 101, 1));
        img.save(&photo).expect("photo written");
        let gallery = rollcall_shared::gallery::read_file(&rollcall_testkit::tiny_gallery()).expect("the tiny gallery");
        // A budget of a size no other test uses: budgets are per size and
        // per process, and tests run side by side.
        let limits = Limits { budget_bytes: (1 << 30) + 7, ..Limits::default() };
        let opts = PredictOptions { limits, jobs: 1, ..PredictOptions::default() };
        let mut engine = FakeModels::default().engine(Threads::default()).expect("fake engine");
        let (named, decoded) = NamedPhoto::of(engine.as_mut(), &photo, &gallery, gallery.default_classifier, &opts).expect("photo named");
        assert_eq!(named.faces.len(), 1);
        assert_eq!(limits.budget().used(), decoded.image.as_raw().len() as u64, "the photo's pixels are held");
        drop(decoded);
        assert_eq!(limits.budget().used(), 0);
    }
}
