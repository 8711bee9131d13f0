//! What an attacker would try against the attestation and the hand-off.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reclaim_protocol::attestation::EvidenceDigest;
use reclaim_protocol::{sign_attestation, DeviceKey};
use reclaim_server::devices;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    replays_foreign_keys_and_wrong_audiences_are_refused,
    document_names_must_match_the_directory,
    evidence_must_be_what_was_attested,
    hand_off_moves_the_session_to_the_phone,
    revoked_devices_are_refused,
    unmanaged_evidence_is_judged_by_the_server,
);

async fn session_row(h: &Harness, id: &str) -> (String, i64) {
    let r = sqlx::query("SELECT state, nonce_used FROM sessions WHERE id = $1")
        .bind(id)
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

async fn audit_count(h: &Harness) -> usize {
    h.audit_kinds().await.len()
}

async fn replays_foreign_keys_and_wrong_audiences_are_refused(db: Db) {
    let h = Harness::start(db).await;
    let other = DeviceKey::generate().unwrap();
    register_managed(&h.app, &other).await;
    let s = h.session(AVERY, &h.kiosk).await;
    let before = audit_count(&h).await;

    // Signed by another registered (even managed) device than the session's.
    let (status, body) = h.attest(&s, &claims(&s, &other), &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("device_unknown")),
        "{body}"
    );
    // Signed by a key no one registered.
    let stranger = DeviceKey::generate().unwrap();
    let (status, body) = h.attest(&s, &claims(&s, &stranger), &stranger).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("device_unknown")),
        "{body}"
    );
    // For another server.
    let mut c = claims(&s, &h.kiosk);
    c.aud = "https://evil.example.test".into();
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("token_audience_mismatch")),
        "{body}"
    );
    // With another nonce, expired, or for another session.
    let mut c = claims(&s, &h.kiosk);
    c.nonce = "guessed".into();
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("token_nonce_mismatch")),
        "{body}"
    );
    let mut c = claims(&s, &h.kiosk);
    c.iat -= 1000;
    c.exp = c.iat + 100;
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("token_expired")),
        "{body}"
    );
    let other_session = h.session(AVERY, &h.kiosk).await;
    let token_for_other = sign_attestation(&claims(&other_session, &h.kiosk), &h.kiosk).unwrap();
    let (status, body) = h.attest_token(&s, &token_for_other, json!([])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("token_session_mismatch")),
        "{body}"
    );
    // A tampered payload.
    let token = sign_attestation(&claims(&s, &h.kiosk), &h.kiosk).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut c = claims(&s, &h.kiosk);
    c.user = "someone.else".into();
    let forged = sign_attestation(&c, &stranger).unwrap();
    parts[1] = forged.split('.').nth(1).unwrap().to_string();
    let (status, body) = h.attest_token(&s, &parts.join("."), json!([])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("token_signature_invalid")),
        "{body}"
    );
    // An action the session was not started for.
    let mut c = claims(&s, &h.kiosk);
    c.action = reclaim_protocol::RecoveryAction::ResetMfa;
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("attestation_action_mismatch")),
        "{body}"
    );

    // None of that changed anything: the nonce is unspent, nothing was recorded.
    assert_eq!(session_row(&h, &s.id).await, ("open".to_string(), 0));
    assert_eq!(
        audit_count(&h).await,
        before + 1,
        "only the second session was recorded"
    );

    let (status, body) = h.attest_token(&s, &token, json!([])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "approved");
    // The same token again, and a fresh token for the same session.
    let (status, body) = h.attest_token(&s, &token, json!([])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("nonce_replayed")),
        "{body}"
    );
    let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("nonce_replayed")),
        "{body}"
    );
    let decisions = h
        .audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "decision")
        .count();
    assert_eq!(decisions, 1);
}

async fn document_names_must_match_the_directory(db: Db) {
    // Someone works the review queue, so a doubtful name goes to a person.
    let h = Harness::with(
        db,
        Options {
            policy: "review_queue = true".into(),
            ..Options::default()
        },
    )
    .await;
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.document = Some(document("SMITH", "JOHN"));
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "rejected");
    assert_eq!(body["reasons"], json!(["identity_not_confirmed"]));
    assert!(body.get("grant").is_none());

    // Avery's family member: the same surname, another first name.
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.document = Some(document("QUINN", "JORDAN"));
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );

    // Only an initial: a person must look.
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.document = Some(document("QUINN", "A"));
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "review", "{body}");
    assert!(body.get("grant").is_none());
    let (_, st) = h
        .get_auth(&format!("/v1/sessions/{}", s.id), &s.token)
        .await;
    assert_eq!(st["state"], "review");

    // No document at all for a first-time user, or one whose checks failed.
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.document = None;
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    assert_eq!(body["reasons"], json!(["document_missing"]));
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.document.as_mut().unwrap().checks_passed = false;
    let (status, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    assert_eq!(body["reasons"], json!(["document_checks_failed"]));

    let grants: i64 = sqlx::query("SELECT COUNT(*) FROM grants")
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(grants, 0);
    assert_eq!(h.password_changes(AVERY), 0);
}

fn digest(name: &str, bytes: &[u8]) -> EvidenceDigest {
    EvidenceDigest {
        name: name.into(),
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

async fn evidence_must_be_what_was_attested(db: Db) {
    // Self-registered devices opted in, so their evidence is what is checked (by default
    // they are refused before it is looked at: trust.rs).
    let h = Harness::with(
        db,
        Options {
            policy: UNMANAGED_APPROVE.into(),
            ..Options::default()
        },
    )
    .await;
    // A real photo: evidence whose headers do not read as an image is refused before it
    // is queued (memory.rs in the CLI's tests), which is not what this test is about.
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/faces/obama-1.jpg"
    ))
    .unwrap();
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.evidence = vec![digest("id_front", &photo)];
    let token = sign_attestation(&c, &h.kiosk).unwrap();
    let swapped = json!([{ "name": "id_front", "data": STANDARD.encode(b"another person's ID") }]);
    let (status, body) = h.attest_token(&s, &token, swapped).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("evidence_digest_mismatch")),
        "{body}"
    );
    let extra = json!([
        { "name": "id_front", "data": STANDARD.encode(&photo) },
        { "name": "id_back", "data": STANDARD.encode(b"unlisted") },
    ]);
    let (status, body) = h.attest_token(&s, &token, extra).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("evidence_digest_mismatch")),
        "{body}"
    );
    assert_eq!(session_row(&h, &s.id).await, ("open".to_string(), 0));
    // A server with every re-verification place taken answers at once, and spends nothing.
    let honest = json!([{ "name": "id_front", "data": STANDARD.encode(&photo) }]);
    let held = h
        .app
        .reverify_queue
        .try_acquire_many(reclaim_server::REVERIFY_QUEUE as u32)
        .unwrap();
    let (status, body) = h.attest_token(&s, &token, honest.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("server_busy")),
        "{body}"
    );
    drop(held);
    // This test server does not re-verify: evidence it cannot judge is refused, unspent.
    let (status, body) = h.attest_token(&s, &token, honest).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("reverification_unavailable")),
        "{body}"
    );
    assert_eq!(session_row(&h, &s.id).await, ("open".to_string(), 0));
    // The nonce was not spent: the honest attestation still goes through.
    let (status, body) = h.attest_token(&s, &token, json!([])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "approved", "{body}");

    // A device that registered itself must upload its evidence.
    let phone = DeviceKey::generate().unwrap();
    let (status, body) = h
        .post(
            "/v1/devices",
            &json!({ "public_key": phone.public().to_base64(), "name": "my phone" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tier"], "unmanaged");
    assert_eq!(body["key_id"], phone.key_id().as_str());
    let s = h.session(AVERY, &phone).await;
    let (status, body) = h.attest(&s, &claims(&s, &phone), &phone).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("evidence_required")),
        "{body}"
    );
    assert_eq!(session_row(&h, &s.id).await, ("open".to_string(), 0));
    // It cannot promote itself to managed by registering again.
    let (status, body) = h
        .post(
            "/v1/devices",
            &json!({ "public_key": phone.public().to_base64() }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tier"], "unmanaged");
    let d = devices::find(&h.app.store, phone.key_id().as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.tier, devices::Tier::Unmanaged);
    // And a managed kiosk's key registered by a stranger stays managed.
    let (status, body) = h
        .post(
            "/v1/devices",
            &json!({ "public_key": h.kiosk.public().to_base64() }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let d = devices::find(&h.app.store, h.kiosk.key_id().as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.tier, devices::Tier::Managed);
    assert_eq!(h.password_changes(AVERY), 0);
}

async fn hand_off_moves_the_session_to_the_phone(db: Db) {
    let h = Harness::start(db).await;
    let phone = DeviceKey::generate().unwrap();
    register_managed(&h.app, &phone).await;
    let laptop = h.session(AVERY, &h.kiosk).await;

    let (status, ho) = h
        .post_auth(
            &format!("/v1/sessions/{}/handoff", laptop.id),
            &laptop.token,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{ho}");
    let secret = ho["handoff_secret"].as_str().unwrap().to_string();
    assert!(ho["qr_payload"].as_str().unwrap().contains(&secret));

    // An unregistered phone cannot take it, and its try does not burn the code.
    let stranger = DeviceKey::generate().unwrap();
    let (status, body) = h
        .post("/v1/handoff", &json!({ "session_id": laptop.id, "secret": secret, "device": stranger.key_id().as_str() }))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("device_unknown")),
        "{body}"
    );
    // Nor does a wrong secret.
    let (status, body) = h
        .post("/v1/handoff", &json!({ "session_id": laptop.id, "secret": "rh_guess", "device": phone.key_id().as_str() }))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("handoff_invalid")),
        "{body}"
    );

    let (status, claimed) = h
        .post("/v1/handoff", &json!({ "session_id": laptop.id, "secret": secret, "device": phone.key_id().as_str() }))
        .await;
    assert_eq!(status, 200, "{claimed}");
    let phone_session = Session::from_json(AVERY, &claimed);
    assert_eq!(phone_session.id, laptop.id);
    assert_eq!(phone_session.nonce, laptop.nonce);
    assert_ne!(phone_session.token, laptop.token);

    // The laptop follows but cannot act.
    let (status, st) = h
        .get_auth(&format!("/v1/sessions/{}", laptop.id), &laptop.token)
        .await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["handed_off"], true);
    assert_eq!(st["active_device"], false);
    assert_eq!(st["state"], "open");
    let (status, st) = h
        .get_auth(&format!("/v1/sessions/{}", laptop.id), &phone_session.token)
        .await;
    assert_eq!((status, st["active_device"].as_bool()), (200, Some(true)));
    let (status, body) = h
        .attest(&laptop, &claims(&laptop, &h.kiosk), &h.kiosk)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("not_active_device")),
        "{body}"
    );
    let (status, body) = h
        .post_auth(
            &format!("/v1/sessions/{}/handoff", laptop.id),
            &laptop.token,
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("handoff_not_allowed")),
        "{body}"
    );

    // The code works once.
    let other_phone = DeviceKey::generate().unwrap();
    register_managed(&h.app, &other_phone).await;
    let (status, body) = h
        .post("/v1/handoff", &json!({ "session_id": laptop.id, "secret": secret, "device": other_phone.key_id().as_str() }))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("handoff_invalid")),
        "{body}"
    );

    // The laptop's key no longer speaks for the session; the phone's does.
    let (status, body) = h
        .attest(&phone_session, &claims(&phone_session, &h.kiosk), &h.kiosk)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("device_unknown")),
        "{body}"
    );
    let (status, body) = h
        .attest(&phone_session, &claims(&phone_session, &phone), &phone)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "approved", "{body}");
    let (_, st) = h
        .get_auth(&format!("/v1/sessions/{}", laptop.id), &laptop.token)
        .await;
    assert_eq!(st["state"], "approved");
    assert!(h
        .audit_kinds()
        .await
        .contains(&"session_handed_off".to_string()));
}

async fn revoked_devices_are_refused(db: Db) {
    let h = Harness::start(db).await;
    let s = h.session(AVERY, &h.kiosk).await;
    devices::revoke(
        &h.app.store,
        &h.app.keys,
        h.kiosk.key_id().as_str(),
        "admin:test",
    )
    .await
    .unwrap();
    let (status, body) = h.create_session(AVERY, &h.kiosk).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("device_revoked")),
        "{body}"
    );
    // A session it started before is dead too.
    let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("device_revoked")),
        "{body}"
    );
    assert_eq!(session_row(&h, &s.id).await, ("open".to_string(), 0));
    // It cannot come back by registering again, managed or not.
    let (status, body) = h
        .post(
            "/v1/devices",
            &json!({ "public_key": h.kiosk.public().to_base64() }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("device_revoked")),
        "{body}"
    );
    let again = devices::register(
        &h.app.store,
        &h.app.keys,
        &h.kiosk.public().to_base64(),
        "kiosk",
        devices::Tier::Managed,
        "admin:test",
    )
    .await;
    assert!(
        matches!(again, Err(devices::DeviceError::Revoked(_))),
        "{again:?}"
    );
    assert!(h
        .audit_kinds()
        .await
        .contains(&"device_revoked".to_string()));
}

async fn unmanaged_evidence_is_judged_by_the_server(db: Db) {
    // An operator who opted unmanaged devices in: their evidence is still the server's to
    // judge, whatever the device signs.
    let h = Harness::with(
        db,
        Options {
            reverify: true,
            policy: UNMANAGED_APPROVE.into(),
            ..Options::default()
        },
    )
    .await;
    let phone = DeviceKey::generate().unwrap();
    let (status, body) = h
        .post(
            "/v1/devices",
            &json!({ "public_key": phone.public().to_base64() }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let s = h.session(AVERY, &phone).await;
    // A patched app signs "verified" over pictures of nothing.
    let mut items = vec![
        ("id_front".to_string(), grey_png(320, 240, 90), None),
        ("id_back".to_string(), grey_png(320, 240, 120), None),
    ];
    for i in 0..6u64 {
        items.push((
            format!("selfie_{i:02}"),
            grey_png(320, 240, 100 + i as u8),
            Some(i * 200),
        ));
    }
    let mut c = claims(&s, &phone);
    c.evidence = items.iter().map(|(n, b, _)| digest(n, b)).collect();
    let token = sign_attestation(&c, &phone).unwrap();
    let evidence: Vec<serde_json::Value> = items
        .iter()
        .map(|(n, b, t)| json!({ "name": n, "t_ms": t, "data": STANDARD.encode(b) }))
        .collect();
    let (status, body) = h.attest_token(&s, &token, json!(evidence)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "rejected", "{body}");
    assert_eq!(body["reverified"], true, "{body}");
    assert!(!body["reasons"].as_array().unwrap().is_empty());
    assert_eq!(session_row(&h, &s.id).await.0, "rejected");
    assert_eq!(h.password_changes(AVERY), 0);
}
