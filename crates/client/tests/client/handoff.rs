//! The laptop hands the session to a phone by QR code; the phone scans it from its
//! camera, finishes the recovery, and the laptop sees the result.

use reclaim_client::api::Timeouts;
use reclaim_client::flow::Screen;
use reclaim_client::handoff::qr_image;
use reclaim_fixtures::scenes::copy_scenes;
use reclaim_protocol::RecoveryAction;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_takes_over_by_qr_and_the_laptop_follows_it_to_the_end() {
    let _turn = serial().await;
    let server = server("handoff").await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    laptop
        .start_recovery(LOGIN, RecoveryAction::Unlock)
        .await
        .unwrap();
    let st = laptop.start_handoff().await.unwrap();
    assert_eq!(st.flow.screen, Screen::Handoff);
    let view = st.flow.handoff.clone().unwrap();
    assert!(view.qr_svg.contains("<svg"));

    // The phone's camera sees the laptop's screen.
    let phone_scenes = scratch("phone");
    copy_scenes(genuine_scenes(), &phone_scenes).unwrap();
    qr_image(&view.payload, 6)
        .unwrap()
        .save(phone_scenes.join("qr.png"))
        .unwrap();
    let mut phone = device(&server.url, &phone_scenes, Timeouts::default());
    phone.scan_handoff().unwrap();
    assert!(
        phone.wait_for_guidance(WAIT, |g| g.done),
        "the QR code was not read"
    );
    let st = phone.claim_handoff().await.unwrap();
    assert_eq!(st.flow.screen, Screen::Document, "{:?}", st.flow.error);
    assert_eq!(st.flow.login.as_deref(), Some(LOGIN));

    let st = laptop.handoff_poll().await.unwrap();
    assert_eq!(
        st.flow.handoff.as_ref().map(|h| h.phone.as_str()),
        Some("connected")
    );
    // The laptop can no longer attest: the phone holds the session.
    capture_id(&mut phone);
    record_selfie(&mut phone);
    let st = phone.submit().await.unwrap();
    assert_eq!(
        st.flow.screen,
        Screen::Done,
        "{:?} {:?}",
        st.flow.reasons,
        st.flow.error
    );

    let st = laptop.handoff_poll().await.unwrap();
    assert_eq!(st.flow.screen, Screen::Done);

    // The code was single use: a second phone is refused.
    let mut other = device(&server.url, &phone_scenes, Timeouts::default());
    other.scan_handoff().unwrap();
    assert!(other.wait_for_guidance(WAIT, |g| g.done));
    let st = other.claim_handoff().await.unwrap();
    assert_eq!(st.flow.screen, Screen::Error);
    assert_eq!(st.flow.error.as_deref(), Some("handoff_invalid"));
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qr_code_for_another_server_is_refused() {
    let _turn = serial().await;
    let server = server("handoff-foreign").await;
    let scenes = scratch("foreign-qr");
    qr_image(
        "reclaim:continue?server=https%3A%2F%2Fphish.example&session=s_1&secret=abc",
        6,
    )
    .unwrap()
    .save(scenes.join("qr.png"))
    .unwrap();
    let mut phone = device(&server.url, &scenes, Timeouts::default());
    phone.scan_handoff().unwrap();
    assert!(phone.wait_for_guidance(WAIT, |g| g.done));
    let e = phone
        .claim_handoff()
        .await
        .err()
        .map(|e| e.code().to_string());
    assert_eq!(e.as_deref(), Some("handoff_invalid"));
    server.running.stop().await;
}
