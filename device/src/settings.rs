//! What the device runs with: one type, [`Options`], is both the
//! command-line flags and `device.toml` (`--config`); the file is read,
//! the flags laid over it (a flag given wins), and the result checked once
//! into the [`Settings`] a run uses.
//!
//! Every key of the file is also a flag (`[mqtt] url` is `--mqtt`,
//! `[smoothing] window` is `--window`), but `stdout = false`, which is
//! `--no-stdout`. Flags that only make sense for one run (`--config`,
//! `--fps`, `--replay-start`, `--allow-downgrade`) are not keys.
//!
//! Settings from a file, or a camera source, without `trust` are refused
//! unless `allow_unsigned = true` says so: the packaged service must not
//! accept whatever gallery is written to its file by default.
//!
//! ```toml
//! gallery = "/opt/rollcall/gallery.rcg"
//! trust = "/opt/rollcall/school.pub"   # accept only galleries signed by this key
//! # allow_unsigned = true            # without `trust`: accept unsigned galleries on purpose
//! state_dir = "/var/lib/rollcall/state" # gallery serials accepted per key, out of the gallery writer's reach
//! source = "v4l:/dev/video0:640x480@15"
//! serial = "/dev/ttyAMA0@115200"
//! serial_format = "postcard"      # or "jsonl"
//! led = ["Robin=17", "unknown=27"]
//! gpio = "real"                   # or "dry-run"
//! heartbeat_secs = 30
//! events_log = "/var/lib/rollcall/events"     # DIR/YYYY-MM-DD.jsonl, for `rollcall attendance`
//! keep_days = 30                  # day files older than this are deleted (at start and at midnight)
//! models_dir = "/opt/rollcall/models"
//!
//! detector_size = 640            # long side the detector sees; 320 for a close door camera, "auto" across a room
//!
//! [smoothing]
//! present_after = 3
//! window = 5
//! absent_after = 5
//! iou = 0.3
//!
//! [mqtt]
//! url = "mqtt://broker.local/rollcall/door1"   # or mqtts:// for TLS
//! user = "door1"
//! password_file = "/etc/rollcall/mqtt-password" # or password_env = "MQTT_PASSWORD"
//! # ca_file = "/etc/rollcall/school-ca.pem"   # mqtts:// to a broker with its own CA
//! discovery = true                # Home Assistant discovery
//! discovery_prefix = "homeassistant"
//! queue = 1000                    # messages kept while the broker is away
//!
//! [carry]                         # when a face seen before is embedded again
//! recheck_every = 10
//! settle_after = 2
//! min_overlap = 0.6
//! min_likeness = 0.9
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use rollcall_cli::{Classifier, ModelArgs, within};
use rollcall_models::{DetectorSize, ModelSource};
use rollcall_shared::gallery::ClassifierKind;
use rollcall_shared::signature::PublicKey;
use serde::Deserialize;

use crate::carry::CarryRules;
use crate::error::{Error, Result};
use crate::mqtt::MqttSettings;
use crate::sinks::{SerialFormat, parse_led, parse_serial};
use crate::source::SourceSpec;
use crate::tracker::Smoothing;

/// Bounds of `--detector-size`: below 160 px only faces filling the frame
/// are found; above 1280 the detector costs more than a frame is worth.
pub const MIN_DETECTOR_SIZE: u32 = 160;
/// See [`MIN_DETECTOR_SIZE`].
pub const MAX_DETECTOR_SIZE: u32 = 1280;

/// The longest time between heartbeats, a day.
pub const MAX_HEARTBEAT_SECS: f64 = 86_400.0;

/// A small text file the settings name (the settings, a key, a password),
/// read within limits.
fn small_text(path: &std::path::Path, what: &'static str) -> Result<String> {
    rollcall_shared::regular::read_to_string(path, rollcall_shared::regular::cap::SMALL_TEXT, what)
        .map_err(|source| Error::Read { path: path.to_path_buf(), source })
}

/// How LEDs are driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GpioMode {
    /// Real pins through rppal (Raspberry Pi).
    Real,
    /// Log pin changes instead.
    DryRun,
}

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

/// Every setting of the device, as a flag and as a key of `device.toml`;
/// unset ones are `None` until [`Settings::resolve`] gives them defaults.
#[derive(Args, Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Gallery file made by `rollcall export`
    #[arg(long, global = true)]
    pub gallery: Option<PathBuf>,
    /// v4l:/dev/video0[:640x480@15], dir:PATH or image:FILE
    #[arg(long, global = true)]
    pub source: Option<String>,
    /// Serial port and baud rate, e.g. /dev/ttyAMA0@115200
    #[arg(long, global = true)]
    pub serial: Option<String>,
    /// Serial message format
    #[arg(long, value_enum, global = true)]
    pub serial_format: Option<SerialFormat>,
    /// LED per person, LABEL=BCM_PIN (repeat); `unknown` lights for strangers
    #[arg(long, global = true)]
    #[serde(default)]
    pub led: Vec<String>,
    /// Drive real GPIO pins, or log the changes (dry-run)
    #[arg(long, value_enum, global = true)]
    pub gpio: Option<GpioMode>,
    /// The classifier [default: the gallery's]
    #[arg(long, value_enum, global = true)]
    pub classifier: Option<Classifier>,
    /// Seconds between heartbeats (0: none) [default: 30]
    #[arg(long, global = true)]
    pub heartbeat_secs: Option<f64>,
    /// When someone is present and when they have left (`[smoothing]`)
    #[command(flatten)]
    #[serde(default)]
    pub smoothing: SmoothingOptions,
    /// When a face seen before is embedded again (`[carry]`)
    #[command(flatten)]
    #[serde(default)]
    pub carry: CarryOptions,
    /// Long side of the detector's input in pixels (smaller is faster and
    /// misses small faces), or `auto`: fine enough for the smallest face
    /// to keep, for a camera across the room [default: 640]
    #[arg(long, global = true)]
    pub detector_size: Option<DetectorSize>,
    /// Accept only galleries signed by this public key (KEY.pub from `rollcall keygen`)
    #[arg(long, value_name = "KEY.pub", global = true)]
    pub trust: Option<PathBuf>,
    /// Folder of the device's own state (the gallery serials accepted and
    /// retired per trusted key), out of reach of whoever writes the gallery
    /// [default: $STATE_DIRECTORY, else $XDG_STATE_HOME/rollcall-device,
    /// else ~/.local/state/rollcall-device]
    #[arg(long, value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Run without `trust`: accept galleries nobody signed. A settings file
    /// or a camera without `trust` is refused unless this says so
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub allow_unsigned: Option<bool>,
    /// Accept the gallery given at start even if a gallery with a higher
    /// serial was accepted before (going back on purpose, or away from a
    /// serial signed with a wrong clock); the serials accepted above it are
    /// retired: refused from then on
    #[arg(long, global = true)]
    #[serde(skip)]
    pub allow_downgrade: bool,
    /// Replay `dir:` stills at this many frames per second (default: as fast as they go)
    #[arg(long, global = true)]
    #[serde(skip)]
    pub fps: Option<f64>,
    /// The MQTT broker (`[mqtt]`)
    #[command(flatten)]
    #[serde(default)]
    pub mqtt: MqttOptions,
    /// Replay `dir:` stills as if the first was taken at this local time
    /// (YYYY-MM-DDTHH:MM:SS), one every 1/--fps seconds, without waiting:
    /// a recorded day replayed in seconds
    #[arg(long, value_name = "TIME", value_parser = parse_local_time, global = true)]
    #[serde(skip)]
    pub replay_start: Option<f64>,
    /// Append every event to DIR/YYYY-MM-DD.jsonl (for `rollcall attendance`)
    #[arg(long, value_name = "DIR", global = true)]
    pub events_log: Option<PathBuf>,
    /// Keep the events log's day files for N days: older ones are deleted
    /// at start and at midnight [default: kept until deleted]
    #[arg(long, value_name = "N", global = true)]
    pub keep_days: Option<u32>,
    /// Do not write events to stdout
    #[arg(long, global = true)]
    #[serde(skip)]
    pub no_stdout: bool,
    /// Write events to stdout (the file's `stdout = false` is `--no-stdout`).
    #[arg(skip)]
    pub stdout: Option<bool>,
    /// Settings file (flags override it)
    #[arg(long, global = true)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Where the models come from: `--models-dir`, `--manifest` and the
    /// hidden `--engine`, the very flags of `rollcall`. A flag wins over
    /// the file's `models_dir` and `manifest` (the two fields below).
    #[command(flatten)]
    #[serde(skip)]
    pub models: ModelArgs,
    /// The file's `models_dir` (`--models-dir` on the command line). Not
    /// `models` flattened into the file: serde then reports a key it does
    /// not know without the line it is on.
    #[arg(skip)]
    pub models_dir: Option<PathBuf>,
    /// The file's `manifest` (`--manifest` on the command line).
    #[arg(skip)]
    pub manifest: Option<PathBuf>,
    /// ONNX Runtime threads [default: all cores]
    #[arg(long, global = true)]
    pub threads: Option<usize>,
}

/// `[smoothing]`, and its flags.
#[derive(Args, Deserialize, Debug, Clone, Copy, Default)]
#[serde(deny_unknown_fields)]
pub struct SmoothingOptions {
    /// Agreeing frames before someone is present [default: 3]
    #[arg(long, global = true)]
    pub present_after: Option<usize>,
    /// Frames a face's history covers [default: 5]
    #[arg(long, global = true)]
    pub window: Option<usize>,
    /// Frames unseen before someone has left [default: 5]
    #[arg(long, global = true)]
    pub absent_after: Option<usize>,
    /// Box overlap that makes two detections one face [default: 0.3]
    #[arg(long, global = true)]
    pub iou: Option<f32>,
}

/// `[carry]`, and its flags.
#[derive(Args, Deserialize, Debug, Clone, Copy, Default)]
#[serde(deny_unknown_fields)]
pub struct CarryOptions {
    /// Frames a face keeps its identity before it is embedded again (1:
    /// every face in every frame) [default: 10]
    #[arg(long, global = true)]
    pub recheck_every: Option<usize>,
    /// Agreeing embeddings in a row before an identity is carried [default: 2]
    #[arg(long, global = true)]
    pub settle_after: Option<usize>,
    /// Overlap with the box of the last embedding below which a face is
    /// embedded again [default: 0.6]
    #[arg(long, global = true)]
    pub min_overlap: Option<f32>,
    /// Likeness to how the face looked when last embedded below which it
    /// is embedded again [default: 0.9]
    #[arg(long, global = true)]
    pub min_likeness: Option<f32>,
}

/// `[mqtt]`, and its flags.
#[derive(Args, Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct MqttOptions {
    /// Publish to an MQTT broker: mqtt://HOST[:PORT]/PREFIX (mqtts:// for TLS)
    #[arg(long = "mqtt", value_name = "URL", global = true)]
    pub url: Option<String>,
    /// The broker's user name
    #[arg(long = "mqtt-user", value_name = "NAME", global = true)]
    pub user: Option<String>,
    /// A file holding the password (so it stays out of the settings and the process list)
    #[arg(long = "mqtt-password-file", value_name = "FILE", global = true)]
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password
    #[arg(long = "mqtt-password-env", value_name = "VAR", global = true)]
    pub password_env: Option<String>,
    /// Announce each person to Home Assistant (MQTT discovery)
    #[arg(long = "mqtt-discovery", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", global = true)]
    pub discovery: Option<bool>,
    /// Home Assistant's discovery prefix [default: homeassistant]
    #[arg(long = "mqtt-discovery-prefix", value_name = "PREFIX", global = true)]
    pub discovery_prefix: Option<String>,
    /// Messages kept while the broker is away [default: 1000]
    #[arg(long = "mqtt-queue", value_name = "N", global = true)]
    pub queue: Option<usize>,
    /// For mqtts://: the certificate authority (PEM) of a school's own
    /// broker, instead of the system's roots
    #[arg(long = "mqtt-ca-file", value_name = "PEM", global = true)]
    pub ca_file: Option<PathBuf>,
    /// For mqtts://: a client certificate (PEM), when the broker asks for one
    #[arg(long = "mqtt-client-cert", value_name = "PEM", global = true)]
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM)
    #[arg(long = "mqtt-client-key", value_name = "PEM", global = true)]
    pub client_key: Option<PathBuf>,
}

/// `later.x.or(earlier.x)` for each named field.
macro_rules! over {
    ($later:expr, $earlier:expr; $($field:ident),*) => {
        $( $later.$field = $later.$field.take().or($earlier.$field.take()); )*
    };
}

impl Options {
    /// The file `--config` names, read, with these flags laid over it; or
    /// the flags alone.
    pub fn layered(&self) -> Result<Options> {
        let Some(path) = &self.config else { return Ok(self.clone()) };
        let text = small_text(path, "settings file")?;
        // The error names the line, not what is on it: the line may hold
        // a password (`password = "..."`, an unquoted `url = mqtt://u:p@h`),
        // and this message reaches the journal.
        let file: Options = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(0, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            Error::Content { path: path.clone(), what: format!("invalid settings at line {line}: {}", e.message()), source: None }
        })?;
        Ok(self.clone().over(file))
    }

    /// These settings over `earlier`'s: each one set here wins.
    fn over(mut self, mut earlier: Options) -> Options {
        over!(self, earlier; gallery, source, serial, serial_format, gpio, classifier, heartbeat_secs, detector_size, trust,
            allow_unsigned, state_dir, events_log, keep_days, stdout, models_dir, manifest, threads);
        over!(self.smoothing, earlier.smoothing; present_after, window, absent_after, iou);
        over!(self.carry, earlier.carry; recheck_every, settle_after, min_overlap, min_likeness);
        over!(self.mqtt, earlier.mqtt; url, user, password_file, password_env, discovery, discovery_prefix, queue, ca_file,
            client_cert, client_key);
        if self.led.is_empty() {
            self.led = earlier.led;
        }
        self
    }

    /// Where the models come from: the flags, else the file's keys.
    pub fn models(&self) -> ModelSource {
        let flags = self.models.source();
        ModelSource {
            models_dir: flags.models_dir.or_else(|| self.models_dir.clone()),
            manifest: flags.manifest.or_else(|| self.manifest.clone()),
            ..flags
        }
    }

    /// ONNX Runtime threads, checked.
    pub fn threads(&self) -> Result<usize> {
        within("threads", self.threads.unwrap_or_else(rollcall_models::runtime::default_workers), 1, 256).map_err(Error::Setting)
    }

    /// The detector's input side, checked.
    pub fn detector_size(&self) -> Result<Option<DetectorSize>> {
        if let Some(DetectorSize::Side(n)) = self.detector_size {
            within("detector_size", n, MIN_DETECTOR_SIZE, MAX_DETECTOR_SIZE).map_err(Error::Setting)?;
        }
        Ok(self.detector_size)
    }

    /// The gallery file.
    pub fn gallery(&self) -> Result<PathBuf> {
        self.gallery.clone().ok_or_else(|| Error::Setting("no gallery: pass --gallery FILE (or set `gallery` in the settings file)".into()))
    }

    /// The tracker's smoothing, checked.
    pub fn smoothing(&self) -> Result<Smoothing> {
        let (o, d) = (self.smoothing, Smoothing::default());
        let s = Smoothing {
            present_after: o.present_after.unwrap_or(d.present_after),
            window: o.window.unwrap_or(d.window),
            absent_after: o.absent_after.unwrap_or(d.absent_after),
            iou: o.iou.unwrap_or(d.iou),
        };
        s.validate().map_err(Error::Setting)?;
        Ok(s)
    }

    /// When faces seen before are embedded again, checked.
    pub fn carry(&self) -> Result<CarryRules> {
        let (o, d) = (self.carry, CarryRules::default());
        let c = CarryRules {
            recheck_every: o.recheck_every.unwrap_or(d.recheck_every),
            settle_after: o.settle_after.unwrap_or(d.settle_after),
            min_overlap: o.min_overlap.unwrap_or(d.min_overlap),
            min_likeness: o.min_likeness.unwrap_or(d.min_likeness),
        };
        c.validate().map_err(Error::Setting)?;
        Ok(c)
    }

    /// The trusted public key, read; `None` when galleries are not
    /// authenticated.
    fn trust_key(&self) -> Result<Option<PublicKey>> {
        let Some(path) = &self.trust else { return Ok(None) };
        let text = small_text(path, "key file").map_err(|e| match e {
            Error::Read { source: rollcall_shared::regular::RegularError::Io(io), .. } if io.kind() == std::io::ErrorKind::NotFound => {
                Error::Content {
                    path: path.clone(),
                    what: "the trusted key (`trust`) is missing: copy the school's public key here (school.pub, from \
                           `rollcall keygen` on the laptop, the half of the key that signs each gallery)"
                        .into(),
                    source: Some(io.into()),
                }
            }
            e => e,
        })?;
        let key = PublicKey::parse(&text).map_err(|e| Error::Content {
            path: path.clone(),
            what: "not a public key from `rollcall keygen`".into(),
            source: Some(e.into()),
        })?;
        Ok(Some(key))
    }

    /// The MQTT settings, the password read from its file or variable.
    fn mqtt_settings(&self) -> Result<Option<MqttSettings>> {
        let o = &self.mqtt;
        let Some(url) = &o.url else { return Ok(None) };
        let mut m = MqttSettings::parse_url(url)?;
        m.user = o.user.clone().or(m.user);
        m.ca_file = o.ca_file.clone();
        m.client_auth = match (&o.client_cert, &o.client_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            _ => return Err(Error::Setting("[mqtt]: client_cert and client_key go together".into())),
        };
        if (m.ca_file.is_some() || m.client_auth.is_some()) && !m.tls {
            return Err(Error::Setting("[mqtt]: ca_file and client_cert are for mqtts:// URLs".into()));
        }
        m.password = match (&o.password_file, &o.password_env) {
            (Some(p), _) => Some(small_text(p, "password file")?.trim_end_matches(['\r', '\n']).to_string()),
            (None, Some(var)) => {
                Some(std::env::var(var).map_err(|_| Error::Setting(format!("MQTT password: environment variable {var} is not set")))?)
            }
            (None, None) => None,
        }
        .map(crate::mqtt::Secret);
        if o.discovery.unwrap_or(false) {
            m.discovery = Some(o.discovery_prefix.clone().unwrap_or_else(|| "homeassistant".into()));
        }
        m.queue = within("mqtt queue", o.queue.unwrap_or(m.queue), 1, 1_000_000).map_err(Error::Setting)?;
        Ok(Some(m))
    }
}

/// A recognition run's settings, resolved and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The gallery file, read at start and again when it changes.
    pub gallery: PathBuf,
    /// The key galleries must be signed with, if any.
    pub trust: Option<PublicKey>,
    /// Galleries nobody signed are accepted on purpose (`allow_unsigned`).
    pub allow_unsigned: bool,
    /// The settings come from a file or the source is a camera: a
    /// deployment, which must say `trust` or `allow_unsigned = true`
    /// (a replay from flags alone, a test or a demo, only gets a warning).
    pub deployed: bool,
    /// Where the serials accepted per key are kept.
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
    /// What the serial line carries.
    pub serial_format: SerialFormat,
    /// LED pin per label.
    pub leds: BTreeMap<String, u8>,
    /// Real pins or logged changes.
    pub gpio: GpioMode,
    /// Classifier, if not the gallery's.
    pub classifier: Option<ClassifierKind>,
    /// Time between heartbeats, if any.
    pub heartbeat: Option<Duration>,
    /// How arrivals and departures are decided over frames.
    pub smoothing: Smoothing,
    /// When faces seen before are embedded again.
    pub carry: CarryRules,
    /// The detector's input side, if not the manifest's.
    pub detector_size: Option<DetectorSize>,
    /// Events as JSON lines on stdout.
    pub stdout: bool,
    /// ONNX Runtime's threads.
    pub threads: usize,
    /// Where the models come from.
    pub models: ModelSource,
}

impl Settings {
    /// The options (flags over the file) with defaults, checked.
    pub fn resolve(o: &Options) -> Result<Self> {
        let source =
            o.source.clone().ok_or_else(|| Error::Setting("no source: pass --source v4l:/dev/video0, dir:PATH or image:FILE".into()))?;
        let source: SourceSpec = source.parse().map_err(Error::Setting)?;
        let serial = o.serial.as_deref().map(parse_serial).transpose()?;
        let leds = o.led.iter().map(|l| parse_led(l)).collect::<Result<BTreeMap<_, _>>>()?;
        let secs = within("heartbeat_secs", o.heartbeat_secs.unwrap_or(30.0), 0.0, MAX_HEARTBEAT_SECS).map_err(Error::Setting)?;
        let fps = o.fps.map(|f| within("fps", f, 0.01, 1000.0)).transpose().map_err(Error::Setting)?;
        let keep_days = o.keep_days.map(|d| within("keep_days", d, 1, 3660)).transpose().map_err(Error::Setting)?;
        Ok(Settings {
            gallery: o.gallery()?,
            trust: o.trust_key()?,
            allow_unsigned: o.allow_unsigned.unwrap_or(false),
            // An explicit `--allow-unsigned=false` asks for the deployed rule
            // on a replay too.
            deployed: o.config.is_some() || matches!(source, SourceSpec::V4l { .. }) || o.allow_unsigned == Some(false),
            state_dir: o.state_dir.clone(),
            allow_downgrade: o.allow_downgrade,
            fps,
            replay_start: o.replay_start,
            mqtt: o.mqtt_settings()?,
            events_log: o.events_log.clone(),
            keep_days,
            source,
            serial,
            serial_format: o.serial_format.unwrap_or(SerialFormat::Postcard),
            leds,
            gpio: o.gpio.unwrap_or(GpioMode::Real),
            classifier: o.classifier.map(ClassifierKind::from),
            heartbeat: (secs > 0.0).then(|| Duration::from_secs_f64(secs)),
            smoothing: o.smoothing()?,
            carry: o.carry()?,
            detector_size: o.detector_size()?,
            stdout: !o.no_stdout && o.stdout.unwrap_or(true),
            threads: o.threads()?,
            models: o.models(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml: &str) -> Options {
        toml::from_str(toml).expect("settings")
    }

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("settings.rs");
        let toml: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start().to_string() + "\n")
            .collect();
        let s = file(&toml);
        assert_eq!(s.led, vec!["Robin=17", "unknown=27"]);
        assert_eq!(s.serial_format, Some(SerialFormat::Postcard));
        assert_eq!(s.gpio, Some(GpioMode::Real));
        assert_eq!(s.smoothing.window, Some(5));
        assert_eq!(s.carry().expect("carry"), CarryRules::default());
        assert_eq!(s.detector_size, Some(DetectorSize::Side(640)));
        assert_eq!(s.mqtt.url.as_deref(), Some("mqtt://broker.local/rollcall/door1"));
        assert!(toml::from_str::<Options>("colour = \"red\"").is_err(), "unknown keys are errors");
        assert!(toml::from_str::<Options>("fps = 3").is_err(), "a run's own flags are not keys");
    }

    #[test]
    fn the_detector_size_is_a_side_or_auto() {
        assert_eq!(file("detector_size = \"auto\"").detector_size, Some(DetectorSize::Auto));
        assert_eq!(file("detector_size = 320").detector_size, Some(DetectorSize::Side(320)));
        let e = toml::from_str::<Options>("detector_size = \"big\"").unwrap_err();
        assert!(e.to_string().contains("neither a number of pixels nor `auto`"), "{e}");
        let e = file("detector_size = 100").detector_size().unwrap_err();
        assert!(e.to_string().contains("detector_size: 100 is outside 160..=1280"), "{e}");
    }

    #[test]
    fn a_flag_wins_over_the_file_and_the_file_over_the_default() {
        let flags = Options { heartbeat_secs: Some(5.0), led: vec!["ada=4".into()], ..Options::default() };
        let flags = Options { smoothing: SmoothingOptions { window: Some(7), ..Default::default() }, ..flags };
        let layered = flags.over(file(
            "heartbeat_secs = 60\nthreads = 3\nled = [\"ben=5\"]\n[smoothing]\nwindow = 9\npresent_after = 4\n[mqtt]\nqueue = 7",
        ));
        assert_eq!(layered.heartbeat_secs, Some(5.0), "the flag");
        assert_eq!(layered.threads, Some(3), "the file");
        assert_eq!(layered.led, vec!["ada=4"], "the flags' list replaces the file's");
        let s = layered.smoothing().expect("smoothing");
        assert_eq!((s.window, s.present_after, s.absent_after), (7, 4, Smoothing::default().absent_after), "flag, file, default");
        assert_eq!(layered.mqtt.queue, Some(7));
    }

    /// The device's `--models-dir`, `--manifest`, `--engine` and
    /// `--classifier` were a second copy of `rollcall`'s (with a parser of
    /// their own for `--engine` and `--classifier`): they are its very
    /// flags now, and the file's keys still read.
    #[test]
    fn regression_the_model_flags_were_defined_twice() {
        use clap::{CommandFactory, Parser};
        #[derive(Parser)]
        struct Device {
            #[command(flatten)]
            options: Options,
        }
        let device = Device::command();
        let rollcall = ModelArgs::augment_args(clap::Command::new("rollcall"));
        for id in ["models_dir", "manifest", "engine"] {
            let (d, r) = (device.get_arguments().find(|a| a.get_id() == id), rollcall.get_arguments().find(|a| a.get_id() == id));
            let (Some(d), Some(r)) = (d, r) else { panic!("--{id} is missing") };
            let show = |a: &clap::Arg| format!("{:?} {:?} {:?} {:?}", a.get_help(), a.get_env(), a.get_possible_values(), a.is_hide_set());
            assert_eq!(show(d), show(r), "--{id}");
        }
        let parsed = Device::try_parse_from(["rollcall-device", "--engine", "fake", "--models-dir", "flag", "--classifier", "svm"])
            .expect("the flags parse")
            .options;
        assert!(parsed.models().fake);
        assert_eq!(parsed.classifier.map(ClassifierKind::from), Some(ClassifierKind::LinearSvm));
        // A flag wins over the file's key, the key over nothing.
        let layered = parsed.over(file("models_dir = \"file\"\nmanifest = \"m.toml\"\nclassifier = \"knn\""));
        let source = layered.models();
        assert_eq!((source.models_dir, source.manifest), (Some("flag".into()), Some("m.toml".into())));
        assert_eq!(layered.classifier.map(ClassifierKind::from), Some(ClassifierKind::LinearSvm));
        assert_eq!(file("classifier = \"knn\"").classifier.map(ClassifierKind::from), Some(ClassifierKind::Knn));
        assert!(toml::from_str::<Options>("engine = \"fake\"").is_err(), "the engine is a flag, not a key");
    }

    #[test]
    fn the_file_gets_the_checks_the_flags_get() {
        for (toml, says) in [
            ("heartbeat_secs = -1", "heartbeat_secs"),
            ("keep_days = 0", "keep_days"),
            ("threads = 0", "threads"),
            ("[smoothing]\npresent_after = 1", "present_after"),
            ("[carry]\nmin_overlap = 2.0", "min_overlap"),
        ] {
            let o = Options { gallery: Some("g.rcg".into()), source: Some("dir:.".into()), ..file(toml) };
            let e = Settings::resolve(&o).expect_err(toml);
            assert!(e.to_string().contains(says), "{toml}: {e}");
        }
    }
}
