//! Registering a TPM-held device key, in two steps, so that a replayed or borrowed
//! certification cannot pass.
//!
//! 1. The device sends its endorsement key (EK) public area, the EK certificate from the
//!    TPM's NV storage when it has one, and an attestation key's (AK) public area
//!    ([`RegistrationRequest`]). The verifier checks that the EK is trusted (certificate
//!    chained to a configured CA, or EK enrolled by an admin) and that the AK is a
//!    restricted signing key bound to its TPM, draws a fresh 32-byte secret, and wraps it
//!    with MakeCredential for (EK, AK Name) ([`Challenge`]). It keeps a
//!    [`PendingRegistration`] (the AK, the secret's SHA-256, an expiry), never the secret.
//! 2. The device unwraps the secret with TPM2_ActivateCredential, which the TPM performs
//!    only if the AK with exactly that Name is loaded in the TPM that owns the EK. It then
//!    has the AK certify the device key with TPM2_Certify, qualifyingData = the secret,
//!    and sends the key's public area, the certification and the AK's signature
//!    ([`CertificationProof`]). The verifier checks the signature with the pending AK, that
//!    the certified Name is the presented key's, the key's attributes, and that the
//!    qualifying data is this registration's secret (constant time); the pending state is
//!    consumed, so each challenge is answered at most once.
//!
//! All binary fields travel as unpadded base64url in JSON, so both messages go over HTTP or
//! in a file (`reclaim device register --tpm-attestation FILE`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reclaim_protocol::PublicDeviceKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::attest::{self, EccPublic};
use crate::error::{malformed, TpmError};

/// The `format` of a TPM 2.0 registration (other platforms' attestations would carry
/// their own; see docs/tpm.md).
pub const FORMAT_TPM2: &str = "tpm2";
/// How long a challenge may be answered, by default.
pub const DEFAULT_CHALLENGE_TTL_S: u64 = 300;
/// Longest base64url field accepted, in characters (a certificate of 8 KiB and change).
const MAX_BLOB_CHARS: usize = 12 * 1024;

/// Bytes that travel as unpadded base64url.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() > MAX_BLOB_CHARS {
            return Err(serde::de::Error::custom("a base64url field is too long"));
        }
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(|_| serde::de::Error::custom("a field is not unpadded base64url"))
    }
}

/// Step 1, device to verifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// [`FORMAT_TPM2`].
    pub format: String,
    /// The EK's TPM2B_PUBLIC.
    pub ek_public: Blob,
    /// The EK certificate (DER) from the TPM's NV index, when the TPM has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ek_certificate: Option<Blob>,
    /// Intermediate CA certificates (DER) between the EK certificate and a configured CA,
    /// if the vendor's chain needs them (most TPMs' NV holds only the EK certificate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ek_intermediates: Vec<Blob>,
    /// The AK's TPM2B_PUBLIC.
    pub ak_public: Blob,
}

/// Step 1's answer, verifier to device: TPM2_ActivateCredential's two inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    pub format: String,
    /// Names this registration; the proof must carry it back.
    pub registration_id: String,
    /// Unix seconds after which the proof is refused.
    pub expires_at: u64,
    /// The content of the TPM2B_ID_OBJECT (credentialBlob).
    pub credential_blob: Blob,
    /// The content of the TPM2B_ENCRYPTED_SECRET (secret).
    pub encrypted_secret: Blob,
}

/// What the verifier keeps between the steps (in its database; never sent to the device).
/// Holds no secret: only the secret's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingRegistration {
    pub registration_id: String,
    pub expires_at: u64,
    /// The AK's TPM2B_PUBLIC, as checked in step 1.
    pub ak_public: Blob,
    /// SHA-256 of the secret wrapped for the AK, hex.
    pub secret_sha256: String,
    /// How the EK was trusted: `certificate` or `enrolled`.
    pub ek_trust: String,
    /// The EK's Name, hex (to audit which TPM registered).
    pub ek_name: String,
}

/// Step 2, device to verifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificationProof {
    pub format: String,
    pub registration_id: String,
    /// The device key's TPM2B_PUBLIC.
    pub key_public: Blob,
    /// The TPMS_ATTEST the AK signed (the content of TPM2_Certify's certifyInfo).
    pub certify_info: Blob,
    /// The AK's TPMT_SIGNATURE over `certify_info`.
    pub signature: Blob,
}

/// A registration that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredTpmKey {
    /// The device key, as the server registers it (P-256: tokens are ES256).
    pub key: PublicDeviceKey,
    /// `certificate` or `enrolled`.
    pub ek_trust: String,
    /// The EK's Name, hex.
    pub ek_name: String,
    /// The AK's Name, hex.
    pub ak_name: String,
}

/// What the deployment trusts.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// CA certificates (DER) whose EK certificates are trusted: the TPM vendors' CAs
    /// ([`attest::load_ca_certificates`] reads PEM or DER files).
    pub ca_certificates: Vec<Vec<u8>>,
    /// EKs an admin enrolled, by Name in hex (`tpm2_readpublic` prints it as `name:`); for
    /// TPMs without an EK certificate.
    pub enrolled_ek_names: Vec<String>,
    /// Seconds a challenge stays answerable; [`DEFAULT_CHALLENGE_TTL_S`] when 0.
    pub challenge_ttl_s: u64,
}

/// The verifier: what the server runs. Stateless; the caller stores the
/// [`PendingRegistration`] between the steps and deletes it before calling
/// [`Verifier::finish`] (so a proof can be tried against it once).
#[derive(Debug, Clone)]
pub struct Verifier {
    policy: TrustPolicy,
}

/// The EK's Name in hex, as enrolled in [`TrustPolicy::enrolled_ek_names`].
pub fn ek_name_hex(ek_public: &[u8]) -> Result<String, TpmError> {
    Ok(hex::encode(attest::parse_public(ek_public)?.name()))
}

fn random<const N: usize>() -> Result<zeroize::Zeroizing<[u8; N]>, TpmError> {
    let mut out = zeroize::Zeroizing::new([0u8; N]);
    getrandom::fill(out.as_mut()).map_err(|e| TpmError::Config(format!("no randomness: {e}")))?;
    Ok(out)
}

impl Verifier {
    pub fn new(policy: TrustPolicy) -> Verifier {
        Verifier { policy }
    }

    /// Step 1: checks the EK's trust and the AK, and wraps a fresh secret for them.
    pub fn begin(
        &self,
        request: &RegistrationRequest,
        now: u64,
    ) -> Result<(Challenge, PendingRegistration), TpmError> {
        if request.format != FORMAT_TPM2 {
            return Err(TpmError::Unsupported(format!(
                "attestation format `{:.40}`",
                request.format
            )));
        }
        let ek = attest::parse_public(&request.ek_public.0)?;
        attest::check_ek(&ek)?;
        let ek_trust = self.trust_ek(request, &ek, now)?;
        let ak = attest::parse_public(&request.ak_public.0)?;
        attest::check_ak(&ak)?;

        let secret = random::<32>()?;
        let made = attest::make_credential(&ek, &ak.name(), secret.as_ref())?;
        let registration_id = hex::encode(*random::<16>()?);
        let ttl = match self.policy.challenge_ttl_s {
            0 => DEFAULT_CHALLENGE_TTL_S,
            t => t,
        };
        let expires_at = now.saturating_add(ttl);
        let challenge = Challenge {
            format: FORMAT_TPM2.into(),
            registration_id: registration_id.clone(),
            expires_at,
            credential_blob: Blob(made.id_object),
            encrypted_secret: Blob(made.encrypted_secret),
        };
        let pending = PendingRegistration {
            registration_id,
            expires_at,
            ak_public: request.ak_public.clone(),
            secret_sha256: hex::encode(Sha256::digest(secret.as_ref())),
            ek_trust: ek_trust.into(),
            ek_name: hex::encode(ek.name()),
        };
        Ok((challenge, pending))
    }

    fn trust_ek(
        &self,
        request: &RegistrationRequest,
        ek: &EccPublic,
        now: u64,
    ) -> Result<&'static str, TpmError> {
        let name = hex::encode(ek.name());
        if self
            .policy
            .enrolled_ek_names
            .iter()
            .any(|n| n.trim().eq_ignore_ascii_case(&name))
        {
            return Ok("enrolled");
        }
        let Some(cert) = &request.ek_certificate else {
            return Err(TpmError::EkUntrusted(
                "no EK certificate, and the EK is not enrolled".into(),
            ));
        };
        if self.policy.ca_certificates.is_empty() {
            return Err(TpmError::EkUntrusted(
                "no CA is configured, and the EK is not enrolled".into(),
            ));
        }
        let intermediates: Vec<Vec<u8>> = request
            .ek_intermediates
            .iter()
            .map(|b| b.0.clone())
            .collect();
        attest::verify_ek_certificate(
            &cert.0,
            &intermediates,
            &self.policy.ca_certificates,
            ek,
            now,
        )?;
        Ok("certificate")
    }

    /// Step 2: checks the certification against the pending registration, which the
    /// caller has already removed from its store (single use).
    pub fn finish(
        &self,
        pending: PendingRegistration,
        proof: &CertificationProof,
        now: u64,
    ) -> Result<RegisteredTpmKey, TpmError> {
        if proof.format != FORMAT_TPM2 {
            return Err(TpmError::Unsupported(format!(
                "attestation format `{:.40}`",
                proof.format
            )));
        }
        if !bool::from(
            proof
                .registration_id
                .as_bytes()
                .ct_eq(pending.registration_id.as_bytes()),
        ) {
            return Err(TpmError::ChallengeMismatch);
        }
        if now > pending.expires_at {
            return Err(TpmError::ChallengeExpired);
        }
        let ak = attest::parse_public(&pending.ak_public.0)?;
        let key = attest::parse_public(&proof.key_public.0)?;
        let signature = attest::parse_signature(&proof.signature.0)?;
        // The signature first: nothing in the certification is believed before the AK
        // (which step 1 proved lives in the EK's TPM) is shown to have signed it.
        attest::verify_certify_signature(&ak, &proof.certify_info.0, &signature)?;
        let info = attest::parse_certify_info(&proof.certify_info.0)?;
        let want = hex::decode(&pending.secret_sha256)
            .map_err(|_| malformed("the pending registration's digest"))?;
        let got = Sha256::digest(&info.extra_data);
        if !bool::from(got.as_slice().ct_eq(&want)) {
            return Err(TpmError::ChallengeMismatch);
        }
        if !bool::from(info.name.as_slice().ct_eq(&key.name())) {
            return Err(TpmError::KeyMismatch);
        }
        attest::check_device_key(&key)?;
        Ok(RegisteredTpmKey {
            key: key.device_key()?,
            ek_trust: pending.ek_trust,
            ek_name: pending.ek_name,
            ak_name: hex::encode(ak.name()),
        })
    }
}
