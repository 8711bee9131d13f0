//! Tampering with the audit chain in the database is found: edited, removed, reordered
//! and forged entries, a cut tail (from the head's MAC, and from signed checkpoints kept
//! outside the database when the head is put back too), grants planted in the database
//! and resets without a decision.

use reclaim_server::audit::{self, ChainReport};
use reclaim_server::crypto::{new_secret, secret_hash, Keys};
use reclaim_server::App;
use sqlx::Row;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    audit_tampering_is_detected,
    a_cut_tail_is_found,
    a_server_stopped_at_once_anchored_its_start,
    grants_and_resets_are_checked_against_decisions,
    an_old_chain_is_sealed_once,
);

type AuditRow = (i64, i64, String, String, String, String, String, String);

async fn rows(h: &Harness) -> Vec<AuditRow> {
    sqlx::query(
        "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit ORDER BY seq",
    )
    .fetch_all(&h.app.store.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get(0),
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
            r.get(7),
        )
    })
    .collect()
}

async fn restore(h: &Harness, saved: &[AuditRow]) {
    h.execute("DELETE FROM audit").await;
    for r in saved {
        insert(h, r).await;
    }
    let report = verify(h).await;
    assert!(report.intact(), "restoring failed: {report:?}");
}

/// Writes `r` into the audit table as it stands, as anyone with the database can.
async fn insert(h: &Harness, r: &AuditRow) {
    sqlx::query("INSERT INTO audit (seq, at, kind, actor, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(r.0)
        .bind(r.1)
        .bind(&r.2)
        .bind(&r.3)
        .bind(&r.4)
        .bind(&r.5)
        .bind(&r.6)
        .bind(&r.7)
        .execute(&h.app.store.pool)
        .await
        .unwrap();
}

async fn verify(h: &Harness) -> ChainReport {
    audit::verify(&h.app.store, &h.app.keys).await.unwrap()
}

/// The chain verified against the signed checkpoints in `log` (log lines or the
/// checkpoint file).
async fn verify_against(h: &Harness, log: &str) -> ChainReport {
    audit::verify_with_checkpoints(&h.app.store, &h.app.keys, log)
        .await
        .unwrap()
}

/// Asserts that the checkpoints in `log` find the problem `code` at entry `seq`.
async fn assert_checkpoints_find(h: &Harness, log: &str, seq: i64, code: &str) {
    let report = verify_against(h, log).await;
    assert!(has(&report, seq, code), "{report:?}");
}

fn has(report: &ChainReport, seq: i64, code: &str) -> bool {
    report
        .problems
        .iter()
        .any(|p| p.seq == seq && p.code == code)
}

async fn audit_tampering_is_detected(db: Db) {
    let mut h = Harness::start(db).await;
    let grant = h.approved_grant(AVERY).await;
    let (status, body) = h.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let s = h.session(AVERY, &h.kiosk).await;
    let (status, _) = h.attest(&s, &rejected_claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(status, 200);
    // No appends while rows are being edited.
    h.stop().await;
    let saved = rows(&h).await;
    assert_eq!(saved.len(), 7, "{saved:?}");
    let report = verify(&h).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!((report.entries, report.head_seq), (7, 7));

    // An edited detail: the decision now says "approved" for the rejected session.
    let last_decision = saved.iter().rev().find(|r| r.2 == "decision").unwrap().0;
    sqlx::query("UPDATE audit SET detail = replace(detail, 'rejected', 'approved') WHERE seq = $1")
        .bind(last_decision)
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    let report = verify(&h).await;
    assert!(has(&report, last_decision, "entry_altered"), "{report:?}");
    restore(&h, &saved).await;

    // Other columns: time, actor.
    h.execute("UPDATE audit SET at = at - 3600 WHERE seq = 3")
        .await;
    assert!(has(&verify(&h).await, 3, "entry_altered"));
    restore(&h, &saved).await;
    h.execute("UPDATE audit SET actor = 'admin:mallory' WHERE seq = 2")
        .await;
    assert!(has(&verify(&h).await, 2, "entry_altered"));
    restore(&h, &saved).await;

    // A removed middle entry.
    h.execute("DELETE FROM audit WHERE seq = 4").await;
    let report = verify(&h).await;
    assert!(has(&report, 4, "entry_missing"), "{report:?}");
    assert!(has(&report, 5, "link_broken"), "{report:?}");
    assert_eq!(report.entries, 6);
    restore(&h, &saved).await;

    // A removed tail.
    h.execute("DELETE FROM audit WHERE seq = 7").await;
    let report = verify(&h).await;
    assert!(
        report.problems.iter().any(|p| p.code == "head_mismatch"),
        "{report:?}"
    );
    restore(&h, &saved).await;

    // Two entries' contents swapped, each with its own MAC.
    let (a, b) = (&saved[2], &saved[3]);
    for (target, from) in [(a.0, b), (b.0, a)] {
        // The other entry's columns, under this entry's number.
        let mut swapped = from.clone();
        swapped.0 = target;
        h.execute(&format!("DELETE FROM audit WHERE seq = {target}"))
            .await;
        insert(&h, &swapped).await;
    }
    let report = verify(&h).await;
    assert!(!report.intact(), "{report:?}");
    assert!(
        has(&report, a.0, "entry_altered") && has(&report, b.0, "entry_altered"),
        "{report:?}"
    );
    restore(&h, &saved).await;

    // Renumbering to close the gap of a removed entry.
    h.execute("DELETE FROM audit WHERE seq = 3").await;
    for seq in 4..=7i64 {
        sqlx::query("UPDATE audit SET seq = $1 WHERE seq = $2")
            .bind(seq - 1)
            .bind(seq)
            .execute(&h.app.store.pool)
            .await
            .unwrap();
    }
    h.execute("UPDATE audit_head SET seq = 6 WHERE id = 1")
        .await;
    let report = verify(&h).await;
    assert!(
        has(&report, 3, "link_broken") || has(&report, 3, "entry_altered"),
        "{report:?}"
    );
    h.execute("UPDATE audit_head SET seq = 7 WHERE id = 1")
        .await;
    restore(&h, &saved).await;

    // A forged entry appended at the end, even with a correct-looking link.
    let last = saved.last().unwrap();
    sqlx::query("INSERT INTO audit (seq, at, kind, actor, subject, detail, prev_hash, hash) VALUES (8, $1, 'decision', 'server', 'session:x', '{}', $2, $3)")
        .bind(last.1)
        .bind(&last.7)
        .bind("ab".repeat(32))
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    let report = verify(&h).await;
    assert!(has(&report, 8, "entry_altered"), "{report:?}");
    assert!(
        report.problems.iter().any(|p| p.code == "head_mismatch"),
        "{report:?}"
    );
    restore(&h, &saved).await;

    // Untouched, the chain keeps growing intact.
    h.restart().await;
    h.session(AVERY, &h.kiosk).await;
    let report = verify(&h).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.entries, 8);
}

fn has_code(report: &ChainReport, code: &str) -> bool {
    report.problems.iter().any(|p| p.code == code)
}

async fn head(h: &Harness) -> (i64, String, String) {
    let r = sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1")
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

async fn set_head(h: &Harness, head: &(i64, String, String)) {
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1")
        .bind(head.0)
        .bind(&head.1)
        .bind(&head.2)
        .execute(&h.app.store.pool)
        .await
        .unwrap();
}

/// Deletes every entry after `seq`.
async fn cut_after(h: &Harness, seq: i64) {
    sqlx::query("DELETE FROM audit WHERE seq > $1")
        .bind(seq)
        .execute(&h.app.store.pool)
        .await
        .unwrap();
}

/// The entries' MAC input, as an attacker who knows the code (not the key) rebuilds it.
fn mac_input(r: &AuditRow) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [
        r.0.to_string().as_str(),
        r.1.to_string().as_str(),
        &r.2,
        &r.3,
        &r.4,
        &r.5,
        &r.6,
    ] {
        out.extend_from_slice(&(field.len() as u64).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// A server that signs a checkpoint into `file` every second.
async fn checkpointing(db: Db, file: &std::path::Path) -> Harness {
    Harness::with(
        db,
        Options {
            extra: format!(
                "[audit]\ncheckpoint_interval_s = 1\ncheckpoint_file = \"{}\"\n",
                file.display()
            ),
            ..Options::default()
        },
    )
    .await
}

/// A server stopped as soon as it started still signed the chain as it found it, then
/// again at its stop: the first checkpoint is taken before it serves, not by a task the
/// stop aborts. (Under load, `a_cut_tail_is_found` once saw only the stop's checkpoint:
/// the start's, still under way in that task, was cut off by the stop.)
async fn a_server_stopped_at_once_anchored_its_start(db: Db) {
    let files = TempDir::new();
    let checkpoints = files.path().join("checkpoints.jsonl");
    let mut h = checkpointing(db, &checkpoints).await;
    h.stop().await;
    let text = std::fs::read_to_string(&checkpoints).unwrap();
    let report = verify_against(&h, &text).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.checkpoints, Some(2), "{text}");
}

async fn a_cut_tail_is_found(db: Db) {
    let files = TempDir::new();
    let checkpoints = files.path().join("checkpoints.jsonl");
    let mut h = checkpointing(db, &checkpoints).await;
    let grant = h.approved_grant(AVERY).await;
    // The database as a writer could copy it now: the head row with its MAC.
    let early_head = head(&h).await;
    let (status, body) = h.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    // Shutdown signs a checkpoint of the last head.
    h.stop().await;
    let saved = rows(&h).await;
    let final_head = head(&h).await;
    assert!(final_head.0 > early_head.0 + 1, "{saved:?}");
    let text = std::fs::read_to_string(&checkpoints).unwrap();
    let original = text.clone();
    let last: audit::Checkpoint = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!((last.seq, &last.hash), (final_head.0, &final_head.1));
    // Untouched: intact, with and without the checkpoints.
    let report = verify(&h).await;
    assert!(report.intact(), "{report:?}");
    let report = verify_against(&h, &text).await;
    assert!(report.intact(), "{report:?}");
    assert!(report.checkpoints.unwrap() >= 2, "{report:?}");

    // The tail cut and the head pointed at the new last entry (the hole of issue 14): the
    // head's MAC gives it away, and so does the checkpoint.
    let keep = &saved[saved.len() - 3];
    cut_after(&h, keep.0).await;
    set_head(&h, &(keep.0, keep.7.clone(), final_head.2.clone())).await;
    let report = verify(&h).await;
    assert!(has(&report, keep.0, "head_mac_invalid"), "{report:?}");
    assert_checkpoints_find(&h, &text, final_head.0, "checkpoint_entry_missing").await;
    // A server that goes on appending records the moved head in the chain instead of
    // building on it.
    h.restart().await;
    h.session(AVERY, &h.kiosk).await;
    h.stop().await;
    let report = verify(&h).await;
    assert!(has(&report, keep.0 + 1, "head_was_invalid"), "{report:?}");
    assert!(!has_code(&report, "head_mac_invalid"), "{report:?}");
    // ... and the checkpoint sees its entry replaced.
    assert_checkpoints_find(&h, &text, final_head.0, "checkpoint_hash_mismatch").await;
    set_head(&h, &final_head).await;
    restore(&h, &saved).await;

    // The whole earlier state put back, head MAC included (a copy taken before): the
    // database alone cannot tell; the checkpoint signed since can.
    cut_after(&h, early_head.0).await;
    set_head(&h, &early_head).await;
    let report = verify(&h).await;
    assert!(report.intact(), "{report:?}");
    assert_checkpoints_find(&h, &text, final_head.0, "checkpoint_entry_missing").await;
    set_head(&h, &final_head).await;
    restore(&h, &saved).await;

    // A forged entry, made by someone who knows the algorithm but not the key.
    let forger = Keys::from_hex(&random_hex_key()).unwrap();
    let last_row = saved.last().unwrap();
    let mut forged: AuditRow = (
        last_row.0 + 1,
        last_row.1,
        "decision".into(),
        "server".into(),
        format!("session:{}", "x".repeat(22)),
        r#"{"outcome":"approved"}"#.into(),
        last_row.7.clone(),
        String::new(),
    );
    forged.7 = forger.audit_mac(&mac_input(&forged));
    insert(&h, &forged).await;
    set_head(
        &h,
        &(
            forged.0,
            forged.7.clone(),
            forger.audit_head_mac(forged.0, &forged.7),
        ),
    )
    .await;
    let report = verify(&h).await;
    assert!(has(&report, forged.0, "entry_altered"), "{report:?}");
    assert!(has(&report, forged.0, "head_mac_invalid"), "{report:?}");
    set_head(&h, &final_head).await;
    restore(&h, &saved).await;

    // Checkpoints that are not this server's, or not checkpoints at all.
    let mut bad = last.clone();
    bad.seq -= 1;
    let wrong_key = {
        let message = audit::Checkpoint::message(last.seq, &last.hash, last.at);
        let mut cp = last.clone();
        cp.sig = base64_sig(&forger.checkpoint_sign(message.as_bytes()));
        cp
    };
    let text = format!(
        "{}\n{}\n{{\"seq\": 1, \"sig\": 5}}\nreclaim: listening\n",
        serde_json::to_string(&bad).unwrap(),
        serde_json::to_string(&wrong_key).unwrap()
    );
    let report = verify_against(&h, &text).await;
    let codes: Vec<_> = report.problems.iter().map(|p| (p.line, p.code)).collect();
    assert_eq!(
        codes,
        [
            (Some(1), "checkpoint_signature_invalid"),
            (Some(2), "checkpoint_signature_invalid"),
            (Some(3), "checkpoint_unreadable"),
        ],
        "{report:?}"
    );
    let report = verify_against(&h, "not a log\n").await;
    assert!(has_code(&report, "checkpoint_none"), "{report:?}");

    // Untouched, the chain keeps growing intact. (The checkpoints signed while the cut
    // chain was growing vouch for entries the restore replaced: dropped.)
    std::fs::write(&checkpoints, &original).unwrap();
    h.restart().await;
    h.session(AVERY, &h.kiosk).await;
    h.stop().await;
    let text = std::fs::read_to_string(&checkpoints).unwrap();
    assert!(text.lines().count() > original.lines().count());
    let report = verify_against(&h, &text).await;
    assert!(report.intact(), "{report:?}");
}

fn base64_sig(sig: &[u8; 64]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(sig)
}

async fn grants_and_resets_are_checked_against_decisions(db: Db) {
    let mut h = Harness::start(db).await;
    let used = h.approved_grant(AVERY).await;
    let (status, body) = h.reset(&used, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let _unused = h.approved_grant(AVERY).await;
    assert!(verify(&h).await.intact());

    // A grant row written straight into the database, for a session no decision
    // approved, then used through the API: the server completes the reset (it only sees
    // a grant), and the chain shows resets no decision backs.
    let s = h.session(AVERY, &h.kiosk).await;
    let row = sqlx::query("SELECT user_ref, login FROM grants LIMIT 1")
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    let (user_ref, login): (String, String) = (row.get(0), row.get(1));
    let secret = new_secret("rg_").unwrap();
    let planted = secret_hash(&secret);
    sqlx::query("INSERT INTO grants (id, session_id, user_ref, login, action, state, expires_at, template_sealed, password_sealed, lease_until, attempts, created_at, completed_at, apply_after) VALUES ($1, $2, $3, $4, 'reset_password', 'issued', $5, NULL, NULL, 0, 0, $6, NULL, 0)")
        .bind(&planted)
        .bind(&s.id)
        .bind(&user_ref)
        .bind(&login)
        .bind(unix_now() as i64 + 300)
        .bind(unix_now() as i64)
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    let report = verify(&h).await;
    let grant_problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.code, p.grant.as_deref()))
        .collect();
    assert_eq!(
        grant_problems,
        [("grant_without_decision", Some(planted.as_str()))],
        "{report:?}"
    );
    let (status, body) = h
        .reset(&secret, "amber meadows whisper quietly tonight")
        .await;
    assert_eq!(status, 200, "{body}");
    h.stop().await;
    let report = verify(&h).await;
    let kinds = h.audit_kinds().await;
    let unbacked: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.code == "reset_without_decision")
        .map(|p| kinds[(p.seq - 1) as usize].as_str())
        .collect();
    assert_eq!(unbacked, ["reset_pending", "reset_completed"], "{report:?}");
    assert!(has_code(&report, "grant_without_decision"), "{report:?}");
    sqlx::query("DELETE FROM grants WHERE id = $1")
        .bind(&planted)
        .execute(&h.app.store.pool)
        .await
        .unwrap();

    // A real grant changed in the database: another action, another account, or its
    // notice delay taken away.
    for change in [
        "UPDATE grants SET action = 'reset_mfa' WHERE state = 'issued'",
        "UPDATE grants SET user_ref = 'someone-else' WHERE state = 'issued'",
    ] {
        let before = rows_of_grants(&h).await;
        h.execute(change).await;
        let report = verify(&h).await;
        assert!(
            has_code(&report, "grant_not_as_decided"),
            "{change}: {report:?}"
        );
        for (id, action, user_ref) in before {
            sqlx::query("UPDATE grants SET action = $1, user_ref = $2 WHERE id = $3")
                .bind(action)
                .bind(user_ref)
                .bind(id)
                .execute(&h.app.store.pool)
                .await
                .unwrap();
        }
    }
    let report = verify(&h).await;
    assert!(!has_code(&report, "grant_not_as_decided"), "{report:?}");
}

async fn rows_of_grants(h: &Harness) -> Vec<(String, String, String)> {
    sqlx::query("SELECT id, action, user_ref FROM grants")
        .fetch_all(&h.app.store.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Empties the head's MAC, as a database from before keyed heads has it.
async fn blank_head_mac(h: &Harness) {
    h.execute("UPDATE audit_head SET mac = '' WHERE id = 1")
        .await;
}

async fn an_old_chain_is_sealed_once(db: Db) {
    let mut h = Harness::start(db).await;
    h.session(AVERY, &h.kiosk).await;
    h.stop().await;
    let n = rows(&h).await.len() as i64;
    // A database from before keyed heads: the migration leaves the MAC empty.
    blank_head_mac(&h).await;
    let config = h.config_of_another_instance(&Options::default());
    let reopened = App::open(config.clone()).await.unwrap();
    let kinds = audit_kinds(&reopened).await;
    assert_eq!(kinds.len() as i64, n + 1);
    assert_eq!(kinds.last().unwrap(), "audit_head_sealed");
    assert_chain_intact(&reopened).await;
    // Opened again: nothing more to seal.
    let again = App::open(config.clone()).await.unwrap();
    assert_eq!(audit_kinds(&again).await.len() as i64, n + 1);
    // The MAC blanked once more (by someone covering a cut): not sealed again.
    blank_head_mac(&h).await;
    let third = App::open(config).await.unwrap();
    assert_eq!(audit_kinds(&third).await.len() as i64, n + 1);
    let report = audit::verify(&third.store, &third.keys).await.unwrap();
    assert!(has(&report, n + 1, "head_mac_invalid"), "{report:?}");
}
