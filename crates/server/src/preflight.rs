//! `reclaim serve --check`: what a start would find wrong, found without starting, and all
//! of it at once. The configuration is loaded by the caller exactly as `serve` loads it
//! (with every validation a start runs); this module then checks what the configuration
//! names: the data key against the database, the database's transport, files and
//! directories, the models, the SIEM sinks (opened as a start opens them, which creates a
//! missing `[siem.file]` file), and (when asked) the directory.
//!
//! Nothing it reports holds a secret: messages name settings, paths, hosts and the data
//! key's fingerprint (a one-way value), never a password, a key or a URL's credentials.

use std::path::{Path, PathBuf};

use crate::config::{Config, DirectoryConfig};
use crate::datakey::{self, DataKeyError, Source, Verdict};
use crate::store::tls::Transport;
use crate::store::{self, Store};

/// What to do beyond reading.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Bring the database's schema up to date (as a start would) instead of a read-only
    /// probe.
    pub migrate: bool,
    /// Connect to the company directory and check the service account's bind.
    pub connect: bool,
}

/// One finding: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: &'static str,
    pub message: String,
}

/// What the check found: problems (a start would fail or run badly) and notes.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Finding>,
    pub notes: Vec<Finding>,
}

impl Report {
    fn problem(&mut self, code: &'static str, message: impl Into<String>) {
        self.problems.push(Finding {
            code,
            message: message.into(),
        });
    }

    fn note(&mut self, code: &'static str, message: impl Into<String>) {
        self.notes.push(Finding {
            code,
            message: message.into(),
        });
    }
}

/// Checks everything `config` names.
pub async fn check(config: &Config, options: Options) -> Report {
    let mut report = Report::default();
    let source = match Source::of(config) {
        Ok(s) => Some(s),
        Err(e) => {
            report.problem("data_key_not_configured", e.to_string());
            None
        }
    };
    // `None` when there is no usable key configuration to compare (already reported).
    let keys = match &source {
        Some(source) => check_key_file(&mut report, source),
        None => Err(()),
    };
    let database = check_database(&mut report, config, options).await;
    if let (Some(store), Some(source), Ok(keys)) = (&database, &source, &keys) {
        match store::datakey::evidence(store).await {
            Ok(evidence) => match datakey::judge(&evidence, source, keys.as_ref()) {
                Ok(Verdict::Create) => report.note(
                    "data_key_created_at_start",
                    format!(
                        "{} does not exist: the first start makes a new key for this empty database (back it up then)",
                        match source {
                            Source::File(p) => p.display().to_string(),
                            Source::Value(_) => "the data key".into(),
                        }
                    ),
                ),
                Ok(_) => report.note(
                    "data_key_matches",
                    format!(
                        "data key fingerprint {} fits the database",
                        keys.as_ref()
                            .map_or("?", |k| datakey::short(k.fingerprint()))
                    ),
                ),
                Err(e @ DataKeyError::Missing { .. }) => report.problem("data_key_missing", e.to_string()),
                Err(e @ DataKeyError::Different { .. }) => {
                    report.problem("data_key_different", e.to_string())
                }
                Err(e) => report.problem("data_key_unusable", e.to_string()),
            },
            Err(e) => report.problem("database_unreadable", e.to_string()),
        }
    }
    check_files(&mut report, config);
    if config.reverify {
        check_models(&mut report, config.models_dir.as_deref());
    }
    if let Err(e) = crate::siem::Sinks::open(&config.siem, |name| std::env::var(name).ok()) {
        report.problem("siem_unusable", e.0);
    }
    if let Some(dir) = &config.breached_passwords_dir {
        if let Err(e) = reclaim_protocol::BreachedPasswords::new(dir) {
            report.problem(
                "file_unreadable",
                format!("breached_passwords_dir {}: {e}", dir.display()),
            );
        }
    }
    if options.connect {
        match crate::open_directory(config) {
            Ok(directory) => match directory.health().await {
                Ok(()) => report.note(
                    "directory_reachable",
                    "the directory answers and the service account binds",
                ),
                Err(e) => report.problem("directory_unreachable", format!("directory: {e}")),
            },
            Err(e) => report.problem("directory_unreachable", e.to_string()),
        }
    }
    report
}

/// The key file: present (or missing, which the database decides about), private,
/// readable, 64 hex digits. The key, when there is one; an error when it is unusable
/// (reported here: the database's verdict on it would only repeat it).
fn check_key_file(
    report: &mut Report,
    source: &Source<'_>,
) -> Result<Option<crate::crypto::Keys>, ()> {
    if let Source::File(path) = source {
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                report.problem(
                    "data_key_permissions",
                    format!(
                        "{} can be read by others than its owner: chmod 600 it",
                        path.display()
                    ),
                );
            }
        }
    }
    source.load().map_err(|e| {
        report.problem("data_key_unusable", e.to_string());
    })
}

/// The transport the URL asks for, then the database itself: reachable, and readable.
async fn check_database(report: &mut Report, config: &Config, options: Options) -> Option<Store> {
    let url = &config.database.url;
    match store::tls::check(url, config.database.allow_insecure_transport) {
        Ok(Transport::Insecure { host }) => report.note(
            "database_transport_insecure",
            format!("PostgreSQL at {host} is reached without a checked certificate (database.allow_insecure_transport = true): only on a network you trust"),
        ),
        Ok(Transport::Verified {
            root_cert: Some(ca),
        }) => {
            let before = report.problems.len();
            readable_file(report, "database.url sslrootcert", &ca);
            if report.problems.len() > before {
                // Every connection would fail on it: that is the one problem to report.
                return None;
            }
        }
        Ok(_) => {}
        Err(e) => {
            report.problem("database_transport_insecure", e.to_string());
            return None;
        }
    }
    if !options.migrate {
        if let Some(path) = sqlite_path(url) {
            if !path.exists() {
                let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
                if parent.is_some_and(|p| !p.is_dir()) {
                    report.problem(
                        "database_unreachable",
                        format!(
                            "database.url: the directory of {} does not exist",
                            path.display()
                        ),
                    );
                } else {
                    report.note(
                        "database_created_at_start",
                        format!(
                            "{} does not exist yet: the first start creates it",
                            path.display()
                        ),
                    );
                }
                return None;
            }
        }
    }
    let opened = if options.migrate {
        Store::open(url, 1).await
    } else {
        Store::probe(url).await
    };
    match opened {
        Ok(store) => match store.ping().await {
            Ok(()) => Some(store),
            Err(e) => {
                report.problem("database_unreachable", e.to_string());
                None
            }
        },
        Err(e) => {
            report.problem("database_unreachable", e.to_string());
            None
        }
    }
}

/// The file of a `sqlite://` URL.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Every file and directory the configuration names, as the server will need it.
fn check_files(report: &mut Report, config: &Config) {
    let mut files: Vec<(String, &Path)> = Vec::new();
    if let Some(ca) = &config.notify.ca_file {
        files.push(("notify.ca_file".into(), ca));
    }
    if let Some(ca) = config
        .admin
        .oidc
        .as_ref()
        .and_then(|o| o.ca_file.as_deref())
    {
        files.push(("admin.oidc.ca_file".into(), ca));
    }
    for ca in &config.tpm.endorsement_ca_files {
        files.push(("tpm.endorsement_ca_files".into(), ca));
    }
    if let DirectoryConfig::Demo { file } = &config.directory {
        if !file.exists() {
            parent_dir(report, "directory.file", file);
        }
    }
    let connectors = std::iter::once(("directory".to_string(), &config.directory)).chain(
        config
            .connectors
            .iter()
            .map(|(n, c)| (format!("connectors.{n}"), c)),
    );
    for (section, connector) in connectors {
        for (key, path) in connector.files() {
            files.push((format!("{section}.{key}"), path));
        }
    }
    for (setting, path) in files {
        readable_file(report, &setting, path);
    }
    if let Some(path) = &config.audit.checkpoint_file {
        parent_dir(report, "audit.checkpoint_file", path);
    }
}

fn readable_file(report: &mut Report, setting: &str, path: &Path) {
    let readable = std::fs::File::open(path).and_then(|f| f.metadata());
    match readable {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => report.problem(
            "file_unreadable",
            format!("{setting}: {} is not a file", path.display()),
        ),
        Err(e) => report.problem(
            "file_unreadable",
            format!("{setting}: {}: {e}", path.display()),
        ),
    }
}

fn parent_dir(report: &mut Report, setting: &str, path: &Path) {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if parent.is_some_and(|p| !p.is_dir()) {
        report.problem(
            "file_unreadable",
            format!(
                "{setting}: the directory of {} does not exist",
                path.display()
            ),
        );
    }
}

/// The shipped models the engine loads: present, readable, and the files the manifest
/// compiled into this build names (by digest).
fn check_models(report: &mut Report, dir: Option<&Path>) {
    use reclaim_verify::models::{ModelId, ModelStore};
    let models = match dir {
        Some(d) => ModelStore::in_dir(d),
        None => ModelStore::discover(),
    };
    for id in [
        ModelId::FaceDetector,
        ModelId::FaceEmbedder,
        ModelId::TextDetector,
        ModelId::TextRecognizer,
    ] {
        if let Err(e) = models.read_verified(id) {
            report.problem("model_unusable", format!("models_dir: {e}"));
        }
    }
}
