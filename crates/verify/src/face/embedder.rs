//! SFace: a 128-number description of an aligned face; two faces of one person point in
//! nearly the same direction, so their cosine is high.
//!
//! An embedding is biometric data. It is never printed (`Debug` shows only its length),
//! and its memory is wiped when it is dropped.

use image::RgbImage;
use zeroize::Zeroize;

use crate::error::{Result, VerifyError};
use crate::face::align::ALIGNED_SIZE;
use crate::models::{
    build_plan, profile_ops, run_plan, square_input, ModelId, OpTime, Plan, VerifiedModel,
};

/// Length of an SFace embedding.
pub const EMBEDDING_DIM: usize = 128;

/// An L2-normalised face embedding.
#[derive(Clone, PartialEq)]
pub struct FaceEmbedding(Vec<f32>);

impl FaceEmbedding {
    /// Normalises `values`; `None` when they are not finite or all zero.
    pub fn from_raw(mut values: Vec<f32>) -> Option<Self> {
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if !(norm.is_finite() && norm > 1e-6) {
            values.zeroize();
            return None;
        }
        values.iter_mut().for_each(|v| *v /= norm);
        Some(FaceEmbedding(values))
    }

    /// Cosine similarity, -1..1.
    pub fn cosine(&self, other: &FaceEmbedding) -> f32 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| a * b)
            .sum::<f32>()
            .clamp(-1.0, 1.0)
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
}

impl std::fmt::Debug for FaceEmbedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FaceEmbedding({} values, redacted)", self.0.len())
    }
}

impl Drop for FaceEmbedding {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// SFace, prepared once and shared by every thread and frame.
pub struct FaceEmbedder {
    plan: Plan,
}

impl FaceEmbedder {
    pub fn new(model: VerifiedModel, threads: usize) -> Result<Self> {
        let proto = model.into_prepared_proto()?;
        let plan = build_plan(
            ModelId::FaceEmbedder,
            proto,
            &square_input(ALIGNED_SIZE),
            threads,
        )?;
        Ok(FaceEmbedder { plan })
    }

    /// The embedding of a face aligned by [`crate::face::align_face`].
    pub fn embed(&self, aligned: &RgbImage) -> Result<FaceEmbedding> {
        let side = ALIGNED_SIZE as usize;
        if aligned.dimensions() != (ALIGNED_SIZE, ALIGNED_SIZE) {
            return Err(VerifyError::Inference {
                model: ModelId::FaceEmbedder.as_str().into(),
                reason: format!("aligned face must be {side}x{side}"),
            });
        }
        let mut outputs = self.infer(Self::model_input(aligned))?;
        let raw = outputs.pop().filter(|v| v.len() == EMBEDDING_DIM);
        raw.and_then(FaceEmbedding::from_raw)
            .ok_or_else(|| VerifyError::Inference {
                model: ModelId::FaceEmbedder.as_str().into(),
                reason: "the embedding is not a finite 128-d vector".into(),
            })
    }
}

impl FaceEmbedder {
    /// The exact tensor the model receives for an aligned face: planar RGB, 0..255.
    pub fn model_input(aligned: &RgbImage) -> Vec<f32> {
        let plane = (aligned.width() * aligned.height()) as usize;
        let mut data = vec![0.0f32; 3 * plane];
        for (i, p) in aligned.pixels().enumerate() {
            data[i] = f32::from(p[0]);
            data[plane + i] = f32::from(p[1]);
            data[2 * plane + i] = f32::from(p[2]);
        }
        data
    }

    /// Where the network's time goes, for `reclaim-lab bench --ops`.
    pub fn profile(&self, tensor: &[f32], runs: usize) -> Result<Vec<OpTime>> {
        let shape = square_input(ALIGNED_SIZE);
        profile_ops(ModelId::FaceEmbedder, &self.plan, &shape, tensor, runs)
    }

    /// Runs the network alone on a tensor from [`FaceEmbedder::model_input`].
    pub fn infer(&self, tensor: Vec<f32>) -> Result<Vec<Vec<f32>>> {
        let shape = square_input(ALIGNED_SIZE);
        run_plan(ModelId::FaceEmbedder, &self.plan, &shape, tensor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_normalised_and_redacted_in_debug() {
        let a = FaceEmbedding::from_raw(vec![3.0, 4.0]).unwrap();
        assert!((a.as_slice()[0] - 0.6).abs() < 1e-6);
        assert!((a.cosine(&a) - 1.0).abs() < 1e-6);
        assert!(!format!("{a:?}").contains("0.6"));
        assert!(FaceEmbedding::from_raw(vec![0.0; 4]).is_none());
        assert!(FaceEmbedding::from_raw(vec![f32::NAN, 1.0]).is_none());
    }
}
