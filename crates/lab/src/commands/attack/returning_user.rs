//! The synthetic-render takeover of a returning user.
//!
//! Tries: where the victim is a returning user (the server holds their enrolled face
//! template), a session asks for a selfie alone; the attacker renders one from the photo
//! to follow the challenge, signs forged claims of "verified" with their self-registered
//! key, and asks for an MFA reset.
//!
//! Should stop it: the tier policy. An `unmanaged` device never approves on its own
//! (`device_not_trusted`); the render matches the template, so nothing in the evidence
//! can. Where an operator opted unmanaged returning users into `approve_notify_delay`,
//! the grant's change is only scheduled (202 `scheduled`): the account's addresses are
//! told at once and can cancel it. Without an enrolled template the server asks for the
//! ID and this row is "not reached".

use std::convert::identity;

use reclaim_protocol::RecoveryAction;
use serde_json::json;

use super::claims::{Attempt, Capture};
use super::{finish, join_note, step_of, Attacker, Row, Step, NO_GRANT};

impl Attacker {
    /// A selfie alone, rendered from the photo, for an MFA reset. A grant is used at once
    /// to see whether the change is applied or only scheduled.
    pub(super) async fn returning_user(&mut self) -> Row {
        let id = "synthetic_render_returning";
        let title = "synthetic render, returning user (selfie only)";
        let tier = self.key_tier.clone();
        let mut steps = Vec::new();
        let mut note = Vec::new();
        let action = RecoveryAction::ResetMfa;
        let kid = self.key.key_id().as_str().to_string();
        let Some(session) = self.start(action, &kid, &mut steps).await else {
            return finish(id, title, &tier, NO_GRANT, steps, None);
        };
        if session.needs_document() {
            steps.push(Step::local("selfie", "not reached"));
            let mut r = finish(
                id,
                title,
                &tier,
                NO_GRANT,
                steps,
                Some("the server asks for the ID: no template enrolled for this account".into()),
            );
            r.server_answer = "not reached".into();
            return r;
        }
        match self.film(&session.challenge) {
            Err(e) => steps.push(Step::attacker_failed("render", &e)),
            Ok((_, frames)) => {
                let capture = Capture::webcam(None, &frames);
                let to = Attempt::own(id, &session, action);
                let sent = self.send_forged(&to, &capture, &mut note).await;
                steps.push(sent.unwrap_or_else(identity));
            }
        }
        if steps.last().is_some_and(|s| s.grant) {
            if let Some(g) = self.grants.iter().rev().find(|g| g.row == id) {
                let body = json!({ "grant": g.secret });
                let step = match self.http.post("/v1/resets", None, &body).await {
                    Ok(a) => step_of("reset with the grant", &a),
                    Err(e) => Step::local("reset with the grant", &e),
                };
                note.push(format!("reset: {}", step.summary()));
                steps.push(step);
            }
        }
        let mut row = finish(id, title, &tier, NO_GRANT, steps, join_note(note));
        // The deciding answer is the attestation's; the reset's answer is in the note.
        if let Some(s) = row.steps.iter().find(|s| s.grant) {
            row.server_answer = s.summary();
        }
        row
    }
}
