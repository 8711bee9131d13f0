//! The app's core: the flow driven by real calls. It owns the camera pipeline, the
//! on-device engine, the device key and the service client, and performs each step the
//! UI asks for, feeding the result to the [`Flow`]. The Tauri commands are thin wrappers
//! over these methods, so the whole recovery runs in tests without a webview.
//!
//! Biometric data (ID photos, selfie frames) lives only here, in memory, from capture
//! until the attestation is sent; [`Recovery::start_over`] drops all of it, with the
//! session token and the grant.

use std::io::Cursor;
use std::sync::Arc;

use image::RgbImage;
use reclaim_document::Date;
use reclaim_protocol::codes::RESET_ENDED;
use reclaim_protocol::wire::decision::{Decision as ServiceDecision, Outcome};
use reclaim_protocol::wire::evidence::EvidenceName;
use reclaim_protocol::wire::limits::MAX_DEVICE_NAME_CHARS;
use reclaim_protocol::wire::password::PasswordCheckAnswer;
use reclaim_protocol::wire::resets::ResetAnswer;
use reclaim_protocol::wire::sessions::{SessionState, SessionView};
use reclaim_protocol::{ChallengeAction, Code, RecoveryAction};
use reclaim_verify::document::Side;
use reclaim_verify::verifier::{DeviceVerdict, Verification};
use reclaim_verify::{Engines, Reference};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::api::{ApiClient, EvidenceFile};
use crate::attestation::{attest, AttestationInput};
use crate::capture::{Capture, Mode};
use crate::error::{ClientError, Result};
use crate::flow::{Applied, Flow, FlowState, HandoffView, Screen};
use crate::frames::{CameraInfo, FrameSource, Scene};
use crate::guidance::Guidance;
use crate::handoff::{qr_svg, same_server};
use crate::keystore::DeviceSigner;
use crate::light::ScreenLight;
use crate::selfie::SelfieRecorder;

/// JPEG quality of uploaded evidence: the server's engine reads these.
const EVIDENCE_JPEG_QUALITY: u8 = 90;
/// The preview is smaller and rougher: it is only looked at.
const PREVIEW_MAX_WIDTH: u32 = 640;
const PREVIEW_JPEG_QUALITY: u8 = 70;

/// The flow's state plus what the UI shows about the camera.
#[derive(Debug, Clone, Serialize)]
pub struct AppState {
    #[serde(flatten)]
    pub flow: FlowState,
    pub camera: Option<CameraInfo>,
}

/// One preview frame, ready for the UI.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// JPEG, base64 `data:` URL; none before the first frame.
    pub frame: Option<String>,
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    pub camera_error: Option<String>,
    pub guidance: Guidance,
    /// The colour to paint around the preview now (`#rrggbb`), while the selfie is
    /// recorded under the session's light; `null` otherwise (the page paints its
    /// neutral grey). The core decides it from the recorder's clock: the page only
    /// paints what it is told.
    pub light: Option<String>,
}

struct Captured {
    image: Arc<RgbImage>,
}

/// What the last [`Recovery::submit`] found, in numbers and codes: the device's own run of
/// the engine and, when the evidence was sent, the service's decision. No image, embedding
/// or grant: this is for a log line or `reclaim-lab demo`, and it is forgotten with the person
/// ([`Recovery::start_over`]) and at the next session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Submission {
    /// The device's engine verified the capture (nothing is sent otherwise).
    pub device_verified: bool,
    /// The codes the device's engine refused with (all of them, not only the public ones
    /// the person is shown).
    pub device_reasons: Vec<String>,
    /// The device's face match against the ID's portrait; none for a returning user, whose
    /// comparison is the service's (the template never leaves it).
    pub face_match: Option<FaceScore>,
    /// The device's liveness check found a live person following the challenge.
    pub live: bool,
    /// What was signed and sent; none when the device refused before sending.
    pub sent: Option<Sent>,
    /// The service's decision; none when nothing was sent or no decision came back.
    pub decision: Option<Decided>,
}

/// A face match's cosine similarity (none when a face could not be had) and the
/// threshold it had to reach.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaceScore {
    pub score: Option<f32>,
    pub threshold: f32,
}

/// The signed attestation and the evidence it covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sent {
    /// The token's algorithm (`EdDSA`, `ES256`) and its length in bytes.
    pub algorithm: &'static str,
    pub token_bytes: usize,
    /// Evidence items (the ID's sides, the selfie frames), each one digest in the token.
    pub evidence: usize,
}

/// The service's decision without the grant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decided {
    pub outcome: Outcome,
    /// Public reason codes, as the service sent them.
    pub reasons: Vec<String>,
    /// The service judged the evidence with its own engine.
    pub reverified: bool,
    /// The service's sentence for the person (where to go instead), if any.
    pub message: Option<String>,
}

impl Decided {
    fn of(decision: &ServiceDecision) -> Decided {
        match decision {
            ServiceDecision::Approved { reverified, .. } => Decided {
                outcome: Outcome::Approved,
                reasons: Vec::new(),
                reverified: *reverified,
                message: None,
            },
            ServiceDecision::Verified {
                reverified,
                message,
            } => Decided {
                outcome: Outcome::Approved,
                reasons: Vec::new(),
                reverified: *reverified,
                message: Some(message.clone()),
            },
            ServiceDecision::Review { message } => Decided {
                outcome: Outcome::Review,
                reasons: Vec::new(),
                reverified: false,
                message: Some(message.clone()),
            },
            ServiceDecision::Rejected {
                reasons,
                reverified,
                message,
            } => Decided {
                outcome: Outcome::Rejected,
                reasons: reasons.clone(),
                reverified: *reverified,
                message: message.clone(),
            },
        }
    }
}

impl Submission {
    fn of(verification: &Verification) -> Submission {
        Submission {
            device_verified: verification.decision == DeviceVerdict::Verified,
            device_reasons: verification
                .reasons
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            face_match: verification.face_match.first().map(|f| FaceScore {
                score: f.score,
                threshold: f.threshold,
            }),
            live: verification
                .liveness
                .report
                .as_ref()
                .is_some_and(|r| r.live),
            sent: None,
            decision: None,
        }
    }
}

pub struct Recovery {
    flow: Flow,
    api: ApiClient,
    key: DeviceSigner,
    engine: Arc<Engines>,
    capture: Option<Capture>,
    device_name: String,
    registered: bool,
    session: Option<SessionView>,
    token: Option<Zeroizing<String>>,
    front: Option<Captured>,
    back: Option<Captured>,
    grant: Option<Zeroizing<String>>,
    submission: Option<Submission>,
    last_preview_seq: u64,
}

impl Recovery {
    pub fn new(
        api: ApiClient,
        key: impl Into<DeviceSigner>,
        engine: Arc<Engines>,
        kiosk: bool,
        idle_timeout_s: u64,
        device_name: &str,
    ) -> Recovery {
        Recovery {
            flow: Flow::new(kiosk, idle_timeout_s),
            api,
            key: key.into(),
            engine,
            capture: None,
            device_name: device_name.chars().take(MAX_DEVICE_NAME_CHARS).collect(),
            registered: false,
            session: None,
            token: None,
            front: None,
            back: None,
            grant: None,
            submission: None,
            last_preview_seq: 0,
        }
    }

    pub fn state(&self) -> AppState {
        AppState {
            flow: self.flow.state().clone(),
            camera: self.capture.as_ref().map(|c| c.info().clone()),
        }
    }

    pub fn screen(&self) -> Screen {
        self.flow.screen()
    }

    /// What the last [`Recovery::submit`] of this session found (see [`Submission`]).
    pub fn submission(&self) -> Option<&Submission> {
        self.submission.as_ref()
    }

    /// Uses `source` as the camera from now on.
    pub fn set_camera(&mut self, source: Box<dyn FrameSource>) {
        self.capture = None;
        self.capture = Some(Capture::start(source, self.engine.clone()));
        self.enter_scene();
    }

    pub fn has_camera(&self) -> bool {
        self.capture.is_some()
    }

    pub fn begin(&mut self) -> Result<AppState> {
        self.flow.begin()?;
        Ok(self.state())
    }

    /// Asks the service which actions its directory can perform, so the start screen
    /// offers only those. Best effort: a service that does not answer leaves every action
    /// offered, and refuses an unsupported one at the session's start with a sentence.
    pub async fn load_actions(&mut self) {
        match self.api.capabilities().await {
            Ok(actions) => self.flow.set_actions(actions),
            Err(e) => eprintln!("reclaim: the service's capabilities: {}", e.code()),
        }
    }

    /// Starts a session for `login` and `action`; the first capture step follows.
    pub async fn start_recovery(
        &mut self,
        login: &str,
        action: RecoveryAction,
    ) -> Result<AppState> {
        let login = self.flow.ask(login, action)?;
        self.forget_evidence();
        self.submission = None;
        let session = match self.open_session(&login, action).await {
            Ok(s) => s,
            Err(e) => {
                // The directory behind the service changed: offer what it can do now.
                if e.code() == Code::ActionUnsupported {
                    self.load_actions().await;
                }
                return self.fail(e);
            }
        };
        let light = match self.checked_light(&session) {
            Ok(l) => l,
            Err(e) => return self.fail(e),
        };
        self.token = session.session_token.clone().map(Zeroizing::new);
        self.flow
            .session_started(session.steps.clone(), session.challenge.clone(), light);
        self.session = Some(session);
        self.enter_scene();
        Ok(self.state())
    }

    /// The session's screen light, if the app may show it. A light it must not show (too
    /// fast, a colour repeated, too long to record) is the server's fault: the session is
    /// not used, and nothing of the light is ever shown.
    fn checked_light(&mut self, session: &SessionView) -> Result<Option<ScreenLight>> {
        ScreenLight::of_session(session.light.as_ref()).inspect_err(|e| {
            eprintln!("reclaim: the session's screen light is refused: {e}");
            self.session = None;
            self.token = None;
        })
    }

    async fn open_session(&mut self, login: &str, action: RecoveryAction) -> Result<SessionView> {
        self.ensure_registered().await?;
        self.api
            .start_session(login, action, self.key.key_id().as_str())
            .await
            .map_err(|e| self.unregistered_tpm_key(e))
    }

    /// A TPM key the server does not know was never registered by an administrator (the
    /// app cannot do it itself): the person sees `device_unknown`'s advice (contact IT),
    /// and whoever reads the app's log or the error learns what IT must do.
    fn unregistered_tpm_key(&self, e: ClientError) -> ClientError {
        match e {
            ClientError::Refused { status, code, .. }
                if code == Code::DeviceUnknown.as_str() && self.key.in_tpm() =>
            {
                let message = format!(
                    "this device's TPM key is not registered: ask IT (key {}; `reclaim-app --tpm-register-request`)",
                    self.key.key_id()
                );
                eprintln!("reclaim: {message}");
                ClientError::Refused {
                    status,
                    code,
                    message,
                }
            }
            e => e,
        }
    }

    async fn ensure_registered(&mut self) -> Result<()> {
        // A TPM key is registered by an administrator, as `hardware`, or not at all.
        if !self.registered && self.key.registers_itself() {
            self.api
                .register_device(&self.key.public().to_base64(), &self.device_name)
                .await?;
            self.registered = true;
        }
        Ok(())
    }

    /// Points the camera pipeline at what the current screen needs.
    fn enter_scene(&mut self) {
        let Some(capture) = &self.capture else { return };
        let st = self.flow.state();
        match st.screen {
            Screen::Document => {
                let back = st.document_side == Some(Side::Back);
                let front = if back {
                    self.front.as_ref().map(|f| f.image.clone())
                } else {
                    None
                };
                capture.set_mode(
                    if back { Scene::IdBack } else { Scene::IdFront },
                    Mode::Document { front },
                );
            }
            Screen::Selfie => {
                capture.set_mode(Scene::Face(st.challenge.clone()), Mode::FacePreview)
            }
            // A kiosk keeps a person waiting for a reviewer only while a face is in front
            // of it (the app counts that as use): someone who walks away and leaves the
            // kiosk alone for its idle timeout is forgotten, as on any other screen. Any
            // face counts, not only theirs (no match against the selfie is made here).
            Screen::Review if st.kiosk => {
                capture.set_mode(Scene::Face(st.challenge.clone()), Mode::FacePreview)
            }
            Screen::Scan => capture.set_mode(Scene::Qr, Mode::Scan),
            _ => capture.set_mode(Scene::Idle, Mode::Idle),
        }
    }

    /// The newest frame (JPEG) and guidance; `None` frame when nothing new arrived.
    pub fn preview(&mut self) -> Result<Preview> {
        let capture = self.capture.as_ref().ok_or(ClientError::NoCamera)?;
        let p = capture.preview();
        let (mut width, mut height) = (0, 0);
        let frame = match &p.frame {
            Some(f) if p.seq != self.last_preview_seq => {
                let small = if f.width() > PREVIEW_MAX_WIDTH {
                    let h =
                        (f.height() as u64 * PREVIEW_MAX_WIDTH as u64 / f.width() as u64) as u32;
                    image::imageops::resize(
                        f.as_ref(),
                        PREVIEW_MAX_WIDTH,
                        h.max(1),
                        image::imageops::FilterType::Triangle,
                    )
                } else {
                    (**f).clone()
                };
                width = small.width();
                height = small.height();
                let jpeg = encode_jpeg(&small, PREVIEW_JPEG_QUALITY)?;
                use base64::Engine;
                Some(format!(
                    "data:image/jpeg;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(jpeg)
                ))
            }
            _ => None,
        };
        self.last_preview_seq = p.seq;
        Ok(Preview {
            frame,
            seq: p.seq,
            width,
            height,
            camera_error: p.camera_error,
            guidance: p.guidance,
            light: p.light.map(|c| c.css()),
        })
    }

    /// The camera, for a call that belongs to `screen` (`call` is out of order elsewhere).
    fn camera_on(&self, screen: Screen, call: &'static str) -> Result<&Capture> {
        if self.flow.screen() != screen {
            return Err(ClientError::OutOfOrder(call));
        }
        self.capture.as_ref().ok_or(ClientError::NoCamera)
    }

    /// The session this app started or took over, and its token.
    fn session_and_token(&self) -> Result<(SessionView, Zeroizing<String>)> {
        match (&self.session, &self.token) {
            (Some(session), Some(token)) => Ok((session.clone(), token.clone())),
            _ => Err(ClientError::OutOfOrder("no session")),
        }
    }

    /// Takes the side the reader found readable.
    pub fn capture_document(&mut self) -> Result<AppState> {
        let capture = self.camera_on(Screen::Document, "capture_document")?;
        let card = capture
            .take_ready_card()
            .ok_or(ClientError::OutOfOrder("document_not_ready"))?;
        let captured = Captured { image: card.frame };
        let back = self.flow.state().document_side == Some(Side::Back);
        if back {
            self.back = Some(captured);
        } else {
            self.front = Some(captured);
        }
        self.flow.document_captured(card.needs_back)?;
        self.enter_scene();
        Ok(self.state())
    }

    /// Starts recording the challenge.
    pub fn start_selfie(&mut self) -> Result<AppState> {
        let capture = self.camera_on(Screen::Selfie, "start_selfie")?;
        let challenge = self.flow.state().challenge.clone();
        let light = self.flow.state().light.clone();
        capture.set_mode(
            Scene::Selfie(challenge.clone()),
            Mode::Selfie(Box::new(SelfieRecorder::new(&challenge, light))),
        );
        Ok(self.state())
    }

    /// Runs the engine on the recording, signs and sends the attestation with the
    /// evidence, and moves to what the service decided.
    pub async fn submit(&mut self) -> Result<AppState> {
        let capture = self.camera_on(Screen::Selfie, "submit")?;
        let recording = capture
            .take_recording()
            .ok_or(ClientError::OutOfOrder("selfie_not_recorded"))?;
        self.flow.checking()?;
        self.enter_scene();
        let frames = recording.into_frames();
        let outcome = self.verify_and_attest(frames).await;
        // The evidence has been sent (or refused): it is not kept.
        self.forget_evidence();
        match outcome {
            Ok(()) => {}
            Err(e) => return self.fail(e),
        }
        self.enter_scene();
        if self.flow.screen() == Screen::Applying {
            return self.apply(None).await;
        }
        Ok(self.state())
    }

    async fn verify_and_attest(&mut self, frames: Vec<crate::selfie::RecordedFrame>) -> Result<()> {
        let (session, token) = self.session_and_token()?;
        let login = self.flow.state().login.clone().unwrap_or_default();
        let front = self.front.as_ref().map(|c| c.image.clone());
        let back = self.back.as_ref().map(|c| c.image.clone());
        let engine = self.engine.clone();
        let challenge = session.challenge.clone();
        // The light the app showed (the session's, as checked when it started).
        let light = self.flow.state().light.clone();
        // A returning user's template never leaves the server: the device judges the
        // capture and liveness, and the comparison is the server's.
        let returning = !session.needs_document();
        let reference = if returning {
            Reference::HeldByServer
        } else {
            Reference::IdPortrait
        };
        // The engine is CPU-bound: it runs off the async runtime.
        let verified = tokio::task::spawn_blocking(move || {
            device_verify(
                &engine,
                front.as_deref(),
                back.as_deref(),
                &frames,
                &challenge,
                light.as_ref(),
                reference,
            )
        })
        .await
        .map_err(|e| ClientError::EngineUnavailable(e.to_string()))?;
        let (verification, evidence) = match verified {
            Ok(v) => v,
            Err(ClientError::CaptureInvalid(_)) => {
                self.flow
                    .refused_locally(vec![Code::CaptureInvalid.as_str().into()]);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        self.submission = Some(Submission::of(&verification));
        if verification.decision != DeviceVerdict::Verified {
            // Nothing is sent for a capture the device already knows fails: the person
            // gets the engine's reasons and can retake at once.
            self.flow
                .refused_locally(verification.reasons.iter().map(|r| r.to_string()).collect());
            return Ok(());
        }
        let camera = self
            .capture
            .as_ref()
            .map(|c| c.info().clone())
            .ok_or(ClientError::NoCamera)?;
        let jws = attest(
            &AttestationInput {
                audience: &session.audience,
                session: &session.session_id,
                nonce: &session.nonce,
                user: &login,
                action: session.action,
                camera: &camera,
                models: self.engine.digests.clone(),
                evidence: &evidence,
                returning,
            },
            &verification,
            &self.key,
        )?;
        if let Some(s) = &mut self.submission {
            s.sent = Some(Sent {
                algorithm: self.key.algorithm().jws_alg(),
                token_bytes: jws.len(),
                evidence: evidence.len(),
            });
        }
        let decision = self
            .api
            .attest(&session.session_id, &token, &jws, &evidence)
            .await?;
        if let Some(s) = &mut self.submission {
            s.decision = Some(Decided::of(&decision));
        }
        self.grant = decision.grant().map(|g| Zeroizing::new(g.to_string()));
        self.flow.decided(&decision);
        Ok(())
    }

    pub async fn check_password(&self, password: &str) -> Result<PasswordCheckAnswer> {
        let grant = self
            .grant
            .as_ref()
            .ok_or(ClientError::OutOfOrder("no grant"))?;
        self.api.check_password(grant, password).await
    }

    /// Applies the new password through the service.
    pub async fn set_password(&mut self, password: &str) -> Result<AppState> {
        if self.flow.screen() != Screen::Password {
            return Err(ClientError::OutOfOrder("set_password"));
        }
        self.apply(Some(password)).await
    }

    async fn apply(&mut self, password: Option<&str>) -> Result<AppState> {
        self.flow.applying()?;
        let grant = self
            .grant
            .clone()
            .ok_or(ClientError::OutOfOrder("no grant"))?;
        match self.api.reset(&grant, password).await {
            Ok(done) => {
                self.grant = None;
                self.flow.applied(match done {
                    ResetAnswer::Completed {
                        action,
                        already_completed,
                        sign_in_code,
                    } => Applied {
                        action,
                        already_completed,
                        effective_at: None,
                        sign_in_code,
                    },
                    ResetAnswer::Scheduled {
                        action,
                        effective_at,
                    } => Applied {
                        action,
                        already_completed: false,
                        effective_at: Some(effective_at),
                        sign_in_code: None,
                    },
                });
            }
            // A refused password, a directory that is down, a service that timed out:
            // the grant still holds (the reset is applied once however often it is
            // sent), so the person may try again from the password screen. A reset that
            // failed for good (the directory cannot make it) ends on the error screen.
            // A reset that ended for good (`RESET_ENDED`): the grant is spent, so the
            // password screen has nothing more to offer.
            Err(e) if password.is_some() && !RESET_ENDED.contains(&e.code()) => {
                self.flow.password_refused(e.code().as_str())
            }
            Err(e) => return self.fail(e),
        }
        Ok(self.state())
    }

    /// After a refusal or an error: a new session for the same person and action.
    pub async fn retry(&mut self) -> Result<AppState> {
        let st = self.flow.state();
        let (Some(login), Some(action)) = (st.login.clone(), st.action) else {
            self.start_over();
            return Ok(self.state());
        };
        if !matches!(st.screen, Screen::Refused | Screen::Error) {
            return Err(ClientError::OutOfOrder("retry"));
        }
        self.start_recovery(&login, action).await
    }

    /// Shows the QR code the phone scans to take this session over.
    pub async fn start_handoff(&mut self) -> Result<AppState> {
        let (session, token) = self.session_and_token()?;
        let h = match self.api.handoff(&session.session_id, &token).await {
            Ok(h) => h,
            Err(e) => return self.fail(e),
        };
        self.flow.handoff_shown(HandoffView {
            qr_svg: qr_svg(&h.qr_payload)?,
            payload: h.qr_payload.clone(),
            expires_at: h.expires_at,
            phone: "waiting".into(),
        })?;
        // The laptop's camera has nothing more to do.
        self.forget_evidence();
        self.enter_scene();
        Ok(self.state())
    }

    pub async fn handoff_poll(&mut self) -> Result<AppState> {
        if self.flow.screen() != Screen::Handoff {
            return Ok(self.state());
        }
        let (session, token) = self.session_and_token()?;
        let status = self.api.session_status(&session.session_id, &token).await?;
        self.flow.handoff_progress(status.state, status.handed_off);
        Ok(self.state())
    }

    /// On the review screen: follows the session until a reviewer decides. An approval
    /// carries the grant, so the person goes on to the new password (or the change is
    /// applied) without starting again; a refusal shows the neutral refusal.
    pub async fn review_poll(&mut self) -> Result<AppState> {
        if self.flow.screen() != Screen::Review {
            return Ok(self.state());
        }
        let (session, token) = self.session_and_token()?;
        let status = self.api.session_status(&session.session_id, &token).await?;
        match (status.state, status.decision) {
            (SessionState::Approved, Some(decision @ ServiceDecision::Approved { .. })) => {
                self.grant = decision.grant().map(|g| Zeroizing::new(g.to_string()));
                if let Some(s) = &mut self.submission {
                    s.decision = Some(Decided::of(&decision));
                }
                self.flow.decided(&decision);
                self.enter_scene();
                if self.flow.screen() == Screen::Applying {
                    return self.apply(None).await;
                }
            }
            (SessionState::Rejected, _) => {
                self.flow.decided(&ServiceDecision::Rejected {
                    reasons: Vec::new(),
                    reverified: false,
                    message: None,
                });
                self.enter_scene();
            }
            _ => {}
        }
        Ok(self.state())
    }

    /// The phone: reads the laptop's QR code from the camera.
    pub fn scan_handoff(&mut self) -> Result<AppState> {
        self.flow.scanning()?;
        self.enter_scene();
        Ok(self.state())
    }

    /// The phone: takes the session over with the code it read.
    pub async fn claim_handoff(&mut self) -> Result<AppState> {
        let capture = self.camera_on(Screen::Scan, "claim_handoff")?;
        let code = capture
            .take_code()
            .ok_or(ClientError::OutOfOrder("qr_not_found"))?;
        if !same_server(&code, self.api.base_url()) {
            return Err(ClientError::HandoffInvalid);
        }
        let claimed = async {
            self.ensure_registered().await?;
            self.api
                .claim_handoff(&code.session_id, &code.secret, self.key.key_id().as_str())
                .await
                .map_err(|e| self.unregistered_tpm_key(e))
        }
        .await;
        let session = match claimed {
            Ok(s) => s,
            Err(e) => return self.fail(e),
        };
        let login = session.login.clone().unwrap_or_default();
        let light = match self.checked_light(&session) {
            Ok(l) => l,
            Err(e) => return self.fail(e),
        };
        self.submission = None;
        self.flow.handed_over(login, session.action);
        self.token = session.session_token.clone().map(Zeroizing::new);
        self.flow
            .session_started(session.steps.clone(), session.challenge.clone(), light);
        self.session = Some(session);
        self.enter_scene();
        Ok(self.state())
    }

    /// Forgets the person: evidence, session, grant; back to the first screen.
    pub fn start_over(&mut self) {
        self.forget_evidence();
        self.session = None;
        self.token = None;
        self.grant = None;
        self.submission = None;
        self.flow.start_over();
        self.enter_scene();
    }

    fn forget_evidence(&mut self) {
        self.front = None;
        self.back = None;
        if let Some(c) = &self.capture {
            // Drops a recording or a captured card still in the pipeline.
            let _ = c.take_recording();
            let _ = c.take_ready_card();
            let _ = c.take_code();
        }
    }

    fn fail(&mut self, e: ClientError) -> Result<AppState> {
        self.flow.failed(e.code().as_str());
        self.enter_scene();
        Ok(self.state())
    }

    /// Analysis times and delivered frames since the last call (benchmarks).
    pub fn capture_stats(&self) -> Option<(Vec<f64>, u64)> {
        self.capture.as_ref().map(Capture::take_stats)
    }

    /// Waits for the guidance to satisfy `until` (tests, benchmarks).
    pub fn wait_for_guidance(
        &self,
        timeout: std::time::Duration,
        until: impl Fn(&Guidance) -> bool,
    ) -> bool {
        self.capture
            .as_ref()
            .is_some_and(|c| c.wait_for(timeout, until))
    }
}

/// The device's engine run, on exactly the bytes it will upload.
fn device_verify(
    engine: &Engines,
    front: Option<&RgbImage>,
    back: Option<&RgbImage>,
    frames: &[crate::selfie::RecordedFrame],
    challenge: &[ChallengeAction],
    light: Option<&ScreenLight>,
    reference: Reference<'_>,
) -> Result<(Verification, Vec<EvidenceFile>)> {
    let mut evidence = Vec::new();
    for (name, img) in [(EvidenceName::IdFront, front), (EvidenceName::IdBack, back)] {
        if let Some(img) = img {
            evidence.push(EvidenceFile {
                name: name.to_string(),
                t_ms: None,
                data: encode_jpeg(img, EVIDENCE_JPEG_QUALITY)?,
            });
        }
    }
    for (i, f) in (0u16..).zip(frames) {
        evidence.push(EvidenceFile {
            name: EvidenceName::Selfie(i).to_string(),
            t_ms: Some(f.t_ms),
            data: encode_jpeg(&f.image, EVIDENCE_JPEG_QUALITY)?,
        });
    }
    let piece = |name: EvidenceName| {
        let name = name.to_string();
        evidence
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.data.as_slice())
    };
    let selfies: Vec<(&[u8], u64)> = evidence
        .iter()
        .filter_map(|e| e.t_ms.map(|t| (e.data.as_slice(), t)))
        .collect();
    let today = Date::today_utc().ok_or(ClientError::Input("the clock gives no date".into()))?;
    // The one judge the server runs too, on the same bytes (`reclaim_verify::judge`).
    let verification = engine
        .judge(&reclaim_verify::Evidence {
            id_front: piece(EvidenceName::IdFront),
            id_back: piece(EvidenceName::IdBack),
            selfies: &selfies,
            challenge,
            light: light.map(ScreenLight::sequence),
            reference,
            seen: &[],
            today,
        })
        .map_err(|e| {
            // A broken install is the app's problem; anything else is a capture the engine
            // could not judge, which the person can retake.
            if matches!(
                e.code(),
                Code::ModelMissing | Code::ModelDigestMismatch | Code::ModelInvalid
            ) {
                ClientError::EngineUnavailable(e.to_string())
            } else {
                ClientError::CaptureInvalid(e.to_string())
            }
        })?;
    Ok((verification, evidence))
}

fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .map_err(|e| ClientError::Input(format!("JPEG: {e}")))?;
    Ok(out.into_inner())
}
