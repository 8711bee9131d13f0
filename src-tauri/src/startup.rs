//! Building the app's core from its settings: the engine, the device key, the service
//! client and the camera.

use std::sync::Arc;

use reclaim_client::api::{ApiClient, Timeouts};
use reclaim_client::frames::{FileSource, FrameSource};
use reclaim_client::keystore::{DeviceSigner, KeyPlace, KeyStore};
use reclaim_client::recovery::Recovery;
use reclaim_client::{ClientError, Result};
use reclaim_verify::Engines;

use crate::camera::NokhwaSource;
use crate::settings::{KeyStoreChoice, Settings};

pub async fn build(settings: &Settings) -> Result<Recovery> {
    let models = settings.models_dir.clone();
    let engine = tauri::async_runtime::spawn_blocking(move || Engines::load(models.as_deref()));
    // The key meanwhile: a locked keyring's prompt can take the person a while.
    let key_settings = settings.clone();
    let key = tauri::async_runtime::spawn_blocking(move || device_key(&key_settings));
    let engine = engine
        .await
        .map_err(|e| ClientError::EngineUnavailable(e.to_string()))?
        .map_err(|e| ClientError::EngineUnavailable(e.to_string()))?;
    let (key, place) = key
        .await
        .map_err(|e| ClientError::KeyStore(e.to_string()))??;
    eprintln!(
        "reclaim-app: device key {} in the {} store",
        key.key_id(),
        place.as_str()
    );
    let api = ApiClient::new(&settings.server_url, Timeouts::default())?;
    let mut recovery = Recovery::new(
        api,
        key,
        Arc::new(engine),
        settings.kiosk,
        settings.idle_timeout_s,
        &settings.device_name,
    );
    if let Some(dir) = settings.file_camera() {
        let files = FileSource::open(&dir, settings.file_camera_fps)?;
        recovery.set_camera(file_camera(files, settings));
    } else {
        let wanted = settings
            .camera
            .clone()
            .or_else(|| remembered_camera(settings));
        let opened = tauri::async_runtime::spawn_blocking(move || {
            NokhwaSource::open(wanted.as_deref()).or_else(|_| NokhwaSource::open(None))
        })
        .await
        .map_err(|e| ClientError::CameraUnavailable(e.to_string()))?;
        // No camera is not fatal: the person can still hand off to a phone, and the
        // preview says what is wrong.
        if let Ok(source) = opened {
            recovery.set_camera(Box::new(source));
        }
    }
    // The start screen offers only what the service's directory can do.
    recovery.load_actions().await;
    Ok(recovery)
}

/// The file-backed camera as it declares itself: a file source, except in the tests'
/// builds when their settings ask for a sensor (`file_camera_as_sensor`).
#[cfg(feature = "test-hooks")]
fn file_camera(files: FileSource, settings: &Settings) -> Box<dyn FrameSource> {
    if settings.file_camera_as_sensor {
        Box::new(crate::camera::DeclaredSensor(files))
    } else {
        Box::new(files)
    }
}

/// The file-backed camera as it declares itself: a file source, always (the settings
/// refuse the tests' sensor switch in this build).
#[cfg(not(feature = "test-hooks"))]
fn file_camera(files: FileSource, _settings: &Settings) -> Box<dyn FrameSource> {
    Box::new(files)
}

/// The device key the settings name: the key in the TPM, the admin's managed file, or an
/// unmanaged key in the OS keystore where one answers (else a `0600` file in the data
/// dir). Blocks while the keystore answers, for at most
/// [`reclaim_client::keystore::OS_KEYSTORE_WAIT`].
pub fn device_key(settings: &Settings) -> Result<(DeviceSigner, KeyPlace)> {
    let file = settings.data_dir().join("device.key");
    let store = match (&settings.device_key, settings.device_key_store) {
        // The settings refuse a key file together with the TPM.
        (_, KeyStoreChoice::Tpm) => return tpm_key(settings).map(|key| (key, KeyPlace::Tpm)),
        (Some(path), _) => KeyStore::managed(path),
        (None, KeyStoreChoice::File) => KeyStore::unmanaged(file),
        // One key per service: two services the person recovers with cannot link the
        // device by its key.
        (None, KeyStoreChoice::Auto) => {
            KeyStore::os_or_file(&format!("device-key {}", settings.server_url), file)
        }
    };
    store
        .load_or_create_placed()
        .map(|(key, place)| (key.into(), place))
}

/// Where the TPM key's blobs are kept and which TPM holds it.
#[cfg(target_os = "linux")]
pub fn tpm_store(settings: &Settings) -> reclaim_client::tpm::TpmKeyStore {
    reclaim_client::tpm::TpmKeyStore::new(&settings.tpm_tcti, settings.tpm_key_file())
}

#[cfg(target_os = "linux")]
fn tpm_key(settings: &Settings) -> Result<DeviceSigner> {
    tpm_store(settings).load()
}

#[cfg(not(target_os = "linux"))]
fn tpm_key(_settings: &Settings) -> Result<DeviceSigner> {
    Err(ClientError::KeyStore(
        "the TPM key store is supported on Linux only".into(),
    ))
}

fn remembered_camera(settings: &Settings) -> Option<String> {
    std::fs::read_to_string(settings.data_dir().join("camera"))
        .ok()
        .map(|s| s.trim().chars().take(256).collect())
}

/// Remembers the camera the person picked.
pub fn remember_camera(settings: &Settings, id: &str) {
    let dir = settings.data_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("camera"), id);
    }
}
