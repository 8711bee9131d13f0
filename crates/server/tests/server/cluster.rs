//! Two instances on one database: sessions move between them, and the audit chain stays
//! one chain under concurrent traffic.

use std::sync::Arc;

use reclaim_server::{audit, App, Config};
use serde_json::json;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(two_instances_share_one_database);

/// 100 recoveries at once from one address: more than the per-address connection cap
/// (transport.rs) and the abuse limits allow, which are not what is under test here.
const HIGH_LIMITS: &str = "[limits]\nsessions_per_user_per_hour = 10000\nsessions_per_address_per_minute = 10000\nrequests_per_device_per_minute = 10000\n[server]\nmax_connections_per_address = 512\n";

async fn two_instances_share_one_database(db: Db) {
    let a = Harness::with(
        db,
        Options {
            extra: HIGH_LIMITS.into(),
            ..Options::default()
        },
    )
    .await;
    let options = Options {
        extra: HIGH_LIMITS.into(),
        ..Options::default()
    };
    let config =
        Config::parse(&config_text(a.dir.path(), &a.db_url, &a.data_key, &options)).unwrap();
    let app_b: Arc<App> = App::open(config).await.unwrap();
    let server_b = reclaim_server::start(app_b.clone()).await.unwrap();
    let base_b = format!("http://{}", server_b.addr);
    let base_a = a.base.clone();

    // One session, created on A, attested on B, followed on A.
    let s = a.session(AVERY, &a.kiosk).await;
    let token = reclaim_protocol::sign_attestation(&claims(&s, &a.kiosk), &a.kiosk).unwrap();
    let r = a
        .client
        .post(format!("{base_b}/v1/sessions/{}/attestation", s.id))
        .bearer_auth(&s.token)
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["outcome"], "approved", "{body}");
    let (status, st) = a
        .get_auth(&format!("/v1/sessions/{}", s.id), &s.token)
        .await;
    assert_eq!((status, st["state"].as_str()), (200, Some("approved")));
    // Replaying on A what B accepted.
    let (status, body) = a.attest_token(&s, &token, json!([])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("nonce_replayed")),
        "{body}"
    );

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
            let r = client
                .post(format!("{start}/v1/sessions"))
                .json(&json!({ "login": login, "action": "reset_password", "device": kiosk.key_id().as_str() }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
            let body: serde_json::Value = r.json().await.unwrap();
            let s = Session::from_json(&login, &body);
            let token = reclaim_protocol::sign_attestation(&claims(&s, &kiosk), &kiosk).unwrap();
            let r = client
                .post(format!("{finish}/v1/sessions/{}/attestation", s.id))
                .bearer_auth(&s.token)
                .json(&json!({ "token": token }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
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
        let report = audit::verify(&app.store, &app.keys).await.unwrap();
        assert!(report.intact(), "{report:?}");
        // The registration, the first session and its decision, then 100 of each.
        assert_eq!(report.entries, 3 + 200);
        assert_eq!(report.head_seq, 203);
    }
    server_b.stop().await;
}
