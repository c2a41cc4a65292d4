//! The rollcall edge runtime: a Raspberry Pi or Jetson watches a camera and
//! says who is there.
//!
//! Frames come from a [`source`] (a V4L2 camera, or replayed stills), go
//! through the same detect → align → embed path as the host ([`runtime`],
//! over the `models` crate's face engine) and the gallery's classifiers
//! (`shared`), faces seen before keep their identity ([`carry`]), are
//! smoothed over time by the [`tracker`], and leave as
//! [`events`] through the [`sinks`]: stdout, a serial line, GPIO LEDs,
//! an [`mqtt`] broker.
//! [`settings`] reads `device.toml` and lays the flags over it; [`run`]
//! ties it all together, swapping in a replaced gallery between frames
//! ([`reload`]).

#![warn(missing_docs)]

pub mod bench;
pub(crate) mod camera;
pub mod carry;
pub(crate) mod clock;
pub mod doctor;
pub mod error;
pub mod events;
pub mod events_log;
pub mod mqtt;
pub(crate) mod reload;
pub(crate) mod rollback;
pub mod run;
pub(crate) mod runtime;
pub(crate) mod service;
pub mod settings;
pub mod sinks;
pub mod source;
pub mod tracker;
pub(crate) mod yuyv;

pub use error::{Error, Result};
