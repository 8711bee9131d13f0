//! The outside world misbehaving: a service that is down, that answers garbage, that
//! never answers, a camera that disappears. The app says what happened and recovers.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use reclaim_client::api::Timeouts;
use reclaim_client::flow::Screen;
use reclaim_protocol::RecoveryAction;

use crate::harness::*;

/// A fake service on a real socket that answers every request with `answer` after
/// `delay`. Not a mock of Reclaim: the broken middlebox or crashed backend it stands for.
fn broken_service(answer: &'static str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let _ = stream.read(&mut buf);
                std::thread::sleep(delay);
                let _ = stream.write_all(answer.as_bytes());
            });
        }
    });
    url
}

fn quick() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(2),
        attestation: Duration::from_secs(2),
    }
}

async fn start_fails_with(url: &str, code: &str) {
    let mut laptop = device(url, genuine_scenes(), quick());
    let st = laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap();
    assert_eq!(st.flow.screen, Screen::Error, "{url}");
    assert_eq!(st.flow.error.as_deref(), Some(code), "{url}");
    // The person can try again, or start over; nothing is stuck.
    let st = laptop.retry().await.unwrap();
    assert_eq!(st.flow.error.as_deref(), Some(code));
    laptop.start_over();
    assert_eq!(laptop.screen(), Screen::Start);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_service_is_named_as_such() {
    let port = reclaim_fixtures::server::free_port();
    // Nothing listens there any more.
    start_fails_with(&format!("http://127.0.0.1:{port}"), "backend_unreachable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_answering_garbage_is_not_believed() {
    let url = broken_service(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!",
        Duration::ZERO,
    );
    start_fails_with(&url, "backend_invalid_answer").await;
    let url = broken_service(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 19\r\nConnection: close\r\n\r\n<h1>Bad Gateway</h1>",
        Duration::ZERO,
    );
    start_fails_with(&url, "backend_unavailable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_answers_times_out() {
    let url = broken_service("", Duration::from_secs(30));
    start_fails_with(&url, "backend_timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_disappears_mid_capture_is_reported_and_the_flow_survives() {
    let _turn = serial().await;
    let server = server("camera-lost").await;
    let scenes = scratch("vanishing-camera");
    std::fs::copy(
        genuine_scenes().join("id_front.jpg"),
        scenes.join("id_front.jpg"),
    )
    .unwrap();
    let mut laptop = device(&server.url, &scenes, Timeouts::default());
    laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap();
    assert!(laptop.preview().is_ok());
    std::fs::remove_dir_all(&scenes).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut error = None;
    while error.is_none() && std::time::Instant::now() < deadline {
        error = laptop.preview().unwrap().camera_error;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(error.as_deref(), Some("camera_lost"));
    assert_eq!(
        laptop.screen(),
        Screen::Document,
        "the flow waits for a camera"
    );
    // Plugging a camera back in resumes where the person was.
    laptop.set_camera(Box::new(Webcam::open(genuine_scenes())));
    capture_id(&mut laptop);
    assert_eq!(laptop.screen(), Screen::Selfie);
    server.running.stop().await;
}
