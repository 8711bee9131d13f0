//! Every way an attestation can be wrong, each refused with its own code; and the one way
//! it can be right.

use super::*;

const AUD: &str = "https://reclaim.example.com";
const NOW: u64 = 1_795_000_000;

fn key() -> DeviceKey {
    DeviceKey::from_seed(&[1u8; 32])
}

fn other_key() -> DeviceKey {
    DeviceKey::from_seed(&[2u8; 32])
}

fn claims() -> AttestationClaims {
    AttestationClaims {
        ver: PROTOCOL_VERSION,
        iss: String::new(),
        aud: AUD.into(),
        iat: NOW - 5,
        exp: NOW + 115,
        session: "ses_4f2a".into(),
        nonce: "n0nce-1b7e".into(),
        user: "ada@example.com".into(),
        action: RecoveryAction::ResetPassword,
        decision: DeviceVerdict::Verified,
        reasons: Vec::new(),
        results: vec![ResultScore {
            name: "face_match".into(),
            score: 0.71,
            threshold: 0.5,
            rule: "at_least".into(),
            passed: true,
        }],
        models: BTreeMap::from([("face_embedder".to_string(), "ab".repeat(32))]),
        app_version: "0.1.0".into(),
        camera: Camera {
            name: "Integrated Camera".into(),
            backend: "v4l2".into(),
            virtual_device: false,
            file_backed: false,
        },
        timings_ms: BTreeMap::from([("total".to_string(), 899.0)]),
        evidence: vec![EvidenceDigest {
            name: "selfie-00.jpg".into(),
            sha256: "cd".repeat(32),
        }],
        document: None,
        face_embedding: None,
    }
}

fn expected() -> Expected<'static> {
    Expected {
        audience: AUD,
        session: "ses_4f2a",
        nonce: "n0nce-1b7e",
        now: NOW,
        leeway_s: 30,
        max_lifetime_s: 300,
    }
}

/// The registry knows `key()` only.
fn registry(kid: &str) -> Option<PublicDeviceKey> {
    let k = key().public();
    (k.key_id().as_str() == kid).then_some(k)
}

fn check(token: &str) -> Result<AttestationClaims, AttestationError> {
    verify_attestation(token, registry, &expected())
}

fn code(token: &str) -> &'static str {
    match check(token) {
        Ok(_) => "accepted",
        Err(e) => e.code().as_str(),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this header and payload JSON, signed correctly by `key()`.
fn forge(header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = key().signing_key().sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn header_json() -> String {
    format!(
        r#"{{"alg":"EdDSA","typ":"{ATTESTATION_TYPE}","kid":"{}"}}"#,
        key().key_id()
    )
}

fn payload_json(c: &AttestationClaims) -> String {
    let mut c = c.clone();
    c.iss = key().key_id().as_str().into();
    serde_json::to_string(&c).unwrap()
}

#[test]
fn a_good_token_round_trips() {
    let token = sign_attestation(&claims(), &key()).unwrap();
    let got = check(&token).unwrap();
    let mut want = claims();
    want.iss = key().key_id().as_str().into();
    assert_eq!(got, want);
}

#[test]
fn a_changed_byte_anywhere_breaks_it() {
    let token = sign_attestation(&claims(), &key()).unwrap();
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    // Flip one bit of the signature, and change the payload under the old signature.
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[10] ^= 1;
    assert_eq!(
        code(&format!("{header}.{payload}.{}", b64(&sig))),
        "token_signature_invalid"
    );
    let mut c = claims();
    c.user = "mallory@example.com".into();
    let other_payload = b64(payload_json(&c).as_bytes());
    assert_eq!(
        code(&format!("{header}.{other_payload}.{signature}")),
        "token_signature_invalid"
    );
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    // Unregistered key: unknown.
    let token = sign_attestation(&claims(), &other_key()).unwrap();
    assert_eq!(code(&token), "device_unknown");
    // Signed by another key but naming the registered one: the signature fails.
    let input = format!(
        "{}.{}",
        b64(header_json().as_bytes()),
        b64(payload_json(&claims()).as_bytes())
    );
    let sig = other_key().signing_key().sign(input.as_bytes());
    assert_eq!(
        code(&format!("{input}.{}", b64(&sig.to_bytes()))),
        "token_signature_invalid"
    );
    // A registry that answers a kid with some other key is not believed.
    let lying = |_: &str| Some(other_key().public());
    let token = sign_attestation(&claims(), &key()).unwrap();
    assert_eq!(
        verify_attestation(&token, lying, &expected())
            .unwrap_err()
            .code(),
        "device_unknown"
    );
}

#[test]
fn algorithm_confusion_is_refused() {
    let payload = payload_json(&claims());
    let kid = key().key_id();
    // `none` with an empty or any signature.
    let none = format!(
        "{}.{}.",
        b64(format!(r#"{{"alg":"none","typ":"{ATTESTATION_TYPE}","kid":"{kid}"}}"#).as_bytes()),
        b64(payload.as_bytes())
    );
    assert_eq!(code(&none), "token_malformed");
    let none_signed = format!("{none}AAAA");
    assert_eq!(code(&none_signed), "token_alg_not_allowed");
    // HS256 "signed" with the public key as the HMAC secret.
    let hs = forge(
        &format!(r#"{{"alg":"HS256","typ":"{ATTESTATION_TYPE}","kid":"{kid}"}}"#),
        &payload,
    );
    assert_eq!(code(&hs), "token_alg_not_allowed");
    for alg in ["ES256", "RS256", "eddsa", "Ed25519", ""] {
        let t = forge(
            &format!(r#"{{"alg":"{alg}","typ":"{ATTESTATION_TYPE}","kid":"{kid}"}}"#),
            &payload,
        );
        assert_eq!(code(&t), "token_alg_not_allowed", "{alg}");
    }
    let no_alg = forge(
        &format!(r#"{{"typ":"{ATTESTATION_TYPE}","kid":"{kid}"}}"#),
        &payload,
    );
    assert_eq!(code(&no_alg), "token_header_invalid");
}

#[test]
fn the_protected_header_holds_nothing_else() {
    let payload = payload_json(&claims());
    let kid = key().key_id();
    for header in [
        // Unknown fields: `jku`/`x5u` would point a careless checker at an attacker's key.
        format!(
            r#"{{"alg":"EdDSA","typ":"{ATTESTATION_TYPE}","kid":"{kid}","jku":"https://evil"}}"#
        ),
        format!(r#"{{"alg":"EdDSA","typ":"{ATTESTATION_TYPE}","kid":"{kid}","crit":["exp"]}}"#),
        format!(r#"{{"alg":"EdDSA","typ":"{ATTESTATION_TYPE}"}}"#),
        "[1,2,3]".to_string(),
        format!(
            r#"{{"alg":"EdDSA","typ":"{ATTESTATION_TYPE}","kid":"{kid}","pad":"{}"}}"#,
            "x".repeat(2000)
        ),
    ] {
        assert_eq!(
            code(&forge(&header, &payload)),
            "token_header_invalid",
            "{header:.80}"
        );
    }
    let wrong_type = forge(
        &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
        &payload,
    );
    assert_eq!(code(&wrong_type), "token_type_invalid");
}

#[test]
fn expiry_issue_time_and_lifetime_are_checked() {
    let with = |f: &dyn Fn(&mut AttestationClaims)| {
        let mut c = claims();
        f(&mut c);
        code(&sign_attestation(&c, &key()).unwrap())
    };
    assert_eq!(
        with(&|c| {
            c.iat = NOW - 60;
            c.exp = NOW - 31;
        }),
        "token_expired"
    );
    // Within the leeway.
    assert_eq!(
        with(&|c| {
            c.iat = NOW - 60;
            c.exp = NOW - 29;
        }),
        "accepted"
    );
    assert_eq!(with(&|c| c.iat = NOW + 31), "token_not_yet_valid");
    assert_eq!(
        with(&|c| {
            c.iat = NOW - 10;
            c.exp = NOW + 600;
        }),
        "token_lifetime_too_long"
    );
    assert_eq!(with(&|c| c.exp = c.iat), "token_claims_invalid");
}

#[test]
fn audience_session_nonce_and_version_must_match() {
    let with = |f: &dyn Fn(&mut AttestationClaims)| {
        let mut c = claims();
        f(&mut c);
        code(&sign_attestation(&c, &key()).unwrap())
    };
    assert_eq!(
        with(&|c| c.aud = "https://other.example.com".into()),
        "token_audience_mismatch"
    );
    assert_eq!(
        with(&|c| c.session = "ses_0000".into()),
        "token_session_mismatch"
    );
    assert_eq!(
        with(&|c| c.nonce = "n0nce-1b7f".into()),
        "token_nonce_mismatch"
    );
    assert_eq!(with(&|c| c.nonce = String::new()), "token_nonce_mismatch");
    assert_eq!(with(&|c| c.ver = 2), "protocol_version_unsupported");
    assert_eq!(
        with(&|c| c.evidence[0].sha256 = "not a digest".into()),
        "token_claims_invalid"
    );
}

#[test]
fn claims_must_be_exactly_the_published_ones() {
    let value = serde_json::to_value({
        let mut c = claims();
        c.iss = key().key_id().as_str().into();
        c
    })
    .unwrap();
    let mut extra = value.clone();
    extra["admin"] = serde_json::json!(true);
    assert_eq!(
        code(&forge(&header_json(), &extra.to_string())),
        "token_claims_invalid"
    );
    // A verdict that is neither `verified` nor `rejected`, under a good signature.
    for verdict in [
        serde_json::json!("maybe"),
        serde_json::json!("Verified"),
        serde_json::json!(""),
        serde_json::json!(true),
    ] {
        let mut other = value.clone();
        other["decision"] = verdict.clone();
        assert_eq!(
            code(&forge(&header_json(), &other.to_string())),
            "token_claims_invalid",
            "{verdict}"
        );
    }
    // `iss` must be the signing key.
    let mut c = claims();
    c.iss = other_key().key_id().as_str().into();
    let t = forge(&header_json(), &serde_json::to_string(&c).unwrap());
    assert_eq!(code(&t), "token_claims_invalid");
    // Not JSON at all, under a good signature.
    assert_eq!(
        code(&forge(&header_json(), "not json")),
        "token_claims_invalid"
    );
}

#[test]
fn truncated_and_malformed_tokens_are_refused() {
    let token = sign_attestation(&claims(), &key()).unwrap();
    let cut = &token[..token.len() - 10];
    assert_eq!(code(cut), "token_signature_invalid");
    let (h, rest) = token.split_once('.').unwrap();
    let p = rest.split_once('.').unwrap().0;
    for bad in [
        "",
        ".",
        "..",
        "a.b",
        &format!("{h}.{p}"),
        &format!("{h}.{p}.sig.extra"),
        &format!("{h}..{}", rest.split_once('.').unwrap().1),
        &format!("{h}.{p}.!!!"),
        &format!("***.{p}.AAAA"),
    ] {
        assert_eq!(code(bad), "token_malformed", "{bad:.60}");
    }
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let huge = "A".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(code(&huge), "token_too_large");
    let mut c = claims();
    c.reasons = vec!["x".repeat(MAX_TOKEN_BYTES)];
    assert_eq!(
        sign_attestation(&c, &key()).unwrap_err().code(),
        "token_too_large"
    );
}

#[test]
fn codes_are_distinct() {
    let all = [
        AttestationError::TooLarge(0),
        AttestationError::Malformed(""),
        AttestationError::HeaderInvalid(String::new()),
        AttestationError::AlgorithmNotAllowed(String::new()),
        AttestationError::WrongType(String::new()),
        AttestationError::UnknownKey(String::new()),
        AttestationError::BadSignature,
        AttestationError::ClaimsInvalid(String::new()),
        AttestationError::UnsupportedVersion(0),
        AttestationError::WrongAudience,
        AttestationError::WrongSession,
        AttestationError::WrongNonce,
        AttestationError::Expired,
        AttestationError::NotYetValid,
        AttestationError::LifetimeTooLong,
        AttestationError::Signing(String::new()),
    ];
    let codes: std::collections::BTreeSet<_> = all.iter().map(AttestationError::code).collect();
    assert_eq!(codes.len(), all.len());
}

// ES256: P-256 keys, as a TPM holds them.

fn p256_key() -> P256DeviceKey {
    P256DeviceKey::from_scalar(&[5u8; 32]).unwrap()
}

/// The registry knows the Ed25519 `key()` and the P-256 `p256_key()`.
fn both(kid: &str) -> Option<PublicDeviceKey> {
    [key().public(), p256_key().public()]
        .into_iter()
        .find(|k| k.key_id().as_str() == kid)
}

fn code_both(token: &str) -> &'static str {
    match verify_attestation(token, both, &expected()) {
        Ok(_) => "accepted",
        Err(e) => e.code().as_str(),
    }
}

fn p256_header(alg: &str) -> String {
    format!(
        r#"{{"alg":"{alg}","typ":"{ATTESTATION_TYPE}","kid":"{}"}}"#,
        p256_key().key_id()
    )
}

fn p256_payload() -> String {
    let mut c = claims();
    c.iss = p256_key().key_id().as_str().into();
    serde_json::to_string(&c).unwrap()
}

/// header.payload signed with ES256 by `p256_key()`, whatever the header says.
fn forge_es256(header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = p256_key().sign_es256(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

#[test]
fn an_es256_token_from_a_p256_key_round_trips() {
    let token = sign_attestation_with(&claims(), &p256_key()).unwrap();
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    assert!(String::from_utf8(header)
        .unwrap()
        .contains(r#""alg":"ES256""#));
    let got = verify_attestation(&token, both, &expected()).unwrap();
    assert_eq!(got.iss, p256_key().key_id().as_str());
    // The Ed25519 path is unchanged with both kinds registered.
    let token = sign_attestation(&claims(), &key()).unwrap();
    assert_eq!(code_both(&token), "accepted");
}

#[test]
fn the_registered_key_not_the_header_fixes_the_algorithm() {
    // An ES256 token naming the Ed25519 key (signed by a P-256 key).
    let input = format!(
        "{}.{}",
        b64(format!(
            r#"{{"alg":"ES256","typ":"{ATTESTATION_TYPE}","kid":"{}"}}"#,
            key().key_id()
        )
        .as_bytes()),
        b64(payload_json(&claims()).as_bytes())
    );
    let sig = p256_key().sign_es256(input.as_bytes());
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&sig))),
        "token_alg_not_allowed"
    );
    // An EdDSA token naming the P-256 key (signed by an Ed25519 key).
    let input = format!(
        "{}.{}",
        b64(p256_header("EdDSA").as_bytes()),
        b64(p256_payload().as_bytes())
    );
    let sig = key().signing_key().sign(input.as_bytes());
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&sig.to_bytes()))),
        "token_alg_not_allowed"
    );
    // `none` and HS256 (keyed with the public key's text) naming the P-256 key.
    let none = format!(
        "{}.{}.AAAA",
        b64(p256_header("none").as_bytes()),
        b64(p256_payload().as_bytes())
    );
    assert_eq!(code_both(&none), "token_alg_not_allowed");
    let hs = forge_es256(&p256_header("HS256"), &p256_payload());
    assert_eq!(code_both(&hs), "token_alg_not_allowed");
    for alg in ["ES384", "es256", "PS256", "RS256", ""] {
        assert_eq!(
            code_both(&forge_es256(&p256_header(alg), &p256_payload())),
            "token_alg_not_allowed",
            "{alg}"
        );
    }
    // The honest header passes, so the refusals above are about `alg` alone.
    assert_eq!(
        code_both(&forge_es256(&p256_header("ES256"), &p256_payload())),
        "accepted"
    );
}

#[test]
fn es256_signatures_are_64_bytes_low_s_and_verified() {
    use p256::elliptic_curve::ops::Reduce;
    let token = sign_attestation_with(&claims(), &p256_key()).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    assert_eq!(sig.len(), 64);
    // A bit flipped in r.
    let mut bad = sig.clone();
    bad[3] ^= 1;
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&bad))),
        "token_signature_invalid"
    );
    // The DER form of the same signature, and r||s cut or padded.
    let parsed = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    let der = parsed.to_der();
    assert_eq!(
        code_both(&format!("{input}.{}", b64(der.as_bytes()))),
        "token_signature_invalid"
    );
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&sig[..63]))),
        "token_signature_invalid"
    );
    let mut long = sig.clone();
    long.push(0);
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&long))),
        "token_signature_invalid"
    );
    // r = 0 and s = 0, and s = n (out of range).
    let mut zero_r = sig.clone();
    zero_r[..32].fill(0);
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&zero_r))),
        "token_signature_invalid"
    );
    let n =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    let mut s_is_n = sig.clone();
    s_is_n[32..].copy_from_slice(&n);
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&s_is_n))),
        "token_signature_invalid"
    );
    // The high-S twin (r, n - s) is a mathematically valid signature; it is refused.
    let s = <p256::Scalar as Reduce<p256::U256>>::reduce_bytes(p256::FieldBytes::from_slice(
        &sig[32..],
    ));
    let high =
        p256::ecdsa::Signature::from_scalars(parsed.r().as_ref().to_bytes(), (-s).to_bytes())
            .unwrap();
    assert!(high.normalize_s().is_some(), "the twin is the high-S one");
    {
        use p256::ecdsa::signature::Verifier;
        let vk =
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&p256_key().public().p256_sec1().unwrap())
                .unwrap();
        assert!(
            vk.verify(input.as_bytes(), &high).is_ok(),
            "the twin verifies by plain ECDSA"
        );
    }
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&high.to_bytes()))),
        "token_signature_invalid"
    );
    // Signed by another P-256 key under this key's name.
    let other = P256DeviceKey::from_scalar(&[6u8; 32]).unwrap();
    let forged = other.sign_es256(input.as_bytes());
    assert_eq!(
        code_both(&format!("{input}.{}", b64(&forged))),
        "token_signature_invalid"
    );
}

/// A signer that returns whatever it was built with, as a TPM might.
struct Fixed(Result<Vec<u8>, String>);

impl AttestationSigner for Fixed {
    fn key_id(&self) -> KeyId {
        p256_key().key_id()
    }
    fn algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::P256
    }
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, String> {
        self.0.clone()
    }
}

#[test]
fn a_failing_or_malformed_signer_is_an_error_not_a_token() {
    assert_eq!(
        sign_attestation_with(&claims(), &Fixed(Err("tpm gone".into())))
            .unwrap_err()
            .code(),
        "token_signing_failed"
    );
    assert_eq!(
        sign_attestation_with(&claims(), &Fixed(Ok(vec![1; 70])))
            .unwrap_err()
            .code(),
        "token_signing_failed"
    );
}
