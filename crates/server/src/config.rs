//! The server's configuration: a TOML file, with environment overrides so one file can
//! serve several instances (and secrets can stay out of it).
//!
//! Any key can be overridden with `RECLAIM__SECTION__KEY=value` (double underscores
//! between levels; the value is read as TOML when it parses, else as a string). Unknown
//! keys are refused, so a typo never silently leaves a default in force.

pub mod idv;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What went wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The server's public URL: the audience every attestation must name.
    pub public_url: String,
    pub database: DatabaseConfig,
    /// File holding the 32-byte master key (64 hex digits) that encrypts templates and
    /// pending passwords and keys the audit chain. Created (owner-only) when missing and
    /// the database is empty; a database sealed with a key refuses any other (datakey.rs).
    /// `RECLAIM__DATA_KEY` (64 hex digits) takes precedence: several instances share it.
    pub data_key_file: Option<PathBuf>,
    pub data_key: Option<String>,
    /// The directory of record: where accounts are looked up, whose names and birth date
    /// are compared with the ID, whose groups say who is privileged.
    pub directory: DirectoryConfig,
    /// Further connectors, by name (`[connectors.NAME]`, the same settings as
    /// `[directory]`), each carrying out the actions `[actions]` gives it.
    #[serde(default)]
    pub connectors: BTreeMap<String, DirectoryConfig>,
    /// Which connector carries out each action (`[actions.password]`, `[actions.mfa]`,
    /// `[actions.unlock]`: `connector` = `directory`, `off` or a name under
    /// `[connectors]`; `link` = how the account is found there, `username` or `email`).
    /// An absent action is the directory of record's.
    #[serde(default)]
    pub actions: reclaim_directory::Routes,
    #[serde(default)]
    pub policy: Policy,
    /// What each session's liveness challenge is drawn from (`[challenge]`: `turns`,
    /// `pitch`, `light_steps`; docs/liveness.md).
    #[serde(default)]
    pub challenge: reclaim_protocol::wire::challenge::ChallengeSpec,
    /// The identity-verification provider for a relying party such as Okta (`[idv]`,
    /// docs/idv.md); off unless enabled.
    #[serde(default)]
    pub idv: idv::IdvConfig,
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
    /// Test-only fault injection; refused unless built with the `test-hooks` feature.
    #[serde(default)]
    pub fault: Faults,
    /// Connections, timeouts and admission limits (`[server]`).
    #[serde(default)]
    pub server: ServerConfig,
    /// Recovery notices by email.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// Which TPMs may register hardware-tier keys.
    #[serde(default)]
    pub tpm: TpmConfig,
    /// Signed checkpoints of the audit chain (`[audit]`).
    #[serde(default)]
    pub audit: AuditConfig,
    /// Every audit entry exported to a SIEM (`[siem]`; off unless a sink is configured).
    #[serde(default)]
    pub siem: SiemConfig,
    /// The admin console (`[admin]`; off unless a way to sign in is configured).
    #[serde(default)]
    pub admin: AdminConfig,
}

/// The admin console (`[admin]`): where it is served, who may sign in, and which
/// accounts need two reviewers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve the console on its own listener (an address on the inside) instead of under
    /// `/admin` on the public one. Set, the public listener answers no `/admin` route.
    pub listen: Option<String>,
    /// The console's own URL as browsers reach it (the sign-in's redirect and the origin
    /// every form must come from); `public_url` when absent.
    pub url: Option<String>,
    /// Sign-in through the company's OpenID provider (`[admin.oidc]`).
    pub oidc: Option<OidcConfig>,
    /// Local accounts with passkeys, for bootstrap and break-glass (`reclaim admin local
    /// add`); their passkeys are bound to the host of `admin.url` (or `public_url`),
    /// which must be a name, not an IP address.
    pub local_accounts: bool,
    /// How long a console sign-in lasts, seconds.
    pub session_ttl_s: u64,
    /// A console sign-in idle this long ends, seconds.
    pub idle_timeout_s: u64,
    /// Recoveries of accounts in any of these directory groups need two different
    /// reviewers' approval (four eyes). A group is named by its DN or its CN. By default,
    /// Active Directory's protected groups ([`PROTECTED_GROUPS`]); `[]` turns four eyes off.
    pub privileged_groups: Vec<String>,
}

/// The groups Active Directory itself protects (AdminSDHolder's list, by CN): their
/// members run the domain, so one reviewer's mistake on one of them costs the most. The
/// default of `admin.privileged_groups`, so that four eyes is on unless a deployment
/// turns it off; on a directory without these groups it changes nothing.
pub const PROTECTED_GROUPS: &[&str] = &[
    "Account Operators",
    "Administrators",
    "Backup Operators",
    "Domain Admins",
    "Domain Controllers",
    "Enterprise Admins",
    "Enterprise Key Admins",
    "Key Admins",
    "Print Operators",
    "Read-only Domain Controllers",
    "Replicator",
    "Schema Admins",
    "Server Operators",
];

impl AdminConfig {
    /// The console is served: some way to sign in to it is configured.
    pub fn enabled(&self) -> bool {
        self.oidc.is_some() || self.local_accounts
    }

    fn check(&self, public_url: &str) -> Result<(), ConfigError> {
        let url = self.url.as_deref().unwrap_or(public_url);
        // Its cookies are `Secure` over https only; plain http is for a console on this
        // machine (tests, a first look).
        if self.enabled() {
            OidcConfig::check_url(url)
                .map_err(|e| ConfigError(format!("admin.url (or public_url) `{url}`: {e}")))?;
        }
        if self.local_accounts && url_host_is_ip(url) {
            return Err(ConfigError(format!(
                "admin.local_accounts: passkeys are bound to a host name, and admin.url (or public_url) `{url}` names an IP address (use a name, e.g. localhost)"
            )));
        }
        for (name, value) in [
            ("session_ttl_s", self.session_ttl_s),
            ("idle_timeout_s", self.idle_timeout_s),
        ] {
            if !(60..=7 * 24 * 3600).contains(&value) {
                return Err(ConfigError(format!("admin.{name} must be 60 s to 7 days")));
            }
        }
        if let Some(o) = &self.oidc {
            o.check()?;
        }
        Ok(())
    }
}

/// Whether `url`'s host is an IP address (WebAuthn takes no IP address as a relying party).
fn url_host_is_ip(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.starts_with('[') {
        return true;
    }
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host.parse::<std::net::IpAddr>().is_ok()
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: None,
            url: None,
            oidc: None,
            local_accounts: false,
            session_ttl_s: 8 * 3600,
            idle_timeout_s: 30 * 60,
            privileged_groups: PROTECTED_GROUPS.iter().map(|g| g.to_string()).collect(),
        }
    }
}

/// `[admin.oidc]`: the company's OpenID provider.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its discovery document and ID tokens say it.
    /// `https://`; `http://` only for a loopback host (127.0.0.1, ::1, localhost: tests).
    pub issuer: String,
    pub client_id: String,
    /// The client's secret, sent to the token endpoint (`client_secret_basic`); without
    /// one the console signs in as a public client, with PKCE only. It can stay out of the
    /// file: `RECLAIM__ADMIN__OIDC__CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Extra PEM certificate authority for the provider, beside the system's trust store.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Scopes asked for beside `openid profile email`, e.g. the provider's `groups` scope
    /// when it puts the groups claim in the ID token only on request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The ID token claim that lists the person's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The ID token claim that holds the person's own login in the directory
    /// (`preferred_username`; Entra ID: `upn` or `preferred_username`): a reviewer cannot
    /// decide a recovery of that account. Without it (and without a verified mail) a
    /// person is not given the reviewer role.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// Members of these groups are `admin`s, `reviewer`s, `auditor`s; someone in none of
    /// them cannot sign in.
    #[serde(default)]
    pub admin_groups: Vec<String>,
    #[serde(default)]
    pub reviewer_groups: Vec<String>,
    #[serde(default)]
    pub auditor_groups: Vec<String>,
    /// The ID token must show a sign-in with more than a password: one of these `amr`
    /// values (RFC 8176; `mfa` by default, which Entra ID and Okta send), or an `acr`
    /// from `mfa_acr`. Both empty: not checked, for a provider that enforces MFA by its
    /// own policy and says nothing of it in the token.
    #[serde(default = "default_mfa_amr")]
    pub mfa_amr: Vec<String>,
    /// `acr` values that count as multi-factor (e.g. Keycloak's level names); set, they
    /// are also asked for (`acr_values`) when the sign-in starts.
    #[serde(default)]
    pub mfa_acr: Vec<String>,
}

fn default_mfa_amr() -> Vec<String> {
    vec!["mfa".into()]
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

fn default_groups_claim() -> String {
    "groups".into()
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("ca_file", &self.ca_file)
            .field("scopes", &self.scopes)
            .field("groups_claim", &self.groups_claim)
            .field("mfa_amr", &self.mfa_amr)
            .field("mfa_acr", &self.mfa_acr)
            .field("admin_groups", &self.admin_groups)
            .field("reviewer_groups", &self.reviewer_groups)
            .field("auditor_groups", &self.auditor_groups)
            .finish()
    }
}

impl OidcConfig {
    /// Whether the sign-in may use `url` (the issuer, and every endpoint its discovery
    /// document names): https, or http on a loopback host (127.0.0.1, ::1, localhost:
    /// tests), with a host and no user name or password in it.
    pub fn check_url(url: &str) -> Result<(), String> {
        let uri: hyper::Uri = url.parse().map_err(|_| "not a URL".to_string())?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("not an http(s) URL".into()),
        };
        let authority = uri.authority().ok_or("no host")?;
        if authority.as_str().contains('@') {
            return Err("a user name or password in the URL".into());
        }
        let host = authority.host();
        if host.is_empty() {
            return Err("no host".into());
        }
        if !tls && !matches!(host, "127.0.0.1" | "[::1]" | "localhost") {
            return Err("http is for loopback hosts only: use https".into());
        }
        Ok(())
    }

    /// What can be checked without reaching the provider: an https issuer (http for a
    /// loopback host only), a client id, scopes that fit in a URL, and at least one group
    /// that gives a role (else nobody could sign in).
    pub fn check(&self) -> Result<(), ConfigError> {
        OidcConfig::check_url(&self.issuer)
            .map_err(|e| ConfigError(format!("admin.oidc.issuer: {e}")))?;
        if self.client_id.is_empty() {
            return Err(ConfigError("admin.oidc.client_id is empty".into()));
        }
        if self.client_secret.as_deref() == Some("") {
            return Err(ConfigError(
                "admin.oidc.client_secret is empty (leave it out for a public client)".into(),
            ));
        }
        for scope in &self.scopes {
            if scope.is_empty()
                || !scope
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            {
                return Err(ConfigError(format!(
                    "admin.oidc.scopes: `{scope}` is not a scope"
                )));
            }
        }
        if self.groups_claim.is_empty() {
            return Err(ConfigError("admin.oidc.groups_claim is empty".into()));
        }
        if self.admin_groups.is_empty()
            && self.reviewer_groups.is_empty()
            && self.auditor_groups.is_empty()
        {
            return Err(ConfigError(
                "admin.oidc: no admin_groups, reviewer_groups or auditor_groups: nobody could sign in".into(),
            ));
        }
        Ok(())
    }
}

/// Which TPMs may register device keys for the `hardware` tier (`reclaim device
/// tpm-challenge`, then `reclaim device register --tpm-attestation`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TpmConfig {
    /// PEM or DER files of the CAs that sign TPM endorsement-key certificates (the TPM
    /// vendors' CAs): a TPM whose EK certificate chains to one of them is a real TPM.
    pub endorsement_ca_files: Vec<PathBuf>,
    /// EKs an administrator enrolled by Name (hex, as `tpm2_readpublic` prints it), for
    /// TPMs without an EK certificate.
    pub enrolled_ek_names: Vec<String>,
    /// How long a challenge stays answerable, seconds.
    pub challenge_ttl_s: u64,
}

impl Default for TpmConfig {
    fn default() -> Self {
        TpmConfig {
            endorsement_ca_files: Vec::new(),
            enrolled_ek_names: Vec::new(),
            // Two hand-overs between the device and an administrator fit in it.
            challenge_ttl_s: 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite:///path/to/reclaim.db` or `postgres://user:pass@host:port/db`.
    pub url: String,
    #[serde(default = "default_connections")]
    pub max_connections: u32,
    /// Reach a PostgreSQL server on another machine without `sslmode=verify-full` in the
    /// URL. Unsafe: whoever is on the path can read and change what
    /// crosses it (the role's password, sealed data, the audit chain). Only for a network
    /// that is already private and trusted (store/tls.rs).
    #[serde(default)]
    pub allow_insecure_transport: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DirectoryConfig {
    /// The embedded demo directory, kept in a JSON file.
    Demo { file: PathBuf },
    /// OpenLDAP or Active Directory. Boxed: it is far larger than the demo's settings.
    Ldap(Box<reclaim_directory::LdapConfig>),
    /// Okta's Management API (docs/directories/okta.md).
    Okta(Box<reclaim_directory::OktaConfig>),
    /// Microsoft Entra ID through Microsoft Graph (docs/directories/entra.md).
    Entra(Box<reclaim_directory::EntraConfig>),
    /// Duo's Admin API: second factors and Duo's lockout only (docs/directories/duo.md).
    Duo(Box<reclaim_directory::DuoConfig>),
}

impl DirectoryConfig {
    /// Checks the settings without touching the network.
    pub fn validate(&self) -> Result<(), reclaim_directory::DirectoryError> {
        match self {
            DirectoryConfig::Demo { .. } => Ok(()),
            DirectoryConfig::Ldap(l) => l.validate(),
            DirectoryConfig::Okta(o) => o.validate(),
            DirectoryConfig::Entra(e) => e.validate(),
            DirectoryConfig::Duo(d) => d.validate(),
        }
    }

    /// The longest one directory operation takes (its timeout), milliseconds.
    pub fn operation_ms(&self) -> u64 {
        match self {
            DirectoryConfig::Demo { .. } => 0,
            DirectoryConfig::Ldap(l) => l.timeout_ms,
            DirectoryConfig::Okta(o) => o.http().worst_call_ms(),
            DirectoryConfig::Entra(e) => e.worst_call_ms(),
            DirectoryConfig::Duo(d) => d.http().worst_call_ms(),
        }
    }

    /// The files the connector reads at start (a CA, a key), with the setting naming
    /// each, for `reclaim serve --check`. The demo's file is not one: it is created.
    pub fn files<'a>(&'a self) -> Vec<(&'static str, &'a Path)> {
        let ca = |f: &'a Option<PathBuf>| f.as_deref().map(|f| ("ca_file", f));
        match self {
            DirectoryConfig::Demo { .. } => Vec::new(),
            DirectoryConfig::Ldap(l) => ca(&l.ca_file).into_iter().collect(),
            DirectoryConfig::Okta(o) => ca(&o.ca_file)
                .into_iter()
                .chain(
                    o.private_key_file
                        .as_deref()
                        .map(|f| ("private_key_file", f)),
                )
                .collect(),
            DirectoryConfig::Entra(e) => ca(&e.ca_file)
                .into_iter()
                .chain([
                    ("private_key_file", e.private_key_file.as_path()),
                    ("certificate_file", e.certificate_file.as_path()),
                ])
                .collect(),
            DirectoryConfig::Duo(d) => ca(&d.ca_file).into_iter().collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub session_ttl_s: u64,
    pub handoff_ttl_s: u64,
    pub grant_ttl_s: u64,
    pub attestation_max_lifetime_s: u64,
    pub clock_leeway_s: u64,
    /// Managed and hardware devices upload their evidence for the server's own run too
    /// (unmanaged ones always do). `false` lets their signed claims decide alone: only for
    /// devices whose app the operator controls end to end.
    pub managed_requires_evidence: bool,
    /// Accept frames from cameras the client declares virtual or file-backed. The
    /// declaration is the client's word (a custom client declares a webcam), so this only
    /// stops honest clients; the device's tier is what a capture is worth. Never in
    /// production.
    pub allow_virtual_camera: bool,
    /// The decision table: rows of action x tier x user kind -> verdict, over the defaults
    /// (hardware and managed approve, unmanaged goes to review). The last matching row wins.
    pub table: Vec<crate::policy::PolicyRow>,
    /// Someone works the review queue. Without one, a `review` verdict refuses with a
    /// sentence that says where to go (a managed laptop, the kiosk, the helpdesk).
    pub review_queue: bool,
    /// How long an `approve_notify_delay` change waits before it takes effect, seconds.
    pub notify_delay_s: u64,
    /// SHA-256 of every model an attesting device may have run. Empty: the models this
    /// server loads (so the app must ship the same ones).
    pub allowed_models: Vec<String>,
    /// Ask returning users for the ID again.
    pub always_require_document: bool,
    /// A face match this close above the threshold goes to a person.
    pub review_margin: f32,
    /// How long a case waits for a reviewer, seconds; then it closes unread, its
    /// evidence is destroyed and the person's app is told no. Short by default: the
    /// person waits at the app, and an approval must not reach whoever is at that device
    /// much later.
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
            managed_requires_evidence: true,
            allow_virtual_camera: false,
            table: Vec::new(),
            review_queue: false,
            notify_delay_s: 24 * 3600,
            allowed_models: Vec::new(),
            always_require_document: false,
            review_margin: 0.05,
            review_retention_s: 3600,
            password_with_mfa: false,
            reset_lease_s: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// A run of failures decays: one is forgotten per this many seconds without a failure,
    /// so an occasional failure never keeps a login locked.
    pub biometric_decay_s: i64,
    /// Sessions of one self-registered device that ended without approval (rejected,
    /// abandoned, expired, never sent) within `failed_sessions_window_s`, after which the
    /// device starts no more sessions until the oldest leaves the window.
    pub failed_sessions_per_device: i64,
    /// The same, for all self-registered devices at one address.
    pub failed_sessions_per_address: i64,
    /// The sliding window of the two counts above, seconds.
    pub failed_sessions_window_s: i64,
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
            biometric_decay_s: 900,
            failed_sessions_per_device: 10,
            failed_sessions_per_address: 30,
            failed_sessions_window_s: 3600,
            attempts_per_grant: 10,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
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

    /// Refuses any fault unless `test_hooks` (the cargo feature, never the profile: the
    /// debug build `scripts/reclaim` makes must refuse them as a release build does).
    pub fn check(&self, test_hooks: bool) -> Result<(), ConfigError> {
        if self.any() && !test_hooks {
            return Err(ConfigError(
                "[fault] is for tests: this build of the server refuses it (no `test-hooks` feature)".into(),
            ));
        }
        Ok(())
    }
}

/// Connections, timeouts and admission (`[server]`): what one client may hold. The
/// defaults keep a process with 1,024 file descriptors answering: 512 connections at
/// most, and the rest for the database, the models, the directory and SMTP.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// A request head must arrive within this long of its first byte.
    pub header_timeout_s: u64,
    /// A connection with no request in flight and no traffic this long is closed.
    pub idle_timeout_s: u64,
    /// The longest a request body may take in all (evidence on a slow link).
    pub body_timeout_s: u64,
    /// The longest a request body may pause between pieces.
    pub body_idle_timeout_s: u64,
    /// Connections open at once; beyond it new ones are closed when accepted.
    pub max_connections: usize,
    /// Connections open at once from one address (not applied with
    /// `trust_forwarded_for`: behind a proxy every connection is the proxy's).
    pub max_connections_per_address: usize,
    /// Requests handled at once; beyond it `503 server_busy`.
    pub max_requests: usize,
    /// Evidence bodies (up to 48 MiB each) received or held at once: shared out per
    /// address for unmanaged devices, per device for managed and hardware ones (admission.rs).
    pub max_evidence_uploads: usize,
    /// A re-verification must get the engine and finish within this long.
    pub judgement_timeout_s: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_timeout_s: 10,
            idle_timeout_s: 60,
            body_timeout_s: 120,
            body_idle_timeout_s: 15,
            max_connections: 512,
            max_connections_per_address: 32,
            max_requests: 256,
            max_evidence_uploads: 4,
            judgement_timeout_s: 60,
        }
    }
}

impl ServerConfig {
    fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("header_timeout_s", self.header_timeout_s),
            ("idle_timeout_s", self.idle_timeout_s),
            ("body_timeout_s", self.body_timeout_s),
            ("body_idle_timeout_s", self.body_idle_timeout_s),
            ("judgement_timeout_s", self.judgement_timeout_s),
        ] {
            if !(1..=3600).contains(&value) {
                return Err(ConfigError(format!("server.{name} must be 1 to 3600")));
            }
        }
        for (name, value) in [
            ("max_connections", self.max_connections),
            (
                "max_connections_per_address",
                self.max_connections_per_address,
            ),
            ("max_requests", self.max_requests),
            ("max_evidence_uploads", self.max_evidence_uploads),
        ] {
            if !(1..=65_536).contains(&value) {
                return Err(ConfigError(format!("server.{name} must be 1 to 65536")));
            }
        }
        if self.max_connections_per_address > self.max_connections {
            return Err(ConfigError(
                "server.max_connections_per_address must not exceed server.max_connections".into(),
            ));
        }
        Ok(())
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
                    .map_err(|e| ConfigError(format!("{}: {}", p.display(), located(&text, &e))))?
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
        self.fault.check(cfg!(feature = "test-hooks"))?;
        self.server.check()?;
        self.idv
            .check()
            .map_err(|e| ConfigError(format!("idv: {e}")))?;
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
        let l = &self.limits;
        for (name, value) in [
            ("biometric_decay_s", l.biometric_decay_s),
            ("failed_sessions_per_device", l.failed_sessions_per_device),
            ("failed_sessions_per_address", l.failed_sessions_per_address),
            ("failed_sessions_window_s", l.failed_sessions_window_s),
        ] {
            if value < 1 {
                return Err(ConfigError(format!("limits.{name} must be at least 1")));
            }
        }
        if self.challenge.turns == 0 || self.challenge.turns > 6 {
            return Err(ConfigError("challenge.turns must be 1 to 6".into()));
        }
        // Fewer steps than 8 leave the light check too few frames to tell one sequence from
        // another; more than 14 (up to 7.8 s) would not fit the 60 frames an app records,
        // and the app refuses such a light (docs/liveness.md).
        let steps = self.challenge.light_steps;
        if steps != 0 && !(8..=14).contains(&steps) {
            return Err(ConfigError(
                "challenge.light_steps must be 0 (no light) or 8 to 14".into(),
            ));
        }
        if self.policy.grant_ttl_s == 0 || self.policy.grant_ttl_s > 3600 {
            return Err(ConfigError("policy.grant_ttl_s must be 1 to 3600".into()));
        }
        self.directory
            .validate()
            .map_err(|e| ConfigError(format!("directory: {e}")))?;
        for (name, connector) in &self.connectors {
            if matches!(connector, DirectoryConfig::Demo { .. }) {
                // Two demo files would be two unrelated toy directories.
                return Err(ConfigError(format!(
                    "connectors.{name}: the demo directory can only be the directory of record"
                )));
            }
            connector
                .validate()
                .map_err(|e| ConfigError(format!("connectors.{name}: {e}")))?;
        }
        self.actions
            .check_names(self.connectors.keys().map(String::as_str))
            .map_err(|e| ConfigError(e.to_string()))?;
        // One resume makes up to four directory operations (find in the record, find the
        // linked account, check, set), each within its connector's limit; the lease must
        // outlast them, or a second worker could step in.
        let (slowest, operation_ms) = std::iter::once(("directory", &self.directory))
            .chain(self.connectors.iter().map(|(n, c)| (n.as_str(), c)))
            .map(|(n, c)| (n, c.operation_ms()))
            .max_by_key(|(_, ms)| *ms)
            .unwrap_or(("directory", 0));
        let needed_ms = 4 * operation_ms + self.fault.directory_delay_ms;
        if self.policy.reset_lease_s.saturating_mul(1000) < needed_ms {
            return Err(ConfigError(format!(
                "policy.reset_lease_s must be at least {} s with {slowest}'s operations taking up to {operation_ms} ms",
                needed_ms.div_ceil(1000),
            )));
        }
        if self.policy.reset_lease_s < 2 {
            return Err(ConfigError(
                "policy.reset_lease_s must be at least 2".into(),
            ));
        }
        for row in &self.policy.table {
            row.check().map_err(ConfigError)?;
        }
        if self.policy.notify_delay_s > 30 * 24 * 3600 {
            return Err(ConfigError(
                "policy.notify_delay_s must be at most 30 days".into(),
            ));
        }
        for d in &self.policy.allowed_models {
            if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError(format!(
                    "policy.allowed_models: `{d}` is not a SHA-256"
                )));
            }
        }
        self.notify.check()?;
        self.audit.check()?;
        self.siem.check()?;
        self.admin.check(&self.public_url)?;
        // A review verdict with no one to review is a dead end for the person: the queue
        // is worked in the console, and only reviewers the company's provider signs in
        // may approve (a local break-glass account can only refuse: recovery/review.rs).
        if self.policy.review_queue && self.admin.oidc.is_none() {
            return Err(ConfigError(
                "policy.review_queue needs the admin console's company sign-in: configure [admin.oidc], where reviewers sign in (local accounts cannot approve)".into(),
            ));
        }
        Ok(())
    }
}

/// A TOML error as its line and message, without the excerpt of the file toml adds: that
/// line may hold a password.
fn located(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(0, |t| t.matches('\n').count())
                + 1;
            format!("line {line}: {}", e.message())
        }
        None => e.message().to_string(),
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

/// Recovery notices by email (`[notify]`). Without a relay, notices are still queued in
/// the database (nothing is lost) and sent once one is configured.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// The relay: `smtps://host[:port]` (TLS from the start, port 465 by default),
    /// `smtp+starttls://host[:port]` (STARTTLS required, 587), or `smtp://host:port`
    /// (no TLS: accepted for a loopback relay only, e.g. a local MTA or a test sink).
    pub smtp_url: Option<String>,
    /// The sender, e.g. `Reclaim <reclaim@example.com>`. Required with a relay.
    pub from: Option<String>,
    /// Credentials for the relay (optional). The password can stay out of the file:
    /// `RECLAIM__NOTIFY__PASSWORD`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra PEM certificate authority for the relay, beside the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// Where the mail tells a worried owner to go (a helpdesk's number or page).
    pub contact: Option<String>,
    /// How long a "this wasn't me" link works, days (at least until a delayed change
    /// takes effect).
    pub link_valid_days: u64,
    /// A refusal after this many days without one starts a new series; the first refusal
    /// of a series is not mailed (a genuine user's bad photo), every later one is.
    pub refusal_quiet_days: u64,
    /// Delivery attempts per notice before it is given up (and audited as undeliverable).
    pub max_attempts: i64,
    /// The first retry's delay, seconds; doubled at each further attempt, up to an hour.
    pub retry_base_s: u64,
    /// Timeout of each SMTP step, seconds.
    pub timeout_s: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            smtp_url: None,
            from: None,
            username: None,
            password: None,
            ca_file: None,
            contact: None,
            link_valid_days: 7,
            refusal_quiet_days: 30,
            max_attempts: 12,
            retry_base_s: 30,
            timeout_s: 20,
        }
    }
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("smtp_url", &self.smtp_url)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("contact", &self.contact)
            .field("link_valid_days", &self.link_valid_days)
            .field("refusal_quiet_days", &self.refusal_quiet_days)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_s", &self.retry_base_s)
            .field("timeout_s", &self.timeout_s)
            .finish()
    }
}

/// How the server reaches its SMTP relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelaySecurity {
    /// No TLS: loopback relays only.
    Plain,
    /// TLS from the first byte (`smtps://`).
    Tls,
    /// STARTTLS, required (`smtp+starttls://`).
    StartTls,
}

/// A parsed `notify.smtp_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub security: RelaySecurity,
    pub host: String,
    pub port: u16,
}

impl NotifyConfig {
    /// The relay, when one is configured; an error when it is unusable.
    pub fn relay(&self) -> Result<Option<Relay>, ConfigError> {
        let Some(url) = &self.smtp_url else {
            return Ok(None);
        };
        let bad = |why: &str| ConfigError(format!("notify.smtp_url: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            bad("write it as smtps://host, smtp+starttls://host or smtp://127.0.0.1:port")
        })?;
        let (security, default_port) = match scheme {
            "smtps" => (RelaySecurity::Tls, 465),
            "smtp+starttls" => (RelaySecurity::StartTls, 587),
            "smtp" => (RelaySecurity::Plain, 25),
            _ => return Err(bad("the scheme must be smtps, smtp+starttls or smtp")),
        };
        // Credentials belong in username/password (the password in the environment),
        // not in a URL that ends up in files and process listings.
        if rest.contains('@') || rest.contains('/') || rest.contains('?') {
            return Err(bad(
                "only scheme://host[:port]; credentials go in notify.username and notify.password",
            ));
        }
        let (host, port) = match rest.strip_prefix('[') {
            // [v6]:port
            Some(v6) => {
                let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
                let port = match after.strip_prefix(':') {
                    Some(p) => Some(p),
                    None if after.is_empty() => None,
                    None => return Err(bad("text after the address")),
                };
                (h.to_string(), port)
            }
            None => match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            },
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
            None => default_port,
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if security == RelaySecurity::Plain {
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(bad("smtp:// sends in the clear and is accepted for a loopback relay only; use smtps:// or smtp+starttls://"));
            }
        }
        Ok(Some(Relay {
            security,
            host,
            port,
        }))
    }

    fn check(&self) -> Result<(), ConfigError> {
        let relay = self.relay()?;
        match (&relay, &self.from) {
            (Some(_), None) => return Err(ConfigError(
                "notify.from is required with notify.smtp_url: the address notices are sent from"
                    .into(),
            )),
            (None, Some(_)) => {
                return Err(ConfigError(
                    "notify.from is set but notify.smtp_url is not: no notice would be sent".into(),
                ))
            }
            _ => {}
        }
        if let Some(from) = &self.from {
            from.parse::<lettre::message::Mailbox>().map_err(|_| {
                ConfigError(format!(
                    "notify.from: `{from}` is not an address (e.g. `Reclaim <reclaim@example.com>`)"
                ))
            })?;
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(ConfigError(
                "notify.username and notify.password go together".into(),
            ));
        }
        if self.username.is_some() && relay.is_some_and(|r| r.security == RelaySecurity::Plain) {
            // A loopback relay needs no login, and a password over a clear channel is a habit
            // that would follow the configuration elsewhere.
            return Err(ConfigError(
                "notify.username/password need smtps:// or smtp+starttls://".into(),
            ));
        }
        if let Some(ca) = &self.ca_file {
            if !ca.is_file() {
                return Err(ConfigError(format!(
                    "notify.ca_file: {} is not a readable file",
                    ca.display()
                )));
            }
        }
        if self.link_valid_days == 0 || self.link_valid_days > 90 {
            return Err(ConfigError("notify.link_valid_days must be 1 to 90".into()));
        }
        if self.refusal_quiet_days == 0 || self.refusal_quiet_days > 365 {
            return Err(ConfigError(
                "notify.refusal_quiet_days must be 1 to 365".into(),
            ));
        }
        if self.max_attempts < 1 || self.max_attempts > 100 {
            return Err(ConfigError("notify.max_attempts must be 1 to 100".into()));
        }
        if self.retry_base_s == 0 || self.retry_base_s > 3600 {
            return Err(ConfigError("notify.retry_base_s must be 1 to 3600".into()));
        }
        if self.timeout_s == 0 || self.timeout_s > 300 {
            return Err(ConfigError("notify.timeout_s must be 1 to 300".into()));
        }
        Ok(())
    }
}

/// `[audit]`: the checkpoints that anchor the chain outside the database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Seconds between checkpoints while the chain grows (one is always taken at start
    /// and at shutdown). A tail cut after the last checkpoint is found only from the
    /// database itself (the head MAC), so shorter is safer; each is one log line.
    pub checkpoint_interval_s: u64,
    /// Also append each checkpoint (one JSON line) to this file.
    pub checkpoint_file: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_interval_s: 300,
            checkpoint_file: None,
        }
    }
}

impl AuditConfig {
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.checkpoint_interval_s == 0 || self.checkpoint_interval_s > 24 * 3600 {
            return Err(ConfigError(
                "audit.checkpoint_interval_s must be 1 to 86400".into(),
            ));
        }
        Ok(())
    }
}

/// `[siem]`: every audit entry also sent to a SIEM, through up to three sinks (docs/siem.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiemConfig {
    /// Seconds before the first retry of a sink that failed; doubles per failure in a row,
    /// up to an hour.
    pub retry_base_s: u64,
    /// Entries delivered per round, per sink (bounds the memory a round takes).
    pub batch: u32,
    /// Seconds each connect, handshake, write or HTTP exchange may take.
    pub timeout_s: u64,
    /// JSON lines appended to a file.
    pub file: Option<SiemFileConfig>,
    /// RFC 5424 syslog over TCP (RFC 6587 octet counting), or TLS (RFC 5425).
    pub syslog: Option<SiemSyslogConfig>,
    /// Each entry POSTed as JSON, with an HMAC-SHA256 signature.
    pub webhook: Option<SiemWebhookConfig>,
}

impl Default for SiemConfig {
    fn default() -> Self {
        SiemConfig {
            retry_base_s: 5,
            batch: 100,
            timeout_s: 10,
            file: None,
            syslog: None,
            webhook: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiemFileConfig {
    /// The file, created owner-only (0600) when missing, appended to.
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiemSyslogConfig {
    /// `host:port` of the collector.
    pub address: String,
    /// TLS (RFC 5425); `false` for plain TCP, which carries the events in the clear and
    /// is for a collector on this machine or a network that is already private.
    #[serde(default = "yes")]
    pub tls: bool,
    /// PEM file of the CAs that may sign the collector's certificate; the system's trust
    /// store when absent.
    pub ca_file: Option<PathBuf>,
    /// The name the collector's certificate must hold; the host of `address` when absent.
    pub server_name: Option<String>,
    /// The HOSTNAME field of each message; this machine's host name when absent.
    pub hostname: Option<String>,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiemWebhookConfig {
    /// `https://...` URL each entry is POSTed to; `http://` only to this machine (a local
    /// forwarding agent), since the events would cross a network in the clear.
    pub url: String,
    /// File holding the HMAC secret (one line; surrounding whitespace is ignored).
    pub secret_file: Option<PathBuf>,
    /// Or the name of an environment variable holding it. The secret itself never goes in
    /// the configuration.
    pub secret_env: Option<String>,
    /// PEM file of the CAs for an `https` URL; the system's trust store when absent.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SiemWebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL's query may carry a receiver's token: only its scheme and host are shown.
        let shown = self
            .url
            .parse::<hyper::Uri>()
            .ok()
            .map(|u| {
                format!(
                    "{}://{}",
                    u.scheme_str().unwrap_or("?"),
                    u.host().unwrap_or("?")
                )
            })
            .unwrap_or_else(|| "(unparsable)".into());
        f.debug_struct("SiemWebhookConfig")
            .field("url", &shown)
            .field("secret_file", &self.secret_file)
            .field("secret_env", &self.secret_env)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl SiemConfig {
    /// Whether any sink is configured.
    pub fn enabled(&self) -> bool {
        self.file.is_some() || self.syslog.is_some() || self.webhook.is_some()
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        if self.retry_base_s == 0 || self.retry_base_s > 3600 {
            return Err(ConfigError("siem.retry_base_s must be 1 to 3600".into()));
        }
        if self.batch == 0 || self.batch > 10_000 {
            return Err(ConfigError("siem.batch must be 1 to 10000".into()));
        }
        if self.timeout_s == 0 || self.timeout_s > 300 {
            return Err(ConfigError("siem.timeout_s must be 1 to 300".into()));
        }
        if let Some(s) = &self.syslog {
            let (host, port) = s.address.rsplit_once(':').ok_or_else(|| {
                ConfigError(format!(
                    "siem.syslog.address `{}` is not host:port",
                    s.address
                ))
            })?;
            if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(ConfigError(format!(
                    "siem.syslog.address `{}` is not host:port",
                    s.address
                )));
            }
            if !s.tls && (s.ca_file.is_some() || s.server_name.is_some()) {
                return Err(ConfigError(
                    "siem.syslog.ca_file and server_name need tls = true".into(),
                ));
            }
            if let Some(h) = &s.hostname {
                // RFC 5424's HOSTNAME: 1 to 255 printable ASCII characters, no space.
                if h.is_empty() || h.len() > 255 || !h.bytes().all(|b| (33..=126).contains(&b)) {
                    return Err(ConfigError(
                        "siem.syslog.hostname must be 1 to 255 printable ASCII characters without spaces".into(),
                    ));
                }
            }
        }
        if let Some(w) = &self.webhook {
            let uri: hyper::Uri = w
                .url
                .parse()
                .map_err(|_| ConfigError("siem.webhook.url is not a URL".into()))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(ConfigError(
                    "siem.webhook.url must be an http:// or https:// URL with a host".into(),
                ));
            }
            let loopback = matches!(uri.host(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if uri.scheme_str() == Some("http") && !loopback {
                return Err(ConfigError(
                    "siem.webhook.url must be https:// (http:// only to localhost)".into(),
                ));
            }
            if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
                // It would be sent in the Host header and shown in errors: the HMAC secret
                // is the credential.
                return Err(ConfigError(
                    "siem.webhook.url must not hold a user name or password".into(),
                ));
            }
            if w.ca_file.is_some() && uri.scheme_str() != Some("https") {
                return Err(ConfigError(
                    "siem.webhook.ca_file needs an https:// URL".into(),
                ));
            }
            match (&w.secret_file, &w.secret_env) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(ConfigError(
                        "siem.webhook needs exactly one of secret_file and secret_env".into(),
                    ))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The smallest configuration that parses; other modules' tests add their sections.
    pub(crate) const BASE: &str = r#"
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
        // The group settings: defaults, from the file, from the environment, checked.
        let DirectoryConfig::Ldap(l) = &c.directory else {
            unreachable!()
        };
        assert_eq!((l.group_base_dn.as_deref(), l.max_groups), (None, 1000));
        let groups =
            format!("{ldap}group_base_dn = \"OU=Groups,DC=example,DC=test\"\nmax_groups = 50\n");
        let c = load(&groups, &[("RECLAIM__DIRECTORY__MAX_GROUPS", "20")]).unwrap();
        let DirectoryConfig::Ldap(l) = &c.directory else {
            unreachable!()
        };
        assert_eq!(
            (l.group_base_dn.as_deref(), l.max_groups),
            (Some("OU=Groups,DC=example,DC=test"), 20)
        );
        assert!(load(&groups.replace("= 50", "= 0"), &[]).is_err());
    }

    #[test]
    fn actions_are_routed_to_named_connectors_and_a_route_that_cannot_work_is_refused() {
        let record = r#"
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
        let second = r#"
[connectors.ldap2]
kind = "ldap"
url = "ldaps://ldap.example.test"
flavour = "openldap"
bind_dn = "cn=svc,dc=example,dc=test"
bind_password = "secret"
base_dn = "dc=example,dc=test"
"#;
        let routed = format!(
            "{record}{second}[actions.unlock]\nconnector = \"ldap2\"\nlink = \"email\"\n[actions.mfa]\nconnector = \"off\"\n"
        );
        let c = load(&routed, &[]).unwrap();
        let unlock = c.actions.unlock.as_ref().unwrap();
        assert_eq!(
            (unlock.connector.as_str(), unlock.link),
            ("ldap2", reclaim_directory::Link::Email)
        );
        assert!(c.connectors.contains_key("ldap2"));
        // A connector no action uses, a route to a connector that does not exist, a
        // misspelt link, a connector whose own settings are wrong: each named.
        for (text, names) in [
            (format!("{record}{second}"), "no action uses it"),
            (
                format!("{record}[actions.mfa]\nconnector = \"okta\"\n"),
                "connectors.okta",
            ),
            (routed.replace("\"email\"", "\"mail\""), "mail"),
            (
                routed.replace("ldaps://ldap.", "ftp://ldap."),
                "connectors.ldap2",
            ),
        ] {
            let e = load(&text, &[]).unwrap_err();
            assert!(e.0.contains(names), "{names}: {e}");
        }
        // The lease must outlast four operations of the slowest connector.
        let slow = routed.replace(
            "base_dn = \"dc=example,dc=test\"\n",
            "base_dn = \"dc=example,dc=test\"\ntimeout_ms = 20000\n",
        );
        let e = load(&slow, &[]).unwrap_err();
        assert!(
            e.0.contains("reset_lease_s must be at least 80 s") && e.0.contains("ldap2"),
            "{e}"
        );
        assert!(load(&format!("{slow}[policy]\nreset_lease_s = 80\n"), &[]).is_ok());
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
        // A syntax error names its line, not the line's text (it may hold a password).
        let e = load(&format!("{BASE}\nbind_password = \"s3cret\n"), &[]).unwrap_err();
        assert!(e.0.contains("line 9") && !e.0.contains("s3cret"), "{e}");
    }

    #[test]
    fn faults_are_refused_without_the_test_hooks_feature() {
        let faults = Faults {
            directory_delay_ms: 10,
            crash_after_directory: false,
        };
        let refused = faults.check(false).unwrap_err();
        assert!(refused.0.contains("test-hooks"), "{refused}");
        assert!(faults.check(true).is_ok());
        assert!(Faults::default().check(false).is_ok());
        // What this build does with them follows its feature, not its profile.
        let parsed = Config::parse(&format!("{BASE}[fault]\ndirectory_delay_ms = 10\n"));
        assert_eq!(parsed.is_ok(), cfg!(feature = "test-hooks"));
    }

    #[test]
    fn server_limits_have_safe_defaults_and_are_checked() {
        let c = Config::parse(BASE).unwrap();
        assert_eq!(c.server.max_connections, 512);
        assert!(c.server.max_connections_per_address <= c.server.max_connections);
        let zero = Config::parse(&format!("{BASE}[server]\nheader_timeout_s = 0\n"));
        assert!(zero.unwrap_err().0.contains("header_timeout_s"));
        let over = Config::parse(&format!(
            "{BASE}[server]\nmax_connections = 10\nmax_connections_per_address = 20\n"
        ));
        assert!(over.unwrap_err().0.contains("max_connections_per_address"));
        assert!(Config::parse(&format!("{BASE}[server]\nmax_conections = 10\n")).is_err());
    }

    #[test]
    fn the_oidc_client_secret_comes_from_the_environment_and_is_never_printed() {
        let text = format!(
            "{BASE}[admin.oidc]\nissuer = \"https://id.example.test\"\nclient_id = \"reclaim\"\nscopes = [\"groups\"]\nreviewer_groups = [\"helpdesk\"]\n"
        );
        let dir = std::env::temp_dir().join(format!("reclaim-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oidc-secret.toml");
        std::fs::write(&path, &text).unwrap();
        let env = [(
            "RECLAIM__ADMIN__OIDC__CLIENT_SECRET".to_string(),
            "s3cret-from-env".to_string(),
        )];
        let c = Config::load(Some(&path), env).unwrap();
        let oidc = c.admin.oidc.as_ref().unwrap();
        assert_eq!(oidc.client_secret.as_deref(), Some("s3cret-from-env"));
        assert_eq!(oidc.groups_claim, "groups");
        oidc.check().unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(format!("{oidc:?}").contains("<redacted>"));
        // Plain http is for a loopback provider only.
        let mut bad = oidc.clone();
        bad.issuer = "http://id.example.test".into();
        assert!(bad.check().is_err());
        bad.issuer = "http://127.0.0.1:8080".into();
        assert!(bad.check().is_ok());
    }
}
