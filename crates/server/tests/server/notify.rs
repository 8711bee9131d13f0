//! Recovery notices, sent to a real SMTP server (aiosmtpd) and followed back: the mail,
//! the "this wasn't me" link (GET changes nothing, POST cancels and locks, once), the
//! outbox surviving a relay that is down, and several senders sending each notice once.

use std::sync::Arc;
use std::time::Duration;

use reclaim_protocol::RecoveryAction;
use reclaim_server::notify::{self, Mailer, NoticeKind, Queued, RecoveryNotice};
use reclaim_server::App;
use reclaim_testkit::{Mail, SmtpSink};
use sqlx::Row;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    an_approved_recovery_is_mailed_and_its_link_disputes_it_once,
    refusals_after_the_first_of_a_series_are_mailed,
    a_relay_that_is_down_delays_the_notice_not_the_recovery,
    without_a_relay_notices_wait_in_the_outbox,
    several_senders_send_each_notice_once,
    refused_attempts_through_the_api_are_mailed_after_the_first,
    a_delayed_change_is_cancelled_through_its_notice,
);

const AVERY_REF: &str = "demo:avery.quinn";
const AVERY_EMAIL: &str = "avery.quinn@example.test";
const FROM: &str = "Reclaim <reclaim@example.test>";

fn notify_section(smtp_url: &str) -> String {
    format!("[notify]\nsmtp_url = \"{smtp_url}\"\nfrom = \"{FROM}\"\nretry_base_s = 1\n")
}

async fn with_relay(db: Db, smtp_url: &str) -> Harness {
    Harness::with(
        db,
        Options {
            extra: notify_section(smtp_url),
            ..Options::default()
        },
    )
    .await
}

fn notice(session_id: &str, kind: NoticeKind) -> RecoveryNotice<'_> {
    RecoveryNotice {
        user_ref: AVERY_REF,
        to: vec![AVERY_EMAIL.into()],
        display_name: Some("Avery Quinn"),
        action: RecoveryAction::ResetPassword,
        kind,
        device_tier: "managed",
        at: unix_now() as i64,
        session_id,
    }
}

/// Queues `n` the way the decision does: inside a transaction of the caller's.
async fn enqueue(app: &App, n: &RecoveryNotice<'_>) -> Queued {
    let mut tx = app.store.writer.begin().await.unwrap();
    let q = notify::enqueue_recovery_notice(&mut tx, app, n)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    q
}

async fn notices_for(app: &App, user_ref: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM notices WHERE user_ref = $1")
        .bind(user_ref)
        .fetch_one(&app.store.pool)
        .await
        .unwrap()
        .get(0)
}

/// An approved recovery of Avery's account through the HTTP API: the decision queues its
/// notice in the transaction that records it.
async fn approved_recovery_with_notice(h: &Harness) -> String {
    let grant = h.approved_grant(AVERY).await;
    assert_eq!(
        notices_for(&h.app, AVERY_REF).await,
        1,
        "the decision queued one notice"
    );
    grant
}

async fn wait_mails(sink: &SmtpSink, n: usize) -> Vec<Mail> {
    tokio::task::block_in_place(|| sink.wait_for_messages(n, Duration::from_secs(30))).unwrap()
}

/// The mail's link, pointed at the test server instead of the public URL.
fn local_link(h: &Harness, mail: &Mail) -> (String, String) {
    let links = mail.links(&format!("{PUBLIC_URL}/v1/notices/"));
    assert_eq!(links.len(), 1, "one link: {}", mail.body);
    let token = links[0].rsplit('/').next().unwrap().to_string();
    (h.url(&format!("/v1/notices/{token}")), token)
}

async fn get(h: &Harness, url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = h.client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

async fn post_form(h: &Harness, url: &str) -> (u16, String) {
    let r = h
        .client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

async fn count_kind(h: &Harness, kind: &str) -> usize {
    h.audit_count_of(kind).await
}

async fn an_approved_recovery_is_mailed_and_its_link_disputes_it_once(db: Db) {
    let sink = tokio::task::block_in_place(SmtpSink::start).unwrap();
    let h = with_relay(db, &sink.url()).await;
    let grant = approved_recovery_with_notice(&h).await;
    let session_token = {
        // The session's own bearer token must not be in the mail either.
        let s = h.session(AVERY, &h.kiosk).await;
        s.token
    };

    // (a) One mail, to the account's address, with the link.
    let mails = wait_mails(&sink, 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to(), [AVERY_EMAIL]);
    assert!(
        mail.subject().contains("password reset approved"),
        "{}",
        mail.subject()
    );
    assert!(mail
        .header("From")
        .unwrap()
        .contains("reclaim@example.test"));
    assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
    let notice_id: String = sqlx::query("SELECT id FROM notices WHERE user_ref = $1")
        .bind(AVERY_REF)
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<notice.{notice_id}@example.test>").as_str())
    );
    assert!(mail.body.contains("Hello Avery Quinn"), "{}", mail.body);
    let (url, token) = local_link(&h, mail);
    assert!(token.starts_with("nc_"), "{token}");

    // (e) No password, grant or token but the link's.
    for secret in [
        grant.as_str(),
        NEW_PASSWORD,
        OLD_PASSWORD,
        session_token.as_str(),
    ] {
        assert!(!mail.raw.contains(secret), "the mail holds a secret");
    }
    assert_eq!(mail.raw.matches("nc_").count(), 1, "{}", mail.raw);
    assert!(!mail.raw.contains("rg_") && !mail.raw.contains(&h.data_key));
    // Sent: the sealed body (which holds the link) is erased from the outbox.
    let row = sqlx::query("SELECT sent_at, body_sealed, attempts FROM notices WHERE user_ref = $1")
        .bind(AVERY_REF)
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap();
    assert!(row.get::<Option<i64>, _>(0).is_some());
    assert_eq!(row.get::<String, _>(1), "");
    assert_eq!(row.get::<i64, _>(2), 1);

    // (b) GET, as a mail scanner would, twice: a page, and nothing changes.
    let audit_before = h.audit_kinds().await.len();
    for _ in 0..2 {
        let (status, headers, page) = get(&h, &url).await;
        assert_eq!(status, 200, "{page}");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("script-src"),
            "{csp}"
        );
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(page.contains("<form method=\"post\">"), "{page}");
        assert!(!page.to_lowercase().contains("<script"), "{page}");
        assert!(page.contains("password reset"), "{page}");
    }
    assert!(!notify::self_service_locked(&h.app, AVERY_REF)
        .await
        .unwrap());
    assert_eq!(h.audit_kinds().await.len(), audit_before);

    // POST: disputed, cancelled, locked, audited.
    let (status, page) = post_form(&h, &url).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("locked"), "{page}");
    assert!(notify::self_service_locked(&h.app, AVERY_REF)
        .await
        .unwrap());
    assert_eq!(count_kind(&h, "recovery_disputed").await, 1);
    let detail = reclaim_server::audit::details_of(&h.app.store, "recovery_disputed")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(detail["user"], AVERY_REF);
    assert!(detail["cancelled"].is_u64(), "{detail}");
    assert!(!detail.to_string().contains(AVERY_EMAIL) && !detail.to_string().contains(&token));
    // The grant issued by the recovery was not used yet: the dispute cancelled it.
    assert_eq!(detail["cancelled"], 1, "{detail}");
    let (status, body) = h.reset(&grant, NEW_PASSWORD).await;
    assert_ne!(
        status, 200,
        "a disputed grant still reset the password: {body}"
    );
    assert!(h.password_is(AVERY, OLD_PASSWORD).await);
    assert_chain_intact(&h.app).await;

    // (c) Single use; used, unknown and malformed tokens get the same neutral page.
    let (status, used) = post_form(&h, &url).await;
    assert_eq!(status, 410, "{used}");
    let (status, _, used_get) = get(&h, &url).await;
    assert_eq!(status, 410);
    assert_eq!(used_get, used);
    let forged = h.url("/v1/notices/nc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let (status, unknown) = post_form(&h, &forged).await;
    assert_eq!(status, 404);
    assert_eq!(unknown, used, "unknown and used links look alike");
    let (status, _, unknown_get) = get(&h, &forged).await;
    assert_eq!((status, unknown_get.as_str()), (404, used.as_str()));
    let malformed = h.url(&format!("/v1/notices/{}", "x".repeat(300)));
    let (status, _) = post_form(&h, &malformed).await;
    assert_eq!(status, 404);
    // A body larger than the form could ever send is not read.
    let r = h
        .client
        .post(&forged)
        .body(vec![b'a'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(count_kind(&h, "recovery_disputed").await, 1);

    // An administrator clears the lock, audited; the chain still verifies.
    assert!(
        notify::unlock_self_service(&h.app.store, &h.app.keys, AVERY_REF, "admin:test")
            .await
            .unwrap()
    );
    assert!(!notify::self_service_locked(&h.app, AVERY_REF)
        .await
        .unwrap());
    assert!(
        !notify::unlock_self_service(&h.app.store, &h.app.keys, AVERY_REF, "admin:test")
            .await
            .unwrap()
    );
    assert_eq!(count_kind(&h, "self_service_unlocked").await, 1);
    assert_chain_intact(&h.app).await;
    // Nothing else was mailed.
    assert_eq!(sink.messages().len(), 1);
}

async fn refusals_after_the_first_of_a_series_are_mailed(db: Db) {
    let sink = tokio::task::block_in_place(SmtpSink::start).unwrap();
    let h = with_relay(db, &sink.url()).await;
    let first = enqueue(&h.app, &notice("s-1", NoticeKind::Refused)).await;
    assert_eq!((first.notices, first.refusal_in_series), (0, Some(1)));
    assert!(first.link.is_none());
    let second = enqueue(&h.app, &notice("s-2", NoticeKind::Refused)).await;
    assert_eq!((second.notices, second.refusal_in_series), (1, Some(2)));
    let third = enqueue(&h.app, &notice("s-3", NoticeKind::Refused)).await;
    assert_eq!((third.notices, third.refusal_in_series), (1, Some(3)));
    // Another account's series is its own.
    let mut other = notice("s-4", NoticeKind::Refused);
    other.user_ref = "demo:someone.else";
    assert_eq!(enqueue(&h.app, &other).await.notices, 0);

    let mails = wait_mails(&sink, 2).await;
    assert_eq!(mails.len(), 2);
    for m in &mails {
        assert_eq!(m.to(), [AVERY_EMAIL]);
        assert!(m.subject().contains("refused"), "{}", m.subject());
        assert_eq!(m.links(&format!("{PUBLIC_URL}/v1/notices/nc_")).len(), 1);
    }
    assert!(mails.iter().any(|m| m.body.contains("s-2")));
    assert!(mails.iter().any(|m| m.body.contains("s-3")));
    // A refusal's link locks self-service too (an owner who sees attempts can stop them).
    let (url, _) = local_link(&h, &mails[0]);
    let (status, _) = post_form(&h, &url).await;
    assert_eq!(status, 200);
    assert!(notify::self_service_locked(&h.app, AVERY_REF)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 2, "the first refusal is not mailed");
}

async fn a_relay_that_is_down_delays_the_notice_not_the_recovery(db: Db) {
    let port = SmtpSink::unused_port().unwrap();
    let h = with_relay(db, &format!("smtp://127.0.0.1:{port}")).await;
    let grant = approved_recovery_with_notice(&h).await;
    // The recovery goes through with the relay down.
    let (status, body) = h.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert!(h.password_is(AVERY, NEW_PASSWORD).await);
    // The sender tried, failed, and keeps the notice.
    let mut attempts = 0;
    for _ in 0..50 {
        let row =
            sqlx::query("SELECT attempts, sent_at, gave_up_at FROM notices WHERE user_ref = $1")
                .bind(AVERY_REF)
                .fetch_one(&h.app.store.pool)
                .await
                .unwrap();
        attempts = row.get::<i64, _>(0);
        assert!(row.get::<Option<i64>, _>(1).is_none());
        assert!(row.get::<Option<i64>, _>(2).is_none());
        if attempts >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(attempts >= 2, "the sender retried: {attempts} attempts");

    // The relay comes up: the notice goes out, once.
    let sink = tokio::task::block_in_place(|| SmtpSink::start_on(port)).unwrap();
    let mails = wait_mails(&sink, 1).await;
    assert_eq!(mails[0].to(), [AVERY_EMAIL]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), 1);
    let sent: Option<i64> = sqlx::query("SELECT sent_at FROM notices WHERE user_ref = $1")
        .bind(AVERY_REF)
        .fetch_one(&h.app.store.pool)
        .await
        .unwrap()
        .get(0);
    assert!(sent.is_some());
}

async fn without_a_relay_notices_wait_in_the_outbox(db: Db) {
    let h = Harness::start(db).await;
    approved_recovery_with_notice(&h).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let row = sqlx::query(
        "SELECT attempts, sent_at, recipient, body_sealed FROM notices WHERE user_ref = $1",
    )
    .bind(AVERY_REF)
    .fetch_one(&h.app.store.pool)
    .await
    .unwrap();
    assert_eq!(row.get::<i64, _>(0), 0, "nothing tried to send it");
    assert!(row.get::<Option<i64>, _>(1).is_none());
    assert_eq!(row.get::<String, _>(2), AVERY_EMAIL);
    // Sealed at rest: the link in it is a bearer secret.
    let sealed: String = row.get(3);
    assert!(!sealed.is_empty() && !sealed.contains("nc_") && !sealed.contains("notices"));
}

async fn several_senders_send_each_notice_once(db: Db) {
    // Instances without a relay of their own: the test's senders are the only ones.
    let h = Harness::start(db).await;
    let other: Arc<App> = App::open(h.config_of_another_instance(&Options::default()))
        .await
        .unwrap();
    for i in 0..6 {
        let q = enqueue(
            &h.app,
            &notice(
                &format!("s-{i}"),
                NoticeKind::Approved { effective_at: None },
            ),
        )
        .await;
        assert_eq!(q.notices, 1);
    }
    let sink = tokio::task::block_in_place(SmtpSink::start).unwrap();
    let cfg = h.config_of_another_instance(&Options {
        extra: notify_section(&sink.url()),
        ..Options::default()
    });
    let mailer = Mailer::from_config(&cfg.notify).unwrap().unwrap();
    // Three senders at once, round after round until all six went: on a loaded machine
    // the relay can be slow to greet, and a notice it did not take waits for its retry
    // (a second here). However the rounds go, each notice is sent once in all.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    while sent < 6 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {sent} of 6 sent"
        );
        let (a, b, c) = tokio::join!(
            notify::send_due(&h.app, &mailer),
            notify::send_due(&other, &mailer),
            notify::send_due(&h.app, &mailer),
        );
        sent += a.unwrap() + b.unwrap() + c.unwrap();
        if sent < 6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    assert_eq!(sent, 6, "a notice was sent twice");
    let mails = wait_mails(&sink, 6).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.messages().len(), 6, "each notice sent once");
    let mut sessions: Vec<String> = mails
        .iter()
        .map(|m| {
            let i = m.body.find("session s-").unwrap();
            m.body[i..].split_whitespace().nth(1).unwrap().to_string()
        })
        .collect();
    sessions.sort();
    assert_eq!(sessions, ["s-0", "s-1", "s-2", "s-3", "s-4", "s-5"]);
    // Nothing is due any more.
    assert_eq!(notify::send_due(&other, &mailer).await.unwrap(), 0);
}

async fn refused_attempts_through_the_api_are_mailed_after_the_first(db: Db) {
    let sink = tokio::task::block_in_place(SmtpSink::start).unwrap();
    let h = with_relay(db, &sink.url()).await;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let s = h.session(AVERY, &h.kiosk).await;
        let (status, body) = h.attest(&s, &rejected_claims(&s, &h.kiosk), &h.kiosk).await;
        assert_eq!(status, 200, "{body}");
        assert_ne!(body["outcome"], "approved", "{body}");
        sessions.push(s.id);
    }
    let mails = wait_mails(&sink, 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 1, "the first refusal is not mailed");
    let mail = &mails[0];
    assert_eq!(mail.to(), [AVERY_EMAIL]);
    assert!(mail.subject().contains("refused"), "{}", mail.subject());
    assert!(mail.body.contains(&sessions[1]) && !mail.body.contains(&sessions[0]));
}

async fn a_delayed_change_is_cancelled_through_its_notice(db: Db) {
    let sink = tokio::task::block_in_place(SmtpSink::start).unwrap();
    // The operator's opt-in: managed devices' changes wait for notice (24 h by default).
    let h = Harness::with(
        db,
        Options {
            extra: format!(
                "{}\n[[policy.table]]\naction = \"*\"\ntier = \"managed\"\nuser = \"*\"\nverdict = \"approve_notify_delay\"\n",
                notify_section(&sink.url())
            ),
            ..Options::default()
        },
    )
    .await;
    let grant = approved_recovery_with_notice(&h).await;
    assert_reset(h.reset(&grant, NEW_PASSWORD).await, 202, "scheduled");
    let mails = wait_mails(&sink, 1).await;
    assert!(
        mails[0].body.contains("takes effect on"),
        "{}",
        mails[0].body
    );
    let (url, _) = local_link(&h, &mails[0]);
    let (status, page) = post_form(&h, &url).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("pending change was cancelled"), "{page}");
    let detail = reclaim_server::audit::details_of(&h.app.store, "recovery_disputed")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(detail["cancelled"], 1, "{detail}");
    // The scheduled change never reaches the directory, and the grant cannot revive it.
    let (status, body) = h.reset(&grant, NEW_PASSWORD).await;
    assert_ne!(status, 202, "{body}");
    assert_ne!(status, 200, "{body}");
    assert!(h.password_is(AVERY, OLD_PASSWORD).await);
    assert_eq!(h.password_changes(AVERY), 0);
    assert!(notify::self_service_locked(&h.app, AVERY_REF)
        .await
        .unwrap());
    // A locked account gets no new recovery (refused at the session or at the decision).
    let (status, body) = h.create_session(AVERY, &h.kiosk).await;
    if status == 201 {
        let s = OpenSession::from_json(AVERY, &body);
        let (status, body) = h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await;
        assert!(
            status != 200 || body["outcome"] != "approved",
            "a locked account was approved: {body}"
        );
    }
}
