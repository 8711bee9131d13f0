//! `reclaim verify`: every way the input can be wrong. (Its decisions on a rendered
//! passport and a filmed selfie, and `reclaim enroll`, are checked by reclaim-lab's tests,
//! which link the renderers.)

use crate::{face, json_exiting, reclaim, Scratch};

const CHALLENGE: &str = "left,right,center";

fn verify(args: &[&str]) -> std::process::Output {
    let mut all = vec!["verify", "--today", "2026-11-26", "--json"];
    all.extend_from_slice(args);
    reclaim(&all)
}

/// Exit 2, a JSON error with `code`, and one line on stderr.
fn assert_bad_input(args: &[&str], code: &str) {
    let out = verify(args);
    let json = json_exiting(&out, 2);
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
    // A screen light that is unsafe to show (faster than 350 ms a colour) or unknown.
    for light in ["cyan:200,amber:400", "red:400", "cyan:400,cyan:400"] {
        assert_bad_input(
            &[
                "--id",
                a,
                "--challenge",
                CHALLENGE,
                "--light",
                light,
                "--selfie",
                a,
                a,
            ],
            "challenge_invalid",
        );
    }
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
