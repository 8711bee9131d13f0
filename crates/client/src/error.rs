//! The app's typed errors. Each has a stable code: the UI shows the sentence and advice
//! its translation file holds for that code, never the code or the detail itself.

/// Why something the app tried did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the recovery service could not be reached: {0}")]
    BackendUnreachable(String),
    #[error("the recovery service did not answer in time")]
    BackendTimeout,
    #[error("the recovery service gave an answer the app cannot read: {0}")]
    BackendInvalidAnswer(String),
    /// The service refused with a code of its own (`rate_limited`, `session_expired`...).
    #[error("the recovery service refused ({code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("no camera was found")]
    NoCamera,
    #[error("the camera could not be opened: {0}")]
    CameraUnavailable(String),
    #[error("the camera stopped delivering frames: {0}")]
    CameraLost(String),
    #[error("the on-device engine could not start: {0}")]
    EngineUnavailable(String),
    #[error("the device key could not be read or stored: {0}")]
    KeyStore(String),
    #[error("the capture could not be judged: {0}")]
    CaptureInvalid(String),
    #[error("the QR code is not a Reclaim hand-off code")]
    HandoffInvalid,
    #[error("that step is not possible now ({0})")]
    OutOfOrder(&'static str),
    #[error("{0}")]
    Input(String),
}

impl ClientError {
    /// The stable code the UI and tests use.
    pub fn code(&self) -> &str {
        match self {
            ClientError::BackendUnreachable(_) => "backend_unreachable",
            ClientError::BackendTimeout => "backend_timeout",
            ClientError::BackendInvalidAnswer(_) => "backend_invalid_answer",
            ClientError::Refused { code, status, .. } => refusal_code(*status, code),
            ClientError::NoCamera => "no_camera",
            ClientError::CameraUnavailable(_) => "camera_unavailable",
            ClientError::CameraLost(_) => "camera_lost",
            ClientError::EngineUnavailable(_) => "engine_unavailable",
            ClientError::KeyStore(_) => "key_store",
            ClientError::CaptureInvalid(_) => "capture_invalid",
            ClientError::HandoffInvalid => "handoff_invalid",
            ClientError::OutOfOrder(_) => "out_of_order",
            ClientError::Input(_) => "input_invalid",
        }
    }
}

/// The server's refusal codes the app passes through to the UI, which has advice for
/// each; anything else is named by its class, so a new server code never reaches the
/// screen raw.
pub const SERVER_CODES: &[&str] = &[
    "rate_limited",
    "biometric_locked",
    "session_expired",
    "session_closed",
    "session_handed_off",
    "not_active_device",
    "nonce_replayed",
    "device_revoked",
    "device_unknown",
    "grant_invalid",
    "grant_expired",
    "grant_cancelled",
    "grant_attempts_exhausted",
    "handoff_invalid",
    "handoff_not_allowed",
    "password_refused",
    "password_policy",
    "directory_unavailable",
    "server_busy",
    "database_unavailable",
    "reverification_unavailable",
    "shutting_down",
    "reset_in_progress",
    "reset_failed",
    "action_unsupported",
    "password_too_long",
];

fn refusal_code(status: u16, code: &str) -> &str {
    match SERVER_CODES.iter().find(|k| **k == code) {
        Some(k) => k,
        // The directory's own refusals (`directory_password_in_history`...) say what to
        // change; the UI has advice for each.
        None if code.starts_with("directory_") && code.len() < 48 => code,
        None if status == 429 => "rate_limited",
        None if status >= 500 => "backend_unavailable",
        None if status == 401 || status == 403 => "not_allowed",
        None if status == 409 => "session_closed",
        None => "backend_refused",
    }
}

/// Every code `ClientError::code` can give that is not a server code: the UI needs a
/// message for each.
pub const APP_CODES: &[&str] = &[
    "backend_unreachable",
    "backend_timeout",
    "backend_invalid_answer",
    "backend_unavailable",
    "backend_refused",
    "not_allowed",
    "no_camera",
    "camera_unavailable",
    "camera_lost",
    "engine_unavailable",
    "capture_invalid",
    "key_store",
    "handoff_invalid",
    "out_of_order",
    "input_invalid",
];

pub type Result<T> = std::result::Result<T, ClientError>;
