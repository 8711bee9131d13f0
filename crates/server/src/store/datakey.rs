//! The `data_key` table (the fingerprint of the key that seals this database), and what
//! else in the database shows whether a key was ever used on it. What it means is
//! `crate::datakey`'s business.

use sqlx::Row;

use super::audit::Head;
use super::{DatabaseKind, Store, StoreError};

/// What the database says about the key that sealed it.
pub struct KeyEvidence {
    /// The fingerprint recorded at the first start with a key (migration 13 on).
    pub recorded: Option<String>,
    /// The audit chain's head, when its table has the MAC column (migration 5 on): a MAC
    /// there was made with the key.
    pub head: Option<Head>,
    /// Audit entries: each carries a MAC under the key.
    pub entries: i64,
}

/// Reads the evidence without writing, on a database at any schema version (or none, as
/// `reclaim serve --check` finds a database the server has not opened yet).
pub async fn evidence(store: &Store) -> Result<KeyEvidence, StoreError> {
    let mut evidence = KeyEvidence {
        recorded: None,
        head: None,
        entries: 0,
    };
    if !table_exists(store, "reclaim_schema").await? {
        return Ok(evidence);
    }
    let applied: Vec<i64> = sqlx::query("SELECT version FROM reclaim_schema")
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    if applied.contains(&13) {
        evidence.recorded = sqlx::query("SELECT fingerprint FROM data_key WHERE id = 1")
            .fetch_optional(&store.pool)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?;
    }
    if applied.contains(&1) {
        evidence.entries = sqlx::query("SELECT COUNT(*) FROM audit")
            .fetch_one(&store.pool)
            .await?
            .try_get(0)?;
    }
    if applied.contains(&5) {
        evidence.head = Some(super::audit::head(store).await?);
    }
    Ok(evidence)
}

/// Records `fingerprint` unless one is recorded already; returns the one recorded then
/// (so two instances starting together with different keys cannot both win).
pub async fn record(store: &Store, fingerprint: &str) -> Result<String, StoreError> {
    bound!(
        "INSERT INTO data_key (id, fingerprint, recorded_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING";
        fingerprint, super::now()
    )
    .execute(&store.writer)
    .await?;
    Ok(sqlx::query("SELECT fingerprint FROM data_key WHERE id = 1")
        .fetch_one(&store.writer)
        .await?
        .try_get(0)?)
}

async fn table_exists(store: &Store, name: &str) -> Result<bool, StoreError> {
    let sql = match store.kind {
        DatabaseKind::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
        }
        DatabaseKind::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let n: i64 = bound!(sql; name).fetch_one(&store.pool).await?.try_get(0)?;
    Ok(n > 0)
}
