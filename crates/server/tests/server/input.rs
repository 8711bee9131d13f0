//! Malformed, oversized and unauthenticated requests: refused with the documented code,
//! and nothing recorded.

use serde_json::json;
use sqlx::Row;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(bad_input_is_refused_and_changes_nothing);
on_both_databases!(a_stored_challenge_with_an_unknown_action_is_refused_not_shortened);

async fn counts(h: &Harness) -> (usize, i64) {
    let sessions: i64 = sqlx::query("SELECT COUNT(*) FROM sessions")
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap()
        .get(0);
    (h.audit_kinds().await.len(), sessions)
}

async fn raw(
    h: &Harness,
    path: &str,
    content_type: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut r = h
        .client
        .post(h.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
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

    let (status, body) = raw(
        &h,
        "/v1/sessions",
        "application/json",
        None,
        b"{\"login\": \"avery".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("request_malformed")),
        "{body}"
    );
    let (status, body) = raw(
        &h,
        &attest_path,
        "application/json",
        Some(&s.token),
        b"not json at all".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("request_malformed")),
        "{body}"
    );

    let valid =
        serde_json::to_vec(&json!({ "login": AVERY, "action": "reset_password", "device": kid }))
            .unwrap();
    let (status, body) = raw(&h, "/v1/sessions", "text/plain", None, valid.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (415, Some("content_type_unsupported")),
        "{body}"
    );
    let (status, body) = raw(
        &h,
        "/v1/sessions",
        "application/x-www-form-urlencoded",
        None,
        b"login=avery.quinn".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (415, Some("content_type_unsupported")),
        "{body}"
    );

    let (status, body) = h
        .post(
            "/v1/sessions",
            &json!({ "login": AVERY, "action": "reset_password", "device": kid, "is_admin": true }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("request_invalid")),
        "{body}"
    );
    let (status, body) = h
        .post(
            "/v1/sessions",
            &json!({ "login": AVERY, "action": "delete_account", "device": kid }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("request_invalid")),
        "{body}"
    );
    let (status, body) = h
        .post(
            "/v1/sessions",
            &json!({ "login": AVERY, "action": "reset_password" }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("request_invalid")),
        "{body}"
    );
    let (status, body) = h
        .post(
            "/v1/sessions",
            &json!({ "login": "  ", "action": "reset_password", "device": kid }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("login_invalid")),
        "{body}"
    );
    let (status, body) = h
        .post(
            "/v1/sessions",
            &json!({ "login": "a\u{0}b", "action": "reset_password", "device": kid }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("login_invalid")),
        "{body}"
    );
    let (status, body) = h
        .post(
            "/v1/sessions",
            &json!({ "login": "x".repeat(300), "action": "reset_password", "device": kid }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("login_invalid")),
        "{body}"
    );
    let (status, body) = h
        .post(
            "/v1/sessions",
            &json!({ "login": AVERY, "action": "reset_password", "device": "0".repeat(32) }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("device_unknown")),
        "{body}"
    );
    let token = reclaim_protocol::sign_attestation(&claims(&s, &h.kiosk), &h.kiosk).unwrap();
    let (status, body) = h
        .post_auth(
            &attest_path,
            &s.token,
            &json!({ "token": token, "evidence": [], "decision": "verified" }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("request_invalid")),
        "{body}"
    );

    // More than 48 MiB.
    for how in [
        Oversized::Announced(49 * 1024 * 1024),
        Oversized::Chunked(49 * 1024 * 1024),
    ] {
        let (status, body) = oversized(&h, &attest_path, &s.token, how).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (413, Some("request_too_large")),
            "{body}"
        );
    }

    // Without the session's token, or with another. (A fresh client: the server closes
    // the connection it refused the oversized body on, and a pooled client may not have
    // noticed yet.)
    let r = reqwest::Client::new()
        .get(h.url(&format!("/v1/sessions/{}", s.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "session_token_missing");
    let r = reqwest::Client::new()
        .post(h.url(&attest_path))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "session_token_missing");
    let (status, body) = h
        .post_auth(&attest_path, "rs_not_the_token", &json!({ "token": token }))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("session_token_invalid")),
        "{body}"
    );
    let (status, body) = h.get_auth("/v1/sessions/no-such-session", &s.token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("session_token_invalid")),
        "{body}"
    );
    let (status, body) = h
        .post_auth(
            &format!("/v1/sessions/{}/handoff", s.id),
            "rs_nope",
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("session_token_invalid")),
        "{body}"
    );
    let (status, body) = h.post("/v1/no/such/endpoint", &json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );

    assert_eq!(counts(&h).await, before, "a refused request left a trace");
    let r = sqlx::query("SELECT state, nonce_used FROM sessions WHERE id = $1")
        .bind(&s.id)
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    assert_eq!(
        (r.get::<String, _>(0), r.get::<i64, _>(1)),
        ("open".to_string(), 0)
    );
    // And the session still works.
    let (status, body) = h.attest_token(&s, &token, json!([])).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
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
    let (status, body) = h
        .get_auth(&format!("/v1/sessions/{}", s.id), &s.token)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("database_unavailable")),
        "{body}"
    );
    let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
    assert_eq!(status, 503, "{body}");
    let decisions = reclaim_server::audit::details_of(&h.app.store, "decision")
        .await
        .unwrap();
    assert!(decisions.is_empty(), "nothing was decided: {decisions:?}");
}
