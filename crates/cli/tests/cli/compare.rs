use crate::{compare, face, json_exiting, json_of};

#[test]
fn same_person_exits_0_with_the_documented_json() {
    let out = compare(&face("ardern-1"), &face("ardern-2"), true);
    let json = json_exiting(&out, 0);
    assert_eq!(json["same_person"], true);
    let score = json["score"].as_f64().unwrap();
    let threshold = json["threshold"].as_f64().unwrap();
    assert!(score >= threshold, "{score} < {threshold}");
    assert_eq!(json["reasons"], serde_json::json!([]));
    for image in ["image_a", "image_b"] {
        let report = &json[image];
        assert_eq!(report["faces_found"], 1);
        assert_eq!(report["face"]["bbox"].as_array().unwrap().len(), 4);
        assert_eq!(report["face"]["landmarks"].as_array().unwrap().len(), 5);
        for key in [
            "sharpness",
            "brightness",
            "yaw_deg",
            "pitch_deg",
            "face_width_px",
        ] {
            assert!(report["quality"][key].is_number(), "{image}.quality.{key}");
        }
    }
    assert_eq!(json["models"]["face_detector"].as_str().unwrap().len(), 64);
    // Nothing biometric leaves the engine.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("embedding"));
}

#[test]
fn different_people_exit_1_with_face_mismatch() {
    let out = compare(&face("macron-2"), &face("sunak-1"), true);
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out);
    assert_eq!(json["same_person"], false);
    assert_eq!(json["reasons"], serde_json::json!(["face_mismatch"]));
    assert!(json["score"].as_f64().unwrap() < json["threshold"].as_f64().unwrap());
}

#[test]
fn human_output_names_the_verdict_and_the_guidance() {
    let out = compare(&face("obama-1"), &face("obama-2"), false);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("SAME PERSON: similarity"), "{text}");

    let out = compare(&face("obama-1"), &face("biden-1"), false);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("NOT THE SAME PERSON"), "{text}");
    assert!(text.contains("face_mismatch: The two faces do not appear to be the same person."));
}

#[test]
fn one_thread_and_two_threads_agree() {
    let run = |threads: &str| {
        let out = crate::reclaim(&[
            "compare",
            face("obama-3").to_str().unwrap(),
            face("obama-4").to_str().unwrap(),
            "--json",
            "--threads",
            threads,
        ]);
        assert_eq!(out.status.code(), Some(0));
        json_of(&out)["score"].as_f64().unwrap()
    };
    assert_eq!(run("1"), run("2"));
}
