//! What a stranger can make a real `reclaim serve` process hold: request bodies, slow and
//! idle connections. Each test talks raw HTTP/1.1 over TCP, the way an attacker's script
//! would, and reads the server's log for the security event.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::served::{serve, Served};

/// Short timeouts, so that the tests that wait for one wait seconds, not minutes.
const SHORT: &str = "[server]\nheader_timeout_s = 2\nidle_timeout_s = 3\nbody_idle_timeout_s = 2\n";

/// 47 MiB: under the old limit of 48 MiB for every route.
const BIG: usize = 47 * 1024 * 1024;

fn connect(served: &Served) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn head(chunked: bool) -> String {
    let length = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {BIG}")
    };
    format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{length}\r\n\r\n"
    )
}

/// `n` bytes of a JSON string's inside, framed as one chunk when `chunked`.
fn piece(n: usize, chunked: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    if chunked {
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
    }
    out.extend(std::iter::repeat_n(b'a', n));
    if chunked {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The status code of the response on `s`, if one arrives.
fn status_of(s: &mut TcpStream) -> Option<u16> {
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    while !got.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&got);
    line.strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
}

/// Sends the head and `sent` bytes of body, then waits for the answer without sending
/// more: a server that wants the whole body before it answers never does.
fn answer_after(served: &Served, chunked: bool, sent: usize) -> Option<u16> {
    let mut s = connect(served);
    s.write_all(head(chunked).as_bytes()).unwrap();
    let opening: &[u8] = if chunked {
        b"a\r\n{\"login\":\"\r\n"
    } else {
        b"{\"login\":\""
    };
    s.write_all(opening).unwrap();
    let _ = s.write_all(&piece(sent, chunked));
    status_of(&mut s)
}

/// Sends a whole 47 MiB body (or as much of it as the server takes) and returns the
/// bytes written.
fn flood(port: u16, chunked: bool) -> usize {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut written = 0;
    if s.write_all(head(chunked).as_bytes()).is_err() {
        return 0;
    }
    let block = piece(64 * 1024, chunked);
    while written < BIG {
        match s.write_all(&block) {
            Ok(()) => written += block.len(),
            Err(_) => break,
        }
    }
    written
}

#[test]
fn large_bodies_are_refused_before_they_are_read() {
    let served = serve("conn-bodies", SHORT, |_, _| {});
    // Announced: refused on the header, with 4 KiB sent.
    assert_eq!(
        answer_after(&served, false, 4096),
        Some(413),
        "an announced 47 MiB body is refused before it is read\n{}",
        served.log()
    );
    // Chunked: refused when the count passes the route's limit, 32 KiB here.
    assert_eq!(
        answer_after(&served, true, 32 * 1024),
        Some(413),
        "a chunked body is refused once it passes the limit\n{}",
        served.log()
    );

    // Forty at once, each sending its whole 47 MiB: the server holds none of it.
    let before = served.peak_rss_kib();
    let port = served.port;
    let floods: Vec<_> = (0..40)
        .map(|i| std::thread::spawn(move || flood(port, i % 2 == 0)))
        .collect();
    let written: Vec<usize> = floods.into_iter().map(|t| t.join().unwrap()).collect();
    let grown_mib = served.peak_rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 100,
        "40 bodies of 47 MiB grew the server's peak memory by {grown_mib} MiB (bytes written: {written:?})"
    );
    assert!(
        written.iter().all(|w| *w < BIG),
        "the server read a whole 47 MiB body: {written:?}"
    );
    // The server still answers, and the refusals are in its log.
    let health = reqwest::blocking::get(format!("{}/healthz", served.url)).unwrap();
    assert_eq!(health.status(), 200);
    let log = served.log();
    assert!(
        log.contains("request body too large"),
        "the refusals are logged:\n{log}"
    );
}

/// Half a request head, a byte at a time: closed once the header timeout passes, and a
/// connection that sends nothing at all once the idle timeout passes.
#[test]
fn slow_and_silent_connections_are_closed() {
    let served = serve("conn-slow", SHORT, |_, _| {});
    let mut slow = connect(&served);
    slow.write_all(b"POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut silent = connect(&served);
    silent
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let (mut slow_closed, mut silent_closed) = (false, false);
    let mut buf = [0u8; 256];
    // Bounded wait: far longer than the 2 s and 3 s configured.
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until && !(slow_closed && silent_closed) {
        if !slow_closed {
            slow_closed = slow.write_all(b"X").is_err() || closed(&mut slow, &mut buf);
        }
        if !silent_closed {
            silent_closed = closed(&mut silent, &mut buf);
        }
    }
    let log = served.log();
    assert!(
        slow_closed,
        "a client trickling half a header is disconnected\n{log}"
    );
    assert!(
        silent_closed,
        "a connection that sends nothing is disconnected\n{log}"
    );
    assert!(
        log.contains("header read timed out"),
        "the slow header is logged:\n{log}"
    );
    assert!(
        log.contains("idle connection closed"),
        "the silent connection is logged:\n{log}"
    );
}

/// Whether the server closed `s` (one read, up to its read timeout).
fn closed(s: &mut TcpStream, buf: &mut [u8]) -> bool {
    match s.read(buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
    }
}

/// Lowers the server process's descriptor limit, as an operator's 1,024 would be.
fn limit_descriptors(served: &Served, n: u32) {
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &served.child.id().to_string(),
            &format!("--nofile={n}:{n}"),
        ])
        .status()
        .expect("prlimit runs");
    assert!(status.success());
}

/// Hundreds of idle connections from one address, beyond the per-address cap: the server
/// keeps its descriptors, and another client's `/healthz` answers.
#[test]
fn one_address_cannot_take_every_descriptor() {
    let served = serve(
        "conn-idle",
        // Long timeouts: the connections below stay open for the whole test unless the
        // cap closes them.
        "[server]\nheader_timeout_s = 60\nidle_timeout_s = 60\nmax_connections_per_address = 16\n",
        |_, _| {},
    );
    limit_descriptors(&served, 256);
    let idle: Vec<TcpStream> = (0..400)
        .filter_map(|_| {
            TcpStream::connect_timeout(
                &SocketAddr::from(([127, 0, 0, 1], served.port)),
                Duration::from_secs(2),
            )
            .ok()
        })
        .collect();
    // Another address on the loopback: Linux routes all of 127/8 to it.
    let other = reqwest::blocking::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let health = other.get(format!("{}/healthz", served.url)).send();
    let log = served.log();
    assert!(
        health.as_ref().is_ok_and(|r| r.status() == 200),
        "{} idle connections from one address; /healthz from another: {health:?}\n{log}",
        idle.len()
    );
    assert!(
        log.contains("connection refused: per-address limit"),
        "the cap is logged:\n{log}"
    );
    drop(idle);
}

/// `[fault]` and the other test switches exist only in builds with the `test-hooks`
/// feature, never by profile: the debug `reclaim` that `scripts/reclaim` (`cargo run -p
/// reclaim-cli`) builds must refuse them as a release build does, and the app's ordinary
/// build must ignore the WebDriver switch. Those builds resolve features without
/// dev-dependencies, which `cargo tree -e normal,build` shows; with them (the tests'
/// builds: this binary's own `reclaim`, whose serve.rs tests inject faults, and the app's
/// end-to-end tests) the feature is on. The refusal itself is reclaim-server's unit test
/// `faults_are_refused_without_the_test_hooks_feature`.
#[test]
fn only_test_builds_have_test_hooks() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tree = |package: &str, feature_of: &str, edges: &str| {
        let out = Command::new(&cargo)
            .args([
                "tree",
                "--offline",
                "-p",
                package,
                "-i",
                feature_of,
                "-e",
                edges,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (package, feature_of) in [
        ("reclaim-cli", "reclaim-server"),
        ("reclaim-app", "reclaim-app"),
    ] {
        let built = tree(package, feature_of, "normal,build,features");
        assert!(
            built.contains(&format!("{feature_of} feature \"default\"")),
            "the tree lists {feature_of}'s features:\n{built}"
        );
        assert!(
            !built.contains("test-hooks"),
            "`cargo build -p {package}` turns on the test hooks:\n{built}"
        );
        let tested = tree(package, feature_of, "features");
        assert!(
            tested.contains(&format!("{feature_of} feature \"test-hooks\"")),
            "{package}'s tests need the test hooks:\n{tested}"
        );
    }
}

/// Body timeouts of a few seconds: a pause of 2 s, 4 s in all.
const BODY_SHORT: &str =
    "[server]\nheader_timeout_s = 5\nidle_timeout_s = 30\nbody_idle_timeout_s = 2\nbody_timeout_s = 4\n";

/// A request head announcing a `length`-byte JSON body for `path`.
fn json_head(path: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// Reads one whole response (head, and a body of its Content-Length) from `s`: its status,
/// or `None` if the connection ends or stays silent (the read timeout) before one comes.
fn response_of(s: &mut TcpStream) -> Option<u16> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while got.len() < head_end + length {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    head.strip_prefix("http/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
}

/// Whether the server closes `s` within `within` (reads until the end of the stream,
/// ignoring whatever else arrives).
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let until = Instant::now() + within;
    let mut buf = [0u8; 1024];
    while Instant::now() < until {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A client that sends its head and part of the body, then stops, is answered
/// `408 request_timeout` once the body's pause passes `body_idle_timeout_s`, and
/// disconnected; one that trickles its body a byte at a time, never pausing long, is cut
/// at `body_timeout_s` the same way. Both are logged. Before the transport limits the
/// server waited for the rest of the body for ever, holding the connection.
#[test]
fn a_stalled_or_trickled_body_is_answered_408_and_disconnected() {
    let served = serve("conn-body", BODY_SHORT, |_, _| {});

    // Stalled: 20 of the 200 bytes announced, then nothing.
    let mut stalled = connect(&served);
    stalled
        .write_all(json_head("/v1/sessions", 200).as_bytes())
        .unwrap();
    stalled.write_all(b"{\"login\":\"avery.quinn\",").unwrap();
    // Bounded wait, far longer than the 2 s configured.
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let answer = response_of(&mut stalled);
    assert_eq!(
        answer,
        Some(408),
        "a body that stops is answered 408\n{}",
        served.log()
    );
    assert!(
        closed_within(&mut stalled, Duration::from_secs(10)),
        "the connection is closed after the 408\n{}",
        served.log()
    );

    // Trickled: a byte every 300 ms, each pause well inside the 2 s allowed, the whole
    // well past the 4 s.
    let mut trickled = connect(&served);
    trickled
        .write_all(json_head("/v1/password/check", 4000).as_bytes())
        .unwrap();
    trickled
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let until = Instant::now() + Duration::from_secs(30);
    let mut sent = 0;
    let mut ended = false;
    while Instant::now() < until && !got.windows(4).any(|w| w == b"\r\n\r\n") {
        if trickled.write_all(b" ").is_ok() {
            sent += 1;
        }
        match trickled.read(&mut buf) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                ended = true;
                break;
            }
        }
    }
    let head = String::from_utf8_lossy(&got);
    assert!(
        head.starts_with("HTTP/1.1 408"),
        "a trickled body is answered 408 (ended: {ended}, {sent} bytes sent): {head:?}\n{}",
        served.log()
    );
    assert!(
        ended || closed_within(&mut trickled, Duration::from_secs(10)),
        "the trickling connection is closed after the 408\n{}",
        served.log()
    );

    // The server still answers, and both timeouts are in its log.
    let health = reqwest::blocking::get(format!("{}/healthz", served.url)).unwrap();
    assert_eq!(health.status(), 200);
    let log = served.log();
    assert!(
        log.matches("request body read timed out").count() >= 2,
        "both body timeouts are logged:\n{log}"
    );
}

/// A connection to the server from the loopback address `local` (Linux routes all of
/// 127/8 to the loopback), so that a test can play several clients.
fn connect_from(local: [u8; 4], port: u16) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((local, 0)))?;
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            socket.connect(SocketAddr::from(([127, 0, 0, 1], port))),
        )
        .await??;
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(stream)
    })
}

/// `GET /healthz` on the open connection `s`, kept open: the status, if one comes.
fn healthz_on(s: &mut TcpStream) -> Option<u16> {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    response_of(s)
}

/// A connection from `local` that the server has admitted: one that has had an answer on
/// it and is still open. Retried, since the server may still be giving back the places of
/// connections closed a moment ago.
fn admitted_from(local: [u8; 4], served: &Served) -> TcpStream {
    for _ in 0..50 {
        if let Ok(mut s) = connect_from(local, served.port) {
            if healthz_on(&mut s) == Some(200) {
                return s;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "no connection from {local:?} was admitted\n{}",
        served.log()
    );
}

/// With `max_connections = 8`, eight connections from four addresses (two each, under the
/// per-address cap of four) fill the server: a ninth, from an address with no connection
/// at all, is closed as soon as it is accepted, and logged, while the admitted ones still
/// get answers. Once some close, new connections are admitted again. Before the caps the
/// server accepted connections until it ran out of descriptors.
#[test]
fn connections_beyond_the_overall_cap_are_closed() {
    let served = serve(
        "conn-cap",
        // Long timeouts: only the cap closes anything here.
        "[server]\nheader_timeout_s = 60\nidle_timeout_s = 120\nmax_connections = 8\nmax_connections_per_address = 4\n",
        |_, _| {},
    );
    let mut admitted: Vec<TcpStream> = (0..8u8)
        .map(|i| admitted_from([127, 0, 0, 11 + i / 2], &served))
        .collect();

    // Beyond the cap, from addresses that hold nothing: closed without an answer.
    for last in [21u8, 22, 23] {
        let mut beyond = connect_from([127, 0, 0, last], served.port).unwrap();
        let _ = beyond.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let answer = response_of(&mut beyond);
        assert_eq!(
            answer,
            None,
            "a connection beyond the overall cap of 8 was answered\n{}",
            served.log()
        );
        assert!(
            closed_within(&mut beyond, Duration::from_secs(10)),
            "a connection beyond the overall cap of 8 is closed\n{}",
            served.log()
        );
    }
    // Those within it are served as before.
    for s in admitted.iter_mut() {
        assert_eq!(
            healthz_on(s),
            Some(200),
            "an admitted connection is still served\n{}",
            served.log()
        );
    }
    let log = served.log();
    assert!(
        log.contains("connection refused: overall limit"),
        "the cap is logged:\n{log}"
    );
    assert!(
        !log.contains("connection refused: per-address limit"),
        "only the overall cap was reached:\n{log}"
    );

    // Places given back are taken again.
    admitted.truncate(6);
    let mut again = admitted_from([127, 0, 0, 24], &served);
    assert_eq!(healthz_on(&mut again), Some(200));
}
