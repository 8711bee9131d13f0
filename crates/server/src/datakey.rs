//! The data key and the database it sealed. A key is created only for a database that no
//! key has touched yet; at the first start with a key the database records its fingerprint
//! (a one-way value derived from it), and from then on the server refuses to start with
//! another key or with none. Before, a lost `data.key` (a restore that missed it, a wrong
//! path) was replaced by a new key, and every template, pending reset and audit MAC made
//! with the old one became unreadable without a word.
//!
//! One key, one check: the audit chain's MAC keys and its checkpoint signing key are
//! derived from the same master key (crypto.rs), so they are covered too.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::crypto::{eq_ct, CryptoError, Keys};
use crate::store::datakey::KeyEvidence;
use crate::store::{self, Store, StoreError};

/// Why the key and the database do not go together.
#[derive(Debug, thiserror::Error)]
pub enum DataKeyError {
    #[error("data key: set data_key_file (or RECLAIM__DATA_KEY): templates, pending resets and the audit chain are sealed with it")]
    NotConfigured,
    #[error("data key file {path} is missing, but the database already holds data sealed with a key{}: restore that file from your backup (owner `reclaim`, mode 0600). The server does not make a new key for a database that is not empty: everything sealed with the old one would become unreadable", recorded_hint(.recorded))]
    Missing {
        path: PathBuf,
        recorded: Option<String>,
    },
    #[error("data key ({source_name}, fingerprint {found}) is not the key this database was sealed with{}: restore the right key from your backup (`reclaim serve --check` shows a key's fingerprint)", recorded_hint(.recorded))]
    Different {
        source_name: String,
        found: String,
        recorded: Option<String>,
    },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn recorded_hint(recorded: &Option<String>) -> String {
    match recorded {
        Some(fp) => format!(" (fingerprint {})", short(fp)),
        None => String::new(),
    }
}

/// The first 16 hex digits: enough to tell backups apart, short enough to read aloud.
pub fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

/// Where the key comes from.
pub enum Source<'a> {
    /// `RECLAIM__DATA_KEY` (or `data_key`).
    Value(&'a str),
    File(&'a Path),
}

impl Source<'_> {
    pub fn of(config: &Config) -> Result<Source<'_>, DataKeyError> {
        match (&config.data_key, &config.data_key_file) {
            (Some(hex), _) => Ok(Source::Value(hex)),
            (None, Some(path)) => Ok(Source::File(path)),
            (None, None) => Err(DataKeyError::NotConfigured),
        }
    }

    fn name(&self) -> String {
        match self {
            Source::Value(_) => "RECLAIM__DATA_KEY".into(),
            Source::File(path) => path.display().to_string(),
        }
    }

    /// The key, `None` for a file that does not exist.
    pub fn load(&self) -> Result<Option<Keys>, DataKeyError> {
        Ok(match self {
            Source::Value(hex) => Some(Keys::from_hex(hex)?),
            Source::File(path) => Keys::load(path)?,
        })
    }
}

/// What may be done with the key found (or not found) and the database as it is.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The database records this key.
    Matches,
    /// No key has touched the database, or it was sealed before fingerprints were recorded
    /// and this key made its audit head's MAC: record its fingerprint.
    Record,
    /// No key and a database no key has touched: a new key may be made.
    Create,
}

impl KeyEvidence {
    /// Whether any key ever touched the database.
    fn keyed(&self) -> bool {
        self.recorded.is_some()
            || self.head.as_ref().is_some_and(|h| !h.mac.is_empty())
            || self.entries > 0
    }
}

/// Decides, from the database's evidence, whether `keys` (or their absence) may be used.
pub fn judge(
    evidence: &KeyEvidence,
    source: &Source<'_>,
    keys: Option<&Keys>,
) -> Result<Verdict, DataKeyError> {
    let Some(keys) = keys else {
        return match (source, evidence.keyed()) {
            (Source::File(_), false) => Ok(Verdict::Create),
            (Source::File(path), true) => Err(DataKeyError::Missing {
                path: path.to_path_buf(),
                recorded: evidence.recorded.clone(),
            }),
            // A value is always a key (or an error from parsing it).
            (Source::Value(_), _) => Err(DataKeyError::NotConfigured),
        };
    };
    let different = || DataKeyError::Different {
        source_name: source.name(),
        found: short(keys.fingerprint()).to_string(),
        recorded: evidence.recorded.clone(),
    };
    if let Some(recorded) = &evidence.recorded {
        return if eq_ct(recorded.as_bytes(), keys.fingerprint().as_bytes()) {
            Ok(Verdict::Matches)
        } else {
            Err(different())
        };
    }
    // Sealed before fingerprints were recorded: the head's MAC says whether this key made
    // it (every start since keyed heads set one).
    match &evidence.head {
        Some(h) if !h.mac.is_empty() && !keys.audit_head_mac_matches(h.seq, &h.hash, &h.mac) => {
            Err(different())
        }
        _ => Ok(Verdict::Record),
    }
}

/// The key for a server opening `store` (migrated): loaded, made for a database no key
/// has touched, or refused; its fingerprint recorded at the first start.
pub async fn open(config: &Config, store: &Store) -> Result<Keys, DataKeyError> {
    let source = Source::of(config)?;
    let evidence = store::datakey::evidence(store).await?;
    let keys = source.load()?;
    let verdict = judge(&evidence, &source, keys.as_ref())?;
    let keys = match (verdict, keys, &source) {
        (Verdict::Create, None, Source::File(path)) => {
            let keys = Keys::create(path)?;
            tracing::warn!(
                code = "data_key_created",
                fingerprint = short(keys.fingerprint()),
                "a new data key was made for an empty database: back it up now, it cannot be replaced"
            );
            keys
        }
        (_, Some(keys), _) => keys,
        // `judge` only answers Create for a file that is missing.
        _ => return Err(DataKeyError::NotConfigured),
    };
    if evidence.recorded.is_none() {
        // Another instance may have recorded its own key meanwhile: the row kept wins.
        let recorded = store::datakey::record(store, keys.fingerprint()).await?;
        if !eq_ct(recorded.as_bytes(), keys.fingerprint().as_bytes()) {
            return Err(DataKeyError::Different {
                source_name: source.name(),
                found: short(keys.fingerprint()).to_string(),
                recorded: Some(recorded),
            });
        }
    }
    Ok(keys)
}
