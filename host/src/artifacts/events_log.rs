//! The device's attendance log (`rollcall-device --events-log DIR`): one
//! JSON event a line in `DIR/YYYY-MM-DD.jsonl`, by local date. A line is a
//! [`rollcall_shared::events::Event`], the very type the device writes.
//!
//! The device syncs every line, so after a power cut at most the last line
//! is torn; it, and any other line that does not parse, is skipped with a
//! warning naming the line, and the rest is read.

use std::path::{Path, PathBuf};

use rollcall_shared::events::Event;

use crate::error::Result;

/// The log file of `date` (`YYYY-MM-DD`) in `dir`.
pub fn day_file(dir: &Path, date: &str) -> PathBuf {
    dir.join(format!("{date}.jsonl"))
}

/// A line of the log that could not be read: its number and why.
pub type SkippedLine = (usize, String);

/// A day's events, in file order, and the lines skipped.
pub fn read_day(path: &Path) -> Result<(Vec<Event>, Vec<SkippedLine>)> {
    let text = crate::artifacts::io::read_table(path)?;
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Event>(line) {
            Ok(e) if e.ts.is_finite() => events.push(e),
            Ok(_) => skipped.push((n + 1, "timestamp is not a number".to_string())),
            Err(e) => skipped.push((n + 1, e.to_string())),
        }
    }
    Ok((events, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_shared::events::Kind;

    #[test]
    fn a_day_reads_back_the_lines_the_device_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = day_file(dir.path(), "2026-11-27");
        let written = [
            Event::person(Kind::Arrived, "ada", 0.91234, 1_795_000_000.5),
            Event::heartbeat(1, 1_795_000_030.0),
            Event::reload(2, vec!["ben".into()], Vec::new(), 1_795_000_040.0),
            Event::person(Kind::Left, "ada", 0.9, 1_795_000_060.25),
        ];
        let mut text = String::new();
        for e in &written {
            text += &serde_json::to_string(e).expect("a line");
            text += "\n";
        }
        // What a later device may write, and a line torn by a power cut.
        text += "{\"event\":\"door_opened\",\"ts\":1795000070.0}\n{\"event\":\"arrived\",\"label\":\"cy\",\"ts\":17";
        std::fs::write(&path, text).expect("write");
        let (events, skipped) = read_day(&path).expect("read");
        assert_eq!(events[..written.len()], written);
        assert_eq!((events.len(), events[4].event), (5, Kind::Other));
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].0, 6, "the torn line, by its number");
    }
}
