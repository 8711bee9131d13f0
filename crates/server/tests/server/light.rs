//! The screen light end to end: the server draws it per session, keeps it with the
//! session, and its engine judges the uploaded selfie against it. A capture lit by the
//! session's own light is approved; the same person's capture lit by another session's
//! light (a recording made for one session, brought to another) is refused, and the
//! person is told only the neutral liveness sentence.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use image::RgbImage;
use reclaim_docgen::Rng;
use reclaim_facegen::{genuine_lit, sequence, HeadModel, Room, Scene, ScreenLight, SkinTone};
use reclaim_protocol::{ChallengeAction, LightSequence};
use reclaim_verify::{EngineOptions, FaceEngine};
use serde_json::json;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(the_server_judges_the_selfie_against_the_light_it_drew);

fn hopper(engine: &FaceEngine) -> HeadModel {
    let photo = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/faces/hopper-1.jpg"
    ))
    .unwrap()
    .into_rgb8();
    let face = engine.analyze(&photo).unwrap().face.unwrap();
    HeadModel::new(&photo, face.landmarks, face.bbox).unwrap()
}

/// The session's drawn moves and light, as the server keeps them.
async fn drawn(h: &Harness, s: &OpenSession) -> (Vec<ChallengeAction>, LightSequence) {
    let (challenge, light): (String, Option<String>) =
        sqlx::query_as("SELECT challenge, light FROM sessions WHERE id = $1")
            .bind(&s.id)
            .fetch_one(&h.app.store.pool)
            .await
            .unwrap();
    let actions = ChallengeAction::split(&challenge).unwrap();
    let light = LightSequence::split(&light.expect("a drawn light")).unwrap();
    (actions, light)
}

/// The person answering `actions` in an office while the screen shows `light`, then
/// holding still while the rest of it is shown: JPEG frames and their times.
fn film(
    model: &HeadModel,
    actions: &[ChallengeAction],
    light: &LightSequence,
    seed: u64,
) -> Vec<(Vec<u8>, u64)> {
    let mut moves: Vec<sequence::Action> = actions
        .iter()
        .map(|a| a.as_str().parse().unwrap())
        .collect();
    moves.extend([sequence::Action::Center; 3]);
    let mut rng = Rng::new(seed);
    let mut scene = Scene::room(Room::Office, &mut rng);
    scene.skin = Some(SkinTone::III);
    let screen = ScreenLight::from_steps(&light.linear_steps(), 300.0);
    let lit = genuine_lit(model, &moves, 5.0, &screen, &scene, &mut rng).unwrap();
    lit.frames
        .iter()
        .map(|f| (jpeg(&f.image), f.timestamp_ms))
        .collect()
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(image)
        .unwrap();
    out
}

async fn the_server_judges_the_selfie_against_the_light_it_drew(db: Db) {
    let h = Harness::with(
        db,
        Options {
            light_steps: 10,
            ..Options::judging_unmanaged()
        },
    )
    .await;
    let engine = FaceEngine::load(EngineOptions::default()).unwrap();
    let model = hopper(&engine);
    // Enrolled at the kiosk (its signed claims, no evidence): the template the returns
    // are compared with.
    let s = h.session(AVERY, &h.kiosk).await;
    let (status, body) = h.create_session(AVERY, &h.kiosk).await;
    assert_eq!(status, 201);
    let light: LightSequence =
        serde_json::from_value(body["light"].clone()).expect("the answer carries the light");
    light.validate().unwrap();
    assert_eq!(light.steps.len(), 10);
    let (actions, kiosk_light) = drawn(&h, &s).await;
    let first = film(&model, &actions, &kiosk_light, 1);
    let frontal = image::load_from_memory(&first[0].0).unwrap().into_rgb8();
    let mut c = claims(&s, &h.kiosk);
    let e = engine.analyze(&frontal).unwrap().embedding.unwrap();
    let bytes: Vec<u8> = e.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
    c.face_embedding = Some(STANDARD.encode(bytes));
    let (_, body) = h.attest(&s, &c, &h.kiosk).await;
    assert_eq!(body["outcome"], "approved", "{body}");
    let (status, body) = h
        .reset(body["grant"].as_str().unwrap_or_default(), NEW_PASSWORD)
        .await;
    assert_eq!(status, 200, "{body}");

    let laptop = h.self_register().await;
    // A capture lit by its own session's light: approved. Each session draws a new light
    // and moves at random, and a genuine capture is refused now and then (the BPCER in
    // docs/liveness.md), so up to three sessions are tried.
    let mut outcomes = Vec::new();
    for seed in [2u64, 4, 6] {
        let s = h.session(AVERY, &laptop).await;
        let (actions, light) = drawn(&h, &s).await;
        let (outcome, reasons) = h
            .send_capture(&s, &laptop, &film(&model, &actions, &light, seed))
            .await;
        let approved = outcome == "approved";
        outcomes.push((outcome, reasons));
        if approved {
            break;
        }
    }
    assert!(
        outcomes.iter().any(|(o, _)| o == "approved"),
        "{outcomes:?}"
    );

    // A capture made for another session (its moves, its light), brought to this one
    // with the moves made to match: refused on the light, and said neutrally.
    let s = h.session(AVERY, &laptop).await;
    let other = h.session(AVERY, &laptop).await;
    let (actions, _) = drawn(&h, &s).await;
    let (_, other_light) = drawn(&h, &other).await;
    let answer = h
        .send_capture_answer(&s, &laptop, &film(&model, &actions, &other_light, 3))
        .await;
    let (outcome, public) = (answer["outcome"].clone(), answer["reasons"].clone());
    let reasons = h.last_decision().await["reasons"].clone();
    assert_eq!(outcome, "rejected", "{reasons}");
    assert!(
        reasons
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "liveness_light_mismatch"),
        "{reasons}"
    );
    // The person is told only the neutral sentence, not which check fired.
    assert_eq!(public, json!(["liveness_not_confirmed"]), "{public}");
}
