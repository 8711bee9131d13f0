//! The typed HTTP client of the recovery service: one method per endpoint, bounded
//! timeouts, and every failure turned into a [`ClientError`] the UI can explain (an
//! unreachable service, one that is slow, one that answers garbage, a refusal).

use std::time::Duration;

use reclaim_protocol::wire::decision::Decision;
use reclaim_protocol::wire::devices::{DeviceRegistration, DeviceView};
use reclaim_protocol::wire::error::ErrorBody;
use reclaim_protocol::wire::evidence::{self, AttestationRequest};
use reclaim_protocol::wire::limits::MAX_SESSION_ID_BYTES;
use reclaim_protocol::wire::password::{PasswordCheckAnswer, PasswordCheckRequest};
use reclaim_protocol::wire::resets::{Capabilities, ResetAnswer, ResetRequest};
use reclaim_protocol::wire::sessions::{
    HandoffClaim, HandoffView, SessionRequest, SessionStatus, SessionView,
};
use reclaim_protocol::{Code, RecoveryAction};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{ClientError, Result};

/// Bodies larger than this are not read: a broken or hostile service cannot make the
/// app allocate without bound.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// How long the app waits for the service.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// Most calls: session, status, password check.
    pub request: Duration,
    /// The attestation: the server may run its own engine on the evidence.
    pub attestation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(15),
            attestation: Duration::from_secs(60),
        }
    }
}

/// How the app waits out a busy service (`503 server_busy`).
///
/// The service refuses with `server_busy` before it does anything with a request (no
/// session started, no evidence judged, no nonce spent: its admission runs first, and a
/// judgement past its deadline is thrown away), so the same request, byte for byte, may
/// be sent again: the same signed attestation included, whose nonce the service spends
/// only with a recorded outcome. Nothing else is retried: after a timeout or a dropped
/// connection the service may have decided, and a second decision is what the nonce
/// exists to refuse.
#[derive(Debug, Clone, Copy)]
pub struct BusyRetry {
    /// Tries after the first.
    pub retries: u32,
    /// The longest wait between tries: a longer `Retry-After` is cut to this, so a
    /// service (or a proxy) cannot park the app.
    pub max_wait: Duration,
}

impl Default for BusyRetry {
    fn default() -> Self {
        // Four tries over about 20 s with the service's `Retry-After: 5`: a burst of
        // judgements passes in that time; a longer rush is better told to the person.
        BusyRetry {
            retries: 3,
            max_wait: Duration::from_secs(10),
        }
    }
}

/// The wait when a busy answer names none.
const BUSY_DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// One piece of evidence before upload: the bytes the attestation's digests cover. On the
/// wire it is a [`evidence::EvidenceItem`], its bytes in base64.
#[derive(Debug, Clone)]
pub struct EvidenceFile {
    pub name: String,
    pub t_ms: Option<u64>,
    pub data: Vec<u8>,
}

impl EvidenceFile {
    /// The item as the attestation request carries it.
    pub fn to_wire(&self) -> evidence::EvidenceItem {
        use base64::Engine;
        evidence::EvidenceItem {
            name: self.name.clone(),
            t_ms: self.t_ms,
            data: base64::engine::general_purpose::STANDARD.encode(&self.data),
        }
    }
}

/// The recovery service at one base URL.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    timeouts: Timeouts,
    busy: BusyRetry,
}

/// One request to the service, as [`ApiClient::send`] sends it (again, while busy).
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    token: Option<&'a str>,
    body: Option<&'a Value>,
    timeout: Option<Duration>,
}

impl ApiClient {
    pub fn new(base_url: &str, timeouts: Timeouts) -> Result<ApiClient> {
        let base = base_url.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base)
            .map_err(|e| ClientError::Input(format!("the service URL {base:?}: {e}")))?;
        // Photos of an ID and a face, a session token and a new password travel on this
        // connection: plain HTTP only to this machine itself (tests, a local proxy).
        let host = url.host_str().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
            return Err(ClientError::Input(format!(
                "the service URL must be https:// (plain http only to this machine): {base:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            // The session token and the grant travel in requests; a redirect must not
            // carry them elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("reclaim-app/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Input(e.to_string()))?;
        Ok(ApiClient {
            base,
            http,
            timeouts,
            busy: BusyRetry::default(),
        })
    }

    /// The same client, waiting out a busy service as `busy` says.
    pub fn with_busy_retry(mut self, busy: BusyRetry) -> ApiClient {
        self.busy = busy;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Registers this device's public key on first use (`201`), or finds it already known
    /// (`200`, or `409` for a key registered before). Returns the tier.
    pub async fn register_device(&self, public_key_b64: &str, name: &str) -> Result<String> {
        let body = to_body(&DeviceRegistration {
            public_key: public_key_b64.to_string(),
            name: Some(name.to_string()),
        })?;
        match self
            .send::<DeviceView>("POST", "/v1/devices", None, Some(&body), None)
            .await
        {
            Ok(v) => Ok(v.tier.as_str().to_string()),
            Err(ClientError::Refused { code, .. })
                if code == Code::DeviceAlreadyRegistered.as_str() =>
            {
                Ok("known".into())
            }
            Err(e) => Err(e),
        }
    }

    /// The actions the service's directory can perform, which are all the app offers.
    /// Names this build does not know are left out.
    pub async fn capabilities(&self) -> Result<Vec<RecoveryAction>> {
        let answer: Capabilities = self
            .send("GET", "/v1/capabilities", None, None, None)
            .await?;
        Ok(answer.actions)
    }

    pub async fn start_session(
        &self,
        login: &str,
        action: RecoveryAction,
        device: &str,
    ) -> Result<SessionView> {
        let body = to_body(&SessionRequest {
            login: login.to_string(),
            action,
            device: device.to_string(),
        })?;
        self.send("POST", "/v1/sessions", None, Some(&body), None)
            .await
    }

    pub async fn session_status(&self, id: &str, token: &str) -> Result<SessionStatus> {
        self.send(
            "GET",
            &format!("/v1/sessions/{}", path_segment(id)?),
            Some(token),
            None,
            None,
        )
        .await
    }

    pub async fn handoff(&self, id: &str, token: &str) -> Result<HandoffView> {
        self.send(
            "POST",
            &format!("/v1/sessions/{}/handoff", path_segment(id)?),
            Some(token),
            Some(&json!({})),
            None,
        )
        .await
    }

    pub async fn claim_handoff(
        &self,
        session_id: &str,
        secret: &str,
        device: &str,
    ) -> Result<SessionView> {
        let body = to_body(&HandoffClaim {
            session_id: session_id.to_string(),
            secret: secret.to_string(),
            device: device.to_string(),
        })?;
        self.send("POST", "/v1/handoff", None, Some(&body), None)
            .await
    }

    pub async fn attest(
        &self,
        id: &str,
        token: &str,
        jws: &str,
        evidence: &[EvidenceFile],
    ) -> Result<Decision> {
        let body = to_body(&AttestationRequest {
            token: jws.to_string(),
            evidence: evidence.iter().map(EvidenceFile::to_wire).collect(),
        })?;
        self.send(
            "POST",
            &format!("/v1/sessions/{}/attestation", path_segment(id)?),
            Some(token),
            Some(&body),
            Some(self.timeouts.attestation),
        )
        .await
    }

    pub async fn check_password(&self, grant: &str, password: &str) -> Result<PasswordCheckAnswer> {
        let body = to_body(&PasswordCheckRequest {
            grant: grant.to_string(),
            password: password.to_string(),
        })?;
        self.send("POST", "/v1/password/check", None, Some(&body), None)
            .await
    }

    /// Applies the reset. Safe to call again with the same grant: the service applies it
    /// once and answers `already_completed` after.
    pub async fn reset(&self, grant: &str, new_password: Option<&str>) -> Result<ResetAnswer> {
        let body = to_body(&ResetRequest {
            grant: grant.to_string(),
            new_password: new_password.map(str::to_string),
        })?;
        self.send(
            "POST",
            "/v1/resets",
            None,
            Some(&body),
            Some(self.timeouts.attestation),
        )
        .await
    }

    /// One request, sent again unchanged while the service answers `server_busy` (see
    /// [`BusyRetry`]); when it stays busy, the last refusal says so plainly.
    async fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<T> {
        let request = Request {
            method,
            path,
            token,
            body,
            timeout,
        };
        let mut tries = 0u32;
        loop {
            tries += 1;
            let (answer, retry_after) = self.try_send(&request).await?;
            match answer {
                // Nothing was done: try again after the wait, if one was named.
                Err(ClientError::Refused {
                    status: 503, code, ..
                }) if code == Code::ServerBusy.as_str() => {
                    if tries <= self.busy.retries {
                        tokio::time::sleep(busy_wait(retry_after, self.busy.max_wait)).await;
                        continue;
                    }
                    return Err(ClientError::Refused {
                        status: 503,
                        code,
                        message: format!(
                            "the recovery service stayed busy after {tries} tries; wait a minute and try again"
                        ),
                    });
                }
                answer => return answer,
            }
        }
    }

    /// The answer, with the `Retry-After` the service named (seconds; a date is not
    /// something this service sends, and is ignored).
    async fn try_send<T: DeserializeOwned>(
        &self,
        call: &Request<'_>,
    ) -> Result<(Result<T>, Option<Duration>)> {
        let Request {
            method,
            path,
            token,
            body,
            timeout,
        } = *call;
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url),
        };
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.json(b);
        }
        if let Some(t) = timeout {
            request = request.timeout(t);
        }
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ClientError::BackendInvalidAnswer(format!(
                    "{path}: answer larger than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            let answer = serde_json::from_slice(&bytes).map_err(|e| {
                ClientError::BackendInvalidAnswer(format!("{path}: HTTP {status}: {e}"))
            });
            return Ok((answer, None));
        }
        // A refusal names its reason; a body that is not ours (a proxy's HTML page) is
        // named by its status alone.
        let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let code = parsed
            .as_ref()
            .map(|b| b.error.as_str())
            .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .unwrap_or("")
            .to_string();
        let message = parsed
            .as_ref()
            .map(|b| b.message.chars().take(300).collect())
            .unwrap_or_else(|| format!("HTTP {status}"));
        if code.is_empty() && !(400..600).contains(&status) {
            return Err(ClientError::BackendInvalidAnswer(format!(
                "{path}: HTTP {status}"
            )));
        }
        Ok((
            Err(ClientError::Refused {
                status,
                code,
                message,
            }),
            retry_after,
        ))
    }
}

/// The wait before trying a busy service again: what it asked for (or
/// [`BUSY_DEFAULT_WAIT`]) up to `max_wait`, plus up to a quarter more at random, so the
/// apps a rush turned away do not all come back in the same second.
fn busy_wait(retry_after: Option<Duration>, max_wait: Duration) -> Duration {
    let wait = retry_after.unwrap_or(BUSY_DEFAULT_WAIT).min(max_wait);
    wait + wait.mul_f64(jitter() * 0.25)
}

/// A number in [0, 1), different in each call and each process: `RandomState` is seeded
/// from the operating system. Only spreads retries out; nothing secret depends on it.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn transport_error(e: reqwest::Error) -> ClientError {
    if e.is_timeout() {
        ClientError::BackendTimeout
    } else if e.is_decode() || e.is_body() {
        ClientError::BackendInvalidAnswer(e.to_string())
    } else {
        ClientError::BackendUnreachable(e.to_string())
    }
}

/// A request body as JSON. Our own types always serialize; the error is for completeness.
fn to_body<T: Serialize>(body: &T) -> Result<Value> {
    serde_json::to_value(body).map_err(|e| ClientError::Input(e.to_string()))
}

/// Session ids come from the service; one that could change the URL's path, or longer
/// than the service ever issues, is refused.
fn path_segment(id: &str) -> Result<&str> {
    if !id.is_empty()
        && id.len() <= MAX_SESSION_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id)
    } else {
        Err(ClientError::BackendInvalidAnswer(
            "a session id with unexpected characters".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_wait_honours_retry_after_up_to_the_cap() {
        let cap = Duration::from_secs(10);
        for _ in 0..100 {
            let w = busy_wait(Some(Duration::from_secs(5)), cap);
            assert!(
                w >= Duration::from_secs(5) && w <= Duration::from_millis(6250),
                "{w:?}"
            );
            let w = busy_wait(Some(Duration::from_secs(3600)), cap);
            assert!(w >= cap && w <= cap.mul_f64(1.25), "{w:?}");
            let w = busy_wait(None, cap);
            assert!(w >= BUSY_DEFAULT_WAIT, "{w:?}");
        }
    }

    #[test]
    fn only_https_leaves_the_machine() {
        for ok in [
            "https://reclaim.example.com",
            "https://reclaim.example.com/",
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:8080",
        ] {
            assert!(ApiClient::new(ok, Timeouts::default()).is_ok(), "{ok}");
        }
        for bad in [
            "http://reclaim.example.com",
            "http://10.0.0.5",
            "ftp://reclaim.example.com",
            "reclaim.example.com",
            "",
        ] {
            let e = ApiClient::new(bad, Timeouts::default())
                .err()
                .map(|e| e.code().to_string());
            assert_eq!(e.as_deref(), Some("input_invalid"), "{bad}");
        }
    }
}
