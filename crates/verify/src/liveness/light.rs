//! The screen-light check: did the face reflect the colours the screen showed, when it
//! showed them, and unevenly as a three-dimensional face does?
//!
//! While the selfie is recorded, the app fills the screen with the session's drawn
//! sequence of colours ([`reclaim_protocol::LightSequence`]). The screen lights the face
//! from the front; a recording made for another session shows other colours at other
//! times, an injected video shows none, and a print or a uniform tint shows them evenly.
//!
//! **What is measured** ([`LightSample`], per frame): the mean linear-light colour of
//! seven skin cells placed from the landmarks (forehead, nose bridge, inner and outer
//! cheeks, chin) and of the background above and beside the head. Each cell's colour is
//! taken as log-chromaticity relative to the background (`ln cell - ln background`, less
//! its mean over the three channels), which removes what changes every pixel alike: the
//! camera's exposure and white balance, the room's light level, and a tint laid over the
//! whole frame. For a diffuse surface lit by the room and, weakly, by the screen, this
//! chromaticity moves with the screen colour's chromaticity scaled by
//! `E_screen cos(screen angle) / (E_room cos(room angle))`: the skin's own colour cancels,
//! so the same rule holds for every skin tone.
//!
//! **The timing test**: the central cells' chromaticity, detrended (slow drifts of white
//! balance and of the head's shading are not the light), is correlated with the predicted
//! screen chromaticity at each latency from [`LATENCIES_MS`] (the frame shows the screen
//! as it was a display-and-camera delay earlier), and the best latency kept. The same is
//! done for [`NULL_SEQUENCES`] other sequences drawn by the server's own generator (same
//! step count, fixed seed): the session's sequence must correlate at least
//! `light_min_correlation` and better than every one of them, so a capture made under
//! another sequence passes with probability about 1 in `NULL_SEQUENCES + 1` at most.
//!
//! **The shape test**: a head turned to one side brings one cheek to face the screen and
//! the other away, so the light's gain on the two sides swings with the yaw; on a flat
//! surface (a print, a screen held up, a tint) both sides keep one gain. The gain of each
//! side is fitted as `k0 + k1 * yaw / 30 degrees`; the swing `(k1 left - k1 right) /
//! (k0 left + k0 right)` must reach `light_min_swing` when the policy sets one (by default
//! it is reported only: on generated captures it did not yet separate a lit head from a
//! tint laid over the face).
//!
//! When the chromaticity barely moves at all (a bright room swamps the screen's light, or
//! the screen is dim) the check says so, `liveness_light_insufficient`, a retake hint,
//! instead of guessing which way it went.

use image::RgbImage;
use reclaim_protocol::wire::challenge::{draw, ChallengeSpec};
use reclaim_protocol::{LightColour, LightSequence};
use serde::Serialize;

use super::observe::FrameObservation;
use super::LivenessPolicy;

/// Latencies tried between the screen and a frame's timestamp, in milliseconds: a frame
/// is delivered after it was exposed (a webcam pipeline: 30 to 150 ms) and a colour is
/// shown a frame or two after it was asked for. Negative ones cover an app whose clock
/// starts the light a little after its first frame.
pub const LATENCIES_MS: [i32; 27] = [
    -120, -100, -80, -60, -40, -20, 0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220, 240, 260,
    280, 300, 320, 340, 360, 380, 400,
];

/// How many other sequences each capture is also compared with.
pub const NULL_SEQUENCES: usize = 99;

/// Exposure assumed when predicting a frame's light, in milliseconds: a frame taken as
/// the colour changes shows both.
const EXPOSURE_MS: f64 = 40.0;

/// The skin cells, in face coordinates: `(across, down, radius)`; across in eye
/// distances from the eyes' midpoint (negative toward the image's left), down in
/// eye-to-mouth distances from the eye line, radius in eye distances.
const CELLS: [(f32, f32, f32); 7] = [
    (0.0, -0.45, 0.20),  // forehead
    (0.0, 0.28, 0.09),   // nose bridge
    (-0.45, 0.62, 0.15), // inner cheek, image left
    (0.45, 0.62, 0.15),  // inner cheek, image right
    (-0.82, 0.50, 0.11), // outer cheek, image left
    (0.82, 0.50, 0.11),  // outer cheek, image right
    (0.0, 1.35, 0.13),   // chin
];
const CENTRAL: [usize; 4] = [0, 1, 2, 3];
const LEFT_SIDE: [usize; 2] = [2, 4];
const RIGHT_SIDE: [usize; 2] = [3, 5];

/// The light a frame showed: mean linear RGB of each skin cell and of the background.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LightSample {
    pub cells: [[f32; 3]; 7],
    pub background: [f32; 3],
}

/// sRGB to linear light, for 8-bit values.
fn linear_table() -> &'static [f32; 256] {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let c = i as f32 / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
    })
}

impl LightSample {
    /// Measures `image` around the face with these landmarks (detector order: eyes,
    /// nose, mouth corners) and box. `None` when a cell falls outside the frame or the
    /// background has too few pixels.
    pub fn of(image: &RgbImage, landmarks: &[[f32; 2]; 5], bbox: [f32; 4]) -> Option<LightSample> {
        if landmarks.iter().flatten().any(|v| !v.is_finite()) || bbox.iter().any(|v| !v.is_finite())
        {
            return None;
        }
        let (w, h) = image.dimensions();
        let lin = linear_table();
        let [l_eye, r_eye, _, l_mouth, r_mouth] = *landmarks;
        let eyes = [(l_eye[0] + r_eye[0]) / 2.0, (l_eye[1] + r_eye[1]) / 2.0];
        let mouth = [
            (l_mouth[0] + r_mouth[0]) / 2.0,
            (l_mouth[1] + r_mouth[1]) / 2.0,
        ];
        let across = [r_eye[0] - l_eye[0], r_eye[1] - l_eye[1]];
        let down = [mouth[0] - eyes[0], mouth[1] - eyes[1]];
        let eye_distance = across[0].hypot(across[1]);
        if eye_distance < 8.0 || down[0].hypot(down[1]) < 4.0 {
            return None;
        }
        let mut cells = [[0.0f32; 3]; 7];
        for (out, &(a, d, r)) in cells.iter_mut().zip(CELLS.iter()) {
            let cx = eyes[0] + a * across[0] + d * down[0];
            let cy = eyes[1] + a * across[1] + d * down[1];
            let radius = (r * eye_distance).max(2.0);
            let (x0, x1) = ((cx - radius).floor(), (cx + radius).ceil());
            let (y0, y1) = ((cy - radius).floor(), (cy + radius).ceil());
            if x0 < 0.0 || y0 < 0.0 || x1 >= w as f32 || y1 >= h as f32 {
                return None;
            }
            let mut sum = [0.0f64; 3];
            let mut n = 0u32;
            for y in y0 as u32..=y1 as u32 {
                for x in x0 as u32..=x1 as u32 {
                    let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                    if dx * dx + dy * dy > radius * radius {
                        continue;
                    }
                    let p = image.get_pixel(x, y).0;
                    for c in 0..3 {
                        sum[c] += f64::from(lin[p[c] as usize]);
                    }
                    n += 1;
                }
            }
            if n == 0 {
                return None;
            }
            *out = sum.map(|s| (s / f64::from(n)) as f32);
        }
        // The background: the upper part of the frame outside the face box enlarged
        // half again on each side (hair and shoulders excluded as far as a box can).
        let [bx, by, bw, bh] = bbox;
        let (ex0, ex1) = (bx - bw * 0.5, bx + bw * 1.5);
        let ey1 = by + bh * 0.6;
        let step = ((w.max(h) / 160).max(1)) as usize;
        let mut sum = [0.0f64; 3];
        let mut n = 0u32;
        for y in (0..(h as f32 * 0.6) as u32).step_by(step) {
            for x in (0..w).step_by(step) {
                let (xf, yf) = (x as f32, y as f32);
                if xf >= ex0 && xf <= ex1 && yf <= ey1 {
                    continue;
                }
                let p = image.get_pixel(x, y).0;
                for c in 0..3 {
                    sum[c] += f64::from(lin[p[c] as usize]);
                }
                n += 1;
            }
        }
        if n < 50 {
            return None;
        }
        let background = sum.map(|s| (s / f64::from(n)) as f32);
        Some(LightSample { cells, background })
    }
}

/// The verdict of the light check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LightResult {
    /// Frames with a light sample inside the sequence's time.
    pub frames: usize,
    /// Correlation of the central cells' light with the session's sequence, at the best
    /// latency.
    pub correlation: f32,
    pub latency_ms: i32,
    /// The best correlation any of the other sequences reached.
    pub best_other: f32,
    /// How much the face's chromaticity moved at all (RMS, natural-log units).
    pub signal: f32,
    /// The gain swing between the two sides of the face with the yaw (see the module).
    pub swing: Option<f32>,
    pub verdict: LightVerdict,
}

/// How the light check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LightVerdict {
    /// The sequence was seen, from a three-dimensional face.
    Passed,
    /// Too little of the screen's light reached the camera to judge.
    Insufficient,
    /// The face's colour moved, but not as this sequence.
    Mismatch,
    /// The sequence was seen, but evenly over the face.
    Flat,
}

/// Detrends `v` over times `t` in place: removes the least-squares line.
fn detrend(t: &[f64], v: &mut [f64]) {
    let n = t.len() as f64;
    if t.len() < 2 {
        v.iter_mut().for_each(|x| *x = 0.0);
        return;
    }
    let mt = t.iter().sum::<f64>() / n;
    let mv = v.iter().sum::<f64>() / n;
    let stt: f64 = t.iter().map(|x| (x - mt).powi(2)).sum();
    let stv: f64 = t
        .iter()
        .zip(v.iter())
        .map(|(a, b)| (a - mt) * (b - mv))
        .sum();
    let slope = if stt > 0.0 { stv / stt } else { 0.0 };
    for (x, &ti) in v.iter_mut().zip(t) {
        *x -= mv + slope * (ti - mt);
    }
}

/// The chromaticity (channel values less their mean) of the screen as a frame exposed
/// around `t_ms` after the start sees it; `None` outside the sequence.
fn screen_chroma(seq: &LightSequence, t_ms: f64) -> Option<[f64; 3]> {
    let end = seq.duration_ms() as f64;
    if t_ms - EXPOSURE_MS / 2.0 < 0.0 || t_ms + EXPOSURE_MS / 2.0 > end {
        return None;
    }
    let mut rgb = [0.0f64; 3];
    const SUB: usize = 4;
    for k in 0..SUB {
        let at = t_ms - EXPOSURE_MS / 2.0 + EXPOSURE_MS * (k as f64 + 0.5) / SUB as f64;
        let c = seq.at(at).map_or([0.0; 3], LightColour::linear_rgb);
        for i in 0..3 {
            rgb[i] += f64::from(c[i]) / SUB as f64;
        }
    }
    let m = (rgb[0] + rgb[1] + rgb[2]) / 3.0;
    Some(rgb.map(|c| c - m))
}

/// Log-chromaticity of a cell relative to the background.
fn chroma(cell: [f32; 3], background: [f32; 3]) -> [f64; 3] {
    const FLOOR: f64 = 1e-4;
    let v: [f64; 3] = std::array::from_fn(|c| {
        (f64::from(cell[c]).max(FLOOR)).ln() - (f64::from(background[c]).max(FLOOR)).ln()
    });
    let m = (v[0] + v[1] + v[2]) / 3.0;
    v.map(|x| x - m)
}

/// One frame as the check uses it.
struct Frame {
    t_ms: f64,
    yaw: f64,
    /// Chromaticity of each cell relative to the background.
    cells: [[f64; 3]; 7],
}

impl Frame {
    fn central(&self) -> [f64; 3] {
        std::array::from_fn(|c| {
            CENTRAL.iter().map(|&i| self.cells[i][c]).sum::<f64>() / CENTRAL.len() as f64
        })
    }
}

/// Correlation and gain of `signal` (per frame, 3 channels) against `seq` at one
/// latency: both detrended per channel over the frames inside the sequence.
fn fit(
    frames: &[Frame],
    signal: &[[f64; 3]],
    seq: &LightSequence,
    latency: i32,
) -> Option<(f64, f64)> {
    let mut t = Vec::new();
    let mut y = [Vec::new(), Vec::new(), Vec::new()];
    let mut p = [Vec::new(), Vec::new(), Vec::new()];
    for (f, s) in frames.iter().zip(signal) {
        if let Some(q) = screen_chroma(seq, f.t_ms - f64::from(latency)) {
            t.push(f.t_ms);
            for c in 0..3 {
                y[c].push(s[c]);
                p[c].push(q[c]);
            }
        }
    }
    if t.len() < 6 {
        return None;
    }
    let (mut yp, mut yy, mut pp) = (0.0, 0.0, 0.0);
    for c in 0..3 {
        detrend(&t, &mut y[c]);
        detrend(&t, &mut p[c]);
        for i in 0..t.len() {
            yp += y[c][i] * p[c][i];
            yy += y[c][i] * y[c][i];
            pp += p[c][i] * p[c][i];
        }
    }
    if yy <= 0.0 || pp <= 0.0 {
        return Some((0.0, 0.0));
    }
    Some((yp / (yy * pp).sqrt(), yp / pp))
}

/// The best correlation over [`LATENCIES_MS`], with its latency and gain.
fn best_fit(frames: &[Frame], signal: &[[f64; 3]], seq: &LightSequence) -> (f64, i32, f64) {
    let mut best = (f64::NEG_INFINITY, 0, 0.0);
    for &lat in &LATENCIES_MS {
        if let Some((r, k)) = fit(frames, signal, seq, lat) {
            if r > best.0 {
                best = (r, lat, k);
            }
        }
    }
    if best.0.is_finite() {
        best
    } else {
        (0.0, 0, 0.0)
    }
}

/// The gain swing of the two sides with the yaw, at `latency`; `None` without turned
/// frames both ways or a degenerate fit.
fn swing(frames: &[Frame], seq: &LightSequence, latency: i32) -> Option<f64> {
    // Per side: Y = k0 P + k1 (yaw/30) P + per-channel line in time, by least squares
    // over the frames inside the sequence.
    let inside: Vec<(&Frame, [f64; 3])> = frames
        .iter()
        .filter_map(|f| screen_chroma(seq, f.t_ms - f64::from(latency)).map(|q| (f, q)))
        .collect();
    if inside.len() < 8
        || !inside.iter().any(|(f, _)| f.yaw > 10.0)
        || !inside.iter().any(|(f, _)| f.yaw < -10.0)
    {
        return None;
    }
    let t: Vec<f64> = inside.iter().map(|(f, _)| f.t_ms).collect();
    let side_gain = |side: &[usize]| -> Option<(f64, f64)> {
        // Regressors and response, detrended per channel, stacked over channels.
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut r = Vec::new();
        for c in 0..3 {
            let mut p: Vec<f64> = inside.iter().map(|(_, q)| q[c]).collect();
            let mut py: Vec<f64> = inside
                .iter()
                .map(|(f, q)| q[c] * (f.yaw / 30.0).clamp(-1.5, 1.5))
                .collect();
            let mut y: Vec<f64> = inside
                .iter()
                .map(|(f, _)| side.iter().map(|&i| f.cells[i][c]).sum::<f64>() / side.len() as f64)
                .collect();
            detrend(&t, &mut p);
            detrend(&t, &mut py);
            detrend(&t, &mut y);
            a.extend(p);
            b.extend(py);
            r.extend(y);
        }
        let (saa, sab, sbb): (f64, f64, f64) = (
            a.iter().map(|x| x * x).sum(),
            a.iter().zip(&b).map(|(x, y)| x * y).sum(),
            b.iter().map(|x| x * x).sum(),
        );
        let (sar, sbr): (f64, f64) = (
            a.iter().zip(&r).map(|(x, y)| x * y).sum(),
            b.iter().zip(&r).map(|(x, y)| x * y).sum(),
        );
        let det = saa * sbb - sab * sab;
        if det.abs() < 1e-12 * (saa * sbb).max(1e-30) {
            return None;
        }
        Some(((sar * sbb - sbr * sab) / det, (saa * sbr - sab * sar) / det))
    };
    let (k0l, k1l) = side_gain(&LEFT_SIDE)?;
    let (k0r, k1r) = side_gain(&RIGHT_SIDE)?;
    let base = k0l + k0r;
    if base <= 1e-9 {
        return None;
    }
    Some((k1l - k1r) / base)
}

/// A small deterministic generator for the other sequences: the same ones for every
/// capture, so a verdict can be reproduced.
fn null_source() -> impl FnMut() -> Option<u32> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Some((x >> 32) as u32)
    }
}

/// Judges the light over `observations` (the capture's frames in order; the sequence
/// started at the first frame) against `seq`.
pub fn judge_light(
    observations: &[FrameObservation],
    seq: &LightSequence,
    policy: &LivenessPolicy,
) -> LightResult {
    let start = observations.first().map_or(0, |o| o.timestamp_ms);
    let frames: Vec<Frame> = observations
        .iter()
        .filter(|o| o.usable())
        .filter_map(|o| {
            let s = o.light?;
            let cells = s.cells.map(|c| chroma(c, s.background));
            if cells.iter().flatten().any(|v| !v.is_finite()) {
                return None;
            }
            Some(Frame {
                // Saturating: out-of-order input is refused by `evaluate` as invalid, and
                // must not panic here first.
                t_ms: o.timestamp_ms.saturating_sub(start) as f64,
                yaw: f64::from(o.yaw_deg.unwrap_or(0.0)),
                cells,
            })
        })
        .collect();
    let mut result = LightResult {
        frames: 0,
        correlation: 0.0,
        latency_ms: 0,
        best_other: 0.0,
        signal: 0.0,
        swing: None,
        verdict: LightVerdict::Mismatch,
    };
    if seq.validate().is_err() {
        return result;
    }
    let central: Vec<[f64; 3]> = frames.iter().map(Frame::central).collect();
    let end = seq.duration_ms() as f64;
    result.frames = frames.iter().filter(|f| f.t_ms <= end + 400.0).count();
    // How much the central chromaticity moved, detrended, over the sequence's time.
    let within: Vec<(f64, [f64; 3])> = frames
        .iter()
        .zip(&central)
        .filter(|(f, _)| f.t_ms <= end + 400.0)
        .map(|(f, c)| (f.t_ms, *c))
        .collect();
    if within.len() >= 2 {
        let t: Vec<f64> = within.iter().map(|w| w.0).collect();
        let mut total = 0.0;
        for c in 0..3 {
            let mut v: Vec<f64> = within.iter().map(|w| w.1[c]).collect();
            detrend(&t, &mut v);
            total += v.iter().map(|x| x * x).sum::<f64>();
        }
        result.signal = (total / (3.0 * within.len() as f64)).sqrt() as f32;
    }
    let (r, latency, gain) = best_fit(&frames, &central, seq);
    result.correlation = r as f32;
    result.latency_ms = latency;
    let spec = ChallengeSpec {
        turns: 1,
        pitch: false,
        light_steps: seq.steps.len(),
    };
    let mut source = null_source();
    let mut best_other = f64::NEG_INFINITY;
    for _ in 0..NULL_SEQUENCES {
        let Some(other) = draw(&spec, &mut source).and_then(|c| c.light) else {
            continue;
        };
        if other == *seq {
            continue;
        }
        best_other = best_other.max(best_fit(&frames, &central, &other).0);
    }
    result.best_other = if best_other.is_finite() {
        best_other as f32
    } else {
        0.0
    };
    // The whole sequence must have been recorded: the app keeps recording until it has
    // been shown, and a capture that stops early would be judged on fewer colours than
    // the session drew.
    let covered = frames.last().is_some_and(|f| f.t_ms >= end);
    let matched = covered
        && result.frames >= policy.light_min_frames
        && gain > 0.0
        && result.correlation >= policy.light_min_correlation
        && result.correlation > result.best_other;
    if !matched {
        // Only a face whose colour barely moved at all is said to lack light: telling "no
        // light" from "another session's light" by how well other sequences fit would let
        // a replay be answered with a retake hint instead of the neutral refusal.
        result.verdict = if result.signal < policy.light_min_signal {
            LightVerdict::Insufficient
        } else {
            LightVerdict::Mismatch
        };
        return result;
    }
    result.swing = swing(&frames, seq, latency).map(|s| s as f32);
    result.verdict = match (policy.light_min_swing, result.swing) {
        (None, _) => LightVerdict::Passed,
        (Some(min), Some(s)) if s >= min => LightVerdict::Passed,
        _ => LightVerdict::Flat,
    };
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::observe::tests::observation;
    use reclaim_protocol::LightStep;

    fn sequence(seed: u32) -> LightSequence {
        let mut x = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            Some(x)
        };
        draw(&ChallengeSpec::default(), &mut next)
            .and_then(|c| c.light)
            .unwrap()
    }

    /// An observation whose cells respond to `seq` as a face lit by it would, with
    /// `gain(cell, yaw)` the relative response and `noise` the per-frame scatter.
    fn observations(
        seq: &LightSequence,
        latency: f64,
        gain: impl Fn(usize, f64) -> f64,
        noise: f64,
        seed: u64,
    ) -> Vec<FrameObservation> {
        let mut state = seed.wrapping_add(1);
        let mut rand = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        let n = (seq.duration_ms() / 180) as usize + 3;
        (0..n)
            .map(|i| {
                let t = i as u64 * 180;
                // Yaw sweeps left then right.
                let yaw = 30.0 * (std::f64::consts::PI * t as f64 / 2200.0).sin();
                let screen = seq
                    .at(t as f64 - latency)
                    .map_or([0.0; 3], LightColour::linear_rgb);
                let cells = std::array::from_fn(|k| {
                    let g = gain(k, yaw);
                    std::array::from_fn(|c| {
                        let skin = [0.45, 0.30, 0.22][c];
                        (skin * (1.0 + g * f64::from(screen[c])) * (1.0 + noise * rand())) as f32
                    })
                });
                let mut o = observation(t, crate::face::ARCFACE_TEMPLATE);
                o.yaw_deg = Some(yaw as f32);
                o.pitch_deg = Some(0.0);
                o.light = Some(LightSample {
                    cells,
                    background: [0.3, 0.3, 0.3],
                });
                o
            })
            .collect()
    }

    fn face(k: usize, yaw: f64) -> f64 {
        // A lit head: each side's gain grows as it turns toward the screen.
        let side = match k {
            2 | 4 => 1.0,
            3 | 5 => -1.0,
            _ => 0.0,
        };
        0.25 * (1.0 + 0.5 * side * yaw / 30.0)
    }

    #[test]
    fn a_lit_face_passes() {
        let policy = LivenessPolicy::default();
        for seed in 0..20 {
            let seq = sequence(seed);
            let obs = observations(&seq, 120.0, face, 0.01, u64::from(seed));
            let r = judge_light(&obs, &seq, &policy);
            assert_eq!(r.verdict, LightVerdict::Passed, "seed {seed}: {r:?}");
            assert!((r.latency_ms - 120).abs() <= 100, "{r:?}");
        }
    }

    #[test]
    fn another_sessions_light_is_a_mismatch() {
        let policy = LivenessPolicy::default();
        let mut passed = 0;
        for seed in 0..40 {
            let recorded = sequence(seed);
            let asked = sequence(seed + 1000);
            let obs = observations(&recorded, 120.0, face, 0.01, u64::from(seed));
            let r = judge_light(&obs, &asked, &policy);
            if r.verdict == LightVerdict::Passed {
                passed += 1;
            } else {
                assert_eq!(r.verdict, LightVerdict::Mismatch, "{r:?}");
            }
        }
        assert_eq!(passed, 0);
    }

    #[test]
    fn no_light_is_insufficient_and_an_even_light_is_flat() {
        let policy = LivenessPolicy::default();
        let seq = sequence(3);
        let dark = observations(&seq, 100.0, |_, _| 0.0, 0.002, 3);
        assert_eq!(
            judge_light(&dark, &seq, &policy).verdict,
            LightVerdict::Insufficient
        );
        // An even light: flat when the policy decides on the swing, reported otherwise.
        let flat = observations(&seq, 100.0, |_, _| 0.25, 0.01, 3);
        let deciding = LivenessPolicy {
            light_min_swing: Some(0.15),
            ..LivenessPolicy::default()
        };
        let r = judge_light(&flat, &seq, &deciding);
        assert_eq!(r.verdict, LightVerdict::Flat, "{r:?}");
        let r = judge_light(&flat, &seq, &policy);
        assert_eq!(r.verdict, LightVerdict::Passed, "{r:?}");
        assert!(r.swing.is_some_and(|s| s.abs() < 0.1), "{r:?}");
        // A lit face's swing is reported either way.
        let face = observations(&seq, 100.0, face, 0.01, 3);
        let r = judge_light(&face, &seq, &deciding);
        assert_eq!(r.verdict, LightVerdict::Passed, "{r:?}");
    }

    #[test]
    fn frames_out_of_order_do_not_panic_and_do_not_pass() {
        let policy = LivenessPolicy::default();
        let seq = sequence(5);
        let mut obs = observations(&seq, 100.0, face, 0.01, 5);
        obs.reverse();
        let r = judge_light(&obs, &seq, &policy);
        assert_ne!(r.verdict, LightVerdict::Passed, "{r:?}");
    }

    #[test]
    fn a_capture_without_the_light_samples_is_not_passed() {
        let policy = LivenessPolicy::default();
        let seq = LightSequence {
            steps: vec![
                LightStep {
                    colour: LightColour::Cyan,
                    ms: 400,
                },
                LightStep {
                    colour: LightColour::Amber,
                    ms: 400,
                },
            ],
        };
        let mut obs = observations(&seq, 100.0, face, 0.01, 1);
        for o in &mut obs {
            o.light = None;
        }
        assert_ne!(
            judge_light(&obs, &seq, &policy).verdict,
            LightVerdict::Passed
        );
        assert_ne!(
            judge_light(&[], &seq, &policy).verdict,
            LightVerdict::Passed
        );
    }
}
