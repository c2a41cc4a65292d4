//! Annotated copies of photos: every detection drawn, kept faces in green,
//! rejected ones in red (low confidence) or orange (too small), landmarks as
//! dots, with the face index or the reason beside each box.
//!
//! Copies are scaled down to a viewable size first (1600 px on the long side
//! by default): drawing on and re-encoding a 14-megapixel original would cost
//! more than detecting its faces.

use std::sync::OnceLock;

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_circle_mut, draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut, text_size};
use imageproc::rect::Rect;
use rollcall_models::{Face, Verdict};
use rollcall_shared::align::RgbView;

/// Colour of a kept face.
pub(crate) const KEPT: Rgb<u8> = Rgb([40, 200, 60]);
/// Colour of a low-confidence detection.
pub(crate) const LOW_CONFIDENCE: Rgb<u8> = Rgb([230, 40, 40]);
/// Colour of a detection too small to keep.
pub(crate) const TOO_SMALL: Rgb<u8> = Rgb([255, 150, 0]);
/// Colour of a face nobody in the gallery matches.
pub(crate) const STRANGER: Rgb<u8> = Rgb([230, 40, 40]);
/// Colour of a face found but too small to name.
pub(crate) const TOO_SMALL_TO_NAME: Rgb<u8> = Rgb([255, 150, 0]);

/// The embedded DejaVu Sans font.
pub(crate) fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    // The font is compiled in from the `dejavu` crate; it parses or the
    // build is broken, which a unit test would catch.
    FONT.get_or_init(|| FontRef::try_from_slice(dejavu::sans::regular()).expect("embedded DejaVu Sans parses"))
}

/// One box to draw: its colour and caption.
#[derive(Debug, Clone)]
pub struct Mark {
    /// `[x1, y1, x2, y2]` in original pixels.
    pub bbox: [f32; 4],
    /// Landmarks in original pixels.
    pub landmarks: Vec<[f32; 2]>,
    pub color: Rgb<u8>,
    /// Text beside the box.
    pub caption: String,
}

/// The marks for a photo's faces: `kept_labels[i]` captions the i-th kept face.
pub(crate) fn face_marks(faces: &[Face], kept_labels: &[String]) -> Vec<Mark> {
    let mut kept = 0;
    faces
        .iter()
        .map(|f| {
            let d = &f.detection;
            let (color, caption) = match f.verdict {
                Verdict::Kept => {
                    let label = kept_labels.get(kept).cloned().unwrap_or_default();
                    kept += 1;
                    (KEPT, format!("{label} {:.2}", d.score))
                }
                Verdict::LowConfidence => (LOW_CONFIDENCE, format!("low {:.2}", d.score)),
                Verdict::TooSmall => (TOO_SMALL, format!("small {:.0}px", d.bbox.width().min(d.bbox.height()))),
                Verdict::Unalignable => (TOO_SMALL, "unalignable".to_string()),
            };
            Mark { bbox: [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2], landmarks: d.landmarks.to_vec(), color, caption }
        })
        .collect()
}

/// The marks for a photo's faces named with a gallery: each kept face's
/// label and score (`None`: a detection not kept, which a person reading
/// names has no use for, and is not drawn). Named people in green,
/// strangers in red, faces too small to name in orange.
pub(crate) fn named_marks<'a>(faces: impl Iterator<Item = (&'a Face, Option<(String, Option<f32>)>)>) -> Vec<Mark> {
    faces
        .filter_map(|(f, named)| {
            let d = &f.detection;
            let bbox = [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2];
            let (color, caption) = match named? {
                (label, None) => (TOO_SMALL_TO_NAME, label),
                (label, Some(score)) if label == crate::artifacts::predictions::UNKNOWN => (STRANGER, format!("{label} {score:.2}")),
                (label, Some(score)) => (KEPT, format!("{label} {score:.2}")),
            };
            Some(Mark { bbox, landmarks: Vec::new(), color, caption })
        })
        .collect()
}

/// `photo` scaled down to `w` x `h` (see [`rollcall_models::resize`]).
/// image's `thumbnail` took a third of the annotated copy's time; this takes
/// a few milliseconds per photo.
fn scaled(photo: &RgbImage, w: u32, h: u32) -> RgbImage {
    let view = RgbView { width: photo.width(), height: photo.height(), data: photo.as_raw() };
    // Only fails on sizes this function never passes; if it ever did, the
    // slower resize still gives the same picture.
    rollcall_models::resize::rgb(view, w, h).unwrap_or_else(|| image::imageops::thumbnail(photo, w, h))
}

/// Draws `marks` on a copy of `photo` scaled to at most `max_side` pixels.
pub(crate) fn annotate(photo: &RgbImage, marks: &[Mark], max_side: u32) -> RgbImage {
    draw(photo, marks, max_side, Captions::Plain)
}

/// [`annotate`] for people to read on a phone: each caption in white on a
/// band of its mark's colour under the box, as wide as the text needs.
pub(crate) fn annotate_named(photo: &RgbImage, marks: &[Mark], max_side: u32) -> RgbImage {
    draw(photo, marks, max_side, Captions::Banded)
}

#[derive(Clone, Copy, PartialEq)]
enum Captions {
    /// Text in the mark's colour above the box.
    Plain,
    /// White text on a band of the mark's colour under the box.
    Banded,
}

fn draw(photo: &RgbImage, marks: &[Mark], max_side: u32, captions: Captions) -> RgbImage {
    let long = photo.width().max(photo.height()).max(1);
    let s = (max_side as f32 / long as f32).min(1.0);
    let mut canvas = if s < 1.0 {
        let w = ((photo.width() as f32 * s).round() as u32).max(1);
        let h = ((photo.height() as f32 * s).round() as u32).max(1);
        scaled(photo, w, h)
    } else {
        photo.clone()
    };
    let thick = ((canvas.width().max(canvas.height()) as f32 / 400.0).ceil() as i32).max(1);
    let text_px = (canvas.width().max(canvas.height()) as f32 / 45.0).clamp(12.0, 40.0);
    for m in marks {
        let [x1, y1, x2, y2] = m.bbox.map(|v| v * s);
        for t in 0..thick {
            let (w, h) = ((x2 - x1) as i32 + 2 * t, (y2 - y1) as i32 + 2 * t);
            if w > 0 && h > 0 {
                draw_hollow_rect_mut(&mut canvas, Rect::at(x1 as i32 - t, y1 as i32 - t).of_size(w as u32, h as u32), m.color);
            }
        }
        for p in &m.landmarks {
            draw_filled_circle_mut(&mut canvas, ((p[0] * s) as i32, (p[1] * s) as i32), thick + 1, Rgb([0, 200, 255]));
        }
        match captions {
            Captions::Plain => {
                let ty = (y1 as i32 - text_px as i32 - thick).max(0);
                draw_text_mut(&mut canvas, m.color, x1 as i32, ty, PxScale::from(text_px), font(), &m.caption);
            }
            Captions::Banded => {
                // At least 1/60 of the long side: a name stays readable when
                // the whole class photo fills a phone's screen.
                let px = (canvas.width().max(canvas.height()) as f32 / 60.0).max(14.0);
                let (tw, th) = text_size(PxScale::from(px), font(), &m.caption);
                let pad = (px / 6.0).ceil() as i32;
                let (bw, bh) = (tw as i32 + 2 * pad, th as i32 + 2 * pad);
                let bx = ((x1 + x2) as i32 / 2 - bw / 2).clamp(0, (canvas.width() as i32 - bw).max(0));
                let below = y2 as i32 + thick;
                let by = if below + bh <= canvas.height() as i32 { below } else { (y1 as i32 - thick - bh).max(0) };
                draw_filled_rect_mut(&mut canvas, Rect::at(bx, by).of_size(bw.max(1) as u32, bh.max(1) as u32), m.color);
                draw_text_mut(&mut canvas, Rgb([255, 255, 255]), bx + pad, by + pad, PxScale::from(px), font(), &m.caption);
            }
        }
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_loads_and_boxes_are_drawn_at_scale() {
        let _ = font();
        let photo = RgbImage::new(3200, 1600);
        let marks = vec![Mark { bbox: [100.0, 100.0, 900.0, 900.0], landmarks: vec![], color: KEPT, caption: "0".into() }];
        let out = annotate(&photo, &marks, 1600);
        assert_eq!(out.dimensions(), (1600, 800));
        // The box's top-left corner lands at half scale.
        assert_eq!(*out.get_pixel(50, 60), KEPT);
    }
}
