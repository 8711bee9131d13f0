//! The screen light as the app meets it: a session of a real server that draws one is
//! shown step by step while the selfie is recorded, timed from the first kept frame, and
//! judged by the device's own engine; a session whose light the app must not show (a
//! flash, a repeat, one too long to record) is refused before anything is shown.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use reclaim_client::api::Timeouts;
use reclaim_client::flow::Screen;
use reclaim_fixtures::server::{free_port, ServerConfig};
use reclaim_protocol::wire::light::{LightColour, LightSequence, LightStep, MIN_STEP_MS};
use reclaim_protocol::wire::sessions::{SessionView, Step};
use reclaim_protocol::{ChallengeAction, RecoveryAction, PROTOCOL_VERSION};
use reclaim_server::{App, Config};

use crate::harness::*;

/// The real server, drawing a ten-step light for every session.
async fn lit_server(name: &str) -> Server {
    let dir = scratch(name);
    let port = free_port();
    let config = Config::parse(
        &ServerConfig::new(&dir, port)
            .sections(
                "[challenge]\nlight_steps = 10\n\
                 [[policy.table]]\naction = \"*\"\ntier = \"unmanaged\"\nuser = \"*\"\nverdict = \"approve\"",
            )
            .toml(),
    )
    .unwrap();
    let app = App::open(config).await.unwrap();
    let running = reclaim_server::start(app.clone()).await.unwrap();
    Server::started(running, app, dir)
}

/// Runs of one value in `(time, value)` samples: each value with when it was first seen.
fn runs<T: PartialEq + Clone>(samples: &[(Instant, T)]) -> Vec<(Instant, T)> {
    let mut out: Vec<(Instant, T)> = Vec::new();
    for (at, v) in samples {
        if out.last().is_none_or(|(_, last)| last != v) {
            out.push((*at, v.clone()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_light_is_shown_in_order_from_the_first_frame_and_judged_on_the_device() {
    let _turn = serial().await;
    let server = lit_server("light-shown").await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    let st = laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap();
    assert_eq!(st.flow.screen, Screen::Document, "{:?}", st.flow.error);
    let light = st.flow.light.clone().expect("the session's light");
    let steps: Vec<LightColour> = light.sequence().steps.iter().map(|s| s.colour).collect();
    assert_eq!(steps.len(), 10);
    // The page is given the sequence (for its notice) as the protocol writes it.
    let json = serde_json::to_value(&st.flow).unwrap();
    assert_eq!(json["light"].as_array().map(Vec::len), Some(10), "{json}");
    assert!(json["light"][0]["colour"].is_string(), "{json}");

    capture_id(&mut laptop);
    assert_eq!(laptop.screen(), Screen::Selfie);
    // Before the recording: nothing is painted.
    let before = laptop.preview().unwrap();
    assert_eq!(before.light, None);

    laptop.start_selfie().unwrap();
    let started = Instant::now();
    let mut samples: Vec<(Instant, Option<String>)> = Vec::new();
    loop {
        let p = laptop.preview().unwrap();
        samples.push((Instant::now(), p.light));
        if laptop.wait_for_guidance(Duration::ZERO, |g| g.done) {
            break;
        }
        assert!(started.elapsed() < WAIT, "the recording never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    let painted = runs(&samples);
    let colours: Vec<Option<String>> = painted.iter().map(|(_, c)| c.clone()).collect();
    // Grey until the first frame is kept, each step's colour in order, grey after.
    let mut expected: Vec<Option<String>> = vec![None];
    expected.extend(steps.iter().map(|c| Some(c.css())));
    expected.push(None);
    // The first frame may be kept before the first preview call.
    let mut shown = colours;
    if shown.first() != Some(&None) {
        shown.insert(0, None);
    }
    assert_eq!(shown, expected, "the colours painted");
    // Each colour painted about as long as drawn, and never less than the protocol's
    // shortest step (less the polling's own jitter: the core's clock is exact, this loop
    // samples it every few milliseconds on a busy machine).
    let lit: Vec<Duration> = painted
        .windows(2)
        .filter(|w| w[0].1.is_some())
        .map(|w| w[1].0 - w[0].0)
        .collect();
    assert_eq!(lit.len(), steps.len());
    for (lasted, step) in lit.iter().zip(&light.sequence().steps) {
        let drawn = Duration::from_millis(u64::from(step.ms));
        assert!(
            *lasted >= Duration::from_millis(u64::from(MIN_STEP_MS) - 50),
            "{} was painted for only {lasted:?}",
            step.colour
        );
        assert!(
            lasted.abs_diff(drawn) <= Duration::from_millis(150),
            "{} drawn for {drawn:?}, painted for {lasted:?}",
            step.colour
        );
    }
    // The recording went on past the light: the whole sequence was painted before it
    // ended.
    assert!(samples.last().is_some_and(|(_, c)| c.is_none()));

    // The device's own engine judged the light too: a selfie filmed before this session
    // drew its light cannot answer it, and nothing is sent.
    let st = laptop.submit().await.unwrap().flow;
    assert_eq!(st.screen, Screen::Refused, "{:?}", st.error);
    let submission = laptop.submission().expect("the device's run").clone();
    assert!(!submission.device_verified);
    assert!(
        submission
            .device_reasons
            .iter()
            .any(|r| r.starts_with("liveness_light_")),
        "{:?}",
        submission.device_reasons
    );
    assert!(submission.sent.is_none(), "nothing was sent");
    assert_password_unchanged(&server).await;
}

/// A service on a real socket that registers any device and starts every session with
/// `light`: what a broken or hostile server could send.
fn service_sending(light: LightSequence) -> String {
    let session = SessionView {
        session_id: "s_light".into(),
        session_token: Some("st_light".into()),
        nonce: "n".repeat(32),
        expires_at: 4_102_444_800,
        steps: vec![Step::Document, Step::Selfie],
        challenge: vec![ChallengeAction::Left, ChallengeAction::Center],
        light: Some(light),
        audience: "reclaim".into(),
        action: RecoveryAction::ResetPassword,
        protocol_version: PROTOCOL_VERSION,
        login: None,
    };
    let session = serde_json::to_string(&session).unwrap();
    let known = r#"{"error":"device_already_registered","message":"known"}"#;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 65536];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if request.starts_with("POST /v1/devices") {
                ("409 Conflict", known)
            } else {
                ("201 Created", session.as_str())
            };
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    url
}

fn steps(steps: &[(LightColour, u32)]) -> LightSequence {
    LightSequence {
        steps: steps
            .iter()
            .map(|&(colour, ms)| LightStep { colour, ms })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_light_the_app_must_not_show_refuses_the_session() {
    use LightColour::{Amber, Cyan, Green, Magenta};
    let ok = steps(&[(Cyan, 450), (Amber, 350), (Green, 560), (Magenta, 420)]);
    // The same service with a light the app may show: the session starts (so what is
    // refused below is the light and nothing else).
    let mut laptop = device(&service_sending(ok), genuine_scenes(), Timeouts::default());
    let st = laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap()
        .flow;
    assert_eq!(st.screen, Screen::Document, "{:?}", st.error);
    assert!(st.light.is_some());

    let colours = [Amber, Green, Cyan, Magenta];
    let endless: Vec<(LightColour, u32)> = (0..30).map(|i| (colours[i % 4], 560)).collect();
    for (what, bad) in [
        (
            "a flash",
            steps(&[(Cyan, 450), (Magenta, 60), (Green, 450)]),
        ),
        ("a repeat", steps(&[(Cyan, 450), (Cyan, 450)])),
        ("nothing", steps(&[])),
        ("too long to record", steps(&endless)),
    ] {
        let mut laptop = device(&service_sending(bad), genuine_scenes(), Timeouts::default());
        let st = laptop
            .start_recovery(LOGIN, RecoveryAction::ResetPassword)
            .await
            .unwrap()
            .flow;
        assert_eq!(st.screen, Screen::Error, "{what}");
        assert_eq!(
            st.error.as_deref(),
            Some("backend_invalid_answer"),
            "{what}"
        );
        assert_eq!(st.light, None, "{what}: nothing of it is kept");
        // Nothing to record under it, and nothing painted.
        assert!(laptop.start_selfie().is_err(), "{what}");
        assert_eq!(laptop.preview().unwrap().light, None, "{what}");
    }
}
