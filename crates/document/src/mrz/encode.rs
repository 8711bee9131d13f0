//! Writing an MRZ: for tests, and for the generator of synthetic documents.

use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::layout::{checks, Grid, Layout, Span, FILLER};
use super::{MrzError, MrzField};
use crate::date::Date;
use crate::fields::{DocumentKind, Sex};

/// What an MRZ states. Text fields other than names must already be in the MRZ alphabet;
/// empty ones are written as filler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrzInput {
    /// `Td1`, `Td2` or `Td3`; a document code starting with `V` makes a visa of the last two.
    pub kind: DocumentKind,
    pub document_code: String,
    pub issuer: String,
    /// TD1 and TD2 take up to 22 and 15 characters (past nine, the number continues in the
    /// first optional data field); TD3 and visas up to 9.
    pub document_number: String,
    /// Any Latin script: transliterated to `A-Z` (diacritics dropped, spaces and hyphens
    /// become filler, apostrophes and full stops vanish).
    pub surname: String,
    pub given_names: String,
    pub nationality: String,
    pub birth_date: Date,
    pub sex: Sex,
    pub expiry_date: Date,
    /// One entry per optional data field, in document order (TD1 has two; for TD3 the one
    /// field is the personal number).
    pub optional_data: Vec<String>,
}

/// The lines of the MRZ stating `input`, every check digit computed. Given names that do
/// not fit are cut (which [`super::Mrz::names_truncated`] then shows); a surname that
/// leaves no room for a given name is an error, as is any other value that does not fit.
pub fn encode_mrz(input: &MrzInput) -> Result<Vec<String>, MrzError> {
    let unsupported = MrzError::UnsupportedKind { kind: input.kind };
    let first = input.document_code.bytes().next().unwrap_or(FILLER);
    let layout = Layout::of(input.kind, first).ok_or(unsupported)?;
    let mut grid = Grid::filler(layout);

    let letters = [
        (
            layout.document_code,
            &input.document_code,
            MrzField::DocumentCode,
        ),
        (layout.issuer, &input.issuer, MrzField::Issuer),
        (
            layout.nationality,
            &input.nationality,
            MrzField::Nationality,
        ),
    ];
    for (span, value, field) in letters {
        if !value.bytes().all(|c| c.is_ascii_uppercase() || c == FILLER) {
            return Err(MrzError::InvalidField {
                field,
                reason: "only A-Z and < are allowed",
            });
        }
        fits(span, value, field)?;
        grid.put(span, value.as_bytes());
    }
    let names = names(&input.surname, &input.given_names, layout.names.len)?;
    grid.put(layout.names, names.as_bytes());
    put_number_and_optional(&mut grid, layout, input)?;
    grid.put(layout.birth_date, yymmdd(input.birth_date).as_bytes());
    grid.put(layout.expiry_date, yymmdd(input.expiry_date).as_bytes());
    let sex = match input.sex {
        Sex::Female => b'F',
        Sex::Male => b'M',
        Sex::Unspecified => b'X',
    };
    grid.put(layout.sex, &[sex]);

    // The composite covers the other check digits, so it is computed once they are written.
    for composite in [false, true] {
        for check in checks(layout, &grid) {
            if (check.field == MrzField::Composite) != composite {
                continue;
            }
            let empty = check.covered.iter().all(|&p| grid.get(p) == FILLER);
            // ICAO 9303 recommends filler as the check digit of an empty personal number.
            let digit = if check.field == MrzField::PersonalNumber && empty {
                FILLER
            } else {
                u8::try_from(check.result(&grid).computed).unwrap_or(FILLER)
            };
            grid.set(check.at, digit);
        }
    }
    Ok(grid.lines())
}

fn fits(span: Span, value: &str, field: MrzField) -> Result<(), MrzError> {
    if value.len() > span.len {
        return Err(MrzError::FieldTooLong {
            field,
            max: span.len,
        });
    }
    Ok(())
}

fn mrz_text(value: &str, field: MrzField) -> Result<(), MrzError> {
    if value
        .bytes()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == FILLER)
    {
        Ok(())
    } else {
        Err(MrzError::InvalidField {
            field,
            reason: "only A-Z, 0-9 and < are allowed",
        })
    }
}

fn put_number_and_optional(
    grid: &mut Grid,
    layout: &Layout,
    input: &MrzInput,
) -> Result<(), MrzError> {
    let number = input.document_number.as_str();
    mrz_text(number, MrzField::DocumentNumber)?;
    if input.optional_data.len() > layout.optional.len() {
        return Err(MrzError::InvalidField {
            field: MrzField::OptionalData,
            reason: "more optional data fields than the layout has",
        });
    }
    let principal_len = layout.document_number.len;
    // Index of the optional field the number overflows into, and how much of it it takes.
    let mut overflow: Option<(usize, usize)> = None;
    if number.len() > principal_len {
        let (Some(i), Some((principal, continuation))) =
            (layout.overflow, number.split_at_checked(principal_len))
        else {
            return Err(MrzError::FieldTooLong {
                field: MrzField::DocumentNumber,
                max: principal_len,
            });
        };
        // The continuation ends at the first filler, so it cannot hold one.
        if continuation.contains('<') {
            return Err(MrzError::InvalidField {
                field: MrzField::DocumentNumber,
                reason: "filler past the ninth character",
            });
        }
        let span = layout
            .optional
            .get(i)
            .copied()
            .unwrap_or(layout.document_number);
        let data = input.optional_data.get(i).map_or("", String::as_str);
        // Continuation, check digit, then filler before any optional data.
        let used = continuation.len() + 1 + usize::from(!data.is_empty());
        if used + data.len() > span.len {
            return Err(MrzError::FieldTooLong {
                field: MrzField::DocumentNumber,
                max: principal_len
                    + span
                        .len
                        .saturating_sub(1 + data.len() + usize::from(!data.is_empty())),
            });
        }
        grid.put(layout.document_number, principal.as_bytes());
        grid.set(layout.document_number_check.first(), FILLER);
        // A placeholder check digit, so the layout sees where the number ends.
        grid.put(span, format!("{continuation}0").as_bytes());
        overflow = Some((i, used));
    } else {
        grid.put(layout.document_number, number.as_bytes());
        // A placeholder check digit: filler there would announce a long number.
        grid.set(layout.document_number_check.first(), b'0');
    }
    for (i, (&span, data)) in layout.optional.iter().zip(&input.optional_data).enumerate() {
        mrz_text(data, MrzField::OptionalData)?;
        let skip = overflow.filter(|o| o.0 == i).map_or(0, |o| o.1);
        let room = Span {
            start: span.start + skip,
            len: span.len.saturating_sub(skip),
            ..span
        };
        fits(room, data, MrzField::OptionalData)?;
        grid.put(room, data.as_bytes());
    }
    Ok(())
}

fn yymmdd(date: Date) -> String {
    format!(
        "{:02}{:02}{:02}",
        date.year() % 100,
        date.month(),
        date.day()
    )
}

/// The name field: primary identifier, `<<`, secondary identifier, cut to `width`.
fn names(surname: &str, given_names: &str, width: usize) -> Result<String, MrzError> {
    let primary = transliterate(surname)?;
    let secondary = transliterate(given_names)?;
    if secondary.is_empty() {
        return if primary.len() <= width {
            Ok(primary)
        } else {
            Err(MrzError::NameTooLong)
        };
    }
    // ICAO 9303 cuts secondary identifiers first; at least their initial must remain.
    let room = width
        .checked_sub(primary.len() + 2)
        .filter(|&r| r > 0)
        .ok_or(MrzError::NameTooLong)?;
    let secondary: String = secondary.chars().take(room).collect();
    Ok(format!("{primary}<<{secondary}"))
}

/// Latin-script name to MRZ characters, per the ICAO 9303 part 3 approach: decompose (NFKD)
/// and drop the combining marks, spell out the letters that do not decompose, separate words
/// with single filler.
fn transliterate(name: &str) -> Result<String, MrzError> {
    let mut out = String::new();
    for c in name.nfkd() {
        match c {
            'A'..='Z' | 'a'..='z' => out.push(c.to_ascii_uppercase()),
            '-' | '\u{2010}' | '\u{2011}' => out.push('<'),
            c if c.is_whitespace() => out.push('<'),
            '\'' | '\u{2018}' | '\u{2019}' | '\u{02bc}' | '.' | ',' => {}
            c if is_combining_mark(c) => {}
            c => out.push_str(spelled(c).ok_or(MrzError::InvalidField {
                field: MrzField::Names,
                reason: "a character has no transliteration to A-Z",
            })?),
        }
    }
    // Runs of filler would read as the `<<` separator, and edge filler as padding.
    let words: Vec<&str> = out.split('<').filter(|w| !w.is_empty()).collect();
    Ok(words.join("<"))
}

/// Latin letters that NFKD leaves alone (ICAO 9303 part 3, transliteration table).
fn spelled(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' | 'ẞ' => "SS",
        'Æ' | 'æ' => "AE",
        'Œ' | 'œ' | 'Ø' | 'ø' => "OE",
        'Đ' | 'đ' | 'Ð' | 'ð' => "D",
        'Ł' | 'ł' => "L",
        'Þ' | 'þ' => "TH",
        'ı' => "I",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrz::parse_mrz;
    use crate::mrz::tests::{date, today, TD1, TD2, TD3};

    fn anna(kind: DocumentKind) -> MrzInput {
        MrzInput {
            kind,
            document_code: if kind == DocumentKind::Td3 { "P" } else { "I" }.into(),
            issuer: "UTO".into(),
            document_number: if kind == DocumentKind::Td3 {
                "L898902C3"
            } else {
                "D23145890"
            }
            .into(),
            surname: "Eriksson".into(),
            given_names: "Anna María".into(),
            nationality: "UTO".into(),
            birth_date: date("1974-08-12"),
            sex: Sex::Female,
            expiry_date: date("2012-04-15"),
            optional_data: if kind == DocumentKind::Td3 {
                vec!["ZE184226B".into()]
            } else {
                vec![]
            },
        }
    }

    fn round_trip(input: &MrzInput) -> crate::mrz::Mrz {
        let lines = encode_mrz(input).unwrap();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mrz = parse_mrz(&refs, today()).unwrap();
        assert!(
            mrz.all_check_digits_valid(),
            "{lines:?}: {:?}",
            mrz.failed_check_digits()
        );
        assert!(mrz.field_errors.is_empty());
        mrz
    }

    #[test]
    fn icao_specimens_are_reproduced() {
        for (kind, lines) in [
            (DocumentKind::Td1, &TD1[..]),
            (DocumentKind::Td2, &TD2[..]),
            (DocumentKind::Td3, &TD3[..]),
        ] {
            assert_eq!(encode_mrz(&anna(kind)).unwrap(), lines);
        }
    }

    #[test]
    fn round_trips_with_diacritics() {
        let cases = [
            (
                "Müller-Lüdenscheidt",
                "Jürgen",
                "MULLER LUDENSCHEIDT",
                "JURGEN",
            ),
            ("O'Brien", "Seán Pádraig", "OBRIEN", "SEAN PADRAIG"),
            (
                "García Márquez",
                "José María",
                "GARCIA MARQUEZ",
                "JOSE MARIA",
            ),
            ("Strauß", "Øystein", "STRAUSS", "OEYSTEIN"),
        ];
        for kind in [DocumentKind::Td1, DocumentKind::Td2, DocumentKind::Td3] {
            for (surname, given, want_surname, want_given) in cases {
                let input = MrzInput {
                    surname: surname.into(),
                    given_names: given.into(),
                    ..anna(kind)
                };
                let mrz = round_trip(&input);
                assert_eq!(mrz.fields.surname.as_deref(), Some(want_surname));
                assert_eq!(mrz.fields.given_names.as_deref(), Some(want_given));
                assert_eq!(mrz.fields.birth_date, Some(input.birth_date));
                assert_eq!(mrz.fields.expiry_date, Some(input.expiry_date));
                assert_eq!(mrz.fields.sex, Some(Sex::Female));
                assert_eq!(
                    mrz.to_input().map(|i| encode_mrz(&i)),
                    Some(encode_mrz(&input))
                );
            }
        }
    }

    #[test]
    fn long_given_names_are_cut_and_flagged() {
        let input = MrzInput {
            surname: "Wolfeschlegelsteinhausen".into(),
            given_names: "Hubert Blaine Adolph Charles".into(),
            ..anna(DocumentKind::Td1)
        };
        let mrz = round_trip(&input);
        assert_eq!(mrz.lines[2], "WOLFESCHLEGELSTEINHAUSEN<<HUBE");
        assert_eq!(mrz.fields.given_names.as_deref(), Some("HUBE"));
        assert!(mrz.names_truncated);
        let fits = round_trip(&anna(DocumentKind::Td1));
        assert!(!fits.names_truncated);
    }

    #[test]
    fn names_that_cannot_be_written_are_errors() {
        let no_room = MrzInput {
            surname: "Wolfeschlegelsteinhausenbergerdorff".into(),
            ..anna(DocumentKind::Td1)
        };
        assert_eq!(encode_mrz(&no_room).unwrap_err(), MrzError::NameTooLong);
        assert_eq!(
            encode_mrz(&no_room).unwrap_err().code(),
            "mrz_name_too_long"
        );
        let alone = MrzInput {
            given_names: String::new(),
            ..no_room.clone()
        };
        assert_eq!(encode_mrz(&alone).unwrap_err().code(), "mrz_name_too_long");
        for bad in ["王", "Smith2", "Ann<"] {
            let input = MrzInput {
                surname: bad.into(),
                ..anna(DocumentKind::Td3)
            };
            assert_eq!(
                encode_mrz(&input).unwrap_err().code(),
                "mrz_invalid_field",
                "{bad}"
            );
        }
    }

    #[test]
    fn one_name_only_round_trips() {
        let input = MrzInput {
            given_names: String::new(),
            ..anna(DocumentKind::Td2)
        };
        let mrz = round_trip(&input);
        assert_eq!(mrz.fields.surname.as_deref(), Some("ERIKSSON"));
        assert_eq!(mrz.fields.given_names, None);
    }

    #[test]
    fn long_document_numbers_round_trip_in_td1_and_td2() {
        for (kind, number, data) in [
            (DocumentKind::Td1, "D23145890734", "AB"),
            (DocumentKind::Td2, "D23145890734", "AB"),
            (DocumentKind::Td1, "ABCDEFGHIJKLMNOPQRSTUVW", ""),
            (DocumentKind::Td2, "ABCDEFGHIJKLMNO", ""),
        ] {
            let input = MrzInput {
                document_number: number.into(),
                optional_data: vec![data.into()],
                ..anna(kind)
            };
            let mrz = round_trip(&input);
            assert_eq!(mrz.fields.document_number.as_deref(), Some(number));
            let want: &[&str] = if data.is_empty() { &[] } else { &[data] };
            assert_eq!(mrz.fields.optional_data, want, "{:?}", mrz.lines);
        }
        for (kind, number, data, max) in [
            (DocumentKind::Td1, "ABCDEFGHIJKLMNOPQRSTUVWX", "", 23),
            (DocumentKind::Td1, "ABCDEFGHIJKLMNOPQRSTUV", "AB", 20),
            (DocumentKind::Td2, "ABCDEFGHIJKLMNOP", "", 15),
            (DocumentKind::Td3, "D23145890734", "", 9),
        ] {
            let input = MrzInput {
                document_number: number.into(),
                optional_data: vec![data.into()],
                ..anna(kind)
            };
            let err = encode_mrz(&input).unwrap_err();
            assert_eq!(
                err,
                MrzError::FieldTooLong {
                    field: MrzField::DocumentNumber,
                    max
                }
            );
            assert_eq!(err.code(), "mrz_field_too_long");
        }
        let filler_inside = MrzInput {
            document_number: "D23145890<34".into(),
            ..anna(DocumentKind::Td1)
        };
        assert_eq!(
            encode_mrz(&filler_inside).unwrap_err().code(),
            "mrz_invalid_field"
        );
    }

    #[test]
    fn optional_data_round_trips() {
        let td1 = MrzInput {
            optional_data: vec!["A1".into(), "B<2".into()],
            ..anna(DocumentKind::Td1)
        };
        assert_eq!(round_trip(&td1).fields.optional_data, ["A1", "B<2"]);
        let empty_personal = MrzInput {
            optional_data: vec![],
            ..anna(DocumentKind::Td3)
        };
        let mrz = round_trip(&empty_personal);
        assert_eq!(mrz.lines[1].get(42..43), Some("<"));
        for (input, code) in [
            (
                MrzInput {
                    optional_data: vec!["A".into(), "B".into()],
                    ..anna(DocumentKind::Td3)
                },
                "mrz_invalid_field",
            ),
            (
                MrzInput {
                    optional_data: vec!["ABCDEFGHIJKLMNO".into()],
                    ..anna(DocumentKind::Td3)
                },
                "mrz_field_too_long",
            ),
            (
                MrzInput {
                    optional_data: vec!["ab".into()],
                    ..anna(DocumentKind::Td2)
                },
                "mrz_invalid_field",
            ),
        ] {
            assert_eq!(encode_mrz(&input).unwrap_err().code(), code);
        }
    }

    #[test]
    fn visas_have_no_composite() {
        for kind in [DocumentKind::Td2, DocumentKind::Td3] {
            let input = MrzInput {
                document_code: "V".into(),
                optional_data: vec!["12345678".into()],
                ..anna(kind)
            };
            let mrz = round_trip(&input);
            assert_eq!(mrz.failed_check_digits(), Vec::<&str>::new());
            assert_eq!(mrz.check_digits.len(), 3);
            assert_eq!(mrz.fields.optional_data, ["12345678"]);
        }
    }

    #[test]
    fn invalid_codes_and_kinds_are_errors() {
        let cases = [
            (
                MrzInput {
                    issuer: "UTOP".into(),
                    ..anna(DocumentKind::Td3)
                },
                "mrz_field_too_long",
            ),
            (
                MrzInput {
                    nationality: "u1o".into(),
                    ..anna(DocumentKind::Td3)
                },
                "mrz_invalid_field",
            ),
            (
                MrzInput {
                    document_code: "P1".into(),
                    ..anna(DocumentKind::Td3)
                },
                "mrz_invalid_field",
            ),
            (
                MrzInput {
                    document_number: "l898".into(),
                    ..anna(DocumentKind::Td3)
                },
                "mrz_invalid_field",
            ),
            (
                MrzInput {
                    kind: DocumentKind::Aamva,
                    ..anna(DocumentKind::Td3)
                },
                "mrz_unsupported_kind",
            ),
            (
                MrzInput {
                    kind: DocumentKind::Unknown,
                    ..anna(DocumentKind::Td3)
                },
                "mrz_unsupported_kind",
            ),
        ];
        for (input, code) in cases {
            assert_eq!(encode_mrz(&input).unwrap_err().code(), code, "{input:?}");
        }
    }

    #[test]
    fn transliteration() {
        let t = |s: &str| transliterate(s).unwrap();
        assert_eq!(t("Müller-Lüdenscheidt"), "MULLER<LUDENSCHEIDT");
        assert_eq!(t("O’Brien"), "OBRIEN");
        assert_eq!(t("  José   María  "), "JOSE<MARIA");
        assert_eq!(t("St. John - Smith"), "ST<JOHN<SMITH");
        assert_eq!(t("Łukasz Þór Ærøe"), "LUKASZ<THOR<AEROEE");
        assert_eq!(t("Ｆｕｌｌ"), "FULL");
        assert_eq!(t(""), "");
    }
}
