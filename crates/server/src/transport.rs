//! Connections: the accept loop, and how long and how many of them a client may hold.
//!
//! `axum::serve` has no header or body timeout, no idle timeout and no connection cap, so
//! a client trickling half a header, or holding a thousand silent sockets, kept them for
//! ever and could take every file descriptor. Here each connection is served by hyper's
//! HTTP/1.1 server with a watchdog beside it:
//!
//! - a request head must arrive within `header_timeout_s` of its first byte;
//! - a connection with no request in flight and no traffic for `idle_timeout_s` is closed
//!   (a silent new connection too, and a client that stops reading its response);
//! - a request body may pause at most `body_idle_timeout_s` between pieces and take at
//!   most `body_timeout_s` in all ([`TimedBody`]);
//! - at most `max_connections` connections at once, and `max_connections_per_address`
//!   from one address; beyond them a new connection is closed as soon as it is accepted,
//!   so it never waits in the backlog holding a descriptor.
//!
//! Each of these writes a `warn` line (the peer's address, never the request's content);
//! the cap's lines are throttled to one a second per kind, since an attack produces them
//! by the thousand. Behind a proxy (`trust_forwarded_for`) every connection comes from
//! the proxy, so the per-address cap is not applied: the overall cap still is.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::config::ServerConfig;

/// The most one connection buffers while reading (a request head, or body bytes not yet
/// taken by the handler).
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Serves `router` on `listener` until `shutdown` fires (or its sender is dropped), then
/// stops accepting, lets each connection finish the request it is serving, and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: ServerConfig,
    trust_forwarded_for: bool,
    mut shutdown: oneshot::Receiver<()>,
) {
    let shared = Arc::new(Shared {
        config,
        per_address: !trust_forwarded_for,
        open: Mutex::new(HashMap::new()),
        total: AtomicUsize::new(0),
        refused_total: Throttle::default(),
        refused_address: Throttle::default(),
        accept_failed: Throttle::default(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match shared.admit(peer.ip()) {
                    Ok(slot) => {
                        connections.spawn(connection(
                            stream,
                            peer,
                            router.clone(),
                            shared.clone(),
                            slot,
                            stop_rx.clone(),
                        ));
                    }
                    // Dropping the stream closes it at once.
                    Err(()) => drop(stream),
                },
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before it was
                    // accepted: wait a moment rather than spin on the error.
                    if let Some(suppressed) = shared.accept_failed.allow() {
                        tracing::warn!(error = %e, suppressed, "accepting a connection failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reaps finished connections, so the set holds only live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// What every connection shares: the settings and the count of open connections.
struct Shared {
    config: ServerConfig,
    per_address: bool,
    open: Mutex<HashMap<IpAddr, usize>>,
    total: AtomicUsize,
    refused_total: Throttle,
    refused_address: Throttle,
    accept_failed: Throttle,
}

impl Shared {
    /// A place for a new connection from `ip`, or `Err` (logged) when a cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, ()> {
        let limit = self.config.max_connections;
        if self.total.fetch_add(1, Ordering::AcqRel) >= limit {
            self.total.fetch_sub(1, Ordering::AcqRel);
            if let Some(suppressed) = self.refused_total.allow() {
                tracing::warn!(peer = %ip, limit, suppressed, "connection refused: overall limit");
            }
            return Err(());
        }
        if self.per_address {
            let limit = self.config.max_connections_per_address;
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let n = open.entry(ip).or_insert(0);
            if *n >= limit {
                drop(open);
                self.total.fetch_sub(1, Ordering::AcqRel);
                if let Some(suppressed) = self.refused_address.allow() {
                    tracing::warn!(peer = %ip, limit, suppressed, "connection refused: per-address limit");
                }
                return Err(());
            }
            *n += 1;
        }
        Ok(Slot {
            shared: self.clone(),
            ip,
        })
    }
}

/// One open connection's place in the counts; given back when dropped.
struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.total.fetch_sub(1, Ordering::AcqRel);
        if self.shared.per_address {
            let mut open = self.shared.open.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = open.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

/// Lets one log line a second through, and counts the ones it held back.
#[derive(Default)]
struct Throttle {
    last_s: AtomicU64,
    suppressed: AtomicU64,
}

impl Throttle {
    /// `Some(lines held back since the last one)` when a line may be written now.
    fn allow(&self) -> Option<u64> {
        let now_s = elapsed_ms() / 1000 + 1;
        let last = self.last_s.load(Ordering::Acquire);
        if last != now_s
            && self
                .last_s
                .compare_exchange(last, now_s, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::AcqRel));
        }
        self.suppressed.fetch_add(1, Ordering::AcqRel);
        None
    }
}

/// Milliseconds since the process first asked: the clock the atomics below keep.
fn elapsed_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis()
        .try_into()
        .unwrap_or(u64::MAX)
}

fn instant_at(ms: u64) -> Instant {
    let now_ms = elapsed_ms();
    let now = Instant::now();
    if ms >= now_ms {
        now + Duration::from_millis(ms - now_ms)
    } else {
        now.checked_sub(Duration::from_millis(now_ms - ms))
            .unwrap_or(now)
    }
}

/// What the watchdog knows of one connection, updated by its socket and its service.
struct Activity {
    /// The last time a byte moved either way.
    last_io_ms: AtomicU64,
    /// When the first byte of the next request head arrived, plus one; 0 while none has.
    head_started_ms: AtomicU64,
    /// Requests being handled (their response not yet produced).
    in_flight: AtomicUsize,
    /// Requests received on this connection.
    requests: AtomicU64,
    /// Wakes the watchdog when its deadline changes kind (a head starts, a response is
    /// produced).
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            last_io_ms: AtomicU64::new(elapsed_ms()),
            head_started_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn read(&self) {
        let now = elapsed_ms();
        self.last_io_ms.store(now, Ordering::Release);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let started = self.head_started_ms.compare_exchange(
                0,
                now + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            if started.is_ok() {
                self.changed.notify_one();
            }
        }
    }

    fn wrote(&self) {
        self.last_io_ms.store(elapsed_ms(), Ordering::Release);
    }

    /// When the connection's current timeout falls due, and which one it is.
    fn due(&self, config: &ServerConfig) -> (u64, Expiry) {
        let now = elapsed_ms();
        if self.in_flight.load(Ordering::Acquire) > 0 {
            // A handler is working (its body has its own timeouts, a judgement its
            // deadline): look again later.
            return (now + 1000 * config.idle_timeout_s, Expiry::None);
        }
        match self.head_started_ms.load(Ordering::Acquire) {
            0 => (
                self.last_io_ms.load(Ordering::Acquire) + 1000 * config.idle_timeout_s,
                Expiry::Idle,
            ),
            started => (started - 1 + 1000 * config.header_timeout_s, Expiry::Header),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Expiry {
    None,
    Idle,
    Header,
}

/// The handler side of a request: counted in flight until its response is produced.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.requests.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The next bytes read belong to the next request's head.
        self.0.head_started_ms.store(0, Ordering::Release);
        self.0.last_io_ms.store(elapsed_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    shared: Arc<Shared>,
    _slot: Slot,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let body_limits = BodyLimits {
        idle: Duration::from_secs(shared.config.body_idle_timeout_s),
        total: Duration::from_secs(shared.config.body_timeout_s),
        peer: peer.ip(),
    };
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let mut router = router.clone();
        let busy = InFlight::enter(service_activity.clone());
        // What `into_make_service_with_connect_info` gave handlers: the peer's address.
        request.extensions_mut().insert(ConnectInfo(peer));
        let request = request.map(|body| axum::body::Body::new(TimedBody::new(body, body_limits)));
        async move {
            let response: Result<axum::response::Response, Infallible> = router.call(request).await;
            drop(busy);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // The watchdog below keeps the header timeout; hyper's own would also cut idle
        // keep-alive connections at the (shorter) header timeout.
        .header_read_timeout(None)
        // hyper's default read buffer grows to 408 KiB; a head of this API fits in a few
        // KiB, and 512 connections x 64 KiB bounds what slow heads can hold.
        .max_buf_size(READ_BUFFER_BYTES)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let (due_ms, kind) = activity.due(&shared.config);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    // Most are a client going away; the ones worth knowing are timeouts
                    // and malformed requests, which hyper answers itself.
                    tracing::debug!(peer = %peer.ip(), error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep_until(instant_at(due_ms)) => {
                // Activity may have moved the deadline while this slept: look again.
                let (due_ms, kind_now) = activity.due(&shared.config);
                if kind_now != kind || kind == Expiry::None || elapsed_ms() < due_ms {
                    continue;
                }
                match kind {
                    Expiry::Header => tracing::warn!(
                        peer = %peer.ip(),
                        timeout_s = shared.config.header_timeout_s,
                        "header read timed out; connection closed"
                    ),
                    _ if activity.requests.load(Ordering::Acquire) == 0 => tracing::warn!(
                        peer = %peer.ip(),
                        timeout_s = shared.config.idle_timeout_s,
                        requests = 0,
                        "idle connection closed"
                    ),
                    _ => tracing::info!(
                        peer = %peer.ip(),
                        timeout_s = shared.config.idle_timeout_s,
                        "idle connection closed"
                    ),
                }
                // Dropping the connection closes the socket.
                return;
            }
            _ = activity.changed.notified() => continue,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A socket that tells the watchdog when bytes move.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[derive(Clone, Copy)]
struct BodyLimits {
    idle: Duration,
    total: Duration,
    peer: IpAddr,
}

/// The request body timed out: the client paused too long, or took too long in all.
#[derive(Debug, thiserror::Error)]
#[error("request body read timed out")]
pub struct BodyTimeout;

/// A request body that must keep coming: at most `idle` between pieces, `total` in all.
struct TimedBody {
    inner: Incoming,
    limits: BodyLimits,
    end: Instant,
    timer: Pin<Box<Sleep>>,
    timed_out: bool,
}

impl TimedBody {
    fn new(inner: Incoming, limits: BodyLimits) -> TimedBody {
        let now = Instant::now();
        let end = now + limits.total;
        TimedBody {
            inner,
            limits,
            end,
            timer: Box::pin(tokio::time::sleep_until(end.min(now + limits.idle))),
            timed_out: false,
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.timed_out {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = this.end.min(Instant::now() + this.limits.idle);
                this.timer.as_mut().reset(next);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if this.timer.as_mut().poll(cx).is_ready() {
                    this.timed_out = true;
                    tracing::warn!(
                        peer = %this.limits.peer,
                        idle_timeout_s = this.limits.idle.as_secs(),
                        timeout_s = this.limits.total.as_secs(),
                        "request body read timed out"
                    );
                    return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
