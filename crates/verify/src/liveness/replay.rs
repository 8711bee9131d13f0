//! Replayed and frozen frames: perceptual hashes of each frame and its face, with the
//! head's motion, to spot a capture sent again from an earlier session; and a
//! frame-to-frame change measure, to spot a still image fed in as video.
//!
//! A camera never delivers two identical frames of a live scene (sensor noise alone
//! changes every pixel a little); identical or near-identical consecutive frames mean the
//! "video" was made from a still picture, or frames were duplicated by whoever injected
//! them.
//!
//! The backend keeps, per session, each frame's 64-bit difference hashes (of the face and
//! of the whole frame) and its motion ([`SeenSession`]). The hash alone cannot tell a
//! replay from the same person coming back in the same room (their faces hash alike); what
//! a replay keeps and a new capture never does is the motion of that one capture, so
//! [`judge_replay`] calls a capture replayed when its frames look like one earlier
//! session's AND move like it. A recording mirrored left to right answers the mirrored
//! challenge (its "left" becomes "right"), and a difference hash of a mirrored picture has
//! nothing in common with the original's: each frame's face and whole frame are hashed
//! twice, as seen and mirrored; only the first of each is kept ([`FrameHashes`]). How far
//! apart genuine returns and replays land is measured by `reclaim-lab eval-replay`
//! (docs/liveness.md, "Replays").

use image::{imageops, GrayImage, RgbImage};
use serde::Serialize;
use zeroize::Zeroize;

use crate::raster::{downscale, to_luma};

/// Side lengths of the grey thumbnail kept per frame for the change measure: small enough
/// that no face can be recognised in it, big enough that a moving head changes it.
pub const THUMB_W: u32 = 32;
pub const THUMB_H: u32 = 24;

/// A frame reduced to a 32x24 grey thumbnail; wiped when dropped, never printed.
#[derive(Clone, PartialEq)]
pub struct Thumbnail(Vec<u8>);

impl Thumbnail {
    pub fn of(image: &RgbImage) -> Option<Thumbnail> {
        if image.width() == 0 || image.height() == 0 {
            return None;
        }
        let small = to_luma(&downscale(image, THUMB_W, THUMB_H));
        (small.dimensions() == (THUMB_W, THUMB_H)).then(|| Thumbnail(small.into_raw()))
    }

    /// Mean absolute difference of two thumbnails, in grey levels (0..255); `None` when
    /// their sizes differ.
    pub fn mean_abs_diff(&self, other: &Thumbnail) -> Option<f32> {
        if self.0.len() != other.0.len() || self.0.is_empty() {
            return None;
        }
        let sum: u64 = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        Some(sum as f32 / self.0.len() as f32)
    }
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Thumbnail({} bytes, redacted)", self.0.len())
    }
}

impl Drop for Thumbnail {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// 64-bit difference hash: the image in grey, shrunk to 9x8, one bit per horizontally
/// adjacent pair (is the left one brighter?). Stable under re-encoding, scaling and
/// small brightness changes; `None` for an empty image.
pub fn dhash(image: &RgbImage) -> Option<u64> {
    if image.width() == 0 || image.height() == 0 {
        return None;
    }
    let small = to_luma(&downscale(image, 9, 8));
    Some(dhash_grey(&small))
}

fn dhash_grey(small: &GrayImage) -> u64 {
    let mut hash = 0u64;
    for y in 0..8u32.min(small.height()) {
        for x in 0..8u32.min(small.width().saturating_sub(1)) {
            let left = small.get_pixel(x, y)[0];
            let right = small.get_pixel(x + 1, y)[0];
            hash = (hash << 1) | u64::from(left > right);
        }
    }
    hash
}

/// The face box enlarged by 20% about its centre, clipped to the image; `None` when
/// nothing of it is inside or the box is not finite.
pub fn face_crop(image: &RgbImage, bbox: [f32; 4]) -> Option<RgbImage> {
    let [x, y, w, h] = bbox;
    if !bbox.iter().all(|v| v.is_finite()) || w <= 0.0 || h <= 0.0 {
        return None;
    }
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (hw, hh) = (w * 0.6, h * 0.6);
    let (iw, ih) = (image.width() as f32, image.height() as f32);
    let x0 = (cx - hw).floor().clamp(0.0, iw);
    let y0 = (cy - hh).floor().clamp(0.0, ih);
    let x1 = (cx + hw).ceil().clamp(0.0, iw);
    let y1 = (cy + hh).ceil().clamp(0.0, ih);
    if x1 - x0 < 1.0 || y1 - y0 < 1.0 {
        return None;
    }
    let (x0, y0, cw, ch) = (x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32);
    Some(imageops::crop_imm(image, x0, y0, cw, ch).to_image())
}

/// The difference hash of the image mirrored left to right (see the module comment).
pub fn dhash_mirrored(image: &RgbImage) -> Option<u64> {
    if image.width() == 0 || image.height() == 0 {
        return None;
    }
    dhash(&imageops::flip_horizontal(image))
}

/// A frame's hashes for the replay check: of its face (the detector's box enlarged, see
/// [`face_crop`]) and of the whole frame, each as seen and mirrored left to right.
///
/// The whole frame is what tells a mirrored replay from a person turning the other way:
/// a head turned left, mirrored, looks much like the same head turned right, but a
/// mirrored recording mirrors the room as well, and a room is rarely its own mirror image.
/// It also does not depend on where the detector put the face's box, which on a mirrored
/// picture can be a few pixels off the mirror of the box on the original (enough to move
/// a small face's hash by 15 bits: docs/liveness.md, "On real recordings").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHashes {
    pub face: Option<u64>,
    pub face_mirrored: Option<u64>,
    pub frame: Option<u64>,
    pub frame_mirrored: Option<u64>,
}

impl FrameHashes {
    /// The hashes of `image`, and of its face at `face_box` when there is one.
    pub fn of(image: &RgbImage, face_box: Option<[f32; 4]>) -> FrameHashes {
        let crop = face_box.and_then(|b| face_crop(image, b));
        FrameHashes {
            face: crop.as_ref().and_then(dhash),
            face_mirrored: crop.as_ref().and_then(dhash_mirrored),
            frame: dhash(image),
            frame_mirrored: dhash_mirrored(image),
        }
    }

    /// The fewest bits by which the face, in either orientation, differs from any of
    /// `stored` (face hashes); `None` without a face or without anything stored.
    pub fn face_distance_to(&self, stored: &[u64]) -> Option<u32> {
        [self.face, self.face_mirrored]
            .into_iter()
            .flatten()
            .flat_map(|h| stored.iter().map(move |&s| hamming(h, s)))
            .min()
    }
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The hash as the backend stores it: 16 lower-case hex digits.
pub fn to_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// Counts consecutive pairs whose change is below `min_change` grey levels. A pair whose
/// change cannot be measured (a missing thumbnail, sizes differ) counts as static: the
/// check must not pass for lack of data.
pub fn static_pairs(thumbs: &[Option<&Thumbnail>], min_change: f32) -> usize {
    thumbs
        .windows(2)
        .filter(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => !a.mean_abs_diff(b).is_some_and(|d| d >= min_change),
            _ => true,
        })
        .count()
}

/// A kept session's hashes, as the comparisons of one frame need them: its faces' and,
/// where kept, its whole frames'.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeptHashes {
    pub faces: Vec<u64>,
    pub frames: Vec<u64>,
}

impl KeptHashes {
    pub fn of(session: &SeenSession) -> KeptHashes {
        KeptHashes {
            faces: session.frames.iter().map(|f| f.face_hash).collect(),
            frames: session.frames.iter().filter_map(|f| f.frame_hash).collect(),
        }
    }
}

/// Index of every frame seen in `kept`: its face, as seen or mirrored, within
/// `max_distance` bits of one kept, or the frame matching one through the mirror
/// ([`mirror_distance`]).
pub fn seen_frames(hashes: &[FrameHashes], kept: &KeptHashes, max_distance: u32) -> Vec<usize> {
    hashes
        .iter()
        .enumerate()
        .filter(|(_, h)| seen_distance(h, kept).is_some_and(|d| d <= max_distance))
        .map(|(i, _)| i)
        .collect()
}

/// The fewest bits by which a frame is seen in `kept` (see [`seen_frames`]).
pub fn seen_distance(hashes: &FrameHashes, kept: &KeptHashes) -> Option<u32> {
    [
        hashes.face_distance_to(&kept.faces),
        mirror_distance(hashes, kept),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// How one frame's head sat and moved: the pose the detector read (degrees; yaw positive
/// to the person's left, roll the tilt of the eye line) and how far the face's centre moved
/// since the previous frame with a face, in face widths (`shift`, 0 on the first). Kept per
/// frame next to the face hash, so a later capture can be compared with the motion of one
/// earlier capture. Nothing in it shows the face: five numbers a frame.
///
/// Under re-encoding, rescaling and noise these numbers stay within the detector's noise
/// of the recording's; cropping, brightening and mirroring move the detector's landmarks
/// by several degrees (docs/liveness.md, "Replays"). Mirroring negates yaw, roll and the
/// sideways shift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameMotion {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    pub shift: [f32; 2],
}

impl FrameMotion {
    /// The same motion seen in a mirror.
    pub fn mirrored(self) -> FrameMotion {
        FrameMotion {
            yaw: -self.yaw,
            pitch: self.pitch,
            roll: -self.roll,
            shift: [-self.shift[0], self.shift[1]],
        }
    }

    fn finite(&self) -> bool {
        [
            self.yaw,
            self.pitch,
            self.roll,
            self.shift[0],
            self.shift[1],
        ]
        .iter()
        .all(|v| v.is_finite())
    }

    /// Distance to `other` in units of the detector's noise on a replay (root mean square
    /// over the five numbers, each divided by its scale), capped at [`MOTION_CAP`] so one
    /// bad detection cannot outweigh a whole capture.
    pub fn distance(&self, other: &FrameMotion) -> f32 {
        let d = [
            (self.yaw - other.yaw) / 5.0,
            (self.pitch - other.pitch) / 4.0,
            (self.roll - other.roll) / 2.0,
            (self.shift[0] - other.shift[0]) / 0.015,
            (self.shift[1] - other.shift[1]) / 0.015,
        ];
        let mean_sq = d.iter().map(|v| v * v).sum::<f32>() / d.len() as f32;
        let dist = mean_sq.sqrt();
        if dist.is_finite() {
            dist.min(MOTION_CAP)
        } else {
            MOTION_CAP
        }
    }
}

/// Largest distance one frame contributes (see [`FrameMotion::distance`]).
pub const MOTION_CAP: f32 = 3.0;

/// Roll, in degrees, from the detector's landmarks (the tilt of the eye line).
pub fn roll_deg(landmarks: &[[f32; 2]; 5]) -> f32 {
    let [re, le, ..] = *landmarks;
    (le[1] - re[1]).atan2(le[0] - re[0]).to_degrees()
}

/// Each frame's motion (see [`FrameMotion`]); `None` for a frame without a face, pose or
/// landmarks. `faces` holds, per frame, the box, landmarks, yaw and pitch.
pub fn frame_motions(faces: &[FaceGeometry]) -> Vec<Option<FrameMotion>> {
    let mut previous: Option<[f32; 3]> = None;
    faces
        .iter()
        .map(|f| {
            let (Some(bbox), Some(lm), Some(yaw), Some(pitch)) =
                (f.bbox, f.landmarks, f.yaw, f.pitch)
            else {
                return None;
            };
            let [x, y, w, h] = bbox;
            let centre = [x + w / 2.0, y + h / 2.0, w];
            let shift = match previous {
                Some([px, py, _]) if w > 0.0 => [(centre[0] - px) / w, (centre[1] - py) / w],
                _ => [0.0, 0.0],
            };
            previous = Some(centre);
            let m = FrameMotion {
                yaw,
                pitch,
                roll: roll_deg(&lm),
                shift,
            };
            m.finite().then_some(m)
        })
        .collect()
}

/// [`frame_motions`] of a capture's observations.
pub fn motions_of(observations: &[super::FrameObservation]) -> Vec<Option<FrameMotion>> {
    let geometry: Vec<FaceGeometry> = observations
        .iter()
        .map(|o| FaceGeometry {
            bbox: o.bbox,
            landmarks: o.landmarks,
            yaw: o.yaw_deg,
            pitch: o.pitch_deg,
        })
        .collect();
    frame_motions(&geometry)
}

/// What [`frame_motions`] needs of a frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaceGeometry {
    pub bbox: Option<[f32; 4]>,
    pub landmarks: Option<[[f32; 2]; 5]>,
    pub yaw: Option<f32>,
    pub pitch: Option<f32>,
}

/// One frame of an earlier session, as the backend keeps it: the face hash as seen and,
/// for sessions stored since each was kept, the whole frame's hash and the motion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeenFrame {
    pub face_hash: u64,
    pub frame_hash: Option<u64>,
    pub motion: Option<FrameMotion>,
}

impl SeenFrame {
    /// The stored form: the face hash in 16 hex digits, then, when kept, `/` and the whole
    /// frame's, then, with motion, `:yaw:pitch:roll:dx:dy` (degrees to a tenth, shifts to
    /// a thousandth of a face width).
    pub fn encode(&self) -> String {
        let mut s = to_hex(self.face_hash);
        if let Some(frame) = self.frame_hash {
            s.push('/');
            s.push_str(&to_hex(frame));
        }
        if let Some(m) = self.motion {
            s.push_str(&format!(
                ":{:.1}:{:.1}:{:.1}:{:.3}:{:.3}",
                m.yaw, m.pitch, m.roll, m.shift[0], m.shift[1]
            ));
        }
        s
    }

    /// The inverse of [`SeenFrame::encode`]; `None` when malformed (a stored row is never
    /// trusted to be well formed). Rows written before the frame hash or the motion was
    /// kept read back without them.
    pub fn decode(s: &str) -> Option<SeenFrame> {
        let mut parts = s.split(':');
        let hashes = parts.next()?;
        let (face, frame) = match hashes.split_once('/') {
            Some((face, frame)) => (face, Some(frame)),
            None => (hashes, None),
        };
        let face_hash = from_hex(face)?;
        let frame_hash = match frame {
            Some(f) => Some(from_hex(f)?),
            None => None,
        };
        let rest: Vec<f32> = parts
            .map(|p| p.parse::<f32>().ok())
            .collect::<Option<_>>()?;
        let motion = match rest.as_slice() {
            [] => None,
            [yaw, pitch, roll, dx, dy] => {
                let m = FrameMotion {
                    yaw: *yaw,
                    pitch: *pitch,
                    roll: *roll,
                    shift: [*dx, *dy],
                };
                Some(m.finite().then_some(m)?)
            }
            _ => return None,
        };
        Some(SeenFrame {
            face_hash,
            frame_hash,
            motion,
        })
    }
}

/// The inverse of [`to_hex`]: exactly 16 hex digits.
fn from_hex(s: &str) -> Option<u64> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}

/// One earlier session's frames, in capture order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeenSession {
    pub frames: Vec<SeenFrame>,
    /// Kept from a capture that was not approved (refused, or sent to review), or from
    /// bare hashes whose outcome is unknown. Anyone can start a session for any login and
    /// have a capture judged and kept under it, so such a session may be a stranger's
    /// plant: a mirror of the person's earlier capture kept there would make each of the
    /// person's new captures match "only mirrored", and a look-alike one would make them
    /// "seen before". So a doubtful session counts only when the capture repeats its
    /// motion, which no new capture of the person does.
    pub doubtful: bool,
}

impl SeenSession {
    /// Hashes kept without motion (the backend's rows from before motion was kept, or a
    /// list of hashes given to `reclaim verify --seen`): compared by the hash alone.
    pub fn hashes_only(hashes: &[u64]) -> SeenSession {
        SeenSession {
            frames: hashes
                .iter()
                .map(|&face_hash| SeenFrame {
                    face_hash,
                    frame_hash: None,
                    motion: None,
                })
                .collect(),
            doubtful: false,
        }
    }

    /// The stored form: every frame's [`SeenFrame::encode`], `;`-separated.
    pub fn encode(&self) -> String {
        self.frames
            .iter()
            .map(SeenFrame::encode)
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The inverse of [`SeenSession::encode`]; malformed frames are dropped, at most
    /// `max_frames` are read.
    pub fn decode(s: &str, max_frames: usize) -> SeenSession {
        SeenSession {
            frames: s
                .split(';')
                .take(max_frames)
                .filter_map(SeenFrame::decode)
                .collect(),
            doubtful: false,
        }
    }

    /// The motion of the frames that kept it, in order; `None` when none did (a session
    /// kept before motion was).
    fn motions(&self) -> Option<Vec<FrameMotion>> {
        let m: Vec<FrameMotion> = self.frames.iter().filter_map(|f| f.motion).collect();
        (!m.is_empty()).then_some(m)
    }
}

/// Mean [`FrameMotion::distance`] over the best alignment of `capture` onto `recorded`
/// that keeps the order and uses each recorded frame at most once (a recording with
/// frames dropped, or sped up or slowed down by dropping, aligns frame for frame;
/// repeated frames are what the frozen-frame check is for). `None` when the capture has
/// more frames than the recording (it cannot have been cut from it) or none.
pub fn motion_distance(capture: &[FrameMotion], recorded: &[FrameMotion]) -> Option<f32> {
    let (n, m) = (capture.len(), recorded.len());
    if n == 0 || n > m {
        return None;
    }
    // cost[j]: the least total cost of aligning the first i capture frames within the
    // first j recorded frames (one row at a time).
    let mut cost = vec![0.0f32; m + 1];
    for (i, c) in capture.iter().enumerate() {
        let mut next = vec![f32::INFINITY; m + 1];
        for j in (i + 1)..=m {
            next[j] = next[j - 1].min(cost[j - 1] + c.distance(&recorded[j - 1]));
        }
        cost = next;
    }
    Some(cost[m] / n as f32)
}

/// The kept capture's frames held still: each at its mean pose, not moving (the same
/// number of frames).
fn held_still(recorded: &[FrameMotion]) -> Vec<FrameMotion> {
    let n = recorded.len().max(1) as f32;
    let mean = |f: fn(&FrameMotion) -> f32| recorded.iter().map(f).sum::<f32>() / n;
    let still = FrameMotion {
        yaw: mean(|m| m.yaw),
        pitch: mean(|m| m.pitch),
        roll: mean(|m| m.roll),
        shift: [0.0, 0.0],
    };
    vec![still; recorded.len()]
}

/// How a capture's motion compares with one kept capture's, in the orientation (as seen,
/// or mirrored) that moves nearer it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionMatch {
    /// [`motion_distance`] to the kept capture's motion.
    pub distance: f32,
    /// [`motion_distance`] to the kept capture held still (each frame at its mean pose).
    pub held_still: f32,
}

impl MotionMatch {
    /// `None` when the capture cannot be aligned onto the kept one (see
    /// [`motion_distance`]).
    pub fn of(capture: &[FrameMotion], recorded: &[FrameMotion]) -> Option<MotionMatch> {
        let mirrored: Vec<FrameMotion> = capture.iter().map(|m| m.mirrored()).collect();
        let still = held_still(recorded);
        [capture, &mirrored]
            .into_iter()
            .filter_map(|c| {
                Some(MotionMatch {
                    distance: motion_distance(c, recorded)?,
                    held_still: motion_distance(c, &still)?,
                })
            })
            .min_by(|a, b| a.distance.total_cmp(&b.distance))
    }

    /// The capture repeats the kept capture's motion: within `max_distance` of it, and
    /// nearer it than to the same capture held still. A head that hardly moved in both
    /// (a person holding still twice in one sitting, talking) is within the detector's
    /// noise of either, and its pose alone says nothing about a replay: on real
    /// recordings such pairs came as near as 0.30 while the capture was nearer still the
    /// kept one's mean pose (docs/liveness.md, "On real recordings"). A replay of a
    /// capture that turned follows the turn, far from any pose held still; a replay of
    /// one that did not turn answers no challenge and is `seen_before` at most.
    pub fn repeats(&self, max_distance: f32) -> bool {
        self.distance <= max_distance && self.distance < self.held_still
    }
}

/// What the replay check found in a capture.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplayFinding {
    /// Frames whose face, as seen or mirrored, is within the bits of a kept hash, in the
    /// session that decided (the replayed one, else the one with the most such frames).
    pub seen_frames: Vec<usize>,
    /// The least motion distance to a session with at least `min_frames` seen frames
    /// (either orientation); `None` when no such session kept motion.
    pub motion_distance: Option<f32>,
    /// Seen frames and the motion of one earlier session: a replay.
    pub replayed: bool,
    /// Seen frames without that session's motion (another capture of a face seen
    /// before, or a replay changed beyond the detector's noise, or a session kept
    /// without motion): not a replay by itself (see docs/liveness.md, "Replays").
    pub seen_before: bool,
}

/// The replay rule, against each earlier session in turn:
///
/// - at least `min_frames` frames within `max_bits` of the session's hashes as seen, and
///   the capture's motion aligned onto the session's within `max_motion` and nearer it
///   than to the session held still ([`MotionMatch::repeats`]): replayed;
/// - at least `min_mirrored` frames within `max_bits` of the session's hashes through the
///   mirror, by the face or by the whole frame, nearer mirrored than as seen
///   ([`mirror_distance`]): a mirrored recording, replayed. A new capture of a face is not
///   its own mirror image: faces are not symmetric to a difference hash, and rooms are
///   rarely (docs/liveness.md, "Replays"); frames that match only through the mirror
///   count as seen frames too;
/// - a session kept without motion (rows from before motion was kept, or bare hashes):
///   the hash rule alone, either orientation, as before;
/// - otherwise, frames within the bits but neither of the above: `seen_before`, not a
///   replay by itself.
///
/// A [`SeenSession::doubtful`] session counts only through the first rule (its motion
/// repeated): the mirror, hash-only and seen-before rules would let a stranger who
/// planted it there get the person refused.
pub fn judge_replay(
    capture_hashes: &[FrameHashes],
    capture_motion: &[Option<FrameMotion>],
    sessions: &[SeenSession],
    max_bits: u32,
    min_frames: usize,
    max_motion: f32,
    min_mirrored: usize,
) -> ReplayFinding {
    let min_frames = min_frames.max(1);
    let mut finding = ReplayFinding::default();
    // The capture's motion, frames with a face only.
    let motion: Vec<FrameMotion> = capture_motion.iter().flatten().copied().collect();
    for session in sessions {
        let kept = KeptHashes::of(session);
        let seen = seen_frames(capture_hashes, &kept, max_bits);
        if seen.len() < min_frames {
            continue;
        }
        let replayed = match session.motions() {
            // Kept without motion: the hash rule alone, for a session to be trusted.
            None => !session.doubtful,
            Some(recorded) => {
                let through_mirror = mirrored_frames(capture_hashes, &kept, max_bits);
                let matched = MotionMatch::of(&motion, &recorded);
                if let Some(d) = matched.map(|m| m.distance) {
                    finding.motion_distance = Some(finding.motion_distance.map_or(d, |b| b.min(d)));
                }
                (!session.doubtful && through_mirror.len() >= min_mirrored.max(1))
                    || matched.is_some_and(|m| m.repeats(max_motion))
            }
        };
        if session.doubtful && !replayed {
            continue;
        }
        if replayed {
            // One session is enough; report its frames.
            finding.replayed = true;
            finding.seen_before = false;
            finding.seen_frames = seen;
            return finding;
        }
        if seen.len() > finding.seen_frames.len() {
            finding.seen_frames = seen;
        }
        finding.seen_before = true;
    }
    finding
}

/// Index of every frame that matches `kept` within `max_distance` bits through the
/// mirror ([`mirror_distance`]).
pub fn mirrored_frames(hashes: &[FrameHashes], kept: &KeptHashes, max_distance: u32) -> Vec<usize> {
    hashes
        .iter()
        .enumerate()
        .filter(|(_, h)| mirror_distance(h, kept).is_some_and(|m| m <= max_distance))
        .map(|(i, _)| i)
        .collect()
}

/// The fewest bits by which the frame, mirrored, differs from one kept, counting its
/// face and its whole frame each only when nearer so mirrored than as seen; `None` when
/// neither is.
pub fn mirror_distance(hashes: &FrameHashes, kept: &KeptHashes) -> Option<u32> {
    let through_mirror = |seen: Option<u64>, mirrored: Option<u64>, stored: &[u64]| {
        let nearest = |h: Option<u64>| h.and_then(|h| stored.iter().map(|&s| hamming(h, s)).min());
        let m = nearest(mirrored)?;
        nearest(seen).is_none_or(|s| m < s).then_some(m)
    };
    [
        through_mirror(hashes.face, hashes.face_mirrored, &kept.faces),
        through_mirror(hashes.frame, hashes.frame_mirrored, &kept.frames),
    ]
    .into_iter()
    .flatten()
    .min()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::Rgb;

    /// A deterministic textured picture: `seed` changes the pattern completely.
    pub(crate) fn picture(w: u32, h: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v =
                (x * (3 + seed) + y * (7 + 2 * seed) + ((x / 9) * (y / 7) * (seed + 1)) * 13) % 251;
            Rgb([v as u8, (v / 2) as u8, (255 - v) as u8])
        })
    }

    #[test]
    fn identical_images_hash_alike_and_different_ones_do_not() {
        let a = picture(160, 120, 1);
        let b = picture(160, 120, 5);
        let ha = dhash(&a).unwrap();
        assert_eq!(hamming(ha, dhash(&a.clone()).unwrap()), 0);
        let hb = dhash(&b).unwrap();
        assert!(hamming(ha, hb) > 16, "{}", hamming(ha, hb));
        // Re-scaled: still close.
        let bigger = imageops::resize(&a, 320, 240, imageops::FilterType::Triangle);
        assert!(hamming(ha, dhash(&bigger).unwrap()) <= 6);
        assert_eq!(to_hex(0xab), "00000000000000ab");
        assert!(dhash(&RgbImage::new(0, 0)).is_none());
    }

    #[test]
    fn face_crop_is_enlarged_and_clipped() {
        let img = picture(100, 100, 2);
        let crop = face_crop(&img, [40.0, 40.0, 20.0, 20.0]).unwrap();
        assert_eq!(crop.dimensions(), (24, 24));
        let edge = face_crop(&img, [90.0, -5.0, 20.0, 20.0]).unwrap();
        assert!(edge.width() <= 12 && edge.height() <= 17);
        assert!(face_crop(&img, [500.0, 500.0, 20.0, 20.0]).is_none());
        assert!(face_crop(&img, [f32::NAN, 0.0, 20.0, 20.0]).is_none());
        assert!(face_crop(&img, [10.0, 10.0, -5.0, 20.0]).is_none());
    }

    #[test]
    fn frozen_frames_are_counted() {
        let a = Thumbnail::of(&picture(320, 240, 1)).unwrap();
        let a2 = Thumbnail::of(&picture(320, 240, 1)).unwrap();
        let b = Thumbnail::of(&picture(320, 240, 3)).unwrap();
        assert_eq!(a.mean_abs_diff(&a2), Some(0.0));
        assert!(a.mean_abs_diff(&b).unwrap() > 5.0);
        let seq = [Some(&a), Some(&a2), Some(&b), Some(&a), None];
        // a→a2 static, a2→b and b→a change, a→missing counts as static.
        assert_eq!(static_pairs(&seq, 0.5), 2);
        assert!(!format!("{a:?}").contains(", 0"));
    }

    #[test]
    fn frames_seen_before_are_found() {
        let h = |face, face_mirrored| FrameHashes {
            face,
            face_mirrored,
            ..FrameHashes::default()
        };
        let faces = |faces: &[u64]| KeptHashes {
            faces: faces.to_vec(),
            frames: Vec::new(),
        };
        let hashes = [
            h(Some(0b1111u64), None),
            h(None, None),
            h(Some(u64::MAX), None),
        ];
        assert_eq!(seen_frames(&hashes, &faces(&[0b0011]), 4), vec![0]);
        assert_eq!(seen_frames(&hashes, &faces(&[0]), 3), Vec::<usize>::new());
        assert!(seen_frames(&hashes, &faces(&[]), 4).is_empty());
        // The mirrored hash counts as much as the one seen.
        let mirrored = [h(Some(u64::MAX), Some(0b0111))];
        assert_eq!(seen_frames(&mirrored, &faces(&[0b0011]), 1), vec![0]);
        // So does a whole frame matching only through the mirror, even without a face.
        let frame = FrameHashes {
            frame: Some(u64::MAX),
            frame_mirrored: Some(0b0111),
            ..FrameHashes::default()
        };
        let kept = KeptHashes {
            faces: vec![0],
            frames: vec![0b0011],
        };
        assert_eq!(seen_frames(&[frame], &kept, 1), vec![0]);
        assert_eq!(mirror_distance(&frame, &kept), Some(1));
    }

    #[test]
    fn a_mirrored_picture_matches_through_its_mirrored_hash() {
        let a = picture(160, 120, 4);
        let flipped = imageops::flip_horizontal(&a);
        // The face box of the whole picture (enlarged, it is clipped to it).
        let whole = [0.0, 0.0, 160.0, 120.0];
        let stored = [dhash(&a).unwrap()];
        // As seen, the mirror has little in common with the original...
        assert!(hamming(dhash(&flipped).unwrap(), stored[0]) > 16);
        // ...but mirrored back it is the same picture, face and frame alike.
        let h = FrameHashes::of(&flipped, Some(whole));
        assert_eq!(h.face_distance_to(&stored), Some(0));
        let kept = KeptHashes {
            faces: Vec::new(),
            frames: stored.to_vec(),
        };
        assert_eq!(mirror_distance(&h, &kept), Some(0));
        // The original itself is not its own mirror image.
        assert_eq!(mirror_distance(&FrameHashes::of(&a, None), &kept), None);
        assert_eq!(FrameHashes::of(&a, Some(whole)).face_distance_to(&[]), None);
        let empty = FrameHashes::of(&RgbImage::new(0, 0), Some(whole));
        assert_eq!(empty, FrameHashes::default());
    }

    #[test]
    fn a_mirrored_room_is_a_mirrored_replay_wherever_the_face_box_fell() {
        let kept = SeenSession {
            frames: (0..6u64)
                .map(|i| SeenFrame {
                    face_hash: i * 0x0101_0101,
                    frame_hash: Some((i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    motion: Some(motion(i as f32 * 5.0)),
                })
                .collect(),
            doubtful: false,
        };
        let motion_now: Vec<Option<FrameMotion>> = (0..6)
            .map(|i| Some(motion(30.0 - i as f32 * 4.0)))
            .collect();
        // Mirrored back, each whole frame is a kept one; the faces, hashed at boxes a few
        // pixels off, match nothing in either orientation.
        let mirrored: Vec<FrameHashes> = kept
            .frames
            .iter()
            .map(|f| FrameHashes {
                face: Some(!f.face_hash),
                face_mirrored: Some(!f.face_hash ^ 0xffff),
                frame: f.frame_hash.map(|h| h.rotate_left(17)),
                frame_mirrored: f.frame_hash.map(|h| h ^ 0b11),
            })
            .collect();
        let sessions = std::slice::from_ref(&kept);
        let f = judge_replay(&mirrored, &motion_now, sessions, 4, 3, 0.5, 3);
        assert!(f.replayed, "{f:?}");
        assert_eq!(f.seen_frames.len(), 6);
        // The same room as seen (the person came back and turned the other way): the
        // whole frame is nearer as seen than mirrored, so it says nothing of a mirror.
        let returned: Vec<FrameHashes> = mirrored
            .iter()
            .map(|h| FrameHashes {
                frame: h.frame_mirrored.map(|m| m ^ 0b1),
                ..*h
            })
            .collect();
        let f = judge_replay(&returned, &motion_now, sessions, 4, 3, 0.5, 3);
        assert!(!f.replayed && !f.seen_before, "{f:?}");
        // Nor does a mirrored room count against a doubtful session (a stranger's plant).
        let planted = SeenSession {
            doubtful: true,
            ..kept.clone()
        };
        let f = judge_replay(&mirrored, &motion_now, &[planted], 4, 3, 0.5, 3);
        assert!(!f.replayed && !f.seen_before, "{f:?}");
    }

    fn motion(yaw: f32) -> FrameMotion {
        FrameMotion {
            yaw,
            pitch: yaw / 3.0,
            roll: 1.5,
            shift: [yaw / 1000.0, 0.0],
        }
    }

    #[test]
    fn kept_frames_read_back_as_written() {
        let f = SeenFrame {
            face_hash: 0xdead_beef,
            frame_hash: Some(0x0123_4567_89ab_cdef),
            motion: Some(motion(12.34)),
        };
        let back = SeenFrame::decode(&f.encode()).unwrap();
        assert_eq!(
            (back.face_hash, back.frame_hash),
            (f.face_hash, f.frame_hash)
        );
        assert!(back.motion.unwrap().distance(&f.motion.unwrap()) < 0.05);
        let no_motion = SeenFrame { motion: None, ..f };
        assert_eq!(SeenFrame::decode(&no_motion.encode()), Some(no_motion));
        // Rows from before motion was kept: bare hashes; and from before the frame hash
        // was.
        let bare = SeenFrame {
            face_hash: 0xdead_beef,
            frame_hash: None,
            motion: None,
        };
        assert_eq!(SeenFrame::decode("00000000deadbeef"), Some(bare));
        let old = SeenFrame::decode("00000000deadbeef:1.0:2.0:3.0:0.010:0.020").unwrap();
        assert_eq!((old.frame_hash, old.motion.is_some()), (None, true));
        for bad in [
            "",
            "xyz",
            "00000000deadbeef:1:2",
            "00000000deadbeef:1:2:3:4:NaN",
            "00000000deadbeef/",
            "00000000deadbeef/12",
            "00000000deadbeef/+123456789abcdef",
            "00000000deadbeef/0123456789abcdef/0",
            "+0000000deadbeef",
        ] {
            assert_eq!(SeenFrame::decode(bad), None, "{bad}");
        }
        let session = SeenSession {
            frames: vec![f, f],
            doubtful: false,
        };
        assert_eq!(SeenSession::decode(&session.encode(), 60).frames.len(), 2);
        assert_eq!(SeenSession::decode(&session.encode(), 1).frames.len(), 1);
        assert!(SeenSession::decode("garbage;;", 60).frames.is_empty());
    }

    #[test]
    fn motion_aligns_in_order_with_frames_dropped() {
        let recorded: Vec<FrameMotion> = (0..12).map(|i| motion(i as f32 * 3.0)).collect();
        assert_eq!(motion_distance(&recorded, &recorded), Some(0.0));
        // Every third frame dropped: still the same motion.
        let dropped: Vec<FrameMotion> = recorded
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 1)
            .map(|(_, m)| *m)
            .collect();
        assert_eq!(motion_distance(&dropped, &recorded), Some(0.0));
        // Backwards is not the same motion; more frames than recorded cannot be cut from it.
        let reversed: Vec<FrameMotion> = recorded.iter().rev().copied().collect();
        assert!(motion_distance(&reversed, &recorded).unwrap() > 1.0);
        assert_eq!(motion_distance(&recorded, &dropped), None);
        assert_eq!(motion_distance(&[], &recorded), None);
        // Mirrored twice is the same.
        assert_eq!(motion(7.0).mirrored().mirrored(), motion(7.0));
    }

    #[test]
    fn a_head_held_still_twice_is_not_a_replay_of_itself() {
        // A head that hardly moves: pose and place within the detector's noise of its
        // mean, twice, with different noise.
        let wobble = |i: usize, seed: usize| {
            let w = ((i * 7 + seed * 13) % 11) as f32 / 10.0 - 0.5;
            FrameMotion {
                yaw: 2.0 + 2.0 * w,
                pitch: -1.0 - 1.5 * w,
                roll: 0.5 * w,
                shift: [0.004 * w, -0.003 * w],
            }
        };
        let first: Vec<FrameMotion> = (0..18).map(|i| wobble(i, 1)).collect();
        let second: Vec<FrameMotion> = (0..18).map(|i| wobble(i, 4)).collect();
        let matched = MotionMatch::of(&second, &first).unwrap();
        // Within the distance that would have called it a replay before...
        assert!(matched.distance <= 0.5, "{matched:?}");
        // ...but no nearer the first capture's motion than its pose held still.
        assert!(!matched.repeats(0.5), "{matched:?}");
        let h = |i: u64| FrameHashes {
            face: Some(i),
            face_mirrored: Some(!i),
            ..FrameHashes::default()
        };
        let hashes: Vec<FrameHashes> = (0..18).map(h).collect();
        let kept = SeenSession {
            frames: first
                .iter()
                .zip(0..)
                .map(|(m, i)| SeenFrame {
                    face_hash: i,
                    frame_hash: None,
                    motion: Some(*m),
                })
                .collect(),
            doubtful: false,
        };
        let again: Vec<Option<FrameMotion>> = second.iter().copied().map(Some).collect();
        let f = judge_replay(&hashes, &again, std::slice::from_ref(&kept), 4, 1, 0.5, 3);
        assert!(!f.replayed && f.seen_before, "{f:?}");
        // The same still capture sent again is still a replay: it repeats the motion
        // exactly.
        let sent: Vec<Option<FrameMotion>> = first.iter().copied().map(Some).collect();
        let f = judge_replay(&hashes, &sent, std::slice::from_ref(&kept), 4, 1, 0.5, 3);
        assert!(f.replayed, "{f:?}");
        // A capture that turns repeats a turning recording far nearer than any pose held
        // still.
        let turn: Vec<FrameMotion> = (0..18).map(|i| motion(i as f32 * 2.0)).collect();
        let m = MotionMatch::of(&turn, &turn).unwrap();
        assert!(m.repeats(0.5) && m.held_still > 1.0, "{m:?}");
        assert_eq!(MotionMatch::of(&[], &turn), None);
    }

    #[test]
    fn the_rule_tells_a_replay_from_a_return_by_the_motion() {
        let h = |seen| FrameHashes {
            face: Some(seen),
            face_mirrored: Some(!seen),
            ..FrameHashes::default()
        };
        let hashes: Vec<FrameHashes> = (0..6u64).map(|i| h(i * 0x0101_0101)).collect();
        let recorded: Vec<Option<FrameMotion>> =
            (0..6).map(|i| Some(motion(i as f32 * 5.0))).collect();
        let kept = SeenSession {
            frames: hashes
                .iter()
                .zip(&recorded)
                .map(|(h, m)| SeenFrame {
                    face_hash: h.face.unwrap(),
                    frame_hash: None,
                    motion: *m,
                })
                .collect(),
            doubtful: false,
        };
        let sessions = std::slice::from_ref(&kept);
        // The same frames, the same motion: replayed.
        let replay = judge_replay(&hashes, &recorded, sessions, 4, 1, 0.5, 1);
        assert!(replay.replayed && !replay.seen_before);
        assert_eq!(replay.seen_frames.len(), 6);
        // The same-looking frames, another motion: seen before, not a replay.
        let other: Vec<Option<FrameMotion>> = (0..6)
            .map(|i| Some(motion(30.0 - i as f32 * 4.0)))
            .collect();
        let back = judge_replay(&hashes, &other, sessions, 4, 1, 0.5, 1);
        assert!(!back.replayed && back.seen_before, "{back:?}");
        assert!(back.motion_distance.unwrap() > 0.5);
        // Kept without motion: the hash rule alone.
        let bare = SeenSession::hashes_only(&[hashes[0].face.unwrap()]);
        assert!(judge_replay(&hashes, &other, &[bare], 4, 1, 0.5, 1).replayed);
        // Matching only through the mirrored hash: a mirrored recording.
        let flipped: Vec<FrameHashes> = hashes
            .iter()
            .map(|f| FrameHashes {
                face: f.face_mirrored,
                face_mirrored: f.face,
                ..FrameHashes::default()
            })
            .collect();
        let third = KeptHashes {
            faces: vec![hashes[2].face.unwrap()],
            frames: Vec::new(),
        };
        assert_eq!(mirrored_frames(&flipped, &third, 0), vec![2]);
        assert!(judge_replay(&flipped, &other, sessions, 4, 1, 0.5, 1).replayed);
        // Nothing kept: nothing found.
        assert_eq!(
            judge_replay(&hashes, &other, &[], 4, 1, 0.5, 1),
            ReplayFinding::default()
        );

        // A doubtful session (not approved: maybe a stranger's plant) counts only when its
        // motion is repeated: not through the mirror, the bare hashes or a look-alike.
        let planted = SeenSession {
            doubtful: true,
            ..kept.clone()
        };
        let planted = std::slice::from_ref(&planted);
        assert!(judge_replay(&hashes, &recorded, planted, 4, 1, 0.5, 1).replayed);
        let nothing = |f: ReplayFinding| !f.replayed && !f.seen_before && f.seen_frames.is_empty();
        assert!(nothing(judge_replay(
            &flipped, &other, planted, 4, 1, 0.5, 1
        )));
        assert!(nothing(judge_replay(
            &hashes, &other, planted, 4, 1, 0.5, 1
        )));
        let bare = SeenSession {
            doubtful: true,
            ..SeenSession::hashes_only(&[hashes[0].face.unwrap()])
        };
        assert!(nothing(judge_replay(
            &hashes,
            &other,
            &[bare],
            4,
            1,
            0.5,
            1
        )));
    }
}
