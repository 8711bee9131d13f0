//! Wire types shared by the app and the server: the HTTP contract, written once. Each
//! resource has its own module with its requests and answers; the server serializes these
//! types and the app parses them, so the two cannot disagree on a field, and
//! `crates/server/openapi.json` is checked against them (the server's `contract` test).
//!
//! Requests are parsed strictly (`deny_unknown_fields`): a misspelt field is refused, not
//! ignored. Answers are parsed leniently by the app, so a newer server may add a field.
//! Versioned: a message carries the protocol version it was written for, and a reader
//! refuses versions it does not know rather than guessing.

use serde::{Deserialize, Serialize};

pub mod challenge;
pub mod decision;
pub mod devices;
pub mod error;
pub mod evidence;
pub mod limits;
pub mod password;
pub mod resets;
pub mod sessions;

pub use challenge::{ChallengeAction, ChallengeError};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// What the employee wants done to their account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryAction {
    ResetPassword,
    ResetMfa,
    Unlock,
}

impl RecoveryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryAction::ResetPassword => "reset_password",
            RecoveryAction::ResetMfa => "reset_mfa",
            RecoveryAction::Unlock => "unlock",
        }
    }

    /// The action with this published name.
    pub fn parse(name: &str) -> Option<RecoveryAction> {
        [
            RecoveryAction::ResetPassword,
            RecoveryAction::ResetMfa,
            RecoveryAction::Unlock,
        ]
        .into_iter()
        .find(|a| a.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_use_their_published_names() {
        for a in [
            RecoveryAction::ResetPassword,
            RecoveryAction::ResetMfa,
            RecoveryAction::Unlock,
        ] {
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.as_str())
            );
        }
        assert!(serde_json::from_str::<RecoveryAction>("\"delete_account\"").is_err());
        assert_eq!(
            RecoveryAction::parse("reset_mfa"),
            Some(RecoveryAction::ResetMfa)
        );
        assert_eq!(RecoveryAction::parse("delete_account"), None);
    }
}
