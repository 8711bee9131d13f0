//! The server's configuration: a TOML file, with environment overrides so one file can
//! serve several instances (and secrets can stay out of it).
//!
//! Any key can be overridden with `RECLAIM__SECTION__KEY=value` (double underscores
//! between levels; the value is read as TOML when it parses, else as a string). Unknown
//! keys are refused, so a typo never silently leaves a default in force.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What went wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The server's public URL: the audience every attestation must name.
    pub public_url: String,
    pub database: DatabaseConfig,
    /// File holding the 32-byte master key (64 hex digits) that encrypts templates and
    /// pending passwords and keys the audit chain. Created (owner-only) when missing.
    /// `RECLAIM__DATA_KEY` (64 hex digits) takes precedence: several instances share it.
    pub data_key_file: Option<PathBuf>,
    pub data_key: Option<String>,
    pub directory: DirectoryConfig,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub limits: Limits,
    /// Model directory for re-verification; the shipped `models/` when absent.
    pub models_dir: Option<PathBuf>,
    /// Load the engine and re-verify evidence. Without it, attestations that need
    /// re-verification are refused.
    #[serde(default = "yes")]
    pub reverify: bool,
    /// Directory of Pwned-Passwords-style range files (`XXXXX` prefix files).
    pub breached_passwords_dir: Option<PathBuf>,
    /// Behind a reverse proxy: take the client's address from the last `X-Forwarded-For`
    /// entry (per-address limits). Only with a proxy that sets it: otherwise clients
    /// choose their own address.
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// Test-only fault injection; refused outside debug builds.
    #[serde(default)]
    pub fault: Faults,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite:///path/to/reclaim.db` or `postgres://user:pass@host:port/db`.
    pub url: String,
    #[serde(default = "default_connections")]
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DirectoryConfig {
    /// The embedded demo directory, kept in a JSON file.
    Demo { file: PathBuf },
    /// OpenLDAP or Active Directory.
    Ldap(reclaim_directory::LdapConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub session_ttl_s: u64,
    pub handoff_ttl_s: u64,
    pub grant_ttl_s: u64,
    pub attestation_max_lifetime_s: u64,
    pub clock_leeway_s: u64,
    /// Managed devices upload evidence too (unmanaged ones always do).
    pub managed_requires_evidence: bool,
    /// Accept frames from virtual or file-backed cameras. Never in production.
    pub allow_virtual_camera: bool,
    /// SHA-256 of every model an attesting device may have run. Empty: the models this
    /// server loads (so the app must ship the same ones).
    pub allowed_models: Vec<String>,
    /// Ask returning users for the ID again.
    pub always_require_document: bool,
    /// The challenge: this many turns, then `center`.
    pub challenge_turns: usize,
    /// A face match this close above the threshold goes to a person.
    pub review_margin: f32,
    /// How long evidence waiting for review is kept, seconds.
    pub review_retention_s: u64,
    /// Minimum password length 8 instead of 15 (the directory enforces a second factor).
    pub password_with_mfa: bool,
    /// How long one worker owns a pending reset, seconds. Longer than any directory call
    /// can take (checked against the LDAP timeout); also how long a reset interrupted by
    /// a crash waits before another worker resumes it.
    pub reset_lease_s: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            session_ttl_s: 600,
            handoff_ttl_s: 120,
            grant_ttl_s: 300,
            attestation_max_lifetime_s: 300,
            clock_leeway_s: 30,
            managed_requires_evidence: false,
            allow_virtual_camera: false,
            allowed_models: Vec::new(),
            always_require_document: false,
            challenge_turns: 2,
            review_margin: 0.05,
            review_retention_s: 7 * 24 * 3600,
            password_with_mfa: false,
            reset_lease_s: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub sessions_per_user_per_hour: i64,
    pub sessions_per_address_per_minute: i64,
    pub requests_per_device_per_minute: i64,
    pub device_registrations_per_address_per_hour: i64,
    /// Consecutive biometric failures before the delay (STANDARDS: at most 5).
    pub biometric_failures: i64,
    /// The first delay after them, seconds; doubled at each further failure, up to an hour.
    pub biometric_delay_s: i64,
    /// Resets attempted with one grant (policy refusals included).
    pub attempts_per_grant: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sessions_per_user_per_hour: 10,
            sessions_per_address_per_minute: 60,
            requests_per_device_per_minute: 120,
            device_registrations_per_address_per_hour: 20,
            biometric_failures: 5,
            biometric_delay_s: 30,
            attempts_per_grant: 10,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Wait this long before each directory change.
    pub directory_delay_ms: u64,
    /// Exit the process (as a crash would) right after the directory applied a change,
    /// before the server records it.
    pub crash_after_directory: bool,
}

impl Faults {
    pub fn any(&self) -> bool {
        self.directory_delay_ms > 0 || self.crash_after_directory
    }
}

fn default_listen() -> String {
    "127.0.0.1:8443".into()
}
fn default_connections() -> u32 {
    8
}
fn yes() -> bool {
    true
}

impl Config {
    /// Reads `path` (when given), applies `RECLAIM__*` from `env`, and checks the result.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?
            }
            None => toml::Table::new(),
        };
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("RECLAIM__") else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            set_path(&mut table, &path, parse_scalar(&value))?;
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if !(self.public_url.starts_with("https://") || self.public_url.starts_with("http://")) {
            return Err(ConfigError(
                "public_url must be the server's http(s) URL".into(),
            ));
        }
        if self.fault.any() && !cfg!(debug_assertions) {
            return Err(ConfigError(
                "[fault] is for tests and only accepted by debug builds".into(),
            ));
        }
        if self.limits.biometric_failures < 1 || self.limits.biometric_failures > 10 {
            return Err(ConfigError(
                "limits.biometric_failures must be 1 to 10 (NIST SP 800-63B)".into(),
            ));
        }
        if self.limits.biometric_delay_s < 30 {
            return Err(ConfigError(
                "limits.biometric_delay_s must be at least 30 (NIST SP 800-63B)".into(),
            ));
        }
        if self.policy.challenge_turns == 0 || self.policy.challenge_turns > 6 {
            return Err(ConfigError("policy.challenge_turns must be 1 to 6".into()));
        }
        if self.policy.grant_ttl_s == 0 || self.policy.grant_ttl_s > 3600 {
            return Err(ConfigError("policy.grant_ttl_s must be 1 to 3600".into()));
        }
        if let DirectoryConfig::Ldap(l) = &self.directory {
            l.validate()
                .map_err(|e| ConfigError(format!("directory: {e}")))?;
            // One resume makes up to three directory calls (find, check, set), each within
            // the timeout; the lease must outlast them, or a second worker could step in.
            let needed_ms = 4 * l.timeout_ms + self.fault.directory_delay_ms;
            if self.policy.reset_lease_s.saturating_mul(1000) < needed_ms {
                return Err(ConfigError(format!(
                    "policy.reset_lease_s must be at least {} s with directory.timeout_ms = {}",
                    needed_ms.div_ceil(1000),
                    l.timeout_ms
                )));
            }
        }
        if self.policy.reset_lease_s < 2 {
            return Err(ConfigError(
                "policy.reset_lease_s must be at least 2".into(),
            ));
        }
        for d in &self.policy.allowed_models {
            if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError(format!(
                    "policy.allowed_models: `{d}` is not a SHA-256"
                )));
            }
        }
        Ok(())
    }
}

fn parse_scalar(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

fn set_path(
    table: &mut toml::Table,
    path: &[String],
    value: toml::Value,
) -> Result<(), ConfigError> {
    match path {
        [] => Err(ConfigError("an empty RECLAIM__ override".into())),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(ConfigError(format!(
                    "RECLAIM__ override: `{first}` is not a section"
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
public_url = "https://reclaim.example.test"
[database]
url = "sqlite:///tmp/x.db"
[directory]
kind = "demo"
file = "/tmp/dir.json"
"#;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!("reclaim-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.toml", text.len() + env.len()));
        std::fs::write(&path, text).unwrap();
        Config::load(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = load(
            BASE,
            &[
                ("RECLAIM__DATABASE__URL", "postgres://a@b/c"),
                ("RECLAIM__POLICY__GRANT_TTL_S", "60"),
                ("RECLAIM__LISTEN", "0.0.0.0:9000"),
                ("OTHER", "ignored"),
            ],
        )
        .unwrap();
        assert_eq!(c.database.url, "postgres://a@b/c");
        assert_eq!(c.policy.grant_ttl_s, 60);
        assert_eq!(c.listen, "0.0.0.0:9000");
    }

    #[test]
    fn an_ldap_directory_is_configured_and_checked() {
        let ldap = r#"
public_url = "https://reclaim.example.test"
[database]
url = "sqlite:///tmp/x.db"
[directory]
kind = "ldap"
url = "ldaps://dc.example.test"
flavour = "active_directory"
bind_dn = "CN=svc,DC=example,DC=test"
bind_password = "secret"
base_dn = "DC=example,DC=test"
"#;
        let c = load(ldap, &[]).unwrap();
        assert!(matches!(c.directory, DirectoryConfig::Ldap(_)));
        // Active Directory over plain LDAP would send the password in the clear.
        let e = load(
            ldap,
            &[("RECLAIM__DIRECTORY__URL", "ldap://dc.example.test")],
        )
        .unwrap_err();
        assert!(e.0.contains("directory"), "{e}");
        let e = load(&ldap.replace("flavour", "flavor"), &[]).unwrap_err();
        assert!(e.0.contains("flavor"), "{e}");
    }

    #[test]
    fn unknown_keys_and_unsafe_values_are_refused() {
        let e = load(&format!("{BASE}\nlisten_adress = \"x\"\n"), &[]).unwrap_err();
        assert!(e.0.contains("listen_adress"), "{e}");
        assert!(load(BASE, &[("RECLAIM__LIMITS__BIOMETRIC_FAILURES", "50")]).is_err());
        assert!(load(BASE, &[("RECLAIM__LIMITS__BIOMETRIC_DELAY_S", "1")]).is_err());
        assert!(load(BASE, &[("RECLAIM__PUBLIC_URL", "reclaim")]).is_err());
        assert!(load(BASE, &[("RECLAIM__POLICY__ALLOWED_MODELS", "[\"abc\"]")]).is_err());
        assert!(load("not = [toml", &[]).is_err());
    }
}
