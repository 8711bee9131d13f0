//! The pose challenge: the head movements a session asks for, as they travel in the
//! session's answer (`"challenge": ["left", "right", "center"]`) and as the server keeps
//! them (comma-joined). Defined here, not in the engine, so the server, the app and the
//! engine (`reclaim_verify::liveness::Action` is this type) share one set of names.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
}
