//! The device key: the key the app signs attestations with.
//!
//! An unmanaged device makes its own on first use and keeps it in the OS keystore (Secret
//! Service on Linux, Keychain on macOS, the Credential Manager on Windows) where one
//! answers, otherwise in a file only its user can read (`0600` in a `0700` directory). A
//! managed device (a kiosk, an MDM laptop) is given its key by an admin (`reclaim device
//! register --key-out`), read from a path the app's configuration names and never
//! rewritten. On Linux (feature `tpm`) the key can instead live inside a TPM 2.0, where it
//! cannot be copied off the machine (see [`crate::tpm`]).
//!
//! Whatever holds the key, the rest of the app sees a [`DeviceSigner`]: its id, its public
//! key, and tokens signed through `reclaim_protocol::sign_attestation_with`, whose
//! algorithm is the key's (EdDSA for software keys, ES256 for TPM keys).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reclaim_protocol::{
    sign_attestation_with, AttestationClaims, AttestationSigner, DeviceKey, KeyAlgorithm, KeyId,
    PublicDeviceKey,
};
use zeroize::Zeroizing;

use crate::error::{ClientError, Result};

/// The key this device signs attestations with: an Ed25519 key in software (a file, the
/// OS keystore, an admin's managed file) or a P-256 key inside the TPM.
#[derive(Clone)]
pub struct DeviceSigner {
    signer: Arc<dyn AttestationSigner + Send + Sync>,
    public: PublicDeviceKey,
    in_tpm: bool,
}

impl std::fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeviceSigner({}, {})",
            self.public.key_id(),
            if self.in_tpm { "tpm" } else { "software" }
        )
    }
}

impl DeviceSigner {
    /// An Ed25519 key held in software.
    pub fn software(key: DeviceKey) -> DeviceSigner {
        DeviceSigner {
            public: key.public(),
            signer: Arc::new(key),
            in_tpm: false,
        }
    }

    /// A key held in a TPM: `signer` signs inside the chip, `public` is its public half.
    #[cfg(feature = "tpm")]
    pub(crate) fn tpm(
        signer: impl AttestationSigner + Send + Sync + 'static,
        public: PublicDeviceKey,
    ) -> DeviceSigner {
        DeviceSigner {
            signer: Arc::new(signer),
            public,
            in_tpm: true,
        }
    }

    pub fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    pub fn public(&self) -> PublicDeviceKey {
        self.public
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm()
    }

    /// Whether the key lives in a TPM.
    pub fn in_tpm(&self) -> bool {
        self.in_tpm
    }

    /// Whether the app may register the key itself (`POST /v1/devices`, as `unmanaged`).
    /// A TPM key never does: it is worth something only as `hardware`, which the server
    /// gives to a key an administrator registered from the TPM's own attestation, never to
    /// a bare public key; registering it as unmanaged would only hide a missing
    /// registration behind a tier that cannot recover.
    pub fn registers_itself(&self) -> bool {
        !self.in_tpm
    }

    /// `claims` as a signed token (`iss` and `kid` are this key's id, `alg` its
    /// algorithm). A TPM that cannot sign (the key copied from another machine, the TPM
    /// cleared or gone) is a `key_store` error.
    pub fn sign(&self, claims: &AttestationClaims) -> Result<String> {
        sign_attestation_with(claims, &*self.signer)
            .map_err(|e| ClientError::KeyStore(e.to_string()))
    }
}

impl From<DeviceKey> for DeviceSigner {
    fn from(key: DeviceKey) -> DeviceSigner {
        DeviceSigner::software(key)
    }
}

pub struct KeyStore {
    path: PathBuf,
    /// Managed keys are read, never created or replaced by the app.
    managed: bool,
    /// The OS keystore entry tried first (unmanaged keys only).
    os_entry: Option<String>,
}

/// Where a device key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlace {
    /// The OS keystore: Secret Service, Keychain or the Credential Manager.
    Os,
    /// A file only the user can read, or the admin's managed key file.
    File,
    /// Inside the TPM (the file holds only the TPM's wrapped, unusable-elsewhere blob).
    Tpm,
}

impl KeyPlace {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPlace::Os => "os",
            KeyPlace::File => "file",
            KeyPlace::Tpm => "tpm",
        }
    }
}

/// The keystore service name entries are filed under.
#[cfg(feature = "os-keystore")]
const OS_SERVICE: &str = "reclaim";

/// How long the OS keystore may take to answer before the file takes over. A locked
/// Secret Service collection shows a prompt for its password and waits for as long as
/// the prompt stays up: long enough for the person at the screen to type it, not for
/// ever when no one is there. A prompt answered after the wait leaves an unused entry in
/// the keystore; the file key made meanwhile stays this device's key.
pub const OS_KEYSTORE_WAIT: Duration = Duration::from_secs(20);

impl KeyStore {
    /// A key in a file only: the fallback, and tests.
    pub fn unmanaged(path: impl Into<PathBuf>) -> KeyStore {
        KeyStore {
            path: path.into(),
            managed: false,
            os_entry: None,
        }
    }

    /// A key in the OS keystore under `entry` where one answers, else in the file `path`.
    /// A key already in the file keeps being used from there, so a device that once fell
    /// back keeps one identity.
    pub fn os_or_file(entry: &str, path: impl Into<PathBuf>) -> KeyStore {
        KeyStore {
            path: path.into(),
            managed: false,
            os_entry: Some(entry.to_string()),
        }
    }

    pub fn managed(path: impl Into<PathBuf>) -> KeyStore {
        KeyStore {
            path: path.into(),
            managed: true,
            os_entry: None,
        }
    }

    pub fn is_managed(&self) -> bool {
        self.managed
    }

    /// The key, made and stored on first use when unmanaged.
    pub fn load_or_create(&self) -> Result<DeviceKey> {
        self.load_or_create_placed().map(|(key, _)| key)
    }

    /// The key and where it is kept.
    pub fn load_or_create_placed(&self) -> Result<(DeviceKey, KeyPlace)> {
        if let (Some(name), false) = (&self.os_entry, self.path.exists()) {
            if let Some(key) = os_load_or_create(name, OS_KEYSTORE_WAIT)? {
                return Ok((key, KeyPlace::Os));
            }
        }
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                check_private(&self.path)?;
                DeviceKey::from_seed_hex(text.trim())
                    .map(|key| (key, KeyPlace::File))
                    .map_err(|e| ClientError::KeyStore(format!("{}: {e}", self.path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.managed => {
                let key = DeviceKey::generate().map_err(ClientError::KeyStore)?;
                write_private(&self.path, key.seed_hex().as_bytes())?;
                Ok((key, KeyPlace::File))
            }
            Err(e) => Err(ClientError::KeyStore(format!(
                "{}: {e}",
                self.path.display()
            ))),
        }
    }
}

/// The key in the OS keystore, made there on first use; `None` when no keystore answers
/// within `wait` (no Secret Service running, a locked or absent keychain), for the file to
/// take over. A seed that is there but unreadable is an error, not a reason to make a new
/// identity behind the admin's back.
fn os_load_or_create(name: &str, wait: Duration) -> Result<Option<DeviceKey>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = name.to_string();
    // The thread is left behind if the keystore never answers; it holds no secret until
    // the keystore hands one over, and then only to drop it.
    let spawned = std::thread::Builder::new()
        .name("reclaim-keystore".into())
        .spawn(move || {
            let _ = tx.send(os_load_or_create_now(&name));
        });
    if spawned.is_err() {
        return Ok(None);
    }
    rx.recv_timeout(wait).unwrap_or(Ok(None))
}

/// A build without the OS keystore (the command line's): the file takes over.
#[cfg(not(feature = "os-keystore"))]
fn os_load_or_create_now(_name: &str) -> Result<Option<DeviceKey>> {
    Ok(None)
}

#[cfg(feature = "os-keystore")]
fn os_load_or_create_now(name: &str) -> Result<Option<DeviceKey>> {
    let Ok(entry) = keyring::Entry::new(OS_SERVICE, name) else {
        return Ok(None);
    };
    match entry.get_password().map(Zeroizing::new) {
        Ok(seed) => DeviceKey::from_seed_hex(seed.trim())
            .map(Some)
            .map_err(|e| ClientError::KeyStore(format!("the OS keystore's {name}: {e}"))),
        Err(keyring::Error::NoEntry) => {
            let key = DeviceKey::generate().map_err(ClientError::KeyStore)?;
            if entry.set_password(&key.seed_hex()).is_err() {
                return Ok(None);
            }
            // Read back: of two instances racing on first use, both keep the last write.
            match entry.get_password().map(Zeroizing::new) {
                Ok(seed) => DeviceKey::from_seed_hex(seed.trim())
                    .map(Some)
                    .map_err(|e| ClientError::KeyStore(format!("the OS keystore's {name}: {e}"))),
                Err(_) => Ok(Some(key)),
            }
        }
        Err(_) => Ok(None),
    }
}

/// A key file others can read is refused rather than used: whoever could read it could
/// sign as this device.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| ClientError::KeyStore(format!("{}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(ClientError::KeyStore(format!(
            "{} is readable by other users (mode {:o}); make it 0600",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: std::io::Error| ClientError::KeyStore(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    // Never overwrite: two app instances racing on first use keep the first key.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("reclaim-keystore-{}-{name}", std::process::id()))
    }

    #[test]
    fn an_unmanaged_key_is_made_once_and_kept_private() {
        let dir = temp("unmanaged");
        let store = KeyStore::unmanaged(dir.join("keys/device.key"));
        let first = store.load_or_create().unwrap();
        let again = store.load_or_create().unwrap();
        assert_eq!(first.key_id(), again.key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("keys/device.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_managed_key_is_never_invented() {
        let store = KeyStore::managed(temp("managed-missing"));
        assert_eq!(
            store
                .load_or_create()
                .err()
                .map(|e| e.code().to_string())
                .as_deref(),
            Some("key_store")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp("world-readable");
        let key = DeviceKey::generate().unwrap();
        std::fs::write(&path, key.seed_hex().as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = KeyStore::managed(&path)
            .load_or_create()
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("readable by other users")));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_corrupt_key_file_is_a_clear_error() {
        let path = temp("corrupt");
        write_private(&path, b"not hex at all").unwrap();
        let e = KeyStore::unmanaged(&path)
            .load_or_create()
            .err()
            .map(|e| e.code().to_string());
        assert_eq!(e.as_deref(), Some("key_store"));
        std::fs::remove_file(&path).unwrap();
    }
}
