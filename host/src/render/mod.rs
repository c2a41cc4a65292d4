//! What people look at: SVG charts, the similarity heatmap, annotated
//! photos and the HTML report. Renderers read artifacts and write images
//! and pages; no stage depends on how they draw.

pub mod annotate;
pub mod attendance;
pub mod charts;
pub mod heatmap;
pub mod report;
pub mod training;
