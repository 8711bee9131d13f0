//! Oversized evidence.
//!
//! Tries: a request body just over the server's documented limit (announced by
//! `Content-Length`, of which only the start is sent), more selfie frames than the server
//! takes, and a PNG whose header claims 256 megapixels (a decoder that trusted it would
//! allocate 768 MB).
//!
//! Should stop it: the body limit, before a byte of the body is read, whatever the
//! device (413 `request_too_large`); the frame count and the image header checks before
//! decoding (400 `evidence_invalid`, `image_too_large`) where the device's tier lets
//! evidence be looked at, and otherwise the tier policy (`device_not_trusted`) before
//! the evidence is read. Never a grant, never a 5xx.

use image::ImageEncoder as _;
use reclaim_protocol::Code;
use reclaim_protocol::RecoveryAction;
use serde_json::json;

use super::claims::Attempt;
use super::renders::variant;
use super::{finish, scenes, step_of, Attacker, Frames, Row, RowOutcome, Step};

/// The server refuses bodies larger than this (`reclaim_server::http::MAX_BODY_BYTES`);
/// the oversized attack sends a little more. Written out rather than imported: the
/// attacker does not get to read the server's constants, and a server that raised its
/// limit should still be probed above the documented one.
const BODY_LIMIT_BYTES: usize = 48 * 1024 * 1024;
/// One more selfie frame than the server takes.
const TOO_MANY_FRAMES: usize = reclaim_protocol::wire::limits::MAX_SELFIE_FRAMES + 1;

impl Attacker {
    /// A body over the server's limit, more frames than it takes, and an image whose
    /// header claims 256 megapixels.
    pub(super) async fn oversized(&mut self) -> Row {
        let id = "oversized_evidence";
        let title = "oversized evidence";
        let tier = self.key_tier.clone();
        let mut steps = Vec::new();
        let action = RecoveryAction::ResetPassword;
        let kid = self.key.key_id().as_str().to_string();
        let mut body_refused = false;
        if let Some(session) = self.start(action, &kid, &mut steps).await {
            // (a) A body just over the limit: one selfie "frame" of filler.
            let length = BODY_LIMIT_BYTES + 1024 * 1024;
            let path = format!("/v1/sessions/{}/attestation", session.id);
            let what = format!("attestation, {} MiB body", length / (1024 * 1024));
            let announced = self.http.announce(&path, &session.token, length).await;
            if let Some(answer) = announced {
                match answer {
                    Ok(a) => {
                        body_refused = (400..500).contains(&a.status);
                        steps.push(step_of(&what, &a));
                    }
                    Err(e) => steps.push(Step::local(&what, &e)),
                }
            } else {
                let mut body = Vec::with_capacity(BODY_LIMIT_BYTES + 1024 * 1024 + 200);
                body.extend_from_slice(
                    br#"{"token":"x.y.z","evidence":[{"name":"selfie_00","t_ms":0,"data":""#,
                );
                body.resize(body.len() + length, b'A');
                body.extend_from_slice(br#""}]}"#);
                match self
                    .http
                    .send(&path, Some(&session.token), Some(body.into()))
                    .await
                {
                    Ok(a) => {
                        body_refused = (400..500).contains(&a.status);
                        steps.push(step_of(&what, &a));
                    }
                    // A server that refuses by Content-Length may close the connection before
                    // the client has finished sending: refused without being read.
                    Err(e) => {
                        body_refused = true;
                        let mut s =
                            Step::local(&what, "connection closed before the body was read");
                        s.fields.insert(
                            "detail".into(),
                            json!(e.chars().take(200).collect::<String>()),
                        );
                        steps.push(s);
                    }
                }
            }
            // (b) More frames than the server takes, each attested; (c) a PNG bomb. A
            // session whose nonce (b) spent is replaced for (c).
            let frame = scenes::jpeg(&variant(&self.photo, 0), 85).unwrap_or_default();
            let many: Frames = (0..TOO_MANY_FRAMES as u64)
                .map(|i| (frame.clone(), i * 200))
                .collect();
            let mut session = Some(session);
            for part in ["many", "bomb"] {
                let current = match session.take() {
                    Some(s) => s,
                    None => match self.start(action, &kid, &mut steps).await {
                        Some(s) => s,
                        None => break,
                    },
                };
                let (what, frames) = if part == "many" {
                    (
                        format!("attestation, {TOO_MANY_FRAMES} frames"),
                        many.clone(),
                    )
                } else {
                    match bomb_png() {
                        Ok(png) => (
                            "attestation, 256-megapixel PNG header".to_string(),
                            vec![(png, 0), (frame.clone(), 200)],
                        ),
                        Err(e) => {
                            steps.push(Step::attacker_failed("render", &e));
                            break;
                        }
                    }
                };
                let id_jpeg = self
                    .recording
                    .as_ref()
                    .and_then(|r| r.id_jpeg.clone())
                    .filter(|_| current.needs_document());
                let evidence = scenes::evidence(id_jpeg.as_deref(), &frames);
                let to = Attempt {
                    what: &what,
                    ..Attempt::own(id, &current, action)
                };
                let sent = self.send_claimed(&to, &evidence).await;
                match sent {
                    Ok(step) => {
                        let unspent = step.status == Some(400)
                            && step.answer == Code::EvidenceInvalid.as_str();
                        steps.push(step);
                        if unspent {
                            session = Some(current);
                        }
                    }
                    Err(failed) => steps.push(failed),
                }
            }
        }
        let note =
            (!body_refused).then(|| "the oversized body was not refused with a 4xx".to_string());
        let mut row = finish(id, title, &tier, "4xx, no grant", steps, note);
        let failed = row.steps.iter().any(|s| s.status.is_some_and(|c| c >= 500));
        if (!body_refused || failed) && row.outcome == RowOutcome::Refused {
            row.outcome = RowOutcome::Error;
        }
        row
    }
}

/// A 1x1 PNG whose header claims 16000 x 16000 pixels (256 megapixels): a decoder that
/// trusted the header would allocate 768 MB.
fn bomb_png() -> Result<Vec<u8>, String> {
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&[0, 0, 0], 1, 1, image::ExtendedColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ... CRC at 29.
    if png.len() < 33 || &png[12..16] != b"IHDR" {
        return Err("unexpected PNG layout".into());
    }
    png[16..20].copy_from_slice(&16_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&16_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    Ok(png)
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_bomb_claims_its_size_with_a_valid_crc() {
        let png = bomb_png().unwrap();
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(&png[16..20], &16_000u32.to_be_bytes());
        assert_eq!(
            u32::from_be_bytes(png[29..33].try_into().unwrap()),
            crc32(&png[12..29])
        );
    }
}
