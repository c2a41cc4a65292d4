//! `attendance-<date>.csv`, written by `rollcall attendance`.

use serde::Serialize;

/// The CSV's header.
pub const HEADER: [&str; 7] = ["person", "present", "first_arrival", "first_door", "last_departure", "last_door", "minutes_present"];

/// One person's day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttendanceRow {
    pub person: String,
    pub present: bool,
    /// Local time, `HH:MM:SS`; empty when absent.
    pub first_arrival: String,
    /// The door that saw them first.
    pub first_door: String,
    /// Local time of the last departure; empty if never seen leaving.
    pub last_departure: String,
    /// The door that saw them leave last.
    pub last_door: String,
    /// Minutes present, to a tenth.
    pub minutes_present: f64,
}
