//! The portrait printed on a card, made from a real photograph: head-and-shoulders
//! framing at 35:45, reduced without aliasing, then inked: less contrast and saturation
//! than the photo, a slight blur, and grain.

use std::io::Cursor;

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::{DynamicImage, RgbImage};

/// Frames and prints the face whose detector box (left, top, width, height) is `face_box`
/// into a `width` x `height` portrait. With `jpeg_quality`, the portrait also goes through
/// JPEG on its own, as a scanned or re-photographed portrait would.
pub fn printed_portrait(
    photo: &RgbImage,
    face_box: [f32; 4],
    width: u32,
    height: u32,
    jpeg_quality: Option<u8>,
) -> RgbImage {
    let [x, y, w, h] = face_box;
    let crop_h = h * 2.0;
    let crop_w = crop_h * width as f32 / height as f32;
    let (cx, cy) = (x + w / 2.0, y + h / 2.0 - h * 0.1);
    let sx = crop_w / width as f32;
    let sy = crop_h / height as f32;
    let (iw, ih) = photo.dimensions();
    let mut portrait = RgbImage::new(width, height);
    // Area-average the source under each output pixel; white outside the photo.
    for (px, py, out) in portrait.enumerate_pixels_mut() {
        let x0 = cx - crop_w / 2.0 + px as f32 * sx;
        let y0 = cy - crop_h / 2.0 + py as f32 * sy;
        let steps = (sx.max(sy).ceil() as u32).clamp(1, 8);
        let mut acc = [0.0f32; 3];
        for j in 0..steps {
            for i in 0..steps {
                let sxp = x0 + (i as f32 + 0.5) * sx / steps as f32;
                let syp = y0 + (j as f32 + 0.5) * sy / steps as f32;
                let p = if sxp >= 0.0 && syp >= 0.0 && (sxp as u32) < iw && (syp as u32) < ih {
                    photo.get_pixel(sxp as u32, syp as u32).0.map(f32::from)
                } else {
                    [255.0; 3]
                };
                for c in 0..3 {
                    acc[c] += p[c];
                }
            }
        }
        let n = (steps * steps) as f32;
        out.0 = acc.map(|v| (v / n) as u8);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ (u64::from(iw) << 32) ^ u64::from(ih);
    let mut grain = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 12.0
    };
    let blurred = image::imageops::blur(&portrait, 0.7);
    for (dst, src) in portrait.pixels_mut().zip(blurred.pixels()) {
        let [r, g, b] = src.0.map(f32::from);
        let grey = 0.299 * r + 0.587 * g + 0.114 * b;
        let mut ink = |v: f32, tint: f32| {
            let desaturated = grey + (v - grey) * 0.7;
            (20.0 + desaturated * 0.84 + tint + grain()).clamp(0.0, 255.0) as u8
        };
        dst.0 = [ink(r, 4.0), ink(g, 0.0), ink(b, -4.0)];
    }
    let Some(quality) = jpeg_quality else {
        return portrait;
    };
    let mut jpeg = Vec::new();
    let encoded =
        JpegEncoder::new_with_quality(Cursor::new(&mut jpeg), quality).encode_image(&portrait);
    let decoded = encoded
        .ok()
        .and_then(|_| JpegDecoder::new(Cursor::new(&jpeg)).ok())
        .and_then(|d| DynamicImage::from_decoder(d).ok());
    decoded.map_or(portrait, DynamicImage::into_rgb8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn frames_the_face_and_fades_the_ink() {
        let photo = RgbImage::from_fn(400, 400, |x, y| {
            if (150..250).contains(&x) && (150..250).contains(&y) {
                Rgb([0, 0, 0])
            } else {
                Rgb([255, 255, 255])
            }
        });
        let p = printed_portrait(&photo, [150.0, 150.0, 100.0, 100.0], 70, 90, None);
        assert_eq!(p.dimensions(), (70, 90));
        // Black ink printed on a card is not black: contrast is reduced.
        let centre = p.get_pixel(35, 50);
        assert!(centre[0] > 5 && centre[0] < 80, "{centre:?}");
        let corner = p.get_pixel(1, 1);
        assert!(corner[0] > 200, "{corner:?}");
        assert_eq!(
            p,
            printed_portrait(&photo, [150.0, 150.0, 100.0, 100.0], 70, 90, None)
        );
    }
}
