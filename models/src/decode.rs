//! Photo decoding: any JPEG, PNG, WEBP or BMP file to 8-bit RGB, upright.
//!
//! The format is guessed from the content, not the name (a WEBP file called
//! `.jpg` decodes as WEBP), the EXIF orientation is applied, and RGBA,
//! grayscale and 16-bit images become RGB8 (alpha is dropped: a transparent
//! region reads as its stored colour).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::error::{Error, Result};

/// Reads and decodes the photo at `path`.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::Image { path: path.to_path_buf(), reason: e.to_string() })?;
    decode_rgb(&bytes, path)
}

/// Decodes photo bytes; `path` names the source in errors.
pub fn decode_rgb(bytes: &[u8], path: &Path) -> Result<RgbImage> {
    let fail = |reason: String| Error::Image { path: path.to_path_buf(), reason };
    if bytes.is_empty() {
        return Err(fail("empty file (0 bytes)".into()));
    }
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| fail(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(fail("not a recognised image format (expected JPEG, PNG, WEBP or BMP)".into()));
    };
    let mut decoder = reader.into_decoder().map_err(|e| fail(format!("cannot decode {format:?}: {e}")))?;
    // A broken EXIF block should not cost the photo: fall back to upright.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| fail(format!("cannot decode {format:?}: {e}")))?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(fail("image has no pixels".into()));
    }
    Ok(match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}
