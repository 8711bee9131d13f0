//! From camera frames to observations: everything the liveness checks need from one
//! frame, small enough to keep for a whole capture once the frame itself is gone.
//!
//! Inputs are checked as a whole (frames present, timestamps strictly increasing, one
//! frame size) before any inference runs, so a malformed upload costs nothing.

use image::RgbImage;
use serde::Serialize;

use super::cues::{frame_cues, FrameCues};
use super::light::LightSample;
use super::passive::PassiveModel;
use super::replay::{FrameHashes, Thumbnail};
use super::surface::FacePatch;
use super::{LivenessError, LivenessInputError};
use crate::engine::{FaceAnalysis, FaceEngine};
use crate::error::VerifyError;
use crate::face::FaceEmbedding;
use crate::quality::head_pose;
use crate::reasons::ReasonCode;

/// One camera frame and when it was taken (milliseconds on any monotonic clock).
#[derive(Debug, Clone, Copy)]
pub struct TimedFrame<'a> {
    pub image: &'a RgbImage,
    pub timestamp_ms: u64,
}

impl<'a> TimedFrame<'a> {
    /// Frames from (image, timestamp) pairs, in order.
    pub fn all(frames: impl IntoIterator<Item = (&'a RgbImage, u64)>) -> Vec<TimedFrame<'a>> {
        frames
            .into_iter()
            .map(|(image, timestamp_ms)| TimedFrame {
                image,
                timestamp_ms,
            })
            .collect()
    }
}

/// What one frame showed.
#[derive(Debug, Clone, Serialize)]
pub struct FrameObservation {
    pub timestamp_ms: u64,
    /// Width and height of the frame.
    pub size: (u32, u32),
    /// Faces large enough to count (see the engine's quality policy).
    pub faces_found: usize,
    /// The main face's box and landmarks (detector order), when there was a face.
    pub bbox: Option<[f32; 4]>,
    pub landmarks: Option<[[f32; 2]; 5]>,
    pub yaw_deg: Option<f32>,
    pub pitch_deg: Option<f32>,
    /// The engine's quality findings other than head pose (turning the head is the point
    /// of a liveness capture, so `pose_out_of_range` is dropped here).
    pub issues: Vec<ReasonCode>,
    #[serde(skip)]
    pub embedding: Option<FaceEmbedding>,
    /// Difference hash of the face (box enlarged by 20%) and of the whole frame.
    pub face_hash: Option<u64>,
    pub frame_hash: Option<u64>,
    /// Difference hashes of the same face crop and whole frame mirrored left to right:
    /// compared with the stored hashes as well, never stored (see [`super::replay`]).
    #[serde(skip)]
    pub face_hash_mirrored: Option<u64>,
    #[serde(skip)]
    pub frame_hash_mirrored: Option<u64>,
    pub cues: Option<FrameCues>,
    #[serde(skip)]
    pub thumbnail: Option<Thumbnail>,
    /// The face in grey, for the dense flatness test.
    #[serde(skip)]
    pub face_patch: Option<FacePatch>,
    /// The operator's passive model's live probability, when one is configured.
    pub passive_live: Option<f32>,
    /// The light on the face's skin cells and the background, for the screen-light
    /// check (see [`super::light`]).
    #[serde(skip)]
    pub light: Option<LightSample>,
}

impl FrameObservation {
    /// The face's and the whole frame's hashes as seen and mirrored, for the replay
    /// check.
    pub fn hashes(&self) -> FrameHashes {
        FrameHashes {
            face: self.face_hash,
            face_mirrored: self.face_hash_mirrored,
            frame: self.frame_hash,
            frame_mirrored: self.frame_hash_mirrored,
        }
    }

    /// Yaw and pitch, when both were measured and are finite.
    pub fn pose(&self) -> Option<(f32, f32)> {
        match (self.yaw_deg, self.pitch_deg) {
            (Some(y), Some(p)) if y.is_finite() && p.is_finite() => Some((y, p)),
            _ => None,
        }
    }

    /// Can this frame's landmarks be trusted? Exactly one face, finite landmarks, and no
    /// quality issue (too small, cut off, blurry, too dark or bright): landmark noise on
    /// a poor face would inflate the parallax and jitter measures, which would let a
    /// spoof pass rather than fail, so poor frames are left out.
    pub fn usable(&self) -> bool {
        self.faces_found == 1
            && self.issues.is_empty()
            && self.pose().is_some()
            && self
                .landmarks
                .is_some_and(|l| l.iter().flatten().all(|v| v.is_finite()))
    }
}

/// Turns an engine analysis of `image` into an observation (no inference).
pub fn observation_from_analysis(
    image: &RgbImage,
    timestamp_ms: u64,
    analysis: FaceAnalysis,
) -> FrameObservation {
    let face = analysis.face;
    let pose = match (&analysis.quality, &face) {
        (Some(q), _) => Some((q.yaw_deg, q.pitch_deg)),
        (None, Some(f)) => {
            let (y, p, _) = head_pose(&f.landmarks);
            Some((y, p))
        }
        _ => None,
    };
    let issues = analysis
        .reasons
        .iter()
        .copied()
        .filter(|r| !matches!(r, ReasonCode::PoseOutOfRange))
        .collect();
    let hashes = FrameHashes::of(image, face.as_ref().map(|f| f.bbox));
    FrameObservation {
        timestamp_ms,
        size: image.dimensions(),
        faces_found: analysis.faces_found,
        bbox: face.map(|f| f.bbox),
        landmarks: face.map(|f| f.landmarks),
        yaw_deg: pose.map(|p| p.0),
        pitch_deg: pose.map(|p| p.1),
        issues,
        embedding: analysis.embedding,
        face_hash: hashes.face,
        frame_hash: hashes.frame,
        face_hash_mirrored: hashes.face_mirrored,
        frame_hash_mirrored: hashes.frame_mirrored,
        cues: face.and_then(|f| frame_cues(image, f.bbox)),
        thumbnail: Thumbnail::of(image),
        face_patch: face.and_then(|f| FacePatch::of(image, f.bbox)),
        passive_live: None,
        light: face.and_then(|f| LightSample::of(image, &f.landmarks, f.bbox)),
    }
}

/// Analyses one frame: face, pose, embedding, hashes and cues.
pub fn observe(engine: &FaceEngine, frame: &TimedFrame) -> Result<FrameObservation, LivenessError> {
    observe_with(engine, None, frame)
}

/// As [`observe`], with the operator's passive model when there is one.
pub fn observe_with(
    engine: &FaceEngine,
    passive: Option<&PassiveModel>,
    frame: &TimedFrame,
) -> Result<FrameObservation, LivenessError> {
    let mut observation = observe_plain(engine, frame)?;
    if let (Some(model), Some(bbox)) = (passive, observation.bbox) {
        observation.passive_live = Some(model.live_probability(frame.image, bbox)?);
    }
    Ok(observation)
}

fn observe_plain(
    engine: &FaceEngine,
    frame: &TimedFrame,
) -> Result<FrameObservation, LivenessError> {
    if frame.image.width() == 0 || frame.image.height() == 0 {
        return Err(LivenessInputError::EmptyFrame { index: 0 }.into());
    }
    let analysis = engine.analyze(frame.image)?;
    Ok(observation_from_analysis(
        frame.image,
        frame.timestamp_ms,
        analysis,
    ))
}

/// Checks a capture before anything is computed on it.
pub fn check_frames(frames: &[TimedFrame]) -> Result<(), LivenessInputError> {
    let first = frames.first().ok_or(LivenessInputError::NoFrames)?;
    let size = first.image.dimensions();
    for (index, f) in frames.iter().enumerate() {
        if f.image.width() == 0 || f.image.height() == 0 {
            return Err(LivenessInputError::EmptyFrame { index });
        }
        if f.image.dimensions() != size {
            return Err(LivenessInputError::FrameSizesDiffer {
                index,
                expected: size,
                found: f.image.dimensions(),
            });
        }
    }
    if let Some(index) = frames
        .windows(2)
        .position(|w| w[1].timestamp_ms <= w[0].timestamp_ms)
    {
        return Err(LivenessInputError::TimestampsOutOfOrder { index: index + 1 });
    }
    Ok(())
}

/// Observes every frame, on up to `threads` threads (frames are independent; the engine
/// is shared). Observations come back in frame order; the first failure is returned.
pub fn observe_all(
    engine: &FaceEngine,
    frames: &[TimedFrame],
    threads: usize,
) -> Result<Vec<FrameObservation>, LivenessError> {
    observe_all_with(engine, None, frames, threads)
}

/// As [`observe_all`], also scoring each face with the operator's passive model.
pub fn observe_all_with(
    engine: &FaceEngine,
    passive: Option<&PassiveModel>,
    frames: &[TimedFrame],
    threads: usize,
) -> Result<Vec<FrameObservation>, LivenessError> {
    check_frames(frames)?;
    let threads = threads.clamp(1, frames.len());
    let mut slots: Vec<Option<Result<FrameObservation, LivenessError>>> =
        (0..frames.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                s.spawn(move || {
                    frames
                        .iter()
                        .enumerate()
                        .skip(k)
                        .step_by(threads)
                        .map(|(i, f)| (i, observe_with(engine, passive, f)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for worker in workers {
            // A panic in one worker must not pass for a clean run: its frames stay empty
            // and are reported below.
            if let Ok(done) = worker.join() {
                for (i, r) in done {
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            }
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| {
                Err(LivenessError::Engine(VerifyError::Inference {
                    model: "liveness".into(),
                    reason: "a frame analysis did not complete".into(),
                }))
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::face::DetectedFace;
    use crate::quality::FaceQuality;

    /// An observation of a usable frame with these landmarks (no image behind it).
    pub(crate) fn observation(timestamp_ms: u64, landmarks: [[f32; 2]; 5]) -> FrameObservation {
        let (yaw, pitch, _) = head_pose(&landmarks);
        FrameObservation {
            timestamp_ms,
            size: (640, 480),
            faces_found: 1,
            bbox: Some([200.0, 150.0, 200.0, 240.0]),
            landmarks: Some(landmarks),
            yaw_deg: Some(yaw),
            pitch_deg: Some(pitch),
            issues: Vec::new(),
            embedding: None,
            face_hash: Some(timestamp_ms.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            frame_hash: Some(timestamp_ms.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)),
            face_hash_mirrored: Some(timestamp_ms.wrapping_mul(0x1656_67b1_9e37_79f9)),
            frame_hash_mirrored: Some(timestamp_ms.wrapping_mul(0x27d4_eb2f_1656_67c5)),
            cues: None,
            thumbnail: None,
            face_patch: None,
            passive_live: None,
            light: None,
        }
    }

    #[test]
    fn frames_are_checked_before_inference() {
        let a = RgbImage::new(4, 3);
        let b = RgbImage::new(3, 4);
        let empty = RgbImage::new(0, 0);
        let f = |image, timestamp_ms| TimedFrame {
            image,
            timestamp_ms,
        };
        assert_eq!(check_frames(&[]).unwrap_err().code(), "no_frames");
        assert!(check_frames(&[f(&a, 1)]).is_ok());
        let e = check_frames(&[f(&a, 1), f(&a, 2), f(&a, 2)]).unwrap_err();
        assert_eq!(e, LivenessInputError::TimestampsOutOfOrder { index: 2 });
        assert_eq!(e.code(), "timestamps_out_of_order");
        let e = check_frames(&[f(&a, 1), f(&b, 2)]).unwrap_err();
        assert_eq!(e.code(), "frame_sizes_differ");
        assert_eq!(
            check_frames(&[f(&empty, 1)]).unwrap_err().code(),
            "frame_empty"
        );
    }

    #[test]
    fn an_analysis_becomes_a_small_observation_without_pose_issues() {
        let image = crate::liveness::replay::tests::picture(320, 240, 4);
        let landmarks = crate::face::ARCFACE_TEMPLATE.map(|p| [p[0] + 100.0, p[1] + 60.0]);
        let analysis = FaceAnalysis {
            faces_found: 1,
            face: Some(DetectedFace {
                bbox: [100.0, 60.0, 112.0, 112.0],
                landmarks,
                score: 0.9,
            }),
            quality: Some(FaceQuality {
                face_width_px: 112.0,
                sharpness: 100.0,
                brightness: 120.0,
                yaw_deg: 35.0,
                pitch_deg: 1.0,
                roll_deg: 0.0,
                issues: vec![ReasonCode::PoseOutOfRange],
            }),
            reasons: vec![ReasonCode::PoseOutOfRange],
            embedding: FaceEmbedding::from_raw(vec![1.0, 0.0]),
            timings_ms: Default::default(),
        };
        let o = observation_from_analysis(&image, 42, analysis);
        assert!(o.usable(), "{o:?}");
        assert_eq!(o.pose(), Some((35.0, 1.0)));
        assert!(o.face_hash.is_some() && o.frame_hash.is_some() && o.cues.is_some());
        assert!(o.thumbnail.is_some());
        let json = serde_json::to_string(&o).unwrap();
        assert!(
            !json.contains("embedding") && !json.contains("thumbnail"),
            "{json}"
        );

        let none = FaceAnalysis {
            faces_found: 0,
            face: None,
            quality: None,
            reasons: vec![ReasonCode::NoFace],
            embedding: None,
            timings_ms: Default::default(),
        };
        let o = observation_from_analysis(&image, 43, none);
        assert!(!o.usable());
        assert_eq!(o.issues, vec![ReasonCode::NoFace]);
        assert!(o.face_hash.is_none() && o.frame_hash.is_some());
    }
}
