//! The document reader: everything a photo (or two) of an ID says, and every check on it.

use reclaim_protocol::Code;
use std::time::Instant;

use image::RgbImage;
use reclaim_document::aamva::parse_aamva;
use reclaim_document::mrz::{
    names_in_doubt, settle_names_by_printed, CheckDigitResult, Correction, Mrz, UncertainChar,
};
use reclaim_document::visual_zone::{compare_printed, PrintedComparison};
use reclaim_document::{Date, DocumentFields, DocumentKind};
use serde::Serialize;

use crate::document::barcode::{read_pdf417, read_qr_codes, BarcodeImage};
use crate::document::mrz::{better, read_group, scored_mrz_candidates, MrzReading};
use crate::document::ocr::{printed_lines_fitting, MrzRecognizer};
use crate::document::text_lines::{TextLine, TextLineDetector};
use crate::engine::FaceEngine;
use crate::error::Result;
use crate::face::DetectedFace;
use crate::models::{ModelId, ModelStore};
use crate::raster::shrink_to_fit;

/// Documents are read from a copy no larger than this: an MRZ character is still 25 pixels
/// or more tall in it, and a 12-megapixel photo costs a quarter as much to search.
pub const WORK_SIDE: u32 = 2048;

/// Candidate MRZ groups read at most, the most MRZ-like first over the sides.
const MRZ_GROUPS_READ: usize = 3;

/// Stable reason codes of the document checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentReason {
    /// Neither an MRZ nor an AAMVA barcode was found.
    DocumentNotFound,
    /// MRZ lines were found but could not be read as an MRZ.
    MrzUnreadable,
    /// At least one MRZ check digit does not verify.
    MrzCheckDigitFailed,
    /// An MRZ field holds a value that cannot be (a month 13, a digit in a name).
    MrzFieldInvalid,
    /// A position of the reading is in doubt (`Mrz::uncertain`): a name character the
    /// recognizer found another nearly as likely for (names have no check digit), or a
    /// correction it never offered. The reading is not to be trusted.
    MrzUncertain,
    /// A PDF417 was found but is not a valid AAMVA payload.
    BarcodeInvalid,
    /// The MRZ and the barcode of the same card disagree.
    MrzBarcodeMismatch,
    /// The printed (visual) zone does not state the names or the birth date the MRZ (or,
    /// on a licence, the barcode) states: they were not found among the printed lines
    /// read (`MrzReport::printed`, `BarcodeReport::printed`,
    /// `PrintedComparison::identity_confirmed`).
    DocumentPrintedMismatch,
    /// The document's expiry date has passed.
    DocumentExpired,
    /// No face was found on the document.
    PortraitMissing,
}

reclaim_protocol::serialize_as_code!(DocumentReason);

impl DocumentReason {
    /// The registry's code for it.
    pub const fn code(self) -> Code {
        match self {
            DocumentReason::DocumentNotFound => Code::DocumentNotFound,
            DocumentReason::MrzUnreadable => Code::MrzUnreadable,
            DocumentReason::MrzCheckDigitFailed => Code::MrzCheckDigitFailed,
            DocumentReason::MrzFieldInvalid => Code::MrzFieldInvalid,
            DocumentReason::MrzUncertain => Code::MrzUncertain,
            DocumentReason::BarcodeInvalid => Code::BarcodeInvalid,
            DocumentReason::MrzBarcodeMismatch => Code::MrzBarcodeMismatch,
            DocumentReason::DocumentPrintedMismatch => Code::DocumentPrintedMismatch,
            DocumentReason::DocumentExpired => Code::DocumentExpired,
            DocumentReason::PortraitMissing => Code::PortraitMissing,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.code().as_str()
    }
}

/// Which photo something was found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Front,
    Back,
}

#[derive(Debug, Clone, Serialize)]
pub struct MrzReport {
    pub side: Side,
    pub lines: Vec<String>,
    pub upside_down: bool,
    pub names_truncated: bool,
    /// Positions whose reading is in doubt (`Mrz::uncertain`).
    pub uncertain: Vec<UncertainChar>,
    /// Characters chosen over the recognizer's first choice (`Mrz::corrections`).
    pub corrections: Vec<Correction>,
    /// The names' doubts were settled by the printed names (`Mrz::names_printed`).
    pub names_printed: bool,
    /// Filler-or-letter doubts were settled by the characters' look
    /// (`Mrz::fillers_by_shape`; each change is in `corrections`).
    pub fillers_by_shape: bool,
    pub field_errors: Vec<&'static str>,
    /// Each field of the MRZ set against the printed lines read off the document.
    pub printed: PrintedComparison,
}

#[derive(Debug, Clone, Serialize)]
pub struct BarcodeReport {
    pub side: Side,
    /// `pdf417` or `qr`.
    pub symbology: &'static str,
    /// The AAMVA fields of a PDF417, when it parsed.
    pub fields: Option<DocumentFields>,
    /// Why the PDF417 did not parse, as a stable code.
    pub error: Option<&'static str>,
    /// Where the PDF417's layout departs from the standard and was read past
    /// (`reclaim_document::aamva::Tolerated`'s codes); empty when it does not.
    pub tolerated: Vec<&'static str>,
    /// A QR code's content, when it is text.
    pub text: Option<String>,
    /// For the AAMVA payload a document was read from (no MRZ): its fields set against
    /// the printed lines read off the card.
    pub printed: Option<PrintedComparison>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortraitReport {
    pub side: Side,
    pub face: DetectedFace,
}

/// Everything read off the document.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentReport {
    pub kind: DocumentKind,
    /// The fields used for decisions: the MRZ's when there is one, else the barcode's.
    pub fields: DocumentFields,
    pub check_digits: Vec<CheckDigitResult>,
    pub expired: Option<bool>,
    pub mrz: Option<MrzReport>,
    pub barcodes: Vec<BarcodeReport>,
    pub portrait: Option<PortraitReport>,
    pub reasons: Vec<DocumentReason>,
    pub timings_ms: DocumentTimings,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DocumentTimings {
    pub text_lines: f64,
    pub mrz: f64,
    /// Reading the printed (visual) zone: until every field of the MRZ is found there, or
    /// every printed line when the MRZ's names are in doubt.
    pub printed: f64,
    pub barcodes: f64,
    pub portrait: f64,
}

impl DocumentReport {
    /// Read and every check passed.
    pub fn passed(&self) -> bool {
        self.reasons.is_empty()
    }
    /// Something was read (whether or not it passed).
    pub fn read(&self) -> bool {
        self.kind != DocumentKind::Unknown
    }
}

/// Most printed lines read per side: a passport's data page prints 20 to 30 lines of
/// labels and values, read several to a recognizer run.
const MAX_PRINTED_LINES: usize = 40;

/// The models the document reader needs, prepared once.
pub struct DocumentReader {
    lines: TextLineDetector,
    recognizer: MrzRecognizer,
}

impl DocumentReader {
    pub fn load(store: &ModelStore, threads: usize) -> Result<Self> {
        let (lines, recognizer) = std::thread::scope(|s| {
            let rec = s.spawn(|| {
                MrzRecognizer::new(store.read_verified(ModelId::TextRecognizer)?, threads)
            });
            let det = store
                .read_verified(ModelId::TextDetector)
                .and_then(|m| TextLineDetector::new(m, threads));
            let rec = rec.join().unwrap_or_else(|_| {
                Err(crate::error::VerifyError::ModelInvalid {
                    name: ModelId::TextRecognizer.as_str().into(),
                    reason: "preparation panicked".into(),
                })
            });
            (det, rec)
        });
        Ok(DocumentReader {
            lines: lines?,
            recognizer: recognizer?,
        })
    }

    /// Reads `front` (and `back`): whatever each side carries. The MRZ and the barcodes
    /// are looked for side by side on two threads; the portrait last, since an MRZ read
    /// upside down says which way up the card is.
    pub fn read(
        &self,
        faces: &FaceEngine,
        front: &RgbImage,
        back: Option<&RgbImage>,
        today: Date,
    ) -> Result<DocumentReport> {
        let mut timings = DocumentTimings::default();
        let work = |img: &RgbImage| shrink_to_fit(img, WORK_SIDE, WORK_SIDE);
        let front_work = work(front);
        let back_work = back.map(work);
        let sides: Vec<(Side, &RgbImage, f32)> =
            std::iter::once((Side::Front, &front_work.0, front_work.1))
                .chain(back_work.as_ref().map(|(b, scale)| (Side::Back, b, *scale)))
                .collect();

        let (mrz_result, (barcodes, barcode_ms)) = std::thread::scope(|s| {
            let barcodes = s.spawn(|| {
                let t = Instant::now();
                let found = read_barcodes(&sides);
                (found, ms(t))
            });
            let mrz = self.read_mrz_sides(&sides, today, &mut timings);
            let barcodes = barcodes.join().unwrap_or_else(|_| (Vec::new(), 0.0));
            (mrz, barcodes)
        });
        let (mrz, saw_mrz_lines, side_lines) = mrz_result?;
        timings.barcodes = barcode_ms;
        let mut barcodes = barcodes;
        // A licence has no MRZ: its barcode's fields are what is set against the printed
        // card (NIST SP 800-63A-4 asks for the barcode to be compared with the printed
        // data too), as an MRZ's are.
        if mrz.is_none() {
            if let Some(b) = barcodes.iter_mut().find(|b| b.fields.is_some()) {
                let t = Instant::now();
                if let Some(fields) = &b.fields {
                    b.printed = Some(self.printed_against(&sides, &side_lines, None, fields)?);
                }
                timings.printed += ms(t);
            }
        }

        // The portrait: the largest face on either side, the MRZ side turned upright.
        let t = Instant::now();
        let mut portrait: Option<PortraitReport> = None;
        for &(side, img, scale) in &sides {
            let upside_down = mrz
                .as_ref()
                .is_some_and(|m| m.side == side && m.reading.upside_down);
            let found: Vec<DetectedFace> = if upside_down {
                let turned = image::imageops::rotate180(img);
                faces
                    .detector()
                    .detect(&turned)?
                    .into_iter()
                    .map(|f| unrotate(f, img.dimensions()))
                    .collect()
            } else {
                faces.detector().detect(img)?
            };
            // Back to the caller's pixels.
            let found = found.into_iter().map(|f| rescale(f, 1.0 / scale));
            if let Some(face) = found
                .into_iter()
                .max_by(|a, b| a.width().total_cmp(&b.width()))
            {
                if portrait
                    .as_ref()
                    .is_none_or(|p| face.width() > p.face.width())
                {
                    portrait = Some(PortraitReport { side, face });
                }
            }
        }
        timings.portrait = ms(t);

        Ok(assemble(
            mrz,
            barcodes,
            portrait,
            saw_mrz_lines,
            today,
            timings,
        ))
    }

    /// The best MRZ reading over the sides, and whether any side showed MRZ-like lines.
    /// The candidate groups of both sides are read longest lines first (an MRZ's lines
    /// are longer than anything else printed on a card), until one verifies.
    fn read_mrz_sides(
        &self,
        sides: &[(Side, &RgbImage, f32)],
        today: Date,
        timings: &mut DocumentTimings,
    ) -> Result<(Option<MrzFound>, bool, Vec<Vec<TextLine>>)> {
        let t = Instant::now();
        let mut groups: Vec<(usize, f32, Vec<TextLine>)> = Vec::new();
        let mut side_lines: Vec<Vec<TextLine>> = Vec::new();
        for (i, &(_, img, _)) in sides.iter().enumerate() {
            let lines = self.lines.detect(img)?;
            groups.extend(
                scored_mrz_candidates(&lines)
                    .into_iter()
                    .take(MRZ_GROUPS_READ)
                    .map(|(score, g)| (i, score, g)),
            );
            side_lines.push(lines);
        }
        timings.text_lines += ms(t);
        let t = Instant::now();
        groups.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut best: Option<(usize, MrzReading)> = None;
        for (i, _, group) in groups.iter().take(MRZ_GROUPS_READ) {
            let (_, img, _) = sides[*i];
            let Some(reading) = read_group(img, group, &self.recognizer, today)?.filter(plausible)
            else {
                continue;
            };
            let verified = reading.mrz.all_check_digits_valid();
            if best.as_ref().is_none_or(|(_, b)| better(&reading, b)) {
                best = Some((*i, reading));
            }
            if verified {
                break;
            }
        }
        timings.mrz += ms(t);
        let t = Instant::now();
        let best = match best {
            Some((i, mut reading)) => {
                let printed =
                    self.cross_check_printed(sides, &side_lines, i, &mut reading, today)?;
                Some(MrzFound {
                    side: sides[i].0,
                    reading,
                    printed,
                })
            }
            None => None,
        };
        timings.printed += ms(t);
        Ok((best, !groups.is_empty(), side_lines))
    }

    /// Sets `reading` (found on `sides[mrz_side]`) against the printed lines of every
    /// side. When its names are in doubt every printed line is read and the names settled
    /// by them ([`settle_names_by_printed`]); otherwise lines are read, the longest first
    /// and several to a recognizer run, only until every field of the MRZ has been found
    /// printed, since each run costs as much as an MRZ line's.
    fn cross_check_printed(
        &self,
        sides: &[(Side, &RgbImage, f32)],
        side_lines: &[Vec<TextLine>],
        mrz_side: usize,
        reading: &mut MrzReading,
        today: Date,
    ) -> Result<PrintedComparison> {
        if names_in_doubt(&reading.mrz) {
            let runs = printed_runs(sides, side_lines, Some((mrz_side, &*reading)));
            let mut printed: Vec<String> = Vec::new();
            for run in &runs {
                printed.extend(self.read_run(sides, run)?);
            }
            if let Some(settled) = settle_names_by_printed(&reading.mrz, &printed, today) {
                reading.mrz = settled;
            }
            return Ok(compare_printed(
                &reading.mrz.fields,
                reading.mrz.names_truncated,
                &printed,
            ));
        }
        self.printed_against(
            sides,
            side_lines,
            Some((mrz_side, &*reading)),
            &reading.mrz.fields,
        )
    }

    /// `fields` set against the printed lines of every side: lines are read, the longest
    /// first and several to a recognizer run, only until every field has been found
    /// printed, since each run costs as much as an MRZ line's. The MRZ's own lines, when
    /// `mrz` says where it was read, are not among them.
    fn printed_against(
        &self,
        sides: &[(Side, &RgbImage, f32)],
        side_lines: &[Vec<TextLine>],
        mrz: Option<(usize, &MrzReading)>,
        fields: &DocumentFields,
    ) -> Result<PrintedComparison> {
        let truncated = mrz.is_some_and(|(_, r)| r.mrz.names_truncated);
        let mut printed: Vec<String> = Vec::new();
        let mut comparison = compare_printed(fields, truncated, &printed);
        for run in printed_runs(sides, side_lines, mrz) {
            if comparison.all_confirmed() {
                break;
            }
            printed.extend(self.read_run(sides, &run)?);
            comparison = compare_printed(fields, truncated, &printed);
        }
        Ok(comparison)
    }

    /// The texts of one run of printed lines of side `run.0`.
    fn read_run(
        &self,
        sides: &[(Side, &RgbImage, f32)],
        (k, lines): &(usize, Vec<TextLine>),
    ) -> Result<Vec<String>> {
        match sides.get(*k) {
            Some(&(_, img, _)) => self.recognizer.printed_texts(img, lines),
            None => Ok(Vec::new()),
        }
    }
}

/// The printed lines of every side, in recognizer runs (as many lines as fit on one
/// input): a card's names are printed on its front, its MRZ on the back, so every side
/// given is read. `mrz` says on which side an MRZ was read, and how: its lines are left
/// out there ([`printed_boxes`]).
fn printed_runs(
    sides: &[(Side, &RgbImage, f32)],
    side_lines: &[Vec<TextLine>],
    mrz: Option<(usize, &MrzReading)>,
) -> Vec<(usize, Vec<TextLine>)> {
    let mut runs: Vec<(usize, Vec<TextLine>)> = Vec::new();
    for k in 0..sides.len() {
        let lines = side_lines.get(k).map_or(&[][..], Vec::as_slice);
        let on_mrz_side = mrz.filter(|(side, _)| *side == k).map(|(_, r)| r);
        let boxes = printed_boxes(lines, on_mrz_side);
        let mut rest = &boxes[..];
        while !rest.is_empty() {
            let (now, later) = rest.split_at(printed_lines_fitting(rest));
            runs.push((k, now.to_vec()));
            rest = later;
        }
    }
    runs
}

/// The boxes of the printed lines of one side (at most [`MAX_PRINTED_LINES`], the longest
/// first). On the side the MRZ `reading` came from, its lines are left out and the others
/// turned as it was; another side is read as found.
fn printed_boxes(lines: &[TextLine], mrz_side: Option<&MrzReading>) -> Vec<TextLine> {
    let mrz_lines = mrz_side.map_or(&[][..], |r| r.lines.as_slice());
    let upside_down = mrz_side.is_some_and(|r| r.upside_down);
    let in_mrz = |line: &TextLine| {
        mrz_lines.iter().any(|m| {
            let d = [line.center[0] - m.center[0], line.center[1] - m.center[1]];
            let along = d[0] * m.direction[0] + d[1] * m.direction[1];
            let [nx, ny] = m.normal();
            let across = d[0] * nx + d[1] * ny;
            along.abs() <= m.length / 2.0 && across.abs() <= m.height
        })
    };
    let mut printed: Vec<TextLine> = lines
        .iter()
        .filter(|l| !in_mrz(l) && l.length >= l.height)
        .map(|l| if upside_down { l.reversed() } else { *l })
        .collect();
    printed.sort_by(|a, b| b.length.total_cmp(&a.length));
    printed.truncate(MAX_PRINTED_LINES);
    printed
}

/// The MRZ read, the side it is on, and its fields set against the printed lines.
struct MrzFound {
    side: Side,
    reading: MrzReading,
    printed: PrintedComparison,
}

/// Whether a reading that did not verify is still an MRZ (a misprint, a tampered digit, a
/// hard photo) rather than other printed text read as one (a card's two columns of field
/// labels line up like an MRZ): it has filler characters, which words do not, and at least
/// two check digits verify (one in ten would by chance).
fn plausible(reading: &MrzReading) -> bool {
    let fillers: usize = reading
        .mrz
        .lines
        .iter()
        .map(|l| l.matches('<').count())
        .sum();
    let valid = reading.mrz.check_digits.iter().filter(|c| c.valid).count();
    fillers >= 3 && (reading.mrz.all_check_digits_valid() || valid >= 2)
}

fn rescale(face: DetectedFace, factor: f32) -> DetectedFace {
    DetectedFace {
        bbox: face.bbox.map(|v| v * factor),
        landmarks: face.landmarks.map(|p| p.map(|v| v * factor)),
        score: face.score,
    }
}

/// Every PDF417 and QR code on every side.
fn read_barcodes(sides: &[(Side, &RgbImage, f32)]) -> Vec<BarcodeReport> {
    let mut barcodes = Vec::new();
    for &(side, img, _) in sides {
        let img = BarcodeImage::new(img);
        if let Some(found) = read_pdf417(&img) {
            let (fields, error, tolerated) = match parse_aamva(&found.payload) {
                Ok(record) => {
                    let tolerated = record.tolerated.iter().map(|t| t.code()).collect();
                    (Some(record.fields), None, tolerated)
                }
                Err(e) => (None, Some(e.code()), Vec::new()),
            };
            barcodes.push(BarcodeReport {
                side,
                symbology: "pdf417",
                fields,
                error,
                tolerated,
                text: None,
                printed: None,
            });
        }
        for code in read_qr_codes(&img) {
            barcodes.push(BarcodeReport {
                side,
                symbology: "qr",
                fields: None,
                error: None,
                tolerated: Vec::new(),
                text: String::from_utf8(code.payload).ok(),
                printed: None,
            });
        }
    }
    barcodes
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// A face found in the image turned 180°, in the original image's coordinates.
fn unrotate(face: DetectedFace, (w, h): (u32, u32)) -> DetectedFace {
    let (w, h) = (w as f32, h as f32);
    let [x, y, bw, bh] = face.bbox;
    // Landmarks are in the person's order (their right eye first), which turning the
    // picture does not change: only positions move.
    let landmarks = face.landmarks.map(|[px, py]| [w - px, h - py]);
    DetectedFace {
        bbox: [w - x - bw, h - y - bh, bw, bh],
        landmarks,
        score: face.score,
    }
}

fn assemble(
    mrz: Option<MrzFound>,
    barcodes: Vec<BarcodeReport>,
    portrait: Option<PortraitReport>,
    saw_mrz_lines: bool,
    today: Date,
    timings_ms: DocumentTimings,
) -> DocumentReport {
    let mut reasons = Vec::new();
    let aamva = barcodes.iter().find_map(|b| b.fields.clone());
    if barcodes.iter().any(|b| b.error.is_some()) {
        reasons.push(DocumentReason::BarcodeInvalid);
    }
    let (kind, fields, check_digits, mrz_report) = match &mrz {
        Some(MrzFound {
            side,
            reading,
            printed,
        }) => {
            let m: &Mrz = &reading.mrz;
            if !m.all_check_digits_valid() {
                reasons.push(DocumentReason::MrzCheckDigitFailed);
            }
            if !m.field_errors.is_empty() {
                reasons.push(DocumentReason::MrzFieldInvalid);
            }
            if !m.uncertain.is_empty() {
                reasons.push(DocumentReason::MrzUncertain);
            }
            if !printed.identity_confirmed() {
                reasons.push(DocumentReason::DocumentPrintedMismatch);
            }
            let report = MrzReport {
                side: *side,
                lines: m.lines.clone(),
                upside_down: reading.upside_down,
                names_truncated: m.names_truncated,
                uncertain: m.uncertain.clone(),
                corrections: m.corrections.clone(),
                names_printed: m.names_printed,
                fillers_by_shape: m.fillers_by_shape,
                field_errors: m.field_errors.iter().map(|e| e.code()).collect(),
                printed: *printed,
            };
            (
                m.kind,
                m.fields.clone(),
                m.check_digits.clone(),
                Some(report),
            )
        }
        None => match &aamva {
            Some(fields) => {
                let unconfirmed = barcodes
                    .iter()
                    .filter_map(|b| b.printed)
                    .any(|p| !p.identity_confirmed());
                if unconfirmed {
                    reasons.push(DocumentReason::DocumentPrintedMismatch);
                }
                (DocumentKind::Aamva, fields.clone(), Vec::new(), None)
            }
            None => {
                reasons.push(if saw_mrz_lines {
                    DocumentReason::MrzUnreadable
                } else {
                    DocumentReason::DocumentNotFound
                });
                (
                    DocumentKind::Unknown,
                    DocumentFields::default(),
                    Vec::new(),
                    None,
                )
            }
        },
    };
    if let (Some(_), Some(barcode)) = (&mrz, &aamva) {
        if disagree(&fields, barcode) {
            reasons.push(DocumentReason::MrzBarcodeMismatch);
        }
    }
    let expired = fields.expiry_date.map(|e| e < today);
    if expired == Some(true) {
        reasons.push(DocumentReason::DocumentExpired);
    }
    if kind != DocumentKind::Unknown && portrait.is_none() {
        reasons.push(DocumentReason::PortraitMissing);
    }
    reasons.sort();
    reasons.dedup();
    DocumentReport {
        kind,
        fields,
        check_digits,
        expired,
        mrz: mrz_report,
        barcodes,
        portrait,
        reasons,
        timings_ms,
    }
}

/// Whether an MRZ and a barcode of one card state different facts: birth date, expiry,
/// document number or surname (the MRZ's surname may be truncated, so a prefix agrees).
fn disagree(mrz: &DocumentFields, barcode: &DocumentFields) -> bool {
    let differs =
        |a: &Option<Date>, b: &Option<Date>| matches!((a, b), (Some(x), Some(y)) if x != y);
    let letters = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    };
    let name_differs = match (&mrz.surname, &barcode.surname) {
        (Some(a), Some(b)) => {
            let (a, b) = (letters(a), letters(&b.to_ascii_uppercase()));
            !b.starts_with(&a) && !a.starts_with(&b)
        }
        _ => false,
    };
    let number_differs = matches!((&mrz.document_number, &barcode.document_number), (Some(a), Some(b)) if letters(a) != letters(b));
    differs(&mrz.birth_date, &barcode.birth_date)
        || differs(&mrz.expiry_date, &barcode.expiry_date)
        || name_differs
        || number_differs
}
