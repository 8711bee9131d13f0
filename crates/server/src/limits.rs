//! Abuse limits kept in the database, so every instance sees the same counts.
//!
//! Three kinds of count, each chosen so that it stops a guesser without handing a stranger
//! a switch that locks the real person out (docs/server.md, "Limits and lockout"):
//!
//! - **Fixed-window rate limits** ([`hit`], [`hit_all`]): session starts per address,
//!   device and login. A request is checked first and counted only when admitted, so a
//!   refused request writes nothing and the table grows with admitted sessions only.
//! - **Failed sessions per device and per address** ([`failed_sessions_wait`]): sessions
//!   of a self-registered (unmanaged) device that ended without approval (rejected,
//!   abandoned, expired, or refused on the device and never sent) in a sliding window,
//!   counted from the sessions table itself. They stop one device, or one network, from
//!   going on guessing; managed and hardware devices (the kiosk behind the office NAT) are
//!   not counted here, so a stranger's failures cannot lock them.
//! - **The biometric lockout per login** ([`biometric_state`], [`biometric_failure`]),
//!   NIST SP 800-63B-4: after a run of failed verifications the login waits, at least
//!   30 s, doubling with each further failure, up to an hour. One counter per login and
//!   *channel*: failures from unmanaged devices lock only the unmanaged channel, failures
//!   at managed or hardware devices lock both. The run decays (one failure forgotten per
//!   `biometric_decay_s` without one), so an occasional failure never keeps a lock on.
//!
//! Keys are built from the login as typed (trimmed, lower-cased), never from the directory
//! record: known and unknown logins are limited alike, and locking one alias of an account
//! does not lock another, so the limits cannot show which logins exist or belong together.
//!
//! Rows carry `expires_at`, after which they mean nothing; [`prune`] deletes them (the
//! background worker calls it).

use reclaim_protocol::Code;

use crate::config::Limits;
use crate::devices::Tier;
use crate::error::ApiError;
use crate::store::{self, now, Store, StoreError};

/// Counts one event under `key` in a window of `window_s`; `Err(retry_after_s)` once
/// there have been `max`.
pub async fn hit(
    store: &Store,
    key: &str,
    window_s: i64,
    max: i64,
) -> Result<Result<(), i64>, StoreError> {
    hit_all(store, &[(key.to_string(), window_s, max)]).await
}

/// Counts one event under each `(key, window_s, max)`; `Err(retry_after_s)` when any is
/// at its limit. Checked first, with a read: a refused request writes nothing (no row for
/// a key never admitted, no count for a key already full). Admitted, all keys are counted
/// in one statement; two instances racing past the check are caught by the counts it
/// returns.
pub async fn hit_all(
    store: &Store,
    keys: &[(String, i64, i64)],
) -> Result<Result<(), i64>, StoreError> {
    if keys.is_empty() {
        return Ok(Ok(()));
    }
    let t = now();
    let names: Vec<&str> = keys.iter().map(|(k, _, _)| k.as_str()).collect();
    let mut wait = 0;
    for store::limits::Window { key, count, start } in
        store::limits::windows_of(store, &names).await?
    {
        if let Some((_, window_s, max)) = keys.iter().find(|(k, _, _)| *k == key) {
            if start + window_s > t && count >= *max {
                wait = wait.max(start + window_s - t);
                log_limited(&key, start + window_s - t);
            }
        }
    }
    if wait > 0 {
        return Ok(Err(wait));
    }

    let counted: Vec<(&str, i64)> = keys.iter().map(|(k, w, _)| (k.as_str(), *w)).collect();
    for store::limits::Window { key, count, start } in
        store::limits::count(store, t, &counted).await?
    {
        if let Some((_, window_s, max)) = keys.iter().find(|(k, _, _)| *k == key) {
            if count > *max {
                let w = (start + window_s - t).max(1);
                wait = wait.max(w);
                log_limited(&key, w);
            }
        }
    }
    Ok(if wait > 0 { Err(wait) } else { Ok(()) })
}

/// The part of a key that may be logged: the kind of limit, and the address or device it
/// counts (never a login, which is personal data typed by whoever asked).
fn loggable(key: &str) -> (&str, Option<&str>) {
    match key.split_once(':') {
        Some((kind @ ("addr" | "dev" | "devreg"), subject)) => (kind, Some(subject)),
        Some((kind, _)) => (kind, None),
        None => ("other", None),
    }
}

fn log_limited(key: &str, retry_after_s: i64) {
    let (limit, subject) = loggable(key);
    tracing::warn!(
        event = "limited",
        code = Code::RateLimited.as_str(),
        limit,
        subject,
        retry_after_s,
        "request refused by a rate limit"
    );
}

/// What the person can do instead of waiting, in the refusal's sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// From a self-registered device: the kiosk, a company laptop, the helpdesk.
    OtherChannel,
    /// At a managed or hardware device: the helpdesk.
    Helpdesk,
}

impl Advice {
    pub fn for_tier(tier: Tier) -> Advice {
        match tier {
            Tier::Unmanaged => Advice::OtherChannel,
            Tier::Managed | Tier::Hardware => Advice::Helpdesk,
        }
    }
}

/// A 429 with `Retry-After` and a sentence that says how to get through without waiting.
/// `code` is [`Code::RateLimited`] or [`Code::BiometricLocked`].
pub fn refusal(code: Code, retry_after_s: i64, advice: Advice) -> ApiError {
    let retry_after_s = retry_after_s.max(1);
    let elsewhere = match advice {
        Advice::OtherChannel => {
            "To go on now, use the IT walk-up kiosk or a company-managed laptop, or contact the IT helpdesk."
        }
        Advice::Helpdesk => "To go on now, contact the IT helpdesk.",
    };
    ApiError {
        retry_after_s: Some(retry_after_s),
        ..ApiError::new(
            code,
            format!("Too many attempts; try again in {retry_after_s} s. {elsewhere}"),
        )
    }
}

/// The session-start limits of one request: which keys count it, by the device's tier.
///
/// Self-registered devices are counted per address, per device, and per login *and
/// address*: a stranger's sessions for a login use up that login's quota on the
/// stranger's network only. Managed and hardware devices are counted per device and per
/// login on that channel, and not per address: a kiosk behind the office NAT shares its
/// address with anyone on the network, and its login quota is not reachable from a
/// self-registered device.
pub fn session_keys(
    limits: &Limits,
    tier: Tier,
    login_key: &str,
    device: &str,
    addr: &str,
) -> Vec<(String, i64, i64)> {
    let mut keys = vec![(
        format!("dev:{device}"),
        60,
        limits.requests_per_device_per_minute,
    )];
    match tier {
        Tier::Unmanaged => {
            keys.push((
                format!("addr:{addr}"),
                60,
                limits.sessions_per_address_per_minute,
            ));
            // An address never holds `|`, so the key is unambiguous.
            keys.push((
                format!("sess:u:{addr}|{login_key}"),
                3600,
                limits.sessions_per_user_per_hour,
            ));
        }
        Tier::Managed | Tier::Hardware => keys.push((
            format!("sess:m:{login_key}"),
            3600,
            limits.sessions_per_user_per_hour,
        )),
    }
    keys
}

/// Which count a failed-sessions lock came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Device,
    Address,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Device => "device",
            Scope::Address => "address",
        }
    }
}

/// Sessions that ended without approval (rejected, abandoned, expired, or refused on the
/// device and never sent: still `open`), started from `device` or from `addr` in the last
/// `failed_sessions_window_s`: `Some((scope, retry_after_s))` when either has reached its
/// limit. Read from the sessions table (two indexed queries), so it writes nothing and
/// needs no counter: the window slides, and a lock ends by itself as old sessions leave
/// it. Only for self-registered devices (see [`session_keys`]).
pub async fn failed_sessions_wait(
    store: &Store,
    limits: &Limits,
    device: &str,
    addr: &str,
) -> Result<Option<(Scope, i64)>, StoreError> {
    let t = now();
    let since = t - limits.failed_sessions_window_s;
    let mut wait: Option<(Scope, i64)> = None;
    for (scope, by, value, max) in [
        (
            Scope::Device,
            store::limits::FailedBy::Device,
            device,
            limits.failed_sessions_per_device,
        ),
        (
            Scope::Address,
            store::limits::FailedBy::Address,
            addr,
            limits.failed_sessions_per_address,
        ),
    ] {
        // The `max`-th most recent failed session: while it is in the window, there are
        // `max` of them, and the lock lasts until it leaves.
        if let Some(created) =
            store::limits::failed_session_at(store, by, value, since, max - 1).await?
        {
            let w = (created + limits.failed_sessions_window_s - t).max(1);
            if wait.is_none_or(|(_, longest)| w > longest) {
                wait = Some((scope, w));
            }
        }
    }
    if let Some((scope, w)) = wait {
        tracing::warn!(
            event = "limited",
            code = Code::BiometricLocked.as_str(),
            scope = scope.as_str(),
            device,
            address = addr,
            retry_after_s = w,
            "session start refused: too many failed sessions"
        );
    }
    Ok(wait)
}

/// The keys of a login's biometric lockout that an attempt from `tier` must respect:
/// an unmanaged device waits for failures on either channel; a managed or hardware device
/// only for failures at managed or hardware devices, so a stranger's self-registered
/// device cannot lock the kiosk.
pub fn login_keys(login_key: &str, tier: Tier) -> Vec<String> {
    match tier {
        Tier::Unmanaged => vec![format!("m:{login_key}"), format!("u:{login_key}")],
        Tier::Managed | Tier::Hardware => vec![format!("m:{login_key}")],
    }
}

/// The one key a failed attempt from `tier` counts against.
pub fn failure_key(login_key: &str, tier: Tier) -> String {
    match tier {
        Tier::Unmanaged => format!("u:{login_key}"),
        Tier::Managed | Tier::Hardware => format!("m:{login_key}"),
    }
}

/// The state of a login's biometric failures: `wait` is `Some(seconds)` while attempts
/// must wait; `failures` whether there is a run of failures to clear on success.
pub struct BiometricState {
    pub wait: Option<i64>,
    pub failures: bool,
}

/// The run left of `count` failures counted from `anchor`, after one per `unit` seconds
/// has decayed. Rows written before decay existed (`unit` 0) do not decay; they expire.
fn decayed(count: i64, anchor: i64, unit: i64, t: i64) -> i64 {
    if unit <= 0 {
        return count;
    }
    (count - (t - anchor).max(0) / unit).max(0)
}

/// The combined state of several keys (see [`login_keys`]): the longest wait, and whether
/// any has failures to clear. One query, whatever the number of keys.
pub async fn biometric_state(store: &Store, keys: &[String]) -> Result<BiometricState, StoreError> {
    let mut state = BiometricState {
        wait: None,
        failures: false,
    };
    if keys.is_empty() {
        return Ok(state);
    }
    let keys: Vec<String> = keys.iter().map(|k| format!("bio:{k}")).collect();
    let rows = store::limits::runs(store, &keys).await?;
    let t = now();
    for store::limits::Run {
        locked_until: until,
        count,
        anchor,
        unit,
    } in rows
    {
        if until > t {
            state.wait = Some(state.wait.unwrap_or(0).max(until - t));
        }
        if until > t || decayed(count, anchor, unit, t) > 0 {
            state.failures = true;
        }
    }
    Ok(state)
}

/// Records a failed verification against `key` (see [`failure_key`]); returns the run's
/// length after decay. From `limits.biometric_failures` on, the key is locked for
/// `biometric_delay_s`, doubled for each failure beyond, up to an hour.
///
/// The decay is one statement (two instances cannot lose a failure between a read and a
/// write): the run shrinks by one for every whole `biometric_decay_s` since its anchor,
/// and the anchor moves on by as many units, so the remainder keeps counting.
pub async fn biometric_failure(
    store: &Store,
    key: &str,
    limits: &Limits,
    session: &str,
) -> Result<i64, StoreError> {
    let t = now();
    let unit = limits.biometric_decay_s.max(1);
    let key = format!("bio:{key}");
    let (count, anchor) = store::limits::count_failure(store, &key, t, unit).await?;
    let mut locked_until = 0;
    if count >= limits.biometric_failures {
        let doublings = (count - limits.biometric_failures).min(7) as u32;
        let delay = limits
            .biometric_delay_s
            .saturating_mul(1 << doublings)
            .min(3600);
        locked_until = t + delay;
        tracing::warn!(
            event = "lockout",
            scope = "login",
            channel = if key.starts_with("bio:u:") {
                "unmanaged"
            } else {
                "managed"
            },
            session,
            failures = count,
            retry_after_s = delay,
            "failed verifications lock the login on this channel"
        );
    }
    // Never shortened by a racing failure's smaller delay; kept until the run has decayed
    // and the lock has passed.
    let expires_at = locked_until.max(anchor + count.saturating_mul(unit));
    store::limits::extend(store, &key, locked_until, expires_at).await?;
    Ok(count)
}

/// A success ends the run of failures.
pub async fn biometric_success(store: &Store, key: &str) -> Result<(), StoreError> {
    store::limits::delete(store, &format!("bio:{key}")).await?;
    Ok(())
}

/// A 429 for a login locked by [`biometric_state`], logged as a security event.
pub fn biometric_locked(wait: i64, tier: Tier, session: &str, device: &str) -> ApiError {
    tracing::warn!(
        event = "limited",
        code = Code::BiometricLocked.as_str(),
        scope = "login",
        tier = tier.as_str(),
        session,
        device,
        retry_after_s = wait,
        "attestation refused: the login is locked after failed verifications"
    );
    refusal(Code::BiometricLocked, wait, Advice::for_tier(tier))
}

/// Deletes the rows that no longer limit anything: fixed windows that have run out, and
/// runs of failures that have decayed with their lock passed. Returns how many.
pub async fn prune(store: &Store) -> Result<u64, StoreError> {
    prune_at(store, now()).await
}

/// [`prune`] for the background worker: a failure is logged, not returned (the next round
/// tries again).
pub async fn prune_in_background(store: &Store) {
    match prune(store).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(rows = n, "expired limits pruned"),
        Err(e) => tracing::warn!(code = e.code().as_str(), "pruning limits failed"),
    }
}

/// [`prune`] as of `t` (Unix seconds).
pub use crate::store::limits::prune_at;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_decays_one_failure_per_unit() {
        assert_eq!(decayed(5, 1000, 900, 1000), 5);
        assert_eq!(decayed(5, 1000, 900, 1899), 5);
        assert_eq!(decayed(5, 1000, 900, 1900), 4);
        assert_eq!(decayed(5, 1000, 900, 1000 + 5 * 900), 0);
        assert_eq!(decayed(5, 1000, 900, 999_999), 0);
        // A clock that went backwards does not add failures.
        assert_eq!(decayed(5, 1000, 900, 10), 5);
        // Rows from before the decay existed.
        assert_eq!(decayed(5, 1000, 0, 999_999), 5);
    }

    #[test]
    fn logins_never_reach_the_log() {
        assert_eq!(loggable("addr:192.0.2.1"), ("addr", Some("192.0.2.1")));
        assert_eq!(loggable("dev:abc"), ("dev", Some("abc")));
        assert_eq!(loggable("sess:m:avery.quinn"), ("sess", None));
        assert_eq!(loggable("sess:u:192.0.2.1|avery.quinn"), ("sess", None));
    }

    #[test]
    fn a_stranger_cannot_reach_the_managed_channel() {
        let l = Limits::default();
        // Unmanaged failures count on the unmanaged key only, which the kiosk never reads.
        let stranger = failure_key("blake.river", Tier::Unmanaged);
        assert!(!login_keys("blake.river", Tier::Managed).contains(&stranger));
        assert!(!login_keys("blake.river", Tier::Hardware).contains(&stranger));
        // Failures at the kiosk hold on every channel.
        let kiosk = failure_key("blake.river", Tier::Managed);
        assert!(login_keys("blake.river", Tier::Unmanaged).contains(&kiosk));
        // The session quota: a stranger's key is their network's, the kiosk's its own.
        let s = session_keys(&l, Tier::Unmanaged, "blake.river", "d1", "198.51.100.7");
        let k = session_keys(&l, Tier::Managed, "blake.river", "kiosk", "198.51.100.7");
        assert!(s.iter().all(|(a, _, _)| k.iter().all(|(b, _, _)| a != b)));
        assert!(k.iter().all(|(key, _, _)| !key.starts_with("addr:")));
    }

    #[test]
    fn the_refusal_says_where_to_go() {
        let e = refusal(Code::BiometricLocked, 42, Advice::OtherChannel);
        assert_eq!(e.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after_s, Some(42));
        assert!(e.message.contains("kiosk") && e.message.contains("helpdesk"));
        let e = refusal(Code::RateLimited, 0, Advice::Helpdesk);
        assert_eq!(e.retry_after_s, Some(1));
        assert!(e.message.contains("helpdesk"));
    }
}
