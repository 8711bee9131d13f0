//! Every code the engine, the server and the app can put in front of the person has a
//! sentence and advice in the UI's translation file: a refusal never shows a raw code.

use reclaim_client::error::{APP_CODES, SERVER_CODES};
use reclaim_client::flow::Flow;
use reclaim_protocol::reasons::{public_reason, LIVENESS_NOT_CONFIRMED};
use reclaim_verify::liveness::LivenessReason;
use serde_json::Value;

fn strings() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/i18n/en.json");
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Looks up `group.code` (nested objects or a flat dotted key).
fn entry<'a>(strings: &'a Value, group: &str, code: &str) -> Option<&'a Value> {
    strings
        .get(group)
        .and_then(|g| g.get(code))
        .or_else(|| strings.get(format!("{group}.{code}")))
}

fn missing(strings: &Value, group: &str, codes: &[&str], with_advice: bool) -> Vec<String> {
    codes
        .iter()
        .filter(|code| {
            let Some(e) = entry(strings, group, code) else {
                return true;
            };
            let text = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.trim().is_empty())
            };
            if with_advice {
                !(text("message") && text("advice"))
            } else {
                !(e.as_str().is_some_and(|s| !s.trim().is_empty()) || text("message"))
            }
        })
        .map(|c| format!("{group}.{c}"))
        .collect()
}

/// The reasons a refusal can carry: the engine's (capture quality, liveness, document),
/// and the server's own after it maps identity failures to one neutral code.
fn refusal_reasons() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = vec![
        "no_face",
        "multiple_faces",
        "face_too_small",
        "face_cut_off",
        "blurry",
        "too_dark",
        "too_bright",
        "pose_out_of_range",
        "face_mismatch",
        "face_not_compared",
        "reference_missing",
        "document_not_found",
        "mrz_unreadable",
        "mrz_check_digit_failed",
        "mrz_field_invalid",
        "mrz_uncertain",
        "barcode_invalid",
        "mrz_barcode_mismatch",
        "document_printed_mismatch",
        "document_expired",
        "portrait_missing",
        "camera_not_allowed",
        "model_not_allowed",
        "face_embedding_invalid",
        "face_match_borderline",
        "document_missing",
        "document_checks_failed",
        "document_name_partial",
        "identity_not_confirmed",
        "device_rejected",
        "device_not_trusted",
        "self_service_locked",
        "evidence_not_reverified",
    ];
    // The person meets a liveness reason in its public form only.
    codes.extend(
        LivenessReason::ALL
            .iter()
            .map(|r| public_reason(r.as_str())),
    );
    codes
}

const DIRECTORY_CODES: &[&str] = &[
    "directory_password_too_short",
    "directory_password_too_young",
    "directory_password_in_history",
    "directory_password_quality",
    "directory_password_policy",
    "directory_unavailable",
    "directory_timeout",
    "directory_user_not_found",
    "directory_permission_denied",
    "directory_action_unsupported",
    "directory_protocol_error",
    "directory_config_invalid",
];

#[test]
fn every_code_the_person_can_meet_has_words_and_advice() {
    let s = strings();
    let mut gaps = missing(&s, "reason", &refusal_reasons(), true);
    gaps.extend(missing(&s, "error", APP_CODES, true));
    gaps.extend(missing(&s, "error", SERVER_CODES, true));
    gaps.extend(missing(&s, "error", DIRECTORY_CODES, true));
    gaps.extend(missing(&s, "error", &["unexpected"], true));
    assert!(gaps.is_empty(), "ui/i18n/en.json lacks: {gaps:#?}");
}

#[test]
fn every_prompt_and_quality_code_of_the_live_guidance_has_words() {
    let s = strings();
    let mut gaps = missing(
        &s,
        "prompt",
        &[
            "look_center",
            "turn_left",
            "turn_right",
            "look_up",
            "look_down",
            "hold_card",
            "hold_still",
            "scan_qr",
        ],
        false,
    );
    gaps.extend(missing(
        &s,
        "quality",
        &[
            "no_face",
            "multiple_faces",
            "face_too_small",
            "face_cut_off",
            "blurry",
            "too_dark",
            "too_bright",
            "pose_out_of_range",
            "mrz_unreadable",
            "card_not_found",
            "document_not_found",
            "mrz_check_digit_failed",
            "mrz_field_invalid",
            "mrz_uncertain",
            "barcode_invalid",
            "mrz_barcode_mismatch",
            "document_printed_mismatch",
            "document_expired",
            "portrait_missing",
        ],
        false,
    ));
    assert!(gaps.is_empty(), "ui/i18n/en.json lacks: {gaps:#?}");
}

/// A spoof caught by the server or by the device's own engine reads as one neutral
/// sentence: the UI has no sentence for any liveness check that says how a spoof was
/// caught, no reason sentence names one, and the app shows its own engine's refusals in
/// their public form.
#[test]
fn spoof_reasons_read_as_one_neutral_sentence() {
    let s = strings();
    assert!(
        missing(&s, "reason", &[LIVENESS_NOT_CONFIRMED], true).is_empty(),
        "reason.{LIVENESS_NOT_CONFIRMED} has words and advice"
    );
    let spoof: Vec<&str> = LivenessReason::ALL
        .iter()
        .map(|r| r.as_str())
        .filter(|c| public_reason(c) == LIVENESS_NOT_CONFIRMED)
        .collect();
    for c in [
        "liveness_wrong_action",
        "liveness_planar_motion",
        "liveness_replayed_frames",
        "liveness_static_frames",
        "liveness_face_changed",
    ] {
        assert!(spoof.contains(&c), "{c} is a spoof check");
    }
    let telling: Vec<&&str> = spoof
        .iter()
        .filter(|c| entry(&s, "reason", c).is_some())
        .collect();
    assert!(
        telling.is_empty(),
        "ui/i18n/en.json names spoof checks: {telling:?}"
    );
    // Words that would say which check fired.
    let reasons = s["reason"].as_object().unwrap();
    for (code, e) in reasons {
        let text = format!("{} {}", e["message"], e["advice"]).to_lowercase();
        for tell in [
            "flat picture",
            "real head",
            "used before",
            "stopped changing",
            "natural",
            "jump",
            "different face",
            "didn't match the prompt",
            "head movements",
        ] {
            assert!(!text.contains(tell), "reason.{code} says \"{tell}\"");
        }
    }
    let mut flow = Flow::new(false, 90);
    flow.refused_locally(spoof.iter().map(|c| c.to_string()).collect());
    assert_eq!(flow.state().reasons, [LIVENESS_NOT_CONFIRMED]);
}
