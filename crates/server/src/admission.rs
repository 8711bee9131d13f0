//! Admission: who gets the server's scarce places, so that one client cannot keep every
//! other person at `503 server_busy`, and people who share an address are not turned
//! away for each other.
//!
//! Four places bound what one instance holds:
//!
//! - **requests** in flight at once (`server.max_requests`), every route, and at most
//!   `server.max_connections_per_address` of them per address;
//! - **evidence uploads** (`server.max_evidence_uploads`): bodies of up to
//!   [`crate::http::MAX_BODY_BYTES`], admitted only after the session's token was checked;
//! - the **re-verification queue** (its judgements admitted, running or waiting for the
//!   engine), with at most one judgement per account in each [`Channel`];
//! - the **engine** itself (one judgement at a time: each uses every core), which a
//!   judgement must get and finish within `server.judgement_timeout_s`.
//!
//! Uploads and the queue are shared out by [`Client`], which the session's device decides
//! once its token has been checked. A self-registered (unmanaged) key says nothing about
//! who sends it, since anyone with our code can make keys by the dozen: such requests are
//! counted by address (one upload and one judgement in flight per address), and together
//! they may hold all but one place of each kind. A managed or hardware device was put
//! there by an administrator: it is counted per device (one of each in flight), so an
//! office's kiosks behind one NAT address are admitted side by side, and the place
//! unmanaged keys cannot take keeps the kiosks' channel open however many addresses an
//! attacker has.
//!
//! An account's judgements queue one at a time, since two at once would each check the
//! other's frames for a replay before they were stored; but they queue apart by
//! [`Channel`]: a stranger's self-registered key judging junk for the person's login
//! would otherwise keep the person's kiosk at `server_busy` for as long as it cared to
//! (and it can start sessions for any login). Two judgements of one account in different
//! channels at once would need a managed device on the attacker's side, and a managed
//! device's word already stands for what the tier says.
//!
//! A refusal is `503 server_busy` with `Retry-After`, before anything is spent: the
//! session stays usable, and the client sends the same attestation again. Each refusal
//! writes a `warn` line with its reason, the client's address and, for a managed or
//! hardware device, its key id (never the account).
//!
//! A judgement past its deadline is answered `server_busy` too. The engine's run itself
//! cannot be interrupted mid-model: it holds the engine, and its account stays busy, until
//! it returns, and its result is then thrown away (the session was not spent).

use reclaim_protocol::Code;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::ServerConfig;
use crate::devices::Tier;
use crate::error::ApiError;

/// The code of every admission refusal: the client knows to retry it.
pub const BUSY: Code = Code::ServerBusy;

/// Seconds the client is told to wait before trying again.
const RETRY_AFTER_S: i64 = 5;

/// Who asks for a place, as admission counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// An unmanaged (self-registered) device, or a request whose device is not known or
    /// may not act (a hand-off's first device): counted by its address.
    Address(String),
    /// A managed or hardware device: counted by its key, whatever address it shares.
    Device { key_id: String, addr: String },
}

/// The two ways in which clients reach the queue, whose places for one account are
/// counted apart: unmanaged (self-registered) keys, and managed and hardware devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Unmanaged,
    Managed,
}

impl Channel {
    pub fn of(tier: Tier) -> Channel {
        match tier {
            Tier::Unmanaged => Channel::Unmanaged,
            Tier::Managed | Tier::Hardware => Channel::Managed,
        }
    }

    /// The place `kind` of `account` in this channel.
    fn place(self, kind: &str, account: &str) -> String {
        let channel = match self {
            Channel::Unmanaged => "unmanaged",
            Channel::Managed => "managed",
        };
        format!("{kind}:{channel}:{account}")
    }
}

impl Client {
    /// The client a request from `addr` by the device `key_id` of `tier` is counted as.
    pub fn new(tier: Tier, key_id: &str, addr: &str) -> Client {
        match tier {
            Tier::Unmanaged => Client::Address(addr.to_string()),
            Tier::Managed | Tier::Hardware => Client::Device {
                key_id: key_id.to_string(),
                addr: addr.to_string(),
            },
        }
    }

    fn addr(&self) -> &str {
        match self {
            Client::Address(addr) | Client::Device { addr, .. } => addr,
        }
    }

    fn device(&self) -> Option<&str> {
        match self {
            Client::Address(_) => None,
            Client::Device { key_id, .. } => Some(key_id),
        }
    }

    fn channel(&self) -> Channel {
        match self {
            Client::Address(_) => Channel::Unmanaged,
            Client::Device { .. } => Channel::Managed,
        }
    }

    /// Its own place of `kind` (at most one in flight), and the reason a refusal names.
    fn own(&self, kind: &str) -> (String, usize, &'static str) {
        match self {
            Client::Address(addr) => (
                format!("{kind}:addr:{addr}"),
                1,
                if kind == "upload" {
                    "upload_per_address"
                } else {
                    "address"
                },
            ),
            Client::Device { key_id, .. } => (
                format!("{kind}:device:{key_id}"),
                1,
                if kind == "upload" {
                    "upload_per_device"
                } else {
                    "device"
                },
            ),
        }
    }
}

/// How many of `total` places unmanaged keys may hold together: all but one, so the
/// managed and hardware channel always has one (all of them when there is only one).
fn unmanaged_share(total: usize) -> usize {
    if total > 1 {
        total - 1
    } else {
        total
    }
}

pub struct Admission {
    requests: Arc<Semaphore>,
    uploads: Arc<Semaphore>,
    max_uploads: usize,
    queue: Arc<Semaphore>,
    engine: Arc<Semaphore>,
    /// Places held per client, account or channel (keys `request:`, `upload:`, `judge:`,
    /// `judge-account:CHANNEL:`, `account:CHANNEL:`, `unmanaged:`).
    held: Arc<Mutex<HashMap<String, usize>>>,
    /// Upload and queue places unmanaged keys may hold together.
    unmanaged_uploads: usize,
    unmanaged_judgements: usize,
    /// Requests in flight from one address.
    requests_per_address: usize,
    judgement_timeout: Duration,
    refused: AtomicU64,
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

const TRY_AGAIN: &str =
    "the server is verifying other requests; send the same attestation again in a few seconds";

impl Admission {
    /// `queue` and `engine` are the instance's re-verification queue and engine slots
    /// ([`crate::App::reverify_queue`], [`crate::App::reverify_slots`]), all of whose
    /// places are free.
    pub fn new(config: &ServerConfig, queue: Arc<Semaphore>, engine: Arc<Semaphore>) -> Self {
        Admission {
            requests: Arc::new(Semaphore::new(config.max_requests)),
            uploads: Arc::new(Semaphore::new(config.max_evidence_uploads)),
            max_uploads: config.max_evidence_uploads,
            unmanaged_uploads: unmanaged_share(config.max_evidence_uploads),
            unmanaged_judgements: unmanaged_share(queue.available_permits()),
            requests_per_address: config.max_connections_per_address,
            queue,
            engine,
            held: Arc::new(Mutex::new(HashMap::new())),
            judgement_timeout: Duration::from_secs(config.judgement_timeout_s),
            refused: AtomicU64::new(0),
        }
    }

    /// Refusals so far (every reason), for tests and operators.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Evidence uploads holding a place now, for tests and operators.
    pub fn uploads_in_flight(&self) -> usize {
        self.max_uploads
            .saturating_sub(self.uploads.available_permits())
    }

    fn busy(&self, reason: &'static str, client: Option<&Client>, message: &str) -> ApiError {
        self.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            reason,
            peer = client.map_or("-", Client::addr),
            device = client.and_then(Client::device).unwrap_or("-"),
            "admission refused: server busy"
        );
        ApiError {
            retry_after_s: Some(RETRY_AFTER_S),
            ..ApiError::new(BUSY, message)
        }
    }

    /// A place for one request of any route from `addr`, or `server_busy`: at most
    /// `max_connections_per_address` of them per address. Without a proxy the connection
    /// cap already bounds that; behind one (`trust_forwarded_for`) every connection is the
    /// proxy's, and this keeps one client from holding every request place.
    pub fn request(&self, addr: &str) -> Result<Pass, ApiError> {
        const MESSAGE: &str =
            "the server is handling too many requests; try again in a few seconds";
        let client = Client::Address(addr.to_string());
        let permit = self
            .requests
            .clone()
            .try_acquire_owned()
            .map_err(|_| self.busy("requests", Some(&client), MESSAGE))?;
        let key = (
            format!("request:addr:{addr}"),
            self.requests_per_address,
            "requests_per_address",
        );
        self.take(vec![key], permit)
            .map_err(|reason| self.busy(reason, Some(&client), MESSAGE))
    }

    /// A place to upload evidence for `client`: one in flight per client, all but one of
    /// `max_evidence_uploads` for unmanaged keys together. Held until the request's
    /// answer, so it bounds the evidence held in memory.
    pub fn upload(&self, client: &Client) -> Result<Pass, ApiError> {
        let permit = self
            .uploads
            .clone()
            .try_acquire_owned()
            .map_err(|_| self.busy("uploads", Some(client), TRY_AGAIN))?;
        let mut keys = vec![client.own("upload")];
        if let Client::Address(_) = client {
            keys.push((
                "unmanaged:upload".into(),
                self.unmanaged_uploads,
                "uploads_unmanaged",
            ));
        }
        self.take(keys, permit)
            .map_err(|reason| self.busy(reason, Some(client), TRY_AGAIN))
    }

    /// A place in the re-verification queue for `account`, asked by `client`: one
    /// judgement in flight per client and per account in the client's channel (including
    /// a run that outlived its deadline), and all but one place for unmanaged keys
    /// together.
    pub fn judgement(&self, client: &Client, account: &str) -> Result<Pass, ApiError> {
        let channel = client.channel();
        if self.holds(&channel.place("account", account)) {
            return Err(self.busy("account", Some(client), TRY_AGAIN));
        }
        let permit = self
            .queue
            .clone()
            .try_acquire_owned()
            .map_err(|_| self.busy("queue", Some(client), TRY_AGAIN))?;
        let mut keys = vec![
            client.own("judge"),
            (channel.place("judge-account", account), 1, "account"),
        ];
        if let Client::Address(_) = client {
            keys.push((
                "unmanaged:judge".into(),
                self.unmanaged_judgements,
                "queue_unmanaged",
            ));
        }
        self.take(keys, permit)
            .map_err(|reason| self.busy(reason, Some(client), TRY_AGAIN))
    }

    /// When a judgement that starts waiting for the engine now must be done.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.judgement_timeout
    }

    /// The engine, for `account`'s judgement in `channel`, if it comes free before
    /// `deadline`. Move the pass into the engine's task: the engine and the account (in
    /// that channel) stay taken until the run really ends, even after the request gave up
    /// on it.
    pub async fn engine(
        &self,
        channel: Channel,
        account: &str,
        deadline: Instant,
    ) -> Result<Pass, ApiError> {
        let permit =
            match tokio::time::timeout_at(deadline, self.engine.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => {
                    return Err(ApiError::new(
                        Code::ShuttingDown,
                        "the server is shutting down",
                    ))
                }
                Err(_) => return Err(self.overrun()),
            };
        // Cannot collide: the account's judgement place is held by the caller.
        let key = channel.place("account", account);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        *held.entry(key.clone()).or_insert(0) += 1;
        drop(held);
        Ok(Pass {
            held: self.held.clone(),
            keys: vec![key],
            _permit: permit,
        })
    }

    /// The answer to a judgement past its deadline.
    pub fn overrun(&self) -> ApiError {
        self.busy(
            "judgement_timeout",
            None,
            "verifying this request took too long; send the same attestation again in a few seconds",
        )
    }

    fn holds(&self, key: &str) -> bool {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(key).is_some_and(|n| *n > 0)
    }

    /// Takes each of `keys` (a key, how many may hold it at once, the reason a refusal
    /// names) with `permit`, or none of them.
    fn take(
        &self,
        keys: Vec<(String, usize, &'static str)>,
        permit: OwnedSemaphorePermit,
    ) -> Result<Pass, &'static str> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, reason)) = keys
            .iter()
            .find(|(key, limit, _)| held.get(key).is_some_and(|n| n >= limit))
        {
            return Err(reason);
        }
        for (key, _, _) in &keys {
            *held.entry(key.clone()).or_insert(0) += 1;
        }
        drop(held);
        Ok(Pass {
            held: self.held.clone(),
            keys: keys.into_iter().map(|(key, _, _)| key).collect(),
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

    fn unmanaged(addr: &str) -> Client {
        Client::new(Tier::Unmanaged, "ignored", addr)
    }

    fn kiosk(key_id: &str) -> Client {
        Client::new(Tier::Managed, key_id, "198.51.100.7")
    }

    #[test]
    fn one_judgement_per_address_and_per_account() {
        let a = admission();
        let first = a.judgement(&unmanaged("198.51.100.7"), "ref:1").unwrap();
        assert_eq!(
            a.judgement(&unmanaged("198.51.100.7"), "ref:2")
                .map(|_| ())
                .unwrap_err()
                .code,
            BUSY
        );
        assert_eq!(
            a.judgement(&unmanaged("203.0.113.9"), "ref:1")
                .map(|_| ())
                .unwrap_err()
                .code,
            BUSY
        );
        let other = a.judgement(&unmanaged("203.0.113.9"), "ref:2").unwrap();
        drop(first);
        let again = a.judgement(&unmanaged("198.51.100.7"), "ref:1").unwrap();
        drop((other, again));
        assert_eq!(a.refused(), 2);
    }

    #[test]
    fn one_address_cannot_hold_every_request_place() {
        let config = ServerConfig {
            max_requests: 8,
            max_connections_per_address: 3,
            ..ServerConfig::default()
        };
        let a = Admission::new(
            &config,
            Arc::new(Semaphore::new(4)),
            Arc::new(Semaphore::new(1)),
        );
        let theirs: Vec<_> = (0..3).map(|_| a.request("203.0.113.1").unwrap()).collect();
        assert_eq!(a.request("203.0.113.1").map(|_| ()).unwrap_err().code, BUSY);
        let others: Vec<_> = (0..5)
            .map(|i| a.request(&format!("198.51.100.{i}")).unwrap())
            .collect();
        assert!(a.request("192.0.2.1").is_err(), "every place is taken");
        drop((theirs, others));
    }

    #[test]
    fn one_upload_per_address() {
        let a = admission();
        let first = a.upload(&unmanaged("198.51.100.7")).unwrap();
        assert!(a.upload(&unmanaged("198.51.100.7")).is_err());
        let other = a.upload(&unmanaged("203.0.113.9")).unwrap();
        drop(first);
        assert!(a.upload(&unmanaged("198.51.100.7")).is_ok());
        drop(other);
    }

    #[test]
    fn devices_behind_one_address_are_counted_one_by_one() {
        let a = admission();
        let mut row = Vec::new();
        for i in 0..3 {
            let k = kiosk(&format!("kiosk-{i}"));
            row.push((
                a.upload(&k).unwrap(),
                a.judgement(&k, &format!("ref:{i}")).unwrap(),
            ));
        }
        // One place of each kind is left, but not for a device that holds one already.
        let again = kiosk("kiosk-0");
        assert!(a.upload(&again).is_err());
        assert!(a.judgement(&again, "ref:9").is_err());
        let k = kiosk("kiosk-3");
        row.push((a.upload(&k).unwrap(), a.judgement(&k, "ref:3").unwrap()));
        drop(row);
    }

    #[test]
    fn unmanaged_keys_leave_one_place_of_each_kind() {
        let a = admission();
        let mut held = Vec::new();
        for i in 0..3 {
            let c = unmanaged(&format!("203.0.113.{i}"));
            held.push((
                a.upload(&c).unwrap(),
                a.judgement(&c, &format!("ref:{i}")).unwrap(),
            ));
        }
        let late = unmanaged("203.0.113.99");
        assert!(a.upload(&late).is_err());
        assert!(a.judgement(&late, "ref:99").is_err());
        let k = kiosk("kiosk-0");
        let kiosk_places = (a.upload(&k).unwrap(), a.judgement(&k, "ref:100").unwrap());
        drop((held, kiosk_places));
    }

    #[test]
    fn a_lone_place_is_everyones() {
        let config = ServerConfig {
            max_evidence_uploads: 1,
            ..ServerConfig::default()
        };
        let a = Admission::new(
            &config,
            Arc::new(Semaphore::new(1)),
            Arc::new(Semaphore::new(1)),
        );
        let c = unmanaged("203.0.113.1");
        let places = (a.upload(&c).unwrap(), a.judgement(&c, "ref:1").unwrap());
        drop(places);
    }

    #[tokio::test]
    async fn a_run_past_its_deadline_keeps_its_account_busy_in_its_channel() {
        let a = admission();
        let pass = a.judgement(&unmanaged("198.51.100.7"), "ref:1").unwrap();
        let engine = a
            .engine(Channel::Unmanaged, "ref:1", a.deadline())
            .await
            .unwrap();
        // The request gave up (its pass dropped); the run goes on with the engine.
        drop(pass);
        assert!(a.judgement(&unmanaged("203.0.113.9"), "ref:1").is_err());
        let waiting = a.judgement(&unmanaged("203.0.113.9"), "ref:2").unwrap();
        let soon = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            a.engine(Channel::Unmanaged, "ref:2", soon)
                .await
                .map(|_| ())
                .unwrap_err()
                .code,
            BUSY
        );
        // The kiosk's channel is not held by it (it waits for the engine like anyone).
        let kiosk_pass = a.judgement(&kiosk("kiosk-0"), "ref:1").unwrap();
        drop(engine);
        assert!(a.judgement(&unmanaged("198.51.100.7"), "ref:1").is_ok());
        drop((waiting, kiosk_pass));
    }

    /// A stranger's self-registered key can start sessions for any login and have junk
    /// judged for it: its judgement for the person's account must not keep the person's
    /// kiosk out, while a second one from the stranger's side still waits its turn.
    #[test]
    fn an_unmanaged_key_cannot_hold_an_accounts_place_against_the_kiosk() {
        let a = admission();
        let stranger = a.judgement(&unmanaged("198.51.100.7"), "ref:1").unwrap();
        let at_the_kiosk = a.judgement(&kiosk("kiosk-0"), "ref:1").unwrap();
        // One judgement of the account per channel: another from either side waits.
        assert!(a.judgement(&unmanaged("203.0.113.9"), "ref:1").is_err());
        assert!(a.judgement(&kiosk("kiosk-1"), "ref:1").is_err());
        drop((stranger, at_the_kiosk));
        assert!(a.judgement(&kiosk("kiosk-1"), "ref:1").is_ok());
    }
}
