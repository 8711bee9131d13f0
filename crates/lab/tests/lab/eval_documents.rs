//! `reclaim-lab eval-documents`.

use crate::{json_of, lab};

/// The corrector on the real specimens' MRZ text (the repository's manifest): a
/// check-digit-protected character misread with nothing else offered must never come
/// back as another valid reading. Before look-alike swaps were reported as guesses, 5.8%
/// did (a swap elsewhere in the number satisfied the check digit by chance); the printed
/// character offered second is restored almost always.
#[test]
fn the_corrector_does_not_turn_a_misread_into_another_valid_reading() {
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/real/documents.json"
    );
    let out = lab(&["eval-documents", "--corrector", manifest, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json_of(&out);
    assert!(report["zones"].as_u64().unwrap() >= 50, "{report}");
    let row = |i: usize| &report["rows"][i];
    let share = |i: usize, what: &str| {
        row(i)[what].as_f64().unwrap() / row(i)["changes"].as_f64().unwrap().max(1.0)
    };
    assert!(row(0)["changes"].as_u64().unwrap() > 10_000, "{report}");
    assert!(share(0, "other_valid") < 0.001, "{report}");
    assert!(share(1, "restored") > 0.95, "{report}");
    assert!(share(1, "other_valid") < 0.001, "{report}");
}
