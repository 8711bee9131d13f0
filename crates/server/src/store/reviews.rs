//! The `reviews` table: evidence kept, sealed, for a person to look at, until its
//! retention runs out.

use super::{now, Store, StoreError};

/// Keeps a session's sealed evidence with its reasons (comma-joined codes) until
/// `delete_after`.
pub async fn insert(
    store: &Store,
    session_id: &str,
    evidence_sealed: &str,
    reasons: &str,
    created_at: i64,
    delete_after: i64,
) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO reviews (session_id, evidence_sealed, reasons, created_at, delete_after, outcome) VALUES ($1, $2, $3, $4, $5, NULL)";
        session_id, evidence_sealed, reasons, created_at, delete_after
    )
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Deletes review evidence past its retention.
pub async fn expire(store: &Store) -> Result<u64, StoreError> {
    Ok(bound!("DELETE FROM reviews WHERE delete_after < $1"; now())
        .execute(&store.writer)
        .await?
        .rows_affected())
}
