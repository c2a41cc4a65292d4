//! The rollcall host library: every command of the `rollcall` program as a
//! function that tests call directly.
//!
//! - [`stages`]: one module per pipeline stage, numbered in order;
//! - [`pipeline`]: the stages chained (`rollcall run`, `export --quantize`);
//! - [`artifacts`]: every file rollcall writes, as a type with its reader
//!   and writer;
//! - `analysis` (KMeans, linkage, silhouettes, learning), `render` (charts,
//!   heatmaps, annotated photos, the report) and `runner` (the one parallel
//!   loop over photos): the machinery the stages share;
//! - [`bench`]: the speed figures behind `rollcall bench`;
//! - [`review`]: `rollcall review`, naming people in a local web page.
//!
//! Data flows one way: photos → detections → embeddings → people → model →
//! gallery; each stage reads what the one before wrote.

pub(crate) mod analysis;
pub mod artifacts;
pub mod bench;
pub mod error;
pub mod pipeline;
pub(crate) mod render;
pub mod review;
pub(crate) mod runner;
pub mod stages;

pub use error::{Error, Result};
pub use render::report::write as write_report;
pub use render::training::summary as training_summary;
