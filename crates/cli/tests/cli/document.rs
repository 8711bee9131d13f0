//! `reclaim document`: what it says of a photo with no document, and bad input. (Its
//! judgement of rendered passports and cards is checked by reclaim-lab's tests, which link
//! the renderers.)

use crate::{face, json_of, reclaim, Scratch};

#[test]
fn nothing_readable_exits_1_and_bad_input_exits_2() {
    let out = reclaim(&["document", face("obama-1").to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["kind"], "unknown");

    let dir = Scratch::new("doc-input");
    let text = dir.file("id.jpg", b"not a photo of an ID");
    let out = reclaim(&["document", text.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["error"]["code"], "image_unsupported_format");

    let out = reclaim(&[
        "document",
        face("obama-1").to_str().unwrap(),
        "--today",
        "2026-02-30",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
