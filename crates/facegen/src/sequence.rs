//! Genuine selfie sequences: a person performing a liveness challenge ("left, right,
//! center") in front of a webcam, with the irregularity of a real head and a real camera.
//!
//! The motion is planned first as a pose curve ([`plan`]) and then rendered, so attacks
//! can reuse the same curve (a face swap changes only the identity; a print attack moves
//! a sheet through the same challenge).
//!
//! Sampling: frames are taken at `fps` (default [`DEFAULT_FPS`], 5 per second), which
//! gives about 15-20 frames for a 3-action challenge; the number of frames follows from
//! the challenge's random timing. Timestamps start at 0 ms and carry up to +-5 ms of
//! jitter, as a browser's frame callbacks do.

use std::fmt;
use std::str::FromStr;

use image::RgbImage;
use reclaim_docgen::Rng;

use crate::camera::Camera;
use crate::head::{project_landmarks, render, render_with_coverage, HeadModel, Pose};
use crate::FacegenError;

pub use crate::lit::{genuine_lit, render_lit, LitSequence};

/// Frames per second used by the command line and recommended for tests.
pub const DEFAULT_FPS: f32 = 5.0;

/// One step of a challenge, from the person's point of view: `Left` is turning to their
/// own left (the nose moves to the image's right in an unmirrored frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Left,
    Right,
    Up,
    Down,
    Center,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Left,
        Action::Right,
        Action::Up,
        Action::Down,
        Action::Center,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Left => "left",
            Action::Right => "right",
            Action::Up => "up",
            Action::Down => "down",
            Action::Center => "center",
        }
    }

    /// The sign of the yaw and pitch the action asks for.
    fn direction(self) -> (f32, f32) {
        match self {
            Action::Left => (1.0, 0.0),
            Action::Right => (-1.0, 0.0),
            Action::Up => (0.0, 1.0),
            Action::Down => (0.0, -1.0),
            Action::Center => (0.0, 0.0),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = FacegenError;

    /// "left", "right", "up", "down", "center" (or "centre"), any case.
    fn from_str(s: &str) -> Result<Action, FacegenError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "left" => Ok(Action::Left),
            "right" => Ok(Action::Right),
            "up" => Ok(Action::Up),
            "down" => Ok(Action::Down),
            "center" | "centre" => Ok(Action::Center),
            _ => Err(FacegenError::UnknownAction(s.to_string())),
        }
    }
}

/// A comma-separated challenge such as "left,right,center".
pub fn parse_challenge(s: &str) -> Result<Vec<Action>, FacegenError> {
    s.split(',')
        .filter(|w| !w.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// One camera frame and when it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub image: RgbImage,
    pub timestamp_ms: u64,
}

/// A planned motion: the pose at each frame and the frame's timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Motion {
    pub poses: Vec<Pose>,
    pub timestamps_ms: Vec<u64>,
}

/// How human the motion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Random timing and amplitudes, tremor, drift, jittered timestamps.
    Human,
    /// Fixed timing and amplitudes, perfectly smooth, exactly regular timestamps.
    Perfect,
}

pub(crate) fn check_fps(fps: f32) -> Result<(), FacegenError> {
    if fps.is_finite() && (1.0..=60.0).contains(&fps) {
        Ok(())
    } else {
        Err(FacegenError::BadParameter(format!("fps {fps} (1 to 60)")))
    }
}

/// Plans the head's motion through `actions` sampled at `fps`.
///
/// The head starts roughly frontal; each action is an eased turn (0.4-0.9 s) to its peak
/// (yaw 22-35 degrees for left/right, pitch 15-25 for up/down, about 0 for center) and a
/// hold (0.2-0.5 s); from one turn to another the head goes straight on (0.5-1 s), so
/// left to right sweeps through the centre. `Style::Human` adds tremor (0.5-1.5 degrees), a pixel or two of sway, a slow
/// lean (scale drift) and a small roll.
pub fn plan(
    actions: &[Action],
    fps: f32,
    style: Style,
    rng: &mut Rng,
) -> Result<Motion, FacegenError> {
    check_fps(fps)?;
    let human = style == Style::Human;
    let mut pick = |lo: f32, hi: f32| {
        if human {
            rng.range(lo, hi)
        } else {
            (lo + hi) / 2.0
        }
    };
    // Keyframes (time s, yaw, pitch); motion between them is eased in and out.
    let mut keys: Vec<(f32, f32, f32)> = Vec::new();
    let start = (pick(-3.0, 3.0), pick(-3.0, 3.0));
    keys.push((0.0, start.0, start.1));
    let mut t = pick(0.1, 0.3);
    keys.push((t, start.0, start.1));
    let mut previous: Option<Action> = None;
    for &action in actions {
        // From one turn straight into another (left to right passes the centre on the
        // way), which takes a little longer than a turn from the centre.
        let from_turn = previous.is_some_and(|p| p != Action::Center);
        let (dy, dp) = action.direction();
        let target = (
            dy * pick(22.0, 35.0) + if dy == 0.0 { pick(-3.0, 3.0) } else { 0.0 },
            dp * pick(15.0, 25.0) + if dp == 0.0 { pick(-3.0, 3.0) } else { 0.0 },
        );
        t += if from_turn {
            pick(0.5, 1.0)
        } else {
            pick(0.4, 0.9)
        };
        keys.push((t, target.0, target.1));
        t += pick(0.2, 0.5);
        keys.push((t, target.0 + pick(-1.0, 1.0), target.1 + pick(-1.0, 1.0)));
        previous = Some(action);
    }
    t += pick(0.0, 0.15);
    if let Some(&(_, y, p)) = keys.last() {
        keys.push((t, y, p));
    }

    let frames = (t * fps).floor() as usize + 1;
    let tremor = pick(0.5, 1.5);
    let sway = pick(0.7, 2.0);
    let lean = pick(-0.02, 0.02);
    let base_roll = pick(-3.0, 3.0);
    // AR(1) tremor: correlated from frame to frame, as a hand-free head's is.
    let keep = 0.6f32;
    let spread = (1.0 - keep * keep).sqrt();
    let mut noise = [0.0f32; 5];
    let mut poses = Vec::with_capacity(frames);
    let mut timestamps_ms = Vec::with_capacity(frames);
    let mut last_ms: Option<u64> = None;
    for i in 0..frames {
        let nominal = i as f32 * 1000.0 / fps;
        let jitter = if human && i > 0 {
            rng.range(-5.0, 5.0)
        } else {
            0.0
        };
        let mut ms = (nominal + jitter).round().max(0.0) as u64;
        if let Some(last) = last_ms {
            ms = ms.max(last + 1);
        }
        last_ms = Some(ms);
        let time = ms as f32 / 1000.0;
        let (yaw, pitch) = eased(&keys, time);
        if human {
            for (k, n) in noise.iter_mut().enumerate() {
                let amp = if k < 3 { tremor } else { sway };
                *n = keep * *n + spread * amp * rng.gaussian();
            }
        }
        let pose = Pose {
            yaw_deg: yaw + noise[0],
            pitch_deg: pitch + noise[1],
            roll_deg: if human {
                base_roll + 0.5 * noise[2]
            } else {
                0.0
            },
            shift: [noise[3], noise[4]],
            scale: 1.0 + lean * time,
        };
        poses.push(pose);
        timestamps_ms.push(ms);
    }
    Ok(Motion {
        poses,
        timestamps_ms,
    })
}

/// Yaw and pitch at `t` on the keyframe curve, eased (cosine) between keyframes.
fn eased(keys: &[(f32, f32, f32)], t: f32) -> (f32, f32) {
    let Some(&(t0, y0, p0)) = keys.first() else {
        return (0.0, 0.0);
    };
    if t <= t0 {
        return (y0, p0);
    }
    for pair in keys.windows(2) {
        let ((ta, ya, pa), (tb, yb, pb)) = (pair[0], pair[1]);
        if t <= tb {
            let span = (tb - ta).max(1e-6);
            let s = ((t - ta) / span).clamp(0.0, 1.0);
            let e = 0.5 - 0.5 * (std::f32::consts::PI * s).cos();
            return (ya + (yb - ya) * e, pa + (pb - pa) * e);
        }
    }
    keys.last().map_or((0.0, 0.0), |&(_, y, p)| (y, p))
}

/// Renders `motion` with `model`; with a camera, each frame also gets its motion blur,
/// exposure, noise and JPEG. `model_at(i)` picks the head for frame i (a face swap
/// changes it halfway).
pub(crate) fn shoot<'a>(
    model_at: impl Fn(usize) -> &'a HeadModel,
    motion: &Motion,
    camera: Option<&Camera>,
    rng: &mut Rng,
) -> Vec<Frame> {
    let mut previous_nose: Option<[f32; 2]> = None;
    motion
        .poses
        .iter()
        .zip(&motion.timestamps_ms)
        .enumerate()
        .map(|(i, (pose, &timestamp_ms))| {
            let model = model_at(i);
            let image = match camera {
                Some(cam) => {
                    let nose = project_landmarks(model, pose)[2];
                    let moved =
                        previous_nose.map_or([0.0, 0.0], |p| [nose[0] - p[0], nose[1] - p[1]]);
                    previous_nose = Some(nose);
                    let scene = render_with_coverage(model, pose);
                    cam.shoot(&scene.image, moved, Some(&scene.coverage), rng)
                }
                None => render(model, pose),
            };
            Frame {
                image,
                timestamp_ms,
            }
        })
        .collect()
}

/// A genuine sequence: the person in `model` performs `actions` in front of a webcam,
/// sampled at `fps` (1-60; [`DEFAULT_FPS`] gives 15-20 frames for three actions).
pub fn genuine(
    model: &HeadModel,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<Vec<Frame>, FacegenError> {
    genuine_with_motion(model, actions, fps, rng).map(|(frames, _)| frames)
}

/// As [`genuine`], with the motion rendered (the true pose of every frame; see
/// [`crate::project_landmarks`] for where the landmarks went).
pub fn genuine_with_motion(
    model: &HeadModel,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<(Vec<Frame>, Motion), FacegenError> {
    let motion = plan(actions, fps, Style::Human, rng)?;
    let camera = Camera::webcam(rng);
    let frames = shoot(|_| model, &motion, Some(&camera), rng);
    Ok((frames, motion))
}

/// Renders a planned motion through `camera` (None: the clean render, as a puppet).
pub fn render_motion(
    model: &HeadModel,
    motion: &Motion,
    camera: Option<&Camera>,
    rng: &mut Rng,
) -> Vec<Frame> {
    shoot(|_| model, motion, camera, rng)
}

/// Timestamps `i * 1000 / fps` ms, rounded: exactly regular.
pub(crate) fn regular_timestamps(n: usize, fps: f32) -> Vec<u64> {
    (0..n)
        .map(|i| (i as f64 * 1000.0 / f64::from(fps)).round() as u64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_and_print() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
        }
        assert_eq!(
            parse_challenge("Left, right,center"),
            Ok(vec![Action::Left, Action::Right, Action::Center])
        );
        assert!(parse_challenge("left,sideways").is_err());
    }

    #[test]
    fn a_plan_goes_where_the_challenge_says_in_order() {
        let actions = [Action::Left, Action::Right, Action::Up, Action::Center];
        for seed in 0..20 {
            let mut rng = Rng::new(seed);
            let m = plan(&actions, DEFAULT_FPS, Style::Human, &mut rng).unwrap();
            assert!(m.timestamps_ms.windows(2).all(|w| w[0] < w[1]));
            let yaw: Vec<f32> = m.poses.iter().map(|p| p.yaw_deg).collect();
            let pitch: Vec<f32> = m.poses.iter().map(|p| p.pitch_deg).collect();
            let left = yaw.iter().position(|&y| y > 18.0).unwrap();
            let right = yaw.iter().position(|&y| y < -18.0).unwrap();
            let up = pitch.iter().position(|&p| p > 11.0).unwrap();
            assert!(left < right && right < up, "seed {seed}: {yaw:?} {pitch:?}");
            assert!(yaw.last().unwrap().abs() < 8.0 && pitch.last().unwrap().abs() < 8.0);
        }
    }

    #[test]
    fn three_actions_take_about_fifteen_frames() {
        let actions = [Action::Left, Action::Right, Action::Center];
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let n = plan(&actions, DEFAULT_FPS, Style::Human, &mut rng)
                .unwrap()
                .poses
                .len();
            assert!((12..=21).contains(&n), "seed {seed}: {n} frames");
        }
    }

    #[test]
    fn a_perfect_plan_is_regular() {
        let mut rng = Rng::new(1);
        let m = plan(&[Action::Up, Action::Down], 5.0, Style::Perfect, &mut rng).unwrap();
        assert_eq!(m.timestamps_ms, regular_timestamps(m.poses.len(), 5.0));
        assert!(m
            .poses
            .iter()
            .all(|p| p.roll_deg == 0.0 && p.shift == [0.0, 0.0]));
    }

    #[test]
    fn bad_frame_rates_are_errors() {
        let mut rng = Rng::new(1);
        for fps in [0.0, -3.0, f32::NAN, 1000.0] {
            assert!(plan(&[Action::Left], fps, Style::Human, &mut rng).is_err());
        }
    }
}
