//! Malformed, oversized and unauthenticated requests: refused with the documented code,
//! and nothing recorded.

use serde_json::json;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(bad_input_is_refused_and_changes_nothing);
on_both_databases!(a_stored_challenge_with_an_unknown_action_is_refused_not_shortened);

const JSON: &str = "application/json";

/// What a request could leave behind: audit entries, and sessions.
async fn counts(h: &Harness) -> (usize, i64) {
    let sessions = h.count("SELECT COUNT(*) FROM sessions").await;
    (h.audit_kinds().await.len(), sessions)
}

async fn raw(
    h: &Harness,
    path: &str,
    content_type: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let mut r = h
        .client
        .post(h.url(path))
        .header("content-type", content_type)
        .body(body.to_vec());
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    send(r).await
}

/// How an oversized body is sent.
enum Oversized {
    /// `content-length` announces the size; none of the body is sent.
    Announced(usize),
    /// Chunked, with no size announced: the server finds out by reading.
    Chunked(usize),
}

/// Sends an oversized body over a bare TCP connection and reads the answer as it comes,
/// while the body is still being written: the server answers once it knows the body is
/// too big and stops reading, so an HTTP client that insists on writing the whole body
/// first can meet a broken pipe before it reads the answer.
async fn oversized(
    h: &Harness,
    path: &str,
    token: &str,
    how: Oversized,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = h.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let framing = match how {
        Oversized::Announced(n) => format!("content-length: {n}"),
        Oversized::Chunked(_) => "transfer-encoding: chunked".to_string(),
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         authorization: Bearer {token}\r\n{framing}\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let body = tokio::spawn(async move {
        if let Oversized::Chunked(total) = how {
            let chunk = vec![b'a'; 1 << 20];
            for _ in 0..total.div_ceil(chunk.len()) {
                let framed =
                    [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                if writer.write_all(&framed).await.is_err() {
                    return;
                }
            }
            let _ = writer.write_all(b"0\r\n\r\n").await;
        }
        // Held open until the answer is read: closing would end the request.
        std::future::pending::<()>().await;
    });
    // The answer's head, then as much body as it announces.
    let mut answer = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&answer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let announced = head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                });
                if announced.is_some_and(|n| body.len() >= n) {
                    return;
                }
            }
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let answered = tokio::time::timeout(std::time::Duration::from_secs(60), read).await;
    body.abort();
    answered.expect("no answer to an oversized request");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::String(answer.clone())),
    )
}

async fn bad_input_is_refused_and_changes_nothing(db: Db) {
    let h = Harness::start(db).await;
    let s = h.session(AVERY, &h.kiosk).await;
    let attest_path = format!("/v1/sessions/{}/attestation", s.id);
    let before = counts(&h).await;
    let kid = h.kiosk.key_id().as_str().to_string();

    // Not JSON, or not said to be.
    assert_refused(
        raw(&h, "/v1/sessions", JSON, None, b"{\"login\": \"avery").await,
        400,
        "request_malformed",
    );
    assert_refused(
        raw(&h, &attest_path, JSON, Some(&s.token), b"not json at all").await,
        400,
        "request_malformed",
    );
    let valid =
        serde_json::to_vec(&json!({ "login": AVERY, "action": "reset_password", "device": kid }))
            .unwrap();
    for (content_type, body) in [
        ("text/plain", &valid[..]),
        (
            "application/x-www-form-urlencoded",
            &b"login=avery.quinn"[..],
        ),
    ] {
        let answer = raw(&h, "/v1/sessions", content_type, None, body).await;
        assert_refused_because(answer, 415, "content_type_unsupported", content_type);
    }

    // JSON the API does not take: a field it does not have, an action it does not know,
    // no device; logins blank, with a control character, too long; a device no one
    // registered.
    let start_refused = |body: serde_json::Value, status: u16, code: &'static str| {
        let h = &h;
        async move {
            let answer = h.post("/v1/sessions", &body).await;
            assert_refused_because(answer, status, code, &body.to_string());
        }
    };
    for body in [
        json!({ "login": AVERY, "action": "reset_password", "device": kid, "is_admin": true }),
        json!({ "login": AVERY, "action": "delete_account", "device": kid }),
        json!({ "login": AVERY, "action": "reset_password" }),
    ] {
        start_refused(body, 400, "request_invalid").await;
    }
    for login in [json!("  "), json!("a\u{0}b"), json!("x".repeat(300))] {
        let body = json!({ "login": login, "action": "reset_password", "device": kid });
        start_refused(body, 400, "login_invalid").await;
    }
    let stranger = "0".repeat(32);
    let body = json!({ "login": AVERY, "action": "reset_password", "device": stranger });
    start_refused(body, 401, "device_unknown").await;
    // The client's decision is not a field of the attestation.
    let token = reclaim_protocol::sign_attestation(&claims(&s, &h.kiosk), &h.kiosk).unwrap();
    let with_decision = json!({ "token": token, "evidence": [], "decision": "verified" });
    assert_refused(
        h.post_auth(&attest_path, &s.token, &with_decision).await,
        400,
        "request_invalid",
    );

    // More than 48 MiB.
    for how in [
        Oversized::Announced(49 * 1024 * 1024),
        Oversized::Chunked(49 * 1024 * 1024),
    ] {
        let answer = oversized(&h, &attest_path, &s.token, how).await;
        assert_refused(answer, 413, "request_too_large");
    }

    // Without the session's token, or with another. (A fresh client: the server closes
    // the connection it refused the oversized body on, and a pooled client may not have
    // noticed yet.)
    for r in [
        reqwest::Client::new().get(h.url(&format!("/v1/sessions/{}", s.id))),
        reqwest::Client::new()
            .post(h.url(&attest_path))
            .json(&json!({ "token": token })),
    ] {
        assert_refused(send(r).await, 401, "session_token_missing");
    }
    let token_only = &json!({ "token": token });
    for answer in [
        h.post_auth(&attest_path, "rs_not_the_token", token_only)
            .await,
        h.get_auth("/v1/sessions/no-such-session", &s.token).await,
        h.post_auth(
            &format!("/v1/sessions/{}/handoff", s.id),
            "rs_nope",
            &json!({}),
        )
        .await,
    ] {
        assert_refused(answer, 401, "session_token_invalid");
    }
    let answer = h.post("/v1/no/such/endpoint", &json!({})).await;
    assert_refused(answer, 404, "not_found");

    assert_eq!(counts(&h).await, before, "a refused request left a trace");
    assert_eq!(h.session_row(&s.id).await, ("open".to_string(), 0));
    // And the session still works.
    assert_outcome(h.attest_token(&s, &token, json!([])).await, "approved");
}

/// A session row whose challenge holds a name this build does not know (a newer
/// server's, or a damaged row). Until 2026-12 the name was dropped when the challenge was
/// judged, so `left,sideways,center` was judged as `left,center`, and the session went on
/// as if nothing were wrong. Now the row is refused wherever the session is read.
async fn a_stored_challenge_with_an_unknown_action_is_refused_not_shortened(db: Db) {
    let h = Harness::start(db).await;
    let s = h.session(AVERY, &h.kiosk).await;
    sqlx::query("UPDATE sessions SET challenge = $1 WHERE id = $2")
        .bind("left,sideways,center")
        .bind(&s.id)
        .execute(&h.app.store.writer)
        .await
        .unwrap();
    assert_refused(h.status_of(&s).await, 503, "database_unavailable");
    let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(status, 503, "{body}");
    let decisions = reclaim_server::audit::details_of(&h.app.store, "decision")
        .await
        .unwrap();
    assert!(decisions.is_empty(), "nothing was decided: {decisions:?}");
}
