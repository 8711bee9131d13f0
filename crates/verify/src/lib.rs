//! Reclaim's verification engine: everything that looks at pixels.
//!
//! It decodes untrusted images within fixed bounds ([`image_input`], and a whole
//! capture's budget in [`capture`]), finds and checks faces ([`face`], [`quality`]) and
//! compares them ([`engine`], the face engine), reads identity documents ([`document`]),
//! judges liveness one check per module ([`liveness`]), seals a returning user's face
//! ([`template`]), and puts it all together as one verdict ([`verifier`]). [`judge`] is
//! the one entry the app, the server (which re-runs it on uploaded evidence) and the
//! command line call: [`Engines::load`] once, [`Engines::judge`] on each piece of
//! evidence. It is pure Rust on tract-onnx with no GUI dependency, so all of them share
//! one implementation and one set of thresholds; [`models`] pins the model files by
//! digest and [`reasons`] names every way a part can fail.

pub mod capture;
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
pub mod verifier;

pub use capture::{decode_capture, CaptureBytes, CaptureError, CaptureLimits, CAPTURE_LIMITS};
pub use engine::{
    compare_analyses, EngineOptions, FaceAnalysis, FaceComparison, FaceEngine, MatchPolicy,
    FACE_MATCH_THRESHOLD,
};
pub use error::{Result, VerifyError};
pub use image_input::{load_image_bytes, load_image_file, ImageLimits, LoadedImage};
pub use judge::{Engines, Evidence, Reference};
pub use reasons::ReasonCode;
