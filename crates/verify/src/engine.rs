//! The face engine: detector, recognizer and policies, loaded once and shared by every
//! thread and frame of the process. This is the entry point the command line, the server
//! and the app use.

use std::time::Instant;

use image::RgbImage;
use serde::Serialize;

use crate::error::Result;
use crate::face::{
    align_face, DetectedFace, DetectorPolicy, FaceDetector, FaceEmbedder, FaceEmbedding,
};
use crate::models::{ModelId, ModelStore};
use crate::quality::{assess, people_in_view, FaceQuality, QualityPolicy};
use crate::reasons::ReasonCode;

/// Cosine similarity at or above which two SFace embeddings are taken as the same person.
///
/// OpenCV documents 0.363 for SFace, the accuracy-optimal point on LFW, which lets about
/// one impostor pair in a few hundred through. Account recovery must err the other way,
/// so Reclaim's default is stricter; see `docs/face-matching.md` for what it was checked
/// on and what the evaluation can and cannot claim.
pub const FACE_MATCH_THRESHOLD: f32 = 0.50;

/// How two faces are judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MatchPolicy {
    pub threshold: f32,
}

impl Default for MatchPolicy {
    fn default() -> Self {
        MatchPolicy {
            threshold: FACE_MATCH_THRESHOLD,
        }
    }
}

/// How the engine is built.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub models: ModelStore,
    /// Threads tract may use inside one inference (matrix products).
    pub intra_op_threads: usize,
    pub detector: DetectorPolicy,
    pub quality: QualityPolicy,
    pub matching: MatchPolicy,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            models: ModelStore::discover(),
            intra_op_threads: 1,
            detector: DetectorPolicy::default(),
            quality: QualityPolicy::default(),
            matching: MatchPolicy::default(),
        }
    }
}

/// Digest of each model the engine runs, for attestations and reports.
#[derive(Debug, Clone, Serialize)]
pub struct ModelDigests {
    pub face_detector: String,
    pub face_embedder: String,
}

pub struct FaceEngine {
    detector: FaceDetector,
    embedder: FaceEmbedder,
    quality: QualityPolicy,
    matching: MatchPolicy,
    digests: ModelDigests,
}

/// Time spent in each stage of one face analysis, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageTimings {
    pub detect_ms: f64,
    pub align_ms: f64,
    pub embed_ms: f64,
}

/// Everything the engine learned about the face in one image.
#[derive(Debug, Clone, Serialize)]
pub struct FaceAnalysis {
    /// People in view: the main face and every other face that counts
    /// ([`crate::quality::people_in_view`]).
    pub faces_found: usize,
    /// The main face: the largest one.
    pub face: Option<DetectedFace>,
    pub quality: Option<FaceQuality>,
    /// Every reason this image cannot be used; empty when it can.
    pub reasons: Vec<ReasonCode>,
    #[serde(skip)]
    pub embedding: Option<FaceEmbedding>,
    pub timings_ms: StageTimings,
}

impl FaceAnalysis {
    pub fn usable(&self) -> bool {
        self.reasons.is_empty() && self.embedding.is_some()
    }
}

/// The verdict on two faces.
#[derive(Debug, Clone, Serialize)]
pub struct FaceComparison {
    /// Cosine similarity, when both images held exactly one face.
    pub score: Option<f32>,
    pub threshold: f32,
    pub same_person: bool,
    /// Why `same_person` is false: the images' own reasons, then `face_mismatch`.
    pub reasons: Vec<ReasonCode>,
}

impl FaceEngine {
    /// Verifies and prepares both face models. The two are prepared on two threads,
    /// since preparation dominates a one-shot command's time.
    pub fn load(options: EngineOptions) -> Result<Self> {
        let threads = options.intra_op_threads.max(1);
        let (detector, embedder) = std::thread::scope(|s| {
            let embedder = s.spawn(|| -> Result<_> {
                let model = options.models.read_verified(ModelId::FaceEmbedder)?;
                let digest = model.sha256.clone();
                Ok((FaceEmbedder::new(model, threads)?, digest))
            });
            let detector = (|| -> Result<_> {
                let model = options.models.read_verified(ModelId::FaceDetector)?;
                let digest = model.sha256.clone();
                Ok((
                    FaceDetector::new(model, options.detector.clone(), threads)?,
                    digest,
                ))
            })();
            let embedder = embedder.join().unwrap_or_else(|_| {
                Err(crate::error::VerifyError::ModelInvalid {
                    name: ModelId::FaceEmbedder.as_str().into(),
                    reason: "preparation panicked".into(),
                })
            });
            (detector, embedder)
        });
        let (detector, detector_digest) = detector?;
        let (embedder, embedder_digest) = embedder?;
        Ok(FaceEngine {
            detector,
            embedder,
            quality: options.quality,
            matching: options.matching,
            digests: ModelDigests {
                face_detector: detector_digest,
                face_embedder: embedder_digest,
            },
        })
    }

    pub fn detector(&self) -> &FaceDetector {
        &self.detector
    }

    pub fn embedder(&self) -> &FaceEmbedder {
        &self.embedder
    }

    pub fn digests(&self) -> &ModelDigests {
        &self.digests
    }

    pub fn matching(&self) -> MatchPolicy {
        self.matching
    }

    pub fn quality_policy(&self) -> &QualityPolicy {
        &self.quality
    }

    /// Detects, checks, aligns and embeds the main face of `image`.
    pub fn analyze(&self, image: &RgbImage) -> Result<FaceAnalysis> {
        let mut timings = StageTimings::default();
        let started = Instant::now();
        let faces = self.detector.detect(image)?;
        timings.detect_ms = ms_since(started);

        let main = faces
            .iter()
            .enumerate()
            .max_by(|(_, a), (_, b)| a.width().total_cmp(&b.width()))
            .map(|(i, face)| (i, *face));
        let Some((main_index, main)) = main else {
            return Ok(FaceAnalysis {
                faces_found: 0,
                face: None,
                quality: None,
                reasons: vec![ReasonCode::NoFace],
                embedding: None,
                timings_ms: timings,
            });
        };
        let faces_found = people_in_view(image, &faces, main_index, &self.quality);

        let started = Instant::now();
        let aligned = align_face(image, &main.landmarks);
        timings.align_ms = ms_since(started);
        let Some(aligned) = aligned else {
            return Ok(FaceAnalysis {
                faces_found,
                face: Some(main),
                quality: None,
                reasons: vec![ReasonCode::NoFace],
                embedding: None,
                timings_ms: timings,
            });
        };
        let quality = assess(image.dimensions(), &main, &aligned, &self.quality);
        let mut reasons = Vec::new();
        if faces_found > 1 {
            reasons.push(ReasonCode::MultipleFaces);
        }
        reasons.extend(quality.issues.iter().copied());

        // With several people in view there is no telling whose face this is: no embedding.
        let embedding = if faces_found > 1 {
            None
        } else {
            let started = Instant::now();
            let embedding = self.embedder.embed(&aligned)?;
            timings.embed_ms = ms_since(started);
            Some(embedding)
        };
        Ok(FaceAnalysis {
            faces_found,
            face: Some(main),
            quality: Some(quality),
            reasons,
            embedding,
            timings_ms: timings,
        })
    }

    /// Judges whether two analysed images show the same person.
    pub fn compare(&self, a: &FaceAnalysis, b: &FaceAnalysis) -> FaceComparison {
        compare_analyses(a, b, &self.matching)
    }
}

/// Judges two analyses under `policy`.
pub fn compare_analyses(
    a: &FaceAnalysis,
    b: &FaceAnalysis,
    policy: &MatchPolicy,
) -> FaceComparison {
    let score = match (&a.embedding, &b.embedding) {
        (Some(x), Some(y)) => Some(x.cosine(y)),
        _ => None,
    };
    let mut reasons: Vec<ReasonCode> = a.reasons.iter().chain(&b.reasons).copied().collect();
    reasons.sort();
    reasons.dedup();
    let matched = score.is_some_and(|s| s >= policy.threshold);
    if score.is_some() && !matched {
        reasons.push(ReasonCode::FaceMismatch);
    }
    FaceComparison {
        score,
        threshold: policy.threshold,
        same_person: matched && reasons.is_empty(),
        reasons,
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
