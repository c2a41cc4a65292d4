//! How photos are named in outputs: a key per photo (its path below the
//! input, folders joined by `__`) that chips and annotated copies are named
//! after, unique even when two photos share a name, and never longer than a
//! file name may be.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

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
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let key = if parts.is_empty() { "photo".to_string() } else { parts.join("__") };
    let safe: String = key.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    rollcall_files::names::bounded(&safe, rollcall_files::names::MAX_STEM)
}

/// Keys for every photo, made unique with a numeric suffix (`~1`, `~2`)
/// when two photos map to the same key.
pub fn unique_keys(root: &Path, photos: &[PathBuf]) -> Vec<String> {
    let mut seen = HashMap::<String, usize>::new();
    photos
        .iter()
        .map(|p| {
            let key = photo_key(root, p);
            let n = seen.entry(key.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { key } else { format!("{key}~{}", *n - 1) }
        })
        .collect()
}

/// The chip file name of a photo's i-th kept face.
pub fn chip_name(key: &str, i: usize) -> String {
    format!("aligned_{key}_{i}.png")
}

/// The annotated copy's file name.
pub fn annotated_name(key: &str) -> String {
    format!("{key}.jpg")
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

    /// A photo with a legal 250-byte name made `cannot write
    /// work/aligned/aligned_nnnn…: File name too long` and ended the run:
    /// the chip's name added a prefix and a suffix to the photo's.
    #[test]
    fn regression_long_photo_name_ended_the_run() {
        let name = format!("{}.jpg", "n".repeat(246));
        let key = photo_key(Path::new("/p"), &Path::new("/p").join(&name));
        assert!(chip_name(&key, 12).len() <= 200, "{}", chip_name(&key, 12).len());
        assert!(annotated_name(&key).len() <= 200);
    }

    #[test]
    fn colliding_keys_get_suffixes() {
        let photos: Vec<PathBuf> = ["/p/a b.jpg", "/p/a_b.jpg", "/p/a_b.png"].iter().map(PathBuf::from).collect();
        assert_eq!(unique_keys(Path::new("/p"), &photos), ["a_b", "a_b~1", "a_b~2"]);
    }
}
