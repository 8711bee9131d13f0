//! Genuine selfie sequences under the screen-light challenge: the head of
//! [`crate::sequence`] lit physically by the room and by the device's screen
//! ([`crate::light`]), filmed by a webcam with automatic exposure and white balance.
//!
//! The head's surface normal at each pixel comes from the head model's heightfield
//! ([`HeadModel::point_3d`], by finite differences), so the shading follows whatever
//! depth the model has.

use image::RgbImage;
use reclaim_docgen::Rng;

use crate::camera::AutoCamera;
use crate::head::{project_landmarks, render_with_hits, HeadModel, Placement, Pose};
use crate::light::{
    screen_irradiance, screen_specular, LinearImage, Scene, ScreenLight, EYE_DISTANCE_M,
};
use crate::sequence::{check_fps, plan, Action, Frame, Motion, Style};
use crate::FacegenError;

/// A lit sequence and the truth behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct LitSequence {
    pub frames: Vec<Frame>,
    /// The head's (or sheet's) pose at each frame.
    pub motion: Motion,
    /// Display plus camera latency: frame i saw the screen as it was at
    /// `timestamp - latency_ms` (0 when no screen light was rendered).
    pub latency_ms: f32,
    /// Each frame's exposure time, ms.
    pub exposure_ms: f32,
    /// The screen colour each frame integrated (linear; the idle grey where no light was
    /// applied, black when the screen was left out).
    pub screen_rgb: Vec<[f32; 3]>,
}

/// A head model prepared for lighting: albedo and normals per frame pixel.
#[derive(Debug, Clone)]
pub struct LitHead<'a> {
    model: &'a HeadModel,
    /// The framed photo as albedo (linear), skin re-coloured toward the scene's tone.
    albedo: LinearImage,
    /// The background plate as albedo (linear).
    plate: LinearImage,
    /// Unit surface normal (model coordinates, toward the camera) per frame pixel; NaN
    /// outside the head.
    normals: Vec<[f32; 3]>,
    /// Metres per model unit (one pixel at the face's distance).
    metres_per_unit: f64,
}

impl<'a> LitHead<'a> {
    /// Prepares `model` for `scene` (which says the skin tone).
    pub fn new(model: &'a HeadModel, scene: &Scene) -> LitHead<'a> {
        let frame = model.frame();
        let (w, h) = frame.dimensions();
        let mut albedo = LinearImage::from_srgb(frame);
        let plate = LinearImage::from_srgb(model.plate());
        let mut normals = vec![[f32::NAN; 3]; (w * h) as usize];
        for y in 0..h {
            for x in 0..w {
                if let Some(n) = normal_at(model, [x as f32, y as f32]) {
                    normals[(y * w + x) as usize] = n;
                }
            }
        }
        if let Some(tone) = scene.skin {
            recolour_skin(model, &mut albedo, &normals, tone.albedo());
        }
        LitHead {
            model,
            albedo,
            plate,
            normals,
            metres_per_unit: EYE_DISTANCE_M / f64::from(model.eye_distance()).max(1.0),
        }
    }

    pub fn model(&self) -> &HeadModel {
        self.model
    }

    /// The skin's mean albedo (linear), measured as [`recolour_skin`] does.
    pub fn skin_albedo(&self) -> [f32; 3] {
        skin_mean(self.model, &self.albedo)
    }

    /// Irradiance (lux) a full-white screen puts on the face's middle (between the eyes
    /// and the nose tip) at the frontal pose.
    pub fn face_screen_lux(&self, light: &ScreenLight) -> f64 {
        let lm = self.model.landmarks();
        let p = [
            (lm[0][0] + lm[1][0] + lm[2][0]) / 3.0,
            (lm[0][1] + lm[1][1] + lm[2][1]) / 3.0,
        ];
        let Some(q) = self.model.point_3d(p) else {
            return 0.0;
        };
        let n = normal_at(self.model, p).unwrap_or([0.0, 0.0, -1.0]);
        screen_irradiance(
            &light.samples(),
            [0.0, 0.0, 1.0],
            q.map(|v| v * self.metres_per_unit),
            n.map(f64::from),
        )
    }

    /// The scene's radiance with the head at `pose` and the screen (if any) showing
    /// `rgb`; with the head's coverage of each pixel.
    pub fn radiance(
        &self,
        pose: &Pose,
        screen: Option<(&ScreenLight, [f32; 3])>,
        scene: &Scene,
    ) -> (LinearImage, Vec<f32>) {
        let model = self.model;
        let (w, h) = model.frame().dimensions();
        let (rendered, hits) = render_with_hits(model, pose);
        let placement = Placement::new(model, pose);
        let mpu = self.metres_per_unit;
        let ambient = f64::from(scene.ambient_lux);
        let dir_cam = unit(scene.ambient_dir.map(f64::from));
        // Everything is done in the model's frame: the screen, the camera and the room's
        // light are moved back by the pose instead of moving each surface point.
        let dir_model = unit(placement.direction_back(dir_cam));
        let fill = f64::from(scene.ambient_fill);
        let shade = |n: [f64; 3], d: [f64; 3]| fill + (1.0 - fill) * dot(n, d).max(0.0);
        let samples_cam = screen.map(|(l, _)| l.samples()).unwrap_or_default();
        let samples: Vec<([f64; 3], f64)> = samples_cam
            .iter()
            .map(|&(p, wgt)| {
                let back = placement.point_back(p.map(|v| v / mpu));
                (back.map(|v| v * mpu), wgt)
            })
            .collect();
        let screen_normal = placement.direction_back([0.0, 0.0, 1.0]);
        let eye = placement.point_back([0.0, 0.0, 0.0]).map(|v| v * mpu);
        let rgb = screen.map_or([0.0; 3], |(_, c)| c);
        let wall = f64::from(scene.background_m);
        let wall_lux = screen_irradiance(
            &samples_cam,
            [0.0, 0.0, 1.0],
            [0.0, 0.0, wall],
            [0.0, 0.0, -1.0],
        ) as f32;
        let ks = f64::from(scene.specular);
        let mut pixels = Vec::with_capacity((w * h) as usize);
        for (i, (&a, &[u, v])) in rendered.coverage.iter().zip(&hits).enumerate() {
            let bg_albedo = self.plate.pixels[i];
            let bg: [f32; 3] =
                std::array::from_fn(|c| bg_albedo[c] * (scene.ambient_lux + wall_lux * rgb[c]));
            if a <= 0.0 || !u.is_finite() {
                pixels.push(bg);
                continue;
            }
            let albedo = self.albedo.sample(u, v);
            let (ui, vi) = ((u.round() as u32).min(w - 1), (v.round() as u32).min(h - 1));
            let n = self.normals[(vi * w + ui) as usize];
            let n = if n[0].is_finite() {
                n.map(f64::from)
            } else {
                [0.0, 0.0, -1.0]
            };
            let ratio = (shade(n, dir_model) / shade(n, dir_cam).max(1e-3)).clamp(0.4, 2.5);
            let (diffuse, specular) = match model.point_3d([u, v]) {
                Some(q) if !samples.is_empty() => {
                    let p = q.map(|c| c * mpu);
                    let view = unit([eye[0] - p[0], eye[1] - p[1], eye[2] - p[2]]);
                    (
                        screen_irradiance(&samples, screen_normal, p, n),
                        screen_specular(&samples, screen_normal, p, n, view, ks),
                    )
                }
                _ => (0.0, 0.0),
            };
            let amb = (ambient * ratio) as f32;
            let (diffuse, specular) = (diffuse as f32, specular as f32);
            pixels.push(std::array::from_fn(|c| {
                let face = albedo[c] * (amb + diffuse * rgb[c]) + specular * rgb[c];
                face * a + bg[c] * (1.0 - a)
            }));
        }
        (
            LinearImage {
                width: w,
                height: h,
                pixels,
            },
            rendered.coverage,
        )
    }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn unit(a: [f64; 3]) -> [f64; 3] {
    let n = dot(a, a).sqrt();
    if n < 1e-12 {
        [0.0, 0.0, -1.0]
    } else {
        a.map(|v| v / n)
    }
}

/// The head's unit normal at frame pixel `p` (frontal pose, model coordinates, pointing
/// toward the camera), from the heightfield by central differences (one-sided at the
/// rim); None off the head.
pub(crate) fn normal_at(model: &HeadModel, p: [f32; 2]) -> Option<[f32; 3]> {
    let c = model.point_3d(p)?;
    let step = 1.5f32;
    let at = |dx: f32, dy: f32| model.point_3d([p[0] + dx, p[1] + dy]);
    let diff = |a: Option<[f64; 3]>, b: Option<[f64; 3]>| -> Option<[f64; 3]> {
        match (a, b) {
            (Some(a), Some(b)) => Some([b[0] - a[0], b[1] - a[1], b[2] - a[2]]),
            (Some(a), None) => Some([c[0] - a[0], c[1] - a[1], c[2] - a[2]]),
            (None, Some(b)) => Some([b[0] - c[0], b[1] - c[1], b[2] - c[2]]),
            (None, None) => None,
        }
    };
    let tx = diff(at(-step, 0.0), at(step, 0.0))?;
    let ty = diff(at(0.0, -step), at(0.0, step))?;
    // x right and y down: ty x tx points toward the camera (-Z) on a facing surface.
    let n = [
        ty[1] * tx[2] - ty[2] * tx[1],
        ty[2] * tx[0] - ty[0] * tx[2],
        ty[0] * tx[1] - ty[1] * tx[0],
    ];
    let len = dot(n, n).sqrt();
    if !len.is_finite() || len < 1e-12 {
        return None;
    }
    let s = if n[2] > 0.0 { -1.0 / len } else { 1.0 / len };
    Some(n.map(|v| (v * s) as f32))
}

/// Where skin is measured: below each eye (cheeks), above the eyes (forehead) and on the
/// nose's bridge, in eye distances from the point between the eyes.
const SKIN_SPOTS: [[f32; 2]; 5] = [
    [-0.5, 0.6],
    [0.5, 0.6],
    [0.0, -0.55],
    [0.0, 0.25],
    [0.0, 0.45],
];

/// The median albedo over the skin spots.
fn skin_mean(model: &HeadModel, img: &LinearImage) -> [f32; 3] {
    let lm = model.landmarks();
    let e = model.eye_distance();
    let mid = [(lm[0][0] + lm[1][0]) / 2.0, (lm[0][1] + lm[1][1]) / 2.0];
    let ex = [(lm[1][0] - lm[0][0]) / e, (lm[1][1] - lm[0][1]) / e];
    let ey = [-ex[1], ex[0]];
    let r = (0.1 * e).max(1.0) as i32;
    let mut values: [Vec<f32>; 3] = Default::default();
    for [u, v] in SKIN_SPOTS {
        let cx = mid[0] + e * (u * ex[0] + v * ey[0]);
        let cy = mid[1] + e * (u * ex[1] + v * ey[1]);
        for dy in -r..=r {
            for dx in -r..=r {
                let p = img.sample(cx + dx as f32, cy + dy as f32);
                for c in 0..3 {
                    values[c].push(p[c]);
                }
            }
        }
    }
    values.map(|mut v| {
        v.sort_by(f32::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.2).max(1e-4)
    })
}

/// Scales the skin's colour toward `target` in linear light, keeping its texture (a
/// per-channel gain); pixels are counted as skin by how close their chromaticity is to
/// the measured skin's, so hair, eyes and background keep most of their colour.
fn recolour_skin(
    model: &HeadModel,
    albedo: &mut LinearImage,
    normals: &[[f32; 3]],
    target: [f32; 3],
) {
    let mean = skin_mean(model, albedo);
    let gain: [f32; 3] = std::array::from_fn(|c| target[c] / mean[c]);
    let chroma = |p: [f32; 3]| {
        let g = p[1].max(1e-4);
        [(p[0].max(1e-4) / g).ln(), (p[2].max(1e-4) / g).ln()]
    };
    let skin = chroma(mean);
    for (p, n) in albedo.pixels.iter_mut().zip(normals) {
        if !n[0].is_finite() {
            continue;
        }
        let q = chroma(*p);
        let d2 = ((q[0] - skin[0]).powi(2) + (q[1] - skin[1]).powi(2)) / (0.2 * 0.2);
        let weight = (-d2 / 2.0).exp();
        *p = std::array::from_fn(|c| p[c] * gain[c].powf(weight));
    }
}

/// Films `motion` with `head` lit by the scene and, if given, the screen: frame i sees
/// the screen's colour at its timestamp less `latency_ms`, averaged over its exposure
/// (the camera's shutter share of the frame interval). `post(i, radiance, coverage)`
/// may change each frame's light before the camera takes it (an attacker's tint).
#[allow(clippy::too_many_arguments)]
pub(crate) fn film_lit(
    head: &LitHead<'_>,
    motion: Motion,
    light: Option<&ScreenLight>,
    scene: &Scene,
    latency_ms: f32,
    camera: &mut AutoCamera,
    fps: f32,
    rng: &mut Rng,
    mut post: impl FnMut(usize, &mut LinearImage, &[f32]),
) -> LitSequence {
    let exposure_ms = camera.camera.shutter_share * 1000.0 / fps;
    let mut previous_nose: Option<[f32; 2]> = None;
    let mut frames = Vec::with_capacity(motion.poses.len());
    let mut screen_rgb = Vec::with_capacity(motion.poses.len());
    for (i, (pose, &timestamp_ms)) in motion.poses.iter().zip(&motion.timestamps_ms).enumerate() {
        let seen = light.map(|l| l.seen(timestamp_ms, latency_ms, exposure_ms));
        let (mut radiance, coverage) = head.radiance(pose, light.zip(seen), scene);
        post(i, &mut radiance, &coverage);
        let nose = project_landmarks(head.model, pose)[2];
        let moved = previous_nose.map_or([0.0, 0.0], |p| [nose[0] - p[0], nose[1] - p[1]]);
        previous_nose = Some(nose);
        let image: RgbImage = camera.shoot(&radiance, timestamp_ms, moved, Some(&coverage), rng);
        frames.push(Frame {
            image,
            timestamp_ms,
        });
        screen_rgb.push(seen.unwrap_or([0.0; 3]));
    }
    LitSequence {
        frames,
        motion,
        latency_ms: if light.is_some() { latency_ms } else { 0.0 },
        exposure_ms,
        screen_rgb,
    }
}

/// A genuine sequence under the screen-light challenge: the person in `model` performs
/// `actions` (as [`crate::sequence::genuine`]) while the screen shows `light`'s
/// schedule, in `scene`'s room, filmed by a webcam with slow automatic exposure and white
/// balance ([`AutoCamera::webcam`]). The display and camera latency is drawn between 30
/// and 200 ms and returned with the frames.
pub fn genuine_lit(
    model: &HeadModel,
    actions: &[Action],
    fps: f32,
    light: &ScreenLight,
    scene: &Scene,
    rng: &mut Rng,
) -> Result<LitSequence, FacegenError> {
    check_fps(fps)?;
    light.check()?;
    scene.check()?;
    let motion = plan(actions, fps, Style::Human, rng)?;
    let mut camera = AutoCamera::webcam(rng);
    let latency_ms = rng.range(30.0, 200.0);
    let head = LitHead::new(model, scene);
    Ok(film_lit(
        &head,
        motion,
        Some(light),
        scene,
        latency_ms,
        &mut camera,
        fps,
        rng,
        |_, _, _| {},
    ))
}

/// As [`genuine_lit`] along a given motion, with a given latency and camera (tests and
/// evaluations that need to hold one of them fixed).
#[allow(clippy::too_many_arguments)]
pub fn render_lit(
    model: &HeadModel,
    motion: Motion,
    light: Option<&ScreenLight>,
    scene: &Scene,
    latency_ms: f32,
    camera: &mut AutoCamera,
    fps: f32,
    rng: &mut Rng,
) -> Result<LitSequence, FacegenError> {
    check_fps(fps)?;
    if let Some(l) = light {
        l.check()?;
    }
    scene.check()?;
    if !(latency_ms.is_finite() && (0.0..=10_000.0).contains(&latency_ms)) {
        return Err(FacegenError::BadParameter(format!(
            "latency {latency_ms} ms (0 to 10000)"
        )));
    }
    let head = LitHead::new(model, scene);
    Ok(film_lit(
        &head,
        motion,
        light,
        scene,
        latency_ms,
        camera,
        fps,
        rng,
        |_, _, _| {},
    ))
}
