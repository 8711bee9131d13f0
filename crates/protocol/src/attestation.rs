//! The attestation: what the device found, signed with its device key, as a compact JWS
//! (RFC 7515) with EdDSA over Ed25519 (RFC 8037) for software keys or ES256 (ECDSA P-256
//! with SHA-256, RFC 7518 3.4) for keys held in a TPM.
//!
//! The checker is deliberately narrow. The algorithm is fixed by the key the server
//! registered, never chosen by the token: a header whose `alg` is not the registered key's
//! (`ES256` for an Ed25519 key, `EdDSA` for a P-256 key, `none`, any HMAC keyed with the
//! public key) is refused, so no "alg confusion" can get through; one token type is
//! accepted; the protected header may hold nothing but `alg`, `typ` and `kid`; the
//! signature is checked (strictly: no malleable, high-S or small-order signatures) before
//! a byte of the payload is parsed; and the claims are checked against what the server expects
//! for this session: audience, session, nonce (compared in constant time), issue time and
//! expiry, and a lifetime no longer than policy allows.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::codes::Code;
use crate::keys::{DeviceKey, KeyAlgorithm, KeyId, P256DeviceKey, PublicDeviceKey, PublicKey};
use crate::wire::{RecoveryAction, PROTOCOL_VERSION};

/// The `typ` of an attestation token.
pub const ATTESTATION_TYPE: &str = "reclaim-attestation+jws";
/// Longest token accepted, in bytes; checked before anything is decoded.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Longest protected header accepted, in bytes once decoded.
const MAX_HEADER_BYTES: usize = 1024;

/// Why a token was refused. Each has a stable code for the server's answers and logs
/// (which never include the token itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("the token is {0} bytes; at most {MAX_TOKEN_BYTES} are accepted")]
    TooLarge(usize),
    #[error("not a compact JWS: {0}")]
    Malformed(&'static str),
    #[error("the protected header is invalid: {0}")]
    HeaderInvalid(String),
    #[error("algorithm `{0}` is not accepted for this key")]
    AlgorithmNotAllowed(String),
    #[error("token type `{0}` is not an attestation")]
    WrongType(String),
    #[error("key {0} is not registered")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the claims are invalid: {0}")]
    ClaimsInvalid(String),
    #[error("protocol version {0} is not supported")]
    UnsupportedVersion(u32),
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token is for another session")]
    WrongSession,
    #[error("the nonce does not match this session's")]
    WrongNonce,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued in the future")]
    NotYetValid,
    #[error("the token's lifetime exceeds the policy's")]
    LifetimeTooLong,
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

impl AttestationError {
    pub fn code(&self) -> Code {
        match self {
            AttestationError::TooLarge(_) => Code::TokenTooLarge,
            AttestationError::Malformed(_) => Code::TokenMalformed,
            AttestationError::HeaderInvalid(_) => Code::TokenHeaderInvalid,
            AttestationError::AlgorithmNotAllowed(_) => Code::TokenAlgNotAllowed,
            AttestationError::WrongType(_) => Code::TokenTypeInvalid,
            AttestationError::UnknownKey(_) => Code::DeviceUnknown,
            AttestationError::BadSignature => Code::TokenSignatureInvalid,
            AttestationError::ClaimsInvalid(_) => Code::TokenClaimsInvalid,
            AttestationError::UnsupportedVersion(_) => Code::ProtocolVersionUnsupported,
            AttestationError::WrongAudience => Code::TokenAudienceMismatch,
            AttestationError::WrongSession => Code::TokenSessionMismatch,
            AttestationError::WrongNonce => Code::TokenNonceMismatch,
            AttestationError::Expired => Code::TokenExpired,
            AttestationError::NotYetValid => Code::TokenNotYetValid,
            AttestationError::LifetimeTooLong => Code::TokenLifetimeTooLong,
            AttestationError::Signing(_) => Code::TokenSigningFailed,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// One result the engine reported, with the threshold it was judged against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultScore {
    /// e.g. `face_match`, `liveness.parallax`, `document.check_digits`.
    pub name: String,
    pub score: f64,
    pub threshold: f64,
    /// `at_least` or `at_most`.
    pub rule: String,
    pub passed: bool,
}

/// The camera the frames came from. Virtual and file-backed sources are always declared;
/// production policy refuses them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    pub name: String,
    /// The capture backend (e.g. `v4l2`, `avfoundation`, `mediafoundation`).
    pub backend: String,
    pub virtual_device: bool,
    pub file_backed: bool,
}

/// The SHA-256 of one piece of evidence (an ID photo, a selfie frame), so uploaded
/// evidence can be tied to the attestation byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceDigest {
    pub name: String,
    pub sha256: String,
}

/// What the device's engine concluded about the capture: the attestation's `decision`.
/// The service's own answer is a [`crate::wire::decision::Decision`]; this is only a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceVerdict {
    Verified,
    Rejected,
}

impl DeviceVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceVerdict::Verified => "verified",
            DeviceVerdict::Rejected => "rejected",
        }
    }
}

/// What a device attests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationClaims {
    /// Protocol version.
    pub ver: u32,
    /// The device's key id (must be the header's `kid`).
    pub iss: String,
    /// The server the token is for.
    pub aud: String,
    /// Issued at and expiry, Unix seconds.
    pub iat: u64,
    pub exp: u64,
    pub session: String,
    pub nonce: String,
    pub user: String,
    pub action: RecoveryAction,
    /// The device's engine's verdict (`verified` or `rejected`; anything else does not
    /// parse, `token_claims_invalid`).
    pub decision: DeviceVerdict,
    pub reasons: Vec<String>,
    pub results: Vec<ResultScore>,
    /// Model role to SHA-256 of the model file the engine ran.
    pub models: BTreeMap<String, String>,
    pub app_version: String,
    pub camera: Camera,
    pub timings_ms: BTreeMap<String, f64>,
    pub evidence: Vec<EvidenceDigest>,
    /// What the device read from the ID (first-time verification), so the server can
    /// compare it with the directory record when it does not re-read the evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<AttestedDocument>,
    /// The selfie's face embedding (base64 of the model's 128 little-endian f32), for a returning user:
    /// the template it is compared with never leaves the server. Biometric: never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_embedding: Option<String>,
}

/// The identity fields of a document, as the device's engine read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestedDocument {
    /// `td1`, `td2`, `td3`, `aamva`, ...
    pub kind: String,
    pub surname: String,
    pub given_names: String,
    /// The MRZ name field was full, so its last name may be cut short.
    #[serde(default)]
    pub names_truncated: bool,
    /// ISO 8601 dates.
    pub birth_date: Option<String>,
    pub expiry_date: Option<String>,
    /// Every check digit verified (MRZ) or the barcode parsed cleanly (AAMVA).
    pub checks_passed: bool,
}

/// What the server expects of a token for one session.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub audience: &'a str,
    pub session: &'a str,
    pub nonce: &'a str,
    /// Now, Unix seconds.
    pub now: u64,
    /// Tolerated clock difference between device and server, seconds.
    pub leeway_s: u64,
    /// Longest `exp - iat` accepted, seconds.
    pub max_lifetime_s: u64,
}

/// Something that can sign a token for a device key: an Ed25519 [`DeviceKey`], a software
/// [`P256DeviceKey`], or a key held in a TPM (the `reclaim-tpm` crate), whose secret never
/// leaves the chip.
pub trait AttestationSigner {
    /// The id of the key that signs.
    fn key_id(&self) -> KeyId;
    /// The key's kind; it fixes the token's `alg`.
    fn algorithm(&self) -> KeyAlgorithm;
    /// The JWS signature of `signing_input` (the ASCII `header.payload`): for Ed25519 the
    /// 64-byte signature, for P-256 ECDSA over SHA-256(`signing_input`) as r||s, 32 bytes
    /// each, big-endian (RFC 7518 3.4; not DER). An error says why signing failed (never
    /// anything secret).
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, String>;
}

impl AttestationSigner for DeviceKey {
    fn key_id(&self) -> KeyId {
        DeviceKey::key_id(self)
    }
    fn algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::Ed25519
    }
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, String> {
        Ok(self.signing_key().sign(signing_input).to_bytes().to_vec())
    }
}

impl AttestationSigner for P256DeviceKey {
    fn key_id(&self) -> KeyId {
        P256DeviceKey::key_id(self)
    }
    fn algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::P256
    }
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, String> {
        Ok(self.sign_es256(signing_input).to_vec())
    }
}

/// Signs `claims` with the Ed25519 `key`; `claims.iss` is set to the key's id.
pub fn sign_attestation(
    claims: &AttestationClaims,
    key: &DeviceKey,
) -> Result<String, AttestationError> {
    sign_attestation_with(claims, key)
}

/// Signs `claims` with any [`AttestationSigner`] (e.g. a TPM-held key); `claims.iss` is set
/// to the key's id and `alg` to the key's algorithm.
pub fn sign_attestation_with(
    claims: &AttestationClaims,
    key: &dyn AttestationSigner,
) -> Result<String, AttestationError> {
    let kid = key.key_id();
    let algorithm = key.algorithm();
    let header = Header {
        alg: algorithm.jws_alg().into(),
        typ: ATTESTATION_TYPE.into(),
        kid: kid.as_str().into(),
    };
    let mut claims = claims.clone();
    claims.iss = kid.as_str().into();
    let encode = |v: &dyn erased::Json| {
        v.to_json()
            .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
            .map_err(|e| AttestationError::Signing(e.to_string()))
    };
    let signing_input = format!("{}.{}", encode(&header)?, encode(&claims)?);
    let signature = key
        .sign(signing_input.as_bytes())
        .map_err(AttestationError::Signing)?;
    let signature = match algorithm {
        KeyAlgorithm::Ed25519 => signature,
        // A TPM returns whichever s its arithmetic produced; the checker accepts only the
        // low-S form (see `verify_es256`), so normalise here, once, for every signer.
        KeyAlgorithm::P256 => {
            let parsed = p256::ecdsa::Signature::from_slice(&signature).map_err(|_| {
                AttestationError::Signing("the signer's ES256 signature is not r||s".into())
            })?;
            parsed.normalize_s().unwrap_or(parsed).to_bytes().to_vec()
        }
    };
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AttestationError::TooLarge(token.len()));
    }
    Ok(token)
}

/// Checks `token` completely and returns its claims. `key_for` looks up a registered
/// device key by id (the caller checks the key's trust tier and revocation there).
pub fn verify_attestation(
    token: &str,
    key_for: impl Fn(&str) -> Option<PublicDeviceKey>,
    expected: &Expected,
) -> Result<AttestationClaims, AttestationError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AttestationError::TooLarge(token.len()));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AttestationError::Malformed(
            "three dot-separated parts expected",
        ));
    };
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(AttestationError::Malformed("an empty part"));
    }
    let header_bytes = URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|_| AttestationError::Malformed("the header is not base64url"))?;
    if header_bytes.len() > MAX_HEADER_BYTES {
        return Err(AttestationError::HeaderInvalid("too large".into()));
    }
    // `alg` is looked at first, on its own, so that an algorithm no key can have (`none`,
    // HS256, ...) is named as such even when the rest of its header would not parse. This
    // only narrows the field: which of the two is acceptable is decided by the registered
    // key below, never by the header.
    let alg = serde_json::from_slice::<serde_json::Value>(&header_bytes)
        .ok()
        .and_then(|v| v.get("alg").and_then(|a| a.as_str()).map(str::to_string));
    match alg.as_deref() {
        Some("EdDSA" | "ES256") => {}
        Some(other) => return Err(AttestationError::AlgorithmNotAllowed(other.into())),
        None => return Err(AttestationError::HeaderInvalid("no `alg`".into())),
    }
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|e| AttestationError::HeaderInvalid(e.to_string()))?;
    if header.typ != ATTESTATION_TYPE {
        return Err(AttestationError::WrongType(header.typ));
    }
    let key =
        key_for(&header.kid).ok_or_else(|| AttestationError::UnknownKey(header.kid.clone()))?;
    // The registry's key must really be the one the token names.
    if key.key_id().as_str() != header.kid {
        return Err(AttestationError::UnknownKey(header.kid));
    }
    // The registered key decides the algorithm: a token whose header claims the other one
    // is refused before its signature is even decoded.
    if header.alg != key.algorithm().jws_alg() {
        return Err(AttestationError::AlgorithmNotAllowed(header.alg));
    }
    // Both algorithms have 64-byte signatures; anything else is refused here.
    let signature_bytes: [u8; 64] = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| AttestationError::Malformed("the signature is not base64url"))?
        .try_into()
        .map_err(|_| AttestationError::BadSignature)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    match &key.0 {
        PublicKey::Ed25519(k) => k
            .verify_strict(
                signing_input.as_bytes(),
                &Signature::from_bytes(&signature_bytes),
            )
            .map_err(|_| AttestationError::BadSignature)?,
        PublicKey::P256(k) => verify_es256(k, signing_input.as_bytes(), &signature_bytes)?,
    }

    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| AttestationError::Malformed("the payload is not base64url"))?;
    let claims: AttestationClaims = serde_json::from_slice(&payload)
        .map_err(|e| AttestationError::ClaimsInvalid(e.to_string()))?;
    check_claims(&claims, &header.kid, expected)?;
    Ok(claims)
}

/// ES256 as RFC 7518 3.4 defines it: r||s, each 32 bytes big-endian (a DER signature is
/// refused by the length check before this). r and s must be in 1..n. High-S signatures
/// (s > n/2) are refused: (r, n - s) is valid for the same message, and refusing one of
/// the pair makes every token's signature unique, as `verify_strict` does for Ed25519, so
/// no one can mint a second, different-looking copy of a token someone else signed. Our
/// signers normalise to low S (`sign_attestation_with`), so honest tokens never hit this.
fn verify_es256(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), AttestationError> {
    use p256::ecdsa::signature::Verifier;
    let signature = p256::ecdsa::Signature::from_slice(signature)
        .map_err(|_| AttestationError::BadSignature)?;
    if signature.normalize_s().is_some() {
        return Err(AttestationError::BadSignature);
    }
    key.verify(message, &signature)
        .map_err(|_| AttestationError::BadSignature)
}

fn check_claims(
    claims: &AttestationClaims,
    kid: &str,
    expected: &Expected,
) -> Result<(), AttestationError> {
    if claims.ver != PROTOCOL_VERSION {
        return Err(AttestationError::UnsupportedVersion(claims.ver));
    }
    if claims.iss != kid {
        return Err(AttestationError::ClaimsInvalid(
            "`iss` is not the signing key".into(),
        ));
    }
    if claims.aud != expected.audience {
        return Err(AttestationError::WrongAudience);
    }
    if !bool::from(claims.session.as_bytes().ct_eq(expected.session.as_bytes())) {
        return Err(AttestationError::WrongSession);
    }
    if !bool::from(claims.nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) {
        return Err(AttestationError::WrongNonce);
    }
    if claims.exp <= claims.iat {
        return Err(AttestationError::ClaimsInvalid(
            "`exp` is not after `iat`".into(),
        ));
    }
    if claims.exp - claims.iat > expected.max_lifetime_s {
        return Err(AttestationError::LifetimeTooLong);
    }
    if expected.now > claims.exp.saturating_add(expected.leeway_s) {
        return Err(AttestationError::Expired);
    }
    if claims.iat > expected.now.saturating_add(expected.leeway_s) {
        return Err(AttestationError::NotYetValid);
    }
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !claims.evidence.iter().all(|e| hex64(&e.sha256))
        || !claims.models.values().all(|d| hex64(d))
    {
        return Err(AttestationError::ClaimsInvalid(
            "a digest is not 64 hex digits".into(),
        ));
    }
    Ok(())
}

/// Serialising either the header or the claims through one closure.
mod erased {
    pub trait Json {
        fn to_json(&self) -> serde_json::Result<Vec<u8>>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> serde_json::Result<Vec<u8>> {
            serde_json::to_vec(self)
        }
    }
}

#[cfg(test)]
mod tests;
