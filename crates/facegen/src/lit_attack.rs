//! Presentation attacks on the screen-light challenge: what an attacker can put in front
//! of (or into) the camera while the screen flashes its colours.
//!
//! A replay of a genuine lit capture judged against another session's sequence needs no
//! renderer: take [`crate::lit::genuine_lit`] for one schedule and check it against
//! another.

use image::RgbImage;
use reclaim_docgen::Rng;

use crate::attack::{print_scene, screen_scene, sheet_shift, Sheet, SheetScene, SheetSequence};
use crate::camera::AutoCamera;
use crate::head::{mul, rotation, HeadModel, Pose};
use crate::light::{screen_irradiance, srgb_to_linear, LinearImage, Scene, ScreenLight};
use crate::lit::{film_lit, LitHead, LitSequence};
use crate::sequence::{check_fps, plan, Action, Frame, Style};
use crate::FacegenError;

/// How far a held print or phone is from the camera at rest, metres: where a face is
/// (the sheet fills the frame as a face's photo does at that distance).
pub const SHEET_DISTANCE_M: f64 = 0.42;

/// Fresnel reflectance of a display's glass at normal incidence (n about 1.5).
pub const GLASS_REFLECTANCE: f32 = 0.04;

/// Video injected into a virtual camera: a genuine-looking head through the challenge,
/// lit by the room only. The attacker (who may have recorded the victim or rendered them)
/// cannot make the light of a screen they never saw; the frames go through the same
/// webcam model as genuine ones, so only the missing light response tells them apart.
pub fn unlit_injection(
    model: &HeadModel,
    actions: &[Action],
    fps: f32,
    scene: &Scene,
    rng: &mut Rng,
) -> Result<LitSequence, FacegenError> {
    check_fps(fps)?;
    scene.check()?;
    let motion = plan(actions, fps, Style::Human, rng)?;
    let mut camera = AutoCamera::webcam(rng);
    let head = LitHead::new(model, scene);
    Ok(film_lit(
        &head,
        motion,
        None,
        scene,
        0.0,
        &mut camera,
        fps,
        rng,
        |_, _, _| {},
    ))
}

/// How a [`uniform_tint`] attacker applies the screen's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tint {
    /// The face's light multiplied by `1 + k rgb`, `k` the screen-to-room light ratio a
    /// face would get: right in strength and colour, the same everywhere on the face.
    MultiplyFace,
    /// The skin's mean albedo times the screen's irradiance added over the face: a
    /// coloured veil, the same everywhere on the face.
    AddFace,
    /// The whole frame multiplied by `1 + k rgb`: a colour filter over the video.
    MultiplyFrame,
}

impl Tint {
    pub const ALL: [Tint; 3] = [Tint::MultiplyFace, Tint::AddFace, Tint::MultiplyFrame];
}

/// A rendered head (one photo turned through the challenge's poses, with the geometry a
/// 3D render has) injected with the screen's sequence applied as a uniform tint. The
/// attacker knows the sequence (they watch the screen, or read the session) and its
/// timing, picks a latency of 30-200 ms, and tints each frame by the colour it would have
/// seen; what they lack is the face's shading geometry, so the response does not vary
/// with the surface's orientation or distance.
pub fn uniform_tint(
    model: &HeadModel,
    actions: &[Action],
    fps: f32,
    light: &ScreenLight,
    scene: &Scene,
    tint: Tint,
    rng: &mut Rng,
) -> Result<LitSequence, FacegenError> {
    check_fps(fps)?;
    light.check()?;
    scene.check()?;
    let motion = plan(actions, fps, Style::Human, rng)?;
    let mut camera = AutoCamera::webcam(rng);
    let latency_ms = rng.range(30.0, 200.0);
    let head = LitHead::new(model, scene);
    let face_lux = head.face_screen_lux(light) as f32;
    let ratio = face_lux / scene.ambient_lux.max(1e-3);
    let skin = head.skin_albedo();
    let exposure_ms = camera.camera.shutter_share * 1000.0 / fps;
    let seen: Vec<[f32; 3]> = motion
        .timestamps_ms
        .iter()
        .map(|&t| light.seen(t, latency_ms, exposure_ms))
        .collect();
    let mut sequence = film_lit(
        &head,
        motion,
        None,
        scene,
        latency_ms,
        &mut camera,
        fps,
        rng,
        |i, radiance, coverage| {
            let rgb = seen[i];
            for (p, &a) in radiance.pixels.iter_mut().zip(coverage) {
                *p = match tint {
                    Tint::MultiplyFace => {
                        std::array::from_fn(|c| p[c] * (1.0 + a * ratio * rgb[c]))
                    }
                    Tint::AddFace => {
                        std::array::from_fn(|c| p[c] + a * skin[c] * face_lux * rgb[c])
                    }
                    Tint::MultiplyFrame => std::array::from_fn(|c| p[c] * (1.0 + ratio * rgb[c])),
                };
            }
        },
    );
    sequence.latency_ms = latency_ms;
    sequence.screen_rgb = seen;
    Ok(sequence)
}

/// A lit print or screen sequence: the sheet's geometry and the light's truth.
#[derive(Debug, Clone, PartialEq)]
pub struct LitSheetSequence {
    pub sequence: SheetSequence,
    pub latency_ms: f32,
    pub exposure_ms: f32,
    /// The screen colour each frame integrated.
    pub screen_rgb: Vec<[f32; 3]>,
}

/// The print of [`crate::attack::flat_print`] held in front of the flashing screen: its
/// paper reflects the screen's light for real (Lambertian, with the inverse-square
/// falloff and the one normal of a plane), so the response is real in colour, timing and
/// strength but flat: it varies across the face only as a plane's does, nothing like a
/// face's (cheeks turned away, nose toward the screen). The room behind is lit as a
/// genuine capture's.
pub fn flat_print_lit(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    light: &ScreenLight,
    scene: &Scene,
    rng: &mut Rng,
) -> Result<LitSheetSequence, FacegenError> {
    light.check()?;
    scene.check()?;
    let parts = print_scene(photo, actions, fps, rng)?;
    Ok(film_sheet_lit(parts, fps, light, scene, None, rng))
}

/// The screen replay of [`crate::attack::screen`] (a phone or monitor showing the
/// victim) in front of the flashing screen. The display emits its picture (300-500 nits)
/// whatever the light, so the flashes come back mostly as glare: the glass mirrors the
/// flashing screen ([`GLASS_REFLECTANCE`]) when it faces the camera within some ten
/// degrees, uniformly over the glass, plus a weak diffuse reflection (2% of the
/// irradiance) from the panel's anti-glare layer. The bezel is matte plastic, lit as a
/// print is.
pub fn screen_lit(
    photo: &RgbImage,
    actions: &[Action],
    fps: f32,
    light: &ScreenLight,
    scene: &Scene,
    rng: &mut Rng,
) -> Result<LitSheetSequence, FacegenError> {
    light.check()?;
    scene.check()?;
    let parts = screen_scene(photo, actions, fps, rng)?;
    let display = Display {
        size: [f64::from(photo.width()), f64::from(photo.height())],
        nits: rng.range(300.0, 500.0),
    };
    Ok(film_sheet_lit(parts, fps, light, scene, Some(display), rng))
}

/// The emitting part of a held display, in the photo's pixels, and its white's
/// luminance.
#[derive(Debug, Clone, Copy)]
struct Display {
    size: [f64; 2],
    nits: f32,
}

impl Display {
    /// Radiance of the glass showing `lin` (linear content), in `white-screen lux`
    /// irradiance `e_white` of colour `rgb`, turned from the camera by `acos(facing)`.
    fn radiance(
        &self,
        lin: [f32; 3],
        e_white: f32,
        facing: f64,
        rgb: [f32; 3],
        screen_nits: f32,
    ) -> [f32; 3] {
        use std::f32::consts::PI;
        // The flashing screen sits beside the camera, so its mirror image reaches the
        // camera only while the glass faces it.
        let angle = facing.clamp(-1.0, 1.0).acos().to_degrees();
        let mirror = (-(angle / 10.0).powi(2)).exp() as f32;
        let glare = GLASS_REFLECTANCE * PI * screen_nits * mirror;
        std::array::from_fn(|c| lin[c] * PI * self.nits + (glare + 0.02 * e_white) * rgb[c])
    }
}

/// Films a sheet under the light: the room and the sheet drawn as for the unlit attack,
/// then relit in linear light. Paper (and a display's bezel) is Lambertian with the
/// drawn colour as albedo, lit by the room and by the screen at its point (one normal
/// for the whole sheet); a display's glass emits instead ([`Display::radiance`]); the
/// room is a wall at the scene's distance.
fn film_sheet_lit(
    (sheet, motion, scene_at): SheetScene,
    fps: f32,
    light: &ScreenLight,
    scene: &Scene,
    display: Option<Display>,
    rng: &mut Rng,
) -> LitSheetSequence {
    let samples = light.samples();
    let mut camera = AutoCamera::webcam(rng);
    let latency_ms = rng.range(30.0, 200.0);
    let exposure_ms = camera.camera.shutter_share * 1000.0 / fps;
    let metres_per_unit = SHEET_DISTANCE_M / f64::from(sheet.frame_size[0]);
    let ambient = scene.ambient_lux;
    let wall_lux = screen_irradiance(
        &samples,
        [0.0, 0.0, 1.0],
        [0.0, 0.0, f64::from(scene.background_m)],
        [0.0, 0.0, -1.0],
    ) as f32;
    let mut frames = Vec::with_capacity(motion.poses.len());
    let mut screen_rgb = Vec::with_capacity(motion.poses.len());
    for (i, (pose, &timestamp_ms)) in motion.poses.iter().zip(&motion.timestamps_ms).enumerate() {
        let rgb = light.seen(timestamp_ms, latency_ms, exposure_ms);
        let (img, coverage) = scene_at(&sheet, pose);
        let radiance = relight(
            &img,
            &coverage,
            &sheet,
            pose,
            &samples,
            metres_per_unit,
            |lin, e_white, facing, [u, v]| match display {
                Some(d) if u >= 0.0 && v >= 0.0 && u < d.size[0] && v < d.size[1] => {
                    d.radiance(lin, e_white, facing, rgb, light.nits)
                }
                _ => std::array::from_fn(|c| lin[c] * (ambient + e_white * rgb[c])),
            },
            |lin| std::array::from_fn(|c| lin[c] * (ambient + wall_lux * rgb[c])),
        );
        let moved = sheet_shift(&sheet, i.checked_sub(1).map(|j| &motion.poses[j]), pose);
        let image = camera.shoot(&radiance, timestamp_ms, moved, Some(&coverage), rng);
        frames.push(Frame {
            image,
            timestamp_ms,
        });
        screen_rgb.push(rgb);
    }
    LitSheetSequence {
        sequence: SheetSequence {
            frames,
            sheet,
            poses: motion.poses,
        },
        latency_ms,
        exposure_ms,
        screen_rgb,
    }
}

/// The linear radiance of a drawn sheet scene: `sheet_px(albedo, white-screen lux,
/// cosine of the sheet's turn from the camera, photo coordinates)` for pixels on the
/// sheet, blended by coverage with `room_px(albedo)`.
#[allow(clippy::too_many_arguments)]
fn relight(
    img: &RgbImage,
    coverage: &[f32],
    sheet: &Sheet,
    pose: &Pose,
    samples: &[([f64; 3], f64)],
    metres_per_unit: f64,
    sheet_px: impl Fn([f32; 3], f32, f64, [f64; 2]) -> [f32; 3],
    room_px: impl Fn([f32; 3]) -> [f32; 3],
) -> LinearImage {
    let (w, h) = img.dimensions();
    let to_photo = sheet.homography(pose).and_then(|m| m.inverse());
    let normal = mul(&rotation(pose), [0.0, 0.0, -1.0]);
    let facing = sheet.facing(pose);
    let pixels = img
        .enumerate_pixels()
        .map(|(x, y, p)| {
            let lin = p.0.map(srgb_to_linear);
            let room = room_px(lin);
            let a = coverage[(y * w + x) as usize];
            let Some(to_photo) = to_photo.as_ref().filter(|_| a > 0.0) else {
                return room;
            };
            let [u, v] = to_photo.apply([f64::from(x), f64::from(y)]);
            let q = sheet.point_3d(pose, [u, v]).map(|c| c * metres_per_unit);
            let e = screen_irradiance(samples, [0.0, 0.0, 1.0], q, normal) as f32;
            let on = sheet_px(lin, e, facing, [u, v]);
            std::array::from_fn(|c| on[c] * a + room[c] * (1.0 - a))
        })
        .collect();
    LinearImage {
        width: w,
        height: h,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::light::{Phase, Room};
    use crate::lit::genuine_lit;
    use crate::lit::skin_spots;
    use crate::lit::tests::{patch, CHALLENGE};
    use crate::project_point;
    use crate::sequence::DEFAULT_FPS;
    use crate::testdata;

    const WHITE: [f32; 3] = [1.0; 3];
    const BLACK: [f32; 3] = [0.0; 3];

    fn dark() -> Scene {
        Scene {
            ambient_lux: 10.0,
            ..Scene::room(Room::Dark, &mut Rng::new(2))
        }
    }

    /// Black until `t_ms`, then white.
    fn step(t_ms: u64) -> ScreenLight {
        ScreenLight {
            idle_rgb: BLACK,
            ..ScreenLight::laptop(
                vec![
                    Phase {
                        start_ms: 0,
                        rgb: BLACK,
                    },
                    Phase {
                        start_ms: t_ms,
                        rgb: WHITE,
                    },
                ],
                u64::MAX,
            )
        }
    }

    /// Green-channel ratio of frame `a` to frame `b` around `pa` and `pb`.
    fn gain(a: &RgbImage, pa: [f32; 2], b: &RgbImage, pb: [f32; 2]) -> f32 {
        let r = 3;
        patch(a, pa, r)[1] / patch(b, pb, r)[1].max(1e-6)
    }

    /// The frame where the head or sheet is turned most.
    fn most_turned(poses: &[Pose]) -> usize {
        (0..poses.len())
            .max_by(|&a, &b| poses[a].yaw_deg.abs().total_cmp(&poses[b].yaw_deg.abs()))
            .unwrap_or(0)
    }

    /// Under a white screen against a dark one (same seed, so the same motion and
    /// camera): the response at the cheek turned toward the screen over the one turned
    /// away, at the most turned frame. Auto exposure scales whole frames, so it cancels.
    fn cheek_contrast(
        frames: [&[Frame]; 2],
        poses: &[Pose],
        place: impl Fn(&Pose, [f32; 2]) -> [f32; 2],
    ) -> f32 {
        let model = testdata::model();
        let k = most_turned(poses);
        let pose = &poses[k];
        let spots = skin_spots(model);
        let (near, far) = if pose.yaw_deg > 0.0 {
            (spots[0], spots[1])
        } else {
            (spots[1], spots[0])
        };
        let (pn, pf) = (place(pose, near), place(pose, far));
        let [white, dark] = frames.map(|f| &f[k].image);
        gain(white, pn, dark, pn) / gain(white, pf, dark, pf)
    }

    fn sheet_place(sheet: &Sheet) -> impl Fn(&Pose, [f32; 2]) -> [f32; 2] + '_ {
        |pose, p| {
            let q = sheet.project(pose, [f64::from(p[0]), f64::from(p[1])]);
            [q[0] as f32, q[1] as f32]
        }
    }

    #[test]
    fn a_genuine_face_responds_by_its_shape_and_a_print_flatly() {
        let model = testdata::model();
        let scene = dark();
        let lit = |rgb| {
            genuine_lit(
                model,
                &CHALLENGE,
                DEFAULT_FPS,
                &ScreenLight::constant(rgb),
                &scene,
                &mut Rng::new(8),
            )
            .unwrap()
        };
        let (white, black) = (lit(WHITE), lit(BLACK));
        let genuine = cheek_contrast(
            [&white.frames, &black.frames],
            &white.motion.poses,
            |pose, p| project_point(model, pose, p).unwrap(),
        );
        let print = |rgb| {
            flat_print_lit(
                model.frame(),
                &CHALLENGE,
                DEFAULT_FPS,
                &ScreenLight::constant(rgb),
                &scene,
                &mut Rng::new(8),
            )
            .unwrap()
        };
        let (white, black) = (print(WHITE), print(BLACK));
        let turned = white.sequence.poses[most_turned(&white.sequence.poses)].yaw_deg;
        let flat = cheek_contrast(
            [&white.sequence.frames, &black.sequence.frames],
            &white.sequence.poses,
            sheet_place(&white.sequence.sheet),
        );
        // A plane turned by 30 degrees at 42 cm is not evenly lit either: one side is
        // nearer the screen and faces it at another angle. What it cannot do is more
        // than one plane's law: (room + screen) / room at each cheek, from one normal.
        let sheet = &white.sequence.sheet;
        let pose = &white.sequence.poses[most_turned(&white.sequence.poses)];
        let spots = skin_spots(model);
        let (near, far) = if pose.yaw_deg > 0.0 {
            (spots[0], spots[1])
        } else {
            (spots[1], spots[0])
        };
        let normal = mul(&rotation(pose), [0.0, 0.0, -1.0]);
        let samples = ScreenLight::constant(WHITE).samples();
        let mpu = SHEET_DISTANCE_M / f64::from(sheet.frame_size[0]);
        let answer = |p: [f32; 2]| {
            let q = sheet.point_3d(pose, [f64::from(p[0]), f64::from(p[1])]);
            let e = screen_irradiance(&samples, [0.0, 0.0, 1.0], q.map(|v| v * mpu), normal);
            1.0 + e / f64::from(scene.ambient_lux)
        };
        let plane = (answer(near) / answer(far)) as f32;
        eprintln!(
            "genuine {genuine:.3}, print {flat:.3}, a plane's {plane:.3} (turned {turned:.1} degrees)"
        );
        assert!(turned.abs() > 20.0);
        assert!(
            (flat / plane - 1.0).abs() < 0.05,
            "print {flat} vs plane {plane}"
        );
        assert!(plane < 1.3, "{plane}");
        assert!(genuine > 1.5 * plane, "genuine cheek contrast {genuine}");
    }

    #[test]
    fn a_uniform_tint_responds_the_same_everywhere() {
        let model = testdata::model();
        let scene = dark();
        for tint in Tint::ALL {
            let run = |rgb| {
                uniform_tint(
                    model,
                    &CHALLENGE,
                    DEFAULT_FPS,
                    &ScreenLight::constant(rgb),
                    &scene,
                    tint,
                    &mut Rng::new(8),
                )
                .unwrap()
            };
            let (white, black) = (run(WHITE), run(BLACK));
            assert_eq!(white.latency_ms, black.latency_ms);
            let contrast = cheek_contrast(
                [&white.frames, &black.frames],
                &white.motion.poses,
                |pose, p| project_point(model, pose, p).unwrap(),
            );
            // A multiplied tint's relative response is the same on both cheeks. An added
            // one's is larger where the cheek is darker, so it follows the cheeks' own
            // shading (1.19 on the face-mesh head): still far from a lit face's 2.2 or more.
            let tolerance = if tint == Tint::AddFace { 0.25 } else { 0.1 };
            assert!((contrast - 1.0).abs() < tolerance, "{tint:?}: {contrast}");
            // Over the whole frame the wall answers as the face does; over the face
            // only, it does not.
            let k = most_turned(&white.motion.poses);
            let nose = project_point(model, &white.motion.poses[k], skin_spots(model)[3]).unwrap();
            let (w, b) = (&white.frames[k].image, &black.frames[k].image);
            let wall = [6.0, 6.0];
            let face_gain = gain(w, nose, b, nose);
            let wall_gain = gain(w, wall, b, wall);
            eprintln!("{tint:?}: cheeks {contrast:.3}, face {face_gain:.3}, wall {wall_gain:.3}");
            if tint == Tint::MultiplyFrame {
                assert!((face_gain / wall_gain - 1.0).abs() < 0.15, "{tint:?}");
            } else {
                assert!(face_gain > 1.5 * wall_gain, "{tint:?}");
            }
        }
    }

    /// The jump of the light at the nose bridge from the last frame that saw a black
    /// screen to the first that saw white, before auto exposure has caught up.
    fn jump<T>(
        make: impl Fn(&ScreenLight) -> T,
        frames: impl Fn(&T) -> (&[Frame], &[Pose], f32, f32),
        place: impl Fn(&T, &Pose, [f32; 2]) -> [f32; 2],
    ) -> f32 {
        let probe = make(&ScreenLight::constant(BLACK));
        let (f, _, latency, exposure) = frames(&probe);
        let k = f.len() / 2;
        let t = f[k].timestamp_ms as f32 - latency - exposure - 1.0;
        let seq = make(&step(t as u64));
        let (f, poses, _, _) = frames(&seq);
        let spot = skin_spots(testdata::model())[3];
        let (a, b) = (
            place(&seq, &poses[k], spot),
            place(&seq, &poses[k - 1], spot),
        );
        gain(&f[k].image, a, &f[k - 1].image, b)
    }

    #[test]
    fn a_screen_replay_answers_the_flash_weakly_and_a_print_strongly() {
        let model = testdata::model();
        let scene = dark();
        fn sheet_frames(s: &LitSheetSequence) -> (&[Frame], &[Pose], f32, f32) {
            (
                &s.sequence.frames,
                &s.sequence.poses,
                s.latency_ms,
                s.exposure_ms,
            )
        }
        fn on_sheet(s: &LitSheetSequence, pose: &Pose, p: [f32; 2]) -> [f32; 2] {
            sheet_place(&s.sequence.sheet)(pose, p)
        }
        fn head_frames(s: &LitSequence) -> (&[Frame], &[Pose], f32, f32) {
            (&s.frames, &s.motion.poses, s.latency_ms, s.exposure_ms)
        }
        let screen = jump(
            |light| {
                screen_lit(
                    model.frame(),
                    &CHALLENGE,
                    DEFAULT_FPS,
                    light,
                    &scene,
                    &mut Rng::new(4),
                )
                .unwrap()
            },
            sheet_frames,
            on_sheet,
        );
        let print = jump(
            |light| {
                flat_print_lit(
                    model.frame(),
                    &CHALLENGE,
                    DEFAULT_FPS,
                    light,
                    &scene,
                    &mut Rng::new(4),
                )
                .unwrap()
            },
            sheet_frames,
            on_sheet,
        );
        let genuine = jump(
            |light| {
                genuine_lit(
                    model,
                    &CHALLENGE,
                    DEFAULT_FPS,
                    light,
                    &scene,
                    &mut Rng::new(4),
                )
                .unwrap()
            },
            head_frames,
            |_, pose, p| project_point(model, pose, p).unwrap(),
        );
        eprintln!("jump: screen {screen:.3}, print {print:.3}, genuine {genuine:.3}");
        assert!(genuine > 3.0, "genuine {genuine}");
        assert!(print > 3.0, "print {print}");
        assert!(screen < 1.6, "screen {screen}");
        // And the glass's answer is the same across the face.
        let run = |rgb| {
            screen_lit(
                model.frame(),
                &CHALLENGE,
                DEFAULT_FPS,
                &ScreenLight::constant(rgb),
                &scene,
                &mut Rng::new(4),
            )
            .unwrap()
        };
        let (white, black) = (run(WHITE), run(BLACK));
        let flat = cheek_contrast(
            [&white.sequence.frames, &black.sequence.frames],
            &white.sequence.poses,
            sheet_place(&white.sequence.sheet),
        );
        assert!((flat - 1.0).abs() < 0.08, "screen cheek contrast {flat}");
    }

    #[test]
    fn bad_lights_and_scenes_are_errors() {
        let model = testdata::model();
        let mut light = ScreenLight::constant(WHITE);
        light.size_cm = [0.0, 10.0];
        let scene = dark();
        let mut rng = Rng::new(1);
        assert!(flat_print_lit(model.frame(), &CHALLENGE, 5.0, &light, &scene, &mut rng).is_err());
        assert!(screen_lit(model.frame(), &CHALLENGE, 5.0, &light, &scene, &mut rng).is_err());
        let bad_scene = Scene {
            ambient_lux: f32::NAN,
            ..scene
        };
        assert!(unlit_injection(model, &CHALLENGE, 5.0, &bad_scene, &mut rng).is_err());
        let ok = ScreenLight::constant(WHITE);
        assert!(
            uniform_tint(model, &CHALLENGE, 0.0, &ok, &scene, Tint::AddFace, &mut rng).is_err()
        );
    }
}
