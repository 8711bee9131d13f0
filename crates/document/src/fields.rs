//! The fields every kind of document reader produces, in one shape, so the MRZ and the
//! barcode of one card can be compared field by field, and the server can compare either
//! with the directory.

use serde::{Deserialize, Serialize};

use crate::date::Date;

/// Which layout the fields came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// ICAO 9303 TD1: ID cards, MRZ of 3 lines of 30.
    Td1,
    /// ICAO 9303 TD2: 2 lines of 36.
    Td2,
    /// ICAO 9303 TD3: passports, 2 lines of 44.
    Td3,
    /// AAMVA DL/ID PDF417 barcode (US and Canadian licences and ID cards).
    Aamva,
    Unknown,
}

/// Sex as documents print it: `F`, `M`, or `X`/`<` (unspecified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "F")]
    Female,
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "X")]
    Unspecified,
}

/// What a document states about its holder and itself. Names are upper case as printed
/// (MRZ filler `<` turned into spaces); absent fields are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentFields {
    /// MRZ document code (`P`, `I`, `ID`, `AC`, ...) or the AAMVA subfile type (`DL`, `ID`).
    pub document_code: Option<String>,
    /// MRZ issuing state (three letters) or the AAMVA jurisdiction (`DAJ`, e.g. `CA`).
    pub issuer: Option<String>,
    pub document_number: Option<String>,
    /// Primary identifier: the family name(s).
    pub surname: Option<String>,
    /// Secondary identifier: given and middle names, separated by single spaces.
    pub given_names: Option<String>,
    /// Three-letter nationality (MRZ) or country (AAMVA `DCG`).
    pub nationality: Option<String>,
    pub birth_date: Option<Date>,
    pub sex: Option<Sex>,
    pub expiry_date: Option<Date>,
    pub issue_date: Option<Date>,
    /// MRZ optional data fields (TD1 has two, TD2 and TD3 one: the personal number), with
    /// filler removed; empty ones left out.
    pub optional_data: Vec<String>,
}
