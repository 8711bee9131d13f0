//! The `sessions` table: one row per recovery attempt, from its start to its outcome.

use reclaim_protocol::wire::sessions::Step;
use reclaim_protocol::{ChallengeAction, LightSequence, RecoveryAction};
use sqlx::Row;

use super::{Store, StoreError, Tx};

/// A session row.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub token_hash: String,
    pub login: String,
    pub user_ref: Option<String>,
    pub action: RecoveryAction,
    pub device_key: String,
    pub nonce: String,
    pub nonce_used: bool,
    pub challenge: Vec<ChallengeAction>,
    /// The screen colours drawn for the selfie; `None` when the policy left them out.
    pub light: Option<LightSequence>,
    pub steps: Vec<Step>,
    pub state: String,
    pub expires_at: i64,
    pub follower_token_hash: Option<String>,
    pub handoff_hash: Option<String>,
    pub handoff_expires_at: Option<i64>,
}

impl Session {
    pub fn needs_document(&self) -> bool {
        self.steps.contains(&Step::Document)
    }
}

/// The steps as the sessions table keeps them (`document,selfie`).
pub(crate) fn join_steps(steps: &[Step]) -> String {
    reclaim_protocol::named::joined(steps, ",")
}

/// The stored steps and challenge, read back strictly: an entry this build does not know
/// is a broken row, not something to leave out (a challenge shortened in silence would be
/// judged as complete with fewer moves than were drawn).
pub(crate) fn stored_lists(
    steps: &str,
    challenge: &str,
) -> Result<(Vec<Step>, Vec<ChallengeAction>), StoreError> {
    let steps = steps
        .split(',')
        .map(Step::parse)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| StoreError::Config("invalid steps in sessions".into()))?;
    let challenge = ChallengeAction::split(challenge)
        .map_err(|e| StoreError::Config(format!("invalid challenge in sessions: {e}")))?;
    Ok((steps, challenge))
}

pub async fn load(store: &Store, id: &str) -> Result<Option<Session>, StoreError> {
    let row = bound!(
        "SELECT id, token_hash, login, user_ref, action, device_key, nonce, nonce_used, challenge, steps, state, expires_at, follower_token_hash, handoff_hash, handoff_expires_at, light FROM sessions WHERE id = $1";
        id
    )
    .fetch_optional(&store.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let action: String = r.try_get(4)?;
    let challenge: String = r.try_get(8)?;
    let steps: String = r.try_get(9)?;
    let nonce_used: i64 = r.try_get(7)?;
    let (steps, challenge) = stored_lists(&steps, &challenge)?;
    let light: Option<String> = r.try_get(15)?;
    // Read back strictly, as the challenge: a sequence this build cannot judge is a
    // broken row, never a session judged without its light.
    let light = light
        .map(|l| LightSequence::split(&l))
        .transpose()
        .map_err(|e| StoreError::Config(format!("invalid light in sessions: {e}")))?;
    Ok(Some(Session {
        id: r.try_get(0)?,
        token_hash: r.try_get(1)?,
        login: r.try_get(2)?,
        user_ref: r.try_get(3)?,
        action: RecoveryAction::parse(&action)
            .ok_or_else(|| StoreError::Config("invalid action in sessions".into()))?,
        device_key: r.try_get(5)?,
        nonce: r.try_get(6)?,
        nonce_used: nonce_used != 0,
        challenge,
        light,
        steps,
        state: r.try_get(10)?,
        expires_at: r.try_get(11)?,
        follower_token_hash: r.try_get(12)?,
        handoff_hash: r.try_get(13)?,
        handoff_expires_at: r.try_get(14)?,
    }))
}

/// A session as it starts.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub login: &'a str,
    pub user_ref: Option<&'a str>,
    pub action: RecoveryAction,
    pub device_key: &'a str,
    pub nonce: &'a str,
    pub challenge: &'a [ChallengeAction],
    pub light: Option<&'a LightSequence>,
    pub steps: &'a [Step],
    pub created_at: i64,
    pub expires_at: i64,
    pub client_addr: &'a str,
}

/// Writes a new `open` session.
pub async fn insert(tx: &mut Tx<'_>, s: NewSession<'_>) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO sessions (id, token_hash, login, user_ref, action, device_key, nonce, nonce_used, challenge, steps, state, reasons, created_at, expires_at, client_addr, light) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, 'open', '', $10, $11, $12, $13)";
        s.id, s.token_hash, s.login, s.user_ref, s.action.as_str(), s.device_key, s.nonce,
        ChallengeAction::join(s.challenge), join_steps(s.steps), s.created_at, s.expires_at,
        s.client_addr, s.light.map(LightSequence::join)
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives the session a hand-off secret (its hash), valid until `expires_at`.
pub async fn set_handoff(
    store: &Store,
    id: &str,
    secret_hash: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    bound!(
        "UPDATE sessions SET handoff_hash = $1, handoff_expires_at = $2 WHERE id = $3";
        secret_hash, expires_at, id
    )
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Hands the session over to `device` with a new token, if it still holds the hand-off
/// secret `handoff_hash` and is open: single use, whether this call took it.
pub async fn claim(
    store: &Store,
    id: &str,
    handoff_hash: &str,
    token_hash: &str,
    device: &str,
) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE sessions SET follower_token_hash = token_hash, token_hash = $1, device_key = $2, handoff_hash = NULL \
         WHERE id = $3 AND handoff_hash = $4 AND state = 'open' AND nonce_used = 0";
        token_hash, device, id, handoff_hash
    )
    .execute(&store.writer)
    .await?
    .rows_affected()
        == 1)
}

/// Spends the session's nonce with its outcome and reasons (comma-joined codes); whether
/// this call did (of two racing, one does).
pub async fn spend(
    tx: &mut Tx<'_>,
    id: &str,
    outcome: &str,
    reasons: &str,
) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE sessions SET nonce_used = 1, state = $1, reasons = $2 WHERE id = $3 AND nonce_used = 0 AND state = 'open'";
        outcome, reasons, id
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Moves a session waiting for review to `state` (`approved` or `rejected`), as its case
/// is decided; whether it was waiting.
pub async fn reviewed(tx: &mut Tx<'_>, id: &str, state: &str) -> Result<bool, StoreError> {
    Ok(bound!(
        "UPDATE sessions SET state = $1 WHERE id = $2 AND state = 'review'"; state, id
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_lists_read_back_as_written() {
        let challenge = vec![
            ChallengeAction::Left,
            ChallengeAction::Right,
            ChallengeAction::Left,
            ChallengeAction::Center,
        ];
        let steps = vec![Step::Document, Step::Selfie];
        let (s, c) = stored_lists(&join_steps(&steps), &ChallengeAction::join(&challenge)).unwrap();
        assert_eq!((s, c), (steps, challenge));
    }

    #[test]
    fn a_stored_entry_this_build_does_not_know_is_an_error() {
        // Until 2026-12 the unknown entry was dropped when the challenge was judged, so
        // `left,sideways,center` asked for three moves and was judged as two.
        assert!(stored_lists("selfie", "left,sideways,center").is_err());
        assert!(stored_lists("selfie", "left,,center").is_err());
        assert!(stored_lists("fingerprint,selfie", "left,center").is_err());
        assert!(stored_lists("selfie", "right,center").is_ok());
    }
}

/// What the console's recoveries search narrows by; every part optional.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub login: Option<String>,
    pub state: Option<String>,
    /// Started at or after (unix seconds).
    pub from: Option<i64>,
    /// Started before (unix seconds).
    pub to: Option<i64>,
}

/// A session as the console lists it, with its grant's state when it had one.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub login: String,
    pub action: String,
    pub device_key: String,
    pub state: String,
    pub reasons: String,
    pub created_at: i64,
    pub grant_state: Option<String>,
}

/// Up to `limit` sessions matching `q` from `offset`, newest first. Only the conditions
/// given are in the statement, so each search has its own plan and index
/// (`sessions_login_created` on `lower(login)`, `sessions_state_created`,
/// `sessions_created`).
pub async fn search(
    store: &Store,
    q: &Search,
    limit: i64,
    offset: i64,
) -> Result<Vec<Listed>, StoreError> {
    let mut conditions = Vec::new();
    if let Some(login) = &q.login {
        // Logins are kept as typed; the database's own `lower` on both sides, so the
        // index on `lower(login)` answers.
        conditions.push(("lower(s.login) = lower($)", Arg::Text(login)));
    }
    if let Some(state) = &q.state {
        conditions.push(("s.state = $", Arg::Text(state)));
    }
    if let Some(from) = q.from {
        conditions.push(("s.created_at >= $", Arg::Int(from)));
    }
    if let Some(to) = q.to {
        conditions.push(("s.created_at < $", Arg::Int(to)));
    }
    listed_where(store, conditions, limit, offset).await
}

/// One session as the console shows it.
pub async fn listed(store: &Store, id: &str) -> Result<Option<Listed>, StoreError> {
    Ok(listed_where(store, vec![("s.id = $", Arg::Text(id))], 1, 0)
        .await?
        .pop())
}

/// A value a condition of [`listed_where`] compares with.
enum Arg<'a> {
    Text(&'a str),
    Int(i64),
}

/// The one query behind [`search`] and [`listed`]: up to `limit` sessions from `offset`,
/// newest first, with their grant's state, that meet every condition (SQL whose `$`
/// takes its value's placeholder).
async fn listed_where(
    store: &Store,
    conditions: Vec<(&str, Arg<'_>)>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Listed>, StoreError> {
    let filter = conditions
        .iter()
        .enumerate()
        .map(|(i, (sql, _))| sql.replace('$', &format!("${}", i + 1)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let filter = if filter.is_empty() {
        filter
    } else {
        format!("WHERE {filter}")
    };
    let sql = format!(
        "SELECT s.id, s.login, s.action, s.device_key, s.state, s.reasons, s.created_at, g.state \
         FROM sessions s LEFT JOIN grants g ON g.session_id = s.id {filter} \
         ORDER BY s.created_at DESC, s.id DESC LIMIT ${} OFFSET ${}",
        conditions.len() + 1,
        conditions.len() + 2
    );
    let mut query = sqlx::query(&sql);
    for (_, a) in conditions {
        query = match a {
            Arg::Text(t) => query.bind(t),
            Arg::Int(i) => query.bind(i),
        };
    }
    let rows = query
        .bind(limit)
        .bind(offset)
        .fetch_all(&store.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Listed {
                id: r.try_get(0)?,
                login: r.try_get(1)?,
                action: r.try_get(2)?,
                device_key: r.try_get(3)?,
                state: r.try_get(4)?,
                reasons: r.try_get(5)?,
                created_at: r.try_get(6)?,
                grant_state: r.try_get(7)?,
            })
        })
        .collect()
}
