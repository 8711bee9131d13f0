//! The audit chain: every session, decision, reset and admin action, appended to a hash
//! chain in the database, and anchored outside it.
//!
//! Entry `n` carries the MAC of entry `n-1`, and its own MAC covers its sequence number,
//! time, kind, actor, subject, detail and that previous MAC. The MAC is keyed with the
//! server's audit key (derived from the data key, which is not in the database), so an
//! edited, forged or reordered entry is found, and rewriting the chain needs the key, not
//! just write access to the database.
//!
//! The chain's head (last sequence number and MAC) is kept in a row of its own, updated
//! in the same transaction, with a MAC of its own under a second key (`audit_head.mac`).
//! Without it, deleting the last entries and pointing the head at the new last one left a
//! chain that verified. Now the head names its position in a way only the key holder can
//! write: a cut tail leaves a head whose MAC does not verify, and the next append records
//! that in the chain (`audit_head_invalid`) instead of building on it.
//!
//! What a database writer can still do without the key is put back a whole earlier state
//! (an old head row with its MAC, and the entries up to it). Only something outside the
//! database can tell, so the server signs checkpoints (sequence number, head MAC, time;
//! Ed25519 with a key derived from the data key) at start, every
//! `[audit] checkpoint_interval_s` while the chain grows, and at shutdown, to the log
//! (target `reclaim::audit::checkpoint`, one JSON line) and optionally to a file, for a
//! SIEM to keep. `reclaim audit verify --checkpoint FILE` checks that the chain still
//! holds every checkpointed entry.
//!
//! `verify` also checks the chain against what it records: every `reset_*` entry follows
//! the approving decision for its grant, and every grant row in the database was issued
//! by a decision in the chain (a grant planted in the database has none).
//!
//! Details hold digests and codes, never a password, token, grant or biometric value.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::crypto::Keys;
use crate::store::audit::{Head, StoredEntry};
use crate::store::resets::IssuedGrant;
use crate::store::{self, now, Store, StoreError, Tx};
use crate::App;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The entry written when a chain from before keyed heads gets its first head MAC.
pub const HEAD_SEALED: &str = "audit_head_sealed";
/// The entry written when an append finds a head whose MAC does not verify.
pub const HEAD_INVALID: &str = "audit_head_invalid";
/// The log target of signed checkpoints.
pub const CHECKPOINT_TARGET: &str = "reclaim::audit::checkpoint";

/// How far a grant's `apply_after` may be earlier than its decision's time plus delay
/// (the decision's clock is read a moment after the grant's).
const DELAY_SLACK_S: i64 = 60;

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

/// What an entry's MAC covers: every field but the MAC itself.
fn mac_input(e: &StoredEntry) -> Vec<u8> {
    // Length-prefixed fields, so no two different entries serialise the same.
    let mut out = Vec::new();
    for field in [
        e.seq.to_string().as_str(),
        e.at.to_string().as_str(),
        &e.kind,
        &e.actor,
        &e.subject,
        &e.detail,
        &e.prev_hash,
    ] {
        out.extend_from_slice(&(field.len() as u64).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// Writes `entry` as number `seq` after `prev`; returns its MAC. The caller holds the head
/// row.
async fn insert(
    tx: &mut Tx<'_>,
    keys: &Keys,
    (seq, at): (i64, i64),
    entry: Entry<'_>,
    prev: &str,
) -> Result<String, StoreError> {
    let mut stored = StoredEntry {
        seq,
        at,
        kind: entry.kind.to_string(),
        actor: entry.actor.to_string(),
        subject: entry.subject.to_string(),
        detail: entry.detail.to_string(),
        prev_hash: prev.to_string(),
        hash: String::new(),
    };
    stored.hash = keys.audit_mac(&mac_input(&stored));
    store::audit::insert(tx, &stored).await?;
    Ok(stored.hash)
}

async fn set_head(tx: &mut Tx<'_>, keys: &Keys, seq: i64, hash: &str) -> Result<(), StoreError> {
    store::audit::set_head(tx, seq, hash, &keys.audit_head_mac(seq, hash)).await?;
    Ok(())
}

/// Appends `entry` in a transaction of its own; returns its sequence number.
pub async fn append(store: &Store, keys: &Keys, entry: Entry<'_>) -> Result<i64, StoreError> {
    let mut tx = store.begin().await?;
    let seq = append_in(&mut tx, keys, entry).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Appends `entry` inside the caller's transaction, so the entry and the change it
/// records commit together (or not at all).
pub async fn append_in(tx: &mut Tx<'_>, keys: &Keys, entry: Entry<'_>) -> Result<i64, StoreError> {
    let at = now();
    // A write first: it takes the database's write lock (SQLite) or the head row's lock
    // (PostgreSQL), so appends from every connection and instance queue up here.
    let Head {
        mut seq,
        hash: mut prev,
        mac,
    } = store::audit::advance_head(tx).await?;
    if !keys.audit_head_mac_matches(seq - 1, &prev, &mac) {
        // Someone without the key moved the head (a cut tail, a forged entry). Building
        // on it would make the cut look whole, so the finding goes into the chain first,
        // where it cannot be removed without cutting again; the service keeps running.
        tracing::error!(
            target: "reclaim::audit",
            code = HEAD_INVALID,
            head_seq = seq - 1,
            "the audit chain's head was changed without the audit key; recorded in the chain (run `reclaim audit verify`)"
        );
        let found = serde_json::json!({
            "head_seq": seq - 1,
            "head_hash": prev,
            "mac": if mac.is_empty() { "missing" } else { "wrong" },
        });
        let finding = Entry {
            kind: HEAD_INVALID,
            actor: "server",
            subject: "audit",
            detail: found,
        };
        prev = insert(tx, keys, (seq, at), finding, &prev).await?;
        seq += 1;
    }
    let hash = insert(tx, keys, (seq, at), entry, &prev).await?;
    set_head(tx, keys, seq, &hash).await?;
    Ok(seq)
}

/// What [`seal_head`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    /// The head already had a MAC.
    AlreadySealed,
    /// An empty chain (a new database) got its first head MAC.
    New,
    /// A chain from before keyed heads: an `audit_head_sealed` entry records where the
    /// keyed head starts.
    Upgraded { seq: i64 },
    /// The head has no MAC but the chain was sealed before: someone blanked it. Left for
    /// `verify` to report (and the next append records it).
    Refused,
}

/// Gives the head its MAC when it has none: a new database, or one written before keyed
/// heads (the migration adds the column empty). Called when the server opens the store.
///
/// An existing chain is sealed once, with an `audit_head_sealed` entry naming the head it
/// found: from there on a cut tail is found from the database alone. A blanked MAC on a
/// chain that was sealed before is not sealed again (that would launder a cut).
pub async fn seal_head(store: &Store, keys: &Keys) -> Result<Sealing, StoreError> {
    let mut tx = store.begin().await?;
    // A no-op write, to hold the head row (and, on SQLite, the write lock) while deciding.
    let Head { seq, hash, mac } = store::audit::hold_head(&mut tx).await?;
    if !mac.is_empty() {
        tx.rollback().await?;
        return Ok(Sealing::AlreadySealed);
    }
    let entries = store::audit::count(&mut tx).await?;
    if entries == 0 && seq == 0 {
        set_head(&mut tx, keys, 0, &hash).await?;
        tx.commit().await?;
        return Ok(Sealing::New);
    }
    let sealed_before = store::audit::count_kind(&mut tx, HEAD_SEALED).await?;
    if sealed_before > 0 {
        tx.rollback().await?;
        tracing::error!(
            target: "reclaim::audit",
            code = "audit_head_mac_removed",
            head_seq = seq,
            "the audit chain's head lost its MAC after it was sealed: changed without the audit key (run `reclaim audit verify`)"
        );
        return Ok(Sealing::Refused);
    }
    let found = serde_json::json!({ "head_seq": seq, "head_hash": hash });
    let sealing = Entry {
        kind: HEAD_SEALED,
        actor: "server",
        subject: "audit",
        detail: found,
    };
    let new = insert(&mut tx, keys, (seq + 1, now()), sealing, &hash).await?;
    set_head(&mut tx, keys, seq + 1, &new).await?;
    tx.commit().await?;
    tracing::warn!(
        target: "reclaim::audit",
        code = HEAD_SEALED,
        head_seq = seq,
        "the audit chain's head had no MAC (a database from before keyed heads): sealed as found"
    );
    Ok(Sealing::Upgraded { seq: seq + 1 })
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub entries: i64,
    pub head_seq: i64,
    pub head_hash: String,
    /// How many signed checkpoints were checked (with `--checkpoint` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<usize>,
    /// Empty when the chain is intact.
    pub problems: Vec<ChainProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    /// The entry concerned (for a checkpoint, the sequence number it names; 0 for a grant
    /// no decision names).
    pub seq: i64,
    /// `entry_altered`, `entry_missing`, `link_broken`, `head_mismatch`,
    /// `head_mac_invalid`, `head_was_invalid`, `head_resealed`, `reset_without_decision`,
    /// `grant_without_decision`, `grant_not_as_decided`, `checkpoint_unreadable`,
    /// `checkpoint_signature_invalid`, `checkpoint_entry_missing`,
    /// `checkpoint_hash_mismatch`, `checkpoint_none`.
    pub code: &'static str,
    /// The grant concerned (its SHA-256, as the database and the chain name it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// The checkpoint file's line concerned (from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl ChainProblem {
    fn at(seq: i64, code: &'static str) -> ChainProblem {
        ChainProblem {
            seq,
            code,
            grant: None,
            line: None,
        }
    }
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What a decision entry says about the grant it issued.
struct Decided {
    seq: i64,
    at: i64,
    subject: String,
    approved: bool,
    user: String,
    action: String,
    delay_s: i64,
}

pub use crate::store::audit::details_of;

/// Walks the whole chain, then checks the grants against it.
pub async fn verify(store: &Store, keys: &Keys) -> Result<ChainReport, StoreError> {
    let Head {
        seq: head_seq,
        hash: head_hash,
        mac: head_mac,
    } = store::audit::head(store).await?;
    let rows = store::audit::entries(store).await?;
    let mut problems = Vec::new();
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_string();
    let mut entries = 0;
    let mut sealed = false;
    // Decisions by the grant they issued, and the sessions with an approving one.
    let mut decided: HashMap<String, Decided> = HashMap::new();
    let mut approved_sessions: HashSet<String> = HashSet::new();
    for row in rows {
        entries += 1;
        let altered = !keys.audit_mac_matches(&mac_input(&row), &row.hash);
        let StoredEntry {
            seq,
            at,
            kind,
            subject,
            detail,
            prev_hash,
            hash,
            ..
        } = row;
        if seq != expected_seq {
            problems.push(ChainProblem::at(expected_seq, "entry_missing"));
        }
        if prev_hash != prev {
            problems.push(ChainProblem::at(seq, "link_broken"));
        }
        if altered {
            problems.push(ChainProblem::at(seq, "entry_altered"));
        }
        let facts: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
        match kind.as_str() {
            HEAD_SEALED if sealed => problems.push(ChainProblem::at(seq, "head_resealed")),
            HEAD_SEALED => sealed = true,
            HEAD_INVALID => problems.push(ChainProblem::at(seq, "head_was_invalid")),
            "decision" => {
                let approved = facts["outcome"] == "approved";
                if approved {
                    approved_sessions.insert(subject.clone());
                }
                if let Some(grant) = facts["grant_sha256"].as_str() {
                    decided.insert(
                        grant.to_string(),
                        Decided {
                            seq,
                            at,
                            subject: subject.clone(),
                            approved,
                            user: facts["user"].as_str().unwrap_or_default().to_string(),
                            action: facts["action"].as_str().unwrap_or_default().to_string(),
                            delay_s: facts["delay_s"].as_i64().unwrap_or(0),
                        },
                    );
                }
            }
            // A reset (pending, scheduled, refused, completed, ...) happens only with a
            // grant an approving decision issued earlier in the chain for the same session.
            k if k.starts_with("reset_") => {
                let backed = match facts["grant_sha256"].as_str() {
                    Some(grant) => decided
                        .get(grant)
                        .is_some_and(|d| d.approved && d.subject == subject),
                    None => approved_sessions.contains(&subject),
                };
                if !backed {
                    problems.push(ChainProblem {
                        grant: facts["grant_sha256"].as_str().map(str::to_string),
                        ..ChainProblem::at(seq, "reset_without_decision")
                    });
                }
            }
            _ => {}
        }
        prev = hash;
        expected_seq = seq + 1;
    }
    if head_seq != expected_seq - 1 || head_hash != prev {
        problems.push(ChainProblem::at(head_seq, "head_mismatch"));
    }
    if !keys.audit_head_mac_matches(head_seq, &head_hash, &head_mac) {
        problems.push(ChainProblem::at(head_seq, "head_mac_invalid"));
    }
    problems.extend(check_grants(store, &decided).await?);
    Ok(ChainReport {
        entries,
        head_seq,
        head_hash,
        checkpoints: None,
        problems,
    })
}

/// Every grant row must be the one its decision issued: same session, account and action,
/// and not due earlier than the decision's delay. A grant written into the database
/// directly has no decision (the chain's entries need the key).
async fn check_grants(
    store: &Store,
    decided: &HashMap<String, Decided>,
) -> Result<Vec<ChainProblem>, StoreError> {
    let rows = store::resets::grants_as_issued(store).await?;
    let mut problems = Vec::new();
    for row in rows {
        let IssuedGrant {
            id,
            session_id,
            user_ref,
            action,
            apply_after,
        } = row;
        let problem = match decided.get(&id) {
            None => Some((0, "grant_without_decision")),
            Some(d) => {
                let as_decided = d.approved
                    && d.subject == format!("session:{session_id}")
                    && d.user == user_ref
                    && d.action == action
                    && (d.delay_s <= 0 || apply_after + DELAY_SLACK_S >= d.at + d.delay_s);
                (!as_decided).then_some((d.seq, "grant_not_as_decided"))
            }
        };
        if let Some((seq, code)) = problem {
            problems.push(ChainProblem {
                grant: Some(id),
                ..ChainProblem::at(seq, code)
            });
        }
    }
    Ok(problems)
}

/// A signed statement that the chain held entry `seq` with MAC `hash` at time `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    /// Unix seconds.
    pub at: i64,
    /// The signing key's public half, base64 (as `reclaim audit checkpoint-key` prints
    /// it), for the reader; `verify` checks against the key it derives itself.
    pub key: String,
    /// Ed25519 over [`Checkpoint::message`], base64.
    pub sig: String,
}

impl Checkpoint {
    /// The signed bytes: plain text, so a SIEM can rebuild them without this code.
    pub fn message(seq: i64, hash: &str, at: i64) -> String {
        format!("reclaim audit checkpoint v1\n{seq}\n{hash}\n{at}\n")
    }
}

/// Signs a checkpoint of the current head, after checking the head's MAC and that the
/// entry it names is there: a checkpoint must never vouch for a head someone moved.
/// `None` when the head does not verify (logged as an error).
pub async fn checkpoint(store: &Store, keys: &Keys) -> Result<Option<Checkpoint>, StoreError> {
    let Head { seq, hash, mac } = store::audit::head(store).await?;
    let entry_hash: Option<String> = if seq == 0 {
        Some(GENESIS.to_string())
    } else {
        store::audit::entry_hash(store, seq).await?
    };
    if !keys.audit_head_mac_matches(seq, &hash, &mac)
        || entry_hash.as_deref() != Some(hash.as_str())
    {
        tracing::error!(
            target: "reclaim::audit",
            code = "checkpoint_refused",
            head_seq = seq,
            "no audit checkpoint signed: the chain's head does not verify (run `reclaim audit verify`)"
        );
        return Ok(None);
    }
    let at = now();
    let sig = keys.checkpoint_sign(Checkpoint::message(seq, &hash, at).as_bytes());
    Ok(Some(Checkpoint {
        seq,
        hash,
        at,
        key: STANDARD.encode(keys.checkpoint_public_key()),
        sig: STANDARD.encode(sig),
    }))
}

/// Takes a checkpoint and publishes it: the log (info, target
/// [`CHECKPOINT_TARGET`]) and, when configured, the checkpoint file.
pub async fn emit_checkpoint(app: &App) -> Option<Checkpoint> {
    let cp = match checkpoint(&app.store, &app.keys).await {
        Ok(Some(cp)) => cp,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(target: "reclaim::audit", code = e.code().as_str(), "audit checkpoint failed");
            return None;
        }
    };
    tracing::info!(
        target: CHECKPOINT_TARGET,
        seq = cp.seq,
        hash = %cp.hash,
        at = cp.at,
        key = %cp.key,
        sig = %cp.sig,
        "audit checkpoint"
    );
    if let Some(path) = app.config.audit.checkpoint_file.clone() {
        let line = match serde_json::to_string(&cp) {
            Ok(l) => l,
            Err(_) => return Some(cp),
        };
        let written = tokio::task::spawn_blocking(move || append_line(&path, &line)).await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::warn!(
                target: "reclaim::audit",
                code = "checkpoint_file_unwritable",
                "the audit checkpoint could not be appended to audit.checkpoint_file (it is in the log)"
            );
        }
    }
    Some(cp)
}

fn append_line(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    // One write per line, so lines from several instances sharing a file do not interleave.
    f.write_all(format!("{line}\n").as_bytes())?;
    f.sync_data()
}

/// Checkpoints every `checkpoint_interval_s` when the head has moved since `last` (the
/// head of the checkpoint [`crate::start`] takes before it serves anything). The one at
/// shutdown is taken by `start`'s task after this one is stopped.
///
/// The first is taken before serving, not in this task: stopping the task aborts it
/// wherever it is, and on a loaded machine (the file's `fsync` behind a build's writes)
/// a first checkpoint still under way when a short-lived server stopped was lost; the
/// chain then had no anchor from before its first request.
pub fn spawn_checkpoints(app: Arc<App>, last: Option<i64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_secs(app.config.audit.checkpoint_interval_s);
        let mut last = last;
        loop {
            tokio::time::sleep(interval).await;
            let moved = match store::audit::head_seq(&app.store).await {
                Ok(seq) => Some(seq) != last,
                Err(_) => true,
            };
            if moved {
                if let Some(cp) = emit_checkpoint(&app).await {
                    last = Some(cp.seq);
                }
            }
        }
    })
}

/// One checkpoint read from a file: a line as the file or the log holds it.
fn parse_checkpoint_line(line: &str) -> Option<Result<Checkpoint, ()>> {
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    // The server's JSON log: the checkpoint's fields under "fields".
    let fields = if value["target"] == CHECKPOINT_TARGET {
        value.get("fields")?.clone()
    } else if value.get("sig").is_some() && value.get("seq").is_some() {
        value
    } else {
        // Another log line: not a checkpoint.
        return None;
    };
    Some(serde_json::from_value(fields).map_err(|_| ()))
}

/// `verify`, then each checkpoint in `text` (lines of a checkpoint file, or of the
/// server's JSON log: other lines are skipped): its signature, and that the chain still
/// holds its entry with its MAC. A tail cut after a checkpoint is found even when the
/// head was put back consistently, since the cut removed the checkpointed entry.
pub async fn verify_with_checkpoints(
    store: &Store,
    keys: &Keys,
    text: &str,
) -> Result<ChainReport, StoreError> {
    let mut report = verify(store, keys).await?;
    let mut checked = 0;
    let mut seen: HashMap<i64, Option<String>> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let problem = |seq: i64, code: &'static str| ChainProblem {
            line: Some(line_no),
            ..ChainProblem::at(seq, code)
        };
        let cp = match parse_checkpoint_line(line) {
            None => continue,
            Some(Err(())) => {
                report.problems.push(problem(0, "checkpoint_unreadable"));
                continue;
            }
            Some(Ok(cp)) => cp,
        };
        checked += 1;
        let signed = STANDARD.decode(&cp.sig).ok().is_some_and(|sig| {
            keys.checkpoint_verify(
                Checkpoint::message(cp.seq, &cp.hash, cp.at).as_bytes(),
                &sig,
            )
        });
        if !signed {
            report
                .problems
                .push(problem(cp.seq, "checkpoint_signature_invalid"));
            continue;
        }
        let held = match seen.get(&cp.seq) {
            Some(h) => h.clone(),
            None => {
                let h = if cp.seq == 0 {
                    Some(GENESIS.to_string())
                } else {
                    store::audit::entry_hash(store, cp.seq).await?
                };
                seen.insert(cp.seq, h.clone());
                h
            }
        };
        match held {
            None => report
                .problems
                .push(problem(cp.seq, "checkpoint_entry_missing")),
            Some(h) if !crate::crypto::eq_ct(h.as_bytes(), cp.hash.as_bytes()) => report
                .problems
                .push(problem(cp.seq, "checkpoint_hash_mismatch")),
            Some(_) => {}
        }
    }
    if checked == 0 {
        // A wrong file must not pass for a checked one.
        report.problems.push(ChainProblem::at(0, "checkpoint_none"));
    }
    report.checkpoints = Some(checked);
    Ok(report)
}

/// The first line of an export, and the start of what its signature covers.
pub const EXPORT_V1: &str = "reclaim audit export v1";

/// The most entries one export carries (an export is built in memory).
pub const EXPORT_MAX: i64 = 50_000;

/// One entry as an export carries it: exactly what the chain holds, so the entries link
/// (`prev_hash` of each is `hash` of the one before) and whoever holds the audit key can
/// recompute each MAC (`reclaim audit verify` does).
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportedEntry {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The signature over an export's entries, for a reader without the audit key.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportSignature {
    /// SHA-256 (hex) of the entry lines, each with its `\n`.
    pub entries_sha256: String,
    /// Ed25519 over [`export_message`], base64, with the checkpoint key.
    pub export_sig: String,
}

/// The bytes an export's signature covers: plain text, like a checkpoint's, with its own
/// first line so neither can pass for the other.
pub fn export_message(from: i64, to: i64, entries_sha256: &str) -> String {
    format!("{EXPORT_V1}\n{from}\n{to}\n{entries_sha256}\n")
}

/// Entries `from` to `to` of the chain, ready to hand to a third party.
pub struct Export {
    pub from: i64,
    pub to: i64,
    /// One JSON line per entry ([`ExportedEntry`]).
    pub lines: Vec<String>,
    /// A checkpoint of the range's last entry and the signature over the lines: only when
    /// the range verifies (MACs, links, the head), so the server never signs a changed
    /// entry.
    pub signed: Option<(Checkpoint, ExportSignature)>,
    pub problems: Vec<ChainProblem>,
}

impl Export {
    /// The export as a file: a header line, the entries, then the checkpoint (a line
    /// `reclaim audit verify --checkpoint` reads) and the signature, or the problems.
    pub fn to_jsonl(&self) -> String {
        let mut out = serde_json::json!({
            "export": EXPORT_V1,
            "from": self.from,
            "to": self.to,
            "entries": self.lines.len(),
        })
        .to_string();
        out.push('\n');
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        match &self.signed {
            Some((cp, sig)) => {
                for v in [serde_json::to_value(cp), serde_json::to_value(sig)]
                    .into_iter()
                    .flatten()
                {
                    out.push_str(&v.to_string());
                    out.push('\n');
                }
            }
            None => {
                out.push_str(&serde_json::json!({ "problems": self.problems }).to_string());
                out.push('\n');
            }
        }
        out
    }
}

/// SHA-256 (hex) of `lines`, each followed by `\n`.
pub fn lines_sha256(lines: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Exports entries `from` to `to` (at most [`EXPORT_MAX`], and not past the head). The
/// range is checked as `verify` checks the chain (each MAC, each link, the link to the
/// entry before it, the head's MAC) before anything is signed.
pub async fn export(store: &Store, keys: &Keys, from: i64, to: i64) -> Result<Export, StoreError> {
    let Head {
        seq: head_seq,
        hash: head_hash,
        mac: head_mac,
    } = store::audit::head(store).await?;
    let from = from.max(1);
    let to = to.min(head_seq).min(from.saturating_add(EXPORT_MAX - 1));
    let mut problems = Vec::new();
    if !keys.audit_head_mac_matches(head_seq, &head_hash, &head_mac) {
        problems.push(ChainProblem::at(head_seq, "head_mac_invalid"));
    }
    let rows = if to >= from {
        store::audit::range(store, from, to).await?
    } else {
        Vec::new()
    };
    let mut prev = if from == 1 {
        Some(GENESIS.to_string())
    } else {
        store::audit::entry_hash(store, from - 1).await?
    };
    let mut expected = from;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        if row.seq != expected {
            problems.push(ChainProblem::at(expected, "entry_missing"));
        }
        if prev.as_deref() != Some(row.prev_hash.as_str()) {
            problems.push(ChainProblem::at(row.seq, "link_broken"));
        }
        if !keys.audit_mac_matches(&mac_input(&row), &row.hash) {
            problems.push(ChainProblem::at(row.seq, "entry_altered"));
        }
        expected = row.seq + 1;
        prev = Some(row.hash.clone());
        let e = ExportedEntry {
            seq: row.seq,
            at: row.at,
            kind: row.kind,
            actor: row.actor,
            subject: row.subject,
            detail: row.detail,
            prev_hash: row.prev_hash,
            hash: row.hash,
        };
        lines.push(serde_json::to_string(&e).unwrap_or_default());
    }
    if to >= from && expected != to + 1 {
        problems.push(ChainProblem::at(expected, "entry_missing"));
    }
    let signed = match (&prev, problems.is_empty() && to >= from) {
        (Some(last_hash), true) => {
            let at = now();
            let sig = keys.checkpoint_sign(Checkpoint::message(to, last_hash, at).as_bytes());
            let cp = Checkpoint {
                seq: to,
                hash: last_hash.clone(),
                at,
                key: STANDARD.encode(keys.checkpoint_public_key()),
                sig: STANDARD.encode(sig),
            };
            let digest = lines_sha256(&lines);
            let export_sig =
                STANDARD.encode(keys.checkpoint_sign(export_message(from, to, &digest).as_bytes()));
            Some((
                cp,
                ExportSignature {
                    entries_sha256: digest,
                    export_sig,
                },
            ))
        }
        _ => None,
    };
    Ok(Export {
        from,
        to,
        lines,
        signed,
        problems,
    })
}
