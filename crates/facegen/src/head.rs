//! A photographed face lifted onto a generic 3D head, so that it can be turned and
//! rendered at any pose: the raw material of the genuine sequences.
//!
//! The head is a heightfield over the photo: each pixel inside a head outline (a
//! superellipse fit from the landmarks, wider than the face box and reaching from the
//! crown to below the chin) gets a depth. Inside the face that depth is a real face's:
//! MediaPipe's canonical face model, fitted to the five landmarks in the image plane and
//! keeping its own depth in eye distances (see `face_mesh`). Around it the head is a half
//! ellipsoid as deep as it is wide, flattened vertically as faces are, which the face hands
//! over to at the forehead, temples and cheeks; jaw and chin keep the face's depth to its
//! edge. The nose therefore stands out as far as the model's does,
//! [`NOSE_PROTRUSION`] eye distances in front of the plane through the eyes and mouth
//! corners: what a liveness check measures (a print or a screen has none).
//!
//! [`render`] ray-marches each output pixel through the posed heightfield, so occlusion
//! (the nose hiding a cheek) is right and there are no holes; what the head uncovers is
//! filled from a background plate made by interpolating across the head.

use image::{imageops, Rgb, RgbImage};

use crate::face_mesh::FaceDepth;
use crate::FacegenError;

/// How far the nose tip of the face mesh the head is built on (MediaPipe's canonical face
/// model) stands in front of the plane through its eye centres and mouth corners, in its
/// eye distances. A model built from a photo has this figure to within about 0.01 (the
/// fit moves the landmarks only in the image plane; [`HeadModel::nose_protrusion`] gives
/// the built model's own).
pub const NOSE_PROTRUSION: f64 = 0.53;

/// Eye distance as a share of the frame width in [`Framing::Selfie`]: a face at arm's
/// length from a laptop webcam.
const SELFIE_EYE_SHARE: f64 = 0.15;

/// How the photo is placed in the frames that are rendered from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Frames have the photo's size and the face stays where it is in the photo.
    Native,
    /// Frames of this size, the photo scaled so the eyes are 15% of the width apart and
    /// moved so they sit at the centre, 42% down; the photo's edges are repeated where it
    /// does not cover the frame.
    Selfie { width: u32, height: u32 },
}

impl Framing {
    /// A 640x480 webcam selfie, the default.
    pub const DEFAULT: Framing = Framing::Selfie {
        width: 640,
        height: 480,
    };
}

/// Where the head is: rotation about a pivot in the neck, then a move of the pivot.
///
/// `yaw_deg > 0` is the person turning to their own left, which moves the nose toward
/// the image's right in an unmirrored frame; `pitch_deg > 0` is looking up (the nose moves
/// up in the image); `roll_deg > 0` tilts the head clockwise in the image. `shift` moves
/// the pivot's image position by that many pixels and `scale` brings the head closer
/// (> 1) or further (< 1), as leaning does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub roll_deg: f32,
    pub shift: [f32; 2],
    pub scale: f32,
}

impl Pose {
    /// The photo's own pose.
    pub const FRONTAL: Pose = Pose {
        yaw_deg: 0.0,
        pitch_deg: 0.0,
        roll_deg: 0.0,
        shift: [0.0, 0.0],
        scale: 1.0,
    };

    /// Frontal, turned by `yaw_deg` and `pitch_deg`.
    pub fn turned(yaw_deg: f32, pitch_deg: f32) -> Pose {
        Pose {
            yaw_deg,
            pitch_deg,
            ..Pose::FRONTAL
        }
    }
}

impl Default for Pose {
    fn default() -> Self {
        Pose::FRONTAL
    }
}

/// A face photo with a depth for every head pixel, ready to be rendered at any pose.
#[derive(Debug, Clone)]
pub struct HeadModel {
    /// The framed photo: what [`render`] gives at [`Pose::FRONTAL`].
    frame: RgbImage,
    /// The frame with the head painted out, shown where the turned head uncovers it.
    plate: RgbImage,
    /// Camera Z of the head surface seen through each pixel; NaN outside the head.
    surface_z: Vec<f32>,
    /// How much of each pixel is head (1 inside, falling to 0 over the outline's rim).
    alpha: Vec<f32>,
    landmarks: [[f32; 2]; 5],
    face_box: [f32; 4],
    eye_distance: f64,
    focal: f64,
    centre: [f64; 2],
    pivot: [f64; 3],
    /// The nearest surface Z and the back of the head (the heightfield is extruded to it).
    z_near: f64,
    z_back: f64,
    /// Pixel bounds of the head outline: x0, y0, x1, y1 (inclusive).
    head_px: [u32; 4],
    nose_protrusion: f64,
}

/// The head's outline and depth in face coordinates: origin between the eyes, u along the
/// eye line, v down the face, both in eye distances.
struct HeadShape {
    half_width: f64,
    centre_v: f64,
    half_height: f64,
    depth: f64,
    /// The face mesh fitted to the landmarks, and the depth added to its own so that its
    /// rim meets the half ellipsoid where the head goes on.
    face: FaceDepth,
    face_offset: f64,
}

impl HeadShape {
    /// Outline value: below 1 inside the head.
    fn outline(&self, u: f64, v: f64) -> f64 {
        (u / self.half_width).powi(2) + ((v - self.centre_v) / self.half_height).powi(4)
    }

    /// The head around the face: a half ellipsoid, in eye distances toward the camera from
    /// the head's middle plane.
    fn base(&self, u: f64, v: f64) -> Option<f64> {
        let o = self.outline(u, v);
        (o < 1.0).then(|| self.depth * (1.0 - o).sqrt())
    }

    /// The depth (added to the face mesh's) that best puts the mesh's open rim (forehead,
    /// temples, cheeks) on the half ellipsoid: their mean difference there.
    fn fit_face_offset(&self) -> f64 {
        let gaps: Vec<f64> = self
            .face
            .open_rim()
            .iter()
            .filter_map(|&[u, v, z]| self.base(u, v).map(|b| b - z))
            .collect();
        if gaps.is_empty() {
            return 0.0;
        }
        gaps.iter().sum::<f64>() / gaps.len() as f64
    }

    /// The face mesh inside the face, handing over to the half ellipsoid outside it and
    /// over the outline's rim (where the head fades out of the photo anyway).
    fn height(&self, u: f64, v: f64) -> Option<f64> {
        let base = self.base(u, v)?;
        let (weighted_depth, weight) = self.face.sample(u, v);
        let k = ((1.0 - self.outline(u, v)) / 0.15).clamp(0.0, 1.0);
        let fade = k * k * (3.0 - 2.0 * k);
        let face = weighted_depth + weight * self.face_offset;
        Some(base + fade * (face - weight * base))
    }
}

impl HeadModel {
    /// A model of the face in `photo` with the detector's 5 landmarks (eye with the
    /// smaller x, other eye, nose tip, mouth corners) and face box `[x, y, w, h]`, framed
    /// as a 640x480 selfie ([`Framing::DEFAULT`]).
    pub fn new(
        photo: &RgbImage,
        landmarks: [[f32; 2]; 5],
        face_box: [f32; 4],
    ) -> Result<HeadModel, FacegenError> {
        HeadModel::with_framing(photo, landmarks, face_box, Framing::DEFAULT)
    }

    /// As [`HeadModel::new`], framed as asked.
    pub fn with_framing(
        photo: &RgbImage,
        landmarks: [[f32; 2]; 5],
        face_box: [f32; 4],
        framing: Framing,
    ) -> Result<HeadModel, FacegenError> {
        let (pw, ph) = photo.dimensions();
        if pw < 16 || ph < 16 {
            return Err(FacegenError::ImageTooSmall {
                width: pw,
                height: ph,
            });
        }
        if landmarks.iter().flatten().any(|v| !v.is_finite())
            || face_box.iter().any(|v| !v.is_finite())
        {
            return Err(FacegenError::BadGeometry(
                "a coordinate is not finite".into(),
            ));
        }
        if face_box[2] <= 0.0 || face_box[3] <= 0.0 {
            return Err(FacegenError::BadGeometry("the face box is empty".into()));
        }
        for (index, &[x, y]) in landmarks.iter().enumerate() {
            if x < 0.0 || y < 0.0 || x > (pw - 1) as f32 || y > (ph - 1) as f32 {
                return Err(FacegenError::LandmarkOutsideImage { index, x, y });
            }
        }
        let eye_distance = dist(landmarks[0], landmarks[1]);
        if eye_distance < 8.0 {
            return Err(FacegenError::FaceTooSmall { eye_distance });
        }
        let (frame, landmarks, face_box) = match framing {
            Framing::Native => (photo.clone(), landmarks, face_box),
            Framing::Selfie { width, height } => {
                if !(16..=8192).contains(&width) || !(16..=8192).contains(&height) {
                    return Err(FacegenError::BadParameter(format!(
                        "frame size {width}x{height} (16 to 8192 each)"
                    )));
                }
                frame_selfie(photo, landmarks, face_box, eye_distance, width, height)
            }
        };
        Ok(HeadModel::build(frame, landmarks, face_box))
    }

    fn build(frame: RgbImage, landmarks: [[f32; 2]; 5], face_box: [f32; 4]) -> HeadModel {
        let (w, h) = frame.dimensions();
        let lm = landmarks.map(|[x, y]| [f64::from(x), f64::from(y)]);
        let e = ((lm[1][0] - lm[0][0]).powi(2) + (lm[1][1] - lm[0][1]).powi(2)).sqrt();
        let mut ex = [(lm[1][0] - lm[0][0]) / e, (lm[1][1] - lm[0][1]) / e];
        if ex[0] < 0.0 {
            // Eyes given in the other order: the face axes must not flip.
            ex = [-ex[0], -ex[1]];
        }
        let ey = [-ex[1], ex[0]];
        let origin = [(lm[0][0] + lm[1][0]) / 2.0, (lm[0][1] + lm[1][1]) / 2.0];
        let to_face = |p: [f64; 2]| {
            let d = [p[0] - origin[0], p[1] - origin[1]];
            [
                (d[0] * ex[0] + d[1] * ex[1]) / e,
                (d[0] * ey[0] + d[1] * ey[1]) / e,
            ]
        };
        let to_image = |u: f64, v: f64| {
            [
                origin[0] + e * (u * ex[0] + v * ey[0]),
                origin[1] + e * (u * ex[1] + v * ey[1]),
            ]
        };
        let face_lm = lm.map(to_face);
        // Odd detections (a nose above the eyes) still get a usable head.
        let nose = [
            face_lm[2][0].clamp(-0.4, 0.4),
            face_lm[2][1].clamp(0.3, 1.2),
        ];
        let mouth_v = ((face_lm[3][1] + face_lm[4][1]) / 2.0).max(nose[1] + 0.2);
        let chin_v = mouth_v + (0.75 * mouth_v).max(0.6);
        let (top, bottom) = (-1.75, chin_v + 0.1);
        let half_width = (0.55 * f64::from(face_box[2]) / e).clamp(1.25, 1.6);
        // The mesh is fitted to sane landmarks: the nose as clamped above, the mouth
        // corners below it and on either side of the middle.
        let mut mouth = [face_lm[3], face_lm[4]];
        if mouth[0][0] > mouth[1][0] {
            mouth.swap(0, 1);
        }
        let mouth = [
            [
                mouth[0][0].clamp(-0.9, -0.15),
                mouth[0][1].clamp(nose[1] + 0.2, 2.0),
            ],
            [
                mouth[1][0].clamp(0.15, 0.9),
                mouth[1][1].clamp(nose[1] + 0.2, 2.0),
            ],
        ];
        let fit_to = [[-0.5, 0.0], [0.5, 0.0], nose, mouth[0], mouth[1]];
        let mut shape = HeadShape {
            half_width,
            centre_v: (top + bottom) / 2.0,
            half_height: (bottom - top) / 2.0,
            depth: half_width,
            // A grid cell per frame pixel.
            face: FaceDepth::fit(fit_to, 1.0 / e),
            face_offset: 0.0,
        };
        shape.face_offset = shape.fit_face_offset();
        // The plane through the eyes and mouth corners (least squares over four points),
        // and how far the nose tip stands in front of it.
        let plane_pts = [fit_to[0], fit_to[1], fit_to[3], fit_to[4]];
        let plane_z: Vec<f64> = plane_pts
            .iter()
            .map(|p| shape.height(p[0], p[1]).unwrap_or(0.0))
            .collect();
        let plane = fit_plane(&plane_pts, &plane_z);
        let at = |p: [f64; 2]| plane[0] + plane[1] * p[0] + plane[2] * p[1];
        let nose_protrusion = shape.height(nose[0], nose[1]).unwrap_or(0.0) - at(nose);

        // The eye/mouth plane at mid-face sits at Z = focal, so one unit is one pixel there
        // and the camera is focal/e eye distances away (about 40 cm for a selfie).
        let focal = f64::from(w);
        let centre = [(f64::from(w) - 1.0) / 2.0, (f64::from(h) - 1.0) / 2.0];
        let reference = at([0.0, mouth_v / 2.0]);
        let z_of = |height: f64| focal - (height - reference) * e;

        let mut surface_z = vec![f32::NAN; (w * h) as usize];
        let mut alpha = vec![0.0f32; (w * h) as usize];
        let mut head_px = [u32::MAX, u32::MAX, 0, 0];
        let mut z_near = f64::INFINITY;
        for y in 0..h {
            for x in 0..w {
                let [u, v] = to_face([f64::from(x), f64::from(y)]);
                let Some(height) = shape.height(u, v) else {
                    continue;
                };
                let i = (y * w + x) as usize;
                let z = z_of(height);
                surface_z[i] = z as f32;
                z_near = z_near.min(z);
                let rim = ((1.0 - shape.outline(u, v)) / 0.15).clamp(0.0, 1.0);
                alpha[i] = (rim * rim * (3.0 - 2.0 * rim)) as f32;
                head_px = [
                    head_px[0].min(x),
                    head_px[1].min(y),
                    head_px[2].max(x),
                    head_px[3].max(y),
                ];
            }
        }
        if head_px[0] == u32::MAX {
            // The outline missed the frame entirely; keep the model inert.
            head_px = [0, 0, 0, 0];
            z_near = focal;
        }
        let z_back = z_of(-0.35 * shape.depth);
        let pivot_px = to_image(0.0, 0.6);
        let pivot_z = z_of(-0.15);
        let pivot = [
            (pivot_px[0] - centre[0]) * pivot_z / focal,
            (pivot_px[1] - centre[1]) * pivot_z / focal,
            pivot_z,
        ];
        // Below the nose the head uncovers neck and collar, which continue from below;
        // above it, background and hair, which continue from the sides.
        let (nose_v, low_v) = (nose[1], mouth_v + 0.3);
        let lower = |x: u32, y: u32| {
            let v = to_face([f64::from(x), f64::from(y)])[1];
            let k = ((v - nose_v) / (low_v - nose_v)).clamp(0.0, 1.0);
            (k * k * (3.0 - 2.0 * k)) as f32
        };
        let plate = background_plate(&frame, &surface_z, &alpha, lower);
        HeadModel {
            frame,
            plate,
            surface_z,
            alpha,
            landmarks,
            face_box,
            eye_distance: e,
            focal,
            centre,
            pivot,
            z_near: z_near - 1.0,
            z_back,
            head_px,
            nose_protrusion,
        }
    }

    /// The framed photo, which is also the render at [`Pose::FRONTAL`] up to the rim.
    pub fn frame(&self) -> &RgbImage {
        &self.frame
    }

    /// The background with the head painted out.
    pub fn plate(&self) -> &RgbImage {
        &self.plate
    }

    /// The landmarks in frame pixels.
    pub fn landmarks(&self) -> [[f32; 2]; 5] {
        self.landmarks
    }

    /// The face box in frame pixels.
    pub fn face_box(&self) -> [f32; 4] {
        self.face_box
    }

    /// Distance between the eyes in frame pixels.
    pub fn eye_distance(&self) -> f32 {
        self.eye_distance as f32
    }

    /// How far the nose tip stands in front of the eye/mouth-corner plane, in eye
    /// distances, as this model's heightfield has it (about [`NOSE_PROTRUSION`]).
    pub fn nose_protrusion(&self) -> f32 {
        self.nose_protrusion as f32
    }

    /// The 3D point (camera coordinates at the frontal pose) of the head surface seen at
    /// frame pixel `p`, or None outside the head.
    pub fn point_3d(&self, p: [f32; 2]) -> Option<[f64; 3]> {
        let (x, y) = (f64::from(p[0]), f64::from(p[1]));
        let z = self.surface_at(x, y)?;
        Some(self.unproject([x, y], z))
    }

    fn unproject(&self, p: [f64; 2], z: f64) -> [f64; 3] {
        [
            (p[0] - self.centre[0]) * z / self.focal,
            (p[1] - self.centre[1]) * z / self.focal,
            z,
        ]
    }

    fn project(&self, p: [f64; 3]) -> [f64; 2] {
        [
            self.centre[0] + self.focal * p[0] / p[2],
            self.centre[1] + self.focal * p[1] / p[2],
        ]
    }

    /// Surface Z at a frame position, bilinear inside the head and nearest at its rim.
    fn surface_at(&self, x: f64, y: f64) -> Option<f64> {
        let (w, h) = self.frame.dimensions();
        if !(x >= 0.0 && y >= 0.0 && x <= f64::from(w - 1) && y <= f64::from(h - 1)) {
            return None;
        }
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - f64::from(x0), y - f64::from(y0));
        let at = |xx: u32, yy: u32| self.surface_z[(yy * w + xx) as usize];
        let (a, b, c, d) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
        if a.is_nan() || b.is_nan() || c.is_nan() || d.is_nan() {
            let nearest = at(
                if fx < 0.5 { x0 } else { x1 },
                if fy < 0.5 { y0 } else { y1 },
            );
            return (!nearest.is_nan()).then_some(f64::from(nearest));
        }
        let top = f64::from(a) * (1.0 - fx) + f64::from(b) * fx;
        let bottom = f64::from(c) * (1.0 - fx) + f64::from(d) * fx;
        Some(top * (1.0 - fy) + bottom * fy)
    }
}

/// Scales and moves the photo so the face sits like a webcam selfie; returns the frame and
/// the landmarks and box in it.
fn frame_selfie(
    photo: &RgbImage,
    landmarks: [[f32; 2]; 5],
    face_box: [f32; 4],
    eye_distance: f32,
    width: u32,
    height: u32,
) -> (RgbImage, [[f32; 2]; 5], [f32; 4]) {
    let s = SELFIE_EYE_SHARE * f64::from(width) / f64::from(eye_distance);
    let mid = [
        f64::from(landmarks[0][0] + landmarks[1][0]) / 2.0,
        f64::from(landmarks[0][1] + landmarks[1][1]) / 2.0,
    ];
    let target = [f64::from(width) * 0.5, f64::from(height) * 0.42];
    // Shrinking is done by a proper resize first, so it does not alias; enlarging is
    // bilinear from the photo itself (never a huge intermediate image).
    let (source, sx, sy) = if s < 1.0 {
        let rw = ((f64::from(photo.width()) * s).round() as u32).max(1);
        let rh = ((f64::from(photo.height()) * s).round() as u32).max(1);
        let small = imageops::resize(photo, rw, rh, imageops::FilterType::Triangle);
        (
            small,
            f64::from(rw) / f64::from(photo.width()),
            f64::from(rh) / f64::from(photo.height()),
        )
    } else {
        (photo.clone(), 1.0, 1.0)
    };
    let frame = RgbImage::from_fn(width, height, |x, y| {
        let px = (f64::from(x) - target[0]) / s + mid[0];
        let py = (f64::from(y) - target[1]) / s + mid[1];
        Rgb(bilinear(&source, (px * sx) as f32, (py * sy) as f32))
    });
    let map = |[x, y]: [f32; 2]| {
        [
            ((f64::from(x) - mid[0]) * s + target[0]) as f32,
            ((f64::from(y) - mid[1]) * s + target[1]) as f32,
        ]
    };
    let [bx, by] = map([face_box[0], face_box[1]]);
    let face_box = [bx, by, face_box[2] * s as f32, face_box[3] * s as f32];
    (frame, landmarks.map(map), face_box)
}

/// The frame with the head painted out: each pixel blends the background just left and
/// right of the head on its row with the one just below the head in its column (by
/// `lower`, 0 to 1), smoothed down the columns so the rows do not show. The head's rim
/// keeps the photo, so the frontal render is the photo itself.
fn background_plate(
    frame: &RgbImage,
    surface_z: &[f32],
    alpha: &[f32],
    lower: impl Fn(u32, u32) -> f32,
) -> RgbImage {
    let (w, h) = frame.dimensions();
    let mut plate = frame.clone();
    let inside = |x: u32, y: u32| !surface_z[(y * w + x) as usize].is_nan();
    let below: Vec<Option<[u8; 3]>> = (0..w)
        .map(|x| {
            let bottom = (0..h).rev().find(|&y| inside(x, y))?;
            (bottom + 3 < h).then(|| frame.get_pixel(x, bottom + 3).0)
        })
        .collect();
    let mut filled = vec![false; (w * h) as usize];
    for y in 0..h {
        let Some(left) = (0..w).find(|&x| inside(x, y)) else {
            continue;
        };
        let right = (0..w).rev().find(|&x| inside(x, y)).unwrap_or(left);
        let lx = left.checked_sub(3);
        let rx = (right + 3 < w).then_some(right + 3);
        let fallback = frame.get_pixel(left, y.saturating_sub(1)).0;
        let (a, b) = match (lx, rx) {
            (Some(l), Some(r)) => (frame.get_pixel(l, y).0, frame.get_pixel(r, y).0),
            (Some(l), None) => (frame.get_pixel(l, y).0, frame.get_pixel(l, y).0),
            (None, Some(r)) => (frame.get_pixel(r, y).0, frame.get_pixel(r, y).0),
            (None, None) => (fallback, fallback),
        };
        let span = (right - left + 1) as f32;
        for x in left..=right {
            let t = (x - left) as f32 / span;
            let k = below[x as usize].map_or(0.0, |_| lower(x, y));
            let under = below[x as usize].unwrap_or(a);
            let px = std::array::from_fn(|c| {
                let across = f32::from(a[c]) * (1.0 - t) + f32::from(b[c]) * t;
                (across * (1.0 - k) + f32::from(under[c]) * k).round() as u8
            });
            plate.put_pixel(x, y, Rgb(px));
            filled[(y * w + x) as usize] = true;
        }
    }
    let rows = plate.clone();
    let radius = 8i64;
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) as usize;
            if !filled[i] {
                continue;
            }
            if alpha[i] < 1.0 {
                plate.put_pixel(x, y, *frame.get_pixel(x, y));
                continue;
            }
            let mut acc = [0u32; 3];
            let mut n = 0u32;
            for yy in (i64::from(y) - radius).max(0)..=(i64::from(y) + radius).min(i64::from(h) - 1)
            {
                let p = rows.get_pixel(x, yy as u32).0;
                for c in 0..3 {
                    acc[c] += u32::from(p[c]);
                }
                n += 1;
            }
            plate.put_pixel(x, y, Rgb(acc.map(|v| (v / n.max(1)) as u8)));
        }
    }
    plate
}

/// The rotation of a pose, applied to points relative to the pivot.
pub(crate) fn rotation(pose: &Pose) -> [[f64; 3]; 3] {
    let (sy, cy) = f64::from(pose.yaw_deg).to_radians().sin_cos();
    let (sp, cp) = f64::from(pose.pitch_deg).to_radians().sin_cos();
    let (sr, cr) = f64::from(pose.roll_deg).to_radians().sin_cos();
    // Signs chosen so a point in front of the pivot (the nose, at smaller Z) moves to
    // +X for positive yaw and to -Y (up) for positive pitch.
    let yaw = [[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]];
    let pitch = [[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]];
    let roll = [[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]];
    // Pitch about the head's own ear-to-ear axis, then yaw about the neck, then roll.
    matmul(&roll, &matmul(&yaw, &pitch))
}

/// A rotation and move of the head: `posed = r (p - pivot) + moved`.
pub(crate) struct Placement {
    r: [[f64; 3]; 3],
    pivot: [f64; 3],
    moved: [f64; 3],
}

impl Placement {
    pub(crate) fn new(model: &HeadModel, pose: &Pose) -> Placement {
        let r = rotation(pose);
        let pivot = model.pivot;
        let scale = if pose.scale.is_finite() && pose.scale > 0.05 {
            f64::from(pose.scale)
        } else {
            1.0
        };
        let pivot_px = model.project(pivot);
        let z = pivot[2] / scale;
        let moved = model.unproject(
            [
                pivot_px[0] + f64::from(pose.shift[0]),
                pivot_px[1] + f64::from(pose.shift[1]),
            ],
            z,
        );
        Placement { r, pivot, moved }
    }

    pub(crate) fn forward(&self, p: [f64; 3]) -> [f64; 3] {
        let d = sub(p, self.pivot);
        add(mul(&self.r, d), self.moved)
    }

    /// Posed direction back to the model's frame (the transpose rotates back).
    pub(crate) fn direction_back(&self, d: [f64; 3]) -> [f64; 3] {
        let r = &self.r;
        std::array::from_fn(|i| r[0][i] * d[0] + r[1][i] * d[1] + r[2][i] * d[2])
    }

    pub(crate) fn point_back(&self, p: [f64; 3]) -> [f64; 3] {
        add(self.direction_back(sub(p, self.moved)), self.pivot)
    }
}

/// Where the 5 landmarks of `model` land in the frame when the head is at `pose`, the
/// positions a detector should find in [`render`]'s output.
pub fn project_landmarks(model: &HeadModel, pose: &Pose) -> [[f32; 2]; 5] {
    let placement = Placement::new(model, pose);
    model.landmarks.map(|[x, y]| {
        let (x, y) = (f64::from(x), f64::from(y));
        let z = model.surface_at(x, y).unwrap_or(model.focal);
        let p = model.project(placement.forward(model.unproject([x, y], z)));
        [p[0] as f32, p[1] as f32]
    })
}

/// Where frame pixel `p` of the head (at the frontal pose, as [`HeadModel::point_3d`])
/// lands when the head is at `pose`; None off the head.
pub fn project_point(model: &HeadModel, pose: &Pose, p: [f32; 2]) -> Option<[f32; 2]> {
    let placement = Placement::new(model, pose);
    let q = model.project(placement.forward(model.point_3d(p)?));
    Some([q[0] as f32, q[1] as f32])
}

/// A frame and, for each pixel, how much of it is head (for effects that only the
/// moving head should get, such as motion blur).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub image: RgbImage,
    pub coverage: Vec<f32>,
}

/// The head at `pose` over the static background.
pub fn render(model: &HeadModel, pose: &Pose) -> RgbImage {
    render_with_coverage(model, pose).image
}

/// As [`render`], with the head's coverage of each pixel.
pub fn render_with_coverage(model: &HeadModel, pose: &Pose) -> Rendered {
    render_with_hits(model, pose).0
}

/// As [`render_with_coverage`], with, for each pixel the head covers, the frame pixel of
/// the model (frontal pose) that the camera sees there; NaN where the head is not seen.
/// The lighting shades from it.
pub(crate) fn render_with_hits(model: &HeadModel, pose: &Pose) -> (Rendered, Vec<[f32; 2]>) {
    let (w, h) = model.frame.dimensions();
    let placement = Placement::new(model, pose);
    let mut image = model.plate.clone();
    let mut coverage = vec![0.0f32; (w * h) as usize];
    let mut hits = vec![[f32::NAN; 2]; (w * h) as usize];

    // Only pixels the posed head can reach: the projected corners of the box around the
    // head's extrusion from its nearest surface to its back.
    let [x0, y0, x1, y1] = model.head_px;
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for z in [model.z_near, model.z_back] {
        for (x, y) in [(x0, y0), (x1, y0), (x0, y1), (x1, y1)] {
            let p = placement.forward(model.unproject([f64::from(x), f64::from(y)], z));
            if p[2] <= 1.0 {
                // Behind the camera: give up culling.
                lo = [0.0, 0.0];
                hi = [f64::from(w), f64::from(h)];
                continue;
            }
            let q = model.project(p);
            for i in 0..2 {
                lo[i] = lo[i].min(q[i]);
                hi[i] = hi[i].max(q[i]);
            }
        }
    }
    let bx0 = (lo[0] - 2.0).max(0.0) as u32;
    let by0 = (lo[1] - 2.0).max(0.0) as u32;
    let bx1 = ((hi[0] + 2.0).min(f64::from(w) - 1.0)).max(0.0) as u32;
    let by1 = ((hi[1] + 2.0).min(f64::from(h) - 1.0)).max(0.0) as u32;
    if bx0 > bx1 || by0 > by1 || model.head_px == [0, 0, 0, 0] {
        return (Rendered { image, coverage }, hits);
    }

    // Rows are independent; two threads halve the time on the build machine.
    let row_bytes = (w * 3) as usize;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let rows_per = (((by1 - by0 + 1) as usize).div_ceil(threads)).max(1);
    let first = by0 as usize;
    let image_rows = &mut image.as_mut()[first * row_bytes..(by1 as usize + 1) * row_bytes];
    let rows = first * w as usize..(by1 as usize + 1) * w as usize;
    let cover_rows = &mut coverage[rows.clone()];
    let hit_rows = &mut hits[rows];
    std::thread::scope(|scope| {
        for (k, ((img, cov), hit)) in image_rows
            .chunks_mut(rows_per * row_bytes)
            .zip(cover_rows.chunks_mut(rows_per * w as usize))
            .zip(hit_rows.chunks_mut(rows_per * w as usize))
            .enumerate()
        {
            let placement = &placement;
            scope.spawn(move || {
                let y_start = (first + k * rows_per) as u32;
                for (j, ((img_row, cov_row), hit_row)) in img
                    .chunks_mut(row_bytes)
                    .zip(cov.chunks_mut(w as usize))
                    .zip(hit.chunks_mut(w as usize))
                    .enumerate()
                {
                    render_row(
                        model,
                        placement,
                        y_start + j as u32,
                        bx0..=bx1,
                        Row {
                            image: img_row,
                            coverage: cov_row,
                            hits: hit_row,
                        },
                    );
                }
            });
        }
    });
    (Rendered { image, coverage }, hits)
}

/// One output row being rendered.
struct Row<'a> {
    image: &'a mut [u8],
    coverage: &'a mut [f32],
    hits: &'a mut [[f32; 2]],
}

fn render_row(
    model: &HeadModel,
    placement: &Placement,
    y: u32,
    xs: std::ops::RangeInclusive<u32>,
    row: Row<'_>,
) {
    let Row {
        image: img_row,
        coverage: cov_row,
        hits: hit_row,
    } = row;
    let (w, _) = model.frame.dimensions();
    let origin = placement.point_back([0.0, 0.0, 0.0]);
    // March in steps of a fourteenth of an eye distance in depth: finer than the nose
    // is deep, and at the turns of a challenge (up to ~40 degrees) finer than it is wide.
    let dz = (model.eye_distance / 14.0).max(1.0);
    let [hx0, hy0, hx1, hy1] = model.head_px.map(f64::from);
    for x in xs {
        let dir = placement.direction_back([
            f64::from(x) - model.centre[0],
            f64::from(y) - model.centre[1],
            model.focal,
        ]);
        if dir[2] <= 1e-9 {
            continue;
        }
        let mut range = Some((
            (model.z_near - origin[2]) / dir[2],
            (model.z_back - origin[2]) / dir[2],
        ));
        // Only the part of the ray whose projection lies on the head's pixels can hit.
        for (axis, lo, hi) in [(0, hx0 - 1.0, hx1 + 1.0), (1, hy0 - 1.0, hy1 + 1.0)] {
            let c = model.centre[axis];
            let (o, d) = (origin[axis], dir[axis]);
            let f = model.focal;
            range = range
                .and_then(|r| clip(r, f * d - (lo - c) * dir[2], (lo - c) * origin[2] - f * o))
                .and_then(|r| clip(r, (hi - c) * dir[2] - f * d, f * o - (hi - c) * origin[2]));
        }
        let Some((s0, s1)) = range else {
            continue;
        };
        let steps = ((s1 - s0) * dir[2] / dz).ceil().max(1.0) as usize;
        let at = |s: f64| add(origin, scale(dir, s));
        // Inside the head: behind the surface seen along the model's own camera ray.
        let inside = |s: f64| -> Option<[f64; 2]> {
            let q = at(s);
            if q[2] <= 1.0 {
                return None;
            }
            let p = model.project(q);
            let z = model.surface_at(p[0], p[1])?;
            (q[2] >= z).then_some(p)
        };
        let mut prev = s0;
        let mut hit = None;
        for i in 1..=steps {
            let s = s0 + (s1 - s0) * i as f64 / steps as f64;
            if inside(s).is_some() {
                // Bisect between the last point in front and this one.
                let (mut a, mut b) = (prev, s);
                for _ in 0..7 {
                    let m = (a + b) / 2.0;
                    if inside(m).is_some() {
                        b = m;
                    } else {
                        a = m;
                    }
                }
                hit = inside(b);
                break;
            }
            prev = s;
        }
        let Some([u, v]) = hit else {
            continue;
        };
        let a = bilinear_alpha(&model.alpha, w, u, v);
        if a <= 0.0 {
            continue;
        }
        let c = bilinear(&model.frame, u as f32, v as f32);
        let i = x as usize * 3;
        for k in 0..3 {
            let bg = f32::from(img_row[i + k]);
            img_row[i + k] = (f32::from(c[k]) * a + bg * (1.0 - a)).round() as u8;
        }
        cov_row[x as usize] = a;
        hit_row[x as usize] = [u as f32, v as f32];
    }
}

/// The part of `[s0, s1]` where `a * s >= b`, if any.
fn clip((s0, s1): (f64, f64), a: f64, b: f64) -> Option<(f64, f64)> {
    let (lo, hi) = if a > 1e-12 {
        (s0.max(b / a), s1)
    } else if a < -1e-12 {
        (s0, s1.min(b / a))
    } else if b <= 0.0 {
        (s0, s1)
    } else {
        return None;
    };
    (lo <= hi).then_some((lo, hi))
}

fn bilinear_alpha(alpha: &[f32], w: u32, x: f64, y: f64) -> f32 {
    let h = alpha.len() as u32 / w;
    let (x0, y0) = (x.floor().max(0.0) as u32, y.floor().max(0.0) as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = ((x - f64::from(x0)) as f32, (y - f64::from(y0)) as f32);
    let at = |xx: u32, yy: u32| alpha[(yy * w + xx) as usize];
    let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
    let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Bilinear sample with the edges repeated outside the image.
pub(crate) fn bilinear(img: &RgbImage, x: f32, y: f32) -> [u8; 3] {
    let (w, h) = img.dimensions();
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let (a, b, c, d) = (
        img.get_pixel(x0, y0).0,
        img.get_pixel(x1, y0).0,
        img.get_pixel(x0, y1).0,
        img.get_pixel(x1, y1).0,
    );
    std::array::from_fn(|i| {
        let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
        let bottom = f32::from(c[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
        (top * (1.0 - fy) + bottom * fy).round() as u8
    })
}

/// Least-squares plane `z = a + b u + c v` through the points.
fn fit_plane(pts: &[[f64; 2]], z: &[f64]) -> [f64; 3] {
    let mut m = [[0.0f64; 4]; 3];
    for (p, &zi) in pts.iter().zip(z) {
        let row = [1.0, p[0], p[1]];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += row[i] * row[j];
            }
            m[i][3] += row[i] * zi;
        }
    }
    // Gaussian elimination with partial pivoting on the 3x3 normal equations.
    for col in 0..3 {
        let pivot = (col..3)
            .max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))
            .unwrap_or(col);
        m.swap(col, pivot);
        if m[col][col].abs() < 1e-12 {
            // Degenerate points: a flat plane at their mean height.
            let mean = z.iter().sum::<f64>() / z.len().max(1) as f64;
            return [mean, 0.0, 0.0];
        }
        for r in 0..3 {
            if r != col {
                let f = m[r][col] / m[col][col];
                let pivot_row = m[col];
                for (v, p) in m[r].iter_mut().zip(pivot_row) {
                    *v -= f * p;
                }
            }
        }
    }
    [m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]]
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn matmul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

pub(crate) fn mul(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{self, nose_off_plane, wide, FACE_BOX, LANDMARKS};

    fn nose_from_eyes(l: [[f32; 2]; 5]) -> [f32; 2] {
        [
            l[2][0] - (l[0][0] + l[1][0]) / 2.0,
            l[2][1] - (l[0][1] + l[1][1]) / 2.0,
        ]
    }

    #[test]
    fn frontal_landmarks_stay_put() {
        let model = testdata::model();
        let moved = project_landmarks(model, &Pose::FRONTAL);
        for (a, b) in moved.iter().zip(model.landmarks()) {
            assert!((a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3);
        }
    }

    #[test]
    fn turning_left_moves_the_nose_to_the_image_right_and_up_moves_it_up() {
        let model = testdata::model();
        let rest = nose_from_eyes(project_landmarks(model, &Pose::FRONTAL));
        let e = model.eye_distance();
        let left = nose_from_eyes(project_landmarks(model, &Pose::turned(25.0, 0.0)));
        let right = nose_from_eyes(project_landmarks(model, &Pose::turned(-25.0, 0.0)));
        let up = nose_from_eyes(project_landmarks(model, &Pose::turned(0.0, 20.0)));
        let down = nose_from_eyes(project_landmarks(model, &Pose::turned(0.0, -20.0)));
        assert!(left[0] - rest[0] > 0.1 * e, "{left:?} vs {rest:?}");
        assert!(right[0] - rest[0] < -0.1 * e, "{right:?} vs {rest:?}");
        assert!(up[1] - rest[1] < -0.05 * e, "{up:?} vs {rest:?}");
        assert!(down[1] - rest[1] > 0.05 * e, "{down:?} vs {rest:?}");
    }

    #[test]
    fn the_nose_stands_out_of_the_face_plane() {
        let model = testdata::model();
        let protrusion = f64::from(model.nose_protrusion());
        assert!((protrusion - NOSE_PROTRUSION).abs() < 0.02, "{protrusion}");
        let e = f64::from(model.eye_distance());
        let rest = wide(project_landmarks(model, &Pose::FRONTAL));
        for pose in [
            Pose::turned(30.0, 0.0),
            Pose::turned(-30.0, 0.0),
            Pose::turned(0.0, 22.0),
        ] {
            let off = nose_off_plane(rest, wide(project_landmarks(model, &pose)));
            assert!(
                off > 0.1 * e,
                "{pose:?}: nose {off:.1} px off a flat face's motion"
            );
        }
        // A pure move of the head keeps the nose nearly on the plane's prediction (only
        // the slight change of viewing angle shows).
        let shifted = Pose {
            shift: [12.0, -5.0],
            ..Pose::FRONTAL
        };
        let off = nose_off_plane(rest, wide(project_landmarks(model, &shifted)));
        assert!(off < 0.05 * e, "{off}");
    }

    #[test]
    fn the_frontal_render_is_the_photo() {
        let model = testdata::model();
        let img = render(model, &Pose::FRONTAL);
        let diff: u64 = img
            .as_raw()
            .iter()
            .zip(model.frame().as_raw())
            .map(|(&a, &b)| u64::from(a.abs_diff(b)))
            .sum();
        let mean = diff as f64 / img.as_raw().len() as f64;
        assert!(mean < 0.5, "mean abs diff {mean}");
    }

    #[test]
    fn the_render_puts_the_face_where_the_landmarks_go() {
        let model = testdata::model();
        let patch = |img: &RgbImage, p: [f32; 2]| {
            let mut acc = [0.0f32; 3];
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let c = bilinear(img, p[0] + dx as f32, p[1] + dy as f32);
                    for k in 0..3 {
                        acc[k] += f32::from(c[k]) / 9.0;
                    }
                }
            }
            acc
        };
        for pose in [Pose::turned(25.0, 0.0), Pose::turned(-20.0, 10.0)] {
            let img = render(model, &pose);
            let moved = project_landmarks(model, &pose);
            for k in [0, 1, 2] {
                let want = patch(model.frame(), model.landmarks()[k]);
                let got = patch(&img, moved[k]);
                let d: f32 = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).sum();
                assert!(d < 60.0, "{pose:?} landmark {k}: {want:?} vs {got:?}");
            }
            assert_ne!(&img, model.frame());
        }
    }

    #[test]
    fn the_default_framing_is_a_640x480_selfie() {
        let model = HeadModel::new(testdata::photo(), LANDMARKS, FACE_BOX).unwrap();
        assert_eq!(model.frame().dimensions(), (640, 480));
        assert!((model.eye_distance() - 96.0).abs() < 0.5);
        let native =
            HeadModel::with_framing(testdata::photo(), LANDMARKS, FACE_BOX, Framing::Native)
                .unwrap();
        assert_eq!(native.frame(), testdata::photo());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let tiny = RgbImage::new(8, 8);
        assert!(matches!(
            HeadModel::new(&tiny, LANDMARKS, FACE_BOX),
            Err(FacegenError::ImageTooSmall { .. })
        ));
        let small = RgbImage::new(40, 40);
        assert!(matches!(
            HeadModel::new(&small, LANDMARKS, FACE_BOX),
            Err(FacegenError::LandmarkOutsideImage { index: 0, .. })
        ));
        let photo = testdata::photo();
        let mut nan = LANDMARKS;
        nan[2][0] = f32::NAN;
        assert!(HeadModel::new(photo, nan, FACE_BOX).is_err());
        assert!(HeadModel::new(photo, LANDMARKS, [0.0, 0.0, 0.0, 10.0]).is_err());
        let mut same = LANDMARKS;
        same[1] = same[0];
        assert!(matches!(
            HeadModel::new(photo, same, FACE_BOX),
            Err(FacegenError::FaceTooSmall { .. })
        ));
        let odd = Framing::Selfie {
            width: 0,
            height: 480,
        };
        assert!(HeadModel::with_framing(photo, LANDMARKS, FACE_BOX, odd).is_err());
    }

    #[test]
    fn a_tiny_photo_and_wild_poses_do_not_panic() {
        let photo = RgbImage::from_fn(20, 20, |x, y| Rgb([(x * 12) as u8, (y * 12) as u8, 90]));
        let lm = [
            [5.0, 7.0],
            [14.0, 7.0],
            [9.5, 11.0],
            [6.0, 15.0],
            [13.0, 15.0],
        ];
        let tiny_frame = Framing::Selfie {
            width: 16,
            height: 16,
        };
        for framing in [Framing::Native, Framing::DEFAULT, tiny_frame] {
            let model =
                HeadModel::with_framing(&photo, lm, [2.0, 2.0, 16.0, 17.0], framing).unwrap();
            for pose in [
                Pose::FRONTAL,
                Pose::turned(89.0, -89.0),
                Pose {
                    yaw_deg: 180.0,
                    roll_deg: 400.0,
                    shift: [1e6, -1e6],
                    scale: 0.0,
                    ..Pose::FRONTAL
                },
                Pose {
                    scale: 50.0,
                    ..Pose::FRONTAL
                },
            ] {
                let img = render(&model, &pose);
                assert_eq!(img.dimensions(), model.frame().dimensions());
                let _ = project_landmarks(&model, &pose);
            }
        }
    }
}
