//! The recovery flow as a state machine: which screen the person is on and what may
//! happen next. It holds no I/O: [`crate::recovery::Recovery`] performs the calls and
//! feeds their results here, so every transition is tested without a camera, a model
//! or a server.

use reclaim_protocol::wire::decision::{Decision, Outcome};
use reclaim_protocol::wire::limits::MAX_LOGIN_CHARS;
use reclaim_protocol::wire::sessions::{SessionState, Step};
use reclaim_protocol::{ChallengeAction, PasswordPolicy, RecoveryAction};
use reclaim_verify::document::Side;
use serde::Serialize;

use crate::error::{ClientError, Result};
use crate::light::ScreenLight;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Screen {
    /// Kiosk: waiting for the next person.
    Attract,
    /// Who are you and what do you need.
    Start,
    Document,
    Selfie,
    Checking,
    Refused,
    /// A person at the helpdesk will look at it.
    Review,
    Password,
    Applying,
    Done,
    /// The laptop shows the QR code and follows the phone.
    Handoff,
    /// The phone reads the laptop's QR code.
    Scan,
    Error,
}

/// A change the service applied (or had already applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub action: RecoveryAction,
    pub already_completed: bool,
    /// Set when the change waits (approved with notice and delay): when it takes effect.
    pub effective_at: Option<i64>,
    /// The code an MFA reset gave the person to sign in with and enrol new factors. The
    /// service hands it out once: this screen is the only place it is shown.
    pub sign_in_code: Option<reclaim_protocol::wire::resets::SignInCode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoffView {
    pub qr_svg: String,
    /// What the QR code says (the phone's tests print it for a file-backed camera).
    #[serde(skip)]
    pub payload: String,
    pub expires_at: i64,
    /// `waiting`, `connected`, `finished`.
    pub phone: String,
}

/// What the UI renders; the whole of it, every time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowState {
    pub screen: Screen,
    pub kiosk: bool,
    pub idle_timeout_s: u64,
    pub login: Option<String>,
    pub action: Option<RecoveryAction>,
    pub steps: Vec<Step>,
    pub document_side: Option<Side>,
    pub challenge: Vec<ChallengeAction>,
    /// The session's screen light, checked by the app (`[{"colour", "ms"}, ...]`); the
    /// page tells the person before the selfie that the screen will change colour.
    pub light: Option<ScreenLight>,
    pub reasons: Vec<String>,
    pub error: Option<String>,
    pub password_policy: Option<PasswordPolicy>,
    pub password_error: Option<String>,
    pub result: Option<Applied>,
    pub handoff: Option<HandoffView>,
    pub can_handoff: bool,
    /// The actions the start screen offers: those the service's directory can perform
    /// (all three until the service has said).
    pub actions: Vec<RecoveryAction>,
}

/// Every action, offered until the service says which its directory can perform.
pub const ALL_ACTIONS: [RecoveryAction; 3] = [
    RecoveryAction::ResetPassword,
    RecoveryAction::ResetMfa,
    RecoveryAction::Unlock,
];

/// The most a login may be (the server's limit too).
pub const MAX_LOGIN: usize = MAX_LOGIN_CHARS;

pub struct Flow {
    state: FlowState,
}

impl Flow {
    pub fn new(kiosk: bool, idle_timeout_s: u64) -> Flow {
        Flow {
            state: FlowState {
                screen: if kiosk {
                    Screen::Attract
                } else {
                    Screen::Start
                },
                kiosk,
                idle_timeout_s,
                login: None,
                action: None,
                steps: Vec::new(),
                document_side: None,
                challenge: Vec::new(),
                light: None,
                reasons: Vec::new(),
                error: None,
                password_policy: None,
                password_error: None,
                result: None,
                handoff: None,
                can_handoff: !kiosk,
                actions: ALL_ACTIONS.to_vec(),
            },
        }
    }

    pub fn state(&self) -> &FlowState {
        &self.state
    }

    pub fn screen(&self) -> Screen {
        self.state.screen
    }

    fn require(&self, allowed: &[Screen], what: &'static str) -> Result<()> {
        if allowed.contains(&self.state.screen) {
            Ok(())
        } else {
            Err(ClientError::OutOfOrder(what))
        }
    }

    pub fn begin(&mut self) -> Result<()> {
        self.require(&[Screen::Attract, Screen::Start], "begin")?;
        self.state.screen = Screen::Start;
        Ok(())
    }

    /// Checks and records who and what; the session is started next.
    pub fn ask(&mut self, login: &str, action: RecoveryAction) -> Result<String> {
        self.require(
            &[
                Screen::Start,
                Screen::Attract,
                Screen::Refused,
                Screen::Error,
            ],
            "start",
        )?;
        let login = login.trim();
        // Counted in characters, as the server counts: bytes refused non-Latin logins
        // the server takes.
        if login.is_empty()
            || login.chars().count() > MAX_LOGIN
            || login.chars().any(char::is_control)
        {
            return Err(ClientError::Input(
                "enter your username or work email".into(),
            ));
        }
        self.state.login = Some(login.to_string());
        self.state.action = Some(action);
        Ok(login.to_string())
    }

    /// The session started: the first capture step. `light` is the session's, already
    /// checked ([`ScreenLight::new`]).
    pub fn session_started(
        &mut self,
        steps: Vec<Step>,
        challenge: Vec<ChallengeAction>,
        light: Option<ScreenLight>,
    ) {
        let st = &mut self.state;
        st.reasons.clear();
        st.error = None;
        st.result = None;
        st.password_error = None;
        st.handoff = None;
        st.challenge = challenge;
        st.light = light;
        if steps.contains(&Step::Document) {
            st.screen = Screen::Document;
            st.document_side = Some(Side::Front);
        } else {
            st.screen = Screen::Selfie;
            st.document_side = None;
        }
        st.steps = steps;
    }

    /// A side was captured; `needs_back` when the reading is on the back.
    pub fn document_captured(&mut self, needs_back: bool) -> Result<()> {
        self.require(&[Screen::Document], "capture_document")?;
        if needs_back && self.state.document_side == Some(Side::Front) {
            self.state.document_side = Some(Side::Back);
        } else {
            self.state.document_side = None;
            self.state.screen = Screen::Selfie;
        }
        Ok(())
    }

    pub fn checking(&mut self) -> Result<()> {
        self.require(&[Screen::Selfie], "submit")?;
        self.state.screen = Screen::Checking;
        Ok(())
    }

    /// The server's decision.
    pub fn decided(&mut self, decision: &Decision) {
        match decision {
            Decision::Approved {
                password_policy, ..
            } => self.conclude(Outcome::Approved, &[], Some(*password_policy)),
            Decision::Review { .. } => self.conclude(Outcome::Review, &[], None),
            // An identity verification (Reclaim as an IDV provider): nothing to reset and
            // no grant to apply; the browser that started it carries on by itself.
            Decision::Verified { .. } => {
                self.conclude(Outcome::Approved, &[], None);
                self.applied(Applied {
                    action: RecoveryAction::VerifyIdentity,
                    already_completed: false,
                    effective_at: None,
                    sign_in_code: None,
                });
            }
            Decision::Rejected { reasons, .. } => self.conclude(Outcome::Rejected, reasons, None),
        }
    }

    /// The screen an outcome leads to, with the reasons the person is shown.
    fn conclude(&mut self, outcome: Outcome, reasons: &[String], policy: Option<PasswordPolicy>) {
        let st = &mut self.state;
        // Public codes only, the server's way: the device's own engine names every check
        // that fired, and a spoof caught on the device must read as one neutral sentence
        // just as one caught by the server does (reclaim_protocol::codes).
        st.reasons = reclaim_protocol::codes::public_texts(reasons);
        st.screen = match outcome {
            Outcome::Approved => {
                st.password_policy = policy;
                match st.action {
                    Some(RecoveryAction::ResetPassword) => Screen::Password,
                    _ => Screen::Applying,
                }
            }
            Outcome::Review => Screen::Review,
            Outcome::Rejected => Screen::Refused,
        };
        if st.screen == Screen::Refused && st.reasons.is_empty() {
            st.reasons
                .push(reclaim_protocol::Code::IdentityNotConfirmed.as_str().into());
        }
    }

    /// The device's own engine refused before anything was sent.
    pub fn refused_locally(&mut self, reasons: Vec<String>) {
        self.conclude(Outcome::Rejected, &reasons, None);
    }

    pub fn applying(&mut self) -> Result<()> {
        self.require(&[Screen::Password, Screen::Applying], "set_password")?;
        self.state.password_error = None;
        self.state.screen = Screen::Applying;
        Ok(())
    }

    pub fn applied(&mut self, outcome: Applied) {
        self.state.result = Some(outcome);
        self.state.screen = Screen::Done;
    }

    /// The directory (or the service) refused the new password, or could not be reached:
    /// the grant still holds, so the person stays on the password screen.
    pub fn password_refused(&mut self, code: &str) {
        self.state.password_error = Some(code.to_string());
        self.state.screen = Screen::Password;
    }

    pub fn failed(&mut self, code: &str) {
        self.state.error = Some(code.to_string());
        self.state.screen = Screen::Error;
    }

    pub fn handoff_shown(&mut self, view: HandoffView) -> Result<()> {
        self.require(
            &[Screen::Document, Screen::Selfie, Screen::Start],
            "start_handoff",
        )?;
        if self.state.kiosk {
            return Err(ClientError::OutOfOrder("a kiosk does not hand off"));
        }
        self.state.handoff = Some(view);
        self.state.screen = Screen::Handoff;
        Ok(())
    }

    /// What the laptop learns by following the session the phone took over.
    pub fn handoff_progress(&mut self, session_state: SessionState, handed_off: bool) {
        if self.state.screen != Screen::Handoff {
            return;
        }
        let phone = match session_state {
            SessionState::Completed => "finished",
            _ if handed_off => "connected",
            _ => "waiting",
        };
        if let Some(h) = &mut self.state.handoff {
            h.phone = phone.to_string();
        }
        match session_state {
            SessionState::Completed => {
                if let Some(action) = self.state.action {
                    self.applied(Applied {
                        action,
                        already_completed: false,
                        effective_at: None,
                        sign_in_code: None,
                    });
                }
            }
            SessionState::Rejected => self.conclude(Outcome::Rejected, &[], None),
            SessionState::Review => self.conclude(Outcome::Review, &[], None),
            SessionState::Expired => self.failed(reclaim_protocol::Code::SessionExpired.as_str()),
            SessionState::Open | SessionState::Approved | SessionState::Failed => {}
        }
    }

    pub fn scanning(&mut self) -> Result<()> {
        self.require(
            &[Screen::Start, Screen::Attract, Screen::Error],
            "scan_handoff",
        )?;
        self.state.screen = Screen::Scan;
        Ok(())
    }

    /// The phone took the session over.
    pub fn handed_over(&mut self, login: String, action: RecoveryAction) {
        self.state.login = Some(login);
        self.state.action = Some(action);
        self.state.can_handoff = false;
    }

    /// What the service said its directory can do: the start screen offers only these.
    pub fn set_actions(&mut self, actions: Vec<RecoveryAction>) {
        self.state.actions = actions;
    }

    /// Forgets the person: back to the first screen (what the service can do stays).
    pub fn start_over(&mut self) {
        let (kiosk, idle) = (self.state.kiosk, self.state.idle_timeout_s);
        let actions = std::mem::take(&mut self.state.actions);
        *self = Flow::new(kiosk, idle);
        self.state.actions = actions;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approved() -> Decision {
        Decision::Approved {
            grant: "rg_test".into(),
            grant_expires_at: 0,
            action: RecoveryAction::ResetPassword,
            reverified: true,
            password_policy: PasswordPolicy::SINGLE_FACTOR,
            delay_s: None,
        }
    }

    fn started(steps: &[&str]) -> Flow {
        let mut f = Flow::new(false, 90);
        f.ask("avery.quinn", RecoveryAction::ResetPassword).unwrap();
        f.session_started(
            steps.iter().filter_map(|s| Step::parse(s)).collect(),
            vec![
                ChallengeAction::Left,
                ChallengeAction::Right,
                ChallengeAction::Center,
            ],
            None,
        );
        f
    }

    #[test]
    fn a_first_time_reset_goes_document_selfie_password_done() {
        let mut f = started(&["document", "selfie"]);
        assert_eq!(f.screen(), Screen::Document);
        assert_eq!(f.state().document_side, Some(Side::Front));
        f.document_captured(false).unwrap();
        assert_eq!(f.screen(), Screen::Selfie);
        f.checking().unwrap();
        f.decided(&approved());
        assert_eq!(f.screen(), Screen::Password);
        assert_eq!(
            f.state().password_policy,
            Some(PasswordPolicy::SINGLE_FACTOR)
        );
        f.applying().unwrap();
        f.applied(Applied {
            action: RecoveryAction::ResetPassword,
            already_completed: false,
            effective_at: None,
            sign_in_code: None,
        });
        assert_eq!(f.screen(), Screen::Done);
    }

    #[test]
    fn an_identity_verification_ends_on_the_done_screen_with_nothing_to_apply() {
        let mut f = started(&["document", "selfie"]);
        f.document_captured(false).unwrap();
        f.checking().unwrap();
        f.decided(&Decision::Verified {
            reverified: true,
            message: "verified".into(),
        });
        // Not the applying screen: there is no grant, and applying would fail.
        assert_eq!(f.screen(), Screen::Done);
        assert_eq!(
            f.state().result.as_ref().map(|r| r.action),
            Some(RecoveryAction::VerifyIdentity)
        );
    }

    #[test]
    fn a_card_read_on_its_back_asks_for_the_back() {
        let mut f = started(&["document", "selfie"]);
        f.document_captured(true).unwrap();
        assert_eq!(f.state().document_side, Some(Side::Back));
        assert_eq!(f.screen(), Screen::Document);
        // The back never asks for a third side.
        f.document_captured(true).unwrap();
        assert_eq!(f.screen(), Screen::Selfie);
    }

    #[test]
    fn a_returning_user_skips_the_document_and_mfa_needs_no_password() {
        let mut f = Flow::new(false, 90);
        f.ask("avery.quinn", RecoveryAction::ResetMfa).unwrap();
        f.session_started(
            vec![Step::Selfie],
            vec![ChallengeAction::Right, ChallengeAction::Center],
            None,
        );
        assert_eq!(f.screen(), Screen::Selfie);
        f.checking().unwrap();
        f.decided(&approved());
        assert_eq!(f.screen(), Screen::Applying);
    }

    #[test]
    fn a_refusal_always_carries_a_reason() {
        let mut f = started(&["selfie"]);
        f.checking().unwrap();
        f.decided(&Decision::Rejected {
            reasons: vec![],
            reverified: true,
            message: None,
        });
        assert_eq!(f.screen(), Screen::Refused);
        assert_eq!(
            f.state().reasons,
            vec!["identity_not_confirmed".to_string()]
        );
        // Retrying starts a new session from the refusal screen.
        f.ask("avery.quinn", RecoveryAction::ResetPassword).unwrap();
    }

    #[test]
    fn a_spoof_caught_on_the_device_reads_as_one_neutral_code() {
        let mut f = started(&["selfie"]);
        f.checking().unwrap();
        f.refused_locally(vec![
            "liveness_wrong_action".into(),
            "too_dark".into(),
            "liveness_planar_motion".into(),
            "liveness_insufficient_frames".into(),
        ]);
        assert_eq!(
            f.state().reasons,
            [
                "liveness_insufficient_frames",
                "liveness_not_confirmed",
                "too_dark"
            ]
        );
    }

    #[test]
    fn only_the_actions_the_service_supports_are_offered_and_kept() {
        let mut f = Flow::new(true, 90);
        assert_eq!(f.state().actions, ALL_ACTIONS);
        f.set_actions(vec![RecoveryAction::ResetPassword, RecoveryAction::Unlock]);
        f.start_over();
        assert_eq!(
            f.state().actions,
            [RecoveryAction::ResetPassword, RecoveryAction::Unlock]
        );
        let json = serde_json::to_value(f.state()).unwrap();
        assert_eq!(
            json["actions"],
            serde_json::json!(["reset_password", "unlock"])
        );
    }

    #[test]
    fn steps_out_of_order_are_refused() {
        let mut f = Flow::new(false, 90);
        assert!(f.document_captured(false).is_err());
        assert!(f.checking().is_err());
        assert!(f.applying().is_err());
        let mut f = started(&["document", "selfie"]);
        assert!(f.checking().is_err(), "no selfie before the document");
    }

    #[test]
    fn logins_are_checked_before_anything_is_sent() {
        let mut f = Flow::new(false, 90);
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(MAX_LOGIN + 1)] {
            assert!(f.ask(bad, RecoveryAction::Unlock).is_err(), "{bad:?}");
        }
        // As many characters as the server takes, whatever their UTF-8 length.
        let cyrillic = "я".repeat(MAX_LOGIN);
        assert_eq!(f.ask(&cyrillic, RecoveryAction::Unlock).unwrap(), cyrillic);
        assert_eq!(
            f.ask("  avery.quinn ", RecoveryAction::Unlock).unwrap(),
            "avery.quinn"
        );
    }

    #[test]
    fn start_over_forgets_everything_and_a_kiosk_returns_to_its_attract_screen() {
        let mut f = Flow::new(true, 60);
        assert_eq!(f.screen(), Screen::Attract);
        assert!(!f.state().can_handoff);
        f.begin().unwrap();
        f.ask("avery.quinn", RecoveryAction::ResetPassword).unwrap();
        f.session_started(vec![Step::Document], vec![], None);
        f.start_over();
        assert_eq!(f.state(), Flow::new(true, 60).state());
    }

    #[test]
    fn the_sessions_light_is_carried_until_the_next_session_or_start_over() {
        use reclaim_protocol::wire::light::{LightColour, LightSequence, LightStep};
        let seq = LightSequence {
            steps: vec![
                LightStep {
                    colour: LightColour::Cyan,
                    ms: 450,
                },
                LightStep {
                    colour: LightColour::Amber,
                    ms: 350,
                },
            ],
        };
        let light = ScreenLight::new(&seq).unwrap();
        let mut f = Flow::new(false, 90);
        f.ask("avery.quinn", RecoveryAction::ResetMfa).unwrap();
        f.session_started(vec![Step::Selfie], vec![], Some(light.clone()));
        assert_eq!(f.state().light, Some(light));
        // The page reads it as the protocol writes it.
        let json = serde_json::to_value(f.state()).unwrap();
        assert_eq!(
            json["light"],
            serde_json::json!([{"colour": "cyan", "ms": 450}, {"colour": "amber", "ms": 350}])
        );
        // A new session without one shows none.
        f.session_started(vec![Step::Selfie], vec![], None);
        assert_eq!(f.state().light, None);
        f.session_started(
            vec![Step::Selfie],
            vec![],
            ScreenLight::of_session(Some(&seq)).unwrap(),
        );
        f.start_over();
        assert_eq!(f.state().light, None);
    }

    #[test]
    fn a_kiosk_never_hands_off() {
        let mut f = Flow::new(true, 60);
        f.begin().unwrap();
        f.ask("a", RecoveryAction::Unlock).unwrap();
        f.session_started(vec![Step::Selfie], vec![], None);
        let view = HandoffView {
            qr_svg: String::new(),
            payload: String::new(),
            expires_at: 0,
            phone: "waiting".into(),
        };
        assert!(f.handoff_shown(view).is_err());
    }

    #[test]
    fn the_laptop_follows_the_phone_to_the_end() {
        let mut f = started(&["document", "selfie"]);
        f.handoff_shown(HandoffView {
            qr_svg: "<svg/>".into(),
            payload: String::new(),
            expires_at: 1,
            phone: "waiting".into(),
        })
        .unwrap();
        f.handoff_progress(SessionState::Open, true);
        assert_eq!(
            f.state().handoff.as_ref().map(|h| h.phone.as_str()),
            Some("connected")
        );
        f.handoff_progress(SessionState::Completed, true);
        assert_eq!(f.screen(), Screen::Done);
    }

    #[test]
    fn a_password_the_directory_refuses_keeps_the_person_on_the_password_screen() {
        let mut f = started(&["selfie"]);
        f.checking().unwrap();
        f.decided(&approved());
        f.applying().unwrap();
        f.password_refused("directory_password_in_history");
        assert_eq!(f.screen(), Screen::Password);
        assert_eq!(
            f.state().password_error.as_deref(),
            Some("directory_password_in_history")
        );
        f.applying().unwrap();
        assert_eq!(f.state().password_error, None);
    }
}
