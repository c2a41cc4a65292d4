//! The rollcall host pipeline, one module per stage: `detect` (and align),
//! `embed`, `select_k`, `cluster`, `evaluate` and `report`, and the helpers
//! they share. The `rollcall` binary is a thin CLI
//! over these functions, and the integration tests call them directly.

pub mod analysis;
pub mod annotate;
pub mod bench;
pub mod charts;
pub mod cluster;
pub mod detect;
pub mod embed;
pub mod evaluate;
pub mod export;
pub mod heatmap;
pub mod pool;
pub mod predict;
pub mod quantize;
pub mod report;
pub mod select_k;
pub mod table;
pub mod train;
pub mod work;
