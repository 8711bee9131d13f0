//! The `limits` table (fixed windows and biometric failure runs, by key) and the count of
//! failed sessions the sessions table gives. What the counts mean is `crate::limits`'s.

use sqlx::Row;

use super::{Store, StoreError};

/// A key's window: its count and when the window started.
pub struct Window {
    pub key: String,
    pub count: i64,
    pub start: i64,
}

fn windows(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<Window>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(Window {
                key: row.try_get(0)?,
                count: row.try_get(1)?,
                start: row.try_get(2)?,
            })
        })
        .collect()
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The windows of those `keys` that have a row. A read: writes nothing.
pub async fn windows_of(store: &Store, keys: &[&str]) -> Result<Vec<Window>, StoreError> {
    let sql = format!(
        "SELECT key, count, window_start FROM limits WHERE key IN ({})",
        placeholders(1, keys.len())
    );
    let mut query = sqlx::query(&sql);
    for key in keys {
        query = query.bind(*key);
    }
    windows(query.fetch_all(&store.pool).await?)
}

/// Counts one event at `t` under each `(key, window_s)`, in one statement; a window that
/// has run out starts again at `t`. Returns the windows after counting.
pub async fn count(store: &Store, t: i64, keys: &[(&str, i64)]) -> Result<Vec<Window>, StoreError> {
    let rows: Vec<String> = (0..keys.len())
        .map(|i| format!("(${}, $1, 1, 0, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
        .collect();
    // A window that has run out starts again at this request.
    let expired = "limits.window_start + excluded.window_s <= excluded.window_start";
    let sql = format!(
        "INSERT INTO limits (key, window_start, count, locked_until, window_s, expires_at) VALUES {} \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN {expired} THEN 1 ELSE limits.count + 1 END, \
           window_start = CASE WHEN {expired} THEN excluded.window_start ELSE limits.window_start END, \
           expires_at = CASE WHEN {expired} THEN excluded.expires_at ELSE limits.window_start + excluded.window_s END, \
           window_s = excluded.window_s \
         RETURNING key, count, window_start",
        rows.join(", ")
    );
    let mut query = bound!(&sql; t);
    for (key, window_s) in keys {
        query = query.bind(*key).bind(*window_s).bind(t + window_s);
    }
    windows(query.fetch_all(&store.writer).await?)
}

/// What failed sessions are counted by.
#[derive(Debug, Clone, Copy)]
pub enum FailedBy {
    Device,
    Address,
}

/// The start time of the `offset`-th most recent (from 0) failed session of a
/// self-registered device started after `since` from `value` (a device's key id or an
/// address). Failed: ended rejected, or still `open` (abandoned, expired, or refused on
/// the device and never sent). Sessions of managed and hardware devices are not counted:
/// a kiosk's sessions at the same address (an office NAT) are not a stranger's guessing.
pub async fn failed_session_at(
    store: &Store,
    by: FailedBy,
    value: &str,
    since: i64,
    offset: i64,
) -> Result<Option<i64>, StoreError> {
    let column = match by {
        FailedBy::Device => "device_key",
        FailedBy::Address => "client_addr",
    };
    let sql = format!(
        "SELECT s.created_at FROM sessions s JOIN devices d ON d.key_id = s.device_key \
         WHERE s.{column} = $1 AND s.created_at > $2 AND d.tier = 'unmanaged' \
         AND s.state IN ('open', 'rejected') ORDER BY s.created_at DESC LIMIT 1 OFFSET $3"
    );
    let row = bound!(&sql; value, since, offset)
        .fetch_optional(&store.pool)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// A run of biometric failures as stored.
pub struct Run {
    pub locked_until: i64,
    pub count: i64,
    /// Where the run's decay counts from.
    pub anchor: i64,
    /// Seconds per failure forgotten (0 for rows from before decay).
    pub unit: i64,
}

/// The runs of those `keys` (already `bio:`-prefixed) that have a row; one query.
pub async fn runs(store: &Store, keys: &[String]) -> Result<Vec<Run>, StoreError> {
    let sql = format!(
        "SELECT locked_until, count, window_start, window_s FROM limits WHERE key IN ({})",
        placeholders(1, keys.len())
    );
    let mut query = sqlx::query(&sql);
    for k in keys {
        query = query.bind(k.as_str());
    }
    query
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Run {
                locked_until: r.try_get(0)?,
                count: r.try_get(1)?,
                anchor: r.try_get(2)?,
                unit: r.try_get(3)?,
            })
        })
        .collect()
}

/// Counts a failure at `t` in `key`'s run, decaying it first; returns the run's count and
/// anchor after. One statement (two instances cannot lose a failure between a read and a
/// write): the run shrinks by one for every whole `unit` seconds since its anchor, and the
/// anchor moves on by as many units, so the remainder keeps counting.
pub async fn count_failure(
    store: &Store,
    key: &str,
    t: i64,
    unit: i64,
) -> Result<(i64, i64), StoreError> {
    // Whole units decayed since the anchor (0 if a clock went backwards).
    let units = "(CASE WHEN excluded.window_start > limits.window_start \
                 THEN (excluded.window_start - limits.window_start) / excluded.window_s ELSE 0 END)";
    let sql = format!(
        "INSERT INTO limits (key, window_start, count, locked_until, window_s, expires_at) \
         VALUES ($1, $2, 1, 0, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN {units} >= limits.count THEN 1 ELSE limits.count - {units} + 1 END, \
           window_start = CASE WHEN {units} >= limits.count THEN excluded.window_start \
                          ELSE limits.window_start + {units} * excluded.window_s END, \
           window_s = excluded.window_s \
         RETURNING count, window_start"
    );
    let row = bound!(&sql; key, t, unit, t + unit)
        .fetch_one(&store.writer)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Locks `key` until `locked_until` and keeps it until `expires_at`; never shortened by a
/// racing failure's smaller values.
pub async fn extend(
    store: &Store,
    key: &str,
    locked_until: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    bound!(
        "UPDATE limits SET \
         locked_until = CASE WHEN locked_until > $1 THEN locked_until ELSE $1 END, \
         expires_at = CASE WHEN expires_at > $2 THEN expires_at ELSE $2 END \
         WHERE key = $3";
        locked_until, expires_at, key
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Deletes `key`'s row.
pub async fn delete(store: &Store, key: &str) -> Result<(), StoreError> {
    bound!("DELETE FROM limits WHERE key = $1"; key)
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Deletes the rows that no longer limit anything as of `t`; how many.
pub async fn prune_at(store: &Store, t: i64) -> Result<u64, StoreError> {
    Ok(bound!(
        "DELETE FROM limits WHERE expires_at <= $1 AND locked_until <= $1";
        t
    )
    .execute(&store.writer)
    .await?
    .rows_affected())
}
