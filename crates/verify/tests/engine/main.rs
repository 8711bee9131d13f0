//! The engine on real photographs and on synthetic documents: one test binary, one module
//! per capability, models loaded once.

mod barcodes;
mod documents;
mod faces;
mod judge;
mod light;
mod liveness;
mod replay;

use std::path::PathBuf;
use std::sync::OnceLock;

use reclaim_verify::face::DetectedFace;
use reclaim_verify::{EngineOptions, FaceEngine};

pub fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| FaceEngine::load(EngineOptions::default()).expect("models load"))
}

pub fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(path)
}

/// A photograph from `tests/data/faces`, by its name without `.jpg`.
pub fn face_photo(name: &str) -> image::RgbImage {
    image::open(data(&format!("faces/{name}.jpg")))
        .expect("opens")
        .into_rgb8()
}

/// The face the engine finds in `image`, which the test knows holds one.
pub fn the_face(image: &image::RgbImage) -> DetectedFace {
    engine()
        .analyze(image)
        .expect("analyses")
        .face
        .expect("a face")
}

/// A printed portrait made from a real photo, for synthetic documents.
pub fn portrait() -> image::RgbImage {
    static PORTRAIT: OnceLock<image::RgbImage> = OnceLock::new();
    PORTRAIT
        .get_or_init(|| {
            let photo = face_photo("ardern-1");
            let face = the_face(&photo);
            reclaim_docgen::portrait::printed_portrait(&photo, face.bbox, 350, 450, None)
        })
        .clone()
}
