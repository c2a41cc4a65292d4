//! What the device reports: `arrived` and `left` with label, score and
//! timestamp, a periodic `heartbeat`, and `reload` when a new gallery was
//! swapped in.

use serde::Serialize;

/// The kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

/// One event; on stdout, one JSON object a line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// What happened.
    pub event: Kind,
    /// Who (absent for heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Recognition score (absent for heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// People present (heartbeats only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<usize>,
    /// People the new gallery knows (reloads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<usize>,
    /// Labels the new gallery added (reloads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added: Option<Vec<String>>,
    /// Labels the new gallery no longer has (reloads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<String>>,
    /// Seconds since the Unix epoch.
    pub ts: f64,
}

impl Event {
    /// An arrival or departure.
    pub fn person(kind: Kind, label: &str, score: f32, ts: f64) -> Self {
        Event { label: Some(label.to_string()), score: Some((score * 1000.0).round() / 1000.0), ..Event::bare(kind, ts) }
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

    /// The JSON line (without the newline).
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The compact form for the serial line (`shared::wire`).
    pub fn wire(&self) -> rollcall_shared::wire::Message {
        use rollcall_shared::wire::{Message, label, score_milli};
        let ts_ms = (self.ts * 1000.0) as u64;
        let l = label(self.label.as_deref().unwrap_or(""));
        let s = score_milli(self.score.unwrap_or(0.0));
        match self.event {
            Kind::Arrived => Message::Arrived { label: l, score_milli: s, ts_ms },
            Kind::Left => Message::Left { label: l, score_milli: s, ts_ms },
            Kind::Heartbeat => Message::Heartbeat { present: self.present.unwrap_or(0).min(255) as u8, ts_ms },
            Kind::Reload => Message::Reload { people: self.people.unwrap_or(0).min(255) as u8, ts_ms },
        }
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_look_like_the_documentation() {
        let e = Event::person(Kind::Arrived, "Robin", 0.81234, 1795000000.5);
        assert_eq!(e.json(), r#"{"event":"arrived","label":"Robin","score":0.812,"ts":1795000000.5}"#);
        assert_eq!(Event::heartbeat(2, 1.0).json(), r#"{"event":"heartbeat","present":2,"ts":1.0}"#);
    }
}
