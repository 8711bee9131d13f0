//! Replayed and frozen frames: perceptual hashes of each frame and its face, to spot
//! frames seen in an earlier session, and a frame-to-frame change measure, to spot a
//! still image fed in as video.
//!
//! A camera never delivers two identical frames of a live scene (sensor noise alone
//! changes every pixel a little); identical or near-identical consecutive frames mean the
//! "video" was made from a still picture, or frames were duplicated by whoever injected
//! them. The hashes (64-bit difference hashes) are kept by the backend per user, so a
//! capture re-submitted in a later session is recognised even after re-encoding.
//!
//! A recording mirrored left to right answers the mirrored challenge (its "left" becomes
//! "right"), and a difference hash of a mirrored picture has nothing in common with the
//! original's. So each frame's face is hashed twice, as seen and mirrored, and both are
//! compared with the stored hashes; only the first is stored, so the stored format (16
//! hex digits per frame) did not change. How far apart genuine returns and replays land
//! is measured by `reclaim eval-replay` (docs/liveness.md, "Replays").

use image::{imageops, GrayImage, RgbImage};
use zeroize::Zeroize;

use crate::raster::{downscale, to_luma};

/// Side lengths of the grey thumbnail kept per frame for the change measure: small enough
/// that no face can be recognised in it, big enough that a moving head changes it.
pub const THUMB_W: u32 = 32;
pub const THUMB_H: u32 = 24;

/// A frame reduced to a 32x24 grey thumbnail; wiped when dropped, never printed.
#[derive(Clone, PartialEq)]
pub struct Thumbnail(Vec<u8>);

impl Thumbnail {
    pub fn of(image: &RgbImage) -> Option<Thumbnail> {
        if image.width() == 0 || image.height() == 0 {
            return None;
        }
        let small = to_luma(&downscale(image, THUMB_W, THUMB_H));
        (small.dimensions() == (THUMB_W, THUMB_H)).then(|| Thumbnail(small.into_raw()))
    }

    /// Mean absolute difference of two thumbnails, in grey levels (0..255); `None` when
    /// their sizes differ.
    pub fn mean_abs_diff(&self, other: &Thumbnail) -> Option<f32> {
        if self.0.len() != other.0.len() || self.0.is_empty() {
            return None;
        }
        let sum: u64 = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        Some(sum as f32 / self.0.len() as f32)
    }
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Thumbnail({} bytes, redacted)", self.0.len())
    }
}

impl Drop for Thumbnail {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// 64-bit difference hash: the image in grey, shrunk to 9x8, one bit per horizontally
/// adjacent pair (is the left one brighter?). Stable under re-encoding, scaling and
/// small brightness changes; `None` for an empty image.
pub fn dhash(image: &RgbImage) -> Option<u64> {
    if image.width() == 0 || image.height() == 0 {
        return None;
    }
    let small = to_luma(&downscale(image, 9, 8));
    Some(dhash_grey(&small))
}

fn dhash_grey(small: &GrayImage) -> u64 {
    let mut hash = 0u64;
    for y in 0..8u32.min(small.height()) {
        for x in 0..8u32.min(small.width().saturating_sub(1)) {
            let left = small.get_pixel(x, y)[0];
            let right = small.get_pixel(x + 1, y)[0];
            hash = (hash << 1) | u64::from(left > right);
        }
    }
    hash
}

/// The face box enlarged by 20% about its centre, clipped to the image; `None` when
/// nothing of it is inside or the box is not finite.
pub fn face_crop(image: &RgbImage, bbox: [f32; 4]) -> Option<RgbImage> {
    let [x, y, w, h] = bbox;
    if !bbox.iter().all(|v| v.is_finite()) || w <= 0.0 || h <= 0.0 {
        return None;
    }
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (hw, hh) = (w * 0.6, h * 0.6);
    let (iw, ih) = (image.width() as f32, image.height() as f32);
    let x0 = (cx - hw).floor().clamp(0.0, iw);
    let y0 = (cy - hh).floor().clamp(0.0, ih);
    let x1 = (cx + hw).ceil().clamp(0.0, iw);
    let y1 = (cy + hh).ceil().clamp(0.0, ih);
    if x1 - x0 < 1.0 || y1 - y0 < 1.0 {
        return None;
    }
    let (x0, y0, cw, ch) = (x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32);
    Some(imageops::crop_imm(image, x0, y0, cw, ch).to_image())
}

/// The difference hash of the image mirrored left to right (see the module comment).
pub fn dhash_mirrored(image: &RgbImage) -> Option<u64> {
    if image.width() == 0 || image.height() == 0 {
        return None;
    }
    dhash(&imageops::flip_horizontal(image))
}

/// A frame's face hashes: as seen, and mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaceHashes {
    pub seen: Option<u64>,
    pub mirrored: Option<u64>,
}

impl FaceHashes {
    /// Both hashes of a face crop.
    pub fn of(crop: &RgbImage) -> FaceHashes {
        FaceHashes {
            seen: dhash(crop),
            mirrored: dhash_mirrored(crop),
        }
    }

    /// The fewest bits by which either orientation differs from any of `stored`; `None`
    /// without a hash or without anything stored.
    pub fn distance_to(&self, stored: &[u64]) -> Option<u32> {
        [self.seen, self.mirrored]
            .into_iter()
            .flatten()
            .flat_map(|h| stored.iter().map(move |&s| hamming(h, s)))
            .min()
    }
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The hash as the backend stores it: 16 lower-case hex digits.
pub fn to_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// Counts consecutive pairs whose change is below `min_change` grey levels. A pair whose
/// change cannot be measured (a missing thumbnail, sizes differ) counts as static: the
/// check must not pass for lack of data.
pub fn static_pairs(thumbs: &[Option<&Thumbnail>], min_change: f32) -> usize {
    thumbs
        .windows(2)
        .filter(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => !a.mean_abs_diff(b).is_some_and(|d| d >= min_change),
            _ => true,
        })
        .count()
}

/// Index of every frame whose face, as seen or mirrored, is within `max_distance` bits of
/// one of `seen`.
pub fn seen_frames(face_hashes: &[FaceHashes], seen: &[u64], max_distance: u32) -> Vec<usize> {
    face_hashes
        .iter()
        .enumerate()
        .filter(|(_, h)| h.distance_to(seen).is_some_and(|d| d <= max_distance))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::Rgb;

    /// A deterministic textured picture: `seed` changes the pattern completely.
    pub(crate) fn picture(w: u32, h: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v =
                (x * (3 + seed) + y * (7 + 2 * seed) + ((x / 9) * (y / 7) * (seed + 1)) * 13) % 251;
            Rgb([v as u8, (v / 2) as u8, (255 - v) as u8])
        })
    }

    #[test]
    fn identical_images_hash_alike_and_different_ones_do_not() {
        let a = picture(160, 120, 1);
        let b = picture(160, 120, 5);
        let ha = dhash(&a).unwrap();
        assert_eq!(hamming(ha, dhash(&a.clone()).unwrap()), 0);
        let hb = dhash(&b).unwrap();
        assert!(hamming(ha, hb) > 16, "{}", hamming(ha, hb));
        // Re-scaled: still close.
        let bigger = imageops::resize(&a, 320, 240, imageops::FilterType::Triangle);
        assert!(hamming(ha, dhash(&bigger).unwrap()) <= 6);
        assert_eq!(to_hex(0xab), "00000000000000ab");
        assert!(dhash(&RgbImage::new(0, 0)).is_none());
    }

    #[test]
    fn face_crop_is_enlarged_and_clipped() {
        let img = picture(100, 100, 2);
        let crop = face_crop(&img, [40.0, 40.0, 20.0, 20.0]).unwrap();
        assert_eq!(crop.dimensions(), (24, 24));
        let edge = face_crop(&img, [90.0, -5.0, 20.0, 20.0]).unwrap();
        assert!(edge.width() <= 12 && edge.height() <= 17);
        assert!(face_crop(&img, [500.0, 500.0, 20.0, 20.0]).is_none());
        assert!(face_crop(&img, [f32::NAN, 0.0, 20.0, 20.0]).is_none());
        assert!(face_crop(&img, [10.0, 10.0, -5.0, 20.0]).is_none());
    }

    #[test]
    fn frozen_frames_are_counted() {
        let a = Thumbnail::of(&picture(320, 240, 1)).unwrap();
        let a2 = Thumbnail::of(&picture(320, 240, 1)).unwrap();
        let b = Thumbnail::of(&picture(320, 240, 3)).unwrap();
        assert_eq!(a.mean_abs_diff(&a2), Some(0.0));
        assert!(a.mean_abs_diff(&b).unwrap() > 5.0);
        let seq = [Some(&a), Some(&a2), Some(&b), Some(&a), None];
        // a→a2 static, a2→b and b→a change, a→missing counts as static.
        assert_eq!(static_pairs(&seq, 0.5), 2);
        assert!(!format!("{a:?}").contains(", 0"));
    }

    #[test]
    fn frames_seen_before_are_found() {
        let h = |seen, mirrored| FaceHashes { seen, mirrored };
        let hashes = [
            h(Some(0b1111u64), None),
            h(None, None),
            h(Some(u64::MAX), None),
        ];
        assert_eq!(seen_frames(&hashes, &[0b0011], 4), vec![0]);
        assert_eq!(seen_frames(&hashes, &[0], 3), Vec::<usize>::new());
        assert!(seen_frames(&hashes, &[], 4).is_empty());
        // The mirrored hash counts as much as the one seen.
        let mirrored = [h(Some(u64::MAX), Some(0b0111))];
        assert_eq!(seen_frames(&mirrored, &[0b0011], 1), vec![0]);
    }

    #[test]
    fn a_mirrored_picture_matches_through_its_mirrored_hash() {
        let a = picture(160, 120, 4);
        let flipped = imageops::flip_horizontal(&a);
        let stored = [dhash(&a).unwrap()];
        // As seen, the mirror has little in common with the original...
        assert!(hamming(dhash(&flipped).unwrap(), stored[0]) > 16);
        // ...but mirrored back it is the same picture.
        assert_eq!(FaceHashes::of(&flipped).distance_to(&stored), Some(0));
        assert_eq!(FaceHashes::of(&a).distance_to(&[]), None);
        assert_eq!(FaceHashes::of(&RgbImage::new(0, 0)), FaceHashes::default());
    }
}
