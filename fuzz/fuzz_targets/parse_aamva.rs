//! Any bytes through the AAMVA DL/ID parser: an error with a stable code or a checked
//! record, never a panic; and a record written back by the encoder reads as the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reclaim_document::aamva::{encode_aamva, parse_aamva, AamvaInput, AamvaRecord, MAX_PAYLOAD};

fuzz_target!(|data: &[u8]| {
    let record = match parse_aamva(data) {
        Ok(record) => record,
        Err(e) => {
            assert!(e.code().starts_with("aamva_"));
            return;
        }
    };
    assert!(data.len() <= MAX_PAYLOAD);
    assert!((1..=10).contains(&record.version));
    assert!(record.iin.len() == 6 && record.iin.bytes().all(|b| b.is_ascii_digit()));
    assert!(matches!(record.subfile_type.as_str(), "DL" | "ID"));
    assert_eq!(
        record.fields.document_code.as_deref(),
        Some(record.subfile_type.as_str())
    );
    // Required fields are there and not blank.
    for required in [&record.fields.document_number, &record.fields.surname] {
        assert!(required.as_deref().is_some_and(|v| !v.trim().is_empty()));
    }
    assert!(record.elements.contains_key("DBB"));
    for (id, value) in &record.elements {
        assert_eq!(id.len(), 3);
        assert!(value.bytes().all(|b| (b' '..=b'~').contains(&b)));
    }
    for error in &record.field_errors {
        assert!(record.elements.contains_key(&error.element));
    }

    match encode_aamva(&AamvaInput::from(&record)) {
        Ok(bytes) => {
            let again = parse_aamva(&bytes).expect("the encoder's output parses");
            // The encoder lays the payload out as the standard says: nothing to read past.
            assert!(again.tolerated.is_empty());
            assert_eq!(
                again,
                AamvaRecord {
                    tolerated: Vec::new(),
                    ..record
                }
            );
        }
        // Regrouping jurisdiction elements by their prefix can fill a subfile past the
        // element limit, or push a subfile past what 4-digit offsets can say.
        Err(e) => assert!(
            matches!(e.code(), "aamva_too_large" | "aamva_too_many_elements"),
            "a parsed record failed to encode: {e}"
        ),
    }
});
