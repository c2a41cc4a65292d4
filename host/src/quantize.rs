//! `rollcall quantize`: int8 models for the device, calibrated on the
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

use anyhow::{Context, Result};
use ndarray::Array2;
use rollcall_models::detector::{Detection, prepare};
use rollcall_models::manifest::{Manifest, ModelSpec, Role};
use rollcall_models::onnx::quantize::Policy;
use rollcall_models::quantize::{Quantized, Sample};
use rollcall_models::recognizer::chip_tensor;
use rollcall_models::runtime::{RawSession, Threads};
use rollcall_models::store::sha256_hex;
use rollcall_models::{FaceFilter, ModelSet, ModelStore};
use rollcall_shared::align::RgbView;
use rollcall_shared::embedding::dot;
use serde::Serialize;

use crate::detect::read_detections;
use crate::embed::{list_chips, read_chip};
use crate::train::{TrainOptions, TrainingSet, is_junk, train};
use crate::work::{Work, write_atomic};

/// Settings of `quantize`.
#[derive(Debug, Clone)]
pub struct QuantizeOptions {
    /// Calibration samples per network (photos for the detector, chips for the recognizer).
    pub samples: usize,
    /// Photos used to compare the detectors (0: all).
    pub detector_photos: usize,
    /// Which layers stay fp32.
    pub policy: Policy,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions { samples: 64, detector_photos: 0, policy: Policy::default() }
    }
}

/// Recognizer fidelity.
#[derive(Debug, Clone, Serialize)]
pub struct RecognizerFidelity {
    /// Chips compared.
    pub faces: usize,
    /// Mean cosine between each chip's fp32 and int8 embeddings.
    pub cosine_mean: f64,
    /// Lowest such cosine.
    pub cosine_min: f64,
    /// Same for the fp16-weights model.
    pub fp16_cosine_min: f64,
    /// Leave-one-out nearest-centroid accuracy with fp32 embeddings.
    pub accuracy_fp32: f64,
    /// The same with int8 embeddings.
    pub accuracy_int8: f64,
    /// Open-set figures of galleries trained on each (default classifier).
    pub open_set_fp32: OpenSet,
    /// The same for int8.
    pub open_set_int8: OpenSet,
    /// Where the labels came from.
    pub labels_from: String,
}

/// Open-set figures of a trained gallery.
#[derive(Debug, Clone, Serialize, Default)]
pub struct OpenSet {
    /// Default classifier.
    pub classifier: String,
    /// Cross-validated held-out faces accepted and named correctly.
    pub open_set_accuracy: f64,
    /// Estimated false-accept rate at the threshold.
    pub far: f32,
    /// Estimated false-reject rate at the threshold.
    pub frr: f32,
}

/// Detector fidelity: int8 against fp32.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorFidelity {
    /// Photos compared.
    pub photos: usize,
    /// Faces the fp32 detector kept.
    pub faces_fp32: usize,
    /// Faces the int8 detector kept.
    pub faces_int8: usize,
    /// int8 faces matching an fp32 face (IoU >= 0.5), over int8 faces.
    pub precision: f64,
    /// fp32 faces matched by an int8 face, over fp32 faces.
    pub recall: f64,
    /// Mean distance between matched landmarks, pixels.
    pub landmark_shift_px: f64,
    /// The same as a share of the face box's width (photos differ in size).
    pub landmark_shift_rel: f64,
}

/// Sizes and speeds.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFigures {
    /// fp32 file bytes.
    pub fp32_bytes: usize,
    /// int8 file bytes.
    pub int8_bytes: usize,
    /// fp16-weights file bytes.
    pub fp16_bytes: usize,
    /// Seconds inside ONNX Runtime, fp32, over the timing inputs.
    pub fp32_s: f64,
    /// The same, int8.
    pub int8_s: f64,
    /// The same, fp16 weights.
    pub fp16_s: f64,
    /// Runs timed.
    pub runs: usize,
}

/// `fidelity.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Fidelity {
    /// int8 bytes over fp32 bytes, both networks together.
    pub size_ratio: f64,
    /// int8 inference time over fp32 inference time, both networks, side by side.
    pub speed_ratio: f64,
    /// Recognizer figures.
    pub recognizer: RecognizerFidelity,
    /// Detector figures.
    pub detector: DetectorFidelity,
    /// Per network.
    pub models: BTreeMap<String, ModelFigures>,
    /// What the machine's CPU offers, for reading `speed_ratio`.
    pub cpu: String,
    /// Calibration: method and samples.
    pub calibration: String,
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
pub fn quantize(work: &Work, models: &ModelSet, out: &Path, opts: &QuantizeOptions) -> Result<Fidelity> {
    let store = models.store();
    let det_spec = models.detector_spec().clone();
    let rec_spec = models.recognizer_spec().clone();
    let detections = read_detections(&work.detections_json())?;
    let photos: Vec<PathBuf> = detections.photos.iter().filter(|p| p.error.is_none()).map(|p| PathBuf::from(&p.path)).collect();
    anyhow::ensure!(!photos.is_empty(), "{}: no readable photos to calibrate with", work.detections_json().display());
    let chips = list_chips(&work.aligned())?;
    anyhow::ensure!(!chips.is_empty(), "{}: no chips to calibrate with", work.aligned().display());
    let stride = det_spec.retinaface.as_ref().and_then(|r| r.steps.iter().copied().max()).unwrap_or(32);

    let mut det_samples: Vec<Sample> = Vec::new();
    for p in evenly(&photos, opts.samples) {
        let img = rollcall_models::decode::load_rgb(&p)?;
        let prep = prepare(RgbView { data: img.as_raw(), width: img.width(), height: img.height() }, &det_spec.input, stride)?;
        det_samples.push((vec![1, 3, prep.height, prep.width], prep.tensor));
    }
    let size = rec_spec.input.size;
    let rec_samples: Vec<Sample> = evenly(&chips, opts.samples)
        .iter()
        .map(|c| Ok((vec![1, 3, size[1] as usize, size[0] as usize], chip_tensor(&read_chip(c, size[0])?, &rec_spec.input)?)))
        .collect::<Result<_>>()?;

    tracing::info!("calibrating the detector on {} photos, the recognizer on {} chips", det_samples.len(), rec_samples.len());
    let qd = rollcall_models::quantize::quantize(
        store,
        &det_spec.name,
        models.detector_bytes(),
        &det_spec.input.name,
        &det_samples,
        opts.policy,
    )?;
    let qr = rollcall_models::quantize::quantize(
        store,
        &rec_spec.name,
        models.recognizer_bytes(),
        &rec_spec.input.name,
        &rec_samples,
        opts.policy,
    )?;

    // The output folder: the models, a manifest naming them, the runtime.
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut entries = Vec::new();
    for (spec, q) in [(&det_spec, &qd), (&rec_spec, &qr)] {
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
        std::fs::copy(&runtime, &linked).with_context(|| format!("cannot copy {} into {}", runtime.display(), out.display()))?;
    }

    let qstore = ModelStore::open(out, manifest)?;
    let int8 = ModelSet::load(&qstore, None, None)?;
    let fp16 = ModelSet::load(&qstore, Some(&format!("{}-fp16", det_spec.name)), Some(&format!("{}-fp16", rec_spec.name)))?;

    let recognizer = recognizer_fidelity(work, models, &int8, &fp16, &chips)?;
    let det_photos = evenly(&photos, opts.detector_photos);
    let detector = detector_fidelity(models, &int8, &det_photos)?;
    let mut figures = BTreeMap::new();
    figures.insert(det_spec.name.clone(), timing(models, &int8, &fp16, Role::Detector, models.detector_bytes().len(), &qd, &det_samples)?);
    figures
        .insert(rec_spec.name.clone(), timing(models, &int8, &fp16, Role::Recognizer, models.recognizer_bytes().len(), &qr, &rec_samples)?);
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
            det_samples.len(),
            rec_samples.len(),
            qd.calibrated,
            qr.calibrated,
            qd.folded_batchnorms + qr.folded_batchnorms
        ),
    };
    write_atomic(&out.join("fidelity.json"), &serde_json::to_vec_pretty(&fidelity)?)?;
    Ok(fidelity)
}

/// Embeds `chips` with both model sets' recognizers.
fn embed_all(set: &ModelSet, chips: &[PathBuf]) -> Result<Vec<Vec<f32>>> {
    let mut r = set.recognizer(Default::default())?;
    let size = set.recognizer_spec().input.size[0];
    chips.iter().map(|c| Ok(r.embed(&read_chip(c, size)?)?)).collect()
}

/// Chip file -> person, from the user's named folders if any, else from
/// `clusters.csv`.
fn labels(work: &Work) -> (BTreeMap<String, String>, String) {
    let mut m = BTreeMap::new();
    let junk = TrainOptions::default().junk;
    if let Ok(dirs) = std::fs::read_dir(work.clusters()) {
        for d in dirs.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()) {
            let name = d.file_name().to_string_lossy().into_owned();
            if is_junk(&name, &junk) {
                continue;
            }
            for f in std::fs::read_dir(d.path()).into_iter().flatten().filter_map(|e| e.ok()) {
                m.insert(f.file_name().to_string_lossy().into_owned(), name.clone());
            }
        }
    }
    if !m.is_empty() {
        return (m, format!("{}", work.clusters().display()));
    }
    if let Ok(rows) = crate::cluster::read_clusters_csv(&work.clusters_csv()) {
        for r in rows.into_iter().filter(|r| r.cluster > 0) {
            m.insert(r.file, format!("cluster {}", r.cluster));
        }
    }
    (m, format!("{}", work.clusters_csv().display()))
}

/// Leave-one-out nearest-centroid accuracy.
fn loo_centroid_accuracy(x: &[Vec<f32>], y: &[usize], people: usize) -> f64 {
    let d = x.first().map_or(0, Vec::len);
    let mut sums = vec![vec![0f32; d]; people];
    let mut counts = vec![0usize; people];
    for (v, &c) in x.iter().zip(y) {
        sums[c].iter_mut().zip(v).for_each(|(a, b)| *a += b);
        counts[c] += 1;
    }
    let mut right = 0;
    for (v, &c) in x.iter().zip(y) {
        let mut best = (usize::MAX, f32::NEG_INFINITY);
        for p in 0..people {
            let mut s = sums[p].clone();
            let mut n = counts[p];
            if p == c {
                s.iter_mut().zip(v).for_each(|(a, b)| *a -= b);
                n -= 1;
            }
            if n == 0 {
                continue;
            }
            let norm = dot(&s, &s).sqrt().max(1e-12);
            let sim = dot(&s, v) / norm;
            if sim > best.1 {
                best = (p, sim);
            }
        }
        right += usize::from(best.0 == c);
    }
    right as f64 / x.len().max(1) as f64
}

fn open_set(x: &[Vec<f32>], y: &[usize], names: &[String]) -> Result<OpenSet> {
    let d = x.first().map_or(0, Vec::len);
    let data = TrainingSet {
        x: Array2::from_shape_vec((x.len(), d), x.concat())?,
        y: y.to_vec(),
        labels: names.to_vec(),
        files: (0..x.len()).map(|i| i.to_string()).collect(),
    };
    let (g, report) = train(&data, &TrainOptions::default())?;
    let c = &report.classifiers[g.default_classifier.index()];
    Ok(OpenSet {
        classifier: c.classifier.clone(),
        open_set_accuracy: c.open_set_accuracy,
        far: c.threshold.estimated_far,
        frr: c.threshold.estimated_frr,
    })
}

fn recognizer_fidelity(work: &Work, fp32: &ModelSet, int8: &ModelSet, fp16: &ModelSet, chips: &[PathBuf]) -> Result<RecognizerFidelity> {
    let a = embed_all(fp32, chips)?;
    let b = embed_all(int8, chips)?;
    let h = embed_all(fp16, chips)?;
    let cos: Vec<f64> = a.iter().zip(&b).map(|(x, y)| f64::from(dot(x, y))).collect();
    let fp16_min = a.iter().zip(&h).map(|(x, y)| f64::from(dot(x, y))).fold(f64::INFINITY, f64::min);
    let (map, from) = labels(work);
    let mut names: Vec<String> = map.values().cloned().collect();
    names.sort();
    names.dedup();
    let (mut xa, mut xb, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for (i, c) in chips.iter().enumerate() {
        let file = c.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(who) = map.get(&file) {
            xa.push(a[i].clone());
            xb.push(b[i].clone());
            y.push(names.binary_search(who).unwrap_or(0));
        }
    }
    let enough = names.len() >= 2 && y.len() >= 4;
    Ok(RecognizerFidelity {
        faces: chips.len(),
        cosine_mean: cos.iter().sum::<f64>() / cos.len().max(1) as f64,
        cosine_min: cos.iter().copied().fold(f64::INFINITY, f64::min),
        fp16_cosine_min: fp16_min,
        accuracy_fp32: if enough { loo_centroid_accuracy(&xa, &y, names.len()) } else { f64::NAN },
        accuracy_int8: if enough { loo_centroid_accuracy(&xb, &y, names.len()) } else { f64::NAN },
        open_set_fp32: if enough { open_set(&xa, &y, &names)? } else { OpenSet::default() },
        open_set_int8: if enough { open_set(&xb, &y, &names)? } else { OpenSet::default() },
        labels_from: from,
    })
}

fn kept(dets: Vec<Detection>, f: &FaceFilter) -> Vec<Detection> {
    dets.into_iter().filter(|d| d.score >= f.min_confidence && d.bbox.width() >= f.min_size && d.bbox.height() >= f.min_size).collect()
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
    samples: &[Sample],
) -> Result<ModelFigures> {
    let mut sessions = Vec::new();
    for s in [fp32, int8, fp16] {
        let (spec, bytes) = match role {
            Role::Detector => (s.detector_spec(), s.detector_bytes()),
            Role::Recognizer => (s.recognizer_spec(), s.recognizer_bytes()),
        };
        sessions.push(RawSession::new(s.store(), &spec.name, bytes, &spec.input.name, Threads::default())?);
    }
    // One untimed warm-up run each.
    if let Some((shape, data)) = samples.first() {
        for s in &mut sessions {
            s.run(shape, data)?;
        }
    }
    let mut secs = [0f64; 3];
    for (shape, data) in samples {
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
