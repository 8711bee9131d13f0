//! The endorsement key's certificate: does it chain to a CA the deployment trusts (the TPM
//! vendor's, or swtpm's local CA in tests), and is it a certificate for this very EK?
//!
//! Deliberately small: every configured CA certificate is a trust anchor (an admin who
//! configures a vendor's intermediate CA trusts what it issued); the device may send
//! intermediates, which must be CA certificates and are only used as links; signatures
//! are RSA PKCS#1 v1.5 with SHA-256/384/512 or ECDSA P-256/SHA-256 and P-384/SHA-384,
//! which is what TPM vendors' EK CAs use; validity periods are checked at `now`.
//! EK certificates carry TCG extensions (a critical subjectAltName with the TPM's
//! manufacturer and model, for one) that say nothing this check needs, so they are not
//! interpreted.

use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;

use super::{Curve, EccPublic};
use crate::error::TpmError;

/// Largest certificate accepted, in bytes of DER.
pub const MAX_CERT_BYTES: usize = 8 * 1024;
/// Longest chain from the EK certificate to an anchor (links the device sent).
const MAX_INTERMEDIATES: usize = 4;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";

fn untrusted(why: impl Into<String>) -> TpmError {
    TpmError::EkUntrusted(why.into())
}

/// Reads CA certificates from a file's bytes: one or more PEM `CERTIFICATE` blocks, or one
/// DER certificate. Returns each as DER.
pub fn load_ca_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, TpmError> {
    let bad = |e: String| TpmError::Config(format!("a CA certificate does not parse: {e}"));
    let certs = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        Certificate::load_pem_chain(bytes).map_err(|e| bad(e.to_string()))?
    } else {
        vec![Certificate::from_der(bytes).map_err(|e| bad(e.to_string()))?]
    };
    if certs.is_empty() {
        return Err(TpmError::Config("no certificate in the CA file".into()));
    }
    certs
        .iter()
        .map(|c| c.to_der().map_err(|e| bad(e.to_string())))
        .collect()
}

fn parse(der: &[u8], what: &str) -> Result<Certificate, TpmError> {
    if der.len() > MAX_CERT_BYTES {
        return Err(TpmError::Malformed(format!("the {what} is too large")));
    }
    Certificate::from_der(der)
        .map_err(|e| TpmError::Malformed(format!("the {what} does not parse: {e}")))
}

/// Checks that `ek_cert` (DER) certifies exactly `ek` and chains, through at most a few of
/// the device's `intermediates`, to one of `anchors` (DER), all valid at `now` (Unix s).
pub fn verify_ek_certificate(
    ek_cert: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &[Vec<u8>],
    ek: &EccPublic,
    now: u64,
) -> Result<(), TpmError> {
    if intermediates.len() > MAX_INTERMEDIATES {
        return Err(TpmError::Malformed(
            "too many intermediate certificates".into(),
        ));
    }
    let leaf = parse(ek_cert, "EK certificate")?;
    check_holds_ek(&leaf, ek)?;
    let links = intermediates
        .iter()
        .map(|d| parse(d, "intermediate certificate"))
        .collect::<Result<Vec<_>, _>>()?;
    let anchors = anchors
        .iter()
        .map(|d| {
            Certificate::from_der(d)
                .map_err(|e| TpmError::Config(format!("a CA certificate does not parse: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut current = &leaf;
    let mut used = vec![false; links.len()];
    for _ in 0..=MAX_INTERMEDIATES {
        check_validity(current, now)?;
        if anchors
            .iter()
            .any(|a| issued_by(current, a) && check_validity(a, now).is_ok())
        {
            return Ok(());
        }
        let next = links
            .iter()
            .enumerate()
            .find(|(i, l)| !used[*i] && is_ca(l) && issued_by(current, l));
        match next {
            Some((i, l)) => {
                used[i] = true;
                current = l;
            }
            None => break,
        }
    }
    Err(untrusted(
        "the EK certificate does not chain to a configured CA",
    ))
}

/// The certificate's subject key is the EK's point on the EK's curve.
fn check_holds_ek(cert: &Certificate, ek: &EccPublic) -> Result<(), TpmError> {
    let other = || untrusted("the EK certificate is for another key");
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid.to_string() != OID_EC {
        return Err(other());
    }
    let curve = named_curve(spki.algorithm.parameters.as_ref());
    let want = match ek.curve {
        Curve::P256 => OID_P256,
        Curve::P384 => OID_P384,
    };
    if curve.as_deref() != Some(want) {
        return Err(other());
    }
    let point = spki.subject_public_key.raw_bytes();
    if point != ek.sec1_point().as_slice() {
        return Err(other());
    }
    Ok(())
}

fn check_validity(cert: &Certificate, now: u64) -> Result<(), TpmError> {
    let v = &cert.tbs_certificate.validity;
    let not_before = v.not_before.to_unix_duration().as_secs();
    let not_after = v.not_after.to_unix_duration().as_secs();
    if now < not_before {
        return Err(untrusted("a certificate in the chain is not yet valid"));
    }
    if now > not_after {
        return Err(untrusted("a certificate in the chain has expired"));
    }
    Ok(())
}

fn is_ca(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|e| e.extn_id.to_string() == OID_BASIC_CONSTRAINTS)
        .any(|e| {
            x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes())
                .map(|bc| bc.ca)
                .unwrap_or(false)
        })
}

/// `child` names `parent` as its issuer and carries `parent`'s valid signature.
fn issued_by(child: &Certificate, parent: &Certificate) -> bool {
    if child.tbs_certificate.issuer != parent.tbs_certificate.subject {
        return false;
    }
    // The signature is over the TBS as it was sent; DER has one encoding per value, so
    // re-encoding what was parsed gives the same bytes (and a non-DER certificate is
    // refused by the parser to begin with).
    let Ok(tbs) = child.tbs_certificate.to_der() else {
        return false;
    };
    let Some(signature) = child.signature.as_bytes() else {
        return false;
    };
    let alg = child.signature_algorithm.oid.to_string();
    let spki = &parent.tbs_certificate.subject_public_key_info;
    let key_bytes = spki.subject_public_key.raw_bytes();
    match spki.algorithm.oid.to_string().as_str() {
        OID_RSA => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let Ok(key) = rsa::RsaPublicKey::from_pkcs1_der(key_bytes) else {
                return false;
            };
            let (scheme, digest) = match alg.as_str() {
                OID_RSA_SHA256 => (
                    rsa::Pkcs1v15Sign::new::<Sha256>(),
                    Sha256::digest(&tbs).to_vec(),
                ),
                OID_RSA_SHA384 => (
                    rsa::Pkcs1v15Sign::new::<Sha384>(),
                    Sha384::digest(&tbs).to_vec(),
                ),
                OID_RSA_SHA512 => (
                    rsa::Pkcs1v15Sign::new::<Sha512>(),
                    Sha512::digest(&tbs).to_vec(),
                ),
                _ => return false,
            };
            key.verify(scheme, &digest, signature).is_ok()
        }
        OID_EC => {
            let curve = named_curve(spki.algorithm.parameters.as_ref());
            match (curve.as_deref(), alg.as_str()) {
                (Some(OID_P256), OID_ECDSA_SHA256) => verifies(
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).ok(),
                    p256::ecdsa::Signature::from_der(signature).ok(),
                    &tbs,
                ),
                (Some(OID_P384), OID_ECDSA_SHA384) => verifies(
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).ok(),
                    p384::ecdsa::Signature::from_der(signature).ok(),
                    &tbs,
                ),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The OID of the named curve an EC key's algorithm parameters hold, if they hold one.
fn named_curve(parameters: Option<&der::Any>) -> Option<String> {
    parameters
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string())
}

/// Whether `signature` over `message` verifies with `key`; false when either did not
/// decode.
fn verifies<K: p256::ecdsa::signature::Verifier<S>, S>(
    key: Option<K>,
    signature: Option<S>,
    message: &[u8],
) -> bool {
    match (key, signature) {
        (Some(key), Some(signature)) => key.verify(message, &signature).is_ok(),
        _ => false,
    }
}
