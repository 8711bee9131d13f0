//! What a device shows the server, made from sample photos: a passport printed for a
//! name and photographed, a selfie filmed to follow a challenge, the device's own run of
//! the engine on them, and the evidence as it is uploaded.
//!
//! `reclaim-lab demo` plays the honest app with these, `reclaim-lab attack` the attacker's own
//! client: the same renders, so that what the demo shows being approved and what the
//! attack suite shows being refused differ only in who sends it and how it is signed.

use std::path::Path;

use image::RgbImage;
use reclaim_client::api::EvidenceFile;
use reclaim_docgen::portrait::printed_portrait;
use reclaim_docgen::sample::random_spec;
use reclaim_docgen::{photograph, render, DocKind, Level, Rng};
use reclaim_document::Date;
use reclaim_facegen::{sequence, HeadModel};
use reclaim_verify::face::DetectedFace;
use reclaim_verify::liveness::replay::SeenSession;
use reclaim_verify::liveness::Action;
use reclaim_verify::verifier::Verification;
use reclaim_verify::{load_image_bytes, Engines, Evidence, ImageLimits, Reference, VerifyError};
use serde_json::Value;

/// Encoded frames (JPEG) and when each was taken, in milliseconds.
pub type Frames = Vec<(Vec<u8>, u64)>;

/// Loads the engines from `models` (default: the shipped models/): the same face and
/// document models the server re-verifies with, so the device's run predicts the server's.
pub fn load_engine(models: Option<&Path>) -> Result<Engines, VerifyError> {
    Engines::load(models)
}

/// An image file's pixels, within the default limits.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, String> {
    load_image_bytes(bytes, &ImageLimits::default())
        .map(|i| i.rgb)
        .map_err(|e| e.to_string())
}

/// The first face the engine finds in `photo`.
pub fn face_in(engine: &Engines, photo: &RgbImage) -> Result<DetectedFace, String> {
    engine
        .faces
        .analyze(photo)
        .map_err(|e| e.to_string())?
        .face
        .ok_or_else(|| "no face found in the photo".to_string())
}

/// `photo` lifted onto a 3D head, to be turned as a challenge asks.
pub fn head(engine: &Engines, photo: &RgbImage) -> Result<HeadModel, String> {
    let face = face_in(engine, photo)?;
    HeadModel::new(photo, face.landmarks, face.bbox).map_err(|e| e.to_string())
}

/// The server's challenge (`turn_left`, ...) as head movements to render.
pub fn movements(challenge: &[String]) -> Result<Vec<sequence::Action>, String> {
    sequence::parse_challenge(&challenge.join(",")).map_err(|e| e.to_string())
}

/// A selfie that follows `challenge`: facegen's "genuine" sequence, the head turned as
/// asked, frames encoded as a camera app would.
pub fn film(model: &HeadModel, challenge: &[String], seed: u64) -> Result<Frames, String> {
    let frames = sequence::genuine(
        model,
        &movements(challenge)?,
        sequence::DEFAULT_FPS,
        &mut Rng::new(seed),
    )
    .map_err(|e| e.to_string())?;
    encode_frames(&frames)
}

/// Rendered frames as JPEG (quality 90), with their times.
pub fn encode_frames(frames: &[sequence::Frame]) -> Result<Frames, String> {
    frames
        .iter()
        .map(|f| Ok((jpeg(&f.image, 90)?, f.timestamp_ms)))
        .collect()
}

/// `image` as a JPEG file of the given quality.
pub fn jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Who a passport is printed for. Names as printed: upper-case ASCII.
pub struct Holder<'a> {
    pub surname: &'a str,
    pub given_names: &'a str,
    /// `None`: the random one the sample document draws.
    pub birth_date: Option<Date>,
}

/// A passport (TD3) for `holder` with `photo` as its portrait, photographed as a phone
/// would (mild blur, noise, perspective); the photograph as JPEG. The same `seed` gives
/// the same document and photograph.
pub fn passport(
    engine: &Engines,
    photo: &RgbImage,
    holder: &Holder,
    seed: u64,
) -> Result<Vec<u8>, String> {
    let face = face_in(engine, photo)?;
    let today = Date::today_utc().ok_or("the clock gives no date")?;
    let mut rng = Rng::new(seed);
    let mut spec = random_spec(
        DocKind::Td3,
        &mut rng,
        printed_portrait(photo, face.bbox, 350, 450, None),
        today,
    );
    spec.holder.surname = holder.surname.into();
    spec.holder.given_names = holder.given_names.into();
    if let Some(b) = holder.birth_date {
        spec.holder.birth_date = b;
    }
    let document = render(&spec).map_err(|e| e.to_string())?;
    let degradation = Level::Mild.degradation(&mut rng, 1600, 1200);
    photograph(&document.front, &degradation, &mut rng)
        .and_then(|p| p.jpeg)
        .ok_or_else(|| "the passport could not be photographed".to_string())
}

/// The document reader's reasons on a photographed document (empty: read with nothing
/// flagged).
pub fn document_reasons(engine: &Engines, jpeg: &[u8]) -> Result<Vec<&'static str>, String> {
    let image = decode(jpeg)?;
    let today = Date::today_utc().ok_or("the clock gives no date")?;
    let report = engine
        .documents
        .read(&engine.faces, &image, None, today)
        .map_err(|e| e.to_string())?;
    Ok(report.reasons.iter().map(|r| r.as_str()).collect())
}

/// The device's own run of the engine ([`Engines::judge`], as the app's), on exactly what
/// it uploads: against the ID's portrait when an ID is sent, else (a returning user) with
/// the comparison left to the server. `seen`: what a server keeps of captures already
/// sent (as `LivenessReport::frames` gives it), against which the replay check judges
/// this one.
pub fn device_run(
    engine: &Engines,
    id_jpeg: Option<&[u8]>,
    frames: &[(Vec<u8>, u64)],
    challenge: &[String],
    seen: &[SeenSession],
) -> Result<Verification, String> {
    let actions = challenge
        .iter()
        .map(|a| a.parse::<Action>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let selfies: Vec<(&[u8], u64)> = frames.iter().map(|(b, t)| (b.as_slice(), *t)).collect();
    engine
        .judge(&Evidence {
            id_front: id_jpeg,
            id_back: None,
            selfies: &selfies,
            challenge: &actions,
            light: None,
            reference: if id_jpeg.is_some() {
                Reference::IdPortrait
            } else {
                Reference::HeldByServer
            },
            seen,
            today: Date::today_utc().ok_or("the clock gives no date")?,
        })
        .map_err(|e| e.to_string())
}

/// Evidence items as the app names them: `id_front`, then `selfie_00`, `selfie_01`, ...
pub fn evidence(id_jpeg: Option<&[u8]>, frames: &[(Vec<u8>, u64)]) -> Vec<EvidenceFile> {
    let mut out = Vec::new();
    if let Some(id) = id_jpeg {
        out.push(EvidenceFile {
            name: "id_front".into(),
            t_ms: None,
            data: id.to_vec(),
        });
    }
    for (i, (bytes, t)) in frames.iter().enumerate() {
        out.push(EvidenceFile {
            name: format!("selfie_{i:02}"),
            t_ms: Some(*t),
            data: bytes.clone(),
        });
    }
    out
}

/// The items as the attestation request's `evidence` array carries them (JSON the attacks
/// may change before sending).
pub fn evidence_json(items: &[EvidenceFile]) -> Vec<Value> {
    items
        .iter()
        .map(|e| serde_json::to_value(e.to_wire()).unwrap_or(Value::Null))
        .collect()
}
