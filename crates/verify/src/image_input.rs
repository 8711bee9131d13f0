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
    let bytes = read_image_file(path, limits.max_file_bytes)?;
    load_image_bytes(&bytes, limits)
}

/// Reads a file of at most `max_bytes`, refusing a larger one before reading it.
pub fn read_image_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let io_err = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let declared = file.metadata().map_err(io_err)?.len();
    if declared > max_bytes {
        return Err(VerifyError::InputTooLarge {
            size: declared,
            limit: max_bytes,
        });
    }
    // Read at most one byte past the limit: the file may grow while we read it.
    let mut bytes = Vec::with_capacity(declared as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > max_bytes {
        return Err(VerifyError::InputTooLarge {
            size: bytes.len() as u64,
            limit: max_bytes,
        });
    }
    Ok(bytes)
}

/// The decoder's own working memory beyond the picture it produces (the picture itself is
/// bounded by the declared size, checked before decoding): a PNG's metadata chunks and
/// row buffers, a compressed ICC profile inflated. Generous for any real photo; a file
/// whose metadata asks for more is refused as too large.
pub const DECODER_WORKING_BYTES: u64 = 64 << 20;

/// What an image's header declares, read without decoding a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    pub width: u32,
    pub height: u32,
    /// The container format: `jpeg`, `png` or `webp`.
    pub format: &'static str,
    /// Bytes of the decoder's output in the file's own pixel format (16-bit, alpha...).
    pub native_bytes: u64,
}

impl ImageHeader {
    /// Bytes of the upright 8-bit RGB picture the engine keeps.
    pub fn rgb_bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * 3
    }

    /// The most memory decoding it takes at once: the decoder's output in the file's own
    /// format, its RGB conversion, and the rotated copy an EXIF orientation may need.
    pub fn decode_bytes(&self) -> u64 {
        self.native_bytes
            .saturating_add(self.rgb_bytes().saturating_mul(2))
    }
}

/// Reads `bytes`' header within `limits`, and for a JPEG checks that its structure is
/// whole (every segment complete, the image data ended by its end marker), all without
/// decoding a pixel: what a capture is checked with before any of it is decoded.
pub fn probe_image_bytes(bytes: &[u8], limits: &ImageLimits) -> Result<ImageHeader> {
    let (_, header) = open_decoder(bytes, limits)?;
    Ok(header)
}

/// Decodes an image held in memory within `limits`.
pub fn load_image_bytes(bytes: &[u8], limits: &ImageLimits) -> Result<LoadedImage> {
    load_image_bytes_within(bytes, limits, default_decode_budget(limits))
}

/// The memory a single image within `limits` may take to decode: the largest it may be,
/// at 16-bit RGBA (the widest pixel format of JPEG, PNG and WebP), converted to RGB and
/// rotated once.
fn default_decode_budget(limits: &ImageLimits) -> u64 {
    limits.max_pixels.saturating_mul(8 + 3 * 2)
}

/// Decodes an image held in memory within `limits`, refusing before any pixel is decoded
/// when decoding it would take more than `budget_bytes` (see [`ImageHeader::decode_bytes`]).
/// The decoder's own working memory is bounded by [`DECODER_WORKING_BYTES`] besides.
pub fn load_image_bytes_within(
    bytes: &[u8],
    limits: &ImageLimits,
    budget_bytes: u64,
) -> Result<LoadedImage> {
    let (decoder, header) = open_decoder(bytes, limits)?;
    if header.decode_bytes() > budget_bytes {
        return Err(VerifyError::ImageTooLarge {
            declared: Some((header.width, header.height)),
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    let mut decoder = decoder;
    // A broken EXIF block must not cost the user their photo: treat it as upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| map_decode_error(e, limits))?;
    // The decoder must have produced exactly what its header declared: nothing larger
    // than what was checked is kept.
    if (image.width(), image.height()) != (header.width, header.height) {
        return Err(VerifyError::CorruptImage(
            "the decoded picture is not the size its header declares".into(),
        ));
    }
    // Converted before rotating, so the rotated copy is of the 8-bit picture.
    let mut upright = DynamicImage::ImageRgb8(to_rgb_over_white(image));
    let orientation_applied = orientation != image::metadata::Orientation::NoTransforms;
    upright.apply_orientation(orientation);
    Ok(LoadedImage {
        rgb: upright.into_rgb8(),
        format: header.format,
        orientation_applied,
    })
}

/// The decoder for `bytes`, its header read and checked against `limits`.
fn open_decoder<'a>(
    bytes: &'a [u8],
    limits: &ImageLimits,
) -> Result<(Box<dyn ImageDecoder + 'a>, ImageHeader)> {
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
    // The JPEG decoder fills whatever is missing with grey rather than failing, so a
    // truncated file would come out as a half-grey picture and be judged `blurry`. Its
    // structure is checked first; PNG and WebP decoders fail on missing data themselves.
    if format == "jpeg" {
        check_jpeg_structure(bytes)?;
    }
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    // `max_alloc` bounds what the decoders count as their own allocations (the PNG
    // decoder's chunks and rows); the picture is not among them, and is bounded instead
    // by the declared size and the caller's budget.
    decoder_limits.max_alloc = Some(DECODER_WORKING_BYTES);
    reader.limits(decoder_limits);

    let decoder = reader
        .into_decoder()
        .map_err(|e| map_decode_error(e, limits))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let header = ImageHeader {
        width,
        height,
        format,
        native_bytes: decoder.total_bytes(),
    };
    Ok((Box::new(decoder), header))
}

/// Checks that a JPEG's markers are whole: segments complete, at least one scan, and the
/// entropy-coded data of the last scan ended by the end-of-image marker. Bytes after that
/// marker (some cameras append their own) are ignored. This reads the structure only;
/// a linear pass, with no allocation.
fn check_jpeg_structure(bytes: &[u8]) -> Result<()> {
    let corrupt = |what: &str| Err(VerifyError::CorruptImage(what.to_string()));
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return corrupt("no JPEG start-of-image marker");
    }
    let truncated = "the JPEG ends before its end-of-image marker (truncated)";
    let mut i = 2usize;
    let mut scans = 0usize;
    loop {
        // Between segments decoders skip stray bytes, and so does this check.
        while i < bytes.len() && bytes[i] != 0xFF {
            i += 1;
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while i < bytes.len() && bytes[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = bytes.get(i) else {
            return corrupt(truncated);
        };
        i += 1;
        match marker {
            0xD9 if scans > 0 => return Ok(()),
            0xD9 => return corrupt("the JPEG holds no image data"),
            0xD8 => return corrupt("a second JPEG start-of-image marker"),
            // Markers without a length: TEM and the restart markers.
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(length) = bytes.get(i..i + 2) else {
                    return corrupt(truncated);
                };
                let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
                if length < 2 {
                    return corrupt("a JPEG segment declares a length under 2");
                }
                i += length;
                if i > bytes.len() {
                    return corrupt(truncated);
                }
                if marker == 0xDA {
                    // Entropy-coded data runs to the next marker other than a stuffed
                    // zero or a restart marker.
                    scans += 1;
                    loop {
                        match bytes.get(i..i + 2) {
                            None => return corrupt(truncated),
                            Some([0xFF, 0x00 | 0xD0..=0xD7]) => i += 2,
                            Some([0xFF, 0xFF]) => i += 1,
                            Some([0xFF, _]) => break,
                            Some(_) => i += 1,
                        }
                    }
                }
            }
        }
    }
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
pub(crate) mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb, Rgba};

    /// `image` in `format`'s bytes, as a file or an upload carries it.
    pub(crate) fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// `bytes` (a PNG) with its header rewritten to declare `width` x `height`, its CRC
    /// fixed so that only the size lies.
    pub(crate) fn png_declaring(mut bytes: Vec<u8>, width: u32, height: u32) -> Vec<u8> {
        // IHDR's data starts at byte 16: width then height, big-endian; its CRC covers the
        // chunk type and data (bytes 12..29) and follows them.
        assert_eq!(&bytes[12..16], b"IHDR");
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32fast::hash(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
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

    fn data(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/data/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// A real photo cut anywhere is corrupt. (The JPEG decoder fills what is missing with
    /// grey: before the structure check, the half photo decoded as a half-grey picture.)
    #[test]
    fn truncated_jpeg_is_corrupt_not_half_grey() {
        let jpeg = data("faces/ardern-1.jpg");
        assert!(load_image_bytes(&jpeg, &ImageLimits::default()).is_ok());
        for cut in [jpeg.len() / 2, jpeg.len() - 2, 3, 200, jpeg.len() * 9 / 10] {
            let err = load_image_bytes(&jpeg[..cut], &ImageLimits::default()).unwrap_err();
            assert_eq!(err.code(), "image_corrupt", "cut at {cut}: {err}");
            let err = probe_image_bytes(&jpeg[..cut], &ImageLimits::default()).unwrap_err();
            assert_eq!(err.code(), "image_corrupt", "cut at {cut}: {err}");
        }
        // Bytes after the end marker, as some cameras append, are not corruption.
        let mut trailing = jpeg.clone();
        trailing.extend_from_slice(b"camera maker's trailer");
        assert!(load_image_bytes(&trailing, &ImageLimits::default()).is_ok());
    }

    /// Every photo the project tests with, and JPEGs as this crate's encoder writes them
    /// (the app's evidence), pass the structure check.
    #[test]
    fn whole_jpegs_pass_the_structure_check() {
        for dir in ["faces", "images"] {
            let path = format!("{}/../../tests/data/{dir}", env!("CARGO_MANIFEST_DIR"));
            for entry in std::fs::read_dir(path).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "jpg") {
                    let bytes = std::fs::read(&path).unwrap();
                    check_jpeg_structure(&bytes)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                }
            }
        }
        let img = ImageBuffer::from_fn(33, 17, |x, y| Rgb([x as u8 * 7, y as u8 * 13, 40]));
        let bytes = encode(DynamicImage::ImageRgb8(img), ImageFormat::Jpeg);
        let header = probe_image_bytes(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(
            (header.width, header.height, header.format),
            (33, 17, "jpeg")
        );
        assert_eq!(header.native_bytes, 33 * 17 * 3);
    }

    /// The budget is checked from the header: nothing is decoded when it is too small.
    #[test]
    fn decoding_beyond_the_budget_is_refused() {
        let img = ImageBuffer::from_fn(100, 100, |_, _| Rgb([1u8, 2, 3]));
        let bytes = encode(DynamicImage::ImageRgb8(img), ImageFormat::Png);
        let header = probe_image_bytes(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(header.decode_bytes(), 3 * 30_000);
        let limits = ImageLimits::default();
        assert!(load_image_bytes_within(&bytes, &limits, header.decode_bytes()).is_ok());
        let err = load_image_bytes_within(&bytes, &limits, header.decode_bytes() - 1).unwrap_err();
        assert_eq!(err.code(), "image_too_large");
    }

    /// A PNG whose header declares 100000 x 100000 pixels: refused from the header, so the
    /// 30 GB it would take are never allocated.
    #[test]
    fn decompression_bomb_is_refused_from_the_header() {
        let img = ImageBuffer::from_fn(1, 1, |_, _| Rgb([1u8, 2, 3]));
        let bytes = png_declaring(
            encode(DynamicImage::ImageRgb8(img), ImageFormat::Png),
            100_000,
            100_000,
        );
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
}
