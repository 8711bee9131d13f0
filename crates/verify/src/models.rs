//! The models the engine ships: which files, which digests, where to find them, and how
//! each becomes a tract plan.
//!
//! The manifest is compiled into the binary, so the expected SHA-256 of every model is
//! part of the program: swapping a file on disk (and its manifest copy beside it) cannot
//! make the engine load a different network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

use crate::error::{Result, VerifyError};
use crate::onnx_prep;

/// The manifest as shipped in `models/manifest.json`.
pub const MANIFEST_JSON: &str = include_str!("../../../models/manifest.json");

/// Environment variable naming the models directory, for installs that put it elsewhere.
pub const MODELS_DIR_ENV: &str = "RECLAIM_MODELS_DIR";

/// The models the engine knows by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelId {
    FaceDetector,
    FaceEmbedder,
    TextDetector,
    TextRecognizer,
    /// An operator-supplied passive anti-spoof model (not in the manifest; its digest
    /// comes from the operator's configuration).
    PassiveAntiSpoof,
}

impl ModelId {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelId::FaceDetector => "face_detector",
            ModelId::FaceEmbedder => "face_embedder",
            ModelId::TextDetector => "text_detector",
            ModelId::TextRecognizer => "text_recognizer",
            ModelId::PassiveAntiSpoof => "passive_antispoof",
        }
    }
}

/// One entry of the manifest: the parts the engine relies on.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelEntry {
    pub id: String,
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub license: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    models: Vec<ModelEntry>,
}

/// The compiled-in manifest entries.
pub fn manifest() -> Result<Vec<ModelEntry>> {
    serde_json::from_str::<Manifest>(MANIFEST_JSON)
        .map(|m| m.models)
        .map_err(|e| VerifyError::ModelInvalid {
            name: "manifest".into(),
            reason: e.to_string(),
        })
}

/// Model role to lower-case SHA-256, as the compiled-in manifest says: what attestations
/// name and templates are bound to. Parsed once per process.
pub fn shipped_digests() -> Result<BTreeMap<String, String>> {
    static DIGESTS: OnceLock<std::result::Result<BTreeMap<String, String>, String>> =
        OnceLock::new();
    DIGESTS
        .get_or_init(|| {
            manifest()
                .map(|models| {
                    models
                        .into_iter()
                        .map(|m| (m.id, m.sha256.to_ascii_lowercase()))
                        .collect()
                })
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|reason| VerifyError::ModelInvalid {
            name: "manifest".into(),
            reason,
        })
}

fn entry(id: ModelId) -> Result<ModelEntry> {
    manifest()?
        .into_iter()
        .find(|m| m.id == id.as_str())
        .ok_or_else(|| VerifyError::ModelMissing {
            name: id.as_str().into(),
            searched: "the compiled-in manifest".into(),
        })
}

/// Where model files are looked for.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dirs: Vec<PathBuf>,
}

impl ModelStore {
    /// Looks only in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        ModelStore {
            dirs: vec![dir.into()],
        }
    }

    /// The usual places, in order: `$RECLAIM_MODELS_DIR`; `models/` beside the
    /// executable; `../share/reclaim/models` from the executable (system packages); the
    /// source tree this engine was built from (development).
    pub fn discover() -> Self {
        let mut dirs = Vec::new();
        if let Some(dir) = std::env::var_os(MODELS_DIR_ENV) {
            dirs.push(PathBuf::from(dir));
        }
        if let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        {
            dirs.push(exe_dir.join("models"));
            dirs.push(exe_dir.join("../share/reclaim/models"));
        }
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"));
        ModelStore { dirs }
    }

    /// Reads a model file and checks it against the compiled-in digest.
    pub fn read_verified(&self, id: ModelId) -> Result<VerifiedModel> {
        let entry = entry(id)?;
        let path = self
            .dirs
            .iter()
            .map(|d| d.join(&entry.file))
            .find(|p| p.is_file())
            .ok_or_else(|| VerifyError::ModelMissing {
                name: format!("{} ({})", entry.id, entry.file),
                searched: self
                    .dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let bytes = std::fs::read(&path).map_err(|source| VerifyError::Io {
            path: path.clone(),
            source,
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != entry.sha256 {
            return Err(VerifyError::ModelDigestMismatch {
                path,
                expected: entry.sha256,
                actual,
            });
        }
        Ok(VerifiedModel {
            id,
            path,
            sha256: actual,
            bytes,
        })
    }
}

/// A model file whose digest matched the manifest.
#[derive(Debug)]
pub struct VerifiedModel {
    pub id: ModelId,
    pub path: PathBuf,
    pub sha256: String,
    bytes: Vec<u8>,
}

impl VerifiedModel {
    /// A model whose digest the caller has already checked against the one it trusts.
    pub(crate) fn new(id: ModelId, path: PathBuf, sha256: String, bytes: Vec<u8>) -> Self {
        VerifiedModel {
            id,
            path,
            sha256,
            bytes,
        }
    }

    /// Decodes the ONNX protobuf and applies the load-time rewrites for this model. The
    /// file's bytes are released as soon as they are decoded (peak memory at load time).
    pub fn into_prepared_proto(self) -> Result<ModelProto> {
        let invalid = |reason: String| VerifyError::ModelInvalid {
            name: self.id.as_str().into(),
            reason,
        };
        let mut proto = <ModelProto as prost::Message>::decode(self.bytes.as_slice())
            .map_err(|e| invalid(e.to_string()))?;
        drop(self.bytes);
        let graph = proto
            .graph
            .as_mut()
            .ok_or_else(|| invalid("no graph".into()))?;
        onnx_prep::fold_constant_dequantize(graph).map_err(invalid)?;
        match self.id {
            ModelId::FaceDetector => onnx_prep::free_spatial_shapes(graph),
            ModelId::FaceEmbedder => {
                onnx_prep::expand_prelu(graph);
            }
            ModelId::TextDetector | ModelId::PassiveAntiSpoof => {}
            ModelId::TextRecognizer => {
                onnx_prep::restrict_classifier(
                    &mut proto,
                    crate::document::ocr::RECOGNIZER_ALPHABET,
                )
                .map_err(invalid)?;
            }
        }
        Ok(proto)
    }
}

/// A model ready to run: an optimised tract plan, shareable across threads.
pub type Plan = Arc<TypedRunnableModel>;

/// Builds one optimised plan for `proto` per input shape (the model's single input fixed
/// to that shape). The protobuf is released once parsed, before optimisation allocates
/// its own copies of the weights. `threads` above 1 lets tract split its matrix products.
pub fn build_plans(
    id: ModelId,
    proto: ModelProto,
    input_shapes: &[&[usize]],
    threads: usize,
) -> Result<Vec<Plan>> {
    let invalid = |e: TractError| VerifyError::ModelInvalid {
        name: id.as_str().into(),
        reason: format!("{e:#}"),
    };
    let parsed = tract_onnx::onnx()
        .model_for_proto_model(&proto)
        .map_err(invalid)?;
    drop(proto);
    let options = RunOptions {
        executor: (threads > 1).then(|| tract_linalg::multithread::Executor::multithread(threads)),
        ..Default::default()
    };
    let optimize = |model: InferenceModel, shape: &[usize]| -> Result<Plan> {
        model
            .with_input_fact(0, f32::fact(shape).into())
            .map_err(invalid)?
            .into_optimized()
            .map_err(invalid)?
            .into_runnable_with_options(&options)
            .map_err(invalid)
    };
    let Some((last, others)) = input_shapes.split_last() else {
        return Ok(Vec::new());
    };
    let mut plans = Vec::with_capacity(input_shapes.len());
    for shape in others {
        plans.push(optimize(parsed.clone(), shape)?);
    }
    // The last plan takes the parsed model itself rather than a copy.
    plans.push(optimize(parsed, last)?);
    Ok(plans)
}

/// [`build_plans`] for a model run at one input shape only.
pub fn build_plan(
    id: ModelId,
    proto: ModelProto,
    input_shape: &[usize],
    threads: usize,
) -> Result<Plan> {
    build_plans(id, proto, &[input_shape], threads)?
        .pop()
        .ok_or_else(|| VerifyError::ModelInvalid {
            name: id.as_str().into(),
            reason: "no plan was built".into(),
        })
}

/// The NCHW shape of one square three-channel image `side` pixels wide: the input of the
/// face and text detectors and of the face embedder.
pub fn square_input(side: u32) -> [usize; 4] {
    [1, 3, side as usize, side as usize]
}

/// Time spent in each kind of operator, averaged over runs (for `reclaim-lab bench --ops`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpTime {
    pub op: String,
    pub count: usize,
    pub ms: f64,
}

/// Runs `plan` `runs` times on `input` and reports where the time goes, slowest first.
pub fn profile_ops(
    id: ModelId,
    plan: &Plan,
    shape: &[usize],
    input: &[f32],
    runs: usize,
) -> Result<Vec<OpTime>> {
    let failed = |e: TractError| VerifyError::Inference {
        model: id.as_str().into(),
        reason: format!("{e:#}"),
    };
    let tensor: Tensor = tract_ndarray::Array::from_shape_vec(shape.to_vec(), input.to_vec())
        .map_err(|e| VerifyError::Inference {
            model: id.as_str().into(),
            reason: e.to_string(),
        })?
        .into();
    let runs = runs.max(1);
    let mut totals: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for _ in 0..runs {
        let mut state = plan.spawn().map_err(failed)?;
        state
            .run_plan_with_eval(
                tvec!(tensor.clone().into()),
                |ctx, op_state, node, inputs| {
                    let started = std::time::Instant::now();
                    let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs);
                    let entry = totals.entry(node.op.name().to_string()).or_default();
                    entry.0 += started.elapsed().as_secs_f64() * 1000.0;
                    entry.1 += 1;
                    out
                },
            )
            .map_err(failed)?;
    }
    let mut ops: Vec<OpTime> = totals
        .into_iter()
        .map(|(op, (ms, n))| OpTime {
            op,
            count: n / runs,
            ms: ms / runs as f64,
        })
        .collect();
    ops.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    Ok(ops)
}

/// Runs `plan` on one NCHW float tensor and returns its outputs as flat vectors.
pub fn run_plan(
    id: ModelId,
    plan: &Plan,
    shape: &[usize],
    data: Vec<f32>,
) -> Result<Vec<Vec<f32>>> {
    let failed = |e: TractError| VerifyError::Inference {
        model: id.as_str().into(),
        reason: format!("{e:#}"),
    };
    let input = tract_ndarray::Array::from_shape_vec(shape.to_vec(), data).map_err(|e| {
        VerifyError::Inference {
            model: id.as_str().into(),
            reason: e.to_string(),
        }
    })?;
    let outputs = plan
        .run(tvec!(Tensor::from(input).into()))
        .map_err(failed)?;
    outputs
        .iter()
        .map(|t| {
            t.to_plain_array_view::<f32>()
                .map(|v| v.iter().copied().collect())
                .map_err(failed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names_both_face_models_with_digests() {
        let models = manifest().unwrap();
        for id in [ModelId::FaceDetector, ModelId::FaceEmbedder] {
            let m = models.iter().find(|m| m.id == id.as_str()).unwrap();
            assert_eq!(m.sha256.len(), 64);
            assert!(!m.license.is_empty());
        }
    }

    #[test]
    fn a_tampered_model_is_refused() {
        let dir = std::env::temp_dir().join(format!("reclaim-model-tamper-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let original = ModelStore::discover()
            .read_verified(ModelId::FaceDetector)
            .unwrap();
        let mut bytes = std::fs::read(&original.path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(dir.join(original.path.file_name().unwrap()), &bytes).unwrap();
        let err = ModelStore::in_dir(&dir)
            .read_verified(ModelId::FaceDetector)
            .unwrap_err();
        assert_eq!(err.code(), "model_digest_mismatch", "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_model_is_reported_with_where_it_was_looked_for() {
        let err = ModelStore::in_dir("/nonexistent/reclaim-models")
            .read_verified(ModelId::FaceEmbedder)
            .unwrap_err();
        assert_eq!(err.code(), "model_missing");
        assert!(err.to_string().contains("/nonexistent/reclaim-models"));
    }
}
