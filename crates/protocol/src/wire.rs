//! Wire types shared by the app and the server. Versioned: a message carries the protocol
//! version it was written for, and a reader refuses versions it does not know rather than
//! guessing.

use serde::{Deserialize, Serialize};

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
