//! The work directory's layout, the photo listing, and atomic output writes.
//!
//! Every stage reads and writes under one work directory:
//!
//! | path | written by |
//! |---|---|
//! | `aligned/aligned_<photo>_<i>.png` | detect |
//! | `annotated/<photo>.jpg` | detect |
//! | `metadata.csv`, `detections.json` | detect |
//! | `embeddings.parquet`, `similarity.png` | embed |
//! | `k_selection.csv`, `k_selection.json`, `charts/k_*.svg`, `charts/pca*.svg`, `charts/silhouette_k*.svg` | select-k |
//! | `clusters/person_<n>/`, `clusters/_outliers/`, `clusters.csv`, `clusters.json`, `charts/clusters_*.svg` | cluster |
//! | `evaluation.json` | evaluate |
//! | `report/index.html` | report (also run by cluster) |
//!
//! Outputs are written to a temporary file and renamed into place, so an
//! interrupted run never leaves half a file behind.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// File extensions treated as photos (case-insensitive).
pub const PHOTO_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp"];

/// Paths inside a work directory.
#[derive(Debug, Clone)]
pub struct Work {
    root: PathBuf,
}

impl Work {
    /// A work directory at `root` (not created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Work { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Aligned chips.
    pub fn aligned(&self) -> PathBuf {
        self.root.join("aligned")
    }

    /// Annotated photos.
    pub fn annotated(&self) -> PathBuf {
        self.root.join("annotated")
    }

    /// One row per kept face.
    pub fn metadata_csv(&self) -> PathBuf {
        self.root.join("metadata.csv")
    }

    /// Every photo, every detection, every verdict.
    pub fn detections_json(&self) -> PathBuf {
        self.root.join("detections.json")
    }

    /// The embedding table.
    pub fn embeddings(&self) -> PathBuf {
        self.root.join("embeddings.parquet")
    }

    /// The cosine-similarity heatmap.
    pub fn similarity_png(&self) -> PathBuf {
        self.root.join("similarity.png")
    }

    /// The k sweep, one row per k.
    pub fn k_selection_csv(&self) -> PathBuf {
        self.root.join("k_selection.csv")
    }

    /// The k sweep with the recommendation and outliers.
    pub fn k_selection_json(&self) -> PathBuf {
        self.root.join("k_selection.json")
    }

    /// Charts (SVG).
    pub fn charts(&self) -> PathBuf {
        self.root.join("charts")
    }

    /// Cluster folders, which become the user's labels.
    pub fn clusters(&self) -> PathBuf {
        self.root.join("clusters")
    }

    /// One row per face: cluster, silhouette, distance to centroid.
    pub fn clusters_csv(&self) -> PathBuf {
        self.root.join("clusters.csv")
    }

    /// Clustering summary for the report.
    pub fn clusters_json(&self) -> PathBuf {
        self.root.join("clusters.json")
    }

    /// Scores against known labels.
    pub fn evaluation_json(&self) -> PathBuf {
        self.root.join("evaluation.json")
    }

    /// The HTML report folder.
    pub fn report(&self) -> PathBuf {
        self.root.join("report")
    }
}

/// Every photo under `root` (or `root` itself if it is a file), sorted by
/// path so runs are reproducible. Hidden files and directories are skipped.
pub fn list_photos(root: &Path) -> Result<Vec<PathBuf>> {
    if root.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = entry.file_type().with_context(|| format!("cannot stat {}", path.display()))?;
            if ft.is_dir() || (ft.is_symlink() && path.is_dir()) {
                stack.push(path);
            } else if is_photo_name(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether a file name has a photo extension.
pub fn is_photo_name(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| PHOTO_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// A file-name-safe identifier for a photo: its path relative to the input
/// root, extension dropped, with path separators turned into `__`, so photos
/// of the same name in different folders never collide.
pub fn photo_key(root: &Path, photo: &Path) -> String {
    let rel = match photo.strip_prefix(root) {
        Ok(r) if !r.as_os_str().is_empty() => r,
        // The root is the photo itself: its file name is the key.
        _ => photo.file_name().map(Path::new).unwrap_or(photo),
    };
    let rel = rel.with_extension("");
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let key = if parts.is_empty() { "photo".to_string() } else { parts.join("__") };
    key.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    rollcall_models::store::write_atomic(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a JSON file written by a stage, naming the file in errors.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: malformed", path.display()))
}

/// Writes `rows` as a CSV file (header from the first row) atomically.
pub fn write_csv<T: serde::Serialize>(path: &Path, rows: impl IntoIterator<Item = T>) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).with_context(|| format!("cannot encode {}", path.display()))?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("cannot encode {}: {e}", path.display()))?;
    write_atomic(path, &bytes)
}

/// Encodes an image in the format its extension names and writes it atomically.
pub fn save_image_atomic(path: &Path, image: &image::DynamicImage) -> Result<()> {
    let format = image::ImageFormat::from_path(path).with_context(|| format!("{}: unknown image extension", path.display()))?;
    let mut buf = std::io::Cursor::new(Vec::new());
    image.write_to(&mut buf, format).with_context(|| format!("cannot encode {}", path.display()))?;
    write_atomic(path, buf.get_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_keys_are_unique_per_folder_and_safe() {
        let root = Path::new("/photos");
        assert_eq!(photo_key(root, Path::new("/photos/a/img1.jpg")), "a__img1");
        assert_eq!(photo_key(root, Path::new("/photos/b/img1.jpg")), "b__img1");
        assert_eq!(photo_key(root, Path::new("/photos/x y/é!.png")), "x_y__é_");
        assert_eq!(photo_key(Path::new("/p/one.jpg"), Path::new("/p/one.jpg")), "one");
    }

    #[test]
    fn photo_extensions_ignore_case() {
        assert!(is_photo_name(Path::new("a.JPG")) && is_photo_name(Path::new("b.webp")));
        assert!(!is_photo_name(Path::new("notes.txt")) && !is_photo_name(Path::new("noext")));
    }
}
