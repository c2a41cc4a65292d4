//! Fixtures for rollcall's tests.
//!
//! - [`synthetic`]: folders of synthetic photos whose painted faces the fake
//!   engine (`rollcall_models::fake`) detects and recognises, for the fast
//!   tier: no models, no shared photos, made in a temporary folder by the
//!   test that needs them;
//! - [`tiny_gallery`]: a committed gallery of three painted people, made
//!   with the fake engine, for the device's fast tests;
//! - [`shared`]: where the real photos of `../shared/data` are, and what
//!   their `labels.csv` says, for the real-model tier.

pub mod shared;
pub mod synthetic;

use std::path::PathBuf;

/// The committed gallery of three painted people (identities 101, 102 and
/// 103, named `ada`, `ben` and `cy`), trained and exported with the fake
/// engine by `rollcall`'s `tiny_gallery_is_current` test, which also checks
/// that it is still what the code makes.
pub fn tiny_gallery() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("tiny.rcg")
}

/// The people of [`tiny_gallery`]: name and painted identity.
pub const TINY_PEOPLE: [(&str, u64); 3] = [("ada", 101), ("ben", 102), ("cy", 103)];
