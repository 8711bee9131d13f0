//! Admission: who gets the server's scarce places, so that one client cannot keep every
//! other person at `503 server_busy`.
//!
//! Four places bound what one instance holds:
//!
//! - **requests** in flight at once (`server.max_requests`), every route;
//! - **evidence uploads** (`server.max_evidence_uploads`): bodies of up to
//!   [`crate::api::MAX_BODY_BYTES`], admitted only after the session's token was checked,
//!   and at most one per client address;
//! - the **re-verification queue** ([`crate::REVERIFY_QUEUE`] judgements admitted, running
//!   or waiting for the engine), with at most one judgement per address and one per
//!   account, so the queue's other places stay for other people;
//! - the **engine** itself (one judgement at a time: each uses every core), which a
//!   judgement must get and finish within `server.judgement_timeout_s`.
//!
//! A refusal is `503 server_busy` with `Retry-After`, before anything is spent: the
//! session stays usable, and the client sends the same attestation again. Each refusal
//! writes a `warn` line with its reason and the client's address (never the account).
//!
//! A judgement past its deadline is answered `server_busy` too. The engine's run itself
//! cannot be interrupted mid-model: it holds the engine, and its account stays busy, until
//! it returns, and its result is then thrown away (the session was not spent).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::api::ApiError;
use crate::config::ServerConfig;

/// The code of every admission refusal: the client knows to retry it.
pub const BUSY: &str = "server_busy";

/// Seconds the client is told to wait before trying again.
const RETRY_AFTER_S: i64 = 5;

pub struct Admission {
    requests: Arc<Semaphore>,
    uploads: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    engine: Arc<Semaphore>,
    /// Places held per address or account (keys `upload:`, `judge:`, `account:`).
    held: Arc<Mutex<HashMap<String, usize>>>,
    judgement_timeout: Duration,
}

/// A place taken; given back when dropped.
pub struct Pass {
    held: Arc<Mutex<HashMap<String, usize>>>,
    keys: Vec<String>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(n) = held.get_mut(key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    held.remove(key);
                }
            }
        }
    }
}

fn busy(reason: &'static str, addr: Option<&str>, message: &str) -> ApiError {
    tracing::warn!(
        reason,
        peer = addr.unwrap_or("-"),
        "admission refused: server busy"
    );
    ApiError {
        retry_after_s: Some(RETRY_AFTER_S),
        ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, BUSY, message)
    }
}

const TRY_AGAIN: &str =
    "the server is verifying other requests; send the same attestation again in a few seconds";

impl Admission {
    /// `queue` and `engine` are the instance's re-verification queue and engine slots
    /// ([`crate::App::reverify_queue`], [`crate::App::reverify_slots`]).
    pub fn new(config: &ServerConfig, queue: Arc<Semaphore>, engine: Arc<Semaphore>) -> Self {
        Admission {
            requests: Arc::new(Semaphore::new(config.max_requests)),
            uploads: Arc::new(Semaphore::new(config.max_evidence_uploads)),
            queue,
            engine,
            held: Arc::new(Mutex::new(HashMap::new())),
            judgement_timeout: Duration::from_secs(config.judgement_timeout_s),
        }
    }

    /// A place for one request of any route, or `server_busy`.
    pub fn request(&self, addr: &str) -> Result<OwnedSemaphorePermit, ApiError> {
        self.requests.clone().try_acquire_owned().map_err(|_| {
            busy(
                "requests",
                Some(addr),
                "the server is handling too many requests; try again in a few seconds",
            )
        })
    }

    /// A place to upload evidence from `addr`: one per address, `max_evidence_uploads` in
    /// all. Held until the request's answer, so it bounds the evidence held in memory.
    pub fn upload(&self, addr: &str) -> Result<Pass, ApiError> {
        let permit = self
            .uploads
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("uploads", Some(addr), TRY_AGAIN))?;
        self.take(vec![format!("upload:{addr}")], permit)
            .map_err(|_| busy("upload_per_address", Some(addr), TRY_AGAIN))
    }

    /// A place in the re-verification queue for `account` from `addr`: one judgement in
    /// flight per address and per account (including a run that outlived its deadline).
    pub fn judgement(&self, addr: &str, account: &str) -> Result<Pass, ApiError> {
        if self.holds(&format!("account:{account}")) {
            return Err(busy("account", Some(addr), TRY_AGAIN));
        }
        let permit = self
            .queue
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("queue", Some(addr), TRY_AGAIN))?;
        self.take(
            vec![format!("judge:{addr}"), format!("judge-account:{account}")],
            permit,
        )
        .map_err(|reason| busy(reason, Some(addr), TRY_AGAIN))
    }

    /// When a judgement that starts waiting for the engine now must be done.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.judgement_timeout
    }

    /// The engine, for `account`'s judgement, if it comes free before `deadline`. Move
    /// the pass into the engine's task: the engine and the account stay taken until the
    /// run really ends, even after the request gave up on it.
    pub async fn engine(&self, account: &str, deadline: Instant) -> Result<Pass, ApiError> {
        let permit =
            match tokio::time::timeout_at(deadline, self.engine.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => {
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "shutting_down",
                        "the server is shutting down",
                    ))
                }
                Err(_) => return Err(self.overrun()),
            };
        // Cannot collide: the account's judgement place is held by the caller.
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        *held.entry(format!("account:{account}")).or_insert(0) += 1;
        drop(held);
        Ok(Pass {
            held: self.held.clone(),
            keys: vec![format!("account:{account}")],
            _permit: permit,
        })
    }

    /// The answer to a judgement past its deadline.
    pub fn overrun(&self) -> ApiError {
        busy(
            "judgement_timeout",
            None,
            "verifying this request took too long; send the same attestation again in a few seconds",
        )
    }

    fn holds(&self, key: &str) -> bool {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(key).is_some_and(|n| *n > 0)
    }

    /// Takes `keys` (each at most once at a time) with `permit`, or none of them.
    fn take(&self, keys: Vec<String>, permit: OwnedSemaphorePermit) -> Result<Pass, &'static str> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(taken) = keys.iter().find(|k| held.get(*k).is_some_and(|n| *n > 0)) {
            return Err(if taken.starts_with("judge-account:") {
                "account"
            } else {
                "address"
            });
        }
        for key in &keys {
            *held.entry(key.clone()).or_insert(0) += 1;
        }
        drop(held);
        Ok(Pass {
            held: self.held.clone(),
            keys,
            _permit: permit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission() -> Admission {
        Admission::new(
            &ServerConfig::default(),
            Arc::new(Semaphore::new(4)),
            Arc::new(Semaphore::new(1)),
        )
    }

    #[test]
    fn one_judgement_per_address_and_per_account() {
        let a = admission();
        let first = a.judgement("198.51.100.7", "ref:1").unwrap();
        assert_eq!(
            a.judgement("198.51.100.7", "ref:2")
                .map(|_| ())
                .unwrap_err()
                .code,
            BUSY
        );
        assert_eq!(
            a.judgement("203.0.113.9", "ref:1")
                .map(|_| ())
                .unwrap_err()
                .code,
            BUSY
        );
        let other = a.judgement("203.0.113.9", "ref:2").unwrap();
        drop(first);
        let again = a.judgement("198.51.100.7", "ref:1").unwrap();
        drop((other, again));
    }

    #[test]
    fn one_upload_per_address() {
        let a = admission();
        let first = a.upload("198.51.100.7").unwrap();
        assert!(a.upload("198.51.100.7").is_err());
        let other = a.upload("203.0.113.9").unwrap();
        drop(first);
        assert!(a.upload("198.51.100.7").is_ok());
        drop(other);
    }

    #[tokio::test]
    async fn a_run_past_its_deadline_keeps_its_account_busy() {
        let a = admission();
        let pass = a.judgement("198.51.100.7", "ref:1").unwrap();
        let engine = a.engine("ref:1", a.deadline()).await.unwrap();
        // The request gave up (its pass dropped); the run goes on with the engine.
        drop(pass);
        assert!(a.judgement("203.0.113.9", "ref:1").is_err());
        let waiting = a.judgement("203.0.113.9", "ref:2").unwrap();
        let soon = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            a.engine("ref:2", soon).await.map(|_| ()).unwrap_err().code,
            BUSY
        );
        drop(engine);
        assert!(a.judgement("198.51.100.7", "ref:1").is_ok());
        drop(waiting);
    }
}
