//! Re-verification: the same engine the app runs, run again on the uploaded evidence.
//!
//! For a device the server does not manage, this run, not the device's, decides: a
//! patched app can sign anything, but it cannot make the server's own engine see a live
//! face that matches the ID.

use reclaim_protocol::Code;
use std::collections::BTreeMap;
use std::path::Path;

use reclaim_document::Date;
use reclaim_verify::capture::{check_capture, decode_capture, CaptureBytes, CAPTURE_LIMITS};
use reclaim_verify::decision::{load_engines, Verification, Verifier, VerifyRequest};
use reclaim_verify::document::DocumentReader;
use reclaim_verify::liveness::{Action, LivenessPolicy, TimedFrame};
use reclaim_verify::models::shipped_digests;
use reclaim_verify::template::FaceTemplate;
use reclaim_verify::{CaptureError, FaceEngine};

pub struct ServerEngine {
    pub faces: FaceEngine,
    pub documents: DocumentReader,
}

/// The evidence of one attestation, decoded from the request.
pub struct Evidence {
    pub id_front: Option<Vec<u8>>,
    pub id_back: Option<Vec<u8>>,
    /// Frame bytes and capture time, in order.
    pub selfies: Vec<(Vec<u8>, u64)>,
}

impl Evidence {
    /// The pieces the engine decodes: the ID photos only `with_document`.
    fn capture(&self, with_document: bool) -> CaptureBytes<'_> {
        CaptureBytes {
            id_front: self.id_front.as_deref().filter(|_| with_document),
            id_back: self.id_back.as_deref().filter(|_| with_document),
            selfies: self.selfies.iter().map(|(b, _)| b.as_slice()).collect(),
        }
    }

    /// Checks every uploaded piece against the capture limits from its header alone
    /// (`reclaim_verify::capture`): the frame count, each frame within 4K, 120 megapixels
    /// of frames, ID photos within 50 megapixels, the memory decoding all of it takes, a
    /// JPEG's structure whole. Nothing is decoded; a refusal is the client's bad input
    /// (`image_too_large`, `capture_too_large`, `image_corrupt`, ...), with a sentence.
    pub fn check_headers(&self) -> Result<(), (Code, String)> {
        check_capture(&self.capture(true), &CAPTURE_LIMITS)
            .map(|_| ())
            .map_err(refusal)
    }
}

fn refusal(e: CaptureError) -> (Code, String) {
    (e.code(), e.to_string())
}

/// Model role to SHA-256, as the manifest compiled into this build says.
pub fn shipped_model_digests() -> Result<BTreeMap<String, String>, String> {
    shipped_digests().map_err(|e| e.to_string())
}

/// The digest templates are bound to: the face embedder's.
pub fn template_model() -> Result<String, String> {
    shipped_model_digests()?
        .remove("face_embedder")
        .ok_or_else(|| "the manifest has no face_embedder".to_string())
}

impl ServerEngine {
    pub fn load(models_dir: Option<&Path>) -> Result<ServerEngine, String> {
        let (faces, documents) = load_engines(models_dir).map_err(|e| e.to_string())?;
        Ok(ServerEngine { faces, documents })
    }

    /// Runs the whole decision on `evidence`, with its ID photos when `with_document` (a
    /// returning user's session judges the selfie alone, whatever else was uploaded).
    /// `Err` holds a stable code and a sentence (undecodable image, engine failure): the
    /// evidence is bad input, not a person who failed.
    pub fn reverify(
        &self,
        evidence: &Evidence,
        with_document: bool,
        challenge: &[Action],
        enrolled: Option<&FaceTemplate>,
        seen_hashes: &[reclaim_verify::liveness::replay::SeenSession],
    ) -> Result<Verification, (Code, String)> {
        // The whole capture's headers are checked before any of it is decoded, and each
        // decoder is held to what its header declared: one judgement's memory is bounded
        // by `CAPTURE_LIMITS.decode_budget_bytes` whatever was uploaded.
        let decoded =
            decode_capture(&evidence.capture(with_document), &CAPTURE_LIMITS).map_err(refusal)?;
        let id_front = decoded.id_front.map(|i| i.rgb);
        let id_back = decoded.id_back.map(|i| i.rgb);
        let selfies: Vec<_> = decoded
            .selfies
            .into_iter()
            .zip(&evidence.selfies)
            .map(|(image, (_, t))| (image.rgb, *t))
            .collect();
        let frames: Vec<TimedFrame> = selfies
            .iter()
            .map(|(image, t)| TimedFrame {
                image,
                timestamp_ms: *t,
            })
            .collect();
        let today =
            Date::today_utc().ok_or((Code::ClockInvalid, "the clock gives no date".to_string()))?;
        let verifier = Verifier {
            faces: &self.faces,
            documents: Some(&self.documents),
            liveness: LivenessPolicy::default(),
            passive: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
        };
        verifier
            .verify(&VerifyRequest {
                id_front: id_front.as_ref(),
                id_back: id_back.as_ref(),
                enrolled,
                selfies: &frames,
                challenge,
                seen_hashes,
                skip_liveness: false,
                today,
            })
            .map_err(|e| (e.code(), e.to_string()))
    }
}
