//! Live guidance: what the person in front of the camera should do now. It runs the
//! engine's cheap parts on the newest frame (face detection, alignment and the quality
//! checks; no embedding) and the document reader on a card, and turns what they find
//! into prompt and quality codes the UI translates.

use std::time::Instant;

use image::RgbImage;
use reclaim_document::{Date, DocumentKind};
use reclaim_protocol::Code;
use reclaim_verify::document::{DocumentReader, DocumentReport};
use reclaim_verify::face::align_face;
use reclaim_verify::quality::{assess, people_in_view};
use reclaim_verify::FaceEngine;
use serde::Serialize;

use crate::error::{ClientError, Result};

/// What the UI shows over the preview.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Guidance {
    /// Quality codes now (`no_face`, `too_dark`, `mrz_unreadable`...).
    pub codes: Vec<Code>,
    /// The main face, normalised to the frame: x, y, width, height.
    pub face_box: Option<[f32; 4]>,
    /// What to do now (`turn_left`, `hold_card`...).
    pub prompt: Option<String>,
    /// Document: readable, so it can be captured.
    pub ready: bool,
    pub mrz_readable: bool,
    /// Selfie: share of the challenge done, 0 to 1.
    pub progress: f32,
    /// Selfie: recorded; scan: code found.
    pub done: bool,
    /// Analysis time of the last analysed frame.
    pub frame_ms: f64,
}

/// One frame's face, as guidance sees it.
#[derive(Debug, Clone, Default)]
pub struct FaceLook {
    pub codes: Vec<Code>,
    pub face_box: Option<[f32; 4]>,
    /// Head pose in degrees, when a face was found and aligned.
    pub yaw: Option<f32>,
    pub pitch: Option<f32>,
    pub ms: f64,
}

/// Detection and quality on one frame: the part of the engine fast enough for every
/// frame the preview can analyse.
pub fn look_at_face(engine: &FaceEngine, frame: &RgbImage) -> Result<FaceLook> {
    let started = Instant::now();
    let faces = engine
        .detector()
        .detect(frame)
        .map_err(|e| ClientError::EngineUnavailable(e.to_string()))?;
    let mut look = FaceLook::default();
    let Some((main_index, main)) = faces
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| a.width().total_cmp(&b.width()))
        .map(|(i, face)| (i, *face))
    else {
        look.codes.push(Code::NoFace);
        look.ms = started.elapsed().as_secs_f64() * 1e3;
        return Ok(look);
    };
    let policy = engine.quality_policy();
    if people_in_view(frame, &faces, main_index, policy) > 1 {
        look.codes.push(Code::MultipleFaces);
    }
    let (w, h) = (frame.width() as f32, frame.height() as f32);
    let [x, y, bw, bh] = main.bbox;
    look.face_box = Some([x / w, y / h, bw / w, bh / h]);
    if let Some(aligned) = align_face(frame, &main.landmarks) {
        let quality = assess(frame.dimensions(), &main, &aligned, policy);
        look.yaw = Some(quality.yaw_deg);
        look.pitch = Some(quality.pitch_deg);
        look.codes.extend(quality.issues.iter().map(|r| r.code()));
    } else {
        look.codes.push(Code::NoFace);
    }
    look.ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(look)
}

/// A card held up to the camera, as guidance sees it.
#[derive(Debug, Clone)]
pub struct CardLook {
    pub guidance: Guidance,
    /// Nothing machine-readable on this side, but a portrait: the reading is on the back.
    pub needs_back: bool,
    pub report: Option<DocumentReport>,
}

/// Reads the document on `front` (with `back` when given) and says whether it can be
/// captured: read with every check passed, or (a card's front) a portrait whose
/// machine-readable zone is on the back.
pub fn look_at_card(
    faces: &FaceEngine,
    reader: &DocumentReader,
    front: &RgbImage,
    back: Option<&RgbImage>,
    today: Date,
) -> Result<CardLook> {
    let started = Instant::now();
    let report = reader
        .read(faces, front, back, today)
        .map_err(|e| ClientError::EngineUnavailable(e.to_string()))?;
    let mut guidance = Guidance {
        prompt: Some("hold_card".into()),
        ..Guidance::default()
    };
    guidance.mrz_readable = report
        .mrz
        .as_ref()
        .is_some_and(|m| m.field_errors.is_empty())
        && report.check_digits.iter().all(|c| c.valid);
    let has_portrait = report.portrait.is_some();
    let read = report.kind != DocumentKind::Unknown;
    let needs_back = back.is_none() && !read && has_portrait;
    guidance.ready = (read && report.passed()) || needs_back;
    if !guidance.ready {
        if !read && !has_portrait {
            guidance.codes.push(Code::CardNotFound);
        } else {
            guidance
                .codes
                .extend(report.reasons.iter().map(|r| r.code()));
        }
        if !guidance.mrz_readable && !guidance.codes.contains(&Code::MrzUnreadable) {
            guidance.codes.push(Code::MrzUnreadable);
        }
    }
    guidance.frame_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(CardLook {
        guidance,
        needs_back,
        report: Some(report),
    })
}
