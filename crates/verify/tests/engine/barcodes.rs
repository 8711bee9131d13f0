//! PDF417 (AAMVA) and QR codes read back from synthetic cards photographed at each
//! degradation level.

use reclaim_docgen::sample::random_spec;
use reclaim_docgen::{photograph, render, DocKind, Level, Rng};
use reclaim_document::aamva::parse_aamva;
use reclaim_document::Date;
use reclaim_verify::document::barcode::{read_pdf417, read_qr_codes, BarcodeImage};

use crate::portrait;

fn today() -> Date {
    Date::new(2026, 11, 26).expect("a date")
}

/// Every clean and mildly degraded licence back is read byte for byte, and at least four
/// of five moderately degraded ones (10 degrees of turn, visible perspective, blur, glare,
/// JPEG 70); see docs/documents.md for the rates over more seeds.
#[test]
fn aamva_barcodes_round_trip_through_a_photo() {
    for (level, seeds, must_read) in [
        (Level::Clean, 4, 4),
        (Level::Mild, 4, 4),
        (Level::Moderate, 5, 4),
    ] {
        let mut read = 0;
        for seed in 0..seeds {
            let mut rng = Rng::new(seed * 31 + 7);
            let spec = random_spec(DocKind::Aamva, &mut rng, portrait(), today());
            let doc = render(&spec).expect("renders");
            let back = doc.back.as_ref().expect("a back");
            let shot = photograph(back, &level.degradation(&mut rng, 1600, 1200), &mut rng)
                .expect("a photo");
            let Some(found) = read_pdf417(&BarcodeImage::new(&shot.image)) else {
                continue;
            };
            assert_eq!(
                Some(&found.payload),
                doc.aamva.as_ref(),
                "{level:?} seed {seed}: payload differs"
            );
            let record = parse_aamva(&found.payload).expect("parses");
            assert_eq!(record.fields.surname, doc.truth.surname);
            assert_eq!(record.fields.birth_date, doc.truth.birth_date);
            assert_eq!(record.fields.expiry_date, doc.truth.expiry_date);
            assert_eq!(record.fields.document_number, doc.truth.document_number);
            read += 1;
        }
        assert!(
            read >= must_read,
            "{level:?}: {read} of {seeds} read, {must_read} expected"
        );
    }
}

#[test]
fn a_qr_code_on_a_card_is_read() {
    let mut rng = Rng::new(5);
    let spec = random_spec(DocKind::Td1, &mut rng, portrait(), today());
    let doc = render(&spec).expect("renders");
    let back = doc.back.as_ref().expect("a back");
    let shot = photograph(
        back,
        &Level::Mild.degradation(&mut rng, 1600, 1200),
        &mut rng,
    )
    .expect("a photo");
    let codes = read_qr_codes(&BarcodeImage::new(&shot.image));
    assert_eq!(codes.first().map(|c| &c.payload), doc.qr.as_ref());
}

#[test]
fn no_barcode_in_a_face_photo() {
    let img = crate::face_photo("obama-1");
    let img = BarcodeImage::new(&img);
    assert!(read_pdf417(&img).is_none());
    assert!(read_qr_codes(&img).is_empty());
}

/// ZXing's test image `qrcode-6/7.png` (a QR code filling the picture, which carries
/// `1234567890`; tests/data/barcodes/README.md) made rqrr 0.11 panic in its perspective
/// mapping. A picture must never bring the reader down; with rxing tried first, the code
/// is read.
#[test]
fn a_picture_that_makes_the_qr_decoder_panic_reads_as_what_it_can() {
    assert_eq!(
        qr_payloads_of("zxing-qrcode-6-7.png"),
        [b"1234567890".to_vec()]
    );
}

/// The QR payloads read from `tests/data/barcodes/NAME`.
fn qr_payloads_of(name: &str) -> Vec<Vec<u8>> {
    let img = image::open(crate::data(&format!("barcodes/{name}")))
        .expect("opens")
        .into_rgb8();
    read_qr_codes(&BarcodeImage::new(&img))
        .into_iter()
        .map(|c| c.payload)
        .collect()
}

/// A photographed code rqrr alone never read (ZXing's `qrcode-4/19.png`, as 56 more of
/// ZXing's 182 QR test images) is read.
#[test]
fn a_photographed_code_rqrr_cannot_read_is_read() {
    assert_eq!(
        qr_payloads_of("zxing-qrcode-4-19.png"),
        [b"http://code.google.com".to_vec()]
    );
}

/// A code whose payload is not UTF-8 is kept as the bytes it carries.
#[test]
fn a_binary_qr_payload_is_kept_as_bytes() {
    let payload: Vec<u8> = (0..=255u8).rev().step_by(3).collect();
    let grey = reclaim_docgen::barcode::qr(&payload, 6).expect("encodes");
    let img = image::DynamicImage::ImageLuma8(grey).into_rgb8();
    let codes = read_qr_codes(&BarcodeImage::new(&img));
    assert_eq!(codes.first().map(|c| &c.payload), Some(&payload));
}
