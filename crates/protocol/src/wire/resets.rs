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
    },
    /// Approved with notice and delay: recorded, applied at `effective_at` (Unix seconds)
    /// unless cancelled from the notice sent to the account's addresses.
    Scheduled {
        action: RecoveryAction,
        effective_at: i64,
    },
}

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
        };
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            json!({ "status": "completed", "action": "unlock", "already_completed": false })
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
