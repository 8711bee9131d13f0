//! `reclaim-lab eval-replay`: both sides of the replay check, measured. A replay (an earlier
//! session's recording sent again, re-encoded, rescaled, cropped, brightened, noised or
//! mirrored) must not go unnoticed (refused as a replay, or at least seen before); a
//! person coming back (the same face, room and camera, new motion and noise) must not be
//! refused as a replay of themselves.
//!
//! Sequences are made by `reclaim-facegen` from the photos in `tests/data/faces`: one head
//! model per photo, so "the same room" is the same photo's background and lighting, which
//! is harder than life (a real person sits somewhere a little different every time). The
//! people are split in two: the rule's bits, frame count and motion distance are chosen
//! on the first half (the tuning set) and the figures are reported on the second half,
//! other people and other seeds. Every session is kept as the server keeps it (face hash
//! and motion per frame), so the n-th return is compared with the recording and the n-1
//! returns before it, one session at a time (`replay::judge_replay`).
//!
//! With `--recordings DIR` the same table is measured on real recordings instead
//! (`recordings.rs`): nothing is tuned there, the rule shipped is reported.

use reclaim_protocol::Code;
use std::collections::BTreeMap;
use std::path::PathBuf;

use image::{imageops, RgbImage};
use reclaim_docgen::Rng;
use reclaim_facegen::{camera, sequence, Frame};
use reclaim_verify::liveness::{observe_all, parse_challenge, replay, LivenessPolicy, TimedFrame};
use reclaim_verify::FaceEngine;
use serde::Serialize;

mod recordings;

use super::eval_liveness::{head_models, random_challenge, Identity};
use crate::output::{fail, fail_with, print_json, say, Exit};
use reclaim_cli::commands::compare::{engine_options, EngineFlags};

/// What is done to a recording before it is sent again.
pub const TRANSFORMS: [&str; 7] = [
    "replayed",
    "reencoded",
    "rescaled",
    "cropped",
    "brightened",
    "noised",
    "mirrored",
];

/// The thresholds tried on the tuning set: bits, and frames seen.
const MAX_BITS: u32 = 10;
const MAX_FRAMES: usize = 10;

#[derive(clap::Args)]
pub struct EvalReplayArgs {
    /// Genuine returns in the reported set (the tuning set gets as many).
    #[arg(long, default_value_t = 100)]
    pub returns: usize,
    /// Face photos (IDENTITY-N.jpg); one head model per usable photo.
    #[arg(long, default_value = "tests/data/faces")]
    pub faces: PathBuf,
    /// Measure on real recordings instead of generated sequences, with the rule shipped:
    /// the frames `scripts/real-recordings DIR` writes (DIR/PERSON/CLIP/NNNNN.jpg, one
    /// every 180 ms). `--returns` and `--faces` are then not used.
    #[arg(long, value_name = "DIR")]
    pub recordings: Option<PathBuf>,
    /// With --recordings: frames in one capture-sized window.
    #[arg(long, default_value_t = recordings::WINDOW_FRAMES)]
    pub window_frames: usize,
    /// With --recordings: the least time, in seconds, from the end of a kept window to the
    /// start of a later window of the same clip compared with it (the same sitting).
    #[arg(long, default_value_t = recordings::APART_S)]
    pub apart_s: f32,
    #[command(flatten)]
    pub engine: EngineFlags,
}

/// One transformation of a recording (`kind` in [`TRANSFORMS`]): all its frames alike.
pub fn transform(kind: &str, image: &RgbImage, rng: &mut Rng) -> RgbImage {
    let (w, h) = image.dimensions();
    match kind {
        "reencoded" => camera::jpeg_round_trip(image, 40),
        "rescaled" => imageops::resize(
            image,
            (w / 2).max(1),
            (h / 2).max(1),
            imageops::FilterType::Triangle,
        ),
        // A tenth off each side: the face stays whole.
        "cropped" => imageops::crop_imm(image, w / 10, h / 12, w - w / 5, h - h / 6).to_image(),
        "brightened" => {
            let mut out = image.clone();
            camera::expose(&mut out, 1.3, 20.0);
            out
        }
        "noised" => {
            let mut out = image.clone();
            camera::add_noise(&mut out, 8.0, rng);
            out
        }
        "mirrored" => imageops::flip_horizontal(image),
        _ => image.clone(),
    }
}

/// One presentation compared with one kept session.
#[derive(Clone)]
struct Against {
    /// Per frame, the bits by which it is seen in the session (`replay::seen_distance`:
    /// its face as seen or mirrored, or the frame through the mirror); frames with
    /// neither are left out.
    bits: Vec<u32>,
    /// Per frame, the bits through the mirror, by its face or whole frame, when nearer so
    /// than as seen (else `u32::MAX`).
    mirrored_bits: Vec<u32>,
    /// The motion distance to the session (`None`: the capture has more frames).
    motion: Option<f32>,
    /// The motion distance to the session held still, in the same orientation.
    held_still: Option<f32>,
}

type Compared = Vec<Against>;

/// Per presentation, its comparison with every session kept for that person before it.
#[derive(Default)]
struct Measured {
    genuine: Vec<Compared>,
    replays: BTreeMap<&'static str, Vec<Compared>>,
}

/// The rule: bits, least seen frames, largest motion distance.
#[derive(Clone, Copy, Serialize)]
struct Rule {
    bits: u32,
    frames: usize,
    max_motion: f32,
    /// Least frames matching only through the mirror (by the face or the whole frame).
    mirrored: usize,
}

/// What the rule makes of a presentation: refused as a replay, seen before (frames match
/// a session, its motion does not), or neither.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Replayed,
    SeenBefore,
    Clear,
}

/// As `replay::judge_replay`, from the measured distances.
fn verdict(c: &Compared, rule: Rule) -> Verdict {
    let mut seen = false;
    let within = |bits: &[u32]| bits.iter().filter(|&&d| d <= rule.bits).count();
    for a in c {
        if within(&a.bits) < rule.frames.max(1) {
            continue;
        }
        if within(&a.mirrored_bits) >= rule.mirrored.max(1)
            || a.motion
                .zip(a.held_still)
                .is_some_and(|(m, still)| m <= rule.max_motion && m < still)
        {
            return Verdict::Replayed;
        }
        seen = true;
    }
    if seen {
        Verdict::SeenBefore
    } else {
        Verdict::Clear
    }
}

#[derive(Serialize, Clone)]
struct Row {
    kind: String,
    presentations: usize,
    /// Refused as replays: the error for genuine returns, the point for replays.
    refused: usize,
    /// Not refused, but frames seen in an earlier session (the backend's doubt
    /// `face_seen_before`).
    seen_before: usize,
    /// Least motion distance to a session with seen frames: least / median / most.
    motion_distance: [Option<f32>; 3],
    /// Frames matching one session only through the mirror, face or whole frame (the most over
    /// sessions): least / median / most.
    mirrored_frames: [usize; 3],
}

impl Row {
    /// What the rule must do on this kind of presentation: a genuine capture (`genuine`
    /// lists those kinds) is never refused as a replay; a replay or a copy is never
    /// unnoticed (refused, or seen before).
    fn met(&self, genuine: &[&str]) -> bool {
        if genuine.contains(&self.kind.as_str()) {
            self.refused == 0
        } else {
            self.refused + self.seen_before == self.presentations
        }
    }
}

#[derive(Serialize)]
struct Report {
    tuning_people: Vec<String>,
    report_people: Vec<String>,
    /// The rule chosen on the tuning set.
    tuned: Rule,
    /// The rule `LivenessPolicy::default()` ships.
    shipped: Rule,
    /// On the reported set, with the rule shipped.
    report: Vec<Row>,
    /// On the reported set, with the rule chosen on the tuning set.
    report_tuned: Vec<Row>,
    /// The tuning set with the shipped bits and frames, by largest motion distance:
    /// (max_motion, genuine refused, genuine seen before, replays refused, replays seen
    /// before).
    tuning_sweep: Vec<(f32, usize, usize, usize, usize)>,
    tuning_genuine: usize,
    tuning_replays: usize,
}

/// Largest motion distances tried on the tuning set.
fn motion_grid() -> Vec<f32> {
    (1..=20).map(|i| i as f32 * 0.1).collect()
}

/// The rule `LivenessPolicy::default()` ships.
fn shipped() -> Rule {
    let policy = LivenessPolicy::default();
    Rule {
        bits: policy.seen_hamming,
        frames: policy.seen_min_frames,
        max_motion: policy.seen_max_motion,
        mirrored: policy.seen_min_mirrored,
    }
}

pub fn run(args: EvalReplayArgs) -> Exit {
    let json = args.engine.json;
    let engine = match FaceEngine::load(engine_options(args.engine.models.as_deref())) {
        Ok(e) => e,
        Err(e) => return fail_with(json, "the face models", &e),
    };
    if let Some(dir) = &args.recordings {
        return recordings::run(&args, dir, &engine);
    }
    let people = match head_models(&args.faces, &engine) {
        Ok(p) => p,
        Err((code, message)) => return fail(json, code, &message),
    };
    let mut names: Vec<String> = people.iter().map(|p| p.name.clone()).collect();
    names.sort();
    names.dedup();
    // Different people in the two sets: every other name.
    let tuning_names: Vec<String> = names.iter().step_by(2).cloned().collect();
    let report_names: Vec<String> = names.iter().skip(1).step_by(2).cloned().collect();
    let pick = |set: &[String]| -> Vec<&Identity> {
        people.iter().filter(|p| set.contains(&p.name)).collect()
    };
    let threads = args.engine.threads.max(1);
    let tuning = match measure(
        &engine,
        &pick(&tuning_names),
        args.returns,
        1_000_000,
        threads,
    ) {
        Ok(m) => m,
        Err(e) => return fail(json, Code::InternalError, &format!("tuning set: {e}")),
    };
    let measured = match measure(
        &engine,
        &pick(&report_names),
        args.returns,
        2_000_000,
        threads,
    ) {
        Ok(m) => m,
        Err(e) => return fail(json, Code::InternalError, &format!("reported set: {e}")),
    };

    // The rule picked on the tuning set: as few genuine returns refused as any rule
    // manages (none, if one does), then as few replays let through as clear, then as many
    // replays refused outright, then as few genuine returns seen before.
    let count = |set: &[Compared], rule: Rule, v: Verdict| {
        set.iter().filter(|c| verdict(c, rule) == v).count()
    };
    let all_replays: Vec<Compared> = tuning.replays.values().flatten().cloned().collect();
    let mut best: Option<((usize, usize, usize, usize), Rule)> = None;
    for bits in 0..=MAX_BITS {
        for frames in 1..=MAX_FRAMES {
            for max_motion in motion_grid() {
                for mirrored in 1..=MAX_FRAMES {
                    let rule = Rule {
                        bits,
                        frames,
                        max_motion,
                        mirrored,
                    };
                    let key = (
                        count(&tuning.genuine, rule, Verdict::Replayed),
                        count(&all_replays, rule, Verdict::Clear),
                        all_replays.len() - count(&all_replays, rule, Verdict::Replayed),
                        count(&tuning.genuine, rule, Verdict::SeenBefore),
                    );
                    if best.as_ref().is_none_or(|(k, _)| key < *k) {
                        best = Some((key, rule));
                    }
                }
            }
        }
    }
    let shipped = shipped();
    let tuned = best.map_or(shipped, |(_, r)| r);
    let tuning_sweep = motion_grid()
        .into_iter()
        .map(|max_motion| {
            let rule = Rule {
                max_motion,
                ..shipped
            };
            (
                max_motion,
                count(&tuning.genuine, rule, Verdict::Replayed),
                count(&tuning.genuine, rule, Verdict::SeenBefore),
                count(&all_replays, rule, Verdict::Replayed),
                count(&all_replays, rule, Verdict::SeenBefore),
            )
        })
        .collect();
    let report = Report {
        tuning_people: tuning_names,
        report_people: report_names,
        tuned,
        shipped,
        report: rows(&measured, shipped),
        report_tuned: rows(&measured, tuned),
        tuning_sweep,
        tuning_genuine: tuning.genuine.len(),
        tuning_replays: all_replays.len(),
    };
    // Met when, with the rule shipped, no genuine return is refused as a replay and no
    // replay goes through unnoticed (refused, or seen before).
    let ok = report.report.iter().all(|r| r.met(&["genuine_return"]));
    if json {
        print_json(&report);
    } else {
        print_markdown(&report);
    }
    if ok {
        Exit::Yes
    } else {
        Exit::No
    }
}

fn describe(r: Rule) -> String {
    format!(
        "at least {} frame(s) within {} bits of one session, motion within {:.1}, or {} through the mirror",
        r.frames, r.bits, r.max_motion, r.mirrored
    )
}

fn print_markdown(r: &Report) {
    say!(
        "Reported set (people: {}), rule shipped: {}:\n",
        r.report_people.join(", "),
        describe(r.shipped)
    );
    print_rows(&r.report);
    say!(
        "\nReported set, rule chosen on the tuning set: {}:\n",
        describe(r.tuned)
    );
    print_rows(&r.report_tuned);
    say!(
        "\nTuning set (people: {}; {} genuine returns, {} replays), shipped bits and frames, by largest motion distance:\n",
        r.tuning_people.join(", "),
        r.tuning_genuine,
        r.tuning_replays
    );
    say!("| max motion | genuine refused | genuine seen before | replays refused | replays seen before |");
    say!("| --- | --- | --- | --- | --- |");
    for (m, gr, gs, rr, rs) in &r.tuning_sweep {
        say!("| {m:.1} | {gr} | {gs} | {rr} | {rs} |");
    }
}

fn print_rows(rows: &[Row]) {
    say!("| presentation | sequences | refused as replays | seen before, not refused | motion distance min / median / max | frames matched through the mirror min / median / max |");
    say!("| --- | --- | --- | --- | --- | --- |");
    let f = |v: Option<f32>| v.map_or("-".to_string(), |x| format!("{x:.2}"));
    for r in rows {
        let [lo, mid, hi] = r.motion_distance;
        let [mlo, mmid, mhi] = r.mirrored_frames;
        say!(
            "| {} | {} | {} | {} | {} / {} / {} | {mlo} / {mmid} / {mhi} |",
            r.kind,
            r.presentations,
            r.refused,
            r.seen_before,
            f(lo),
            f(mid),
            f(hi)
        );
    }
}

fn rows(m: &Measured, rule: Rule) -> Vec<Row> {
    let mut out = vec![row("genuine_return", &m.genuine, rule)];
    for (kind, set) in &m.replays {
        out.push(row(kind, set, rule));
    }
    out
}

/// One line of the table: `kind`'s presentations, each compared with its kept sessions.
fn row(kind: &str, set: &[Compared], rule: Rule) -> Row {
    let mut nearest: Vec<f32> = set
        .iter()
        .filter_map(|c| {
            c.iter()
                .filter(|a| {
                    a.bits.iter().filter(|&&d| d <= rule.bits).count() >= rule.frames.max(1)
                })
                .filter_map(|a| a.motion)
                .reduce(f32::min)
        })
        .collect();
    nearest.sort_by(f32::total_cmp);
    let mut mirrored: Vec<usize> = set
        .iter()
        .map(|c| {
            c.iter()
                .map(|a| a.mirrored_bits.iter().filter(|&&d| d <= rule.bits).count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    mirrored.sort_unstable();
    Row {
        kind: kind.to_string(),
        presentations: set.len(),
        refused: set
            .iter()
            .filter(|c| verdict(c, rule) == Verdict::Replayed)
            .count(),
        seen_before: set
            .iter()
            .filter(|c| verdict(c, rule) == Verdict::SeenBefore)
            .count(),
        motion_distance: [
            nearest.first().copied(),
            nearest.get(nearest.len() / 2).copied(),
            nearest.last().copied(),
        ],
        mirrored_frames: [
            mirrored.first().copied().unwrap_or(0),
            mirrored.get(mirrored.len() / 2).copied().unwrap_or(0),
            mirrored.last().copied().unwrap_or(0),
        ],
    }
}

/// One capture as the replay check sees it: per frame with a face, its hashes (as seen
/// and mirrored) and motion.
#[derive(Clone)]
struct Observed {
    hashes: Vec<replay::FrameHashes>,
    motions: Vec<Option<replay::FrameMotion>>,
    /// Frames the liveness checks can use (one face, no quality issue but pose).
    usable: usize,
}

impl Observed {
    /// The session the backend would keep from this capture.
    fn kept(&self) -> replay::SeenSession {
        replay::SeenSession {
            frames: self
                .hashes
                .iter()
                .zip(&self.motions)
                .filter_map(|(h, m)| {
                    h.face.map(|face_hash| replay::SeenFrame {
                        face_hash,
                        frame_hash: h.frame,
                        motion: *m,
                    })
                })
                .collect(),
            // Every capture here is the person's own, kept as an approved one.
            doubtful: false,
        }
    }

    fn compare(&self, kept: &[replay::SeenSession]) -> Compared {
        let motion: Vec<replay::FrameMotion> = self.motions.iter().flatten().copied().collect();
        kept.iter()
            .map(|s| {
                let stored = replay::KeptHashes::of(s);
                let recorded: Vec<replay::FrameMotion> =
                    s.frames.iter().filter_map(|f| f.motion).collect();
                let matched = replay::MotionMatch::of(&motion, &recorded);
                let mirrored_bits: Vec<u32> = self
                    .hashes
                    .iter()
                    .map(|h| replay::mirror_distance(h, &stored).unwrap_or(u32::MAX))
                    .collect();
                Against {
                    bits: self
                        .hashes
                        .iter()
                        .filter_map(|h| replay::seen_distance(h, &stored))
                        .collect(),
                    mirrored_bits,
                    motion: matched.map(|m| m.distance),
                    held_still: matched.map(|m| m.held_still),
                }
            })
            .collect()
    }
}

fn observed(engine: &FaceEngine, frames: &[Frame], threads: usize) -> Result<Observed, String> {
    let timed = TimedFrame::all(frames.iter().map(|f| (&f.image, f.timestamp_ms)));
    observe_timed(engine, &timed, threads)
}

/// The engine over one capture, as the server runs it; what the replay check keeps of it.
fn observe_timed(
    engine: &FaceEngine,
    timed: &[TimedFrame],
    threads: usize,
) -> Result<Observed, String> {
    let observations = observe_all(engine, timed, threads).map_err(|e| e.to_string())?;
    Ok(Observed {
        hashes: observations.iter().map(|o| o.hashes()).collect(),
        motions: replay::motions_of(&observations),
        usable: observations.iter().filter(|o| o.usable()).count(),
    })
}

/// Records one session per person, presents every transformation of it, then `returns`
/// genuine returns spread over the people, each compared with every session kept before
/// it.
fn measure(
    engine: &FaceEngine,
    people: &[&Identity],
    returns: usize,
    seed_base: u64,
    threads: usize,
) -> Result<Measured, String> {
    if people.is_empty() {
        return Err("no usable photo".into());
    }
    let alphabet = parse_challenge("left,right,up,down,center").map_err(|e| e.to_string())?;
    let e = |e: reclaim_facegen::FacegenError| e.to_string();
    let mut out = Measured::default();
    let mut kept: Vec<Vec<replay::SeenSession>> = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let mut rng = Rng::new(seed_base + i as u64);
        let challenge = random_challenge(&alphabet, &mut rng);
        let actions = to_facegen(&challenge);
        let recording = sequence::genuine(&person.model, &actions, sequence::DEFAULT_FPS, &mut rng)
            .map_err(e)?;
        let stored = vec![observed(engine, &recording, threads)?.kept()];
        for kind in TRANSFORMS {
            let frames: Vec<Frame> = recording
                .iter()
                .map(|f| Frame {
                    image: transform(kind, &f.image, &mut rng),
                    timestamp_ms: f.timestamp_ms,
                })
                .collect();
            let c = observed(engine, &frames, threads)?.compare(&stored);
            out.replays.entry(kind).or_default().push(c);
        }
        kept.push(stored);
    }
    for r in 0..returns {
        let who = r % people.len();
        let mut rng = Rng::new(seed_base + 100_000 + r as u64);
        let challenge = random_challenge(&alphabet, &mut rng);
        let frames = sequence::genuine(
            &people[who].model,
            &to_facegen(&challenge),
            sequence::DEFAULT_FPS,
            &mut rng,
        )
        .map_err(e)?;
        let o = observed(engine, &frames, threads)?;
        out.genuine.push(o.compare(&kept[who]));
        // The server keeps every session, accepted or not.
        kept[who].push(o.kept());
    }
    Ok(out)
}

fn to_facegen(actions: &[reclaim_verify::liveness::Action]) -> Vec<sequence::Action> {
    actions
        .iter()
        .filter_map(|a| sequence::parse_challenge(a.as_str()).ok())
        .flatten()
        .collect()
}
