//! What hostile evidence can make a production-configured `reclaim serve` spend, driven the
//! way an attacker's own client drives it (`reclaim-lab attack`): a key it registered itself, a
//! session for any login, an attestation it signed, evidence of its choosing.
//!
//! The server's default policy refuses unmanaged devices before any evidence is decoded,
//! so these servers carry a policy row that approves them: the evidence really reaches
//! the engine, as it does wherever an operator opted unmanaged devices in.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reclaim_fixtures::claims::verified;
use reclaim_protocol::{sign_attestation_with, DeviceKey, EvidenceDigest, RecoveryAction};
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::served::{post_json, serve, Served, AUDIENCE};

/// Unmanaged first-time password resets are approved: nothing stops the evidence before
/// the engine but the engine's own input checks.
const OPT_IN: &str = "[policy]\n[[policy.table]]\naction = \"password\"\ntier = \"unmanaged\"\nuser = \"first_time\"\nverdict = \"approve\"\n";

/// [`post_json`] with a generous timeout: today's server spent minutes decoding the
/// capture below; long enough to see it.
fn post(url: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value), String> {
    post_json(url, token, body, Duration::from_secs(600))
}

/// A self-registered key, a session for `avery.quinn`, and an attestation claiming
/// "verified" over `frames` (selfie frames, 200 ms apart): the server's answer.
fn attest_with_frames(server: &Served, frames: &[Vec<u8>]) -> (u16, Value) {
    let key = DeviceKey::generate().unwrap();
    let (status, device) = post(
        &format!("{}/v1/devices", server.url),
        None,
        &json!({ "public_key": key.public().to_base64(), "name": "my laptop" }),
    )
    .unwrap();
    assert!(status == 200 || status == 201, "{status} {device}");
    assert_eq!(device["tier"], "unmanaged", "{device}");
    let (status, session) = post(
        &format!("{}/v1/sessions", server.url),
        None,
        &json!({ "login": "avery.quinn", "action": "reset_password", "device": key.key_id().as_str() }),
    )
    .unwrap();
    assert_eq!(status, 201, "{session}\n{}", server.log());
    let names: Vec<String> = (0..frames.len())
        .map(|i| format!("selfie_{i:02}"))
        .collect();
    let mut claims = verified(
        AUDIENCE,
        session["session_id"].as_str().unwrap(),
        session["nonce"].as_str().unwrap(),
        "avery.quinn",
        RecoveryAction::ResetPassword,
    );
    claims.models = reclaim_server::models::shipped_model_digests().unwrap();
    claims.app_version = "attacker".into();
    claims.evidence = names
        .iter()
        .zip(frames)
        .map(|(name, bytes)| EvidenceDigest {
            name: name.clone(),
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
        })
        .collect();
    let token = sign_attestation_with(&claims, &key).unwrap();
    let evidence: Vec<Value> = names
        .iter()
        .zip(frames)
        .enumerate()
        .map(|(i, (name, bytes))| {
            json!({ "name": name, "t_ms": i as u64 * 200, "data": STANDARD.encode(bytes) })
        })
        .collect();
    let id = session["session_id"].as_str().unwrap();
    post(
        &format!("{}/v1/sessions/{id}/attestation", server.url),
        session["session_token"].as_str(),
        &json!({ "token": token, "evidence": evidence }),
    )
    .unwrap_or_else(|e| {
        panic!(
            "no answer to the attestation ({e})\nserver log (tail):\n{}",
            tail(server)
        )
    })
}

fn tail(server: &Served) -> String {
    let log = server.log();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A flat-colour PNG of `side` x `side` pixels: a few hundred KB that decode to
/// `3 * side * side` bytes.
fn flat_png(side: u32) -> Vec<u8> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder as _;
    let image = image::RgbImage::from_pixel(side, side, image::Rgb([90, 120, 150]));
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive)
        .write_image(image.as_raw(), side, side, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// Sixty flat-colour 7000x7000 PNGs (about 147 MB each once decoded, 8.8 GB together) as
/// one capture: refused from their headers with a 4xx, and the server's peak memory
/// barely moves. (Today's server decoded them one after another and kept every one:
/// 3 frames added 735 MB to its peak, 21 frames 3.3 GB.)
#[test]
fn sixty_huge_frames_are_refused_from_their_headers() {
    let server = serve("memory-frames", OPT_IN, |_, _| {});
    let frame = flat_png(7000);
    assert!(frame.len() < 1024 * 1024, "{} bytes", frame.len());
    let frames = vec![frame; 60];
    // Measured from what the server holds now, not from the peak of loading its models.
    server.reset_peak_rss();
    let before = server.peak_rss_kib();
    let (status, answer) = attest_with_frames(&server, &frames);
    let after = server.peak_rss_kib();
    eprintln!(
        "VmHWM before {before} KiB, after {after} KiB (+{} KiB); answer {status} {answer}",
        after.saturating_sub(before)
    );
    assert!(
        (400..500).contains(&status),
        "{status} {answer}\n{}",
        tail(&server)
    );
    assert_eq!(answer["error"], "image_too_large", "{answer}");
    assert!(
        after.saturating_sub(before) < 200 * 1024,
        "the server's peak memory grew by {} MiB",
        (after - before) / 1024
    );
}

/// A real photo cut in half is corrupt input (400 `image_corrupt`), not a half-grey
/// picture judged `blurry`.
#[test]
fn a_truncated_jpeg_frame_is_refused_as_corrupt() {
    let server = serve("memory-truncated", OPT_IN, |_, _| {});
    let whole = std::fs::read(crate::face("ardern-1")).unwrap();
    let half = whole[..whole.len() / 2].to_vec();
    let (status, answer) = attest_with_frames(&server, &[whole.clone(), half, whole]);
    assert_eq!(status, 400, "{answer}\n{}", tail(&server));
    assert_eq!(answer["error"], "image_corrupt", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("selfie"),
        "the answer does not say which piece: {answer}"
    );
}
