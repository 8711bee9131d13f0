//! Recording the selfie: the prompts follow the head. A [`SelfieRecorder`] keeps frames
//! at the rate the liveness checks were calibrated for, tracks which move of the
//! challenge the person is on from each kept frame's head pose, and stops once the last
//! move is held. The decision itself is the engine's, on the recorded frames; the tracker
//! only says what to ask for next.
//!
//! Keeping a frame and looking at it are separate steps, done by different threads: the
//! camera thread keeps every due frame ([`SelfieRecorder::offer`]) whatever the load, and
//! the analyser looks at the kept frames in order ([`SelfieRecorder::next_to_analyse`],
//! [`SelfieRecorder::observe`]), catching up when it falls behind. A busy device therefore
//! records the same frames as an idle one, and the tracker sees every frame the engine
//! (and the server) will judge: a turn is never lost because the analyser was busy while
//! the head was turned. While the analyser is behind, the prompt for the move lags and
//! the person holds the pose a little longer, which the challenge allows.
//!
//! When the session has a screen light ([`ScreenLight`]), the recorder is its clock: the
//! sequence starts at the first kept frame's timestamp, as the engine counts it, and
//! [`SelfieRecorder::light_at`] says which colour the screen shows at a given time. The
//! recording then ends only once the challenge is complete and frames have been kept past
//! the light's end plus the longest delay the engine searches ([`ScreenLight::record_ms`]).

use std::sync::Arc;

use image::RgbImage;
use reclaim_verify::liveness::{Action, LivenessPolicy};

use crate::guidance::FaceLook;
use crate::light::ScreenLight;
use reclaim_protocol::wire::light::LightColour;

/// Frames are kept at most this often (5 per second, the rate the liveness thresholds
/// were calibrated on).
pub const RECORD_INTERVAL_MS: u64 = 180;
/// The server takes at most this many selfie frames. This also bounds what a recording
/// holds while the analyser catches up.
pub const MAX_FRAMES: usize = reclaim_protocol::wire::limits::MAX_SELFIE_FRAMES;
/// Frames the last move must be held before the recording ends.
const HOLD_FRAMES: usize = 2;

/// One kept frame, still in memory; its JPEG is made once, for the upload.
pub struct RecordedFrame {
    pub image: Arc<RgbImage>,
    pub t_ms: u64,
}

pub struct SelfieRecorder {
    challenge: Vec<Action>,
    light: Option<ScreenLight>,
    policy: LivenessPolicy,
    /// Index of the move asked for now.
    step: usize,
    held: usize,
    baseline_pitch: Option<f32>,
    frames: Vec<RecordedFrame>,
    /// How many of `frames` (from the first) the analyser has looked at.
    analysed: usize,
    first_t: Option<u64>,
    last_t: Option<u64>,
    /// The newest frame time seen, kept or not.
    seen_t: u64,
    last_digest: Option<u64>,
}

impl SelfieRecorder {
    /// A recorder for `challenge`, showing `light` (already checked: see [`ScreenLight`]).
    pub fn new(challenge: &[Action], light: Option<ScreenLight>) -> SelfieRecorder {
        SelfieRecorder {
            challenge: challenge.to_vec(),
            light,
            policy: LivenessPolicy::default(),
            step: 0,
            held: 0,
            baseline_pitch: None,
            frames: Vec::new(),
            analysed: 0,
            first_t: None,
            last_t: None,
            seen_t: 0,
            last_digest: None,
        }
    }

    /// Whether the frame taken at `t_ms` is due to be kept.
    pub fn due(&self, t_ms: u64) -> bool {
        !self.closed()
            && self
                .last_t
                .is_none_or(|last| t_ms >= last + RECORD_INTERVAL_MS)
    }

    /// The camera's side: keeps `image` if it is due, whether or not the analyser is free.
    /// Returns whether it was kept. An exact repeat of the previous kept frame is dropped:
    /// it carries nothing, and a camera (or a file source) that repeats frames would
    /// otherwise look frozen to the liveness check. Every frame offered counts toward the
    /// longest capture, kept or not.
    pub fn offer(&mut self, image: Arc<RgbImage>, t_ms: u64) -> bool {
        if self.closed() {
            return false;
        }
        self.seen_t = self.seen_t.max(t_ms);
        if !self.due(t_ms) {
            return false;
        }
        let digest = frame_digest(&image);
        if self.last_digest == Some(digest) {
            return false;
        }
        self.last_digest = Some(digest);
        self.last_t = Some(t_ms);
        self.first_t.get_or_insert(t_ms);
        self.frames.push(RecordedFrame { image, t_ms });
        true
    }

    /// The analyser's side: the oldest kept frame it has not looked at yet, with its
    /// index, or `None` when it is up to date (or the challenge is complete: the frames
    /// kept after it, for the light, need no prompt).
    pub fn next_to_analyse(&self) -> Option<(usize, Arc<RgbImage>)> {
        if self.challenge_done() {
            return None;
        }
        self.frames
            .get(self.analysed)
            .map(|f| (self.analysed, f.image.clone()))
    }

    /// What the analyser found on kept frame `index` (the one [`Self::next_to_analyse`]
    /// gave): advances the challenge by its head pose. A look for any other frame is
    /// ignored. Once the last move is held, the frames kept after it are dropped, except
    /// those the light still needs: the recording is then exactly what an idle device
    /// would have recorded.
    pub fn observe(&mut self, index: usize, look: &FaceLook) {
        if index != self.analysed || index >= self.frames.len() || self.challenge_done() {
            return;
        }
        self.analysed += 1;
        if let (Some(yaw), Some(pitch)) = (look.yaw, look.pitch) {
            let pitch = pitch - *self.baseline_pitch.get_or_insert(pitch);
            self.advance(yaw, pitch);
        }
        if self.challenge_done() {
            let for_light = match (&self.light, self.first_t) {
                (None, _) => 0,
                (Some(light), Some(first)) => self
                    .frames
                    .iter()
                    .position(|f| f.t_ms.saturating_sub(first) >= light.record_ms())
                    .map_or(self.frames.len(), |i| i + 1),
                (Some(_), None) => self.frames.len(),
            };
            self.frames.truncate(self.analysed.max(for_light));
            if let Some(last) = self.frames.last() {
                self.last_t = Some(last.t_ms);
            }
        }
    }

    /// Keeps `image` and, when the analyser is up to date, looks at it at once: both
    /// steps on one thread (tests, and callers without a backlog).
    pub fn record(&mut self, image: RgbImage, t_ms: u64, look: &FaceLook) {
        if self.offer(Arc::new(image), t_ms) && self.analysed + 1 == self.frames.len() {
            self.observe(self.analysed, look);
        }
    }

    /// Kept frames the analyser has not looked at yet (none once the challenge is
    /// complete: it has nothing more to look for).
    pub fn backlog(&self) -> usize {
        if self.challenge_done() {
            return 0;
        }
        self.frames.len().saturating_sub(self.analysed)
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

    /// Every move made, the last one held, on the frames analysed so far.
    fn challenge_done(&self) -> bool {
        self.step >= self.challenge.len()
    }

    /// Frames kept past the light's end plus the longest delay (or there is no light).
    fn light_done(&self) -> bool {
        match (&self.light, self.first_t, self.last_t) {
            (None, _, _) => true,
            (Some(light), Some(first), Some(last)) => {
                last.saturating_sub(first) >= light.record_ms()
            }
            (Some(_), _, _) => false,
        }
    }

    /// The recording holds all it needs: the challenge and the whole light.
    fn complete(&self) -> bool {
        self.challenge_done() && self.light_done()
    }

    /// The colour the screen shows at `t_ms` (the camera's clock, as frames are stamped):
    /// none before the first kept frame, after the sequence, or once nothing more is kept.
    pub fn light_at(&self, t_ms: u64) -> Option<LightColour> {
        let light = self.light.as_ref()?;
        let first = self.first_t?;
        if t_ms < first || self.closed() {
            return None;
        }
        light.at(t_ms - first)
    }

    /// Whether this recording shows a light.
    pub fn has_light(&self) -> bool {
        self.light.is_some()
    }

    /// No more frames are kept: the challenge is complete, the frame budget spent, or the
    /// longest capture the liveness check accepts gone by (a person who stopped following
    /// the prompts, a camera repeating one frame).
    fn closed(&self) -> bool {
        self.complete()
            || self.frames.len() >= MAX_FRAMES
            || self.first_t.is_some_and(|first| {
                self.seen_t.saturating_sub(first) >= self.policy.max_duration_ms
            })
    }

    /// The recording is over: the challenge complete, or no more frames kept and every
    /// kept frame analysed (the engine then says what was missing).
    pub fn done(&self) -> bool {
        self.complete() || (self.closed() && self.backlog() == 0)
    }

    /// How far the recording is: the lesser of the moves made and the light's time
    /// recorded.
    pub fn progress(&self) -> f32 {
        let moves = if self.challenge.is_empty() {
            1.0
        } else {
            (self.step as f32 / self.challenge.len() as f32).min(1.0)
        };
        let light = match (&self.light, self.first_t, self.last_t) {
            (None, _, _) => 1.0,
            (Some(light), Some(first), Some(last)) => {
                (last.saturating_sub(first) as f32 / light.record_ms() as f32).min(1.0)
            }
            (Some(_), _, _) => 0.0,
        };
        moves.min(light)
    }

    /// The prompt for the move asked for now; once every move is made and the light still
    /// runs, to face the screen (which lights the face best).
    pub fn prompt(&self) -> Option<&'static str> {
        if self.challenge_done() && !self.complete() {
            return Some("look_center");
        }
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
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Right, Action::Center], None);
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
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], None);
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
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], None);
        for i in 0..(MAX_FRAMES as u64 + 10) {
            r.record(frame((i % 250) as u8), i * 200, &look(0.0));
        }
        assert!(r.done());
        assert_eq!(r.frames().len(), MAX_FRAMES);
        assert!(r.progress() < 1.0);
    }

    #[test]
    fn a_recording_ends_when_the_longest_capture_has_gone_by() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], None);
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
    fn every_frame_kept_while_the_analyser_is_behind_is_looked_at_in_order() {
        // The camera keeps eight frames before the analyser looks at any: the turn is
        // in two of them only.
        let yaws = [0.0, 5.0, 22.0, 24.0, 3.0, -20.0, -25.0, 1.0, 0.5, 0.2, 0.1];
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Right, Action::Center], None);
        for (i, _) in yaws.iter().enumerate().take(8) {
            assert!(r.offer(Arc::new(frame(i as u8 + 1)), i as u64 * 200));
        }
        assert_eq!(r.backlog(), 8);
        assert_eq!(r.prompt(), Some("turn_left"));
        // A look for a frame other than the next one is ignored.
        r.observe(3, &look(22.0));
        assert_eq!(r.backlog(), 8);
        let mut seen = 0;
        while let Some((index, _)) = r.next_to_analyse() {
            r.observe(index, &look(yaws[index]));
            seen += 1;
            if index == 7 {
                // The analyser caught up while the camera went on.
                for i in 8..yaws.len() {
                    r.offer(Arc::new(frame(i as u8 + 1)), i as u64 * 200);
                }
            }
        }
        assert!(r.done());
        assert_eq!(
            seen, 9,
            "every kept frame up to the held centre was looked at"
        );
        assert_eq!(
            r.frames().len(),
            9,
            "frames kept after the last move was held are dropped"
        );
        assert!(
            !r.offer(Arc::new(frame(99)), 5000),
            "nothing kept once done"
        );
    }

    #[test]
    fn a_recording_closed_by_time_ends_only_once_its_frames_are_analysed() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], None);
        r.offer(Arc::new(frame(1)), 0);
        r.offer(Arc::new(frame(2)), 200);
        // The camera goes on far past the longest capture; nothing more is kept.
        assert!(!r.offer(Arc::new(frame(3)), 15_000));
        assert!(!r.done(), "two kept frames still wait for the analyser");
        while let Some((index, _)) = r.next_to_analyse() {
            r.observe(index, &look(0.0));
        }
        assert!(r.done());
        assert_eq!(r.frames().len(), 2);
    }

    /// Cyan 450 ms, amber 350, green 600: 1400 ms, recorded to 1800 ms after the first
    /// frame.
    fn light() -> ScreenLight {
        use reclaim_protocol::wire::light::{LightSequence, LightStep};
        let step = |colour, ms| LightStep { colour, ms };
        ScreenLight::new(&LightSequence {
            steps: vec![
                step(LightColour::Cyan, 450),
                step(LightColour::Amber, 350),
                step(LightColour::Green, 600),
            ],
        })
        .unwrap()
    }

    #[test]
    fn the_light_starts_at_the_first_kept_frame_and_the_recording_outlasts_it() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], Some(light()));
        assert!(r.has_light());
        assert_eq!(r.light_at(1000), None, "nothing is shown before recording");
        // The first frame is kept at 1000 ms on the camera's clock: the light's zero.
        let yaws = [22.0, 0.0, 0.0];
        for (i, yaw) in yaws.iter().enumerate() {
            r.record(frame(i as u8 + 1), 1000 + i as u64 * 200, &look(*yaw));
        }
        assert_eq!(r.light_at(999), None);
        assert_eq!(r.light_at(1000), Some(LightColour::Cyan));
        assert_eq!(r.light_at(1449), Some(LightColour::Cyan));
        assert_eq!(r.light_at(1450), Some(LightColour::Amber));
        assert_eq!(r.light_at(1799), Some(LightColour::Amber));
        assert_eq!(r.light_at(1800), Some(LightColour::Green));
        assert_eq!(r.light_at(2399), Some(LightColour::Green));
        assert_eq!(r.light_at(2400), None, "grey again after the last step");
        // The challenge is complete at 1400 ms; the light is not recorded whole yet.
        assert!(!r.done());
        assert_eq!(r.backlog(), 0, "the analyser has nothing more to look for");
        assert!(r.next_to_analyse().is_none());
        assert_eq!(r.prompt(), Some("look_center"));
        assert!((r.progress() - 400.0 / 1800.0).abs() < 1e-6);
        // Frames go on being kept until 1800 ms after the first: 2800 ms.
        let mut t = 1400;
        while !r.done() {
            t += 200;
            assert!(
                t <= 2800,
                "the recording went past the light's end and the tail"
            );
            assert!(r.due(t));
            r.record(frame((t / 200) as u8 + 10), t, &look(0.0));
        }
        assert_eq!(t, 2800);
        assert_eq!(r.frames().len(), 10);
        assert_eq!(r.frames().last().map(|f| f.t_ms), Some(2800));
        assert!((r.progress() - 1.0).abs() < 1e-6);
        assert_eq!(r.prompt(), None);
        assert!(!r.due(3000));
        assert_eq!(r.light_at(1500), None, "nothing is shown once recorded");
    }

    #[test]
    fn without_a_light_the_recording_ends_with_the_challenge() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], None);
        for (i, yaw) in [22.0, 0.0, 0.0].iter().enumerate() {
            r.record(frame(i as u8 + 1), 1000 + i as u64 * 200, &look(*yaw));
        }
        assert!(r.done());
        assert_eq!(r.frames().len(), 3);
        assert_eq!(r.light_at(1000), None);
    }

    #[test]
    fn frames_kept_while_the_analyser_is_behind_stop_where_the_light_is_covered() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], Some(light()));
        // Sixteen frames, 0 to 3000 ms, kept before the analyser looks at any.
        for i in 0..16u64 {
            assert!(r.offer(Arc::new(frame(i as u8 + 1)), i * 200));
        }
        let yaws = [22.0, 0.0, 0.0];
        while let Some((index, _)) = r.next_to_analyse() {
            r.observe(index, &look(yaws.get(index).copied().unwrap_or(0.0)));
        }
        assert!(r.done());
        // Up to the first frame at or past 1800 ms, as an idle device would have kept.
        assert_eq!(r.frames().len(), 10);
        assert_eq!(r.frames().last().map(|f| f.t_ms), Some(1800));
    }

    #[test]
    fn a_light_never_recorded_whole_still_ends_the_recording() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], Some(light()));
        for (i, yaw) in [22.0, 0.0, 0.0].iter().enumerate() {
            r.record(frame(i as u8 + 1), i as u64 * 200, &look(*yaw));
        }
        // The camera repeats its last frame from then on: nothing more is kept...
        for t in (600..15_000).step_by(200) {
            r.record(frame(3), t, &look(0.0));
        }
        assert!(!r.done());
        r.record(frame(3), 15_000, &look(0.0));
        // ...and the recording still ends, for the engine to judge.
        assert!(r.done());
        assert_eq!(r.frames().len(), 3);
        assert_eq!(r.light_at(200), None, "nothing is shown once it has ended");
    }

    #[test]
    fn frames_without_a_face_are_kept_but_do_not_advance() {
        let mut r = SelfieRecorder::new(&[Action::Left, Action::Center], None);
        r.record(frame(1), 0, &FaceLook::default());
        assert_eq!(r.prompt(), Some("turn_left"));
        assert_eq!(r.frames().len(), 1);
    }
}
