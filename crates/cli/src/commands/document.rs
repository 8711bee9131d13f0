//! `reclaim document FRONT [--back BACK]`: what an identity document says, and whether it
//! passes its own checks. Exit 0 read and every check passed, 1 read but a check failed
//! (an expired document counts) or nothing readable found, 2 bad input.

use reclaim_protocol::Code;
use std::path::PathBuf;
use std::time::Instant;

use reclaim_document::Date;
use reclaim_verify::document::{DocumentReader, DocumentReason, DocumentReport};
use reclaim_verify::{load_image_file, FaceEngine, ImageLimits};
use serde::Serialize;

use super::compare::{both, engine_options, EngineFlags};
use crate::output::{fail, fail_with, print_json, say, Exit};

#[derive(clap::Args)]
pub struct DocumentArgs {
    /// Photo of the document (either side; a passport's data page).
    pub front: PathBuf,
    /// Photo of the other side, when it carries the MRZ or a barcode.
    #[arg(long)]
    pub back: Option<PathBuf>,
    #[command(flatten)]
    pub today: TodayFlag,
    #[command(flatten)]
    pub engine: EngineFlags,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a DocumentReport,
    today: Date,
    /// Whole-command times; the report's own `timings_ms` splits the reading.
    process_ms: Timings,
}

#[derive(Serialize)]
struct Timings {
    load_models: f64,
    read: f64,
    total: f64,
}

pub fn run(args: DocumentArgs) -> Exit {
    let started = Instant::now();
    let today = match args.today.date(args.engine.json) {
        Ok(d) => d,
        Err(outcome) => return outcome,
    };
    let limits = ImageLimits::default();
    let options = engine_options(args.engine.models.as_deref());
    let store = options.models.clone();
    let parallel = args.engine.threads > 1;
    // Images decode while the models are prepared.
    let ((front, back), (models, load_ms)) = both(
        parallel,
        || {
            let front = load_image_file(&args.front, &limits);
            let back = args.back.as_ref().map(|b| load_image_file(b, &limits));
            (front, back)
        },
        || {
            let t = Instant::now();
            let loaded = both(
                parallel,
                || FaceEngine::load(options),
                || DocumentReader::load(&store, 1),
            );
            (loaded, t.elapsed().as_secs_f64() * 1000.0)
        },
    );
    let front = match front {
        Ok(img) => img,
        Err(e) => return fail_with(args.engine.json, &args.front.display().to_string(), &e),
    };
    let back = match back.transpose() {
        Ok(img) => img,
        Err(e) => {
            return fail_with(
                args.engine.json,
                &args.back.unwrap_or_default().display().to_string(),
                &e,
            )
        }
    };
    let (faces, reader) = match models {
        (Ok(f), Ok(r)) => (f, r),
        (Err(e), _) | (_, Err(e)) => return fail_with(args.engine.json, "the models", &e),
    };
    let t = Instant::now();
    let report = match reader.read(&faces, &front.rgb, back.as_ref().map(|b| &b.rgb), today) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                args.engine.json,
                e.code(),
                &format!("reading the document failed: {e}"),
            )
        }
    };
    let read_ms = t.elapsed().as_secs_f64() * 1000.0;
    let output = Output {
        report: &report,
        today,
        process_ms: Timings {
            load_models: load_ms,
            read: read_ms,
            total: started.elapsed().as_secs_f64() * 1000.0,
        },
    };
    if args.engine.json {
        print_json(&output);
    } else {
        print_human(&report);
    }
    if report.passed() {
        Exit::Yes
    } else {
        Exit::No
    }
}

/// `--today`, for the commands that judge a document's expiry.
#[derive(clap::Args)]
pub struct TodayFlag {
    /// The date document expiry is judged against (YYYY-MM-DD); default: today (UTC).
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
}

impl TodayFlag {
    /// `--today` when given, else today in UTC.
    pub fn date(&self, json: bool) -> Result<Date, Exit> {
        match &self.today {
            Some(s) => Date::parse_iso(s).ok_or_else(|| {
                fail(
                    json,
                    Code::InputInvalid,
                    &format!("--today {s}: not a date (YYYY-MM-DD)"),
                )
            }),
            None => Date::today_utc().ok_or_else(|| {
                fail(
                    json,
                    Code::ClockInvalid,
                    "the system clock does not give a date",
                )
            }),
        }
    }
}

fn guidance(reason: DocumentReason) -> &'static str {
    match reason {
        DocumentReason::DocumentNotFound => "No machine-readable zone or barcode was found. Photograph the side with the two or three lines of <<< characters (or the barcode), flat and filling the frame.",
        DocumentReason::MrzUnreadable => "The machine-readable zone could not be read. Hold the document flatter, avoid glare, and make sure it is sharp.",
        DocumentReason::MrzCheckDigitFailed => "The machine-readable zone did not pass its check digits: it was misread, or the document is not genuine. Retake the photo.",
        DocumentReason::MrzFieldInvalid => "A field of the machine-readable zone holds an impossible value. Retake the photo.",
        DocumentReason::MrzUncertain => "A character of the machine-readable zone could be read two ways and its check digit cannot tell which (the names have none). Retake the photo, flat, close and without glare.",
        DocumentReason::BarcodeInvalid => "The barcode is not a valid driving licence barcode.",
        DocumentReason::MrzBarcodeMismatch => "The machine-readable zone and the barcode disagree.",
        DocumentReason::DocumentPrintedMismatch => "The printed details do not state the names or the birth date the machine-readable zone states. Photograph the whole page (both sides of a card), flat and sharp.",
        DocumentReason::DocumentExpired => "The document has expired. Use a valid document.",
        DocumentReason::PortraitMissing => "No portrait was found on the document. Photograph the side with the photo too.",
    }
}

fn print_human(report: &DocumentReport) {
    let f = &report.fields;
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let kind = serde_json::to_value(report.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    say!(
        "{}: {}",
        if report.passed() {
            "DOCUMENT OK"
        } else {
            "DOCUMENT NOT ACCEPTED"
        },
        kind
    );
    say!("   name: {} {}", show(&f.given_names), show(&f.surname));
    say!(
        "   number: {}   issuer: {}   nationality: {}",
        show(&f.document_number),
        show(&f.issuer),
        show(&f.nationality)
    );
    let date = |d: &Option<Date>| d.map_or("-".to_string(), |d| d.to_string());
    say!(
        "   born: {}   expires: {}",
        date(&f.birth_date),
        date(&f.expiry_date)
    );
    if !report.check_digits.is_empty() {
        let failed: Vec<&str> = report
            .check_digits
            .iter()
            .filter(|c| !c.valid)
            .map(|c| c.field.as_str())
            .collect();
        if failed.is_empty() {
            say!("   check digits: all {} valid", report.check_digits.len());
        } else {
            say!("   check digits failing: {}", failed.join(", "));
        }
    }
    if let Some(p) = &report.portrait {
        let [x, y, w, h] = p.face.bbox;
        say!("   portrait: {w:.0}x{h:.0} px at ({x:.0}, {y:.0})");
    }
    for reason in &report.reasons {
        say!("   {}: {}", reason.as_str(), guidance(*reason));
    }
}
