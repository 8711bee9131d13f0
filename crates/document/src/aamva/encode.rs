//! Writing payloads, for tests, fuzzing and the synthetic-card generator. What the encoder
//! writes, the parser reads back to the same elements; what the parser would refuse, the
//! encoder refuses with the same code.

use std::collections::{BTreeMap, BTreeSet};

use super::header::{ENTRY_LEN, FILE_TYPE, PREFIX};
use super::iin::{iin_of, Country};
use super::subfile::{check_id, role, Role};
use super::{AamvaError, AamvaRecord, MAX_ELEMENTS, MAX_PAYLOAD};
use crate::date::Date;
use crate::fields::{DocumentFields, Sex};

/// A payload to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AamvaInput {
    /// Six digits.
    pub iin: String,
    /// 1 to 10.
    pub version: u8,
    /// Written when present, whatever the version (the parser tells from the bytes).
    pub jurisdiction_version: Option<u8>,
    /// `DL` or `ID`.
    pub subfile_type: String,
    /// Written in this order. An ID starting with `Z` and a letter goes to the jurisdiction
    /// subfile those two letters name (`ZCA` to `ZC`), any other to the `subfile_type` one.
    pub elements: Vec<(String, String)>,
}

impl AamvaInput {
    /// A version 10 card stating `fields`, as `country` writes dates. `DCG` is the
    /// country's code (`fields.nationality` is not used); the IIN is the issuer's;
    /// the given names' first word is the first name (`DAC`), the rest the middle names
    /// (`DAD`).
    pub fn from_fields(
        fields: &DocumentFields,
        country: Country,
    ) -> Result<AamvaInput, AamvaError> {
        let issuer = fields
            .issuer
            .as_deref()
            .ok_or(AamvaError::UnknownJurisdiction)?;
        let iin = iin_of(issuer, country).ok_or(AamvaError::UnknownJurisdiction)?;
        let date = |date: Option<Date>| {
            date.map(|d| match country {
                Country::Usa => format!("{:02}{:02}{:04}", d.month(), d.day(), d.year()),
                Country::Canada => format!("{:04}{:02}{:02}", d.year(), d.month(), d.day()),
            })
        };
        let sex = fields.sex.map(|s| match s {
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::Unspecified => "9",
        });
        let (first, middle) = match fields.given_names.as_deref().map(str::trim) {
            Some(given) => match given.split_once(' ') {
                Some((first, middle)) => (Some(first), Some(middle)),
                None => (Some(given), None),
            },
            None => (None, None),
        };
        // Version 10 makes the truncation flags mandatory; names written whole are `N`.
        let not_truncated = |name: Option<&str>| name.map(|_| "N".to_string());
        let elements = [
            ("DAQ", fields.document_number.clone()),
            ("DCS", fields.surname.clone()),
            ("DAC", first.map(str::to_string)),
            ("DAD", middle.map(str::to_string)),
            ("DBB", date(fields.birth_date)),
            ("DBA", date(fields.expiry_date)),
            ("DBD", date(fields.issue_date)),
            ("DBC", sex.map(str::to_string)),
            ("DCG", Some(country.code().to_string())),
            ("DAJ", Some(issuer.to_string())),
            ("DDE", not_truncated(fields.surname.as_deref())),
            ("DDF", not_truncated(first)),
            ("DDG", not_truncated(middle)),
        ];
        Ok(AamvaInput {
            iin: iin.to_string(),
            version: 10,
            jurisdiction_version: Some(0),
            subfile_type: match fields.document_code.as_deref() {
                Some("ID") => "ID",
                _ => "DL",
            }
            .to_string(),
            elements: elements
                .into_iter()
                .filter_map(|(id, value)| Some((id.to_string(), value?)))
                .collect(),
        })
    }
}

/// The input that writes a record's header and elements back.
impl From<&AamvaRecord> for AamvaInput {
    fn from(record: &AamvaRecord) -> AamvaInput {
        AamvaInput {
            iin: record.iin.clone(),
            version: record.version,
            jurisdiction_version: record.jurisdiction_version,
            subfile_type: record.subfile_type.clone(),
            elements: record
                .elements
                .iter()
                .map(|(id, value)| (id.clone(), value.clone()))
                .collect(),
        }
    }
}

/// The largest offset or length 4 digits can state.
const MAX_FIELD: usize = 9999;

pub fn encode_aamva(input: &AamvaInput) -> Result<Vec<u8>, AamvaError> {
    if input.iin.len() != 6 || !input.iin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AamvaError::BadHeader("the IIN is not 6 digits"));
    }
    if !(1..=10).contains(&input.version) {
        return Err(AamvaError::UnsupportedVersion(input.version));
    }
    if input.jurisdiction_version.is_some_and(|v| v > 99) {
        return Err(AamvaError::BadHeader(
            "the jurisdiction version is not 2 digits",
        ));
    }
    if role(&input.subfile_type) != Role::Main {
        return Err(AamvaError::BadHeader(
            "the subfile type is neither DL nor ID",
        ));
    }

    let mut main = Vec::new();
    let mut jurisdiction: BTreeMap<&str, Vec<&(String, String)>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (index, element) in input.elements.iter().enumerate() {
        let (id, value) = element;
        let subfile = match id.get(..2) {
            Some(kind) if role(kind) == Role::Jurisdiction => kind,
            _ => input.subfile_type.as_str(),
        };
        let bad = |reason| AamvaError::BadElement {
            subfile: subfile.to_string(),
            at: index,
            reason,
        };
        check_id(id.as_bytes()).map_err(bad)?;
        if !value.is_ascii() {
            return Err(AamvaError::NonAscii { offset: index });
        }
        if value.bytes().any(|b| !(b' '..=b'~').contains(&b)) {
            return Err(bad("a control character in a value"));
        }
        if !seen.insert(id.as_str()) {
            return Err(AamvaError::DuplicateElement(id.clone()));
        }
        match subfile {
            kind if kind == input.subfile_type => main.push(element),
            kind => jurisdiction.entry(kind).or_default().push(element),
        }
    }

    let subfiles = std::iter::once((input.subfile_type.as_str(), main))
        .chain(jurisdiction)
        .map(|(kind, elements)| {
            if elements.len() > MAX_ELEMENTS {
                return Err(AamvaError::TooManyElements(kind.to_string()));
            }
            let mut bytes = kind.as_bytes().to_vec();
            for (i, (id, value)) in elements.into_iter().enumerate() {
                if i > 0 {
                    bytes.push(b'\n');
                }
                bytes.extend_from_slice(id.as_bytes());
                bytes.extend_from_slice(value.as_bytes());
            }
            bytes.push(b'\r');
            Ok((kind, bytes))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = Vec::new();
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(FILE_TYPE);
    out.extend_from_slice(input.iin.as_bytes());
    out.extend_from_slice(format!("{:02}", input.version).as_bytes());
    if let Some(jv) = input.jurisdiction_version {
        out.extend_from_slice(format!("{jv:02}").as_bytes());
    }
    // At most one main and 26 jurisdiction subfiles: the count fits its 2 digits.
    out.extend_from_slice(format!("{:02}", subfiles.len()).as_bytes());
    let mut offset = out.len() + subfiles.len() * ENTRY_LEN;
    let total = offset + subfiles.iter().map(|(_, b)| b.len()).sum::<usize>();
    for (kind, bytes) in &subfiles {
        if offset > MAX_FIELD || bytes.len() > MAX_FIELD || total > MAX_PAYLOAD {
            return Err(AamvaError::TooLarge { len: total });
        }
        out.extend_from_slice(format!("{kind}{offset:04}{:04}", bytes.len()).as_bytes());
        offset += bytes.len();
    }
    for (_, bytes) in subfiles {
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}
