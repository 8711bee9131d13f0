//! `reclaim-lab eval-liveness`: presents generated selfie sequences to the liveness checks,
//! genuine ones and one set per attack type, and counts what got through, the way
//! ISO/IEC 30107-3 reports it: the attack presentation classification error rate (APCER,
//! attacks accepted) per attack type, and the bona fide presentation classification error
//! rate (BPCER, genuine people rejected).
//!
//! Every sequence is made from the real photos in `tests/data/faces` by `reclaim-facegen`:
//! the head is given depth and turned through a random challenge, or the photo is shown as
//! a print or on a screen, and so on. See `docs/liveness.md` for what this can and cannot
//! claim.

use reclaim_protocol::Code;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;
use reclaim_docgen::Rng;
use reclaim_facegen::{attack, sequence, Frame, HeadModel};
use reclaim_verify::liveness::{
    evaluate, observe_all, parse_challenge, Action, LivenessPolicy, LivenessReport, TimedFrame,
};
use reclaim_verify::FaceEngine;
use serde::Serialize;

use super::eval_documents::analysed_photos;
use crate::output::{fail, fail_with, print_json, say, Exit};
use reclaim_cli::commands::compare::{engine_options, EngineFlags};

/// Photos turned further than this are not made into head models.
const FRONTAL_MAX_YAW_DEG: f32 = 10.0;

/// The presentation types, genuine first.
pub const KINDS: [&str; 9] = [
    "genuine",
    "still_repeated",
    "still_with_noise",
    "flat_print",
    "screen",
    "replay_other_challenge",
    "replay_seen_before",
    "face_swap",
    "puppet",
];

#[derive(clap::Args)]
pub struct EvalLivenessArgs {
    /// Sequences per presentation type.
    #[arg(long, default_value_t = 20)]
    pub count: u64,
    /// Presentation types (default: all): genuine, still_repeated, still_with_noise,
    /// flat_print, screen, replay_other_challenge, replay_seen_before, face_swap, puppet.
    #[arg(long, value_delimiter = ',')]
    pub kinds: Option<Vec<String>>,
    /// The actions challenges are drawn from.
    #[arg(long, default_value = "left,right,up,down,center")]
    pub actions: String,
    /// Frames per second of the generated sequences.
    #[arg(long, default_value_t = sequence::DEFAULT_FPS)]
    pub fps: f32,
    /// Face photos (IDENTITY-N.jpg); one head model per usable photo.
    #[arg(long, default_value = "tests/data/faces")]
    pub faces: PathBuf,
    // A failure: a sequence misclassified.
    #[command(flatten)]
    pub failures: super::FailureFlags,
    #[command(flatten)]
    pub engine: EngineFlags,
}

#[derive(Serialize, Default, Clone)]
struct Row {
    kind: String,
    presentations: u64,
    /// Judged live. For genuine sequences that is right; for attacks it is the error.
    accepted: u64,
    /// APCER for attacks, BPCER for genuine sequences, in percent.
    error_rate_pct: f64,
    /// How often each reason fired.
    reasons: BTreeMap<String, u64>,
    mean_frames: f64,
    mean_ms: f64,
    /// The parallax score (the anti-print check) over the sequences: least, median, most.
    parallax: Option<[f32; 3]>,
    /// The same for the dense flatness score (reported, not decided on), over the
    /// sequences that had a turned frame.
    surface_fit: Option<[f32; 3]>,
}

/// A person the sequences are made of: a head model from one photo.
pub struct Identity {
    pub name: String,
    pub model: HeadModel,
}

pub fn run(args: EvalLivenessArgs) -> Exit {
    let json = args.engine.json;
    let kinds: Vec<&str> = match &args.kinds {
        None => KINDS.to_vec(),
        Some(list) => {
            let mut kinds = Vec::new();
            for k in list {
                match KINDS.iter().find(|x| **x == k.as_str()) {
                    Some(k) => kinds.push(*k),
                    None => return fail(json, Code::InputInvalid, &format!("unknown kind {k}")),
                }
            }
            kinds
        }
    };
    let engine = match FaceEngine::load(engine_options(args.engine.models.as_deref())) {
        Ok(e) => e,
        Err(e) => return fail_with(json, "the face models", &e),
    };
    let people = match head_models(&args.faces, &engine) {
        Ok(p) => p,
        Err((code, message)) => return fail(json, code, &message),
    };
    let alphabet = match parse_challenge(&args.actions) {
        Ok(a) if a.iter().any(|a| matches!(a, Action::Left | Action::Right)) => a,
        Ok(_) => {
            return fail(
                json,
                Code::InputInvalid,
                "--actions must include left or right",
            )
        }
        Err(e) => return fail(json, e.code(), &format!("--actions: {e}")),
    };
    let policy = LivenessPolicy::default();
    let mut rows = Vec::new();
    for kind in kinds {
        let mut row = Row {
            kind: kind.to_string(),
            ..Row::default()
        };
        let (mut frames_total, mut ms_total) = (0usize, 0.0f64);
        let mut parallaxes: Vec<f32> = Vec::new();
        let mut fits: Vec<f32> = Vec::new();
        for seed in 0..args.count {
            let mut rng = Rng::new(seed * 104_729 + 11);
            let person = &people[(seed as usize) % people.len()];
            let challenge = random_challenge(&alphabet, &mut rng);
            let presented = match present(
                &engine, kind, person, &people, &challenge, args.fps, &mut rng,
            ) {
                Ok(p) => p,
                Err(e) => {
                    return fail(
                        json,
                        Code::InternalError,
                        &format!("{kind} seed {seed}: cannot generate: {e}"),
                    )
                }
            };
            let t = Instant::now();
            let report = match judge(&engine, &presented, &policy, args.engine.threads) {
                Ok(r) => r,
                Err(e) => {
                    return fail(
                        json,
                        Code::InternalError,
                        &format!("{kind} seed {seed}: {e}"),
                    );
                }
            };
            ms_total += t.elapsed().as_secs_f64() * 1000.0;
            frames_total += presented.frames.len();
            row.presentations += 1;
            row.accepted += u64::from(report.live);
            if let Some(c) = report.checks.iter().find(|c| c.name == "parallax") {
                parallaxes.push(c.score);
            }
            if let Some(fit) = report.surface_fit {
                fits.push(fit);
            }
            for r in &report.reasons {
                *row.reasons.entry(r.as_str().to_string()).or_default() += 1;
            }
            let wrong = report.live != (kind == "genuine");
            if wrong && args.failures.show {
                let failed: Vec<String> = report
                    .checks
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {:.3}/{:.3}{}",
                            c.name,
                            c.score,
                            c.threshold,
                            if c.passed { "" } else { "!" }
                        )
                    })
                    .collect();
                let track: Vec<String> = report
                    .frames
                    .iter()
                    .map(|f| match (f.yaw, f.pitch) {
                        (Some(y), Some(p)) => format!("{y:.0}/{p:.0}"),
                        _ => "-".into(),
                    })
                    .collect();
                eprintln!(
                    "{kind} seed {seed} ({}, {}): live={} reasons {:?}\n   {}\n   yaw/pitch: {}",
                    person.name,
                    challenge
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    report.live,
                    report
                        .reasons
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>(),
                    failed.join("  "),
                    track.join(" ")
                );
            }
            if let (true, Some(dir)) = (wrong, &args.failures.save) {
                let dir = dir.join(format!("{kind}-{seed}"));
                let _ = std::fs::create_dir_all(&dir);
                for (i, f) in presented.frames.iter().enumerate() {
                    let _ = f.image.save(dir.join(format!("{i:02}.jpg")));
                }
            }
        }
        if row.presentations > 0 {
            let errors = if kind == "genuine" {
                row.presentations - row.accepted
            } else {
                row.accepted
            };
            row.error_rate_pct = 100.0 * errors as f64 / row.presentations as f64;
            row.mean_frames = frames_total as f64 / row.presentations as f64;
            row.mean_ms = ms_total / row.presentations as f64;
        }
        row.parallax = spread(&mut parallaxes);
        row.surface_fit = spread(&mut fits);
        rows.push(row);
    }
    if json {
        print_json(&rows);
    } else {
        say!("| presentation | sequences | judged live | error rate | parallax min / median / max | surface fit min / median / max | mean frames | mean ms | reasons (how often) |");
        say!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for r in &rows {
            let rate = if r.kind == "genuine" {
                format!("BPCER {:.1}%", r.error_rate_pct)
            } else {
                format!("APCER {:.1}%", r.error_rate_pct)
            };
            let reasons: Vec<String> = r.reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
            say!(
                "| {} | {} | {} | {} | {} | {} | {:.1} | {:.0} | {} |",
                r.kind,
                r.presentations,
                r.accepted,
                rate,
                show_spread(r.parallax),
                show_spread(r.surface_fit),
                r.mean_frames,
                r.mean_ms,
                reasons.join(", ")
            );
        }
    }
    let attacks_stopped = rows
        .iter()
        .filter(|r| r.kind != "genuine")
        .all(|r| r.accepted == 0);
    let genuine_ok = rows
        .iter()
        .filter(|r| r.kind == "genuine")
        .all(|r| r.error_rate_pct <= 5.0);
    if attacks_stopped && genuine_ok {
        Exit::Yes
    } else {
        Exit::No
    }
}

/// Least, median and most of `values`; `None` when there are none.
fn spread(values: &mut [f32]) -> Option<[f32; 3]> {
    values.sort_by(f32::total_cmp);
    match (values.first(), values.last()) {
        (Some(&lo), Some(&hi)) => Some([lo, values[values.len() / 2], hi]),
        _ => None,
    }
}

fn show_spread(s: Option<[f32; 3]>) -> String {
    s.map_or_else(
        || "n/a".to_string(),
        |[lo, mid, hi]| format!("{lo:.3} / {mid:.3} / {hi:.3}"),
    )
}

/// A sequence to judge: its frames, the challenge it is judged against, and the face
/// hashes of this user's earlier sessions.
pub struct Presentation {
    pub frames: Vec<Frame>,
    pub challenge: Vec<Action>,
    pub seen: Vec<u64>,
}

/// A challenge as the backend draws one: three actions, no action twice in a row, at
/// least one turn to the side (the parallax check needs one), `center` only last (a head
/// going from one turn to another passes the centre anyway, so `left,center,right` would
/// be answered by a recording of `left,right`).
pub fn random_challenge(alphabet: &[Action], rng: &mut Rng) -> Vec<Action> {
    loop {
        let mut out: Vec<Action> = Vec::new();
        while out.len() < 3 {
            let a = *rng.pick(alphabet);
            if out.last() != Some(&a) && (a != Action::Center || out.len() == 2) {
                out.push(a);
            }
        }
        if out
            .iter()
            .any(|a| matches!(a, Action::Left | Action::Right))
        {
            return out;
        }
    }
}

/// Another challenge than `challenge`, as a replay against a fresh session would get.
fn other_challenge(challenge: &[Action], rng: &mut Rng) -> Vec<Action> {
    // Drawn from every action: a fresh session's challenge need not share the alphabet.
    let all = [
        Action::Left,
        Action::Right,
        Action::Up,
        Action::Down,
        Action::Center,
    ];
    loop {
        let c = random_challenge(&all, rng);
        if c != challenge {
            return c;
        }
    }
}

fn to_facegen(actions: &[Action]) -> Vec<sequence::Action> {
    actions
        .iter()
        .filter_map(|a| sequence::parse_challenge(a.as_str()).ok())
        .flatten()
        .collect()
}

/// Makes the presentation of type `kind` by `person` (and, for a swap, someone else).
pub fn present(
    engine: &FaceEngine,
    kind: &str,
    person: &Identity,
    people: &[Identity],
    challenge: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<Presentation, String> {
    let actions = to_facegen(challenge);
    let photo: &RgbImage = person.model.frame();
    let frame_count = (fps * 3.0).round().max(5.0) as usize;
    let plain = |frames| Presentation {
        frames,
        challenge: challenge.to_vec(),
        seen: Vec::new(),
    };
    let e = |e: reclaim_facegen::FacegenError| e.to_string();
    Ok(match kind {
        "genuine" => plain(sequence::genuine(&person.model, &actions, fps, rng).map_err(e)?),
        "still_repeated" => plain(attack::still_repeated(photo, frame_count, fps).map_err(e)?),
        "still_with_noise" => {
            plain(attack::still_with_noise(photo, frame_count, fps, rng).map_err(e)?)
        }
        "flat_print" => plain(attack::flat_print(photo, &actions, fps, rng).map_err(e)?),
        "screen" => plain(attack::screen(photo, &actions, fps, rng).map_err(e)?),
        "replay_other_challenge" => {
            // A genuine recording of an earlier session, presented to a new session with
            // its own challenge.
            let recorded = sequence::genuine(&person.model, &actions, fps, rng).map_err(e)?;
            Presentation {
                frames: attack::replayed(&recorded),
                challenge: other_challenge(challenge, rng),
                seen: Vec::new(),
            }
        }
        "replay_seen_before" => {
            // The same challenge (an attacker who waits for it to come round again), but
            // the backend kept this user's face hashes from the session recorded.
            let recorded = sequence::genuine(&person.model, &actions, fps, rng).map_err(e)?;
            let seen = face_hashes_of(engine, &recorded)?;
            Presentation {
                frames: attack::with_new_timestamps(&recorded, fps).map_err(e)?,
                challenge: challenge.to_vec(),
                seen,
            }
        }
        "face_swap" => {
            let other = people
                .iter()
                .filter(|p| p.name != person.name)
                .nth(rng.below(people.len().saturating_sub(1).max(1)))
                .or_else(|| people.iter().find(|p| p.name != person.name))
                .ok_or("no second identity")?;
            plain(attack::face_swap(&person.model, &other.model, &actions, fps, rng).map_err(e)?)
        }
        "puppet" => plain(attack::puppet(&person.model, &actions, fps).map_err(e)?),
        other => return Err(format!("unknown kind {other}")),
    })
}

/// The face hashes the backend kept from an earlier session with these frames: the
/// engine's own, from observing them.
fn face_hashes_of(engine: &FaceEngine, frames: &[Frame]) -> Result<Vec<u64>, String> {
    let timed = TimedFrame::all(frames.iter().map(|f| (&f.image, f.timestamp_ms)));
    let observations = observe_all(engine, &timed, 1).map_err(|e| e.to_string())?;
    Ok(observations.iter().filter_map(|o| o.face_hash).collect())
}

fn judge(
    engine: &FaceEngine,
    p: &Presentation,
    policy: &LivenessPolicy,
    threads: usize,
) -> Result<LivenessReport, String> {
    let frames = TimedFrame::all(p.frames.iter().map(|f| (&f.image, f.timestamp_ms)));
    let observations = observe_all(engine, &frames, threads.max(1)).map_err(|e| e.to_string())?;
    Ok(evaluate(&observations, &p.challenge, None, &p.seen, policy))
}

/// One head model per usable frontal photo in `dir` (IDENTITY-N.jpg), of two people at
/// least: the evaluations film impostors and replays with someone else's head.
pub fn head_models(dir: &Path, engine: &FaceEngine) -> Result<Vec<Identity>, (Code, String)> {
    let mut out = Vec::new();
    let photos = analysed_photos(dir, engine).map_err(|e| (Code::InputUnreadable, e))?;
    for (path, img, analysis) in photos {
        let (true, Some(face), Some(quality)) =
            (analysis.usable(), analysis.face, analysis.quality)
        else {
            continue;
        };
        // A head model needs a frontal photo: turned photos give a wrong head geometry.
        if quality.yaw_deg.abs() > FRONTAL_MAX_YAW_DEG {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.rsplit_once('-'))
            .map_or_else(String::new, |(n, _)| n.to_string());
        if let Ok(model) = HeadModel::new(&img, face.landmarks, face.bbox) {
            out.push(Identity { name, model });
        }
    }
    let mut names: Vec<&str> = out.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() < 2 {
        let message = format!("{}: need photos of at least two people", dir.display());
        return Err((Code::InputInvalid, message));
    }
    Ok(out)
}
