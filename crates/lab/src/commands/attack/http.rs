//! The attacker's HTTP client: plain requests, so that every answer (status, error code,
//! `Retry-After`) is seen as the server sent it, and requests the real app would never
//! send can be sent, down to a raw socket that announces a body larger than the server
//! takes.

use std::time::Duration;

use serde_json::Value;

/// The server under test, at one base URL.
pub(super) struct Http {
    client: reqwest::Client,
    pub(super) base: String,
}

/// What the server answered.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Value,
    pub(super) retry_after: Option<u64>,
}

impl Http {
    pub(super) fn new(base: &str) -> Result<Http, String> {
        let base = base.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| format!("--server {base:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "--server {base:?}: give an http:// or https:// URL"
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // The server re-verifies evidence: a first-time attestation takes seconds.
            .timeout(Duration::from_secs(180))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("reclaim-app/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Http { client, base })
    }

    pub(super) async fn send(
        &self,
        path: &str,
        token: Option<&str>,
        body: Option<reqwest::Body>,
    ) -> Result<Answer, String> {
        let url = format!("{}{path}", self.base);
        let mut request = match &body {
            Some(_) => self
                .client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json"),
            None => self.client.get(&url),
        };
        if let Some(b) = body {
            request = request.body(b);
        }
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let bytes = response.bytes().await.map_err(|e| transport(&e))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }

    /// Announces a body of `length` bytes and sends only its first 64 KiB, then reads
    /// the answer: a server that refuses by `Content-Length` answers before reading, and
    /// a client that kept writing would only see the connection close. Plain http only
    /// (`None` for https, where the caller sends the whole body instead).
    pub(super) async fn announce(
        &self,
        path: &str,
        token: &str,
        length: usize,
    ) -> Option<Result<Answer, String>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let url = reqwest::Url::parse(&self.base).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        let host = url.host_str()?.to_string();
        let port = url.port_or_known_default()?;
        let base_path = url.path().trim_end_matches('/');
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| e.to_string())?;
            let head = format!(
                "POST {base_path}{path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            );
            stream
                .write_all(head.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut start =
                br#"{"token":"x.y.z","evidence":[{"name":"selfie_00","t_ms":0,"data":""#.to_vec();
            start.resize(64 * 1024, b'A');
            // The server may already have answered and closed: a failed write is fine.
            let _ = stream.write_all(&start).await;
            let mut answer = Vec::new();
            let mut chunk = [0u8; 16 * 1024];
            while answer.len() < 256 * 1024 {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&chunk[..n]),
                }
                if let Some(end) = find(&answer, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&answer[..end]).to_string();
                    let declared = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if answer.len() >= end + 4 + declared {
                        break;
                    }
                }
            }
            parse_response(&answer)
                .ok_or_else(|| "no HTTP answer before the connection closed".to_string())
        };
        Some(
            tokio::time::timeout(Duration::from_secs(30), exchange)
                .await
                .unwrap_or_else(|_| Err("no answer in 30 s".into())),
        )
    }

    pub(super) async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Answer, String> {
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        self.send(path, token, Some(bytes.into())).await
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Status, Retry-After and JSON body of a raw HTTP/1.1 answer (not chunked: the server's
/// JSON answers carry a Content-Length).
fn parse_response(raw: &[u8]) -> Option<Answer> {
    let end = find(raw, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut retry_after = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("retry-after") {
                retry_after = v.trim().parse().ok();
            }
        }
    }
    Some(Answer {
        status,
        body: serde_json::from_slice(&raw[end + 4..]).unwrap_or(Value::Null),
        retry_after,
    })
}

fn transport(e: &reqwest::Error) -> String {
    // reqwest's message names the URL; the cause chain says what happened.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}
