//! Puts a face into the standard 112x112 pose the recognizer was trained on: a similarity
//! transform (rotation, uniform scale, shift) that best maps the five detected landmarks
//! onto the ArcFace template, then a bilinear warp.

use image::imageops;
use image::RgbImage;

use crate::raster::{downscale, sample_bilinear};

/// Side of the aligned face.
pub const ALIGNED_SIZE: u32 = 112;

/// Where the five landmarks sit in a 112x112 aligned face (the ArcFace template, which
/// SFace was trained with): eyes, nose tip, mouth corners, in the detector's order.
pub const ARCFACE_TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// `x' = a*x - b*y + tx`, `y' = b*x + a*y + ty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares similarity from `src` to `dst` (Umeyama's closed form in 2-D).
    /// `None` when the source points are all in one place.
    pub fn estimate(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Option<Similarity> {
        let n = src.len().min(dst.len());
        if n < 2 {
            return None;
        }
        let mean = |pts: &[[f32; 2]]| {
            let (sx, sy) = pts[..n].iter().fold((0.0f64, 0.0f64), |(x, y), p| {
                (x + f64::from(p[0]), y + f64::from(p[1]))
            });
            (sx / n as f64, sy / n as f64)
        };
        let (msx, msy) = mean(src);
        let (mdx, mdy) = mean(dst);
        let (mut dot, mut cross, mut norm) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            let (x, y) = (f64::from(src[i][0]) - msx, f64::from(src[i][1]) - msy);
            let (u, v) = (f64::from(dst[i][0]) - mdx, f64::from(dst[i][1]) - mdy);
            dot += x * u + y * v;
            cross += x * v - y * u;
            norm += x * x + y * y;
        }
        if norm.is_nan() || norm <= 1e-9 {
            return None;
        }
        let a = dot / norm;
        let b = cross / norm;
        let tx = mdx - (a * msx - b * msy);
        let ty = mdy - (b * msx + a * msy);
        Some(Similarity {
            a: a as f32,
            b: b as f32,
            tx: tx as f32,
            ty: ty as f32,
        })
    }

    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.tx,
            self.b * p[0] + self.a * p[1] + self.ty,
        ]
    }

    /// The scale factor (destination pixels per source pixel).
    pub fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }

    pub fn inverse(&self) -> Option<Similarity> {
        let d = self.a * self.a + self.b * self.b;
        if d.is_nan() || d <= 1e-12 {
            return None;
        }
        let (a, b) = (self.a / d, -self.b / d);
        Some(Similarity {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        })
    }
}

/// The aligned 112x112 face, or `None` when the landmarks are degenerate.
///
/// A face much larger than 112 pixels is first reduced with a proper filter, so the warp
/// samples a picture of about its own resolution and does not alias.
pub fn align_face(img: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<RgbImage> {
    let to_template = Similarity::estimate(landmarks, &ARCFACE_TEMPLATE)?;
    let scale = to_template.scale();
    if scale < 0.5 {
        let from_template = to_template.inverse()?;
        let size = ALIGNED_SIZE as f32;
        let corners =
            [[0.0, 0.0], [size, 0.0], [0.0, size], [size, size]].map(|p| from_template.apply(p));
        let margin = 4.0 / scale;
        let (w, h) = (img.width() as f32, img.height() as f32);
        let x0 =
            (corners.iter().map(|p| p[0]).fold(f32::MAX, f32::min) - margin).clamp(0.0, w - 1.0);
        let y0 =
            (corners.iter().map(|p| p[1]).fold(f32::MAX, f32::min) - margin).clamp(0.0, h - 1.0);
        let x1 =
            (corners.iter().map(|p| p[0]).fold(f32::MIN, f32::max) + margin).clamp(x0 + 1.0, w);
        let y1 =
            (corners.iter().map(|p| p[1]).fold(f32::MIN, f32::max) + margin).clamp(y0 + 1.0, h);
        let (cx, cy) = (x0.floor() as u32, y0.floor() as u32);
        let (cw, ch) = (
            (x1.ceil() as u32 - cx).max(1),
            (y1.ceil() as u32 - cy).max(1),
        );
        let crop = imageops::crop_imm(img, cx, cy, cw, ch).to_image();
        let (rw, rh) = (
            ((cw as f32 * scale).ceil() as u32).max(1),
            ((ch as f32 * scale).ceil() as u32).max(1),
        );
        let reduced = downscale(&crop, rw, rh);
        let (fx, fy) = (rw as f32 / cw as f32, rh as f32 / ch as f32);
        let moved = landmarks.map(|p| [(p[0] - cx as f32) * fx, (p[1] - cy as f32) * fy]);
        let to_template = Similarity::estimate(&moved, &ARCFACE_TEMPLATE)?;
        return warp(&reduced, &to_template);
    }
    warp(img, &to_template)
}

fn warp(img: &RgbImage, to_template: &Similarity) -> Option<RgbImage> {
    let back = to_template.inverse()?;
    let mut out = RgbImage::new(ALIGNED_SIZE, ALIGNED_SIZE);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let [sx, sy] = back.apply([x as f32, y as f32]);
        let c = sample_bilinear(img, sx, sy);
        px.0 = c.map(|v| v.round().clamp(0.0, 255.0) as u8);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        let t = Similarity {
            a: 0.8,
            b: 0.3,
            tx: 5.0,
            ty: -2.0,
        };
        let src = [[1.0, 2.0], [10.0, 3.0], [4.0, 8.0], [7.0, 1.0], [2.0, 9.0]];
        let dst = src.map(|p| t.apply(p));
        let est = Similarity::estimate(&src, &dst).unwrap();
        assert!((est.a - 0.8).abs() < 1e-4 && (est.b - 0.3).abs() < 1e-4);
        assert!((est.tx - 5.0).abs() < 1e-3 && (est.ty + 2.0).abs() < 1e-3);
        let back = est.inverse().unwrap().apply(dst[2]);
        assert!((back[0] - 4.0).abs() < 1e-3 && (back[1] - 8.0).abs() < 1e-3);
    }

    #[test]
    fn degenerate_landmarks_give_none() {
        assert!(Similarity::estimate(&[[3.0, 3.0]; 5], &ARCFACE_TEMPLATE).is_none());
        let img = RgbImage::new(10, 10);
        assert!(align_face(&img, &[[3.0, 3.0]; 5]).is_none());
    }

    #[test]
    fn landmarks_on_the_template_map_to_themselves() {
        // A 4x larger face: alignment goes through the reduction path and still lands
        // the landmark pixels where the template says.
        let big = ARCFACE_TEMPLATE.map(|p| [p[0] * 4.0 + 100.0, p[1] * 4.0 + 50.0]);
        let mut img = RgbImage::from_pixel(800, 600, image::Rgb([0, 0, 0]));
        let [ex, ey] = big[2];
        for y in (ey as u32 - 8)..(ey as u32 + 8) {
            for x in (ex as u32 - 8)..(ex as u32 + 8) {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let aligned = align_face(&img, &big).unwrap();
        let [nx, ny] = ARCFACE_TEMPLATE[2];
        assert!(aligned.get_pixel(nx as u32, ny as u32)[0] > 200);
        assert!(aligned.get_pixel(10, 10)[0] < 20);
    }
}
