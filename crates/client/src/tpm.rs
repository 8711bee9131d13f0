//! The device key inside a TPM 2.0 (Linux, feature `tpm`): made in the chip, never
//! exportable (fixedTPM, fixedParent), and signing ES256 there.
//!
//! What is kept on disk is the key's TPM blob ([`KeyBlob`]): its public area and its
//! private area wrapped by the TPM's storage primary, which only that TPM can re-derive.
//! The file is useless on any other machine (and after a TPM clear), which is the point:
//! a thief who copies it cannot sign as this device.
//!
//! The key is worth something only once an administrator has registered it as `hardware`
//! from the TPM's own attestation, in two hand-overs (docs/app.md, docs/tpm.md):
//! 1. `reclaim-app --tpm-register-request OUT` ([`TpmKeyStore::registration_request`]):
//!    makes the attestation key (AK) and the device key if absent and writes what the
//!    administrator's `reclaim device tpm-challenge` reads.
//! 2. `reclaim-app --tpm-register-answer CHALLENGE OUT` ([`TpmKeyStore::answer`]): the
//!    TPM releases the challenge's secret (ActivateCredential, only in the TPM that holds
//!    both the EK and the AK) and the AK certifies the device key with it; the admin's
//!    `reclaim device register --tpm-attestation` reads the result.
//!
//! The app never registers a TPM key itself.

use std::path::{Path, PathBuf};

use reclaim_protocol::{AttestationSigner, KeyAlgorithm, KeyId, PublicDeviceKey};
use reclaim_tpm::device::{KeyBlob, KeyParent, Tpm};
use reclaim_tpm::TpmError;
pub use reclaim_tpm::{CertificationProof, Challenge, RegistrationRequest};
use sha2::{Digest as _, Sha256};

use crate::error::{ClientError, Result};
use crate::keystore::DeviceSigner;

/// The kernel's resource-managed TPM: what the app uses unless told otherwise.
pub const DEFAULT_TCTI: &str = reclaim_tpm::device::DEFAULT_TCTI;

fn tpm_error(e: TpmError) -> ClientError {
    ClientError::KeyStore(format!("the TPM: {e}"))
}

/// Where a TPM-held key's blobs are kept and which TPM holds it.
#[derive(Debug, Clone)]
pub struct TpmKeyStore {
    tcti: String,
    key_file: PathBuf,
    ak_file: PathBuf,
}

/// What step 1 gives the administrator, and the key it is about.
#[derive(Debug, Clone)]
pub struct Registration {
    pub request: RegistrationRequest,
    pub public: PublicDeviceKey,
}

impl TpmKeyStore {
    /// The TPM `tcti` names (`device:/dev/tpmrm0`, `swtpm:host=...,port=...`), the device
    /// key's blob in `key_file`, the attestation key's beside it (`NAME.ak.json`).
    pub fn new(tcti: &str, key_file: impl Into<PathBuf>) -> TpmKeyStore {
        let key_file = key_file.into();
        let ak_file = key_file.with_extension("ak.json");
        TpmKeyStore {
            tcti: tcti.to_string(),
            key_file,
            ak_file,
        }
    }

    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    pub fn ak_file(&self) -> &Path {
        &self.ak_file
    }

    fn open(&self) -> Result<Tpm> {
        Tpm::open(&self.tcti).map_err(tpm_error)
    }

    fn read_blob(path: &Path, what: &str) -> Result<Option<KeyBlob>> {
        if !path.exists() {
            return Ok(None);
        }
        KeyBlob::load(path)
            .map(Some)
            .map_err(|e| ClientError::KeyStore(format!("the TPM {what} file: {e}")))
    }

    /// The device key, checked once by signing with it, so that a blob this TPM cannot
    /// load (copied from another machine, or the TPM cleared since) is reported now and
    /// plainly, not at the end of someone's recovery.
    pub fn load(&self) -> Result<DeviceSigner> {
        let Some(blob) = TpmKeyStore::read_blob(&self.key_file, "key")? else {
            return Err(ClientError::KeyStore(format!(
                "no TPM key at {}: run `reclaim-app --tpm-register-request` and have IT register it",
                self.key_file.display()
            )));
        };
        let signer = TpmKeySigner::new(&self.tcti, blob)?;
        signer.sign(b"reclaim: can this TPM use the key?").map_err(|e| {
            ClientError::KeyStore(format!(
                "this TPM cannot use the key in {} (copied from another machine, or the TPM was cleared?): {e}",
                self.key_file.display()
            ))
        })?;
        let public = signer.public;
        Ok(DeviceSigner::tpm(signer, public))
    }

    /// Step 1: makes the AK and the device key in the TPM where absent (kept 0600 beside
    /// each other), and the request for the administrator. Run again, it reuses both: the
    /// key id does not change.
    pub fn registration_request(&self) -> Result<Registration> {
        let mut tpm = self.open()?;
        let ak = match TpmKeyStore::read_blob(&self.ak_file, "attestation key")? {
            Some(ak) => ak,
            None => {
                let ek = tpm.preferred_ek();
                let ak = tpm.create_attestation_key(ek).map_err(tpm_error)?;
                save(&ak, &self.ak_file)?;
                ak
            }
        };
        let key = match TpmKeyStore::read_blob(&self.key_file, "key")? {
            Some(key) => key,
            None => {
                let key = tpm.create_device_key().map_err(tpm_error)?;
                save(&key, &self.key_file)?;
                key
            }
        };
        let public = key.public_device_key().map_err(tpm_error)?;
        let request = tpm.registration_request(&ak).map_err(tpm_error)?;
        Ok(Registration { request, public })
    }

    /// The device key's public half, from its file (the TPM is not asked).
    pub fn public(&self) -> Result<PublicDeviceKey> {
        TpmKeyStore::read_blob(&self.key_file, "key")?
            .ok_or_else(|| {
                ClientError::KeyStore(format!("no TPM key at {}", self.key_file.display()))
            })?
            .public_device_key()
            .map_err(tpm_error)
    }

    /// Step 2: the answer to the administrator's challenge (ActivateCredential, then the
    /// AK's certification of the device key).
    pub fn answer(&self, challenge: &Challenge) -> Result<CertificationProof> {
        let missing = || {
            ClientError::KeyStore(format!(
                "no TPM keys at {}: run `reclaim-app --tpm-register-request` first",
                self.key_file.display()
            ))
        };
        let ak = TpmKeyStore::read_blob(&self.ak_file, "attestation key")?.ok_or_else(missing)?;
        let key = TpmKeyStore::read_blob(&self.key_file, "key")?.ok_or_else(missing)?;
        if ak.parent == KeyParent::Srk || key.parent != KeyParent::Srk {
            return Err(ClientError::KeyStore(
                "the TPM key files are not an attestation key and a device key".into(),
            ));
        }
        self.open()?
            .answer_challenge(&ak, &key, challenge)
            .map_err(tpm_error)
    }
}

/// Writes a blob readable by its owner only, in a directory only its owner can enter.
fn save(blob: &KeyBlob, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| ClientError::KeyStore(format!("{}: {e}", dir.display())))?;
    }
    blob.save(path)
        .map_err(|e| ClientError::KeyStore(format!("the TPM key file: {e}")))
}

/// Signs inside the TPM. It opens the TPM for each signature rather than holding it open:
/// a TSS context cannot move between threads (the app's core does), the app signs once
/// per recovery, and another program may want the TPM in between (a kiosk without the
/// kernel's resource manager has one connection at a time).
pub struct TpmKeySigner {
    tcti: String,
    key: KeyBlob,
    public: PublicDeviceKey,
}

impl std::fmt::Debug for TpmKeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TpmKeySigner({})", self.public.key_id())
    }
}

impl TpmKeySigner {
    /// `key` in the TPM `tcti` names; nothing is asked of the TPM yet.
    pub fn new(tcti: &str, key: KeyBlob) -> Result<TpmKeySigner> {
        if key.parent != KeyParent::Srk {
            return Err(ClientError::KeyStore(
                "the TPM key file holds an attestation key, not a device key".into(),
            ));
        }
        let public = key.public_device_key().map_err(tpm_error)?;
        if public.algorithm() != KeyAlgorithm::P256 {
            return Err(ClientError::KeyStore(
                "the TPM key is not a P-256 signing key".into(),
            ));
        }
        Ok(TpmKeySigner {
            tcti: tcti.to_string(),
            key,
            public,
        })
    }

    /// As a [`DeviceSigner`] for the rest of the app.
    pub fn into_device_signer(self) -> DeviceSigner {
        let public = self.public;
        DeviceSigner::tpm(self, public)
    }
}

impl AttestationSigner for TpmKeySigner {
    fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    fn algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::P256
    }

    fn sign(&self, signing_input: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let digest: [u8; 32] = Sha256::digest(signing_input).into();
        let mut tpm = Tpm::open(&self.tcti).map_err(|e| e.to_string())?;
        tpm.sign_digest(&self.key, &digest)
            .map(|s| s.to_vec())
            .map_err(|e| e.to_string())
    }
}
