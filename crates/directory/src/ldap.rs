//! The LDAP connector: OpenLDAP (with the ppolicy overlay) and Active Directory.
//!
//! Both flavours share the connection handling (TLS verified against a configured CA or
//! the system roots, a timeout around every operation, a fresh connection per operation so
//! no state survives a failure) and differ in how a password is set and an account
//! unlocked:
//!
//! - OpenLDAP: RFC 3062 Password Modify as the service account, with the password-policy
//!   request control so a refusal comes back with its reason; unlock deletes
//!   `pwdAccountLockedTime`.
//! - Active Directory: one `replace` of `unicodePwd` (which AD accepts only over an
//!   encrypted connection, hence the validation that refuses plain `ldap://`); unlock sets
//!   `lockoutTime` to 0.
//!
//! Group memberships differ too: OpenLDAP's are searched by `member`, `uniqueMember` and
//! `memberUid`, level by level; AD's with the in-chain matching rule, plus the primary
//! group that no `member` attribute names.
//!
//! No password, the service account's included, ever appears in an error, a log or `Debug`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::controls::RawControl;
use ldap3::exop::PasswordModify;
use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Mod, Scope,
    SearchEntry, SearchOptions,
};
use serde::{Deserialize, Serialize};

use crate::{Capabilities, Directory, DirectoryError, DirectoryUser, PasswordRefusal};

mod ppolicy;

pub use ppolicy::{PpolicyError, PpolicyResponse};

/// Which directory server is behind the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum LdapFlavour {
    #[serde(rename = "openldap")]
    OpenLdap,
    #[serde(rename = "active_directory")]
    ActiveDirectory,
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_max_groups() -> usize {
    1000
}

/// How to reach and use the directory.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    pub flavour: LdapFlavour,
    /// The service account Reclaim binds as. It needs only: read users, reset their
    /// password, clear their lockout.
    pub bind_dn: String,
    pub bind_password: String,
    /// Where users are searched (subtree), and the only subtree changes may touch.
    pub base_dn: String,
    /// Attributes a login is matched against. Default: `uid`, `mail` (OpenLDAP);
    /// `sAMAccountName`, `userPrincipalName`, `mail` (AD).
    #[serde(default)]
    pub login_attributes: Option<Vec<String>>,
    /// Object class of user entries. Default: `inetOrgPerson` (OpenLDAP), `user` (AD).
    #[serde(default)]
    pub user_object_class: Option<String>,
    /// Attribute holding the birth date (ISO 8601 `YYYY-MM-DD` or generalized time), if
    /// the directory keeps one.
    #[serde(default)]
    pub birth_date_attribute: Option<String>,
    /// PEM file with the CA certificate(s) to trust; without it, the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Upgrade an `ldap://` connection with StartTLS.
    #[serde(default)]
    pub starttls: bool,
    /// Limit for each whole operation (connect, bind, request), in milliseconds. A group
    /// lookup is one operation of its own, with the same limit.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Where groups are searched (subtree). Default: the domain `base_dn` is in, that is
    /// `base_dn` from its first `dc=` component on (`DC=example,DC=com` for
    /// `OU=Staff,DC=example,DC=com`), or `base_dn` itself when it has no `dc=`. A group
    /// outside this subtree, or one the service account may not read, is not reported.
    #[serde(default)]
    pub group_base_dn: Option<String>,
    /// The most groups a lookup reads; an account in more has an unknown list (an
    /// error), not a shortened one.
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("flavour", &self.flavour)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &"<redacted>")
            .field("base_dn", &self.base_dn)
            .field("login_attributes", &self.login_attributes)
            .field("user_object_class", &self.user_object_class)
            .field("birth_date_attribute", &self.birth_date_attribute)
            .field("ca_file", &self.ca_file)
            .field("starttls", &self.starttls)
            .field("timeout_ms", &self.timeout_ms)
            .field("group_base_dn", &self.group_base_dn)
            .field("max_groups", &self.max_groups)
            .finish()
    }
}

impl LdapConfig {
    /// The settings every directory needs, with the optional ones at their defaults (as a
    /// configuration file naming only these five gives them).
    pub fn new(
        url: impl Into<String>,
        flavour: LdapFlavour,
        bind_dn: impl Into<String>,
        bind_password: impl Into<String>,
        base_dn: impl Into<String>,
    ) -> LdapConfig {
        LdapConfig {
            url: url.into(),
            flavour,
            bind_dn: bind_dn.into(),
            bind_password: bind_password.into(),
            base_dn: base_dn.into(),
            login_attributes: None,
            user_object_class: None,
            birth_date_attribute: None,
            ca_file: None,
            starttls: false,
            timeout_ms: default_timeout_ms(),
            group_base_dn: None,
            max_groups: default_max_groups(),
        }
    }

    /// Checks the configuration without touching the network.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let bad = |m: String| Err(DirectoryError::Config(m));
        let ldaps = if self.url.starts_with("ldaps://") {
            true
        } else if self.url.starts_with("ldap://") {
            false
        } else {
            return bad("url must start with ldap:// or ldaps://".into());
        };
        if ldaps && self.starttls {
            return bad("starttls is for ldap:// URLs; ldaps:// is already encrypted".into());
        }
        if self.flavour == LdapFlavour::ActiveDirectory && !ldaps && !self.starttls {
            // AD sets passwords only over an encrypted connection, and a bind would send
            // the service account's password in clear.
            return bad("Active Directory needs ldaps:// or starttls: true".into());
        }
        if self.bind_dn.trim().is_empty() || self.bind_password.is_empty() {
            return bad("bind_dn and bind_password are required".into());
        }
        if self.base_dn.trim().is_empty() {
            return bad("base_dn is required".into());
        }
        if self.timeout_ms == 0 || self.timeout_ms > 600_000 {
            return bad("timeout_ms must be between 1 and 600000".into());
        }
        if self
            .group_base_dn
            .as_deref()
            .is_some_and(|b| b.trim().is_empty())
        {
            return bad("group_base_dn must not be empty (leave it out for the default)".into());
        }
        if self.max_groups == 0 || self.max_groups > MAX_GROUPS_LIMIT {
            return bad(format!(
                "max_groups must be between 1 and {MAX_GROUPS_LIMIT}"
            ));
        }
        // Attribute names go into filters unescaped (only values are escaped), so they
        // must be plain names or OIDs.
        let attrs = self.login_attributes();
        if attrs.is_empty() {
            return bad("login_attributes must not be empty".into());
        }
        for a in attrs
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(self.user_object_class()))
            .chain(self.birth_date_attribute.as_deref())
        {
            if !is_attribute_name(a) {
                return bad(format!("{a:?} is not an attribute or class name"));
            }
        }
        Ok(())
    }

    fn login_attributes(&self) -> Vec<String> {
        match (&self.login_attributes, self.flavour) {
            (Some(a), _) => a.clone(),
            (None, LdapFlavour::OpenLdap) => vec!["uid".into(), "mail".into()],
            (None, LdapFlavour::ActiveDirectory) => vec![
                "sAMAccountName".into(),
                "userPrincipalName".into(),
                "mail".into(),
            ],
        }
    }

    fn user_object_class(&self) -> &str {
        match (&self.user_object_class, self.flavour) {
            (Some(c), _) => c,
            (None, LdapFlavour::OpenLdap) => "inetOrgPerson",
            (None, LdapFlavour::ActiveDirectory) => "user",
        }
    }

    /// See [`LdapConfig::group_base_dn`].
    pub fn group_base(&self) -> String {
        if let Some(b) = &self.group_base_dn {
            return b.trim().to_string();
        }
        let base = self.base_dn.trim();
        let rdns = crate::dn::parse(base).unwrap_or_default();
        match rdns
            .iter()
            .position(|rdn| rdn.iter().any(|(t, _)| t == "dc"))
        {
            // The comma before the n-th RDN, found by splitting on unescaped commas.
            Some(n) if n > 0 => unescaped_commas(base)
                .nth(n - 1)
                .map_or_else(|| base.to_string(), |i| base[i + 1..].trim().to_string()),
            _ => base.to_string(),
        }
    }

    fn username_attribute(&self) -> &'static str {
        match self.flavour {
            LdapFlavour::OpenLdap => "uid",
            LdapFlavour::ActiveDirectory => "sAMAccountName",
        }
    }
}

/// The byte offsets of the commas in `dn` that separate RDNs (those not escaped).
fn unescaped_commas(dn: &str) -> impl Iterator<Item = usize> + '_ {
    let mut escaped = false;
    dn.char_indices().filter_map(move |(i, c)| {
        let separator = c == ',' && !escaped;
        escaped = c == '\\' && !escaped;
        separator.then_some(i)
    })
}

fn is_attribute_name(a: &str) -> bool {
    let mut chars = a.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => a
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())),
        _ => false,
    }
}

/// OID of the password-policy request and response controls
/// (draft-behera-ldap-password-policy).
pub const PPOLICY_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// OID of the Relax Rules control (draft-zeilenga-ldap-relax), understood by OpenLDAP.
const RELAX_OID: &str = "1.3.6.1.4.1.4203.666.5.12";

/// The highest `max_groups` accepted.
const MAX_GROUPS_LIMIT: usize = 100_000;

/// How many levels of groups in groups an OpenLDAP lookup follows; a chain still growing
/// at the last level makes the list unknown (an error), not short.
const OPENLDAP_NESTING_LEVELS: usize = 16;

/// How many group DNs one nested-membership search asks about, so a filter stays small.
const GROUPS_PER_SEARCH: usize = 50;

/// AD's LDAP_MATCHING_RULE_IN_CHAIN: `member:<this>:=<DN>` matches every group whose
/// members include DN directly or through any chain of groups.
const IN_CHAIN_OID: &str = "1.2.840.113556.1.4.1941";

const RC_SUCCESS: u32 = 0;
const RC_TIME_LIMIT: u32 = 3;
const RC_SIZE_LIMIT: u32 = 4;
const RC_NO_SUCH_ATTRIBUTE: u32 = 16;
const RC_CONSTRAINT: u32 = 19;
const RC_NO_SUCH_OBJECT: u32 = 32;
const RC_INVALID_CREDENTIALS: u32 = 49;
const RC_INSUFFICIENT_ACCESS: u32 = 50;
const RC_BUSY: u32 = 51;
const RC_UNAVAILABLE: u32 = 52;
const RC_UNWILLING: u32 = 53;

/// A directory reached over LDAP.
#[derive(Debug)]
pub struct LdapDirectory {
    config: LdapConfig,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl LdapDirectory {
    /// Validates the configuration and loads the CA file. Does not connect: use
    /// [`Directory::health`] for that. Operations must run inside a Tokio runtime (each
    /// connection's I/O is driven by a spawned task).
    pub fn new(config: LdapConfig) -> Result<LdapDirectory, DirectoryError> {
        config.validate()?;
        let tls = Arc::new(tls_config(&config)?);
        let timeout = Duration::from_millis(config.timeout_ms);
        Ok(LdapDirectory {
            config,
            tls,
            timeout,
        })
    }

    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Runs a whole operation (connect included) under the configured time limit.
    async fn within<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        tokio::time::timeout(self.timeout, op)
            .await
            .map_err(|_| DirectoryError::Timeout)?
    }

    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.config.starttls)
            .set_config(self.tls.clone());
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(connection_error)?;
        // The connection task ends by itself when the connection closes (unbind, drop,
        // server gone); its error is the operation's error, reported there.
        tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        Ok(ldap)
    }

    /// A connection bound as the service account.
    async fn service(&self) -> Result<Ldap, DirectoryError> {
        let mut ldap = self.connect().await?;
        let res = ldap
            .simple_bind(&self.config.bind_dn, &self.config.bind_password)
            .await
            .map_err(connection_error)?;
        match res.rc {
            RC_SUCCESS => Ok(ldap),
            RC_INVALID_CREDENTIALS => Err(DirectoryError::Config(
                "the directory refused the service account's credentials (bind_dn / bind_password)"
                    .into(),
            )),
            _ => Err(result_error("service account bind", &res)),
        }
    }

    /// Refuses a record whose DN is outside `base_dn`: changes only ever touch the
    /// subtree Reclaim was configured for, whatever a caller passes in.
    fn checked_dn<'a>(&self, user: &'a DirectoryUser) -> Result<&'a str, DirectoryError> {
        let dn = user.id.trim();
        let base = normalize_dn(&self.config.base_dn);
        let norm = normalize_dn(dn);
        if dn.is_empty() || !(norm == base || norm.ends_with(&format!(",{base}"))) {
            return Err(DirectoryError::UserNotFound);
        }
        Ok(dn)
    }

    fn user_from(&self, entry: SearchEntry) -> Result<DirectoryUser, DirectoryError> {
        let get = |name: &str| -> Option<String> {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let username = get(self.config.username_attribute()).ok_or_else(|| {
            DirectoryError::Protocol(format!(
                "the entry has no {} attribute",
                self.config.username_attribute()
            ))
        })?;
        Ok(DirectoryUser {
            id: entry.dn.clone(),
            username,
            email: get("mail"),
            display_name: get("displayName").or_else(|| get("cn")),
            given_name: get("givenName"),
            surname: get("sn"),
            birth_date: self
                .config
                .birth_date_attribute
                .as_deref()
                .and_then(get)
                .and_then(|v| iso_date(&v)),
            // A lookup of its own: `Directory::with_groups`.
            groups: Vec::new(),
            groups_complete: false,
        })
    }

    async fn find(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let login = login.trim();
        if login.is_empty() {
            return Ok(None);
        }
        // RFC 4515: the value is escaped, so `*`, `(`, `)`, `\` and NUL are literal
        // characters of the login and cannot change the filter's structure.
        let value = ldap_escape(login);
        let alternatives: String = self
            .config
            .login_attributes()
            .iter()
            .map(|a| format!("({a}={value})"))
            .collect();
        // In AD, computer accounts are of class `user` too; only people may recover.
        let person = match self.config.flavour {
            LdapFlavour::OpenLdap => "",
            LdapFlavour::ActiveDirectory => "(objectCategory=person)",
        };
        let filter = format!(
            "(&{person}(objectClass={})(|{alternatives}))",
            self.config.user_object_class()
        );
        let mut attrs = vec![
            self.config.username_attribute(),
            "mail",
            "cn",
            "displayName",
            "givenName",
            "sn",
        ];
        if let Some(b) = self.config.birth_date_attribute.as_deref() {
            attrs.push(b);
        }
        let mut ldap = self.service().await?;
        // Two are enough to know the login is ambiguous.
        let result = ldap
            .with_search_options(SearchOptions::new().sizelimit(2))
            .search(&self.config.base_dn, Scope::Subtree, &filter, attrs)
            .await
            .map_err(connection_error)?;
        let _ = ldap.unbind().await;
        let (entries, res) = (result.0, result.1);
        match res.rc {
            RC_SUCCESS => {}
            RC_SIZE_LIMIT => return Err(ambiguous()),
            RC_NO_SUCH_OBJECT => {
                return Err(DirectoryError::Config(
                    "base_dn does not exist, or the service account may not read it".into(),
                ))
            }
            _ => return Err(result_error("search", &res)),
        }
        if entries.len() > 1 {
            return Err(ambiguous());
        }
        match entries.into_iter().next() {
            None => Ok(None),
            Some(e) => self.user_from(SearchEntry::construct(e)).map(Some),
        }
    }

    async fn set_openldap(&self, dn: &str, password: &str) -> Result<(), DirectoryError> {
        let mut ldap = self.service().await?;
        let request = RawControl {
            ctype: PPOLICY_OID.into(),
            crit: false,
            val: None,
        };
        let result = ldap
            .with_controls(request)
            .extended(PasswordModify {
                user_id: Some(dn),
                old_pass: None,
                new_pass: Some(password),
            })
            .await
            .map_err(connection_error)?;
        let _ = ldap.unbind().await;
        let res = result.1;
        if let Some(error) = ppolicy_error(&res)? {
            return Err(error.into_directory_error());
        }
        match res.rc {
            RC_SUCCESS => Ok(()),
            RC_CONSTRAINT => Err(DirectoryError::PasswordRefused(
                PasswordRefusal::PolicyViolation,
            )),
            _ => Err(result_error("password modify", &res)),
        }
    }

    async fn set_active_directory(&self, dn: &str, password: &str) -> Result<(), DirectoryError> {
        let mut ldap = self.service().await?;
        let value = ad_password_value(password);
        let mods = vec![Mod::Replace(b"unicodePwd".to_vec(), HashSet::from([value]))];
        let res = ldap.modify(dn, mods).await.map_err(connection_error)?;
        let _ = ldap.unbind().await;
        match res.rc {
            RC_SUCCESS => Ok(()),
            // 0000052D is AD's "password does not meet policy" (length, complexity,
            // history or minimum age), with no finer reason on the wire.
            RC_CONSTRAINT => Err(DirectoryError::PasswordRefused(
                PasswordRefusal::PolicyViolation,
            )),
            RC_UNWILLING => Err(DirectoryError::Config(format!(
                "Active Directory refused to set the password ({}); it requires an encrypted connection",
                ad_code(&res.text).unwrap_or("no code")
            ))),
            _ => Err(result_error("password reset", &res)),
        }
    }

    async fn bind_as_user(&self, dn: &str, password: &str) -> Result<bool, DirectoryError> {
        // An empty password would make an unauthenticated bind (RFC 4513 5.1.2), which
        // servers accept: it would prove nothing.
        if password.is_empty() {
            return Ok(false);
        }
        let mut ldap = self.connect().await?;
        if self.config.flavour == LdapFlavour::OpenLdap {
            ldap.with_controls(RawControl {
                ctype: PPOLICY_OID.into(),
                crit: false,
                val: None,
            });
        }
        let res = ldap
            .simple_bind(dn, password)
            .await
            .map_err(connection_error)?;
        let _ = ldap.unbind().await;
        match self.config.flavour {
            LdapFlavour::OpenLdap => {
                if let Some(PpolicyError::AccountLocked) = ppolicy_error(&res)? {
                    return Err(locked());
                }
                match res.rc {
                    RC_SUCCESS => Ok(true),
                    RC_INVALID_CREDENTIALS => Ok(false),
                    _ => Err(result_error("user bind", &res)),
                }
            }
            LdapFlavour::ActiveDirectory => match (res.rc, ad_bind_data(&res.text)) {
                (RC_SUCCESS, _) => Ok(true),
                // AD reports these only once the password itself was right.
                (RC_INVALID_CREDENTIALS, Some("532" | "773")) => Ok(true),
                (RC_INVALID_CREDENTIALS, Some("775" | "533" | "701" | "530" | "531")) => {
                    Err(locked())
                }
                (RC_INVALID_CREDENTIALS, _) => Ok(false),
                _ => Err(result_error("user bind", &res)),
            },
        }
    }

    async fn do_unlock(&self, dn: &str) -> Result<(), DirectoryError> {
        let mut ldap = self.service().await?;
        let outcome = match self.config.flavour {
            LdapFlavour::OpenLdap => {
                // Deleting what is already absent is success: unlock is idempotent. The
                // failure times go too, or the next mistyped password would lock the
                // account again at once.
                let mut out = Ok(());
                for attr in ["pwdAccountLockedTime", "pwdFailureTime"] {
                    // pwdFailureTime is NO-USER-MODIFICATION: slapd lets a holder of
                    // `manage` change it only under the Relax control.
                    ldap.with_controls(RawControl {
                        ctype: RELAX_OID.into(),
                        crit: true,
                        val: None,
                    });
                    let res = ldap
                        .modify(dn, vec![Mod::Delete(attr, HashSet::new())])
                        .await
                        .map_err(connection_error)?;
                    if res.rc != RC_SUCCESS && res.rc != RC_NO_SUCH_ATTRIBUTE {
                        out = Err(result_error("unlock", &res));
                        break;
                    }
                }
                out
            }
            LdapFlavour::ActiveDirectory => {
                let res = ldap
                    .modify(dn, vec![Mod::Replace("lockoutTime", HashSet::from(["0"]))])
                    .await
                    .map_err(connection_error)?;
                match res.rc {
                    RC_SUCCESS => Ok(()),
                    _ => Err(result_error("unlock", &res)),
                }
            }
        };
        let _ = ldap.unbind().await;
        outcome
    }

    /// The account's entry (a base read), with `attrs`.
    async fn read_account(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        attrs: &[&str],
    ) -> Result<SearchEntry, DirectoryError> {
        let result = ldap
            .search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await
            .map_err(connection_error)?;
        if result.1.rc != RC_SUCCESS {
            // noSuchObject becomes UserNotFound: an account that is gone has no groups
            // to report, which is not the same as having none.
            return Err(result_error("account read", &result.1));
        }
        result
            .0
            .into_iter()
            .next()
            .map(SearchEntry::construct)
            .ok_or(DirectoryError::UserNotFound)
    }

    /// The DNs of the entries under the group base that `filter` matches; more than
    /// `max_groups` (or the server's own size limit) is an error.
    async fn group_search(
        &self,
        ldap: &mut Ldap,
        filter: &str,
    ) -> Result<Vec<String>, DirectoryError> {
        let max = self.config.max_groups;
        let limit = i32::try_from(max.saturating_add(1)).unwrap_or(i32::MAX);
        // "1.1": no attributes, the DN is all that is needed.
        let result = ldap
            .with_search_options(SearchOptions::new().sizelimit(limit))
            .search(
                &self.config.group_base(),
                Scope::Subtree,
                filter,
                vec!["1.1"],
            )
            .await
            .map_err(connection_error)?;
        let (entries, res) = (result.0, result.1);
        match res.rc {
            RC_SUCCESS => {}
            RC_SIZE_LIMIT => return Err(too_many_groups(max)),
            RC_NO_SUCH_OBJECT => {
                return Err(DirectoryError::Config(
                    "the group base (group_base_dn) does not exist, or the service account may not read it"
                        .into(),
                ))
            }
            _ => return Err(result_error("group search", &res)),
        }
        if entries.len() > max {
            return Err(too_many_groups(max));
        }
        Ok(entries
            .into_iter()
            .map(|e| SearchEntry::construct(e).dn)
            .collect())
    }

    /// OpenLDAP: the groups naming the account in `member` or `uniqueMember` (by DN) or
    /// `memberUid` (by uid), then, level by level, the groups naming those groups. No
    /// `memberOf`: it needs the memberof overlay, which many deployments lack.
    async fn openldap_groups(
        &self,
        ldap: &mut Ldap,
        dn: &str,
    ) -> Result<Vec<String>, DirectoryError> {
        // The uids from the entry itself, not from the caller's record, and the entry
        // must exist: a deleted account is not found, rather than in no group.
        let entry = self.read_account(ldap, dn, &["uid"]).await?;
        let uids: String = entry
            .attrs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("uid"))
            .flat_map(|(_, v)| v)
            .map(|uid| format!("(memberUid={})", ldap_escape(uid.as_str())))
            .collect();
        // RFC 4515: DNs and uids go into the filters escaped, so a `(`, `)`, `*` or `\`
        // in a name is a character of it and cannot change the filter.
        let d = ldap_escape(dn);
        let mut filters = vec![format!("(|(member={d})(uniqueMember={d}){uids})")];
        let mut found = Vec::new();
        let mut seen = HashSet::from([crate::dn::key(dn)]);
        for _ in 0..OPENLDAP_NESTING_LEVELS {
            let mut new = Vec::new();
            for filter in &filters {
                for group in self.group_search(ldap, filter).await? {
                    // Each group once, so a cycle of groups ends here.
                    if seen.insert(crate::dn::key(&group)) {
                        new.push(group);
                    }
                }
            }
            if new.is_empty() {
                return Ok(found);
            }
            found.extend(new.iter().cloned());
            if found.len() > self.config.max_groups {
                return Err(too_many_groups(self.config.max_groups));
            }
            filters = new
                .chunks(GROUPS_PER_SEARCH)
                .map(|chunk| {
                    let alternatives: String = chunk
                        .iter()
                        .map(|g| {
                            let e = ldap_escape(g.as_str());
                            format!("(member={e})(uniqueMember={e})")
                        })
                        .collect();
                    format!("(|{alternatives})")
                })
                .collect();
        }
        Err(DirectoryError::Protocol(format!(
            "groups nest deeper than {OPENLDAP_NESTING_LEVELS} levels"
        )))
    }

    /// Active Directory: every group whose membership includes the account through any
    /// chain of groups (the in-chain matching rule, evaluated by the DC), plus the
    /// account's primary group (`primaryGroupID`, usually Domain Users) and the groups
    /// that one is in. AD never lists the primary group in `member` or `memberOf`, and
    /// setting `primaryGroupID` to 512 makes a Domain Admin that neither shows.
    async fn ad_groups(&self, ldap: &mut Ldap, dn: &str) -> Result<Vec<String>, DirectoryError> {
        let entry = self
            .read_account(ldap, dn, &["objectSid", "primaryGroupID"])
            .await?;
        let sid = attribute_bytes(&entry, "objectSid").ok_or_else(|| {
            DirectoryError::Protocol("the account has no readable objectSid".into())
        })?;
        let rid = entry
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("primaryGroupID"))
            .and_then(|(_, v)| v.first())
            .and_then(|v| v.trim().parse::<u32>().ok())
            .ok_or_else(|| {
                DirectoryError::Protocol("the account has no readable primaryGroupID".into())
            })?;
        let group_sid = sibling_sid(&sid, rid).ok_or_else(|| {
            DirectoryError::Protocol("the account's objectSid is malformed".into())
        })?;
        let primary = self
            .group_search(
                ldap,
                &format!(
                    "(&(objectClass=group)(objectSid={}))",
                    escape_bytes(&group_sid)
                ),
            )
            .await?;
        let [primary] = <[String; 1]>::try_from(primary).map_err(|found| {
            DirectoryError::Protocol(format!(
                "the account's primary group (RID {rid}) is {} under the group base",
                if found.is_empty() {
                    "not found"
                } else {
                    "not unique"
                }
            ))
        })?;
        let filter = format!(
            "(&(objectClass=group)(|(member:{IN_CHAIN_OID}:={})(member:{IN_CHAIN_OID}:={})))",
            ldap_escape(dn),
            ldap_escape(primary.as_str())
        );
        let mut groups = self.group_search(ldap, &filter).await?;
        groups.push(primary);
        if groups.len() > self.config.max_groups {
            return Err(too_many_groups(self.config.max_groups));
        }
        Ok(groups)
    }

    async fn read_groups(&self, dn: &str) -> Result<Vec<String>, DirectoryError> {
        let mut ldap = self.service().await?;
        let out = match self.config.flavour {
            LdapFlavour::OpenLdap => self.openldap_groups(&mut ldap, dn).await,
            LdapFlavour::ActiveDirectory => self.ad_groups(&mut ldap, dn).await,
        };
        let _ = ldap.unbind().await;
        let mut groups = out?;
        // Each group once whatever its spelling, in an order that does not depend on the
        // server's.
        let mut seen = HashSet::new();
        groups.retain(|g| seen.insert(crate::dn::key(g)));
        groups.sort_by_cached_key(|g| crate::dn::key(g));
        Ok(groups)
    }

    async fn do_health(&self) -> Result<(), DirectoryError> {
        let mut ldap = self.service().await?;
        let result = ldap
            .search("", Scope::Base, "(objectClass=*)", vec!["namingContexts"])
            .await
            .map_err(connection_error)?;
        let _ = ldap.unbind().await;
        match result.1.rc {
            RC_SUCCESS if !result.0.is_empty() => Ok(()),
            RC_SUCCESS => Err(DirectoryError::Protocol(
                "the root DSE is not readable".into(),
            )),
            _ => Err(result_error("root DSE search", &result.1)),
        }
    }
}

#[async_trait]
impl Directory for LdapDirectory {
    fn kind(&self) -> &'static str {
        match self.config.flavour {
            LdapFlavour::OpenLdap => "openldap",
            LdapFlavour::ActiveDirectory => "active_directory",
        }
    }

    /// Both flavours reset passwords and clear lockouts. Neither removes second factors:
    /// plain LDAP has no standard place for them, and AD's are kept by the identity
    /// provider (Entra ID, ADFS, a RADIUS server) in front of it.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reset_password: true,
            reset_mfa: false,
            unlock: true,
        }
    }

    async fn find_user(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        self.within(self.find(login)).await
    }

    async fn set_password(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<(), DirectoryError> {
        let dn = self.checked_dn(user)?;
        match self.config.flavour {
            LdapFlavour::OpenLdap => self.within(self.set_openldap(dn, password)).await,
            LdapFlavour::ActiveDirectory => {
                self.within(self.set_active_directory(dn, password)).await
            }
        }
    }

    async fn password_is(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<bool, DirectoryError> {
        let dn = self.checked_dn(user)?;
        self.within(self.bind_as_user(dn, password)).await
    }

    /// Plain LDAP has no standard second factor to remove; MFA lives in the identity
    /// provider in front of it.
    async fn reset_mfa(
        &self,
        _user: &DirectoryUser,
        _keep_enrolled_since: Option<std::time::SystemTime>,
    ) -> Result<crate::MfaReset, DirectoryError> {
        Err(DirectoryError::Unsupported(
            "reset second factors over LDAP (they are kept by the identity provider)",
        ))
    }

    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError> {
        let dn = self.checked_dn(user)?;
        self.within(self.do_unlock(dn)).await
    }

    async fn health(&self) -> Result<(), DirectoryError> {
        self.within(self.do_health()).await
    }

    /// Nested memberships included: AD through the in-chain matching rule plus the
    /// primary group, OpenLDAP by following `member` / `uniqueMember` up to 16 levels.
    /// Within `timeout_ms` as one operation.
    async fn groups(&self, user: &DirectoryUser) -> Result<Vec<String>, DirectoryError> {
        let dn = self.checked_dn(user)?;
        self.within(self.read_groups(dn)).await
    }
}

fn too_many_groups(max: usize) -> DirectoryError {
    DirectoryError::Protocol(format!(
        "the account is in more groups than are read (max_groups {max}, or the server's own size limit)"
    ))
}

/// An attribute's first value as bytes, wherever ldap3 put it (a binary value that happens
/// to be valid UTF-8 lands among the text ones).
fn attribute_bytes(entry: &SearchEntry, name: &str) -> Option<Vec<u8>> {
    let text = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(|v| v.as_bytes().to_vec());
    text.or_else(|| {
        entry
            .bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .cloned()
    })
}

/// The SID of the same domain as `sid` with relative id `rid` (a binary SID: revision,
/// count of sub-authorities, 6-byte authority, then each sub-authority as 4 bytes
/// little-endian; the last one is the relative id).
fn sibling_sid(sid: &[u8], rid: u32) -> Option<Vec<u8>> {
    let count = usize::from(*sid.get(1)?);
    if count == 0 || sid.len() != 8 + 4 * count {
        return None;
    }
    let mut out = sid.to_vec();
    out[sid.len() - 4..].copy_from_slice(&rid.to_le_bytes());
    Some(out)
}

/// Every byte as `\xx`: a binary value in a filter (RFC 4515).
fn escape_bytes(value: &[u8]) -> String {
    value.iter().map(|b| format!("\\{b:02x}")).collect()
}

fn ambiguous() -> DirectoryError {
    DirectoryError::Protocol("the login matches more than one account".into())
}

fn locked() -> DirectoryError {
    DirectoryError::PermissionDenied(
        "the account is locked or disabled, so its password cannot be checked".into(),
    )
}

/// Errors from the connection itself (as opposed to an LDAP result code).
fn connection_error(e: LdapError) -> DirectoryError {
    match e {
        LdapError::Timeout { .. } => DirectoryError::Timeout,
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => {
            DirectoryError::Config(format!("url: {e}"))
        }
        // The message names the I/O or TLS failure (refused, reset, unknown issuer);
        // nothing in it comes from a request, so no password can be in it.
        other => DirectoryError::Unavailable(other.to_string()),
    }
}

/// An LDAP result code that the operation does not handle itself.
fn result_error(what: &str, res: &LdapResult) -> DirectoryError {
    let detail = format!("{what}: LDAP result {} {}", res.rc, short(&res.text));
    match res.rc {
        RC_TIME_LIMIT => DirectoryError::Timeout,
        RC_NO_SUCH_OBJECT => DirectoryError::UserNotFound,
        RC_INSUFFICIENT_ACCESS => DirectoryError::PermissionDenied(detail),
        RC_BUSY | RC_UNAVAILABLE => DirectoryError::Unavailable(detail),
        _ => DirectoryError::Protocol(detail),
    }
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The ppolicy response control's error, if the server sent one.
fn ppolicy_error(res: &LdapResult) -> Result<Option<PpolicyError>, DirectoryError> {
    let Some(ctrl) = res.ctrls.iter().find(|c| c.1.ctype == PPOLICY_OID) else {
        return Ok(None);
    };
    let value = ctrl.1.val.as_deref().unwrap_or(&[]);
    PpolicyResponse::decode(value)
        .map(|r| r.error)
        .map_err(|e| DirectoryError::Protocol(format!("password policy control: {e}")))
}

/// AD's `unicodePwd` value: the password in double quotes, UTF-16LE.
fn ad_password_value(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// The 8-hex-digit Windows error at the start of an AD diagnostic (`0000052D: ...`).
fn ad_code(text: &str) -> Option<&str> {
    let code = text.get(..8)?;
    code.chars().all(|c| c.is_ascii_hexdigit()).then_some(code)
}

/// The `data NNN` sub-code of an AD bind failure (`52e` wrong password, `775` locked...).
fn ad_bind_data(text: &str) -> Option<&str> {
    let rest = &text[text.find("data ")? + 5..];
    let end = rest
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// DN comparison good enough for "is this under the base": case and spaces after commas
/// are not significant in the DNs directories hand out.
fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

/// `YYYY-MM-DD` from `YYYY-MM-DD` or a generalized time (`YYYYMMDD...`).
fn iso_date(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(&b[..4])
        && digits(&b[5..7])
        && digits(&b[8..])
    {
        return Some(v.to_string());
    }
    if b.len() >= 8 && digits(&b[..8]) {
        return Some(format!("{}-{}-{}", &v[..4], &v[4..6], &v[6..8]));
    }
    None
}

fn tls_config(config: &LdapConfig) -> Result<rustls::ClientConfig, DirectoryError> {
    crate::tls::client_config(config.ca_file.as_deref())
}

#[cfg(test)]
mod tests;
