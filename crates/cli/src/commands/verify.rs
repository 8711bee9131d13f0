//! `reclaim verify`: the whole on-device decision. The document and its portrait (or an
//! enrolled template), the selfie frames, capture quality and liveness against the
//! challenge. Exit 0 verified, 1 rejected, 2 bad input, 3 `verified_without_liveness`
//! (`--skip-liveness`: the face matched, and nothing proves a live person).

use reclaim_protocol::{Code, LightSequence};
use std::path::{Path, PathBuf};
use std::time::Instant;

use reclaim_verify::capture::{
    decode_capture, read_capture_files, DecodedCapture, Piece, CAPTURE_LIMITS,
};
use reclaim_verify::document::DocumentReader;
use reclaim_verify::liveness::{
    parse_challenge, LivenessPolicy, PassiveModel, PassiveModelConfig, TimedFrame,
};
use reclaim_verify::template::FaceTemplate;
use reclaim_verify::verifier::{DeviceVerdict, Verification, Verifier, VerifyRequest};
use reclaim_verify::{CaptureError, FaceEngine};
use serde::Serialize;

use super::compare::{both, engine_options, EngineFlags};
use super::document::TodayFlag;
use crate::output::{fail, fail_with, print_json, say, Exit};

/// Selfie frames one verification accepts: the capture limits' (`reclaim_verify::capture`),
/// as the app and the server apply them.
pub const MAX_SELFIE_FRAMES: usize = CAPTURE_LIMITS.max_frames;

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Photo of the ID (the side with the portrait; a passport's data page).
    #[arg(long)]
    pub id: Option<PathBuf>,
    /// Photo of the ID's other side, when it carries the MRZ or the barcode.
    #[arg(long, requires = "id")]
    pub id_back: Option<PathBuf>,
    /// The selfie frames, in the order they were taken.
    #[arg(long, num_args = 1.., required = true)]
    pub selfie: Vec<PathBuf>,
    /// The liveness challenge the backend chose: actions separated by commas, from left,
    /// right, up, down, center (the person's own left and right).
    #[arg(long, required_unless_present = "skip_liveness")]
    pub challenge: Option<String>,
    /// The screen-light sequence the backend chose and the app showed from the first
    /// frame: `colour:milliseconds` steps separated by commas (amber, green, cyan,
    /// magenta; 350 to 2000 ms each), e.g. `cyan:420,amber:350,green:560`. Without it the
    /// light is not judged.
    #[arg(long)]
    pub light: Option<String>,
    /// Frames per second of the selfie frames (their timestamps are then 1000/N apart).
    #[arg(long, conflicts_with = "timestamps")]
    pub fps: Option<f32>,
    /// Each frame's capture time in milliseconds, separated by commas.
    #[arg(long, value_delimiter = ',')]
    pub timestamps: Option<Vec<u64>>,
    /// A returning user's face template (from `reclaim enroll`), instead of an ID.
    #[arg(long)]
    pub enrolled: Option<PathBuf>,
    /// Face hashes of this user's earlier sessions (hex, one per line): a frame seen before
    /// is a replay.
    #[arg(long, value_name = "FILE")]
    pub seen: Option<PathBuf>,
    /// An operator's passive anti-spoof model: a JSON configuration (path, sha256,
    /// input_size, crop_scale, live_class, min_live_probability; see docs/liveness.md).
    #[arg(long, value_name = "CONFIG")]
    pub passive_model: Option<PathBuf>,
    /// Judge the face match only (testing). A match is never `verified`: the decision is
    /// `verified_without_liveness` and the exit code 3; a mismatch is still `rejected`.
    #[arg(long)]
    pub skip_liveness: bool,
    #[command(flatten)]
    pub today: TodayFlag,
    #[command(flatten)]
    pub engine: EngineFlags,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    verification: &'a Verification,
    frames: usize,
    process_ms: ProcessTimings,
}

/// The decision this command reports. Without liveness nothing proves a live person, so a
/// face match under `--skip-liveness` is not `verified`, whatever the engine concluded.
fn decision_of(verification: &Verification, skip_liveness: bool) -> (&'static str, Exit) {
    match verification.decision {
        DeviceVerdict::Rejected => ("rejected", Exit::No),
        DeviceVerdict::Verified if skip_liveness || verification.liveness.skipped => {
            ("verified_without_liveness", Exit::Unproven)
        }
        DeviceVerdict::Verified => ("verified", Exit::Yes),
    }
}

#[derive(Serialize)]
struct ProcessTimings {
    load: f64,
    total: f64,
}

pub fn run(args: VerifyArgs) -> Exit {
    let started = Instant::now();
    let json = args.engine.json;
    if args.id.is_none() && args.enrolled.is_none() {
        return fail(
            json,
            Code::ReferenceMissing,
            "give --id (first verification) or --enrolled (returning user): the selfie must be compared with something",
        );
    }
    if args.selfie.len() > MAX_SELFIE_FRAMES {
        return fail(
            json,
            Code::TooManyFrames,
            &format!(
                "{} selfie frames; at most {MAX_SELFIE_FRAMES} are accepted",
                args.selfie.len()
            ),
        );
    }
    let challenge = match &args.challenge {
        Some(text) => match parse_challenge(text) {
            Ok(c) => c,
            Err(e) => return fail(json, e.code(), &format!("--challenge: {e}")),
        },
        None => Vec::new(),
    };
    let light = match args.light.as_deref().map(LightSequence::split).transpose() {
        Ok(l) => l,
        Err(e) => return fail(json, Code::ChallengeInvalid, &format!("--light: {e}")),
    };
    let timestamps = match frame_times(&args) {
        Ok(t) => t,
        Err((code, message)) => return fail(json, code, &message),
    };
    let today = match args.today.date(json) {
        Ok(d) => d,
        Err(outcome) => return outcome,
    };
    let seen = match &args.seen {
        Some(path) => match read_seen(path) {
            Ok(s) => s,
            Err(message) => return fail(json, Code::InputInvalid, &message),
        },
        None => Vec::new(),
    };

    let options = engine_options(args.engine.models.as_deref());
    let store = options.models.clone();
    let parallel = args.engine.threads > 1;
    let wants_document = args.id.is_some();
    // Every image decodes while the models are prepared.
    let (images, models) = both(
        parallel,
        || load_all(&args),
        || {
            both(
                parallel,
                || FaceEngine::load(options),
                || wants_document.then(|| DocumentReader::load(&store, 1)),
            )
        },
    );
    let images = match images {
        Ok(i) => i,
        Err(error) => return report_load_failure(&args, &error, json),
    };
    let (faces, documents) = match models {
        (Ok(f), None) => (f, None),
        (Ok(f), Some(Ok(d))) => (f, Some(d)),
        (Err(e), _) | (_, Some(Err(e))) => return fail_with(json, "the models", &e),
    };
    let enrolled = match &args.enrolled {
        Some(path) => match read_template(path, &faces) {
            Ok(t) => Some(t),
            Err((code, message)) => return fail(json, code, &message),
        },
        None => None,
    };
    let passive = match &args.passive_model {
        Some(path) => {
            let config = match PassiveModelConfig::read(path) {
                Ok(c) => c,
                Err(message) => return fail(json, Code::PassiveModelInvalid, &message),
            };
            match PassiveModel::load(config, 1) {
                Ok(m) => Some(m),
                Err(e) => return fail_with(json, "the passive model", &e),
            }
        }
        None => None,
    };
    let load_ms = ms(started);

    let frames: Vec<TimedFrame> = images
        .selfies
        .iter()
        .zip(&timestamps)
        .map(|(img, &timestamp_ms)| TimedFrame {
            image: &img.rgb,
            timestamp_ms,
        })
        .collect();
    // Bare hashes: compared by the hash rule alone (liveness::replay::judge_replay).
    let seen_sessions: Vec<_> = (!seen.is_empty())
        .then(|| reclaim_verify::liveness::replay::SeenSession::hashes_only(&seen))
        .into_iter()
        .collect();
    let request = VerifyRequest {
        id_front: images.id_front.as_ref().map(|i| &i.rgb),
        id_back: images.id_back.as_ref().map(|i| &i.rgb),
        enrolled: enrolled.as_ref(),
        reference_held_by_server: false,
        selfies: &frames,
        challenge: &challenge,
        light: light.as_ref(),
        seen_hashes: &seen_sessions,
        skip_liveness: args.skip_liveness,
        today,
    };
    let verifier = Verifier {
        faces: &faces,
        documents: documents.as_ref(),
        liveness: LivenessPolicy::default(),
        passive: passive.as_ref(),
        threads: args.engine.threads.max(1),
    };
    let verification = match verifier.verify(&request) {
        Ok(v) => v,
        Err(e) => return fail(json, e.code(), &format!("verification: {e}")),
    };
    let (decision, outcome) = decision_of(&verification, args.skip_liveness);
    let output = Output {
        verification: &verification,
        frames: frames.len(),
        process_ms: ProcessTimings {
            load: load_ms,
            total: ms(started),
        },
    };
    if json {
        // The engine's own `decision` is replaced by this command's (see `decision_of`).
        match serde_json::to_value(&output) {
            Ok(mut value) => {
                value["decision"] = serde_json::Value::from(decision);
                print_json(&value);
            }
            Err(e) => {
                return fail(
                    json,
                    Code::OutputUnwritable,
                    &format!("the result as JSON: {e}"),
                )
            }
        }
    } else {
        print_human(&verification, decision);
    }
    outcome
}

/// Each frame's timestamp: given, derived from `--fps`, or 15 frames a second.
fn frame_times(args: &VerifyArgs) -> Result<Vec<u64>, (Code, String)> {
    let n = args.selfie.len();
    if let Some(times) = &args.timestamps {
        if times.len() != n {
            return Err((
                Code::TimestampsInvalid,
                format!("{} timestamps for {n} selfie frames", times.len()),
            ));
        }
        return Ok(times.clone());
    }
    let fps = args.fps.unwrap_or(15.0);
    if !(fps.is_finite() && (0.5..=240.0).contains(&fps)) {
        return Err((
            Code::TimestampsInvalid,
            format!("--fps {fps}: between 0.5 and 240 expected"),
        ));
    }
    Ok((0..n)
        .map(|i| (i as f64 * 1000.0 / f64::from(fps)).round() as u64)
        .collect())
}

/// Reads and decodes every image within the capture limits the app and the server
/// apply (`reclaim_verify::capture`): each file's size as it is read, then every image's
/// declared size and the capture's together from the headers, and only then the pixels.
fn load_all(args: &VerifyArgs) -> Result<DecodedCapture, CaptureError> {
    let files = read_capture_files(
        args.id.as_deref(),
        args.id_back.as_deref(),
        &args.selfie,
        &CAPTURE_LIMITS,
    )?;
    decode_capture(&files.bytes(), &CAPTURE_LIMITS)
}

/// A refused capture: the file at fault named, the stable code kept.
fn report_load_failure(args: &VerifyArgs, error: &CaptureError, json: bool) -> Exit {
    let path = match error.piece {
        Piece::IdFront => args.id.as_ref(),
        Piece::IdBack => args.id_back.as_ref(),
        Piece::Selfie(i) => args.selfie.get(i),
        Piece::Capture => None,
    };
    match path {
        Some(p) => fail_with(json, &p.display().to_string(), &error.error),
        None => fail(json, error.code(), &error.error.to_string()),
    }
}

/// Reads a face hash list: one 16-digit hex hash per line; blank lines and `#` comments
/// are skipped.
fn read_seen(path: &Path) -> Result<Vec<u64>, String> {
    const MAX_BYTES: u64 = 4 * 1024 * 1024;
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_BYTES {
        return Err(format!(
            "{}: {size} bytes; a hash list is at most {MAX_BYTES}",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hashes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match u64::from_str_radix(line, 16) {
            Ok(h) if line.len() == 16 => hashes.push(h),
            _ => {
                return Err(format!(
                    "{} line {}: not a 16-digit hex hash",
                    path.display(),
                    i + 1
                ))
            }
        }
    }
    Ok(hashes)
}

fn read_template(path: &Path, faces: &FaceEngine) -> Result<FaceTemplate, (Code, String)> {
    let size = std::fs::metadata(path)
        .map_err(|e| (Code::InputUnreadable, format!("{}: {e}", path.display())))?
        .len();
    if size > reclaim_verify::template::MAX_TEMPLATE_BYTES as u64 {
        return Err((
            Code::TemplateInvalid,
            format!("{}: {size} bytes is not a face template", path.display()),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| (Code::InputUnreadable, format!("{}: {e}", path.display())))?;
    FaceTemplate::parse(&bytes, &faces.digests().face_embedder)
        .map_err(|e| (e.code(), format!("{}: {e}", path.display())))
}

fn print_human(v: &Verification, decision: &str) {
    say!(
        "{}",
        match decision {
            "verified" => "VERIFIED",
            "verified_without_liveness" =>
                "LIVENESS SKIPPED: the face matched; nothing proves a live person (testing only, not a verification)",
            _ => "REJECTED",
        }
    );
    for m in &v.face_match {
        let against = match m.against {
            reclaim_verify::verifier::MatchReference::IdPortrait => "ID portrait",
            reclaim_verify::verifier::MatchReference::EnrolledTemplate => "enrolled template",
        };
        match m.score {
            Some(s) => say!(
                "   face vs {against}: {s:.3} (threshold {:.3}): {}",
                m.threshold,
                if m.same_person {
                    "same person"
                } else {
                    "not the same person"
                }
            ),
            None => say!("   face vs {against}: not compared"),
        }
    }
    if v.liveness.skipped {
        say!("   liveness: SKIPPED (testing only)");
    } else if let Some(l) = &v.liveness.report {
        say!("   liveness: {}", if l.live { "live" } else { "not shown" });
        for c in &l.checks {
            say!(
                "      {}: {:.3} (threshold {:.3}){}",
                c.name,
                c.score,
                c.threshold,
                if c.passed { "" } else { "  FAILED" }
            );
        }
    }
    if let Some(d) = &v.document {
        let kind = serde_json::to_value(d.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        say!(
            "   document: {kind}, {}",
            if d.passed() {
                "checks passed"
            } else {
                "checks failed"
            }
        );
    }
    for r in &v.reasons {
        say!("   reason: {r}");
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
