//! The one entry that judges a piece of evidence: the app before it sends it, the server
//! when it re-verifies it, the command line's demo and lab all call [`Engines::judge`].
//!
//! Evidence arrives as it travels (encoded images and capture times), so every caller
//! decodes it the same way, within [`CAPTURE_LIMITS`]: a capture the server would refuse
//! is refused on the device first, and a device's run predicts the server's.

use std::collections::BTreeMap;
use std::path::Path;

use reclaim_document::Date;
use reclaim_protocol::LightSequence;

use crate::capture::{decode_capture, CaptureBytes, CAPTURE_LIMITS};
use crate::document::DocumentReader;
use crate::engine::FaceEngine;
use crate::error::VerifyError;
use crate::liveness::replay::SeenSession;
use crate::liveness::{Action, LivenessPolicy, TimedFrame};
use crate::models::shipped_digests;
use crate::template::FaceTemplate;
use crate::verifier::{load_engines, Verification, VerificationError, Verifier, VerifyRequest};

/// What the selfie's face is compared with.
#[derive(Debug, Clone, Copy)]
pub enum Reference<'a> {
    /// The portrait on the ID photos of the evidence (a first-time verification).
    IdPortrait,
    /// A returning user's enrolled template.
    Template(&'a FaceTemplate),
    /// A returning user's template, which only the server holds: the run judges the
    /// capture and liveness, and the comparison is the server's. Not a pass on the face:
    /// the server refuses a returning user whose template it cannot compare.
    HeldByServer,
    /// Nothing to compare with (a returning user whose template is gone): judged, and
    /// refused as `reference_missing`, never passed by omission.
    Missing,
}

/// One piece of evidence as it travels.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    pub id_front: Option<&'a [u8]>,
    pub id_back: Option<&'a [u8]>,
    /// Each selfie frame's encoded bytes and capture time (milliseconds).
    pub selfies: &'a [(&'a [u8], u64)],
    pub challenge: &'a [Action],
    /// The screen colours the session drew, when it drew any.
    pub light: Option<&'a LightSequence>,
    pub reference: Reference<'a>,
    /// What this user's earlier sessions left (`liveness::replay`).
    pub seen: &'a [SeenSession],
    /// The date document expiry is judged against.
    pub today: Date,
}

/// The face engine and the document reader, loaded once, with the digests of the models
/// they run (for the attestation and the template's binding).
pub struct Engines {
    pub faces: FaceEngine,
    pub documents: DocumentReader,
    /// Model role to SHA-256, as the manifest compiled into this build says.
    pub digests: BTreeMap<String, String>,
}

impl Engines {
    /// The models in `models_dir`, or where the install put them, digest-checked.
    pub fn load(models_dir: Option<&Path>) -> Result<Engines, VerifyError> {
        let (faces, documents) = load_engines(models_dir)?;
        Ok(Engines {
            faces,
            documents,
            digests: shipped_digests()?,
        })
    }

    /// Judges `evidence`. An `Err` is evidence that cannot be judged (an image that does
    /// not decode within the limits, frames out of order) or an engine fault; a person
    /// who fails a check gets `Ok` with the reasons.
    pub fn judge(&self, evidence: &Evidence<'_>) -> Result<Verification, VerificationError> {
        let with_document = matches!(evidence.reference, Reference::IdPortrait);
        let capture = CaptureBytes {
            id_front: evidence.id_front.filter(|_| with_document),
            id_back: evidence.id_back.filter(|_| with_document),
            selfies: evidence.selfies.iter().map(|(bytes, _)| *bytes).collect(),
        };
        // The whole capture's headers are checked before any of it is decoded, and each
        // decoder is held to what its header declared: one judgement's memory is bounded
        // by `CAPTURE_LIMITS.decode_budget_bytes` whatever was uploaded.
        let decoded = decode_capture(&capture, &CAPTURE_LIMITS)?;
        let id_front = decoded.id_front.map(|i| i.rgb);
        let id_back = decoded.id_back.map(|i| i.rgb);
        let selfies: Vec<_> = decoded.selfies.into_iter().map(|i| i.rgb).collect();
        let frames: Vec<TimedFrame> = selfies
            .iter()
            .zip(evidence.selfies)
            .map(|(image, (_, t))| TimedFrame {
                image,
                timestamp_ms: *t,
            })
            .collect();
        let verifier = Verifier {
            faces: &self.faces,
            documents: Some(&self.documents),
            liveness: LivenessPolicy::default(),
            passive: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
        };
        verifier.verify(&VerifyRequest {
            id_front: id_front.as_ref(),
            id_back: id_back.as_ref(),
            enrolled: match evidence.reference {
                Reference::Template(t) => Some(t),
                _ => None,
            },
            reference_held_by_server: matches!(evidence.reference, Reference::HeldByServer),
            selfies: &frames,
            challenge: evidence.challenge,
            light: evidence.light,
            seen_hashes: evidence.seen,
            skip_liveness: false,
            today: evidence.today,
        })
    }
}
