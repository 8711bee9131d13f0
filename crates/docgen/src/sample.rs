//! Random but plausible holders and documents, so an evaluation covers many names, dates
//! and numbers rather than one specimen.

use image::RgbImage;
use reclaim_document::{Date, Sex};

use crate::layout::{DocKind, DocumentSpec, Holder};
use crate::rng::Rng;

const SURNAMES: &[&str] = &[
    "Eriksson",
    "Müller-Lüdenscheidt",
    "O'Brien",
    "García López",
    "Nguyen",
    "Kowalczyk",
    "Okafor",
    "Smith",
    "Østergaard",
    "Dubois",
    "Rossi",
    "Papadopoulos",
    "Yamamoto",
    "Fernández",
    "Van der Berg",
    "Ng",
];
const GIVEN: &[&str] = &[
    "Anna Maria",
    "José",
    "Chloé",
    "Jean-Pierre",
    "Wei",
    "Oluwaseun",
    "Zoë",
    "Björn",
    "Mary Ellen",
    "Ahmed",
    "Katarzyna",
    "Liam",
    "Søren",
    "Ana Sofía",
    "Kenji",
    "Grace",
];
const NATIONS: &[&str] = &["UTO", "D<<", "FRA", "NLD", "SWE", "CAN", "GBR", "ITA"];
const STATES: &[&str] = &["CA", "NY", "TX", "WA", "FL", "IL"];

fn date(rng: &mut Rng, from_year: u16, years: u16) -> Date {
    loop {
        let y = from_year + rng.below(usize::from(years)) as u16;
        let m = 1 + rng.below(12) as u8;
        let d = 1 + rng.below(31) as u8;
        if let Some(date) = Date::new(y, m, d) {
            return date;
        }
    }
}

fn alnum(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    (0..len).map(|_| char::from(*rng.pick(CHARS))).collect()
}

/// `name` in plain ASCII capitals-friendly letters, as US licences print names.
pub fn ascii_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::new();
    for c in name.chars() {
        match c {
            'ß' => out.push_str("ss"),
            'Ø' => out.push('O'),
            'ø' => out.push('o'),
            'Æ' => out.push_str("AE"),
            'æ' => out.push_str("ae"),
            _ => out.extend(c.to_string().nfkd().filter(char::is_ascii)),
        }
    }
    out
}

/// A document of `kind` for a random holder, valid on `today` (expiring one to nine years
/// later), with `portrait` printed on it.
pub fn random_spec(kind: DocKind, rng: &mut Rng, portrait: RgbImage, today: Date) -> DocumentSpec {
    let birth = date(rng, 1950, 55);
    let expiry_year = today.year() + 1 + rng.below(9) as u16;
    let expiry = date(rng, expiry_year, 1);
    let issue =
        Date::new(expiry.year() - 10, expiry.month(), expiry.day().min(28)).unwrap_or(birth);
    let sex = *rng.pick(&[Sex::Female, Sex::Male, Sex::Unspecified]);
    let (issuer, nationality, number) = match kind {
        DocKind::Aamva => (
            rng.pick(STATES).to_string(),
            "USA".to_string(),
            format!(
                "{}{}",
                char::from(b'A' + rng.below(26) as u8),
                (0..7)
                    .map(|_| char::from(b'0' + rng.below(10) as u8))
                    .collect::<String>()
            ),
        ),
        _ => {
            let n = rng.pick(NATIONS).to_string();
            (n.clone(), n, alnum(rng, 9))
        }
    };
    let (mut surname, mut given_names) =
        (rng.pick(SURNAMES).to_string(), rng.pick(GIVEN).to_string());
    if kind == DocKind::Aamva {
        surname = ascii_name(&surname);
        given_names = ascii_name(&given_names);
    }
    DocumentSpec {
        kind,
        holder: Holder {
            surname,
            given_names,
            birth_date: birth,
            sex,
            nationality,
        },
        issuer,
        document_number: number,
        issue_date: issue,
        expiry_date: expiry,
        portrait,
        mrz_override: None,
    }
}
