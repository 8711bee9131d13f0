//! The server's camera and model policies and its document and face-match checks, met by
//! the app: every other client test runs the default policies with a camera that declares
//! itself a sensor (see [`Webcam`]); these run the app's honest file camera, a model list
//! that leaves the app's models out, a directory that keeps a birth date, and a match
//! margin that makes the genuine match borderline.

use reclaim_client::api::Timeouts;
use reclaim_client::flow::{FlowState, Screen};
use reclaim_client::frames::FileSource;
use reclaim_directory::DemoUser;
use reclaim_server::recovery::review::{self, Decided, Reviewer, Verdict};

use crate::harness::*;

/// The app shows the refusal, and `reason` is among its reasons.
fn assert_refused_for(st: &FlowState, reason: &str) {
    assert_eq!(
        st.screen,
        Screen::Refused,
        "{:?} {:?}",
        st.reasons,
        st.error
    );
    assert!(st.reasons.iter().any(|r| r == reason), "{:?}", st.reasons);
}

/// The app declares its file source as what it is; the default policy refuses it, and a
/// server that allows virtual cameras (demos) takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_backed_camera_is_refused_by_default_and_taken_where_allowed() {
    let _turn = serial().await;
    let server = server("camera-default").await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    laptop.set_camera(Box::new(FileSource::open(genuine_scenes(), 5.0).unwrap()));
    let st = first_time_reset(&mut laptop).await;
    assert_refused_for(&st, "camera_not_allowed");
    assert_password_unchanged(&server).await;
    server.running.stop().await;

    let server = server_with("camera-allowed", "allow_virtual_camera = true", None).await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    laptop.set_camera(Box::new(FileSource::open(genuine_scenes(), 5.0).unwrap()));
    let st = first_time_reset(&mut laptop).await;
    assert_eq!(
        st.screen,
        Screen::Password,
        "{:?} {:?}",
        st.reasons,
        st.error
    );
    server.running.stop().await;
}

/// A server that lists the models its devices may run, without the app's: refused, and
/// the person told why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_the_server_does_not_list_are_refused() {
    let _turn = serial().await;
    let other = "ab".repeat(32);
    let server = server_with(
        "model-not-allowed",
        &format!("allowed_models = [\"{other}\"]"),
        None,
    )
    .await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    let st = first_time_reset(&mut laptop).await;
    assert_refused_for(&st, "model_not_allowed");
    assert_password_unchanged(&server).await;
    server.running.stop().await;
}

/// The directory keeps Avery's birth date and the passport shows another: refused as
/// "identity not confirmed" (which record it is stays unsaid), the audit says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_with_another_birth_date_is_refused() {
    let _turn = serial().await;
    let mut avery = DemoUser::new(LOGIN, "Avery", "Quinn").with_password(OLD_PASSWORD);
    // The scenes' passport carries a generated date of birth after 1900.
    avery.birth_date = Some("1900-01-01".into());
    let server = server_with("birth-date", "", Some(vec![avery])).await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    let st = first_time_reset(&mut laptop).await;
    assert_refused_for(&st, "identity_not_confirmed");
    assert_eq!(st.reasons, vec!["identity_not_confirmed".to_string()]);
    let decision = decision_details(&server.app).await.pop().unwrap();
    assert_eq!(
        decision["reasons"],
        serde_json::json!(["document_birth_date_mismatch"]),
        "{decision}"
    );
    assert_password_unchanged(&server).await;
    server.running.stop().await;
}

/// A face match just above the threshold goes to a person: the app shows the review
/// screen and nothing changes until someone decides; once a reviewer approves, the app,
/// still waiting, goes on to the new password by itself. (A margin as wide as the scale
/// makes the genuine match borderline.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_borderline_face_match_goes_to_review() {
    let _turn = serial().await;
    let server = server_with(
        "borderline",
        "review_margin = 0.5\nreview_queue = true\n[admin.oidc]\nissuer = \"https://idp.example.test\"\nclient_id = \"c\"\nreviewer_groups = [\"r\"]",
        None,
    )
    .await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    let st = first_time_reset(&mut laptop).await;
    assert_eq!(st.screen, Screen::Review, "{:?} {:?}", st.reasons, st.error);
    let decision = decision_details(&server.app).await.pop().unwrap();
    assert_eq!(decision["outcome"], "review", "{decision}");
    assert_eq!(
        decision["reasons"],
        serde_json::json!(["face_match_borderline"]),
        "{decision}"
    );
    assert_password_unchanged(&server).await;
    // Still waiting: polling changes nothing until someone decides.
    assert_eq!(
        laptop.review_poll().await.unwrap().flow.screen,
        Screen::Review
    );
    // A reviewer approves in the console (the console's own tests drive its pages).
    let (cases, _) = review::queue(&server.app, 0, 10).await.unwrap();
    let reviewer = Reviewer {
        subject: "https://idp.example.test rita",
        name: "Rita Reviewer",
        aliases: &[],
    };
    let decided = review::decide(
        &server.app,
        &reviewer,
        &cases[0].session_id,
        Verdict::Approve,
        "the face on the ID and the selfie are the same person",
    )
    .await
    .unwrap();
    assert_eq!(decided, Decided::Approved);
    goes_on_to_the_new_password(&mut laptop, &server).await;
    server.running.stop().await;
}
