//! The hardware tier: a device key the server has seen proven to live inside a TPM 2.0.
//!
//! Registration is an administrator's act in two steps, because the TPM must answer a
//! challenge only it can decrypt (see `reclaim-tpm` and docs/tpm.md):
//! 1. `reclaim device tpm-challenge REQUEST`: the device's endorsement key (EK, trusted by
//!    its certificate's chain to a configured TPM vendor CA, or enrolled by Name) and its
//!    attestation key (AK) are checked, and a fresh secret is wrapped for them
//!    (MakeCredential). What the verifier keeps until step 2 is stored here; it holds only
//!    the secret's digest.
//! 2. `reclaim device register --tpm-attestation PROOF`: the device recovered the secret
//!    (ActivateCredential, possible only in the TPM holding both) and had its AK certify
//!    the device key with it. The pending registration is deleted before the proof is
//!    checked, so each challenge is tried once; a valid proof registers the key as
//!    `hardware`.
//!
//! Why not let a device register itself as hardware over HTTP: any genuine TPM, an
//! attacker's own laptop's included, passes the EK check. The TPM proves that a key
//! cannot leave the machine; the administrator's act says that the machine is ours.

use reclaim_protocol::Code;
use reclaim_tpm::{
    attest, CertificationProof, Challenge, PendingRegistration, RegistrationRequest, TpmError,
    TrustPolicy, Verifier,
};

use crate::audit::{self, Entry};
use crate::config::TpmConfig;
use crate::crypto::Keys;
use crate::devices::{self, Device, DeviceError, Tier};
use crate::store::{self, now, Store, StoreError};

/// Why a TPM registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    #[error(transparent)]
    Tpm(#[from] TpmError),
    #[error("no TPM registration is waiting under that id (unknown, used or expired)")]
    NoChallenge,
    #[error("tpm configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HardwareError {
    pub fn code(&self) -> Code {
        match self {
            HardwareError::Tpm(e) => e.code(),
            HardwareError::NoChallenge => Code::TpmChallengeMismatch,
            HardwareError::Config(_) => Code::TpmConfigInvalid,
            HardwareError::Device(e) => e.code(),
            HardwareError::Store(e) => e.code(),
        }
    }
}

/// The verifier for this deployment's trust settings: the CA files are read now.
pub fn verifier(config: &TpmConfig) -> Result<Verifier, HardwareError> {
    let mut ca_certificates = Vec::new();
    for path in &config.endorsement_ca_files {
        let bytes = std::fs::read(path)
            .map_err(|e| HardwareError::Config(format!("{}: {e}", path.display())))?;
        let certs = attest::load_ca_certificates(&bytes)
            .map_err(|e| HardwareError::Config(format!("{}: {e}", path.display())))?;
        ca_certificates.extend(certs);
    }
    Ok(Verifier::new(TrustPolicy {
        ca_certificates,
        enrolled_ek_names: config.enrolled_ek_names.clone(),
        challenge_ttl_s: config.challenge_ttl_s,
    }))
}

fn unix_now() -> u64 {
    now().max(0) as u64
}

/// Step 1: checks the device's EK and AK and keeps the pending registration for `name`.
pub async fn challenge(
    store: &Store,
    verifier: &Verifier,
    request: &RegistrationRequest,
    name: &str,
) -> Result<Challenge, HardwareError> {
    if !devices::valid_name(name) {
        return Err(DeviceError::NameInvalid.into());
    }
    let (challenge, pending) = verifier.begin(request, unix_now())?;
    let text = serde_json::to_string(&pending)
        .map_err(|e| HardwareError::Config(format!("pending registration: {e}")))?;
    // Expired ones are swept here: the table only ever holds challenges still answerable.
    store::hardware::insert_pending(
        store,
        &pending.registration_id,
        &text,
        name,
        pending.expires_at as i64,
    )
    .await?;
    Ok(challenge)
}

/// Step 2: takes the pending registration (once), checks the proof, registers the key as
/// `hardware`, and records which TPM did.
pub async fn register(
    store: &Store,
    keys: &Keys,
    verifier: &Verifier,
    proof: &CertificationProof,
    actor: &str,
) -> Result<Device, HardwareError> {
    if proof.registration_id.len() > 64 {
        return Err(HardwareError::NoChallenge);
    }
    let Some((text, name)) = store::hardware::take_pending(store, &proof.registration_id).await?
    else {
        return Err(HardwareError::NoChallenge);
    };
    let pending: PendingRegistration = serde_json::from_str(&text)
        .map_err(|_| StoreError::Config("tpm_registrations holds an invalid row".into()))?;
    let registered = match verifier.finish(pending, proof, unix_now()) {
        Ok(r) => r,
        Err(e) => {
            audit::append(
                store,
                keys,
                Entry {
                    kind: "device_registration_refused",
                    actor,
                    subject: "device:tpm",
                    detail: serde_json::json!({ "tier": "hardware", "code": e.code() }),
                },
            )
            .await?;
            return Err(e.into());
        }
    };
    let device = devices::register(
        store,
        keys,
        &registered.key.to_base64(),
        &name,
        Tier::Hardware,
        actor,
    )
    .await?;
    audit::append(
        store,
        keys,
        Entry {
            kind: "device_tpm_attested",
            actor,
            subject: &format!("device:{}", device.key_id),
            detail: serde_json::json!({
                "ek_trust": registered.ek_trust,
                "ek_name": registered.ek_name,
                "ak_name": registered.ak_name,
            }),
        },
    )
    .await?;
    Ok(device)
}
