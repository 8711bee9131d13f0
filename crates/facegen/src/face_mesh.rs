//! The face's depth from a real face's geometry: MediaPipe's canonical face model (468
//! vertices, 898 triangles, in centimetres; source and licence in `data/NOTICE`), fitted to
//! a photo's five landmarks.
//!
//! The mesh is laid over the photo in face coordinates (origin between the eyes, u along
//! the eye line, v down the face, both in eye distances): a least-squares affine map of
//! the mesh's five landmark points onto the photo's, plus a smooth correction (Gaussian
//! radial basis functions) that puts each of the five exactly on its landmark, so the
//! depth read at a landmark is the mesh's depth of that landmark. Depth is the mesh's
//! own, measured in the mesh's eye distance: the map only moves the mesh in the image
//! plane, so the nose stands out of the face as far as the model's does.
//!
//! The rasterised depth hands over to the head shape around it through a weight: 1 inside
//! the face, falling to 0 over a band inside the rim where the head continues (forehead,
//! temples, the cheeks up to the mouth), and kept to the rim along the jaw and chin, which
//! stand in front of the neck.

mod data {
    include!("../data/canonical_face_model.rs");
}

use data::{TRIANGLES, VERTICES};

/// Mesh vertices at the corners of the person's right eye (image left); the eye centre
/// the detector reports is their midpoint, as in MediaPipe's own detection-to-mesh
/// correspondence (`geometry_pipeline_metadata_detection.pbtxt`).
const RIGHT_EYE_CORNERS: [usize; 2] = [33, 133];
/// The same for the person's left eye.
const LEFT_EYE_CORNERS: [usize; 2] = [362, 263];
/// The detector's nose tip (MediaPipe's correspondence again).
const NOSE_TIP: usize = 1;
/// The mouth corners, person's right then left.
const MOUTH_CORNERS: [usize; 2] = [61, 291];

/// Width of the band inside the rim over which the face hands over to the head shape, in
/// eye distances: about the width of a temple.
const RIM_BAND: f64 = 0.25;

/// How far below the jaw and chin their depth slopes down to the head shape, in eye
/// distances: a heightfield has no underside, so the slope is what a raised chin shows
/// (the neck's pixels) instead of a wall of the jaw line's.
const JAW_SKIRT: f64 = 0.15;

/// Reach of the correction's Gaussians, in eye distances: wide enough to move the nose
/// as a whole, narrow enough to leave the eyes in place when only the nose is off.
const WARP_SIGMA: f64 = 0.4;

/// The mesh's landmark points: u, v in the mesh's eye distances from the point between
/// its eyes (v down), and depth toward the camera in the same unit.
fn mesh_landmarks() -> [[f64; 3]; 5] {
    let mid = |[a, b]: [usize; 2]| {
        let (p, q) = (VERTICES[a], VERTICES[b]);
        [
            (p[0] + q[0]) / 2.0,
            (p[1] + q[1]) / 2.0,
            (p[2] + q[2]) / 2.0,
        ]
    };
    let raw = [
        mid(RIGHT_EYE_CORNERS),
        mid(LEFT_EYE_CORNERS),
        VERTICES[NOSE_TIP],
        VERTICES[MOUTH_CORNERS[0]],
        VERTICES[MOUTH_CORNERS[1]],
    ];
    let (e, origin) = mesh_frame();
    raw.map(|p| [(p[0] - origin[0]) / e, -(p[1] - origin[1]) / e, p[2] / e])
}

/// The mesh's eye distance (cm) and the point between its eyes (x, y).
fn mesh_frame() -> (f64, [f64; 2]) {
    let mid = |[a, b]: [usize; 2]| {
        let (p, q) = (VERTICES[a], VERTICES[b]);
        [(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0]
    };
    let (r, l) = (mid(RIGHT_EYE_CORNERS), mid(LEFT_EYE_CORNERS));
    let e = ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt();
    (e, [(r[0] + l[0]) / 2.0, (r[1] + l[1]) / 2.0])
}

/// Edges used by one triangle only: the face's outline (the mesh has no holes).
fn rim_edges() -> Vec<[usize; 2]> {
    let mut edges: Vec<[usize; 2]> = TRIANGLES
        .iter()
        .flat_map(|t| {
            let [a, b, c] = t.map(usize::from);
            [[a, b], [b, c], [c, a]]
        })
        .map(|[a, b]| [a.min(b), a.max(b)])
        .collect();
    edges.sort_unstable();
    let mut rim = Vec::new();
    let mut i = 0;
    while i < edges.len() {
        let mut j = i + 1;
        while j < edges.len() && edges[j] == edges[i] {
            j += 1;
        }
        if j - i == 1 {
            rim.push(edges[i]);
        }
        i = j;
    }
    rim
}

/// The image-plane map from mesh face coordinates to the photo's.
struct Warp {
    affine: [[f64; 3]; 2],
    centres: [[f64; 2]; 5],
    weights: [[f64; 2]; 5],
}

impl Warp {
    /// Least-squares affine map of `from` onto `to`, then the Gaussian correction that
    /// makes it exact; the identity if the points are degenerate.
    fn fit(from: [[f64; 2]; 5], to: [[f64; 2]; 5]) -> Warp {
        let identity = Warp {
            affine: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            centres: from,
            weights: [[0.0; 2]; 5],
        };
        let mut m = [[0.0f64; 3]; 3];
        let mut rhs = [[0.0f64; 3]; 2];
        for (p, t) in from.iter().zip(&to) {
            let row = [p[0], p[1], 1.0];
            for i in 0..3 {
                for j in 0..3 {
                    m[i][j] += row[i] * row[j];
                }
                for k in 0..2 {
                    rhs[k][i] += row[i] * t[k];
                }
            }
        }
        let (Some(ax), Some(ay)) = (solve(m, rhs[0]), solve(m, rhs[1])) else {
            return identity;
        };
        let mut warp = Warp {
            affine: [ax, ay],
            centres: from,
            weights: [[0.0; 2]; 5],
        };
        let kernel: [[f64; 5]; 5] =
            std::array::from_fn(|i| std::array::from_fn(|j| gaussian(from[i], from[j])));
        let residual: [[f64; 5]; 2] = std::array::from_fn(|k| {
            std::array::from_fn(|i| to[i][k] - warp.apply_affine(from[i])[k])
        });
        let (Some(wx), Some(wy)) = (solve(kernel, residual[0]), solve(kernel, residual[1])) else {
            return warp;
        };
        warp.weights = std::array::from_fn(|i| [wx[i], wy[i]]);
        warp
    }

    fn apply_affine(&self, p: [f64; 2]) -> [f64; 2] {
        let a = &self.affine;
        [
            a[0][0] * p[0] + a[0][1] * p[1] + a[0][2],
            a[1][0] * p[0] + a[1][1] * p[1] + a[1][2],
        ]
    }

    fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let mut q = self.apply_affine(p);
        for (c, w) in self.centres.iter().zip(&self.weights) {
            let g = gaussian(p, *c);
            q[0] += w[0] * g;
            q[1] += w[1] * g;
        }
        q
    }
}

fn gaussian(a: [f64; 2], b: [f64; 2]) -> f64 {
    let r2 = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
    (-r2 / (2.0 * WARP_SIGMA * WARP_SIGMA)).exp()
}

/// The fitted mesh's depth rasterised on a grid in face coordinates.
pub(crate) struct FaceDepth {
    /// Face coordinates of cell (0, 0)'s centre.
    origin: [f64; 2],
    step: f64,
    cols: usize,
    rows: usize,
    /// Per cell: the hand-over weight times the depth, and the weight (0 outside).
    weighted_depth: Vec<f32>,
    weight: Vec<f32>,
    /// The rim where the head continues (forehead, temples, cheeks): u, v, depth.
    open_rim: Vec<[f64; 3]>,
}

impl FaceDepth {
    /// The mesh fitted to `landmarks` (face coordinates, detector order: eye with the
    /// smaller u, other eye, nose tip, mouth corners), rasterised every `step` eye
    /// distances. The caller keeps the landmarks sane (eyes at u = -0.5 and 0.5 on v = 0,
    /// nose and mouth below them); the mouth corners are taken in order of u.
    pub(crate) fn fit(landmarks: [[f64; 2]; 5], step: f64) -> FaceDepth {
        let mesh = mesh_landmarks();
        let mut to = landmarks;
        if to[3][0] > to[4][0] {
            to.swap(3, 4);
        }
        let warp = Warp::fit(mesh.map(|p| [p[0], p[1]]), to);
        let (e, origin) = mesh_frame();
        let placed: Vec<[f64; 3]> = VERTICES
            .iter()
            .map(|p| {
                let [u, v] = warp.apply([(p[0] - origin[0]) / e, -(p[1] - origin[1]) / e]);
                [u, v, p[2] / e]
            })
            .collect();

        let step = if step.is_finite() {
            step.clamp(0.002, 0.1)
        } else {
            0.02
        };
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in &placed {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        // The landmarks are bounded by the caller, so the placed mesh is too; the cap only
        // guards the allocation.
        for k in 0..2 {
            lo[k] -= JAW_SKIRT;
            hi[k] += JAW_SKIRT;
        }
        let cells = |k: usize| (((hi[k] - lo[k]) / step).ceil() as usize + 2).min(4096);
        let (cols, rows) = (cells(0), cells(1));
        let grid_origin = [lo[0] - step / 2.0, lo[1] - step / 2.0];
        let mut depth = vec![f64::NEG_INFINITY; cols * rows];
        for t in TRIANGLES {
            let [a, b, c] = t.map(|i| placed[usize::from(i)]);
            rasterise(&mut depth, cols, rows, grid_origin, step, [a, b, c]);
        }

        // Rim edges whose both ends lie above the mouth corners continue into the head;
        // the jaw and chin stand in front of the neck: they keep the face's depth to their
        // edge and slope away below it.
        let mouth_y = VERTICES[MOUTH_CORNERS[0]][1].max(VERTICES[MOUTH_CORNERS[1]][1]);
        let (open, jaw): (Vec<[usize; 2]>, Vec<[usize; 2]>) = rim_edges()
            .into_iter()
            .partition(|&[a, b]| VERTICES[a][1] > mouth_y && VERTICES[b][1] > mouth_y);
        let jaw_edges: Vec<[[f64; 3]; 2]> =
            jaw.iter().map(|&[a, b]| [placed[a], placed[b]]).collect();
        let open_edges: Vec<[[f64; 3]; 2]> =
            open.iter().map(|&[a, b]| [placed[a], placed[b]]).collect();
        let mut open_vertices: Vec<usize> = open.into_iter().flatten().collect();
        open_vertices.sort_unstable();
        open_vertices.dedup();
        let open_rim = open_vertices.into_iter().map(|i| placed[i]).collect();

        let mut weighted_depth = vec![0.0f32; cols * rows];
        let mut weight = vec![0.0f32; cols * rows];
        for row in 0..rows {
            for col in 0..cols {
                let i = row * cols + col;
                let p = [
                    grid_origin[0] + col as f64 * step,
                    grid_origin[1] + row as f64 * step,
                ];
                let (z, skirt) = if depth[i] == f64::NEG_INFINITY {
                    // Outside the face: below the jaw, its depth sloping away.
                    let Some((d, z)) = jaw_edges
                        .iter()
                        .map(|[a, b]| segment_distance(p, *a, *b))
                        .min_by(|x, y| x.0.total_cmp(&y.0))
                    else {
                        continue;
                    };
                    if d >= JAW_SKIRT {
                        continue;
                    }
                    (z, 1.0 - smoothstep(d / JAW_SKIRT))
                } else {
                    (depth[i], 1.0)
                };
                let d = open_edges
                    .iter()
                    .map(|[a, b]| segment_distance(p, *a, *b).0)
                    .fold(f64::INFINITY, f64::min);
                let w = skirt * smoothstep(d / RIM_BAND);
                weight[i] = w as f32;
                weighted_depth[i] = (w * z) as f32;
            }
        }
        FaceDepth {
            origin: grid_origin,
            step,
            cols,
            rows,
            weighted_depth,
            weight,
            open_rim,
        }
    }

    /// The hand-over weight times the face's depth, and the weight, at face coordinates
    /// (u, v); both 0 outside the face and the slope below its jaw. Bilinear between cells.
    pub(crate) fn sample(&self, u: f64, v: f64) -> (f64, f64) {
        let x = (u - self.origin[0]) / self.step;
        let y = (v - self.origin[1]) / self.step;
        if !(x >= 0.0 && y >= 0.0) {
            return (0.0, 0.0);
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        if x0 + 1 >= self.cols || y0 + 1 >= self.rows {
            return (0.0, 0.0);
        }
        let (fx, fy) = (x - x0 as f64, y - y0 as f64);
        let at = |grid: &[f32]| {
            let g = |c: usize, r: usize| f64::from(grid[r * self.cols + c]);
            let top = g(x0, y0) * (1.0 - fx) + g(x0 + 1, y0) * fx;
            let bottom = g(x0, y0 + 1) * (1.0 - fx) + g(x0 + 1, y0 + 1) * fx;
            top * (1.0 - fy) + bottom * fy
        };
        (at(&self.weighted_depth), at(&self.weight))
    }

    /// The placed vertices of the rim where the head continues: u, v and the mesh's depth.
    pub(crate) fn open_rim(&self) -> &[[f64; 3]] {
        &self.open_rim
    }
}

/// Writes the triangle's depth into the cells whose centres it covers, keeping the
/// nearest (largest) depth where the mesh overlaps itself.
fn rasterise(
    depth: &mut [f64],
    cols: usize,
    rows: usize,
    origin: [f64; 2],
    step: f64,
    [a, b, c]: [[f64; 3]; 3],
) {
    let area = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]);
    if area.abs() < 1e-12 {
        return;
    }
    let cell = |value: f64, o: f64| (value - o) / step;
    let span = |k: usize, o: f64, n: usize| {
        let lo = cell(a[k].min(b[k]).min(c[k]), o).ceil().max(0.0) as usize;
        let hi = (cell(a[k].max(b[k]).max(c[k]), o).floor()).min(n as f64 - 1.0);
        (lo, hi)
    };
    let (c0, c1) = span(0, origin[0], cols);
    let (r0, r1) = span(1, origin[1], rows);
    if c1 < 0.0 || r1 < 0.0 {
        return;
    }
    for row in r0..=r1 as usize {
        for col in c0..=c1 as usize {
            let p = [origin[0] + col as f64 * step, origin[1] + row as f64 * step];
            // Barycentric weights of a, b and c at p.
            let wb = ((p[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (p[1] - a[1])) / area;
            let wc = ((b[0] - a[0]) * (p[1] - a[1]) - (p[0] - a[0]) * (b[1] - a[1])) / area;
            let wa = 1.0 - wb - wc;
            if wa < -1e-9 || wb < -1e-9 || wc < -1e-9 {
                continue;
            }
            let z = wa * a[2] + wb * b[2] + wc * c[2];
            let i = row * cols + col;
            depth[i] = depth[i].max(z);
        }
    }
}

/// Distance from `p` to the segment from `a` to `b` (in u, v), and the depth (the third
/// coordinate) at the segment's nearest point.
fn segment_distance(p: [f64; 2], a: [f64; 3], b: [f64; 3]) -> (f64, f64) {
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let distance = ((p[0] - a[0] - t * d[0]).powi(2) + (p[1] - a[1] - t * d[1]).powi(2)).sqrt();
    (distance, a[2] + t * (b[2] - a[2]))
}

/// 0 at 0, 1 from 1 on, smooth at both ends.
fn smoothstep(x: f64) -> f64 {
    let k = x.clamp(0.0, 1.0);
    k * k * (3.0 - 2.0 * k)
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` if singular.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        a.swap(col, pivot);
        b.swap(col, pivot);
        if a[col][col].is_nan() || a[col][col].abs() <= 1e-12 {
            return None;
        }
        for row in col + 1..N {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (v, p) in a[row].iter_mut().zip(pivot_row) {
                *v -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0f64; N];
    for row in (0..N).rev() {
        let rest: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_the_canonical_model() {
        assert_eq!(VERTICES.len(), 468);
        assert_eq!(TRIANGLES.len(), 898);
        assert!(TRIANGLES.iter().flatten().all(|&i| usize::from(i) < 468));
        // One closed outline: the eyes and mouth are covered, not holes.
        let rim = rim_edges();
        assert_eq!(rim.len(), 36);
        let (e, _) = mesh_frame();
        assert!((e - 6.302).abs() < 0.01, "{e}");
    }

    #[test]
    fn the_warp_puts_the_mesh_landmarks_on_the_photos() {
        let from = mesh_landmarks().map(|p| [p[0], p[1]]);
        let to = [
            [-0.5, 0.0],
            [0.5, 0.0],
            [0.12, 0.55],
            [-0.42, 0.9],
            [0.4, 0.93],
        ];
        let warp = Warp::fit(from, to);
        for (f, t) in from.iter().zip(&to) {
            let q = warp.apply(*f);
            assert!((q[0] - t[0]).abs() < 1e-9 && (q[1] - t[1]).abs() < 1e-9);
        }
    }

    #[test]
    fn the_face_is_deepest_at_the_nose_and_fades_out_only_where_the_head_goes_on() {
        let own = mesh_landmarks();
        let face = FaceDepth::fit(own.map(|p| [p[0], p[1]]), 0.01);
        let depth_at = |p: [f64; 3]| {
            let (wz, w) = face.sample(p[0], p[1]);
            assert!((w - 1.0).abs() < 1e-6, "{p:?}: weight {w}");
            wz
        };
        let tip = depth_at(own[2]);
        assert!((tip - own[2][2]).abs() < 0.01, "{tip} vs {:?}", own[2]);
        for p in [own[0], own[1], own[3], own[4]] {
            assert!(depth_at(p) < tip - 0.4);
        }
        // The forehead's top fades out; the chin keeps its depth to the rim.
        let (e, origin) = mesh_frame();
        let at_vertex = |i: usize| {
            let p = VERTICES[i];
            face.sample((p[0] - origin[0]) / e, -(p[1] - origin[1]) / e + 0.02)
        };
        assert!(at_vertex(10).1 < 0.1, "{:?}", at_vertex(10));
        let above_chin = {
            let p = VERTICES[152];
            face.sample((p[0] - origin[0]) / e, -(p[1] - origin[1]) / e - 0.03)
        };
        assert!(above_chin.1 > 0.99, "{above_chin:?}");
        assert!(!face.open_rim().is_empty());
        // The nose's stand off the eye/mouth-corner plane, which the head's documentation
        // quotes. The mesh is symmetric, so the least-squares plane through the four
        // points runs through the middle of each pair.
        let eyes = (depth_at(own[0]) + depth_at(own[1])) / 2.0;
        let mouth = (depth_at(own[3]) + depth_at(own[4])) / 2.0;
        let mouth_v = (own[3][1] + own[4][1]) / 2.0;
        let plane = eyes + (mouth - eyes) * own[2][1] / mouth_v;
        let protrusion = tip - plane;
        assert!(
            (protrusion - crate::head::NOSE_PROTRUSION).abs() < 0.01,
            "{protrusion}"
        );
        assert!(face.sample(5.0, 5.0) == (0.0, 0.0));
    }
}
