//! Which files are photos, and every photo under a folder.

use std::path::{Path, PathBuf};

/// File extensions treated as photos (any case).
pub const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp"];

/// Whether a file name has a photo extension.
pub fn is_photo_name(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// A folder that could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list {}", path.display())]
pub struct ListError {
    /// The folder (or entry) that failed.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Every photo under `root` (or `root` itself if it is a file), sorted by
/// path so runs are reproducible. Hidden files and folders are skipped.
pub fn list(root: &Path) -> Result<Vec<PathBuf>, ListError> {
    if root.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ListError { path, source }
    };
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(fail(&dir))? {
            let entry = entry.map_err(fail(&dir))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = entry.file_type().map_err(fail(&path))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_extensions_ignore_case() {
        assert!(is_photo_name(Path::new("a.JPG")) && is_photo_name(Path::new("b.webp")));
        assert!(!is_photo_name(Path::new("notes.txt")) && !is_photo_name(Path::new("noext")));
    }
}
