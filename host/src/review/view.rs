//! What the review page shows: the folders of `clusters/` as they are on
//! disk now, each face with its silhouette and the photo it came from, and
//! the suggestions, each with the cosine behind it.
//!
//! The view carries a `version`: a digest of the folder tree (every folder
//! and file name). An action names the version it was made on, and is
//! refused if the tree changed since, so the page never acts on a stale
//! view; the page polls the version to notice a file manager's changes.

use std::collections::HashMap;
use std::path::Path;

use rollcall_shared::embedding::{dot, l2_normalize};
use serde::Serialize;

use crate::artifacts::Work;
use crate::artifacts::people::is_junk;
use crate::render::report::ATYPICAL_SILHOUETTE;

/// One face.
#[derive(Debug, Clone, Serialize)]
pub struct FaceView {
    /// File name in its folder.
    pub file: String,
    /// Silhouette from the clustering, if it was clustered.
    pub silhouette: Option<f32>,
    /// Less typical of its person than of another.
    pub atypical: bool,
    /// The photo it came from, if known.
    pub photo: Option<String>,
    /// Its box in that photo.
    pub bbox: Option<[f32; 4]>,
    /// The photo's width and height in pixels (the box's frame).
    pub photo_size: Option<[u32; 2]>,
}

/// One folder.
#[derive(Debug, Clone, Serialize)]
pub struct FolderView {
    pub name: String,
    /// `person`, `outliers` or `junk`.
    pub section: &'static str,
    pub faces: Vec<FaceView>,
    /// Files that are not chips (a user's notes).
    pub others: usize,
}

/// A suggestion, with the cosine that makes it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Suggestion {
    /// Two people whose centroids are closer than the same-person threshold.
    SamePerson { a: String, b: String, cosine: f32 },
    /// A face nearer another person's centroid than its own.
    SomeoneElse { face: String, folder: String, nearer: String, own: f32, cosine: f32 },
    /// An outlier whose nearest person is above the threshold.
    Outlier { face: String, folder: String, person: String, cosine: f32 },
}

/// The whole page's data.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub version: String,
    pub folders: Vec<FolderView>,
    pub suggestions: Vec<Suggestion>,
    /// The same-person cosine the suggestions use.
    pub threshold: Option<f32>,
    /// What can be undone, in words.
    pub undo: Option<String>,
}

fn is_chip(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".png")
}

/// Every folder and file name under `clusters/`, sorted, one level deep.
fn listing(clusters: &Path) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(clusters) else { return out };
    for d in dirs.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()) {
        let Some(name) = d.file_name().to_str().map(str::to_string) else { continue };
        if name.starts_with('.') {
            continue;
        }
        let mut files: Vec<String> = std::fs::read_dir(d.path())
            .map(|r| r.filter_map(|e| e.ok()).filter_map(|e| e.file_name().to_str().map(str::to_string)).collect())
            .unwrap_or_default();
        files.sort();
        out.push((name, files));
    }
    out.sort();
    out
}

/// The digest of the tree.
pub fn version(clusters: &Path) -> String {
    let mut text = String::new();
    for (d, files) in listing(clusters) {
        text.push_str(&d);
        text.push('\n');
        for f in files {
            text.push('\t');
            text.push_str(&f);
            text.push('\n');
        }
    }
    rollcall_shared::digest::sha256_hex(text.as_bytes())[..16].to_string()
}

/// Builds the view of `work` now.
pub fn view(work: &Work, junk: &[String], threshold: Option<f32>, undo: Option<String>) -> View {
    let clusters = work.clusters();
    let rows = crate::artifacts::clusters::read_rows(&work.clusters_csv()).unwrap_or_default();
    let silhouettes: HashMap<String, Option<f32>> = rows.into_iter().map(|r| (r.file, r.silhouette)).collect();
    let meta = crate::artifacts::metadata::read(&work.metadata_csv()).unwrap_or_default();
    let sources: HashMap<String, (String, [f32; 4])> =
        meta.into_iter().map(|m| (m.aligned_file, (m.original_file, [m.x1, m.y1, m.x2, m.y2]))).collect();
    let sizes: HashMap<String, [u32; 2]> = crate::artifacts::detections::DetectionsFile::read(&work.detections_json())
        .map(|d| d.photos.into_iter().map(|p| (p.path, [p.width, p.height])).collect())
        .unwrap_or_default();
    let mut folders = Vec::new();
    for (name, files) in listing(&clusters) {
        let section = if name == "_outliers" {
            "outliers"
        } else if is_junk(&name, junk) {
            "junk"
        } else {
            "person"
        };
        let mut faces: Vec<FaceView> = files
            .iter()
            .filter(|f| is_chip(f))
            .map(|f| {
                let silhouette = silhouettes.get(f).copied().flatten();
                let (photo, bbox) = sources.get(f).map(|(p, b)| (Some(p.clone()), Some(*b))).unwrap_or((None, None));
                let photo_size = photo.as_ref().and_then(|p| sizes.get(p).copied());
                FaceView {
                    file: f.clone(),
                    silhouette,
                    atypical: silhouette.is_some_and(|s| s < ATYPICAL_SILHOUETTE),
                    photo,
                    bbox,
                    photo_size,
                }
            })
            .collect();
        faces.sort_by(|a, b| b.silhouette.unwrap_or(f32::MIN).total_cmp(&a.silhouette.unwrap_or(f32::MIN)).then(a.file.cmp(&b.file)));
        let others = files.iter().filter(|f| !is_chip(f)).count();
        folders.push(FolderView { name, section, faces, others });
    }
    let suggestions = suggestions(work, &folders, threshold);
    View { version: version(&clusters), folders, suggestions, threshold, undo }
}

/// The suggestions, strongest first within each kind: people who may be
/// one, faces nearer someone else, outliers near a person.
fn suggestions(work: &Work, folders: &[FolderView], threshold: Option<f32>) -> Vec<Suggestion> {
    let Some(t) = threshold else { return Vec::new() };
    let Ok(table) = crate::artifacts::embeddings::EmbeddingTable::read(&work.embeddings()) else { return Vec::new() };
    let index: HashMap<&str, usize> = table.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let emb = |f: &str| index.get(f).map(|&i| table.row(i));
    let people = Centroids::of(folders, emb, table.dim);
    let mut same = Vec::new();
    for (i, (a, ca)) in people.0.iter().enumerate() {
        for (b, cb) in &people.0[i + 1..] {
            let c = dot(ca, cb);
            if c >= t {
                same.push(Suggestion::SamePerson { a: a.to_string(), b: b.to_string(), cosine: c });
            }
        }
    }
    let mut else_ = Vec::new();
    let mut outl = Vec::new();
    for f in folders {
        for face in &f.faces {
            let Some(e) = emb(&face.file) else { continue };
            match f.section {
                "person" => {
                    let own = people.0.iter().find(|(n, _)| *n == f.name).map_or(0.0, |(_, c)| dot(e, c));
                    if let Some((other, c)) = people.nearest(e, &f.name)
                        && c > own
                    {
                        else_.push(Suggestion::SomeoneElse {
                            face: face.file.clone(),
                            folder: f.name.clone(),
                            nearer: other.into(),
                            own,
                            cosine: c,
                        });
                    }
                }
                "outliers" => {
                    if let Some((p, c)) = people.nearest(e, "")
                        && c >= t
                    {
                        outl.push(Suggestion::Outlier { face: face.file.clone(), folder: f.name.clone(), person: p.into(), cosine: c });
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for mut kind in [same, else_, outl] {
        kind.sort_by(|x, y| y.cosine().total_cmp(&x.cosine()));
        out.extend(kind);
    }
    out
}

/// Each person folder's centroid (the normalised mean of its faces'
/// embeddings).
struct Centroids<'a>(Vec<(&'a str, Vec<f32>)>);

impl<'a> Centroids<'a> {
    fn of<'e>(folders: &'a [FolderView], emb: impl Fn(&str) -> Option<&'e [f32]>, dim: usize) -> Centroids<'a> {
        let people = folders
            .iter()
            .filter(|f| f.section == "person")
            .filter_map(|f| {
                let rows: Vec<&[f32]> = f.faces.iter().filter_map(|x| emb(&x.file)).collect();
                if rows.is_empty() {
                    return None;
                }
                let mut c = vec![0f32; dim];
                rows.iter().for_each(|r| c.iter_mut().zip(r.iter()).for_each(|(a, b)| *a += b));
                l2_normalize(&mut c);
                Some((f.name.as_str(), c))
            })
            .collect();
        Centroids(people)
    }

    /// The person other than `except` whose centroid is nearest `e`, and
    /// the cosine.
    fn nearest(&self, e: &[f32], except: &str) -> Option<(&'a str, f32)> {
        self.0.iter().filter(|(n, _)| *n != except).map(|(n, c)| (*n, dot(e, c))).max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

impl Suggestion {
    /// The cosine that makes it.
    fn cosine(&self) -> f32 {
        match self {
            Suggestion::SamePerson { cosine, .. } | Suggestion::SomeoneElse { cosine, .. } | Suggestion::Outlier { cosine, .. } => *cosine,
        }
    }
}
