//! `report/index.html`: one page a person opens from the file system to see
//! what rollcall found and why.
//!
//! Reads: `detections.json`, `k_selection.json`, `clusters.csv`,
//! `clusters.json`, `embeddings.parquet`, the charts and the chips. Writes:
//! `report/index.html` and `report/similarity_by_cluster.png` (the
//! cosine-similarity heatmap with faces grouped by person). Every link is
//! relative (`../charts/...`, `../aligned/...`), nothing is fetched from a
//! network, and there is no script, so the page works from a USB stick.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::artifacts::clusters::{self, ClusterRow, ClustersFile, OUTLIER_FOLDER};
use crate::artifacts::detections::DetectionsFile;
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::io::{optional, save_image, write_atomic};
use crate::artifacts::selection::{Selection, ThresholdSource};
use crate::artifacts::{Work, WorkDir};
use crate::error::Result;

/// A face is flagged as atypical when its silhouette is below this: it sits
/// about as close to another person as to its own.
pub(crate) const ATYPICAL_SILHOUETTE: f32 = 0.1;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Percent-encodes a path segment for a relative URL.
fn url(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}\
h1{margin-bottom:0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}\
.charts figure{margin:0}.charts img{width:560px;max-width:100%;border:1px solid #eee}\
.faces{display:flex;flex-wrap:wrap;gap:.5em}.faces figure{margin:0;text-align:center;font-size:.8em}\
.faces img{width:96px;height:96px;border:3px solid #cfc;display:block}.faces figure.atypical img{border-color:#f80}\
.note{color:#555}.warn{color:#a40}.sel td{font-weight:bold;background:#ffe}details{margin:1em 0}";

/// Writes the report from whatever stages have run.
pub fn write(work: &WorkDir) -> Result<std::path::PathBuf> {
    let detections = optional(&work.detections_json(), DetectionsFile::read)?;
    let selection = optional(&work.k_selection_json(), Selection::read)?;
    let clusters = optional(&work.clusters_json(), ClustersFile::read)?;
    let rows = optional(&work.clusters_csv(), clusters::read_rows)?;

    let mut h = page_head("rollcall report");
    let _ = writeln!(h, "<h1>rollcall report</h1><p class=\"note\">Work directory: {}</p>", esc(&work.root().display().to_string()));
    // What the user does first, first: name the people; then the people;
    // then the evidence, for whoever wants to check the grouping.
    let mut heat = None;
    if let (Some(c), Some(r)) = (&clusters, &rows) {
        name_them(&mut h, work.root(), c, detections.as_ref());
        heat = heatmap_by_cluster(work, r)?;
        // Pages of an earlier, larger run go first.
        if let Ok(dir) = std::fs::read_dir(work.report()) {
            for e in dir.filter_map(|e| e.ok()) {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("people_") && name.ends_with(".html") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for (name, page) in people_section(&mut h, c, r) {
            write_atomic(&work.report().join(name), page.as_bytes())?;
        }
    }
    h.push_str(
        "<h2 id=\"checking\">Checking the grouping</h2><p class=\"note\">How rollcall found the faces and grouped them into people, \
         for whoever wants to check it: nothing below is needed to name the people.</p>\n",
    );
    if let Some(d) = &detections {
        detection_section(&mut h, d);
    }
    if let Some(s) = &selection {
        selection_section(&mut h, s);
    }
    if let Some(c) = &clusters {
        grouping_charts(&mut h, c, heat);
    }
    h.push_str("</body></html>\n");
    let path = work.report().join("index.html");
    write_atomic(&path, h.as_bytes())?;
    Ok(path)
}

/// People shown on one page; a report of more has a page per this many,
/// linked from the index, so that a school's thousand people do not make
/// one page of twenty thousand pictures.
pub(crate) const PEOPLE_PER_PAGE: usize = 100;

/// The start of a page of the report.
fn page_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(title)
    )
}

/// The report's first screen: how many people, and the command that
/// names them.
fn name_them(h: &mut String, root: &std::path::Path, c: &ClustersFile, d: Option<&DetectionsFile>) {
    let w = rollcall_cli::shell_word(root);
    let photos = d.map_or(String::new(), |d| format!(" in {} photos", d.summary.images_read));
    // The command as it runs from here: a path after `cargo run`.
    let program = esc(&rollcall_cli::invocation("rollcall"));
    let _ = writeln!(
        h,
        "<section id=\"name-them\"><h2>{} people found{photos}: name them</h2>\
         <p>Each person below is a folder <code>clusters/person_&lt;n&gt;</code>. To give them names, run</p>\
         <pre>{program} review {}</pre>\
         <p>It opens a page where you type each name, merge two folders that are one person, and move a face that is in the \
         wrong place. (Renaming the folders in a file manager works too.) Then train the gallery:</p>\
         <pre>{program} train {}/clusters --out {}/model</pre></section>",
        c.clusters.len(),
        esc(&w),
        esc(&w),
        esc(&w)
    );
}

fn detection_section(h: &mut String, d: &DetectionsFile) {
    let s = &d.summary;
    let _ = writeln!(
        h,
        "<h3>Detection</h3><p>Photos from <code>{}</code>; detector <code>{}</code>, recognizer <code>{}</code>; \
         faces kept at confidence &ge; {} and boxes of at least {} px.</p>\
         <table><tr><th class=l>photos found</th><td>{}</td></tr><tr><th class=l>read</th><td>{}</td></tr>\
         <tr><th class=l>skipped</th><td>{}</td></tr><tr><th class=l>faces found</th><td>{}</td></tr>\
         <tr><th class=l>faces kept</th><td>{}</td></tr><tr><th class=l>rejected: too small</th><td>{}</td></tr>\
         <tr><th class=l>rejected: low confidence (shown in red on the annotated photos)</th><td>{}</td></tr></table>",
        esc(&d.input),
        esc(&d.detector.name),
        esc(&d.recognizer.name),
        d.min_confidence,
        d.min_size,
        s.images_found,
        s.images_read,
        s.images_skipped,
        s.faces_found,
        s.faces_kept,
        s.rejected_too_small,
        s.rejected_low_confidence
    );
    let skipped: Vec<_> = d.photos.iter().filter(|p| p.error.is_some()).collect();
    if !skipped.is_empty() {
        h.push_str("<table><tr><th class=l>skipped photo</th><th class=l>reason</th></tr>");
        for p in skipped {
            let _ = write!(h, "<tr><td class=l>{}</td><td class=l>{}</td></tr>", esc(&p.path), esc(p.error.as_deref().unwrap_or("")));
        }
        h.push_str("</table>\n");
    }
    h.push_str(
        "<p class=\"note\">Annotated photos are in <code>annotated/</code>: kept faces green, too small orange, low confidence red.</p>\n",
    );
}

fn selection_section(h: &mut String, s: &Selection) {
    let source = match &s.threshold_source {
        ThresholdSource::Flag => "given on the command line".to_string(),
        ThresholdSource::Manifest(m) => format!("the same-person threshold of recognizer <code>{}</code>", esc(m)),
        ThresholdSource::DataGap => "the widest gap between merge similarities (the recognizer publishes no threshold)".to_string(),
    };
    let _ = write!(
        h,
        "<h3>How many people?</h3><p><b>Recommended k = {}</b>. Average-linkage grouping of the {} faces, merging while groups \
         have a mean cosine similarity of at least {:.3} ({source}), finds {} groups of two or more faces: {} people. \
         {} faces fit no group and are treated as outliers (strangers, false detections, people seen once); they are left out \
         of the KMeans sweep below and go to <code>clusters/{OUTLIER_FOLDER}/</code>.",
        s.recommended_k,
        s.faces,
        s.threshold,
        s.people_estimate,
        s.people_estimate,
        s.outliers.len()
    );
    match s.silhouette_best_k {
        Some(b) if b == s.recommended_k => {
            let _ = write!(h, " The mean silhouette of the sweep peaks at the same k.");
        }
        Some(b) => {
            let _ = write!(h, " <span class=warn>The mean silhouette peaks at k = {b} instead.</span>");
        }
        None => {}
    }
    h.push_str("</p>\n");
    for w in &s.warnings {
        let _ = write!(h, "<p class=warn>{}</p>", esc(w));
    }
    h.push_str("<table><tr><th>k</th><th>distortion</th><th>inertia</th><th>mean silhouette</th></tr>");
    for r in &s.rows {
        let cls = if r.k == s.recommended_k { " class=sel" } else { "" };
        let _ =
            write!(h, "<tr{cls}><td>{}</td><td>{:.4}</td><td>{:.3}</td><td>{:.4}</td></tr>", r.k, r.distortion, r.inertia, r.silhouette);
    }
    h.push_str("</table>\n<div class=charts>");
    for (f, cap) in [
        ("k_distortion.svg", "Distortion elbow"),
        ("k_inertia.svg", "Inertia elbow"),
        ("k_silhouette.svg", "Silhouette against k"),
        ("pca.svg", "All faces, PCA"),
    ] {
        chart(h, f, cap);
    }
    for k in s.recommended_k.saturating_sub(1)..=s.recommended_k + 1 {
        if s.rows.iter().any(|r| r.k == k) {
            chart(h, &format!("silhouette_k{k}.svg"), &format!("Silhouette diagram, k = {k}"));
        }
    }
    h.push_str("</div>\n<details><summary>PCA scatter for every k</summary><div class=charts>");
    for r in &s.rows {
        chart(h, &format!("pca_k{}.svg", r.k), &format!("k = {}", r.k));
    }
    h.push_str("</div></details>\n");
}

fn chart(h: &mut String, file: &str, caption: &str) {
    let _ = write!(
        h,
        "<figure><img src=\"../charts/{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
        url(file),
        esc(caption),
        esc(caption)
    );
}

/// Renders the similarity heatmap with faces grouped by cluster (outliers
/// last), so each person is a bright block on the diagonal.
fn heatmap_by_cluster(work: &Work, rows: &[ClusterRow]) -> Result<Option<String>> {
    let Some(table) = optional(&work.embeddings(), EmbeddingTable::read)? else { return Ok(None) };
    let index: BTreeMap<&str, usize> = table.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let mut order: Vec<(&ClusterRow, usize)> = rows.iter().filter_map(|r| index.get(r.file.as_str()).map(|&i| (r, i))).collect();
    order.sort_by_key(|(r, i)| (if r.cluster < 0 { i64::MAX } else { r.cluster }, *i));
    let data: Vec<f32> = order.iter().flat_map(|&(_, i)| table.row(i).to_vec()).collect();
    let img = super::heatmap::render(&data, table.dim, 800);
    let name = "similarity_by_cluster.png";
    save_image(&work.report().join(name), &img)?;
    Ok(Some(name.to_string()))
}

/// KMeans' figures and the charts of the people, in the part of the report
/// that checks the grouping.
fn grouping_charts(h: &mut String, c: &ClustersFile, heat: Option<String>) {
    let _ = write!(
        h,
        "<h3>The people as groups</h3><p>KMeans with k = {} on the faces that are not outliers: mean silhouette {:.3}, \
         inertia {:.3}. A face's silhouette compares how close it is to its own group and to the next one: a face below \
         {ATYPICAL_SILHOUETTE} is marked \"least like the others\" and may belong elsewhere.</p><div class=charts>",
        c.k, c.mean_silhouette, c.inertia
    );
    chart(h, "clusters_pca.svg", "People, PCA with centroids");
    chart(h, "clusters_silhouette.svg", "Mean silhouette per person");
    chart(h, "clusters_silhouette_diagram.svg", "Silhouette per face");
    if let Some(name) = heat {
        let _ = write!(
            h,
            "<figure><img src=\"{}\" alt=\"cosine similarity\"><figcaption>Cosine similarity, faces grouped by person \
             (outliers last; <a href=\"../similarity.png\">in file order</a>)</figcaption></figure>",
            url(&name)
        );
    }
    h.push_str("</div>\n");
}

/// The people: a gallery each (a page per [`PEOPLE_PER_PAGE`] when there
/// are more), then the outliers; returns the extra pages `(file, html)`.
fn people_section(h: &mut String, c: &ClustersFile, rows: &[ClusterRow]) -> Vec<(String, String)> {
    h.push_str(
        "<h2>The people</h2><p class=\"note\">Each person's faces, the most typical first; a face outlined in orange is the \
         least like the others in its folder and may belong to someone else.</p>\n",
    );
    let mut by_cluster: BTreeMap<i64, Vec<&ClusterRow>> = BTreeMap::new();
    for r in rows {
        by_cluster.entry(r.cluster).or_default().push(r);
    }
    let mut pages = Vec::new();
    if c.clusters.len() <= PEOPLE_PER_PAGE {
        for info in &c.clusters {
            gallery(h, info, by_cluster.get(&(info.cluster as i64)).map_or(&[][..], Vec::as_slice));
        }
    } else {
        h.push_str("<p>The people, a page each of up to 100:</p><ul>");
        for (p, chunk) in c.clusters.chunks(PEOPLE_PER_PAGE).enumerate() {
            let name = format!("people_{}.html", p + 1);
            let first = chunk.first().map_or(0, |i| i.cluster);
            let last = chunk.last().map_or(0, |i| i.cluster);
            let _ = write!(h, "<li><a href=\"{name}\">people {first} to {last}</a></li>");
            let mut page = page_head(&format!("rollcall report: people {first} to {last}"));
            let _ = write!(page, "<p><a href=\"index.html\">the report</a></p><h2>People {first} to {last}</h2>");
            for info in chunk {
                gallery(&mut page, info, by_cluster.get(&(info.cluster as i64)).map_or(&[][..], Vec::as_slice));
            }
            page.push_str("</body></html>\n");
            pages.push((name, page));
        }
        h.push_str("</ul>\n");
    }
    let outliers = by_cluster.get(&-1).map_or(&[][..], Vec::as_slice);
    if !outliers.is_empty() {
        let _ = write!(
            h,
            "<section class=\"outlier-gallery\"><h3>Outliers &middot; {} faces that look like nobody else here</h3>\
             <p class=\"note\">Strangers, faces seen once, things that are not faces. In <code>clusters/{OUTLIER_FOLDER}/</code>: \
             move one into a person's folder if you know them.</p><div class=faces>",
            outliers.len()
        );
        for f in outliers {
            let _ = write!(
                h,
                "<figure class=atypical><img loading=lazy src=\"../aligned/{}\" alt=\"{}\" title=\"{}\"></figure>",
                url(&f.file),
                esc(&f.file),
                esc(&f.file)
            );
        }
        h.push_str("</div></section>\n");
    }
    pages
}

/// One person's faces, most typical first; pictures load as they scroll
/// into view.
fn gallery(h: &mut String, info: &clusters::ClusterInfo, faces: &[&ClusterRow]) {
    let mut faces = faces.to_vec();
    faces.sort_by(|a, b| b.silhouette.unwrap_or(0.0).total_cmp(&a.silhouette.unwrap_or(0.0)));
    let _ = write!(
        h,
        "<section class=\"cluster-gallery\" id=\"{}\"><h3>{} &middot; {} faces</h3><div class=faces>",
        esc(&info.folder),
        esc(&info.folder),
        info.size,
    );
    for f in faces {
        let s = f.silhouette.unwrap_or(0.0);
        // Only a face that needs a look is captioned: a caption under every
        // face says nothing. The number is for whoever hovers.
        let (cls, caption) =
            if s < ATYPICAL_SILHOUETTE { (" class=atypical", "<figcaption>least like the others</figcaption>") } else { ("", "") };
        let _ = write!(
            h,
            "<figure{cls}><img loading=lazy src=\"../aligned/{}\" alt=\"{}\" title=\"{} (silhouette {s:.2})\">{caption}</figure>",
            url(&f.file),
            esc(&f.file),
            esc(&f.file)
        );
    }
    h.push_str("</div></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_urls() {
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(url("aligned_a b#1.png"), "aligned_a%20b%231.png");
    }
}
