//! What the review page shows: the folders of `clusters/` as they are on
//! disk now, each face with the photo it came from and whether it needs a
//! look, the suggestions, each with how sure it is (in words, and the
//! cosine behind them), and what was last trained.
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

/// One face.
#[derive(Debug, Clone, Serialize)]
pub struct FaceView {
    /// File name in its folder.
    pub file: String,
    /// Silhouette from the clustering, if it was clustered (for hovering).
    pub silhouette: Option<f32>,
    /// Needs a look: nearer another person than the rest of its own (see
    /// [`Suggestion::SomeoneElse`]).
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
    /// A person's group nobody named yet (`person_<n>`): `train` refuses it.
    pub unnamed: bool,
    pub faces: Vec<FaceView>,
    /// Files that are not chips (a user's notes).
    pub others: usize,
}

/// A suggestion, with the cosine that makes it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Suggestion {
    /// Two people whose centroids are closer than the same-person threshold,
    /// with how sure that is in words ([`certainty`]).
    SamePerson { a: String, b: String, cosine: f32, sure: &'static str },
    /// A face nearer another person's centroid than the centroid of the
    /// rest of its own (itself left out: a face always looks like a mean it
    /// is part of, most of all in a group of two).
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
    /// The last training in the work directory, if any.
    pub trained: Option<Trained>,
}

/// What was trained last, from the model folder the page's button writes:
/// so a reload (or another day) tells what is there.
#[derive(Debug, Clone, Serialize)]
pub struct Trained {
    /// When `training.json` was written, in seconds since 1970 (the page
    /// shows it in the teacher's time).
    pub when: Option<u64>,
    /// In one plain sentence ([`crate::render::training::plain`]).
    pub summary: String,
    /// What a teacher should know besides, in plain words: people who could
    /// not be tested, groups that look like one person, faces left out.
    pub notes: Vec<String>,
    /// The people it learned, to tell whether the groups changed since.
    pub people: Vec<String>,
    /// Everything `train` prints, and the files written.
    pub details: String,
}

/// How sure "maybe the same person" is, in words, from how far the two
/// groups' centroid cosine is above the recognizer's same-person cosine `t`,
/// in quarters of the way from `t` to 1 (the recognizer's own scale, not
/// these photos'): the first quarter "possibly", the second "probably",
/// beyond "very likely".
pub fn certainty(cosine: f32, t: f32) -> &'static str {
    let above = (cosine - t) / (1.0 - t).max(f32::EPSILON);
    if above < 0.25 {
        "possibly"
    } else if above < 0.5 {
        "probably"
    } else {
        "very likely"
    }
}

/// Orders names as a person reads them: `person_2` before `person_10`.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        };
        if o.is_ne() {
            return o;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
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
    out.sort_by(|a, b| natural_order(&a.0, &b.0));
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
pub fn view(work: &Work, junk: &[String], threshold: Option<f32>, undo: Option<String>, trained: Option<Trained>) -> View {
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
                FaceView { file: f.clone(), silhouette, atypical: false, photo, bbox, photo_size }
            })
            .collect();
        faces.sort_by(|a, b| b.silhouette.unwrap_or(f32::MIN).total_cmp(&a.silhouette.unwrap_or(f32::MIN)).then(a.file.cmp(&b.file)));
        let others = files.iter().filter(|f| !is_chip(f)).count();
        let unnamed = section == "person" && crate::artifacts::people::is_unnamed(&name);
        folders.push(FolderView { name, section, unnamed, faces, others });
    }
    let suggestions = suggestions(work, &folders, threshold);
    // One rule for the amber outline and "maybe someone else".
    for s in &suggestions {
        if let Suggestion::SomeoneElse { face, folder, .. } = s
            && let Some(f) = folders.iter_mut().find(|f| f.name == *folder)
            && let Some(x) = f.faces.iter_mut().find(|x| x.file == *face)
        {
            x.atypical = true;
        }
    }
    View { version: version(&clusters), folders, suggestions, threshold, undo, trained }
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
    for (i, a) in people.0.iter().enumerate() {
        for b in &people.0[i + 1..] {
            let c = dot(&a.centroid, &b.centroid);
            if c >= t {
                same.push(Suggestion::SamePerson { a: a.name.to_string(), b: b.name.to_string(), cosine: c, sure: certainty(c, t) });
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
                    // Its own group without it; a face alone in its group
                    // has nothing to be compared with.
                    let Some(own) = people.0.iter().find(|p| p.name == f.name).and_then(|p| p.without(e)) else { continue };
                    let own = dot(e, &own);
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

/// One person folder's faces, summed, and their centroid (the normalised
/// mean).
struct Group<'a> {
    name: &'a str,
    sum: Vec<f32>,
    count: usize,
    centroid: Vec<f32>,
}

impl Group<'_> {
    /// The centroid of the group without the face `e` (one of its own), or
    /// `None` when it is the only one.
    fn without(&self, e: &[f32]) -> Option<Vec<f32>> {
        if self.count < 2 {
            return None;
        }
        let mut c: Vec<f32> = self.sum.iter().zip(e).map(|(s, x)| s - x).collect();
        l2_normalize(&mut c);
        Some(c)
    }
}

/// Each person folder's group.
struct Centroids<'a>(Vec<Group<'a>>);

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
                let mut sum = vec![0f32; dim];
                rows.iter().for_each(|r| sum.iter_mut().zip(r.iter()).for_each(|(a, b)| *a += b));
                let mut centroid = sum.clone();
                l2_normalize(&mut centroid);
                Some(Group { name: f.name.as_str(), sum, count: rows.len(), centroid })
            })
            .collect();
        Centroids(people)
    }

    /// The person other than `except` whose centroid is nearest `e`, and
    /// the cosine.
    fn nearest(&self, e: &[f32], except: &str) -> Option<(&'a str, f32)> {
        self.0.iter().filter(|g| g.name != except).map(|g| (g.name, dot(e, &g.centroid))).max_by(|a, b| a.1.total_cmp(&b.1))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The page listed person_1, person_10, person_11, person_2: names
    /// sorted as text. Numbers are read as numbers now.
    #[test]
    fn regression_groups_were_sorted_as_text() {
        let mut names = ["person_10", "person_2", "Zoë", "person_1", "person_new_1", "ann", "person_02", "_junk_person_3"];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(names, ["_junk_person_3", "ann", "person_1", "person_02", "person_2", "person_10", "person_new_1", "Zoë"]);
    }

    #[test]
    fn certainty_rises_with_the_margin_over_the_threshold() {
        assert_eq!(certainty(0.40, 0.363), "possibly");
        assert_eq!(certainty(0.55, 0.363), "probably");
        assert_eq!(certainty(0.70, 0.363), "very likely");
    }
}
