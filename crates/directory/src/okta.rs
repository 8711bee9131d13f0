//! The Okta connector: Okta's Management API (`/api/v1/users`), through the shared HTTP
//! layer ([`crate::rest`]).
//!
//! - Authentication: preferably an OAuth 2.0 service app with a private key
//!   (`private_key_jwt`, [`crate::oauth`]) and the narrowest scopes (`okta.users.read`,
//!   `okta.users.manage`), or an SSWS API token, which carries all the rights of the admin
//!   who made it.
//! - Lookup: one search by login or email, exact; more than one account is an error.
//! - Password: an administrator's set (`POST /api/v1/users/{id}`), by default `strict`
//!   (the org's history and minimum age apply, as to the person's own change).
//! - Second factors: listed, and each one not kept deleted.
//! - Unlock: only a `LOCKED_OUT` account is unlocked; any other status is already so.
//!
//! Exactly once: a change whose answer was lost is repeated by the server. Each repeat
//! here ends in the state asked for and reports success: a deleted factor is gone (a
//! `404` on its delete is success), an unlocked account is not `LOCKED_OUT`, and the same
//! password set again is either accepted (not `strict`) or refused by Okta as the current
//! one, which is what was asked.
//!
//! No token or password ever appears in an error, a log or `Debug`.

use std::collections::BTreeSet;
use std::time::SystemTime;

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::oauth::{ClientAssertion, SigningKey, TokenSource};
use crate::rest::{Reply, Rest};
use crate::{Capabilities, Directory, DirectoryError, DirectoryUser, MfaReset};

mod config;
mod error;
mod wire;

pub use config::{OktaConfig, FACTOR_TYPES};

use error::{okta_refusal, OktaError, Op};
use wire::{is_okta_id, Factor, Group, User};

/// The most groups read for an account; more is an error, never a shorter list.
const MAX_GROUPS: usize = 1000;
/// The most pages of groups read (Okta's pages hold up to 200; 1000 groups fit in 5, and
/// in 50 even at 20 a page).
const MAX_GROUP_PAGES: usize = 50;
/// How many accounts a lookup reads at most: a login and an email are unique among
/// active accounts, but deactivated ones keep theirs.
const LOOKUP_LIMIT: usize = 20;

enum Auth {
    Ssws(Zeroizing<String>),
    OAuth(Box<TokenSource>),
}

/// An Okta org reached over its Management API.
pub struct OktaDirectory {
    config: OktaConfig,
    rest: Rest,
    auth: Auth,
    keep: BTreeSet<String>,
}

impl std::fmt::Debug for OktaDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaDirectory")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OktaDirectory {
    /// Validates the configuration, reads the key file and sets up TLS. Does not connect:
    /// use [`Directory::health`] for that.
    pub fn new(config: OktaConfig) -> Result<OktaDirectory, DirectoryError> {
        config.validate()?;
        let rest = Rest::new(&config.org_url, &config.http())?;
        let auth = match (
            &config.api_token,
            &config.client_id,
            &config.private_key_file,
        ) {
            (Some(token), _, _) => Auth::Ssws(Zeroizing::new(token.trim().to_string())),
            (None, Some(client_id), Some(key)) => {
                let mut header = Map::new();
                if let Some(kid) = &config.key_id {
                    header.insert("kid".into(), json!(kid));
                }
                let assertion = ClientAssertion {
                    client_id: client_id.trim().to_string(),
                    token_url: rest.url("oauth2/v1/token")?,
                    key: SigningKey::from_pem_file(key)?,
                    header,
                };
                // Okta's reference names okta.users.read for the reads and
                // okta.users.manage for the changes; nothing else is asked for.
                Auth::OAuth(Box::new(TokenSource::new(
                    assertion,
                    "okta.users.read okta.users.manage".into(),
                    false,
                )))
            }
            _ => return Err(DirectoryError::Config("no credential".into())),
        };
        let keep = config.keep_factor_types.iter().cloned().collect();
        Ok(OktaDirectory {
            config,
            rest,
            auth,
            keep,
        })
    }

    pub fn config(&self) -> &OktaConfig {
        &self.config
    }

    /// The longest one [`Directory`] call takes, in milliseconds (its token, its
    /// requests, their rate-limit waits): [`Rest::within`] ends it as
    /// [`DirectoryError::Timeout`] there. The server's lease on a pending reset must
    /// outlast four of them.
    pub fn worst_call_ms(&self) -> u64 {
        self.config.http().worst_call_ms()
    }

    async fn within<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        self.rest.within(op).await
    }

    /// Sends one request with the credential, any status back. With a service app, a
    /// `401` (the cached token revoked or expired early) is tried once more with a new
    /// token: Okta did not process the request.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Reply, DirectoryError> {
        for attempt in 0..2 {
            let authorization = match &self.auth {
                Auth::Ssws(t) => Zeroizing::new(format!("SSWS {}", t.as_str())),
                Auth::OAuth(source) => Zeroizing::new(format!(
                    "Bearer {}",
                    source.bearer(&self.rest).await?.as_str()
                )),
            };
            let reply = self
                .rest
                .send(|client| {
                    let mut r = client
                        .request(method.clone(), url.clone())
                        .header(reqwest::header::ACCEPT, "application/json")
                        .header(reqwest::header::AUTHORIZATION, authorization.as_str());
                    if let Some(b) = body {
                        r = r.json(b);
                    }
                    Ok(r)
                })
                .await?;
            if let (401, Auth::OAuth(source), 0) = (reply.status, &self.auth, attempt) {
                source.forget().await;
                continue;
            }
            return Ok(reply);
        }
        Err(DirectoryError::Protocol("unreachable retry".into()))
    }

    fn user_url(&self, id: &str, tail: &[&str]) -> Result<Url, DirectoryError> {
        let mut url = self.rest.url("api/v1/users")?;
        url.path_segments_mut()
            .map_err(|_| DirectoryError::Config("org_url cannot have paths".into()))?
            .push(id)
            .extend(tail);
        Ok(url)
    }

    /// The account's id, checked: an id Okta could not have given is refused before it
    /// goes into a path.
    fn checked_id(user: &DirectoryUser) -> Result<&str, DirectoryError> {
        let id = user.id.trim();
        if is_okta_id(id) {
            Ok(id)
        } else {
            Err(DirectoryError::UserNotFound)
        }
    }

    async fn find(&self, login: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let login = login.trim();
        // No login or email has these; refusing them keeps the search expression's
        // structure out of the user's hands, whatever Okta's escaping rules are.
        if login.is_empty()
            || login.len() > 256
            || login
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return Ok(None);
        }
        let mut url = self.rest.url("api/v1/users")?;
        url.query_pairs_mut()
            .append_pair(
                "search",
                &format!("profile.login eq \"{login}\" or profile.email eq \"{login}\""),
            )
            .append_pair("limit", &LOOKUP_LIMIT.to_string());
        let reply = self.call(Method::GET, url, None).await?;
        if !reply.is_success() {
            return Err(okta_refusal(&reply, Op::Read, None));
        }
        if reply.header("link").and_then(wire::next_link).is_some() {
            return Err(ambiguous());
        }
        let want = login.to_lowercase();
        let same = |v: Option<String>| v.is_some_and(|v| v.to_lowercase() == want);
        let mut found: Vec<User> = reply.json::<Vec<User>>("user search")?;
        // Deactivated accounts keep their login and email but are gone for recovery; and
        // only an exact match counts, whatever the search matched.
        found.retain(|u| {
            u.status != "DEPROVISIONED" && (same(u.text("login")) || same(u.text("email")))
        });
        if found.len() > 1 {
            return Err(ambiguous());
        }
        found.pop().map(|u| self.user_from(u)).transpose()
    }

    fn user_from(&self, u: User) -> Result<DirectoryUser, DirectoryError> {
        if !is_okta_id(&u.id) {
            return Err(DirectoryError::Protocol(
                "Okta answered a user without a usable id".into(),
            ));
        }
        let username = u
            .text("login")
            .ok_or_else(|| DirectoryError::Protocol("the user has no login".into()))?;
        let given_name = u.text("firstName");
        let surname = u.text("lastName");
        let display_name = u
            .text("displayName")
            .or_else(|| match (&given_name, &surname) {
                (Some(g), Some(s)) => Some(format!("{g} {s}")),
                _ => None,
            });
        Ok(DirectoryUser {
            id: u.id.clone(),
            username,
            email: u.text("email"),
            display_name,
            given_name,
            surname,
            birth_date: self
                .config
                .birth_date_attribute
                .as_deref()
                .and_then(|a| u.text(a))
                .and_then(|v| wire::iso_date(&v)),
            groups: Vec::new(),
            groups_complete: false,
        })
    }

    async fn read_user(&self, id: &str) -> Result<User, DirectoryError> {
        let reply = self
            .call(Method::GET, self.user_url(id, &[])?, None)
            .await?;
        if !reply.is_success() {
            return Err(okta_refusal(&reply, Op::Read, None));
        }
        reply.json("user")
    }

    async fn set(&self, id: &str, password: &str) -> Result<(), DirectoryError> {
        let mut url = self.user_url(id, &[])?;
        if self.config.strict_password_policy {
            url.query_pairs_mut().append_pair("strict", "true");
        }
        let body = json!({ "credentials": { "password": { "value": password } } });
        let reply = self.call(Method::POST, url, Some(&body)).await?;
        if !reply.is_success() {
            // The repeat of a set whose answer was lost: the password is already this one.
            if reply.status == 400 && OktaError::of(&reply).is_current_password() {
                tracing::info!("Okta says the password is already the one being set");
            } else {
                return Err(okta_refusal(&reply, Op::SetPassword, Some(password)));
            }
        }
        if self.config.change_password_at_next_sign_in {
            let mut url = self.user_url(id, &["lifecycle", "expire_password"])?;
            url.query_pairs_mut().append_pair("tempPassword", "false");
            let reply = self.call(Method::POST, url, None).await?;
            if !reply.is_success() {
                return Err(okta_refusal(&reply, Op::ExpirePassword, None));
            }
        }
        Ok(())
    }

    async fn reset_factors(
        &self,
        id: &str,
        keep_since: Option<SystemTime>,
    ) -> Result<MfaReset, DirectoryError> {
        let reply = self
            .call(Method::GET, self.user_url(id, &["factors"])?, None)
            .await?;
        if !reply.is_success() {
            return Err(okta_refusal(&reply, Op::Read, None));
        }
        let factors: Vec<Factor> = reply.json("factors")?;
        for f in factors {
            if self.keep.contains(&f.factor_type) {
                continue;
            }
            // Enrolled since the recovery was decided: the person's new factor, after the
            // lost attempt took effect. A factor without a readable time goes.
            let new = keep_since.is_some_and(|since| {
                f.created
                    .as_deref()
                    .and_then(wire::parse_timestamp)
                    .is_some_and(|created| created >= since)
            });
            if new {
                continue;
            }
            if !is_okta_id(&f.id) {
                return Err(DirectoryError::Protocol(
                    "Okta answered a factor without a usable id".into(),
                ));
            }
            let reply = self
                .call(
                    Method::DELETE,
                    self.user_url(id, &["factors", &f.id])?,
                    None,
                )
                .await?;
            // 404: gone already (a repeat, or the person removed it): what was asked.
            if !reply.is_success() && reply.status != 404 {
                return Err(okta_refusal(&reply, Op::DeleteFactor, None));
            }
        }
        Ok(MfaReset::default())
    }

    async fn do_unlock(&self, id: &str) -> Result<(), DirectoryError> {
        let user = self.read_user(id).await?;
        match user.status.as_str() {
            "LOCKED_OUT" => {}
            "SUSPENDED" | "DEPROVISIONED" => {
                return Err(DirectoryError::PermissionDenied(format!(
                    "the account is {} in Okta; an administrator must restore it, unlocking does not",
                    user.status
                )))
            }
            // ACTIVE, PASSWORD_EXPIRED, RECOVERY, STAGED, PROVISIONED: not locked out, so
            // already what an unlock makes it (and the repeat after a lost answer).
            _ => return Ok(()),
        }
        let reply = self
            .call(
                Method::POST,
                self.user_url(id, &["lifecycle", "unlock"])?,
                None,
            )
            .await?;
        if reply.is_success() {
            return Ok(());
        }
        // Refused because it is no longer locked (Okta's own automatic unlock, or another
        // request first): what was asked.
        if OktaError::of(&reply).code == "E0000032"
            && self.read_user(id).await?.status != "LOCKED_OUT"
        {
            return Ok(());
        }
        Err(okta_refusal(&reply, Op::Unlock, None))
    }

    async fn read_groups(&self, id: &str) -> Result<Vec<String>, DirectoryError> {
        let mut url = self.user_url(id, &["groups"])?;
        let mut names = Vec::new();
        // A page may be empty: the count of pages is bounded too, and a link back to the
        // page just read is refused, so a hostile answer cannot loop until the timeout.
        for page in 0.. {
            if page >= MAX_GROUP_PAGES {
                return Err(DirectoryError::Protocol(format!(
                    "more than {MAX_GROUP_PAGES} pages of groups"
                )));
            }
            let reply = self.call(Method::GET, url.clone(), None).await?;
            if !reply.is_success() {
                return Err(okta_refusal(&reply, Op::Read, None));
            }
            for g in reply.json::<Vec<Group>>("groups")? {
                let name = g
                    .profile
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DirectoryError::Protocol("a group without a name".into()))?;
                names.push(name.to_string());
            }
            if names.len() > MAX_GROUPS {
                return Err(DirectoryError::Protocol(format!(
                    "the account is in more than {MAX_GROUPS} groups"
                )));
            }
            let Some(next) = reply.header("link").and_then(wire::next_link) else {
                break;
            };
            let next = Url::parse(next)
                .map_err(|_| DirectoryError::Protocol("an unreadable pagination link".into()))?;
            // The token goes wherever the link points: only to Okta itself.
            if !self.rest.is_ours(&next) {
                return Err(DirectoryError::Protocol(
                    "Okta's pagination link points outside the org URL; not followed".into(),
                ));
            }
            if next == url {
                return Err(DirectoryError::Protocol(
                    "Okta's pagination link points at the page just read".into(),
                ));
            }
            url = next;
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn do_health(&self) -> Result<(), DirectoryError> {
        let mut url = self.rest.url("api/v1/users")?;
        url.query_pairs_mut().append_pair("limit", "1");
        let reply = self.call(Method::GET, url, None).await?;
        if !reply.is_success() {
            return Err(okta_refusal(&reply, Op::Read, None));
        }
        reply.json::<Vec<Value>>("user list").map(|_| ())
    }
}

fn ambiguous() -> DirectoryError {
    DirectoryError::Protocol("the login matches more than one Okta account".into())
}

#[async_trait]
impl Directory for OktaDirectory {
    fn kind(&self) -> &'static str {
        "okta"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reset_password: true,
            reset_mfa: true,
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
        let id = Self::checked_id(user)?;
        self.within(self.set(id, password)).await
    }

    /// Okta's Management API cannot check a password, and the only thing that can, a
    /// sign-in through the Authentication API, counts a wrong password against the
    /// account's lockout. So this answers [`DirectoryError::Unsupported`]; after a lost
    /// answer the server ends the reset as failed, with its outcome unknown, and the
    /// person verifies again. (Setting the same password again would be safe: see the
    /// module's documentation.)
    async fn password_is(
        &self,
        _user: &DirectoryUser,
        _password: &str,
    ) -> Result<bool, DirectoryError> {
        Err(DirectoryError::Unsupported(
            "check a password (Okta's Management API has no such call; a sign-in would count against the lockout)",
        ))
    }

    /// Deletes every factor but the kept types, and with `keep_enrolled_since`, those
    /// whose `created` is at or after it. Okta lets the person enrol anew at their next
    /// sign-in, as the org's enrolment policy asks; no code is issued.
    async fn reset_mfa(
        &self,
        user: &DirectoryUser,
        keep_enrolled_since: Option<SystemTime>,
    ) -> Result<MfaReset, DirectoryError> {
        let id = Self::checked_id(user)?;
        self.within(self.reset_factors(id, keep_enrolled_since))
            .await
    }

    async fn unlock(&self, user: &DirectoryUser) -> Result<(), DirectoryError> {
        let id = Self::checked_id(user)?;
        self.within(self.do_unlock(id)).await
    }

    /// Lists one user (`limit=1`): the credential works and the users can be read.
    async fn health(&self) -> Result<(), DirectoryError> {
        self.within(self.do_health()).await
    }

    /// The names of the account's groups (Okta's groups do not nest), following Okta's
    /// pagination, at most 1000.
    async fn groups(&self, user: &DirectoryUser) -> Result<Vec<String>, DirectoryError> {
        let id = Self::checked_id(user)?;
        self.within(self.read_groups(id)).await
    }
}

#[cfg(test)]
mod tests;
