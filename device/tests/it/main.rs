//! The device's fast tests, one binary: `rollcall-device` on the fake
//! engine, synthetic stills, a real broker, pseudo-terminals and systemd's
//! tools, one module per subject.

mod doctor;
mod mqtt;
mod regression;
mod reload;
mod replay;
mod serial;
mod service;
mod trust;
