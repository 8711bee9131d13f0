//! `reclaim verify` and `reclaim enroll`, the production commands, on a rendered passport
//! and a filmed selfie: the decision's exit codes and JSON. Here rather than with
//! reclaim-cli's tests because the renderers are linked here, not there; every way the
//! input can be wrong, which needs no rendering, is checked there.

use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use image::RgbImage;
use reclaim_docgen::portrait::printed_portrait;
use reclaim_docgen::sample::random_spec;
use reclaim_docgen::{DocKind, Rng};
use reclaim_document::Date;
use reclaim_fixtures::scenes::{face_of, filmed, photographed};
use reclaim_verify::face::DetectedFace;
use reclaim_verify::{EngineOptions, FaceEngine};
use serde_json::Value;

use crate::{data, json_of, run_reclaim, Scratch};

const CHALLENGE: &str = "left,right,center";

fn face(name: &str) -> PathBuf {
    data(&format!("faces/{name}.jpg"))
}

/// A sample photo and the face the shipped engine finds in it.
fn sample(name: &str) -> (RgbImage, DetectedFace) {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| FaceEngine::load(EngineOptions::default()).unwrap());
    face_of(engine, &std::fs::read(face(name)).unwrap()).unwrap()
}

/// A selfie capture's frame files and their `--timestamps`.
struct Selfie {
    frames: Vec<PathBuf>,
    times: String,
}

/// `name` filmed answering CHALLENGE honestly, written as JPEG frames.
fn live_selfie(dir: &Scratch, name: &str, seed: u64) -> Selfie {
    let (photo, face) = sample(name);
    let frames = filmed(&photo, &face, CHALLENGE, &mut Rng::new(seed)).unwrap();
    let mut paths = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let path = dir.0.join(format!("{name}-{seed}-{i:02}.jpg"));
        f.image.save(&path).unwrap();
        paths.push(path);
    }
    let times: Vec<String> = frames.iter().map(|f| f.timestamp_ms.to_string()).collect();
    Selfie {
        frames: paths,
        times: times.join(","),
    }
}

/// A passport page whose portrait is `name`, photographed mildly.
fn passport(dir: &Scratch, name: &str) -> PathBuf {
    let (photo, face) = sample(name);
    passport_with(
        dir,
        name,
        printed_portrait(&photo, face.bbox, 350, 450, None),
    )
}

fn passport_with(dir: &Scratch, name: &str, portrait: RgbImage) -> PathBuf {
    let mut rng = Rng::new(21);
    let today = Date::new(2026, 11, 26).unwrap();
    let spec = random_spec(DocKind::Td3, &mut rng, portrait, today);
    let (front, _) = photographed(&spec, &mut rng).unwrap();
    dir.file(&format!("passport-{name}.jpg"), &front)
}

/// `reclaim verify --json` with `args`, on the day the passports are valid.
fn verify(args: &[&str]) -> Output {
    let mut all = vec!["verify", "--today", "2026-11-26", "--json"];
    all.extend_from_slice(args);
    run_reclaim(&all)
}

/// `selfie` verified against `reference` (`--id FILE` or `--enrolled FILE`): the exit
/// code and the JSON.
fn verify_live(reference: [&str; 2], selfie: &Selfie) -> (Option<i32>, Value) {
    let mut args = vec![reference[0], reference[1]];
    args.extend(["--challenge", CHALLENGE, "--timestamps", &selfie.times]);
    args.push("--selfie");
    args.extend(selfie.frames.iter().map(|p| p.to_str().unwrap()));
    let out = verify(&args);
    (out.status.code(), json_of(&out))
}

fn reasons(out: &Value) -> Vec<String> {
    out["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_id_and_a_live_selfie_of_the_same_person_are_verified() {
    let dir = Scratch::new("verify-ok");
    let id = passport(&dir, "ardern-2");
    let selfie = live_selfie(&dir, "ardern-1", 1);
    let (code, json) = verify_live(["--id", id.to_str().unwrap()], &selfie);
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(json["decision"], "verified");
    assert!(reasons(&json).is_empty());
    let m = &json["face_match"][0];
    assert_eq!(m["against"], "id_portrait");
    assert!(m["score"].as_f64().unwrap() >= m["threshold"].as_f64().unwrap());
    assert_eq!(json["liveness"]["skipped"], false);
    assert_eq!(json["liveness"]["live"], true);
    assert!(json["liveness"]["checks"].as_array().unwrap().len() >= 5);
    assert_eq!(json["document"]["kind"], "td3");
    assert!(json["timings_ms"]["total"].as_f64().unwrap() > 0.0);
    // Nothing biometric in the output: no embedding, no template.
    assert!(!json.to_string().contains("embedding"), "{json}");

    // The same selfie against someone else's ID: the face does not match.
    let other = passport(&dir, "hopper-1");
    let (code, json) = verify_live(["--id", other.to_str().unwrap()], &selfie);
    assert_eq!(code, Some(1), "{json:#}");
    assert!(reasons(&json).contains(&"face_mismatch".to_string()));
}

#[test]
fn an_id_whose_portrait_has_no_face_is_never_a_match() {
    let dir = Scratch::new("verify-no-portrait");
    let blank = RgbImage::from_pixel(350, 450, image::Rgb([200, 200, 205]));
    let id = passport_with(&dir, "blank", blank);
    let selfie = live_selfie(&dir, "ardern-1", 4);
    let (code, json) = verify_live(["--id", id.to_str().unwrap()], &selfie);
    assert_eq!(code, Some(1), "{json:#}");
    let reasons = reasons(&json);
    assert!(
        reasons.contains(&"portrait_missing".to_string()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"face_not_compared".to_string()),
        "{reasons:?}"
    );
    assert!(
        !reasons.contains(&"face_mismatch".to_string()),
        "{reasons:?}"
    );
    assert!(json["face_match"][0]["score"].is_null());
}

/// Without liveness nothing proves a live person: `--skip-liveness` never exits 0 and never
/// says `verified`, whatever the face match found. (Before, it exited 0 with
/// `"decision": "verified"` and printed VERIFIED.)
#[test]
fn one_selfie_cannot_prove_liveness_and_skipping_it_is_never_verified() {
    let dir = Scratch::new("verify-one");
    let id = passport(&dir, "ardern-2");
    let selfie = face("ardern-1");
    let base = [
        "--id",
        id.to_str().unwrap(),
        "--selfie",
        selfie.to_str().unwrap(),
    ];
    let mut args = base.to_vec();
    args.extend(["--challenge", CHALLENGE]);
    let out = verify(&args);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert!(reasons(&json).contains(&"liveness_insufficient_frames".to_string()));

    let mut args = base.to_vec();
    args.push("--skip-liveness");
    let out = verify(&args);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(3), "{json:#}");
    assert_eq!(json["decision"], "verified_without_liveness", "{json:#}");
    assert!(reasons(&json).is_empty(), "{json:#}");
    assert_eq!(json["liveness"]["skipped"], true);
    assert!(json["liveness"]["note"]
        .as_str()
        .unwrap()
        .contains("testing only"));
    // The human form does not say VERIFIED either.
    let mut human = vec!["verify", "--today", "2026-11-26"];
    human.extend_from_slice(&args);
    let out = run_reclaim(&human);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(!first.contains("VERIFIED"), "{text}");
    assert!(first.contains("LIVENESS SKIPPED"), "{text}");

    // Someone else's face without liveness: rejected, exit 1, as with it.
    let other = face("hopper-1");
    let args = [
        "--id",
        id.to_str().unwrap(),
        "--selfie",
        other.to_str().unwrap(),
        "--skip-liveness",
    ];
    let out = verify(&args);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert_eq!(json["decision"], "rejected");
}

#[test]
fn a_returning_user_is_verified_against_the_enrolled_template() {
    let dir = Scratch::new("verify-enrolled");
    let template = dir.0.join("ardern.template");
    let t = template.to_str().unwrap();
    let out = run_reclaim(&["enroll", face("ardern-2").to_str().unwrap(), "--out", t]);
    assert_eq!(out.status.code(), Some(0));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&template).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the template is readable by others");
    }
    // Never over an existing file.
    let out = run_reclaim(&["enroll", face("hopper-1").to_str().unwrap(), "--out", t]);
    assert_eq!(out.status.code(), Some(2));

    let (code, json) = verify_live(["--enrolled", t], &live_selfie(&dir, "ardern-1", 2));
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(json["face_match"][0]["against"], "enrolled_template");

    // Someone else's live selfie against that template.
    let (code, json) = verify_live(["--enrolled", t], &live_selfie(&dir, "hopper-1", 3));
    assert_eq!(code, Some(1), "{json:#}");
    assert!(reasons(&json).contains(&"face_mismatch".to_string()));
}
