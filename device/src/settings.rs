//! What the device runs with: the command-line flags, `device.toml`, and
//! the settings resolved from both (a flag wins over the file, the file
//! over the default).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use rollcall_cli::{Classifier, DetectorSize, ModelArgs};
use rollcall_shared::gallery::ClassifierKind;
use rollcall_shared::signature::PublicKey;

use crate::carry::CarryRules;
use crate::config::{FileSettings, GpioMode};
use crate::mqtt::MqttSettings;
use crate::sinks::{SerialFormat, parse_led, parse_serial};
use crate::source::SourceSpec;
use crate::tracker::Smoothing;

/// Bounds of `--detector-size`: below 160 px only faces filling the frame
/// are found; above 1280 the detector costs more than a frame is worth.
pub const MIN_DETECTOR_SIZE: u32 = 160;
pub const MAX_DETECTOR_SIZE: u32 = 1280;

/// `--detector-size`: `auto`, or a side within the bounds.
fn parse_detector_size(s: &str) -> std::result::Result<DetectorSize, String> {
    let size: DetectorSize = s.parse()?;
    if let DetectorSize::Side(n) = size {
        rollcall_cli::check_range(n, MIN_DETECTOR_SIZE, MAX_DETECTOR_SIZE)?;
    }
    Ok(size)
}

/// The longest time between heartbeats, a day.
pub const MAX_HEARTBEAT_SECS: f64 = 86_400.0;

/// `YYYY-MM-DDTHH:MM:SS` in local time, as seconds since the epoch.
fn parse_local_time(s: &str) -> Result<f64, String> {
    let naive =
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").map_err(|e| format!("`{s}`: {e} (expected 2026-11-28T08:00:00)"))?;
    naive
        .and_local_timezone(chrono::Local)
        .earliest()
        .map(|t| t.timestamp() as f64)
        .ok_or_else(|| format!("`{s}` does not exist in the local time zone"))
}

/// The flags of a recognition run (and the ones `bench` shares).
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Gallery file made by `rollcall export`
    #[arg(long, global = true)]
    pub gallery: Option<PathBuf>,
    /// v4l:/dev/video0[:640x480@15], dir:PATH or image:FILE
    #[arg(long)]
    pub source: Option<String>,
    /// Serial port and baud rate, e.g. /dev/ttyAMA0@115200
    #[arg(long)]
    pub serial: Option<String>,
    /// Serial message format
    #[arg(long, value_enum)]
    pub serial_format: Option<SerialFormat>,
    /// LED per person, LABEL=BCM_PIN (repeat); `unknown` lights for strangers
    #[arg(long)]
    pub led: Vec<String>,
    /// Drive real GPIO pins, or log the changes (dry-run)
    #[arg(long, value_enum)]
    pub gpio: Option<GpioMode>,
    /// The classifier [default: the gallery's]
    #[arg(long, value_enum)]
    pub classifier: Option<Classifier>,
    /// Seconds between heartbeats (0: none) [default: 30]
    #[arg(long, value_parser = rollcall_cli::range(0.0f64, MAX_HEARTBEAT_SECS))]
    pub heartbeat_secs: Option<f64>,
    /// Agreeing frames before someone is present [default: 3]
    #[arg(long, value_parser = rollcall_cli::range(1usize, 1000))]
    pub present_after: Option<usize>,
    /// Frames a face's history covers [default: 5]
    #[arg(long, value_parser = rollcall_cli::range(1usize, 1000))]
    pub window: Option<usize>,
    /// Frames unseen before someone has left [default: 5]
    #[arg(long, value_parser = rollcall_cli::range(1usize, 1000))]
    pub absent_after: Option<usize>,
    /// Frames a face keeps its identity before it is embedded again (1:
    /// every face in every frame) [default: 10]
    #[arg(long, global = true, value_parser = rollcall_cli::range(1usize, 1000))]
    pub recheck_every: Option<usize>,
    /// Long side of the detector's input in pixels (smaller is faster and
    /// misses small faces), or `auto`: fine enough for the smallest face
    /// to keep, for a camera across the room [default: 640]
    #[arg(long, global = true, value_parser = parse_detector_size)]
    pub detector_size: Option<DetectorSize>,
    /// Accept only galleries signed by this public key (KEY.pub from `rollcall keygen`)
    #[arg(long, value_name = "KEY.pub", global = true)]
    pub trust: Option<PathBuf>,
    /// Folder of the device's own state (the highest gallery serial
    /// accepted per trusted key) [default: $STATE_DIRECTORY, else
    /// $XDG_STATE_HOME/rollcall-device, else ~/.local/state/rollcall-device]
    #[arg(long, value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Accept the gallery given at start even if a gallery with a higher
    /// serial was accepted before (going back on purpose)
    #[arg(long, global = true)]
    pub allow_downgrade: bool,
    /// Replay `dir:` stills at this many frames per second (default: as fast as they go)
    #[arg(long, value_parser = rollcall_cli::range(0.01f64, 1000.0))]
    pub fps: Option<f64>,
    /// Publish to an MQTT broker: mqtt://HOST[:PORT]/PREFIX (mqtts:// for TLS)
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// Announce each person to Home Assistant (MQTT discovery)
    #[arg(long)]
    pub mqtt_discovery: bool,
    /// Replay `dir:` stills as if the first was taken at this local time
    /// (YYYY-MM-DDTHH:MM:SS), one every 1/--fps seconds, without waiting:
    /// a recorded day replayed in seconds
    #[arg(long, value_name = "TIME", value_parser = parse_local_time)]
    pub replay_start: Option<f64>,
    /// Append every event to DIR/YYYY-MM-DD.jsonl (for `rollcall attendance`)
    #[arg(long, value_name = "DIR")]
    pub events_log: Option<PathBuf>,
    /// Keep the events log's day files for N days: older ones are deleted
    /// at start and at midnight [default: kept until deleted]
    #[arg(long, value_name = "N", value_parser = rollcall_cli::range(1u32, 3660))]
    pub keep_days: Option<u32>,
    /// Do not write events to stdout
    #[arg(long)]
    pub no_stdout: bool,
    /// Settings file (flags override it)
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Where the models come from
    #[command(flatten)]
    pub models: ModelArgs,
    /// ONNX Runtime threads [default: all cores]
    #[arg(long, global = true, value_parser = rollcall_cli::range(1usize, 256))]
    pub threads: Option<usize>,
}

impl RunArgs {
    /// The settings file named by `--config`, or an empty one.
    pub fn file(&self) -> Result<FileSettings> {
        match &self.config {
            Some(p) => FileSettings::load(p),
            None => Ok(FileSettings::default()),
        }
    }

    /// The model options, flags over the file.
    pub fn model_args(&self, f: &FileSettings) -> ModelArgs {
        ModelArgs {
            models_dir: self.models.models_dir.clone().or(f.models_dir.clone()),
            manifest: self.models.manifest.clone().or(f.manifest.clone()),
            engine: self.models.engine,
        }
    }

    /// ONNX Runtime threads, flags over the file.
    pub fn threads(&self, f: &FileSettings) -> usize {
        self.threads.or(f.threads).unwrap_or_else(rollcall_cli::default_jobs)
    }

    /// The detector's input side, flags over the file, checked.
    pub fn detector_size(&self, f: &FileSettings) -> Result<Option<DetectorSize>> {
        let size = self.detector_size.or(f.detector_size);
        if let Some(DetectorSize::Side(n)) = size {
            rollcall_cli::check_range(n, MIN_DETECTOR_SIZE, MAX_DETECTOR_SIZE).map_err(|e| anyhow::anyhow!("detector_size: {e}"))?;
        }
        Ok(size)
    }

    /// The trusted public key, flags over the file, read; `None` when
    /// galleries are not authenticated.
    pub fn trust(&self, f: &FileSettings) -> Result<Option<PublicKey>> {
        let Some(path) = self.trust.clone().or(f.trust.clone()) else { return Ok(None) };
        let text = rollcall_shared::regular::read_to_string(&path, rollcall_shared::regular::cap::SMALL_TEXT, "key file")
            .with_context(|| format!("cannot read the trusted key {}", rollcall_files::shown(&path)))?;
        let key = PublicKey::parse(&text).with_context(|| format!("{}", rollcall_files::shown(&path)))?;
        Ok(Some(key))
    }

    /// The MQTT settings, flags over the file; the password read from its
    /// file or variable.
    pub fn mqtt_settings(&self, f: &FileSettings) -> Result<Option<MqttSettings>> {
        let file = f.mqtt.clone().unwrap_or_default();
        let Some(url) = self.mqtt.clone().or(file.url.clone()) else { return Ok(None) };
        let mut m = MqttSettings::parse_url(&url).context("--mqtt")?;
        m.user = file.user.clone().or(m.user);
        m.ca_file = file.ca_file.clone();
        m.client_auth = match (&file.client_cert, &file.client_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            _ => anyhow::bail!("[mqtt]: client_cert and client_key go together"),
        };
        if (m.ca_file.is_some() || m.client_auth.is_some()) && !m.tls {
            anyhow::bail!("[mqtt]: ca_file and client_cert are for mqtts:// URLs");
        }
        m.password = match (&file.password_file, &file.password_env) {
            (Some(p), _) => Some(
                rollcall_shared::regular::read_to_string(p, rollcall_shared::regular::cap::SMALL_TEXT, "password file")
                    .with_context(|| format!("cannot read the MQTT password file {}", rollcall_files::shown(p)))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
            (None, Some(var)) => Some(std::env::var(var).with_context(|| format!("MQTT password: environment variable {var} is not set"))?),
            (None, None) => None,
        }
        .map(crate::mqtt::Secret);
        if self.mqtt_discovery || file.discovery.unwrap_or(false) {
            m.discovery = Some(file.discovery_prefix.clone().unwrap_or_else(|| "homeassistant".into()));
        }
        m.queue = file.queue.unwrap_or(m.queue);
        rollcall_cli::check_range(m.queue, 1, 1_000_000).map_err(|e| anyhow::anyhow!("mqtt queue: {e}"))?;
        Ok(Some(m))
    }

    /// The gallery file, flags over the file.
    pub fn gallery(&self, f: &FileSettings) -> Result<PathBuf> {
        self.gallery.clone().or(f.gallery.clone()).context("no gallery: pass --gallery FILE (or set `gallery` in the settings file)")
    }
}

/// A recognition run's settings, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub gallery: PathBuf,
    /// The key galleries must be signed with, if any.
    pub trust: Option<PublicKey>,
    /// Where the highest serial accepted per key is kept.
    pub state_dir: Option<PathBuf>,
    /// Accept an older gallery at start.
    pub allow_downgrade: bool,
    /// Pace of a replay, frames per second.
    pub fps: Option<f64>,
    /// A replay's simulated start time (seconds since the epoch).
    pub replay_start: Option<f64>,
    /// The MQTT broker, if any.
    pub mqtt: Option<MqttSettings>,
    /// The attendance log folder, if any.
    pub events_log: Option<PathBuf>,
    /// Days of the events log kept, if limited.
    pub keep_days: Option<u32>,
    /// Where frames come from.
    pub source: SourceSpec,
    /// Serial port and baud rate.
    pub serial: Option<(String, u32)>,
    pub serial_format: SerialFormat,
    /// LED pin per label.
    pub leds: BTreeMap<String, u8>,
    /// Real pins or logged changes.
    pub gpio: GpioMode,
    /// Classifier, if not the gallery's.
    pub classifier: Option<ClassifierKind>,
    /// Time between heartbeats, if any.
    pub heartbeat: Option<Duration>,
    pub smoothing: Smoothing,
    /// When faces seen before are embedded again.
    pub carry: CarryRules,
    /// The detector's input side, if not the manifest's.
    pub detector_size: Option<DetectorSize>,
    pub stdout: bool,
    pub threads: usize,
    /// Where the models come from.
    pub models: ModelArgs,
}

impl Settings {
    /// Flags over the settings file over defaults.
    pub fn resolve(a: &RunArgs, f: &FileSettings) -> Result<Self> {
        let gallery = a.gallery(f)?;
        let source = a.source.clone().or(f.source.clone()).context("no source: pass --source v4l:/dev/video0, dir:PATH or image:FILE")?;
        let source: SourceSpec = source.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        let serial = a.serial.clone().or(f.serial.clone()).map(|s| parse_serial(&s)).transpose()?;
        let leds = if a.led.is_empty() { &f.led } else { &a.led };
        let leds = leds.iter().map(|l| parse_led(l)).collect::<Result<BTreeMap<_, _>>>()?;
        // The file's values get the checks the flags get.
        let secs = a.heartbeat_secs.or(f.heartbeat_secs).unwrap_or(30.0);
        let secs = rollcall_cli::check_range(secs, 0.0, MAX_HEARTBEAT_SECS).map_err(|e| anyhow::anyhow!("heartbeat_secs: {e}"))?;
        let base = f.smoothing.unwrap_or_default();
        let smoothing = Smoothing {
            present_after: a.present_after.unwrap_or(base.present_after),
            window: a.window.unwrap_or(base.window),
            absent_after: a.absent_after.unwrap_or(base.absent_after),
            iou: base.iou,
        };
        smoothing.validate().map_err(|e| anyhow::anyhow!("smoothing: {e}"))?;
        let base = f.carry.unwrap_or_default();
        let carry = CarryRules { recheck_every: a.recheck_every.unwrap_or(base.recheck_every), ..base };
        carry.validate().map_err(|e| anyhow::anyhow!("carry: {e}"))?;
        let threads = a.threads(f);
        rollcall_cli::check_range(threads, 1, 256).map_err(|e| anyhow::anyhow!("threads: {e}"))?;
        Ok(Settings {
            gallery,
            trust: a.trust(f)?,
            state_dir: a.state_dir.clone().or(f.state_dir.clone()),
            allow_downgrade: a.allow_downgrade,
            fps: a.fps,
            replay_start: a.replay_start,
            mqtt: a.mqtt_settings(f)?,
            events_log: a.events_log.clone().or(f.events_log.clone()),
            keep_days: match a.keep_days.or(f.keep_days) {
                Some(days) => Some(rollcall_cli::check_range(days, 1, 3660).map_err(|e| anyhow::anyhow!("keep_days: {e}"))?),
                None => None,
            },
            source,
            serial,
            serial_format: a.serial_format.or(f.serial_format).unwrap_or(SerialFormat::Postcard),
            leds,
            gpio: a.gpio.or(f.gpio).unwrap_or(GpioMode::Real),
            classifier: a.classifier.or(f.classifier).map(Into::into),
            heartbeat: (secs > 0.0).then(|| Duration::from_secs_f64(secs)),
            smoothing,
            carry,
            detector_size: a.detector_size(f)?,
            stdout: !a.no_stdout && f.stdout.unwrap_or(true),
            threads,
            models: a.model_args(f),
        })
    }
}
