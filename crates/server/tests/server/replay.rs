//! Replayed selfie captures against the server's engine: the same person comes back (new
//! captures of the same head, room and camera) and is let through at a kiosk, while from a
//! self-registered laptop a capture that looks like an earlier one is refused without a
//! review queue; a capture sent again, as it was or mirrored to answer the mirrored
//! challenge, is refused as a replay (docs/liveness.md, "Replays").

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use image::{imageops, RgbImage};
use reclaim_docgen::Rng;
use reclaim_facegen::{sequence, HeadModel};
use reclaim_protocol::DeviceKey;
use reclaim_verify::{EngineOptions, FaceEngine};
use serde_json::Value;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(returns_are_judged_by_channel_and_replays_are_refused);
on_both_databases!(kept_captures_are_bounded_and_a_strangers_cannot_push_the_persons_out);
on_both_databases!(a_strangers_planted_mirror_does_not_get_the_person_refused);
on_both_databases!(made_up_logins_captures_are_bounded_together);

fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| FaceEngine::load(EngineOptions::default()).unwrap())
}

fn hopper() -> &'static HeadModel {
    static MODEL: OnceLock<HeadModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let photo = image::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/faces/hopper-1.jpg"
        ))
        .unwrap()
        .into_rgb8();
        let face = engine().analyze(&photo).unwrap().face.unwrap();
        HeadModel::new(&photo, face.landmarks, face.bbox).unwrap()
    })
}

const CHALLENGE: &str = "left,right,center";
const MIRRORED: &str = "right,left,center";

/// A new capture of the same person answering [`CHALLENGE`]: frames and timestamps.
fn film(seed: u64) -> Vec<(RgbImage, u64)> {
    let actions = sequence::parse_challenge(CHALLENGE).unwrap();
    sequence::genuine(
        hopper(),
        &actions,
        sequence::DEFAULT_FPS,
        &mut Rng::new(seed),
    )
    .unwrap()
    .into_iter()
    .map(|f| (f.image, f.timestamp_ms))
    .collect()
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(image)
        .unwrap();
    out
}

/// The person's face as the device sends it at enrolment: the embedding of a frontal
/// frame, 128 little-endian f32, base64.
/// Each frame as the JPEG a client would upload, with its time.
fn encoded(frames: &[(RgbImage, u64)]) -> Vec<(Vec<u8>, u64)> {
    frames.iter().map(|(i, t)| (jpeg(i), *t)).collect()
}

/// The frames flipped left to right, as a client mirroring a recording sends them.
fn mirrored(frames: &[(RgbImage, u64)]) -> Vec<(RgbImage, u64)> {
    frames
        .iter()
        .map(|(i, t)| (imageops::flip_horizontal(i), *t))
        .collect()
}

/// Whether a decision's reasons (the audit's full list) name `code`.
fn names(reasons: &Value, code: &str) -> bool {
    reasons
        .as_array()
        .is_some_and(|r| r.iter().any(|c| c == code))
}

fn embedding_of(image: &RgbImage) -> String {
    let e = engine().analyze(image).unwrap().embedding.unwrap();
    let bytes: Vec<u8> = e.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

impl Harness {
    /// Avery's first recovery, at the kiosk, without evidence, and its password reset:
    /// the template enrolled is the face in `frame`.
    async fn enrol_at_the_kiosk(&self, frame: &RgbImage) {
        let s = self.session(AVERY, &self.kiosk).await;
        let mut c = claims(&s, &self.kiosk);
        c.face_embedding = Some(embedding_of(frame));
        let (status, body) = self.attest(&s, &c, &self.kiosk).await;
        assert_eq!(body["outcome"], "approved", "{status} {body}");
        let (status, body) = self
            .reset(body["grant"].as_str().unwrap_or_default(), NEW_PASSWORD)
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// A session for Avery on `device` whose challenge is `challenge` (the server draws
    /// it at random; set here so that a replay can answer it).
    async fn session_asking(&self, device: &DeviceKey, challenge: &str) -> OpenSession {
        let s = self.session(AVERY, device).await;
        sqlx::query("UPDATE sessions SET challenge = $1 WHERE id = $2")
            .bind(challenge)
            .bind(&s.id)
            .execute(&self.app.store.writer)
            .await
            .unwrap();
        s
    }
}

async fn returns_are_judged_by_channel_and_replays_are_refused(db: Db) {
    let h = Harness::with(db, Options::judging_unmanaged()).await;
    let first = film(101);
    h.enrol_at_the_kiosk(&first[0].0).await;

    // The person comes back: from their own laptop with a first capture, then at a
    // kiosk and from the laptop with new captures in the same room, whose frames look
    // like the first one's (a frame within 4 bits) but move otherwise.
    let laptop = h.self_register().await;
    let a = encoded(&first);
    let s = h.session_asking(&laptop, CHALLENGE).await;
    let (outcome, reasons) = h.send_capture(&s, &laptop, &a).await;
    assert_eq!(outcome, "approved", "first return: {reasons}");
    // At the kiosk (the company's own camera) the look-alike capture goes through: the
    // motion is not the recording's, so it is not a replay.
    let s = h.session_asking(&h.kiosk, CHALLENGE).await;
    let (outcome, reasons) = h.send_capture(&s, &h.kiosk, &encoded(&film(202))).await;
    assert_eq!(outcome, "approved", "kiosk return: {reasons}");
    // From the laptop, where an attacker's client could send a recording cropped or
    // brightened past the motion check, the same doubt is refused without a review queue.
    let s = h.session_asking(&laptop, CHALLENGE).await;
    let (outcome, reasons) = h.send_capture(&s, &laptop, &encoded(&film(303))).await;
    assert_eq!(outcome, "rejected", "laptop return: {reasons}");
    assert!(names(&reasons, "liveness_seen_before"), "{reasons}");
    assert!(!names(&reasons, "liveness_replayed_frames"), "{reasons}");

    // The first return's upload, sent again: refused as a replay.
    let s = h.session_asking(&laptop, CHALLENGE).await;
    let (outcome, reasons) = h.send_capture(&s, &laptop, &a).await;
    assert_eq!(outcome, "rejected", "{reasons}");
    assert!(names(&reasons, "liveness_replayed_frames"), "{reasons}");
    // Mirrored, it answers the mirrored challenge, and is refused as a replay too.
    let s = h.session_asking(&laptop, MIRRORED).await;
    let (outcome, reasons) = h
        .send_capture(&s, &laptop, &encoded(&mirrored(&first)))
        .await;
    assert_eq!(outcome, "rejected", "{reasons}");
    assert!(names(&reasons, "liveness_replayed_frames"), "{reasons}");
    // What is kept: one row per judged capture (five here), hashes and motion, no image.
    let kept: Vec<String> = sqlx::query_scalar("SELECT frames FROM replay_sessions")
        .fetch_all(&h.app.store.pool)
        .await
        .unwrap();
    assert_eq!(kept.len(), 5, "{kept:?}");
    assert!(kept.iter().all(|f| f.len() < 60 * 64), "{kept:?}");
}

/// One kept frame of a capture, told apart by its face's hash.
fn frame(face_hash: u64) -> [reclaim_verify::liveness::replay::SeenFrame; 1] {
    [reclaim_verify::liveness::replay::SeenFrame {
        face_hash,
        frame_hash: None,
        motion: None,
    }]
}

/// What is kept per account is bounded, approved captures and the rest apart: a stranger
/// who starts sessions for the login and has their junk judged (and kept) can push out only
/// other refused captures, never the person's approved ones, the ones worth replaying; and
/// everything goes after the retention time.
async fn kept_captures_are_bounded_and_a_strangers_cannot_push_the_persons_out(db: Db) {
    use reclaim_server::store::replay::{
        keep_session, prune_at, seen_sessions, MAX_SESSIONS, RETENTION_S,
    };
    let h = Harness::start(db).await;
    let store = &h.app.store;
    keep_session(store, "avery", "own", true, &frame(1))
        .await
        .unwrap();
    let junk = MAX_SESSIONS as u64 + 10;
    for i in 0..junk {
        keep_session(
            store,
            "avery",
            &format!("junk-{i:03}"),
            false,
            &frame(1000 + i),
        )
        .await
        .unwrap();
    }
    let kept = seen_sessions(store, "avery").await.unwrap();
    assert_eq!(kept.len(), 1 + MAX_SESSIONS);
    assert!(
        kept.iter().any(|s| s.frames[0].face_hash == 1),
        "the approved capture was pushed out"
    );
    // Another account's are its own.
    assert!(seen_sessions(store, "blake").await.unwrap().is_empty());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(prune_at(store, now).await.unwrap(), 0);
    assert_eq!(
        prune_at(store, now + RETENTION_S + 2).await.unwrap(),
        1 + MAX_SESSIONS as u64
    );
    assert!(seen_sessions(store, "avery").await.unwrap().is_empty());
}

/// A stranger with a recording of the person's earlier capture has its mirror judged (and
/// kept) under the person's login from a self-registered key, refused: it answers the
/// wrong challenge. The person's new captures look like that mirror mirrored back, which
/// the mirror rule calls a mirrored recording; they must still go through, from the
/// person's laptop and at the kiosk.
async fn a_strangers_planted_mirror_does_not_get_the_person_refused(db: Db) {
    let h = Harness::with(db, Options::judging_unmanaged()).await;
    let recording = film(101);
    h.enrol_at_the_kiosk(&recording[0].0).await;

    let stranger = h.self_register().await;
    let planted = encoded(&mirrored(&recording));
    let s = h.session_asking(&stranger, CHALLENGE).await;
    let (outcome, reasons) = h.send_capture(&s, &stranger, &planted).await;
    assert_eq!(outcome, "rejected", "the plant: {reasons}");

    // From the person's own laptop first (nothing approved is kept yet), then at a kiosk.
    let laptop = h.self_register().await;
    for (device, seed) in [(&laptop, 303), (&h.kiosk, 202)] {
        let s = h.session_asking(device, CHALLENGE).await;
        let (outcome, reasons) = h.send_capture(&s, device, &encoded(&film(seed))).await;
        assert_eq!(outcome, "approved", "capture {seed}: {reasons}");
    }
}

/// Captures judged for logins that are no account are kept (a replay is refused alike for
/// known and unknown logins), under keys no account's can be, whatever the login is made
/// of; and since logins can be made up without end, the prune bounds them all together,
/// newest kept, without touching an account's.
async fn made_up_logins_captures_are_bounded_together(db: Db) {
    use reclaim_server::store::replay::{
        capture_key, keep_session_in, prune_at, seen_sessions, MAX_UNKNOWN_LOGIN_SESSIONS,
    };
    // A login typed to look like an account's key is still a login's.
    assert_ne!(
        capture_key(None, "ref:avery-id"),
        capture_key(Some("avery-id"), "avery")
    );
    let h = Harness::start(db).await;
    let store = &h.app.store;
    let avery = capture_key(Some("avery-id"), "avery");
    let extra = 5;
    let mut tx = store.writer.begin().await.unwrap();
    keep_session_in(&mut tx, &avery, "own", true, &frame(1))
        .await
        .unwrap();
    for i in 0..MAX_UNKNOWN_LOGIN_SESSIONS + extra {
        let login = capture_key(None, &format!("made.up.{i:05}"));
        keep_session_in(&mut tx, &login, "s", false, &frame(2 + i as u64))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The server's own background prune may get there first (it runs every few seconds):
    // what is left is what counts, whoever pruned.
    prune_at(store, now).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replay_sessions")
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    assert_eq!(left as usize, 1 + MAX_UNKNOWN_LOGIN_SESSIONS);
    // The newest made-up logins stay, the oldest (here: the first written, ties broken by
    // key) went; the account's capture is untouched.
    let newest = capture_key(
        None,
        &format!("made.up.{:05}", MAX_UNKNOWN_LOGIN_SESSIONS + extra - 1),
    );
    assert_eq!(seen_sessions(store, &newest).await.unwrap().len(), 1);
    assert!(seen_sessions(store, &capture_key(None, "made.up.00000"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(seen_sessions(store, &avery).await.unwrap().len(), 1);
}
