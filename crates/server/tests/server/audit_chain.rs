//! Tampering with the audit chain in the database is found.

use reclaim_server::audit::{self, ChainReport};
use sqlx::Row;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(audit_tampering_is_detected);

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
    sqlx::query("DELETE FROM audit")
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    for r in saved {
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
    let report = verify(h).await;
    assert!(report.intact(), "restoring failed: {report:?}");
}

async fn verify(h: &Harness) -> ChainReport {
    audit::verify(&h.app.store, &h.app.keys).await.unwrap()
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
    sqlx::query("UPDATE audit SET at = at - 3600 WHERE seq = 3")
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    assert!(has(&verify(&h).await, 3, "entry_altered"));
    restore(&h, &saved).await;
    sqlx::query("UPDATE audit SET actor = 'admin:mallory' WHERE seq = 2")
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    assert!(has(&verify(&h).await, 2, "entry_altered"));
    restore(&h, &saved).await;

    // A removed middle entry.
    sqlx::query("DELETE FROM audit WHERE seq = 4")
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    let report = verify(&h).await;
    assert!(has(&report, 4, "entry_missing"), "{report:?}");
    assert!(has(&report, 5, "link_broken"), "{report:?}");
    assert_eq!(report.entries, 6);
    restore(&h, &saved).await;

    // A removed tail.
    sqlx::query("DELETE FROM audit WHERE seq = 7")
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    let report = verify(&h).await;
    assert!(
        report.problems.iter().any(|p| p.code == "head_mismatch"),
        "{report:?}"
    );
    restore(&h, &saved).await;

    // Two entries' contents swapped, each with its own MAC.
    let (a, b) = (&saved[2], &saved[3]);
    for (target, from) in [(a.0, b), (b.0, a)] {
        sqlx::query("UPDATE audit SET at = $1, kind = $2, actor = $3, subject = $4, detail = $5, prev_hash = $6, hash = $7 WHERE seq = $8")
            .bind(from.1)
            .bind(&from.2)
            .bind(&from.3)
            .bind(&from.4)
            .bind(&from.5)
            .bind(&from.6)
            .bind(&from.7)
            .bind(target)
            .execute(&h.app.store.pool)
            .await
            .unwrap();
    }
    let report = verify(&h).await;
    assert!(!report.intact(), "{report:?}");
    assert!(
        has(&report, a.0, "entry_altered") && has(&report, b.0, "entry_altered"),
        "{report:?}"
    );
    restore(&h, &saved).await;

    // Renumbering to close the gap of a removed entry.
    sqlx::query("DELETE FROM audit WHERE seq = 3")
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    for seq in 4..=7i64 {
        sqlx::query("UPDATE audit SET seq = $1 WHERE seq = $2")
            .bind(seq - 1)
            .bind(seq)
            .execute(&h.app.store.pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_head SET seq = 6 WHERE id = 1")
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    let report = verify(&h).await;
    assert!(
        has(&report, 3, "link_broken") || has(&report, 3, "entry_altered"),
        "{report:?}"
    );
    sqlx::query("UPDATE audit_head SET seq = 7 WHERE id = 1")
        .execute(&h.app.store.pool)
        .await
        .unwrap();
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
    h.server = Some(reclaim_server::start(h.app.clone()).await.unwrap());
    h.base = format!("http://{}", h.server.as_ref().unwrap().addr);
    h.session(AVERY, &h.kiosk).await;
    let report = verify(&h).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.entries, 8);
}
