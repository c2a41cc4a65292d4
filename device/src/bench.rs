//! `rollcall-device bench`: per-frame latency at 640 x 480, split into
//! decode, detect (with alignment), embed and classify (with smoothing),
//! with one face and with five, at the steady state of faces standing in
//! view (identities carried forward, re-checked every `--recheck-every`
//! frames; `--recheck-every 1` measures embedding every face every frame).
//!
//! Frames are built from the shared photos: portraits of different people
//! tiled into a 640 x 480 canvas and JPEG-encoded, as an MJPEG camera would
//! deliver them, so decoding is part of the measurement.

use std::path::Path;
use std::time::{Duration, Instant};

use image::{ImageEncoder, RgbImage};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::runtime::{FrameTimes, Recognizer};
use crate::source::Frame;

/// Portraits used to build frames, one per person, relative to the faces folder.
const PORTRAITS: [&str; 5] = [
    "misc_small/obama/obama.jpg",
    "deepface/angelina_jolie/img1.jpg",
    "deepface/deepface_id02/img3.jpg",
    "deepface/deepface_id03/img8.jpg",
    "deepface/deepface_id10/img26.jpg",
];

/// A 640 x 480 JPEG frame holding `faces` portraits side by side.
pub fn frame_with_faces(photos: &Path, faces: usize) -> Result<Vec<u8>> {
    let (w, h) = (640u32, 480u32);
    let mut canvas = RgbImage::from_pixel(w, h, image::Rgb([40, 40, 40]));
    // Tiles keep the portraits' aspect, so faces stay large enough to keep.
    let cols = faces.clamp(1, 3) as u32;
    let rows = (faces as u32).div_ceil(cols);
    let (tw, th) = (w / cols, h / rows);
    for (i, rel) in PORTRAITS.iter().cycle().take(faces).enumerate() {
        let path = photos.join(rel);
        let p = match rollcall_models::decode::load_rgb(&path) {
            Ok(p) => p,
            // Any portrait will do if the exact file is missing.
            Err(_) => rollcall_models::decode::load_rgb(&photos.join(PORTRAITS[0]))?,
        };
        let tile = image::imageops::resize(&p, tw, th, image::imageops::FilterType::Triangle);
        let (x, y) = ((i as u32 % cols) * tw, (i as u32 / cols) * th);
        image::imageops::overlay(&mut canvas, &tile, x as i64, y as i64);
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .write_image(canvas.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::Sink { sink: "the benchmark frame", source: std::io::Error::other(e) })?;
    Ok(jpeg)
}

/// Median per-frame figures.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Faces placed in the frame.
    pub faces_placed: usize,
    /// Faces the detector kept.
    pub faces_found: usize,
    /// Frames timed.
    pub frames: usize,
    /// Decoding the JPEG frame, ms.
    pub decode_ms: f64,
    /// Detection and alignment, ms.
    pub detect_ms: f64,
    /// Embedding the faces the carrier did not carry, ms.
    pub embed_ms: f64,
    /// Classification and smoothing, ms.
    pub classify_ms: f64,
    /// Median total, ms.
    pub total_ms: f64,
    /// Mean total, ms, re-checks included.
    pub mean_total_ms: f64,
    /// Faces that went through the recognizer per frame, on average.
    pub embedded_per_frame: f64,
    /// Frames per second at the mean total.
    pub fps: f64,
    /// CPU the figures were taken on.
    pub arch: String,
}

impl Latency {
    /// One line for people.
    pub fn describe(&self) -> String {
        format!(
            "640x480, {} face(s) found: decode {:.1} ms, detect {:.1} ms, embed {:.1} ms ({:.2} faces a frame), classify {:.2} ms, total {:.1} ms median, {:.1} ms mean = {:.1} frames/s ({}, {} frames)",
            self.faces_found,
            self.decode_ms,
            self.detect_ms,
            self.embed_ms,
            self.embedded_per_frame,
            self.classify_ms,
            self.total_ms,
            self.mean_total_ms,
            self.fps,
            self.arch,
            self.frames
        )
    }
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Frames run before measuring: enough for new faces to settle (see
/// [`crate::carry`]), so that the figures are the steady state of faces
/// standing in view.
const WARM_UP: usize = 5;

/// Runs `frames` frames (after [`WARM_UP`]) and takes medians, and the mean
/// of the total (which counts the periodic re-checks a median can hide).
pub fn measure(rec: &mut Recognizer, jpeg: &[u8], frames: usize) -> Result<Latency> {
    let (mut dec, mut det, mut emb, mut cls, mut tot) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut found, mut embedded) = (0, 0);
    for i in 0..frames + WARM_UP {
        let t = Instant::now();
        let image = rollcall_models::decode::decode_rgb(jpeg, Path::new("frame.jpg"))?;
        let decode = t.elapsed();
        let frame = Frame { image, ts: crate::events::now(), origin: "bench".into() };
        let mut times = FrameTimes::default();
        rec.process(&frame, &mut times)?;
        let total = t.elapsed();
        found = times.faces;
        if i >= WARM_UP {
            embedded += times.embedded;
            dec.push(decode);
            det.push(times.detect);
            emb.push(times.embed);
            cls.push(times.classify);
            tot.push(total);
        }
    }
    let mean_total_ms = tot.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / tot.len().max(1) as f64;
    let total_ms = median(tot);
    Ok(Latency {
        faces_placed: 0,
        faces_found: found,
        frames,
        decode_ms: median(dec),
        detect_ms: median(det),
        embed_ms: median(emb),
        classify_ms: median(cls),
        total_ms,
        mean_total_ms,
        embedded_per_frame: embedded as f64 / frames.max(1) as f64,
        fps: if mean_total_ms > 0.0 { 1000.0 / mean_total_ms } else { 0.0 },
        arch: std::env::consts::ARCH.to_string(),
    })
}

/// `rollcall-device bench`: a frame with one face and one with five, each
/// measured `frames` times; fails if a frame had no face.
pub fn run(o: &crate::settings::Options, photos: &Path, frames: usize, json: bool) -> Result<()> {
    let gallery = rollcall_shared::gallery::read_file(&o.gallery()?)?;
    let models = o.models().load_for_gallery(&gallery, o.detector_size()?)?;
    let smoothing = crate::tracker::Smoothing::default();
    let mut rec = Recognizer::new(models.as_ref(), gallery, None, smoothing, o.carry()?, None, o.threads()?)?;
    for faces in [1usize, 5] {
        let jpeg = frame_with_faces(photos, faces)?;
        let r = measure(&mut rec, &jpeg, frames)?;
        if json {
            println!("{}", serde_json::to_string(&r).map_err(|e| Error::Sink { sink: "stdout", source: e.into() })?);
        } else {
            println!("{}", r.describe());
        }
        if r.faces_found == 0 {
            return Err(Error::Setting("--photos: a benchmark frame had no faces".into()));
        }
    }
    Ok(())
}
