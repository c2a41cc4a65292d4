//! The host's fast tests, one binary (linking one test binary per file
//! cost more than compiling them): the `rollcall` binary on the fake
//! engine and synthetic photos, one module per subject.

mod bench;
mod cli;
mod common;
mod docs;
mod forget;
mod regression;
mod review;
mod roll;
mod stages;
mod tiny_gallery;
