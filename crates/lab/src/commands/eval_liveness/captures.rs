//! `reclaim-lab eval-liveness --captures DIR`: the liveness checks on an operator's own
//! labelled recordings, so the error rates can be measured on their cameras, rooms and
//! staff rather than on generated faces.
//!
//! DIR holds one folder per capture, each with a `capture.json`:
//!
//! ```json
//! {
//!   "label": "genuine",
//!   "challenge": ["left", "right", "center"],
//!   "light": "cyan:420,amber:350,green:560",
//!   "frames": [{"file": "00000.jpg", "t_ms": 0}, {"file": "00001.jpg", "t_ms": 181}]
//! }
//! ```
//!
//! `label` is `genuine` or the attack's type (`print`, `screen`, `replay`, anything: each
//! is its own row); `light` is the session's light in its stored form, or absent when the
//! capture was made without one. Frames are decoded within the server's capture limits
//! and judged with the default policy, one capture at a time.

use std::collections::BTreeMap;
use std::path::Path;

use reclaim_protocol::{ChallengeAction, LightSequence};
use reclaim_verify::liveness::{evaluate, observe_all, LivenessPolicy, TimedFrame};
use reclaim_verify::{load_image_bytes, FaceEngine, CAPTURE_LIMITS};
use serde::{Deserialize, Serialize};

/// Largest `capture.json` read.
const MAX_MANIFEST_BYTES: u64 = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    label: String,
    challenge: Vec<ChallengeAction>,
    #[serde(default)]
    light: Option<String>,
    frames: Vec<ManifestFrame>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFrame {
    file: String,
    t_ms: u64,
}

/// One capture's verdict.
#[derive(Serialize)]
pub struct CaptureVerdict {
    pub capture: String,
    pub label: String,
    pub live: bool,
    pub reasons: Vec<String>,
    pub light_correlation: Option<f32>,
    pub light_swing: Option<f32>,
}

/// Per label: captures and how many were judged live.
#[derive(Serialize, Default)]
pub struct LabelRow {
    pub captures: u64,
    pub judged_live: u64,
    /// BPCER for `genuine`, APCER for any other label, in percent.
    pub error_rate_pct: f64,
}

fn judge_one(engine: &FaceEngine, dir: &Path, threads: usize) -> Result<CaptureVerdict, String> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest_path = dir.join("capture.json");
    let len = std::fs::metadata(&manifest_path)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?
        .len();
    if len > MAX_MANIFEST_BYTES {
        return Err(format!(
            "{}: larger than {MAX_MANIFEST_BYTES} bytes",
            manifest_path.display()
        ));
    }
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    if m.frames.is_empty() || m.frames.len() > CAPTURE_LIMITS.max_frames {
        return Err(format!(
            "{name}: {} frames; 1 to {} are judged",
            m.frames.len(),
            CAPTURE_LIMITS.max_frames
        ));
    }
    let light = m
        .light
        .as_deref()
        .map(LightSequence::split)
        .transpose()
        .map_err(|e| format!("{name}: light: {e}"))?;
    let mut images = Vec::with_capacity(m.frames.len());
    for f in &m.frames {
        // A bare file name: a manifest cannot point outside its folder.
        if f.file.contains(['/', '\\']) || f.file.starts_with('.') {
            return Err(format!(
                "{name}: frame file {:?} is not a plain name",
                f.file
            ));
        }
        let bytes =
            std::fs::read(dir.join(&f.file)).map_err(|e| format!("{name}/{}: {e}", f.file))?;
        let image = load_image_bytes(&bytes, &CAPTURE_LIMITS.frame())
            .map_err(|e| format!("{name}/{}: {e}", f.file))?;
        images.push((image.rgb, f.t_ms));
    }
    let timed = TimedFrame::all(images.iter().map(|(i, t)| (i, *t)));
    let observations =
        observe_all(engine, &timed, threads.max(1)).map_err(|e| format!("{name}: {e}"))?;
    let report = evaluate(
        &observations,
        &m.challenge,
        light.as_ref(),
        &[],
        &LivenessPolicy::default(),
    );
    Ok(CaptureVerdict {
        capture: name,
        label: m.label,
        live: report.live,
        reasons: report
            .reasons
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        light_correlation: report.light.as_ref().map(|l| l.correlation),
        light_swing: report.light.as_ref().and_then(|l| l.swing),
    })
}

/// Judges every capture folder under `dir`, in name order: the verdicts and the rates per
/// label.
pub fn judge_all(
    engine: &FaceEngine,
    dir: &Path,
    threads: usize,
) -> Result<(Vec<CaptureVerdict>, BTreeMap<String, LabelRow>), String> {
    let mut folders: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("capture.json").is_file())
        .collect();
    folders.sort();
    if folders.is_empty() {
        return Err(format!("{}: no folder with a capture.json", dir.display()));
    }
    let mut verdicts = Vec::new();
    let mut rows: BTreeMap<String, LabelRow> = BTreeMap::new();
    for folder in folders {
        let v = judge_one(engine, &folder, threads)?;
        let row = rows.entry(v.label.clone()).or_default();
        row.captures += 1;
        row.judged_live += u64::from(v.live);
        verdicts.push(v);
    }
    for (label, row) in rows.iter_mut() {
        let errors = if label == "genuine" {
            row.captures - row.judged_live
        } else {
            row.judged_live
        };
        row.error_rate_pct = 100.0 * errors as f64 / row.captures.max(1) as f64;
    }
    Ok((verdicts, rows))
}
