//! A replayed recording.
//!
//! Tries: the first attack's capture (frames filmed for its challenge, and its passport),
//! sent again for a new session whose challenge differs, with a fresh nonce and forged
//! claims of "verified".
//!
//! Should stop it: the tier policy first (`device_not_trusted` from an unmanaged
//! device); where evidence is judged, the liveness challenge (the moves are not the ones
//! asked: `liveness_wrong_action`) and the per-account frame hashes (the same faces seen
//! before: `liveness_replayed_frames`).

use std::convert::identity;

use reclaim_protocol::RecoveryAction;

use super::claims::{Attempt, Capture};
use super::session::Started;
use super::{finish, join_note, Attacker, Row, Step, NO_GRANT};

/// Sessions started while looking for a challenge that differs from a recording's.
const REPLAY_SESSION_TRIES: usize = 4;

impl Attacker {
    /// The first row's recording, sent again for a new session whose challenge differs
    /// from the one it was filmed for.
    pub(super) async fn replay(&mut self) -> Row {
        let id = "replayed_recording";
        let title = "replayed recording, new session's challenge";
        let tier = self.key_tier.clone();
        let mut steps = Vec::new();
        let mut note = Vec::new();
        let action = RecoveryAction::ResetPassword;
        let Some(recording) = self.recording.take() else {
            steps.push(Step::local(
                "replay",
                "no recording to replay (the first attack did not get to send one)",
            ));
            return finish(id, title, &tier, NO_GRANT, steps, None);
        };
        let kid = self.key.key_id().as_str().to_string();
        // Sessions that drew the recording's own challenge are not wasted: the next
        // attack takes one (same device, same action).
        // If every try draws it, the last is used anyway: a plain replay, new nonce.
        let mut target: Option<Started> = None;
        let mut unused = None;
        for _ in 0..REPLAY_SESSION_TRIES {
            let Some(s) = self.start(action, &kid, &mut steps).await else {
                break;
            };
            let differs = s.challenge != recording.challenge;
            if let Some(previous) = target.replace(s) {
                unused = Some(previous);
            }
            if differs {
                break;
            }
            note.push("a session drew the recording's challenge".to_string());
        }
        if let Some(u) = unused {
            self.spare = Some((kid.clone(), action, u));
        }
        if let Some(session) = target {
            note.push(format!(
                "filmed for {}, sent for {}",
                recording.challenge.join(","),
                session.challenge.join(",")
            ));
            let id_jpeg = recording
                .id_jpeg
                .as_deref()
                .filter(|_| session.needs_document());
            let capture = Capture::webcam(id_jpeg, &recording.frames);
            let to = Attempt::own(id, &session, action);
            let sent = self.send_forged(&to, &capture, &mut note).await;
            steps.push(sent.unwrap_or_else(identity));
        }
        self.recording = Some(recording);
        finish(id, title, &tier, NO_GRANT, steps, join_note(note))
    }
}
