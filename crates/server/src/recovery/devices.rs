//! A device registering its own key (`POST /v1/devices`): limited per address, and
//! always as `unmanaged`; the tiers an administrator gives are `crate::devices`' and
//! `crate::hardware`'s.

use reclaim_protocol::wire::devices::{DeviceRegistration, DeviceView, Tier};
use reclaim_protocol::Code;

use crate::devices::{register, DeviceError};
use crate::error::ApiError;
use crate::{limits, App};

/// Registers the key of a device that asks from `addr`: the device as registered, and
/// `false` when the key was an administrator's already (managed, or hardware), which it
/// stays (answered 200 rather than 201).
pub async fn register_self(
    app: &App,
    addr: &str,
    req: DeviceRegistration,
) -> Result<(DeviceView, bool), ApiError> {
    if let Err(wait) = limits::hit(
        &app.store,
        &format!("devreg:{addr}"),
        3600,
        app.config.limits.device_registrations_per_address_per_hour,
    )
    .await?
    {
        return Err(ApiError::too_many(Code::RateLimited, wait));
    }
    let name = req.name.as_deref().unwrap_or("unmanaged device");
    match register(
        &app.store,
        &app.keys,
        &req.public_key,
        name,
        Tier::Unmanaged,
        "device",
    )
    .await
    {
        Ok(d) => Ok((
            DeviceView {
                key_id: d.key_id,
                tier: d.tier,
            },
            true,
        )),
        // A key an admin registered (managed, or hardware after its TPM attestation) may
        // re-register harmlessly: it keeps the tier the server gave it.
        Err(DeviceError::AlreadyRegistered(kid, tier)) => Ok((
            DeviceView {
                key_id: kid,
                tier: Tier::parse(tier).unwrap_or(Tier::Managed),
            },
            false,
        )),
        Err(DeviceError::Revoked(_)) => Err(ApiError::new(
            Code::DeviceRevoked,
            "this device's key has been revoked",
        )),
        Err(DeviceError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::new(e.code(), e.to_string())),
    }
}
