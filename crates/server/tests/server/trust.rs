//! Trust tiers and the policy table: what a device's tier lets it do, which a client can
//! never claim for itself; evidence required from every tier by default; the birth date
//! the directory keeps; a change approved with notice and delay.

use reclaim_directory::DemoUser;
use reclaim_protocol::{sign_attestation, DeviceKey};
use serde_json::json;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    self_registered_devices_are_refused_by_default_without_judging,
    a_phone_reached_by_hand_off_has_its_own_tier,
    every_tier_uploads_evidence_by_default,
    the_birth_date_the_directory_keeps_is_required,
    a_delayed_change_waits_and_can_be_cancelled,
);

async fn grant_count(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) FROM grants").await
}

async fn self_registered_devices_are_refused_by_default_without_judging(db: Db) {
    // The server re-verifies (an engine is loaded), yet never gets to run it.
    let h = Harness::with(db, Options::as_shipped()).await;
    let phone = h.self_register().await;
    // A client cannot register itself into a better tier: the tier field is not taken.
    let (status, body) = h
        .post(
            "/v1/devices",
            &json!({ "public_key": DeviceKey::generate().unwrap().public().to_base64(), "tier": "hardware" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    for round in 0..2 {
        let s = h.session(AVERY, &phone).await;
        // The pixels do not matter: the tier refuses before they are looked at.
        let (c, evidence) = grey_evidence(&s, &phone, (64, 48));
        let token = sign_attestation(&c, &phone).unwrap();
        let body = assert_outcome(h.attest_token(&s, &token, evidence).await, "rejected");
        assert_eq!(body["reasons"], json!(["device_not_trusted"]), "{body}");
        assert_eq!(body["reverified"], false, "the engine did not run: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("kiosk") && message.contains("helpdesk"),
            "{message}"
        );
        assert!(body.get("grant").is_none());

        // The refusal and the row that produced it are in the audit chain.
        let d = h.last_decision().await;
        assert_eq!(d["outcome"], "rejected");
        assert_eq!(d["reasons"], json!(["device_not_trusted"]));
        assert_eq!(d["device_tier"], "unmanaged");
        assert_eq!(
            d["policy"],
            json!({ "action": "password", "tier": "unmanaged", "user": "first_time", "verdict": "review", "row": "default" }),
            "round {round}"
        );
    }
    // A policy refusal is not a failed biometric attempt: the real person, on a managed
    // device, is not locked out by a stranger's refused phone.
    let s = h.session(AVERY, &h.kiosk).await;
    let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_ne!(body["error"], "biometric_locked", "{status} {body}");
    assert_eq!(grant_count(&h).await, 0);
    assert_eq!(h.password_changes(AVERY), 0);
}

async fn a_phone_reached_by_hand_off_has_its_own_tier(db: Db) {
    let h = Harness::start(db).await;
    let phone = h.self_register().await;
    // Started on the managed kiosk, taken over by an unmanaged phone.
    let laptop = h.session(AVERY, &h.kiosk).await;
    let (status, ho) = h.hand_off(&laptop).await;
    assert_eq!(status, 200, "{ho}");
    let secret = ho["handoff_secret"].as_str().unwrap();
    let (status, claimed) = h.claim_hand_off(&laptop.id, secret, &phone).await;
    assert_eq!(status, 200, "{claimed}");
    let s = OpenSession::from_json(AVERY, &claimed);
    // The phone signs what the kiosk would have: still the phone's tier that counts.
    let (status, body) = h.attest(&s, &claims(&s, &phone), &phone).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reasons"], json!(["device_not_trusted"]), "{body}");
    assert_eq!(h.last_decision().await["device_tier"], "unmanaged");
    assert_eq!(grant_count(&h).await, 0);
}

async fn every_tier_uploads_evidence_by_default(db: Db) {
    let h = Harness::with(
        db,
        Options {
            default_policy: true,
            ..Options::default()
        },
    )
    .await;
    // The kiosk's signed "verified" alone is no longer a decision.
    let s = h.session(AVERY, &h.kiosk).await;
    let answer = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_refused(answer, 400, "evidence_required");
    // Nothing was spent: the same session can still be decided.
    let (status, st) = h.status_of(&s).await;
    assert_eq!((status, st["state"].as_str()), (200, Some("open")), "{st}");
    assert_eq!(grant_count(&h).await, 0);
}

async fn the_birth_date_the_directory_keeps_is_required(db: Db) {
    let mut avery =
        DemoUser::new(AVERY, "Avery", "Quinn").with_password("the old forgotten passphrase");
    avery.birth_date = Some("1990-04-12".into());
    let h = Harness::with(db, Options::with_users(Some(vec![avery]))).await;
    let attempt = |birth: Option<&str>| {
        let birth = birth.map(str::to_string);
        let h = &h;
        async move {
            let s = h.session(AVERY, &h.kiosk).await;
            let mut c = claims(&s, &h.kiosk);
            c.document.as_mut().unwrap().birth_date = birth;
            h.attest(&s, &c, &h.kiosk).await
        }
    };
    // A document (or a device's claims) without the birth date proves less than the
    // record asks; a wrong one is someone else. Both look alike to the client.
    for birth in [None, Some("1991-04-12")] {
        let (status, body) = attempt(birth).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["reasons"],
            json!(["identity_not_confirmed"]),
            "{birth:?}: {body}"
        );
    }
    let d = h.last_decision().await;
    assert_eq!(d["reasons"], json!(["document_birth_date_mismatch"]));
    assert_outcome(attempt(Some("1990-04-12")).await, "approved");
}

async fn a_delayed_change_waits_and_can_be_cancelled(db: Db) {
    let policy = "notify_delay_s = 3\n[[policy.table]]\naction = \"password\"\ntier = \"managed\"\nuser = \"*\"\nverdict = \"approve_notify_delay\"\n";
    let h = Harness::with(db, Options::with_policy(policy)).await;
    let s = h.session(AVERY, &h.kiosk).await;
    let body = assert_outcome(
        h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await,
        "approved",
    );
    assert_eq!(body["delay_s"], 3, "{body}");
    assert_eq!(h.last_decision().await["policy"]["row"], "policy.table[1]");
    let grant = body["grant"].as_str().unwrap().to_string();

    // The password is taken and checked now, applied only when due.
    let password = "amber orchard kettle 7 violin";
    let body = assert_reset(h.reset(&grant, password).await, 202, "scheduled");
    assert!(body["effective_at"].as_i64().unwrap() > unix_now() as i64 - 1);
    assert_eq!(h.password_changes(AVERY), 0);
    // Asking again says the same, and applies nothing early.
    assert_reset(h.reset(&grant, password).await, 202, "scheduled");
    assert_eq!(h.password_changes(AVERY), 0);
    // When due, the background worker applies it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.password_changes(AVERY) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the delayed change was never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(h.password_is(AVERY, password).await);
    assert_reset(h.reset(&grant, password).await, 200, "completed");

    // A second recovery, cancelled before it is due (as the notice's link does).
    let s = h.session(AVERY, &h.kiosk).await;
    let (_, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    let grant = body["grant"].as_str().unwrap().to_string();
    let (status, _) = h.reset(&grant, "another long passphrase 99 tulip").await;
    assert_eq!(status, 202);
    let user_ref = h.app.directory.find_user(AVERY).await.unwrap().unwrap().id;
    let mut tx = h.app.store.writer.begin().await.unwrap();
    let cancelled = reclaim_server::store::resets::cancel_for_account(&mut tx, &user_ref)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(cancelled, 1);
    let answer = h.reset(&grant, "another long passphrase 99 tulip").await;
    assert_refused(answer, 403, "grant_cancelled");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(
        h.password_changes(AVERY),
        1,
        "the cancelled change was never applied"
    );
    assert!(h.password_is(AVERY, password).await);
}
