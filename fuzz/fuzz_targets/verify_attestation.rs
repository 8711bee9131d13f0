//! Any bytes as an attestation token: refused with a reason, never a panic, never
//! accepted without the registered key's signature. And any text in the claims signs and
//! verifies back to the same claims.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use reclaim_protocol::{
    sign_attestation, verify_attestation, AttestationClaims, Camera, DeviceKey, Expected,
    RecoveryAction, PROTOCOL_VERSION,
};

const NOW: u64 = 1_795_000_000;

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let key = DeviceKey::from_seed(&[1u8; 32]);
    let public = key.public();
    let registry = |kid: &str| (public.key_id().as_str() == kid).then_some(public);
    let text = String::from_utf8_lossy(data);

    // The bytes as a token, checked against a session they cannot know.
    let expected = Expected {
        audience: "https://reclaim.example.com",
        session: "ses",
        nonce: "nonce",
        now: NOW,
        leeway_s: 30,
        max_lifetime_s: 300,
    };
    if let Ok(claims) = verify_attestation(&text, registry, &expected) {
        // Only a token the key really signed can pass; signing is deterministic.
        assert_eq!(sign_attestation(&claims, &key).ok().as_deref(), Some(&*text));
    }

    // The bytes as claim values: whatever they hold, a signed token verifies to them.
    let mut pieces = text.splitn(3, '\n');
    let user = pieces.next().unwrap_or_default().to_string();
    let session = pieces.next().unwrap_or_default().to_string();
    let nonce = pieces.next().unwrap_or_default().to_string();
    let claims = AttestationClaims {
        ver: PROTOCOL_VERSION,
        iss: String::new(),
        aud: "https://reclaim.example.com".into(),
        iat: NOW,
        exp: NOW + 60,
        session: session.clone(),
        nonce: nonce.clone(),
        user,
        action: RecoveryAction::Unlock,
        decision: reclaim_protocol::DeviceVerdict::Verified,
        reasons: Vec::new(),
        results: Vec::new(),
        models: BTreeMap::new(),
        app_version: "0".into(),
        camera: Camera {
            name: String::new(),
            backend: String::new(),
            virtual_device: false,
            file_backed: false,
        },
        timings_ms: BTreeMap::new(),
        evidence: Vec::new(),
        document: None,
        face_embedding: None,
    };
    let Ok(token) = sign_attestation(&claims, &key) else {
        return;
    };
    let expected = Expected {
        session: &session,
        nonce: &nonce,
        ..expected
    };
    let back = verify_attestation(&token, registry, &expected).expect("a signed token verifies");
    assert_eq!(back.user, claims.user);
}
