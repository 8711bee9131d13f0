//! The "this wasn't me" link's page: `GET /v1/notices/{token}` describes what happened
//! and offers the form, `POST` confirms it (`crate::recovery::notices`). Answers are HTML
//! pages, the same one for unknown, used and expired links.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::announced_length;
use super::html::{self, escape};
use crate::error::ApiError;
use crate::recovery::notices::{describe, dispute, link_state, Dispute, LinkState};
use crate::App;

/// Largest body accepted by the link's POST: the form sends none.
const MAX_LINK_BODY: u64 = 1024;

/// `GET /v1/notices/{token}`: describes what happened and offers the form. Changes nothing
/// (mail scanners and link previews fetch it).
pub async fn link_page_handler(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    Ok(match link_state(&app, &token).await? {
        LinkState::Usable(l) => page(StatusCode::OK, &describe(&l), true),
        LinkState::Unknown => neutral(StatusCode::NOT_FOUND),
        LinkState::Spent => neutral(StatusCode::GONE),
    })
}

/// `POST /v1/notices/{token}`: "this wasn't me".
pub async fn link_confirm_handler(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if announced_length(&headers).is_some_and(|n| n > MAX_LINK_BODY) {
        return Ok(neutral(StatusCode::PAYLOAD_TOO_LARGE));
    }
    let cancelled = match dispute(&app, &token).await? {
        Dispute::Unknown => return Ok(neutral(StatusCode::NOT_FOUND)),
        Dispute::Spent => return Ok(neutral(StatusCode::GONE)),
        Dispute::Disputed { cancelled } => cancelled,
    };
    let text = if cancelled > 0 {
        "Thank you. The pending change was cancelled, and self-service recovery is now locked for your account. Your IT department has been told through the audit log; contact them to unlock it."
    } else {
        "Thank you. No change was still pending (a change that already took effect cannot be undone from here), and self-service recovery is now locked for your account. Contact your IT department now: your account may be in someone else's hands."
    };
    Ok(page(StatusCode::OK, text, false))
}

/// The page's style, allowed by its hash in the Content-Security-Policy (no inline
/// anything else, no scripts at all).
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;line-height:1.5;color:#1b1b1b}button{font-size:1em;padding:.6em 1.2em;background:#b3261e;color:#fff;border:0;border-radius:4px;cursor:pointer}";

fn csp() -> String {
    let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The same page for unknown, used and expired links: nothing to tell a guesser.
fn neutral(status: StatusCode) -> Response {
    page(
        status,
        "This link is not valid: it was already used, it has expired, or it never existed. If you think your account was recovered by someone else, contact your IT department.",
        false,
    )
}

fn page(status: StatusCode, text: &str, form: bool) -> Response {
    let form = if form {
        // No action attribute: the form posts to this page's own URL.
        "<form method=\"post\"><button type=\"submit\">This wasn't me: cancel it and lock self-service</button></form>"
    } else {
        ""
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>Account recovery notice</title><style>{STYLE}</style></head><body><h1>Account recovery notice</h1><p>{}</p>{form}</body></html>",
        escape(text)
    );
    html::page(status, html, &csp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_and_forbids_scripts() {
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
        let c = csp();
        assert!(
            c.contains("default-src 'none'") && !c.contains("unsafe"),
            "{c}"
        );
    }
}
