//! What a document's printed (visual) zone says, set against what its MRZ says.
//!
//! NIST SP 800-63A-4 asks for the machine-readable data to be compared with the printed
//! data. The engine reads the printed lines with a general-text recognizer that knows
//! letters, digits and the space only (no `.`, `/` or `-`), in upper case; this module
//! finds in that text the dates and the document number, however an issuer prints them
//! (`12 AUG/AOUT 74`, `12.08.1974`, `1974-08-12` all come out as letters and digits
//! parted by spaces, or run together), and says for each field of the MRZ whether the
//! printed text confirms it.
//!
//! A field the printed text does not confirm is not proof of a forgery: the recognizer
//! misreads small print, and a side of a card may not show every field. What is decided on
//! that is the reader's business; this module only says what agrees.

use serde::Serialize;

use crate::{Date, DocumentFields};

/// Months as issuers abbreviate them in the languages ICAO documents print most
/// (English, French, German, Spanish, Italian, Dutch, Portuguese, the Nordic languages),
/// longest first so that `JUIN` and `JUIL` are told apart before a three-letter prefix is
/// tried.
const MONTHS: &[(&str, u8)] = &[
    ("JANV", 1),
    ("FEVR", 2),
    ("MARS", 3),
    ("JUIN", 6),
    ("JUIL", 7),
    ("AOUT", 8),
    ("SEPT", 9),
    ("JAN", 1),
    ("ENE", 1),
    ("GEN", 1),
    ("FEB", 2),
    ("FEV", 2),
    ("MAR", 3),
    ("MRT", 3),
    ("MAE", 3),
    ("APR", 4),
    ("AVR", 4),
    ("ABR", 4),
    ("MAY", 5),
    ("MAI", 5),
    ("MAG", 5),
    ("MEI", 5),
    ("MAJ", 5),
    ("JUN", 6),
    ("GIU", 6),
    ("JUL", 7),
    ("LUG", 7),
    ("AUG", 8),
    ("AGO", 8),
    ("SEP", 9),
    ("SET", 9),
    ("OCT", 10),
    ("OKT", 10),
    ("OTT", 10),
    ("OUT", 10),
    ("NOV", 11),
    ("DEC", 12),
    ("DEZ", 12),
    ("DIC", 12),
    ("DES", 12),
];

/// The month a run of letters starts with (`AUG`, `AOUT`, `AUGUST`, `AUGAOUT` when the
/// slash between two languages was not read), if any.
fn month_of(letters: &[u8]) -> Option<u8> {
    MONTHS
        .iter()
        .find(|(abbreviation, _)| letters.starts_with(abbreviation.as_bytes()))
        .map(|&(_, month)| month)
}

/// Whether a run of letters names `month`: its first word, or the second of two
/// languages when the first is one this list lacks (`CEPAUG`: a Cyrillic `СЕР` read in
/// Latin letters, then `AUG`).
fn names_month(letters: &[u8], month: u8) -> bool {
    [0, 3, 4].iter().any(|&skip| {
        letters
            .get(skip..)
            .filter(|rest| rest.len() >= 3)
            .and_then(month_of)
            == Some(month)
    })
}

/// A printed line as the recognizer's text is compared: upper-case letters and digits
/// only. The recognizer knows no `.`, `/` or `-`, and often misses a space, so
/// `12.08.1974`, `12 AUG/AOUT 74` and `29JUL200428JUL2014` (two dates run together) are
/// all looked at as one run of characters.
fn compact(line: &str) -> Vec<u8> {
    line.bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase())
        .collect()
}

/// Whether `date` is printed in `line`, in any of the ways issuers print dates: the day,
/// the month in words in one language or two, and the year in four digits or two
/// (`12 AUG/AOUT 74`, `8 AOUT/AUG 2006`), or in digits only, day first, month first or
/// year first (`12.08.1974`, `08/12/1974`, `1974-08-12`, `12-08-74`).
///
/// The date is looked for, not parsed out: the printed text may run two dates together,
/// and a reading need only say whether the MRZ's own date is there. A digit run found by
/// chance is unlikely to spell that one date exactly; a one-digit day must not follow a
/// digit, so `28 JUL` never shows `8 JUL`.
pub fn date_printed(date: Date, line: &str) -> bool {
    let c = compact(line);
    let (day, month, year) = (date.day(), date.month(), date.year());
    let two = |n: u16| format!("{:02}", n % 100).into_bytes();
    let year4 = format!("{year:04}").into_bytes();
    let year2 = two(year);
    let (dd, mm) = (two(u16::from(day)), two(u16::from(month)));
    let numeric: [Vec<u8>; 4] = [
        [&dd[..], &mm, &year4].concat(),
        [&mm[..], &dd, &year4].concat(),
        [&year4[..], &mm, &dd].concat(),
        [&dd[..], &mm, &year2].concat(),
    ];
    if numeric
        .iter()
        .any(|n| c.windows(n.len()).any(|w| w == &n[..]))
    {
        return true;
    }
    let one = (day < 10).then(|| vec![b'0' + day]);
    for start in 0..c.len() {
        let rest = &c[start..];
        let after_day = if rest.starts_with(&dd) {
            &rest[dd.len()..]
        } else if let Some(d) = one.as_ref().filter(|d| rest.starts_with(d)) {
            if start > 0 && c[start - 1].is_ascii_digit() {
                continue;
            }
            &rest[d.len()..]
        } else {
            continue;
        };
        // A month word's first letter may come out as its look-alike digit (`0CT`).
        let owned: Vec<u8>;
        let after_day = match after_day.split_first() {
            Some((&first, rest))
                if matches!(first, b'0' | b'5' | b'6')
                    && rest.first().is_some_and(u8::is_ascii_uppercase) =>
            {
                let letter = match first {
                    b'0' => b'O',
                    b'5' => b'S',
                    _ => b'G',
                };
                owned = std::iter::once(letter)
                    .chain(rest.iter().copied())
                    .collect();
                &owned[..]
            }
            _ => after_day,
        };
        let letters = after_day
            .iter()
            .take_while(|b| b.is_ascii_uppercase())
            .count();
        if letters < 3 || !names_month(&after_day[..letters], month) {
            continue;
        }
        let mut after_month = &after_day[letters..];
        // `JAN/JAN`: the slash between two languages' months read as a digit.
        if let Some((b'7' | b'1', rest)) = after_month.split_first() {
            let second = rest.iter().take_while(|b| b.is_ascii_uppercase()).count();
            if second >= 3 && month_of(&rest[..second]).is_some() {
                after_month = &rest[second..];
            }
        }
        if starts_with_digits(after_month, &year4) || starts_with_digits(after_month, &year2) {
            return true;
        }
    }
    false
}

/// Whether `text` starts with `digits`, a letter the recognizer confuses with a digit
/// (`8S` for `85`, `O` for `0`) counting as that digit: a year follows the month's letters,
/// so nothing there is a letter.
fn starts_with_digits(text: &[u8], digits: &[u8]) -> bool {
    text.len() >= digits.len()
        && text.iter().zip(digits).all(|(&t, &d)| {
            t == d
                || matches!(
                    (t, d),
                    (b'O' | b'Q' | b'D', b'0')
                        | (b'I' | b'L', b'1')
                        | (b'Z', b'2')
                        | (b'S', b'5')
                        | (b'G', b'6')
                        | (b'B', b'8')
                )
        })
}

/// Characters a recognizer confuses between letters and digits, folded to one form, so
/// that a printed `O` and an MRZ `0` (or the other way round) are the same character.
fn fold(c: char) -> char {
    match c {
        'O' | 'Q' | 'D' => '0',
        'I' | 'L' => '1',
        'Z' => '2',
        'S' => '5',
        'G' => '6',
        'B' => '8',
        other => other,
    }
}

/// Whether `number` (a document number) is printed in `lines`: its characters, look-alikes
/// folded, appear in order in one line with every space and punctuation left out (an
/// issuer may print it in groups).
pub fn number_printed(number: &str, lines: &[String]) -> bool {
    let wanted: String = number
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| fold(c.to_ascii_uppercase()))
        .collect();
    wanted.len() >= 4
        && lines.iter().any(|line| {
            let plain: String = line
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| fold(c.to_ascii_uppercase()))
                .collect();
            plain.contains(&wanted)
        })
}

/// What the printed zone says of one field of the MRZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintedField {
    /// The printed text states the same value.
    Confirmed,
    /// The printed text that was read does not state it.
    NotFound,
    /// The MRZ has no such field.
    Absent,
}

/// The MRZ's fields, each set against the printed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PrintedComparison {
    pub names: PrintedField,
    pub birth_date: PrintedField,
    pub expiry_date: PrintedField,
    pub document_number: PrintedField,
}

impl PrintedComparison {
    /// Every field the MRZ states is confirmed by the printed text.
    pub fn all_confirmed(&self) -> bool {
        [
            self.names,
            self.birth_date,
            self.expiry_date,
            self.document_number,
        ]
        .iter()
        .all(|f| *f != PrintedField::NotFound)
    }

    /// The fields that tie the document to a person, the names and the birth date (what
    /// the service compares with the directory's record), are confirmed by the printed
    /// text. Neither is protected by the MRZ against a forger: the names carry no check
    /// digit, and a check digit is arithmetic anyone can redo for a changed date. The
    /// expiry date and the document number are protected against misreading by their
    /// check digits and say nothing about who the holder is; their being found is
    /// reported, not required, since small print is often misread.
    pub fn identity_confirmed(&self) -> bool {
        self.names != PrintedField::NotFound && self.birth_date != PrintedField::NotFound
    }
}

/// `fields` (an MRZ's) set against `lines`, the printed lines read off the same document.
/// `names_truncated`: the MRZ cut the names at the field's end.
pub fn compare_printed(
    fields: &DocumentFields,
    names_truncated: bool,
    lines: &[String],
) -> PrintedComparison {
    let date = |d: Option<Date>| match d {
        None => PrintedField::Absent,
        Some(d) if lines.iter().any(|l| date_printed(d, l)) => PrintedField::Confirmed,
        Some(_) => PrintedField::NotFound,
    };
    let words = printed_name_words(lines);
    let (surname, given_names) = (
        fields.surname.as_deref().map(as_mrz_writes),
        fields.given_names.as_deref().map(as_mrz_writes),
    );
    let names = if surname.is_none() && given_names.is_none() {
        PrintedField::Absent
    } else if names_are_printed(
        surname.as_deref(),
        given_names.as_deref(),
        names_truncated,
        &words,
    ) {
        PrintedField::Confirmed
    } else {
        PrintedField::NotFound
    };
    let document_number = match &fields.document_number {
        None => PrintedField::Absent,
        Some(n) if number_printed(n, lines) => PrintedField::Confirmed,
        Some(_) => PrintedField::NotFound,
    };
    PrintedComparison {
        names,
        birth_date: date(fields.birth_date),
        expiry_date: date(fields.expiry_date),
        document_number,
    }
}

/// A name as an MRZ writes it: upper case, an apostrophe left out (`O'BRIEN` is
/// `OBRIEN`), any other character that is not a letter a space. An MRZ's names already
/// are; a licence barcode's may not be.
fn as_mrz_writes(name: &str) -> String {
    name.to_ascii_uppercase()
        .chars()
        .filter(|&c| c != '\'')
        .map(|c| if c.is_ascii_uppercase() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words of printed lines as the MRZ would write names: each line's words (upper case
/// A to Z, every other character a break) and the line's words run together, since the
/// recognizer may miss the space between two printed words.
pub fn printed_name_words(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|p| {
            let words = printed_words(p);
            let whole: String = words.concat();
            words.into_iter().chain(Some(whole))
        })
        .collect()
}

/// The words of a printed line as the MRZ would write them: upper case A to Z, every other
/// character a break. A letter with a diacritic the recognizer read as its base letter
/// stays that letter, as the MRZ's transliteration writes most of them. In a word that
/// has letters, a digit the recognizer confuses with a letter is read as that letter
/// (`J0DIE` is `JODIE`): it reads the page over letters and digits alike, and names have no
/// digits. A run of digits alone (a date) stays no word.
pub fn printed_words(line: &str) -> Vec<String> {
    line.to_ascii_uppercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|token| token.chars().any(|c| c.is_ascii_uppercase()))
        .flat_map(|token| {
            let folded: String = token
                .chars()
                .map(|c| match c {
                    '0' => 'O',
                    '1' => 'I',
                    '5' => 'S',
                    '8' => 'B',
                    other => other,
                })
                .collect();
            folded
                .split(|c: char| !c.is_ascii_uppercase())
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether the surname and given names are printed among `words`: each name (the
/// surname, the given names) as one printed word with its spaces left out, or each of its
/// words printed, or all of the names run together at the start of one printed word (the
/// recognizer missed the spaces of a line printing both, and may run on into a word
/// printed beside them). When the names were cut at the field's end (`truncated`), the last name
/// may be the start of the printed one with its spaces left out. A name with `AE`, `OE` or
/// `UE` also matches the printed word with `A`, `O`, `U` there: the MRZ may write `Ä` as
/// `AE`, and the recognizer reads a printed `Ä` as `A`.
pub fn names_are_printed(
    surname: Option<&str>,
    given_names: Option<&str>,
    truncated: bool,
    words: &[String],
) -> bool {
    let parts: Vec<Vec<&str>> = [surname, given_names]
        .into_iter()
        .flatten()
        .map(|n| n.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>())
        .filter(|p| !p.is_empty())
        .collect();
    let last_part = parts.len().saturating_sub(1);
    let printed = |name: &str, cut: bool| {
        let plain = without_umlaut_e(name);
        words.iter().any(|w| {
            w == name
                || *w == plain
                || (cut && w.starts_with(name))
                || after_other_script(w, name)
                || after_other_script(w, &plain)
        })
    };
    // Surname and given names printed on one line, the spaces between them missed, and
    // perhaps a word printed beside them run on (`LINMEIHUASPECIMEN`).
    let together: String = parts.iter().flatten().copied().collect();
    !parts.is_empty()
        && (printed(&together, true)
            || parts.iter().enumerate().all(|(p, part)| {
                // A name cut at the field's end is the start of the printed name as a whole
                // (its words run together), never of any printed word: `LISELOTTE<L` is not
                // `LISELOTTE` cut short because `L` starts a word.
                let cut = truncated && p == last_part;
                printed(&part.concat(), cut) || part.iter().all(|word| printed(word, false))
            }))
}

/// Whether `word` is `name` printed after the same name in another script, the two run
/// together (`TKAHEHKOTKACHENKO`: Ukraine prints `ТКАЧЕНКО/TKACHENKO`, and the recognizer
/// reads the Cyrillic as look-alike Latin letters and misses the slash). At least three
/// letters must come before, and the name must be four long: a name misread by a letter or
/// two at its start (`LIVIA` for `OLIVIA`) is not confirmed by the printed whole.
fn after_other_script(word: &str, name: &str) -> bool {
    name.len() >= 4 && word.len() >= name.len() + 3 && word.ends_with(name)
}

/// `AE`, `OE` and `UE` written `A`, `O`, `U`.
fn without_umlaut_e(name: &str) -> String {
    name.replace("AE", "A")
        .replace("OE", "O")
        .replace("UE", "U")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse_iso(s).expect("a date")
    }

    fn states(line: &str, iso: &str) -> bool {
        date_printed(date(iso), line)
    }

    #[test]
    fn dates_are_found_however_the_issuer_prints_them() {
        // As the recognizer returns them: no punctuation, upper case, spaces kept or lost.
        for (line, iso) in [
            ("12 AUG AOUT 74", "1974-08-12"),
            ("12 AUGAOUT 74", "1974-08-12"),
            ("20 FEB 1979", "1979-02-20"),
            ("20FEB1979", "1979-02-20"),
            ("12 08 1964", "1964-08-12"),
            ("12081964", "1964-08-12"),
            ("08 12 1964", "1964-08-12"),
            ("1964 08 12", "1964-08-12"),
            ("19640812", "1964-08-12"),
            ("03 JUIL JUL 2031", "2031-07-03"),
            ("03 JUIN JUN 2031", "2031-06-03"),
            ("1 MRT 2030", "2030-03-01"),
            ("8AOUTAUG2006", "2006-08-08"),
            ("DATE OF EXPIRY 15 DEZ DEC 2029", "2029-12-15"),
            ("20 mar 2016", "2016-03-20"),
            // Two dates run together: both are there.
            ("29JUL200428JUL2014", "2004-07-29"),
            ("29JUL200428JUL2014", "2014-07-28"),
            ("31DESDEC66", "1966-12-31"),
            ("24 CEPAUG91", "1991-08-24"),
            ("131113", "2013-11-13"),
            // The slash between two languages' months read as `7`, a `5` of the year as `S`
            // (Canada's specimen passport, `01 JAN /JAN 85`).
            ("01 JAN7JAN85", "1985-01-01"),
            ("01 JAN7JAN8S", "1985-01-01"),
            ("14JAN1JAN2O23", "2023-01-14"),
            // `OCT` with its `O` read as a zero (a generated licence's expiry).
            ("13 0CT2035", "2035-10-13"),
            ("3 5EP 1990", "1990-09-03"),
        ] {
            assert!(states(line, iso), "{line:?} should state {iso}");
        }
    }

    #[test]
    fn another_date_is_not_the_date() {
        for (line, iso) in [
            ("", "1974-08-12"),
            ("PASSPORT", "1974-08-12"),
            ("12 AUG 1975", "1974-08-12"),
            ("13 AUG 1974", "1974-08-12"),
            ("12 SEP 1974", "1974-08-12"),
            ("12 AUG7SEP 74", "1974-09-12"),
            ("12 AUG7AUG 75", "1974-08-12"),
            ("12 AUG 7S", "1974-08-12"),
            ("13 0CT2035", "2035-10-03"),
            ("12 JUIN 1974", "1974-07-12"), // JUIN is June, not July
            ("12 AUG", "1974-08-12"),       // no year
            ("12 08 1975", "1974-08-12"),
            ("28 JUL 2014", "2014-07-08"), // the 8 of 28 is not a day
            ("12 FOO 1974", "1974-08-12"),
        ] {
            assert!(!states(line, iso), "{line:?} should not state {iso}");
        }
    }

    #[test]
    fn a_two_digit_year_matches_only_its_last_two_digits() {
        assert!(states("12 AUG 74", "1974-08-12"));
        assert!(states("12 AUG 74", "2074-08-12"));
        assert!(!states("12 AUG 74", "1975-08-12"));
        assert!(!states("12 AUG 1974", "2074-08-12"));
    }

    #[test]
    fn a_document_number_is_found_in_groups_and_through_look_alikes() {
        let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(number_printed(
            "L898902C3",
            &lines(&["PASSPORT NO L898902C3"])
        ));
        assert!(number_printed("T22000129", &lines(&["T22 000 129"])));
        assert!(number_printed("T22000129", &lines(&["T22OOO129"])));
        assert!(number_printed("C01X00T47", &lines(&["CO1XOOT47"])));
        assert!(!number_printed("T22000129", &lines(&["T22000128"])));
        assert!(!number_printed("T22000129", &lines(&["T2200012"])));
        // Too short to say anything.
        assert!(!number_printed("12", &lines(&["12"])));
    }

    fn fields() -> DocumentFields {
        DocumentFields {
            document_number: Some("L898902C3".into()),
            surname: Some("ERIKSSON".into()),
            given_names: Some("ANNA MARIA".into()),
            birth_date: Some(date("1974-08-12")),
            expiry_date: Some(date("2032-04-15")),
            ..DocumentFields::default()
        }
    }

    fn utopia_page() -> Vec<String> {
        [
            "PASSPORT PASSEPORT",
            "L898902C3",
            "ERIKSSON",
            "ANNA MARIA",
            "UTOPIAN",
            "12 AUG AOUT 74",
            "16 APR AVR 22",
            "15 APR AVR 32",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn every_field_of_a_consistent_page_is_confirmed() {
        let c = compare_printed(&fields(), false, &utopia_page());
        assert_eq!(
            c,
            PrintedComparison {
                names: PrintedField::Confirmed,
                birth_date: PrintedField::Confirmed,
                expiry_date: PrintedField::Confirmed,
                document_number: PrintedField::Confirmed,
            }
        );
        assert!(c.all_confirmed());
    }

    #[test]
    fn an_mrz_that_states_another_person_is_not_confirmed() {
        // The MRZ strip of one document pasted under another's printed page.
        let mut other = fields();
        other.surname = Some("RIVER".into());
        other.given_names = Some("BLAKE".into());
        other.birth_date = Some(date("1981-03-02"));
        other.document_number = Some("X12345678".into());
        let c = compare_printed(&other, false, &utopia_page());
        assert_eq!(c.names, PrintedField::NotFound);
        assert_eq!(c.birth_date, PrintedField::NotFound);
        assert_eq!(c.document_number, PrintedField::NotFound);
        assert_eq!(c.expiry_date, PrintedField::Confirmed);
        assert!(!c.all_confirmed());
        assert!(!c.identity_confirmed());
        // One field changed is enough to be found.
        let mut born_later = fields();
        born_later.birth_date = Some(date("1975-08-12"));
        assert!(!compare_printed(&born_later, false, &utopia_page()).identity_confirmed());
        // A number or an expiry not found is reported, not an identity unconfirmed.
        let mut renewed = fields();
        renewed.expiry_date = Some(date("2033-04-15"));
        renewed.document_number = Some("L898902C4".into());
        let c = compare_printed(&renewed, false, &utopia_page());
        assert!(!c.all_confirmed());
        assert!(c.identity_confirmed());
    }

    #[test]
    fn a_name_read_with_a_digit_for_its_look_alike_is_found() {
        let lines = vec!["J0DIE PIPPA".to_string(), "ER1KSS0N".to_string()];
        assert_eq!(printed_words("J0DIE 12 AUG 74"), vec!["JODIE", "AUG"]);
        let mut f = fields();
        f.surname = Some("ERIKSSON".into());
        f.given_names = Some("JODIE PIPPA".into());
        assert_eq!(
            compare_printed(&f, false, &lines).names,
            PrintedField::Confirmed
        );
    }

    #[test]
    fn names_run_together_on_one_line_are_found() {
        let lines = vec!["ERIKSSONANNAMARIA".to_string()];
        let c = compare_printed(&fields(), false, &lines);
        assert_eq!(c.names, PrintedField::Confirmed);
        let lines = vec!["ERIKSSONANNA".to_string()];
        assert_eq!(
            compare_printed(&fields(), false, &lines).names,
            PrintedField::NotFound
        );
    }

    /// Ukraine's specimen: each name printed in Cyrillic, then in Latin letters, the
    /// recognizer reading the Cyrillic as look-alike Latin and missing the slash.
    #[test]
    fn a_name_printed_after_its_other_script_is_found_and_a_clipped_one_is_not() {
        let mut f = fields();
        f.surname = Some("TKACHENKO".into());
        f.given_names = Some("MARIANA".into());
        let lines = vec!["TKAHEHKOTKACHENKO".to_string(), "MAPAHAMARIANA".to_string()];
        assert_eq!(
            compare_printed(&f, false, &lines).names,
            PrintedField::Confirmed
        );
        // A name misread by its first letters is not confirmed by the printed whole, nor
        // is a short name inside a longer word.
        f.surname = Some("ACHENKO".into());
        let lines = vec!["TKACHENKO".to_string(), "MAPAHAMARIANA".to_string()];
        assert_eq!(
            compare_printed(&f, false, &lines).names,
            PrintedField::NotFound
        );
        f.surname = Some("TKACHENKO".into());
        f.given_names = Some("ANA".into());
        assert_eq!(
            compare_printed(&f, false, &lines).names,
            PrintedField::NotFound
        );
    }

    /// A licence barcode writes names as the card prints them, in either case and with
    /// their apostrophes and hyphens.
    #[test]
    fn a_barcodes_names_are_compared_as_an_mrz_writes_them() {
        let mut f = fields();
        f.surname = Some("O'Brien-Smith".into());
        f.given_names = Some("Mary Ellen".into());
        let lines = vec!["1 O'BRIEN-SMITH".to_string(), "2 MARY ELLEN".to_string()];
        assert_eq!(
            compare_printed(&f, false, &lines).names,
            PrintedField::Confirmed
        );
        let lines = vec!["1 O'BRIEN-SMYTH".to_string(), "2 MARY ELLEN".to_string()];
        assert_eq!(
            compare_printed(&f, false, &lines).names,
            PrintedField::NotFound
        );
    }

    #[test]
    fn fields_the_mrz_lacks_are_absent_not_missing() {
        let c = compare_printed(&DocumentFields::default(), false, &utopia_page());
        assert!(c.all_confirmed() && c.identity_confirmed());
        assert_eq!(c.names, PrintedField::Absent);
        assert_eq!(c.birth_date, PrintedField::Absent);
    }
}
