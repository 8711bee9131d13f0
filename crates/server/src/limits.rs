//! Abuse limits kept in the database, so every instance sees the same counts.
//!
//! Fixed-window counters (per user, per device, per address) and the biometric lockout
//! of NIST SP 800-63B-4: after a run of failed verifications the account waits, at least
//! 30 s, doubling with each further failure. Keys are built from the login as typed
//! (lower-cased), not from the directory record, so unknown and known accounts are
//! limited alike and the limits cannot be used to find out which accounts exist.

use sqlx::Row;

use crate::store::{now, Store, StoreError};

/// Counts one event under `key` in a window of `window_s`; `Err(retry_after_s)` once
/// there have been more than `max`.
pub async fn hit(
    store: &Store,
    key: &str,
    window_s: i64,
    max: i64,
) -> Result<Result<(), i64>, StoreError> {
    hit_all(store, &[(key.to_string(), window_s, max)]).await
}

/// Counts one event under each `(key, window_s, max)` in one statement (one write,
/// whatever the number of keys); `Err(retry_after_s)` when any is over its limit.
pub async fn hit_all(
    store: &Store,
    keys: &[(String, i64, i64)],
) -> Result<Result<(), i64>, StoreError> {
    if keys.is_empty() {
        return Ok(Ok(()));
    }
    let t = now();
    let rows: Vec<String> = (0..keys.len())
        .map(|i| format!("(${}, $1, 1, 0, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO limits (key, window_start, count, locked_until, window_s) VALUES {} \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN limits.window_start + excluded.window_s <= excluded.window_start THEN 1 ELSE limits.count + 1 END, \
           window_start = CASE WHEN limits.window_start + excluded.window_s <= excluded.window_start THEN excluded.window_start ELSE limits.window_start END, \
           window_s = excluded.window_s \
         RETURNING key, count, window_start",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(t);
    for (key, window_s, _) in keys {
        query = query.bind(key.as_str()).bind(*window_s);
    }
    let rows = query.fetch_all(&store.writer).await?;
    let mut wait = 0;
    for row in rows {
        let key: String = row.try_get(0)?;
        let count: i64 = row.try_get(1)?;
        let start: i64 = row.try_get(2)?;
        if let Some((_, window_s, max)) = keys.iter().find(|(k, _, _)| *k == key) {
            if count > *max {
                wait = wait.max((start + window_s - t).max(1));
            }
        }
    }
    Ok(if wait > 0 { Err(wait) } else { Ok(()) })
}

/// The state of `key`'s biometric failures: `wait` is `Some(seconds)` while attempts
/// must wait; `failures` whether there is a run of failures to clear on success.
pub struct BiometricState {
    pub wait: Option<i64>,
    pub failures: bool,
}

/// The combined state of several keys (a login and its account): the longest wait, and
/// whether any has failures to clear. One query, whatever the number of keys.
pub async fn biometric_state(store: &Store, keys: &[String]) -> Result<BiometricState, StoreError> {
    let mut state = BiometricState {
        wait: None,
        failures: false,
    };
    if keys.is_empty() {
        return Ok(state);
    }
    let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT locked_until FROM limits WHERE key IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for k in keys {
        query = query.bind(format!("bio:{k}"));
    }
    let rows = query.fetch_all(&store.pool).await?;
    let t = now();
    for r in rows {
        let until: i64 = r.try_get(0)?;
        state.failures = true;
        if until > t {
            state.wait = Some(state.wait.unwrap_or(0).max(until - t));
        }
    }
    Ok(state)
}

/// Records a failed verification; returns the consecutive count.
pub async fn biometric_failure(
    store: &Store,
    key: &str,
    allowed: i64,
    first_delay_s: i64,
) -> Result<i64, StoreError> {
    let t = now();
    let row = sqlx::query(
        "INSERT INTO limits (key, window_start, count, locked_until) VALUES ($1, $2, 1, 0) \
         ON CONFLICT (key) DO UPDATE SET count = limits.count + 1 \
         RETURNING count",
    )
    .bind(format!("bio:{key}"))
    .bind(t)
    .fetch_one(&store.writer)
    .await?;
    let count: i64 = row.try_get(0)?;
    if count >= allowed {
        let doublings = (count - allowed).min(7) as u32;
        let delay = (first_delay_s.saturating_mul(1 << doublings)).min(3600);
        sqlx::query("UPDATE limits SET locked_until = $1 WHERE key = $2")
            .bind(t + delay)
            .bind(format!("bio:{key}"))
            .execute(&store.writer)
            .await?;
    }
    Ok(count)
}

/// A success ends the run of failures.
pub async fn biometric_success(store: &Store, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM limits WHERE key = $1")
        .bind(format!("bio:{key}"))
        .execute(&store.writer)
        .await?;
    Ok(())
}
