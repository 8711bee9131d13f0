//! The screen-light challenge: a sequence of screen colours, each shown for a drawn time,
//! that the app fills the screen with while it records the selfie. A living face lit by
//! the screen reflects it, in time, and unevenly (the parts facing the screen more than
//! those turned away); a recording made for another session, an injected video with no
//! light, or a flat picture do not (the engine's check is
//! `reclaim_verify::liveness::light`).
//!
//! It travels in the session's answer as `"light": [{"colour": "cyan", "ms": 450}, ...]`
//! and the server keeps it as `cyan:450,amber:350,...` ([`LightSequence::join`],
//! [`LightSequence::split`]).
//!
//! **Photosensitive safety** is part of the type, not left to the app: every colour of
//! [`LightColour::ALL`] has a relative luminance within [`LUMINANCE_SPREAD`] of the others,
//! far under the 10% change that WCAG 2.3.1 counts as a flash, and none is a saturated red
//! (red at most 80% of R+G+B, WCAG's definition, in sRGB and in linear light alike); and
//! no step is shorter than [`MIN_STEP_MS`], so the colour changes at most 2.9 times a
//! second (WCAG: no more than three flashes in any one second). A sequence that breaks
//! either is refused when it is read ([`LightSequence::validate`]), by the app before it
//! shows anything as well as by the server.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Shortest time one colour is shown, in milliseconds: fewer than three changes a second.
pub const MIN_STEP_MS: u32 = 350;
/// Longest time one colour may be shown (the server draws far shorter steps).
pub const MAX_STEP_MS: u32 = 2000;
/// Most steps one sequence may have.
pub const MAX_LIGHT_STEPS: usize = 32;
/// Largest difference of relative luminance between two colours of the palette.
pub const LUMINANCE_SPREAD: f32 = 0.05;

/// One colour of the screen-light palette. Four hues far apart in chromaticity (so the
/// light they cast on a face tells them apart) at nearly the same luminance (so a change
/// from one to the next is not a flash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightColour {
    Amber,
    Green,
    Cyan,
    Magenta,
}

impl LightColour {
    pub const ALL: [LightColour; 4] = [
        LightColour::Amber,
        LightColour::Green,
        LightColour::Cyan,
        LightColour::Magenta,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LightColour::Amber => "amber",
            LightColour::Green => "green",
            LightColour::Cyan => "cyan",
            LightColour::Magenta => "magenta",
        }
    }

    /// The colour in linear light (0 to 1 per channel): what the screen emits, and what
    /// the engine predicts the face's light from.
    pub fn linear_rgb(self) -> [f32; 3] {
        match self {
            LightColour::Amber => [0.60, 0.24, 0.0],
            LightColour::Green => [0.05, 0.40, 0.05],
            LightColour::Cyan => [0.0, 0.33, 1.0],
            LightColour::Magenta => [0.80, 0.08, 0.90],
        }
    }

    /// The colour as 8-bit sRGB, for the screen.
    pub fn srgb(self) -> [u8; 3] {
        self.linear_rgb().map(|c| {
            let v = if c <= 0.003_130_8 {
                12.92 * c
            } else {
                1.055 * c.powf(1.0 / 2.4) - 0.055
            };
            (v.clamp(0.0, 1.0) * 255.0).round() as u8
        })
    }

    /// The colour as a CSS hex string (`#rrggbb`).
    pub fn css(self) -> String {
        let [r, g, b] = self.srgb();
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// Relative luminance (WCAG, linear light).
    pub fn luminance(self) -> f32 {
        let [r, g, b] = self.linear_rgb();
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }

    pub fn parse(name: &str) -> Option<LightColour> {
        crate::named::parse(name)
    }
}

impl crate::named::Named for LightColour {
    const ALL: &'static [LightColour] = &LightColour::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for LightColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One colour and how long it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightStep {
    pub colour: LightColour,
    pub ms: u32,
}

/// Why a light sequence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LightError {
    #[error("the light sequence is empty")]
    Empty,
    #[error("{0} steps; at most {MAX_LIGHT_STEPS} are accepted")]
    TooMany(usize),
    #[error("step {index} lasts {ms} ms; each step lasts {MIN_STEP_MS} to {MAX_STEP_MS} ms")]
    StepDuration { index: usize, ms: u32 },
    #[error("step {0} repeats the colour before it")]
    Repeated(usize),
    #[error("step {0} is not `colour:milliseconds` with a known colour")]
    Malformed(usize),
}

/// The screen colours of one session, in order. Step `i` starts at the sum of the
/// durations before it, counted from the first recorded frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LightSequence {
    pub steps: Vec<LightStep>,
}

impl LightSequence {
    /// Every rule a shown sequence must keep: 1 to [`MAX_LIGHT_STEPS`] steps, each
    /// [`MIN_STEP_MS`] to [`MAX_STEP_MS`] long, no colour twice in a row (a repeat would be
    /// one longer step, and the drawn count of changes would overstate the challenge).
    pub fn validate(&self) -> Result<(), LightError> {
        if self.steps.is_empty() {
            return Err(LightError::Empty);
        }
        if self.steps.len() > MAX_LIGHT_STEPS {
            return Err(LightError::TooMany(self.steps.len()));
        }
        for (index, step) in self.steps.iter().enumerate() {
            if !(MIN_STEP_MS..=MAX_STEP_MS).contains(&step.ms) {
                return Err(LightError::StepDuration {
                    index,
                    ms: step.ms,
                });
            }
            if index > 0 && self.steps[index - 1].colour == step.colour {
                return Err(LightError::Repeated(index));
            }
        }
        Ok(())
    }

    /// Total time, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.steps.iter().map(|s| u64::from(s.ms)).sum()
    }

    /// The step shown at `t_ms` after the start; `None` before 0 or after the end.
    pub fn at(&self, t_ms: f64) -> Option<LightColour> {
        if t_ms < 0.0 {
            return None;
        }
        let mut end = 0.0;
        for step in &self.steps {
            end += f64::from(step.ms);
            if t_ms < end {
                return Some(step.colour);
            }
        }
        None
    }

    /// Start times of the steps, and the end, in milliseconds.
    pub fn boundaries_ms(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.steps.len() + 1);
        let mut t = 0u64;
        out.push(t);
        for step in &self.steps {
            t += u64::from(step.ms);
            out.push(t);
        }
        out
    }

    /// The stored form: `cyan:450,amber:350`.
    pub fn join(&self) -> String {
        self.steps
            .iter()
            .map(|s| format!("{}:{}", s.colour, s.ms))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored (or typed) form back, strictly, and validates it.
    pub fn split(text: &str) -> Result<LightSequence, LightError> {
        let mut steps = Vec::new();
        for (index, item) in text.split(',').enumerate() {
            if index == MAX_LIGHT_STEPS {
                return Err(LightError::TooMany(text.split(',').count()));
            }
            let (name, ms) = item.trim().split_once(':').ok_or(LightError::Malformed(index))?;
            let colour = LightColour::parse(name.trim()).ok_or(LightError::Malformed(index))?;
            let ms = ms
                .trim()
                .parse::<u32>()
                .map_err(|_| LightError::Malformed(index))?;
            steps.push(LightStep { colour, ms });
        }
        let sequence = LightSequence { steps };
        sequence.validate()?;
        Ok(sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_palette_is_safe_to_flash() {
        let lum: Vec<f32> = LightColour::ALL.iter().map(|c| c.luminance()).collect();
        let (lo, hi) = lum
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &l| (lo.min(l), hi.max(l)));
        assert!(hi - lo <= LUMINANCE_SPREAD, "luminances {lum:?}");
        // WCAG 2.3.1 counts a flash only from a 10% change of relative luminance.
        assert!(hi - lo < 0.1);
        for c in LightColour::ALL {
            let [r, g, b] = c.linear_rgb();
            assert!(r / (r + g + b) < 0.8, "{c} is a saturated red in linear light");
            let [r, g, b] = c.srgb().map(f32::from);
            assert!(r / (r + g + b) < 0.8, "{c} is a saturated red in sRGB");
        }
        // Fewer than three changes in any second.
        assert!(1000.0 / MIN_STEP_MS as f32 * 1.0 < 3.0);
    }

    #[test]
    fn the_palette_s_hues_are_far_apart() {
        // Chromaticity directions (channel values less their mean) at least 60 degrees
        // apart: the engine tells the colours apart by the tint they cast.
        let chroma = |c: LightColour| {
            let v = c.linear_rgb();
            let m = (v[0] + v[1] + v[2]) / 3.0;
            v.map(|x| x - m)
        };
        for a in LightColour::ALL {
            for b in LightColour::ALL {
                if a == b {
                    continue;
                }
                let (x, y) = (chroma(a), chroma(b));
                let dot: f32 = (0..3).map(|i| x[i] * y[i]).sum();
                let n = |v: [f32; 3]| v.iter().map(|c| c * c).sum::<f32>().sqrt();
                let cos = dot / (n(x) * n(y));
                assert!(cos < 0.5, "{a} and {b}: cosine {cos}");
            }
        }
    }

    #[test]
    fn sequences_travel_and_are_stored_by_name() {
        let s = LightSequence {
            steps: vec![
                LightStep {
                    colour: LightColour::Cyan,
                    ms: 450,
                },
                LightStep {
                    colour: LightColour::Amber,
                    ms: 350,
                },
            ],
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"[{"colour":"cyan","ms":450},{"colour":"amber","ms":350}]"#
        );
        assert_eq!(s.join(), "cyan:450,amber:350");
        assert_eq!(LightSequence::split(&s.join()), Ok(s.clone()));
        assert_eq!(s.duration_ms(), 800);
        assert_eq!(s.boundaries_ms(), vec![0, 450, 800]);
        assert_eq!(s.at(0.0), Some(LightColour::Cyan));
        assert_eq!(s.at(449.9), Some(LightColour::Cyan));
        assert_eq!(s.at(450.0), Some(LightColour::Amber));
        assert_eq!(s.at(800.0), None);
        assert_eq!(s.at(-1.0), None);
    }

    #[test]
    fn unsafe_or_malformed_sequences_are_refused() {
        for (text, want) in [
            ("", LightError::Malformed(0)),
            ("cyan:300", LightError::StepDuration { index: 0, ms: 300 }),
            ("cyan:2500", LightError::StepDuration { index: 0, ms: 2500 }),
            ("cyan:400,cyan:400", LightError::Repeated(1)),
            ("red:400", LightError::Malformed(0)),
            ("cyan", LightError::Malformed(0)),
            ("cyan:-4", LightError::Malformed(0)),
            ("Cyan:400", LightError::Malformed(0)),
        ] {
            assert_eq!(LightSequence::split(text), Err(want), "{text}");
        }
        let long = vec!["cyan:400,amber:400"; 17].join(",");
        assert_eq!(LightSequence::split(&long), Err(LightError::TooMany(34)));
        assert_eq!(
            LightSequence { steps: vec![] }.validate(),
            Err(LightError::Empty)
        );
        // The wire is as strict as the stored form.
        assert!(serde_json::from_str::<LightSequence>(r#"[{"colour":"red","ms":400}]"#).is_err());
        assert!(
            serde_json::from_str::<LightSequence>(r#"[{"colour":"cyan","ms":400,"x":1}]"#)
                .is_err()
        );
    }
}
