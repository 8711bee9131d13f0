//! The notices' tables: `notices` (mails to send, sealed), `notice_links` (the "this
//! wasn't me" links), `refusal_series` (refusals per account, to mail from the second on)
//! and `self_service_locks` (accounts whose owner disputed a recovery).

use sqlx::Row;

use super::{Store, StoreError, Tx};

/// Counts a refusal of `user_ref` at `at` in its series; a series older than
/// `quiet_since` starts again. Returns the refusal's number in the series. One statement,
/// so concurrent refusals (or instances) count each other: the row's lock orders them on
/// PostgreSQL, SQLite has one writer.
pub async fn count_refusal(
    tx: &mut Tx<'_>,
    user_ref: &str,
    at: i64,
    quiet_since: i64,
) -> Result<i64, StoreError> {
    Ok(bound!(
        "INSERT INTO refusal_series (user_ref, count, last_at) VALUES ($1, 1, $2) \
         ON CONFLICT (user_ref) DO UPDATE SET \
         count = CASE WHEN refusal_series.last_at < $3 THEN 1 ELSE refusal_series.count + 1 END, \
         last_at = $2 \
         RETURNING count";
        user_ref, at, quiet_since
    )
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// A "this wasn't me" link as stored.
pub struct Link {
    pub session_id: String,
    pub action: String,
    pub kind: String,
    pub happened_at: i64,
    pub effective_at: Option<i64>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A new link, by its token's hash.
pub struct NewLink<'a> {
    pub token_hash: &'a str,
    pub user_ref: &'a str,
    pub session_id: &'a str,
    pub action: &'a str,
    pub kind: &'a str,
    pub happened_at: i64,
    pub effective_at: Option<i64>,
    pub expires_at: i64,
}

pub async fn insert_link(tx: &mut Tx<'_>, l: NewLink<'_>) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO notice_links (token_hash, user_ref, session_id, action, kind, happened_at, effective_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)";
        l.token_hash, l.user_ref, l.session_id, l.action, l.kind, l.happened_at, l.effective_at,
        l.expires_at
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn load_link(store: &Store, token_hash: &str) -> Result<Option<Link>, StoreError> {
    let row = bound!(
        "SELECT session_id, action, kind, happened_at, effective_at, expires_at, used_at FROM notice_links WHERE token_hash = $1";
        token_hash
    )
    .fetch_optional(&store.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Link {
        session_id: r.try_get(0)?,
        action: r.try_get(1)?,
        kind: r.try_get(2)?,
        happened_at: r.try_get(3)?,
        effective_at: r.try_get(4)?,
        expires_at: r.try_get(5)?,
        used_at: r.try_get(6)?,
    }))
}

/// A link spent: the account, session and notice kind it was for.
pub struct SpentLink {
    pub user_ref: String,
    pub session_id: String,
    pub kind: String,
}

/// Spends the link at `t` if it is unused and not expired: single use, only the request
/// whose update spends it gets it.
pub async fn spend_link(
    tx: &mut Tx<'_>,
    token_hash: &str,
    t: i64,
) -> Result<Option<SpentLink>, StoreError> {
    let row = bound!(
        "UPDATE notice_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_ref, session_id, kind";
        t, token_hash
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(SpentLink {
        user_ref: r.try_get(0)?,
        session_id: r.try_get(1)?,
        kind: r.try_get(2)?,
    }))
}

/// A mail to send.
pub struct NewNotice<'a> {
    pub id: &'a str,
    pub user_ref: &'a str,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_sealed: &'a str,
    pub created_at: i64,
}

/// Queues a mail, due at once.
pub async fn insert(tx: &mut Tx<'_>, n: NewNotice<'_>) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO notices (id, user_ref, kind, recipient, subject, body_sealed, created_at, attempts, next_try_at, lease_until, sent_at, gave_up_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7, 0, NULL, NULL)";
        n.id, n.user_ref, n.kind, n.recipient, n.subject, n.body_sealed, n.created_at
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Up to `limit` mails due at `t` that no sender holds, oldest due first.
pub async fn due(store: &Store, t: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    let rows = bound!(
        "SELECT id FROM notices WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_try_at <= $1 AND lease_until < $1 \
         ORDER BY next_try_at LIMIT $2";
        t, limit
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
}

/// A claimed mail.
pub struct Claimed {
    pub recipient: String,
    pub subject: String,
    pub body_sealed: String,
    pub attempts: i64,
    pub user_ref: String,
}

/// Claims mail `id` if it is still due at `t` and no one holds it: its lease until
/// `lease_until`, one attempt more. `None` when another sender has it.
pub async fn claim(
    store: &Store,
    id: &str,
    t: i64,
    lease_until: i64,
) -> Result<Option<Claimed>, StoreError> {
    let claimed = bound!(
        "UPDATE notices SET lease_until = $1, attempts = attempts + 1 \
         WHERE id = $2 AND sent_at IS NULL AND gave_up_at IS NULL AND next_try_at <= $3 AND lease_until < $3";
        lease_until, id, t
    )
    .execute(&store.writer)
    .await?
    .rows_affected();
    if claimed != 1 {
        return Ok(None);
    }
    let row = bound!(
        "SELECT recipient, subject, body_sealed, attempts, user_ref FROM notices WHERE id = $1";
        id
    )
    .fetch_one(&store.pool)
    .await?;
    Ok(Some(Claimed {
        recipient: row.try_get(0)?,
        subject: row.try_get(1)?,
        body_sealed: row.try_get(2)?,
        attempts: row.try_get(3)?,
        user_ref: row.try_get(4)?,
    }))
}

/// Mail `id` was sent at `t`: its body is erased.
pub async fn sent(store: &Store, id: &str, t: i64) -> Result<(), StoreError> {
    bound!(
        "UPDATE notices SET sent_at = $1, body_sealed = '', lease_until = 0 WHERE id = $2 AND sent_at IS NULL";
        t, id
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Mail `id` is tried again at `at`.
pub async fn retry_at(store: &Store, id: &str, at: i64) -> Result<(), StoreError> {
    bound!(
        "UPDATE notices SET next_try_at = $1, lease_until = 0 WHERE id = $2 AND sent_at IS NULL";
        at, id
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Gives mail `id` up at `t`, its body erased; whether this call did.
pub async fn give_up(tx: &mut Tx<'_>, id: &str, t: i64) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE notices SET gave_up_at = $1, body_sealed = '', lease_until = 0 WHERE id = $2 AND sent_at IS NULL AND gave_up_at IS NULL";
        t, id
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Whether self-service is locked for `user_ref`.
pub async fn locked(store: &Store, user_ref: &str) -> Result<bool, StoreError> {
    Ok(bound!(
        "SELECT 1 FROM self_service_locks WHERE user_ref = $1";
        user_ref
    )
    .fetch_optional(&store.pool)
    .await?
    .is_some())
}

/// Locks self-service for `user_ref` at `t` (kept as it is when already locked).
pub async fn lock(tx: &mut Tx<'_>, user_ref: &str, t: i64) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO self_service_locks (user_ref, locked_at, reason) VALUES ($1, $2, 'recovery_disputed') \
         ON CONFLICT (user_ref) DO NOTHING";
        user_ref, t
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Clears the lock of `user_ref`; whether there was one.
pub async fn unlock(tx: &mut Tx<'_>, user_ref: &str) -> Result<bool, StoreError> {
    Ok(bound!(
        "DELETE FROM self_service_locks WHERE user_ref = $1";
        user_ref
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        > 0)
}
