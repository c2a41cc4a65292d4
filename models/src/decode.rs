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
//!
//! The caps hold per photo; the workers of a run share one more: a
//! [`Budget`] of bytes for decoding. A photo's decode takes its share
//! (the decoder's buffer, the RGB copy) before a byte is allocated and
//! waits while the others' shares leave no room; a photo larger than the
//! whole budget waits until it can run alone. After decoding, the RGB image
//! keeps its share ([`Decoded`]) until its photo is done, together with
//! what the caller says the photo's processing will hold beside it (the
//! detector's scan: its tensors and the network's activations, which for a
//! 12 MP photo are several times its pixels). One budget thus bounds both,
//! and a photo is never waiting for room with another share already held,
//! so workers cannot wait on each other.

use std::io::Cursor;
use std::path::Path;
use std::sync::{Condvar, Mutex};

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
    /// Bytes of decoded photos the workers may hold at once
    /// ([`DEFAULT_BUDGET`]): see [`Limits::budget`].
    pub budget_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_pixels: 100_000_000, max_file_bytes: 512 << 20, budget_bytes: DEFAULT_BUDGET }
    }
}

impl Limits {
    /// The default limits with `megapixels` as the pixel limit.
    pub fn megapixels(megapixels: f64) -> Self {
        Limits { max_pixels: (megapixels * 1e6).max(1.0) as u64, ..Limits::default() }
    }

    /// The process's budget of `budget_bytes`: every worker whose limits
    /// say the same size shares one (a run's workers all do).
    pub fn budget(&self) -> &'static Budget {
        static BUDGETS: Mutex<Vec<&'static Budget>> = Mutex::new(Vec::new());
        let mut all = BUDGETS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = all.iter().find(|b| b.total == self.budget_bytes) {
            return b;
        }
        // One per size asked for in the process's life: a handful at most.
        let b: &'static Budget = Box::leak(Box::new(Budget::new(self.budget_bytes)));
        all.push(b);
        b
    }

    /// What a decoder may allocate: the largest image at 8 bytes a pixel
    /// (16-bit RGBA) and room for its working buffers.
    fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(8).saturating_add(64 << 20)
    }
}

/// The default decoding budget: 1 GiB, room for a 100 MP 16-bit photo's
/// decode (600 MB of 16-bit pixels and 300 MB of RGB) or for dozens of
/// phone photos at once.
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// Bytes of decoded photos that the workers of a run may hold at once.
#[derive(Debug)]
pub struct Budget {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl Budget {
    /// A budget of `total` bytes.
    pub const fn new(total: u64) -> Budget {
        Budget { total, used: Mutex::new(0), freed: Condvar::new() }
    }

    /// The whole budget, in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Takes `bytes`, waiting until they fit beside what is held (or, when
    /// they are more than the whole budget, until nothing is held).
    pub fn take(&self, bytes: u64) -> Share<'_> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && used.saturating_add(bytes) > self.total {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used = used.saturating_add(bytes);
        Share { budget: self, bytes }
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn give_back(&self, bytes: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(bytes);
        self.freed.notify_all();
    }
}

/// Bytes taken from a [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Share<'a> {
    budget: &'a Budget,
    bytes: u64,
}

impl Share<'_> {
    /// Gives back all but `bytes` (what is still held after a decode).
    fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            self.budget.give_back(self.bytes - bytes);
            self.bytes = bytes;
        }
    }

    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// A photo decoded within a budget: the image and its share, held until
/// the photo is done with.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The photo, upright, in 8-bit RGB.
    pub image: RgbImage,
    /// Its share of the budget.
    pub share: Share<'a>,
}

/// Reads and decodes the photo at `path` within `limits`, taking its share
/// of the limits' [`Budget`] first (see the module docs). `then(width,
/// height)` is what processing a photo of that size will hold beside its
/// pixels (0 for nothing): the share keeps it until the photo is done.
pub fn load_rgb_budgeted(path: &Path, limits: &Limits, then: impl Fn(u32, u32) -> u64) -> Result<Decoded<'static>> {
    let file = open_within(path, limits).map_err(|e| image_error(path, e))?;
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    let (image, mut share, then) = decode_from(reader, limits, limits.budget(), &then).map_err(|e| image_error(path, e))?;
    share.shrink_to((image.as_raw().len() as u64).saturating_add(then));
    Ok(Decoded { image, share })
}

/// Reads and decodes the photo at `path`, within the default [`Limits`].
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    load_rgb_within(path, &Limits::default())
}

/// Reads and decodes the photo at `path` within `limits`.
pub fn load_rgb_within(path: &Path, limits: &Limits) -> Result<RgbImage> {
    let file = open_within(path, limits).map_err(|e| image_error(path, e))?;
    let decoded = decode_from(std::io::BufReader::with_capacity(1 << 16, file), limits, &UNBOUNDED, &|_, _| 0);
    decoded.map(|(image, _, _)| image).map_err(|e| image_error(path, e))
}

/// The photo file at `path`, opened: a regular file only (a FIFO or a link
/// to /dev/zero would block or never end), no larger than any photo.
fn open_within(path: &Path, limits: &Limits) -> std::result::Result<std::fs::File, DecodeError> {
    let file = rollcall_shared::regular::open(path).map_err(|e| DecodeError::Read(e.into()))?;
    let size = file.metadata().map_err(DecodeError::Read)?.len();
    if size == 0 {
        return Err(DecodeError::Empty);
    }
    if size > limits.max_file_bytes {
        return Err(DecodeError::TooLarge { bytes: size, max_bytes: limits.max_file_bytes });
    }
    Ok(file)
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
    decode_from(Cursor::new(bytes), limits, &UNBOUNDED, &|_, _| 0).map(|(image, _, _)| image)
}

/// The budget of a decode that is not held to one (a single photo, read
/// outside a run's workers): it never waits.
static UNBOUNDED: Budget = Budget::new(u64::MAX);

/// Decodes from `source` (photo bytes, or the file itself, read as the
/// decoder goes: a photo's compressed bytes are never all held), taking a
/// share for the decode and for `then` (see [`load_rgb_budgeted`]), which
/// it also returns.
fn decode_from<'a, R: std::io::BufRead + std::io::Seek>(
    source: R,
    limits: &Limits,
    budget: &'a Budget,
    then: &dyn Fn(u32, u32) -> u64,
) -> std::result::Result<(RgbImage, Share<'a>, u64), DecodeError> {
    let reader = ImageReader::new(source).with_guessed_format().map_err(DecodeError::Read)?;
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
    // The decode's peak: the decoder's own buffer, and the 8-bit RGB copy
    // (and its turned copy) when that buffer is not already one; or, when
    // larger, the RGB photo and what its processing holds beside it. Both
    // ways round, as the EXIF orientation may turn the photo.
    let pixels = u64::from(width) * u64::from(height);
    let native = decoder.total_bytes();
    let then = then(width, height).max(then(height, width));
    let decoding = native.saturating_add(pixels.saturating_mul(6));
    let share = budget.take(decoding.max(pixels.saturating_mul(3).saturating_add(then)));
    // A broken EXIF block should not cost the photo: fall back to upright.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(fail)?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(DecodeError::NoPixels);
    }
    let rgb = match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    Ok((rgb, share, then))
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

    /// A budget of `total` bytes plus a size no other test asks for:
    /// budgets are per size and per process, and tests run side by side.
    fn own_limits(total: u64) -> Limits {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Limits { budget_bytes: total + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed), ..Limits::default() }
    }

    fn png_file(dir: &Path, width: u32, height: u32) -> std::path::PathBuf {
        let path = dir.join(format!("{width}x{height}.png"));
        RgbImage::from_pixel(width, height, image::Rgb([10, 20, 30])).save(&path).expect("png written");
        path
    }

    #[test]
    fn a_decoded_photo_holds_its_pixels_and_its_processing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = png_file(dir.path(), 40, 30);
        let limits = own_limits(1 << 30);
        let decoded = load_rgb_budgeted(&path, &limits, |w, h| u64::from(w * h) * 10).expect("decoded");
        assert_eq!(decoded.share.bytes(), 40 * 30 * 3 + 40 * 30 * 10);
        assert_eq!(limits.budget().used(), decoded.share.bytes());
        drop(decoded);
        assert_eq!(limits.budget().used(), 0);
        let plain = load_rgb_budgeted(&path, &limits, |_, _| 0).expect("decoded");
        assert_eq!(plain.share.bytes(), 40 * 30 * 3);
    }

    #[test]
    fn processing_that_does_not_fit_beside_another_photo_waits_for_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = png_file(dir.path(), 40, 30);
        // Room for one photo and its processing, not two.
        let limits = own_limits(40 * 30 * 3 + 5_000);
        let scan = |_: u32, _: u32| 4_000;
        let first = load_rgb_budgeted(&path, &limits, scan).expect("decoded");
        let started = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            let second = s.spawn(|| {
                started.wait();
                load_rgb_budgeted(&path, &limits, scan).map(|d| d.share.bytes())
            });
            started.wait();
            // The second photo cannot have its share while the first holds
            // its own: what the budget holds is the first's alone.
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(limits.budget().used(), first.share.bytes());
            drop(first);
            assert_eq!(second.join().expect("second photo").expect("decoded"), 40 * 30 * 3 + 4_000);
        });
        assert_eq!(limits.budget().used(), 0);
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
