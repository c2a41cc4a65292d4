//! Scaling an RGB photo down: a bilinear filter widened to the scale (every
//! source pixel counts, as an area average would), with SIMD kernels.
//!
//! One function for the detector's passes and the host's annotated copies.
//! It names its pixel type: `fast_image_resize`'s untyped `resize` is
//! generic over every pixel type it knows, and each crate that called it
//! compiled all of them (over half of this crate's code, minutes of build).

use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::U8x3;
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use rollcall_shared::align::RgbView;

/// `image` scaled to `w` x `h`; `None` when a size is zero or the buffer is
/// shorter than the view says.
pub fn rgb(image: RgbView<'_>, w: u32, h: u32) -> Option<image::RgbImage> {
    let src = TypedImageRef::<U8x3>::from_buffer(image.width, image.height, image.data).ok()?;
    let mut out = vec![0u8; w as usize * h as usize * 3];
    let mut dst = TypedImage::<U8x3>::from_buffer(w, h, &mut out).ok()?;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize_typed(&src, &mut dst, &options).ok()?;
    image::RgbImage::from_raw(w, h, out)
}
