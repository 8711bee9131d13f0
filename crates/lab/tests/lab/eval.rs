use crate::{data, json_of, lab};

/// The shipped threshold separates every genuine pair from every impostor pair of the
/// evaluation photos, photo to photo and simulated ID portrait to photo.
#[test]
fn the_evaluation_set_is_separated_at_the_shipped_threshold() {
    let out = lab(&["eval", data("faces").to_str().unwrap(), "--json"]);
    let json = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        serde_json::to_string_pretty(&json["summary"]).unwrap()
    );
    let threshold = json["threshold"].as_f64().unwrap();
    for kind in ["photo", "portrait"] {
        let s = &json["summary"][kind];
        assert!(s["genuine_pairs"].as_u64().unwrap() >= 8, "{kind}");
        assert!(s["impostor_pairs"].as_u64().unwrap() >= 40, "{kind}");
        assert!(s["lowest_genuine"].as_f64().unwrap() >= threshold, "{kind}");
        assert!(
            s["highest_impostor"].as_f64().unwrap() < threshold,
            "{kind}"
        );
        assert_eq!(s["false_matches"], 0);
        assert_eq!(s["false_non_matches"], 0);
    }
}
