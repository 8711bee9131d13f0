//! The session's screen light, as the app will show it. The server draws a sequence of
//! colours (`reclaim_protocol::wire::light`); the engine checks that the face reflected
//! them, in time. The app fills part of the screen with them while it records the selfie.
//!
//! A [`ScreenLight`] is the only form the recorder and the page ever get a sequence in,
//! and it exists only for a sequence the app itself has checked: one the protocol's rules
//! accept (the palette's colours only, each step at least 350 ms, so fewer than three
//! changes a second, no colour twice in a row: WCAG 2.3.1) and short enough to be
//! recorded whole. A broken or malicious server therefore cannot make the app flash: the
//! app refuses the session instead (`backend_invalid_answer`), before anything is shown.

use reclaim_protocol::wire::light::{LightColour, LightSequence};
use serde::Serialize;

use crate::error::{ClientError, Result};
use crate::selfie::{MAX_FRAMES, RECORD_INTERVAL_MS};

/// How long the recording goes on after the light's last step: the longest display and
/// camera delay the engine searches (`reclaim_verify::liveness::light::LATENCIES_MS`), so
/// the last step is seen on the face whatever the delay.
pub const LIGHT_TAIL_MS: u64 = 400;

/// The longest sequence the app shows, in milliseconds. The recording must reach the
/// light's end plus [`LIGHT_TAIL_MS`] within [`MAX_FRAMES`] kept frames; a camera keeps
/// its pace only roughly (a 30 fps camera's frames land every 200 ms once one is due each
/// 180 ms), so a fifth of the budget is left for that: 59 frames x 180 ms x 0.8 = 8.5 s,
/// less the tail. The server draws 3.5 to 5.6 s by default.
pub const MAX_LIGHT_MS: u64 = (MAX_FRAMES as u64 - 1) * RECORD_INTERVAL_MS * 4 / 5 - LIGHT_TAIL_MS;

// The longest light the app accepts is recorded whole within the frame budget even at a
// camera's 200 ms pace, and the server's default draw (10 steps of at most 560 ms) fits.
const _: () = assert!(MAX_LIGHT_MS + LIGHT_TAIL_MS <= (MAX_FRAMES as u64 - 1) * 200);
const _: () = assert!(MAX_LIGHT_MS >= 5_600);

/// A light sequence the app has checked and will show. It serialises as the sequence
/// (the page reads it to warn the person before the selfie), and is never deserialised:
/// the only way to one is [`ScreenLight::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ScreenLight(LightSequence);

impl ScreenLight {
    /// Checks a sequence the server sent: the protocol's rules, and a length the app can
    /// record. Anything else is the server's fault, and nothing of it is shown.
    pub fn new(seq: &LightSequence) -> Result<ScreenLight> {
        seq.validate().map_err(|e| {
            ClientError::BackendInvalidAnswer(format!("the session's screen light: {e}"))
        })?;
        if seq.duration_ms() > MAX_LIGHT_MS {
            return Err(ClientError::BackendInvalidAnswer(format!(
                "the session's screen light lasts {} ms; the app records at most {MAX_LIGHT_MS} ms of it",
                seq.duration_ms()
            )));
        }
        Ok(ScreenLight(seq.clone()))
    }

    /// The session's light, checked; `None` when the session has none.
    pub fn of_session(light: Option<&LightSequence>) -> Result<Option<ScreenLight>> {
        light.map(ScreenLight::new).transpose()
    }

    pub fn sequence(&self) -> &LightSequence {
        &self.0
    }

    /// The colour at `t_ms` after the sequence's start; `None` before and after it.
    pub fn at(&self, t_ms: u64) -> Option<LightColour> {
        self.0.at(t_ms as f64)
    }

    /// How long the recording must go on after its first frame for the engine to see the
    /// whole sequence.
    pub fn record_ms(&self) -> u64 {
        self.0.duration_ms() + LIGHT_TAIL_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reclaim_protocol::wire::light::LightStep;
    use reclaim_protocol::Code;

    fn seq(steps: &[(LightColour, u32)]) -> LightSequence {
        LightSequence {
            steps: steps
                .iter()
                .map(|&(colour, ms)| LightStep { colour, ms })
                .collect(),
        }
    }

    use LightColour::{Amber, Cyan, Green, Magenta};

    #[test]
    fn a_sequence_within_the_rules_is_shown_step_by_step() {
        let light = ScreenLight::new(&seq(&[(Cyan, 450), (Amber, 350), (Green, 600)])).unwrap();
        assert_eq!(light.at(0), Some(Cyan));
        assert_eq!(light.at(449), Some(Cyan));
        assert_eq!(light.at(450), Some(Amber));
        assert_eq!(light.at(799), Some(Amber));
        assert_eq!(light.at(800), Some(Green));
        assert_eq!(light.at(1399), Some(Green));
        assert_eq!(light.at(1400), None);
        assert_eq!(light.record_ms(), 1400 + 400);
    }

    /// A server that asks for a flash, a repeat, an empty or an endless light gets its
    /// session refused, with the code the person reads as "an answer the app couldn't
    /// understand".
    #[test]
    fn a_sequence_the_app_must_not_show_refuses_the_session() {
        let too_fast = seq(&[(Cyan, 450), (Magenta, 100), (Green, 450)]);
        let repeated = seq(&[(Cyan, 450), (Cyan, 450)]);
        let empty = seq(&[]);
        let too_long_step = seq(&[(Cyan, 5_000)]);
        // Every step within the rules, but more than the recording can hold.
        let colours = [Amber, Green, Cyan, Magenta];
        let too_long: Vec<(LightColour, u32)> = (0..20).map(|i| (colours[i % 4], 500)).collect();
        let too_long = seq(&too_long);
        assert!(too_long.validate().is_ok());
        assert!(too_long.duration_ms() > MAX_LIGHT_MS);
        for bad in [too_fast, repeated, empty, too_long_step, too_long] {
            let err = ScreenLight::new(&bad).unwrap_err();
            assert_eq!(err.code(), Code::BackendInvalidAnswer, "{bad:?}");
        }
    }

    #[test]
    fn no_light_is_no_light() {
        assert_eq!(ScreenLight::of_session(None).unwrap(), None);
        assert!(ScreenLight::of_session(Some(&seq(&[(Cyan, 100)]))).is_err());
    }
}
