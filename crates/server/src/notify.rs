//! Recovery notices (NIST SP 800-63B-4 requires notice of recovery): every approved
//! recovery, and every refused one after the first of a series, is mailed to the
//! addresses the directory knows for the account, with a one-time "this wasn't me" link.
//!
//! Durable: a notice is a row of the outbox (`notices`), written in the same transaction as
//! the decision that causes it, so a recovery is never recorded without its notice. A
//! sender task in every instance mails due notices over SMTP (`lettre`), claiming each
//! with a conditional update (a lease), so instances sharing a database send a notice
//! once; a crash between the relay's acceptance and the `sent_at` update can send it twice
//! (at least once, never zero times). Failures are retried with doubling delays, up to
//! `notify.max_attempts`; then the notice is given up and the audit chain says so. The
//! body carries the link, a bearer secret, so it is sealed at rest and erased once sent;
//! logs name the notice's id, never the address or the body.
//!
//! The link (`GET /v1/notices/{token}`, `crate::http::notices` and
//! `crate::recovery::notices`) answers a page that only describes what happened: mail
//! scanners fetch links, so a GET changes nothing. Its form (`POST`) does, in one
//! transaction: spends the token, cancels the account's pending delayed change, locks
//! self-service for the account (until an administrator clears it,
//! [`unlock_self_service`]) and appends `recovery_disputed`.
//!
//! Refusals: the first refusal of a series is not mailed (a genuine user with a bad photo
//! should not alarm themselves); every later one is. A series ends after
//! `notify.refusal_quiet_days` (30 by default) without a refusal for the account.
//!
//! Every SQL statement about notices lives in `crate::store::notices`.

use reclaim_protocol::Code;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{
    ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue as MailHeaderValue,
};
use lettre::message::{Body, Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reclaim_protocol::RecoveryAction;

use crate::audit::{self, Entry};
use crate::config::{ConfigError, NotifyConfig, RelaySecurity};
use crate::crypto::{new_id, new_secret, secret_hash, CryptoError, Keys};
use crate::error::ApiError;
use crate::store::{self, now, Store, StoreError, Tx};
use crate::App;

/// At most this many addresses are mailed per notice (a directory record with hundreds of
/// addresses is a misconfiguration, not a reason to send hundreds of mails).
pub const MAX_RECIPIENTS: usize = 8;
/// Notices one sender pass claims; the rest wait for the next pass (a second later).
const BATCH: i64 = 20;
/// The longest delay between two attempts, seconds.
const MAX_BACKOFF_S: i64 = 3600;
/// The link token's prefix (`nc_` + 256 random bits).
pub(crate) const TOKEN_PREFIX: &str = "nc_";
const SEAL_PURPOSE: &str = "notice body";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl NotifyError {
    pub fn code(&self) -> Code {
        match self {
            NotifyError::Store(e) => e.code(),
            NotifyError::Crypto(_) => Code::InternalError,
        }
    }
}

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> ApiError {
        match e {
            NotifyError::Store(e) => e.into(),
            NotifyError::Crypto(e) => e.into(),
        }
    }
}

/// What happened, for [`enqueue_recovery_notice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Approved; `effective_at` is when a delayed change takes effect (`None`: at once).
    Approved {
        effective_at: Option<i64>,
    },
    Refused,
}

impl NoticeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Approved { .. } => "recovery_approved",
            NoticeKind::Refused => "recovery_refused",
        }
    }
}

/// A recovery to tell the account's owner about.
#[derive(Debug, Clone)]
pub struct RecoveryNotice<'a> {
    /// The directory's reference of the account (`DirectoryUser.id`).
    pub user_ref: &'a str,
    /// The addresses the directory knows for the account (today `DirectoryUser.email`).
    pub to: Vec<String>,
    /// For the greeting (`DirectoryUser.display_name`).
    pub display_name: Option<&'a str>,
    pub action: RecoveryAction,
    pub kind: NoticeKind,
    /// `hardware`, `managed`, `unmanaged`.
    pub device_tier: &'a str,
    /// When it happened, Unix seconds.
    pub at: i64,
    pub session_id: &'a str,
}

/// The "this wasn't me" link of a queued notice, as the caller may record it (the token
/// itself only ever goes into the mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelLink {
    pub token_sha256: String,
    pub expires_at: i64,
}

/// What [`enqueue_recovery_notice`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Mails queued (one per address); 0 for the first refusal of a series, or when the
    /// directory knows no usable address for the account.
    pub notices: usize,
    pub link: Option<CancelLink>,
    /// For a refusal: its number in the account's current series (1 = not mailed).
    pub refusal_in_series: Option<i64>,
}

/// Queues the notice of a recovery inside the caller's transaction (the one recording the
/// decision), so both commit or neither does. Approved recoveries are always mailed;
/// refusals from the second of a series on. Every mail carries a one-time link valid
/// until `max(effective_at, at + notify.link_valid_days)`.
pub async fn enqueue_recovery_notice(
    tx: &mut Tx<'_>,
    app: &App,
    n: &RecoveryNotice<'_>,
) -> Result<Queued, NotifyError> {
    let cfg = &app.config.notify;
    let refusal_in_series = match n.kind {
        NoticeKind::Refused => {
            let quiet_s = (cfg.refusal_quiet_days * 86_400) as i64;
            let count = store::notices::count_refusal(tx, n.user_ref, n.at, n.at - quiet_s).await?;
            if count <= 1 {
                return Ok(Queued {
                    notices: 0,
                    link: None,
                    refusal_in_series: Some(count),
                });
            }
            Some(count)
        }
        NoticeKind::Approved { .. } => None,
    };
    let recipients = usable_addresses(&n.to);
    if recipients.is_empty() {
        tracing::warn!(
            session = n.session_id,
            kind = n.kind.as_str(),
            "the directory knows no usable address for the account; recovery not notified"
        );
        return Ok(Queued {
            notices: 0,
            link: None,
            refusal_in_series,
        });
    }
    let token = new_secret(TOKEN_PREFIX)?;
    let token_hash = secret_hash(&token);
    let effective_at = match n.kind {
        NoticeKind::Approved { effective_at } => effective_at,
        NoticeKind::Refused => None,
    };
    let expires_at = effective_at
        .unwrap_or(0)
        .max(n.at + (cfg.link_valid_days * 86_400) as i64);
    store::notices::insert_link(
        tx,
        store::notices::NewLink {
            token_hash: &token_hash,
            user_ref: n.user_ref,
            session_id: n.session_id,
            action: n.action.as_str(),
            kind: n.kind.as_str(),
            happened_at: n.at,
            effective_at,
            expires_at,
        },
    )
    .await?;
    let link = zeroize::Zeroizing::new(format!(
        "{}/v1/notices/{}",
        app.config.public_url.trim_end_matches('/'),
        token.as_str()
    ));
    let (subject, body) = compose(n, &link, expires_at, refusal_in_series, cfg);
    let body = zeroize::Zeroizing::new(body);
    let t = now();
    for to in &recipients {
        let id = new_id()?;
        let sealed = app.keys.seal(SEAL_PURPOSE, body.as_bytes())?;
        store::notices::insert(
            tx,
            store::notices::NewNotice {
                id: &id,
                user_ref: n.user_ref,
                kind: n.kind.as_str(),
                recipient: to,
                subject: &subject,
                body_sealed: &sealed,
                created_at: t,
            },
        )
        .await?;
    }
    Ok(Queued {
        notices: recipients.len(),
        link: Some(CancelLink {
            token_sha256: token_hash,
            expires_at,
        }),
        refusal_in_series,
    })
}

/// Whether a notice to `to` would reach anyone: a change approved on the condition that
/// its owner is told cannot be approved when no one can be.
pub fn reachable(to: &[String]) -> bool {
    to.iter().any(|a| a.trim().parse::<Address>().is_ok())
}

/// The addresses that parse, without duplicates, at most [`MAX_RECIPIENTS`].
fn usable_addresses(to: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in to {
        let a = a.trim();
        match a.parse::<Address>() {
            Ok(parsed) => {
                let canonical = parsed.to_string();
                if !out.iter().any(|o| o.eq_ignore_ascii_case(&canonical)) {
                    out.push(canonical);
                }
            }
            // The address is not logged; the count is enough to find the record.
            Err(_) => tracing::warn!("an address of the account does not parse; skipped"),
        }
    }
    out.truncate(MAX_RECIPIENTS);
    out
}

/// True after someone used a "this wasn't me" link for the account, until an
/// administrator clears it with [`unlock_self_service`].
pub async fn self_service_locked(app: &App, user_ref: &str) -> Result<bool, StoreError> {
    store::notices::locked(&app.store, user_ref).await
}

/// Clears the self-service lock of `user_ref` (an administrator, `actor` = `admin:<name>`);
/// returns whether there was one. Audited as `self_service_unlocked`.
pub async fn unlock_self_service(
    store: &Store,
    keys: &Keys,
    user_ref: &str,
    actor: &str,
) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let removed = store::notices::unlock(&mut tx, user_ref).await?;
    if !removed {
        tx.rollback().await?;
        return Ok(false);
    }
    audit::append_in(
        &mut tx,
        keys,
        Entry {
            kind: "self_service_unlocked",
            actor,
            subject: &format!("user:{user_ref}"),
            detail: serde_json::json!({ "user": user_ref }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

// ---------------------------------------------------------------------------------------
// The mail.

fn compose(
    n: &RecoveryNotice<'_>,
    link: &str,
    link_expires_at: i64,
    refusal_in_series: Option<i64>,
    cfg: &NotifyConfig,
) -> (String, String) {
    let what = action_words(n.action.as_str());
    let device = device_words(n.device_tier);
    let greeting = match n.display_name.map(str::trim).filter(|d| !d.is_empty()) {
        // One line, whatever the directory holds.
        Some(name) => format!("Hello {},", name.replace(['\r', '\n'], " ")),
        None => "Hello,".to_string(),
    };
    let when = utc(n.at);
    let mut paragraphs = vec![greeting];
    let subject = match n.kind {
        NoticeKind::Approved { effective_at } => {
            paragraphs.push(format!(
                "A {what} of your account was approved through self-service recovery on {when}, from {device}."
            ));
            paragraphs.push(match effective_at {
                Some(at) if at > n.at => format!(
                    "The change takes effect on {}, unless it is cancelled before then.",
                    utc(at)
                ),
                _ => "The change takes effect at once.".to_string(),
            });
            format!("Your account: {what} approved")
        }
        NoticeKind::Refused => {
            let mut p = format!(
                "Someone asked for a {what} of your account through self-service recovery on {when}, from {device}, and was refused."
            );
            if let Some(count) = refusal_in_series {
                p.push_str(&format!(
                    " {count} attempts for your account have been refused recently."
                ));
            }
            paragraphs.push(p);
            format!("Your account: a {what} was refused")
        }
    };
    paragraphs.push("If this was you, you need not do anything.".into());
    paragraphs.push("If it was not you, open this link and confirm on the page it shows. It cancels any change still pending and locks self-service recovery for your account until your IT department unlocks it:".into());
    let mut body: String = paragraphs
        .iter()
        .map(|p| wrap(p, 72))
        .collect::<Vec<_>>()
        .join("\n\n");
    // The link on a line of its own, never wrapped.
    body.push_str(&format!("\n\n{link}\n\n"));
    let mut tail = vec![format!(
        "The link works once, until {}.",
        utc(link_expires_at)
    )];
    if let Some(contact) = cfg
        .contact
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        tail.push(format!("Questions: {}", contact.replace(['\r', '\n'], " ")));
    }
    tail.push(format!("Reference: session {}", n.session_id));
    tail.push("This notice was sent automatically; replies are not read.".into());
    body.push_str(
        &tail
            .iter()
            .map(|p| wrap(p, 72))
            .collect::<Vec<_>>()
            .join("\n\n"),
    );
    body.push('\n');
    (subject, body)
}

/// `text` broken at spaces into lines of at most `width` characters (a longer word keeps
/// its own line), so the mail stays readable as plain text.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if line_len > 0 && line_len + 1 + len > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += len;
    }
    out
}

pub(crate) fn action_words(action: &str) -> &'static str {
    match RecoveryAction::parse(action) {
        Some(RecoveryAction::ResetPassword) => "password reset",
        Some(RecoveryAction::ResetMfa) => "second factor (MFA) reset",
        Some(RecoveryAction::Unlock) => "account unlock",
        Some(RecoveryAction::VerifyIdentity) => "identity verification",
        None => "recovery",
    }
}

fn device_words(tier: &str) -> &'static str {
    match tier {
        "hardware" => "a device whose key is held in hardware",
        "managed" => "a device registered by your IT department",
        "unmanaged" => "a device your IT department does not manage",
        _ => "a device",
    }
}

/// `2026-12-04 13:40 UTC`.
pub(crate) fn utc(t: i64) -> String {
    let secs = t.rem_euclid(86_400);
    match reclaim_document::Date::from_unix_days(t.div_euclid(86_400)) {
        Some(date) => format!("{date} {:02}:{:02} UTC", secs / 3600, (secs % 3600) / 60),
        // Outside the years 1 to 9999, which no clock of this server reads.
        None => format!("{t} s after 1970-01-01 UTC"),
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): auto-responders do not answer it.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> MailHeaderValue {
        MailHeaderValue::new(Self::name(), "auto-generated".into())
    }
}

// ---------------------------------------------------------------------------------------
// Sending.

/// The SMTP relay, built from `[notify]`.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// How long a sender owns a claimed notice: longer than one whole SMTP exchange.
    lease_s: i64,
}

impl Mailer {
    /// The relay of `cfg`; `None` when no relay is configured.
    pub fn from_config(cfg: &NotifyConfig) -> Result<Option<Mailer>, ConfigError> {
        let Some(relay) = cfg.relay()? else {
            return Ok(None);
        };
        let from: Mailbox = cfg
            .from
            .as_deref()
            .ok_or_else(|| ConfigError("notify.from is required with notify.smtp_url".into()))?
            .parse()
            .map_err(|_| ConfigError("notify.from is not an address".into()))?;
        let tls_error = |e: lettre::transport::smtp::Error| {
            ConfigError(format!("notify: TLS to the relay cannot be set up: {e}"))
        };
        let tls = || -> Result<TlsParameters, ConfigError> {
            let mut params = TlsParameters::builder(relay.host.clone());
            if let Some(path) = &cfg.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| ConfigError(format!("notify.ca_file: {}: {e}", path.display())))?;
                let ca = Certificate::from_pem(&pem).map_err(|_| {
                    ConfigError(format!(
                        "notify.ca_file: {} holds no PEM certificate",
                        path.display()
                    ))
                })?;
                params = params.add_root_certificate(ca);
            }
            params.build_rustls().map_err(tls_error)
        };
        let security = match relay.security {
            RelaySecurity::Plain => Tls::None,
            RelaySecurity::Tls => Tls::Wrapper(tls()?),
            RelaySecurity::StartTls => Tls::Required(tls()?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay.host.as_str())
                .port(relay.port)
                .tls(security)
                .timeout(Some(Duration::from_secs(cfg.timeout_s)));
        if let (Some(user), Some(password)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            // Connect, TLS, greeting, EHLO, AUTH, MAIL, RCPT, DATA, QUIT: each within the
            // timeout.
            lease_s: (cfg.timeout_s * 10) as i64,
        }))
    }
}

/// Aborts the sender task when dropped (with the background worker that started it).
pub struct SenderTask(tokio::task::JoinHandle<()>);

impl Drop for SenderTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts this instance's sender: every second, mails the notices that are due.
pub fn spawn_sender(app: Arc<App>) -> SenderTask {
    SenderTask(tokio::spawn(async move {
        let mailer = match Mailer::from_config(&app.config.notify) {
            Ok(Some(m)) => m,
            Ok(None) => {
                tracing::warn!(
                    "no SMTP relay is configured ([notify] smtp_url): recovery notices are queued in the database and not sent until one is"
                );
                return;
            }
            Err(e) => {
                // The configuration was checked at load; only an unreadable ca_file since.
                tracing::error!(error = %e, "recovery notices cannot be sent");
                return;
            }
        };
        loop {
            if let Err(e) = send_due(&app, &mailer).await {
                tracing::warn!(code = e.code().as_str(), "sending recovery notices failed");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }))
}

/// Mails the notices that are due and not claimed by another sender; returns how many
/// were sent. Each is claimed first by a conditional update (the lease), so several
/// instances (or calls) never send one notice twice while its lease holds.
pub async fn send_due(app: &App, mailer: &Mailer) -> Result<usize, StoreError> {
    let t = now();
    let due = store::notices::due(&app.store, t, BATCH).await?;
    let mut sent = 0;
    for id in due {
        if send_one(app, mailer, &id).await? {
            sent += 1;
        }
    }
    Ok(sent)
}

async fn send_one(app: &App, mailer: &Mailer, id: &str) -> Result<bool, StoreError> {
    let t = now();
    let Some(store::notices::Claimed {
        recipient,
        subject,
        body_sealed: sealed,
        attempts,
        user_ref,
    }) = store::notices::claim(&app.store, id, t, t + mailer.lease_s).await?
    else {
        return Ok(false);
    };
    let message = match build_message(app, mailer, id, &recipient, &subject, &sealed) {
        Ok(m) => m,
        Err(why) => {
            // Nothing a retry could change.
            tracing::error!(notice = id, why, "notice cannot be built; given up");
            give_up(app, id, &user_ref, attempts, why).await?;
            return Ok(false);
        }
    };
    match mailer.transport.send(message).await {
        Ok(_) => {
            store::notices::sent(&app.store, id, now()).await?;
            tracing::info!(notice = id, attempt = attempts, "recovery notice sent");
            Ok(true)
        }
        Err(e) => {
            // The relay's text can quote the address; only its class and code are logged.
            let class = smtp_error_class(&e);
            let status = e.status().map(|c| c.to_string());
            if attempts >= app.config.notify.max_attempts {
                tracing::error!(
                    notice = id,
                    attempt = attempts,
                    class,
                    smtp_status = status.as_deref(),
                    "recovery notice not sent; given up"
                );
                give_up(app, id, &user_ref, attempts, class).await?;
            } else {
                let delay = backoff(app.config.notify.retry_base_s, attempts);
                store::notices::retry_at(&app.store, id, now() + delay).await?;
                tracing::warn!(
                    notice = id,
                    attempt = attempts,
                    class,
                    smtp_status = status.as_deref(),
                    retry_in_s = delay,
                    "recovery notice not sent; will retry"
                );
            }
            Ok(false)
        }
    }
}

fn build_message(
    app: &App,
    mailer: &Mailer,
    id: &str,
    recipient: &str,
    subject: &str,
    sealed: &str,
) -> Result<Message, &'static str> {
    let to: Mailbox = recipient.parse().map_err(|_| "recipient_invalid")?;
    let body = app
        .keys
        .open(SEAL_PURPOSE, sealed)
        .map_err(|_| "body_unreadable")?;
    let body = String::from_utf8(body.to_vec()).map_err(|_| "body_unreadable")?;
    // 7bit when the text allows it (ASCII, lines within RFC 5322's 998), so the link
    // reaches the reader byte for byte (lettre would pick quoted-printable past 76
    // characters, breaking the link's line); quoted-printable otherwise (an accented name).
    let seven_bit = body.is_ascii() && body.lines().all(|l| l.len() <= 998);
    let body = if seven_bit {
        let crlf = body.replace("\r\n", "\n").replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(body)
    };
    Message::builder()
        // The same id at every attempt: a notice sent twice (a crash after the relay took
        // it) is one message to the reader's mail client.
        .message_id(Some(format!(
            "<notice.{id}@{}>",
            mailer.from.email.domain()
        )))
        .from(mailer.from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .header(AutoSubmitted)
        .body(body)
        .map_err(|_| "message_invalid")
}

async fn give_up(
    app: &App,
    id: &str,
    user_ref: &str,
    attempts: i64,
    why: &str,
) -> Result<(), StoreError> {
    let mut tx = app.store.begin().await?;
    let done = store::notices::give_up(&mut tx, id, now()).await?;
    if !done {
        tx.rollback().await?;
        return Ok(());
    }
    // A recovery whose owner was never told is something a reviewer must be able to find.
    audit::append_in(
        &mut tx,
        &app.keys,
        Entry {
            kind: "notice_undeliverable",
            actor: "server",
            subject: &format!("user:{user_ref}"),
            detail: serde_json::json!({ "notice": id, "attempts": attempts, "reason": why, "user": user_ref }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Seconds before the attempt after `attempts` failed ones: base, 2 x base, 4 x base, ...
/// up to an hour. Shared by every outbox worker (notices here, the SIEM sinks in
/// `crate::siem`).
pub(crate) fn backoff(base_s: u64, attempts: i64) -> i64 {
    let shift = (attempts - 1).clamp(0, 20) as u32;
    (base_s as i64)
        .saturating_mul(1i64 << shift)
        .min(MAX_BACKOFF_S)
}

fn smtp_error_class(e: &lettre::transport::smtp::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_tls() {
        "tls"
    } else if e.is_permanent() {
        "permanent"
    } else if e.is_transient() {
        "transient"
    } else if e.is_client() {
        "client"
    } else {
        "connection"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::BASE;
    use crate::Config;

    fn parse(notify: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{BASE}\n[notify]\n{notify}\n"))
    }

    #[test]
    fn an_unusable_notify_section_is_refused() {
        // A relay without a sender.
        let e = parse("smtp_url = \"smtps://mail.example.test\"").unwrap_err();
        assert!(e.0.contains("notify.from"), "{e}");
        // A sender without a relay.
        let e = parse("from = \"reclaim@example.test\"").unwrap_err();
        assert!(e.0.contains("smtp_url"), "{e}");
        // Clear text to a remote relay.
        let e = parse("smtp_url = \"smtp://mail.example.test:25\"\nfrom = \"r@example.test\"")
            .unwrap_err();
        assert!(e.0.contains("loopback"), "{e}");
        // Credentials in the URL, a bad scheme, a bad port, a bad sender.
        for bad in [
            "smtp_url = \"smtps://u:p@mail.example.test\"\nfrom = \"r@example.test\"",
            "smtp_url = \"http://mail.example.test\"\nfrom = \"r@example.test\"",
            "smtp_url = \"smtps://mail.example.test:99999\"\nfrom = \"r@example.test\"",
            "smtp_url = \"smtps://mail.example.test\"\nfrom = \"not an address\"",
            "smtp_url = \"smtps://mail.example.test\"\nfrom = \"r@example.test\"\nusername = \"u\"",
            "smtp_url = \"smtp://127.0.0.1:2525\"\nfrom = \"r@example.test\"\nusername = \"u\"\npassword = \"p\"",
            "smtp_url = \"smtps://mail.example.test\"\nfrom = \"r@example.test\"\nmax_attempts = 0",
            "smtp_url = \"smtps://mail.example.test\"\nfrom = \"r@example.test\"\nretry_base_s = 0",
            "smtpurl = \"smtps://mail.example.test\"",
        ] {
            assert!(parse(bad).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn usable_relays_parse() {
        let c = parse("smtp_url = \"smtps://mail.example.test\"\nfrom = \"Reclaim <r@example.test>\"\nusername = \"u\"\npassword = \"p\"").unwrap();
        let r = c.notify.relay().unwrap().unwrap();
        assert_eq!(
            (r.security, r.host.as_str(), r.port),
            (RelaySecurity::Tls, "mail.example.test", 465)
        );
        assert!(
            !format!("{c:?}").contains("\"p\""),
            "the password is redacted"
        );
        assert!(Mailer::from_config(&c.notify).unwrap().is_some());
        let c = parse(
            "smtp_url = \"smtp+starttls://mail.example.test:2587\"\nfrom = \"r@example.test\"",
        )
        .unwrap();
        let r = c.notify.relay().unwrap().unwrap();
        assert_eq!((r.security, r.port), (RelaySecurity::StartTls, 2587));
        let c = parse("smtp_url = \"smtp://[::1]:2525\"\nfrom = \"r@example.test\"").unwrap();
        let r = c.notify.relay().unwrap().unwrap();
        assert_eq!((r.security, r.host.as_str()), (RelaySecurity::Plain, "::1"));
        // Absent: valid, nothing is sent.
        let c = Config::parse(BASE).unwrap();
        assert!(c.notify.relay().unwrap().is_none());
        assert!(Mailer::from_config(&c.notify).unwrap().is_none());
    }

    #[test]
    fn dates_are_utc_and_backoff_doubles_up_to_an_hour() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_796_395_200), "2026-12-04 14:40 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(-60), "1969-12-31 23:59 UTC");
        assert!(utc(i64::MAX).ends_with(" s after 1970-01-01 UTC"));
        assert_eq!(backoff(30, 1), 30);
        assert_eq!(backoff(30, 2), 60);
        assert_eq!(backoff(30, 4), 240);
        assert_eq!(backoff(30, 50), 3600);
        assert_eq!(backoff(1, 0), 1);
    }

    #[test]
    fn addresses_are_checked_deduplicated_and_bounded() {
        let many: Vec<String> = (0..20).map(|i| format!("u{i}@example.test")).collect();
        assert_eq!(usable_addresses(&many).len(), MAX_RECIPIENTS);
        let a = usable_addresses(&[
            "a@example.test".into(),
            " A@example.test ".into(),
            "not an address".into(),
            "a@example.test\r\nBcc: x@evil.test".into(),
        ]);
        assert_eq!(a, ["a@example.test"]);
    }
}
