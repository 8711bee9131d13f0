//! `reclaim compare IMAGE_A IMAGE_B`: are the faces in two images the same person?
//! Exit 0 same person, 1 different person or no usable face, 2 bad input.

use std::path::{Path, PathBuf};
use std::time::Instant;

use reclaim_verify::engine::StageTimings;
use reclaim_verify::face::DetectedFace;
use reclaim_verify::models::ModelStore;
use reclaim_verify::quality::FaceQuality;
use reclaim_verify::{
    load_image_file, EngineOptions, FaceAnalysis, FaceEngine, ImageLimits, LoadedImage, ReasonCode,
    VerifyError,
};
use serde::Serialize;

use crate::output::{fail, fail_with, print_json, say, Exit};

#[derive(clap::Args)]
pub struct CompareArgs {
    /// First image (JPEG, PNG or WebP), e.g. the ID portrait.
    pub image_a: PathBuf,
    /// Second image, e.g. the selfie.
    pub image_b: PathBuf,
    #[command(flatten)]
    pub engine: EngineFlags,
}

/// `--json` and `--models`: the flags of every command that loads the models.
#[derive(clap::Args)]
pub struct CommonFlags {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Directory holding the model files (default: $RECLAIM_MODELS_DIR, then beside the
    /// executable, then the source tree).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
}

/// The flags every command that runs the engine on images shares: the common ones and
/// `--threads`.
#[derive(clap::Args)]
pub struct EngineFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// Threads to use: with 2 or more, independent pieces (the two images, the ID and the
    /// selfie frames) are analysed side by side.
    #[arg(long, default_value_t = default_threads())]
    pub threads: usize,
}

/// `args.engine.json` and `args.engine.models` read the common flags.
impl std::ops::Deref for EngineFlags {
    type Target = CommonFlags;
    fn deref(&self) -> &CommonFlags {
        &self.common
    }
}

pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

pub fn engine_options(models: Option<&Path>) -> EngineOptions {
    EngineOptions {
        models: models.map_or_else(ModelStore::discover, ModelStore::in_dir),
        ..EngineOptions::default()
    }
}

/// One image as the report shows it. Nothing biometric: the embedding stays out.
#[derive(Serialize)]
pub struct ImageReport {
    pub path: String,
    pub width: u32,
    pub height: u32,
    pub format: &'static str,
    pub orientation_applied: bool,
    pub faces_found: usize,
    pub face: Option<DetectedFace>,
    pub quality: Option<FaceQuality>,
    pub reasons: Vec<ReasonCode>,
    pub timings_ms: StageTimings,
}

impl ImageReport {
    pub fn new(path: &Path, image: &LoadedImage, analysis: &FaceAnalysis) -> Self {
        ImageReport {
            path: path.display().to_string(),
            width: image.rgb.width(),
            height: image.rgb.height(),
            format: image.format,
            orientation_applied: image.orientation_applied,
            faces_found: analysis.faces_found,
            face: analysis.face,
            quality: analysis.quality.clone(),
            reasons: analysis.reasons.clone(),
            timings_ms: analysis.timings_ms,
        }
    }
}

#[derive(Serialize)]
struct CompareReport {
    score: Option<f32>,
    threshold: f32,
    same_person: bool,
    reasons: Vec<ReasonCode>,
    image_a: ImageReport,
    image_b: ImageReport,
    models: reclaim_verify::engine::ModelDigests,
    timings_ms: Timings,
}

#[derive(Serialize)]
struct Timings {
    load_models: f64,
    total: f64,
}

/// Runs `a` and `b` side by side when `parallel`, one after the other otherwise.
pub fn both<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !parallel {
        return (a(), b());
    }
    std::thread::scope(|s| {
        let first = s.spawn(a);
        let second = b();
        match first.join() {
            Ok(first) => (first, second),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

pub fn run(args: CompareArgs) -> Exit {
    let started = Instant::now();
    let parallel = args.engine.threads > 1;
    let limits = ImageLimits::default();
    let read = |p: &PathBuf| load_image_file(p, &limits);

    // The models are prepared while the images are decoded: neither needs the other.
    let ((image_a, image_b), (engine, load_ms)) = both(
        parallel,
        || (read(&args.image_a), read(&args.image_b)),
        || {
            let t = Instant::now();
            let engine = FaceEngine::load(engine_options(args.engine.models.as_deref()));
            (engine, t.elapsed().as_secs_f64() * 1000.0)
        },
    );
    let image_a = match image_a {
        Ok(img) => img,
        Err(e) => return fail_with(args.engine.json, &args.image_a.display().to_string(), &e),
    };
    let image_b = match image_b {
        Ok(img) => img,
        Err(e) => return fail_with(args.engine.json, &args.image_b.display().to_string(), &e),
    };
    let engine = match engine {
        Ok(engine) => engine,
        Err(e) => return fail_with(args.engine.json, "the face models", &e),
    };

    let (analysis_a, analysis_b) = both(
        parallel,
        || engine.analyze(&image_a.rgb),
        || engine.analyze(&image_b.rgb),
    );
    let (analysis_a, analysis_b) = match (analysis_a, analysis_b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return engine_failure(args.engine.json, &e),
    };
    let verdict = engine.compare(&analysis_a, &analysis_b);
    let report = CompareReport {
        score: verdict.score,
        threshold: verdict.threshold,
        same_person: verdict.same_person,
        reasons: verdict.reasons,
        image_a: ImageReport::new(&args.image_a, &image_a, &analysis_a),
        image_b: ImageReport::new(&args.image_b, &image_b, &analysis_b),
        models: engine.digests().clone(),
        timings_ms: Timings {
            load_models: load_ms,
            total: started.elapsed().as_secs_f64() * 1000.0,
        },
    };
    if args.engine.json {
        print_json(&report);
    } else {
        print_human(&report);
    }
    if report.same_person {
        Exit::Yes
    } else {
        Exit::No
    }
}

fn engine_failure(json: bool, error: &VerifyError) -> Exit {
    fail(
        json,
        error.code(),
        &format!("the face engine failed: {error}"),
    )
}

fn print_human(report: &CompareReport) {
    let verdict = if report.same_person {
        "SAME PERSON"
    } else {
        "NOT THE SAME PERSON"
    };
    match report.score {
        Some(score) => say!(
            "{verdict}: similarity {score:.3} (threshold {:.3})",
            report.threshold
        ),
        None => say!("{verdict}: no comparison possible"),
    }
    for (label, image) in [("A", &report.image_a), ("B", &report.image_b)] {
        say!(
            "{label}: {} ({}x{} {})",
            image.path,
            image.width,
            image.height,
            image.format
        );
        if let (Some(face), Some(q)) = (&image.face, &image.quality) {
            say!(
                "   face {:.0}x{:.0} px at ({:.0}, {:.0}), confidence {:.2}; sharpness {:.0}, brightness {:.0}, yaw {:+.0}°, pitch {:+.0}°",
                face.bbox[2], face.bbox[3], face.bbox[0], face.bbox[1], face.score,
                q.sharpness, q.brightness, q.yaw_deg, q.pitch_deg
            );
        }
        for reason in &image.reasons {
            say!("   {}: {}", reason, reason.guidance());
        }
    }
    if report.reasons.contains(&ReasonCode::FaceMismatch) {
        say!(
            "{}: {}",
            ReasonCode::FaceMismatch,
            ReasonCode::FaceMismatch.guidance()
        );
    }
}
