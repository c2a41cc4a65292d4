//! The face engine: the one interface through which the host and the device
//! find, align and embed faces.
//!
//! A [`Models`] value is a chosen detector and recognizer; it says what they
//! are (a [`ModelCard`]: names, sha256, embedding size) and makes one
//! [`FaceEngine`] per worker thread. Two implementations exist: the ONNX
//! networks of the manifest ([`ModelSet`], [`OnnxEngine`]) and a
//! deterministic fake ([`crate::fake`]) that recognises painted synthetic
//! faces in microseconds, so that every stage and both programs can be tested
//! without model files, as probe-rs tests against its `FakeProbe`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rollcall_shared::align::RgbView;
use serde::{Deserialize, Serialize};

use crate::detection::Detection;
use crate::detector::{Detector, Scan};
use crate::error::Result;
use crate::faces::{Face, FaceFilter, filter_and_align};
use crate::manifest::{ModelSpec, Role};
use crate::recognizer::Recognizer;
use crate::runtime::{InferenceClock, Threads};
use crate::scan::{DetectorScale, PassRecord};
use crate::store::ModelStore;

/// A model file by name and content. On disk (`detections.json`) it is the
/// pair `[name, sha256]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(String, String)", into = "(String, String)")]
pub struct ModelRef {
    /// The manifest name.
    pub name: String,
    /// The file's sha256, lower-case hex.
    pub sha256: String,
}

impl From<(String, String)> for ModelRef {
    fn from((name, sha256): (String, String)) -> Self {
        ModelRef { name, sha256 }
    }
}

impl From<ModelRef> for (String, String) {
    fn from(m: ModelRef) -> Self {
        (m.name, m.sha256)
    }
}

impl ModelRef {
    /// The digest as bytes (what a gallery records); zeros if the hex is
    /// malformed, which no gallery can match.
    pub fn digest(&self) -> [u8; 32] {
        rollcall_shared::gallery::parse_sha256(&self.sha256).unwrap_or_default()
    }
}

/// What a set of models is: enough to label outputs and check galleries
/// without loading anything.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCard {
    /// The face detector.
    pub detector: ModelRef,
    /// The face recognizer.
    pub recognizer: ModelRef,
    /// Embedding dimension.
    pub dim: usize,
    /// Side of the square aligned chip the recognizer reads.
    pub chip_size: u32,
    /// The recognizer's published same-person cosine, if it has one.
    pub same_person_cosine: Option<f32>,
}

/// Time spent inside one engine, cumulative since it was made.
#[derive(Debug, Clone, Default)]
pub struct EngineTimes {
    /// Scaling and normalising photos for the detector.
    pub prepare: Duration,
    /// Inside the detector network.
    pub detector: InferenceClock,
    /// Inside the recognizer network.
    pub recognizer: InferenceClock,
}

/// One worker's detector and recognizer. Not shared between threads: each
/// worker makes its own with [`Models::engine`].
pub trait FaceEngine: Send {
    /// Every face scoring at least `min_score`, best first, in image pixels.
    fn detect(&mut self, image: RgbView<'_>, min_score: f32) -> Result<Vec<Detection>>;

    /// Every face of at least `min_face` pixels scoring at least
    /// `min_score`, best first, and how the photo was scanned for them
    /// (see [`crate::scan`]). The fake sees a photo whole, at its own size.
    fn scan(&mut self, image: RgbView<'_>, min_score: f32, min_face: f32) -> Result<Scan> {
        let _ = min_face;
        let detections = self.detect(image, min_score)?;
        let (w, h) = (image.width, image.height);
        Ok(Scan { detections, passes: vec![PassRecord { scale: 1.0, size: [w, h], tiles: vec![[0, 0, w, h]] }] })
    }

    /// Bytes a [`scan`](Self::scan) of a `width` x `height` photo holds at
    /// its peak beside the photo (tensors, the network's activations): a
    /// photo's share of the decoding budget covers them (see
    /// [`crate::decode`]). The fake holds nothing worth counting.
    fn scan_bytes(&self, width: u32, height: u32, min_face: f32) -> u64 {
        let _ = (width, height, min_face);
        0
    }

    /// Unit-length embeddings of aligned RGB8 chips, in order.
    fn embed_batch(&mut self, chips: &[&[u8]]) -> Result<Vec<Vec<f32>>>;

    /// Side of the square chip [`embed_batch`](Self::embed_batch) reads.
    fn chip_size(&self) -> u32;

    /// Cumulative time spent, for benchmarks.
    fn times(&self) -> EngineTimes {
        EngineTimes::default()
    }

    /// Starts recording when each network runs (benchmarks only: a
    /// long-running device must not grow a list forever).
    fn record_spans(&mut self) {}

    /// The spans recorded since the last call.
    fn take_spans(&mut self) -> Vec<(Instant, Instant)> {
        Vec::new()
    }

    /// Embeds one chip.
    fn embed(&mut self, chip: &[u8]) -> Result<Vec<f32>> {
        let mut out = self.embed_batch(&[chip])?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Detects, filters and aligns the faces in a photo. Candidates down to
    /// the filter's reporting floor come back too, marked as rejected.
    fn faces(&mut self, image: RgbView<'_>, filter: &FaceFilter) -> Result<Vec<Face>> {
        Ok(self.faces_scanned(image, filter)?.0)
    }

    /// [`faces`](Self::faces), and the passes that found them.
    fn faces_scanned(&mut self, image: RgbView<'_>, filter: &FaceFilter) -> Result<(Vec<Face>, Vec<PassRecord>)> {
        let floor = filter.report_confidence.min(filter.min_confidence);
        let scan = self.scan(image, floor, filter.min_size)?;
        Ok((filter_and_align(image, scan.detections, filter, self.chip_size()), scan.passes))
    }

    /// Faces and, for each kept one, its embedding.
    fn faces_with_embeddings(&mut self, image: RgbView<'_>, filter: &FaceFilter) -> Result<Vec<(Face, Option<Vec<f32>>)>> {
        let faces = self.faces(image, filter)?;
        let mut out = Vec::with_capacity(faces.len());
        for f in faces {
            let emb = match &f.chip {
                Some(chip) => Some(self.embed(chip)?),
                None => None,
            };
            out.push((f, emb));
        }
        Ok(out)
    }
}

/// A detector and recognizer that can make engines.
pub trait Models: Send + Sync + std::fmt::Debug {
    /// What the models are.
    fn card(&self) -> &ModelCard;

    /// A new engine for one worker.
    fn engine(&self, threads: Threads) -> Result<Box<dyn FaceEngine>>;

    /// The ONNX models behind this set, for the commands that rewrite the
    /// networks themselves (`quantize`); `None` for the fake.
    fn onnx(&self) -> Option<&ModelSet> {
        None
    }

    /// How large the detector sees photos (the fake: whole, as they are).
    fn detector_scale(&self) -> DetectorScale {
        DetectorScale::Fit
    }
}

/// The ONNX detector and recognizer chosen from the manifest, checked.
///
/// Their bytes are not kept: each session reads its model file again and
/// checks it against the digest the load found, so a run does not hold
/// SFace's 37 MB beside the sessions made from them, and a file changed
/// since the load is refused, not used.
#[derive(Debug, Clone)]
pub struct ModelSet {
    store: ModelStore,
    detector: ModelSpec,
    recognizer: ModelSpec,
    card: ModelCard,
    scale: DetectorScale,
    margin: f32,
}

/// Held while a session is made, so that sessions are made one at a time.
/// Making one holds far more than the session keeps: the model file's bytes,
/// the rewritten graph, and ONNX Runtime's copies while it optimises and
/// packs the weights (for SFace about 100 MiB beyond what its session then
/// keeps). The workers of a run all made theirs at once when they started,
/// and that moment was the peak of a whole run (docs/benchmarks.md).
static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// Sessions being made now, and the most made at once in this process.
static MAKING_NOW: AtomicUsize = AtomicUsize::new(0);
static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

/// [`MAKING`] held, and the count of sessions being made.
struct Making {
    _held: std::sync::MutexGuard<'static, ()>,
}

fn making() -> Making {
    let _held = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let now = MAKING_NOW.fetch_add(1, Ordering::SeqCst) + 1;
    MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
    Making { _held }
}

impl Drop for Making {
    fn drop(&mut self) {
        MAKING_NOW.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The most ONNX sessions this process has made at once (see [`MAKING`]):
/// 1 once any was made.
pub fn most_sessions_made_at_once() -> usize {
    MOST_AT_ONCE.load(Ordering::SeqCst)
}

impl ModelSet {
    /// Loads (fetching if needed) and checks the named models, or the
    /// manifest's defaults, and ONNX Runtime.
    ///
    /// ONNX Runtime's library, when it is in the cache, is checked and
    /// loaded on a second thread while the models are read and checked:
    /// each is tens of megabytes to hash, and every command that embeds a
    /// face waits for both before it starts (one after the other they took
    /// 150 ms of a 5 s `run`). A library still to fetch is fetched after
    /// the models, as before, so that a bad model is reported before any
    /// download.
    pub fn load(store: &ModelStore, detector: Option<&str>, recognizer: Option<&str>) -> Result<Self> {
        let load = |role, name| -> Result<(ModelSpec, String)> {
            let spec = store.manifest().select(role, name)?.clone();
            let (_, sha) = store.load_model_bytes(&spec)?;
            Ok((spec, sha))
        };
        let both = || load(Role::Detector, detector).and_then(|d| Ok((d, load(Role::Recognizer, recognizer)?)));
        let ((det, det_sha), (rec, rec_sha)) = if store.runtime_path().is_file() {
            let (models, runtime) = std::thread::scope(|s| {
                let runtime = s.spawn(|| crate::runtime::init(store));
                (both(), runtime.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            });
            // A model's error first, as when they were loaded one after the other.
            let models = models?;
            runtime?;
            models
        } else {
            let models = both()?;
            crate::runtime::init(store)?;
            models
        };
        let card = ModelCard {
            detector: ModelRef { name: det.name.clone(), sha256: det_sha },
            recognizer: ModelRef { name: rec.name.clone(), sha256: rec_sha },
            dim: rec.output.dim.unwrap_or(0),
            chip_size: rec.input.size[0],
            same_person_cosine: rec.output.same_person_cosine,
        };
        let set = ModelSet {
            store: store.clone(),
            detector: det,
            recognizer: rec,
            card,
            scale: DetectorScale::default(),
            margin: crate::scan::ANCHOR_MARGIN,
        };
        Ok(set)
    }

    /// The detector scales photos to fit a `side` x `side` box instead of
    /// the manifest's (RetinaFace's 640): a close-range door camera finds
    /// its faces at 320 in a quarter of the time, and misses small ones.
    /// Refused for a detector with a fixed input size.
    pub fn with_detector_size(mut self, side: u32) -> Result<Self> {
        let input = &mut self.detector.input;
        if !input.dynamic {
            return Err(crate::Error::BadInput(format!(
                "{} takes a fixed {}x{} input; its size cannot be changed",
                self.detector.name, input.size[0], input.size[1]
            )));
        }
        input.size = [side, side];
        self.scale = DetectorScale::Fit;
        Ok(self)
    }

    /// The fine pass's margin over the smallest anchor (see
    /// [`crate::scan::ANCHOR_MARGIN`]), for benchmarks that measure it.
    pub fn with_anchor_margin(mut self, margin: f32) -> Self {
        self.margin = margin;
        self
    }

    /// How large the detector sees photos: [`DetectorScale::Auto`] (the
    /// default) or fitted into its input box alone.
    pub fn with_detector_scale(mut self, scale: DetectorScale) -> Self {
        self.scale = scale;
        self
    }

    /// The store the models came from.
    pub fn store(&self) -> &ModelStore {
        &self.store
    }

    /// The detector's manifest entry.
    pub fn detector_spec(&self) -> &ModelSpec {
        &self.detector
    }

    /// The recognizer's manifest entry.
    pub fn recognizer_spec(&self) -> &ModelSpec {
        &self.recognizer
    }

    /// The detector file, read again and checked against the digest the
    /// load found (see [`ModelStore::reload_model_bytes`]).
    pub fn detector_bytes(&self) -> Result<Vec<u8>> {
        self.store.reload_model_bytes(&self.detector, &self.card.detector.sha256)
    }

    /// The recognizer file, read again and checked against the digest the
    /// load found.
    pub fn recognizer_bytes(&self) -> Result<Vec<u8>> {
        self.store.reload_model_bytes(&self.recognizer, &self.card.recognizer.sha256)
    }

    /// A new detector session (made one at a time: see [`MAKING`]).
    pub fn detector(&self, threads: Threads) -> Result<Detector> {
        let _one_at_a_time = making();
        Detector::new(&self.store, &self.detector, &self.detector_bytes()?, threads, self.scale, self.margin)
    }

    /// A new recognizer session (made one at a time: see [`MAKING`]).
    pub fn recognizer(&self, threads: Threads) -> Result<Recognizer> {
        let _one_at_a_time = making();
        Recognizer::new(&self.store, &self.recognizer, &self.recognizer_bytes()?, threads)
    }

    /// A detector and a recognizer for one worker.
    pub fn onnx_engine(&self, threads: Threads) -> Result<OnnxEngine> {
        Ok(OnnxEngine { detector: self.detector(threads)?, recognizer: self.recognizer(threads)?, prepare: Duration::ZERO })
    }
}

impl Models for ModelSet {
    fn card(&self) -> &ModelCard {
        &self.card
    }

    fn engine(&self, threads: Threads) -> Result<Box<dyn FaceEngine>> {
        Ok(Box::new(self.onnx_engine(threads)?))
    }

    fn onnx(&self) -> Option<&ModelSet> {
        Some(self)
    }

    fn detector_scale(&self) -> DetectorScale {
        self.scale
    }
}

/// One worker's ONNX Runtime sessions.
#[derive(Debug)]
pub struct OnnxEngine {
    /// The detector session.
    pub detector: Detector,
    /// The recognizer session.
    pub recognizer: Recognizer,
    prepare: Duration,
}

impl FaceEngine for OnnxEngine {
    fn detect(&mut self, image: RgbView<'_>, min_score: f32) -> Result<Vec<Detection>> {
        let t = Instant::now();
        let prepared = self.detector.prepare(image)?;
        self.prepare += t.elapsed();
        self.detector.detect_prepared(&prepared, min_score)
    }

    fn scan(&mut self, image: RgbView<'_>, min_score: f32, min_face: f32) -> Result<Scan> {
        self.detector.scan(image, min_score, min_face, &mut self.prepare)
    }

    fn scan_bytes(&self, width: u32, height: u32, min_face: f32) -> u64 {
        self.detector.scan_bytes(width, height, min_face)
    }

    fn embed_batch(&mut self, chips: &[&[u8]]) -> Result<Vec<Vec<f32>>> {
        self.recognizer.embed_batch(chips)
    }

    fn chip_size(&self) -> u32 {
        self.recognizer.chip_size()
    }

    fn times(&self) -> EngineTimes {
        EngineTimes { prepare: self.prepare, detector: self.detector.clock.totals(), recognizer: self.recognizer.clock.totals() }
    }

    fn record_spans(&mut self) {
        self.detector.clock.record_spans();
        self.recognizer.clock.record_spans();
    }

    fn take_spans(&mut self) -> Vec<(Instant, Instant)> {
        let mut spans = self.detector.clock.take_spans();
        spans.extend(self.recognizer.clock.take_spans());
        spans
    }
}
