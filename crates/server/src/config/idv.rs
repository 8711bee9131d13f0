//! `[idv]`: the identity-verification provider's settings (docs/idv.md).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The provider's settings. Off unless `enabled`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdvConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The issuer the relying party is configured with: an https URL of this server
    /// (http only on a loopback host, for tests) with a path of its own (`/idv`); the
    /// provider's endpoints live under that path.
    pub issuer: Option<String>,
    /// PKCS#8 files (PEM or DER) of P-256 keys: the first signs ID tokens, every one is
    /// published in the JWKS, so tokens signed before a rotation still verify.
    #[serde(default)]
    pub signing_keys: Vec<PathBuf>,
    /// The ID token's life, seconds.
    #[serde(default = "id_token_ttl_s")]
    pub id_token_ttl_s: u64,
    /// A pushed request's life (its request_uri's `expires_in`), seconds.
    #[serde(default = "request_ttl_s")]
    pub request_ttl_s: u64,
    /// A code's life, seconds.
    #[serde(default = "code_ttl_s")]
    pub code_ttl_s: u64,
    /// The `trust_framework` the ID token's `verification` names.
    #[serde(default = "trust_framework")]
    pub trust_framework: String,
    /// The relying parties that may ask.
    #[serde(default)]
    pub clients: Vec<IdvClient>,
}

fn id_token_ttl_s() -> u64 {
    300
}
fn request_ttl_s() -> u64 {
    90
}
fn code_ttl_s() -> u64 {
    60
}
fn trust_framework() -> String {
    "reclaim".into()
}

impl Default for IdvConfig {
    fn default() -> IdvConfig {
        IdvConfig {
            enabled: false,
            issuer: None,
            signing_keys: Vec::new(),
            id_token_ttl_s: id_token_ttl_s(),
            request_ttl_s: request_ttl_s(),
            code_ttl_s: code_ttl_s(),
            trust_framework: trust_framework(),
            clients: Vec::new(),
        }
    }
}

impl std::fmt::Debug for IdvConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdvConfig")
            .field("enabled", &self.enabled)
            .field("issuer", &self.issuer)
            .field("signing_keys", &self.signing_keys)
            .field("id_token_ttl_s", &self.id_token_ttl_s)
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

/// One relying party.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdvClient {
    pub client_id: String,
    /// SHA-256 (hex) of the client secret. The secret is 256 random bits the operator
    /// generated (docs/idv.md), so a fast hash loses nothing; the secret itself is
    /// nowhere on this server.
    pub client_secret_sha256: String,
    /// Compared character for character.
    pub redirect_uris: Vec<String>,
}

impl std::fmt::Debug for IdvClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdvClient")
            .field("client_id", &self.client_id)
            .field("client_secret_sha256", &"[redacted]")
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// The parts of an absolute URL this module checks.
pub(crate) struct UrlParts<'a> {
    pub https: bool,
    pub host: &'a str,
    pub path: &'a str,
}

/// `url` split, if it is an absolute http(s) URL with no query, fragment or user info.
pub(crate) fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return None,
    };
    if url.contains(['#', '?', ' ']) || url.chars().any(char::is_control) {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    Some(UrlParts { https, host, path })
}

/// https, or http on a loopback host (tests, a relying party on the same machine).
pub(crate) fn secure_enough(parts: &UrlParts<'_>) -> bool {
    parts.https || matches!(parts.host, "127.0.0.1" | "localhost" | "::1")
}

impl IdvConfig {
    /// The issuer without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.issuer.as_deref().unwrap_or("").trim_end_matches('/')
    }

    /// The path the provider's endpoints live under (`/idv`).
    pub fn prefix(&self) -> &str {
        url_parts(self.issuer()).map_or("", |p| p.path)
    }

    pub fn client(&self, client_id: &str) -> Option<&IdvClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub fn check(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        let issuer = self.issuer();
        let parts = url_parts(issuer)
            .filter(secure_enough)
            .ok_or("issuer must be an https URL without query or fragment")?;
        let path = parts.path;
        if path.is_empty()
            || path.ends_with('/')
            || path.contains("//")
            || ["/v1", "/admin", "/healthz", "/metrics", "/openapi.json"]
                .iter()
                .any(|taken| path == *taken || path.starts_with(&format!("{taken}/")))
        {
            return Err(format!(
                "issuer's path `{path}` must be a path of its own, such as /idv"
            ));
        }
        if !path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
        {
            return Err("issuer's path may hold letters, digits, / - _ . only".into());
        }
        if self.signing_keys.is_empty() {
            return Err("signing_keys must name at least one key file".into());
        }
        for (name, value, min, max) in [
            ("id_token_ttl_s", self.id_token_ttl_s, 60, 3600),
            ("request_ttl_s", self.request_ttl_s, 10, 600),
            ("code_ttl_s", self.code_ttl_s, 10, 600),
        ] {
            if !(min..=max).contains(&value) {
                return Err(format!("{name} must be {min} to {max}"));
            }
        }
        if self.trust_framework.is_empty() || self.trust_framework.len() > 64 {
            return Err("trust_framework must be 1 to 64 characters".into());
        }
        if self.clients.is_empty() {
            return Err("at least one [[idv.clients]] is needed".into());
        }
        for (i, c) in self.clients.iter().enumerate() {
            if c.client_id.is_empty()
                || c.client_id.len() > 255
                || c.client_id.chars().any(char::is_control)
            {
                return Err(format!(
                    "clients[{i}].client_id must be 1 to 255 characters"
                ));
            }
            if self.clients[..i].iter().any(|o| o.client_id == c.client_id) {
                return Err(format!("clients[{i}].client_id is given twice"));
            }
            if c.client_secret_sha256.len() != 64 || hex::decode(&c.client_secret_sha256).is_err() {
                return Err(format!(
                    "clients[{i}].client_secret_sha256 must be 64 hex digits (SHA-256 of the secret)"
                ));
            }
            if c.redirect_uris.is_empty() {
                return Err(format!("clients[{i}].redirect_uris must not be empty"));
            }
            for uri in &c.redirect_uris {
                if url_parts(uri).filter(secure_enough).is_none() || uri.len() > 2048 {
                    return Err(format!(
                        "clients[{i}].redirect_uris: `{uri}` is not an https URL without query or fragment"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(issuer: &str) -> IdvConfig {
        IdvConfig {
            enabled: true,
            issuer: Some(issuer.into()),
            signing_keys: vec!["k.pem".into()],
            clients: vec![IdvClient {
                client_id: "okta".into(),
                client_secret_sha256: "0".repeat(64),
                redirect_uris: vec!["https://example.okta.com/idp/callback".into()],
            }],
            ..IdvConfig::default()
        }
    }

    #[test]
    fn the_issuer_is_https_with_a_path_of_its_own() {
        assert!(enabled("https://reclaim.example.com/idv").check().is_ok());
        assert!(enabled("http://127.0.0.1:8443/idv").check().is_ok());
        for bad in [
            "http://reclaim.example.com/idv",
            "https://reclaim.example.com",
            "https://reclaim.example.com/v1/x",
            "https://reclaim.example.com/admin",
            "https://reclaim.example.com/idv?x=1",
            "https://user@reclaim.example.com/idv",
        ] {
            assert!(enabled(bad).check().is_err(), "{bad}");
        }
        assert_eq!(enabled("https://r.example/idv/").prefix(), "/idv");
    }

    #[test]
    fn off_by_default_and_its_debug_hides_the_secret_hash() {
        assert!(!IdvConfig::default().enabled);
        let mut c = enabled("https://r.example/idv");
        c.clients[0].client_secret_sha256 = "ab".repeat(32);
        assert!(!format!("{c:?}").contains("abab"));
    }
}
