//! The console's local accounts (`admin_local_accounts`) and their passkeys
//! (`admin_passkeys`): bootstrap and break-glass sign-ins that need no OpenID provider.
//! The enrolment link's secret is stored hashed; a passkey is public data.

use sqlx::Row;

use super::{Store, StoreError};

/// A local account as stored.
#[derive(Debug, Clone)]
pub struct LocalAccount {
    /// Lower case; the account's sign-ins are `local:<name>`.
    pub name: String,
    /// The WebAuthn user handle (a UUID, as text).
    pub user_id: String,
    /// Comma-joined role names.
    pub roles: String,
    pub created_at: i64,
    /// Who made it (`admin:cli`, ...).
    pub created_by: String,
    pub last_used: Option<i64>,
    /// When its enrolment link stops working; `None` once used (or never issued).
    pub enrol_expires: Option<i64>,
    /// Passkeys enrolled.
    pub passkeys: i64,
}

/// A passkey as stored: the account it belongs to and webauthn-rs's JSON of it.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub account: String,
    pub passkey: String,
}

/// Makes an account with an enrolment link (`enrol_hash`, good until `enrol_expires`).
/// `false`: an account of that name exists already.
pub async fn insert_account(
    store: &Store,
    a: &LocalAccount,
    enrol_hash: &str,
) -> Result<bool, StoreError> {
    let done = bound!(
        "INSERT INTO admin_local_accounts (name, user_id, roles, created_at, created_by, enrol_hash, enrol_expires) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING";
        &a.name, &a.user_id, &a.roles, a.created_at, &a.created_by, enrol_hash, a.enrol_expires
    )
    .execute(&store.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

const ACCOUNT_COLUMNS: &str =
    "a.name, a.user_id, a.roles, a.created_at, a.created_by, a.last_used, a.enrol_expires, \
     (SELECT COUNT(*) FROM admin_passkeys p WHERE p.account = a.name)";

fn account_of(r: &sqlx::any::AnyRow) -> Result<LocalAccount, StoreError> {
    Ok(LocalAccount {
        name: r.try_get(0)?,
        user_id: r.try_get(1)?,
        roles: r.try_get(2)?,
        created_at: r.try_get(3)?,
        created_by: r.try_get(4)?,
        last_used: r.try_get(5)?,
        enrol_expires: r.try_get(6)?,
        passkeys: r.try_get(7)?,
    })
}

/// Every local account, by name.
pub async fn accounts(store: &Store) -> Result<Vec<LocalAccount>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM admin_local_accounts a ORDER BY a.name"
    ))
    .fetch_all(&store.writer)
    .await?;
    rows.iter().map(account_of).collect()
}

/// The account named `name`.
pub async fn account(store: &Store, name: &str) -> Result<Option<LocalAccount>, StoreError> {
    let row = bound!(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM admin_local_accounts a WHERE a.name = $1");
        name
    )
    .fetch_optional(&store.writer)
    .await?;
    row.as_ref().map(account_of).transpose()
}

/// The account whose enrolment link hashes to `enrol_hash`, if the link still works at `t`.
pub async fn account_by_enrolment(
    store: &Store,
    enrol_hash: &str,
    t: i64,
) -> Result<Option<LocalAccount>, StoreError> {
    let row = bound!(
        &format!(
            "SELECT {ACCOUNT_COLUMNS} FROM admin_local_accounts a \
             WHERE a.enrol_hash = $1 AND a.enrol_expires >= $2"
        );
        enrol_hash, t
    )
    .fetch_optional(&store.writer)
    .await?;
    row.as_ref().map(account_of).transpose()
}

/// The credential ids of `account`'s passkeys (base64url).
pub async fn credential_ids(store: &Store, account: &str) -> Result<Vec<String>, StoreError> {
    let rows = bound!("SELECT cred_id FROM admin_passkeys WHERE account = $1"; account)
        .fetch_all(&store.writer)
        .await?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(StoreError::from))
        .collect()
}

/// Uses up `account`'s enrolment link (`enrol_hash`, if still good at `t`) and keeps the
/// passkey it enrolled, together: a link enrols one passkey, however many browsers raced
/// with it. `false`: the link was used, replaced or expired meanwhile (nothing changed).
pub async fn enrol_passkey(
    store: &Store,
    account: &str,
    enrol_hash: &str,
    t: i64,
    cred_id: &str,
    passkey: &str,
    counter: i64,
) -> Result<bool, StoreError> {
    let mut tx = store.writer.begin().await?;
    let used = bound!(
        "UPDATE admin_local_accounts SET enrol_hash = NULL, enrol_expires = NULL \
         WHERE name = $1 AND enrol_hash = $2 AND enrol_expires >= $3";
        account, enrol_hash, t
    )
    .execute(&mut *tx)
    .await?;
    if used.rows_affected() != 1 {
        return Ok(false);
    }
    // A credential id already enrolled (to anyone) is not taken over.
    let kept = bound!(
        "INSERT INTO admin_passkeys (cred_id, account, passkey, counter, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cred_id) DO NOTHING";
        cred_id, account, passkey, counter, t
    )
    .execute(&mut *tx)
    .await?;
    if kept.rows_affected() != 1 {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// The passkey whose credential id is `cred_id` (base64url).
pub async fn passkey(store: &Store, cred_id: &str) -> Result<Option<StoredPasskey>, StoreError> {
    let row = bound!("SELECT account, passkey FROM admin_passkeys WHERE cred_id = $1"; cred_id)
        .fetch_optional(&store.writer)
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(StoredPasskey {
        account: r.try_get(0)?,
        passkey: r.try_get(1)?,
    }))
}

/// Records a sign-in with passkey `cred_id` at `t`: its new state (counter, flags) and the
/// account's last use. `false`: the passkey was removed meanwhile, or a sign-in with a
/// counter as high or higher was recorded first (a cloned authenticator, or a race).
pub async fn passkey_used(
    store: &Store,
    cred_id: &str,
    account: &str,
    passkey: &str,
    counter: i64,
    t: i64,
) -> Result<bool, StoreError> {
    let mut tx = store.writer.begin().await?;
    // A counter of 0 is an authenticator that keeps none (most synced passkeys).
    let done = bound!(
        "UPDATE admin_passkeys SET passkey = $1, counter = $2, last_used = $3 \
         WHERE cred_id = $4 AND account = $5 AND (counter < $2 OR $2 = 0)";
        passkey, counter, t, cred_id, account
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    bound!("UPDATE admin_local_accounts SET last_used = $1 WHERE name = $2"; t, account)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Removes `account`, its passkeys and its console sign-ins (`subject`), together.
/// `false`: no such account.
pub async fn remove_account(
    store: &Store,
    account: &str,
    subject: &str,
) -> Result<bool, StoreError> {
    let mut tx = store.writer.begin().await?;
    let gone = bound!("DELETE FROM admin_local_accounts WHERE name = $1"; account)
        .execute(&mut *tx)
        .await?;
    bound!("DELETE FROM admin_passkeys WHERE account = $1"; account)
        .execute(&mut *tx)
        .await?;
    bound!("DELETE FROM admin_sessions WHERE subject = $1"; subject)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(gone.rows_affected() == 1)
}
