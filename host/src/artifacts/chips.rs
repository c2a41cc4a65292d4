//! The aligned chips in `aligned/`: square RGB PNGs at the recognizer's
//! input size, one per kept face.

use std::path::{Path, PathBuf};

use super::skips::SkipReason;
use crate::error::{Error, Result};

/// Every chip file in `dir`, sorted by name.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(Error::Missing { path: dir.to_path_buf(), hint: "run `rollcall detect` first" });
    }
    let mut chips: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(Error::read(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    chips.sort();
    Ok(chips)
}

/// Reads one chip and checks that it is `size` x `size`.
pub fn read(path: &Path, size: u32) -> Result<Vec<u8>, SkipReason> {
    let img = rollcall_models::decode::load_rgb(path)?;
    if img.dimensions() != (size, size) {
        return Err(SkipReason::ChipSize { width: img.width(), height: img.height(), size });
    }
    Ok(img.into_raw())
}

/// The chip's file name, as tables key it.
pub fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
