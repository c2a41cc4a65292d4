//! The user's labels: a clusters folder where each subfolder is a person
//! (renamed from `person_<n>` to a name) holding that person's chips, and
//! junk folders that are nobody.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Folder names that are not people by default (besides names starting
/// with `_` or `.`).
pub const DEFAULT_JUNK: [&str; 2] = ["unknown", "junk"];

/// The default junk list, owned.
pub fn default_junk() -> Vec<String> {
    DEFAULT_JUNK.iter().map(|s| s.to_string()).collect()
}

/// Whether a folder name marks junk.
pub fn is_junk(name: &str, junk: &[String]) -> bool {
    name.starts_with('_') || name.starts_with('.') || junk.iter().any(|j| j.eq_ignore_ascii_case(name))
}

/// The people folders under `clusters`, sorted by name.
pub fn folders(clusters: &Path, junk: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let mut people: Vec<(String, PathBuf)> = std::fs::read_dir(clusters)
        .map_err(Error::read(clusters))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !is_junk(n, junk))
        .collect();
    people.sort();
    Ok(people)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_folders() {
        let junk = default_junk();
        assert!(is_junk("_outliers", &junk) && is_junk("Unknown", &junk) && is_junk("junk", &junk));
        assert!(!is_junk("Robin", &junk));
    }
}
