//! The serial sink over a real pseudo-terminal: events written on one side
//! are read on the other and decoded with the `shared` wire types, as a
//! microcontroller would.

use std::io::Read;

use rollcall_device::events::{Event, Kind};
use rollcall_device::sinks::{Serial, SerialFormat, Sink, open_serial};
use rollcall_shared::wire::{Deframer, Message, label};

#[test]
fn cobs_postcard_frames_cross_a_pty() {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = nix::unistd::ttyname(&pty.slave).expect("slave name");
    let port = open_serial(slave.to_str().expect("path"), 115_200).expect("open the slave as a serial port");
    let mut sink = Serial::new(port, SerialFormat::Postcard);
    let events = [
        Event::person(Kind::Arrived, "Robin", 0.81, 1_795_000_000.25),
        Event::heartbeat(1, 1_795_000_030.0),
        // Bytes that a tty would mangle in cooked mode (newline, CR) inside the frame.
        Event::person(Kind::Left, "Ro\nbin\r", 0.5, 1_795_000_060.5),
    ];
    for e in &events {
        sink.emit(e).expect("emit");
    }
    let mut master = std::fs::File::from(pty.master);
    let mut deframer = Deframer::default();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < events.len() {
        let n = master.read(&mut buf).expect("read the master side");
        assert!(n > 0, "pty closed early");
        got.extend(buf[..n].iter().filter_map(|&b| deframer.push(b)).map(|m| m.expect("a well-formed frame")));
    }
    assert_eq!(
        got,
        [
            Message::Arrived { label: label("Robin"), score_milli: 810, ts_ms: 1_795_000_000_250 },
            Message::Heartbeat { present: 1, ts_ms: 1_795_000_030_000 },
            Message::Left { label: label("Ro\nbin\r"), score_milli: 500, ts_ms: 1_795_000_060_500 },
        ]
    );
}
