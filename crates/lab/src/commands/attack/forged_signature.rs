//! A signature by a key the attacker does not hold.
//!
//! Tries: a session for a registered device's key (the stolen key's, a public key given
//! with `--stolen-key`, or else the attacker's own), then an attestation that names that
//! key but is signed with another: what a TPM-held key's blob copied to another machine
//! gives, the key's name and never its signature. The evidence is the first attack's, so
//! that nothing but the signature is wrong.
//!
//! Should stop it: the signature check. The token's key must be the session's device's,
//! and the algorithm is fixed by the key the server registered, never by the token's
//! header (401 `token_signature_invalid`).

use reclaim_protocol::{
    AttestationSigner, DeviceKey, KeyAlgorithm, KeyId, P256DeviceKey, RecoveryAction,
};

use super::claims::Attempt;
use super::stolen_key::Stolen;
use super::{finish, join_note, scenes, Attacker, Row, Step, NO_GRANT};

/// A signer that names one key and signs with another: what an attacker holding a
/// device's key id (or its TPM key blob) but not the key itself can produce.
struct Impostor<'a> {
    claimed: KeyId,
    algorithm: KeyAlgorithm,
    ed25519: &'a DeviceKey,
    p256: &'a P256DeviceKey,
}

impl AttestationSigner for Impostor<'_> {
    fn key_id(&self) -> KeyId {
        self.claimed.clone()
    }
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, String> {
        match self.algorithm {
            KeyAlgorithm::Ed25519 => AttestationSigner::sign(self.ed25519, signing_input),
            KeyAlgorithm::P256 => AttestationSigner::sign(self.p256, signing_input),
        }
    }
}

impl Attacker {
    pub(super) async fn forged_signature(&mut self, stolen: Option<&Stolen>) -> Row {
        let id = "forged_signature";
        let title = "signature by a key it does not hold";
        let mut steps = Vec::new();
        let mut note = Vec::new();
        let action = RecoveryAction::ResetPassword;
        let (target, tier) = match stolen {
            Some(Stolen::Software(k)) => (k.public(), "managed (named, not signed)".to_string()),
            Some(Stolen::Public(p)) => (*p, "managed/hardware (key not held)".to_string()),
            None => (
                self.key.public(),
                format!("{} (another key's signature)", self.key_tier),
            ),
        };
        let (ed, p256) = match (DeviceKey::generate(), P256DeviceKey::generate()) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                steps.push(Step::attacker_failed("key", &e));
                return finish(id, title, &tier, NO_GRANT, steps, None);
            }
        };
        let impostor = Impostor {
            claimed: target.key_id(),
            algorithm: target.algorithm(),
            ed25519: &ed,
            p256: &p256,
        };
        if let Some(session) = self
            .start(action, target.key_id().as_str(), &mut steps)
            .await
        {
            let (id_jpeg, frames) = match &self.recording {
                Some(r) => (
                    r.id_jpeg.clone().filter(|_| session.needs_document()),
                    r.frames.clone(),
                ),
                None => (None, Vec::new()),
            };
            let evidence = scenes::evidence(id_jpeg.as_deref(), &frames);
            let to = Attempt {
                signer: Some(&impostor),
                ..Attempt::own(id, &session, action)
            };
            let sent = self.send_claimed(&to, &evidence).await;
            match sent {
                Err(failed) => steps.push(failed),
                Ok(step) => {
                    note.push(format!("names key {}", target.key_id()));
                    // A token refused for its signature changes nothing on the server
                    // (docs/server.md, "The decision, in order"): the session stays open.
                    if step.status == Some(401) {
                        self.spare = Some((target.key_id().as_str().to_string(), action, session));
                    }
                    steps.push(step);
                }
            }
        }
        finish(id, title, &tier, NO_GRANT, steps, join_note(note))
    }
}
