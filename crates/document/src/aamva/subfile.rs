//! Finding each subfile the header announces, and splitting it into elements.

use std::ops::Range;

use super::header::{ascii, Entry, Header, Separators};
use super::{AamvaError, MAX_ELEMENTS};

/// How far a subfile's start or end may sit from where the header puts it. Issuers are
/// seen off by one; two covers an off-by-one on both offset and length, and is far too
/// little for one subfile's designator to be mistaken for another's.
pub(super) const SLACK: usize = 2;

/// [`check_bounds`]'s refusal of an entry too short to hold a subfile.
pub(super) const SHORT_ENTRY: &str = "a subfile is declared shorter than its type and terminator";

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
        return Err(AamvaError::BadHeader(SHORT_ENTRY));
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

/// A subfile found in the data ([`find`]).
pub(super) struct Found {
    pub subfile: Subfile,
    /// Its start or its length is not what its entry says (beyond [`SLACK`]).
    pub moved: bool,
    /// It does not end with CR (it ends where the next begins, or with the payload).
    pub unterminated: bool,
}

/// Finds the subfiles in the data when their entries' offsets and lengths do not lead to
/// them, as real cards need (issuers get the numbers wrong, and software between the card
/// and the parser turns CR into LF or drops it). The entries are taken in the order of
/// their declared offsets, and each subfile is the first place after the previous one's
/// start where its type stands at a segment's start: right after the header, or after a CR
/// or LF (a value never holds either), followed by an element ID or a separator. It ends
/// at its first CR, or else where the next subfile begins; the last one must end with its
/// terminator (CR, or LF where every CR became one), or a payload cut short would read as
/// whole.
///
/// Nothing is left unread between them: bytes after a CR that are not the next subfile
/// (or after the last subfile), other than CR, LF and spaces, refuse the payload
/// ([`AamvaError::BadTerminator`]), as do bytes between the header and the first subfile
/// ([`AamvaError::SubfileNotFound`]): a CR in the middle of a subfile would otherwise drop
/// its last elements without a word. Skipped subfile types are found, bounded and not
/// read, as by the entries.
pub(super) fn find(p: &[u8], header: &Header) -> Result<Vec<Found>, AamvaError> {
    let mut entries: Vec<&Entry> = header.entries.iter().collect();
    entries.sort_by_key(|e| e.offset);
    let mut starts = Vec::with_capacity(entries.len());
    let mut cursor = header.len;
    for entry in &entries {
        let kind = entry.kind.as_bytes();
        let start = (cursor..p.len())
            .find(|&i| starts_a_subfile(p, i, header.len, kind))
            .ok_or_else(|| AamvaError::SubfileNotFound(entry.kind.clone()))?;
        starts.push(start);
        cursor = start + 2;
    }
    let blank = |bytes: &[u8]| bytes.iter().all(|b| matches!(*b, CR | LF | b' '));
    if let Some(&first) = starts.first() {
        if !blank(p.get(header.len..first).unwrap_or_default()) {
            return Err(AamvaError::SubfileNotFound(entries[0].kind.clone()));
        }
    }
    let mut found = Vec::new();
    for (k, (entry, &start)) in entries.iter().zip(&starts).enumerate() {
        let limit = starts.get(k + 1).copied().unwrap_or(p.len());
        let body = start + 2;
        let cr = p
            .get(body..limit)
            .and_then(|b| b.iter().position(|&c| c == CR))
            .map(|i| body + i);
        let last = k + 1 == entries.len();
        let end = match cr {
            Some(cr) if blank(p.get(cr + 1..limit).unwrap_or_default()) => cr,
            Some(_) => return Err(AamvaError::BadTerminator(entry.kind.clone())),
            // The last subfile must end with its terminator (CR, or LF where every CR
            // became one): without it a payload cut short would read as whole, its last
            // value cut and its last elements missing.
            None if last && !(header.separators == Separators::CrAsLf && p.last() == Some(&LF)) => {
                return Err(AamvaError::BadTerminator(entry.kind.clone()));
            }
            // Where every CR became LF, the subfile's last LF is its terminator (and an LF
            // before it the separator many issuers put before the CR).
            None if header.separators == Separators::CrAsLf
                && limit > body
                && p.get(limit - 1) == Some(&LF) =>
            {
                limit - 1
            }
            None => limit,
        };
        let role = role(&entry.kind);
        let elements = match role {
            Role::Skipped => Vec::new(),
            _ => elements(p, &entry.kind, body..end, role)?,
        };
        let span_end = if cr.is_some() { end + 1 } else { end };
        found.push(Found {
            // Within the slack the declared reading allows, as it would have said nothing.
            moved: start.abs_diff(entry.offset) > SLACK
                || (span_end - start).abs_diff(entry.length) > SLACK,
            unterminated: cr.is_none() && header.separators == Separators::Standard,
            subfile: Subfile {
                kind: entry.kind.clone(),
                span: start..span_end,
                elements,
            },
        });
    }
    Ok(found)
}

/// `kind` stands at `i` at a segment's start (see [`find`]).
fn starts_a_subfile(p: &[u8], i: usize, header_len: usize, kind: &[u8]) -> bool {
    let before = i.checked_sub(1).and_then(|j| p.get(j).copied());
    let after_separator = i == header_len || matches!(before, Some(CR | LF));
    let then = p.get(i + 2).copied();
    p.get(i..i + 2) == Some(kind)
        && after_separator
        && then.is_none_or(|b| b == LF || b == CR || b.is_ascii_uppercase())
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
