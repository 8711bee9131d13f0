//! The answer to `POST /v1/sessions/{id}/attestation`: the decision, tagged by `outcome`.
//! A refusal by the server before it decides (a bad token, a busy server) is an error body
//! ([`super::error::ErrorBody`]), not a decision.

use serde::{Deserialize, Serialize};

use super::RecoveryAction;
use crate::password::PasswordPolicy;

/// What the server decided. Its `Debug` leaves the grant out: a decision printed to a log
/// or a test's failure message must not carry the secret that resets the account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    /// The reset may be made with `grant` (a secret: never logged).
    Approved {
        grant: String,
        /// Unix seconds.
        grant_expires_at: i64,
        action: RecoveryAction,
        /// The server judged the evidence itself (false: the device's signed claims).
        reverified: bool,
        /// What a new password must be (for `reset_password`; sent for every action).
        password_policy: PasswordPolicy,
        /// Approved with notice and delay: the change takes effect this many seconds
        /// after the reset is sent, unless cancelled from the notice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_s: Option<u64>,
    },
    /// A person at the service desk will look at it.
    Review { message: String },
    /// An identity verification (`verify_identity`) passed: the relying party that asked
    /// for it collects the result; nothing is to be reset.
    Verified { reverified: bool, message: String },
    Rejected {
        /// Public reason codes only ([`crate::codes::public_codes`]), in a fixed order. Text,
        /// not [`crate::Code`]: an app reads a newer server's codes it does not know.
        reasons: Vec<String>,
        reverified: bool,
        /// Where the device's tier (or a lock) refused whatever the evidence showed: where
        /// to go instead.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

/// The decision's `outcome`, without what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approved,
    Review,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Review => "review",
            Outcome::Rejected => "rejected",
        }
    }
}

impl std::fmt::Debug for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Approved {
                grant_expires_at,
                action,
                reverified,
                password_policy,
                delay_s,
                ..
            } => f
                .debug_struct("Approved")
                .field("grant", &"[redacted]")
                .field("grant_expires_at", grant_expires_at)
                .field("action", action)
                .field("reverified", reverified)
                .field("password_policy", password_policy)
                .field("delay_s", delay_s)
                .finish(),
            Decision::Review { message } => {
                f.debug_struct("Review").field("message", message).finish()
            }
            Decision::Verified {
                reverified,
                message,
            } => f
                .debug_struct("Verified")
                .field("reverified", reverified)
                .field("message", message)
                .finish(),
            Decision::Rejected {
                reasons,
                reverified,
                message,
            } => f
                .debug_struct("Rejected")
                .field("reasons", reasons)
                .field("reverified", reverified)
                .field("message", message)
                .finish(),
        }
    }
}

impl Decision {
    pub fn outcome(&self) -> Outcome {
        match self {
            Decision::Approved { .. } => Outcome::Approved,
            Decision::Review { .. } => Outcome::Review,
            // The verification passed: the session's outcome is an approval with no grant.
            Decision::Verified { .. } => Outcome::Approved,
            Decision::Rejected { .. } => Outcome::Rejected,
        }
    }

    /// The grant, when approved.
    pub fn grant(&self) -> Option<&str> {
        match self {
            Decision::Approved { grant, .. } => Some(grant),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_wire_form_is_the_one_the_server_always_sent() {
        let approved = Decision::Approved {
            grant: "rg_x".into(),
            grant_expires_at: 1_700_000_600,
            action: RecoveryAction::ResetPassword,
            reverified: true,
            password_policy: PasswordPolicy::SINGLE_FACTOR,
            delay_s: None,
        };
        assert_eq!(
            serde_json::to_value(&approved).unwrap(),
            json!({
                "outcome": "approved",
                "grant": "rg_x",
                "grant_expires_at": 1_700_000_600,
                "action": "reset_password",
                "reverified": true,
                "password_policy": { "min_chars": 15, "max_chars": 256 },
            })
        );
        let review = json!({ "outcome": "review", "message": "A person will check." });
        assert_eq!(
            serde_json::from_value::<Decision>(review.clone()).unwrap(),
            Decision::Review {
                message: "A person will check.".into()
            }
        );
        let rejected =
            json!({ "outcome": "rejected", "reasons": ["liveness_failed"], "reverified": false });
        let d: Decision = serde_json::from_value(rejected.clone()).unwrap();
        assert_eq!(d.outcome(), Outcome::Rejected);
        assert_eq!(serde_json::to_value(&d).unwrap(), rejected);
        assert!(
            !format!("{approved:?}").contains("rg_x"),
            "the grant is not printed"
        );
        assert!(serde_json::from_value::<Decision>(json!({ "outcome": "maybe" })).is_err());
        assert!(serde_json::from_value::<Decision>(json!({ "outcome": "approved" })).is_err());
    }
}
