//! Device keys held in a TPM 2.0, proven by attestation.
//!
//! A device key that lives in a TPM cannot be copied off the machine: whoever uses it has
//! the machine. The server can only believe that if the TPM says so, which it does by
//! certifying the key with an attestation key (AK) that is itself proven to live in a TPM
//! whose endorsement key (EK) the server trusts. See docs/tpm.md for the format, what each
//! check proves, and the threat model.
//!
//! - [`attest`] (always built, pure Rust, what the server uses): the TPM structures,
//!   Names, attribute rules, signature checks, MakeCredential and the EK certificate.
//! - [`registration`]: the two-step protocol's messages and the [`Verifier`].
//! - `device` (feature `tss`, the app's side): keys in the TPM through tss-esapi and the
//!   system's libtss2: EK, AK, device key, ActivateCredential, Certify, and ES256 signing
//!   for `reclaim_protocol::sign_attestation_with`.

pub mod attest;
mod error;
pub mod registration;

#[cfg(feature = "tss")]
pub mod device;

pub use error::TpmError;
pub use registration::{
    ek_name_hex, Blob, CertificationProof, Challenge, PendingRegistration, RegisteredTpmKey,
    RegistrationRequest, TrustPolicy, Verifier, DEFAULT_CHALLENGE_TTL_S, FORMAT_TPM2,
};

/// Fuzzing entry: feeds arbitrary bytes to every parser and check that takes input from the
/// network. It must return (never panic, never allocate without bound) for any input.
pub fn parse(data: &[u8]) {
    let _ = attest::parse_public(data);
    let _ = attest::parse_tpmt_public(data);
    let _ = attest::parse_certify_info(data);
    let _ = attest::parse_signature(data);
    if let Ok(public) = attest::parse_tpmt_public(data) {
        let _ = public.name();
        let _ = attest::check_ak(&public);
        let _ = attest::check_device_key(&public);
        let _ = attest::check_ek(&public);
        let _ = public.device_key();
        let _ = attest::make_credential(&public, &[0; 34], &[1; 32]);
    }
    let _ = serde_json::from_slice::<RegistrationRequest>(data);
    let _ = serde_json::from_slice::<CertificationProof>(data);
}
