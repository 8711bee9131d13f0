//! Device keys: Ed25519 key pairs the app keeps (in the OS keystore where there is one) and
//! whose public halves the server registers with a trust tier.
//!
//! A key is named by its key id, the first 16 bytes of the SHA-256 of the public key in
//! hex, so a token names the key it was signed with and a registry can look it up without
//! trusting anything else the token says.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The name of a public key: 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn of(key: &VerifyingKey) -> KeyId {
        KeyId(hex::encode(&Sha256::digest(key.as_bytes())[..16]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device's signing key. Never printed; wiped when dropped (ed25519-dalek zeroizes).
pub struct DeviceKey {
    signing: SigningKey,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({}, secret redacted)", self.key_id())
    }
}

impl DeviceKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<DeviceKey, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
        let key = DeviceKey::from_seed(&seed);
        zeroize::Zeroize::zeroize(&mut seed);
        Ok(key)
    }

    /// The key whose 32-byte secret seed is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> DeviceKey {
        DeviceKey {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The secret seed as hex, for writing a key file (owner-only). The returned string
    /// is wiped when dropped.
    pub fn seed_hex(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(hex::encode(self.signing.to_bytes()))
    }

    /// Reads a key file written from [`DeviceKey::seed_hex`].
    pub fn from_seed_hex(text: &str) -> Result<DeviceKey, String> {
        let bytes = zeroize::Zeroizing::new(
            hex::decode(text.trim()).map_err(|_| "the key file is not hexadecimal".to_string())?,
        );
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| "the key file does not hold 32 bytes".to_string())?;
        let key = DeviceKey::from_seed(&seed);
        let mut seed = seed;
        zeroize::Zeroize::zeroize(&mut seed);
        Ok(key)
    }

    pub fn public(&self) -> PublicDeviceKey {
        PublicDeviceKey(self.signing.verifying_key())
    }

    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.signing.verifying_key())
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

/// A device's public key, as the server registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicDeviceKey(pub(crate) VerifyingKey);

impl PublicDeviceKey {
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.0)
    }

    /// The key as unpadded URL-safe base64 of its 32 bytes (how `reclaim device register`
    /// prints and takes it).
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    /// Parses [`PublicDeviceKey::to_base64`]'s form; refuses anything else, including
    /// the weak (small-order) points an attacker could register to forge signatures.
    pub fn from_base64(text: &str) -> Result<PublicDeviceKey, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| "not unpadded URL-safe base64".to_string())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "an Ed25519 public key is 32 bytes".to_string())?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "not an Ed25519 public key".to_string())?;
        if key.is_weak() {
            return Err("a weak Ed25519 public key".into());
        }
        Ok(PublicDeviceKey(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_round_trip_and_name_themselves() {
        let key = DeviceKey::from_seed(&[7u8; 32]);
        let public = key.public();
        let text = public.to_base64();
        assert_eq!(PublicDeviceKey::from_base64(&text).unwrap(), public);
        assert_eq!(public.key_id(), key.key_id());
        assert_eq!(key.key_id().as_str().len(), 32);
        assert_ne!(DeviceKey::generate().unwrap().key_id(), key.key_id());
        let again = DeviceKey::from_seed_hex(&key.seed_hex()).unwrap();
        assert_eq!(again.key_id(), key.key_id());
        assert!(DeviceKey::from_seed_hex("zz").is_err());
        assert!(DeviceKey::from_seed_hex("abcd").is_err());
    }

    #[test]
    fn refuses_what_is_not_a_usable_public_key() {
        for bad in ["", "!!!", "AAAA", &URL_SAFE_NO_PAD.encode([0u8; 31])] {
            assert!(PublicDeviceKey::from_base64(bad).is_err(), "{bad}");
        }
        // The identity point (a small-order point) parses as a curve point but is weak.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicDeviceKey::from_base64(&URL_SAFE_NO_PAD.encode(identity)).is_err());
    }

    #[test]
    fn the_secret_is_not_printed() {
        let key = DeviceKey::from_seed(&[9u8; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode([9u8; 32])));
    }
}
