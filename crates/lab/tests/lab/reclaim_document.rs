//! `reclaim document`, the production command, on rendered passports and cards: the exit
//! codes and the JSON contract. Here rather than with reclaim-cli's tests because the
//! renderers are linked here, not there; its bad input, which needs no rendering, is
//! checked there.

use std::path::{Path, PathBuf};

use reclaim_docgen::portrait::printed_portrait;
use reclaim_docgen::sample::random_spec;
use reclaim_docgen::{render, DocKind, Rng};
use reclaim_document::Date;
use reclaim_fixtures::scenes::photographed;

use crate::{data, json_exiting, json_of, run_reclaim, Scratch};

/// A document of `kind` printed with a photo of Macron and photographed; with `tamper`,
/// the birth date in its MRZ no longer matches its check digit.
fn card_photos(
    dir: &Scratch,
    kind: DocKind,
    seed: u64,
    tamper: bool,
) -> (PathBuf, Option<PathBuf>) {
    let photo = image::open(data("faces/macron-2.jpg")).unwrap().into_rgb8();
    let portrait = printed_portrait(&photo, [240.0, 190.0, 260.0, 330.0], 350, 450, None);
    let today = Date::new(2026, 11, 26).unwrap();
    let mut rng = Rng::new(seed);
    let mut spec = random_spec(kind, &mut rng, portrait, today);
    if tamper {
        let mut lines = render(&spec).unwrap().mrz.unwrap();
        // The last birth-date digit of a TD3, its check digit kept.
        let mut bytes = lines[1].clone().into_bytes();
        bytes[18] = if bytes[18] == b'9' {
            b'0'
        } else {
            bytes[18] + 1
        };
        lines[1] = String::from_utf8(bytes).unwrap();
        spec.mrz_override = Some(lines);
    }
    let (front, back) = photographed(&spec, &mut rng).unwrap();
    let front = dir.file("front.jpg", &front);
    let back = back.map(|b| dir.file("back.jpg", &b));
    (front, back)
}

/// `reclaim document FRONT [--back BACK] --json --today TODAY`.
fn read(front: &Path, back: Option<&Path>, today: &str) -> std::process::Output {
    let mut args = vec!["document", front.to_str().unwrap()];
    if let Some(back) = back {
        args.extend(["--back", back.to_str().unwrap()]);
    }
    args.extend(["--json", "--today", today]);
    run_reclaim(&args)
}

#[test]
fn a_good_passport_exits_0_with_the_documented_json() {
    let dir = Scratch::new("doc-ok");
    let (front, _) = card_photos(&dir, DocKind::Td3, 11, false);
    let out = read(&front, None, "2026-11-26");
    let json = json_exiting(&out, 0);
    assert_eq!(json["kind"], "td3");
    assert_eq!(json["reasons"], serde_json::json!([]));
    assert_eq!(json["expired"], false);
    assert!(json["fields"]["surname"].is_string());
    assert!(json["fields"]["birth_date"].as_str().unwrap().len() == 10);
    let checks = json["check_digits"].as_array().unwrap();
    assert_eq!(checks.len(), 5);
    assert!(checks.iter().all(|c| c["valid"] == true));
    assert_eq!(
        json["portrait"]["face"]["bbox"].as_array().unwrap().len(),
        4
    );
}

#[test]
fn a_card_with_front_and_back_is_read_from_both() {
    let dir = Scratch::new("doc-td1");
    let (front, back) = card_photos(&dir, DocKind::Td1, 12, false);
    let out = read(&front, back.as_deref(), "2026-11-26");
    let json = json_exiting(&out, 0);
    assert_eq!(json["kind"], "td1");
    assert_eq!(json["mrz"]["side"], "back");
    assert_eq!(json["portrait"]["side"], "front");
}

#[test]
fn a_tampered_date_exits_1_with_a_reason() {
    let dir = Scratch::new("doc-bad");
    let (front, _) = card_photos(&dir, DocKind::Td3, 13, true);
    let out = read(&front, None, "2026-11-26");
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out);
    let reasons = json["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r == "mrz_check_digit_failed" || r == "mrz_field_invalid"),
        "{reasons:?}"
    );
    // Human output names the problem in words.
    let out = run_reclaim(&["document", front.to_str().unwrap(), "--today", "2026-11-26"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("DOCUMENT NOT ACCEPTED"), "{text}");
}

#[test]
fn an_expired_document_exits_1() {
    let dir = Scratch::new("doc-expired");
    let (front, _) = card_photos(&dir, DocKind::Td3, 11, false);
    let out = read(&front, None, "2045-01-01");
    assert_eq!(out.status.code(), Some(1));
    assert!(json_of(&out)["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "document_expired"));
}
