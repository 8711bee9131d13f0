//! Two instances on one database: sessions move between them, and the audit chain stays
//! one chain under concurrent traffic.

use std::sync::Arc;

use reclaim_server::App;
use serde_json::json;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(two_instances_share_one_database);

/// 100 recoveries at once from one address: more than the per-address connection cap
/// (transport.rs) and the abuse limits allow, which are not what is under test here.
const HIGH_LIMITS: &str = "[limits]\nsessions_per_user_per_hour = 10000\nsessions_per_address_per_minute = 10000\nrequests_per_device_per_minute = 10000\n[server]\nmax_connections_per_address = 512\n";

/// Sends the attestation `token` for `s` to the instance at `base`.
async fn attest_at(
    client: &reqwest::Client,
    base: &str,
    s: &OpenSession,
    token: &str,
) -> (u16, serde_json::Value) {
    send(
        client
            .post(format!("{base}/v1/sessions/{}/attestation", s.id))
            .bearer_auth(&s.token)
            .json(&json!({ "token": token })),
    )
    .await
}

async fn two_instances_share_one_database(db: Db) {
    let options = Options::with_extra(HIGH_LIMITS);
    let a = Harness::with(db, options.clone()).await;
    let config = a.config_of_another_instance(&options);
    let app_b: Arc<App> = App::open(config).await.unwrap();
    let server_b = reclaim_server::start(app_b.clone()).await.unwrap();
    let base_b = format!("http://{}", server_b.addr);
    let base_a = a.base.clone();

    // One session, created on A, attested on B, followed on A.
    let s = a.session(AVERY, &a.kiosk).await;
    let token = reclaim_protocol::sign_attestation(&claims(&s, &a.kiosk), &a.kiosk).unwrap();
    assert_outcome(attest_at(&a.client, &base_b, &s, &token).await, "approved");
    let (status, st) = a.status_of(&s).await;
    assert_eq!((status, st["state"].as_str()), (200, Some("approved")));
    // Replaying on A what B accepted.
    let answer = a.attest_token(&s, &token, json!([])).await;
    assert_refused(answer, 409, "nonce_replayed");

    // 50 recoveries started on each instance at once, each finished on the other one.
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (start, finish) = if i % 2 == 0 {
            (base_a.clone(), base_b.clone())
        } else {
            (base_b.clone(), base_a.clone())
        };
        let client = a.client.clone();
        let kiosk = reclaim_protocol::DeviceKey::from_seed_hex(&a.kiosk.seed_hex()).unwrap();
        let login = if i % 3 == 0 {
            format!("nobody.{i}")
        } else {
            AVERY.to_string()
        };
        tasks.push(tokio::spawn(async move {
            let (status, body) = send(
                client
                    .post(format!("{start}/v1/sessions"))
                    .json(&json!({ "login": login, "action": "reset_password", "device": kiosk.key_id().as_str() })),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            let s = OpenSession::from_json(&login, &body);
            let token = reclaim_protocol::sign_attestation(&claims(&s, &kiosk), &kiosk).unwrap();
            let (status, body) = attest_at(&client, &finish, &s, &token).await;
            assert_eq!(status, 200, "{body}");
            body["outcome"].as_str().unwrap().to_string()
        }));
    }
    let mut approved = 0;
    for t in tasks {
        if t.await.unwrap() == "approved" {
            approved += 1;
        }
    }
    assert_eq!(approved, 66);

    for app in [&a.app, &app_b] {
        let report = assert_chain_intact(app).await;
        // The registration, the first session and its decision, then 100 of each.
        assert_eq!(report.entries, 3 + 200);
        assert_eq!(report.head_seq, 203);
    }
    server_b.stop().await;
}
