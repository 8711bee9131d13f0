//! The `reviews`, `review_pictures` and `review_votes` tables: cases waiting for a
//! trusted referee, with their facts sealed and their evidence sealed one picture per row,
//! the reviewers' votes, and, once a case is approved, the grant sealed for the waiting
//! app until it expires.
//!
//! A case is open while `outcome` is NULL. Closing it is one conditional statement (the
//! outcome set only where none is), so of two reviewers deciding at once exactly one
//! closes it; the same transaction empties the facts and deletes the pictures.

use sqlx::Row;

use super::{Store, StoreError, Tx};

/// A case as the decision opens it.
pub struct NewCase {
    pub session_id: String,
    pub login: String,
    pub action: String,
    pub device_key: String,
    pub tier: String,
    /// The evidence, each picture sealed on its own, in the upload's order.
    pub pictures: Vec<NewPicture>,
    pub facts_sealed: String,
    /// Comma-joined codes: why the case went to a person.
    pub reasons: String,
    pub approvals_needed: i64,
    /// An approval's change waits this long (0: at once).
    pub delay_s: i64,
    pub created_at: i64,
    pub delete_after: i64,
}

/// One picture of a case's evidence as the case opens: `n` is its place in the upload.
pub struct NewPicture {
    pub n: i64,
    pub name: String,
    pub t_ms: Option<i64>,
    pub sealed: String,
}

/// Opens a case, in the transaction that records the decision.
pub async fn insert(tx: &mut Tx<'_>, c: &NewCase) -> Result<(), StoreError> {
    bound!(
        "INSERT INTO reviews (session_id, evidence_sealed, reasons, created_at, delete_after, outcome, login, action, device_key, tier, facts_sealed, approvals_needed, delay_s) \
         VALUES ($1, '', $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10, $11)";
        &c.session_id, &c.reasons, c.created_at, c.delete_after, &c.login,
        &c.action, &c.device_key, &c.tier, &c.facts_sealed, c.approvals_needed, c.delay_s
    )
    .execute(&mut **tx)
    .await?;
    insert_pictures(tx, &c.session_id, &c.pictures).await
}

async fn insert_pictures(
    tx: &mut Tx<'_>,
    session_id: &str,
    pictures: &[NewPicture],
) -> Result<(), StoreError> {
    for p in pictures {
        bound!(
            "INSERT INTO review_pictures (session_id, n, name, t_ms, picture_sealed) VALUES ($1, $2, $3, $4, $5)";
            session_id, p.n, &p.name, p.t_ms, &p.sealed
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A case as the queue lists it: nothing sealed.
#[derive(Debug, Clone)]
pub struct CaseSummary {
    pub session_id: String,
    pub login: String,
    pub action: String,
    pub tier: String,
    pub reasons: String,
    pub approvals_needed: i64,
    /// Approvals given so far.
    pub approvals: i64,
    pub created_at: i64,
    pub delete_after: i64,
}

/// A case with its facts (still sealed) and how it ended; its pictures are read one at a
/// time ([`picture`]).
pub struct Case {
    pub summary: CaseSummary,
    pub device_key: String,
    pub facts_sealed: String,
    /// `approved` or `refused`; `None` while open.
    pub outcome: Option<String>,
    pub grant_sealed: Option<String>,
    pub delay_s: i64,
}

const SUMMARY: &str = "r.session_id, r.login, r.action, r.tier, r.reasons, r.approvals_needed, \
     (SELECT COUNT(*) FROM review_votes v WHERE v.session_id = r.session_id AND v.vote = 'approve'), \
     r.created_at, r.delete_after";

fn summary(r: &sqlx::any::AnyRow) -> Result<CaseSummary, StoreError> {
    Ok(CaseSummary {
        session_id: r.try_get(0)?,
        login: r.try_get(1)?,
        action: r.try_get(2)?,
        tier: r.try_get(3)?,
        reasons: r.try_get(4)?,
        approvals_needed: r.try_get(5)?,
        approvals: r.try_get(6)?,
        created_at: r.try_get(7)?,
        delete_after: r.try_get(8)?,
    })
}

/// Open cases within their retention at `t`, oldest first, `limit` from `offset`, and how
/// many there are in all.
pub async fn open(
    store: &Store,
    t: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<CaseSummary>, i64), StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {SUMMARY} FROM reviews r WHERE r.outcome IS NULL AND r.delete_after >= $1 \
         ORDER BY r.created_at, r.session_id LIMIT $2 OFFSET $3"
    ))
    .bind(t)
    .bind(limit)
    .bind(offset)
    .fetch_all(&store.writer)
    .await?;
    let total: i64 = bound!(
        "SELECT COUNT(*) FROM reviews WHERE outcome IS NULL AND delete_after >= $1"; t
    )
    .fetch_one(&store.writer)
    .await?
    .try_get(0)?;
    Ok((rows.iter().map(summary).collect::<Result<_, _>>()?, total))
}

/// The case of session `session_id`, without its pictures.
pub async fn load(store: &Store, session_id: &str) -> Result<Option<Case>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {SUMMARY}, r.device_key, r.facts_sealed, r.outcome, r.grant_sealed, r.delay_s \
         FROM reviews r WHERE r.session_id = $1"
    ))
    .bind(session_id)
    .fetch_optional(&store.writer)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Case {
        summary: summary(&r)?,
        device_key: r.try_get(9)?,
        facts_sealed: r.try_get(10)?,
        outcome: r.try_get(11)?,
        grant_sealed: r.try_get(12)?,
        delay_s: r.try_get(13)?,
    }))
}

/// A picture of a case as its page lists it: nothing sealed.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Its place in the upload, which names it in the picture's address.
    pub n: i64,
    pub name: String,
    pub t_ms: Option<i64>,
}

/// The pictures of the case of `session_id`, in the upload's order.
pub async fn pictures(store: &Store, session_id: &str) -> Result<Vec<Picture>, StoreError> {
    bound!(
        "SELECT n, name, t_ms FROM review_pictures WHERE session_id = $1 ORDER BY n"; session_id
    )
    .fetch_all(&store.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(Picture {
            n: r.try_get(0)?,
            name: r.try_get(1)?,
            t_ms: r.try_get(2)?,
        })
    })
    .collect()
}

/// Picture `n` of the case of `session_id`, sealed, only while the case is open within
/// its retention at `t`: this one row is all a picture request reads. From the readers'
/// pool: a large picture read does not hold up SQLite's one writer.
pub async fn picture(
    store: &Store,
    session_id: &str,
    n: i64,
    t: i64,
) -> Result<Option<String>, StoreError> {
    Ok(bound!(
        "SELECT p.picture_sealed FROM review_pictures p JOIN reviews r ON r.session_id = p.session_id \
         WHERE p.session_id = $1 AND p.n = $2 AND r.outcome IS NULL AND r.delete_after >= $3";
        session_id, n, t
    )
    .fetch_optional(&store.pool)
    .await?
    .map(|r| r.try_get(0))
    .transpose()?)
}

/// An open case whose evidence a server from before `review_pictures` sealed as one list:
/// its session and that list, one case at a time.
pub async fn whole_evidence(store: &Store) -> Result<Option<(String, String)>, StoreError> {
    sqlx::query(
        "SELECT session_id, evidence_sealed FROM reviews WHERE outcome IS NULL AND evidence_sealed <> '' \
         ORDER BY created_at LIMIT 1",
    )
    .fetch_optional(&store.writer)
    .await?
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .transpose()
}

/// Replaces the whole sealed evidence of the open case of `session_id` by `pictures`,
/// one row each; nothing if the case closed meanwhile. Whether it did.
pub async fn split_evidence(
    tx: &mut Tx<'_>,
    session_id: &str,
    pictures: &[NewPicture],
) -> Result<bool, StoreError> {
    let emptied = bound!(
        "UPDATE reviews SET evidence_sealed = '' WHERE session_id = $1 AND outcome IS NULL AND evidence_sealed <> ''";
        session_id
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if emptied {
        insert_pictures(tx, session_id, pictures).await?;
    }
    Ok(emptied)
}

/// Deletes the pictures of the case of `session_id`.
async fn delete_pictures(tx: &mut Tx<'_>, session_id: &str) -> Result<(), StoreError> {
    bound!("DELETE FROM review_pictures WHERE session_id = $1"; session_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A reviewer's vote on a case.
#[derive(Debug, Clone)]
pub struct Vote {
    pub reviewer: String,
    /// `approve` or `refuse`.
    pub vote: String,
    pub reason: String,
    pub at: i64,
}

/// Records `reviewer`'s vote; false when they had already voted on this case.
pub async fn vote(tx: &mut Tx<'_>, session_id: &str, v: &Vote) -> Result<bool, StoreError> {
    Ok(bound!(
        "INSERT INTO review_votes (session_id, reviewer, vote, reason, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (session_id, reviewer) DO NOTHING";
        session_id, &v.reviewer, &v.vote, &v.reason, v.at
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// The votes on a case, in order.
pub async fn votes(store: &Store, session_id: &str) -> Result<Vec<Vote>, StoreError> {
    let rows = bound!(VOTES; session_id).fetch_all(&store.writer).await?;
    rows.iter().map(vote_of).collect()
}

/// The same, within `tx` (with the vote it just recorded).
pub async fn votes_in(tx: &mut Tx<'_>, session_id: &str) -> Result<Vec<Vote>, StoreError> {
    let rows = bound!(VOTES; session_id).fetch_all(&mut **tx).await?;
    rows.iter().map(vote_of).collect()
}

const VOTES: &str =
    "SELECT reviewer, vote, reason, at FROM review_votes WHERE session_id = $1 ORDER BY at, reviewer";

fn vote_of(r: &sqlx::any::AnyRow) -> Result<Vote, StoreError> {
    Ok(Vote {
        reviewer: r.try_get(0)?,
        vote: r.try_get(1)?,
        reason: r.try_get(2)?,
        at: r.try_get(3)?,
    })
}

/// Approvals on a case so far, within `tx` (after this reviewer's vote).
pub async fn approvals(tx: &mut Tx<'_>, session_id: &str) -> Result<i64, StoreError> {
    Ok(bound!(
        "SELECT COUNT(*) FROM review_votes WHERE session_id = $1 AND vote = 'approve'"; session_id
    )
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// Raises the approvals an open case needs to `needed`.
pub async fn require_approvals(
    tx: &mut Tx<'_>,
    session_id: &str,
    needed: i64,
) -> Result<(), StoreError> {
    bound!(
        "UPDATE reviews SET approvals_needed = $1 WHERE session_id = $2 AND outcome IS NULL AND approvals_needed < $1";
        needed, session_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Closes an open case within its retention at `t` with `outcome`, destroying its evidence
/// (every picture's row) and facts, keeping `grant_sealed` (an approval's) until
/// `delete_after`. Whether this call closed it: of two at once, one does.
pub async fn close(
    tx: &mut Tx<'_>,
    session_id: &str,
    outcome: &str,
    grant_sealed: Option<&str>,
    t: i64,
    delete_after: i64,
) -> Result<bool, StoreError> {
    let closed = bound!(
        "UPDATE reviews SET outcome = $1, grant_sealed = $2, decided_at = $3, delete_after = $4, \
         evidence_sealed = '', facts_sealed = '' \
         WHERE session_id = $5 AND outcome IS NULL AND delete_after >= $3";
        outcome, grant_sealed, t, delete_after, session_id
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if closed {
        delete_pictures(tx, session_id).await?;
    }
    Ok(closed)
}

/// The sessions of open cases whose retention ran out by `t`, to be closed as expired.
pub async fn overdue(store: &Store, t: i64) -> Result<Vec<String>, StoreError> {
    let rows = bound!(
        "SELECT session_id FROM reviews WHERE outcome IS NULL AND delete_after < $1 ORDER BY delete_after LIMIT 100";
        t
    )
    .fetch_all(&store.writer)
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
}

/// Deletes the case of `session_id`, with its pictures and votes, if it is still open and
/// its retention ran out by `t`; whether it did (a case decided meanwhile stays).
pub async fn delete_overdue(tx: &mut Tx<'_>, session_id: &str, t: i64) -> Result<bool, StoreError> {
    let deleted = bound!(
        "DELETE FROM reviews WHERE session_id = $1 AND outcome IS NULL AND delete_after < $2";
        session_id, t
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if deleted {
        delete_pictures(tx, session_id).await?;
        bound!("DELETE FROM review_votes WHERE session_id = $1"; session_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(deleted)
}

/// Moves sessions waiting for review that have no case that can be decided (left by a
/// server from before the console) to `rejected`, deleting such cases; how many.
pub async fn reject_caseless(store: &Store) -> Result<u64, StoreError> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "DELETE FROM review_pictures WHERE session_id IN \
         (SELECT session_id FROM reviews WHERE outcome IS NULL AND facts_sealed = '')",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM reviews WHERE outcome IS NULL AND facts_sealed = ''")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(sqlx::query(
        "UPDATE sessions SET state = 'rejected' WHERE state = 'review' \
         AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.session_id = sessions.id)",
    )
    .execute(&store.writer)
    .await?
    .rows_affected())
}

/// Takes the case's row lock for `tx` (a write that changes nothing), so votes on one
/// case are counted one transaction at a time: under PostgreSQL's read committed, two
/// approvals at once would otherwise each count only their own.
pub async fn lock(tx: &mut Tx<'_>, session_id: &str) -> Result<(), StoreError> {
    bound!(
        "UPDATE reviews SET approvals_needed = approvals_needed WHERE session_id = $1"; session_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes decided cases whose grant's time ran out by `t`, with their votes.
pub async fn purge_decided(store: &Store, t: i64) -> Result<u64, StoreError> {
    bound!(
        "DELETE FROM review_votes WHERE session_id IN \
         (SELECT session_id FROM reviews WHERE outcome IS NOT NULL AND delete_after < $1)";
        t
    )
    .execute(&store.writer)
    .await?;
    Ok(bound!(
        "DELETE FROM reviews WHERE outcome IS NOT NULL AND delete_after < $1"; t
    )
    .execute(&store.writer)
    .await?
    .rows_affected())
}

/// How many cases are open within their retention at `t`, and when the oldest opened
/// (`reviews_open` answers both from the index).
pub async fn open_stats(store: &Store, t: i64) -> Result<(i64, Option<i64>), StoreError> {
    let r = bound!(
        "SELECT COUNT(*), MIN(created_at) FROM reviews WHERE outcome IS NULL AND delete_after >= $1"; t
    )
    .fetch_one(&store.pool)
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}
