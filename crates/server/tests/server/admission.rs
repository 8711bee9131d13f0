//! Admission to re-verification: one client cannot keep everyone else at `server_busy`,
//! a judgement that takes too long ends with a retryable answer that leaves the session
//! usable; and device names that would read as something else are refused.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reclaim_protocol::attestation::EvidenceDigest;
use reclaim_protocol::{sign_attestation, DeviceKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::harness::*;

fn grey_png(shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([shade, shade, shade]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A signed attestation with evidence (the pixels do not matter: the engine refuses
/// them quickly once it runs) for session `s`.
fn attestation(s: &Session, key: &DeviceKey) -> Value {
    let items: Vec<(String, Vec<u8>)> = std::iter::once(("id_front".to_string(), grey_png(90)))
        .chain((0..3u8).map(|i| (format!("selfie_{i:02}"), grey_png(100 + i))))
        .collect();
    let mut c = claims(s, key);
    c.evidence = items
        .iter()
        .map(|(n, b)| EvidenceDigest {
            name: n.clone(),
            sha256: hex::encode(Sha256::digest(b)),
        })
        .collect();
    let evidence: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (n, b))| json!({ "name": n, "t_ms": i * 200, "data": STANDARD.encode(b) }))
        .collect();
    json!({ "token": sign_attestation(&c, key).unwrap(), "evidence": evidence })
}

/// A client whose connections come from `addr` (any of 127/8 reaches the loopback).
fn client_from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(addr.parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Sends the attestation in the background; the answer's status and error code.
fn send(
    client: &reqwest::Client,
    h: &Harness,
    s: &Session,
    body: Value,
) -> tokio::task::JoinHandle<(u16, Option<String>)> {
    let request = client
        .post(h.url(&format!("/v1/sessions/{}/attestation", s.id)))
        .bearer_auth(&s.token)
        .json(&body);
    tokio::spawn(async move {
        match request.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (status, body["error"].as_str().map(str::to_string))
            }
            Err(e) => (0, Some(format!("no answer: {e}"))),
        }
    })
}

fn admitted(h: &Harness) -> usize {
    reclaim_server::REVERIFY_QUEUE - h.app.reverify_queue.available_permits()
}

/// Waits (bounded) until `done()`.
async fn until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn session_row(h: &Harness, id: &str) -> (String, i64) {
    let r = sqlx::query("SELECT state, nonce_used FROM sessions WHERE id = $1")
        .bind(id)
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// Four heavy uploads from one address used to take every place in the queue, and every
/// other person got `503 server_busy` until they were judged. Now one address has one
/// judgement in flight, and another person's request waits its turn instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_keep_another_account_at_server_busy() {
    let h = Harness::with(
        Db::sqlite(),
        Options {
            reverify: true,
            default_policy: true,
            ..Options::default()
        },
    )
    .await;
    let attacker = client_from("127.0.0.1");
    let victim = client_from("127.0.0.2");
    let mut sessions = Vec::new();
    for i in 0..reclaim_server::REVERIFY_QUEUE {
        sessions.push(h.session(&format!("mallory.{i}"), &h.kiosk).await);
    }
    let avery = h.session(AVERY, &h.kiosk).await;

    // A long judgement is running: the engine is taken until the test lets it go.
    let engine = h.app.reverify_slots.acquire().await.unwrap();
    let heavy: Vec<_> = sessions
        .iter()
        .map(|s| send(&attacker, &h, s, attestation(s, &h.kiosk)))
        .collect();
    until(|| admitted(&h) + heavy.iter().filter(|t| t.is_finished()).count() >= heavy.len()).await;
    let held = admitted(&h);
    let theirs = send(&victim, &h, &avery, attestation(&avery, &h.kiosk));
    until(|| admitted(&h) > held || theirs.is_finished()).await;
    drop(engine);

    let (status, code) = theirs.await.unwrap();
    assert!(
        status != 503 && status != 0,
        "another person behind one address's uploads: {status} {code:?}"
    );
    let mut busy = 0;
    for t in heavy {
        let (status, code) = t.await.unwrap();
        if status == 503 {
            assert_eq!(code.as_deref(), Some("server_busy"));
            busy += 1;
        }
    }
    assert_eq!(
        busy,
        reclaim_server::REVERIFY_QUEUE - 1,
        "one judgement in flight per address"
    );
}

/// A judgement that cannot finish in time (here: the engine is held) is answered with a
/// retryable `server_busy`, and the session stays usable for the same attestation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judgement_past_its_deadline_leaves_the_session_usable() {
    let h = Harness::with(
        Db::sqlite(),
        Options {
            reverify: true,
            default_policy: true,
            // Long enough for a run on a loaded machine, short enough for a test to wait.
            extra: "[server]\njudgement_timeout_s = 5\n".into(),
            ..Options::default()
        },
    )
    .await;
    let s = h.session(AVERY, &h.kiosk).await;
    let body = attestation(&s, &h.kiosk);
    let client = client_from("127.0.0.1");
    let engine = h.app.reverify_slots.acquire().await.unwrap();
    let (status, code) = send(&client, &h, &s, body.clone()).await.unwrap();
    assert_eq!(
        (status, code.as_deref()),
        (503, Some("server_busy")),
        "a judgement that cannot start within its deadline"
    );
    assert_eq!(session_row(&h, &s.id).await, ("open".to_string(), 0));
    drop(engine);
    // The same attestation again, as the client does on `server_busy` (a first run on a
    // busy machine may itself overrun, and its account stays busy until it ends).
    let mut answer = (0, None);
    for _ in 0..20 {
        answer = send(&client, &h, &s, body.clone()).await.unwrap();
        if answer.0 != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (status, code) = answer;
    assert!(
        status != 503 && status != 0,
        "the same attestation, once the engine is free: {status} {code:?}"
    );
}

/// `HR kiosk \u{202E}deganam\u{202C}` reads "HR kiosk managed" on an administrator's screen: names with
/// bidirectional or other invisible format characters are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_names_with_bidirectional_controls_are_refused() {
    let h = Harness::start(Db::sqlite()).await;
    for name in [
        "HR kiosk \u{202E}deganam\u{202C}",
        "kiosk \u{2066}managed\u{2069}",
        "phone\u{200F}",
        "phone\u{200E}",
        "phone\u{061C}",
        "pho\u{200B}ne",
        "phone\u{FEFF}",
        "line\u{2028}break",
    ] {
        let key = DeviceKey::generate().unwrap();
        let (status, body) = h
            .post(
                "/v1/devices",
                &json!({ "public_key": key.public().to_base64(), "name": name }),
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("device_name_invalid")),
            "{name:?}: {body}"
        );
    }
    let key = DeviceKey::generate().unwrap();
    let (status, body) = h
        .post(
            "/v1/devices",
            &json!({ "public_key": key.public().to_base64(), "name": "Zoë's phone (Łódź)" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}
