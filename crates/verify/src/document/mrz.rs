//! Finding the machine-readable zone among a photo's text lines and reading it.
//!
//! An MRZ is two or three long lines of equal length, parallel and evenly stacked, longer
//! than anything else printed on a card. The candidates are grouped by those rules; the
//! recognizer reads each group as TD1 (3 x 30), TD2 (2 x 36) or TD3 (2 x 44) with
//! alternatives per character, and the check digits decide between readings. A card held
//! upside down gives the same boxes read the other way: both ways are tried when the
//! first does not verify.

use image::RgbImage;
use reclaim_document::mrz::{filler_doubts, resolve_mrz, settle_fillers_by_shape, Mrz};
use reclaim_document::Date;

use crate::document::filler_shapes::{judge_filler_doubts, ReadLine};
use crate::document::ocr::{character_positions, column_offset, MrzRecognizer};
use crate::document::text_lines::TextLine;
use crate::error::Result;

/// Lines this much longer than high can be MRZ lines (a 30-character line is about 20).
const MIN_ASPECT: f32 = 9.0;

/// An MRZ found and read, with where it is.
#[derive(Debug, Clone)]
pub struct MrzReading {
    pub mrz: Mrz,
    /// The boxes of its lines, top line first in reading direction.
    pub lines: Vec<TextLine>,
    /// True when the document was upside down in the photo.
    pub upside_down: bool,
    /// Mean log probability per column of the recognizer's reading.
    pub confidence: f32,
}

/// Groups of 2 or 3 lines that look like an MRZ, most MRZ-like first.
///
/// The detector often cuts MRZ lines short where fillers run, and by different amounts on
/// each line, so lines are first grown along their baselines, then grouped by what an MRZ
/// guarantees: parallel, evenly stacked, and flush at one end (the start, or the end for
/// a document upside down). Each group's lines then get the group's full extent.
pub fn mrz_candidates(lines: &[TextLine]) -> Vec<Vec<TextLine>> {
    scored_mrz_candidates(lines)
        .into_iter()
        .map(|(_, group)| group)
        .collect()
}

/// [`mrz_candidates`] with each group's score, best first: the aspect (length over height,
/// before the group's lines get its common extent) of its least line-like line, since
/// every line of an MRZ is long and a group is only as MRZ-like as its shortest member;
/// three lines count a little more than two.
pub fn scored_mrz_candidates(lines: &[TextLine]) -> Vec<(f32, Vec<TextLine>)> {
    let long: Vec<TextLine> = lines
        .iter()
        .filter(|l| l.height > 2.0 && l.length / l.height >= 3.0)
        .map(|l| extend_along(l, lines))
        .filter(|l| l.length / l.height >= MIN_ASPECT)
        .collect();
    let mut groups: Vec<(f32, Vec<TextLine>)> = Vec::new();
    for (i, seed) in long.iter().enumerate() {
        let [ux, uy] = seed.direction;
        let normal = seed.normal();
        let ends = |l: &TextLine| {
            let along = (l.center[0] - seed.center[0]) * ux + (l.center[1] - seed.center[1]) * uy;
            (along - l.length / 2.0, along + l.length / 2.0)
        };
        let (seed_start, seed_end) = ends(seed);
        let mut members: Vec<(f32, TextLine)> = long
            .iter()
            .enumerate()
            .filter(|(j, other)| {
                let dot =
                    seed.direction[0] * other.direction[0] + seed.direction[1] * other.direction[1];
                let (start, end) = ends(other);
                let flush = (start - seed_start).abs() < 2.0 * seed.height
                    || (end - seed_end).abs() < 2.0 * seed.height;
                *j == i || (dot > 0.99 && flush && (other.height / seed.height - 1.0).abs() < 0.5)
            })
            .map(|(_, l)| {
                let across = (l.center[0] - seed.center[0]) * normal[0]
                    + (l.center[1] - seed.center[1]) * normal[1];
                (across, *l)
            })
            .collect();
        members.sort_by(|a, b| a.0.total_cmp(&b.0));
        // The run of closely stacked neighbours around the seed.
        let height = seed.height;
        let seed_at = members
            .iter()
            .position(|(a, _)| a.abs() < 1e-3)
            .unwrap_or(0);
        let mut lo = seed_at;
        while lo > 0 && spaced(members[lo - 1].0, members[lo].0, height) {
            lo -= 1;
        }
        let mut hi = seed_at;
        while hi + 1 < members.len() && spaced(members[hi].0, members[hi + 1].0, height) {
            hi += 1;
        }
        // Printed text above or below an MRZ (a field, a caption, a watermark's rows) can
        // stack with it: every window of 3 or 2 lines of the run that holds the seed is a
        // candidate, three only when evenly spaced, as an MRZ's lines are.
        for size in [3usize, 2] {
            for first in lo..=hi {
                let last = first + size - 1;
                if last > hi || seed_at < first || seed_at > last {
                    continue;
                }
                let window = &members[first..=last];
                if size == 3 {
                    let (g1, g2) = (window[1].0 - window[0].0, window[2].0 - window[1].0);
                    if (g1 - g2).abs() > 0.25 * g1.max(g2) {
                        continue;
                    }
                }
                let mut run: Vec<TextLine> = window.iter().map(|(_, l)| *l).collect();
                if groups.iter().any(|(_, g)| same_group(g, &run)) {
                    continue;
                }
                let score = run
                    .iter()
                    .map(|l| l.length / l.height.max(1.0))
                    .fold(f32::MAX, f32::min);
                // MRZ lines have one length and one margin: every line gets the group's
                // extent.
                let start = run.iter().map(|l| ends(l).0).fold(f32::MAX, f32::min);
                let end = run.iter().map(|l| ends(l).1).fold(f32::MIN, f32::max);
                for line in run.iter_mut() {
                    let (a, b) = ends(line);
                    let shift = (start + end) / 2.0 - (a + b) / 2.0;
                    line.center = [line.center[0] + shift * ux, line.center[1] + shift * uy];
                    line.length = end - start;
                }
                groups.push((score, run));
            }
        }
    }
    // Two lines of three as MRZ-like as they are are read as the three.
    let kept: Vec<bool> = groups
        .iter()
        .map(|(score, g)| {
            g.len() == 3
                || !groups.iter().any(|(other_score, other)| {
                    other.len() == 3
                        && *other_score >= 0.85 * score
                        && g.iter().all(|l| other.iter().any(|o| same_line(o, l)))
                })
        })
        .collect();
    let mut groups: Vec<(f32, Vec<TextLine>)> = groups
        .into_iter()
        .zip(kept)
        .filter_map(|(g, keep)| keep.then_some(g))
        .collect();
    // Most MRZ-like first; three lines before two when nearly as MRZ-like.
    for (score, g) in &mut groups {
        if g.len() == 3 {
            *score /= 0.85;
        }
    }
    groups.sort_by(|a, b| b.0.total_cmp(&a.0));
    groups
}

/// Whether `a` and `b` lie on one baseline.
fn same_line(a: &TextLine, b: &TextLine) -> bool {
    let n = a.normal();
    ((b.center[0] - a.center[0]) * n[0] + (b.center[1] - a.center[1]) * n[1]).abs() < 0.3 * a.height
}

/// `line` grown to cover every box on its baseline within a few line heights: a run of
/// `<` fillers often goes undetected, leaving the line's last characters (a check digit)
/// as a separate fragment well to the right. An MRZ zone is kept clear of other print, so
/// what lies on its baseline is the MRZ.
fn extend_along(line: &TextLine, all: &[TextLine]) -> TextLine {
    let [ux, uy] = line.direction;
    let [vx, vy] = line.normal();
    let (mut start, mut end) = (-line.length / 2.0, line.length / 2.0);
    loop {
        let mut grew = false;
        for other in all {
            let (dx, dy) = (
                other.center[0] - line.center[0],
                other.center[1] - line.center[1],
            );
            let (along, across) = (dx * ux + dy * uy, dx * vx + dy * vy);
            let dot = (other.direction[0] * ux + other.direction[1] * uy).abs();
            if dot < 0.99
                || across.abs() > 0.35 * line.height
                || (other.height / line.height - 1.0).abs() > 0.6
            {
                continue;
            }
            let (o0, o1) = (along - other.length / 2.0, along + other.length / 2.0);
            let gap = (o0 - end).max(start - o1);
            if gap < 12.0 * line.height && (o0 < start - 0.5 || o1 > end + 0.5) {
                start = start.min(o0);
                end = end.max(o1);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let mid = (start + end) / 2.0;
    TextLine {
        center: [line.center[0] + mid * ux, line.center[1] + mid * uy],
        length: end - start,
        ..*line
    }
}

fn spaced(a: f32, b: f32, height: f32) -> bool {
    let gap = b - a;
    gap > 0.5 * height && gap < 2.2 * height
}

/// Whether `run` (before alignment) is already among `groups` (after alignment): the
/// same number of lines on the same baselines.
fn same_group(group: &[TextLine], run: &[TextLine]) -> bool {
    group.len() == run.len()
        && group.iter().zip(run).all(|(g, r)| {
            let n = g.normal();
            ((r.center[0] - g.center[0]) * n[0] + (r.center[1] - g.center[1]) * n[1]).abs()
                < 0.3 * g.height
        })
}

/// A reading this sure (mean log probability per column) is not worth trying upside down.
pub const CONFIDENT: f32 = -0.4;

/// Reads the candidate groups until one gives an MRZ whose check digits all verify; each
/// group is read as found and, unless that reading was confident, upside down. Every line
/// goes through the recognizer once per orientation; the possible line lengths are decoded
/// from the same output. Without a verified reading, the most confident one is returned.
pub fn read_mrz(
    img: &RgbImage,
    lines: &[TextLine],
    recognizer: &MrzRecognizer,
    today: Date,
) -> Result<Option<MrzReading>> {
    let mut best: Option<MrzReading> = None;
    for group in mrz_candidates(lines).into_iter().take(2) {
        let reading = read_group(img, &group, recognizer, today)?;
        if let Some(reading) = reading {
            let verified = reading.mrz.all_check_digits_valid();
            if best.as_ref().is_none_or(|b| better(&reading, b)) {
                best = Some(reading);
            }
            if verified {
                break;
            }
        }
    }
    Ok(best)
}

/// Whether `a` is a better reading than `b`: verified beats unverified, then confidence.
pub fn better(a: &MrzReading, b: &MrzReading) -> bool {
    let (va, vb) = (
        a.mrz.all_check_digits_valid(),
        b.mrz.all_check_digits_valid(),
    );
    (va && !vb) || (va == vb && a.confidence > b.confidence)
}

/// Reads one candidate group as found and, unless that was confident, upside down.
pub fn read_group(
    img: &RgbImage,
    group: &[TextLine],
    recognizer: &MrzRecognizer,
    today: Date,
) -> Result<Option<MrzReading>> {
    let mut best: Option<MrzReading> = None;
    {
        for upside_down in [false, true] {
            let mut oriented: Vec<TextLine> = if upside_down {
                group.iter().rev().map(TextLine::reversed).collect()
            } else {
                group.to_vec()
            };
            // Every MRZ's first line holds fillers; text that shows none is not an MRZ, and
            // its other lines need not be read.
            let Some(first) = oriented.first() else {
                continue;
            };
            let first = recognizer.probabilities(img, first)?;
            if !recognizer.greedy_text(&first).contains('<') {
                continue;
            }
            let mut probabilities = vec![first];
            for line in &oriented[1..] {
                probabilities.push(recognizer.probabilities(img, line)?);
            }
            let lengths: &[usize] = if oriented.len() == 3 {
                &[30]
            } else {
                &[44, 36]
            };
            let mut most_confident = f32::NEG_INFINITY;
            for attempt in 0..3 {
                for &length in lengths {
                    let decoded: Vec<_> = probabilities
                        .iter()
                        .map(|p| recognizer.decode(p, length))
                        .collect();
                    let confidence =
                        decoded.iter().map(|d| d.confidence).sum::<f32>() / decoded.len() as f32;
                    most_confident = most_confident.max(confidence);
                    if decoded.iter().any(|d| d.reading.len() != length) {
                        continue;
                    }
                    let readings: Vec<_> = decoded.iter().map(|d| d.reading.clone()).collect();
                    let Ok(mut mrz) = resolve_mrz(&readings, today) else {
                        continue;
                    };
                    let offsets: Vec<Vec<f32>> = decoded
                        .iter()
                        .zip(&probabilities)
                        .zip(&oriented)
                        .map(|((d, probs), line)| {
                            d.columns
                                .iter()
                                .map(|&t| column_offset(t, probs.len(), line))
                                .collect()
                        })
                        .collect();
                    if let Some(settled) =
                        settle_by_shape(img, &oriented, &offsets, &readings, &mrz, today)
                    {
                        mrz = settled;
                    }
                    let verified = mrz.all_check_digits_valid();
                    let candidate = MrzReading {
                        mrz,
                        lines: oriented.clone(),
                        upside_down,
                        confidence,
                    };
                    if best.as_ref().is_none_or(|b| better(&candidate, b)) {
                        best = Some(candidate);
                    }
                    if verified {
                        return Ok(best);
                    }
                }
                // Glare or a long run of fillers can hide a line's end from the detector:
                // when the recognizer sees characters right up to the end of a box, the
                // lines may go on, so they are read again a quarter longer.
                let touches_end = oriented
                    .iter()
                    .zip(&probabilities)
                    .any(|(line, probs)| ends_in_text(probs, line));
                if attempt == 2 || !touches_end {
                    break;
                }
                oriented = oriented.iter().map(|l| lengthen(l, 0.25)).collect();
                probabilities = oriented
                    .iter()
                    .map(|line| recognizer.probabilities(img, line))
                    .collect::<Result<Vec<_>>>()?;
            }
            if most_confident > CONFIDENT {
                break;
            }
        }
    }
    Ok(best)
}

/// `mrz` with its doubts between the filler and a letter settled by the characters' look
/// ([`judge_filler_doubts`]), or `None` when there are none or none is decided.
fn settle_by_shape(
    img: &RgbImage,
    lines: &[TextLine],
    offsets: &[Vec<f32>],
    readings: &[crate::document::ocr::LineReading],
    mrz: &Mrz,
    today: Date,
) -> Option<Mrz> {
    let doubts = filler_doubts(mrz);
    if doubts.is_empty() {
        return None;
    }
    let read: Vec<ReadLine<'_>> = lines
        .iter()
        .zip(offsets)
        .zip(readings)
        .zip(&mrz.lines)
        .map(|(((line, offsets), read_as), text)| ReadLine {
            line,
            offsets,
            read_as,
            text,
        })
        .collect();
    let verdicts = judge_filler_doubts(img, &read, &doubts);
    settle_fillers_by_shape(mrz, &verdicts, today)
}

/// Whether the recognizer sees a character within about one character of the end of
/// `line` (so the printed line may go on past it).
fn ends_in_text(probs: &[Vec<f32>], line: &TextLine) -> bool {
    let positions = character_positions(probs, line);
    let (Some(first), Some(last)) = (positions.first(), positions.last()) else {
        return false;
    };
    if positions.len() < 2 {
        return false;
    }
    let pitch = (last - first) / (positions.len() - 1) as f32;
    line.length / 2.0 - last < 1.2 * pitch
}

/// `line` made longer by `share` of its length at its end, its start kept.
fn lengthen(line: &TextLine, share: f32) -> TextLine {
    let extra = line.length * share;
    TextLine {
        center: [
            line.center[0] + line.direction[0] * extra / 2.0,
            line.center[1] + line.direction[1] * extra / 2.0,
        ],
        length: line.length + extra,
        ..*line
    }
}
