//! What the device reports: [`Event`]s (`arrived`, `left`, `heartbeat`,
//! `reload`), the type of `rollcall_shared::events`, which is also what
//! `rollcall attendance` reads the events log with; here, their JSON line
//! and the clock that times them.

pub use rollcall_shared::events::{Event, Kind};

/// The JSON line of `e` (without the newline), as every sink but the
/// `postcard` serial line writes it.
pub fn json(e: &Event) -> String {
    // Plain data of strings and numbers: serde_json cannot fail on it.
    serde_json::to_string(e).unwrap_or_default()
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
        assert_eq!(json(&e), r#"{"event":"arrived","label":"Robin","score":0.812,"ts":1795000000.5}"#);
        assert_eq!(json(&Event::heartbeat(2, 1.0)), r#"{"event":"heartbeat","present":2,"ts":1.0}"#);
    }
}
