//! The review queue (trusted referee): the open cases, one case with what a referee needs
//! and nothing more, its pictures (each decrypted on its own request for this viewer,
//! never cached), and the decision form.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use reclaim_protocol::Code;
use serde::Deserialize;

use super::page::{render, PageError};
use super::parts::{ago, Pager};
use super::{form_from, signed_in};
use crate::admin::{self, Role};
use crate::audit::{self, Entry};
use crate::error::ApiError;
use crate::http::html::{escape, no_store};
use crate::recovery::review::{self, Decided, Reviewer, Verdict};
use crate::store::now;
use crate::App;

/// Cases per page of the queue.
const PER_PAGE: u32 = 50;

/// `GET /admin`: the queue for reviewers, else the console's home, whose navigation shows
/// the sections the person's roles open.
pub async fn home_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    match signed_in(&app, &headers).await {
        // Those who work the queue start there.
        Ok(a) if a.has(Role::Reviewer) => Ok(Redirect::to("/admin/queue").into_response()),
        Ok(a) => Ok(render(
            StatusCode::OK,
            Some(&a),
            "/admin",
            "Console",
            "<p>Choose a section above.</p>",
        )),
        Err(PageError(e)) if e.code == Code::AdminSignInRequired => {
            Ok(Redirect::to("/admin/signin").into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    page: u32,
    /// What the last decision did, to say so (`approved`, `refused`, `second`).
    #[serde(default)]
    done: Option<String>,
}

/// `GET /admin/queue`.
pub async fn queue_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&[Role::Reviewer, Role::Admin])?;
    let page = q.page.min(100_000);
    let (cases, total) = review::queue(&app, page, PER_PAGE).await?;
    let t = now();
    let mut body = String::new();
    if let Some(done) = q.done.as_deref() {
        let text = match done {
            "approved" => "Approved: the person's app goes on to the reset by itself.",
            "refused" => "Refused: the person's app says so.",
            "second" => {
                "Your approval is recorded; this account needs a second reviewer's approval too."
            }
            _ => "",
        };
        if !text.is_empty() {
            body.push_str(&format!("<p class=\"note ok\" role=\"status\">{text}</p>"));
        }
    }
    body.push_str(&format!(
        "<p>{total} open case{} waiting, oldest first.{}</p>",
        if total == 1 { "" } else { "s" },
        if admin.has(Role::Reviewer) {
            ""
        } else {
            " Only reviewers can open a case."
        }
    ));
    if !cases.is_empty() {
        body.push_str(
            "<div class=\"scroll\"><table><caption class=\"skip\">Open cases</caption><thead><tr>\
             <th scope=\"col\">Account</th><th scope=\"col\">Action</th><th scope=\"col\">Device</th>\
             <th scope=\"col\">Why a person</th><th scope=\"col\">Waiting</th><th scope=\"col\">Approvals</th>\
             </tr></thead><tbody>",
        );
        for c in &cases {
            let account = if admin.has(Role::Reviewer) {
                format!(
                    "<a href=\"/admin/cases/{}\">{}</a>",
                    escape(&c.session_id),
                    escape(&c.login)
                )
            } else {
                escape(&c.login)
            };
            body.push_str(&format!(
                "<tr><th scope=\"row\">{account}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td></tr>",
                escape(&c.action.replace('_', " ")),
                escape(&c.tier),
                escape(&c.reasons.replace(',', ", ")),
                ago(t - c.created_at),
                c.approvals,
                c.approvals_needed,
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    let pages = (total + i64::from(PER_PAGE) - 1) / i64::from(PER_PAGE);
    body.push_str(&Pager::new("/admin/queue", &[]).numbered_of(i64::from(page), pages));
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/queue",
        "Review queue",
        &body,
    ))
}

/// `GET /admin/cases/{id}`: one case, for a reviewer. Opening it is in the audit chain:
/// it shows a person's face and identity document.
pub async fn case_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&[Role::Reviewer])?;
    let case = review::open(&app, &id).await?;
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "review_case_opened",
            actor: &admin.actor(),
            subject: &format!("session:{id}"),
            detail: serde_json::json!({ "reviewer": admin.subject }),
        },
    )
    .await?;
    let s = &case.summary;
    let f = &case.facts;
    let id_html = escape(&id);
    let mut body = format!(
        "<p class=\"note\">Recovery of <strong>{}</strong>: {} from a <strong>{}</strong> device, waiting {}. \
         Approvals: {} of {} needed{}.</p>",
        escape(&s.login),
        escape(&s.action.replace('_', " ")),
        escape(&s.tier),
        ago(now() - s.created_at),
        s.approvals,
        s.approvals_needed,
        if s.approvals_needed > 1 {
            " (a privileged account: two different reviewers)"
        } else {
            ""
        },
    );
    body.push_str("<h2>Why it needs a person</h2><ul>");
    for r in &f.reasons {
        let text = Code::parse(r).map(describe).unwrap_or("");
        body.push_str(&format!(
            "<li><code>{}</code> {}</li>",
            escape(r),
            escape(text)
        ));
    }
    body.push_str("</ul>");
    body.push_str("<h2>Pictures</h2><div class=\"grid\">");
    let selfies = case
        .pictures
        .iter()
        .filter(|e| e.name.starts_with("selfie"))
        .count();
    // Every ID side, and at most eight selfie frames spread over the recording: enough
    // to see the face and the turn, without a wall of near-identical frames.
    let step = selfies.div_ceil(8).max(1);
    let mut selfie_index = 0usize;
    for item in &case.pictures {
        let caption = if item.name.starts_with("selfie") {
            selfie_index += 1;
            if (selfie_index - 1) % step != 0 && selfie_index != selfies {
                continue;
            }
            format!(
                "Selfie frame {selfie_index} of {selfies}{}",
                item.t_ms
                    .map(|t| format!(", at {:.1} s", t as f64 / 1000.0))
                    .unwrap_or_default()
            )
        } else {
            item.name.replace('_', " ").replace("id ", "ID ")
        };
        body.push_str(&format!(
            "<figure><img src=\"/admin/cases/{id_html}/pictures/{n}\" alt=\"{0}\"><figcaption>{0}</figcaption></figure>",
            escape(&caption),
            n = item.n,
        ));
    }
    body.push_str("</div>");
    body.push_str("<h2>The document and the directory record</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\"></th><th scope=\"col\">Document</th><th scope=\"col\">Directory</th></tr></thead><tbody>");
    let d = f.document.clone().unwrap_or_default();
    let r = f.record.clone().unwrap_or_default();
    let row = |name: &str, doc: &str, dir: &str| {
        format!(
            "<tr><th scope=\"row\">{name}</th><td>{}</td><td>{}</td></tr>",
            escape(doc),
            escape(dir)
        )
    };
    body.push_str(&row(
        "Surname",
        &d.surname,
        r.surname.as_deref().unwrap_or(""),
    ));
    body.push_str(&row(
        "Given names",
        &format!(
            "{}{}",
            d.given_names,
            if d.names_truncated {
                " (cut short)"
            } else {
                ""
            }
        ),
        r.given_name.as_deref().unwrap_or(""),
    ));
    body.push_str(&row(
        "Birth date",
        d.birth_date.as_deref().unwrap_or(""),
        r.birth_date.as_deref().unwrap_or("(not kept)"),
    ));
    body.push_str(&row(
        "Display name",
        "",
        r.display_name.as_deref().unwrap_or(""),
    ));
    body.push_str(&row("Login", "", &r.username));
    body.push_str(&row("Mail", "", r.email.as_deref().unwrap_or("")));
    body.push_str(&row("Groups", "", &r.groups.join(", ")));
    body.push_str("</tbody></table></div>");
    if f.record.is_none() {
        body.push_str("<p class=\"note warn\">No directory record was matched: this case can only be refused.</p>");
    }
    body.push_str(&format!(
        "<h2>Checks</h2><dl><dt>Face match score</dt><dd>{}</dd><dt>Evidence judged by</dt><dd>{}</dd><dt>Device key</dt><dd><code>{}</code> ({})</dd></dl>",
        f.face_score.map(|v| format!("{v:.3} (threshold {:.3})", reclaim_verify::FACE_MATCH_THRESHOLD)).unwrap_or_else(|| "none".into()),
        if f.reverified { "the server's own run" } else { "the device's signed claims" },
        escape(&case.device_key),
        escape(&s.tier),
    ));
    if !case.votes.is_empty() {
        body.push_str("<h2>Votes so far</h2><ul>");
        for v in &case.votes {
            body.push_str(&format!(
                "<li>{} {}: {}</li>",
                escape(&v.reviewer),
                escape(&v.vote),
                escape(&v.reason)
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "<h2>Decision</h2><form method=\"post\" action=\"/admin/cases/{id_html}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"reason\">Reason (kept in the audit log)</label>\
         <textarea id=\"reason\" name=\"reason\" required maxlength=\"500\"></textarea>\
         <div><button class=\"approve\" type=\"submit\" name=\"verdict\" value=\"approve\">Approve</button>\
         <button class=\"refuse\" type=\"submit\" name=\"verdict\" value=\"refuse\">Refuse</button></div></form>",
        escape(&admin.csrf)
    ));
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/queue",
        &format!("Case: {}", s.login),
        &body,
    ))
}

/// What a reason code means to a referee.
fn describe(code: Code) -> &'static str {
    match code {
        Code::FaceMatchBorderline => "the face matched, only just above the threshold",
        Code::DocumentNamePartial => "the document's names match the record's only in part",
        Code::FaceSeenBefore => {
            "selfie frames were seen in an earlier session, with another motion"
        }
        Code::FaceMismatch => "the face did not match",
        _ => "",
    }
}

/// `GET /admin/cases/{id}/pictures/{n}`: one picture, for a reviewer, never cached.
pub async fn picture_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, usize)>,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&[Role::Reviewer])?;
    let mut bytes = review::picture(&app, &id, n).await?;
    let kind = match bytes.get(..4) {
        Some([0xFF, 0xD8, 0xFF, _]) => "image/jpeg",
        Some([0x89, b'P', b'N', b'G']) => "image/png",
        Some(b"RIFF") => "image/webp",
        _ => "application/octet-stream",
    };
    // Handed on, not copied: the response is the only copy left of the picture.
    let mut response = std::mem::take(&mut *bytes).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    no_store(h);
    Ok(response)
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/cases/{id}`: a reviewer's approval or refusal.
pub async fn decision_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, PageError> {
    let admin = form_from(&app, &headers, &form.csrf).await?;
    admin.require(&[Role::Reviewer])?;
    let verdict = match form.verdict.as_str() {
        "approve" => Verdict::Approve,
        "refuse" => Verdict::Refuse,
        _ => return Err(ApiError::new(Code::RequestInvalid, "choose approve or refuse").into()),
    };
    let decided = review::decide(
        &app,
        &Reviewer {
            subject: &admin.subject,
            name: &admin.name,
            aliases: &admin.aliases,
        },
        &id,
        verdict,
        &form.reason,
    )
    .await?;
    let done = match decided {
        Decided::Approved => "approved",
        Decided::Refused => "refused",
        Decided::AwaitingSecond => "second",
    };
    Ok(Redirect::to(&format!("/admin/queue?done={done}")).into_response())
}

#[derive(Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/signout`.
pub async fn signout_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Result<Response, PageError> {
    let admin = form_from(&app, &headers, &form.csrf).await?;
    admin::sign_out(&app, &admin).await?;
    let console = super::Console::of(&app);
    let mut response = Redirect::to("/admin/signin").into_response();
    if let Ok(v) = HeaderValue::from_str(&console.cookie(console.session_cookie(), "", 0, "Strict"))
    {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}
