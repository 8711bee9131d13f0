//! Finding lines of printed text in a photo with PaddleOCR's DBNet detector: a per-pixel
//! text probability, thresholded into regions, each region turned into an oriented box.
//! The MRZ reader picks its lines from these boxes; nothing here knows what an MRZ is.

use image::RgbImage;
use serde::Serialize;

use crate::error::Result;
use crate::models::{build_plan, run_plan, square_input, ModelId, Plan, VerifiedModel};
use crate::raster::shrink_to_fit;

/// Side of the square the photo is letterboxed into.
pub const DETECTOR_SIDE: u32 = 640;
/// A pixel is text when its probability exceeds this (PaddleOCR's default).
const PIXEL_THRESHOLD: f32 = 0.3;
/// A region is kept when its mean probability exceeds this.
const REGION_THRESHOLD: f32 = 0.6;
/// DBNet predicts shrunk regions; boxes are grown by `ratio x area / perimeter`.
const UNCLIP_RATIO: f32 = 1.5;

/// An oriented box around a line of text, in the photo's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TextLine {
    pub center: [f32; 2],
    /// Unit vector along the text (pointing right, `x >= 0`, for a line read as found).
    pub direction: [f32; 2],
    pub length: f32,
    pub height: f32,
    pub score: f32,
}

impl TextLine {
    pub fn angle_deg(&self) -> f32 {
        self.direction[1].atan2(self.direction[0]).to_degrees()
    }
    /// The same box read the other way round (a document held upside down).
    pub fn reversed(&self) -> TextLine {
        TextLine {
            direction: [-self.direction[0], -self.direction[1]],
            ..*self
        }
    }
    /// Unit vector across the text, pointing down the page.
    pub fn normal(&self) -> [f32; 2] {
        [-self.direction[1], self.direction[0]]
    }
}

pub struct TextLineDetector {
    plan: Plan,
}

impl TextLineDetector {
    pub fn new(model: VerifiedModel, threads: usize) -> Result<Self> {
        let proto = model.into_prepared_proto()?;
        let shape = square_input(DETECTOR_SIDE);
        let plan = build_plan(ModelId::TextDetector, proto, &shape, threads)?;
        Ok(TextLineDetector { plan })
    }

    /// Every line of text found in `img`, best first.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<TextLine>> {
        let side = DETECTOR_SIDE as usize;
        let (small, scale) = shrink_to_fit(img, DETECTOR_SIDE, DETECTOR_SIDE);
        let tensor = normalized_bgr(&small, side);
        let shape = square_input(DETECTOR_SIDE);
        let out = run_plan(ModelId::TextDetector, &self.plan, &shape, tensor)?;
        let probability = out.into_iter().next().unwrap_or_default();
        if probability.len() != side * side {
            return Err(crate::error::VerifyError::Inference {
                model: ModelId::TextDetector.as_str().into(),
                reason: "unexpected output size".into(),
            });
        }
        let (w, h) = (small.width() as usize, small.height() as usize);
        let mut lines = regions(&probability, side, w, h);
        for line in &mut lines {
            line.center = line.center.map(|v| v / scale);
            line.length /= scale;
            line.height /= scale;
        }
        let mut lines = merge_fragments(lines);
        lines.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(lines)
    }
}

/// A box less than this many heights long is too short for its own axis to say which way
/// its text runs.
const SHORT_BOX: f32 = 2.5;

/// Joins pieces of one line that the detector split (a long run of `<` fillers can break
/// an MRZ line in two): parallel boxes on the same baseline with a gap of less than two
/// line heights become one box spanning both.
pub fn merge_fragments(mut lines: Vec<TextLine>) -> Vec<TextLine> {
    loop {
        let mut merged = None;
        'search: for i in 0..lines.len() {
            for j in 0..lines.len() {
                if i != j {
                    if let Some(m) = join(&lines[i], &lines[j]) {
                        merged = Some((i, j, m));
                        break 'search;
                    }
                }
            }
        }
        let Some((i, j, m)) = merged else {
            return lines;
        };
        let (hi, lo) = (i.max(j), i.min(j));
        lines.swap_remove(hi);
        lines[lo] = m;
    }
}

/// `a` and `b` as one line, when they lie on one baseline with a small gap. A short box
/// (a two-digit year apart from its day and month, a word's last letters) has no
/// direction worth the name, its region being nearly square: it joins a longer one on
/// that one's baseline whatever its own axis says.
fn join(a: &TextLine, b: &TextLine) -> Option<TextLine> {
    let dot = a.direction[0] * b.direction[0] + a.direction[1] * b.direction[1];
    // Only a short box beside a long one is joined on the long one's word alone, and
    // then more strictly: closer to its baseline, nearer, no taller.
    let short =
        b.length < SHORT_BOX * b.height && a.length >= SHORT_BOX * a.height && dot.abs() < 0.995;
    if (dot.abs() < 0.995 && !short) || (a.height / b.height - 1.0).abs() > 0.5 {
        return None;
    }
    let [ux, uy] = a.direction;
    let [vx, vy] = a.normal();
    let (dx, dy) = (b.center[0] - a.center[0], b.center[1] - a.center[1]);
    let (along, across) = (dx * ux + dy * uy, dx * vx + dy * vy);
    let height = if short {
        a.height
    } else {
        a.height.max(b.height)
    };
    let (max_across, max_gap) = if short { (0.25, 1.0) } else { (0.35, 2.0) };
    if across.abs() > max_across * height || (short && b.height > 1.25 * a.height) {
        return None;
    }
    let (a0, a1) = (-a.length / 2.0, a.length / 2.0);
    let (b0, b1) = (along - b.length / 2.0, along + b.length / 2.0);
    let gap = b0.max(a0) - a1.min(b1);
    if gap > max_gap * height {
        return None;
    }
    let (start, end) = (a0.min(b0), a1.max(b1));
    let mid = (start + end) / 2.0;
    let weight = a.length / (a.length + b.length);
    Some(TextLine {
        center: [
            a.center[0] + mid * ux + across / 2.0 * vx,
            a.center[1] + mid * uy + across / 2.0 * vy,
        ],
        direction: a.direction,
        length: end - start,
        height,
        score: a.score * weight + b.score * (1.0 - weight),
    })
}

/// ImageNet-normalised BGR, NCHW, image top-left in a `side` square, zero elsewhere.
fn normalized_bgr(img: &RgbImage, side: usize) -> Vec<f32> {
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    let plane = side * side;
    let mut data = vec![0.0f32; 3 * plane];
    for (x, y, p) in img.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        if x >= side || y >= side {
            continue;
        }
        let o = y * side + x;
        let bgr = [p[2], p[1], p[0]];
        for c in 0..3 {
            data[c * plane + o] = (f32::from(bgr[c]) / 255.0 - MEAN[c]) / STD[c];
        }
    }
    data
}

/// Connected regions of the thresholded map (within the `w` x `h` image part), each as an
/// oriented, grown box.
fn regions(prob: &[f32], side: usize, w: usize, h: usize) -> Vec<TextLine> {
    let mut label = vec![u32::MAX; side * side];
    let mut lines = Vec::new();
    let mut stack = Vec::new();
    let mut pixels: Vec<(usize, usize)> = Vec::new();
    for start_y in 0..h {
        for start_x in 0..w {
            let s = start_y * side + start_x;
            if label[s] != u32::MAX || prob[s] <= PIXEL_THRESHOLD {
                continue;
            }
            label[s] = lines.len() as u32;
            stack.push((start_x, start_y));
            pixels.clear();
            while let Some((x, y)) = stack.pop() {
                pixels.push((x, y));
                for (dx, dy) in [
                    (-1i32, -1i32),
                    (0, -1),
                    (1, -1),
                    (-1, 0),
                    (1, 0),
                    (-1, 1),
                    (0, 1),
                    (1, 1),
                ] {
                    let (nx, ny) = (x as i32 + dx, y as i32 + dy);
                    if nx < 0 || ny < 0 || nx as usize >= w || ny as usize >= h {
                        continue;
                    }
                    let n = ny as usize * side + nx as usize;
                    if label[n] == u32::MAX && prob[n] > PIXEL_THRESHOLD {
                        label[n] = label[s];
                        stack.push((nx as usize, ny as usize));
                    }
                }
            }
            if let Some(line) = oriented_box(&pixels, prob, side) {
                lines.push(line);
            } else {
                // Keep labels distinct even for dropped regions.
                lines.push(TextLine {
                    center: [0.0; 2],
                    direction: [1.0, 0.0],
                    length: 0.0,
                    height: 0.0,
                    score: -1.0,
                });
            }
        }
    }
    lines.retain(|l| l.score >= REGION_THRESHOLD);
    lines
}

/// The principal-axis box of a region, grown as DBNet's training shrank it.
fn oriented_box(pixels: &[(usize, usize)], prob: &[f32], side: usize) -> Option<TextLine> {
    if pixels.len() < 12 {
        return None;
    }
    let n = pixels.len() as f32;
    let (mut mx, mut my, mut score) = (0.0f32, 0.0f32, 0.0f32);
    for &(x, y) in pixels {
        mx += x as f32;
        my += y as f32;
        score += prob[y * side + x];
    }
    let (mx, my) = (mx / n, my / n);
    let (mut sxx, mut syy, mut sxy) = (0.0f32, 0.0f32, 0.0f32);
    for &(x, y) in pixels {
        let (dx, dy) = (x as f32 - mx, y as f32 - my);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (mut ux, mut uy) = (theta.cos(), theta.sin());
    if ux < 0.0 {
        ux = -ux;
        uy = -uy;
    }
    let (vx, vy) = (-uy, ux);
    let (mut umin, mut umax, mut vmin, mut vmax) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for &(x, y) in pixels {
        let (dx, dy) = (x as f32 + 0.5 - mx, y as f32 + 0.5 - my);
        let (u, v) = (dx * ux + dy * uy, dx * vx + dy * vy);
        umin = umin.min(u);
        umax = umax.max(u);
        vmin = vmin.min(v);
        vmax = vmax.max(v);
    }
    let (length, height) = (umax - umin + 1.0, vmax - vmin + 1.0);
    let grow = length * height * UNCLIP_RATIO / (2.0 * (length + height));
    let (cu, cv) = ((umin + umax) / 2.0, (vmin + vmax) / 2.0);
    Some(TextLine {
        center: [mx + 0.5 + cu * ux + cv * vx, my + 0.5 + cu * uy + cv * vy],
        direction: [ux, uy],
        length: length + 2.0 * grow,
        height: height + 2.0 * grow,
        score: score / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tilted_bar_becomes_one_oriented_box() {
        let side = 64;
        let mut prob = vec![0.0f32; side * side];
        // A bar 40 long and 4 high, tilted by atan(0.1).
        for i in 0..40 {
            for j in 0..4 {
                let x = 10.0 + i as f32;
                let y = 20.0 + j as f32 + i as f32 * 0.1;
                prob[y as usize * side + x as usize] = 0.9;
            }
        }
        let lines = regions(&prob, side, side, side);
        assert_eq!(lines.len(), 1);
        let l = lines[0];
        assert!((l.angle_deg() - 5.7).abs() < 1.5, "{}", l.angle_deg());
        assert!(
            l.length > 40.0 && l.height > 4.0 && l.height < 12.0,
            "{l:?}"
        );
        assert!(l.direction[0] > 0.0);
    }

    #[test]
    fn split_pieces_of_a_line_are_joined_but_neighbouring_lines_are_not() {
        let piece = |x: f32, y: f32, length: f32| TextLine {
            center: [x, y],
            direction: [1.0, 0.0],
            length,
            height: 10.0,
            score: 0.9,
        };
        let lines = merge_fragments(vec![
            piece(100.0, 50.0, 100.0),
            piece(165.0, 51.0, 20.0),
            piece(100.0, 70.0, 100.0),
        ]);
        assert_eq!(lines.len(), 2);
        let joined = lines.iter().find(|l| l.center[1] < 60.0).unwrap();
        assert!((joined.length - 125.0).abs() < 1e-3, "{joined:?}");
        assert!((joined.center[0] - 112.5).abs() < 1e-3);
        // Far apart on one baseline: two lines.
        assert_eq!(
            merge_fragments(vec![piece(0.0, 0.0, 50.0), piece(200.0, 0.0, 50.0)]).len(),
            2
        );
    }

    /// Canada's specimen passport: `01 JAN /JAN` and its year `85` detected apart, the
    /// year's nearly square box turned 8 degrees by its own axis.
    #[test]
    fn a_short_box_joins_a_long_one_on_its_baseline_whatever_its_own_axis() {
        let (c, s) = (8f32.to_radians().cos(), 8f32.to_radians().sin());
        let line = TextLine {
            center: [210.0, 141.0],
            direction: [1.0, 0.0],
            length: 100.0,
            height: 18.0,
            score: 0.9,
        };
        let year = |y: f32, height: f32| TextLine {
            center: [270.0, y],
            direction: [c, s],
            length: 27.0,
            height,
            score: 0.9,
        };
        let joined = merge_fragments(vec![line, year(140.0, 16.0)]);
        assert_eq!(joined.len(), 1, "{joined:?}");
        assert!((joined[0].length - 123.5).abs() < 1.0, "{joined:?}");
        assert!((joined[0].height - 18.0).abs() < 1e-3);
        // Not a box on the next line's baseline, a taller one, or one two heights away.
        for other in [
            year(150.0, 16.0),
            year(140.0, 24.0),
            TextLine {
                center: [310.0, 140.0],
                ..year(140.0, 16.0)
            },
        ] {
            assert_eq!(merge_fragments(vec![line, other]).len(), 2, "{other:?}");
        }
        // Two short boxes, neither with an axis to trust, stay apart.
        let short = TextLine {
            length: 30.0,
            ..line
        };
        assert_eq!(merge_fragments(vec![short, year(140.0, 16.0)]).len(), 2);
    }

    #[test]
    fn faint_and_tiny_regions_are_dropped() {
        let side = 32;
        let mut prob = vec![0.0f32; side * side];
        prob[5 * side + 5] = 0.9;
        for x in 10..30 {
            prob[20 * side + x] = 0.4;
        }
        assert!(regions(&prob, side, side, side).is_empty());
    }
}
