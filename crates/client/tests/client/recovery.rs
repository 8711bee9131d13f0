//! Whole recoveries through the app's core.

use reclaim_client::api::Timeouts;
use reclaim_client::flow::Screen;
use reclaim_protocol::wire::decision::Outcome;
use reclaim_protocol::wire::sessions::Step;
use reclaim_protocol::RecoveryAction;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_time_reset_then_a_returning_users_mfa_reset() {
    let _turn = serial().await;
    let server = server("first-time").await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());

    let st = laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap();
    assert_eq!(st.flow.screen, Screen::Document);
    assert_eq!(st.flow.steps, vec![Step::Document, Step::Selfie]);
    // The tests' camera declares a sensor, so the default camera policy takes it.
    assert!(st
        .camera
        .as_ref()
        .is_some_and(|c| !c.file_backed && !c.virtual_device));
    capture_id(&mut laptop);
    assert_eq!(
        laptop.screen(),
        Screen::Selfie,
        "a passport has no back to show"
    );
    submit_selfie_expecting(&mut laptop, Screen::Password).await;
    // What the device's engine and the service found, in numbers and codes.
    let sub = laptop.submission().unwrap();
    assert!(sub.device_verified && sub.live, "{sub:?}");
    assert!(
        sub.face_match
            .is_some_and(|f| f.score.is_some_and(|s| s >= f.threshold)),
        "{sub:?}"
    );
    let sent = sub.sent.as_ref().unwrap();
    assert_eq!(sent.algorithm, "EdDSA");
    assert!(sent.evidence > 1 && sent.token_bytes > 0, "{sent:?}");
    let decided = sub.decision.as_ref().unwrap();
    assert_eq!(decided.outcome, Outcome::Approved);
    assert!(decided.reverified, "the server judged the evidence itself");
    assert!(decided.reasons.is_empty() && decided.message.is_none());

    let weak = laptop.check_password("Password123!").await.unwrap();
    assert!(!weak.acceptable && !weak.problems.is_empty());
    let good = laptop.check_password(NEW_PASSWORD).await.unwrap();
    assert!(good.acceptable, "{:?}", good.problems);
    let st = laptop.set_password(NEW_PASSWORD).await.unwrap();
    assert_eq!(st.flow.screen, Screen::Done);
    assert_eq!(
        st.flow.result.as_ref().map(|r| r.action),
        Some(RecoveryAction::ResetPassword)
    );
    assert!(password_is(&server, NEW_PASSWORD).await);

    // Done: nothing of the person is kept; the next recovery starts clean.
    laptop.start_over();
    assert_eq!(laptop.screen(), Screen::Start);
    assert!(laptop.submission().is_none(), "forgotten with the person");
    assert!(
        laptop.check_password(NEW_PASSWORD).await.is_err(),
        "the grant was forgotten"
    );

    // Back for an MFA reset: the selfie alone, against the template enrolled the first time.
    laptop.set_camera(Box::new(Webcam::open(returning_scenes())));
    let st = laptop
        .start_recovery(LOGIN, RecoveryAction::ResetMfa)
        .await
        .unwrap();
    assert_eq!(st.flow.screen, Screen::Selfie);
    assert_eq!(st.flow.steps, vec![Step::Selfie]);
    let st = submit_selfie_expecting(&mut laptop, Screen::Done).await;
    assert_eq!(
        st.flow.result.as_ref().map(|r| r.action),
        Some(RecoveryAction::ResetMfa)
    );
    // The template never leaves the server: the device judged liveness alone.
    let sub = laptop.submission().unwrap();
    assert!(
        sub.device_verified && sub.live && sub.face_match.is_none(),
        "{sub:?}"
    );
    assert_eq!(
        sub.decision.as_ref().map(|d| d.outcome),
        Some(Outcome::Approved)
    );
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_else_with_the_id_is_refused_and_told_what_to_do() {
    let _turn = serial().await;
    let server = server("impostor").await;
    let mut laptop = device(&server.url, impostor_scenes(), Timeouts::default());
    let st = first_time_reset(&mut laptop).await;
    assert_eq!(st.screen, Screen::Refused);
    assert!(
        st.reasons.iter().any(|r| r == "face_mismatch"),
        "{:?}",
        st.reasons
    );
    // The device's engine refused, so nothing was sent.
    let sub = laptop.submission().unwrap();
    assert!(!sub.device_verified, "{sub:?}");
    assert!(sub.device_reasons.iter().any(|r| r == "face_mismatch"));
    assert!(sub.sent.is_none() && sub.decision.is_none(), "{sub:?}");
    assert_password_unchanged(&server).await;
    // Retrying starts a new session at the first step.
    let st = laptop.retry().await.unwrap();
    assert_eq!(st.flow.screen, Screen::Document);
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_the_policy_refuses_keeps_the_grant_and_a_good_one_then_works() {
    let _turn = serial().await;
    let server = server("refused-password").await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    let st = first_time_reset(&mut laptop).await;
    assert_eq!(st.screen, Screen::Password, "{:?}", st.reasons);
    let st = laptop.set_password("short").await.unwrap();
    assert_eq!(st.flow.screen, Screen::Password);
    assert_eq!(st.flow.password_error.as_deref(), Some("password_refused"));
    let st = laptop.set_password(NEW_PASSWORD).await.unwrap();
    assert_eq!(st.flow.screen, Screen::Done);
    server.running.stop().await;
}

/// A busy laptop: the camera delivers the selfie's frames far faster than the analyser
/// can look at them (see [`Timelapse`]). Every frame the challenge needs is still
/// recorded and judged, so the genuine person's turns are seen and the reset goes
/// through, as on an idle machine. (Before the recording kept frames on the camera's
/// side, the analyser's skipped frames were lost, with them the turns, and the person was
/// refused with `liveness_wrong_action` or `liveness_challenge_not_completed`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_turn_is_accepted_when_the_camera_outpaces_the_analyser() {
    let _turn = serial().await;
    let server = server("outpaced").await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    laptop.set_camera(Box::new(Timelapse::open(genuine_scenes())));
    let st = first_time_reset(&mut laptop).await;
    assert_eq!(
        st.screen,
        Screen::Password,
        "refused: {:?} {:?}",
        st.reasons,
        st.error
    );
    // The server judged the same frames and saw the turns too.
    let decision = decision_details(&server.app).await.pop().unwrap();
    assert_eq!(decision["outcome"], "approved", "{decision}");
    server.running.stop().await;
}
