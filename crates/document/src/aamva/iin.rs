//! Issuer identification numbers of US and Canadian jurisdictions, as in AAMVA's published
//! IIN list (Mexican states and the US State Department also hold IINs, left out here).

use serde::{Deserialize, Serialize};

/// The countries whose cards this module reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Country {
    Usa,
    Canada,
}

impl Country {
    /// As written in `DCG`.
    pub fn code(self) -> &'static str {
        match self {
            Country::Usa => "USA",
            Country::Canada => "CAN",
        }
    }
}

use Country::{Canada, Usa};

/// IIN, jurisdiction code (`DAJ`), country.
const JURISDICTIONS: &[(&str, &str, Country)] = &[
    ("636033", "AL", Usa),
    ("636059", "AK", Usa),
    ("604427", "AS", Usa),
    ("636026", "AZ", Usa),
    ("636021", "AR", Usa),
    ("636014", "CA", Usa),
    ("636020", "CO", Usa),
    ("636006", "CT", Usa),
    ("636011", "DE", Usa),
    ("636043", "DC", Usa),
    ("636010", "FL", Usa),
    ("636055", "GA", Usa),
    ("636019", "GU", Usa),
    ("636047", "HI", Usa),
    ("636050", "ID", Usa),
    ("636035", "IL", Usa),
    ("636037", "IN", Usa),
    ("636018", "IA", Usa),
    ("636022", "KS", Usa),
    ("636046", "KY", Usa),
    ("636007", "LA", Usa),
    ("636041", "ME", Usa),
    ("636003", "MD", Usa),
    ("636002", "MA", Usa),
    ("636032", "MI", Usa),
    ("636038", "MN", Usa),
    ("636051", "MS", Usa),
    ("636030", "MO", Usa),
    ("636008", "MT", Usa),
    ("636054", "NE", Usa),
    ("636049", "NV", Usa),
    ("636039", "NH", Usa),
    ("636036", "NJ", Usa),
    ("636009", "NM", Usa),
    ("636001", "NY", Usa),
    ("636004", "NC", Usa),
    ("636034", "ND", Usa),
    ("604430", "MP", Usa),
    ("636023", "OH", Usa),
    ("636058", "OK", Usa),
    ("636029", "OR", Usa),
    ("636025", "PA", Usa),
    ("604431", "PR", Usa),
    ("636052", "RI", Usa),
    ("636005", "SC", Usa),
    ("636042", "SD", Usa),
    ("636053", "TN", Usa),
    ("636015", "TX", Usa),
    ("636062", "VI", Usa),
    ("636040", "UT", Usa),
    ("636024", "VT", Usa),
    ("636000", "VA", Usa),
    ("636045", "WA", Usa),
    ("636061", "WV", Usa),
    ("636031", "WI", Usa),
    ("636060", "WY", Usa),
    ("604432", "AB", Canada),
    // Alberta's second, non-ISO number.
    ("990876", "AB", Canada),
    ("636028", "BC", Canada),
    ("636048", "MB", Canada),
    ("636017", "NB", Canada),
    ("636016", "NL", Canada),
    ("636013", "NS", Canada),
    ("604434", "NT", Canada),
    ("604433", "NU", Canada),
    ("636012", "ON", Canada),
    ("604426", "PE", Canada),
    ("604428", "QC", Canada),
    ("636044", "SK", Canada),
    ("604429", "YT", Canada),
];

/// The jurisdiction code and country an IIN belongs to, when it is a US or Canadian one.
pub fn jurisdiction_of_iin(iin: &str) -> Option<(&'static str, Country)> {
    JURISDICTIONS
        .iter()
        .find(|(i, _, _)| *i == iin)
        .map(|&(_, code, country)| (code, country))
}

/// The IIN of a jurisdiction code within a country.
pub(super) fn iin_of(jurisdiction: &str, country: Country) -> Option<&'static str> {
    JURISDICTIONS
        .iter()
        .find(|&&(_, code, c)| code == jurisdiction && c == country)
        .map(|&(iin, _, _)| iin)
}
