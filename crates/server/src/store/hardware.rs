//! The `tpm_registrations` table: TPM registrations waiting for their proof.

use sqlx::Row;

use super::{now, Store, StoreError};

/// Drops expired waiting registrations, then keeps this one (`pending` as JSON).
pub async fn insert_pending(
    store: &Store,
    registration_id: &str,
    pending: &str,
    name: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    bound!("DELETE FROM tpm_registrations WHERE expires_at < $1"; now())
        .execute(&store.writer)
        .await?;
    bound!(
        "INSERT INTO tpm_registrations (registration_id, pending, name, expires_at) VALUES ($1, $2, $3, $4)";
        registration_id, pending, name, expires_at
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Takes a waiting registration out, once: its pending JSON and name, or `None` when
/// there is none (unknown, or taken by another request).
pub async fn take_pending(
    store: &Store,
    registration_id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let mut tx = store.writer.begin().await?;
    let row = bound!(
        "SELECT pending, name FROM tpm_registrations WHERE registration_id = $1";
        registration_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let taken = bound!(
        "DELETE FROM tpm_registrations WHERE registration_id = $1";
        registration_id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    if taken != 1 {
        return Ok(None);
    }
    Ok(Some((row.try_get(0)?, row.try_get(1)?)))
}
