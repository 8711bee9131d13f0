//! The uploaded evidence: decoded, and checked byte for byte against the digests the
//! attestation signed, before anything is judged. Bad input is refused here with a 4xx,
//! and changes nothing.

use std::collections::{BTreeMap, HashSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reclaim_protocol::wire::evidence::{EvidenceItem, EvidenceName};
use reclaim_protocol::{AttestationClaims, Code};
use reclaim_verify::capture::{check_capture, CaptureBytes, CAPTURE_LIMITS};
use reclaim_verify::face::embedder::EMBEDDING_DIM;
use reclaim_verify::face::FaceEmbedding;
use reclaim_verify::CaptureError;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Most selfie frames one attestation may carry (the engine's capture limits are the same).
pub use reclaim_protocol::wire::limits::MAX_SELFIE_FRAMES;

/// The evidence of one attestation, decoded from the request (the engine reads it as a
/// [`reclaim_verify::Evidence`]).
pub struct UploadedEvidence {
    pub id_front: Option<Vec<u8>>,
    pub id_back: Option<Vec<u8>>,
    /// Frame bytes and capture time, in order.
    pub selfies: Vec<(Vec<u8>, u64)>,
}

impl UploadedEvidence {
    /// The pieces in the upload's order, each named as the app named it, with its capture
    /// time (selfie frames) and its bytes, so a reviewer sees them as the app sent them.
    pub fn pieces(&self) -> Vec<(String, Option<u64>, &[u8])> {
        let mut pieces = vec![];
        if let Some(b) = &self.id_front {
            pieces.push((EvidenceName::IdFront.to_string(), None, b.as_slice()));
        }
        if let Some(b) = &self.id_back {
            pieces.push((EvidenceName::IdBack.to_string(), None, b.as_slice()));
        }
        for (i, (b, t)) in (0u16..).zip(&self.selfies) {
            pieces.push((EvidenceName::Selfie(i).to_string(), Some(*t), b.as_slice()));
        }
        pieces
    }

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

/// Decodes and checks the evidence against the attested digests.
pub fn evidence_of(
    claims: &AttestationClaims,
    items: Vec<EvidenceItem>,
    required: bool,
) -> Result<Option<UploadedEvidence>, ApiError> {
    let attested: BTreeMap<&str, &str> = claims
        .evidence
        .iter()
        .map(|e| (e.name.as_str(), e.sha256.as_str()))
        .collect();
    if attested.len() != claims.evidence.len() {
        return Err(ApiError::new(
            Code::EvidenceInvalid,
            "the attestation names a piece of evidence twice",
        ));
    }
    if items.is_empty() {
        if required {
            return Err(ApiError::new(
                Code::EvidenceRequired,
                "this device must upload its evidence (the ID photos and selfie frames) with the attestation",
            ));
        }
        return Ok(None);
    }
    if items.len() != attested.len() {
        return Err(ApiError::new(
            Code::EvidenceDigestMismatch,
            "the uploaded evidence is not exactly the evidence the attestation lists",
        ));
    }
    let mut evidence = UploadedEvidence {
        id_front: None,
        id_back: None,
        selfies: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut selfies: Vec<(u16, Vec<u8>, u64)> = Vec::new();
    for item in items {
        if !seen.insert(item.name.clone()) {
            return Err(ApiError::new(
                Code::EvidenceInvalid,
                "a piece of evidence is uploaded twice",
            ));
        }
        let bytes = STANDARD.decode(item.data.as_bytes()).map_err(|_| {
            ApiError::new(
                Code::EvidenceInvalid,
                format!("{}: not base64", short_name(&item.name)),
            )
        })?;
        let digest = hex::encode(Sha256::digest(&bytes));
        match attested.get(item.name.as_str()) {
            Some(d) if d.eq_ignore_ascii_case(&digest) => {}
            _ => {
                return Err(ApiError::new(
                    Code::EvidenceDigestMismatch,
                    format!(
                        "{}: its SHA-256 is not the one the attestation signed",
                        short_name(&item.name)
                    ),
                ))
            }
        }
        match EvidenceName::parse(&item.name) {
            Some(EvidenceName::IdFront) => evidence.id_front = Some(bytes),
            Some(EvidenceName::IdBack) => evidence.id_back = Some(bytes),
            Some(EvidenceName::Selfie(n)) => {
                let t = item.t_ms.ok_or_else(|| {
                    ApiError::new(
                        Code::EvidenceInvalid,
                        format!("{}: a selfie frame needs t_ms", item.name),
                    )
                })?;
                selfies.push((n, bytes, t));
            }
            None => {
                return Err(ApiError::new(
                    Code::EvidenceInvalid,
                    format!("{}: not a known piece of evidence", short_name(&item.name)),
                ))
            }
        }
    }
    if selfies.len() > MAX_SELFIE_FRAMES {
        return Err(ApiError::new(
            Code::EvidenceInvalid,
            format!("at most {MAX_SELFIE_FRAMES} selfie frames"),
        ));
    }
    selfies.sort_by_key(|s| s.0);
    if selfies.windows(2).any(|w| w[1].2 < w[0].2) {
        return Err(ApiError::new(
            Code::EvidenceInvalid,
            "selfie frame times go backwards",
        ));
    }
    evidence.selfies = selfies.into_iter().map(|(_, b, t)| (b, t)).collect();
    // Every image's declared size, and the whole capture's, before anything is decoded or
    // queued: 160 KB of PNG can declare 147 MB of pixels. Bad input, not a failed person.
    evidence.check_headers().map_err(|(code, message)| {
        tracing::warn!(
            code = code.as_str(),
            "evidence refused from its image headers"
        );
        ApiError::new(code, message)
    })?;
    Ok(Some(evidence))
}

fn short_name(name: &str) -> String {
    name.chars().take(32).collect()
}

/// A managed device's face embedding as its claims carry it (base64 of little-endian
/// `f32`s); `None` when it is not one.
pub fn embedding_of(text: &str) -> Option<FaceEmbedding> {
    let bytes = STANDARD.decode(text).ok()?;
    if bytes.len() != EMBEDDING_DIM * 4 {
        return None;
    }
    let values = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    FaceEmbedding::from_raw(values)
}
