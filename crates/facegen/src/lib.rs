//! Synthetic selfie sequences for Reclaim's liveness tests.
//!
//! Liveness cannot be tested on recordings of real users, so the engine is tested on
//! sequences made here from a single real photo: a [`HeadModel`] lifts the face onto a
//! generic 3D head and [`render`]s it at any pose, [`sequence::genuine`] turns a challenge
//! ("left, right, center") into a human-looking clip, and [`attack`] makes the
//! presentation attacks a liveness check must reject: still photos, prints and screens
//! waved in front of the camera, replays, face swaps and too-perfect puppets. A seed names
//! a sequence exactly, so a failing case can be reproduced anywhere.
//!
//! For the screen-light challenge, [`genuine_lit`] lights the same head physically by the
//! room and by the device's screen flashing a schedule of colours ([`light`]: an area
//! light with inverse-square falloff, Lambertian skin of a chosen Fitzpatrick tone, a weak
//! specular lobe, display latency, and a webcam whose auto exposure and white balance
//! follow slowly), and [`lit_attack`] makes the attacks on it: an unlit injected video,
//! a uniform tint of the known sequence, and the print and screen replays under the
//! light. [`light`]'s module documentation says what the model leaves out.
//!
//! Coordinates are image pixels (x right, y down); 3D points are in camera coordinates
//! (X right, Y down, Z away from the camera), in units of one pixel at the face's distance.

pub mod attack;
pub mod camera;
mod face_mesh;
pub mod head;
pub mod light;
pub mod lit;
pub mod lit_attack;
pub mod sequence;

use std::fmt;

pub use head::{project_landmarks, project_point, render, Framing, HeadModel, Pose};
pub use light::{Phase, Room, Scene, ScreenLight, SkinTone};
pub use lit::{genuine_lit, LitSequence};
pub use sequence::{genuine, Action, Frame};

/// Why a head model or a sequence could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum FacegenError {
    /// The photo is smaller than the minimum (16 x 16 pixels).
    ImageTooSmall { width: u32, height: u32 },
    /// A landmark or the face box is not a finite number, or the box is empty.
    BadGeometry(String),
    /// A landmark lies outside the photo.
    LandmarkOutsideImage { index: usize, x: f32, y: f32 },
    /// The eyes are too close together to model a head (pixels between them).
    FaceTooSmall { eye_distance: f32 },
    /// A challenge word other than left, right, up, down or center.
    UnknownAction(String),
    /// An output size or frame rate that cannot be used.
    BadParameter(String),
}

impl fmt::Display for FacegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FacegenError::ImageTooSmall { width, height } => {
                write!(f, "image {width}x{height} is too small (minimum 16x16)")
            }
            FacegenError::BadGeometry(what) => write!(f, "bad face geometry: {what}"),
            FacegenError::LandmarkOutsideImage { index, x, y } => {
                write!(f, "landmark {index} at ({x}, {y}) is outside the image")
            }
            FacegenError::FaceTooSmall { eye_distance } => write!(
                f,
                "eyes are {eye_distance:.1} px apart; at least 8 px are needed"
            ),
            FacegenError::UnknownAction(word) => write!(
                f,
                "unknown action {word:?} (expected left, right, up, down or center)"
            ),
            FacegenError::BadParameter(what) => write!(f, "bad parameter: {what}"),
        }
    }
}

impl std::error::Error for FacegenError {}

#[cfg(test)]
pub(crate) mod testdata {
    //! A real face for the tests, with the detector's landmarks written down once so the
    //! tests need no model.

    use std::sync::OnceLock;

    use image::RgbImage;
    use reclaim_docgen::homography::Homography;

    use crate::{Framing, HeadModel};

    /// How far (pixels) the nose lands from where the homography through the other four
    /// landmarks (eyes, mouth corners) puts it: zero for anything flat.
    pub fn nose_off_plane(before: [[f64; 2]; 5], after: [[f64; 2]; 5]) -> f64 {
        let pick = |l: [[f64; 2]; 5]| [l[0], l[1], l[3], l[4]];
        let h = Homography::from_points(&pick(before), &pick(after)).unwrap();
        let p = h.apply(before[2]);
        ((p[0] - after[2][0]).powi(2) + (p[1] - after[2][1]).powi(2)).sqrt()
    }

    pub fn wide(l: [[f32; 2]; 5]) -> [[f64; 2]; 5] {
        l.map(|[x, y]| [f64::from(x), f64::from(y)])
    }

    pub const LANDMARKS: [[f32; 2]; 5] = [
        [432.2, 214.1],
        [552.6, 216.1],
        [487.7, 276.0],
        [437.7, 317.5],
        [538.4, 324.1],
    ];
    pub const FACE_BOX: [f32; 4] = [372.2, 82.8, 240.8, 328.5];

    pub fn photo() -> &'static RgbImage {
        static PHOTO: OnceLock<RgbImage> = OnceLock::new();
        PHOTO.get_or_init(|| {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/data/faces/obama-1.jpg"
            );
            image::open(path).unwrap().into_rgb8()
        })
    }

    /// The face framed as a small (320x240) selfie, to keep the tests quick.
    pub fn model() -> &'static HeadModel {
        static MODEL: OnceLock<HeadModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            HeadModel::with_framing(
                photo(),
                LANDMARKS,
                FACE_BOX,
                Framing::Selfie {
                    width: 320,
                    height: 240,
                },
            )
            .unwrap()
        })
    }
}
