//! The on-device engine: the same face and document models the server runs, loaded
//! once, digest-checked against the manifest compiled into this build.

use std::collections::BTreeMap;
use std::path::Path;

use reclaim_verify::document::DocumentReader;
use reclaim_verify::models::{manifest, ModelStore};
use reclaim_verify::{EngineOptions, FaceEngine};

use crate::error::{ClientError, Result};

pub struct DeviceEngine {
    pub faces: FaceEngine,
    pub documents: DocumentReader,
    /// Model role to SHA-256, for the attestation.
    pub digests: BTreeMap<String, String>,
}

impl DeviceEngine {
    /// Loads the models from `dir`, or from where the install put them.
    pub fn load(dir: Option<&Path>) -> Result<DeviceEngine> {
        let store = dir.map_or_else(ModelStore::discover, ModelStore::in_dir);
        let fail = |e: reclaim_verify::VerifyError| ClientError::EngineUnavailable(e.to_string());
        let faces = FaceEngine::load(EngineOptions {
            models: store.clone(),
            ..EngineOptions::default()
        })
        .map_err(fail)?;
        let documents = DocumentReader::load(&store, 1).map_err(fail)?;
        let digests = manifest()
            .map_err(fail)?
            .into_iter()
            .map(|m| (m.id, m.sha256.to_ascii_lowercase()))
            .collect();
        Ok(DeviceEngine {
            faces,
            documents,
            digests,
        })
    }
}
