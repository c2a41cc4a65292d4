//! Stage 10, attendance: a day of the devices' events logs → the roll call.
//!
//! Reads: `DIR/YYYY-MM-DD.jsonl` of each door's device (see
//! [`crate::artifacts::events_log`]) and the gallery (for who should be
//! there). Writes: `attendance-<date>.csv` (`person, present,
//! first_arrival, first_door, last_departure, last_door, minutes_present`,
//! local times) and `attendance-<date>.html`, a page to print.
//!
//! Everyone in the gallery has a row, present or absent. A school has
//! several doors, each with its device and its log: the row says which door
//! saw the person first and which saw them leave last. Time present is the
//! union of the arrival-to-departure spans of every door (a child seen by
//! two cameras at once counts once); someone still present at the end of a
//! door's log counts until that log's last event (the device's last word, a
//! heartbeat at worst 30 s old), since the log cannot know more. Strangers
//! (`unknown`) are counted, not listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rollcall_shared::events::{Event, Kind};

use crate::artifacts::attendance::{AttendanceRow, HEADER};
use crate::artifacts::events_log::{day_file, read_day};
use crate::artifacts::io::{csv_bytes, replace_own};
use crate::error::{Error, Result};

/// The roll call of one day.
#[derive(Debug, Clone)]
pub struct Attendance {
    pub date: String,
    pub rows: Vec<AttendanceRow>,
    /// Arrivals of people the gallery does not know.
    pub stranger_arrivals: usize,
    /// Lines of the log that could not be read: `(line, why)`.
    pub skipped: Vec<crate::artifacts::events_log::SkippedLine>,
    pub csv: PathBuf,
    pub html: PathBuf,
}

/// One door's events log.
#[derive(Debug, Clone)]
pub struct Door {
    /// What the roll calls it (the folder's name unless given).
    pub name: String,
    /// The folder of day files.
    pub dir: PathBuf,
}

impl Door {
    /// `NAME=DIR`, or `DIR` named after its folder.
    pub fn parse(arg: &str) -> Door {
        match arg.split_once('=') {
            Some((name, dir)) if !name.is_empty() && !name.contains('/') => Door { name: name.to_string(), dir: dir.into() },
            _ => {
                let dir = PathBuf::from(arg);
                let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| arg.to_string());
                Door { name, dir }
            }
        }
    }
}

/// One person at one door: the spans they were seen, and the open one.
#[derive(Debug, Clone, Default)]
struct Seen {
    spans: Vec<(f64, f64)>,
    /// The open span's start.
    since: Option<f64>,
    first: Option<f64>,
    last_left: Option<f64>,
}

/// Seconds covered by the union of `spans`.
fn union_seconds(mut spans: Vec<(f64, f64)>) -> f64 {
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (a, b) in spans {
        match &mut current {
            Some((_, end)) if a <= *end => *end = end.max(b),
            _ => {
                if let Some((s, e)) = current {
                    total += e - s;
                }
                current = Some((a, b));
            }
        }
    }
    total + current.map_or(0.0, |(s, e)| e - s)
}

fn local_time(ts: f64) -> String {
    chrono::DateTime::from_timestamp(ts.floor() as i64, 0)
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Today's local date, `YYYY-MM-DD`.
pub fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

/// The roll call of `date` from the logs of `doors`, for the people in
/// `labels`, written into `out`.
pub fn attendance(doors: &[Door], date: &str, labels: &[String], out: &Path) -> Result<Attendance> {
    if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
        return Err(Error::BadValue { what: "--date", value: date.to_string(), expected: "a date like 2026-11-28" });
    }
    let mut sightings = Sightings::default();
    let mut skipped = Vec::new();
    let mut logs = Vec::new();
    for (d, door) in doors.iter().enumerate() {
        let log = day_file(&door.dir, date);
        if !log.is_file() {
            if doors.len() > 1 {
                tracing::warn!("{}: nothing logged at {} that day", rollcall_files::shown(&log), door.name);
                continue;
            }
            return Err(Error::Missing { path: log, hint: "no events were logged that day (rollcall-device --events-log DIR)" });
        }
        let (events, skipped_here) = read_day(&log)?;
        for (line, why) in &skipped_here {
            tracing::warn!("{} line {line} skipped: {why}", rollcall_files::shown(&log));
        }
        skipped.extend(skipped_here);
        sightings.add_day(d, events);
        logs.push(log);
    }
    if logs.is_empty() {
        return Err(Error::Missing { path: day_file(&doors[0].dir, date), hint: "no door logged anything that day" });
    }
    let rows: Vec<AttendanceRow> = labels.iter().map(|label| sightings.row(label, doors)).collect();
    let csv = out.join(format!("attendance-{date}.csv"));
    let html = out.join(format!("attendance-{date}.html"));
    let bytes = csv_bytes(&csv, &HEADER, rows.iter())?;
    // A file this stage wrote starts with its header (an earlier version's
    // had no door columns).
    replace_own(&csv, &bytes, "a rollcall attendance CSV", |head| head.starts_with(b"person,present,first_arrival,"))?;
    let page = crate::render::attendance::page(date, &rows, sightings.stranger_arrivals, &logs);
    replace_own(&html, page.as_bytes(), "a rollcall attendance page", |head| {
        head.starts_with(crate::render::attendance::DOCTYPE.as_bytes())
    })?;
    Ok(Attendance { date: date.to_string(), rows, stranger_arrivals: sightings.stranger_arrivals, skipped, csv, html })
}

/// What the doors saw of each person over the day.
#[derive(Debug, Default)]
struct Sightings {
    /// (door, person) → what that door saw of them.
    seen: BTreeMap<(usize, String), Seen>,
    /// Arrivals of people the gallery does not know.
    stranger_arrivals: usize,
}

impl Sightings {
    /// Door `d`'s events of the day, in any order.
    fn add_day(&mut self, d: usize, mut events: Vec<Event>) {
        events.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        let end = events.last().map_or(0.0, |e| e.ts);
        for e in &events {
            let Some(label) = e.label.as_deref() else { continue };
            if label == "unknown" {
                self.stranger_arrivals += usize::from(e.event == Kind::Arrived);
                continue;
            }
            let s = self.seen.entry((d, label.to_string())).or_default();
            match e.event {
                Kind::Arrived => {
                    s.first.get_or_insert(e.ts);
                    // A second arrival without a departure (the device
                    // restarted) continues the span already open.
                    s.since.get_or_insert(e.ts);
                }
                Kind::Left => {
                    s.last_left = Some(e.ts);
                    if let Some(start) = s.since.take() {
                        s.spans.push((start, e.ts));
                    }
                }
                _ => {}
            }
        }
        // Still present when the log ends: until its last event.
        for (_, s) in self.seen.iter_mut().filter(|((door, _), _)| *door == d) {
            if let Some(start) = s.since.take() {
                s.spans.push((start, end));
            }
        }
    }

    /// `label`'s row: first arrival and last departure over all doors, and
    /// the time present.
    fn row(&self, label: &str, doors: &[Door]) -> AttendanceRow {
        let theirs: Vec<(usize, &Seen)> = self.seen.iter().filter(|((_, l), _)| l == label).map(|((d, _), s)| (*d, s)).collect();
        let first = theirs.iter().filter_map(|(d, s)| s.first.map(|t| (t, *d))).min_by(|a, b| a.0.total_cmp(&b.0));
        let last = theirs.iter().filter_map(|(d, s)| s.last_left.map(|t| (t, *d))).max_by(|a, b| a.0.total_cmp(&b.0));
        let seconds = union_seconds(theirs.iter().flat_map(|(_, s)| s.spans.iter().copied()).collect());
        AttendanceRow {
            person: label.to_string(),
            present: first.is_some(),
            first_arrival: first.map(|(t, _)| local_time(t)).unwrap_or_default(),
            first_door: first.map(|(_, d)| doors[d].name.clone()).unwrap_or_default(),
            last_departure: last.map(|(t, _)| local_time(t)).unwrap_or_default(),
            last_door: last.map(|(_, d)| doors[d].name.clone()).unwrap_or_default(),
            minutes_present: (seconds / 6.0).round() / 10.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_spans_count_once() {
        assert_eq!(union_seconds(vec![(0.0, 10.0), (5.0, 20.0), (30.0, 40.0)]), 30.0);
        assert_eq!(union_seconds(vec![]), 0.0);
    }

    #[test]
    fn doors_are_named_by_folder_or_given_a_name() {
        let d = Door::parse("/var/log/front");
        assert_eq!((d.name.as_str(), d.dir.as_path()), ("front", Path::new("/var/log/front")));
        let d = Door::parse("gym=/mnt/pi2/events");
        assert_eq!((d.name.as_str(), d.dir.as_path()), ("gym", Path::new("/mnt/pi2/events")));
    }
}
