//! SIEM export: every audit entry also leaves the server, through up to three sinks
//! configured in `[siem]` (docs/siem.md): JSON lines appended to a file, RFC 5424 syslog
//! over TCP or TLS (RFC 6587 octet counting, RFC 5425), and webhooks signed with
//! HMAC-SHA256.
//!
//! The audit table is the outbox: an entry is committed with the change it records, so
//! nothing needs writing beside it. Each sink has a cursor in the database (the last
//! `seq` it delivered); a worker per sink reads the entries after it, in order, delivers
//! them, and moves the cursor only once the sink took them. A sink that is down keeps its
//! cursor, and is retried with exponential backoff, across restarts. Entry numbers are
//! committed in order (an append holds the chain's head row until it commits), so a
//! cursor never skips an entry that commits later.
//!
//! Instances sharing the database take a lease on a sink's cursor before delivering, so
//! one delivers at a time. Delivery is at least once: an entry delivered but not yet
//! recorded when the process dies is delivered again after the restart, with the same
//! `seq` and `hash`, the receiver's key to drop the repeat. A cursor also keeps the MAC of
//! the entry it delivered last: when the chain no longer holds it (a cut tail, a restored
//! backup), the sink starts over, so the chain's own finding reaches the SIEM rather than
//! hiding behind numbers it already had.
//!
//! What leaves is what the chain holds: digests, codes and references, never a secret
//! (audit.rs). A sink's failures are logged with the sink's name and the error (never the
//! webhook secret or URL), and the first failure of a series, and the recovery after it,
//! are audit entries of their own (`siem_sink_failed`, `siem_sink_recovered`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::audit::{self, Entry};
use crate::config::{ConfigError, SiemConfig};
use crate::crypto::new_id;
use crate::notify::backoff;
use crate::store::audit::StoredEntry;
use crate::store::{self, now, StoreError};
use crate::App;

mod event;
pub(crate) mod net;
mod syslog;
mod webhook;

pub use event::{rfc3339, Event};
pub use syslog::{syslog_message, APP_NAME, SD_ID};
pub use webhook::{signature, SEQ_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use net::{connect, tls_config};
use syslog::{host_of, this_hostname, Syslog};
use webhook::{post, Webhook};

/// The audit entry written when a sink starts failing.
pub const SINK_FAILED: &str = "siem_sink_failed";

/// The audit entry written when the chain no longer holds what a sink delivered last.
pub const SINK_REWOUND: &str = "siem_chain_rewound";
/// The audit entry written when a failing sink delivers again.
pub const SINK_RECOVERED: &str = "siem_sink_recovered";

/// At most one failure of a sink on record per this long, per instance.
const RECORD_EVERY: Duration = Duration::from_secs(15 * 60);
/// How often an idle worker looks for new entries.
const POLL: Duration = Duration::from_secs(1);

/// The shortest webhook secret accepted, bytes.
const MIN_SECRET_LEN: usize = 16;

/// The configured sinks, ready to deliver (secrets read, TLS set up, the file openable).
pub struct Sinks {
    list: Vec<Arc<Sink>>,
    retry_base_s: u64,
    batch: i64,
    timeout: Duration,
}

struct Sink {
    /// The cursor's key and the name in logs: `file`, `syslog`, `webhook`.
    name: &'static str,
    target: Target,
    /// When this instance last put a failure of this sink on record, and whether it left
    /// the current series off the record.
    on_record: std::sync::Mutex<(Option<std::time::Instant>, bool)>,
}

impl Sink {
    fn new(name: &'static str, target: Target) -> Sink {
        Sink {
            name,
            target,
            on_record: std::sync::Mutex::new((None, false)),
        }
    }

    /// Whether a failure opening a series goes on record: at most once per
    /// [`RECORD_EVERY`] on this instance, so a sink that fails and recovers by turns (a
    /// receiver answering every other request with an error, a network cutting every
    /// other connection) does not grow the chain by two entries a turn. The warnings in
    /// the log stay.
    fn record_failure(&self) -> bool {
        let Ok(mut state) = self.on_record.lock() else {
            return true;
        };
        let due = state.0.is_none_or(|t| t.elapsed() >= RECORD_EVERY);
        *state = if due {
            (Some(std::time::Instant::now()), false)
        } else {
            (state.0, true)
        };
        due
    }

    /// Whether the recovery that ends a series goes on record: unless this instance left
    /// the series' failure off it.
    fn record_recovery(&self) -> bool {
        let Ok(mut state) = self.on_record.lock() else {
            return true;
        };
        !std::mem::replace(&mut state.1, false)
    }
}

enum Target {
    File(PathBuf),
    Syslog(Syslog),
    Webhook(Webhook),
}

impl Sinks {
    /// The sinks of `cfg`, with `env` for a webhook secret kept in the environment. A
    /// secret that cannot be read, a CA file without a certificate or a file that cannot
    /// be opened is an error here, at start, rather than a delivery failure later.
    pub fn open(
        cfg: &SiemConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Sinks, ConfigError> {
        let mut list = Vec::new();
        if let Some(f) = &cfg.file {
            open_file(&f.path)
                .map_err(|e| ConfigError(format!("siem.file.path {}: {e}", f.path.display())))?;
            list.push(Sink::new("file", Target::File(f.path.clone())));
        }
        if let Some(s) = &cfg.syslog {
            let host = host_of(&s.address);
            let tls = if s.tls {
                let name = s.server_name.clone().unwrap_or_else(|| host.to_string());
                let name = ServerName::try_from(name.clone()).map_err(|_| {
                    ConfigError(format!("siem.syslog: `{name}` is not a TLS server name"))
                })?;
                let config = tls_config(s.ca_file.as_deref())
                    .map_err(|e| ConfigError(format!("siem.syslog: {e}")))?;
                Some((config, name))
            } else {
                None
            };
            list.push(Sink::new(
                "syslog",
                Target::Syslog(Syslog {
                    address: s.address.clone(),
                    tls,
                    hostname: s.hostname.clone().unwrap_or_else(this_hostname),
                }),
            ));
        }
        if let Some(w) = &cfg.webhook {
            let uri: hyper::Uri = w
                .url
                .parse()
                .map_err(|_| ConfigError("siem.webhook.url is not a URL".into()))?;
            let https = uri.scheme_str() == Some("https");
            let host = uri
                .host()
                .ok_or_else(|| ConfigError("siem.webhook.url has no host".into()))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let tls = if https {
                let name = ServerName::try_from(host.clone()).map_err(|_| {
                    ConfigError(format!("siem.webhook: `{host}` is not a TLS server name"))
                })?;
                let config = tls_config(w.ca_file.as_deref())
                    .map_err(|e| ConfigError(format!("siem.webhook: {e}")))?;
                Some((config, name))
            } else {
                None
            };
            let secret = match (&w.secret_file, &w.secret_env) {
                (Some(path), _) => std::fs::read_to_string(path)
                    .map_err(|e| {
                        ConfigError(format!("siem.webhook.secret_file {}: {e}", path.display()))
                    })?
                    .trim()
                    .to_string(),
                (None, Some(var)) => env(var)
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "siem.webhook.secret_env: the environment has no {var}"
                        ))
                    })?
                    .trim()
                    .to_string(),
                (None, None) => {
                    return Err(ConfigError(
                        "siem.webhook needs secret_file or secret_env".into(),
                    ))
                }
            };
            let secret = Zeroizing::new(secret.into_bytes());
            if secret.len() < MIN_SECRET_LEN {
                return Err(ConfigError(format!(
                    "siem.webhook: the secret must be at least {MIN_SECRET_LEN} bytes"
                )));
            }
            list.push(Sink::new(
                "webhook",
                Target::Webhook(Webhook {
                    uri,
                    host,
                    port,
                    tls,
                    secret,
                }),
            ));
        }
        Ok(Sinks {
            list: list.into_iter().map(Arc::new).collect(),
            retry_base_s: cfg.retry_base_s,
            batch: i64::from(cfg.batch),
            timeout: Duration::from_secs(cfg.timeout_s),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How long a worker holds a sink's lease per delivery: a connect, a handshake and a
    /// write (or an HTTP exchange), each within the timeout, with room to spare.
    fn lease_s(&self) -> i64 {
        (self.timeout.as_secs() as i64) * 4 + 5
    }
}

/// The exporters of this instance; aborted when dropped (with the background worker).
pub struct Exporters(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Exporters {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Starts one exporter per configured sink.
pub fn spawn(app: Arc<App>) -> Exporters {
    // The lease holder's name; without the system's randomness (which every other secret
    // of the server needs too) the process id and start time still tell instances apart.
    let owner = new_id().unwrap_or_else(|_| format!("pid-{}-{}", std::process::id(), now()));
    Exporters(
        app.siem
            .list
            .iter()
            .map(|sink| {
                let (app, sink, owner) = (app.clone(), sink.clone(), owner.clone());
                tokio::spawn(async move {
                    loop {
                        let more = match deliver_round(&app, &sink, &owner).await {
                            Ok(more) => more,
                            Err(e) => {
                                tracing::warn!(
                                    sink = sink.name,
                                    code = e.code().as_str(),
                                    "SIEM export: the database failed"
                                );
                                false
                            }
                        };
                        if !more {
                            tokio::time::sleep(POLL).await;
                        }
                    }
                })
            })
            .collect(),
    )
}

/// Delivers what `sink` has not yet delivered, up to a batch, if its lease can be had;
/// whether a full batch went (so more may be waiting).
async fn deliver_round(app: &App, sink: &Sink, owner: &str) -> Result<bool, StoreError> {
    let sinks = &app.siem;
    // Reads first: an idle sink (the usual case, every second) takes no write lock.
    let head = store::audit::head_seq(&app.store).await?;
    match store::siem::position(&app.store, sink.name).await? {
        None => store::siem::ensure(&app.store, sink.name).await?,
        Some((seq, hash)) if seq == head && still_holds(app, seq, &hash).await? => {
            return Ok(false)
        }
        Some(_) => {}
    }
    let t = now();
    let Some(cursor) =
        store::siem::claim(&app.store, sink.name, owner, t, t + sinks.lease_s()).await?
    else {
        return Ok(false);
    };
    if cursor.delivered_seq > head
        || !still_holds(app, cursor.delivered_seq, &cursor.delivered_hash).await?
    {
        // The chain was cut or rewritten under the sink (a restored backup, or someone
        // deleting the tail): what it holds from here is not what the SIEM has. The
        // entries go again from the start, and the receiver tells a repeat (same `seq`,
        // same `hash`) from a rewrite (same `seq`, another `hash`). Never silence: the
        // chain's own finding (`audit_head_invalid`) is among what goes.
        tracing::error!(
            target: "reclaim::audit",
            sink = sink.name,
            delivered_seq = cursor.delivered_seq,
            head,
            "SIEM export: the chain no longer holds the entry this sink delivered last; delivering again from the start"
        );
        store::siem::rewind(&app.store, sink.name, owner).await?;
        record(
            app,
            SINK_REWOUND,
            sink.name,
            serde_json::json!({ "sink": sink.name, "delivered_seq": cursor.delivered_seq, "head_seq": head }),
        )
        .await;
        return Ok(true);
    }
    let entries =
        store::audit::entries_after(&app.store, (cursor.delivered_seq, head), sinks.batch).await?;
    if entries.is_empty() {
        store::siem::release(&app.store, sink.name, owner).await?;
        return Ok(false);
    }
    let full = entries.len() as i64 == sinks.batch;
    // A webhook takes one entry per request, so its cursor moves after each; the file and
    // syslog take the batch in one write.
    let chunk = match sink.target {
        Target::Webhook(_) => 1,
        _ => entries.len(),
    };
    let mut from = cursor.delivered_seq;
    for part in entries.chunks(chunk) {
        // The whole exchange is bounded too, not only each step of it.
        let result = tokio::time::timeout(sinks.timeout * 3, deliver(sinks, sink, part))
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        match result {
            Ok(()) => {
                let Some(last) = part.last() else { continue };
                let (to, lease) = (last.seq, now() + sinks.lease_s());
                let moved = (from, to, last.hash.as_str());
                if !store::siem::advance(&app.store, sink.name, owner, moved, lease).await? {
                    // Another instance took the lease over (ours ran out): it delivers from
                    // where the cursor is; what we sent twice carries the same seq.
                    tracing::warn!(
                        sink = sink.name,
                        "SIEM export: lease lost; stopping this round"
                    );
                    return Ok(false);
                }
                if cursor.failures > 0 && from == cursor.delivered_seq && sink.record_recovery() {
                    tracing::info!(
                        sink = sink.name,
                        failures = cursor.failures,
                        "SIEM export: the sink delivers again"
                    );
                    record(
                        app,
                        SINK_RECOVERED,
                        sink.name,
                        serde_json::json!({ "sink": sink.name, "failures": cursor.failures }),
                    )
                    .await;
                }
                from = to;
            }
            Err(error) => {
                // Entries delivered earlier in this round cleared the old series.
                let failures = if from == cursor.delivered_seq {
                    cursor.failures + 1
                } else {
                    1
                };
                let delay = backoff(sinks.retry_base_s, failures);
                store::siem::failed(&app.store, sink.name, owner, failures, now() + delay).await?;
                tracing::warn!(
                    sink = sink.name,
                    failures,
                    retry_in_s = delay,
                    error = %error,
                    "SIEM export: delivery failed; will retry"
                );
                if failures == 1 && sink.record_failure() {
                    // The first failure of a series is itself a security event (an
                    // attacker silencing the SIEM); the retries that follow are only logged,
                    // so a sink that stays down does not fill the chain.
                    record(
                        app,
                        SINK_FAILED,
                        sink.name,
                        serde_json::json!({ "sink": sink.name, "error": error }),
                    )
                    .await;
                }
                return Ok(false);
            }
        }
    }
    if !full {
        store::siem::release(&app.store, sink.name, owner).await?;
    }
    Ok(full)
}

/// Whether the chain still holds, as entry `seq`, the entry whose MAC is `hash` (entry 0,
/// before the first, always).
async fn still_holds(app: &App, seq: i64, hash: &str) -> Result<bool, StoreError> {
    if seq == 0 {
        return Ok(true);
    }
    let now = store::audit::entry_hash(&app.store, seq).await?;
    Ok(now.is_some_and(|h| crate::crypto::eq_ct(h.as_bytes(), hash.as_bytes())))
}

async fn record(app: &App, kind: &str, sink: &str, detail: serde_json::Value) {
    let entry = Entry {
        kind,
        actor: "server",
        subject: &format!("siem:{sink}"),
        detail,
    };
    if let Err(e) = audit::append(&app.store, &app.keys, entry).await {
        tracing::warn!(
            sink,
            code = e.code().as_str(),
            "SIEM export: could not audit {kind}"
        );
    }
}

async fn deliver(sinks: &Sinks, sink: &Sink, entries: &[StoredEntry]) -> Result<(), String> {
    match &sink.target {
        Target::File(path) => {
            let mut text = String::new();
            for e in entries {
                text.push_str(&Event::of(e).json());
                text.push('\n');
            }
            let path = path.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                let mut f = open_file(&path)?;
                f.write_all(text.as_bytes())?;
                // On disk before the cursor moves past it.
                f.sync_data()
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
        }
        Target::Syslog(s) => {
            let mut frames = Vec::new();
            for e in entries {
                let msg = syslog_message(e, &s.hostname);
                // RFC 6587 octet counting (RFC 5425 frames the same way over TLS).
                frames.extend_from_slice(format!("{} ", msg.len()).as_bytes());
                frames.extend_from_slice(msg.as_bytes());
            }
            let mut stream = connect(&s.address, s.tls.as_ref(), sinks.timeout).await?;
            let write = async {
                stream.write_all(&frames).await?;
                stream.flush().await?;
                // Our side closed (TLS close_notify, then FIN) only says the bytes left
                // this process. The collector closes its side once it has read everything
                // before our close: until then a dead network, or a collector that accepts
                // and never reads, would look like one that took the messages.
                stream.shutdown().await?;
                let mut rest = [0u8; 256];
                loop {
                    match stream.read(&mut rest).await {
                        Ok(0) => return Ok(()),
                        Ok(_) => continue,
                        // A collector that closes without its own close_notify has still
                        // read what came before our close.
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
            };
            tokio::time::timeout(sinks.timeout, write)
                .await
                .map_err(|_| "write timed out".to_string())?
                .map_err(|e| format!("write: {e}"))
        }
        Target::Webhook(w) => {
            for e in entries {
                post(w, e, sinks.timeout).await?;
            }
            Ok(())
        }
    }
}

/// Opens the JSON-lines file for appending, created owner-only. Not through a symbolic
/// link (which could point the export at any file the server may write), not anything
/// but a regular file (a FIFO would block the writer), and not a file others can read.
fn open_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    let refuse = |why: &str| {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            why.to_string(),
        ))
    };
    if !meta.file_type().is_file() {
        return refuse("not a regular file");
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return refuse("readable or writable by others (make it 0600)");
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, detail: &str) -> StoredEntry {
        StoredEntry {
            seq: 7,
            at: 1_700_000_000,
            kind: kind.into(),
            actor: "device:k\"1]".into(),
            subject: "user:demo:avery".into(),
            detail: detail.into(),
            prev_hash: "00".into(),
            hash: "ab".into(),
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn a_syslog_message_is_rfc5424_with_escaped_structured_data() {
        let m = syslog_message(&entry("decision", r#"{"verdict":"approve"}"#), "host1");
        let expected_head = format!(
            "<85>1 2023-11-14T22:13:20Z host1 reclaim {} decision [reclaim@32473 seq=\"7\" actor=\"device:k\\\"1\\]\" subject=\"user:demo:avery\" hash=\"ab\"] {{",
            std::process::id()
        );
        assert!(m.starts_with(&expected_head), "{m}");
        let body: serde_json::Value =
            serde_json::from_str(&m[m.find("] {").unwrap() + 2..]).unwrap();
        assert_eq!(body["detail"]["verdict"], "approve");
        assert_eq!(body["seq"], 7);
        let warn = syslog_message(&entry("attestation_refused", "{}"), "h");
        assert!(warn.starts_with("<84>1 "), "{warn}");
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = signature(b"0123456789abcdef", 100, b"{}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, signature(b"0123456789abcdef", 101, b"{}"));
        assert_ne!(a, signature(b"0123456789abcdef", 100, b"{ }"));
        assert_ne!(a, signature(b"0123456789abcdeF", 100, b"{}"));
    }

    #[test]
    fn bad_sinks_are_refused_at_start() {
        let parse =
            |extra: &str| crate::Config::parse(&format!("{}{extra}", crate::config::tests::BASE));
        assert!(parse("[siem.webhook]\nurl = \"ftp://x\"\nsecret_env = \"S\"\n").is_err());
        assert!(parse("[siem.webhook]\nurl = \"https://x/\"\n").is_err());
        assert!(parse("[siem.syslog]\naddress = \"nohost\"\n").is_err());
        assert!(parse("[siem.webhook]\nurl = \"https://u:p@x/\"\nsecret_env = \"S\"\n").is_err());
        // Events in the clear over a network: not without saying so (syslog), not at all
        // (a webhook beyond this machine).
        assert!(
            parse("[siem.webhook]\nurl = \"http://siem.example.test/\"\nsecret_env = \"S\"\n")
                .is_err()
        );
        assert!(
            parse("[siem.webhook]\nurl = \"http://127.0.0.1:9/\"\nsecret_env = \"S\"\n").is_ok()
        );
        let syslog = parse("[siem.syslog]\naddress = \"siem.example.test:6514\"\n").unwrap();
        assert!(syslog.siem.syslog.is_some_and(|s| s.tls));
        let missing = parse(
            "[siem.webhook]\nurl = \"https://siem.example.test/in\"\nsecret_file = \"/nonexistent/secret\"\n",
        )
        .unwrap();
        let e = Sinks::open(&missing.siem, |_| None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("secret_file /nonexistent/secret"), "{e}");
        let short = parse(
            "[siem.webhook]\nurl = \"https://siem.example.test/in\"\nsecret_env = \"HOOK\"\n",
        )
        .unwrap();
        let e = Sinks::open(&short.siem, |_| Some("short".into()))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("at least 16 bytes") && !e.contains("short"),
            "{e}"
        );
        assert!(Sinks::open(&short.siem, |_| Some("a secret of enough length".into())).is_ok());
    }

    #[test]
    fn the_file_is_opened_only_as_a_private_regular_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("reclaim-siem-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&fresh);
        open_file(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Through a link to another file: refused, and the target untouched.
        let target = dir.join("elsewhere");
        std::fs::write(&target, b"").unwrap();
        let link = dir.join("link.jsonl");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_file(&link).is_err());
        // A file others can read.
        let open = dir.join("open.jsonl");
        std::fs::write(&open, b"").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(open_file(&open).is_err());
        // A directory.
        assert!(open_file(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
