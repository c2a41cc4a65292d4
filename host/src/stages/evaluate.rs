//! Stage 5, evaluate: score a clustering against known identities.
//!
//! Reads: `metadata.csv` and `clusters.csv` of a work directory, and the
//! truth, either a folder tree `<identity>/<photo>` (top-level folders whose
//! name starts with `_`, such as `_group`, are not identities) or a CSV with
//! a `path,identity` header, paths relative to the CSV's folder. A truth path
//! naming a photo labels that photo's **main face** (its largest kept face):
//! photo labels say who the photo is of, not who else stands behind. A truth
//! path naming a chip (`aligned_....png`) labels that face exactly.
//! Writes: `evaluation.json`, and returns the scores for printing.
//!
//! Outliers count as clusters of one, so a labelled face set aside as an
//! outlier costs recall, as it should.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rollcall_files::photos::is_photo_name;

use crate::analysis::metrics;
use crate::artifacts::evaluation::Evaluation;
use crate::artifacts::{WorkDir, clusters, metadata};
use crate::error::{Error, Result};

/// Truth labels keyed by canonical photo path, and by chip file name.
#[derive(Debug, Default)]
pub struct Truth {
    photos: HashMap<PathBuf, String>,
    chips: HashMap<String, String>,
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Truth {
    /// Loads a truth tree or CSV.
    pub fn load(path: &Path) -> Result<Self> {
        let mut t = Truth::default();
        if path.is_dir() {
            for photo in rollcall_files::photos::list(path, &[])?.photos {
                let rel = photo.strip_prefix(path).unwrap_or(&photo);
                let mut parts = rel.components();
                let (Some(first), Some(_)) = (parts.next(), parts.next()) else { continue };
                let identity = first.as_os_str().to_string_lossy().into_owned();
                if identity.starts_with('_') {
                    continue;
                }
                t.photos.insert(canonical(&photo), identity);
            }
        } else {
            let base = path.parent().unwrap_or(Path::new("."));
            let csv_err = |source| Error::Csv { path: path.to_path_buf(), source };
            let bytes = crate::artifacts::io::read_table(path)?;
            let mut r = csv::Reader::from_reader(bytes.as_slice());
            let headers = r.headers().map_err(csv_err)?.clone();
            let (Some(pi), Some(ii)) = (headers.iter().position(|h| h == "path"), headers.iter().position(|h| h == "identity")) else {
                return Err(Error::Truth { path: path.to_path_buf(), reason: "needs a header with `path` and `identity` columns".into() });
            };
            for rec in r.records() {
                let rec = rec.map_err(csv_err)?;
                let (Some(p), Some(id)) = (rec.get(pi), rec.get(ii)) else { continue };
                let p = Path::new(p);
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name.starts_with("aligned_") && !p.is_absolute() && p.components().count() == 1 {
                    t.chips.insert(name, id.to_string());
                } else if is_photo_name(p) {
                    let full = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
                    t.photos.insert(canonical(&full), id.to_string());
                }
            }
        }
        if t.photos.is_empty() && t.chips.is_empty() {
            return Err(Error::Truth { path: path.to_path_buf(), reason: "no labelled photos found".into() });
        }
        Ok(t)
    }
}

/// Scores `clusters.csv` against `truth`, writes `evaluation.json`.
pub fn evaluate(work: &WorkDir, truth_path: &Path) -> Result<Evaluation> {
    let truth = Truth::load(truth_path)?;
    let meta = metadata::read(&work.metadata_csv())?;
    if !work.clusters_csv().exists() {
        return Err(Error::Missing { path: work.clusters_csv(), hint: "run `rollcall cluster` first" });
    }
    let clusters = clusters::read_rows(&work.clusters_csv())?;

    // The main face of every photo: its largest kept face.
    let mut main: HashMap<&str, (&str, f32)> = HashMap::new();
    for m in &meta {
        let area = m.area();
        let e = main.entry(m.original_file.as_str()).or_insert((m.aligned_file.as_str(), area));
        if area > e.1 {
            *e = (m.aligned_file.as_str(), area);
        }
    }
    let mut chip_identity: HashMap<&str, String> = HashMap::new();
    for (photo, (chip, _)) in &main {
        if let Some(id) = truth.photos.get(&canonical(Path::new(photo))) {
            chip_identity.insert(chip, id.clone());
        }
    }
    for (chip, id) in &truth.chips {
        chip_identity.insert(chip.as_str(), id.clone());
    }

    let (mut t, mut p) = (Vec::new(), Vec::new());
    let mut labelled_outliers = 0;
    for row in &clusters {
        let Some(id) = chip_identity.get(row.file.as_str()) else { continue };
        t.push(id.clone());
        if row.cluster < 0 {
            labelled_outliers += 1;
            p.push(format!("outlier:{}", row.file));
        } else {
            p.push(format!("cluster:{}", row.cluster));
        }
    }
    if t.is_empty() {
        return Err(Error::Truth {
            path: truth_path.to_path_buf(),
            reason: format!("no face in {} matches it", work.clusters_csv().display()),
        });
    }
    let eval = Evaluation {
        truth: truth_path.display().to_string(),
        labelled_faces: t.len(),
        unlabelled_faces: clusters.len() - t.len(),
        labelled_outliers,
        scores: metrics::score(&t, &p),
    };
    eval.write(&work.evaluation_json())?;
    Ok(eval)
}
