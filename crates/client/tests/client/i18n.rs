//! Every code the engine, the server and the app can put in front of the person has a
//! sentence and advice in the UI's translation file: a refusal never shows a raw code.

use reclaim_client::flow::Flow;
use reclaim_protocol::codes::{Code, Group};
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

/// Whether a group's entry has its words: a message and advice for reasons and errors,
/// a message for live hints and password problems.
fn has_words(e: &Value, group: Group) -> bool {
    let text = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    match group {
        Group::Reason | Group::Error => text("message") && text("advice"),
        Group::Quality | Group::Password => {
            e.as_str().is_some_and(|s| !s.trim().is_empty()) || text("message")
        }
    }
}

fn missing(strings: &Value, group: &str, codes: &[&str], with_advice: bool) -> Vec<String> {
    codes
        .iter()
        .filter(|code| {
            let Some(e) = entry(strings, group, code) else {
                return true;
            };
            !has_words(
                e,
                if with_advice {
                    Group::Reason
                } else {
                    Group::Quality
                },
            )
        })
        .map(|c| format!("{group}.{c}"))
        .collect()
}

/// The words each group keeps besides codes: what the UI shows for a code it does not
/// know (`unexpected`), the live hint when no code applies, and for a password the
/// directory refused without detail.
const FALLBACKS: &[(&str, &str)] = &[
    ("quality", "hold_still"),
    ("reason", "unexpected"),
    ("error", "unexpected"),
    ("password", "policy"),
];

/// Every code the registry lets the person see has words in each group it names.
#[test]
fn every_code_the_person_can_meet_has_words_and_advice() {
    let s = strings();
    let mut gaps = Vec::new();
    for &code in Code::ALL {
        for &group in code.groups() {
            let key = group.entry_key(code);
            if !entry(&s, group.key(), key).is_some_and(|e| has_words(e, group)) {
                gaps.push(format!("{}.{key}", group.key()));
            }
        }
    }
    for (group, key) in FALLBACKS {
        if entry(&s, group, key).is_none() {
            gaps.push(format!("{group}.{key}"));
        }
    }
    assert!(gaps.is_empty(), "ui/i18n/en.json lacks: {gaps:#?}");
}

/// And the other way: every entry of a code group is a code the registry shows in that
/// group. An entry no code defines is dead words, or worse, words for a code the person
/// must never see (a spoof check, "no such account").
#[test]
fn every_entry_is_a_code_the_registry_shows_there() {
    let s = strings();
    let mut strays = Vec::new();
    for group in Group::ALL {
        let Some(entries) = s.get(group.key()).and_then(Value::as_object) else {
            strays.push(format!("{} is not a group", group.key()));
            continue;
        };
        for key in entries.keys() {
            let defined = Code::ALL
                .iter()
                .any(|&c| c.in_group(group) && group.entry_key(c) == key)
                || FALLBACKS.contains(&(group.key(), key.as_str()));
            if !defined {
                strays.push(format!("{}.{key}", group.key()));
            }
        }
    }
    assert!(
        strays.is_empty(),
        "ui/i18n/en.json holds words no code needs: {strays:#?}"
    );
}

#[test]
fn every_prompt_of_the_live_guidance_has_words() {
    let s = strings();
    let gaps = missing(
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
    assert!(gaps.is_empty(), "ui/i18n/en.json lacks: {gaps:#?}");
}

/// A spoof caught by the server or by the device's own engine reads as one neutral
/// sentence: the UI has no sentence for any liveness check that says how a spoof was
/// caught, no reason sentence names one, and the app shows its own engine's refusals in
/// their public form.
#[test]
fn spoof_reasons_read_as_one_neutral_sentence() {
    let s = strings();
    let neutral = Code::LivenessNotConfirmed.as_str();
    assert!(
        missing(&s, "reason", &[neutral], true).is_empty(),
        "reason.{neutral} has words and advice"
    );
    let spoof: Vec<&str> = LivenessReason::ALL
        .iter()
        .map(|r| r.code())
        .filter(|c| c.public() == Code::LivenessNotConfirmed && !c.shown())
        .map(|c| c.as_str())
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
    assert_eq!(flow.state().reasons, [neutral]);
}
