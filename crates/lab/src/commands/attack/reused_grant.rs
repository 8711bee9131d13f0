//! A reused grant.
//!
//! Tries: the first reset grant any earlier attack obtained, used to set a password,
//! then used again with another one (or, for an MFA grant, simply again).
//!
//! Should stop it: the grant's single use. A grant is stored as a digest, bound to its
//! session, user and action, and applied once: the second use answers
//! `already_completed` and changes nothing. Under the default policy no attack gets a
//! grant, so this row is "not reached".

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reclaim_protocol::RecoveryAction;
use serde_json::json;

use super::http::Answer;
use super::{finish, step_of, Attacker, Row, RowOutcome, Step, NO_GRANT};

impl Attacker {
    /// The first grant any attack obtained, used, then used again with another password.
    pub(super) async fn reused_grant(&mut self) -> Row {
        let id = "reused_grant";
        let title = "reused grant";
        let mut steps = Vec::new();
        let Some(first) = self.grants.first() else {
            steps.push(Step::local("reset", "not reached"));
            return finish(
                id,
                title,
                "any",
                NO_GRANT,
                steps,
                Some("no grant obtained".into()),
            );
        };
        let (row, action, secret) = (first.row, first.action, first.secret.clone());
        let mut second_change = false;
        for (n, what) in [(1, "reset, first use"), (2, "reset, same grant again")] {
            let mut body = json!({ "grant": secret });
            if action == RecoveryAction::ResetPassword {
                match random_password() {
                    Ok(p) => body["new_password"] = json!(p),
                    Err(e) => {
                        steps.push(Step::attacker_failed(what, &e));
                        break;
                    }
                }
            }
            let step = match self.http.post("/v1/resets", None, &body).await {
                Ok(a) => {
                    let mut s = step_of(what, &a);
                    if n == 2 && applied_again(&a) {
                        second_change = true;
                        s.answer = format!("{} (applied a second time)", s.answer);
                    }
                    s
                }
                Err(e) => Step::local(what, &e),
            };
            steps.push(step);
        }
        let mut r = finish(
            id,
            title,
            "any",
            NO_GRANT,
            steps,
            Some(format!("the grant from \"{row}\"")),
        );
        r.ran = true;
        // The first use of a grant is what the earlier row already counted; this row is
        // about the second.
        r.outcome = if second_change {
            RowOutcome::Grant
        } else if r.steps.iter().any(|s| s.status.is_none_or(|c| c >= 500)) {
            RowOutcome::Error
        } else {
            RowOutcome::Refused
        };
        r.server_answer = r.steps.last().map(Step::summary).unwrap_or_default();
        r
    }
}

/// Whether a second use of a grant changed something: a success that says neither
/// "already completed" nor that a change is only scheduled or pending.
fn applied_again(answer: &Answer) -> bool {
    (200..300).contains(&answer.status)
        && answer.body["already_completed"] != json!(true)
        && !matches!(
            answer.body["status"].as_str(),
            Some("scheduled" | "pending")
        )
}

/// A long random password the attacker sets with a grant; never printed.
fn random_password() -> Result<String, String> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!("attack-{}", STANDARD.encode(bytes)))
}
