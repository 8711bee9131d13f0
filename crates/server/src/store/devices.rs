//! The `devices` table: registered keys, their tier and revocation.

use reclaim_protocol::wire::devices::Tier;
use reclaim_protocol::PublicDeviceKey;
use serde::Serialize;
use sqlx::Row;

use super::{now, Store, StoreError};

/// A registered device.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub key_id: String,
    #[serde(skip)]
    pub public_key: PublicDeviceKey,
    pub tier: Tier,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Sets an existing device's tier and name.
pub async fn set_tier(store: &Store, kid: &str, tier: Tier, name: &str) -> Result<(), StoreError> {
    bound!(
        "UPDATE devices SET tier = $1, name = $2 WHERE key_id = $3";
        tier.as_str(), name, kid
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Inserts a new device; a key registered meanwhile is left as it is.
pub async fn insert(
    store: &Store,
    kid: &str,
    public_key: &str,
    tier: Tier,
    name: &str,
) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO devices (key_id, public_key, tier, name, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (key_id) DO NOTHING";
        kid, public_key, tier.as_str(), name, now()
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Revokes a device not revoked yet; whether this call did.
pub async fn revoke(store: &Store, kid: &str) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE devices SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL";
        now(), kid
    )
    .execute(&store.writer)
    .await?
    .rows_affected()
        > 0)
}

pub async fn find(store: &Store, kid: &str) -> Result<Option<Device>, StoreError> {
    let row = bound!(
        "SELECT key_id, public_key, tier, name, created_at, revoked_at FROM devices WHERE key_id = $1";
        kid
    )
    .fetch_optional(&store.pool)
    .await?;
    row.map(|r| device_of(&r)).transpose()
}

pub async fn list(store: &Store) -> Result<Vec<Device>, StoreError> {
    let rows = sqlx::query("SELECT key_id, public_key, tier, name, created_at, revoked_at FROM devices ORDER BY created_at, key_id")
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(device_of).collect()
}

fn device_of(r: &sqlx::any::AnyRow) -> Result<Device, StoreError> {
    let public: String = r.try_get(1)?;
    let tier: String = r.try_get(2)?;
    let bad = |what: &str| StoreError::Config(format!("devices table holds an invalid {what}"));
    Ok(Device {
        key_id: r.try_get(0)?,
        public_key: PublicDeviceKey::from_base64(&public).map_err(|_| bad("key"))?,
        tier: Tier::parse(&tier).ok_or_else(|| bad("tier"))?,
        name: r.try_get(3)?,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}

/// A device as the console lists it: with its last use, the newest session its key
/// started (`sessions_device_created` answers it from the index).
pub struct Listed {
    pub device: Device,
    pub last_used: Option<i64>,
}

/// Up to `limit` devices from `offset`, newest first, with their last use.
pub async fn page(store: &Store, limit: i64, offset: i64) -> Result<Vec<Listed>, StoreError> {
    let rows = bound!(
        "SELECT d.key_id, d.public_key, d.tier, d.name, d.created_at, d.revoked_at, \
         (SELECT MAX(s.created_at) FROM sessions s WHERE s.device_key = d.key_id) \
         FROM devices d ORDER BY d.created_at DESC, d.key_id LIMIT $1 OFFSET $2";
        limit, offset
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Listed {
                device: device_of(r)?,
                last_used: r.try_get(6)?,
            })
        })
        .collect()
}

/// How many devices are registered.
pub async fn count(store: &Store) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) FROM devices")
        .fetch_one(&store.pool)
        .await?
        .try_get(0)?)
}
