//! From elements to [`DocumentFields`]: which elements each standard version uses for a
//! field, and how their values are written.

use std::collections::BTreeMap;
use std::ops::Range;

use super::{AamvaError, FieldError, FieldErrorKind, NameTruncation, Truncation};
use crate::date::Date;
use crate::fields::{DocumentFields, Sex};

pub(super) struct Mapped {
    pub fields: DocumentFields,
    pub truncated: NameTruncation,
    pub errors: Vec<FieldError>,
}

/// Dates outside these years are errors. Within them the two layouts the standard uses,
/// `MMDDCCYY` (US cards from version 02 on) and `CCYYMMDD` (Canadian cards, and version 01
/// ones), can never both fit one value, since no month is 19 or 20. So the digits alone
/// say which layout a date is in; the country (`DCG`, or the IIN) would only ever pick the
/// same reading, and cards that use the other country's layout are still read right.
const YEARS: Range<u16> = 1900..2100;

pub(super) fn map(
    elements: &BTreeMap<String, String>,
    subfile_type: &str,
) -> Result<Mapped, AamvaError> {
    let mut r = Reader {
        elements,
        errors: Vec::new(),
    };
    let full_name = r.get("DAA").map(split_full_name).unwrap_or_default();
    let surname = r
        .get("DCS")
        .or_else(|| r.get("DAB"))
        .and_then(name)
        .or(full_name.0);
    // Versions 01 and 04 on: first (DAC) and middle (DAD); 02 and 03: given names (DCT),
    // `FIRST MIDDLE` or `FIRST,MIDDLE`. Several issuers write `NONE` for no middle name.
    let middle = r.get("DAD").filter(|m| *m != "NONE");
    let first_middle = [r.get("DAC"), middle].into_iter().flatten();
    let given_names = name(&first_middle.collect::<Vec<_>>().join(" "))
        .or_else(|| r.get("DCT").and_then(|g| name(&g.replace(',', " "))))
        .or(full_name.1);

    let document_number = r
        .get("DAQ")
        .ok_or(AamvaError::MissingField("document number (DAQ)"))?;
    let surname = surname.ok_or(AamvaError::MissingField("family name (DCS, DAB or DAA)"))?;
    if r.get("DBB").is_none() {
        return Err(AamvaError::MissingField("birth date (DBB)"));
    }

    let fields = DocumentFields {
        document_code: Some(subfile_type.to_string()),
        issuer: r.get("DAJ").map(str::to_ascii_uppercase),
        document_number: Some(document_number.to_string()),
        surname: Some(surname),
        given_names,
        nationality: r.get("DCG").map(str::to_ascii_uppercase),
        birth_date: r.checked("DBB", FieldErrorKind::BadDate, date),
        sex: r.checked("DBC", FieldErrorKind::BadSex, sex),
        expiry_date: r.checked("DBA", FieldErrorKind::BadDate, date),
        issue_date: r.checked("DBD", FieldErrorKind::BadDate, date),
        optional_data: Vec::new(),
    };
    let flag = FieldErrorKind::BadTruncationFlag;
    let truncated = NameTruncation {
        family: r.checked("DDE", flag, truncation),
        first: r.checked("DDF", flag, truncation),
        middle: r.checked("DDG", flag, truncation),
    };
    Ok(Mapped {
        fields,
        truncated,
        errors: r.errors,
    })
}

struct Reader<'a> {
    elements: &'a BTreeMap<String, String>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    /// The value without padding; `None` when absent or blank.
    fn get(&self, id: &str) -> Option<&'a str> {
        self.elements
            .get(id)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The parsed value; a field error when present but unparsable.
    fn checked<T>(
        &mut self,
        id: &'static str,
        kind: FieldErrorKind,
        parse: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let parsed = parse(self.get(id)?);
        if parsed.is_none() {
            self.errors.push(FieldError {
                element: id.to_string(),
                kind,
            });
        }
        parsed
    }
}

/// Upper case, single spaces, `None` when nothing is left.
fn name(s: &str) -> Option<String> {
    let name = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty()).then(|| name.to_ascii_uppercase())
}

/// DL/ID-2000 `DAA`: `LAST,FIRST,MIDDLE`, or the same order separated by spaces, where a
/// family name of several words cannot be told from the given names: the first word is
/// taken as the family name, and name matching must tolerate the rest.
fn split_full_name(s: &str) -> (Option<String>, Option<String>) {
    let (surname, given) = match s.split_once(',') {
        Some((surname, given)) => (surname, given.replace(',', " ")),
        None => {
            let mut words = s.split_whitespace();
            let surname = words.next().unwrap_or_default();
            (surname, words.collect::<Vec<_>>().join(" "))
        }
    };
    (name(surname), name(&given))
}

fn date(s: &str) -> Option<Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |r: Range<usize>| s.get(r)?.parse::<u16>().ok();
    let read = |year, month, day| {
        let date = Date::new(
            number(year)?,
            u8::try_from(number(month)?).ok()?,
            u8::try_from(number(day)?).ok()?,
        )?;
        YEARS.contains(&date.year()).then_some(date)
    };
    read(4..8, 0..2, 2..4).or_else(|| read(0..4, 4..6, 6..8))
}

/// `1`/`2`/`9` since version 02; `M`/`F` before. `X` is the MRZ's unspecified, which
/// some issuers have carried over.
fn sex(s: &str) -> Option<Sex> {
    match s {
        "1" | "M" => Some(Sex::Male),
        "2" | "F" => Some(Sex::Female),
        "9" | "X" => Some(Sex::Unspecified),
        _ => None,
    }
}

fn truncation(s: &str) -> Option<Truncation> {
    match s {
        "T" => Some(Truncation::Truncated),
        "N" => Some(Truncation::NotTruncated),
        "U" => Some(Truncation::Unknown),
        _ => None,
    }
}
