//! The attacker's renders from one photo of the victim: a selfie that follows the
//! session's challenge and a passport printed for the victim's name, rendered again from
//! a varied photo until the attacker's own engine passes them.

use image::RgbImage;
use reclaim_docgen::sample::ascii_name;
use reclaim_facegen::HeadModel;

use super::session::Started;
use super::{scenes, Attacker, Frames};

/// Renders tried until the attacker's own engine passes one.
const RENDER_TRIES: u32 = 6;

impl Attacker {
    pub(super) fn next_seed(&mut self) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.seed >> 1
    }

    /// A head model of `photo` (a variant of it) for rendering.
    pub(super) fn head(&self, photo: &RgbImage) -> Result<HeadModel, String> {
        scenes::head(&self.engine, photo)
    }

    /// A photo variant not used before (the first call gets the photo itself).
    pub(super) fn fresh_photo(&mut self) -> RgbImage {
        let n = self.variants_used;
        self.variants_used = n.wrapping_add(1);
        variant(&self.photo, n)
    }

    /// What a first-time session asks for: a selfie filmed from a fresh variant of the
    /// victim's photo, and, if the session wants the ID, a passport with the photo the
    /// selfie was filmed from as its portrait.
    pub(super) fn render_evidence(
        &mut self,
        session: &Started,
    ) -> Result<(Option<Vec<u8>>, Frames), String> {
        let (photo, frames) = self.film(&session.challenge)?;
        let id_jpeg = if session.needs_document() {
            Some(self.passport(&photo)?)
        } else {
            None
        };
        Ok((id_jpeg, frames))
    }

    /// A selfie that follows `challenge`: facegen's "genuine" sequence from one photo (a
    /// fresh variant of the victim's). As an attacker would, it is rendered again, from
    /// another variant, until the attacker's own engine finds it live and with no frame
    /// like one sent before (judged as the server judges it, against what the server
    /// keeps: [`Attacker::sent`]); the photo used comes back with it, for the passport's
    /// portrait.
    pub(super) fn film(&mut self, challenge: &[String]) -> Result<(RgbImage, Frames), String> {
        // A challenge the renderer cannot follow fails before anything is rendered.
        scenes::movements(challenge)?;
        let mut last = None;
        for _ in 0..RENDER_TRIES {
            let photo = self.fresh_photo();
            let model = self.head(&photo)?;
            let frames = scenes::film(&model, challenge, self.next_seed())?;
            // Live, and no frame seen before: a server without a review queue refuses a
            // self-registered device's capture with frames seen before whatever their
            // motion (server::decision).
            let fresh = scenes::device_run(&self.engine, None, &frames, challenge, &self.sent)
                .is_ok_and(|v| {
                    v.liveness
                        .report
                        .as_ref()
                        .is_some_and(|r| r.live && !r.seen_before)
                });
            if fresh {
                return Ok((photo, frames));
            }
            last = Some((photo, frames));
        }
        last.ok_or_else(|| "nothing rendered".to_string())
    }

    /// A passport printed for the victim with `photo` as its portrait, photographed as a
    /// phone would; photographed again, as an attacker would, until the attacker's own
    /// engine reads it with nothing flagged (a blurred name can read as uncertain).
    pub(super) fn passport(&mut self, photo: &RgbImage) -> Result<Vec<u8>, String> {
        let surname = ascii_name(&self.victim.surname).to_uppercase();
        let given_names = ascii_name(&self.victim.given).to_uppercase();
        let holder = scenes::Holder {
            surname: &surname,
            given_names: &given_names,
            birth_date: self.victim.birth,
        };
        let mut last = None;
        for _ in 0..RENDER_TRIES {
            let seed = self.next_seed();
            let jpeg = scenes::passport(&self.engine, photo, &holder, seed)?;
            if scenes::document_reasons(&self.engine, &jpeg).is_ok_and(|r| r.is_empty()) {
                return Ok(jpeg);
            }
            last = Some(jpeg);
        }
        last.ok_or_else(|| "nothing printed".to_string())
    }
}

/// Turns of the photo in the image plane, in degrees, one per variant after the photo
/// itself, each used turned either way.
const TURNS: [f32; 16] = [
    3.0, 6.0, 9.0, 12.0, 1.5, 4.5, 7.5, 10.5, 2.25, 5.25, 8.25, 11.25, 0.75, 3.75, 6.75, 9.75,
];

/// The photo as a different capture of it: turned in the image plane. The server keeps
/// hashes of every face it has seen per account, and frames rendered twice from one
/// unchanged photo can look alike enough to be refused as a replay; an attacker who wants
/// a second try varies the photo. Never mirrored: the server keeps whole frames' hashes
/// too, and a render from the mirrored photo mirrors its background, which the server
/// refuses as a mirrored replay of the first. `variant` 0 is the photo itself; after the
/// 33rd the turns repeat.
pub(super) fn variant(photo: &RgbImage, variant: u32) -> RgbImage {
    let n = variant as usize % (2 * TURNS.len() + 1);
    if n == 0 {
        return photo.clone();
    }
    let turn = TURNS[(n - 1) / 2];
    rotate(photo, if n % 2 == 1 { turn } else { -turn })
}

/// Rotates about the centre (bilinear), filling uncovered corners with the edge colour.
fn rotate(img: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (s, c) = degrees.to_radians().sin_cos();
    RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let sx = (c * dx + s * dy + cx).clamp(0.0, (w - 1) as f32);
        let sy = (-s * dx + c * dy + cy).clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let p = |x, y| img.get_pixel(x, y).0;
        let (a, b, cc, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
        let mut px = [0u8; 3];
        for i in 0..3 {
            let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
            let bottom = f32::from(cc[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
            px[i] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
        }
        image::Rgb(px)
    })
}
