//! End-to-end tests of `evaluate` on fabricated observations (no models): a live
//! capture passes, and each kind of spoof or defect fails with its own reason.

use super::observe::tests::observation;
use super::planarity::tests::{head_model, project};
use super::replay::tests::picture;
use super::replay::Thumbnail;
use super::*;
use crate::face::FaceEmbedding;

/// Frames 33 ms apart (30 a second).
const FRAME_MS: u64 = 33;
const FRAMES: usize = 60;

/// Yaw of frame `i`: one sine swing, left then right, over 48 frames (1.6 s), then a
/// rest at the centre.
fn yaw(i: usize) -> f32 {
    if i < 48 {
        28.0 * (i as f32 / 48.0 * std::f32::consts::TAU).sin()
    } else {
        0.0
    }
}

fn challenge() -> Vec<Action> {
    vec![Action::Left, Action::Right, Action::Center]
}

fn embedding(seed: f32) -> FaceEmbedding {
    let v: Vec<f32> = (0..128).map(|i| (i as f32 * 0.37 + seed).sin()).collect();
    FaceEmbedding::from_raw(v).unwrap()
}

/// A capture of the head model (nose `nose_depth` eye distances in front) following
/// `yaw`, with about a pixel of deterministic landmark noise when `noisy`.
fn capture(nose_depth: f32, noisy: bool) -> Vec<FrameObservation> {
    (0..FRAMES)
        .map(|i| {
            let mut lm = project(&head_model(nose_depth), yaw(i), 0.0);
            if noisy {
                for (k, p) in lm.iter_mut().enumerate() {
                    let n = ((i * 5 + k) * 7919 % 13) as f32 / 6.0 - 1.0;
                    p[0] += n;
                    p[1] -= n * 0.5;
                }
            }
            let mut o = observation(1_000 + FRAME_MS * i as u64, lm);
            o.embedding = Some(embedding(i as f32 * 0.01));
            o.thumbnail = Thumbnail::of(&picture(64, 48, i as u32));
            o
        })
        .collect()
}

fn run(observations: &[FrameObservation], seen: &[u64]) -> LivenessReport {
    evaluate(observations, &challenge(), None, seen, &LivenessPolicy::default())
}

#[test]
fn a_live_capture_passes() {
    let report = run(&capture(0.4, true), &[]);
    assert!(report.live, "{:#?}", report);
    assert!(report.reasons.is_empty());
    assert!(report.checks.iter().all(|c| c.passed));
    let frames: Vec<usize> = report
        .challenge
        .actions
        .iter()
        .map(|a| a.frame.unwrap())
        .collect();
    // The true yaw passes the 15 degree turn threshold near frame 4 (left) and -15 near
    // frame 27 (right); the centre comes back near frame 46.
    assert!((3..=6).contains(&frames[0]), "{frames:?}");
    assert!((26..=29).contains(&frames[1]), "{frames:?}");
    assert!((44..=48).contains(&frames[2]), "{frames:?}");
    assert_eq!(
        report.reference_frame.map(|r| yaw(r).abs() < 3.0),
        Some(true)
    );
    assert_eq!(report.frames.len(), FRAMES);
    assert_eq!(
        report.frames[0].face_hash.as_ref().map(String::len),
        Some(16)
    );
}

#[test]
fn a_flat_picture_fails_the_parallax_check() {
    let report = run(&capture(0.0, true), &[]);
    assert!(!report.live);
    assert!(
        report
            .reasons
            .contains(&LivenessReason::LivenessPlanarMotion),
        "{:?}",
        report.reasons
    );
    // A flat face cannot even show a head turn.
    assert!(report
        .reasons
        .contains(&LivenessReason::LivenessChallengeNotCompleted));
}

#[test]
fn a_perfectly_smooth_track_is_too_regular() {
    let report = run(&capture(0.4, false), &[]);
    assert_eq!(
        report.reasons,
        vec![LivenessReason::LivenessMotionTooRegular],
        "{:?}",
        report.checks
    );
}

#[test]
fn too_few_frames_fail_without_panicking() {
    let all = capture(0.4, true);
    let report = run(&all[..1], &[]);
    assert!(!report.live);
    assert!(report
        .reasons
        .contains(&LivenessReason::LivenessInsufficientFrames));
    let report = run(&[], &[]);
    assert!(!report.live);
    assert!(report
        .reasons
        .contains(&LivenessReason::LivenessInsufficientFrames));
}

#[test]
fn frozen_frames_fail() {
    let mut obs = capture(0.4, true);
    for o in &mut obs {
        o.thumbnail = Thumbnail::of(&picture(64, 48, 1));
    }
    let report = run(&obs, &[]);
    assert_eq!(report.reasons, vec![LivenessReason::LivenessStaticFrames]);
    // Two repeated frames are tolerated, three are not.
    let mut obs = capture(0.4, true);
    for i in [2, 6] {
        obs[i].thumbnail = obs[i - 1].thumbnail.clone();
    }
    assert!(run(&obs, &[]).live);
    obs[31].thumbnail = obs[30].thumbnail.clone();
    assert!(!run(&obs, &[]).live);
}

#[test]
fn frames_seen_in_an_earlier_session_fail() {
    let obs = capture(0.4, true);
    let stored = obs[33].face_hash.unwrap() ^ 0b1011;
    let report = run(&obs, &[stored]);
    assert_eq!(report.reasons, vec![LivenessReason::LivenessReplayedFrames]);
    assert_eq!(report.replayed_frames, vec![33]);
    // Five bits away is another picture.
    let far = obs[33].face_hash.unwrap() ^ 0b11111;
    assert!(run(&obs, &[far]).live);
}

#[test]
fn a_second_face_a_lost_face_and_a_swapped_face_fail() {
    let mut obs = capture(0.4, true);
    obs[15].faces_found = 2;
    obs[15].embedding = None;
    let report = run(&obs, &[]);
    assert!(report
        .reasons
        .contains(&LivenessReason::LivenessMultipleFaces));

    let mut obs = capture(0.4, true);
    for i in [1, 20, 50] {
        obs[i].faces_found = 0;
        obs[i].landmarks = None;
        obs[i].yaw_deg = None;
        obs[i].pitch_deg = None;
        obs[i].embedding = None;
    }
    let report = run(&obs, &[]);
    assert!(
        report.reasons.contains(&LivenessReason::LivenessFaceLost),
        "{:?}",
        report.reasons
    );

    let mut obs = capture(0.4, true);
    obs[30].embedding = Some(embedding(40.0));
    let report = run(&obs, &[]);
    assert_eq!(report.reasons, vec![LivenessReason::LivenessFaceChanged]);
}

#[test]
fn a_spliced_pose_jump_fails() {
    let mut obs = capture(0.4, true);
    // Frame 20 claims to follow frame 19 by 3 ms.
    obs[20].timestamp_ms = obs[19].timestamp_ms + 3;
    let report = run(&obs, &[]);
    assert!(
        report.reasons.contains(&LivenessReason::LivenessPoseJump),
        "{:?}",
        report.reasons
    );
}

#[test]
fn malformed_evidence_fails_closed() {
    let mut obs = capture(0.4, true);
    obs.swap(4, 5);
    assert!(run(&obs, &[])
        .reasons
        .contains(&LivenessReason::LivenessInvalidInput));
    let obs = capture(0.4, true);
    let report = evaluate(&obs, &[], None, &[], &LivenessPolicy::default());
    assert!(!report.live);
    assert!(report
        .reasons
        .contains(&LivenessReason::LivenessInvalidInput));
    let mut obs = capture(0.4, true);
    obs[2].size = (10, 10);
    assert!(!run(&obs, &[]).live);
    // Non-finite landmarks and poses: unusable, never a panic.
    let mut obs = capture(0.4, true);
    for o in obs.iter_mut().take(40) {
        o.landmarks = Some([[f32::NAN; 2]; 5]);
        o.yaw_deg = Some(f32::NAN);
    }
    let report = run(&obs, &[]);
    assert!(!report.live);
    assert!(serde_json::to_string(&report).is_ok());
}

#[test]
fn reason_codes_are_stable_and_explained() {
    for r in LivenessReason::ALL {
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, format!("\"{}\"", r.as_str()));
        assert!(r.as_str().starts_with("liveness_"));
        assert!(r.guidance().ends_with('.'));
    }
    let report = run(&capture(0.4, true), &[]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["live"], true);
    assert_eq!(json["challenge"]["actions"][0]["action"], "left");
    assert!(json["frames"][0]["face_hash"].as_str().unwrap().len() == 16);
}

#[test]
fn a_face_that_reads_pitched_down_when_level_is_judged_from_its_own_level() {
    // Real faces read 8-18 degrees "down" on the landmark head model when level.
    let level = run(&capture(0.4, true), &[]).pitch_baseline_deg;
    let mut obs = capture(0.4, true);
    for o in &mut obs {
        o.pitch_deg = o.pitch_deg.map(|p| p - 14.0);
    }
    let report = run(&obs, &[]);
    assert!(report.live, "{:?}", report.reasons);
    let shift = report.pitch_baseline_deg - level;
    assert!((shift + 14.0).abs() < 1.0, "{shift}");
    let absolute = LivenessPolicy {
        relative_pitch: false,
        ..LivenessPolicy::default()
    };
    let report = evaluate(&obs, &challenge(), None, &[], &absolute);
    assert!(!report.live);
    assert_eq!(report.pitch_baseline_deg, 0.0);
}

#[test]
fn the_passive_model_decides_only_when_configured() {
    let policy = LivenessPolicy {
        passive_min_live: Some(0.6),
        ..LivenessPolicy::default()
    };
    let with_scores = |score: Option<f32>| {
        let mut obs = capture(0.4, true);
        for o in &mut obs {
            o.passive_live = score;
        }
        evaluate(&obs, &challenge(), None, &[], &policy)
    };
    assert!(with_scores(Some(0.9)).live);
    let spoof = with_scores(Some(0.2));
    assert!(!spoof.live);
    assert_eq!(spoof.reasons, [LivenessReason::LivenessPassiveSpoof]);
    // Configured, but no score came back: fails closed.
    assert!(with_scores(None)
        .reasons
        .contains(&LivenessReason::LivenessPassiveSpoof));
    // Not configured: the scores are ignored and no check is reported.
    let plain = run(&capture(0.4, true), &[]);
    assert!(plain.live);
    assert!(plain.checks.iter().all(|c| c.name != "passive_live"));
}
