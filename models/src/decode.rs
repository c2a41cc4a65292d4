//! Photo decoding: any JPEG, PNG, WEBP or BMP file to 8-bit RGB, upright.
//!
//! The format is guessed from the content, not the name (a WEBP file called
//! `.jpg` decodes as WEBP), the EXIF orientation is applied, and RGBA,
//! grayscale and 16-bit images become RGB8 (alpha is dropped: a transparent
//! region reads as its stored colour).
//!
//! Photos are untrusted input. A 632-byte JPEG can declare 60000 x 60000
//! pixels, and decoding it would take 10 GB; so the size a file declares is
//! checked against [`Limits`] before anything is allocated, the decoder is
//! held to an allocation limit, and files larger than any photo are not
//! read at all.

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
    /// The image declares more pixels than the limit.
    #[error("{width}x{height} pixels is more than the limit of {} megapixels (--max-megapixels)", max_pixels / 1_000_000)]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit.
        max_pixels: u64,
    },
    /// The file is larger than any photo rollcall reads.
    #[error("the file is {} MiB; files above {} MiB are not read", bytes >> 20, max_bytes >> 20)]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        max_bytes: u64,
    },
}

/// How large a photo may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Pixels (width x height) a photo may declare: 100 megapixels by
    /// default, more than any camera sensor sold to the public.
    pub max_pixels: u64,
    /// Bytes a photo file may have (512 MiB).
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_pixels: 100_000_000, max_file_bytes: 512 << 20 }
    }
}

impl Limits {
    /// The default limits with `megapixels` as the pixel limit.
    pub fn megapixels(megapixels: f64) -> Self {
        Limits { max_pixels: (megapixels * 1e6).max(1.0) as u64, ..Limits::default() }
    }

    /// What a decoder may allocate: the largest image at 8 bytes a pixel
    /// (16-bit RGBA) and room for its working buffers.
    fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(8).saturating_add(64 << 20)
    }
}

/// Reads and decodes the photo at `path`, within the default [`Limits`].
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    load_rgb_within(path, &Limits::default())
}

/// Reads and decodes the photo at `path` within `limits`.
pub fn load_rgb_within(path: &Path, limits: &Limits) -> Result<RgbImage> {
    let fail = |e| image_error(path, e);
    // A regular file only (a FIFO or a link to /dev/zero would block or
    // never end), capped on the opened handle.
    let file = rollcall_shared::regular::open(path).map_err(|e| fail(DecodeError::Read(e.into())))?;
    let size = file.metadata().map_err(|e| fail(DecodeError::Read(e)))?.len();
    if size > limits.max_file_bytes {
        return Err(fail(DecodeError::TooLarge { bytes: size, max_bytes: limits.max_file_bytes }));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, limits.max_file_bytes), &mut bytes)
        .map_err(|e| fail(DecodeError::Read(e)))?;
    decode_within(&bytes, limits).map_err(fail)
}

/// Decodes photo bytes within the default [`Limits`]; `path` names the
/// source in errors.
pub fn decode_rgb(bytes: &[u8], path: &Path) -> Result<RgbImage> {
    decode_within(bytes, &Limits::default()).map_err(|e| image_error(path, e))
}

fn image_error(path: &Path, source: DecodeError) -> Error {
    Error::Image { path: path.to_path_buf(), source }
}

/// Decodes photo bytes within `limits`.
pub fn decode_within(bytes: &[u8], limits: &Limits) -> std::result::Result<RgbImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(DecodeError::Read)?;
    let format = reader.format().ok_or(DecodeError::UnknownFormat)?;
    let fail = |source| DecodeError::Decoder { format, source };
    let mut decoder = reader.into_decoder().map_err(fail)?;
    // Check what the header declares before a byte is allocated for it.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(DecodeError::TooManyPixels { width, height, max_pixels: limits.max_pixels });
    }
    let mut held = image::Limits::default();
    held.max_alloc = Some(limits.max_alloc());
    decoder.set_limits(held).map_err(fail)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG declaring `width` x `height` with a few bytes of pixel data:
    /// a decompression bomb in miniature.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            let mut body = kind.to_vec();
            body.extend(data);
            png.extend((data.len() as u32).to_be_bytes());
            png.extend(&body);
            png.extend(crc32(&body).to_be_bytes());
        };
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        chunk(b"IHDR", &ihdr);
        chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        chunk(b"IEND", &[]);
        png
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn declared_size_is_checked_before_decoding() {
        let bomb = png_header(60_000, 60_000);
        assert!(bomb.len() < 100);
        match decode_within(&bomb, &Limits::default()) {
            Err(DecodeError::TooManyPixels { width: 60_000, height: 60_000, max_pixels: 100_000_000 }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode_within(&png_header(200, 200), &Limits::megapixels(0.01)), Err(DecodeError::TooManyPixels { .. })));
    }
}
