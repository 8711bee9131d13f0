//! The body of every refusal: `{"error": code, "message": sentence}`, with a few fields
//! some refusals add. The status says which side is wrong; the code is stable and the app
//! explains it; the message is for a person and may change.

use serde::{Deserialize, Serialize};

use super::password::Problem;
use super::RecoveryAction;

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The stable code (`session_token_invalid`, `rate_limited`, ...).
    pub error: String,
    pub message: String,
    /// `password_refused`: what is wrong with the new password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<Problem>>,
    /// A reset's state when it was not applied now: `pending` (it will be, when the
    /// directory answers) or `failed` (it never will be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResetStatus>,
    /// `action_unsupported`: the actions the directory can perform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_actions: Option<Vec<RecoveryAction>>,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: error.into(),
            message: message.into(),
            problems: None,
            status: None,
            supported_actions: None,
        }
    }
}

/// What became of a reset a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetStatus {
    /// Recorded; applied as soon as the directory answers.
    Pending,
    /// Ended for good; nothing more happens with this grant.
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_fields_a_refusal_has_are_sent() {
        let plain = ErrorBody::new("rate_limited", "Too many attempts.");
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({ "error": "rate_limited", "message": "Too many attempts." })
        );
        let failed = ErrorBody {
            status: Some(ResetStatus::Failed),
            ..ErrorBody::new("reset_failed", "m")
        };
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            json!({ "error": "reset_failed", "message": "m", "status": "failed" })
        );
    }
}
