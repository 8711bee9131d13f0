//! Re-verification: the same engine the app runs, run again on the uploaded evidence.
//!
//! For a device the server does not manage, this run, not the device's, decides: a
//! patched app can sign anything, but it cannot make the server's own engine see a live
//! face that matches the ID.

use std::collections::BTreeMap;
use std::path::Path;

use reclaim_document::Date;
use reclaim_verify::decision::{load_engines, Verification, Verifier, VerifyRequest};
use reclaim_verify::document::DocumentReader;
use reclaim_verify::liveness::{Action, LivenessPolicy, TimedFrame};
use reclaim_verify::models::shipped_digests;
use reclaim_verify::template::FaceTemplate;
use reclaim_verify::{load_image_bytes, FaceEngine, ImageLimits};

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
        seen_hashes: &[u64],
    ) -> Result<Verification, (&'static str, String)> {
        let limits = ImageLimits::default();
        let decode = |bytes: &Vec<u8>, what: &str| {
            load_image_bytes(bytes, &limits)
                .map(|i| i.rgb)
                .map_err(|e| (e.code(), format!("{what}: {e}")))
        };
        let id_front = evidence
            .id_front
            .as_ref()
            .filter(|_| with_document)
            .map(|b| decode(b, "id_front"))
            .transpose()?;
        let id_back = evidence
            .id_back
            .as_ref()
            .filter(|_| with_document)
            .map(|b| decode(b, "id_back"))
            .transpose()?;
        let mut selfies = Vec::with_capacity(evidence.selfies.len());
        for (i, (bytes, t)) in evidence.selfies.iter().enumerate() {
            selfies.push((decode(bytes, &format!("selfie {i}"))?, *t));
        }
        let frames: Vec<TimedFrame> = selfies
            .iter()
            .map(|(image, t)| TimedFrame {
                image,
                timestamp_ms: *t,
            })
            .collect();
        let today =
            Date::today_utc().ok_or(("clock_invalid", "the clock gives no date".to_string()))?;
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
