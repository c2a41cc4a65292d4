//! Pure code shared by the rollcall host and device: face alignment,
//! embedding and classifier math, the gallery format, the events the device
//! reports and logs (which the host reads back), and the messages the
//! device sends over a serial line.
//!
//! Nothing here performs I/O but reading a gallery file (with the `std`
//! feature, through [`regular`]), and the crate builds without `std` (with
//! `alloc`), so the gallery and wire types decode on a microcontroller with
//! the very same code that encodes them on the host.

// Other crates build on this one: its public API is documented.
#![warn(missing_docs)]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod align;
pub mod assign;
pub mod classify;
pub mod digest;
pub mod embedding;
pub mod events;
pub mod gallery;
pub mod geometry;
pub mod names;
#[cfg(feature = "std")]
pub mod regular;
pub mod signature;
pub mod wire;
