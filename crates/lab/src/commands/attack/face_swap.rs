//! Frames from another person mid-sequence.
//!
//! Tries: a selfie that follows the challenge, but whose face becomes someone else's
//! halfway (the victim's for the face match, the attacker's own for the rest), with a
//! passport for the victim and forged claims of "verified".
//!
//! Should stop it: the tier policy first (`device_not_trusted` from an unmanaged
//! device); where evidence is judged, the identity-consistency check of liveness (one
//! face throughout: `liveness_face_changed`) and the face match against the ID
//! (`face_mismatch`).

use std::convert::identity;

use reclaim_docgen::Rng;
use reclaim_facegen::{attack as fake, sequence};
use reclaim_protocol::RecoveryAction;

use super::claims::{Attempt, Capture};
use super::{finish, join_note, scenes, Attacker, Frames, Row, Step, NO_GRANT};

impl Attacker {
    pub(super) async fn face_swap(&mut self) -> Row {
        let id = "face_swap_mid_sequence";
        let title = "frames from another person mid-sequence";
        let tier = self.key_tier.clone();
        let mut steps = Vec::new();
        let mut note = Vec::new();
        let action = RecoveryAction::ResetPassword;
        let kid = self.key.key_id().as_str().to_string();
        if let Some(session) = self.start(action, &kid, &mut steps).await {
            let photo = self.fresh_photo();
            let prepared = (|| -> Result<(Option<Vec<u8>>, Frames), String> {
                let id_jpeg = if session.needs_document() {
                    Some(self.passport(&photo)?)
                } else {
                    None
                };
                let a = self.head(&photo)?;
                let b = self.head(&self.other)?;
                let actions = scenes::movements(&session.challenge)?;
                let seed = self.next_seed();
                let frames =
                    fake::face_swap(&a, &b, &actions, sequence::DEFAULT_FPS, &mut Rng::new(seed))
                        .map_err(|e| e.to_string())?;
                Ok((id_jpeg, scenes::encode_frames(&frames)?))
            })();
            match prepared {
                Err(e) => steps.push(Step::attacker_failed("render", &e)),
                Ok((id_jpeg, frames)) => {
                    let capture = Capture::webcam(id_jpeg.as_deref(), &frames);
                    let to = Attempt::own(id, &session, action);
                    let sent = self.send_forged(&to, &capture, &mut note).await;
                    steps.push(sent.unwrap_or_else(identity));
                }
            }
        }
        finish(id, title, &tier, NO_GRANT, steps, join_note(note))
    }
}
