//! Which files are photos, and every photo under a folder, however the
//! folder is made.
//!
//! The listing follows symbolic links, wherever they point: a folder of
//! links to photos kept elsewhere is an ordinary way to pick photos. It
//! visits each folder once and each photo once, by device and inode, so a
//! link loop (`loop -> .`) or a second link to the same place adds nothing.
//! Hidden files and folders (names starting with `.`) are left out, and so
//! is every folder rollcall owns (a work directory, a model folder, ...,
//! marked by [`crate::owned::MARKER`]) and any folder the caller excludes:
//! rollcall's own outputs never feed back into a run. What cannot be listed
//! (a broken link, an unreadable folder, a name that is not UTF-8) is
//! returned with the reason, and the listing goes on.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::shown::shown;

/// File extensions treated as photos (any case).
pub const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp"];

/// Whether a file name has a photo extension.
pub fn is_photo_name(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The input itself could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list {}", shown(path))]
pub struct ListError {
    /// The folder that failed.
    pub path: PathBuf,
    /// The error of `read_dir` or of one entry.
    #[source]
    pub source: std::io::Error,
}

/// Why an entry under the input was left out.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// Its name is not valid UTF-8: outputs record names as text, and a
    /// lossy copy would no longer match the file.
    #[error("the file name is not valid UTF-8; rename the file")]
    NotUtf8,
    /// A link back to a folder above it.
    #[error("a link loop back to {}; not followed", shown(ancestor))]
    LinkLoop {
        /// The folder it leads back to.
        ancestor: PathBuf,
    },
    /// A broken link, or an entry that cannot be read.
    #[error("cannot be read")]
    Unreadable(#[source] std::io::Error),
    /// A FIFO, a device or a socket (or a link to one) named like a photo.
    #[error("not a regular file; not read")]
    NotAFile,
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Every photo, sorted by path.
    pub photos: Vec<PathBuf>,
    /// Entries left out, with the reason.
    pub problems: Vec<(PathBuf, Problem)>,
}

/// Checks that `root` is there to be listed, before anything is written
/// for it (a mistyped photo folder leaves no work folder behind).
pub fn check_exists(root: &Path) -> Result<(), ListError> {
    std::fs::metadata(root).map(drop).map_err(|source| ListError { path: root.to_path_buf(), source })
}

/// Every photo under `root` (or `root` itself if it is a file); see the
/// module docs. Folders in `exclude` are left out.
pub fn list(root: &Path, exclude: &[PathBuf]) -> Result<Listing, ListError> {
    let meta = std::fs::metadata(root).map_err(|source| ListError { path: root.to_path_buf(), source })?;
    if meta.is_file() {
        return Ok(Listing { photos: vec![root.to_path_buf()], problems: Vec::new() });
    }
    let excluded: Vec<PathBuf> = exclude.iter().filter_map(|p| std::fs::canonicalize(p).ok()).collect();
    let mut seen_dirs: HashSet<(u64, u64)> = HashSet::new();
    let mut seen_files: HashSet<(u64, u64)> = HashSet::new();
    let mut out = Listing::default();
    let walk = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter().filter_entry(|e| {
        if e.depth() == 0 {
            return true;
        }
        if e.file_name().as_encoded_bytes().starts_with(b".") {
            return false;
        }
        if !e.file_type().is_dir() {
            return true;
        }
        let target = std::fs::canonicalize(e.path()).ok();
        if crate::owned::is_owned(e.path()) || target.as_ref().is_some_and(|c| excluded.contains(c)) {
            return false;
        }
        // A link back to a folder above it: walkdir reports it as a loop.
        let above = e.path().parent().and_then(|p| std::fs::canonicalize(p).ok());
        if e.path_is_symlink() && target.as_ref().zip(above).is_some_and(|(t, a)| a.starts_with(t)) {
            return true;
        }
        // Each folder once, however many links lead to it.
        e.metadata().is_ok_and(|m| seen_dirs.insert((m.dev(), m.ino())))
    });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
                if e.depth() == 0 {
                    return Err(ListError { path, source: e.into() });
                }
                let problem = match e.loop_ancestor() {
                    Some(a) => Problem::LinkLoop { ancestor: a.to_path_buf() },
                    None => Problem::Unreadable(e.into()),
                };
                out.problems.push((path, problem));
                continue;
            }
        };
        if entry.file_type().is_dir() || !is_photo_name(entry.path()) {
            if entry.path().to_str().is_none() && is_photo_name(Path::new(&entry.path().to_string_lossy().into_owned())) {
                out.problems.push((entry.path().to_path_buf(), Problem::NotUtf8));
            }
            continue;
        }
        if entry.path().to_str().is_none() {
            out.problems.push((entry.path().to_path_buf(), Problem::NotUtf8));
            continue;
        }
        match entry.metadata() {
            // Each photo once, however many links lead to it.
            // Reading a FIFO blocks and a device never ends: left out
            // here, and refused again when opened (it may be swapped).
            Ok(m) if !m.is_file() => out.problems.push((entry.into_path(), Problem::NotAFile)),
            Ok(m) if !seen_files.insert((m.dev(), m.ino())) => {}
            Ok(_) => out.photos.push(entry.into_path()),
            Err(e) => out.problems.push((entry.path().to_path_buf(), Problem::Unreadable(e.into()))),
        }
    }
    out.photos.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    fn names(l: &Listing, root: &Path) -> Vec<String> {
        l.photos.iter().map(|p| p.strip_prefix(root).unwrap().display().to_string()).collect()
    }

    #[test]
    fn photo_extensions_ignore_case() {
        assert!(is_photo_name(Path::new("a.JPG")) && is_photo_name(Path::new("b.webp")));
        assert!(!is_photo_name(Path::new("notes.txt")) && !is_photo_name(Path::new("noext")));
    }

    #[test]
    fn links_are_followed_once_and_loops_do_not_repeat_photos() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        touch(&root.join("a/one.jpg"));
        touch(&root.join("b/two.png"));
        touch(&root.join(".hidden/three.jpg"));
        touch(&root.join("notes.txt"));
        let elsewhere = dir.path().join("elsewhere");
        touch(&elsewhere.join("four.jpg"));
        symlink(&elsewhere, root.join("c")).unwrap();
        symlink(".", root.join("loop")).unwrap();
        symlink(".", root.join("x")).unwrap();
        symlink(root.join("a"), root.join("again")).unwrap();
        symlink(root.join("a/one.jpg"), root.join("one-more.jpg")).unwrap();
        symlink(dir.path().join("nowhere.jpg"), root.join("broken.jpg")).unwrap();
        let l = list(&root, &[]).unwrap();
        assert_eq!(names(&l, &root), ["a/one.jpg", "b/two.png", "c/four.jpg"]);
        let problems: Vec<String> =
            l.problems.iter().map(|(p, why)| format!("{}: {why}", p.strip_prefix(&root).unwrap().display())).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("broken.jpg: cannot be read")), "{problems:?}");
        for link in ["loop", "x"] {
            assert!(problems.iter().any(|p| p.starts_with(&format!("{link}: a link loop back to"))), "{problems:?}");
        }
    }

    #[test]
    fn owned_and_excluded_folders_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        touch(&root.join("keep.jpg"));
        touch(&root.join("work/aligned/chip.png"));
        crate::owned::claim(&root.join("work2"), crate::owned::Kind::Work).unwrap();
        touch(&root.join("work2/aligned/chip.png"));
        assert_eq!(names(&list(&root, &[root.join("work")]).unwrap(), &root), ["keep.jpg"]);
    }

    #[test]
    fn names_that_are_not_utf8_are_refused_with_the_reason() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.jpg"));
        std::fs::write(&bad, b"x").unwrap();
        touch(&dir.path().join("good.jpg"));
        let l = list(dir.path(), &[]).unwrap();
        assert_eq!(names(&l, dir.path()), ["good.jpg"]);
        assert!(matches!(l.problems.as_slice(), [(p, Problem::NotUtf8)] if *p == bad), "{:?}", l.problems);
    }
}
