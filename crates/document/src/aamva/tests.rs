use super::*;
use crate::date::Date;
use crate::fields::Sex;

/// A California licence, version 10, laid out as issued: header, two entries, the DL
/// subfile (41 + 296 bytes) and a jurisdiction subfile (29 bytes).
const CALIFORNIA: &[u8] = b"@\n\x1e\rANSI 636014100002DL00410296ZC03370029\
DLDCAC\nDCBNONE\nDCDNONE\nDBA08312030\nDCSMONTGOMERY-SMITH\nDACMARIA\nDADELENA JOSEFINA\n\
DBD08152022\nDBB08311986\nDBC2\nDAYBRO\nDAU065 IN\nDAG2570 24TH STREET\nDAISACRAMENTO\n\
DAJCA\nDAK958180000  \nDAQD1234567\nDCF08/15/2022612A3/BBFD/30\nDCGUSA\nDDEN\nDDFN\nDDGN\n\
DAW135\nDAZBRO\nDCK22227D12345670401\nDDB08292017\nDDK1\r\
ZCZCAGRN\nZCBCORR LENS\nZCCBLK\r";

/// An Ontario licence, version 09: dates are CCYYMMDD.
const ONTARIO: &[u8] = b"@\n\x1e\rANSI 636012090101DL00310220\
DLDCAG\nDCBNONE\nDCDNONE\nDBA20310412\nDCSTREMBLAY\nDDEN\nDACJEAN-FRANCOIS\nDDFN\nDADLUC\n\
DDGN\nDBD20260412\nDBB19820412\nDBC1\nDAYBLU\nDAU180 CM\nDAG100 QUEEN ST W\nDAITORONTO\n\
DAJON\nDAKM5H2N2  \nDAQT7654-32108-20412\nDCF1A2B3C4D5\nDCGCAN\r";

/// Header up to the entry count: IIN 636014, version 10, jurisdiction version 00. With
/// one entry the first subfile starts at 31.
const HEAD: &str = "@\n\x1e\rANSI 6360141000";
/// A minimal DL subfile of 41 bytes.
const BODY: &str = "DLDAQD1234567\nDCSDOE\nDACJOHN\nDBB01151990\r";

fn payload(entries: &str, rest: &str) -> Vec<u8> {
    format!("{HEAD}{entries}{rest}").into_bytes()
}

/// A one-subfile payload around `body`, with a correct entry.
fn with_body(body: &str) -> Vec<u8> {
    payload(&format!("01DL0031{:04}", body.len()), body)
}

fn date(s: &str) -> Option<Date> {
    Some(Date::parse_iso(s).expect("test dates are valid"))
}

fn code(result: Result<AamvaRecord, AamvaError>) -> &'static str {
    match result {
        Ok(record) => panic!("expected an error, parsed {record:?}"),
        Err(e) => e.code(),
    }
}

fn parse(bytes: &[u8]) -> AamvaRecord {
    parse_aamva(bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// What the fuzz target asserts: a parsed record re-encodes, and that re-parses to it.
fn assert_round_trip(record: &AamvaRecord) {
    match encode_aamva(&AamvaInput::from(record)) {
        // The encoder lays a payload out as the standard says: nothing is read past.
        Ok(bytes) => assert_eq!(
            parse(&bytes),
            AamvaRecord {
                tolerated: Vec::new(),
                ..record.clone()
            }
        ),
        // Regrouping `Z` elements by their prefix can fill a subfile past the limits.
        Err(e) => assert!(
            matches!(e.code(), "aamva_too_large" | "aamva_too_many_elements"),
            "{e}"
        ),
    }
}

#[test]
fn reads_a_california_licence() {
    let record = parse(CALIFORNIA);
    let f = &record.fields;
    assert_eq!(f.document_code.as_deref(), Some("DL"));
    assert_eq!(f.issuer.as_deref(), Some("CA"));
    assert_eq!(f.document_number.as_deref(), Some("D1234567"));
    assert_eq!(f.surname.as_deref(), Some("MONTGOMERY-SMITH"));
    assert_eq!(f.given_names.as_deref(), Some("MARIA ELENA JOSEFINA"));
    assert_eq!(f.nationality.as_deref(), Some("USA"));
    assert_eq!(f.birth_date, date("1986-08-31"));
    assert_eq!(f.expiry_date, date("2030-08-31"));
    assert_eq!(f.issue_date, date("2022-08-15"));
    assert_eq!(f.sex, Some(Sex::Female));
    assert!(f.optional_data.is_empty());
    assert_eq!(record.kind(), DocumentKind::Aamva);
    assert_eq!(record.iin, "636014");
    assert_eq!(record.version, 10);
    assert_eq!(record.jurisdiction_version, Some(0));
    assert_eq!(record.subfile_type, "DL");
    assert_eq!(record.elements.len(), 30);
    assert_eq!(record.elements["DAK"], "958180000  ");
    assert_eq!(record.elements["ZCB"], "CORR LENS");
    let not = Some(Truncation::NotTruncated);
    assert_eq!(
        record.truncated,
        NameTruncation {
            family: not,
            first: not,
            middle: not
        }
    );
    assert!(record.field_errors.is_empty());
    assert_eq!(jurisdiction_of_iin(&record.iin), Some(("CA", Country::Usa)));
    assert_round_trip(&record);
}

#[test]
fn reads_an_ontario_licence_with_ccyymmdd_dates() {
    let record = parse(ONTARIO);
    let f = &record.fields;
    assert_eq!(f.issuer.as_deref(), Some("ON"));
    assert_eq!(f.document_number.as_deref(), Some("T7654-32108-20412"));
    assert_eq!(f.surname.as_deref(), Some("TREMBLAY"));
    assert_eq!(f.given_names.as_deref(), Some("JEAN-FRANCOIS LUC"));
    assert_eq!(f.nationality.as_deref(), Some("CAN"));
    assert_eq!(f.birth_date, date("1982-04-12"));
    assert_eq!(f.expiry_date, date("2031-04-12"));
    assert_eq!(f.issue_date, date("2026-04-12"));
    assert_eq!(f.sex, Some(Sex::Male));
    assert_eq!((record.version, record.jurisdiction_version), (9, Some(1)));
    assert_eq!(jurisdiction_of_iin("636012"), Some(("ON", Country::Canada)));
    assert!(record.field_errors.is_empty());
    assert_round_trip(&record);
}

#[test]
fn reads_a_version_01_card_with_a_full_name() {
    // No jurisdiction version, the legacy file type, a DAA full name, CCYYMMDD dates and
    // M/F sex.
    let card = |name: &str| {
        let body = format!("DLDAQN1234567\nDAA{name}\nDBB19700101\nDBA20090101\nDBCM\nDAJNY\r");
        format!("@\n\x1e\rAAMVA6360010101DL0029{:04}{body}", body.len()).into_bytes()
    };
    for name in [
        "PUBLIC,JOHN,QUINCY",
        "PUBLIC JOHN  QUINCY",
        "public, john ,quincy",
    ] {
        let record = parse(&card(name));
        assert_eq!(record.version, 1);
        assert_eq!(record.jurisdiction_version, None);
        assert_eq!(record.fields.surname.as_deref(), Some("PUBLIC"), "{name}");
        assert_eq!(
            record.fields.given_names.as_deref(),
            Some("JOHN QUINCY"),
            "{name}"
        );
        assert_eq!(record.fields.birth_date, date("1970-01-01"));
        assert_eq!(record.fields.expiry_date, date("2009-01-01"));
        assert_eq!(record.fields.sex, Some(Sex::Male));
        assert_round_trip(&record);
    }
    let record = parse(&card("PUBLIC"));
    assert_eq!(record.fields.given_names, None);
}

#[test]
fn reads_a_version_01_header_that_has_a_jurisdiction_version() {
    let bytes = format!("@\n\x1e\rANSI 636014010001DL0031{:04}{BODY}", BODY.len());
    let record = parse(bytes.as_bytes());
    assert_eq!((record.version, record.jurisdiction_version), (1, Some(0)));
}

#[test]
fn reads_given_names_from_dct_and_family_name_from_dab() {
    for given in ["JOHN,QUINCY", "JOHN QUINCY", "JOHN, QUINCY "] {
        let record = parse(&with_body(&format!(
            "DLDAQ1\nDCSPUBLIC\nDCT{given}\nDBB01011970\r"
        )));
        assert_eq!(record.fields.given_names.as_deref(), Some("JOHN QUINCY"));
    }
    let record = parse(&with_body(
        "DLDAQ1\nDABPUBLIC\nDACJOHN\nDADNONE\nDBB01011970\r",
    ));
    assert_eq!(record.fields.surname.as_deref(), Some("PUBLIC"));
    assert_eq!(record.fields.given_names.as_deref(), Some("JOHN"));
    // The separate elements win over the full name.
    let record = parse(&with_body(
        "DLDAQ1\nDAAX,Y\nDCSPUBLIC\nDACJOHN\nDBB01011970\r",
    ));
    assert_eq!(record.fields.surname.as_deref(), Some("PUBLIC"));
    assert_eq!(record.fields.given_names.as_deref(), Some("JOHN"));
}

#[test]
fn encoder_output_parses_back() {
    let input = AamvaInput {
        iin: "636000".into(),
        version: 8,
        jurisdiction_version: Some(3),
        subfile_type: "ID".into(),
        elements: [
            ("DAQ", "A1"),
            ("ZVB", "x"),
            ("DCS", "ROE "),
            ("DBB", "12311999"),
            ("ZVA", ""),
            ("ZAA", "1"),
        ]
        .map(|(id, v)| (id.to_string(), v.to_string()))
        .to_vec(),
    };
    let bytes = encode_aamva(&input).expect("valid input");
    assert!(bytes.starts_with(b"@\n\x1e\rANSI 636000080303ID0051"));
    let record = parse(&bytes);
    assert_eq!(record.subfile_type, "ID");
    assert_eq!(record.elements.len(), 6);
    assert_eq!(record.elements["DCS"], "ROE ");
    assert_eq!(record.elements["ZVA"], "");
    assert_eq!(record.fields.surname.as_deref(), Some("ROE"));
    assert_eq!(record.fields.birth_date, date("1999-12-31"));
    assert_round_trip(&record);

    let without_jv = AamvaInput {
        version: 1,
        jurisdiction_version: None,
        ..input
    };
    let record = parse(&encode_aamva(&without_jv).expect("valid input"));
    assert_eq!((record.version, record.jurisdiction_version), (1, None));
}

#[test]
fn fields_round_trip_through_the_encoder() {
    for (issuer, country) in [("CA", Country::Usa), ("QC", Country::Canada)] {
        let fields = DocumentFields {
            document_code: Some("DL".into()),
            issuer: Some(issuer.into()),
            document_number: Some("X12345".into()),
            surname: Some("DE LA CRUZ".into()),
            given_names: Some("ANA MARIA LUISA".into()),
            nationality: Some(country.code().into()),
            birth_date: date("2000-02-29"),
            sex: Some(Sex::Unspecified),
            expiry_date: date("2031-12-01"),
            issue_date: date("2023-01-31"),
            optional_data: Vec::new(),
        };
        let input = AamvaInput::from_fields(&fields, country).expect("known issuer");
        let record = parse(&encode_aamva(&input).expect("valid input"));
        assert_eq!(record.fields, fields);
        assert_eq!(record.elements["DAD"], "MARIA LUISA");
        assert_eq!(record.truncated.middle, Some(Truncation::NotTruncated));
        assert_eq!(jurisdiction_of_iin(&record.iin), Some((issuer, country)));
    }
    let birth = |country| {
        let fields = DocumentFields {
            issuer: Some("NS".into()),
            birth_date: date("1990-01-15"),
            ..DocumentFields::default()
        };
        let input = AamvaInput::from_fields(&fields, country).map(|i| i.elements);
        input.map(|e| e.into_iter().find(|(id, _)| id == "DBB").map(|(_, v)| v))
    };
    assert_eq!(birth(Country::Canada), Ok(Some("19900115".into())));
    assert_eq!(birth(Country::Usa), Err(AamvaError::UnknownJurisdiction));
}

#[test]
fn tolerates_offsets_and_lengths_off_by_a_little() {
    let exact = parse(&with_body(BODY));
    for entry in [
        "01DL00320041",
        "01DL00300041",
        "01DL00310042",
        "01DL00310040",
    ] {
        assert_eq!(parse(&payload(entry, BODY)), exact, "{entry}");
    }
    // Both subfiles a byte off, as when an issuer counts from after the '@'.
    let shifted =
        String::from_utf8_lossy(CALIFORNIA).replace("DL00410296ZC03370029", "DL00400296ZC03360029");
    assert_eq!(parse(shifted.as_bytes()), parse(CALIFORNIA));
}

#[test]
fn tolerates_crlf_and_extra_separators() {
    let expected = parse(CALIFORNIA);
    let crlf = String::from_utf8_lossy(CALIFORNIA).replace('\r', "\r\n");
    assert_eq!(parse(crlf.as_bytes()), expected);

    let exact = parse(&with_body(BODY));
    // LF after the type, LF before the CR, and both: lengths stay right, so the subfile
    // grows and the entry says so.
    for body in [
        "DL\nDAQD1234567\nDCSDOE\nDACJOHN\nDBB01151990\r",
        "DLDAQD1234567\nDCSDOE\nDACJOHN\nDBB01151990\n\r",
        "DL\nDAQD1234567\nDCSDOE\nDACJOHN\nDBB01151990\n\r",
    ] {
        assert_eq!(parse(&with_body(body)), exact, "{body:?}");
    }
}

#[test]
fn reads_dates_in_either_layout_and_trims_padding() {
    let record = parse(&with_body(
        "DLDAQ 77 \nDCS  VAN  DER BERG \nDACjo\nDBB19900115\nDBA01152030\nDCGusa\r",
    ));
    let f = &record.fields;
    assert_eq!(f.document_number.as_deref(), Some("77"));
    assert_eq!(f.surname.as_deref(), Some("VAN DER BERG"));
    assert_eq!(f.given_names.as_deref(), Some("JO"));
    assert_eq!(f.nationality.as_deref(), Some("USA"));
    assert_eq!(f.birth_date, date("1990-01-15"));
    assert_eq!(f.expiry_date, date("2030-01-15"));
    assert_eq!(record.elements["DAQ"], " 77 ");
}

#[test]
fn refuses_what_is_not_an_aamva_payload() {
    assert_eq!(code(parse_aamva(b"")), "aamva_not_aamva");
    assert_eq!(code(parse_aamva(b"hello")), "aamva_not_aamva");
    assert_eq!(code(parse_aamva(b"\xff\xd8\xff\xe0")), "aamva_not_aamva");
    assert_eq!(code(parse_aamva(b"@")), "aamva_not_aamva");
    assert_eq!(
        code(parse_aamva(b"@\n\x1e\rANSX 636014")),
        "aamva_not_aamva"
    );
    assert_eq!(code(parse_aamva(b" @\n\x1e\rANSI ")), "aamva_not_aamva");
}

#[test]
fn refuses_malformed_headers() {
    let cases: &[&[u8]] = &[
        b"@\r\x1e\nANSI 636014100001DL00310041",
        b"@\n\x1e\rANSI 63601A100001DL00310041",
        b"@\n\x1e\rANSI 6360141O0001DL00310041",
        b"@\n\x1e\rANSI 636014",
        b"@\n\x1e\rANSI 63601410",
        b"@\n\x1e\rANSI 6360141000",
        b"@\n\x1e\rANSI 6360141000X1DL00310041",
        b"@\n\x1e\rANSI 636014100000",
        b"@\n\x1e\rANSI 636014100003DL00310041",
        b"@\n\x1e\rANSI 636014100001DL0031",
        b"@\n\x1e\rANSI 636014100001DL00X10041",
        b"@\n\x1e\rANSI 636014100001DL0031004 ",
        b"@\n\x1e\rANSI 636014100001dl00310041",
        b"@\n\x1e\rANSI 636014100001D100310041",
        b"@\n\x1e\rANSI 636014100001DL00310002DL\r",
    ];
    for case in cases {
        let mut bytes = case.to_vec();
        bytes.extend_from_slice(BODY.as_bytes());
        assert_eq!(code(parse_aamva(&bytes)), "aamva_bad_header", "{case:?}");
    }
}

#[test]
fn refuses_unsupported_versions() {
    for version in ["00", "11", "99"] {
        let bytes = format!("@\n\x1e\rANSI 636014{version}0001DL00310041{BODY}");
        assert_eq!(
            code(parse_aamva(bytes.as_bytes())),
            "aamva_unsupported_version"
        );
    }
}

#[test]
fn entries_that_lie_about_where_their_subfile_is_are_read_past_and_said() {
    let exact = parse(&with_body(BODY));
    for entry in [
        "01DL99999999",
        "01DL00319999",
        "01DL00310044",
        "01DL09990041",
        "01DL00000041",
        "01DL00280041",
    ] {
        let record = parse(&payload(entry, BODY));
        assert_eq!(
            record.tolerated,
            vec![Tolerated::SubfileNotAsDeclared {
                subfile: "DL".into()
            }],
            "{entry}"
        );
        assert_eq!(
            AamvaRecord {
                tolerated: Vec::new(),
                ..record
            },
            exact,
            "{entry}"
        );
    }
    // A subfile the data does not hold is still refused, with the first refusal: a skipped
    // subfile type is held to the payload's bounds.
    assert_eq!(
        code(parse_aamva(&payload("02DL00410041EN00829000", BODY))),
        "aamva_entry_out_of_bounds"
    );
}

#[test]
fn refuses_duplicated_and_overlapping_subfiles() {
    let twice = format!("{BODY}{BODY}");
    for entries in ["02DL00410041DL00820041", "02DL00410041ID00820041"] {
        assert_eq!(
            code(parse_aamva(&payload(entries, &twice))),
            "aamva_duplicate_subfile"
        );
    }
    // A ZC entry pointing into the DL subfile, at bytes that happen to spell a ZC subfile.
    let body = "DLDAQD1234567\nDCSDOE\nDBB01151990\nDCFZCZCA1\r";
    let bytes = payload(&format!("02DL0041{:04}ZC00770007", body.len()), body);
    assert_eq!(code(parse_aamva(&bytes)), "aamva_overlapping_subfiles");
}

#[test]
fn refuses_a_subfile_that_is_nowhere_at_a_segments_start() {
    // No DL at all.
    let elsewhere = BODY.replacen("DL", "XX", 1);
    assert_eq!(
        code(parse_aamva(&payload("01DL00310041", &elsewhere))),
        "aamva_subfile_not_found"
    );
    // Bytes between the header and the subfile, too many for the declared offset's
    // slack: found in the data, it does not start a segment.
    assert_eq!(
        code(parse_aamva(&payload(
            "01DL00310041",
            &format!("ABCDE{BODY}")
        ))),
        "aamva_subfile_not_found"
    );
    // Declared at 33, with a DL at 31 and another at 34: the one right after the header
    // is the subfile (a DL inside an element is not at a segment's start).
    let body = "DLDDLAB\nDAQ1\nDCSDOE\nDBB01151990\r";
    let record = parse(&payload("01DL00330029", body));
    assert_eq!(record.elements.get("DDL").map(String::as_str), Some("AB"));
}

#[test]
fn refuses_a_payload_without_a_dl_subfile() {
    let z = "ZCZCAX\r";
    assert_eq!(
        code(parse_aamva(&payload("01ZC00310007", z))),
        "aamva_no_dl_subfile"
    );
    assert_eq!(
        code(parse_aamva(&payload("01EN00310007", z))),
        "aamva_no_dl_subfile"
    );
}

#[test]
fn skips_subfiles_of_unknown_types() {
    let bytes = payload("02DL00410041EN00820007", &format!("{BODY}ENENAX\r"));
    assert_eq!(parse(&bytes), parse(&with_body(BODY)));
}

#[test]
fn refuses_a_subfile_without_its_terminator() {
    // The last subfile unterminated: it may be a payload cut short.
    let unterminated = BODY.trim_end_matches('\r');
    assert_eq!(
        code(parse_aamva(&payload("01DL00310041", unterminated))),
        "aamva_bad_terminator"
    );
    let lf = BODY.replace('\r', "\n");
    assert_eq!(
        code(parse_aamva(&payload("01DL00310041", &lf))),
        "aamva_bad_terminator"
    );
    // A CR ten bytes before the declared end, then more: bytes no subfile accounts for.
    let padded = format!("{BODY}0123456789");
    assert_eq!(
        code(parse_aamva(&payload("01DL00310051", &padded))),
        "aamva_bad_terminator"
    );
    // Where every CR became LF, a payload that does not end with one may be cut short;
    // refused with the first refusal (its prefix is not the standard's).
    let cut = String::from_utf8_lossy(CALIFORNIA).replace('\r', "\n");
    let cut = cut.trim_end_matches('\n');
    assert_eq!(code(parse_aamva(cut.as_bytes())), "aamva_bad_header");
}

#[test]
fn reads_real_cards_layouts_by_finding_the_subfiles() {
    let california = parse(CALIFORNIA);
    assert!(california.tolerated.is_empty());
    let standard = |record: AamvaRecord| AamvaRecord {
        tolerated: Vec::new(),
        ..record
    };
    let text = String::from_utf8_lossy(CALIFORNIA);
    // Every CR turned into LF (and so the header's prefix): the subfiles end where the
    // next begins and with the payload.
    let lf = parse(text.replace('\r', "\n").as_bytes());
    assert_eq!(lf.tolerated, vec![Tolerated::CrWrittenAsLf]);
    assert_eq!(standard(lf), california.clone());
    // ...also where the issuer put an LF before each CR, which then doubles it.
    let doubled = parse(
        text.replace('\r', "\n\n")
            .replacen("\n\n", "\n", 1)
            .as_bytes(),
    );
    assert_eq!(doubled.tolerated, vec![Tolerated::CrWrittenAsLf]);
    assert_eq!(standard(doubled), california);
    // Offsets and lengths far from the data, as on real cards.
    let wrong = parse(
        text.replace("DL00410296ZC03370029", "DL00410392ZC04330047")
            .as_bytes(),
    );
    let moved = |subfile: &str| Tolerated::SubfileNotAsDeclared {
        subfile: subfile.into(),
    };
    assert_eq!(wrong.tolerated, vec![moved("DL"), moved("ZC")]);
    assert_eq!(standard(wrong), california);
    // The DL subfile runs on into the next one without its CR.
    let run_on = format!("{}\nZCZCAX\r", BODY.trim_end_matches('\r'));
    let record = parse(&payload("02DL00410040ZC00810007", &run_on));
    assert_eq!(
        record.tolerated,
        vec![Tolerated::SubfileNotTerminated {
            subfile: "DL".into()
        }]
    );
    assert_eq!(record.elements.get("ZCA").map(String::as_str), Some("X"));
    assert_eq!(record.fields.surname.as_deref(), Some("DOE"));
    // Every separator lost (as in test strings whose control characters were dropped):
    // the elements run together, and no reading is safe.
    let run_together: Vec<u8> = CALIFORNIA
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\n' | b'\r' | 0x1e))
        .collect();
    assert!(parse_aamva(&run_together).is_err());
    // The same checks hold whatever the layout: two family names are refused.
    let twice = format!("{}\nDCSROE\n", BODY.trim_end_matches('\r'));
    let lf_payload = payload("01DL00319999", &twice)
        .iter()
        .map(|&b| if b == b'\r' { b'\n' } else { b })
        .collect::<Vec<u8>>();
    assert_eq!(code(parse_aamva(&lf_payload)), "aamva_duplicate_element");
}

#[test]
fn refuses_malformed_elements() {
    for body in [
        "DLDAQD1234567\nDA\nDCSDOE\nDBB01151990\r",
        "DLDAQD1234567\n\nDCSDOE\nDBB01151990\r",
        "DLDAQD1234567\nDC\r",
        "DLdaqD1234567\nDCSDOE\nDBB01151990\r",
        "DL1AQD1234567\nDCSDOE\nDBB01151990\r",
        "DLDA-D1234567\nDCSDOE\nDBB01151990\r",
        "DLDAQD1234567\nDCSDO\x1eE\nDBB01151990\r",
        "DLDAQD1234567\nDCSDO\tE\nDBB01151990\r",
        "DLDAQD1234567\nDCSDOE\nDBB01151990\x7f\r",
        "DL\n\nDAQD1234567\nDCSDOE\nDBB01151990\r",
    ] {
        assert_eq!(
            code(parse_aamva(&with_body(body))),
            "aamva_bad_element",
            "{body:?}"
        );
    }
    // A jurisdiction subfile may not supply a standard element.
    let bytes = payload("02DL00410041ZC00820009", &format!("{BODY}ZCDCSROE\r"));
    assert_eq!(code(parse_aamva(&bytes)), "aamva_bad_element");
    let err = parse_aamva(&with_body("DLDAQD1234567\nDA\nDCSDOE\r")).unwrap_err();
    assert_eq!(
        err,
        AamvaError::BadElement {
            subfile: "DL".into(),
            at: 45,
            reason: "shorter than its 3-letter ID"
        }
    );
}

#[test]
fn refuses_duplicate_elements() {
    // Even with equal values: a second copy has no business in a payload.
    for body in [
        "DLDAQD1234567\nDCSDOE\nDCSROE\nDBB01151990\r",
        "DLDAQD1234567\nDCSDOE\nDBB01151990\nDCSDOE\r",
    ] {
        assert_eq!(
            parse_aamva(&with_body(body)),
            Err(AamvaError::DuplicateElement("DCS".into()))
        );
    }
    let bytes = payload(
        "02DL00410038ZC00790007",
        "DLDAQD1234567\nDCSDOE\nZCA1\nDBB01151990\rZCZCA2\r",
    );
    assert_eq!(code(parse_aamva(&bytes)), "aamva_duplicate_element");
}

#[test]
fn refuses_non_ascii_bytes() {
    let mut bytes = with_body("DLDAQD1234567\nDCSDO\u{c9}\nDBB01151990\r");
    assert_eq!(
        parse_aamva(&bytes),
        Err(AamvaError::NonAscii { offset: 50 })
    );
    bytes = with_body(BODY);
    bytes.push(0x80);
    assert_eq!(code(parse_aamva(&bytes)), "aamva_non_ascii");
}

#[test]
fn invalid_fields_are_field_errors() {
    let record = parse(&with_body(
        "DLDAQ1\nDCSDOE\nDBB13452020\nDBA02302020\nDBD2020\nDBC7\nDDEX\nDDFN\r",
    ));
    let errors: Vec<_> = record
        .field_errors
        .iter()
        .map(|e| (e.element.as_str(), e.code()))
        .collect();
    assert_eq!(
        errors,
        [
            ("DBB", "aamva_bad_date"),
            ("DBC", "aamva_bad_sex"),
            ("DBA", "aamva_bad_date"),
            ("DBD", "aamva_bad_date"),
            ("DDE", "aamva_bad_truncation_flag"),
        ]
    );
    let f = &record.fields;
    assert_eq!(
        (f.birth_date, f.expiry_date, f.issue_date, f.sex),
        (None, None, None, None)
    );
    assert_eq!(record.truncated.family, None);
    assert_eq!(record.truncated.first, Some(Truncation::NotTruncated));

    for (value, expected) in [
        ("02292020", date("2020-02-29")),
        ("02292021", None),
        ("20200229", date("2020-02-29")),
        ("12311899", None),
        ("01012100", None),
        ("0101199O", None),
        ("1990011", None),
        ("+1011990", None),
        ("00000000", None),
    ] {
        let record = parse(&with_body(&format!("DLDAQ1\nDCSDOE\nDBB{value}\r")));
        assert_eq!(record.fields.birth_date, expected, "{value}");
    }
    for (value, expected) in [
        ("1", Sex::Male),
        ("F", Sex::Female),
        ("9", Sex::Unspecified),
    ] {
        let record = parse(&with_body(&format!(
            "DLDAQ1\nDCSDOE\nDBB01011990\nDBC{value}\r"
        )));
        assert_eq!(record.fields.sex, Some(expected));
    }
}

#[test]
fn refuses_a_payload_missing_a_required_field() {
    for body in [
        "DLDCSDOE\nDBB01151990\r",
        "DLDAQ   \nDCSDOE\nDBB01151990\r",
        "DLDAQD1234567\nDACJOHN\nDBB01151990\r",
        "DLDAQD1234567\nDCS \nDAA,JOHN\nDBB01151990\r",
        "DLDAQD1234567\nDCSDOE\r",
        "DLDAQD1234567\nDCSDOE\nDBB\r",
        "DL\r",
    ] {
        assert_eq!(
            code(parse_aamva(&with_body(body))),
            "aamva_missing_field",
            "{body:?}"
        );
    }
}

#[test]
fn refuses_oversized_and_overfull_payloads() {
    let mut big = with_body(BODY);
    big.resize(MAX_PAYLOAD + 1, b'A');
    assert_eq!(code(parse_aamva(&big)), "aamva_too_large");
    big.truncate(MAX_PAYLOAD);
    assert!(parse_aamva(&big).is_ok(), "trailing bytes are not read");

    // 99 entries, the most the count can say, followed by thousands more.
    let mut entries = String::from("99");
    for _ in 0..5000 {
        entries.push_str("DL00310041");
    }
    assert_eq!(
        code(parse_aamva(&payload(&entries, BODY))),
        "aamva_duplicate_subfile"
    );
    let mut entries = String::from("99");
    for i in 0..5000 {
        entries.push_str(&format!(
            "Z{}{:04}0041",
            char::from(b'A' + (i % 26) as u8),
            i
        ));
    }
    assert!(parse_aamva(&payload(&entries, BODY)).is_err());

    // Thousands of elements in one subfile, and exactly the most allowed.
    let mut body = String::from("DLDAQ1\nDCSDOE\nDBB01151990");
    for _ in 0..1500 {
        body.push_str("\nZZZ");
    }
    body.push('\r');
    assert_eq!(
        parse_aamva(&with_body(&body)),
        Err(AamvaError::TooManyElements("DL".into()))
    );
    let mut body = String::from("DLDAQ1\nDCSDOE\nDBB01151990");
    for i in 0..(MAX_ELEMENTS - 3) {
        body.push_str(&format!("\nZ{}{}", (i / 10) % 10, i % 10));
    }
    body.push('\r');
    let record = parse(&with_body(&body));
    assert_eq!(record.elements.len(), MAX_ELEMENTS);
    assert_round_trip(&record);
}

#[test]
fn encoder_refuses_what_the_parser_would() {
    let good = AamvaInput {
        iin: "636014".into(),
        version: 10,
        jurisdiction_version: Some(0),
        subfile_type: "DL".into(),
        elements: vec![("DAQ".into(), "1".into())],
    };
    let with = |f: &dyn Fn(&mut AamvaInput)| {
        let mut input = good.clone();
        f(&mut input);
        encode_aamva(&input).map_err(|e| e.code())
    };
    let element = |id: &str, value: &str| (id.to_string(), value.to_string());
    assert!(with(&|_| {}).is_ok());
    assert_eq!(with(&|i| i.iin = "63601".into()), Err("aamva_bad_header"));
    assert_eq!(with(&|i| i.iin = "63601X".into()), Err("aamva_bad_header"));
    assert_eq!(with(&|i| i.version = 0), Err("aamva_unsupported_version"));
    assert_eq!(with(&|i| i.version = 11), Err("aamva_unsupported_version"));
    assert_eq!(
        with(&|i| i.jurisdiction_version = Some(100)),
        Err("aamva_bad_header")
    );
    assert_eq!(
        with(&|i| i.subfile_type = "ZC".into()),
        Err("aamva_bad_header")
    );
    assert_eq!(
        with(&|i| i.elements.push(element("daq", "1"))),
        Err("aamva_bad_element")
    );
    assert_eq!(
        with(&|i| i.elements.push(element("DA", "1"))),
        Err("aamva_bad_element")
    );
    assert_eq!(
        with(&|i| i.elements.push(element("DCS", "A\nB"))),
        Err("aamva_bad_element")
    );
    assert_eq!(
        with(&|i| i.elements.push(element("DCS", "\u{c9}"))),
        Err("aamva_non_ascii")
    );
    assert_eq!(
        with(&|i| i.elements.push(element("DAQ", "2"))),
        Err("aamva_duplicate_element")
    );
    assert_eq!(
        with(&|i| i.elements.push(element("DCS", &"A".repeat(10_000)))),
        Err("aamva_too_large")
    );
    assert_eq!(
        with(&|i| i
            .elements
            .extend((0..MAX_ELEMENTS).map(|n| element(&format!("ZC{}", n % 10), "")))),
        Err("aamva_duplicate_element")
    );
    assert_eq!(
        with(&|i| i
            .elements
            .extend((0..MAX_ELEMENTS).map(|n| element(&format!("D{:02}", n), "")))),
        Err("aamva_too_many_elements")
    );
    let unknown = |issuer: Option<&str>| {
        let fields = DocumentFields {
            issuer: issuer.map(str::to_string),
            ..DocumentFields::default()
        };
        AamvaInput::from_fields(&fields, Country::Usa).map_err(|e| e.code())
    };
    assert_eq!(unknown(None), Err("aamva_unknown_jurisdiction"));
    assert_eq!(unknown(Some("XX")), Err("aamva_unknown_jurisdiction"));
    assert_eq!(unknown(Some("ON")), Err("aamva_unknown_jurisdiction"));
}

/// A deterministic stand-in for the fuzz target: every truncation and many one-byte
/// changes of real payloads, none of which may panic, and all of which that parse must
/// round-trip.
#[test]
fn mangled_payloads_never_panic() {
    let interesting = [0u8, b'\n', b'\r', 0x1e, b'0', b'9', b'A', b'Z', b'@', 0x80];
    for original in [CALIFORNIA, ONTARIO] {
        for end in 0..original.len() {
            if let Ok(record) = parse_aamva(original.get(..end).unwrap_or_default()) {
                assert_round_trip(&record);
            }
        }
        for i in 0..original.len() {
            for &byte in &interesting {
                let mut bytes = original.to_vec();
                if let Some(b) = bytes.get_mut(i) {
                    *b = byte;
                }
                if let Ok(record) = parse_aamva(&bytes) {
                    assert_round_trip(&record);
                }
            }
        }
    }
}

#[test]
fn codes_are_stable_and_distinct() {
    let errors = [
        AamvaError::TooLarge { len: 0 },
        AamvaError::NotAamva(""),
        AamvaError::NonAscii { offset: 0 },
        AamvaError::BadHeader(""),
        AamvaError::UnsupportedVersion(0),
        AamvaError::EntryOutOfBounds { index: 0 },
        AamvaError::DuplicateSubfile(String::new()),
        AamvaError::OverlappingSubfiles(String::new(), String::new()),
        AamvaError::SubfileNotFound(String::new()),
        AamvaError::BadTerminator(String::new()),
        AamvaError::NoDlSubfile,
        AamvaError::BadElement {
            subfile: String::new(),
            at: 0,
            reason: "",
        },
        AamvaError::DuplicateElement(String::new()),
        AamvaError::TooManyElements(String::new()),
        AamvaError::MissingField(""),
        AamvaError::UnknownJurisdiction,
    ];
    let codes: BTreeSet<_> = errors.iter().map(AamvaError::code).collect();
    assert_eq!(codes.len(), errors.len());
    assert!(codes.iter().all(|c| c.starts_with("aamva_")));
    assert_eq!(errors[6].code(), "aamva_duplicate_subfile");
}

#[test]
fn records_serialize_without_surprises() {
    let record = parse(&with_body("DLDAQ1\nDCSDOE\nDBB01151990\nDBC7\r"));
    let json = serde_json::to_value(&record).expect("serializable");
    assert_eq!(json["fields"]["birth_date"], "1990-01-15");
    assert_eq!(json["field_errors"][0]["kind"], "bad_sex");
    assert_eq!(json["truncated"]["family"], serde_json::Value::Null);
    assert_eq!(json["elements"]["DBC"], "7");
}
