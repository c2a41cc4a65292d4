//! Charts for the report, drawn with plotters as SVG: crisp at any zoom, a
//! few kilobytes each, and text rendered by the browser, so no font files
//! are needed.

use std::path::Path;

use plotters::prelude::*;

use crate::artifacts::io::write_atomic;
use crate::error::{Error, Result};

/// What drawing code returns: plotters' complaint as text (its error types
/// are generic over the backend).
type Drawn = std::result::Result<(), String>;

/// Size of every chart, in pixels.
pub(crate) const SIZE: (u32, u32) = (760, 480);

/// The colour of cluster `i`.
pub(crate) fn cluster_color(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

fn render(path: &Path, draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Drawn) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| draw(root.clone()))
            .and_then(|_| root.present().map_err(|e| e.to_string()));
        drawn.map_err(|reason| Error::Chart { path: path.to_path_buf(), reason })?;
    }
    write_atomic(path, svg.as_bytes())
}

fn range(values: impl Iterator<Item = f64> + Clone, pad: f64) -> (f64, f64) {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-6);
    (lo - span * pad, hi + span * pad)
}

/// A line chart over integer x (k), with the chosen x marked.
pub(crate) fn line(path: &Path, title: &str, y_label: &str, points: &[(usize, f64)], mark: Option<usize>) -> Result<()> {
    render(path, |root| {
        let (x0, x1) = (points.first().map_or(0, |p| p.0), points.last().map_or(1, |p| p.0));
        let (y0, y1) = range(points.iter().map(|p| p.1), 0.08);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0 as f64 - 0.5..x1 as f64 + 0.5, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("k")
            .y_desc(y_label)
            .x_labels(points.len().min(20))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        chart.draw_series(LineSeries::new(points.iter().map(|&(k, v)| (k as f64, v)), BLUE.stroke_width(2))).map_err(|e| e.to_string())?;
        chart.draw_series(points.iter().map(|&(k, v)| Circle::new((k as f64, v), 4, BLUE.filled()))).map_err(|e| e.to_string())?;
        if let Some(m) = mark {
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(m as f64, y0), (m as f64, y1)], RED.stroke_width(2))))
                .map_err(|e| e.to_string())?
                .label(format!("recommended k = {m}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(2)));
            chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw().map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// A 2-D scatter; `labels` colour the points (None: one colour, `Some(usize::MAX)`
/// entries: grey crosses for outliers), `centroids` are drawn as black-ringed stars.
pub(crate) fn scatter(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    pts: &[[f32; 2]],
    labels: Option<&[usize]>,
    centroids: &[[f32; 2]],
) -> Result<()> {
    render(path, |root| {
        let all = pts.iter().chain(centroids);
        let (x0, x1) = range(all.clone().map(|p| f64::from(p[0])), 0.06);
        let (y0, y1) = range(all.map(|p| f64::from(p[1])), 0.06);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc(axes.0).y_desc(axes.1).draw().map_err(|e| e.to_string())?;
        for (i, p) in pts.iter().enumerate() {
            let at = (f64::from(p[0]), f64::from(p[1]));
            match labels.map(|l| l[i]) {
                Some(usize::MAX) => {
                    chart
                        .draw_series(std::iter::once(Cross::new(at, 4, RGBColor(120, 120, 120).stroke_width(2))))
                        .map_err(|e| e.to_string())?;
                }
                Some(c) => {
                    chart.draw_series(std::iter::once(Circle::new(at, 4, cluster_color(c).filled()))).map_err(|e| e.to_string())?;
                }
                None => {
                    chart.draw_series(std::iter::once(Circle::new(at, 4, BLUE.mix(0.7).filled()))).map_err(|e| e.to_string())?;
                }
            }
        }
        for (c, p) in centroids.iter().enumerate() {
            let at = (f64::from(p[0]), f64::from(p[1]));
            chart.draw_series(std::iter::once(TriangleMarker::new(at, 9, cluster_color(c).filled()))).map_err(|e| e.to_string())?;
            chart.draw_series(std::iter::once(TriangleMarker::new(at, 9, BLACK.stroke_width(1)))).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// A silhouette diagram: each cluster's per-sample values as horizontal bars,
/// sorted within the cluster, and a dashed line at the mean.
pub(crate) fn silhouette_diagram(path: &Path, title: &str, values: &[f32], labels: &[usize], k: usize, mean: f32) -> Result<()> {
    render(path, |root| {
        let gap = 2usize;
        let rows = values.len() + gap * (k + 1);
        let lo = values.iter().fold(0f32, |a, &v| a.min(v)).min(-0.1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(f64::from(lo)..1.0, 0.0..rows as f64)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc("silhouette").y_desc("cluster").disable_y_mesh().y_labels(0).draw().map_err(|e| e.to_string())?;
        let mut y = gap;
        for c in 0..k {
            let mut v: Vec<f32> = values.iter().zip(labels).filter(|(_, l)| **l == c).map(|(v, _)| *v).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            let start = y;
            for s in &v {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y as f64), (f64::from(*s), (y + 1) as f64)],
                        cluster_color(c).filled(),
                    )))
                    .map_err(|e| e.to_string())?;
                y += 1;
            }
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{}", c + 1),
                    (f64::from(lo) * 0.9, (start + y) as f64 / 2.0),
                    ("sans-serif", 12),
                )))
                .map_err(|e| e.to_string())?;
            y += gap;
        }
        // Dashed mean line, drawn as short segments.
        let m = f64::from(mean);
        let dash = rows as f64 / 60.0;
        chart
            .draw_series(
                (0..30).map(|i| PathElement::new(vec![(m, 2.0 * i as f64 * dash), (m, (2 * i + 1) as f64 * dash)], RED.stroke_width(2))),
            )
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Clusters a chart can show one by one (bars, bands); beyond, it shows
/// their distribution.
pub(crate) const MAX_GROUPS: usize = 40;

/// Points a scatter draws; beyond, callers draw a seeded sample
/// ([`sample_rows`]) and say so in the title.
pub(crate) const MAX_POINTS: usize = 5000;

/// `n` rows, or a seeded sample of [`MAX_POINTS`] of them, sorted.
pub(crate) fn sample_rows(n: usize, seed: u64) -> Vec<usize> {
    if n <= MAX_POINTS {
        return (0..n).collect();
    }
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut rows = rand::seq::index::sample(&mut rng, n, MAX_POINTS).into_vec();
    rows.sort_unstable();
    rows
}

/// A histogram of `values` in `bins` equal bins over their range, with a
/// dashed line at their mean.
pub(crate) fn histogram(path: &Path, title: &str, x_label: &str, values: &[f32], bins: usize) -> Result<()> {
    render(path, |root| {
        let lo = values.iter().fold(0f32, |a, &v| a.min(v)).min(-0.1);
        let hi = values.iter().fold(0f32, |a, &v| a.max(v)).max(lo + 0.1);
        let width = (hi - lo) / bins.max(1) as f32;
        let bins = bins.max(1);
        let mut counts = vec![0usize; bins];
        for &v in values {
            counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1).max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(f64::from(lo)..f64::from(hi), 0.0..top as f64 * 1.1)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc(x_label).y_desc("count").draw().map_err(|e| e.to_string())?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = f64::from(lo + i as f32 * width);
                Rectangle::new([(x0, 0.0), (x0 + f64::from(width), c as f64)], BLUE.mix(0.6).filled())
            }))
            .map_err(|e| e.to_string())?;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len().max(1) as f64;
        let dash = top as f64 * 1.1 / 60.0;
        chart
            .draw_series(
                (0..30)
                    .map(|i| PathElement::new(vec![(mean, 2.0 * i as f64 * dash), (mean, (2 * i + 1) as f64 * dash)], RED.stroke_width(2))),
            )
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// A vertical bar chart with one labelled bar per cluster.
pub(crate) fn bars(path: &Path, title: &str, y_label: &str, names: &[String], values: &[f32]) -> Result<()> {
    render(path, |root| {
        let lo = values.iter().fold(0f32, |a, &v| a.min(v));
        let hi = values.iter().fold(0f32, |a, &v| a.max(v)).max(0.1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(60)
            .y_label_area_size(60)
            .build_cartesian_2d((0..names.len()).into_segmented(), f64::from(lo)..f64::from(hi) * 1.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .y_desc(y_label)
            .x_labels(names.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let mut bar =
                    Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), f64::from(v))], cluster_color(i).filled());
                bar.set_margin(0, 0, 6, 6);
                bar
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// A confusion matrix: rows are true people, columns predictions; cells
/// shaded by the row share, with the count written in.
pub(crate) fn confusion(path: &Path, title: &str, names: &[String], counts: &[Vec<usize>]) -> Result<()> {
    render(path, |root| {
        let n = names.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(90)
            .y_label_area_size(110)
            .build_cartesian_2d((0..n).into_segmented(), (0..n).into_segmented())
            .map_err(|e| e.to_string())?;
        let label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("true")
            .x_labels(n)
            .y_labels(n)
            .x_label_formatter(&label)
            .y_label_formatter(&label)
            .x_label_style(("sans-serif", 10).into_font().transform(FontTransform::Rotate90))
            .draw()
            .map_err(|e| e.to_string())?;
        for (t, row) in counts.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            for (p, &c) in row.iter().enumerate() {
                let share = c as f64 / total;
                let shade = (255.0 * (1.0 - share)) as u8;
                let color = if t == p { RGBColor(shade, 255, shade) } else { RGBColor(255, shade, shade) };
                let cell = [(SegmentValue::Exact(p), SegmentValue::Exact(t)), (SegmentValue::Exact(p + 1), SegmentValue::Exact(t + 1))];
                chart.draw_series(std::iter::once(Rectangle::new(cell, color.filled()))).map_err(|e| e.to_string())?;
                if c > 0 {
                    chart
                        .draw_series(std::iter::once(Text::new(
                            c.to_string(),
                            (SegmentValue::CenterOf(p), SegmentValue::CenterOf(t)),
                            ("sans-serif", 11),
                        )))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("line.svg");
        line(&p, "inertia", "inertia", &[(2, 3.0), (3, 2.0), (4, 1.5)], Some(3)).unwrap();
        let s = p.with_file_name("scatter.svg");
        scatter(&s, "pca", ("PC1", "PC2"), &[[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], Some(&[0, 1, usize::MAX]), &[[0.2, 0.2]]).unwrap();
        let d = p.with_file_name("sil.svg");
        silhouette_diagram(&d, "silhouette", &[0.5, 0.2, -0.1, 0.7], &[0, 0, 1, 1], 2, 0.33).unwrap();
        let b = p.with_file_name("bars.svg");
        bars(&b, "mean silhouette", "silhouette", &["person_1".into(), "person_2".into()], &[0.4, -0.05]).unwrap();
        for f in [p, s, d, b] {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{}", f.display());
        }
    }
}
