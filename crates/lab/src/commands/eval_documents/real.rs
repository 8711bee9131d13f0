//! `reclaim-lab eval-documents --real DIR`: the document reader on real material that nobody
//! on the project made, as `scripts/real-material DIR` fetches it (tests/data/real):
//!
//! - `documents`: specimen passports and ID cards with a machine-readable zone, and photos
//!   with none, read by [`DocumentReader::read`] as a photo of a document's front;
//! - `aamva`: AAMVA DL/ID payloads from other parsers' test code, parsed by
//!   [`parse_aamva`];
//! - `barcodes`: ZXing's QR and PDF417 test images, decoded by the readers the product
//!   uses ([`read_qr_codes`], [`read_pdf417`]), beside zxing-cpp's decode of the same
//!   image (the manifest's reference, run once by whoever collected the set).
//!
//! Each item ends in one of four outcomes: **right** (everything expected read as it is
//! printed or encoded), **flagged** (a reason about the reading was given: nothing found,
//! unreadable, a check digit, a refused payload), **wrong** (something was read that is
//! not what is there, and nothing about the reading was flagged: a silent misread, the
//! number that matters most), or, for a photo without a document, **none** (nothing read,
//! which is right there). Reasons that are not about the reading (an expired specimen, no
//! portrait) do not count as flags: a misread flagged only as expired was not caught.
//!
//! Nothing is tuned here: this is a report, run by hand (the material may not be
//! committed, so CI has none of it).

use reclaim_protocol::Code;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use reclaim_document::aamva::parse_aamva;
use reclaim_document::visual_zone::{PrintedComparison, PrintedField};
use reclaim_document::Date;
use reclaim_verify::document::barcode::{read_pdf417, read_qr_codes, BarcodeImage};
use reclaim_verify::document::{DocumentReader, DocumentReason};
use reclaim_verify::{load_image_file, FaceEngine, ImageLimits};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::output::{fail, print_json, say, Exit};

/// What one item came to (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Right,
    Flagged,
    Wrong,
    None,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Right => "right",
            Verdict::Flagged => "flagged",
            Verdict::Wrong => "wrong",
            Verdict::None => "none",
        }
    }
}

/// One item's line in the report.
#[derive(Debug, Clone, Serialize)]
struct Item {
    kind: &'static str,
    /// The manifest's `id`.
    id: String,
    /// What the item is, in a few words: the document, the payload's material, the
    /// symbology.
    what: String,
    result: Verdict,
    /// The reasons given, or what was read wrong.
    detail: String,
    /// The reference decoder's outcome, for barcodes: `Some(true)` when it decoded the
    /// expected payload.
    reference: Option<bool>,
    /// For a document with an MRZ: whether the MRZ was read as printed, whatever was
    /// flagged (a reading right but refused for the printed page counts here).
    mrz_read_right: Option<bool>,
    ms: f64,
}

/// The fields of a manifest this evaluation reads; the rest (sources, licences,
/// provenance) is for people, in tests/data/real.
#[derive(Deserialize)]
pub(super) struct Manifest<E> {
    pub(super) entries: Vec<E>,
    /// Entries no registry package ships, fetched from GitHub by `scripts/real-material
    /// --github`: read when their files are there.
    #[serde(default = "Option::default")]
    pub(super) github_only: Option<GithubOnly<E>>,
}

#[derive(Deserialize)]
pub(super) struct GithubOnly<E> {
    pub(super) entries: Vec<E>,
}

#[derive(Deserialize)]
pub(super) struct DocumentEntry {
    id: String,
    local_path: String,
    document: String,
    has_mrz: bool,
    /// `null` for a photo without an MRZ.
    #[serde(default)]
    pub(super) expected_mrz: Option<Vec<String>>,
    /// Whether every check digit verifies as printed (some specimens' do not).
    #[serde(default)]
    pub(super) all_check_digits_ok: Option<bool>,
}

#[derive(Deserialize)]
struct AamvaEntry {
    id: String,
    material: String,
    payload: AamvaPayload,
    expected: AamvaExpected,
}

#[derive(Deserialize)]
struct AamvaPayload {
    local_path: String,
}

#[derive(Deserialize)]
struct AamvaExpected {
    /// Element ID to its value as it stands in the payload (trailing padding aside).
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct BarcodeEntry {
    id: String,
    symbology: String,
    local_path: String,
    expected_payload: ExpectedPayload,
    zxing_cpp_3_1_1: Option<Reference>,
}

#[derive(Deserialize)]
struct ExpectedPayload {
    sha256: String,
    /// The payload as text, where it is UTF-8.
    text: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    /// The bytes inside the symbol before any charset conversion (a symbol in
    /// ISO-8859-1 or Shift_JIS carries other bytes than the UTF-8 text expected).
    symbol_raw_bytes_sha256: Option<String>,
    /// `true`, `false`, `null` (nothing decoded), or `"only_if_CRLF_normalised"` (the same
    /// text but for line ends, which ZXing's own expected files lost in places).
    #[serde(default)]
    equals_expected: serde_json::Value,
}

impl Reference {
    fn right(&self) -> bool {
        self.equals_expected == serde_json::Value::Bool(true)
            || self.equals_expected.as_str() == Some("only_if_CRLF_normalised")
    }
}

/// Whether `decoded` is the expected payload: the same bytes; the bytes inside the symbol
/// where the reference read them and they are the expected text in another charset (our
/// readers give the symbol's bytes, not text); or the same text but for line ends (CR LF
/// against LF), as the reference is judged.
fn is_expected(decoded: &[u8], expected: &ExpectedPayload, reference: Option<&Reference>) -> bool {
    let digest = hex::encode(Sha256::digest(decoded));
    let raw = reference
        .filter(|r| r.right())
        .and_then(|r| r.symbol_raw_bytes_sha256.as_deref());
    let same = |digest: &str| {
        digest.eq_ignore_ascii_case(&expected.sha256)
            || raw.is_some_and(|r| r.eq_ignore_ascii_case(digest))
    };
    if same(&digest) || latin1(decoded).is_some_and(|b| same(&hex::encode(Sha256::digest(b)))) {
        return true;
    }
    let lf = |t: &str| t.replace("\r\n", "\n");
    match (std::str::from_utf8(decoded), &expected.text) {
        (Ok(d), Some(t)) => lf(d) == lf(t),
        _ => false,
    }
}

/// Reads whichever of the three sets `dir` holds, prints every item and the totals, and
/// exits 0 only when nothing was read wrong without a flag.
pub fn run(
    dir: &Path,
    json: bool,
    faces: &FaceEngine,
    reader: &DocumentReader,
    today: Date,
) -> Exit {
    let mut items = Vec::new();
    let mut found = 0;
    for kind in ["documents", "aamva", "barcodes"] {
        let path = dir.join(kind).join("manifest.json");
        if !path.is_file() {
            continue;
        }
        found += 1;
        let done = match kind {
            "documents" => documents(dir, &path, faces, reader, today),
            "aamva" => aamva(dir, &path),
            _ => barcodes(dir, &path),
        };
        match done {
            Ok(mut more) => items.append(&mut more),
            Err(e) => return fail(json, Code::InputUnreadable, &e),
        }
    }
    if found == 0 {
        return fail(
            json,
            Code::InputInvalid,
            &format!(
                "{}: no documents/, aamva/ or barcodes/ manifest (scripts/real-material DIR fetches them)",
                dir.display()
            ),
        );
    }
    let totals = totals(&items);
    if json {
        print_json(&serde_json::json!({ "items": items, "totals": totals }));
    } else {
        print_items(&items);
        print_totals(&totals);
    }
    if items.iter().any(|i| i.result == Verdict::Wrong) {
        Exit::No
    } else {
        Exit::Yes
    }
}

pub(super) fn read_manifest<E: for<'de> Deserialize<'de>>(
    path: &Path,
) -> Result<Manifest<E>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The reasons that are about the reading itself.
fn about_the_reading(r: DocumentReason) -> bool {
    matches!(
        r,
        DocumentReason::DocumentNotFound
            | DocumentReason::MrzUnreadable
            | DocumentReason::MrzCheckDigitFailed
            | DocumentReason::MrzFieldInvalid
            | DocumentReason::MrzUncertain
            | DocumentReason::BarcodeInvalid
            | DocumentReason::MrzBarcodeMismatch
            | DocumentReason::DocumentPrintedMismatch
    )
}

fn documents(
    dir: &Path,
    manifest: &Path,
    faces: &FaceEngine,
    reader: &DocumentReader,
    today: Date,
) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    let manifest = read_manifest::<DocumentEntry>(manifest)?;
    // The GitHub-only entries where they were fetched (scripts/real-material --github).
    let fetched = manifest
        .github_only
        .map(|g| g.entries)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| dir.join("documents").join(&e.local_path).is_file());
    for e in manifest.entries.into_iter().chain(fetched) {
        let path = dir.join("documents").join(&e.local_path);
        let image = load_image_file(&path, &ImageLimits::default())
            .map_err(|err| format!("{}: {err}", path.display()))?;
        let t = Instant::now();
        let report = reader
            .read(faces, &image.rgb, None, today)
            .map_err(|err| format!("{}: {err}", path.display()))?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let flags: Vec<&str> = report
            .reasons
            .iter()
            .copied()
            .filter(|r| about_the_reading(*r))
            .map(DocumentReason::as_str)
            .collect();
        let read = report.mrz.as_ref().map(|m| m.lines.clone());
        let unconfirmed = report.mrz.as_ref().map(|m| not_found_printed(&m.printed));
        let expected = e.expected_mrz.unwrap_or_default();
        // A specimen whose printed check digits fail is rightly flagged for them; any other
        // flag on a right reading refuses a good document.
        let expected_flag = |f: &&str| {
            *f == DocumentReason::MrzCheckDigitFailed.as_str()
                && e.all_check_digits_ok == Some(false)
        };
        let mrz_read_right = e.has_mrz.then(|| read.as_ref() == Some(&expected));
        let (result, detail) = match (e.has_mrz, read) {
            (true, Some(lines)) if lines == expected && flags.iter().all(expected_flag) => {
                (Verdict::Right, flags.join(" "))
            }
            (true, Some(lines)) if lines == expected => (
                Verdict::Flagged,
                format!("read right, flagged {}", flags.join(" ")),
            ),
            (true, Some(lines)) if flags.is_empty() => {
                (Verdict::Wrong, differences(&lines, &expected))
            }
            (true, Some(lines)) => (
                Verdict::Flagged,
                format!("{}; {}", flags.join(" "), differences(&lines, &expected)),
            ),
            (true, None) => (Verdict::Flagged, flags.join(" ")),
            (false, None) => (Verdict::None, String::new()),
            (false, Some(lines)) if flags.is_empty() => (
                Verdict::Wrong,
                format!("an MRZ read where there is none: {lines:?}"),
            ),
            (false, Some(_)) => (Verdict::Flagged, flags.join(" ")),
        };
        let detail = match unconfirmed.filter(|u| !u.is_empty()) {
            Some(u) => format!("{detail} (not found printed: {})", u.join(", ")),
            None => detail,
        };
        out.push(Item {
            kind: "mrz",
            id: e.id,
            what: e.document,
            result,
            detail,
            reference: None,
            mrz_read_right,
            ms,
        });
    }
    Ok(out)
}

/// The fields of an MRZ its document's printed lines did not state.
fn not_found_printed(c: &PrintedComparison) -> Vec<&'static str> {
    [
        ("names", c.names),
        ("birth date", c.birth_date),
        ("expiry date", c.expiry_date),
        ("document number", c.document_number),
    ]
    .into_iter()
    .filter(|(_, f)| *f == PrintedField::NotFound)
    .map(|(name, _)| name)
    .collect()
}

/// `decoded` as ISO-8859-1 bytes, when it is UTF-8 text of that charset's characters only:
/// rxing gives a binary PDF417 as text, each byte read as one ISO-8859-1 character, so the
/// bytes are recovered exactly this way.
fn latin1(decoded: &[u8]) -> Option<Vec<u8>> {
    std::str::from_utf8(decoded)
        .ok()?
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// Where the lines read differ from those printed: `line:column printed->read`, up to
/// eight places, or the line counts when they differ.
fn differences(read: &[String], printed: &[String]) -> String {
    if read.len() != printed.len() {
        return format!("{} lines read, {} printed", read.len(), printed.len());
    }
    let mut places = Vec::new();
    for (n, (r, p)) in read.iter().zip(printed).enumerate() {
        let (r, p): (Vec<char>, Vec<char>) = (r.chars().collect(), p.chars().collect());
        for col in 0..r.len().max(p.len()) {
            let (a, b) = (p.get(col).copied(), r.get(col).copied());
            if a != b {
                places.push(format!(
                    "{}:{} {}->{}",
                    n + 1,
                    col + 1,
                    a.unwrap_or('_'),
                    b.unwrap_or('_')
                ));
            }
        }
    }
    let more = places.len().saturating_sub(8);
    places.truncate(8);
    if more > 0 {
        places.push(format!("and {more} more"));
    }
    places.join(" ")
}

fn aamva(dir: &Path, manifest: &Path) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    for e in read_manifest::<AamvaEntry>(manifest)?.entries {
        let path = dir.join("aamva").join(&e.payload.local_path);
        let payload = std::fs::read(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        let t = Instant::now();
        let parsed = parse_aamva(&payload);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        // Payloads shaped like a real card's apart from the ones other parsers' authors
        // made up or mangled for their tests.
        let kind = if e.material.starts_with("real-card-shaped") {
            "aamva, card-shaped"
        } else {
            "aamva, made up"
        };
        let what = e.material.clone();
        let (result, detail) = match parsed {
            Err(err) => (Verdict::Flagged, err.code().to_string()),
            Ok(record) => {
                let wrong: Vec<String> = e
                    .expected
                    .fields
                    .iter()
                    .filter(|(id, value)| {
                        record.elements.get(*id).map(|v| v.trim_end()) != Some(value.trim_end())
                    })
                    .map(|(id, value)| {
                        format!(
                            "{id} {value:?}->{:?}",
                            record.elements.get(id).map(|v| v.trim_end())
                        )
                    })
                    .collect();
                if wrong.is_empty() {
                    let checked = if e.expected.fields.is_empty() {
                        "parsed; no expected fields to check".to_string()
                    } else {
                        format!("{} fields checked", e.expected.fields.len())
                    };
                    let tolerated: Vec<&str> = record.tolerated.iter().map(|t| t.code()).collect();
                    let checked = if tolerated.is_empty() {
                        checked
                    } else {
                        format!("{checked}; read past: {}", tolerated.join(" "))
                    };
                    (Verdict::Right, checked)
                } else {
                    (Verdict::Wrong, wrong.join(" "))
                }
            }
        };
        out.push(Item {
            kind,
            id: e.id,
            what,
            result,
            detail,
            reference: None,
            mrz_read_right: None,
            ms,
        });
    }
    Ok(out)
}

fn barcodes(dir: &Path, manifest: &Path) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    for e in read_manifest::<BarcodeEntry>(manifest)?.entries {
        let path = dir.join("barcodes").join(&e.local_path);
        let image = load_image_file(&path, &ImageLimits::default())
            .map_err(|err| format!("{}: {err}", path.display()))?;
        let t = Instant::now();
        let prepared = BarcodeImage::new(&image.rgb);
        let decoded: Vec<Vec<u8>> = match e.symbology.as_str() {
            "qr" => read_qr_codes(&prepared)
                .into_iter()
                .map(|d| d.payload)
                .collect(),
            "pdf417" => read_pdf417(&prepared)
                .map(|d| d.payload)
                .into_iter()
                .collect(),
            other => return Err(format!("{}: unknown symbology {other}", e.id)),
        };
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let reference = e.zxing_cpp_3_1_1.as_ref();
        let (result, detail) = if decoded
            .iter()
            .any(|d| is_expected(d, &e.expected_payload, reference))
        {
            (Verdict::Right, String::new())
        } else if decoded.is_empty() {
            (Verdict::Flagged, "not decoded".to_string())
        } else {
            // A symbol decoded to other bytes: a barcode has no check the reader could
            // have flagged it with beyond its own error correction.
            (
                Verdict::Wrong,
                format!("{} payload(s), none the expected one", decoded.len()),
            )
        };
        out.push(Item {
            kind: if e.symbology == "qr" { "qr" } else { "pdf417" },
            id: e.id,
            what: e.symbology,
            result,
            detail,
            reference: Some(reference.is_some_and(Reference::right)),
            mrz_read_right: None,
            ms,
        });
    }
    Ok(out)
}

/// Per kind: items, each outcome's count, the reference decoder's right count, and the
/// mean time per item.
#[derive(Debug, Default, Clone, Serialize)]
struct Totals {
    items: usize,
    right: usize,
    flagged: usize,
    wrong: usize,
    none: usize,
    reference_right: Option<usize>,
    /// Documents with an MRZ whose MRZ was read as printed, flagged or not.
    mrz_read_right: Option<usize>,
    mean_ms: f64,
}

fn totals(items: &[Item]) -> BTreeMap<&'static str, Totals> {
    let mut by_kind: BTreeMap<&'static str, Totals> = BTreeMap::new();
    for i in items {
        let t = by_kind.entry(i.kind).or_default();
        t.items += 1;
        match i.result {
            Verdict::Right => t.right += 1,
            Verdict::Flagged => t.flagged += 1,
            Verdict::Wrong => t.wrong += 1,
            Verdict::None => t.none += 1,
        }
        if let Some(r) = i.reference {
            *t.reference_right.get_or_insert(0) += usize::from(r);
        }
        if let Some(r) = i.mrz_read_right {
            *t.mrz_read_right.get_or_insert(0) += usize::from(r);
        }
        t.mean_ms += i.ms;
    }
    for t in by_kind.values_mut() {
        t.mean_ms /= t.items.max(1) as f64;
    }
    by_kind
}

fn print_items(items: &[Item]) {
    say!("| kind | item | what | result | detail | zxing-cpp | ms |");
    say!("| --- | --- | --- | --- | --- | --- | --- |");
    for i in items {
        let reference = match i.reference {
            Some(true) => "right",
            Some(false) => "not",
            None => "",
        };
        say!(
            "| {} | {} | {} | {} | {} | {} | {:.0} |",
            i.kind,
            i.id,
            i.what.replace('|', "/"),
            i.result.as_str(),
            i.detail.replace('|', "/"),
            reference,
            i.ms
        );
    }
}

fn print_totals(totals: &BTreeMap<&'static str, Totals>) {
    say!("\n| kind | items | right | flagged | wrong, unflagged | nothing there, nothing read | zxing-cpp right | MRZ read as printed, flagged or not | mean ms |");
    say!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let or_na = |n: Option<usize>| n.map_or_else(|| "n/a".to_string(), |r| r.to_string());
    for (kind, t) in totals {
        say!(
            "| {kind} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            t.items,
            t.right,
            t.flagged,
            t.wrong,
            t.none,
            or_na(t.reference_right),
            or_na(t.mrz_read_right),
            t.mean_ms
        );
    }
}
