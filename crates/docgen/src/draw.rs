//! Drawing on the card: text in the embedded fonts, filled shapes, and the fine-line
//! security background. Everything anti-aliased, because a printed card is.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};

static OCRB: &[u8] = include_bytes!("../fonts/OCRB.otf");
static SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static SANS_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// The three typefaces a card uses.
pub struct Fonts {
    pub ocrb: FontRef<'static>,
    pub sans: FontRef<'static>,
    pub bold: FontRef<'static>,
}

impl Fonts {
    pub fn load() -> Result<Fonts, ab_glyph::InvalidFont> {
        Ok(Fonts {
            ocrb: FontRef::try_from_slice(OCRB)?,
            sans: FontRef::try_from_slice(SANS)?,
            bold: FontRef::try_from_slice(SANS_BOLD)?,
        })
    }
}

/// Blends `color` over the pixel at (x, y) with coverage `alpha` (0..1).
pub fn blend(img: &mut RgbImage, x: i32, y: i32, color: [u8; 3], alpha: f32) {
    if x < 0 || y < 0 || x >= img.width() as i32 || y >= img.height() as i32 {
        return;
    }
    let a = alpha.clamp(0.0, 1.0);
    let p = img.get_pixel_mut(x as u32, y as u32);
    for c in 0..3 {
        p[c] = (f32::from(p[c]) * (1.0 - a) + f32::from(color[c]) * a).round() as u8;
    }
}

/// Draws `text` with its baseline at `y`, starting at `x`; returns the pen position after it.
/// How wide `s` is set in `font` at `size`, as [`text`] would draw it.
pub fn text_width(font: &FontRef, size: f32, s: &str) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut width = 0.0;
    let mut previous = None;
    for c in s.chars() {
        let id = font.glyph_id(c);
        if let Some(prev) = previous {
            width += scaled.kern(prev, id);
        }
        width += scaled.h_advance(id);
        previous = Some(id);
    }
    width
}

pub fn text(
    img: &mut RgbImage,
    font: &FontRef,
    size: f32,
    x: f32,
    y: f32,
    s: &str,
    color: [u8; 3],
) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut pen = x;
    let mut previous = None;
    for c in s.chars() {
        let id = font.glyph_id(c);
        if let Some(prev) = previous {
            pen += scaled.kern(prev, id);
        }
        let glyph = id.with_scale_and_position(size, point(pen, y));
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                blend(
                    img,
                    b.min.x as i32 + gx as i32,
                    b.min.y as i32 + gy as i32,
                    color,
                    cov,
                )
            });
        }
        pen += scaled.h_advance(id);
        previous = Some(id);
    }
    pen
}

/// A fixed character grid: one character every `pitch` pixels, capitals `cap_height`
/// pixels tall (the MRZ is printed this way: 2.54 mm a character, capitals about 2.4 mm).
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub pitch: f32,
    pub cap_height: f32,
}

/// Draws `s` on `grid` with its baseline at `y`, starting at `x`.
pub fn monospace(
    img: &mut RgbImage,
    font: &FontRef,
    grid: Grid,
    x: f32,
    y: f32,
    s: &str,
    color: [u8; 3],
) {
    let probe = 100.0;
    let measured = font
        .outline_glyph(font.glyph_id('H').with_scale(probe))
        .map(|g| g.px_bounds().height())
        .unwrap_or(probe * 0.7);
    let size = grid.cap_height / measured.max(1.0) * probe;
    for (i, c) in s.chars().enumerate() {
        let mut buf = [0u8; 4];
        text(
            img,
            font,
            size,
            x + i as f32 * grid.pitch,
            y,
            c.encode_utf8(&mut buf),
            color,
        );
    }
}

/// Fills an axis-aligned rectangle.
pub fn rect(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, color: [u8; 3]) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, Rgb(color));
        }
    }
}

/// A guilloche-like background: bands of fine sinusoidal lines, as security printing has.
pub fn guilloche(img: &mut RgbImage, color: [u8; 3], phase: f32, period: f32) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let lines = 28;
    for k in 0..lines {
        let base = h * (k as f32 + 0.5) / lines as f32;
        let amp = h / lines as f32 * 1.6;
        let mut x = 0.0;
        while x < w {
            let y = base + amp * (x / period + phase + k as f32 * 0.37).sin();
            let frac = y - y.floor();
            blend(img, x as i32, y.floor() as i32, color, 0.35 * (1.0 - frac));
            blend(img, x as i32, y.floor() as i32 + 1, color, 0.35 * frac);
            x += 0.5;
        }
    }
}

/// Pastes `src` at (x, y).
pub fn paste(dst: &mut RgbImage, src: &RgbImage, x: u32, y: u32) {
    image::imageops::replace(dst, src, i64::from(x), i64::from(y));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_puts_ink_where_it_says() {
        let fonts = Fonts::load().unwrap();
        let mut img = RgbImage::from_pixel(200, 60, Rgb([255; 3]));
        let end = text(&mut img, &fonts.sans, 30.0, 10.0, 40.0, "ID", [0, 0, 0]);
        assert!(end > 30.0);
        let inked = img.pixels().filter(|p| p[0] < 128).count();
        assert!(inked > 50, "{inked}");
        assert!(img.get_pixel(150, 5)[0] == 255);
    }

    #[test]
    fn monospace_keeps_the_pitch() {
        let fonts = Fonts::load().unwrap();
        let mut img = RgbImage::from_pixel(400, 60, Rgb([255; 3]));
        monospace(
            &mut img,
            &fonts.ocrb,
            Grid {
                pitch: 30.0,
                cap_height: 27.0,
            },
            0.0,
            45.0,
            "1<<<<<<<<<<1",
            [0, 0, 0],
        );
        // The two `1`s stand eleven pitches apart.
        let column_ink = |x0: u32| {
            (x0..x0 + 30)
                .map(|x| (0..60).filter(|&y| img.get_pixel(x, y)[0] < 128).count())
                .sum::<usize>()
        };
        assert!(column_ink(0) > 0 && column_ink(330) > 0);
    }
}
