//! Telling OCR-B's filler `<` from a letter by its look, against the zone's own characters.
//!
//! On zones printed small (characters 9 pixels apart or less) the recognizer reads some
//! fillers between the letters of a name as `K`, `C` or `A`. The zone itself holds the
//! answer: dozens of fillers read with certainty, and dozens of certain letters, all in the
//! same font, at the same scale and with the same blur. Each character's cell (the line's
//! characters are evenly spaced, so cells come from a straight fit through where the
//! recognizer read them) is cut out, grey, normalised; the certain fillers' cells averaged
//! make this zone's filler. How much each certain filler resembles the average of the
//! others, and each certain letter the average, set the zone's own bounds; a zone whose
//! certain fillers and letters overlap decides nothing. A doubtful cell is the filler when
//! it resembles the average at least as much as every certain filler does, or when it is
//! nearer the fillers' side of the gap and resembles them more than the zone's certain
//! copies of the letter offered there. Otherwise it stays in doubt: this never decides
//! for a letter, which the printed names (and the recognizer's first choice) are left to.
//! No threshold is chosen here: each zone sets its own from its certain characters.

use image::RgbImage;
use reclaim_document::mrz::{FillerDoubt, Shape};

use crate::document::ocr::LineReading;
use crate::document::text_lines::TextLine;

/// A cell is sampled on this grid (across the line's pitch, across its box's height).
const CELL_W: usize = 10;
const CELL_H: usize = 14;
/// A character is certain when the recognizer gave it at least this probability.
const SURE: f32 = 0.9;
/// Fewer certain fillers or letters than this and nothing is decided.
const MIN_EXEMPLARS: usize = 4;
/// Offsets tried when matching a cell, in pitches along the line and heights across it:
/// where the recognizer placed a character is a column or so off its centre.
const SHIFTS_ALONG: [f32; 5] = [-0.2, -0.1, 0.0, 0.1, 0.2];
const SHIFTS_ACROSS: [f32; 3] = [-0.08, 0.0, 0.08];

/// One MRZ line as read: its box, where along it (from its centre, in the photo's pixels)
/// the recognizer read each character, the recognizer's candidates per character, and the
/// characters of the reading.
pub struct ReadLine<'a> {
    pub line: &'a TextLine,
    pub offsets: &'a [f32],
    pub read_as: &'a LineReading,
    pub text: &'a str,
}

/// What each of `doubts` looks like: [`Shape::Filler`] or [`Shape::Unclear`].
pub fn judge_filler_doubts(
    img: &RgbImage,
    lines: &[ReadLine<'_>],
    doubts: &[FillerDoubt],
) -> Vec<(FillerDoubt, Shape)> {
    let unclear = || doubts.iter().map(|&d| (d, Shape::Unclear)).collect();
    if doubts.is_empty() {
        return Vec::new();
    }
    let Some(grids) = lines
        .iter()
        .map(|l| fit_cells(l.offsets, l.text.len()))
        .collect::<Option<Vec<_>>>()
    else {
        return unclear();
    };
    let cell = |i: usize, k: usize, du: f32, dv: f32| -> Option<Vec<f32>> {
        let (line, (start, pitch)) = (lines.get(i)?.line, grids.get(i)?);
        sample_cell(img, line, start + pitch * k as f32, *pitch, du, dv)
    };
    let in_doubt = |i: usize, k: usize| doubts.iter().any(|d| (d.line, d.column) == (i + 1, k + 1));
    let mut fillers: Vec<(usize, usize)> = Vec::new();
    let mut letters: Vec<(usize, usize)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        for (k, (c, candidates)) in l.text.chars().zip(l.read_as.iter()).enumerate() {
            let sure = candidates
                .first()
                .is_some_and(|&(first, p)| first == c && p >= SURE);
            if !sure || in_doubt(i, k) {
                continue;
            }
            if c == '<' {
                fillers.push((i, k));
            } else {
                letters.push((i, k));
            }
        }
    }
    let centred = |(i, k): (usize, usize)| cell(i, k, 0.0, 0.0);
    let filler_cells: Vec<Vec<f32>> = fillers.iter().filter_map(|&p| centred(p)).collect();
    if filler_cells.len() < MIN_EXEMPLARS || letters.len() < MIN_EXEMPLARS {
        return unclear();
    }
    let sum = summed(&filler_cells);
    let Some(template) = normalised(sum.clone()) else {
        return unclear();
    };
    // How much a cell resembles `template`, at its best offset.
    let score = |i: usize, k: usize, template: &[f32]| -> Option<f32> {
        let mut best: Option<f32> = None;
        for du in SHIFTS_ALONG {
            for dv in SHIFTS_ACROSS {
                let Some(c) = cell(i, k, du, dv) else {
                    continue;
                };
                let s: f32 = c.iter().zip(template).map(|(a, b)| a * b).sum();
                best = Some(best.map_or(s, |b: f32| b.max(s)));
            }
        }
        best
    };
    // Each certain filler against the others' average: how alike this zone's fillers are.
    let mut least_filler = f32::MAX;
    for (&(i, k), own) in fillers.iter().zip(&filler_cells) {
        let others: Vec<f32> = sum.iter().zip(own).map(|(s, o)| s - o).collect();
        let Some(others) = normalised(others) else {
            return unclear();
        };
        let Some(s) = score(i, k, &others) else {
            return unclear();
        };
        least_filler = least_filler.min(s);
    }
    let most_letter = letters
        .iter()
        .filter_map(|&(i, k)| score(i, k, &template))
        .fold(f32::MIN, f32::max);
    if least_filler <= most_letter {
        return unclear();
    }
    // A doubtful filler sits between letters, whose edges reach into its cell, where the
    // certain ones mostly sit among fillers: it resembles the average filler a little
    // less than they do. So a cell is the filler when it resembles the average filler at
    // least as much as every certain filler does; or when it is on the fillers' side of
    // the gap between the two and resembles the average filler more than the zone's own
    // certain copies of the letter offered there (a `K`'s chevron resembles the filler,
    // its stem does not). Never the letter: a letter the recognizer read stays read, and
    // one it read as the filler stays in doubt for the printed names to settle.
    let middle = (least_filler + most_letter) / 2.0;
    doubts
        .iter()
        .map(|&d| {
            let (Some(i), Some(k)) = (d.line.checked_sub(1), d.column.checked_sub(1)) else {
                return (d, Shape::Unclear);
            };
            let Some(s) = score(i, k, &template) else {
                return (d, Shape::Unclear);
            };
            let copies: Vec<Vec<f32>> = letters
                .iter()
                .filter(|&&(li, lk)| lines[li].text.as_bytes().get(lk) == Some(&(d.letter as u8)))
                .filter_map(|&p| centred(p))
                .collect();
            let nearer_filler = || {
                normalised(summed(&copies))
                    .and_then(|letter| score(i, k, &letter))
                    .is_some_and(|as_letter| s > as_letter)
            };
            let filler = s >= least_filler || (s > middle && !copies.is_empty() && nearer_filler());
            (
                d,
                if filler {
                    Shape::Filler
                } else {
                    Shape::Unclear
                },
            )
        })
        .collect()
}

/// The cells added up, value by value (normalised, the sum is their average's shape).
fn summed(cells: &[Vec<f32>]) -> Vec<f32> {
    cells
        .iter()
        .fold(vec![0.0f32; CELL_W * CELL_H], |mut acc, c| {
            acc.iter_mut().zip(c).for_each(|(a, v)| *a += v);
            acc
        })
}

/// Where a line's `n` characters are: the first's offset along the line and the pitch,
/// from a straight fit through where the recognizer read them (an MRZ is printed at one
/// pitch), refitted once without the characters read more than half a pitch off it.
fn fit_cells(offsets: &[f32], n: usize) -> Option<(f32, f32)> {
    if offsets.len() != n || n < 2 {
        return None;
    }
    let fit = |keep: &dyn Fn(usize) -> bool| -> Option<(f32, f32)> {
        let points: Vec<(f32, f32)> = offsets
            .iter()
            .enumerate()
            .filter(|&(k, _)| keep(k))
            .map(|(k, &o)| (k as f32, o))
            .collect();
        let m = points.len() as f32;
        if m < 2.0 {
            return None;
        }
        let (sx, sy) = points
            .iter()
            .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
        let (mx, my) = (sx / m, sy / m);
        let (sxx, sxy) = points.iter().fold((0.0, 0.0), |(a, b), &(x, y)| {
            (a + (x - mx) * (x - mx), b + (x - mx) * (y - my))
        });
        let pitch = sxy / sxx;
        (pitch.is_finite() && pitch > 0.0).then_some((my - pitch * mx, pitch))
    };
    let (start, pitch) = fit(&|_| true)?;
    fit(&|k| (offsets[k] - (start + pitch * k as f32)).abs() <= 0.5 * pitch)
}

/// The cell of the character at `offset` along `line` (one `pitch` wide, the box's
/// height), moved `du` pitches along and `dv` heights across, as grey values with mean 0
/// and length 1; `None` for a cell with no contrast.
fn sample_cell(
    img: &RgbImage,
    line: &TextLine,
    offset: f32,
    pitch: f32,
    du: f32,
    dv: f32,
) -> Option<Vec<f32>> {
    let [ux, uy] = line.direction;
    let [vx, vy] = line.normal();
    let height = line.height;
    let centre_u = offset + du * pitch;
    let centre_v = dv * height;
    let mut values = Vec::with_capacity(CELL_W * CELL_H);
    for y in 0..CELL_H {
        for x in 0..CELL_W {
            // Each grid point averages 2x2 samples of its own area.
            let mut acc = 0.0;
            for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let u = centre_u + ((x as f32 + sx) / CELL_W as f32 - 0.5) * pitch;
                let v = centre_v + ((y as f32 + sy) / CELL_H as f32 - 0.5) * height;
                let px = line.center[0] + u * ux + v * vx;
                let py = line.center[1] + u * uy + v * vy;
                acc += grey_at(img, px, py);
            }
            values.push(acc / 4.0);
        }
    }
    normalised(values)
}

/// `values` with mean 0 and length 1, or `None` when they are (nearly) all alike.
fn normalised(mut values: Vec<f32>) -> Option<Vec<f32>> {
    let mean = values.iter().sum::<f32>() / values.len().max(1) as f32;
    values.iter_mut().for_each(|v| *v -= mean);
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    if !norm.is_finite() || norm < 1e-3 {
        return None;
    }
    values.iter_mut().for_each(|v| *v /= norm);
    Some(values)
}

/// Bilinear grey (0 to 1) at `(x, y)`; white outside the photo.
fn grey_at(img: &RgbImage, x: f32, y: f32) -> f32 {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (x, y) = (x - 0.5, y - 0.5);
    if !(x >= 0.0 && y >= 0.0 && x < w - 1.0 && y < h - 1.0) {
        return 1.0;
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let px = |xi: u32, yi: u32| {
        let p = img.get_pixel(xi, yi).0;
        (f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])) / (3.0 * 255.0)
    };
    let (xi, yi) = (x0 as u32, y0 as u32);
    let top = px(xi, yi) * (1.0 - fx) + px(xi + 1, yi) * fx;
    let bottom = px(xi, yi + 1) * (1.0 - fx) + px(xi + 1, yi + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;

    const PITCH: f32 = 12.0;
    const HEIGHT: f32 = 20.0;

    /// Draws `text` on white, one character every [`PITCH`] pixels from x = 10 on the
    /// line y = 20: `<` as a chevron, `K` as a stem and a chevron, anything else as a box.
    fn zone(text: &str) -> RgbImage {
        let width = 20 + (PITCH * text.len() as f32) as u32;
        let mut img = RgbImage::from_pixel(width, 40, image::Rgb([255, 255, 255]));
        let mut stroke = |(x0, y0): (f32, f32), (x1, y1): (f32, f32)| {
            for step in 0..=100 {
                let t = step as f32 / 100.0;
                let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (px, py) = (x as i64 + dx, y as i64 + dy);
                    if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height()
                    {
                        img.put_pixel(px as u32, py as u32, image::Rgb([0, 0, 0]));
                    }
                }
            }
        };
        for (k, c) in text.chars().enumerate() {
            let x = 10.0 + PITCH * k as f32;
            let (l, r, t, b) = (x + 2.0, x + PITCH - 3.0, 13.0, 27.0);
            match c {
                '<' => {
                    stroke((r, t + 2.0), (l, 20.0));
                    stroke((l, 20.0), (r, b - 2.0));
                }
                'K' => {
                    stroke((l, t), (l, b));
                    stroke((r, t), (l + 1.0, 20.0));
                    stroke((l + 1.0, 20.0), (r, b));
                }
                _ => {
                    stroke((l, t), (r, t));
                    stroke((r, t), (r, b));
                    stroke((r, b), (l, b));
                    stroke((l, b), (l, t));
                }
            }
        }
        img
    }

    fn judge(drawn: &str, read: &str, doubts: &[(usize, char)]) -> Vec<Shape> {
        let img = zone(drawn);
        let n = drawn.len();
        let line = TextLine {
            center: [10.0 + PITCH * n as f32 / 2.0, 20.0],
            direction: [1.0, 0.0],
            length: PITCH * n as f32,
            height: HEIGHT,
            score: 0.9,
        };
        let offsets: Vec<f32> = (0..n)
            .map(|k| PITCH * (k as f32 + 0.5) - line.length / 2.0)
            .collect();
        let read_as: LineReading = read.chars().map(|c| vec![(c, 0.99)]).collect();
        let doubts: Vec<FillerDoubt> = doubts
            .iter()
            .map(|&(column, letter)| FillerDoubt {
                line: 1,
                column,
                letter,
            })
            .collect();
        let lines = [ReadLine {
            line: &line,
            offsets: &offsets,
            read_as: &read_as,
            text: read,
        }];
        judge_filler_doubts(&img, &lines, &doubts)
            .into_iter()
            .map(|(_, shape)| shape)
            .collect()
    }

    #[test]
    fn a_filler_read_as_a_letter_is_told_by_the_zones_own_fillers() {
        // Column 4 is drawn as a filler and read `K`; column 9 is a letter read `<`: it
        // stays in doubt (nothing here decides for a letter).
        let shapes = judge(
            "ABC<DE<<FG<<<<HI<<<<<<",
            "ABCKDE<<<G<<<<HI<<<<<<",
            &[(4, 'K'), (9, 'F')],
        );
        assert_eq!(shapes, [Shape::Filler, Shape::Unclear]);
    }

    /// A `K` in doubt with the filler is a `K` here: its stem is unlike the zone's
    /// fillers, and it resembles the zone's certain `K` more.
    #[test]
    fn a_letter_with_the_filler_offered_stays_in_doubt() {
        let shapes = judge(
            "ABKD<E<<FK<<<<HI<<<<<<",
            "ABKD<E<<FK<<<<HI<<<<<<",
            &[(10, 'K')],
        );
        assert_eq!(shapes, [Shape::Unclear]);
    }

    #[test]
    fn a_zone_with_too_few_certain_fillers_decides_nothing() {
        let shapes = judge("ABCD<EFGH", "ABCDKEFGH", &[(5, 'K')]);
        assert_eq!(shapes, [Shape::Unclear]);
        assert!(judge("ABC<<<<<<", "ABC<<<<<<", &[]).is_empty());
    }

    #[test]
    fn cells_are_fitted_through_the_recognizers_positions() {
        // Evenly read but for one character placed far off: the fit ignores it.
        let mut offsets: Vec<f32> = (0..10).map(|k| 5.0 + 12.0 * k as f32).collect();
        offsets[4] += 9.0;
        let (start, pitch) = fit_cells(&offsets, 10).unwrap();
        assert!(
            (start - 5.0).abs() < 0.01 && (pitch - 12.0).abs() < 0.01,
            "{start} {pitch}"
        );
        assert!(fit_cells(&offsets, 9).is_none());
        assert!(fit_cells(&[3.0, 3.0], 2).is_none());
    }
}
