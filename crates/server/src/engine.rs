//! Re-verification: the same engine the app runs ([`reclaim_verify::Engines::judge`]), run
//! again on the uploaded evidence.
//!
//! For a device the server does not manage, this run, not the device's, decides: a
//! patched app can sign anything, but it cannot make the server's own engine see a live
//! face that matches the ID.

use reclaim_protocol::Code;
use std::collections::BTreeMap;

use reclaim_verify::capture::{check_capture, CaptureBytes, CAPTURE_LIMITS};
use reclaim_verify::models::shipped_digests;
use reclaim_verify::CaptureError;

/// The evidence of one attestation, decoded from the request.
pub struct Evidence {
    pub id_front: Option<Vec<u8>>,
    pub id_back: Option<Vec<u8>>,
    /// Frame bytes and capture time, in order.
    pub selfies: Vec<(Vec<u8>, u64)>,
}

impl Evidence {
    /// Checks every uploaded piece against the capture limits from its header alone
    /// (`reclaim_verify::capture`): the frame count, each frame within 4K, 120 megapixels
    /// of frames, ID photos within 50 megapixels, the memory decoding all of it takes, a
    /// JPEG's structure whole. Nothing is decoded; a refusal is the client's bad input
    /// (`image_too_large`, `capture_too_large`, `image_corrupt`, ...), with a sentence.
    pub fn check_headers(&self) -> Result<(), (Code, String)> {
        let capture = CaptureBytes {
            id_front: self.id_front.as_deref(),
            id_back: self.id_back.as_deref(),
            selfies: self.selfies.iter().map(|(b, _)| b.as_slice()).collect(),
        };
        check_capture(&capture, &CAPTURE_LIMITS)
            .map(|_| ())
            .map_err(|e: CaptureError| (e.code(), e.to_string()))
    }

    /// Each selfie frame's bytes and time, as the engine takes them.
    pub fn selfie_pieces(&self) -> Vec<(&[u8], u64)> {
        self.selfies
            .iter()
            .map(|(b, t)| (b.as_slice(), *t))
            .collect()
    }
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
