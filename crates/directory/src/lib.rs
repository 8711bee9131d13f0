//! Directory connectors: the one place Reclaim touches the company directory.
//!
//! The server looks the account up (to compare the ID's name with the record), applies the
//! reset, and, after a crash, asks whether a reset it recorded as pending already took
//! effect. Every connector speaks through [`Directory`], and every failure is a
//! [`DirectoryError`] with a stable code, so the server's exactly-once logic and the user's
//! message do not depend on which directory is behind it.

use async_trait::async_trait;
use reclaim_protocol::Code;
use serde::Serialize;

pub mod demo;
pub mod ldap;

pub use demo::{DemoDirectory, DemoUser};
pub use ldap::{LdapConfig, LdapDirectory, LdapFlavour};

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
    /// Used after a crash to learn whether a pending reset took effect.
    async fn password_is(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<bool, DirectoryError>;

    /// Removes the account's second factors so the user can enrol new ones.
    async fn reset_mfa(&self, user: &DirectoryUser) -> Result<(), DirectoryError>;

    /// Clears a lockout after too many failed sign-ins.
    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError>;

    /// Cheap liveness probe (a bind and a base search for LDAP).
    async fn health(&self) -> Result<(), DirectoryError>;
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
}
