//! Names the MRZ leaves in doubt, settled by the names printed in the visual zone.
//!
//! An MRZ's names carry no check digit: where the recognizer found another letter or the
//! filler nearly as likely as the one it read, nothing in the zone can say which is right,
//! and the reading is `mrz_uncertain` ([`super::Mrz::uncertain`]). The same names are
//! printed above, in the visual zone, in another font. NIST SP 800-63A-4 asks for the two
//! to be compared; here the comparison also decides between the MRZ's own readings: every
//! way of taking the first choice or the alternative at each doubtful position is tried,
//! (and each of the recognizer's weaker alternatives in the names, as far as a bound
//! allows), and a reading is kept only when it is the **one** whose every name word is
//! printed on the document. The printed text never puts a letter into the MRZ that the recognizer
//! did not offer there; it only chooses among the MRZ's own candidates.

use super::{parse_mrz, Correction, Mrz, UncertainChar};
use crate::visual_zone::{names_are_printed, printed_name_words};
use crate::Date;

/// Most doubtful name positions tried together: 2^10 readings to parse at most.
pub const MAX_NAME_DOUBTS: usize = 10;

/// `mrz` with its doubtful name positions settled by `printed` (the words read in the
/// document's visual zone), or `None` when they cannot be: no doubt in the names, too
/// many, or not exactly one of the readings has all its name words printed.
///
/// The settled reading reports each position where it took the alternative over the
/// recognizer's first choice as a [`Correction`] (offered), and keeps every doubt that is
/// not a name's (a look-alike swap the corrector made stays uncertain).
pub fn settle_names_by_printed(mrz: &Mrz, printed: &[String], today: Date) -> Option<Mrz> {
    let (mut doubts, others): (Vec<UncertainChar>, Vec<UncertainChar>) = mrz
        .uncertain
        .iter()
        .copied()
        .partition(|u| !is_swap(mrz, u) && in_names(mrz, u));
    if doubts.is_empty() || doubts.len() > MAX_NAME_DOUBTS {
        return None;
    }
    // The recognizer's weaker alternatives in the names, likeliest first, as far as the
    // bound allows: a filler read as a confident `K` is among them.
    let room = MAX_NAME_DOUBTS - doubts.len();
    doubts.extend(mrz.name_alternatives.iter().copied().take(room));
    let words = printed_name_words(printed);
    let mut confirmed: Option<(u32, Mrz)> = None;
    'choices: for choice in 0u32..(1 << doubts.len()) {
        let taken = |k: usize| choice & (1 << k) != 0;
        // Two alternatives of one position cannot both be taken.
        for (k, d) in doubts.iter().enumerate() {
            let twice = doubts[..k]
                .iter()
                .enumerate()
                .any(|(j, e)| taken(j) && taken(k) && (e.line, e.column) == (d.line, d.column));
            if twice {
                continue 'choices;
            }
        }
        let mut lines: Vec<Vec<u8>> = mrz.lines.iter().map(|l| l.as_bytes().to_vec()).collect();
        for (k, d) in doubts.iter().enumerate() {
            if !taken(k) {
                continue;
            }
            let c = d.alternative;
            let slot = lines
                .get_mut(d.line.checked_sub(1)?)?
                .get_mut(d.column.checked_sub(1)?)?;
            *slot = u8::try_from(c).ok()?;
        }
        let text: Vec<String> = lines
            .into_iter()
            .map(|l| String::from_utf8(l).ok())
            .collect::<Option<_>>()?;
        let refs: Vec<&str> = text.iter().map(String::as_str).collect();
        let Ok(candidate) = parse_mrz(&refs, today) else {
            continue;
        };
        if !candidate.field_errors.is_empty() || !names_printed(&candidate, &words) {
            continue;
        }
        if confirmed.is_some() {
            // Two readings both printed: the document cannot tell them apart either.
            return None;
        }
        confirmed = Some((choice, candidate));
    }
    let (choice, mut settled) = confirmed?;
    settled.check_digits.clone_from(&mrz.check_digits);
    settled.corrections.clone_from(&mrz.corrections);
    settled
        .corrections
        .extend(doubts.iter().enumerate().filter_map(|(k, d)| {
            (choice & (1 << k) != 0).then_some(Correction {
                line: d.line,
                column: d.column,
                read: d.read,
                chosen: d.alternative,
                offered: true,
            })
        }));
    settled.uncertain = others;
    settled.name_alternatives = Vec::new();
    settled.names_printed = true;
    settled.fillers_by_shape = mrz.fillers_by_shape;
    Some(settled)
}

/// Whether a doubt of `mrz`'s names could be settled by the printed names: any doubt
/// that is not a look-alike swap of the corrector's. The reader reads the printed zone
/// only then.
pub fn names_in_doubt(mrz: &Mrz) -> bool {
    mrz.uncertain
        .iter()
        .any(|u| !is_swap(mrz, u) && in_names(mrz, u))
}

/// Whether `u` lies in the names field of `mrz`'s layout. Only those doubts are the
/// printed names' to settle: a doubt of the document code or of a country code stays.
fn in_names(mrz: &Mrz, u: &UncertainChar) -> bool {
    let first = mrz
        .lines
        .first()
        .and_then(|l| l.bytes().next())
        .unwrap_or(b'<');
    super::layout::Layout::of(mrz.kind, first).is_some_and(|layout| {
        layout
            .names
            .positions()
            .any(|(line, col)| (line + 1, col + 1) == (u.line, u.column))
    })
}

/// Whether `u` is a character the corrector chose without the recognizer offering it.
fn is_swap(mrz: &Mrz, u: &UncertainChar) -> bool {
    mrz.corrections
        .iter()
        .any(|c| !c.offered && c.line == u.line && c.column == u.column)
}

/// Whether `mrz`'s names are printed among `words` ([`names_are_printed`]).
fn names_printed(mrz: &Mrz, words: &[String]) -> bool {
    names_are_printed(
        mrz.fields.surname.as_deref(),
        mrz.fields.given_names.as_deref(),
        mrz.names_truncated,
        words,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrz::tests::doubt;
    use crate::visual_zone::printed_words;

    fn today() -> Date {
        Date::parse_iso("2026-12-05").expect("a date")
    }

    /// ICAO's UTOPIA TD3 specimen with one name character in doubt: `ERIKSSON` read with
    /// `K` at the filler after it as the alternative.
    fn utopia_with_doubt(read: char, alternative: char, column: usize) -> Mrz {
        let lines = [
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        ];
        let mut mrz = parse_mrz(&lines, today()).expect("parses");
        mrz.uncertain = vec![doubt(1, column, read, alternative)];
        mrz
    }

    fn words(text: &[&str]) -> Vec<String> {
        text.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn the_reading_the_printed_names_show_is_kept() {
        // Column 14 holds the first `<` after ERIKSSON; the recognizer doubted a `K`.
        let mut mrz = utopia_with_doubt('<', 'K', 14);
        // What the characters' look settled before stays said.
        mrz.fillers_by_shape = true;
        let printed = words(&[
            "Surname/ Nom",
            "ERIKSSON",
            "Given names/ Prénoms",
            "ANNA MARIA",
        ]);
        let settled = settle_names_by_printed(&mrz, &printed, today()).expect("settled");
        assert!(settled.uncertain.is_empty());
        assert!(settled.names_printed && settled.fillers_by_shape);
        assert_eq!(settled.fields.surname.as_deref(), Some("ERIKSSON"));
        assert!(settled.corrections.is_empty(), "{:?}", settled.corrections);
    }

    #[test]
    fn the_alternative_is_taken_when_it_is_what_is_printed() {
        // The recognizer read `ERIKSSOK` first (a `K` at column 13) with `N` as runner-up.
        let mut mrz = utopia_with_doubt('K', 'N', 13);
        mrz.lines[0].replace_range(12..13, "K");
        let printed = words(&["ERIKSSON", "ANNA MARIA"]);
        let settled = settle_names_by_printed(&mrz, &printed, today()).expect("settled");
        assert_eq!(settled.fields.surname.as_deref(), Some("ERIKSSON"));
        assert_eq!(
            settled.lines[0],
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
        );
        assert_eq!(settled.corrections.len(), 1);
        assert!(settled.corrections[0].offered);
    }

    #[test]
    fn names_not_printed_or_printed_both_ways_stay_in_doubt() {
        let mrz = utopia_with_doubt('<', 'K', 14);
        // Another person's names printed: nothing is confirmed.
        let other = words(&["MUSTERMANN", "ERIKA"]);
        assert!(settle_names_by_printed(&mrz, &other, today()).is_none());
        // Nothing printed read at all.
        assert!(settle_names_by_printed(&mrz, &[], today()).is_none());
        // Both readings have all their words printed (the labels happen to hold `K`):
        // the document cannot decide, so neither is taken.
        let both = words(&["ERIKSSON", "ERIKSSONK", "ANNA MARIA"]);
        assert!(settle_names_by_printed(&mrz, &both, today()).is_none());
    }

    #[test]
    fn a_look_alike_swap_stays_uncertain_and_too_many_doubts_are_not_tried() {
        let mut mrz = utopia_with_doubt('<', 'K', 14);
        let swap = doubt(2, 2, '8', 'B');
        mrz.uncertain.push(swap);
        mrz.corrections.push(Correction {
            line: 2,
            column: 2,
            read: 'B',
            chosen: '8',
            offered: false,
        });
        let printed = words(&["ERIKSSON", "ANNA", "MARIA"]);
        let settled = settle_names_by_printed(&mrz, &printed, today()).expect("settled");
        assert_eq!(settled.uncertain, vec![swap]);

        let mut many = utopia_with_doubt('<', 'K', 14);
        many.uncertain = (0..=MAX_NAME_DOUBTS)
            .map(|k| doubt(1, 26 + k, '<', 'K'))
            .collect();
        assert!(settle_names_by_printed(&many, &printed, today()).is_none());
    }

    /// A filler read as a confident `K` (not a doubt of the reading, an alternative
    /// below its bar) is set right by the printed names, once the reading is in doubt
    /// anyway.
    #[test]
    fn a_confident_misread_among_the_weaker_alternatives_is_set_right() {
        let mut mrz = utopia_with_doubt('<', 'K', 14);
        mrz.lines[0].replace_range(19..20, "K"); // ANNA<MARIA read ANNAKMARIA
        mrz.name_alternatives = vec![doubt(1, 20, 'K', '<')];
        let printed = words(&["ERIKSSON", "ANNA MARIA"]);
        let settled = settle_names_by_printed(&mrz, &printed, today()).expect("settled");
        assert_eq!(settled.fields.given_names.as_deref(), Some("ANNA MARIA"));
        assert_eq!(settled.corrections.len(), 1, "{:?}", settled.corrections);
        assert!(settled.uncertain.is_empty());
    }

    /// The Dutch ID card specimen (tests/data/real, documents), as the recognizer read its
    /// names: four fillers as `K`, three of them confidently. With the printed names the
    /// one reading whose names are all printed is found; a last name cut to one letter
    /// that merely starts a printed word (`LISELOTTE<L`) is not taken for a cut name.
    #[test]
    fn the_dutch_specimens_names_are_set_right_by_the_printed_ones() {
        let lines = [
            "I<NLDSPECI20142999999990<<<<<8",
            "6503101F2403096NLD<<<<<<<<<<<8",
            "DE<BRUIJNKKWILLEKEKLISELOTTEK<",
        ];
        let mut mrz = parse_mrz(&lines, today()).expect("parses");
        // Every doubt here is in the names line.
        let in_names = |column, read, alternative| doubt(3, column, read, alternative);
        mrz.uncertain = vec![
            in_names(3, '<', 'K'),
            in_names(11, 'K', '<'),
            in_names(30, '<', 'K'),
        ];
        mrz.name_alternatives = vec![
            in_names(29, 'K', '<'),
            in_names(10, 'K', '<'),
            in_names(3, '<', 'S'),
            in_names(30, '<', 'L'),
            in_names(19, 'K', '<'),
            in_names(11, 'K', 'S'),
            in_names(29, 'K', 'R'),
        ];
        let printed = words(&[
            "DE BRUIJN",
            "WILLEKE LISELOTTE",
            "KONINKRIJK DER NEDERLANDEN",
        ]);
        let settled = settle_names_by_printed(&mrz, &printed, today()).expect("settled");
        assert_eq!(settled.lines[2], "DE<BRUIJN<<WILLEKE<LISELOTTE<<");
        assert_eq!(settled.corrections.len(), 4, "{:?}", settled.corrections);
    }

    /// A doubt outside the names (here the nationality, as the resolver reports a country
    /// code it changed into an unknown one) is not the printed names' to settle: it stays.
    #[test]
    fn a_doubt_outside_the_names_stays_after_the_names_are_settled() {
        let mut mrz = utopia_with_doubt('<', 'K', 14);
        let nationality = doubt(2, 12, 'T', '7');
        mrz.uncertain.push(nationality);
        let printed = words(&["ERIKSSON", "ANNA MARIA"]);
        let settled = settle_names_by_printed(&mrz, &printed, today()).expect("settled");
        assert_eq!(settled.uncertain, vec![nationality]);
        // A reading whose only doubt is outside the names has nothing to settle.
        mrz.uncertain = vec![nationality];
        assert!(!names_in_doubt(&mrz));
        assert!(settle_names_by_printed(&mrz, &printed, today()).is_none());
    }

    #[test]
    fn names_printed_without_their_spaces_are_found() {
        let mrz = utopia_with_doubt('<', 'K', 14);
        // The recognizer missed the space between the given names.
        let printed = words(&["ERIKSSON", "ANNAMARIA"]);
        assert!(settle_names_by_printed(&mrz, &printed, today()).is_some());
    }

    #[test]
    fn printed_words_are_upper_case_letters_only() {
        assert_eq!(
            printed_words("Given names/ Prénoms: anna-maria"),
            ["GIVEN", "NAMES", "PR", "NOMS", "ANNA", "MARIA"]
        );
        assert!(printed_words("12 / 08 / 74").is_empty());
    }

    /// A settled reading is the resolver's own reading: settling a clean one again finds
    /// nothing to do.
    #[test]
    fn a_reading_without_doubt_is_left_to_the_resolver() {
        let lines = [
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        ];
        let clean = parse_mrz(&lines, today()).expect("parses");
        assert!(settle_names_by_printed(&clean, &words(&["ERIKSSON"]), today()).is_none());
    }

    #[test]
    fn a_name_the_mrz_writes_with_ae_matches_the_printed_umlaut_read_as_a() {
        let lines = [
            "P<UTOMUELLER<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        ];
        let mut mrz = parse_mrz(&lines, today()).expect("parses");
        mrz.uncertain = vec![doubt(1, 13, '<', 'K')];
        // The recognizer has no `Ü`: it reads the printed `MÜLLER` as `MULLER`.
        let settled = settle_names_by_printed(&mrz, &words(&["MULLER", "Anna"]), today());
        assert_eq!(
            settled.and_then(|m| m.fields.surname),
            Some("MUELLER".to_string())
        );
    }
}
