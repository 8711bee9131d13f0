//! `reclaim-lab eval-documents`: reads synthetic documents photographed at each degradation
//! level and counts what was read right, what was flagged, and what was misread without
//! any check noticing (the number that matters most).

use reclaim_protocol::Code;
use std::path::PathBuf;
use std::time::Instant;

use reclaim_docgen::sample::random_spec;
use reclaim_docgen::{photograph, render, DocKind, Level, Rng};
use reclaim_document::Date;
use reclaim_verify::document::{DocumentReader, DocumentReport};
use reclaim_verify::{load_image_file, FaceEngine, ImageLimits};
use serde::Serialize;

use crate::output::{fail, fail_with, print_json, say, Exit};
use reclaim_cli::commands::compare::{engine_options, CommonFlags};

mod corrector;
mod real;

#[derive(clap::Args)]
pub struct EvalDocumentsArgs {
    /// Documents per kind and level.
    #[arg(long, default_value_t = 20)]
    pub count: u64,
    /// Degradation levels: clean, mild, moderate, harsh.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "clean,mild,moderate,harsh"
    )]
    pub levels: Vec<String>,
    /// Document kinds: td1, td2, td3, aamva.
    #[arg(long, value_delimiter = ',', default_value = "td1,td2,td3,aamva")]
    pub kinds: Vec<String>,
    /// Photo size, WxH.
    #[arg(long, default_value = "1600x1200")]
    pub size: String,
    /// Change one digit of a check-digit-protected MRZ field on every card: every card
    /// must then be flagged.
    #[arg(long)]
    pub tamper: bool,
    /// Face photos for the portraits (IDENTITY-N.jpg files).
    #[arg(long, default_value = "tests/data/faces")]
    pub faces: PathBuf,
    // A failure: a document not read exactly.
    #[command(flatten)]
    pub failures: super::FailureFlags,
    /// Read real material instead, as `scripts/real-material DIR` fetches it (specimen
    /// documents, AAMVA payloads, ZXing's barcode images): every item and the totals.
    /// The other options but `--json` and `--models` are then not used.
    #[arg(long, value_name = "DIR")]
    pub real: Option<PathBuf>,
    /// Measure the MRZ corrector instead: every check-digit-protected character of the
    /// real specimens' MRZs in this manifest (tests/data/real/documents.json) changed to
    /// every other, and how often the corrector turns the change into another valid
    /// reading. No models, no images.
    #[arg(long, value_name = "MANIFEST")]
    pub corrector: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonFlags,
}

#[derive(Serialize, Default, Clone)]
struct Cell {
    kind: String,
    level: String,
    documents: u64,
    /// Every MRZ line (or every barcode field) read exactly as printed.
    read_exactly: u64,
    /// Every check digit verified (MRZ kinds).
    checks_passed: u64,
    /// Flagged by a reason code (a failed check, unreadable, not found).
    flagged: u64,
    /// Read with every check passing but not as printed: a misread nothing caught.
    silent_misreads: u64,
    mean_read_ms: f64,
}

pub fn run(args: EvalDocumentsArgs) -> Exit {
    let Some((w, h)) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
    else {
        return fail(
            args.common.json,
            Code::InputInvalid,
            "--size must be WIDTHxHEIGHT",
        );
    };
    let mut levels = Vec::new();
    for l in &args.levels {
        match Level::ALL.iter().find(|x| x.name() == l) {
            Some(level) => levels.push(*level),
            None => {
                return fail(
                    args.common.json,
                    Code::InputInvalid,
                    &format!("unknown level {l}"),
                )
            }
        }
    }
    let mut kinds = Vec::new();
    for k in &args.kinds {
        match DocKind::ALL.iter().find(|x| x.name() == k) {
            Some(kind) => kinds.push(*kind),
            None => {
                return fail(
                    args.common.json,
                    Code::InputInvalid,
                    &format!("unknown kind {k}"),
                )
            }
        }
    }
    if let Some(manifest) = &args.corrector {
        return corrector::run(manifest, args.common.json);
    }
    let options = engine_options(args.common.models.as_deref());
    let store = options.models.clone();
    let faces = match FaceEngine::load(options) {
        Ok(f) => f,
        Err(e) => return fail_with(args.common.json, "the face models", &e),
    };
    let reader = match DocumentReader::load(&store, 1) {
        Ok(r) => r,
        Err(e) => return fail_with(args.common.json, "the document models", &e),
    };
    let Some(today) = Date::new(2026, 11, 26) else {
        return fail(args.common.json, Code::InternalError, "bad date");
    };
    if let Some(dir) = &args.real {
        // Real documents are judged as of the day they are read: a specimen's expiry is
        // reported, not counted as a reading flag.
        let today = Date::today_utc().unwrap_or(today);
        return real::run(dir, args.common.json, &faces, &reader, today);
    }
    let portraits = match load_portraits(&args.faces, &faces) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            return fail(
                args.common.json,
                Code::InputInvalid,
                &format!("{}: no usable face photos", args.faces.display()),
            )
        }
        Err(e) => return fail(args.common.json, Code::InputUnreadable, &e),
    };
    let mut cells = Vec::new();
    for &kind in &kinds {
        for &level in &levels {
            let mut cell = Cell {
                kind: kind.name().into(),
                level: level.name().into(),
                ..Cell::default()
            };
            let mut total_ms = 0.0;
            for seed in 0..args.count {
                let mut rng = Rng::new(seed * 7919 + 17);
                let portrait = portraits[(seed as usize) % portraits.len()].clone();
                let mut spec = random_spec(kind, &mut rng, portrait, today);
                if args.tamper {
                    if kind == DocKind::Aamva {
                        continue;
                    }
                    match render(&spec) {
                        Ok(doc) => {
                            spec.mrz_override = doc.mrz.map(|lines| tamper(&lines, &mut rng))
                        }
                        Err(e) => {
                            return fail(args.common.json, Code::InternalError, &e.to_string())
                        }
                    }
                }
                let doc = match render(&spec) {
                    Ok(d) => d,
                    Err(e) => return fail(args.common.json, Code::InternalError, &e.to_string()),
                };
                let degradation = level.degradation(&mut rng, w, h);
                let Some(front) = photograph(&doc.front, &degradation, &mut rng) else {
                    continue;
                };
                let back = doc
                    .back
                    .as_ref()
                    .and_then(|b| photograph(b, &degradation, &mut rng));
                let t = Instant::now();
                let report =
                    match reader.read(&faces, &front.image, back.as_ref().map(|p| &p.image), today)
                    {
                        Ok(r) => r,
                        Err(e) => return fail(args.common.json, e.code(), &e.to_string()),
                    };
                total_ms += t.elapsed().as_secs_f64() * 1000.0;
                cell.documents += 1;
                let before = cell.read_exactly;
                score(&mut cell, &report, &doc);
                if let (Some(dir), true) = (&args.failures.save, cell.read_exactly == before) {
                    let _ = std::fs::create_dir_all(dir);
                    let _ = front.image.save(dir.join(format!(
                        "{}-{}-{seed}-front.png",
                        kind.name(),
                        level.name()
                    )));
                    if let Some(b) = &back {
                        let _ = b.image.save(dir.join(format!(
                            "{}-{}-{seed}-back.png",
                            kind.name(),
                            level.name()
                        )));
                    }
                }
                if args.failures.show && cell.read_exactly == before {
                    let reasons: Vec<&str> = report.reasons.iter().map(|r| r.as_str()).collect();
                    eprintln!(
                        "{} {} seed {seed}: {reasons:?}\n   read    {:?}\n   printed {:?}",
                        kind.name(),
                        level.name(),
                        report.mrz.as_ref().map(|m| &m.lines),
                        doc.mrz
                    );
                }
            }
            cell.mean_read_ms = if cell.documents > 0 {
                total_ms / cell.documents as f64
            } else {
                0.0
            };
            cells.push(cell);
        }
    }
    if args.common.json {
        print_json(&cells);
    } else {
        say!("| kind | level | documents | read exactly | check digits pass | flagged | silent misreads | mean read ms |");
        say!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        for c in &cells {
            let pct = |n: u64| {
                if c.documents > 0 {
                    100.0 * n as f64 / c.documents as f64
                } else {
                    0.0
                }
            };
            // A barcode has no check digits.
            let checks = if c.kind == DocKind::Aamva.name() {
                "n/a".to_string()
            } else {
                format!("{} ({:.0}%)", c.checks_passed, pct(c.checks_passed))
            };
            say!(
                "| {} | {} | {} | {} ({:.0}%) | {} | {} ({:.0}%) | {} | {:.0} |",
                c.kind,
                c.level,
                c.documents,
                c.read_exactly,
                pct(c.read_exactly),
                checks,
                c.flagged,
                pct(c.flagged),
                c.silent_misreads,
                c.mean_read_ms
            );
        }
    }
    // With --tamper every card carries a wrong digit, so every one must be flagged.
    let passed = if args.tamper {
        cells.iter().all(|c| c.flagged == c.documents)
    } else {
        cells.iter().all(|c| c.silent_misreads == 0)
    };
    if passed {
        Exit::Yes
    } else {
        Exit::No
    }
}

fn score(cell: &mut Cell, report: &DocumentReport, doc: &reclaim_docgen::RenderedDocument) {
    let flagged = report
        .reasons
        .iter()
        .any(|r| !matches!(r, reclaim_verify::document::DocumentReason::PortraitMissing));
    if flagged {
        cell.flagged += 1;
    }
    match (&doc.mrz, &report.mrz) {
        (Some(printed), Some(read)) => {
            let exact = &read.lines == printed;
            let checks =
                report.check_digits.iter().all(|c| c.valid) && !report.check_digits.is_empty();
            cell.read_exactly += u64::from(exact);
            cell.checks_passed += u64::from(checks);
            if !flagged && !exact {
                cell.silent_misreads += 1;
            }
        }
        (Some(_), None) => {}
        (None, _) => {
            let truth = &doc.truth;
            let got = report.barcodes.iter().find_map(|b| b.fields.as_ref());
            let exact = got.is_some_and(|f| {
                f.document_number == truth.document_number
                    && f.surname == truth.surname
                    && f.birth_date == truth.birth_date
                    && f.expiry_date == truth.expiry_date
            });
            cell.read_exactly += u64::from(exact);
            if got.is_some() && !exact && !flagged {
                cell.silent_misreads += 1;
            }
        }
    }
}

/// Changes one digit of the birth date or the expiry date (never a check digit), so that
/// the field's check digit, and the composite, no longer verify.
fn tamper(lines: &[String], rng: &mut Rng) -> Vec<String> {
    let mut out: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    // Positions of digits in the date fields: TD1 line 2 columns 0-5 and 8-13; TD2 and
    // TD3 line 2 columns 13-18 and 21-26.
    let (line, ranges): (usize, [std::ops::Range<usize>; 2]) = if lines.len() == 3 {
        (1, [0..6, 8..14])
    } else {
        (1, [13..19, 21..27])
    };
    let range = ranges[rng.below(2)].clone();
    let pos = range.start + rng.below(range.len());
    if let Some(c) = out.get_mut(line).and_then(|l| l.get_mut(pos)) {
        *c = if *c == b'9' { b'0' } else { *c + 1 };
    }
    out.into_iter()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .collect()
}

/// Every `.jpg` in `dir`, in name order, decoded and analysed by `faces`.
pub fn analysed_photos(
    dir: &std::path::Path,
    faces: &FaceEngine,
) -> Result<Vec<(PathBuf, image::RgbImage, reclaim_verify::FaceAnalysis)>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let img = load_image_file(&path, &ImageLimits::default())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let analysis = faces.analyze(&img.rgb).map_err(|e| e.to_string())?;
        out.push((path, img.rgb, analysis));
    }
    Ok(out)
}

fn load_portraits(
    dir: &std::path::Path,
    faces: &FaceEngine,
) -> Result<Vec<image::RgbImage>, String> {
    let mut out = Vec::new();
    for (_, img, analysis) in analysed_photos(dir, faces)? {
        if let (true, Some(face)) = (analysis.usable(), analysis.face) {
            out.push(reclaim_docgen::portrait::printed_portrait(
                &img, face.bbox, 350, 450, None,
            ));
        }
    }
    Ok(out)
}
