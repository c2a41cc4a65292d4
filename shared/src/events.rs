//! What the device reports: `arrived` and `left` with label, score and
//! time, a periodic `heartbeat`, and `reload` when a new gallery was
//! swapped in.
//!
//! An [`Event`] is one JSON object a line wherever the device writes it
//! (stdout, a serial line in `jsonl`, MQTT, and the attendance log
//! `DIR/YYYY-MM-DD.jsonl`), and the laptop's `rollcall attendance` reads
//! the log's lines as this same type, so the two cannot drift apart. A
//! field a kind does not have is left out of the line:
//!
//! ```json
//! {"event":"arrived","label":"Robin","score":0.812,"ts":1795000000.5}
//! {"event":"heartbeat","present":2,"ts":1795000030.0}
//! {"event":"reload","people":12,"added":["Sam"],"removed":[],"ts":1795000060.0}
//! ```
//!
//! On the serial line in `postcard` the device sends the compact
//! [`wire`](crate::wire) form instead ([`Event::wire`]).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::wire::{Message, label, score_milli};

/// The kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Someone is present (seen in enough recent frames).
    Arrived,
    /// Someone present is no longer seen.
    Left,
    /// The device is alive.
    Heartbeat,
    /// A new gallery is in use.
    Reload,
    /// A kind a later device may write: a reader passes over it instead of
    /// refusing the line. This device never writes it.
    #[serde(other)]
    Other,
}

/// One event, as the device writes it and a reader reads it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub event: Kind,
    /// Who (arrivals and departures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Recognition score, to three decimals (arrivals and departures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// People present (heartbeats only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<usize>,
    /// People the new gallery knows (reloads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people: Option<usize>,
    /// Labels the new gallery added (reloads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<Vec<String>>,
    /// Labels the new gallery no longer has (reloads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<String>>,
    /// Seconds since the Unix epoch.
    pub ts: f64,
}

impl Event {
    /// An arrival or departure; the score is rounded to three decimals.
    pub fn person(kind: Kind, label: &str, score: f32, ts: f64) -> Self {
        Event { label: Some(label.to_string()), score: Some(libm::roundf(score * 1000.0) / 1000.0), ..Event::bare(kind, ts) }
    }

    /// The device is alive, with `present` people present.
    pub fn heartbeat(present: usize, ts: f64) -> Self {
        Event { present: Some(present), ..Event::bare(Kind::Heartbeat, ts) }
    }

    /// A new gallery of `people` people is in use.
    pub fn reload(people: usize, added: Vec<String>, removed: Vec<String>, ts: f64) -> Self {
        Event { people: Some(people), added: Some(added), removed: Some(removed), ..Event::bare(Kind::Reload, ts) }
    }

    fn bare(event: Kind, ts: f64) -> Self {
        Event { event, label: None, score: None, present: None, people: None, added: None, removed: None, ts }
    }

    /// The compact form for the serial line; `None` for [`Kind::Other`],
    /// which has none.
    pub fn wire(&self) -> Option<Message> {
        let ts_ms = (self.ts * 1000.0) as u64;
        let l = label(self.label.as_deref().unwrap_or(""));
        let s = score_milli(self.score.unwrap_or(0.0));
        Some(match self.event {
            Kind::Arrived => Message::Arrived { label: l, score_milli: s, ts_ms },
            Kind::Left => Message::Left { label: l, score_milli: s, ts_ms },
            Kind::Heartbeat => Message::Heartbeat { present: self.present.unwrap_or(0).min(255) as u8, ts_ms },
            Kind::Reload => Message::Reload { people: self.people.unwrap_or(0).min(255) as u8, ts_ms },
            Kind::Other => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(e: &Event) -> String {
        serde_json::to_string(e).expect("an event is JSON")
    }

    fn read(line: &str) -> Event {
        serde_json::from_str(line).expect("a line of the log")
    }

    #[test]
    fn lines_look_like_the_documentation() {
        let doc: Vec<&str> = include_str!("events.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```json"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//! "))
            .collect();
        let events = [
            Event::person(Kind::Arrived, "Robin", 0.81234, 1_795_000_000.5),
            Event::heartbeat(2, 1_795_000_030.0),
            Event::reload(12, alloc::vec!["Sam".to_string()], Vec::new(), 1_795_000_060.0),
        ];
        let written: Vec<String> = events.iter().map(line).collect();
        assert_eq!(written, doc);
    }

    #[test]
    fn every_kind_round_trips() {
        for e in [
            Event::person(Kind::Arrived, "Zoë", 0.8, 1.25),
            Event::person(Kind::Left, "unknown", -0.1234, 1_795_000_000.123_456),
            Event::heartbeat(0, 2.0),
            Event::reload(3, alloc::vec!["Ann".to_string(), "Bo".to_string()], alloc::vec!["Cy".to_string()], 3.0),
        ] {
            let text = line(&e);
            let back = read(&text);
            assert_eq!(back, e, "{text}");
            assert_eq!(line(&back), text, "written again, byte for byte");
        }
    }

    #[test]
    fn a_reader_takes_what_a_later_device_may_write() {
        // A kind it does not know, a field it does not know, and no label.
        let e = read(r#"{"event":"door_opened","door":"gym","ts":5.5}"#);
        assert_eq!((e.event, e.label.as_deref(), e.ts), (Kind::Other, None, 5.5));
        assert_eq!(e.wire(), None);
        assert_eq!(read(r#"{"event":"left","ts":1}"#).label, None);
        assert!(serde_json::from_str::<Event>(r#"{"event":"arrived","label":"cy","ts":17"#).is_err(), "a torn line");
    }

    #[test]
    fn the_wire_form_keeps_label_score_and_milliseconds() {
        let m = Event::person(Kind::Arrived, "Robin", 0.8123, 1_795_000_000.25).wire();
        assert_eq!(m, Some(Message::Arrived { label: label("Robin"), score_milli: 812, ts_ms: 1_795_000_000_250 }));
        assert_eq!(Event::heartbeat(300, 1.0).wire(), Some(Message::Heartbeat { present: 255, ts_ms: 1000 }));
    }
}
