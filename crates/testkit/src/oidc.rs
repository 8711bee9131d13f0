//! A real OpenID provider for the admin console's sign-in tests: the npm package
//! `oidc-provider` (MIT, pinned in `crates/testkit/oidc/package.json`; see the README there)
//! run by Node from `crates/testkit/oidc/provider.mjs`, over plain http on 127.0.0.1.
//!
//! It has one confidential client (`client_secret_basic`, PKCE required) whose ID tokens
//! are signed with RS256, the same client under `{id}-es256` signed with ES256, and the
//! static accounts of [`OIDC_ACCOUNTS`], each with the password [`OidcProvider::password`].
//! Its login form is a real page (`input[name=login]`, `input[name=password]`,
//! `button[type=submit]`) and consent is granted without one, so a browser test fills in
//! one form; [`OidcProvider::sign_in`] does the same over HTTP, without a browser.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use crate::{await_server, free_port, secret, spawn_server, stop_server, TempDir};

/// The provider's accounts and their groups (`provider.mjs` has the same list). Each has
/// the verified mail `LOGIN@example.test`, except `frank`, who has no mail claim at all
/// (and, as everyone, no `preferred_username`).
pub const OIDC_ACCOUNTS: &[(&str, &[&str])] = &[
    ("alice", &["reclaim-reviewers"]),
    ("bob", &["reclaim-reviewers"]),
    ("carol", &["reclaim-auditors"]),
    ("dave", &["reclaim-admins"]),
    ("erin", &[]),
    ("frank", &["reclaim-reviewers"]),
];

/// A reviewer of the provider's who signs in with a password alone (the ID token's `amr`
/// is `["pwd"]`; every account of [`OIDC_ACCOUNTS`] shows `["pwd", "mfa"]`).
pub const OIDC_PASSWORD_ONLY: &str = "grace";

/// A running `oidc-provider`. Killed on drop.
#[derive(Debug)]
pub struct OidcProvider {
    child: Option<Child>,
    port: u16,
    client_id: String,
    client_secret: String,
    _dir: TempDir,
}

/// Where the provider sent the browser back to: the redirect URI with `code` and `state`.
#[derive(Debug, Clone)]
pub struct OidcCallback {
    /// The whole URL the provider redirected to.
    pub url: String,
    pub code: String,
    pub state: String,
}

/// The folder with `provider.mjs`, `package.json` and (after `npm ci`) `node_modules`.
pub fn oidc_provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

impl OidcProvider {
    /// Starts the provider on a free loopback port, its client allowed to redirect to
    /// `redirect_uris` (exactly, as the provider compares them); ready when this returns.
    /// ID tokens live 300 s.
    pub fn start(redirect_uris: &[&str]) -> Result<OidcProvider, String> {
        OidcProvider::start_with_ttl(redirect_uris, 300)
    }

    /// [`OidcProvider::start`] with ID tokens that live `id_token_ttl_s` seconds.
    pub fn start_with_ttl(
        redirect_uris: &[&str],
        id_token_ttl_s: u64,
    ) -> Result<OidcProvider, String> {
        let dir = oidc_provider_dir();
        if !dir.join("node_modules").join("oidc-provider").is_dir() {
            return Err(format!(
                "{}/node_modules is missing: run `npm ci` there (scripts/setup-debian does)",
                dir.display()
            ));
        }
        let mut last = String::new();
        // Another process can take the port between our probe and the bind: try again.
        for _ in 0..5 {
            match OidcProvider::start_on(free_port()?, redirect_uris, id_token_ttl_s) {
                Ok(p) => return Ok(p),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn start_on(
        port: u16,
        redirect_uris: &[&str],
        id_token_ttl_s: u64,
    ) -> Result<OidcProvider, String> {
        let tmp = TempDir::new("oidc")?;
        let client_id = "reclaim-console".to_string();
        let client_secret = secret("oidc");
        let mut cmd = Command::new("node");
        cmd.arg("provider.mjs")
            .current_dir(oidc_provider_dir())
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_CLIENT_ID", &client_id)
            .env("OIDC_CLIENT_SECRET", &client_secret)
            .env("OIDC_REDIRECT_URIS", redirect_uris.join(" "))
            .env("OIDC_ID_TOKEN_TTL", id_token_ttl_s.to_string())
            // Neither debug output nor a colour escape in the log.
            .env_remove("DEBUG")
            .env("NO_COLOR", "1");
        let log = tmp.path().join("oidc-provider.log");
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("node: {e}"))?;
        // Ready in about 0.5 s.
        let ready = await_server(&mut child, &log, Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if let Err(log) = ready {
            return Err(format!(
                "oidc-provider did not start on 127.0.0.1:{port}: {}",
                log.trim()
            ));
        }
        Ok(OidcProvider {
            child: Some(child),
            port,
            client_id,
            client_secret,
            _dir: tmp,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The issuer, `http://127.0.0.1:PORT` (no trailing slash), as its discovery document
    /// and ID tokens say it.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The confidential client whose ID tokens are signed with RS256.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The same client, its ID tokens signed with ES256 (same secret, same redirect URIs).
    pub fn es256_client_id(&self) -> String {
        format!("{}-es256", self.client_id)
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The server's `[admin.oidc]` section for this provider: its client, the groups
    /// scope, and the accounts' groups mapped to the console's roles
    /// (`reclaim-reviewers`, `reclaim-auditors`, `reclaim-admins`).
    pub fn console_section(&self) -> String {
        format!(
            r#"[admin.oidc]
issuer = "{issuer}"
client_id = "{client}"
client_secret = "{secret}"
scopes = ["groups"]
reviewer_groups = ["reclaim-reviewers"]
auditor_groups = ["reclaim-auditors"]
admin_groups = ["reclaim-admins"]
"#,
            issuer = self.issuer(),
            client = self.client_id,
            secret = self.client_secret,
        )
    }

    /// The password of one of [`OIDC_ACCOUNTS`].
    pub fn password(login: &str) -> String {
        format!("{login}-password")
    }

    /// Signs `login` in without a browser: follows `authorize_url` (the relying party's
    /// authorization request) through the provider's redirects with a cookie jar, posts the
    /// login form, and returns where the provider sends the browser back to. An error says
    /// what the provider answered instead (a wrong password, an `error=` redirect).
    pub fn sign_in(
        &self,
        authorize_url: &str,
        login: &str,
        password: &str,
    ) -> Result<OidcCallback, String> {
        let origin = self.issuer();
        let mut jar = BTreeMap::new();
        let mut url = authorize_url.to_string();
        let mut posted = false;
        // The provider's own steps: auth, login page, login post, auth again, consent,
        // auth again. A loop longer than this is a fault.
        for _ in 0..12 {
            if !url.starts_with(&format!("{origin}/")) {
                return callback(&url);
            }
            let response = request(&url, None, &mut jar)?;
            match (response.status, response.location) {
                (300..=399, Some(location)) => url = absolute(&origin, &location),
                (200, None) if !posted => {
                    let action = form_action(&response.body)
                        .ok_or_else(|| format!("no login form at {url}: {}", response.body))?;
                    let form = format!(
                        "login={}&password={}",
                        form_encode(login),
                        form_encode(password)
                    );
                    let answer = request(&absolute(&origin, &action), Some(&form), &mut jar)?;
                    match (answer.status, answer.location) {
                        (300..=399, Some(location)) => url = absolute(&origin, &location),
                        (status, _) => {
                            return Err(format!("login refused ({status}): {}", answer.body))
                        }
                    }
                    posted = true;
                }
                (status, _) => {
                    return Err(format!(
                        "unexpected answer {status} at {url}: {}",
                        response.body
                    ))
                }
            }
        }
        Err(format!("too many redirects, last {url}"))
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}

struct Response {
    status: u16,
    location: Option<String>,
    body: String,
}

/// One HTTP/1.0 request (so the answer is neither chunked nor kept alive) to a loopback
/// `http://` URL, sending and updating the cookies in `jar`.
fn request(
    url: &str,
    form: Option<&str>,
    jar: &mut BTreeMap<String, String>,
) -> Result<Response, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority).map_err(|e| format!("{authority}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let cookies = jar
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut head = format!(
        "{} {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: reclaim-testkit\r\n",
        if form.is_some() { "POST" } else { "GET" }
    );
    if !cookies.is_empty() {
        head.push_str(&format!("Cookie: {cookies}\r\n"));
    }
    if let Some(form) = form {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(form.unwrap_or(""));
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("{url}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("{url}: no HTTP status in {head}"))?;
    let mut location = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("location") {
            location = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("set-cookie") {
            let pair = value.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                // A cookie set empty (with a past expiry) is the provider deleting it.
                if v.is_empty() {
                    jar.remove(k.trim());
                } else {
                    jar.insert(k.trim().to_string(), v.to_string());
                }
            }
        }
    }
    Ok(Response {
        status,
        location,
        body: body.to_string(),
    })
}

fn absolute(origin: &str, location: &str) -> String {
    if location.starts_with('/') {
        format!("{origin}{location}")
    } else {
        location.to_string()
    }
}

/// The `action` of the first form in `html`.
fn form_action(html: &str) -> Option<String> {
    let form = &html[html.find("<form")?..];
    let start = form.find("action=\"")? + "action=\"".len();
    let end = form[start..].find('"')?;
    Some(form[start..start + end].replace("&amp;", "&"))
}

/// The redirect URI's `code` and `state`, or an error with the `error` it carries instead.
fn callback(url: &str) -> Result<OidcCallback, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    let mut params = BTreeMap::new();
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            params.insert(percent_decode(k), percent_decode(v));
        }
    }
    if let Some(error) = params.get("error") {
        let description = params.get("error_description").cloned().unwrap_or_default();
        return Err(format!(
            "the provider answered {error}: {description} ({url})"
        ));
    }
    match (params.get("code"), params.get("state")) {
        (Some(code), Some(state)) => Ok(OidcCallback {
            url: url.to_string(),
            code: code.clone(),
            state: state.clone(),
        }),
        _ => Err(format!("no code and state in {url}")),
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_parsed() {
        let c = callback("http://127.0.0.1:9/cb?code=a%2Db&state=s1&iss=http%3A%2F%2Fx").unwrap();
        assert_eq!((c.code.as_str(), c.state.as_str()), ("a-b", "s1"));
        let e = callback("http://127.0.0.1:9/cb?error=access_denied&state=s1").unwrap_err();
        assert!(e.contains("access_denied"), "{e}");
        assert_eq!(
            form_action(r#"<p><form method="post" action="/interaction/x/login">"#).as_deref(),
            Some("/interaction/x/login")
        );
        assert_eq!(form_encode("a b&c"), "a%20b%26c");
    }
}
