//! The recoveries: every session, searched by account, state and time, newest first; and
//! one recovery's timeline in the audit chain, from its start to its reset.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::page::{render, PageError};
use super::parts::{query_value, when, Pager};
use super::signed_in;
use crate::admin::{pages, Role};
use crate::http::html::escape;
use crate::App;

/// Who may read recoveries: everyone the console knows.
const READERS: [Role; 3] = [Role::Admin, Role::Auditor, Role::Reviewer];

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    page: i64,
}

/// `GET /admin/recoveries`.
pub async fn search_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&READERS)?;
    let search = pages::search(
        q.login.as_deref(),
        q.state.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
    )?;
    let page = Pager::page(q.page);
    let (list, more) = pages::recoveries(&app, &search, page).await?;
    let field = |v: &Option<String>| escape(v.as_deref().unwrap_or("").trim());
    let mut options = String::from("<option value=\"\">Any</option>");
    for s in pages::STATES {
        let selected = if search.state.as_deref() == Some(s) {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!("<option value=\"{s}\"{selected}>{s}</option>"));
    }
    let mut body = format!(
        "<form method=\"get\" action=\"/admin/recoveries\" role=\"search\">\
         <label for=\"login\">Account (login, any case)</label><input id=\"login\" name=\"login\" maxlength=\"256\" value=\"{}\">\
         <label for=\"state\">State</label><select id=\"state\" name=\"state\">{options}</select>\
         <label for=\"from\">Started on or after (UTC)</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{}\">\
         <label for=\"to\">Started on or before (UTC)</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{}\">\
         <div><button type=\"submit\">Search</button></div></form>",
        field(&q.login),
        field(&q.from),
        field(&q.to),
    );
    if list.is_empty() {
        body.push_str("<p>No recovery matches.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table><caption class=\"skip\">Recoveries, newest first</caption><thead><tr>\
             <th scope=\"col\">Started</th><th scope=\"col\">Account</th><th scope=\"col\">Action</th>\
             <th scope=\"col\">State</th><th scope=\"col\">Reset</th><th scope=\"col\">Reasons</th><th scope=\"col\">Device</th>\
             </tr></thead><tbody>",
        );
        for s in &list {
            body.push_str(&format!(
                "<tr><th scope=\"row\"><a href=\"/admin/recoveries/{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&query_value(&s.id)),
                when(s.created_at),
                escape(&s.login),
                escape(&s.action.replace('_', " ")),
                escape(&s.state),
                escape(s.grant_state.as_deref().unwrap_or("–")),
                escape(&s.reasons.replace(',', ", ")),
                escape(&s.device_key),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    let pager = Pager::new(
        "/admin/recoveries",
        &[
            ("login", q.login.as_deref()),
            ("state", q.state.as_deref()),
            ("from", q.from.as_deref()),
            ("to", q.to.as_deref()),
        ],
    );
    body.push_str(&pager.numbered(page, more));
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/recoveries",
        "Recoveries",
        &body,
    ))
}

/// `GET /admin/recoveries/{id}`: one recovery's entries in the chain, in order.
pub async fn timeline_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&READERS)?;
    let (s, entries) = pages::timeline(&app, &id).await?;
    let mut body = format!(
        "<dl><dt>Account</dt><dd>{}</dd><dt>Action</dt><dd>{}</dd><dt>Started</dt><dd>{}</dd>\
         <dt>State</dt><dd>{}</dd><dt>Reset</dt><dd>{}</dd><dt>Device</dt><dd><code>{}</code></dd><dt>Session</dt><dd><code>{}</code></dd></dl>",
        escape(&s.login),
        escape(&s.action.replace('_', " ")),
        when(s.created_at),
        escape(&s.state),
        escape(s.grant_state.as_deref().unwrap_or("none")),
        escape(&s.device_key),
        escape(&s.id),
    );
    body.push_str("<h2>In the audit chain</h2>");
    if entries.is_empty() {
        body.push_str("<p>No entry names this recovery.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table><caption class=\"skip\">Entries, oldest first</caption><thead><tr>\
             <th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">What</th><th scope=\"col\">Who</th><th scope=\"col\">Detail</th>\
             </tr></thead><tbody>",
        );
        for e in &entries {
            body.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                e.seq,
                when(e.at),
                escape(&e.kind),
                escape(&e.actor),
                escape(&e.detail),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/recoveries",
        &format!("Recovery of {}", s.login),
        &body,
    ))
}
