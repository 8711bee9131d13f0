//! Barcodes on identity documents: the PDF417 of North American licences (read with
//! rxing) and QR codes (read with rxing's port of zxing-cpp's QR reader, and with rqrr
//! where that finds none; the app's phone hand-off uses the same function).
//!

use image::{GrayImage, RgbImage};
use rxing::{BarcodeFormat, DecodeHints};

use crate::raster::{dominant_tilt, rotate_grey, shrink_to_fit, to_luma};

/// Share of edge strength near the dominant direction above which a photo may hold a
/// barcode worth straightening (see [`read_pdf417`]).
const BARCODE_EDGE_CONCENTRATION: f32 = 0.24;

/// Largest side the barcode readers are given.
const READ_SIDE: u32 = 2048;

/// What a barcode reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBarcode {
    pub payload: Vec<u8>,
}

/// A photo prepared once for every barcode reader: grey, no larger than [`READ_SIDE`].
pub struct BarcodeImage(GrayImage);

impl BarcodeImage {
    pub fn new(img: &RgbImage) -> Self {
        let (small, _) = shrink_to_fit(img, READ_SIDE, READ_SIDE);
        BarcodeImage(to_luma(&small))
    }
}

/// The first PDF417 symbol in `img`, if any.
///
/// rxing's PDF417 detector tolerates only a few degrees of rotation, and a card held in
/// front of a camera is rarely straight: when the image as it is gives nothing, it is
/// turned so its dominant vertical edges (the symbol's bars) stand upright, and tried again
/// at that angle and its neighbours, since the estimate and the decoder's tolerance are
/// both a few degrees.
pub fn read_pdf417(img: &BarcodeImage) -> Option<DecodedBarcode> {
    let grey = &img.0;
    decode_pdf417(grey.clone()).or_else(|| {
        // Turning is worth it only where parallel bars dominate the edges: measured on
        // synthetic licences 0.28 to 0.53 of the edge strength lies within 3 degrees
        // of the peak, on ID cards, passports and faces 0.13 to 0.18.
        let (tilt, concentration) = dominant_tilt(&shrink_grey(grey, 800));
        if concentration < BARCODE_EDGE_CONCENTRATION {
            return None;
        }
        [tilt, tilt - 3.0, tilt + 3.0]
            .into_iter()
            .filter(|t| t.abs() >= 1.5)
            .find_map(|t| decode_pdf417(rotate_grey(grey, t)))
    })
}

fn decode_pdf417(grey: GrayImage) -> Option<DecodedBarcode> {
    let (w, h) = grey.dimensions();
    let mut hints = DecodeHints {
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    rxing::helpers::detect_in_luma_with_hints(
        grey.into_raw(),
        w,
        h,
        Some(BarcodeFormat::PDF_417),
        &mut hints,
    )
    .ok()
    .map(|r| DecodedBarcode {
        payload: r.getText().as_bytes().to_vec(),
    })
}

fn shrink_grey(grey: &GrayImage, side: u32) -> GrayImage {
    let (w, h) = grey.dimensions();
    let scale = (side as f32 / w.max(h) as f32).min(1.0);
    if scale >= 1.0 {
        return grey.clone();
    }
    let (nw, nh) = (
        ((w as f32 * scale) as u32).max(1),
        ((h as f32 * scale) as u32).max(1),
    );
    image::imageops::resize(grey, nw, nh, image::imageops::FilterType::Triangle)
}

/// Every QR code in `img`, in the order found.
pub fn read_qr_codes(img: &BarcodeImage) -> Vec<DecodedBarcode> {
    qr_payloads(img.0.clone())
        .into_iter()
        .map(|payload| DecodedBarcode { payload })
        .collect()
}

/// The bytes each QR code in `grey` carries, in the order found; a payload that is not
/// UTF-8 is kept as it is, for the caller to judge.
///
/// rxing's port of zxing-cpp's QR reader is tried first, rqrr where it finds nothing. On
/// ZXing's public QR test images rqrr alone decodes 113 of 182, rxing 168, the two together
/// 170, where zxing-cpp 3.1.1 decodes 169 (docs/documents.md, "On real material"); rxing
/// is also the faster on a camera frame with no code in it, which is most of the hand-off's
/// frames (docs/benchmarks.md, "The QR hand-off's frame"). Neither is asked to correct
/// anything: a QR code's own Reed-Solomon correction is the only one either makes.
pub fn qr_payloads(grey: GrayImage) -> Vec<Vec<u8>> {
    let found = rxing_qr_payloads(grey.clone());
    if !found.is_empty() {
        return found;
    }
    rqrr_payloads(grey)
}

/// rqrr's reading of `grey`.
///
/// rqrr asserts on some geometry: on ZXing's test image `qrcode-6/7.png` (a code filling
/// the picture) its perspective maps a point beyond `i32` and 0.11 panics. Whatever a
/// picture holds, it must not bring the reader down (the server reads uploaded ID photos,
/// the app reads camera frames), so detection, and each code's decoding, run under
/// `catch_unwind`: a panic there counts as nothing found, and the codes decoded before it
/// are kept. The workspace builds with `panic = "unwind"` (the default) for this.
fn rqrr_payloads(grey: GrayImage) -> Vec<Vec<u8>> {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let Ok(mut prepared) = catch_unwind(move || rqrr::PreparedImage::prepare(grey)) else {
        return Vec::new();
    };
    let prepared = &mut prepared;
    // Moving the borrow in (not reborrowing it) lets the grids, which borrow the
    // prepared image, out of the closure.
    let detect = move || {
        let prepared = prepared;
        prepared.detect_grids()
    };
    let Ok(grids) = catch_unwind(AssertUnwindSafe(detect)) else {
        return Vec::new();
    };
    grids
        .iter()
        .filter_map(|grid| {
            catch_unwind(AssertUnwindSafe(|| {
                let mut payload = Vec::new();
                grid.decode_to(&mut payload).ok().map(|_| payload)
            }))
            .ok()
            .flatten()
        })
        .collect()
}

/// rxing's reading of `grey`, with its port of zxing-cpp's QR reader (finder patterns
/// searched hard, every symbol in the picture).
///
/// The payload is the symbol's content bytes (`getRawBytes` of this reader: the bytes its
/// segments carry, as zxing-cpp's `bytes()`), not the text rxing makes of them by guessing a
/// character set, so a binary payload stays as it was encoded. Under `catch_unwind` for the
/// same reason as rqrr: a port of a large C++ reader may assert on a picture no one tried.
///
/// zxing-cpp also tries the picture inverted (light modules on dark) by default; on ZXing's
/// test images that read nothing more, and it would double the time spent on each camera
/// frame with no code in it, so it is not done.
fn rxing_qr_payloads(grey: GrayImage) -> Vec<Vec<u8>> {
    use rxing::common::HybridBinarizer;
    use rxing::multi::MultipleBarcodeReader;
    use rxing::qrcode::cpp_port::QrReader;
    use rxing::{BinaryBitmap, Luma8LuminanceSource};
    use std::collections::HashSet;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    let (w, h) = grey.dimensions();
    let decode = move || {
        let hints = DecodeHints {
            TryHarder: Some(true),
            PossibleFormats: Some(HashSet::from([BarcodeFormat::QR_CODE])),
            ..DecodeHints::default()
        };
        let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(Luma8LuminanceSource::new(
            grey.into_raw(),
            w,
            h,
        )));
        QrReader
            .decode_multiple_with_hints(&mut bitmap, &hints)
            .map(|found| {
                found
                    .into_iter()
                    .map(|r| r.getRawBytes().to_vec())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    catch_unwind(AssertUnwindSafe(decode)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_image(name: &str) -> GrayImage {
        let path = format!(
            "{}/../../tests/data/barcodes/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        image::open(&path).expect("opens").to_luma8()
    }

    /// rqrr alone, on the picture that made 0.11 panic (tests/data/barcodes/README.md):
    /// since rxing reads that picture first, the public reader no longer reaches rqrr
    /// there, so the guard is tested here, on rqrr itself.
    #[test]
    fn rqrr_survives_the_picture_that_makes_it_panic() {
        let found = rqrr_payloads(test_image("zxing-qrcode-6-7.png"));
        assert!(found.iter().all(|p| p == b"1234567890"), "{found:?}");
    }

    /// A PDF417 cut to its own bars (a photo filled by the symbol, no quiet zone around
    /// it) is found.
    #[test]
    fn a_pdf417_without_its_quiet_zone_is_found() {
        let payload = "@\n\x1e\rANSI 636014080002DL00410200ZC02410021DLDCSDOE\nDACJANE\r";
        let symbol = reclaim_docgen::barcode::pdf417(payload, 3).expect("encodes");
        let (w, h) = symbol.dimensions();
        let dark: Vec<(u32, u32)> = symbol
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] < 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        let x0 = dark.iter().map(|p| p.0).min().expect("bars");
        let x1 = dark.iter().map(|p| p.0).max().expect("bars");
        let y0 = dark.iter().map(|p| p.1).min().expect("bars");
        let y1 = dark.iter().map(|p| p.1).max().expect("bars");
        assert!(
            x0 > 0 && y0 > 0 && x1 < w - 1 && y1 < h - 1,
            "the writer draws a margin"
        );
        let cut = image::imageops::crop_imm(&symbol, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image();
        let rgb = image::DynamicImage::ImageLuma8(cut).to_rgb8();
        let found = read_pdf417(&BarcodeImage::new(&rgb)).expect("found without a quiet zone");
        assert_eq!(found.payload, payload.as_bytes());
    }

    /// Each decoder reads a photographed code the other cannot (tests/data/barcodes), so
    /// each is reached, in its order.
    #[test]
    fn each_decoder_reads_what_the_other_cannot() {
        let only_rxing = test_image("zxing-qrcode-4-19.png");
        let url = b"http://code.google.com".to_vec();
        assert_eq!(rxing_qr_payloads(only_rxing.clone()), vec![url.clone()]);
        assert!(rqrr_payloads(only_rxing.clone()).is_empty());
        assert_eq!(qr_payloads(only_rxing), vec![url]);

        let only_rqrr = test_image("zxing-qrcode-4-14.png");
        let ad = b"Google Print Ads - T.G.I.A.F. - January 31, 2008".to_vec();
        assert!(rxing_qr_payloads(only_rqrr.clone()).is_empty());
        assert_eq!(qr_payloads(only_rqrr), vec![ad]);
    }
}
