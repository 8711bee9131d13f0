//! The audit chain: every session, decision, reset and admin action, appended to a hash
//! chain in the database.
//!
//! Entry `n` carries the MAC of entry `n-1`, and its own MAC covers its sequence number,
//! time, kind, actor, subject, detail and that previous MAC. The chain's head (last
//! sequence number and MAC) is kept in a row of its own, updated in the same transaction.
//! So `verify` finds an edited entry (its MAC), a removed one (a gap, or a head that names
//! a later entry), reordered ones (the links), and a cut-off tail (the head). The MAC is
//! keyed with the server's audit key: rewriting the chain needs the key, not just write
//! access to the database. Details hold digests and codes, never a password, token,
//! grant or biometric value.

use serde::Serialize;
use sqlx::Row;

use crate::crypto::Keys;
use crate::store::{now, Store, StoreError};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry to append.
pub struct Entry<'a> {
    /// `session_created`, `decision`, `reset_pending`, `reset_completed`, `device_registered`, ...
    pub kind: &'a str,
    /// Who did it: `device:<kid>`, `admin:<name>`, `server`.
    pub actor: &'a str,
    /// What it was done to: `session:<id>`, `user:<ref>`, `device:<kid>`.
    pub subject: &'a str,
    pub detail: serde_json::Value,
}

fn mac_input(
    seq: i64,
    at: i64,
    kind: &str,
    actor: &str,
    subject: &str,
    detail: &str,
    prev: &str,
) -> Vec<u8> {
    // Length-prefixed fields, so no two different entries serialise the same.
    let mut out = Vec::new();
    for field in [
        seq.to_string().as_str(),
        at.to_string().as_str(),
        kind,
        actor,
        subject,
        detail,
        prev,
    ] {
        out.extend_from_slice(&(field.len() as u64).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// Appends `entry` in a transaction of its own; returns its sequence number.
pub async fn append(store: &Store, keys: &Keys, entry: Entry<'_>) -> Result<i64, StoreError> {
    let mut tx = store.writer.begin().await?;
    let seq = append_in(&mut tx, keys, entry).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Appends `entry` inside the caller's transaction, so the entry and the change it
/// records commit together (or not at all).
pub async fn append_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    keys: &Keys,
    entry: Entry<'_>,
) -> Result<i64, StoreError> {
    let detail = entry.detail.to_string();
    let at = now();
    // A write first: it takes the database's write lock (SQLite) or the head row's lock
    // (PostgreSQL), so appends from every connection and instance queue up here.
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut **tx)
        .await?;
    let seq: i64 = head.try_get(0)?;
    let prev: String = head.try_get(1)?;
    let hash = keys.audit_mac(&mac_input(
        seq,
        at,
        entry.kind,
        entry.actor,
        entry.subject,
        &detail,
        &prev,
    ));
    sqlx::query(
        "INSERT INTO audit (seq, at, kind, actor, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(at)
    .bind(entry.kind)
    .bind(entry.actor)
    .bind(entry.subject)
    .bind(&detail)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub entries: i64,
    pub head_seq: i64,
    pub head_hash: String,
    /// Empty when the chain is intact.
    pub problems: Vec<ChainProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    pub seq: i64,
    /// `entry_altered`, `entry_missing`, `link_broken`, `head_mismatch`.
    pub code: &'static str,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walks the whole chain.
pub async fn verify(store: &Store, keys: &Keys) -> Result<ChainReport, StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&store.pool)
        .await?;
    let head_seq: i64 = head.try_get(0)?;
    let head_hash: String = head.try_get(1)?;
    let rows = sqlx::query(
        "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit ORDER BY seq",
    )
    .fetch_all(&store.pool)
    .await?;
    let mut problems = Vec::new();
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_string();
    let mut entries = 0;
    for row in rows {
        entries += 1;
        let seq: i64 = row.try_get(0)?;
        let at: i64 = row.try_get(1)?;
        let kind: String = row.try_get(2)?;
        let actor: String = row.try_get(3)?;
        let subject: String = row.try_get(4)?;
        let detail: String = row.try_get(5)?;
        let prev_hash: String = row.try_get(6)?;
        let hash: String = row.try_get(7)?;
        if seq != expected_seq {
            problems.push(ChainProblem {
                seq: expected_seq,
                code: "entry_missing",
            });
        }
        if prev_hash != prev {
            problems.push(ChainProblem {
                seq,
                code: "link_broken",
            });
        }
        let recomputed = keys.audit_mac(&mac_input(
            seq, at, &kind, &actor, &subject, &detail, &prev_hash,
        ));
        if recomputed != hash {
            problems.push(ChainProblem {
                seq,
                code: "entry_altered",
            });
        }
        prev = hash;
        expected_seq = seq + 1;
    }
    if head_seq != expected_seq - 1 || head_hash != prev {
        problems.push(ChainProblem {
            seq: head_seq,
            code: "head_mismatch",
        });
    }
    Ok(ChainReport {
        entries,
        head_seq,
        head_hash,
        problems,
    })
}
