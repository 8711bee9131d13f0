//! The on-device engine: the same face and document models the server runs, loaded
//! once, digest-checked against the manifest compiled into this build.

use std::collections::BTreeMap;
use std::path::Path;

use reclaim_verify::decision::load_engines;
use reclaim_verify::document::DocumentReader;
use reclaim_verify::models::shipped_digests;
use reclaim_verify::FaceEngine;

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
        let fail = |e: reclaim_verify::VerifyError| ClientError::EngineUnavailable(e.to_string());
        let (faces, documents) = load_engines(dir).map_err(fail)?;
        Ok(DeviceEngine {
            faces,
            documents,
            digests: shipped_digests().map_err(fail)?,
        })
    }
}
