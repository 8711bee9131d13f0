//! `POST /v1/resets` applies the change a grant allows, and `GET /v1/capabilities` says
//! which changes the service's directory can make at all.

use serde::{Deserialize, Deserializer, Serialize};

use super::RecoveryAction;

/// The request. Safe to send again with the same grant: the change is applied once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub grant: String,
    /// For `reset_password` only; a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_password: Option<String>,
}

super::debug_without_secrets!(ResetRequest {} secret { grant, new_password });

/// The answer: `200` completed, `202` scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ResetAnswer {
    Completed {
        action: RecoveryAction,
        /// The change was applied by an earlier request with this grant.
        already_completed: bool,
        /// A code the directory issued for the person to sign in with and enrol new
        /// second factors. In the first answer that can carry it, never again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sign_in_code: Option<SignInCode>,
    },
    /// Approved with notice and delay: recorded, applied at `effective_at` (Unix seconds)
    /// unless cancelled from the notice sent to the account's addresses.
    Scheduled {
        action: RecoveryAction,
        effective_at: i64,
    },
}

/// A code an MFA reset gave the person (Entra ID's Temporary Access Pass, a Duo bypass
/// code): they sign in with it and enrol new second factors. The server hands it out once
/// and keeps no copy after, so the app shows it until the person leaves the screen.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInCode {
    /// A secret.
    pub code: String,
    /// When it stops working (Unix seconds).
    pub valid_until: i64,
    /// It works for one sign-in only.
    pub one_time: bool,
}

super::debug_without_secrets!(SignInCode { valid_until, one_time } secret { code });

impl ResetAnswer {
    pub fn action(&self) -> RecoveryAction {
        match self {
            ResetAnswer::Completed { action, .. } | ResetAnswer::Scheduled { action, .. } => {
                *action
            }
        }
    }
}

/// `GET /v1/capabilities`: what the app may offer. The same for every caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The actions the directory can perform, in their published order. A reader leaves
    /// out names it does not know: a newer server may offer more than this build can do.
    #[serde(deserialize_with = "known_actions")]
    pub actions: Vec<RecoveryAction>,
    pub password: PasswordInput,
}

/// The bound on a password as typed (see [`crate::password::typed_length`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordInput {
    pub max_input_chars: usize,
}

fn known_actions<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RecoveryAction>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    Ok(names
        .iter()
        .filter_map(|n| RecoveryAction::parse(n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_tagged_by_status() {
        let done = ResetAnswer::Completed {
            action: RecoveryAction::Unlock,
            already_completed: false,
            sign_in_code: None,
        };
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            json!({ "status": "completed", "action": "unlock", "already_completed": false })
        );
        let with_code = ResetAnswer::Completed {
            action: RecoveryAction::ResetMfa,
            already_completed: false,
            sign_in_code: Some(SignInCode {
                code: "Tap-secret-123".into(),
                valid_until: 9,
                one_time: true,
            }),
        };
        let wire = serde_json::to_value(&with_code).unwrap();
        assert_eq!(wire["sign_in_code"]["code"], "Tap-secret-123");
        assert_eq!(
            serde_json::from_value::<ResetAnswer>(wire).unwrap(),
            with_code
        );
        // The code is a secret: never in a printed answer.
        let printed = format!("{with_code:?}");
        assert!(
            !printed.contains("Tap-secret-123") && printed.contains("valid_until"),
            "{printed}"
        );
        let later: ResetAnswer = serde_json::from_value(
            json!({ "status": "scheduled", "action": "reset_mfa", "effective_at": 5 }),
        )
        .unwrap();
        assert_eq!(later.action(), RecoveryAction::ResetMfa);
    }

    #[test]
    fn capabilities_leave_out_actions_this_build_does_not_know() {
        let c: Capabilities = serde_json::from_value(json!({
            "actions": ["reset_password", "delete_account", "unlock"],
            "password": { "max_input_chars": 1024 },
        }))
        .unwrap();
        assert_eq!(
            c.actions,
            vec![RecoveryAction::ResetPassword, RecoveryAction::Unlock]
        );
    }
}
