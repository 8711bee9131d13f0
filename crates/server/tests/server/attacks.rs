//! What an attacker would try against the attestation and the hand-off.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reclaim_protocol::attestation::{AttestedDocument, EvidenceDigest};
use reclaim_protocol::{sign_attestation, AttestationClaims, DeviceKey};
use reclaim_server::devices;
use serde_json::json;
use sha2::{Digest, Sha256};

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

async fn audit_count(h: &Harness) -> usize {
    h.audit_kinds().await.len()
}

async fn replays_foreign_keys_and_wrong_audiences_are_refused(db: Db) {
    let h = Harness::start(db).await;
    let other = DeviceKey::generate().unwrap();
    register_managed(&h.app, &other).await;
    let s = h.session(AVERY, &h.kiosk).await;
    let before = audit_count(&h).await;

    // Signed by another registered (even managed) device than the session's, or by a key
    // no one registered.
    let stranger = DeviceKey::generate().unwrap();
    for key in [&other, &stranger] {
        let answer = h.attest(&s, &claims(&s, key), key).await;
        assert_refused(answer, 401, "device_unknown");
    }
    // For another server, with another nonce, expired, or for an action the session was
    // not started for.
    type Change = fn(&mut AttestationClaims);
    let changes: [(&str, Change); 4] = [
        ("token_audience_mismatch", |c| {
            c.aud = "https://evil.example.test".into()
        }),
        ("token_nonce_mismatch", |c| c.nonce = "guessed".into()),
        ("token_expired", |c| {
            c.iat -= 1000;
            c.exp = c.iat + 100;
        }),
        ("attestation_action_mismatch", |c| {
            c.action = reclaim_protocol::RecoveryAction::ResetMfa
        }),
    ];
    for (code, change) in changes {
        let mut c = claims(&s, &h.kiosk);
        change(&mut c);
        assert_refused(h.attest(&s, &c, &h.kiosk).await, 400, code);
    }
    // For another session.
    let other_session = h.session(AVERY, &h.kiosk).await;
    let token_for_other = sign_attestation(&claims(&other_session, &h.kiosk), &h.kiosk).unwrap();
    let answer = h.attest_token(&s, &token_for_other, json!([])).await;
    assert_refused(answer, 400, "token_session_mismatch");
    // A tampered payload.
    let token = sign_attestation(&claims(&s, &h.kiosk), &h.kiosk).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut c = claims(&s, &h.kiosk);
    c.user = "someone.else".into();
    let forged = sign_attestation(&c, &stranger).unwrap();
    parts[1] = forged.split('.').nth(1).unwrap().to_string();
    let answer = h.attest_token(&s, &parts.join("."), json!([])).await;
    assert_refused(answer, 401, "token_signature_invalid");

    // None of that changed anything: the nonce is unspent, nothing was recorded.
    assert_eq!(h.session_row(&s.id).await, ("open".to_string(), 0));
    assert_eq!(
        audit_count(&h).await,
        before + 1,
        "only the second session was recorded"
    );

    assert_outcome(h.attest_token(&s, &token, json!([])).await, "approved");
    // The same token again, and a fresh token for the same session.
    let again = h.attest_token(&s, &token, json!([])).await;
    assert_refused(again, 409, "nonce_replayed");
    let fresh = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_refused(fresh, 409, "nonce_replayed");
    assert_eq!(h.audit_count_of("decision").await, 1);
}

async fn document_names_must_match_the_directory(db: Db) {
    // Someone works the review queue, so a doubtful name goes to a person.
    let h = Harness::with(
        db,
        Options {
            policy: "review_queue = true".into(),
            // The queue is worked in the console (its provider is not reached here).
            extra: "[admin.oidc]\nissuer = \"https://idp.example.test\"\nclient_id = \"c\"\nreviewer_groups = [\"r\"]".into(),
            ..Options::default()
        },
    )
    .await;
    // A kiosk attestation for Avery, with `document` as what was read.
    let attempt = |document: Option<AttestedDocument>| {
        let h = &h;
        async move {
            let s = h.session(AVERY, &h.kiosk).await;
            let mut c = claims(&s, &h.kiosk);
            c.document = document;
            let answer = h.attest(&s, &c, &h.kiosk).await;
            (s, answer)
        }
    };
    let (_, answer) = attempt(Some(document("SMITH", "JOHN"))).await;
    let body = assert_outcome(answer, "rejected");
    assert_eq!(body["reasons"], json!(["identity_not_confirmed"]));
    assert!(body.get("grant").is_none());

    // Avery's family member: the same surname, another first name.
    let (_, answer) = attempt(Some(document("QUINN", "JORDAN"))).await;
    assert_outcome(answer, "rejected");

    // Only an initial: a person must look.
    let (s, answer) = attempt(Some(document("QUINN", "A"))).await;
    let body = assert_outcome(answer, "review");
    assert!(body.get("grant").is_none());
    let (_, st) = h.status_of(&s).await;
    assert_eq!(st["state"], "review");

    // No document at all for a first-time user, or one whose checks failed.
    let (_, answer) = attempt(None).await;
    let body = assert_outcome(answer, "rejected");
    assert_eq!(body["reasons"], json!(["document_missing"]));
    let mut failed = document("QUINN", "AVERY");
    failed.checks_passed = false;
    let (_, answer) = attempt(Some(failed)).await;
    let body = assert_outcome(answer, "rejected");
    assert_eq!(body["reasons"], json!(["document_checks_failed"]));

    assert_eq!(h.count("SELECT COUNT(*) FROM grants").await, 0);
    assert_eq!(h.password_changes(AVERY), 0);
}

/// The tier the server keeps for `key`.
async fn tier_of(h: &Harness, key: &DeviceKey) -> devices::Tier {
    devices::find(&h.app.store, key.key_id().as_str())
        .await
        .unwrap()
        .unwrap()
        .tier
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
    let h = Harness::with(db, Options::with_policy(UNMANAGED_APPROVE)).await;
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
    // Another picture than the one attested, or one more.
    let swapped = json!([{ "name": "id_front", "data": STANDARD.encode(b"another person's ID") }]);
    let extra = json!([
        { "name": "id_front", "data": STANDARD.encode(&photo) },
        { "name": "id_back", "data": STANDARD.encode(b"unlisted") },
    ]);
    for evidence in [swapped, extra] {
        let answer = h.attest_token(&s, &token, evidence).await;
        assert_refused(answer, 400, "evidence_digest_mismatch");
    }
    assert_eq!(h.session_row(&s.id).await, ("open".to_string(), 0));
    // A server with every re-verification place taken answers at once, and spends nothing.
    let honest = json!([{ "name": "id_front", "data": STANDARD.encode(&photo) }]);
    let held = h
        .app
        .reverify_queue
        .try_acquire_many(reclaim_server::REVERIFY_QUEUE as u32)
        .unwrap();
    let answer = h.attest_token(&s, &token, honest.clone()).await;
    assert_refused(answer, 503, "server_busy");
    drop(held);
    // This test server does not re-verify: evidence it cannot judge is refused, unspent.
    let answer = h.attest_token(&s, &token, honest).await;
    assert_refused(answer, 503, "reverification_unavailable");
    assert_eq!(h.session_row(&s.id).await, ("open".to_string(), 0));
    // The nonce was not spent: the honest attestation still goes through.
    assert_outcome(h.attest_token(&s, &token, json!([])).await, "approved");

    // A device that registered itself must upload its evidence.
    let phone = DeviceKey::generate().unwrap();
    let (status, body) = h.register_device(&phone, Some("my phone")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tier"], "unmanaged");
    assert_eq!(body["key_id"], phone.key_id().as_str());
    let s = h.session(AVERY, &phone).await;
    let answer = h.attest(&s, &claims(&s, &phone), &phone).await;
    assert_refused(answer, 400, "evidence_required");
    assert_eq!(h.session_row(&s.id).await, ("open".to_string(), 0));
    // It cannot promote itself to managed by registering again.
    let (status, body) = h.register_device(&phone, None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tier"], "unmanaged");
    assert_eq!(tier_of(&h, &phone).await, devices::Tier::Unmanaged);
    // And a managed kiosk's key registered by a stranger stays managed.
    let (status, body) = h.register_device(&h.kiosk, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(tier_of(&h, &h.kiosk).await, devices::Tier::Managed);
    assert_eq!(h.password_changes(AVERY), 0);
}

async fn hand_off_moves_the_session_to_the_phone(db: Db) {
    let h = Harness::start(db).await;
    let phone = DeviceKey::generate().unwrap();
    register_managed(&h.app, &phone).await;
    let laptop = h.session(AVERY, &h.kiosk).await;

    let (status, ho) = h.hand_off(&laptop).await;
    assert_eq!(status, 200, "{ho}");
    let secret = ho["handoff_secret"].as_str().unwrap().to_string();
    assert!(ho["qr_payload"].as_str().unwrap().contains(&secret));

    // An unregistered phone cannot take it, and its try does not burn the code.
    let stranger = DeviceKey::generate().unwrap();
    let answer = h.claim_hand_off(&laptop.id, &secret, &stranger).await;
    assert_refused(answer, 401, "device_unknown");
    // Nor does a wrong secret.
    let answer = h.claim_hand_off(&laptop.id, "rh_guess", &phone).await;
    assert_refused(answer, 403, "handoff_invalid");

    let (status, claimed) = h.claim_hand_off(&laptop.id, &secret, &phone).await;
    assert_eq!(status, 200, "{claimed}");
    let phone_session = OpenSession::from_json(AVERY, &claimed);
    assert_eq!(phone_session.id, laptop.id);
    assert_eq!(phone_session.nonce, laptop.nonce);
    assert_ne!(phone_session.token, laptop.token);

    // The laptop follows but cannot act.
    let (status, st) = h.status_of(&laptop).await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["handed_off"], true);
    assert_eq!(st["active_device"], false);
    assert_eq!(st["state"], "open");
    let (status, st) = h.status_of(&phone_session).await;
    assert_eq!((status, st["active_device"].as_bool()), (200, Some(true)));
    let answer = h
        .attest(&laptop, &claims(&laptop, &h.kiosk), &h.kiosk)
        .await;
    assert_refused(answer, 403, "not_active_device");
    assert_refused(h.hand_off(&laptop).await, 409, "handoff_not_allowed");

    // The code works once.
    let other_phone = DeviceKey::generate().unwrap();
    register_managed(&h.app, &other_phone).await;
    let answer = h.claim_hand_off(&laptop.id, &secret, &other_phone).await;
    assert_refused(answer, 403, "handoff_invalid");

    // The laptop's key no longer speaks for the session; the phone's does.
    let answer = h
        .attest(&phone_session, &claims(&phone_session, &h.kiosk), &h.kiosk)
        .await;
    assert_refused(answer, 401, "device_unknown");
    let answer = h
        .attest(&phone_session, &claims(&phone_session, &phone), &phone)
        .await;
    assert_outcome(answer, "approved");
    let (_, st) = h.status_of(&laptop).await;
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
    let answer = h.create_session(AVERY, &h.kiosk).await;
    assert_refused(answer, 403, "device_revoked");
    // A session it started before is dead too.
    let answer = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_refused(answer, 403, "device_revoked");
    assert_eq!(h.session_row(&s.id).await, ("open".to_string(), 0));
    // It cannot come back by registering again, managed or not.
    let answer = h.register_device(&h.kiosk, None).await;
    assert_refused(answer, 403, "device_revoked");
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
    let h = Harness::with(db, Options::judging_unmanaged()).await;
    let phone = h.self_register().await;
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
    let evidence = evidence_of(&mut c, &items);
    let token = sign_attestation(&c, &phone).unwrap();
    let body = assert_outcome(h.attest_token(&s, &token, evidence).await, "rejected");
    assert_eq!(body["reverified"], true, "{body}");
    assert!(!body["reasons"].as_array().unwrap().is_empty());
    assert_eq!(h.session_row(&s.id).await.0, "rejected");
    assert_eq!(h.password_changes(AVERY), 0);
}
