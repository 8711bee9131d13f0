//! The pose challenge: the head movements a session asks for, as they travel in the
//! session's answer (`"challenge": ["left", "right", "center"]`) and as the server keeps
//! them (comma-joined). Defined here, not in the engine, so the server, the app and the
//! engine (`reclaim_verify::liveness::Action` is this type) share one set of names.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::light::{LightColour, LightSequence, LightStep, MAX_LIGHT_STEPS};
use super::limits::MAX_CHALLENGE_ACTIONS;

/// One requested head movement. Directions are the person's own: `Left` is a turn to
/// their left (the nose moves toward the right of an unmirrored image, yaw positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeAction {
    Left,
    Right,
    Up,
    Down,
    Center,
}

/// Why a challenge could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// A name that is not an action (kept short: it may be anyone's input).
    #[error("unknown action `{0}`: expected left, right, up, down or center")]
    Unknown(String),
    #[error("{0} actions; at most {MAX_CHALLENGE_ACTIONS} are accepted")]
    TooMany(usize),
}

impl ChallengeAction {
    pub const ALL: [ChallengeAction; 5] = [
        ChallengeAction::Left,
        ChallengeAction::Right,
        ChallengeAction::Up,
        ChallengeAction::Down,
        ChallengeAction::Center,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeAction::Left => "left",
            ChallengeAction::Right => "right",
            ChallengeAction::Up => "up",
            ChallengeAction::Down => "down",
            ChallengeAction::Center => "center",
        }
    }

    /// The action with exactly this published name (what the wire and the server's store
    /// carry). [`FromStr`] is the forgiving reading for people typing a challenge.
    pub fn parse(name: &str) -> Option<ChallengeAction> {
        crate::named::parse(name)
    }

    /// The comma-joined form the server stores (`left,right,center`); [`Self::split`]
    /// reads it back.
    pub fn join(actions: &[ChallengeAction]) -> String {
        crate::named::joined(actions, ",")
    }

    /// Reads the comma-joined form back, strictly: every entry must be a published name
    /// and there must be 1 to [`MAX_CHALLENGE_ACTIONS`] of them. An entry this build does
    /// not know is an error, never dropped: a challenge shortened in silence would ask the
    /// person for less than was drawn and still be judged as complete.
    pub fn split(stored: &str) -> Result<Vec<ChallengeAction>, ChallengeError> {
        let actions = stored
            .split(',')
            .map(|name| ChallengeAction::parse(name).ok_or_else(|| unknown(name)))
            .collect::<Result<Vec<_>, _>>()?;
        if actions.len() > MAX_CHALLENGE_ACTIONS {
            return Err(ChallengeError::TooMany(actions.len()));
        }
        Ok(actions)
    }
}

impl crate::named::Named for ChallengeAction {
    const ALL: &'static [ChallengeAction] = &ChallengeAction::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl std::fmt::Display for ChallengeAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChallengeAction {
    type Err = ChallengeError;

    /// Forgiving: surrounding space, any case, and the British `centre`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "centre" => Ok(ChallengeAction::Center),
            name => ChallengeAction::parse(name).ok_or_else(|| unknown(s.trim())),
        }
    }
}

/// Keeps an untrusted name short enough to echo in an error message.
fn unknown(name: &str) -> ChallengeError {
    const MAX: usize = 32;
    if name.chars().count() <= MAX {
        ChallengeError::Unknown(name.to_string())
    } else {
        let mut out: String = name.chars().take(MAX).collect();
        out.push('…');
        ChallengeError::Unknown(out)
    }
}

/// What a session's challenge is drawn from: the server's policy, and what `reclaim
/// verify` and the evaluation draw with, so the three agree on one generator ([`draw`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChallengeSpec {
    /// How many turns come before the final `center` (1 to `MAX_CHALLENGE_ACTIONS - 1`).
    pub turns: usize,
    /// Turns are drawn from left, right, up and down; otherwise from left and right only
    /// (for engines that cannot read pitch).
    pub pitch: bool,
    /// How many screen-light steps; 0 leaves the light out (then only the turns are
    /// drawn, and a recording of one session answers many others).
    pub light_steps: usize,
}

impl Default for ChallengeSpec {
    fn default() -> Self {
        ChallengeSpec {
            turns: 2,
            pitch: false,
            light_steps: 10,
        }
    }
}

/// The durations a light step is drawn from, in milliseconds. All at least
/// [`super::light::MIN_STEP_MS`]: fewer than three colour changes a second.
pub const LIGHT_STEP_CHOICES_MS: [u32; 4] = [350, 420, 490, 560];

/// A drawn challenge: the head movements, then (if any) the light the screen shows
/// meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawnChallenge {
    pub actions: Vec<ChallengeAction>,
    pub light: Option<LightSequence>,
}

impl ChallengeSpec {
    /// Whether the spec can be drawn and every drawn value judged.
    pub fn validate(&self) -> Result<(), String> {
        if self.turns == 0 || self.turns >= MAX_CHALLENGE_ACTIONS {
            return Err(format!(
                "turns must be 1 to {}",
                MAX_CHALLENGE_ACTIONS - 1
            ));
        }
        if self.light_steps > MAX_LIGHT_STEPS {
            return Err(format!("light_steps must be 0 to {MAX_LIGHT_STEPS}"));
        }
        Ok(())
    }

    /// log2 of the number of challenges [`draw`] can give, all equally likely: every
    /// choice is uniform and independent, and different choices give different values.
    pub fn space_bits(&self) -> f64 {
        let directions: f64 = if self.pitch { 4.0 } else { 2.0 };
        let turns = directions.log2() + (self.turns as f64 - 1.0) * (directions - 1.0).log2();
        if self.light_steps == 0 {
            return turns;
        }
        let colours = LightColour::ALL.len() as f64;
        let n = self.light_steps as f64;
        turns
            + colours.log2()
            + (n - 1.0) * (colours - 1.0).log2()
            + n * (LIGHT_STEP_CHOICES_MS.len() as f64).log2()
    }
}

/// Draws a challenge under `spec`: `spec.turns` turns, never the same twice in a row, then
/// `center`; and `spec.light_steps` colours, never the same twice in a row, each for one
/// of [`LIGHT_STEP_CHOICES_MS`]. `next_u32` is the randomness (the operating system's on
/// the server, a seeded generator in tests); `None` from it, or an invalid spec, gives
/// `None`: a challenge is never drawn from less randomness than it claims.
pub fn draw(
    spec: &ChallengeSpec,
    next_u32: &mut dyn FnMut() -> Option<u32>,
) -> Option<DrawnChallenge> {
    spec.validate().ok()?;
    // Uniform below n by rejection: a plain modulo would favour the first values.
    let mut below = |n: usize| -> Option<usize> {
        let n = u32::try_from(n).ok()?.max(1);
        let zone = u32::MAX - (u32::MAX % n);
        for _ in 0..64 {
            let v = next_u32()?;
            if v < zone {
                return Some((v % n) as usize);
            }
        }
        None
    };
    let directions: &[ChallengeAction] = if spec.pitch {
        &[
            ChallengeAction::Left,
            ChallengeAction::Right,
            ChallengeAction::Up,
            ChallengeAction::Down,
        ]
    } else {
        &[ChallengeAction::Left, ChallengeAction::Right]
    };
    let mut actions: Vec<ChallengeAction> = Vec::with_capacity(spec.turns + 1);
    for _ in 0..spec.turns {
        let pick = match actions.last() {
            None => directions[below(directions.len())?],
            Some(last) => {
                let others: Vec<ChallengeAction> =
                    directions.iter().copied().filter(|d| d != last).collect();
                others[below(others.len())?]
            }
        };
        actions.push(pick);
    }
    actions.push(ChallengeAction::Center);
    let light = if spec.light_steps == 0 {
        None
    } else {
        let mut steps: Vec<LightStep> = Vec::with_capacity(spec.light_steps);
        for _ in 0..spec.light_steps {
            let colour = match steps.last() {
                None => LightColour::ALL[below(LightColour::ALL.len())?],
                Some(last) => {
                    let others: Vec<LightColour> = LightColour::ALL
                        .iter()
                        .copied()
                        .filter(|c| *c != last.colour)
                        .collect();
                    others[below(others.len())?]
                }
            };
            let ms = LIGHT_STEP_CHOICES_MS[below(LIGHT_STEP_CHOICES_MS.len())?];
            steps.push(LightStep { colour, ms });
        }
        Some(LightSequence { steps })
    };
    Some(DrawnChallenge { actions, light })
}

/// Randomness for [`draw`] from the operating system; `None` when it cannot give any.
pub fn os_random_u32() -> Option<u32> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).ok()?;
    Some(u32::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_travel_by_their_published_names() {
        for a in ChallengeAction::ALL {
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.as_str())
            );
            assert_eq!(ChallengeAction::parse(a.as_str()), Some(a));
            assert_eq!(a.as_str().parse::<ChallengeAction>(), Ok(a));
        }
        assert!(serde_json::from_str::<ChallengeAction>("\"sideways\"").is_err());
        // The wire is exact; only people's input is forgiven.
        assert!(serde_json::from_str::<ChallengeAction>("\"Left\"").is_err());
        assert_eq!(" Centre ".parse(), Ok(ChallengeAction::Center));
        assert_eq!(ChallengeAction::parse("centre"), None);
    }

    #[test]
    fn the_stored_form_reads_back_strictly() {
        let drawn = [
            ChallengeAction::Left,
            ChallengeAction::Right,
            ChallengeAction::Center,
        ];
        assert_eq!(ChallengeAction::join(&drawn), "left,right,center");
        assert_eq!(
            ChallengeAction::split("left,right,center"),
            Ok(drawn.to_vec())
        );
        // Before, an unknown entry was dropped and the rest judged as the whole challenge.
        assert_eq!(
            ChallengeAction::split("left,sideways,center"),
            Err(ChallengeError::Unknown("sideways".into()))
        );
        for bad in [
            "",
            "left,,center",
            "left, right",
            "LEFT",
            "left,right,left,right,left,right,left,right,center",
        ] {
            assert!(ChallengeAction::split(bad).is_err(), "{bad:?}");
        }
        let long = "x".repeat(1000);
        assert!(ChallengeAction::split(&long).unwrap_err().to_string().len() < 120);
    }

    /// A counter-based generator, enough to exercise every branch reproducibly.
    fn counter(seed: u32) -> impl FnMut() -> Option<u32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            Some(x)
        }
    }

    #[test]
    fn drawn_challenges_keep_the_rules_and_use_the_whole_space() {
        let spec = ChallengeSpec {
            turns: 3,
            pitch: true,
            light_steps: 10,
        };
        let mut firsts = std::collections::HashSet::new();
        let mut light_firsts = std::collections::HashSet::new();
        let mut durations = std::collections::HashSet::new();
        for seed in 0..400 {
            let c = draw(&spec, &mut counter(seed)).unwrap();
            assert_eq!(c.actions.len(), 4);
            assert_eq!(c.actions.last(), Some(&ChallengeAction::Center));
            assert!(c.actions.windows(2).all(|w| w[0] != w[1]));
            let light = c.light.unwrap();
            assert_eq!(light.steps.len(), 10);
            light.validate().unwrap();
            firsts.insert(c.actions[0]);
            light_firsts.insert(light.steps[0].colour);
            durations.extend(light.steps.iter().map(|s| s.ms));
        }
        assert_eq!(firsts.len(), 4, "every direction is drawn");
        assert_eq!(light_firsts.len(), 4, "every colour is drawn");
        assert_eq!(durations.len(), LIGHT_STEP_CHOICES_MS.len());
    }

    #[test]
    fn the_default_space_has_at_least_twenty_bits() {
        let bits = ChallengeSpec::default().space_bits();
        assert!(bits >= 20.0, "{bits}");
        // Turns alone, as before the light: one bit.
        let no_light = ChallengeSpec {
            light_steps: 0,
            ..ChallengeSpec::default()
        };
        assert!((no_light.space_bits() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_space_is_counted_right() {
        // Small enough to enumerate: every value reached, as often as the count says.
        let spec = ChallengeSpec {
            turns: 2,
            pitch: true,
            light_steps: 2,
        };
        let expected = 2f64.powf(spec.space_bits()).round() as usize;
        assert_eq!(expected, 4 * 3 * (4 * 3) * (4 * 4));
        let mut seen = std::collections::HashMap::new();
        let mut rng = counter(7);
        for _ in 0..expected * 40 {
            let c = draw(&spec, &mut rng).unwrap();
            *seen.entry(format!("{c:?}")).or_insert(0usize) += 1;
        }
        assert_eq!(seen.len(), expected, "every value can be drawn");
        let (lo, hi) = seen
            .values()
            .fold((usize::MAX, 0), |(lo, hi), &n| (lo.min(n), hi.max(n)));
        assert!(lo >= 10 && hi <= 85, "roughly uniform: {lo}..{hi}");
    }

    #[test]
    fn no_randomness_no_challenge() {
        let spec = ChallengeSpec::default();
        assert_eq!(draw(&spec, &mut || None), None);
        let bad = ChallengeSpec {
            turns: 0,
            ..spec
        };
        assert_eq!(draw(&bad, &mut counter(1)), None);
        // A generator stuck in the rejected zone gives up instead of spinning.
        assert_eq!(draw(&spec, &mut || Some(u32::MAX)), None);
    }
}
