//! Names on an identity document against the account's record in the directory.
//!
//! This is a security control. A genuine document proves who its holder is; this module
//! decides whether that holder is the person the directory account belongs to. The attack
//! it stops is an honest ID used for someone else's account, most plausibly by someone who
//! shares the victim's surname (spouse, sibling, parent) or first name. So it forgives only
//! what documents and directories legitimately do to names (case, accents, ICAO
//! transliteration, separators, middle names, MRZ truncation, name order in a display
//! name) and is strict about everything else. Anything short of a clean match is either
//! [`NameVerdict::Partial`] (a human must look) or [`NameVerdict::Mismatch`].
//!
//! # Normalisation
//!
//! Every name is composed (NFC), then each character is folded to upper-case Latin letters:
//!
//! * ICAO 9303 Part 3 transliterations are equal to both the transliterated and the stripped
//!   form: `Ä`=`A`|`AE`, `Ö`=`O`|`OE`, `Ü`=`U`|`UE`, `Å`=`A`|`AA`, `Ø`=`O`|`OE` (ICAO says
//!   `OE`; `O` is the same letter without its stroke). Fixed ones: `ß`=`SS`, `Æ`=`AE`,
//!   `Œ`=`OE`, `Þ`=`TH`, `Ð`/`Đ`=`D`, `Ł`=`L`, `Ħ`=`H`, `Ĳ`=`IJ`. This is modelled as a letter
//!   that may be skipped (`Ü` is `U` followed by an optional `E`), so the comparison is
//!   exact however many umlauts a name has. Equivalence is not transitive through the
//!   document: `MUELLER` equals `Müller`, but not a directory's plain `Muller`, since the
//!   `UE` of an ASCII name may be genuine (`SAMUEL`).
//! * Everything else is decomposed (NFKD) and its combining marks dropped (`Ñ`=`N`, `Ç`=`C`).
//! * Whitespace, hyphens, `<` (MRZ filler) and commas separate tokens; apostrophes and
//!   periods are removed (`O'BRIEN` = `OBRIEN`, `A.` = `A`).
//! * Any other character (digits, emoji, `@`, brackets) is not part of a name. On the
//!   document it makes the name unreadable, so the result is a Mismatch: parsers only
//!   produce letters, and anything else means a misread or a forged payload. In the
//!   directory, the token holding it is ignored (`Anna Eriksson (Contractor)`), since
//!   dropping a directory token never makes a match easier than treating it as an extra
//!   middle name would.
//! * A trailing generational suffix (`JR`, `SR`, `II`, `III`, `IV`) is ignored in the
//!   directory's family and display names; documents carry it in a field of its own. So is
//!   a leading title in a display name (`DR`, `PROF`, `MR`, `MRS`, `MS`, `MX`).
//!
//! # Reading the directory record
//!
//! Given and family name (LDAP `givenName`/`sn`, Okta `firstName`/`lastName`, Entra
//! `givenName`/`surname`) are used when both are present and usable. Otherwise the display
//! name is parsed: `Family, Given` when it has a comma; else, since the order is unknown
//! (`Anna Eriksson`, `ERIKSSON Anna`, `Zhang Wei`), every split into a leading or trailing
//! run of family tokens is tried, never inside a hyphenated name, and the best result is
//! kept. When only one structured field is set, only the display-name readings that agree
//! with it are kept. A display name that is an email address or a single name (a username)
//! is not a name.
//!
//! # Verdict
//!
//! Tokens are compared after normalisation. The *document* is taken as the complete legal
//! name; the directory may leave things out.
//!
//! * **Match** needs both:
//!   * Surname: the directory's family tokens are all found among the document's surname
//!     tokens (any order). Equal sets are a plain match; a strict subset is the compound
//!     surname rule (note `compound_surname_subset`): the directory keeps one part of a
//!     Spanish or double-barrelled name (`José García` against `GARCIA LOPEZ`). The reverse
//!     (the directory has surname parts the document lacks) is a Mismatch: the document
//!     would carry them. Names that differ only in separators (`MUELLERLUEDENSCHEIDT`
//!     against `Müller-Lüdenscheidt`) also match (`separator_difference`).
//!   * First given name: equal. A hyphenated first name (`Jean-Pierre` in the directory,
//!     `ANNA-MARIA` on a barcode) is one name, every part of which must be on the other
//!     side in order: the MRZ's `JEAN<PIERRE` has them, a father's `JEAN` does not. Also
//!     equal once separators are ignored (`JEANPIERRE` = `Jean-Pierre`). When the document
//!     is truncated and its given names end inside the first name, what is left must be the
//!     start of the directory's, at least 3 letters of it if only the first part is left
//!     (`ALEXAN` for `Alexander`).
//!
//!   Extra middle names on the document are allowed and noted: directories often keep only
//!   the first given name. Extra middle names in the directory are not, unless the document
//!   is truncated: the document carries the full legal name, and a directory-only middle
//!   name is what tells a mother `ANNA` from her daughter `Anna Karin`; that is a Partial
//!   (`middle_name_absent_in_document`). A middle name that *conflicts* (both sides have
//!   middle names, and some on each side pair with nothing) also turns a Match into a
//!   Partial (`middle_name_mismatch`). Middle names pair when equal, when one is the
//!   other's initial, or when the document's last name is a truncated prefix.
//! * **Partial** (manual review, never approval) when the surname matches but the first
//!   given name: is only an initial on either side (`initial_only`, also for a truncated
//!   prefix shorter than 3 letters); differs by one edit (insertion, deletion or
//!   substitution) in a document name of 5+ letters (`one_edit_difference`); or the
//!   directory's first given name is one of the document's later given names, as for people
//!   who go by a middle name (`given_name_order_differs`; the reverse is a Mismatch since the
//!   document lists all given names). Also Partial: family and given name match only after
//!   swapping them in a record whose order is explicit (`order_swapped`).
//! * **Mismatch**: everything else, in particular the same surname with another first name
//!   (the family-member attack), the same first name with another surname, a missing given
//!   name on either side, empty, overlong or non-letter names, and email or username
//!   display names.
//!
//! # Score
//!
//! For display and tuning only; the verdict never depends on it. Each token on both sides
//! gets a credit: 1 when paired with an equal token (or a truncated document prefix: the
//! document token gets 1, the directory token the share of its letters covered), the
//! share of its letters that survive for a one-edit pair, `1/letters` for a name paired
//! with an initial (the initial gets 1), 0 when unpaired. The score is the letter-weighted
//! mean credit over all tokens of both names, so 1.0 is an exact match and middle names
//! present on one side only lower it.
//!
//! # Bounds
//!
//! Each field is refused (`name_too_long`, Mismatch) past 1024 bytes, 128 characters, 12
//! tokens or 48 letters in a token, checked while reading it and before any quadratic
//! work. Comparisons are `O(n·m)` edit-distance tables over these bounds that stop as soon
//! as two edits are certain, and a display name has at most 22 readings: a real name takes
//! microseconds, the worst input the limits allow about a millisecond (release build).

use serde::{Deserialize, Serialize};
use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_normalization::UnicodeNormalization;

mod distance;
mod evaluate;
mod readings;
#[cfg(test)]
mod tests;
mod tokens;

use distance::*;
use evaluate::*;
use readings::*;
use tokens::*;

/// Longest field accepted, in bytes, checked before any normalisation work.
const MAX_FIELD_BYTES: usize = 1024;
/// Longest field accepted, in characters after NFC. Real names, even with several given
/// names and particles, stay well below; TD3 MRZ names are 39, AAMVA names 40 each.
const MAX_FIELD_CHARS: usize = 128;
/// Most tokens in one field.
const MAX_TOKENS: usize = 12;
/// Most folded letters in one token (`WOLFESCHLEGELSTEINHAUSENBERGERDORFF` has 35).
const MAX_TOKEN_CHARS: usize = 48;
/// A document first given name shorter than this, when truncated, counts as an initial.
const MIN_TRUNCATED_PREFIX: usize = 3;
/// One edit is only tolerated in document names at least this long: in shorter ones it
/// turns a name into another (`ANNA`/`ANA`, `JON`/`JOAN`).
const MIN_ONE_EDIT_LETTERS: usize = 5;
/// Generational suffixes a directory may append to a name.
const SUFFIXES: [&str; 5] = ["JR", "SR", "II", "III", "IV"];
/// Titles a directory display name may start with.
const TITLES: [&str; 6] = ["DR", "PROF", "MR", "MRS", "MS", "MX"];

/// A name as read from a document: upper case as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentName<'a> {
    /// Primary identifier: family name(s). May hold `<`, hyphens, apostrophes, spaces.
    pub surname: &'a str,
    /// Secondary identifier: given and middle names, in document order.
    pub given_names: &'a str,
    /// The MRZ name field was full, so its last name may be cut short (ICAO 9303 Part 3
    /// truncation). The reader decides this; it must be false for AAMVA, whose names are
    /// complete fields.
    pub truncated: bool,
}

impl<'a> DocumentName<'a> {
    /// The names of parsed document fields (absent ones empty). `truncated` comes from the
    /// reader, since [`DocumentFields`](crate::DocumentFields) does not record it.
    pub fn from_fields(fields: &'a crate::DocumentFields, truncated: bool) -> Self {
        DocumentName {
            surname: fields.surname.as_deref().unwrap_or(""),
            given_names: fields.given_names.as_deref().unwrap_or(""),
            truncated,
        }
    }
}

/// A name as the directory records it: mixed case, any script, any order in the display
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryName<'a> {
    /// LDAP `displayName`, Okta/Entra display name: `Anna Eriksson`, `Eriksson, Anna`,
    /// `ERIKSSON Anna`.
    pub display_name: &'a str,
    /// LDAP/Entra `givenName`, Okta `firstName`.
    pub given_name: Option<&'a str>,
    /// LDAP `sn`, Entra `surname`, Okta `lastName`.
    pub family_name: Option<&'a str>,
}

/// The decision. See the module documentation for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameVerdict {
    /// The names are the same person's, modulo what documents legitimately do to names.
    Match,
    /// Close but not certain: a person must review. Never approve on this.
    Partial,
    /// Different names, or nothing comparable.
    Mismatch,
}

impl NameVerdict {
    /// Only [`NameVerdict::Match`] may let a reset proceed without a person.
    pub fn is_match(self) -> bool {
        self == NameVerdict::Match
    }

    fn rank(self) -> u8 {
        match self {
            NameVerdict::Mismatch => 0,
            NameVerdict::Partial => 1,
            NameVerdict::Match => 2,
        }
    }
}

/// Why the verdict is what it is: stable snake_case codes, for logs, reviewers and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameNote {
    /// The directory's family name equals the document surname.
    SurnameMatched,
    /// The directory's family name is part of the document's compound surname.
    CompoundSurnameSubset,
    /// The surnames differ.
    SurnameMismatch,
    /// The surnames differ but share a token (e.g. the directory has a part the document
    /// lacks).
    SurnamePartialOverlap,
    /// The first given names are equal.
    GivenNameMatched,
    /// The first given names differ.
    GivenNameMismatch,
    /// One side has no given name at all.
    GivenNameMissing,
    /// The directory's first given name is one of the document's later given names.
    GivenNameOrderDiffers,
    /// The document has middle names the directory lacks.
    MiddleNameAbsentInDirectory,
    /// The directory has middle names the document lacks.
    MiddleNameAbsentInDocument,
    /// A middle name is given as an initial on one side.
    MiddleNameInitial,
    /// Both sides have middle names that do not pair.
    MiddleNameMismatch,
    /// Equal only through an ICAO transliteration (`MUELLER` = `Müller`, `GROSS` = `Groß`).
    TransliterationEquivalent,
    /// Equal once accents are removed (`JOSE` = `José`).
    DiacriticsIgnored,
    /// Equal once separators are ignored (`OBRIEN` = `O Brien`, `JEANPIERRE` = `Jean-Pierre`).
    SeparatorDifference,
    /// A truncated document name is a prefix of the directory's.
    TruncatedPrefixMatch,
    /// The first given name is only an initial on one side.
    InitialOnly,
    /// The first given names differ by one edit.
    OneEditDifference,
    /// The names only match with family and given name swapped.
    OrderSwapped,
    /// The directory name came from the display name.
    DisplayNameUsed,
    /// The display name puts the family name first (`ERIKSSON Anna`).
    FamilyNameFirst,
    /// A generational suffix in the directory was ignored.
    SuffixIgnored,
    /// A title at the start of the directory's display name was ignored.
    TitleIgnored,
    /// A directory token with non-letter characters was ignored.
    DirectoryTokenIgnored,
    /// A name uses letters outside A-Z after folding (e.g. Cyrillic), which an MRZ cannot
    /// hold: the directory may need a Latin form.
    NonLatinScript,
    /// A side has no name.
    EmptyName,
    /// The document name has characters that are not letters or separators.
    InvalidCharacters,
    /// A name exceeds the size limits.
    NameTooLong,
    /// The directory name is an email address.
    DirectoryNameIsEmail,
    /// The directory has no usable given and family name (e.g. a username).
    DirectoryNameIncomplete,
    /// The directory's display name contradicts its only structured name field.
    DirectoryNameInconsistent,
}

impl NameNote {
    /// The stable code, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            NameNote::SurnameMatched => "surname_matched",
            NameNote::CompoundSurnameSubset => "compound_surname_subset",
            NameNote::SurnameMismatch => "surname_mismatch",
            NameNote::SurnamePartialOverlap => "surname_partial_overlap",
            NameNote::GivenNameMatched => "given_name_matched",
            NameNote::GivenNameMismatch => "given_name_mismatch",
            NameNote::GivenNameMissing => "given_name_missing",
            NameNote::GivenNameOrderDiffers => "given_name_order_differs",
            NameNote::MiddleNameAbsentInDirectory => "middle_name_absent_in_directory",
            NameNote::MiddleNameAbsentInDocument => "middle_name_absent_in_document",
            NameNote::MiddleNameInitial => "middle_name_initial",
            NameNote::MiddleNameMismatch => "middle_name_mismatch",
            NameNote::TransliterationEquivalent => "transliteration_equivalent",
            NameNote::DiacriticsIgnored => "diacritics_ignored",
            NameNote::SeparatorDifference => "separator_difference",
            NameNote::TruncatedPrefixMatch => "truncated_prefix_match",
            NameNote::InitialOnly => "initial_only",
            NameNote::OneEditDifference => "one_edit_difference",
            NameNote::OrderSwapped => "order_swapped",
            NameNote::DisplayNameUsed => "display_name_used",
            NameNote::FamilyNameFirst => "family_name_first",
            NameNote::SuffixIgnored => "suffix_ignored",
            NameNote::TitleIgnored => "title_ignored",
            NameNote::DirectoryTokenIgnored => "directory_token_ignored",
            NameNote::NonLatinScript => "non_latin_script",
            NameNote::EmptyName => "empty_name",
            NameNote::InvalidCharacters => "invalid_characters",
            NameNote::NameTooLong => "name_too_long",
            NameNote::DirectoryNameIsEmail => "directory_name_is_email",
            NameNote::DirectoryNameIncomplete => "directory_name_incomplete",
            NameNote::DirectoryNameInconsistent => "directory_name_inconsistent",
        }
    }
}

/// The result of [`match_names`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameMatch {
    pub verdict: NameVerdict,
    /// Letter-weighted similarity in `0..=1`, for display and tuning; see the module docs.
    pub score: f32,
    /// Why, in a stable order: directory reading, surname, given names, middle names.
    pub notes: Vec<NameNote>,
}

impl NameMatch {
    fn refused(notes: Vec<NameNote>) -> Self {
        NameMatch {
            verdict: NameVerdict::Mismatch,
            score: 0.0,
            notes,
        }
    }
}

/// Compares a document's names with a directory record. Never panics; the notes say why.
pub fn match_names(doc: &DocumentName<'_>, dir: &DirectoryName<'_>) -> NameMatch {
    let mut notes = Notes::default();

    let surname = match tokenize(doc.surname, NameSource::Document) {
        Ok(field) => field.tokens,
        Err(problem) => return NameMatch::refused(vec![problem.note()]),
    };
    let given = match tokenize(doc.given_names, NameSource::Document) {
        Ok(field) => field.tokens,
        Err(problem) => return NameMatch::refused(vec![problem.note()]),
    };
    if surname.is_empty() {
        return NameMatch::refused(vec![NameNote::EmptyName]);
    }
    let doc = DocTokens {
        surname,
        given,
        truncated: doc.truncated,
    };

    let readings = match directory_readings(dir, &mut notes) {
        Ok(readings) => readings,
        Err(note) => {
            notes.push(note);
            return NameMatch::refused(notes.0);
        }
    };

    let non_latin = doc
        .surname
        .iter()
        .chain(&doc.given)
        .chain(
            readings
                .iter()
                .flat_map(|r| r.family.iter().chain(&r.given)),
        )
        .any(|t| t.non_latin);
    if non_latin {
        notes.push(NameNote::NonLatinScript);
    }

    // The first reading wins ties, so the conventional order is preferred for the notes.
    let mut best: Option<(ReadingScore, &Reading)> = None;
    for reading in &readings {
        let outcome = evaluate(
            &doc,
            &reading.family,
            &reading.given,
            reading.explicit_order,
        );
        let better = match &best {
            None => true,
            Some((b, _)) => (outcome.verdict.rank(), outcome.score) > (b.verdict.rank(), b.score),
        };
        if better {
            best = Some((outcome, reading));
        }
    }
    let Some((outcome, reading)) = best else {
        notes.push(NameNote::DirectoryNameIncomplete);
        return NameMatch::refused(notes.0);
    };

    if reading.from_display {
        notes.push(NameNote::DisplayNameUsed);
    }
    // Which split "won" only means something when something matched.
    if reading.family_first && outcome.verdict != NameVerdict::Mismatch {
        notes.push(NameNote::FamilyNameFirst);
    }
    for note in outcome.notes.0 {
        notes.push(note);
    }
    NameMatch {
        verdict: outcome.verdict,
        score: outcome.score,
        notes: notes.0,
    }
}
