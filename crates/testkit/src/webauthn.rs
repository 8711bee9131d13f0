//! A software passkey authenticator for tests at the HTTP level (feature `webauthn`): what
//! a browser and a platform authenticator would send back for a WebAuthn ceremony,
//! built by hand so that a test can also send what an attacker would.
//!
//! One P-256 key pair (`ring`, ES256), a random 16-byte credential id and the account's
//! user handle; registration answers with `none` attestation (authenticator data with the
//! attested credential and its COSE key, CBOR written out here), assertions with an ECDSA
//! signature over the authenticator data and the client data's hash. The flags say the
//! user was present and verified unless [`SoftAuthenticator::user_verified`] is turned
//! off; the origin and RP ID it writes are fields a test may change.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

/// A passkey on a pretend authenticator.
pub struct SoftAuthenticator {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    pub credential_id: Vec<u8>,
    /// The user handle the server gave at registration (sent back with assertions).
    pub user_handle: Vec<u8>,
    /// The RP ID whose hash goes into the authenticator data.
    pub rp_id: String,
    /// The origin written into the client data.
    pub origin: String,
    /// Its signature counter, raised before each assertion (0 stays 0, as synced
    /// passkeys keep none).
    pub counter: u32,
    /// Whether the UV flag is set.
    pub user_verified: bool,
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn from_b64url(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url from the server")
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// A CBOR head: major type `major`, argument `n`.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: usize) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n < 256 {
        out.extend([m | 24, n as u8]);
    } else {
        out.extend([m | 25, (n >> 8) as u8, n as u8]);
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len());
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len());
    out.extend_from_slice(text.as_bytes());
}

impl SoftAuthenticator {
    /// A new key pair and credential id, for `rp_id` at `origin`, counting signatures
    /// from `counter`.
    pub fn new(rp_id: &str, origin: &str, counter: u32) -> SoftAuthenticator {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut credential_id = vec![0u8; 16];
        rng.fill(&mut credential_id).unwrap();
        SoftAuthenticator {
            key,
            rng,
            credential_id,
            user_handle: Vec::new(),
            rp_id: rp_id.into(),
            origin: origin.into(),
            counter,
            user_verified: true,
        }
    }

    /// The public key as COSE (EC2, ES256, P-256).
    fn cose_key(&self) -> Vec<u8> {
        let public = self.key.public_key().as_ref();
        let (x, y) = (&public[1..33], &public[33..65]);
        // {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut out, x);
        out.push(0x22);
        cbor_bytes(&mut out, y);
        out
    }

    fn flags(&self) -> u8 {
        if self.user_verified {
            UP | UV
        } else {
            UP
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// The browser's answer to `navigator.credentials.create(options)`, `options` as the
    /// server sent them (`{"publicKey": {...}}`).
    pub fn create(&mut self, options: &Value) -> Value {
        let o = &options["publicKey"];
        let challenge = o["challenge"].as_str().expect("a challenge");
        self.user_handle = from_b64url(o["user"]["id"].as_str().expect("a user id"));
        let client_data = self.client_data("webauthn.create", challenge);
        let mut auth_data = sha256(self.rp_id.as_bytes());
        auth_data.push(self.flags() | AT);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        // {"fmt": "none", "attStmt": {}, "authData": ...}
        let mut attestation = vec![0xa3];
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        attestation.push(0xa0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        json!({
            "id": b64url(&self.credential_id),
            "rawId": b64url(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64url(&attestation),
                "clientDataJSON": b64url(&client_data),
            },
            "extensions": {},
        })
    }

    /// The browser's answer to `navigator.credentials.get(options)`.
    pub fn get(&mut self, options: &Value) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("a challenge");
        if self.counter > 0 {
            self.counter += 1;
        }
        let client_data = self.client_data("webauthn.get", challenge);
        let mut auth_data = sha256(self.rp_id.as_bytes());
        auth_data.push(self.flags());
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(sha256(&client_data));
        let signature = self.key.sign(&self.rng, &signed).unwrap();
        json!({
            "id": b64url(&self.credential_id),
            "rawId": b64url(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64url(&auth_data),
                "clientDataJSON": b64url(&client_data),
                "signature": b64url(signature.as_ref()),
                "userHandle": b64url(&self.user_handle),
            },
            "extensions": {},
        })
    }
}
