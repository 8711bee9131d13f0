//! Barcodes on identity documents: the PDF417 of North American licences (read with
//! rxing) and QR codes (read with rqrr, the decoder the app's phone hand-off also uses).
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
/// rqrr asserts on some geometry: on ZXing's test image `qrcode-6/7.png` (a code filling
/// the picture) its perspective maps a point beyond `i32` and 0.11 panics. Whatever a
/// picture holds, it must not bring the reader down (the server reads uploaded ID photos,
/// the app reads camera frames), so detection, and each code's decoding, run under
/// `catch_unwind`: a panic there counts as nothing found, and the codes decoded before it
/// are kept. The workspace builds with `panic = "unwind"` (the default) for this.
pub fn qr_payloads(grey: GrayImage) -> Vec<Vec<u8>> {
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
