//! The effective configuration (every secret redacted) and the service's health.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::page::{render, PageError};
use super::parts::{ago, when_opt};
use super::signed_in;
use crate::admin::{pages, Role};
use crate::http::html::escape;
use crate::App;

/// `GET /admin/policy`.
pub async fn policy_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&[Role::Admin, Role::Auditor])?;
    let mut body = String::from(
        "<p>The configuration this instance runs with (file and <code>RECLAIM__</code> variables), \
         secrets redacted. It changes with the file and a restart.</p>\
         <div class=\"scroll\"><table><caption class=\"skip\">Settings</caption><thead><tr>\
         <th scope=\"col\">Setting</th><th scope=\"col\">Value</th></tr></thead><tbody>",
    );
    for (name, value) in pages::policy(&app.config) {
        body.push_str(&format!(
            "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td></tr>",
            escape(&name),
            escape(&value)
        ));
    }
    body.push_str("</tbody></table></div>");
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/policy",
        "Policy",
        &body,
    ))
}

/// `GET /admin/health`: for everyone signed in.
pub async fn health_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    let h = pages::health(&app).await?;
    let state = |ok: bool| if ok { "answers" } else { "does not answer" };
    let mut body = format!(
        "<dl><dt>Database</dt><dd>{}</dd><dt>Directory ({})</dt><dd>{}</dd>\
         <dt>Re-verification engine</dt><dd>{}</dd><dt>Models a device may run</dt><dd>{}</dd>\
         <dt>Review queue</dt><dd>{} open{}</dd><dt>Resets pending</dt><dd>{}</dd><dt>Audit chain</dt><dd>{} entries</dd></dl>",
        state(h.database),
        escape(h.directory_kind),
        state(h.directory),
        if h.engines_loaded { "loaded" } else { "not loaded (evidence that needs it is refused)" },
        h.allowed_models,
        h.queue_open,
        h.queue_oldest_s
            .map(|s| format!(", the oldest waiting {}", ago(s)))
            .unwrap_or_default(),
        h.pending_resets,
        h.head_seq,
    );
    body.push_str("<h2>Models</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Role</th><th scope=\"col\">SHA-256</th></tr></thead><tbody>");
    for (role, digest) in &h.models {
        body.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td><code>{}</code></td></tr>",
            escape(role),
            escape(digest)
        ));
    }
    body.push_str("</tbody></table></div><h2>SIEM sinks</h2>");
    if h.sinks.is_empty() {
        body.push_str("<p>No sink has delivered yet (none configured, or just started).</p>");
    } else {
        body.push_str("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Sink</th><th scope=\"col\">Delivered up to</th>\
                       <th scope=\"col\">Behind</th><th scope=\"col\">Failures in a row</th><th scope=\"col\">Next try</th></tr></thead><tbody>");
        for s in &h.sinks {
            body.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>#{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.sink),
                s.delivered_seq,
                (h.head_seq - s.delivered_seq).max(0),
                s.failures,
                if s.failures > 0 {
                    when_opt(Some(s.next_try_at))
                } else {
                    "–".into()
                },
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/health",
        "Health",
        &body,
    ))
}
