//! AAMVA DL/ID barcodes: the PDF417 payload on the back of US and Canadian driving
//! licences and ID cards, read into [`DocumentFields`] and written back.
//!
//! A payload is a header, a table of subfile entries (type, offset, length) and the
//! subfiles, each a two-letter type followed by `LF`-separated elements (a three-letter ID
//! and its value) and ended by `CR`. The standard is precise; cards and scanners are not:
//! offsets are sometimes a byte or two off, and scanners in keyboard mode send `CR` as
//! `CR LF`; others get offsets and lengths wholly wrong, or lose the CRs on the way. The
//! parser reads the layout as declared first and, when that alone fails, finds the
//! subfiles in the data ([`parse_aamva`]), reporting what it read past
//! ([`AamvaRecord::tolerated`]). It accepts a deviation only where a single reading
//! remains, refuses anything else with an [`AamvaError`] whose [`code`](AamvaError::code)
//! is stable, and never reads outside the payload, whatever the header claims.
//!
//! Policies, each tested:
//! - Payloads over [`MAX_PAYLOAD`] bytes are refused unread; so is any byte that is not
//!   ASCII. A value holds printable ASCII (0x20 to 0x7E) only.
//! - An element ID may appear once in the whole payload: with two `DCS`, which family name
//!   a reader shows would be the forger's choice.
//! - A jurisdiction subfile (`Z?`) may hold only `Z` elements, so it can never supply a
//!   standard field. Subfiles of types this module does not know are checked against the
//!   payload's bounds and otherwise skipped.
//! - A field that is present but invalid (a date, the sex, a truncation flag) becomes a
//!   [`FieldError`] in the record; a missing document number, family name or birth date
//!   refuses the payload.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::fields::{DocumentFields, DocumentKind};

mod encode;
mod header;
mod iin;
mod mapping;
mod subfile;
#[cfg(test)]
mod tests;

pub use encode::{encode_aamva, AamvaInput};
pub use iin::{jurisdiction_of_iin, Country};

/// Real payloads are 300 bytes to 3 KiB, and a 4-digit offset cannot point past 9999
/// anyway: the limit only keeps hostile input from costing anything.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// Most elements in one subfile; the standard defines fewer than 80.
pub const MAX_ELEMENTS: usize = 100;

/// What a barcode says, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AamvaRecord {
    /// The standard fields, from the `DL` or `ID` subfile.
    pub fields: DocumentFields,
    /// Issuer identification number: six digits naming the issuing jurisdiction.
    pub iin: String,
    /// AAMVA version: 1 (DL/ID-2000) to 10 (DL/ID-2020).
    pub version: u8,
    /// The jurisdiction's own version of its layout, absent from version 01 headers.
    pub jurisdiction_version: Option<u8>,
    /// `DL` or `ID`.
    pub subfile_type: String,
    /// Every element of every subfile read, by ID, with its value as it stands (padding
    /// included).
    pub elements: BTreeMap<String, String>,
    pub truncated: NameTruncation,
    /// Elements present but unusable; their fields are left `None`.
    pub field_errors: Vec<FieldError>,
    /// Where the payload's layout departs from the standard and was read past (empty for
    /// a payload laid out as the standard says); see [`parse_aamva`].
    pub tolerated: Vec<Tolerated>,
}

/// A departure from the standard's layout that [`parse_aamva`] read past because the data
/// still gave one reading. Reported with the record, never silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tolerated {
    /// The header's segment terminator, and so every subfile's, is LF: something turned
    /// every CR into LF.
    CrWrittenAsLf,
    /// The subfile was found in the data, not at the offset or with the length its entry
    /// gives.
    SubfileNotAsDeclared { subfile: String },
    /// The subfile has no CR: it ends where the next one begins (never the last one,
    /// which a payload cut short would look like).
    SubfileNotTerminated { subfile: String },
}

impl Tolerated {
    /// Stable code, for reports and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Tolerated::CrWrittenAsLf => "aamva_cr_written_as_lf",
            Tolerated::SubfileNotAsDeclared { .. } => "aamva_subfile_not_as_declared",
            Tolerated::SubfileNotTerminated { .. } => "aamva_subfile_not_terminated",
        }
    }
}

impl AamvaRecord {
    /// `DocumentFields` has no kind of its own; a record's is always this.
    pub fn kind(&self) -> DocumentKind {
        DocumentKind::Aamva
    }
}

/// Whether the issuer cut a name to fit (`DDE`, `DDF`, `DDG`); `None` when the card does
/// not say (versions before 04 have no such elements). A truncated name is a prefix of the
/// real one, which name matching must allow for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NameTruncation {
    pub family: Option<Truncation>,
    pub first: Option<Truncation>,
    pub middle: Option<Truncation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// `T`
    Truncated,
    /// `N`
    NotTruncated,
    /// `U`
    Unknown,
}

/// An element present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The element ID, e.g. `DBB`. The value is left out so that logs of errors hold no
    /// personal data; it is in [`AamvaRecord::elements`].
    pub element: String,
    pub kind: FieldErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorKind {
    /// Not 8 digits forming a real date from 1900 to 2099.
    BadDate,
    /// Not `1`/`M`, `2`/`F` or `9`/`X`.
    BadSex,
    /// Not `T`, `N` or `U`.
    BadTruncationFlag,
}

impl FieldError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::BadDate => "aamva_bad_date",
            FieldErrorKind::BadSex => "aamva_bad_sex",
            FieldErrorKind::BadTruncationFlag => "aamva_bad_truncation_flag",
        }
    }
}

/// Why a payload was refused (or, from [`encode_aamva`], why an input was: the encoder
/// refuses what the parser would, with the same codes). Messages name positions and element
/// IDs, never values, so they can be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AamvaError {
    /// Over [`MAX_PAYLOAD`] bytes, or (when encoding) with a subfile offset or length
    /// that does not fit in 4 digits.
    #[error("a payload of {len} bytes is too large")]
    TooLarge { len: usize },
    #[error("not an AAMVA DL/ID payload: {0}")]
    NotAamva(&'static str),
    /// `offset`: of the byte in the payload, or of the element in an encoder's input.
    #[error("byte or element {offset} is not ASCII")]
    NonAscii { offset: usize },
    #[error("malformed header: {0}")]
    BadHeader(&'static str),
    #[error("AAMVA version {0} is not supported (01 to 10 are)")]
    UnsupportedVersion(u8),
    #[error("subfile entry {index} points outside the payload")]
    EntryOutOfBounds { index: usize },
    #[error("more than one {0} subfile (DL and ID count as one kind)")]
    DuplicateSubfile(String),
    #[error("subfiles {0} and {1} overlap")]
    OverlappingSubfiles(String, String),
    #[error("subfile {0} is not at its declared offset, nor unambiguously near it")]
    SubfileNotFound(String),
    #[error("subfile {0} does not end with CR where its length says")]
    BadTerminator(String),
    #[error("no DL or ID subfile")]
    NoDlSubfile,
    /// `at`: byte offset in the payload (once `CR LF` is repaired), or the element's index
    /// in an encoder's input.
    #[error("subfile {subfile}: malformed element at {at}: {reason}")]
    BadElement {
        subfile: String,
        at: usize,
        reason: &'static str,
    },
    #[error("element {0} appears more than once")]
    DuplicateElement(String),
    #[error("subfile {0} has more than {MAX_ELEMENTS} elements")]
    TooManyElements(String),
    #[error("no {0}")]
    MissingField(&'static str),
    #[error("no IIN known for this issuer in this country")]
    UnknownJurisdiction,
}

impl AamvaError {
    /// A refusal of where the subfiles are or how they end, which finding them in the data
    /// may read past (see [`parse_aamva`]).
    fn is_about_the_layout(&self) -> bool {
        match self {
            AamvaError::BadHeader(why) => {
                *why == header::BAD_PREFIX || *why == subfile::SHORT_ENTRY
            }
            AamvaError::EntryOutOfBounds { .. }
            | AamvaError::SubfileNotFound(_)
            | AamvaError::BadTerminator(_)
            | AamvaError::OverlappingSubfiles(..) => true,
            _ => false,
        }
    }

    /// Stable reason code, for logs, metrics and API responses.
    pub fn code(&self) -> &'static str {
        match self {
            AamvaError::TooLarge { .. } => "aamva_too_large",
            AamvaError::NotAamva(_) => "aamva_not_aamva",
            AamvaError::NonAscii { .. } => "aamva_non_ascii",
            AamvaError::BadHeader(_) => "aamva_bad_header",
            AamvaError::UnsupportedVersion(_) => "aamva_unsupported_version",
            AamvaError::EntryOutOfBounds { .. } => "aamva_entry_out_of_bounds",
            AamvaError::DuplicateSubfile(_) => "aamva_duplicate_subfile",
            AamvaError::OverlappingSubfiles(..) => "aamva_overlapping_subfiles",
            AamvaError::SubfileNotFound(_) => "aamva_subfile_not_found",
            AamvaError::BadTerminator(_) => "aamva_bad_terminator",
            AamvaError::NoDlSubfile => "aamva_no_dl_subfile",
            AamvaError::BadElement { .. } => "aamva_bad_element",
            AamvaError::DuplicateElement(_) => "aamva_duplicate_element",
            AamvaError::TooManyElements(_) => "aamva_too_many_elements",
            AamvaError::MissingField(_) => "aamva_missing_field",
            AamvaError::UnknownJurisdiction => "aamva_unknown_jurisdiction",
        }
    }
}

/// Reads the decoded bytes of a PDF417 barcode.
///
/// First as the standard lays it out: each subfile where its entry says (within
/// [`subfile::SLACK`]), ended by CR where its length says. Real cards often are not: the
/// offsets or lengths are wrong, or something between the card and the parser turned CR
/// into LF or dropped it. When the layout alone is what fails, the subfiles are found in
/// the data instead (`subfile::find`), as mature parsers do, and what was read past is
/// reported in [`AamvaRecord::tolerated`]. Every element and field check is the same
/// either way; when the data does not give one layout either, the first refusal stands.
pub fn parse_aamva(payload: &[u8]) -> Result<AamvaRecord, AamvaError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(AamvaError::TooLarge { len: payload.len() });
    }
    // Checked before ASCII so that an image or other stray input gets the plainer answer.
    if payload.first() != Some(&b'@') {
        return Err(AamvaError::NotAamva("no compliance indicator '@'"));
    }
    if let Some(offset) = payload.iter().position(|b| !b.is_ascii()) {
        return Err(AamvaError::NonAscii { offset });
    }
    let payload = without_crlf(payload);
    match parse_as_declared(&payload) {
        Err(refusal) if refusal.is_about_the_layout() => match parse_as_found(&payload) {
            // Nor in the data: the first refusal says best what is wrong.
            Err(again) if again.is_about_the_layout() => Err(refusal),
            // Found, and then refused for what it holds.
            found => found,
        },
        result => result,
    }
}

/// Each subfile where its entry says.
fn parse_as_declared(payload: &[u8]) -> Result<AamvaRecord, AamvaError> {
    let header = header::parse(payload, false)?;
    let subfile_type = main_subfile(&header)?;
    let mut subfiles = Vec::new();
    for (index, entry) in header.entries.iter().enumerate() {
        subfile::check_bounds(payload.len(), header.len, entry, index)?;
        match subfile::role(&entry.kind) {
            subfile::Role::Skipped => {}
            role => subfiles.push(subfile::read(payload, header.len, entry, role)?),
        }
    }
    subfile::check_disjoint(&mut subfiles)?;
    record(header, subfile_type, subfiles, Vec::new())
}

/// Each subfile found in the data (see [`parse_aamva`]).
fn parse_as_found(payload: &[u8]) -> Result<AamvaRecord, AamvaError> {
    let header = header::parse(payload, true)?;
    let subfile_type = main_subfile(&header)?;
    let mut tolerated = Vec::new();
    if header.separators == header::Separators::CrAsLf {
        tolerated.push(Tolerated::CrWrittenAsLf);
    }
    let mut subfiles = Vec::new();
    for found in subfile::find(payload, &header)? {
        let subfile = found.subfile.kind.clone();
        if found.moved {
            tolerated.push(Tolerated::SubfileNotAsDeclared {
                subfile: subfile.clone(),
            });
        }
        if found.unterminated {
            tolerated.push(Tolerated::SubfileNotTerminated { subfile });
        }
        if subfile::role(&found.subfile.kind) != subfile::Role::Skipped {
            subfiles.push(found.subfile);
        }
    }
    record(header, subfile_type, subfiles, tolerated)
}

/// The `DL` or `ID` subfile's type, once the entries are known to name each kind once.
fn main_subfile(header: &header::Header) -> Result<String, AamvaError> {
    let mut kinds = BTreeSet::new();
    let mut main = None;
    for entry in &header.entries {
        let role = subfile::role(&entry.kind);
        let duplicate_main = role == subfile::Role::Main && main.is_some();
        if !kinds.insert(entry.kind.as_str()) || duplicate_main {
            return Err(AamvaError::DuplicateSubfile(entry.kind.clone()));
        }
        if role == subfile::Role::Main {
            main = Some(entry.kind.clone());
        }
    }
    main.ok_or(AamvaError::NoDlSubfile)
}

/// The record from the subfiles read: every element once, then the fields.
fn record(
    header: header::Header,
    subfile_type: String,
    subfiles: Vec<subfile::Subfile>,
    tolerated: Vec<Tolerated>,
) -> Result<AamvaRecord, AamvaError> {
    let mut elements = BTreeMap::new();
    for (id, value) in subfiles.into_iter().flat_map(|s| s.elements) {
        if elements.contains_key(&id) {
            return Err(AamvaError::DuplicateElement(id));
        }
        elements.insert(id, value);
    }
    let mapped = mapping::map(&elements, &subfile_type)?;
    Ok(AamvaRecord {
        fields: mapped.fields,
        iin: header.iin,
        version: header.version,
        jurisdiction_version: header.jurisdiction_version,
        subfile_type,
        elements,
        truncated: mapped.truncated,
        field_errors: mapped.errors,
        tolerated,
    })
}

/// Scanners in keyboard mode send `CR` as `CR LF`. A well-formed payload never has `LF`
/// right after `CR` (a `CR` ends the header prefix or a subfile, and `ANSI ` or the next
/// subfile's type follows), so dropping such an `LF` loses nothing and restores the offsets
/// the issuer computed.
fn without_crlf(payload: &[u8]) -> Cow<'_, [u8]> {
    if !payload.windows(2).any(|w| w == b"\r\n") {
        return Cow::Borrowed(payload);
    }
    let mut out = Vec::with_capacity(payload.len());
    let mut previous = 0u8;
    for &byte in payload {
        if !(previous == b'\r' && byte == b'\n') {
            out.push(byte);
        }
        previous = byte;
    }
    Cow::Owned(out)
}
