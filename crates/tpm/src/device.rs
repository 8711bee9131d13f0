//! The device's side, through the TPM Software Stack (tss-esapi over the system's libtss2):
//! the endorsement key and its certificate, an attestation key, the device key, the
//! answer to the verifier's challenge, and ES256 signing with a key that never leaves the
//! TPM.
//!
//! Keys other than the EK are kept as their TPM2B_PUBLIC and TPM2B_PRIVATE blobs in a file
//! ([`KeyBlob`]). The private blob is encrypted by its parent, a primary key the TPM
//! re-derives from its own seed and a fixed template, so the file is useless on any other
//! TPM (and after a TPM clear). Each operation recreates the primaries it needs and flushes
//! every transient object before it returns, since a TPM holds only a few at once (swtpm:
//! three) and there may be no resource manager in between.

use std::path::Path;
use std::sync::Mutex;

use reclaim_protocol::{AttestationSigner, KeyAlgorithm, KeyId, PublicDeviceKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tss_esapi::abstraction::{ak, ek, AsymmetricAlgorithmSelection};
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{KeyHandle, ObjectHandle, SessionHandle};
use tss_esapi::interface_types::algorithm::{
    HashingAlgorithm, PublicAlgorithm, SignatureSchemeAlgorithm,
};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{
    Data, Digest, EccPoint, EccScheme, EncryptedSecret, HashScheme, HashcheckTicket, IdObject,
    Private, Public, PublicBuilder, PublicEccParametersBuilder, SignatureScheme,
    SymmetricDefinition, SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;
use tss_esapi::{Context, TctiNameConf};

use crate::attest;
use crate::error::TpmError;
use crate::registration::{Blob, CertificationProof, Challenge, RegistrationRequest, FORMAT_TPM2};

/// The kernel's resource-managed TPM device: what the app uses on Linux.
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";
/// The `format` of a key file.
const KEY_FILE_FORMAT: &str = "reclaim-tpm-key-v1";

fn dev(what: &str) -> impl Fn(tss_esapi::Error) -> TpmError + '_ {
    move |e| TpmError::Device(format!("{what}: {e}"))
}

/// Which endorsement key (TCG EK Credential Profile templates) registrations use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EkKind {
    /// ECC NIST P-256, the low-range default template (L-2); certificate at NV 0x01c0000a.
    EccP256,
    /// ECC NIST P-384, the high-range template (H-3); certificate at NV 0x01c00016 (where
    /// swtpm puts its ECC EK certificate).
    EccP384,
}

impl EkKind {
    fn selection(self) -> AsymmetricAlgorithmSelection {
        match self {
            EkKind::EccP256 => AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
            EkKind::EccP384 => AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP384),
        }
    }
}

/// What a key file's key is for, and under which primary it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyParent {
    /// The storage primary (fixed ECC P-256 template, owner hierarchy): device keys.
    Srk,
    /// The endorsement key: attestation keys (as the TCG and tss-esapi make them).
    Ek(EkKind),
}

/// A key made in the TPM, as its public and (parent-encrypted) private blobs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBlob {
    format: String,
    pub parent: KeyParent,
    /// TPM2B_PUBLIC.
    pub public: Blob,
    /// TPM2B_PRIVATE, encrypted by the parent; useless outside this TPM.
    pub private: Blob,
}

impl std::fmt::Debug for KeyBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyBlob({:?}, {} byte public)",
            self.parent,
            self.public.0.len()
        )
    }
}

impl KeyBlob {
    fn new(parent: KeyParent, public: &Public, private: &Private) -> Result<KeyBlob, TpmError> {
        Ok(KeyBlob {
            format: KEY_FILE_FORMAT.into(),
            parent,
            public: Blob(tpm2b(&public.marshall().map_err(dev("marshal public"))?)),
            private: Blob(tpm2b(private.value())),
        })
    }

    /// The key as the server registers it (device keys: P-256).
    pub fn public_device_key(&self) -> Result<PublicDeviceKey, TpmError> {
        attest::parse_public(&self.public.0)?.device_key()
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings and enums cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<KeyBlob, TpmError> {
        let blob: KeyBlob = serde_json::from_str(text)
            .map_err(|e| TpmError::Malformed(format!("the key file: {e}")))?;
        if blob.format != KEY_FILE_FORMAT {
            return Err(TpmError::Malformed("not a Reclaim TPM key file".into()));
        }
        Ok(blob)
    }

    /// Writes the key file, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), TpmError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |e: std::io::Error| TpmError::Device(format!("{}: {e}", path.display()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.write_all(self.to_json().as_bytes()).map_err(io)
    }

    pub fn load(path: &Path) -> Result<KeyBlob, TpmError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TpmError::Device(format!("{}: {e}", path.display())))?;
        KeyBlob::from_json(&text)
    }

    fn tss_public(&self) -> Result<Public, TpmError> {
        Public::unmarshall(untpm2b(&self.public.0)?).map_err(dev("the key's public area"))
    }

    fn tss_private(&self) -> Result<Private, TpmError> {
        Private::try_from(untpm2b(&self.private.0)?.to_vec()).map_err(dev("the key's private area"))
    }
}

fn tpm2b(data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

fn untpm2b(data: &[u8]) -> Result<&[u8], TpmError> {
    let mut r = attest::Reader::new(data, "TPM2B");
    let inner = r.tpm2b(4096)?;
    r.finish()?;
    Ok(inner)
}

/// A connection to a TPM.
pub struct Tpm {
    ctx: Context,
}

impl std::fmt::Debug for Tpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tpm")
    }
}

impl Tpm {
    /// Opens the TPM a TCTI string names: `device:/dev/tpmrm0` ([`DEFAULT_TCTI`]),
    /// `swtpm:host=127.0.0.1,port=2321`, `mssim:...`, `tabrmd:...`.
    pub fn open(tcti: &str) -> Result<Tpm, TpmError> {
        let conf: TctiNameConf = tcti
            .parse()
            .map_err(|e| TpmError::Config(format!("TCTI `{tcti}`: {e}")))?;
        let ctx = Context::new(conf).map_err(dev("opening the TPM"))?;
        Ok(Tpm { ctx })
    }

    /// Runs `f`, then flushes every object it registered, whatever happened.
    fn scoped<T>(
        &mut self,
        f: impl FnOnce(&mut Context, &mut Vec<ObjectHandle>) -> Result<T, TpmError>,
    ) -> Result<T, TpmError> {
        let mut handles = Vec::new();
        let result = f(&mut self.ctx, &mut handles);
        self.ctx.clear_sessions();
        for h in handles {
            let _ = self.ctx.flush_context(h);
        }
        result
    }

    /// The EK with a certificate, P-256 first: real TPMs mostly have a P-256 ECC EK
    /// certificate, swtpm has P-384. Without any ECC certificate, P-256 (an admin then
    /// enrolls the EK by Name).
    pub fn preferred_ek(&mut self) -> EkKind {
        for kind in [EkKind::EccP256, EkKind::EccP384] {
            if matches!(self.ek_certificate(kind), Ok(Some(_))) {
                return kind;
            }
        }
        EkKind::EccP256
    }

    /// The EK certificate (DER) from its NV index, if the TPM has one.
    pub fn ek_certificate(&mut self, kind: EkKind) -> Result<Option<Vec<u8>>, TpmError> {
        // Asked first, so a TPM without the index is not sent a read that fails (and that
        // libtss2 would log as an error).
        let index = match kind {
            EkKind::EccP256 => 0x01c0_000a,
            EkKind::EccP384 => 0x01c0_0016,
        };
        if !nv_defined(&mut self.ctx, index) {
            return Ok(None);
        }
        match ek::retrieve_ek_pubcert(&mut self.ctx, kind.selection()) {
            // Some TPMs pad the NV index; the certificate is the first DER element.
            Ok(bytes) => Ok(Some(der_prefix(&bytes)?.to_vec())),
            // The index is absent (or unreadable): no certificate to offer.
            Err(_) => Ok(None),
        }
    }

    /// The EK's TPM2B_PUBLIC.
    pub fn ek_public(&mut self, kind: EkKind) -> Result<Vec<u8>, TpmError> {
        self.scoped(|ctx, handles| {
            let ek = create_ek(ctx, kind, handles)?;
            let (public, _, _) = ctx.read_public(ek).map_err(dev("reading the EK"))?;
            Ok(tpm2b(&public.marshall().map_err(dev("marshal EK"))?))
        })
    }

    /// The EK's Name in hex: what an admin enrolls for a TPM without an EK certificate.
    pub fn ek_name(&mut self, kind: EkKind) -> Result<String, TpmError> {
        crate::registration::ek_name_hex(&self.ek_public(kind)?)
    }

    /// A new attestation key under the EK: restricted signing, ECC P-256, ECDSA SHA-256.
    pub fn create_attestation_key(&mut self, kind: EkKind) -> Result<KeyBlob, TpmError> {
        self.scoped(|ctx, handles| {
            let ek = create_ek(ctx, kind, handles)?;
            let made = ak::create_ak_2(
                ctx,
                ek,
                HashingAlgorithm::Sha256,
                AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
                SignatureSchemeAlgorithm::EcDsa,
                None,
                None,
            )
            .map_err(dev("creating the AK"))?;
            KeyBlob::new(KeyParent::Ek(kind), &made.out_public, &made.out_private)
        })
    }

    /// A new device key under the storage primary: ECC P-256, ECDSA SHA-256, not
    /// restricted, fixedTPM and fixedParent (never leaves this TPM), userWithAuth.
    pub fn create_device_key(&mut self) -> Result<KeyBlob, TpmError> {
        let template = tss_esapi::utils::create_unrestricted_signing_ecc_public(
            EccScheme::EcDsa(HashScheme::new(HashingAlgorithm::Sha256)),
            EccCurve::NistP256,
        )
        .map_err(dev("the device key template"))?;
        self.create_under_srk(template)
    }

    /// A key with any template under the storage primary (tests use it to make keys that
    /// must be refused, e.g. duplicable ones).
    pub fn create_under_srk(&mut self, template: Public) -> Result<KeyBlob, TpmError> {
        self.scoped(|ctx, handles| {
            let srk = create_srk(ctx, handles)?;
            let made = ctx
                .execute_with_nullauth_session(|ctx| {
                    ctx.create(srk, template, None, None, None, None)
                })
                .map_err(dev("creating the key"))?;
            KeyBlob::new(KeyParent::Srk, &made.out_public, &made.out_private)
        })
    }

    /// Step 1's message for the AK `ak`.
    pub fn registration_request(&mut self, ak: &KeyBlob) -> Result<RegistrationRequest, TpmError> {
        let KeyParent::Ek(kind) = ak.parent else {
            return Err(TpmError::Config("not an attestation key".into()));
        };
        Ok(RegistrationRequest {
            format: FORMAT_TPM2.into(),
            ek_public: Blob(self.ek_public(kind)?),
            ek_certificate: self.ek_certificate(kind)?.map(Blob),
            ek_intermediates: Vec::new(),
            ak_public: ak.public.clone(),
        })
    }

    /// TPM2_ActivateCredential: the secret wrapped in `challenge`, which the TPM releases
    /// only if the AK `ak` (by Name) is loaded in the TPM that owns the EK.
    pub fn activate_credential(
        &mut self,
        ak_blob: &KeyBlob,
        challenge: &Challenge,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, TpmError> {
        let KeyParent::Ek(kind) = ak_blob.parent else {
            return Err(TpmError::Config("not an attestation key".into()));
        };
        let id_object = IdObject::try_from(challenge.credential_blob.0.clone())
            .map_err(|e| TpmError::Malformed(format!("the credential blob: {e}")))?;
        let secret = EncryptedSecret::try_from(challenge.encrypted_secret.0.clone())
            .map_err(|e| TpmError::Malformed(format!("the encrypted secret: {e}")))?;
        self.scoped(|ctx, handles| {
            let ek = create_ek(ctx, kind, handles)?;
            let ak = ak::load_ak(ctx, ek, None, ak_blob.tss_private()?, ak_blob.tss_public()?)
                .map_err(dev("loading the AK"))?;
            handles.push(ak.into());
            let digest = match kind {
                // The low-range EK has no userWithAuth: its policy is PolicySecret on the
                // endorsement hierarchy (TCG EK profile, PolicyA).
                EkKind::EccP256 => {
                    let session = ctx
                        .start_auth_session(
                            None,
                            None,
                            None,
                            SessionType::Policy,
                            SymmetricDefinition::AES_128_CFB,
                            HashingAlgorithm::Sha256,
                        )
                        .map_err(dev("starting a policy session"))?
                        .ok_or_else(|| TpmError::Device("no policy session".into()))?;
                    handles.push(SessionHandle::from(session).into());
                    let policy =
                        PolicySession::try_from(session).map_err(dev("the policy session"))?;
                    ctx.execute_with_nullauth_session(|ctx| {
                        ctx.policy_secret(
                            policy,
                            tss_esapi::handles::AuthHandle::Endorsement,
                            Default::default(),
                            Default::default(),
                            Default::default(),
                            None,
                        )
                    })
                    .map_err(dev("PolicySecret"))?;
                    ctx.execute_with_sessions(
                        (Some(AuthSession::Password), Some(session), None),
                        |ctx| ctx.activate_credential(ak, ek, id_object, secret),
                    )
                }
                // The high-range templates set userWithAuth: the (empty) password will do.
                EkKind::EccP384 => ctx.execute_with_sessions(
                    (
                        Some(AuthSession::Password),
                        Some(AuthSession::Password),
                        None,
                    ),
                    |ctx| ctx.activate_credential(ak, ek, id_object, secret),
                ),
            }
            .map_err(|e| TpmError::ActivationFailed(e.to_string()))?;
            Ok(zeroize::Zeroizing::new(digest.value().to_vec()))
        })
    }

    /// TPM2_Certify: the AK `ak` certifies `key` with `qualifying_data`.
    pub fn certify(
        &mut self,
        ak_blob: &KeyBlob,
        key_blob: &KeyBlob,
        registration_id: &str,
        qualifying_data: &[u8],
    ) -> Result<CertificationProof, TpmError> {
        let KeyParent::Ek(kind) = ak_blob.parent else {
            return Err(TpmError::Config("not an attestation key".into()));
        };
        let data = Data::try_from(qualifying_data.to_vec())
            .map_err(|e| TpmError::Malformed(format!("the qualifying data: {e}")))?;
        self.scoped(|ctx, handles| {
            let key = load_under_srk(ctx, key_blob, handles)?;
            let ek = create_ek(ctx, kind, handles)?;
            let ak = ak::load_ak(ctx, ek, None, ak_blob.tss_private()?, ak_blob.tss_public()?)
                .map_err(dev("loading the AK"))?;
            handles.push(ak.into());
            let (attest, signature) = ctx
                .execute_with_sessions(
                    (
                        Some(AuthSession::Password),
                        Some(AuthSession::Password),
                        None,
                    ),
                    |ctx| ctx.certify(key.into(), ak, data, SignatureScheme::Null),
                )
                .map_err(dev("TPM2_Certify"))?;
            Ok(CertificationProof {
                format: FORMAT_TPM2.into(),
                registration_id: registration_id.into(),
                key_public: key_blob.public.clone(),
                certify_info: Blob(attest.marshall().map_err(dev("marshal attest"))?),
                signature: Blob(signature.marshall().map_err(dev("marshal signature"))?),
            })
        })
    }

    /// Step 2: activates the credential and certifies `key` with the secret.
    pub fn answer_challenge(
        &mut self,
        ak: &KeyBlob,
        key: &KeyBlob,
        challenge: &Challenge,
    ) -> Result<CertificationProof, TpmError> {
        let secret = self.activate_credential(ak, challenge)?;
        self.certify(ak, key, &challenge.registration_id, &secret)
    }

    /// ECDSA over a SHA-256 `digest` with the device key, as r||s (as the TPM made it).
    pub fn sign_digest(
        &mut self,
        key_blob: &KeyBlob,
        digest: &[u8; 32],
    ) -> Result<[u8; 64], TpmError> {
        let (digest, validation) = sign_input(digest)?;
        self.scoped(|ctx, handles| {
            let key = load_under_srk(ctx, key_blob, handles)?;
            let bytes = sign(ctx, key, digest, validation)?;
            Ok(attest::parse_signature(&bytes)?.to_jws())
        })
    }

    /// Signs `digest` with a *restricted* key (an AK) through TPM2_Sign. The TPM refuses
    /// when the digest is of data that starts with TPM_GENERATED_VALUE and it did not
    /// hash it itself: which is why an AK cannot be made to sign a forged certification.
    /// Exposed so the tests can show that refusal on a real TPM.
    pub fn sign_with_ak(
        &mut self,
        ak_blob: &KeyBlob,
        digest: &[u8; 32],
    ) -> Result<Vec<u8>, TpmError> {
        let KeyParent::Ek(kind) = ak_blob.parent else {
            return Err(TpmError::Config("not an attestation key".into()));
        };
        let (digest, validation) = sign_input(digest)?;
        self.scoped(|ctx, handles| {
            let ek = create_ek(ctx, kind, handles)?;
            let ak = ak::load_ak(ctx, ek, None, ak_blob.tss_private()?, ak_blob.tss_public()?)
                .map_err(dev("loading the AK"))?;
            handles.push(ak.into());
            sign(ctx, ak, digest, validation)
        })
    }
}

/// A SHA-256 `digest` for TPM2_Sign, with a null hashcheck ticket: the TPM did not hash
/// the data itself. An unrestricted key signs such a digest; a restricted one (an AK)
/// refuses when the data starts with TPM_GENERATED_VALUE.
fn sign_input(digest: &[u8; 32]) -> Result<(Digest, HashcheckTicket), TpmError> {
    let digest = Digest::try_from(digest.to_vec()).map_err(dev("the digest"))?;
    let validation = HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
        tag: TPM2_ST_HASHCHECK,
        hierarchy: TPM2_RH_NULL,
        digest: Default::default(),
    })
    .map_err(dev("the hashcheck ticket"))?;
    Ok((digest, validation))
}

/// TPM2_Sign with `key` and the key's own scheme; the signature marshalled
/// (TPMT_SIGNATURE).
fn sign(
    ctx: &mut Context,
    key: KeyHandle,
    digest: Digest,
    validation: HashcheckTicket,
) -> Result<Vec<u8>, TpmError> {
    let signature = ctx
        .execute_with_nullauth_session(|ctx| {
            ctx.sign(key, digest, SignatureScheme::Null, validation)
        })
        .map_err(dev("TPM2_Sign"))?;
    signature.marshall().map_err(dev("marshal signature"))
}

fn nv_defined(ctx: &mut Context, index: u32) -> bool {
    use tss_esapi::constants::CapabilityType;
    use tss_esapi::structures::CapabilityData;
    match ctx.get_capability(CapabilityType::Handles, index, 1) {
        Ok((CapabilityData::Handles(list), _)) => list
            .iter()
            .any(|h| tss_esapi::tss2_esys::TPM2_HANDLE::from(*h) == index),
        _ => false,
    }
}

/// The first DER element of `bytes` (its tag, length and content).
fn der_prefix(bytes: &[u8]) -> Result<&[u8], TpmError> {
    let bad = || TpmError::Malformed("the EK certificate is not DER".into());
    if bytes.len() < 2 || bytes[0] != 0x30 {
        return Err(bad());
    }
    let (header, len) = match bytes[1] {
        n if n < 0x80 => (2, n as usize),
        0x81 => (3, *bytes.get(2).ok_or_else(bad)? as usize),
        0x82 => (
            4,
            u16::from_be_bytes([
                *bytes.get(2).ok_or_else(bad)?,
                *bytes.get(3).ok_or_else(bad)?,
            ]) as usize,
        ),
        _ => return Err(bad()),
    };
    bytes.get(..header + len).ok_or_else(bad)
}

fn create_ek(
    ctx: &mut Context,
    kind: EkKind,
    handles: &mut Vec<ObjectHandle>,
) -> Result<KeyHandle, TpmError> {
    let ek = ek::create_ek_object_2(ctx, kind.selection(), None).map_err(dev("creating the EK"))?;
    handles.push(ek.into());
    Ok(ek)
}

/// The storage primary key: ECC P-256 restricted decryption, AES-128-CFB, SHA-256, noDA,
/// from a fixed template (the TCG provisioning guidance's SRK), so the TPM derives the
/// same key from its owner seed every time.
fn create_srk(ctx: &mut Context, handles: &mut Vec<ObjectHandle>) -> Result<KeyHandle, TpmError> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_restricted(true)
        .with_decrypt(true)
        .build()
        .map_err(dev("the SRK attributes"))?;
    let template = PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()
            .map_err(dev("the SRK parameters"))?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
        .map_err(dev("the SRK template"))?;
    let srk = ctx
        .execute_with_nullauth_session(|ctx| {
            ctx.create_primary(Hierarchy::Owner, template, None, None, None, None)
        })
        .map_err(dev("creating the storage primary"))?
        .key_handle;
    handles.push(srk.into());
    Ok(srk)
}

/// Loads a key under a fresh storage primary, then flushes the primary (a loaded key does
/// not need its parent loaded), leaving one slot used.
fn load_under_srk(
    ctx: &mut Context,
    blob: &KeyBlob,
    handles: &mut Vec<ObjectHandle>,
) -> Result<KeyHandle, TpmError> {
    if blob.parent != KeyParent::Srk {
        return Err(TpmError::Config(
            "not a key under the storage primary".into(),
        ));
    }
    let (private, public) = (blob.tss_private()?, blob.tss_public()?);
    let srk = create_srk(ctx, handles)?;
    let key = ctx
        .execute_with_nullauth_session(|ctx| ctx.load(srk, private, public))
        .map_err(dev("loading the key"))?;
    handles.push(key.into());
    let _ = ctx.flush_context(srk.into());
    handles.retain(|h| *h != ObjectHandle::from(srk));
    Ok(key)
}

/// A TPM-held device key as an [`AttestationSigner`]: `sign_attestation_with` makes ES256
/// tokens with it.
pub struct TpmSigner {
    tpm: Mutex<Tpm>,
    key: KeyBlob,
    public: PublicDeviceKey,
}

impl std::fmt::Debug for TpmSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TpmSigner({})", self.public.key_id())
    }
}

impl TpmSigner {
    pub fn new(tpm: Tpm, key: KeyBlob) -> Result<TpmSigner, TpmError> {
        let public = key.public_device_key()?;
        Ok(TpmSigner {
            tpm: Mutex::new(tpm),
            key,
            public,
        })
    }

    pub fn public(&self) -> PublicDeviceKey {
        self.public
    }
}

impl AttestationSigner for TpmSigner {
    fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    fn algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::P256
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, String> {
        let digest: [u8; 32] = Sha256::digest(signing_input).into();
        let mut tpm = self
            .tpm
            .lock()
            .map_err(|_| "the TPM lock is poisoned".to_string())?;
        tpm.sign_digest(&self.key, &digest)
            .map(|s| s.to_vec())
            .map_err(|e| e.to_string())
    }
}
