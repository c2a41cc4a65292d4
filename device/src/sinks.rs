//! Where events go: stdout (JSON lines), a serial line (COBS-framed
//! postcard messages from `rollcall_shared::wire`, or JSON lines for
//! humans), GPIO LEDs lit while their person is present, and the daily
//! attendance log. (MQTT is in [`crate::mqtt`].)
//!
//! Every hardware edge is a small trait ([`std::io::Write`] for the serial
//! port, [`Pins`] for GPIO), so the logic behind it is tested for real on a
//! machine without the hardware.

use std::collections::BTreeMap;
use std::io::Write;

use crate::error::{Error, Result};
use crate::events::{Event, Kind, json};

/// Receives every event.
pub trait Sink {
    /// Sends one event on.
    fn emit(&mut self, e: &Event) -> Result<()>;

    /// The gallery's labels, at start and after each reload (MQTT announces
    /// one sensor per person).
    fn gallery(&mut self, _labels: &[String]) {}

    /// The run is over: flush what is queued.
    fn close(&mut self) {}
}

/// JSON lines on a writer (stdout).
pub struct JsonLines<W: Write>(pub W);

impl<W: Write> Sink for JsonLines<W> {
    fn emit(&mut self, e: &Event) -> Result<()> {
        let sink = |source| Error::Sink { sink: "stdout", source };
        writeln!(self.0, "{}", json(e)).map_err(sink)?;
        self.0.flush().map_err(sink)
    }
}

/// What goes over the serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SerialFormat {
    /// COBS-framed postcard `rollcall_shared::wire::Message`s.
    Postcard,
    /// One JSON object a line, for humans.
    Jsonl,
}

/// A serial line (any writer: a real port, a pseudo-terminal, a buffer).
pub struct Serial<W: Write> {
    out: W,
    format: SerialFormat,
}

impl<W: Write> Serial<W> {
    /// Frames events onto `out`.
    pub fn new(out: W, format: SerialFormat) -> Self {
        Serial { out, format }
    }
}

impl<W: Write> Sink for Serial<W> {
    fn emit(&mut self, e: &Event) -> Result<()> {
        let sink = |source| Error::Sink { sink: "the serial line", source };
        match self.format {
            SerialFormat::Jsonl => writeln!(self.out, "{}", json(e)).map_err(sink)?,
            SerialFormat::Postcard => {
                // The device makes no event without a wire form.
                let Some(message) = e.wire() else { return Ok(()) };
                let mut buf = [0u8; rollcall_shared::wire::MAX_FRAME];
                let frame = rollcall_shared::wire::encode(&message, &mut buf).map_err(|err| sink(std::io::Error::other(err)))?;
                self.out.write_all(frame).map_err(sink)?;
            }
        }
        self.out.flush().map_err(sink)
    }
}

/// `--serial /dev/ttyAMA0@115200`: path and baud rate.
pub fn parse_serial(s: &str) -> Result<(String, u32)> {
    match s.rsplit_once('@') {
        Some((p, b)) => {
            Ok((p.to_string(), b.parse().map_err(|_| Error::Setting(format!("serial `{s}`: baud rate `{b}` is not a number")))?))
        }
        None => Ok((s.to_string(), 115_200)),
    }
}

/// Opens a serial port (8N1, no flow control).
pub fn open_serial(path: &str, baud: u32) -> Result<Box<dyn serialport::SerialPort>> {
    serialport::new(path, baud).timeout(std::time::Duration::from_millis(500)).open().map_err(|source| Error::Serial {
        port: path.to_string(),
        baud,
        source,
    })
}

/// Digital outputs by BCM pin number.
pub trait Pins {
    /// Drives `pin` high (LED on) or low.
    fn set(&mut self, pin: u8, high: bool) -> Result<()>;
}

/// Real GPIO through `rppal` (Raspberry Pi only).
pub struct RppalPins {
    gpio: rppal::gpio::Gpio,
    pins: BTreeMap<u8, rppal::gpio::OutputPin>,
}

impl RppalPins {
    /// Opens the GPIO; fails clearly off a Pi.
    pub fn open() -> Result<Self> {
        let gpio = rppal::gpio::Gpio::new().map_err(|source| Error::Gpio {
            what: "GPIO is not available: this does not look like a Raspberry Pi. Use `--gpio dry-run` to log the LED changes instead"
                .into(),
            source,
        })?;
        Ok(RppalPins { gpio, pins: BTreeMap::new() })
    }
}

impl Pins for RppalPins {
    fn set(&mut self, pin: u8, high: bool) -> Result<()> {
        let out = match self.pins.entry(pin) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(self.gpio.get(pin).map_err(|source| Error::Gpio { what: format!("GPIO {pin}"), source })?.into_output_low())
            }
        };
        if high {
            out.set_high();
        } else {
            out.set_low();
        }
        Ok(())
    }
}

/// Logs pin changes instead of driving pins.
#[derive(Debug, Default)]
pub struct DryRunPins;

impl Pins for DryRunPins {
    fn set(&mut self, pin: u8, high: bool) -> Result<()> {
        tracing::info!("GPIO {pin} {}", if high { "on" } else { "off" });
        Ok(())
    }
}

/// LEDs: each label's pin is lit while that person is present.
pub struct Leds<P: Pins> {
    pins: P,
    map: BTreeMap<String, u8>,
}

impl<P: Pins> Leds<P> {
    /// `map` is label -> BCM pin; all start off.
    pub fn new(mut pins: P, map: BTreeMap<String, u8>) -> Result<Self> {
        for &pin in map.values() {
            pins.set(pin, false)?;
        }
        Ok(Leds { pins, map })
    }

    /// The pins, for inspection.
    pub fn pins(&self) -> &P {
        &self.pins
    }
}

/// `--led Robin=17`: label and BCM pin.
pub fn parse_led(s: &str) -> Result<(String, u8)> {
    let bad = |why: String| Error::Setting(format!("led `{s}`: {why}"));
    let (label, pin) = s.rsplit_once('=').ok_or_else(|| bad("expected LABEL=PIN, like Robin=17".into()))?;
    let pin: u8 = pin.parse().map_err(|_| bad(format!("`{pin}` is not a BCM pin number")))?;
    if pin > 27 {
        return Err(bad("BCM pins go from 0 to 27".into()));
    }
    Ok((label.to_string(), pin))
}

impl<P: Pins> Sink for Leds<P> {
    fn emit(&mut self, e: &Event) -> Result<()> {
        match (e.event, e.label.as_deref().and_then(|l| self.map.get(l))) {
            (Kind::Arrived, Some(&pin)) => self.pins.set(pin, true),
            (Kind::Left, Some(&pin)) => self.pins.set(pin, false),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorded(Vec<(u8, bool)>);

    impl Pins for Recorded {
        fn set(&mut self, pin: u8, high: bool) -> Result<()> {
            self.0.push((pin, high));
            Ok(())
        }
    }

    #[test]
    fn leds_follow_presence() {
        let map = BTreeMap::from([("Robin".to_string(), 17), ("unknown".to_string(), 27)]);
        let mut leds = Leds::new(Recorded::default(), map).unwrap();
        for e in [
            Event::person(Kind::Arrived, "Robin", 0.8, 1.0),
            Event::person(Kind::Arrived, "Sam", 0.7, 1.5),
            Event::heartbeat(2, 2.0),
            Event::person(Kind::Arrived, "unknown", 0.1, 2.5),
            Event::person(Kind::Left, "Robin", 0.8, 3.0),
            Event::person(Kind::Left, "unknown", 0.1, 4.0),
        ] {
            leds.emit(&e).unwrap();
        }
        // All off at start (map order), then Robin on, stranger on, Robin off, stranger off. Sam has no LED.
        assert_eq!(leds.pins().0, [(17, false), (27, false), (17, true), (27, true), (17, false), (27, false)]);
    }

    #[test]
    fn option_parsing() {
        assert_eq!(parse_led("Robin=17").unwrap(), ("Robin".to_string(), 17));
        assert!(parse_led("Robin").is_err() && parse_led("Robin=x").is_err() && parse_led("Robin=40").is_err());
        assert_eq!(parse_serial("/dev/ttyAMA0@9600").unwrap(), ("/dev/ttyAMA0".to_string(), 9600));
        assert_eq!(parse_serial("/dev/ttyUSB0").unwrap().1, 115_200);
    }

    #[test]
    fn serial_jsonl_is_for_humans() {
        let mut s = Serial::new(Vec::new(), SerialFormat::Jsonl);
        s.emit(&Event::person(Kind::Left, "Robin", 0.5, 2.0)).unwrap();
        assert_eq!(String::from_utf8(s.out).unwrap(), "{\"event\":\"left\",\"label\":\"Robin\",\"score\":0.5,\"ts\":2.0}\n");
    }
}
