//! `POST /v1/devices`: a device registers its key, and learns the tier the server gave it.

use serde::{Deserialize, Serialize};

/// How far the server trusts a device; the server sets it and a client can never claim it
/// (see the server's `devices` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The key lives in a TPM 2.0 (or a platform secure element), proven when registered.
    Hardware,
    /// Registered by an administrator.
    Managed,
    /// Registered itself on first use.
    Unmanaged,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Hardware => "hardware",
            Tier::Managed => "managed",
            Tier::Unmanaged => "unmanaged",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        [Tier::Hardware, Tier::Managed, Tier::Unmanaged]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// The request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRegistration {
    /// The public key, base64 (see [`crate::PublicDeviceKey::from_base64`]).
    pub public_key: String,
    /// At most [`super::limits::MAX_DEVICE_NAME_CHARS`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The answer: `201` when registered now, `200` when the key was known already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    pub key_id: String,
    pub tier: Tier,
}
