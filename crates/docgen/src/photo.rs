//! Photographing a flat document the way a phone does: on a table, at an angle, a little
//! out of focus, with glare from a lamp, sensor noise, and JPEG compression.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, Rgb, RgbImage};

use crate::homography::Homography;
use crate::rng::Rng;

/// How badly the document is photographed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degradation {
    /// Output width and height.
    pub width: u32,
    pub height: u32,
    /// Card width as a share of the photo width.
    pub fill: f32,
    /// In-plane rotation, degrees (180 for a card held upside down).
    pub rotation_deg: f32,
    /// Largest shift of each corner, as a share of the card width (perspective).
    pub perspective: f32,
    /// Gaussian blur, in pixels of the output.
    pub blur_sigma: f32,
    /// Sensor noise standard deviation, 0..255 scale.
    pub noise_sigma: f32,
    /// Strength of a glare spot, 0 (none) to 1 (blown out at its centre).
    pub glare: f32,
    /// JPEG quality (1-100), or 0 for none.
    pub jpeg_quality: u8,
}

/// Named degradation levels, with the seed choosing the details within each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Flat and sharp: a scanner.
    Clean,
    /// A careful phone photo: slight angle, light blur, JPEG 85.
    Mild,
    /// A hurried phone photo: 10 degree turn, visible perspective, blur, glare, JPEG 70.
    Moderate,
    /// A bad one: steep angle, strong blur and glare, JPEG 50.
    Harsh,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Clean, Level::Mild, Level::Moderate, Level::Harsh];

    pub fn name(self) -> &'static str {
        match self {
            Level::Clean => "clean",
            Level::Mild => "mild",
            Level::Moderate => "moderate",
            Level::Harsh => "harsh",
        }
    }

    /// The degradation of this level for `seed`, at a photo of `width` x `height`.
    pub fn degradation(self, rng: &mut Rng, width: u32, height: u32) -> Degradation {
        let scale = width as f32 / 1600.0;
        let sign = if rng.unit() < 0.5 { -1.0 } else { 1.0 };
        let (rot, persp, blur, noise, glare, q, fill) = match self {
            Level::Clean => (0.0, 0.0, 0.0, 0.0, 0.0, 95, 0.8),
            Level::Mild => (
                rng.range(0.0, 4.0),
                rng.range(0.0, 0.04),
                rng.range(0.4, 0.9),
                3.0,
                0.0,
                85,
                rng.range(0.65, 0.8),
            ),
            Level::Moderate => (
                rng.range(2.0, 10.0),
                rng.range(0.03, 0.08),
                rng.range(0.8, 1.3),
                5.0,
                rng.range(0.2, 0.45),
                70,
                rng.range(0.55, 0.75),
            ),
            Level::Harsh => (
                rng.range(8.0, 15.0),
                rng.range(0.08, 0.12),
                rng.range(1.3, 2.0),
                8.0,
                rng.range(0.45, 0.7),
                50,
                rng.range(0.5, 0.65),
            ),
        };
        Degradation {
            width,
            height,
            fill,
            rotation_deg: sign * rot,
            perspective: persp,
            blur_sigma: blur * scale,
            noise_sigma: noise,
            glare,
            jpeg_quality: q,
        }
    }
}

/// A photograph of a document and where the document landed in it.
pub struct Photo {
    pub image: RgbImage,
    /// The JPEG file, when the degradation asked for one.
    pub jpeg: Option<Vec<u8>>,
    /// Maps document pixels to photo pixels.
    pub document_to_photo: Homography,
}

/// Photographs `doc` with `d`; the seed places the card, the glare and the noise.
pub fn photograph(doc: &RgbImage, d: &Degradation, rng: &mut Rng) -> Option<Photo> {
    let (dw, dh) = (f64::from(doc.width()), f64::from(doc.height()));
    let (pw, ph) = (f64::from(d.width), f64::from(d.height));
    let card_w = pw * f64::from(d.fill);
    let card_h = card_w * dh / dw;
    let (cx, cy) = (
        pw / 2.0 + f64::from(rng.range(-0.05, 0.05)) * pw,
        ph / 2.0 + f64::from(rng.range(-0.05, 0.05)) * ph,
    );
    let angle = f64::from(d.rotation_deg).to_radians();
    let (s, c) = angle.sin_cos();
    let jitter = f64::from(d.perspective) * card_w;
    let corners = [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]].map(|[u, v]: [f64; 2]| {
        let (x, y) = (u * card_w, v * card_h);
        [
            cx + x * c - y * s + jitter * f64::from(rng.range(-1.0, 1.0)),
            cy + x * s + y * c + jitter * f64::from(rng.range(-1.0, 1.0)),
        ]
    });
    let flat = [[0.0, 0.0], [dw, 0.0], [dw, dh], [0.0, dh]];
    let to_photo = Homography::from_points(&flat, &corners)?;
    let to_doc = to_photo.inverse()?;

    // A table: a warm colour with a slow gradient.
    let base = [
        rng.range(60.0, 140.0),
        rng.range(50.0, 110.0),
        rng.range(40.0, 90.0),
    ];
    let mut out = RgbImage::new(d.width, d.height);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let [u, v] = to_doc.apply([f64::from(x) + 0.5, f64::from(y) + 0.5]);
        if u >= 0.0 && v >= 0.0 && u < dw - 1.0 && v < dh - 1.0 {
            *px = Rgb(bilinear(doc, u as f32, v as f32));
        } else {
            let g = 0.85 + 0.3 * (x as f32 / d.width as f32);
            *px = Rgb(base.map(|b| (b * g).clamp(0.0, 255.0) as u8));
        }
    }
    if d.glare > 0.0 {
        let [gx, gy] = to_photo.apply([
            dw * f64::from(rng.range(0.2, 0.8)),
            dh * f64::from(rng.range(0.2, 0.8)),
        ]);
        let radius = card_w * f64::from(rng.range(0.15, 0.3));
        for (x, y, px) in out.enumerate_pixels_mut() {
            let dist = ((f64::from(x) - gx).powi(2) + (f64::from(y) - gy).powi(2)).sqrt() / radius;
            if dist < 1.5 {
                let a = d.glare * (-(dist * dist) as f32 * 2.0).exp();
                px.0 =
                    px.0.map(|v| (f32::from(v) + (255.0 - f32::from(v)) * a) as u8);
            }
        }
    }
    if d.blur_sigma > 0.05 {
        out = image::imageops::blur(&out, d.blur_sigma);
    }
    if d.noise_sigma > 0.0 {
        for px in out.pixels_mut() {
            let n = rng.gaussian() * d.noise_sigma;
            px.0 = px.0.map(|v| (f32::from(v) + n).clamp(0.0, 255.0) as u8);
        }
    }
    let mut jpeg = None;
    if d.jpeg_quality > 0 {
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(Cursor::new(&mut bytes), d.jpeg_quality.min(100))
            .encode_image(&out)
            .ok()?;
        out = image::load_from_memory(&bytes)
            .ok()
            .map(DynamicImage::into_rgb8)?;
        jpeg = Some(bytes);
    }
    Some(Photo {
        image: out,
        jpeg,
        document_to_photo: to_photo,
    })
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> [u8; 3] {
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |xx: u32, yy: u32| {
        img.get_pixel(xx.min(img.width() - 1), yy.min(img.height() - 1))
            .0
    };
    let (a, b, c, d) = (p(x0, y0), p(x0 + 1, y0), p(x0, y0 + 1), p(x0 + 1, y0 + 1));
    let mut out = [0u8; 3];
    for i in 0..3 {
        let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
        let bottom = f32::from(c[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
        out[i] = (top * (1.0 - fy) + bottom * fy).round() as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_lands_where_the_homography_says() {
        let mut doc = RgbImage::from_pixel(100, 60, Rgb([250, 250, 250]));
        doc.put_pixel(50, 30, Rgb([0, 0, 0]));
        let mut rng = Rng::new(3);
        let d = Level::Mild.degradation(&mut rng, 400, 300);
        let photo = photograph(
            &doc,
            &Degradation {
                jpeg_quality: 0,
                noise_sigma: 0.0,
                blur_sigma: 0.0,
                ..d
            },
            &mut rng,
        )
        .unwrap();
        let [x, y] = photo.document_to_photo.apply([50.5, 30.5]);
        let p = photo.image.get_pixel(x as u32, y as u32);
        assert!(p[0] < 200, "{p:?} at {x},{y}");
        assert_eq!(photo.image.dimensions(), (400, 300));
    }

    #[test]
    fn the_same_seed_gives_the_same_photo() {
        let doc = RgbImage::from_fn(120, 80, |x, y| Rgb([(x * 2) as u8, (y * 3) as u8, 128]));
        let shoot = |seed| {
            let mut rng = Rng::new(seed);
            let d = Level::Moderate.degradation(&mut rng, 320, 240);
            photograph(&doc, &d, &mut rng).unwrap().image
        };
        assert_eq!(shoot(11), shoot(11));
        assert_ne!(shoot(11), shoot(12));
    }
}
