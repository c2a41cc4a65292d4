//! Stage 1, detect and align: photos in, face chips out.
//!
//! Reads: every photo under the input folder (JPEG, PNG, WEBP, BMP, by
//! content; EXIF orientation applied). Writes into the work directory:
//! `aligned/aligned_<photo>_<i>.png` (112 x 112 chips aligned onto the
//! ArcFace template), `annotated/<photo>.jpg` (every detection drawn),
//! `metadata.csv` (one row per kept face) and `detections.json` (every photo,
//! every detection, every verdict, every skipped file with its reason).
//!
//! Photos are processed in parallel by the [`Runner`], one engine per
//! worker, so that decoding one photo overlaps inference on another. A photo
//! that cannot be read, or whose outputs cannot be written, is skipped with
//! the reason and the run goes on.
//!
//! Re-runs do only what is new: `cache.bin` (see [`crate::artifacts::cache`])
//! keeps each photo's results by content hash, so an unchanged photo whose
//! chips and annotated copy are still there is neither decoded nor detected,
//! and one whose recognizer changed is only embedded again from its chips.
//! Chips and annotated copies no record names (photos that are gone) are
//! removed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rollcall_files::shown::{escape_controls, shown};
use rollcall_models::decode::Limits;
use rollcall_models::runtime::{InferenceClock, Threads};
use rollcall_models::{FaceEngine, FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;

use crate::artifacts::cache::{Cache, DetectionKey, Entry, Refused};
use crate::artifacts::chips;
use crate::artifacts::detections::{DetectSummary, DetectionsFile, FaceRecord, PhotoRecord};
use crate::artifacts::io::{remove_files_except, save_image, save_jpeg};
use crate::artifacts::metadata;
use crate::artifacts::names::{annotated_name, chip_name, unique_keys};
use crate::artifacts::{Work, WorkDir};
use crate::error::{Error, Result};
use crate::render::annotate;
use crate::runner::{Outcome, Runner, SkipReason, photo_cost};

/// Settings of the detect stage.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Which detections are faces.
    pub filter: FaceFilter,
    /// Worker threads (each with its own engine).
    pub jobs: usize,
    /// Write annotated copies of the photos.
    pub annotate: bool,
    /// Long side of annotated copies, in pixels.
    pub annotate_max_side: u32,
    /// Also embed every kept face (the `run` command), saving a second pass.
    pub embed: bool,
    /// Write chips, annotated photos and the stage's files (off only in
    /// benchmarks).
    pub write_images: bool,
    /// ONNX Runtime threads per session.
    pub threads: Threads,
    /// Record when each network ran (benchmarks).
    pub record_spans: bool,
    /// How large a photo may be.
    pub limits: Limits,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            filter: FaceFilter::default(),
            jobs: rollcall_models::runtime::default_workers(),
            annotate: true,
            annotate_max_side: 1600,
            embed: false,
            write_images: true,
            threads: Threads::default(),
            record_spans: false,
            limits: Limits::default(),
        }
    }
}

/// Wall time spent per step, summed over workers.
#[derive(Debug, Clone, Default)]
pub struct StepTimes {
    /// Reading and decoding photos.
    pub decode: Duration,
    /// Scaling and normalising for the detector.
    pub prepare: Duration,
    /// Inside the detector network.
    pub detector: InferenceClock,
    /// Inside the recognizer network.
    pub recognizer: InferenceClock,
    /// Drawing, scaling and encoding annotated copies.
    pub annotate: Duration,
    /// Everything else in the per-photo work: decoding outputs, NMS,
    /// alignment warps, writing chips.
    pub other: Duration,
    /// When each network ran, if recorded.
    pub spans: Vec<(Instant, Instant)>,
}

impl StepTimes {
    fn add(&mut self, o: &StepTimes) {
        self.decode += o.decode;
        self.prepare += o.prepare;
        self.detector.add(&o.detector);
        self.recognizer.add(&o.recognizer);
        self.annotate += o.annotate;
        self.other += o.other;
        self.spans.extend_from_slice(&o.spans);
    }

    /// Time inside the networks.
    pub fn inference(&self) -> Duration {
        self.detector.total + self.recognizer.total
    }
}

/// What a detect run produced.
#[derive(Debug)]
pub struct DetectOutcome {
    /// `detections.json`'s content.
    pub file: DetectionsFile,
    /// `(chip file, embedding)` for every kept face, when embedding was asked.
    pub embeddings: Vec<(String, Vec<f32>)>,
    /// Per-step times, summed over workers.
    pub times: StepTimes,
    /// Wall time of the whole stage.
    pub wall: Duration,
    pub jobs: usize,
    /// Photos whose earlier results were reused whole (see
    /// [`crate::artifacts::cache`]).
    pub reused: usize,
    /// Photos whose chips were reused and embedded again.
    pub re_embedded: usize,
    /// Photos detected from scratch.
    pub detected: usize,
}

struct PhotoResult {
    record: PhotoRecord,
    /// One embedding per kept face, in `face_index` order, when known.
    vectors: Option<Vec<Vec<f32>>>,
    times: StepTimes,
}

impl PhotoResult {
    /// A cached photo, found again at `photo`.
    fn from_entry(entry: &Entry, photo: &Path) -> PhotoResult {
        let mut record = entry.record.clone();
        record.path = photo.display().to_string();
        PhotoResult { record, vectors: entry.embeddings.clone(), times: StepTimes::default() }
    }

    /// What the cache keeps of this photo.
    fn entry(&self, opts: &DetectOptions) -> Entry {
        Entry {
            record: self.record.clone(),
            annotated_side: self.record.annotated_file.as_ref().map(|_| opts.annotate_max_side),
            embeddings: self.vectors.clone(),
        }
    }

    /// `(chip file, embedding)` for each kept face.
    fn named_embeddings(&self) -> impl Iterator<Item = (String, Vec<f32>)> + '_ {
        let names = self.record.faces.iter().filter_map(|f| f.aligned_file.clone());
        names.zip(self.vectors.iter().flatten().cloned())
    }
}

/// What to do with one photo, given what the cache holds for it.
enum Plan<'c> {
    /// Its detections, chips, annotated copy and (if asked) embeddings are
    /// all still there.
    Reuse(&'c Entry),
    /// Its detections and chips are there; its embeddings are not (another
    /// recognizer, or the last run did not embed).
    Embed(&'c Entry),
    /// Nothing usable.
    Detect,
}

fn plan<'c>(entry: Option<&'c Entry>, work: &Work, opts: &DetectOptions) -> Plan<'c> {
    let Some(entry) = entry else { return Plan::Detect };
    let chips_there = entry.record.faces.iter().filter_map(|f| f.aligned_file.as_ref()).all(|f| work.aligned().join(f).is_file());
    let annotated_there = !opts.annotate
        || entry.annotated_side == Some(opts.annotate_max_side)
            && entry.record.annotated_file.as_ref().is_some_and(|f| work.annotated().join(f).is_file());
    if entry.record.error.is_some() || !chips_there || !annotated_there {
        Plan::Detect
    } else if opts.embed && entry.embeddings.is_none() && entry.record.faces.iter().any(|f| f.aligned_file.is_some()) {
        Plan::Embed(entry)
    } else {
        Plan::Reuse(entry)
    }
}

/// The cache key of a photo: its content and its key (which names its
/// chips, and can change when another photo of the same name arrives).
fn entry_key(sha256: &str, key: &str) -> String {
    format!("{sha256}:{key}")
}

/// The work directory's cache, fitted to these settings; `None` (after a
/// warning, unless there simply was none) if it cannot be used.
fn load_cache(work: &Work, detection: &DetectionKey, recognizer: &str) -> Option<Cache> {
    let path = work.cache_bin();
    match Cache::read(&path) {
        Ok(cache) => Some(cache.for_settings(detection, recognizer)),
        Err(Refused::Missing) => None,
        Err(why) => {
            tracing::warn!("cache {}: {why}", shown(&path));
            None
        }
    }
}

/// Embeds a cached photo's chips again.
fn embed_chips(engine: &mut dyn FaceEngine, entry: &Entry, photo: &Path, work: &Work) -> Result<PhotoResult, SkipReason> {
    let mut result = PhotoResult::from_entry(entry, photo);
    let before = engine.times();
    let mut vectors = Vec::new();
    for name in result.record.faces.iter().filter_map(|f| f.aligned_file.as_ref()) {
        let chip = chips::read(&work.aligned().join(name), engine.chip_size())?;
        vectors.push(engine.embed(&chip)?);
    }
    result.vectors = Some(vectors);
    result.times.recognizer = engine.times().recognizer.since(&before.recognizer);
    Ok(result)
}

/// Removes chips and annotated copies that no record names: those of photos
/// that are gone, or that had more faces last time. Both folders are
/// rollcall's own (inside a claimed work directory), so nothing the user
/// made is touched.
fn remove_leftovers(work: &Work, records: &[PhotoRecord]) -> Result<()> {
    let chips: HashSet<&str> = records.iter().flat_map(|r| r.faces.iter().filter_map(|f| f.aligned_file.as_deref())).collect();
    let annotated: HashSet<&str> = records.iter().filter_map(|r| r.annotated_file.as_deref()).collect();
    remove_files_except(&work.aligned(), &chips)?;
    remove_files_except(&work.annotated(), &annotated)
}

/// Runs detection (and alignment, and optionally embedding) over every photo
/// under `input`, writing the stage's files into `work`. The work directory
/// and every other folder rollcall owns are left out of the listing; what the
/// listing could not read is recorded as skipped, with the reason.
pub fn detect(input: &Path, work: &WorkDir, models: &dyn Models, opts: &DetectOptions) -> Result<DetectOutcome> {
    let listing = rollcall_files::photos::list(input, &[work.root().to_path_buf()])?;
    if listing.photos.is_empty() && listing.problems.is_empty() {
        return Err(Error::NoPhotos { path: input.to_path_buf() });
    }
    let unlisted = listing.problems.iter().map(|(p, why)| (p.clone(), rollcall_models::error::describe(why))).collect();
    detect_listed(input, &listing.photos, unlisted, work, models, opts)
}

/// [`detect`] over a given list of photos under `input` (which names them
/// in output files).
pub fn detect_photos(input: &Path, photos: &[PathBuf], work: &WorkDir, models: &dyn Models, opts: &DetectOptions) -> Result<DetectOutcome> {
    detect_listed(input, photos, Vec::new(), work, models, opts)
}

fn detect_listed(
    input: &Path,
    photos: &[PathBuf],
    unlisted: Vec<(PathBuf, String)>,
    work: &WorkDir,
    models: &dyn Models,
    opts: &DetectOptions,
) -> Result<DetectOutcome> {
    let started = Instant::now();
    if opts.write_images {
        for dir in [work.aligned(), work.annotated()] {
            rollcall_files::create_dir_private(&dir).map_err(Error::write(&dir))?;
        }
    }
    let keys = unique_keys(input, photos);
    let card = models.card();
    let detection_key = detection_key(models, opts);
    let old = if opts.write_images { load_cache(work, &detection_key, &card.recognizer.sha256) } else { None };
    // Content hashes key the cache; they are taken on every run that writes
    // one, so that the next run can reuse this one.
    let hashes: Vec<Option<String>> = if opts.write_images {
        crate::runner::each_largest_first(opts.jobs, photos, "hash", |p| photo_cost(p), |p| Ok(rollcall_files::sha256_file(p).ok()))?
    } else {
        vec![None; photos.len()]
    };
    let plans: Vec<Plan> = keys
        .iter()
        .zip(&hashes)
        .map(|(key, hash)| {
            let entry = old.as_ref().zip(hash.as_ref()).and_then(|(c, h)| c.entries.get(&entry_key(h, key)));
            plan(entry, work, opts)
        })
        .collect();
    let runner = Runner::new(models, opts.jobs).threads(opts.threads).record_spans(opts.record_spans);
    let results = carry_out(&runner, &plans, photos, &keys, work, opts)?;
    let reused = plans.iter().filter(|p| matches!(p, Plan::Reuse(_))).count();
    let re_embedded = plans.iter().filter(|p| matches!(p, Plan::Embed(_))).count();

    let mut cache = Cache::new(detection_key, card.recognizer.sha256.clone());
    let Gathered { mut records, embeddings, times } = gather(photos, &keys, &hashes, results, &mut cache, opts);
    if opts.write_images {
        remove_leftovers(work, &records)?;
        cache.write(&work.cache_bin())?;
    }
    records.extend(unlisted.into_iter().map(|(p, why)| skipped_record(&p, "", why)));
    records.sort_by(|a, b| a.path.cmp(&b.path));

    let file = DetectionsFile {
        input: input.display().to_string(),
        detector: card.detector.clone(),
        recognizer: card.recognizer.clone(),
        min_confidence: opts.filter.min_confidence,
        min_size: opts.filter.min_size,
        summary: DetectSummary::of(&records),
        photos: records,
    };
    if opts.write_images {
        metadata::write(&work.metadata_csv(), &file.photos)?;
        file.write(&work.detections_json())?;
    }
    Ok(DetectOutcome {
        file,
        embeddings,
        times,
        wall: started.elapsed(),
        jobs: runner.jobs(),
        reused,
        re_embedded,
        detected: plans.len() - reused - re_embedded,
    })
}

/// What a photo's earlier results can be reused for (see
/// `artifacts::cache`): everything, the detection only, or nothing.
fn detection_key(models: &dyn Models, opts: &DetectOptions) -> DetectionKey {
    DetectionKey {
        detector: models.card().detector.sha256.clone(),
        min_confidence: opts.filter.min_confidence,
        min_size: opts.filter.min_size,
        report_confidence: opts.filter.report_confidence,
        max_pixels: opts.limits.max_pixels,
        max_file_bytes: opts.limits.max_file_bytes,
        detector_scale: models.detector_scale().name().to_string(),
    }
}

/// Each photo's result by its plan: taken from the cache, or worked out on
/// the runner (embedding cached chips, or detecting from scratch). With
/// nothing to detect or embed, no engine is even loaded.
fn carry_out(
    runner: &Runner<'_>,
    plans: &[Plan<'_>],
    photos: &[PathBuf],
    keys: &[String],
    work: &WorkDir,
    opts: &DetectOptions,
) -> Result<Vec<Option<Result<PhotoResult, SkipReason>>>> {
    let mut results: Vec<Option<Result<PhotoResult, SkipReason>>> = plans
        .iter()
        .zip(photos)
        .map(|(plan, photo)| match plan {
            Plan::Reuse(entry) => Some(Ok(PhotoResult::from_entry(entry, photo))),
            _ => None,
        })
        .collect();
    let todo: Vec<(usize, &PathBuf, &String)> =
        plans.iter().enumerate().filter(|(_, p)| !matches!(p, Plan::Reuse(_))).map(|(i, _)| (i, &photos[i], &keys[i])).collect();
    if !todo.is_empty() {
        // Photos to detect go first, largest first; cached chips to embed
        // are quick and fill the end.
        let cost = |&(i, photo, _): &(usize, &PathBuf, &String)| if matches!(plans[i], Plan::Embed(_)) { 0 } else { photo_cost(photo) };
        let outcomes = runner.run_largest_first(&todo, "detect", cost, |engine, &(i, photo, key)| match plans[i] {
            Plan::Embed(entry) => embed_chips(engine, entry, photo, work),
            _ => process_photo(engine, photo, key, work, opts),
        })?;
        for (&(i, _, _), outcome) in todo.iter().zip(outcomes) {
            results[i] = Some(match outcome {
                Outcome::Done(r) => Ok(r),
                Outcome::Skipped(why) => Err(why),
            });
        }
    }
    Ok(results)
}

/// The photos' records, embeddings and step times, in photo order.
struct Gathered {
    records: Vec<PhotoRecord>,
    embeddings: Vec<(String, Vec<f32>)>,
    times: StepTimes,
}

/// Gathers the results, entering each photo with a content hash in `cache`.
fn gather(
    photos: &[PathBuf],
    keys: &[String],
    hashes: &[Option<String>],
    results: Vec<Option<Result<PhotoResult, SkipReason>>>,
    cache: &mut Cache,
    opts: &DetectOptions,
) -> Gathered {
    let mut out = Gathered { records: Vec::with_capacity(photos.len()), embeddings: Vec::new(), times: StepTimes::default() };
    for (((photo, key), hash), result) in photos.iter().zip(keys).zip(hashes).zip(results) {
        // Every item is either reused or was given to the runner, which
        // returns one outcome per item.
        let Some(result) = result else { continue };
        match result {
            Ok(r) => {
                if opts.embed {
                    out.embeddings.extend(r.named_embeddings());
                }
                out.times.add(&r.times);
                if let Some(h) = hash {
                    cache.entries.insert(entry_key(h, key), r.entry(opts));
                }
                out.records.push(r.record);
            }
            Err(why) => out.records.push(skipped_record(photo, key, why.describe())),
        }
    }
    out
}

fn skipped_record(photo: &Path, key: &str, why: String) -> PhotoRecord {
    tracing::warn!("skipping {}: {}", shown(photo), escape_controls(&why));
    PhotoRecord {
        path: photo.to_string_lossy().into_owned(),
        key: key.to_string(),
        width: 0,
        height: 0,
        error: Some(why),
        annotated_file: None,
        faces: Vec::new(),
        scan: Vec::new(),
    }
}

/// One photo; if any of its outputs cannot be written, the ones already
/// written are removed, so that a skipped photo leaves nothing behind.
fn process_photo(
    engine: &mut dyn FaceEngine,
    photo: &Path,
    key: &str,
    work: &Work,
    opts: &DetectOptions,
) -> Result<PhotoResult, SkipReason> {
    let mut written = Vec::new();
    let result = process_photo_into(engine, photo, key, work, opts, &mut written);
    if result.is_err() {
        for p in written {
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

fn process_photo_into(
    engine: &mut dyn FaceEngine,
    photo: &Path,
    key: &str,
    work: &Work,
    opts: &DetectOptions,
    written: &mut Vec<PathBuf>,
) -> Result<PhotoResult, SkipReason> {
    let mut times = StepTimes::default();
    let t = Instant::now();
    // The photo's share of the decoding budget, its scan's included, is held
    // until it is done.
    let min_face = opts.filter.min_size;
    let decoded = rollcall_models::decode::load_rgb_budgeted(photo, &opts.limits, |w, h| engine.scan_bytes(w, h, min_face))?;
    let image = &decoded.image;
    times.decode = t.elapsed();
    let mut record = PhotoRecord {
        path: photo.display().to_string(),
        key: key.to_string(),
        width: image.width(),
        height: image.height(),
        error: None,
        annotated_file: None,
        faces: Vec::new(),
        scan: Vec::new(),
    };
    let view = RgbView { data: image.as_raw(), width: image.width(), height: image.height() };

    let before = engine.times();
    let t = Instant::now();
    let (faces, scan) = engine.faces_scanned(view, &opts.filter)?;
    record.scan = scan;
    let mut embeddings = Vec::new();
    let mut labels = Vec::new();
    for face in &faces {
        let d = &face.detection;
        let mut fr = FaceRecord {
            bbox: [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2],
            confidence: d.score,
            landmarks: d.landmarks,
            verdict: face.verdict,
            face_index: None,
            aligned_file: None,
        };
        if let (Verdict::Kept, Some(chip)) = (face.verdict, &face.chip) {
            let i = labels.len();
            let name = chip_name(key, i);
            if opts.write_images {
                let path = work.aligned().join(&name);
                save_chip(&path, chip, engine.chip_size())?;
                written.push(path);
            }
            if opts.embed {
                embeddings.push(engine.embed(chip)?);
            }
            fr.face_index = Some(i);
            fr.aligned_file = Some(name);
            labels.push(i.to_string());
        }
        record.faces.push(fr);
    }
    let annotating = Instant::now();
    if opts.write_images && opts.annotate {
        let marks = annotate::face_marks(&faces, &labels);
        let drawn = annotate::annotate(image, &marks, opts.annotate_max_side);
        let name = annotated_name(key);
        let path = work.annotated().join(&name);
        save_jpeg(&path, &drawn)?;
        written.push(path);
        record.annotated_file = Some(name);
    }
    times.annotate = annotating.elapsed();
    let after = engine.times();
    times.prepare = after.prepare.saturating_sub(before.prepare);
    times.detector = after.detector.since(&before.detector);
    times.recognizer = after.recognizer.since(&before.recognizer);
    times.spans = engine.take_spans();
    times.other = t.elapsed().saturating_sub(times.inference() + times.prepare + times.annotate);
    Ok(PhotoResult { record, vectors: opts.embed.then_some(embeddings), times })
}

/// Saves a chip as PNG (lossless, so a later `embed` sees the same pixels).
fn save_chip(path: &Path, chip: &[u8], size: u32) -> Result<()> {
    let img = image::RgbImage::from_raw(size, size, chip.to_vec())
        .ok_or_else(|| Error::Table { path: path.to_path_buf(), reason: "chip buffer has the wrong size".into() })?;
    save_image(path, &img)
}
