//! The biometric lockout and the rate limits.

use serde_json::json;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    biometric_failures_lock_the_login,
    sessions_per_user_are_limited
);

async fn biometric_failures_lock_the_login(db: Db) {
    let h = Harness::start(db).await;
    for i in 0..5 {
        let s = h.session(AVERY, &h.kiosk).await;
        let (status, body) = h.attest(&s, &rejected_claims(&s, &h.kiosk), &h.kiosk).await;
        assert_eq!(status, 200, "attempt {i}: {body}");
        assert_eq!(body["outcome"], "rejected", "attempt {i}: {body}");
        assert_eq!(body["reasons"], json!(["face_mismatch"]));
    }
    let locked_at = std::time::Instant::now();
    // The sixth attempt waits, however good it is, however the login is typed, and
    // under another alias of the same account (its email address).
    for login in [AVERY, " Avery.Quinn ", "avery.quinn@example.test"] {
        let s = h.session(login, &h.kiosk).await;
        let r = h
            .client
            .post(h.url(&format!("/v1/sessions/{}/attestation", s.id)))
            .bearer_auth(&s.token)
            .json(&json!({ "token": reclaim_protocol::sign_attestation(&claims(&s, &h.kiosk), &h.kiosk).unwrap() }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429);
        let retry: i64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        // At least 30 s from the fifth failure (NIST SP 800-63B), counted from then: a
        // slow test machine has already waited some of it.
        let waited = locked_at.elapsed().as_secs() as i64;
        assert!(
            retry + waited + 1 >= 30 && retry <= 3600,
            "Retry-After {retry} after {waited} s"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "biometric_locked");
    }
    let decisions = h
        .audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "decision")
        .count();
    assert_eq!(decisions, 5);
    // Another person is not locked out by Avery's failures.
    let s = h.session("nobody.else", &h.kiosk).await;
    let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    assert_eq!(h.password_changes(AVERY), 0);
}

async fn sessions_per_user_are_limited(db: Db) {
    let h = Harness::with(
        db,
        Options {
            extra: "[limits]\nsessions_per_user_per_hour = 3\n".into(),
            ..Options::default()
        },
    )
    .await;
    for _ in 0..3 {
        h.session(AVERY, &h.kiosk).await;
    }
    for login in [AVERY, "AVERY.QUINN"] {
        let r = h
            .client
            .post(h.url("/v1/sessions"))
            .json(&json!({ "login": login, "action": "reset_password", "device": h.kiosk.key_id().as_str() }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429);
        let retry: i64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=3600).contains(&retry), "Retry-After {retry}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "rate_limited");
    }
    // Unknown logins are limited the same way, and other users are not affected.
    for _ in 0..3 {
        h.session("ghost.user", &h.kiosk).await;
    }
    let (status, body) = h.create_session("ghost.user", &h.kiosk).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    let created = h
        .audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "session_created")
        .count();
    assert_eq!(created, 6);
}
