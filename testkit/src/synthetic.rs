//! Synthetic photos for the fake engine: painted faces on textured
//! backgrounds, written as PNG (lossless, so the painted colours survive).

use std::path::{Path, PathBuf};

use rollcall_models::fake::{PaintedFace, scene};

/// Size of every synthetic photo.
pub const SIZE: (u32, u32) = (320, 240);

/// Writes one photo with the given faces, `(identity, variant)` each,
/// placed side by side, and returns its path.
pub fn photo(path: &Path, faces: &[(u64, u64)]) -> PathBuf {
    let (w, h) = SIZE;
    let n = faces.len().max(1) as u32;
    let side = ((w - 16) / n).min(h - 40).min(120);
    let painted: Vec<PaintedFace> = faces
        .iter()
        .enumerate()
        .map(|(i, &(identity, variant))| {
            PaintedFace::new(8 + i as u32 * (side + 4), 20 + (variant % 3) as u32 * 5, side, identity, variant)
        })
        .collect();
    let seed = faces.iter().fold(17u64, |a, &(i, v)| a.wrapping_mul(31).wrapping_add(i * 7 + v));
    let img = scene(w, h, seed, &painted);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    img.save(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path.to_path_buf()
}

/// A folder of portraits: `<dir>/<name>/<n>.png`, one painted face each,
/// `photos` per person, people named `p<identity>`. Returns `(name, path)`
/// of every photo, sorted, which is also the truth for `evaluate`.
pub fn portraits(dir: &Path, identities: &[u64], photos: usize) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for &id in identities {
        let name = format!("p{id}");
        for v in 0..photos {
            out.push((name.clone(), photo(&dir.join(&name).join(format!("{v}.png")), &[(id, v as u64)])));
        }
    }
    out.sort();
    out
}

/// A photo with no face at all.
pub fn empty(path: &Path) -> PathBuf {
    let img = scene(SIZE.0, SIZE.1, 99, &[]);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    img.save(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path.to_path_buf()
}
