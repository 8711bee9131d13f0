//! The app's configuration, set by whoever deploys it: which service, kiosk or not,
//! which key, which camera. Read from the file `RECLAIM_APP_CONFIG` names, else
//! `$XDG_CONFIG_HOME/reclaim/app.toml` (`~/.config/reclaim/app.toml`); every field has a
//! default but the service URL.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const CONFIG_ENV: &str = "RECLAIM_APP_CONFIG";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The recovery service, e.g. `https://reclaim.example.com`.
    pub server_url: String,
    /// Fullscreen, no window chrome, an attract screen, a managed key, and everything
    /// forgotten after `idle_timeout_s` without input or when done.
    #[serde(default)]
    pub kiosk: bool,
    #[serde(default = "default_idle")]
    pub idle_timeout_s: u64,
    /// The device key file. Required in kiosk mode (a managed key an admin registered
    /// with `reclaim device register`); otherwise made on first use in the data dir.
    #[serde(default)]
    pub device_key: Option<PathBuf>,
    /// Where the key is kept: `auto` (the OS keystore where one answers, else a `0600`
    /// file in the data dir), `file` (always the file), or `tpm` (Linux: made inside the
    /// TPM 2.0, never exportable, registered by IT as `hardware`; see docs/app.md).
    #[serde(default)]
    pub device_key_store: KeyStoreChoice,
    /// The TPM, as a TCTI string (`device_key_store = "tpm"`).
    #[serde(default = "default_tcti")]
    pub tpm_tcti: String,
    /// The TPM key's file (its TPM-wrapped blob, useless on another machine); the
    /// attestation key's is beside it (`NAME.ak.json`). Default: `tpm-key.json` in the
    /// data dir.
    #[serde(default)]
    pub tpm_key_file: Option<PathBuf>,
    /// `files:DIR` for a file-backed camera (tests, demos; declared in the attestation),
    /// a camera id to always use, or empty for the remembered or first camera.
    #[serde(default)]
    pub camera: Option<String>,
    /// Frame rate of a file-backed camera.
    #[serde(default = "default_fps")]
    pub file_camera_fps: f32,
    /// For the end-to-end tests only: the file-backed camera declares itself a laptop's
    /// built-in sensor (V4L2, neither virtual nor file-backed), so that the server's
    /// default camera policy judges the tests' captures as it judges a real webcam's.
    /// Only a build with the `test-hooks` cargo feature (the tests') has the switch; any
    /// other build refuses a configuration that sets it (see [`Settings::check_test_switches`]).
    #[serde(default)]
    pub file_camera_as_sensor: bool,
    #[serde(default)]
    pub models_dir: Option<PathBuf>,
    /// The name this device registers under.
    #[serde(default = "default_name")]
    pub device_name: String,
    /// Where the app keeps its key and the camera choice.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStoreChoice {
    #[default]
    Auto,
    File,
    Tpm,
}

/// The kernel's resource-managed TPM device.
pub const DEFAULT_TPM_TCTI: &str = "device:/dev/tpmrm0";

fn default_tcti() -> String {
    DEFAULT_TPM_TCTI.into()
}

fn default_idle() -> u64 {
    90
}

fn default_fps() -> f32 {
    30.0
}

fn default_name() -> String {
    "Reclaim app".into()
}

impl Settings {
    pub fn load() -> Result<Settings, String> {
        let path = match std::env::var_os(CONFIG_ENV) {
            Some(p) => PathBuf::from(p),
            None => config_home().join("reclaim/app.toml"),
        };
        Settings::read(&path)
    }

    pub fn read(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "{}: {e} (set {CONFIG_ENV} or write this file; see docs/app.md)",
                path.display()
            )
        })?;
        Settings::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Settings, String> {
        let s: Settings = toml::from_str(text).map_err(|e| e.to_string())?;
        if !(s.server_url.starts_with("https://") || s.server_url.starts_with("http://")) {
            return Err("server_url must be an https:// URL".into());
        }
        let tpm = s.device_key_store == KeyStoreChoice::Tpm;
        if tpm && !cfg!(target_os = "linux") {
            return Err("device_key_store = \"tpm\" is supported on Linux only".into());
        }
        if tpm && s.device_key.is_some() {
            return Err(
                "device_key names a key file, device_key_store = \"tpm\" a key in the TPM: set one"
                    .into(),
            );
        }
        if s.kiosk && s.device_key.is_none() && !tpm {
            return Err(
                "a kiosk needs device_key (the managed key its admin registered) or device_key_store = \"tpm\""
                    .into(),
            );
        }
        if !(5..=3600).contains(&s.idle_timeout_s) {
            return Err("idle_timeout_s must be between 5 and 3600".into());
        }
        s.check_test_switches(cfg!(feature = "test-hooks"))?;
        Ok(s)
    }

    /// Refuses the test switches unless `test_hooks` (the cargo feature, never the
    /// profile: the debug build `cargo build` or `cargo tauri dev` makes must refuse them as
    /// a release build does). A shipped app that let its configuration declare image
    /// files a sensor would hand anyone who can edit that file a camera the server's policy
    /// cannot tell from a real one.
    pub fn check_test_switches(&self, test_hooks: bool) -> Result<(), String> {
        if self.file_camera_as_sensor && !test_hooks {
            return Err(
                "file_camera_as_sensor is for tests: this build of the app refuses it (no `test-hooks` feature)"
                    .into(),
            );
        }
        if self.file_camera_as_sensor && self.file_camera().is_none() {
            return Err("file_camera_as_sensor needs camera = \"files:DIR\"".into());
        }
        Ok(())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| home().join(".local/share"))
                .join("reclaim")
        })
    }

    /// The TPM key's file.
    pub fn tpm_key_file(&self) -> PathBuf {
        self.tpm_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir().join("tpm-key.json"))
    }

    /// The file-backed camera's directory, when configured.
    pub fn file_camera(&self) -> Option<PathBuf> {
        self.camera
            .as_deref()
            .and_then(|c| c.strip_prefix("files:"))
            .map(PathBuf::from)
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn config_home() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME").map_or_else(|| home().join(".config"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_config_takes_defaults() {
        let s = Settings::parse("server_url = \"https://reclaim.example.com\"").unwrap();
        assert!(!s.kiosk);
        assert_eq!(s.idle_timeout_s, 90);
        assert_eq!(s.file_camera(), None);
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        for (text, says) in [
            ("", "server_url"),
            ("server_url = \"ftp://x\"", "https"),
            ("server_url = \"https://x\"\nkiosk = true", "device_key"),
            (
                "server_url = \"https://x\"\nidle_timeout_s = 1",
                "idle_timeout_s",
            ),
            ("server_url = \"https://x\"\nkoisk = true", "unknown field"),
        ] {
            let e = Settings::parse(text).err().unwrap_or_default();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_tpm_key_store_takes_the_kernels_tpm_and_suits_a_kiosk() {
        let s = Settings::parse(
            "server_url = \"https://x\"\nkiosk = true\ndevice_key_store = \"tpm\"\ndata_dir = \"/var/lib/reclaim\"",
        );
        if cfg!(target_os = "linux") {
            let s = s.unwrap();
            assert_eq!(s.tpm_tcti, DEFAULT_TPM_TCTI);
            assert_eq!(
                s.tpm_key_file(),
                PathBuf::from("/var/lib/reclaim/tpm-key.json")
            );
            let e = Settings::parse(
                "server_url = \"https://x\"\ndevice_key_store = \"tpm\"\ndevice_key = \"/k\"",
            )
            .err()
            .unwrap_or_default();
            assert!(e.contains("set one"), "{e}");
        } else {
            assert!(s.err().unwrap_or_default().contains("Linux only"));
        }
    }

    #[test]
    fn the_sensor_switch_is_refused_without_the_test_hooks_feature() {
        let files = "server_url = \"http://127.0.0.1:1\"\ncamera = \"files:/tmp/frames\"\n";
        let switched = format!("{files}file_camera_as_sensor = true\n");
        let s: Settings = toml::from_str(&switched).unwrap();
        let refused = s.check_test_switches(false).unwrap_err();
        assert!(refused.contains("test-hooks"), "{refused}");
        assert!(s.check_test_switches(true).is_ok());
        // Off, the file camera is what it is in every build.
        let honest: Settings = toml::from_str(files).unwrap();
        assert!(!honest.file_camera_as_sensor);
        assert!(honest.check_test_switches(false).is_ok());
        // What this build does with it follows its feature, not its profile.
        assert_eq!(
            Settings::parse(&switched).is_ok(),
            cfg!(feature = "test-hooks")
        );
        // A sensor made of files needs the files.
        let e = Settings::parse("server_url = \"https://x\"\nfile_camera_as_sensor = true")
            .err()
            .unwrap_or_default();
        assert!(e.contains("file_camera_as_sensor"), "{e}");
    }

    #[test]
    fn a_file_camera_is_named_by_its_directory() {
        let s =
            Settings::parse("server_url = \"http://127.0.0.1:1\"\ncamera = \"files:/tmp/frames\"")
                .unwrap();
        assert_eq!(s.file_camera(), Some(PathBuf::from("/tmp/frames")));
    }
}
