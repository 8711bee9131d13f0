//! Turning untrusted bytes into an upright RGB picture, or a clear refusal.
//!
//! Every image the engine sees comes from a camera, an upload or a file an attacker may
//! have crafted, so nothing here trusts the header: the size of the file, the declared
//! dimensions and the decoder's allocations are all bounded before any pixel is decoded.
//! Phone photos store their rotation in EXIF; it is applied so faces are upright.

use std::io::{Cursor, Read};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbImage};

use crate::error::{Result, VerifyError};

/// Bounds on what an input image may cost. The defaults accept a 50-megapixel phone
/// photo and refuse anything larger before decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest accepted file, in bytes.
    pub max_file_bytes: u64,
    /// Largest accepted width x height, checked against the header before decoding.
    pub max_pixels: u64,
    /// Largest accepted width or height.
    pub max_side: u32,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_file_bytes: 64 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_side: 16_384,
        }
    }
}

/// A decoded image, rotated upright, as 8-bit RGB.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub rgb: RgbImage,
    /// The container format that was decoded.
    pub format: &'static str,
    /// True when an EXIF orientation other than "upright" was found and applied.
    pub orientation_applied: bool,
}

/// Reads and decodes an image file within `limits`.
pub fn load_image_file(path: &Path, limits: &ImageLimits) -> Result<LoadedImage> {
    let io_err = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let declared = file.metadata().map_err(io_err)?.len();
    if declared > limits.max_file_bytes {
        return Err(VerifyError::InputTooLarge {
            size: declared,
            limit: limits.max_file_bytes,
        });
    }
    // Read at most one byte past the limit: the file may grow while we read it.
    let mut bytes = Vec::with_capacity(declared as usize);
    file.take(limits.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    load_image_bytes(&bytes, limits)
}

/// Decodes an image held in memory within `limits`.
pub fn load_image_bytes(bytes: &[u8], limits: &ImageLimits) -> Result<LoadedImage> {
    if bytes.is_empty() {
        return Err(VerifyError::EmptyInput);
    }
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(VerifyError::InputTooLarge {
            size: bytes.len() as u64,
            limit: limits.max_file_bytes,
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| VerifyError::CorruptImage(e.to_string()))?;
    let format = match reader.format() {
        Some(ImageFormat::Jpeg) => "jpeg",
        Some(ImageFormat::Png) => "png",
        Some(ImageFormat::WebP) => "webp",
        _ => return Err(VerifyError::UnsupportedFormat),
    };
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    // The largest legitimate decode is max_pixels at 16-bit RGBA, plus the decoder's own
    // working memory; anything asking for more is refused by the decoder itself.
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(64 << 20));
    reader.limits(decoder_limits);

    let mut decoder = reader
        .into_decoder()
        .map_err(|e| map_decode_error(e, limits))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    // A broken EXIF block must not cost the user their photo: treat it as upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| map_decode_error(e, limits))?;
    let orientation_applied = orientation != image::metadata::Orientation::NoTransforms;
    image.apply_orientation(orientation);
    Ok(LoadedImage {
        rgb: to_rgb_over_white(image),
        format,
        orientation_applied,
    })
}

fn check_dimensions(width: u32, height: u32, limits: &ImageLimits) -> Result<()> {
    let too_large = || VerifyError::ImageTooLarge {
        declared: Some((width, height)),
        max_pixels: limits.max_pixels,
        max_side: limits.max_side,
    };
    if width == 0 || height == 0 {
        return Err(VerifyError::CorruptImage(format!(
            "the header declares {width}x{height} pixels"
        )));
    }
    if width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(too_large());
    }
    Ok(())
}

fn map_decode_error(error: ImageError, limits: &ImageLimits) -> VerifyError {
    match error {
        ImageError::Limits(_) => VerifyError::ImageTooLarge {
            declared: None,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        },
        ImageError::Unsupported(e) => {
            VerifyError::CorruptImage(format!("unsupported variant: {e}"))
        }
        other => VerifyError::CorruptImage(other.to_string()),
    }
}

/// Flattens any colour type to 8-bit RGB. Transparent pixels are laid on white, the way
/// an image viewer shows them, rather than on whatever colour the file stored there.
fn to_rgb_over_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(src[3]);
        for c in 0..3 {
            let v = (u16::from(src[c]) * a + 255 * (255 - a) + 127) / 255;
            dst[c] = v as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb, Rgba};

    fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn refuses_empty_input() {
        let err = load_image_bytes(&[], &ImageLimits::default()).unwrap_err();
        assert_eq!(err.code(), "image_empty");
    }

    #[test]
    fn refuses_text() {
        let err =
            load_image_bytes(b"hello, I am not a picture", &ImageLimits::default()).unwrap_err();
        assert_eq!(err.code(), "image_unsupported_format");
    }

    #[test]
    fn refuses_oversized_file_before_decoding() {
        let limits = ImageLimits {
            max_file_bytes: 10,
            ..ImageLimits::default()
        };
        let err = load_image_bytes(&[0u8; 11], &limits).unwrap_err();
        assert_eq!(err.code(), "input_too_large");
    }

    #[test]
    fn decodes_grayscale_and_sixteen_bit_to_rgb8() {
        let gray = ImageBuffer::from_fn(8, 6, |x, _| Luma([(x * 30) as u8]));
        let bytes = encode(DynamicImage::ImageLuma8(gray), ImageFormat::Png);
        let loaded = load_image_bytes(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(loaded.rgb.dimensions(), (8, 6));
        assert_eq!(loaded.rgb.get_pixel(2, 0), &Rgb([60, 60, 60]));

        let deep = ImageBuffer::from_fn(4, 4, |_, _| Rgb([65535u16, 32768, 0]));
        let bytes = encode(DynamicImage::ImageRgb16(deep), ImageFormat::Png);
        let loaded = load_image_bytes(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(loaded.rgb.get_pixel(0, 0), &Rgb([255, 128, 0]));
    }

    #[test]
    fn lays_transparency_on_white() {
        let rgba = ImageBuffer::from_fn(2, 1, |x, _| Rgba([0, 0, 0, if x == 0 { 0 } else { 255 }]));
        let bytes = encode(DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
        let loaded = load_image_bytes(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(loaded.rgb.get_pixel(0, 0), &Rgb([255, 255, 255]));
        assert_eq!(loaded.rgb.get_pixel(1, 0), &Rgb([0, 0, 0]));
    }

    #[test]
    fn truncated_png_is_corrupt_not_a_panic() {
        let img = ImageBuffer::from_fn(64, 64, |x, y| Rgb([x as u8, y as u8, 7]));
        let bytes = encode(DynamicImage::ImageRgb8(img), ImageFormat::Png);
        for cut in [8, 20, 40, bytes.len() / 2, bytes.len() - 5] {
            let err = load_image_bytes(&bytes[..cut], &ImageLimits::default()).unwrap_err();
            assert_eq!(err.code(), "image_corrupt", "cut at {cut}");
        }
    }

    /// A PNG whose header declares 100000 x 100000 pixels: refused from the header, so the
    /// 30 GB it would take are never allocated.
    #[test]
    fn decompression_bomb_is_refused_from_the_header() {
        let img = ImageBuffer::from_fn(1, 1, |_, _| Rgb([1u8, 2, 3]));
        let mut bytes = encode(DynamicImage::ImageRgb8(img), ImageFormat::Png);
        // IHDR data starts at byte 16: width then height, big-endian; then fix the CRC.
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = load_image_bytes(&bytes, &ImageLimits::default()).unwrap_err();
        assert_eq!(err.code(), "image_too_large", "{err}");
    }

    #[test]
    fn pixel_budget_is_enforced() {
        let img = ImageBuffer::from_fn(100, 100, |_, _| Rgb([1u8, 2, 3]));
        let bytes = encode(DynamicImage::ImageRgb8(img), ImageFormat::Png);
        let limits = ImageLimits {
            max_pixels: 9_999,
            ..ImageLimits::default()
        };
        let err = load_image_bytes(&bytes, &limits).unwrap_err();
        assert_eq!(err.code(), "image_too_large");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
