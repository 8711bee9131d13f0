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
use reclaim_facegen::lit_attack::{self, Tint};
use reclaim_facegen::{attack, sequence, Frame, HeadModel, Room, Scene, ScreenLight, SkinTone};
use reclaim_protocol::wire::challenge::{draw, ChallengeSpec};
use reclaim_protocol::LightSequence;
use reclaim_verify::liveness::{
    evaluate, observe_all, Action, LivenessPolicy, LivenessReport, TimedFrame,
};
use reclaim_verify::FaceEngine;
use serde::Serialize;

mod captures;

use super::eval_documents::analysed_photos;
use crate::output::{fail, fail_with, print_json, say, Exit};
use reclaim_cli::commands::compare::{engine_options, EngineFlags};

/// Photos turned further than this are not made into head models.
const FRONTAL_MAX_YAW_DEG: f32 = 10.0;

/// The presentation types, genuine first. With the screen light (the default), the
/// genuine head, the print and the screen are lit by the session's light as drawn.
pub const KINDS: [&str; 14] = [
    "genuine",
    "still_repeated",
    "still_with_noise",
    "flat_print",
    "screen",
    "replay_other_challenge",
    "replay_other_light",
    "replay_seen_before",
    "face_swap",
    "puppet",
    "unlit_injection",
    "tint_face",
    "tint_add",
    "tint_frame",
];

/// Types that only exist against a session with a screen light.
const LIGHT_ONLY: [&str; 5] = [
    "replay_other_light",
    "unlit_injection",
    "tint_face",
    "tint_add",
    "tint_frame",
];

/// Skin tones, rooms and screen brightnesses the presentations cycle through (seed by
/// seed), so every condition gets its share of each presentation type.
const SKINS: [SkinTone; 6] = [
    SkinTone::I,
    SkinTone::II,
    SkinTone::III,
    SkinTone::IV,
    SkinTone::V,
    SkinTone::VI,
];
const ROOMS: [Room; 3] = [Room::Dark, Room::Office, Room::Daylight];
const SCREEN_NITS: [f32; 3] = [150.0, 300.0, 450.0];

/// The conditions of one presentation.
#[derive(Debug, Clone, Copy)]
pub struct Conditions {
    pub skin: SkinTone,
    pub room: Room,
    pub nits: f32,
}

impl Conditions {
    /// Seed `n`'s conditions: every skin tone with every room and brightness over 54
    /// consecutive seeds.
    pub fn of_seed(n: u64) -> Conditions {
        let n = n as usize;
        Conditions {
            skin: SKINS[n % 6],
            room: ROOMS[(n / 6) % 3],
            nits: SCREEN_NITS[(n / 18) % 3],
        }
    }

    fn labels(&self) -> [String; 3] {
        [
            format!("skin {:?}", self.skin),
            format!("room {}", room_name(self.room)),
            format!("screen {:.0} nits", self.nits),
        ]
    }
}

fn room_name(room: Room) -> &'static str {
    match room {
        Room::Dark => "dark",
        Room::Office => "office",
        Room::Daylight => "daylight",
    }
}

#[derive(clap::Args)]
pub struct EvalLivenessArgs {
    /// Sequences per presentation type.
    #[arg(long, default_value_t = 20)]
    pub count: u64,
    /// The first seed: sequences use seeds FIRST to FIRST + count - 1. Thresholds were
    /// tuned on seeds below 1000 (docs/liveness.md); report on 1000 and above.
    #[arg(long, default_value_t = 1000)]
    pub first_seed: u64,
    /// Screen-light steps per challenge (0: no light, as before issue 19).
    #[arg(long, default_value_t = ChallengeSpec::default().light_steps)]
    pub light_steps: usize,
    /// Turns per challenge, before the final center.
    #[arg(long, default_value_t = ChallengeSpec::default().turns)]
    pub turns: usize,
    /// Draw up and down turns too.
    #[arg(long)]
    pub pitch: bool,
    /// Presentation types (default: all): genuine, still_repeated, still_with_noise,
    /// flat_print, screen, replay_other_challenge, replay_other_light, replay_seen_before,
    /// face_swap, puppet, unlit_injection, tint_face, tint_add, tint_frame (the last five
    /// only with a light).
    #[arg(long, value_delimiter = ',')]
    pub kinds: Option<Vec<String>>,
    /// Frames per second of the generated sequences.
    #[arg(long, default_value_t = sequence::DEFAULT_FPS)]
    pub fps: f32,
    /// Judge the labelled recordings in this folder instead of generated ones (one
    /// folder per capture with a `capture.json`: see docs/liveness.md, "Your own
    /// captures").
    #[arg(long, value_name = "DIR")]
    pub captures: Option<PathBuf>,
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
    /// The light check's correlation with the session's sequence, and its side swing.
    light_correlation: Option<[f32; 3]>,
    light_swing: Option<[f32; 3]>,
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
    if let Some(dir) = &args.captures {
        return judge_captures(&engine, dir, json, args.engine.threads);
    }
    let people = match head_models(&args.faces, &engine) {
        Ok(p) => p,
        Err((code, message)) => return fail(json, code, &message),
    };
    let spec = ChallengeSpec {
        turns: args.turns,
        pitch: args.pitch,
        light_steps: args.light_steps,
    };
    if let Err(e) = spec.validate() {
        return fail(json, Code::InputInvalid, &e);
    }
    let kinds: Vec<&str> = kinds
        .into_iter()
        .filter(|k| spec.light_steps > 0 || !LIGHT_ONLY.contains(k))
        .collect();
    let policy = LivenessPolicy::default();
    let mut by_condition: BTreeMap<String, [u64; 2]> = BTreeMap::new();
    let mut rows = Vec::new();
    for kind in kinds {
        let mut row = Row {
            kind: kind.to_string(),
            ..Row::default()
        };
        let (mut frames_total, mut ms_total) = (0usize, 0.0f64);
        let mut parallaxes: Vec<f32> = Vec::new();
        let mut fits: Vec<f32> = Vec::new();
        let (mut lights, mut swings): (Vec<f32>, Vec<f32>) = (Vec::new(), Vec::new());
        for seed in args.first_seed..args.first_seed.saturating_add(args.count) {
            let mut rng = Rng::new(seed * 104_729 + 11);
            let person = &people[(seed as usize) % people.len()];
            let conditions = Conditions::of_seed(seed);
            let Some(drawn) = draw(&spec, &mut || Some(rng.next_u64() as u32)) else {
                return fail(json, Code::InternalError, "no challenge drawn");
            };
            let session = Session {
                actions: drawn.actions,
                light: drawn.light,
                conditions,
                spec,
            };
            let presented =
                match present(&engine, kind, person, &people, &session, args.fps, &mut rng) {
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
            if kind == "genuine" {
                for label in conditions.labels() {
                    let entry = by_condition.entry(label).or_default();
                    entry[0] += 1;
                    entry[1] += u64::from(!report.live);
                }
            }
            if let Some(l) = &report.light {
                lights.push(l.correlation);
                if let Some(sw) = l.swing {
                    swings.push(sw);
                }
            }
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
                    "{kind} seed {seed} ({}, {:?}, {}): live={} reasons {:?}\n   {}\n   yaw/pitch: {}",
                    person.name,
                    conditions,
                    session
                        .actions
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
        row.light_correlation = spread(&mut lights);
        row.light_swing = spread(&mut swings);
        rows.push(row);
    }
    if json {
        print_json(&serde_json::json!({
            "seeds": [args.first_seed, args.first_seed.saturating_add(args.count)],
            "rows": rows,
            "genuine_by_condition": by_condition,
        }));
    } else {
        say!(
            "seeds {} to {}; challenge: {} turns{}, {} light steps ({:.1} bits)",
            args.first_seed,
            args.first_seed.saturating_add(args.count).saturating_sub(1),
            spec.turns,
            if spec.pitch { " with pitch" } else { "" },
            spec.light_steps,
            spec.space_bits()
        );
        say!("| presentation | sequences | judged live | error rate | parallax min / median / max | light correlation min / median / max | light swing min / median / max | mean frames | mean ms | reasons (how often) |");
        say!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for r in &rows {
            let rate = if r.kind == "genuine" {
                format!("BPCER {:.1}%", r.error_rate_pct)
            } else {
                format!("APCER {:.1}%", r.error_rate_pct)
            };
            let reasons: Vec<String> = r.reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
            say!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} | {} |",
                r.kind,
                r.presentations,
                r.accepted,
                rate,
                show_spread(r.parallax),
                show_spread(r.light_correlation),
                show_spread(r.light_swing),
                r.mean_frames,
                r.mean_ms,
                reasons.join(", ")
            );
        }
    }
    if !by_condition.is_empty() {
        say!("");
        say!("| genuine, by condition | sequences | refused | BPCER |");
        say!("| --- | --- | --- | --- |");
        for (label, [n, refused]) in &by_condition {
            say!(
                "| {label} | {n} | {refused} | {:.1}% |",
                100.0 * *refused as f64 / (*n).max(1) as f64
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

/// `--captures DIR`: the operator's labelled recordings, per capture and per label.
fn judge_captures(engine: &FaceEngine, dir: &Path, json: bool, threads: usize) -> Exit {
    let (verdicts, rows) = match captures::judge_all(engine, dir, threads) {
        Ok(r) => r,
        Err(e) => return fail(json, Code::InputInvalid, &e),
    };
    if json {
        print_json(&serde_json::json!({ "captures": verdicts, "labels": rows }));
    } else {
        say!("| capture | label | judged live | light correlation | light swing | reasons |");
        say!("| --- | --- | --- | --- | --- | --- |");
        for v in &verdicts {
            let f = |x: Option<f32>| x.map_or_else(|| "n/a".to_string(), |x| format!("{x:.3}"));
            say!(
                "| {} | {} | {} | {} | {} | {} |",
                v.capture,
                v.label,
                v.live,
                f(v.light_correlation),
                f(v.light_swing),
                v.reasons.join(", ")
            );
        }
        say!("");
        say!("| label | captures | judged live | error rate |");
        say!("| --- | --- | --- | --- |");
        for (label, r) in &rows {
            let kind = if label == "genuine" { "BPCER" } else { "APCER" };
            say!(
                "| {label} | {} | {} | {kind} {:.1}% |",
                r.captures,
                r.judged_live,
                r.error_rate_pct
            );
        }
    }
    let right = verdicts.iter().all(|v| v.live == (v.label == "genuine"));
    if right {
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

/// A sequence to judge: its frames, the challenge and light it is judged against, and the
/// face hashes of this user's earlier sessions.
pub struct Presentation {
    pub frames: Vec<Frame>,
    pub challenge: Vec<Action>,
    pub light: Option<LightSequence>,
    pub seen: Vec<u64>,
}

/// What one session drew, and where it is filmed.
pub struct Session {
    pub actions: Vec<Action>,
    pub light: Option<LightSequence>,
    pub conditions: Conditions,
    pub spec: ChallengeSpec,
}

/// A challenge as the backend drew them before the screen light: three actions, no
/// action twice in a row, at least one turn to the side (the parallax check needs one),
/// `center` only last (a head going from one turn to another passes the centre anyway, so
/// `left,center,right` would be answered by a recording of `left,right`).
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

fn to_facegen(actions: &[Action]) -> Vec<sequence::Action> {
    actions
        .iter()
        .filter_map(|a| sequence::parse_challenge(a.as_str()).ok())
        .flatten()
        .collect()
}

/// The session's light as the generator's screen: each step from its start on the
/// capture's clock (0 = the first frame, as the app starts it), a laptop screen of the
/// condition's brightness filled with it.
pub fn screen_of(light: &LightSequence, nits: f32) -> ScreenLight {
    ScreenLight::from_steps(&light.linear_steps(), nits)
}

/// The actions to film: the challenge, then the person holding still at the centre until
/// the light has been shown (the app records until then), as extra `center` holds.
fn filmed_actions(session: &Session) -> Vec<sequence::Action> {
    let mut actions = to_facegen(&session.actions);
    if let Some(light) = &session.light {
        // A planned challenge takes about 1.1 s a move at most; each extra hold at least
        // 0.6 s. Enough holds that the frames outlast the light and the latency searched.
        let moves_ms = 1100 * actions.len() as u64;
        let needed = (light.duration_ms() + 500).saturating_sub(moves_ms);
        for _ in 0..needed.div_ceil(600) {
            actions.push(sequence::Action::Center);
        }
    }
    actions
}

/// Another draw from the server's generator, different from `session`'s.
fn fresh_draw(
    session: &Session,
    rng: &mut Rng,
) -> Result<(Vec<Action>, Option<LightSequence>), String> {
    for _ in 0..100 {
        let d =
            draw(&session.spec, &mut || Some(rng.next_u64() as u32)).ok_or("no challenge drawn")?;
        if d.actions != session.actions || d.light != session.light {
            return Ok((d.actions, d.light));
        }
    }
    Err("no different challenge drawn".into())
}

/// Makes the presentation of type `kind` by `person` (and, for a swap, someone else).
pub fn present(
    engine: &FaceEngine,
    kind: &str,
    person: &Identity,
    people: &[Identity],
    session: &Session,
    fps: f32,
    rng: &mut Rng,
) -> Result<Presentation, String> {
    let actions = filmed_actions(session);
    let photo: &RgbImage = person.model.frame();
    let frame_count = (fps * 3.0).round().max(5.0) as usize;
    let plain = |frames| Presentation {
        frames,
        challenge: session.actions.clone(),
        light: session.light.clone(),
        seen: Vec::new(),
    };
    let e = |e: reclaim_facegen::FacegenError| e.to_string();
    let c = session.conditions;
    let mut scene = Scene::room(c.room, rng);
    scene.skin = Some(c.skin);
    let screen = session.light.as_ref().map(|l| screen_of(l, c.nits));
    // A genuine capture: lit by the session's screen when there is one.
    let genuine = |rng: &mut Rng| -> Result<Vec<Frame>, String> {
        match &screen {
            Some(screen) => {
                Ok(
                    reclaim_facegen::genuine_lit(&person.model, &actions, fps, screen, &scene, rng)
                        .map_err(e)?
                        .frames,
                )
            }
            None => sequence::genuine(&person.model, &actions, fps, rng).map_err(e),
        }
    };
    let need_screen = || {
        screen
            .as_ref()
            .ok_or_else(|| format!("{kind} needs a light"))
    };
    Ok(match kind {
        "genuine" => plain(genuine(rng)?),
        "still_repeated" => plain(attack::still_repeated(photo, frame_count, fps).map_err(e)?),
        "still_with_noise" => {
            plain(attack::still_with_noise(photo, frame_count, fps, rng).map_err(e)?)
        }
        "flat_print" => plain(match &screen {
            Some(s) => {
                lit_attack::flat_print_lit(photo, &actions, fps, s, &scene, rng)
                    .map_err(e)?
                    .sequence
                    .frames
            }
            None => attack::flat_print(photo, &actions, fps, rng).map_err(e)?,
        }),
        "screen" => plain(match &screen {
            Some(s) => {
                lit_attack::screen_lit(photo, &actions, fps, s, &scene, rng)
                    .map_err(e)?
                    .sequence
                    .frames
            }
            None => attack::screen(photo, &actions, fps, rng).map_err(e)?,
        }),
        "replay_other_challenge" => {
            // A genuine recording of an earlier session, presented to a new session with
            // its own challenge and light, drawn by the server's generator.
            let recorded = genuine(rng)?;
            let (challenge, light) = fresh_draw(session, rng)?;
            Presentation {
                frames: attack::replayed(&recorded),
                challenge,
                light,
                seen: Vec::new(),
            }
        }
        "replay_other_light" => {
            // The same moves (an attacker who waited for them to come round again) under
            // another session's light.
            let recorded = genuine(rng)?;
            let mut light = fresh_draw(session, rng)?.1;
            while light == session.light {
                light = fresh_draw(session, rng)?.1;
            }
            Presentation {
                frames: attack::replayed(&recorded),
                challenge: session.actions.clone(),
                light,
                seen: Vec::new(),
            }
        }
        "replay_seen_before" => {
            // The same challenge and light (an attacker who waits for them to come round
            // again), but the backend kept this user's face hashes from the session
            // recorded.
            let recorded = genuine(rng)?;
            let seen = face_hashes_of(engine, &recorded)?;
            Presentation {
                frames: attack::with_new_timestamps(&recorded, fps).map_err(e)?,
                challenge: session.actions.clone(),
                light: session.light.clone(),
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
        "unlit_injection" => plain(
            lit_attack::unlit_injection(&person.model, &actions, fps, &scene, rng)
                .map_err(e)?
                .frames,
        ),
        "tint_face" | "tint_add" | "tint_frame" => {
            let tint = match kind {
                "tint_face" => Tint::MultiplyFace,
                "tint_add" => Tint::AddFace,
                _ => Tint::MultiplyFrame,
            };
            plain(
                lit_attack::uniform_tint(
                    &person.model,
                    &actions,
                    fps,
                    need_screen()?,
                    &scene,
                    tint,
                    rng,
                )
                .map_err(e)?
                .frames,
            )
        }
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
    Ok(evaluate(
        &observations,
        &p.challenge,
        p.light.as_ref(),
        &p.seen,
        policy,
    ))
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
