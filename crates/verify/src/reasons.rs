//! Stable reason codes for a face that was looked at and found wanting. The command line's
//! JSON, the server and the app all use these strings; a published code never changes
//! meaning.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    NoFace,
    MultipleFaces,
    FaceTooSmall,
    FaceCutOff,
    Blurry,
    TooDark,
    TooBright,
    PoseOutOfRange,
    /// Two usable faces whose similarity is below the threshold.
    FaceMismatch,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::NoFace => "no_face",
            ReasonCode::MultipleFaces => "multiple_faces",
            ReasonCode::FaceTooSmall => "face_too_small",
            ReasonCode::FaceCutOff => "face_cut_off",
            ReasonCode::Blurry => "blurry",
            ReasonCode::TooDark => "too_dark",
            ReasonCode::TooBright => "too_bright",
            ReasonCode::PoseOutOfRange => "pose_out_of_range",
            ReasonCode::FaceMismatch => "face_mismatch",
        }
    }

    /// What the person in front of the camera can do about it, in plain English.
    pub fn guidance(self) -> &'static str {
        match self {
            ReasonCode::NoFace => "No face was found. Face the camera in good light.",
            ReasonCode::MultipleFaces => {
                "More than one face is in view. Make sure only you are in the picture."
            }
            ReasonCode::FaceTooSmall => "The face is too small. Move closer to the camera.",
            ReasonCode::FaceCutOff => "Part of the face is outside the picture. Center your face.",
            ReasonCode::Blurry => "The picture is blurry. Hold still and clean the lens.",
            ReasonCode::TooDark => "The face is too dark. Find more light or face a window.",
            ReasonCode::TooBright => "The face is too bright. Avoid direct light or glare.",
            ReasonCode::PoseOutOfRange => {
                "The head is turned too far. Look straight at the camera."
            }
            ReasonCode::FaceMismatch => "The two faces do not appear to be the same person.",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_published_codes() {
        for code in [
            ReasonCode::NoFace,
            ReasonCode::MultipleFaces,
            ReasonCode::FaceTooSmall,
            ReasonCode::FaceCutOff,
            ReasonCode::Blurry,
            ReasonCode::TooDark,
            ReasonCode::TooBright,
            ReasonCode::PoseOutOfRange,
            ReasonCode::FaceMismatch,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
