//! The limits of one capture (the ID photos and the selfie frames judged together), checked
//! from the images' headers before a single pixel is decoded.
//!
//! Every caller that turns a capture into pixels goes through here: the command line
//! (`reclaim verify`), the server's re-verification of uploaded evidence, and the app's own
//! run on what it is about to upload. So a capture the app accepts is one the server
//! accepts, and an attacker's upload costs the server no more than an honest one could.
//!
//! Why header checks first: a flat-colour 7000x7000 PNG is 160 KB on the wire and 147 MB
//! once decoded. Decoding frame after frame and checking afterwards let 60 such frames
//! take about 10 GB of the server's memory. Here the whole capture's declared sizes are
//! summed first, and refused as a whole; then each image is decoded with the decoder's
//! memory bounded by what its header declared.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::VerifyError;
use crate::image_input::{
    load_image_bytes_within, probe_image_bytes, read_image_file, ImageHeader, ImageLimits,
    LoadedImage, DECODER_WORKING_BYTES,
};

/// What one capture may hold and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureLimits {
    /// A selfie frame is a video frame: at most `frame_long_side` x `frame_short_side`
    /// pixels, as its header declares them, either way round (4K, 3840x2160).
    pub frame_long_side: u32,
    pub frame_short_side: u32,
    /// Largest selfie frame file, in bytes.
    pub frame_file_bytes: u64,
    /// Most selfie frames in one capture: a challenge takes a few seconds of video at a
    /// handful of frames a second.
    pub max_frames: usize,
    /// Most pixels of all selfie frames together, as declared.
    pub max_frame_pixels: u64,
    /// Each ID photo (front, back): a 50-megapixel phone photo at most.
    pub id: ImageLimits,
    /// Most bytes of all the capture's files together, as uploaded.
    pub max_capture_bytes: u64,
    /// Most memory decoding the whole capture may take: every decoded picture kept, plus
    /// the largest one's decoding at once (see [`ImageHeader::decode_bytes`]) and the
    /// decoder's working memory ([`DECODER_WORKING_BYTES`]).
    pub decode_budget_bytes: u64,
}

/// The limits every caller applies.
pub const CAPTURE_LIMITS: CaptureLimits = CaptureLimits {
    frame_long_side: 3840,
    frame_short_side: 2160,
    frame_file_bytes: 16 * 1024 * 1024,
    max_frames: reclaim_protocol::wire::limits::MAX_SELFIE_FRAMES,
    max_frame_pixels: 120_000_000,
    id: ImageLimits {
        max_file_bytes: 32 * 1024 * 1024,
        max_pixels: 50_000_000,
        max_side: 16_384,
    },
    max_capture_bytes: 64 * 1024 * 1024,
    decode_budget_bytes: 1024 * 1024 * 1024,
};

impl Default for CaptureLimits {
    fn default() -> Self {
        CAPTURE_LIMITS
    }
}

impl CaptureLimits {
    /// The per-image limits a selfie frame is decoded within. The frame's box, which
    /// these cannot express, is checked by [`check_frame`](Self::check_frame).
    pub const fn frame(&self) -> ImageLimits {
        ImageLimits {
            max_file_bytes: self.frame_file_bytes,
            max_pixels: self.frame_long_side as u64 * self.frame_short_side as u64,
            max_side: self.frame_long_side,
        }
    }

    /// A frame's declared size against the frame box, either way round.
    pub fn check_frame(&self, width: u32, height: u32) -> Result<(), VerifyError> {
        let (long, short) = (width.max(height), width.min(height));
        if long > self.frame_long_side || short > self.frame_short_side {
            return Err(VerifyError::FrameTooLarge {
                declared: (width, height),
                long_side: self.frame_long_side,
                short_side: self.frame_short_side,
            });
        }
        Ok(())
    }
}

/// One piece of a capture, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    IdFront,
    IdBack,
    /// The n-th selfie frame, from 0.
    Selfie(usize),
    /// The capture as a whole.
    Capture,
}

impl fmt::Display for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Piece::IdFront => f.write_str("id_front"),
            Piece::IdBack => f.write_str("id_back"),
            Piece::Selfie(i) => write!(f, "selfie frame {i}"),
            Piece::Capture => f.write_str("the capture"),
        }
    }
}

/// Why a capture was refused, and which piece.
#[derive(Debug, thiserror::Error)]
#[error("{piece}: {error}")]
pub struct CaptureError {
    pub piece: Piece,
    #[source]
    pub error: VerifyError,
}

impl CaptureError {
    /// The stable code: the image's (`image_too_large`, `image_corrupt`, ...) or
    /// `capture_too_large` for the capture as a whole.
    pub fn code(&self) -> reclaim_protocol::Code {
        self.error.code()
    }

    fn new(piece: Piece, error: VerifyError) -> Self {
        CaptureError { piece, error }
    }
}

/// The encoded pieces of one capture, borrowed.
#[derive(Debug, Clone, Default)]
pub struct CaptureBytes<'a> {
    pub id_front: Option<&'a [u8]>,
    pub id_back: Option<&'a [u8]>,
    /// In the order they were taken.
    pub selfies: Vec<&'a [u8]>,
}

/// The encoded pieces of one capture, read from files.
#[derive(Debug, Clone, Default)]
pub struct CaptureFiles {
    pub id_front: Option<Vec<u8>>,
    pub id_back: Option<Vec<u8>>,
    pub selfies: Vec<Vec<u8>>,
}

impl CaptureFiles {
    pub fn bytes(&self) -> CaptureBytes<'_> {
        CaptureBytes {
            id_front: self.id_front.as_deref(),
            id_back: self.id_back.as_deref(),
            selfies: self.selfies.iter().map(Vec::as_slice).collect(),
        }
    }
}

/// What the headers of a capture declared, once they passed every limit.
#[derive(Debug, Clone)]
pub struct CheckedCapture {
    pub id_front: Option<ImageHeader>,
    pub id_back: Option<ImageHeader>,
    pub selfies: Vec<ImageHeader>,
    /// Pixels of all selfie frames together.
    pub frame_pixels: u64,
    /// The most memory decoding the capture takes (see [`CaptureLimits::decode_budget_bytes`]).
    pub decode_bytes: u64,
}

/// A capture's pixels, every piece upright 8-bit RGB.
#[derive(Debug, Clone)]
pub struct DecodedCapture {
    pub id_front: Option<LoadedImage>,
    pub id_back: Option<LoadedImage>,
    pub selfies: Vec<LoadedImage>,
}

/// Reads a capture's files, each within its piece's file limit and all together within
/// the capture's, refusing a file that is too large before reading it.
pub fn read_capture_files(
    id_front: Option<&Path>,
    id_back: Option<&Path>,
    selfies: &[PathBuf],
    limits: &CaptureLimits,
) -> Result<CaptureFiles, CaptureError> {
    if selfies.len() > limits.max_frames {
        return Err(too_many_frames(selfies.len(), limits));
    }
    let mut total = 0u64;
    let mut read = |path: &Path, piece: Piece, max: u64| {
        let bytes = read_image_file(path, max).map_err(|e| CaptureError::new(piece, e))?;
        total += bytes.len() as u64;
        if total > limits.max_capture_bytes {
            return Err(capture_bytes_exceeded(total, limits));
        }
        Ok(bytes)
    };
    let id_front = id_front
        .map(|p| read(p, Piece::IdFront, limits.id.max_file_bytes))
        .transpose()?;
    let id_back = id_back
        .map(|p| read(p, Piece::IdBack, limits.id.max_file_bytes))
        .transpose()?;
    let selfies = selfies
        .iter()
        .enumerate()
        .map(|(i, p)| read(p, Piece::Selfie(i), limits.frame_file_bytes))
        .collect::<Result<_, _>>()?;
    Ok(CaptureFiles {
        id_front,
        id_back,
        selfies,
    })
}

/// Checks a whole capture from its headers, decoding no pixel: the number of frames,
/// each file's size, each image's declared size (frames within the frame box, ID photos
/// within 50 MP), all frames' pixels together, and the memory decoding everything takes.
/// A JPEG whose structure is not whole (truncated) is refused here too.
pub fn check_capture(
    capture: &CaptureBytes<'_>,
    limits: &CaptureLimits,
) -> Result<CheckedCapture, CaptureError> {
    if capture.selfies.len() > limits.max_frames {
        return Err(too_many_frames(capture.selfies.len(), limits));
    }
    let total: u64 = capture
        .id_front
        .iter()
        .chain(capture.id_back.iter())
        .chain(capture.selfies.iter())
        .map(|b| b.len() as u64)
        .sum();
    if total > limits.max_capture_bytes {
        return Err(capture_bytes_exceeded(total, limits));
    }
    let id = |bytes: Option<&[u8]>, piece: Piece| {
        bytes
            .map(|b| probe_image_bytes(b, &limits.id).map_err(|e| CaptureError::new(piece, e)))
            .transpose()
    };
    let id_front = id(capture.id_front, Piece::IdFront)?;
    let id_back = id(capture.id_back, Piece::IdBack)?;
    let frame_limits = limits.frame();
    let mut selfies = Vec::with_capacity(capture.selfies.len());
    let mut frame_pixels = 0u64;
    for (i, bytes) in capture.selfies.iter().enumerate() {
        let header = probe_image_bytes(bytes, &frame_limits)
            .and_then(|h| limits.check_frame(h.width, h.height).map(|()| h))
            .map_err(|e| CaptureError::new(Piece::Selfie(i), e))?;
        frame_pixels += u64::from(header.width) * u64::from(header.height);
        if frame_pixels > limits.max_frame_pixels {
            return Err(CaptureError::new(
                Piece::Capture,
                VerifyError::CaptureTooLarge(format!(
                    "the first {} selfie frames declare {frame_pixels} pixels together; a capture holds at most {}",
                    i + 1,
                    limits.max_frame_pixels
                )),
            ));
        }
        selfies.push(header);
    }
    let all = || id_front.iter().chain(id_back.iter()).chain(selfies.iter());
    let kept: u64 = all().map(ImageHeader::rgb_bytes).sum();
    let largest_decode = all()
        .map(|h| h.decode_bytes() - h.rgb_bytes())
        .max()
        .unwrap_or(0);
    let decode_bytes = kept
        .saturating_add(largest_decode)
        .saturating_add(DECODER_WORKING_BYTES);
    if decode_bytes > limits.decode_budget_bytes {
        return Err(CaptureError::new(
            Piece::Capture,
            VerifyError::CaptureTooLarge(format!(
                "decoding the capture would take {} MiB; one capture may take at most {} MiB",
                decode_bytes >> 20,
                limits.decode_budget_bytes >> 20
            )),
        ));
    }
    Ok(CheckedCapture {
        id_front,
        id_back,
        selfies,
        frame_pixels,
        decode_bytes,
    })
}

/// Checks the whole capture ([`check_capture`]), then decodes it piece by piece, each
/// decoder's memory bounded by what its own header declared: nothing is decoded unless
/// everything may be.
pub fn decode_capture(
    capture: &CaptureBytes<'_>,
    limits: &CaptureLimits,
) -> Result<DecodedCapture, CaptureError> {
    let checked = check_capture(capture, limits)?;
    let decode = |bytes: &[u8], header: &ImageHeader, piece: Piece, image: &ImageLimits| {
        load_image_bytes_within(bytes, image, header.decode_bytes())
            .map_err(|e| CaptureError::new(piece, e))
    };
    let id_front = match (capture.id_front, &checked.id_front) {
        (Some(b), Some(h)) => Some(decode(b, h, Piece::IdFront, &limits.id)?),
        _ => None,
    };
    let id_back = match (capture.id_back, &checked.id_back) {
        (Some(b), Some(h)) => Some(decode(b, h, Piece::IdBack, &limits.id)?),
        _ => None,
    };
    let frame_limits = limits.frame();
    let mut selfies = Vec::with_capacity(capture.selfies.len());
    for (i, (bytes, header)) in capture.selfies.iter().zip(&checked.selfies).enumerate() {
        selfies.push(decode(bytes, header, Piece::Selfie(i), &frame_limits)?);
    }
    Ok(DecodedCapture {
        id_front,
        id_back,
        selfies,
    })
}

fn too_many_frames(frames: usize, limits: &CaptureLimits) -> CaptureError {
    CaptureError::new(
        Piece::Capture,
        VerifyError::CaptureTooLarge(format!(
            "{frames} selfie frames; a capture holds at most {}",
            limits.max_frames
        )),
    )
}

fn capture_bytes_exceeded(total: u64, limits: &CaptureLimits) -> CaptureError {
    CaptureError::new(
        Piece::Capture,
        VerifyError::CaptureTooLarge(format!(
            "the capture's files hold at least {total} bytes together; at most {} are accepted",
            limits.max_capture_bytes
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_input::tests::{encode, png_declaring};
    use image::{DynamicImage, ImageFormat, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 9]));
        encode(DynamicImage::ImageRgb8(image), ImageFormat::Png)
    }

    fn real_jpeg() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/faces/ardern-1.jpg"
        ))
        .unwrap()
    }

    fn frames(bytes: &[u8], n: usize) -> CaptureBytes<'_> {
        CaptureBytes {
            selfies: vec![bytes; n],
            ..CaptureBytes::default()
        }
    }

    fn refused(capture: &CaptureBytes<'_>) -> CaptureError {
        check_capture(capture, &CAPTURE_LIMITS).unwrap_err()
    }

    #[test]
    fn an_ordinary_capture_decodes_whole() {
        let id = real_jpeg();
        let frame = png(64, 48);
        let capture = CaptureBytes {
            id_front: Some(id.as_slice()),
            id_back: None,
            selfies: vec![frame.as_slice(); 5],
        };
        let checked = check_capture(&capture, &CAPTURE_LIMITS).unwrap();
        assert_eq!(checked.frame_pixels, 5 * 64 * 48);
        assert_eq!(checked.id_front.unwrap().width, 716);
        let decoded = decode_capture(&capture, &CAPTURE_LIMITS).unwrap();
        assert_eq!(decoded.selfies.len(), 5);
        assert_eq!(decoded.selfies[0].rgb.dimensions(), (64, 48));
        assert_eq!(decoded.id_front.unwrap().rgb.dimensions(), (716, 900));
    }

    /// 4K either way round is a frame; one pixel more on either side, or a square that
    /// fits the pixel count but not the box, is not.
    #[test]
    fn a_frame_beyond_4k_is_refused_from_its_header() {
        let limits = CAPTURE_LIMITS;
        assert!(limits.check_frame(3840, 2160).is_ok());
        assert!(limits.check_frame(2160, 3840).is_ok());
        for (w, h) in [(3841, 2160), (3840, 2161), (2161, 3840), (2800, 2800)] {
            let err = limits.check_frame(w, h).unwrap_err();
            assert_eq!(err.code(), "image_too_large", "{w}x{h}");
        }
        // Declared by a header whose data is a 4x4 picture: refused without decoding.
        let wide = png_declaring(png(4, 4), 3841, 10);
        let ok = png(8, 8);
        let capture = CaptureBytes {
            selfies: vec![ok.as_slice(), wide.as_slice()],
            ..CaptureBytes::default()
        };
        let err = refused(&capture);
        assert_eq!(err.code(), "image_too_large", "{err}");
        assert_eq!(err.piece, Piece::Selfie(1));
        assert!(err.to_string().contains("3840"), "{err}");
        // A square that fits the pixel count but not the box, as a header declares it.
        let square = png_declaring(png(4, 4), 2800, 2800);
        let capture = CaptureBytes {
            selfies: vec![ok.as_slice(), square.as_slice()],
            ..CaptureBytes::default()
        };
        let err = refused(&capture);
        assert_eq!(err.code(), "image_too_large", "{err}");
        assert!(err.to_string().contains("2800x2800"), "{err}");
    }

    #[test]
    fn more_than_sixty_frames_are_refused() {
        let frame = png(8, 8);
        assert!(check_capture(&frames(&frame, 60), &CAPTURE_LIMITS).is_ok());
        let err = refused(&frames(&frame, 61));
        assert_eq!(err.code(), "capture_too_large");
        assert_eq!(err.piece, Piece::Capture);
    }

    /// Fifteen 4K frames are 124 megapixels: each is a frame, together they are not a
    /// capture. (Headers only: the 8x8 data behind them is never decoded.)
    #[test]
    fn more_than_120_megapixels_together_are_refused() {
        let frame = png_declaring(png(8, 8), 3840, 2160);
        assert!(check_capture(&frames(&frame, 14), &CAPTURE_LIMITS).is_ok());
        let err = refused(&frames(&frame, 15));
        assert_eq!(err.code(), "capture_too_large", "{err}");
        assert!(err.to_string().contains("first 15"), "{err}");
    }

    #[test]
    fn an_id_photo_over_50_megapixels_is_refused() {
        let frame = png(8, 8);
        let fine = png_declaring(png(8, 8), 8000, 6000);
        let big = png_declaring(png(8, 8), 8000, 6300);
        let mut capture = CaptureBytes {
            id_front: Some(fine.as_slice()),
            id_back: None,
            selfies: vec![frame.as_slice()],
        };
        assert!(check_capture(&capture, &CAPTURE_LIMITS).is_ok());
        capture.id_back = Some(big.as_slice());
        let err = refused(&capture);
        assert_eq!(err.code(), "image_too_large", "{err}");
        assert_eq!(err.piece, Piece::IdBack);
    }

    /// The memory of the whole judgement is budgeted: pieces each within their limits
    /// whose decoding together would exceed it are refused before any is decoded.
    #[test]
    fn the_decoding_budget_covers_the_whole_capture() {
        let frame = png_declaring(png(8, 8), 3840, 2160);
        let limits = CaptureLimits {
            decode_budget_bytes: 240 << 20,
            ..CAPTURE_LIMITS
        };
        // Five 4K frames kept (124 MB), one being decoded (50 MB more) and the decoder's
        // working memory (64 MiB): within 240 MiB; six are not.
        assert!(check_capture(&frames(&frame, 5), &limits).is_ok());
        let err = check_capture(&frames(&frame, 6), &limits).unwrap_err();
        assert_eq!(err.code(), "capture_too_large", "{err}");
        assert!(err.to_string().contains("MiB"), "{err}");
        // The default budget holds a capture at the other limits: two 48-megapixel ID
        // photos and fourteen 4K frames (116 megapixels).
        let id = png_declaring(png(8, 8), 8000, 6000);
        let capture = CaptureBytes {
            id_front: Some(id.as_slice()),
            id_back: Some(id.as_slice()),
            selfies: vec![frame.as_slice(); 14],
        };
        let checked = check_capture(&capture, &CAPTURE_LIMITS).unwrap();
        assert!(checked.decode_bytes <= CAPTURE_LIMITS.decode_budget_bytes);
    }

    /// A header that promises more pixels than its data holds is corrupt; one that
    /// promises fewer is never decoded to more than it declared.
    #[test]
    fn a_header_that_lies_about_the_data_is_caught() {
        let more = png_declaring(png(8, 8), 64, 64);
        let err = decode_capture(&frames(&more, 2), &CAPTURE_LIMITS).unwrap_err();
        assert_eq!(err.code(), "image_corrupt", "{err}");
        assert_eq!(err.piece, Piece::Selfie(0));

        let fewer = png_declaring(png(64, 64), 8, 8);
        match decode_capture(&frames(&fewer, 1), &CAPTURE_LIMITS) {
            Ok(d) => assert_eq!(d.selfies[0].rgb.dimensions(), (8, 8)),
            Err(e) => assert_eq!(e.code(), "image_corrupt", "{e}"),
        }
    }

    /// A truncated JPEG is refused from its structure, before any frame is decoded; a
    /// truncated PNG when it is decoded. Both as `image_corrupt`.
    #[test]
    fn truncated_data_is_corrupt() {
        let jpeg = real_jpeg();
        let half = &jpeg[..jpeg.len() / 2];
        let capture = CaptureBytes {
            selfies: vec![jpeg.as_slice(), half, jpeg.as_slice()],
            ..CaptureBytes::default()
        };
        let err = refused(&capture);
        assert_eq!(err.code(), "image_corrupt", "{err}");
        assert_eq!(err.piece, Piece::Selfie(1));

        let png = png(64, 64);
        let cut = &png[..png.len() - 20];
        let err = decode_capture(&frames(cut, 1), &CAPTURE_LIMITS).unwrap_err();
        assert_eq!(err.code(), "image_corrupt", "{err}");
    }

    #[test]
    fn files_are_read_within_their_limits() {
        let dir = std::env::temp_dir().join(format!("reclaim-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let frame = dir.join("frame.png");
        std::fs::write(&frame, png(8, 8)).unwrap();
        let limits = CaptureLimits {
            frame_file_bytes: 1000,
            max_capture_bytes: 2000,
            ..CAPTURE_LIMITS
        };
        let read =
            read_capture_files(None, None, &[frame.clone(), frame.clone()], &limits).unwrap();
        assert_eq!(read.bytes().selfies.len(), 2);
        let many = vec![frame.clone(); 61];
        let err = read_capture_files(None, None, &many, &limits).unwrap_err();
        assert_eq!(err.code(), "capture_too_large");
        let big = dir.join("big.png");
        std::fs::write(&big, vec![0u8; 1001]).unwrap();
        let err = read_capture_files(None, None, &[frame.clone(), big], &limits).unwrap_err();
        assert_eq!(err.code(), "input_too_large");
        assert_eq!(err.piece, Piece::Selfie(1));
        let err = read_capture_files(None, None, &vec![frame; 40], &limits).unwrap_err();
        assert_eq!(err.code(), "capture_too_large");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
