//! `device.toml`: the same settings as the command-line flags; a flag given
//! on the command line wins over the file.
//!
//! ```toml
//! gallery = "/opt/rollcall/gallery.rcg"
//! trust = "/opt/rollcall/school.pub"   # accept only galleries signed by this key
//! state_dir = "/var/lib/rollcall"       # highest gallery serial accepted per key
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

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::carry::CarryRules;
use crate::sinks::SerialFormat;
use crate::tracker::Smoothing;

/// How LEDs are driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GpioMode {
    /// Real pins through rppal (Raspberry Pi).
    Real,
    /// Log pin changes instead.
    DryRun,
}

/// `[mqtt]` in the settings file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttFile {
    /// `mqtt://HOST[:PORT]/PREFIX` or `mqtts://...`.
    pub url: Option<String>,
    pub user: Option<String>,
    /// A file holding the password (so it stays out of this one).
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password.
    pub password_env: Option<String>,
    /// Announce each person to Home Assistant.
    pub discovery: Option<bool>,
    pub discovery_prefix: Option<String>,
    /// Messages kept while the broker is away.
    pub queue: Option<usize>,
    /// For `mqtts://`: the certificate authority (PEM) of a school's own
    /// broker, instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// For `mqtts://`: a client certificate (PEM) and its key, when the
    /// broker asks for one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// The settings file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub gallery: Option<PathBuf>,
    /// Public key galleries must be signed with.
    pub trust: Option<PathBuf>,
    /// Folder of the device's own state (gallery serials).
    pub state_dir: Option<PathBuf>,
    pub source: Option<String>,
    /// Serial port and baud rate.
    pub serial: Option<String>,
    pub serial_format: Option<SerialFormat>,
    /// LEDs, `LABEL=PIN`.
    #[serde(default)]
    pub led: Vec<String>,
    pub gpio: Option<GpioMode>,
    /// Seconds between heartbeats (0: none).
    pub heartbeat_secs: Option<f64>,
    pub classifier: Option<rollcall_cli::Classifier>,
    pub models_dir: Option<PathBuf>,
    pub manifest: Option<PathBuf>,
    pub threads: Option<usize>,
    pub smoothing: Option<Smoothing>,
    pub carry: Option<CarryRules>,
    /// Folder of the daily attendance logs.
    pub events_log: Option<PathBuf>,
    /// Days of the events log kept.
    pub keep_days: Option<u32>,
    pub mqtt: Option<MqttFile>,
    /// Long side of the detector's input, pixels, or `"auto"`.
    pub detector_size: Option<rollcall_cli::DetectorSize>,
    /// Write events to stdout (default true).
    pub stdout: Option<bool>,
}

impl FileSettings {
    /// Reads `device.toml`, naming the file in errors.
    pub fn load(path: &Path) -> Result<Self> {
        let text = rollcall_shared::regular::read_to_string(path, rollcall_shared::regular::cap::SMALL_TEXT, "settings file")
            .with_context(|| format!("cannot read {}", rollcall_files::shown(path)))?;
        toml::from_str(&text).with_context(|| format!("{}: invalid settings", rollcall_files::shown(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let toml: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start().to_string() + "\n")
            .collect();
        let s: FileSettings = toml::from_str(&toml).unwrap();
        assert_eq!(s.led, vec!["Robin=17", "unknown=27"]);
        assert_eq!(s.serial_format, Some(SerialFormat::Postcard));
        assert_eq!(s.gpio, Some(GpioMode::Real));
        assert_eq!(s.smoothing.unwrap().window, 5);
        assert_eq!(s.carry.unwrap(), CarryRules::default());
        assert_eq!(s.detector_size, Some(rollcall_cli::DetectorSize::Side(640)));
        assert_eq!(s.mqtt.as_ref().and_then(|m| m.url.as_deref()), Some("mqtt://broker.local/rollcall/door1"));
        assert!(toml::from_str::<FileSettings>("colour = \"red\"").is_err(), "unknown keys are errors");
    }

    #[test]
    fn the_detector_size_is_a_side_or_auto() {
        let s: FileSettings = toml::from_str("detector_size = \"auto\"").unwrap();
        assert_eq!(s.detector_size, Some(rollcall_cli::DetectorSize::Auto));
        let s: FileSettings = toml::from_str("detector_size = 320").unwrap();
        assert_eq!(s.detector_size, Some(rollcall_cli::DetectorSize::Side(320)));
        let e = toml::from_str::<FileSettings>("detector_size = \"big\"").unwrap_err();
        assert!(e.to_string().contains("neither a number of pixels nor `auto`"), "{e}");
    }
}
