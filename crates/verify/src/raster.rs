//! Small raster operations the engine needs on every frame: fast downscaling, bilinear
//! sampling and grey-level statistics. Kept here so detection, alignment and quality
//! checks share one implementation.

use image::imageops::{self, FilterType};
use image::{GrayImage, RgbImage};

/// Scales `img` so it fits inside `max_w` x `max_h`, keeping its aspect ratio. Returns the
/// image and the factor applied (output size / input size); never enlarges.
///
/// Big reductions (a 12-megapixel photo to a 320-pixel detector input) first average
/// whole blocks, which is one cheap pass, then finish with a triangle filter; this keeps
/// the result free of aliasing at a fraction of a wide-kernel resize's cost.
pub fn shrink_to_fit(img: &RgbImage, max_w: u32, max_h: u32) -> (RgbImage, f32) {
    let (w, h) = img.dimensions();
    let scale = (max_w as f32 / w as f32)
        .min(max_h as f32 / h as f32)
        .min(1.0);
    if scale >= 1.0 {
        return (img.clone(), 1.0);
    }
    let out_w = ((w as f32 * scale).round() as u32).max(1);
    let out_h = ((h as f32 * scale).round() as u32).max(1);
    let actual = (out_w as f32 / w as f32 + out_h as f32 / h as f32) / 2.0;
    (downscale(img, out_w, out_h), actual)
}

/// Resizes `img` to exactly `out_w` x `out_h`, which should not be larger. Reductions by
/// four or more first average whole blocks, then a triangle filter finishes the job.
pub fn downscale(img: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let factor = (w as f32 / out_w.max(1) as f32).min(h as f32 / out_h.max(1) as f32);
    let block = factor.floor() as u32 / 2;
    if block >= 2 {
        let reduced = box_reduce(img, block);
        imageops::resize(&reduced, out_w, out_h, FilterType::Triangle)
    } else {
        imageops::resize(img, out_w, out_h, FilterType::Triangle)
    }
}

/// Averages `k` x `k` blocks; the right and bottom remainders are averaged over what exists.
pub fn box_reduce(img: &RgbImage, k: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let k = k.max(1);
    let out_w = w.div_ceil(k);
    let out_h = h.div_ceil(k);
    let mut out = RgbImage::new(out_w, out_h);
    let src = img.as_raw();
    let stride = w as usize * 3;
    let mut sums = vec![0u32; out_w as usize * 3];
    for oy in 0..out_h {
        sums.iter_mut().for_each(|s| *s = 0);
        let y0 = oy * k;
        let y1 = (y0 + k).min(h);
        for y in y0..y1 {
            let row = &src[y as usize * stride..(y as usize + 1) * stride];
            for (x, px) in row.chunks_exact(3).enumerate() {
                let o = (x / k as usize) * 3;
                sums[o] += u32::from(px[0]);
                sums[o + 1] += u32::from(px[1]);
                sums[o + 2] += u32::from(px[2]);
            }
        }
        let rows = y1 - y0;
        for ox in 0..out_w {
            let cols = (ox * k + k).min(w) - ox * k;
            let n = rows * cols;
            let o = ox as usize * 3;
            out.put_pixel(
                ox,
                oy,
                image::Rgb([
                    ((sums[o] + n / 2) / n) as u8,
                    ((sums[o + 1] + n / 2) / n) as u8,
                    ((sums[o + 2] + n / 2) / n) as u8,
                ]),
            );
        }
    }
    out
}

/// Samples `img` at a real-valued position with bilinear interpolation; outside the
/// image the colour is black, as a camera sees nothing there.
#[inline]
pub fn sample_bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = img.dimensions();
    if !(x > -1.0 && y > -1.0 && x < w as f32 && y < h as f32) {
        return [0.0; 3];
    }
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    let (x0, y0) = (x0 as i64, y0 as i64);
    let raw = img.as_raw();
    let get = |xi: i64, yi: i64| -> [f32; 3] {
        if xi < 0 || yi < 0 || xi >= i64::from(w) || yi >= i64::from(h) {
            return [0.0; 3];
        }
        let o = (yi as usize * w as usize + xi as usize) * 3;
        [
            f32::from(raw[o]),
            f32::from(raw[o + 1]),
            f32::from(raw[o + 2]),
        ]
    };
    let p00 = get(x0, y0);
    let p10 = get(x0 + 1, y0);
    let p01 = get(x0, y0 + 1);
    let p11 = get(x0 + 1, y0 + 1);
    let mut out = [0.0; 3];
    for c in 0..3 {
        let top = p00[c] + (p10[c] - p00[c]) * fx;
        let bottom = p01[c] + (p11[c] - p01[c]) * fx;
        out[c] = top + (bottom - top) * fy;
    }
    out
}

/// `img` turned by `degrees` (counter-clockwise as seen) about its centre, same size,
/// with grey where nothing was.
pub fn rotate_grey(img: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let (sx, sy) = (c * dx - s * dy + cx, s * dx + c * dy + cy);
        if sx >= 0.0 && sy >= 0.0 && sx < w as f32 - 1.0 && sy < h as f32 - 1.0 {
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let p = |xx: f32, yy: f32| f32::from(img.get_pixel(xx as u32, yy as u32)[0]);
            let top = p(x0, y0) * (1.0 - fx) + p(x0 + 1.0, y0) * fx;
            let bottom = p(x0, y0 + 1.0) * (1.0 - fx) + p(x0 + 1.0, y0 + 1.0) * fx;
            image::Luma([(top * (1.0 - fy) + bottom * fy).round() as u8])
        } else {
            image::Luma([128])
        }
    })
}

/// The tilt, in degrees within ±45, of the image's dominant near-vertical edges (bars of
/// a barcode, columns of text): the peak of a magnitude-weighted histogram of gradient
/// directions. Positive when the edges lean clockwise. Also returns how concentrated the
/// edges are: the share of all edge strength within 3 degrees of the peak (a barcode's
/// parallel bars make it high; text and faces spread it).
pub fn dominant_tilt(img: &GrayImage) -> (f32, f32) {
    let (w, h) = img.dimensions();
    let mut bins = [0.0f32; 91];
    let mut total = 0.0f32;
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let p = |dx: i32, dy: i32| {
                f32::from(img.get_pixel((x as i32 + dx) as u32, (y as i32 + dy) as u32)[0])
            };
            let gx = p(1, -1) + 2.0 * p(1, 0) + p(1, 1) - p(-1, -1) - 2.0 * p(-1, 0) - p(-1, 1);
            let gy = p(-1, 1) + 2.0 * p(0, 1) + p(1, 1) - p(-1, -1) - 2.0 * p(0, -1) - p(1, -1);
            let magnitude = (gx * gx + gy * gy).sqrt();
            if magnitude < 40.0 {
                continue;
            }
            total += magnitude;
            // Direction of the gradient folded to (-90, 90]; near-vertical edges have
            // near-horizontal gradients.
            let mut angle = gy.atan2(gx).to_degrees();
            if angle > 90.0 {
                angle -= 180.0;
            } else if angle <= -90.0 {
                angle += 180.0;
            }
            if angle.abs() <= 45.0 {
                bins[(angle + 45.0).round() as usize] += magnitude;
            }
        }
    }
    let peak = bins
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(45, |(i, _)| i);
    let near: f32 = bins[peak.saturating_sub(3)..(peak + 4).min(bins.len())]
        .iter()
        .sum();
    (
        peak as f32 - 45.0,
        if total > 0.0 { near / total } else { 0.0 },
    )
}

/// ITU-R BT.601 luma.
pub fn to_luma(img: &RgbImage) -> GrayImage {
    let (w, h) = img.dimensions();
    let mut out = GrayImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(img.pixels()) {
        let y = 0.299 * f32::from(src[0]) + 0.587 * f32::from(src[1]) + 0.114 * f32::from(src[2]);
        dst[0] = y.round().clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn shrink_keeps_aspect_and_never_enlarges() {
        let img = RgbImage::from_pixel(4000, 3000, Rgb([10, 20, 30]));
        let (small, scale) = shrink_to_fit(&img, 320, 320);
        assert_eq!(small.dimensions(), (320, 240));
        assert!((scale - 0.08).abs() < 1e-3);
        assert_eq!(small.get_pixel(100, 100), &Rgb([10, 20, 30]));
        let (same, scale) = shrink_to_fit(&small, 1000, 1000);
        assert_eq!(same.dimensions(), (320, 240));
        assert_eq!(scale, 1.0);
    }

    #[test]
    fn box_reduce_averages_including_ragged_edges() {
        let img = RgbImage::from_fn(5, 3, |x, _| Rgb([if x < 2 { 0 } else { 200 }, 0, 0]));
        let out = box_reduce(&img, 2);
        assert_eq!(out.dimensions(), (3, 2));
        assert_eq!(out.get_pixel(0, 0)[0], 0);
        assert_eq!(out.get_pixel(1, 0)[0], 200);
        assert_eq!(out.get_pixel(2, 1)[0], 200);
    }

    #[test]
    fn bilinear_interpolates_and_is_black_outside() {
        let img = RgbImage::from_fn(2, 1, |x, _| Rgb([(x * 100) as u8, 0, 0]));
        assert_eq!(sample_bilinear(&img, 0.5, 0.0)[0], 50.0);
        assert_eq!(sample_bilinear(&img, -5.0, 0.0), [0.0; 3]);
        assert_eq!(sample_bilinear(&img, f32::NAN, 0.0), [0.0; 3]);
    }
}
