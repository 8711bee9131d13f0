//! The barcodes on the back of cards: PDF417 (AAMVA licences) and QR.

use image::GrayImage;
use rxing::{BarcodeFormat, EncodeHints, Writer};

/// A PDF417 symbol holding `payload`, `module` pixels per module, quiet zone included.
pub fn pdf417(payload: &str, module: u32) -> Result<GrayImage, String> {
    let hints = EncodeHints {
        ErrorCorrection: Some("5".to_string()),
        Margin: Some("2".to_string()),
        ..EncodeHints::default()
    };
    let matrix = rxing::pdf417::PDF417Writer
        .encode_with_hints(payload, &BarcodeFormat::PDF_417, 0, 0, &hints)
        .map_err(|e| e.to_string())?;
    // The writer already draws each row four modules tall, as the symbology asks.
    let (w, h) = (matrix.getWidth(), matrix.getHeight());
    let mut img = GrayImage::from_pixel(w * module, h * module, image::Luma([255]));
    for y in 0..h {
        for x in 0..w {
            if matrix.get(x, y) {
                for dy in 0..module {
                    for dx in 0..module {
                        img.put_pixel(x * module + dx, y * module + dy, image::Luma([0]));
                    }
                }
            }
        }
    }
    Ok(img)
}

/// A QR code holding `data`, `module` pixels per module, with a four-module quiet zone.
pub fn qr(data: &[u8], module: u32) -> Result<GrayImage, String> {
    let code = qrcode::QrCode::new(data).map_err(|e| e.to_string())?;
    let n = code.width() as u32;
    let quiet = 4;
    let side = (n + 2 * quiet) * module;
    let mut img = GrayImage::from_pixel(side, side, image::Luma([255]));
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = (i as u32 % n + quiet, i as u32 / n + quiet);
            for dy in 0..module {
                for dx in 0..module {
                    img.put_pixel(x * module + dx, y * module + dy, image::Luma([0]));
                }
            }
        }
    }
    Ok(img)
}
