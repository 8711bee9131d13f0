//! The app's core against the real server (in process, on a real socket, SQLite, the
//! demo directory, the real models), with a file-backed camera: whole recoveries, the
//! QR hand-off between two devices, and every way the outside world can misbehave.

mod failures;
mod handoff;
mod harness;
mod i18n;
mod preview;
mod recovery;
// The TPM key: on Linux, where the tests turn the `tpm` feature on (Cargo.toml).
#[cfg(feature = "tpm")]
mod tpm;
