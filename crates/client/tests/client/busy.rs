//! A busy service (`503 server_busy`): the app waits as it is told (bounded) and sends the
//! same signed attestation again, which is judged once; when the service stays busy, the
//! person is told so and the session is left unspent.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reclaim_client::api::Timeouts;
use reclaim_client::flow::Screen;
use reclaim_client::recovery::Recovery;
use reclaim_protocol::{DeviceKey, RecoveryAction};
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::*;

/// One evidence upload at a time, and bodies allowed to wait long enough for the app's
/// capture and on-device check (a loaded machine takes a minute): the place the test's
/// own upload holds stays held until the test lets it go. (These lines reach the
/// server's configuration through its `[policy]` text: a `[server]` table after them.)
const ONE_UPLOAD: &str =
    "[server]\nmax_evidence_uploads = 1\nbody_timeout_s = 900\nbody_idle_timeout_s = 900\n";

/// Another upload in progress: a session's attestation whose body has begun and not
/// ended, holding the server's only upload place until it is dropped.
struct Upload {
    _stream: TcpStream,
}

async fn hold_the_upload_place(server: &Server) -> Upload {
    let http = reqwest::Client::new();
    let key = DeviceKey::generate().unwrap();
    let r = http
        .post(format!("{}/v1/devices", server.url))
        .json(&json!({ "public_key": key.public().to_base64(), "name": "another laptop" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = http
        .post(format!("{}/v1/sessions", server.url))
        .json(&json!({ "login": "blake.river", "action": "reset_password", "device": key.key_id().as_str() }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let s: Value = r.json().await.unwrap();
    let (id, token) = (
        s["session_id"].as_str().unwrap().to_string(),
        s["session_token"].as_str().unwrap().to_string(),
    );
    let mut stream = TcpStream::connect(server.running.addr).unwrap();
    write!(
        stream,
        "POST /v1/sessions/{id}/attestation HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{{\"token\":\""
    )
    .unwrap();
    stream.flush().unwrap();
    // Held once the server has admitted it. (Probing with a second upload on this
    // session raced with it: a probe admitted first was refused for its junk token and
    // spent the session, and the held upload's place was then never seen taken.)
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.app.admission.uploads_in_flight() == 0 {
        assert!(Instant::now() < deadline, "the upload place was never held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Upload { _stream: stream }
}

/// A server with one upload place, and a laptop whose person has captured the ID and the
/// selfie, ready to submit.
async fn captured_with_one_upload_place(name: &str) -> (Server, Recovery) {
    let server = server_with(name, ONE_UPLOAD, None).await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap();
    capture_id(&mut laptop);
    record_selfie(&mut laptop);
    (server, laptop)
}

/// `503` answers the server has given so far.
fn busy_answers(server: &Server) -> u64 {
    server
        .app
        .metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("reclaim_http_responses_total{class=\"5xx\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

async fn session_row(server: &Server) -> (String, i64) {
    let r = sqlx::query("SELECT state, nonce_used FROM sessions WHERE login = $1")
        .bind(LOGIN)
        .fetch_one(&server.app.store.pool)
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// The first attempt finds the only upload place taken and is refused `server_busy`; the
/// app waits its `Retry-After` and sends the same attestation again, which is judged, and
/// judged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_service_is_waited_out_with_the_same_attestation() {
    let _turn = serial().await;
    let (server, mut laptop) = captured_with_one_upload_place("busy-once").await;

    let other = hold_the_upload_place(&server).await;
    let before = busy_answers(&server);
    let (submitted, refused_first) = tokio::join!(laptop.submit(), async {
        // The other upload ends once the app's first attempt has been turned away.
        let deadline = Instant::now() + Duration::from_secs(300);
        while busy_answers(&server) == before && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let refused = busy_answers(&server) > before;
        drop(other);
        refused
    });
    let st = submitted.unwrap();
    assert!(refused_first, "the first attempt was not refused");
    assert_eq!(
        st.flow.screen,
        Screen::Password,
        "after a busy answer: {:?} {:?}",
        st.flow.reasons,
        st.flow.error
    );
    // One decision for one session, however many times the attestation was sent.
    assert_eq!(session_row(&server).await, ("approved".to_string(), 1));
    let decisions = decision_details(&server.app).await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
}

/// A service that stays busy: the app stops after a few tries and says so, and the
/// session was not spent (nothing was judged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_stays_busy_is_reported_plainly() {
    let _turn = serial().await;
    let (server, mut laptop) = captured_with_one_upload_place("busy-always").await;

    let other = hold_the_upload_place(&server).await;
    let before = busy_answers(&server);
    let st = laptop.submit().await.unwrap();
    let refusals = busy_answers(&server) - before;
    drop(other);
    assert_eq!(st.flow.screen, Screen::Error);
    assert_eq!(st.flow.error.as_deref(), Some("server_busy"));
    // The first try and the default policy's three more, then the person is told.
    assert_eq!(refusals, 4, "tries before giving up");
    assert_eq!(session_row(&server).await, ("open".to_string(), 0));
    assert!(decision_details(&server.app).await.is_empty());
}
