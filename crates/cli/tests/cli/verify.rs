//! `reclaim verify` and `reclaim enroll`: the decision's exit codes and JSON, and every way
//! the input can be wrong.

use std::path::PathBuf;

use reclaim_docgen::portrait::printed_portrait;
use reclaim_docgen::sample::random_spec;
use reclaim_docgen::{photograph, render, DocKind, Level, Rng};
use reclaim_document::Date;
use reclaim_facegen::{sequence, HeadModel};

use crate::{face, json_of, reclaim, Scratch};

const CHALLENGE: &str = "left,right,center";

/// The face box and landmarks of `name`, from `reclaim compare --json`.
fn face_geometry(name: &str) -> ([f32; 4], [[f32; 2]; 5]) {
    let path = face(name);
    let p = path.to_str().unwrap();
    let out = json_of(&reclaim(&["compare", p, p, "--json"]));
    let f = &out["image_a"]["face"];
    let n = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
    let bbox: Vec<f32> = f["bbox"].as_array().unwrap().iter().map(n).collect();
    let marks: Vec<[f32; 2]> = f["landmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| [n(&p[0]), n(&p[1])])
        .collect();
    (
        [bbox[0], bbox[1], bbox[2], bbox[3]],
        [marks[0], marks[1], marks[2], marks[3], marks[4]],
    )
}

/// A genuine selfie sequence of `name` answering CHALLENGE, written as JPEG frames.
fn selfie_frames(dir: &Scratch, name: &str, seed: u64) -> (Vec<PathBuf>, String) {
    let (bbox, landmarks) = face_geometry(name);
    let photo = image::open(face(name)).unwrap().into_rgb8();
    let model = HeadModel::new(&photo, landmarks, bbox).unwrap();
    let actions = sequence::parse_challenge(CHALLENGE).unwrap();
    let frames =
        sequence::genuine(&model, &actions, sequence::DEFAULT_FPS, &mut Rng::new(seed)).unwrap();
    let mut paths = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let path = dir.0.join(format!("{name}-{seed}-{i:02}.jpg"));
        f.image.save(&path).unwrap();
        paths.push(path);
    }
    let times: Vec<String> = frames.iter().map(|f| f.timestamp_ms.to_string()).collect();
    (paths, times.join(","))
}

/// A passport page whose portrait is `name`, photographed mildly.
fn passport(dir: &Scratch, name: &str) -> PathBuf {
    let (bbox, _) = face_geometry(name);
    let photo = image::open(face(name)).unwrap().into_rgb8();
    passport_with(dir, name, printed_portrait(&photo, bbox, 350, 450, None))
}

fn passport_with(dir: &Scratch, name: &str, portrait: image::RgbImage) -> PathBuf {
    let mut rng = Rng::new(21);
    let spec = random_spec(
        DocKind::Td3,
        &mut rng,
        portrait,
        Date::new(2026, 11, 26).unwrap(),
    );
    let doc = render(&spec).unwrap();
    let d = Level::Mild.degradation(&mut rng, 1600, 1200);
    let jpeg = photograph(&doc.front, &d, &mut rng).unwrap().jpeg.unwrap();
    dir.file(&format!("passport-{name}.jpg"), &jpeg)
}

fn strs(paths: &[PathBuf]) -> Vec<&str> {
    paths.iter().map(|p| p.to_str().unwrap()).collect()
}

fn verify(args: &[&str]) -> std::process::Output {
    let mut all = vec!["verify", "--today", "2026-11-26", "--json"];
    all.extend_from_slice(args);
    reclaim(&all)
}

fn reasons(out: &serde_json::Value) -> Vec<String> {
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
    let (frames, times) = selfie_frames(&dir, "ardern-1", 1);
    let mut args = vec![
        "--id",
        id.to_str().unwrap(),
        "--challenge",
        CHALLENGE,
        "--timestamps",
        &times,
        "--selfie",
    ];
    args.extend(strs(&frames));
    let out = verify(&args);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{json:#}");
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
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("embedding"), "{text}");

    // The same selfie against someone else's ID: the face does not match.
    let other = passport(&dir, "hopper-1");
    args[1] = other.to_str().unwrap();
    let out = verify(&args);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert!(reasons(&json).contains(&"face_mismatch".to_string()));
}

#[test]
fn an_id_whose_portrait_has_no_face_is_never_a_match() {
    let dir = Scratch::new("verify-no-portrait");
    let blank = image::RgbImage::from_pixel(350, 450, image::Rgb([200, 200, 205]));
    let id = passport_with(&dir, "blank", blank);
    let (frames, times) = selfie_frames(&dir, "ardern-1", 4);
    let mut args = vec![
        "--id",
        id.to_str().unwrap(),
        "--challenge",
        CHALLENGE,
        "--timestamps",
        &times,
        "--selfie",
    ];
    args.extend(strs(&frames));
    let out = verify(&args);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{json:#}");
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
    let out = reclaim(&human);
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
    let out = reclaim(&["enroll", face("ardern-2").to_str().unwrap(), "--out", t]);
    assert_eq!(out.status.code(), Some(0));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&template).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the template is readable by others");
    }
    // Never over an existing file.
    let out = reclaim(&["enroll", face("hopper-1").to_str().unwrap(), "--out", t]);
    assert_eq!(out.status.code(), Some(2));

    let (frames, times) = selfie_frames(&dir, "ardern-1", 2);
    let mut args = vec![
        "--enrolled",
        t,
        "--challenge",
        CHALLENGE,
        "--timestamps",
        &times,
        "--selfie",
    ];
    args.extend(strs(&frames));
    let out = verify(&args);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(json["face_match"][0]["against"], "enrolled_template");

    // Someone else's live selfie against that template.
    let (frames, times) = selfie_frames(&dir, "hopper-1", 3);
    let mut args = vec![
        "--enrolled",
        t,
        "--challenge",
        CHALLENGE,
        "--timestamps",
        &times,
        "--selfie",
    ];
    args.extend(strs(&frames));
    let out = verify(&args);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert!(reasons(&json).contains(&"face_mismatch".to_string()));
}

/// Exit 2, a JSON error with `code`, and one line on stderr.
fn assert_bad_input(args: &[&str], code: &str) {
    let out = verify(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = json_of(&out);
    assert_eq!(json["error"]["code"], code, "{args:?}: {json}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let dir = Scratch::new("verify-bad");
    let a = face("ardern-1");
    let a = a.to_str().unwrap();
    let b = face("hopper-1");
    let b = b.to_str().unwrap();
    let text = dir.file("notes.jpg", b"these are not pixels");
    let text = text.to_str().unwrap();
    let empty = dir.file("empty.jpg", b"");
    let empty = empty.to_str().unwrap();
    let junk_template = dir.file("junk.template", b"{\"format\":\"something else\"}");
    let junk_template = junk_template.to_str().unwrap();
    let seen = dir.file("seen.txt", b"0123456789abcdef\nnot a hash\n");
    let seen = seen.to_str().unwrap();

    // A frame that is not an image, or is empty.
    assert_bad_input(
        &["--id", a, "--challenge", CHALLENGE, "--selfie", a, text],
        "image_unsupported_format",
    );
    assert_bad_input(
        &["--id", a, "--challenge", CHALLENGE, "--selfie", empty, a],
        "image_empty",
    );
    // Frames of different sizes.
    assert_bad_input(
        &["--id", a, "--challenge", CHALLENGE, "--selfie", a, b],
        "frame_sizes_differ",
    );
    // Timestamps out of order, or not one per frame.
    assert_bad_input(
        &[
            "--id",
            a,
            "--challenge",
            CHALLENGE,
            "--timestamps",
            "200,100",
            "--selfie",
            a,
            a,
        ],
        "timestamps_out_of_order",
    );
    assert_bad_input(
        &[
            "--id",
            a,
            "--challenge",
            CHALLENGE,
            "--timestamps",
            "100",
            "--selfie",
            a,
            a,
        ],
        "timestamps_invalid",
    );
    // An unknown action, an empty challenge.
    assert_bad_input(
        &["--id", a, "--challenge", "left,jump", "--selfie", a, a],
        "unknown_action",
    );
    assert_bad_input(
        &["--id", a, "--challenge", "", "--selfie", a, a],
        "challenge_invalid",
    );
    // Nothing to compare the selfie with; a file that is not a template.
    assert_bad_input(
        &["--challenge", CHALLENGE, "--selfie", a, a],
        "reference_missing",
    );
    assert_bad_input(
        &[
            "--enrolled",
            junk_template,
            "--challenge",
            CHALLENGE,
            "--selfie",
            a,
            a,
        ],
        "template_invalid",
    );
    // A malformed list of earlier face hashes.
    assert_bad_input(
        &[
            "--id",
            a,
            "--challenge",
            CHALLENGE,
            "--seen",
            seen,
            "--selfie",
            a,
            a,
        ],
        "input_invalid",
    );
    // An operator's passive model that is misconfigured, or not the file it claims.
    let bad_config = dir.file("passive-bad.json", br#"{"path":"m.onnx"}"#);
    dir.file("m.onnx", b"not really a model");
    let wrong_digest = dir.file(
        "passive.json",
        format!(
            r#"{{"path":"m.onnx","sha256":"{}","input_size":[80,80],"crop_scale":2.7,"live_class":1,"min_live_probability":0.6}}"#,
            "0".repeat(64)
        )
        .as_bytes(),
    );
    for (config, code) in [
        (bad_config, "passive_model_invalid"),
        (wrong_digest, "model_digest_mismatch"),
    ] {
        assert_bad_input(
            &[
                "--id",
                a,
                "--challenge",
                CHALLENGE,
                "--passive-model",
                config.to_str().unwrap(),
                "--selfie",
                a,
                a,
            ],
            code,
        );
    }
    // A frame beyond 4K, and a capture whose frames together are too many pixels.
    let wide = dir.0.join("wide.png");
    image::RgbImage::new(4000, 8).save(&wide).unwrap();
    let wide = wide.to_str().unwrap();
    assert_bad_input(
        &["--id", a, "--challenge", CHALLENGE, "--selfie", wide, wide],
        "image_too_large",
    );
    let big = dir.0.join("big.png");
    image::RgbImage::new(3840, 2160).save(&big).unwrap();
    let big = big.to_str().unwrap();
    let mut args = vec!["--id", a, "--challenge", CHALLENGE, "--selfie"];
    args.extend(std::iter::repeat_n(big, 15));
    assert_bad_input(&args, "capture_too_large");
    // A real photo cut in half is corrupt, as a frame or as the ID: not a half-grey
    // picture judged `blurry` (exit 1), as it was.
    let whole = std::fs::read(face("ardern-1")).unwrap();
    let half = dir.file("half.jpg", &whole[..whole.len() / 2]);
    let half = half.to_str().unwrap();
    assert_bad_input(
        &["--id", a, "--challenge", CHALLENGE, "--selfie", a, half, a],
        "image_corrupt",
    );
    assert_bad_input(
        &["--id", half, "--challenge", CHALLENGE, "--selfie", a, a],
        "image_corrupt",
    );
    // No frames at all is a usage error.
    let out = reclaim(&["verify", "--id", a, "--challenge", CHALLENGE]);
    assert_eq!(out.status.code(), Some(2));
}
