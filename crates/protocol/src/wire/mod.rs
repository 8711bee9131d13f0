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

/// `Debug` for a wire type that carries secrets (a grant, a password, a session token, a
/// hand-off secret): they print as `[redacted]`, so a request or an answer printed to a
/// log or a test's failure message does not leak them. Every field must be named, as
/// shown or as secret: a field added later without a decision does not compile.
macro_rules! debug_without_secrets {
    ($ty:ident { $($shown:ident),* } secret { $($secret:ident),+ }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let $ty { $($shown,)* $($secret: _,)+ } = self;
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), $shown))*
                    $(.field(stringify!($secret), &"[redacted]"))+
                    .finish()
            }
        }
    };
}
pub(crate) use debug_without_secrets;

pub mod challenge;
pub mod decision;
pub mod devices;
pub mod error;
pub mod evidence;
pub mod light;
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
    /// Prove who one is to a relying party (`[idv]`, docs/idv.md): nothing changes in the
    /// directory. Only the IDV provider's authorization endpoint starts such a session.
    VerifyIdentity,
}

impl RecoveryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryAction::ResetPassword => "reset_password",
            RecoveryAction::ResetMfa => "reset_mfa",
            RecoveryAction::Unlock => "unlock",
            RecoveryAction::VerifyIdentity => "verify_identity",
        }
    }

    /// The action with this published name.
    pub fn parse(name: &str) -> Option<RecoveryAction> {
        [
            RecoveryAction::ResetPassword,
            RecoveryAction::ResetMfa,
            RecoveryAction::Unlock,
            RecoveryAction::VerifyIdentity,
        ]
        .into_iter()
        .find(|a| a.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every wire type that carries a secret prints without it.
    #[test]
    fn secrets_do_not_print() {
        let secret = "s3cret-value";
        let printed = [
            format!(
                "{:?}",
                resets::ResetRequest {
                    grant: secret.into(),
                    new_password: Some(secret.into()),
                }
            ),
            format!(
                "{:?}",
                password::PasswordCheckRequest {
                    grant: secret.into(),
                    password: secret.into(),
                }
            ),
            format!(
                "{:?}",
                sessions::HandoffView {
                    handoff_secret: secret.into(),
                    expires_at: 1,
                    qr_payload: secret.into(),
                }
            ),
            format!(
                "{:?}",
                sessions::HandoffClaim {
                    session_id: "s1".into(),
                    secret: secret.into(),
                    device: "d1".into(),
                }
            ),
        ];
        for p in &printed {
            assert!(!p.contains(secret) && p.contains("[redacted]"), "{p}");
        }
        assert!(printed[3].contains("d1"), "the rest still prints");
    }

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
