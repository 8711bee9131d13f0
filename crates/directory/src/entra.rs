//! The Microsoft Entra ID connector, through Microsoft Graph v1.0 with application
//! permissions (no signed-in administrator).
//!
//! - Reclaim signs in as an app registration with a certificate: a PS256 client assertion
//!   whose header carries the certificate's SHA-256 thumbprint (`x5t#S256`), traded at the
//!   tenant's token endpoint for a Graph token (client credentials).
//! - A password is set by `PATCH /users/{id}` with a `passwordProfile`: the only way Graph
//!   offers an app without a signed-in user (the `resetPassword` action of the password
//!   authentication method is delegated-only).
//! - An MFA reset deletes the configured kinds of authentication method, each through its
//!   own endpoint, then issues a Temporary Access Pass the person signs in with once to
//!   enrol new factors.
//! - Entra has no unlock call (a Smart Lockout ends by itself): `unlock` is unsupported and
//!   the server refuses the action up front.
//!
//! No password, token, key or pass ever appears in an error, a log or `Debug`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::rest::{check_url, HttpSettings};
use crate::{Capabilities, Directory, DirectoryError, DirectoryUser, MfaReset};

mod graph;
mod methods;

pub use methods::EntraMethodKind;

/// Microsoft Graph v1.0 in Microsoft's global cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// The Microsoft identity platform's sign-in host in the global cloud.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";

/// The sentence `unlock` answers and the docs repeat.
pub const UNLOCK_UNSUPPORTED: &str = "unlock an account: Microsoft Entra ID has no API to clear a Smart Lockout, which ends by itself after the lockout duration; Reclaim refuses an unlock request before the person verifies their identity";

fn default_graph_url() -> String {
    DEFAULT_GRAPH_URL.into()
}

fn default_login_url() -> String {
    DEFAULT_LOGIN_URL.into()
}

fn default_tap_lifetime() -> u32 {
    60
}

fn default_true() -> bool {
    true
}

fn default_timeout_ms() -> u64 {
    crate::rest::DEFAULT_TIMEOUT_MS
}

fn default_max_rate_limit_wait_ms() -> u64 {
    crate::rest::DEFAULT_MAX_RATE_LIMIT_WAIT_MS
}

fn default_max_groups() -> usize {
    1000
}

/// The most groups a lookup may be configured to read.
const MAX_GROUPS_LIMIT: usize = 20_000;

/// How Reclaim reaches the tenant and what it changes there.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    /// The directory (tenant) id, a GUID, or a verified domain of the tenant.
    pub tenant_id: String,
    /// The application (client) id of Reclaim's app registration.
    pub client_id: String,
    /// PEM file with the RSA private key of the app's certificate (PKCS#8 or PKCS#1).
    pub private_key_file: PathBuf,
    /// PEM file with the certificate uploaded to the app registration; its SHA-256
    /// thumbprint names it in each assertion (`x5t#S256`).
    pub certificate_file: PathBuf,
    /// Graph's base URL: another for a national cloud (`https://graph.microsoft.us/v1.0`).
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    /// The sign-in host (`https://login.microsoftonline.us` for US Government).
    #[serde(default = "default_login_url")]
    pub login_url: String,
    /// A user property holding the birth date (`YYYY-MM-DD`, or a date-time whose date is
    /// taken): a property of the user resource (`employeeHireDate`-like names), an
    /// on-premises extension attribute (`onPremisesExtensionAttributes.extensionAttribute7`)
    /// or a directory extension (`extension_<app id without dashes>_birthDate`).
    #[serde(default)]
    pub birth_date_attribute: Option<String>,
    /// Make the person change the new password at their next sign-in. Off by default:
    /// the person chose this password themselves in Reclaim.
    #[serde(default)]
    pub force_change_password_next_sign_in: bool,
    /// Issue a Temporary Access Pass after an MFA reset (shown once in the app), so the
    /// person can sign in and enrol new factors.
    #[serde(default = "default_true")]
    pub issue_temporary_access_pass: bool,
    /// Its lifetime, minutes (10 to 43200; the tenant's TAP policy must allow it).
    #[serde(default = "default_tap_lifetime")]
    pub temporary_access_pass_lifetime_minutes: u32,
    /// Whether it works for one sign-in only (the tenant's policy must allow the choice).
    #[serde(default = "default_true")]
    pub temporary_access_pass_one_time: bool,
    /// The kinds of authentication method an MFA reset removes. Default: every second
    /// factor (`phone`, `microsoftAuthenticator`, `fido2`, `softwareOath`,
    /// `windowsHelloForBusiness`); `email` (used for self-service password reset only)
    /// is kept unless listed. A Temporary Access Pass is always removed (Reclaim issues
    /// the new one); the password never is.
    #[serde(default = "methods::default_kinds")]
    pub remove_method_types: Vec<EntraMethodKind>,
    /// Limit on each HTTP request, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The longest one request waits in all for Graph's rate limit, milliseconds.
    #[serde(default = "default_max_rate_limit_wait_ms")]
    pub max_rate_limit_wait_ms: u64,
    /// PEM file with the CA certificate(s) to trust; without it, the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The most groups and directory roles a lookup reads; an account in more has an
    /// unknown list (an error), not a shortened one.
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
}

impl std::fmt::Debug for EntraConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is only named by its file; the file itself is the secret.
        f.debug_struct("EntraConfig")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("private_key_file", &"<redacted>")
            .field("certificate_file", &self.certificate_file)
            .field("graph_url", &self.graph_url)
            .field("login_url", &self.login_url)
            .field("birth_date_attribute", &self.birth_date_attribute)
            .field(
                "force_change_password_next_sign_in",
                &self.force_change_password_next_sign_in,
            )
            .field(
                "issue_temporary_access_pass",
                &self.issue_temporary_access_pass,
            )
            .field(
                "temporary_access_pass_lifetime_minutes",
                &self.temporary_access_pass_lifetime_minutes,
            )
            .field(
                "temporary_access_pass_one_time",
                &self.temporary_access_pass_one_time,
            )
            .field("remove_method_types", &self.remove_method_types)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_rate_limit_wait_ms", &self.max_rate_limit_wait_ms)
            .field("ca_file", &self.ca_file)
            .field("max_groups", &self.max_groups)
            .finish()
    }
}

impl EntraConfig {
    /// The settings every tenant needs, the others at their defaults.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        private_key_file: impl Into<PathBuf>,
        certificate_file: impl Into<PathBuf>,
    ) -> EntraConfig {
        EntraConfig {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            private_key_file: private_key_file.into(),
            certificate_file: certificate_file.into(),
            graph_url: default_graph_url(),
            login_url: default_login_url(),
            birth_date_attribute: None,
            force_change_password_next_sign_in: false,
            issue_temporary_access_pass: true,
            temporary_access_pass_lifetime_minutes: default_tap_lifetime(),
            temporary_access_pass_one_time: true,
            remove_method_types: methods::default_kinds(),
            timeout_ms: default_timeout_ms(),
            max_rate_limit_wait_ms: default_max_rate_limit_wait_ms(),
            ca_file: None,
            max_groups: default_max_groups(),
        }
    }

    /// The HTTP limits, as the shared REST layer takes them.
    pub fn http(&self) -> HttpSettings {
        HttpSettings {
            timeout_ms: self.timeout_ms,
            max_rate_limit_wait_ms: self.max_rate_limit_wait_ms,
            ca_file: self.ca_file.clone(),
        }
    }

    /// Checks the configuration without touching the network (the key and certificate
    /// files are read by [`EntraDirectory::new`]).
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let bad = |m: String| Err(DirectoryError::Config(m));
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= 256
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        if !plain(self.tenant_id.trim()) {
            return bad("tenant_id must be the tenant's id (a GUID) or one of its domains".into());
        }
        if !plain(self.client_id.trim()) {
            return bad("client_id must be the app registration's application id".into());
        }
        check_url(&self.graph_url, "graph_url")?;
        check_url(&self.login_url, "login_url")?;
        self.http().validate()?;
        if let Some(a) = &self.birth_date_attribute {
            if graph::birth_date_path(a).is_none() {
                return bad(format!(
                    "birth_date_attribute {a:?} is not a user property, onPremisesExtensionAttributes.extensionAttribute1..15 or extension_..."
                ));
            }
        }
        if !(10..=43_200).contains(&self.temporary_access_pass_lifetime_minutes) {
            return bad(
                "temporary_access_pass_lifetime_minutes must be between 10 and 43200".into(),
            );
        }
        if self.max_groups == 0 || self.max_groups > MAX_GROUPS_LIMIT {
            return bad(format!(
                "max_groups must be between 1 and {MAX_GROUPS_LIMIT}"
            ));
        }
        Ok(())
    }

    /// The longest one call of [`EntraDirectory`] takes (its token, its requests, their
    /// rate-limit waits): each is cut off there (as a [`DirectoryError::Timeout`]). The
    /// server's lease on a pending reset must outlast four of them.
    pub fn worst_call_ms(&self) -> u64 {
        self.http().worst_call_ms()
    }
}

/// A Microsoft Entra ID tenant through Microsoft Graph.
pub struct EntraDirectory {
    config: EntraConfig,
    graph: graph::Graph,
}

impl std::fmt::Debug for EntraDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraDirectory")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EntraDirectory {
    /// Checks the configuration and reads the key and the certificate (a key that does not
    /// belong to the certificate is refused here, not at the first sign-in).
    pub fn new(config: EntraConfig) -> Result<EntraDirectory, DirectoryError> {
        config.validate()?;
        let graph = graph::Graph::new(&config)?;
        Ok(EntraDirectory { config, graph })
    }

    pub fn config(&self) -> &EntraConfig {
        &self.config
    }

    /// See [`EntraConfig::worst_call_ms`].
    pub fn worst_call_ms(&self) -> u64 {
        self.config.worst_call_ms()
    }

    async fn within<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        tokio::time::timeout(Duration::from_millis(self.worst_call_ms()), op)
            .await
            .unwrap_or(Err(DirectoryError::Timeout))
    }
}

#[async_trait]
impl Directory for EntraDirectory {
    fn kind(&self) -> &'static str {
        "entra"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reset_password: true,
            reset_mfa: true,
            unlock: false,
        }
    }

    /// By `userPrincipalName` or `mail`, exactly (Graph compares them without regard to
    /// case). More than one match is an error, never a guess.
    async fn find_user(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        self.within(self.graph.find_user(login)).await
    }

    /// `PATCH /users/{id}` with `passwordProfile`.
    async fn set_password(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<(), DirectoryError> {
        self.within(self.graph.set_password(&user.id, password))
            .await
    }

    /// Graph cannot tell an app whether a password is the current one: only a sign-in as
    /// the user could, and Reclaim does not sign in with a user's password (the resource
    /// owner password grant bypasses MFA and is not offered to this kind of app). The
    /// answer is [`DirectoryError::Unsupported`], which the server takes as "unknown" and
    /// sets the password again: an administrator's reset is not checked against the
    /// password history, so setting the same one twice is harmless.
    async fn password_is(
        &self,
        _user: &DirectoryUser,
        _password: &str,
    ) -> Result<bool, DirectoryError> {
        Err(DirectoryError::Unsupported(
            "tell whether a password is the current one (Microsoft Graph has no such check for an app)",
        ))
    }

    async fn reset_mfa(
        &self,
        user: &DirectoryUser,
        keep_enrolled_since: Option<SystemTime>,
    ) -> Result<MfaReset, DirectoryError> {
        self.within(self.graph.reset_mfa(&user.id, keep_enrolled_since))
            .await
    }

    async fn unlock(&self, _user: &DirectoryUser) -> Result<(), DirectoryError> {
        Err(DirectoryError::Unsupported(UNLOCK_UNSUPPORTED))
    }

    /// A token and the smallest listing of users.
    async fn health(&self) -> Result<(), DirectoryError> {
        self.within(self.graph.health()).await
    }

    /// The groups and directory roles the account is in, nested ones included
    /// (`transitiveMemberOf`): each by its object id (exact: the recommended way to
    /// configure a privileged group) and by its display name.
    async fn groups(&self, user: &DirectoryUser) -> Result<Vec<String>, DirectoryError> {
        self.within(self.graph.groups(&user.id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EntraConfig {
        EntraConfig::new(
            "contoso.onmicrosoft.com",
            "11111111-2222-3333-4444-555555555555",
            "/k.pem",
            "/c.pem",
        )
    }

    #[test]
    fn the_configuration_is_checked_and_its_debug_hides_the_key_file() {
        assert!(config().validate().is_ok());
        let debug = format!("{:?}", config());
        assert!(!debug.contains("/k.pem"), "{debug}");
        for broken in [
            EntraConfig {
                tenant_id: "a/b".into(),
                ..config()
            },
            EntraConfig {
                client_id: "".into(),
                ..config()
            },
            EntraConfig {
                graph_url: "http://graph.example/v1.0".into(),
                ..config()
            },
            EntraConfig {
                login_url: "https://user:pw@login.example".into(),
                ..config()
            },
            EntraConfig {
                temporary_access_pass_lifetime_minutes: 5,
                ..config()
            },
            EntraConfig {
                birth_date_attribute: Some("a b".into()),
                ..config()
            },
            EntraConfig {
                birth_date_attribute: Some(
                    "onPremisesExtensionAttributes.extensionAttribute16".into(),
                ),
                ..config()
            },
            EntraConfig {
                timeout_ms: 0,
                ..config()
            },
            EntraConfig {
                max_groups: 0,
                ..config()
            },
        ] {
            assert!(
                matches!(broken.validate(), Err(DirectoryError::Config(_))),
                "{broken:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_method_kinds_are_refused_by_name() {
        let base = r#"tenant_id = "t"
client_id = "c"
private_key_file = "/k"
certificate_file = "/c"
"#;
        let ok: EntraConfig = toml_like(base).unwrap();
        assert_eq!(ok.remove_method_types, methods::default_kinds());
        assert!(toml_like(&format!("{base}unlock = true\n")).is_err());
        assert!(toml_like(&format!("{base}remove_method_types = [\"password\"]\n")).is_err());
        let email: EntraConfig = toml_like(&format!(
            "{base}remove_method_types = [\"email\", \"phone\"]\n"
        ))
        .unwrap();
        assert_eq!(
            email.remove_method_types,
            vec![EntraMethodKind::Email, EntraMethodKind::Phone]
        );
    }

    /// The few `key = value` lines these tests use, as JSON (the crate has no TOML parser).
    fn toml_like(text: &str) -> Result<EntraConfig, serde_json::Error> {
        let mut map = serde_json::Map::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once(" = ").unwrap();
            map.insert(k.into(), serde_json::from_str(v).unwrap());
        }
        serde_json::from_value(serde_json::Value::Object(map))
    }

    #[test]
    fn each_call_has_a_deadline_the_lease_can_be_set_from() {
        let c = config();
        assert_eq!(c.worst_call_ms(), 5_000 + 2_500);
    }
}
