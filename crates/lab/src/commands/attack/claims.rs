//! What the attacker signs: the claims the app would sign, made to say "verified" whatever
//! was found (the device's word is the attacker's to write), the camera it says it used,
//! and the signed attestation sent with its evidence.

use std::collections::BTreeMap;

use reclaim_client::api::EvidenceFile;
use reclaim_client::attestation::{claims, AttestationInput};
use reclaim_client::frames::CameraInfo;
use reclaim_protocol::{
    sign_attestation_with, AttestationClaims, AttestationSigner, AttestedDocument, DeviceVerdict,
    RecoveryAction,
};
use reclaim_verify::liveness::replay::SeenSession;

use super::session::Started;
use super::{scenes, Attacker, Frames, Step};

/// One attestation an attack sends: for which row and session, and who signs it.
pub(super) struct Attempt<'a> {
    /// The row a grant it obtains is credited to.
    pub(super) row: &'static str,
    /// The step's name in the row.
    pub(super) what: &'a str,
    pub(super) session: &'a Started,
    pub(super) action: RecoveryAction,
    /// `None`: the attacker's own key.
    pub(super) signer: Option<&'a dyn AttestationSigner>,
}

impl<'a> Attempt<'a> {
    /// The usual one: a step called "attestation", signed with the attacker's own key.
    pub(super) fn own(row: &'static str, session: &'a Started, action: RecoveryAction) -> Self {
        Attempt {
            row,
            what: "attestation",
            session,
            action,
            signer: None,
        }
    }
}

/// What the attacker filmed (and printed), and the camera it says filmed it.
pub(super) struct Capture<'a> {
    pub(super) camera: CameraInfo,
    pub(super) id_jpeg: Option<&'a [u8]>,
    pub(super) frames: &'a Frames,
}

impl<'a> Capture<'a> {
    /// The usual one: filmed, it says, by an ordinary laptop camera.
    pub(super) fn webcam(id_jpeg: Option<&'a [u8]>, frames: &'a Frames) -> Self {
        Capture {
            camera: webcam(),
            id_jpeg,
            frames,
        }
    }
}

/// What an ordinary laptop's camera reports.
pub(super) fn webcam() -> CameraInfo {
    CameraInfo {
        name: "Integrated Camera".into(),
        backend: "v4l2".into(),
        virtual_device: false,
        file_backed: false,
    }
}

/// A virtual camera, declared as one.
pub(super) fn virtual_camera() -> CameraInfo {
    CameraInfo {
        name: "OBS Virtual Camera".into(),
        backend: "v4l2".into(),
        virtual_device: true,
        file_backed: false,
    }
}

impl Attacker {
    /// The capture as evidence, with the forged claims of the attacker's own engine run
    /// over it, signed and sent. `Err`: the attacker's side failed and nothing was sent.
    pub(super) async fn send_forged(
        &mut self,
        to: &Attempt<'_>,
        capture: &Capture<'_>,
        note: &mut Vec<String>,
    ) -> Result<Step, Step> {
        let evidence = scenes::evidence(capture.id_jpeg, capture.frames);
        let kept_before = self.sent.len();
        let claims = self.forged_claims(to.session, to.action, capture, &evidence, note);
        let sent = self.sign_and_send(to, claims, &evidence).await;
        // The server trusts what it kept of an approved capture only (SeenSession::doubtful).
        if sent.as_ref().is_ok_and(|s| s.grant) {
            if let Some(kept) = self.sent.get_mut(kept_before) {
                kept.doubtful = false;
            }
        }
        sent
    }

    /// `evidence` with claims of "verified" and no engine run, signed and sent: for
    /// attacks where the evidence is not meant to be judged, or where only the signature
    /// is wrong. `Err`: the attacker's side failed and nothing was sent.
    pub(super) async fn send_claimed(
        &mut self,
        to: &Attempt<'_>,
        evidence: &[EvidenceFile],
    ) -> Result<Step, Step> {
        let claims = self.claims_without_run(to.session, to.action, evidence);
        self.sign_and_send(to, claims, evidence).await
    }

    async fn sign_and_send(
        &mut self,
        to: &Attempt<'_>,
        claims: Result<AttestationClaims, String>,
        evidence: &[EvidenceFile],
    ) -> Result<Step, Step> {
        let signer = to.signer.unwrap_or(&self.key);
        let token = claims
            .and_then(|c| sign_attestation_with(&c, signer).map_err(|e| e.to_string()))
            .map_err(|e| Step::attacker_failed("attestation", &e))?;
        Ok(self
            .send_attestation(to.row, to.what, to.session, to.action, &token, evidence)
            .await)
    }

    /// The claims the app would sign for this evidence, from the attacker's own engine
    /// run, then made to say "verified" whatever the run found: the device's word is the
    /// attacker's to write.
    fn forged_claims(
        &mut self,
        session: &Started,
        action: RecoveryAction,
        capture: &Capture,
        evidence: &[EvidenceFile],
        note: &mut Vec<String>,
    ) -> Result<AttestationClaims, String> {
        let verification = scenes::device_run(
            &self.engine,
            capture.id_jpeg,
            capture.frames,
            &session.challenge,
            &self.sent,
        )?;
        if let Some(report) = &verification.liveness.report {
            // Doubtful, as the server keeps it, until the server approves it (send_forged).
            self.sent.push(SeenSession {
                frames: report
                    .frames
                    .iter()
                    .filter_map(|f| f.seen_frame())
                    .collect(),
                doubtful: true,
            });
        }
        note.push(format!(
            "attacker's engine: {}{}",
            verification.decision.as_str(),
            if verification.reasons.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    reclaim_protocol::named::joined(&verification.reasons, ", ")
                )
            }
        ));
        let mut c = claims(
            &AttestationInput {
                audience: &session.audience,
                session: &session.id,
                nonce: &session.nonce,
                user: &self.victim.login,
                action,
                camera: &capture.camera,
                models: self.models.clone(),
                evidence,
                returning: !session.needs_document(),
            },
            &verification,
        )
        .map_err(|e| e.to_string())?;
        c.decision = DeviceVerdict::Verified;
        c.reasons.clear();
        for r in &mut c.results {
            r.passed = true;
            r.score = r.score.max(r.threshold + 0.2);
        }
        if session.needs_document() {
            let read = c.document.take();
            c.document = Some(AttestedDocument {
                kind: read
                    .as_ref()
                    .map_or_else(|| "td3".into(), |d| d.kind.clone()),
                surname: self.victim.surname.to_uppercase(),
                given_names: self.victim.given.to_uppercase(),
                names_truncated: false,
                birth_date: self
                    .victim
                    .birth
                    .map(|d| d.to_string())
                    .or_else(|| read.as_ref().and_then(|d| d.birth_date.clone())),
                expiry_date: read.and_then(|d| d.expiry_date),
                checks_passed: true,
            });
            if !c.results.iter().any(|r| r.name == "face_match") {
                c.results.push(passed_face_match());
            }
        }
        Ok(c)
    }

    /// Claims of "verified" over `evidence`, with no engine run.
    fn claims_without_run(
        &self,
        session: &Started,
        action: RecoveryAction,
        evidence: &[EvidenceFile],
    ) -> Result<AttestationClaims, String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let evidence = evidence
            .iter()
            .map(|e| reclaim_protocol::EvidenceDigest {
                name: e.name.clone(),
                sha256: sha256_hex(&e.data),
            })
            .collect();
        let camera = webcam();
        Ok(AttestationClaims {
            ver: reclaim_protocol::PROTOCOL_VERSION,
            iss: String::new(),
            aud: session.audience.clone(),
            iat: now,
            exp: now + 120,
            session: session.id.clone(),
            nonce: session.nonce.clone(),
            user: self.victim.login.clone(),
            action,
            decision: DeviceVerdict::Verified,
            reasons: vec![],
            results: vec![passed_face_match()],
            models: self.models.clone(),
            app_version: concat!("reclaim-app ", env!("CARGO_PKG_VERSION")).to_string(),
            camera: reclaim_protocol::Camera {
                name: camera.name,
                backend: camera.backend,
                virtual_device: camera.virtual_device,
                file_backed: camera.file_backed,
            },
            timings_ms: BTreeMap::new(),
            evidence,
            document: session.needs_document().then(|| AttestedDocument {
                kind: "td3".into(),
                surname: self.victim.surname.to_uppercase(),
                given_names: self.victim.given.to_uppercase(),
                names_truncated: false,
                birth_date: self.victim.birth.map(|d| d.to_string()),
                expiry_date: None,
                checks_passed: true,
            }),
            face_embedding: None,
        })
    }
}

/// A face match the device says it passed.
fn passed_face_match() -> reclaim_protocol::ResultScore {
    reclaim_protocol::ResultScore {
        name: "face_match".into(),
        score: 0.8,
        threshold: f64::from(reclaim_verify::FACE_MATCH_THRESHOLD),
        rule: "at_least".into(),
        passed: true,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
