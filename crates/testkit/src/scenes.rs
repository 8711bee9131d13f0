//! Scenes for a file-backed camera (`reclaim_client::frames::FileSource`): a synthetic
//! passport printed with one photo of a person, photographed as a phone would, and that
//! person (or someone else) filmed following each challenge the server can ask for.
//! The app and its tests play these instead of a camera.

use std::path::Path;

use image::RgbImage;
use reclaim_docgen::portrait::printed_portrait;
use reclaim_docgen::sample::random_spec;
use reclaim_docgen::{photograph, render, DocKind, Level, Rng};
use reclaim_document::Date;
use reclaim_facegen::{sequence, HeadModel};
use reclaim_verify::face::DetectedFace;
use reclaim_verify::{load_image_bytes, EngineOptions, FaceEngine, ImageLimits};

/// The challenges a server with two turns can ask for.
pub const CHALLENGES: [[&str; 3]; 2] = [["left", "right", "center"], ["right", "left", "center"]];

/// What to put in front of the camera.
pub struct SceneSpec<'a> {
    /// The photo printed on the ID.
    pub portrait_jpeg: &'a [u8],
    /// The photo the selfie is filmed from (another photo of the same person, or of
    /// someone else for an impostor).
    pub selfie_jpeg: &'a [u8],
    pub surname: &'a str,
    pub given_names: &'a str,
    pub seed: u64,
}

fn face_of(engine: &FaceEngine, jpeg: &[u8]) -> Result<(RgbImage, DetectedFace), String> {
    let photo = load_image_bytes(jpeg, &ImageLimits::default())
        .map_err(|e| e.to_string())?
        .rgb;
    let face = engine
        .analyze(&photo)
        .map_err(|e| e.to_string())?
        .face
        .ok_or("no face in a sample photo")?;
    Ok((photo, face))
}

/// A copy of the scenes directory `from` at `to`: a second camera that sees the same
/// person, and something more (a QR code on another device's screen).
pub fn copy_scenes(from: &Path, to: &Path) -> Result<(), String> {
    let fail = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::create_dir_all(to).map_err(|e| fail(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| fail(from, e))? {
        let path = entry.map_err(|e| fail(from, e))?.path();
        let Some(name) = path.file_name() else {
            continue;
        };
        let dest = to.join(name);
        if path.is_dir() {
            copy_scenes(&path, &dest)?;
        } else {
            std::fs::copy(&path, &dest).map_err(|e| fail(&path, e))?;
        }
    }
    Ok(())
}

/// Writes `id_front.jpg` and `selfie/<challenge>/NNN.jpg` for every challenge into `dir`.
/// The selfie frames are at `sequence::DEFAULT_FPS`: play them at that rate.
pub fn write_scenes(dir: &Path, spec: &SceneSpec<'_>) -> Result<(), String> {
    let engine = FaceEngine::load(EngineOptions::default()).map_err(|e| e.to_string())?;
    let mut rng = Rng::new(spec.seed);
    let (portrait, portrait_face) = face_of(&engine, spec.portrait_jpeg)?;
    let today = Date::today_utc().ok_or("the clock gives no date")?;
    let mut doc = random_spec(
        DocKind::Td3,
        &mut rng,
        printed_portrait(&portrait, portrait_face.bbox, 350, 450, None),
        today,
    );
    doc.holder.surname = spec.surname.into();
    doc.holder.given_names = spec.given_names.into();
    let document = render(&doc).map_err(|e| e.to_string())?;
    let degradation = Level::Mild.degradation(&mut rng, 1600, 1200);
    let id = photograph(&document.front, &degradation, &mut rng)
        .and_then(|p| p.jpeg)
        .ok_or("the passport could not be photographed")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("id_front.jpg"), id).map_err(|e| e.to_string())?;

    let (photo, face) = face_of(&engine, spec.selfie_jpeg)?;
    let model = HeadModel::new(&photo, face.landmarks, face.bbox).map_err(|e| e.to_string())?;
    for challenge in CHALLENGES {
        let actions = sequence::parse_challenge(&challenge.join(",")).map_err(|e| e.to_string())?;
        let frames = sequence::genuine(&model, &actions, sequence::DEFAULT_FPS, &mut rng)
            .map_err(|e| e.to_string())?;
        let out = dir.join("selfie").join(challenge.join("-"));
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        for (i, f) in frames.iter().enumerate() {
            f.image
                .save(out.join(format!("{i:03}.jpg")))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
