//! The `audit` and `audit_head` tables: the chain's entries and its head. The chain's
//! logic (MACs, verification, checkpoints) is `crate::audit`'s.

use sqlx::Row;

use super::{Store, StoreError, Tx};

/// An entry as stored.
pub struct StoredEntry {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The head row: its sequence number, MAC of that entry, and its own MAC.
pub struct Head {
    pub seq: i64,
    pub hash: String,
    pub mac: String,
}

fn head_of(r: &sqlx::any::AnyRow) -> Result<Head, StoreError> {
    Ok(Head {
        seq: r.try_get(0)?,
        hash: r.try_get(1)?,
        mac: r.try_get(2)?,
    })
}

/// Writes one entry.
pub async fn insert(tx: &mut Tx<'_>, e: &StoredEntry) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO audit (seq, at, kind, actor, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        e.seq, e.at, &e.kind, &e.actor, &e.subject, &e.detail, &e.prev_hash, &e.hash
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_head(tx: &mut Tx<'_>, seq: i64, hash: &str, mac: &str) -> Result<(), StoreError> {
    bound!(
        "UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1";
        seq, hash, mac
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves the head's sequence number on by one and returns the row: a write first, so it
/// takes the database's write lock (SQLite) or the head row's lock (PostgreSQL), and
/// appends from every connection and instance queue up here.
pub async fn advance_head(tx: &mut Tx<'_>) -> Result<Head, StoreError> {
    let r =
        sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash, mac")
            .fetch_one(&mut **tx)
            .await?;
    head_of(&r)
}

/// The head row, held (a no-op write: the row's lock and, on SQLite, the write lock)
/// until the transaction ends.
pub async fn hold_head(tx: &mut Tx<'_>) -> Result<Head, StoreError> {
    let r = sqlx::query("UPDATE audit_head SET mac = mac WHERE id = 1 RETURNING seq, hash, mac")
        .fetch_one(&mut **tx)
        .await?;
    head_of(&r)
}

/// How many entries there are.
pub async fn count(tx: &mut Tx<'_>) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) FROM audit")
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?)
}

/// How many entries of `kind` there are.
pub async fn count_kind(tx: &mut Tx<'_>, kind: &str) -> Result<i64, StoreError> {
    Ok(bound!("SELECT COUNT(*) FROM audit WHERE kind = $1"; kind)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?)
}

pub async fn head(store: &Store) -> Result<Head, StoreError> {
    let r = sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1")
        .fetch_one(&store.pool)
        .await?;
    head_of(&r)
}

pub async fn head_seq(store: &Store) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(&store.pool)
        .await?
        .try_get::<i64, _>(0)?)
}

/// Every entry, in order.
pub async fn entries(store: &Store) -> Result<Vec<StoredEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit ORDER BY seq",
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(stored_entry).collect()
}

/// The MAC of entry `seq`, if it is there.
pub async fn entry_hash(store: &Store, seq: i64) -> Result<Option<String>, StoreError> {
    Ok(bound!("SELECT hash FROM audit WHERE seq = $1"; seq)
        .fetch_optional(&store.pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
}

/// The details of every entry of `kind`, oldest first: one kind of event, as an operator's
/// tools and the tests read it. A detail that is not JSON (never written by
/// `crate::audit::append`) is given as a string.
pub async fn details_of(store: &Store, kind: &str) -> Result<Vec<serde_json::Value>, StoreError> {
    let rows = bound!(
        "SELECT detail FROM audit WHERE kind = $1 ORDER BY seq";
        kind
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| -> Result<serde_json::Value, StoreError> {
            let text: String = r.try_get(0)?;
            Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
        })
        .collect()
}

/// Up to `limit` entries after `seq` and up to `head`, in order: what a SIEM sink
/// delivers next. (A row beyond the head is not part of the chain: someone wrote it
/// without appending.)
pub async fn entries_after(
    store: &Store,
    (seq, head): (i64, i64),
    limit: i64,
) -> Result<Vec<StoredEntry>, StoreError> {
    let rows = bound!(
        "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3";
        seq, head, limit
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(stored_entry).collect()
}

/// Up to `limit` entries at or before `before` (the head when `None`), newest first, of
/// `kind` only when given: the console's pages, by key rather than offset, so a deep page
/// costs what the first does (`audit_kind_seq` for a kind).
pub async fn newest(
    store: &Store,
    kind: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredEntry>, StoreError> {
    let before = before.unwrap_or(i64::MAX);
    let rows = match kind {
        Some(kind) => bound!(
            "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit WHERE kind = $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3";
            kind, before, limit
        )
        .fetch_all(&store.pool)
        .await?,
        None => bound!(
            "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit WHERE seq <= $1 ORDER BY seq DESC LIMIT $2";
            before, limit
        )
        .fetch_all(&store.pool)
        .await?,
    };
    rows.iter().map(stored_entry).collect()
}

/// Up to `limit` entries about `subject`, in order (`audit_subject_seq`).
pub async fn of_subject(
    store: &Store,
    subject: &str,
    limit: i64,
) -> Result<Vec<StoredEntry>, StoreError> {
    let rows = bound!(
        "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit WHERE subject = $1 ORDER BY seq LIMIT $2";
        subject, limit
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(stored_entry).collect()
}

/// The entries `from` to `to` (both included), in order.
pub async fn range(store: &Store, from: i64, to: i64) -> Result<Vec<StoredEntry>, StoreError> {
    let rows = bound!(
        "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit WHERE seq >= $1 AND seq <= $2 ORDER BY seq";
        from, to
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(stored_entry).collect()
}

fn stored_entry(r: &sqlx::any::AnyRow) -> Result<StoredEntry, StoreError> {
    Ok(StoredEntry {
        seq: r.try_get(0)?,
        at: r.try_get(1)?,
        kind: r.try_get(2)?,
        actor: r.try_get(3)?,
        subject: r.try_get(4)?,
        detail: r.try_get(5)?,
        prev_hash: r.try_get(6)?,
        hash: r.try_get(7)?,
    })
}
