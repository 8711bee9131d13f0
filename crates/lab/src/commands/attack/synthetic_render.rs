//! The takeover of issue 13, and the same with a virtual camera declared honestly.
//!
//! Tries: from the attacker's self-registered key, a password reset for the victim with a
//! passport rendered for the victim's name (the one photo as its portrait) and a selfie
//! rendered from that photo to follow the session's challenge, the attacker's own engine
//! run on them (it says "verified") and an ordinary webcam declared; then the same with
//! "OBS Virtual Camera" declared as virtual.
//!
//! Should stop it: the tier policy. An `unmanaged` device never approves on its own, so
//! the attempt ends before the evidence is read (`device_not_trusted`). Nothing else can:
//! the renders pass re-verification, liveness, face match and the document checks, and
//! the camera is the client's word (an honest virtual camera is refused by the camera
//! policy only because it was honest).

use std::convert::identity;

use reclaim_client::frames::CameraInfo;
use reclaim_protocol::RecoveryAction;

use super::claims::{Attempt, Capture};
use super::{finish, join_note, Attacker, Recording, Row, Step, NO_GRANT};

impl Attacker {
    /// A new session for a password reset from the self-registered key, a rendered
    /// passport and selfie, `camera` declared, claims of "verified", evidence. The first
    /// capture sent is kept for the replay.
    pub(super) async fn first_time(
        &mut self,
        id: &'static str,
        title: &str,
        camera: CameraInfo,
        mut steps: Vec<Step>,
    ) -> Row {
        let tier = self.key_tier.clone();
        let mut note = Vec::new();
        let action = RecoveryAction::ResetPassword;
        let kid = self.key.key_id().as_str().to_string();
        if let Some(session) = self.start(action, &kid, &mut steps).await {
            match self.render_evidence(&session) {
                Err(e) => steps.push(Step::attacker_failed("render", &e)),
                Ok((id_jpeg, frames)) => {
                    let to = Attempt::own(id, &session, action);
                    let capture = Capture {
                        camera,
                        id_jpeg: id_jpeg.as_deref(),
                        frames: &frames,
                    };
                    let sent = self.send_forged(&to, &capture, &mut note).await;
                    let was_sent = sent.is_ok();
                    steps.push(sent.unwrap_or_else(identity));
                    if was_sent && self.recording.is_none() {
                        self.recording = Some(Recording {
                            challenge: session.challenge.clone(),
                            id_jpeg,
                            frames,
                        });
                    }
                }
            }
        }
        finish(id, title, &tier, NO_GRANT, steps, join_note(note))
    }
}
