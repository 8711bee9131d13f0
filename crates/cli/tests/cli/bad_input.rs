//! Every kind of bad input gets exit 2 (or a `rejected` with a reason code, exit 1), a
//! one-line reason on stderr, and a JSON error with a stable code. Never a panic.

use std::io::Cursor;
use std::path::Path;
use std::process::Output;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

use crate::{compare, face, json_exiting, json_of, Scratch};

fn assert_bad_input(out: &Output, code: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("reclaim: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(json_of(out)["error"]["code"], code, "stderr: {stderr}");
}

fn against_a_face(path: &Path) -> Output {
    compare(path, &face("obama-1"), true)
}

fn png(img: DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn a_missing_file_is_unreadable() {
    assert_bad_input(
        &against_a_face(Path::new("/nonexistent/photo.jpg")),
        "input_unreadable",
    );
}

#[test]
fn a_zero_byte_file_is_empty() {
    let dir = Scratch::new("empty");
    assert_bad_input(&against_a_face(&dir.file("empty.jpg", b"")), "image_empty");
}

#[test]
fn text_is_not_an_image() {
    let dir = Scratch::new("text");
    let path = dir.file("notes.jpg", b"These are my notes, not a photo.\n");
    assert_bad_input(&against_a_face(&path), "image_unsupported_format");
}

#[test]
fn a_directory_is_not_an_image() {
    let dir = Scratch::new("dir");
    let out = against_a_face(&dir.0);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn truncated_jpegs_are_corrupt() {
    let dir = Scratch::new("truncated");
    let bytes = std::fs::read(face("obama-1")).unwrap();
    for (i, cut) in [4, 100, 600].into_iter().enumerate() {
        let path = dir.file(&format!("cut{i}.jpg"), &bytes[..cut]);
        assert_bad_input(&against_a_face(&path), "image_corrupt");
    }
}

/// Issue 14: a JPEG cut mid-scan used to be decoded with its missing half filled in grey
/// and judged: this one, half a face photo, was a match (exit 0, `same_person`). A
/// picture the decoder had to make up is not evidence: refused as corrupt.
#[test]
fn a_jpeg_cut_mid_scan_is_corrupt_not_judged() {
    let dir = Scratch::new("half");
    let bytes = std::fs::read(face("obama-1")).unwrap();
    let path = dir.file("half.jpg", &bytes[..bytes.len() / 2]);
    assert_bad_input(&against_a_face(&path), "image_corrupt");
}

#[test]
fn a_decompression_bomb_is_refused_before_decoding() {
    // A valid PNG header declaring 60000 x 60000 pixels (10.8 GB as RGB).
    let mut bytes = png(DynamicImage::ImageRgb8(RgbImage::new(1, 1)));
    bytes[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32fast::hash(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    let dir = Scratch::new("bomb");
    let out = against_a_face(&dir.file("bomb.png", &bytes));
    assert_bad_input(&out, "image_too_large");
}

#[test]
fn an_oversized_jpeg_header_is_refused() {
    // SOF0 of a baseline JPEG rewritten to declare 65500 x 65500.
    let mut bytes = std::fs::read(face("macron-1")).unwrap();
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xff, 0xc0])
        .expect("baseline JPEG");
    bytes[sof + 5..sof + 7].copy_from_slice(&65_500u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&65_500u16.to_be_bytes());
    let dir = Scratch::new("bigjpeg");
    assert_bad_input(
        &against_a_face(&dir.file("big.jpg", &bytes)),
        "image_too_large",
    );
}

#[test]
fn a_tiny_image_is_judged_not_refused() {
    let dir = Scratch::new("tiny");
    let path = dir.file(
        "tiny.png",
        &png(DynamicImage::ImageRgb8(RgbImage::from_pixel(
            3,
            2,
            Rgb([9, 9, 9]),
        ))),
    );
    let out = against_a_face(&path);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json_of(&out)["image_a"]["reasons"],
        serde_json::json!(["no_face"])
    );
}

#[test]
fn two_faces_are_rejected_with_a_reason() {
    let a = image::open(face("ardern-1")).unwrap().into_rgb8();
    let b = image::open(face("sunak-1")).unwrap().into_rgb8();
    let mut both = RgbImage::from_pixel(
        a.width() + b.width(),
        a.height().max(b.height()),
        Rgb([255; 3]),
    );
    image::imageops::replace(&mut both, &a, 0, 0);
    image::imageops::replace(&mut both, &b, i64::from(a.width()), 0);
    let dir = Scratch::new("two");
    let path = dir.file("two.png", &png(DynamicImage::ImageRgb8(both)));
    let out = compare(&path, &face("ardern-2"), true);
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out);
    assert_eq!(
        json["image_a"]["reasons"],
        serde_json::json!(["multiple_faces"])
    );
    assert_eq!(json["score"], serde_json::Value::Null);
}

#[test]
fn cmyk_grey_and_sixteen_bit_images_are_read() {
    let out = compare(
        &crate::data("images/cmyk-obama-1.jpg"),
        &face("obama-2"),
        true,
    );
    json_exiting(&out, 0);

    let img = image::open(face("ardern-1")).unwrap();
    let dir = Scratch::new("formats");
    let grey = dir.file("grey.png", &png(DynamicImage::ImageLuma8(img.to_luma8())));
    let deep = dir.file("deep.png", &png(DynamicImage::ImageRgb16(img.to_rgb16())));
    for path in [grey, deep] {
        let out = compare(&path, &face("ardern-2"), true);
        assert_eq!(out.status.code(), Some(0), "{}", path.display());
    }
}

#[test]
fn exif_orientation_is_applied() {
    let out = compare(
        &crate::data("images/exif-rotated-obama-1.jpg"),
        &face("obama-2"),
        true,
    );
    assert_eq!(out.status.code(), Some(0));
    let json = json_of(&out);
    assert_eq!(json["image_a"]["orientation_applied"], true);
    assert_eq!(json["image_a"]["width"], 455);
}

#[test]
fn a_missing_models_directory_is_a_configuration_error() {
    let out = crate::reclaim(&[
        "compare",
        face("obama-1").to_str().unwrap(),
        face("obama-2").to_str().unwrap(),
        "--json",
        "--models",
        "/nonexistent/models",
    ]);
    assert_bad_input(&out, "model_missing");
}

#[test]
fn usage_errors_exit_2() {
    let out = crate::reclaim(&["compare", "only-one.jpg"]);
    assert_eq!(out.status.code(), Some(2));
}
