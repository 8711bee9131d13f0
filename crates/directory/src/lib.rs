//! Directory connectors: the one place Reclaim touches the company directory.
//!
//! The server looks the account up (to compare the ID's name with the record), applies the
//! reset, and, after a crash, asks whether a reset it recorded as pending already took
//! effect. A connector also lists the groups an account is in ([`Directory::groups`]), so a
//! privileged account can be told from another. Every connector speaks through
//! [`Directory`], and every failure is a [`DirectoryError`] with a stable code, so the
//! server's exactly-once logic and the user's message do not depend on which directory is
//! behind it.

use async_trait::async_trait;
use reclaim_protocol::Code;
use serde::Serialize;

pub mod demo;
mod dn;
pub mod duo;
pub mod entra;
pub mod ldap;
mod oauth;
pub mod okta;
pub mod rest;
pub mod routed;
mod tls;

pub use demo::{DemoDirectory, DemoUser};
pub use duo::{DuoConfig, DuoDirectory, DuoFactor, DuoLoginField};
pub use entra::{EntraConfig, EntraDirectory, EntraMethodKind};
pub use ldap::{LdapConfig, LdapDirectory, LdapFlavour};
pub use okta::{OktaConfig, OktaDirectory};
pub use routed::{Link, Route, RoutedDirectory, Routes};

/// An account as the directory holds it. Only what recovery needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryUser {
    /// The directory's own stable reference (a DN for LDAP, an id for the demo).
    pub id: String,
    /// The login name (`uid`, `sAMAccountName`).
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    /// ISO 8601 date (`YYYY-MM-DD`) where the directory keeps one.
    pub birth_date: Option<String>,
    /// The groups the account is a member of, directly or through other groups: each
    /// group's full DN as the directory returns it (LDAP), or its name (the demo
    /// directory). A DN is kept rather than a bare CN because it is exact: two groups in
    /// different OUs may share a CN, and only the DN tells them apart. Compare with
    /// [`DirectoryUser::member_of_any`], which accepts a configured DN or a CN.
    ///
    /// Filled only by [`Directory::with_groups`]; [`Directory::find_user`] leaves it empty
    /// with `groups_complete` false (see there why).
    pub groups: Vec<String>,
    /// True only when `groups` is the whole list. False when the groups were not looked up
    /// or the lookup failed (unreachable, not readable, more than the connector's cap): an
    /// empty `groups` then means "unknown", never "in no group".
    pub groups_complete: bool,
}

impl DirectoryUser {
    /// An account known by its reference and login only, none of the optional attributes.
    pub fn new(id: impl Into<String>, username: impl Into<String>) -> DirectoryUser {
        DirectoryUser {
            id: id.into(),
            username: username.into(),
            email: None,
            display_name: None,
            given_name: None,
            surname: None,
            birth_date: None,
            groups: Vec::new(),
            groups_complete: false,
        }
    }

    /// Whether the account is in any of the `configured` groups: `Some(true)` when one of
    /// its groups matches, `Some(false)` when none does and the list is complete, `None`
    /// when none does but the list is incomplete (unknown: a caller deciding on privilege
    /// should treat it as a match).
    ///
    /// A configured value containing `=` is a DN and matches a group with that DN
    /// (attribute names and values compared case-insensitively, RFC 4514 escapes and the
    /// spaces around separators ignored): exact, the recommended form. Any other value is
    /// a name and matches a group whose first RDN has that value, case-insensitively
    /// (`Domain Admins` matches `CN=Domain Admins,CN=Users,DC=example,DC=com`), or, for a
    /// group that is not a DN (the demo directory), the whole name. A name also matches a
    /// same-named group elsewhere in the tree: more accounts count as privileged, never
    /// fewer.
    pub fn member_of_any<S: AsRef<str>>(&self, configured: &[S]) -> Option<bool> {
        let hit = self
            .groups
            .iter()
            .any(|g| configured.iter().any(|c| group_matches(g, c.as_ref())));
        if hit {
            Some(true)
        } else {
            self.groups_complete.then_some(false)
        }
    }
}

/// Whether `group` (one of [`DirectoryUser::groups`]) is the `configured` group, by the
/// rules of [`DirectoryUser::member_of_any`].
pub fn group_matches(group: &str, configured: &str) -> bool {
    let configured = configured.trim();
    if configured.is_empty() {
        return false;
    }
    let group_dn = dn::parse(group).filter(|d| !d.is_empty());
    if configured.contains('=') {
        match (group_dn, dn::parse(configured).filter(|d| !d.is_empty())) {
            (Some(g), Some(c)) => dn::canonical(g) == dn::canonical(c),
            _ => false,
        }
    } else {
        let want = configured.to_lowercase();
        match group_dn {
            Some(g) => g[0].iter().any(|(_, v)| v.to_lowercase() == want),
            None => group.trim().to_lowercase() == want,
        }
    }
}

/// Why the directory refused a new password, in terms a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordRefusal {
    TooShort,
    TooYoung,
    InHistory,
    QualityFailed,
    /// Refused for a reason the directory did not detail (AD's 0000052D covers length,
    /// complexity and history at once).
    PolicyViolation,
}

impl PasswordRefusal {
    pub fn code(self) -> Code {
        match self {
            PasswordRefusal::TooShort => Code::DirectoryPasswordTooShort,
            PasswordRefusal::TooYoung => Code::DirectoryPasswordTooYoung,
            PasswordRefusal::InHistory => Code::DirectoryPasswordInHistory,
            PasswordRefusal::QualityFailed => Code::DirectoryPasswordQuality,
            PasswordRefusal::PolicyViolation => Code::DirectoryPasswordPolicy,
        }
    }

    /// The sentence shown to the user.
    pub fn message(self) -> &'static str {
        match self {
            PasswordRefusal::TooShort => {
                "The directory requires a longer password. Choose a longer one."
            }
            PasswordRefusal::TooYoung => {
                "The password was changed too recently; the directory does not allow another change yet."
            }
            PasswordRefusal::InHistory => {
                "You have used this password before. Choose one you have not used."
            }
            PasswordRefusal::QualityFailed => {
                "The directory judged this password too weak. Choose a longer or less predictable one."
            }
            PasswordRefusal::PolicyViolation => {
                "The directory's password policy refused this password (length, complexity or a password used before). Choose another."
            }
        }
    }
}

/// Which changes a connector can make. The server refuses a session for anything else at
/// its start (so no one verifies their face for a change that cannot be made) and
/// publishes the list, so the app offers only these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// [`Directory::set_password`].
    pub reset_password: bool,
    /// [`Directory::reset_mfa`].
    pub reset_mfa: bool,
    /// [`Directory::unlock`].
    pub unlock: bool,
}

/// What an MFA reset leaves the person with.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MfaReset {
    /// A code the person signs in with to enrol new factors (Entra ID's Temporary Access
    /// Pass, a Duo bypass code), shown to them once; `None` where the service lets them
    /// enrol at their next sign-in.
    pub sign_in_code: Option<SignInCode>,
}

/// A sign-in code issued by the service for the person. Never logged; `Debug` hides the
/// code.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInCode {
    pub code: zeroize::Zeroizing<String>,
    /// When it stops working (Unix seconds).
    pub valid_until: i64,
    /// True when it works for one sign-in only.
    pub one_time: bool,
}

impl std::fmt::Debug for SignInCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInCode")
            .field("code", &"<redacted>")
            .field("valid_until", &self.valid_until)
            .field("one_time", &self.one_time)
            .finish()
    }
}

/// What went wrong talking to the directory. The code is stable (UI and JSON use it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The directory could not be reached, or dropped the connection. Whether a change
    /// was applied is unknown.
    #[error("the directory is unavailable: {0}")]
    Unavailable(String),
    #[error("the directory did not answer in time")]
    Timeout,
    #[error("the directory refused the password: {}", .0.message())]
    PasswordRefused(PasswordRefusal),
    #[error("the account was not found in the directory")]
    UserNotFound,
    #[error("the service account may not do this: {0}")]
    PermissionDenied(String),
    #[error("this directory cannot {0}")]
    Unsupported(&'static str),
    #[error("the directory answered something unexpected: {0}")]
    Protocol(String),
    #[error("the directory connector is misconfigured: {0}")]
    Config(String),
}

impl DirectoryError {
    pub fn code(&self) -> Code {
        match self {
            DirectoryError::Unavailable(_) => Code::DirectoryUnavailable,
            DirectoryError::Timeout => Code::DirectoryTimeout,
            DirectoryError::PasswordRefused(r) => r.code(),
            DirectoryError::UserNotFound => Code::DirectoryUserNotFound,
            DirectoryError::PermissionDenied(_) => Code::DirectoryPermissionDenied,
            DirectoryError::Unsupported(_) => Code::DirectoryActionUnsupported,
            DirectoryError::Protocol(_) => Code::DirectoryProtocolError,
            DirectoryError::Config(_) => Code::DirectoryConfigInvalid,
        }
    }

    /// True when the outcome of a change is unknown (it may or may not have been applied),
    /// so the server must keep its pending record and find out later.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            DirectoryError::Unavailable(_) | DirectoryError::Timeout | DirectoryError::Protocol(_)
        )
    }

    /// True when asking again cannot succeed until someone changes the directory or the
    /// configuration: the action is unsupported, the account is gone, the service account
    /// may not make the change, or the connector is misconfigured. A pending reset that
    /// meets one of these ends as failed instead of being retried.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            DirectoryError::Unsupported(_)
                | DirectoryError::UserNotFound
                | DirectoryError::PermissionDenied(_)
                | DirectoryError::Config(_)
        )
    }
}

/// A company directory. Implementations must be safe to call from several tasks at once
/// and must never log a password.
#[async_trait]
pub trait Directory: Send + Sync {
    /// A short name for logs and `/healthz` (`demo`, `openldap`, `active_directory`).
    fn kind(&self) -> &'static str;

    /// The changes this connector can make; every other one answers
    /// [`DirectoryError::Unsupported`]. Known without a network call.
    fn capabilities(&self) -> Capabilities;

    /// Finds the account by login name or email address. `Ok(None)` when there is none.
    async fn find_user(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError>;

    /// Sets a new password as an administrator would (a reset, not a change: the old one
    /// is not needed). The directory's own policy still applies and its refusal comes back
    /// as [`DirectoryError::PasswordRefused`].
    async fn set_password(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<(), DirectoryError>;

    /// True when `password` is the account's current password (a bind as the user).
    /// Used after a crash to learn whether a pending reset took effect. A connector whose
    /// service cannot check a password answers [`DirectoryError::Unsupported`], and then
    /// its [`Directory::set_password`] must succeed when `password` is already the
    /// current one: the server sets it again.
    async fn password_is(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<bool, DirectoryError>;

    /// Removes the account's second factors so the user can enrol new ones.
    ///
    /// `keep_enrolled_since` is `None` on a first attempt: every factor goes (but those a
    /// connector's configuration keeps). After an attempt whose outcome is unknown (the
    /// answer was lost), the server passes the time the recovery was decided: a factor
    /// enrolled at or after it is the person's new one, enrolled after the lost attempt
    /// took effect, and must survive the repeat. A connector whose service gives no
    /// enrolment time for a factor removes it (and says so in its docs): the repeat is
    /// then as if it were the first.
    async fn reset_mfa(
        &self,
        user: &DirectoryUser,
        keep_enrolled_since: Option<std::time::SystemTime>,
    ) -> Result<MfaReset, DirectoryError>;

    /// Clears a lockout after too many failed sign-ins.
    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError>;

    /// Cheap liveness probe (a bind and a base search for LDAP).
    async fn health(&self) -> Result<(), DirectoryError>;

    /// Every group the account is a member of, nested memberships included (the DNs or
    /// names of [`DirectoryUser::groups`]). An error when the whole list could not be read
    /// (the directory unreachable or slow, the groups not readable by the service account,
    /// more groups than the connector reads): never a shorter list in its place.
    async fn groups(&self, user: &DirectoryUser) -> Result<Vec<String>, DirectoryError>;

    /// `user` with [`DirectoryUser::groups`] filled: `groups_complete` is true when
    /// [`Directory::groups`] succeeded; when it failed, `groups` is empty and
    /// `groups_complete` false (call [`Directory::groups`] for the reason).
    ///
    /// Separate from [`Directory::find_user`] on purpose: the lookup at the start of a
    /// session must take the same time for a known and an unknown login
    /// (docs/server.md, "Known and unknown accounts"), and group searches would run only
    /// for a known one; and a recovery does not fail because groups cannot be read.
    async fn with_groups(&self, mut user: DirectoryUser) -> DirectoryUser {
        match self.groups(&user).await {
            Ok(groups) => {
                user.groups = groups;
                user.groups_complete = true;
            }
            Err(_) => {
                user.groups = Vec::new();
                user.groups_complete = false;
            }
        }
        user
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_that_no_retry_can_cure_are_permanent() {
        let permanent = [
            DirectoryError::Unsupported("reset second factors"),
            DirectoryError::UserNotFound,
            DirectoryError::PermissionDenied("insufficient access".into()),
            DirectoryError::Config("bind refused".into()),
        ];
        let transient = [
            DirectoryError::Unavailable("connection refused".into()),
            DirectoryError::Timeout,
            DirectoryError::Protocol("unexpected answer".into()),
            DirectoryError::PasswordRefused(PasswordRefusal::TooShort),
        ];
        for e in &permanent {
            assert!(e.is_permanent() && !e.outcome_unknown(), "{e:?}");
        }
        for e in &transient {
            assert!(!e.is_permanent(), "{e:?}");
        }
    }

    fn member(groups: &[&str], complete: bool) -> DirectoryUser {
        DirectoryUser {
            groups: groups.iter().map(|g| g.to_string()).collect(),
            groups_complete: complete,
            ..DirectoryUser::new("uid=x,dc=example,dc=test", "x")
        }
    }

    #[test]
    fn a_configured_name_matches_the_cn_and_a_configured_dn_only_that_group() {
        let u = member(
            &[
                "CN=Domain Admins,CN=Users,DC=lab,DC=test",
                r"cn=ops\, tier (0)*,ou=groups,dc=example,dc=test",
                "it-admins",
            ],
            true,
        );
        for yes in [
            "Domain Admins",
            "domain admins",
            " DOMAIN ADMINS ",
            "cn=domain admins, cn=users, dc=lab, dc=test",
            "CN=Domain Admins,CN=Users,DC=lab,DC=test",
            "ops, tier (0)*",
            r"CN=ops\2C tier (0)*,OU=groups,DC=example,DC=test",
            "IT-Admins",
        ] {
            assert_eq!(u.member_of_any(&[yes]), Some(true), "{yes:?}");
        }
        for no in [
            "Domain",
            "Admins",
            "Users",
            "CN=Domain Admins,OU=Elsewhere,DC=lab,DC=test",
            "CN=Domain Admins",
            "ops",
            "",
            "cn=it-admins,dc=example,dc=test",
        ] {
            assert_eq!(u.member_of_any(&[no]), Some(false), "{no:?}");
        }
        assert_eq!(u.member_of_any::<&str>(&[]), Some(false));
    }

    #[test]
    fn an_incomplete_list_is_unknown_unless_it_already_shows_the_group() {
        let u = member(&["cn=staff,ou=groups,dc=example,dc=test"], false);
        assert_eq!(u.member_of_any(&["staff"]), Some(true));
        assert_eq!(u.member_of_any(&["Domain Admins"]), None);
        let fresh = DirectoryUser::new("uid=x,dc=example,dc=test", "x");
        assert!(!fresh.groups_complete);
        assert_eq!(fresh.member_of_any(&["Domain Admins"]), None);
    }
}
