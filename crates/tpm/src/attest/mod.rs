//! The TPM 2.0 structures a verifier reads (TPM 2.0 Part 2), parsed in pure Rust with every
//! length bounded by the input, plus the checks built on them: object Names, attributes,
//! the AK's signature over a certification, MakeCredential and the EK certificate.
//!
//! Everything here takes bytes from the network: nothing panics on any input, and every
//! refusal is a [`TpmError`] (see `parse_tests` and the fuzz-style tests).

mod credential;
mod ekcert;
#[cfg(test)]
mod tests;

pub use credential::{make_credential, MadeCredential};
pub use ekcert::{load_ca_certificates, verify_ek_certificate};

use sha2::{Digest, Sha256, Sha384};

use crate::error::{malformed, TpmError};

// Algorithm ids (Part 2, 6.3).
pub(crate) const ALG_RSA: u16 = 0x0001;
pub(crate) const ALG_AES: u16 = 0x0006;
pub(crate) const ALG_SHA256: u16 = 0x000B;
pub(crate) const ALG_SHA384: u16 = 0x000C;
pub(crate) const ALG_NULL: u16 = 0x0010;
pub(crate) const ALG_ECDSA: u16 = 0x0018;
const ALG_ECDAA: u16 = 0x001A;
pub(crate) const ALG_ECC: u16 = 0x0023;
pub(crate) const ALG_CFB: u16 = 0x0043;
// Curves (Part 2, 6.4).
pub(crate) const ECC_NIST_P256: u16 = 0x0003;
pub(crate) const ECC_NIST_P384: u16 = 0x0004;
/// TPM_GENERATED_VALUE: "\xffTCG". A restricted signing key refuses to sign anything that
/// starts with it unless the TPM itself produced the data.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// TPM_ST_ATTEST_CERTIFY.
pub const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;

/// Largest public area accepted (a P-384 ECC public area is about 130 bytes; RSA-4096
/// about 600).
pub const MAX_PUBLIC_BYTES: usize = 1024;
/// Largest TPMS_ATTEST accepted.
pub const MAX_ATTEST_BYTES: usize = 1024;
/// Largest TPMT_SIGNATURE accepted.
pub const MAX_SIGNATURE_BYTES: usize = 512;

/// Object attributes (TPMA_OBJECT, Part 2, 8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    pub const FIXED_TPM: u32 = 1 << 1;
    pub const ST_CLEAR: u32 = 1 << 2;
    pub const FIXED_PARENT: u32 = 1 << 4;
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    pub const ADMIN_WITH_POLICY: u32 = 1 << 7;
    pub const NO_DA: u32 = 1 << 10;
    pub const ENCRYPTED_DUPLICATION: u32 = 1 << 11;
    pub const RESTRICTED: u32 = 1 << 16;
    pub const DECRYPT: u32 = 1 << 17;
    pub const SIGN: u32 = 1 << 18;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit == bit
    }
}

/// A hash a TPM object can name itself with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameAlg {
    Sha256,
    Sha384,
}

impl NameAlg {
    fn from_id(id: u16) -> Result<NameAlg, TpmError> {
        match id {
            ALG_SHA256 => Ok(NameAlg::Sha256),
            ALG_SHA384 => Ok(NameAlg::Sha384),
            other => Err(TpmError::Unsupported(format!(
                "hash algorithm 0x{other:04x}"
            ))),
        }
    }

    pub fn id(self) -> u16 {
        match self {
            NameAlg::Sha256 => ALG_SHA256,
            NameAlg::Sha384 => ALG_SHA384,
        }
    }

    pub fn digest_len(self) -> usize {
        match self {
            NameAlg::Sha256 => 32,
            NameAlg::Sha384 => 48,
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            NameAlg::Sha256 => Sha256::digest(data).to_vec(),
            NameAlg::Sha384 => Sha384::digest(data).to_vec(),
        }
    }
}

/// The elliptic curves this verifier handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

impl Curve {
    fn from_id(id: u16) -> Result<Curve, TpmError> {
        match id {
            ECC_NIST_P256 => Ok(Curve::P256),
            ECC_NIST_P384 => Ok(Curve::P384),
            other => Err(TpmError::Unsupported(format!("ECC curve 0x{other:04x}"))),
        }
    }

    /// Bytes in one coordinate.
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

/// TPMT_SYM_DEF_OBJECT, as far as a verifier needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symmetric {
    Null,
    /// AES in CFB mode with this many key bits.
    AesCfb(u16),
    /// Anything else (algorithm, key bits, mode), kept so the Name still computes.
    Other(u16, u16, u16),
}

/// An ECC public area (TPMT_PUBLIC with type TPM_ALG_ECC), with its exact bytes kept so its
/// Name can be computed over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EccPublic {
    /// The marshalled TPMT_PUBLIC (without the TPM2B size).
    pub bytes: Vec<u8>,
    pub name_alg: NameAlg,
    pub attributes: ObjectAttributes,
    pub auth_policy: Vec<u8>,
    pub symmetric: Symmetric,
    /// The signing scheme: `None` for TPM_ALG_NULL, else (scheme, hash).
    pub scheme: Option<(u16, u16)>,
    pub curve: Curve,
    /// The KDF scheme id (TPM_ALG_NULL for every key we accept).
    pub kdf: u16,
    /// The point, each coordinate left-padded to the curve's size.
    pub x: Vec<u8>,
    pub y: Vec<u8>,
}

impl EccPublic {
    /// The object's Name: nameAlg (2 bytes, big-endian) || H_nameAlg(TPMT_PUBLIC).
    pub fn name(&self) -> Vec<u8> {
        let mut name = self.name_alg.id().to_be_bytes().to_vec();
        name.extend(self.name_alg.digest(&self.bytes));
        name
    }

    /// The TPM2B_PUBLIC form (size, then the TPMT_PUBLIC).
    pub fn to_tpm2b(&self) -> Vec<u8> {
        let mut out = (self.bytes.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&self.bytes);
        out
    }

    /// The uncompressed SEC1 point, `04 || x || y`.
    pub fn sec1_point(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(1 + self.x.len() + self.y.len());
        p.push(4);
        p.extend_from_slice(&self.x);
        p.extend_from_slice(&self.y);
        p
    }

    /// The key as a registered device key (P-256 only).
    pub fn device_key(&self) -> Result<reclaim_protocol::PublicDeviceKey, TpmError> {
        if self.curve != Curve::P256 {
            return Err(TpmError::Unsupported("a device key must be P-256".into()));
        }
        reclaim_protocol::PublicDeviceKey::from_p256_sec1(&self.sec1_point())
            .map_err(|e| malformed(format!("the device key's point: {e}")))
    }

    /// The ECDSA P-256 verifying key (for an AK).
    pub(crate) fn p256_verifying_key(&self) -> Result<p256::ecdsa::VerifyingKey, TpmError> {
        if self.curve != Curve::P256 {
            return Err(TpmError::Unsupported("the AK must be P-256".into()));
        }
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.sec1_point())
            .map_err(|_| malformed("the key's point is not on P-256"))
    }
}

/// A bounded big-endian reader over untrusted bytes.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { data, what }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], TpmError> {
        if n > self.data.len() {
            return Err(malformed(format!("{} is truncated", self.what)));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, TpmError> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, TpmError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, TpmError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, TpmError> {
        let hi = self.u32()? as u64;
        let lo = self.u32()? as u64;
        Ok(hi << 32 | lo)
    }

    /// A TPM2B: a u16 size, then at most `max` bytes (the size is checked against both the
    /// limit and what is left before anything is taken).
    pub(crate) fn tpm2b(&mut self, max: usize) -> Result<&'a [u8], TpmError> {
        let n = self.u16()? as usize;
        if n > max {
            return Err(malformed(format!(
                "{}: a field of {n} bytes is too long",
                self.what
            )));
        }
        self.bytes(n)
    }

    pub(crate) fn finish(self) -> Result<(), TpmError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(malformed(format!("{} has trailing bytes", self.what)))
        }
    }
}

/// Left-pads a big-endian integer to `len` bytes; refuses a longer one.
pub(crate) fn left_pad(value: &[u8], len: usize, what: &str) -> Result<Vec<u8>, TpmError> {
    if value.len() > len {
        return Err(malformed(format!("{what} is longer than {len} bytes")));
    }
    let mut out = vec![0u8; len - value.len()];
    out.extend_from_slice(value);
    Ok(out)
}

/// Parses a TPM2B_PUBLIC (u16 size, then a TPMT_PUBLIC) holding an ECC key.
pub fn parse_public(tpm2b: &[u8]) -> Result<EccPublic, TpmError> {
    if tpm2b.len() > MAX_PUBLIC_BYTES + 2 {
        return Err(malformed("the public area is too large"));
    }
    let mut outer = Reader::new(tpm2b, "TPM2B_PUBLIC");
    let inner = outer.tpm2b(MAX_PUBLIC_BYTES)?;
    outer.finish()?;
    parse_tpmt_public(inner)
}

/// Parses a TPMT_PUBLIC holding an ECC key.
pub fn parse_tpmt_public(bytes: &[u8]) -> Result<EccPublic, TpmError> {
    let mut r = Reader::new(bytes, "TPMT_PUBLIC");
    let kind = r.u16()?;
    let name_alg = r.u16()?;
    let attributes = ObjectAttributes(r.u32()?);
    let auth_policy = r.tpm2b(64)?.to_vec();
    match kind {
        ALG_ECC => {}
        ALG_RSA => return Err(TpmError::Unsupported("RSA keys".into())),
        other => return Err(TpmError::Unsupported(format!("object type 0x{other:04x}"))),
    }
    let name_alg = NameAlg::from_id(name_alg)?;
    let symmetric = match r.u16()? {
        ALG_NULL => Symmetric::Null,
        alg => {
            let bits = r.u16()?;
            let mode = r.u16()?;
            if alg == ALG_AES && mode == ALG_CFB {
                Symmetric::AesCfb(bits)
            } else {
                Symmetric::Other(alg, bits, mode)
            }
        }
    };
    let scheme = match r.u16()? {
        ALG_NULL => None,
        ALG_ECDAA => {
            let hash = r.u16()?;
            let _count = r.u16()?;
            Some((ALG_ECDAA, hash))
        }
        s => Some((s, r.u16()?)),
    };
    let curve = Curve::from_id(r.u16()?)?;
    let kdf = r.u16()?;
    if kdf != ALG_NULL {
        let _kdf_hash = r.u16()?;
    }
    let n = curve.coordinate_len();
    let x = left_pad(r.tpm2b(n)?, n, "x")?;
    let y = left_pad(r.tpm2b(n)?, n, "y")?;
    r.finish()?;
    Ok(EccPublic {
        bytes: bytes.to_vec(),
        name_alg,
        attributes,
        auth_policy,
        symmetric,
        scheme,
        curve,
        kdf,
        x,
        y,
    })
}

/// A certification (TPMS_ATTEST of type TPM_ST_ATTEST_CERTIFY), as far as it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifyInfo {
    /// The signer's qualified name (not relied on: the signature says who signed).
    pub qualified_signer: Vec<u8>,
    /// The caller's qualifying data, here the registration's secret.
    pub extra_data: Vec<u8>,
    /// The certified object's Name.
    pub name: Vec<u8>,
    pub qualified_name: Vec<u8>,
}

/// Parses a TPMS_ATTEST and insists it is a TPM-generated certification.
pub fn parse_certify_info(bytes: &[u8]) -> Result<CertifyInfo, TpmError> {
    if bytes.len() > MAX_ATTEST_BYTES {
        return Err(malformed("the certification is too large"));
    }
    let mut r = Reader::new(bytes, "TPMS_ATTEST");
    let magic = r.u32()?;
    let kind = r.u16()?;
    // Names are an algorithm id plus a digest (at most SHA-512), or a 4-byte handle.
    let qualified_signer = r.tpm2b(2 + 64)?.to_vec();
    let extra_data = r.tpm2b(64)?.to_vec();
    let _clock = r.u64()?;
    let _reset_count = r.u32()?;
    let _restart_count = r.u32()?;
    let _safe = r.u8()?;
    let _firmware = r.u64()?;
    if magic != TPM_GENERATED_VALUE {
        return Err(TpmError::CertificationInvalid(
            "not generated by a TPM (magic)".into(),
        ));
    }
    if kind != TPM_ST_ATTEST_CERTIFY {
        return Err(TpmError::CertificationInvalid(format!(
            "an attestation of type 0x{kind:04x}, not a certify"
        )));
    }
    let name = r.tpm2b(2 + 64)?.to_vec();
    let qualified_name = r.tpm2b(2 + 64)?.to_vec();
    r.finish()?;
    Ok(CertifyInfo {
        qualified_signer,
        extra_data,
        name,
        qualified_name,
    })
}

/// An ECDSA signature over SHA-256 (TPMT_SIGNATURE), as r and s of 32 bytes each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdsaSignature {
    pub r: [u8; 32],
    pub s: [u8; 32],
}

impl EcdsaSignature {
    pub(crate) fn to_p256(&self) -> Result<p256::ecdsa::Signature, TpmError> {
        p256::ecdsa::Signature::from_scalars(self.r, self.s).map_err(|_| {
            TpmError::CertificationInvalid("the signature's r or s is out of range".into())
        })
    }

    /// The JWS form, r||s.
    pub fn to_jws(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.r);
        out[32..].copy_from_slice(&self.s);
        out
    }
}

/// Parses a TPMT_SIGNATURE; only ECDSA with SHA-256 is accepted.
pub fn parse_signature(bytes: &[u8]) -> Result<EcdsaSignature, TpmError> {
    if bytes.len() > MAX_SIGNATURE_BYTES {
        return Err(malformed("the signature is too large"));
    }
    let mut r = Reader::new(bytes, "TPMT_SIGNATURE");
    let alg = r.u16()?;
    if alg != ALG_ECDSA {
        return Err(TpmError::Unsupported(format!(
            "signature algorithm 0x{alg:04x}; only ECDSA"
        )));
    }
    let hash = r.u16()?;
    if hash != ALG_SHA256 {
        return Err(TpmError::Unsupported(format!(
            "signature hash 0x{hash:04x}; only SHA-256"
        )));
    }
    let sig_r = left_pad(r.tpm2b(32)?, 32, "r")?;
    let sig_s = left_pad(r.tpm2b(32)?, 32, "s")?;
    r.finish()?;
    let mut out = EcdsaSignature {
        r: [0; 32],
        s: [0; 32],
    };
    out.r.copy_from_slice(&sig_r);
    out.s.copy_from_slice(&sig_s);
    Ok(out)
}

/// Checks the AK's ECDSA-SHA256 signature over the exact TPMS_ATTEST bytes.
pub fn verify_certify_signature(
    ak: &EccPublic,
    attest: &[u8],
    signature: &EcdsaSignature,
) -> Result<(), TpmError> {
    use p256::ecdsa::signature::Verifier;
    let key = ak.p256_verifying_key()?;
    let sig = signature.to_p256()?;
    // Either S is fine here: the TPM does not normalise, and uniqueness of this signature
    // buys nothing (the secret inside is single-use).
    key.verify(attest, &sig)
        .map_err(|_| TpmError::CertificationInvalid("the AK's signature does not verify".into()))
}

fn require(
    role: &'static str,
    attrs: ObjectAttributes,
    set: &[(u32, &str)],
    clear: &[(u32, &str)],
) -> Result<(), TpmError> {
    for (bit, name) in set {
        if !attrs.has(*bit) {
            return Err(TpmError::AttributesInvalid {
                role,
                reason: format!("{name} is not set"),
            });
        }
    }
    for (bit, name) in clear {
        if attrs.has(*bit) {
            return Err(TpmError::AttributesInvalid {
                role,
                reason: format!("{name} is set"),
            });
        }
    }
    Ok(())
}

/// An attestation key: created in the TPM (sensitiveDataOrigin), never leaves it
/// (fixedTPM, fixedParent), and restricted signing, so it signs only what the TPM itself
/// generated (quotes, certifications) and never an outside digest made to look like one.
/// P-256, ECDSA with SHA-256, named with SHA-256.
pub fn check_ak(ak: &EccPublic) -> Result<(), TpmError> {
    use ObjectAttributes as A;
    require(
        "attestation key",
        ak.attributes,
        &[
            (A::FIXED_TPM, "fixedTPM"),
            (A::FIXED_PARENT, "fixedParent"),
            (A::SENSITIVE_DATA_ORIGIN, "sensitiveDataOrigin"),
            (A::RESTRICTED, "restricted"),
            (A::SIGN, "sign"),
        ],
        &[(A::DECRYPT, "decrypt")],
    )?;
    if ak.curve != Curve::P256 || ak.name_alg != NameAlg::Sha256 {
        return Err(TpmError::Unsupported(
            "the attestation key must be P-256 named with SHA-256".into(),
        ));
    }
    if ak.scheme != Some((ALG_ECDSA, ALG_SHA256)) {
        return Err(TpmError::AttributesInvalid {
            role: "attestation key",
            reason: "its scheme is not ECDSA with SHA-256".into(),
        });
    }
    Ok(())
}

/// A device key: made in the TPM (sensitiveDataOrigin) and bound to it (fixedTPM,
/// fixedParent: no duplication, so the private part never exists outside this chip), a
/// plain signing key (sign, not decrypt), and not restricted, since it signs the
/// application's own data (tokens). P-256, named with SHA-256; a scheme, if fixed, must be
/// ECDSA with SHA-256 (what ES256 needs).
pub fn check_device_key(key: &EccPublic) -> Result<(), TpmError> {
    use ObjectAttributes as A;
    require(
        "device key",
        key.attributes,
        &[
            (A::FIXED_TPM, "fixedTPM"),
            (A::FIXED_PARENT, "fixedParent"),
            (A::SENSITIVE_DATA_ORIGIN, "sensitiveDataOrigin"),
            (A::SIGN, "sign"),
        ],
        &[(A::DECRYPT, "decrypt"), (A::RESTRICTED, "restricted")],
    )?;
    if key.curve != Curve::P256 || key.name_alg != NameAlg::Sha256 {
        return Err(TpmError::Unsupported(
            "the device key must be P-256 named with SHA-256".into(),
        ));
    }
    if !matches!(key.scheme, None | Some((ALG_ECDSA, ALG_SHA256))) {
        return Err(TpmError::AttributesInvalid {
            role: "device key",
            reason: "its scheme is not ECDSA with SHA-256".into(),
        });
    }
    Ok(())
}

/// An endorsement key as the TCG EK profile makes it: fixedTPM, fixedParent,
/// sensitiveDataOrigin, restricted decryption (it only ever decrypts credentials and
/// imports, never signs), with AES-CFB for the credential's inner wrapping.
pub fn check_ek(ek: &EccPublic) -> Result<(), TpmError> {
    use ObjectAttributes as A;
    require(
        "endorsement key",
        ek.attributes,
        &[
            (A::FIXED_TPM, "fixedTPM"),
            (A::FIXED_PARENT, "fixedParent"),
            (A::SENSITIVE_DATA_ORIGIN, "sensitiveDataOrigin"),
            (A::RESTRICTED, "restricted"),
            (A::DECRYPT, "decrypt"),
        ],
        &[(A::SIGN, "sign")],
    )?;
    match ek.symmetric {
        Symmetric::AesCfb(128 | 256) => Ok(()),
        _ => Err(TpmError::Unsupported(
            "the endorsement key's symmetric algorithm is not AES-128/256-CFB".into(),
        )),
    }
}
