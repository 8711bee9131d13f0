//! The enrolled face template of a returning user: the embedding of a face that was
//! verified against an ID once, and the digest of the model that made it.
//!
//! A template is biometric data. The backend keeps it encrypted at rest; this module only
//! gives it a strict file form, so that a template made by one model is never compared with
//! an embedding from another (the scores would mean nothing), and a file that is not a
//! template is refused with a reason rather than half-read.

use reclaim_protocol::Code;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::face::embedder::EMBEDDING_DIM;
use crate::face::FaceEmbedding;

/// The only format this version reads and writes.
pub const TEMPLATE_FORMAT: &str = "reclaim-face-template/1";

/// Templates are small; anything much larger is not one.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("the template is {0} bytes; a template is at most {MAX_TEMPLATE_BYTES}")]
    TooLarge(usize),
    #[error("not a face template: {0}")]
    Malformed(String),
    #[error("template format `{0}` is not {TEMPLATE_FORMAT}")]
    UnknownFormat(String),
    #[error("the template has {0} values; {EMBEDDING_DIM} expected")]
    WrongLength(usize),
    #[error("the template's values are not a usable embedding")]
    InvalidValues,
    #[error("the template was made by face model {template}, this engine runs {engine}")]
    ModelMismatch { template: String, engine: String },
}

impl TemplateError {
    pub fn code(&self) -> Code {
        match self {
            TemplateError::TooLarge(_)
            | TemplateError::Malformed(_)
            | TemplateError::UnknownFormat(_)
            | TemplateError::WrongLength(_)
            | TemplateError::InvalidValues => Code::TemplateInvalid,
            TemplateError::ModelMismatch { .. } => Code::TemplateModelMismatch,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    format: String,
    /// sha256 of the face embedder model that made `embedding`.
    model: String,
    embedding: Vec<f32>,
}

impl Drop for TemplateFile {
    fn drop(&mut self) {
        self.embedding.zeroize();
    }
}

/// A face template bound to the model that made it.
#[derive(Debug, Clone)]
pub struct FaceTemplate {
    pub model_sha256: String,
    pub embedding: FaceEmbedding,
}

impl FaceTemplate {
    pub fn new(model_sha256: &str, embedding: FaceEmbedding) -> Self {
        FaceTemplate {
            model_sha256: model_sha256.to_string(),
            embedding,
        }
    }

    /// Parses a template file's bytes, and refuses one made by another model than
    /// `engine_model_sha256`.
    pub fn parse(bytes: &[u8], engine_model_sha256: &str) -> Result<Self, TemplateError> {
        if bytes.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge(bytes.len()));
        }
        let file: TemplateFile =
            serde_json::from_slice(bytes).map_err(|e| TemplateError::Malformed(e.to_string()))?;
        if file.format != TEMPLATE_FORMAT {
            return Err(TemplateError::UnknownFormat(file.format.clone()));
        }
        if file.embedding.len() != EMBEDDING_DIM {
            return Err(TemplateError::WrongLength(file.embedding.len()));
        }
        if !file.model.eq_ignore_ascii_case(engine_model_sha256) {
            return Err(TemplateError::ModelMismatch {
                template: file.model.clone(),
                engine: engine_model_sha256.to_string(),
            });
        }
        let embedding =
            FaceEmbedding::from_raw(file.embedding.clone()).ok_or(TemplateError::InvalidValues)?;
        Ok(FaceTemplate {
            model_sha256: file.model.to_ascii_lowercase(),
            embedding,
        })
    }

    /// The template's file form (JSON). Biometric: the caller decides where it may go.
    pub fn to_bytes(&self) -> Vec<u8> {
        let file = TemplateFile {
            format: TEMPLATE_FORMAT.to_string(),
            model: self.model_sha256.clone(),
            embedding: self.embedding.as_slice().to_vec(),
        };
        serde_json::to_vec(&file).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "ab12";

    fn embedding(seed: f32) -> FaceEmbedding {
        let values = (0..EMBEDDING_DIM)
            .map(|i| ((i as f32 + seed) * 0.37).sin())
            .collect();
        FaceEmbedding::from_raw(values).unwrap()
    }

    #[test]
    fn round_trips_and_keeps_the_embedding() {
        let t = FaceTemplate::new(MODEL, embedding(1.0));
        let back = FaceTemplate::parse(&t.to_bytes(), "AB12").unwrap();
        assert!(back.embedding.cosine(&t.embedding) > 0.9999);
        assert_eq!(back.model_sha256, MODEL);
    }

    #[test]
    fn refuses_another_models_template() {
        let t = FaceTemplate::new(MODEL, embedding(1.0));
        let err = FaceTemplate::parse(&t.to_bytes(), "cd34").unwrap_err();
        assert_eq!(err.code(), "template_model_mismatch");
    }

    #[test]
    fn refuses_what_is_not_a_template() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "malformed"),
            (b"not json".to_vec(), "malformed"),
            (b"{}".to_vec(), "malformed"),
            (vec![b' '; MAX_TEMPLATE_BYTES + 1], "too large"),
            (
                br#"{"format":"reclaim-face-template/2","model":"ab12","embedding":[]}"#.to_vec(),
                "format",
            ),
            (
                br#"{"format":"reclaim-face-template/1","model":"ab12","embedding":[1,2,3]}"#
                    .to_vec(),
                "length",
            ),
            (
                format!(
                    r#"{{"format":"reclaim-face-template/1","model":"ab12","embedding":[{}]}}"#,
                    vec!["0"; EMBEDDING_DIM].join(",")
                )
                .into_bytes(),
                "values",
            ),
            (
                br#"{"format":"reclaim-face-template/1","model":"ab12","embedding":[],"extra":1}"#
                    .to_vec(),
                "malformed",
            ),
        ];
        for (bytes, what) in cases {
            let err = FaceTemplate::parse(&bytes, MODEL).unwrap_err();
            assert_eq!(err.code(), "template_invalid", "{what}: {err}");
            let matches = match what {
                "malformed" => matches!(err, TemplateError::Malformed(_)),
                "too large" => matches!(err, TemplateError::TooLarge(_)),
                "format" => matches!(err, TemplateError::UnknownFormat(_)),
                "length" => matches!(err, TemplateError::WrongLength(3)),
                _ => matches!(err, TemplateError::InvalidValues),
            };
            assert!(matches, "{what}: got {err:?}");
        }
    }

    #[test]
    fn debug_output_shows_no_values() {
        let t = FaceTemplate::new(MODEL, embedding(2.0));
        let shown = format!("{t:?}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains("0."), "{shown}");
    }
}
