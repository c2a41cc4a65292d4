//! Photo decoding: any JPEG, PNG, WEBP or BMP file to 8-bit RGB, upright.
//!
//! The format is guessed from the content, not the name (a WEBP file called
//! `.jpg` decodes as WEBP), the EXIF orientation is applied, and RGBA,
//! grayscale and 16-bit images become RGB8 (alpha is dropped: a transparent
//! region reads as its stored colour).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

use crate::error::{Error, Result};

/// Why a photo could not be decoded. The messages do not name the file: the
/// caller ([`Error::Image`]) does, once.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file could not be read.
    #[error("cannot read the file")]
    Read(#[source] std::io::Error),
    /// Zero bytes.
    #[error("empty file (0 bytes)")]
    Empty,
    /// The content is none of the formats rollcall reads.
    #[error("not a recognised image format (expected JPEG, PNG, WEBP or BMP)")]
    UnknownFormat,
    /// The decoder for the format refused the data.
    #[error("cannot decode {format:?}")]
    Decoder {
        /// The format the content announced.
        format: ImageFormat,
        /// The decoder's complaint.
        #[source]
        source: image::ImageError,
    },
    /// The image has a zero width or height.
    #[error("image has no pixels")]
    NoPixels,
}

/// Reads and decodes the photo at `path`.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| image_error(path, DecodeError::Read(e)))?;
    decode_rgb(&bytes, path)
}

/// Decodes photo bytes; `path` names the source in errors.
pub fn decode_rgb(bytes: &[u8], path: &Path) -> Result<RgbImage> {
    decode(bytes).map_err(|e| image_error(path, e))
}

fn image_error(path: &Path, source: DecodeError) -> Error {
    Error::Image { path: path.to_path_buf(), source }
}

/// Decodes photo bytes.
pub fn decode(bytes: &[u8]) -> std::result::Result<RgbImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(DecodeError::Read)?;
    let format = reader.format().ok_or(DecodeError::UnknownFormat)?;
    let fail = |source| DecodeError::Decoder { format, source };
    let mut decoder = reader.into_decoder().map_err(fail)?;
    // A broken EXIF block should not cost the photo: fall back to upright.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(fail)?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(DecodeError::NoPixels);
    }
    Ok(match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}
