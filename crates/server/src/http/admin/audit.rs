//! The audit chain: browsed newest first (by kind), verified from the page, and exported
//! as a signed range for a third party.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::page::{render, PageError};
use super::parts::{query_value, when, Pager};
use super::{form_from, signed_in};
use crate::admin::{pages, Role};
use crate::http::html::{escape, no_store};
use crate::App;

const READERS: [Role; 2] = [Role::Admin, Role::Auditor];

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    kind: Option<String>,
    /// The newest entry to show (the head when absent).
    #[serde(default)]
    before: Option<i64>,
}

/// `GET /admin/audit`.
pub async fn browse_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&READERS)?;
    let kind = pages::audit_kind(q.kind.as_deref())?;
    let before = Pager::before(q.before);
    let (entries, head) = pages::audit_page(&app, kind.as_deref(), before).await?;
    let csrf = escape(&admin.csrf);
    let kind_html = escape(kind.as_deref().unwrap_or(""));
    let mut body = format!(
        "<p>{head} entries in the chain.</p>\
         <form method=\"post\" action=\"/admin/audit/verify\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\">Verify the whole chain</button></form>\
         <h2>Export a signed range</h2>\
         <form method=\"get\" action=\"/admin/audit/export\">\
         <label for=\"from\">From entry</label><input id=\"from\" name=\"from\" type=\"number\" min=\"1\" value=\"{}\" required>\
         <label for=\"to\">To entry</label><input id=\"to\" name=\"to\" type=\"number\" min=\"1\" value=\"{head}\" required>\
         <div><button type=\"submit\">Download (JSON lines)</button></div></form>\
         <h2>Entries</h2>\
         <form method=\"get\" action=\"/admin/audit\" role=\"search\">\
         <label for=\"kind\">Kind</label><input id=\"kind\" name=\"kind\" maxlength=\"64\" value=\"{kind_html}\">\
         <div><button type=\"submit\">Filter</button></div></form>",
        (head - crate::audit::EXPORT_MAX + 1).max(1),
    );
    if entries.is_empty() {
        body.push_str("<p>No entry.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table><caption class=\"skip\">Entries, newest first</caption><thead><tr>\
             <th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">Kind</th><th scope=\"col\">Actor</th>\
             <th scope=\"col\">Subject</th><th scope=\"col\">Detail</th></tr></thead><tbody>",
        );
        for e in &entries {
            let subject = match e.subject.strip_prefix("session:") {
                Some(id) => format!(
                    "<a href=\"/admin/recoveries/{}\">{}</a>",
                    escape(&query_value(id)),
                    escape(&e.subject)
                ),
                None => escape(&e.subject),
            };
            body.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{subject}</td><td><code>{}</code></td></tr>",
                e.seq,
                when(e.at),
                escape(&e.kind),
                escape(&e.actor),
                escape(&e.detail),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    // A full page may have older entries after it, from the one before its last.
    let older = entries
        .last()
        .filter(|last| entries.len() as i64 == pages::PER_PAGE && last.seq > 1)
        .map(|last| last.seq - 1);
    let pager = Pager::new("/admin/audit", &[("kind", kind.as_deref())]);
    body.push_str(&pager.keyed(before.is_none_or(|b| b >= head), older));
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/audit",
        "Audit chain",
        &body,
    ))
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/audit/verify`: walks the chain and shows what it found.
pub async fn verify_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<VerifyForm>,
) -> Result<Response, PageError> {
    let admin = form_from(&app, &headers, &form.csrf).await?;
    admin.require(&READERS)?;
    let report = pages::verify_chain(&app, &admin).await?;
    let mut body = if report.intact() {
        "<p class=\"note ok\" role=\"status\">The chain is intact.</p>".to_string()
    } else {
        format!(
            "<p class=\"note warn\" role=\"alert\">The chain has {} problem{}: see below, and run <code>reclaim audit verify</code>.</p>",
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        )
    };
    body.push_str(&format!(
        "<dl><dt>Entries</dt><dd>{}</dd><dt>Head</dt><dd>#{} <code>{}</code></dd></dl>",
        report.entries,
        report.head_seq,
        escape(&report.head_hash)
    ));
    if !report.problems.is_empty() {
        body.push_str("<h2>Problems</h2><ul>");
        for p in &report.problems {
            body.push_str(&format!(
                "<li>#{}: <code>{}</code>{}</li>",
                p.seq,
                p.code,
                p.grant
                    .as_deref()
                    .map(|g| format!(" (grant <code>{}</code>)", escape(g)))
                    .unwrap_or_default()
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str("<p><a href=\"/admin/audit\">Back to the chain</a></p>");
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/audit",
        "Chain verified",
        &body,
    ))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    from: i64,
    #[serde(default)]
    to: i64,
}

/// `GET /admin/audit/export?from=&to=`: the range as JSON lines, with a checkpoint of its
/// last entry and a signature over its lines (`crate::audit::export`).
pub async fn export_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<ExportQuery>,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&READERS)?;
    let export = pages::export(&app, &admin, q.from, q.to).await?;
    let mut response = export.to_jsonl().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"reclaim-audit-{}-{}.jsonl\"",
        export.from, export.to
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    no_store(h);
    Ok(response)
}
