//! The Okta connector's configuration.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::rest::HttpSettings;
use crate::DirectoryError;

/// The factor types Okta knows (`FactorType` in its API description, and `signed_nonce`,
/// Okta FastPass). A `keep_factor_types` entry outside it is a typing error that would
/// delete the factors meant to be kept, so it is refused.
pub const FACTOR_TYPES: &[&str] = &[
    "call",
    "email",
    "hotp",
    "push",
    "question",
    "sms",
    "token",
    "token:hardware",
    "token:hotp",
    "token:software:totp",
    "u2f",
    "web",
    "webauthn",
    "signed_nonce",
];

fn default_true() -> bool {
    true
}

fn default_timeout_ms() -> u64 {
    crate::rest::DEFAULT_TIMEOUT_MS
}

fn default_max_rate_limit_wait_ms() -> u64 {
    crate::rest::DEFAULT_MAX_RATE_LIMIT_WAIT_MS
}

/// How to reach and use an Okta org.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// The org's URL, `https://example.okta.com` (not the `-admin` one, no path).
    pub org_url: String,
    /// An SSWS API token. Prefer the service app (`client_id`, `private_key_file`): a
    /// token has every right of the admin who made it, and no scope narrows it.
    #[serde(default)]
    pub api_token: Option<String>,
    /// The client id of an API service app authenticating with `private_key_jwt`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// PEM file with the service app's private key (PKCS#8 RSA or P-256, or PKCS#1 RSA).
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// The key's `kid` in the app's key set, sent in the assertion's header (needed when
    /// the app has more than one key).
    #[serde(default)]
    pub key_id: Option<String>,
    /// The profile attribute holding the birth date (`YYYY-MM-DD`), if the org keeps one.
    #[serde(default)]
    pub birth_date_attribute: Option<String>,
    /// After a reset, make the person change the password at the next sign-in (Okta's
    /// expire_password). Default false: the password was chosen by the person, in the
    /// app, after proving who they are; no one else has seen it, so there is nothing to
    /// rotate, and a forced change would only make them choose twice.
    #[serde(default)]
    pub change_password_at_next_sign_in: bool,
    /// Set passwords with `strict`: the org's password history and minimum age apply, as
    /// to the person's own change. Default true. Without it an administrator's set skips
    /// both, so a person could go back to a password they had given up.
    #[serde(default = "default_true")]
    pub strict_password_policy: bool,
    /// Factor types an MFA reset keeps (`email`, `question`, ...); default none: every
    /// factor goes.
    #[serde(default)]
    pub keep_factor_types: Vec<String>,
    /// Limit on each HTTP request, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The longest one call waits in all for Okta's rate limit to reset, milliseconds.
    #[serde(default = "default_max_rate_limit_wait_ms")]
    pub max_rate_limit_wait_ms: u64,
    /// PEM file with the CA certificate(s) to trust; without it, the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for OktaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaConfig")
            .field("org_url", &self.org_url)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("client_id", &self.client_id)
            .field("private_key_file", &self.private_key_file)
            .field("key_id", &self.key_id)
            .field("birth_date_attribute", &self.birth_date_attribute)
            .field(
                "change_password_at_next_sign_in",
                &self.change_password_at_next_sign_in,
            )
            .field("strict_password_policy", &self.strict_password_policy)
            .field("keep_factor_types", &self.keep_factor_types)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_rate_limit_wait_ms", &self.max_rate_limit_wait_ms)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl OktaConfig {
    /// A configuration with a service app (the preferred way), the rest at its defaults.
    pub fn service_app(
        org_url: impl Into<String>,
        client_id: impl Into<String>,
        private_key_file: impl Into<PathBuf>,
    ) -> OktaConfig {
        OktaConfig {
            client_id: Some(client_id.into()),
            private_key_file: Some(private_key_file.into()),
            ..OktaConfig::base(org_url.into())
        }
    }

    /// A configuration with an SSWS API token, the rest at its defaults.
    pub fn api_token(org_url: impl Into<String>, token: impl Into<String>) -> OktaConfig {
        OktaConfig {
            api_token: Some(token.into()),
            ..OktaConfig::base(org_url.into())
        }
    }

    fn base(org_url: String) -> OktaConfig {
        OktaConfig {
            org_url,
            api_token: None,
            client_id: None,
            private_key_file: None,
            key_id: None,
            birth_date_attribute: None,
            change_password_at_next_sign_in: false,
            strict_password_policy: true,
            keep_factor_types: Vec::new(),
            timeout_ms: default_timeout_ms(),
            max_rate_limit_wait_ms: default_max_rate_limit_wait_ms(),
            ca_file: None,
        }
    }

    /// The HTTP limits and trust.
    pub fn http(&self) -> HttpSettings {
        HttpSettings {
            timeout_ms: self.timeout_ms,
            max_rate_limit_wait_ms: self.max_rate_limit_wait_ms,
            ca_file: self.ca_file.clone(),
        }
    }

    /// Checks the configuration without touching the network or the key file.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let bad = |m: String| Err(DirectoryError::Config(m));
        let url = crate::rest::check_url(&self.org_url, "org_url")?;
        if url.path() != "/" {
            return bad("org_url must be the org's address alone, without a path (https://example.okta.com)".into());
        }
        let token = self.api_token.as_deref().map(str::trim);
        let app = (
            self.client_id.as_deref().map(str::trim),
            self.private_key_file.as_ref(),
        );
        match (token, app) {
            (Some(_), (Some(_), _) | (_, Some(_))) => {
                return bad(
                    "give either api_token or client_id with private_key_file, not both".into(),
                )
            }
            (Some(""), _) => return bad("api_token is empty".into()),
            (Some(t), _) if t.starts_with("SSWS ") => {
                return bad("api_token is the token alone, without \"SSWS \"".into())
            }
            (Some(_), _) => {}
            (None, (Some(id), Some(_))) if !id.is_empty() => {}
            (None, _) => {
                return bad(
                    "give client_id and private_key_file (an API service app), or api_token".into(),
                )
            }
        }
        if self.key_id.is_some() && self.client_id.is_none() {
            return bad(
                "key_id belongs to a service app's key (client_id, private_key_file)".into(),
            );
        }
        if let Some(a) = &self.birth_date_attribute {
            let mut chars = a.chars();
            let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return bad(format!(
                    "birth_date_attribute {a:?} is not a profile attribute name"
                ));
            }
        }
        for t in &self.keep_factor_types {
            if !FACTOR_TYPES.contains(&t.as_str()) {
                return bad(format!(
                    "keep_factor_types: {t:?} is not an Okta factor type ({})",
                    FACTOR_TYPES.join(", ")
                ));
            }
        }
        self.http().validate()
    }
}
