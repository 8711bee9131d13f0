//! Faces: finding them (YuNet), putting them in a standard pose (alignment), and turning
//! them into comparable embeddings (SFace).

pub mod align;
pub mod detector;
pub mod embedder;

pub use align::{align_face, ALIGNED_SIZE, ARCFACE_TEMPLATE};
pub use detector::{DetectedFace, DetectorPolicy, FaceDetector};
pub use embedder::{FaceEmbedder, FaceEmbedding};
