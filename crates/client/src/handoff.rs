//! QR hand-off: the laptop shows the session's one-time hand-off secret as a QR code;
//! the phone reads it from its camera and takes the session over.
//!
//! The payload is `reclaim:continue?server=<percent-encoded URL>&session=<id>&secret=<s>`.
//! The phone only continues with the server it is configured for: a QR code that names
//! another server is refused, so a printed code cannot send someone's selfie elsewhere.

use image::{GrayImage, RgbImage};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use reclaim_verify::document::barcode::qr_payloads;
use reclaim_verify::raster::box_reduce;

use crate::error::{ClientError, Result};

/// What a hand-off QR code carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffCode {
    pub server: String,
    pub session_id: String,
    pub secret: String,
}

/// An SVG document of `payload` as a QR code.
pub fn qr_svg(payload: &str) -> Result<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| ClientError::Input(format!("QR code: {e}")))?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// `payload` as a QR code image, `module_px` pixels per module (tests, file-backed demos).
pub fn qr_image(payload: &str, module_px: u32) -> Result<GrayImage> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| ClientError::Input(format!("QR code: {e}")))?;
    Ok(code
        .render::<image::Luma<u8>>()
        .module_dimensions(module_px, module_px)
        .build())
}

/// Longest side a camera frame is scanned at. The hand-off code fills a good part of the
/// frame (a laptop screen held before the phone), so a 1080p frame averaged down by two
/// loses nothing the decoders need, while decoding it whole took longer than a frame's
/// interval at 30 frames a second on the development machine under load
/// (docs/benchmarks.md, "The QR hand-off's frame"). Whole blocks are averaged, not
/// resampled: a filtered resize of a 1080p frame cost more than the decode it saved.
const SCAN_SIDE: u32 = 1280;

/// The first Reclaim hand-off code in `frame`, if any.
pub fn find_code(frame: &RgbImage) -> Option<HandoffCode> {
    let long = frame.width().max(frame.height());
    let gray = if long > SCAN_SIDE {
        image::imageops::grayscale(&box_reduce(frame, long.div_ceil(SCAN_SIDE)))
    } else {
        image::imageops::grayscale(frame)
    };
    qr_payloads(gray)
        .into_iter()
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .find_map(|text| parse(&text).ok())
}

/// Parses a hand-off payload.
pub fn parse(payload: &str) -> Result<HandoffCode> {
    let query = payload
        .strip_prefix("reclaim:continue?")
        .ok_or(ClientError::HandoffInvalid)?;
    let (mut server, mut session, mut secret) = (None, None, None);
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').ok_or(ClientError::HandoffInvalid)?;
        let slot = match k {
            "server" => &mut server,
            "session" => &mut session,
            "secret" => &mut secret,
            _ => continue,
        };
        if slot.is_some() {
            // A repeated field is how a tampered code would smuggle a second value.
            return Err(ClientError::HandoffInvalid);
        }
        *slot = Some(percent_decode(v)?);
    }
    let token_like = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match (server, session, secret) {
        (Some(server), Some(session_id), Some(secret))
            if token_like(&session_id) && token_like(&secret) && server.len() <= 512 =>
        {
            Ok(HandoffCode {
                server,
                session_id,
                secret,
            })
        }
        _ => Err(ClientError::HandoffInvalid),
    }
}

/// Whether a code's server is the one this app is configured for (trailing slashes aside).
pub fn same_server(code: &HandoffCode, configured: &str) -> bool {
    code.server.trim_end_matches('/') == configured.trim_end_matches('/')
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or(ClientError::HandoffInvalid)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ClientError::HandoffInvalid)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ClientError::HandoffInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str =
        "reclaim:continue?server=https%3A%2F%2Freclaim.example.com&session=s_abc-123&secret=Zx_9";

    #[test]
    fn a_payload_parses_into_its_parts() {
        let code = parse(PAYLOAD).unwrap();
        assert_eq!(code.server, "https://reclaim.example.com");
        assert_eq!(code.session_id, "s_abc-123");
        assert_eq!(code.secret, "Zx_9");
        assert!(same_server(&code, "https://reclaim.example.com/"));
        assert!(!same_server(&code, "https://reclaim.example.com.evil.test"));
    }

    #[test]
    fn tampered_or_foreign_payloads_are_refused() {
        for bad in [
            "",
            "https://example.com",
            "reclaim:continue?server=x&session=a",
            "reclaim:continue?server=x&session=a&secret=b&secret=c",
            "reclaim:continue?server=x&session=a/../b&secret=c",
            "reclaim:continue?server=%zz&session=a&secret=b",
            "reclaim:continue?server=%&session=a&secret=b",
            "reclaim:continue?server=%ff&session=a&secret=b",
            "reclaim:continue?server=x&session=&secret=b",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_qr_code_round_trips_through_a_camera_frame() {
        let gray = qr_image(PAYLOAD, 6).unwrap();
        // Held up in a larger, grey scene, as a camera would see it.
        let mut frame = RgbImage::from_pixel(
            gray.width() + 200,
            gray.height() + 160,
            image::Rgb([128, 128, 128]),
        );
        for (x, y, p) in gray.enumerate_pixels() {
            frame.put_pixel(x + 100, y + 80, image::Rgb([p[0], p[0], p[0]]));
        }
        assert_eq!(find_code(&frame), Some(parse(PAYLOAD).unwrap()));
        assert_eq!(
            find_code(&RgbImage::from_pixel(320, 240, image::Rgb([90, 90, 90]))),
            None
        );
        assert!(qr_svg(PAYLOAD).unwrap().starts_with("<?xml"));
    }

    /// A 1080p frame is averaged down before it is scanned: a code at 4 pixels a module
    /// (a laptop's screen a good arm's length from the phone) is still found, off centre.
    #[test]
    fn a_code_in_a_1080p_frame_is_found_after_the_frame_is_reduced() {
        let gray = qr_image(PAYLOAD, 4).unwrap();
        let mut frame = RgbImage::from_pixel(1920, 1080, image::Rgb([128, 128, 128]));
        for (x, y, p) in gray.enumerate_pixels() {
            frame.put_pixel(x + 1301, y + 577, image::Rgb([p[0], p[0], p[0]]));
        }
        assert_eq!(find_code(&frame), Some(parse(PAYLOAD).unwrap()));
    }
}
