//! The attendance log: every event appended as a JSON line to
//! `DIR/YYYY-MM-DD.jsonl`, by the event's local date (`rollcall attendance`
//! reads it), kept for `--keep-days` days, and scrubbed of one person on
//! request (`rollcall-device forget`).
//!
//! Each line is written whole and synced to disk before the next event, so
//! a power cut loses at most the line being written, and a reader skips a
//! torn last line. The folder is 0750 and the files 0640: who came through
//! the door, and when, is not for every account on the device.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::events::Event;
use crate::sinks::Sink;

/// The events log as a sink.
pub struct EventsLog {
    dir: PathBuf,
    keep_days: Option<u32>,
    /// The day the old files were last deleted for.
    pruned: Option<NaiveDate>,
    /// The day's file, kept open: (date, file).
    open: Option<(String, std::fs::File)>,
}

/// The local date of `ts` (seconds since the epoch), `YYYY-MM-DD`.
pub fn day_of(ts: f64) -> String {
    let utc = chrono::DateTime::from_timestamp(ts.floor() as i64, 0).unwrap_or_default();
    utc.with_timezone(&chrono::Local).format("%Y-%m-%d").to_string()
}

/// The day files in `dir` (names `YYYY-MM-DD.jsonl`), by date; anything
/// else in the folder is not the log's and is left alone.
pub fn day_files(dir: &Path) -> Result<Vec<(NaiveDate, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(Error::file("list", dir))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::file("list", dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")) else { continue };
        if let Ok(date) = NaiveDate::parse_from_str(stem, "%Y-%m-%d") {
            out.push((date, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the day files of `dir` more than `keep_days` days before
/// `today`; returns the files deleted.
pub fn prune(dir: &Path, keep_days: u32, today: NaiveDate) -> Result<Vec<PathBuf>> {
    let oldest = today - chrono::Days::new(u64::from(keep_days));
    let mut deleted = Vec::new();
    for (date, path) in day_files(dir)? {
        if date < oldest {
            std::fs::remove_file(&path).map_err(Error::file("delete", &path))?;
            deleted.push(path);
        }
    }
    Ok(deleted)
}

impl EventsLog {
    /// Logs into `dir`, creating it; with `keep_days`, deletes the day files
    /// older than that now and whenever the day changes.
    pub fn new(dir: &Path, keep_days: Option<u32>) -> Result<Self> {
        std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir).map_err(Error::file("create the events log folder", dir))?;
        let mut log = EventsLog { dir: dir.to_path_buf(), keep_days, pruned: None, open: None };
        log.prune(chrono::Local::now().date_naive())?;
        Ok(log)
    }

    /// Deletes what is too old on `today`, once per day.
    fn prune(&mut self, today: NaiveDate) -> Result<()> {
        let Some(days) = self.keep_days else { return Ok(()) };
        if self.pruned == Some(today) {
            return Ok(());
        }
        self.pruned = Some(today);
        for path in prune(&self.dir, days, today)? {
            tracing::info!("deleted {} (older than {days} days: --keep-days)", rollcall_files::shown(&path));
        }
        Ok(())
    }
}

impl Sink for EventsLog {
    fn emit(&mut self, e: &Event) -> Result<()> {
        let day = day_of(e.ts);
        if self.open.as_ref().is_none_or(|(d, _)| *d != day) {
            // A new day (midnight, or the first event): the days that are
            // now too old go.
            if let Ok(today) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
                self.prune(today)?;
            }
            let path = self.dir.join(format!("{day}.jsonl"));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(&path)
                .map_err(Error::file("open the events log", &path))?;
            self.open = Some((day, file));
        }
        if let Some((day, file)) = &mut self.open {
            let mut line = e.json().into_bytes();
            line.push(b'\n');
            // One write for the whole line (O_APPEND), then to the disk.
            file.write_all(&line)
                .and_then(|()| file.sync_data())
                .map_err(Error::file("write the events log", self.dir.join(format!("{day}.jsonl"))))?;
        }
        Ok(())
    }
}

/// What [`forget`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Arrivals and departures of the person, deleted.
    pub lines: usize,
    /// Reload events that named them among the people added or removed,
    /// kept without the name.
    pub mentions: usize,
    /// Day files rewritten.
    pub files: usize,
}

/// Removes `name` from every day file of `dir`: their arrivals and
/// departures go, and reload events keep their counts without the name.
/// A line that is not an event but contains the name goes too. Each file
/// is replaced atomically, keeping its permissions.
pub fn forget(dir: &Path, name: &str) -> Result<Forgotten> {
    let mut total = Forgotten::default();
    for (_, path) in day_files(dir)? {
        let text = rollcall_shared::regular::read_to_string(&path, rollcall_shared::regular::cap::TABLE, "events log")
            .map_err(|source| Error::Read { path: path.clone(), source })?;
        let mut out = String::with_capacity(text.len());
        let before = (total.lines, total.mentions);
        for line in text.lines() {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(mut event) if event.is_object() => {
                    if event["label"].as_str() == Some(name) {
                        total.lines += 1;
                        continue;
                    }
                    let mut mentioned = false;
                    for list in ["added", "removed"] {
                        if let Some(names) = event.get_mut(list).and_then(|v| v.as_array_mut()) {
                            let n = names.len();
                            names.retain(|v| v.as_str() != Some(name));
                            mentioned |= names.len() != n;
                        }
                    }
                    if mentioned {
                        total.mentions += 1;
                        out.push_str(&event.to_string());
                    } else {
                        out.push_str(line);
                    }
                }
                _ if line.contains(name) => {
                    total.lines += 1;
                    continue;
                }
                _ => out.push_str(line),
            }
            out.push('\n');
        }
        if (total.lines, total.mentions) != before {
            let mode = std::fs::metadata(&path).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions())).unwrap_or(0o640);
            rollcall_files::write_atomic_with_mode(&path, out.as_bytes(), mode & 0o777).map_err(Error::file("rewrite", &path))?;
            total.files += 1;
        }
    }
    Ok(total)
}

/// `rollcall-device forget NAME`: [`forget`] on the events log folder,
/// saying what it removed.
pub fn forget_command(dir: Option<PathBuf>, name: &str) -> Result<()> {
    let dir =
        dir.ok_or_else(|| Error::Setting("no events log: pass --events-log DIR (or set `events_log` in the --config file)".into()))?;
    let done = forget(&dir, name)?;
    println!(
        "{}: removed {} arrivals and departures of {name} and {} mentions in reload events, from {} day files",
        rollcall_files::shown(&dir),
        done.lines,
        done.mentions,
        done.files
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
    }

    #[test]
    fn prune_deletes_only_day_files_more_than_keep_days_old() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["2026-10-30.jsonl", "2026-10-31.jsonl", "2026-11-29.jsonl", "notes.txt", "2020-01-01.csv"] {
            std::fs::write(dir.path().join(name), "{}\n").expect("write");
        }
        let deleted = prune(dir.path(), 30, date("2026-11-30")).expect("prune");
        assert_eq!(deleted, [dir.path().join("2026-10-30.jsonl")]);
        for kept in ["2026-10-31.jsonl", "2026-11-29.jsonl", "notes.txt", "2020-01-01.csv"] {
            assert!(dir.path().join(kept).exists(), "{kept}");
        }
    }

    #[test]
    fn forget_removes_the_person_and_their_name_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let day = dir.path().join("2026-11-30.jsonl");
        let lines = [
            r#"{"event":"arrived","label":"Ann","score":0.8,"ts":1.0}"#,
            r#"{"event":"arrived","label":"Annabel","score":0.8,"ts":2.0}"#,
            r#"{"event":"reload","people":2,"added":["Ann","Bo"],"removed":[],"ts":3.0}"#,
            r#"{"event":"left","label":"Ann","score":0.8,"ts":4.0}"#,
            r#"{"event":"heartbeat","present":1,"ts":5.0}"#,
            r#"{"event":"arr"#,
        ];
        std::fs::write(&day, lines.join("\n") + "\n").expect("write");
        std::fs::set_permissions(&day, std::os::unix::fs::PermissionsExt::from_mode(0o640)).expect("mode");
        let forgotten = forget(dir.path(), "Ann").expect("forget");
        assert_eq!(forgotten, Forgotten { lines: 2, mentions: 1, files: 1 });
        let text = std::fs::read_to_string(&day).expect("read");
        let kept: Vec<&str> = text.lines().collect();
        assert_eq!(kept.len(), 4, "{text}");
        assert!(kept[0].contains("Annabel"));
        assert!(!text.contains("\"Ann\""), "{text}");
        assert!(kept[1].contains("\"Bo\"") && kept[1].contains("\"people\":2"), "{text}");
        let mode = std::fs::metadata(&day).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777).expect("mode");
        assert_eq!(mode, 0o640);
        // Nothing left to forget.
        assert_eq!(forget(dir.path(), "Ann").expect("again"), Forgotten::default());
    }
}
