//! The device's attendance log (`rollcall-device --events-log DIR`): one
//! JSON event a line in `DIR/YYYY-MM-DD.jsonl`, by local date.
//!
//! The device syncs every line, so after a power cut at most the last line
//! is torn; it, and any other line that does not parse, is skipped with a
//! warning naming the line, and the rest is read.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Result;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggedKind {
    Arrived,
    Left,
    Heartbeat,
    Reload,
    /// A kind a later device may write.
    #[serde(other)]
    Other,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LoggedEvent {
    pub event: LoggedKind,
    #[serde(default)]
    pub label: Option<String>,
    /// Seconds since the Unix epoch.
    pub ts: f64,
}

/// The log file of `date` (`YYYY-MM-DD`) in `dir`.
pub fn day_file(dir: &Path, date: &str) -> PathBuf {
    dir.join(format!("{date}.jsonl"))
}

/// A line of the log that could not be read: its number and why.
pub type SkippedLine = (usize, String);

/// A day's events, in file order, and the lines skipped.
pub fn read_day(path: &Path) -> Result<(Vec<LoggedEvent>, Vec<SkippedLine>)> {
    let text = crate::artifacts::io::read_table(path)?;
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<LoggedEvent>(line) {
            Ok(e) if e.ts.is_finite() => events.push(e),
            Ok(_) => skipped.push((n + 1, "timestamp is not a number".to_string())),
            Err(e) => skipped.push((n + 1, e.to_string())),
        }
    }
    Ok((events, skipped))
}
