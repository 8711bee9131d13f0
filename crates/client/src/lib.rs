//! The Reclaim app's core, without a GUI: the recovery flow as a state machine
//! ([`flow`]), the driver that performs each step ([`recovery`]), frame sources
//! ([`frames`]) and the capture pipeline ([`capture`]) with live guidance
//! ([`guidance`], [`selfie`]) with the session's screen light ([`light`]), the
//! attestation ([`attestation`]), the device key ([`keystore`]; inside a TPM, `tpm`, with
//! the feature of that name), QR hand-off ([`handoff`]) and the service client ([`api`]).
//!
//! The Tauri app (`src-tauri`) is a thin layer of commands over [`recovery::Recovery`]
//! plus the real camera; everything here builds and tests without WebKit.

pub mod api;
pub mod attestation;
pub mod capture;
pub mod error;
pub mod flow;
pub mod frames;
pub mod guidance;
pub mod handoff;
pub mod keystore;
pub mod light;
pub mod recovery;
pub mod selfie;
#[cfg(feature = "tpm")]
pub mod tpm;

pub use error::{ClientError, Result};
