//! Finding each subfile the header announces, and splitting it into elements.

use std::ops::Range;

use super::header::{ascii, Entry};
use super::{AamvaError, MAX_ELEMENTS};

/// How far a subfile's start or end may sit from where the header puts it. Issuers are
/// seen off by one; two covers an off-by-one on both offset and length, and is far too
/// little for one subfile's designator to be mistaken for another's.
pub(super) const SLACK: usize = 2;

const LF: u8 = b'\n';
const CR: u8 = b'\r';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// `DL` or `ID`: the standard fields.
    Main,
    /// `Z` and a letter: elements the jurisdiction defines.
    Jurisdiction,
    /// Any other type: bounds-checked, not read.
    Skipped,
}

pub(super) fn role(kind: &str) -> Role {
    match kind.as_bytes() {
        b"DL" | b"ID" => Role::Main,
        [b'Z', letter] if letter.is_ascii_uppercase() => Role::Jurisdiction,
        _ => Role::Skipped,
    }
}

pub(super) struct Subfile {
    pub kind: String,
    /// From the type designator to the terminating CR, included.
    pub span: Range<usize>,
    pub elements: Vec<(String, String)>,
}

/// Refuses an entry whose declared bytes are not in the payload, allowing [`SLACK`] on
/// either side: offsets and lengths are 4 digits, so a lying entry can claim up to 19998
/// bytes, and nothing it claims is read unless it is really there.
pub(super) fn check_bounds(
    payload_len: usize,
    header_len: usize,
    entry: &Entry,
    index: usize,
) -> Result<(), AamvaError> {
    if entry.offset + SLACK < header_len || entry.offset + entry.length > payload_len + SLACK {
        return Err(AamvaError::EntryOutOfBounds { index });
    }
    if entry.length < 3 {
        return Err(AamvaError::BadHeader(
            "a subfile is declared shorter than its type and terminator",
        ));
    }
    Ok(())
}

/// Reads a subfile whose entry passed [`check_bounds`].
pub(super) fn read(
    p: &[u8],
    header_len: usize,
    entry: &Entry,
    role: Role,
) -> Result<Subfile, AamvaError> {
    let start = locate(p, header_len, entry)?;
    let end = terminator(p, start, entry)?;
    let elements = elements(p, &entry.kind, start + 2..end, role)?;
    Ok(Subfile {
        kind: entry.kind.clone(),
        span: start..end + 1,
        elements,
    })
}

/// The subfile starts with its type: at the declared offset, or else at the only place
/// within [`SLACK`] of it where the type appears. Two candidates mean no answer.
fn locate(p: &[u8], header_len: usize, entry: &Entry) -> Result<usize, AamvaError> {
    let kind = entry.kind.as_bytes();
    let starts_here = |i: usize| i >= header_len && p.get(i..i + 2) == Some(kind);
    if starts_here(entry.offset) {
        return Ok(entry.offset);
    }
    let mut found =
        (entry.offset.saturating_sub(SLACK)..=entry.offset + SLACK).filter(|&i| starts_here(i));
    match (found.next(), found.next()) {
        (Some(start), None) => Ok(start),
        _ => Err(AamvaError::SubfileNotFound(entry.kind.clone())),
    }
}

/// The subfile ends at its first CR, which must be within [`SLACK`] of where the length
/// puts it: a CR much earlier means the length lies, and none means the subfile runs on
/// into whatever follows.
fn terminator(p: &[u8], start: usize, entry: &Entry) -> Result<usize, AamvaError> {
    let expected = (start + entry.length).saturating_sub(1);
    let body = start + 2;
    let limit = (expected + SLACK + 1).min(p.len());
    p.get(body..limit)
        .and_then(|bytes| bytes.iter().position(|&b| b == CR))
        .map(|i| body + i)
        .filter(|cr| cr.abs_diff(expected) <= SLACK)
        .ok_or_else(|| AamvaError::BadTerminator(entry.kind.clone()))
}

fn elements(
    p: &[u8],
    kind: &str,
    body: Range<usize>,
    role: Role,
) -> Result<Vec<(String, String)>, AamvaError> {
    let mut at = body.start;
    let mut bytes = p.get(body).unwrap_or_default();
    // Some issuers put a separator after the type, many one before the CR; neither can be
    // read any other way.
    if let Some(rest) = bytes.strip_prefix(&[LF]) {
        bytes = rest;
        at += 1;
    }
    bytes = bytes.strip_suffix(&[LF]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let bad = |at, reason| AamvaError::BadElement {
        subfile: kind.to_string(),
        at,
        reason,
    };
    let mut elements = Vec::new();
    for element in bytes.split(|&b| b == LF) {
        if elements.len() == MAX_ELEMENTS {
            return Err(AamvaError::TooManyElements(kind.to_string()));
        }
        let (id, value) = element
            .split_at_checked(3)
            .ok_or(bad(at, "shorter than its 3-letter ID"))?;
        check_id(id).map_err(|reason| bad(at, reason))?;
        if role == Role::Jurisdiction && id.first() != Some(&b'Z') {
            return Err(bad(at, "a jurisdiction subfile holds a standard element"));
        }
        if let Some(i) = value.iter().position(|b| !(b' '..=b'~').contains(b)) {
            return Err(bad(at + 3 + i, "a control character in a value"));
        }
        elements.push((ascii(id), ascii(value)));
        at += element.len() + 1;
    }
    Ok(elements)
}

/// A capital letter, then capital letters or digits: standard IDs are letters,
/// jurisdictions' are `Z` and two characters of their choosing.
pub(super) fn check_id(id: &[u8]) -> Result<(), &'static str> {
    match id {
        [first, rest @ ..]
            if id.len() == 3
                && first.is_ascii_uppercase()
                && rest
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
        {
            Ok(())
        }
        _ => Err("the ID is not 3 capital letters or digits"),
    }
}

/// Two subfiles sharing bytes would let one payload say two things.
pub(super) fn check_disjoint(subfiles: &mut [Subfile]) -> Result<(), AamvaError> {
    subfiles.sort_by_key(|s| s.span.start);
    for pair in subfiles.windows(2) {
        if let [a, b] = pair {
            if a.span.end > b.span.start {
                return Err(AamvaError::OverlappingSubfiles(
                    a.kind.clone(),
                    b.kind.clone(),
                ));
            }
        }
    }
    Ok(())
}
