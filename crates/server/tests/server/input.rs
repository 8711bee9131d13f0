//! Malformed, oversized and unauthenticated requests: refused with the documented code,
//! and nothing recorded.

use serde_json::json;
use sqlx::Row;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(bad_input_is_refused_and_changes_nothing);

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
        (400, Some("device_unknown")),
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
    let huge = format!("{{\"token\": \"{}\"}}", "a".repeat(49 * 1024 * 1024)).into_bytes();
    let (status, body) = raw(&h, &attest_path, "application/json", Some(&s.token), huge).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("request_too_large")),
        "{body}"
    );

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
