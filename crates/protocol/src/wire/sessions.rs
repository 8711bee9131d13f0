//! Sessions: `POST /v1/sessions` starts one, `GET /v1/sessions/{id}` follows it,
//! `POST /v1/sessions/{id}/handoff` shows a QR code for a phone and `POST /v1/handoff` is
//! the phone taking it over.

use serde::{Deserialize, Serialize};

use super::challenge::ChallengeAction;
use super::light::LightSequence;
use super::RecoveryAction;

/// `POST /v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// Username or email address.
    pub login: String,
    pub action: RecoveryAction,
    /// The key id of the device starting the session.
    pub device: String,
}

/// What the person must show, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A photo ID (first-time verification, or whenever the policy asks).
    Document,
    /// The selfie following the challenge.
    Selfie,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Document => "document",
            Step::Selfie => "selfie",
        }
    }

    pub fn parse(name: &str) -> Option<Step> {
        crate::named::parse(name)
    }
}

impl crate::named::Named for Step {
    const ALL: &'static [Step] = &[Step::Document, Step::Selfie];
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// A session as it is started (`201` to `POST /v1/sessions`) or handed to the phone
/// (`200` to `POST /v1/handoff`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub session_id: String,
    /// The bearer token of the device that may act; a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    pub nonce: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub steps: Vec<Step>,
    pub challenge: Vec<ChallengeAction>,
    /// The screen colours to show while the selfie is recorded (`wire::light`); absent
    /// when the server's policy leaves the light out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<LightSequence>,
    /// What the attestation's `aud` must be.
    pub audience: String,
    pub action: RecoveryAction,
    pub protocol_version: u32,
    /// The login as the laptop typed it: the phone that took the session over must attest
    /// the same one. Only in the hand-off answer (the starter typed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

super::debug_without_secrets!(SessionView { session_id, nonce, expires_at, steps, challenge, light, audience, action, protocol_version, login } secret { session_token });

impl SessionView {
    pub fn needs_document(&self) -> bool {
        self.steps.contains(&Step::Document)
    }
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Open,
    /// Open past its expiry (never stored: what an open session looks like then).
    Expired,
    Approved,
    Review,
    Rejected,
    /// The reset was applied.
    Completed,
    /// The reset ended for good without being applied.
    Failed,
}

impl SessionState {
    pub const ALL: [SessionState; 7] = [
        SessionState::Open,
        SessionState::Expired,
        SessionState::Approved,
        SessionState::Review,
        SessionState::Rejected,
        SessionState::Completed,
        SessionState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Open => "open",
            SessionState::Expired => "expired",
            SessionState::Approved => "approved",
            SessionState::Review => "review",
            SessionState::Rejected => "rejected",
            SessionState::Completed => "completed",
            SessionState::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<SessionState> {
        crate::named::parse(name)
    }
}

impl crate::named::Named for SessionState {
    const ALL: &'static [SessionState] = &SessionState::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// `GET /v1/sessions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub session_id: String,
    pub state: SessionState,
    pub steps: Vec<Step>,
    pub expires_at: i64,
    #[serde(default)]
    pub handed_off: bool,
    /// True for the device that may act.
    #[serde(default)]
    pub active_device: bool,
    /// A session that waited for review and was approved: the grant, for the device that
    /// may act only (it carries the secret that resets the account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<crate::wire::decision::Decision>,
}

/// `POST /v1/sessions/{id}/handoff`: a one-time secret for the phone.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffView {
    pub handoff_secret: String,
    pub expires_at: i64,
    /// What the QR code carries (`reclaim:continue?server=..&session=..&secret=..`).
    pub qr_payload: String,
}

super::debug_without_secrets!(HandoffView { expires_at } secret { handoff_secret, qr_payload });

/// `POST /v1/handoff`: the phone takes over the session with the QR code's secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffClaim {
    pub session_id: String,
    pub secret: String,
    /// The key id of the phone.
    pub device: String,
}

super::debug_without_secrets!(HandoffClaim { session_id, device } secret { secret });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_states_use_their_published_names() {
        for s in [Step::Document, Step::Selfie] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        for s in SessionState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(SessionState::parse(s.as_str()), Some(s));
        }
        assert_eq!(Step::parse("fingerprint"), None);
        assert_eq!(SessionState::parse("cancelled"), None);
    }

    #[test]
    fn a_request_with_an_unknown_field_is_refused() {
        let ok = r#"{"login":"avery","action":"unlock","device":"k"}"#;
        assert!(serde_json::from_str::<SessionRequest>(ok).is_ok());
        let extra = r#"{"login":"avery","action":"unlock","device":"k","tier":"managed"}"#;
        assert!(serde_json::from_str::<SessionRequest>(extra).is_err());
    }
}
