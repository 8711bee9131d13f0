//! "This wasn't me": the link every recovery notice carries (`crate::notify` queues and
//! mails the notices). Opening it describes what happened and changes nothing (mail
//! scanners and link previews fetch it); confirming it, once, cancels what can still be
//! stopped for the account, locks its self-service recovery, and records
//! `recovery_disputed` in the audit chain, all in one transaction.

use crate::audit::{self, Entry};
use crate::crypto::secret_hash;
use crate::error::ApiError;
use crate::notify::{action_words, utc, NoticeKind, TOKEN_PREFIX};
use crate::store::notices::Link as LinkRow;
use crate::store::{self, now, StoreError};
use crate::App;

/// The hash to look a link token up by; `None` for text that cannot be one of ours (it
/// then gets the same answer as an unknown token). Only the hash reaches the database,
/// so lookup time says nothing about how much of a token matched.
pub(crate) fn token_key(token: &str) -> Option<String> {
    let ok = token.len() <= 128
        && token.starts_with(TOKEN_PREFIX)
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| secret_hash(token))
}

async fn load_link(app: &App, key: &str) -> Result<Option<LinkRow>, StoreError> {
    store::notices::load_link(&app.store, key).await
}

/// What the link's state is, for an answer.
pub enum LinkState {
    Usable(LinkRow),
    /// Unknown (404).
    Unknown,
    /// Used or expired (410).
    Spent,
}

pub async fn link_state(app: &App, token: &str) -> Result<LinkState, StoreError> {
    let Some(key) = token_key(token) else {
        return Ok(LinkState::Unknown);
    };
    Ok(match load_link(app, &key).await? {
        None => LinkState::Unknown,
        Some(l) if l.used_at.is_some() || l.expires_at <= now() => LinkState::Spent,
        Some(l) => LinkState::Usable(l),
    })
}

/// What confirming a link came to.
pub enum Dispute {
    /// No such link (404).
    Unknown,
    /// Used or expired (410).
    Spent,
    /// Done: `cancelled` changes were still pending and are cancelled.
    Disputed { cancelled: u64 },
}

/// "This wasn't me" (`POST /v1/notices/{token}`). In one transaction: spends the token,
/// cancels the account's pending change, locks self-service, appends `recovery_disputed`.
pub async fn dispute(app: &App, token: &str) -> Result<Dispute, ApiError> {
    let Some(key) = token_key(token) else {
        return Ok(Dispute::Unknown);
    };
    let t = now();
    let mut tx = app.store.begin().await?;
    // Single use: only the request whose update spends the token goes on.
    let spent = store::notices::spend_link(&mut tx, &key, t).await?;
    let Some(row) = spent else {
        tx.rollback().await.map_err(StoreError::from)?;
        return Ok(match load_link(app, &key).await? {
            None => Dispute::Unknown,
            Some(_) => Dispute::Spent,
        });
    };
    let store::notices::SpentLink {
        user_ref,
        session_id,
        kind,
    } = row;
    let cancelled = store::resets::cancel_for_account(&mut tx, &user_ref).await?;
    store::notices::lock(&mut tx, &user_ref, t).await?;
    audit::append_in(
        &mut tx,
        &app.keys,
        Entry {
            kind: "recovery_disputed",
            // Whoever holds the link; the link's digest ties the entry to the notice.
            actor: &format!("notice_link:{}", &key[..16]),
            subject: &format!("user:{user_ref}"),
            detail: serde_json::json!({
                "user": user_ref,
                "session": session_id,
                "notice_kind": kind,
                "link_sha256": key,
                "cancelled": cancelled,
                "self_service_locked": true,
            }),
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(
        link = &key[..16],
        cancelled,
        "recovery disputed by its notice's link"
    );
    Ok(Dispute::Disputed { cancelled })
}

/// What happened, as the link's page tells it.
pub fn describe(l: &LinkRow) -> String {
    let what = action_words(&l.action);
    let when = utc(l.happened_at);
    let mut text = if l.kind == NoticeKind::Refused.as_str() {
        format!("On {when}, someone asked for a {what} of your account through self-service recovery, and was refused.")
    } else {
        format!("On {when}, a {what} of your account was approved through self-service recovery.")
    };
    match l.effective_at {
        Some(at) if at > now() => text.push_str(&format!(
            " It takes effect on {} unless you cancel it here.",
            utc(at)
        )),
        _ => {}
    }
    text.push_str(" If this was you, close this page. If it was not, the button below cancels any change still pending and locks self-service recovery for your account until your IT department unlocks it.");
    // Session ids are not secret; they let the helpdesk find the case.
    text.push_str(&format!(" Reference: session {}.", l.session_id));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_that_cannot_be_ours_are_not_looked_up() {
        assert!(token_key("nc_abcDEF-_09").is_some());
        assert!(token_key("rg_abc").is_none());
        assert!(token_key("nc_a/b").is_none());
        assert!(token_key(&format!("nc_{}", "a".repeat(200))).is_none());
    }
}
