//! What a webcam does to each frame: motion blur from whatever moved during the exposure,
//! a slightly different exposure every frame, sensor noise, and JPEG compression. Real
//! cameras never deliver two identical frames; a sequence without these is suspect.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, Rgb, RgbImage};
use reclaim_docgen::Rng;

use crate::head::bilinear;

/// One camera's settings, fixed for a sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Sensor noise standard deviation, 0..255 scale.
    pub noise_sigma: f32,
    /// Standard deviation of the per-frame exposure gain around 1.
    pub exposure_jitter: f32,
    /// JPEG quality (1-100), or 0 for none.
    pub jpeg_quality: u8,
    /// Exposure time as a share of the time between frames: a motion of d pixels since
    /// the previous frame smears the moving part over `shutter_share * d` pixels.
    pub shutter_share: f32,
}

impl Camera {
    /// A laptop webcam: noise sigma 2-4, exposure jitter 1-3%, JPEG 80-90.
    pub fn webcam(rng: &mut Rng) -> Camera {
        Camera {
            noise_sigma: rng.range(2.0, 4.0),
            exposure_jitter: rng.range(0.01, 0.03),
            jpeg_quality: 80 + rng.below(11) as u8,
            shutter_share: rng.range(0.08, 0.16),
        }
    }

    /// Takes `scene`: `motion` is how far (pixels) the moving part moved since the
    /// previous frame, `moving` how much of each pixel belongs to it (None: all of it).
    pub fn shoot(
        &self,
        scene: &RgbImage,
        motion: [f32; 2],
        moving: Option<&[f32]>,
        rng: &mut Rng,
    ) -> RgbImage {
        let streak = [
            motion[0] * self.shutter_share,
            motion[1] * self.shutter_share,
        ];
        let mut img = motion_blur(scene, streak, moving);
        let gain = 1.0 + self.exposure_jitter * rng.gaussian();
        let offset = rng.gaussian() * 1.5;
        expose(&mut img, gain, offset);
        add_noise(&mut img, self.noise_sigma, rng);
        if self.jpeg_quality > 0 {
            img = jpeg_round_trip(&img, self.jpeg_quality);
        }
        img
    }
}

/// Averages the image along `streak` (its full length, centred), blended in by `mask`.
pub fn motion_blur(img: &RgbImage, streak: [f32; 2], mask: Option<&[f32]>) -> RgbImage {
    let len = (streak[0] * streak[0] + streak[1] * streak[1]).sqrt();
    if !len.is_finite() || len < 0.5 {
        return img.clone();
    }
    let taps = (len.ceil() as usize + 1).clamp(2, 24);
    let (w, h) = img.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let m = mask.map_or(1.0, |m| m.get((y * w + x) as usize).copied().unwrap_or(0.0));
        let own = img.get_pixel(x, y).0;
        if m <= 0.0 {
            return Rgb(own);
        }
        let mut acc = [0.0f32; 3];
        for t in 0..taps {
            let f = t as f32 / (taps - 1) as f32 - 0.5;
            let p = bilinear(img, x as f32 + f * streak[0], y as f32 + f * streak[1]);
            for c in 0..3 {
                acc[c] += f32::from(p[c]);
            }
        }
        Rgb(std::array::from_fn(|c| {
            let blurred = acc[c] / taps as f32;
            (blurred * m + f32::from(own[c]) * (1.0 - m)).round() as u8
        }))
    })
}

/// Scales the exposure: `v * gain + offset`, clipped.
pub fn expose(img: &mut RgbImage, gain: f32, offset: f32) {
    for px in img.pixels_mut() {
        px.0 =
            px.0.map(|v| (f32::from(v) * gain + offset).round().clamp(0.0, 255.0) as u8);
    }
}

/// Gaussian sensor noise: mostly per channel, partly shared (luminance grain).
pub fn add_noise(img: &mut RgbImage, sigma: f32, rng: &mut Rng) {
    if sigma <= 0.0 {
        return;
    }
    for px in img.pixels_mut() {
        let shared = near_gaussian(rng) * sigma * 0.5;
        px.0 = px.0.map(|v| {
            let n = shared + near_gaussian(rng) * sigma * 0.85;
            (f32::from(v) + n).round().clamp(0.0, 255.0) as u8
        });
    }
}

/// A standard normal to within what noise needs (sum of four uniforms), from one draw:
/// a frame needs about a million and Box-Muller's logarithms would double its cost.
fn near_gaussian(rng: &mut Rng) -> f32 {
    let r = rng.next_u64();
    let sum = (r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48);
    // Four uniforms on 0..65535: mean 131070, standard deviation 65536 / sqrt(3).
    (sum as f32 - 131_070.0) / 37_837.2
}

/// Encodes and decodes at `quality`; if the codec fails the image is returned as it was
/// (a test sequence is still better than none).
pub fn jpeg_round_trip(img: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoded = JpegEncoder::new_with_quality(Cursor::new(&mut bytes), quality.clamp(1, 100))
        .encode_image(img);
    if encoded.is_err() {
        return img.clone();
    }
    image::load_from_memory(&bytes)
        .map(DynamicImage::into_rgb8)
        .unwrap_or_else(|_| img.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene() -> RgbImage {
        RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 100]))
    }

    #[test]
    fn the_same_seed_takes_the_same_picture() {
        let shoot = |seed| {
            let mut rng = Rng::new(seed);
            let cam = Camera::webcam(&mut rng);
            cam.shoot(&scene(), [6.0, 0.0], None, &mut rng)
        };
        assert_eq!(shoot(4), shoot(4));
        assert_ne!(shoot(4), shoot(5));
    }

    #[test]
    fn noise_has_the_asked_strength() {
        let mut img = RgbImage::from_pixel(100, 100, Rgb([128, 128, 128]));
        add_noise(&mut img, 3.0, &mut Rng::new(8));
        let n = img.as_raw().len() as f64;
        let mean = img.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = img
            .as_raw()
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        // Per channel: sqrt(0.5^2 + 0.85^2) * 3, plus rounding.
        assert!((mean - 128.0).abs() < 0.1, "{mean}");
        assert!((var.sqrt() - 2.96).abs() < 0.15, "{}", var.sqrt());
    }

    #[test]
    fn blur_only_where_the_mask_says() {
        let img = scene();
        let mut mask = vec![0.0; 64 * 48];
        mask[..64 * 24].fill(1.0);
        let out = motion_blur(&img, [10.0, 0.0], Some(&mask));
        assert_eq!(out.get_pixel(30, 40), img.get_pixel(30, 40));
        let mut striped = RgbImage::from_fn(64, 48, |x, _| Rgb([((x % 2) * 255) as u8; 3]));
        striped = motion_blur(&striped, [8.0, 0.0], None);
        let v = striped.get_pixel(30, 10)[0];
        assert!((100..=155).contains(&v), "{v}");
    }
}
