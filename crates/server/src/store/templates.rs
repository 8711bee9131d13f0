//! The `templates` table: a returning user's face template, sealed (written when a reset
//! completes: `super::resets::complete`).

use sqlx::Row;

use super::{Store, StoreError};

/// Whether `user_ref` has a template.
pub async fn exists(store: &Store, user_ref: &str) -> Result<bool, StoreError> {
    Ok(bound!(
        "SELECT updated_at FROM templates WHERE user_ref = $1";
        user_ref
    )
    .fetch_optional(&store.pool)
    .await?
    .is_some())
}

/// The sealed template of `user_ref`, if there is one.
pub async fn sealed(store: &Store, user_ref: &str) -> Result<Option<String>, StoreError> {
    let row = bound!(
        "SELECT template_sealed FROM templates WHERE user_ref = $1";
        user_ref
    )
    .fetch_optional(&store.pool)
    .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}
