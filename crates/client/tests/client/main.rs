//! The app's core against the real server (in process, on a real socket, SQLite, the
//! demo directory, the real models), with the scenes played by a camera: whole
//! recoveries, the QR hand-off between two devices, the server's policies as the app
//! meets them, and every way the outside world can misbehave.

mod busy;
mod console;
mod failures;
mod handoff;
mod harness;
mod i18n;
mod light;
mod paused;
mod policies;
mod preview;
mod recovery;
// The TPM key: on Linux, where the tests turn the `tpm` feature on (Cargo.toml).
#[cfg(feature = "tpm")]
mod tpm;
