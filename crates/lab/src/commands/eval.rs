//! `reclaim-lab eval DIR`: scores every pair of a labelled photo set, the way `reclaim compare`
//! would, and prints genuine and impostor tables, with how many of each fall on either side
//! of a few thresholds (the figures the threshold and the review band are placed from).
//!
//! Photos are named `IDENTITY-N.ext`; or, with `--real DIR --set NAME`, they are one
//! labelled set of real photos as `scripts/real-material DIR --only faces --github` fetches
//! them (tests/data/real/faces.json, `github_only`). Besides photo-to-photo pairs, each photo is also
//! turned into an ID-portrait-sized copy (small, printed-looking, JPEG-compressed) and
//! compared with the *other* photos, since a live selfie against the portrait on a card is
//! the comparison the product really makes.

use reclaim_protocol::Code;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use reclaim_verify::face::DetectedFace;
use reclaim_verify::{
    compare_analyses, load_image_file, FaceAnalysis, FaceEngine, ImageLimits, ReasonCode,
};
use serde::Serialize;

use crate::output::{fail, fail_with, print_json, say, Exit};
use reclaim_cli::commands::compare::{engine_options, EngineFlags};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Directory of photos named IDENTITY-N.jpg (or .png, .webp).
    #[arg(required_unless_present = "real")]
    pub dir: Option<PathBuf>,
    /// Score a labelled set of real photos instead, from the folder `scripts/real-material
    /// DIR --only faces --github` filled (its faces/manifest.json names each photo's set and
    /// identity).
    #[arg(long, value_name = "DIR", conflicts_with = "dir", requires = "set")]
    pub real: Option<PathBuf>,
    /// The set to score with `--real`: `deepface` (the set the threshold was placed on) or
    /// `face-api.js` (held out).
    #[arg(long, value_name = "NAME", requires = "real")]
    pub set: Option<String>,
    /// Also save each simulated ID portrait here, to look at.
    #[arg(long, value_name = "DIR")]
    pub write_portraits: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineFlags,
}

#[derive(Serialize)]
struct PhotoResult {
    file: String,
    identity: String,
    reasons: Vec<ReasonCode>,
    portrait_reasons: Vec<ReasonCode>,
}

#[derive(Serialize, Clone)]
struct PairResult {
    kind: &'static str,
    a: String,
    b: String,
    genuine: bool,
    score: Option<f32>,
    same_person: bool,
}

#[derive(Serialize, Default)]
struct Summary {
    genuine_pairs: usize,
    impostor_pairs: usize,
    lowest_genuine: Option<f32>,
    highest_impostor: Option<f32>,
    /// Genuine pairs `compare` would call different (score or image quality).
    false_non_matches: usize,
    /// Impostor pairs `compare` would call the same person.
    false_matches: usize,
    /// Pairs with no score: a photo without exactly one usable face.
    unscored_genuine: usize,
    unscored_impostor: usize,
    /// Scored pairs on either side of each of [`REPORTED_THRESHOLDS`].
    at: Vec<AtThreshold>,
}

/// Thresholds the tables report, around the shipped one and its review band.
const REPORTED_THRESHOLDS: [f32; 6] = [0.40, 0.45, 0.50, 0.55, 0.60, 0.65];

#[derive(Serialize)]
struct AtThreshold {
    threshold: f32,
    /// Scored genuine pairs below it (a person refused, or sent to review).
    genuine_below: usize,
    /// Scored impostor pairs at or above it (an impostor let through).
    impostor_at_or_above: usize,
}

#[derive(Serialize)]
struct EvalReport {
    threshold: f32,
    photos: Vec<PhotoResult>,
    summary: BTreeMap<&'static str, Summary>,
    pairs: Vec<PairResult>,
}

struct Photo {
    file: String,
    identity: String,
    analysis: FaceAnalysis,
    portrait: FaceAnalysis,
}

pub fn run(args: EvalArgs) -> Exit {
    let listed = match (&args.dir, &args.real, &args.set) {
        (_, Some(real), Some(set)) => list_real_set(real, set),
        (Some(dir), _, _) => {
            list_photos(dir).map_err(|e| (Code::InputUnreadable, format!("{}: {e}", dir.display())))
        }
        _ => Err((
            Code::InputInvalid,
            "give a directory, or --real DIR --set NAME".into(),
        )),
    };
    let files = match listed {
        Ok(files) if files.len() >= 2 => files,
        Ok(_) => {
            return fail(
                args.engine.json,
                Code::InputInvalid,
                "the set needs at least two photos (a directory: named IDENTITY-N.jpg)",
            )
        }
        Err((code, message)) => return fail(args.engine.json, code, &message),
    };
    let mut options = engine_options(args.engine.models.as_deref());
    options.intra_op_threads = args.engine.threads.max(1);
    let engine = match FaceEngine::load(options) {
        Ok(engine) => engine,
        Err(e) => return fail_with(args.engine.json, "the face models", &e),
    };
    let mut photos = Vec::new();
    for Listed {
        path,
        identity,
        name: file,
    } in files
    {
        let image = match load_image_file(&path, &ImageLimits::default()) {
            Ok(image) => image,
            Err(e) => return fail_with(args.engine.json, &path.display().to_string(), &e),
        };
        let analysis = match engine.analyze(&image.rgb) {
            Ok(a) => a,
            Err(e) => return fail_with(args.engine.json, &path.display().to_string(), &e),
        };
        let portrait_image = match analysis.face {
            Some(face) => simulate_id_portrait(&image.rgb, &face),
            None => RgbImage::from_pixel(150, 193, Rgb([255, 255, 255])),
        };
        if let Some(dir) = &args.write_portraits {
            let stem = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            let target = dir.join(format!("portrait-of-{stem}.png"));
            if let Err(e) = std::fs::create_dir_all(dir)
                .map_err(|e| e.to_string())
                .and_then(|_| portrait_image.save(&target).map_err(|e| e.to_string()))
            {
                return fail(
                    args.engine.json,
                    Code::OutputUnwritable,
                    &format!("{}: {e}", target.display()),
                );
            }
        }
        let portrait = match engine.analyze(&portrait_image) {
            Ok(a) => a,
            Err(e) => return fail_with(args.engine.json, &path.display().to_string(), &e),
        };
        photos.push(Photo {
            file,
            identity,
            analysis,
            portrait,
        });
    }

    let policy = engine.matching();
    let mut pairs = Vec::new();
    for (i, a) in photos.iter().enumerate() {
        for (j, b) in photos.iter().enumerate() {
            if i < j {
                let verdict = compare_analyses(&a.analysis, &b.analysis, &policy);
                pairs.push(PairResult {
                    kind: "photo",
                    a: a.file.clone(),
                    b: b.file.clone(),
                    genuine: a.identity == b.identity,
                    score: verdict.score,
                    same_person: verdict.same_person,
                });
            }
            if i != j {
                let verdict = compare_analyses(&a.portrait, &b.analysis, &policy);
                pairs.push(PairResult {
                    kind: "portrait",
                    a: format!("portrait of {}", a.file),
                    b: b.file.clone(),
                    genuine: a.identity == b.identity,
                    score: verdict.score,
                    same_person: verdict.same_person,
                });
            }
        }
    }
    let mut summary = BTreeMap::new();
    for kind in ["photo", "portrait"] {
        summary.insert(kind, summarize(pairs.iter().filter(|p| p.kind == kind)));
    }
    let report = EvalReport {
        threshold: policy.threshold,
        photos: photos
            .iter()
            .map(|p| PhotoResult {
                file: p.file.clone(),
                identity: p.identity.clone(),
                reasons: p.analysis.reasons.clone(),
                portrait_reasons: p.portrait.reasons.clone(),
            })
            .collect(),
        summary,
        pairs,
    };
    if args.engine.json {
        print_json(&report);
    } else {
        print_markdown(&report);
    }
    let perfect = report
        .summary
        .values()
        .all(|s| s.false_matches == 0 && s.false_non_matches == 0);
    if perfect {
        Exit::Yes
    } else {
        Exit::No
    }
}

/// A photo to score: where it is, whose it is, and the name the tables show.
struct Listed {
    path: PathBuf,
    identity: String,
    name: String,
}

/// The photos of one `github_only` set in `DIR/faces/manifest.json`.
fn list_real_set(dir: &Path, set: &str) -> Result<Vec<Listed>, (Code, String)> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        github_only: Option<GithubOnly>,
    }
    #[derive(serde::Deserialize)]
    struct GithubOnly {
        entries: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        id: String,
        set: String,
        local_path: String,
        identity: String,
    }
    let faces = dir.join("faces");
    let path = faces.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| (Code::InputUnreadable, format!("{}: {e}", path.display())))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| (Code::InputInvalid, format!("{}: {e}", path.display())))?;
    let entries = manifest.github_only.map(|g| g.entries).unwrap_or_default();
    let mut out = Vec::new();
    for e in entries.into_iter().filter(|e| e.set == set) {
        // The manifest is ours, but a path that climbs out of the folder is refused all
        // the same.
        if Path::new(&e.local_path)
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err((Code::InputInvalid, format!("{}: unsafe path", e.id)));
        }
        let path = faces.join(&e.local_path);
        if !path.is_file() {
            return Err((
                Code::InputUnreadable,
                format!(
                    "{} is missing: fetch it with scripts/real-material {} --only faces --github",
                    path.display(),
                    dir.display()
                ),
            ));
        }
        out.push(Listed {
            path,
            identity: e.identity,
            name: e.id,
        });
    }
    if out.is_empty() {
        return Err((
            Code::InputInvalid,
            format!("no photos of the set {set:?} in {}", path.display()),
        ));
    }
    Ok(out)
}

fn list_photos(dir: &Path) -> std::io::Result<Vec<Listed>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png" | "webp")) {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if let Some((identity, _)) = stem.rsplit_once('-') {
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            out.push(Listed {
                identity: identity.to_string(),
                name,
                path,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn summarize<'a>(pairs: impl Iterator<Item = &'a PairResult> + Clone) -> Summary {
    let mut s = Summary::default();
    for threshold in REPORTED_THRESHOLDS {
        let scored = pairs
            .clone()
            .filter_map(|p| p.score.map(|v| (p.genuine, v)));
        let (mut genuine_below, mut impostor_at_or_above) = (0, 0);
        for (genuine, score) in scored {
            match (genuine, score >= threshold) {
                (true, false) => genuine_below += 1,
                (false, true) => impostor_at_or_above += 1,
                _ => {}
            }
        }
        s.at.push(AtThreshold {
            threshold,
            genuine_below,
            impostor_at_or_above,
        });
    }
    for p in pairs {
        match (p.genuine, p.score) {
            (true, None) => s.unscored_genuine += 1,
            (false, None) => s.unscored_impostor += 1,
            _ => {}
        }
        if p.genuine {
            s.genuine_pairs += 1;
            if !p.same_person {
                s.false_non_matches += 1;
            }
            if let Some(score) = p.score {
                s.lowest_genuine = Some(s.lowest_genuine.map_or(score, |m: f32| m.min(score)));
            }
        } else {
            s.impostor_pairs += 1;
            if p.same_person {
                s.false_matches += 1;
            }
            if let Some(score) = p.score {
                s.highest_impostor = Some(s.highest_impostor.map_or(score, |m: f32| m.max(score)));
            }
        }
    }
    s
}

fn print_markdown(report: &EvalReport) {
    let fmt = |v: Option<f32>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    say!("Threshold: {:.3}\n", report.threshold);
    say!("| comparison | genuine pairs | impostor pairs | lowest genuine | highest impostor | false non-matches | false matches |");
    say!("| --- | --- | --- | --- | --- | --- | --- |");
    for (kind, s) in &report.summary {
        say!(
            "| {kind} | {} | {} | {} | {} | {} | {} |",
            s.genuine_pairs,
            s.impostor_pairs,
            fmt(s.lowest_genuine),
            fmt(s.highest_impostor),
            s.false_non_matches,
            s.false_matches
        );
    }
    say!("\nScored pairs on either side of each threshold (genuine below / impostors at or above):\n");
    let mut header = "| comparison | unscored genuine | unscored impostor |".to_string();
    let mut rule = "| --- | --- | --- |".to_string();
    for t in REPORTED_THRESHOLDS {
        header += &format!(" {t:.2} |");
        rule += " --- |";
    }
    say!("{header}");
    say!("{rule}");
    for (kind, s) in &report.summary {
        let mut row = format!(
            "| {kind} | {} | {} |",
            s.unscored_genuine, s.unscored_impostor
        );
        for a in &s.at {
            row += &format!(" {} / {} |", a.genuine_below, a.impostor_at_or_above);
        }
        say!("{row}");
    }
    for genuine in [true, false] {
        say!(
            "\n{} pairs:\n",
            if genuine { "Genuine" } else { "Impostor" }
        );
        say!("| kind | a | b | score | compare says |");
        say!("| --- | --- | --- | --- | --- |");
        let mut rows: Vec<&PairResult> = report
            .pairs
            .iter()
            .filter(|p| p.genuine == genuine)
            .collect();
        rows.sort_by(|x, y| y.score.unwrap_or(-2.0).total_cmp(&x.score.unwrap_or(-2.0)));
        for p in rows {
            let says = if p.same_person { "same" } else { "different" };
            say!(
                "| {} | {} | {} | {} | {says} |",
                p.kind,
                p.a,
                p.b,
                fmt(p.score)
            );
        }
    }
    let unusable: Vec<&PhotoResult> = report
        .photos
        .iter()
        .filter(|p| !p.reasons.is_empty() || !p.portrait_reasons.is_empty())
        .collect();
    if !unusable.is_empty() {
        say!("\nPhotos with quality findings:\n");
        for p in unusable {
            say!(
                "- {}: photo {:?}, portrait {:?}",
                p.file,
                p.reasons,
                p.portrait_reasons
            );
        }
    }
}

/// An ID-portrait-sized, printed-looking copy of the face: the synthetic documents' printed
/// portrait (head-and-shoulders at 35:45, ink-like contrast, blur and grain) 150 pixels
/// wide (the face about 70 pixels across, as on a card photographed at arm's length), then
/// JPEG at quality 40. Deterministic: the same photo gives the same portrait.
pub fn simulate_id_portrait(image: &RgbImage, face: &DetectedFace) -> RgbImage {
    reclaim_docgen::portrait::printed_portrait(image, face.bbox, 150, 193, Some(40))
}
