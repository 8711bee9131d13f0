//! The recovery as it should go, and the exactly-once reset.

use std::time::Duration;

use reclaim_directory::DemoUser;
use reclaim_server::crypto::secret_hash;
use reclaim_server::recovery::resets;
use serde_json::json;
use sqlx::Row;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    happy_flow_resets_the_password_exactly_once,
    unknown_user_looks_like_a_known_one,
    grant_is_idempotent_and_bound_to_its_user,
    pending_resets_are_resumed_exactly_once,
    interrupted_reset_is_applied_once,
    returning_users_verify_with_a_selfie_against_their_sealed_template,
    the_password_is_set_as_typed,
);

/// The policy judges the NFKC form, but the directory gets the password exactly as typed:
/// it compares what the keyboard sends at sign-in, unnormalised.
async fn the_password_is_set_as_typed(db: Db) {
    let h = Harness::start(db).await;
    let typed = "Ｈａｒｂｏｕｒ lantern copper meadow café";
    let grant = h.approved_grant(AVERY).await;
    let (status, body) = h.reset(&grant, typed).await;
    assert_eq!(status, 200, "{body}");
    assert!(h.password_is(AVERY, typed).await);
    assert!(
        !h.password_is(AVERY, "Harbour lantern copper meadow café")
            .await
    );
}

/// A face embedding as the app sends it: 128 little-endian f32 (SFace), base64. `seed`
/// picks a direction; different seeds are different people.
fn embedding(seed: u32) -> String {
    use base64::Engine;
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut bytes = Vec::with_capacity(128 * 4);
    for _ in 0..128 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let v = (x % 2000) as f32 / 1000.0 - 1.0;
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn returning_users_verify_with_a_selfie_against_their_sealed_template(db: Db) {
    let h = Harness::start(db).await;
    // First time: ID and selfie; the device sends the selfie's embedding, which becomes
    // the template when the reset completes.
    let s = h.session(AVERY, &h.kiosk).await;
    assert_eq!(s.body["steps"], json!(["document", "selfie"]));
    let mut c = claims(&s, &h.kiosk);
    c.face_embedding = Some(embedding(1));
    let body = assert_outcome(h.attest(&s, &c, &h.kiosk).await, "approved");
    let (status, body) = h.reset(body["grant"].as_str().unwrap(), NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    // Sealed at rest: the row is not the template's JSON.
    let sealed: String = sqlx::query_scalar("SELECT template_sealed FROM templates")
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    assert!(
        !sealed.contains("embedding") && !sealed.contains('['),
        "{sealed}"
    );

    // Returning: a selfie alone, compared on the server with the template.
    let selfie_only = |s: &OpenSession, seed: Option<u32>| {
        let mut c = claims(s, &h.kiosk);
        c.document = None;
        c.results.clear();
        c.face_embedding = seed.map(embedding);
        c
    };
    let s = h.session(AVERY, &h.kiosk).await;
    assert_eq!(s.body["steps"], json!(["selfie"]));
    let answer = h.attest(&s, &selfie_only(&s, Some(1)), &h.kiosk).await;
    assert_outcome(answer, "approved");
    // Someone else's face.
    let s = h.session(AVERY, &h.kiosk).await;
    let (status, body) = h.attest(&s, &selfie_only(&s, Some(2)), &h.kiosk).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "rejected");
    assert_eq!(body["reasons"], json!(["face_mismatch"]));
    // No face at all.
    let s = h.session(AVERY, &h.kiosk).await;
    let (status, body) = h.attest(&s, &selfie_only(&s, None), &h.kiosk).await;
    assert_eq!(
        body["reasons"],
        json!(["face_not_compared"]),
        "{status} {body}"
    );
    // The template disappears between the session's start and its attestation: no pass.
    let s = h.session(AVERY, &h.kiosk).await;
    assert_eq!(s.body["steps"], json!(["selfie"]));
    sqlx::query("DELETE FROM templates")
        .execute(&h.app.store.writer)
        .await
        .unwrap();
    let (status, body) = h.attest(&s, &selfie_only(&s, Some(1)), &h.kiosk).await;
    assert_eq!(
        body["reasons"],
        json!(["reference_missing"]),
        "{status} {body}"
    );
    // And a first-time attestation without the device's face match is no pass either.
    let s = h.session(AVERY, &h.kiosk).await;
    assert_eq!(s.body["steps"], json!(["document", "selfie"]));
    let mut c = claims(&s, &h.kiosk);
    c.results.clear();
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(
        body["reasons"],
        json!(["face_not_compared"]),
        "{status} {body}"
    );
}

async fn happy_flow_resets_the_password_exactly_once(db: Db) {
    let h = Harness::start(db).await;
    let s = h.session(AVERY, &h.kiosk).await;
    assert_eq!(s.body["steps"], json!(["document", "selfie"]));
    assert_eq!(s.body["audience"], PUBLIC_URL);
    let challenge = s.body["challenge"].as_array().unwrap();
    assert_eq!(challenge.len(), 3);
    assert_eq!(challenge[2], "center");

    let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "approved", "{body}");
    assert_eq!(body["reverified"], false);
    let grant = body["grant"].as_str().unwrap().to_string();
    assert!(grant.starts_with("rg_"));
    assert!(body["grant_expires_at"].as_i64().unwrap() > unix_now() as i64);

    // The session says so to whoever follows it.
    let (status, st) = h.status_of(&s).await;
    assert_eq!(status, 200);
    assert_eq!(st["state"], "approved");

    // A weak password is refused with reasons, and nothing changes.
    let (status, check) = h
        .post(
            "/v1/password/check",
            &json!({ "grant": grant, "password": "password" }),
        )
        .await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["acceptable"], false);
    assert!(!check["problems"].as_array().unwrap().is_empty(), "{check}");
    let (status, check) = h
        .post(
            "/v1/password/check",
            &json!({ "grant": grant, "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["acceptable"], true, "{check}");
    let (status, refused) = h.reset(&grant, "password").await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"], "password_refused");
    assert_eq!(h.password_changes(AVERY), 0);

    let (status, done) = h.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done, completed(false));
    assert!(h.password_is(AVERY, NEW_PASSWORD).await);
    assert!(!h.password_is(AVERY, OLD_PASSWORD).await);
    assert_eq!(h.password_changes(AVERY), 1);

    // A retry (lost response) is answered, not applied again.
    let (status, again) = h.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["status"], "completed");
    assert_eq!(again["already_completed"], true);
    assert_eq!(h.password_changes(AVERY), 1);
    // A completed grant no longer checks passwords.
    let answer = h
        .post(
            "/v1/password/check",
            &json!({ "grant": grant, "password": NEW_PASSWORD }),
        )
        .await;
    assert_refused(answer, 403, "grant_invalid");
    let (status, st) = h.status_of(&s).await;
    assert_eq!((status, st["state"].as_str()), (200, Some("completed")));

    let report = assert_chain_intact(&h.app).await;
    assert_eq!(
        h.audit_kinds().await,
        [
            "device_registered",
            "session_created",
            "decision",
            "reset_pending",
            "reset_completed"
        ]
    );
    assert_eq!(report.entries, 5);
    // Nothing secret in the chain.
    let details: Vec<String> = sqlx::query("SELECT detail FROM audit")
        .fetch_all(&h.app.store.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for d in &details {
        assert!(
            !d.contains(&grant) && !d.contains(NEW_PASSWORD) && !d.contains(&s.token),
            "{d}"
        );
    }
}

async fn unknown_user_looks_like_a_known_one(db: Db) {
    let h = Harness::start(db).await;
    let ttl = h.app.config.policy.session_ttl_s as i64;
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    };
    let before_known = unix_now();
    let known = h.session(AVERY, &h.kiosk).await;
    let after_known = unix_now();
    let unknown = h.session("nobody.here", &h.kiosk).await;
    let after_unknown = unix_now();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&known.body), keys(&unknown.body));
    assert_eq!(known.body["steps"], unknown.body["steps"]);
    assert_eq!(
        known.body["challenge"].as_array().unwrap().len(),
        unknown.body["challenge"].as_array().unwrap().len()
    );
    // Both expire one session lifetime after they were made: the clock's second may tick
    // between the two requests (it did, on a loaded machine), but the lifetime must not
    // depend on whether the account exists.
    let known_expiry = known.body["expires_at"].as_i64().unwrap();
    let unknown_expiry = unknown.body["expires_at"].as_i64().unwrap();
    assert!(
        (before_known + ttl..=after_known + ttl).contains(&known_expiry),
        "known: {known_expiry} not {ttl} s after {before_known}..={after_known}"
    );
    assert!(
        (after_known + ttl..=after_unknown + ttl).contains(&unknown_expiry),
        "unknown: {unknown_expiry} not {ttl} s after {after_known}..={after_unknown}"
    );

    // A perfect attestation for an account that does not exist is refused, in the same
    // words as a name that does not match an existing one.
    let (status, body) = h
        .attest(&unknown, &claims(&unknown, &h.kiosk), &h.kiosk)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "outcome": "rejected", "reasons": ["identity_not_confirmed"], "reverified": false })
    );
    let mut c = claims(&known, &h.kiosk);
    c.document = Some(document("SMITH", "JOHN"));
    let (status, known_body) = h.attest(&known, &c, &h.kiosk).await;
    assert_eq!(status, 200);
    assert_eq!(known_body, body);
    assert_eq!(h.password_changes(AVERY), 0);
}

/// The answer to a password reset that is done, now or `already`.
fn completed(already: bool) -> serde_json::Value {
    json!({ "status": "completed", "action": "reset_password", "already_completed": already })
}

async fn grant_is_idempotent_and_bound_to_its_user(db: Db) {
    const BLAKE: &str = "blake.river";
    const BLAKE_OLD: &str = "blake's own old passphrase";
    let users = vec![
        DemoUser::new(AVERY, "Avery", "Quinn").with_password(OLD_PASSWORD),
        DemoUser::new(BLAKE, "Blake", "River").with_password(BLAKE_OLD),
    ];
    let h = Harness::with(db, Options::with_users(Some(users))).await;

    // An attestation for another user than the session's is refused before anything.
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.user = BLAKE.into();
    c.document = Some(document("RIVER", "BLAKE"));
    let answer = h.attest(&s, &c, &h.kiosk).await;
    assert_refused(answer, 400, "attestation_user_mismatch");
    // Avery's own ID on Blake's session does not match Blake's record.
    let sb = h.session(BLAKE, &h.kiosk).await;
    let (status, body) = h.attest(&sb, &claims(&sb, &h.kiosk), &h.kiosk).await;
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "rejected", "{body}");

    let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(status, 200);
    let grant_a = body["grant"].as_str().unwrap().to_string();
    let sb = h.session(BLAKE, &h.kiosk).await;
    let mut c = claims(&sb, &h.kiosk);
    c.document = Some(document("RIVER", "BLAKE"));
    let (status, body) = h.attest(&sb, &c, &h.kiosk).await;
    assert_eq!(status, 200, "{body}");
    let grant_b = body["grant"].as_str().unwrap().to_string();

    let (status, first) = h.reset(&grant_a, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(h.password_changes(AVERY), 1);
    assert_eq!(h.password_changes(BLAKE), 0);
    assert!(h.password_is(BLAKE, BLAKE_OLD).await);

    // Grant A again, with another password: the same answer, nothing applied, to anyone.
    for pw in [NEW_PASSWORD, "an entirely different passphrase here"] {
        let (status, again) = h.reset(&grant_a, pw).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again, completed(true));
    }
    assert!(h.password_is(AVERY, NEW_PASSWORD).await);
    assert_eq!(h.password_changes(AVERY), 1);
    assert_eq!(h.password_changes(BLAKE), 0);
    assert!(h.password_is(BLAKE, BLAKE_OLD).await);

    // A made-up grant is refused.
    assert_refused(
        h.reset("rg_forged", NEW_PASSWORD).await,
        403,
        "grant_invalid",
    );

    // Grant B changes Blake, and only Blake.
    let (status, body) = h
        .reset(&grant_b, "winter orchards hum quietly at dusk")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.password_changes(BLAKE), 1);
    assert_eq!(h.password_changes(AVERY), 1);
    assert!(h.password_is(AVERY, NEW_PASSWORD).await);
    assert!(
        h.password_is(BLAKE, "winter orchards hum quietly at dusk")
            .await
    );
}

/// Puts the grant behind `secret` in the state a crash leaves: pending, with its sealed
/// password and `lease_until`.
async fn make_pending(h: &Harness, secret: &str, password: &str, lease_until: i64) {
    let sealed = h
        .app
        .keys
        .seal("pending password", password.as_bytes())
        .unwrap();
    let n = sqlx::query("UPDATE grants SET state = 'pending', password_sealed = $1, lease_until = $2 WHERE id = $3 AND state = 'issued'")
        .bind(sealed)
        .bind(lease_until)
        .bind(secret_hash(secret))
        .execute(&h.app.store.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
}

async fn grant_state(h: &Harness, secret: &str) -> (String, Option<String>) {
    let r = sqlx::query("SELECT state, password_sealed FROM grants WHERE id = $1")
        .bind(secret_hash(secret))
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

async fn pending_resets_are_resumed_exactly_once(db: Db) {
    let mut h = Harness::start(db).await;
    let g1 = h.approved_grant(AVERY).await;
    let g2 = h.approved_grant(AVERY).await;
    let g3 = h.approved_grant(AVERY).await;
    // The background worker must not race the calls below.
    h.stop().await;

    // Pending after a crash before the directory was called (lease 0): applied once.
    make_pending(&h, &g1, NEW_PASSWORD, 0).await;
    assert_eq!(resets::resume_pending(&h.app).await.unwrap(), 1);
    assert_eq!(h.password_changes(AVERY), 1);
    assert!(h.password_is(AVERY, NEW_PASSWORD).await);
    assert_eq!(grant_state(&h, &g1).await, ("completed".to_string(), None));
    assert_eq!(resets::resume_pending(&h.app).await.unwrap(), 0);
    assert_eq!(h.password_changes(AVERY), 1);

    // Pending after an attempt that did reach the directory (lease taken before): the
    // directory already has the password, so it is not applied a second time.
    const SECOND: &str = "second brand new passphrase for avery";
    make_pending(&h, &g2, SECOND, 1).await;
    let user = h.app.directory.find_user(AVERY).await.unwrap().unwrap();
    h.app.directory.set_password(&user, SECOND).await.unwrap();
    assert_eq!(h.password_changes(AVERY), 2);
    assert_eq!(resets::resume_pending(&h.app).await.unwrap(), 1);
    assert_eq!(h.password_changes(AVERY), 2);
    assert_eq!(grant_state(&h, &g2).await.0, "completed");

    // Lease 1 but the earlier attempt did not get through: applied now, once.
    const THIRD: &str = "third brand new passphrase for avery";
    make_pending(&h, &g3, THIRD, 1).await;
    assert_eq!(resets::resume_pending(&h.app).await.unwrap(), 1);
    assert_eq!(h.password_changes(AVERY), 3);
    assert!(h.password_is(AVERY, THIRD).await);

    // A lease another worker holds is left alone.
    h.server = Some(reclaim_server::start(h.app.clone()).await.unwrap());
    h.base = format!("http://{}", h.server.as_ref().unwrap().addr);
    let g4 = h.approved_grant(AVERY).await;
    make_pending(
        &h,
        &g4,
        "fourth passphrase that nobody applies",
        unix_now() as i64 + 600,
    )
    .await;
    assert_eq!(resets::resume_pending(&h.app).await.unwrap(), 0);
    let (status, body) = h.reset(&g4, "fourth passphrase that nobody applies").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "reset_in_progress");
    assert_eq!(body["status"], "pending");
    assert_eq!(h.password_changes(AVERY), 3);

    // The retries answer as completed.
    for g in [&g1, &g2, &g3] {
        let (status, body) = h.reset(g, NEW_PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["already_completed"], true);
    }
    assert_eq!(h.password_changes(AVERY), 3);
    assert_chain_intact(&h.app).await;
    assert_eq!(h.audit_count_of("reset_completed").await, 3);
}

async fn interrupted_reset_is_applied_once(db: Db) {
    let slow = "[fault]\ndirectory_delay_ms = 1500\n";
    let h = Harness::with(db, Options::with_extra(slow)).await;
    let grant = h.approved_grant(AVERY).await;
    // The client gives up while the directory is slow.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = impatient
        .post(h.url("/v1/resets"))
        .json(&json!({ "grant": grant, "new_password": NEW_PASSWORD }))
        .send()
        .await;
    assert!(r.is_err(), "the request should have timed out");
    // Retrying at once: either still in progress, or done; never a second change.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = h.reset(&grant, NEW_PASSWORD).await;
        if status == 200 {
            assert_eq!(body["status"], "completed", "{body}");
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "pending", "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "the reset never completed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(h.password_changes(AVERY), 1);
    assert!(h.password_is(AVERY, NEW_PASSWORD).await);
    assert_chain_intact(&h.app).await;
}
