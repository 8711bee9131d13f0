//! Devices and their trust tier, which the server sets and a client can never claim.
//!
//! *Hardware* devices hold their key inside a TPM 2.0 (or a platform secure element),
//! proven by attestation when the key is registered: an attacker needs the device itself.
//! *Managed* devices (kiosks, managed laptops) were registered by an administrator with
//! `reclaim device register`: an attacker needs the key file. *Unmanaged* devices register
//! their own key on first use: an attacker needs nothing but our code, so what they send
//! is worth little on its own (see [`crate::policy`]). Every tier uploads its evidence for
//! the server's own run unless the operator trusts signed claims. A revoked key is refused
//! everywhere from the next request on.

use reclaim_protocol::wire::limits::MAX_DEVICE_NAME_CHARS;
use reclaim_protocol::Code;
use reclaim_protocol::PublicDeviceKey;

use crate::audit::{self, Entry};
use crate::crypto::Keys;
use crate::error::ApiError;
use crate::store::{self, Store, StoreError};

/// The tiers are the protocol's: the registration answer names them.
pub use reclaim_protocol::wire::devices::Tier;

pub use crate::store::devices::{find, list, Device};

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("the public key is invalid: {0}")]
    KeyInvalid(String),
    #[error("the device name must be 1 to {MAX_DEVICE_NAME_CHARS} printable characters")]
    NameInvalid,
    #[error("device {0} is revoked")]
    Revoked(String),
    #[error("device {0} is already registered as {1}")]
    AlreadyRegistered(String, &'static str),
    #[error("device {0} is not registered")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeviceError {
    pub fn code(&self) -> Code {
        match self {
            DeviceError::KeyInvalid(_) => Code::DeviceKeyInvalid,
            DeviceError::NameInvalid => Code::DeviceNameInvalid,
            DeviceError::Revoked(_) => Code::DeviceRevoked,
            DeviceError::AlreadyRegistered(..) => Code::DeviceAlreadyRegistered,
            DeviceError::Unknown(_) => Code::DeviceUnknown,
            DeviceError::Store(e) => e.code(),
        }
    }
}

/// 1 to [`MAX_DEVICE_NAME_CHARS`] characters, none of them a control or an invisible format character. A name is
/// shown to administrators next to the tier: `HR kiosk \u{202E}deganam\u{202C}` reads as
/// "HR kiosk managed" on their screen, so bidirectional controls are refused with the rest.
pub fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=MAX_DEVICE_NAME_CHARS).contains(&n)
        && !name.chars().any(|c| c.is_control() || is_format(c))
}

/// Unicode's format characters (category Cf) and the line and paragraph separators: the
/// bidirectional embeddings, overrides, isolates and marks, zero-width characters, the
/// byte-order mark, interlinear annotation and tag characters.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Registers `public_key` (base64) with `tier`. Registering a key that already exists
/// with the same tier is a no-op (safe to retry); a revoked key stays revoked; an
/// unmanaged registration never changes a managed device, and the other way round is an
/// admin's explicit choice.
pub async fn register(
    store: &Store,
    keys: &Keys,
    public_key: &str,
    name: &str,
    tier: Tier,
    actor: &str,
) -> Result<Device, DeviceError> {
    let key = PublicDeviceKey::from_base64(public_key).map_err(DeviceError::KeyInvalid)?;
    if !valid_name(name) {
        return Err(DeviceError::NameInvalid);
    }
    let kid = key.key_id().as_str().to_string();
    if let Some(existing) = find(store, &kid).await? {
        if existing.revoked_at.is_some() {
            return Err(DeviceError::Revoked(kid));
        }
        if existing.tier == tier {
            return Ok(existing);
        }
        if tier == Tier::Unmanaged {
            return Err(DeviceError::AlreadyRegistered(kid, existing.tier.as_str()));
        }
        store::devices::set_tier(store, &kid, tier, name).await?;
    } else {
        store::devices::insert(store, &kid, &key.to_base64(), tier, name).await?;
    }
    audit::append(
        store,
        keys,
        Entry {
            kind: "device_registered",
            actor,
            subject: &format!("device:{kid}"),
            detail: serde_json::json!({ "tier": tier.as_str(), "name": name }),
        },
    )
    .await?;
    find(store, &kid).await?.ok_or(DeviceError::Unknown(kid))
}

pub async fn revoke(store: &Store, keys: &Keys, kid: &str, actor: &str) -> Result<(), DeviceError> {
    let changed = store::devices::revoke(store, kid).await?;
    if !changed {
        return match find(store, kid).await? {
            Some(_) => Ok(()),
            None => Err(DeviceError::Unknown(kid.into())),
        };
    }
    audit::append(
        store,
        keys,
        Entry {
            kind: "device_revoked",
            actor,
            subject: &format!("device:{kid}"),
            detail: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

/// A usable device: registered and not revoked.
pub async fn usable(store: &Store, kid: &str) -> Result<Device, ApiError> {
    match find(store, kid).await? {
        None => Err(ApiError::new(
            Code::DeviceUnknown,
            "this device is not registered; register its key first",
        )),
        Some(d) if d.revoked_at.is_some() => Err(ApiError::new(
            Code::DeviceRevoked,
            "this device's key has been revoked",
        )),
        Some(d) => Ok(d),
    }
}
