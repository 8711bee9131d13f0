//! Replays of an earlier session's recording, changed the ways an attacker would change
//! them, against what the backend kept from that session (face and frame hashes, motion);
//! and the other side, the same person coming back, who must not be refused as a replay
//! of themselves. The figures over many sequences are `reclaim-lab eval-replay`'s
//! (docs/liveness.md, "Replays"); these are the few sequences CI can afford.

use std::sync::OnceLock;

use image::{imageops, RgbImage};
use reclaim_docgen::Rng;
use reclaim_facegen::{attack, camera, sequence, Frame};
use reclaim_verify::liveness::replay::{SeenFrame, SeenSession};
use reclaim_verify::liveness::{
    evaluate, evaluate_seen, observe_all, Action, FrameObservation, LivenessPolicy, LivenessReason,
    LivenessReport, TimedFrame,
};

use crate::liveness::hopper;
use crate::{engine, the_face};

const RECORDED: [Action; 3] = [Action::Left, Action::Right, Action::Center];
/// What the recording answers once mirrored: its left is the mirror's right.
const MIRRORED: [Action; 3] = [Action::Right, Action::Left, Action::Center];

fn observe(frames: &[Frame]) -> Vec<FrameObservation> {
    let timed = TimedFrame::all(frames.iter().map(|f| (&f.image, f.timestamp_ms)));
    observe_all(engine(), &timed, 2).expect("frames analyse")
}

fn judge(frames: &[Frame], challenge: &[Action], seen: &[SeenSession]) -> LivenessReport {
    evaluate_seen(
        &observe(frames),
        challenge,
        None,
        seen,
        &LivenessPolicy::default(),
    )
}

/// What the backend keeps of a judged session: the report's frames.
fn kept(report: &LivenessReport) -> SeenSession {
    SeenSession {
        frames: report
            .frames
            .iter()
            .filter_map(|f| f.seen_frame())
            .collect(),
        doubtful: false,
    }
}

/// The recorded session, which passed, and what the backend kept from it.
fn recorded() -> &'static (Vec<Frame>, SeenSession) {
    static RECORDED_SESSION: OnceLock<(Vec<Frame>, SeenSession)> = OnceLock::new();
    RECORDED_SESSION.get_or_init(|| {
        let frames = film(&RECORDED, 11);
        let first = judge(&frames, &RECORDED, &[]);
        assert!(first.live, "the recorded session: {:?}", first.reasons);
        let session = kept(&first);
        assert!(
            session.frames.iter().all(|f| f.motion.is_some()),
            "every kept frame has its motion"
        );
        (frames, session)
    })
}

fn film(challenge: &[Action], seed: u64) -> Vec<Frame> {
    let actions: Vec<sequence::Action> = challenge
        .iter()
        .map(|a| a.as_str().parse().expect("same action names"))
        .collect();
    sequence::genuine(
        hopper(),
        &actions,
        sequence::DEFAULT_FPS,
        &mut Rng::new(seed),
    )
    .expect("a genuine sequence")
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

/// Refused as a replay: its motion is the recording's.
fn assert_replay_refused(what: &str, report: &LivenessReport) {
    assert!(!report.live, "{what}: a replay passed");
    assert!(
        report
            .reasons
            .contains(&LivenessReason::LivenessReplayedFrames),
        "{what}: not recognised as a replay: {:?} (replayed frames {:?}, seen before {}, motion distance {:?})",
        report.reasons,
        report.replayed_frames,
        report.seen_before,
        report.replay_motion_distance
    );
}

/// Refused as a replay, or at least reported as seen before (the backend's doubt
/// `face_seen_before`): never let through unnoticed.
fn assert_replay_caught(what: &str, report: &LivenessReport) {
    let refused = report
        .reasons
        .contains(&LivenessReason::LivenessReplayedFrames);
    assert!(
        refused || report.seen_before,
        "{what}: a replay went unnoticed: {:?} (motion distance {:?})",
        report.reasons,
        report.replay_motion_distance
    );
}

type Change = fn(&RgbImage) -> RgbImage;

/// The changes that keep the detector's landmarks within its noise.
const MILD: [(&str, Change); 4] = [
    ("replayed", |i| i.clone()),
    ("re-encoded", |i| camera::jpeg_round_trip(i, 40)),
    ("rescaled", |i| {
        imageops::resize(
            i,
            i.width() / 2,
            i.height() / 2,
            imageops::FilterType::Triangle,
        )
    }),
    ("noised", |i| {
        let mut o = i.clone();
        camera::add_noise(&mut o, 8.0, &mut Rng::new(5));
        o
    }),
];

/// The changes that move the detector's landmarks by degrees.
const STRONG: [(&str, Change); 2] = [
    ("cropped", |i| {
        let (w, h) = i.dimensions();
        imageops::crop_imm(i, w / 10, h / 12, w - w / 5, h - h / 6).to_image()
    }),
    ("brightened", |i| {
        let mut o = i.clone();
        camera::expose(&mut o, 1.3, 20.0);
        o
    }),
];

#[test]
fn a_mirrored_replay_of_a_recorded_capture_is_caught() {
    let (frames, kept) = recorded();
    let mirrored = changed(frames, imageops::flip_horizontal);
    // Without the kept session the mirrored recording answers the mirrored challenge:
    // the replay check is what stands in its way.
    let unseen = judge(&mirrored, &MIRRORED, &[]);
    assert!(unseen.challenge.passed, "{:?}", unseen.reasons);
    assert_replay_caught(
        "mirrored",
        &judge(&mirrored, &MIRRORED, std::slice::from_ref(kept)),
    );
}

/// The picture with a checkerboard of +-25 grey levels laid over the face (9 by 8 squares
/// over the box the detector finds, enlarged by a tenth each side): the face's difference
/// hash moves by 10 bits or more while the room around it does not change.
fn scramble_face(image: &RgbImage) -> RgbImage {
    let face = the_face(image);
    let [x, y, w, h] = face.bbox;
    let (x0, y0, fw, fh) = (x - 0.1 * w, y - 0.1 * h, 1.2 * w, 1.2 * h);
    let mut out = image.clone();
    for (px, py, p) in out.enumerate_pixels_mut() {
        let (u, v) = ((px as f32 - x0) / fw, (py as f32 - y0) / fh);
        if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
            continue;
        }
        let square = (u * 9.0) as u32 + (v * 8.0) as u32;
        let d = if square % 2 == 0 { 25 } else { -25 };
        for c in p.0.iter_mut() {
            *c = (i32::from(*c) + d).clamp(0, 255) as u8;
        }
    }
    out
}

#[test]
fn a_mirrored_replay_with_its_face_scrambled_is_refused_by_its_room() {
    let (frames, kept) = recorded();
    // An attacker who knows the face is hashed mirrors the recording and scrambles the
    // face enough to move its hash; the room, mirrored back, is still the recording's.
    let replay = changed(frames, |i| scramble_face(&imageops::flip_horizontal(i)));
    assert_replay_refused(
        "mirrored, face scrambled",
        &judge(&replay, &MIRRORED, std::slice::from_ref(kept)),
    );
    // Judged against the faces alone (what the backend kept before it kept each whole
    // frame's hash), the same replay is not refused: at most "seen before", which a
    // managed device lets go on. This is the hole the whole frame closes.
    let faces_only = SeenSession {
        frames: kept
            .frames
            .iter()
            .map(|f| SeenFrame {
                frame_hash: None,
                ..*f
            })
            .collect(),
        doubtful: false,
    };
    let by_faces = judge(&replay, &MIRRORED, &[faces_only]);
    assert!(
        !by_faces
            .reasons
            .contains(&LivenessReason::LivenessReplayedFrames),
        "by the faces alone: {:?}",
        by_faces.reasons
    );
}

#[test]
fn a_replay_changed_in_any_of_the_usual_ways_is_caught() {
    let (frames, kept) = recorded();
    let kept = std::slice::from_ref(kept);
    for (what, change) in MILD {
        assert_replay_refused(what, &judge(&changed(frames, change), &RECORDED, kept));
    }
    // Frames dropped (every third), as an attacker speeding a recording up would.
    let (_, reencode) = MILD[1];
    let dropped: Vec<Frame> = frames
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 1)
        .map(|(_, f)| f.clone())
        .collect();
    assert_replay_refused(
        "re-encoded, a third of the frames dropped",
        &judge(&changed(&dropped, reencode), &RECORDED, kept),
    );
    for (what, change) in STRONG {
        assert_replay_caught(what, &judge(&changed(frames, change), &RECORDED, kept));
    }
}

#[test]
fn the_same_person_coming_back_is_not_refused_as_a_replay_of_themselves() {
    let (_, first) = recorded();
    let mut sessions = vec![first.clone()];
    let mut matched_by_hash = 0;
    // New captures of the same head in the same room and camera: new motion, tremor,
    // noise and exposure; the same challenge as the recording, then its mirror.
    for (seed, challenge) in [(101, RECORDED), (202, RECORDED), (303, MIRRORED)] {
        let observations = observe(&film(&challenge, seed));
        let report = evaluate_seen(
            &observations,
            &challenge,
            None,
            &sessions,
            &LivenessPolicy::default(),
        );
        assert!(
            !report
                .reasons
                .contains(&LivenessReason::LivenessReplayedFrames),
            "return {seed}: refused as a replay (motion distance {:?}, frames {:?})",
            report.replay_motion_distance,
            report.replayed_frames
        );
        assert!(report.live, "return {seed}: {:?}", report.reasons);
        // The hashes alone (the rule before motion was kept) would have refused it.
        let hashes: Vec<u64> = sessions
            .iter()
            .flat_map(|s| s.frames.iter().map(|f| f.face_hash))
            .collect();
        let by_hash = evaluate(
            &observations,
            &challenge,
            &hashes,
            &LivenessPolicy::default(),
        );
        if by_hash
            .reasons
            .contains(&LivenessReason::LivenessReplayedFrames)
        {
            matched_by_hash += 1;
        }
        // The backend keeps every session.
        sessions.push(kept(&report));
    }
    assert!(
        matched_by_hash > 0,
        "no return matched by hash: this test no longer tests the hard case"
    );
}
