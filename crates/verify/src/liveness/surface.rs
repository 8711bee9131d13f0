//! Is the face a flat picture? The dense test, over the whole face rather than the nose.
//!
//! A print or a screen is a plane, so any two views of it are related by one homography:
//! warping the reference frame's face by the homography of its four planar landmarks (eyes,
//! mouth corners) onto a turned frame lines up every pixel of the picture, cheeks, nose and
//! hairline alike. A real head turned by 20 degrees does not line up: the near cheek
//! widens, the far one narrows and disappears behind the nose, the ear comes into view.
//! The score is the normalised cross-correlation of the reference face with the turned
//! frame's face after that warp; a flat picture scores close to 1 wherever it is moved.
//!
//! This complements the nose parallax of [`super::planarity`], which rests on one
//! landmark the detector places with a prior of a 3-D face; here the pixels decide.

use image::RgbImage;
use zeroize::Zeroize;

use super::planarity::Homography;
use crate::raster::to_luma;

/// Side of the grey face patch kept per frame.
pub const PATCH: usize = 48;

/// The face region of one frame in grey, PATCH x PATCH, and where it came from: pixel
/// `(u, v)` of the patch is frame point `origin + (u, v) * step`. Biometric: never
/// printed, wiped when dropped.
#[derive(Clone)]
pub struct FacePatch {
    pixels: Vec<f32>,
    origin: [f32; 2],
    step: f32,
}

impl std::fmt::Debug for FacePatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FacePatch({PATCH}x{PATCH}, redacted)")
    }
}

impl Drop for FacePatch {
    fn drop(&mut self) {
        self.pixels.zeroize();
    }
}

impl FacePatch {
    /// The square around the face box (1.2 times its larger side), area-averaged so the
    /// patch is equally smooth whatever the face's size in the frame.
    pub fn of(image: &RgbImage, bbox: [f32; 4]) -> Option<FacePatch> {
        let [x, y, w, h] = bbox;
        if !(x.is_finite() && y.is_finite() && w > 4.0 && h > 4.0) {
            return None;
        }
        let side = w.max(h) * 1.2;
        let step = side / PATCH as f32;
        let origin = [x + w / 2.0 - side / 2.0, y + h / 2.0 - side / 2.0];
        let grey = to_luma(image);
        let (iw, ih) = (grey.width() as i64, grey.height() as i64);
        let k = (step.ceil() as i64).clamp(1, 8);
        let mut pixels = Vec::with_capacity(PATCH * PATCH);
        for v in 0..PATCH {
            for u in 0..PATCH {
                let (px, py) = (origin[0] + u as f32 * step, origin[1] + v as f32 * step);
                let (mut sum, mut n) = (0.0f32, 0.0f32);
                for j in 0..k {
                    for i in 0..k {
                        let sx = (px + (i as f32 + 0.5) * step / k as f32) as i64;
                        let sy = (py + (j as f32 + 0.5) * step / k as f32) as i64;
                        if sx >= 0 && sy >= 0 && sx < iw && sy < ih {
                            sum += f32::from(grey.get_pixel(sx as u32, sy as u32)[0]);
                            n += 1.0;
                        }
                    }
                }
                // Outside the frame: NaN, so it is left out of the comparison.
                pixels.push(if n > 0.0 { sum / n } else { f32::NAN });
            }
        }
        Some(FacePatch {
            pixels,
            origin,
            step,
        })
    }

    fn at_frame_point(&self, p: [f32; 2]) -> Option<f32> {
        let u = (p[0] - self.origin[0]) / self.step;
        let v = (p[1] - self.origin[1]) / self.step;
        if !(u >= 0.0 && v >= 0.0 && u < (PATCH - 1) as f32 && v < (PATCH - 1) as f32) {
            return None;
        }
        let (u0, v0) = (u.floor() as usize, v.floor() as usize);
        let (fu, fv) = (u - u0 as f32, v - v0 as f32);
        let at = |x: usize, y: usize| self.pixels.get(y * PATCH + x).copied();
        let (a, b, c, d) = (
            at(u0, v0)?,
            at(u0 + 1, v0)?,
            at(u0, v0 + 1)?,
            at(u0 + 1, v0 + 1)?,
        );
        let value =
            a * (1.0 - fu) * (1.0 - fv) + b * fu * (1.0 - fv) + c * (1.0 - fu) * fv + d * fu * fv;
        value.is_finite().then_some(value)
    }
}

/// How well the reference face, warped by the homography `h` (reference frame to this
/// frame), matches this frame's face: normalised cross-correlation over the inner face
/// (the reference patch's central disc). `None` when too little of it overlaps.
pub fn flat_fit(reference: &FacePatch, frame: &FacePatch, h: &Homography) -> Option<f32> {
    fit_with(reference, frame, |p| h.apply(p))
}

/// The best fit any homography near `h` gives: `h` refined by a pattern search over all
/// eight of its degrees of freedom. Landmarks on a tilted picture are placed with a
/// prior of a 3-D face, so the landmark homography itself can miss a flat picture by a
/// few pixels; the refined one does not, while no homography lines up a turned head.
pub fn best_flat_fit(reference: &FacePatch, frame: &FacePatch, h: &Homography) -> Option<f32> {
    let half = PATCH as f32 * reference.step / 2.0;
    let centre = [reference.origin[0] + half, reference.origin[1] + half];
    // Offsets in units of half the patch: translation, linear part, perspective.
    let warp = |q: &[f32; 8], p: [f32; 2]| {
        let (x, y) = ((p[0] - centre[0]) / half, (p[1] - centre[1]) / half);
        let w = 1.0 + q[6] * x + q[7] * y;
        if w.abs() < 0.2 {
            return None;
        }
        let u = ((1.0 + q[2]) * x + q[3] * y + q[0]) / w;
        let v = (q[4] * x + (1.0 + q[5]) * y + q[1]) / w;
        h.apply([centre[0] + u * half, centre[1] + v * half])
    };
    let score = |q: &[f32; 8]| fit_with(reference, frame, |p| warp(q, p));
    let mut q = [0.0f32; 8];
    let mut best = score(&q)?;
    let mut delta = 0.04f32;
    for _ in 0..6 {
        let mut improved = true;
        let mut rounds = 0;
        while improved && rounds < 8 {
            improved = false;
            rounds += 1;
            for k in 0..8 {
                // Perspective terms move the far side a lot: smaller steps.
                let d = if k >= 6 { delta * 0.5 } else { delta };
                for sign in [1.0f32, -1.0] {
                    let mut trial = q;
                    trial[k] += sign * d;
                    if let Some(s) = score(&trial) {
                        if s > best + 1e-4 {
                            best = s;
                            q = trial;
                            improved = true;
                        }
                    }
                }
            }
        }
        delta *= 0.5;
    }
    Some(best)
}

fn fit_with(
    reference: &FacePatch,
    frame: &FacePatch,
    map: impl Fn([f32; 2]) -> Option<[f32; 2]>,
) -> Option<f32> {
    let centre = (PATCH as f32 - 1.0) / 2.0;
    let radius = PATCH as f32 * 0.42;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for v in 0..PATCH {
        for u in 0..PATCH {
            let (du, dv) = (u as f32 - centre, v as f32 - centre);
            if du * du + dv * dv > radius * radius {
                continue;
            }
            let Some(&r) = reference.pixels.get(v * PATCH + u) else {
                continue;
            };
            if !r.is_finite() {
                continue;
            }
            let p = [
                reference.origin[0] + u as f32 * reference.step,
                reference.origin[1] + v as f32 * reference.step,
            ];
            let Some(q) = map(p) else {
                continue;
            };
            if let Some(f) = frame.at_frame_point(q) {
                a.push(r);
                b.push(f);
            }
        }
    }
    // At least half of the disc must land inside the other patch.
    let disc = std::f32::consts::PI * radius * radius;
    if (a.len() as f32) < disc * 0.5 {
        return None;
    }
    ncc(&a, &b)
}

fn ncc(a: &[f32], b: &[f32]) -> Option<f32> {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x - ma, y - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    let denominator = (saa * sbb).sqrt();
    (denominator > 1e-3).then(|| (sab / denominator).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(w: u32, h: u32, shift: f32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as f32 - shift, y as f32);
            let v = 128.0
                + 60.0 * (x * 0.11).sin() * (y * 0.07).cos()
                + 30.0 * (x * 0.031 + y * 0.05).sin();
            image::Rgb([v as u8; 3])
        })
    }

    fn identity_shift(dx: f32) -> Homography {
        Homography([1.0, 0.0, f64::from(dx), 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    }

    #[test]
    fn a_shifted_picture_fits_its_homography() {
        let a = textured(200, 200, 0.0);
        let b = textured(200, 200, 10.0);
        let pa = FacePatch::of(&a, [60.0, 60.0, 80.0, 80.0]).unwrap();
        let pb = FacePatch::of(&b, [70.0, 60.0, 80.0, 80.0]).unwrap();
        let fit = flat_fit(&pa, &pb, &identity_shift(10.0)).unwrap();
        assert!(fit > 0.85, "{fit}");
        // The wrong homography does not fit, but refined from there it does.
        let off = flat_fit(&pa, &pb, &identity_shift(6.0)).unwrap();
        assert!(off < fit - 0.05, "{fit} vs {off}");
        let refined = best_flat_fit(&pa, &pb, &identity_shift(6.0)).unwrap();
        assert!(refined > off + 0.05, "{off} -> {refined}");
    }

    #[test]
    fn degenerate_input_gives_nothing_not_a_panic() {
        let a = textured(200, 200, 0.0);
        assert!(FacePatch::of(&a, [f32::NAN, 0.0, 50.0, 50.0]).is_none());
        assert!(FacePatch::of(&a, [0.0, 0.0, 2.0, 2.0]).is_none());
        let flat = RgbImage::from_pixel(200, 200, image::Rgb([90, 90, 90]));
        let pf = FacePatch::of(&flat, [60.0, 60.0, 80.0, 80.0]).unwrap();
        assert_eq!(flat_fit(&pf, &pf, &identity_shift(0.0)), None);
        // Mapped entirely outside: too little overlap.
        let pa = FacePatch::of(&a, [60.0, 60.0, 80.0, 80.0]).unwrap();
        assert_eq!(flat_fit(&pa, &pa, &identity_shift(500.0)), None);
        // A face box hanging off the frame still makes a patch.
        assert!(FacePatch::of(&a, [-40.0, -40.0, 80.0, 80.0]).is_some());
    }

    #[test]
    fn debug_is_redacted() {
        let a = textured(100, 100, 0.0);
        let p = FacePatch::of(&a, [20.0, 20.0, 50.0, 50.0]).unwrap();
        assert!(format!("{p:?}").contains("redacted"));
    }
}
