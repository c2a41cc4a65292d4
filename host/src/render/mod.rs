//! What people look at: SVG charts, the similarity heatmap, annotated
//! photos and the HTML report. Renderers read artifacts and write images
//! and pages; no stage depends on how they draw.

pub(crate) mod annotate;
pub(crate) mod attendance;
pub(crate) mod charts;
pub(crate) mod heatmap;
pub(crate) mod report;
pub(crate) mod roll;
pub(crate) mod training;
