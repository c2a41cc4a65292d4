//! YUYV (YUV 4:2:2, the format every UVC webcam offers) to RGB8.
//!
//! Two pixels share one U and one V: `Y0 U Y1 V`. Conversion uses the
//! BT.601 limited-range integer formula webcams follow (Y in 16..235,
//! chroma in 16..240 around 128).

/// Converts a `width x height` YUYV buffer to interleaved RGB8. Returns
/// `None` if the buffer is too short or the width is odd.
pub(crate) fn to_rgb(yuyv: &[u8], width: usize, height: usize) -> Option<Vec<u8>> {
    if !width.is_multiple_of(2) || yuyv.len() < width * height * 2 {
        return None;
    }
    let mut out = vec![0u8; width * height * 3];
    for (src, dst) in yuyv[..width * height * 2].chunks_exact(4).zip(out.chunks_exact_mut(6)) {
        let (u, v) = (i32::from(src[1]) - 128, i32::from(src[3]) - 128);
        for (k, y) in [src[0], src[2]].into_iter().enumerate() {
            let c = 298 * (i32::from(y) - 16);
            let px = [(c + 409 * v + 128) >> 8, (c - 100 * u - 208 * v + 128) >> 8, (c + 516 * u + 128) >> 8];
            for (d, p) in dst[k * 3..k * 3 + 3].iter_mut().zip(px) {
                *d = p.clamp(0, 255) as u8;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_colours() {
        // Black, white, and BT.601 red / green / blue in limited range.
        let cases: [([u8; 4], [u8; 3]); 5] = [
            ([16, 128, 16, 128], [0, 0, 0]),
            ([235, 128, 235, 128], [255, 255, 255]),
            ([81, 90, 81, 240], [255, 0, 0]),
            ([145, 54, 145, 34], [0, 255, 0]),
            ([41, 240, 41, 110], [0, 0, 255]),
        ];
        for (yuyv, rgb) in cases {
            let out = to_rgb(&yuyv, 2, 1).unwrap();
            for (got, want) in out.chunks(3).flat_map(|p| p.iter().zip(rgb.iter())) {
                assert!((i32::from(*got) - i32::from(*want)).abs() <= 2, "{yuyv:?} -> {out:?}, want {rgb:?}");
            }
        }
    }

    #[test]
    fn two_pixels_share_chroma_but_keep_their_luma() {
        let out = to_rgb(&[16, 128, 235, 128], 2, 1).unwrap();
        assert_eq!(out, vec![0, 0, 0, 255, 255, 255]);
        assert!(to_rgb(&[0; 6], 3, 1).is_none(), "odd width");
        assert!(to_rgb(&[0; 4], 2, 2).is_none(), "short buffer");
    }
}
