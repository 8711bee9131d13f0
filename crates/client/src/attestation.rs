//! The signed statement the app sends: what the on-device engine found, on exactly the
//! evidence uploaded with it (each piece's SHA-256 is in the claims).

use std::collections::BTreeMap;

use base64::Engine;
use reclaim_protocol::{
    AttestationClaims, AttestedDocument, Camera, EvidenceDigest, RecoveryAction, ResultScore,
    PROTOCOL_VERSION,
};
use reclaim_verify::verifier::Verification;
use sha2::{Digest, Sha256};

use crate::api::EvidenceFile;
use crate::error::{ClientError, Result};
use crate::frames::CameraInfo;
use crate::keystore::DeviceSigner;

/// How long an attestation is good for after it is signed.
const LIFETIME_S: u64 = 120;

/// What is attested, besides the engine's result.
pub struct AttestationInput<'a> {
    pub audience: &'a str,
    pub session: &'a str,
    pub nonce: &'a str,
    pub user: &'a str,
    pub action: RecoveryAction,
    pub camera: &'a CameraInfo,
    pub models: BTreeMap<String, String>,
    pub evidence: &'a [EvidenceFile],
    /// A returning user's selfie is compared with the server's template: the selfie's
    /// embedding goes in the claims.
    pub returning: bool,
}

/// The claims for `verification`, signed with `key` (in software or inside the TPM; the
/// token's algorithm is the key's).
pub fn attest(
    input: &AttestationInput<'_>,
    verification: &Verification,
    key: &DeviceSigner,
) -> Result<String> {
    let claims = claims(input, verification)?;
    key.sign(&claims)
}

pub fn claims(
    input: &AttestationInput<'_>,
    verification: &Verification,
) -> Result<AttestationClaims> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ClientError::Input("the clock is before 1970".into()))?
        .as_secs();
    let document = verification.document.as_ref().map(|d| AttestedDocument {
        kind: format!("{:?}", d.kind).to_lowercase(),
        surname: d.fields.surname.clone().unwrap_or_default(),
        given_names: d.fields.given_names.clone().unwrap_or_default(),
        names_truncated: d.mrz.as_ref().is_some_and(|m| m.names_truncated),
        birth_date: d.fields.birth_date.map(|x| x.to_string()),
        expiry_date: d.fields.expiry_date.map(|x| x.to_string()),
        checks_passed: d.passed(),
    });
    let face_embedding = if input.returning {
        verification.selfie_embedding.as_ref().map(|e| {
            let bytes: Vec<u8> = e.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
            base64::engine::general_purpose::STANDARD.encode(bytes)
        })
    } else {
        None
    };
    Ok(AttestationClaims {
        ver: PROTOCOL_VERSION,
        iss: String::new(),
        aud: input.audience.to_string(),
        iat: now,
        exp: now + LIFETIME_S,
        session: input.session.to_string(),
        nonce: input.nonce.to_string(),
        user: input.user.to_string(),
        action: input.action,
        decision: verification.decision,
        reasons: verification.reasons.iter().map(|r| r.to_string()).collect(),
        results: verification
            .face_match
            .iter()
            .map(|m| ResultScore {
                name: "face_match".into(),
                score: f64::from(m.score.unwrap_or(0.0)),
                threshold: f64::from(m.threshold),
                rule: "at_least".into(),
                passed: m.same_person,
            })
            .collect(),
        models: input.models.clone(),
        app_version: concat!("reclaim-app ", env!("CARGO_PKG_VERSION")).to_string(),
        camera: Camera {
            name: input.camera.name.chars().take(128).collect(),
            backend: input.camera.backend.clone(),
            virtual_device: input.camera.virtual_device,
            file_backed: input.camera.file_backed,
        },
        timings_ms: [("total".to_string(), verification.timings_ms.total)]
            .into_iter()
            .collect(),
        evidence: input
            .evidence
            .iter()
            .map(|e| EvidenceDigest {
                name: e.name.clone(),
                sha256: hex::encode(Sha256::digest(&e.data)),
            })
            .collect(),
        document,
        face_embedding,
    })
}
