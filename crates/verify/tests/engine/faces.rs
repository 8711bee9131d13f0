//! The face engine on real photographs: matching, every quality reason code, and the
//! formats phones and scanners produce.

use image::{imageops, DynamicImage, Rgb, RgbImage};
use reclaim_verify::{
    load_image_bytes, load_image_file, FaceAnalysis, ImageLimits, ReasonCode, FACE_MATCH_THRESHOLD,
};

use crate::{data, engine};

fn photo(name: &str) -> RgbImage {
    load_image_file(&data(&format!("faces/{name}.jpg")), &ImageLimits::default())
        .expect("fixture loads")
        .rgb
}

fn analyze(img: &RgbImage) -> FaceAnalysis {
    engine().analyze(img).expect("analysis runs")
}

fn score(a: &FaceAnalysis, b: &FaceAnalysis) -> f32 {
    a.embedding
        .as_ref()
        .zip(b.embedding.as_ref())
        .map(|(x, y)| x.cosine(y))
        .expect("both have embeddings")
}

#[test]
fn same_person_matches_and_different_people_do_not() {
    let obama1 = analyze(&photo("obama-1"));
    let obama2 = analyze(&photo("obama-2"));
    let biden = analyze(&photo("biden-1"));
    assert!(obama1.usable(), "{:?}", obama1.reasons);
    let verdict = engine().compare(&obama1, &obama2);
    assert!(verdict.same_person, "{verdict:?}");
    assert!(verdict.score.unwrap() >= FACE_MATCH_THRESHOLD);
    let verdict = engine().compare(&obama1, &biden);
    assert!(!verdict.same_person);
    assert_eq!(verdict.reasons, vec![ReasonCode::FaceMismatch]);
}

#[test]
fn landmarks_are_in_the_persons_order() {
    let a = analyze(&photo("ardern-1"));
    let face = a.face.unwrap();
    let [right_eye, left_eye, nose, right_mouth, left_mouth] = face.landmarks;
    // The person's right eye is on the image's left.
    assert!(right_eye[0] < left_eye[0]);
    assert!(right_mouth[0] < left_mouth[0]);
    assert!(nose[1] > right_eye[1] && nose[1] < right_mouth[1]);
    let [x, y, w, h] = face.bbox;
    for p in face.landmarks {
        assert!(p[0] > x && p[0] < x + w && p[1] > y && p[1] < y + h);
    }
}

#[test]
fn no_face_in_a_landscape_or_a_tiny_image() {
    let gradient = RgbImage::from_fn(640, 480, |x, y| Rgb([(x / 3) as u8, (y / 2) as u8, 90]));
    assert_eq!(analyze(&gradient).reasons, vec![ReasonCode::NoFace]);
    let tiny = imageops::resize(&photo("obama-1"), 8, 10, imageops::FilterType::Triangle);
    assert_eq!(analyze(&tiny).reasons, vec![ReasonCode::NoFace]);
}

#[test]
fn two_people_in_view_are_refused_without_an_embedding() {
    let a = photo("obama-1");
    let b = imageops::resize(&photo("biden-1"), 500, 1137, imageops::FilterType::Triangle);
    let mut both = RgbImage::from_pixel(
        a.width() + b.width(),
        a.height().max(b.height()),
        Rgb([255; 3]),
    );
    imageops::replace(&mut both, &a, 0, 0);
    imageops::replace(&mut both, &b, i64::from(a.width()), 0);
    let analysis = analyze(&both);
    assert_eq!(analysis.faces_found, 2);
    assert!(analysis.reasons.contains(&ReasonCode::MultipleFaces));
    assert!(analysis.embedding.is_none());
}

/// `obama-1` with `biden-1` beside it (resized as in the test above), the second face
/// changed by `change`: the picture, and how many faces the detector finds in it.
fn beside_obama(change: impl Fn(RgbImage) -> RgbImage) -> (RgbImage, usize) {
    let a = photo("obama-1");
    let b = change(imageops::resize(
        &photo("biden-1"),
        500,
        1137,
        imageops::FilterType::Triangle,
    ));
    let mut both = RgbImage::from_pixel(a.width() + b.width(), a.height(), Rgb([255; 3]));
    imageops::replace(&mut both, &a, 0, 0);
    imageops::replace(&mut both, &b, i64::from(a.width()), 0);
    let found = engine().detector().detect(&both).expect("detects").len();
    (both, found)
}

/// A second person behind the subject, out of focus, or at the edge of the frame with half
/// their face outside it, is not who is being verified: the photo is judged on the main
/// face (issue 15: four real photos of one person were refused for such faces). The
/// detector still finds the second face each time, so it is the rule that sets it aside.
#[test]
fn a_person_out_of_focus_or_cut_off_beside_the_subject_is_not_counted() {
    let alone = analyze(&photo("obama-1"));
    let blurred = |b: RgbImage| imageops::blur(&b, 12.0);
    let cut_off = |b: RgbImage| {
        // Keep the left 60% of the second photo: the frame ends across the face.
        imageops::crop_imm(&b, 0, 0, b.width() * 6 / 10, b.height()).to_image()
    };
    for (what, (img, found)) in [
        ("out of focus", beside_obama(blurred)),
        ("cut off", beside_obama(cut_off)),
    ] {
        assert!(found >= 2, "{what}: the detector found {found} faces");
        let analysis = analyze(&img);
        assert_eq!(analysis.faces_found, 1, "{what}: {:?}", analysis.reasons);
        assert!(
            analysis.reasons.is_empty(),
            "{what}: {:?}",
            analysis.reasons
        );
        assert!(score(&analysis, &alone) > 0.9, "{what}: not the main face");
    }
}

#[test]
fn a_small_face_is_too_small() {
    let img = photo("obama-1");
    let small = imageops::resize(
        &img,
        img.width() / 7,
        img.height() / 7,
        imageops::FilterType::Triangle,
    );
    let analysis = analyze(&small);
    assert!(
        analysis.reasons.contains(&ReasonCode::FaceTooSmall),
        "{:?}",
        analysis.reasons
    );
}

/// A face the picture's edge cuts is said to be cut off, or, too little of it left, not
/// found at all.
fn assert_cut_off_or_gone(analysis: &FaceAnalysis) {
    assert!(
        analysis.reasons.contains(&ReasonCode::FaceCutOff)
            || analysis.reasons == [ReasonCode::NoFace],
        "{:?}",
        analysis.reasons
    );
}

#[test]
fn a_half_face_is_cut_off() {
    let img = photo("obama-1");
    let face = analyze(&img).face.unwrap();
    // Keep everything left of the nose: half the face is outside the picture.
    let nose_x = face.landmarks[2][0] as u32;
    let half = imageops::crop_imm(&img, 0, 0, nose_x, img.height()).to_image();
    assert_cut_off_or_gone(&analyze(&half));
    // And the top of the head cut off by the frame.
    let top = (face.bbox[1] + face.bbox[3] * 0.45) as u32;
    let chin_only = imageops::crop_imm(&img, 0, top, img.width(), img.height() - top).to_image();
    assert_cut_off_or_gone(&analyze(&chin_only));
}

#[test]
fn blur_darkness_and_glare_are_named() {
    let img = photo("obama-1");
    let width = analyze(&img).face.unwrap().width();
    let blurred = imageops::blur(&img, width * 0.03);
    assert_eq!(analyze(&blurred).reasons, vec![ReasonCode::Blurry]);

    let dark = RgbImage::from_fn(img.width(), img.height(), |x, y| {
        Rgb(img.get_pixel(x, y).0.map(|v| v / 6))
    });
    assert!(analyze(&dark).reasons.contains(&ReasonCode::TooDark));

    let washed = RgbImage::from_fn(img.width(), img.height(), |x, y| {
        Rgb(img.get_pixel(x, y).0.map(|v| 255 - (255 - v) / 5))
    });
    let reasons = analyze(&washed).reasons;
    assert!(
        reasons.contains(&ReasonCode::TooBright) || reasons == [ReasonCode::NoFace],
        "{reasons:?}"
    );
}

#[test]
fn a_sharp_well_lit_frontal_photo_passes_every_check() {
    for name in ["obama-1", "ardern-1", "macron-2", "collins-1"] {
        let analysis = analyze(&photo(name));
        assert!(
            analysis.usable(),
            "{name}: {:?} {:?}",
            analysis.reasons,
            analysis.quality
        );
    }
}

#[test]
fn grayscale_and_sixteen_bit_copies_still_match() {
    let img = photo("obama-1");
    let reference = analyze(&photo("obama-2"));
    for (label, dynamic) in [
        (
            "grey",
            DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(img.clone()).into_luma8()),
        ),
        (
            "16-bit",
            DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(img.clone()).into_rgb16()),
        ),
    ] {
        let mut png = std::io::Cursor::new(Vec::new());
        dynamic.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let loaded = load_image_bytes(png.get_ref(), &ImageLimits::default()).unwrap();
        let analysis = analyze(&loaded.rgb);
        assert!(analysis.usable(), "{label}: {:?}", analysis.reasons);
        assert!(
            score(&analysis, &reference) >= FACE_MATCH_THRESHOLD,
            "{label}"
        );
    }
}

#[test]
fn cmyk_jpeg_and_exif_rotation_are_honoured() {
    let reference = analyze(&photo("obama-2"));
    let cmyk = load_image_file(&data("images/cmyk-obama-1.jpg"), &ImageLimits::default()).unwrap();
    assert!(score(&analyze(&cmyk.rgb), &reference) >= FACE_MATCH_THRESHOLD);

    let rotated = load_image_file(
        &data("images/exif-rotated-obama-1.jpg"),
        &ImageLimits::default(),
    )
    .unwrap();
    assert!(rotated.orientation_applied);
    // Stored sideways, shown upright: 455 wide and 568 tall once the EXIF turn is applied.
    assert_eq!(rotated.rgb.dimensions(), (455, 568));
    let analysis = analyze(&rotated.rgb);
    assert!(analysis.usable(), "{:?}", analysis.reasons);
    assert!(score(&analysis, &reference) >= FACE_MATCH_THRESHOLD);
}

#[test]
fn analysis_is_deterministic_and_safe_to_share_between_threads() {
    let img = photo("ardern-2");
    let sequential = analyze(&img);
    let parallel: Vec<FaceAnalysis> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| analyze(&img))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for other in &parallel {
        assert_eq!(other.face, sequential.face);
        assert_eq!(other.embedding, sequential.embedding);
    }
}

#[test]
fn an_embedding_never_shows_in_debug_output() {
    let analysis = analyze(&photo("macron-2"));
    let printed = format!("{analysis:?}");
    let first = analysis.embedding.as_ref().unwrap().as_slice()[0];
    assert!(printed.contains("redacted"));
    assert!(!printed.contains(&format!("{first}")));
}
