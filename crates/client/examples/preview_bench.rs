//! How fast live guidance is: the analysis the preview runs on each frame (face
//! detection, alignment, quality; no embedding), the preview's JPEG, and the whole
//! pipeline fed by a 30 fps camera (how many frames it analyses and how many it drops).
//!
//! `cargo run --release -p reclaim-client --example preview_bench [SECONDS]`
//! Frames are generated (a head following a challenge, crates/facegen) at 640x480 and
//! 1280x720, as webcams deliver them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use image::imageops::FilterType;
use reclaim_client::capture::{Capture, Mode};
use reclaim_client::frames::{FileSource, Scene};
use reclaim_client::guidance::look_at_face;
use reclaim_fixtures::scenes::{write_scenes, SceneSpec};
use reclaim_protocol::ChallengeAction;
use reclaim_verify::Engines;

const PHOTO: &[u8] = include_bytes!("../../../tests/data/faces/ardern-1.jpg");

fn stats(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95), ms.iter().sum::<f64>() / ms.len() as f64)
}

fn main() -> Result<(), String> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("reclaim-preview-bench-{}", std::process::id()));
    write_scenes(
        &dir,
        &SceneSpec {
            portrait_jpeg: PHOTO,
            selfie_jpeg: PHOTO,
            surname: "QUINN",
            given_names: "AVERY",
            seed: 1,
        },
    )?;
    let engine = Arc::new(Engines::load(None).map_err(|e| e.to_string())?);
    let seq = dir.join("selfie/left-right-center");
    let mut frames = Vec::new();
    for entry in std::fs::read_dir(&seq).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        frames.push(image::open(&path).map_err(|e| e.to_string())?.to_rgb8());
    }
    println!(
        "{} frames of a head following left, right, centre; {} threads available",
        frames.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| frame size | guidance analysis p50 / p95 / mean (ms) | preview JPEG p50 (ms) |");
    println!("|---|---|---|");
    for (w, h) in [(640, 480), (1280, 720)] {
        let sized: Vec<_> = frames
            .iter()
            .map(|f| image::imageops::resize(f, w, h, FilterType::Triangle))
            .collect();
        let mut analysis = Vec::new();
        let mut jpeg = Vec::new();
        for _ in 0..5 {
            for f in &sized {
                let t = Instant::now();
                look_at_face(&engine.faces, f).map_err(|e| e.to_string())?;
                analysis.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                let small = if w > 640 {
                    image::imageops::resize(f, 640, 360, FilterType::Triangle)
                } else {
                    f.clone()
                };
                let mut out = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
                    .encode_image(&small)
                    .map_err(|e| e.to_string())?;
                jpeg.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let (p50, p95, mean) = stats(analysis);
        println!(
            "| {w}x{h} | {p50:.1} / {p95:.1} / {mean:.1} | {:.1} |",
            stats(jpeg).0
        );
    }

    // The pipeline under a 30 fps source: the analyser takes the newest frame whenever
    // it is free; the rest are dropped, never queued.
    let capture = Capture::start(
        Box::new(FileSource::open(&dir, 30.0).map_err(|e| e.to_string())?),
        engine.clone(),
    );
    let challenge = vec![
        ChallengeAction::Left,
        ChallengeAction::Right,
        ChallengeAction::Center,
    ];
    capture.set_mode(Scene::Selfie(challenge), Mode::FacePreview);
    std::thread::sleep(Duration::from_secs(1));
    let _ = capture.take_stats();
    std::thread::sleep(Duration::from_secs(seconds));
    let (ms, delivered) = capture.take_stats();
    let analysed = ms.len();
    let (p50, p95, _) = stats(ms);
    println!(
        "pipeline at 30 fps for {seconds} s: {delivered} frames delivered ({:.1}/s), {analysed} analysed ({:.1}/s), {} dropped; analysis p50 {p50:.1} ms, p95 {p95:.1} ms",
        delivered as f64 / seconds as f64,
        analysed as f64 / seconds as f64,
        delivered.saturating_sub(analysed as u64)
    );
    drop(capture);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
