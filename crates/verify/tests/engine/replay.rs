//! Replays of an earlier session's recording, changed the ways an attacker would change
//! them, against the face hashes the backend kept from that session. The figures over
//! many sequences are `reclaim eval-replay`'s (docs/liveness.md, "Replays"); these are
//! the few sequences CI can afford.

use std::sync::OnceLock;

use image::{imageops, RgbImage};
use reclaim_docgen::Rng;
use reclaim_facegen::{attack, camera, sequence, Frame, HeadModel};
use reclaim_verify::liveness::{
    evaluate, observe_all, Action, LivenessPolicy, LivenessReason, LivenessReport, TimedFrame,
};

use crate::{data, engine};

fn hopper() -> &'static HeadModel {
    static MODEL: OnceLock<HeadModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let photo = image::open(data("faces/hopper-1.jpg"))
            .expect("opens")
            .into_rgb8();
        let face = engine()
            .analyze(&photo)
            .expect("analyses")
            .face
            .expect("a face");
        HeadModel::new(&photo, face.landmarks, face.bbox).expect("a head model")
    })
}

const RECORDED: [Action; 3] = [Action::Left, Action::Right, Action::Center];
/// What the recording answers once mirrored: its left is the mirror's right.
const MIRRORED: [Action; 3] = [Action::Right, Action::Left, Action::Center];

fn judge(frames: &[Frame], challenge: &[Action], seen: &[u64]) -> LivenessReport {
    let timed: Vec<TimedFrame> = frames
        .iter()
        .map(|f| TimedFrame {
            image: &f.image,
            timestamp_ms: f.timestamp_ms,
        })
        .collect();
    let observations = observe_all(engine(), &timed, 2).expect("frames analyse");
    evaluate(&observations, challenge, seen, &LivenessPolicy::default())
}

/// The recorded session, which passed, and the face hashes the backend kept from it
/// (the report's, as the server stores them).
fn recorded() -> &'static (Vec<Frame>, Vec<u64>) {
    static RECORDED_SESSION: OnceLock<(Vec<Frame>, Vec<u64>)> = OnceLock::new();
    RECORDED_SESSION.get_or_init(|| {
        let actions: Vec<sequence::Action> = RECORDED
            .iter()
            .map(|a| a.as_str().parse().expect("same action names"))
            .collect();
        let frames =
            sequence::genuine(hopper(), &actions, sequence::DEFAULT_FPS, &mut Rng::new(11))
                .expect("a genuine sequence");
        let first = judge(&frames, &RECORDED, &[]);
        assert!(first.live, "the recorded session: {:?}", first.reasons);
        let kept = first
            .frames
            .iter()
            .filter_map(|f| f.face_hash.as_deref())
            .filter_map(|h| u64::from_str_radix(h, 16).ok())
            .collect();
        (frames, kept)
    })
}

fn changed(frames: &[Frame], change: impl Fn(&RgbImage) -> RgbImage) -> Vec<Frame> {
    let changed: Vec<Frame> = frames
        .iter()
        .map(|f| Frame {
            image: change(&f.image),
            timestamp_ms: f.timestamp_ms,
        })
        .collect();
    attack::with_new_timestamps(&changed, sequence::DEFAULT_FPS).expect("retimed")
}

fn assert_replay_refused(what: &str, report: &LivenessReport) {
    assert!(!report.live, "{what}: a replay passed");
    assert!(
        report
            .reasons
            .contains(&LivenessReason::LivenessReplayedFrames),
        "{what}: not recognised as a replay: {:?} (replayed frames {:?})",
        report.reasons,
        report.replayed_frames
    );
}

#[test]
fn a_mirrored_replay_of_a_recorded_capture_is_caught() {
    let (frames, kept) = recorded();
    let mirrored = changed(frames, imageops::flip_horizontal);
    // Without the kept hashes the mirrored recording answers the mirrored challenge:
    // the replay check is what stands in its way.
    let unseen = judge(&mirrored, &MIRRORED, &[]);
    assert!(unseen.challenge.passed, "{:?}", unseen.reasons);
    assert_replay_refused("mirrored", &judge(&mirrored, &MIRRORED, kept));
}

#[test]
fn a_replay_changed_in_any_of_the_usual_ways_is_caught() {
    let (frames, kept) = recorded();
    type Change = fn(&RgbImage) -> RgbImage;
    let changes: [(&str, Change); 5] = [
        ("re-encoded", |i| camera::jpeg_round_trip(i, 40)),
        ("rescaled", |i| {
            imageops::resize(
                i,
                i.width() / 2,
                i.height() / 2,
                imageops::FilterType::Triangle,
            )
        }),
        ("cropped", |i| {
            let (w, h) = i.dimensions();
            imageops::crop_imm(i, w / 10, h / 12, w - w / 5, h - h / 6).to_image()
        }),
        ("brightened", |i| {
            let mut o = i.clone();
            camera::expose(&mut o, 1.3, 20.0);
            o
        }),
        ("noised", |i| {
            let mut o = i.clone();
            camera::add_noise(&mut o, 8.0, &mut Rng::new(5));
            o
        }),
    ];
    for (what, change) in changes {
        assert_replay_refused(what, &judge(&changed(frames, change), &RECORDED, kept));
    }
}
