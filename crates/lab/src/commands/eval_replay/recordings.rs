//! `reclaim-lab eval-replay --recordings DIR`: the replay check on real recordings of real
//! people, with the rule as shipped. Nothing is tuned here: the rule was chosen on
//! generated sequences, and these recordings are for reporting only.
//!
//! DIR is what `scripts/real-recordings DIR` writes: `DIR/PERSON/CLIP/NNNNN.jpg`, one frame
//! every 180 ms (the app's selfie recorder keeps at most one frame per 180 ms), a person's
//! clips named in the order they were recorded, and a `copy_of` file in a clip that is
//! another encoding of a recording already in the set (the same frames, re-encoded and
//! rescaled by someone else: a replay, never the person coming back).
//!
//! Each clip is cut into capture-sized windows ([`windows`]). Each window goes through the
//! engine as the server runs a capture (every JPEG decoded within the capture limits,
//! every frame observed) and, when it has enough usable frames to be a capture at all, is
//! kept as the server keeps one (face hash and motion per frame). Then, judged by
//! `replay::judge_replay` with `LivenessPolicy::default()`:
//!
//! - the person coming back: every kept window of a later recording against the windows
//!   kept from the person's earlier recordings (another day); and, reported apart, against
//!   the windows of the same recording that ended at least `--apart-s` before it started
//!   (the same sitting: same clothes, light and place, which is harder);
//! - replays: every kept window sent again under each of [`TRANSFORMS`], against that
//!   window; and every window of a copy, against the recording's kept windows up to where
//!   it ends (the newest `MAX_SESSIONS`, as the server holds them).
//!
//! Frames are decoded one window at a time: memory is one window's pictures (and one
//! transformed copy of them) whatever the length of the clips.

use reclaim_protocol::Code;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;
use reclaim_docgen::Rng;
use reclaim_verify::liveness::{replay, LivenessPolicy, TimedFrame};
use reclaim_verify::{load_image_bytes, FaceEngine, CAPTURE_LIMITS};
use serde::Serialize;

use super::{
    describe, observe_timed, print_rows, row, shipped, transform, verdict, Compared,
    EvalReplayArgs, Observed, Row, Verdict, TRANSFORMS,
};
use crate::output::{fail, print_json, say, Exit};

/// Frames in one window: a three-move capture at about the app's rate takes 12 to 21
/// frames (the generated genuine ones, docs/liveness.md), 18 on average; 18 frames at the
/// app's rate are 3.24 s.
pub const WINDOW_FRAMES: usize = 18;
/// The least time from the end of a kept window to a later window of the same clip it is
/// compared with: beyond the few hundred milliseconds over which a head's motion carries
/// on from one window into the next.
pub const APART_S: f32 = 3.0;
/// The last, shorter window of a clip counts when at least this many frames are left:
/// the shortest generated three-move capture.
const MIN_WINDOW_FRAMES: usize = 12;
/// The app keeps one selfie frame every 180 ms at most; `scripts/real-recordings` decodes
/// at exactly that rate.
const FRAME_INTERVAL_MS: u64 = reclaim_client::selfie::RECORD_INTERVAL_MS;
/// Sessions the server keeps per account (the newest approved ones).
const MAX_SESSIONS: usize = reclaim_server::store::replay::MAX_SESSIONS;
/// Seeds of the noise added by the `noised` transformation.
const SEED_BASE: u64 = 3_000_000;

/// The kinds of presentation, in the table's order.
const GENUINE: &str = "genuine_return";
const SAME_SITTING: &str = "genuine_same_sitting";
const COPIED: &str = "copied_elsewhere";
const RECORDED: &str = "recorded";

/// One clip as found in DIR.
#[derive(Debug, Clone, PartialEq)]
struct Clip {
    person: String,
    name: String,
    /// Its frames, in order.
    frames: Vec<PathBuf>,
    /// The clip of the same person this is another encoding of.
    copy_of: Option<String>,
}

/// The clips in `dir` (`PERSON/CLIP/*.jpg`), by person and clip name; clips without
/// frames, hidden entries and half-written `.part` directories are left out. Every
/// `copy_of` must name a recording (not a copy) of the same person.
fn scan(dir: &Path) -> Result<Vec<Clip>, String> {
    let mut clips = Vec::new();
    for (person, person_dir) in subdirectories(dir)? {
        for (name, clip_dir) in subdirectories(&person_dir)? {
            let mut frames: Vec<PathBuf> = entries(&clip_dir)?
                .into_iter()
                .filter(|p| {
                    p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg"))
                })
                .collect();
            frames.sort();
            if frames.is_empty() {
                continue;
            }
            let copy_of = match std::fs::read_to_string(clip_dir.join("copy_of")) {
                Ok(s) => Some(s.trim().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(format!("{}: {e}", clip_dir.join("copy_of").display())),
            };
            clips.push(Clip {
                person: person.clone(),
                name,
                frames,
                copy_of,
            });
        }
    }
    for c in &clips {
        if let Some(of) = &c.copy_of {
            if original_of(&clips, c).is_none() {
                return Err(format!(
                    "{}/{}: copy_of names {of}, which is no recording of {}",
                    c.person, c.name, c.person
                ));
            }
        }
    }
    Ok(clips)
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    read.map(|e| {
        e.map(|e| e.path())
            .map_err(|e| format!("{}: {e}", dir.display()))
    })
    .collect()
}

/// Subdirectories by name, without hidden ones (`.packages`) and half-written ones.
fn subdirectories(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out: Vec<(String, PathBuf)> = entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| Some((p.file_name()?.to_str()?.to_string(), p)))
        .filter(|(n, _)| !n.starts_with('.') && !n.ends_with(".part"))
        .collect();
    out.sort();
    Ok(out)
}

/// The index of the recording `clip` is a copy of.
fn original_of(clips: &[Clip], clip: &Clip) -> Option<usize> {
    let of = clip.copy_of.as_ref()?;
    clips
        .iter()
        .position(|c| c.person == clip.person && &c.name == of && c.copy_of.is_none())
}

/// For each clip, the recordings whose kept windows its windows meet as the person coming
/// back another day: the same person's recordings (not copies) before it by name. None
/// for a copy, which is a replay.
fn earlier_recordings(clips: &[Clip]) -> Vec<Vec<usize>> {
    clips
        .iter()
        .map(|c| {
            if c.copy_of.is_some() {
                return Vec::new();
            }
            clips
                .iter()
                .enumerate()
                .filter(|(_, d)| d.person == c.person && d.copy_of.is_none() && d.name < c.name)
                .map(|(j, _)| j)
                .collect()
        })
        .collect()
}

/// A clip of `frames` frames cut into windows of `size`, one after the other; what is
/// left at the end is a window of its own when it holds at least `min_len` frames (so a
/// clip shorter than a window, but as long as a short capture, still gives one).
fn windows(frames: usize, size: usize, min_len: usize) -> Vec<Range<usize>> {
    let size = size.max(1);
    let mut out: Vec<Range<usize>> = (0..frames / size)
        .map(|k| k * size..(k + 1) * size)
        .collect();
    let rest = frames % size;
    if rest > 0 && rest >= min_len.max(1) {
        out.push(frames - rest..frames);
    }
    out
}

/// Which of `earlier` (windows of one clip) ended at least `apart` frames before `later`
/// started.
fn apart_before(earlier: &[Range<usize>], later: &Range<usize>, apart: usize) -> Vec<usize> {
    earlier
        .iter()
        .enumerate()
        .filter(|(_, w)| w.end + apart <= later.start)
        .map(|(i, _)| i)
        .collect()
}

/// Frames taken at the app's rate in `seconds` (to the millisecond), rounded up.
fn frames_in(seconds: f32) -> usize {
    let ms = (f64::from(seconds) * 1000.0).round().max(0.0) as u64;
    ms.div_ceil(FRAME_INTERVAL_MS) as usize
}

/// What the server holds of `kept` (in the order they were kept): the newest
/// [`MAX_SESSIONS`].
fn newest(kept: &[usize]) -> &[usize] {
    &kept[kept.len().saturating_sub(MAX_SESSIONS)..]
}

/// A window with enough usable frames to be a capture, as the server keeps it.
struct Kept {
    clip: usize,
    frames: Range<usize>,
    observed: Observed,
}

/// A window presented to the replay check (the person coming back, a replay or a copy),
/// and the kept windows it is judged against.
struct Presented {
    kind: &'static str,
    /// The clip it came from.
    clip: usize,
    observed: Observed,
    against: Vec<usize>,
}

#[derive(Serialize)]
struct ClipSummary {
    person: String,
    clip: String,
    copy_of: Option<String>,
    frames: usize,
    windows: usize,
    /// Windows with enough usable frames: kept (a recording) or judged (a copy).
    judged: usize,
    too_few_usable: usize,
}

#[derive(Serialize)]
struct PersonRow {
    person: String,
    kind: String,
    refused: usize,
    seen_before: usize,
    /// Neither refused nor seen before.
    neither: usize,
}

#[derive(Serialize)]
struct RealReport {
    recordings: String,
    window_frames: usize,
    frame_interval_ms: u64,
    apart_s: f32,
    /// Fewest usable frames a window needs to be judged (`LivenessPolicy::min_frames`).
    min_usable_frames: usize,
    people: usize,
    clips: Vec<ClipSummary>,
    shipped: super::Rule,
    rows: Vec<Row>,
    /// The same verdicts, per person.
    per_person: Vec<PersonRow>,
    /// Presentations not judged: fewer usable frames than a capture needs, refused by the
    /// liveness check whatever the replay check says. By kind (`recorded`: windows of
    /// the recordings themselves).
    too_few_usable: BTreeMap<String, usize>,
    /// Presentations on which the table's reading of the rule and `judge_replay`
    /// disagreed: 0, or the figures are not the rule's.
    disagreements: usize,
}

pub(super) fn run(args: &EvalReplayArgs, dir: &Path, engine: &FaceEngine) -> Exit {
    let json = args.engine.json;
    if !(2..=CAPTURE_LIMITS.max_frames).contains(&args.window_frames) {
        return fail(
            json,
            Code::InputInvalid,
            &format!(
                "--window-frames must be 2 to {} (a capture's frames)",
                CAPTURE_LIMITS.max_frames
            ),
        );
    }
    if !(args.apart_s.is_finite() && args.apart_s >= 0.0) {
        return fail(json, Code::InputInvalid, "--apart-s must be 0 or more");
    }
    let clips = match scan(dir) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            return fail(
                json,
                Code::InputInvalid,
                &format!(
                    "{}: no PERSON/CLIP/*.jpg (run scripts/real-recordings {0})",
                    dir.display()
                ),
            )
        }
        Err(e) => return fail(json, Code::InputUnreadable, &e),
    };
    let policy = LivenessPolicy::default();
    let min_usable = policy.min_frames;
    let threads = args.engine.threads.max(1);
    let started = Instant::now();

    // The engine over every window, one window's frames in memory at a time.
    let mut kept: Vec<Kept> = Vec::new();
    let mut presented: Vec<Presented> = Vec::new();
    let mut too_few: BTreeMap<String, usize> = BTreeMap::new();
    let mut summaries = Vec::new();
    // Recordings first, then copies, which are judged against the recordings' windows.
    let mut order: Vec<usize> = (0..clips.len()).collect();
    order.sort_by_key(|&i| clips[i].copy_of.is_some());
    for ci in order {
        let clip = &clips[ci];
        let cut = windows(clip.frames.len(), args.window_frames, MIN_WINDOW_FRAMES);
        let mut summary = ClipSummary {
            person: clip.person.clone(),
            clip: clip.name.clone(),
            copy_of: clip.copy_of.clone(),
            frames: clip.frames.len(),
            windows: cut.len(),
            judged: 0,
            too_few_usable: 0,
        };
        let original = original_of(&clips, clip);
        for range in cut {
            let images = match load_window(&clip.frames[range.clone()]) {
                Ok(i) => i,
                Err(e) => return fail(json, Code::InputUnreadable, &e),
            };
            let observed = match observe_images(engine, &images, threads) {
                Ok(o) => o,
                Err(e) => {
                    return fail(
                        json,
                        Code::InputInvalid,
                        &format!("{}/{}: {e}", clip.person, clip.name),
                    )
                }
            };
            let kind = if original.is_some() { COPIED } else { RECORDED };
            if observed.usable < min_usable {
                summary.too_few_usable += 1;
                *too_few.entry(kind.to_string()).or_default() += 1;
                continue;
            }
            summary.judged += 1;
            if let Some(o) = original {
                // Another encoding of a recording: judged against that recording's windows
                // kept up to where this one ends.
                let against = kept
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.clip == o && k.frames.start < range.end)
                    .map(|(i, _)| i)
                    .collect();
                presented.push(Presented {
                    kind: COPIED,
                    clip: ci,
                    observed,
                    against,
                });
                continue;
            }
            let index = kept.len();
            for (t, kind) in TRANSFORMS.into_iter().enumerate() {
                let sent = if kind == "replayed" {
                    // The same bytes sent again decode to the same pictures, which the
                    // engine reads the same way.
                    observed.clone()
                } else {
                    let mut rng = Rng::new(SEED_BASE + (index * TRANSFORMS.len() + t) as u64);
                    let frames: Vec<RgbImage> = images
                        .iter()
                        .map(|image| transform(kind, image, &mut rng))
                        .collect();
                    match observe_images(engine, &frames, threads) {
                        Ok(o) => o,
                        Err(e) => return fail(json, Code::InternalError, &format!("{kind}: {e}")),
                    }
                };
                if sent.usable < min_usable {
                    *too_few.entry(kind.to_string()).or_default() += 1;
                    continue;
                }
                presented.push(Presented {
                    kind,
                    clip: ci,
                    observed: sent,
                    // Against the window it replays alone, as a generated recording's
                    // replays are: the person's other windows, which the server would
                    // hold as well, could only add matches that are not this recording's.
                    against: vec![index],
                });
            }
            kept.push(Kept {
                clip: ci,
                frames: range,
                observed,
            });
        }
        eprintln!(
            "reclaim: {}/{}: {} of {} windows judged ({:.0} s)",
            clip.person,
            clip.name,
            summary.judged,
            summary.windows,
            started.elapsed().as_secs_f32()
        );
        summaries.push((ci, summary));
    }
    summaries.sort_by_key(|(ci, _)| *ci);
    let summaries: Vec<ClipSummary> = summaries.into_iter().map(|(_, s)| s).collect();
    if kept.is_empty() {
        return fail(
            json,
            Code::InputInvalid,
            &format!(
                "{}: no window has {min_usable} usable frames",
                dir.display()
            ),
        );
    }

    // The person coming back: another day, and the same sitting.
    let earlier = earlier_recordings(&clips);
    let apart_frames = frames_in(args.apart_s);
    for (index, k) in kept.iter().enumerate() {
        let other_days: Vec<usize> = kept
            .iter()
            .enumerate()
            .filter(|(_, e)| earlier[k.clip].contains(&e.clip))
            .map(|(i, _)| i)
            .collect();
        if !other_days.is_empty() {
            presented.push(Presented {
                kind: GENUINE,
                clip: k.clip,
                observed: k.observed.clone(),
                against: other_days,
            });
        }
        let same_clip: Vec<usize> = (0..index).filter(|&i| kept[i].clip == k.clip).collect();
        let ranges: Vec<Range<usize>> = same_clip.iter().map(|&i| kept[i].frames.clone()).collect();
        let sitting: Vec<usize> = apart_before(&ranges, &k.frames, apart_frames)
            .into_iter()
            .map(|j| same_clip[j])
            .collect();
        if !sitting.is_empty() {
            presented.push(Presented {
                kind: SAME_SITTING,
                clip: k.clip,
                observed: k.observed.clone(),
                against: sitting,
            });
        }
    }

    // Judged by the rule shipped, and measured for the table.
    let rule = shipped();
    let sessions: Vec<replay::SeenSession> = kept.iter().map(|k| k.observed.kept()).collect();
    let mut by_kind: BTreeMap<&str, Vec<Compared>> = BTreeMap::new();
    let mut disagreements = 0;
    // Per person and kind: refused as replays, seen before, neither.
    let mut by_person: BTreeMap<(&str, &str), [usize; 3]> = BTreeMap::new();
    for p in &presented {
        let held: Vec<replay::SeenSession> = newest(&p.against)
            .iter()
            .map(|&i| sessions[i].clone())
            .collect();
        let finding = replay::judge_replay(
            &p.observed.hashes,
            &p.observed.motions,
            &held,
            policy.seen_hamming,
            policy.seen_min_frames,
            policy.seen_max_motion,
            policy.seen_min_mirrored,
        );
        let judged = if finding.replayed {
            Verdict::Replayed
        } else if finding.seen_before {
            Verdict::SeenBefore
        } else {
            Verdict::Clear
        };
        let compared = p.observed.compare(&held);
        if verdict(&compared, rule) != judged {
            disagreements += 1;
        }
        by_kind.entry(p.kind).or_default().push(compared);
        let counts = by_person
            .entry((clips[p.clip].person.as_str(), p.kind))
            .or_default();
        counts[match judged {
            Verdict::Replayed => 0,
            Verdict::SeenBefore => 1,
            Verdict::Clear => 2,
        }] += 1;
    }
    let kinds: Vec<&str> = [GENUINE, SAME_SITTING]
        .into_iter()
        .chain(TRANSFORMS)
        .chain([COPIED])
        .collect();
    let rows: Vec<Row> = kinds
        .iter()
        .filter_map(|&kind| by_kind.get(kind).map(|set| row(kind, set, rule)))
        .collect();
    let mut per_person: Vec<PersonRow> = by_person
        .into_iter()
        .map(
            |((person, kind), [refused, seen_before, neither])| PersonRow {
                person: person.to_string(),
                kind: kind.to_string(),
                refused,
                seen_before,
                neither,
            },
        )
        .collect();
    per_person.sort_by_key(|r| (r.person.clone(), kinds.iter().position(|k| *k == r.kind)));
    let mut people: Vec<&str> = clips.iter().map(|c| c.person.as_str()).collect();
    people.dedup();
    let report = RealReport {
        recordings: dir.display().to_string(),
        window_frames: args.window_frames,
        frame_interval_ms: FRAME_INTERVAL_MS,
        apart_s: args.apart_s,
        min_usable_frames: min_usable,
        people: people.len(),
        clips: summaries,
        shipped: rule,
        rows,
        per_person,
        too_few_usable: too_few,
        disagreements,
    };
    // Met when no genuine return is refused as a replay and no replay goes through
    // unnoticed (refused, or seen before), as for the generated sequences.
    let ok =
        report.disagreements == 0 && report.rows.iter().all(|r| r.met(&[GENUINE, SAME_SITTING]));
    if json {
        print_json(&report);
    } else {
        print_markdown(&report);
    }
    if disagreements > 0 {
        eprintln!(
            "reclaim: the table's reading of the rule disagreed with judge_replay on {disagreements} presentations"
        );
    }
    if ok {
        Exit::Yes
    } else {
        Exit::No
    }
}

/// A window's frames, decoded as the server decodes an upload (within the capture's
/// per-frame limits).
fn load_window(paths: &[PathBuf]) -> Result<Vec<RgbImage>, String> {
    paths
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            load_image_bytes(&bytes, &CAPTURE_LIMITS.frame())
                .map(|l| l.rgb)
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

/// One window as a capture: frame `k` taken at `k` times the app's interval.
fn observe_images(
    engine: &FaceEngine,
    images: &[RgbImage],
    threads: usize,
) -> Result<Observed, String> {
    let timed = TimedFrame::all(images.iter().zip((0u64..).map(|k| k * FRAME_INTERVAL_MS)));
    observe_timed(engine, &timed, threads)
}

fn print_markdown(r: &RealReport) {
    let recordings = r.clips.iter().filter(|c| c.copy_of.is_none()).count();
    say!(
        "Real recordings in {}: {} people, {} recordings and {} copies (another encoding of a recording in the set); windows of {} frames, one every {} ms ({:.2} s; a last shorter window when at least {} frames are left), judged when at least {} frames are usable.\n",
        r.recordings,
        r.people,
        recordings,
        r.clips.len() - recordings,
        r.window_frames,
        r.frame_interval_ms,
        (r.window_frames as u64 * r.frame_interval_ms) as f32 / 1000.0,
        MIN_WINDOW_FRAMES,
        r.min_usable_frames
    );
    say!("| person | clip | copy of | frames | windows | judged | too few usable frames |");
    say!("| --- | --- | --- | --- | --- | --- | --- |");
    for c in &r.clips {
        say!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.person,
            c.clip,
            c.copy_of.as_deref().unwrap_or("-"),
            c.frames,
            c.windows,
            c.judged,
            c.too_few_usable
        );
    }
    say!(
        "\nRule shipped: {}. {GENUINE}: each window of a later recording against the windows kept from the person's earlier ones; {SAME_SITTING}: against the windows of the same recording that ended at least {:.1} s before it; replays: each kept window sent again, transformed, against that window; each window of a copy against the recording's windows kept up to where it ends (the newest {MAX_SESSIONS}).\n",
        describe(r.shipped),
        r.apart_s
    );
    print_rows(&r.rows);
    say!("\nPer person:\n");
    say!("| person | presentation | refused as replays | seen before, not refused | neither |");
    say!("| --- | --- | --- | --- | --- |");
    for p in &r.per_person {
        say!(
            "| {} | {} | {} | {} | {} |",
            p.person,
            p.kind,
            p.refused,
            p.seen_before,
            p.neither
        );
    }
    if !r.too_few_usable.is_empty() {
        say!(
            "\nNot judged, fewer than {} usable frames (the liveness check refuses such a capture):\n",
            r.min_usable_frames
        );
        say!("| presentation | windows |");
        say!("| --- | --- |");
        for (kind, n) in &r.too_few_usable {
            say!("| {kind} | {n} |");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_are_cut_into_capture_sized_windows() {
        // cap12 at one frame every 180 ms: 16 whole windows, 9 frames left over (too few).
        let w = windows(297, 18, 12);
        assert_eq!(w.len(), 16);
        assert_eq!(w[0], 0..18);
        assert_eq!(w[15], 270..288);
        assert!(w.windows(2).all(|p| p[0].end == p[1].start));
        // A clip shorter than a window but as long as a short capture: one window.
        assert_eq!(windows(13, 18, 12), vec![0..13]);
        // What is left at the end counts when long enough.
        assert_eq!(windows(35, 18, 12), vec![0..18, 18..35]);
        assert_eq!(windows(40, 18, 12), vec![0..18, 18..36]);
        assert!(windows(11, 18, 12).is_empty());
        assert!(windows(0, 18, 12).is_empty());
        assert_eq!(windows(4, 0, 0), vec![0..1, 1..2, 2..3, 3..4]);
    }

    #[test]
    fn the_same_sitting_pairs_windows_far_enough_apart() {
        let w = windows(90, 18, 12); // 0..18, 18..36, 36..54, 54..72, 72..90
                                     // 3 s at 180 ms a frame: 17 frames between the end of one and the start of the other.
        let apart = frames_in(APART_S);
        assert_eq!(apart, 17);
        assert_eq!(frames_in(0.0), 0);
        assert_eq!(frames_in(0.18), 1);
        assert_eq!(frames_in(0.181), 2);
        assert!(apart_before(&w[..1], &w[1], apart).is_empty());
        assert_eq!(apart_before(&w[..2], &w[2], apart), vec![0]);
        assert_eq!(apart_before(&w[..4], &w[4], apart), vec![0, 1, 2]);
        assert_eq!(apart_before(&w[..4], &w[4], 0), vec![0, 1, 2, 3]);
        // The server holds the newest sessions only.
        let many: Vec<usize> = (0..MAX_SESSIONS + 7).collect();
        assert_eq!(newest(&many).len(), MAX_SESSIONS);
        assert_eq!(newest(&many)[0], 7);
        assert_eq!(newest(&[3, 4]), &[3, 4]);
    }

    /// A directory laid out as scripts/real-recordings lays it out, with empty frames
    /// (nothing here decodes them).
    fn layout(name: &str, clips: &[(&str, &str, usize, Option<&str>)]) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("reclaim-eval-replay-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (person, clip, frames, copy_of) in clips {
            let dir = root.join(person).join(clip);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..*frames {
                std::fs::write(dir.join(format!("{i:05}.jpg")), b"").unwrap();
            }
            std::fs::write(dir.join("source"), b"where it came from").unwrap();
            if let Some(of) = copy_of {
                std::fs::write(dir.join("copy_of"), format!("{of}\n")).unwrap();
            }
        }
        root
    }

    #[test]
    fn later_recordings_meet_earlier_ones_and_copies_are_replays() {
        let root = layout(
            "pairs",
            &[
                ("man", "2-later", 30, None),
                ("man", "1-earlier", 40, None),
                ("man", "3-copy", 20, Some("1-earlier")),
                ("man", "4-empty", 0, None),
                ("man", "5-half.part", 10, None),
                ("woman", "1-only", 25, None),
                (".packages", "x", 3, None),
            ],
        );
        let clips = scan(&root).unwrap();
        let names: Vec<(&str, &str, usize)> = clips
            .iter()
            .map(|c| (c.person.as_str(), c.name.as_str(), c.frames.len()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("man", "1-earlier", 40),
                ("man", "2-later", 30),
                ("man", "3-copy", 20),
                ("woman", "1-only", 25),
            ]
        );
        assert!(clips[0].frames.windows(2).all(|p| p[0] < p[1]));
        assert!(clips[0]
            .frames
            .iter()
            .all(|p| p.extension().unwrap() == "jpg"));
        // Another day: the later recording against the earlier one; the copy against
        // nothing (it is a replay of the earlier one); nobody against another person.
        assert_eq!(
            earlier_recordings(&clips),
            vec![vec![], vec![0], vec![], vec![]]
        );
        assert_eq!(original_of(&clips, &clips[2]), Some(0));
        assert_eq!(original_of(&clips, &clips[1]), None);
        std::fs::remove_dir_all(&root).unwrap();

        // A copy of something that is not a recording of the same person is refused.
        for (name, of) in [("unknown", "9-none"), ("other", "1-only")] {
            let root = layout(
                name,
                &[
                    ("man", "1-earlier", 20, None),
                    ("man", "2-copy", 20, Some(of)),
                    ("woman", "1-only", 20, None),
                ],
            );
            let e = scan(&root).unwrap_err();
            assert!(e.contains("copy_of names"), "{e}");
            std::fs::remove_dir_all(&root).unwrap();
        }
        let root = layout(
            "copy-of-copy",
            &[
                ("man", "1-earlier", 20, None),
                ("man", "2-copy", 20, Some("1-earlier")),
                ("man", "3-copy", 20, Some("2-copy")),
            ],
        );
        assert!(scan(&root).is_err());
        std::fs::remove_dir_all(&root).unwrap();
        assert!(scan(Path::new("/nonexistent/reclaim-recordings")).is_err());
    }
}
