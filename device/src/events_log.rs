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
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

use crate::clock::ClockWatch;
use crate::error::{Error, Result};
use crate::events::{Event, json};
use crate::sinks::Sink;

/// A day, in seconds: how far an event's time may be from the clock's, and
/// how far the time may leap between two events, before old day files are
/// kept rather than deleted.
const DAY_SECS: f64 = 86_400.0;

/// The events log as a sink.
pub struct EventsLog {
    dir: PathBuf,
    keep_days: Option<u32>,
    /// The day the old files were last deleted for.
    pruned: Option<NaiveDate>,
    /// The day's file, kept open: (date, file).
    open: Option<(String, std::fs::File)>,
    /// Whether the system clock is synchronised (asked at most once a minute).
    clock: ClockWatch,
    /// The last time seen (an event's, or the clock's at start), and when.
    last_seen: (f64, Instant),
}

/// The local date of `ts` (seconds since the epoch), `YYYY-MM-DD`.
pub fn day_of(ts: f64) -> String {
    let utc = chrono::DateTime::from_timestamp(ts.floor() as i64, 0).unwrap_or_default();
    utc.with_timezone(&chrono::Local).format("%Y-%m-%d").to_string()
}

/// The date of a day file's name, when it is exactly as the device names
/// them: `YYYY-MM-DD.jsonl`, four-digit year, two-digit month and day, a
/// real date. chrono's parser alone took `2020-1-5`, `+2020-01-06` and
/// ` 2020-01-07`, which the device never writes.
pub fn parse_day_name(name: &str) -> Option<NaiveDate> {
    let stem = name.strip_suffix(".jsonl")?;
    let b = stem.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) || !digits(8..10) {
        return None;
    }
    let date = NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()?;
    (date.format("%Y-%m-%d").to_string() == stem).then_some(date)
}

/// The day files in `dir` (regular files named exactly `YYYY-MM-DD.jsonl`),
/// by date; anything else in the folder (a folder, a link, a FIFO, another
/// name) is not the log's and is left alone.
pub fn day_files(dir: &Path) -> Result<Vec<(NaiveDate, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(Error::file("list", dir))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::file("list", dir))?;
        let Some(date) = entry.file_name().to_str().and_then(parse_day_name) else { continue };
        // The entry's own type: a link is not followed.
        if entry.file_type().is_ok_and(|t| t.is_file()) {
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

/// Creates `dir` and its missing parents with exactly `mode`, whatever the
/// umask; a folder already there is left as it is.
fn create_dir(dir: &Path, mode: u32) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err()) {
        missing.push(d);
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::DirBuilder::new().mode(mode).create(d) {
            Ok(()) => std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates the device's own folder `dir` (the state) owner-only, 0700.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    create_dir(dir, 0o700).map_err(Error::file("create", dir))
}

/// What a file that is not a regular file is.
fn kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "symbolic link"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "device"
    } else if t.is_socket() {
        "socket"
    } else if t.is_dir() {
        "folder"
    } else {
        "special file"
    }
}

/// Opens a day file to append to, as a regular file only: never following
/// a link, never blocking on a FIFO (a FIFO named as today's file blocked
/// the device at its first event). A file it creates is 0640, whatever the
/// umask: who came through the door is for the `rollcall` group to read.
fn open_day_file(path: &Path) -> std::io::Result<std::fs::File> {
    let not_a_file = |t| std::io::Error::other(format!("not a regular file (a {})", kind(t)));
    let open = |create: bool| {
        std::fs::OpenOptions::new()
            .append(true)
            .create_new(create)
            .mode(0o640)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
    };
    let file = match open(true) {
        Ok(f) => {
            f.set_permissions(std::fs::Permissions::from_mode(0o640))?;
            f
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => open(false).map_err(|e| {
            // O_NOFOLLOW on a link is ELOOP, O_NONBLOCK on a FIFO nobody
            // reads is ENXIO: say what is there instead.
            match std::fs::symlink_metadata(path) {
                Ok(m) if !m.file_type().is_file() => not_a_file(m.file_type()),
                _ => e,
            }
        })?,
        Err(e) => return Err(e),
    };
    let t = file.metadata()?.file_type();
    if !t.is_file() {
        return Err(not_a_file(t));
    }
    Ok(file)
}

impl EventsLog {
    /// Logs into `dir`, creating it (0750: the day files in it are for the
    /// group to read); with `keep_days`, deletes the day files older than
    /// that now and whenever the day changes, while the clock can be
    /// trusted.
    pub fn new(dir: &Path, keep_days: Option<u32>) -> Result<Self> {
        create_dir(dir, 0o750).map_err(Error::file("create the events log folder", dir))?;
        let now = chrono::Local::now();
        let mut log = EventsLog {
            dir: dir.to_path_buf(),
            keep_days,
            pruned: None,
            open: None,
            clock: ClockWatch::new(),
            last_seen: (now.timestamp() as f64, Instant::now()),
        };
        if log.keep_days.is_some() && log.clock.unsynchronised() {
            tracing::warn!("not deleting old day files of the events log: the clock is not synchronised");
        } else {
            log.prune(now.date_naive())?;
        }
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

    /// Whether the day of an event at `ts` may decide which day files are
    /// too old; the reason when not.
    fn may_prune(&mut self, ts: f64) -> std::result::Result<(), String> {
        let (seen, at) = self.last_seen;
        let wall = chrono::Utc::now().timestamp() as f64;
        may_prune(ts, wall, seen, at.elapsed().as_secs_f64(), || self.clock.unsynchronised())
    }
}

/// The rule [`EventsLog`] deletes by, at the first event of a day at `ts`:
/// only when the clock is not known to be unsynchronised, the event's time
/// is the clock's (`wall`, within a day: a replay on a simulated clock
/// keeps its hands off the real days' files), and the time did not leap
/// forward more than a day since the last time seen (`seen`, `elapsed`
/// seconds ago): a clock that jumps forward must not delete every day
/// before its wrong date.
fn may_prune(ts: f64, wall: f64, seen: f64, elapsed: f64, unsynchronised: impl FnOnce() -> bool) -> std::result::Result<(), String> {
    if (ts - wall).abs() > DAY_SECS {
        return Err(format!("the events are timed {}, the clock reads {}", day_of(ts), day_of(wall)));
    }
    if ts - seen > elapsed + DAY_SECS {
        return Err(format!("the time jumped forward from {} to {}", day_of(seen), day_of(ts)));
    }
    if unsynchronised() {
        return Err("the clock is not synchronised".into());
    }
    Ok(())
}

impl Sink for EventsLog {
    fn emit(&mut self, e: &Event) -> Result<()> {
        let day = day_of(e.ts);
        if self.open.as_ref().is_none_or(|(d, _)| *d != day) {
            // A new day (midnight, or the first event): the days that are
            // now too old go, if the time can be trusted.
            if self.keep_days.is_some()
                && let Some(today) = parse_day_name(&format!("{day}.jsonl"))
            {
                match self.may_prune(e.ts) {
                    Ok(()) => self.prune(today)?,
                    Err(why) => tracing::warn!("not deleting old day files of the events log: {why}"),
                }
            }
            self.open = None;
            let path = self.dir.join(format!("{day}.jsonl"));
            let file = open_day_file(&path).map_err(Error::file("open the events log", &path))?;
            self.open = Some((day, file));
        }
        self.last_seen = (e.ts, Instant::now());
        if let Some((day, file)) = &mut self.open {
            let mut line = json(e).into_bytes();
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
    // Names are compared in one Unicode form: the gallery's "Zoë" may be
    // NFD where the name typed is NFC.
    let name: String = name.nfc().collect();
    if name.trim().is_empty() {
        // Every torn line "contains" the empty name.
        return Err(Error::Setting("forget: the name is empty; give the person's name as the gallery has it".into()));
    }
    let name = name.as_str();
    // One rule on names, as the laptop's `forget` matches them: case,
    // Unicode form and look-alike letters aside (`ann` is `Ann`, not `Anna`).
    let key = rollcall_shared::names::key(name);
    let same = |v: &serde_json::Value| v.as_str().is_some_and(|l| rollcall_shared::names::key(l) == key);
    let mut total = Forgotten::default();
    for (_, path) in day_files(dir)? {
        let text = rollcall_shared::regular::read_to_string(&path, rollcall_shared::regular::cap::TABLE, "events log")
            .map_err(|source| Error::Read { path: path.clone(), source })?;
        let mut out = String::with_capacity(text.len());
        let before = (total.lines, total.mentions);
        for line in text.lines() {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(mut event) if event.is_object() => {
                    if same(&event["label"]) {
                        total.lines += 1;
                        continue;
                    }
                    let mut mentioned = false;
                    for list in ["added", "removed"] {
                        if let Some(names) = event.get_mut(list).and_then(|v| v.as_array_mut()) {
                            let n = names.len();
                            names.retain(|v| !same(v));
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
                _ if line.nfc().collect::<String>().contains(name) => {
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
    if done.lines + done.mentions == 0 {
        tracing::warn!(
            "nobody called {} in the events log in {}: check the name as the gallery has it (`rollcall inspect GALLERY` lists them)",
            rollcall_files::shown_str(name),
            rollcall_files::shown(&dir)
        );
    }
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

    /// The log is one JSON event a line, byte for byte as before the
    /// event type moved to `shared`, and every line reads back, as
    /// `rollcall attendance` reads it, as the event written.
    #[test]
    fn the_log_reads_back_as_the_events_written() {
        use crate::events::Kind;
        let dir = tempfile::tempdir().expect("temp dir");
        let events = [
            Event::person(Kind::Arrived, "Zoë", 0.81234, 1_795_000_000.5),
            Event::heartbeat(1, 1_795_000_030.0),
            Event::reload(2, vec!["Bo".into()], Vec::new(), 1_795_000_040.0),
            Event::person(Kind::Left, "Zoë", 0.8, 1_795_000_050.0),
        ];
        let mut log = EventsLog::new(dir.path(), None).expect("log");
        for e in &events {
            log.emit(e).expect("logged");
        }
        let mut text = String::new();
        for (_, path) in day_files(dir.path()).expect("day files") {
            text += &std::fs::read_to_string(path).expect("read");
        }
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"event":"arrived","label":"Zoë","score":0.812,"ts":1795000000.5}"#,
                r#"{"event":"heartbeat","present":1,"ts":1795000030.0}"#,
                r#"{"event":"reload","people":2,"added":["Bo"],"removed":[],"ts":1795000040.0}"#,
                r#"{"event":"left","label":"Zoë","score":0.8,"ts":1795000050.0}"#,
            ]
        );
        let read: Vec<rollcall_shared::events::Event> = lines.iter().map(|l| serde_json::from_str(l).expect("an event")).collect();
        assert_eq!(read, events);
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
    fn day_files_are_named_exactly_as_the_device_names_them() {
        assert_eq!(parse_day_name("2026-11-30.jsonl"), Some(date("2026-11-30")));
        for name in
            ["2020-1-5.jsonl", "+2020-01-06.jsonl", " 2020-01-07.jsonl", "2020-02-30.jsonl", "2020-01-07.jsonl ", "20200-01-07.jsonl"]
        {
            assert_eq!(parse_day_name(name), None, "{name}");
        }
    }

    /// The clock that jumps forward (here: the events' time leaping two
    /// days past the last time seen, a second later) deleted every day
    /// before its wrong date; a replay far from the clock did the same.
    #[test]
    fn regression_a_clock_that_jumped_forward_deleted_the_days_before_it() {
        let now = 1_796_500_000.0;
        let never = || panic!("the clock is not asked before the time is checked");
        assert!(may_prune(now + 2.0 * DAY_SECS, now + 2.0 * DAY_SECS, now, 1.0, never).is_err_and(|w| w.contains("jumped forward")));
        assert!(may_prune(now + 100.0 * DAY_SECS, now, now, 1.0, never).is_err_and(|w| w.contains("the clock reads")));
        assert!(may_prune(now + 60.0, now + 60.0, now, 60.0, || true).is_err_and(|w| w.contains("not synchronised")));
        // Midnight, with the clock: two days of running since the last
        // event are no jump.
        assert!(may_prune(now + 2.0 * DAY_SECS, now + 2.0 * DAY_SECS, now, 2.0 * DAY_SECS, || false).is_ok());
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
