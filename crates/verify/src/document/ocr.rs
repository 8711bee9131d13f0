//! Reading MRZ lines with PaddleOCR's recognizer, restricted to the MRZ alphabet.
//!
//! Each line is cut out of the full-resolution photo along its oriented box and resampled
//! to the recognizer's height of 48 pixels, stretched 1.5 times wider than its aspect so
//! that runs of `<` stay apart (CTC merges repeats that share a column). The recognizer
//! gives, per 8-pixel column, a probability for the blank and each of the 37 characters.
//! Since an MRZ line has a known length, the decoding asks for the most probable path that
//! emits exactly that many characters, and keeps for each character the runners-up, which
//! the MRZ resolver weighs against the check digits.

use image::RgbImage;

use crate::document::text_lines::TextLine;
use crate::error::{Result, VerifyError};
use crate::models::{build_plan, run_plan, ModelId, Plan, VerifiedModel};

/// The characters an MRZ may hold, in the order of the recognizer's first restricted
/// classes (class 0 is the CTC blank, class `k` is the `k`-th character here).
pub const MRZ_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";

/// Every class the prepared recognizer keeps, in order: [`MRZ_ALPHABET`], then lower case
/// and the space for the printed (visual) zone, where names are printed in either case
/// and words are parted by spaces. An MRZ line's
/// probabilities are these renormalised over the blank and the MRZ's 37 classes, which is
/// exactly the softmax of a classifier restricted to those alone.
pub const RECOGNIZER_ALPHABET: &str = concat!(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<",
    "abcdefghijklmnopqrstuvwxyz "
);

/// Height of the recognizer's input.
pub const LINE_HEIGHT: usize = 48;
/// Width of the recognizer's input: a 44-character line at the stretch below fits.
pub const LINE_WIDTH: usize = 1600;
/// Each output pixel averages the source over this many pixel widths.
const SPREAD: f32 = 2.0;
/// How much wider than its aspect a line is drawn.
const STRETCH: f32 = 1.5;
/// Runners-up kept per character.
const ALTERNATIVES: usize = 3;
/// Widest a printed line (a name, a date) is drawn on the recognizer's input: 80 columns,
/// enough for the longest printed field at its natural aspect.
pub const PRINTED_WIDTH: usize = 640;
/// Blank input columns between two printed lines read together: the recognizer's columns
/// are 8 pixels wide, so four of them read blank between the lines.
const PRINTED_GAP: usize = 32;

/// Per character of a line, the candidates with their probabilities, best first.
pub type LineReading = Vec<Vec<(char, f32)>>;

pub struct MrzRecognizer {
    /// The model prepared for one input 48x1600: an MRZ line, or several printed lines
    /// side by side.
    plan: Plan,
    /// The MRZ's characters, class `k` being `alphabet[k - 1]`.
    alphabet: Vec<char>,
    /// Every class the model keeps ([`RECOGNIZER_ALPHABET`]).
    all_classes: Vec<char>,
}

impl MrzRecognizer {
    pub fn new(model: VerifiedModel, threads: usize) -> Result<Self> {
        let proto = model.into_prepared_proto()?;
        let shape: &[usize] = &[1, 3, LINE_HEIGHT, LINE_WIDTH];
        let plan = build_plan(ModelId::TextRecognizer, proto, shape, threads)?;
        Ok(MrzRecognizer {
            plan,
            alphabet: MRZ_ALPHABET.chars().collect(),
            all_classes: RECOGNIZER_ALPHABET.chars().collect(),
        })
    }

    /// Per-column class probabilities of `line` cut from `img`, over the blank and the
    /// MRZ's characters: `columns x (1 + 37)`, each column renormalised over those classes.
    pub fn probabilities(&self, img: &RgbImage, line: &TextLine) -> Result<Vec<Vec<f32>>> {
        let tensor = line_tensor(img, line);
        let shape = [1, 3, LINE_HEIGHT, LINE_WIDTH];
        let columns = self.columns(run_plan(
            ModelId::TextRecognizer,
            &self.plan,
            &shape,
            tensor,
        )?)?;
        let mrz = self.alphabet.len() + 1;
        Ok(columns
            .into_iter()
            .map(|column| {
                let kept = column.get(..mrz).unwrap_or(&column[..]);
                let sum: f32 = kept.iter().sum();
                kept.iter()
                    .map(|p| p / sum.max(f32::MIN_POSITIVE))
                    .collect()
            })
            .collect())
    }

    /// The texts of printed lines (names, dates) cut from `img`, in upper case, each read
    /// at its natural aspect over every class the model keeps (greedy CTC). Lines are read
    /// side by side, as many as fit on one input ([`printed_lines_fitting`]), parted by
    /// blank gaps, and the recognizer's columns split back at the gaps: a page's 20 to 40
    /// short lines cost a few runs instead of one each.
    pub fn printed_texts(&self, img: &RgbImage, lines: &[TextLine]) -> Result<Vec<String>> {
        let mut texts = Vec::with_capacity(lines.len());
        let mut rest = lines;
        while !rest.is_empty() {
            let n = printed_lines_fitting(rest);
            let (now, later) = rest.split_at(n);
            let mut data = vec![0.0f32; 3 * LINE_HEIGHT * LINE_WIDTH];
            let mut spans = Vec::with_capacity(now.len());
            let mut x = 0;
            for line in now {
                let width = printed_width(line);
                draw_line(&mut data, LINE_WIDTH, x, width, img, line);
                spans.push((x, x + width));
                x += width + PRINTED_GAP;
            }
            let shape = [1, 3, LINE_HEIGHT, LINE_WIDTH];
            let columns =
                self.columns(run_plan(ModelId::TextRecognizer, &self.plan, &shape, data)?)?;
            let per_column = LINE_WIDTH as f32 / columns.len().max(1) as f32;
            for (start, end) in spans {
                let first = ((start as f32 / per_column).floor() as usize).min(columns.len());
                let last = ((end as f32 / per_column).ceil() as usize).clamp(first, columns.len());
                texts.push(
                    greedy_decode(&columns[first..last], &self.all_classes).to_ascii_uppercase(),
                );
            }
            rest = later;
        }
        Ok(texts)
    }

    /// The model's output split into columns of every class it keeps.
    fn columns(&self, out: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>> {
        let flat = out.into_iter().next().unwrap_or_default();
        let classes = self.all_classes.len() + 1;
        if flat.is_empty() || flat.len() % classes != 0 {
            return Err(VerifyError::Inference {
                model: ModelId::TextRecognizer.as_str().into(),
                reason: "unexpected output size".into(),
            });
        }
        Ok(flat.chunks_exact(classes).map(<[f32]>::to_vec).collect())
    }

    /// `probs` read without a length constraint (greedy CTC).
    pub fn greedy_text(&self, probs: &[Vec<f32>]) -> String {
        greedy_decode(probs, &self.alphabet)
    }

    /// `probs` (from [`MrzRecognizer::probabilities`]) read as exactly `length`
    /// characters, with alternatives, and the mean log probability per column of that
    /// reading (how sure the recognizer is).
    pub fn decode(&self, probs: &[Vec<f32>], length: usize) -> ForcedReading {
        forced_length_decode(probs, length, &self.alphabet)
    }
}

#[cfg(test)]
fn greedy_length(probs: &[Vec<f32>]) -> usize {
    let mut count = 0;
    let mut previous = 0;
    for column in probs {
        let best = argmax(column);
        if best != 0 && best != previous {
            count += 1;
        }
        previous = best;
    }
    count
}

/// Greedy CTC: each column's likeliest class, repeats merged, blanks (class 0) dropped;
/// class `k` is `alphabet[k - 1]`.
fn greedy_decode(columns: &[Vec<f32>], alphabet: &[char]) -> String {
    let mut text = String::new();
    let mut previous = 0;
    for column in columns {
        let best = argmax(column);
        if best != 0 && best != previous {
            if let Some(c) = alphabet.get(best - 1) {
                text.push(*c);
            }
        }
        previous = best;
    }
    text
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// The recognizer's input for `line`: the oriented box resampled to 48 rows, its width
/// scaled with the height and stretched, padded to [`LINE_WIDTH`] with the mid grey the
/// recognizer was trained to ignore; BGR, scaled to -1..1.
pub fn line_tensor(img: &RgbImage, line: &TextLine) -> Vec<f32> {
    line_tensor_at(img, line, LINE_WIDTH, STRETCH)
}

/// [`line_tensor`] for an input `input_width` wide, the line stretched `stretch` times.
fn line_tensor_at(img: &RgbImage, line: &TextLine, input_width: usize, stretch: f32) -> Vec<f32> {
    let mut data = vec![0.0f32; 3 * LINE_HEIGHT * input_width];
    let height = line.height.max(1.0);
    let width = ((line.length / height * LINE_HEIGHT as f32 * stretch).round() as usize)
        .clamp(1, input_width);
    draw_line(&mut data, input_width, 0, width, img, line);
    data
}

/// A printed line's width on the recognizer's input: its natural aspect at 48 pixels
/// tall, at most [`PRINTED_WIDTH`].
fn printed_width(line: &TextLine) -> usize {
    let height = line.height.max(1.0);
    ((line.length / height * LINE_HEIGHT as f32).round() as usize).clamp(1, PRINTED_WIDTH)
}

/// How many of `lines`, from the first, [`MrzRecognizer::printed_texts`] reads on one
/// input: at least one when there is one.
pub fn printed_lines_fitting(lines: &[TextLine]) -> usize {
    let mut used = 0;
    let mut n = 0;
    for line in lines {
        let width = printed_width(line) + if n > 0 { PRINTED_GAP } else { 0 };
        if used + width > LINE_WIDTH {
            break;
        }
        used += width;
        n += 1;
    }
    n.max(usize::from(!lines.is_empty()))
}

/// Draws `line`, cut from `img`, onto the recognizer's input `data` (`input_width` wide)
/// at columns `x0..x0 + width`, resampled to 48 rows; BGR, scaled to -1..1. What is not
/// drawn stays 0, the mid grey the recognizer was trained to ignore.
fn draw_line(
    data: &mut [f32],
    input_width: usize,
    x0: usize,
    width: usize,
    img: &RgbImage,
    line: &TextLine,
) {
    let plane = LINE_HEIGHT * input_width;
    let width = width.min(input_width.saturating_sub(x0));
    if width == 0 {
        return;
    }
    let height = line.height.max(1.0);
    let [ux, uy] = line.direction;
    let [vx, vy] = line.normal();
    let step_u = line.length / width as f32;
    let step_v = height / LINE_HEIGHT as f32;
    // Average several source samples per output pixel, spread a little wider than the
    // pixel: thin strokes of a high-resolution photo are not skipped, and the jagged
    // diagonals of a sharp photo (which the recognizer misreads, Z as N) are smoothed as a
    // camera's optics would.
    let su = (step_u.ceil() as usize).clamp(3, 6);
    let sv = (step_v.ceil() as usize).clamp(3, 6);
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let raw = img.as_raw();
    let stride = img.width() as usize * 3;
    for y in 0..LINE_HEIGHT {
        for x in 0..width {
            let mut acc = [0.0f32; 3];
            for j in 0..sv {
                for i in 0..su {
                    let u = (x as f32 + SPREAD * ((i as f32 + 0.5) / su as f32 - 0.5) + 0.5)
                        * step_u
                        - line.length / 2.0;
                    let v = (y as f32 + SPREAD * ((j as f32 + 0.5) / sv as f32 - 0.5) + 0.5)
                        * step_v
                        - height / 2.0;
                    let px = line.center[0] + u * ux + v * vx;
                    let py = line.center[1] + u * uy + v * vy;
                    let p = if px >= 0.0 && py >= 0.0 && px < iw && py < ih {
                        let o = py as usize * stride + px as usize * 3;
                        [
                            f32::from(raw[o]),
                            f32::from(raw[o + 1]),
                            f32::from(raw[o + 2]),
                        ]
                    } else {
                        [255.0; 3]
                    };
                    for c in 0..3 {
                        acc[c] += p[c];
                    }
                }
            }
            let n = (su * sv) as f32;
            let o = y * input_width + x0 + x;
            for (c, channel) in [2usize, 1, 0].into_iter().enumerate() {
                data[c * plane + o] = (acc[channel] / n / 255.0 - 0.5) / 0.5;
            }
        }
    }
}

/// The offset along `line` from its centre, in the photo's pixels, of the recognizer's
/// output column `t` (fractional) of `columns`, the line cut as [`line_tensor`] cuts it.
pub fn column_offset(t: f32, columns: usize, line: &TextLine) -> f32 {
    let height = line.height.max(1.0);
    let width = ((line.length / height * LINE_HEIGHT as f32 * STRETCH).round() as usize)
        .clamp(1, LINE_WIDTH) as f32;
    let pixels_per_column = LINE_WIDTH as f32 / columns.max(1) as f32;
    (t * pixels_per_column) / width * line.length - line.length / 2.0
}

/// Where the recognizer sees characters in `probs` (greedy CTC), as offsets along the
/// line from its centre, in the photo's pixels, given the line as it was cut.
pub fn character_positions(probs: &[Vec<f32>], line: &TextLine) -> Vec<f32> {
    let mut positions = Vec::new();
    let mut previous = 0;
    let mut start = 0;
    for (t, column) in probs.iter().enumerate() {
        let best = column
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        if best != previous {
            if previous != 0 {
                positions.push((start + t) as f32 / 2.0);
            }
            start = t;
        }
        previous = best;
    }
    if previous != 0 {
        positions.push((start + probs.len()) as f32 / 2.0);
    }
    positions
        .into_iter()
        .map(|t| column_offset(t, probs.len(), line))
        .collect()
}

/// A line read as a known number of characters.
#[derive(Debug, Clone)]
pub struct ForcedReading {
    /// Per character, the candidates with their probabilities, best first.
    pub reading: LineReading,
    /// Mean log probability per column of the path read (how sure the recognizer is).
    pub confidence: f32,
    /// Per character, the middle of the output columns it was read from (fractional).
    pub columns: Vec<f32>,
}

impl ForcedReading {
    fn nothing() -> Self {
        ForcedReading {
            reading: Vec::new(),
            confidence: f32::NEG_INFINITY,
            columns: Vec::new(),
        }
    }
}

/// The most probable CTC path over `probs` (columns x classes, class 0 blank) that emits
/// exactly `length` characters; for each, the best classes over the columns it spans, and
/// where those columns are. The confidence is the path's mean log probability per column.
pub fn forced_length_decode(probs: &[Vec<f32>], length: usize, alphabet: &[char]) -> ForcedReading {
    let t_len = probs.len();
    let classes = alphabet.len() + 1;
    if t_len == 0 || length == 0 || probs.iter().any(|c| c.len() != classes) {
        return ForcedReading::nothing();
    }
    let logp: Vec<Vec<f32>> = probs
        .iter()
        .map(|c| c.iter().map(|p| p.max(1e-12).ln()).collect())
        .collect();
    let states = (length + 1) * classes;
    let idx = |n: usize, c: usize| n * classes + c;
    let mut score = vec![f32::NEG_INFINITY; states];
    // back[t][state] = previous state.
    let mut back = vec![vec![u32::MAX; states]; t_len];
    score[idx(0, 0)] = logp[0][0];
    for c in 1..classes {
        if length >= 1 {
            score[idx(1, c)] = logp[0][c];
        }
    }
    for t in 1..t_len {
        let mut next = vec![f32::NEG_INFINITY; states];
        for n in 0..=length {
            // The best previous class at count n, for "into blank from anything".
            let row = &score[idx(n, 0)..idx(n, 0) + classes];
            let (b1c, &b1) = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap_or((0, &f32::NEG_INFINITY));
            // Into blank at count n: from anything at count n.
            if b1 > f32::NEG_INFINITY {
                let v = b1 + logp[t][0];
                if v > next[idx(n, 0)] {
                    next[idx(n, 0)] = v;
                    back[t][idx(n, 0)] = idx(n, b1c) as u32;
                }
            }
            for c in 1..classes {
                // Staying on the same character: no new emission.
                let stay = score[idx(n, c)];
                let mut best = stay;
                let mut from = idx(n, c);
                // A new emission from count n - 1, from blank or a different character.
                if n >= 1 {
                    let prev = &score[idx(n - 1, 0)..idx(n - 1, 0) + classes];
                    let (mut p1, mut p1c, mut p2, mut p2c) =
                        (f32::NEG_INFINITY, 0, f32::NEG_INFINITY, 0);
                    for (pc, &s) in prev.iter().enumerate() {
                        if s > p1 {
                            (p2, p2c) = (p1, p1c);
                            (p1, p1c) = (s, pc);
                        } else if s > p2 {
                            (p2, p2c) = (s, pc);
                        }
                    }
                    let (emit, emit_c) = if p1c != c { (p1, p1c) } else { (p2, p2c) };
                    if emit > best {
                        best = emit;
                        from = idx(n - 1, emit_c);
                    }
                }
                if best > f32::NEG_INFINITY {
                    let v = best + logp[t][c];
                    if v > next[idx(n, c)] {
                        next[idx(n, c)] = v;
                        back[t][idx(n, c)] = from as u32;
                    }
                }
            }
        }
        score = next;
    }
    // The best final state with exactly `length` emissions.
    let end = &score[idx(length, 0)..idx(length, 0) + classes];
    let (end_c, &end_score) = match end.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) {
        Some(best) => best,
        None => return ForcedReading::nothing(),
    };
    if end_score == f32::NEG_INFINITY {
        return ForcedReading::nothing();
    }
    // Walk back to the class of each column.
    let mut path = vec![0usize; t_len];
    let mut state = idx(length, end_c);
    for t in (0..t_len).rev() {
        path[t] = state % classes;
        if t > 0 {
            state = back[t][state] as usize;
            if state == u32::MAX as usize {
                return ForcedReading::nothing();
            }
        }
    }
    // Spans of the emitted characters.
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(length);
    for t in 0..t_len {
        let c = path[t];
        if c == 0 {
            continue;
        }
        if t > 0 && path[t - 1] == c {
            if let Some(last) = spans.last_mut() {
                last.1 = t;
            }
        } else {
            spans.push((t, t));
        }
    }
    let reading = spans
        .iter()
        .map(|&(a, b)| {
            let mut best = vec![0.0f32; classes];
            for column in &probs[a..=b] {
                for c in 1..classes {
                    best[c] = best[c].max(column[c]);
                }
            }
            let total: f32 = best[1..].iter().sum::<f32>().max(1e-12);
            let mut ranked: Vec<(char, f32)> = (1..classes)
                .map(|c| (alphabet[c - 1], best[c] / total))
                .collect();
            ranked.sort_by(|x, y| y.1.total_cmp(&x.1));
            ranked.truncate(ALTERNATIVES);
            ranked
        })
        .collect();
    ForcedReading {
        reading,
        confidence: end_score / t_len as f32,
        columns: spans
            .iter()
            .map(|&(a, b)| (a + b) as f32 / 2.0 + 0.5)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MRZ's classes come first, in their order: the MRZ decoding takes the first 38
    /// columns of the model's output.
    #[test]
    fn the_recognizer_keeps_the_mrz_classes_first() {
        assert!(RECOGNIZER_ALPHABET.starts_with(MRZ_ALPHABET));
        let extra = &RECOGNIZER_ALPHABET[MRZ_ALPHABET.len()..];
        assert!(
            extra.chars().all(|c| c.is_ascii_lowercase() || c == ' '),
            "{extra}"
        );
    }

    fn column(classes: usize, hot: usize, p: f32) -> Vec<f32> {
        let mut v = vec![(1.0 - p) / (classes - 1) as f32; classes];
        v[hot] = p;
        v
    }

    #[test]
    fn forced_length_inserts_the_missing_repeat() {
        // Alphabet "A<": "A" then three "<" glued together (no blank between), which a
        // greedy decoder reads as "A<".
        let alphabet = ['A', '<'];
        let mut probs = vec![column(3, 1, 0.9), column(3, 0, 0.9)];
        for _ in 0..6 {
            probs.push(column(3, 2, 0.6));
        }
        probs.push(column(3, 0, 0.9));
        assert_eq!(greedy_length(&probs), 2);
        let read = forced_length_decode(&probs, 4, &alphabet);
        let text: String = read.reading.iter().map(|c| c[0].0).collect();
        assert_eq!(text, "A<<<");
        assert!(read.confidence.is_finite());
        // One column position per character, in order, within the line.
        assert_eq!(read.columns.len(), 4);
        assert!(
            read.columns.windows(2).all(|w| w[0] < w[1]),
            "{:?}",
            read.columns
        );
        assert!(read.columns.iter().all(|&t| (0.0..=9.0).contains(&t)));
    }

    #[test]
    fn alternatives_keep_the_runner_up() {
        let alphabet = ['0', 'O'];
        let mut c = vec![0.05, 0.55, 0.40];
        let probs = vec![c.clone(), column(3, 0, 0.9)];
        let reading = forced_length_decode(&probs, 1, &alphabet).reading;
        assert_eq!(reading[0][0].0, '0');
        assert_eq!(reading[0][1].0, 'O');
        c.swap(1, 2);
        let reading = forced_length_decode(&[c], 1, &alphabet).reading;
        assert_eq!(reading[0][0].0, 'O');
    }

    #[test]
    fn impossible_lengths_give_nothing() {
        let probs = vec![column(3, 1, 0.9); 2];
        let read = forced_length_decode(&probs, 3, &['A', 'B']);
        assert!(read.reading.is_empty() && read.confidence == f32::NEG_INFINITY);
        assert!(forced_length_decode(&[], 1, &['A']).reading.is_empty());
    }
}
