//! `rollcall-device`: recognise the people in front of a camera and report
//! who arrives and leaves, on stdout, a serial line and GPIO LEDs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use rollcall_device::config::{FileSettings, GpioMode};
use rollcall_device::events::now;
use rollcall_device::runtime::{FrameTimes, Recognizer, dispatch};
use rollcall_device::sinks::{DryRunPins, JsonLines, Leds, RppalPins, Serial, SerialFormat, Sink, open_serial, parse_led, parse_serial};
use rollcall_device::source::{Backoff, Latest, SourceSpec, capture_loop, load_still, stills};
use rollcall_device::tracker::Smoothing;
use rollcall_models::manifest::Role;
use rollcall_models::{Manifest, ModelSet, ModelStore};
use rollcall_shared::gallery::{ClassifierKind, Gallery};

#[derive(Parser, Debug)]
#[command(name = "rollcall-device", version, about = "Recognise people from a camera; report arrivals and departures")]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
struct RunArgs {
    /// Gallery file made by `rollcall export`
    #[arg(long, global = true)]
    gallery: Option<PathBuf>,
    /// v4l:/dev/video0[:640x480@15], dir:PATH or image:FILE
    #[arg(long)]
    source: Option<String>,
    /// Serial port and baud rate, e.g. /dev/ttyAMA0@115200
    #[arg(long)]
    serial: Option<String>,
    /// Serial message format
    #[arg(long, value_enum)]
    serial_format: Option<SerialFormat>,
    /// LED per person, LABEL=BCM_PIN (repeat); `unknown` lights for strangers
    #[arg(long)]
    led: Vec<String>,
    /// Drive real GPIO pins, or log the changes (dry-run)
    #[arg(long, value_enum)]
    gpio: Option<GpioMode>,
    /// centroid, knn, svm or logistic [default: the gallery's]
    #[arg(long)]
    classifier: Option<String>,
    /// Seconds between heartbeats (0: none) [default: 30]
    #[arg(long)]
    heartbeat_secs: Option<f64>,
    /// Agreeing frames before someone is present [default: 3]
    #[arg(long)]
    present_after: Option<usize>,
    /// Frames a face's history covers [default: 5]
    #[arg(long)]
    window: Option<usize>,
    /// Frames unseen before someone has left [default: 5]
    #[arg(long)]
    absent_after: Option<usize>,
    /// Do not write events to stdout
    #[arg(long)]
    no_stdout: bool,
    /// Settings file (flags override it)
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Model cache
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
    /// Model manifest
    #[arg(long, global = true)]
    manifest: Option<PathBuf>,
    /// ONNX Runtime threads [default: all cores]
    #[arg(long, global = true)]
    threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Per-frame latency at 640x480 with 1 and 5 faces
    Bench {
        /// The shared photos (../shared/data/faces)
        #[arg(long)]
        photos: PathBuf,
        /// Frames per measurement
        #[arg(long, default_value_t = 30)]
        frames: usize,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("ROLLCALL_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    let result = match cli.command {
        None => run(cli.run),
        Some(Command::Bench { photos, frames, json }) => bench(&cli.run, &photos, frames, json),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Flags over the settings file over defaults.
struct Settings {
    gallery: PathBuf,
    source: SourceSpec,
    serial: Option<(String, u32)>,
    serial_format: SerialFormat,
    leds: BTreeMap<String, u8>,
    gpio: GpioMode,
    classifier: Option<ClassifierKind>,
    heartbeat: Option<Duration>,
    smoothing: Smoothing,
    stdout: bool,
    threads: usize,
}

fn file_settings(a: &RunArgs) -> Result<FileSettings> {
    match &a.config {
        Some(p) => FileSettings::load(p),
        None => Ok(FileSettings::default()),
    }
}

fn settings(a: RunArgs, f: &FileSettings) -> Result<Settings> {
    let gallery = a.gallery.or(f.gallery.clone()).context("no gallery: pass --gallery FILE (or set `gallery` in the settings file)")?;
    let source = a.source.or(f.source.clone()).context("no source: pass --source v4l:/dev/video0, dir:PATH or image:FILE")?;
    let source: SourceSpec = source.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let serial = a.serial.or(f.serial.clone()).map(|s| parse_serial(&s)).transpose()?;
    let leds = if a.led.is_empty() { f.led.clone() } else { a.led };
    let leds = leds.iter().map(|l| parse_led(l)).collect::<Result<BTreeMap<_, _>>>()?;
    let classifier = match a.classifier.or(f.classifier.clone()) {
        Some(n) => Some(ClassifierKind::from_name(&n).with_context(|| format!("unknown classifier `{n}` (centroid, knn, svm, logistic)"))?),
        None => None,
    };
    let secs = a.heartbeat_secs.or(f.heartbeat_secs).unwrap_or(30.0);
    let base = f.smoothing.unwrap_or_default();
    let smoothing = Smoothing {
        present_after: a.present_after.unwrap_or(base.present_after),
        window: a.window.unwrap_or(base.window),
        absent_after: a.absent_after.unwrap_or(base.absent_after),
        iou: base.iou,
    };
    Ok(Settings {
        gallery,
        source,
        serial,
        serial_format: a.serial_format.or(f.serial_format).unwrap_or(SerialFormat::Postcard),
        leds,
        gpio: a.gpio.or(f.gpio).unwrap_or(GpioMode::Real),
        classifier,
        heartbeat: (secs > 0.0).then(|| Duration::from_secs_f64(secs)),
        smoothing,
        stdout: !a.no_stdout && f.stdout.unwrap_or(true),
        threads: a.threads.or(f.threads).unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
    })
}

/// The models the gallery was made with: the manifest entries whose sha256
/// matches, else the defaults (and the gallery check explains the mismatch).
fn models_for(a: &RunArgs, f: &FileSettings, gallery: &Gallery) -> Result<ModelSet> {
    let manifest = match a.manifest.clone().or(f.manifest.clone()) {
        Some(p) => Manifest::load(&p)?,
        None => Manifest::from_env()?,
    };
    let dir = a.models_dir.clone().or(f.models_dir.clone()).unwrap_or_else(rollcall_models::store::default_models_dir);
    let hex = |h: &[u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let pick = |role: Role, sha: String| {
        manifest
            .models
            .iter()
            .find(|m| m.role == role && m.sha256.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&sha)))
            .map(|m| m.name.clone())
    };
    let det = pick(Role::Detector, hex(&gallery.detector_sha256));
    let rec = pick(Role::Recognizer, hex(&gallery.recognizer_sha256));
    let store = ModelStore::open(dir, manifest)?;
    Ok(ModelSet::load(&store, det.as_deref(), rec.as_deref())?)
}

fn read_gallery(path: &std::path::Path) -> Result<Gallery> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Gallery::decode(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn sinks(s: &Settings) -> Result<Vec<Box<dyn Sink>>> {
    let mut out: Vec<Box<dyn Sink>> = Vec::new();
    if s.stdout {
        out.push(Box::new(JsonLines(std::io::stdout())));
    }
    if let Some((path, baud)) = &s.serial {
        out.push(Box::new(Serial::new(open_serial(path, *baud)?, s.serial_format)));
    }
    if !s.leds.is_empty() {
        match s.gpio {
            GpioMode::Real => out.push(Box::new(Leds::new(RppalPins::open()?, s.leds.clone())?)),
            GpioMode::DryRun => out.push(Box::new(Leds::new(DryRunPins, s.leds.clone())?)),
        }
    }
    Ok(out)
}

fn run(a: RunArgs) -> Result<()> {
    let f = file_settings(&a)?;
    let s = settings(a.clone(), &f)?;
    let gallery = read_gallery(&s.gallery)?;
    let models = models_for(&a, &f, &gallery)?;
    let mut sinks = sinks(&s)?;
    let mut rec = Recognizer::new(&models, gallery, s.classifier, s.smoothing, s.heartbeat, s.threads)
        .with_context(|| format!("{}", s.gallery.display()))?;
    tracing::info!("classifier {}; {:?}", rec.classifier().name(), s.smoothing);
    let mut times = FrameTimes::default();
    match &s.source {
        SourceSpec::V4l { device, mode } => {
            let mailbox = Arc::new(Latest::new());
            let stop = Arc::new(AtomicBool::new(false));
            let (m2, s2, dev, mode) = (mailbox.clone(), stop.clone(), device.clone(), *mode);
            let capture = std::thread::Builder::new().name("capture".into()).spawn(move || {
                let mut cam = rollcall_device::camera::V4lCamera::new(&dev, mode);
                capture_loop(
                    &mut cam,
                    &m2,
                    &s2,
                    Backoff::new(Duration::from_millis(250), Duration::from_secs(10)),
                    &mut std::thread::sleep,
                );
            })?;
            let mut last_report = Instant::now();
            while let Some(frame) = mailbox.take() {
                let events = rec.process(&frame, &mut times)?;
                dispatch(&mut sinks, &events);
                if last_report.elapsed() > Duration::from_secs(60) {
                    last_report = Instant::now();
                    tracing::info!("{} frames dropped so far (the newest frame always wins)", mailbox.dropped());
                }
            }
            let _ = capture.join();
        }
        spec => {
            for path in stills(spec)? {
                let frame = match load_still(&path) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!("skipping {e}");
                        continue;
                    }
                };
                let events = rec.process(&frame, &mut times)?;
                dispatch(&mut sinks, &events);
            }
            let events = rec.finish(now());
            dispatch(&mut sinks, &events);
        }
    }
    Ok(())
}

fn bench(a: &RunArgs, photos: &std::path::Path, frames: usize, json: bool) -> Result<()> {
    let f = file_settings(a)?;
    let gallery_path = a.gallery.clone().or(f.gallery.clone()).context("bench needs --gallery")?;
    let gallery = read_gallery(&gallery_path)?;
    let models = models_for(a, &f, &gallery)?;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let mut rec = Recognizer::new(&models, gallery, None, Smoothing::default(), None, threads)?;
    let mut results = Vec::new();
    for faces in [1usize, 5] {
        let jpeg = rollcall_device::bench::frame_with_faces(photos, faces)?;
        let r = rollcall_device::bench::measure(&mut rec, &jpeg, frames)?;
        if json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!("{}", r.describe());
        }
        results.push(r);
    }
    if results.iter().any(|r| r.faces_found == 0) {
        bail!("a benchmark frame had no faces; check --photos");
    }
    Ok(())
}
