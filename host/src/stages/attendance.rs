//! Stage 10, attendance: a day of the device's events log → the roll call.
//!
//! Reads: `DIR/YYYY-MM-DD.jsonl` (see [`crate::artifacts::events_log`]) and
//! the gallery (for who should be there). Writes: `attendance-<date>.csv`
//! (`person, present, first_arrival, last_departure, minutes_present`, local
//! times) and `attendance-<date>.html`, a page to print.
//!
//! Everyone in the gallery has a row, present or absent. Time present is
//! the sum of each arrival-to-departure span; someone still present at the
//! end of the log counts until the log's last event (the device's last
//! word, a heartbeat at worst 30 s old), since the log cannot know more.
//! Strangers (`unknown`) are counted, not listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::artifacts::attendance::{AttendanceRow, HEADER};
use crate::artifacts::events_log::{LoggedKind, day_file, read_day};
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

/// One person's day as the log tells it.
#[derive(Debug, Clone, Copy, Default)]
struct Day {
    first: Option<f64>,
    last: Option<f64>,
    /// Seconds present in closed spans.
    seconds: f64,
    /// The open span's start.
    since: Option<f64>,
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

/// The roll call of `date` from the log in `dir`, for the people in
/// `labels`, written into `out`.
pub fn attendance(dir: &Path, date: &str, labels: &[String], out: &Path) -> Result<Attendance> {
    if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
        return Err(Error::BadValue { what: "--date", value: date.to_string(), expected: "a date like 2026-11-28" });
    }
    let log = day_file(dir, date);
    if !log.is_file() {
        return Err(Error::Missing { path: log, hint: "no events were logged that day (rollcall-device --events-log DIR)" });
    }
    let (mut events, skipped) = read_day(&log)?;
    for (line, why) in &skipped {
        tracing::warn!("{} line {line} skipped: {why}", rollcall_files::shown(&log));
    }
    events.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    let end = events.last().map_or(0.0, |e| e.ts);
    let mut days: BTreeMap<&str, Day> = BTreeMap::new();
    let mut stranger_arrivals = 0;
    for e in &events {
        let Some(label) = e.label.as_deref() else { continue };
        if label == "unknown" {
            stranger_arrivals += usize::from(e.event == LoggedKind::Arrived);
            continue;
        }
        let d = days.entry(label).or_default();
        match e.event {
            LoggedKind::Arrived => {
                d.first.get_or_insert(e.ts);
                // A second arrival without a departure (the device
                // restarted) continues the span already open.
                d.since.get_or_insert(e.ts);
            }
            LoggedKind::Left => {
                d.last = Some(e.ts);
                if let Some(start) = d.since.take() {
                    d.seconds += e.ts - start;
                }
            }
            _ => {}
        }
    }
    let rows: Vec<AttendanceRow> = labels
        .iter()
        .map(|label| {
            let Day { first, last, mut seconds, since } = days.get(label.as_str()).copied().unwrap_or_default();
            if let Some(start) = since {
                seconds += end - start;
            }
            AttendanceRow {
                person: label.clone(),
                present: first.is_some(),
                first_arrival: first.map(local_time).unwrap_or_default(),
                last_departure: last.map(local_time).unwrap_or_default(),
                minutes_present: (seconds / 6.0).round() / 10.0,
            }
        })
        .collect();
    let csv = out.join(format!("attendance-{date}.csv"));
    let html = out.join(format!("attendance-{date}.html"));
    let bytes = csv_bytes(&csv, &HEADER, rows.iter())?;
    replace_own(&csv, &bytes, "a rollcall attendance CSV", |head| head.starts_with(HEADER.join(",").as_bytes()))?;
    let page = crate::render::attendance::page(date, &rows, stranger_arrivals, &log);
    replace_own(&html, page.as_bytes(), "a rollcall attendance page", |head| {
        head.starts_with(crate::render::attendance::DOCTYPE.as_bytes())
    })?;
    Ok(Attendance { date: date.to_string(), rows, stranger_arrivals, skipped, csv, html })
}
