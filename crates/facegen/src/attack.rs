//! Presentation attacks a liveness check must reject, as frame sequences: a still photo
//! sent as a "video", a print or a screen moved in front of the camera to mimic the
//! challenge, a replayed genuine recording, a face swapped halfway, and a too-perfect
//! synthetic head.
//!
//! Prints and screens are flat, so every point of the face moves by one homography
//! ([`Sheet::homography`]): the nose shows no parallax however the sheet is turned. That
//! is the property the engine relies on, and the one the tests check here.
//!
//! Frames have the size of the photo given; pass [`HeadModel::frame`] to get the same
//! 640x480 selfie framing as the genuine sequences.

use image::{imageops, Rgb, RgbImage};
use reclaim_docgen::homography::Homography;
use reclaim_docgen::Rng;

use crate::camera::{add_noise, jpeg_round_trip, Camera};
use crate::head::{bilinear, mul, rotation, HeadModel, Pose};
use crate::sequence::{check_fps, plan, regular_timestamps, shoot, Action, Frame, Motion, Style};
use crate::FacegenError;

fn check_photo(photo: &RgbImage) -> Result<(), FacegenError> {
    let (width, height) = photo.dimensions();
    if width < 16 || height < 16 {
        return Err(FacegenError::ImageTooSmall { width, height });
    }
    Ok(())
}

/// The same image `n` times, byte for byte, at exactly regular timestamps: a photo
/// uploaded as a video.
pub fn still_repeated(photo: &RgbImage, n: usize, fps: f32) -> Result<Vec<Frame>, FacegenError> {
    check_fps(fps)?;
    check_photo(photo)?;
    Ok(regular_timestamps(n, fps)
        .into_iter()
        .map(|timestamp_ms| Frame {
            image: photo.clone(),
            timestamp_ms,
        })
        .collect())
}

/// The same photo every frame with fresh sensor noise and JPEG: a print held perfectly
/// still in front of a live camera.
pub fn still_with_noise(
    photo: &RgbImage,
    n: usize,
    fps: f32,
    rng: &mut Rng,
) -> Result<Vec<Frame>, FacegenError> {
    check_fps(fps)?;
    check_photo(photo)?;
    let camera = Camera::webcam(rng);
    let mut last = None;
    Ok((0..n)
        .map(|i| {
            let mut image = photo.clone();
            add_noise(&mut image, camera.noise_sigma, rng);
            image = jpeg_round_trip(&image, camera.jpeg_quality);
            let jitter = if i > 0 { rng.range(-5.0, 5.0) } else { 0.0 };
            let mut ms = (i as f32 * 1000.0 / fps + jitter).round().max(0.0) as u64;
            if let Some(prev) = last {
                ms = ms.max(prev + 1);
            }
            last = Some(ms);
            Frame {
                image,
                timestamp_ms: ms,
            }
        })
        .collect())
}

/// A flat sheet (a print or a screen) in front of the webcam: its content is a photo,
/// and the sheet is a plane that the attacker turns about its centre.
///
/// At rest the sheet faces the camera squarely and photo pixel `p` lands at frame pixel
/// `centre + (p - photo_size / 2) * scale`; poses turn it about its centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sheet {
    /// The photo's size in its own pixels.
    pub photo_size: [f64; 2],
    /// Frame pixels per photo pixel at rest.
    pub scale: f64,
    /// Where the photo's centre is in the frame at rest.
    pub centre: [f64; 2],
    /// The frame's size; the camera's focal length is its width (a ~55 degree webcam).
    pub frame_size: [u32; 2],
}

impl Sheet {
    /// The sheet's 3D point for photo pixel `p`, turned and moved by `pose` (same
    /// conventions as a head: positive yaw turns the sheet's face toward the image's
    /// right).
    pub fn point_3d(&self, pose: &Pose, p: [f64; 2]) -> [f64; 3] {
        let f = f64::from(self.frame_size[0]);
        let c = self.camera_centre();
        let local = [
            (p[0] - self.photo_size[0] / 2.0) * self.scale,
            (p[1] - self.photo_size[1] / 2.0) * self.scale,
            0.0,
        ];
        let scale = if pose.scale.is_finite() && pose.scale > 0.05 {
            f64::from(pose.scale)
        } else {
            1.0
        };
        let z = f / scale;
        let moved = [
            (self.centre[0] + f64::from(pose.shift[0]) - c[0]) * z / f,
            (self.centre[1] + f64::from(pose.shift[1]) - c[1]) * z / f,
            z,
        ];
        let r = mul(&rotation(pose), local);
        [r[0] + moved[0], r[1] + moved[1], r[2] + moved[2]]
    }

    fn camera_centre(&self) -> [f64; 2] {
        [
            (f64::from(self.frame_size[0]) - 1.0) / 2.0,
            (f64::from(self.frame_size[1]) - 1.0) / 2.0,
        ]
    }

    /// Where photo pixel `p` appears in the frame, by pinhole projection of the 3D sheet.
    pub fn project(&self, pose: &Pose, p: [f64; 2]) -> [f64; 2] {
        let f = f64::from(self.frame_size[0]);
        let c = self.camera_centre();
        let q = self.point_3d(pose, p);
        let z = q[2].max(1e-6);
        [c[0] + f * q[0] / z, c[1] + f * q[1] / z]
    }

    /// The map from photo pixels to frame pixels at `pose` (exact: the sheet is flat).
    pub fn homography(&self, pose: &Pose) -> Option<Homography> {
        let [w, h] = self.photo_size;
        let corners = [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]];
        Homography::from_points(&corners, &corners.map(|p| self.project(pose, p)))
    }

    /// Cosine of the angle between the sheet's normal and the camera's axis.
    pub fn facing(&self, pose: &Pose) -> f64 {
        let n = mul(&rotation(pose), [0.0, 0.0, -1.0]);
        -n[2]
    }
}

/// A print or screen sequence with its geometry: frame i shows the sheet at `poses[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetSequence {
    pub frames: Vec<Frame>,
    pub sheet: Sheet,
    pub poses: Vec<Pose>,
}

/// A room behind the sheet: a wall of some muted colour, lit from one side, darker low
/// down, with soft large blotches (furniture, shadows) so it is not a flat colour.
pub fn room_background(width: u32, height: u32, rng: &mut Rng) -> RgbImage {
    // Walls are greyish with a tint, not saturated colours.
    let grey = rng.range(90.0, 200.0);
    let wall = [
        grey + rng.range(-12.0, 20.0),
        grey + rng.range(-12.0, 12.0),
        grey + rng.range(-20.0, 12.0),
    ];
    let light_x = rng.range(-0.3, 0.3);
    let waves: Vec<[f32; 4]> = (0..4)
        .map(|_| {
            [
                rng.range(0.5, 3.0),
                rng.range(0.5, 3.0),
                rng.range(0.0, 6.3),
                rng.range(4.0, 14.0),
            ]
        })
        .collect();
    let (w, h) = (width as f32, height as f32);
    RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f32 / w, y as f32 / h);
        let light = 1.05 + light_x * (u - 0.5) - 0.25 * v * v;
        let blotch: f32 = waves
            .iter()
            .map(|[fu, fv, ph, a]| a * (std::f32::consts::TAU * (fu * u + fv * v) + ph).sin())
            .sum();
        Rgb(wall.map(|c| (c * light + blotch).clamp(0.0, 255.0) as u8))
    })
}

/// Draws the sheet over `background`: `sample(u, v)` gives the sheet's colour at photo
/// coordinates (None off the sheet), averaged over `ss` x `ss` points per pixel so a fine
/// pattern (a screen's pixels) beats against the camera's grid as it really does.
/// Returns the frame and how much of each pixel is sheet.
fn draw_sheet(
    background: &RgbImage,
    sheet: &Sheet,
    pose: &Pose,
    extent: [[f64; 2]; 2],
    ss: u32,
    sample: impl Fn(f64, f64) -> Option<[f32; 3]>,
) -> (RgbImage, Vec<f32>) {
    let (w, h) = background.dimensions();
    let mut out = background.clone();
    let mut coverage = vec![0.0f32; (w * h) as usize];
    let Some(to_photo) = sheet.homography(pose).and_then(|h| h.inverse()) else {
        return (out, coverage);
    };
    let [[ex0, ey0], [ex1, ey1]] = extent;
    let corners = [[ex0, ey0], [ex1, ey0], [ex1, ey1], [ex0, ey1]].map(|p| sheet.project(pose, p));
    let lo = |i: usize| corners.iter().map(|c| c[i]).fold(f64::INFINITY, f64::min);
    let hi = |i: usize| {
        corners
            .iter()
            .map(|c| c[i])
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let x0 = (lo(0) - 1.0).clamp(0.0, f64::from(w)) as u32;
    let x1 = (hi(0) + 1.0).clamp(0.0, f64::from(w)) as u32;
    let y0 = (lo(1) - 1.0).clamp(0.0, f64::from(h)) as u32;
    let y1 = (hi(1) + 1.0).clamp(0.0, f64::from(h)) as u32;
    let n = f64::from(ss.max(1));
    for y in y0..y1 {
        for x in x0..x1 {
            let mut acc = [0.0f32; 3];
            let mut hits = 0u32;
            for j in 0..ss.max(1) {
                for i in 0..ss.max(1) {
                    let px = f64::from(x) + (f64::from(i) + 0.5) / n - 0.5;
                    let py = f64::from(y) + (f64::from(j) + 0.5) / n - 0.5;
                    let [u, v] = to_photo.apply([px, py]);
                    if u < ex0 || v < ey0 || u > ex1 || v > ey1 {
                        continue;
                    }
                    if let Some(c) = sample(u, v) {
                        for k in 0..3 {
                            acc[k] += c[k];
                        }
                        hits += 1;
                    }
                }
            }
            if hits == 0 {
                continue;
            }
            let a = hits as f32 / (n * n) as f32;
            let bg = out.get_pixel(x, y).0;
            let px = std::array::from_fn(|k| {
                let c = acc[k] / hits as f32;
                (c * a + f32::from(bg[k]) * (1.0 - a))
                    .round()
                    .clamp(0.0, 255.0) as u8
            });
            out.put_pixel(x, y, Rgb(px));
            coverage[(y * w + x) as usize] = a;
        }
    }
    (out, coverage)
}

/// Brightens pixels toward white around `centre` (a glossy surface catching a lamp),
/// only where `coverage` says the sheet is.
fn add_glare(img: &mut RgbImage, coverage: &[f32], centre: [f64; 2], radius: f64, strength: f32) {
    let w = img.width();
    for (x, y, px) in img.enumerate_pixels_mut() {
        let cov = coverage[(y * w + x) as usize];
        if cov <= 0.0 {
            continue;
        }
        let d2 = ((f64::from(x) - centre[0]).powi(2) + (f64::from(y) - centre[1]).powi(2))
            / (radius * radius);
        if d2 > 4.0 {
            continue;
        }
        let a = strength * cov * (-(d2 as f32) * 1.5).exp();
        px.0 =
            px.0.map(|v| (f32::from(v) + (255.0 - f32::from(v)) * a).round() as u8);
    }
}

/// The sheet's resting place and its motion: the challenge's pose curve, a little wider
/// (a hand turns a sheet further than a head turns) and with more sway.
fn sheet_motion(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    fill: f64,
    rng: &mut Rng,
) -> Result<(Sheet, Motion), FacegenError> {
    let mut motion = plan(actions, fps, Style::Human, rng)?;
    let widen = rng.range(1.0, 1.2);
    let sway = rng.range(1.5, 3.0);
    for p in &mut motion.poses {
        p.yaw_deg = (p.yaw_deg * widen).clamp(-38.0, 38.0);
        p.pitch_deg = (p.pitch_deg * widen).clamp(-38.0, 38.0);
        p.shift = [p.shift[0] * sway, p.shift[1] * sway];
    }
    let (w, h) = photo.dimensions();
    let sheet = Sheet {
        photo_size: [f64::from(w), f64::from(h)],
        scale: fill,
        centre: [
            f64::from(w) / 2.0 + f64::from(rng.range(-0.04, 0.04)) * f64::from(w),
            f64::from(h) / 2.0 + f64::from(rng.range(-0.04, 0.04)) * f64::from(h),
        ],
        frame_size: [w, h],
    };
    Ok((sheet, motion))
}

/// A sheet (a print or a screen) held up to the camera, before anything is drawn on it.
struct HeldSheet {
    /// Whether its frame (a print's white margin, a screen's bezel) is in view.
    framed: bool,
    sheet: Sheet,
    motion: Motion,
    /// The room behind it.
    background: RgbImage,
}

/// What a print and a screen start from: the photo checked; the sheet's frame in view
/// with the chance `framed_chance`, the sheet then drawn at a scale within `framed_scale`,
/// otherwise within `frameless_scale` (larger than the frame); its motion
/// ([`sheet_motion`]) and the room behind it.
fn held_sheet(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    framed_chance: f32,
    framed_scale: [f32; 2],
    frameless_scale: [f32; 2],
    rng: &mut Rng,
) -> Result<HeldSheet, FacegenError> {
    check_photo(photo)?;
    let framed = rng.unit() < framed_chance;
    let [lo, hi] = if framed {
        framed_scale
    } else {
        frameless_scale
    };
    let fill = f64::from(rng.range(lo, hi));
    let (sheet, motion) = sheet_motion(photo, actions, fps, fill, rng)?;
    let (w, h) = photo.dimensions();
    let background = room_background(w, h, rng);
    Ok(HeldSheet {
        framed,
        sheet,
        motion,
        background,
    })
}

/// Films the sheet along `motion`: `scene_at(sheet, pose)` draws the room with the sheet
/// at one pose and says how much of each pixel is sheet; `camera` adds the blur of the
/// sheet's move since the previous frame, noise and JPEG.
fn film_sheet(
    sheet: Sheet,
    motion: Motion,
    camera: &Camera,
    rng: &mut Rng,
    scene_at: impl Fn(&Sheet, &Pose) -> (RgbImage, Vec<f32>),
) -> SheetSequence {
    let mut frames = Vec::with_capacity(motion.poses.len());
    for (i, (pose, &timestamp_ms)) in motion.poses.iter().zip(&motion.timestamps_ms).enumerate() {
        let (scene, coverage) = scene_at(&sheet, pose);
        let moved = sheet_shift(&sheet, i.checked_sub(1).map(|j| &motion.poses[j]), pose);
        let image = camera.shoot(&scene, moved, Some(&coverage), rng);
        frames.push(Frame {
            image,
            timestamp_ms,
        });
    }
    SheetSequence {
        frames,
        sheet,
        poses: motion.poses,
    }
}

/// How far the face region of the sheet moved since the previous frame (for blur).
pub(crate) fn sheet_shift(sheet: &Sheet, prev: Option<&Pose>, pose: &Pose) -> [f32; 2] {
    let p = [sheet.photo_size[0] * 0.5, sheet.photo_size[1] * 0.4];
    let Some(prev) = prev else {
        return [0.0, 0.0];
    };
    let (a, b) = (sheet.project(prev, p), sheet.project(pose, p));
    [(b[0] - a[0]) as f32, (b[1] - a[1]) as f32]
}

/// A printed photo held in front of the camera and turned to mimic the challenge.
///
/// The print has less contrast and saturation than the photo and a warm paper white; its
/// white margin is in view or not (random, with the sheet then larger than the frame),
/// the room behind is a lit wall, a lamp makes a glare spot that slides as the sheet
/// turns, and the webcam adds motion blur, noise and JPEG.
pub fn flat_print(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<Vec<Frame>, FacegenError> {
    flat_print_with_geometry(photo, actions, fps, rng).map(|s| s.frames)
}

/// As [`flat_print`], with the sheet and its pose at each frame, so a test can put the
/// photo's landmarks where the camera saw them ([`Sheet::project`]).
pub fn flat_print_with_geometry(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<SheetSequence, FacegenError> {
    let (sheet, motion, scene_at) = print_scene(photo, actions, fps, rng)?;
    let camera = Camera::webcam(rng);
    Ok(film_sheet(sheet, motion, &camera, rng, scene_at))
}

/// A sheet, its motion and what draws the room with the sheet at a pose (the frame, and
/// how much of each pixel is sheet).
pub(crate) type SheetScene = (
    Sheet,
    Motion,
    Box<dyn Fn(&Sheet, &Pose) -> (RgbImage, Vec<f32>)>,
);

/// The print of [`flat_print`], before the camera.
pub(crate) fn print_scene(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<SheetScene, FacegenError> {
    let HeldSheet {
        framed: bordered,
        sheet,
        motion,
        background,
    } = held_sheet(photo, actions, fps, 0.5, [0.7, 0.85], [1.1, 1.3], rng)?;
    let (w, h) = photo.dimensions();
    let margin = if bordered {
        f64::from(w) * f64::from(rng.range(0.06, 0.12))
    } else {
        0.0
    };
    let paper = [
        rng.range(238.0, 250.0),
        rng.range(234.0, 246.0),
        rng.range(222.0, 238.0),
    ];
    let contrast = rng.range(0.75, 0.88);
    let ink = imageops::blur(photo, 0.6);
    let print = move |u: f64, v: f64| -> Option<[f32; 3]> {
        if u < 0.0 || v < 0.0 || u > f64::from(w - 1) || v > f64::from(h - 1) {
            return Some(paper);
        }
        let c = bilinear(&ink, u as f32, v as f32).map(f32::from);
        let grey = (c[0] + c[1] + c[2]) / 3.0;
        Some(std::array::from_fn(|k| {
            let desat = grey + (c[k] - grey) * 0.85;
            // Ink cannot be brighter than the paper nor darker than a print's black.
            paper[k] * (0.1 + 0.9 * (desat / 255.0 * contrast + (1.0 - contrast) * 0.35))
        }))
    };
    let extent = [
        [-margin, -margin],
        [f64::from(w) + margin, f64::from(h) + margin],
    ];
    let glare_at = [
        f64::from(rng.range(0.3, 0.7)) * f64::from(w),
        f64::from(rng.range(0.2, 0.6)) * f64::from(h),
    ];
    let glare_radius = f64::from(rng.range(0.1, 0.25)) * f64::from(w);
    let glare = rng.range(0.15, 0.45);
    let scene_at = move |sheet: &Sheet, pose: &Pose| {
        // Matte paper: a little darker as it turns away from the lamp near the camera.
        let shade = (0.8 + 0.2 * sheet.facing(pose)) as f32;
        let (mut scene, coverage) = draw_sheet(&background, sheet, pose, extent, 1, |u, v| {
            print(u, v).map(|c| c.map(|x| x * shade))
        });
        let centre = [
            glare_at[0] - 4.0 * f64::from(pose.yaw_deg),
            glare_at[1] + 4.0 * f64::from(pose.pitch_deg),
        ];
        add_glare(&mut scene, &coverage, centre, glare_radius, glare);
        (scene, coverage)
    };
    Ok((sheet, motion, Box::new(scene_at)))
}

/// The photo shown on a phone or monitor held in front of the camera and turned to mimic
/// the challenge.
///
/// The image is drawn as the screen's pixel grid (RGB stripes, 2-4 camera pixels per
/// screen pixel, sampled 3x3 per camera pixel so it beats into moire), brighter than a
/// print with lifted blacks, a colour cast and some banding, losing contrast when turned
/// (viewing angle), inside a dark bezel that is in view or not, with a reflection band
/// across the glass.
pub fn screen(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<Vec<Frame>, FacegenError> {
    screen_with_geometry(photo, actions, fps, rng).map(|s| s.frames)
}

/// As [`screen`], with the screen's geometry and its pose at each frame.
pub fn screen_with_geometry(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<SheetSequence, FacegenError> {
    let (sheet, motion, scene_at) = screen_scene(photo, actions, fps, rng)?;
    let camera = Camera::webcam(rng);
    Ok(film_sheet(sheet, motion, &camera, rng, scene_at))
}

/// The screen of [`screen`], before the camera.
pub(crate) fn screen_scene(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<SheetScene, FacegenError> {
    // Whether the bezel is in view changes only how large the screen is drawn: the bezel
    // is drawn either way, off the frame when the screen fills it.
    let HeldSheet {
        sheet,
        motion,
        background,
        ..
    } = held_sheet(photo, actions, fps, 0.7, [0.75, 0.9], [1.05, 1.25], rng)?;
    let (w, h) = photo.dimensions();
    let bezel = f64::from(w) * f64::from(rng.range(0.05, 0.09));
    let bezel_grey = rng.range(12.0, 30.0);
    // Screen pixels in photo pixels: 2-4 camera pixels each at rest.
    let pitch = f64::from(rng.range(2.0, 4.0)) / sheet.scale;
    let cols = ((f64::from(w) / pitch).ceil() as u32).max(1);
    let rows = ((f64::from(h) / pitch).ceil() as u32).max(1);
    let gain = rng.range(1.1, 1.25);
    let lift = rng.range(10.0, 20.0);
    let cast = [rng.range(0.92, 1.0), 1.0, rng.range(1.02, 1.1)];
    let levels = 32.0f32;
    // How much of the subpixel pattern survives the camera's defocus.
    let stripes = rng.range(0.15, 0.35);
    let content = RgbImage::from_fn(cols, rows, |i, j| {
        let c = bilinear(
            photo,
            ((f64::from(i) + 0.5) * pitch) as f32,
            ((f64::from(j) + 0.5) * pitch) as f32,
        );
        Rgb(std::array::from_fn(|k| {
            let v = (lift + f32::from(c[k]) * gain * cast[k]).clamp(0.0, 255.0);
            // A cheap panel's banding.
            ((v / 255.0 * (levels - 1.0)).round() / (levels - 1.0) * 255.0) as u8
        }))
    });
    let glass = move |u: f64, v: f64, washout: f32| -> Option<[f32; 3]> {
        if u < 0.0 || v < 0.0 || u >= f64::from(w) || v >= f64::from(h) {
            return Some([bezel_grey; 3]);
        }
        let (a, b) = (u / pitch, v / pitch);
        let (i, j) = ((a as u32).min(cols - 1), (b as u32).min(rows - 1));
        let (fa, fb) = (a.fract(), b.fract());
        let stripe = ((fa * 3.0) as usize).min(2);
        let gap = if fb > 0.85 { 0.8 } else { 1.0 };
        let c = content.get_pixel(i, j).0;
        Some(std::array::from_fn(|k| {
            // Each subpixel lights one channel; the camera's defocus spreads some of it.
            let lit = if k == stripe {
                1.0 + 2.0 * stripes
            } else {
                1.0 - stripes
            };
            let v = f32::from(c[k]) * lit * gap / 0.97;
            v * (1.0 - washout) + 128.0 * washout
        }))
    };
    let extent = [
        [-bezel, -bezel],
        [f64::from(w) + bezel, f64::from(h) + bezel],
    ];
    let band_at = f64::from(rng.range(0.2, 0.8)) * f64::from(w);
    let band_width = f64::from(rng.range(0.1, 0.25)) * f64::from(w);
    let band = rng.range(0.08, 0.2);
    let scene_at = move |sheet: &Sheet, pose: &Pose| {
        let washout = (1.2 * (1.0 - sheet.facing(pose))).clamp(0.0, 0.5) as f32;
        let (mut scene, coverage) = draw_sheet(&background, sheet, pose, extent, 3, |u, v| {
            glass(u, v, washout)
        });
        // A reflection on the glass: a diagonal bright band that slides as it turns.
        let offset = band_at - 5.0 * f64::from(pose.yaw_deg) + 3.0 * f64::from(pose.pitch_deg);
        for (x, y, px) in scene.enumerate_pixels_mut() {
            let cov = coverage[(y * w + x) as usize];
            if cov <= 0.0 {
                continue;
            }
            let d = (f64::from(x) + 0.5 * f64::from(y) - offset) / band_width;
            let a = band * cov * (-(d * d) as f32).exp();
            px.0 =
                px.0.map(|v| (f32::from(v) + (255.0 - f32::from(v)) * a).round() as u8);
        }
        (scene, coverage)
    };
    Ok((sheet, motion, Box::new(scene_at)))
}

/// The frames of an earlier (genuine) recording, unchanged: the engine's tests present
/// them against a different challenge, which they must fail.
pub fn replayed(frames: &[Frame]) -> Vec<Frame> {
    frames.to_vec()
}

/// The same images with fresh, exactly regular timestamps from 0 ms at `fps`: a replay
/// whose timing was rewritten.
pub fn with_new_timestamps(frames: &[Frame], fps: f32) -> Result<Vec<Frame>, FacegenError> {
    check_fps(fps)?;
    Ok(frames
        .iter()
        .zip(regular_timestamps(frames.len(), fps))
        .map(|(f, timestamp_ms)| Frame {
            image: f.image.clone(),
            timestamp_ms,
        })
        .collect())
}

/// A genuine-looking sequence whose first half is person A and second half person B,
/// along one motion curve, so only the identity changes.
pub fn face_swap(
    model_a: &HeadModel,
    model_b: &HeadModel,
    actions: &[Action],
    fps: f32,
    rng: &mut Rng,
) -> Result<Vec<Frame>, FacegenError> {
    let motion = plan(actions, fps, Style::Human, rng)?;
    let camera = Camera::webcam(rng);
    let half = motion.poses.len() / 2;
    Ok(shoot(
        |i| if i < half { model_a } else { model_b },
        &motion,
        Some(&camera),
        rng,
    ))
}

/// The head through the challenge with fixed timing, perfectly smooth motion, no tremor,
/// no roll, no camera noise, exposure change or JPEG, and exactly regular timestamps:
/// the "too smooth, too regular" synthetic.
pub fn puppet(model: &HeadModel, actions: &[Action], fps: f32) -> Result<Vec<Frame>, FacegenError> {
    // A perfect plan draws nothing from the generator; any seed gives the same result.
    let mut rng = Rng::new(0);
    let motion = plan(actions, fps, Style::Perfect, &mut rng)?;
    Ok(shoot(|_| model, &motion, None, &mut rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::{genuine, DEFAULT_FPS};
    use crate::testdata::{self, nose_off_plane};

    const CHALLENGE: [Action; 3] = [Action::Left, Action::Right, Action::Center];

    fn small_photo() -> RgbImage {
        imageops::resize(
            testdata::model().frame(),
            160,
            120,
            imageops::FilterType::Triangle,
        )
    }

    fn increasing(frames: &[Frame]) -> bool {
        frames
            .windows(2)
            .all(|w| w[0].timestamp_ms < w[1].timestamp_ms)
    }

    #[test]
    fn a_turned_sheet_moves_the_nose_with_the_rest_of_the_face() {
        let model = testdata::model();
        let photo = model.frame();
        let sheet = Sheet {
            photo_size: [f64::from(photo.width()), f64::from(photo.height())],
            scale: 0.9,
            centre: [170.0, 115.0],
            frame_size: [photo.width(), photo.height()],
        };
        let on_sheet = |pose: &Pose| {
            model
                .landmarks()
                .map(|[x, y]| sheet.project(pose, [f64::from(x), f64::from(y)]))
        };
        let rest = on_sheet(&Pose::FRONTAL);
        let e = ((rest[1][0] - rest[0][0]).powi(2) + (rest[1][1] - rest[0][1]).powi(2)).sqrt();
        for pose in [
            Pose::turned(30.0, 0.0),
            Pose::turned(-35.0, 10.0),
            Pose {
                yaw_deg: 20.0,
                pitch_deg: -25.0,
                roll_deg: 6.0,
                shift: [15.0, -8.0],
                scale: 1.1,
            },
        ] {
            let moved = on_sheet(&pose);
            let off = nose_off_plane(rest, moved);
            assert!(off < 0.01 * e, "{pose:?}: {off}");
            // And the sheet's homography is that same map.
            let h = sheet.homography(&pose).unwrap();
            let [x, y] = model.landmarks()[2];
            let p = h.apply([f64::from(x), f64::from(y)]);
            assert!((p[0] - moved[2][0]).abs() < 1e-6 && (p[1] - moved[2][1]).abs() < 1e-6);
            // Turning the sheet the way a head turns moves its middle the same way.
            if pose.yaw_deg > 0.0 {
                assert!(sheet.facing(&pose) < 0.95);
            }
        }
    }

    #[test]
    fn a_print_sequence_is_one_homography_per_frame() {
        let model = testdata::model();
        let seq =
            flat_print_with_geometry(model.frame(), &CHALLENGE, DEFAULT_FPS, &mut Rng::new(4))
                .unwrap();
        assert_eq!(seq.frames.len(), seq.poses.len());
        let lm = model.landmarks().map(|[x, y]| [f64::from(x), f64::from(y)]);
        let first = lm.map(|p| seq.sheet.project(&seq.poses[0], p));
        let e = ((first[1][0] - first[0][0]).powi(2) + (first[1][1] - first[0][1]).powi(2)).sqrt();
        let mut widest: f32 = 0.0;
        for pose in &seq.poses {
            let now = lm.map(|p| seq.sheet.project(pose, p));
            assert!(nose_off_plane(first, now) < 0.01 * e);
            widest = widest.max(pose.yaw_deg.abs());
        }
        assert!(widest > 20.0, "the sheet barely turned: {widest}");
    }

    #[test]
    fn still_frames_are_identical_and_noisy_stills_are_not() {
        let photo = small_photo();
        let frames = still_repeated(&photo, 6, DEFAULT_FPS).unwrap();
        assert_eq!(frames.len(), 6);
        assert!(frames.iter().all(|f| f.image == photo));
        assert!(increasing(&frames));
        let noisy = still_with_noise(&photo, 6, DEFAULT_FPS, &mut Rng::new(3)).unwrap();
        assert!(increasing(&noisy));
        assert_ne!(noisy[0].image, noisy[1].image);
        assert_eq!(
            noisy,
            still_with_noise(&photo, 6, DEFAULT_FPS, &mut Rng::new(3)).unwrap()
        );
    }

    #[test]
    fn prints_and_screens_are_deterministic_and_move() {
        let photo = small_photo();
        for make in [flat_print, screen] {
            let a = make(&photo, &CHALLENGE, DEFAULT_FPS, &mut Rng::new(9)).unwrap();
            let b = make(&photo, &CHALLENGE, DEFAULT_FPS, &mut Rng::new(9)).unwrap();
            let c = make(&photo, &CHALLENGE, DEFAULT_FPS, &mut Rng::new(10)).unwrap();
            assert_eq!(a, b);
            assert_ne!(a, c);
            assert!((10..=25).contains(&a.len()), "{} frames", a.len());
            assert!(increasing(&a));
            assert!(a.iter().all(|f| f.image.dimensions() == (160, 120)));
            assert!(a.windows(2).all(|w| w[0].image != w[1].image));
        }
    }

    #[test]
    fn genuine_sequences_are_deterministic() {
        let model = testdata::model();
        let a = genuine(model, &CHALLENGE, DEFAULT_FPS, &mut Rng::new(5)).unwrap();
        let b = genuine(model, &CHALLENGE, DEFAULT_FPS, &mut Rng::new(5)).unwrap();
        assert_eq!(a, b);
        assert!(increasing(&a));
        assert!((11..=24).contains(&a.len()), "{} frames", a.len());
        let c = genuine(model, &CHALLENGE, DEFAULT_FPS, &mut Rng::new(6)).unwrap();
        assert_ne!(a, c);
        // A live camera never repeats a frame.
        assert!(a.windows(2).all(|w| w[0].image != w[1].image));
    }

    #[test]
    fn a_puppet_is_perfectly_regular_and_clean() {
        let model = testdata::model();
        let a = puppet(model, &CHALLENGE, DEFAULT_FPS).unwrap();
        assert_eq!(a, puppet(model, &CHALLENGE, DEFAULT_FPS).unwrap());
        let gaps: Vec<u64> = a
            .windows(2)
            .map(|w| w[1].timestamp_ms - w[0].timestamp_ms)
            .collect();
        assert!(gaps.iter().all(|&g| g == 200), "{gaps:?}");
        // No noise: the first frame (frontal, before any motion) is the photo itself.
        assert_eq!(&a[0].image, model.frame());
    }

    #[test]
    fn a_face_swap_changes_only_the_face() {
        let a = testdata::model();
        // Person B: the same photo mirrored, which is a different face to a matcher.
        let mirrored = imageops::flip_horizontal(testdata::photo());
        let w = mirrored.width() as f32;
        let lm = testdata::LANDMARKS;
        let flip = |p: [f32; 2]| [w - 1.0 - p[0], p[1]];
        let b = HeadModel::with_framing(
            &mirrored,
            [
                flip(lm[1]),
                flip(lm[0]),
                flip(lm[2]),
                flip(lm[4]),
                flip(lm[3]),
            ],
            testdata::FACE_BOX,
            crate::Framing::Selfie {
                width: 320,
                height: 240,
            },
        )
        .unwrap();
        let frames = face_swap(a, &b, &CHALLENGE, DEFAULT_FPS, &mut Rng::new(2)).unwrap();
        let plain = genuine(a, &CHALLENGE, DEFAULT_FPS, &mut Rng::new(2)).unwrap();
        assert_eq!(frames.len(), plain.len());
        let half = frames.len() / 2;
        assert_eq!(frames[..half], plain[..half]);
        assert_ne!(frames[half..], plain[half..]);
    }

    #[test]
    fn replays_keep_frames_and_can_be_retimed() {
        let photo = small_photo();
        let frames = still_with_noise(&photo, 4, DEFAULT_FPS, &mut Rng::new(1)).unwrap();
        assert_eq!(replayed(&frames), frames);
        let retimed = with_new_timestamps(&frames, 10.0).unwrap();
        let ts: Vec<u64> = retimed.iter().map(|f| f.timestamp_ms).collect();
        assert_eq!(ts, [0, 100, 200, 300]);
        assert!(with_new_timestamps(&frames, 0.0).is_err());
    }

    #[test]
    fn tiny_photos_are_errors() {
        let tiny = RgbImage::new(4, 4);
        let mut rng = Rng::new(1);
        assert!(still_repeated(&tiny, 3, 5.0).is_err());
        assert!(flat_print(&tiny, &CHALLENGE, 5.0, &mut rng).is_err());
        assert!(screen(&tiny, &CHALLENGE, 5.0, &mut rng).is_err());
        let ok = RgbImage::new(16, 16);
        assert!(flat_print(&ok, &CHALLENGE, 5.0, &mut rng).is_ok());
        assert!(screen(&ok, &[], 5.0, &mut rng).is_ok());
    }
}
