//! Secrets at rest and the tokens handed to clients.
//!
//! One 32-byte master key (from the environment or an owner-only file) is split by HMAC
//! into a sealing key (ChaCha20-Poly1305, for face templates, evidence awaiting review and
//! a password while its reset is pending), an audit key (the chain's MAC, so an edit
//! needs the key as well as the database), an audit head key (the head row's MAC, so a
//! cut tail needs the key too) and an Ed25519 checkpoint key (signed checkpoints that
//! anchor the chain outside the database; its public half can be handed to a SIEM). Bearer secrets given to clients (session
//! tokens, hand-off secrets, reset grants) are 256-bit random values stored only as their
//! SHA-256, so a copy of the database does not let anyone act as a client.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the data key is unusable: {0}")]
    Key(String),
    #[error("sealed data could not be opened (wrong key or altered)")]
    Open,
    #[error("no randomness from the operating system")]
    Random,
}

/// The keys derived from the master key.
pub struct Keys {
    seal: ChaCha20Poly1305,
    audit: Zeroizing<[u8; 32]>,
    audit_head: Zeroizing<[u8; 32]>,
    /// Keys the identity-verification provider's pairwise subjects (recovery/idv.rs).
    idv_subject: Zeroizing<[u8; 32]>,
    /// Zeroised on drop (ed25519-dalek's `zeroize` feature).
    checkpoint: ed25519_dalek::SigningKey,
    /// Names the key without revealing it (hex): the database records it, so a start with
    /// another key, or none, is refused (datakey.rs).
    fingerprint: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn derive(master: &[u8; 32], purpose: &str) -> Zeroizing<[u8; 32]> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

impl Keys {
    pub fn from_master(master: &[u8; 32]) -> Keys {
        let seal = derive(master, "reclaim seal v1");
        Keys {
            seal: ChaCha20Poly1305::new(Key::from_slice(&seal[..])),
            audit: derive(master, "reclaim audit v1"),
            // Labels distinct from every other derivation: each key does one job.
            audit_head: derive(master, "reclaim audit head v1"),
            idv_subject: derive(master, "reclaim idv subject v1"),
            checkpoint: ed25519_dalek::SigningKey::from_bytes(&derive(
                master,
                "reclaim audit checkpoint v1",
            )),
            fingerprint: hex::encode(&derive(master, "reclaim key fingerprint v1")[..]),
        }
    }

    /// The key's fingerprint, 64 hex digits: an HMAC of a label under the key, so it can
    /// be stored and shown, and says nothing about the key or the keys derived from it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Keys, CryptoError> {
        let mut bytes =
            hex::decode(text.trim()).map_err(|_| CryptoError::Key("not hexadecimal".into()))?;
        let key: Result<[u8; 32], _> = bytes.as_slice().try_into();
        bytes.zeroize();
        let mut key = key.map_err(|_| CryptoError::Key("not 32 bytes".into()))?;
        let keys = Keys::from_master(&key);
        key.zeroize();
        Ok(keys)
    }

    /// Reads the key file; `None` when it does not exist. Whether a missing key may be
    /// replaced by a new one is the database's to say (datakey.rs), never this function's.
    pub fn load(path: &Path) -> Result<Option<Keys>, CryptoError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                Keys::from_hex(&text)
                    .map(Some)
                    .map_err(|e| CryptoError::Key(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CryptoError::Key(format!("{}: {e}", path.display()))),
        }
    }

    /// Creates the key file (mode 0600, never replacing one) with a new random key.
    pub fn create(path: &Path) -> Result<Keys, CryptoError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|_| CryptoError::Random)?;
        let text = Zeroizing::new(hex::encode(key));
        let written = write_private(path, text.as_bytes())
            .map_err(|e| CryptoError::Key(format!("{}: {e}", path.display())));
        let keys = Keys::from_master(&key);
        key.zeroize();
        written.map(|()| keys)
    }

    /// Encrypts `plaintext`; `purpose` is bound as associated data so a template can
    /// never be opened as a password or the other way round.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, CryptoError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let ct = self
            .seal
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| CryptoError::Open)?;
        if bytes.len() < 12 + 16 {
            return Err(CryptoError::Open);
        }
        let (nonce, ct) = bytes.split_at(12);
        self.seal
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: purpose.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }

    /// The audit chain's MAC of `data`, hex.
    pub fn audit_mac(&self, data: &[u8]) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.audit[..])
            .expect("HMAC takes any key length");
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    /// An identity-verification subject: an HMAC of `data` (the relying party and what
    /// identifies the person) under a key of its own, base64url. Stable for the same
    /// data, unlinkable between relying parties, and not reversible without the data key.
    pub fn idv_subject(&self, data: &[u8]) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.idv_subject[..])
            .expect("HMAC takes any key length");
        mac.update(data);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `expected` (hex) is the audit MAC of `data`; compared in constant time.
    pub fn audit_mac_matches(&self, data: &[u8], expected: &str) -> bool {
        let Ok(expected) = hex::decode(expected) else {
            return false;
        };
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.audit[..])
            .expect("HMAC takes any key length");
        mac.update(data);
        mac.verify_slice(&expected).is_ok()
    }

    fn audit_head_hmac(&self, seq: i64, hash: &str) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.audit_head[..])
            .expect("HMAC takes any key length");
        // Length-prefixed, as the entries' input.
        for field in [seq.to_string().as_str(), hash] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    /// The MAC of the audit chain's head (last sequence number and entry MAC), hex.
    pub fn audit_head_mac(&self, seq: i64, hash: &str) -> String {
        hex::encode(self.audit_head_hmac(seq, hash).finalize().into_bytes())
    }

    /// Whether `expected` (hex) is the head MAC of `seq` and `hash`; constant time.
    pub fn audit_head_mac_matches(&self, seq: i64, hash: &str, expected: &str) -> bool {
        let Ok(expected) = hex::decode(expected) else {
            return false;
        };
        self.audit_head_hmac(seq, hash)
            .verify_slice(&expected)
            .is_ok()
    }

    /// Signs an audit checkpoint's message (Ed25519).
    pub fn checkpoint_sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.checkpoint.sign(message).to_bytes()
    }

    /// The checkpoint key's public half (raw 32 bytes), for whoever checks checkpoints.
    pub fn checkpoint_public_key(&self) -> [u8; 32] {
        self.checkpoint.verifying_key().to_bytes()
    }

    /// Whether `signature` is this server's signature of `message` (strict: no malleable
    /// or small-order forms).
    pub fn checkpoint_verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.checkpoint
            .verifying_key()
            .verify_strict(message, &sig)
            .is_ok()
    }
}

/// Creates `path` (never replacing a file), readable and writable by its owner only:
/// key files and templates.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A new bearer secret: `prefix` then 256 random bits, base64url.
pub fn new_secret(prefix: &str) -> Result<Zeroizing<String>, CryptoError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
    let s = Zeroizing::new(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)));
    bytes.zeroize();
    Ok(s)
}

/// A new identifier (not a secret): 128 random bits, base64url.
pub fn new_id() -> Result<String, CryptoError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `a` and `b` are equal, in time that depends on their lengths only.
pub fn eq_ct(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// How a bearer secret is stored and looked up.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_purpose() {
        let a = Keys::from_master(&[7; 32]);
        let b = Keys::from_master(&[8; 32]);
        let sealed = a.seal("template", b"embedding").unwrap();
        assert_eq!(&a.open("template", &sealed).unwrap()[..], b"embedding");
        assert!(a.open("password", &sealed).is_err());
        assert!(b.open("template", &sealed).is_err());
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(a.open("template", &STANDARD.encode(tampered)).is_err());
        assert!(a.open("template", "short").is_err());
        // Two seals of the same data differ (fresh nonce).
        assert_ne!(sealed, a.seal("template", b"embedding").unwrap());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("reclaim-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.key");
        let _ = std::fs::remove_file(&path);
        assert!(Keys::load(&path).unwrap().is_none());
        let k1 = Keys::create(&path).unwrap();
        let sealed = k1.seal("x", b"y").unwrap();
        let k2 = Keys::load(&path).unwrap().unwrap();
        assert_eq!(&k2.open("x", &sealed).unwrap()[..], b"y");
        assert_eq!(k1.fingerprint(), k2.fingerprint());
        // An existing file is never replaced.
        assert!(Keys::create(&path).is_err());
        assert_eq!(
            Keys::load(&path).unwrap().unwrap().fingerprint(),
            k1.fingerprint()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key file is readable by others");
        }
        std::fs::write(&path, "zz").unwrap();
        assert!(Keys::load(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_audit_head_and_checkpoints_need_the_key() {
        let a = Keys::from_master(&[7; 32]);
        let b = Keys::from_master(&[8; 32]);
        let head = a.audit_head_mac(7, "ab");
        assert!(a.audit_head_mac_matches(7, "ab", &head));
        assert!(!a.audit_head_mac_matches(6, "ab", &head));
        assert!(!b.audit_head_mac_matches(7, "ab", &head));
        assert!(!a.audit_head_mac_matches(7, "ab", ""));
        // The head key is not the entries' key.
        assert_ne!(head, a.audit_mac(b"ab"));
        assert!(a.audit_mac_matches(b"x", &a.audit_mac(b"x")));
        assert!(!a.audit_mac_matches(b"x", &b.audit_mac(b"x")));
        let sig = a.checkpoint_sign(b"checkpoint");
        assert!(a.checkpoint_verify(b"checkpoint", &sig));
        assert!(!a.checkpoint_verify(b"checkpoinT", &sig));
        assert!(!b.checkpoint_verify(b"checkpoint", &sig));
        assert!(!a.checkpoint_verify(b"checkpoint", &sig[..63]));
        assert_ne!(a.checkpoint_public_key(), b.checkpoint_public_key());
        // The fingerprint is none of the keys it stands for.
        assert_eq!(a.fingerprint().len(), 64);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), hex::encode(a.checkpoint_public_key()));
        assert_ne!(a.fingerprint(), hex::encode([7u8; 32]));
        assert!(eq_ct(b"abc", b"abc") && !eq_ct(b"abc", b"abd") && !eq_ct(b"abc", b"ab"));
    }

    #[test]
    fn secrets_are_distinct_and_stored_hashed() {
        let a = new_secret("rg_").unwrap();
        let b = new_secret("rg_").unwrap();
        assert_ne!(*a, *b);
        assert!(a.starts_with("rg_") && a.len() == 3 + 43);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }
}
