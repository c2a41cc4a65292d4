//! Stage 9, quantize: int8 models for the device, calibrated on the
//! user's own photos, with the fidelity lost measured.
//!
//! Reads: the work directory (`detections.json` for the photos that
//! calibrate the detector, `aligned/` for the chips that calibrate the
//! recognizer, `clusters/` or `clusters.csv` for the people), and the float
//! models. Writes into the output folder: `<model>.int8.onnx` (QDQ, see
//! [`rollcall_models::onnx::quantize`]), `<model>.fp16.onnx` (fp16 weights),
//! a `manifest.toml` listing them with their sha256 (int8 as the defaults),
//! the ONNX Runtime library, and `fidelity.json`.
//!
//! Use the result with `--models-dir OUT --manifest OUT/manifest.toml`:
//! embeddings and galleries made that way record the int8 models' hashes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use rollcall_models::detector::prepare;
use rollcall_models::manifest::{Manifest, ModelSpec, Role};
use rollcall_models::onnx::quantize::Policy;
use rollcall_models::quantize::{Quantized, Sample};
use rollcall_models::recognizer::chip_tensor;
use rollcall_models::runtime::{RawSession, Threads};
use rollcall_models::store::sha256_hex;
use rollcall_models::{Detection, FaceFilter, ModelSet, ModelStore};
use rollcall_shared::align::RgbView;
use rollcall_shared::embedding::dot;
use rollcall_shared::gallery::ClassifierKind;

use crate::analysis::learn::{Context, LearnOptions, TrainingSet, learn};
use crate::artifacts::detections::DetectionsFile;
use crate::artifacts::fidelity::{DetectorFidelity, Fidelity, ModelFigures, OpenSet, RecognizerFidelity};
use crate::artifacts::io::write_atomic;
use crate::artifacts::{Work, WorkDir, chips, clusters, people};
use crate::error::{Error, Result};

/// Settings of `quantize`.
#[derive(Debug, Clone)]
pub struct QuantizeOptions {
    /// Calibration samples per network (photos for the detector, chips for the recognizer).
    pub samples: usize,
    /// Photos used to compare the detectors (0: all).
    pub detector_photos: usize,
    /// Calibration samples each network is timed on, for `speed_ratio`
    /// (0: all).
    pub timing_runs: usize,
    /// Which layers stay fp32.
    pub policy: Policy,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions { samples: 64, detector_photos: 0, timing_runs: 0, policy: Policy::default() }
    }
}

/// A chip calibration cannot do without.
fn chip_error(path: &Path, why: &crate::artifacts::skips::SkipReason) -> Error {
    Error::Table { path: path.to_path_buf(), reason: why.describe() }
}

fn evenly<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if n == 0 || items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

fn variant(spec: &ModelSpec, suffix: &str, bytes: &[u8], default: bool) -> ModelSpec {
    let mut s = spec.clone();
    s.name = format!("{}-{suffix}", spec.name);
    s.file = format!("{}.{suffix}.onnx", spec.file.trim_end_matches(".onnx"));
    s.sha256 = Some(sha256_hex(bytes));
    s.source = None;
    s.default = default;
    s.license = spec.license.as_ref().map(|l| format!("{l}; {suffix} derivative made by rollcall quantize"));
    s
}

/// Quantizes the models `models` holds using `work`'s data, writes `out`,
/// and measures fidelity.
pub fn quantize(work: &WorkDir, models: &ModelSet, out: &Path, opts: &QuantizeOptions) -> Result<Fidelity> {
    let store = models.store();
    let (det_spec, rec_spec) = (models.detector_spec(), models.recognizer_spec());
    let data = Calibration::of(work, models, opts.samples)?;
    tracing::info!("calibrating the detector on {} photos, the recognizer on {} chips", data.detector.len(), data.recognizer.len());
    let quantize = |spec: &ModelSpec, bytes: &[u8], samples: &[Sample]| {
        rollcall_models::quantize::quantize(store, &spec.name, bytes, &spec.input.name, samples, opts.policy)
    };
    let (det_bytes, rec_bytes) = (models.detector_bytes()?, models.recognizer_bytes()?);
    let qd = quantize(det_spec, &det_bytes, &data.detector)?;
    let qr = quantize(rec_spec, &rec_bytes, &data.recognizer)?;
    let manifest = write_models_folder(out, store, &[(det_spec, &qd), (rec_spec, &qr)])?;

    let qstore = ModelStore::open(out, manifest)?;
    let int8 = ModelSet::load(&qstore, None, None)?;
    let fp16 = ModelSet::load(&qstore, Some(&format!("{}-fp16", det_spec.name)), Some(&format!("{}-fp16", rec_spec.name)))?;
    let recognizer = recognizer_fidelity(work, models, &int8, &fp16, &data.chips)?;
    let detector = detector_fidelity(models, &int8, &evenly(&data.photos, opts.detector_photos))?;
    let mut figures = BTreeMap::new();
    // References: the calibration tensors are timed where they lie, not copied.
    fn timed(samples: &[Sample], runs: usize) -> Vec<&Sample> {
        evenly(&samples.iter().collect::<Vec<_>>(), runs)
    }
    figures.insert(
        det_spec.name.clone(),
        timing(models, &int8, &fp16, Role::Detector, det_bytes.len(), &qd, &timed(&data.detector, opts.timing_runs))?,
    );
    figures.insert(
        rec_spec.name.clone(),
        timing(models, &int8, &fp16, Role::Recognizer, rec_bytes.len(), &qr, &timed(&data.recognizer, opts.timing_runs))?,
    );
    let total = |f: &dyn Fn(&ModelFigures) -> f64| figures.values().map(f).sum::<f64>();
    let fidelity = Fidelity {
        size_ratio: total(&|m| m.int8_bytes as f64) / total(&|m| m.fp32_bytes as f64),
        speed_ratio: total(&|m| m.int8_s) / total(&|m| m.fp32_s),
        recognizer,
        detector,
        models: figures,
        cpu: cpu_features(),
        calibration: format!(
            "min/max over {} photos (detector) and {} chips (recognizer); {} + {} tensors; {} batch norms folded",
            data.detector.len(),
            data.recognizer.len(),
            qd.calibrated,
            qr.calibrated,
            qd.folded_batchnorms + qr.folded_batchnorms
        ),
    };
    fidelity.write(&out.join("fidelity.json"))?;
    Ok(fidelity)
}

/// What calibrates the networks: the run's readable photos and its chips,
/// and evenly spread samples of each in the networks' input format.
struct Calibration {
    photos: Vec<PathBuf>,
    chips: Vec<PathBuf>,
    detector: Vec<Sample>,
    recognizer: Vec<Sample>,
}

impl Calibration {
    fn of(work: &Work, models: &ModelSet, samples: usize) -> Result<Self> {
        let no_data = |path: PathBuf| Error::Missing { path, hint: "nothing to calibrate with: run `rollcall run` on some photos first" };
        let (det_spec, rec_spec) = (models.detector_spec(), models.recognizer_spec());
        let detections = DetectionsFile::read(&work.detections_json())?;
        let photos: Vec<PathBuf> = detections.photos.iter().filter(|p| p.error.is_none()).map(|p| PathBuf::from(&p.path)).collect();
        if photos.is_empty() {
            return Err(no_data(work.detections_json()));
        }
        let chip_files = chips::list(&work.aligned())?;
        if chip_files.is_empty() {
            return Err(no_data(work.aligned()));
        }
        let stride = det_spec.retinaface.as_ref().and_then(|r| r.steps.iter().copied().max()).unwrap_or(32);
        let mut detector: Vec<Sample> = Vec::new();
        for p in evenly(&photos, samples) {
            let img = rollcall_models::decode::load_rgb(&p)?;
            let prep = prepare(RgbView { data: img.as_raw(), width: img.width(), height: img.height() }, &det_spec.input, stride)?;
            detector.push((vec![1, 3, prep.height, prep.width], prep.tensor));
        }
        let size = rec_spec.input.size;
        let recognizer: Vec<Sample> = evenly(&chip_files, samples)
            .iter()
            .map(|c| {
                let chip = chips::read(c, size[0]).map_err(|why| chip_error(c, &why))?;
                Ok((vec![1, 3, size[1] as usize, size[0] as usize], chip_tensor(&chip, &rec_spec.input)?))
            })
            .collect::<Result<_>>()?;
        Ok(Calibration { photos, chips: chip_files, detector, recognizer })
    }
}

/// The output folder: the int8 and fp16 models, a manifest naming them (int8
/// as the defaults), and the ONNX Runtime library (linked, else copied).
fn write_models_folder(out: &Path, store: &ModelStore, quantized: &[(&ModelSpec, &Quantized)]) -> Result<Manifest> {
    rollcall_files::owned::claim(out, rollcall_files::owned::Kind::Int8Models)?;
    let mut entries = Vec::new();
    for (spec, q) in quantized {
        for (suffix, bytes, default) in [("int8", &q.int8, true), ("fp16", &q.fp16, false)] {
            let v = variant(spec, suffix, bytes, default);
            write_atomic(&out.join(&v.file), bytes)?;
            entries.push(v);
        }
    }
    let manifest = Manifest { format: 1, runtime: store.manifest().runtime.clone(), models: entries };
    write_atomic(&out.join("manifest.toml"), manifest.to_toml()?.as_bytes())?;
    let runtime = store.runtime_library()?;
    let linked = out.join(&store.manifest().runtime.file);
    if !linked.exists() && std::fs::hard_link(&runtime, &linked).is_err() {
        std::fs::copy(&runtime, &linked).map_err(Error::write(&linked))?;
    }
    Ok(manifest)
}

/// Embeds `chips` with both model sets' recognizers.
fn embed_all(set: &ModelSet, chip_files: &[PathBuf]) -> Result<Vec<Vec<f32>>> {
    let mut r = set.recognizer(Default::default())?;
    let size = set.recognizer_spec().input.size[0];
    chip_files
        .iter()
        .map(|c| {
            let chip = chips::read(c, size).map_err(|why| chip_error(c, &why))?;
            Ok(r.embed(&chip)?)
        })
        .collect()
}

/// Chip file -> person, from the user's named folders if any, else from
/// `clusters.csv`.
fn labels(work: &Work) -> Result<(BTreeMap<String, String>, String)> {
    let mut m = BTreeMap::new();
    if work.clusters().is_dir() {
        for (name, dir) in people::folders(&work.clusters(), &people::default_junk())? {
            for f in std::fs::read_dir(&dir).into_iter().flatten().filter_map(|e| e.ok()) {
                m.insert(f.file_name().to_string_lossy().into_owned(), name.clone());
            }
        }
    }
    if !m.is_empty() {
        return Ok((m, format!("{}", work.clusters().display())));
    }
    if let Ok(rows) = clusters::read_rows(&work.clusters_csv()) {
        for r in rows.into_iter().filter(|r| r.cluster > 0) {
            m.insert(r.file, format!("cluster {}", r.cluster));
        }
    }
    Ok((m, format!("{}", work.clusters_csv().display())))
}

/// Cross-validated figures of a gallery trained on `x`: nearest-centroid
/// accuracy, and the default classifier's open-set figures.
fn learned_figures(x: &[Vec<f32>], y: &[usize], names: &[String]) -> Result<(f64, OpenSet)> {
    let d = x.first().map_or(0, Vec::len);
    let data = TrainingSet {
        x: Array2::from_shape_vec((x.len(), d), x.concat()).map_err(|e| Error::Table { path: "chips".into(), reason: e.to_string() })?,
        y: y.to_vec(),
        labels: names.to_vec(),
        files: (0..x.len()).map(|i| i.to_string()).collect(),
    };
    let learned = learn(&data, &Context::default(), &LearnOptions::default())?;
    let c = &learned.reports[learned.gallery.default_classifier.index()];
    let open = OpenSet {
        classifier: Some(c.classifier),
        open_set_accuracy: c.open_set_accuracy,
        far: c.threshold.estimated_far,
        frr: c.threshold.estimated_frr,
    };
    Ok((learned.reports[ClassifierKind::NearestCentroid.index()].accuracy, open))
}

fn recognizer_fidelity(
    work: &Work,
    fp32: &ModelSet,
    int8: &ModelSet,
    fp16: &ModelSet,
    chip_files: &[PathBuf],
) -> Result<RecognizerFidelity> {
    let a = embed_all(fp32, chip_files)?;
    let b = embed_all(int8, chip_files)?;
    let h = embed_all(fp16, chip_files)?;
    let cos: Vec<f64> = a.iter().zip(&b).map(|(x, y)| f64::from(dot(x, y))).collect();
    let fp16_min = a.iter().zip(&h).map(|(x, y)| f64::from(dot(x, y))).fold(f64::INFINITY, f64::min);
    let (map, from) = labels(work)?;
    let mut names: Vec<String> = map.values().cloned().collect();
    names.sort();
    names.dedup();
    let (mut xa, mut xb, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for (i, c) in chip_files.iter().enumerate() {
        let file = c.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(who) = map.get(&file) {
            xa.push(a[i].clone());
            xb.push(b[i].clone());
            y.push(names.binary_search(who).unwrap_or(0));
        }
    }
    let enough = names.len() >= 2 && y.len() >= 4;
    let (fig32, fig8) = if enough { (learned_figures(&xa, &y, &names)?, learned_figures(&xb, &y, &names)?) } else { Default::default() };
    Ok(RecognizerFidelity {
        faces: chip_files.len(),
        cosine_mean: cos.iter().sum::<f64>() / cos.len().max(1) as f64,
        cosine_min: cos.iter().copied().fold(f64::INFINITY, f64::min),
        fp16_cosine_min: fp16_min,
        accuracy_fp32: if enough { fig32.0 } else { f64::NAN },
        accuracy_int8: if enough { fig8.0 } else { f64::NAN },
        open_set_fp32: fig32.1,
        open_set_int8: fig8.1,
        labels_from: from,
    })
}

fn kept(dets: Vec<Detection>, f: &FaceFilter) -> Vec<Detection> {
    dets.into_iter().filter(|d| f.judge(d) == rollcall_models::Verdict::Kept).collect()
}

/// Compares the kept faces of two detectors on `photos`.
pub fn detector_fidelity(fp32: &ModelSet, int8: &ModelSet, photos: &[PathBuf]) -> Result<DetectorFidelity> {
    let f = FaceFilter::default();
    let mut d32 = fp32.detector(Default::default())?;
    let mut d8 = int8.detector(Default::default())?;
    let (mut n32, mut n8, mut matched, mut shift, mut rel, mut pairs) = (0usize, 0usize, 0usize, 0f64, 0f64, 0usize);
    for p in photos {
        let img = rollcall_models::decode::load_rgb(p)?;
        let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
        let a = kept(d32.detect(view, f.min_confidence)?, &f);
        let b = kept(d8.detect(view, f.min_confidence)?, &f);
        n32 += a.len();
        n8 += b.len();
        let mut used = vec![false; b.len()];
        for x in &a {
            let best =
                b.iter().enumerate().filter(|(j, _)| !used[*j]).map(|(j, y)| (j, x.bbox.iou(&y.bbox))).max_by(|p, q| p.1.total_cmp(&q.1));
            if let Some((j, iou)) = best
                && iou >= 0.5
            {
                used[j] = true;
                matched += 1;
                for (u, v) in x.landmarks.iter().zip(&b[j].landmarks) {
                    let d = f64::from(((u[0] - v[0]).powi(2) + (u[1] - v[1]).powi(2)).sqrt());
                    shift += d;
                    rel += d / f64::from(x.bbox.width().max(1.0));
                    pairs += 1;
                }
            }
        }
    }
    Ok(DetectorFidelity {
        photos: photos.len(),
        faces_fp32: n32,
        faces_int8: n8,
        precision: if n8 == 0 { 1.0 } else { matched as f64 / n8 as f64 },
        recall: if n32 == 0 { 1.0 } else { matched as f64 / n32 as f64 },
        landmark_shift_px: if pairs == 0 { 0.0 } else { shift / pairs as f64 },
        landmark_shift_rel: if pairs == 0 { 0.0 } else { rel / pairs as f64 },
    })
}

/// Times the three variants of one network side by side, interleaved, on
/// the same inputs, single-threaded like the pipeline's workers.
fn timing(
    fp32: &ModelSet,
    int8: &ModelSet,
    fp16: &ModelSet,
    role: Role,
    fp32_bytes: usize,
    q: &Quantized,
    samples: &[&Sample],
) -> Result<ModelFigures> {
    let mut sessions = Vec::new();
    for s in [fp32, int8, fp16] {
        let (spec, bytes) = match role {
            Role::Detector => (s.detector_spec(), s.detector_bytes()?),
            Role::Recognizer => (s.recognizer_spec(), s.recognizer_bytes()?),
        };
        sessions.push(RawSession::new(s.store(), &spec.name, &bytes, &spec.input.name, Threads::default())?);
    }
    // One untimed warm-up run each.
    if let Some((shape, data)) = samples.first() {
        for s in &mut sessions {
            s.run(shape, data)?;
        }
    }
    let mut secs = [0f64; 3];
    for &(shape, data) in samples {
        for (k, s) in sessions.iter_mut().enumerate() {
            secs[k] += s.run(shape, data)?.as_secs_f64();
        }
    }
    Ok(ModelFigures {
        fp32_bytes,
        int8_bytes: q.int8.len(),
        fp16_bytes: q.fp16.len(),
        fp32_s: secs[0],
        int8_s: secs[1],
        fp16_s: secs[2],
        runs: samples.len(),
    })
}

/// The SIMD extensions that decide int8 speed on this CPU.
pub fn cpu_features() -> String {
    let mut f = vec![std::env::consts::ARCH.to_string()];
    #[cfg(target_arch = "x86_64")]
    {
        for (name, on) in [
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx512vnni", std::arch::is_x86_feature_detected!("avx512vnni")),
            ("avxvnni", std::arch::is_x86_feature_detected!("avxvnni")),
        ] {
            f.push(format!("{name}={}", if on { "yes" } else { "no" }));
        }
    }
    f.join(" ")
}
