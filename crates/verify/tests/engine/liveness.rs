//! Liveness on generated sequences: genuine head turns pass, and every attack type is a
//! test that fails the day it starts passing. Sequences come from `reclaim-facegen`, made
//! from the real photos in `tests/data/faces`, with fixed seeds.

use std::sync::OnceLock;

use image::RgbImage;
use reclaim_docgen::Rng;
use reclaim_facegen::{attack, sequence, FacegenError, Frame, HeadModel};
use reclaim_verify::liveness::{
    evaluate, observe_all, Action, LivenessPolicy, LivenessReason, LivenessReport, TimedFrame,
};

use crate::{engine, face_photo, the_face};

/// The challenge most tests use; the backend draws one per session.
pub(crate) const CHALLENGE: [Action; 3] = [Action::Left, Action::Right, Action::Center];

fn head(name: &str) -> HeadModel {
    let photo = face_photo(name);
    let face = the_face(&photo);
    HeadModel::new(&photo, face.landmarks, face.bbox).expect("a head model")
}

pub(crate) fn ardern() -> &'static HeadModel {
    static MODEL: OnceLock<HeadModel> = OnceLock::new();
    MODEL.get_or_init(|| head("ardern-1"))
}

pub(crate) fn hopper() -> &'static HeadModel {
    static MODEL: OnceLock<HeadModel> = OnceLock::new();
    MODEL.get_or_init(|| head("hopper-1"))
}

fn actions(challenge: &[Action]) -> Vec<sequence::Action> {
    challenge
        .iter()
        .map(|a| a.as_str().parse().expect("same action names"))
        .collect()
}

fn judge_with(frames: &[Frame], challenge: &[Action], seen: &[u64]) -> LivenessReport {
    let timed = TimedFrame::all(frames.iter().map(|f| (&f.image, f.timestamp_ms)));
    let observations = observe_all(engine(), &timed, 2).expect("frames analyse");
    evaluate(&observations, challenge, None, seen, &LivenessPolicy::default())
}

fn judge(frames: &[Frame]) -> LivenessReport {
    judge_with(frames, &CHALLENGE, &[])
}

pub(crate) fn genuine(model: &HeadModel, challenge: &[Action], seed: u64) -> Vec<Frame> {
    sequence::genuine(
        model,
        &actions(challenge),
        sequence::DEFAULT_FPS,
        &mut Rng::new(seed),
    )
    .expect("a genuine sequence")
}

fn assert_rejected(report: &LivenessReport, because: LivenessReason) {
    assert!(!report.live, "an attack passed liveness: {report:#?}");
    assert!(
        report.reasons.contains(&because),
        "expected {because} among {:?}",
        report.reasons
    );
}

#[test]
fn genuine_head_turns_pass() {
    for (model, seed) in [(ardern(), 1), (hopper(), 2)] {
        let report = judge(&genuine(model, &CHALLENGE, seed));
        assert!(report.live, "seed {seed}: {:?}", report.reasons);
        let parallax = report.checks.iter().find(|c| c.name == "parallax");
        assert!(parallax.is_some_and(|c| c.passed && c.score > 0.1));
    }
}

#[test]
fn the_same_photo_repeated_is_rejected() {
    let frames =
        attack::still_repeated(ardern().frame(), 15, sequence::DEFAULT_FPS).expect("frames");
    assert_rejected(&judge(&frames), LivenessReason::LivenessStaticFrames);
}

#[test]
fn a_print_held_still_is_rejected() {
    let frames = attack::still_with_noise(
        ardern().frame(),
        15,
        sequence::DEFAULT_FPS,
        &mut Rng::new(3),
    )
    .expect("frames");
    let report = judge(&frames);
    assert_rejected(&report, LivenessReason::LivenessChallengeNotCompleted);
    assert!(report
        .reasons
        .contains(&LivenessReason::LivenessPlanarMotion));
}

/// A flat attack (a print, a screen): the sequences, photo in hand turned to mimic the
/// challenge.
type FlatAttack =
    fn(&RgbImage, &[sequence::Action], f32, &mut Rng) -> Result<Vec<Frame>, FacegenError>;

/// `attack` on `model`'s photo with each of `seeds`: none may pass.
fn assert_mimicry_rejected(attack: FlatAttack, what: &str, model: &HeadModel, seeds: [u64; 3]) {
    for seed in seeds {
        let frames = attack(
            model.frame(),
            &actions(&CHALLENGE),
            sequence::DEFAULT_FPS,
            &mut Rng::new(seed),
        )
        .expect("frames");
        assert!(!judge(&frames).live, "{what} seed {seed} passed");
    }
}

#[test]
fn a_print_turned_to_mimic_the_challenge_is_rejected() {
    assert_mimicry_rejected(attack::flat_print, "flat print", hopper(), [4, 5, 6]);
}

#[test]
fn a_screen_turned_to_mimic_the_challenge_is_rejected() {
    assert_mimicry_rejected(attack::screen, "screen", ardern(), [7, 8, 9]);
}

#[test]
fn a_genuine_recording_replayed_against_another_challenge_is_rejected() {
    let recorded = genuine(ardern(), &[Action::Right, Action::Left, Action::Center], 10);
    let replayed = attack::replayed(&recorded);
    let report = judge_with(&replayed, &CHALLENGE, &[]);
    assert!(!report.live, "{:?}", report.reasons);
    assert!(!report.challenge.passed);
}

#[test]
fn frames_seen_in_an_earlier_session_are_rejected() {
    let recorded = genuine(hopper(), &CHALLENGE, 11);
    // The earlier session passed, and the backend kept its face hashes.
    let first = judge(&recorded);
    assert!(first.live, "{:?}", first.reasons);
    let seen: Vec<u64> = first
        .frames
        .iter()
        .filter_map(|f| f.face_hash.as_deref())
        .filter_map(|h| u64::from_str_radix(h, 16).ok())
        .collect();
    assert!(!seen.is_empty());
    let retimed =
        attack::with_new_timestamps(&recorded, sequence::DEFAULT_FPS).expect("retimed frames");
    assert_rejected(
        &judge_with(&retimed, &CHALLENGE, &seen),
        LivenessReason::LivenessReplayedFrames,
    );
}

#[test]
fn a_face_that_changes_midway_is_rejected() {
    let frames = attack::face_swap(
        ardern(),
        hopper(),
        &actions(&CHALLENGE),
        sequence::DEFAULT_FPS,
        &mut Rng::new(12),
    )
    .expect("frames");
    assert_rejected(&judge(&frames), LivenessReason::LivenessFaceChanged);
}

#[test]
fn a_too_perfect_synthetic_sequence_is_rejected() {
    let frames =
        attack::puppet(ardern(), &actions(&CHALLENGE), sequence::DEFAULT_FPS).expect("frames");
    assert!(!judge(&frames).live);
}

#[test]
fn one_frame_cannot_prove_liveness() {
    let frames = genuine(ardern(), &CHALLENGE, 13);
    assert_rejected(
        &judge(&frames[..1]),
        LivenessReason::LivenessInsufficientFrames,
    );
}
