//! The app's typed errors. Each has a stable code: the UI shows the sentence and advice
//! its translation file holds for that code, never the code or the detail itself.

use reclaim_protocol::codes::{Code, Group};

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
    pub fn code(&self) -> Code {
        match self {
            ClientError::BackendUnreachable(_) => Code::BackendUnreachable,
            ClientError::BackendTimeout => Code::BackendTimeout,
            ClientError::BackendInvalidAnswer(_) => Code::BackendInvalidAnswer,
            ClientError::Refused { code, status, .. } => refusal_code(*status, code),
            ClientError::NoCamera => Code::NoCamera,
            ClientError::CameraUnavailable(_) => Code::CameraUnavailable,
            ClientError::CameraLost(_) => Code::CameraLost,
            ClientError::EngineUnavailable(_) => Code::EngineUnavailable,
            ClientError::KeyStore(_) => Code::KeyStore,
            ClientError::CaptureInvalid(_) => Code::CaptureInvalid,
            ClientError::HandoffInvalid => Code::HandoffInvalid,
            ClientError::OutOfOrder(_) => Code::OutOfOrder,
            ClientError::Input(_) => Code::InputInvalid,
        }
    }

    /// Whether the service refused with exactly `code`.
    pub fn is_refusal(&self, code: Code) -> bool {
        matches!(self, ClientError::Refused { code: c, .. } if code == c.as_str())
    }
}

/// The code the UI is given for a refusal: the service's own when the registry says the
/// person may see it as an error (the UI has advice for each); anything else (an
/// internal code, or one a newer service added) by its class, so a code never reaches
/// the screen raw.
fn refusal_code(status: u16, code: &str) -> Code {
    match Code::parse(code) {
        Some(c) if c.status().is_some() && c.in_group(Group::Error) => c,
        _ if status == 429 => Code::RateLimited,
        _ if status >= 500 => Code::BackendUnavailable,
        _ if status == 401 || status == 403 => Code::NotAllowed,
        _ if status == 409 => Code::SessionClosed,
        _ => Code::BackendRefused,
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;
