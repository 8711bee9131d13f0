//! ICAO 9303 machine-readable zones: TD1 (ID cards, 3 lines of 30), TD2 (2 lines of 36)
//! and TD3 (passports, 2 lines of 44), with the MRV-A and MRV-B visas that share the TD3
//! and TD2 geometry.
//!
//! [`parse_mrz`] reads text already in the MRZ alphabet. A check digit that does not verify
//! is not an error: the parse succeeds and says which field failed, because "the expiry
//! date was misread" is worth telling the user. [`resolve_mrz`] takes OCR output with
//! alternatives per position and uses the character class of each position and the check
//! digits to pick the most probable consistent reading. [`encode_mrz`] writes an MRZ, for
//! tests and synthetic documents.

pub mod codes;
mod encode;
mod layout;
mod printed;
mod resolve;
mod shapes;

use serde::{Deserialize, Serialize};

use crate::date::{Date, TwoDigitYear};
use crate::fields::{DocumentFields, DocumentKind, Sex};
use layout::{checks, detect, document_number, unknown_format, Grid, Layout, Span, FILLER};

pub use crate::visual_zone::printed_words;
pub use encode::{encode_mrz, MrzInput};
pub use printed::{names_in_doubt, settle_names_by_printed, MAX_NAME_DOUBTS};
pub use resolve::{correct_by_class, resolve_mrz};
pub use shapes::{filler_doubts, settle_fillers_by_shape, FillerDoubt, Shape};

/// A field of an MRZ, as named in check-digit results, field errors and encoder errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MrzField {
    DocumentCode,
    Issuer,
    DocumentNumber,
    /// Primary and secondary identifiers: one field in the MRZ.
    Names,
    Nationality,
    BirthDate,
    Sex,
    ExpiryDate,
    /// The TD3 optional data field, which its own check digit protects.
    PersonalNumber,
    OptionalData,
    Composite,
}

impl MrzField {
    /// Stable name, the same as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MrzField::DocumentCode => "document_code",
            MrzField::Issuer => "issuer",
            MrzField::DocumentNumber => "document_number",
            MrzField::Names => "names",
            MrzField::Nationality => "nationality",
            MrzField::BirthDate => "birth_date",
            MrzField::Sex => "sex",
            MrzField::ExpiryDate => "expiry_date",
            MrzField::PersonalNumber => "personal_number",
            MrzField::OptionalData => "optional_data",
            MrzField::Composite => "composite",
        }
    }
}

impl std::fmt::Display for MrzField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check digit as printed and as computed from the field it protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDigitResult {
    pub field: MrzField,
    /// The character printed in the check-digit position.
    pub expected: char,
    pub computed: char,
    pub valid: bool,
}

/// Why a field's value could not be used; the field is `None` in [`Mrz::fields`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldErrorReason {
    /// Not a calendar date (month 13, day 32, letters, filler).
    #[serde(rename = "mrz_invalid_date")]
    InvalidDate,
    /// Not `F`, `M`, `X` or `<`.
    #[serde(rename = "mrz_invalid_sex")]
    InvalidSex,
    /// A digit in a letters-only field (codes, names): a misread that no check digit
    /// protects, so the value cannot be trusted.
    #[serde(rename = "mrz_unexpected_digit")]
    UnexpectedDigit,
    /// Something after three fillers in a row in the names: a single `<` parts name
    /// components and `<<` the surname from the given names (ICAO 9303-3), so three end
    /// the names and only fillers may follow. A letter there is a smudge or a filler
    /// misread, and which of the names' letters are real cannot be told.
    #[serde(rename = "mrz_letters_after_names")]
    LettersAfterNames,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: MrzField,
    pub reason: FieldErrorReason,
}

impl FieldError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self.reason {
            FieldErrorReason::InvalidDate => "mrz_invalid_date",
            FieldErrorReason::InvalidSex => "mrz_invalid_sex",
            FieldErrorReason::UnexpectedDigit => "mrz_unexpected_digit",
            FieldErrorReason::LettersAfterNames => "mrz_letters_after_names",
        }
    }
}

/// A machine-readable zone, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mrz {
    /// `Td1`, `Td2` or `Td3` (visas report the geometry they share).
    pub kind: DocumentKind,
    pub fields: DocumentFields,
    /// Every check digit of the layout, in document order, the composite last.
    pub check_digits: Vec<CheckDigitResult>,
    /// The name field is full to its last position, so the names may have been cut.
    pub names_truncated: bool,
    /// Positions whose reading is in doubt ([`resolve_mrz`]; empty for text read as
    /// given): in the names, where the recognizer found another character nearly as
    /// likely as the one read (names have no check digit, so nothing in the zone can say
    /// which is right), and wherever the corrector chose a character the recognizer never
    /// offered (a look-alike swap the check digit accepted, one time in ten by chance). A
    /// reading with any is not to be trusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncertain: Vec<UncertainChar>,
    /// Every character the resolver chose over the recognizer's first choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<Correction>,
    /// Letters or fillers the recognizer offered in the names below the bar of
    /// `uncertain`, likeliest first: not doubts of the reading, but what the printed names
    /// may choose among ([`settle_names_by_printed`]). Not part of the reading's report.
    #[serde(skip)]
    pub name_alternatives: Vec<UncertainChar>,
    /// The names' doubts were settled by the names printed in the visual zone
    /// ([`settle_names_by_printed`]): of the readings the recognizer left open, the one
    /// whose every name word is printed on the document.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub names_printed: bool,
    /// Doubts between the filler and a letter were settled by what the characters look
    /// like beside the zone's own certain fillers and letters ([`settle_fillers_by_shape`]);
    /// each change is in `corrections`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fillers_by_shape: bool,
    pub field_errors: Vec<FieldError>,
    /// The lines read, without surrounding whitespace.
    pub lines: Vec<String>,
}

/// One position of an MRZ read one way where the recognizer offered another character at
/// least a quarter as likely (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UncertainChar {
    pub line: usize,
    pub column: usize,
    pub read: char,
    pub alternative: char,
}

/// A character the resolver chose over the recognizer's first choice (1-based line and
/// column): by its position's class (`O` read in a date is `0`), by a check digit among
/// the recognizer's alternatives, or, `offered` false, by a look-alike swap the recognizer
/// never suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub line: usize,
    pub column: usize,
    pub read: char,
    pub chosen: char,
    pub offered: bool,
}

impl Mrz {
    pub fn all_check_digits_valid(&self) -> bool {
        self.check_digits.iter().all(|c| c.valid)
    }

    /// Stable names of the fields whose check digit failed.
    pub fn failed_check_digits(&self) -> Vec<&'static str> {
        self.check_digits
            .iter()
            .filter(|c| !c.valid)
            .map(|c| c.field.as_str())
            .collect()
    }

    /// The encoder input that writes these fields again; `None` when a date or the sex is
    /// unusable. Absent text fields become empty, which the encoder writes as filler.
    pub fn to_input(&self) -> Option<MrzInput> {
        let f = &self.fields;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Some(MrzInput {
            kind: self.kind,
            document_code: text(&f.document_code),
            issuer: text(&f.issuer),
            document_number: text(&f.document_number),
            surname: text(&f.surname),
            given_names: text(&f.given_names),
            nationality: text(&f.nationality),
            birth_date: f.birth_date?,
            sex: f.sex?,
            expiry_date: f.expiry_date?,
            optional_data: f.optional_data.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrzError {
    #[error("{lines} line(s), the first of {length} characters, match no MRZ format")]
    UnknownFormat { lines: usize, length: usize },
    #[error("line {line} has {found} characters, the format needs {expected}")]
    WrongLength {
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("line {line}, column {column}: {found:?} is not an MRZ character (0-9, A-Z, <)")]
    InvalidCharacter {
        line: usize,
        column: usize,
        found: char,
    },
    #[error("line {line}, column {column}: no candidate character")]
    NoCandidates { line: usize, column: usize },
    #[error("{kind:?} documents have no MRZ")]
    UnsupportedKind { kind: DocumentKind },
    #[error("{field} cannot be written in an MRZ: {reason}")]
    InvalidField {
        field: MrzField,
        reason: &'static str,
    },
    #[error("{field} is longer than the {max} characters its MRZ field holds")]
    FieldTooLong { field: MrzField, max: usize },
    #[error("the primary identifier leaves no room for the secondary identifier")]
    NameTooLong,
}

impl MrzError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            MrzError::UnknownFormat { .. } => "mrz_unknown_format",
            MrzError::WrongLength { .. } => "mrz_wrong_length",
            MrzError::InvalidCharacter { .. } => "mrz_invalid_character",
            MrzError::NoCandidates { .. } => "mrz_no_candidates",
            MrzError::UnsupportedKind { .. } => "mrz_unsupported_kind",
            MrzError::InvalidField { .. } => "mrz_invalid_field",
            MrzError::FieldTooLong { .. } => "mrz_field_too_long",
            MrzError::NameTooLong => "mrz_name_too_long",
        }
    }
}

/// The ICAO 9303 check digit of `field` (weights 7, 3, 1; `A`-`Z` count 10-35, `<` 0), or
/// `None` if `field` holds a character outside the MRZ alphabet.
pub fn check_digit(field: &str) -> Option<u8> {
    // Any non-ASCII character is made of bytes outside the alphabet, so `None` either way.
    check_value(field.bytes())
}

pub(crate) fn check_value(bytes: impl Iterator<Item = u8>) -> Option<u8> {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let mut sum = 0u32;
    for (c, w) in bytes.zip(WEIGHTS.iter().cycle()) {
        let value = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            FILLER => 0,
            _ => return None,
        };
        // Reduced as it goes so no input length can overflow.
        sum = (sum + u32::from(value) * w) % 10;
    }
    u8::try_from(sum).ok()
}

fn is_mrz_char(c: char) -> bool {
    matches!(c, '0'..='9' | 'A'..='Z' | '<')
}

/// Reads an MRZ. Lines are trimmed of surrounding whitespace; inside them only `0-9 A-Z <`
/// may appear. Two-digit years are expanded relative to `today`: birth dates into the past,
/// expiry dates into the nearest century.
pub fn parse_mrz(lines: &[&str], today: Date) -> Result<Mrz, MrzError> {
    let lines: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    let lengths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
    // A count that fits no format says more than the first odd character would.
    if !(2..=3).contains(&lines.len()) {
        return Err(unknown_format(&lengths));
    }
    for (i, line) in lines.iter().enumerate() {
        if let Some((j, found)) = line.chars().enumerate().find(|&(_, c)| !is_mrz_char(c)) {
            return Err(MrzError::InvalidCharacter {
                line: i + 1,
                column: j + 1,
                found,
            });
        }
    }
    let kind = detect(&lengths)?;
    let first = lines
        .first()
        .and_then(|l| l.bytes().next())
        .unwrap_or(FILLER);
    let layout = Layout::of(kind, first).ok_or_else(|| unknown_format(&lengths))?;
    let grid = Grid::new(lines.iter().map(|l| l.as_bytes().to_vec()).collect());
    Ok(read(layout, &grid, today))
}

fn read(layout: &Layout, grid: &Grid, today: Date) -> Mrz {
    let mut errors = Vec::new();
    let mut letters = |span: Span, field: MrzField| -> Option<String> {
        let text = grid.text(span);
        if text.bytes().any(|c| c.is_ascii_digit()) {
            errors.push(FieldError {
                field,
                reason: FieldErrorReason::UnexpectedDigit,
            });
            return None;
        }
        non_empty(text.trim_end_matches('<'))
    };
    let document_code = letters(layout.document_code, MrzField::DocumentCode);
    let issuer = letters(layout.issuer, MrzField::Issuer);
    let nationality = letters(layout.nationality, MrzField::Nationality);
    let names = letters(layout.names, MrzField::Names);
    let names = match names {
        Some(n) if n.trim_start_matches('<').contains("<<<") => {
            errors.push(FieldError {
                field: MrzField::Names,
                reason: FieldErrorReason::LettersAfterNames,
            });
            None
        }
        other => other,
    };

    let (surname, given_names) = names.as_deref().map_or((None, None), split_names);
    let names_truncated = layout.names.positions().last().map(|p| grid.get(p)) != Some(FILLER);

    let sex = match grid.get(layout.sex.first()) {
        b'F' => Some(Sex::Female),
        b'M' => Some(Sex::Male),
        b'X' | FILLER => Some(Sex::Unspecified),
        _ => {
            errors.push(FieldError {
                field: MrzField::Sex,
                reason: FieldErrorReason::InvalidSex,
            });
            None
        }
    };
    let mut date = |span: Span, kind: TwoDigitYear, field: MrzField| {
        let date = Date::from_yymmdd(&grid.text(span), kind, today);
        if date.is_none() {
            errors.push(FieldError {
                field,
                reason: FieldErrorReason::InvalidDate,
            });
        }
        date
    };
    let birth_date = date(layout.birth_date, TwoDigitYear::Past, MrzField::BirthDate);
    let expiry_date = date(layout.expiry_date, TwoDigitYear::Near, MrzField::ExpiryDate);

    let number = document_number(layout, grid);
    let optional_data = layout
        .optional
        .iter()
        .enumerate()
        .filter_map(|(i, &span)| {
            let skip = if layout.overflow == Some(i) {
                number.overflow_used
            } else {
                0
            };
            let text = grid.text(span);
            non_empty(text.get(skip..).unwrap_or("").trim_matches('<'))
        })
        .collect();

    Mrz {
        kind: layout.kind,
        fields: DocumentFields {
            document_code,
            issuer,
            document_number: non_empty(&number.value),
            surname,
            given_names,
            nationality,
            birth_date,
            sex,
            expiry_date,
            issue_date: None,
            optional_data,
        },
        check_digits: checks(layout, grid)
            .iter()
            .map(|c| c.result(grid))
            .collect(),
        names_truncated,
        uncertain: Vec::new(),
        corrections: Vec::new(),
        name_alternatives: Vec::new(),
        names_printed: false,
        fillers_by_shape: false,
        field_errors: errors,
        lines: grid.lines(),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Primary identifier before the first `<<`, secondary after it; within each, any run of
/// filler separates name components (a truncated or badly printed field may hold `<<` in
/// the secondary identifier too).
fn split_names(field: &str) -> (Option<String>, Option<String>) {
    let (primary, secondary) = field.split_once("<<").unwrap_or((field, ""));
    let words = |part: &str| {
        let joined = part
            .split('<')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        non_empty(&joined)
    };
    (words(primary), words(secondary))
}

#[cfg(test)]
mod tests;
