//! Any bytes through the image loader and the detector's input preparation: an error or
//! an upright RGB image, never a panic, never an allocation past the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reclaim_verify::face::FaceDetector;
use reclaim_verify::{load_image_bytes, ImageLimits};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the limit logic is the same at any size.
    let limits = ImageLimits {
        max_file_bytes: 1 << 20,
        max_pixels: 1 << 20,
        max_side: 4096,
    };
    if let Ok(image) = load_image_bytes(data, &limits) {
        let (w, h) = image.rgb.dimensions();
        assert!(w > 0 && h > 0 && u64::from(w) * u64::from(h) <= limits.max_pixels);
        let (tensor, scale) = FaceDetector::model_input(&image.rgb, 320);
        assert_eq!(tensor.len(), 3 * 320 * 320);
        assert!(scale > 0.0 && scale <= 1.0);
    }
});
