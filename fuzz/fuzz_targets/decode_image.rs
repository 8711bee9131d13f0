//! Any bytes through the image loader and the detector's input preparation: an error or
//! an upright RGB image, never a panic, never an allocation past the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reclaim_fuzz::IMAGE_LIMITS;
use reclaim_verify::face::FaceDetector;
use reclaim_verify::load_image_bytes;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = load_image_bytes(data, &IMAGE_LIMITS) {
        let (w, h) = image.rgb.dimensions();
        assert!(w > 0 && h > 0 && u64::from(w) * u64::from(h) <= IMAGE_LIMITS.max_pixels);
        let (tensor, scale) = FaceDetector::model_input(&image.rgb, 320);
        assert_eq!(tensor.len(), 3 * 320 * 320);
        assert!(scale > 0.0 && scale <= 1.0);
    }
});
