//! The Duo connector: second factors and lockouts in Duo, through Duo's Admin API.
//!
//! Duo keeps no passwords, so this connector resets second factors and clears Duo's own
//! lockout, nothing else. Every request is signed with the Admin API application's secret
//! key ([`sign`]); the shared HTTP layer ([`crate::rest`]) sends it (TLS, limits, rate
//! limits waited out), each attempt signed anew with a fresh `Date`.
//!
//! - Lookup: `GET /admin/v1/users?username=` (Duo matches the username and its aliases)
//!   and `?email=`, then only an exact match (case-insensitive) on the configured fields
//!   counts; two accounts matching is an error, never a guess.
//! - MFA reset: the person's phones and hardware tokens are *disassociated* from the
//!   account (`DELETE /admin/v1/users/{id}/phones/{phone}`, `.../tokens/{token}`), not
//!   deleted: a phone or token object may serve several Duo users (a shared desk phone, a
//!   token from the organisation's stock), and the reset is about this person only; once
//!   detached it no longer answers for them. WebAuthn credentials belong to one user and
//!   can only be deleted (`DELETE /admin/v1/webauthncredentials/{key}`). Bypass codes the
//!   person holds are deleted too. With no device left, Duo asks the person to enrol anew
//!   at their next sign-in (where the policy allows enrolment), or they sign in once with
//!   the bypass code Reclaim issues ([`DuoConfig::issue_bypass_code`]).
//! - After a lost answer (`keep_enrolled_since`): WebAuthn credentials (`date_added`) and
//!   bypass codes (`created`) made at or after that time are kept; phones and tokens carry
//!   no enrolment time in the Admin API, so they are removed whenever they are there.
//! - Unlock: the account's `status` is read first; `locked out` becomes `active`,
//!   `active` (or `bypass`) is already done (a repeat after a lost answer succeeds), and a
//!   `disabled` account stays disabled: an administrator disabled it, not a lockout.
//!
//! The secret key never appears in an error, a log or `Debug`; bypass codes only in the
//! [`MfaReset`] returned.

use std::path::PathBuf;
use std::time::SystemTime;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, DATE};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::rest::{HttpSettings, Rest, DEFAULT_MAX_RATE_LIMIT_WAIT_MS, DEFAULT_TIMEOUT_MS};
use crate::{Capabilities, Directory, DirectoryError, DirectoryUser, MfaReset, SignInCode};

mod sign;
mod wire;

use wire::{BypassCode, Envelope, Group, Phone, Token, User, WebauthnCredential};

/// What a login is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuoLoginField {
    /// The Duo username.
    Username,
    /// One of the username's aliases (`alias1`..`alias8`).
    Alias,
    /// The email address Duo holds for the user.
    Email,
}

/// A kind of second factor an MFA reset removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuoFactor {
    /// Phones and tablets (Duo Mobile, SMS, calls): disassociated from the user.
    Phones,
    /// Hardware tokens (HOTP, YubiKey OTP): disassociated from the user.
    HardwareTokens,
    /// WebAuthn credentials (security keys, platform authenticators): deleted.
    Webauthn,
    /// The user's bypass codes: deleted.
    BypassCodes,
}

/// Reclaim's Admin API paths, each with the permission it needs.
const READ: &str = "Grant read resource";
const WRITE: &str = "Grant write resource";

/// Items read per page, and the most pages read for one list (Duo's limit is 500 for
/// users and 100 elsewhere; a person with more devices than this is not a person).
const PAGE: u64 = 100;
const MAX_PAGES: u64 = 10;

fn default_login_fields() -> Vec<DuoLoginField> {
    vec![DuoLoginField::Username]
}

fn default_remove() -> Vec<DuoFactor> {
    vec![
        DuoFactor::Phones,
        DuoFactor::HardwareTokens,
        DuoFactor::Webauthn,
        DuoFactor::BypassCodes,
    ]
}

fn default_bypass_valid_secs() -> u64 {
    3600
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn default_max_rate_limit_wait_ms() -> u64 {
    DEFAULT_MAX_RATE_LIMIT_WAIT_MS
}

/// The longest validity accepted for an issued bypass code: a week.
const MAX_BYPASS_VALID_SECS: u64 = 7 * 86_400;

/// How to reach Duo's Admin API and what a reset does there.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DuoConfig {
    /// The Admin API application's API hostname (`api-xxxxxxxx.duosecurity.com`).
    pub api_hostname: String,
    /// The Admin API application's integration key.
    pub integration_key: String,
    /// The Admin API application's secret key.
    pub secret_key: String,
    /// What a login is compared with, exactly and case-insensitively: any of `username`,
    /// `alias`, `email`. Default: `username`.
    #[serde(default = "default_login_fields")]
    pub login_fields: Vec<DuoLoginField>,
    /// Whether an MFA reset issues the person one bypass code, valid for one sign-in and
    /// `bypass_code_valid_secs`, shown to them once ([`MfaReset::sign_in_code`]). It
    /// replaces any other bypass codes the person has. Default: false.
    #[serde(default)]
    pub issue_bypass_code: bool,
    /// How long an issued bypass code works, seconds (60 to 604800). Default: 3600.
    #[serde(default = "default_bypass_valid_secs")]
    pub bypass_code_valid_secs: u64,
    /// What an MFA reset removes: any of `phones`, `hardware_tokens`, `webauthn`,
    /// `bypass_codes`. Default: all four.
    #[serde(default = "default_remove")]
    pub remove: Vec<DuoFactor>,
    /// Limit on each whole request, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The longest one call waits in all for Duo's rate limit, milliseconds.
    #[serde(default = "default_max_rate_limit_wait_ms")]
    pub max_rate_limit_wait_ms: u64,
    /// PEM file with the CA certificate(s) to trust; without it, the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Where requests go instead of `https://{api_hostname}`: an HTTPS proxy in front of
    /// Duo, or an `http://` loopback address (a test double; `http://` anywhere else is
    /// refused, since the signature would cross the network in clear). Requests are still
    /// signed for `api_hostname`.
    #[serde(default)]
    pub api_url: Option<String>,
}

impl std::fmt::Debug for DuoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuoConfig")
            .field("api_hostname", &self.api_hostname)
            .field("integration_key", &self.integration_key)
            .field("secret_key", &"<redacted>")
            .field("login_fields", &self.login_fields)
            .field("issue_bypass_code", &self.issue_bypass_code)
            .field("bypass_code_valid_secs", &self.bypass_code_valid_secs)
            .field("remove", &self.remove)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_rate_limit_wait_ms", &self.max_rate_limit_wait_ms)
            .field("ca_file", &self.ca_file)
            .field("api_url", &self.api_url)
            .finish()
    }
}

impl DuoConfig {
    /// The three settings every deployment needs, the others at their defaults.
    pub fn new(
        api_hostname: impl Into<String>,
        integration_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> DuoConfig {
        DuoConfig {
            api_hostname: api_hostname.into(),
            integration_key: integration_key.into(),
            secret_key: secret_key.into(),
            login_fields: default_login_fields(),
            issue_bypass_code: false,
            bypass_code_valid_secs: default_bypass_valid_secs(),
            remove: default_remove(),
            timeout_ms: default_timeout_ms(),
            max_rate_limit_wait_ms: default_max_rate_limit_wait_ms(),
            ca_file: None,
            api_url: None,
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

    /// Checks the configuration without touching the network.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let bad = |m: &str| Err(DirectoryError::Config(m.into()));
        if !is_hostname(&self.api_hostname) {
            return bad("api_hostname must be a host name such as api-xxxxxxxx.duosecurity.com (no scheme, port or path)");
        }
        let ikey = self.integration_key.as_str();
        if ikey.is_empty() || ikey.len() > 64 || !ikey.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return bad("integration_key must be the Admin API application's integration key (letters and digits)");
        }
        let skey = self.secret_key.as_str();
        if skey.len() < 20 || !skey.bytes().all(|b| b.is_ascii_graphic()) {
            return bad(
                "secret_key must be the Admin API application's secret key (40 characters)",
            );
        }
        if self.login_fields.is_empty() {
            return bad("login_fields must name at least one of username, alias, email");
        }
        if self.remove.is_empty() {
            return bad("remove must name at least one of phones, hardware_tokens, webauthn, bypass_codes: a reset that removes nothing leaves the lost factors working");
        }
        if !(60..=MAX_BYPASS_VALID_SECS).contains(&self.bypass_code_valid_secs) {
            return bad("bypass_code_valid_secs must be between 60 and 604800");
        }
        self.http().validate()?;
        if let Some(url) = &self.api_url {
            crate::rest::check_url(url, "api_url")?;
        }
        Ok(())
    }

    fn base_url(&self) -> String {
        match &self.api_url {
            Some(u) => u.clone(),
            None => format!("https://{}", self.api_hostname),
        }
    }
}

/// Letters, digits and hyphens in dot-separated labels.
fn is_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// An identifier Duo gave that goes into a path: letters, digits, `-` and `_` only, so
/// an odd answer cannot point a DELETE elsewhere.
fn path_id(id: &str) -> Result<&str, DirectoryError> {
    if !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id)
    } else {
        Err(DirectoryError::Protocol(
            "Duo gave an identifier that is not one".into(),
        ))
    }
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Duo's Admin API.
pub struct DuoDirectory {
    config: DuoConfig,
    rest: Rest,
    http: HttpSettings,
}

impl std::fmt::Debug for DuoDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuoDirectory")
            .field("config", &self.config)
            .finish()
    }
}

impl DuoDirectory {
    /// Validates the configuration and loads the CA file. Does not connect: use
    /// [`Directory::health`] for that.
    pub fn new(config: DuoConfig) -> Result<DuoDirectory, DirectoryError> {
        config.validate()?;
        let http = config.http();
        let rest = Rest::new(&config.base_url(), &http)?;
        Ok(DuoDirectory { config, rest, http })
    }

    pub fn config(&self) -> &DuoConfig {
        &self.config
    }

    /// The longest one [`Directory`] call takes (it may make several requests: a reset
    /// lists and removes each kind of device): [`Rest::within`] cuts it off there. The
    /// server's lease on a pending reset must outlast four of them.
    pub fn worst_call_ms(&self) -> u64 {
        self.http.worst_call_ms()
    }

    async fn within<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        self.rest.within(op).await
    }

    /// One signed request. `params` go in the query (GET, DELETE) or a JSON body (POST).
    async fn call(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        permission: &str,
    ) -> Result<Envelope, DirectoryError> {
        let url = self.rest.url(path)?;
        let signed_path = url.path().to_string();
        let post = method == Method::POST;
        let (canon, body) = if post {
            (String::new(), sign::json_body(params))
        } else {
            (sign::canon_params(params), String::new())
        };
        let mut target = url.clone();
        // The query is the canonical parameters themselves (already percent-encoded), so
        // what is signed is what is sent.
        target.set_query((!post && !canon.is_empty()).then_some(canon.as_str()));
        let keys = (
            self.config.integration_key.as_str(),
            self.config.secret_key.as_str(),
        );
        let reply = self
            .rest
            .send(|client| {
                let date = sign::date_now();
                let auth = sign::authorization(
                    keys,
                    &self.config.api_hostname,
                    &date,
                    method.as_str(),
                    &signed_path,
                    &canon,
                    &body,
                );
                let mut request = client
                    .request(method.clone(), target.clone())
                    .header(DATE, date)
                    .header(AUTHORIZATION, auth);
                if post {
                    request = request
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone());
                }
                Ok(request)
            })
            .await?;
        if reply.status != 200 {
            return Err(wire::refused(reply.status, &reply.body, permission));
        }
        let envelope: Envelope = reply.json("Duo's answer")?;
        if envelope.stat != "OK" {
            return Err(DirectoryError::Protocol(format!(
                "Duo answered stat {:?}",
                crate::rest::clip(&envelope.stat)
            )));
        }
        Ok(envelope)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, DirectoryError> {
        let envelope = self.call(Method::GET, path, params, READ).await?;
        serde_json::from_value(envelope.response)
            .map_err(|e| DirectoryError::Protocol(format!("Duo's answer to {path}: {e}")))
    }

    /// Every item of a paged list.
    async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, DirectoryError> {
        let mut out = Vec::new();
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let envelope = self
                .call(
                    Method::GET,
                    path,
                    &[("limit", PAGE.to_string()), ("offset", offset.to_string())],
                    READ,
                )
                .await?;
            let page: Vec<T> = serde_json::from_value(envelope.response)
                .map_err(|e| DirectoryError::Protocol(format!("Duo's list {path}: {e}")))?;
            out.extend(page);
            match envelope.metadata.unwrap_or_default().next()? {
                None => return Ok(out),
                Some(next) if next > offset => offset = next,
                Some(_) => {
                    return Err(DirectoryError::Protocol(format!(
                        "Duo's list {path} does not advance"
                    )))
                }
            }
        }
        Err(DirectoryError::Protocol(format!(
            "Duo's list {path} has more than {} items",
            PAGE * MAX_PAGES
        )))
    }

    /// A removal. Already gone (`404`) is done: a repeat after a lost answer, or someone
    /// else was quicker.
    async fn remove(&self, path: &str) -> Result<(), DirectoryError> {
        match self.call(Method::DELETE, path, &[], WRITE).await {
            Ok(_) | Err(DirectoryError::UserNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn matches(&self, user: &User, login: &str, fields: &[DuoLoginField]) -> bool {
        let want = login.to_lowercase();
        let eq = |v: &str| v.trim().to_lowercase() == want;
        fields.iter().any(|f| match f {
            DuoLoginField::Username => eq(&user.username),
            DuoLoginField::Alias => user.alias_values().any(eq),
            DuoLoginField::Email => user.email.as_deref().is_some_and(eq),
        })
    }

    async fn find(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let login = login.trim();
        // Duo's usernames and addresses are short; a longer login cannot be one.
        if login.is_empty() || login.len() > 256 || login.chars().any(char::is_control) {
            return Ok(None);
        }
        let fields = &self.config.login_fields;
        let mut found: Vec<User> = Vec::new();
        let mut add = |users: Vec<User>, only: &[DuoLoginField]| {
            for u in users {
                if self.matches(&u, login, only) && !found.iter().any(|f| f.user_id == u.user_id) {
                    found.push(u);
                }
            }
        };
        let by_name: Vec<DuoLoginField> = fields
            .iter()
            .copied()
            .filter(|f| *f != DuoLoginField::Email)
            .collect();
        if !by_name.is_empty() {
            // Duo's username lookup also finds aliases; only the configured fields count.
            let users: Vec<User> = self
                .get("admin/v1/users", &[("username", login.to_string())])
                .await?;
            add(users, &by_name);
        }
        if fields.contains(&DuoLoginField::Email) {
            let users: Vec<User> = self
                .get("admin/v1/users", &[("email", login.to_string())])
                .await?;
            add(users, &[DuoLoginField::Email]);
        }
        if found.len() > 1 {
            return Err(DirectoryError::Protocol(
                "the login matches more than one Duo account".into(),
            ));
        }
        let Some(u) = found.pop() else {
            return Ok(None);
        };
        path_id(&u.user_id)?;
        let nonempty =
            |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(Some(DirectoryUser {
            id: u.user_id,
            username: u.username,
            email: nonempty(u.email),
            display_name: nonempty(u.realname),
            given_name: nonempty(u.firstname),
            surname: nonempty(u.lastname),
            birth_date: None,
            groups: Vec::new(),
            groups_complete: false,
        }))
    }

    async fn reset(&self, uid: &str, keep_since: Option<i64>) -> Result<MfaReset, DirectoryError> {
        // A factor made at or after `keep_since` is the person's new one.
        let old = |t: Option<i64>| match (keep_since, t) {
            (None, _) => true,
            (Some(k), Some(t)) => t < k,
            // Without a time it cannot be told new: removed, as the docs say.
            (Some(_), None) => true,
        };
        let remove = &self.config.remove;
        if remove.contains(&DuoFactor::Phones) {
            let phones: Vec<Phone> = self.list(&format!("admin/v1/users/{uid}/phones")).await?;
            for p in phones {
                let pid = path_id(&p.phone_id)?;
                self.remove(&format!("admin/v1/users/{uid}/phones/{pid}"))
                    .await?;
            }
        }
        if remove.contains(&DuoFactor::HardwareTokens) {
            let tokens: Vec<Token> = self.list(&format!("admin/v1/users/{uid}/tokens")).await?;
            for t in tokens {
                let tid = path_id(&t.token_id)?;
                self.remove(&format!("admin/v1/users/{uid}/tokens/{tid}"))
                    .await?;
            }
        }
        if remove.contains(&DuoFactor::Webauthn) {
            let creds: Vec<WebauthnCredential> = self
                .list(&format!("admin/v1/users/{uid}/webauthncredentials"))
                .await?;
            for c in creds.into_iter().filter(|c| old(c.date_added)) {
                let key = path_id(&c.webauthnkey)?;
                self.remove(&format!("admin/v1/webauthncredentials/{key}"))
                    .await?;
            }
        }
        // Issuing a code replaces every other one, so only without it are they deleted
        // one by one.
        if remove.contains(&DuoFactor::BypassCodes) && !self.config.issue_bypass_code {
            let codes: Vec<BypassCode> = self
                .list(&format!("admin/v1/users/{uid}/bypass_codes"))
                .await?;
            for c in codes.into_iter().filter(|c| old(c.created)) {
                let id = path_id(&c.bypass_code_id)?;
                self.remove(&format!("admin/v1/bypass_codes/{id}")).await?;
            }
        }
        if !self.config.issue_bypass_code {
            return Ok(MfaReset::default());
        }
        // Counted from before the request: Duo's own clock starts later, so the code
        // works at least until then.
        let valid_until = unix(SystemTime::now())
            .saturating_add(i64::try_from(self.config.bypass_code_valid_secs).unwrap_or(0));
        let envelope = self
            .call(
                Method::POST,
                &format!("admin/v1/users/{uid}/bypass_codes"),
                &[
                    ("count", "1".into()),
                    ("reuse_count", "1".into()),
                    ("valid_secs", self.config.bypass_code_valid_secs.to_string()),
                ],
                WRITE,
            )
            .await?;
        let code = match envelope.response {
            Value::Array(codes) if codes.len() == 1 => match codes.into_iter().next() {
                Some(Value::String(c)) if !c.is_empty() && c.len() <= 64 => Zeroizing::new(c),
                _ => return Err(bad_bypass_answer()),
            },
            _ => return Err(bad_bypass_answer()),
        };
        Ok(MfaReset {
            sign_in_code: Some(SignInCode {
                code,
                valid_until,
                one_time: true,
            }),
        })
    }

    async fn do_unlock(&self, uid: &str) -> Result<(), DirectoryError> {
        let path = format!("admin/v1/users/{uid}");
        let user: User = self.get(&path, &[]).await?;
        match user.status.as_deref().unwrap_or("") {
            // Duo's documented value is "locked out"; the underscore spelling is accepted
            // in case an answer spells it so.
            "locked out" | "locked_out" => {
                let envelope = self
                    .call(Method::POST, &path, &[("status", "active".into())], WRITE)
                    .await?;
                let after: User = serde_json::from_value(envelope.response).map_err(|e| {
                    DirectoryError::Protocol(format!("Duo's answer to the unlock: {e}"))
                })?;
                match after.status.as_deref() {
                    Some("active") => Ok(()),
                    other => Err(DirectoryError::Protocol(format!(
                        "the Duo account is {:?} after the unlock",
                        other.map(crate::rest::clip)
                    ))),
                }
            }
            "active" | "bypass" => Ok(()),
            "disabled" => Err(DirectoryError::PermissionDenied(
                "the Duo account is disabled by an administrator, not locked out; Reclaim does not enable it".into(),
            )),
            "pending deletion" => Err(DirectoryError::UserNotFound),
            other => Err(DirectoryError::Protocol(format!(
                "the Duo account has an unknown status {:?}",
                crate::rest::clip(other)
            ))),
        }
    }

    async fn read_groups(&self, uid: &str) -> Result<Vec<String>, DirectoryError> {
        let groups: Vec<Group> = self.list(&format!("admin/v1/users/{uid}/groups")).await?;
        let mut names: Vec<String> = groups.into_iter().map(|g| g.name).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn do_health(&self) -> Result<(), DirectoryError> {
        let _: Value = self
            .get(
                "admin/v1/users",
                &[("limit", "1".into()), ("offset", "0".into())],
            )
            .await?;
        Ok(())
    }
}

fn bad_bypass_answer() -> DirectoryError {
    DirectoryError::Protocol("Duo's answer to the bypass code request is not one code".into())
}

/// The account's Duo user id, checked before it goes into a path.
fn user_id(user: &DirectoryUser) -> Result<&str, DirectoryError> {
    path_id(&user.id).map_err(|_| DirectoryError::UserNotFound)
}

#[async_trait]
impl Directory for DuoDirectory {
    fn kind(&self) -> &'static str {
        "duo"
    }

    /// Second factors and lockouts; Duo keeps no passwords.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reset_password: false,
            reset_mfa: true,
            unlock: true,
        }
    }

    async fn find_user(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        self.within(self.find(login)).await
    }

    async fn set_password(
        &self,
        _user: &DirectoryUser,
        _password: &str,
    ) -> Result<(), DirectoryError> {
        Err(DirectoryError::Unsupported(
            "set a password in Duo (Duo keeps no passwords)",
        ))
    }

    async fn password_is(
        &self,
        _user: &DirectoryUser,
        _password: &str,
    ) -> Result<bool, DirectoryError> {
        Err(DirectoryError::Unsupported(
            "check a password in Duo (Duo keeps no passwords)",
        ))
    }

    async fn reset_mfa(
        &self,
        user: &DirectoryUser,
        keep_enrolled_since: Option<SystemTime>,
    ) -> Result<MfaReset, DirectoryError> {
        let uid = user_id(user)?;
        self.within(self.reset(uid, keep_enrolled_since.map(unix)))
            .await
    }

    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError> {
        let uid = user_id(user)?;
        self.within(self.do_unlock(uid)).await
    }

    /// A signed `GET /admin/v1/users?limit=1`: Duo is up, the keys are right and the
    /// application may read users. Not `/admin/v1/info/summary`, which needs a permission
    /// ("Grant read information") that nothing else here does.
    async fn health(&self) -> Result<(), DirectoryError> {
        self.within(self.do_health()).await
    }

    /// The names of the Duo groups the user is in (Duo's groups do not nest).
    async fn groups(&self, user: &DirectoryUser) -> Result<Vec<String>, DirectoryError> {
        let uid = user_id(user)?;
        self.within(self.read_groups(uid)).await
    }
}

#[cfg(test)]
mod tests;
