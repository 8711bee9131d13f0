//! `reclaim-lab bench`: latency of each face model and of the whole compare on this machine,
//! and of the QR hand-off's decode on a camera frame with no code in it.
//!
//! Figures are medians over `--runs` after one warm-up run. `--export DIR` writes the
//! prepared graphs and the exact input tensors used, so another runtime (the project's
//! `bench/face_bench.py` runs onnxruntime) can be timed on the very same work.

use std::path::{Path, PathBuf};
use std::time::Instant;

use reclaim_client::handoff::find_code;
use reclaim_verify::face::{align_face, FaceDetector, FaceEmbedder};
use reclaim_verify::models::{ModelId, ModelStore, OpTime};
use reclaim_verify::{load_image_file, onnx_prep, FaceEngine, ImageLimits, VerifyError};
use serde::Serialize;

use crate::output::{fail_with, print_json, say, Exit};
use reclaim_cli::commands::compare::{both, engine_options, CommonFlags};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Two photos of faces; the compare path runs on them.
    #[arg(num_args = 2, required = true)]
    pub images: Vec<PathBuf>,
    /// Timed runs per figure.
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    /// Thread counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// Write the prepared models and input tensors here.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// Also show where each model's time goes, operator by operator.
    #[arg(long)]
    pub ops: bool,
    #[command(flatten)]
    pub common: CommonFlags,
}

#[derive(Serialize)]
struct ThreadFigures {
    threads: usize,
    prepare_ms: f64,
    detector_320_ms: f64,
    detector_640_ms: f64,
    embedder_ms: f64,
    /// Both images: detect, check, align, embed; then the cosine. Sequential, tract using
    /// `threads` inside each inference.
    compare_ms: f64,
    /// The same, the two images analysed side by side, each inference single-threaded.
    compare_side_by_side_ms: Option<f64>,
}

#[derive(Serialize)]
struct BenchReport {
    machine: String,
    runs: usize,
    images: Vec<String>,
    figures: Vec<ThreadFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ops: Option<OpsReport>,
    qr_frames: Vec<QrFrameFigure>,
}

/// The phone hand-off's scan of one camera frame ([`find_code`]) on one of the images,
/// resized to a camera frame's size: a frame with no code in it, the hand-off's commonest
/// and dearest frame.
#[derive(Serialize)]
struct QrFrameFigure {
    image: String,
    width: u32,
    height: u32,
    ms: f64,
}

/// Camera frame sizes the hand-off decode is timed at.
const QR_FRAME_SIZES: [(u32, u32); 3] = [(640, 480), (1280, 720), (1920, 1080)];

#[derive(Serialize)]
struct OpsReport {
    detector_320: Vec<OpTime>,
    embedder: Vec<OpTime>,
}

fn median_ms(
    runs: usize,
    mut f: impl FnMut() -> Result<(), VerifyError>,
) -> Result<f64, VerifyError> {
    f()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

pub fn run(args: BenchArgs) -> Exit {
    match bench(&args) {
        Ok(report) => {
            if args.common.json {
                print_json(&report);
            } else {
                print_table(&report);
            }
            Exit::Yes
        }
        Err(e) => fail_with(args.common.json, "bench", &e),
    }
}

fn bench(args: &BenchArgs) -> Result<BenchReport, VerifyError> {
    let limits = ImageLimits::default();
    let a = load_image_file(&args.images[0], &limits)?.rgb;
    let b = load_image_file(&args.images[1], &limits)?.rgb;
    let mut figures = Vec::new();
    let mut ops = None;
    for &threads in &args.threads {
        let threads = threads.max(1);
        let mut options = engine_options(args.common.models.as_deref());
        options.intra_op_threads = threads;
        let t = Instant::now();
        let engine = FaceEngine::load(options)?;
        let prepare_ms = t.elapsed().as_secs_f64() * 1000.0;

        let faces = engine.detector().detect(&a)?;
        let face = faces
            .first()
            .ok_or_else(|| VerifyError::CorruptImage("no face in the first image".into()))?;
        let aligned = align_face(&a, &face.landmarks).ok_or_else(|| {
            VerifyError::CorruptImage("the first image's face cannot be aligned".into())
        })?;
        let (input_320, _) = FaceDetector::model_input(&a, 320);
        let (input_640, _) = FaceDetector::model_input(&a, 640);
        let embed_input = FaceEmbedder::model_input(&aligned);
        if let Some(dir) = &args.export {
            export(
                dir,
                args.common.models.as_deref(),
                &input_320,
                &input_640,
                &embed_input,
            )?;
        }
        if args.ops && ops.is_none() {
            ops = Some(OpsReport {
                detector_320: engine.detector().profile(320, &input_320, args.runs)?,
                embedder: engine.embedder().profile(&embed_input, args.runs)?,
            });
        }
        let detector_320_ms = median_ms(args.runs, || {
            engine.detector().infer(320, input_320.clone()).map(drop)
        })?;
        let detector_640_ms = median_ms(args.runs, || {
            engine.detector().infer(640, input_640.clone()).map(drop)
        })?;
        let embedder_ms = median_ms(args.runs, || {
            engine.embedder().infer(embed_input.clone()).map(drop)
        })?;
        let compare_ms = median_ms(args.runs, || {
            let (x, y) = (engine.analyze(&a)?, engine.analyze(&b)?);
            engine.compare(&x, &y);
            Ok(())
        })?;
        let compare_side_by_side_ms = if threads > 1 {
            let mut single = engine_options(args.common.models.as_deref());
            single.intra_op_threads = 1;
            let engine = FaceEngine::load(single)?;
            Some(median_ms(args.runs, || {
                let (x, y) = both(true, || engine.analyze(&a), || engine.analyze(&b));
                engine.compare(&x?, &y?);
                Ok(())
            })?)
        } else {
            None
        };
        figures.push(ThreadFigures {
            threads,
            prepare_ms,
            detector_320_ms,
            detector_640_ms,
            embedder_ms,
            compare_ms,
            compare_side_by_side_ms,
        });
    }
    let mut qr_frames = Vec::new();
    for (path, img) in args.images.iter().zip([&a, &b]) {
        for (width, height) in QR_FRAME_SIZES {
            let frame =
                image::imageops::resize(img, width, height, image::imageops::FilterType::Triangle);
            let ms = median_ms(args.runs, || {
                find_code(&frame);
                Ok(())
            })?;
            qr_frames.push(QrFrameFigure {
                image: path.display().to_string(),
                width,
                height,
                ms,
            });
        }
    }
    Ok(BenchReport {
        machine: machine_description(),
        runs: args.runs,
        images: args
            .images
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        figures,
        ops,
        qr_frames,
    })
}

fn export(
    dir: &Path,
    models: Option<&Path>,
    input_320: &[f32],
    input_640: &[f32],
    embed: &[f32],
) -> Result<(), VerifyError> {
    let io = |path: PathBuf| move |source| VerifyError::Io { path, source };
    std::fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
    let store = models.map_or_else(ModelStore::discover, ModelStore::in_dir);
    for (id, name) in [
        (ModelId::FaceDetector, "face_detector.onnx"),
        (ModelId::FaceEmbedder, "face_embedder.onnx"),
    ] {
        let proto = store.read_verified(id)?.into_prepared_proto()?;
        let path = dir.join(name);
        std::fs::write(&path, onnx_prep::encode(&proto)).map_err(io(path.clone()))?;
    }
    for (name, data) in [
        ("detector_320.f32", input_320),
        ("detector_640.f32", input_640),
        ("embedder.f32", embed),
    ] {
        let path = dir.join(name);
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&path, bytes).map_err(io(path.clone()))?;
    }
    Ok(())
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores available")
}

fn print_table(report: &BenchReport) {
    say!("{} ({} runs, medians, ms)\n", report.machine, report.runs);
    say!("| threads | prepare | YuNet 320 | YuNet 640 | SFace | compare | compare, images side by side |");
    say!("| --- | --- | --- | --- | --- | --- | --- |");
    for f in &report.figures {
        say!(
            "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            f.threads,
            f.prepare_ms,
            f.detector_320_ms,
            f.detector_640_ms,
            f.embedder_ms,
            f.compare_ms,
            f.compare_side_by_side_ms
                .map_or("-".into(), |v| format!("{v:.2}"))
        );
    }
    say!("\nQR hand-off scan, a frame with no code (median ms):\n");
    say!("| image | frame | ms |");
    say!("| --- | --- | --- |");
    for q in &report.qr_frames {
        say!("| {} | {}x{} | {:.2} |", q.image, q.width, q.height, q.ms);
    }
    if let Some(ops) = &report.ops {
        for (name, table) in [("YuNet 320", &ops.detector_320), ("SFace", &ops.embedder)] {
            say!("\n{name}, by operator (mean ms per run):\n");
            say!("| operator | nodes | ms |");
            say!("| --- | --- | --- |");
            for op in table.iter().filter(|o| o.ms >= 0.01) {
                say!("| {} | {} | {:.2} |", op.op, op.count, op.ms);
            }
        }
    }
}
