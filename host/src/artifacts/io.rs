//! The few ways artifacts reach the disk: atomically written bytes, JSON,
//! CSV and images, each error naming its file.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically, creating parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    rollcall_files::write_atomic(path, bytes).map_err(Error::write(path))
}

/// Writes `bytes` to `path` atomically, unless a file is there that rollcall
/// did not write: `ours` tells from the file's first bytes, and `what` names
/// the kind of file in the refusal.
pub fn replace_own(path: &Path, bytes: &[u8], what: &'static str, ours: impl Fn(&[u8]) -> bool) -> Result<()> {
    if path.exists() {
        let mut head = vec![0u8; 64];
        let n = rollcall_shared::regular::open(path)
            .map_err(std::io::Error::from)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .map_err(Error::read(path))?;
        if !ours(&head[..n]) {
            return Err(Error::NotOurFile { path: path.to_path_buf(), what });
        }
    }
    write_atomic(path, bytes)
}

/// Reads an artifact's bytes: a regular file (never a FIFO or a device, even
/// through a link), at most [`rollcall_shared::regular::cap::TABLE`] bytes.
pub fn read_table(path: &Path) -> Result<Vec<u8>> {
    rollcall_shared::regular::read(path, rollcall_shared::regular::cap::TABLE, "table").map_err(|e| Error::read(path)(e.into()))
}

/// Reads a JSON artifact.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = read_table(path)?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json { path: path.to_path_buf(), source })
}

/// Writes a JSON artifact, pretty-printed, atomically.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json { path: path.to_path_buf(), source })?;
    write_atomic(path, &bytes)
}

/// Reads every row of a CSV artifact (header first).
pub fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let bytes = read_table(path)?;
    csv::Reader::from_reader(bytes.as_slice())
        .deserialize()
        .map(|row| row.map_err(|source| Error::Csv { path: path.to_path_buf(), source }))
        .collect()
}

/// CSV text of `rows` with a header from the first row (or `header` when
/// there are no rows).
pub fn csv_bytes<T: Serialize>(path: &Path, header: &[&str], rows: impl IntoIterator<Item = T>) -> Result<Vec<u8>> {
    let fail = |source| Error::Csv { path: path.to_path_buf(), source };
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut empty = true;
    for r in rows {
        w.serialize(r).map_err(fail)?;
        empty = false;
    }
    if empty && !header.is_empty() {
        w.write_record(header).map_err(fail)?;
    }
    w.into_inner().map_err(|e| fail(csv::Error::from(e.into_error())))
}

/// Writes `rows` as a CSV artifact atomically.
pub fn write_csv<T: Serialize>(path: &Path, rows: impl IntoIterator<Item = T>) -> Result<()> {
    write_atomic(path, &csv_bytes(path, &[], rows)?)
}

/// Encodes an image in the format its extension names and writes it atomically.
pub fn save_image(path: &Path, image: &image::RgbImage) -> Result<()> {
    let fail = |source| Error::Encode { path: path.to_path_buf(), source };
    let format = image::ImageFormat::from_path(path).map_err(fail)?;
    let mut buf = std::io::Cursor::new(Vec::new());
    image.write_to(&mut buf, format).map_err(fail)?;
    write_atomic(path, buf.get_ref())
}

/// Quality of rollcall's JPEG outputs (annotated copies): boxes and text
/// stay crisp, and a 1600 px photo is about 150 KB.
pub const JPEG_QUALITY: u8 = 85;

/// Encodes an RGB image as JPEG and writes it atomically. The `jpeg-encoder`
/// crate's SIMD kernels encode about three times faster than `image`'s
/// encoder, which was a fifth of `detect`'s time with annotated copies.
pub fn save_jpeg(path: &Path, image: &image::RgbImage) -> Result<()> {
    let (Ok(w), Ok(h)) = (u16::try_from(image.width()), u16::try_from(image.height())) else {
        return save_image(path, image);
    };
    let mut buf = Vec::new();
    jpeg_encoder::Encoder::new(&mut buf, JPEG_QUALITY)
        .encode(image.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| Error::Table { path: path.to_path_buf(), reason: format!("cannot encode JPEG: {e}") })?;
    write_atomic(path, &buf)
}

/// An artifact an earlier stage may not have written: `None` if absent, an
/// error if present but unreadable (never silently ignored).
pub fn optional<T>(path: &Path, read: impl FnOnce(&Path) -> Result<T>) -> Result<Option<T>> {
    if path.exists() { read(path).map(Some) } else { Ok(None) }
}

/// Removes the regular files directly in `dir` whose names `keep` does not
/// hold (a folder rollcall owns: what an earlier run wrote and this one did
/// not). A missing folder is nothing to remove.
pub fn remove_files_except(dir: &Path, keep: &std::collections::HashSet<&str>) -> Result<()> {
    let Ok(listing) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in listing.flatten() {
        let stale = e.file_name().to_str().is_none_or(|n| !keep.contains(n));
        if stale && e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(e.path()).map_err(Error::write(&e.path()))?;
        }
    }
    Ok(())
}
