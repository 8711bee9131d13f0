//! The challenge: a short random sequence of head movements the person is asked to make,
//! and the matcher that decides from the per-frame head pose whether they made them, in
//! order and in time.
//!
//! The backend picks the sequence at random per session, so a pre-recorded video is
//! unlikely to contain the right moves in the right order. The matcher is strict on
//! purpose: a pose belonging to an action that is neither the one expected next nor the
//! one just performed fails the whole challenge, because a replayed clip that sweeps
//! through every direction would otherwise satisfy any sequence.

use reclaim_protocol::wire::ChallengeError;
use serde::Serialize;

use super::{LivenessInputError, LivenessPolicy};

/// The challenge's actions are the protocol's: the server draws them, the session carries
/// them and the engine judges them under one set of names.
pub use reclaim_protocol::wire::limits::MAX_CHALLENGE_ACTIONS;
pub use reclaim_protocol::ChallengeAction as Action;

/// Parses a comma-separated challenge such as `left,right,center`.
///
/// Refused: an empty challenge or an empty item, more than [`MAX_CHALLENGE_ACTIONS`]
/// actions, an unknown action, and the same action twice in a row (holding a pose
/// longer proves nothing more).
pub fn parse_challenge(text: &str) -> Result<Vec<Action>, LivenessInputError> {
    if text.trim().is_empty() {
        return Err(LivenessInputError::ChallengeInvalid(
            "the challenge is empty".into(),
        ));
    }
    let mut actions = Vec::new();
    for item in text.split(',') {
        if item.trim().is_empty() {
            return Err(LivenessInputError::ChallengeInvalid(
                "the challenge has an empty item".into(),
            ));
        }
        if actions.len() == MAX_CHALLENGE_ACTIONS {
            return Err(LivenessInputError::ChallengeInvalid(format!(
                "at most {MAX_CHALLENGE_ACTIONS} actions are accepted"
            )));
        }
        actions.push(item.parse::<Action>().map_err(|e| match e {
            ChallengeError::Unknown(name) => LivenessInputError::UnknownAction(name),
            ChallengeError::TooMany(n) => LivenessInputError::ChallengeInvalid(format!(
                "{n} actions; at most {MAX_CHALLENGE_ACTIONS} are accepted"
            )),
        })?);
    }
    validate_challenge(&actions)?;
    Ok(actions)
}

/// Checks an already-parsed challenge: 1 to [`MAX_CHALLENGE_ACTIONS`] actions, no action
/// twice in a row.
pub fn validate_challenge(actions: &[Action]) -> Result<(), LivenessInputError> {
    if actions.is_empty() {
        return Err(LivenessInputError::ChallengeInvalid(
            "the challenge is empty".into(),
        ));
    }
    if actions.len() > MAX_CHALLENGE_ACTIONS {
        return Err(LivenessInputError::ChallengeInvalid(format!(
            "at most {MAX_CHALLENGE_ACTIONS} actions are accepted"
        )));
    }
    if actions.windows(2).any(|w| w[0] == w[1]) {
        return Err(LivenessInputError::ChallengeInvalid(
            "the same action twice in a row".into(),
        ));
    }
    Ok(())
}

/// The head pose of one frame, as the matcher sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoseSample {
    /// Index of the frame in the observed sequence.
    pub frame: usize,
    pub timestamp_ms: u64,
    pub yaw_deg: f32,
    pub pitch_deg: f32,
}

/// Which action a pose belongs to; `None` for the zone between centre and a turn.
pub fn classify(yaw: f32, pitch: f32, policy: &LivenessPolicy) -> Option<Action> {
    if !(yaw.is_finite() && pitch.is_finite()) {
        return None;
    }
    if yaw.abs() < policy.center_max_deg && pitch.abs() < policy.center_max_deg {
        return Some(Action::Center);
    }
    let yaw_turned = yaw.abs() >= policy.turn_yaw_deg;
    let pitch_turned = pitch.abs() >= policy.turn_pitch_deg;
    // A turn usually comes with a little nod and the other way round; when both pass
    // their thresholds the one furthest beyond its own threshold decides.
    let yaw_wins = yaw_turned
        && (!pitch_turned
            || yaw.abs() / policy.turn_yaw_deg >= pitch.abs() / policy.turn_pitch_deg);
    if yaw_wins {
        Some(if yaw > 0.0 {
            Action::Left
        } else {
            Action::Right
        })
    } else if pitch_turned {
        Some(if pitch > 0.0 {
            Action::Up
        } else {
            Action::Down
        })
    } else {
        None
    }
}

/// How one requested action went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionResult {
    pub action: Action,
    /// The first frame showing it, in order; `None` when it was never reached.
    pub frame: Option<usize>,
    pub timestamp_ms: Option<u64>,
    /// Time since the previous action (or since the first frame, for the first action).
    pub elapsed_ms: Option<u64>,
}

/// The verdict on the challenge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChallengeResult {
    pub actions: Vec<ActionResult>,
    /// Every action was reached, in order.
    pub completed: bool,
    /// The first frame showing a pose that was not asked for at that point.
    pub wrong_action_frame: Option<usize>,
    pub wrong_action: Option<Action>,
    /// An action came later than `max_action_ms` after the previous one, or the whole
    /// capture lasted longer than `max_duration_ms`.
    pub too_slow: bool,
    /// Time from the first to the last frame.
    pub duration_ms: u64,
    pub passed: bool,
}

impl ChallengeResult {
    /// A challenge nothing was matched against (an invalid challenge, no frames).
    pub fn not_attempted(challenge: &[Action]) -> Self {
        ChallengeResult {
            actions: challenge
                .iter()
                .map(|&action| ActionResult {
                    action,
                    frame: None,
                    timestamp_ms: None,
                    elapsed_ms: None,
                })
                .collect(),
            completed: false,
            wrong_action_frame: None,
            wrong_action: None,
            too_slow: false,
            duration_ms: 0,
            passed: false,
        }
    }
}

/// Matches `challenge` against the poses of the usable frames, `track`, in time order.
///
/// `start_ms` and `end_ms` are the first and last frame's timestamps of the whole capture
/// (usable or not): the first action's time limit runs from the start, and the whole
/// capture must fit in `max_duration_ms`. No frontal start is required. Frames after the
/// last action are not judged against the challenge: people look elsewhere once they are
/// done, and a clip that sweeps every direction still has to show the asked actions in
/// order, without holding any other pose, before it gets there.
pub fn match_challenge(
    challenge: &[Action],
    track: &[PoseSample],
    start_ms: u64,
    end_ms: u64,
    policy: &LivenessPolicy,
) -> ChallengeResult {
    let mut result = ChallengeResult::not_attempted(challenge);
    result.duration_ms = end_ms.saturating_sub(start_ms);
    if validate_challenge(challenge).is_err() {
        return result;
    }
    let mut next = 0usize;
    let mut last_ms = start_ms;
    // A pose not asked for, and how many classified frames in a row have shown it.
    let mut stray: Option<(Action, usize, usize)> = None;
    for sample in track {
        if next == challenge.len() {
            break;
        }
        let Some(state) = classify(sample.yaw_deg, sample.pitch_deg, policy) else {
            continue;
        };
        if next < challenge.len() && state == challenge[next] {
            let elapsed = sample.timestamp_ms.saturating_sub(last_ms);
            if elapsed > policy.max_action_ms {
                result.too_slow = true;
            }
            if let Some(slot) = result.actions.get_mut(next) {
                slot.frame = Some(sample.frame);
                slot.timestamp_ms = Some(sample.timestamp_ms);
                slot.elapsed_ms = Some(elapsed);
            }
            last_ms = sample.timestamp_ms;
            next += 1;
            stray = None;
            continue;
        }
        let previous = next.checked_sub(1).and_then(|i| challenge.get(i)).copied();
        // The centre is where people rest between moves, never a wrong move by itself.
        if state == Action::Center || Some(state) == previous {
            stray = None;
            continue;
        }
        let (first, held) = match stray {
            Some((a, first, n)) if a == state => (first, n + 1),
            _ => (sample.frame, 1),
        };
        stray = Some((state, first, held));
        if held >= policy.min_wrong_frames.max(1) {
            result.wrong_action_frame = Some(first);
            result.wrong_action = Some(state);
            break;
        }
    }
    if result.duration_ms > policy.max_duration_ms {
        result.too_slow = true;
    }
    result.completed = next == challenge.len() && result.wrong_action_frame.is_none();
    result.passed = result.completed && !result.too_slow;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LivenessPolicy {
        LivenessPolicy::default()
    }

    /// One pose per 100 ms, starting at 1000 ms.
    fn track(poses: &[(f32, f32)]) -> Vec<PoseSample> {
        poses
            .iter()
            .enumerate()
            .map(|(i, &(yaw, pitch))| PoseSample {
                frame: i,
                timestamp_ms: 1000 + 100 * i as u64,
                yaw_deg: yaw,
                pitch_deg: pitch,
            })
            .collect()
    }

    fn run(challenge: &[Action], poses: &[(f32, f32)]) -> ChallengeResult {
        let t = track(poses);
        let end = t.last().map_or(1000, |s| s.timestamp_ms);
        match_challenge(challenge, &t, 1000, end, &policy())
    }

    const C: (f32, f32) = (0.0, 0.0);
    const L: (f32, f32) = (25.0, 2.0);
    const R: (f32, f32) = (-25.0, -1.0);
    const U: (f32, f32) = (3.0, 16.0);
    const D: (f32, f32) = (-2.0, -16.0);
    const MID: (f32, f32) = (12.0, 0.0);

    #[test]
    fn parses_and_refuses_challenges() {
        assert_eq!(
            parse_challenge(" left, Right ,center").unwrap(),
            vec![Action::Left, Action::Right, Action::Center]
        );
        let err = parse_challenge("left,sideways").unwrap_err();
        assert_eq!(err.code(), "unknown_action");
        assert!(err.to_string().contains("sideways"));
        assert_eq!(parse_challenge("").unwrap_err().code(), "challenge_invalid");
        assert_eq!(
            parse_challenge("left,,up").unwrap_err().code(),
            "challenge_invalid"
        );
        assert_eq!(
            parse_challenge("left,left").unwrap_err().code(),
            "challenge_invalid"
        );
        let nine = ["left", "right"].repeat(5)[..9].join(",");
        assert_eq!(
            parse_challenge(&nine).unwrap_err().code(),
            "challenge_invalid"
        );
        let eight = ["left", "right"].repeat(4).join(",");
        assert_eq!(parse_challenge(&eight).unwrap().len(), 8);
        let long = "x".repeat(1000);
        assert!(long.parse::<Action>().unwrap_err().to_string().len() < 120);
    }

    #[test]
    fn classifies_poses_with_the_policy_thresholds() {
        let p = policy();
        assert_eq!(classify(0.0, 0.0, &p), Some(Action::Center));
        let t = p.turn_yaw_deg;
        assert_eq!(classify(t, 0.0, &p), Some(Action::Left));
        assert_eq!(classify(-t, 0.0, &p), Some(Action::Right));
        assert_eq!(classify(t - 1.0, 0.0, &p), None);
        assert_eq!(classify(0.0, 13.0, &p), Some(Action::Up));
        assert_eq!(classify(0.0, -13.0, &p), Some(Action::Down));
        assert_eq!(classify(12.0, 0.0, &p), None);
        // Both beyond: the yaw is further past its threshold.
        assert_eq!(classify(30.0, 13.0, &p), Some(Action::Left));
        assert_eq!(classify(f32::NAN, 0.0, &p), None);
    }

    #[test]
    fn in_order_passes_and_reports_frames() {
        let r = run(
            &[Action::Left, Action::Right, Action::Center],
            &[C, MID, L, L, MID, C, R, R, MID, C],
        );
        assert!(r.passed, "{r:?}");
        let frames: Vec<_> = r.actions.iter().map(|a| a.frame).collect();
        assert_eq!(frames, vec![Some(2), Some(6), Some(9)]);
        assert_eq!(r.actions[1].elapsed_ms, Some(400));
    }

    #[test]
    fn wrong_order_fails() {
        let r = run(&[Action::Left, Action::Right], &[C, R, R, C, L, C]);
        assert!(!r.passed);
        assert_eq!(r.wrong_action_frame, Some(1));
        assert_eq!(r.wrong_action, Some(Action::Right));
    }

    #[test]
    fn a_missing_action_fails() {
        let r = run(&[Action::Left, Action::Up], &[C, L, L, C, C]);
        assert!(!r.passed);
        assert!(!r.completed);
        assert_eq!(r.actions[1].frame, None);
        assert_eq!(r.wrong_action_frame, None);
    }

    #[test]
    fn an_extra_held_action_fails_before_completion_but_not_after() {
        let r = run(&[Action::Left, Action::Right], &[L, C, U, U, C, R]);
        assert!(!r.passed);
        assert_eq!(r.wrong_action, Some(Action::Up));
        assert_eq!(r.wrong_action_frame, Some(2));
        // Done, then looking elsewhere: the challenge was met.
        let r = run(&[Action::Left], &[L, C, R, R]);
        assert!(r.passed, "{r:?}");
    }

    #[test]
    fn a_pose_passed_through_for_one_frame_is_not_a_wrong_move() {
        // Left to right through a frame that reads as a nod: still left then right.
        let r = run(&[Action::Left, Action::Right], &[C, L, U, C, R]);
        assert!(r.passed, "{r:?}");
        // Alternating strays never hold a pose, but each one held twice fails.
        let r = run(&[Action::Left, Action::Right], &[L, U, D, U, R]);
        assert!(r.passed, "{r:?}");
        let r = run(&[Action::Left, Action::Right], &[L, U, U, R]);
        assert_eq!(r.wrong_action, Some(Action::Up));
        assert_eq!(r.wrong_action_frame, Some(1));
    }

    #[test]
    fn too_slow_fails() {
        // 60 frames of centre (6 s) before the first turn.
        let mut poses = vec![C; 60];
        poses.push(L);
        let r = run(&[Action::Left], &poses);
        assert!(r.completed && r.too_slow && !r.passed, "{r:?}");
        // The whole capture longer than 15 s.
        let mut poses = vec![L];
        poses.extend(vec![C; 160]);
        let r = run(&[Action::Left], &poses);
        assert!(r.completed && r.too_slow && !r.passed);
    }

    #[test]
    fn an_empty_challenge_never_passes() {
        let r = run(&[], &[C, L, C]);
        assert!(!r.passed);
    }
}
