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
    sqlx::query("INSERT INTO reviews (session_id, evidence_sealed, reasons, created_at, delete_after, outcome) VALUES ($1, $2, $3, $4, $5, NULL)")
        .bind(session_id)
        .bind(evidence_sealed)
        .bind(reasons)
        .bind(created_at)
        .bind(delete_after)
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Deletes review evidence past its retention.
pub async fn expire(store: &Store) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM reviews WHERE delete_after < $1")
        .bind(now())
        .execute(&store.writer)
        .await?
        .rows_affected())
}
