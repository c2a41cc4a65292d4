//! Where the shared real photos are (`../shared/data` beside the checkout,
//! or `ROLLCALL_SHARED_DATA` / `ROLLCALL_FACES`), and what `labels.csv`
//! says about them. They are never copied into the repository; a test that
//! needs them fails with a message saying where it looked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `../shared/data` beside the checkout.
pub fn shared_data() -> PathBuf {
    match std::env::var_os("ROLLCALL_SHARED_DATA") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace().join("..").join("shared").join("data"),
    }
}

/// The labelled photos, checked to exist.
pub fn faces_dir() -> PathBuf {
    let dir = match std::env::var_os("ROLLCALL_FACES") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => shared_data().join("faces"),
    };
    assert!(dir.join("labels.csv").is_file(), "the shared test photos are missing: expected {}/labels.csv", dir.display());
    dir
}

/// The reference outputs for numerical agreement.
pub fn golden_json() -> PathBuf {
    let p = shared_data().join("golden").join("reference.json");
    assert!(p.is_file(), "the reference outputs are missing: expected {}", p.display());
    p
}

/// One row of `labels.csv`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Label {
    /// `deepface`, `dlib_johns` or `misc_small`.
    pub set: String,
    /// Identity, or `_group`, `_hard`, `_nonface`.
    pub identity: String,
    /// Path relative to the faces folder.
    pub path: String,
    /// Where the photo came from.
    pub source_path: String,
    /// Free text.
    pub note: String,
}

impl Label {
    /// Whether this is a photo of one labelled person.
    pub fn is_identity(&self) -> bool {
        !self.identity.starts_with('_')
    }

    /// Absolute path.
    pub fn file(&self) -> PathBuf {
        faces_dir().join(&self.path)
    }
}

/// Every row of `labels.csv`.
pub fn labels() -> Vec<Label> {
    let path = faces_dir().join("labels.csv");
    let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.deserialize().map(|row| row.unwrap_or_else(|e| panic!("{}: {e}", path.display()))).collect()
}

/// Identity photos of one set, grouped by identity, file names sorted.
pub fn identities(set: &str) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for l in labels().into_iter().filter(|l| l.set == set && l.is_identity()) {
        out.entry(l.identity.clone()).or_default().push(l.file());
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// A temporary `<identity>/<photo>` tree of symlinks to the labelled photos
/// of `sets` (no `_group`, `_hard` or `_nonface` photos): the input of the
/// clustering tests, and their truth.
pub fn labelled_tree(sets: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    for l in labels().into_iter().filter(|l| sets.contains(&l.set.as_str()) && l.is_identity()) {
        let d = dir.path().join(&l.identity);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        let src = l.file();
        let name = src.file_name().unwrap_or_default().to_owned();
        std::os::unix::fs::symlink(&src, d.join(name)).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    }
    dir
}
