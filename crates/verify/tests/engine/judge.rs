//! The one entry that judges evidence as it travels (`Engines::judge`): what it compares
//! the face with, and evidence it cannot judge.

use std::io::Cursor;
use std::sync::OnceLock;

use reclaim_document::Date;
use reclaim_protocol::Code;
use reclaim_verify::verifier::DeviceVerdict;
use reclaim_verify::{Engines, Evidence, Reference};

use crate::liveness::{ardern, genuine, CHALLENGE};

fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| Engines::load(None).expect("models load"))
}

/// A genuine selfie capture as the app uploads it: JPEG frames and their times.
fn uploaded_selfie() -> &'static Vec<(Vec<u8>, u64)> {
    static FRAMES: OnceLock<Vec<(Vec<u8>, u64)>> = OnceLock::new();
    FRAMES.get_or_init(|| {
        genuine(ardern(), &CHALLENGE, 7)
            .iter()
            .map(|f| {
                let mut jpeg = Cursor::new(Vec::new());
                f.image
                    .write_to(&mut jpeg, image::ImageFormat::Jpeg)
                    .expect("encodes");
                (jpeg.into_inner(), f.timestamp_ms)
            })
            .collect()
    })
}

fn judged(
    reference: Reference<'_>,
    frames: &[(Vec<u8>, u64)],
) -> Result<(DeviceVerdict, Vec<Code>), Code> {
    let selfies: Vec<(&[u8], u64)> = frames.iter().map(|(b, t)| (b.as_slice(), *t)).collect();
    engines()
        .judge(&Evidence {
            id_front: None,
            id_back: None,
            selfies: &selfies,
            challenge: &CHALLENGE,
            light: None,
            reference,
            seen: &[],
            today: Date::parse_iso("2026-12-01").expect("a date"),
        })
        .map(|v| (v.decision, v.reasons))
        .map_err(|e| e.code())
}

/// A returning user on the device: the template is the server's, so the device's verdict
/// is on the capture and liveness alone, and says so (the app used to receive a
/// rejection for `reference_missing` and look past it).
#[test]
fn a_reference_held_by_the_server_is_no_reason_and_a_missing_one_is() {
    let frames = uploaded_selfie();
    assert_eq!(
        judged(Reference::HeldByServer, frames),
        Ok((DeviceVerdict::Verified, vec![]))
    );
    let (decision, reasons) = judged(Reference::Missing, frames).expect("judged");
    assert_eq!(decision, DeviceVerdict::Rejected);
    assert_eq!(reasons, [Code::ReferenceMissing]);
}

/// A frame that is not an image is evidence that cannot be judged, with the capture
/// limits' own code: not a person who failed.
#[test]
fn an_undecodable_frame_is_an_error_with_its_code() {
    let mut frames = uploaded_selfie().clone();
    frames[3].0 = b"not a jpeg".to_vec();
    assert!(matches!(
        judged(Reference::HeldByServer, &frames),
        Err(code) if code.status() == Some(400)
    ));
}
