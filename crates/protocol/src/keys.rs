//! Device keys, and the public halves the server registers with a trust tier.
//!
//! A registered key is one of two kinds, and the kind decides the token's algorithm:
//! - **Ed25519** (JWS `EdDSA`): a software key the app keeps in a file or the OS keystore
//!   ([`DeviceKey`]);
//! - **ECDSA P-256** (JWS `ES256`): the only signing key a TPM 2.0 can be relied on to
//!   make, held non-exportable in the TPM (signing goes through
//!   [`crate::AttestationSigner`]), or [`P256DeviceKey`] in software.
//!
//! A key is named by its key id, the first 16 bytes of a SHA-256 in hex, so a token names
//! the key it was signed with and a registry can look it up without trusting anything else
//! the token says. For Ed25519 the hash is over the 32 raw key bytes (the ids registered
//! before P-256 existed stay valid); for P-256 it is over `p256:` followed by the 65-byte
//! SEC1 uncompressed point. The two inputs differ in length, so a key of one kind can
//! never have the id of a key of the other kind short of a SHA-256 collision.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Text prefix of a P-256 public key (Ed25519 keys have none, as before).
pub const P256_KEY_PREFIX: &str = "p256:";

/// The name of a public key: 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The id of an Ed25519 key.
    pub fn of(key: &VerifyingKey) -> KeyId {
        KeyId::of_bytes(key.as_bytes())
    }

    /// The id of a P-256 key: over the algorithm tag and its uncompressed point.
    pub fn of_p256(key: &p256::ecdsa::VerifyingKey) -> KeyId {
        let point = key.to_encoded_point(false);
        let mut input = Vec::with_capacity(P256_KEY_PREFIX.len() + 65);
        input.extend_from_slice(P256_KEY_PREFIX.as_bytes());
        input.extend_from_slice(point.as_bytes());
        KeyId::of_bytes(&input)
    }

    fn of_bytes(bytes: &[u8]) -> KeyId {
        KeyId(hex::encode(&Sha256::digest(bytes)[..16]))
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

/// What kind of key a device registered; it fixes the token's JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// Ed25519, JWS `EdDSA` (RFC 8037).
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256, JWS `ES256` (RFC 7518 3.4).
    P256,
}

impl KeyAlgorithm {
    /// The JWS `alg` a token signed by such a key must carry.
    pub fn jws_alg(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "EdDSA",
            KeyAlgorithm::P256 => "ES256",
        }
    }

    /// `ed25519` or `p256`, for storage and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::P256 => "p256",
        }
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
        PublicDeviceKey(PublicKey::Ed25519(self.signing.verifying_key()))
    }

    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.signing.verifying_key())
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

/// A software ECDSA P-256 key (ES256). The TPM-held kind signs inside the TPM instead; this
/// one exists for tools and tests (e.g. to show that a P-256 key without a TPM
/// certification is not taken for a hardware key). Never printed; wiped when dropped.
pub struct P256DeviceKey {
    signing: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for P256DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P256DeviceKey({}, secret redacted)", self.key_id())
    }
}

impl P256DeviceKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<P256DeviceKey, String> {
        // A uniformly random 32-byte string is a valid scalar with overwhelming
        // probability; the loop covers the rest (zero or at least the group order).
        for _ in 0..16 {
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            getrandom::fill(bytes.as_mut()).map_err(|e| format!("no randomness: {e}"))?;
            if let Ok(signing) = p256::ecdsa::SigningKey::from_slice(bytes.as_ref()) {
                return Ok(P256DeviceKey { signing });
            }
        }
        Err("no valid P-256 scalar drawn".into())
    }

    /// The key whose secret scalar is `scalar` (big-endian); refused if out of range.
    pub fn from_scalar(scalar: &[u8; 32]) -> Result<P256DeviceKey, String> {
        p256::ecdsa::SigningKey::from_slice(scalar)
            .map(|signing| P256DeviceKey { signing })
            .map_err(|_| "not a valid P-256 secret scalar".to_string())
    }

    pub fn public(&self) -> PublicDeviceKey {
        PublicDeviceKey(PublicKey::P256(*self.signing.verifying_key()))
    }

    pub fn key_id(&self) -> KeyId {
        KeyId::of_p256(self.signing.verifying_key())
    }

    /// An ES256 signature (SHA-256, then ECDSA) of `message`, as JWS r||s, low-S.
    pub fn sign_es256(&self, message: &[u8]) -> [u8; 64] {
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.signing.sign(message);
        let signature = signature.normalize_s().unwrap_or(signature);
        let mut out = [0u8; 64];
        out.copy_from_slice(&signature.to_bytes());
        out
    }
}

/// The key inside a [`PublicDeviceKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublicKey {
    Ed25519(VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

/// A device's public key, as the server registers it: Ed25519 or P-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicDeviceKey(pub(crate) PublicKey);

impl PublicDeviceKey {
    pub fn key_id(&self) -> KeyId {
        match &self.0 {
            PublicKey::Ed25519(k) => KeyId::of(k),
            PublicKey::P256(k) => KeyId::of_p256(k),
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.0 {
            PublicKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            PublicKey::P256(_) => KeyAlgorithm::P256,
        }
    }

    /// The key as text (how `reclaim device register` prints and takes it): an Ed25519 key
    /// as unpadded URL-safe base64 of its 32 bytes; a P-256 key as `p256:` followed by
    /// unpadded URL-safe base64 of its 65-byte SEC1 uncompressed point.
    pub fn to_base64(&self) -> String {
        match &self.0 {
            PublicKey::Ed25519(k) => URL_SAFE_NO_PAD.encode(k.as_bytes()),
            PublicKey::P256(k) => format!(
                "{P256_KEY_PREFIX}{}",
                URL_SAFE_NO_PAD.encode(k.to_encoded_point(false).as_bytes())
            ),
        }
    }

    /// Parses [`PublicDeviceKey::to_base64`]'s forms; refuses anything else, including
    /// the weak (small-order) Ed25519 points an attacker could register to forge
    /// signatures, and P-256 points that are not on the curve or are the identity.
    pub fn from_base64(text: &str) -> Result<PublicDeviceKey, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix(P256_KEY_PREFIX) {
            let bytes = URL_SAFE_NO_PAD
                .decode(rest)
                .map_err(|_| "not unpadded URL-safe base64".to_string())?;
            return PublicDeviceKey::from_p256_sec1(&bytes);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| "not unpadded URL-safe base64".to_string())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "an Ed25519 public key is 32 bytes".to_string())?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "not an Ed25519 public key".to_string())?;
        if key.is_weak() {
            return Err("a weak Ed25519 public key".into());
        }
        Ok(PublicDeviceKey(PublicKey::Ed25519(key)))
    }

    /// A P-256 key from its 65-byte SEC1 uncompressed point (`04 || x || y`); the
    /// compressed form is refused so that each key has exactly one text form.
    pub fn from_p256_sec1(bytes: &[u8]) -> Result<PublicDeviceKey, String> {
        if bytes.len() != 65 || bytes[0] != 4 {
            return Err("a P-256 public key is a 65-byte uncompressed point".into());
        }
        // from_sec1_bytes checks that the point is on the curve and not the identity.
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
            .map_err(|_| "not a P-256 public key".to_string())?;
        Ok(PublicDeviceKey(PublicKey::P256(key)))
    }

    /// A P-256 key from its affine coordinates (as a TPM reports them: big-endian, 32
    /// bytes each).
    pub fn from_p256_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Result<PublicDeviceKey, String> {
        let mut point = [0u8; 65];
        point[0] = 4;
        point[1..33].copy_from_slice(x);
        point[33..].copy_from_slice(y);
        PublicDeviceKey::from_p256_sec1(&point)
    }

    /// The 65-byte uncompressed point of a P-256 key; `None` for Ed25519.
    pub fn p256_sec1(&self) -> Option<[u8; 65]> {
        match &self.0 {
            PublicKey::P256(k) => k.to_encoded_point(false).as_bytes().try_into().ok(),
            PublicKey::Ed25519(_) => None,
        }
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
    fn p256_keys_round_trip_and_never_share_an_id_with_ed25519() {
        let key = P256DeviceKey::from_scalar(&[7u8; 32]).unwrap();
        let public = key.public();
        assert_eq!(public.algorithm(), KeyAlgorithm::P256);
        let text = public.to_base64();
        assert!(text.starts_with("p256:"), "{text}");
        assert_eq!(PublicDeviceKey::from_base64(&text).unwrap(), public);
        assert_eq!(public.key_id(), key.key_id());
        assert_eq!(key.key_id().as_str().len(), 32);
        let point = public.p256_sec1().unwrap();
        assert_eq!(PublicDeviceKey::from_p256_sec1(&point).unwrap(), public);
        let (x, y) = (
            point[1..33].try_into().unwrap(),
            point[33..].try_into().unwrap(),
        );
        assert_eq!(
            PublicDeviceKey::from_p256_coordinates(x, y).unwrap(),
            public
        );
        // The same 32 bytes as an Ed25519 key and as a P-256 x coordinate: different ids.
        let ed = DeviceKey::from_seed(&[7u8; 32]).public();
        assert_eq!(ed.algorithm(), KeyAlgorithm::Ed25519);
        assert!(ed.p256_sec1().is_none());
        assert_ne!(ed.key_id(), public.key_id());
        assert_ne!(P256DeviceKey::generate().unwrap().key_id(), key.key_id());
        assert!(P256DeviceKey::from_scalar(&[0u8; 32]).is_err());
        assert!(P256DeviceKey::from_scalar(&[0xffu8; 32]).is_err());
    }

    #[test]
    fn refuses_what_is_not_a_p256_point() {
        let good = P256DeviceKey::from_scalar(&[3u8; 32]).unwrap().public();
        let point = good.p256_sec1().unwrap();
        let mut off_curve = point;
        off_curve[64] ^= 1;
        let compressed = {
            let mut c = vec![2 + (point[64] & 1)];
            c.extend_from_slice(&point[1..33]);
            c
        };
        for bad in [
            "p256:".to_string(),
            "p256:!!!".to_string(),
            format!("p256:{}", URL_SAFE_NO_PAD.encode(off_curve)),
            format!("p256:{}", URL_SAFE_NO_PAD.encode(compressed)),
            format!("p256:{}", URL_SAFE_NO_PAD.encode([0u8; 65])),
            format!("p256:{}", URL_SAFE_NO_PAD.encode(&point[..64])),
            // The P-256 point without its prefix is not an Ed25519 key either.
            URL_SAFE_NO_PAD.encode(point),
        ] {
            assert!(PublicDeviceKey::from_base64(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_secret_is_not_printed() {
        let p = P256DeviceKey::from_scalar(&[9u8; 32]).unwrap();
        assert!(format!("{p:?}").contains("redacted"));
        let key = DeviceKey::from_seed(&[9u8; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode([9u8; 32])));
    }
}
