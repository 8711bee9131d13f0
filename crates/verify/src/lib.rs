//! Reclaim's verification engine: everything that looks at pixels.
//!
//! It decodes untrusted images within fixed bounds ([`image_input`]), finds and checks
//! faces ([`face`], [`quality`]), and compares them ([`engine`]). It is pure Rust on
//! tract-onnx with no GUI dependency, so the command line, the server (which re-runs it
//! on uploaded evidence) and the app share one implementation and one set of thresholds,
//! and one entry that judges a piece of evidence as it travels ([`Engines::judge`]).

pub mod capture;
pub mod decision;
pub mod document;
pub mod engine;
pub mod error;
pub mod face;
pub mod image_input;
pub mod judge;
pub mod liveness;
pub mod models;
pub mod onnx_prep;
pub mod quality;
pub mod raster;
pub mod reasons;
pub mod template;

pub use capture::{decode_capture, CaptureBytes, CaptureError, CaptureLimits, CAPTURE_LIMITS};
pub use engine::{
    compare_analyses, EngineOptions, FaceAnalysis, FaceComparison, FaceEngine, MatchPolicy,
    FACE_MATCH_THRESHOLD,
};
pub use error::{Result, VerifyError};
pub use image_input::{load_image_bytes, load_image_file, ImageLimits, LoadedImage};
pub use judge::{Engines, Evidence, Reference};
pub use reasons::ReasonCode;
