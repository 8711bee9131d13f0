//! The parsers and checks against hand-made structures: the good ones pass, and truncated,
//! oversized, trailing and random input is refused with a typed error, never a panic.

use super::*;
use crate::registration::{Blob, CertificationProof, PendingRegistration, Verifier};
use p256::ecdsa::signature::Signer;

const DEVICE_ATTRS: u32 = ObjectAttributes::FIXED_TPM
    | ObjectAttributes::FIXED_PARENT
    | ObjectAttributes::SENSITIVE_DATA_ORIGIN
    | ObjectAttributes::USER_WITH_AUTH
    | ObjectAttributes::SIGN;
const AK_ATTRS: u32 = DEVICE_ATTRS | ObjectAttributes::RESTRICTED;

fn tpm2b(data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// A TPMT_PUBLIC for an ECC P-256 signing key with these attributes and scheme.
fn tpmt_public(key: &p256::ecdsa::SigningKey, attrs: u32, scheme: Option<(u16, u16)>) -> Vec<u8> {
    let point = key.verifying_key().to_encoded_point(false);
    let mut out = Vec::new();
    out.extend_from_slice(&ALG_ECC.to_be_bytes());
    out.extend_from_slice(&ALG_SHA256.to_be_bytes());
    out.extend_from_slice(&attrs.to_be_bytes());
    out.extend(tpm2b(&[]));
    out.extend_from_slice(&ALG_NULL.to_be_bytes()); // symmetric
    match scheme {
        None => out.extend_from_slice(&ALG_NULL.to_be_bytes()),
        Some((s, h)) => {
            out.extend_from_slice(&s.to_be_bytes());
            out.extend_from_slice(&h.to_be_bytes());
        }
    }
    out.extend_from_slice(&ECC_NIST_P256.to_be_bytes());
    out.extend_from_slice(&ALG_NULL.to_be_bytes()); // kdf
    out.extend(tpm2b(point.x().unwrap()));
    out.extend(tpm2b(point.y().unwrap()));
    out
}

fn certify_info(extra: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&TPM_GENERATED_VALUE.to_be_bytes());
    out.extend_from_slice(&TPM_ST_ATTEST_CERTIFY.to_be_bytes());
    out.extend(tpm2b(&[0x00, 0x0b, 1, 2, 3]));
    out.extend(tpm2b(extra));
    out.extend_from_slice(&[0u8; 17]); // clock info
    out.extend_from_slice(&[0u8; 8]); // firmware
    out.extend(tpm2b(name));
    out.extend(tpm2b(name));
    out
}

fn tpmt_signature(key: &p256::ecdsa::SigningKey, data: &[u8]) -> Vec<u8> {
    let sig: p256::ecdsa::Signature = key.sign(data);
    let bytes = sig.to_bytes();
    let mut out = Vec::new();
    out.extend_from_slice(&ALG_ECDSA.to_be_bytes());
    out.extend_from_slice(&ALG_SHA256.to_be_bytes());
    out.extend(tpm2b(&bytes[..32]));
    out.extend(tpm2b(&bytes[32..]));
    out
}

fn sk(byte: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[byte; 32]).unwrap()
}

#[test]
fn a_public_area_parses_and_names_itself() {
    let key = sk(3);
    let bytes = tpmt_public(&key, DEVICE_ATTRS, Some((ALG_ECDSA, ALG_SHA256)));
    let public = parse_public(&tpm2b(&bytes)).unwrap();
    assert_eq!(public.to_tpm2b(), tpm2b(&bytes));
    assert_eq!(public.curve, Curve::P256);
    assert_eq!(public.attributes.0, DEVICE_ATTRS);
    let name = public.name();
    assert_eq!(&name[..2], &[0x00, 0x0b]);
    assert_eq!(&name[2..], Sha256::digest(&bytes).as_slice());
    check_device_key(&public).unwrap();
    assert_eq!(
        check_ak(&public).unwrap_err().code(),
        "tpm_attributes_invalid"
    );
    let device = public.device_key().unwrap();
    assert_eq!(
        device.p256_sec1().unwrap().to_vec(),
        key.verifying_key().to_encoded_point(false).as_bytes()
    );
}

#[test]
fn attributes_decide_the_role() {
    use ObjectAttributes as A;
    let key = sk(4);
    let with = |attrs: u32, scheme| parse_tpmt_public(&tpmt_public(&key, attrs, scheme)).unwrap();
    let ecdsa = Some((ALG_ECDSA, ALG_SHA256));
    check_ak(&with(AK_ATTRS, ecdsa)).unwrap();
    // An AK must be restricted, fixed, made inside, and not decrypt.
    for attrs in [
        AK_ATTRS & !A::RESTRICTED,
        AK_ATTRS & !A::FIXED_TPM,
        AK_ATTRS & !A::FIXED_PARENT,
        AK_ATTRS & !A::SENSITIVE_DATA_ORIGIN,
        AK_ATTRS & !A::SIGN,
        AK_ATTRS | A::DECRYPT,
    ] {
        assert_eq!(
            check_ak(&with(attrs, ecdsa)).unwrap_err().code(),
            "tpm_attributes_invalid"
        );
    }
    assert_eq!(
        check_ak(&with(AK_ATTRS, None)).unwrap_err().code(),
        "tpm_attributes_invalid"
    );
    // A device key: a duplicable key (no fixedTPM) or an imported one is not hardware.
    check_device_key(&with(DEVICE_ATTRS, None)).unwrap();
    for attrs in [
        DEVICE_ATTRS & !A::FIXED_TPM,
        DEVICE_ATTRS & !A::FIXED_PARENT,
        DEVICE_ATTRS & !A::SENSITIVE_DATA_ORIGIN,
        DEVICE_ATTRS & !A::SIGN,
        DEVICE_ATTRS | A::DECRYPT,
        DEVICE_ATTRS | A::RESTRICTED,
    ] {
        assert_eq!(
            check_device_key(&with(attrs, ecdsa)).unwrap_err().code(),
            "tpm_attributes_invalid"
        );
    }
    assert_eq!(
        check_device_key(&with(DEVICE_ATTRS, Some((0x001c, ALG_SHA256))))
            .unwrap_err()
            .code(),
        "tpm_attributes_invalid"
    );
    // Neither can serve as an EK.
    assert_eq!(
        check_ek(&with(AK_ATTRS, ecdsa)).unwrap_err().code(),
        "tpm_attributes_invalid"
    );
}

#[test]
fn truncated_and_padded_structures_are_refused() {
    let key = sk(5);
    let public = tpm2b(&tpmt_public(&key, DEVICE_ATTRS, None));
    let info = certify_info(&[7; 32], &[0, 0x0b, 9, 9]);
    let sig = tpmt_signature(&key, &info);
    for n in 0..public.len() {
        let e = parse_public(&public[..n]).unwrap_err();
        assert_eq!(e.code(), "tpm_malformed", "public cut at {n}");
    }
    for n in 0..info.len() {
        let code = parse_certify_info(&info[..n]).unwrap_err().code().as_str();
        assert!(
            matches!(code, "tpm_malformed" | "tpm_certification_invalid"),
            "attest cut at {n}: {code}"
        );
    }
    for n in 0..sig.len() {
        let code = parse_signature(&sig[..n]).unwrap_err().code().as_str();
        assert!(
            matches!(code, "tpm_malformed" | "tpm_unsupported"),
            "sig cut at {n}: {code}"
        );
    }
    let mut long = public.clone();
    long.push(0);
    assert_eq!(parse_public(&long).unwrap_err().code(), "tpm_malformed");
    let mut long = info.clone();
    long.push(0);
    assert_eq!(
        parse_certify_info(&long).unwrap_err().code(),
        "tpm_malformed"
    );
    let mut long = sig.clone();
    long.push(0);
    assert_eq!(parse_signature(&long).unwrap_err().code(), "tpm_malformed");
    // A size field larger than what follows, or than the field's limit.
    let mut lying = public.clone();
    lying[0] = 0xff;
    assert_eq!(parse_public(&lying).unwrap_err().code(), "tpm_malformed");
    assert_eq!(
        parse_public(&vec![0u8; 5000]).unwrap_err().code(),
        "tpm_malformed"
    );
    // An x coordinate of 33 bytes.
    let inner = tpmt_public(&key, DEVICE_ATTRS, None);
    let mut bad = inner[..inner.len() - 68].to_vec();
    bad.extend(tpm2b(&[1u8; 33]));
    bad.extend(tpm2b(&[1u8; 32]));
    assert_eq!(parse_tpmt_public(&bad).unwrap_err().code(), "tpm_malformed");
}

#[test]
fn only_tpm_generated_certifications_are_certifications() {
    let mut info = certify_info(&[1; 32], &[0, 0x0b, 1]);
    parse_certify_info(&info).unwrap();
    info[0] = 0xfe;
    assert_eq!(
        parse_certify_info(&info).unwrap_err().code(),
        "tpm_certification_invalid"
    );
    let mut quote = certify_info(&[1; 32], &[0, 0x0b, 1]);
    quote[5] = 0x18; // TPM_ST_ATTEST_QUOTE
    assert_eq!(
        parse_certify_info(&quote).unwrap_err().code(),
        "tpm_certification_invalid"
    );
}

#[test]
fn only_ecdsa_sha256_signatures_and_only_the_aks() {
    let ak = sk(6);
    let ak_public =
        parse_tpmt_public(&tpmt_public(&ak, AK_ATTRS, Some((ALG_ECDSA, ALG_SHA256)))).unwrap();
    let info = certify_info(&[1; 32], &[0, 0x0b, 1]);
    let sig = parse_signature(&tpmt_signature(&ak, &info)).unwrap();
    verify_certify_signature(&ak_public, &info, &sig).unwrap();
    let other = parse_signature(&tpmt_signature(&sk(7), &info)).unwrap();
    assert_eq!(
        verify_certify_signature(&ak_public, &info, &other)
            .unwrap_err()
            .code(),
        "tpm_certification_invalid"
    );
    let mut changed = info.clone();
    changed[20] ^= 1;
    assert_eq!(
        verify_certify_signature(&ak_public, &changed, &sig)
            .unwrap_err()
            .code(),
        "tpm_certification_invalid"
    );
    let zero = EcdsaSignature {
        r: [0; 32],
        s: sig.s,
    };
    assert_eq!(
        verify_certify_signature(&ak_public, &info, &zero)
            .unwrap_err()
            .code(),
        "tpm_certification_invalid"
    );
    let mut rsassa = tpmt_signature(&ak, &info);
    rsassa[1] = 0x14;
    assert_eq!(
        parse_signature(&rsassa).unwrap_err().code(),
        "tpm_unsupported"
    );
    let mut sha1 = tpmt_signature(&ak, &info);
    sha1[3] = 0x04;
    assert_eq!(
        parse_signature(&sha1).unwrap_err().code(),
        "tpm_unsupported"
    );
}

#[test]
fn random_bytes_never_panic() {
    // A small deterministic generator: the point is coverage of odd shapes, not secrecy.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let key = sk(8);
    let good = [
        tpm2b(&tpmt_public(&key, DEVICE_ATTRS, None)),
        certify_info(&[1; 32], &[0, 0x0b, 1]),
        tpmt_signature(&key, b"x"),
    ];
    for round in 0..3000 {
        let mut data = if round % 2 == 0 {
            good[round % 3].clone()
        } else {
            (0..(next() % 300) as usize).map(|_| next() as u8).collect()
        };
        // Flip a few bytes of the good ones.
        for _ in 0..(next() % 4) {
            if !data.is_empty() {
                let i = (next() as usize) % data.len();
                data[i] = next() as u8;
            }
        }
        crate::parse(&data);
    }
}

#[test]
fn kdfs_match_their_definitions() {
    // KDFa's first block is HMAC(key, 1 || label || u || v || bits).
    let out = credential::kdf_a(NameAlg::Sha256, b"key", b"STORAGE\0", b"u", b"v", 128);
    let mut input = 1u32.to_be_bytes().to_vec();
    input.extend_from_slice(b"STORAGE\0uv");
    input.extend_from_slice(&128u32.to_be_bytes());
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(b"key").unwrap();
    mac.update(&input);
    assert_eq!(out, mac.finalize().into_bytes()[..16].to_vec());
    // Longer than a digest: two blocks, the second with counter 2.
    assert_eq!(
        credential::kdf_a(NameAlg::Sha256, b"k", b"L\0", b"", b"", 512).len(),
        64
    );
    let e = credential::kdf_e(NameAlg::Sha384, b"z", b"IDENTITY\0", b"u", b"v", 384);
    let mut input = 1u32.to_be_bytes().to_vec();
    input.extend_from_slice(b"zIDENTITY\0uv");
    assert_eq!(e, Sha384::digest(&input).to_vec());
}

/// `finish` against hand-made pending state (the secret known to the test), so each check
/// is seen to fire on its own.
#[test]
fn finish_checks_each_binding() {
    let ak = sk(10);
    let ak_bytes = tpmt_public(&ak, AK_ATTRS, Some((ALG_ECDSA, ALG_SHA256)));
    let key = sk(11);
    let key_bytes = tpmt_public(&key, DEVICE_ATTRS, Some((ALG_ECDSA, ALG_SHA256)));
    let key_public = parse_tpmt_public(&key_bytes).unwrap();
    let secret = [42u8; 32];
    let pending = PendingRegistration {
        registration_id: "r1".into(),
        expires_at: 1000,
        ak_public: Blob(tpm2b(&ak_bytes)),
        secret_sha256: hex::encode(Sha256::digest(secret)),
        ek_trust: "enrolled".into(),
        ek_name: "00".into(),
    };
    let proof = |extra: &[u8], name: &[u8], present: &[u8], signer: &p256::ecdsa::SigningKey| {
        let info = certify_info(extra, name);
        CertificationProof {
            format: "tpm2".into(),
            registration_id: "r1".into(),
            key_public: Blob(tpm2b(present)),
            signature: Blob(tpmt_signature(signer, &info)),
            certify_info: Blob(info),
        }
    };
    let v = Verifier::new(Default::default());
    let code = |p: &CertificationProof, now| match v.finish(pending.clone(), p, now) {
        Ok(_) => "accepted",
        Err(e) => e.code().as_str(),
    };
    let good = proof(&secret, &key_public.name(), &key_bytes, &ak);
    assert_eq!(code(&good, 999), "accepted");
    let got = v.finish(pending.clone(), &good, 999).unwrap();
    assert_eq!(got.key, key_public.device_key().unwrap());
    assert_eq!(code(&good, 1001), "tpm_challenge_expired");
    let mut other_id = good.clone();
    other_id.registration_id = "r2".into();
    assert_eq!(code(&other_id, 999), "tpm_challenge_mismatch");
    assert_eq!(
        code(
            &proof(&[41u8; 32], &key_public.name(), &key_bytes, &ak),
            999
        ),
        "tpm_challenge_mismatch"
    );
    assert_eq!(
        code(
            &proof(&secret, &key_public.name(), &key_bytes, &sk(12)),
            999
        ),
        "tpm_certification_invalid"
    );
    let other_key = tpmt_public(&sk(13), DEVICE_ATTRS, Some((ALG_ECDSA, ALG_SHA256)));
    assert_eq!(
        code(&proof(&secret, &key_public.name(), &other_key, &ak), 999),
        "tpm_key_mismatch"
    );
    let soft = tpmt_public(&key, DEVICE_ATTRS & !ObjectAttributes::FIXED_TPM, None);
    let soft_name = parse_tpmt_public(&soft).unwrap().name();
    assert_eq!(
        code(&proof(&secret, &soft_name, &soft, &ak), 999),
        "tpm_attributes_invalid"
    );
    let mut bad_sig = good.clone();
    bad_sig.signature.0.truncate(10);
    assert_eq!(code(&bad_sig, 999), "tpm_malformed");
}
