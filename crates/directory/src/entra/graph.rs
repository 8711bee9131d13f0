//! Microsoft Graph calls: a token per call (cached), one request, Graph's error body read
//! into a [`DirectoryError`] that names the permission the call needs.

use std::time::SystemTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::methods::{self, EntraMethodKind};
use super::EntraConfig;
use crate::oauth::{ClientAssertion, SigningKey, TokenSource};
use crate::rest::{clip, refusal, Reply, Rest};
use crate::{DirectoryError, DirectoryUser, MfaReset, PasswordRefusal, SignInCode};

/// What each call needs, as its `403` says. The Entra roles are in docs/directories/entra.md.
pub(super) const READ_USERS: &str = "the Microsoft Graph application permission User.Read.All";
pub(super) const SET_PASSWORD: &str = "the Microsoft Graph application permission User-PasswordProfile.ReadWrite.All and an Entra role that may reset this user's password (User Administrator; Privileged Authentication Administrator for an administrator)";
pub(super) const METHODS: &str =
    "the Microsoft Graph application permission UserAuthenticationMethod.ReadWrite.All";
pub(super) const GROUPS: &str =
    "the Microsoft Graph application permissions User.Read.All and GroupMember.Read.All";

/// The most pages of one listing read (a page of memberships holds up to 999).
const MAX_PAGES: usize = 50;
/// The longest login looked up; a UPN is at most 113 characters, a mail address 256.
const MAX_LOGIN_CHARS: usize = 256;

pub(super) struct Graph {
    rest: Rest,
    tokens: TokenSource,
    select: String,
    birth_date: Option<Vec<String>>,
    force_change: bool,
    tap: Option<(u32, bool)>,
    remove: Vec<EntraMethodKind>,
    max_groups: usize,
}

/// Where a birth date attribute is in a user object: a top-level property, or one field of
/// `onPremisesExtensionAttributes`. `None` for a name that is neither.
pub(super) fn birth_date_path(attribute: &str) -> Option<Vec<String>> {
    let name = |s: &str| {
        !s.is_empty() && s.len() <= 120 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match attribute.split_once('.') {
        None if name(attribute) => Some(vec![attribute.to_string()]),
        Some(("onPremisesExtensionAttributes", field)) => {
            let n: u8 = field.strip_prefix("extensionAttribute")?.parse().ok()?;
            (1..=15)
                .contains(&n)
                .then(|| vec!["onPremisesExtensionAttributes".into(), field.to_string()])
        }
        _ => None,
    }
}

/// The certificate's SHA-256 thumbprint, base64url: the `x5t#S256` header member.
fn thumbprint(key: &SigningKey, certificate: &std::path::Path) -> Result<String, DirectoryError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let der = CertificateDer::from_pem_file(certificate).map_err(|e| {
        DirectoryError::Config(format!("certificate_file {}: {e}", certificate.display()))
    })?;
    // The certificate's SubjectPublicKeyInfo holds the RSA public key verbatim: a
    // certificate without it is another key's, and Entra would refuse every assertion.
    let public = key
        .rsa_public_key()
        .ok_or_else(|| DirectoryError::Config("the private key must be an RSA key".into()))?;
    if !der.windows(public.len()).any(|w| w == public) {
        return Err(DirectoryError::Config(format!(
            "certificate_file {} is not the certificate of private_key_file",
            certificate.display()
        )));
    }
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(der.as_ref())))
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorMain,
}

#[derive(Deserialize)]
struct ErrorMain {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    target: Option<String>,
}

/// Graph's `error.code` and `error.message` of a refusal (empty when the body has none).
fn graph_error(reply: &Reply) -> (String, String, bool) {
    match reply.json::<ErrorBody>("error") {
        Ok(b) => {
            let about_password = b
                .error
                .details
                .iter()
                .any(|d| d.target.as_deref().is_some_and(|t| t.contains("password")));
            (b.error.code, b.error.message, about_password)
        }
        Err(_) => (String::new(), String::new(), false),
    }
}

/// The error for a refusal of a call needing `permission`.
fn refused(reply: &Reply, permission: &str) -> DirectoryError {
    let (code, message, _) = graph_error(reply);
    let detail = if message.is_empty() {
        clip(&code)
    } else {
        clip(&format!("{code}: {message}"))
    };
    refusal(reply.status, &detail, permission)
}

impl Graph {
    pub(super) fn new(config: &EntraConfig) -> Result<Graph, DirectoryError> {
        let rest = Rest::new(&config.graph_url, &config.http())?;
        let key = SigningKey::from_pem_file(&config.private_key_file)?.with_pss()?;
        let mut header = Map::new();
        header.insert(
            "x5t#S256".into(),
            json!(thumbprint(&key, &config.certificate_file)?),
        );
        let login = crate::rest::check_url(&config.login_url, "login_url")?;
        let token_url = login
            .join(&format!(
                "{}/{}/oauth2/v2.0/token",
                login.path().trim_end_matches('/'),
                config.tenant_id.trim()
            ))
            .map_err(|_| DirectoryError::Config("login_url: cannot make the token URL".into()))?;
        // Graph's own origin with `/.default`: every application permission granted.
        let origin = rest.base().origin().ascii_serialization();
        let tokens = TokenSource::new(
            ClientAssertion {
                client_id: config.client_id.trim().to_string(),
                token_url,
                key,
                header,
            },
            format!("{origin}/.default"),
            true,
        );
        let birth_date = config
            .birth_date_attribute
            .as_deref()
            .map(|a| {
                birth_date_path(a)
                    .ok_or_else(|| DirectoryError::Config("birth_date_attribute".into()))
            })
            .transpose()?;
        let mut select = "id,userPrincipalName,mail,displayName,givenName,surname".to_string();
        if let Some(path) = &birth_date {
            select.push(',');
            select.push_str(&path[0]);
        }
        Ok(Graph {
            rest,
            tokens,
            select,
            birth_date,
            force_change: config.force_change_password_next_sign_in,
            tap: config.issue_temporary_access_pass.then_some((
                config.temporary_access_pass_lifetime_minutes,
                config.temporary_access_pass_one_time,
            )),
            remove: config.remove_method_types.clone(),
            max_groups: config.max_groups,
        })
    }

    /// `segments` under the Graph base URL, each percent-encoded as one path segment. An
    /// empty, `.` or `..` segment (an id from an answer that would move the request to
    /// another path) is refused before anything is sent.
    pub(super) fn url(&self, segments: &[&str]) -> Result<Url, DirectoryError> {
        if !segments.iter().all(|s| usable_segment(s)) {
            return Err(DirectoryError::Protocol(
                "an identifier from Graph is not usable in a path".into(),
            ));
        }
        let mut url = self.rest.base().clone();
        url.path_segments_mut()
            .map_err(|_| DirectoryError::Config("graph_url cannot have a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// One request with a bearer token. A `401` with a cached token is tried once more
    /// with a new one (the token may have been revoked or expired early).
    pub(super) async fn call(
        &self,
        method: Method,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<Reply, DirectoryError> {
        let mut retried = false;
        loop {
            let token = self.tokens.bearer(&self.rest).await?;
            let reply = self
                .rest
                .send(|client| {
                    let mut request = client
                        .request(method.clone(), url.clone())
                        .bearer_auth(token.as_str())
                        .header(reqwest::header::ACCEPT, "application/json");
                    if let Some(b) = body {
                        request = request
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(b.to_vec());
                    }
                    Ok(request)
                })
                .await?;
            if reply.status == 401 && !retried {
                self.tokens.forget().await;
                retried = true;
                continue;
            }
            return Ok(reply);
        }
    }

    /// Every item of a listing, following `@odata.nextLink` (only to Graph itself), at
    /// most `max` items: more is an error, never a shorter list.
    async fn list(
        &self,
        first: Url,
        max: usize,
        permission: &str,
    ) -> Result<Vec<Value>, DirectoryError> {
        let mut items = Vec::new();
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let reply = self.call(Method::GET, &url, None).await?;
            if !reply.is_success() {
                return Err(refused(&reply, permission));
            }
            let page: Page = reply.json("a listing")?;
            items.extend(page.value);
            if items.len() > max {
                return Err(DirectoryError::Protocol(format!(
                    "more than {max} items in a listing"
                )));
            }
            match page.next_link {
                None => return Ok(items),
                Some(next) => {
                    let next = Url::parse(&next).map_err(|_| {
                        DirectoryError::Protocol("a next-page link that is not a URL".into())
                    })?;
                    // The link gets the bearer token: only to Graph's own base URL.
                    if !self.rest.is_ours(&next) {
                        return Err(DirectoryError::Protocol(
                            "a next-page link outside Microsoft Graph's base URL".into(),
                        ));
                    }
                    url = next;
                }
            }
        }
        Err(DirectoryError::Protocol(format!(
            "more than {MAX_PAGES} pages in a listing"
        )))
    }

    pub(super) async fn find_user(
        &self,
        login: &str,
    ) -> Result<Option<DirectoryUser>, DirectoryError> {
        let login = login.trim();
        if login.is_empty()
            || login.chars().count() > MAX_LOGIN_CHARS
            || login.chars().any(char::is_control)
        {
            return Ok(None);
        }
        // OData string literal: a quote is doubled; the URL encoding does the rest.
        let q = login.replace('\'', "''");
        let filter = format!("userPrincipalName eq '{q}' or mail eq '{q}'");
        let mut url = self.url(&["users"])?;
        url.query_pairs_mut()
            .append_pair("$filter", &filter)
            .append_pair("$select", &self.select)
            .append_pair("$top", "2");
        let reply = self.call(Method::GET, &url, None).await?;
        if !reply.is_success() {
            return Err(refused(&reply, READ_USERS));
        }
        let page: Page = reply.json("users")?;
        match page.value.as_slice() {
            [] => Ok(None),
            [one] => self.user_from(one).map(Some),
            _ => Err(DirectoryError::Protocol(
                "more than one account has this login as its userPrincipalName or mail".into(),
            )),
        }
    }

    fn user_from(&self, v: &Value) -> Result<DirectoryUser, DirectoryError> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let id = text("id")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| DirectoryError::Protocol("a user without an id".into()))?;
        let upn = text("userPrincipalName")
            .ok_or_else(|| DirectoryError::Protocol("a user without a userPrincipalName".into()))?;
        let birth_date = self.birth_date.as_ref().and_then(|path| {
            let mut node = v;
            for p in path {
                node = node.get(p)?;
            }
            iso_date(node.as_str()?)
        });
        Ok(DirectoryUser {
            email: text("mail"),
            display_name: text("displayName"),
            given_name: text("givenName"),
            surname: text("surname"),
            birth_date,
            ..DirectoryUser::new(id, upn)
        })
    }

    pub(super) async fn set_password(
        &self,
        id: &str,
        password: &str,
    ) -> Result<(), DirectoryError> {
        let url = self.url(&["users", id])?;
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Profile<'a> {
            password: &'a str,
            force_change_password_next_sign_in: bool,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Patch<'a> {
            password_profile: Profile<'a>,
        }
        // Serialized straight from the borrowed password, and wiped after.
        let body = Zeroizing::new(
            serde_json::to_vec(&Patch {
                password_profile: Profile {
                    password,
                    force_change_password_next_sign_in: self.force_change,
                },
            })
            .map_err(|_| DirectoryError::Protocol("cannot encode the password".into()))?,
        );
        let reply = self.call(Method::PATCH, &url, Some(&body)).await?;
        if reply.is_success() {
            return Ok(());
        }
        if reply.status == 400 {
            let (code, message, about_password) = graph_error(&reply);
            // Graph answers a password its policy refuses (length, complexity, a banned
            // or recently used password) with one 400 that does not say which rule.
            if about_password || message.to_ascii_lowercase().contains("password") {
                tracing::info!(code = %clip(&code), "Entra refused the new password");
                return Err(DirectoryError::PasswordRefused(
                    PasswordRefusal::PolicyViolation,
                ));
            }
        }
        Err(refused(&reply, SET_PASSWORD))
    }

    pub(super) async fn health(&self) -> Result<(), DirectoryError> {
        let mut url = self.url(&["users"])?;
        url.query_pairs_mut()
            .append_pair("$select", "id")
            .append_pair("$top", "1");
        let reply = self.call(Method::GET, &url, None).await?;
        if reply.is_success() {
            reply.json::<Page>("users").map(|_| ())
        } else {
            Err(refused(&reply, READ_USERS))
        }
    }

    pub(super) async fn groups(&self, id: &str) -> Result<Vec<String>, DirectoryError> {
        let mut url = self.url(&["users", id, "transitiveMemberOf"])?;
        url.query_pairs_mut().append_pair("$top", "999");
        let items = self.list(url, self.max_groups, GROUPS).await?;
        let mut out = Vec::with_capacity(items.len() * 2);
        for item in items {
            if let Some(id) = item.get("id").and_then(Value::as_str) {
                out.push(id.to_string());
            }
            // Without a permission to read that kind of object, Graph gives its id only.
            if let Some(name) = item.get("displayName").and_then(Value::as_str) {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    pub(super) async fn reset_mfa(
        &self,
        id: &str,
        keep_enrolled_since: Option<SystemTime>,
    ) -> Result<MfaReset, DirectoryError> {
        let url = self.url(&["users", id, "authentication", "methods"])?;
        let listed = self.list(url, methods::MAX_METHODS, METHODS).await?;
        let plan = methods::plan(&listed, &self.remove, keep_enrolled_since);
        // Graph refuses to delete a user's default method while others remain; it can be
        // deleted once they are gone, so what failed that way is tried once more.
        let mut failed = Vec::new();
        for m in &plan {
            if let Err(e) = self.delete_method(id, m).await {
                match e {
                    DirectoryError::Protocol(_) => failed.push((m, e)),
                    e => return Err(e),
                }
            }
        }
        for (m, _) in failed {
            self.delete_method(id, m).await?;
        }
        let sign_in_code = match self.tap {
            Some((lifetime, one_time)) => Some(self.issue_pass(id, lifetime, one_time).await?),
            None => None,
        };
        tracing::info!(
            removed = plan.len(),
            pass_issued = sign_in_code.is_some(),
            "Entra authentication methods reset"
        );
        Ok(MfaReset { sign_in_code })
    }

    async fn delete_method(&self, user: &str, m: &methods::Removal) -> Result<(), DirectoryError> {
        let url = self.url(&["users", user, "authentication", m.collection, &m.id])?;
        let reply = self.call(Method::DELETE, &url, None).await?;
        // Gone already: a repeat after a lost answer.
        if reply.is_success() || reply.status == 404 {
            return Ok(());
        }
        Err(refused(&reply, METHODS))
    }

    async fn issue_pass(
        &self,
        user: &str,
        lifetime: u32,
        one_time: bool,
    ) -> Result<SignInCode, DirectoryError> {
        let url = self.url(&[
            "users",
            user,
            "authentication",
            "temporaryAccessPassMethods",
        ])?;
        let body = json!({ "lifetimeInMinutes": lifetime, "isUsableOnce": one_time }).to_string();
        let reply = self.call(Method::POST, &url, Some(body.as_bytes())).await?;
        if reply.status == 400 {
            // The tenant's Temporary Access Pass policy: off, not for this user, or the
            // lifetime or one-time choice outside what it allows. No retry cures it.
            let (code, _, _) = graph_error(&reply);
            return Err(DirectoryError::Config(format!(
                "Entra refused to issue a Temporary Access Pass ({}): check that the Temporary Access Pass policy is on for this user and allows temporary_access_pass_lifetime_minutes and temporary_access_pass_one_time",
                clip(&code)
            )));
        }
        if !reply.is_success() {
            return Err(refused(&reply, METHODS));
        }
        methods::pass_from(
            &reply.json::<Value>("a Temporary Access Pass")?,
            lifetime,
            one_time,
        )
    }
}

/// `YYYY-MM-DD` from a date or a date-time; `None` for anything else.
fn iso_date(s: &str) -> Option<String> {
    let d = s.get(..10)?;
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
        .then(|| d.to_string())
}

/// Whether `s` can be one path segment as it is: not empty, not a dot segment (which a
/// URL would resolve to another path), no control character.
fn usable_segment(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identifier_that_would_move_the_path_is_refused() {
        for ok in [
            "5e0c2a4b-0000-4000-8000-00000000e2e1",
            "users",
            "a.b",
            "x%2Fy",
            "a/b",
        ] {
            assert!(usable_segment(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a\nb"] {
            assert!(!usable_segment(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_birth_date_attribute_is_a_property_or_an_extension_attribute() {
        assert_eq!(
            birth_date_path("employeeId"),
            Some(vec!["employeeId".into()])
        );
        assert_eq!(
            birth_date_path("extension_0a1b_birthDate"),
            Some(vec!["extension_0a1b_birthDate".into()])
        );
        assert_eq!(
            birth_date_path("onPremisesExtensionAttributes.extensionAttribute15"),
            Some(vec![
                "onPremisesExtensionAttributes".into(),
                "extensionAttribute15".into()
            ])
        );
        for bad in [
            "",
            "a.b",
            "onPremisesExtensionAttributes.extensionAttribute0",
            "x,y",
            "a'b",
        ] {
            assert_eq!(birth_date_path(bad), None, "{bad}");
        }
        assert_eq!(iso_date("1990-02-03"), Some("1990-02-03".into()));
        assert_eq!(iso_date("1990-02-03T00:00:00Z"), Some("1990-02-03".into()));
        assert_eq!(iso_date("03/02/1990"), None);
        assert_eq!(iso_date("1990"), None);
    }
}
