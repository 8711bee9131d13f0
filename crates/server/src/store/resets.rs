//! The `grants` table: what an approving decision issued, and the reset's way from
//! `issued` through `pending` to `completed`, `failed` or `cancelled`. Every change that
//! must happen once is one conditional statement; its `bool` says whether this call won.

use reclaim_protocol::RecoveryAction;
use sqlx::Row;

use super::{now, Store, StoreError, Tx};

/// A grant as stored.
pub struct Grant {
    pub id: String,
    pub session_id: String,
    pub user_ref: String,
    pub login: String,
    pub action: RecoveryAction,
    pub state: String,
    pub expires_at: i64,
    pub template_sealed: Option<String>,
    pub password_sealed: Option<String>,
    pub lease_until: i64,
    pub attempts: i64,
    /// A change approved with notice and delay is applied no sooner (0: at once).
    pub apply_after: i64,
    /// The code a failed reset ended with.
    pub failure: Option<String>,
    /// Transient directory failures in a row while pending.
    pub directory_failures: i64,
    /// When the recovery was decided (Unix seconds).
    pub created_at: i64,
}

/// A new grant, as a decision issues it.
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub session_id: &'a str,
    pub user_ref: &'a str,
    pub login: &'a str,
    pub action: RecoveryAction,
    pub expires_at: i64,
    pub template_sealed: Option<String>,
    pub created_at: i64,
    pub apply_after: i64,
}

/// Writes a grant in state `issued`.
pub async fn insert(tx: &mut Tx<'_>, g: NewGrant<'_>) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO grants (id, session_id, user_ref, login, action, state, expires_at, template_sealed, password_sealed, lease_until, attempts, created_at, completed_at, apply_after) \
         VALUES ($1, $2, $3, $4, $5, 'issued', $6, $7, NULL, 0, 0, $8, NULL, $9)";
        g.id, g.session_id, g.user_ref, g.login, g.action.as_str(), g.expires_at, g.template_sealed,
        g.created_at, g.apply_after
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn load(store: &Store, id: &str) -> Result<Option<Grant>, StoreError> {
    let row = bound!(
        "SELECT id, session_id, user_ref, login, action, state, expires_at, template_sealed, password_sealed, lease_until, attempts, apply_after, failure, directory_failures, created_at FROM grants WHERE id = $1";
        id
    )
    .fetch_optional(&store.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let action: String = r.try_get(4)?;
    Ok(Some(Grant {
        id: r.try_get(0)?,
        session_id: r.try_get(1)?,
        user_ref: r.try_get(2)?,
        login: r.try_get(3)?,
        action: RecoveryAction::parse(&action)
            .ok_or_else(|| StoreError::Config("invalid action in grants".into()))?,
        state: r.try_get(5)?,
        expires_at: r.try_get(6)?,
        template_sealed: r.try_get(7)?,
        password_sealed: r.try_get(8)?,
        lease_until: r.try_get(9)?,
        attempts: r.try_get(10)?,
        apply_after: r.try_get(11)?,
        failure: r.try_get(12)?,
        directory_failures: r.try_get(13)?,
        created_at: r.try_get(14)?,
    }))
}

/// A grant as the audit chain checks it against its decision.
pub struct IssuedGrant {
    pub id: String,
    pub session_id: String,
    pub user_ref: String,
    pub action: String,
    pub apply_after: i64,
}

/// Every grant, by id.
pub async fn grants_as_issued(store: &Store) -> Result<Vec<IssuedGrant>, StoreError> {
    let rows =
        sqlx::query("SELECT id, session_id, user_ref, action, apply_after FROM grants ORDER BY id")
            .fetch_all(&store.pool)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(IssuedGrant {
                id: row.try_get(0)?,
                session_id: row.try_get(1)?,
                user_ref: row.try_get(2)?,
                action: row.try_get(3)?,
                apply_after: row.try_get(4)?,
            })
        })
        .collect()
}

/// Counts an attempt with a refused password.
pub async fn count_attempt(store: &Store, id: &str) -> Result<(), StoreError> {
    bound!("UPDATE grants SET attempts = attempts + 1 WHERE id = $1"; id)
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Issued → pending with the sealed password and the lease, unless expired at `t`.
pub async fn to_pending(
    store: &Store,
    id: &str,
    password_sealed: Option<String>,
    t: i64,
    lease_until: i64,
) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE grants SET state = 'pending', password_sealed = $1, attempts = attempts + 1, lease_until = $4 \
         WHERE id = $2 AND state = 'issued' AND expires_at > $3";
        password_sealed, id, t, lease_until
    )
    .execute(&store.writer)
    .await?
    .rows_affected()
        == 1)
}

/// Cancels what a "this wasn't me" notice can still stop for the account: every grant not
/// yet used, and every delayed change not yet due. A change already being applied is not
/// touched (it may have reached the directory). Returns how many were cancelled.
pub async fn cancel_for_account(tx: &mut Tx<'_>, user_ref: &str) -> Result<u64, StoreError> {
    Ok(bound!(
        "UPDATE grants SET state = 'cancelled', password_sealed = NULL, template_sealed = NULL \
         WHERE user_ref = $1 AND (state = 'issued' OR (state = 'pending' AND apply_after > $2))";
        user_ref, now()
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Takes a pending grant's lease, held until `until`, if it is still `lease_until`.
pub async fn take_lease(
    store: &Store,
    id: &str,
    lease_until: i64,
    until: i64,
) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE grants SET lease_until = $1 WHERE id = $2 AND state = 'pending' AND lease_until = $3";
        until, id, lease_until
    )
        .execute(&store.writer)
        .await?
        .rows_affected()
        == 1)
}

/// Pending → issued: the directory refused the password, the grant is usable again.
pub async fn back_to_issued(store: &Store, id: &str) -> Result<(), StoreError> {
    bound!(
        "UPDATE grants SET state = 'issued', password_sealed = NULL, lease_until = 0, directory_failures = 0 WHERE id = $1 AND state = 'pending'";
        id
    )
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Releases a pending grant's lease until `until`, with its run of directory failures.
pub async fn back_off(
    store: &Store,
    id: &str,
    until: i64,
    failures: i64,
) -> Result<(), StoreError> {
    bound!(
        "UPDATE grants SET lease_until = $1, directory_failures = $2 WHERE id = $3 AND state = 'pending'";
        until, failures, id
    )
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Ends a grant in state `from` as failed with `code`, its secrets erased, and its
/// session with it, in one transaction; whether this call did.
pub async fn fail(
    store: &Store,
    id: &str,
    session_id: &str,
    from: &str,
    code: &str,
) -> Result<bool, StoreError> {
    let mut tx = store.writer.begin().await?;
    let moved = bound!(
        "UPDATE grants SET state = 'failed', failure = $1, password_sealed = NULL, template_sealed = NULL, lease_until = 0 \
         WHERE id = $2 AND state = $3";
        code, id, from
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    bound!("UPDATE sessions SET state = 'failed' WHERE id = $1"; session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Pending → completed at `t`, its secrets erased, the template enrolled (when the grant
/// carried one) and the session completed, in one transaction; whether this call did.
pub async fn complete(
    store: &Store,
    grant: &Grant,
    t: i64,
    sign_in_code_sealed: Option<&str>,
) -> Result<bool, StoreError> {
    let mut tx = store.writer.begin().await?;
    let done = bound!(
        "UPDATE grants SET state = 'completed', password_sealed = NULL, template_sealed = NULL, completed_at = $1, sign_in_code_sealed = $2 WHERE id = $3 AND state = 'pending'";
        t, sign_in_code_sealed, &grant.id
    )
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if done != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    if let Some(template) = &grant.template_sealed {
        bound!(
            "INSERT INTO templates (user_ref, template_sealed, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_ref) DO UPDATE SET template_sealed = $2, updated_at = $3";
            &grant.user_ref, template, t
        )
        .execute(&mut *tx)
        .await?;
    }
    bound!(
        "UPDATE sessions SET state = 'completed' WHERE id = $1";
        &grant.session_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The pending grants whose lease has run out.
pub async fn pending_due(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows = bound!(
        "SELECT id FROM grants WHERE state = 'pending' AND lease_until < $1";
        now()
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
}

/// How many grants are in `state` (`grants_state`).
pub async fn count_in_state(store: &Store, state: &str) -> Result<i64, StoreError> {
    Ok(
        bound!("SELECT COUNT(*) FROM grants WHERE state = $1"; state)
            .fetch_one(&store.pool)
            .await?
            .try_get(0)?,
    )
}

/// Takes the sealed sign-in code out of a completed grant: the caller whose conditional
/// update erases it is the one that gets it, so a code is handed out at most once however
/// many requests race for it.
pub async fn take_sign_in_code(
    store: &Store,
    grant_id: &str,
) -> Result<Option<String>, StoreError> {
    let row = bound!(
        "SELECT sign_in_code_sealed FROM grants WHERE id = $1 AND state = 'completed'";
        grant_id
    )
    .fetch_optional(&store.pool)
    .await?;
    let Some(sealed) = row
        .map(|r| r.try_get::<Option<String>, _>(0))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let taken = bound!(
        "UPDATE grants SET sign_in_code_sealed = NULL WHERE id = $1 AND sign_in_code_sealed = $2";
        grant_id, &sealed
    )
    .execute(&store.writer)
    .await?
    .rows_affected();
    Ok((taken == 1).then_some(sealed))
}

/// Erases the sealed sign-in codes of grants completed before `t`; how many.
pub async fn erase_sign_in_codes_completed_before(
    store: &Store,
    t: i64,
) -> Result<u64, StoreError> {
    Ok(bound!(
        "UPDATE grants SET sign_in_code_sealed = NULL WHERE sign_in_code_sealed IS NOT NULL AND completed_at < $1";
        t
    )
    .execute(&store.writer)
    .await?
    .rows_affected())
}
