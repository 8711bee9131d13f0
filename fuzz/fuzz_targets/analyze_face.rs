//! Any decodable image through the whole face path: detection, alignment, quality checks
//! and embedding. The models are loaded once; every input must give an analysis or a
//! typed error.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use reclaim_fuzz::IMAGE_LIMITS;
use reclaim_verify::{load_image_bytes, EngineOptions, FaceEngine};

fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| match FaceEngine::load(EngineOptions::default()) {
        Ok(engine) => engine,
        Err(e) => panic!("the fuzz target needs the models: {e}"),
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = load_image_bytes(data, &IMAGE_LIMITS) {
        if let Ok(analysis) = engine().analyze(&image.rgb) {
            assert!(analysis.faces_found > 0 || analysis.face.is_none());
            if let Some(q) = &analysis.quality {
                assert!(q.sharpness.is_finite() && q.brightness.is_finite());
            }
        }
    }
});
