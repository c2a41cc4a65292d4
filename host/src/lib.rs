//! The rollcall host pipeline, one module per stage: `detect` (and align),
//! `embed`, and the helpers they share. The `rollcall` binary is a thin CLI
//! over these functions, and the integration tests call them directly.

pub mod annotate;
pub mod bench;
pub mod detect;
pub mod embed;
pub mod heatmap;
pub mod pool;
pub mod table;
pub mod work;
