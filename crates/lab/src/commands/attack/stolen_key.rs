//! A stolen managed key file, used from the attacker's machine (`--stolen-key`).
//!
//! Tries: a software device key taken from a registered (managed) device, used as is:
//! first an attestation of signed claims alone, with no evidence, as a server that trusted
//! a managed device's word would take it; then, in the same session if that was refused
//! before its nonce was spent, with a rendered passport and selfie.
//!
//! Should stop it: the claims alone are refused, since the server re-verifies evidence
//! and there is none (400 `evidence_required`). The renders then pass re-verification,
//! and no layer of the server tells them apart: the key file is the managed tier's whole
//! secret. What stops it is outside the capture (keys in a
//! TPM, revocation, or a `managed` policy row of `approve_notify_delay` or `review`), so
//! the row expects what the policy decides (docs/security.md, "What no layer stops").

use std::convert::identity;
use std::path::Path;

use reclaim_protocol::{DeviceKey, PublicDeviceKey, RecoveryAction};

use super::claims::{Attempt, Capture};
use super::{finish, join_note, Attacker, Row, Step};

/// What `--stolen-key` held.
pub(super) enum Stolen {
    /// A software key: the attacker holds the key itself.
    Software(DeviceKey),
    /// Only the public half (a TPM-held key): the attacker can name it, not sign with it.
    Public(PublicDeviceKey),
}

/// The key file: a software key (64 hex digits) or a public key (base64).
pub(super) fn read_stolen(path: &Path) -> Result<Stolen, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > 64 * 1024 {
        return Err(format!("{}: not a key file (too large)", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text.trim();
    if let Ok(key) = DeviceKey::from_seed_hex(text) {
        return Ok(Stolen::Software(key));
    }
    PublicDeviceKey::from_base64(text)
        .map(Stolen::Public)
        .map_err(|_| {
            format!(
                "{}: neither a software device key (64 hex digits) nor a public key (base64)",
                path.display()
            )
        })
}

impl Attacker {
    pub(super) async fn stolen_software_key(&mut self, key: &DeviceKey) -> Row {
        let id = "stolen_managed_key";
        let title = "stolen managed key file + renders";
        let tier = "managed (stolen key file)";
        let expected = "policy decides (docs/security.md)";
        let mut steps = Vec::new();
        let mut note = Vec::new();
        let action = RecoveryAction::ResetPassword;
        let kid = key.key_id().as_str().to_string();
        let Some(session) = self.start(action, &kid, &mut steps).await else {
            return finish(id, title, tier, expected, steps, join_note(note));
        };
        let words = Attempt {
            what: "attestation, claims alone",
            signer: Some(key),
            ..Attempt::own(id, &session, action)
        };
        let sent = self.send_claimed(&words, &[]).await;
        let spent = match sent {
            Err(failed) => {
                steps.push(failed);
                true
            }
            Ok(step) => {
                let spent = step.status == Some(200);
                steps.push(step);
                spent
            }
        };
        if !spent {
            // Refused before the nonce was spent: the same session, now with rendered
            // evidence.
            match self.render_evidence(&session) {
                Err(e) => steps.push(Step::attacker_failed("render", &e)),
                Ok((id_jpeg, frames)) => {
                    let capture = Capture::webcam(id_jpeg.as_deref(), &frames);
                    let to = Attempt {
                        what: "attestation, with renders",
                        ..words
                    };
                    let sent = self.send_forged(&to, &capture, &mut note).await;
                    steps.push(sent.unwrap_or_else(identity));
                }
            }
        }
        finish(id, title, tier, expected, steps, join_note(note))
    }
}
