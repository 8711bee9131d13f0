//! The models this build ships, by digest: the re-verification refuses an attestation
//! whose device ran others, and face templates are bound to the embedder's digest.

use std::collections::BTreeMap;

use reclaim_verify::models::shipped_digests;

/// Model role to SHA-256, as the manifest compiled into this build says.
pub fn shipped_model_digests() -> Result<BTreeMap<String, String>, String> {
    shipped_digests().map_err(|e| e.to_string())
}

/// The digest templates are bound to: the face embedder's.
pub fn template_model() -> Result<String, String> {
    shipped_model_digests()?
        .remove("face_embedder")
        .ok_or_else(|| "the manifest has no face_embedder".to_string())
}
