//! Light for the screen-light challenge: the colours the device's screen shows during the
//! capture ([`ScreenLight`]), the room the person sits in ([`Scene`]), and the physics
//! that turns both into what the face reflects.
//!
//! Units: irradiance in lux, and "radiance" as `albedo x lux` (pi times the luminance in
//! nits of a matte surface), linear light throughout; the camera ([`crate::camera`])
//! turns radiance into pixels with its auto exposure and white balance.
//!
//! # What the model assumes, and what it simplifies
//!
//! - The screen is a Lambertian emitter of `nits` (full white) in the camera's plane,
//!   its top edge just below the camera, sampled as [`SCREEN_SAMPLES`] points (an area
//!   light by quadrature): each point's light falls off with the square of the distance
//!   and with the cosines at the screen and at the surface. A 300-nit laptop screen of
//!   34 x 19 cm gives about 85 lux on a face 42 cm away (white).
//! - Skin is Lambertian with albedo from the photo, re-coloured toward a Fitzpatrick tone
//!   ([`SkinTone`]), plus a weak white specular lobe (normalised Blinn-Phong, Fresnel
//!   reflectance 0.03, exponent 16). No subsurface scattering (real skin blurs the light
//!   a few millimetres and reddens shadows' edges), no shadows cast by the nose on the
//!   cheek from the screen, no inter-reflection.
//! - The photo's pixels are taken as albedo under the scene's ambient light: the photo's
//!   own shading stays, and turning the head changes it only by the ratio of a simple
//!   ambient model (a fill plus one direction) at the turned normal to that at the
//!   photo's normal.
//! - What is not head is a flat wall at `background_m`, facing the camera, except the body
//!   below the chin (a band a few eye distances wide), lit as a chest 8 cm behind the
//!   face. The head model's outline is wider than the face in places, and the background
//!   inside it is lit as head (a faint halo in a dark room).
//! - Latency is one number per capture (display + camera pipeline); a frame integrates
//!   the screen's colour over its exposure (global shutter; no rolling-shutter bands).
//! - Colours are linear sRGB primaries; the screen's and the camera's spectra are not
//!   modelled (a real screen's red times a real sensor's red is not sRGB red).
//! - Auto exposure and white balance are first-order followers ([`crate::camera::AutoCamera`])
//!   without exposure-time limits or frame drops in the dark.
//!
//! So an evaluation on these sequences tests a light check against known physics and
//! known attacks; it says nothing yet about real skin, screens and webcams.

use reclaim_docgen::Rng;

use crate::FacegenError;

/// Points the screen is sampled at (a 5 x 3 grid over its area).
pub const SCREEN_SAMPLES: usize = 15;

/// What the app shows before the first phase and after the schedule ends: a neutral
/// grey, sRGB 128 (linear 0.216).
pub const IDLE_RGB: [f32; 3] = [0.216, 0.216, 0.216];

/// Interpupillary distance of an adult, metres (about 63 mm: Dodgson, "Variation and
/// extrema of human interpupillary distance", SPIE 5291, 2004). The eye landmarks are
/// this far apart, which sets the scale of the head.
pub const EYE_DISTANCE_M: f64 = 0.063;

/// One phase of the screen's schedule: from `start_ms` (capture clock) until the next
/// phase's start, the screen shows `rgb` (linear, 0 to 1 each).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    pub start_ms: u64,
    pub rgb: [f32; 3],
}

/// The screen as a light: its colour schedule and the physical screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenLight {
    /// In order of start; the last lasts until `end_ms`.
    pub phases: Vec<Phase>,
    pub end_ms: u64,
    /// Shown before the first phase and from `end_ms` on.
    pub idle_rgb: [f32; 3],
    /// Luminance of full white, cd/m2 (laptops 200-400, phones 400-800).
    pub nits: f32,
    /// Width and height of the screen, cm.
    pub size_cm: [f32; 2],
    /// How far below the camera the screen's top edge is, cm (a laptop's bezel: 1-2).
    pub top_below_camera_cm: f32,
    /// Share of the screen's area that shows the colour (1: full screen; a wide border
    /// around the preview: 0.5-0.7); the rest shows the preview, taken as idle grey.
    pub lit_share: f32,
}

impl ScreenLight {
    /// A 15.6-inch laptop screen (34 x 19 cm, 300 nits, top edge 1.5 cm below the
    /// camera) filled with the schedule.
    pub fn laptop(phases: Vec<Phase>, end_ms: u64) -> ScreenLight {
        ScreenLight {
            phases,
            end_ms,
            idle_rgb: IDLE_RGB,
            nits: 300.0,
            size_cm: [34.0, 19.0],
            top_below_camera_cm: 1.5,
            lit_share: 1.0,
        }
    }

    /// A laptop screen of `nits` showing `steps` (each a duration in milliseconds and a
    /// linear colour) one after the other from 0 ms on the capture's clock: a session's
    /// drawn light as the app shows it from its first frame.
    pub fn from_steps(steps: &[(u32, [f32; 3])], nits: f32) -> ScreenLight {
        let mut start_ms = 0u64;
        let phases = steps
            .iter()
            .map(|&(ms, rgb)| {
                let phase = Phase { start_ms, rgb };
                start_ms += u64::from(ms);
                phase
            })
            .collect();
        ScreenLight {
            nits,
            ..ScreenLight::laptop(phases, start_ms)
        }
    }

    /// One colour for the whole capture (tests: white against dark).
    pub fn constant(rgb: [f32; 3]) -> ScreenLight {
        ScreenLight {
            idle_rgb: rgb,
            ..ScreenLight::laptop(vec![Phase { start_ms: 0, rgb }], u64::MAX)
        }
    }

    /// A random schedule from `start_ms` to `end_ms` (at most 10000 phases): phases of
    /// 350-600 ms, each a colour from a palette of primaries, secondaries, white and black
    /// (never the same twice in a row), on a laptop screen of 200-400 nits. The server's own draw is the
    /// protocol's business; this one is for tests and evaluation.
    pub fn random(start_ms: u64, end_ms: u64, rng: &mut Rng) -> ScreenLight {
        const PALETTE: [[f32; 3]; 8] = [
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 1.0, 1.0],
            [1.0, 0.0, 1.0],
            [1.0, 1.0, 0.0],
            [1.0, 1.0, 1.0],
            [0.0, 0.0, 0.0],
        ];
        let mut phases = Vec::new();
        let mut t = start_ms;
        let mut last = usize::MAX;
        // At most 10000 phases (what `check` accepts), however long the span asked.
        while t < end_ms && phases.len() < 10_000 {
            let mut k = rng.below(PALETTE.len());
            if k == last {
                k = (k + 1 + rng.below(PALETTE.len() - 1)) % PALETTE.len();
            }
            last = k;
            phases.push(Phase {
                start_ms: t,
                rgb: PALETTE[k],
            });
            t += rng.range(350.0, 600.0) as u64;
        }
        ScreenLight {
            nits: rng.range(200.0, 400.0),
            ..ScreenLight::laptop(phases, end_ms)
        }
    }

    /// Checks the numbers before anything is rendered.
    pub fn check(&self) -> Result<(), FacegenError> {
        let bad = |what: &str| Err(FacegenError::BadParameter(format!("screen light: {what}")));
        let rgb_ok = |c: &[f32; 3]| c.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v));
        if self.phases.len() > 10_000 {
            return bad("more than 10000 phases");
        }
        if !self
            .phases
            .windows(2)
            .all(|w| w[0].start_ms < w[1].start_ms)
        {
            return bad("phases not in increasing order of start");
        }
        if !self.phases.iter().all(|p| rgb_ok(&p.rgb)) || !rgb_ok(&self.idle_rgb) {
            return bad("a colour outside 0..1");
        }
        if !(self.nits.is_finite() && (0.0..=5000.0).contains(&self.nits)) {
            return bad("nits outside 0..5000");
        }
        let size_ok = self
            .size_cm
            .iter()
            .all(|v| v.is_finite() && (1.0..=300.0).contains(v));
        let below_ok = self.top_below_camera_cm.is_finite()
            && (-300.0..=300.0).contains(&self.top_below_camera_cm);
        let share_ok = self.lit_share.is_finite() && (0.0..=1.0).contains(&self.lit_share);
        if !size_ok || !below_ok || !share_ok {
            return bad("screen size (1-300 cm), position or lit share (0-1) out of range");
        }
        Ok(())
    }

    /// The colour the whole screen emits at `t_ms` (capture clock), lit share mixed
    /// with the idle grey of the preview.
    pub fn colour_at(&self, t_ms: f64) -> [f32; 3] {
        let shown = self.shown_at(t_ms);
        let s = self.lit_share;
        std::array::from_fn(|c| s * shown[c] + (1.0 - s) * self.idle_rgb[c])
    }

    fn shown_at(&self, t_ms: f64) -> [f32; 3] {
        if t_ms < 0.0 || t_ms >= self.end_ms as f64 {
            return self.idle_rgb;
        }
        let i = self.phases.partition_point(|p| (p.start_ms as f64) <= t_ms);
        match i.checked_sub(1) {
            Some(k) => self.phases[k].rgb,
            None => self.idle_rgb,
        }
    }

    /// The colour a frame stamped `timestamp_ms` saw: the screen's colour averaged over
    /// the exposure, which ended `latency_ms` before the stamp (what the screen showed
    /// then reached the sensor now) and lasted `exposure_ms`. A frame whose exposure
    /// straddles a change blends the two colours by time.
    pub fn seen(&self, timestamp_ms: u64, latency_ms: f32, exposure_ms: f32) -> [f32; 3] {
        let end = timestamp_ms as f64 - f64::from(latency_ms);
        let len = f64::from(exposure_ms).max(0.0);
        if len < 1e-3 {
            return self.colour_at(end);
        }
        let start = end - len;
        // Exact integral of a piecewise-constant colour: cut at every change inside.
        let mut cuts = vec![start];
        let mut changes: Vec<f64> = self.phases.iter().map(|p| p.start_ms as f64).collect();
        changes.push(self.end_ms as f64);
        changes.push(0.0);
        cuts.extend(changes.into_iter().filter(|&c| c > start && c < end));
        cuts.sort_by(f64::total_cmp);
        cuts.push(end);
        let mut acc = [0.0f64; 3];
        for w in cuts.windows(2) {
            let c = self.colour_at((w[0] + w[1]) / 2.0);
            for k in 0..3 {
                acc[k] += f64::from(c[k]) * (w[1] - w[0]);
            }
        }
        acc.map(|v| (v / len) as f32)
    }

    /// The screen's sample points in camera coordinates (metres; X right, Y down, Z
    /// away), each with its share of `luminance x area` (cd, for full white).
    pub(crate) fn samples(&self) -> Vec<([f64; 3], f64)> {
        let [w, h] = self.size_cm.map(|v| f64::from(v) / 100.0);
        let top = f64::from(self.top_below_camera_cm) / 100.0;
        let (nx, ny) = (5, 3);
        let weight = f64::from(self.nits) * w * h / f64::from(nx * ny);
        let mut out = Vec::with_capacity(SCREEN_SAMPLES);
        for j in 0..ny {
            for i in 0..nx {
                let x = (f64::from(i) + 0.5) / f64::from(nx) * w - w / 2.0;
                let y = top + (f64::from(j) + 0.5) / f64::from(ny) * h;
                out.push(([x, y, 0.0], weight));
            }
        }
        out
    }
}

/// Irradiance (lux) that a screen showing full white puts on a surface at `p` with unit
/// normal `n` (toward the outside), all in one frame of reference (metres); the screen
/// faces `screen_normal`. Each point: `I cos(at screen) cos(at surface) / d^2`.
pub(crate) fn screen_irradiance(
    samples: &[([f64; 3], f64)],
    screen_normal: [f64; 3],
    p: [f64; 3],
    n: [f64; 3],
) -> f64 {
    let mut e = 0.0;
    for &(s, weight) in samples {
        let d = [s[0] - p[0], s[1] - p[1], s[2] - p[2]];
        let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        if d2 < 1e-6 {
            continue;
        }
        let inv = 1.0 / d2.sqrt();
        let cos_surface = (n[0] * d[0] + n[1] * d[1] + n[2] * d[2]) * inv;
        let cos_screen =
            -(screen_normal[0] * d[0] + screen_normal[1] * d[1] + screen_normal[2] * d[2]) * inv;
        if cos_surface > 0.0 && cos_screen > 0.0 {
            e += weight * cos_surface * cos_screen / d2;
        }
    }
    e
}

/// Fresnel reflectance of skin at normal incidence (refractive index about 1.44).
pub const SKIN_SPECULAR: f32 = 0.03;
/// Blinn-Phong exponent of the skin's specular lobe (a rough surface: Torrance-Sparrow
/// roughness about 0.35, as fitted to faces by Weyrich et al., "Analysis of human faces
/// using a measurement-based skin reflectance model", SIGGRAPH 2006).
pub const SKIN_SHININESS: f64 = 16.0;

/// Specular radiance (albedo x lux units) that the screen's white puts toward a viewer
/// in direction `v` from `p` (unit), for reflectance `ks` at normal incidence.
pub(crate) fn screen_specular(
    samples: &[([f64; 3], f64)],
    screen_normal: [f64; 3],
    p: [f64; 3],
    n: [f64; 3],
    v: [f64; 3],
    ks: f64,
) -> f64 {
    if ks <= 0.0 {
        return 0.0;
    }
    let mut e = 0.0;
    for &(s, weight) in samples {
        let d = [s[0] - p[0], s[1] - p[1], s[2] - p[2]];
        let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        if d2 < 1e-6 {
            continue;
        }
        let inv = 1.0 / d2.sqrt();
        let l = [d[0] * inv, d[1] * inv, d[2] * inv];
        let cos_surface = n[0] * l[0] + n[1] * l[1] + n[2] * l[2];
        let cos_screen =
            -(screen_normal[0] * l[0] + screen_normal[1] * l[1] + screen_normal[2] * l[2]);
        if cos_surface <= 0.0 || cos_screen <= 0.0 {
            continue;
        }
        let hv = [l[0] + v[0], l[1] + v[1], l[2] + v[2]];
        let hn = (hv[0] * hv[0] + hv[1] * hv[1] + hv[2] * hv[2]).sqrt();
        if hn < 1e-9 {
            continue;
        }
        let nh = ((n[0] * hv[0] + n[1] * hv[1] + n[2] * hv[2]) / hn).max(0.0);
        let lobe = (SKIN_SHININESS + 8.0) / 8.0 * nh.powf(SKIN_SHININESS);
        e += weight * cos_surface * cos_screen / d2 * lobe;
    }
    ks * e
}

/// The room's light.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// A dark room, lit by a lamp elsewhere: 5-20 lux on the face.
    Dark,
    /// An office: 300-500 lux (the usual recommendation for desk work, EN 12464-1).
    Office,
    /// Beside a window in daylight: 1000-3000 lux.
    Daylight,
}

impl Room {
    pub const ALL: [Room; 3] = [Room::Dark, Room::Office, Room::Daylight];

    /// The range of illuminance on the face, lux.
    pub fn lux(self) -> [f32; 2] {
        match self {
            Room::Dark => [5.0, 20.0],
            Room::Office => [300.0, 500.0],
            Room::Daylight => [1000.0, 3000.0],
        }
    }
}

/// A Fitzpatrick skin type, as a skin albedo.
///
/// Fitzpatrick types are a self-report of how skin tans and burns, not a colour; the
/// colours here go through the individual typology angle (ITA = atan((L* - 50) / b*),
/// Chardon et al., Int. J. Cosmet. Sci. 13, 1991) and its six bands (very light > 55,
/// light 41-55, intermediate 28-41, tan 10-28, brown -30 to 10, dark < -30 degrees; Del
/// Bino et al., Pigment Cell Res. 19, 2006), matched to types I to VI in order, a
/// conventional and only approximate correspondence. Each type's CIELAB colour is a
/// representative one chosen inside its band with a* and b* in the range measured on
/// faces (Xiao et al., "Characterising the variations in ethnic skin colours", Skin Res.
/// Technol. 23, 2017: a* about 8-16, b* 13-22), converted to linear sRGB under D65.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkinTone {
    I,
    II,
    III,
    IV,
    V,
    VI,
}

impl SkinTone {
    pub const ALL: [SkinTone; 6] = [
        SkinTone::I,
        SkinTone::II,
        SkinTone::III,
        SkinTone::IV,
        SkinTone::V,
        SkinTone::VI,
    ];

    /// The representative CIELAB colour (L*, a*, b*; D65).
    pub fn lab(self) -> [f32; 3] {
        match self {
            SkinTone::I => [72.0, 8.0, 13.0],
            SkinTone::II => [65.0, 10.0, 16.0],
            SkinTone::III => [60.0, 11.0, 17.0],
            SkinTone::IV => [55.0, 12.0, 19.0],
            SkinTone::V => [45.0, 12.0, 18.0],
            SkinTone::VI => [35.0, 10.0, 14.0],
        }
    }

    /// Individual typology angle of [`SkinTone::lab`], degrees.
    pub fn ita_deg(self) -> f32 {
        let [l, _, b] = self.lab();
        ((l - 50.0) / b).atan().to_degrees()
    }

    /// Diffuse albedo per linear sRGB channel.
    pub fn albedo(self) -> [f32; 3] {
        lab_to_linear_srgb(self.lab())
    }
}

/// CIELAB (D65) to linear sRGB.
pub fn lab_to_linear_srgb([l, a, b]: [f32; 3]) -> [f32; 3] {
    let finv = |t: f32| {
        let d = 6.0 / 29.0;
        if t > d {
            t * t * t
        } else {
            3.0 * d * d * (t - 4.0 / 29.0)
        }
    };
    let fy = (l + 16.0) / 116.0;
    let x = 0.950_47 * finv(fy + a / 500.0);
    let y = finv(fy);
    let z = 1.088_83 * finv(fy - b / 200.0);
    [
        3.2406 * x - 1.5372 * y - 0.4986 * z,
        -0.9689 * x + 1.8758 * y + 0.0415 * z,
        0.0557 * x - 0.2040 * y + 1.0570 * z,
    ]
    .map(|v| v.max(0.0))
}

/// The room: ambient light, the skin, the distance to the wall behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scene {
    /// Illuminance of the room's light on the face, lux.
    pub ambient_lux: f32,
    /// Unit vector toward the room's main light (camera coordinates: X right, Y down, Z
    /// away from the camera), e.g. from above and one side.
    pub ambient_dir: [f32; 3],
    /// Share of the ambient light that comes from all around rather than from
    /// `ambient_dir` (0-1).
    pub ambient_fill: f32,
    /// Re-colour the photo's skin toward this tone (None: keep the photo's colours).
    pub skin: Option<SkinTone>,
    /// Skin's specular reflectance (0 for a purely diffuse face; [`SKIN_SPECULAR`]).
    pub specular: f32,
    /// Distance from the camera to the wall behind the person, metres.
    pub background_m: f32,
}

impl Scene {
    /// A room of this kind: illuminance drawn in its range, the main light from above
    /// and to one side, the wall 1.5-3 m away, the photo's own skin.
    pub fn room(room: Room, rng: &mut Rng) -> Scene {
        let [lo, hi] = room.lux();
        let side = rng.range(-0.6, 0.6);
        let up = rng.range(0.5, 0.9);
        let front = rng.range(0.2, 0.6);
        let n = (side * side + up * up + front * front).sqrt();
        Scene {
            ambient_lux: rng.range(lo, hi),
            ambient_dir: [side / n, -up / n, -front / n],
            ambient_fill: rng.range(0.4, 0.7),
            skin: None,
            specular: SKIN_SPECULAR,
            background_m: rng.range(1.5, 3.0),
        }
    }

    /// Checks the numbers before anything is rendered.
    pub fn check(&self) -> Result<(), FacegenError> {
        let dir_len = self.ambient_dir.iter().map(|v| v * v).sum::<f32>().sqrt();
        let ok = self.ambient_lux.is_finite()
            && (0.0..=200_000.0).contains(&self.ambient_lux)
            && dir_len.is_finite()
            && dir_len > 0.1
            && (0.0..=1.0).contains(&self.ambient_fill)
            && (0.0..=1.0).contains(&self.specular)
            && self.background_m.is_finite()
            && (0.3..=1000.0).contains(&self.background_m);
        if ok {
            Ok(())
        } else {
            Err(FacegenError::BadParameter(format!("scene {self:?}")))
        }
    }
}

/// sRGB-encoded byte to linear light.
pub fn srgb_to_linear(v: u8) -> f32 {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let c = i as f32 / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
    })[usize::from(v)]
}

/// Linear light (clipped to 0..1) to an sRGB-encoded byte.
pub fn linear_to_srgb(v: f32) -> u8 {
    const N: usize = 4096;
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=N)
            .map(|i| {
                let c = i as f32 / N as f32;
                let s = if c <= 0.003_130_8 {
                    c * 12.92
                } else {
                    1.055 * c.powf(1.0 / 2.4) - 0.055
                };
                (s * 255.0).round().clamp(0.0, 255.0) as u8
            })
            .collect()
    });
    if !v.is_finite() || v <= 0.0 {
        return 0;
    }
    // Finely spaced near black, where the curve is steep.
    if v < 0.01 {
        let s = if v <= 0.003_130_8 {
            v * 12.92
        } else {
            1.055 * v.powf(1.0 / 2.4) - 0.055
        };
        return (s * 255.0).round().clamp(0.0, 255.0) as u8;
    }
    table[((v.min(1.0) * N as f32).round() as usize).min(N)]
}

/// An image in linear light, any positive scale (radiance).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<[f32; 3]>,
}

impl LinearImage {
    /// The sRGB image's pixels in linear light (0..1).
    pub fn from_srgb(img: &image::RgbImage) -> LinearImage {
        LinearImage {
            width: img.width(),
            height: img.height(),
            pixels: img.pixels().map(|p| p.0.map(srgb_to_linear)).collect(),
        }
    }

    /// Bilinear sample with the edges repeated.
    pub(crate) fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let (w, h) = (self.width, self.height);
        let x = x.clamp(0.0, (w - 1) as f32);
        let y = y.clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |xx: u32, yy: u32| self.pixels[(yy * w + xx) as usize];
        let (a, b, c, d) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
        std::array::from_fn(|i| {
            let top = a[i] * (1.0 - fx) + b[i] * fx;
            let bottom = c[i] * (1.0 - fx) + d[i] * fx;
            top * (1.0 - fy) + bottom * fy
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_laptop_screen_gives_tens_of_lux_on_a_face() {
        let light = ScreenLight::laptop(vec![], 0);
        let samples = light.samples();
        assert_eq!(samples.len(), SCREEN_SAMPLES);
        let e = screen_irradiance(
            &samples,
            [0.0, 0.0, 1.0],
            [0.0, 0.0, 0.42],
            [0.0, 0.0, -1.0],
        );
        assert!((50.0..=150.0).contains(&e), "{e} lux");
        // Inverse square: the wall at 2 m gets a small fraction.
        let wall = screen_irradiance(&samples, [0.0, 0.0, 1.0], [0.0, 0.0, 2.0], [0.0, 0.0, -1.0]);
        assert!(wall < 0.06 * e, "{wall} vs {e}");
        // Turned away from the screen: nothing.
        let away = screen_irradiance(&samples, [0.0, 0.0, 1.0], [0.0, 0.0, 0.42], [0.0, 0.0, 1.0]);
        assert_eq!(away, 0.0);
    }

    #[test]
    fn the_schedule_is_read_with_latency_and_blended_over_the_exposure() {
        let red = [1.0, 0.0, 0.0];
        let blue = [0.0, 0.0, 1.0];
        let light = ScreenLight::laptop(
            vec![
                Phase {
                    start_ms: 100,
                    rgb: red,
                },
                Phase {
                    start_ms: 500,
                    rgb: blue,
                },
            ],
            900,
        );
        light.check().unwrap();
        assert_eq!(light.colour_at(50.0), IDLE_RGB);
        assert_eq!(light.colour_at(100.0), red);
        assert_eq!(light.colour_at(899.0), blue);
        assert_eq!(light.colour_at(900.0), IDLE_RGB);
        // Stamped at 600 with 100 ms latency: the exposure (20 ms) ended at 500.
        assert_eq!(light.seen(600, 100.0, 20.0), red);
        assert_eq!(light.seen(620, 100.0, 20.0), blue);
        let half = light.seen(610, 100.0, 20.0);
        assert!((half[0] - 0.5).abs() < 1e-4 && (half[2] - 0.5).abs() < 1e-4);
        let mut odd = light.clone();
        odd.phases.swap(0, 1);
        assert!(odd.check().is_err());
        odd = light.clone();
        odd.nits = f32::NAN;
        assert!(odd.check().is_err());
    }

    #[test]
    fn random_schedules_have_phases_of_350_to_600_ms() {
        for seed in 0..20 {
            let light = ScreenLight::random(0, 4000, &mut Rng::new(seed));
            light.check().unwrap();
            for w in light.phases.windows(2) {
                let d = w[1].start_ms - w[0].start_ms;
                assert!((349..=600).contains(&d), "{d}");
                assert_ne!(w[0].rgb, w[1].rgb);
            }
        }
    }

    #[test]
    fn skin_tones_fall_in_their_ita_bands_and_darken_in_order() {
        let bands = [
            (55.0, 90.0),
            (41.0, 55.0),
            (28.0, 41.0),
            (10.0, 28.0),
            (-30.0, 10.0),
            (-90.0, -30.0),
        ];
        let mut last = f32::INFINITY;
        for (tone, (lo, hi)) in SkinTone::ALL.into_iter().zip(bands) {
            let ita = tone.ita_deg();
            assert!(ita > lo && ita < hi, "{tone:?}: {ita}");
            let a = tone.albedo();
            let y = 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2];
            assert!(y < last && y > 0.03, "{tone:?}: {y}");
            // Skin is redder than it is blue.
            assert!(a[0] > a[1] && a[1] > a[2], "{tone:?}: {a:?}");
            last = y;
        }
        // L* 100 is the white point.
        let white = lab_to_linear_srgb([100.0, 0.0, 0.0]);
        assert!(white.iter().all(|v| (v - 1.0).abs() < 0.01), "{white:?}");
    }

    #[test]
    fn srgb_round_trips() {
        for v in 0..=255u8 {
            assert_eq!(linear_to_srgb(srgb_to_linear(v)), v);
        }
    }
}
