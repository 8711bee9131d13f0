//! `reclaim-lab eval-liveness --captures DIR`: an operator's labelled recordings judged as
//! the server would judge them. The recordings here are generated (a lit head from a real
//! photo), written in the documented folder format, so the command's reading of the
//! format and its verdicts can be checked.

use std::path::Path;

use reclaim_docgen::Rng;
use reclaim_facegen::{genuine_lit, sequence, HeadModel, Room, Scene, ScreenLight, SkinTone};
use reclaim_fixtures::scenes::face_of;
use reclaim_protocol::wire::challenge::{draw, ChallengeSpec, DrawnChallenge};
use reclaim_protocol::ChallengeAction;
use reclaim_verify::{EngineOptions, FaceEngine};

use crate::{data, json_of, lab, Scratch};

fn drawn(seed: u64) -> DrawnChallenge {
    let mut rng = Rng::new(seed);
    draw(&ChallengeSpec::default(), &mut || {
        Some(rng.next_u64() as u32)
    })
    .unwrap()
}

/// A capture folder: `frames` of `session`'s moves lit by `lit_by`'s light, judged
/// against `session`'s challenge and light, labelled `label`.
fn write_capture(
    dir: &Path,
    name: &str,
    label: &str,
    session: &DrawnChallenge,
    lit_by: &DrawnChallenge,
) {
    let engine = FaceEngine::load(EngineOptions::default()).unwrap();
    let bytes = std::fs::read(data("faces/ardern-1.jpg")).unwrap();
    let (photo, face) = face_of(&engine, &bytes).unwrap();
    let model = HeadModel::new(&photo, face.landmarks, face.bbox).unwrap();
    let mut actions: Vec<sequence::Action> = session
        .actions
        .iter()
        .map(|a| a.as_str().parse().unwrap())
        .collect();
    actions.extend([sequence::Action::Center; 3]);
    let mut rng = Rng::new(7);
    let mut scene = Scene::room(Room::Office, &mut rng);
    scene.skin = Some(SkinTone::III);
    let light = lit_by.light.as_ref().unwrap();
    let screen = ScreenLight::from_steps(&light.linear_steps(), 300.0);
    let lit = genuine_lit(&model, &actions, 5.0, &screen, &scene, &mut rng).unwrap();
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let mut frames = Vec::new();
    for (i, f) in lit.frames.iter().enumerate() {
        let file = format!("{i:05}.jpg");
        f.image.save(folder.join(&file)).unwrap();
        frames.push(serde_json::json!({"file": file, "t_ms": f.timestamp_ms}));
    }
    let challenge: Vec<&str> = session.actions.iter().map(|a| a.as_str()).collect();
    let manifest = serde_json::json!({
        "label": label,
        "challenge": challenge,
        "light": session.light.as_ref().unwrap().join(),
        "frames": frames,
    });
    std::fs::write(folder.join("capture.json"), manifest.to_string()).unwrap();
}

#[test]
fn labelled_captures_are_judged_as_the_server_would() {
    let dir = Scratch::new("captures");
    let (mut mine, other) = (drawn(11), drawn(12));
    // The moves most tests use; the light as the server drew it.
    mine.actions = vec![
        ChallengeAction::Left,
        ChallengeAction::Right,
        ChallengeAction::Center,
    ];
    write_capture(&dir.0, "a-genuine", "genuine", &mine, &mine);
    // The same recording brought to a session that drew another light.
    let replayed = DrawnChallenge {
        actions: mine.actions.clone(),
        light: other.light.clone(),
    };
    write_capture(&dir.0, "b-replay", "replay", &replayed, &mine);
    let out = lab(&[
        "eval-liveness",
        "--captures",
        dir.0.to_str().unwrap(),
        "--json",
    ]);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    let captures = json["captures"].as_array().unwrap();
    assert_eq!(captures.len(), 2);
    assert_eq!(captures[0]["live"], true, "{json:#}");
    assert_eq!(captures[1]["live"], false);
    assert!(captures[1]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "liveness_light_mismatch"));
    assert_eq!(json["labels"]["genuine"]["error_rate_pct"], 0.0);
    assert_eq!(json["labels"]["replay"]["error_rate_pct"], 0.0);
}

#[test]
fn a_manifest_cannot_point_outside_its_folder() {
    let dir = Scratch::new("captures-bad");
    let folder = dir.0.join("x");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("capture.json"),
        r#"{"label":"genuine","challenge":["left","center"],"frames":[{"file":"../secret.jpg","t_ms":0}]}"#,
    )
    .unwrap();
    let out = lab(&[
        "eval-liveness",
        "--captures",
        dir.0.to_str().unwrap(),
        "--json",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("not a plain name"), "{text}");
    // An empty folder is an error, not an empty success.
    let empty = Scratch::new("captures-empty");
    let out = lab(&[
        "eval-liveness",
        "--captures",
        empty.0.to_str().unwrap(),
        "--json",
    ]);
    assert_ne!(out.status.code(), Some(0));
}
