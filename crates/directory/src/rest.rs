//! HTTP for the connectors that speak to a vendor's REST API (Okta, Microsoft Graph, Duo).
//!
//! One job: send a request and bring back a bounded answer, or a [`DirectoryError`] that
//! the server's exactly-once logic understands. What every such connector needs is here,
//! once:
//!
//! - TLS through the same rustls (ring) configuration as LDAP: a configured CA file or the
//!   system's roots. `http://` only to a loopback address (a test double, a local proxy):
//!   a bearer token or a password never crosses a network in clear.
//! - A limit on each request (connect, send, answer) and on the answer's size, set before
//!   anything is read; and a limit on each whole operation ([`Rest::within`]: all the
//!   requests of one `Directory` call and the rate-limit waits between them), which the
//!   server's lease on a pending reset is checked against, as for LDAP.
//! - No redirects followed: a redirect would carry the `Authorization` header to wherever
//!   the answer points.
//! - Rate limits: a `429` is waited out as the service asks (`Retry-After`, in seconds or
//!   as a date, or Okta's `X-Rate-Limit-Reset`), never hammered, up to a configured total
//!   wait; beyond it the call fails as [`DirectoryError::Unavailable`], which leaves a
//!   pending reset to the server's own retry (2 s, doubling, at most 5 minutes apart), so
//!   a long reset window is waited out there rather than inside one call. A `429` means the request was not
//!   processed, so sending it again cannot apply a change twice.
//! - The status of a refusal mapped to the error the server acts on ([`refusal`]).
//!
//! Nothing here logs a header or a body: the connectors put tokens and passwords in them.

// Used by the Okta, Entra and Duo connectors, which land next.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, Url};
use serde::de::DeserializeOwned;

use crate::DirectoryError;

/// Default limit on one request, milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Default limit on the total time spent waiting out rate limits in one operation,
/// milliseconds. With the default timeout, four operations (a resumed reset's most) fit
/// the server's default 30 s lease on a pending reset.
pub const DEFAULT_MAX_RATE_LIMIT_WAIT_MS: u64 = 2_500;
/// The largest answer read. A page of 200 Okta users is about 400 KiB.
pub const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;
/// How many times one request is sent at most (the first and the retries after `429`).
const MAX_ATTEMPTS: u32 = 4;
/// The wait after a `429` that names none: 1 s, then doubled for each further one.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// How a REST connector reaches its service. Each connector's configuration carries these
/// fields itself (so a misspelt key is refused by name) and builds this from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Limit on each request (connect, send, read the answer), milliseconds; and, with
    /// the rate-limit wait, on each whole operation.
    pub timeout_ms: u64,
    /// The longest a call waits in all for the service's rate limit to reset,
    /// milliseconds. `0` never waits: the first `429` fails the call.
    pub max_rate_limit_wait_ms: u64,
    /// PEM file with the CA certificate(s) to trust; without it, the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_rate_limit_wait_ms: DEFAULT_MAX_RATE_LIMIT_WAIT_MS,
            ca_file: None,
        }
    }
}

impl HttpSettings {
    /// Checks the limits without touching the network.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        if self.timeout_ms == 0 || self.timeout_ms > 600_000 {
            return Err(DirectoryError::Config(
                "timeout_ms must be between 1 and 600000".into(),
            ));
        }
        if self.max_rate_limit_wait_ms > 600_000 {
            return Err(DirectoryError::Config(
                "max_rate_limit_wait_ms must be at most 600000".into(),
            ));
        }
        Ok(())
    }

    /// The longest one operation (a `Directory` call) takes: [`Rest::within`] stops it
    /// there. The server's lease on a pending reset must outlast four of them.
    pub fn worst_call_ms(&self) -> u64 {
        self.timeout_ms + self.max_rate_limit_wait_ms
    }
}

/// Checks that `url` may carry credentials: `https`, or `http` to a loopback address.
/// `what` names the setting in the error.
pub fn check_url(url: &str, what: &str) -> Result<Url, DirectoryError> {
    let parsed = Url::parse(url)
        .map_err(|_| DirectoryError::Config(format!("{what} is not a URL: {url:?}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(DirectoryError::Config(format!(
            "{what} must not carry a user name or password"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(DirectoryError::Config(format!(
            "{what} must not have a query or a fragment"
        )));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(DirectoryError::Config(format!(
            "{what} must be https:// (http:// only to a loopback address): credentials would cross the network in clear"
        ))),
        _ => Err(DirectoryError::Config(format!("{what} must be an https:// URL"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// An HTTP client bound to one service's base URL.
pub(crate) struct Rest {
    client: Client,
    base: Url,
    settings: HttpSettings,
}

impl Rest {
    /// A client for the service at `base_url` (checked by [`check_url`]).
    pub(crate) fn new(base_url: &str, settings: &HttpSettings) -> Result<Rest, DirectoryError> {
        settings.validate()?;
        let mut base = check_url(base_url, "url")?;
        // `join` treats a base without a trailing slash as a file and drops its last
        // segment; the base is a directory.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let tls = crate::tls::client_config(settings.ca_file.as_deref())?;
        let timeout = Duration::from_millis(settings.timeout_ms);
        let client = Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("reclaim/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DirectoryError::Config(format!("HTTP client: {}", e.without_url())))?;
        Ok(Rest {
            client,
            base,
            settings: settings.clone(),
        })
    }

    /// The service's base URL (always ending in `/`).
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// `path` (relative, without a leading `/`) under the base URL.
    pub(crate) fn url(&self, path: &str) -> Result<Url, DirectoryError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|_| DirectoryError::Protocol(format!("cannot make a URL of {path:?}")))
    }

    /// True when `url` is on the base URL's origin (scheme, host and port) and under its
    /// path: only there may a credential be sent. A pagination link from the service is
    /// checked with this before it is followed.
    pub(crate) fn is_ours(&self, url: &Url) -> bool {
        url.origin() == self.base.origin() && url.path().starts_with(self.base.path())
    }

    /// Runs one whole operation (every request of one `Directory` call) within
    /// [`HttpSettings::worst_call_ms`]; past it, [`DirectoryError::Timeout`] (whether a
    /// change it sent took effect is then unknown, as for any timeout).
    pub(crate) async fn within<T>(
        &self,
        operation: impl std::future::Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        let limit = Duration::from_millis(self.settings.worst_call_ms());
        tokio::time::timeout(limit, operation)
            .await
            .unwrap_or(Err(DirectoryError::Timeout))
    }

    /// The client, for a request to another endpoint of the same service (an OAuth token
    /// endpoint on its own host), with the same TLS, limits and redirect policy.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Sends the request `build` makes, waiting out rate limits, and reads the answer
    /// (at most [`MAX_REPLY_BYTES`]). `build` is called again for each attempt, so it
    /// can sign each one anew. Any status comes back as a [`Reply`]; only a transport
    /// failure, an oversized answer or a rate limit that outlasts the allowed wait is an
    /// error.
    pub(crate) async fn send<F>(&self, build: F) -> Result<Reply, DirectoryError>
    where
        F: Fn(&Client) -> Result<RequestBuilder, DirectoryError>,
    {
        let budget = Duration::from_millis(self.settings.max_rate_limit_wait_ms);
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reply = send_once(build(&self.client)?).await?;
            if reply.status != 429 {
                return Ok(reply);
            }
            let asked = retry_after(&reply.headers, SystemTime::now())
                .unwrap_or(DEFAULT_RATE_LIMIT_WAIT * 2u32.pow(attempt - 1));
            if attempt >= MAX_ATTEMPTS || waited + asked > budget {
                tracing::warn!(
                    attempts = attempt,
                    asked_wait_ms = asked.as_millis() as u64,
                    "the service's rate limit outlasts the allowed wait; giving up for now"
                );
                return Err(DirectoryError::Unavailable(format!(
                    "rate limited by the service (it asked to wait {} s)",
                    asked.as_secs_f32().ceil()
                )));
            }
            tracing::info!(
                wait_ms = asked.as_millis() as u64,
                "rate limited by the service; waiting as it asks"
            );
            tokio::time::sleep(asked).await;
            waited += asked;
        }
    }
}

async fn send_once(request: RequestBuilder) -> Result<Reply, DirectoryError> {
    let started = Instant::now();
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if response
        .content_length()
        .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    tracing::debug!(
        status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "service answered"
    );
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn too_large() -> DirectoryError {
    DirectoryError::Protocol(format!(
        "the answer is larger than {} MiB",
        MAX_REPLY_BYTES >> 20
    ))
}

/// A transport failure: a timeout, or unknown whether the request arrived.
fn transport(e: reqwest::Error) -> DirectoryError {
    if e.is_timeout() {
        DirectoryError::Timeout
    } else {
        // Without the URL: it may hold a login in its query.
        DirectoryError::Unavailable(e.without_url().to_string())
    }
}

/// How long a `429` answer asks to wait: `Retry-After` (delta-seconds or an HTTP date),
/// else Okta's `X-Rate-Limit-Reset` (the Unix time the limit resets). `None` when neither
/// is there or readable. At least 100 ms and at most a day, so a clock skew or a bad
/// header neither spins nor sleeps for ever (the caller's budget bounds it anyway).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let wait = if let Some(v) = text("retry-after") {
        if let Ok(seconds) = v.parse::<u64>() {
            Duration::from_secs(seconds)
        } else {
            let at = httpdate::parse_http_date(v).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    } else {
        let reset = text("x-rate-limit-reset")?.parse::<u64>().ok()?;
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.clamp(Duration::from_millis(100), Duration::from_secs(86_400)))
}

/// A service's answer, whatever its status.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Status only: a body or a header may hold a token or a code.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// A 2xx status.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as `T`; an answer of another shape is a protocol error (naming `what`).
    pub(crate) fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, DirectoryError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| DirectoryError::Protocol(format!("{what}: not the expected JSON ({e})")))
    }

    /// A header's value as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The error for a refusal with `status`. `detail` is the service's own explanation (its
/// error code or summary, passed through [`clip`]); `permission` names what the service
/// account needs for this call, so a `403` tells the admin what to grant.
///
/// - `401`: the credential itself was refused (expired, revoked, wrong): a configuration
///   problem no retry cures.
/// - `403`: the credential is fine but lacks a permission.
/// - `404`: the account (or the object) is not there.
/// - `408`, `5xx`: the service failed; whether a change took effect is unknown.
/// - any other: an answer the connector did not expect.
pub(crate) fn refusal(status: u16, detail: &str, permission: &str) -> DirectoryError {
    match status {
        401 => DirectoryError::Config(format!(
            "the service refused Reclaim's credential (expired, revoked or wrong): {detail}"
        )),
        403 => DirectoryError::PermissionDenied(format!(
            "{detail}; Reclaim's service account needs {permission}"
        )),
        404 => DirectoryError::UserNotFound,
        408 | 500..=599 => DirectoryError::Unavailable(format!("HTTP {status}: {detail}")),
        _ => DirectoryError::Protocol(format!("HTTP {status}: {detail}")),
    }
}

/// A service's text fit for an error message: at most 200 characters, control
/// characters replaced. The text may echo what was sent, so callers pass only error codes
/// and summaries, never a body that could hold a password.
pub(crate) fn clip(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_rate_limit_answer_says_how_long_to_wait() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let wait = |h: &[(&'static str, &str)]| retry_after(&headers(h), now);
        assert_eq!(wait(&[("retry-after", "7")]), Some(Duration::from_secs(7)));
        assert_eq!(
            wait(&[(
                "retry-after",
                &httpdate::fmt_http_date(now + Duration::from_secs(30))
            )]),
            Some(Duration::from_secs(30))
        );
        // Okta's reset time, in Unix seconds.
        assert_eq!(
            wait(&[("x-rate-limit-reset", "1700000012")]),
            Some(Duration::from_secs(12))
        );
        // Retry-After wins over Okta's header.
        assert_eq!(
            wait(&[("retry-after", "2"), ("x-rate-limit-reset", "1700000012")]),
            Some(Duration::from_secs(2))
        );
        // In the past (skew): a short pause, not a spin.
        assert_eq!(
            wait(&[("x-rate-limit-reset", "1600000000")]),
            Some(Duration::from_millis(100))
        );
        // Absurd: capped at a day (the call's budget then gives up).
        assert_eq!(
            wait(&[("retry-after", "99999999999")]),
            Some(Duration::from_secs(86_400))
        );
        for bad in [
            &[][..],
            &[("retry-after", "soon")],
            &[("x-rate-limit-reset", "-5")],
        ] {
            assert_eq!(wait(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn credentials_go_only_over_tls_or_to_loopback() {
        for ok in [
            "https://example.okta.com",
            "https://graph.microsoft.com/v1.0",
            "http://127.0.0.1:8080",
            "http://[::1]:9/api",
            "http://localhost:1",
        ] {
            assert!(check_url(ok, "url").is_ok(), "{ok}");
        }
        for bad in [
            "http://example.okta.com",
            "http://10.0.0.1",
            "ftp://example.com",
            "example.okta.com",
            "https://user:pw@example.okta.com",
            "https://example.okta.com/?x=1",
            "",
        ] {
            let e = check_url(bad, "url").unwrap_err();
            assert!(matches!(e, DirectoryError::Config(_)), "{bad}: {e:?}");
        }
    }

    #[test]
    fn only_urls_under_the_base_are_ours() {
        let rest = Rest::new("https://example.okta.com/api/v1", &HttpSettings::default()).unwrap();
        assert_eq!(rest.base().as_str(), "https://example.okta.com/api/v1/");
        assert_eq!(
            rest.url("/users?limit=2").unwrap().as_str(),
            "https://example.okta.com/api/v1/users?limit=2"
        );
        for ours in [
            "https://example.okta.com/api/v1/users?after=abc",
            "https://EXAMPLE.okta.com:443/api/v1/users",
        ] {
            assert!(rest.is_ours(&Url::parse(ours).unwrap()), "{ours}");
        }
        for theirs in [
            "https://evil.example/api/v1/users",
            "http://example.okta.com/api/v1/users",
            "https://example.okta.com:8443/api/v1/users",
            "https://example.okta.com/oauth2/v1/token",
            "https://example.okta.com.evil.example/api/v1/users",
        ] {
            assert!(!rest.is_ours(&Url::parse(theirs).unwrap()), "{theirs}");
        }
    }

    #[test]
    fn each_refusal_becomes_the_error_the_server_acts_on() {
        let e = refusal(403, "E0000006", "okta.users.manage");
        assert!(e.is_permanent());
        assert!(e.to_string().contains("okta.users.manage"), "{e}");
        assert!(refusal(401, "E0000011", "x").is_permanent());
        assert_eq!(refusal(404, "E0000007", "x"), DirectoryError::UserNotFound);
        for s in [408, 500, 502, 503, 504] {
            let e = refusal(s, "", "x");
            assert!(e.outcome_unknown() && !e.is_permanent(), "{s}");
        }
        assert!(matches!(refusal(409, "", "x"), DirectoryError::Protocol(_)));
        assert_eq!(clip("a\nb\u{7}c"), "a b c");
        assert_eq!(clip(&"x".repeat(500)).len(), 200);
    }

    /// A server that answers each connection with the next of `answers` (raw HTTP), and
    /// counts the requests.
    async fn scripted(
        answers: Vec<String>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            for answer in answers {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (url, count)
    }

    fn answer(status: &str, headers: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n{headers}\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn a_rate_limit_is_waited_out_and_given_up_beyond_the_budget() {
        use std::sync::atomic::Ordering;
        let (url, count) = scripted(vec![
            answer("429 Too Many Requests", "retry-after: 1\r\n", ""),
            answer("200 OK", "", "{}"),
        ])
        .await;
        let settings = HttpSettings {
            max_rate_limit_wait_ms: 2_000,
            ..HttpSettings::default()
        };
        let rest = Rest::new(&url, &settings).unwrap();
        let started = Instant::now();
        let reply = rest.send(|c| Ok(c.get(rest.url("x")?))).await.unwrap();
        assert_eq!((reply.status, count.load(Ordering::SeqCst)), (200, 2));
        assert!(started.elapsed() >= Duration::from_secs(1), "did not wait");

        // Asked to wait longer than the budget: no second request, an outage.
        let (url, count) = scripted(vec![answer(
            "429 Too Many Requests",
            "retry-after: 60\r\n",
            "",
        )])
        .await;
        let rest = Rest::new(&url, &settings).unwrap();
        let e = rest.send(|c| Ok(c.get(rest.url("x")?))).await.unwrap_err();
        assert!(matches!(e, DirectoryError::Unavailable(_)), "{e:?}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_a_huge_answer_not_read() {
        let (url, count) = scripted(vec![
            answer("302 Found", "location: http://127.0.0.1:9/steal\r\n", ""),
            format!(
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                MAX_REPLY_BYTES + 1
            ),
        ])
        .await;
        let rest = Rest::new(&url, &HttpSettings::default()).unwrap();
        let reply = rest.send(|c| Ok(c.get(rest.url("x")?))).await.unwrap();
        assert_eq!(reply.status, 302);
        let e = rest.send(|c| Ok(c.get(rest.url("x")?))).await.unwrap_err();
        assert!(matches!(e, DirectoryError::Protocol(_)), "{e:?}");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_operation_past_its_limit_times_out() {
        let rest = Rest::new(
            "http://127.0.0.1:9",
            &HttpSettings {
                timeout_ms: 50,
                max_rate_limit_wait_ms: 0,
                ca_file: None,
            },
        )
        .unwrap();
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, DirectoryError>(())
        };
        assert_eq!(rest.within(slow).await, Err(DirectoryError::Timeout));
    }

    #[test]
    fn limits_are_checked() {
        let mut s = HttpSettings::default();
        assert!(s.validate().is_ok());
        assert_eq!(s.worst_call_ms(), 5_000 + 2_500);
        s.timeout_ms = 0;
        assert!(s.validate().is_err());
        s.timeout_ms = 1000;
        s.max_rate_limit_wait_ms = 600_001;
        assert!(s.validate().is_err());
    }
}
