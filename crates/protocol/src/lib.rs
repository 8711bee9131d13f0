//! What the app and the server say to each other, and the one statement that carries
//! trust between them: the signed attestation.
//!
//! The app runs the engine on the device and signs what it found with its device key; the
//! server checks the signature, the key's trust, the session, the nonce and the expiry
//! before it believes a word (and, for devices it does not manage, re-runs the engine on
//! the evidence anyway). Both sides use this crate, so there is one definition of the
//! token and one checker, with every way a token can be wrong written down as a test.

pub mod attestation;
pub mod codes;
pub mod keys;
pub mod named;
pub mod password;
pub mod wire;

pub use attestation::{
    sign_attestation, sign_attestation_with, verify_attestation, AttestationClaims,
    AttestationError, AttestationSigner, AttestedDocument, Camera, DeviceVerdict, EvidenceDigest,
    Expected, ResultScore, ATTESTATION_TYPE, MAX_TOKEN_BYTES,
};
pub use codes::Code;
pub use keys::{DeviceKey, KeyAlgorithm, KeyId, P256DeviceKey, PublicDeviceKey, P256_KEY_PREFIX};
pub use password::{check_password, BreachedPasswords, PasswordPolicy, PasswordProblem};
pub use wire::light::{LightColour, LightSequence, LightStep};
pub use wire::{ChallengeAction, RecoveryAction, PROTOCOL_VERSION};
