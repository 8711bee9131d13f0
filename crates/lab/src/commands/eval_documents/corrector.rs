//! How often the MRZ corrector "corrects" a misread into another valid reading, measured
//! on real specimens' MRZ text (the `expected_mrz` of tests/data/real/documents.json,
//! transcribed from images nobody on the project made).
//!
//! Every character a check digit protects is changed, in turn, to every other MRZ
//! character, and the resolver is given that reading as the recognizer would: the wrong
//! character alone, or first with the printed one as runner-up, or first with another
//! wrong one as runner-up. A change the check digits cannot see (`<` and `0` both count
//! 0) is counted apart: no corrector could notice it. Of the rest, each ends restored
//! (the printed lines, nothing flagged), flagged (a check digit fails, a field error, a
//! reading in doubt), or accepted as another valid reading: the corrector's false accept.

use reclaim_protocol::Code;
use std::path::Path;

use reclaim_document::mrz::{parse_mrz, resolve_mrz, Mrz};
use reclaim_document::Date;
use serde::Serialize;

use super::real::{read_manifest, DocumentEntry};
use crate::output::{fail, print_json, say, Exit};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";

/// What the recognizer is made to offer at the changed position.
#[derive(Clone, Copy)]
enum Offered {
    /// The wrong character, nothing else.
    Alone,
    /// The wrong character at 0.6, the printed one at 0.4.
    PrintedSecond,
    /// The wrong character at 0.6, another wrong one at 0.4.
    OtherSecond,
}

impl Offered {
    const ALL: [Offered; 3] = [Offered::Alone, Offered::PrintedSecond, Offered::OtherSecond];

    fn name(self) -> &'static str {
        match self {
            Offered::Alone => "the wrong character alone",
            Offered::PrintedSecond => "wrong first, the printed one second",
            Offered::OtherSecond => "wrong first, another wrong one second",
        }
    }
}

#[derive(Serialize, Default)]
struct Row {
    offered: &'static str,
    changes: u64,
    /// Read as printed, with nothing flagged.
    restored: u64,
    flagged: u64,
    /// Accepted as a valid reading that is not the printed one.
    other_valid: u64,
}

/// Reads the manifest at `path`, prints one row per way of offering and exits 1 if the
/// manifest gives nothing to measure.
pub fn run(path: &Path, json: bool) -> Exit {
    // The same manifest `--real` reads, GitHub-only entries included: text, no images.
    let manifest = match read_manifest::<DocumentEntry>(path) {
        Ok(m) => m,
        Err(e) => return fail(json, Code::InputUnreadable, &e),
    };
    let Some(today) = Date::new(2026, 12, 5) else {
        return fail(json, Code::InternalError, "bad date");
    };
    let zones: Vec<Vec<String>> = manifest
        .entries
        .into_iter()
        .chain(manifest.github_only.map(|g| g.entries).unwrap_or_default())
        .filter(|e| e.all_check_digits_ok == Some(true))
        .filter_map(|e| e.expected_mrz)
        .filter(|lines| valid(lines, today).is_some())
        .collect();
    if zones.is_empty() {
        return fail(
            json,
            Code::InputInvalid,
            "no MRZ with valid check digits in the manifest",
        );
    }
    let mut rows: Vec<Row> = Offered::ALL
        .iter()
        .map(|o| Row {
            offered: o.name(),
            ..Row::default()
        })
        .collect();
    let mut blind = 0u64;
    for lines in &zones {
        for (i, line) in lines.iter().enumerate() {
            for (j, printed) in line.bytes().enumerate() {
                if !protected(lines, i, j, today) {
                    continue;
                }
                for &wrong in ALPHABET.iter().filter(|&&c| c != printed) {
                    let changed = with(lines, i, j, wrong);
                    if valid(&changed, today) != Some(false) {
                        // A change the check digits cannot see (or no MRZ at all).
                        blind += 1;
                        continue;
                    }
                    // Deterministic: the next character after `wrong` that is neither.
                    let other = ALPHABET
                        .iter()
                        .cycle()
                        .skip_while(|&&c| c != wrong)
                        .copied()
                        .find(|&c| c != printed && c != wrong)
                        .unwrap_or(wrong);
                    for (row, offered) in rows.iter_mut().zip(Offered::ALL) {
                        let second = match offered {
                            Offered::Alone => None,
                            Offered::PrintedSecond => Some(printed),
                            Offered::OtherSecond => Some(other),
                        };
                        let ocr = candidates(&changed, i, j, wrong, second);
                        row.changes += 1;
                        match resolve_mrz(&ocr, today) {
                            Ok(m) if m.lines == *lines && accepted(&m) => row.restored += 1,
                            Ok(m) if accepted(&m) => row.other_valid += 1,
                            _ => row.flagged += 1,
                        }
                    }
                }
            }
        }
    }
    if json {
        print_json(&serde_json::json!({
            "zones": zones.len(),
            "changes_the_check_digits_cannot_see": blind,
            "rows": rows,
        }));
    } else {
        say!(
            "{} real MRZs; every protected character changed to every other ({} changes the check digits cannot see, not counted)",
            zones.len(),
            blind
        );
        say!("| offered | changes | restored | flagged | another valid reading |");
        say!("| --- | --- | --- | --- | --- |");
        for r in &rows {
            let share = |n: u64| 100.0 * n as f64 / r.changes.max(1) as f64;
            say!(
                "| {} | {} | {} ({:.1}%) | {} ({:.1}%) | {} ({:.2}%) |",
                r.offered,
                r.changes,
                r.restored,
                share(r.restored),
                r.flagged,
                share(r.flagged),
                r.other_valid,
                share(r.other_valid)
            );
        }
    }
    Exit::Yes
}

/// `Some(true)` when `lines` parse with every check digit valid and no field error,
/// `Some(false)` when they parse otherwise, `None` when they do not parse.
fn valid(lines: &[String], today: Date) -> Option<bool> {
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    parse_mrz(&refs, today).ok().map(|m| accepted(&m))
}

/// A reading the document checks would pass.
fn accepted(m: &Mrz) -> bool {
    m.all_check_digits_valid() && m.field_errors.is_empty() && m.uncertain.is_empty()
}

/// Whether some change at (`i`, `j`) makes a check digit fail: the position is one a
/// check digit protects (names, codes and the sex are not, whatever field errors a
/// change there makes).
fn protected(lines: &[String], i: usize, j: usize, today: Date) -> bool {
    ALPHABET.iter().any(|&c| {
        let changed = with(lines, i, j, c);
        let refs: Vec<&str> = changed.iter().map(String::as_str).collect();
        parse_mrz(&refs, today).is_ok_and(|m| !m.all_check_digits_valid())
    })
}

fn with(lines: &[String], i: usize, j: usize, c: u8) -> Vec<String> {
    let mut out = lines.to_vec();
    if let Some(line) = out.get_mut(i) {
        let mut bytes = line.clone().into_bytes();
        if let Some(b) = bytes.get_mut(j) {
            *b = c;
        }
        *line = String::from_utf8_lossy(&bytes).into_owned();
    }
    out
}

/// The recognizer's output for `lines`: every character certain but the one at
/// (`i`, `j`), read as `wrong` with `second` (if any) as runner-up.
fn candidates(
    lines: &[String],
    i: usize,
    j: usize,
    wrong: u8,
    second: Option<u8>,
) -> Vec<Vec<Vec<(char, f32)>>> {
    lines
        .iter()
        .enumerate()
        .map(|(li, line)| {
            line.chars()
                .enumerate()
                .map(|(lj, c)| match (li == i && lj == j, second) {
                    (true, Some(s)) => vec![(char::from(wrong), 0.6), (char::from(s), 0.4)],
                    (true, None) => vec![(char::from(wrong), 1.0)],
                    (false, _) => vec![(c, 1.0)],
                })
                .collect()
        })
        .collect()
}
