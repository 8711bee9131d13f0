//! The fixed-layout header and its table of subfile entries.

use super::AamvaError;

/// The compliance indicator `@`, then the data element separator (LF), record separator
/// (RS) and segment terminator (CR). The header declares them, but every standard version
/// fixes them to these, and a parser that honoured others would read one payload in two
/// ways.
pub(super) const PREFIX: &[u8; 4] = b"@\n\x1e\r";
/// The prefix with its CR turned into LF, as payloads are found once something between the
/// card and the parser has turned every CR into LF: read only when the subfiles are found
/// in the data ([`Separators::CrAsLf`]).
const PREFIX_CR_AS_LF: &[u8; 4] = b"@\n\x1e\n";
/// [`parse`]'s refusal of any other prefix.
pub(super) const BAD_PREFIX: &str = "the separators after '@' are not LF RS CR";
/// `AAMVA` is what some DL/ID-2000 era cards carry instead.
pub(super) const FILE_TYPE: &[u8; 5] = b"ANSI ";
const LEGACY_FILE_TYPE: &[u8; 5] = b"AAMVA";

const IIN_AT: usize = 9;
const VERSION_AT: usize = 15;
/// Where the jurisdiction version, or in its absence the entry count, starts.
const AFTER_VERSION: usize = 17;
/// Type (2), offset (4), length (4).
pub(super) const ENTRY_LEN: usize = 10;

/// How the payload ends its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Separators {
    /// As the standard says: CR.
    Standard,
    /// CR turned into LF throughout (only read when the subfiles are found in the data).
    CrAsLf,
}

pub(super) struct Header {
    pub separators: Separators,
    pub iin: String,
    pub version: u8,
    pub jurisdiction_version: Option<u8>,
    pub entries: Vec<Entry>,
    /// Bytes up to the end of the entry table; no subfile starts before this.
    pub len: usize,
}

pub(super) struct Entry {
    /// Two capital letters.
    pub kind: String,
    pub offset: usize,
    pub length: usize,
}

/// The header, with the standard's prefix or, when `cr_as_lf` allows it, the prefix whose
/// CR became LF.
pub(super) fn parse(p: &[u8], cr_as_lf: bool) -> Result<Header, AamvaError> {
    match p.get(4..9) {
        Some(t) if t == FILE_TYPE || t == LEGACY_FILE_TYPE => {}
        _ => {
            return Err(AamvaError::NotAamva(
                "the file type is neither ANSI nor AAMVA",
            ))
        }
    }
    let separators = match p.get(..4) {
        Some(prefix) if prefix == PREFIX => Separators::Standard,
        Some(prefix) if cr_as_lf && prefix == PREFIX_CR_AS_LF => Separators::CrAsLf,
        _ => return Err(AamvaError::BadHeader(BAD_PREFIX)),
    };
    let iin = p
        .get(IIN_AT..IIN_AT + 6)
        .filter(|d| d.iter().all(u8::is_ascii_digit))
        .map(ascii)
        .ok_or(AamvaError::BadHeader("the IIN is not 6 digits"))?;
    let version = two_digits(p, VERSION_AT)
        .ok_or(AamvaError::BadHeader("the AAMVA version is not 2 digits"))?;
    if !(1..=10).contains(&version) {
        return Err(AamvaError::UnsupportedVersion(version));
    }
    // Version 01 headers have no jurisdiction version, later ones do, and cards of both
    // kinds are found with and without. Entries start with two letters, so two digits at
    // 19..21 can only be an entry count following a jurisdiction version: the bytes tell,
    // whatever the version says.
    let (jurisdiction_version, count_at) = match two_digits(p, AFTER_VERSION + 2) {
        Some(_) => {
            let jv = two_digits(p, AFTER_VERSION).ok_or(AamvaError::BadHeader(
                "the jurisdiction version is not 2 digits",
            ))?;
            (Some(jv), AFTER_VERSION + 2)
        }
        None => (None, AFTER_VERSION),
    };
    let count = two_digits(p, count_at).ok_or(AamvaError::BadHeader(
        "the number of entries is not 2 digits",
    ))?;
    if count == 0 {
        return Err(AamvaError::BadHeader("the header declares no subfiles"));
    }
    let table = count_at + 2;
    let len = table + usize::from(count) * ENTRY_LEN;
    if p.len() < len {
        return Err(AamvaError::BadHeader("the entry table runs past the end"));
    }
    let entries = (0..usize::from(count))
        .map(|i| entry(p, table + i * ENTRY_LEN))
        .collect::<Result<_, _>>()?;
    Ok(Header {
        separators,
        iin,
        version,
        jurisdiction_version,
        entries,
        len,
    })
}

fn entry(p: &[u8], at: usize) -> Result<Entry, AamvaError> {
    let kind = p
        .get(at..at + 2)
        .filter(|k| k.iter().all(u8::is_ascii_uppercase))
        .map(ascii)
        .ok_or(AamvaError::BadHeader(
            "a subfile type is not 2 capital letters",
        ))?;
    let number = |from| {
        digits(p, from, 4).ok_or(AamvaError::BadHeader(
            "a subfile offset or length is not 4 digits",
        ))
    };
    Ok(Entry {
        kind,
        offset: number(at + 2)?,
        length: number(at + 6)?,
    })
}

/// The value of `len` decimal digits at `at`, if they are there and are digits.
fn digits(p: &[u8], at: usize, len: usize) -> Option<usize> {
    p.get(at..at.checked_add(len)?)?
        .iter()
        .try_fold(0usize, |n, &b| {
            b.is_ascii_digit()
                .then(|| n.checked_mul(10)?.checked_add(usize::from(b - b'0')))?
        })
}

fn two_digits(p: &[u8], at: usize) -> Option<u8> {
    digits(p, at, 2).and_then(|n| u8::try_from(n).ok())
}

/// Bytes already known to be ASCII, as a string.
pub(super) fn ascii(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}
