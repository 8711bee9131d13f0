//! The reasons a face that was looked at can be found wanting: each is a code of the
//! registry (`reclaim_protocol::codes`), whose text the command line's JSON, the server
//! and the app all use; a published code never changes meaning.

use reclaim_protocol::Code;
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    pub const ALL: [ReasonCode; 9] = [
        ReasonCode::NoFace,
        ReasonCode::MultipleFaces,
        ReasonCode::FaceTooSmall,
        ReasonCode::FaceCutOff,
        ReasonCode::Blurry,
        ReasonCode::TooDark,
        ReasonCode::TooBright,
        ReasonCode::PoseOutOfRange,
        ReasonCode::FaceMismatch,
    ];

    /// The registry's code for it.
    pub const fn code(self) -> Code {
        match self {
            ReasonCode::NoFace => Code::NoFace,
            ReasonCode::MultipleFaces => Code::MultipleFaces,
            ReasonCode::FaceTooSmall => Code::FaceTooSmall,
            ReasonCode::FaceCutOff => Code::FaceCutOff,
            ReasonCode::Blurry => Code::Blurry,
            ReasonCode::TooDark => Code::TooDark,
            ReasonCode::TooBright => Code::TooBright,
            ReasonCode::PoseOutOfRange => Code::PoseOutOfRange,
            ReasonCode::FaceMismatch => Code::FaceMismatch,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.code().as_str()
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

reclaim_protocol::serialize_as_code!(ReasonCode);

impl<'de> Deserialize<'de> for ReasonCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ReasonCode, D::Error> {
        let code = Code::deserialize(d)?;
        ReasonCode::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or_else(|| serde::de::Error::custom(format_args!("{code} is not a face reason")))
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
        for code in ReasonCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ReasonCode>(&json).unwrap(), code);
        }
        assert!(serde_json::from_str::<ReasonCode>("\"liveness_too_slow\"").is_err());
    }
}
