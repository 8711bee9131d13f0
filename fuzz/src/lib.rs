//! What more than one fuzz target uses.

use reclaim_verify::ImageLimits;

/// The image limits of the targets that decode images: small ones keep each run fast, and
/// the limit logic is the same at any size.
pub const IMAGE_LIMITS: ImageLimits = ImageLimits {
    max_file_bytes: 1 << 20,
    max_pixels: 1 << 20,
    max_side: 4096,
};
