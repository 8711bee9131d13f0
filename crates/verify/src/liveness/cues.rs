//! Screen and print cues measured on the face: reported as scores only.
//!
//! None of these feed the liveness decision yet. Each is a cheap, well-known symptom of a
//! picture of a picture, but each also rises or falls with ordinary things (sharpening,
//! sensor noise, JPEG, glossy skin), so none is trustworthy alone until it has been
//! measured on real captures and attacks. They are reported so that calibration can
//! happen from stored reports.
//!
//! Measured at the camera's own resolution on a window of at most 128x128 pixels at the
//! centre of the face box (nose and cheeks): resampling would erase the finest scale,
//! which is where a screen's pixel grid and a print's halftone live.

use image::RgbImage;
use serde::Serialize;

use crate::raster::to_luma;

/// Largest side of the measured window, in pixels.
const WINDOW: u32 = 128;

/// The cues of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameCues {
    /// Energy at the finest scale (grey minus its 2x2 box blur) over energy at the next
    /// scale (2x2 blur minus 4x4 blur). Moire, a screen's pixel grid and halftone dots
    /// raise it; so do sensor noise and sharpening.
    pub fine_to_mid_energy: f32,
    /// Share of the grey levels between the 5th and 95th percentile that occur at all.
    /// Real skin under a noisy sensor uses nearly all of them; a low-bit-depth screen or
    /// posterised print leaves gaps (banding).
    pub grey_levels_used: f32,
    /// Share of pixels with a channel at 250 or more: glare on a screen or glossy print.
    pub saturated_share: f32,
}

/// The cues of the face in `image` at `bbox`; `None` when the window is smaller than
/// 8x8 pixels or outside the image.
pub fn frame_cues(image: &RgbImage, bbox: [f32; 4]) -> Option<FrameCues> {
    let [x, y, w, h] = bbox;
    if !bbox.iter().all(|v| v.is_finite()) || w <= 0.0 || h <= 0.0 {
        return None;
    }
    let (iw, ih) = (image.width() as f32, image.height() as f32);
    let side_w = w.min(WINDOW as f32);
    let side_h = h.min(WINDOW as f32);
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let x0 = (cx - side_w / 2.0).floor().clamp(0.0, iw);
    let y0 = (cy - side_h / 2.0).floor().clamp(0.0, ih);
    let x1 = (cx + side_w / 2.0).floor().clamp(0.0, iw);
    let y1 = (cy + side_h / 2.0).floor().clamp(0.0, ih);
    if x1 - x0 < 8.0 || y1 - y0 < 8.0 {
        return None;
    }
    let window = image::imageops::crop_imm(
        image,
        x0 as u32,
        y0 as u32,
        (x1 - x0) as u32,
        (y1 - y0) as u32,
    )
    .to_image();
    Some(FrameCues {
        fine_to_mid_energy: fine_to_mid(&window),
        grey_levels_used: levels_used(&window),
        saturated_share: saturated(&window),
    })
}

fn fine_to_mid(window: &RgbImage) -> f32 {
    let grey = to_luma(window);
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let g: Vec<f32> = grey.as_raw().iter().map(|&v| f32::from(v)).collect();
    let at = |x: usize, y: usize| g[y.min(h - 1) * w + x.min(w - 1)];
    let blur = |x: usize, y: usize, k: usize| {
        let mut s = 0.0;
        for dy in 0..k {
            for dx in 0..k {
                s += at(x + dx, y + dy);
            }
        }
        s / (k * k) as f32
    };
    let (mut fine, mut mid) = (0.0f64, 0.0f64);
    for y in 0..h.saturating_sub(4) {
        for x in 0..w.saturating_sub(4) {
            let (b2, b4) = (blur(x, y, 2), blur(x, y, 4));
            fine += f64::from((at(x, y) - b2).powi(2));
            mid += f64::from((b2 - b4).powi(2));
        }
    }
    let ratio = fine / (mid + 1e-6);
    if ratio.is_finite() {
        ratio as f32
    } else {
        0.0
    }
}

fn levels_used(window: &RgbImage) -> f32 {
    let grey = to_luma(window);
    let mut hist = [0u32; 256];
    grey.as_raw().iter().for_each(|&v| hist[v as usize] += 1);
    let n = grey.as_raw().len() as u32;
    let percentile = |p: u32| {
        let target = (n * p / 100).max(1);
        let mut acc = 0;
        for (level, &c) in hist.iter().enumerate() {
            acc += c;
            if acc >= target {
                return level;
            }
        }
        255
    };
    let (lo, hi) = (percentile(5), percentile(95));
    let span = hist[lo..=hi].len() as f32;
    hist[lo..=hi].iter().filter(|&&c| c > 0).count() as f32 / span
}

fn saturated(window: &RgbImage) -> f32 {
    let n = window.pixels().len().max(1) as f32;
    window
        .pixels()
        .filter(|p| p.0.iter().any(|&c| c >= 250))
        .count() as f32
        / n
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn cues_tell_a_fine_grid_banding_and_glare_from_a_smooth_noisy_face() {
        // A smooth gradient with pseudo-random sensor noise.
        let natural = RgbImage::from_fn(64, 64, |x, y| {
            let noise = ((x * 7919 + y * 104729) % 7) as i32 - 3;
            let v = (60 + x + y / 2) as i32 + noise;
            Rgb([v as u8, v as u8, v as u8])
        });
        // The same gradient seen through a one-pixel screen grid.
        let grid = RgbImage::from_fn(64, 64, |x, y| {
            let v = 60 + x + y / 2 + if (x + y) % 2 == 0 { 40 } else { 0 };
            Rgb([v as u8, v as u8, v as u8])
        });
        // The gradient posterised to steps of 8 levels.
        let banded = RgbImage::from_fn(64, 64, |x, y| {
            let v = (60 + x + y / 2) / 8 * 8;
            Rgb([v as u8, v as u8, v as u8])
        });
        let bbox = [0.0, 0.0, 64.0, 64.0];
        let n = frame_cues(&natural, bbox).unwrap();
        let g = frame_cues(&grid, bbox).unwrap();
        let b = frame_cues(&banded, bbox).unwrap();
        assert!(
            g.fine_to_mid_energy > 5.0 * n.fine_to_mid_energy,
            "{g:?} {n:?}"
        );
        assert!(
            n.grey_levels_used > 0.9 && b.grey_levels_used < 0.2,
            "{n:?} {b:?}"
        );
        assert_eq!(n.saturated_share, 0.0);
        let glare = RgbImage::from_pixel(64, 64, Rgb([255, 250, 240]));
        assert_eq!(frame_cues(&glare, bbox).unwrap().saturated_share, 1.0);
        assert!(frame_cues(&natural, [60.0, 60.0, 30.0, 30.0]).is_none());
        assert!(frame_cues(&natural, [f32::INFINITY, 0.0, 30.0, 30.0]).is_none());
    }
}
