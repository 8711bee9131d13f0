//! The console's `admin_logins` (sign-ins waiting for the provider's answer) and
//! `admin_sessions` (signed-in people) tables. Secrets are stored hashed: the row names a
//! cookie or a `state`, and only the browser holds the value.

use sqlx::Row;

use super::{Store, StoreError};

/// Keeps a sign-in under way until `expires_at`.
pub async fn insert_login(
    store: &Store,
    state_hash: &str,
    pending_sealed: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO admin_logins (state_hash, pending_sealed, expires_at) VALUES ($1, $2, $3)";
        state_hash, pending_sealed, expires_at
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Sign-ins under way.
pub async fn pending_logins(store: &Store) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) FROM admin_logins")
        .fetch_one(&store.writer)
        .await?
        .try_get(0)?)
}

/// Takes the sign-in named by `state_hash` if it is still valid at `t`: it is deleted in
/// the same statement, so a `state` answers once.
pub async fn take_login(
    store: &Store,
    state_hash: &str,
    t: i64,
) -> Result<Option<String>, StoreError> {
    let row = bound!(
        "DELETE FROM admin_logins WHERE state_hash = $1 RETURNING pending_sealed, expires_at";
        state_hash
    )
    .fetch_optional(&store.writer)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let expires_at: i64 = r.try_get(1)?;
    Ok((expires_at >= t).then(|| r.try_get(0)).transpose()?)
}

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub id_hash: String,
    /// Who, as `issuer subject` of the provider.
    pub subject: String,
    /// A name to show and to write in the audit chain.
    pub name: String,
    /// Comma-joined role names.
    pub roles: String,
    /// The names the person's own account goes by (login, mail), lower case, comma-joined.
    pub aliases: String,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub expires_at: i64,
}

pub async fn insert_session(store: &Store, s: &AdminSession) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO admin_sessions (id_hash, subject, name, roles, aliases, csrf, created_at, last_seen, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        &s.id_hash, &s.subject, &s.name, &s.roles, &s.aliases, &s.csrf, s.created_at, s.last_seen, s.expires_at
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// The session named by `id_hash` if, at `t`, it has not expired and has not been idle
/// longer than `idle_s`; its `last_seen` moves to `t`.
pub async fn touch_session(
    store: &Store,
    id_hash: &str,
    t: i64,
    idle_s: i64,
) -> Result<Option<AdminSession>, StoreError> {
    let row = bound!(
        "UPDATE admin_sessions SET last_seen = $1 WHERE id_hash = $2 AND expires_at >= $1 AND last_seen >= $3 \
         RETURNING id_hash, subject, name, roles, aliases, csrf, created_at, last_seen, expires_at";
        t, id_hash, t - idle_s
    )
    .fetch_optional(&store.writer)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(AdminSession {
        id_hash: r.try_get(0)?,
        subject: r.try_get(1)?,
        name: r.try_get(2)?,
        roles: r.try_get(3)?,
        aliases: r.try_get(4)?,
        csrf: r.try_get(5)?,
        created_at: r.try_get(6)?,
        last_seen: r.try_get(7)?,
        expires_at: r.try_get(8)?,
    }))
}

pub async fn delete_session(store: &Store, id_hash: &str) -> Result<(), StoreError> {
    bound!("DELETE FROM admin_sessions WHERE id_hash = $1"; id_hash)
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Deletes sign-ins and sessions past their time at `t` (sessions idle longer than
/// `idle_s` too).
pub async fn expire(store: &Store, t: i64, idle_s: i64) -> Result<(), StoreError> {
    bound!("DELETE FROM admin_logins WHERE expires_at < $1"; t)
        .execute(&store.writer)
        .await?;
    bound!(
        "DELETE FROM admin_sessions WHERE expires_at < $1 OR last_seen < $2"; t, t - idle_s
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}
