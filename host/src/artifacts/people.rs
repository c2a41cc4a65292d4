//! The user's labels: a clusters folder where each subfolder is a person
//! (renamed from `person_<n>` to a name) holding that person's chips, and
//! junk folders that are nobody.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Folder names that are not people by default (besides names starting
/// with `_` or `.`).
pub const DEFAULT_JUNK: [&str; 2] = ["unknown", "junk"];

/// What two names must not share to be two people: see
/// [`rollcall_shared::names::key`] (`Zoë` typed with a combining diaeresis,
/// `zoë` and a Cyrillic look-alike are one person).
pub fn name_key(name: &str) -> String {
    rollcall_shared::names::key(name)
}

/// A folder name `cluster` or `review` gave and nobody changed:
/// `person_<n>` or `person_new_<n>`.
pub fn is_unnamed(name: &str) -> bool {
    let rest = name.strip_prefix("person_new_").or_else(|| name.strip_prefix("person_"));
    rest.is_some_and(|r| r.is_empty() || r.bytes().all(|b| b.is_ascii_digit()))
}

/// The default junk list, owned.
pub fn default_junk() -> Vec<String> {
    DEFAULT_JUNK.iter().map(|s| s.to_string()).collect()
}

/// Whether a folder name marks junk: it starts with `_` or `.`, or it is a
/// junk word written any way, alone or numbered (`Unknown`, a fullwidth
/// `ｕnknown`, `unknown 2`, `unknown_3`: see
/// [`rollcall_shared::names::is_marked`]).
pub fn is_junk(name: &str, junk: &[String]) -> bool {
    name.starts_with('_') || name.starts_with('.') || junk.iter().any(|j| rollcall_shared::names::is_marked(name, j))
}

/// The folders inside the people's and the strangers' folders under
/// `clusters` (`unknown/person_7/`, `Ann/more/`): `train` uses the faces in
/// them as the folder they are in, and says so.
pub fn nested_folders(clusters: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(clusters)
        .min_depth(2)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(clusters).map(Path::to_path_buf).unwrap_or_else(|_| e.path().to_path_buf()))
        .collect();
    out.sort();
    out
}

/// The people folders under `clusters`, sorted by name, each with its name
/// as a label (NFC). A link to a folder is followed (people folders
/// gathered from elsewhere are a fair way to name people); a folder whose
/// name is not UTF-8 cannot be a label and is left out with a warning; a
/// folder whose name breaks the one rule on names
/// ([`rollcall_shared::names`]) is refused, with every such folder named.
pub fn folders(clusters: &Path, junk: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let mut people = Vec::new();
    for e in std::fs::read_dir(clusters).map_err(Error::read(clusters))?.filter_map(|e| e.ok()) {
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        match e.file_name().into_string() {
            Ok(name) if !is_junk(&name, junk) => people.push((name, path)),
            Ok(_) => {}
            Err(_) => {
                tracing::warn!("skipping {}: the folder name is not valid UTF-8, so it cannot name a person", rollcall_files::shown(&path))
            }
        }
    }
    let mut bad = Vec::new();
    for (name, _) in &mut people {
        match rollcall_shared::names::check(name) {
            Ok(label) => *name = label,
            Err(why) => bad.push((name.clone(), why)),
        }
    }
    if !bad.is_empty() {
        bad.sort_by(|a, b| a.0.cmp(&b.0));
        return Err(Error::BadNames { clusters: clusters.to_path_buf(), folders: bad });
    }
    people.sort();
    // Two folders that are one name written two ways would be two people.
    let mut seen = std::collections::BTreeMap::new();
    for (name, _) in &people {
        if let Some(other) = seen.insert(name_key(name), name.clone()) {
            return Err(Error::SameName { clusters: clusters.to_path_buf(), a: other, b: name.clone() });
        }
    }
    Ok(people)
}

/// The junk folders under `clusters` (outliers, `unknown`, ...): the faces
/// the user says are nobody they want named.
pub fn junk_folders(clusters: &Path, junk: &[String]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(clusters)
        .map_err(Error::read(clusters))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && e.file_name().to_str().is_some_and(|n| is_junk(n, junk) && !n.starts_with('.')))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `train` silently ignored a person folder that was a symbolic link:
    /// it asked for the entry's own type, which is "link", not "folder".
    #[test]
    fn regression_train_ignored_a_symlinked_person_folder() {
        let dir = tempfile::tempdir().unwrap();
        let clusters = dir.path().join("clusters");
        std::fs::create_dir_all(clusters.join("Sam")).unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere/robin")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere/robin"), clusters.join("Robin")).unwrap();
        let names: Vec<String> = folders(&clusters, &default_junk()).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Robin", "Sam"]);
    }

    #[test]
    fn junk_folders() {
        let junk = default_junk();
        assert!(is_junk("_outliers", &junk) && is_junk("Unknown", &junk) && is_junk("junk", &junk));
        assert!(!is_junk("Robin", &junk));
    }
}
