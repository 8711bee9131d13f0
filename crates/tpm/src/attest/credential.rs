//! TPM2_MakeCredential in software, for an ECC endorsement key (TPM 2.0 Part 1, 24
//! "Credential Protection", and 11.4.10 for KDFa/KDFe; Part 3, 12.6).
//!
//! The verifier wraps a secret so that only the TPM holding the EK's private key can unwrap
//! it, and only for the object whose Name it was bound to (the AK): TPM2_ActivateCredential
//! checks the outer HMAC, which covers the Name, against the loaded AK's Name before it
//! releases the secret. What comes back is therefore proof that this AK lives in the same
//! TPM as this EK.
//!
//! ```text
//! (d_e, Q_e) ephemeral on the EK's curve; Z = x(d_e * Q_ek)
//! seed     = KDFe(nameAlg_ek, Z, "IDENTITY", x(Q_e), x(Q_ek), digest bits)
//! symKey   = KDFa(nameAlg_ek, seed, "STORAGE", name_ak, "", EK's symmetric key bits)
//! hmacKey  = KDFa(nameAlg_ek, seed, "INTEGRITY", "", "", digest bits)
//! encId    = AES-CFB(symKey, IV = 0, TPM2B_DIGEST(credential))
//! idObject = TPM2B_DIGEST(HMAC(hmacKey, encId || name_ak)) || encId
//! secret   = TPMS_ECC_POINT(Q_e)
//! ```

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};

use super::{Curve, EccPublic, NameAlg, Symmetric};
use crate::error::TpmError;

/// What TPM2_ActivateCredential takes: `id_object` is the content of the TPM2B_ID_OBJECT
/// (credentialBlob) and `encrypted_secret` of the TPM2B_ENCRYPTED_SECRET (secret), each
/// without its own u16 size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeCredential {
    pub id_object: Vec<u8>,
    pub encrypted_secret: Vec<u8>,
}

/// Wraps `credential` (at most the EK's digest size, as the TPM requires) for the object
/// named `object_name` in the TPM holding `ek`.
pub fn make_credential(
    ek: &EccPublic,
    object_name: &[u8],
    credential: &[u8],
) -> Result<MadeCredential, TpmError> {
    let mut scalar = zeroize::Zeroizing::new(vec![0u8; ek.curve.coordinate_len()]);
    // A random string is a valid scalar with overwhelming probability; retry otherwise.
    for _ in 0..16 {
        getrandom::fill(&mut scalar)
            .map_err(|e| TpmError::Config(format!("no randomness: {e}")))?;
        match make_credential_with(ek, object_name, credential, &scalar) {
            Err(TpmError::Device(_)) => continue,
            other => return other,
        }
    }
    Err(TpmError::Config("no valid ephemeral scalar drawn".into()))
}

/// [`make_credential`] with the ephemeral secret scalar given (tests fix it). An invalid
/// scalar comes back as `TpmError::Device` so the caller can draw again.
pub(crate) fn make_credential_with(
    ek: &EccPublic,
    object_name: &[u8],
    credential: &[u8],
    ephemeral: &[u8],
) -> Result<MadeCredential, TpmError> {
    let hash = ek.name_alg;
    if credential.len() > hash.digest_len() {
        return Err(TpmError::Config(
            "the credential is longer than the EK's digest".into(),
        ));
    }
    let key_bits = match ek.symmetric {
        Symmetric::AesCfb(bits @ (128 | 256)) => bits,
        _ => {
            return Err(TpmError::Unsupported(
                "the EK's symmetric algorithm is not AES-128/256-CFB".into(),
            ))
        }
    };
    let (z, qe_x, qe_y) = ecdh(ek, ephemeral)?;
    let seed = zeroize::Zeroizing::new(kdf_e(
        hash,
        &z,
        b"IDENTITY\0",
        &qe_x,
        &ek.x,
        hash.digest_len() * 8,
    ));
    let sym_key = zeroize::Zeroizing::new(kdf_a(
        hash,
        &seed,
        b"STORAGE\0",
        object_name,
        &[],
        key_bits as usize,
    ));
    let hmac_key = zeroize::Zeroizing::new(kdf_a(
        hash,
        &seed,
        b"INTEGRITY\0",
        &[],
        &[],
        hash.digest_len() * 8,
    ));

    let mut enc_identity = (credential.len() as u16).to_be_bytes().to_vec();
    enc_identity.extend_from_slice(credential);
    aes_cfb_encrypt(&sym_key, &mut enc_identity)?;

    let mut integrity_input = enc_identity.clone();
    integrity_input.extend_from_slice(object_name);
    let outer_hmac = hmac(hash, &hmac_key, &integrity_input);

    let mut id_object = (outer_hmac.len() as u16).to_be_bytes().to_vec();
    id_object.extend_from_slice(&outer_hmac);
    id_object.extend_from_slice(&enc_identity);

    let mut encrypted_secret = (qe_x.len() as u16).to_be_bytes().to_vec();
    encrypted_secret.extend_from_slice(&qe_x);
    encrypted_secret.extend_from_slice(&(qe_y.len() as u16).to_be_bytes());
    encrypted_secret.extend_from_slice(&qe_y);
    Ok(MadeCredential {
        id_object,
        encrypted_secret,
    })
}

type Point = (zeroize::Zeroizing<Vec<u8>>, Vec<u8>, Vec<u8>);

/// Z (the shared x coordinate) and the ephemeral public point, on the EK's curve.
fn ecdh(ek: &EccPublic, ephemeral: &[u8]) -> Result<Point, TpmError> {
    let bad_ek = || TpmError::Malformed("the EK's point is not on its curve".into());
    let bad_scalar = || TpmError::Device("invalid ephemeral scalar".into());
    let point = ek.sec1_point();
    macro_rules! on_curve {
        ($c:ident) => {{
            use $c::elliptic_curve::sec1::ToEncodedPoint;
            let ek_key = $c::PublicKey::from_sec1_bytes(&point).map_err(|_| bad_ek())?;
            let secret = $c::SecretKey::from_slice(ephemeral).map_err(|_| bad_scalar())?;
            let shared = $c::ecdh::diffie_hellman(secret.to_nonzero_scalar(), ek_key.as_affine());
            let z = zeroize::Zeroizing::new(shared.raw_secret_bytes().to_vec());
            let public = secret.public_key().to_encoded_point(false);
            let (x, y) = match (public.x(), public.y()) {
                (Some(x), Some(y)) => (x.to_vec(), y.to_vec()),
                _ => return Err(bad_scalar()),
            };
            Ok((z, x, y))
        }};
    }
    match ek.curve {
        Curve::P256 => on_curve!(p256),
        Curve::P384 => on_curve!(p384),
    }
}

fn hmac(hash: NameAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; the fallbacks keep
    // this free of panics all the same.
    match hash {
        NameAlg::Sha256 => Hmac::<Sha256>::new_from_slice(key)
            .map(|mut m| {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
        NameAlg::Sha384 => Hmac::<Sha384>::new_from_slice(key)
            .map(|mut m| {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
    }
}

/// KDFa (Part 1, 11.4.10.2): HMAC(key, i || label || contextU || contextV || bits), i = 1..
/// `label` already ends with its 0 octet.
pub(crate) fn kdf_a(
    hash: NameAlg,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: usize,
) -> Vec<u8> {
    counter_mode(hash, bits, |counter| {
        let mut input = counter.to_vec();
        input.extend_from_slice(label);
        input.extend_from_slice(context_u);
        input.extend_from_slice(context_v);
        input.extend_from_slice(&(bits as u32).to_be_bytes());
        hmac(hash, key, &input)
    })
}

/// KDFe (Part 1, 11.4.10.3, the SP 800-56A concatenation KDF):
/// H(i || Z || label || partyU || partyV), i = 1.. `label` already ends with its 0 octet.
pub(crate) fn kdf_e(
    hash: NameAlg,
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
    bits: usize,
) -> Vec<u8> {
    counter_mode(hash, bits, |counter| {
        let mut input = counter.to_vec();
        input.extend_from_slice(z);
        input.extend_from_slice(label);
        input.extend_from_slice(party_u);
        input.extend_from_slice(party_v);
        hash.digest(&input)
    })
}

/// What both KDFs share: `block(i)` for the big-endian counter i = 1, 2, ..., concatenated
/// until `bits` are had, and cut to them.
fn counter_mode(hash: NameAlg, bits: usize, mut block: impl FnMut([u8; 4]) -> Vec<u8>) -> Vec<u8> {
    let bytes = bits.div_ceil(8);
    let mut out = Vec::with_capacity(bytes + hash.digest_len());
    let mut counter: u32 = 0;
    while out.len() < bytes {
        counter += 1;
        out.extend(block(counter.to_be_bytes()));
    }
    out.truncate(bytes);
    out
}

fn aes_cfb_encrypt(key: &[u8], data: &mut [u8]) -> Result<(), TpmError> {
    use aes::cipher::{AsyncStreamCipher, KeyIvInit};
    let iv = [0u8; 16];
    let bad = |_| TpmError::Config("bad AES key length".into());
    match key.len() {
        16 => cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
            .map_err(bad)?
            .encrypt(data),
        32 => cfb_mode::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
            .map_err(bad)?
            .encrypt(data),
        _ => return Err(TpmError::Config("bad AES key length".into())),
    }
    Ok(())
}
