//! What the backend keeps to recognise a replayed selfie capture, and its queries.
//!
//! Each judged capture is kept as one row of `replay_sessions`: per frame, the 64-bit
//! difference hashes of the face and of the whole frame and the head's motion
//! (docs/liveness.md, "Replays"): no image, no embedding. Rows kept before the whole
//! frame's hash was are read back without it. The engine compares a new capture with each
//! kept session of the same account (per login for unknown ones): the same frames with the
//! same motion is a replay; the same-looking frames with another motion is the person
//! coming back.
//!
//! A session kept from a capture that was not approved is doubtful
//! ([`SeenSession::doubtful`]): anyone can have a capture judged under any login, so it
//! may be a stranger's plant, and it counts only when its motion is repeated.
//!
//! Rows of `frame_hashes` written before sessions were kept (bare hashes, one row per
//! frame) are no longer read: they were written for refused captures as well as approved
//! ones, without saying which, so each would be doubtful, and a doubtful session without
//! motion can decide nothing. Nothing writes them; they age out with the rest.
//!
//! Bounded: at most [`MAX_SESSIONS`] approved and [`MAX_SESSIONS`] other captures per
//! account (the oldest of its kind go first), and nothing older than [`RETENTION_S`].
//! Counted apart because anyone may start sessions for any login: a stranger's refused
//! captures must not push the person's own approved ones, the ones worth replaying, out.
//! Logins that are no account are kept too (a replay must be refused alike for a known and
//! an unknown login, or the refusal tells which exists), and since anyone can make up
//! logins without end, all of them together are bounded as well: the background prune
//! keeps the newest [`MAX_UNKNOWN_LOGIN_SESSIONS`] (off the request path, whose timing
//! must not differ between the two).

use reclaim_verify::liveness::replay::{SeenFrame, SeenSession};
use sqlx::Row;

use crate::store::{now, Store, StoreError};

/// Sessions kept per account. A recording older than the newest 50 sessions of its
/// account is no longer recognised; 50 is far more than a person's recoveries in a year.
pub const MAX_SESSIONS: usize = 50;

/// How long a session is kept: one year.
pub const RETENTION_S: i64 = 365 * 24 * 3600;

/// Sessions kept for logins that are no account, all of them together (see the module's
/// comment); about 4 KB each at most.
pub const MAX_UNKNOWN_LOGIN_SESSIONS: usize = 10_000;

/// The key an account's captures are kept under: its directory reference, or for a login
/// that is no account, the login as typed (normalised). The two never meet, whatever a
/// login is made of.
pub fn capture_key(user_ref: Option<&str>, login_key: &str) -> String {
    match user_ref {
        Some(r) => format!("ref:{r}"),
        None => format!("login:{login_key}"),
    }
}

/// Frames read back per session: the capture limit (a stored row is not trusted to be
/// within it).
const MAX_FRAMES: usize = 60;

/// Every session kept for `user_key`, newest first, those not approved marked doubtful.
pub async fn seen_sessions(store: &Store, user_key: &str) -> Result<Vec<SeenSession>, StoreError> {
    let since = now() - RETENTION_S;
    let rows = bound!(
        "SELECT frames, approved FROM replay_sessions WHERE user_key = $1 AND seen_at >= $2 ORDER BY seen_at DESC LIMIT $3";
        user_key, since, 2 * MAX_SESSIONS as i64
    )
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let frames = r.try_get::<String, _>(0).ok()?;
            let approved = r.try_get::<i64, _>(1).ok()?;
            Some(SeenSession {
                doubtful: approved != 1,
                ..SeenSession::decode(&frames, MAX_FRAMES)
            })
        })
        .filter(|s| !s.frames.is_empty())
        .collect())
}

/// Keeps `frames` (a judged capture's, in order) as session `session_id` of `user_key`,
/// `approved` or not, and drops that account's sessions of the same kind beyond
/// [`MAX_SESSIONS`], in the caller's transaction (the decision's, so that an outcome is
/// never recorded without its capture). Nothing is kept for a capture without a face.
pub async fn keep_session_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_key: &str,
    session_id: &str,
    approved: bool,
    frames: &[SeenFrame],
) -> Result<(), StoreError> {
    let approved = i64::from(approved);
    if frames.is_empty() {
        return Ok(());
    }
    let encoded = SeenSession {
        frames: frames.iter().take(MAX_FRAMES).copied().collect(),
        doubtful: approved == 0,
    }
    .encode();
    bound!(
        "INSERT INTO replay_sessions (user_key, session_id, frames, seen_at, approved) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_key, session_id) DO NOTHING";
        user_key, session_id, encoded, now(), approved
    )
    .execute(&mut **tx)
    .await?;
    // Beyond the bound, the oldest of its kind go (ties broken by session id, so that
    // captures kept within one second are bounded too).
    bound!(
        "DELETE FROM replay_sessions WHERE user_key = $1 AND approved = $2 AND session_id NOT IN \
         (SELECT session_id FROM replay_sessions WHERE user_key = $1 AND approved = $2 \
         ORDER BY seen_at DESC, session_id DESC LIMIT $3)";
        user_key, approved, MAX_SESSIONS as i64
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// [`keep_session_in`] in a transaction of its own.
pub async fn keep_session(
    store: &Store,
    user_key: &str,
    session_id: &str,
    approved: bool,
    frames: &[SeenFrame],
) -> Result<(), StoreError> {
    let mut tx = store.writer.begin().await?;
    keep_session_in(&mut tx, user_key, session_id, approved, frames).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes what is older than [`RETENTION_S`] as of `t` (Unix seconds), kept sessions and
/// bare hashes alike, and the sessions of logins that are no account beyond the newest
/// [`MAX_UNKNOWN_LOGIN_SESSIONS`]; the background worker calls it. Returns the rows
/// deleted.
pub async fn prune_at(store: &Store, t: i64) -> Result<u64, StoreError> {
    let before = t - RETENTION_S;
    let mut sessions = bound!(
        "DELETE FROM replay_sessions WHERE seen_at < $1";
        before
    )
    .execute(&store.writer)
    .await?
    .rows_affected();
    // Ties (kept within one second) are broken as for one account's bound.
    sessions += bound!(
        "DELETE FROM replay_sessions WHERE user_key LIKE 'login:%' AND (user_key, session_id) NOT IN \
         (SELECT user_key, session_id FROM replay_sessions WHERE user_key LIKE 'login:%' \
         ORDER BY seen_at DESC, user_key DESC, session_id DESC LIMIT $1)";
        MAX_UNKNOWN_LOGIN_SESSIONS as i64
    )
    .execute(&store.writer)
    .await?
    .rows_affected();
    let hashes = bound!(
        "DELETE FROM frame_hashes WHERE seen_at < $1";
        before
    )
    .execute(&store.writer)
    .await?
    .rows_affected();
    Ok(sessions + hashes)
}

/// [`prune_at`] now, for the background worker: a failure is logged, not returned (the
/// next round tries again).
pub async fn prune_in_background(store: &Store) {
    match prune_at(store, now()).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(rows = n, "expired replay sessions pruned"),
        Err(e) => tracing::warn!(code = e.code().as_str(), "pruning replay sessions failed"),
    }
}
