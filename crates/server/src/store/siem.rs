//! The `siem_cursors` table: per SIEM sink, the last audit entry it delivered, its
//! failures in a row, and the lease that makes one instance at a time deliver for it. The
//! entries themselves are read from `audit` ([`super::audit::entries_after`]).

use sqlx::Row;

use super::{Store, StoreError};

/// A sink's cursor, claimed.
pub struct Cursor {
    pub delivered_seq: i64,
    /// The MAC of the entry `delivered_seq` as it was delivered ("" before the first).
    pub delivered_hash: String,
    pub failures: i64,
}

/// Makes sure `sink` has a cursor; a new one starts before the first entry, so a sink
/// receives the whole chain.
pub async fn ensure(store: &Store, sink: &str) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO siem_cursors (sink, delivered_seq, delivered_hash, failures, next_try_at, lease_owner, lease_until) \
         VALUES ($1, 0, '', 0, 0, '', 0) ON CONFLICT (sink) DO NOTHING";
        sink
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Takes `sink`'s lease for `owner` until `lease_until` if it is due at `t` and no other
/// holder's lease runs; `None` when it is not due or someone else holds it. One
/// conditional update, so of two instances only one wins.
pub async fn claim(
    store: &Store,
    sink: &str,
    owner: &str,
    t: i64,
    lease_until: i64,
) -> Result<Option<Cursor>, StoreError> {
    let row = bound!(
        "UPDATE siem_cursors SET lease_owner = $1, lease_until = $2 \
         WHERE sink = $3 AND next_try_at <= $4 AND (lease_until < $4 OR lease_owner = $1) \
         RETURNING delivered_seq, delivered_hash, failures";
        owner, lease_until, sink, t
    )
    .fetch_optional(&store.writer)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Cursor {
        delivered_seq: r.try_get(0)?,
        delivered_hash: r.try_get(1)?,
        failures: r.try_get(2)?,
    }))
}

/// Moves `sink`'s cursor from `from` to `to` (delivered, its MAC `to_hash`), clears its
/// failures and extends the lease, if `owner` still holds it and nobody moved the cursor;
/// whether it did.
pub async fn advance(
    store: &Store,
    sink: &str,
    owner: &str,
    (from, to, to_hash): (i64, i64, &str),
    lease_until: i64,
) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE siem_cursors SET delivered_seq = $1, delivered_hash = $2, failures = 0, next_try_at = 0, lease_until = $3 \
         WHERE sink = $4 AND lease_owner = $5 AND delivered_seq = $6";
        to, to_hash, lease_until, sink, owner, from
    )
    .execute(&store.writer)
    .await?
    .rows_affected()
        == 1)
}

/// Records a failed delivery: `failures` in a row now, tried again at `next_try_at`; the
/// lease is let go.
pub async fn failed(
    store: &Store,
    sink: &str,
    owner: &str,
    failures: i64,
    next_try_at: i64,
) -> Result<(), StoreError> {
    bound!(
        "UPDATE siem_cursors SET failures = $1, next_try_at = $2, lease_until = 0 \
         WHERE sink = $3 AND lease_owner = $4";
        failures, next_try_at, sink, owner
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Puts `sink`'s cursor back before the first entry (the chain changed under it), if
/// `owner` holds the lease.
pub async fn rewind(store: &Store, sink: &str, owner: &str) -> Result<(), StoreError> {
    bound!(
        "UPDATE siem_cursors SET delivered_seq = 0, delivered_hash = '' WHERE sink = $1 AND lease_owner = $2";
        sink, owner
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Lets `sink`'s lease go (nothing left to deliver).
pub async fn release(store: &Store, sink: &str, owner: &str) -> Result<(), StoreError> {
    bound!(
        "UPDATE siem_cursors SET lease_until = 0 WHERE sink = $1 AND lease_owner = $2";
        sink, owner
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// The last entry `sink` delivered and its MAC ((0, ""): none), `None` when it has no
/// cursor.
pub async fn position(store: &Store, sink: &str) -> Result<Option<(i64, String)>, StoreError> {
    let row =
        bound!("SELECT delivered_seq, delivered_hash FROM siem_cursors WHERE sink = $1"; sink)
            .fetch_optional(&store.pool)
            .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((r.try_get(0)?, r.try_get(1)?)))
}

/// The last entry `sink` delivered (0: none), `None` when it has no cursor.
pub async fn delivered(store: &Store, sink: &str) -> Result<Option<i64>, StoreError> {
    Ok(
        bound!("SELECT delivered_seq FROM siem_cursors WHERE sink = $1"; sink)
            .fetch_optional(&store.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?,
    )
}

/// A sink's cursor as the console shows it.
pub struct CursorState {
    pub sink: String,
    pub delivered_seq: i64,
    pub failures: i64,
    pub next_try_at: i64,
}

/// Every sink's cursor, by name.
pub async fn all(store: &Store) -> Result<Vec<CursorState>, StoreError> {
    let rows = sqlx::query(
        "SELECT sink, delivered_seq, failures, next_try_at FROM siem_cursors ORDER BY sink",
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CursorState {
                sink: r.try_get(0)?,
                delivered_seq: r.try_get(1)?,
                failures: r.try_get(2)?,
                next_try_at: r.try_get(3)?,
            })
        })
        .collect()
}
