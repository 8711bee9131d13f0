//! The device key: the Ed25519 key the app signs attestations with.
//!
//! An unmanaged device makes its own on first use and keeps it in the OS keystore (Secret
//! Service on Linux, Keychain on macOS, the Credential Manager on Windows) where one
//! answers, otherwise in a file only its user can read (`0600` in a `0700` directory). A
//! managed device (a kiosk, an MDM laptop) is given its key by an admin (`reclaim device
//! register --key-out`), read from a path the app's configuration names and never
//! rewritten.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reclaim_protocol::DeviceKey;
use zeroize::Zeroizing;

use crate::error::{ClientError, Result};

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
}

impl KeyPlace {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPlace::Os => "os",
            KeyPlace::File => "file",
        }
    }
}

/// The keystore service name entries are filed under.
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
