//! What a detector finds, and the arithmetic that both the detector
//! ([`crate::detector`]) and the scan plan ([`crate::scan`]) use: the size a
//! photo is fitted to, and non-maximum suppression. Kept apart so that
//! neither of those two modules imports the other.

use rollcall_shared::align::Landmarks;
use rollcall_shared::geometry::BBox;

/// One detected face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Box in image pixels.
    pub bbox: BBox,
    /// Face confidence, 0-1.
    pub score: f32,
    /// Left eye, right eye, nose, left and right mouth corner, in image pixels.
    pub landmarks: Landmarks,
}

/// The size a `w` x `h` photo is scaled to, to fit inside `target`: the
/// reference's arithmetic to the letter (fill the box along the tighter
/// side, truncate the other).
pub fn scaled_size(w: usize, h: usize, target: [u32; 2]) -> (usize, usize) {
    let [box_w, box_h] = target;
    let im_ratio = h as f64 / w as f64;
    let (new_w, new_h) = if im_ratio > box_h as f64 / box_w as f64 {
        ((box_h as f64 / im_ratio) as usize, box_h as usize)
    } else {
        (box_w as usize, (box_w as f64 * im_ratio) as usize)
    };
    (new_w.clamp(1, box_w as usize), new_h.clamp(1, box_h as usize))
}

/// Greedy non-maximum suppression: keeps the highest-scoring box and drops
/// every box overlapping a kept one by more than `iou`. Areas use the
/// `(x2 - x1 + 1)` pixel convention of the reference RetinaFace code, so the
/// same boxes survive.
pub fn nms(mut dets: Vec<Detection>, iou: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        let suppressed = keep.iter().any(|k| nms_iou(&d.bbox, &k.bbox) > iou);
        if !suppressed {
            keep.push(d);
        }
    }
    keep
}

/// Intersection over union with the `(x2 - x1 + 1)` pixel convention of
/// [`nms`].
pub fn nms_iou(a: &BBox, b: &BBox) -> f32 {
    let area = |b: &BBox| (b.x2 - b.x1 + 1.0).max(0.0) * (b.y2 - b.y1 + 1.0).max(0.0);
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1) + 1.0).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1) + 1.0).max(0.0);
    let inter = w * h;
    inter / (area(a) + area(b) - inter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let d = |x: f32, s: f32| Detection { bbox: BBox { x1: x, y1: 0.0, x2: x + 100.0, y2: 100.0 }, score: s, landmarks: [[0.0; 2]; 5] };
        let kept = nms(vec![d(0.0, 0.8), d(10.0, 0.9), d(300.0, 0.75)], 0.4);
        let scores: Vec<f32> = kept.iter().map(|k| k.score).collect();
        assert_eq!(scores, [0.9, 0.75]);
    }
}
