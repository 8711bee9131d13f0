//! What a webcam does to each frame: motion blur from whatever moved during the exposure,
//! a slightly different exposure every frame, sensor noise, and JPEG compression. Real
//! cameras never deliver two identical frames; a sequence without these is suspect.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, Rgb, RgbImage};
use reclaim_docgen::Rng;

use crate::head::bilinear;
use crate::light::{linear_to_srgb, LinearImage};

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

/// A webcam's automatic exposure and white balance, which follow the scene slowly (time
/// constants of 0.5 to 1.5 s, as webcams' do) and so partly cancel any change of the
/// light that lasts long enough: a light check must survive them.
///
/// Metering is centre-weighted (a Gaussian over the frame, sigma 30% of its width):
/// exposure brings the weighted mean luminance to `target` (linear), white balance is
/// grey-world (the weighted means of the three channels made equal, gains kept within
/// 0.5 to 2). Both move toward their aims exponentially in the logarithm. The first frame
/// finds them converged (the preview ran before the capture).
#[derive(Debug, Clone, PartialEq)]
pub struct AutoCamera {
    pub camera: Camera,
    pub exposure_tau_ms: f32,
    pub white_balance_tau_ms: f32,
    /// Mean linear level the exposure aims for (0.18: mid grey).
    pub target: f32,
    /// Exposure and white balance set on the first frame and then held (a camera whose
    /// automatics are off), for measurements.
    pub locked: bool,
    state: Option<AutoState>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct AutoState {
    log_gain: f32,
    log_balance: [f32; 3],
    last_ms: u64,
}

impl AutoCamera {
    /// A laptop webcam ([`Camera::webcam`]) with automatics of 0.5-1.5 s.
    pub fn webcam(rng: &mut Rng) -> AutoCamera {
        let camera = Camera::webcam(rng);
        AutoCamera {
            camera,
            exposure_tau_ms: rng.range(500.0, 1500.0),
            white_balance_tau_ms: rng.range(500.0, 1500.0),
            target: 0.18,
            locked: false,
            state: None,
        }
    }

    /// The exposure gain and the white-balance gains now (None before the first frame).
    pub fn settings(&self) -> Option<(f32, [f32; 3])> {
        self.state
            .map(|s| (s.log_gain.exp(), s.log_balance.map(f32::exp)))
    }

    /// Takes a frame of `scene` (linear radiance, any scale) at `timestamp_ms`: meters,
    /// moves the automatics, develops to sRGB and then does what [`Camera::shoot`] does
    /// (blur, exposure jitter, noise, JPEG).
    pub fn shoot(
        &mut self,
        scene: &LinearImage,
        timestamp_ms: u64,
        motion: [f32; 2],
        moving: Option<&[f32]>,
        rng: &mut Rng,
    ) -> RgbImage {
        let (aim_gain, aim_balance) = meter(scene, self.target);
        let state = match self.state {
            None => AutoState {
                log_gain: aim_gain,
                log_balance: aim_balance,
                last_ms: timestamp_ms,
            },
            Some(s) if self.locked => s,
            Some(s) => {
                let dt = timestamp_ms.saturating_sub(s.last_ms) as f32;
                let follow = |tau: f32| 1.0 - (-dt / tau.max(1.0)).exp();
                let (ke, kw) = (
                    follow(self.exposure_tau_ms),
                    follow(self.white_balance_tau_ms),
                );
                AutoState {
                    log_gain: s.log_gain + ke * (aim_gain - s.log_gain),
                    log_balance: std::array::from_fn(|c| {
                        s.log_balance[c] + kw * (aim_balance[c] - s.log_balance[c])
                    }),
                    last_ms: timestamp_ms,
                }
            }
        };
        self.state = Some(state);
        let gains: [f32; 3] =
            std::array::from_fn(|c| (state.log_gain + state.log_balance[c]).exp());
        let developed = RgbImage::from_fn(scene.width, scene.height, |x, y| {
            let p = scene.pixels[(y * scene.width + x) as usize];
            Rgb(std::array::from_fn(|c| linear_to_srgb(p[c] * gains[c])))
        });
        self.camera.shoot(&developed, motion, moving, rng)
    }
}

/// Log exposure gain and log white-balance gains that the automatics aim for.
fn meter(scene: &LinearImage, target: f32) -> (f32, [f32; 3]) {
    let (w, h) = (scene.width, scene.height);
    let sigma = 0.3 * w as f32;
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut acc = [0.0f64; 3];
    let mut total = 0.0f64;
    // Every fourth pixel each way is plenty for a mean.
    for y in (0..h).step_by(4) {
        for x in (0..w).step_by(4) {
            let r2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
            let weight = f64::from((-r2 / (2.0 * sigma * sigma)).exp());
            let p = scene.pixels[(y * w + x) as usize];
            for c in 0..3 {
                acc[c] += weight * f64::from(p[c]);
            }
            total += weight;
        }
    }
    let mean = acc.map(|v| (v / total.max(1e-12)).max(1e-6) as f32);
    let luma = 0.2126 * mean[0] + 0.7152 * mean[1] + 0.0722 * mean[2];
    let balance = mean.map(|m| (luma / m).clamp(0.5, 2.0).ln());
    // Keep the green gain at 1, as cameras do, and move the others.
    let balance = balance.map(|b| b - balance[1]);
    ((target / luma).clamp(1e-4, 1e4).ln(), balance)
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
    fn auto_exposure_and_white_balance_follow_slowly() {
        let flat = |rgb: [f32; 3]| LinearImage {
            width: 64,
            height: 48,
            pixels: vec![rgb; 64 * 48],
        };
        let clean = Camera {
            noise_sigma: 0.0,
            exposure_jitter: 0.0,
            jpeg_quality: 0,
            shutter_share: 0.1,
        };
        let mut cam = AutoCamera {
            camera: clean,
            exposure_tau_ms: 1000.0,
            white_balance_tau_ms: 1000.0,
            target: 0.18,
            locked: false,
            state: None,
        };
        let mut rng = Rng::new(1);
        let level = |img: &RgbImage| {
            let p = img.get_pixel(32, 24).0.map(crate::light::srgb_to_linear);
            0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]
        };
        // Converged on the first frame, whatever the scale.
        let first = cam.shoot(&flat([40.0; 3]), 0, [0.0; 2], None, &mut rng);
        assert!((level(&first) - 0.18).abs() < 0.01, "{}", level(&first));
        // Four times the light: one time constant later, the exposure has come back by
        // 1 - 1/e in the logarithm, from 4x toward 1x.
        let later = cam.shoot(&flat([160.0; 3]), 1000, [0.0; 2], None, &mut rng);
        let want = 0.18 * 4f32.powf((-1.0f32).exp());
        assert!(
            (level(&later) / want - 1.0).abs() < 0.05,
            "{} vs {want}",
            level(&later)
        );
        let much_later = cam.shoot(&flat([160.0; 3]), 6000, [0.0; 2], None, &mut rng);
        assert!((level(&much_later) - 0.18).abs() < 0.01);
        // A red light is first seen red, then balanced away.
        let red = flat([240.0, 120.0, 120.0]);
        let seen = cam
            .shoot(&red, 6200, [0.0; 2], None, &mut rng)
            .get_pixel(32, 24)
            .0;
        assert!(seen[0] > seen[1] + 25, "{seen:?}");
        let balanced = cam
            .shoot(&red, 12000, [0.0; 2], None, &mut rng)
            .get_pixel(32, 24)
            .0;
        assert!(
            balanced[0].abs_diff(balanced[1]) < 4,
            "{balanced:?} {:?}",
            cam.settings()
        );
        // Locked, nothing moves.
        cam.locked = true;
        let before = cam.settings();
        cam.shoot(&flat([1.0; 3]), 20000, [0.0; 2], None, &mut rng);
        assert_eq!(cam.settings(), before);
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
