//! The provider's signing keys: ES256 (P-256) from PKCS#8 files. The first key signs;
//! every key is published in the JWKS, so a relying party still verifies a token signed
//! by a key that has since been rotated out of first place (docs/idv.md, "Key rotation").

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One key.
struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
}

/// The keys, current first.
pub struct Keyring {
    keys: Vec<SigningKey>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("Keyring").field("kids", &kids).finish()
    }
}

/// The DER inside a PEM `PRIVATE KEY` block, or the bytes themselves when they are not
/// PEM.
fn der_of(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(bytes.to_vec());
    };
    let Some(start) = text.find("-----BEGIN PRIVATE KEY-----") else {
        if text.contains("-----BEGIN") {
            return Err(
                "not a PKCS#8 `PRIVATE KEY` (convert it with `openssl pkcs8 -topk8 -nocrypt`)"
                    .into(),
            );
        }
        return Ok(bytes.to_vec());
    };
    let body = &text[start + "-----BEGIN PRIVATE KEY-----".len()..];
    let end = body
        .find("-----END PRIVATE KEY-----")
        .ok_or("the PEM block has no end")?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(b64)
        .map_err(|_| "the PEM block is not base64".to_string())
}

/// The key id: the public key's SHA-256, base64url, cut to 22 characters (128 bits).
fn kid_of(public: &[u8]) -> String {
    let mut kid = URL_SAFE_NO_PAD.encode(Sha256::digest(public));
    kid.truncate(22);
    kid
}

impl Keyring {
    /// Reads every file; any that is unreadable or not a P-256 PKCS#8 key stops the start.
    pub fn load(paths: &[PathBuf]) -> Result<Keyring, String> {
        let rng = SystemRandom::new();
        let mut keys = Vec::new();
        for path in paths {
            let pair = read_key(path, &rng)?;
            let kid = kid_of(pair.public_key().as_ref());
            if keys.iter().any(|k: &SigningKey| k.kid == kid) {
                return Err(format!("{}: the same key is listed twice", path.display()));
            }
            keys.push(SigningKey { kid, pair });
        }
        if keys.is_empty() {
            return Err("no signing key".into());
        }
        Ok(Keyring { keys, rng })
    }

    /// The key that signs now.
    pub fn current_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// The JWKS: every key, current first.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| {
                // An uncompressed point: 0x04, then x and y, 32 bytes each.
                let p = k.pair.public_key().as_ref();
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&p[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&p[33..65]),
                    "use": "sig",
                    "alg": "ES256",
                    "kid": k.kid,
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    /// `claims` as a compact JWS signed with the current key.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let key = &self.keys[0];
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": key.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| "signing failed".to_string())?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

fn read_key(path: &Path, rng: &SystemRandom) -> Result<EcdsaKeyPair, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let der = der_of(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, rng).map_err(|_| {
        format!(
            "{}: not a P-256 private key in PKCS#8 (ES256 is the one algorithm signed with)",
            path.display()
        )
    })
}

/// A new P-256 key as a PKCS#8 PEM file's text (what the tests rotate to; operators use
/// openssl, docs/idv.md).
pub fn new_key_pem() -> Result<String, String> {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| "key generation failed".to_string())?;
    let b64 = STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    fn keyring(pems: &[String]) -> Keyring {
        let dir =
            std::env::temp_dir().join(format!("idv-keys-{}", crate::crypto::new_id().unwrap()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths: Vec<PathBuf> = pems
            .iter()
            .enumerate()
            .map(|(i, pem)| {
                let p = dir.join(format!("{i}.pem"));
                std::fs::write(&p, pem).unwrap();
                p
            })
            .collect();
        let k = Keyring::load(&paths).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        k
    }

    #[test]
    fn the_current_key_signs_and_every_key_is_published() {
        let (a, b) = (new_key_pem().unwrap(), new_key_pem().unwrap());
        let ring = keyring(&[b.clone(), a.clone()]);
        let jwks = ring.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        let jwt = ring.sign(&json!({"sub": "x"})).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["kid"], ring.current_kid());
        assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
        let jwk = &jwks["keys"][0];
        let mut point = vec![4u8];
        point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the JWKS's first key verifies the token");
    }

    #[test]
    fn a_key_of_another_kind_is_refused() {
        let dir =
            std::env::temp_dir().join(format!("idv-bad-{}", crate::crypto::new_id().unwrap()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("k.pem");
        std::fs::write(
            &p,
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(Keyring::load(&[p]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
