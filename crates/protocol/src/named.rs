//! Values that travel as one of a fixed set of names: reason and error codes, challenge
//! actions, session steps and states. One way to read a name back and to join a list of
//! them (a database column, a log line, a screen).

/// A value written as one of a fixed set of names.
pub trait Named: Copy + 'static {
    /// Every value, in the published order.
    const ALL: &'static [Self];

    /// The published name.
    fn name(self) -> &'static str;
}

/// The value published as `name`; `None` for any other text (no case folding, no
/// trimming: a stored or signed name is read exactly as written).
pub fn parse<T: Named>(name: &str) -> Option<T> {
    T::ALL.iter().copied().find(|v| v.name() == name)
}

/// The names of `values` joined with `separator` (`left,right,center` in a column,
/// `left → right → center` on a screen).
pub fn joined<T: Named>(values: &[T], separator: &str) -> String {
    values
        .iter()
        .map(|v| v.name())
        .collect::<Vec<_>>()
        .join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::sessions::{SessionState, Step};
    use crate::{ChallengeAction, Code};

    /// Every name reads back as its value, and no two values share a name.
    fn round_trips<T: Named + PartialEq + std::fmt::Debug>() {
        let mut seen = std::collections::HashSet::new();
        for &v in T::ALL {
            assert_eq!(parse::<T>(v.name()), Some(v));
            assert!(seen.insert(v.name()), "{} twice", v.name());
        }
    }

    #[test]
    fn every_name_reads_back_as_its_value() {
        round_trips::<Code>();
        round_trips::<ChallengeAction>();
        round_trips::<Step>();
        round_trips::<SessionState>();
    }

    #[test]
    fn a_name_is_read_exactly() {
        assert_eq!(parse::<ChallengeAction>("Left"), None);
        assert_eq!(parse::<ChallengeAction>(" left"), None);
        assert_eq!(parse::<Step>(""), None);
        assert_eq!(parse::<Code>("face_mismatch"), Some(Code::FaceMismatch));
    }

    #[test]
    fn lists_join_with_the_separator_given() {
        let turns = [ChallengeAction::Left, ChallengeAction::Right];
        assert_eq!(joined(&turns, ","), "left,right");
        assert_eq!(joined(&turns, " → "), "left → right");
        assert_eq!(joined::<Step>(&[], ","), "");
    }
}
