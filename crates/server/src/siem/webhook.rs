//! Webhooks: one POST per entry, signed with HMAC-SHA256 over the time and the body.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::body::Bytes;
use rustls_pki_types::ServerName;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::event::Event;
use super::net::connect;
use crate::store::audit::StoredEntry;
use crate::store::now;

/// The signature header of a webhook: `v1=` and the hex HMAC-SHA256 of
/// `TIMESTAMP.BODY` under the shared secret.
pub const SIGNATURE_HEADER: &str = "x-reclaim-signature";

/// The timestamp header of a webhook (Unix seconds), covered by the signature.
pub const TIMESTAMP_HEADER: &str = "x-reclaim-timestamp";

/// The entry's sequence number, also in the body: the receiver's key to drop repeats.
pub const SEQ_HEADER: &str = "x-reclaim-seq";

/// A receiver, its secret read at start.
pub(super) struct Webhook {
    pub(super) uri: hyper::Uri,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    pub(super) secret: Zeroizing<Vec<u8>>,
}

/// The webhook's signature of `body` sent at `timestamp`: `v1=` and the hex
/// HMAC-SHA256, under `secret`, of `TIMESTAMP.BODY`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub(super) async fn post(w: &Webhook, e: &StoredEntry, timeout: Duration) -> Result<(), String> {
    let body = Event::of(e).json().into_bytes();
    let timestamp = now();
    let sig = signature(&w.secret, timestamp, &body);
    let address = format!("{}:{}", w.host, w.port);
    let stream = connect(&address, w.tls.as_ref(), timeout).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("http: {e}"))?;
    let conn = tokio::spawn(conn);
    let path = w
        .uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let authority = w
        .uri
        .authority()
        .map_or(w.host.clone(), |a| a.as_str().to_string());
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "reclaim-siem/1")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, sig)
        .header(SEQ_HEADER, e.seq.to_string())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("http: {e}"))?;
    let answer = tokio::time::timeout(timeout, sender.send_request(request)).await;
    conn.abort();
    let response = answer
        .map_err(|_| "http: timed out".to_string())?
        .map_err(|e| format!("http: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("http status {}", response.status().as_u16()))
    }
}
