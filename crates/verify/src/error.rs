//! Errors of the engine. Every variant carries a stable reason code (`code()`) that the
//! command line's JSON, the server's answers and the app's messages reuse, so a code
//! never changes meaning once published.

use reclaim_protocol::Code;
use std::path::PathBuf;

/// What went wrong before the engine could judge a face: the input or the engine itself.
/// A face that was judged and found wanting is not an error; see [`crate::ReasonCode`].
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the file is empty")]
    EmptyInput,
    #[error("the file is {size} bytes; at most {limit} bytes are accepted")]
    InputTooLarge { size: u64, limit: u64 },
    #[error("not a supported image: JPEG, PNG or WebP expected")]
    UnsupportedFormat,
    #[error("{}", too_large(.declared, .max_pixels, .max_side))]
    ImageTooLarge {
        /// Width and height from the header, when the header got that far.
        declared: Option<(u32, u32)>,
        max_pixels: u64,
        max_side: u32,
    },
    /// A selfie frame larger than a video frame may be (see [`crate::capture`]).
    #[error(
        "the frame declares {}x{} pixels; a selfie frame is at most {}x{} (either way round)",
        .declared.0, .declared.1, .long_side, .short_side
    )]
    FrameTooLarge {
        declared: (u32, u32),
        long_side: u32,
        short_side: u32,
    },
    /// The pieces of one capture together are more than one judgement may cost.
    #[error("{0}")]
    CaptureTooLarge(String),
    #[error("the image data is corrupt or truncated: {0}")]
    CorruptImage(String),
    #[error("model `{name}` not found; looked in: {searched}")]
    ModelMissing { name: String, searched: String },
    #[error(
        "model file {path} has sha256 {actual} but {expected} was expected: refusing to load it"
    )]
    ModelDigestMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("model `{name}` could not be prepared: {reason}")]
    ModelInvalid { name: String, reason: String },
    #[error("inference failed in `{model}`: {reason}")]
    Inference { model: String, reason: String },
}

impl VerifyError {
    /// The stable reason code of this error.
    pub fn code(&self) -> Code {
        match self {
            VerifyError::Io { .. } => Code::InputUnreadable,
            VerifyError::EmptyInput => Code::ImageEmpty,
            VerifyError::InputTooLarge { .. } => Code::InputTooLarge,
            VerifyError::UnsupportedFormat => Code::ImageUnsupportedFormat,
            VerifyError::ImageTooLarge { .. } | VerifyError::FrameTooLarge { .. } => {
                Code::ImageTooLarge
            }
            VerifyError::CaptureTooLarge(_) => Code::CaptureTooLarge,
            VerifyError::CorruptImage(_) => Code::ImageCorrupt,
            VerifyError::ModelMissing { .. } => Code::ModelMissing,
            VerifyError::ModelDigestMismatch { .. } => Code::ModelDigestMismatch,
            VerifyError::ModelInvalid { .. } => Code::ModelInvalid,
            VerifyError::Inference { .. } => Code::InferenceFailed,
        }
    }

    /// True when the caller's input is at fault (exit code 2 at the command line), false
    /// when the engine's installation is (also 2, but the operator must act).
    pub fn is_input_error(&self) -> bool {
        !matches!(
            self,
            VerifyError::ModelMissing { .. }
                | VerifyError::ModelDigestMismatch { .. }
                | VerifyError::ModelInvalid { .. }
                | VerifyError::Inference { .. }
        )
    }
}

fn too_large(declared: &Option<(u32, u32)>, max_pixels: &u64, max_side: &u32) -> String {
    let limit = format!("at most {max_pixels} pixels and {max_side} per side are accepted");
    match declared {
        Some((w, h)) => format!("the image declares {w}x{h} pixels; {limit}"),
        None => format!("the image is larger than allowed: {limit}"),
    }
}

pub type Result<T, E = VerifyError> = std::result::Result<T, E>;
