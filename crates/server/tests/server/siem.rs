//! SIEM export (docs/siem.md): every audit entry reaches a JSON-lines file, a real
//! `rsyslog` (plain TCP and TLS, parsed by rsyslog's RFC 5424 parser) and a real HTTP
//! receiver that checks the webhook signature the way docs/siem.md tells a receiver to;
//! sinks that are down get everything once they are back, across a restart of the server,
//! and two instances on one database deliver each entry once. A chain cut under a sink is
//! sent again with its finding; a collector that reads nothing has received nothing.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use reclaim_server::{audit, store, App};
use reclaim_testkit::Rsyslog;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(sinks_that_are_down_get_every_entry_once_across_a_restart,);

const SECRET: &str = "a webhook secret of some length";

/// Appends `n` entries of a test kind; returns their sequence numbers.
async fn append(app: &App, n: usize) -> Vec<i64> {
    let mut seqs = Vec::new();
    for i in 0..n {
        let entry = audit::Entry {
            kind: "siem_test",
            actor: "test",
            subject: &format!("test:{i}"),
            detail: json!({ "n": i, "quote": "a \"quoted\" ] value" }),
        };
        seqs.push(audit::append(&app.store, &app.keys, entry).await.unwrap());
    }
    seqs
}

/// Every entry's sequence number and MAC, in order.
async fn chain(app: &App) -> BTreeMap<i64, String> {
    store::audit::entries(&app.store)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.hash))
        .collect()
}

/// Waits up to `limit` for `done`, which is polled every 100 ms.
async fn wait_until<F: std::future::Future<Output = bool>>(
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn siem_section(extra: &str) -> String {
    format!("[siem]\nretry_base_s = 1\ntimeout_s = 5\n{extra}")
}

// ---------------------------------------------------------------------------------------
// The HTTP receiver.

#[derive(Default)]
struct Received {
    requests: usize,
    /// Answered 503 on purpose (the first ones).
    refused: usize,
    /// Requests whose signature did not verify.
    forged: usize,
    /// The events accepted, in order of arrival.
    events: Vec<Value>,
}

#[derive(Clone)]
struct Receiver {
    state: Arc<Mutex<Received>>,
    secret: Vec<u8>,
    fail_first: usize,
    /// Refuses every other request (the first, the third, ...).
    flapping: bool,
    delay: Duration,
}

/// What a receiver following docs/siem.md does: recompute HMAC-SHA256 over
/// `TIMESTAMP.BODY` with the shared secret, compare in constant time, refuse a timestamp
/// more than five minutes away, and use `seq` and `hash` to drop repeats.
fn verify(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(ts) = headers
        .get("x-reclaim-timestamp")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Ok(t) = ts.parse::<i64>() else {
        return false;
    };
    if (unix_now() as i64 - t).abs() > 300 {
        return false;
    }
    let Some(sig) = headers
        .get("x-reclaim-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("v1="))
        .and_then(|v| hex::decode(v).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // A receiver that takes its time: a delivery round lasts long enough for another
    // instance's exporter to try to step in.
    tokio::time::sleep(r.delay).await;
    let mut s = r.state.lock().unwrap();
    s.requests += 1;
    if s.requests <= r.fail_first || (r.flapping && s.requests % 2 == 1) {
        s.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if !verify(&r.secret, &headers, &body) {
        s.forged += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        headers.get("x-reclaim-seq").unwrap().to_str().unwrap(),
        event["seq"].to_string()
    );
    s.events.push(event);
    StatusCode::NO_CONTENT
}

/// Starts the receiver on `port` (127.0.0.1).
async fn start_receiver(
    port: u16,
    fail_first: usize,
    delay: Duration,
) -> (Arc<Mutex<Received>>, tokio::task::JoinHandle<()>) {
    serve_receiver(port, fail_first, false, delay).await
}

async fn serve_receiver(
    port: u16,
    fail_first: usize,
    flapping: bool,
    delay: Duration,
) -> (Arc<Mutex<Received>>, tokio::task::JoinHandle<()>) {
    let state = Arc::new(Mutex::new(Received::default()));
    let receiver = Receiver {
        state: state.clone(),
        secret: SECRET.as_bytes().to_vec(),
        fail_first,
        flapping,
        delay,
    };
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (state, task)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn received_seqs(state: &Arc<Mutex<Received>>) -> Vec<i64> {
    state
        .lock()
        .unwrap()
        .events
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}

fn syslog_seqs(r: &Rsyslog) -> Vec<i64> {
    r.lines()
        .iter()
        .filter(|l| l.app_name == "reclaim")
        .map(|l| {
            let v: Value = serde_json::from_str(&l.msg).unwrap();
            v["seq"].as_i64().unwrap()
        })
        .collect()
}

/// A server exporting to `audit.jsonl` in the returned directory.
async fn with_file_sink() -> (TempDir, Harness) {
    let out = TempDir::new();
    let path = out.path().join("audit.jsonl");
    let options = Options {
        extra: siem_section(&format!("[siem.file]\npath = \"{}\"\n", path.display())),
        ..Options::default()
    };
    (out, Harness::with(Db::sqlite(), options).await)
}

// ---------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_sink_appends_every_entry_as_a_json_line() {
    let (out, mut h) = with_file_sink().await;
    let path = out.path().join("audit.jsonl");
    append(&h.app, 5).await;
    let read = || {
        std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let app = h.app.clone();
    wait_until(
        Duration::from_secs(20),
        "the file to hold the chain",
        || {
            let app = app.clone();
            let lines = read();
            async move { lines.len() == chain(&app).await.len() }
        },
    )
    .await;
    h.stop().await;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file is owner-only");
    let lines = read();
    let entries = chain(&h.app).await;
    assert_eq!(lines.len(), entries.len(), "each entry once");
    for (line, (seq, hash)) in lines.iter().zip(&entries) {
        assert_eq!(line["seq"].as_i64(), Some(*seq));
        assert_eq!(
            line["hash"].as_str(),
            Some(hash.as_str()),
            "the chain's own MAC"
        );
        let at = line["at"].as_str().unwrap();
        assert!(
            at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "{at}"
        );
        for key in ["kind", "actor", "subject"] {
            assert!(line[key].is_string(), "{key} in {line}");
        }
    }
    let test_line = lines.iter().find(|l| l["kind"] == "siem_test").unwrap();
    assert_eq!(test_line["detail"]["quote"], "a \"quoted\" ] value");
    assert_eq!(
        store::siem::delivered(&h.app.store, "file").await.unwrap(),
        entries.keys().last().copied()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_reaches_rsyslog_parsed_as_rfc5424() {
    let rsyslog = Rsyslog::start(true).expect("rsyslogd starts with TLS");
    let mut h = Harness::with(
        Db::sqlite(),
        Options {
            extra: siem_section(&format!(
                "[siem.syslog]\naddress = \"{}\"\ntls = true\nca_file = \"{}\"\nserver_name = \"localhost\"\nhostname = \"reclaim-test\"\n",
                rsyslog.address(),
                rsyslog.ca_file().display()
            )),
            ..Options::default()
        },
    )
    .await;
    append(&h.app, 3).await;
    let app = h.app.clone();
    wait_until(
        Duration::from_secs(20),
        "rsyslog to receive the chain",
        || {
            let app = app.clone();
            let got = syslog_seqs(&rsyslog);
            async move { got == chain(&app).await.into_keys().collect::<Vec<_>>() }
        },
    )
    .await;
    h.stop().await;
    let entries = store::audit::entries(&h.app.store).await.unwrap();
    let lines = rsyslog.lines();
    assert_eq!(lines.len(), entries.len());
    for (line, e) in lines.iter().zip(&entries) {
        assert_eq!(line.app_name, "reclaim");
        assert_eq!(line.msgid, e.kind, "MSGID is the event kind");
        assert!(
            line.structured_data
                .starts_with(&format!("[reclaim@32473 seq=\"{}\" ", e.seq)),
            "{}",
            line.structured_data
        );
        assert!(line
            .structured_data
            .ends_with(&format!("hash=\"{}\"]", e.hash)));
        let msg: Value = serde_json::from_str(&line.msg).unwrap();
        assert_eq!(msg["seq"].as_i64(), Some(e.seq));
        assert_eq!(msg["kind"].as_str(), Some(e.kind.as_str()));
    }
    let test_line = lines.iter().find(|l| l.msgid == "siem_test").unwrap();
    let msg: Value = serde_json::from_str(&test_line.msg).unwrap();
    assert_eq!(msg["detail"]["quote"], "a \"quoted\" ] value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_are_retried_and_two_instances_send_each_entry_once() {
    let secrets = TempDir::new();
    let secret_file = secrets.path().join("hook.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let port = free_port();
    // The first three requests are refused: the sink backs off and tries again.
    let (received, _task) = start_receiver(port, 3, Duration::from_millis(25)).await;
    let options = Options {
        extra: siem_section(&format!(
            "[siem.webhook]\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret_file = \"{}\"\n",
            secret_file.display()
        )),
        ..Options::default()
    };
    let mut h = Harness::with(Db::sqlite(), options.clone()).await;
    // A second instance on the same database, exporting too.
    let second = App::open(h.config_of_another_instance(&options))
        .await
        .unwrap();
    let second_server = reclaim_server::start(second.clone()).await.unwrap();
    append(&h.app, 25).await;
    append(&second, 25).await;
    let app = h.app.clone();
    let state = received.clone();
    wait_until(
        Duration::from_secs(60),
        "the receiver to get the chain",
        || {
            let app = app.clone();
            let got = received_seqs(&state);
            async move {
                let mut got = got;
                got.sort();
                got.dedup();
                got == chain(&app).await.into_keys().collect::<Vec<_>>()
            }
        },
    )
    .await;
    h.stop().await;
    second_server.stop().await;
    {
        let s = received.lock().unwrap();
        assert_eq!(s.forged, 0, "every request verified");
        assert_eq!(s.refused, 3);
        let seqs: Vec<i64> = s
            .events
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect();
        let mut sorted = seqs.clone();
        sorted.sort();
        assert_eq!(seqs, sorted, "in order");
        sorted.dedup();
        assert_eq!(seqs.len(), sorted.len(), "no entry twice: {seqs:?}");
    }
    let kinds = h.audit_kinds().await;
    assert!(
        kinds.iter().any(|k| k == "siem_sink_failed")
            && kinds.iter().any(|k| k == "siem_sink_recovered"),
        "{kinds:?}"
    );
}

/// rsyslog stopped and the receiver not listening while entries are appended; the
/// server stops and a new one starts on the same database; then both sinks come back and
/// get every entry, once, in order.
async fn sinks_that_are_down_get_every_entry_once_across_a_restart(db: Db) {
    let mut rsyslog = Rsyslog::start(false).expect("rsyslogd starts");
    let secrets = TempDir::new();
    let secret_file = secrets.path().join("hook.secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let port = free_port();
    let options = Options {
        extra: siem_section(&format!(
            "[siem.syslog]\naddress = \"{}\"\ntls = false\n[siem.webhook]\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret_file = \"{}\"\n",
            rsyslog.address(),
            secret_file.display()
        )),
        ..Options::default()
    };
    rsyslog.stop();
    let mut h = Harness::with(db, options.clone()).await;
    append(&h.app, 5).await;
    let app = h.app.clone();
    wait_until(
        Duration::from_secs(20),
        "both sinks to record their failure",
        || {
            let app = app.clone();
            async move {
                let kinds = audit_kinds(&app).await;
                kinds.iter().filter(|k| *k == "siem_sink_failed").count() == 2
            }
        },
    )
    .await;
    h.stop().await;
    assert_eq!(
        store::siem::delivered(&h.app.store, "syslog")
            .await
            .unwrap(),
        Some(0)
    );
    // The server again, on the same database; more entries while the sinks are still down.
    let app = App::open(h.config_of_another_instance(&options))
        .await
        .unwrap();
    let server = reclaim_server::start(app.clone()).await.unwrap();
    append(&app, 3).await;
    rsyslog.resume().unwrap();
    let (received, _task) = start_receiver(port, 0, Duration::ZERO).await;
    let state = received.clone();
    wait_until(
        Duration::from_secs(60),
        "both sinks to get the chain",
        || {
            let app = app.clone();
            let hooked = received_seqs(&state);
            let logged = syslog_seqs(&rsyslog);
            async move {
                let all: Vec<i64> = chain(&app).await.into_keys().collect();
                hooked == all && logged == all
            }
        },
    )
    .await;
    server.stop().await;
    let all: Vec<i64> = chain(&app).await.into_keys().collect();
    assert_eq!(received_seqs(&received), all, "each entry once, in order");
    assert_eq!(syslog_seqs(&rsyslog), all, "each entry once, in order");
    assert_eq!(received.lock().unwrap().forged, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_sink_stops_the_start() {
    let dir = TempDir::new();
    let key = random_hex_key();
    let db = format!("sqlite://{}", dir.path().join("r.db").display());
    let config = |extra: &str| {
        reclaim_server::Config::parse(&config_text(
            dir.path(),
            &db,
            &key,
            &Options {
                extra: extra.into(),
                ..Options::default()
            },
        ))
    };
    let e = config("[siem.webhook]\nurl = \"not a url\"\nsecret_env = \"X\"\n")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("siem.webhook.url"), "{e}");
    let missing = config(
        "[siem.webhook]\nurl = \"https://siem.example.test/hook\"\nsecret_file = \"/nonexistent/hook.secret\"\n",
    )
    .unwrap();
    let e = App::open(missing).await.err().unwrap().to_string();
    assert!(
        e.contains("siem.webhook.secret_file /nonexistent/hook.secret"),
        "{e}"
    );
    let unwritable = config(&format!(
        "[siem.file]\npath = \"{}\"\n",
        dir.path().join("no/such/dir/audit.jsonl").display()
    ))
    .unwrap();
    let e = App::open(unwritable).await.err().unwrap().to_string();
    assert!(e.contains("siem.file.path"), "{e}");
}

/// The file sink's lines, parsed.
fn file_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

/// Someone with write access to the database but not the audit key cuts the chain's tail
/// after the SIEM has it and points the head back. The next append records the finding
/// (`audit_head_invalid`) at numbers the SIEM already holds: the export must send it, not
/// take the old numbers as delivered. (Before, the cursor stood beyond the new head and
/// the export went silent until the chain grew past it.) A row written beyond the head is
/// not part of the chain, and is not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_chain_is_sent_again_with_its_finding_and_rows_beyond_the_head_are_not() {
    let (out, mut h) = with_file_sink().await;
    let path = out.path().join("audit.jsonl");
    let seqs = append(&h.app, 6).await;
    let last = *seqs.last().unwrap();
    wait_until(Duration::from_secs(20), "the first export", || {
        let n = file_lines(&path).len();
        let app = h.app.clone();
        async move { n == chain(&app).await.len() }
    })
    .await;

    // A forged row far beyond the head: never part of what leaves.
    h.execute("INSERT INTO audit (seq, at, kind, actor, subject, detail, prev_hash, hash) VALUES (1000000, 0, 'decision', 'server', 'session:forged', '{}', 'x', 'y')")
        .await;
    // The tail cut: the last three entries gone, the head moved back without its key.
    let keep = last - 3;
    h.execute(&format!(
        "DELETE FROM audit WHERE seq > {keep} AND seq < 1000000"
    ))
    .await;
    let kept_hash = chain(&h.app).await[&keep].clone();
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(keep)
        .bind(&kept_hash)
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    append(&h.app, 1).await;

    wait_until(
        Duration::from_secs(20),
        "the chain's finding at the SIEM",
        || {
            let found = file_lines(&path)
                .iter()
                .any(|l| l["kind"] == "audit_head_invalid");
            async move { found }
        },
    )
    .await;
    // Everything the chain holds now has reached the file, with its current MAC; the
    // rewind itself is on record; the forged row is not in the file.
    let now = chain(&h.app).await;
    wait_until(Duration::from_secs(20), "the whole chain again", || {
        let lines = file_lines(&path);
        let now = now.clone();
        async move {
            now.iter()
                .filter(|(seq, _)| **seq < 1000000)
                .all(|(seq, hash)| {
                    lines
                        .iter()
                        .any(|l| l["seq"].as_i64() == Some(*seq) && l["hash"] == hash.as_str())
                })
        }
    })
    .await;
    h.stop().await;
    let lines = file_lines(&path);
    assert!(lines.iter().any(|l| l["kind"] == "siem_chain_rewound"));
    assert!(
        lines.iter().all(|l| l["seq"].as_i64() != Some(1000000)),
        "a row beyond the head was exported"
    );
}

/// A collector that accepts the connection and never reads (or a network that drops
/// everything after the handshake): the messages are not delivered, the cursor stays,
/// and the failure is on record. (Before, a write into the local send buffer and our own
/// close counted as delivery.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_reads_is_not_counted_as_delivered() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // Held open, never read, never closed.
            keep.lock().unwrap().push(stream);
        }
    });
    let mut h = Harness::with(
        Db::sqlite(),
        Options {
            extra: format!(
                "[siem]\nretry_base_s = 1\ntimeout_s = 1\n[siem.syslog]\naddress = \"{address}\"\ntls = false\n"
            ),
            ..Options::default()
        },
    )
    .await;
    append(&h.app, 3).await;
    wait_until(Duration::from_secs(20), "the failure on record", || {
        let app = h.app.clone();
        async move {
            !store::audit::details_of(&app.store, "siem_sink_failed")
                .await
                .unwrap()
                .is_empty()
        }
    })
    .await;
    assert!(!held.lock().unwrap().is_empty(), "the sink never connected");
    assert_eq!(
        store::siem::delivered(&h.app.store, "syslog")
            .await
            .unwrap(),
        Some(0),
        "entries counted as delivered to a collector that read nothing"
    );
    h.stop().await;
}

/// A receiver that refuses every other request: each refusal is followed by a success, so
/// every failure opens a new series. Only the first goes on record with its recovery;
/// the rest are logged. (Before, each turn added a `siem_sink_failed` and a
/// `siem_sink_recovered` entry, and each of those was the next thing to deliver, so the
/// chain grew by itself for as long as the sink flapped.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_sink_does_not_grow_the_chain_by_itself() {
    let secrets = TempDir::new();
    let secret_file = secrets.path().join("hook.secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let port = free_port();
    let (received, _task) = serve_receiver(port, 0, true, Duration::ZERO).await;
    let mut h = Harness::with(
        Db::sqlite(),
        Options {
            extra: siem_section(&format!(
                "[siem.webhook]\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret_file = \"{}\"\n",
                secret_file.display()
            )),
            ..Options::default()
        },
    )
    .await;
    append(&h.app, 2).await;
    // Long enough for several turns: a refusal, a retry a second later that succeeds, the
    // next entry refused, ...
    wait_until(
        Duration::from_secs(30),
        "several turns of the flapping sink",
        || {
            let refused = received.lock().unwrap().refused;
            async move { refused >= 4 }
        },
    )
    .await;
    h.stop().await;
    let kinds = h.audit_kinds().await;
    let failed = kinds.iter().filter(|k| *k == "siem_sink_failed").count();
    let recovered = kinds.iter().filter(|k| *k == "siem_sink_recovered").count();
    assert_eq!((failed, recovered), (1, 1), "{kinds:?}");
}
