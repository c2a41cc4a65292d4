//! The messages the device sends over a serial line, shared with whatever
//! listens at the other end (a microcontroller driving a display, say).
//!
//! Each message is a [`Message`] encoded with `postcard` and framed with
//! COBS: the frame holds no zero byte and ends with one, so a reader that
//! joins mid-stream resynchronises at the next zero. Fixed-capacity
//! `heapless` strings keep the types usable without an allocator.

use serde::{Deserialize, Serialize};

/// Longest label carried on the wire, in bytes; longer names are cut at a
/// character boundary.
pub const LABEL_CAPACITY: usize = 32;

/// A label with a fixed capacity.
pub type Label = heapless::String<LABEL_CAPACITY>;

/// The largest encoded frame (with COBS overhead and the terminating zero).
pub const MAX_FRAME: usize = 64;

/// What the device reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// A person came into view and stayed long enough to be sure.
    Arrived {
        /// Who (`unknown` for a stranger).
        label: Label,
        /// Recognition score, in thousandths.
        score_milli: i16,
        /// Milliseconds since the Unix epoch.
        ts_ms: u64,
    },
    /// A person has not been seen for long enough to be gone.
    Left {
        /// The person's label, as the gallery has it.
        label: Label,
        /// Last recognition score, in thousandths.
        score_milli: i16,
        /// Milliseconds since the Unix epoch.
        ts_ms: u64,
    },
    /// The device is alive.
    Heartbeat {
        /// People present now.
        present: u8,
        /// Milliseconds since the Unix epoch.
        ts_ms: u64,
    },
    /// A new gallery replaced the old one without a restart.
    Reload {
        /// People the new gallery knows.
        people: u8,
        /// Milliseconds since the Unix epoch.
        ts_ms: u64,
    },
}

/// `label` cut to [`LABEL_CAPACITY`] bytes at a character boundary.
pub fn label(s: &str) -> Label {
    let mut out = Label::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// A score in [-32, 32] as thousandths.
pub fn score_milli(score: f32) -> i16 {
    libm::roundf(score * 1000.0).clamp(i16::MIN as f32, i16::MAX as f32) as i16
}

/// Encodes one COBS frame (ending in its zero byte) into `buf`.
pub fn encode<'a>(m: &Message, buf: &'a mut [u8; MAX_FRAME]) -> Result<&'a mut [u8], postcard::Error> {
    postcard::to_slice_cobs(m, buf)
}

/// Decodes one COBS frame (with or without its trailing zero), in place.
pub fn decode(frame: &mut [u8]) -> Result<Message, postcard::Error> {
    postcard::from_bytes_cobs(frame)
}

/// Splits a byte stream into frames: feed bytes, get each complete frame.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: heapless::Vec<u8, MAX_FRAME>,
    overflow: bool,
}

impl Deframer {
    /// Adds one byte; returns a decoded message when a frame completes.
    /// Frames that overflow or fail to decode are dropped.
    pub fn push(&mut self, byte: u8) -> Option<Result<Message, postcard::Error>> {
        if byte != 0 {
            if self.buf.push(byte).is_err() {
                self.overflow = true;
            }
            return None;
        }
        let overflow = core::mem::take(&mut self.overflow);
        let mut frame = core::mem::take(&mut self.buf);
        if overflow || frame.is_empty() {
            return None;
        }
        Some(decode(&mut frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_a_byte_stream() {
        let msgs = [
            Message::Arrived { label: label("Robin"), score_milli: score_milli(0.813), ts_ms: 1_795_000_000_123 },
            Message::Heartbeat { present: 1, ts_ms: 1_795_000_001_000 },
            Message::Left { label: label("unknown"), score_milli: -12, ts_ms: 1_795_000_002_000 },
        ];
        let mut stream = alloc::vec::Vec::new();
        // Noise before the first frame: a reader joining mid-stream.
        stream.extend_from_slice(&[7, 9, 0]);
        for m in &msgs {
            let mut buf = [0u8; MAX_FRAME];
            let f = encode(m, &mut buf).unwrap();
            assert_eq!(f.last(), Some(&0));
            assert!(!f[..f.len() - 1].contains(&0));
            stream.extend_from_slice(f);
        }
        let mut d = Deframer::default();
        let got: alloc::vec::Vec<Message> = stream.iter().filter_map(|&b| d.push(b)).filter_map(Result::ok).collect();
        assert_eq!(got, msgs);
    }

    #[test]
    fn long_labels_are_cut_at_a_character_boundary() {
        let l = label("Maximilian-Alexander von Österreich-Ungarn");
        assert!(l.len() <= LABEL_CAPACITY);
        assert!(l.starts_with("Maximilian"));
        let mut buf = [0u8; MAX_FRAME];
        let m = Message::Arrived { label: l, score_milli: 1000, ts_ms: u64::MAX };
        assert!(encode(&m, &mut buf).is_ok(), "the largest message fits a frame");
    }
}
