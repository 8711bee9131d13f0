//! TPM registration and signing against a real software TPM (swtpm, started by the
//! testkit with its own EK certificates) through the real TSS stack (tss-esapi, libtss2):
//! the honest path, and each way a registration must be refused, by its error code.

use std::time::{SystemTime, UNIX_EPOCH};

use reclaim_protocol::{
    sign_attestation_with, verify_attestation, AttestationClaims, Expected, KeyAlgorithm,
    PublicDeviceKey, RecoveryAction,
};
use reclaim_testkit::swtpm::Swtpm;
use reclaim_tpm::attest;
use reclaim_tpm::device::{EkKind, KeyBlob, Tpm, TpmSigner};
use reclaim_tpm::{
    CertificationProof, Challenge, PendingRegistration, RegisteredTpmKey, RegistrationRequest,
    TpmError, TrustPolicy, Verifier,
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The CA certificates behind `swtpm`'s EK certificates, as a deployment configures its
/// TPM vendors' CAs.
fn trusting(swtpm: &Swtpm) -> TrustPolicy {
    let mut ca_certificates = Vec::new();
    for path in swtpm.ca_certificates() {
        ca_certificates
            .extend(attest::load_ca_certificates(&std::fs::read(path).unwrap()).unwrap());
    }
    TrustPolicy {
        ca_certificates,
        ..Default::default()
    }
}

/// A TPM with an AK and a device key, as the app makes them.
struct Device {
    swtpm: Swtpm,
    tpm: Tpm,
    ak: KeyBlob,
    key: KeyBlob,
}

impl Device {
    fn new(swtpm: Swtpm, kind: Option<EkKind>) -> Device {
        let mut tpm = Tpm::open(&swtpm.tcti()).unwrap();
        let kind = kind.unwrap_or_else(|| tpm.preferred_ek());
        let ak = tpm.create_attestation_key(kind).unwrap();
        let key = tpm.create_device_key().unwrap();
        Device {
            swtpm,
            tpm,
            ak,
            key,
        }
    }

    fn start() -> Device {
        Device::new(Swtpm::start().unwrap(), None)
    }

    /// Step 1, through JSON both ways as over HTTP.
    fn begin(&mut self, v: &Verifier) -> Result<(Challenge, PendingRegistration), TpmError> {
        let request = self.tpm.registration_request(&self.ak).unwrap();
        let request: RegistrationRequest =
            serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
        let (challenge, pending) = v.begin(&request, now())?;
        let challenge = serde_json::from_str(&serde_json::to_string(&challenge).unwrap()).unwrap();
        Ok((challenge, pending))
    }

    fn answer(&mut self, challenge: &Challenge) -> CertificationProof {
        let proof = self
            .tpm
            .answer_challenge(&self.ak, &self.key, challenge)
            .unwrap();
        serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap()
    }

    fn register(&mut self, v: &Verifier) -> Result<RegisteredTpmKey, TpmError> {
        let (challenge, pending) = self.begin(v)?;
        let proof = self.answer(&challenge);
        v.finish(pending, &proof, now())
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, TpmError>) -> &'static str {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => e.code().as_str(),
    }
}

/// What the device signs; the claims are not what these tests are about.
fn claims() -> AttestationClaims {
    reclaim_fixtures::claims::verified(
        "https://reclaim.example.com",
        "ses_tpm",
        "nonce-tpm",
        "ada@example.com",
        RecoveryAction::ResetPassword,
    )
}

mod honest {
    use super::*;

    /// (a) The whole path: EK certificate chained to the CA, AK activated, device key
    /// certified, then a token signed inside the TPM verifies as ES256 against the key
    /// the registration returned.
    #[test]
    fn registration_end_to_end_then_an_es256_token_verifies() {
        let mut d = Device::start();
        // swtpm's ECC EK certificate is the P-384 one.
        assert_eq!(d.tpm.preferred_ek(), EkKind::EccP384);
        let v = Verifier::new(trusting(&d.swtpm));
        let registered = d.register(&v).unwrap();
        assert_eq!(registered.ek_trust, "certificate");
        assert_eq!(registered.key, d.key.public_device_key().unwrap());
        assert_eq!(registered.key.algorithm(), KeyAlgorithm::P256);
        // What the server stores and reads back.
        let stored = PublicDeviceKey::from_base64(&registered.key.to_base64()).unwrap();

        // The key file survives a restart of the app: a new connection, the blob reloaded.
        let dir = std::env::temp_dir().join(format!("reclaim-tpm-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("device-key.json");
        d.key.save(&path).unwrap();
        let reloaded = KeyBlob::load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(reloaded, d.key);
        let signer = TpmSigner::new(Tpm::open(&d.swtpm.tcti()).unwrap(), reloaded).unwrap();
        let token = sign_attestation_with(&claims(), &signer).unwrap();
        let expected = Expected {
            audience: "https://reclaim.example.com",
            session: "ses_tpm",
            nonce: "nonce-tpm",
            now: now(),
            leeway_s: 30,
            max_lifetime_s: 300,
        };
        let registry = |kid: &str| (kid == stored.key_id().as_str()).then_some(stored);
        let got = verify_attestation(&token, registry, &expected).unwrap();
        assert_eq!(got.iss, stored.key_id().as_str());
        // More signatures: the TPM key keeps working, and since the TPM's own s is high
        // half of the time, these also exercise the low-S normalisation the checker needs.
        for _ in 0..6 {
            let again = sign_attestation_with(&claims(), &signer).unwrap();
            assert_ne!(again, token);
            verify_attestation(&again, registry, &expected).unwrap();
        }
    }

    /// A vendor chain the TPM does not store: only the root is configured and the device
    /// sends the issuing CA as an intermediate.
    #[test]
    fn an_intermediate_sent_by_the_device_links_to_a_configured_root() {
        let mut d = Device::start();
        let pem = |i: usize| {
            attest::load_ca_certificates(&std::fs::read(&d.swtpm.ca_certificates()[i]).unwrap())
                .unwrap()
        };
        let (issuer, root) = (pem(0), pem(1));
        let v = Verifier::new(TrustPolicy {
            ca_certificates: root,
            ..Default::default()
        });
        let mut request = d.tpm.registration_request(&d.ak).unwrap();
        assert_eq!(code(v.begin(&request, now())), "tpm_ek_untrusted");
        request.ek_intermediates = issuer.into_iter().map(reclaim_tpm::Blob).collect();
        let (challenge, pending) = v.begin(&request, now()).unwrap();
        let proof = d.answer(&challenge);
        v.finish(pending, &proof, now()).unwrap();
    }

    /// A TPM without an EK certificate: the P-256 EK (low-range template, PolicySecret
    /// authorisation) enrolled by Name by an admin. Not enrolled: refused.
    #[test]
    fn an_enrolled_p256_ek_without_a_certificate() {
        let mut d = Device::new(Swtpm::start().unwrap(), Some(EkKind::EccP256));
        assert_eq!(d.tpm.ek_certificate(EkKind::EccP256).unwrap(), None);
        assert_eq!(
            code(d.register(&Verifier::new(trusting(&d.swtpm)))),
            "tpm_ek_untrusted"
        );
        let name = d.tpm.ek_name(EkKind::EccP256).unwrap();
        let v = Verifier::new(TrustPolicy {
            enrolled_ek_names: vec![name],
            ..Default::default()
        });
        let registered = d.register(&v).unwrap();
        assert_eq!(registered.ek_trust, "enrolled");
        assert_eq!(registered.key, d.key.public_device_key().unwrap());
    }
}

mod refused {
    use super::*;

    /// (b) A software P-256 key that claims to live in the TPM: its public area says
    /// fixedTPM etc., the certification is made by hand with the right secret (the
    /// attacker ran ActivateCredential honestly), but only a software key can sign it.
    #[test]
    fn a_software_key_with_a_forged_certification() {
        let mut d = Device::start();
        let v = Verifier::new(trusting(&d.swtpm));
        let (challenge, pending) = d.begin(&v).unwrap();
        let secret = d.tpm.activate_credential(&d.ak, &challenge).unwrap();
        let soft = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
        let soft_public = software_public(&soft);
        let name = attest::parse_tpmt_public(&soft_public).unwrap().name();
        let forged = certify_info(&secret, &name);

        // Signed by a software key standing in for the AK: not the AK's signature.
        let proof = CertificationProof {
            format: "tpm2".into(),
            registration_id: challenge.registration_id.clone(),
            key_public: reclaim_tpm::Blob(tpm2b(&soft_public)),
            certify_info: reclaim_tpm::Blob(forged.clone()),
            signature: reclaim_tpm::Blob(signature(&soft, &forged)),
        };
        assert_eq!(
            code(v.finish(pending.clone(), &proof, now())),
            "tpm_certification_invalid"
        );
        // And the real AK will not sign it: a restricted key refuses a digest of data
        // that starts with TPM_GENERATED_VALUE unless the TPM hashed it itself.
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(&forged).into();
        assert_eq!(code(d.tpm.sign_with_ak(&d.ak, &digest)), "tpm_device_error");

        // A genuine certification with one bit of its signature changed.
        let mut genuine = d
            .tpm
            .certify(&d.ak, &d.key, &challenge.registration_id, &secret)
            .unwrap();
        let n = genuine.signature.0.len();
        genuine.signature.0[n - 5] ^= 1;
        assert_eq!(
            code(v.finish(pending.clone(), &genuine, now())),
            "tpm_certification_invalid"
        );
        // Its certify_info changed instead.
        let mut genuine = d
            .tpm
            .certify(&d.ak, &d.key, &challenge.registration_id, &secret)
            .unwrap();
        genuine.certify_info.0[30] ^= 1;
        assert_eq!(
            code(v.finish(pending.clone(), &genuine, now())),
            "tpm_certification_invalid"
        );
        // The untouched one passes, so the refusals above are about the changes.
        let genuine = d
            .tpm
            .certify(&d.ak, &d.key, &challenge.registration_id, &secret)
            .unwrap();
        v.finish(pending, &genuine, now()).unwrap();
    }

    /// A key that is really in the TPM but was made duplicable (fixedTPM and fixedParent
    /// clear): its certification is genuine, and it is still not a hardware key.
    #[test]
    fn a_tpm_key_that_could_leave_the_tpm() {
        use tss_esapi::attributes::ObjectAttributesBuilder;
        use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
        use tss_esapi::interface_types::ecc::EccCurve;
        use tss_esapi::structures::{
            EccPoint, EccScheme, HashScheme, PublicBuilder, PublicEccParametersBuilder,
        };
        let mut d = Device::start();
        let attributes = ObjectAttributesBuilder::new()
            .with_fixed_tpm(false)
            .with_fixed_parent(false)
            .with_sensitive_data_origin(true)
            .with_user_with_auth(true)
            .with_sign_encrypt(true)
            .build()
            .unwrap();
        let template = PublicBuilder::new()
            .with_public_algorithm(PublicAlgorithm::Ecc)
            .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
            .with_object_attributes(attributes)
            .with_ecc_parameters(
                PublicEccParametersBuilder::new_unrestricted_signing_key(
                    EccScheme::EcDsa(HashScheme::new(HashingAlgorithm::Sha256)),
                    EccCurve::NistP256,
                )
                .build()
                .unwrap(),
            )
            .with_ecc_unique_identifier(EccPoint::default())
            .build()
            .unwrap();
        d.key = d.tpm.create_under_srk(template).unwrap();
        let v = Verifier::new(trusting(&d.swtpm));
        assert_eq!(code(d.register(&v)), "tpm_attributes_invalid");
    }

    /// A registered key's file copied to another machine: the other TPM cannot load it
    /// (its parent is derived from this TPM's seed), so it signs nothing.
    #[test]
    fn a_key_file_on_another_tpm_signs_nothing() {
        let mut d = Device::start();
        d.register(&Verifier::new(trusting(&d.swtpm))).unwrap();
        let stolen = KeyBlob::from_json(&d.key.to_json()).unwrap();
        let elsewhere = Swtpm::start().unwrap();
        let mut other = Tpm::open(&elsewhere.tcti()).unwrap();
        assert_eq!(
            code(other.sign_digest(&stolen, &[7; 32])),
            "tpm_device_error"
        );
        let signer = TpmSigner::new(other, stolen).unwrap();
        assert_eq!(
            sign_attestation_with(&claims(), &signer)
                .unwrap_err()
                .code(),
            "token_signing_failed"
        );
        // The same file on its own TPM signs.
        d.tpm.sign_digest(&d.key, &[7; 32]).unwrap();
    }

    /// (c) A genuine certification of key B, presented with key A.
    #[test]
    fn a_certification_for_another_key() {
        let mut d = Device::start();
        let key_a = d.key.clone();
        let key_b = d.tpm.create_device_key().unwrap();
        let v = Verifier::new(trusting(&d.swtpm));
        let (challenge, pending) = d.begin(&v).unwrap();
        let secret = d.tpm.activate_credential(&d.ak, &challenge).unwrap();
        let mut proof = d
            .tpm
            .certify(&d.ak, &key_b, &challenge.registration_id, &secret)
            .unwrap();
        proof.key_public = key_a.public.clone();
        assert_eq!(
            code(v.finish(pending.clone(), &proof, now())),
            "tpm_key_mismatch"
        );
        // And a software key presented with B's certification.
        let soft = p256::ecdsa::SigningKey::from_slice(&[0x43; 32]).unwrap();
        proof.key_public = reclaim_tpm::Blob(tpm2b(&software_public(&soft)));
        assert_eq!(code(v.finish(pending, &proof, now())), "tpm_key_mismatch");
    }

    /// (d) A certification from a finished registration, resent against a new challenge
    /// (with the new registration's id written in, which anyone can do).
    #[test]
    fn a_replayed_certification() {
        let mut d = Device::start();
        let v = Verifier::new(trusting(&d.swtpm));
        let (challenge, pending) = d.begin(&v).unwrap();
        let old = d.answer(&challenge);
        v.finish(pending, &old, now()).unwrap();

        let (challenge2, pending2) = d.begin(&v).unwrap();
        assert_ne!(challenge2.registration_id, challenge.registration_id);
        let mut replay = old.clone();
        replay.registration_id = challenge2.registration_id.clone();
        assert_eq!(
            code(v.finish(pending2.clone(), &replay, now())),
            "tpm_challenge_mismatch"
        );
        // Unchanged, it names the old registration.
        assert_eq!(
            code(v.finish(pending2.clone(), &old, now())),
            "tpm_challenge_mismatch"
        );
        // Too late, even when honest.
        let fresh = d.answer(&challenge2);
        assert_eq!(
            code(v.finish(pending2.clone(), &fresh, pending2.expires_at + 1)),
            "tpm_challenge_expired"
        );
        v.finish(pending2, &fresh, now()).unwrap();
    }

    /// (e) A TPM whose EK certificate was issued by a CA nobody configured; and this TPM's
    /// genuine certificate presented for another TPM's EK.
    #[test]
    fn an_ek_from_an_unconfigured_ca() {
        let trusted = Swtpm::start().unwrap();
        let v = Verifier::new(trusting(&trusted));
        let mut stranger = Device::new(Swtpm::start_with_own_ca().unwrap(), None);
        let request = stranger.tpm.registration_request(&stranger.ak).unwrap();
        assert!(request.ek_certificate.is_some());
        assert_eq!(code(v.begin(&request, now())), "tpm_ek_untrusted");
        // It is trusted by its own CA, so the refusal is about the CA.
        Verifier::new(trusting(&stranger.swtpm))
            .begin(&request, now())
            .unwrap();

        // The trusted TPM's certificate with the stranger's EK.
        let mut honest = Tpm::open(&trusted.tcti()).unwrap();
        let mut borrowed = request.clone();
        borrowed.ek_certificate = honest
            .ek_certificate(EkKind::EccP384)
            .unwrap()
            .map(reclaim_tpm::Blob);
        assert_eq!(code(v.begin(&borrowed, now())), "tpm_ek_untrusted");
        // No certificate at all.
        let mut bare = request.clone();
        bare.ek_certificate = None;
        assert_eq!(code(v.begin(&bare, now())), "tpm_ek_untrusted");
        // Garbage where the certificate goes.
        bare.ek_certificate = Some(reclaim_tpm::Blob(vec![0x30, 0x03, 1, 2, 3]));
        assert_eq!(code(v.begin(&bare, now())), "tpm_malformed");
    }

    /// (f) A credential made for another AK's Name: the TPM will not release the secret to
    /// this AK. Nor to the right AK in another TPM.
    #[test]
    fn activation_with_the_wrong_ak_name_fails() {
        let mut d = Device::start();
        let v = Verifier::new(trusting(&d.swtpm));
        let kind = d.tpm.preferred_ek();
        let other_ak = d.tpm.create_attestation_key(kind).unwrap();
        let mut request = d.tpm.registration_request(&d.ak).unwrap();
        request.ak_public = other_ak.public.clone();
        let (challenge, _pending) = v.begin(&request, now()).unwrap();
        assert_eq!(
            code(d.tpm.activate_credential(&d.ak, &challenge)),
            "tpm_activation_failed"
        );
        // The AK it was made for gets it: the refusal above is about the Name.
        d.tpm.activate_credential(&other_ak, &challenge).unwrap();

        // Wrapped for this TPM's EK, activated on another TPM (with an AK of that TPM
        // whose public area was presented: it loads there, the EK's seed differs).
        let mut elsewhere = Device::start();
        let mut request = elsewhere.tpm.registration_request(&elsewhere.ak).unwrap();
        request.ek_public = d.tpm.registration_request(&d.ak).unwrap().ek_public;
        request.ek_certificate = d.tpm.ek_certificate(kind).unwrap().map(reclaim_tpm::Blob);
        let (challenge, _) = v.begin(&request, now()).unwrap();
        assert_eq!(
            code(elsewhere.tpm.activate_credential(&elsewhere.ak, &challenge)),
            "tpm_activation_failed"
        );
    }
}

// Hand-made TPM structures, as an attacker without a TPM would write them.

fn tpm2b(data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// A TPMT_PUBLIC for `key` claiming every attribute a TPM device key has.
fn software_public(key: &p256::ecdsa::SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_encoded_point(false);
    let attrs: u32 = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 18);
    let mut out = Vec::new();
    out.extend_from_slice(&0x0023u16.to_be_bytes()); // ECC
    out.extend_from_slice(&0x000bu16.to_be_bytes()); // SHA-256
    out.extend_from_slice(&attrs.to_be_bytes());
    out.extend(tpm2b(&[]));
    out.extend_from_slice(&0x0010u16.to_be_bytes()); // no symmetric
    out.extend_from_slice(&0x0018u16.to_be_bytes()); // ECDSA
    out.extend_from_slice(&0x000bu16.to_be_bytes()); // SHA-256
    out.extend_from_slice(&0x0003u16.to_be_bytes()); // P-256
    out.extend_from_slice(&0x0010u16.to_be_bytes()); // no KDF
    out.extend(tpm2b(point.x().unwrap()));
    out.extend(tpm2b(point.y().unwrap()));
    out
}

fn certify_info(extra: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&attest::TPM_GENERATED_VALUE.to_be_bytes());
    out.extend_from_slice(&attest::TPM_ST_ATTEST_CERTIFY.to_be_bytes());
    out.extend(tpm2b(&[0x00, 0x0b]));
    out.extend(tpm2b(extra));
    out.extend_from_slice(&[0u8; 17 + 8]);
    out.extend(tpm2b(name));
    out.extend(tpm2b(name));
    out
}

fn signature(key: &p256::ecdsa::SigningKey, data: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer;
    let sig: p256::ecdsa::Signature = key.sign(data);
    let bytes = sig.to_bytes();
    let mut out = Vec::new();
    out.extend_from_slice(&0x0018u16.to_be_bytes());
    out.extend_from_slice(&0x000bu16.to_be_bytes());
    out.extend(tpm2b(&bytes[..32]));
    out.extend(tpm2b(&bytes[32..]));
    out
}
