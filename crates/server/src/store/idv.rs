//! The `idv_requests` table: the identity-verification provider's pushed authorization
//! requests, from the push to the code's redemption (migration 0015). Each step is one
//! conditional update, so two requests racing for the same step cannot both take it.

use sqlx::Row;

use super::{Store, StoreError, Tx};

/// A pushed authorization request as kept.
#[derive(Clone)]
pub struct Request {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub claims: Option<String>,
    pub expires_at: i64,
    pub session_id: Option<String>,
    pub browser_hash: Option<String>,
    pub verified_sealed: Option<String>,
    pub verified_at: Option<i64>,
    pub code_hash: Option<String>,
    pub code_expires_at: Option<i64>,
    pub code_used: bool,
}

// Leaves out the state, nonce and claims (the relying party's values) and the sealed
// claims: a request printed in a log says which step it is at, nothing more.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("client_id", &self.client_id)
            .field("session_id", &self.session_id)
            .field("verified", &self.verified_sealed.is_some())
            .field("code_used", &self.code_used)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, client_id, redirect_uri, state, nonce, code_challenge, claims, expires_at, session_id, browser_hash, verified_sealed, verified_at, code_hash, code_expires_at, code_used";

fn of_row(r: &sqlx::any::AnyRow) -> Result<Request, StoreError> {
    let used: i64 = r.try_get(14)?;
    Ok(Request {
        id: r.try_get(0)?,
        client_id: r.try_get(1)?,
        redirect_uri: r.try_get(2)?,
        state: r.try_get(3)?,
        nonce: r.try_get(4)?,
        code_challenge: r.try_get(5)?,
        claims: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        session_id: r.try_get(8)?,
        browser_hash: r.try_get(9)?,
        verified_sealed: r.try_get(10)?,
        verified_at: r.try_get(11)?,
        code_hash: r.try_get(12)?,
        code_expires_at: r.try_get(13)?,
        code_used: used != 0,
    })
}

/// A request as pushed.
pub struct NewRequest<'a> {
    /// The SHA-256 of the request_uri's secret.
    pub id: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub code_challenge: &'a str,
    pub claims: Option<&'a str>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert(tx: &mut Tx<'_>, r: &NewRequest<'_>) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO idv_requests (id, client_id, redirect_uri, state, nonce, code_challenge, claims, created_at, expires_at, code_used) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)";
        r.id, r.client_id, r.redirect_uri, r.state, r.nonce, r.code_challenge, r.claims,
        r.created_at, r.expires_at
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The request whose request_uri hashes to `id`.
pub async fn load(store: &Store, id: &str) -> Result<Option<Request>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM idv_requests WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(of_row).transpose()
}

/// The request the verification session `session_id` was started for, if any: the one
/// way from a session to an ID token.
pub async fn of_session(tx: &mut Tx<'_>, session_id: &str) -> Result<Option<Request>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM idv_requests WHERE session_id = $1");
    let row = sqlx::query(&sql)
        .bind(session_id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(of_row).transpose()
}

/// Binds the new session `session_id` and the browser's cookie to request `id`, if it
/// was never used and has not expired: whether this call did (the request_uri's one use).
pub async fn start(
    tx: &mut Tx<'_>,
    id: &str,
    session_id: &str,
    browser_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE idv_requests SET session_id = $1, browser_hash = $2 WHERE id = $3 AND session_id IS NULL AND expires_at > $4";
        session_id, browser_hash, id, now
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Keeps the verified claims (sealed) of the session bound to a request, in the
/// decision's own transaction; whether a request was waiting for them.
pub async fn verified(
    tx: &mut Tx<'_>,
    session_id: &str,
    sealed: &str,
    at: i64,
) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE idv_requests SET verified_sealed = $1, verified_at = $2 WHERE session_id = $3 AND verified_sealed IS NULL";
        sealed, at, session_id
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Gives request `id` its code (the hash), once, if its verification passed.
pub async fn set_code(
    store: &Store,
    id: &str,
    code_hash: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE idv_requests SET code_hash = $1, code_expires_at = $2 WHERE id = $3 AND code_hash IS NULL AND verified_sealed IS NOT NULL";
        code_hash, expires_at, id
    )
    .execute(&store.writer)
    .await?
    .rows_affected()
        == 1)
}

/// Marks request `id` answered with a refusal (`marker` takes the code's place, a value no
/// code hashes to), once.
pub async fn set_code_denied(store: &Store, id: &str, marker: &str) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE idv_requests SET code_hash = $1, code_used = 1 WHERE id = $2 AND code_hash IS NULL";
        marker, id
    )
    .execute(&store.writer)
    .await?
    .rows_affected()
        == 1)
}

/// The request whose code hashes to `code_hash`, spent by this call: `None` when there is
/// none or it was spent before (by this request or a racing one).
pub async fn redeem(store: &Store, code_hash: &str) -> Result<Option<Request>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM idv_requests WHERE code_hash = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(code_hash)
        .fetch_optional(&store.pool)
        .await?
    else {
        return Ok(None);
    };
    let request = of_row(&row)?;
    let spent = bound!(
        "UPDATE idv_requests SET code_used = 1 WHERE code_hash = $1 AND code_used = 0";
        code_hash
    )
    .execute(&store.writer)
    .await?
    .rows_affected()
        == 1;
    Ok(spent.then_some(request))
}
