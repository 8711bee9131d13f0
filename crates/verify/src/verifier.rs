//! The whole on-device verification: the document, the face on it (or an enrolled
//! template) against the selfie, capture quality and liveness, as one verdict
//! ([`DeviceVerdict`]) with every reason. `reclaim verify`, the app and the server's
//! re-run of uploaded evidence all call it, so they cannot disagree on what the
//! thresholds mean.
//!
//! Every part fails closed: a part that could not be judged is a reason to reject, never
//! a pass by omission.

use reclaim_protocol::{Code, LightSequence};
use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use reclaim_document::Date;
use serde::Serialize;

use crate::document::{DocumentReader, DocumentReport, Side};
use crate::engine::{EngineOptions, FaceEngine};
use crate::error::VerifyError;
use crate::face::{align_face, FaceEmbedding};
use crate::liveness::replay::SeenSession;
use crate::liveness::{
    evaluate_seen, observe_all_with, Action, FrameObservation, LivenessError, LivenessPolicy,
    LivenessReport, PassiveModel, TimedFrame,
};
use crate::models::ModelStore;
use crate::reasons::ReasonCode;
use crate::template::FaceTemplate;

/// The face engine and the document reader from the models in `models_dir` (or where
/// the install put them), prepared side by side: what the server and the app both run.
pub fn load_engines(
    models_dir: Option<&Path>,
) -> std::result::Result<(FaceEngine, DocumentReader), VerifyError> {
    let store = models_dir.map_or_else(ModelStore::discover, ModelStore::in_dir);
    let options = EngineOptions {
        models: store.clone(),
        ..EngineOptions::default()
    };
    let (faces, documents) = std::thread::scope(|scope| {
        let documents = scope.spawn(|| DocumentReader::load(&store, 1));
        let faces = FaceEngine::load(options);
        let documents = documents.join().unwrap_or_else(|_| {
            Err(VerifyError::ModelInvalid {
                name: "document reader".into(),
                reason: "its loading thread panicked".into(),
            })
        });
        (faces, documents)
    });
    Ok((faces?, documents?))
}

/// Why a verification could not be judged at all: bad input (frames, challenge) or an
/// engine failure. A person who fails a check is not an error.
#[derive(Debug, thiserror::Error)]
pub enum VerificationError {
    /// Evidence whose images do not decode within the capture limits.
    #[error(transparent)]
    Capture(#[from] crate::capture::CaptureError),
    #[error(transparent)]
    Engine(#[from] VerifyError),
    #[error(transparent)]
    Liveness(#[from] LivenessError),
}

impl VerificationError {
    pub fn code(&self) -> Code {
        match self {
            VerificationError::Capture(e) => e.code(),
            VerificationError::Engine(e) => e.code(),
            VerificationError::Liveness(e) => e.code(),
        }
    }
}

type Result<T> = std::result::Result<T, VerificationError>;

/// What is verified, with what.
pub struct VerifyRequest<'a> {
    pub id_front: Option<&'a RgbImage>,
    pub id_back: Option<&'a RgbImage>,
    /// A returning user's template, instead of (or besides) the ID portrait.
    pub enrolled: Option<&'a FaceTemplate>,
    /// A returning user whose template only the server holds: no reference here is no
    /// reason, the comparison being the server's (`judge::Reference::HeldByServer`).
    pub reference_held_by_server: bool,
    pub selfies: &'a [TimedFrame<'a>],
    pub challenge: &'a [Action],
    /// The screen colours shown while the selfie was recorded, when the session drew any.
    pub light: Option<&'a LightSequence>,
    /// What this user's earlier sessions left with the backend: per session, each frame's
    /// face hash and motion (see `liveness::replay`).
    pub seen_hashes: &'a [SeenSession],
    /// Testing face match alone: liveness is not judged and the result says so.
    pub skip_liveness: bool,
    pub today: Date,
}

/// The engine's conclusion, as the attestation carries it.
pub use reclaim_protocol::DeviceVerdict;

/// What the selfie's face was compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchReference {
    IdPortrait,
    EnrolledTemplate,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaceMatchReport {
    pub against: MatchReference,
    /// Cosine similarity; absent when either face could not be had.
    pub score: Option<f32>,
    pub threshold: f32,
    pub same_person: bool,
    /// The selfie frame that was compared (the most frontal usable one).
    pub selfie_frame: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LivenessOutcome {
    /// True only under `--skip-liveness`: nothing here proves a live person.
    pub skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    #[serde(flatten)]
    pub report: Option<LivenessReport>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyTimings {
    pub document: f64,
    pub selfies: f64,
    pub liveness: f64,
    pub face_match: f64,
    pub total: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub decision: DeviceVerdict,
    /// Stable codes of every reason to reject, from every part; empty when verified.
    pub reasons: Vec<Code>,
    pub face_match: Vec<FaceMatchReport>,
    pub liveness: LivenessOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentReport>,
    pub timings_ms: VerifyTimings,
    /// The embedding of the selfie frame that was compared, for enrolling a returning
    /// user's template. Biometric: never serialised.
    #[serde(skip)]
    pub selfie_embedding: Option<FaceEmbedding>,
}

/// The engine parts a verification needs, prepared once.
pub struct Verifier<'e> {
    pub faces: &'e FaceEngine,
    /// Needed when an ID is given.
    pub documents: Option<&'e DocumentReader>,
    pub liveness: LivenessPolicy,
    /// The operator's passive anti-spoof model, if one is configured; its threshold comes
    /// from its configuration.
    pub passive: Option<&'e PassiveModel>,
    /// Threads for the selfie frames.
    pub threads: usize,
}

impl Verifier<'_> {
    /// Judges `request`. Errors are input or engine failures (exit 2 at the command
    /// line); a person who fails a check gets `Ok` with `decision: rejected`.
    pub fn verify(&self, request: &VerifyRequest) -> Result<Verification> {
        let started = Instant::now();
        let mut timings = VerifyTimings::default();
        let mut reasons: Vec<Code> = Vec::new();

        // The document and the selfie frames are independent: read them side by side.
        let (document, observations) = std::thread::scope(|s| {
            let document = s.spawn(|| -> Result<Option<(DocumentReport, f64)>> {
                let (Some(front), Some(reader)) = (request.id_front, self.documents) else {
                    return Ok(None);
                };
                let t = Instant::now();
                let report = reader.read(self.faces, front, request.id_back, request.today)?;
                Ok(Some((report, ms(t))))
            });
            let t = Instant::now();
            let observations = observe_all_with(
                self.faces,
                self.passive,
                request.selfies,
                self.threads.max(1),
            );
            let selfie_ms = ms(t);
            let document = document.join().unwrap_or_else(|_| {
                Err(VerifyError::Inference {
                    model: "document".into(),
                    reason: "the document reader panicked".into(),
                }
                .into())
            });
            (document, observations.map(|o| (o, selfie_ms)))
        });
        let document = document?;
        let (observations, selfie_ms) = observations?;
        timings.selfies = selfie_ms;
        if request.id_front.is_some() && document.is_none() {
            return Err(VerifyError::ModelInvalid {
                name: "document reader".into(),
                reason: "an ID was given but the document models were not loaded".into(),
            }
            .into());
        }

        let t = Instant::now();
        let best = most_frontal_usable(&observations);
        let selfie_embedding = best.and_then(|i| observations[i].embedding.clone());
        if best.is_none() {
            reasons.push(selfie_problem(&observations));
        }
        let threshold = self.faces.matching().threshold;
        let mut face_match = Vec::new();
        if let Some((report, document_ms)) = &document {
            timings.document = *document_ms;
            reasons.extend(report.reasons.iter().map(|r| r.code()));
            let portrait = self.portrait_embedding(request, report)?;
            face_match.push(judge(
                MatchReference::IdPortrait,
                portrait.as_ref(),
                selfie_embedding.as_ref(),
                best,
                threshold,
            ));
        }
        if let Some(template) = request.enrolled {
            face_match.push(judge(
                MatchReference::EnrolledTemplate,
                Some(&template.embedding),
                selfie_embedding.as_ref(),
                best,
                threshold,
            ));
        }
        if face_match.is_empty() && !request.reference_held_by_server {
            // Nothing to compare with: never verified by default.
            reasons.push(Code::ReferenceMissing);
        }
        // Fail closed: a reference that could not be compared (no portrait, a portrait
        // that would not align, no usable selfie frame) is a reason of its own, never a pass.
        if face_match.iter().any(|m| m.score.is_none()) {
            reasons.push(Code::FaceNotCompared);
        }
        if face_match
            .iter()
            .any(|m| m.score.is_some() && !m.same_person)
        {
            reasons.push(ReasonCode::FaceMismatch.code());
        }
        timings.face_match = ms(t);

        let t = Instant::now();
        let liveness = if request.skip_liveness {
            LivenessOutcome {
                skipped: true,
                note: Some("testing only: liveness was not checked; never accept this result as a verification"),
                report: None,
            }
        } else {
            let mut policy = self.liveness.clone();
            if let Some(model) = self.passive {
                policy.passive_min_live = Some(model.config().min_live_probability);
            }
            let report = evaluate_seen(
                &observations,
                request.challenge,
                request.light,
                request.seen_hashes,
                &policy,
            );
            reasons.extend(report.reasons.iter().map(|r| r.code()));
            LivenessOutcome {
                skipped: false,
                note: None,
                report: Some(report),
            }
        };
        timings.liveness = ms(t);

        let mut seen = std::collections::HashSet::new();
        reasons.retain(|r| seen.insert(*r));
        timings.total = ms(started);
        Ok(Verification {
            decision: if reasons.is_empty() {
                DeviceVerdict::Verified
            } else {
                DeviceVerdict::Rejected
            },
            reasons,
            face_match,
            liveness,
            document: document.map(|(r, _)| r),
            timings_ms: timings,
            selfie_embedding,
        })
    }

    /// The embedding of the document's portrait, from the side it was found on.
    fn portrait_embedding(
        &self,
        request: &VerifyRequest,
        report: &DocumentReport,
    ) -> Result<Option<FaceEmbedding>> {
        let Some(portrait) = &report.portrait else {
            return Ok(None);
        };
        let side = match portrait.side {
            Side::Front => request.id_front,
            Side::Back => request.id_back,
        };
        let Some(aligned) = side.and_then(|img| align_face(img, &portrait.face.landmarks)) else {
            return Ok(None);
        };
        Ok(Some(self.faces.embedder().embed(&aligned)?))
    }
}

fn judge(
    against: MatchReference,
    reference: Option<&FaceEmbedding>,
    selfie: Option<&FaceEmbedding>,
    frame: Option<usize>,
    threshold: f32,
) -> FaceMatchReport {
    let score = match (reference, selfie) {
        (Some(a), Some(b)) => Some(a.cosine(b)),
        _ => None,
    };
    FaceMatchReport {
        against,
        score,
        threshold,
        same_person: score.is_some_and(|s| s >= threshold),
        selfie_frame: frame,
    }
}

/// The selfie frame to compare: one face, no quality issue but pose, smallest head turn.
fn most_frontal_usable(observations: &[FrameObservation]) -> Option<usize> {
    observations
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            o.embedding.is_some()
                && o.faces_found == 1
                && o.issues.iter().all(|r| *r == ReasonCode::PoseOutOfRange)
        })
        .min_by(|(_, a), (_, b)| turn_deg(a).total_cmp(&turn_deg(b)))
        .map(|(i, _)| i)
}

/// Why no selfie frame was usable: the commonest issue of the frames, `no_face` when
/// there were none.
fn selfie_problem(observations: &[FrameObservation]) -> Code {
    let mut counts: std::collections::BTreeMap<ReasonCode, usize> = Default::default();
    for o in observations {
        if o.faces_found == 0 {
            *counts.entry(ReasonCode::NoFace).or_default() += 1;
        } else if o.faces_found > 1 {
            *counts.entry(ReasonCode::MultipleFaces).or_default() += 1;
        }
        for r in &o.issues {
            if *r != ReasonCode::PoseOutOfRange {
                *counts.entry(*r).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or(ReasonCode::NoFace.code(), |(r, _)| r.code())
}

/// How far the head is turned from facing the camera; unknown counts as far.
fn turn_deg(o: &FrameObservation) -> f32 {
    match (o.yaw_deg, o.pitch_deg) {
        (Some(y), Some(p)) if y.is_finite() && p.is_finite() => y.abs() + p.abs(),
        _ => f32::INFINITY,
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
