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

    let surname = match tokenize(doc.surname, Side::Document) {
        Ok(field) => field.tokens,
        Err(problem) => return NameMatch::refused(vec![problem.note()]),
    };
    let given = match tokenize(doc.given_names, Side::Document) {
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
    let mut best: Option<(Outcome, &Reading)> = None;
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

// ---------------------------------------------------------------------------------------
// Tokens

/// One folded letter. `optional` letters come from transliteration alternatives: `Ü` is
/// `U` then an optional `E`, so it equals both `U` and `UE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ch {
    c: char,
    optional: bool,
}

const fn fixed(c: char) -> Ch {
    Ch { c, optional: false }
}
const fn opt(c: char) -> Ch {
    Ch { c, optional: true }
}

/// How far a token's letters were folded from what was written, for the notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fold {
    None,
    /// Accents or strokes removed.
    Marks,
    /// A letter replaced by a different spelling (`ß` → `SS`).
    Transliterated,
}

#[derive(Debug, Clone)]
struct Token {
    chars: Vec<Ch>,
    fold: Fold,
    /// Has letters outside A-Z after folding.
    non_latin: bool,
    /// A hyphen joins it to the next token: `Jean-Pierre` is one first name. (MRZ `<`
    /// loses this; barcodes and directories keep it.)
    hyphen_after: bool,
}

impl Token {
    fn plain(&self) -> impl Iterator<Item = char> + '_ {
        self.chars.iter().filter(|ch| !ch.optional).map(|ch| ch.c)
    }

    /// Letters in the stripped form (optional ones not counted).
    fn letters(&self) -> usize {
        self.plain().count()
    }

    fn initial(&self) -> Option<char> {
        self.chars.first().map(|ch| ch.c)
    }

    fn is_initial(&self) -> bool {
        self.letters() == 1
    }

    fn is_one_of(&self, words: &[&str]) -> bool {
        !self.chars.iter().any(|ch| ch.optional) && words.iter().any(|w| w.chars().eq(self.plain()))
    }

    fn is_suffix(&self) -> bool {
        self.is_one_of(&SUFFIXES)
    }

    fn is_title(&self) -> bool {
        self.is_one_of(&TITLES)
    }

    fn joined(tokens: &[Token]) -> Token {
        Token {
            chars: tokens
                .iter()
                .flat_map(|t| t.chars.iter().copied())
                .collect(),
            fold: tokens.iter().map(|t| t.fold).max().unwrap_or(Fold::None),
            non_latin: tokens.iter().any(|t| t.non_latin),
            hyphen_after: tokens.last().is_some_and(|t| t.hyphen_after),
        }
    }
}

/// ICAO 9303 Part 3 transliterations (and their stripped forms), applied to composed
/// characters before decomposition, since decomposition would lose the `E` of `Ä`.
fn transliteration(c: char) -> Option<(&'static [Ch], Fold)> {
    const A_E: &[Ch] = &[fixed('A'), opt('E')];
    const O_E: &[Ch] = &[fixed('O'), opt('E')];
    const U_E: &[Ch] = &[fixed('U'), opt('E')];
    const A_A: &[Ch] = &[fixed('A'), opt('A')];
    const SS: &[Ch] = &[fixed('S'), fixed('S')];
    const AE: &[Ch] = &[fixed('A'), fixed('E')];
    const OE: &[Ch] = &[fixed('O'), fixed('E')];
    const TH: &[Ch] = &[fixed('T'), fixed('H')];
    const IJ: &[Ch] = &[fixed('I'), fixed('J')];
    const D: &[Ch] = &[fixed('D')];
    const L: &[Ch] = &[fixed('L')];
    const H: &[Ch] = &[fixed('H')];
    Some(match c {
        'Ä' | 'ä' => (A_E, Fold::Marks),
        'Ö' | 'ö' => (O_E, Fold::Marks),
        'Ü' | 'ü' => (U_E, Fold::Marks),
        'Å' | 'å' => (A_A, Fold::Marks),
        'Ø' | 'ø' => (O_E, Fold::Marks),
        'Ð' | 'ð' | 'Đ' | 'đ' => (D, Fold::Marks),
        'Ł' | 'ł' => (L, Fold::Marks),
        'Ħ' | 'ħ' => (H, Fold::Marks),
        'ß' | 'ẞ' => (SS, Fold::Transliterated),
        'Æ' | 'æ' => (AE, Fold::Transliterated),
        'Œ' | 'œ' => (OE, Fold::Transliterated),
        'Þ' | 'þ' => (TH, Fold::Transliterated),
        'Ĳ' | 'ĳ' => (IJ, Fold::Transliterated),
        _ => return None,
    })
}

fn is_hyphen(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}'
    )
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '<' | ',') || is_hyphen(c)
}

/// Removed without splitting: `O'BRIEN` is one name, `A.` an initial.
fn is_removed(c: char) -> bool {
    matches!(
        c,
        '\'' | '`' | '\u{00B4}' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '.'
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Non-letters make the whole field unreadable.
    Document,
    /// Non-letters drop their token.
    Directory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldProblem {
    TooLong,
    InvalidCharacters,
    Email,
}

impl FieldProblem {
    fn note(self) -> NameNote {
        match self {
            FieldProblem::TooLong => NameNote::NameTooLong,
            FieldProblem::InvalidCharacters => NameNote::InvalidCharacters,
            FieldProblem::Email => NameNote::DirectoryNameIsEmail,
        }
    }
}

#[derive(Debug)]
struct Field {
    tokens: Vec<Token>,
    /// Some directory token was dropped for holding non-letters.
    ignored: bool,
}

fn tokenize(s: &str, side: Side) -> Result<Field, FieldProblem> {
    if s.len() > MAX_FIELD_BYTES {
        return Err(FieldProblem::TooLong);
    }
    // An address is an account identifier, not a person's name, even when its local part
    // spells one.
    if side == Side::Directory && s.contains('@') {
        return Err(FieldProblem::Email);
    }
    let mut builder = Builder {
        side,
        tokens: Vec::new(),
        current: Vec::new(),
        fold: Fold::None,
        non_latin: false,
        invalid: false,
        ignored: false,
        scratch: Vec::new(),
    };
    for (n, c) in s.nfc().enumerate() {
        if n >= MAX_FIELD_CHARS {
            return Err(FieldProblem::TooLong);
        }
        builder.push(c)?;
    }
    builder.end_token()?;
    Ok(Field {
        tokens: builder.tokens,
        ignored: builder.ignored,
    })
}

struct Builder {
    side: Side,
    tokens: Vec<Token>,
    current: Vec<Ch>,
    fold: Fold,
    non_latin: bool,
    /// The current token holds a non-letter (directory side only).
    invalid: bool,
    ignored: bool,
    scratch: Vec<char>,
}

impl Builder {
    fn push(&mut self, c: char) -> Result<(), FieldProblem> {
        if let Some((chars, fold)) = transliteration(c) {
            self.fold = self.fold.max(fold);
            for &ch in chars {
                self.push_ch(ch)?;
            }
            return Ok(());
        }
        self.scratch.clear();
        let scratch = &mut self.scratch;
        decompose_compatible(c, |d| scratch.push(d));
        let decomposed = std::mem::take(&mut self.scratch);
        let changed = decomposed.len() > 1 || decomposed.first() != Some(&c);
        let result = decomposed
            .iter()
            .try_for_each(|&d| self.push_decomposed(d, changed));
        self.scratch = decomposed;
        result
    }

    /// `changed`: `d` comes from decomposing something else (`é`, `ﬁ`), which the notes
    /// report as folding; a no-break space decomposing to a space is not.
    fn push_decomposed(&mut self, d: char, changed: bool) -> Result<(), FieldProblem> {
        if is_separator(d) {
            let word_before = !self.current.is_empty() && !self.invalid;
            self.end_token()?;
            if is_hyphen(d) && word_before {
                if let Some(token) = self.tokens.last_mut() {
                    token.hyphen_after = true;
                }
            }
            Ok(())
        } else if is_removed(d) {
            Ok(())
        } else if is_combining_mark(d) {
            self.fold = self.fold.max(Fold::Marks);
            Ok(())
        } else if d.is_alphabetic() {
            if changed {
                self.fold = self.fold.max(Fold::Marks);
            }
            // Upper-casing can emit combining marks (`ǰ` → `J̌`); they go too.
            for u in d.to_uppercase().filter(|&u| !is_combining_mark(u)) {
                self.non_latin |= !u.is_ascii_uppercase();
                self.push_ch(fixed(u))?;
            }
            Ok(())
        } else {
            match self.side {
                Side::Document => Err(FieldProblem::InvalidCharacters),
                Side::Directory => {
                    self.invalid = true;
                    Ok(())
                }
            }
        }
    }

    fn push_ch(&mut self, ch: Ch) -> Result<(), FieldProblem> {
        if self.current.len() >= MAX_TOKEN_CHARS {
            return Err(FieldProblem::TooLong);
        }
        self.current.push(ch);
        Ok(())
    }

    fn end_token(&mut self) -> Result<(), FieldProblem> {
        let chars = std::mem::take(&mut self.current);
        let fold = std::mem::replace(&mut self.fold, Fold::None);
        let non_latin = std::mem::take(&mut self.non_latin);
        if std::mem::take(&mut self.invalid) {
            self.ignored = true;
            return Ok(());
        }
        if chars.is_empty() {
            return Ok(());
        }
        if self.tokens.len() >= MAX_TOKENS {
            return Err(FieldProblem::TooLong);
        }
        self.tokens.push(Token {
            chars,
            fold,
            non_latin,
            hyphen_after: false,
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Comparing tokens

/// Edit distances at or above this are all alike: nothing here tolerates two edits.
const FAR: u8 = 2;

/// The last row of the edit-distance table between `a` and `b`, where skipping an optional
/// letter costs nothing: `row[j]` is the distance from all of `a` to `b[..j]`. `None` once
/// every alignment needs [`FAR`] edits: a row's minimum never decreases further down, so
/// most unrelated names are dismissed after a letter or two.
fn last_row(a: &[Ch], b: &[Ch]) -> Option<Vec<u8>> {
    let cost = |ch: &Ch| u8::from(!ch.optional);
    let mut prev: Vec<u8> = Vec::with_capacity(b.len() + 1);
    prev.push(0);
    for ch in b {
        let last = prev.last().copied().unwrap_or(0);
        prev.push(last.saturating_add(cost(ch)));
    }
    let mut row = vec![0u8; b.len() + 1];
    for ca in a {
        row[0] = prev[0].saturating_add(cost(ca));
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j].saturating_add(u8::from(ca.c != cb.c));
            let skip_a = prev[j + 1].saturating_add(cost(ca));
            let skip_b = row[j].saturating_add(cost(cb));
            row[j + 1] = substitute.min(skip_a).min(skip_b);
        }
        std::mem::swap(&mut prev, &mut row);
        if prev.iter().all(|&d| d >= FAR) {
            return None;
        }
    }
    Some(prev)
}

/// Edit distance, saturating at [`FAR`].
fn distance(a: &Token, b: &Token) -> u8 {
    last_row(&a.chars, &b.chars)
        .and_then(|row| row.last().copied())
        .map_or(FAR, |d| d.min(FAR))
}

fn equivalent(a: &Token, b: &Token) -> bool {
    distance(a, b) == 0
}

/// `doc` (cut short by truncation) equals the start of `dir`.
fn is_prefix(doc: &Token, dir: &Token) -> bool {
    last_row(&doc.chars, &dir.chars).is_some_and(|row| row.contains(&0))
}

/// Which folding two equivalent tokens needed, if any.
fn fold_note(a: &Token, b: &Token) -> Option<NameNote> {
    if !a.plain().eq(b.plain()) || a.fold.max(b.fold) == Fold::Transliterated {
        Some(NameNote::TransliterationEquivalent)
    } else if a.fold.max(b.fold) == Fold::Marks {
        Some(NameNote::DiacriticsIgnored)
    } else {
        None
    }
}

/// Maximum bipartite matching (Kuhn's algorithm) on an adjacency matrix: for each left
/// vertex, its right partner. At most 12×12 here.
fn matching(adj: &[Vec<bool>], right: usize) -> Vec<Option<usize>> {
    fn augment(
        u: usize,
        adj: &[Vec<bool>],
        seen: &mut [bool],
        pair_left: &mut [Option<usize>],
        pair_right: &mut [Option<usize>],
    ) -> bool {
        for v in 0..pair_right.len() {
            if adj[u].get(v).copied().unwrap_or(false) && !seen[v] {
                seen[v] = true;
                let free = match pair_right[v] {
                    None => true,
                    Some(w) => augment(w, adj, seen, pair_left, pair_right),
                };
                if free {
                    pair_left[u] = Some(v);
                    pair_right[v] = Some(u);
                    return true;
                }
            }
        }
        false
    }
    let mut pair_left = vec![None; adj.len()];
    let mut pair_right = vec![None; right];
    for u in 0..adj.len() {
        let mut seen = vec![false; right];
        augment(u, adj, &mut seen, &mut pair_left, &mut pair_right);
    }
    pair_left
}

// ---------------------------------------------------------------------------------------
// Reading the directory record

#[derive(Debug)]
struct Reading {
    family: Vec<Token>,
    given: Vec<Token>,
    /// The record says which part is the family name, so a swap is a finding.
    explicit_order: bool,
    from_display: bool,
    family_first: bool,
}

fn strip_suffixes(tokens: &mut Vec<Token>, keep: usize, notes: &mut Notes) {
    while tokens.len() > keep && tokens.last().is_some_and(Token::is_suffix) {
        tokens.pop();
        notes.push(NameNote::SuffixIgnored);
    }
}

/// Leading titles of a display name (`Dr. Anna Eriksson`), keeping at least `keep` tokens.
fn strip_titles(tokens: &mut Vec<Token>, keep: usize, notes: &mut Notes) {
    let titles = tokens.iter().take_while(|t| t.is_title()).count();
    let titles = titles.min(tokens.len().saturating_sub(keep));
    if titles > 0 {
        tokens.drain(..titles);
        notes.push(NameNote::TitleIgnored);
    }
}

/// A structured field's tokens, or `None` when absent, empty or unusable (noted).
fn structured_field(value: Option<&str>, notes: &mut Notes) -> Option<Vec<Token>> {
    match tokenize(value?, Side::Directory) {
        Ok(field) => {
            if field.ignored {
                notes.push(NameNote::DirectoryTokenIgnored);
            }
            (!field.tokens.is_empty()).then_some(field.tokens)
        }
        Err(problem) => {
            notes.push(problem.note());
            None
        }
    }
}

fn directory_readings(
    dir: &DirectoryName<'_>,
    notes: &mut Notes,
) -> Result<Vec<Reading>, NameNote> {
    let given = structured_field(dir.given_name, notes);
    let family = structured_field(dir.family_name, notes).map(|mut family| {
        strip_suffixes(&mut family, 1, notes);
        family
    });
    if let (Some(family), Some(given)) = (&family, &given) {
        return Ok(vec![Reading {
            family: family.clone(),
            given: given.clone(),
            explicit_order: true,
            from_display: false,
            family_first: false,
        }]);
    }

    let mut readings = display_readings(dir.display_name, notes)?;
    if family.is_none() && given.is_none() {
        return Ok(readings);
    }
    // One structured field: keep the display-name readings that agree with it. The given
    // name field may hold only the first of the display name's given names.
    let pairwise = |a: &[Token], b: &[Token]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equivalent(x, y))
    };
    readings.retain(|r| {
        family.as_ref().is_none_or(|f| pairwise(f, &r.family))
            && given
                .as_ref()
                .is_none_or(|g| r.given.len() >= g.len() && pairwise(g, &r.given[..g.len()]))
    });
    if readings.is_empty() {
        return Err(NameNote::DirectoryNameInconsistent);
    }
    Ok(readings)
}

fn display_readings(display: &str, notes: &mut Notes) -> Result<Vec<Reading>, NameNote> {
    let field = |s: &str, notes: &mut Notes| match tokenize(s, Side::Directory) {
        Ok(field) => {
            if field.ignored {
                notes.push(NameNote::DirectoryTokenIgnored);
            }
            Ok(field.tokens)
        }
        Err(problem) => Err(problem.note()),
    };

    // `Family, Given` is the LDAP/AD convention, unless all after the comma is a suffix
    // (`John Smith, Jr.`).
    let mut whole = display;
    if let Some((before, after)) = display.split_once(',') {
        let mut family = field(before, notes)?;
        let mut given = field(after, notes)?;
        if !given.is_empty() && given.iter().all(Token::is_suffix) {
            notes.push(NameNote::SuffixIgnored);
            whole = before;
        } else if !family.is_empty() && !given.is_empty() {
            strip_suffixes(&mut family, 1, notes);
            strip_suffixes(&mut given, 1, notes);
            strip_titles(&mut given, 1, notes);
            return Ok(vec![Reading {
                family,
                given,
                explicit_order: true,
                from_display: true,
                family_first: false,
            }]);
        }
    }

    let mut tokens = field(whole, notes)?;
    if tokens.is_empty() {
        return Err(NameNote::EmptyName);
    }
    strip_suffixes(&mut tokens, 2, notes);
    strip_titles(&mut tokens, 2, notes);
    // The order is unknown, so every contiguous split is a candidate: family last first
    // (`Anna Maria Eriksson`), then family first (`ERIKSSON Anna`, `Zhang Wei`). A hyphen
    // binds (`Jean-Pierre`, `Müller-Lüdenscheidt`), so no split falls there.
    let n = tokens.len();
    let splits_at = |k: usize| !tokens[k - 1].hyphen_after;
    let mut readings = Vec::with_capacity(2 * (n - 1));
    for k in (1..n).filter(|&k| splits_at(n - k)) {
        readings.push(Reading {
            family: tokens[n - k..].to_vec(),
            given: tokens[..n - k].to_vec(),
            explicit_order: false,
            from_display: true,
            family_first: false,
        });
    }
    for k in (1..n).filter(|&k| splits_at(k)) {
        readings.push(Reading {
            family: tokens[..k].to_vec(),
            given: tokens[k..].to_vec(),
            explicit_order: false,
            from_display: true,
            family_first: true,
        });
    }
    // One token (a username) or one hyphenated name: nothing to tell family from given.
    if readings.is_empty() {
        return Err(NameNote::DirectoryNameIncomplete);
    }
    Ok(readings)
}

// ---------------------------------------------------------------------------------------
// Evaluating one reading

struct DocTokens {
    surname: Vec<Token>,
    given: Vec<Token>,
    truncated: bool,
}

impl DocTokens {
    /// Truncation cuts the end of the MRZ name field, so only the last given name can be
    /// short. (A field holding only a surname has no given name to match anyway.)
    fn given_may_be_cut(&self, index: usize) -> bool {
        self.truncated && index + 1 == self.given.len()
    }
}

#[derive(Debug, Default)]
struct Notes(Vec<NameNote>);

impl Notes {
    fn push(&mut self, note: NameNote) {
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }
    fn push_opt(&mut self, note: Option<NameNote>) {
        if let Some(note) = note {
            self.push(note);
        }
    }
}

struct Outcome {
    verdict: NameVerdict,
    score: f32,
    notes: Notes,
}

/// Per-token credits for the score, on both sides.
struct Credits {
    doc_surname: Vec<f32>,
    doc_given: Vec<f32>,
    dir_family: Vec<f32>,
    dir_given: Vec<f32>,
}

impl Credits {
    fn score(&self, doc: &DocTokens, family: &[Token], given: &[Token]) -> f32 {
        let sides = [
            (&self.doc_surname, &doc.surname[..]),
            (&self.doc_given, &doc.given[..]),
            (&self.dir_family, family),
            (&self.dir_given, given),
        ];
        let (mut got, mut total) = (0.0f32, 0.0f32);
        for (credits, tokens) in sides {
            for (credit, token) in credits.iter().zip(tokens) {
                let letters = token.letters() as f32;
                got += credit * letters;
                total += letters;
            }
        }
        if total > 0.0 {
            (got / total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

fn evaluate(doc: &DocTokens, family: &[Token], given: &[Token], allow_swap: bool) -> Outcome {
    let mut notes = Notes::default();
    let mut credits = Credits {
        doc_surname: vec![0.0; doc.surname.len()],
        doc_given: vec![0.0; doc.given.len()],
        dir_family: vec![0.0; family.len()],
        dir_given: vec![0.0; given.len()],
    };
    let surname_ok = compare_surnames(
        &doc.surname,
        family,
        &mut credits.doc_surname,
        &mut credits.dir_family,
        &mut notes,
    );
    let given_level = compare_given(
        doc,
        given,
        &mut credits.doc_given,
        &mut credits.dir_given,
        &mut notes,
    );
    let verdict = if surname_ok {
        given_level
    } else {
        NameVerdict::Mismatch
    };
    let score = credits.score(doc, family, given);

    if verdict == NameVerdict::Mismatch && allow_swap {
        // Family and given name swapped in a record that states which is which: the person
        // may well be the same, but a person has to say so.
        let swapped = evaluate(doc, given, family, false);
        if swapped.verdict == NameVerdict::Match {
            let mut notes = Notes::default();
            notes.push(NameNote::OrderSwapped);
            for note in swapped.notes.0 {
                notes.push(note);
            }
            return Outcome {
                verdict: NameVerdict::Partial,
                score: swapped.score,
                notes,
            };
        }
    }
    Outcome {
        verdict,
        score,
        notes,
    }
}

/// Whether the surname rule holds; notes and credits either way.
fn compare_surnames(
    doc: &[Token],
    dir: &[Token],
    doc_credit: &mut [f32],
    dir_credit: &mut [f32],
    notes: &mut Notes,
) -> bool {
    let adj: Vec<Vec<bool>> = dir
        .iter()
        .map(|f| doc.iter().map(|s| equivalent(s, f)).collect())
        .collect();
    let pairs = matching(&adj, doc.len());
    let mut folds = Notes::default();
    for (j, pair) in pairs.iter().enumerate() {
        if let Some(i) = *pair {
            doc_credit[i] = 1.0;
            dir_credit[j] = 1.0;
            folds.push_opt(fold_note(&doc[i], &dir[j]));
        }
    }
    if !dir.is_empty() && pairs.iter().all(Option::is_some) {
        notes.push(NameNote::SurnameMatched);
        if dir.len() < doc.len() {
            notes.push(NameNote::CompoundSurnameSubset);
        }
        for note in folds.0 {
            notes.push(note);
        }
        return true;
    }
    let (doc_joined, dir_joined) = (Token::joined(doc), Token::joined(dir));
    if !dir.is_empty() && equivalent(&doc_joined, &dir_joined) {
        doc_credit.fill(1.0);
        dir_credit.fill(1.0);
        notes.push(NameNote::SurnameMatched);
        notes.push(NameNote::SeparatorDifference);
        notes.push_opt(fold_note(&doc_joined, &dir_joined));
        return true;
    }
    notes.push(NameNote::SurnameMismatch);
    if pairs.iter().any(Option::is_some) {
        notes.push(NameNote::SurnamePartialOverlap);
    }
    false
}

/// How the first given names relate. A hyphenated first name (`Jean-Pierre`) is one name:
/// all its parts must be there, or a father `JEAN` would match his son's account.
enum First {
    /// Equal, possibly across separators: tokens consumed on each side.
    Equal {
        doc_used: usize,
        dir_used: usize,
        joined: bool,
        fold: Option<NameNote>,
    },
    /// The document's given names end, truncated, inside the directory's first name. `short`
    /// when all that is left is a prefix of fewer than 3 letters: no better than an initial.
    TruncatedPrefix {
        doc_used: usize,
        dir_used: usize,
        short: bool,
    },
    Initial,
    /// The first `used` tokens on each side differ by one edit.
    OneEdit {
        used: usize,
    },
    /// The directory's first name is the document's given names `at..at + len`.
    OrderDiffers {
        at: usize,
        len: usize,
    },
    Different,
}

/// Tokens in the hyphenated group that starts `tokens`.
fn group_len(tokens: &[Token]) -> usize {
    let linked = tokens.len().saturating_sub(1);
    1 + tokens[..linked]
        .iter()
        .take_while(|t| t.hyphen_after)
        .count()
}

fn first_given(doc: &DocTokens, dir: &[Token]) -> First {
    let d = &doc.given;
    let (Some(d1), Some(r1)) = (d.first(), dir.first()) else {
        return First::Different;
    };
    if initial_of(d1, r1) {
        // Also when both are the same single letter: an initial identifies no one.
        return First::Initial;
    }
    let (doc_group, dir_group) = (group_len(d), group_len(dir));
    let k = doc_group.max(dir_group);
    let both_have = d.len() >= k && dir.len() >= k;
    if both_have && (0..k).all(|i| equivalent(&d[i], &dir[i])) {
        return First::Equal {
            doc_used: k,
            dir_used: k,
            joined: false,
            fold: (0..k).find_map(|i| fold_note(&d[i], &dir[i])),
        };
    }
    // `JEANPIERRE` against `Jean-Pierre`, or the other way round: whole groups only.
    for doc_used in doc_group..=d.len().min(doc_group + 2) {
        for dir_used in dir_group..=dir.len().min(dir_group + 2) {
            if doc_used == dir_used {
                continue;
            }
            let (a, b) = (
                Token::joined(&d[..doc_used]),
                Token::joined(&dir[..dir_used]),
            );
            if equivalent(&a, &b) {
                return First::Equal {
                    doc_used,
                    dir_used,
                    joined: true,
                    fold: fold_note(&a, &b),
                };
            }
        }
    }
    // The MRZ field ran out inside the first name: what is left must be its start.
    if doc.truncated && d.len() <= k && dir.len() >= k {
        let last = d.len() - 1;
        if (0..last).all(|i| equivalent(&d[i], &dir[i])) && is_prefix(&d[last], &dir[last]) {
            return First::TruncatedPrefix {
                doc_used: d.len(),
                dir_used: k,
                short: last == 0 && d1.letters() < MIN_TRUNCATED_PREFIX,
            };
        }
    }
    if both_have {
        let (a, b) = (Token::joined(&d[..k]), Token::joined(&dir[..k]));
        if a.letters() >= MIN_ONE_EDIT_LETTERS && distance(&a, &b) == 1 {
            return First::OneEdit { used: k };
        }
    }
    // Only in this direction: the document lists every given name, so the directory may
    // use a later one as the name the person goes by, but a directory first name missing
    // from the document is someone else's.
    let len = dir_group;
    let later = (doc_group..d.len())
        .find(|&at| at + len <= d.len() && (0..len).all(|i| equivalent(&d[at + i], &dir[i])));
    if let Some(at) = later {
        return First::OrderDiffers { at, len };
    }
    First::Different
}

/// The verdict the given names allow (Match, Partial or Mismatch), with notes and credits.
fn compare_given(
    doc: &DocTokens,
    dir: &[Token],
    doc_credit: &mut [f32],
    dir_credit: &mut [f32],
    notes: &mut Notes,
) -> NameVerdict {
    if doc.given.is_empty() || dir.is_empty() {
        notes.push(NameNote::GivenNameMissing);
        notes.push(NameNote::GivenNameMismatch);
        return NameVerdict::Mismatch;
    }
    let d = &doc.given;
    let mut doc_rest: Vec<usize> = (1..d.len()).collect();
    let mut dir_rest: Vec<usize> = (1..dir.len()).collect();

    let verdict = match first_given(doc, dir) {
        First::Equal {
            doc_used,
            dir_used,
            joined,
            fold,
        } => {
            doc_credit[..doc_used].fill(1.0);
            dir_credit[..dir_used].fill(1.0);
            doc_rest = (doc_used..d.len()).collect();
            dir_rest = (dir_used..dir.len()).collect();
            notes.push(NameNote::GivenNameMatched);
            if joined {
                notes.push(NameNote::SeparatorDifference);
            }
            notes.push_opt(fold);
            NameVerdict::Match
        }
        First::TruncatedPrefix {
            doc_used,
            dir_used,
            short,
        } => {
            // Complete tokens fully, the cut one for the share it kept, the lost ones not.
            let last = doc_used - 1;
            doc_credit[..doc_used].fill(1.0);
            dir_credit[..last].fill(1.0);
            dir_credit[last] = share(d[last].letters(), dir[last].letters());
            doc_rest.clear();
            dir_rest = (dir_used..dir.len()).collect();
            notes.push(NameNote::TruncatedPrefixMatch);
            if short {
                notes.push(NameNote::InitialOnly);
                NameVerdict::Partial
            } else {
                notes.push(NameNote::GivenNameMatched);
                NameVerdict::Match
            }
        }
        First::Initial => {
            doc_credit[0] = share(1, d[0].letters());
            dir_credit[0] = share(1, dir[0].letters());
            notes.push(NameNote::InitialOnly);
            NameVerdict::Partial
        }
        First::OneEdit { used } => {
            let kept = |tokens: &[Token]| {
                let letters: usize = tokens.iter().map(Token::letters).sum();
                share(letters.saturating_sub(1), letters)
            };
            doc_credit[..used].fill(kept(&d[..used]));
            dir_credit[..used].fill(kept(&dir[..used]));
            doc_rest = (used..d.len()).collect();
            dir_rest = (used..dir.len()).collect();
            notes.push(NameNote::OneEditDifference);
            NameVerdict::Partial
        }
        First::OrderDiffers { at, len } => {
            doc_credit[at..at + len].fill(1.0);
            dir_credit[..len].fill(1.0);
            doc_rest = (0..d.len())
                .filter(|i| !(at..at + len).contains(i))
                .collect();
            dir_rest = (len..dir.len()).collect();
            notes.push(NameNote::GivenNameOrderDiffers);
            NameVerdict::Partial
        }
        First::Different => {
            notes.push(NameNote::GivenNameMismatch);
            NameVerdict::Mismatch
        }
    };

    let mut middle = Notes::default();
    let conflict = compare_middles(
        doc,
        dir,
        &doc_rest,
        &dir_rest,
        doc_credit,
        dir_credit,
        &mut middle,
    );
    if verdict == NameVerdict::Mismatch {
        // Middle names of a different person explain nothing; they only count in the score.
        return verdict;
    }
    for note in middle.0 {
        notes.push(note);
    }
    if conflict {
        NameVerdict::Partial
    } else {
        verdict
    }
}

/// Pairs the remaining given names; returns whether both sides keep unpaired ones.
fn compare_middles(
    doc: &DocTokens,
    dir: &[Token],
    doc_rest: &[usize],
    dir_rest: &[usize],
    doc_credit: &mut [f32],
    dir_credit: &mut [f32],
    notes: &mut Notes,
) -> bool {
    // Strong pairs (equal names) first, so that an initial cannot take a full name's
    // partner.
    let strong: Vec<Vec<bool>> = doc_rest
        .iter()
        .map(|&i| {
            dir_rest
                .iter()
                .map(|&j| {
                    let (a, b) = (&doc.given[i], &dir[j]);
                    !a.is_initial() && !b.is_initial() && equivalent(a, b)
                })
                .collect()
        })
        .collect();
    let mut pairs = matching(&strong, dir_rest.len());
    let mut dir_taken = vec![false; dir_rest.len()];
    for (p, pair) in pairs.iter().enumerate() {
        if let Some(q) = *pair {
            dir_taken[q] = true;
            doc_credit[doc_rest[p]] = 1.0;
            dir_credit[dir_rest[q]] = 1.0;
            notes.push_opt(fold_note(&doc.given[doc_rest[p]], &dir[dir_rest[q]]));
        }
    }

    let weak: Vec<Vec<bool>> = doc_rest
        .iter()
        .enumerate()
        .map(|(p, &i)| {
            dir_rest
                .iter()
                .enumerate()
                .map(|(q, &j)| {
                    let (a, b) = (&doc.given[i], &dir[j]);
                    pairs[p].is_none()
                        && !dir_taken[q]
                        && (initial_of(a, b) || (doc.given_may_be_cut(i) && is_prefix(a, b)))
                })
                .collect()
        })
        .collect();
    let weak_pairs = matching(&weak, dir_rest.len());
    for (p, pair) in weak_pairs.iter().enumerate() {
        if let Some(q) = *pair {
            let (i, j) = (doc_rest[p], dir_rest[q]);
            let (a, b) = (&doc.given[i], &dir[j]);
            if initial_of(a, b) {
                // One letter of each matched: all of the initial, a share of the name.
                notes.push(NameNote::MiddleNameInitial);
                doc_credit[i] = share(1, a.letters());
                dir_credit[j] = share(1, b.letters());
            } else {
                notes.push(NameNote::TruncatedPrefixMatch);
                doc_credit[i] = 1.0;
                dir_credit[j] = share(a.letters(), b.letters());
            }
            pairs[p] = Some(q);
            dir_taken[q] = true;
        }
    }

    let doc_unpaired = pairs.iter().any(Option::is_none);
    let dir_unpaired = dir_taken.iter().any(|taken| !taken);
    match (doc_unpaired, dir_unpaired) {
        (true, true) => {
            notes.push(NameNote::MiddleNameMismatch);
            true
        }
        (true, false) => {
            notes.push(NameNote::MiddleNameAbsentInDirectory);
            false
        }
        (false, true) => {
            // The document carries the legal name; a middle name only the directory has
            // is what tells a parent from a child who share first and family name (mother
            // `ANNA`, daughter `Anna Karin`). Unless the MRZ cut the field short, that
            // needs a person to look.
            notes.push(NameNote::MiddleNameAbsentInDocument);
            !doc.truncated
        }
        (false, false) => false,
    }
}

/// `part` letters out of `whole`, capped at 1: a score credit.
fn share(part: usize, whole: usize) -> f32 {
    (part as f32 / whole.max(1) as f32).min(1.0)
}

/// One of the two is a single letter, the other's initial.
fn initial_of(a: &Token, b: &Token) -> bool {
    (a.is_initial() || b.is_initial()) && a.initial() == b.initial()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(surname: &'a str, given_names: &'a str) -> DocumentName<'a> {
        DocumentName {
            surname,
            given_names,
            truncated: false,
        }
    }

    fn cut<'a>(surname: &'a str, given_names: &'a str) -> DocumentName<'a> {
        DocumentName {
            surname,
            given_names,
            truncated: true,
        }
    }

    fn display(display_name: &str) -> DirectoryName<'_> {
        DirectoryName {
            display_name,
            given_name: None,
            family_name: None,
        }
    }

    fn structured<'a>(given: &'a str, family: &'a str) -> DirectoryName<'a> {
        DirectoryName {
            display_name: "",
            given_name: Some(given),
            family_name: Some(family),
        }
    }

    /// Runs the matcher and checks the invariants every result must keep.
    fn check(d: DocumentName<'_>, r: DirectoryName<'_>) -> NameMatch {
        let m = match_names(&d, &r);
        assert!(
            (0.0..=1.0).contains(&m.score),
            "score {} out of range for {d:?} / {r:?}",
            m.score
        );
        assert!(!m.notes.is_empty(), "no notes for {d:?} / {r:?}");
        m
    }

    #[track_caller]
    fn assert_verdict(d: DocumentName<'_>, r: DirectoryName<'_>, want: NameVerdict) -> NameMatch {
        let m = check(d, r);
        assert_eq!(m.verdict, want, "{d:?} / {r:?}: {m:?}");
        m
    }

    #[track_caller]
    fn has(m: &NameMatch, note: NameNote) {
        assert!(m.notes.contains(&note), "{note:?} missing from {m:?}");
    }

    use NameVerdict::{Match, Mismatch, Partial};

    #[test]
    fn exact_structured() {
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA"),
            structured("Anna", "Eriksson"),
            Match,
        );
        assert_eq!(m.score, 1.0);
        assert_eq!(
            m.notes,
            vec![NameNote::SurnameMatched, NameNote::GivenNameMatched]
        );
    }

    #[test]
    fn case_is_ignored() {
        assert_verdict(
            doc("ERIKSSON", "ANNA"),
            structured("anna", "ERIKSSON"),
            Match,
        );
        assert_verdict(
            doc("eriksson", "anna"),
            structured("ANNA", "eRiKsSoN"),
            Match,
        );
    }

    #[test]
    fn diacritics_either_side() {
        let m = assert_verdict(doc("GARCIA", "JOSE"), structured("José", "García"), Match);
        has(&m, NameNote::DiacriticsIgnored);
        // A barcode may carry Latin-1 letters too.
        assert_verdict(doc("GARCÍA", "JOSÉ"), structured("Jose", "Garcia"), Match);
        assert_verdict(
            doc("DVOŘÁK", "ANTONÍN"),
            structured("Antonín", "Dvořák"),
            Match,
        );
        // Decomposed input (e + combining acute) equals precomposed.
        assert_verdict(
            doc("GARCIA", "JOSE"),
            structured("Jose\u{301}", "Garci\u{301}a"),
            Match,
        );
    }

    #[test]
    fn icao_umlauts_both_forms() {
        for surname in ["MUELLER", "MULLER"] {
            let m = assert_verdict(doc(surname, "BJOERN"), structured("Björn", "Müller"), Match);
            has(&m, NameNote::SurnameMatched);
        }
        let m = assert_verdict(
            doc("MUELLER", "BJORN"),
            structured("Björn", "Müller"),
            Match,
        );
        has(&m, NameNote::TransliterationEquivalent);
        // Document side in Unicode, directory transliterated.
        assert_verdict(
            doc("MÜLLER", "JÜRGEN"),
            structured("Juergen", "Mueller"),
            Match,
        );
        // More umlauts than any fixed expansion budget would allow.
        assert_verdict(
            doc("JAEAESKELAEINEN", "AEAEOEOEUEUE"),
            structured("ääööüü", "Jääskeläinen"),
            Match,
        );
        assert_verdict(
            doc("JAASKELAINEN", "AAOOUU"),
            structured("ääööüü", "Jääskeläinen"),
            Match,
        );
    }

    #[test]
    fn icao_fixed_transliterations() {
        let m = assert_verdict(doc("GROSS", "HANS"), structured("Hans", "Groß"), Match);
        has(&m, NameNote::TransliterationEquivalent);
        assert_verdict(doc("GROSS", "HANS"), structured("Hans", "GROẞ"), Match);
        for surname in ["OESTERGAARD", "OSTERGAARD"] {
            assert_verdict(
                doc(surname, "SOEREN"),
                structured("Søren", "Østergaard"),
                Match,
            );
        }
        for given in ["AASE", "ASE"] {
            assert_verdict(doc("LIE", given), structured("Åse", "Lie"), Match);
        }
        let pairs = [
            ("THORSDOTTIR", "Þórsdóttir"),
            ("AEGIR", "Ægir"),
            ("GUDMUNDSSON", "Guðmundsson"),
            ("LUKASIEWICZ", "Łukasiewicz"),
            ("OEUVRARD", "Œuvrard"),
            ("MUNOZ", "Muñoz"),
            ("FRANCOIS", "François"),
            ("IJSSELMUIDEN", "Ĳsselmuiden"),
            ("DJOKOVIC", "Đjoković"),
            ("ISIK", "Işık"),
            ("IYIGUN", "İyigün"),
        ];
        for (printed, written) in pairs {
            assert_verdict(doc(printed, "ALEX"), structured("Alex", written), Match);
        }
    }

    #[test]
    fn plain_directory_does_not_equal_transliterated_document() {
        // `UE` in an ASCII name may be genuine (SAMUEL), so MUELLER only equals Müller.
        let m = assert_verdict(
            doc("MUELLER", "ANNA"),
            structured("Anna", "Muller"),
            Mismatch,
        );
        has(&m, NameNote::SurnameMismatch);
        assert_verdict(doc("SAMUEL", "ANNA"), structured("Anna", "Samül"), Match);
        assert_verdict(doc("SAMUEL", "ANNA"), structured("Anna", "Samul"), Mismatch);
    }

    #[test]
    fn display_name_orders() {
        for name in [
            "Eriksson, Anna",
            "Anna Eriksson",
            "ERIKSSON Anna",
            "eriksson anna",
        ] {
            let m = assert_verdict(doc("ERIKSSON", "ANNA"), display(name), Match);
            has(&m, NameNote::DisplayNameUsed);
            assert_eq!(m.score, 1.0, "{name}");
        }
        let m = check(doc("ERIKSSON", "ANNA"), display("ERIKSSON Anna"));
        has(&m, NameNote::FamilyNameFirst);
        let m = check(doc("ERIKSSON", "ANNA"), display("Anna Eriksson"));
        assert!(!m.notes.contains(&NameNote::FamilyNameFirst));
        assert_verdict(doc("ZHANG", "WEI"), display("Zhang Wei"), Match);
    }

    /// The mother's ID (`ANNA ERIKSSON`) against the daughter's account (`Anna Maria
    /// Eriksson`): never an automatic match.
    #[test]
    fn middle_name_only_in_directory() {
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA"),
            display("Anna Maria Eriksson"),
            Partial,
        );
        has(&m, NameNote::MiddleNameAbsentInDocument);
        assert!(m.score < 1.0);
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA"),
            structured("Anna Maria", "Eriksson"),
            Partial,
        );
        has(&m, NameNote::MiddleNameAbsentInDocument);
    }

    #[test]
    fn middle_name_only_in_document() {
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA MARIA"),
            display("Anna Eriksson"),
            Match,
        );
        has(&m, NameNote::MiddleNameAbsentInDirectory);
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA MARIA LOUISE"),
            structured("Anna Louise", "Eriksson"),
            Match,
        );
        has(&m, NameNote::MiddleNameAbsentInDirectory);
    }

    #[test]
    fn middle_initial_pairs() {
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA MARIA"),
            display("Anna M. Eriksson"),
            Match,
        );
        has(&m, NameNote::MiddleNameInitial);
    }

    #[test]
    fn conflicting_middle_names_need_review() {
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA MARIA"),
            structured("Anna Karin", "Eriksson"),
            Partial,
        );
        has(&m, NameNote::MiddleNameMismatch);
    }

    #[test]
    fn mrz_fillers_separate() {
        assert_verdict(
            doc("ERIKSSON", "ANNA<MARIA"),
            display("Anna Maria Eriksson"),
            Match,
        );
        assert_verdict(
            doc("ERIKSSON<<", "ANNA<MARIA<<<<<"),
            display("Eriksson, Anna"),
            Match,
        );
        assert_verdict(
            doc("VAN<DER<BERG", "JAN"),
            structured("Jan", "van der Berg"),
            Match,
        );
    }

    #[test]
    fn mrz_truncation_of_a_middle_name() {
        let m = assert_verdict(
            cut("ERIKSSON", "ANNA MARIA ELISABE"),
            display("Anna Maria Elisabeth Eriksson"),
            Match,
        );
        has(&m, NameNote::TruncatedPrefixMatch);
        let m = assert_verdict(
            cut("ERIKSSON", "ANNA MARIA ELISABE"),
            structured("Anna Maria Elisabeth", "Eriksson"),
            Match,
        );
        has(&m, NameNote::TruncatedPrefixMatch);
        // Without the truncation flag ELISABE is a different middle name.
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA MARIA ELISABE"),
            structured("Anna Maria Elisabeth", "Eriksson"),
            Partial,
        );
        has(&m, NameNote::MiddleNameMismatch);
    }

    #[test]
    fn mrz_truncation_of_the_first_given_name() {
        let long = "WOLFESCHLEGELSTEINHAUSENBERGERDORFF";
        let dir = structured("Alexander", "Wolfeschlegelsteinhausenbergerdorff");
        let m = assert_verdict(cut(long, "ALEXAN"), dir, Match);
        has(&m, NameNote::TruncatedPrefixMatch);
        assert_verdict(cut(long, "ALE"), dir, Match);
        let m = assert_verdict(cut(long, "AL"), dir, Partial);
        has(&m, NameNote::InitialOnly);
        // Not truncated: a different name.
        assert_verdict(doc(long, "ALEXAN"), dir, Mismatch);
        // Truncation only cuts the end: a complete first name is not a prefix.
        assert_verdict(cut(long, "ALEXAN MARIA"), dir, Mismatch);
        // A truncated name is a prefix of the directory's, not the other way round (one
        // extra letter is still a one-edit difference).
        assert_verdict(cut(long, "ALEXANDERS"), dir, Partial);
        assert_verdict(cut(long, "ALEXANDRA"), dir, Mismatch);
    }

    #[test]
    fn hyphenated_compound_surnames() {
        for dir in [
            "MÜLLER-LÜDENSCHEIDT",
            "Müller Lüdenscheidt",
            "Müller‐Lüdenscheidt",
        ] {
            for printed in [
                "MUELLER<LUEDENSCHEIDT",
                "MULLER LUDENSCHEIDT",
                "MÜLLER-LÜDENSCHEIDT",
            ] {
                let m = assert_verdict(doc(printed, "KLARA"), structured("Klara", dir), Match);
                assert_eq!(m.score, 1.0, "{printed} / {dir}");
            }
        }
        // A directory already in ICAO form matches the ICAO and the Unicode document, not
        // the stripped one (see `plain_directory_does_not_equal_transliterated_document`).
        let ascii = structured("Klara", "Mueller-Luedenscheidt");
        assert_verdict(doc("MUELLER<LUEDENSCHEIDT", "KLARA"), ascii, Match);
        assert_verdict(doc("MÜLLER-LÜDENSCHEIDT", "KLARA"), ascii, Match);
        assert_verdict(doc("MULLER LUDENSCHEIDT", "KLARA"), ascii, Mismatch);
        // Some issuers drop the hyphen altogether.
        let m = assert_verdict(
            doc("MUELLERLUEDENSCHEIDT", "KLARA"),
            structured("Klara", "Müller-Lüdenscheidt"),
            Match,
        );
        has(&m, NameNote::SeparatorDifference);
    }

    #[test]
    fn apostrophe_surnames() {
        for printed in ["O'BRIEN", "OBRIEN", "O’BRIEN"] {
            assert_verdict(doc(printed, "SEAN"), display("Seán O'Brien"), Match);
            assert_verdict(doc(printed, "SEAN"), structured("Sean", "O’Brien"), Match);
        }
        let m = assert_verdict(doc("O BRIEN", "SEAN"), structured("Sean", "O'Brien"), Match);
        has(&m, NameNote::SeparatorDifference);
        assert_verdict(
            doc("D'ANGELO", "MARIA"),
            structured("Maria", "d'Angelo"),
            Match,
        );
    }

    #[test]
    fn joined_given_names() {
        let m = assert_verdict(
            doc("DUPONT", "JEANPIERRE"),
            display("Jean-Pierre Dupont"),
            Match,
        );
        has(&m, NameNote::SeparatorDifference);
        assert_verdict(
            doc("DUPONT", "JEAN PIERRE"),
            structured("Jeanpierre", "Dupont"),
            Match,
        );
    }

    #[test]
    fn hyphenated_first_name_is_one_name() {
        // A father JEAN is not his son Jean-Pierre.
        let m = assert_verdict(
            doc("DUPONT", "JEAN"),
            display("Jean-Pierre Dupont"),
            Mismatch,
        );
        has(&m, NameNote::GivenNameMismatch);
        assert_verdict(
            doc("DUPONT", "JEAN MARC"),
            structured("Jean-Pierre", "Dupont"),
            Mismatch,
        );
        // A barcode keeps the hyphen: ANNA-MARIA is not her mother Anna.
        assert_verdict(
            doc("ERIKSSON", "ANNA-MARIA"),
            structured("Anna", "Eriksson"),
            Mismatch,
        );
        // The MRZ turns the hyphen into a filler; all parts present is a match.
        for printed in [
            "JEAN<PIERRE",
            "JEAN PIERRE",
            "JEAN-PIERRE",
            "JEAN<PIERRE<MARC",
        ] {
            assert_verdict(doc("DUPONT", printed), display("Jean-Pierre Dupont"), Match);
        }
        assert_verdict(
            doc("ERIKSSON", "ANNA-MARIA"),
            structured("Anna Maria", "Eriksson"),
            Match,
        );
        // Truncation may cut the second part, even entirely.
        let m = assert_verdict(
            cut("DUPONT", "JEAN<PI"),
            display("Jean-Pierre Dupont"),
            Match,
        );
        has(&m, NameNote::TruncatedPrefixMatch);
        assert_verdict(cut("DUPONT", "JEAN"), display("Jean-Pierre Dupont"), Match);
        // A typo inside the compound is one edit.
        let m = assert_verdict(
            doc("DUPONT", "JEAN PIERRE"),
            display("Jean-Piere Dupont"),
            Partial,
        );
        has(&m, NameNote::OneEditDifference);
        // Without a hyphen the second name is a middle name; one the document lacks is
        // for a person to judge (a father JEAN, a son Jean Pierre).
        assert_verdict(
            doc("DUPONT", "JEAN"),
            display("Jean Pierre Dupont"),
            Partial,
        );
    }

    #[test]
    fn spanish_double_surname() {
        // The directory keeps the first (or either) surname: one of the document's tokens.
        let m = assert_verdict(doc("GARCIA LOPEZ", "JOSE"), display("José García"), Match);
        has(&m, NameNote::CompoundSurnameSubset);
        assert!((m.score - 0.8).abs() < 1e-6, "{}", m.score);
        assert_verdict(
            doc("GARCIA LOPEZ", "JOSE"),
            structured("José", "López"),
            Match,
        );
        assert_verdict(
            doc("GARCIA LOPEZ", "JOSE"),
            display("José García López"),
            Match,
        );
        assert_verdict(
            doc("GARCIA<LOPEZ", "JOSE"),
            display("García López, José"),
            Match,
        );
        // The directory has a surname the document lacks: not the document's holder.
        let m = assert_verdict(
            doc("GARCIA", "JOSE"),
            structured("José", "García López"),
            Mismatch,
        );
        has(&m, NameNote::SurnamePartialOverlap);
    }

    #[test]
    fn initials_need_review() {
        let m = assert_verdict(doc("ERIKSSON", "ANNA"), display("A. Eriksson"), Partial);
        has(&m, NameNote::InitialOnly);
        assert_verdict(
            doc("ERIKSSON", "ANNA MARIA"),
            structured("A. M.", "Eriksson"),
            Partial,
        );
        assert_verdict(
            doc("ERIKSSON", "A"),
            structured("Anna", "Eriksson"),
            Partial,
        );
        // Two equal initials identify no one either.
        assert_verdict(doc("ERIKSSON", "A"), structured("A", "Eriksson"), Partial);
        // An initial of another name is just another name.
        assert_verdict(doc("ERIKSSON", "ANNA"), display("K. Eriksson"), Mismatch);
    }

    #[test]
    fn one_edit_typo_needs_review() {
        let m = assert_verdict(
            doc("ERIKSSON", "ELISABETH"),
            structured("Elisabet", "Eriksson"),
            Partial,
        );
        has(&m, NameNote::OneEditDifference);
        assert_verdict(
            doc("ERIKSSON", "KATARINA"),
            display("Katarnia Eriksson"),
            Mismatch,
        );
        assert_verdict(
            doc("ERIKSSON", "KARIN"),
            structured("Karen", "Eriksson"),
            Partial,
        );
        // Short names: one edit makes another name.
        assert_verdict(
            doc("ERIKSSON", "ANNA"),
            structured("Ana", "Eriksson"),
            Mismatch,
        );
        assert_verdict(
            doc("ERIKSSON", "JON"),
            structured("Joan", "Eriksson"),
            Mismatch,
        );
        // A typo in the surname is not forgiven.
        assert_verdict(
            doc("ERIKSSON", "ANNA"),
            structured("Anna", "Erikson"),
            Mismatch,
        );
    }

    #[test]
    fn family_member_attack_is_refused() {
        let m = assert_verdict(doc("ERIKSSON", "KARIN"), display("Anna Eriksson"), Mismatch);
        has(&m, NameNote::SurnameMatched);
        has(&m, NameNote::GivenNameMismatch);
        assert!(m.score < 0.7, "{}", m.score);
        assert_verdict(
            doc("ERIKSSON", "ERIK"),
            structured("Anna", "Eriksson"),
            Mismatch,
        );
        // A sibling whose first name is the account holder's middle name.
        assert_verdict(
            doc("ERIKSSON", "MARIA"),
            display("Anna Maria Eriksson"),
            Mismatch,
        );
        assert_verdict(
            doc("ERIKSSON", "MARIA"),
            structured("Anna Maria", "Eriksson"),
            Mismatch,
        );
        // A parent sharing a middle name.
        assert_verdict(
            doc("ERIKSSON", "LARS MARIA"),
            structured("Anna Maria", "Eriksson"),
            Mismatch,
        );
    }

    #[test]
    fn going_by_a_middle_name_needs_review() {
        let m = assert_verdict(
            doc("ERIKSSON", "KARL JOHAN"),
            display("Johan Eriksson"),
            Partial,
        );
        has(&m, NameNote::GivenNameOrderDiffers);
    }

    #[test]
    fn different_surname_is_refused() {
        let m = assert_verdict(
            doc("LINDQVIST", "ANNA"),
            structured("Anna", "Eriksson"),
            Mismatch,
        );
        has(&m, NameNote::SurnameMismatch);
        has(&m, NameNote::GivenNameMatched);
        assert_verdict(doc("LINDQVIST", "ANNA"), display("Anna Eriksson"), Mismatch);
        assert_verdict(
            doc("LINDQVIST", "KARIN"),
            display("Anna Eriksson"),
            Mismatch,
        );
    }

    #[test]
    fn swapped_structured_fields_need_review() {
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA"),
            structured("Eriksson", "Anna"),
            Partial,
        );
        has(&m, NameNote::OrderSwapped);
        let m = assert_verdict(doc("ERIKSSON", "ANNA"), display("Anna, Eriksson"), Partial);
        has(&m, NameNote::OrderSwapped);
    }

    #[test]
    fn empty_and_blank_names_are_refused() {
        for (s, g) in [("", ""), ("", "ANNA"), ("   ", "ANNA"), ("<<<", "ANNA")] {
            let m = assert_verdict(doc(s, g), display("Anna Eriksson"), Mismatch);
            has(&m, NameNote::EmptyName);
            assert_eq!(m.score, 0.0);
        }
        for name in ["", "   ", "\t\n", "-", "..."] {
            assert_verdict(doc("ERIKSSON", "ANNA"), display(name), Mismatch);
        }
        assert_verdict(doc("ERIKSSON", "ANNA"), structured("", ""), Mismatch);
        // No given name on the document (a mononym, or a misread).
        let m = assert_verdict(doc("ERIKSSON", ""), display("Anna Eriksson"), Mismatch);
        has(&m, NameNote::GivenNameMissing);
    }

    #[test]
    fn non_letters_on_the_document_are_refused() {
        for (s, g) in [
            ("ERIKSS0N", "ANNA"),
            ("ERIKSSON", "ANNA2"),
            ("ERIKSSON", "ANNA 🙂"),
            ("ERIKSSON", "ANNA_MARIA"),
            ("ERIKSSON;", "ANNA"),
        ] {
            let m = assert_verdict(doc(s, g), display("Anna Eriksson"), Mismatch);
            has(&m, NameNote::InvalidCharacters);
        }
    }

    #[test]
    fn non_letter_directory_tokens_are_ignored() {
        for name in [
            "Anna Eriksson 2",
            "Anna Eriksson 🌴",
            "Anna Eriksson (Contractor)",
        ] {
            let m = assert_verdict(doc("ERIKSSON", "ANNA"), display(name), Match);
            has(&m, NameNote::DirectoryTokenIgnored);
        }
        for name in ["🌴", "12345", "🌴 🌴", "Anna 🌴"] {
            assert_verdict(doc("ERIKSSON", "ANNA"), display(name), Mismatch);
        }
    }

    #[test]
    fn oversized_input_is_refused_cheaply() {
        let huge = "A".repeat(10 * 1024);
        let m = assert_verdict(doc(&huge, "ANNA"), display("Anna Eriksson"), Mismatch);
        has(&m, NameNote::NameTooLong);
        assert_verdict(doc("ERIKSSON", &huge), display("Anna Eriksson"), Mismatch);
        let m = assert_verdict(doc("ERIKSSON", "ANNA"), display(&huge), Mismatch);
        has(&m, NameNote::NameTooLong);
        let spaced = "Anna ".repeat(2048);
        assert_verdict(doc("ERIKSSON", "ANNA"), display(&spaced), Mismatch);
        // Many tokens, or one long token, under the byte limit.
        let many = "A ".repeat(MAX_TOKENS + 1);
        assert_verdict(doc("ERIKSSON", &many), display("Anna Eriksson"), Mismatch);
        let long = "B".repeat(MAX_TOKEN_CHARS + 1);
        assert_verdict(doc(&long, "ANNA"), display("Anna Eriksson"), Mismatch);
        // Combining-mark floods are bounded by bytes.
        let zalgo = format!("Anna{} Eriksson", "\u{301}".repeat(600));
        assert_verdict(doc("ERIKSSON", "ANNA"), display(&zalgo), Mismatch);
    }

    #[test]
    fn worst_case_within_limits_completes() {
        // Twelve umlaut-heavy tokens on every side: the most work the limits allow (about a
        // millisecond in a release build; no timing is asserted, to stay unflaky).
        let token = "ÄÖÜÅØÄÖÜÅ";
        let field = [token; MAX_TOKENS].join(" ");
        assert!(field.chars().count() <= MAX_FIELD_CHARS);
        // The stripped form keeps the document within its own limits.
        let printed = ["AOUAOAOUA"; MAX_TOKENS].join("<");
        assert!(printed.chars().count() <= MAX_FIELD_CHARS);
        assert_verdict(doc(&printed, &printed), display(&field), Match);
        // And the same size with nothing in common: every display-name split is tried.
        let other = ["BCDEFGHIJ"; MAX_TOKENS].join("<");
        assert_verdict(doc(&other, &other), display(&field), Mismatch);
    }

    #[test]
    fn email_and_username_display_names_are_refused() {
        let m = assert_verdict(
            doc("ERIKSSON", "ANNA"),
            display("anna.eriksson@example.com"),
            Mismatch,
        );
        has(&m, NameNote::DirectoryNameIsEmail);
        for name in [
            "aeriksson",
            "anna.eriksson",
            "ANNA",
            "Eriksson",
            "Anna-Eriksson",
        ] {
            let m = assert_verdict(doc("ERIKSSON", "ANNA"), display(name), Mismatch);
            has(&m, NameNote::DirectoryNameIncomplete);
        }
        assert_verdict(doc("ERIKSSON", "ANNA"), display("anna_eriksson"), Mismatch);
        // Structured fields make the display name irrelevant.
        let dir = DirectoryName {
            display_name: "anna.eriksson@example.com",
            given_name: Some("Anna"),
            family_name: Some("Eriksson"),
        };
        assert_verdict(doc("ERIKSSON", "ANNA"), dir, Match);
        let dir = DirectoryName {
            display_name: "Anna Eriksson",
            given_name: Some("anna@example.com"),
            family_name: Some("anna@example.com"),
        };
        let m = assert_verdict(doc("ERIKSSON", "ANNA"), dir, Match);
        has(&m, NameNote::DirectoryNameIsEmail);
    }

    #[test]
    fn one_structured_field_constrains_the_display_name() {
        let dir = |display_name, given_name, family_name| DirectoryName {
            display_name,
            given_name,
            family_name,
        };
        assert_verdict(
            doc("ERIKSSON", "ANNA"),
            dir("Anna Eriksson", None, Some("Eriksson")),
            Match,
        );
        assert_verdict(
            doc("ERIKSSON", "ANNA MARIA"),
            dir("Anna Maria Eriksson", Some("Anna"), None),
            Match,
        );
        let m = check(
            doc("ERIKSSON", "ANNA"),
            dir("Anna Eriksson", None, Some("Lindqvist")),
        );
        assert_eq!(m.verdict, Mismatch);
        has(&m, NameNote::DirectoryNameInconsistent);
        let m = check(
            doc("ERIKSSON", "ANNA"),
            dir("aeriksson", None, Some("Eriksson")),
        );
        assert_eq!(m.verdict, Mismatch);
        has(&m, NameNote::DirectoryNameIncomplete);
    }

    #[test]
    fn generational_suffixes() {
        for name in ["John Smith Jr.", "Smith, John, Jr.", "John Smith III"] {
            let m = assert_verdict(doc("SMITH", "JOHN"), display(name), Match);
            has(&m, NameNote::SuffixIgnored);
        }
        assert_verdict(doc("SMITH", "JOHN"), structured("John", "Smith Jr"), Match);
        assert_verdict(doc("SMITH JR", "JOHN"), structured("John", "Smith"), Match);
    }

    #[test]
    fn display_name_titles() {
        for name in [
            "Dr. Anna Eriksson",
            "Prof. Dr. Anna Eriksson",
            "Eriksson, Dr. Anna",
        ] {
            let m = assert_verdict(doc("ERIKSSON", "ANNA"), display(name), Match);
            has(&m, NameNote::TitleIgnored);
        }
        // Never down to less than a name.
        assert_verdict(doc("ERIKSSON", "ANNA"), display("Dr. Eriksson"), Mismatch);
    }

    #[test]
    fn other_scripts_do_not_match_latin() {
        let m = assert_verdict(doc("ERIKSSON", "ANNA"), display("Анна Эрикссон"), Mismatch);
        has(&m, NameNote::NonLatinScript);
        // Same script on both sides compares as usual.
        assert_verdict(doc("ИВАНОВ", "ИВАН"), display("Иван Иванов"), Match);
    }

    #[test]
    fn scores_order_sensibly() {
        let exact = check(doc("ERIKSSON", "ANNA"), structured("Anna", "Eriksson")).score;
        let middle = check(
            doc("ERIKSSON", "ANNA MARIA"),
            structured("Anna", "Eriksson"),
        )
        .score;
        let initial = check(doc("ERIKSSON", "ANNA"), structured("A.", "Eriksson")).score;
        let sibling = check(doc("ERIKSSON", "KARIN"), structured("Anna", "Eriksson")).score;
        let stranger = check(doc("LINDQVIST", "KARIN"), structured("Anna", "Eriksson")).score;
        assert_eq!(exact, 1.0);
        // Letters, not verdicts: an unpaired middle name weighs more than a short initial.
        assert!(exact > middle && middle > sibling);
        assert!(exact > initial && initial > sibling);
        assert!(sibling > stranger);
        assert_eq!(stranger, 0.0);
    }

    #[test]
    fn from_fields() {
        let fields = crate::DocumentFields {
            surname: Some("ERIKSSON".into()),
            given_names: Some("ANNA MARIA".into()),
            ..Default::default()
        };
        let name = DocumentName::from_fields(&fields, false);
        assert_verdict(name, display("Anna Eriksson"), Match);
        let empty = crate::DocumentFields::default();
        let name = DocumentName::from_fields(&empty, false);
        assert_verdict(name, display("Anna Eriksson"), Mismatch);
    }

    #[test]
    fn serialises_as_snake_case() {
        let m = check(doc("ERIKSSON", "ANNA"), display("A. Eriksson"));
        let json = serde_json::to_value(&m).expect("serialises");
        assert_eq!(json["verdict"], "partial");
        assert!(json["notes"]
            .as_array()
            .is_some_and(|notes| notes.iter().any(|n| n == "initial_only")));
        let back: NameMatch = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, m);
        for (verdict, code) in [
            (Match, "match"),
            (Partial, "partial"),
            (Mismatch, "mismatch"),
        ] {
            assert_eq!(serde_json::to_value(verdict).expect("serialises"), code);
        }
    }

    #[test]
    fn note_codes_are_stable() {
        let all = [
            NameNote::SurnameMatched,
            NameNote::CompoundSurnameSubset,
            NameNote::SurnameMismatch,
            NameNote::SurnamePartialOverlap,
            NameNote::GivenNameMatched,
            NameNote::GivenNameMismatch,
            NameNote::GivenNameMissing,
            NameNote::GivenNameOrderDiffers,
            NameNote::MiddleNameAbsentInDirectory,
            NameNote::MiddleNameAbsentInDocument,
            NameNote::MiddleNameInitial,
            NameNote::MiddleNameMismatch,
            NameNote::TransliterationEquivalent,
            NameNote::DiacriticsIgnored,
            NameNote::SeparatorDifference,
            NameNote::TruncatedPrefixMatch,
            NameNote::InitialOnly,
            NameNote::OneEditDifference,
            NameNote::OrderSwapped,
            NameNote::DisplayNameUsed,
            NameNote::FamilyNameFirst,
            NameNote::SuffixIgnored,
            NameNote::TitleIgnored,
            NameNote::DirectoryTokenIgnored,
            NameNote::NonLatinScript,
            NameNote::EmptyName,
            NameNote::InvalidCharacters,
            NameNote::NameTooLong,
            NameNote::DirectoryNameIsEmail,
            NameNote::DirectoryNameIncomplete,
            NameNote::DirectoryNameInconsistent,
        ];
        for note in all {
            let json = serde_json::to_value(note).expect("serialises");
            assert_eq!(json, note.as_str());
            let back: NameNote = serde_json::from_value(json).expect("deserialises");
            assert_eq!(back, note);
        }
    }

    #[test]
    fn only_match_approves() {
        assert!(Match.is_match());
        assert!(!Partial.is_match());
        assert!(!Mismatch.is_match());
    }
}
