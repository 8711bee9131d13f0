//! `POST /v1/sessions/{id}/attestation`: the signed attestation and the evidence it covers
//! (the ID photos and the selfie frames, byte for byte what the digests were taken of).

use serde::{Deserialize, Serialize};

/// The request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationRequest {
    /// The compact JWS (see [`crate::attestation`]).
    pub token: String,
    /// Empty when the device's signed claims are trusted without it (a managed device,
    /// when the operator allows).
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
}

/// One piece of evidence as uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceItem {
    /// An [`EvidenceName`], as the attestation's digest names it. Text on the wire: the
    /// server refuses a name it does not know with its own code (`evidence_invalid`),
    /// not as a malformed request.
    pub name: String,
    /// Capture time of a selfie frame, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_ms: Option<u64>,
    /// The file's bytes, base64.
    pub data: String,
}

/// What a piece of evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceName {
    IdFront,
    IdBack,
    /// Selfie frame `n`, counted from 0 in capture order (`selfie_00`).
    Selfie(u16),
}

impl EvidenceName {
    /// The name with exactly this spelling: `id_front`, `id_back`, or `selfie_` and the
    /// frame's index in two digits (more only past 99). One spelling per piece, so two
    /// names cannot stand for one frame (`selfie_1` and `selfie_01` are not both accepted).
    pub fn parse(name: &str) -> Option<EvidenceName> {
        match name {
            "id_front" => Some(EvidenceName::IdFront),
            "id_back" => Some(EvidenceName::IdBack),
            _ => {
                let digits = name.strip_prefix("selfie_")?;
                if digits.is_empty()
                    || digits.len() > 5
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                let n = digits.parse::<u16>().ok()?;
                let parsed = EvidenceName::Selfie(n);
                (parsed.to_string() == name).then_some(parsed)
            }
        }
    }

    /// The selfie frame's index, when this is one.
    pub fn selfie_index(self) -> Option<u16> {
        match self {
            EvidenceName::Selfie(n) => Some(n),
            _ => None,
        }
    }
}

impl std::fmt::Display for EvidenceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvidenceName::IdFront => f.write_str("id_front"),
            EvidenceName::IdBack => f.write_str("id_back"),
            EvidenceName::Selfie(n) => write!(f, "selfie_{n:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_written() {
        for n in [
            EvidenceName::IdFront,
            EvidenceName::IdBack,
            EvidenceName::Selfie(0),
            EvidenceName::Selfie(7),
            EvidenceName::Selfie(59),
            EvidenceName::Selfie(100),
        ] {
            assert_eq!(EvidenceName::parse(&n.to_string()), Some(n), "{n}");
        }
        assert_eq!(EvidenceName::Selfie(3).to_string(), "selfie_03");
        assert_eq!(
            EvidenceName::parse("selfie_12"),
            Some(EvidenceName::Selfie(12))
        );
    }

    #[test]
    fn other_spellings_are_not_evidence() {
        for bad in [
            "",
            "selfie_",
            "selfie_1",
            "selfie_001",
            "selfie_+1",
            "selfie_-1",
            "selfie_99999",
            "selfie_123456",
            "selfie_1a",
            "ID_FRONT",
            "id_front ",
            "passport",
        ] {
            assert_eq!(EvidenceName::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_upload_with_an_unknown_field_is_refused() {
        let ok = r#"{"token":"a.b.c","evidence":[{"name":"selfie_00","t_ms":5,"data":"AA=="}]}"#;
        let req: AttestationRequest = serde_json::from_str(ok).unwrap();
        assert_eq!(req.evidence[0].t_ms, Some(5));
        assert!(
            serde_json::from_str::<AttestationRequest>(r#"{"token":"t"}"#)
                .is_ok_and(|r| r.evidence.is_empty())
        );
        let extra = r#"{"token":"t","evidence":[{"name":"id_front","data":"","sha256":"x"}]}"#;
        assert!(serde_json::from_str::<AttestationRequest>(extra).is_err());
    }
}
