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
    /// How much of each background pixel is the person's body (neck, shoulders, chest:
    /// below the chin, a few eye distances wide), which is near the screen, not far.
    body: Vec<f32>,
    /// A point on the chest (camera coordinates, metres) that stands for the body.
    body_point: [f64; 3],
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
            // Twice: the skin measured after one pass is near, not at, the tone (pixels
            // that look less like skin move less).
            for _ in 0..2 {
                recolour_skin(model, &mut albedo, &normals, tone.albedo());
            }
        }
        let metres_per_unit = EYE_DISTANCE_M / f64::from(model.eye_distance()).max(1.0);
        let (body, body_point) = body_region(model, metres_per_unit);
        LitHead {
            model,
            albedo,
            plate,
            normals,
            metres_per_unit,
            body,
            body_point,
        }
    }

    pub fn model(&self) -> &HeadModel {
        self.model
    }

    /// The skin's mean albedo (linear): the median over cheeks, forehead and nose
    /// ([`skin_spots`]).
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
        let body_lux = screen_irradiance(
            &samples_cam,
            [0.0, 0.0, 1.0],
            self.body_point,
            unit([0.0, -0.3, -1.0]),
        ) as f32;
        let ks = f64::from(scene.specular);
        let mut pixels = Vec::with_capacity((w * h) as usize);
        for (i, (&a, &[u, v])) in rendered.coverage.iter().zip(&hits).enumerate() {
            let bg_albedo = self.plate.pixels[i];
            let near = self.body[i];
            let bg_lux = wall_lux * (1.0 - near) + body_lux * near;
            let bg: [f32; 3] =
                std::array::from_fn(|c| bg_albedo[c] * (scene.ambient_lux + bg_lux * rgb[c]));
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

/// Which background pixels are the body (weights) and a point on the chest: below the
/// chin (0.9 eye distances below the mouth) and up to 2.5 eye distances either side of
/// the face's middle, fading over half an eye distance; the chest stands 8 cm behind the
/// face.
fn body_region(model: &HeadModel, metres_per_unit: f64) -> (Vec<f32>, [f64; 3]) {
    let (w, h) = model.frame().dimensions();
    let lm = model.landmarks();
    let e = model.eye_distance();
    let mid = [(lm[0][0] + lm[1][0]) / 2.0, (lm[0][1] + lm[1][1]) / 2.0];
    let chin = (lm[3][1] + lm[4][1]) / 2.0 + 0.9 * e;
    let smooth = |t: f32| {
        let t = t.clamp(0.0, 1.0);
        t * t * (3.0 - 2.0 * t)
    };
    let mut body = vec![0.0f32; (w * h) as usize];
    for y in 0..h {
        let down = smooth((y as f32 - chin) / (0.5 * e));
        if down <= 0.0 {
            continue;
        }
        for x in 0..w {
            let side = smooth((3.0 * e - (x as f32 - mid[0]).abs()) / (0.5 * e));
            body[(y * w + x) as usize] = down * side;
        }
    }
    let face = model.point_3d(mid).unwrap_or([0.0, 0.0, f64::from(w)]);
    let point = [
        face[0] * metres_per_unit,
        (face[1] + f64::from(chin + 0.8 * e - mid[1])) * metres_per_unit,
        face[2] * metres_per_unit + 0.08,
    ];
    (body, point)
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

/// The skin spots in frame pixels (frontal pose): cheek under the eye with the smaller
/// x, the other cheek, forehead, nose bridge, nose.
pub fn skin_spots(model: &HeadModel) -> [[f32; 2]; 5] {
    let lm = model.landmarks();
    let e = model.eye_distance();
    let mid = [(lm[0][0] + lm[1][0]) / 2.0, (lm[0][1] + lm[1][1]) / 2.0];
    let ex = [(lm[1][0] - lm[0][0]) / e, (lm[1][1] - lm[0][1]) / e];
    let ey = [-ex[1], ex[0]];
    SKIN_SPOTS.map(|[u, v]| {
        [
            mid[0] + e * (u * ex[0] + v * ey[0]),
            mid[1] + e * (u * ex[1] + v * ey[1]),
        ]
    })
}

/// The median albedo over the skin spots.
fn skin_mean(model: &HeadModel, img: &LinearImage) -> [f32; 3] {
    let r = (0.1 * model.eye_distance()).max(1.0) as i32;
    let mut values: [Vec<f32>; 3] = Default::default();
    for [cx, cy] in skin_spots(model) {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::light::srgb_to_linear;
    use crate::light::{Room, SkinTone};
    use crate::lit_attack::unlit_injection;
    use crate::project_point;
    use crate::sequence::DEFAULT_FPS;
    use crate::testdata;

    pub(crate) const CHALLENGE: [Action; 4] =
        [Action::Left, Action::Right, Action::Up, Action::Center];

    /// Mean linear colour of the square of half-size `r` around `p`.
    pub(crate) fn patch(img: &RgbImage, p: [f32; 2], r: i32) -> [f32; 3] {
        let mut acc = [0.0f32; 3];
        let mut n = 0.0;
        for dy in -r..=r {
            for dx in -r..=r {
                let x = (p[0].round() as i32 + dx).clamp(0, img.width() as i32 - 1) as u32;
                let y = (p[1].round() as i32 + dy).clamp(0, img.height() as i32 - 1) as u32;
                let px = img.get_pixel(x, y).0;
                for c in 0..3 {
                    acc[c] += srgb_to_linear(px[c]);
                }
                n += 1.0;
            }
        }
        acc.map(|v| v / n)
    }

    /// Same for a linear image.
    fn patch_linear(img: &LinearImage, p: [f32; 2], r: i32) -> [f32; 3] {
        let mut acc = [0.0f32; 3];
        let mut n = 0.0;
        for dy in -r..=r {
            for dx in -r..=r {
                let s = img.sample(p[0] + dx as f32, p[1] + dy as f32);
                for c in 0..3 {
                    acc[c] += s[c];
                }
                n += 1.0;
            }
        }
        acc.map(|v| v / n)
    }

    fn chroma(c: [f32; 3]) -> [f32; 3] {
        let sum = (c[0] + c[1] + c[2]).max(1e-6);
        c.map(|v| v / sum)
    }

    fn pearson(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len() as f32;
        let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
        let cov: f32 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f32 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f32 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt().max(1e-12)
    }

    fn slope(x: &[f32], y: &[f32]) -> f32 {
        let n = x.len() as f32;
        let (mx, my) = (x.iter().sum::<f32>() / n, y.iter().sum::<f32>() / n);
        let cov: f32 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let var: f32 = x.iter().map(|a| (a - mx).powi(2)).sum();
        cov / var.max(1e-12)
    }

    /// Per frame, the chromaticity of the skin (mean over the projected skin spots) and
    /// of the wall (the frame's top corners).
    fn face_and_wall(model: &HeadModel, seq: &LitSequence) -> (Vec<[f32; 3]>, Vec<[f32; 3]>) {
        let r = (0.08 * model.eye_distance()) as i32;
        let (w, _) = model.frame().dimensions();
        seq.frames
            .iter()
            .zip(&seq.motion.poses)
            .map(|(f, pose)| {
                let mut acc = [0.0f32; 3];
                for spot in skin_spots(model) {
                    let p = project_point(model, pose, spot).unwrap();
                    let c = patch(&f.image, p, r);
                    for k in 0..3 {
                        acc[k] += c[k];
                    }
                }
                let a = patch(&f.image, [6.0, 6.0], 5);
                let b = patch(&f.image, [w as f32 - 7.0, 6.0], 5);
                (chroma(acc), chroma([a[0] + b[0], a[1] + b[1], a[2] + b[2]]))
            })
            .unzip()
    }

    /// The skin's chromaticity in each frame predicted from the screen's colour read at
    /// `latency_ms`: `albedo (1 + ratio rgb)`, ratio the screen's light to the room's.
    fn predicted(
        seq: &LitSequence,
        light: &ScreenLight,
        latency_ms: f32,
        albedo: [f32; 3],
        ratio: f32,
    ) -> Vec<[f32; 3]> {
        seq.frames
            .iter()
            .map(|f| {
                let rgb = light.seen(f.timestamp_ms, latency_ms, seq.exposure_ms);
                chroma(std::array::from_fn(|c| albedo[c] * (1.0 + ratio * rgb[c])))
            })
            .collect()
    }

    /// How well the chromaticities follow the prediction (Pearson correlation, mean over
    /// channels), and the mean regression slope.
    fn follows(chromas: &[[f32; 3]], predicted: &[[f32; 3]]) -> (f32, f32) {
        let (mut corr, mut k) = (0.0, 0.0);
        for c in 0..3 {
            let x: Vec<f32> = predicted.iter().map(|s| s[c]).collect();
            let y: Vec<f32> = chromas.iter().map(|s| s[c]).collect();
            corr += pearson(&x, &y) / 3.0;
            k += slope(&x, &y) / 3.0;
        }
        (corr, k)
    }

    fn scenes() -> (ScreenLight, Scene, Scene) {
        let mut rng = Rng::new(11);
        let light = ScreenLight::random(0, 8000, &mut rng);
        let mut dark = Scene::room(Room::Dark, &mut rng);
        dark.ambient_lux = 10.0;
        let day = Scene {
            ambient_lux: 2000.0,
            ..dark
        };
        (light, dark, day)
    }

    #[test]
    fn the_face_follows_the_schedule_with_the_drawn_latency_more_in_the_dark() {
        let model = testdata::model();
        let (light, dark, day) = scenes();
        let seq = genuine_lit(
            model,
            &CHALLENGE,
            DEFAULT_FPS,
            &light,
            &dark,
            &mut Rng::new(3),
        )
        .unwrap();
        assert!((30.0..200.0).contains(&seq.latency_ms));
        assert!(seq.frames.len() >= 18, "{} frames", seq.frames.len());
        let (face, wall) = face_and_wall(model, &seq);
        let head = LitHead::new(model, &dark);
        let ratio = (head.face_screen_lux(&light) / f64::from(dark.ambient_lux)) as f32;
        let albedo = head.skin_albedo();
        let expect = |latency| predicted(&seq, &light, latency, albedo, ratio);
        let truth = expect(seq.latency_ms);
        let (corr, dark_slope) = follows(&face, &truth);
        assert!(corr > 0.85, "dark room: correlation {corr}");
        // The latency that explains the face best is the drawn one.
        let score = |k: i32| follows(&face, &expect(k as f32 * 10.0)).0;
        let best = (0..=60)
            .max_by(|&a, &b| score(a).total_cmp(&score(b)))
            .unwrap();
        assert!(
            (best as f32 * 10.0 - seq.latency_ms).abs() <= 60.0,
            "best latency {}, drawn {}",
            best * 10,
            seq.latency_ms
        );
        // The wall, 1.5-3 m away, barely moves.
        let (_, wall_slope) = follows(&wall, &truth);
        assert!(
            wall_slope.abs() < 0.3 * dark_slope,
            "wall {wall_slope} vs face {dark_slope}"
        );
        // Daylight drowns the screen (same motion, camera and latency: same seed).
        let lit = genuine_lit(
            model,
            &CHALLENGE,
            DEFAULT_FPS,
            &light,
            &day,
            &mut Rng::new(3),
        )
        .unwrap();
        assert_eq!(lit.latency_ms, seq.latency_ms);
        let (face_day, _) = face_and_wall(model, &lit);
        let (_, day_slope) = follows(&face_day, &truth);
        assert!(
            day_slope.abs() < 0.2 * dark_slope,
            "daylight {day_slope} vs dark {dark_slope}"
        );
        // A video injected without the light does not follow it.
        let unlit =
            unlit_injection(model, &CHALLENGE, DEFAULT_FPS, &dark, &mut Rng::new(3)).unwrap();
        let (face_unlit, _) = face_and_wall(model, &unlit);
        let n = face_unlit.len().min(truth.len());
        let (corr_unlit, _) = follows(&face_unlit[..n], &truth[..n]);
        assert!(corr_unlit.abs() < 0.4, "unlit injection: {corr_unlit}");
        eprintln!(
            "dark corr {corr:.3} slope {dark_slope:.3}; wall {wall_slope:.3}; day {day_slope:.3}; unlit corr {corr_unlit:.3}; latency {} best {}",
            seq.latency_ms,
            best * 10
        );
    }

    #[test]
    fn genuine_lit_sequences_are_deterministic() {
        let model = testdata::model();
        let (light, dark, _) = scenes();
        let a = genuine_lit(
            model,
            &CHALLENGE[..2],
            DEFAULT_FPS,
            &light,
            &dark,
            &mut Rng::new(5),
        )
        .unwrap();
        let b = genuine_lit(
            model,
            &CHALLENGE[..2],
            DEFAULT_FPS,
            &light,
            &dark,
            &mut Rng::new(5),
        )
        .unwrap();
        assert_eq!(a, b);
        let mut bad = light.clone();
        bad.phases.reverse();
        assert!(genuine_lit(
            model,
            &CHALLENGE,
            DEFAULT_FPS,
            &bad,
            &dark,
            &mut Rng::new(5)
        )
        .is_err());
    }

    /// Relative response `(white - dark) / dark` at a frame point, from the radiance.
    fn response(
        head: &LitHead<'_>,
        pose: &Pose,
        scene: &Scene,
        at: [f32; 2],
    ) -> ([f32; 3], [f32; 3]) {
        let white = ScreenLight::constant([1.0; 3]);
        let (lit, _) = head.radiance(pose, Some((&white, [1.0; 3])), scene);
        let (unlit, _) = head.radiance(pose, None, scene);
        let p = project_point(head.model(), pose, at).unwrap();
        let r = (0.06 * head.model().eye_distance()) as i32;
        let (a, b) = (patch_linear(&lit, p, r), patch_linear(&unlit, p, r));
        (
            std::array::from_fn(|c| (a[c] - b[c]) / b[c].max(1e-9)),
            std::array::from_fn(|c| a[c] - b[c]),
        )
    }

    #[test]
    fn on_a_turned_head_the_cheek_facing_the_screen_brightens_more() {
        let model = testdata::model();
        let scene = Scene {
            specular: 0.0,
            ..scenes().1
        };
        let head = LitHead::new(model, &scene);
        let spots = skin_spots(model);
        let (frontal_left, _) = response(&head, &Pose::FRONTAL, &scene, spots[0]);
        let (frontal_right, _) = response(&head, &Pose::FRONTAL, &scene, spots[1]);
        assert!(
            (frontal_left[1] / frontal_right[1] - 1.0).abs() < 0.15,
            "{frontal_left:?} {frontal_right:?}"
        );
        // Turned to the person's left, the nose goes to the image's right: the cheek with
        // the smaller x turns toward the camera and the screen below it.
        for (yaw, near, far) in [(30.0, 0, 1), (-30.0, 1, 0)] {
            let pose = Pose::turned(yaw, 0.0);
            let (n, _) = response(&head, &pose, &scene, spots[near]);
            let (f, _) = response(&head, &pose, &scene, spots[far]);
            // About 2.2-2.7 on the current head; 1.23 if the normals were ignored (only the
            // distances differ).
            assert!(n[1] > 1.5 * f[1], "yaw {yaw}: near {n:?} far {f:?}");
        }
    }

    #[test]
    fn darker_skin_responds_in_the_same_proportion_with_less_signal() {
        let model = testdata::model();
        let diffuse = Scene {
            specular: 0.0,
            ..scenes().1
        };
        let at = skin_spots(model)[3];
        let measure = |tone, scene: &Scene| {
            let scene = Scene {
                skin: Some(tone),
                ..*scene
            };
            let head = LitHead::new(model, &scene);
            response(&head, &Pose::FRONTAL, &scene, at)
        };
        let (rel_light, abs_light) = measure(SkinTone::I, &diffuse);
        let (rel_dark, abs_dark) = measure(SkinTone::VI, &diffuse);
        for c in 0..3 {
            assert!(
                (rel_dark[c] / rel_light[c] - 1.0).abs() < 0.05,
                "{rel_dark:?} vs {rel_light:?}"
            );
            assert!(
                abs_dark[c] < 0.4 * abs_light[c],
                "{abs_dark:?} vs {abs_light:?}"
            );
        }
        // The specular glint is white and the same on any skin, so on dark skin it is a
        // larger share of the response.
        let glossy = scenes().1;
        let (g_light, _) = measure(SkinTone::I, &glossy);
        let (g_dark, _) = measure(SkinTone::VI, &glossy);
        assert!(g_dark[1] > g_light[1], "{g_dark:?} vs {g_light:?}");
        // And the tone is what was asked for.
        let head = LitHead::new(
            model,
            &Scene {
                skin: Some(SkinTone::VI),
                ..diffuse
            },
        );
        let got = head.skin_albedo();
        let want = SkinTone::VI.albedo();
        for c in 0..3 {
            assert!((got[c] / want[c] - 1.0).abs() < 0.08, "{got:?} vs {want:?}");
        }
    }
}
