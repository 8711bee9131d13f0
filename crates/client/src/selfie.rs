//! Recording the selfie: the prompts follow the head. A [`SelfieRecorder`] keeps frames
//! at the rate the liveness checks were calibrated for, tracks which move of the
//! challenge the person is on from each frame's head pose, and stops once the last move
//! is held. The decision itself is the engine's, on the recorded frames; the tracker only
//! says what to ask for next.

use image::RgbImage;
use reclaim_verify::liveness::{Action, LivenessPolicy};

use crate::guidance::FaceLook;

/// Frames are kept at most this often (5 per second, the rate the liveness thresholds
/// were calibrated on).
pub const RECORD_INTERVAL_MS: u64 = 180;
/// The server takes at most 60 selfie frames.
pub const MAX_FRAMES: usize = 60;
/// Frames the last move must be held before the recording ends.
const HOLD_FRAMES: usize = 2;

/// One kept frame, still in memory; its JPEG is made once, for the upload.
pub struct RecordedFrame {
    pub image: RgbImage,
    pub t_ms: u64,
}

pub struct SelfieRecorder {
    challenge: Vec<Action>,
    policy: LivenessPolicy,
    /// Index of the move asked for now.
    step: usize,
    held: usize,
    baseline_pitch: Option<f32>,
    frames: Vec<RecordedFrame>,
    first_t: Option<u64>,
    last_t: Option<u64>,
    /// The newest frame time seen, kept or not.
    seen_t: u64,
    last_digest: Option<u64>,
}

impl SelfieRecorder {
    pub fn new(challenge: &[Action]) -> SelfieRecorder {
        SelfieRecorder {
            challenge: challenge.to_vec(),
            policy: LivenessPolicy::default(),
            step: 0,
            held: 0,
            baseline_pitch: None,
            frames: Vec::new(),
            first_t: None,
            last_t: None,
            seen_t: 0,
            last_digest: None,
        }
    }

    /// Whether the frame taken at `t_ms` is due to be kept.
    pub fn due(&self, t_ms: u64) -> bool {
        !self.done()
            && self
                .last_t
                .is_none_or(|last| t_ms >= last + RECORD_INTERVAL_MS)
    }

    /// Keeps `frame` and advances the challenge by its head pose. An exact repeat of the
    /// previous frame is dropped: it carries nothing, and a camera (or a file source)
    /// that repeats frames would otherwise look frozen to the liveness check.
    pub fn record(&mut self, image: RgbImage, t_ms: u64, look: &FaceLook) {
        if self.done() {
            return;
        }
        self.seen_t = self.seen_t.max(t_ms);
        let digest = frame_digest(&image);
        if self.last_digest == Some(digest) {
            return;
        }
        self.last_digest = Some(digest);
        self.last_t = Some(t_ms);
        self.first_t.get_or_insert(t_ms);
        self.frames.push(RecordedFrame { image, t_ms });
        if let (Some(yaw), Some(pitch)) = (look.yaw, look.pitch) {
            let pitch = pitch - *self.baseline_pitch.get_or_insert(pitch);
            self.advance(yaw, pitch);
        }
    }

    fn advance(&mut self, yaw: f32, pitch: f32) {
        let Some(want) = self.challenge.get(self.step).copied() else {
            return;
        };
        if self.pose_is(want, yaw, pitch) {
            self.held += 1;
            let last = self.step + 1 == self.challenge.len();
            if !last || self.held >= HOLD_FRAMES {
                self.step += 1;
                self.held = 0;
            }
        } else {
            self.held = 0;
        }
    }

    fn pose_is(&self, want: Action, yaw: f32, pitch: f32) -> bool {
        let p = &self.policy;
        match want {
            Action::Left => yaw >= p.turn_yaw_deg,
            Action::Right => yaw <= -p.turn_yaw_deg,
            Action::Up => pitch >= p.turn_pitch_deg,
            Action::Down => pitch <= -p.turn_pitch_deg,
            Action::Center => yaw.abs() < p.center_max_deg && pitch.abs() < p.center_max_deg,
        }
    }

    /// Every move made (the last one held), the frame budget spent, or the longest
    /// capture the liveness check accepts gone by (a person who stopped following the
    /// prompts, a camera repeating one frame): the engine then says what was missing.
    pub fn done(&self) -> bool {
        self.step >= self.challenge.len()
            || self.frames.len() >= MAX_FRAMES
            || self.first_t.is_some_and(|first| {
                self.seen_t.saturating_sub(first) >= self.policy.max_duration_ms
            })
    }

    pub fn progress(&self) -> f32 {
        if self.challenge.is_empty() {
            return 1.0;
        }
        (self.step as f32 / self.challenge.len() as f32).min(1.0)
    }

    /// The prompt for the move asked for now.
    pub fn prompt(&self) -> Option<&'static str> {
        self.challenge.get(self.step).map(|a| match a {
            Action::Left => "turn_left",
            Action::Right => "turn_right",
            Action::Up => "look_up",
            Action::Down => "look_down",
            Action::Center => "look_center",
        })
    }

    pub fn frames(&self) -> &[RecordedFrame] {
        &self.frames
    }

    pub fn into_frames(self) -> Vec<RecordedFrame> {
        self.frames
    }
}

/// A cheap fingerprint of a frame (FNV-1a over a sparse sample of its pixels).
fn frame_digest(image: &RgbImage) -> u64 {
    let raw = image.as_raw();
    let step = (raw.len() / 4096).max(1);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in raw.iter().step_by(step) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ (raw.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(yaw: f32) -> FaceLook {
        FaceLook {
            yaw: Some(yaw),
            pitch: Some(0.0),
            ..FaceLook::default()
        }
    }

    fn frame(shade: u8) -> RgbImage {
        RgbImage::from_pixel(8, 8, image::Rgb([shade, shade, shade]))
    }

    #[test]
    fn prompts_follow_the_head_through_the_challenge() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Right, Action::Center]);
        let mut t = 0;
        let mut shade = 0u8;
        let mut feed = |r: &mut SelfieRecorder, yaw: f32| {
            t += 200;
            shade += 1;
            assert!(r.due(t));
            r.record(frame(shade), t, &look(yaw));
        };
        assert_eq!(r.prompt(), Some("turn_left"));
        feed(&mut r, 0.0);
        feed(&mut r, -20.0); // the wrong way: still asked to turn left
        assert_eq!(r.prompt(), Some("turn_left"));
        feed(&mut r, 22.0);
        assert_eq!(r.prompt(), Some("turn_right"));
        assert!((r.progress() - 1.0 / 3.0).abs() < 1e-6);
        feed(&mut r, -25.0);
        assert_eq!(r.prompt(), Some("look_center"));
        feed(&mut r, 1.0);
        assert!(!r.done(), "the last move must be held");
        feed(&mut r, 2.0);
        assert!(r.done());
        assert_eq!(r.frames().len(), 6);
        assert!(!r.due(t + 1000), "nothing more is kept once done");
    }

    #[test]
    fn frames_are_kept_at_the_calibrated_rate_and_repeats_dropped() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center]);
        r.record(frame(1), 0, &look(0.0));
        assert!(!r.due(100), "30 fps frames in between are not kept");
        assert!(r.due(RECORD_INTERVAL_MS));
        r.record(frame(1), 200, &look(0.0));
        assert_eq!(r.frames().len(), 1, "an exact repeat is dropped");
        r.record(frame(2), 400, &look(0.0));
        assert_eq!(r.frames().len(), 2);
    }

    #[test]
    fn the_frame_budget_ends_a_recording_that_never_completes() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center]);
        for i in 0..(MAX_FRAMES as u64 + 10) {
            r.record(frame((i % 250) as u8), i * 200, &look(0.0));
        }
        assert!(r.done());
        assert_eq!(r.frames().len(), MAX_FRAMES);
        assert!(r.progress() < 1.0);
    }

    #[test]
    fn a_recording_ends_when_the_longest_capture_has_gone_by() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center]);
        r.record(frame(1), 0, &look(0.0));
        // The camera repeats one frame from then on: nothing more is kept...
        for t in (200..15_000).step_by(200) {
            r.record(frame(1), t, &look(0.0));
        }
        assert!(!r.done());
        r.record(frame(1), 15_000, &look(0.0));
        // ...and the recording still ends, for the engine to judge.
        assert!(r.done());
        assert_eq!(r.frames().len(), 1);
    }

    #[test]
    fn frames_without_a_face_are_kept_but_do_not_advance() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center]);
        r.record(frame(1), 0, &FaceLook::default());
        assert_eq!(r.prompt(), Some("turn_left"));
        assert_eq!(r.frames().len(), 1);
    }
}
