//! Doubts between the filler and a letter, settled by what the character looks like.
//!
//! On small zones the recognizer reads OCR-B's filler `<` as `K`, `C` or `A`, most often
//! between letters of a name (`MARTIN<<CHRISTELLE` read `MARTINKCCHRISTELLE`): names have
//! no check digit, so those readings are either doubts ([`super::Mrz::uncertain`]) or, when
//! the recognizer was sure, runners-up ([`super::Mrz::name_alternatives`]). The same zone
//! prints dozens of fillers the recognizer read with certainty, in the same font, at the
//! same scale, with the same blur. The engine compares each doubtful character's image
//! with those and with the zone's certain letters, and says for each doubt whether it is a
//! filler, a letter, or cannot tell; this module applies what it says. It never puts in a
//! character the recognizer did not offer at that position.

use super::{parse_mrz, Correction, Mrz, UncertainChar};
use crate::Date;

/// A position (1-based line and column) read as a letter with the filler offered, or as
/// the filler with a letter offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillerDoubt {
    pub line: usize,
    pub column: usize,
    /// The letter of the two.
    pub letter: char,
}

/// What the image says of a [`FillerDoubt`]. There is no "letter": a letter the
/// recognizer read stays read, and a doubt the image cannot settle is left to the printed
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Filler,
    Unclear,
}

/// The positions of `mrz` in doubt between the filler and a letter: its doubts (not a
/// look-alike swap of the corrector's) and the recognizer's runners-up in the names, one
/// per position, the likeliest letter first.
pub fn filler_doubts(mrz: &Mrz) -> Vec<FillerDoubt> {
    let swap = |u: &UncertainChar| {
        mrz.corrections
            .iter()
            .any(|c| !c.offered && (c.line, c.column) == (u.line, u.column))
    };
    let mut out: Vec<FillerDoubt> = Vec::new();
    for u in mrz.uncertain.iter().chain(&mrz.name_alternatives) {
        let letter = match (u.read, u.alternative) {
            ('<', c) | (c, '<') if c.is_ascii_uppercase() => c,
            _ => continue,
        };
        if swap(u) || out.iter().any(|d| (d.line, d.column) == (u.line, u.column)) {
            continue;
        }
        out.push(FillerDoubt {
            line: u.line,
            column: u.column,
            letter,
        });
    }
    out
}

/// `mrz` with the doubts `verdicts` decide settled: the filler put in where the image
/// says so, each change reported as a correction the recognizer offered, the
/// position's doubts and runners-up dropped. `None` when nothing is decided, or the
/// settled reading does not parse cleanly (then the doubts stay as they were).
pub fn settle_fillers_by_shape(
    mrz: &Mrz,
    verdicts: &[(FillerDoubt, Shape)],
    today: Date,
) -> Option<Mrz> {
    let decided: Vec<(FillerDoubt, char)> = verdicts
        .iter()
        .filter_map(|&(d, shape)| (shape == Shape::Filler).then_some((d, '<')))
        .collect();
    if decided.is_empty() {
        return None;
    }
    let mut lines: Vec<Vec<u8>> = mrz.lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    let mut corrections = mrz.corrections.clone();
    for &(d, chosen) in &decided {
        let slot = lines
            .get_mut(d.line.checked_sub(1)?)?
            .get_mut(d.column.checked_sub(1)?)?;
        let read = char::from(*slot);
        if read != chosen {
            *slot = u8::try_from(chosen).ok()?;
            corrections.push(Correction {
                line: d.line,
                column: d.column,
                read,
                chosen,
                offered: true,
            });
        }
    }
    let text: Vec<String> = lines
        .into_iter()
        .map(|l| String::from_utf8(l).ok())
        .collect::<Option<_>>()?;
    let refs: Vec<&str> = text.iter().map(String::as_str).collect();
    let mut settled = parse_mrz(&refs, today).ok()?;
    if !settled.field_errors.is_empty() {
        return None;
    }
    let open = |u: &UncertainChar| {
        !decided
            .iter()
            .any(|(d, _)| (d.line, d.column) == (u.line, u.column))
    };
    settled.check_digits.clone_from(&mrz.check_digits);
    settled.corrections = corrections;
    settled.uncertain = mrz.uncertain.iter().copied().filter(open).collect();
    settled.name_alternatives = mrz.name_alternatives.iter().copied().filter(open).collect();
    settled.fillers_by_shape = true;
    Some(settled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrz::tests::{today, TD1};

    /// A doubt in the names line.
    fn doubt(column: usize, read: char, alternative: char) -> UncertainChar {
        crate::mrz::tests::doubt(3, column, read, alternative)
    }

    /// The French residence permit's name line: fillers read as `K` and `C`, one of them
    /// a doubt, one a runner-up the recognizer was sure against.
    fn misread() -> Mrz {
        let lines = [TD1[0], TD1[1], "ERIKSSONKCANNA<MARIA<<<<<<<<<<"];
        let mut mrz = parse_mrz(&lines, today()).unwrap();
        mrz.uncertain = vec![doubt(9, 'K', '<')];
        mrz.name_alternatives = vec![doubt(10, 'C', '<'), doubt(2, 'R', 'P')];
        mrz
    }

    #[test]
    fn doubts_between_the_filler_and_a_letter_are_listed_once() {
        let mut mrz = misread();
        mrz.name_alternatives.push(doubt(9, 'K', '<'));
        assert_eq!(
            filler_doubts(&mrz),
            [
                FillerDoubt {
                    line: 3,
                    column: 9,
                    letter: 'K'
                },
                FillerDoubt {
                    line: 3,
                    column: 10,
                    letter: 'C'
                },
            ]
        );
        // A look-alike swap of the corrector's is not the image's to settle.
        mrz.corrections.push(Correction {
            line: 3,
            column: 9,
            read: '<',
            chosen: 'K',
            offered: false,
        });
        assert_eq!(filler_doubts(&mrz).len(), 1);
    }

    #[test]
    fn fillers_the_image_shows_are_put_back_and_reported() {
        let mrz = misread();
        let doubts = filler_doubts(&mrz);
        let verdicts: Vec<_> = doubts.iter().map(|&d| (d, Shape::Filler)).collect();
        let settled = settle_fillers_by_shape(&mrz, &verdicts, today()).unwrap();
        assert_eq!(settled.lines, TD1);
        assert_eq!(settled.fields.surname.as_deref(), Some("ERIKSSON"));
        assert!(settled.uncertain.is_empty());
        assert_eq!(settled.name_alternatives, [doubt(2, 'R', 'P')]);
        assert!(settled.fillers_by_shape);
        assert_eq!(
            settled
                .corrections
                .iter()
                .map(|c| (c.column, c.read, c.chosen, c.offered))
                .collect::<Vec<_>>(),
            [(9, 'K', '<', true), (10, 'C', '<', true)]
        );
    }

    #[test]
    fn an_unclear_shape_leaves_the_doubt() {
        let mrz = misread();
        let doubts = filler_doubts(&mrz);
        assert!(settle_fillers_by_shape(
            &mrz,
            &doubts
                .iter()
                .map(|&d| (d, Shape::Unclear))
                .collect::<Vec<_>>(),
            today()
        )
        .is_none());
        // The first a filler, the second unclear: the first put back, the second still
        // open as the runner-up it was.
        let settled = settle_fillers_by_shape(
            &mrz,
            &[(doubts[0], Shape::Filler), (doubts[1], Shape::Unclear)],
            today(),
        )
        .unwrap();
        assert_eq!(settled.lines[2], "ERIKSSON<CANNA<MARIA<<<<<<<<<<");
        assert!(settled.uncertain.is_empty());
        assert_eq!(
            settled.name_alternatives,
            [doubt(10, 'C', '<'), doubt(2, 'R', 'P')]
        );
        assert_eq!(settled.corrections.len(), mrz.corrections.len() + 1);
    }

    #[test]
    fn a_settled_reading_that_does_not_parse_cleanly_is_not_taken() {
        // Letters after three fillers end the names: `<` put in at column 9 of
        // `ERIKSSONK<<ANNA...` would make `ERIKSSON<<<ANNA`, a field error.
        let lines = [TD1[0], TD1[1], "ERIKSSONK<<ANNA<MARIA<<<<<<<<<"];
        let mut mrz = parse_mrz(&lines, today()).unwrap();
        mrz.uncertain = vec![doubt(9, 'K', '<')];
        let doubts = filler_doubts(&mrz);
        assert!(settle_fillers_by_shape(&mrz, &[(doubts[0], Shape::Filler)], today()).is_none());
    }
}
